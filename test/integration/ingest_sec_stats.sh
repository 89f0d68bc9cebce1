#!/usr/bin/env bash
# Issue 10, item 5: streamext._source_worker_stats() is executable by everyone (source_status calls
# it with the caller's rights), but shows a source's last_error (broker host names) only to the
# roles source_status shows it to: the owner and its members, pg_read_all_stats, superusers.
# And no internal function of the extension is a SECURITY DEFINER one except those listed here.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
port=$(se_free_port)   # nothing listens there: the worker reports the brokers down
se_psql pg1 <<'SQL'
CREATE ROLE st_alice LOGIN;
CREATE ROLE st_bob LOGIN;
CREATE ROLE st_monitor LOGIN IN ROLE pg_read_all_stats;
CREATE TABLE st_t (device_id text, seq bigint);
GRANT INSERT ON st_t TO st_alice;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }
as st_alice -c "SELECT streamext.create_source('st', '127.0.0.1:$port', 'st', 'st_t')"
se_wait_for pg1 60 "SELECT last_error IS NOT NULL FROM streamext._source_worker_stats()" ||
	se_die "no worker error: $(se_psql pg1 -c 'SELECT * FROM streamext._source_worker_stats()')"
se_log "worker error: $(se_psql pg1 -c 'SELECT last_error FROM streamext._source_worker_stats()')"
se_assert_eq "bob: last_error of alice's worker" "1|" "$(as st_bob -c "SELECT workers, last_error FROM streamext._source_worker_stats()")"
se_assert_eq "bob: last_error in source_status" "" "$(as st_bob -c "SELECT last_error FROM streamext.source_status WHERE source = 'st'")"
se_assert_eq "alice sees her worker's error" t "$(as st_alice -c "SELECT last_error IS NOT NULL FROM streamext._source_worker_stats()")"
se_assert_eq "pg_read_all_stats sees it" t "$(as st_monitor -c "SELECT last_error IS NOT NULL FROM streamext._source_worker_stats()")"

# The audit: SECURITY DEFINER functions of the extension, and what PUBLIC may execute among them.
# (_sources_cascade is a trigger function: PostgreSQL refuses to call it other than as a trigger.)
se_assert_eq "SECURITY DEFINER functions" "_group_id_taken,_pipeline_name_taken,_pipeline_schedule,_sources_cascade,metrics" "$(se_psql pg1 -c "SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p
	JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'streamext' WHERE p.prosecdef")"
se_psql pg1 -c "SELECT streamext.drop_source('st')"
