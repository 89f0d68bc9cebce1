-- Session windows: streamext.session_window(ts, gap) OVER (PARTITION BY k ORDER BY ts).
-- Each row opens [ts, ts + gap); rows merge while the next ts <= the current end
-- (inclusive); every row gets its whole session's range; NULL rows get NULL.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

CREATE TEMP TABLE se_sess (k int, ts timestamptz, note text);
INSERT INTO se_sess VALUES
	(1, '2024-01-01 10:00:00', 'opens session A'),
	(1, '2024-01-01 10:05:00', 'inside A: A ends 10:15'),
	(1, '2024-01-01 10:15:00', 'exactly at the end: merges, A ends 10:25'),
	(1, '2024-01-01 10:25:00.000001', 'one microsecond after the end: new session B'),
	(1, '2024-01-01 10:30:00', 'inside B'),
	(1, NULL, 'no event time: no session'),
	(2, '2024-01-01 10:03:00', 'other key, own session'),
	(2, '2024-01-01 10:03:00', 'same ts: same session'),
	(3, '1969-12-31 23:55:00', 'before the epoch'),
	(3, '1970-01-01 00:04:59.999999', 'merges across the epoch');

SELECT k, ts, note, streamext.session_window(ts, '10 minutes') OVER (PARTITION BY k ORDER BY ts) AS session
  FROM se_sess ORDER BY k, ts NULLS LAST, note;

-- NULLS FIRST works the same
SELECT k, ts, streamext.session_window(ts, '10 minutes') OVER (PARTITION BY k ORDER BY ts NULLS FIRST) AS session
  FROM se_sess WHERE k = 1 ORDER BY ts NULLS FIRST;

-- sessions as groups: count and duration per session (the usual use)
SELECT k, session, count(*) AS events, upper(session) - lower(session) AS length
  FROM (SELECT k, streamext.session_window(ts, '10 minutes') OVER (PARTITION BY k ORDER BY ts) AS session
          FROM se_sess) s
 WHERE session IS NOT NULL
 GROUP BY k, session ORDER BY k, session;

-- a per-row gap (Spark's dynamic gap): the end is the largest ts + gap
SELECT ts, gap, streamext.session_window(ts, gap) OVER (ORDER BY ts) AS session
  FROM (VALUES ('2024-01-01 10:00:00+00'::timestamptz, '30 minutes'::interval),
               ('2024-01-01 10:05:00+00', '1 minute'),
               ('2024-01-01 10:29:00+00', '1 minute'),
               ('2024-01-01 10:31:00+00', '1 minute')) v(ts, gap);

-- ORDER BY ts plus a tie-breaker is fine; the frame clause is not used
SELECT k, ts, streamext.session_window(ts, '10 minutes')
         OVER (PARTITION BY k ORDER BY ts, note ROWS BETWEEN CURRENT ROW AND CURRENT ROW) AS session
  FROM se_sess WHERE k = 2 ORDER BY ts, note;

-- a partition of one row, and an empty input
SELECT streamext.session_window(ts, '1 second') OVER (ORDER BY ts) FROM (VALUES ('2024-01-01 00:00:00+00'::timestamptz)) v(ts);
SELECT count(*) FROM (SELECT streamext.session_window(ts, '1 second') OVER (ORDER BY ts) FROM se_sess WHERE false) s;

-- errors: the window must be ordered by ts; gap must be a positive fixed duration
\set VERBOSITY default
SELECT streamext.session_window(ts, '10 minutes') OVER (PARTITION BY k) FROM se_sess;
SELECT streamext.session_window(ts, '10 minutes') OVER (PARTITION BY k ORDER BY ts DESC) FROM se_sess;
SELECT streamext.session_window(ts, '10 minutes') OVER (PARTITION BY k ORDER BY note) FROM se_sess;
SELECT streamext.session_window(ts, '0 minutes') OVER (PARTITION BY k ORDER BY ts) FROM se_sess;
SELECT streamext.session_window(ts, '1 month') OVER (PARTITION BY k ORDER BY ts) FROM se_sess;
\set VERBOSITY terse

SELECT proname, prokind, provolatile, proisstrict, proparallel
  FROM pg_proc WHERE oid = 'streamext.session_window'::regproc;
DROP TABLE se_sess;
RESET timezone;
RESET datestyle;
RESET intervalstyle;
