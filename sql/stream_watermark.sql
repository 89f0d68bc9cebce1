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

-- without ORDER BY all rows arrive together: nothing is late
SELECT count(*) FILTER (WHERE l) AS late_without_order
  FROM (SELECT streamext.is_late(event_time, '1 second') OVER () AS l FROM se_wm) s;

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
