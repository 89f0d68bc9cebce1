-- Review of pipelines: micro-batches as DESIGN.md and docs/pipelines.md
-- describe them.  Every pipeline here has trigger 'manual'.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE SCHEMA se_plrb;
SET search_path = se_plrb;

-- 1. an expectation's check may name the batch's columns as batch.col
--    (docs/pipelines.md; create_pipeline accepts it): it must work in the
--    batches too, for warn, drop (into quarantine) and fail
CREATE TABLE b_src (id int, temperature float8);
CREATE TABLE b_tgt (id int, temperature float8);
INSERT INTO b_src VALUES (1, 20), (2, 500), (3, -5);
SELECT streamext.create_pipeline('plrb_check', 'b_src', 'b_tgt', NULL,
  '{"trigger": "manual", "quarantine": "b_quarantine", "expectations": [
     {"name": "not_hot", "check": "batch.temperature < 100", "on_violation": "drop"},
     {"name": "not_cold", "check": "batch.temperature >= 0"}]}');
SELECT streamext.run_pipeline('plrb_check');
SELECT id, temperature FROM b_tgt ORDER BY id;
SELECT id, _expectation FROM b_quarantine ORDER BY id;
SELECT expectation_failures, expectation_counts FROM streamext.pipeline_status WHERE pipeline = 'plrb_check';
SELECT streamext.alter_pipeline('plrb_check', '{"expectations": [
     {"name": "has_id", "check": "batch.id IS NOT NULL", "on_violation": "fail"}]}');
INSERT INTO b_src VALUES (NULL, 1);
SELECT streamext.run_pipeline('plrb_check');

-- 2. the tracking column dropped under a pipeline: the batches say so and
--    point to reset_pipeline, which adds it again and reads the whole source
CREATE TABLE d_src (id int);
CREATE TABLE d_tgt (id int);
INSERT INTO d_src VALUES (1);
SELECT streamext.create_pipeline('plrb_drop', 'd_src', 'd_tgt', NULL, '{"trigger": "manual"}');
SELECT streamext.run_pipeline('plrb_drop');
ALTER TABLE d_src DROP COLUMN _streamext_xid;
INSERT INTO d_src VALUES (2);
SELECT streamext.run_pipeline('plrb_drop');
SELECT streamext.reset_pipeline('plrb_drop');
SELECT streamext.run_pipeline('plrb_drop');
SELECT id FROM d_tgt ORDER BY id;
INSERT INTO d_src VALUES (3);
SELECT streamext.run_pipeline('plrb_drop');
SELECT id FROM d_tgt ORDER BY id;

-- 3. exactly once with a prepared transaction, savepoints, rows of the
--    running transaction itself and max_batch_rows cuts: every row once
CREATE TABLE x_src (id int);
CREATE TABLE x_tgt (id int);
SELECT streamext.create_pipeline('plrb_once', 'x_src', 'x_tgt', NULL, '{"trigger": "manual", "max_batch_rows": 2}');
BEGIN;
INSERT INTO x_src VALUES (1);
PREPARE TRANSACTION 'plrb_p1';
INSERT INTO x_src VALUES (2), (3), (4);
BEGIN;
INSERT INTO x_src VALUES (5);
SAVEPOINT a;
INSERT INTO x_src VALUES (6);
ROLLBACK TO a;
INSERT INTO x_src VALUES (7);
SAVEPOINT b;
INSERT INTO x_src VALUES (8);
RELEASE b;
COMMIT;
SELECT streamext.run_pipeline('plrb_once', 1);
SELECT streamext.run_pipeline('plrb_once');
COMMIT PREPARED 'plrb_p1';
BEGIN;
INSERT INTO x_src VALUES (9);
SELECT streamext.run_pipeline('plrb_once');
INSERT INTO x_src VALUES (10);
SELECT streamext.run_pipeline('plrb_once');
COMMIT;
SELECT streamext.run_pipeline('plrb_once');
INSERT INTO x_src SELECT g FROM generate_series(11, 15) g;
INSERT INTO x_src VALUES (16);
SELECT streamext.run_pipeline('plrb_once', 1);
SELECT streamext.run_pipeline('plrb_once');
SELECT array_agg(id ORDER BY id) AS ids, count(*) = count(DISTINCT id) AS each_once FROM x_tgt;
SELECT batch, rows_in FROM streamext.pipeline_batches WHERE pipeline = 'plrb_once' ORDER BY batch;

-- 4. an infinite event time is no time: it moves no watermark, is not late
--    and is in no window (one 'infinity' made every later row late for good,
--    and failed every batch of a windowed pipeline)
SET timezone = 'UTC';
CREATE TABLE i_src (id int, et timestamptz);
CREATE TABLE i_tgt (id int, et timestamptz);
CREATE TABLE i_win (window_start timestamptz, n bigint);
SELECT streamext.create_pipeline('plrb_inf', 'i_src', 'i_tgt', NULL,
  '{"trigger": "manual", "event_time": "et", "watermark": "1 minute", "late_rows": "i_late"}');
SELECT streamext.create_pipeline('plrb_inf_win', 'i_src', 'i_win',
  'SELECT window_start, count(*) AS n FROM batch GROUP BY window_start',
  '{"trigger": "manual", "event_time": "et", "watermark": "1 minute", "window": {"type": "tumble", "width": "1 hour"}}');
INSERT INTO i_src VALUES (1, '2024-01-01 10:00'), (2, 'infinity'), (3, '-infinity');
SELECT streamext.run_pipeline('plrb_inf'), streamext.run_pipeline('plrb_inf_win');
INSERT INTO i_src VALUES (4, '2024-01-01 10:30'), (5, '2024-01-01 09:00'), (6, '2024-01-01 11:05');
SELECT streamext.run_pipeline('plrb_inf'), streamext.run_pipeline('plrb_inf_win');
SELECT pipeline, watermark, late_rows FROM streamext.pipeline_status WHERE pipeline LIKE 'plrb_inf%' ORDER BY 1;
SELECT id FROM i_tgt ORDER BY id;
SELECT id FROM i_late ORDER BY id;
SELECT window_start, n FROM i_win ORDER BY 1;

-- 5. a temporary source or target is refused: the worker runs in another
--    session, and the table would vanish with this one
CREATE TEMP TABLE t_src (id int);
CREATE TABLE t_tgt (id int);
SELECT streamext.create_pipeline('plrb_temp', 't_src', 't_tgt', NULL, '{"trigger": "manual"}');
SELECT streamext.create_pipeline('plrb_temp', 't_tgt', 't_src', NULL, '{"trigger": "manual"}');

-- 6. the watermark is the largest event time read minus the delay, to the
--    microsecond, whatever DateStyle and TimeZone the session has (it went
--    through timestamptz's text form: "IST" printed for Asia/Kolkata reads
--    back as Israel's time, 3.5 hours off)
SET datestyle = 'Postgres, MDY';
SET timezone = 'Asia/Kolkata';
CREATE TABLE w_src (id int, et timestamptz);
CREATE TABLE w_tgt (id int, et timestamptz);
SELECT streamext.create_pipeline('plrb_wm', 'w_src', 'w_tgt', NULL,
  '{"trigger": "manual", "event_time": "et", "watermark": "1 second"}');
INSERT INTO w_src VALUES (1, '2024-01-01 10:00:00.123456+00');
SELECT streamext.run_pipeline('plrb_wm');
SELECT watermark = '2024-01-01 09:59:59.123456+00' AS watermark_exact,
	max_event_time = '2024-01-01 10:00:00.123456+00' AS max_event_time_exact
	FROM streamext.pipeline_status WHERE pipeline = 'plrb_wm';
RESET datestyle;
SET timezone = 'UTC';

SELECT streamext.drop_pipeline(name) FROM streamext.pipelines WHERE name LIKE 'plrb\_%' ORDER BY name;
DROP SCHEMA se_plrb CASCADE;
