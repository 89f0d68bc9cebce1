#!/usr/bin/env bash
# Issue 10, item 8: _tp_name() with a 100,000-character name returns at once; another role cannot
# stall a source's partition DDL (not through _tp_lock, nor by holding the advisory lock it used
# to take); start_from "-infinity", "infinity", garbage and times before 1970 are refused by
# create_source; sasl.kerberos.principal/service.name with shell metacharacters are refused
# (librdkafka interpolates them into its kinit command line).
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 <<'SQL'
CREATE ROLE sm_alice LOGIN;
CREATE ROLE sm_bob LOGIN;
CREATE TABLE sm_t (device_id text, seq bigint);
GRANT INSERT ON sm_t TO sm_alice;
CREATE TABLE sm_tp (event_time timestamptz NOT NULL, v int) PARTITION BY RANGE (event_time);
ALTER TABLE sm_tp OWNER TO sm_alice;
GRANT CREATE ON SCHEMA public TO sm_alice;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }

se_assert_eq "_tp_name of 100,000 characters, within 5 s" "63|t" \
	"$(se_psql pg1 -c "SET statement_timeout = '5s'" -c "SELECT octet_length(n), n LIKE '%_p20260101' FROM streamext._tp_name(repeat('x', 100000), '_p20260101') n")"
se_assert_eq "_tp_name, multibyte" "t|t" \
	"$(se_psql pg1 -c "SET statement_timeout = '5s'" -c "SELECT octet_length(n) <= 63, n LIKE 'é%_p1' FROM streamext._tp_name(repeat('é', 100000), '_p1') n")"

# bob cannot take the partition DDL lock of alice's table ...
out=$(as sm_bob -c "BEGIN" -c "SELECT streamext._tp_lock('sm_tp')" 2>&1) && se_die "bob took _tp_lock"
grep -q 'must be owner of table' <<<"$out" || se_die "unexpected: $out"
se_log "ok: $(grep -m1 ERROR <<<"$out")"
# ... and holding the advisory lock _tp_lock used to take stalls nothing.
mkfifo "$SE_WORK/bob.in"
se_psql pg1 <"$SE_WORK/bob.in" >"$SE_WORK/bob.out" 2>&1 &
SE_PIDS+=($!)
bob_pid=$!
exec {BOB}>"$SE_WORK/bob.in"
echo "SET ROLE sm_bob; SELECT 'held ' || pg_advisory_lock(hashtext('streamext.time_partition'), 'sm_tp'::regclass::oid::integer)::text;" >&$BOB
for _ in $(seq 1 100); do grep -q "held" "$SE_WORK/bob.out" && break; sleep 0.1; done
grep -q "held" "$SE_WORK/bob.out" || se_die "bob's session: $(cat "$SE_WORK/bob.out")"
as sm_alice -c "SELECT streamext.create_source('sm_tp', 'localhost:1', 'tp', 'sm_tp',
	options => '{\"time_partition\": {\"column\": \"event_time\", \"interval\": \"1 day\", \"premake\": 1}}')"
out=$(as sm_alice -c "SET lock_timeout = '10s'" -c "SELECT count(*) FROM streamext.maintain_partitions('sm_tp')" 2>&1) ||
	se_die "bob's advisory lock stalled alice's partition DDL: $out"
se_log "ok: maintain_partitions did not wait for bob's advisory lock"
se_assert_eq "partitions of sm_tp" t "$(se_psql pg1 -c "SELECT count(*) >= 2 FROM pg_inherits WHERE inhparent = 'sm_tp'::regclass")"
exec {BOB}>&-
wait "$bob_pid" || true
as sm_alice -c "SELECT streamext.drop_source('sm_tp')"

# start_from: refused at create time
for v in '-infinity' 'infinity' 'next tuesday' '1960-01-01 00:00+00'; do
	out=$(as sm_alice -c "SELECT streamext.create_source('sm1', 'localhost:1', 't', 'sm_t', options => '{\"start_from\": \"$v\"}')" 2>&1) &&
		se_die "start_from $v accepted"
	grep -q 'source option "start_from" must be' <<<"$out" || se_die "unexpected for $v: $out"
	se_log "ok: start_from $v: $(grep -m1 ERROR <<<"$out")"
done
as sm_alice -c "SELECT streamext.create_source('sm1', 'localhost:1', 't', 'sm_t', options => '{\"start_from\": \"2026-01-01 00:00+00\"}')" \
	-c "SELECT streamext.drop_source('sm1')"

# kinit: no shell metacharacters in what librdkafka puts into the command line
for kv in '"sasl.kerberos.principal": "kafka/x; touch /tmp/pwned"' '"sasl.kerberos.service.name": "$(id)"' \
	'"sasl.kerberos.principal": "a`id`"' '"sasl.kerberos.service.name": "a b"'; do
	for role in sm_alice postgres; do
		sql="SELECT streamext.create_source('sm2', 'localhost:1', 't', 'sm_t', options => '{\"kafka\": {$kv}}')"
		if [ $role = postgres ]; then out=$(se_psql pg1 -c "$sql" 2>&1) && se_die "accepted: $kv"
		else out=$(as $role -c "$sql" 2>&1) && se_die "accepted: $kv"; fi
		grep -q 'may contain only letters, digits' <<<"$out" || se_die "unexpected for $kv: $out"
	done
	se_log "ok: refused $kv"
done
as sm_alice -c "SELECT streamext.create_source('sm2', 'localhost:1', 't', 'sm_t', options => '{\"kafka\": {\"sasl.kerberos.principal\": \"kafka/broker-1.example@EXAMPLE.COM\", \"sasl.kerberos.service.name\": \"kafka\"}}')"

# MarkGUCPrefixReserved("streamext"): a misspelt setting is an error, not a silent placeholder.
out=$(se_psql pg1 -c "SET streamext.max_source_worker = 4" 2>&1) && se_die "misspelt streamext setting accepted"
grep -q 'invalid configuration parameter name "streamext.max_source_worker"' <<<"$out" || se_die "unexpected: $out"
se_log "ok: $(grep -m1 ERROR <<<"$out")"
