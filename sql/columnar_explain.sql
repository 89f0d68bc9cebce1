-- versioned_columnar: the custom scan reads only referenced columns and skips segments whose
-- min/max/null statistics refute the WHERE clause; EXPLAIN ANALYZE shows the counts
-- the aggregates here run over the scan, not in VectorizedAgg (columnar_vagg_basic tests that)
SET streamext.enable_vectorized_agg = off;
SET streamext.columnar_segment_rows = 1000;
CREATE TABLE col_exp (ts timestamptz, device text, qty int, maybe int) USING versioned_columnar;
INSERT INTO col_exp
SELECT '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', 'dev-' || (g % 50), g,
	   CASE WHEN g > 9000 THEN g END
FROM generate_series(0, 9999) g;

EXPLAIN (COSTS OFF) SELECT sum(qty) FROM col_exp WHERE ts >= '2024-01-07 00:00:00+00';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT sum(qty) FROM col_exp WHERE ts >= '2024-01-07 00:00:00+00';
SELECT sum(qty) FROM col_exp WHERE ts >= '2024-01-07 00:00:00+00';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM col_exp WHERE qty BETWEEN 2500 AND 2600;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM col_exp WHERE 100 > qty;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM col_exp WHERE qty = 5000::bigint;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM col_exp WHERE maybe IS NOT NULL;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM col_exp WHERE device = 'dev-7';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM col_exp WHERE ts < '2024-01-01 00:05:00+00';
-- a parameter (generic plan) is evaluated at execution
PREPARE col_q(int) AS SELECT count(*) FROM col_exp WHERE qty >= $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE col_q(9500);
EXECUTE col_q(9500);
RESET plan_cache_mode;
DEALLOCATE col_q;
-- results agree with a heap copy
CREATE TABLE col_exp_heap AS SELECT * FROM col_exp;
-- a key from an init plan is evaluated when the scan starts, after the init plan ran
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM col_exp WHERE ts >= (SELECT max(ts) FROM col_exp_heap) - interval '10 minutes';
SELECT count(*) FROM col_exp WHERE ts >= (SELECT max(ts) FROM col_exp_heap) - interval '10 minutes';
SELECT (SELECT sum(qty) FROM col_exp WHERE ts BETWEEN '2024-01-03' AND '2024-01-04' AND device <> 'dev-1')
	 = (SELECT sum(qty) FROM col_exp_heap WHERE ts BETWEEN '2024-01-03' AND '2024-01-04' AND device <> 'dev-1') AS same;
-- parallel plans use the parallel-aware scan: workers share the segments; while the
-- transaction has unwritten changes of the table, the leader scans alone
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*), sum(qty) FROM col_exp;
SELECT count(*), sum(qty) FROM col_exp;
BEGIN;
INSERT INTO col_exp (qty) VALUES (1000000);
DELETE FROM col_exp WHERE qty < 10;
SELECT count(*), sum(qty) FROM col_exp;
ROLLBACK;
SELECT count(*), sum(qty) FROM col_exp;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE col_exp, col_exp_heap;
RESET streamext.columnar_segment_rows;
-- as_of() is planned as the same scan, reading one version with projection and skipping
CREATE TABLE col_exp2 (id int, v text, ts timestamptz) USING versioned_columnar;
SET streamext.columnar_segment_rows = 1000;
INSERT INTO col_exp2 SELECT g, 'v' || g, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute'
FROM generate_series(1, 5000) g;
DELETE FROM col_exp2 WHERE id % 2 = 0;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM streamext.as_of(NULL::col_exp2, 1) WHERE id > 4500;
SELECT count(*) FROM streamext.as_of(NULL::col_exp2, 1) WHERE id > 4500;
SELECT count(*) FROM streamext.as_of(NULL::col_exp2, version => 2) WHERE id > 4500;
SELECT a FROM streamext.as_of(NULL::col_exp2, 2) a WHERE id BETWEEN 3 AND 5;
RESET streamext.columnar_segment_rows;
DROP TABLE col_exp2;
