-- Review of pipelines: retention asks streamext._tp_unprocessed_by(table)
-- whether a pipeline still has to read rows of a table.  It must see the
-- pipelines of every role (past row-level security), but the table's rows
-- must not be scanned with a superuser's rights.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE ROLE regress_plr_alice LOGIN;
CREATE SCHEMA se_plr;
GRANT USAGE, CREATE ON SCHEMA se_plr TO regress_plr_alice;
SET search_path = se_plr;
CREATE TABLE r_who (who text, super boolean);
GRANT INSERT, SELECT, DELETE ON r_who TO PUBLIC;
-- A plain tracking column: rows not read yet are reported, as the table's
-- owner reads them, also for another role's pipeline
SET ROLE regress_plr_alice;
CREATE TABLE r_ok_src (id int);
CREATE TABLE r_ok_tgt (id int);
SELECT streamext.create_pipeline('plr_ok', 'r_ok_src', 'r_ok_tgt', NULL, '{"trigger": "manual"}');
INSERT INTO r_ok_src VALUES (1);
SELECT streamext._tp_unprocessed_by('r_ok_src') AS unprocessed_by;
SELECT streamext.run_pipeline('plr_ok');
SELECT streamext._tp_unprocessed_by('r_ok_src') AS unprocessed_by;
RESET ROLE;
CREATE TABLE r_ok_su (id int);
SELECT streamext.create_pipeline('plr_ok_su', 'r_ok_src', 'r_ok_su', NULL, '{"trigger": "manual"}');
SET ROLE regress_plr_alice;
-- alice cannot see the superuser's pipeline, but retention must wait for it
SELECT count(*) AS pipelines_alice_sees FROM streamext.pipelines WHERE name = 'plr_ok_su';
SELECT streamext._tp_unprocessed_by('r_ok_src') AS unprocessed_by;
RESET ROLE;
SELECT streamext.run_pipeline('plr_ok_su');
SELECT streamext._tp_unprocessed_by('r_ok_src') AS unprocessed_by;

-- a role with SELECT on alice's table holds her retention back with a
-- pipeline it never runs; alice ends that by revoking the privilege
CREATE ROLE regress_plr_bob LOGIN;
GRANT USAGE, CREATE ON SCHEMA se_plr TO regress_plr_bob;
GRANT SELECT ON r_ok_src TO regress_plr_bob;
SET ROLE regress_plr_bob;
CREATE TABLE r_bob_tgt (id int);
SELECT streamext.create_pipeline('plr_bob', 'r_ok_src', 'r_bob_tgt', NULL, '{"trigger": "manual"}');
RESET ROLE;
SET ROLE regress_plr_alice;
SELECT streamext._tp_unprocessed_by('r_ok_src') AS unprocessed_by;
REVOKE SELECT ON r_ok_src FROM regress_plr_bob;
SELECT streamext._tp_unprocessed_by('r_ok_src') AS unprocessed_by;
RESET ROLE;

-- The owner of the table could have turned the tracking column
-- into a type of hers with an implicit cast to xid8, whose function would run
-- in that scan.  Any role may call it (maintain_partitions does).
SET ROLE regress_plr_alice;
CREATE TABLE r_cast_src (id int);
CREATE TABLE r_cast_tgt (id int);
SELECT streamext.create_pipeline('plr_cast', 'r_cast_src', 'r_cast_tgt', NULL, '{"trigger": "manual"}');
INSERT INTO r_cast_src VALUES (1);
CREATE TYPE r_myxid AS (x xid8);
CREATE FUNCTION r_myxid_to_xid8(r_myxid) RETURNS xid8 LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO se_plr.r_who SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
	RETURN $1.x;
END $$;
CREATE CAST (r_myxid AS xid8) WITH FUNCTION r_myxid_to_xid8(r_myxid) AS IMPLICIT;
DROP INDEX r_cast_src__streamext_xid_idx;
ALTER TABLE r_cast_src ALTER COLUMN _streamext_xid DROP DEFAULT;
ALTER TABLE r_cast_src ALTER COLUMN _streamext_xid TYPE r_myxid USING ROW(_streamext_xid)::r_myxid;
DELETE FROM r_who;
-- a column that is not xid8 tells nothing: the rows are kept
SELECT streamext._tp_unprocessed_by('r_cast_src') AS unprocessed_by;
-- and alice's function never ran as a superuser
SELECT who, super FROM r_who;
RESET ROLE;
SELECT streamext._tp_unprocessed_by('se_plr.r_cast_src') AS unprocessed_by;
SELECT count(*) AS superuser_runs FROM se_plr.r_who WHERE super;

-- cleanup
SELECT streamext.drop_pipeline(name) FROM streamext.pipelines WHERE name LIKE 'plr\_%' ORDER BY name;
DROP SCHEMA se_plr CASCADE;
DROP ROLE regress_plr_alice;
DROP ROLE regress_plr_bob;
