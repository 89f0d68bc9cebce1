-- streamext.optimize: bin packing of small and much-deleted segments, ZORDER BY, one
-- OPTIMIZE version that changes no row (as_of, changes(), indexes), incremental runs,
-- and the errors
SET streamext.columnar_segment_rows = 1000;
SET streamext.enable_vectorized_agg = off;
CREATE TABLE col_opt (id int PRIMARY KEY, dev text, ts timestamptz, v numeric) USING versioned_columnar;
CREATE INDEX col_opt_dev ON col_opt (lower(dev)) WHERE id % 2 = 0;

-- 40 micro-batches of 100 rows (versions 1-40), then a DELETE and an UPDATE
DO $$
BEGIN
	FOR b IN 0..39 LOOP
		INSERT INTO col_opt
		SELECT g, 'Dev-' || (g % 7), '2024-01-01'::timestamptz + g * interval '1 minute', g * 1.5
		FROM generate_series(b * 100, b * 100 + 99) g;
		COMMIT;
	END LOOP;
END $$;
DELETE FROM col_opt WHERE id % 10 = 3;                                      -- version 41
UPDATE col_opt SET v = -v WHERE id BETWEEN 1000 AND 1049;                   -- version 42

-- every version's content, to compare after optimize
CREATE FUNCTION col_opt_digest(ver bigint) RETURNS text LANGUAGE sql AS $$
	SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM streamext.as_of(NULL::col_opt, ver) t
$$;
CREATE TABLE col_opt_before AS
	SELECT version, col_opt_digest(version) AS digest FROM streamext.history('col_opt');
CREATE TABLE col_opt_cdf AS
	SELECT * FROM streamext.changes(NULL::col_opt, 1);

SELECT r->'version' AS version, r->'zorder_by' AS zorder_by, r->'segments_rewritten' AS rewritten,
	   r->'segments_added' AS added, r->'segments_before' AS segs_before,
	   r->'segments_after' AS segs_after, r->'rows_before' AS rows_before,
	   r->'rows_after' AS rows_after, (r->>'bytes_after')::bigint < (r->>'bytes_before')::bigint AS smaller,
	   r->'rows_deleted_meanwhile' AS redone, (r->>'seconds')::float8 >= 0 AS timed
FROM streamext.optimize('col_opt') r;

-- the history shows it; it added and removed no row
SELECT version, operation, parameters, rows_added, rows_removed
FROM streamext.history('col_opt') WHERE version >= 42;
-- every as_of answer is the same as before, and the new version reads as the one before it
SELECT count(*) AS versions, count(*) FILTER (WHERE b.digest = col_opt_digest(b.version)) AS same
FROM col_opt_before b;
SELECT col_opt_digest(43) = col_opt_digest(42) AS v43_is_v42;
SELECT count(*), sum(v) FROM col_opt;
-- the change feed has nothing for it, and the rest unchanged
SELECT count(*) AS optimize_changes FROM streamext.changes(NULL::col_opt, 43, 43);
SELECT (SELECT count(*) FROM (SELECT * FROM streamext.changes(NULL::col_opt, 1)
							  EXCEPT ALL SELECT * FROM col_opt_cdf) d) AS new_changes,
	   (SELECT count(*) FROM (SELECT * FROM col_opt_cdf
							  EXCEPT ALL SELECT * FROM streamext.changes(NULL::col_opt, 1)) d) AS lost_changes;
SELECT streamext.verify('col_opt') - 'chunks' - 'next_row' AS verify;

-- the indexes have the new rows: lookups, uniqueness, and a partial expression index
SET enable_seqscan = off;
SELECT id, dev, v FROM col_opt WHERE id = 1042;
SELECT count(*) FROM col_opt WHERE lower(dev) = 'dev-3' AND id % 2 = 0;
RESET enable_seqscan;
INSERT INTO col_opt VALUES (5, 'dup', now(), 0);
UPDATE col_opt SET v = 0 WHERE id = 5;                                      -- version 44
SELECT id, v FROM col_opt WHERE id = 5;

-- a second run right after finds nothing to do and writes no version
SELECT r->'version' AS version, r->'segments_rewritten' AS rewritten, r->'segments_after' AS segs
FROM streamext.optimize('col_opt') r;
SELECT max(version) FROM streamext.history('col_opt');

-- much-deleted segments are rewritten even when full
DELETE FROM col_opt WHERE id < 800;                                         -- version 45
SELECT r->'version' AS version, r->'segments_rewritten' AS rewritten, r->'segments_after' AS segs,
	   r->'rows_after' AS rows_after
FROM streamext.optimize('col_opt') r;
SELECT col_opt_digest(46) = col_opt_digest(45) AS v46_is_v45;

-- ZORDER BY: rows clustered so that min/max skipping works on each column
CREATE FUNCTION col_opt_segments_read(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
		IF l ~ 'Segments Read:' THEN RETURN substring(l FROM 'Segments Read: (\d+)')::int; END IF;
	END LOOP;
	RETURN NULL;
END $$;
-- skip keys read only the statistics of the segments read (a scan used to fetch those of
-- every segment the OPTIMIZEs removed): after the two above the live segments come from
-- both and the removed ones too; a skipping scan, now and as of a version before both,
-- returns what a scan without skip keys returns
SELECT col_opt_segments_read($$SELECT count(*) FROM col_opt WHERE ts >= '2024-01-03 04:00+00'$$) AS read_now,
	   (SELECT count(*) FROM col_opt WHERE ts >= '2024-01-03 04:00+00') AS rows_now,
	   (SELECT count(*) FROM col_opt WHERE ts + interval '0 s' >= '2024-01-03 04:00+00') AS rows_now_unskipped,
	   col_opt_segments_read($$SELECT count(*) FROM streamext.as_of(NULL::col_opt, 42) WHERE ts < '2024-01-01 12:00+00'$$) AS read_42,
	   (SELECT count(*) FROM streamext.as_of(NULL::col_opt, 42) WHERE ts < '2024-01-01 12:00+00') AS rows_42,
	   (SELECT count(*) FROM streamext.as_of(NULL::col_opt, 42) WHERE ts + interval '0 s' < '2024-01-01 12:00+00') AS rows_42_unskipped;
CREATE TABLE col_z (a int, b text, c float8) USING versioned_columnar;
INSERT INTO col_z SELECT g % 100, 'b' || lpad(((g / 100) % 160)::text, 3, '0'), g FROM generate_series(0, 15999) g;
SELECT col_opt_segments_read('SELECT count(*) FROM col_z WHERE a = 42') AS a_before,
	   col_opt_segments_read('SELECT count(*) FROM col_z WHERE b = ''b042''') AS b_before;
CREATE TABLE col_z_before AS SELECT * FROM col_z;
SELECT r->'version' AS version, r->'zorder_by' AS zorder_by, r->'segments_rewritten' AS rewritten,
	   r->'segments_after' AS segs_after, r->'rows_after' AS rows_after
FROM streamext.optimize('col_z', zorder_by => '{a,b}') r;
SELECT col_opt_segments_read('SELECT count(*) FROM col_z WHERE a = 42') AS a_after,
	   col_opt_segments_read('SELECT count(*) FROM col_z WHERE b = ''b042''') AS b_after,
	   col_opt_segments_read('SELECT count(*) FROM col_z WHERE a = 42 AND b = ''b042''') AS both;
SELECT (SELECT count(*) FROM (SELECT * FROM col_z EXCEPT ALL SELECT * FROM col_z_before) d) AS extra,
	   (SELECT count(*) FROM (SELECT * FROM col_z_before EXCEPT ALL SELECT * FROM col_z) d) AS missing;
SELECT version, operation, parameters FROM streamext.history('col_z');
-- incremental: clustered segments stay; new ones are clustered on their own; full redoes all
SELECT r->'version' AS version, r->'segments_rewritten' AS rewritten FROM streamext.optimize('col_z', '{a,b}') r;
INSERT INTO col_z SELECT g % 100, 'new', g FROM generate_series(1, 500) g;
SELECT r->'version' AS version, r->'segments_rewritten' AS rewritten, r->'segments_added' AS added
FROM streamext.optimize('col_z', '{a,b}') r;
SELECT r->'segments_rewritten' AS rewritten FROM streamext.optimize('col_z', '{b,a}') r;
SELECT r->'segments_rewritten' AS rewritten, r->'full' AS "full"
FROM streamext.optimize('col_z', '{a,b}', full => true) r;
SELECT count(*), sum(c) FROM col_z;
-- a type with an order but not a plain one, and NULLs
CREATE TABLE col_z2 (k int[], n numeric) USING versioned_columnar;
INSERT INTO col_z2 SELECT ARRAY[g % 5, g], CASE WHEN g % 3 = 0 THEN NULL ELSE g END FROM generate_series(1, 3000) g;
SELECT r->'segments_rewritten' AS rewritten, r->'rows_after' AS rows_after
FROM streamext.optimize('col_z2', '{k,n}') r;
SELECT count(*), count(n), sum(n) FROM col_z2;

-- vacuum after optimize: with the retention passed (retain 0, the check off) the
-- oldest readable version is the OPTIMIZE version, and the segments it rewrote go
-- with their chunks and deletion vectors; the rows stay, older versions are gone
CREATE TABLE col_opt_vac (id int, v text) USING versioned_columnar;
DO $$
BEGIN
	FOR b IN 0..9 LOOP                                                       -- versions 1-10
		INSERT INTO col_opt_vac SELECT g, 'v' || g FROM generate_series(b * 50, b * 50 + 49) g;
		COMMIT;
	END LOOP;
END $$;
DELETE FROM col_opt_vac WHERE id % 4 = 0;                                  -- version 11
SELECT r->'version' AS version, r->'segments_rewritten' AS rewritten, r->'segments_after' AS after
FROM streamext.optimize('col_opt_vac') r;                                  -- version 12
CREATE TABLE col_opt_vac_before AS SELECT * FROM col_opt_vac;
SET streamext.vacuum_retention_check = off;
SELECT r->'readable_from' AS readable_from, r->'segments_removed' AS segments_removed,
	r->'deletion_records_removed' AS deletions_removed, r->'rows_removed' AS rows_removed
FROM streamext.vacuum('col_opt_vac', '0') r;
RESET streamext.vacuum_retention_check;
SELECT count(*) AS segments, count(*) FILTER (WHERE removed_version IS NOT NULL) AS removed,
	(SELECT count(*) FROM streamext.columnar_deletion d WHERE d.storage_id = s.storage_id) AS deletions
FROM streamext.columnar_segment JOIN streamext.columnar_storage s USING (storage_id)
WHERE s.relnode = pg_relation_filenode('col_opt_vac') GROUP BY s.storage_id;
SELECT (SELECT count(*) FROM col_opt_vac) AS now, (SELECT count(*) FROM col_opt_vac_before) AS before,
	(SELECT count(*) FROM (SELECT * FROM col_opt_vac EXCEPT SELECT * FROM col_opt_vac_before) d) AS differ,
	(SELECT count(*) FROM streamext.as_of(NULL::col_opt_vac, 12)) AS as_of_12;
SELECT streamext.verify('col_opt_vac') ->> 'readable_from' AS verified_readable_from;
\set VERBOSITY default
SELECT count(*) FROM streamext.as_of(NULL::col_opt_vac, 11);
\set VERBOSITY terse
DROP TABLE col_opt_vac, col_opt_vac_before;

-- errors
\set VERBOSITY default
CREATE TABLE col_opt_heap (a int, p point, j json);
SELECT streamext.optimize('col_opt_heap');
CREATE TABLE col_opt_p (a int, p point, j json) USING versioned_columnar;
SELECT streamext.optimize('col_opt_p', '{nope}');
SELECT streamext.optimize('col_opt_p', '{p}');
SELECT streamext.optimize('col_opt_p', '{a,j}');
SELECT streamext.optimize('col_opt_p', '{a,a}');
SELECT streamext.optimize('col_opt_p', '{}');
SELECT streamext.optimize('col_opt_p', '{a,a,a,a,a}');
SELECT streamext.optimize('col_opt_p', '{a,NULL}');
SELECT streamext.optimize('col_opt_p', '{ctid}');
SELECT streamext.optimize(NULL);
BEGIN;
INSERT INTO col_opt_p VALUES (1);
SELECT streamext.optimize('col_opt_p');
ROLLBACK;
CREATE ROLE regress_col_opt;
GRANT ALL ON col_opt_p TO regress_col_opt;
SET ROLE regress_col_opt;
SELECT streamext.optimize('col_opt_p');
RESET ROLE;
\set VERBOSITY terse

DROP TABLE col_opt, col_opt_before, col_opt_cdf, col_z, col_z_before, col_z2, col_opt_heap, col_opt_p;
DROP FUNCTION col_opt_digest(bigint), col_opt_segments_read(text);
DROP ROLE regress_col_opt;
