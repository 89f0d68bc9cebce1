-- Update mode: after each batch every window the batch touched holds its
-- aggregate over all of its rows so far, replaced by the target's unique key;
-- a window's rows are kept until the watermark passes its end.  Fixed batch
-- boundaries: every run_pipeline reads what was inserted since the last one.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = error;

-- the rows a pipeline's window state holds (streamext."pipeline_<id>_window")
CREATE FUNCTION pu_state(pipeline text) RETURNS TABLE (device_id int, event_time timestamptz)
  LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT device_id, event_time FROM streamext.%I ORDER BY event_time, device_id',
                              (SELECT 'pipeline_' || id || '_window' FROM streamext.pipelines WHERE name = pipeline));
END $$;

CREATE TABLE pu_silver (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE pu_nokey (window_start timestamptz, device_id int, avg_temp float8, n bigint);

-- a clear error at create time without a unique key over the group columns
SELECT streamext.create_pipeline('pu_bad', 'pu_silver', 'pu_nokey',
  'SELECT window_start, device_id, avg(temperature) AS avg_temp, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "10 minutes", "mode": "update",
    "window": {"type": "tumble", "width": "1 minute"}, "trigger": "manual"}');
-- a unique index that is not over result columns does not do either
CREATE UNIQUE INDEX ON pu_nokey (window_start, device_id, avg_temp, n) WHERE n > 0;
SELECT streamext.create_pipeline('pu_bad', 'pu_silver', 'pu_nokey',
  'SELECT window_start, device_id, avg(temperature) AS avg_temp, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "10 minutes", "mode": "update",
    "window": {"type": "tumble", "width": "1 minute"}, "trigger": "manual"}');
-- session windows: not in update mode (as in Spark)
CREATE TABLE pu_sess (device_id int, window_start timestamptz, n bigint, PRIMARY KEY (device_id, window_start));
SELECT streamext.create_pipeline('pu_bad', 'pu_silver', 'pu_sess',
  'SELECT device_id, window_start, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "10 minutes", "mode": "update",
    "window": {"type": "session", "gap": "5 minutes", "keys": ["device_id"]}, "trigger": "manual"}');
SELECT count(*) AS pipelines FROM streamext.pipelines WHERE name = 'pu_bad';

-- per-minute running aggregates into a heap table and into a gold table -----
CREATE TABLE pu_heap (window_start timestamptz, window_end timestamptz, device_id int,
                      avg_temp float8, n bigint, PRIMARY KEY (window_start, device_id));
CREATE TABLE pu_gold (window_start timestamptz, device_id int, avg_temp float8, n bigint,
                      p50 float8) USING versioned_columnar;
CREATE UNIQUE INDEX pu_gold_key ON pu_gold (device_id, window_start);
SELECT streamext.create_pipeline('pu_heap', 'pu_silver', 'pu_heap',
  'SELECT window_start, window_end, device_id, avg(temperature) AS avg_temp, count(*) AS n
     FROM batch GROUP BY window_start, window_end, device_id',
  '{"event_time": "event_time", "watermark": "1 minute", "mode": "update",
    "window": {"type": "tumble", "width": "1 minute"}, "trigger": "manual"}');
SELECT streamext.create_pipeline('pu_gold', 'pu_silver', 'pu_gold',
  'SELECT window_start, device_id, avg(temperature) AS avg_temp, count(*) AS n,
          streamext.approx_percentile(temperature, 0.5) AS p50
     FROM batch GROUP BY window_start, device_id',
  '{"event_time": "event_time", "watermark": "1 minute", "mode": "update",
    "window": {"type": "tumble", "width": "1 minute"}, "trigger": "manual"}');

-- batch 1
INSERT INTO pu_silver VALUES (1, '2024-01-01 10:00:10', 10), (1, '2024-01-01 10:00:20', 20),
                             (2, '2024-01-01 10:00:30', 50);
SELECT streamext.run_pipeline('pu_heap'), streamext.run_pipeline('pu_gold');
SELECT * FROM pu_heap ORDER BY window_start, device_id;
SELECT * FROM pu_gold ORDER BY window_start, device_id;

-- batch 2: device 1's 10:00 window gets a third row (its running average
-- changes), device 2's does not change, a new 10:01 window opens
INSERT INTO pu_silver VALUES (1, '2024-01-01 10:00:50', 60), (1, '2024-01-01 10:01:05', 1);
SELECT streamext.run_pipeline('pu_heap'), streamext.run_pipeline('pu_gold');
SELECT * FROM pu_heap ORDER BY window_start, device_id;
SELECT * FROM pu_gold ORDER BY window_start, device_id;

-- batch 3: watermark 10:02:30 - 1 min = 10:01:30: the 10:00 window is final,
-- its rows leave the state; 10:00:59 of device 2 is late (its window ended)
INSERT INTO pu_silver VALUES (2, '2024-01-01 10:01:10', 40), (2, '2024-01-01 10:02:30', 30);
SELECT streamext.run_pipeline('pu_heap'), streamext.run_pipeline('pu_gold');
INSERT INTO pu_silver VALUES (2, '2024-01-01 10:00:59', 99), (1, '2024-01-01 10:01:20', 3);
SELECT streamext.run_pipeline('pu_heap'), streamext.run_pipeline('pu_gold');
SELECT * FROM pu_heap ORDER BY window_start, device_id;
SELECT * FROM pu_gold ORDER BY window_start, device_id;
SELECT batch, rows_in, rows_out, late_rows FROM streamext.pipeline_batches
 WHERE pipeline = 'pu_heap' ORDER BY batch;
-- the window state holds the rows of windows not final yet (10:01 and 10:02)
SELECT * FROM pu_state('pu_heap');

-- after each batch the target equals the batch query over the rows so far
SELECT count(*) AS differences FROM (
  (SELECT streamext.tumble_start(event_time, '1 minute'), device_id, avg(temperature), count(*)
     FROM pu_silver WHERE NOT (device_id = 2 AND event_time = '2024-01-01 10:00:59')
    GROUP BY 1, 2
   EXCEPT SELECT window_start, device_id, avg_temp, n FROM pu_gold)
  UNION ALL
  (SELECT window_start, device_id, avg_temp, n FROM pu_heap
   EXCEPT SELECT window_start, device_id, avg_temp, n FROM pu_gold)) d;

-- the gold table has one version per batch; each replaced a window's row
SELECT version, operation, rows_added, rows_removed FROM streamext.history('pu_gold') ORDER BY version;
-- and the earlier versions still answer: device 1's 10:00 window after batch 1
SELECT window_start, device_id, avg_temp, n FROM streamext.as_of(NULL::pu_gold, 1)
 ORDER BY window_start, device_id;

-- hop windows in update mode -------------------------------------------------
CREATE TABLE pu_hop (window_start timestamptz, window_end timestamptz, n bigint,
                     PRIMARY KEY (window_start));
CREATE TABLE pu_hop_src (event_time timestamptz);
SELECT streamext.create_pipeline('pu_hop', 'pu_hop_src', 'pu_hop',
  'SELECT window_start, window_end, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "0 seconds", "mode": "update",
    "window": {"type": "hop", "width": "10 minutes", "slide": "5 minutes"}, "trigger": "manual"}');
INSERT INTO pu_hop_src VALUES ('2024-01-01 10:01'), ('2024-01-01 10:06');
SELECT streamext.run_pipeline('pu_hop');
SELECT * FROM pu_hop ORDER BY window_start;
INSERT INTO pu_hop_src VALUES ('2024-01-01 10:07'), ('2024-01-01 10:12');
SELECT streamext.run_pipeline('pu_hop');
SELECT * FROM pu_hop ORDER BY window_start;

-- append mode into a gold table: one version per batch that wrote a window --
CREATE TABLE pu_append (window_start timestamptz, device_id int, n bigint) USING versioned_columnar;
CREATE TABLE pu_append_src (device_id int, event_time timestamptz);
SELECT streamext.create_pipeline('pu_append', 'pu_append_src', 'pu_append',
  'SELECT window_start, device_id, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "0 seconds",
    "window": {"type": "tumble", "width": "1 minute"}, "trigger": "manual"}');
INSERT INTO pu_append_src VALUES (1, '2024-01-01 10:00:10'), (2, '2024-01-01 10:00:20'),
                                 (1, '2024-01-01 10:01:00');
SELECT streamext.run_pipeline('pu_append');
INSERT INTO pu_append_src VALUES (1, '2024-01-01 10:01:30'), (1, '2024-01-01 10:02:00');
SELECT streamext.run_pipeline('pu_append');
SELECT * FROM pu_append ORDER BY window_start, device_id;
SELECT version, operation, rows_added, rows_removed FROM streamext.history('pu_append') ORDER BY version;

-- without a window: update mode upserts the query's rows by the key ---------
CREATE TABLE pu_last (device_id int PRIMARY KEY, temperature float8, event_time timestamptz);
SELECT streamext.create_pipeline('pu_bad', 'pu_silver', 'pu_last',
  'SELECT device_id, max(temperature) AS temperature FROM batch GROUP BY 1',
  '{"mode": "update", "trigger": "manual"}');
CREATE TABLE pu_readings (device_id int, temperature float8, event_time timestamptz);
SELECT streamext.create_pipeline('pu_last', 'pu_readings', 'pu_last', NULL,
  '{"mode": "update", "trigger": "manual"}');
INSERT INTO pu_readings VALUES (1, 20, '2024-01-01 10:00'), (2, 30, '2024-01-01 10:00');
SELECT streamext.run_pipeline('pu_last');
INSERT INTO pu_readings VALUES (1, 21, '2024-01-01 10:01');
SELECT streamext.run_pipeline('pu_last');
SELECT * FROM pu_last ORDER BY device_id;

SELECT streamext.drop_pipeline(name) FROM streamext.pipelines WHERE name LIKE 'pu\_%' ORDER BY name;
