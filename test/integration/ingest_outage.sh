#!/usr/bin/env bash
# Issue 3, test 3: the broker goes down for 10 s in the middle of a stream and comes back; the source
# shows the outage in source_status, then resumes; nothing is lost and nothing is duplicated.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic out:8
N=60000
se_psql pg1 -c "CREATE TABLE outage (device_id text, seq bigint, _partition int, _offset bigint)"
se_psql pg1 -c "SELECT streamext.create_source('out_src', '$SE_BOOTSTRAP', 'out', 'outage')"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic out --count $N --devices 64 --rate 3000 --timeout-ms 120000 \
	2>"$SE_WORK/produce.log" &
producer=$!

se_wait_for pg1 60 "SELECT count(*) >= 10000 FROM outage" || se_die "stream did not start"
se_log "broker down at $(se_psql pg1 -c 'SELECT count(*) FROM outage') rows"
kill -USR1 "$SE_BROKER_PID"
se_wait_for pg1 15 "SELECT state = 'disconnected' AND last_error IS NOT NULL FROM streamext.source_status WHERE source = 'out_src'" ||
	se_die "source_status did not show the outage: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_log "status during the outage: $(se_psql pg1 -c "SELECT state, workers, last_error FROM streamext.source_status WHERE source = 'out_src'")"
sleep 8
kill -USR2 "$SE_BROKER_PID"
se_log "broker up again"
se_wait_for pg1 30 "SELECT state = 'running' FROM streamext.source_status WHERE source = 'out_src'" ||
	se_die "source_status still shows the outage: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
wait "$producer" || se_die "producer failed: $(tail -3 "$SE_WORK/produce.log")"
se_wait_for pg1 120 "SELECT count(*) >= $N FROM outage" || se_die "only $(se_psql pg1 -c 'SELECT count(*) FROM outage') rows"
sleep 2
se_assert_eq "rows" $N "$(se_psql pg1 -c 'SELECT count(*) FROM outage')"
se_assert_eq "duplicates" 0 "$(se_psql pg1 -c "SELECT count(*) - count(DISTINCT (_partition, _offset)) FROM outage")"
se_assert_eq "state, last_error after the outage" "running|" "$(se_psql pg1 -c "SELECT state, last_error FROM streamext.source_status WHERE source = 'out_src'")"
