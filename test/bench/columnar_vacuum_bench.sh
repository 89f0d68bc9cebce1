#!/usr/bin/env bash
# VACUUM benchmark: a 1,000,000-row gold table (SE_BENCH_SCALE scales it; 8 gold-like columns,
# 10,000-row segments, time-ordered) loses 50 % of its rows in 100 DELETE transactions, then
# streamext.vacuum runs with the retention passed.  Reported: streamext.columnar_size (bytes of
# the table's metadata rows, all versions) before the deletes, after them and after the
# vacuum, as ratios of the size before.  Two cases:
#   retention  the oldest half by time (a retention policy: whole segments end up deleted) --
#              bar: size after vacuum <= 0.55x before;
#   scattered  every other row, each transaction deleting in every segment (no segment
#              empties): vacuum folds the 100 deletion vectors of each segment into one; the
#              rows' data stays until OPTIMIZE rewrites the segments (reported, no bar).
# The baseline is the same table's size before the deletes, in the same run.
. "$SE_LIB"; se_test_begin
scale=${SE_BENCH_SCALE:-1}
n=$(awk -v s="$scale" 'BEGIN { printf "%d", 1000000 * s }')
se_pg_start pg1 "shared_buffers = 256MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_log "rows: $n"

for t in retention scattered; do
	se_psql pg1 <<SQL
CREATE TABLE g_$t (window_start timestamptz, device_id text, product_id int, region text,
				   qty int, amount numeric(12,2), temperature float8, speed float8) USING versioned_columnar;
INSERT INTO g_$t SELECT '2024-01-01'::timestamptz + (i / 500) * interval '1 hour', 'dev-' || (i % 500),
	i % 1000, 'region-' || (i % 20), i % 100, (i % 10000) / 100.0, 20 + i % 15, i % 90
FROM generate_series(0, $n - 1) i;
CREATE TABLE sizes_$t AS SELECT 'before'::text AS what, streamext.columnar_size('g_$t') AS bytes;
SQL
done

# 100 transactions each: the oldest 0.5 % of the rows (by time), or the rows of one even
# residue of product_id % 200 (0.5 %, in every segment)
for k in $(seq 0 99); do
	se_psql pg1 -c "DELETE FROM g_retention WHERE window_start < '2024-01-01'::timestamptz + ($(((k + 1) * n / 200)) / 500) * interval '1 hour'
		AND window_start >= '2024-01-01'::timestamptz + ($((k * n / 200)) / 500) * interval '1 hour'"
	se_psql pg1 -c "DELETE FROM g_scattered WHERE product_id % 200 = $((2 * k))"
done
for t in retention scattered; do
	se_psql pg1 -c "INSERT INTO sizes_$t SELECT 'after deletes', streamext.columnar_size('g_$t')"
	se_assert_eq "g_$t: rows left" "$((n / 2))" "$(se_psql pg1 -c "SELECT count(*) FROM g_$t")"
done

# the retention has passed: every version is older than it
se_wait_for pg1 60 "SELECT clock_timestamp() > max(committed_at) + interval '1 second'
	FROM (SELECT committed_at FROM streamext.history('g_retention') UNION ALL SELECT committed_at FROM streamext.history('g_scattered')) h"
for t in retention scattered; do
	start=$(date +%s.%N)
	r=$(se_psql pg1 -c "SET streamext.vacuum_retention_check = off" -c "SELECT streamext.vacuum('g_$t', '1 second')")
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	se_log "g_$t: vacuum in ${secs}s: $r"
	se_psql pg1 -c "INSERT INTO sizes_$t SELECT 'after vacuum', streamext.columnar_size('g_$t')"
	se_assert_eq "g_$t: rows after vacuum" "$((n / 2))" "$(se_psql pg1 -c "SELECT count(*) FROM g_$t")"
	se_psql pg1 -c "SELECT streamext.verify('g_$t')" >/dev/null
done

echo
echo "streamext.vacuum after deleting 50 % of $n rows in 100 transactions (streamext.columnar_size)"
printf '%-10s %-14s %14s %8s\n' case state bytes "x before"
for t in retention scattered; do
	se_psql pg1 -F ' ' -c "SELECT what, bytes, round(bytes::numeric / (SELECT bytes FROM sizes_$t WHERE what = 'before'), 3)
		FROM sizes_$t ORDER BY array_position(ARRAY['before', 'after deletes', 'after vacuum'], what)" |
		while read -r w1 w2 b r; do
			[ "$w1" = before ] && { r=$b; b=$w2; w2=""; }
			printf '%-10s %-14s %14s %8s\n' "$t" "$w1 $w2" "$b" "$r"
		done
done
ratio=$(se_psql pg1 -c "SELECT round((SELECT bytes FROM sizes_retention WHERE what = 'after vacuum')::numeric
	/ (SELECT bytes FROM sizes_retention WHERE what = 'before'), 3)")
echo "retention case: size after vacuum = ${ratio}x before (bar <= 0.55)"
awk -v r="$ratio" 'BEGIN { exit !(r <= 0.55) }' || se_die "size after vacuum ${ratio}x before, over 0.55x"
