#!/usr/bin/env bash
# w-review: a worker connects as the pipeline's owner, and a background worker's connection needs
# CONNECT on the database like a login does.  An owner without it (REVOKE CONNECT ... FROM PUBLIC
# is common hardening) would fail every start of its worker, forever, while pipeline_status said
# running: the launcher puts such a pipeline in state error saying why, as for a NOLOGIN owner;
# after GRANT CONNECT, resume_pipeline runs it.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 <<'SQL'
CREATE EXTENSION streamext;
CREATE ROLE carol LOGIN;
GRANT CREATE ON SCHEMA public TO carol;
CREATE TABLE c_src (id bigint); CREATE TABLE c_dst (id bigint);
ALTER TABLE c_src OWNER TO carol; ALTER TABLE c_dst OWNER TO carol;
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
SQL
se_psql pg1 -c "SET ROLE carol; SELECT streamext.create_pipeline('cp', 'c_src', 'c_dst')"
se_wait_for pg1 30 "SELECT state = 'error' FROM streamext.pipeline_status WHERE pipeline = 'cp'" ||
	se_die "the pipeline of an owner without CONNECT still says: $(se_psql pg1 -c "SELECT state, last_error FROM streamext.pipeline_status WHERE pipeline = 'cp'")"
se_assert_eq "last_error" "the owner of the pipeline, role carol, may not connect to database postgres (it has no CONNECT privilege on it); grant it CONNECT, or give the pipeline another owner, then call streamext.resume_pipeline" \
	"$(se_psql pg1 -c "SELECT last_error FROM streamext.pipeline_status WHERE pipeline = 'cp'")"
se_psql pg1 -c "GRANT CONNECT ON DATABASE postgres TO carol"
se_psql pg1 -c "SET ROLE carol; SELECT streamext.resume_pipeline('cp')"
se_psql pg1 -c "INSERT INTO c_src SELECT generate_series(1, 10)"
se_wait_for pg1 30 "SELECT count(*) = 10 FROM c_dst" || se_die "the resumed pipeline did not run: $(se_psql pg1 -c "SELECT state, last_error FROM streamext.pipeline_status WHERE pipeline = 'cp'")"
se_assert_eq "state after resume" running "$(se_psql pg1 -c "SELECT state FROM streamext.pipeline_status WHERE pipeline = 'cp'")"
