#!/usr/bin/env bash
# Without streamext in shared_preload_libraries there are no progress slots: streamext.vacuum
# works the same and reports nothing; streamext.maintenance_progress returns no rows with a
# WARNING that says why (and nothing crashes).
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "shared_preload_libraries = 'pg_cron'"
se_psql pg1 -c "CREATE EXTENSION streamext" 2>/dev/null
se_assert_eq "not preloaded" "f" "$(se_psql pg1 -c "SELECT streamext.workers_enabled()")"
se_psql pg1 -c "SET streamext.columnar_segment_rows = 1000" -c "CREATE TABLE g (id int) USING versioned_columnar" \
	-c "INSERT INTO g SELECT generate_series(1, 3000)" -c "DELETE FROM g WHERE id <= 1000"
se_wait_for pg1 60 "SELECT clock_timestamp() > max(committed_at) + interval '1 second' FROM streamext.history('g')"
r=$(se_psql pg1 -c "SET streamext.vacuum_retention_check = off" -c "SELECT streamext.vacuum('g', '1 second')")
se_log "vacuum: $r"
se_assert_eq "vacuum removed the deleted segment" "1" "$(se_psql pg1 -c "SELECT '$r'::jsonb->>'segments_removed'")"
out=$(se_psql pg1 -c "SELECT count(*) FROM streamext.maintenance_progress" 2>&1)
se_log "view: $out"
[[ $out == *"WARNING:  streamext.maintenance_progress needs streamext in shared_preload_libraries"* ]] ||
	se_die "no WARNING from the view: $out"
[[ ${out##*$'\n'} == 0 ]] || se_die "the view returned rows: $out"
se_psql pg1 -c "SELECT streamext.verify('g')"
