#!/usr/bin/env bash
# Gold-table benchmark: versioned_columnar against heap, same data, same run.
# 10M gold-like rows x 8 columns (SE_BENCH_SCALE scales the row count), loaded in time order.
# Measures table size, Q1 full-scan GROUP BY, Q2 count by product_id, Q3 GROUP BY over the last
# 1% of time, Q4 one device for one day (as scans, before any index, then again through a
# btree index), a point lookup through that index, as_of an old
# version against the current read, the INSERT...SELECT load, and 100 micro-batches of 10,000
# rows.  Query times are medians of interleaved heap / columnar runs; printed as ratios.
# Then vectorized aggregation: Q1 serial and parallel, GROUP BY device_id (5,000 groups) and Q3
# with streamext.enable_vectorized_agg on and off against heap, and the same queries in DuckDB
# (npm @duckdb/node-api, installed into a cache folder; skipped without npm, or with
# SE_BENCH_DUCKDB=0) on the same rows, printed as our time over DuckDB's.
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

# Vectorized aggregation: Q1 serial and parallel, GROUP BY device_id (5,000 groups) and Q3, each
# on heap, on the gold table with streamext.enable_vectorized_agg on (gc) and off (gc_novec),
# and the same queries on the same rows in DuckDB (below) as the column-store reference, all
# interleaved.
vagg_guc=$(se_psql pg1 -c "SELECT count(*) FROM pg_settings WHERE name = 'streamext.enable_vectorized_agg'")
# serial: no workers; parallel: a parallel plan forced (setup and tuple costs 0, any size) for heap and gold
# alike; the others as the planner chooses with 2 workers.
par="SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
declare -A VS=(
	[vagg_Q1_serial]="SET max_parallel_workers_per_gather = 0;"
	[vagg_Q1_parallel]=$par
	[vagg_device]="SET max_parallel_workers_per_gather = 2;"
	[vagg_device_par]=$par
	[vagg_Q3]="SET max_parallel_workers_per_gather = 2;"
)
Q[vagg_Q1_serial]=${Q[Q1_groupby]}
Q[vagg_Q1_parallel]=${Q[Q1_groupby]}
Q[vagg_device]="SELECT device_id, count(*), sum(qty), avg(temperature), max(speed) FROM @T GROUP BY device_id"
Q[vagg_device_par]=${Q[vagg_device]}
Q[vagg_Q3]=${Q[Q3_last_1pct]}
vagg_queries="vagg_Q1_serial vagg_Q1_parallel vagg_device vagg_device_par vagg_Q3"
vagg_tables="gh gc"
[ "$vagg_guc" = 1 ] && vagg_tables="gh gc gc_novec"
vagg_sql() {	# vagg_sql QUERY TABLE: the settings and the query for that variant
	local t=$2 s=${VS[$1]}
	[ "$vagg_guc" = 1 ] && s="$s SET streamext.enable_vectorized_agg = $([ "$t" = gc_novec ] && echo off || echo on);"
	echo "$s|${Q[$1]//@T/${t%_novec}}"
}
for q in $vagg_queries; do	# the plans measured: which nodes each variant runs
	for t in $vagg_tables; do
		IFS='|' read -r s sql <<<"$(vagg_sql "$q" "$t")"
		se_log "plan of $q on $t: $(se_psql pg1 -c "$s EXPLAIN (COSTS OFF) $sql" |
			grep -oE 'Gather|Finalize [A-Za-z]+|Partial [A-Za-z]+|HashAggregate|GroupAggregate|VectorizedAgg|Seq Scan|VersionedColumnarScan' |
			awk '!seen[$0]++' | paste -sd ' ')"
	done
done
# DuckDB (npm @duckdb/node-api, which ships its own binary; installed once into a cache folder,
# never into the repository): the heap table's rows through CSV into a DuckDB table (not timed),
# kept open in a coprocess that runs each query when asked, so its runs interleave with ours
# under the same machine load; threads = 1 for the serial query, 2 (this machine's cores) else.
duck_dir=${SE_DUCKDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/streamext-bench/duckdb}
duck_ok=0
if [ "${SE_BENCH_DUCKDB:-1}" = 0 ]; then
	se_log "DuckDB: skipped (SE_BENCH_DUCKDB=0)"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	se_log "DuckDB: skipped (node or npm is not installed)"
else
	mkdir -p "$duck_dir" 2>/dev/null && [ -w "$duck_dir" ] || duck_dir=$SE_WORK/duckdb
	mkdir -p "$duck_dir"
	[ -f "$duck_dir/package.json" ] || echo '{"private": true}' >"$duck_dir/package.json"
	if [ -d "$duck_dir/node_modules/@duckdb/node-api" ] ||
		(cd "$duck_dir" && npm_config_cache=$duck_dir/.npm timeout 600 npm install --no-audit --no-fund \
			--loglevel=error @duckdb/node-api >"$SE_WORK/npm.log" 2>&1); then
		duck_ok=1
	else
		se_log "DuckDB: skipped (npm install @duckdb/node-api failed: $(tail -1 "$SE_WORK/npm.log"))"
	fi
fi
if [ $duck_ok = 1 ]; then
	last1_utc=$(se_psql pg1 -c "SELECT (max(window_start) - (max(window_start) - min(window_start)) / 100) AT TIME ZONE 'UTC' FROM gh")
	se_psql pg1 -c "\\copy (SELECT window_start AT TIME ZONE 'UTC', device_id, product_id, region, qty, amount, temperature, speed FROM gh) TO '$SE_WORK/gold.csv' WITH (FORMAT csv)"
	cat >"$SE_WORK/duck.mjs" <<'JS'
// duck.mjs DIR CSV QUERIES.json: load CSV into table gold, print "ready ...", then for every
// query name read from stdin run that query and print "name ms"; end at the end of stdin.
import { createRequire } from 'module';
import { readFileSync } from 'fs';
import { createInterface } from 'readline';
const [dir, csv, qfile] = process.argv.slice(2);
const { DuckDBInstance, version } = createRequire(dir + '/package.json')('@duckdb/node-api');
const queries = Object.fromEntries(JSON.parse(readFileSync(qfile, 'utf8')).map(([n, t, s]) => [n, [t, s]]));
const con = await (await DuckDBInstance.create(':memory:')).connect();
const cols = { window_start: 'TIMESTAMP', device_id: 'VARCHAR', product_id: 'INTEGER', region: 'VARCHAR',
	qty: 'INTEGER', amount: 'DECIMAL(12,2)', temperature: 'DOUBLE', speed: 'DOUBLE' };
await con.run(`CREATE TABLE gold AS SELECT * FROM read_csv('${csv}', header = false, columns = ${JSON.stringify(cols).replace(/"/g, "'")})`);
const n = (await con.runAndReadAll('SELECT count(*) FROM gold')).getRows()[0][0];
console.log(`ready: DuckDB ${version()}, ${n} rows`);
for await (const name of createInterface({ input: process.stdin })) {
	const [threads, sql] = queries[name];
	await con.run(`SET threads = ${threads}`);
	const t0 = performance.now();
	(await con.runAndReadAll(sql)).getRows();
	console.log(`${name} ${(performance.now() - t0).toFixed(1)}`);
}
JS
	duck_q3=${Q[vagg_Q3]//"'$last1'"/"TIMESTAMP '$last1_utc'"}
	python3 -c 'import json, sys; print(json.dumps([[q, t, s.replace("@T", "gold")] for q, t, s in zip(sys.argv[1::3], sys.argv[2::3], sys.argv[3::3])]))' \
		vagg_Q1_serial 1 "${Q[vagg_Q1_serial]}" vagg_Q1_parallel 2 "${Q[vagg_Q1_parallel]}" \
		vagg_device 2 "${Q[vagg_device]}" vagg_device_par 2 "${Q[vagg_device]}" vagg_Q3 2 "$duck_q3" \
		>"$SE_WORK/duck_queries.json"
	coproc DUCK { exec node "$SE_WORK/duck.mjs" "$duck_dir" "$SE_WORK/gold.csv" "$SE_WORK/duck_queries.json" 2>"$SE_WORK/duck.err"; }
	SE_PIDS+=("$DUCK_PID")
	# copies of its pipes that subshells keep (bash closes DUCK's there, and unsets it at the end)
	exec {duck_out}<&"${DUCK[0]}" {duck_in}>&"${DUCK[1]}"
	if read -r -t 1800 ready <&"$duck_out" && [[ $ready == ready:* ]]; then
		se_log "$ready"
	else
		se_log "DuckDB: failed: $ready $(tail -3 "$SE_WORK/duck.err")"
		duck_ok=0
	fi
	rm -f "$SE_WORK/gold.csv"
fi
for r in $(seq 1 "$reps"); do
	for q in $vagg_queries; do
		for t in $vagg_tables; do
			IFS='|' read -r s sql <<<"$(vagg_sql "$q" "$t")"
			se_psql pg1 -c "$s INSERT INTO results SELECT '$q', '$t', bench_ms(\$q\$$sql\$q\$)"
		done
		if [ $duck_ok = 1 ]; then
			# (a subshell writes: a coprocess that died takes it, not this script, by SIGPIPE)
			if (echo "$q" >&"$duck_in") 2>/dev/null && read -r -t 600 w ms <&"$duck_out" && [ "$w" = "$q" ]; then
				se_psql pg1 -c "INSERT INTO results VALUES ('$q', 'duckdb', $ms)"
			else
				se_log "DuckDB: no answer for $q: $(tail -3 "$SE_WORK/duck.err")"
				duck_ok=0
			fi
		fi
	done
done
if [ -n "${DUCK_PID:-}" ]; then	# end of its stdin: it exits
	eval "exec $duck_in>&- ${DUCK[1]:-$duck_in}>&-"
	wait "$DUCK_PID" 2>/dev/null || true
fi
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
	FROM m h JOIN m c ON c.what = h.what AND c.tbl = 'gc' WHERE h.tbl = 'gh' AND h.what NOT LIKE 'vagg%' ORDER BY h.what" |
	while read -r w h c r; do printf '%-16s %12s %12s %8s\n' "$w" "$h" "$c" "$r"; done
se_psql pg1 -F ' ' -c "
	WITH m AS (SELECT what, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM results WHERE tbl = 'gc' GROUP BY what)
	SELECT 'as_of_v1/current', round(a.ms::numeric, 1), round(c.ms::numeric, 1), round((a.ms / c.ms)::numeric, 3)
	FROM m a, m c WHERE a.what = 'as_of_v1' AND c.what = 'current_read'" |
	while read -r w a c r; do printf '%-16s %12s %12s %8s  (columnar as_of old version / columnar current)\n' "$w" "$c" "$a" "$r"; done
echo
echo "vectorized aggregation (ms, medians; ratios to heap; 'x DuckDB' = gold vectorized / DuckDB)"
printf '%-17s %10s %10s %7s %10s %7s %10s %9s\n' what heap gold_vec ratio gold_novec ratio duckdb 'x DuckDB'
se_psql pg1 -F ' ' -c "
	WITH m AS (SELECT what, tbl, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM results
			   WHERE what LIKE 'vagg%' GROUP BY what, tbl)
	SELECT h.what, round(h.ms::numeric, 1), round(c.ms::numeric, 1), round((c.ms / h.ms)::numeric, 3),
		   coalesce(round(o.ms::numeric, 1)::text, '-'), coalesce(round((o.ms / h.ms)::numeric, 3)::text, '-'),
		   coalesce(round(d.ms::numeric, 1)::text, '-'), coalesce(round((c.ms / d.ms)::numeric, 2)::text, '-')
	FROM m h JOIN m c ON c.what = h.what AND c.tbl = 'gc'
	LEFT JOIN m o ON o.what = h.what AND o.tbl = 'gc_novec' LEFT JOIN m d ON d.what = h.what AND d.tbl = 'duckdb'
	WHERE h.tbl = 'gh' ORDER BY h.what" |
	while read -r w h c r o ro d x; do printf '%-17s %10s %10s %7s %10s %7s %10s %9s\n' "$w" "$h" "$c" "$r" "$o" "$ro" "$d" "$x"; done
[ "$vagg_guc" = 1 ] || echo "(streamext.enable_vectorized_agg does not exist in this build: gold_vec is the plain plan)"
se_psql pg1 -c "SELECT streamext.verify('gc')"
