-- Pipeline privileges: SELECT on the source and INSERT on the target (UPDATE
-- and DELETE too in update mode) to create; only the source's owner adds the
-- tracking column; a role sees and changes only its own pipelines.
-- Every pipeline here has trigger 'manual', so no worker runs it meanwhile.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE ROLE regress_pl_alice LOGIN;
CREATE ROLE regress_pl_bob LOGIN;
CREATE ROLE regress_pl_nologin NOLOGIN;
CREATE SCHEMA se_pls;
GRANT USAGE, CREATE ON SCHEMA se_pls TO regress_pl_alice, regress_pl_bob;
SET search_path = se_pls;

SET ROLE regress_pl_alice;
CREATE TABLE a_src (id int, ts timestamptz);
INSERT INTO a_src VALUES (1, '2024-01-01');
CREATE TABLE a_tgt (id int, ts timestamptz);
CREATE TABLE a_late (id int, ts timestamptz, _pipeline text, _batch bigint, _watermark timestamptz);
RESET ROLE;
SET ROLE regress_pl_bob;
CREATE TABLE b_tgt (id int, ts timestamptz);

-- no SELECT on the source
SELECT streamext.create_pipeline('bob1', 'a_src', 'b_tgt', NULL, '{"trigger": "manual"}');
RESET ROLE;
GRANT SELECT ON se_pls.a_src TO regress_pl_bob;
SET ROLE regress_pl_bob;
-- SELECT, but the source lacks the tracking column and bob does not own it:
-- the hint has the statements its owner runs
SELECT streamext.create_pipeline('bob1', 'a_src', 'b_tgt', NULL, '{"trigger": "manual"}');
SELECT attname FROM pg_attribute WHERE attrelid = 'a_src'::regclass AND attname = '_streamext_xid';
RESET ROLE;

-- the owner's pipeline adds it; then bob's works too
SET ROLE regress_pl_alice;
SELECT streamext.create_pipeline('alice1', 'a_src', 'a_tgt', NULL, '{"trigger": "manual"}');
RESET ROLE;
SET ROLE regress_pl_bob;
SELECT streamext.create_pipeline('bob1', 'a_src', 'b_tgt', NULL, '{"trigger": "manual"}');
-- no INSERT on the target
SELECT streamext.create_pipeline('bob2', 'a_src', 'a_tgt', NULL, '{"trigger": "manual"}');
RESET ROLE;
GRANT INSERT ON se_pls.a_tgt TO regress_pl_bob;
SET ROLE regress_pl_bob;
-- INSERT is enough in append mode, not in update mode
SELECT streamext.create_pipeline('bob2', 'a_src', 'a_tgt', NULL, '{"trigger": "manual", "mode": "update"}');
-- late_rows: a table bob may not insert into
SELECT streamext.create_pipeline('bob3', 'a_src', 'b_tgt', NULL, '{"trigger": "manual", "late_rows": "a_late"}');

-- bob sees only his own pipelines, everywhere
SELECT name FROM streamext.pipelines ORDER BY 1;
SELECT pipeline FROM streamext.pipeline_status ORDER BY 1;
SELECT count(*) AS progress_rows FROM streamext.pipeline_progress;
-- and cannot change alice's, through the functions or directly
SELECT streamext.alter_pipeline('alice1', '{"trigger": "1 second"}');
SELECT streamext.pause_pipeline('alice1');
SELECT streamext.resume_pipeline('alice1');
SELECT streamext.reset_pipeline('alice1');
SELECT streamext.drop_pipeline('alice1');
UPDATE streamext.pipelines SET state = 'paused' WHERE name = 'alice1';
DELETE FROM streamext.pipelines WHERE name = 'alice1';
UPDATE streamext.pipeline_progress SET batches = 99;
-- nor create one as alice, nor one that runs as a role that cannot log in,
-- nor give his own away, nor take her name
INSERT INTO streamext.pipelines (name, owner, source, target, search_path)
  VALUES ('bob4', 'regress_pl_alice', 'a_src', 'b_tgt', 'se_pls');
UPDATE streamext.pipelines SET owner = 'regress_pl_alice' WHERE name = 'bob1';
SELECT streamext.create_pipeline('alice1', 'a_src', 'b_tgt', NULL, '{"trigger": "manual"}');
-- direct DML obeys the same checks as the functions
INSERT INTO streamext.pipelines (name, source, target, search_path, options)
  VALUES ('bob5', 'a_src', 'b_tgt', 'se_pls', '{"expectations": [{"name": "x", "check": "true); DROP TABLE b_tgt; --"}]}');
INSERT INTO streamext.pipelines (name, source, target, search_path, options)
  VALUES ('bob5', 'a_src', 'b_tgt', 'se_pls', '{"late_rows": "se_pls.b_late_missing"}');
INSERT INTO streamext.pipelines (name, source, target, search_path)
  VALUES ('bob5', 'a_src', 'a_src', 'se_pls');
UPDATE streamext.pipelines SET options = '{"trigger": "often"}' WHERE name = 'bob1';
UPDATE streamext.pipelines SET target = 'a_tgt' WHERE name = 'bob1';
RESET ROLE;
SET ROLE regress_pl_alice;
-- alice's pipeline is untouched
SELECT name, state, generation FROM streamext.pipelines ORDER BY 1;
SELECT batches FROM streamext.pipeline_progress;
RESET ROLE;

SELECT streamext.create_pipeline('nologin', 'se_pls.a_src', 'se_pls.a_tgt', NULL, '{"trigger": "manual"}');
UPDATE streamext.pipelines SET owner = 'regress_pl_nologin' WHERE name = 'nologin';
SELECT streamext.drop_pipeline('nologin');
INSERT INTO streamext.pipelines (name, owner, source, target, search_path)
  VALUES ('nologin', 'regress_pl_nologin', 'se_pls.a_src', 'se_pls.a_tgt', 'se_pls');

-- a superuser sees every pipeline and may drop any
SELECT name, owner FROM streamext.pipelines ORDER BY 1;
SELECT streamext.drop_pipeline(name) FROM streamext.pipelines ORDER BY name;
DROP SCHEMA se_pls CASCADE;
DROP ROLE regress_pl_alice, regress_pl_bob, regress_pl_nologin;
RESET search_path;
RESET client_min_messages;
