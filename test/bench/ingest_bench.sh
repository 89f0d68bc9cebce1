#!/usr/bin/env bash
# Ingest benchmark (issue 3): 1,000,000 truck messages over 64 partitions into a range-partitioned
# typed bronze table, compared in the same run with COPY of the same rows as typed text into the same
# table, and with the kcat | psql \copy jsonb pipeline plus a typed INSERT ... SELECT.
# SE_BENCH_SCALE scales the message count; SE_INGEST_PARALLELISM sets the source's workers (default 2:
# one per core of the 2-core reference machine, as the mock broker and librdkafka share them).
. "$SE_LIB"; se_test_begin
N=$(python3 -c "print(int(1000000 * float('${SE_BENCH_SCALE:-1}')))")
se_pg_start pg1 "shared_buffers = 512MB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" "wal_buffers = 64MB"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic trucks:64
now_s() { date +%s.%N; }
rate() { python3 -c "print(round($1 / ($3 - $2)))"; }

se_log "producing $N messages"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --count "$N" --devices 1000 2>"$SE_WORK/produce.log"
"$SE_TOOLS/se-produce" --print --count "$N" --devices 1000 >"$SE_WORK/messages.json" 2>/dev/null

make_table() {
	se_psql pg1 <<SQL
DROP TABLE IF EXISTS $1;
CREATE TABLE $1 (
	device_id text NOT NULL, event_time timestamptz NOT NULL, seq bigint, temperature double precision,
	speed double precision, lat double precision, lon double precision, fuel double precision,
	odometer double precision, engine_on boolean, driver_id text, route_id text
) PARTITION BY RANGE (event_time);
SELECT format('CREATE TABLE %I PARTITION OF $1 FOR VALUES FROM (%L) TO (%L)', '$1_' || to_char(d, 'YYYYMMDD'), d, d + interval '1 day')
	FROM generate_series(timestamptz '2025-12-31', timestamptz '2026-01-14', interval '1 day') d \gexec
SQL
}

# Warm-up (shared buffers, WAL segments) and the typed text rows for COPY, from the producer's messages.
make_table bronze
se_psql pg1 -c "DROP TABLE IF EXISTS raw; CREATE UNLOGGED TABLE raw (doc jsonb)"
se_psql pg1 -c "\\copy raw FROM '$SE_WORK/messages.json' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
se_psql pg1 -c "INSERT INTO bronze SELECT r.* FROM raw, jsonb_populate_record(NULL::bronze, doc) r"
se_psql pg1 -c "COPY (SELECT * FROM bronze) TO '$SE_WORK/rows.txt'"
se_psql pg1 -c "DROP TABLE raw"

# 1. streamext: from create_source to the last row, and from the first batch to the last.
make_table bronze
se_psql pg1 -c "CHECKPOINT"
t0=$(now_s)
se_psql pg1 -c "SELECT streamext.create_source('bench', '$SE_BOOTSTRAP', 'trucks', 'bronze', options => jsonb_build_object('batch_max_messages', 20000, 'parallelism', ${SE_INGEST_PARALLELISM:-2}))"
tf=""
while :; do
	m=$(se_psql pg1 -c "SELECT messages FROM streamext.source_status WHERE source = 'bench'")
	if [ -z "$tf" ] && [ "${m:-0}" -gt 0 ]; then tf=$(now_s); mf=$m; fi
	[ "${m:-0}" -ge "$N" ] && break
	sleep 0.05
done
t1=$(now_s)
rows=$(se_psql pg1 -c "SELECT count(*) FROM bronze")
[ "$rows" = "$N" ] || se_die "streamext wrote $rows rows, expected $N"
se_psql pg1 -c "SELECT streamext.drop_source('bench')"
streamext_rate=$(rate "$N" "$t0" "$t1")
steady_rate=$(rate "$((N - mf))" "$tf" "$t1")

# 2. COPY of the same rows as typed text into the same (empty, same shape) table.
make_table bronze
se_psql pg1 -c "CHECKPOINT"
t0=$(now_s)
se_psql pg1 -c "COPY bronze FROM '$SE_WORK/rows.txt'"
t1=$(now_s)
copy_rate=$(rate "$N" "$t0" "$t1")

# 3. kcat | psql \copy into jsonb, then INSERT ... SELECT typed.
make_table bronze
se_psql pg1 -c "DROP TABLE IF EXISTS raw; CREATE UNLOGGED TABLE raw (doc jsonb)"
se_psql pg1 -c "CHECKPOINT"
t0=$(now_s)
kcat -C -b "$SE_BOOTSTRAP" -t trucks -o beginning -e -q -c "$N" |
	se_psql pg1 -c "\\copy raw FROM STDIN WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
se_psql pg1 -c "INSERT INTO bronze SELECT r.* FROM raw, jsonb_populate_record(NULL::bronze, doc) r"
t1=$(now_s)
kcat_rows=$(se_psql pg1 -c "SELECT count(*) FROM bronze")
kcat_rate=$(rate "$kcat_rows" "$t0" "$t1")

echo "ingest_bench: $N messages, 64 partitions, parallelism ${SE_INGEST_PARALLELISM:-2}, range-partitioned typed bronze table (15 daily partitions)"
echo "  streamext, create_source to last row:  $streamext_rate msgs/s (includes the consumer group join, ~3 s)"
echo "  streamext, first batch to last row:    $steady_rate msgs/s"
echo "  COPY typed text:                       $copy_rate rows/s"
echo "  kcat | psql \\copy jsonb + INSERT…SELECT: $kcat_rate rows/s ($kcat_rows rows)"
python3 - "$streamext_rate" "$copy_rate" "$kcat_rate" "$steady_rate" <<'PY'
import sys
s, c, k, st = map(float, sys.argv[1:])
print("  ratio streamext / COPY:  %.2fx end to end, %.2fx steady state (bar >= 0.70x)" % (s / c, st / c))
print("  ratio kcat pipeline / COPY: %.3fx" % (k / c))
print("  streamext / kcat pipeline: %.1fx faster (bar >= 4.5x)" % (s / k))
PY
