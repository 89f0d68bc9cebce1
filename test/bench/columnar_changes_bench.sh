#!/usr/bin/env bash
# Change data feed benchmark: what streamext.changes() costs a pipeline that reads one new
# version per micro-batch, on a big and a small gold table (1,000,000 and 100,000 rows, scaled
# by SE_BENCH_SCALE; 8 gold-like columns, 10,000-row segments).  Each table then gets the same
# new versions: a 10,000-row insert (a micro-batch), 100 updated rows of one segment (an update
# mode window), 1 inserted row.  Measured, medians of interleaved runs: changes() over each of
# those versions on both tables (its cost must follow the version's rows, not the table's:
# the big/small ratio stays near 1, where a cost proportional to the table would be 10), and,
# as baselines in the same run, a full scan of the big table (what a pipeline re-reading the
# table would pay) and the diff of two as_of() versions (what finding the changes costs
# without the feed).  Fails when a version's changes cost over 3x more on the big table.
. "$SE_LIB"; se_test_begin
scale=${SE_BENCH_SCALE:-1}
big=$(awk -v s="$scale" 'BEGIN { printf "%d", 1000000 * s }')
small=$(awk -v s="$scale" 'BEGIN { printf "%d", 100000 * s }')
reps=${COLUMNAR_BENCH_REPS:-7}
se_pg_start pg1 "shared_buffers = 512MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min" "work_mem = 16MB"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_log "rows: big $big, small $small"

for t in big small; do
	n=${!t}
	se_psql pg1 <<SQL
CREATE TABLE g_$t (window_start timestamptz, device_id text, product_id int, region text,
				   qty int, amount numeric(12,2), temperature float8, speed float8) USING versioned_columnar;
INSERT INTO g_$t SELECT '2024-01-01'::timestamptz + (i / 500) * interval '1 hour', 'dev-' || (i % 500),
	i % 1000, 'region-' || (i % 20), i % 100, (i % 10000) / 100.0, 20 + i % 15, i % 90
FROM generate_series(1, $n) i;                                                   -- version 1
INSERT INTO g_$t SELECT '2030-01-01'::timestamptz + (i / 500) * interval '1 hour', 'dev-' || (i % 500),
	i % 1000, 'region-' || (i % 20), i % 100, (i % 10000) / 100.0, 20 + i % 15, i % 90
FROM generate_series(1, 10000) i;                                                -- 2: a micro-batch
UPDATE g_$t SET qty = qty + 1
WHERE window_start = '2030-01-01'::timestamptz + interval '3 hours' AND product_id >= 900;  -- 3: 100 rows
INSERT INTO g_$t VALUES (now(), 'dev-x', 1, 'region-x', 1, 1, 1, 1);             -- 4: one row
SQL
done
for t in big small; do
	se_assert_eq "versions 2-4 of g_$t (rows added/removed)" "10000/0 100/100 1/0" \
		"$(se_psql pg1 -c "SELECT string_agg(rows_added || '/' || rows_removed, ' ' ORDER BY version) FROM streamext.history('g_$t') WHERE version > 1")"
done

se_psql pg1 <<'SQL'
CREATE TABLE results (what text, tbl text, ms float8);
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; BEGIN
	t0 := clock_timestamp(); EXECUTE q; RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
SQL
declare -A Q=(
	[v2_insert_10k]="SELECT count(*) FROM streamext.changes(NULL::g_@T, 2, 2)"
	[v3_update_100]="SELECT count(*) FROM streamext.changes(NULL::g_@T, 3, 3)"
	[v4_insert_1]="SELECT count(*) FROM streamext.changes(NULL::g_@T, 4, 4)"
	[full_scan]="SELECT count(t.*) FROM g_@T t"
	[as_of_diff_v2]="SELECT count(*) FROM (SELECT * FROM streamext.as_of(NULL::g_@T, 2) EXCEPT ALL SELECT * FROM streamext.as_of(NULL::g_@T, 1)) d"
)
order=(v2_insert_10k v3_update_100 v4_insert_1 full_scan as_of_diff_v2)
ordlist=$(printf "'%s'," "${order[@]}"); ordlist=${ordlist%,}
for r in $(seq 1 "$reps"); do
	for q in "${order[@]}"; do
		for t in big small; do
			se_psql pg1 -c "INSERT INTO results SELECT '$q', '$t', bench_ms(\$q\$${Q[$q]//@T/$t}\$q\$)"
		done
	done
done

echo
echo "streamext.changes() on a $big-row and a $small-row gold table (medians of $reps; ms)"
printf '%-15s %10s %10s %10s %14s\n' what big small big/small "big/full scan"
se_psql pg1 -F ' ' -c "
	WITH m AS (SELECT what, tbl, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM results GROUP BY 1, 2),
	w AS (SELECT what, max(ms) FILTER (WHERE tbl = 'big') b, max(ms) FILTER (WHERE tbl = 'small') s FROM m GROUP BY 1)
	SELECT what, round(b::numeric, 2), round(s::numeric, 2), round((b / s)::numeric, 2),
		   round((b / (SELECT b FROM w WHERE what = 'full_scan'))::numeric, 4)
	FROM w ORDER BY array_position(ARRAY[$ordlist], what)" |
	while read -r w b s bs bf; do printf '%-15s %10s %10s %10s %14s\n' "$w" "$b" "$s" "$bs" "$bf"; done
bad=$(se_psql pg1 -c "
	WITH m AS (SELECT what, tbl, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM results GROUP BY 1, 2)
	SELECT string_agg(b.what, ', ') FROM m b JOIN m s ON s.what = b.what AND s.tbl = 'small'
	WHERE b.tbl = 'big' AND b.what LIKE 'v%' AND b.ms > 3 * s.ms AND b.ms > 5")
[ -z "$bad" ] || se_die "changes() of one version costs over 3x more on the big table: $bad"
