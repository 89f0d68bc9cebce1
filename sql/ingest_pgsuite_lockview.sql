-- LOCK TABLE of a view by a role that is not a superuser, in a mode above ROW
-- EXCLUSIVE (found by make check-pgsuite: PostgreSQL's lock test).  The extension's
-- lock guard follows views to the tables they read; a view's query names the view
-- itself (its OLD and NEW entries), and the guard followed those again and again,
-- growing until the backend ran out of memory.  Each view is now followed once.
CREATE ROLE regress_plv_role;
CREATE SCHEMA regress_plv AUTHORIZATION regress_plv_role;
SET ROLE regress_plv_role;
CREATE TABLE regress_plv.t (a int);
CREATE VIEW regress_plv.v1 AS SELECT * FROM regress_plv.t;
CREATE VIEW regress_plv.v2 AS SELECT x.a FROM regress_plv.v1 x, regress_plv.v1 y;
CREATE VIEW regress_plv.v3 AS
	SELECT a FROM regress_plv.v2 WHERE a IN (SELECT a FROM regress_plv.v1);
BEGIN;
LOCK TABLE regress_plv.v1 IN ACCESS EXCLUSIVE MODE;
LOCK TABLE regress_plv.v3 IN EXCLUSIVE MODE;
SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = pg_backend_pid() AND c.relnamespace = 'regress_plv'::regnamespace
  AND l.mode IN ('AccessExclusiveLock', 'ExclusiveLock')
ORDER BY 1, 2;
ROLLBACK;
-- the guard still finds the extension's tables behind views
CREATE VIEW regress_plv.vs AS SELECT v1.a FROM regress_plv.v1, streamext.sources;
BEGIN;
LOCK TABLE regress_plv.vs IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
RESET ROLE;
DROP SCHEMA regress_plv CASCADE;
DROP ROLE regress_plv_role;
