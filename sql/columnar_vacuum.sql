-- streamext.vacuum: what it removes (and with dry_run would), its errors, what
-- history and time travel show afterwards, a pipeline holding it back, and the
-- progress view's columns.
SET streamext.columnar_segment_rows = 1000;

-- errors: not a versioned table, retention check, negative retain, not the owner
CREATE TABLE vac_heap (a int);
SELECT streamext.vacuum('vac_heap');
CREATE TABLE vac (id int, grp int, v text) USING versioned_columnar;
SELECT streamext.vacuum('vac', '1 hour');
SELECT streamext.vacuum('vac', '6 days 23 hours', dry_run => true);
SET streamext.vacuum_retention_check = off;
SELECT streamext.vacuum('vac', '-1 second');
CREATE ROLE vac_other;
GRANT SELECT ON vac TO vac_other;
SET ROLE vac_other;
SELECT streamext.vacuum('vac');
RESET ROLE;

-- no versions yet: nothing to do
SELECT streamext.vacuum('vac', '0');

INSERT INTO vac SELECT g, g % 3, 'row ' || g FROM generate_series(1, 3000) g;	-- 1: 3 segments
DELETE FROM vac WHERE id <= 1000;											-- 2: segment 1 all gone
DELETE FROM vac WHERE id BETWEEN 1001 AND 1100;								-- 3
UPDATE vac SET v = 'updated' WHERE id BETWEEN 1101 AND 1150;					-- 4
INSERT INTO vac SELECT g, 0, 'late' FROM generate_series(3001, 3500) g;		-- 5

-- the default retention keeps everything (all versions are recent)
SELECT streamext.vacuum('vac') - 'bytes_removed';

-- dry_run says what would go and removes nothing
SELECT r - 'bytes_removed' AS would, (r->>'bytes_removed')::bigint > 0 AS some_bytes
FROM streamext.vacuum('vac', '0', dry_run => true) r;
SELECT count(*) FROM streamext.as_of(NULL::vac, 1);
SELECT count(*) FROM streamext.history('vac');

-- retain 0: version 5 is the oldest readable; segment 1 goes (all its rows
-- were deleted by versions <= 5), the two deletion vectors of segment 2 are
-- folded into one
SELECT r - 'bytes_removed' AS done, (r->>'bytes_removed')::bigint > 0 AS some_bytes
FROM streamext.vacuum('vac', '0') r;
SELECT count(*) FROM vac;
-- segment 2 has one deletion vector now, of version 4, keeping the successors of the 50
-- updated rows (-1, all bits set, for the 100 simply deleted)
SELECT d.segno, d.version, octet_length(d.successors) / 8 AS entries,
	(SELECT count(*) FROM generate_series(0, octet_length(d.successors) / 8 - 1) k
	 WHERE substring(d.successors FROM k * 8 + 1 FOR 8) <> '\xffffffffffffffff'::bytea) AS with_successor
FROM streamext.columnar_deletion d JOIN streamext.columnar_storage s USING (storage_id)
WHERE s.relnode = pg_relation_filenode('vac') ORDER BY d.segno;
SELECT count(*) FROM streamext.as_of(NULL::vac, 5);
SELECT count(*) FROM streamext.as_of(NULL::vac, 6);
SELECT count(*) FROM streamext.as_of(NULL::vac, 4);
SELECT count(*) FROM streamext.as_of(NULL::vac, 1);
SELECT count(*) FROM streamext.changes(NULL::vac, 5);
SELECT count(*) FROM streamext.changes(NULL::vac, 6);
SELECT streamext.restore('vac', 3);
SELECT version, operation, parameters - 'bytes_removed' AS parameters, rows_added, rows_removed
FROM streamext.history('vac') ORDER BY version;
SELECT streamext.verify('vac') ->> 'readable_from' AS verified_readable_from;
SELECT count(*) AS updated_rows FROM vac WHERE v = 'updated';

-- a second vacuum right after has nothing to do and writes no version (and
-- leaves the oldest readable version where it was)
SELECT streamext.vacuum('vac', '0') - 'bytes_removed';
SELECT max(version) FROM streamext.history('vac');

-- segments a TRUNCATE removed go once the TRUNCATE is older than the retention
CREATE TABLE vac_t (id int) USING versioned_columnar;
INSERT INTO vac_t SELECT generate_series(1, 1000);		-- 1
INSERT INTO vac_t SELECT generate_series(1, 1000);		-- 2
TRUNCATE vac_t;											-- 3
INSERT INTO vac_t SELECT generate_series(1, 10);		-- 4
SELECT (r->>'segments_removed', r->>'rows_removed', r->>'readable_from', r->>'version')
FROM streamext.vacuum('vac_t', '0') r;
SELECT count(*) FROM streamext.as_of(NULL::vac_t, 4);
SELECT count(*) FROM streamext.as_of(NULL::vac_t, 2);
SELECT (streamext.verify('vac_t')) ->> 'segments' AS segments_left;

-- a pipeline reading the table holds vacuum back at the last version it read
CREATE TABLE vac_src (id int) USING versioned_columnar;
CREATE TABLE vac_out (id int);
INSERT INTO vac_src VALUES (1);					-- 1
SET client_min_messages = error;
SELECT streamext.create_pipeline('vac_pipe', 'vac_src', 'vac_out', NULL, '{"trigger": "manual"}');
RESET client_min_messages;
SELECT streamext.run_pipeline('vac_pipe');		-- reads version 1
DELETE FROM vac_src;								-- 2
INSERT INTO vac_src VALUES (2);					-- 3
SELECT (r->>'readable_from', r->>'held_back_by_pipeline', r->>'pipeline_version')
FROM streamext.vacuum('vac_src', '0', dry_run => true) r;
SELECT streamext.run_pipeline('vac_pipe');		-- reads versions 2 and 3
SELECT (r->>'readable_from', r->>'held_back_by_pipeline')
FROM streamext.vacuum('vac_src', '0') r;
INSERT INTO vac_src VALUES (3);					-- 5 (4 is the VACUUM)
SELECT streamext.run_pipeline('vac_pipe');
SELECT id FROM vac_out ORDER BY id;
SELECT streamext.drop_pipeline('vac_pipe');

-- the progress view: one row per backend running optimize or vacuum (none now)
SELECT * FROM streamext.maintenance_progress;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'streamext.maintenance_progress'::regclass AND attnum > 0 ORDER BY attnum;

RESET streamext.vacuum_retention_check;
RESET streamext.columnar_segment_rows;
DROP TABLE vac_heap, vac, vac_t, vac_src, vac_out;
DROP ROLE vac_other;
