#!/usr/bin/env bash
# Issue 11, test 8: chained pipelines Kafka -> bronze -> silver -> gold, woken by the commits of the
# source and of the upstream pipeline (streamext.pipeline_idle_poll_ms is 10 minutes here, so only a
# wake-up explains rows arriving within seconds); workers are 'streamext pipeline' backends named
# after their pipeline; pause/resume/drop (workers gone within 2 s); a server restart resumes; a data
# error puts the pipeline in state error (no restart), resume continues after the fix.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "streamext.pipeline_idle_poll_ms = 600000"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic trucks:2
seed=1
produce() { "$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --count "$1" --devices 16 --seed $((seed++)) 2>/dev/null; }
count() { se_psql pg1 -c "SELECT count(*) FROM $1"; }
workers() { se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'streamext pipeline' AND application_name = '$1'"; }
idle() {  # the pipeline's worker waits on its latch (it has read all there is)
	se_wait_for pg1 "${2:-30}" "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'
		AND application_name = '$1' AND wait_event_type = 'Extension'"
}
now_ms() { date +%s%3N; }

se_psql pg1 <<'SQL'
CREATE TABLE bronze (device_id text, event_time timestamptz, seq bigint, temperature float8,
	_partition int, _offset bigint);
CREATE TABLE silver (device_id text, event_time timestamptz, seq bigint, temperature float8, _offset bigint);
CREATE TABLE gold (device_id text, seq bigint, _offset bigint, CONSTRAINT seq_positive CHECK (seq > 0));
SQL
se_psql pg1 -c "SELECT streamext.create_source('trucks_src', '$SE_BOOTSTRAP', 'trucks', 'bronze')"
se_psql pg1 -c "SELECT streamext.create_pipeline('silver_p', 'bronze', 'silver',
	'SELECT device_id, event_time, seq, temperature, _offset FROM batch', '{\"trigger\": \"0\"}')"
se_psql pg1 -c "SELECT streamext.create_pipeline('gold_p', 'silver', 'gold',
	'SELECT device_id, seq, _offset FROM batch', '{\"trigger\": \"0\"}')"
idle silver_p || se_die "no idle worker for silver_p: $(se_psql pg1 -c "SELECT * FROM streamext.pipeline_status")"
idle gold_p || se_die "no idle worker for gold_p"
se_assert_eq "backend_type and application_name of the workers" "gold_p silver_p" \
	"$(se_psql pg1 -c "SELECT string_agg(application_name, ' ' ORDER BY application_name) FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'")"

# Wake-ups: both workers sleep (a poll would come in 10 minutes); the rows go through in seconds.
t0=$(now_ms)
produce 1000
se_wait_for pg1 60 "SELECT count(*) = 1000 FROM gold" || se_die "gold has $(count gold) rows, silver $(count silver), bronze $(count bronze)"
se_log "1000 messages: Kafka -> bronze -> silver -> gold in $(($(now_ms) - t0)) ms (idle poll: 600000 ms)"
se_assert_eq "silver = bronze" 0 "$(se_psql pg1 -c "SELECT count(*) FROM (SELECT device_id, seq FROM bronze EXCEPT ALL SELECT device_id, seq FROM silver) x")"
idle gold_p || se_die "gold_p not idle again"
t0=$(now_ms)
produce 1
se_wait_for pg1 30 "SELECT count(*) = 1001 FROM gold" || se_die "one more message did not reach gold"
lat=$(($(now_ms) - t0))
se_log "one message: produce -> gold in $lat ms"
[ "$lat" -lt 15000 ] || se_die "latency $lat ms: the workers were not woken"

# pause: the worker is gone within 2 s and nothing reaches silver; resume: it catches up.
t0=$(now_ms)
se_psql pg1 -c "SELECT streamext.pause_pipeline('silver_p')"
se_wait_for pg1 2 "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'silver_p'" || se_die "silver_p's worker still runs 2 s after pause"
se_log "worker gone $(($(now_ms) - t0)) ms after pause_pipeline"
se_assert_eq "state after pause" paused "$(se_psql pg1 -c "SELECT state FROM streamext.pipeline_status WHERE pipeline = 'silver_p'")"
produce 500
se_wait_for pg1 60 "SELECT count(*) = 1501 FROM bronze" || se_die "bronze has $(count bronze) rows"
se_assert_eq "silver while paused (no worker writes it)" "1001|0" "$(count silver)|$(workers silver_p)"
se_psql pg1 -c "SELECT streamext.resume_pipeline('silver_p')"
se_wait_for pg1 60 "SELECT count(*) = 1501 FROM gold" || se_die "after resume: silver $(count silver), gold $(count gold)"
se_assert_eq "workers after resume" "1|1" "$(workers silver_p)|$(workers gold_p)"

# restart of the server: the workers come back by themselves and go on exactly once.
se_pg_stop pg1 fast
produce 700
se_pg_start pg1
se_wait_for pg1 90 "SELECT count(*) = 2201 FROM gold" || se_die "after restart: bronze $(count bronze), silver $(count silver), gold $(count gold)"
se_wait_for pg1 10 "SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'" || se_die "workers did not come back"
se_assert_eq "no duplicates in gold" 0 "$(se_psql pg1 -c "SELECT count(*) - count(DISTINCT (device_id, seq, _offset)) FROM gold")"

# A worker that dies (not asked to by the launcher) is restarted; nothing is lost or doubled.
pid=$(se_psql pg1 -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'silver_p'")
se_psql pg1 -c "SELECT pg_terminate_backend($pid)" >/dev/null
se_wait_for pg1 20 "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'silver_p' AND pid <> $pid" || se_die "silver_p's worker was not restarted"
produce 100
se_wait_for pg1 60 "SELECT count(*) = 2301 FROM gold" || se_die "after the restart of silver_p: silver $(count silver), gold $(count gold)"
se_assert_eq "no duplicates in silver" 0 "$(se_psql pg1 -c "SELECT count(*) - count(DISTINCT (device_id, seq, _offset)) FROM silver")"

# The launcher restarts (terminated): one worker per pipeline again, no second one.
lpid=$(se_psql pg1 -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'streamext launcher'")
se_psql pg1 -c "SELECT pg_terminate_backend($lpid)" >/dev/null
se_wait_for pg1 30 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'streamext launcher' AND pid <> $lpid" || se_die "no new launcher"
se_wait_for pg1 30 "SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'" || se_die "pipeline workers did not come back"
se_assert_eq "one worker per pipeline after the launcher's restart" "gold_p silver_p" \
	"$(se_psql pg1 -c "SELECT string_agg(application_name, ' ' ORDER BY application_name) FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'")"

# trigger 'manual': no worker; 'available_now': reads what there is, then state finished, no worker.
se_psql pg1 -c "CREATE TABLE man (device_id text, seq bigint); CREATE TABLE snap (device_id text, seq bigint)"
se_psql pg1 -c "SELECT streamext.create_pipeline('man_p', 'bronze', 'man', 'SELECT device_id, seq FROM batch', '{\"trigger\": \"manual\"}')"
se_psql pg1 -c "SELECT streamext.create_pipeline('snap_p', 'bronze', 'snap', 'SELECT device_id, seq FROM batch', '{\"trigger\": \"available_now\"}')"
se_wait_for pg1 60 "SELECT state = 'finished' FROM streamext.pipeline_status WHERE pipeline = 'snap_p'" || se_die "snap_p not finished: $(count snap) rows"
se_wait_for pg1 5 "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'snap_p'" || se_die "snap_p's worker still runs"
se_assert_eq "available_now read all of bronze" 2301 "$(count snap)"
se_assert_eq "manual: no worker, nothing read" "0|0" "$(workers man_p)|$(count man)"
se_assert_eq "run_pipeline of the manual pipeline" 2301 "$(se_psql pg1 -c "SELECT streamext.run_pipeline('man_p')")"

# A data error (the target's CHECK refuses a row): state error naming it, no worker, no restart.
idle gold_p || se_die "gold_p not idle"
echo '{"device_id": "bad", "event_time": "2026-01-01T00:00:00Z", "seq": -1, "temperature": 0}' |
	"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --stdin 2>/dev/null
se_wait_for pg1 30 "SELECT state = 'error' FROM streamext.pipeline_status WHERE pipeline = 'gold_p'" || se_die "gold_p not in state error: $(se_psql pg1 -c "SELECT state, last_error FROM streamext.pipeline_status WHERE pipeline = 'gold_p'")"
err=$(se_psql pg1 -c "SELECT last_error FROM streamext.pipeline_status WHERE pipeline = 'gold_p'")
se_log "last_error: $err"
case $err in *seq_positive*) ;; *) se_die "last_error does not name the constraint: $err" ;; esac
se_wait_for pg1 5 "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'gold_p'" || se_die "gold_p's worker still runs in state error"
produce 10
se_wait_for pg1 60 "SELECT count(*) = 2312 FROM silver" || se_die "silver_p stopped too: $(count silver)"
se_assert_eq "gold in state error (the failed batch rolled back, no restart)" "2301|error|0" \
	"$(count gold)|$(se_psql pg1 -c "SELECT state FROM streamext.pipeline_status WHERE pipeline = 'gold_p'")|$(workers gold_p)"
# fixed: resume continues with the rows of the failed batch
se_psql pg1 -c "ALTER TABLE gold DROP CONSTRAINT seq_positive"
se_psql pg1 -c "SELECT streamext.resume_pipeline('gold_p')"
se_wait_for pg1 60 "SELECT count(*) = 2312 FROM gold" || se_die "after resume: gold $(count gold)"
se_assert_eq "state after resume" "running|1" "$(se_psql pg1 -c "SELECT state FROM streamext.pipeline_status WHERE pipeline = 'gold_p'")|$(workers gold_p)"
se_assert_eq "gold = silver" 0 "$(se_psql pg1 -c "SELECT count(*) FROM (SELECT device_id, seq FROM silver EXCEPT ALL SELECT device_id, seq FROM gold) x")"

# drop: the worker is gone within 2 s.
t0=$(now_ms)
se_psql pg1 -c "SELECT streamext.drop_pipeline('gold_p')"
se_wait_for pg1 2 "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'gold_p'" || se_die "gold_p's worker still runs 2 s after drop"
se_log "worker gone $(($(now_ms) - t0)) ms after drop_pipeline"
se_assert_eq "pipelines left" "man_p silver_p snap_p" "$(se_psql pg1 -c "SELECT string_agg(name, ' ' ORDER BY name) FROM streamext.pipelines")"
se_assert_eq "pipeline workers left" "silver_p" \
	"$(se_psql pg1 -c "SELECT string_agg(application_name, ' ') FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'")"
se_log "pipeline_worker: all checks passed"
