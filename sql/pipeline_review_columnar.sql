-- Review of pipelines: a versioned_columnar source is read by version, and
-- its progress is the last version read.  A rewrite of the source (ALTER
-- COLUMN ... TYPE, CLUSTER, SET ACCESS METHOD) starts a new history at
-- version 1: the pipeline must not take the new history's versions for the
-- old one's (it stalled until the new history reached the old version
-- number, then skipped the versions below it).  It stops with an error that
-- asks for reset_pipeline, which reads the new history from the start.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE SCHEMA se_plrc;
SET search_path = se_plrc;
CREATE TABLE c_src (id int, v text) USING versioned_columnar;
CREATE TABLE c_tgt (id int, v text);
INSERT INTO c_src VALUES (1, 'a');
INSERT INTO c_src VALUES (2, 'b');
INSERT INTO c_src VALUES (3, 'c');
SELECT streamext.create_pipeline('plrc', 'c_src', 'c_tgt', NULL, '{"trigger": "manual", "max_batch_rows": 1}');
SELECT streamext.run_pipeline('plrc');
-- versions that add no rows (a delete, an update's new version is not read)
-- and batches cut by max_batch_rows are no rewrite
DELETE FROM c_src WHERE id = 1;
UPDATE c_src SET v = 'bb' WHERE id = 2;
INSERT INTO c_src VALUES (4, 'd'), (5, 'e');
SELECT streamext.run_pipeline('plrc');
SELECT streamext.run_pipeline('plrc');
SELECT id, v FROM c_tgt ORDER BY id;

-- the rewrite: the history starts again
ALTER TABLE c_src ALTER COLUMN v TYPE varchar(10);
SELECT version, operation, rows_added FROM streamext.history('c_src') ORDER BY version;
INSERT INTO c_src VALUES (6, 'f');
SELECT streamext.run_pipeline('plrc');
-- also once the new history has more versions than the old one had
INSERT INTO c_src VALUES (7, 'g');
INSERT INTO c_src VALUES (8, 'h');
INSERT INTO c_src VALUES (9, 'i');
INSERT INTO c_src VALUES (10, 'j');
INSERT INTO c_src VALUES (11, 'k');
SELECT max(version) AS versions_now FROM streamext.history('c_src');
SELECT streamext.run_pipeline('plrc');
SELECT count(*) AS rows_in_target FROM c_tgt;

-- reset_pipeline reads the new history from version 1
SELECT streamext.reset_pipeline('plrc');
SELECT streamext.alter_pipeline('plrc', '{"max_batch_rows": null}');
SELECT streamext.run_pipeline('plrc');
SELECT id, v FROM c_tgt ORDER BY id;
INSERT INTO c_src VALUES (12, 'l');
SELECT streamext.run_pipeline('plrc');
SELECT count(*) AS rows_in_target FROM c_tgt;

-- start_from latest, rewritten before the first batch
CREATE TABLE c_tgt2 (id int, v text);
SELECT streamext.create_pipeline('plrc2', 'c_src', 'c_tgt2', NULL, '{"trigger": "manual", "start_from": "latest"}');
ALTER TABLE c_src ALTER COLUMN id TYPE bigint;
SELECT streamext.run_pipeline('plrc2');

SELECT streamext.drop_pipeline(name) FROM streamext.pipelines WHERE name LIKE 'plrc%' ORDER BY name;
DROP SCHEMA se_plrc CASCADE;
