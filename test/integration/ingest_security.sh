#!/usr/bin/env bash
# Issue 3, test 8: the privilege rules of sources, each tried and refused with a clear error (INSERT on
# the target to create, owner to alter/drop/pause, superuser-only kafka properties, SASL password
# hidden from other roles), workers running as the owner; names with quotes, spaces and mixed case.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic sec:2 --topic 'odd.topic-1':2
se_psql pg1 <<'SQL'
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE TABLE alice_t (device_id text, seq bigint);
GRANT SELECT ON alice_t TO alice;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }
# refused ROLE SQL PATTERN: the statement fails and its error matches PATTERN
refused() {
	local role=$1 sql=$2 pattern=$3 out
	if out=$(as "$role" -c "$sql" 2>&1); then se_die "not refused for $role: $sql"; fi
	grep -qiE "$pattern" <<<"$out" || se_die "unexpected error for $role: $sql: $out"
	se_log "ok: refused ($role): $(grep -m1 ERROR <<<"$out")"
}

refused alice "SELECT streamext.create_source('a1', '$SE_BOOTSTRAP', 'sec', 'alice_t')" "permission denied for table alice_t"
se_psql pg1 -c "GRANT INSERT ON alice_t TO alice"
refused alice "SELECT streamext.create_source('a1', '$SE_BOOTSTRAP', 'sec', 'alice_t', options => '{\"kafka\": {\"ssl.ca.location\": \"/etc/passwd\"}}')" "only superusers may set kafka property \"ssl.ca.location\""
refused alice "SELECT streamext.create_source('a1', '$SE_BOOTSTRAP', 'sec', 'alice_t', options => '{\"kafka\": {\"sasl.kerberos.kinit.cmd\": \"touch /tmp/x\"}}')" "only superusers may set kafka property"
refused alice "SELECT streamext.create_source('a1', '$SE_BOOTSTRAP', 'sec', 'alice_t', options => '{\"kafka\": {\"plugin.library.paths\": \"/tmp/evil.so\"}}')" "only superusers may set kafka property"
refused alice "SELECT streamext.create_source('a1', '$SE_BOOTSTRAP', 'sec', 'alice_t', options => '{\"paralelism\": 2}')" "unknown source option \"paralelism\""
refused alice "INSERT INTO streamext.sources (name, owner, brokers, topic, target) VALUES ('a0', 'bob', 'x', 'sec', 'alice_t')" "only superusers may create a source owned by another role"
as alice -c "SELECT streamext.create_source('a1', '$SE_BOOTSTRAP', 'sec', 'alice_t',
	options => '{\"kafka\": {\"sasl.password\": \"s3cret-pw\", \"client.rack\": \"r1\"}}')"
refused alice "SELECT streamext.create_source('a1', '$SE_BOOTSTRAP', 'sec', 'alice_t')" "source \"a1\" already exists"

# Others cannot change it, nor see its options.
refused bob "SELECT streamext.drop_source('a1')" "must be owner of source \"a1\""
refused bob "SELECT streamext.pause_source('a1')" "must be owner of source \"a1\""
refused bob "SELECT streamext.resume_source('a1')" "must be owner of source \"a1\""
refused bob "SELECT streamext.alter_source('a1', '{\"parallelism\": 2}')" "must be owner of source \"a1\""
refused bob "SELECT streamext.drop_source('nope')" "source \"nope\" does not exist"
as bob -c "UPDATE streamext.sources SET state = 'paused'"
se_assert_eq "sources paused by bob's direct UPDATE" 0 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.sources WHERE state = 'paused'")"
se_assert_eq "bob sees alice's source in the catalog" 0 "$(as bob -c "SELECT count(*) FROM streamext.sources")"
se_assert_eq "bob sees the source's status" 1 "$(as bob -c "SELECT count(*) FROM streamext.source_status WHERE source = 'a1'")"
se_assert_eq "password in source_status" 0 "$(as bob -c "SELECT count(*) FROM streamext.source_status s WHERE s::text LIKE '%s3cret%'")"
refused alice "SELECT streamext.alter_source('a1', '{\"kafka\": {\"ssl.key.location\": \"/etc/shadow\"}}')" "only superusers may set kafka property"
refused alice "UPDATE streamext.sources SET owner = 'bob'" "only superusers may change the owner"

# The worker runs as alice: rows arrive; once alice loses INSERT the source stops in the error state.
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic sec --count 100 2>/dev/null
se_wait_for pg1 60 "SELECT count(*) = 100 FROM alice_t" || se_die "alice's source wrote nothing"
se_assert_eq "worker role" "alice" "$(se_psql pg1 -c "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE application_name = 'a1'")"
se_psql pg1 -c "REVOKE INSERT ON alice_t FROM alice"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic sec --count 10 --seed 2 2>/dev/null
se_wait_for pg1 30 "SELECT state = 'error' AND last_error LIKE '%permission denied%' FROM streamext.source_status WHERE source = 'a1'" ||
	se_die "no error state: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_assert_eq "rows after revoke" 100 "$(se_psql pg1 -c "SELECT count(*) FROM alice_t")"
# the source's other worker (it has one per partition) is stopped by the launcher
se_wait_for pg1 20 "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'a1'" || true
sleep 2
se_assert_eq "workers in error state (no crash loop)" 0 "$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'a1'")"
se_psql pg1 -c "GRANT INSERT ON alice_t TO alice"
as alice -c "SELECT streamext.resume_source('a1')"
se_wait_for pg1 60 "SELECT count(*) = 110 FROM alice_t" || se_die "resume after error: $(se_psql pg1 -c 'SELECT count(*) FROM alice_t')"
if grep -q 's3cret' "$(se_pg_dir pg1).log"; then se_die "the SASL password is in the server log"; fi
se_log "ok: the SASL password is not in the server log"
se_psql pg1 -c "SELECT streamext.drop_source('a1')"   # a superuser may

# Quoting: names with quotes, spaces, dots and mixed case.
se_psql pg1 <<'SQL'
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Odd ""Table"" Name" ("Device Id" text, seq bigint);
SQL
se_psql pg1 -c "SELECT streamext.create_source('My \"Source\" it''s', '$SE_BOOTSTRAP', 'odd.topic-1',
	'\"My Schema\".\"Odd \"\"Table\"\" Name\"', options => '{\"column_map\": {\"Device Id\": \"device_id\"}}')"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic odd.topic-1 --count 50 2>/dev/null
se_wait_for pg1 60 "SELECT count(*) = 50 FROM \"My Schema\".\"Odd \"\"Table\"\" Name\" WHERE \"Device Id\" LIKE 'truck-%'" ||
	se_die "quoted names: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
# one worker per partition of odd.topic-1 (2), at most one per core
se_assert_eq "application_name" $(( $(getconf _NPROCESSORS_ONLN) < 2 ? 1 : 2 )) "$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'My \"Source\" it''s'")"
se_psql pg1 -c "SELECT streamext.pause_source('My \"Source\" it''s')"
se_psql pg1 -c "SELECT streamext.drop_source('My \"Source\" it''s')"
se_assert_eq "sources left" 0 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.sources")"
