-- Windowed aggregation in append mode (Spark semantics), with fixed batch
-- boundaries: every run_pipeline reads what was inserted since the last one.
-- A window is written once, when the watermark after a batch reaches its end,
-- and never changes; a row whose window has ended (end <= the previous
-- batch's watermark) is late and goes to the late-rows table.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = error;

-- the rows a pipeline's window state holds (streamext."pipeline_<id>_window")
CREATE FUNCTION pw_state(pipeline text) RETURNS TABLE (device_id int, event_time timestamptz)
  LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT device_id, event_time FROM streamext.%I ORDER BY event_time, device_id',
                              (SELECT 'pipeline_' || id || '_window' FROM streamext.pipelines WHERE name = pipeline));
END $$;

CREATE TABLE pw_silver (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE pw_gold (window_start timestamptz, window_end timestamptz, device_id int,
                      avg_temp float8, n bigint);

-- the query's mistakes fail at create time
SELECT streamext.create_pipeline('pw_bad', 'pw_silver', 'pw_gold',
  'SELECT window_start, device_id, avg(temperatur) AS avg_temp FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "10 minutes", "window": {"type": "tumble", "width": "1 hour"}, "trigger": "manual"}');
SELECT streamext.create_pipeline('pw_bad', 'pw_silver', 'pw_gold',
  'SELECT window_start, device_id, avg(temperature) AS mean, max(temperature) AS hottest FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "10 minutes", "window": {"type": "tumble", "width": "1 hour"}, "trigger": "manual"}');
SELECT streamext.create_pipeline('pw_bad', 'pw_silver', 'pw_gold',
  'SELECT device_id, avg(temperature) AS avg_temp FROM batch GROUP BY 1',
  '{"event_time": "event_time", "watermark": "10 minutes", "trigger": "manual"}');
SELECT streamext.create_pipeline('pw_bad', 'pw_silver', 'pw_gold',
  'SELECT * FROM batch; SELECT 1',
  '{"trigger": "manual"}');
SELECT streamext.create_pipeline('pw_bad', 'pw_silver', 'pw_gold',
  'SELECT window_start, device_id, avg(temperature) AS avg_temp FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "window": {"type": "tumble", "width": "1 hour"}, "trigger": "manual"}');
-- a windowed aggregation groups by the window
SELECT streamext.create_pipeline('pw_bad', 'pw_silver', 'pw_gold',
  'SELECT device_id, avg(temperature) AS avg_temp FROM batch GROUP BY 1',
  '{"event_time": "event_time", "watermark": "10 minutes", "window": {"type": "tumble", "width": "1 hour"}, "trigger": "manual"}');
SELECT count(*) AS pipelines FROM streamext.pipelines WHERE name = 'pw_bad';

-- tumble, append -------------------------------------------------------------
SELECT streamext.create_pipeline('pw_tumble', 'pw_silver', 'pw_gold',
  'SELECT window_start, window_end, device_id, avg(temperature) AS avg_temp, count(*) AS n
     FROM batch GROUP BY window_start, window_end, device_id',
  '{"event_time": "event_time", "watermark": "10 minutes",
    "window": {"type": "tumble", "width": "1 hour"}, "late_rows": "pw_late", "trigger": "manual"}');

-- batch 1: watermark 11:05 - 10 min = 10:55, no window has ended
INSERT INTO pw_silver VALUES (1, '2024-01-01 10:05', 20), (1, '2024-01-01 10:40', 22),
                             (2, '2024-01-01 10:30', 30), (2, '2024-01-01 11:05', 31);
SELECT streamext.run_pipeline('pw_tumble');
SELECT * FROM pw_gold ORDER BY window_start, device_id;

-- batch 2: a row of 10:50 is on time (watermark 10:55 < end 11:00); the
-- watermark becomes 11:10, so the 10:00 window is final and written
INSERT INTO pw_silver VALUES (1, '2024-01-01 10:50', 24), (1, '2024-01-01 11:20', 25);
SELECT streamext.run_pipeline('pw_tumble');
SELECT * FROM pw_gold ORDER BY window_start, device_id;

-- batch 3: 10:59 is late (its window ended at 11:00 <= watermark 11:10) and
-- goes to pw_late; the 10:00 window does not change.  11:01 is on time.
-- The watermark reaches 12:05: the 11:00 window is written.
INSERT INTO pw_silver VALUES (2, '2024-01-01 10:59', 99), (2, '2024-01-01 11:01', 33),
                             (1, '2024-01-01 12:15', 26);
SELECT streamext.run_pipeline('pw_tumble');
SELECT * FROM pw_gold ORDER BY window_start, device_id;
SELECT device_id, event_time, temperature FROM pw_late ORDER BY event_time;
SELECT batch, rows_in, rows_out, late_rows, watermark FROM streamext.pipeline_batches
 WHERE pipeline = 'pw_tumble' ORDER BY batch;
-- only the open 12:00 window's row is buffered
SELECT * FROM pw_state('pw_tumble');

-- windows aligned to an origin; a window is final when watermark >= its end
CREATE TABLE pw_org_src (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE pw_org (window_start timestamptz, window_end timestamptz, n bigint);
SELECT streamext.create_pipeline('pw_org', 'pw_org_src', 'pw_org',
  'SELECT window_start, window_end, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "0 seconds", "trigger": "manual",
    "window": {"type": "tumble", "width": "1 hour", "origin": "2024-01-01 00:05+00"}}');
INSERT INTO pw_org_src VALUES (1, '2024-01-01 10:03', 0), (1, '2024-01-01 10:06', 0);
SELECT streamext.run_pipeline('pw_org');
SELECT * FROM pw_org ORDER BY window_start;
INSERT INTO pw_org_src VALUES (1, '2024-01-01 11:05', 0);
SELECT streamext.run_pipeline('pw_org');
SELECT * FROM pw_org ORDER BY window_start;
SELECT * FROM pw_state('pw_org');
-- rows without an event time are in no window: not aggregated, but said
SET client_min_messages = warning;
INSERT INTO pw_org_src VALUES (1, NULL, 0), (2, NULL, 0);
SELECT streamext.run_pipeline('pw_org');
SET client_min_messages = error;

-- hop, append ----------------------------------------------------------------
-- width 1 hour, slide 30 minutes: a row is in two windows; a window is written
-- when the watermark passes its end, a row adds only to windows not written yet
CREATE TABLE pw_hop_src (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE pw_hop (window_start timestamptz, window_end timestamptz, n bigint, total float8);
SELECT streamext.create_pipeline('pw_hop', 'pw_hop_src', 'pw_hop',
  'SELECT window_start, window_end, count(*) AS n, sum(temperature) AS total FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "0 seconds",
    "window": {"type": "hop", "width": "1 hour", "slide": "30 minutes"}, "trigger": "manual"}');
INSERT INTO pw_hop_src VALUES (1, '2024-01-01 10:10', 1), (1, '2024-01-01 10:40', 2),
                              (1, '2024-01-01 11:00', 4);
SELECT streamext.run_pipeline('pw_hop');
SELECT * FROM pw_hop ORDER BY window_start;
-- 11:20 (windows 10:30-11:30 and 11:00-12:00) is on time: watermark 11:00 < 11:30;
-- the watermark becomes 11:45: 10:30-11:30 is written with 10:40, 11:00 and 11:20
INSERT INTO pw_hop_src VALUES (1, '2024-01-01 11:20', 8), (1, '2024-01-01 11:45', 16);
SELECT streamext.run_pipeline('pw_hop');
SELECT * FROM pw_hop ORDER BY window_start;
INSERT INTO pw_hop_src VALUES (1, '2024-01-01 13:00', 32);
SELECT streamext.run_pipeline('pw_hop');
SELECT * FROM pw_hop ORDER BY window_start;
-- the same as a batch query over all rows, for the windows that ended by 13:00
SELECT lower(w) AS window_start, upper(w) AS window_end, count(*) AS n, sum(temperature) AS total
  FROM pw_hop_src, streamext.hop(event_time, '1 hour', '30 minutes') w
 WHERE upper(w) <= '2024-01-01 13:00'
 GROUP BY 1, 2
EXCEPT SELECT * FROM pw_hop;

-- session windows, append ----------------------------------------------------
-- gap 10 minutes per device; rows merge while the next start <= the current
-- end; a session is final when its last event + gap <= watermark; a row is late
-- when event_time + gap <= watermark
CREATE TABLE pw_sess_src (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE pw_sess (device_id int, window_start timestamptz, window_end timestamptz, n bigint);
SELECT streamext.create_pipeline('pw_sess', 'pw_sess_src', 'pw_sess',
  'SELECT device_id, window_start, window_end, count(*) AS n FROM batch GROUP BY 1, 2, 3',
  '{"event_time": "event_time", "watermark": "5 minutes",
    "window": {"type": "session", "gap": "10 minutes", "keys": ["device_id"]},
    "late_rows": "pw_sess_late", "trigger": "manual"}');
-- batch 1, watermark 10:25 - 5 min = 10:20: device 1's 10:00-10:10 and device
-- 2's 10:02-10:12 are final and written; device 1's 10:25-10:35 and device 3's
-- two sessions 10:12-10:22 and 10:24-10:34 stay open
INSERT INTO pw_sess_src VALUES (1, '2024-01-01 10:00', 1), (1, '2024-01-01 10:25', 1),
                               (2, '2024-01-01 10:02', 1),
                               (3, '2024-01-01 10:12', 1), (3, '2024-01-01 10:24', 1);
SELECT streamext.run_pipeline('pw_sess');
SELECT * FROM pw_sess ORDER BY device_id, window_start;
-- batch 2: 10:30 and 10:40 (= 10:30 + gap: inclusive) extend device 1's open
-- session to 10:25-10:50; device 3's 10:22 (= the end of 10:12-10:22) bridges
-- its two sessions into 10:12-10:34; device 2's 10:05 is late (10:05 + gap <=
-- 10:20) and does not reopen the written session.  Watermark 10:55: both
-- grown sessions are final.
INSERT INTO pw_sess_src VALUES (1, '2024-01-01 10:30', 1), (1, '2024-01-01 10:40', 1),
                               (3, '2024-01-01 10:22', 1),
                               (2, '2024-01-01 10:05', 1), (2, '2024-01-01 11:00', 1);
SELECT streamext.run_pipeline('pw_sess');
SELECT * FROM pw_sess ORDER BY device_id, window_start;
SELECT device_id, event_time FROM pw_sess_late ORDER BY device_id, event_time;
-- batch 3, watermark 11:55: device 2's 11:00-11:10
INSERT INTO pw_sess_src VALUES (1, '2024-01-01 12:00', 1);
SELECT streamext.run_pipeline('pw_sess');
SELECT * FROM pw_sess ORDER BY device_id, window_start;
-- a NULL key is a key like any other (as in PARTITION BY): batch 4 (watermark
-- 12:25) keeps its 12:20; batch 5 (watermark 12:27) brings 12:16, which merges
-- with the kept 12:20 into 12:16-12:30, still open (alone it would have made
-- 12:16-12:26, final); batch 6 (watermark 12:55) writes it
INSERT INTO pw_sess_src VALUES (NULL, '2024-01-01 12:20', 1), (1, '2024-01-01 12:30', 1);
SELECT streamext.run_pipeline('pw_sess');
INSERT INTO pw_sess_src VALUES (NULL, '2024-01-01 12:16', 1), (1, '2024-01-01 12:32', 1);
SELECT streamext.run_pipeline('pw_sess');
SELECT * FROM pw_sess WHERE window_start >= '2024-01-01 12:00' ORDER BY device_id, window_start;
INSERT INTO pw_sess_src VALUES (1, '2024-01-01 13:00', 1);
SELECT streamext.run_pipeline('pw_sess');
SELECT * FROM pw_sess WHERE window_start >= '2024-01-01 12:00' ORDER BY device_id, window_start;
SELECT * FROM pw_state('pw_sess');

-- any aggregate: a user aggregate and approx_percentile -----------------------
CREATE FUNCTION pw_spread_sfunc(float8[], float8) RETURNS float8[]
  LANGUAGE sql IMMUTABLE AS
  'SELECT ARRAY[least($1[1], $2), greatest($1[2], $2)]';
CREATE FUNCTION pw_spread_final(float8[]) RETURNS float8
  LANGUAGE sql IMMUTABLE AS 'SELECT $1[2] - $1[1]';
CREATE AGGREGATE pw_spread(float8) (SFUNC = pw_spread_sfunc, STYPE = float8[],
                                    FINALFUNC = pw_spread_final);
CREATE TABLE pw_agg_src (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE pw_agg (window_start timestamptz, device_id int, spread float8, median float8,
                     distinct_temps bigint);
SELECT streamext.create_pipeline('pw_agg', 'pw_agg_src', 'pw_agg',
  'SELECT window_start, device_id, pw_spread(temperature) AS spread,
          streamext.approx_percentile(temperature, 0.5) AS median,
          streamext.approx_count_distinct(temperature) AS distinct_temps
     FROM batch GROUP BY window_start, device_id',
  '{"event_time": "event_time", "watermark": "0 seconds",
    "window": {"type": "tumble", "width": "10 minutes"}, "trigger": "manual"}');
INSERT INTO pw_agg_src SELECT d, '2024-01-01 10:00'::timestamptz + i * interval '1 minute', (i * 7 + d) % 11
  FROM generate_series(0, 14) i, generate_series(1, 2) d WHERE i < 8;
SELECT streamext.run_pipeline('pw_agg');
INSERT INTO pw_agg_src SELECT d, '2024-01-01 10:00'::timestamptz + i * interval '1 minute', (i * 7 + d) % 11
  FROM generate_series(0, 14) i, generate_series(1, 2) d WHERE i >= 8;
INSERT INTO pw_agg_src VALUES (1, '2024-01-01 10:30', 0);
SELECT streamext.run_pipeline('pw_agg');
SELECT * FROM pw_agg ORDER BY window_start, device_id;
-- the windows spanning both batches equal the batch query over all their rows
SELECT streamext.tumble_start(event_time, '10 minutes') AS window_start, device_id,
       max(temperature) - min(temperature) AS spread,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY temperature) AS median,
       count(DISTINCT temperature) AS distinct_temps
  FROM pw_agg_src WHERE event_time < '2024-01-01 10:30' GROUP BY 1, 2
EXCEPT SELECT * FROM pw_agg;

-- the result does not depend on the batch boundaries -------------------------
-- the same rows, in arrival order, as one batch and as five batches of
-- different sizes (no row is late in either split)
CREATE TABLE pw_rows AS
  SELECT i, i % 7 AS device_id,
         '2024-01-01 00:00'::timestamptz + i * interval '47 seconds'
           - ((i * 13) % 5) * interval '1 minute' AS event_time,
         (i % 23)::float8 AS temperature
    FROM generate_series(1, 2000) i;
CREATE TABLE pw_one_src (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE pw_five_src (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE pw_one (window_start timestamptz, device_id int, avg_temp float8, n bigint);
CREATE TABLE pw_five (window_start timestamptz, device_id int, avg_temp float8, n bigint);
SELECT streamext.create_pipeline(p, p || '_src', p,
  'SELECT window_start, device_id, avg(temperature) AS avg_temp, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "5 minutes",
    "window": {"type": "tumble", "width": "15 minutes"}, "trigger": "manual"}')
  FROM (VALUES ('pw_one'), ('pw_five')) v(p);
INSERT INTO pw_one_src SELECT device_id, event_time, temperature FROM pw_rows ORDER BY i;
SELECT streamext.run_pipeline('pw_one');
INSERT INTO pw_five_src SELECT device_id, event_time, temperature FROM pw_rows WHERE i <= 3 ORDER BY i;
SELECT streamext.run_pipeline('pw_five');
INSERT INTO pw_five_src SELECT device_id, event_time, temperature FROM pw_rows WHERE i > 3 AND i <= 400 ORDER BY i;
SELECT streamext.run_pipeline('pw_five');
INSERT INTO pw_five_src SELECT device_id, event_time, temperature FROM pw_rows WHERE i > 400 AND i <= 401 ORDER BY i;
SELECT streamext.run_pipeline('pw_five');
INSERT INTO pw_five_src SELECT device_id, event_time, temperature FROM pw_rows WHERE i > 401 AND i <= 1500 ORDER BY i;
SELECT streamext.run_pipeline('pw_five');
INSERT INTO pw_five_src SELECT device_id, event_time, temperature FROM pw_rows WHERE i > 1500 ORDER BY i;
SELECT streamext.run_pipeline('pw_five');
SELECT pipeline, late_rows, rows_in FROM streamext.pipeline_status
 WHERE pipeline IN ('pw_one', 'pw_five') ORDER BY pipeline;
SELECT count(*) AS windows FROM pw_one;
(TABLE pw_one EXCEPT TABLE pw_five) UNION ALL (TABLE pw_five EXCEPT TABLE pw_one);
-- and they equal the batch query over the windows that have ended
SELECT count(*) AS differences FROM (
  (SELECT streamext.tumble_start(event_time, '15 minutes'), device_id, avg(temperature), count(*)
     FROM pw_rows GROUP BY 1, 2
   HAVING streamext.tumble_start(event_time, '15 minutes') + interval '15 minutes'
          <= (SELECT max(event_time) - interval '5 minutes' FROM pw_rows)
   EXCEPT TABLE pw_one)
  UNION ALL
  (TABLE pw_one EXCEPT
   SELECT streamext.tumble_start(event_time, '15 minutes'), device_id, avg(temperature), count(*)
     FROM pw_rows GROUP BY 1, 2)) d;

-- reset_pipeline empties the window state and replays the source
SELECT streamext.reset_pipeline('pw_one');
SELECT count(*) AS buffered_after_reset FROM pw_state('pw_one');
SELECT streamext.run_pipeline('pw_one');
SELECT count(*) AS windows_after_replay FROM pw_one;

-- one statement or staged steps: the same result ---------------------------
-- Tumble and hop windows in append mode run in the batch's single statement;
-- a "fail" expectation stages the rows in a temporary table first.  The same
-- rows in the same batches, with disorder and late rows, give the same
-- targets, late counts and window state either way (the hop pipelines
-- with dedup_keys: the source re-sends some rows).
CREATE TABLE pw_mix_src (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE pw_mix_rows AS
  SELECT i, i % 5 AS device_id,
         '2024-01-01 00:00'::timestamptz + i * interval '20 seconds'
           - ((i * 37) % 11) * interval '3 minutes' AS event_time,
         (i % 17)::float8 AS temperature
    FROM generate_series(1, 3000) i;
CREATE TABLE pw_ft (window_start timestamptz, device_id int, avg_temp float8, n bigint);
CREATE TABLE pw_st (LIKE pw_ft);
CREATE TABLE pw_fh (window_start timestamptz, window_end timestamptz, n bigint, total float8);
CREATE TABLE pw_sh (LIKE pw_fh);
SELECT streamext.create_pipeline(p, 'pw_mix_src', p,
  'SELECT window_start, device_id, avg(temperature) AS avg_temp, count(*) AS n FROM batch GROUP BY 1, 2',
  ('{"event_time": "event_time", "watermark": "5 minutes", "trigger": "manual",
    "window": {"type": "tumble", "width": "15 minutes", "origin": "2024-01-01 00:02+00"}' ||
  CASE WHEN p = 'pw_st' THEN ', "expectations": [{"name": "t", "check": "temperature >= 0", "on_violation": "fail"}]' ELSE '' END || '}')::jsonb)
  FROM (VALUES ('pw_ft'), ('pw_st')) v(p);
SELECT streamext.create_pipeline(p, 'pw_mix_src', p,
  'SELECT window_start, window_end, count(*) AS n, sum(temperature) AS total FROM batch GROUP BY 1, 2',
  ('{"event_time": "event_time", "watermark": "5 minutes", "trigger": "manual",
    "window": {"type": "hop", "width": "20 minutes", "slide": "5 minutes"},
    "dedup_keys": ["device_id", "event_time"]' ||
  CASE WHEN p = 'pw_sh' THEN ', "expectations": [{"name": "t", "check": "temperature >= 0", "on_violation": "fail"}]' ELSE '' END || '}')::jsonb)
  FROM (VALUES ('pw_fh'), ('pw_sh')) v(p);
-- each batch in its own transaction (a batch reads committed rows only)
CREATE FUNCTION pw_mix_insert(lo int, hi int) RETURNS void LANGUAGE sql AS $$
  INSERT INTO pw_mix_src SELECT device_id, event_time, temperature FROM pw_mix_rows
   WHERE i BETWEEN lo AND hi OR i BETWEEN lo - 30 AND hi - 30 AND i % 7 = 0 ORDER BY i $$;
CREATE VIEW pw_mix_run AS
  SELECT sum(streamext.run_pipeline(p)) AS rows_read FROM (VALUES ('pw_ft'), ('pw_st'), ('pw_fh'), ('pw_sh')) v(p);
SELECT pw_mix_insert(1, 10);
TABLE pw_mix_run;
SELECT pw_mix_insert(11, 900);
TABLE pw_mix_run;
SELECT pw_mix_insert(901, 901);
TABLE pw_mix_run;
SELECT pw_mix_insert(902, 2500);
TABLE pw_mix_run;
SELECT pw_mix_insert(2501, 3000);
TABLE pw_mix_run;
SELECT pipeline, rows_in, late_rows, duplicates_dropped, batches FROM streamext.pipeline_status
 WHERE pipeline IN ('pw_ft', 'pw_st', 'pw_fh', 'pw_sh') ORDER BY pipeline;
SELECT (SELECT count(*) FROM pw_ft) AS tumble_windows, (SELECT count(*) FROM pw_fh) AS hop_windows;
SELECT count(*) AS tumble_differences FROM ((TABLE pw_ft EXCEPT ALL TABLE pw_st) UNION ALL (TABLE pw_st EXCEPT ALL TABLE pw_ft)) d;
SELECT count(*) AS hop_differences FROM ((TABLE pw_fh EXCEPT ALL TABLE pw_sh) UNION ALL (TABLE pw_sh EXCEPT ALL TABLE pw_fh)) d;
SELECT count(*) AS buffered,
       count(*) FILTER (WHERE (device_id, event_time) NOT IN (SELECT * FROM pw_state('pw_st'))) AS tumble_state_differences
  FROM pw_state('pw_ft');
SELECT count(*) AS buffered,
       count(*) FILTER (WHERE (device_id, event_time) NOT IN (SELECT * FROM pw_state('pw_sh'))) AS hop_state_differences
  FROM pw_state('pw_fh');
SELECT (SELECT count(*) FROM pw_state('pw_st')) AS tumble_staged_buffered,
       (SELECT count(*) FROM pw_state('pw_sh')) AS hop_staged_buffered;

-- the rows to buffer found by tid or by a scan: the same -------------------
-- Without dedup_keys, the scan that finds the watermark collects the tids of
-- the rows that may stay buffered (at or above a lower bound estimated from
-- the rows on the source's last pages), and the buffer is filled from them;
-- when those pages hold old rows the estimate is low, most rows are
-- candidates, and a scan fills the buffer instead.  Batch 1 puts the newest
-- rows first and older ones on the last pages (by a scan), batch 2 arrives
-- in event time order (by tid).  Either way the target, the late rows and
-- the window state equal those of the staged steps ("fail" expectation).
CREATE TABLE pw_tid_src (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE pw_tf (window_start timestamptz, window_end timestamptz, device_id int, n bigint, total float8);
CREATE TABLE pw_ts (LIKE pw_tf);
SELECT streamext.create_pipeline(p, 'pw_tid_src', p,
  'SELECT window_start, window_end, device_id, count(*) AS n, sum(temperature) AS total FROM batch GROUP BY 1, 2, 3',
  ('{"event_time": "event_time", "watermark": "5 minutes", "trigger": "manual",
    "window": {"type": "hop", "width": "30 minutes", "slide": "10 minutes"}' ||
  CASE WHEN p = 'pw_ts' THEN ', "expectations": [{"name": "t", "check": "temperature >= 0", "on_violation": "fail"}]' ELSE '' END || '}')::jsonb)
  FROM (VALUES ('pw_tf'), ('pw_ts')) v(p);
INSERT INTO pw_tid_src SELECT i % 4, '2024-01-01 00:40'::timestamptz + i * interval '3 seconds', i % 13
  FROM generate_series(0, 399) i;
INSERT INTO pw_tid_src SELECT i % 4, '2024-01-01 00:00'::timestamptz + i * interval '1 second', i % 11
  FROM generate_series(0, 2399) i;
SELECT streamext.run_pipeline('pw_tf') AS fused, streamext.run_pipeline('pw_ts') AS staged;
INSERT INTO pw_tid_src SELECT i % 4, '2024-01-01 01:00'::timestamptz + i * interval '3 seconds', i % 7
  FROM generate_series(0, 2399) i;
-- and one late row (its last window ends at 00:50, before watermark 00:54:57)
INSERT INTO pw_tid_src VALUES (1, '2024-01-01 00:29:00.5', 5);
SELECT streamext.run_pipeline('pw_tf') AS fused, streamext.run_pipeline('pw_ts') AS staged;
SELECT pipeline, rows_in, late_rows, batches FROM streamext.pipeline_status
 WHERE pipeline IN ('pw_tf', 'pw_ts') ORDER BY pipeline;
SELECT (SELECT count(*) FROM pw_tf) AS windows,
       (SELECT count(*) FROM ((TABLE pw_tf EXCEPT ALL TABLE pw_ts) UNION ALL (TABLE pw_ts EXCEPT ALL TABLE pw_tf)) d) AS differences;
SELECT count(*) AS buffered,
       count(*) FILTER (WHERE (device_id, event_time) NOT IN (SELECT * FROM pw_state('pw_ts'))) AS state_differences,
       (SELECT count(*) FROM pw_state('pw_ts')) AS staged_buffered
  FROM pw_state('pw_tf');
-- the windows written equal the batch query over the windows that have ended
SELECT count(*) AS query_differences FROM (
  (SELECT h.ws, h.ws + interval '30 minutes', device_id, count(*), sum(temperature) FROM pw_tid_src,
          LATERAL (SELECT date_bin('10 minutes', event_time, 'epoch') - g * interval '10 minutes' AS ws
                     FROM generate_series(0, 2) g) h
    WHERE event_time <> '2024-01-01 00:29:00.5'
    GROUP BY 1, 2, 3 HAVING h.ws + interval '30 minutes' <= '2024-01-01 02:55'::timestamptz
   EXCEPT ALL TABLE pw_tf)
  UNION ALL
  (TABLE pw_tf EXCEPT ALL
   SELECT h.ws, h.ws + interval '30 minutes', device_id, count(*), sum(temperature) FROM pw_tid_src,
          LATERAL (SELECT date_bin('10 minutes', event_time, 'epoch') - g * interval '10 minutes' AS ws
                     FROM generate_series(0, 2) g) h
    WHERE event_time <> '2024-01-01 00:29:00.5'
    GROUP BY 1, 2, 3 HAVING h.ws + interval '30 minutes' <= '2024-01-01 02:55'::timestamptz)) d;

SELECT streamext.drop_pipeline(name) FROM streamext.pipelines WHERE name LIKE 'pw\_%' ORDER BY name;
