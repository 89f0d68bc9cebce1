#!/usr/bin/env bash
# Worker-slot starvation by number of sources: a role that creates as many sources as there are
# streamext.max_source_workers slots, before another role creates one, must not leave the other
# role's source without a worker.  The first workers go to the owners in turn; the source left
# over is one of the role with the most sources.  (No broker: every source wants one worker.)
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "streamext.max_source_workers = 3"
se_psql pg1 -c "CREATE EXTENSION streamext"
port=$(se_free_port)   # nothing listens there; the workers run all the same
se_psql pg1 <<'SQL'
CREATE ROLE r2s_alice LOGIN;
CREATE ROLE r2s_bob LOGIN;
CREATE TABLE r2s_a (device_id text, seq bigint);
CREATE TABLE r2s_b (device_id text, seq bigint);
GRANT INSERT ON r2s_a TO r2s_alice;
GRANT INSERT ON r2s_b TO r2s_bob;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }
table() { se_psql pg1 -c "SELECT source, state, workers, hint FROM streamext.source_status ORDER BY source"; }
for s in b1 b2 b3; do
	as r2s_bob -c "SELECT streamext.create_source('$s', '127.0.0.1:$port', 't', 'r2s_b')"
done
se_wait_for pg1 60 "SELECT count(*) = 3 FROM streamext.source_status WHERE workers = 1" || se_die "bob's sources: $(table)"
as r2s_alice -c "SELECT streamext.create_source('a1', '127.0.0.1:$port', 't', 'r2s_a')"
se_wait_for pg1 60 "SELECT workers = 1 FROM streamext.source_status WHERE source = 'a1'" ||
	se_die "alice's source has no worker while bob's three have one each: $(table)"
se_wait_for pg1 60 "SELECT count(*) = 1 FROM streamext.source_status WHERE state = 'no_workers'" || se_die "$(table)"
se_assert_eq "the source left over is bob's newest" "b3|0" \
	"$(se_psql pg1 -c "SELECT source, workers FROM streamext.source_status WHERE state = 'no_workers'")"
se_assert_eq "its hint" t "$(se_psql pg1 -c "SELECT hint LIKE 'no worker: all 3 streamext.max_source_workers are taken by other sources%' FROM streamext.source_status WHERE source = 'b3'")"
se_wait_for pg1 60 "SELECT count(*) = 3 FROM pg_stat_activity WHERE backend_type = 'streamext source'" ||
	se_die "not 3 worker processes: $(table)"
for s in b1 b2 b3; do as r2s_bob -c "SELECT streamext.drop_source('$s')"; done
as r2s_alice -c "SELECT streamext.drop_source('a1')"
