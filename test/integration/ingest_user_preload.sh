#!/usr/bin/env bash
# Issue 10, what new users trip over: a source created while streamext is not in
# shared_preload_libraries (or in a database other than streamext.database) has no workers and
# never will; source_status says so (state no_workers, hint) instead of "starting" forever.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "shared_preload_libraries = ''"
se_psql pg1 -c "CREATE EXTENSION streamext" 2>/dev/null
se_psql pg1 -c "CREATE TABLE up (device_id text, seq bigint)"
se_broker_start --brokers 1 --topic up:1
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic up --count 50 2>/dev/null
se_psql pg1 -c "SELECT streamext.create_source('up_src', '$SE_BOOTSTRAP', 'up', 'up')" 2>/dev/null
se_assert_eq "state without preload" "no_workers|0" "$(se_psql pg1 -c "SELECT state, workers FROM streamext.source_status WHERE source = 'up_src'")"
se_assert_eq "hint without preload" t "$(se_psql pg1 -c "SELECT hint LIKE 'streamext is not in shared_preload_libraries%restart the server' FROM streamext.source_status WHERE source = 'up_src'")"
se_psql pg1 -c "SELECT streamext.pause_source('up_src')"
se_assert_eq "a paused source is paused" "paused|" "$(se_psql pg1 -c "SELECT state, hint FROM streamext.source_status WHERE source = 'up_src'")"
se_psql pg1 -c "SELECT streamext.resume_source('up_src')"

# Another database than streamext.database: its sources do not run either.
se_psql pg1 -c "CREATE DATABASE other"
SE_DB=other se_psql pg1 -c "CREATE EXTENSION streamext" 2>/dev/null
SE_DB=other se_psql pg1 -c "CREATE TABLE up (device_id text, seq bigint)"

# With the library preloaded, the source runs.
se_pg_stop pg1
sed -i "s/^shared_preload_libraries = ''$/shared_preload_libraries = 'streamext'/" "$(se_pg_dir pg1)/postgresql.conf"
se_pg_start pg1
se_wait_for pg1 60 "SELECT count(*) = 50 FROM up" || se_die "nothing arrived: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_assert_eq "state with preload" "running|f" "$(se_psql pg1 -c "SELECT state, coalesce(hint LIKE '%shared_preload_libraries%', false) FROM streamext.source_status WHERE source = 'up_src'")"

SE_DB=other se_psql pg1 -c "SELECT streamext.create_source('up_other', '$SE_BOOTSTRAP', 'up', 'up')" 2>/dev/null
se_assert_eq "state in another database" "no_workers" "$(SE_DB=other se_psql pg1 -c "SELECT state FROM streamext.source_status WHERE source = 'up_other'")"
se_assert_eq "hint in another database" "sources run only in database \"postgres\" (streamext.database), not in \"other\": set streamext.database = 'other' in postgresql.conf and restart the server" \
	"$(SE_DB=other se_psql pg1 -c "SELECT hint FROM streamext.source_status WHERE source = 'up_other'")"
