-- Watermarks and late rows: streamext.watermark (aggregate; running value as a
-- window function) and streamext.is_late(event_time, delay) OVER (ORDER BY arrival).
-- watermark = max event time - delay, never decreasing; a row is late when
-- event_time <= the watermark of the rows before it (inclusive, microseconds).
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

CREATE TEMP TABLE se_wm (arrival int, event_time timestamptz, note text);
INSERT INTO se_wm VALUES
	(1, '2024-01-01 10:00:00', 'first row: never late'),
	(2, '2024-01-01 10:20:00', 'moves max to 10:20, watermark 10:10'),
	(3, '2024-01-01 10:10:00.000001', 'one microsecond after the watermark: on time'),
	(4, '2024-01-01 10:10:00', 'exactly the watermark: late (inclusive)'),
	(5, NULL, 'no event time: NULL, changes nothing'),
	(6, '2024-01-01 10:05:00', 'late'),
	(7, '2024-01-01 10:30:00', 'max 10:30'),
	(8, '2024-01-01 10:19:59.999999', 'watermark 10:20: late'),
	(9, '2024-01-01 10:20:00.000001', 'on time');

SELECT arrival, event_time, note,
       streamext.is_late(event_time, '10 minutes') OVER w AS late,
       streamext.watermark(event_time, '10 minutes') OVER w AS running_watermark
  FROM se_wm WINDOW w AS (ORDER BY arrival) ORDER BY arrival;

-- the aggregate: max(event_time) - delay, NULLs ignored; no rows or only NULLs give NULL
SELECT streamext.watermark(event_time, '10 minutes') AS wm,
       max(event_time) - interval '10 minutes' AS same,
       streamext.watermark(event_time, '0 seconds') AS zero_delay
  FROM se_wm;
SELECT streamext.watermark(event_time, '1 minute') IS NULL AS empty FROM se_wm WHERE false;
SELECT streamext.watermark(NULL::timestamptz, '1 minute') IS NULL AS only_nulls;
SELECT streamext.watermark(event_time, '1 day') FROM se_wm;

-- per key (PARTITION BY): every partition has its own watermark
SELECT k, arrival, et, streamext.is_late(et, '5 minutes') OVER (PARTITION BY k ORDER BY arrival) AS late
  FROM (VALUES ('a', 1, '2024-01-01 10:00:00+00'::timestamptz), ('b', 2, '2024-01-01 11:00:00+00'),
               ('a', 3, '2024-01-01 09:56:00+00'), ('a', 4, '2024-01-01 09:54:59+00'),
               ('b', 5, '2024-01-01 10:54:00+00')) v(k, arrival, et)
 ORDER BY arrival;

-- rows with the same arrival (one micro-batch) share the watermark of the batches
-- before them, whatever their order inside the batch: batch 2's 10:30 does not
-- make batch 2's 10:01 late, but it makes batch 3's 10:19 late
SELECT batch, et, streamext.is_late(et, '10 minutes') OVER (ORDER BY batch) AS late,
       streamext.watermark(et, '10 minutes') OVER (ORDER BY batch) AS batch_end_watermark
  FROM (VALUES (1, '2024-01-01 10:00:00+00'::timestamptz), (2, '2024-01-01 10:30:00+00'),
               (2, '2024-01-01 10:01:00+00'), (2, '2024-01-01 09:50:00+00'),
               (3, '2024-01-01 10:19:00+00'), (3, '2024-01-01 10:21:00+00')) v(batch, et)
 ORDER BY batch, et;

-- the watermark aggregate over a whole partition (no ORDER BY) is the final watermark;
-- a frame ending before the current row gives the watermark of the rows before it,
-- which is what is_late() compares with
SELECT arrival, streamext.watermark(event_time, '10 minutes') OVER () AS final,
       streamext.watermark(event_time, '10 minutes')
         OVER (ORDER BY arrival ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_row,
       streamext.is_late(event_time, '10 minutes') OVER (ORDER BY arrival) AS late
  FROM se_wm WHERE arrival <= 4 ORDER BY arrival;

-- infinite event times: +infinity makes every later row late, -infinity is always late after the first row
SELECT x, et, streamext.is_late(et, '1 minute') OVER (ORDER BY x) AS late,
       streamext.watermark(et, '1 minute') OVER (ORDER BY x) AS wm
  FROM (VALUES (1, '2024-01-01 00:00:00+00'::timestamptz), (2, '-infinity'), (3, 'infinity'),
               (4, '2025-01-01 00:00:00+00')) v(x, et) ORDER BY x;
-- a delay reaching before the first timestamp saturates at -infinity; the largest delay
SELECT streamext.watermark('4000-01-01 BC'::timestamptz, '100000 days') AS wm_near_min,
       streamext.watermark('2024-01-01'::timestamptz, '106751991 days') AS saturated;

-- a NULL delay gives NULL but the row's event time still counts
SELECT arrival, streamext.is_late(event_time, CASE WHEN arrival = 2 THEN NULL ELSE interval '10 minutes' END)
         OVER (ORDER BY arrival) AS late
  FROM se_wm WHERE arrival <= 4 ORDER BY arrival;

-- filtering late rows the way a pipeline does
SELECT arrival, event_time FROM (
	SELECT *, streamext.is_late(event_time, '10 minutes') OVER (ORDER BY arrival) AS late FROM se_wm) s
 WHERE NOT late ORDER BY arrival;

-- errors: negative delay, months
\set VERBOSITY default
SELECT streamext.watermark(event_time, '-1 minute') FROM se_wm;
SELECT streamext.is_late(event_time, '-1 second') OVER (ORDER BY arrival) FROM se_wm;
SELECT streamext.is_late(event_time, '1 month') OVER (ORDER BY arrival) FROM se_wm;
SELECT streamext.is_late(event_time, '2147483647 days') OVER (ORDER BY arrival) FROM se_wm;
-- errors: arrival order undefined (no ORDER BY), or a frame that drops earlier rows
SELECT streamext.is_late(event_time, '1 second') OVER () FROM se_wm;
SELECT streamext.is_late(event_time, '1 second') OVER (PARTITION BY note) FROM se_wm;
SELECT streamext.is_late(event_time, '1 second') OVER (ORDER BY arrival ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM se_wm;
SELECT streamext.is_late(event_time, '1 second') OVER (ORDER BY arrival ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM se_wm;
SELECT streamext.is_late(event_time, '1 second') OVER (ORDER BY arrival RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) FROM se_wm;
SELECT streamext.watermark(event_time, '1 second') OVER (ORDER BY arrival ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM se_wm;
-- accepted frames: the default, and any that starts at UNBOUNDED PRECEDING (results as above)
SELECT count(*) FILTER (WHERE l1) AS late1, count(*) FILTER (WHERE l2) AS late2, count(*) FILTER (WHERE l3) AS late3
  FROM (SELECT streamext.is_late(event_time, '10 minutes') OVER (ORDER BY arrival) AS l1,
               streamext.is_late(event_time, '10 minutes') OVER (ORDER BY arrival ROWS UNBOUNDED PRECEDING) AS l2,
               streamext.is_late(event_time, '10 minutes')
                 OVER (ORDER BY arrival GROUPS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS l3
          FROM se_wm) s;
\set VERBOSITY terse

SELECT p.proname, p.prokind, p.provolatile, p.proisstrict, p.proparallel,
       a.aggcombinefn::regproc AS combine
  FROM pg_proc p LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
 WHERE p.pronamespace = 'streamext'::regnamespace AND p.proname IN ('watermark', 'is_late')
 ORDER BY 1;
DROP TABLE se_wm;
RESET timezone;
RESET datestyle;
RESET intervalstyle;
