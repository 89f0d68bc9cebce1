-- versioned_columnar: pg_stat_user_tables sees gold tables like heap tables (scans of the
-- VersionedColumnarScan custom scan and of the table AM, rows read, inserted, updated,
-- deleted, live and dead rows, VACUUM), and what ON CONFLICT leaves in the history.
-- the aggregates here run over the scan, not in VectorizedAgg (columnar_vagg_basic tests that)
SET streamext.enable_vectorized_agg = off;
-- (no autovacuum: its ANALYZE would overwrite n_live_tup/n_dead_tup while the test runs)
CREATE TABLE st (k int, v int) USING versioned_columnar WITH (autovacuum_enabled = off);
CREATE TABLE st_heap (k int, v int) WITH (autovacuum_enabled = off);
CREATE VIEW st_counts AS
	SELECT relname, seq_scan, seq_tup_read, n_tup_ins, n_tup_upd, n_tup_del, n_live_tup, n_dead_tup
	FROM pg_stat_user_tables WHERE relname IN ('st', 'st_heap') ORDER BY relname;
INSERT INTO st SELECT g, g FROM generate_series(1, 100) g;
INSERT INTO st_heap SELECT g, g FROM generate_series(1, 100) g;
-- (expressions segment skipping cannot use: the gold table reads every row, as the heap)
UPDATE st SET v = 0 WHERE k + 0 <= 10;
UPDATE st_heap SET v = 0 WHERE k + 0 <= 10;
DELETE FROM st WHERE k + 0 > 95;
DELETE FROM st_heap WHERE k + 0 > 95;
-- rolled back: counted as inserted, not as live (as on the heap)
BEGIN;
INSERT INTO st VALUES (1000, 1);
INSERT INTO st_heap VALUES (1000, 1);
ROLLBACK;
SELECT count(*) FROM st;
SELECT count(*) FROM st_heap;
SELECT sum(v) FROM st WHERE v + 0 > 50;
SELECT sum(v) FROM st_heap WHERE v + 0 > 50;
EXPLAIN (COSTS OFF) SELECT count(*) FROM st;
-- the table AM's own sequential scan (validating a constraint)
ALTER TABLE st ADD CONSTRAINT st_v CHECK (v >= 0);
ALTER TABLE st_heap ADD CONSTRAINT st_heap_v CHECK (v >= 0);
SELECT pg_stat_force_next_flush();
-- the same counts as the heap twin: scans of the custom scan and of the table AM, rows read
SELECT * FROM st_counts;
-- VACUUM is reported, and old versions are not dead rows (VACUUM cannot remove them)
VACUUM st;
SELECT pg_stat_force_next_flush();
SELECT n_live_tup, n_dead_tup, vacuum_count FROM pg_stat_user_tables WHERE relname = 'st';

-- ON CONFLICT: updated rows are updates, DO NOTHING adds nothing, one version per statement
CREATE UNIQUE INDEX ON st (k);
INSERT INTO st VALUES (1, 1), (200, 200) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
INSERT INTO st VALUES (2, 2), (200, 0) ON CONFLICT DO NOTHING;
INSERT INTO st VALUES (3, 3) ON CONFLICT DO NOTHING;
INSERT INTO st VALUES (4, 4) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
SELECT version, operation, rows_added, rows_removed FROM streamext.history('st') ORDER BY version;
SELECT count(*), sum(v) FROM st;
SELECT streamext.verify('st')->>'rows' AS verified_rows;

-- a row lock alone writes no version
BEGIN;
SELECT * FROM st WHERE k = 5 FOR UPDATE;
COMMIT;
SELECT max(version) FROM streamext.history('st');

DROP VIEW st_counts;
DROP TABLE st, st_heap;
