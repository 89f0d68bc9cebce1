-- versioned_columnar: a TRUNCATE at the top level after one in a released savepoint.
-- The rows the transaction had deleted before the first TRUNCATE must stay counted as
-- removed (they were once dropped from the history: columnar_ddl_random seed 560621).
SET streamext.columnar_segment_rows = 1000;
CREATE TABLE ddlt (a int, b text) USING versioned_columnar;
INSERT INTO ddlt SELECT g, 'c' || g FROM generate_series(1, 5) g;

-- committed rows deleted, then truncated twice (in a released savepoint, then at the top)
BEGIN;
DELETE FROM ddlt WHERE a % 2 = 0;
SAVEPOINT s0;
TRUNCATE ddlt;
RELEASE s0;
TRUNCATE ddlt;
COMMIT;
SELECT version, operation, rows_added, rows_removed FROM streamext.history('ddlt');
SELECT (SELECT sum(rows_added - rows_removed) FROM streamext.history('ddlt')) =
       (SELECT count(*) FROM ddlt) AS history_accounts;

-- the same with rows of the transaction's own segments (1000 rows each) deleted first
BEGIN;
INSERT INTO ddlt SELECT g, 'n' || g FROM generate_series(1, 2500) g;
DELETE FROM ddlt WHERE a % 3 = 0;
SAVEPOINT s0;
TRUNCATE ddlt;
RELEASE s0;
TRUNCATE ddlt;
INSERT INTO ddlt VALUES (7, 'x'), (8, 'y');
COMMIT;
-- and after a TRUNCATE rolled back to its savepoint (ROLLBACK TO stays in the savepoint:
-- RELEASE it, so that the last TRUNCATE is at the top level again)
BEGIN;
DELETE FROM ddlt WHERE a = 7;
SAVEPOINT s0;
TRUNCATE ddlt;
ROLLBACK TO s0;
RELEASE s0;
SAVEPOINT s1;
TRUNCATE ddlt;
RELEASE s1;
TRUNCATE ddlt;
INSERT INTO ddlt VALUES (9, 'z');
COMMIT;
SELECT version, operation, rows_added, rows_removed FROM streamext.history('ddlt');
SELECT (SELECT sum(rows_added - rows_removed) FROM streamext.history('ddlt')) =
       (SELECT count(*) FROM ddlt) AS history_accounts;

-- the transaction of columnar_ddl_random's failing round, on the rows it started from
TRUNCATE ddlt;
INSERT INTO ddlt SELECT g, 'n' || g FROM generate_series(100003, 100004) g;
BEGIN;
DELETE FROM ddlt WHERE a % 3 = 2;
UPDATE ddlt SET b = b || 'u' WHERE a % 5 = 4;
SAVEPOINT s0;
UPDATE ddlt SET b = b || 'u' WHERE a % 5 = 0;
TRUNCATE ddlt;
RELEASE s0;
TRUNCATE ddlt;
TRUNCATE ddlt;
DELETE FROM ddlt WHERE a % 7 = 2;
SAVEPOINT s0;
SAVEPOINT s1;
TRUNCATE ddlt;
COMMIT;
SELECT version, operation, rows_added, rows_removed FROM streamext.history('ddlt') WHERE version > 5;
SELECT (SELECT sum(rows_added - rows_removed) FROM streamext.history('ddlt')) =
       (SELECT count(*) FROM ddlt) AS history_accounts;
SELECT count(*) AS changes_deletes FROM streamext.changes(NULL::ddlt, 7) WHERE _change_type = 'delete';
SELECT streamext.verify('ddlt') - 'next_row' AS verify;

DROP TABLE ddlt;
RESET streamext.columnar_segment_rows;
