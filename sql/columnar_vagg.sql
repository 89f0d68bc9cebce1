-- Vectorized aggregation (Custom Scan (VectorizedAgg)) over versioned_columnar: a differential
-- test.  Every query runs on a gold table and on a heap twin holding the same rows; the answers
-- must be identical as text (so 2.50 <> 2.5, -0 <> 0, NaN = NaN), compared with EXCEPT ALL both
-- ways.  Data is chosen so float sums are exact in every order of additions; where they are not
-- (the sin() columns) results are compared with a tolerance.  vagg_used() says whether the plan
-- of the gold-table query has the VectorizedAgg node, so the comparison cannot pass vacuously.
SET streamext.columnar_segment_rows = 1000;
SET max_parallel_workers_per_gather = 0;

-- vagg_diff(q): the rows in which q differs between gold (@T = c) and heap (@T = h) tables,
-- prefixed by the side they come from; no rows when the two answers are the same multiset
CREATE FUNCTION vagg_diff(q text, c text DEFAULT 'vagg_c', h text DEFAULT 'vagg_h')
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	qc text := replace(q, '@T', c);
	qh text := replace(q, '@T', h);
BEGIN
	RETURN QUERY EXECUTE format(
		'(SELECT ''gold: '' || r FROM (SELECT r::text FROM (%s) r EXCEPT ALL SELECT r::text FROM (%s) r) x(r))
		 UNION ALL
		 (SELECT ''heap: '' || r FROM (SELECT r::text FROM (%s) r EXCEPT ALL SELECT r::text FROM (%s) r) x(r))
		 ORDER BY 1 LIMIT 10', qc, qh, qh, qc);
END $$;
-- vagg_explain_lines(q): the lines of EXPLAIN (COSTS OFF) q
CREATE FUNCTION vagg_explain_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || q;
END $$;
-- vagg_used(q): does the plan of q over the gold table contain the VectorizedAgg node?
CREATE FUNCTION vagg_used(q text, c text DEFAULT 'vagg_c') RETURNS bool LANGUAGE sql AS $$
	SELECT count(*) > 0 FROM vagg_explain_lines(replace(q, '@T', c)) l WHERE l LIKE '%VectorizedAgg%' $$;
-- vagg_parallel(q): does that plan gather parallel workers?
CREATE FUNCTION vagg_parallel(q text, c text DEFAULT 'vagg_c') RETURNS bool LANGUAGE sql AS $$
	SELECT count(*) > 0 FROM vagg_explain_lines(replace(q, '@T', c)) l WHERE l LIKE '%Gather%' $$;
-- queries to check: expect_vagg true = must be vectorized, false = must not, NULL = either
CREATE TABLE vagg_q (id serial, name text, q text, expect_vagg bool);

-- 9,000 rows in 9 segments: ids 1-3000 have no NULLs (np = 'none'), 3001-6000 some (every
-- third row per column, and segment 4001-5000 holds one non-NULL value per column), 6001-9000
-- only NULLs (np = 'all': whole segments).  Integers reach their type's limits (sum(int8)
-- leaves int64), numerics mix display scales and 30-digit values, dates and timestamps
-- include infinities, tu sorts differently in ICU than bytewise.
-- vagg_nul(np, g, j): is column j NULL in row g?
CREATE FUNCTION vagg_nul(np text, g int, j int) RETURNS bool LANGUAGE sql IMMUTABLE AS $$
	SELECT np = 'all' OR (np = 'some' AND ((g BETWEEN 4001 AND 5000 AND g <> 4500) OR (g + j) % 3 = 0)) $$;
CREATE TABLE vagg_h (id int, np text, k1 int, k2 text, i2 int2, i4 int4, i8 int8, f4 float4,
					 f8 float8, n numeric, n2 numeric(12,2), d date, ts timestamp, tz timestamptz,
					 t text, tu text COLLATE "und-x-icu", fr float8, fr4 float4, iv interval);
INSERT INTO vagg_h
SELECT g, np, CASE WHEN g % 11 <> 0 THEN g % 7 END, CASE WHEN g % 13 <> 0 THEN 'r' || g % 5 END,
	   CASE WHEN NOT vagg_nul(np, g, 1) THEN CASE WHEN g % 1000 = 7 THEN -32768 ELSE (g * 37) % 65535 - 32767 END END,
	   CASE WHEN NOT vagg_nul(np, g, 2) THEN CASE g % 1000 WHEN 11 THEN 2147483647 WHEN 13 THEN -2147483648
										 ELSE (g * 7919) % 200001 - 100000 END END,
	   CASE WHEN NOT vagg_nul(np, g, 3) THEN CASE WHEN g % 100 = 17 THEN 9223372036854775807 - g
									WHEN g % 200 = 19 THEN -9223372036854775808 + g
									ELSE g * 1000000007::int8 END END,
	   CASE WHEN NOT vagg_nul(np, g, 4) THEN ((g * 13) % 1201 - 600) * 0.25 END,
	   CASE WHEN NOT vagg_nul(np, g, 5) THEN ((g * 17) % 4001 - 2000) * 0.125 END,
	   CASE WHEN NOT vagg_nul(np, g, 6) THEN CASE WHEN g % 500 = 3 THEN 1e30 + g WHEN g % 500 = 4 THEN -1e25 - g
									ELSE round(((g * 31) % 100003 - 50000)::numeric / 7, g % 5) END END,
	   CASE WHEN NOT vagg_nul(np, g, 7) THEN ((g * 7) % 100000) / 100.0 END,
	   CASE WHEN NOT vagg_nul(np, g, 8) THEN CASE g WHEN 1500 THEN 'infinity' WHEN 2500 THEN '-infinity'
										ELSE date '2000-01-01' + ((g * 11) % 20000 - 10000) END END,
	   CASE WHEN NOT vagg_nul(np, g, 9) THEN CASE g WHEN 1501 THEN 'infinity' WHEN 2501 THEN '-infinity'
										ELSE timestamp '2024-01-01' + ((g * 7919) % 100000) * interval '1 minute' END END,
	   CASE WHEN NOT vagg_nul(np, g, 10) THEN CASE g WHEN 1502 THEN 'infinity'
			ELSE timestamptz '2024-01-01 00:00:00+00' + ((g * 104729) % 100000) * interval '1 second' END END,
	   CASE WHEN NOT vagg_nul(np, g, 11) THEN CASE WHEN g % 997 = 0 THEN repeat('z', 3000) || g WHEN g % 7 = 0 THEN ''
										ELSE 'v' || (g * 389) % 1000 END END,
	   CASE WHEN NOT vagg_nul(np, g, 12) THEN (ARRAY['a', 'B', 'b', 'A'])[g % 4 + 1] || g % 50 END,
	   CASE WHEN NOT vagg_nul(np, g, 13) THEN sin(g) * 1e6 END,
	   CASE WHEN NOT vagg_nul(np, g, 14) THEN (sin(g) * 1000)::float4 END,
	   CASE WHEN NOT vagg_nul(np, g, 15) THEN g * interval '1 minute' END
FROM (SELECT g, CASE WHEN g <= 3000 THEN 'none' WHEN g <= 6000 THEN 'some' ELSE 'all' END AS np
	  FROM generate_series(1, 9000) g) s;
CREATE TABLE vagg_c (LIKE vagg_h) USING versioned_columnar;
INSERT INTO vagg_c SELECT * FROM vagg_h ORDER BY id;                       -- version 1
CREATE TABLE vagg_h1 AS SELECT * FROM vagg_h;                             -- heap copy of version 1
DELETE FROM vagg_c WHERE id % 10 = 5;                                     -- version 2
DELETE FROM vagg_h WHERE id % 10 = 5;
UPDATE vagg_c SET i4 = i4 + 1, t = t || 'u' WHERE id % 17 = 0;            -- version 3
UPDATE vagg_h SET i4 = i4 + 1, t = t || 'u' WHERE id % 17 = 0;
ANALYZE vagg_c, vagg_h, vagg_h1;
SELECT count(*), count(DISTINCT np), sum(i8) > 9223372036854775807 AS sum_i8_beyond_int64 FROM vagg_c;

-- every supported aggregate x type x NULL pattern (GROUP BY np: none, some, all NULL; a
-- whole-table and an all-NULL aggregate without GROUP BY; GROUP BY two keys with NULLs)
INSERT INTO vagg_q (name, q, expect_vagg)
SELECT format('%s(%s) %s', a, c, f), format(tmpl, a || '(' || c || ')'), true
FROM (VALUES ('i2', true), ('i4', true), ('i8', true), ('f4', true), ('f8', true), ('n', true),
			 ('n2', true), ('d', false), ('ts', false), ('tz', false), ('t', false)) cols(c, arith),
	 (VALUES ('count'), ('sum'), ('avg'), ('min'), ('max')) aggs(a),
	 (VALUES ('by np', 'SELECT np, %s FROM @T GROUP BY np'),
			 ('whole table', 'SELECT %s FROM @T'),
			 ('all NULL', 'SELECT %s FROM @T WHERE np = ''all'''),
			 ('by k1, k2', 'SELECT k1, k2, %s FROM @T GROUP BY k1, k2')) forms(f, tmpl)
WHERE arith OR a IN ('count', 'min', 'max')
ORDER BY c, a, f;
INSERT INTO vagg_q (name, q, expect_vagg) VALUES
	('count(*) whole table', 'SELECT count(*) FROM @T', true),
	('count(*) by np', 'SELECT np, count(*) FROM @T GROUP BY np', true),
	('count(*) all NULL', 'SELECT count(*), count(i4) FROM @T WHERE np = ''all''', true),
	('all aggregates of every type by k2',
	 'SELECT k2, count(*), count(i2), sum(i2), avg(i2), min(i2), max(i2), count(i4), sum(i4), avg(i4),
			 min(i4), max(i4), count(i8), sum(i8), avg(i8), min(i8), max(i8), count(f4), sum(f4),
			 avg(f4), min(f4), max(f4), count(f8), sum(f8), avg(f8), min(f8), max(f8), count(n),
			 sum(n), avg(n), min(n), max(n), sum(n2), avg(n2), min(d), max(d), min(ts), max(ts),
			 min(tz), max(tz), count(t), min(t), max(t) FROM @T GROUP BY k2', true),
	('the same aggregate twice, and of a key', 'SELECT k1, sum(i4), sum(i4), min(k1), max(k2) FROM @T GROUP BY k1', true),
	('aggregates only of keys', 'SELECT k1, k2, count(k1), min(k2) FROM @T GROUP BY k1, k2', true),
	('no aggregate (GROUP BY as DISTINCT)', 'SELECT k1, k2 FROM @T GROUP BY k1, k2', NULL),
	('min/max of text in an ICU collation', 'SELECT k1, min(tu), max(tu), count(tu) FROM @T GROUP BY k1', NULL),
	('GROUP BY an ICU-collated text', 'SELECT tu, count(*), sum(i4) FROM @T GROUP BY tu', NULL),
	('count(1)', 'SELECT k1, count(1) FROM @T GROUP BY k1', NULL),
	('ORDER BY and LIMIT over the groups', 'SELECT k1, sum(i8) FROM @T GROUP BY k1 ORDER BY 2 DESC LIMIT 3', NULL),
	('HAVING', 'SELECT k2, sum(i4), max(t) FROM @T GROUP BY k2 HAVING sum(i4) > 0 AND count(*) > 10', NULL),
	('GROUP BY an expression', 'SELECT k1 % 3, sum(i4) FROM @T GROUP BY k1 % 3', NULL),
	('aggregate in a subquery', 'SELECT * FROM (SELECT k1, max(tz) FROM @T GROUP BY k1) s WHERE k1 > 2', NULL);
-- GROUP BY keys of every type (NULL keys included); keys of about one group per row are
-- planned by cost (HashAggregate may win) and forced below
INSERT INTO vagg_q (name, q, expect_vagg)
SELECT 'GROUP BY key ' || k, format('SELECT %s, count(*), count(i8), sum(i4), avg(f8), min(t), max(n) FROM @T GROUP BY %1$s', k), few
FROM (VALUES ('np', true), ('k1', true), ('k2', true), ('i2', NULL), ('i4', NULL), ('i8', NULL), ('f4', true),
			 ('f8', NULL), ('n2', NULL), ('d', NULL), ('ts', NULL), ('tz', NULL), ('t', true), ('k1, k2, np', true),
			 ('d, k2', NULL), ('tu', true)) k(k, few);
-- filters: simple comparisons of a column with a constant (pushed into the vectorized scan)
-- and others (evaluated however the node likes; the answer must be the same)
INSERT INTO vagg_q (name, q, expect_vagg)
SELECT 'WHERE ' || w, format('SELECT k1, count(*), sum(i8), avg(f4), min(t), max(d) FROM @T WHERE %s GROUP BY k1', w), simple
FROM (VALUES ('i2 < 0', true), ('i4 >= 0', true), ('i8 > 0', true), ('f4 <= 10.5', true),
			 ('f8 > -3.25', true), ('n >= 100', true), ('n2 < 500', true), ('d < ''2000-06-01''', true),
			 ('ts >= ''2024-02-01''', true), ('tz < ''2024-01-01 12:00:00+00''', true), ('t = ''v7''', true),
			 ('t > ''v5''', true), ('k1 = 3', true), ('k1 <> 3', NULL), ('k2 = ''r2''', true),
			 ('i4 BETWEEN -1000 AND 50000', true), ('i4 > 0 AND k2 <= ''r3'' AND d IS NOT NULL', NULL),
			 ('i4 IS NULL', NULL), ('i4 IS NOT NULL', NULL), ('i4 = NULL', NULL),
			 ('i4 < 3000000000::int8', NULL), ('i2 > 100::int4', NULL), ('tz >= ''2024-01-01 06:00''::timestamp', NULL),
			 ('tu > ''a''', NULL), ('i4 % 2 = 0', NULL), ('t LIKE ''v1%''', NULL),
			 ('i4 > 0 OR k1 = 1', NULL), ('np = ''none'' AND i8 < 0', true), ('false', NULL)) w(w, simple);
-- anything the node cannot do falls back to the normal plan, with the same answer
INSERT INTO vagg_q (name, q, expect_vagg) VALUES
	('string_agg', 'SELECT k1, string_agg(t, '','' ORDER BY id) FROM @T GROUP BY k1', false),
	('stddev', 'SELECT k1, round(stddev(f8)::numeric, 6), count(*) FROM @T GROUP BY k1', false),
	('an unsupported aggregate next to supported ones', 'SELECT k1, sum(i4), bool_and(i4 > 0) FROM @T GROUP BY k1', false),
	('min/max/sum/avg of a type not in the list', 'SELECT k1, min(iv), max(iv), sum(iv), avg(iv) FROM @T GROUP BY k1', false),
	('sum(a + b)', 'SELECT k1, sum(i2 + k1) FROM @T GROUP BY k1', false),
	('avg(cast)', 'SELECT k1, avg(i4::float8) FROM @T GROUP BY k1', false),
	('FILTER', 'SELECT k1, sum(i4) FILTER (WHERE i2 > 0), count(*) FROM @T GROUP BY k1', false),
	('count(DISTINCT)', 'SELECT k1, count(DISTINCT k2) FROM @T GROUP BY k1', false),
	('sum(DISTINCT)', 'SELECT sum(DISTINCT i4), count(*) FROM @T', false),
	('ORDER BY inside an aggregate', 'SELECT k1, min(t ORDER BY id), sum(i4 ORDER BY id) FROM @T GROUP BY k1', false),
	('GROUPING SETS', 'SELECT k1, k2, sum(i4), count(*) FROM @T GROUP BY GROUPING SETS ((k1), (k2), ())', false),
	('ROLLUP', 'SELECT k1, k2, sum(i8) FROM @T GROUP BY ROLLUP (k1, k2)', false),
	('CUBE', 'SELECT k1, np, min(d) FROM @T GROUP BY CUBE (k1, np)', false),
	('ordered-set aggregate', 'SELECT k1, percentile_disc(0.5) WITHIN GROUP (ORDER BY i4) FROM @T GROUP BY k1', false),
	('a join', 'SELECT a.k1, count(*), sum(b.i4) FROM @T a JOIN @T b ON a.id = b.id + 1 WHERE a.id < 2000 GROUP BY a.k1', false);
SELECT count(*) AS queries, count(*) FILTER (WHERE expect_vagg) AS vectorized,
	   count(*) FILTER (WHERE NOT expect_vagg) AS fallbacks FROM vagg_q;
-- the answers: no differences
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q) d ORDER BY q.id, d;
-- the plans: vectorized where it must be, not where it cannot be
SELECT name, vagg_used(q) AS vectorized FROM vagg_q WHERE vagg_used(q) IS DISTINCT FROM coalesce(expect_vagg, vagg_used(q)) ORDER BY id;

-- many groups: with HashAggregate out of the way the vectorized node must take them, and agree
SET enable_hashagg = off;
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q) d WHERE q.name LIKE 'GROUP BY key %' ORDER BY q.id, d;
SELECT name, vagg_used(q) AS vectorized FROM vagg_q WHERE name LIKE 'GROUP BY key %' AND NOT vagg_used(q) ORDER BY id;
RESET enable_hashagg;

-- what EXPLAIN shows
EXPLAIN (COSTS OFF) SELECT np, count(*), sum(i4), avg(f8), min(t), max(tz) FROM vagg_c GROUP BY np;
EXPLAIN (COSTS OFF) SELECT count(*), sum(n) FROM vagg_c WHERE d >= '2000-01-01' AND k2 = 'r1';
EXPLAIN (COSTS OFF) SELECT sum(i8), min(t) FROM vagg_c;
-- EXPLAIN ANALYZE: vectors processed, segments skipped; count(*) from segment metadata
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT np, count(*), sum(i8) FROM vagg_c WHERE id > 7000 GROUP BY np;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM vagg_c;
EXPLAIN (COSTS OFF) SELECT k1, string_agg(t, ',') FROM vagg_c GROUP BY k1;
EXPLAIN (COSTS OFF) SELECT k1, sum(i2 + k1) FROM vagg_c GROUP BY k1;
EXPLAIN (COSTS OFF) SELECT k1, sum(i4) FILTER (WHERE i2 > 0) FROM vagg_c GROUP BY k1;
EXPLAIN (COSTS OFF) SELECT k1, count(DISTINCT k2) FROM vagg_c GROUP BY k1;
EXPLAIN (COSTS OFF) SELECT k1, min(t ORDER BY id) FROM vagg_c GROUP BY k1;
EXPLAIN (COSTS OFF) SELECT k1, k2, sum(i4) FROM vagg_c GROUP BY GROUPING SETS ((k1), (k2));
-- the setting turns it off; answers stay the same
SHOW streamext.enable_vectorized_agg;
SET streamext.enable_vectorized_agg = off;
EXPLAIN (COSTS OFF) SELECT np, count(*), sum(i4), avg(f8), min(t), max(tz) FROM vagg_c GROUP BY np;
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q) d WHERE q.name LIKE '% by np' OR q.name LIKE 'all aggregates%' ORDER BY q.id, d;
SELECT count(*) AS vectorized_while_off FROM vagg_q WHERE vagg_used(q);
RESET streamext.enable_vectorized_agg;

-- as_of: version 1 (before the DELETE and UPDATE) and the current version 3
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q, 'streamext.as_of(NULL::vagg_c, 1)', 'vagg_h1') d
WHERE q.name IN ('all aggregates of every type by k2', 'count(*) whole table', 'count(*) by np',
				 'WHERE tz < ''2024-01-01 12:00:00+00''', 'WHERE k2 = ''r2''', 'sum(n) by k1, k2', 'max(t) all NULL')
ORDER BY q.id, d;
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q, 'streamext.as_of(NULL::vagg_c, 3)', 'vagg_h') d
WHERE q.name IN ('all aggregates of every type by k2', 'count(*) whole table', 'WHERE i8 > 0')
ORDER BY q.id, d;
SELECT vagg_used('SELECT k2, count(*), sum(i8), min(t) FROM @T GROUP BY k2', 'streamext.as_of(NULL::vagg_c, 1)') AS as_of_vectorized,
	   vagg_used('SELECT count(*) FROM @T', 'streamext.as_of(NULL::vagg_c, 1)') AS as_of_count_vectorized;
EXPLAIN (COSTS OFF) SELECT k2, count(*), sum(i8), min(t) FROM streamext.as_of(NULL::vagg_c, 1) GROUP BY k2;
SELECT (SELECT count(*) FROM streamext.as_of(NULL::vagg_c, 1)) AS v1_rows,
	   (SELECT count(*) FROM streamext.as_of(NULL::vagg_c, 2)) AS v2_rows,
	   (SELECT count(*) FROM vagg_c) AS current_rows;

-- rows the transaction has inserted, deleted and updated but not yet written count too
BEGIN;
INSERT INTO vagg_c SELECT * FROM vagg_h1 WHERE id % 10 = 5 AND id < 4000;
INSERT INTO vagg_h SELECT * FROM vagg_h1 WHERE id % 10 = 5 AND id < 4000;
DELETE FROM vagg_c WHERE id % 10 = 1;
DELETE FROM vagg_h WHERE id % 10 = 1;
UPDATE vagg_c SET i8 = -i8, t = 'x' || t WHERE id % 10 = 2;
UPDATE vagg_h SET i8 = -i8, t = 'x' || t WHERE id % 10 = 2;
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q) d
WHERE q.name IN ('all aggregates of every type by k2', 'count(*) whole table', 'count(*) by np', 'WHERE i8 > 0', 'WHERE t > ''v5''')
ORDER BY q.id, d;
SELECT vagg_used('SELECT count(*) FROM @T') AS count_vectorized,
	   vagg_used('SELECT k2, count(*), sum(i8), min(t) FROM @T WHERE i8 > 0 GROUP BY k2') AS vectorized;
ROLLBACK;
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q) d WHERE q.name IN ('count(*) whole table', 'all aggregates of every type by k2')
ORDER BY q.id, d;

-- float sums whose order of additions matters (sin() values): equal within rounding
SELECT count(*) AS float_sums_apart FROM
	(SELECT k1, sum(fr) s, avg(fr) a, sum(abs(fr)) m FROM vagg_h GROUP BY k1) h
	FULL JOIN (SELECT k1, sum(fr) s, avg(fr) a FROM vagg_c GROUP BY k1) c ON coalesce(c.k1, -1) = coalesce(h.k1, -1)
WHERE (c.s IS NULL) <> (h.s IS NULL) OR abs(c.s - h.s) > 1e-12 * h.m OR abs(c.a - h.a) > 1e-12 * h.m;
-- sum(float4) adds in float4: the tolerance is that of float4
SELECT count(*) AS float4_sums_apart FROM
	(SELECT k2, sum(fr4) s, avg(fr4) a, sum(abs(fr4)) m FROM vagg_h GROUP BY k2) h
	FULL JOIN (SELECT k2, sum(fr4) s, avg(fr4) a FROM vagg_c GROUP BY k2) c ON coalesce(c.k2, '-') = coalesce(h.k2, '-')
WHERE (c.s IS NULL) <> (h.s IS NULL) OR abs(c.s - h.s) > 1e-4 * h.m OR abs(c.a - h.a) > 1e-12 * h.m;
SELECT vagg_used('SELECT k1, sum(fr) s, avg(fr) a FROM @T GROUP BY k1') AS vectorized,
	   vagg_used('SELECT k2, sum(fr4) s, avg(fr4) a FROM @T GROUP BY k2') AS vectorized_float4;

-- a column added later (old segments read its default) and a dropped column
ALTER TABLE vagg_c ADD COLUMN extra int DEFAULT 7, DROP COLUMN fr4;
ALTER TABLE vagg_h ADD COLUMN extra int DEFAULT 7, DROP COLUMN fr4;
INSERT INTO vagg_c (id, np, k1, extra) VALUES (9001, 'none', 1, 100), (9002, 'none', NULL, NULL);
INSERT INTO vagg_h (id, np, k1, extra) VALUES (9001, 'none', 1, 100), (9002, 'none', NULL, NULL);
SELECT d FROM vagg_diff('SELECT k1, count(extra), sum(extra), avg(extra), min(extra), max(extra), sum(i4), max(fr) FROM @T GROUP BY k1') d;
SELECT vagg_used('SELECT k1, count(extra), sum(extra), min(extra), sum(i4) FROM @T GROUP BY k1') AS vectorized;
SELECT k1, count(extra), sum(extra), min(extra), max(extra) FROM vagg_c GROUP BY k1 ORDER BY k1;

-- empty tables: without GROUP BY one row, with GROUP BY none; a table whose rows are all
-- deleted and one whose rows the WHERE clause refutes answer the same
CREATE TABLE vagg_ce (LIKE vagg_h) USING versioned_columnar;
CREATE TABLE vagg_he (LIKE vagg_h);
SELECT count(*), count(i4), sum(i2), sum(i4), sum(i8), avg(i4), sum(f4), avg(f8), sum(n), avg(n), min(d),
	   max(tz), min(t), max(t) FROM vagg_ce;
SELECT k1, count(*), sum(i4) FROM vagg_ce GROUP BY k1;
SELECT d FROM vagg_diff('SELECT count(*), count(i4), sum(i2), sum(i4), sum(i8), avg(i4), sum(f4), avg(f8), sum(n),
								avg(n), min(d), max(tz), min(t), max(t) FROM @T', 'vagg_ce', 'vagg_he') d;
INSERT INTO vagg_ce SELECT * FROM vagg_h WHERE id < 2500;
DELETE FROM vagg_ce;
SELECT d FROM vagg_diff('SELECT count(*), count(i4), sum(i2), sum(i4), sum(i8), avg(i4), sum(f4), avg(f8), sum(n),
								avg(n), min(d), max(tz), min(t), max(t) FROM @T', 'vagg_ce', 'vagg_he') d;
SELECT count(*), sum(i8), min(t) FROM vagg_ce;
SELECT k1, count(*) FROM vagg_ce GROUP BY k1;
SELECT vagg_used('SELECT count(*), sum(i8), min(t) FROM @T', 'vagg_ce') AS vectorized;
SELECT count(*), sum(i8), max(tz) FROM vagg_c WHERE i4 > 2147483647;
SELECT k1, count(*) FROM vagg_c WHERE i4 > 2147483647 GROUP BY k1;
TRUNCATE vagg_ce;
SELECT count(*), sum(i8), min(t) FROM vagg_ce;

-- NaN, infinities and NULL: what the float and numeric aggregates make of them
CREATE TABLE vagg_sh (g int, f4 float4, f8 float8, n numeric);
INSERT INTO vagg_sh VALUES (1, 'NaN', 'NaN', 'NaN'), (1, 1, 1, 1), (2, 'Infinity', 'Infinity', 'Infinity'), (2, 1, 1, 1),
	(3, 'Infinity', 'Infinity', 'Infinity'), (3, '-Infinity', '-Infinity', '-Infinity'), (4, '-Infinity', '-Infinity', '-Infinity'),
	(5, NULL, NULL, NULL), (6, 'NaN', 'NaN', 'NaN'), (6, '-Infinity', '-Infinity', '-Infinity'), (7, 'NaN', 'NaN', 'NaN'),
	(8, 1e38, 1e300, 1e30), (8, 1e38, 1e300, 1e30), (9, '-0', '-0', '-0');
CREATE TABLE vagg_sc (LIKE vagg_sh) USING versioned_columnar;
INSERT INTO vagg_sc SELECT * FROM vagg_sh;
SELECT g, count(f8), sum(f4), avg(f4), min(f4), max(f4), sum(f8), avg(f8), min(f8), max(f8) FROM vagg_sc GROUP BY g ORDER BY g;
SELECT g, count(n), sum(n), avg(n), min(n), max(n) FROM vagg_sc GROUP BY g ORDER BY g;
SELECT d FROM vagg_diff('SELECT g, count(f8), sum(f4), avg(f4), min(f4), max(f4), sum(f8), avg(f8), min(f8), max(f8),
								sum(n), avg(n), min(n), max(n) FROM @T GROUP BY g', 'vagg_sc', 'vagg_sh') d;
SELECT vagg_used('SELECT g, sum(f4), avg(f4), min(f4), max(f4), sum(f8), avg(f8), min(f8), max(f8), sum(n), avg(n) FROM @T GROUP BY g', 'vagg_sc') AS vectorized;

-- overflow: the same errors as PostgreSQL's own aggregates.  sum(float4/float8) raise
-- "value out of range" when finite inputs add up to infinity; avg(float8) also when its sum of
-- squared deviations does (the transition function keeps it for stddev); avg(float4) adds in
-- float8 and does not overflow; integer sums go to int8 or numeric and do not overflow.
INSERT INTO vagg_sh VALUES (10, 3e38, 1e308, 1), (10, 3e38, 1e308, 1), (11, 1, 1e200, 1), (11, 1, -1e200, 1);
INSERT INTO vagg_sc SELECT * FROM vagg_sh WHERE g >= 10;
SELECT vagg_used('SELECT sum(f8) FROM @T WHERE g = 10', 'vagg_sc') AS vectorized;
SELECT sum(f8) FROM vagg_sc WHERE g = 10;
SELECT sum(f8) FROM vagg_sh WHERE g = 10;
SELECT sum(f4) FROM vagg_sc WHERE g = 10;
SELECT sum(f4) FROM vagg_sh WHERE g = 10;
SELECT avg(f4), sum(f4::float8) FROM vagg_sc WHERE g = 10;
SELECT avg(f8) FROM vagg_sc WHERE g = 11;
SELECT avg(f8) FROM vagg_sh WHERE g = 11;
SELECT sum(f8) FROM vagg_sc WHERE g = 11;
SELECT g, sum(f8) FROM vagg_sc GROUP BY g;
SELECT g, sum(f8) FROM vagg_sh GROUP BY g;
SELECT g, avg(f8) FROM vagg_sc WHERE g > 9 GROUP BY g;
SELECT g, avg(f8) FROM vagg_sh WHERE g > 9 GROUP BY g;
SELECT sum(i8), avg(i8), sum(i4), avg(i4) FROM (SELECT * FROM vagg_c WHERE i8 > 9223372036854775000) s;
SELECT d FROM vagg_diff('SELECT sum(i8), avg(i8), sum(i4), sum(i2), avg(i2) FROM @T WHERE i8 > 9223372036854775000 OR i4 = 2147483647') d;

-- a parameter of a generic plan is compared like a constant
SET plan_cache_mode = force_generic_plan;
PREPARE vagg_p(int, text) AS
	SELECT 'gold', r::text FROM (SELECT k1, count(*), sum(i8), min(t), avg(n2) FROM vagg_c WHERE i4 > $1 AND k2 >= $2 GROUP BY k1) r
	EXCEPT ALL
	SELECT 'gold', r::text FROM (SELECT k1, count(*), sum(i8), min(t), avg(n2) FROM vagg_h WHERE i4 > $1 AND k2 >= $2 GROUP BY k1) r
	UNION ALL
	(SELECT 'heap', r::text FROM (SELECT k1, count(*), sum(i8), min(t), avg(n2) FROM vagg_h WHERE i4 > $1 AND k2 >= $2 GROUP BY k1) r
	 EXCEPT ALL
	 SELECT 'heap', r::text FROM (SELECT k1, count(*), sum(i8), min(t), avg(n2) FROM vagg_c WHERE i4 > $1 AND k2 >= $2 GROUP BY k1) r);
EXECUTE vagg_p(1000, 'r3');
EXECUTE vagg_p(-50000, 'r1');
SELECT count(*) AS vectorized_nodes FROM (SELECT l FROM vagg_explain_lines('EXECUTE vagg_p(1000, ''r3'')') l) e WHERE l LIKE '%VectorizedAgg%';
DEALLOCATE vagg_p;
RESET plan_cache_mode;

-- HAVING, expressions over aggregates, constants, an init plan's value, and the group
-- columns in another order than the select list
INSERT INTO vagg_q (name, q, expect_vagg) VALUES
	('HAVING on an aggregate not selected', 'SELECT k1, sum(i4) FROM @T GROUP BY k1 HAVING max(i8) > 0 AND min(t) < ''v5''', true),
	('HAVING without GROUP BY', 'SELECT count(*), sum(i4) FROM @T HAVING count(*) > 100000', NULL),
	('expressions over aggregates', 'SELECT k2, sum(i4) + 1, sum(i8) / count(*), ''x'' AS c, max(n2) - min(n2) FROM @T GROUP BY k2', NULL),
	('keys in another order', 'SELECT sum(i2), k2, count(*), k1 FROM @T GROUP BY k1, k2', NULL),
	('a key not selected', 'SELECT sum(i2), count(*) FROM @T GROUP BY k1, np', NULL),
	('an init plan''s value', 'SELECT k1, count(*) FROM @T WHERE i4 > (SELECT 1000) GROUP BY k1', NULL);
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q) d WHERE q.id > (SELECT max(id) - 6 FROM vagg_q) ORDER BY q.id, d;
SELECT name, vagg_used(q) AS vectorized FROM vagg_q WHERE id > (SELECT max(id) - 6 FROM vagg_q)
	AND vagg_used(q) IS DISTINCT FROM coalesce(expect_vagg, vagg_used(q)) ORDER BY id;
-- run again with another parameter: correlated subqueries and LATERAL (a rescan per outer row)
CREATE TABLE vagg_o (k int);
INSERT INTO vagg_o VALUES (1), (2), (NULL), (1), (6);
SELECT d FROM vagg_diff('SELECT o.k, (SELECT count(*) FROM @T c WHERE c.k1 = o.k), (SELECT sum(i8) FROM @T c WHERE c.k1 >= o.k) FROM vagg_o o') d;
SELECT d FROM vagg_diff('SELECT o.k, s.* FROM vagg_o o, LATERAL (SELECT k2, count(*), min(t), max(i4) FROM @T c WHERE c.k1 = o.k GROUP BY k2) s') d;
SELECT vagg_used('SELECT o.k, s.* FROM vagg_o o, LATERAL (SELECT k2, count(*), min(t), max(i4) FROM @T c WHERE c.k1 = o.k GROUP BY k2) s') AS vectorized;
-- a scroll cursor reads the groups backward as it read them forward
CREATE FUNCTION vagg_scroll(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE c refcursor; r record; fwd text[] := '{}'; bwd text[] := '{}';
BEGIN
	OPEN c SCROLL FOR EXECUTE q;
	LOOP FETCH NEXT FROM c INTO r; EXIT WHEN NOT FOUND; fwd := fwd || r::text; END LOOP;
	LOOP FETCH PRIOR FROM c INTO r; EXIT WHEN NOT FOUND; bwd := r::text || bwd; END LOOP;
	CLOSE c;
	RETURN format('%s rows, backward %s', cardinality(fwd), CASE WHEN fwd = bwd THEN 'the same' ELSE 'different' END);
END $$;
SELECT vagg_scroll('SELECT k2, count(*), sum(i8) FROM vagg_c GROUP BY k2') AS scroll,
	   vagg_scroll('SELECT count(*), max(t) FROM vagg_c') AS scroll_one_row;
-- inheritance: a parent with a heap child is not one table (the child's rows count); ONLY is
CREATE TABLE vagg_child (more int) INHERITS (vagg_c);
INSERT INTO vagg_child (id, np, k1, i4, t) VALUES (10001, 'none', 1, 5, 'child'), (10002, 'all', NULL, NULL, NULL);
CREATE TABLE vagg_hall AS SELECT * FROM vagg_h;
INSERT INTO vagg_hall (id, np, k1, i4, t) VALUES (10001, 'none', 1, 5, 'child'), (10002, 'all', NULL, NULL, NULL);
SELECT d FROM vagg_diff('SELECT k1, count(*), sum(i4), max(t) FROM @T GROUP BY k1', 'vagg_c', 'vagg_hall') d;
SELECT d FROM vagg_diff('SELECT k1, count(*), sum(i4), max(t) FROM @T GROUP BY k1', 'ONLY vagg_c', 'vagg_h') d;
SELECT vagg_used('SELECT k1, count(*), sum(i4), max(t) FROM @T GROUP BY k1', 'ONLY vagg_c') AS only_vectorized;
DROP TABLE vagg_child, vagg_hall;
-- row-level security: the policy's condition applies to the vectorized aggregation too
CREATE ROLE regress_vagg_reader;
GRANT SELECT ON vagg_c, vagg_h TO regress_vagg_reader;
ALTER TABLE vagg_c ENABLE ROW LEVEL SECURITY;
ALTER TABLE vagg_h ENABLE ROW LEVEL SECURITY;
CREATE POLICY vagg_pc ON vagg_c FOR SELECT TO regress_vagg_reader USING (k2 = 'r1' AND i4 > 0);
CREATE POLICY vagg_ph ON vagg_h FOR SELECT TO regress_vagg_reader USING (k2 = 'r1' AND i4 > 0);
SET ROLE regress_vagg_reader;
SELECT count(*), sum(i8), min(t) FROM vagg_c;
SELECT count(*), sum(i8), min(t) FROM vagg_h;
SELECT d FROM vagg_diff('SELECT k1, count(*), sum(i8), avg(f8), min(t) FROM @T WHERE d > ''1995-01-01'' GROUP BY k1') d;
RESET ROLE;
DROP POLICY vagg_pc ON vagg_c;
DROP POLICY vagg_ph ON vagg_h;
ALTER TABLE vagg_c DISABLE ROW LEVEL SECURITY;
ALTER TABLE vagg_h DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON vagg_c, vagg_h FROM regress_vagg_reader;
DROP ROLE regress_vagg_reader;
-- a nondeterministic collation: 'a' and 'A' are one group and equal in filters
CREATE COLLATION vagg_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE vagg_cih (t text COLLATE vagg_ci, a int);
INSERT INTO vagg_cih SELECT (ARRAY['a', 'A', 'b', 'B', 'ab', 'AB'])[g % 6 + 1], g FROM generate_series(1, 3000) g;
CREATE TABLE vagg_cic (LIKE vagg_cih) USING versioned_columnar;
INSERT INTO vagg_cic SELECT * FROM vagg_cih;
SELECT lower(t), count(*), sum(a) FROM vagg_cic GROUP BY t ORDER BY 1;
SELECT d FROM vagg_diff('SELECT lower(t), count(*), sum(a) FROM (SELECT t, count(*), sum(a) a FROM @T GROUP BY t) s GROUP BY lower(t)', 'vagg_cic', 'vagg_cih') d;
SELECT d FROM vagg_diff('SELECT count(*), sum(a), lower(min(t)), lower(max(t)) FROM @T WHERE t = ''AB''', 'vagg_cic', 'vagg_cih') d;
SELECT d FROM vagg_diff('SELECT count(*), sum(a) FROM @T WHERE t > ''a''', 'vagg_cic', 'vagg_cih') d;
DROP TABLE vagg_cih, vagg_cic, vagg_o;
DROP COLLATION vagg_ci;

-- group keys PostgreSQL hashes by value, not by bits: NaNs of either sign are one group, 0 and
-- -0 another; keys in runs (a row repeating the previous key), also across segments and NULL
CREATE TABLE vagg_kh (f float8, f4 float4, r int, rt text, a int);
INSERT INTO vagg_kh
SELECT (ARRAY['NaN'::float8, 'Infinity'::float8 - 'Infinity'::float8, 0.0, '-0'::float8])[g % 4 + 1],
	   (ARRAY['NaN'::float4, 'Infinity'::float4 - 'Infinity'::float4, 0.0, '-0'::float4])[g % 4 + 1],
	   CASE WHEN g / 700 % 3 <> 1 THEN g / 700 END, (ARRAY['a', 'a ', 'ab', NULL])[g / 450 % 4 + 1], g
FROM generate_series(1, 4000) g;
CREATE TABLE vagg_kc (LIKE vagg_kh) USING versioned_columnar;
INSERT INTO vagg_kc SELECT * FROM vagg_kh;
SELECT f, count(*), sum(a) FROM vagg_kc GROUP BY f ORDER BY f;
SELECT d FROM vagg_diff('SELECT f, count(*), sum(a) FROM @T GROUP BY f', 'vagg_kc', 'vagg_kh') d;
SELECT d FROM vagg_diff('SELECT f4, count(*), sum(a), count(f) FROM @T GROUP BY f4', 'vagg_kc', 'vagg_kh') d;
SELECT d FROM vagg_diff('SELECT r, rt, count(*), sum(a), min(rt) FROM @T GROUP BY r, rt', 'vagg_kc', 'vagg_kh') d;
SELECT d FROM vagg_diff('SELECT count(*), sum(a) FROM @T WHERE f = ''NaN'' OR f IS NULL', 'vagg_kc', 'vagg_kh') d;
SELECT d FROM vagg_diff('SELECT count(*), sum(a) FROM @T WHERE f >= 0 AND f4 <= 0', 'vagg_kc', 'vagg_kh') d;
SELECT vagg_used('SELECT f, count(*), sum(a) FROM @T GROUP BY f', 'vagg_kc') AS by_float_vectorized,
	   vagg_used('SELECT r, rt, count(*), sum(a), min(rt) FROM @T GROUP BY r, rt', 'vagg_kc') AS by_runs_vectorized;
DROP TABLE vagg_kh, vagg_kc;

-- text keys around 16 bytes (short keys may be compared as machine words): every length from 0
-- to 40, keys differing only in their last byte, in length, or in a multibyte character
CREATE TABLE vagg_th (t text, a int);
INSERT INTO vagg_th
SELECT k, g FROM generate_series(0, 40) l, generate_series(1, 3) g,
	   unnest(ARRAY[repeat('x', l), repeat('x', greatest(l - 1, 0)) || 'y', repeat('x', l) || ' ',
					'é' || repeat('x', l), repeat('ab', l / 2), NULL]) k;
CREATE TABLE vagg_tc (LIKE vagg_th) USING versioned_columnar;
INSERT INTO vagg_tc SELECT * FROM vagg_th;
SELECT count(DISTINCT t) AS distinct_keys FROM vagg_th;
SELECT d FROM vagg_diff('SELECT t, count(*), sum(a), min(t), max(t) FROM @T GROUP BY t', 'vagg_tc', 'vagg_th') d;
SELECT d FROM vagg_diff('SELECT t, length(t), count(*) FROM (SELECT t, count(*) FROM @T GROUP BY t) s GROUP BY t', 'vagg_tc', 'vagg_th') d;
SELECT d FROM vagg_diff('SELECT count(*), sum(a) FROM @T WHERE t = ''xxxxxxxxxxxxxxxy''', 'vagg_tc', 'vagg_th') d;
SELECT d FROM vagg_diff('SELECT count(*), sum(a), min(t), max(t) FROM @T WHERE t > ''xxxxxxxxxxxxxxxx''', 'vagg_tc', 'vagg_th') d;
SELECT vagg_used('SELECT t, count(*), sum(a), min(t), max(t) FROM @T GROUP BY t', 'vagg_tc') AS vectorized;
DROP TABLE vagg_th, vagg_tc;

-- a partitioned table of gold partitions (with and without partitionwise aggregation)
CREATE TABLE vagg_pc (k int, t text, a int8) PARTITION BY RANGE (k);
CREATE TABLE vagg_pc1 PARTITION OF vagg_pc FOR VALUES FROM (0) TO (10) USING versioned_columnar;
CREATE TABLE vagg_pc2 PARTITION OF vagg_pc FOR VALUES FROM (10) TO (20) USING versioned_columnar;
CREATE TABLE vagg_ph (k int, t text, a int8);
INSERT INTO vagg_pc SELECT g % 20, 'p' || g % 3, g * 1000003::int8 FROM generate_series(1, 4000) g;
INSERT INTO vagg_ph SELECT * FROM vagg_pc;
ANALYZE vagg_pc, vagg_ph;
SELECT d FROM vagg_diff('SELECT k, t, count(*), sum(a), max(t) FROM @T GROUP BY k, t', 'vagg_pc', 'vagg_ph') d;
SET enable_partitionwise_aggregate = on;
SELECT d FROM vagg_diff('SELECT k, t, count(*), sum(a), max(t) FROM @T GROUP BY k, t', 'vagg_pc', 'vagg_ph') d;
SELECT d FROM vagg_diff('SELECT t, count(*), sum(a), avg(a) FROM @T WHERE k >= 5 GROUP BY t', 'vagg_pc', 'vagg_ph') d;
RESET enable_partitionwise_aggregate;
DROP TABLE vagg_pc, vagg_ph;

-- parallel plans: partial vectorized aggregates under Gather, combined by PostgreSQL
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT k2, count(*), sum(i8), avg(f8), min(t), max(tz) FROM vagg_c GROUP BY k2;
EXPLAIN (COSTS OFF) SELECT count(*), sum(n), avg(i4) FROM vagg_c;
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q) d
WHERE q.expect_vagg AND (q.name LIKE 'GROUP BY key %' OR q.name LIKE 'count(*)%' OR q.name LIKE 'all aggregates%'
						 OR q.name IN ('sum(n) whole table', 'sum(i8) whole table', 'avg(f8) by k1, k2', 'max(t) by np',
									'WHERE ts >= ''2024-02-01''', 'WHERE k2 = ''r2''', 'WHERE i4 BETWEEN -1000 AND 50000'))
ORDER BY q.id, d;
SELECT name, vagg_used(q) AS vectorized, vagg_parallel(q) AS parallel FROM vagg_q
WHERE name IN ('all aggregates of every type by k2', 'count(*) whole table', 'GROUP BY key k1, k2, np', 'WHERE ts >= ''2024-02-01''',
			   'sum(n) whole table', 'min(t) by np', 'avg(f8) by k1, k2')
ORDER BY id;
SELECT count(*) AS float_sums_apart FROM
	(SELECT k1, sum(fr) s, avg(fr) a, sum(abs(fr)) m FROM vagg_h GROUP BY k1) h
	FULL JOIN (SELECT k1, sum(fr) s, avg(fr) a FROM vagg_c GROUP BY k1) c ON coalesce(c.k1, -1) = coalesce(h.k1, -1)
WHERE (c.s IS NULL) <> (h.s IS NULL) OR abs(c.s - h.s) > 1e-12 * h.m OR abs(c.a - h.a) > 1e-12 * h.m;
SELECT vagg_used('SELECT k1, sum(fr) s, avg(fr) a FROM @T GROUP BY k1') AS vectorized,
	   vagg_parallel('SELECT k1, sum(fr) s, avg(fr) a FROM @T GROUP BY k1') AS parallel;
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q, 'streamext.as_of(NULL::vagg_c, 1)', 'vagg_h1') d
WHERE q.name IN ('all aggregates of every type by k2', 'count(*) whole table', 'WHERE k2 = ''r2''')
ORDER BY q.id, d;
SELECT vagg_used('SELECT k2, count(*), sum(i8), min(t) FROM @T GROUP BY k2', 'streamext.as_of(NULL::vagg_c, 1)') AS as_of_vectorized,
	   vagg_parallel('SELECT k2, count(*), sum(i8), min(t) FROM @T GROUP BY k2', 'streamext.as_of(NULL::vagg_c, 1)') AS as_of_parallel;
-- the fallbacks in parallel plans
SELECT q.name, d FROM vagg_q q, vagg_diff(q.q) d
WHERE q.name IN ('string_agg', 'FILTER', 'count(DISTINCT)', 'GROUPING SETS', 'sum(a + b)') ORDER BY q.id, d;
SELECT name, vagg_used(q) AS vectorized FROM vagg_q WHERE NOT expect_vagg AND vagg_used(q) ORDER BY id;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

DROP TABLE vagg_q, vagg_h, vagg_h1, vagg_c, vagg_ce, vagg_he, vagg_sh, vagg_sc;
DROP FUNCTION vagg_diff, vagg_used, vagg_parallel, vagg_explain_lines, vagg_nul, vagg_scroll;
RESET streamext.columnar_segment_rows;
