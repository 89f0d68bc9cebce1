#!/usr/bin/env bash
# Issue 11, pipeline workers: a table applications insert into is polled (trigger '0': every
# streamext.pipeline_idle_poll_ms); a transient error (lock timeout while another session holds the
# target locked) rolls the batch back and retries it with a growing backoff, the pipeline staying
# 'running'; once the lock is gone the rows arrive, exactly once.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
log=$(se_pg_dir pg1).log
as_tr() { se_psql pg1 -c "SET ROLE tr" "$@"; }
retries() { grep -c 'pipeline "tr_p": batch rolled back: canceling statement due to lock timeout; retrying in' "$log" || true; }
wait_log() {  # wait_log SECONDS N: until at least N retries are logged
	local i
	for ((i = 0; i < $1 * 10; i++)); do [ "$(retries)" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}

se_psql pg1 <<'SQL'
CREATE ROLE tr LOGIN;
ALTER ROLE tr SET lock_timeout = '100ms';
GRANT CREATE ON SCHEMA public TO tr;
SQL
as_tr -c "CREATE TABLE src (id int)" -c "CREATE TABLE out (id int)"
as_tr -c "SELECT streamext.create_pipeline('tr_p', 'src', 'out', 'SELECT id FROM batch', '{\"trigger\": \"0\"}')"
se_wait_for pg1 30 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'streamext pipeline' AND application_name = 'tr_p'" ||
	se_die "no worker for tr_p"
as_tr -c "INSERT INTO src SELECT generate_series(1, 100)"
se_wait_for pg1 10 "SELECT count(*) = 100 FROM out" || se_die "rows an application inserted were not polled: $(se_psql pg1 -c "SELECT count(*) FROM out")"
se_log "ok: rows inserted by an application arrive (polled)"

# Another session holds the target locked: every batch fails with 55P03 and is retried.
exec {L}> >(se_psql pg1)
echo "BEGIN; LOCK TABLE out IN EXCLUSIVE MODE;" >&"$L"  # blocks writers, not readers
se_wait_for pg1 10 "SELECT count(*) = 1 FROM pg_locks WHERE relation = 'out'::regclass AND mode = 'ExclusiveLock' AND granted" ||
	se_die "the lock was not taken"
as_tr -c "INSERT INTO src SELECT generate_series(101, 200)"
wait_log 30 2 || se_die "no retries logged: $(grep tr_p "$log" | tail -3)"
grep 'pipeline "tr_p": batch rolled back' "$log" | head -3 | sed 's/^/    /' >&2
se_assert_eq "during the retries" "running||1|100" \
	"$(se_psql pg1 -c "SELECT state, last_error FROM streamext.pipeline_status WHERE pipeline = 'tr_p'")|$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tr_p'")|$(se_psql pg1 -c "SELECT count(*) FROM out")"
# the backoff grows: the second retry waits longer than the first
d=$(grep -o 'pipeline "tr_p": batch rolled back: .*retrying in [0-9]* ms' "$log" | grep -o '[0-9]* ms$' | head -2 | tr -d ' ms' | tr '\n' ' ')
set -- $d
[ "$2" -gt "$1" ] || se_die "backoff does not grow: $d"
se_log "ok: retry delays $1 ms, then $2 ms"
echo "COMMIT;" >&"$L"
exec {L}>&-
se_wait_for pg1 90 "SELECT count(*) = 200 FROM out" || se_die "rows after the lock: $(se_psql pg1 -c "SELECT count(*) FROM out")"
se_assert_eq "exactly once after the retries" "200|200" "$(se_psql pg1 -c "SELECT count(*), count(DISTINCT id) FROM out")"
se_assert_eq "state after the retries" "running|" "$(se_psql pg1 -c "SELECT state, last_error FROM streamext.pipeline_status WHERE pipeline = 'tr_p'")"
se_log "pipeline_worker_transient: all checks passed"
