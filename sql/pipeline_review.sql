-- Review of pipelines: a superuser (or a member of the owner role) who runs
-- another role's pipeline with run_pipeline runs the owner's code (the
-- query, the checks, the triggers of the target) in the superuser's session.
-- That code runs as the owner, and it must not leave anything behind that
-- would later run with the superuser's rights: no deferred trigger firing at
-- the superuser's COMMIT, no session setting (search_path) changed for the
-- rest of the session, no temporary table shadowing the superuser's tables.
-- Every pipeline here has trigger 'manual', so no worker runs it meanwhile.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE ROLE regress_plr_alice LOGIN;
CREATE SCHEMA se_plr;
GRANT USAGE, CREATE ON SCHEMA se_plr TO regress_plr_alice;
SET search_path = se_plr;

SET ROLE regress_plr_alice;
CREATE TABLE r_src (id int);
INSERT INTO r_src VALUES (1), (2);
-- who ran the trigger of the target
CREATE TABLE r_who (who text, super boolean);
CREATE FUNCTION r_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO se_plr.r_who SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
	RETURN NULL;
END $$;

-- 1. a deferred trigger on the target would fire at the caller's COMMIT, as the caller
CREATE TABLE r_tgt_deferred (id int);
CREATE CONSTRAINT TRIGGER r_deferred AFTER INSERT ON r_tgt_deferred
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION r_note();
SELECT streamext.create_pipeline('plr_deferred', 'r_src', 'r_tgt_deferred', NULL, '{"trigger": "manual"}');

-- 2. a query calling a function that changes the session's search_path for good
CREATE FUNCTION r_path(int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('search_path', 'se_plr_trap, pg_catalog', false);
	RETURN $1;
END $$;
CREATE TABLE r_tgt_path (id int);
SELECT streamext.create_pipeline('plr_path', 'r_src', 'r_tgt_path',
	'SELECT se_plr.r_path(id) AS id FROM batch', '{"trigger": "manual"}');

-- 3. a check creating a temporary view, which would shadow the caller's tables
CREATE FUNCTION r_shadow(int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'CREATE OR REPLACE TEMP VIEW r_secret AS SELECT ''alice''::text AS owner';
	RETURN true;
END $$;
CREATE TABLE r_tgt_shadow (id int);
SELECT streamext.create_pipeline('plr_shadow', 'r_src', 'r_tgt_shadow', NULL,
	'{"trigger": "manual", "expectations": [{"name": "x", "check": "se_plr.r_shadow(id)"}]}');
RESET ROLE;

-- the superuser runs them: the owner's code runs as the owner, inside a
-- security-restricted operation, so what it would leave behind is refused
CREATE TABLE r_secret (owner text);
INSERT INTO r_secret VALUES ('superuser');
BEGIN;
SELECT streamext.run_pipeline('plr_deferred');
COMMIT;
SELECT who, super FROM r_who;
SELECT count(*) AS rows_written FROM r_tgt_deferred;

SELECT streamext.run_pipeline('plr_path');
SELECT current_setting('search_path') AS search_path_after_run;
SELECT count(*) AS rows_written FROM r_tgt_path;

SELECT streamext.run_pipeline('plr_shadow');
SELECT owner FROM r_secret;
SELECT count(*) AS rows_written FROM r_tgt_shadow;

-- the owner runs them in her own session: nothing is restricted
SET ROLE regress_plr_alice;
SELECT streamext.run_pipeline('plr_deferred');
SELECT who, super FROM r_who;
SELECT streamext.run_pipeline('plr_shadow');
SELECT count(*) AS rows_written FROM r_tgt_shadow;
RESET ROLE;
DISCARD TEMP;

-- reset_pipeline by the superuser empties alice's target as alice: the
-- target's DELETE triggers are alice's code
SET ROLE regress_plr_alice;
CREATE TRIGGER r_del AFTER DELETE ON r_tgt_path FOR EACH ROW EXECUTE FUNCTION r_note();
DELETE FROM r_who;
RESET ROLE;
SELECT streamext.reset_pipeline('plr_path');
SELECT who, super FROM r_who;
SELECT count(*) AS rows_left FROM r_tgt_path;
SELECT current_setting('search_path') AS search_path_after_reset;

-- cleanup
SELECT streamext.drop_pipeline(name) FROM streamext.pipelines WHERE name LIKE 'plr\_%' ORDER BY name;
DROP SCHEMA se_plr CASCADE;
DROP ROLE regress_plr_alice;
