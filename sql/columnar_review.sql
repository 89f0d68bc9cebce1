-- Review of the merged issue-9 features: each case runs on a heap twin and
-- on versioned_columnar, and both must print the same.
SET streamext.columnar_segment_rows = 1000;

-- A row lock's slot stays valid while other rows are locked: ON CONFLICT's
-- SET list keeps the existing row's values while a function locks rows of
-- another gold table (once crashed the backend: the shared row fetcher freed
-- the decoded segment the slot pointed into) or of another segment of the
-- same table.
CREATE FUNCTION review_lock(tbl regclass, key int) RETURNS int
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE r int;
BEGIN
	EXECUTE format('SELECT k FROM %s WHERE k = $1 FOR UPDATE', tbl) INTO r USING key;
	RETURN r;
END $$;

CREATE TABLE rv_h1 (k int PRIMARY KEY, c text, d int) USING heap;
CREATE TABLE rv_h2 (k int PRIMARY KEY, v text) USING heap;
CREATE TABLE rv_c1 (k int PRIMARY KEY, c text, d int) USING versioned_columnar;
CREATE TABLE rv_c2 (k int PRIMARY KEY, v text) USING versioned_columnar;
INSERT INTO rv_h1 VALUES (1, 'the original text of row one', 0);
INSERT INTO rv_c1 VALUES (1, 'the original text of row one', 0);
INSERT INTO rv_h1 SELECT g, 'filler row ' || g, 0 FROM generate_series(2, 2500) g;
INSERT INTO rv_c1 SELECT g, 'filler row ' || g, 0 FROM generate_series(2, 2500) g;
INSERT INTO rv_h2 SELECT g, 'other table ' || g FROM generate_series(1, 100) g;
INSERT INTO rv_c2 SELECT g, 'other table ' || g FROM generate_series(1, 100) g;

INSERT INTO rv_h1 VALUES (1, 'x', 0) ON CONFLICT (k) DO UPDATE SET c = rv_h1.c, d = review_lock('rv_h2', 7);
INSERT INTO rv_c1 VALUES (1, 'x', 0) ON CONFLICT (k) DO UPDATE SET c = rv_c1.c, d = review_lock('rv_c2', 7);
SELECT * FROM rv_h1 WHERE k = 1;
SELECT * FROM rv_c1 WHERE k = 1;
-- the same table, a row of another segment
INSERT INTO rv_h1 VALUES (1, 'x', 0) ON CONFLICT (k) DO UPDATE SET c = rv_h1.c, d = review_lock('rv_h1', 2400);
INSERT INTO rv_c1 VALUES (1, 'x', 0) ON CONFLICT (k) DO UPDATE SET c = rv_c1.c, d = review_lock('rv_c1', 2400);
SELECT * FROM rv_h1 WHERE k = 1;
SELECT * FROM rv_c1 WHERE k = 1;

-- A scan through an index (or a bitmap) of a table written by the same
-- statement: rows buffered by earlier commands of the transaction stay
-- visible to it when the statement's inserts fill a segment (the buffer was
-- written out mid-scan, and the rest of the scan lost them).
CREATE TABLE rv_h3 (k int PRIMARY KEY, v text) USING heap;
CREATE TABLE rv_c3 (k int PRIMARY KEY, v text) USING versioned_columnar;
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
INSERT INTO rv_h3 SELECT g, 'v' || g FROM generate_series(1, 990) g;
INSERT INTO rv_c3 SELECT g, 'v' || g FROM generate_series(1, 990) g;
EXPLAIN (COSTS OFF) INSERT INTO rv_c3 SELECT k + 10000, v FROM rv_c3 WHERE k < 500;
INSERT INTO rv_h3 SELECT k + 10000, v FROM rv_h3 WHERE k < 500;
INSERT INTO rv_c3 SELECT k + 10000, v FROM rv_c3 WHERE k < 500;
UPDATE rv_h3 SET v = v || '+' WHERE k BETWEEN 500 AND 1000;
UPDATE rv_c3 SET v = v || '+' WHERE k BETWEEN 500 AND 1000;
SET LOCAL enable_indexscan = off;
SET LOCAL enable_bitmapscan = on;
EXPLAIN (COSTS OFF) INSERT INTO rv_c3 SELECT k + 20000, v FROM rv_c3 WHERE k < 990;
INSERT INTO rv_h3 SELECT k + 20000, v FROM rv_h3 WHERE k < 990;
INSERT INTO rv_c3 SELECT k + 20000, v FROM rv_c3 WHERE k < 990;
COMMIT;
SELECT count(*), count(*) FILTER (WHERE v LIKE '%+'), sum(k) FROM rv_h3;
SELECT count(*), count(*) FILTER (WHERE v LIKE '%+'), sum(k) FROM rv_c3;

-- A row fetch whose segment failed to decode (a damaged chunk) leaves
-- nothing behind for the next fetch of the transaction, once a savepoint
-- caught the error: the row once read with a NULL column.
CREATE TABLE rv_c4 (k int PRIMARY KEY, v text) USING versioned_columnar;
INSERT INTO rv_c4 SELECT g, 'value ' || g FROM generate_series(1, 3000) g;
SELECT s.storage_id AS rv_sid FROM streamext.columnar_storage s
  WHERE s.relnode = pg_relation_filenode('rv_c4') \gset
SELECT ctid AS rv_tid1500 FROM rv_c4 WHERE k = 1500 \gset
SELECT ctid AS rv_tid2500 FROM rv_c4 WHERE k = 2500 \gset
BEGIN;
-- TID scans fetch through the transaction's row fetcher
SELECT k, v FROM rv_c4 WHERE ctid = :'rv_tid1500';
SAVEPOINT s;
UPDATE streamext.columnar_chunk SET data = '\x0102'
  WHERE storage_id = :rv_sid AND attnum = 2
    AND segno = (SELECT max(segno) FROM streamext.columnar_chunk WHERE storage_id = :rv_sid);
\set VERBOSITY terse
SELECT k, v FROM rv_c4 WHERE ctid = :'rv_tid2500';
\set VERBOSITY default
ROLLBACK TO s;
SELECT k, v FROM rv_c4 WHERE ctid = :'rv_tid2500';
COMMIT;

-- An upsert of rows loaded earlier in the same transaction, whose new
-- versions fill the insert buffer: the segment written in the middle of the
-- statement carries its command, but the rows of the earlier load in it stay
-- visible to the statement (ON CONFLICT once raised "cannot affect row a
-- second time" for them); rows the statement itself inserted still raise it.
CREATE TABLE rv_h5 (k int PRIMARY KEY, v text) USING heap;
CREATE TABLE rv_c5 (k int PRIMARY KEY, v text) USING versioned_columnar;
BEGIN;
INSERT INTO rv_h5 SELECT g, 'v' || g FROM generate_series(1, 990) g;
INSERT INTO rv_c5 SELECT g, 'v' || g FROM generate_series(1, 990) g;
INSERT INTO rv_h5 SELECT g, 'new' FROM generate_series(1, 1500) g ON CONFLICT (k) DO UPDATE SET v = 'upd';
INSERT INTO rv_c5 SELECT g, 'new' FROM generate_series(1, 1500) g ON CONFLICT (k) DO UPDATE SET v = 'upd';
SELECT v, count(*) FROM rv_h5 GROUP BY v ORDER BY v;
SELECT v, count(*) FROM rv_c5 GROUP BY v ORDER BY v;
COMMIT;
SELECT v, count(*) FROM rv_c5 GROUP BY v ORDER BY v;
INSERT INTO rv_c5 SELECT 3000 + g % 1200, 'dup' FROM generate_series(1, 2000) g ON CONFLICT (k) DO UPDATE SET v = 'upd';

DROP TABLE rv_h1, rv_h2, rv_c1, rv_c2, rv_h3, rv_c3, rv_c4, rv_h5, rv_c5;
DROP FUNCTION review_lock(regclass, int);
