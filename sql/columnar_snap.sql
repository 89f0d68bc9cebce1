-- versioned_columnar: visibility of dirty snapshots (unique/exclusion checks),
-- MERGE/UPDATE cardinality, WHERE CURRENT OF, TIDs, parallel scans of own changes
SET statement_timeout = '60s';

-- unique checks see our own rows and raise, never wait on a garbage xid
CREATE TABLE snap_u (a int UNIQUE) USING versioned_columnar;
INSERT INTO snap_u VALUES (1), (1);
INSERT INTO snap_u VALUES (2);
INSERT INTO snap_u VALUES (2);
BEGIN;
INSERT INTO snap_u VALUES (3);
INSERT INTO snap_u VALUES (3);
ROLLBACK;
BEGIN;
SAVEPOINT s1;
INSERT INTO snap_u VALUES (4), (4);
ROLLBACK TO s1;
INSERT INTO snap_u VALUES (4);
SAVEPOINT s2;
INSERT INTO snap_u VALUES (4);
ROLLBACK TO s2;
COMMIT;
-- a row deleted by this transaction does not conflict
BEGIN;
DELETE FROM snap_u WHERE a = 4;
INSERT INTO snap_u VALUES (4);
COMMIT;
-- update to a duplicate
UPDATE snap_u SET a = 2 WHERE a = 4;
SELECT a FROM snap_u ORDER BY a;

-- deferrable unique key, checked at COMMIT
CREATE TABLE snap_d (a int UNIQUE DEFERRABLE INITIALLY DEFERRED) USING versioned_columnar;
BEGIN;
INSERT INTO snap_d VALUES (1), (1);
COMMIT;
BEGIN;
INSERT INTO snap_d VALUES (1), (2);
UPDATE snap_d SET a = 3 - a;
COMMIT;
BEGIN;
SAVEPOINT s1;
INSERT INTO snap_d VALUES (5), (5);
RELEASE s1;
COMMIT;
SELECT a FROM snap_d ORDER BY a;

-- exclusion constraint violated within a statement
CREATE TABLE snap_x (r int4range, EXCLUDE USING gist (r WITH &&)) USING versioned_columnar;
INSERT INTO snap_x VALUES ('[1,5)'), ('[3,7)');
INSERT INTO snap_x VALUES ('[1,5)');
INSERT INTO snap_x VALUES ('[4,6)');
INSERT INTO snap_x VALUES ('[5,6)');
SELECT r FROM snap_x ORDER BY r;

-- MERGE matching a row twice; UPDATE ... FROM with duplicate join rows
CREATE TABLE snap_m (k int, v int) USING versioned_columnar;
INSERT INTO snap_m VALUES (1, 1), (2, 2);
MERGE INTO snap_m USING (VALUES (1), (1)) s(k) ON snap_m.k = s.k
	WHEN MATCHED THEN UPDATE SET v = snap_m.v + 1;
MERGE INTO snap_m USING (VALUES (2), (2)) s(k) ON snap_m.k = s.k
	WHEN MATCHED THEN DELETE;
UPDATE snap_m SET v = v + 10 FROM (VALUES (1), (1)) s(k) WHERE snap_m.k = s.k;
DELETE FROM snap_m USING (VALUES (2), (2)) s(k) WHERE snap_m.k = s.k;
SELECT k, v FROM snap_m ORDER BY k;

-- WHERE CURRENT OF follows the cursor's row through an UPDATE
INSERT INTO snap_m VALUES (3, 3);
BEGIN;
DECLARE c CURSOR FOR SELECT * FROM snap_m;
FETCH c;
UPDATE snap_m SET v = 100 WHERE CURRENT OF c;
UPDATE snap_m SET v = v + 1 WHERE CURRENT OF c;
SELECT k, v FROM snap_m ORDER BY k;
DELETE FROM snap_m WHERE CURRENT OF c;
SELECT k, v FROM snap_m ORDER BY k;
FETCH c;
SAVEPOINT s1;
UPDATE snap_m SET v = 200 WHERE CURRENT OF c;
ROLLBACK TO s1;
UPDATE snap_m SET v = 300 WHERE CURRENT OF c;
SELECT k, v FROM snap_m ORDER BY k;
COMMIT;

-- currtid2 follows updates of this transaction and refuses truncated rows
CREATE TABLE snap_t (a int) USING versioned_columnar;
INSERT INTO snap_t VALUES (1), (2);
BEGIN;
UPDATE snap_t SET a = 10 WHERE a = 1;
SELECT a FROM snap_t WHERE ctid = currtid2('snap_t', '(0,1)');
COMMIT;
SELECT currtid2('snap_t', '(0,2)');
TRUNCATE snap_t;
SELECT currtid2('snap_t', '(0,2)');
SELECT currtid2('snap_t', '(0,1000)');
SELECT a FROM snap_t WHERE ctid = '(0,2)';

-- a parallel scan without the leader sees the rows of this transaction
BEGIN;
CREATE TABLE snap_p (a int) USING versioned_columnar;
INSERT INTO snap_p VALUES (1), (2), (3);
SET LOCAL parallel_leader_participation = off;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT count(*) FROM snap_p;
SELECT count(*) FROM snap_p a JOIN snap_p b USING (a);
DELETE FROM snap_p WHERE a = 1;
SELECT count(*) FROM snap_p;
COMMIT;
-- a plan made before the transaction wrote the table refuses rather than miss rows
SET parallel_leader_participation = off;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET plan_cache_mode = force_generic_plan;
PREPARE snap_q AS SELECT count(*) FROM snap_p;
EXECUTE snap_q;
BEGIN;
INSERT INTO snap_p VALUES (4);
EXECUTE snap_q;
ROLLBACK;
RESET parallel_leader_participation;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET plan_cache_mode;
DEALLOCATE snap_q;
DROP TABLE snap_d, snap_m, snap_p, snap_t, snap_u, snap_x;
