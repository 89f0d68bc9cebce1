#!/usr/bin/env bash
# reset_pipeline and drop_pipeline while a batch of the pipeline is running: both wait for the
# batch's transaction (they lock the pipeline's progress row, as the batch does), so the reset's
# DELETE removes what the batch wrote and the replay writes every source row exactly once, and
# the drop leaves no progress behind.  Synchronized on pg_stat_activity (a session seen waiting
# for a lock), no sleeps.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 <<'SQL'
CREATE TABLE rs (a int);
CREATE TABLE rt (a int);
INSERT INTO rs SELECT generate_series(1, 1000);
SELECT streamext.create_pipeline('r', 'rs', 'rt', NULL, '{"trigger": "manual"}');
SQL

# session A runs a batch and keeps its transaction open
mkfifo "$SE_WORK/a.in"
se_psql pg1 <"$SE_WORK/a.in" >"$SE_WORK/a.out" 2>&1 &
SE_PIDS+=($!)
exec {A}>"$SE_WORK/a.in"
wait_out() { # wait_out TEXT: session A printed TEXT
	local i
	for ((i = 0; i < 600; i++)); do grep -q "$1" "$SE_WORK/a.out" && return 0; sleep 0.1; done
	se_die "session A did not print '$1': $(cat "$SE_WORK/a.out")"
}
blocked="SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid()
	AND query LIKE '%streamext.%_pipeline(''r'')%' AND wait_event_type = 'Lock')"

echo "BEGIN; SELECT 'read ' || streamext.run_pipeline('r');" >&$A
wait_out "read 1000"
se_psql pg1 -c "SELECT streamext.reset_pipeline('r')" >"$SE_WORK/b.out" 2>&1 &
b=$!
SE_PIDS+=($b)
se_wait_for pg1 60 "$blocked" || se_die "reset_pipeline did not wait for the running batch: $(cat "$SE_WORK/b.out")"
echo "COMMIT; SELECT 'committed';" >&$A
wait_out "committed"
wait $b || se_die "reset_pipeline failed: $(cat "$SE_WORK/b.out")"
se_assert_eq "target after the reset" 0 "$(se_psql pg1 -c "SELECT count(*) FROM rt")"
se_assert_eq "progress after the reset" "1:1:|0|0" \
	"$(se_psql pg1 -c "SELECT snapshot::text || '|' || batches || '|' || rows_in FROM streamext.pipeline_progress")"
se_assert_eq "rows read by the replay" 1000 "$(se_psql pg1 -c "SELECT streamext.run_pipeline('r')")"
se_assert_eq "target after the replay (rows|distinct)" "1000|1000" \
	"$(se_psql pg1 -c "SELECT count(*) || '|' || count(DISTINCT a) FROM rt")"

# drop_pipeline while a batch runs: waits, then nothing of the pipeline is left
se_psql pg1 -c "INSERT INTO rs SELECT generate_series(1001, 1500)"
echo "BEGIN; SELECT 'read ' || streamext.run_pipeline('r');" >&$A
wait_out "read 500"
se_psql pg1 -c "SELECT streamext.drop_pipeline('r')" >"$SE_WORK/c.out" 2>&1 &
c=$!
SE_PIDS+=($c)
se_wait_for pg1 60 "$blocked" || se_die "drop_pipeline did not wait for the running batch: $(cat "$SE_WORK/c.out")"
echo "COMMIT; SELECT 'committed again';" >&$A
wait_out "committed again"
wait $c || se_die "drop_pipeline failed: $(cat "$SE_WORK/c.out")"
se_assert_eq "pipelines, progress, batches left" "0|0|0" \
	"$(se_psql pg1 -c "SELECT (SELECT count(*) FROM streamext.pipelines) || '|' || (SELECT count(*) FROM streamext.pipeline_progress) || '|' || (SELECT count(*) FROM streamext.pipeline_batches)")"
se_assert_eq "target keeps what the batch committed" 1500 "$(se_psql pg1 -c "SELECT count(*) FROM rt")"
exec {A}>&-
se_log "pipeline_ddl_reset: all checks passed"
