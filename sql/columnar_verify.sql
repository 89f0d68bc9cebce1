-- streamext.verify against metadata broken on purpose (as superuser, each in a
-- transaction rolled back): every invariant OPTIMIZE and VACUUM keep, and the
-- chunk and segment ones, is reported as data_corrupted.  Also: no row writes
-- after streamext.optimize or before streamext.vacuum in the same transaction.
SET streamext.columnar_segment_rows = 1000;
SET streamext.vacuum_retention_check = off;
-- verify's error with its numbers masked (they depend on row number reservations)
CREATE FUNCTION vfy(t regclass) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM streamext.verify(t);
	RETURN 'ok';
EXCEPTION WHEN data_corrupted THEN
	RETURN regexp_replace(SQLERRM, '[0-9]+', 'N', 'g');
END $$;

-- one full segment (version 1), five small ones (2-6), a DELETE (7), an OPTIMIZE of the
-- small ones (8), one more small segment (9)
CREATE TABLE vfy_t (id int, v text) USING versioned_columnar;
INSERT INTO vfy_t SELECT g, 'v' || g FROM generate_series(1, 1000) g;
DO $$
BEGIN
	FOR b IN 1..5 LOOP
		INSERT INTO vfy_t SELECT g, 'v' || g FROM generate_series(b * 1000 + 1, b * 1000 + 300) g;
		COMMIT;
	END LOOP;
END $$;
DELETE FROM vfy_t WHERE id % 7 = 0 AND id > 1000;
SELECT r->'version' AS version, r->'segments_rewritten' AS rewritten, r->'segments_added' AS added
FROM streamext.optimize('vfy_t') r;
INSERT INTO vfy_t SELECT g, 'v' || g FROM generate_series(9001, 9100) g;
SELECT vfy('vfy_t');
CREATE TEMP VIEW vfy_seg AS
	SELECT s.* FROM streamext.columnar_segment s JOIN streamext.columnar_storage c USING (storage_id)
	WHERE c.relnode = pg_relation_filenode('vfy_t');
SELECT count(*) FILTER (WHERE removed_version = 8) AS retired,
	   count(*) FILTER (WHERE added_version = 8) AS written FROM vfy_seg;

-- history: an OPTIMIZE that says it added and removed rows (net zero: the row counts agree)
BEGIN;
UPDATE streamext.columnar_version SET rows_added = 5, rows_removed = 5
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
-- history: segment counts that are not what it wrote
BEGIN;
UPDATE streamext.columnar_version SET parameters = jsonb_set(parameters, '{segments_added}', '9')
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_version SET parameters = jsonb_set(parameters, '{segments_removed}', '1')
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_version SET parameters = parameters - 'rows_rewritten'
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
-- history: zorder columns that are not a list of distinct names, at most 4
BEGIN;
UPDATE streamext.columnar_version SET parameters = jsonb_set(parameters, '{zorder_by}', '["id", "id"]')
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_version SET parameters = jsonb_set(parameters, '{zorder_by}', '["a", "b", "c", "d", "e"]')
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_version SET parameters = jsonb_set(parameters, '{zorder_by}', '[1]')
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_version SET parameters = parameters - 'full'
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;

-- a segment the OPTIMIZE wrote, as if an earlier version had (as_of 7 would read it twice)
BEGIN;
UPDATE streamext.columnar_segment SET added_version = 7
WHERE (storage_id, segno) = (SELECT storage_id, min(segno) FROM vfy_seg WHERE added_version = 8 GROUP BY 1);
SELECT vfy('vfy_t');
ROLLBACK;
-- the OPTIMIZE's deletion vector of a retired segment gone: its live rows were not moved
BEGIN;
DELETE FROM streamext.columnar_deletion
WHERE (storage_id, segno) = (SELECT storage_id, min(segno) FROM vfy_seg WHERE removed_version = 8 GROUP BY 1)
  AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
-- its successors: one pointing at no row it wrote, two at the same row, two swapped
BEGIN;
UPDATE streamext.columnar_deletion SET successors = overlay(successors PLACING '\x0100000000000000'::bytea FROM 1 FOR 8)
WHERE (storage_id, segno) = (SELECT storage_id, min(segno) FROM vfy_seg WHERE removed_version = 8 GROUP BY 1)
  AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_deletion SET successors = overlay(successors PLACING substring(successors FROM 9 FOR 8) FROM 1 FOR 8)
WHERE (storage_id, segno) = (SELECT storage_id, min(segno) FROM vfy_seg WHERE removed_version = 8 GROUP BY 1)
  AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_deletion
SET successors = substring(successors FROM 9 FOR 8) || substring(successors FROM 1 FOR 8) || substring(successors FROM 17)
WHERE (storage_id, segno) = (SELECT storage_id, min(segno) FROM vfy_seg WHERE removed_version = 8 GROUP BY 1)
  AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
-- no successors at all
BEGIN;
UPDATE streamext.columnar_deletion SET successors = NULL
WHERE (storage_id, segno) = (SELECT storage_id, min(segno) FROM vfy_seg WHERE removed_version = 8 GROUP BY 1)
  AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
-- the OPTIMIZE's version touching a segment it did not rewrite (an empty deletion vector)
BEGIN;
INSERT INTO streamext.columnar_deletion (storage_id, segno, version, deleted)
SELECT storage_id, segno, 8, decode(repeat('00', (row_count + 7) / 8), 'hex')
FROM vfy_seg WHERE added_version = 1;
SELECT vfy('vfy_t');
ROLLBACK;
-- a deletion in a retired segment after it was retired (writers follow the successors)
BEGIN;
INSERT INTO streamext.columnar_deletion (storage_id, segno, version, deleted)
SELECT storage_id, segno, 9, decode(repeat('00', (row_count + 7) / 8), 'hex')
FROM vfy_seg WHERE removed_version = 8 ORDER BY segno LIMIT 1;
SELECT vfy('vfy_t');
ROLLBACK;
-- a retired row deleted before the OPTIMIZE instead of moved by it: it retired one live row
-- fewer than it wrote (only as_of 7 reads differently)
BEGIN;
UPDATE streamext.columnar_deletion SET deleted = set_bit(deleted, 1, 1)
WHERE (storage_id, segno) = (SELECT storage_id, min(segno) FROM vfy_seg WHERE removed_version = 8 GROUP BY 1)
  AND version = 7;
UPDATE streamext.columnar_deletion SET deleted = set_bit(deleted, 1, 0), successors = substring(successors FROM 9)
WHERE (storage_id, segno) = (SELECT storage_id, min(segno) FROM vfy_seg WHERE removed_version = 8 GROUP BY 1)
  AND version = 8;
SELECT vfy('vfy_t');
ROLLBACK;
-- the copy of a moved row deleted by the OPTIMIZE itself (the history of version 9 made to
-- count the row gone)
BEGIN;
INSERT INTO streamext.columnar_deletion (storage_id, segno, version, deleted)
SELECT storage_id, segno, 8, set_bit(decode(repeat('00', (row_count + 7) / 8), 'hex'), 0, 1)
FROM vfy_seg WHERE added_version = 8 ORDER BY segno LIMIT 1;
UPDATE streamext.columnar_version SET rows_removed = 1
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 9;
SELECT vfy('vfy_t');
ROLLBACK;
-- chunks: a column missing from a segment written after others had it; NULL counts out of
-- range; a min without its max
BEGIN;
DELETE FROM streamext.columnar_chunk
WHERE (storage_id, segno) = (SELECT storage_id, segno FROM vfy_seg WHERE added_version = 9) AND attnum = 2;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_chunk SET null_count = -1
WHERE (storage_id, segno) = (SELECT storage_id, segno FROM vfy_seg WHERE added_version = 9) AND attnum = 1;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_chunk SET max_value = NULL
WHERE (storage_id, segno) = (SELECT storage_id, segno FROM vfy_seg WHERE added_version = 9) AND attnum = 1;
SELECT vfy('vfy_t');
ROLLBACK;
-- all of it rolled back
SELECT vfy('vfy_t');

-- rows written in the transaction of an OPTIMIZE would be hidden in its version (changes()
-- skips it); rows written before a VACUUM would be labelled VACUUM: both refused
BEGIN;
SELECT streamext.optimize('vfy_t', "full" => true) ->> 'segments_rewritten' AS rewritten;
INSERT INTO vfy_t VALUES (0, 'x');
ROLLBACK;
BEGIN;
SELECT streamext.optimize('vfy_t', "full" => true) ->> 'segments_rewritten' AS rewritten;
DELETE FROM vfy_t WHERE id = 1;
ROLLBACK;
BEGIN;
SELECT streamext.optimize('vfy_t', "full" => true) ->> 'segments_rewritten' AS rewritten;
TRUNCATE vfy_t;
ROLLBACK;
BEGIN;
INSERT INTO vfy_t VALUES (0, 'x');
SELECT streamext.vacuum('vfy_t', '0');
ROLLBACK;
BEGIN;
SELECT streamext.vacuum('vfy_t', '0') ->> 'readable_from' AS readable_from;
UPDATE vfy_t SET v = 'y' WHERE id = 1;
ROLLBACK;
SELECT max(version) AS latest FROM streamext.history('vfy_t');

-- VACUUM: the recorded oldest readable version, and the history's chain of them
UPDATE vfy_t SET v = 'u' WHERE id <= 10;                                    -- version 10
-- an UPDATE's successors: one too many, one that is no row it added; a segment's first row
BEGIN;
UPDATE streamext.columnar_deletion SET successors = successors || '\x0000000000000000'::bytea
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 10;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_deletion SET successors = overlay(successors PLACING '\xfeffffffffffffff'::bytea FROM 1 FOR 8)
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 10;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_segment SET first_row = first_row + 1
WHERE (storage_id, segno) = (SELECT storage_id, segno FROM vfy_seg WHERE added_version = 10);
SELECT vfy('vfy_t');
ROLLBACK;
SELECT r->'readable_from' AS readable_from, r->'version' AS version FROM streamext.vacuum('vfy_t', '0') r;
DELETE FROM vfy_t WHERE id <= 20;                                           -- version 12
SELECT r->'version' AS version FROM streamext.optimize('vfy_t', '{id}') r;  -- version 13
-- a ZORDER optimize's successors swapped (rows move in z-key order, not in place)
BEGIN;
UPDATE streamext.columnar_deletion
SET successors = substring(successors FROM 9 FOR 8) || substring(successors FROM 1 FOR 8) || substring(successors FROM 17)
WHERE (storage_id, segno) = (SELECT storage_id, min(segno) FROM vfy_seg WHERE removed_version = 13 GROUP BY 1)
  AND version = 13;
SELECT vfy('vfy_t');
ROLLBACK;
SELECT vfy('vfy_t');
SELECT r->'readable_from' AS readable_from, r->'readable_from_before' AS before, r->'version' AS version
FROM streamext.vacuum('vfy_t', '0') r;
SELECT vfy('vfy_t');
SELECT streamext.verify('vfy_t') ->> 'readable_from' AS verified_readable_from;
BEGIN;
UPDATE streamext.columnar_vacuumed SET readable_from = 14
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg);
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_vacuumed SET version = 11
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg);
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_version SET parameters = jsonb_set(parameters, '{readable_from_before}', '2')
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 14;
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_version SET parameters = jsonb_set(parameters, '{readable_from}', '14')
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 14;
UPDATE streamext.columnar_vacuumed SET readable_from = 14
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg);
SELECT vfy('vfy_t');
ROLLBACK;
BEGIN;
UPDATE streamext.columnar_version SET rows_added = 3, rows_removed = 3
WHERE storage_id = (SELECT DISTINCT storage_id FROM vfy_seg) AND version = 14;
SELECT vfy('vfy_t');
ROLLBACK;
SELECT vfy('vfy_t');

DROP VIEW vfy_seg;
DROP TABLE vfy_t;
DROP FUNCTION vfy(regclass);
