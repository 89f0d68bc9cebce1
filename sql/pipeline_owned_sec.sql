-- Security review of the DROP ROLE / REASSIGN OWNED / DROP OWNED hook
-- (src/common/owned.c) and of the restore detection of the pipelines trigger.
-- DROP ROLE names the pipelines, sources and alerts of the role only to a
-- role PostgreSQL lets go that far (CREATEROLE; superuser for a superuser):
-- row-level security hides them from everyone else.
\set SHOW_CONTEXT never
\set VERBOSITY default
SET client_min_messages = error;
CREATE ROLE regress_posec_a LOGIN;
CREATE ROLE regress_posec_su LOGIN SUPERUSER;
CREATE ROLE regress_posec_nobody;
CREATE ROLE regress_posec_cr CREATEROLE;
CREATE SCHEMA se_posec;
GRANT USAGE, CREATE ON SCHEMA se_posec TO regress_posec_a, regress_posec_nobody;
SET search_path = se_posec;

SET ROLE regress_posec_a;
CREATE TABLE a_src (k int);
CREATE TABLE a_tgt (k int);
SELECT streamext.create_pipeline('posec_hidden_a', 'a_src', 'a_tgt', NULL, '{"trigger": "manual"}');
RESET ROLE;
SET ROLE regress_posec_su;
CREATE TABLE su_src (k int);
CREATE TABLE su_tgt (k int);
SELECT streamext.create_pipeline('posec_hidden_su', 'su_src', 'su_tgt', NULL, '{"trigger": "manual"}');
RESET ROLE;

-- a role without CREATEROLE sees no other role's pipeline, and DROP ROLE
-- must not name it either: PostgreSQL's own refusal comes first
SET ROLE regress_posec_nobody;
SELECT count(*) FROM streamext.pipelines;
DROP ROLE regress_posec_a;
DROP ROLE IF EXISTS regress_posec_a;
-- a CREATEROLE role may not drop a superuser: no names of the superuser's
RESET ROLE;
SET ROLE regress_posec_cr;
DROP ROLE regress_posec_su;
RESET ROLE;

-- REASSIGN OWNED and DROP OWNED of a role whose privileges the caller does
-- not have: PostgreSQL refuses, nothing of the role's changes
SET ROLE regress_posec_nobody;
REASSIGN OWNED BY regress_posec_a TO regress_posec_nobody;
DROP OWNED BY regress_posec_a;
SET ROLE regress_posec_cr;
REASSIGN OWNED BY regress_posec_a TO regress_posec_cr;
DROP OWNED BY regress_posec_a;
RESET ROLE;
SELECT name, owner FROM streamext.pipelines WHERE name LIKE 'posec%' ORDER BY name;

-- check_function_bodies = off marks a superuser's restore only: another
-- role setting it still gets the privilege checks
CREATE TABLE se_posec.secret (k int);
CREATE TABLE se_posec.nobody_tgt (k int);
ALTER TABLE se_posec.nobody_tgt OWNER TO regress_posec_nobody;
ALTER ROLE regress_posec_nobody LOGIN;
SET ROLE regress_posec_nobody;
SET check_function_bodies = off;
SELECT streamext.create_pipeline('posec_steal', 'secret', 'nobody_tgt', NULL, '{"trigger": "manual"}');
INSERT INTO streamext.pipelines (name, source, target, search_path)
  VALUES ('posec_steal', 'se_posec.secret', 'se_posec.nobody_tgt', 'se_posec');
RESET check_function_bodies;
RESET ROLE;
SELECT count(*) FROM streamext.pipelines WHERE name = 'posec_steal';

-- cleanup
SELECT streamext.drop_pipeline('posec_hidden_a');
SELECT streamext.drop_pipeline('posec_hidden_su');
DROP SCHEMA se_posec CASCADE;
DROP ROLE regress_posec_a, regress_posec_su, regress_posec_nobody, regress_posec_cr;
