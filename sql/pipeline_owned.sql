-- A role that owns pipelines, sources or alerts (rows of the extension's
-- catalogs, not objects PostgreSQL tracks) cannot be dropped, as for a role
-- that owns tables: DROP ROLE names them.  REASSIGN OWNED gives them (with
-- the role's tables and the pipelines' state tables) to the new role, which
-- only superusers may do; DROP OWNED drops them with the role's tables.
\set SHOW_CONTEXT never
SET client_min_messages = error;
SET timezone = 'UTC';
CREATE ROLE regress_pown_a LOGIN;
CREATE ROLE regress_pown_b LOGIN;
CREATE ROLE regress_pown_admin CREATEROLE;
GRANT regress_pown_a, regress_pown_b TO regress_pown_admin;
CREATE SCHEMA se_pown;
GRANT USAGE, CREATE ON SCHEMA se_pown TO regress_pown_a, regress_pown_b;
SET search_path = se_pown;

SET ROLE regress_pown_a;
CREATE TABLE bronze (k int, et timestamptz);
CREATE TABLE silver (k int, et timestamptz);
CREATE TABLE bronze_k (k int);
SELECT streamext.create_pipeline('pown_silver', 'bronze', 'silver', NULL,
  '{"trigger": "manual", "event_time": "et", "watermark": "1 minute", "dedup_keys": ["k"]}');
SELECT streamext.create_source('pown_k', '127.0.0.1:1', 't', 'bronze_k');
SELECT streamext.pause_source('pown_k');
SELECT streamext.create_alert('pown_alert', 'SELECT k FROM silver WHERE k < 0');
INSERT INTO bronze VALUES (1, '2026-01-01 00:00'), (1, '2026-01-01 00:00:10');
SELECT streamext.run_pipeline('pown_silver');   -- makes the dedup state table
RESET ROLE;

-- refused, naming what it owns (a superuser and a CREATEROLE role alike:
-- row-level security does not hide them)
DROP ROLE regress_pown_a;
SET ROLE regress_pown_admin;
DROP ROLE regress_pown_a;
DROP ROLE IF EXISTS regress_pown_a, regress_pown_nobody;
-- REASSIGN OWNED changes the owner of a pipeline, which only superusers may do
REASSIGN OWNED BY regress_pown_a TO regress_pown_b;
RESET ROLE;
SELECT name, owner FROM streamext.pipelines WHERE name = 'pown_silver';

-- a superuser's REASSIGN OWNED: everything goes to regress_pown_b
REASSIGN OWNED BY regress_pown_a TO regress_pown_b;
SELECT 'pipeline' AS kind, name, owner FROM streamext.pipelines WHERE name LIKE 'pown%'
UNION ALL SELECT 'source', name, owner FROM streamext.sources WHERE name LIKE 'pown%'
UNION ALL SELECT 'alert', name, owner FROM streamext.alerts WHERE name LIKE 'pown%'
ORDER BY 1;
SELECT CASE WHEN c.relnamespace = 'se_pown'::regnamespace THEN c.relname ELSE 'its dedup state' END AS relname,
    pg_get_userbyid(c.relowner) AS owner FROM pg_class c
  WHERE c.relnamespace = 'se_pown'::regnamespace
     OR c.oid = ('streamext.pipeline_' || (SELECT id FROM streamext.pipelines WHERE name = 'pown_silver') || '_dedup')::regclass
  ORDER BY c.relkind, 1;
REVOKE ALL ON SCHEMA se_pown FROM regress_pown_a;
DROP ROLE regress_pown_a;
-- the pipeline goes on as its new owner, with its dedup state
SET ROLE regress_pown_b;
INSERT INTO bronze VALUES (1, '2026-01-01 00:00:20'), (2, '2026-01-01 00:00:30');
SELECT streamext.run_pipeline('pown_silver');
SELECT * FROM silver ORDER BY k, et;
RESET ROLE;

-- PostgreSQL reports a missing role, as without the extension
DROP OWNED BY regress_pown_nobody;
REASSIGN OWNED BY regress_pown_b TO regress_pown_nobody;
-- refused again for the new owner; DROP OWNED drops the pipeline, the source
-- and the alert, then the tables (which the pipeline used)
DROP ROLE regress_pown_b;
SET ROLE regress_pown_admin;
DROP OWNED BY regress_pown_b;
RESET ROLE;
SELECT count(*) AS left_behind FROM (SELECT name FROM streamext.pipelines WHERE name LIKE 'pown%'
  UNION ALL SELECT name FROM streamext.sources WHERE name LIKE 'pown%'
  UNION ALL SELECT name FROM streamext.alerts WHERE name LIKE 'pown%') x;
SELECT count(*) AS tables_left FROM pg_class WHERE relnamespace = 'se_pown'::regnamespace;
SELECT count(*) AS state_tables_left FROM pg_class
  WHERE relnamespace = 'streamext'::regnamespace AND relname LIKE 'pipeline\_%' AND relowner = 'regress_pown_b'::regrole;
-- (DROP OWNED by a non-superuser leaves the superuser's grant on the schema)
DROP SCHEMA se_pown;
DROP ROLE regress_pown_b;
DROP ROLE regress_pown_admin;
