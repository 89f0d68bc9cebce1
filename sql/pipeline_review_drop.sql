-- Review of pipelines: the guard against dropping a table a pipeline uses
-- must not let a role with only SELECT on another role's table (or INSERT,
-- for a target) keep the table's owner from dropping it: the owner cannot
-- drop the other role's pipeline either.  The guard protects the dropping
-- role's own pipelines; the other role's pipeline fails at its next batch.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE ROLE regress_plrd_alice LOGIN;
CREATE ROLE regress_plrd_bob LOGIN;
CREATE SCHEMA se_plrd;
GRANT USAGE, CREATE ON SCHEMA se_plrd TO regress_plrd_alice, regress_plrd_bob;
SET search_path = se_plrd;

SET ROLE regress_plrd_bob;
CREATE TABLE bob_src (id int);
CREATE TABLE bob_tgt (id int);
CREATE TABLE bob_other (id int);
-- bob's own pipeline adds the tracking column
SELECT streamext.create_pipeline('plrd_bob', 'bob_src', 'bob_tgt', NULL, '{"trigger": "manual"}');
GRANT SELECT ON bob_src, bob_other TO regress_plrd_alice;
GRANT INSERT ON bob_tgt TO regress_plrd_alice;
INSERT INTO bob_src VALUES (1);
RESET ROLE;

SET ROLE regress_plrd_alice;
CREATE TABLE alice_tgt (id int);
CREATE TABLE alice_src (id int);
INSERT INTO alice_src VALUES (1);
SELECT streamext.create_pipeline('plrd_reads_bob', 'bob_src', 'alice_tgt', NULL, '{"trigger": "manual"}');
SELECT streamext.create_pipeline('plrd_writes_bob', 'alice_src', 'bob_tgt', NULL, '{"trigger": "manual"}');
SELECT streamext.run_pipeline('plrd_reads_bob');
RESET ROLE;

SET ROLE regress_plrd_bob;
-- bob's own pipeline still protects his tables
DROP TABLE bob_src;
SELECT streamext.drop_pipeline('plrd_bob');
-- alice's pipelines do not: bob drops what he owns
DROP TABLE bob_src;
DROP TABLE bob_tgt;
RESET ROLE;

-- alice's pipelines now fail, naming what is missing
SET ROLE regress_plrd_alice;
SELECT streamext.run_pipeline('plrd_reads_bob');
SELECT streamext.run_pipeline('plrd_writes_bob');
-- which she can still drop
SELECT streamext.drop_pipeline('plrd_writes_bob');
SELECT name FROM streamext.pipelines ORDER BY name;
-- and she still cannot drop bob's remaining table, nor her own used one
CREATE TABLE alice_tgt2 (id int);
SELECT streamext.create_pipeline('plrd_alice2', 'alice_src', 'alice_tgt2', NULL, '{"trigger": "manual"}');
DROP TABLE alice_tgt2;
RESET ROLE;
-- a superuser is stopped by every role's pipeline
DROP TABLE se_plrd.alice_src;

SELECT streamext.drop_pipeline(name) FROM streamext.pipelines WHERE name LIKE 'plrd\_%' ORDER BY name;
DROP SCHEMA se_plrd CASCADE;
DROP ROLE regress_plrd_alice;
DROP ROLE regress_plrd_bob;
