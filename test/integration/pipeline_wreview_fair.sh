#!/usr/bin/env bash
# w-review: pipeline workers are shared fairly among owners.  With streamext.max_pipeline_workers
# = 2, alice's two pipelines take both workers; when bob creates one, alice's newer pipeline gives
# its worker up to bob's (every owner's first pipeline before any owner's second), and
# pipeline_status's hint says why it waits; when bob pauses, alice gets her second worker back.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "streamext.max_pipeline_workers = 2"
se_psql pg1 <<'SQL'
CREATE EXTENSION streamext;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
GRANT CREATE ON SCHEMA public TO alice, bob;
CREATE TABLE a_src (id bigint, v int); CREATE TABLE a_dst1 (id bigint, v int); CREATE TABLE a_dst2 (id bigint, v int);
ALTER TABLE a_src OWNER TO alice; ALTER TABLE a_dst1 OWNER TO alice; ALTER TABLE a_dst2 OWNER TO alice;
CREATE TABLE b_src (id bigint, v int); CREATE TABLE b_dst (id bigint, v int);
ALTER TABLE b_src OWNER TO bob; ALTER TABLE b_dst OWNER TO bob;
SQL
workers() { se_psql pg1 -c "SELECT coalesce(string_agg(application_name, ' ' ORDER BY application_name), '') FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'"; }
se_psql pg1 -c "SET ROLE alice; SELECT streamext.create_pipeline('a1', 'a_src', 'a_dst1')"
se_psql pg1 -c "SET ROLE alice; SELECT streamext.create_pipeline('a2', 'a_src', 'a_dst2')"
se_wait_for pg1 30 "SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'" ||
	se_die "alice's pipelines have no workers: $(workers)"
se_psql pg1 -c "SET ROLE bob; SELECT streamext.create_pipeline('b1', 'b_src', 'b_dst')"
se_wait_for pg1 30 "SELECT string_agg(application_name, ' ' ORDER BY application_name) = 'a1 b1'
	FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'" ||
	se_die "bob's pipeline got no worker: workers are '$(workers)'"
se_assert_eq "hint of alice's waiting pipeline (as alice)" t \
	"$(se_psql pg1 -c "SET ROLE alice; SELECT hint LIKE 'no worker: all 2 streamext.max_pipeline_workers are taken%' FROM streamext.pipeline_status WHERE pipeline = 'a2'")"
se_assert_eq "no hint for the pipelines that run" "a1:|b1:" \
	"$(se_psql pg1 -c "SELECT string_agg(pipeline || ':' || coalesce(hint, ''), '|' ORDER BY pipeline) FROM streamext.pipeline_status WHERE pipeline IN ('a1', 'b1')")"
# the worker taken away rolled back, it did not fail: no error state, rows still flow
se_psql pg1 -c "INSERT INTO a_src SELECT g, g FROM generate_series(1, 100) g; INSERT INTO b_src SELECT g, g FROM generate_series(1, 100) g"
se_wait_for pg1 30 "SELECT (SELECT count(*) FROM a_dst1) = 100 AND (SELECT count(*) FROM b_dst) = 100" || se_die "rows did not flow"
se_psql pg1 -c "SET ROLE bob; SELECT streamext.pause_pipeline('b1')"
se_wait_for pg1 30 "SELECT string_agg(application_name, ' ' ORDER BY application_name) = 'a1 a2'
	FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'" ||
	se_die "alice's second pipeline did not get its worker back: '$(workers)'"
se_wait_for pg1 30 "SELECT count(*) = 100 FROM a_dst2" || se_die "a2 did not catch up"
se_assert_eq "states" "a1:running|a2:running|b1:paused" \
	"$(se_psql pg1 -c "SELECT string_agg(pipeline || ':' || state, '|' ORDER BY pipeline) FROM streamext.pipeline_status")"
