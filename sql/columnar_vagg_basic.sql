-- VectorizedAgg: the vectorized aggregation over versioned_columnar tables.
-- Each query runs vectorized on a gold table and as usual on its heap twin;
-- vagg_diff() counts the rows where the two answers differ (0 expected).
SET max_parallel_workers_per_gather = 0;
SET streamext.columnar_segment_rows = 1000;
CREATE TABLE vg (k int, r text, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
                 n numeric, d date, ts timestamp, tz timestamptz, t text) USING versioned_columnar;
INSERT INTO vg
SELECT CASE WHEN i % 17 = 0 THEN NULL ELSE i % 7 END,
       CASE WHEN i % 13 = 0 THEN NULL ELSE 'region-' || (i / 7 % 5) END,
       CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 37 % 30000 - 15000)::int2 END,
       CASE WHEN i % 9 = 0 THEN NULL ELSE i * 1000 END,
       CASE WHEN i % 8 = 0 THEN NULL ELSE i::int8 * 1000000000000 END,
       CASE WHEN i % 7 = 0 THEN NULL ELSE (i / 4.0)::float4 END,
       CASE WHEN i % 6 = 0 THEN NULL ELSE i / 8.0 END,
       CASE WHEN i % 5 = 0 THEN NULL WHEN i % 3 = 0 THEN (i / 4.0)::numeric
            ELSE round(i / 7.0, i % 4) END,
       CASE WHEN i % 4 = 0 THEN NULL ELSE '2020-01-01'::date + i END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE '2020-01-01'::timestamp + i * interval '1 min' END,
       '2020-01-01 00:00:00+00'::timestamptz + i * interval '1 hour',
       CASE WHEN i % 2 = 0 THEN NULL ELSE md5(i::text) END
FROM generate_series(1, 5000) i;
CREATE TABLE vh AS SELECT * FROM vg;

CREATE FUNCTION vagg_diff(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	plan text := '';
	line text;
	n bigint;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || format(q, 'vg') LOOP
		plan := plan || line;
	END LOOP;
	EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) x',
				   format(q, 'vg'), format(q, 'vh'), format(q, 'vh'), format(q, 'vg')) INTO n;
	RETURN CASE WHEN plan LIKE '%Parallel Custom Scan (VectorizedAgg)%' THEN 'parallel vectorized'
		WHEN plan LIKE '%VectorizedAgg%' THEN 'vectorized' ELSE 'not vectorized' END
		|| ', ' || n || ' rows differ';
END $$;

EXPLAIN (COSTS OFF) SELECT r, sum(n), avg(f8) FROM vg GROUP BY r;
EXPLAIN (COSTS OFF) SELECT count(*) FROM vg;
EXPLAIN (COSTS OFF) SELECT k, max(t) FROM vg WHERE tz >= '2020-06-01 00:00:00+00' AND i4 IS NOT NULL GROUP BY k HAVING count(*) > 1;

-- every aggregate and type, NULL keys and NULL values
SELECT vagg_diff('SELECT k, count(*), count(i2), count(t), sum(i2), sum(i4), sum(i8), sum(f4), sum(f8), sum(n) FROM %s GROUP BY k');
SELECT vagg_diff('SELECT k, avg(i2), avg(i4), avg(i8), avg(f4), avg(f8), avg(n) FROM %s GROUP BY k');
SELECT vagg_diff('SELECT r, k, min(i2), max(i2), min(i4), max(i4), min(i8), max(i8), min(f4), max(f4), min(f8), max(f8) FROM %s GROUP BY r, k');
SELECT vagg_diff('SELECT r, min(n), max(n), min(d), max(d), min(ts), max(ts), min(tz), max(tz), min(t), max(t) FROM %s GROUP BY r');
SELECT vagg_diff('SELECT count(*), sum(i8), avg(n), min(t), max(tz) FROM %s');
SELECT vagg_diff('SELECT t, count(*), sum(i4) FROM %s GROUP BY t');
SELECT vagg_diff('SELECT d, ts, sum(n) FROM %s GROUP BY d, ts');
SELECT vagg_diff('SELECT f8, count(*) FROM %s GROUP BY f8');
-- filters, expressions over the aggregates, HAVING
SELECT vagg_diff('SELECT r, sum(n), avg(i4) FROM %s WHERE i4 > 200000 AND n IS NOT NULL GROUP BY r');
SELECT vagg_diff('SELECT r, sum(i4) * 2, max(t) || ''!'' FROM %s WHERE ''2020-03-01''::date > d GROUP BY r HAVING count(*) > 10');
SELECT vagg_diff('SELECT k, sum(n) FROM %s WHERE k > 100 GROUP BY k');
SELECT vagg_diff('SELECT count(*), sum(n) FROM %s WHERE t IS NULL');
SELECT vagg_diff('SELECT count(*) FROM %s WHERE i8 < 1000');
-- no GROUP BY over no rows: one row; with GROUP BY: none
SELECT count(*), count(i4), sum(i4), avg(n), min(t) FROM vg WHERE i4 < 0;
SELECT k, count(*) FROM vg WHERE i4 < 0 GROUP BY k;
CREATE TABLE vempty (a int, b numeric) USING versioned_columnar;
SELECT count(*), sum(a), avg(b), max(b) FROM vempty;
-- NaN and infinities in numeric sums
CREATE TABLE vspecial (g int, x numeric, y float8) USING versioned_columnar;
INSERT INTO vspecial VALUES (1, 1.5, 1), (1, 'NaN', 2), (2, 'Infinity', 3), (2, 2.25, 4),
  (3, 'Infinity', 'Infinity'), (3, '-Infinity', 'NaN'), (4, '-Infinity', NULL), (4, 0.001, 1e-300);
SELECT g, sum(x), avg(x), sum(y), avg(y), min(x), max(x), min(y), max(y) FROM vspecial GROUP BY g ORDER BY g;
SET streamext.enable_vectorized_agg = off;
SELECT g, sum(x), avg(x), sum(y), avg(y), min(x), max(x), min(y), max(y) FROM vspecial GROUP BY g ORDER BY g;
RESET streamext.enable_vectorized_agg;
-- overflow errors as PostgreSQL raises them
CREATE TABLE vover (x float8, y float4) USING versioned_columnar;
INSERT INTO vover VALUES (1e308, 3e38), (1e308, 3e38);
SELECT sum(x) FROM vover;
SELECT sum(y) FROM vover;
TRUNCATE vover;
INSERT INTO vover VALUES (1e200, 1), (-1e200, 1);
SELECT avg(x) FROM vover;
SELECT sum(x) FROM vover;
-- count(*) from segment metadata, after deletions and in a transaction's own changes
DELETE FROM vg WHERE k = 3;
DELETE FROM vh WHERE k = 3;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM vg;
SELECT vagg_diff('SELECT count(*) FROM %s');
SELECT vagg_diff('SELECT r, count(*), sum(n) FROM %s GROUP BY r');
BEGIN;
INSERT INTO vg (k, r, i4, n) SELECT 99, 'new', i, i FROM generate_series(1, 10) i;
INSERT INTO vh (k, r, i4, n) SELECT 99, 'new', i, i FROM generate_series(1, 10) i;
DELETE FROM vg WHERE k = 1;
DELETE FROM vh WHERE k = 1;
SELECT vagg_diff('SELECT count(*) FROM %s');
SELECT vagg_diff('SELECT r, count(*), sum(n), sum(i4) FROM %s GROUP BY r');
ROLLBACK;
-- segments skipped, vectors processed
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT r, sum(i4) FROM vg WHERE tz >= '2020-07-01 00:00:00+00' GROUP BY r;
-- as_of reads
SELECT r, count(*), sum(n) FROM streamext.as_of(NULL::vg, 1) WHERE r = 'region-1' GROUP BY r;
SELECT count(*) FROM streamext.as_of(NULL::vg, 1);
EXPLAIN (COSTS OFF) SELECT r, sum(n) FROM streamext.as_of(NULL::vg, 1) GROUP BY r;
-- what it does not do keeps the usual plan
EXPLAIN (COSTS OFF) SELECT count(DISTINCT k) FROM vg;
EXPLAIN (COSTS OFF) SELECT sum(i4 + 1) FROM vg;
EXPLAIN (COSTS OFF) SELECT sum(i4) FILTER (WHERE k > 1) FROM vg;
EXPLAIN (COSTS OFF) SELECT max(t ORDER BY t) FROM vg;
EXPLAIN (COSTS OFF) SELECT stddev(f8) FROM vg;
EXPLAIN (COSTS OFF) SELECT sum(i4) FROM vg WHERE i4 <> 5;
EXPLAIN (COSTS OFF) SELECT r, sum(i4) FROM vg GROUP BY ROLLUP (r);
EXPLAIN (COSTS OFF) SELECT lower(r), sum(i4) FROM vg GROUP BY lower(r);
SET streamext.enable_vectorized_agg = off;
EXPLAIN (COSTS OFF) SELECT r, sum(n) FROM vg GROUP BY r;
RESET streamext.enable_vectorized_agg;
-- parallel plans: partial states combined by the Finalize Aggregate
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT vagg_diff('SELECT r, sum(n), avg(n), sum(i8), avg(i8), avg(i4), sum(i2), count(*), min(t), max(tz) FROM %s GROUP BY r');
SELECT vagg_diff('SELECT sum(n), avg(n), sum(i8), avg(i4), count(t) FROM %s');
SELECT vagg_diff('SELECT k, sum(i4), avg(i2), count(f4) FROM %s WHERE f4 > 100 GROUP BY k');
RESET ALL;
DROP TABLE vg, vh, vempty, vspecial, vover;
DROP FUNCTION vagg_diff(text);
