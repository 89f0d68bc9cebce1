# test/integration/pipeline_e2e_common.bash — the seed's example as pipelines, shared by
# pipeline_e2e.sh (issue 11, test 1) and pipeline_exactly_once.sh (test 2).  Sourced after
# $SE_LIB; not a test itself (run.sh runs only *.sh).
#
# The flow: Kafka topic "trucks" -> source -> bronze (partitioned heap, time_partition 1 hour)
#   -> pipeline "silver": dedup on (device_id, event_time) within a 10-minute watermark,
#      LEFT JOIN devices (enrichment), expectation valid_temp (drop, into silver_quarantine),
#      late rows into silver_late
#   -> pipeline "gold_hourly": hourly average temperature per device, append mode, into a
#      versioned_columnar table
#   -> pipeline "gold_minute": per-minute aggregate per device, update mode, versioned_columnar
#      table with a primary key.
#
# Why the expected result does not depend on micro-batch boundaries
# -----------------------------------------------------------------
# A pipeline's watermark is max(event time of the rows of its earlier batches) - delay, and
# where the batches begin and end depends on when rows commit, which a test cannot control when
# a Kafka source and a pipeline worker run freely.  So the data is produced in PHASES, and the
# test waits until the silver pipeline has read every bronze row of phase k-1 before it
# produces phase k.  Each message carries its phase in a Kafka header (bronze._headers).  Phase
# k starts at S_k = START + (k-1) * PE_GAP, its on-time events span PE_SPAN of event time and are
# each moved back by a random 0..PE_DISORDER; a late event is moved back by PE_LATE more.
#  - On time under any batching: while phase k streams, the watermark is at most
#    max(event time so far) - 10 min <= S_k + PE_SPAN - 10 min, and an on-time event of phase k
#    is >= S_k - PE_DISORDER.  With PE_SPAN + PE_DISORDER < 10 min, no on-time event is ever late,
#    however the phase is cut into batches and however far one Kafka partition runs ahead.
#  - Late under any batching: when phase k starts, the watermark is already >= (max event time of
#    phases < k) - 10 min, as all of those rows were read by earlier batches; a late event of phase
#    k is <= S_k + PE_SPAN - PE_LATE, which is below that as PE_LATE >= PE_GAP + 10 min + PE_DISORDER
#    (+ margin).  Phase 1 has no late events (its first batch has no watermark).
#  - Duplicates: se-produce re-sends one of the last 1024 good messages of its run byte for byte
#    (same key, so the same partition, after the original).  A re-sent on-time event has the
#    original's event time e >= S_k - PE_DISORDER, and the watermark stays below e + 10 min
#    during phase k, so it is dropped under any batching; which copy is kept does not matter as
#    the copies are identical.  A re-sent late event is late as well (late rows never enter the
#    dedup state).  Each phase is its own se-produce run, so nothing is re-sent across phases.
#  - Expectation: a few readings per phase with temperature 999 (on time, never re-sent) are
#    dropped by valid_temp into the quarantine table.
#  - Gold: its watermark delay (10 min) equals silver's, so no silver row is ever late for gold:
#    a row of silver batch j has event time > silver's watermark before j >= max(event time of
#    silver rows of batches < j) - 10 min >= gold's watermark whenever gold reads it (gold reads
#    whole silver transactions, in commit order).  So gold_minute (update mode) holds the
#    aggregate of every silver row per minute, and gold_hourly (append mode) holds exactly the
#    hours whose end <= max(silver event time) - 10 min, the watermark after the last batch.
# The reference is then plain SQL over bronze: the watermark before phase k is
# max(event time of phases < k) - 10 min (one micro-batch per phase, Spark's rule), late rows are
# those at or below it, the first row per (device_id, event_time) among the rest is kept, rows
# failing the check are dropped, the rest joined with devices; gold is GROUP BY over that.

PE_SPAN_MS=${PE_SPAN_MS:-480000}         # 8 minutes of event time per phase
PE_DISORDER_MS=${PE_DISORDER_MS:-30000}  # 30 s
PE_GAP_MIN=${PE_GAP_MIN:-60}             # phases start an hour apart
PE_LATE_MS=$(((PE_GAP_MIN + 20) * 60000)) # >= gap + 10 min + disorder + span margin
PE_DEVICES=${PE_DEVICES:-500}
PE_START_EPOCH=1767225600                # 2026-01-01T00:00:00Z
PE_PRODUCED=0                            # messages produced so far (good + duplicates + malformed)
PE_MALFORMED=0
PE_BAD_TEMP=0

pe_q() { se_psql pg1 -c "$1"; }

# pe_schema TOPIC_PARTITIONS [MAX_BATCH_ROWS]: broker, bronze, source, devices, silver, golds,
# the three pipelines.
pe_schema() {
	local partitions=$1 mbr=${2:-0} extra=""
	((mbr > 0)) && extra=", \"max_batch_rows\": $mbr"
	se_broker_start --brokers 1 --topic "trucks:$partitions"
	se_psql pg1 <<SQL
CREATE TABLE bronze (
	device_id text NOT NULL, event_time timestamptz NOT NULL, seq bigint, temperature double precision,
	speed double precision, lat double precision, lon double precision, fuel double precision,
	odometer double precision, engine_on boolean, driver_id text, route_id text,
	_partition int, _offset bigint, _kafka_timestamp timestamptz, _headers jsonb)
	PARTITION BY RANGE (event_time);
SELECT streamext.create_source('trucks_src', '$SE_BOOTSTRAP', 'trucks', 'bronze', 'json',
	'{"time_partition": {"column": "event_time", "interval": "1 hour", "premake": 1}}');

-- Enrichment: every truck but the last ten has a row (the LEFT JOIN keeps those with NULLs).
CREATE TABLE devices (device_id text PRIMARY KEY, region text NOT NULL, model text NOT NULL);
INSERT INTO devices
SELECT format('truck-%s', lpad(i::text, 4, '0')), (ARRAY['north', 'south', 'east', 'west'])[1 + i % 4],
	'model-' || chr(65 + i % 5)
  FROM generate_series(0, $PE_DEVICES - 11) i;

CREATE TABLE silver (
	device_id text NOT NULL, event_time timestamptz NOT NULL, seq bigint, temperature double precision,
	speed double precision, lat double precision, lon double precision, region text, model text);
CREATE TABLE gold_hourly (
	window_start timestamptz NOT NULL, window_end timestamptz NOT NULL, device_id text NOT NULL,
	region text, readings bigint NOT NULL, avg_temp double precision, max_speed double precision)
	USING versioned_columnar;
CREATE TABLE gold_minute (
	window_start timestamptz NOT NULL, device_id text NOT NULL, readings bigint NOT NULL,
	avg_temp double precision, PRIMARY KEY (window_start, device_id))
	USING versioned_columnar;

SELECT streamext.create_pipeline('silver', 'bronze', 'silver',
	\$q\$SELECT b.device_id, b.event_time, b.seq, b.temperature, b.speed, b.lat, b.lon, d.region, d.model
	       FROM batch b LEFT JOIN devices d ON d.device_id = b.device_id\$q\$,
	'{"event_time": "event_time", "watermark": "10 minutes", "dedup_keys": ["device_id", "event_time"],
	  "late_rows": "silver_late", "quarantine": "silver_quarantine", "trigger": "0",
	  "expectations": [{"name": "valid_temp", "check": "temperature BETWEEN -50 AND 150", "on_violation": "drop"}]$extra}');
SELECT streamext.create_pipeline('gold_hourly', 'silver', 'gold_hourly',
	\$q\$SELECT window_start, window_end, device_id, region, count(*) AS readings,
	        avg(temperature) AS avg_temp, max(speed) AS max_speed
	       FROM batch GROUP BY window_start, window_end, device_id, region\$q\$,
	'{"event_time": "event_time", "watermark": "10 minutes", "window": {"type": "tumble", "width": "1 hour"},
	  "mode": "append", "late_rows": "gold_hourly_late", "trigger": "0"$extra}');
SELECT streamext.create_pipeline('gold_minute', 'silver', 'gold_minute',
	\$q\$SELECT window_start, device_id, count(*) AS readings, avg(temperature) AS avg_temp
	       FROM batch GROUP BY window_start, device_id\$q\$,
	'{"event_time": "event_time", "watermark": "10 minutes", "window": {"type": "tumble", "width": "1 minute"},
	  "mode": "update", "trigger": "0"$extra}');
SQL
}

# pe_produce_phase K COUNT [se-produce options]: phase K (see the top); waits for the producer.
pe_produce_phase() {
	local k=$1 count=$2 start late_frac=0.02 log=$SE_WORK/produce.$1.log i n bad=20 t
	shift 2
	((k == 1)) && late_frac=0
	start=$(date -u -d "@$((PE_START_EPOCH + (k - 1) * PE_GAP_MIN * 60))" +%Y-%m-%dT%H:%M:%SZ)
	"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --seed "$k" --start "$start" \
		--count "$count" --devices "$PE_DEVICES" \
		--interval-ms "$(python3 -c "print($PE_SPAN_MS / $count)")" --disorder-ms "$PE_DISORDER_MS" \
		--late-fraction "$late_frac" --late-ms "$PE_LATE_MS" --duplicate-fraction 0.03 \
		--malformed-fraction 0.01 -H "phase=$k" "$@" 2>"$log" ||
		{ cat "$log" >&2; se_die "producing phase $k failed"; }
	se_log "phase $k ($start): $(head -n1 "$log")"
	n=$(sed -nE 's/^produced ([0-9]+) .*/\1/p' "$log")
	PE_PRODUCED=$((PE_PRODUCED + n))
	PE_MALFORMED=$((PE_MALFORMED + $(sed -nE 's/.*malformed ([0-9]+)\).*/\1/p' "$log")))
	# Sensor faults: on time (inside the phase's span, milliseconds .999 that the generator's
	# microsecond disorder practically never hits), each sent once.
	for ((i = 0; i < bad; i++)); do
		t=$(date -u -d "@$((PE_START_EPOCH + (k - 1) * PE_GAP_MIN * 60 + 5 + i * PE_SPAN_MS / 1000 / (bad + 1)))" +%Y-%m-%dT%H:%M:%S)
		printf 'truck-%04d|{"device_id":"truck-%04d","event_time":"%s.999000Z","seq":0,"temperature":999.0,"speed":1.0}\n' \
			$((i * 7 % PE_DEVICES)) $((i * 7 % PE_DEVICES)) "$t"
	done | "$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --stdin --key-delimiter '|' \
		-H "phase=$k" 2>>"$log" || { cat "$log" >&2; se_die "producing the sensor faults of phase $k failed"; }
	PE_PRODUCED=$((PE_PRODUCED + bad))
	PE_BAD_TEMP=$((PE_BAD_TEMP + bad))
}

# pe_check_running: no pipeline may be in state error.
pe_check_running() {
	local bad
	bad=$(pe_q "SELECT string_agg(pipeline || ': ' || coalesce(last_error, '?'), '; ') FROM streamext.pipeline_status
		WHERE state = 'error'" 2>/dev/null || true)
	[ -z "$bad" ] || se_die "pipeline in state error: $bad"
}

# pe_wait SECS SQL WHAT: poll until SQL is true; fail early when a pipeline is in error.
pe_wait() {
	local secs=$1 sql=$2 what=$3 i
	for ((i = 0; i < secs * 5; i++)); do
		[ "$(pe_q "$sql" 2>/dev/null)" = t ] && return 0
		((i % 25 == 0)) && pe_check_running
		sleep 0.2
	done
	pe_q "SELECT pipeline, state, batches, rows_in, rows_out, late_rows, duplicates_dropped, watermark, last_error
		FROM streamext.pipeline_status ORDER BY 1" >&2 || true
	se_die "timed out after $secs s waiting for: $what"
}

# pe_wait_ingested SECS: every message produced so far is a bronze row or a dead letter.
pe_wait_ingested() {
	pe_wait "$1" "SELECT (SELECT count(*) FROM bronze) + (SELECT count(*) FROM streamext.dead_letters
		WHERE source = 'trucks_src') >= $PE_PRODUCED" "$PE_PRODUCED messages in bronze or dead_letters"
}

# pe_wait_silver SECS: the silver pipeline has read every bronze row (the phase barrier).
pe_wait_silver() {
	pe_wait "$1" "SELECT rows_in >= (SELECT count(*) FROM bronze) FROM streamext.pipeline_status
		WHERE pipeline = 'silver'" "silver to read all $(pe_q 'SELECT count(*) FROM bronze') bronze rows"
}

# pe_wait_gold SECS: both gold pipelines have read every silver row.
pe_wait_gold() {
	pe_wait "$1" "SELECT bool_and(rows_in >= (SELECT count(*) FROM silver)) AND count(*) = 2
		FROM streamext.pipeline_status WHERE pipeline IN ('gold_hourly', 'gold_minute')" \
		"gold pipelines to read all $(pe_q 'SELECT count(*) FROM silver') silver rows"
}

# pe_reference: the expected tables, in plain SQL from bronze alone (see the top).
pe_reference() {
	se_psql pg1 <<'SQL'
CREATE TABLE ref_classified AS
WITH phases AS (
	SELECT (_headers->>'phase')::int AS phase, max(event_time) AS max_et FROM bronze GROUP BY 1),
wm AS (
	SELECT phase, max(max_et) OVER (ORDER BY phase ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
	              - interval '10 minutes' AS wm_before
	  FROM phases)
SELECT b.device_id, b.event_time, b.seq, b.temperature, b.speed, b.lat, b.lon, b._partition, b._offset,
       wm.phase, wm.wm_before, coalesce(b.event_time <= wm.wm_before, false) AS late
  FROM bronze b JOIN wm ON wm.phase = (b._headers->>'phase')::int;
-- first arrival per key among the rows that are not late (one key = one device = one partition)
CREATE TABLE ref_kept AS
SELECT DISTINCT ON (device_id, event_time) *
  FROM ref_classified WHERE NOT late ORDER BY device_id, event_time, _partition, _offset;
CREATE TABLE ref_silver AS
SELECT k.device_id, k.event_time, k.seq, k.temperature, k.speed, k.lat, k.lon, d.region, d.model
  FROM ref_kept k LEFT JOIN devices d ON d.device_id = k.device_id
 WHERE k.temperature BETWEEN -50 AND 150;
CREATE TABLE ref_gold_hourly AS
SELECT date_bin('1 hour', event_time, 'epoch') AS window_start,
       date_bin('1 hour', event_time, 'epoch') + interval '1 hour' AS window_end,
       device_id, region, count(*) AS readings, avg(temperature) AS avg_temp, max(speed) AS max_speed
  FROM ref_silver GROUP BY 1, 2, 3, 4
HAVING date_bin('1 hour', event_time, 'epoch') + interval '1 hour'
       <= (SELECT max(event_time) - interval '10 minutes' FROM ref_silver);
CREATE TABLE ref_gold_minute AS
SELECT date_bin('1 minute', event_time, 'epoch') AS window_start, device_id,
       count(*) AS readings, avg(temperature) AS avg_temp
  FROM ref_silver GROUP BY 1, 2;
SQL
}

# pe_diff A B COLUMNS: rows of A not in B plus rows of B not in A (multisets), by COLUMNS
# (a pipeline's source has the tracking column create_pipeline added).
pe_diff() {
	pe_q "SELECT (SELECT count(*) FROM (SELECT $3 FROM $1 EXCEPT ALL SELECT $3 FROM $2) x)
		+ (SELECT count(*) FROM (SELECT $3 FROM $2 EXCEPT ALL SELECT $3 FROM $1) y)"
}

# pe_dups TABLE COLUMNS: rows beyond the first per value of COLUMNS (hash aggregation: fast)
pe_dups() {
	pe_q "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM $1 GROUP BY $2 HAVING count(*) > 1) x"
}

# pe_compare: silver, late rows, quarantine, both golds and the counters equal the reference.
pe_compare() {
	local n
	pe_reference
	se_log "reference: $(pe_q "SELECT format('%s bronze rows, %s late, %s kept, %s silver, %s hourly, %s minute rows',
		(SELECT count(*) FROM ref_classified), (SELECT count(*) FROM ref_classified WHERE late),
		(SELECT count(*) FROM ref_kept), (SELECT count(*) FROM ref_silver),
		(SELECT count(*) FROM ref_gold_hourly), (SELECT count(*) FROM ref_gold_minute))")"
	se_assert_eq "the reference has late rows, duplicates and dropped rows" t "$(pe_q "SELECT
		(SELECT count(*) > 100 FROM ref_classified WHERE late)
		AND (SELECT count(*) FROM ref_classified WHERE NOT late) - (SELECT count(*) FROM ref_kept) > 100
		AND (SELECT count(*) = $PE_BAD_TEMP FROM ref_kept WHERE temperature = 999)
		AND (SELECT count(*) > 0 FROM ref_silver WHERE region IS NULL)")"

	se_assert_eq "dead letters (the malformed messages)" "$PE_MALFORMED" \
		"$(pe_q "SELECT count(*) FROM streamext.dead_letters WHERE source = 'trucks_src'")"
	se_assert_eq "bronze rows + dead letters = messages" "$PE_PRODUCED" \
		"$(pe_q "SELECT (SELECT count(*) FROM bronze) + (SELECT count(*) FROM streamext.dead_letters WHERE source = 'trucks_src')")"
	se_assert_eq "bronze (_partition, _offset) twice" 0 "$(pe_dups bronze "_partition, _offset")"
	se_assert_eq "bronze partitions (time_partition)" t "$(pe_q "SELECT count(*) >= 5 FROM pg_inherits WHERE inhparent = 'bronze'::regclass")"

	se_assert_eq "silver rows differing from the reference" 0 "$(pe_diff silver ref_silver "device_id, event_time, seq, temperature, speed, lat, lon, region, model")"
	se_assert_eq "silver (device_id, event_time) twice" 0 "$(pe_dups silver "device_id, event_time")"
	se_assert_eq "late rows differing from the reference (by _partition, _offset)" 0 "$(pe_q "SELECT
		(SELECT count(*) FROM (SELECT _partition, _offset FROM silver_late EXCEPT ALL
		                       SELECT _partition, _offset FROM ref_classified WHERE late) x)
		+ (SELECT count(*) FROM (SELECT _partition, _offset FROM ref_classified WHERE late EXCEPT ALL
		                         SELECT _partition, _offset FROM silver_late) y)")"
	se_assert_eq "late rows: _pipeline, and at or below their _watermark" 0 "$(pe_q "SELECT count(*) FROM silver_late
		WHERE _pipeline IS DISTINCT FROM 'silver' OR _batch IS NULL OR NOT (event_time <= _watermark)")"
	se_assert_eq "quarantine = the readings of 999 degrees" 0 "$(pe_q "SELECT
		(SELECT count(*) FROM (SELECT device_id, event_time, temperature FROM silver_quarantine EXCEPT ALL
		                       SELECT device_id, event_time, temperature FROM ref_kept WHERE NOT temperature BETWEEN -50 AND 150) x)
		+ (SELECT count(*) FROM (SELECT device_id, event_time, temperature FROM ref_kept WHERE NOT temperature BETWEEN -50 AND 150
		                         EXCEPT ALL SELECT device_id, event_time, temperature FROM silver_quarantine) y)")"
	se_assert_eq "silver status (rows_in, rows_out, late_rows, duplicates_dropped, expectation_failures)" \
		"$(pe_q "SELECT (SELECT count(*) FROM ref_classified) || '|' || (SELECT count(*) FROM ref_silver) || '|'
			|| (SELECT count(*) FROM ref_classified WHERE late) || '|'
			|| (SELECT count(*) FROM ref_classified WHERE NOT late) - (SELECT count(*) FROM ref_kept) || '|'
			|| (SELECT count(*) FROM ref_kept WHERE NOT temperature BETWEEN -50 AND 150)")" \
		"$(pe_q "SELECT rows_in || '|' || rows_out || '|' || late_rows || '|' || duplicates_dropped || '|' || expectation_failures
			FROM streamext.pipeline_status WHERE pipeline = 'silver'")"
	se_assert_eq "valid_temp failures in the event log" "$PE_BAD_TEMP" "$(pe_q "SELECT sum((expectations->'valid_temp'->>'failed')::bigint)
		FROM streamext.pipeline_batches WHERE pipeline = 'silver'")"
	se_assert_eq "silver watermark" "$(pe_q "SELECT max(event_time) - interval '10 minutes' FROM bronze")" \
		"$(pe_q "SELECT watermark FROM streamext.pipeline_status WHERE pipeline = 'silver'")"

	# Gold: counts and maxima exactly, averages to 1e-9 (a sum of doubles depends on its order).
	for g in gold_hourly gold_minute; do
		local keys="window_start, device_id"
		se_assert_eq "$g (window_start, device_id) twice" 0 "$(pe_dups $g "$keys")"
	done
	se_assert_eq "gold_hourly rows differing from the reference" 0 "$(pe_q "SELECT count(*)
		FROM gold_hourly g FULL JOIN ref_gold_hourly r USING (window_start, device_id)
		WHERE g.window_end IS DISTINCT FROM r.window_end OR g.region IS DISTINCT FROM r.region
		   OR g.readings IS DISTINCT FROM r.readings OR g.max_speed IS DISTINCT FROM r.max_speed
		   OR NOT abs(g.avg_temp - r.avg_temp) <= 1e-9 * greatest(1, abs(r.avg_temp))")"
	se_assert_eq "gold_minute rows differing from the reference" 0 "$(pe_q "SELECT count(*)
		FROM gold_minute g FULL JOIN ref_gold_minute r USING (window_start, device_id)
		WHERE g.readings IS DISTINCT FROM r.readings
		   OR NOT abs(g.avg_temp - r.avg_temp) <= 1e-9 * greatest(1, abs(r.avg_temp))")"
	se_assert_eq "gold late rows (none can be late, see the top)" "0|0|0" "$(pe_q "SELECT
		(SELECT count(*) FROM gold_hourly_late) || '|' || string_agg(late_rows::text, '|' ORDER BY pipeline)
		FROM streamext.pipeline_status WHERE pipeline IN ('gold_hourly', 'gold_minute')")"
	n=$(pe_q "SELECT count(*) FROM gold_hourly")
	se_log "gold_hourly: $n rows, $(pe_q "SELECT count(*) FROM streamext.history('gold_hourly')") versions; gold_minute: $(pe_q "SELECT count(*) FROM gold_minute") rows"
}
