#!/usr/bin/env bash
# streamext.optimize benchmark: ratios against baselines measured in the same run.
# The gold benchmark's rows (test/bench/columnar_bench.sh: hourly windows, 5,000 devices per
# hour, in time order) and its queries Q1 (full-scan GROUP BY) and Q3 (GROUP BY over the last
# 1% of time).
#   A. 2,000 micro-batches of 500 rows (what a pipeline writes) vs one bulk load of the same
#      rows: live bytes, Q1 and Q3 before and after OPTIMIZE (bar: within 1.1x of the bulk load).
#   B. 10M rows (SE_BENCH_SCALE scales it) loaded in time order, then
#      OPTIMIZE ZORDER BY (device_id, window_start): segments read for one device over all time
#      and for one device for one day, before (time order) and after (bars: <= 5 % and <= 1 %
#      of the segments), and Q3 against heap before and after.
#   C. the ZORDER's time vs INSERT ... SELECT ... ORDER BY device_id, window_start of the same
#      rows into a new versioned_columnar table (bar: <= 1.5x).
# Query times are medians of interleaved runs.
. "$SE_LIB"; se_test_begin
scale=${SE_BENCH_SCALE:-1}
rows=$(awk -v s="$scale" 'BEGIN { printf "%d", 10000000 * s }')
batches=${SE_OPT_BENCH_BATCHES:-2000}
reps=${COLUMNAR_BENCH_REPS:-5}
se_pg_start pg1 "shared_buffers = 512MB" "work_mem = 64MB" "maintenance_work_mem = 256MB" \
	"max_wal_size = 4GB" "checkpoint_timeout = 30min"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_log "rows: $rows, micro-batches: $batches x 500"
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
CREATE TABLE mb (LIKE gh) USING versioned_columnar;
CREATE TABLE bulk (LIKE gh) USING versioned_columnar;
CREATE TABLE zt (LIKE gh) USING versioned_columnar;
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; BEGIN
	t0 := clock_timestamp(); EXECUTE q; RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END \$\$;
CREATE FUNCTION segments_read(q text) RETURNS int LANGUAGE plpgsql AS \$\$
DECLARE l text; n int := 0; BEGIN
	-- serial: EXPLAIN shows the counts of the leader only
	PERFORM set_config('max_parallel_workers_per_gather', '0', true);
	FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
		-- a scan says Segments Read, a VectorizedAgg Vectors Processed (one per segment read)
		IF l ~ '(Segments Read|Vectors Processed):' THEN
			n := n + substring(l FROM '(?:Segments Read|Vectors Processed): (\d+)')::int;
		END IF;
	END LOOP;
	RETURN n;
END \$\$;
CREATE TABLE results (what text, tbl text, ms float8);
SQL
cols="window_start, device_id, product_id, region, qty, amount, temperature, speed"
median() {	# median WHAT TBL
	se_psql pg1 -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) FROM results WHERE what = '$1' AND tbl = '$2'"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# --- A: micro-batches vs bulk ---------------------------------------------------------------
mb_rows=$((batches * 500))
((mb_rows > rows)) && mb_rows=$rows
se_psql pg1 -c "INSERT INTO bulk SELECT $cols FROM src WHERE rn < $mb_rows ORDER BY rn"
se_psql pg1 <<SQL
DO \$\$
BEGIN
	FOR b IN 0..$((mb_rows / 500)) - 1 LOOP
		INSERT INTO mb SELECT $cols FROM src WHERE rn >= b * 500 AND rn < b * 500 + 500 ORDER BY rn;
		COMMIT;
	END LOOP;
END \$\$;
SQL
se_psql pg1 -c "ANALYZE mb" -c "ANALYZE bulk"
last1=$(se_psql pg1 -c "SELECT max(window_start) - (max(window_start) - min(window_start)) / 100 FROM bulk")
Q1="SELECT region, sum(amount), avg(temperature) FROM @T GROUP BY region"
Q3="SELECT region, sum(qty), avg(speed) FROM @T WHERE window_start >= '$last1' GROUP BY region"
run_ab() {	# run_ab TAG: Q1 and Q3 on mb and bulk, interleaved
	local r q t sql
	for r in $(seq 1 "$reps"); do
		for q in Q1 Q3; do
			for t in mb bulk; do
				sql=${!q}; sql=${sql//@T/$t}
				se_psql pg1 -c "INSERT INTO results SELECT '$q$1', '$t', bench_ms(\$q\$$sql\$q\$)"
			done
		done
	done
}
live_bytes_bulk=$(se_psql pg1 -c "SELECT streamext.optimize('bulk')->>'bytes_before'")
run_ab _before
r=$(se_psql pg1 -c "SELECT streamext.optimize('mb')")
se_log "optimize of the micro-batches: $r"
read -r seg_b seg_a by_b by_a secs <<<"$(se_psql pg1 -F ' ' -c "SELECT r->>'segments_before', r->>'segments_after', r->>'bytes_before', r->>'bytes_after', r->>'seconds' FROM (SELECT '$r'::jsonb r) x")"
run_ab _after
se_log "A. $mb_rows rows in $((mb_rows / 500)) micro-batches: segments $seg_b -> $seg_a, optimize ${secs}s"
se_log "A. live bytes vs bulk load: before $(ratio "$by_b" "$live_bytes_bulk")x, after $(ratio "$by_a" "$live_bytes_bulk")x (bar <= 1.1)"
for q in Q1 Q3; do
	se_log "A. $q vs bulk load: before $(ratio "$(median "${q}_before" mb)" "$(median "${q}_before" bulk)")x, after $(ratio "$(median "${q}_after" mb)" "$(median "${q}_after" bulk)")x (bar <= 1.1)"
done

# --- B and C: ZORDER on the 10M rows -------------------------------------------------------------
se_psql pg1 -c "INSERT INTO zt SELECT $cols FROM src ORDER BY rn"
se_psql pg1 -c "INSERT INTO gh SELECT $cols FROM src ORDER BY rn"
se_psql pg1 -c "VACUUM ANALYZE gh" -c "ANALYZE zt" -c "CHECKPOINT"
last1=$(se_psql pg1 -c "SELECT max(window_start) - (max(window_start) - min(window_start)) / 100 FROM gh")
day=$(se_psql pg1 -c "SELECT date_trunc('day', min(window_start) + (max(window_start) - min(window_start)) / 2) FROM gh")
Qdev="SELECT count(*), sum(qty) FROM zt WHERE device_id = 'device-00042'"
Qday="SELECT count(*), sum(qty) FROM zt WHERE device_id = 'device-00042' AND window_start >= '$day' AND window_start < '$day'::timestamptz + interval '1 day'"
Q3z="SELECT region, sum(qty), avg(speed) FROM @T WHERE window_start >= '$last1' GROUP BY region"
seg_report() {	# seg_report TAG
	local total dev dday
	total=$(se_psql pg1 -c "SELECT streamext.verify('zt')->>'live_segments'")
	dev=$(se_psql pg1 -c "SELECT segments_read(\$q\$$Qdev\$q\$)")
	dday=$(se_psql pg1 -c "SELECT segments_read(\$q\$$Qday\$q\$)")
	se_log "B. $1: one device all time reads $dev of $total segments ($(awk -v a="$dev" -v b="$total" 'BEGIN { printf "%.2f", 100 * a / b }') %, bar <= 5 %), one device one day $dday ($(awk -v a="$dday" -v b="$total" 'BEGIN { printf "%.2f", 100 * a / b }') %, bar <= 1 %)"
}
run_q3() {	# run_q3 TAG
	local r t sql
	for r in $(seq 1 "$reps"); do
		for t in gh zt; do
			sql=${Q3z//@T/$t}
			se_psql pg1 -c "INSERT INTO results SELECT 'Q3z$1', '$t', bench_ms(\$q\$$sql\$q\$)"
		done
	done
	se_log "B. $1: Q3 (last 1 % of time) vs heap: $(ratio "$(median "Q3z$1" zt)" "$(median "Q3z$1" gh)")x (bar <= 0.10)"
}
seg_report "time order"
run_q3 _time
# C: the baseline first, then the ZORDER, each after a checkpoint
se_psql pg1 -c "CREATE TABLE zsorted (LIKE gh) USING versioned_columnar" -c "CHECKPOINT"
ms_sort=$(se_psql pg1 -c "SELECT bench_ms('INSERT INTO zsorted SELECT * FROM zt ORDER BY device_id, window_start')")
se_psql pg1 -c "DROP TABLE zsorted" -c "CHECKPOINT"
r=$(se_psql pg1 -c "SELECT streamext.optimize('zt', zorder_by => '{device_id,window_start}')")
se_log "ZORDER: $r"
ms_z=$(se_psql pg1 -c "SELECT ('$r'::jsonb->>'seconds')::float8 * 1000")
se_log "C. ZORDER of $rows rows: ${ms_z} ms vs INSERT ... SELECT ... ORDER BY ${ms_sort} ms: $(ratio "$ms_z" "$ms_sort")x (bar <= 1.5)"
se_psql pg1 -c "ANALYZE zt"
seg_report "ZORDER(device_id, window_start)"
run_q3 _zorder
