-- A batch runs with TimeZone UTC, whatever the session's: an event-time
-- column of type timestamp without time zone, a window origin without an
-- offset and the query's casts read as UTC, so two sessions in different
-- TimeZones (and the worker, with the server's) assign the same windows,
-- watermarks and late rows.  ptz_a runs in New York, ptz_b in Kolkata (+05:30,
-- which would shift hour windows by half an hour), batch by batch.
SET client_min_messages = error;
CREATE TABLE ptz_src (device int, et timestamp, v int);
CREATE TABLE ptz_a (window_start timestamp, window_end timestamptz, device int, n bigint,
                    first_et timestamptz);
CREATE TABLE ptz_b (LIKE ptz_a);

SET TimeZone = 'America/New_York';
SELECT streamext.create_pipeline('ptz_a', 'ptz_src', 'ptz_a',
  'SELECT window_start, window_end, device, count(*) AS n, min(et) AS first_et
     FROM batch GROUP BY window_start, window_end, device',
  '{"event_time": "et", "watermark": "10 minutes", "late_rows": "ptz_late_a", "trigger": "manual",
    "window": {"type": "tumble", "width": "1 hour", "origin": "2026-01-01 00:30"}}');
\c
SET client_min_messages = error;
SET TimeZone = 'Asia/Kolkata';
SELECT streamext.create_pipeline('ptz_b', 'ptz_src', 'ptz_b',
  'SELECT window_start, window_end, device, count(*) AS n, min(et) AS first_et
     FROM batch GROUP BY window_start, window_end, device',
  '{"event_time": "et", "watermark": "10 minutes", "late_rows": "ptz_late_b", "trigger": "manual",
    "window": {"type": "tumble", "width": "1 hour", "origin": "2026-01-01 00:30"}}');

-- batch 1: windows [10:30, 11:30) and [11:30, 12:30) UTC open, watermark 11:25
INSERT INTO ptz_src VALUES (1, '2026-01-01 10:40', 1), (1, '2026-01-01 10:50', 2),
  (2, '2026-01-01 11:35', 3);
\c
SET TimeZone = 'America/New_York';
SELECT streamext.run_pipeline('ptz_a');
\c
SET TimeZone = 'Asia/Kolkata';
SELECT streamext.run_pipeline('ptz_b');
-- batch 2: 09:45 is late (its window ended at 10:30 <= 11:25); the watermark
-- 12:35 closes [10:30, 11:30) and [11:30, 12:30)
INSERT INTO ptz_src VALUES (1, '2026-01-01 12:45', 4), (2, '2026-01-01 09:45', 5);
\c
SET TimeZone = 'America/New_York';
SELECT streamext.run_pipeline('ptz_a');
\c
SET TimeZone = 'Asia/Kolkata';
SELECT streamext.run_pipeline('ptz_b');
-- batch 3: the watermark 13:50 closes [12:30, 13:30)
INSERT INTO ptz_src VALUES (1, '2026-01-01 14:00', 6);
\c
SET TimeZone = 'America/New_York';
SELECT streamext.run_pipeline('ptz_a');
\c
SET TimeZone = 'Asia/Kolkata';
SELECT streamext.run_pipeline('ptz_b');

\c
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SELECT * FROM ptz_a ORDER BY window_start, device;
SELECT count(*) AS differences FROM
  ((SELECT * FROM ptz_a EXCEPT SELECT * FROM ptz_b) UNION ALL (SELECT * FROM ptz_b EXCEPT SELECT * FROM ptz_a)) d;
SELECT device, et, v, _batch, _watermark FROM ptz_late_a ORDER BY v;
SELECT (SELECT array_agg((device, et, v, _batch, _watermark) ORDER BY v) FROM ptz_late_a)
     = (SELECT array_agg((device, et, v, _batch, _watermark) ORDER BY v) FROM ptz_late_b) AS same_late;
SELECT a.batch, a.watermark, a.watermark = b.watermark AS same_watermark, a.rows_out = b.rows_out AS same_rows_out
  FROM streamext.pipeline_batches a JOIN streamext.pipeline_batches b USING (batch)
  WHERE a.pipeline = 'ptz_a' AND b.pipeline = 'ptz_b' ORDER BY a.batch;

SET client_min_messages = error;
SELECT streamext.drop_pipeline(p) FROM unnest(ARRAY['ptz_a', 'ptz_b']) p;
DROP TABLE ptz_src, ptz_a, ptz_b, ptz_late_a, ptz_late_b;
