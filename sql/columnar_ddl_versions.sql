-- versioned_columnar: what TRUNCATE, savepoints and rewrites record in the history
CREATE TABLE ddlv (a int) USING versioned_columnar;
-- a transaction that truncates an empty table and loads it is a WRITE (pg_restore -j does this)
BEGIN;
TRUNCATE ONLY ddlv;
COPY ddlv FROM stdin;
1
2
\.
COMMIT;
-- truncating committed rows and loading new ones is a TRUNCATE
BEGIN;
TRUNCATE ONLY ddlv;
COPY ddlv FROM stdin;
3
\.
COMMIT;
TRUNCATE ddlv;
-- a TRUNCATE of an empty table changes nothing: no version
TRUNCATE ddlv;
-- rows inserted and deleted again in one transaction: nothing to record
BEGIN;
INSERT INTO ddlv VALUES (1);
DELETE FROM ddlv;
COMMIT;
INSERT INTO ddlv VALUES (5), (6);
-- a TRUNCATE rolled back to its savepoint leaves an insert
BEGIN;
INSERT INTO ddlv VALUES (7);
SAVEPOINT a;
TRUNCATE ddlv;
ROLLBACK TO a;
COMMIT;
-- a TRUNCATE in a released savepoint, then a load
BEGIN;
SAVEPOINT a;
TRUNCATE ddlv;
RELEASE a;
INSERT INTO ddlv VALUES (8);
COMMIT;
UPDATE ddlv SET a = 9;
-- own rows updated again count once
BEGIN;
INSERT INTO ddlv VALUES (10);
UPDATE ddlv SET a = 11 WHERE a = 10;
COMMIT;
-- segments written and rolled back in a savepoint count for nothing
BEGIN;
INSERT INTO ddlv VALUES (12);
SAVEPOINT a;
INSERT INTO ddlv SELECT generate_series(1, 25000);
ROLLBACK TO a;
COMMIT;
SELECT version, operation, rows_added, rows_removed FROM streamext.history('ddlv');
SELECT array_agg(a ORDER BY a) FROM ddlv;
SELECT array_agg(a ORDER BY a) AS v5 FROM streamext.as_of(NULL::ddlv, 5);
SELECT streamext.verify('ddlv') - 'next_row' AS verify;

-- ON COMMIT DELETE ROWS keeps neither rows nor history
CREATE TEMP TABLE ddlv_oc (a int, t text) USING versioned_columnar ON COMMIT DELETE ROWS;
BEGIN;
INSERT INTO ddlv_oc SELECT g, repeat('x', 3000) FROM generate_series(1, 20000) g;
COMMIT;
SELECT count(*) AS versions FROM streamext.history('ddlv_oc');
SELECT streamext.verify('ddlv_oc') - 'next_row' AS verify;

-- a rewrite starts a new history; the rewritten rows are its first version
ALTER TABLE ddlv ALTER COLUMN a TYPE bigint;
SELECT version, operation, rows_added, rows_removed FROM streamext.history('ddlv');

-- CREATE TABLE AS over a parallel scan: the leader writes, in one version
CREATE TABLE ddlv_src USING versioned_columnar AS SELECT g AS a FROM generate_series(1, 50000) g;
ANALYZE ddlv_src;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) CREATE TABLE ddlv_ctas USING versioned_columnar AS SELECT * FROM ddlv_src WHERE a % 2 = 0;
CREATE TABLE ddlv_ctas USING versioned_columnar AS SELECT * FROM ddlv_src WHERE a % 2 = 0;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT version, operation, rows_added, rows_removed FROM streamext.history('ddlv_ctas');
SELECT count(*), sum(a) FROM ddlv_ctas;

-- two-phase commit: the prepared transaction's version appears at COMMIT PREPARED,
-- and ROLLBACK PREPARED leaves neither rows nor a version
BEGIN;
INSERT INTO ddlv VALUES (1);
SAVEPOINT a;
INSERT INTO ddlv VALUES (2);
ROLLBACK TO a;
DELETE FROM ddlv WHERE a = 9;
PREPARE TRANSACTION 'ddlv_2pc';
SELECT count(*) AS versions_before FROM streamext.history('ddlv');
COMMIT PREPARED 'ddlv_2pc';
BEGIN;
TRUNCATE ddlv;
INSERT INTO ddlv VALUES (3);
PREPARE TRANSACTION 'ddlv_2pc2';
ROLLBACK PREPARED 'ddlv_2pc2';
SELECT version, operation, rows_added, rows_removed FROM streamext.history('ddlv');
SELECT array_agg(a ORDER BY a) FROM ddlv;
SELECT streamext.verify('ddlv') - 'next_row' AS verify;

DROP TABLE ddlv, ddlv_oc, ddlv_src, ddlv_ctas;
