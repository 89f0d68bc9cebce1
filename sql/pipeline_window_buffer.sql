-- An append tumble window over a plain heap source whose event time is a
-- timestamptz column: the rows of the windows still open are put into the
-- window state in bulk, from the row ids the batch's statement collected
-- (window_buffer.c; DEBUG1 says how many).  They are the rows read at or
-- above the eviction bound, with every column as in the source (NULLs too),
-- and none without an event time; the windows they close in a later batch
-- equal a reference computed from the source.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE SCHEMA se_plwb;
SET search_path = se_plwb;
SET streamext.batch_log_level = debug5;
-- ten hours of readings, one a second, for ten devices; every seventh note NULL
CREATE TABLE wb_src (device text, ts timestamptz, v float8, note text);
INSERT INTO wb_src SELECT 'd' || (i % 10), '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second', i,
  CASE WHEN i % 7 <> 0 THEN 'n' || i END FROM generate_series(0, 35999) i;
INSERT INTO wb_src VALUES ('d0', NULL, -1, 'no time'), ('d0', 'infinity', -2, 'infinite');
ANALYZE wb_src;
CREATE TABLE wb_gold (window_start timestamptz, window_end timestamptz, device text, n bigint,
  s float8, notes bigint);
SELECT streamext.create_pipeline('plwb', 'wb_src', 'wb_gold',
  $q$SELECT window_start, window_end, device, count(*) AS n, sum(v) AS s, count(note) AS notes
       FROM batch GROUP BY window_start, window_end, device$q$,
  '{"event_time": "ts", "watermark": "10 minutes", "window": {"type": "tumble", "width": "1 hour"},
    "mode": "append", "trigger": "manual"}');

-- 1. the catch-up: windows up to 09:00 are final (watermark 09:49:59), the
--    rows from 09:00 on are buffered
SET client_min_messages = debug1;
SELECT streamext.run_pipeline('plwb') AS rows_read;
SET client_min_messages = error;
SELECT count(*) AS windows, min(window_start), max(window_start), sum(n) FROM wb_gold;
DO $$
BEGIN
  EXECUTE (SELECT format('CREATE TEMP VIEW wb_state AS SELECT device, ts, v, note, _streamext_et'
                         ' FROM streamext.%I', 'pipeline_' || id || '_window')
             FROM streamext.pipelines WHERE name = 'plwb');
END $$;
SELECT count(*), min(ts), max(ts), count(note) AS notes, bool_and(_streamext_et = ts) AS et_is_ts
  FROM wb_state;
-- exactly the source's rows at or above the bound, column for column
SELECT count(*) AS differ FROM (
  (SELECT device, ts, v, note FROM wb_state
   EXCEPT ALL SELECT device, ts, v, note FROM wb_src WHERE ts >= '2026-01-01 09:00:00+00' AND isfinite(ts))
  UNION ALL
  (SELECT device, ts, v, note FROM wb_src WHERE ts >= '2026-01-01 09:00:00+00' AND isfinite(ts)
   EXCEPT ALL SELECT device, ts, v, note FROM wb_state)) d;

-- 2. two more hours: the buffered rows and the new ones close 09:00 and 10:00
INSERT INTO wb_src SELECT 'd' || (i % 10), '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second', i,
  CASE WHEN i % 7 <> 0 THEN 'n' || i END FROM generate_series(36000, 43199) i;
SELECT streamext.run_pipeline('plwb') AS rows_read;
SELECT count(*) AS differ FROM (
  (TABLE wb_gold EXCEPT ALL
   SELECT date_bin('1 hour', ts, 'epoch'), date_bin('1 hour', ts, 'epoch') + interval '1 hour', device,
          count(*), sum(v), count(note)
     FROM wb_src WHERE isfinite(ts) AND ts < '2026-01-01 11:00:00+00' GROUP BY 1, 2, 3)
  UNION ALL
  (SELECT date_bin('1 hour', ts, 'epoch'), date_bin('1 hour', ts, 'epoch') + interval '1 hour', device,
          count(*), sum(v), count(note)
     FROM wb_src WHERE isfinite(ts) AND ts < '2026-01-01 11:00:00+00' GROUP BY 1, 2, 3
   EXCEPT ALL TABLE wb_gold)) d;
SELECT count(*), min(ts) FROM wb_state;

DROP VIEW wb_state;
SELECT streamext.drop_pipeline('plwb');

-- 3. a source with an inheritance child: the batch reads both tables, whose
--    row ids could be the same, so the statement buffers the rows itself
CREATE TABLE wbi_src (device text, ts timestamptz, v float8);
CREATE TABLE wbi_child () INHERITS (wbi_src);
INSERT INTO wbi_src SELECT 'p', '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second', i
  FROM generate_series(0, 17999) i;
INSERT INTO wbi_child SELECT 'c', '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second', -i
  FROM generate_series(0, 17999) i;
ANALYZE wbi_src;
ANALYZE wbi_child;
CREATE TABLE wbi_gold (window_start timestamptz, window_end timestamptz, device text, n bigint, s float8);
SELECT streamext.create_pipeline('plwbi', 'wbi_src', 'wbi_gold',
  $q$SELECT window_start, window_end, device, count(*) AS n, sum(v) AS s
       FROM batch GROUP BY window_start, window_end, device$q$,
  '{"event_time": "ts", "watermark": "10 minutes", "window": {"type": "tumble", "width": "1 hour"},
    "mode": "append", "trigger": "manual"}');
SET client_min_messages = debug1;
SELECT streamext.run_pipeline('plwbi') AS rows_read;
SET client_min_messages = error;
INSERT INTO wbi_child SELECT 'c', '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second', -i
  FROM generate_series(18000, 21599) i;
INSERT INTO wbi_src SELECT 'p', '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second', i
  FROM generate_series(18000, 21599) i;
SELECT streamext.run_pipeline('plwbi') AS rows_read;
-- the windows to 05:00 from both tables' rows, buffered ones included
SELECT count(*) AS differ FROM (
  (TABLE wbi_gold EXCEPT ALL
   SELECT date_bin('1 hour', ts, 'epoch'), date_bin('1 hour', ts, 'epoch') + interval '1 hour', device,
          count(*), sum(v)
     FROM wbi_src WHERE ts < '2026-01-01 05:00:00+00' GROUP BY 1, 2, 3)
  UNION ALL
  (SELECT date_bin('1 hour', ts, 'epoch'), date_bin('1 hour', ts, 'epoch') + interval '1 hour', device,
          count(*), sum(v)
     FROM wbi_src WHERE ts < '2026-01-01 05:00:00+00' GROUP BY 1, 2, 3
   EXCEPT ALL TABLE wbi_gold)) d;
SELECT count(*) AS windows FROM wbi_gold;
SELECT streamext.drop_pipeline('plwbi');
DROP SCHEMA se_plwb CASCADE;
