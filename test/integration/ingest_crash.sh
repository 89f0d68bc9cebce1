#!/usr/bin/env bash
# Issue 3, test 2: while 500,000 messages stream in, a consumer worker is killed with SIGKILL three
# times and the server is stopped once with pg_ctl stop -m immediate; at the end there are exactly
# 500,000 rows and no (_partition, _offset) twice: offsets commit with the rows.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic trucks:32
N=500000
se_psql pg1 -c "CREATE TABLE trucks (device_id text, event_time timestamptz, seq bigint, speed double precision,
	_partition int, _offset bigint)"
se_psql pg1 -c "SELECT streamext.create_source('crash_src', '$SE_BOOTSTRAP', 'trucks', 'trucks',
	options => '{\"batch_max_messages\": 5000}')"

"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --count $N --devices 256 --rate 40000 \
	2>"$SE_WORK/produce.log" &
producer=$!

worker_pid() {
	se_psql pg1 -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'streamext source' AND application_name = 'crash_src' LIMIT 1"
}
rows() { se_psql pg1 -c "SELECT count(*) FROM trucks" 2>/dev/null || echo 0; }

for round in 1 2 3; do
	target=$((round * 60000))
	se_wait_for pg1 120 "SELECT count(*) >= $target FROM trucks" || se_die "round $round: only $(rows) rows"
	se_wait_for pg1 30 "SELECT count(*) >= 1 FROM pg_stat_activity WHERE backend_type = 'streamext source'" || se_die "no worker"
	pid=$(worker_pid)
	se_log "round $round: $(rows) rows, kill -9 worker $pid"
	kill -KILL "$pid"
	# Gone (reaped: the postmaster has begun its crash restart), then accepting connections again.
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && se_die "worker $pid still there 10 s after kill -9"
	se_wait_for pg1 60 "SELECT true" || se_die "server did not come back"
done

se_wait_for pg1 120 "SELECT count(*) >= 240000 FROM trucks" || se_die "only $(rows) rows"
se_log "$(rows) rows: pg_ctl stop -m immediate"
se_pg_stop pg1 immediate
se_pg_start pg1
wait "$producer" || se_die "producer failed: $(cat "$SE_WORK/produce.log")"
se_log "producer finished: $(tail -1 "$SE_WORK/produce.log")"

# Every message consumed (offsets commit with the rows): from then on nothing more may arrive.
se_wait_for pg1 300 "SELECT sum(next_offset) >= $N FROM streamext.source_offsets WHERE source = 'crash_src'" ||
	se_die "only $(rows) rows arrived"
se_assert_eq "rows" $N "$(rows)"
se_assert_eq "duplicate (_partition, _offset)" 0 "$(se_psql pg1 -c "SELECT count(*) - count(DISTINCT (_partition, _offset)) FROM trucks")"
se_assert_eq "stored offsets sum" $N "$(se_psql pg1 -c "SELECT sum(next_offset) FROM streamext.source_offsets WHERE source = 'crash_src'")"
se_assert_eq "dead letters" 0 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters")"
