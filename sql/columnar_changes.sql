-- streamext.changes(): the change data feed of a versioned_columnar table
CREATE TABLE cdf (id int, v text) USING versioned_columnar;

INSERT INTO cdf SELECT g, 'a' || g FROM generate_series(1, 5) g;        -- version 1
DELETE FROM cdf WHERE id = 2;                                           -- version 2
UPDATE cdf SET v = 'b3' WHERE id = 3;                                   -- version 3
BEGIN;                                                                  -- rolled back: nothing
INSERT INTO cdf VALUES (100, 'never');
DELETE FROM cdf WHERE id = 1;
UPDATE cdf SET v = 'never' WHERE id = 4;
ROLLBACK;
BEGIN;                                                                  -- version 4, savepoints
INSERT INTO cdf VALUES (6, 'a6');
SAVEPOINT s1;
INSERT INTO cdf VALUES (101, 'rolled back');
UPDATE cdf SET v = 'rolled back' WHERE id = 5;
DELETE FROM cdf WHERE id = 1;
ROLLBACK TO s1;
UPDATE cdf SET v = 'c4' WHERE id = 4;
SAVEPOINT s2;
DELETE FROM cdf WHERE id = 3;
RELEASE s2;
COMMIT;
BEGIN;                                                                  -- version 5
INSERT INTO cdf VALUES (7, 'a7');
UPDATE cdf SET v = 'b7' WHERE id = 7;                                   -- own row updated: one insert
INSERT INTO cdf VALUES (8, 'gone');
DELETE FROM cdf WHERE id = 8;                                           -- own row deleted: nothing
UPDATE cdf SET v = 'd5' WHERE id = 5;
UPDATE cdf SET v = 'e5' WHERE id = 5;                                   -- updated twice: one pair
UPDATE cdf SET v = 'd1' WHERE id = 1;
DELETE FROM cdf WHERE id = 1;                                           -- updated, then deleted: a delete
COMMIT;

SELECT version, operation, rows_added, rows_removed FROM streamext.history('cdf');

-- the whole feed; to_version NULL is the newest version
SELECT _version, _change_type, _row FROM streamext.changes(NULL::cdf, 1);
-- a range, both ends included; the row's columns
SELECT _version, _change_type, (_row).id, (_row).v FROM streamext.changes(NULL::cdf, 2, 3);
SELECT _version, _change_type, (_row).* FROM streamext.changes(NULL::cdf, from_version => 4, to_version => 4);
SELECT count(*) FROM streamext.changes(NULL::cdf, 5, NULL);
-- _committed_at is the version's commit time
SELECT bool_and(c._committed_at = h.committed_at) AS committed_at_ok, count(*)
FROM streamext.changes(NULL::cdf, 1) c JOIN streamext.history('cdf') h ON h.version = c._version;

-- ON CONFLICT DO UPDATE and MERGE report updates as pre/post images
CREATE UNIQUE INDEX ON cdf (id);
INSERT INTO cdf VALUES (4, 'f6'), (9, 'a9') ON CONFLICT (id) DO UPDATE SET v = excluded.v;   -- version 6
MERGE INTO cdf USING (VALUES (5, 'g7'), (6, NULL), (10, 'a10')) s(id, v) ON cdf.id = s.id     -- version 7
WHEN MATCHED AND s.v IS NULL THEN DELETE
WHEN MATCHED THEN UPDATE SET v = s.v
WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v);
SELECT _version, _change_type, _row FROM streamext.changes(NULL::cdf, 6);

-- TRUNCATE deletes every live row; restore() is the rows it deletes and re-inserts
BEGIN;                                                                  -- version 8
DELETE FROM cdf WHERE id = 9;
TRUNCATE cdf;
INSERT INTO cdf VALUES (11, 'after truncate');
COMMIT;
SELECT streamext.restore('cdf', 3) AS restored;                        -- version 9
SELECT _version, _change_type, _row FROM streamext.changes(NULL::cdf, 8);
SELECT version, operation, rows_added, rows_removed FROM streamext.history('cdf') WHERE version >= 6;

-- every version's changes turn the version before it into it (many segments, updates across them)
SET streamext.columnar_segment_rows = 1000;
CREATE TABLE cdf_big (id int, grp int, v text) USING versioned_columnar;
INSERT INTO cdf_big SELECT g, g % 7, 'v' || g FROM generate_series(1, 3500) g;                 -- 1
UPDATE cdf_big SET v = v || '+' WHERE id % 10 = 3;                                              -- 2
DELETE FROM cdf_big WHERE grp = 2;                                                              -- 3
BEGIN;                                                                                          -- 4
INSERT INTO cdf_big SELECT g, g % 7, 'w' || g FROM generate_series(3501, 5200) g;
UPDATE cdf_big SET grp = 100 WHERE id BETWEEN 1990 AND 4010;
DELETE FROM cdf_big WHERE id % 17 = 0;
UPDATE cdf_big SET v = 'again' WHERE id % 5 = 0;
COMMIT;
ALTER TABLE cdf_big ADD COLUMN extra int DEFAULT 42;
UPDATE cdf_big SET extra = id WHERE id % 100 = 1;                                               -- 5
TRUNCATE cdf_big;                                                                               -- 6
INSERT INTO cdf_big (id, grp, v) SELECT g, 0, 'x' FROM generate_series(1, 1200) g;             -- 7
RESET streamext.columnar_segment_rows;
SELECT _version, _change_type, count(*) FROM streamext.changes(NULL::cdf_big, 1)
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT v AS version,
	   (SELECT count(*) FROM (
			WITH applied AS (
				(SELECT * FROM streamext.as_of(NULL::cdf_big, v - 1)
				 EXCEPT ALL
				 SELECT (_row).* FROM streamext.changes(NULL::cdf_big, v, v)
				 WHERE _change_type IN ('delete', 'update_preimage'))
				UNION ALL
				SELECT (_row).* FROM streamext.changes(NULL::cdf_big, v, v)
				WHERE _change_type IN ('insert', 'update_postimage')),
			actual AS (SELECT * FROM streamext.as_of(NULL::cdf_big, v))
			(SELECT * FROM applied EXCEPT ALL SELECT * FROM actual)
			UNION ALL
			(SELECT * FROM actual EXCEPT ALL SELECT * FROM applied)) d) AS differences,
	   (SELECT count(*) FROM streamext.as_of(NULL::cdf_big, v)) AS rows
FROM generate_series(2, 7) v;
-- preimage and postimage of an update are adjacent and have the same id
SELECT count(*) AS pairs, bool_and(pre_type = 'update_preimage' AND (pre).id = (_row).id) AS adjacent
FROM (SELECT _change_type, _row, lag(_change_type) OVER w AS pre_type, lag(_row) OVER w AS pre
	  FROM (SELECT *, row_number() OVER () AS n FROM streamext.changes(NULL::cdf_big, 2, 5)) c
	  WINDOW w AS (ORDER BY n)) x
WHERE _change_type = 'update_postimage';

-- a version's changes are read from what it wrote: one new row reads one segment's chunks
-- (4 columns), not the table's
INSERT INTO cdf_big VALUES (0, 0, 'one more', 1);                                             -- 8
SELECT pg_stat_force_next_flush();      -- the statistics of this transaction only, below
BEGIN;
SELECT _version, _change_type, _row FROM streamext.changes(NULL::cdf_big, 8);
SELECT relname, idx_tup_fetch, seq_scan FROM pg_stat_xact_all_tables
WHERE schemaname = 'streamext' AND relname IN ('columnar_chunk', 'columnar_segment', 'columnar_deletion')
ORDER BY relname;
COMMIT;
-- the caller's own TRUNCATE, not yet committed, does not change the committed versions' changes
BEGIN;
TRUNCATE cdf_big;
SELECT _version, _change_type, count(*) FROM streamext.changes(NULL::cdf_big, 6) GROUP BY 1, 2 ORDER BY 1, 2;
ROLLBACK;
-- a version that updates rows out of storage order (one UPDATE per row, in a shuffled order,
-- over several segments): each preimage still comes right before its own postimage
SET streamext.columnar_segment_rows = 1000;
INSERT INTO cdf_big (id, grp, v) SELECT g, 1, 'y' FROM generate_series(2001, 4000) g;         -- 9
RESET streamext.columnar_segment_rows;
DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT id FROM cdf_big WHERE id % 13 = 0 ORDER BY md5(id::text) LOOP
		UPDATE cdf_big SET v = v || '!' WHERE id = r.id;
	END LOOP;
END $$;                                                                                        -- 10
SELECT count(*) AS pairs,
	   bool_and(pre_type = 'update_preimage' AND (pre).id = (_row).id AND (pre).v || '!' = (_row).v) AS adjacent
FROM (SELECT _change_type, _row, lag(_change_type) OVER w AS pre_type, lag(_row) OVER w AS pre
	  FROM (SELECT *, row_number() OVER () AS n FROM streamext.changes(NULL::cdf_big, 10, 10)) c
	  WINDOW w AS (ORDER BY n)) x
WHERE _change_type = 'update_postimage';
-- (the old rows are not in storage order: the pairs were sorted by their new rows)
SELECT count(*) > 0 AS old_rows_out_of_order FROM (
	SELECT (_row).id, lag((_row).id) OVER (ORDER BY n) AS prev
	FROM (SELECT *, row_number() OVER () AS n FROM streamext.changes(NULL::cdf_big, 10, 10)) c
	WHERE _change_type = 'update_preimage') x WHERE id < prev;

-- tables are separate; a transaction's own uncommitted version is not in the feed
CREATE TABLE cdf2 (k text) USING versioned_columnar;
INSERT INTO cdf2 VALUES ('one');
BEGIN;
INSERT INTO cdf2 VALUES ('two');
SELECT _version, _change_type, _row FROM streamext.changes(NULL::cdf2, 1);
COMMIT;
SELECT _version, _change_type, _row FROM streamext.changes(NULL::cdf2, 1);
SELECT count(*) FROM streamext.changes(NULL::cdf, 1, 2);
-- a snapshot decides the newest version: inside REPEATABLE READ it does not move
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT max(_version) FROM streamext.changes(NULL::cdf2, 1);
SELECT count(*) FROM cdf2;
COMMIT;

-- a rewrite starts a new history: its version 1 inserts the rows
ALTER TABLE cdf2 ALTER COLUMN k TYPE varchar(10);
SELECT _version, _change_type, _row FROM streamext.changes(NULL::cdf2, 1);

-- errors
SELECT * FROM streamext.changes(NULL::cdf, 0);
SELECT * FROM streamext.changes(NULL::cdf, 10);
SELECT * FROM streamext.changes(NULL::cdf, 3, 2);
SELECT * FROM streamext.changes(NULL::cdf, 2, 10);
SELECT * FROM streamext.changes(NULL::cdf, NULL);
SELECT * FROM streamext.changes(NULL::int, 1);
CREATE TYPE cdf_pair AS (a int, b int);
SELECT * FROM streamext.changes(NULL::cdf_pair, 1);
CREATE TABLE cdf_heap (id int);
INSERT INTO cdf_heap VALUES (1);
SELECT * FROM streamext.changes(NULL::cdf_heap, 1);
CREATE TABLE cdf_empty (id int) USING versioned_columnar;
SELECT * FROM streamext.changes(NULL::cdf_empty, 1);

-- privileges: SELECT on the table, as for as_of; row-level security refuses it
CREATE ROLE regress_cdf_reader;
SET ROLE regress_cdf_reader;
SELECT * FROM streamext.changes(NULL::cdf2, 1);
RESET ROLE;
GRANT SELECT ON cdf2 TO regress_cdf_reader;
SET ROLE regress_cdf_reader;
SELECT _version, _change_type, _row FROM streamext.changes(NULL::cdf2, 1);
RESET ROLE;
ALTER TABLE cdf2 ENABLE ROW LEVEL SECURITY;
SET ROLE regress_cdf_reader;
SELECT * FROM streamext.changes(NULL::cdf2, 1);
RESET ROLE;

DROP TABLE cdf, cdf_big, cdf2, cdf_heap, cdf_empty;
DROP TYPE cdf_pair;
DROP ROLE regress_cdf_reader;
