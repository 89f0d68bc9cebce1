#!/usr/bin/env bash
# Gold-table benchmark: versioned_columnar against heap, same data, same run.
# 10M gold-like rows x 8 columns (SE_BENCH_SCALE scales the row count), loaded in time order.
# Measures table size, Q1 full-scan GROUP BY, Q2 count by product_id, Q3 GROUP BY over the last
# 1% of time, Q4 one device for one day (as scans, before any index, then again through a
# btree index), a point lookup through that index, as_of an old
# version against the current read, the INSERT...SELECT load, and 100 micro-batches of 10,000
# rows.  Query times are medians of interleaved heap / columnar runs; printed as ratios.
. "$SE_LIB"; se_test_begin
scale=${SE_BENCH_SCALE:-1}
rows=$(awk -v s="$scale" 'BEGIN { printf "%d", 10000000 * s }')
reps=${COLUMNAR_BENCH_REPS:-5}
se_pg_start pg1 "shared_buffers = 512MB" "work_mem = 64MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_log "rows: $rows"

# staging data: hourly windows, 5,000 devices per hour, in time order
se_psql pg1 <<SQL
CREATE UNLOGGED TABLE src AS
SELECT i AS rn,
	   '2024-01-01 00:00:00+00'::timestamptz + (i / 5000) * interval '1 hour' AS window_start,
	   'device-' || lpad((i % 5000)::text, 5, '0') AS device_id,
	   ((i::bigint * 7919) % 10000)::int AS product_id,
	   'region-' || ((i / 7) % 20) AS region,
	   (random() * 100)::int AS qty,
	   round((random() * 1000)::numeric, 2)::numeric(12,2) AS amount,
	   random() * 40 AS temperature,
	   round((random() * 120)::numeric, 1)::float8 AS speed
FROM generate_series(0, $rows - 1) i;
CREATE INDEX ON src (rn);
ANALYZE src;
CREATE TABLE gh (window_start timestamptz, device_id text, product_id int, region text, qty int,
				 amount numeric(12,2), temperature float8, speed float8);
CREATE TABLE gc (LIKE gh) USING versioned_columnar;
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; BEGIN
	t0 := clock_timestamp(); EXECUTE q; RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;
CREATE TABLE results (what text, tbl text, ms float8);
SQL

cols="window_start, device_id, product_id, region, qty, amount, temperature, speed"
# load by INSERT...SELECT (the last 1% of rows stay for the micro-batches)
load_rows=$((rows - rows / 100))
if ((load_rows > 1000000)); then load_rows=$((rows - 1000000)); fi
for t in gh gc; do
	se_psql pg1 -c "INSERT INTO results SELECT 'load', '$t', bench_ms('INSERT INTO $t SELECT $cols FROM src WHERE rn < $load_rows')"
done
# micro-batches: 100 transactions of 10,000 rows (scaled), as pipelines write
batch=$(((rows - load_rows) / 100))
for t in gh gc; do
	start=$(date +%s%N)
	for b in $(seq 0 99); do
		lo=$((load_rows + b * batch))
		se_psql pg1 -c "INSERT INTO $t SELECT $cols FROM src WHERE rn >= $lo AND rn < $((lo + batch))"
	done
	se_psql pg1 -c "INSERT INTO results VALUES ('micro-batches', '$t', $((($(date +%s%N) - start) / 1000000)))"
done
se_psql pg1 -c "VACUUM ANALYZE gh" -c "ANALYZE gc"

size_h=$(se_psql pg1 -c "SELECT pg_total_relation_size('gh')")
size_c=$(se_psql pg1 -c "SELECT streamext.columnar_size('gc')")
last1=$(se_psql pg1 -c "SELECT max(window_start) - (max(window_start) - min(window_start)) / 100 FROM gh")
day=$(se_psql pg1 -c "SELECT date_trunc('day', min(window_start) + (max(window_start) - min(window_start)) / 2) FROM gh")
declare -A Q=(
	[Q1_groupby]="SELECT region, sum(amount), avg(temperature) FROM @T GROUP BY region"
	[Q2_product]="SELECT count(*) FROM @T WHERE product_id = 4242"
	[Q3_last_1pct]="SELECT region, sum(qty), avg(speed) FROM @T WHERE window_start >= '$last1' GROUP BY region"
	[Q4_device_day]="SELECT * FROM @T WHERE device_id = 'device-00042' AND window_start >= '$day' AND window_start < '$day'::timestamptz + interval '1 day'"
	[current_read]="SELECT sum(amount), count(*) FROM @T"
)
run_queries() {
	local r q t sql
	for r in $(seq 1 "$reps"); do
		for q in "$@"; do
			for t in gh gc; do
				sql=${Q[$q]//@T/$t}
				se_psql pg1 -c "$SETTINGS INSERT INTO results SELECT '$q', '$t', bench_ms(\$q\$$sql\$q\$)"
			done
			if [ "$q" = current_read ]; then
				se_psql pg1 -c "INSERT INTO results SELECT 'as_of_v1', 'gc', bench_ms('SELECT sum(amount), count(*) FROM streamext.as_of(NULL::gc, 1)')"
			fi
		done
	done
}
# Q1-Q4 as scans (no index yet), like the reference numbers
SETTINGS=""
run_queries Q1_groupby Q2_product Q3_last_1pct Q4_device_day current_read
# then a btree index on both, for the point lookup and Q4 through it
se_psql pg1 -c "CREATE INDEX gh_dev ON gh (device_id, window_start)" -c "CREATE INDEX gc_dev ON gc (device_id, window_start)"
Q[point_lookup]="SELECT * FROM @T WHERE device_id = 'device-04242' AND window_start = '$day'"
Q[Q4_with_index]=${Q[Q4_device_day]}
SETTINGS="SET enable_seqscan = off;"
run_queries point_lookup Q4_with_index

echo
echo "versioned_columnar vs heap, $rows rows (ratio = columnar / heap; < 1 is better)"
printf '%-16s %12s %12s %8s\n' what heap columnar ratio
printf '%-16s %12s %12s %8s\n' size_bytes "$size_h" "$size_c" "$(awk -v a="$size_c" -v b="$size_h" 'BEGIN { printf "%.3f", a / b }')"
se_psql pg1 -F ' ' -c "
	WITH m AS (SELECT what, tbl, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM results GROUP BY what, tbl)
	SELECT h.what, round(h.ms::numeric, 1), round(c.ms::numeric, 1), round((c.ms / h.ms)::numeric, 3)
	FROM m h JOIN m c ON c.what = h.what AND c.tbl = 'gc' WHERE h.tbl = 'gh' ORDER BY h.what" |
	while read -r w h c r; do printf '%-16s %12s %12s %8s\n' "$w" "$h" "$c" "$r"; done
se_psql pg1 -F ' ' -c "
	WITH m AS (SELECT what, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM results WHERE tbl = 'gc' GROUP BY what)
	SELECT 'as_of_v1/current', round(a.ms::numeric, 1), round(c.ms::numeric, 1), round((a.ms / c.ms)::numeric, 3)
	FROM m a, m c WHERE a.what = 'as_of_v1' AND c.what = 'current_read'" |
	while read -r w a c r; do printf '%-16s %12s %12s %8s  (columnar as_of old version / columnar current)\n' "$w" "$c" "$a" "$r"; done
se_psql pg1 -c "SELECT streamext.verify('gc')"
