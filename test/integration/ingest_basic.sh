#!/usr/bin/env bash
# Issue 3, test 1: 100,000 truck messages over 8 partitions become exactly 100,000 typed rows
# with the right metadata columns, and the stored offsets equal the partitions' end offsets.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic trucks:8
N=100000
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --count $N --devices 256 2>"$SE_WORK/produce.log"

se_psql pg1 <<'SQL'
CREATE TABLE trucks (
	device_id text NOT NULL, event_time timestamptz NOT NULL, seq bigint, temperature double precision,
	speed double precision, lat double precision, lon double precision, fuel double precision,
	odometer double precision, engine_on boolean, driver_id text, route_id text,
	_topic text, _partition int, _offset bigint, _key text, _kafka_timestamp timestamptz,
	_ingested_at timestamptz);
SQL
se_psql pg1 -c "SELECT streamext.create_source('trucks_src', '$SE_BOOTSTRAP', 'trucks', 'trucks')"
# Every message consumed (the offsets commit with the rows): anything more would be a duplicate.
se_wait_for pg1 180 "SELECT sum(next_offset) >= $N FROM streamext.source_offsets WHERE source = 'trucks_src'" ||
	se_die "only $(se_psql pg1 -c 'select count(*) from trucks') rows arrived"

se_assert_eq "rows" $N "$(se_psql pg1 -c 'SELECT count(*) FROM trucks')"
se_assert_eq "distinct (partition, offset)" $N "$(se_psql pg1 -c 'SELECT count(DISTINCT (_partition, _offset)) FROM trucks')"

# Typed columns: the rows equal the producer's messages decoded by PostgreSQL itself.
"$SE_TOOLS/se-produce" --print --count $N --devices 256 >"$SE_WORK/messages.json" 2>/dev/null
se_psql pg1 -c "CREATE TABLE expected (doc jsonb)"
se_psql pg1 -c "\\copy expected FROM '$SE_WORK/messages.json' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
se_assert_eq "rows differing from the produced messages" 0 "$(se_psql pg1 <<'SQL'
SELECT count(*) FROM (
	(SELECT device_id, event_time, seq, temperature, speed, lat, lon, fuel, odometer, engine_on, driver_id, route_id FROM trucks
	 EXCEPT ALL
	 SELECT r.device_id, r.event_time, r.seq, r.temperature, r.speed, r.lat, r.lon, r.fuel, r.odometer, r.engine_on, r.driver_id, r.route_id
	 FROM expected, jsonb_populate_record(NULL::trucks, doc) r)
	UNION ALL
	(SELECT r.device_id, r.event_time, r.seq, r.temperature, r.speed, r.lat, r.lon, r.fuel, r.odometer, r.engine_on, r.driver_id, r.route_id
	 FROM expected, jsonb_populate_record(NULL::trucks, doc) r
	 EXCEPT ALL
	 SELECT device_id, event_time, seq, temperature, speed, lat, lon, fuel, odometer, engine_on, driver_id, route_id FROM trucks)) d
SQL
)"

# Metadata columns.
se_assert_eq "bad metadata" 0 "$(se_psql pg1 -c "SELECT count(*) FROM trucks WHERE _topic IS DISTINCT FROM 'trucks'
	OR _partition NOT BETWEEN 0 AND 7 OR _offset < 0 OR _key IS DISTINCT FROM device_id
	OR _kafka_timestamp IS NULL OR _kafka_timestamp > now() OR _kafka_timestamp < now() - interval '1 hour'
	OR _ingested_at IS NULL OR _ingested_at < _kafka_timestamp - interval '1 minute'")"
se_assert_eq "partitions used" 8 "$(se_psql pg1 -c 'SELECT count(DISTINCT _partition) FROM trucks')"
se_assert_eq "offsets contiguous from 0 per partition" 0 "$(se_psql pg1 -c \
	'SELECT count(*) FROM (SELECT _partition FROM trucks GROUP BY 1 HAVING min(_offset) <> 0 OR max(_offset) + 1 <> count(*)) x')"

# Stored offsets = end offsets of the partitions (asked from the broker).
ends=$(kcat -b "$SE_BOOTSTRAP" -Q -t trucks:0:-1 -t trucks:1:-1 -t trucks:2:-1 -t trucks:3:-1 -t trucks:4:-1 \
	-t trucks:5:-1 -t trucks:6:-1 -t trucks:7:-1 2>/dev/null | sed -nE 's/^ *trucks \[([0-9]+)\] +offset +([0-9-]+).*/\1:\2/p' | sort -n | tr '\n' ' ')
stored=$(se_psql pg1 -c "SELECT string_agg(partition || ':' || next_offset, ' ' ORDER BY partition) || ' '
	FROM streamext.source_offsets WHERE source = 'trucks_src' AND topic = 'trucks'")
se_log "end offsets: $ends"
se_assert_eq "stored offsets = end offsets" "$ends" "$stored"
se_assert_eq "sum of stored offsets" $N "$(se_psql pg1 -c "SELECT sum(next_offset) FROM streamext.source_offsets WHERE source = 'trucks_src'")"

# Status view and the worker processes.
# Without a parallelism option: one worker per partition read, at most one per core (issue 10).
auto=$(( $(getconf _NPROCESSORS_ONLN) < 8 ? $(getconf _NPROCESSORS_ONLN) : 8 ))
se_wait_for pg1 30 "SELECT workers = $auto FROM streamext.source_status WHERE source = 'trucks_src'" || true
se_assert_eq "status" "running|$auto|$N|$N|0" "$(se_psql pg1 -c "SELECT state, workers, messages, rows, dead_letters FROM streamext.source_status WHERE source = 'trucks_src'")"
se_assert_eq "worker processes" "$auto" "$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'streamext source' AND application_name = 'trucks_src'")"
se_assert_eq "launcher process" "1" "$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'streamext launcher'")"
se_wait_for pg1 10 "SELECT lag = 0 FROM streamext.source_status WHERE source = 'trucks_src'" || se_die "lag not 0: $(se_psql pg1 -c 'select lag from streamext.source_status')"
