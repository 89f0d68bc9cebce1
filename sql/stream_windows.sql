-- Tumbling and sliding event-time windows: streamext.tumble, tumble_start, hop.
-- Windows are half-open [start, end), aligned to the epoch (or origin), floor for
-- timestamps before the origin, microsecond-exact; durations are fixed lengths.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

-- tumble: the window containing ts; ts on a boundary starts a window
SELECT ts, streamext.tumble(ts, '15 minutes') AS win
  FROM (VALUES ('2024-01-01 10:00:00+00'::timestamptz),
               ('2024-01-01 10:14:59.999999+00'),
               ('2024-01-01 10:15:00+00'),
               ('2024-01-01 10:15:00.000001+00')) v(ts);

-- tumble_start equals the lower bound; default origin is the Unix epoch
SELECT streamext.tumble_start('2024-01-01 10:17:00+00', '1 hour') AS start,
       lower(streamext.tumble('2024-01-01 10:17:00+00', '1 hour')) AS lower_bound,
       streamext.tumble_start('2024-01-01 10:17:00+00', '1 hour', 'epoch') AS explicit_epoch;

-- timestamps before the origin use floor, not truncation toward zero
SELECT ts, streamext.tumble(ts, '1 hour') AS win
  FROM (VALUES ('1969-12-31 23:59:59.999999+00'::timestamptz),
               ('1969-12-31 23:00:00+00'),
               ('1969-12-31 22:59:59.999999+00'),
               ('1900-01-01 00:30:00+00')) v(ts);

-- an origin shifts the grid; offsets larger than the width and negative ones are normalised
SELECT streamext.tumble('2024-01-01 10:17:00+00', '1 hour', '2024-01-01 00:05:00+00') AS origin_5min,
       streamext.tumble('2024-01-01 10:17:00+00', '1 hour', '2030-06-01 00:05:00+00') AS origin_future,
       streamext.tumble('2024-01-01 10:17:00+00', '1 hour', '1970-01-01 00:05:00+00') AS origin_epoch_5;
SELECT streamext.tumble('2024-01-01 10:04:59+00', '1 hour', '2024-01-01 00:05:00+00') AS just_before,
       streamext.tumble('2024-01-01 10:05:00+00', '1 hour', '2024-01-01 00:05:00+00') AS on_boundary;

-- microsecond widths and days as 24 hours (independent of the session time zone)
SELECT streamext.tumble('2024-01-01 10:00:00.000007+00', '3 microseconds') AS usec_window;
SET timezone = 'America/New_York';
SELECT streamext.tumble('2024-03-10 12:00:00+00', '1 day') AS day_window_across_dst;
SET timezone = 'UTC';
SELECT streamext.tumble('2024-03-10 12:00:00+00', '1 day') AS day_window_utc,
       streamext.tumble('2024-01-01 10:17:00+00', '1 day 12 hours') AS day_and_half;

-- NULL arguments give NULL
SELECT streamext.tumble(NULL, '1 hour') IS NULL AS null_ts,
       streamext.tumble('2024-01-01', NULL) IS NULL AS null_width,
       streamext.tumble_start(NULL, '1 hour') IS NULL AS null_start;

-- hop: every window containing ts, ascending; width/slide = 10/4 is not whole
SELECT * FROM streamext.hop('2024-01-01 10:17:00+00', '10 minutes', '4 minutes');
-- the number of windows varies with ts: 3 here, 2 at 10:19:00 (10:08 is gone, 10:20 not yet)
SELECT count(*) FROM streamext.hop('2024-01-01 10:19:00+00', '10 minutes', '4 minutes');
-- ts exactly on a window start is in it; exactly on an end is not
SELECT * FROM streamext.hop('2024-01-01 10:20:00+00', '10 minutes', '5 minutes');
-- slide = width is tumbling
SELECT * FROM streamext.hop('2024-01-01 10:17:00+00', '15 minutes', '15 minutes');
-- before the origin, and with an origin offset of several slides
SELECT * FROM streamext.hop('1969-12-31 23:59:59+00', '1 hour', '25 minutes');
SELECT * FROM streamext.hop('2024-01-01 10:17:00+00', '30 minutes', '20 minutes', '2024-01-01 03:07:00+00');
-- microsecond slides
SELECT * FROM streamext.hop('2024-01-01 00:00:00.000005+00', '3 microseconds', '2 microseconds');
-- NULL ts: no rows; in a lateral join each row gets its windows
SELECT count(*) AS null_ts_rows FROM streamext.hop(NULL, '1 hour', '30 minutes');
SELECT e.id, w.win
  FROM (VALUES (1, '2024-01-01 10:17:00+00'::timestamptz), (2, NULL), (3, '2024-01-01 10:31:00+00')) e(id, ts)
  CROSS JOIN LATERAL streamext.hop(e.ts, '1 hour', '30 minutes') w(win)
 ORDER BY e.id, w.win;

-- hop and tumble agree when slide = width
SELECT bool_and(w = streamext.tumble(ts, '7 minutes')) AS hop_equals_tumble
  FROM generate_series('2024-01-01'::timestamptz, '2024-01-02', '13 seconds') ts,
       LATERAL streamext.hop(ts, '7 minutes', '7 minutes') w;

-- the ranges are ordinary tstzranges: equal, same text, same hash, [) bounds
SELECT bool_and(w = tstzrange(lower(w), upper(w), '[)')) AS equal,
       bool_and(w::text = tstzrange(lower(w), upper(w))::text) AS same_text,
       bool_and(hash_range(w) = hash_range(tstzrange(lower(w), upper(w)))) AS same_hash,
       bool_and(lower_inc(w) AND NOT upper_inc(w) AND NOT isempty(w)) AS half_open
  FROM generate_series('2024-01-01'::timestamptz, '2024-01-01 06:00', '7 minutes 3 seconds') ts,
       LATERAL streamext.hop(ts, '1 hour', '25 minutes') w;
SELECT streamext.tumble('2024-01-01 10:17:00+00', '1 hour') = tstzrange('2024-01-01 10:00:00+00', '2024-01-01 11:00:00+00') AS tumble_equal;

-- the planner expects width / slide rows per hop() call
EXPLAIN (COSTS ON) SELECT * FROM streamext.hop('2024-01-01', '1 hour', '15 minutes');

-- errors: non-positive durations, slide > width, months, infinity
\set VERBOSITY default
SELECT streamext.tumble('2024-01-01', '0 seconds');
SELECT streamext.tumble('2024-01-01', '-5 minutes');
SELECT streamext.tumble('2024-01-01', '1 month');
SELECT streamext.tumble('2024-01-01', '1 year 1 day');
SELECT streamext.tumble('infinity', '1 hour');
SELECT streamext.tumble('2024-01-01', '1 hour', '-infinity');
SELECT * FROM streamext.hop('2024-01-01', '10 minutes', '0 minutes');
SELECT * FROM streamext.hop('2024-01-01', '10 minutes', '-1 minutes');
SELECT * FROM streamext.hop('2024-01-01', '10 minutes', '11 minutes');
SELECT * FROM streamext.hop('2024-01-01', '1 mon', '1 day');
SELECT streamext.tumble('294276-12-31 23:59:59+00', '1 hour');
\set VERBOSITY terse

-- volatility, strictness and parallel safety as declared
SELECT proname, provolatile, proisstrict, proparallel, proretset
  FROM pg_proc WHERE pronamespace = 'streamext'::regnamespace
   AND proname IN ('tumble', 'tumble_start', 'hop') ORDER BY proname;
RESET timezone;
RESET datestyle;
RESET intervalstyle;
