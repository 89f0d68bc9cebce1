#!/usr/bin/env bash
# Issue 10, item 2: librdkafka properties.  internal.*, test.* and pointer properties are refused for
# every role (internal.termination.signal made the worker ignore PostgreSQL's signals); roles that
# are not superusers may set only the allow-list; buffer sizes cannot exceed max_buffered_bytes;
# typos and bad values are refused by create_source/alter_source with librdkafka's own message; the
# options table (streamext._source_options, _kafka_properties) is what docs/ingest.md lists.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic kp:1
se_psql pg1 <<'SQL'
CREATE ROLE kp_alice LOGIN;
CREATE TABLE kp_t (device_id text, seq bigint);
GRANT INSERT ON kp_t TO kp_alice;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }
# refused ROLE KAFKA-JSON PATTERN [OTHER-OPTIONS]: create_source with these kafka properties fails with PATTERN
refused() {
	local role=$1 kafka=$2 pattern=$3 more=${4:-} out sql
	sql="SELECT streamext.create_source('kp1', '$SE_BOOTSTRAP', 'kp', 'kp_t', options => '{$more\"kafka\": $kafka}')"
	if [ "$role" = postgres ]; then out=$(se_psql pg1 -c "$sql" 2>&1) && se_die "accepted for $role: $kafka"
	else out=$(as "$role" -c "$sql" 2>&1) && se_die "accepted for $role: $kafka"; fi
	grep -qE "$pattern" <<<"$out" || se_die "unexpected error for $role, $kafka: $out"
	se_log "ok: refused ($role) $kafka: $(grep -m1 ERROR <<<"$out")"
}
for role in kp_alice postgres; do
	refused $role '{"internal.termination.signal": 10}' 'kafka property "internal.termination.signal" cannot be set'
	refused $role '{"test.mock.num.brokers": 3}' 'kafka property "test.mock.num.brokers" cannot be set'
	refused $role '{"opaque": "0x1234"}' 'kafka property "opaque" cannot be set'
	refused $role '{"log_cb": "0x1234"}' 'kafka property "log_cb" cannot be set'
	refused $role '{"queued.max.messages.kbytes": 2000000}' 'kafka property "queued.max.messages.kbytes" is set by streamext'
	refused $role '{"auto.commit.enable": true}' 'is set by streamext'
	# typos and bad values: librdkafka's own words
	refused $role '{"fetch.max.bytez": 1048576}' 'invalid kafka property "fetch.max.bytez": No such configuration property'
	refused $role '{"session.timeout.ms": "soon"}' 'invalid kafka property "session.timeout.ms": .*(Invalid value|integer)'
	refused $role '{"isolation.level": "read_whatever"}' 'invalid kafka property "isolation.level"'
	# buffers beyond the memory budget (default 32 MiB)
	refused $role '{"fetch.max.bytes": 100000000}' 'exceeds the source.s memory budget, max_buffered_bytes = 33554432'
	refused $role '{"receive.message.max.bytes": 50000000}' 'exceeds the source.s memory budget'
	refused $role '{"max.partition.fetch.bytes": 100000}' 'exceeds the source.s memory budget, max_buffered_bytes = 65536' '"max_buffered_bytes": 65536, '
done
# not in the allow-list: superusers only
refused kp_alice '{"debug": "all"}' 'only superusers may set kafka property "debug"'
refused kp_alice '{"offset.store.method": "file"}' 'only superusers may set kafka property'
refused kp_alice '{"ssl.ca.location": "/etc/passwd"}' 'only superusers may set kafka property "ssl.ca.location"'
refused kp_alice '{"statistics.interval.ms": 10}' 'only superusers may set kafka property'
se_psql pg1 -c "SELECT streamext.create_source('kp_su', '$SE_BOOTSTRAP', 'kp', 'kp_t', options => '{\"kafka\": {\"debug\": \"consumer\"}}')" \
	-c "SELECT streamext.drop_source('kp_su')"
se_log "ok: a superuser may set debug"

# Allowed properties work end to end; a bigger budget allows bigger buffers.
as kp_alice -c "SELECT streamext.create_source('kp1', '$SE_BOOTSTRAP', 'kp', 'kp_t', options => '{\"max_buffered_bytes\": 134217728,
	\"kafka\": {\"fetch.max.bytes\": 67108864, \"client.rack\": \"r1\", \"session.timeout.ms\": 7000, \"sasl.kerberos.principal\": \"kafka/broker-1.example@EXAMPLE.COM\"}}')"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic kp --count 50 2>/dev/null
se_wait_for pg1 60 "SELECT count(*) = 50 FROM kp_t" || se_die "no rows: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
# alter_source: the merged options are checked, also against a lowered budget
out=$(as kp_alice -c "SELECT streamext.alter_source('kp1', '{\"max_buffered_bytes\": 1048576}')" 2>&1) && se_die "budget below fetch.max.bytes accepted"
grep -q 'exceeds the source.s memory budget' <<<"$out" || se_die "unexpected: $out"
out=$(as kp_alice -c "SELECT streamext.alter_source('kp1', '{\"kafka\": {\"fetch.wait.max.mz\": 5}}')" 2>&1) && se_die "typo accepted by alter_source"
grep -q 'No such configuration property' <<<"$out" || se_die "unexpected: $out"
out=$(as kp_alice -c "UPDATE streamext.sources SET options = jsonb_set(options, '{kafka,internal.termination.signal}', '10') WHERE name = 'kp1'" 2>&1) && se_die "direct UPDATE accepted"
grep -q 'cannot be set' <<<"$out" || se_die "unexpected: $out"
se_log "ok: alter_source and direct updates are checked too"

# The options table and the docs agree.
docs=$SE_SRC/docs/ingest.md
[ -f "$docs" ] || se_die "no $docs"
section=$(awk '/^## Security/{on=1; next} /^## /{on=0} on' "$docs")
[ -n "$section" ] || se_die "docs/ingest.md has no Security section"
while IFS='|' read -r name who; do
	grep -qF "\`$name\`" <<<"$section" || se_die "docs/ingest.md Security section does not list kafka property $name ($who)"
done < <(se_psql pg1 -c "SELECT name, who FROM streamext._kafka_properties()")
options=$(awk '/^## Options/{on=1; next} /^## /{on=0} on' "$docs" | grep '^| ')
while read -r name; do
	grep -qF "\`$name\`" <<<"$options" || se_die "docs/ingest.md Options table does not list option $name"
done < <(se_psql pg1 -c "SELECT name FROM streamext._source_options()")
se_log "ok: docs/ingest.md lists every option and kafka property of the options table"
