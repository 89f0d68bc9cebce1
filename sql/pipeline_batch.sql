-- One micro-batch, exactly once (issue 11): run_pipeline with fixed batch
-- boundaries.  The late rule without a window (event_time <= the previous
-- batch's watermark, inclusive, to the microsecond), dedup keeping the first
-- arrival, a late row not entering the dedup state (Spark), eviction once the
-- watermark has passed first_event_time + delay, expectations warn / drop /
-- fail, max_batch_rows, the event log and the counters, start_from latest.
SET timezone = 'UTC';
SET client_min_messages = error;

-- ---------------------------------------------------------------------------
-- late rows and dedup on "id", watermark 10 seconds
CREATE TABLE pb_src (id int, et timestamptz, note text);
CREATE TABLE pb_out (id int, et timestamptz, note text);
-- a row from before the pipeline: read by the first batch (start_from earliest)
INSERT INTO pb_src VALUES (0, '2026-01-01 00:00:01', 'before');
SELECT streamext.create_pipeline('pb', 'pb_src', 'pb_out', NULL,
  '{"event_time": "et", "watermark": "10 seconds", "dedup_keys": ["id"],
    "late_rows": "pb_late", "trigger": "manual"}');
-- nothing is late before the first watermark
SELECT watermark, batches FROM streamext.pipeline_status WHERE pipeline = 'pb';

-- batch 1: id 1 twice in one batch (the first arrival is kept), id 2
INSERT INTO pb_src VALUES (1, '2026-01-01 00:00:10', 'b1 first');
INSERT INTO pb_src VALUES (1, '2026-01-01 00:00:12', 'b1 dup'), (2, '2026-01-01 00:00:20', 'b1');
SELECT streamext.run_pipeline('pb');
SELECT * FROM pb_out ORDER BY id, et;
-- watermark = 00:00:20 - 10 s
SELECT watermark, batches, rows_in, rows_out, late_rows, duplicates_dropped
  FROM streamext.pipeline_status WHERE pipeline = 'pb';

-- batch 2: exactly at the watermark is late (inclusive); one microsecond
-- later is not; id 1 again is a duplicate (its key is held until the
-- watermark passes 00:00:10 + 10 s); id 3 is late and stays out of the state
INSERT INTO pb_src VALUES
  (3, '2026-01-01 00:00:10', 'b2 late at the watermark'),
  (4, '2026-01-01 00:00:10.000001', 'b2 one microsecond after'),
  (1, '2026-01-01 00:00:25', 'b2 dup of 1'),
  (5, '2026-01-01 00:00:40', 'b2');
SELECT streamext.run_pipeline('pb');
SELECT id, et, note, _pipeline, _batch, _watermark FROM pb_late ORDER BY id;
SELECT * FROM pb_out ORDER BY id, et;
SELECT watermark, batches, rows_in, rows_out, late_rows, duplicates_dropped
  FROM streamext.pipeline_status WHERE pipeline = 'pb';

-- batch 3 (watermark 00:00:30): id 3 on time now is kept (the late row of
-- batch 2 did not poison its key); id 1 is kept again (its key was evicted
-- when the watermark reached 00:00:20 = first_event_time + delay); id 5 is a
-- duplicate (held until 00:00:50)
INSERT INTO pb_src VALUES
  (3, '2026-01-01 00:00:35', 'b3 on time'),
  (1, '2026-01-01 00:00:31', 'b3 after eviction'),
  (5, '2026-01-01 00:00:41', 'b3 dup of 5');
SELECT streamext.run_pipeline('pb');
SELECT * FROM pb_out ORDER BY id, et;
-- nothing new: nothing read, nothing recorded
SELECT streamext.run_pipeline('pb');
SELECT batch, rows_in, rows_out, late_rows, duplicates_dropped, watermark, expectations
  FROM streamext.pipeline_batches WHERE pipeline = 'pb' ORDER BY batch;
SELECT pipeline, state, batches, rows_in, rows_out, late_rows, duplicates_dropped,
       expectation_failures, watermark
  FROM streamext.pipeline_status WHERE pipeline = 'pb';
-- every row read exactly once: source = out + late + duplicates
SELECT (SELECT count(*) FROM pb_src) AS source_rows,
       (SELECT count(*) FROM pb_out) + (SELECT count(*) FROM pb_late) +
       (SELECT duplicates_dropped FROM streamext.pipeline_status WHERE pipeline = 'pb') AS accounted;

-- ---------------------------------------------------------------------------
-- expectations: warn counts, drop removes into the quarantine, fail raises
CREATE TABLE pe_src (id int, v int);
CREATE TABLE pe_out (id int, v int);
SELECT streamext.create_pipeline('pe', 'pe_src', 'pe_out', NULL,
  '{"expectations": [
      {"name": "v_even", "check": "v % 2 = 0", "on_violation": "warn"},
      {"name": "v_small", "check": "v < 100", "on_violation": "drop"},
      {"name": "v_positive", "check": "v >= 0", "on_violation": "fail"}],
    "quarantine": "pe_quarantine", "trigger": "manual"}');
INSERT INTO pe_src VALUES (1, 2), (2, 3), (3, 150), (4, 151);
SELECT streamext.run_pipeline('pe');
SELECT * FROM pe_out ORDER BY id;
SELECT id, v, _pipeline, _batch, _expectation FROM pe_quarantine ORDER BY id;
SELECT batch, rows_in, rows_out, expectations FROM streamext.pipeline_batches
  WHERE pipeline = 'pe' ORDER BY batch;
SELECT expectation_failures FROM streamext.pipeline_status WHERE pipeline = 'pe';
-- fail: the error names the expectation, the pipeline and a failing row;
-- nothing of the batch is committed and the progress does not move
INSERT INTO pe_src VALUES (5, 4), (6, -1);
SELECT streamext.run_pipeline('pe');
SELECT * FROM pe_out ORDER BY id;
SELECT batches, rows_in, expectation_failures FROM streamext.pipeline_status WHERE pipeline = 'pe';
-- a NULL check result is a violation too
UPDATE pe_src SET v = NULL WHERE id = 6;
SELECT streamext.run_pipeline('pe');
-- fix the data, run again: the same rows are read, now they pass
UPDATE pe_src SET v = 6 WHERE id = 6;
SELECT streamext.run_pipeline('pe');
SELECT * FROM pe_out ORDER BY id;
-- or alter the expectation: v_positive only warns now
INSERT INTO pe_src VALUES (7, -2);
SELECT streamext.run_pipeline('pe');
SELECT streamext.alter_pipeline('pe', '{"expectations": [
      {"name": "v_even", "check": "v % 2 = 0", "on_violation": "warn"},
      {"name": "v_small", "check": "v < 100", "on_violation": "drop"},
      {"name": "v_positive", "check": "v >= 0", "on_violation": "warn"}]}');
SELECT streamext.run_pipeline('pe');
SELECT * FROM pe_out ORDER BY id;
SELECT batch, rows_in, rows_out, expectations FROM streamext.pipeline_batches
  WHERE pipeline = 'pe' ORDER BY batch;
SELECT expectation_failures FROM streamext.pipeline_status WHERE pipeline = 'pe';
SELECT expectation_counts FROM streamext.pipeline_progress
  WHERE pipeline_id = (SELECT id FROM streamext.pipelines WHERE name = 'pe');

-- ---------------------------------------------------------------------------
-- max_batch_rows: batches end at a transaction boundary
CREATE TABLE pm_src (id int);
CREATE TABLE pm_out (id int);
SELECT streamext.create_pipeline('pm', 'pm_src', 'pm_out', NULL,
  '{"max_batch_rows": 2, "trigger": "manual"}');
INSERT INTO pm_src SELECT generate_series(1, 3);  -- one transaction of 3 rows: read whole
INSERT INTO pm_src VALUES (4);
INSERT INTO pm_src VALUES (5);
INSERT INTO pm_src VALUES (6);
SELECT streamext.run_pipeline('pm', 1);
-- two batches in one call (one transaction): rows 4 and 5, then row 6
SELECT streamext.run_pipeline('pm');
SELECT streamext.run_pipeline('pm');
SELECT batch, rows_in FROM streamext.pipeline_batches WHERE pipeline = 'pm' ORDER BY batch;
-- the event log keeps the last streamext.pipeline_batches_keep batches
SET streamext.pipeline_batches_keep = 2;
INSERT INTO pm_src VALUES (7);
SELECT streamext.run_pipeline('pm');
SELECT batch, rows_in FROM streamext.pipeline_batches WHERE pipeline = 'pm' ORDER BY batch;
RESET streamext.pipeline_batches_keep;
SELECT id, count(*) FROM pm_out GROUP BY id ORDER BY id;

-- ---------------------------------------------------------------------------
-- start_from latest: rows that exist at create are not read
CREATE TABLE pl_src (id int);
CREATE TABLE pl_out (id int);
INSERT INTO pl_src VALUES (1), (2);
SELECT streamext.create_pipeline('pl', 'pl_src', 'pl_out', NULL,
  '{"start_from": "latest", "trigger": "manual"}');
SELECT streamext.run_pipeline('pl');
INSERT INTO pl_src VALUES (3);
SELECT streamext.run_pipeline('pl');
SELECT * FROM pl_out;

-- several batches in one transaction (and the temporary tables of the batch
-- do not leak into the session); the rows the transaction itself inserted
-- are read once it has committed, those inserted after a batch too
INSERT INTO pl_src VALUES (4);
BEGIN;
INSERT INTO pl_src VALUES (5);
SELECT streamext.run_pipeline('pl');
INSERT INTO pl_src VALUES (6);
SELECT streamext.run_pipeline('pl');
COMMIT;
SELECT streamext.run_pipeline('pl');
SELECT * FROM pl_out ORDER BY id;
SELECT to_regclass('pg_temp._streamext_batch') IS NULL AS no_batch_table,
       to_regclass('pg_temp._streamext_read') IS NULL AS no_read_table;

-- ---------------------------------------------------------------------------
-- only the owner (or a superuser) runs a pipeline
CREATE ROLE pb_other;
SET ROLE pb_other;
SELECT streamext.run_pipeline('pl');
RESET ROLE;
DROP ROLE pb_other;
SELECT streamext.run_pipeline('pl', 0);

SELECT streamext.drop_pipeline(p) FROM unnest(ARRAY['pb', 'pe', 'pm', 'pl']) p;
