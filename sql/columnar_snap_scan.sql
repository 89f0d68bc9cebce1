-- bitmap heap scans with lossy pages, index-only scans, prepared statements across versions
CREATE TABLE snap_bm (a int, b int) USING versioned_columnar;
INSERT INTO snap_bm SELECT g, g % 10 FROM generate_series(1, 500000) g;
CREATE INDEX snap_bm_b ON snap_bm (b);
CREATE INDEX snap_bm_a ON snap_bm (a);
ANALYZE snap_bm;
DELETE FROM snap_bm WHERE a % 7 = 0;
SET enable_seqscan = off;
SET enable_indexscan = off;
SET work_mem = '64kB';
SELECT count(*), sum(a) FROM snap_bm WHERE b = 3;
SELECT count(*) FROM snap_bm WHERE b IN (1, 2) AND a < 20000;
RESET work_mem;
RESET enable_indexscan;
SET enable_bitmapscan = off;
-- index-only scans read visibility from the table, never from a visibility map
SELECT count(*) FROM snap_bm WHERE a BETWEEN 100 AND 200;
BEGIN;
DELETE FROM snap_bm WHERE a BETWEEN 150 AND 160;
SELECT count(*) FROM snap_bm WHERE a BETWEEN 100 AND 200;
INSERT INTO snap_bm VALUES (155, 0);
SELECT count(a) FROM snap_bm WHERE a BETWEEN 100 AND 200;
ROLLBACK;
SELECT count(*) FROM snap_bm WHERE a BETWEEN 100 AND 200;
RESET enable_seqscan;
RESET enable_bitmapscan;
-- a prepared statement sees each new version, after TRUNCATE and writes
PREPARE snap_p1 AS SELECT count(*), max(a) FROM snap_bm WHERE b = $1;
EXECUTE snap_p1(3);
INSERT INTO snap_bm VALUES (40000, 3);
EXECUTE snap_p1(3);
TRUNCATE snap_bm;
EXECUTE snap_p1(3);
INSERT INTO snap_bm VALUES (1, 3);
EXECUTE snap_p1(3);
ALTER TABLE snap_bm ADD COLUMN c int DEFAULT 7;
PREPARE snap_p2 AS SELECT * FROM snap_bm;
EXECUTE snap_p2;
DEALLOCATE snap_p1;
DEALLOCATE snap_p2;
-- REPEATABLE READ and cursors WITH HOLD keep their snapshot
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM snap_bm;
DECLARE h CURSOR WITH HOLD FOR SELECT a, b FROM snap_bm;
COMMIT;
INSERT INTO snap_bm VALUES (2, 2);
FETCH ALL h;
CLOSE h;
SELECT a, b, c FROM snap_bm ORDER BY a;
-- TABLESAMPLE samples the virtual blocks of row numbers; only visible rows
CREATE TABLE snap_ts (a int) USING versioned_columnar;
INSERT INTO snap_ts SELECT generate_series(1, 100000);
DELETE FROM snap_ts WHERE a % 2 = 0;
SELECT count(*) > 10000 AND count(*) < 40000 AS about_half, bool_and(a % 2 = 1) AS visible_only FROM snap_ts TABLESAMPLE SYSTEM (50) REPEATABLE (1);
SELECT count(*) > 20000 AND count(*) < 30000 AS about_half, bool_and(a % 2 = 1) AS visible_only FROM snap_ts TABLESAMPLE BERNOULLI (50) REPEATABLE (1);
SELECT count(*) FROM snap_ts TABLESAMPLE SYSTEM (100);
SELECT count(*) FROM snap_ts TABLESAMPLE BERNOULLI (0);
SELECT (SELECT array_agg(a ORDER BY a) FROM snap_ts TABLESAMPLE SYSTEM (10) REPEATABLE (7)) =
	(SELECT array_agg(a ORDER BY a) FROM snap_ts TABLESAMPLE SYSTEM (10) REPEATABLE (7)) AS repeatable;
BEGIN;
INSERT INTO snap_ts VALUES (0);
SELECT count(*) FROM snap_ts TABLESAMPLE SYSTEM (100) WHERE a = 0;
ROLLBACK;
CREATE TABLE snap_ts0 (a int) USING versioned_columnar;
SELECT count(*) FROM snap_ts0 TABLESAMPLE SYSTEM (100);
DROP TABLE snap_bm, snap_ts, snap_ts0;
