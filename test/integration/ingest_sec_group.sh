#!/usr/bin/env bash
# Issue 10, item 4: a role that is not a superuser cannot put a source into a consumer group that a
# source of another role uses in this server (it would receive and commit that role's messages):
# not by create_source, alter_source, a rename (the default group is streamext-<name>) or direct DML.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic grp:2
se_psql pg1 <<'SQL'
CREATE ROLE g_alice LOGIN;
CREATE ROLE g_mallory LOGIN;
CREATE TABLE g_a (device_id text, seq bigint);
CREATE TABLE g_m (device_id text, seq bigint);
GRANT INSERT ON g_a TO g_alice;
GRANT INSERT ON g_m TO g_mallory;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }
refused() {
	local role=$1 sql=$2 out
	out=$(as "$role" -c "$sql" 2>&1) && se_die "not refused for $role: $sql"
	grep -q 'consumer group ".*" is used by a source of another role' <<<"$out" || se_die "unexpected error: $sql: $out"
	se_log "ok: refused: $(grep -m1 ERROR <<<"$out")"
}
as g_alice -c "SELECT streamext.create_source('orders', '$SE_BOOTSTRAP', 'grp', 'g_a')"
as g_alice -c "SELECT streamext.create_source('audit', '$SE_BOOTSTRAP', 'grp', 'g_a', options => '{\"group_id\": \"streamext-billing\"}')"
# the default group of alice's source, and an explicit group of hers
refused g_mallory "SELECT streamext.create_source('m1', '$SE_BOOTSTRAP', 'grp', 'g_m', options => '{\"group_id\": \"streamext-orders\"}')"
refused g_mallory "SELECT streamext.create_source('billing', '$SE_BOOTSTRAP', 'grp', 'g_m')"
refused g_mallory "INSERT INTO streamext.sources (name, brokers, topic, target, options) VALUES ('m1', '$SE_BOOTSTRAP', 'grp', 'g_m', '{\"group_id\": \"streamext-orders\"}')"
as g_mallory -c "SELECT streamext.create_source('m1', '$SE_BOOTSTRAP', 'grp', 'g_m')"
refused g_mallory "SELECT streamext.alter_source('m1', '{\"group_id\": \"streamext-orders\"}')"
refused g_mallory "UPDATE streamext.sources SET name = 'billing' WHERE name = 'm1'"
se_assert_eq "mallory's source kept its group" "m1|" "$(as g_mallory -c "SELECT name, options->>'group_id' FROM streamext.sources")"
# the same role may share its own group; a superuser may put anyone's sources together
as g_alice -c "SELECT streamext.create_source('orders2', '$SE_BOOTSTRAP', 'grp', 'g_a', options => '{\"group_id\": \"streamext-orders\"}')"
se_psql pg1 -c "SELECT streamext.create_source('ops', '$SE_BOOTSTRAP', 'grp', 'g_a', options => '{\"group_id\": \"streamext-orders\"}')"
se_log "ok: own group and superuser allowed"
# alice's messages reach alice
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic grp --count 40 2>/dev/null
se_wait_for pg1 60 "SELECT count(DISTINCT (device_id, seq)) = 40 FROM g_a" || se_die "alice's rows: $(se_psql pg1 -c 'SELECT count(*) FROM g_a')"

# The check serializes per group with an advisory lock, which any role can take: held by mallory,
# it makes alice's create_source fail within seconds with a clear error, never hang.
mkfifo "$SE_WORK/m.in"
se_psql pg1 <"$SE_WORK/m.in" >"$SE_WORK/m.out" 2>&1 &
SE_PIDS+=($!)
m_pid=$!
exec {M}>"$SE_WORK/m.in"
echo "SET ROLE g_mallory; SELECT 'held ' || pg_advisory_lock(hashtext('streamext.group_id'), hashtext('streamext-orders3'))::text;" >&$M
for _ in $(seq 1 100); do grep -q held "$SE_WORK/m.out" && break; sleep 0.1; done
grep -q held "$SE_WORK/m.out" || se_die "mallory's session: $(cat "$SE_WORK/m.out")"
out=$(as g_alice -c "SET statement_timeout = '30s'" -c "SELECT streamext.create_source('orders3', '$SE_BOOTSTRAP', 'grp', 'g_a')" 2>&1) &&
	se_die "created while the group's lock was held"
grep -q 'consumer group "streamext-orders3" is being changed by another transaction' <<<"$out" || se_die "unexpected: $out"
se_log "ok: $(grep -m1 ERROR <<<"$out")"
exec {M}>&-
wait "$m_pid" || true
as g_alice -c "SELECT streamext.create_source('orders3', '$SE_BOOTSTRAP', 'grp', 'g_a')"
