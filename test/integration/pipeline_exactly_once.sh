#!/usr/bin/env bash
# Issue 11, test 2: exactly once through crashes.  The seed's pipelines of pipeline_e2e.sh
# (bronze -> silver -> gold_hourly append / gold_minute update, pipeline_e2e_common.bash) stream
# four phases of messages; while each phase streams, a pipeline worker is killed with SIGKILL
# (three times: silver, gold_hourly, gold_minute; each time the postmaster restarts every
# backend) and once the server is stopped with pg_ctl stop -m immediate.  Small micro-batches
# (max_batch_rows) make every crash land between and inside many batches.  At the end silver,
# the late rows, the quarantine and both golds equal the reference, with no row twice.
. "$SE_LIB"; se_test_begin
. "$SE_SRC/test/integration/pipeline_e2e_common.bash"
se_pg_start pg1 "timezone = 'UTC'" "restart_after_crash = on" "streamext.pipeline_batches_keep = 100000"
pe_q "CREATE EXTENSION streamext"
PE_DEVICES=200
pe_schema 16 2000

PER_PHASE=${PE_PER_PHASE:-20000}
rows_in() { pe_q "SELECT rows_in FROM streamext.pipeline_status WHERE pipeline = '$1'" 2>/dev/null || echo 0; }
worker_pid() {
	pe_q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'streamext pipeline' AND application_name = '$1'" 2>/dev/null || true
}
# crash K PIPELINE: while phase K streams in (the producer runs at a bounded rate), wait until
# PIPELINE has read some but not all of it, then kill its worker (or stop the server).
crash() {
	local k=$1 p=$2 before src pid i
	if [ "$p" = silver ]; then src=bronze; else src=silver; fi
	before=$(rows_in "$p")
	pe_produce_phase "$k" "$PER_PHASE" --rate 10000 &
	producer=$!
	SE_PIDS+=("$producer")
	pe_wait 120 "SELECT rows_in > $before FROM streamext.pipeline_status WHERE pipeline = '$p'" "$p to start reading phase $k"
	pid=$(worker_pid "$p")
	[ -n "$pid" ] || se_die "no worker of pipeline $p"
	se_log "phase $k: $p has read $(($(rows_in "$p") - before)) new rows of $(pe_q "SELECT count(*) FROM $src") in $src"
	if [ "$3" = immediate ]; then
		se_log "phase $k: pg_ctl stop -m immediate"
		se_pg_stop pg1 immediate
		se_pg_start pg1
	else
		se_log "phase $k: kill -9 worker $pid of $p"
		kill -KILL "$pid"
		# gone (reaped: the postmaster has begun its crash restart), then accepting connections again
		for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		se_wait_for pg1 60 "SELECT true" || se_die "server did not come back after the kill"
	fi
	wait "$producer" || se_die "producing phase $k failed"
	# (pe_produce_phase ran in a subshell: count what it produced here)
	PE_PRODUCED=$((PE_PRODUCED + $(sed -nE 's/^produced ([0-9]+) .*/\1/p' "$SE_WORK/produce.$k.log" | head -n1) + 20))
	PE_MALFORMED=$((PE_MALFORMED + $(sed -nE 's/.*malformed ([0-9]+)\).*/\1/p' "$SE_WORK/produce.$k.log" | head -n1)))
	PE_BAD_TEMP=$((PE_BAD_TEMP + 20))
	# the pipelines come back by themselves (restart with backoff) and carry on
	pe_wait 60 "SELECT count(*) = 3 FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'" "the three pipeline workers after the crash"
	pe_wait_ingested 180
	pe_wait_silver 240
}

crash 1 silver kill
crash 2 gold_hourly kill
crash 3 gold_minute kill
crash 4 silver immediate
pe_wait_gold 240
se_log "after the crashes: $(pe_q "SELECT string_agg(format('%s: %s batches', pipeline, batches), ', ' ORDER BY pipeline) FROM streamext.pipeline_status")"

pe_compare
se_assert_eq "event logs: batches numbered 1..n without gaps, sums = status" "true|true|true" "$(pe_q "SELECT string_agg(ok::text, '|' ORDER BY pipeline) FROM (
	SELECT b.pipeline, count(*) = s.batches AND min(b.batch) = 1 AND max(b.batch) = s.batches AND sum(b.rows_in) = s.rows_in AS ok
	  FROM streamext.pipeline_batches b JOIN streamext.pipeline_status s ON s.pipeline = b.pipeline
	 GROUP BY b.pipeline, s.batches, s.rows_in) x")"
