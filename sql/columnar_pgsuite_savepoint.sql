-- versioned_columnar: rows of nested savepoints rolled back together (found by the
-- PostgreSQL suite's transactions test, run by make check-pgsuite)
CREATE TABLE col_sp (a int) USING versioned_columnar;

-- ROLLBACK TO an outer savepoint aborts the inner one first: both its rows and the
-- outer savepoint's rows go, the transaction's own rows stay.
BEGIN;
INSERT INTO col_sp VALUES (1);
SAVEPOINT one;
INSERT INTO col_sp VALUES (2);
SAVEPOINT two;
INSERT INTO col_sp VALUES (3);
ROLLBACK TO SAVEPOINT one;
SELECT a FROM col_sp ORDER BY a;
INSERT INTO col_sp VALUES (4);
COMMIT;
SELECT a FROM col_sp ORDER BY a;

-- The suite's own sequence: a rollback to the same savepoint twice, with rows of an
-- already rolled-back savepoint between the ones to drop and the ones to keep.
TRUNCATE col_sp;
BEGIN;
INSERT INTO col_sp VALUES (18);
SAVEPOINT one;
INSERT INTO col_sp VALUES (19);
SAVEPOINT two;
INSERT INTO col_sp VALUES (20);
ROLLBACK TO SAVEPOINT one;
INSERT INTO col_sp VALUES (21);
ROLLBACK TO SAVEPOINT one;
INSERT INTO col_sp VALUES (22);
COMMIT;
SELECT a FROM col_sp ORDER BY a;

-- A released inner savepoint's rows belong to the outer one and go with it.
TRUNCATE col_sp;
BEGIN;
INSERT INTO col_sp VALUES (30);
SAVEPOINT one;
INSERT INTO col_sp VALUES (31);
SAVEPOINT two;
INSERT INTO col_sp VALUES (32);
RELEASE SAVEPOINT two;
SAVEPOINT three;
INSERT INTO col_sp VALUES (33);
ROLLBACK TO SAVEPOINT three;
INSERT INTO col_sp VALUES (34);
ROLLBACK TO SAVEPOINT one;
INSERT INTO col_sp VALUES (35);
COMMIT;
SELECT a FROM col_sp ORDER BY a;
SELECT count(*) FROM col_sp WHERE a IN (31, 32, 33, 34);

DROP TABLE col_sp;
