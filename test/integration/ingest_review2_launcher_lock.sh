#!/usr/bin/env bash
# The launcher (a superuser) must never wait for a lock another role holds: a role that keeps
# its own source's row locked (SELECT ... FOR UPDATE in an open transaction) and is then made
# NOLOGIN by an administrator must not stall the launcher, and with it every other role's sources.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
port=$(se_free_port)   # nothing listens there; the workers run all the same
se_psql pg1 <<'SQL'
CREATE ROLE r2l_alice LOGIN;
CREATE ROLE r2l_bob LOGIN;
CREATE TABLE r2l_a (device_id text, seq bigint);
CREATE TABLE r2l_b (device_id text, seq bigint);
GRANT INSERT ON r2l_a TO r2l_alice;
GRANT INSERT ON r2l_b TO r2l_bob;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }
table() { se_psql pg1 -c "SELECT source, state, workers, last_error FROM streamext.source_status ORDER BY source"; }
as r2l_bob -c "SELECT streamext.create_source('lb', '127.0.0.1:$port', 't', 'r2l_b')"
se_wait_for pg1 60 "SELECT workers = 1 FROM streamext.source_status WHERE source = 'lb'" || se_die "bob's source: $(table)"

# bob keeps his source's row locked
se_psql pg1 -c "SET application_name = 'r2l_locker'" -c "SET ROLE r2l_bob" \
	-c "SELECT 1 FROM streamext.sources WHERE name = 'lb' FOR UPDATE; SELECT pg_sleep(600)" >/dev/null 2>&1 &
locker=$!
SE_PIDS+=("$locker")
se_wait_for pg1 30 "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'r2l_locker' AND query LIKE '%pg_sleep%'" ||
	se_die "the locking session did not start"
se_psql pg1 -c "ALTER ROLE r2l_bob NOLOGIN"
# a launcher pass or two
se_psql pg1 -c "SELECT streamext._wake_launcher()" >/dev/null

# alice's new source gets its worker all the same
as r2l_alice -c "SELECT streamext.create_source('la', '127.0.0.1:$port', 't', 'r2l_a')"
se_wait_for pg1 60 "SELECT workers = 1 FROM streamext.source_status WHERE source = 'la'" ||
	se_die "alice's source got no worker: $(table); launcher: $(se_psql pg1 -c "SELECT wait_event_type, wait_event, query FROM pg_stat_activity WHERE backend_type = 'streamext launcher'")"
se_assert_eq "the launcher waits for no lock" 0 \
	"$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'streamext launcher' AND wait_event_type = 'Lock'")"

# once bob's transaction ends, his source is stopped with the reason
se_psql pg1 -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'r2l_locker'" >/dev/null
se_wait_for pg1 60 "SELECT state = 'error' AND last_error LIKE '%cannot log in%' FROM streamext.source_status WHERE source = 'lb'" ||
	se_die "bob's source: $(table)"
as r2l_alice -c "SELECT streamext.drop_source('la')"
