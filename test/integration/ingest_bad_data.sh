#!/usr/bin/env bash
# Issue 3, test 4: bad messages (invalid JSON, wrong types, NOT NULL/CHECK violations, tombstones,
# invalid UTF-8, binary garbage) each become one dead letter with a useful error; every good message,
# including a 5 MB one, is a row; rows + dead letters = messages produced.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic bad:2

se_psql pg1 <<'SQL'
CREATE TABLE readings (
	device_id text NOT NULL,
	temperature double precision CHECK (temperature < 100),
	seq bigint,
	note text,
	_partition int, _offset bigint);
SQL

# Good and bad messages interleaved, one per line, all to partition 0.
python3 - "$SE_WORK/lines" <<'PY'
import sys
good = lambda i: b'{"device_id":"d%d","temperature":%d.5,"seq":%d}' % (i, i % 50, i)
bad = [
	(b'{"device_id": "x", "temperature": ', 'JSON'),          # truncated
	(b'not json at all', 'JSON'),
	(b'[1, 2, 3]', 'object'),                                  # not an object
	(b'{"device_id":"x","temperature":"hot"}', 'double precision'),
	(b'{"device_id":"x","seq":"many"}', 'bigint'),
	(b'{"device_id":"x","seq":99999999999999999999999}', 'range'),
	(b'{"temperature":3}', 'null value'),                      # NOT NULL
	(b'{"device_id":null,"seq":1}', 'null value'),
	(b'{"device_id":"hot","temperature":150}', 'check constraint'),
	(b'{"device_id":"\xff\xfe bad utf8","seq":2}', 'UTF8'),
	(b'', ''),                                                 # empty line: tombstone
]
with open(sys.argv[1], 'wb') as f:
	n = 0
	for i in range(300):
		f.write(good(i) + b'\n'); n += 1
		if i % 25 == 0:
			f.write(bad[(i // 25) % len(bad)][0] + b'\n'); n += 1
	for b, _ in bad:
		f.write(b + b'\n'); n += 1
	for i in range(300, 400):
		f.write(good(i) + b'\n'); n += 1
PY
lines=$(wc -l <"$SE_WORK/lines")
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic bad --partition 0 --stdin <"$SE_WORK/lines" 2>/dev/null
head -c 4096 /dev/urandom >"$SE_WORK/garbage"
kcat -P -b "$SE_BOOTSTRAP" -t bad -p 0 "$SE_WORK/garbage"
python3 -c "print('{\"device_id\":\"big\",\"seq\":-1,\"note\":\"' + 'x' * 5000000 + '\"}', end='')" >"$SE_WORK/big"
kcat -P -b "$SE_BOOTSTRAP" -t bad -p 1 -X message.max.bytes=10000000 "$SE_WORK/big"
total=$((lines + 2))
se_log "produced $total messages"

se_psql pg1 -c "SELECT streamext.create_source('bad_src', '$SE_BOOTSTRAP', 'bad', 'readings',
	options => '{\"batch_max_messages\": 100}')"
se_wait_for pg1 120 "SELECT (SELECT count(*) FROM readings) + (SELECT count(*) FROM streamext.dead_letters) >= $total" ||
	se_die "not everything arrived: $(se_psql pg1 -c "select (select count(*) from readings), (select count(*) from streamext.dead_letters)")"
sleep 2

se_assert_eq "rows + dead letters = produced" $total "$(se_psql pg1 -c "SELECT (SELECT count(*) FROM readings) + (SELECT count(*) FROM streamext.dead_letters WHERE source = 'bad_src')")"
se_assert_eq "good rows" 401 "$(se_psql pg1 -c "SELECT count(*) FROM readings")"
se_assert_eq "good rows are the right ones" "400|79800|1" "$(se_psql pg1 -c "SELECT count(*) FILTER (WHERE device_id = 'd' || seq), sum(seq) FILTER (WHERE seq >= 0), count(*) FILTER (WHERE device_id = 'big' AND length(note) = 5000000) FROM readings")"
se_assert_eq "offsets of rows and dead letters are disjoint and complete" $total "$(se_psql pg1 -c "SELECT count(DISTINCT (p, o)) FROM (SELECT _partition, _offset FROM readings UNION ALL SELECT partition, \"offset\" FROM streamext.dead_letters) x(p, o)")"
se_assert_eq "dead letters without error, topic or payload" 0 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE error IS NULL OR error = '' OR topic <> 'bad' OR (payload IS NULL AND error NOT LIKE '%tombstone%')")"

# Each kind of bad message has an error that says what is wrong.
check() {
	local payload_sql=$1 pattern=$2
	local got
	got=$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE $payload_sql AND error NOT ILIKE '%$pattern%'")
	[ "$got" = 0 ] || se_psql pg1 -c "SELECT error FROM streamext.dead_letters WHERE $payload_sql AND error NOT ILIKE '%$pattern%'" >&2
	se_assert_eq "dead letters for $payload_sql not mentioning '$pattern'" 0 "$got"
	got=$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE $payload_sql")
	[ "$got" -ge 1 ] || se_die "no dead letter for $payload_sql"
}
check "payload = convert_to('not json at all', 'UTF8')" "JSON"
check "payload = convert_to('{\"device_id\":\"x\",\"temperature\":\"hot\"}', 'UTF8')" "double precision"
check "payload = convert_to('{\"temperature\":3}', 'UTF8')" "null value"
check "payload = convert_to('{\"device_id\":\"hot\",\"temperature\":150}', 'UTF8')" "check constraint"
check "position('\\xfffe'::bytea in payload) > 0 AND length(payload) < 100" "UTF-8"
check "payload IS NULL OR payload = ''" "payload"
check "length(payload) = 4096" ""
se_log "dead letter errors:"
se_psql pg1 -c "SELECT DISTINCT left(error, 100) FROM streamext.dead_letters ORDER BY 1" >&2
# Without a parallelism option: one worker per partition read (2), at most one per core (issue 10).
auto=$(( $(getconf _NPROCESSORS_ONLN) < 2 ? 1 : 2 ))
se_assert_eq "status" "$auto|401|$((total - 401))" "$(se_psql pg1 -c "SELECT workers, rows, dead_letters FROM streamext.source_status WHERE source = 'bad_src'")"
