#!/usr/bin/env bash
# Ingest benchmark (issue 3): 1,000,000 truck messages over 64 partitions into a range-partitioned
# typed bronze table, compared in the same run with COPY of the same rows as typed text into the same
# table, and with the kcat | psql \copy jsonb pipeline plus a typed INSERT ... SELECT.
# SE_BENCH_SCALE scales the message count; SE_INGEST_PARALLELISM sets the source's workers (default 2:
# one per core of the 2-core reference machine, as the mock broker and librdkafka share them).
# Each round also runs a source created with no options at all (issue 10: defaults must be fast),
# which chooses its workers itself.
. "$SE_LIB"; se_test_begin
N=$(python3 -c "print(int(1000000 * float('${SE_BENCH_SCALE:-1}')))")
se_pg_start pg1 "shared_buffers = 512MB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" "wal_buffers = 64MB"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic trucks:64
now_s() { date +%s.%N; }
rate() { python3 -c "print(round($1 / ($3 - $2)))"; }

se_log "producing $N messages"
# Large producer batches: the mock broker finds a fetch's start by walking a partition's list of
# message sets, so thousands of tiny sets would make the broker, not the consumers, the bottleneck.
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --count "$N" --devices 1000 \
	-X linger.ms=200 2>"$SE_WORK/produce.log"
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
# The broker's first read of the topic is slower (stalls of up to 500 ms in the first round): read
# it once here, as the INSERT above warmed up PostgreSQL.
kcat -C -b "$SE_BOOTSTRAP" -t trucks -o beginning -e -q >/dev/null

# One backend watches source_status every 10 ms, so no polling processes compete for the 2 cores.
se_psql pg1 <<'SQL'
CREATE OR REPLACE FUNCTION wait_for_messages(src text, n bigint,
	OUT t_first float8, OUT m_first bigint, OUT t_last float8) LANGUAGE plpgsql AS $$
DECLARE
	m bigint;
BEGIN
	LOOP
		SELECT messages INTO m FROM streamext.source_status WHERE source = src;
		IF t_first IS NULL AND coalesce(m, 0) > 0 THEN
			t_first := extract(epoch FROM clock_timestamp());
			m_first := m;
		END IF;
		EXIT WHEN coalesce(m, 0) >= n;
		PERFORM pg_sleep(0.01);
	END LOOP;
	t_last := extract(epoch FROM clock_timestamp());
END $$;
SQL

# Rounds alternate streamext and COPY, so that a noisy neighbour on the shared machine hits both;
# each round's ratio is computed from its own pair, and the median of the rounds is reported.
ROUNDS=${SE_INGEST_ROUNDS:-3}
results=()
for r in $(seq 1 "$ROUNDS"); do
	# 1. streamext: from create_source to the last row, and from the first batch to the last.
	make_table bronze
	se_psql pg1 -c "CHECKPOINT"
	read -r t0 tf mf t1 < <(se_psql pg1 -F ' ' -c "SELECT extract(epoch FROM clock_timestamp()),
		streamext.create_source('bench$r', '$SE_BOOTSTRAP', 'trucks', 'bronze',
			options => jsonb_build_object('batch_max_messages', 20000, 'parallelism', ${SE_INGEST_PARALLELISM:-2})) IS NULL" \
		-c "SELECT w.* FROM wait_for_messages('bench$r', $N) w" | tr '\n' ' ' | awk '{print $1, $3, $4, $5}')
	[ -n "$t1" ] || se_die "round $r: create_source or the wait failed"
	rows=$(se_psql pg1 -c "SELECT count(*) FROM bronze")
	[ "$rows" = "$N" ] || se_die "streamext wrote $rows rows, expected $N"
	dups=$(se_psql pg1 -c "SELECT count(*) - count(DISTINCT (device_id, seq)) FROM bronze")
	[ "$dups" = 0 ] || se_die "streamext wrote $dups duplicate rows"
	se_psql pg1 -c "SELECT streamext.drop_source('bench$r')"

	# 1b. the same with a source created with no options
	make_table bronze
	se_psql pg1 -c "CHECKPOINT"
	read -r d0 df dmf d1 < <(se_psql pg1 -F ' ' -c "SELECT extract(epoch FROM clock_timestamp()),
		streamext.create_source('benchd$r', '$SE_BOOTSTRAP', 'trucks', 'bronze') IS NULL" \
		-c "SELECT w.* FROM wait_for_messages('benchd$r', $N) w" | tr '\n' ' ' | awk '{print $1, $3, $4, $5}')
	[ -n "$d1" ] || se_die "round $r: create_source (no options) or the wait failed"
	rows=$(se_psql pg1 -c "SELECT count(*) FROM bronze")
	[ "$rows" = "$N" ] || se_die "streamext (no options) wrote $rows rows, expected $N"
	dworkers=$(se_psql pg1 -c "SELECT workers FROM streamext.source_status WHERE source = 'benchd$r'")
	se_psql pg1 -c "SELECT streamext.drop_source('benchd$r')"

	# 2. COPY of the same rows as typed text into the same (empty, same shape) table.
	make_table bronze
	se_psql pg1 -c "CHECKPOINT"
	c0=$(now_s)
	se_psql pg1 -c "COPY bronze FROM '$SE_WORK/rows.txt'"
	c1=$(now_s)
	results+=("$(python3 -c "print($N / ($t1 - $t0), ($N - $mf) / ($t1 - $tf), $N / ($c1 - $c0), $N / ($d1 - $d0), ($N - $dmf) / ($d1 - $df), $dworkers)")")
	se_log "round $r: ${results[-1]} (end to end, steady, COPY, no options: end to end, steady, workers at the end)"
done

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
make_table bronze
se_psql pg1 -c "CHECKPOINT"
c0=$(now_s)
se_psql pg1 -c "COPY bronze FROM '$SE_WORK/rows.txt'"
c1=$(now_s)
kcat_copy_rate=$(rate "$N" "$c0" "$c1")

echo "ingest_bench: $N messages, 64 partitions, parallelism ${SE_INGEST_PARALLELISM:-2}, range-partitioned typed bronze table (15 daily partitions), $ROUNDS rounds"
printf '%s\n' "${results[@]}" | python3 -c '
import sys, statistics
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
for i, (e, s, c, de, ds, dw) in enumerate(rows, 1):
    print("  round %d: streamext %.0f msgs/s steady (%.0f end to end), COPY %.0f rows/s -> %.2fx steady, %.2fx end to end;"
          " no options (%d workers): %.0f msgs/s steady -> %.2fx, %.2fx end to end"
          % (i, s, e, c, s / c, e / c, dw, ds, ds / c, de / c))
med = lambda xs: statistics.median(xs)
print("  median streamext, first batch to last row:   %.0f msgs/s" % med([r[1] for r in rows]))
print("  median streamext, create_source to last row: %.0f msgs/s (includes the consumer group join: 3 s, Kafka'"'"'s group.initial.rebalance.delay.ms)" % med([r[0] for r in rows]))
print("  median COPY typed text:                      %.0f rows/s" % med([r[2] for r in rows]))
print("  ratio streamext / COPY (median of rounds): %.2fx steady state (bar >= 0.70x), %.2fx end to end"
      % (med([r[1] / r[2] for r in rows]), med([r[0] / r[2] for r in rows])))
print("  ratio streamext with no options / COPY (median of rounds): %.2fx steady state (bar >= 0.70x), %.2fx end to end"
      % (med([r[4] / r[2] for r in rows]), med([r[3] / r[2] for r in rows])))
print("SE_KCAT " + " ".join(str(med([r[k] for r in rows])) for k in range(3)))
' >"$SE_WORK/summary.txt"
grep -v '^SE_KCAT' "$SE_WORK/summary.txt"
read -r _ med_e med_s med_c < <(grep '^SE_KCAT' "$SE_WORK/summary.txt")
copies=$(printf '%s\n' "${results[@]}" | awk '{print $3}' | tr '\n' ' ')
python3 - "$kcat_rate" "$kcat_copy_rate" "$med_s" "$med_e" $copies <<'PY'
import sys, statistics
k, kc, s, e = map(float, sys.argv[1:5])
# COPY's rate varies with the machine's load: compare with the median of every COPY of this run.
c = statistics.median([kc] + [float(x) for x in sys.argv[5:]])
print("  kcat | psql \\copy jsonb + INSERT...SELECT: %.0f rows/s = %.3fx of COPY (median of all COPY runs, %.0f rows/s)" % (k, k / c, c))
print("  streamext / kcat pipeline: %.1fx steady state, %.1fx end to end" % (s / k, e / k))
PY
