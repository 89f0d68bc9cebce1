#!/usr/bin/env bash
# Regression checks for the review of the ingestion (/work/review-ingest.md): planted operators are
# never run by the catalog functions (S2-2); the csv/text options null, columns and column are
# accepted (S1-5); deferred constraint violations become dead letters (S1-3); names over 63 bytes
# are refused, multibyte names work (S2-4); a dropped source's dead letters are not readable by
# the next owner of its name (S2-1); start_from latest is resolved once per partition, so a
# partition idle until after a pause loses nothing (S1-2); merge_schema ignores keys it cannot add
# as columns (system column names, a target the owner does not own) and the messages land (S1-4);
# statement triggers with transition tables see the batch's rows (S2-9); alter_source merges the
# kafka object property by property (S3-5); last_error is shown only to the owner (S2-3); a message
# already present under a unique (_topic, _partition, _offset) index is skipped, not dead-lettered (S3-2);
# group.instance.id is refused (S3-4); roles cannot choose a source's id or generation (S4).
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic rv:1 --topic rcsv:1 --topic rtxt:1 --topic rfk:1 --topic rmb:1 --topic rlt:2 --topic rms:1 --topic rms2:1 --topic rtt:1 --topic rid:1
se_psql pg1 <<'SQL'
CREATE ROLE rv_bob LOGIN;
CREATE ROLE rv_alice LOGIN;
CREATE TABLE rv_t (device_id text, seq bigint);
GRANT INSERT ON rv_t TO rv_bob;
GRANT CREATE ON SCHEMA public TO rv_bob;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }

# S2-2: bob plants public.<>(regrole, regrole); a superuser (search_path "$user", public) then
# changes bob's source: the trigger and alter_source must not call bob's function.
as rv_bob -c "SELECT streamext.create_source('rv', '$SE_BOOTSTRAP', 'rv', 'rv_t')"
as rv_bob -c "CREATE FUNCTION public.rv_ne(regrole, regrole) RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN RAISE EXCEPTION 'hijacked: running as %', current_user; END \$\$" \
	-c "CREATE OPERATOR public.<> (LEFTARG = regrole, RIGHTARG = regrole, FUNCTION = public.rv_ne)" \
	-c "CREATE FUNCTION public.rv_lt(numeric, integer) RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN RAISE EXCEPTION 'hijacked: running as %', current_user; END \$\$" \
	-c "CREATE OPERATOR public.< (LEFTARG = numeric, RIGHTARG = integer, FUNCTION = public.rv_lt)"
out=$(se_psql pg1 -c "SELECT streamext.alter_source('rv', '{\"batch_max_ms\": 100}')" \
	-c "SELECT streamext.pause_source('rv')" -c "SELECT streamext.resume_source('rv')" \
	-c "UPDATE streamext.sources SET owner = 'rv_bob' WHERE name = 'rv'" 2>&1) || se_die "superuser calls failed: $out"
grep -q hijacked <<<"$out" && se_die "planted operator ran: $out"
se_assert_eq "options changed" 100 "$(se_psql pg1 -c "SELECT options->>'batch_max_ms' FROM streamext.sources WHERE name = 'rv'")"
se_assert_eq "functions without search_path" 0 "$(se_psql pg1 -c "SELECT count(*) FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass JOIN pg_extension e ON e.oid = d.refobjid WHERE e.extname = 'streamext' AND p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql')) AND NOT coalesce(p.proconfig, '{}') @> '{\"search_path=pg_catalog, pg_temp\"}'")"
se_psql pg1 -c "DROP OPERATOR public.<(numeric, integer); DROP OPERATOR public.<>(regrole, regrole); DROP FUNCTION public.rv_ne, public.rv_lt"

# S1-5: csv null/columns and text column are source options.
se_psql pg1 -c "CREATE TABLE rv_csv (device_id text, seq bigint, note text); CREATE TABLE rv_txt (id serial, body text, extra text)"
printf '%s\n' '7,truck-a,hello' 'NA,truck-b,NA' | "$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rcsv --stdin 2>/dev/null
printf '%s\n' 'line one' 'line two' | "$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rtxt --stdin 2>/dev/null
se_psql pg1 -c "SELECT streamext.create_source('rv_csv', '$SE_BOOTSTRAP', 'rcsv', 'rv_csv', 'csv', '{\"columns\": [\"seq\", \"device_id\", \"note\"], \"null\": \"NA\"}')"
se_psql pg1 -c "SELECT streamext.create_source('rv_txt', '$SE_BOOTSTRAP', 'rtxt', 'rv_txt', 'text', '{\"column\": \"extra\"}')"
se_wait_for pg1 30 "SELECT (SELECT count(*) FROM rv_csv) = 2 AND (SELECT count(*) FROM rv_txt) = 2" || se_die "csv/text rows missing: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_assert_eq "csv rows" "truck-a|7|hello,truck-b||" "$(se_psql pg1 -c "SELECT string_agg(concat_ws('|', device_id, coalesce(seq::text, ''), coalesce(note, '')), ',' ORDER BY device_id) FROM rv_csv")"
se_assert_eq "text rows" "|line one,|line two" "$(se_psql pg1 -c "SELECT string_agg(coalesce(body, '') || '|' || extra, ',' ORDER BY extra) FROM rv_txt")"

# S1-3: a deferrable foreign key, initially deferred: 1 good row, 9 dead letters, source running.
se_psql pg1 -c "CREATE TABLE rv_dev (id text PRIMARY KEY); INSERT INTO rv_dev VALUES ('truck-0000');
CREATE TABLE rv_fk (device_id text REFERENCES rv_dev DEFERRABLE INITIALLY DEFERRED, seq bigint)"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rfk --count 10 --devices 10 2>/dev/null
se_psql pg1 -c "SELECT streamext.create_source('rv_fk', '$SE_BOOTSTRAP', 'rfk', 'rv_fk')"
se_wait_for pg1 30 "SELECT rows + dead_letters = 10 FROM streamext.source_status WHERE source = 'rv_fk'" ||
	se_die "deferred fk: $(se_psql pg1 -c "SELECT * FROM streamext.source_status WHERE source = 'rv_fk'")"
se_assert_eq "deferred fk rows" 1 "$(se_psql pg1 -c 'SELECT count(*) FROM rv_fk')"
se_assert_eq "deferred fk dead letters" 9 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE source = 'rv_fk' AND error LIKE '%foreign key%'")"
se_assert_eq "deferred fk state" running "$(se_psql pg1 -c "SELECT state FROM streamext.source_status WHERE source = 'rv_fk'")"

# S2-4: 67 bytes (34 characters) are refused with a clear error; 63 bytes of Cyrillic work.
long=телеметрия_грузовиков_северо_запад
out=$(se_psql pg1 -c "SELECT streamext.create_source('$long', '$SE_BOOTSTRAP', 'rmb', 'rv_t')" 2>&1) && se_die "67-byte name accepted"
grep -q "must be 1 to 63 bytes long" <<<"$out" || se_die "unexpected error: $out"
name=телеметрия_грузовиков_северо_запа
se_assert_eq "name bytes" 63 "$(se_psql pg1 -c "SELECT octet_length('$name')")"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rmb --count 10 2>/dev/null
se_psql pg1 -c "CREATE TABLE rv_mb (device_id text, seq bigint)"
se_psql pg1 -c "SELECT streamext.create_source('$name', '$SE_BOOTSTRAP', 'rmb', 'rv_mb')"
se_wait_for pg1 30 "SELECT count(*) = 10 FROM rv_mb" || se_die "multibyte name: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_assert_eq "multibyte name offsets" 10 "$(se_psql pg1 -c "SELECT next_offset FROM streamext.source_offsets WHERE source = '$name'")"

# S2-1: alice's dead letter stays after drop_source, but bob, taking the name, cannot see it.
se_psql pg1 -c "CREATE TABLE rv_at (device_id text, seq bigint); GRANT INSERT ON rv_at TO rv_alice"
as rv_alice -c "SELECT streamext.create_source('rv_orders', '$SE_BOOTSTRAP', 'rv', 'rv_at', options => '{\"start_from\": \"latest\"}')" \
	-c "INSERT INTO streamext.dead_letters (source, payload, error) VALUES ('rv_orders', 'card 4111-1111', 'x')"
se_assert_eq "alice sees her dead letter" 1 "$(as rv_alice -c "SELECT count(*) FROM streamext.dead_letters")"
as rv_alice -c "SELECT streamext.drop_source('rv_orders')"
as rv_bob -c "SELECT streamext.create_source('rv_orders', '$SE_BOOTSTRAP', 'rv', 'rv_t', options => '{\"start_from\": \"latest\"}')"
se_assert_eq "bob sees no old dead letters" 0 "$(as rv_bob -c "SELECT count(*) FROM streamext.dead_letters WHERE source = 'rv_orders'")"
se_assert_eq "bob deletes none" "" "$(as rv_bob -c "DELETE FROM streamext.dead_letters WHERE source = 'rv_orders' RETURNING id")"
se_assert_eq "status counts none" 0 "$(as rv_bob -c "SELECT dead_letters FROM streamext.source_status WHERE source = 'rv_orders'")"
as rv_bob -c "INSERT INTO streamext.dead_letters (source, payload, error) VALUES ('rv_orders', 'bob', 'x')"
se_assert_eq "bob sees his own" bob "$(as rv_bob -c "SELECT convert_from(payload, 'UTF8') FROM streamext.dead_letters WHERE source = 'rv_orders'")"
se_assert_eq "superuser still has both" 2 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE source = 'rv_orders'")"

# S1-2: start_from latest; p1 gets its first messages while the source is paused.
se_psql pg1 -c "CREATE TABLE rv_lt (device_id text, seq bigint, _partition int)"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rlt --partition 0 --count 3 --seed 9 2>/dev/null
se_psql pg1 -c "SELECT streamext.create_source('rv_lt', '$SE_BOOTSTRAP', 'rlt', 'rv_lt', options => '{\"start_from\": \"latest\"}')"
se_wait_for pg1 30 "SELECT count(*) = 2 FROM streamext.source_offsets WHERE source = 'rv_lt'" ||
	se_die "latest offsets not stored at assignment: $(se_psql pg1 -c "SELECT * FROM streamext.source_offsets WHERE source = 'rv_lt'")"
se_assert_eq "latest resolved" "0:3,1:0" "$(se_psql pg1 -c "SELECT string_agg(partition || ':' || next_offset, ',' ORDER BY partition) FROM streamext.source_offsets WHERE source = 'rv_lt'")"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rlt --partition 0 --count 5 2>/dev/null
se_wait_for pg1 30 "SELECT count(*) = 5 FROM rv_lt" || se_die "p0 not written"
se_psql pg1 -c "SELECT streamext.pause_source('rv_lt')"
se_wait_for pg1 10 "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'streamext source' AND application_name = 'rv_lt')" || se_die "workers did not stop"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rlt --partition 1 --count 10 --seed 3 2>/dev/null
se_psql pg1 -c "SELECT streamext.resume_source('rv_lt')"
se_wait_for pg1 30 "SELECT count(*) = 15 FROM rv_lt" || se_log "rows not all there"
se_assert_eq "latest: rows per partition" "0:5,1:10" "$(se_psql pg1 -c "SELECT string_agg(p || ':' || n, ',' ORDER BY p) FROM (SELECT _partition p, count(*) n FROM rv_lt GROUP BY 1) x")"

# S1-4: merge_schema with keys named like system columns, and with an owner who cannot ALTER.
se_psql pg1 -c "CREATE TABLE rv_ms (a int, _offset bigint); CREATE TABLE rv_ms2 (a int); GRANT INSERT ON rv_ms2 TO rv_bob"
printf '%s\n' '{"a":1}' '{"a":2,"xmin":5,"ctid":"x","b":"new"}' '{"a":3,"tableoid":1}' |
	"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rms --stdin 2>/dev/null
printf '%s\n' '{"a":1}' '{"a":2,"c":7}' '{"a":3}' | "$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rms2 --stdin 2>/dev/null
se_psql pg1 -c "SELECT streamext.create_source('rv_ms', '$SE_BOOTSTRAP', 'rms', 'rv_ms', options => '{\"merge_schema\": true}')"
as rv_bob -c "SELECT streamext.create_source('rv_ms2', '$SE_BOOTSTRAP', 'rms2', 'rv_ms2', options => '{\"merge_schema\": true}')"
se_wait_for pg1 30 "SELECT (SELECT count(*) FROM rv_ms) = 3 AND (SELECT count(*) FROM rv_ms2) = 3" ||
	se_die "merge_schema rows missing: $(se_psql pg1 -c "SELECT source, state, rows, last_error FROM streamext.source_status WHERE source LIKE 'rv_ms%'")"
se_assert_eq "merge_schema: rows" "1|,2|new,3|" "$(se_psql pg1 -c "SELECT string_agg(a || '|' || coalesce(b, ''), ',' ORDER BY a) FROM rv_ms")"
se_assert_eq "merge_schema: no dead letters" 0 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE source LIKE 'rv_ms%'")"
se_assert_eq "merge_schema: not owner, column not added" "a" "$(se_psql pg1 -c "SELECT string_agg(attname, ',') FROM pg_attribute WHERE attrelid = 'rv_ms2'::regclass AND attnum > 0")"
se_assert_eq "merge_schema: states" "running,running" "$(se_psql pg1 -c "SELECT string_agg(state, ',') FROM streamext.source_status WHERE source LIKE 'rv_ms%'")"

# S2-9: AFTER INSERT ... REFERENCING NEW TABLE ... FOR EACH STATEMENT sees every row.
se_psql pg1 -c "CREATE TABLE rv_tt (device_id text, seq bigint); CREATE TABLE rv_tt_count (n bigint);
CREATE FUNCTION rv_ttf() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN INSERT INTO rv_tt_count SELECT count(*) FROM newrows; RETURN NULL; END \$\$;
CREATE TRIGGER rv_ttt AFTER INSERT ON rv_tt REFERENCING NEW TABLE AS newrows FOR EACH STATEMENT EXECUTE FUNCTION rv_ttf()"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rtt --count 20 2>/dev/null
se_psql pg1 -c "SELECT streamext.create_source('rv_tt', '$SE_BOOTSTRAP', 'rtt', 'rv_tt')"
se_wait_for pg1 30 "SELECT count(*) = 20 FROM rv_tt" || se_die "transition table: $(se_psql pg1 -c "SELECT state, last_error FROM streamext.source_status WHERE source = 'rv_tt'")"
se_assert_eq "transition table rows seen" 20 "$(se_psql pg1 -c 'SELECT sum(n) FROM rv_tt_count')"

# S3-5: alter_source keeps the other kafka properties; null removes one.
se_psql pg1 -c "SELECT streamext.alter_source('rv_tt', '{\"kafka\": {\"sasl.username\": \"u\", \"sasl.password\": \"p\", \"client.rack\": \"r1\"}}')"
se_psql pg1 -c "SELECT streamext.alter_source('rv_tt', '{\"kafka\": {\"fetch.max.bytes\": 1048576, \"client.rack\": null}}')"
se_assert_eq "kafka merged" '{"sasl.password": "p", "sasl.username": "u", "fetch.max.bytes": 1048576}' "$(se_psql pg1 -c "SELECT options->'kafka' FROM streamext.sources WHERE name = 'rv_tt'")"
se_psql pg1 -c "SELECT streamext.alter_source('rv_tt', '{\"kafka\": null}')"
se_assert_eq "kafka removed" "f" "$(se_psql pg1 -c "SELECT options ? 'kafka' FROM streamext.sources WHERE name = 'rv_tt'")"

# S2-3: another role sees bob's source in source_status, but not its last_error.
se_psql pg1 -c "UPDATE streamext.sources SET state = 'error', last_error = 'bad card 4111' WHERE name = 'rv'"
se_assert_eq "owner sees last_error" "bad card 4111" "$(as rv_bob -c "SELECT last_error FROM streamext.source_status WHERE source = 'rv'")"
se_assert_eq "others do not" "error|" "$(as rv_alice -c "SELECT state, last_error FROM streamext.source_status WHERE source = 'rv'")"

# S3-2: 5 of 10 messages are already in the target (re-delivery); the unique index on the Kafka
# position makes them "already there"; a unique violation on another column is still a dead letter.
se_psql pg1 -c "CREATE TABLE rv_id (device_id text, seq bigint, _topic text, _partition int, _offset bigint, UNIQUE (_topic, _partition, _offset), tag int UNIQUE)
	; INSERT INTO rv_id (device_id, _topic, _partition, _offset) SELECT 'old', 'rid', 0, g FROM generate_series(0, 4) g
	; INSERT INTO rv_id (device_id, tag) VALUES ('tagged', 1)"
printf '%s\n' '{"device_id":"a"}' '{"device_id":"b"}' '{"device_id":"c"}' '{"device_id":"d"}' '{"device_id":"e"}' \
	'{"device_id":"f"}' '{"device_id":"g","tag":1}' '{"device_id":"h"}' '{"device_id":"i"}' '{"device_id":"j"}' |
	"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic rid --stdin 2>/dev/null
se_psql pg1 -c "SELECT streamext.create_source('rv_id', '$SE_BOOTSTRAP', 'rid', 'rv_id')"
se_wait_for pg1 30 "SELECT next_offset = 10 FROM streamext.source_offsets WHERE source = 'rv_id'" || se_die "rv_id not consumed"
se_assert_eq "position duplicates skipped" "old,old,old,old,old,f,h,i,j" "$(se_psql pg1 -c "SELECT string_agg(device_id, ',' ORDER BY _offset) FROM rv_id WHERE _offset IS NOT NULL")"
se_assert_eq "other unique violation is a dead letter" "6" "$(se_psql pg1 -c "SELECT string_agg(\"offset\"::text, ',') FROM streamext.dead_letters WHERE source = 'rv_id'")"

# S3-4: static membership would fence all but one worker.
out=$(se_psql pg1 -c "SELECT streamext.create_source('rv_gi', '$SE_BOOTSTRAP', 'rid', 'rv_id', options => '{\"kafka\": {\"group.instance.id\": \"x\"}}')" 2>&1) && se_die "group.instance.id accepted"
grep -q 'kafka property "group.instance.id" is set by streamext' <<<"$out" || se_die "unexpected: $out"

# S4: id and generation are not writable by roles.
out=$(as rv_bob -c "INSERT INTO streamext.sources (id, name, brokers, topic, target) VALUES (1000, 'rv_x', 'b', 't', 'rv_t')" 2>&1) && se_die "explicit id accepted"
grep -q "permission denied" <<<"$out" || se_die "unexpected: $out"
out=$(as rv_bob -c "UPDATE streamext.sources SET generation = 100 WHERE name = 'rv'" 2>&1) && se_die "generation writable"
grep -q "permission denied" <<<"$out" || se_die "unexpected: $out"
as rv_bob -c "SELECT streamext.pause_source('rv')" -c "SELECT streamext.alter_source('rv', '{\"batch_max_ms\": 200}')" -c "SELECT streamext.drop_source('rv')"
for prop in sasl.oauthbearer.assertion.private.key.file sasl.oauthbearer.token.endpoint.url; do
	out=$(as rv_bob -c "SELECT streamext.create_source('rv_p', '$SE_BOOTSTRAP', 'rid', 'rv_t', options => '{\"kafka\": {\"$prop\": \"/etc/passwd\"}}')" 2>&1) && se_die "$prop accepted"
	grep -qE "only superusers may set kafka property|invalid kafka property" <<<"$out" || se_die "unexpected: $out"
done
