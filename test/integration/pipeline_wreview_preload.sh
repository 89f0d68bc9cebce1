#!/usr/bin/env bash
# w-review: a pipeline that needs a worker (trigger not 'manual'), created while streamext is not
# in shared_preload_libraries or in a database other than streamext.database, never gets one:
# create_pipeline warns (as create_source does) and pipeline_status's hint says why; a 'manual'
# pipeline needs no worker, so nothing warns about it.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "shared_preload_libraries = ''"
se_psql pg1 -c "CREATE EXTENSION streamext" 2>/dev/null
se_psql pg1 -c "CREATE TABLE src (id bigint, v int); CREATE TABLE dst (id bigint, v int)"
err=$(se_psql pg1 -c "SELECT streamext.create_pipeline('p_auto', 'src', 'dst')" 2>&1 >/dev/null)
se_assert_eq "create_pipeline warns without preload" t \
	"$([[ $err == *"WARNING:  pipelines need streamext in shared_preload_libraries"* ]] && echo t || echo "f: $err")"
err=$(se_psql pg1 -c "SELECT streamext.create_pipeline('p_manual', 'src', 'dst', NULL, '{\"trigger\": \"manual\"}')" 2>&1 >/dev/null)
se_assert_eq "a manual pipeline: no warning" "" "$err"
se_assert_eq "state stays the catalog's, the hint says why" "running|t" \
	"$(se_psql pg1 -c "SELECT state, hint LIKE 'streamext is not in shared_preload_libraries%restart the server' FROM streamext.pipeline_status WHERE pipeline = 'p_auto'")"
se_assert_eq "no hint for a manual pipeline" "running|" \
	"$(se_psql pg1 -c "SELECT state, hint FROM streamext.pipeline_status WHERE pipeline = 'p_manual'")"
se_psql pg1 -c "SELECT streamext.pause_pipeline('p_auto')"
se_assert_eq "no hint for a paused pipeline" "paused|" \
	"$(se_psql pg1 -c "SELECT state, hint FROM streamext.pipeline_status WHERE pipeline = 'p_auto'")"
se_psql pg1 -c "SELECT streamext.resume_pipeline('p_auto')"

se_psql pg1 -c "CREATE DATABASE other"
SE_DB=other se_psql pg1 -c "CREATE EXTENSION streamext" 2>/dev/null
SE_DB=other se_psql pg1 -c "CREATE TABLE src (id bigint, v int); CREATE TABLE dst (id bigint, v int)"

# With the library preloaded the pipeline of streamext.database runs, without a hint.
se_pg_stop pg1
sed -i "s/^shared_preload_libraries = ''$/shared_preload_libraries = 'streamext'/" "$(se_pg_dir pg1)/postgresql.conf"
se_pg_start pg1
se_wait_for pg1 60 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'streamext pipeline' AND application_name = 'p_auto'" ||
	se_die "no worker for p_auto: $(se_psql pg1 -c 'SELECT * FROM streamext.pipeline_status')"
se_assert_eq "no hint with preload" "running|" \
	"$(se_psql pg1 -c "SELECT state, hint FROM streamext.pipeline_status WHERE pipeline = 'p_auto'")"

# Another database: a warning (once per session), and the hint.
err=$(SE_DB=other se_psql pg1 -c "SELECT streamext.create_pipeline('o_auto', 'src', 'dst')" 2>&1 >/dev/null)
se_assert_eq "create_pipeline warns in another database" t \
	"$([[ $err == *'WARNING:  pipelines of database "other" do not run: streamext.database is "postgres"'* ]] && echo t || echo "f: $err")"
err=$(SE_DB=other se_psql pg1 -c "SELECT streamext.create_pipeline('o_manual', 'src', 'dst', NULL, '{\"trigger\": \"manual\"}')" 2>&1 >/dev/null)
se_assert_eq "a manual pipeline in another database: no warning" "" "$err"
se_assert_eq "hint in another database" "pipeline workers run only in database \"postgres\" (streamext.database), not in \"other\" (only streamext.run_pipeline runs batches here): set streamext.database = 'other' in postgresql.conf and restart the server" \
	"$(SE_DB=other se_psql pg1 -c "SELECT hint FROM streamext.pipeline_status WHERE pipeline = 'o_auto'")"
# the source's warning reads well too
err=$(SE_DB=other se_psql pg1 -c "SELECT streamext.create_source('o_src', '127.0.0.1:1', 't', 'dst')" 2>&1 >/dev/null || true)
se_assert_eq "create_source's warning in another database" t \
	"$([[ $err == *'WARNING:  sources of database "other" do not run: streamext.database is "postgres"'* ]] && echo t || echo "f: $err")"
