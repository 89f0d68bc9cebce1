#!/usr/bin/env bash
# Issue 10, item 9: transactional topics.  A partition that ends with a transaction marker (the
# COMMIT or ABORT control record a transactional producer's transaction ends with) is consumed to
# its end: source_offsets.next_offset, the offsets committed to Kafka and source_status.lag all
# agree with the end offset, also after pause/resume.  The embedded broker writes no markers
# itself, so test/tools/se-kafka-raw.py appends them (a raw Produce of a control batch).
. "$SE_LIB"; se_test_begin
raw() { python3 "$SE_SRC/test/tools/se-kafka-raw.py" "$@"; }
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic txn:2
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic txn --count 100 --devices 8 2>/dev/null
raw txn --brokers "$SE_BOOTSTRAP" --topic txn --partition 0 --count 10 --pid 7001
raw txn --brokers "$SE_BOOTSTRAP" --topic txn --partition 1 --count 4 --pid 7002
raw marker --brokers "$SE_BOOTSTRAP" --topic txn --partition 1 --abort --pid 7003   # an empty aborted transaction

# The end offset of each partition, as "p:end,p:end", and the same from PostgreSQL's and Kafka's view.
ends() { raw end --brokers "$SE_BOOTSTRAP" --topic txn --partitions 2 | sort -n | awk '{printf "%s%s:%s", (NR > 1 ? "," : ""), $1, $2}'; }
stored() { se_psql pg1 -c "SELECT string_agg(partition || ':' || next_offset, ',' ORDER BY partition) FROM streamext.source_offsets WHERE source = 'txn_src'"; }
committed() { raw committed --brokers "$SE_BOOTSTRAP" --group streamext-txn_src --topic txn --partitions 2 | sort -n | awk '{printf "%s%s:%s", (NR > 1 ? "," : ""), $1, $2}'; }
lag() { se_psql pg1 -c "SELECT lag FROM streamext.source_status WHERE source = 'txn_src'"; }
# wait_same WHAT FUNCTION: wait (up to 30 s) until FUNCTION prints the end offsets.
wait_same() {
	local end got
	end=$(ends)
	for _ in $(seq 1 150); do
		got=$($2)
		[ "$got" = "$end" ] && break
		sleep 0.2
	done
	se_assert_eq "$1 (end offsets $end)" "$end" "$got"
}

se_psql pg1 -c "CREATE TABLE txn (device_id text, seq bigint, _partition int, _offset bigint)"
se_psql pg1 -c "SELECT streamext.create_source('txn_src', '$SE_BOOTSTRAP', 'txn', 'txn')"
se_wait_for pg1 60 "SELECT count(*) = 114 FROM txn" || se_die "rows: $(se_psql pg1 -c 'SELECT count(*) FROM txn')"
wait_same "source_offsets.next_offset" stored
wait_same "offsets committed to Kafka" committed
se_wait_for pg1 10 "SELECT lag = 0 FROM streamext.source_status WHERE source = 'txn_src'" || se_die "lag: $(lag)"
se_assert_eq "lag" 0 "$(lag)"

# pause/resume: the worker starts at the stored offsets, behind no marker; lag and next_offset agree.
se_psql pg1 -c "SELECT streamext.pause_source('txn_src')"
se_wait_for pg1 10 "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'txn_src'" || se_die "workers still running"
se_psql pg1 -c "SELECT streamext.resume_source('txn_src')"
se_wait_for pg1 30 "SELECT workers = 1 AND lag IS NOT NULL FROM streamext.source_status WHERE source = 'txn_src'" || se_die "not resumed"
se_assert_eq "lag after resume" 0 "$(lag)"
wait_same "next_offset after resume" stored

# Another transaction after the resume: its rows arrive once, and the offsets move past its marker.
raw txn --brokers "$SE_BOOTSTRAP" --topic txn --partition 1 --count 5 --pid 7004
se_wait_for pg1 60 "SELECT count(*) = 119 FROM txn" || se_die "rows: $(se_psql pg1 -c 'SELECT count(*) FROM txn')"
wait_same "next_offset after the second transaction" stored
wait_same "Kafka's offsets after the second transaction" committed
se_wait_for pg1 10 "SELECT lag = 0 FROM streamext.source_status WHERE source = 'txn_src'" || se_die "lag: $(lag)"
se_assert_eq "duplicates" 0 "$(se_psql pg1 -c "SELECT count(*) - count(DISTINCT (_partition, _offset)) FROM txn")"
se_assert_eq "transactional rows" "19" "$(se_psql pg1 -c "SELECT count(*) FROM txn WHERE device_id = 'txn'")"
