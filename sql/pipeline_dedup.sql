-- Dedup within the watermark, details: NULL keys equal each other (as in
-- DISTINCT), in one batch and against the state of earlier batches, and are
-- evicted like any key; on a bronze table the first arrival is the lowest
-- (_partition, _offset) of a transaction, not the first row written;
-- partitioned sources.
SET timezone = 'UTC';
SET client_min_messages = error;

CREATE TABLE pd_src (k text, et timestamptz, n int);
CREATE TABLE pd_out (k text, et timestamptz, n int);
SELECT streamext.create_pipeline('pd', 'pd_src', 'pd_out', NULL,
  '{"event_time": "et", "watermark": "1 minute", "dedup_keys": ["k"], "trigger": "manual"}');
-- batch 1: two NULL keys, the first is kept
INSERT INTO pd_src VALUES (NULL, '2026-01-01 00:00:00', 1), (NULL, '2026-01-01 00:00:10', 2),
  ('a', '2026-01-01 00:00:20', 3);
SELECT streamext.run_pipeline('pd');
-- batch 2 (watermark 23:59:20): NULL and 'a' are held: duplicates; the
-- watermark moves to 00:01:00, which evicts NULL (00:00:00 + 1 min <= 00:01:00)
-- but not 'a' (00:00:20 + 1 min)
INSERT INTO pd_src VALUES (NULL, '2026-01-01 00:00:30', 4), ('a', '2026-01-01 00:00:40', 5),
  ('b', '2026-01-01 00:02:00', 6);
SELECT streamext.run_pipeline('pd');
-- batch 3: NULL is new again, 'a' and 'b' are still held
INSERT INTO pd_src VALUES (NULL, '2026-01-01 00:01:30', 7), ('a', '2026-01-01 00:01:40', 8),
  ('b', '2026-01-01 00:02:10', 9);
SELECT streamext.run_pipeline('pd');
SELECT * FROM pd_out ORDER BY n;
SELECT batch, rows_in, rows_out, late_rows, duplicates_dropped, watermark
  FROM streamext.pipeline_batches WHERE pipeline = 'pd' ORDER BY batch;

-- a partitioned bronze table: arrival order is (_partition, _offset) within
-- a transaction; the key is (device, event time)
CREATE TABLE pd_bronze (device int, et timestamptz, _partition int, _offset bigint)
  PARTITION BY RANGE (et);
CREATE TABLE pd_bronze_1 PARTITION OF pd_bronze FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');
CREATE TABLE pd_bronze_2 PARTITION OF pd_bronze FOR VALUES FROM ('2026-01-02') TO ('2026-01-03');
CREATE TABLE pd_silver (device int, et timestamptz, _partition int, _offset bigint);
INSERT INTO pd_bronze VALUES (1, '2026-01-01 10:00', 0, 7);  -- before create: read too
SELECT streamext.create_pipeline('pdb', 'pd_bronze', 'pd_silver', NULL,
  '{"event_time": "et", "watermark": "1 hour", "dedup_keys": ["device", "et"], "trigger": "manual"}');
INSERT INTO pd_bronze VALUES
  (4, '2026-01-02 10:00', 1, 5),   -- written first, arrived later
  (4, '2026-01-02 10:00', 1, 3),
  (2, '2026-01-02 10:00', 1, 1),
  (2, '2026-01-02 10:00', 0, 9),   -- partition 0 comes first
  (1, '2026-01-01 10:00', 0, 8),   -- a duplicate of the row before create
  (3, '2026-01-01 11:00', 1, 4);
SELECT streamext.run_pipeline('pdb');
SELECT * FROM pd_silver ORDER BY device, et;
SELECT rows_in, rows_out, duplicates_dropped FROM streamext.pipeline_status WHERE pipeline = 'pdb';

SELECT streamext.drop_pipeline(p) FROM unnest(ARRAY['pd', 'pdb']) p;
