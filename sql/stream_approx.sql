-- Approximate aggregates: streamext.approx_count_distinct (HyperLogLog) and
-- streamext.approx_percentile (t-digest), their storable states, approx_merge,
-- parallel aggregation, NULL handling and errors.

-- small sets are (almost) exact; NULLs are not counted, as in count(DISTINCT)
SELECT streamext.approx_count_distinct(v) AS est, count(DISTINCT v) AS exact
  FROM (VALUES (1), (2), (2), (3), (NULL)) t(v);
SELECT streamext.approx_count_distinct(NULL::int) AS only_nulls,
       streamext.approx_count_distinct(v) AS no_rows FROM (SELECT 1 AS v WHERE false) t;
-- any hashable type: text, numeric (equal values hash alike), records, arrays
SELECT streamext.approx_count_distinct(g::text) AS text_1000,
       streamext.approx_count_distinct((g % 10)::numeric / 2) AS numeric_10,
       streamext.approx_count_distinct(ROW(g % 10, g % 7)) AS records_70,
       streamext.approx_count_distinct(ARRAY[g % 5]) AS arrays_5
  FROM generate_series(1, 1000) g;
SELECT streamext.approx_count_distinct(v) AS numeric_scale_ignored
  FROM (VALUES (1.0::numeric), (1.00), (1)) t(v);

-- within the error bound (relative standard error 1% by default, 5% when asked)
SELECT abs(est - 300000) <= 3 * 0.01 * 300000 AS within_3_sigma, est
  FROM (SELECT streamext.approx_count_distinct(g) AS est FROM generate_series(1, 300000) g) s;
SELECT abs(est - 300000) <= 3 * 0.05 * 300000 AS within_3_sigma_5pct, est
  FROM (SELECT streamext.approx_count_distinct(g, 0.05) AS est FROM generate_series(1, 300000) g) s;

-- percentiles: exact below about accuracy/2 rows, like percentile_disc
SELECT streamext.approx_percentile(v, 0.5) AS median, percentile_disc(0.5) WITHIN GROUP (ORDER BY v) AS disc,
       streamext.approx_percentile(v, 0) AS min, streamext.approx_percentile(v, 1) AS max,
       streamext.approx_percentile(v, 0.25) AS p25
  FROM (VALUES (4.0), (1.0), (3.0), (2.0), (NULL)) t(v);
SELECT streamext.approx_percentile(v, ARRAY[0, 0.1, 0.5, 0.9, 0.99, 1]) AS approx,
       percentile_disc(ARRAY[0, 0.1, 0.5, 0.9, 0.99, 1]) WITHIN GROUP (ORDER BY v) AS exact
  FROM (SELECT (g * 7919) % 1000 AS v FROM generate_series(1, 1000) g) t;
-- exact while there are fewer than 2 * accuracy rows
SELECT bool_and(a = e) AS exact_below_2x_accuracy
  FROM unnest(ARRAY[0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99]) f,
       LATERAL (SELECT streamext.approx_percentile(v, f, 100) AS a, percentile_disc(f) WITHIN GROUP (ORDER BY v) AS e
                  FROM (SELECT ((g * 7919) % 199)::float8 * 1.5 AS v FROM generate_series(1, 199) g) t) x;
SELECT streamext.approx_percentile(v, 0.5) IS NULL AS no_rows FROM (SELECT 1.0::float8 AS v WHERE false) t;
SELECT streamext.approx_percentile(NULL::float8, 0.5) IS NULL AS only_nulls;

-- skewed data (exp of uniform), rank error within 1/accuracy
CREATE TEMP TABLE se_skew AS
	SELECT exp(((g * 7919) % 100000) / 5000.0) AS v FROM generate_series(1, 100000) g;
SELECT f, greatest(rank_lo - f, f - rank_hi, 0) <= 1.0 / 100 AS within_bound
  FROM (SELECT f, a,
               (SELECT count(*) FILTER (WHERE v < a)::float8 / count(*) FROM se_skew) AS rank_lo,
               (SELECT count(*) FILTER (WHERE v <= a)::float8 / count(*) FROM se_skew) AS rank_hi
          FROM unnest(ARRAY[0.001, 0.01, 0.25, 0.5, 0.75, 0.99, 0.999]) f,
               LATERAL (SELECT streamext.approx_percentile(v, f, 100) AS a FROM se_skew) x) s
 ORDER BY f;
-- max rank error at the default accuracy (1/10000) is met too
SELECT max(greatest(rank_lo - f, f - rank_hi, 0)) <= 1.0 / 10000 AS default_accuracy_met
  FROM (SELECT f,
               (SELECT count(*) FILTER (WHERE v < a)::float8 / count(*) FROM se_skew) AS rank_lo,
               (SELECT count(*) FILTER (WHERE v <= a)::float8 / count(*) FROM se_skew) AS rank_hi
          FROM unnest(ARRAY[0.001, 0.1, 0.5, 0.9, 0.999]) f,
               LATERAL (SELECT streamext.approx_percentile(v, f) AS a FROM se_skew) x) s;

-- storable states: per-group states merge to the state of the whole
CREATE TEMP TABLE se_states AS
	SELECT g % 4 AS part, streamext.approx_count_distinct_state(g % 5000) AS hll,
	       streamext.approx_percentile_state((g % 1000)::float8) AS digest
	  FROM generate_series(1, 20000) g GROUP BY g % 4;
SELECT streamext.approx_count_distinct_result(streamext.approx_merge(hll)) AS merged_distinct,
       (SELECT streamext.approx_count_distinct(g % 5000) FROM generate_series(1, 20000) g) AS direct,
       streamext.approx_percentile_result(streamext.approx_merge(digest), 0.5) AS merged_median,
       streamext.approx_percentile_result(streamext.approx_merge(digest), ARRAY[0.1, 0.9]) AS merged_p10_p90
  FROM se_states;
SELECT part, streamext.approx_count_distinct_result(hll) AS per_part, length(hll) < 20000 AS compact
  FROM se_states ORDER BY part;
-- states of different precision merge at the lower one
SELECT streamext.approx_count_distinct_result(streamext.approx_merge(s)) AS mixed_precision
  FROM (SELECT streamext.approx_count_distinct_state(g, 0.01) AS s FROM generate_series(1, 1000) g
        UNION ALL
        SELECT streamext.approx_count_distinct_state(g, 0.05) FROM generate_series(501, 1500) g) u;
SELECT streamext.approx_merge(s) IS NULL AS merge_of_nothing FROM (SELECT NULL::bytea AS s) t;

-- parallel aggregation (combine, serialize, deserialize) gives the same distinct count
CREATE TABLE se_approx_par AS SELECT g AS v, (g % 1000)::float8 AS x FROM generate_series(1, 200000) g;
ANALYZE se_approx_par;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT streamext.approx_count_distinct(v), streamext.approx_percentile(x, 0.5) FROM se_approx_par;
SELECT streamext.approx_count_distinct(v) AS parallel_est,
       abs(streamext.approx_percentile(x, 0.5) - 499) <= 1 AS parallel_median_ok
  FROM se_approx_par;
SET max_parallel_workers_per_gather = 0;
SELECT streamext.approx_count_distinct(v) AS serial_est,
       abs(streamext.approx_percentile(x, 0.5) - 499) <= 1 AS serial_median_ok
  FROM se_approx_par;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE se_approx_par;

-- errors
\set VERBOSITY default
SELECT streamext.approx_count_distinct(g, 0.5) FROM generate_series(1, 3) g;
SELECT streamext.approx_count_distinct(g, NULL) FROM generate_series(1, 3) g;
SELECT streamext.approx_count_distinct(point(g, g)) FROM generate_series(1, 3) g;
SELECT streamext.approx_percentile(g, 1.5) FROM generate_series(1, 3) g;
SELECT streamext.approx_percentile(g, ARRAY[0.5, NULL]) FROM generate_series(1, 3) g;
SELECT streamext.approx_percentile(g, 0.5, 0) FROM generate_series(1, 3) g;
SELECT streamext.approx_percentile('NaN'::float8, 0.5);
SELECT streamext.approx_count_distinct_result('\x0102'::bytea);
SELECT streamext.approx_count_distinct_result(digest) FROM se_states LIMIT 1;
SELECT streamext.approx_percentile_result(hll, 0.5) FROM se_states LIMIT 1;
SELECT streamext.approx_merge(s) FROM (SELECT hll AS s FROM se_states UNION ALL SELECT digest FROM se_states) u;
SELECT streamext.approx_count_distinct_result(substr(hll, 1, 10)) FROM se_states LIMIT 1;
\set VERBOSITY terse

SELECT p.proname, count(*) AS variants, bool_and(a.aggcombinefn <> 0 AND a.aggserialfn <> 0 AND a.aggdeserialfn <> 0) AS parallel_ready,
       bool_and(p.proparallel = 's') AS parallel_safe
  FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid
 WHERE p.pronamespace = 'streamext'::regnamespace AND p.proname LIKE 'approx%'
 GROUP BY p.proname ORDER BY 1;
DROP TABLE se_skew, se_states;
