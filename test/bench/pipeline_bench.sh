#!/usr/bin/env bash
# Pipeline benchmark (issue 11), ratios against plain SQL measured in the same run:
#  (a) catch-up of the silver pipeline (dedup on (device_id, event_time) + enrichment join + one
#      expectation) over 1M bronze rows with run_pipeline, vs one INSERT ... SELECT DISTINCT ON +
#      join + filter over the same rows (bar >= 0.7x the SQL's rows/s);
#  (b) the gold append pipeline (hourly windows, 5,000 devices) over 1M silver rows with
#      run_pipeline, vs one INSERT ... SELECT ... GROUP BY of the windows it emits (bar >= 0.7x);
#  (c) steady state Kafka -> bronze -> silver -> gold with trigger '0': sustained messages/s with
#      the silver lag sampled while it runs, then p50/p99 latency from the Kafka timestamp to the
#      silver row's commit at 10,000 messages/s (bar p99 <= 1 s) and at 1,000 messages/s, with the
#      source's batch_max_ms at 50 ms; the Kafka -> bronze part of the latency is printed too.
#      (The throughput run's topic has 64 partitions, each latency run's its own 4: see se_broker_start.)
# Each pair is timed best of SE_BENCH_ROUNDS (default 5), pipeline and SQL interleaved (the machine is shared); results are checked equal, no timed
# assertions.  SE_BENCH_SCALE scales the row counts; SE_BENCH_PARTS (default "abc") selects the
# parts (e.g. "ab": the catch-up parts only, no broker).
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "shared_buffers = 512MB" "work_mem = 64MB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
	"jit = off" "track_commit_timestamp = on" "timezone = 'UTC'"
q() { se_psql pg1 -c "$1"; }
q "CREATE EXTENSION streamext"
N=$(python3 -c "print(max(10000, int(1000000 * float('${SE_BENCH_SCALE:-1}'))))")
ratio() { python3 -c "print('%.2f' % (float('$1') / max(float('$2'), 1e-9)))"; }
# timed SQL: milliseconds of the statement, measured in the server
ms() { se_psql pg1 -c '\timing on' -c "$1" | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | tail -n1; }
best() { python3 -c "print(min(float(x) for x in '$*'.split()))"; }

# ---- data: bronze_b (heap), 5,000 devices, 2 % re-sent readings, 0.5 % sensor faults ----------
se_log "generating $N bronze rows"
se_psql pg1 <<SQL
SELECT setseed(0.7);
CREATE TABLE devices (device_id text PRIMARY KEY, region text, model text);
INSERT INTO devices SELECT 'truck-' || lpad(i::text, 4, '0'), (ARRAY['north','south','east','west'])[1 + i % 4],
	'model-' || chr(65 + i % 5) FROM generate_series(0, 4999) i;
CREATE TABLE bronze_b (device_id text NOT NULL, event_time timestamptz NOT NULL, seq bigint,
	temperature double precision, speed double precision, lat double precision, lon double precision);
INSERT INTO bronze_b
SELECT 'truck-' || lpad((i % 5000)::text, 4, '0'),
       -- 12 hours of readings whatever N: each truck reports every 12 h / (N / 5000)
       '2026-01-01'::timestamptz + (i / 5000) * (interval '12 hours' / ($N / 5000))
         + (random() * 1000)::int * interval '1 ms',
       i / 5000, CASE WHEN random() < 0.005 THEN 999 ELSE round((2 + random() * 8)::numeric, 1) END,
       round((random() * 90)::numeric, 1), 52.3 + random() * 0.4, 13.1 + random() * 0.6
  FROM generate_series(0, $N - $N / 50 - 1) i;
INSERT INTO bronze_b SELECT * FROM bronze_b ORDER BY random() LIMIT $N / 50;
CREATE TABLE silver_p (device_id text, event_time timestamptz, seq bigint, temperature double precision,
	speed double precision, region text, model text);
CREATE TABLE silver_s (LIKE silver_p);
VACUUM ANALYZE bronze_b;
SELECT streamext.create_pipeline('silver_b', 'bronze_b', 'silver_p',
	\$q\$SELECT b.device_id, b.event_time, b.seq, b.temperature, b.speed, d.region, d.model
	     FROM batch b JOIN devices d ON d.device_id = b.device_id\$q\$,
	'{"event_time": "event_time", "watermark": "10 minutes", "dedup_keys": ["device_id", "event_time"], "trigger": "manual",
	  "expectations": [{"name": "valid_temp", "check": "temperature BETWEEN -50 AND 150", "on_violation": "drop"}]}');
SQL
SQL_A="INSERT INTO silver_s SELECT b.device_id, b.event_time, b.seq, b.temperature, b.speed, d.region, d.model
  FROM (SELECT DISTINCT ON (device_id, event_time) * FROM bronze_b ORDER BY device_id, event_time) b
  JOIN devices d ON d.device_id = b.device_id WHERE b.temperature BETWEEN -50 AND 150"

# ---- (a) catch-up: silver pipeline vs INSERT ... SELECT ----------------------------------------
ta_p=() ta_s=()
for r in $(seq 1 "${SE_BENCH_ROUNDS:-5}"); do
	q "SELECT streamext.reset_pipeline('silver_b')" >/dev/null
	q "CHECKPOINT"
	ta_p+=("$(ms "SELECT streamext.run_pipeline('silver_b')")")
	q "TRUNCATE silver_s; CHECKPOINT"
	ta_s+=("$(ms "$SQL_A")")
done
se_assert_eq "(a) silver rows equal the SQL's" 0 "$(q "SELECT count(*) FROM ((TABLE silver_p EXCEPT ALL TABLE silver_s) UNION ALL (TABLE silver_s EXCEPT ALL TABLE silver_p)) d")"
a_p=$(best "${ta_p[@]}") a_s=$(best "${ta_s[@]}")
res_a="(a) silver catch-up, $N bronze rows: pipeline $(python3 -c "print(round($N / $a_p * 1000))") rows/s (${a_p} ms), INSERT ... SELECT DISTINCT ON + join + filter $(python3 -c "print(round($N / $a_s * 1000))") rows/s (${a_s} ms): ratio $(ratio "$a_s" "$a_p")x (bar >= 0.7x)"
echo "$res_a"

# ---- (b) gold append over 1M silver rows: pipeline vs GROUP BY --------------------------------
se_psql pg1 <<'SQL'
CREATE TABLE silver_g AS SELECT * FROM silver_s;
VACUUM ANALYZE silver_g;
CREATE TABLE gold_p (window_start timestamptz, window_end timestamptz, device_id text, readings bigint,
	avg_temp double precision, max_speed double precision) USING versioned_columnar;
CREATE TABLE gold_s (LIKE gold_p) USING versioned_columnar;
SELECT streamext.create_pipeline('gold_b', 'silver_g', 'gold_p',
	$q$SELECT window_start, window_end, device_id, count(*) AS readings, avg(temperature) AS avg_temp,
	          max(speed) AS max_speed FROM batch GROUP BY window_start, window_end, device_id$q$,
	'{"event_time": "event_time", "watermark": "10 minutes", "window": {"type": "tumble", "width": "1 hour"},
	  "mode": "append", "trigger": "manual"}');
SQL
NG=$(q "SELECT count(*) FROM silver_g")
SQL_B="INSERT INTO gold_s SELECT date_bin('1 hour', event_time, 'epoch'), date_bin('1 hour', event_time, 'epoch') + interval '1 hour',
  device_id, count(*), avg(temperature), max(speed) FROM silver_g GROUP BY 1, 2, 3
  HAVING date_bin('1 hour', event_time, 'epoch') + interval '1 hour' <= (SELECT max(event_time) - interval '10 minutes' FROM silver_g)"
tb_p=() tb_s=()
for r in $(seq 1 "${SE_BENCH_ROUNDS:-5}"); do
	q "SELECT streamext.reset_pipeline('gold_b')" >/dev/null
	q "CHECKPOINT"
	tb_p+=("$(ms "SELECT streamext.run_pipeline('gold_b')")")
	q "TRUNCATE gold_s; CHECKPOINT"
	tb_s+=("$(ms "$SQL_B")")
done
se_assert_eq "(b) gold rows equal the SQL's" 0 "$(q "SELECT count(*) FROM gold_p p FULL JOIN gold_s s USING (window_start, device_id)
	WHERE p.readings IS DISTINCT FROM s.readings OR p.max_speed IS DISTINCT FROM s.max_speed
	   OR NOT abs(p.avg_temp - s.avg_temp) <= 1e-9 * greatest(1, abs(s.avg_temp))")"
b_p=$(best "${tb_p[@]}") b_s=$(best "${tb_s[@]}")
res_b="(b) gold append, $NG silver rows, 5000 devices, $(q "SELECT count(*) FROM gold_s") hourly windows: pipeline $(python3 -c "print(round($NG / $b_p * 1000))") rows/s (${b_p} ms), INSERT ... SELECT ... GROUP BY $(python3 -c "print(round($NG / $b_s * 1000))") rows/s (${b_s} ms): ratio $(ratio "$b_s" "$b_p")x (bar >= 0.7x)"
echo "$res_b"
q "SELECT streamext.drop_pipeline('silver_b'), streamext.drop_pipeline('gold_b')" >/dev/null
q "DROP TABLE bronze_b, silver_p, silver_s, silver_g, gold_p, gold_s"
if [[ ${SE_BENCH_PARTS:-abc} != *c* ]]; then
	echo "pipeline_bench summary"
	printf '  %s\n' "$res_a" "$res_b"
	exit 0
fi

# ---- (c) steady state from Kafka ---------------------------------------------------------------
# Three topics, all read by the source.  The embedded broker (librdkafka's mock cluster) keeps
# about 5 MiB per partition (older message sets are evicted, read or not): the throughput run's
# topic needs 64 partitions to hold a million messages that the source has not read yet.  But the
# broker also walks a partition's list of message sets from its start for every fetch and returns
# one set per partition per fetch: at 10,000 messages/s a producer lingering 5 ms sends sets of
# about one message per partition of 64, and after 200,000 of them the broker spent a whole core
# walking its lists while the source waited for fetches (Kafka -> bronze p50 8 s: the rig, not
# the product, was measured; with 8 partitions it still took most of a core by the end of a run).
# So each latency run produces to a fresh topic of 4 partitions: sets 16 times larger than with 64,
# and the 5 MiB a partition keeps bounds its list to about a thousand of them.  (Kafka indexes its
# logs; neither partition count is what the issue's bars are about.)
se_broker_start --brokers 1 --topic trucks:64 --topic trucks-lat-04:4 --topic trucks-lat-05:4
se_psql pg1 <<SQL
CREATE TABLE bronze (device_id text NOT NULL, event_time timestamptz NOT NULL, seq bigint, temperature double precision,
	speed double precision, lat double precision, lon double precision, fuel double precision, odometer double precision,
	engine_on boolean, driver_id text, route_id text, _kafka_timestamp timestamptz) PARTITION BY RANGE (event_time);
SELECT streamext.create_source('trucks', '$SE_BOOTSTRAP', 'trucks,trucks-lat-04,trucks-lat-05', 'bronze', 'json',
	'{"time_partition": {"column": "event_time", "interval": "1 day", "premake": 1}}');
CREATE TABLE silver (device_id text, event_time timestamptz, seq bigint, temperature double precision,
	speed double precision, region text, model text, _kafka_timestamp timestamptz);
CREATE TABLE gold (window_start timestamptz, window_end timestamptz, device_id text, readings bigint,
	avg_temp double precision) USING versioned_columnar;
SELECT streamext.create_pipeline('silver', 'bronze', 'silver',
	\$q\$SELECT b.device_id, b.event_time, b.seq, b.temperature, b.speed, d.region, d.model, b._kafka_timestamp
	     FROM batch b LEFT JOIN devices d ON d.device_id = b.device_id\$q\$,
	'{"event_time": "event_time", "watermark": "10 minutes", "dedup_keys": ["device_id", "event_time"], "trigger": "0",
	  "expectations": [{"name": "valid_temp", "check": "temperature BETWEEN -50 AND 150", "on_violation": "drop"}]}');
SELECT streamext.create_pipeline('gold', 'silver', 'gold',
	\$q\$SELECT window_start, window_end, device_id, count(*) AS readings, avg(temperature) AS avg_temp
	     FROM batch GROUP BY window_start, window_end, device_id\$q\$,
	'{"event_time": "event_time", "watermark": "10 minutes", "window": {"type": "tumble", "width": "1 hour"},
	  "mode": "append", "trigger": "0"}');
SQL
# wait_all N: until gold has read every silver row and silver every one of N messages; samples
# the silver lag (bronze rows not yet read by silver) each 0.5 s into $SE_WORK/lag.txt.  The
# bronze rows are the messages ingested (the stored offsets: the topic's offsets start at 0)
# minus the dead letters, the silver rows what the silver pipeline wrote: counting the tables
# instead (count(*) over a million rows or more, twice a sample) took a good part of a core
# from the pipelines on this 2-core machine.
wait_all() {
	local n=$1 i
	: >"$SE_WORK/lag.txt"
	for ((i = 0; i < 1200; i++)); do
		read -r b s g <<<"$(se_psql pg1 -F ' ' -c "SELECT (SELECT coalesce(sum(next_offset), 0) FROM streamext.source_offsets
				WHERE source = 'trucks') - (SELECT count(*) FROM streamext.dead_letters),
			(SELECT rows_in FROM streamext.pipeline_status WHERE pipeline = 'silver'),
			(SELECT rows_in FROM streamext.pipeline_status WHERE pipeline = 'gold')
			  - (SELECT rows_out FROM streamext.pipeline_status WHERE pipeline = 'silver')")"
		echo "$((b - s))" >>"$SE_WORK/lag.txt"
		((b >= n && s >= b && g >= 0)) && return 0
		sleep 0.5
	done
	se_die "steady state: not caught up in 600 s (bronze $b, silver read $s)"
}
# warm-up: the consumer group join and the first batches
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --count 10000 --devices 5000 2>/dev/null
wait_all 10000
NC=$N
t0=$(date +%s.%N)
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --count "$NC" --devices 5000 --seed 2 \
	--start 2026-01-02T00:00:00Z --interval-ms 10 -X linger.ms=100 2>"$SE_WORK/produce.c.log"
wait_all $((NC + 10000))
t1=$(date +%s.%N)
maxlag=$(sort -n "$SE_WORK/lag.txt" | tail -n1)
res_c1="(c) steady state Kafka -> bronze -> silver -> gold: $NC messages in $(python3 -c "print('%.1f' % ($t1 - $t0))") s = $(python3 -c "print(round($NC / ($t1 - $t0)))") msgs/s through gold (bar >= 50000), silver lag at most $maxlag rows (sampled every 0.5 s)"
echo "$res_c1"

# latency_at RATE COUNT DAY: produce COUNT messages at RATE msgs/s with event times on 2026-01-DAY from
# 01:00, then the p50/p99/max from the Kafka timestamp (producer's clock) to the commit of the silver
# row.  First a warm-up of 500 messages at 00:00 of the day: the day's bronze partition is made by
# the first batch that needs it (DDL that waits for the pipelines' locks on bronze); a live stream
# has its partition made ahead (premake) long before, so the measured messages should not queue
# behind that.  (The warm-up's event times are below the measured ones: none of these is late.)
latency_at() {
	local rate=$1 n=$2 day=$3 before p50 p99 pmax
	before=$(q "SELECT coalesce(sum(next_offset), 0) FROM streamext.source_offsets WHERE source = 'trucks'")
	"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic "trucks-lat-$day" --count 500 --devices 5000 --seed "1$day" \
		--start "2026-01-${day}T00:00:00Z" --rate 1000 2>/dev/null
	wait_all $((before + 500))
	before=$((before + 500))
	"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic "trucks-lat-$day" --count "$n" --devices 5000 --seed "$day" \
		--start "2026-01-${day}T01:00:00Z" --interval-ms 10 --rate "$rate" 2>"$SE_WORK/produce.$day.log"
	wait_all $((before + n))
	read -r p50 p99 pmax < <(se_psql pg1 -F ' ' -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 1),
		round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 1), round(max(l)::numeric, 1)
		FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - _kafka_timestamp) * 1000 AS l
		        FROM silver WHERE event_time >= '2026-01-$day 01:00' AND event_time < '2026-01-$day'::timestamptz + interval '1 day') x")
	[ -n "$p50" ] || se_die "latency at $rate msgs/s: no silver rows of 2026-01-$day"
	# of which Kafka -> bronze (the source's batching)
	read -r b50 b99 < <(se_psql pg1 -F ' ' -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 1),
		round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 1)
		FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - _kafka_timestamp) * 1000 AS l
		        FROM bronze WHERE event_time >= '2026-01-$day 01:00' AND event_time < '2026-01-$day'::timestamptz + interval '1 day') x")
	echo "(c) latency Kafka timestamp -> silver commit at $rate msgs/s, trigger '0', $n messages: p50 $p50 ms, p99 $p99 ms, max $pmax ms (bar at 10000 msgs/s: p99 <= 1000 ms); Kafka -> bronze commit: p50 $b50 ms, p99 $b99 ms"
}
NL=$(python3 -c "print(max(20000, int(200000 * float('${SE_BENCH_SCALE:-1}'))))")
# Latency: the source writes a batch every 50 ms at most (its default batch_max_ms, 500 ms, is for
# throughput); a warm-up after the change lets its workers rejoin the consumer group first.
# (Event times grow from run to run: each run is later than the watermark the one before left.)
q "SELECT streamext.alter_source('trucks', '{\"batch_max_ms\": 50}')" >/dev/null
warm=$(q "SELECT coalesce(sum(next_offset), 0) FROM streamext.source_offsets WHERE source = 'trucks'")
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --count 2000 --devices 5000 --seed 9 \
	--start 2026-01-03T00:00:00Z --rate 1000 2>/dev/null
wait_all $((warm + 2000))
res_c2=$(latency_at 10000 "$NL" 04)
echo "$res_c2"
# the same at a rate far below the throughput measured above: the latency of a batch itself
res_c3=$(latency_at 1000 20000 05)
echo "$res_c3"

echo "pipeline_bench summary"
printf '  %s\n' "$res_a" "$res_b" "$res_c1" "$res_c2" "$res_c3"
