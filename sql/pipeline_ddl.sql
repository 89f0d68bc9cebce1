-- Pipeline DDL: create/alter/drop/pause/resume/reset_pipeline, the catalog,
-- the tracking column, the late-rows and quarantine tables, pipeline_status.
-- Every pipeline here has trigger 'manual', so no worker runs it meanwhile.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE SCHEMA "se pl";
SET search_path = "se pl", public;

-- a source and a target whose names need quotes
CREATE TABLE "Bronze ""Events""" (device_id text, "Event Time" timestamptz, temperature float8, note text);
INSERT INTO "Bronze ""Events""" VALUES ('d1', '2024-01-01 10:00+00', 20, 'a'), ('d2', '2024-01-01 10:01+00', 21, 'b');
CREATE TABLE "Silver Out" (device_id text, "Event Time" timestamptz, temperature float8, note text);
CREATE TEMP TABLE before AS
  SELECT relfilenode FROM pg_class WHERE oid = '"se pl"."Bronze ""Events"""'::regclass;

SELECT streamext.create_pipeline('silver "1"', '"Bronze ""Events"""', '"Silver Out"', NULL,
  '{"event_time": "Event Time", "watermark": "10 minutes", "dedup_keys": ["device_id", "Event Time"],
    "late_rows": "\"Late Rows\"", "quarantine": "se_quarantine", "trigger": "manual",
    "expectations": [{"name": "valid temp", "check": "temperature BETWEEN -50 AND 150", "on_violation": "drop"},
                     {"name": "has note", "check": "note IS NOT NULL"}]}');

-- the tracking column: added without a rewrite, the existing rows carry the
-- create transaction's id, new rows their own; with a btree index
SELECT c.relfilenode = b.relfilenode AS no_rewrite
  FROM pg_class c, before b WHERE c.oid = '"Bronze ""Events"""'::regclass;
SELECT a.atttypid::regtype, pg_get_expr(d.adbin, d.adrelid) AS default_expr
  FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = '"Bronze ""Events"""'::regclass AND a.attname = '_streamext_xid';
SELECT count(DISTINCT _streamext_xid) AS one_xid, count(*) FILTER (WHERE _streamext_xid IS NULL) AS nulls
  FROM "Bronze ""Events""";
SELECT pg_get_indexdef(indexrelid) LIKE '%USING btree (_streamext_xid)' AS indexed
  FROM pg_index WHERE indrelid = '"Bronze ""Events"""'::regclass;
INSERT INTO "Bronze ""Events""" VALUES ('d3', '2024-01-01 10:02+00', 22, 'c');
SELECT count(DISTINCT _streamext_xid) AS two_xids FROM "Bronze ""Events""";

-- the catalog row: late_rows and quarantine kept schema-qualified; the
-- creator's search_path kept; the progress starts before every transaction
SELECT name, owner = current_user::regrole AS mine, source, target, query, state, generation,
       search_path, options -> 'late_rows' AS late_rows, options -> 'quarantine' AS quarantine
  FROM streamext.pipelines;
SELECT snapshot, version, watermark, batches, rows_in FROM streamext.pipeline_progress;

-- the late-rows and quarantine tables: the source's columns (not the tracking
-- column) plus _pipeline, _batch, _watermark (quarantine: _expectation)
SELECT attrelid::regclass, string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
  FROM pg_attribute
 WHERE attrelid IN ('"Late Rows"'::regclass, 'se_quarantine'::regclass) AND attnum > 0 AND NOT attisdropped
 GROUP BY attrelid ORDER BY 1;

-- pipeline_status: the columns of DESIGN.md first, in that order
SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute
 WHERE attrelid = 'streamext.pipeline_status'::regclass;
SELECT pipeline, state, batches, rows_in, rows_out, late_rows, duplicates_dropped, expectation_failures,
       watermark, lag, last_batch_at, last_error
  FROM streamext.pipeline_status;

-- a second pipeline on the same source starting from latest: the column is
-- there already; what is committed now counts as read
CREATE TABLE "Silver Latest" (LIKE "Silver Out");
SELECT streamext.create_pipeline('silver latest', '"Bronze ""Events"""', '"Silver Latest"', NULL,
  '{"start_from": "latest", "trigger": "manual"}');
SELECT bool_and(pg_visible_in_snapshot(b._streamext_xid, g.snapshot)) AS existing_rows_done,
       bool_and(g.snapshot::text <> '1:1:') AS current_snapshot
  FROM "Bronze ""Events""" b, streamext.pipeline_progress g
 WHERE g.pipeline_id = (SELECT id FROM streamext.pipelines WHERE name = 'silver latest');

-- latest on a source that gets the column now: the rows there carry the
-- create transaction's id, and that transaction counts as read
CREATE TABLE se_fresh (a int);
INSERT INTO se_fresh VALUES (1), (2);
CREATE TABLE se_fresh_out (a int);
SELECT streamext.create_pipeline('fresh latest', 'se_fresh', 'se_fresh_out', NULL,
  '{"start_from": "latest", "trigger": "manual"}');
SELECT bool_and(pg_visible_in_snapshot(f._streamext_xid, g.snapshot)) AS existing_rows_done
  FROM se_fresh f, streamext.pipeline_progress g
 WHERE g.pipeline_id = (SELECT id FROM streamext.pipelines WHERE name = 'fresh latest');

-- errors: names, arguments, tables
SELECT streamext.create_pipeline('silver "1"', '"Bronze ""Events"""', '"Silver Out"');
SELECT streamext.create_pipeline(NULL, '"Bronze ""Events"""', '"Silver Out"');
SELECT streamext.create_pipeline(repeat('x', 64), '"Bronze ""Events"""', '"Silver Out"');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Bronze ""Events"""');
CREATE VIEW se_view AS SELECT * FROM "Bronze ""Events""";
SELECT streamext.create_pipeline('e', 'se_view', '"Silver Out"');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', 'se_view');
SELECT streamext.alter_pipeline('nope', '{}');
SELECT streamext.drop_pipeline('nope');
SELECT streamext.pause_pipeline('nope');
SELECT streamext.resume_pipeline('nope');
SELECT streamext.reset_pipeline('nope');
SELECT streamext.drop_pipeline(NULL);

-- errors: options
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"watermark_delay": "1 minute"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '[1]');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "event time"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "temperature"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "_streamext_xid"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "watermark": "ten minutes"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "watermark": "-1 minute"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "watermark": "1 month"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"watermark": "1 minute"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "watermark": "1 minute", "dedup_keys": ["device_id", "nope"]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "watermark": "1 minute", "dedup_keys": ["device_id", "device_id"]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "watermark": "1 minute", "dedup_keys": []}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"dedup_keys": ["device_id"]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"window": {"type": "tumble", "width": "1 hour"}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "window": {"type": "sliding", "width": "1 hour"}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "window": {"type": "tumble"}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "window": {"type": "tumble", "width": "0"}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "window": {"type": "tumble", "width": "1 hour", "size": "1 hour"}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "window": {"type": "hop", "width": "1 hour", "slide": "2 hours"}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "window": {"type": "hop", "width": "1 hour"}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "window": {"type": "session", "width": "1 hour", "gap": "5 minutes"}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "window": {"type": "session", "gap": "5 minutes", "keys": ["nope"]}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"event_time": "Event Time", "window": {"type": "tumble", "width": "1 hour", "origin": "soon"}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"mode": "complete"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"trigger": "sometimes"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"trigger": "-1 second"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"max_batch_rows": 0}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"max_batch_rows": 1.5}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"max_batch_rows": "100"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"start_from": "beginning"}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"late_rows": ""}');
CREATE TABLE se_bad_late (x int);
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"late_rows": "se_bad_late"}');

-- errors: expectations; a check is one boolean expression, nothing else
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": {"name": "x"}}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"check": "true"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "true", "action": "drop"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "true", "on_violation": "quarantine"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "true"}, {"name": "x", "check": "false"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "  "}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "true); DROP TABLE se_view; --"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "true) FROM pg_class WHERE (true"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "true) UNION SELECT (false"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "true), (false"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "true --"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "temperature + 1"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "nope > 1"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "count(*) > 0"}]}');
SELECT streamext.create_pipeline('e', '"Bronze ""Events"""', '"Silver Out"', NULL, '{"expectations": [{"name": "x", "check": "_streamext_xid IS NOT NULL"}]}');
-- nothing of the refused calls is left, and se_view survived
SELECT count(*) AS pipelines FROM streamext.pipelines;
SELECT count(*) AS se_view_rows FROM se_view;
-- a valid check may use the source's columns, "batch", functions and subqueries
SELECT streamext.create_pipeline('checks', '"Bronze ""Events"""', '"Silver Out"', NULL,
  '{"trigger": "manual", "expectations": [{"name": "x", "check": "batch.note <> ''z'' AND length(device_id) < (SELECT 10)", "on_violation": "fail"}]}');

-- a tracking column of another type is refused
CREATE TABLE se_badxid (a int, _streamext_xid bigint);
CREATE TABLE se_badxid_out (a int);
SELECT streamext.create_pipeline('e', 'se_badxid', 'se_badxid_out');

-- alter: options merged (null removes one), generation + 1, re-validated;
-- what the state was built for cannot change
SELECT streamext.alter_pipeline('silver "1"', '{"trigger": "5 seconds", "max_batch_rows": 1000}');
SELECT generation, options -> 'trigger' AS trigger, options -> 'max_batch_rows' AS max_batch_rows
  FROM streamext.pipelines WHERE name = 'silver "1"';
SELECT streamext.alter_pipeline('silver "1"', '{"trigger": "manual", "max_batch_rows": null}');
SELECT generation, options -> 'trigger' AS trigger, options ? 'max_batch_rows' AS has_max_batch_rows
  FROM streamext.pipelines WHERE name = 'silver "1"';
SELECT streamext.alter_pipeline('silver "1"', '{"watermark": "soon"}');
SELECT streamext.alter_pipeline('silver "1"', '{"expectations": [{"name": "x", "check": "1; SELECT 1"}]}');
SELECT streamext.alter_pipeline('silver "1"', '{"dedup_keys": ["device_id"]}');
SELECT streamext.alter_pipeline('silver "1"', '{"window": {"type": "tumble", "width": "1 hour"}}');
SELECT streamext.alter_pipeline('silver "1"', NULL);
SELECT streamext.alter_pipeline('silver "1"', '{"late_rows": "\"Late Rows 2\""}');
SELECT options -> 'late_rows' AS late_rows, to_regclass('"se pl"."Late Rows 2"') IS NOT NULL AS created
  FROM streamext.pipelines WHERE name = 'silver "1"';
SELECT generation FROM streamext.pipelines WHERE name = 'silver "1"';

-- pause and resume: resume clears the error and restarts (generation + 1)
SELECT streamext.pause_pipeline('silver "1"');
SELECT state, generation FROM streamext.pipelines WHERE name = 'silver "1"';
UPDATE streamext.pipelines SET state = 'error', last_error = 'expectation "x" failed' WHERE name = 'silver "1"';
SELECT pipeline, state, last_error FROM streamext.pipeline_status WHERE pipeline = 'silver "1"';
SELECT streamext.resume_pipeline('silver "1"');
SELECT state, generation, last_error FROM streamext.pipelines WHERE name = 'silver "1"';

-- reset: the target emptied with DELETE, this pipeline's late rows gone,
-- progress back to the start of the source, counters zero, generation + 1
INSERT INTO "Silver Out" VALUES ('d1', '2024-01-01 10:00+00', 20, 'a');
INSERT INTO "Late Rows 2" VALUES ('d0', '2024-01-01 09:00+00', 1, 'x', 'silver "1"', 1, '2024-01-01 10:00+00'),
                                 ('d0', '2024-01-01 09:00+00', 1, 'x', 'other', 1, '2024-01-01 10:00+00');
UPDATE streamext.pipeline_progress SET snapshot = pg_current_snapshot(), watermark = now(), batches = 3, rows_in = 7,
       expectation_counts = '{"x": 1}', last_batch_at = now()
 WHERE pipeline_id = (SELECT id FROM streamext.pipelines WHERE name = 'silver "1"');
INSERT INTO streamext.pipeline_batches (pipeline, pipeline_id, batch, started_at, committed_at)
  SELECT name, id, 1, now(), now() FROM streamext.pipelines WHERE name = 'silver "1"';
UPDATE streamext.pipelines SET state = 'finished' WHERE name = 'silver "1"';
SELECT streamext.reset_pipeline('silver "1"');
SELECT count(*) AS target_rows FROM "Silver Out";
SELECT _pipeline FROM "Late Rows 2";
SELECT snapshot, watermark, batches, rows_in, expectation_counts, last_batch_at
  FROM streamext.pipeline_progress WHERE pipeline_id = (SELECT id FROM streamext.pipelines WHERE name = 'silver "1"');
SELECT count(*) AS batches_logged FROM streamext.pipeline_batches;
SELECT state, generation FROM streamext.pipelines WHERE name = 'silver "1"';

-- a table a pipeline uses cannot be dropped while the pipeline exists
DROP TABLE "Bronze ""Events""" CASCADE;
DROP TABLE "Silver Out";
DROP TABLE "Late Rows 2";
DROP SCHEMA "se pl" CASCADE;

-- versioned_columnar: no tracking column; progress by version; reset of a
-- versioned target keeps its history
CREATE TABLE se_gold_src (k int, v int) USING versioned_columnar;
INSERT INTO se_gold_src VALUES (1, 1);
INSERT INTO se_gold_src VALUES (2, 2);
CREATE TABLE se_gold (k int, v int) USING versioned_columnar;
SELECT streamext.create_pipeline('gold earliest', 'se_gold_src', 'se_gold', NULL, '{"trigger": "manual"}');
CREATE TABLE se_gold2 (k int, v int);
SELECT streamext.create_pipeline('gold latest', 'se_gold_src', 'se_gold2', NULL, '{"trigger": "manual", "start_from": "latest"}');
SELECT attname FROM pg_attribute WHERE attrelid = 'se_gold_src'::regclass AND attname = '_streamext_xid';
SELECT p.name, g.snapshot, g.version, s.lag
  FROM streamext.pipelines p JOIN streamext.pipeline_progress g ON g.pipeline_id = p.id
  JOIN streamext.pipeline_status s ON s.pipeline = p.name
 WHERE p.name LIKE 'gold%' ORDER BY 1;
SELECT streamext.run_pipeline('gold earliest');
INSERT INTO se_gold VALUES (3, 30);
SELECT version, version_committed_at IS NOT NULL AS has_commit_time FROM streamext.pipeline_progress
 WHERE pipeline_id = (SELECT id FROM streamext.pipelines WHERE name = 'gold earliest');
SELECT max(version) AS before_reset FROM streamext.history('se_gold') \gset
SELECT streamext.reset_pipeline('gold earliest');
SELECT version, version_committed_at FROM streamext.pipeline_progress
 WHERE pipeline_id = (SELECT id FROM streamext.pipelines WHERE name = 'gold earliest');
SELECT count(*) AS rows_now FROM se_gold;
SELECT count(*) AS rows_before_reset FROM streamext.as_of(NULL::se_gold, :before_reset);

-- a partitioned source: the column and its index reach every partition
CREATE TABLE se_part (ts timestamptz, v int) PARTITION BY RANGE (ts);
CREATE TABLE se_part_1 PARTITION OF se_part FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
INSERT INTO se_part VALUES ('2024-01-05', 1);
CREATE TEMP TABLE part_before AS SELECT relfilenode FROM pg_class WHERE oid = 'se_part_1'::regclass;
CREATE TABLE se_part_out (ts timestamptz, v int);
SELECT streamext.create_pipeline('part', 'se_part', 'se_part_out', NULL, '{"trigger": "manual", "event_time": "ts"}');
SELECT c.relfilenode = b.relfilenode AS no_rewrite FROM pg_class c, part_before b WHERE c.oid = 'se_part_1'::regclass;
CREATE TABLE se_part_2 PARTITION OF se_part FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
SELECT c.relname, pg_get_expr(d.adbin, d.adrelid) AS default_expr,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid) AS indexed
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '_streamext_xid'
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relname LIKE 'se_part%' AND c.relkind IN ('r', 'p') ORDER BY 1;
-- dropping a partition is retention, not a drop of the source
DROP TABLE se_part_2;

-- a pipeline whose options no longer fit its source (a column was dropped)
-- says so, and can still be paused and dropped
CREATE TABLE se_broken (ts timestamptz, v int);
CREATE TABLE se_broken_out (v int);
SELECT streamext.create_pipeline('broken', 'se_broken', 'se_broken_out', 'SELECT v FROM batch',
  '{"trigger": "manual", "event_time": "ts"}');
ALTER TABLE se_broken DROP COLUMN ts;
SELECT streamext.reset_pipeline('broken');
SELECT streamext.pause_pipeline('broken');
SELECT streamext.drop_pipeline('broken');

-- drop_pipeline forgets the pipeline, its progress and its log; the tables stay
SELECT streamext.drop_pipeline(name) FROM streamext.pipelines ORDER BY name;
SELECT (SELECT count(*) FROM streamext.pipelines) AS pipelines,
       (SELECT count(*) FROM streamext.pipeline_progress) AS progress,
       (SELECT count(*) FROM streamext.pipeline_batches) AS batches;
DROP SCHEMA "se pl" CASCADE;
RESET search_path;
RESET client_min_messages;
