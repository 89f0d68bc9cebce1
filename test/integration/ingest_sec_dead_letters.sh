#!/usr/bin/env bash
# Issue 10, item 3: dead letters belong to the source's immutable id and owner.  After the victim
# drops its source, another role that renames an older source of its own to the victim's name, or
# creates a source of that name in a transaction that started before the drop (so that its
# created_at is older than the dead letters), must neither read nor delete the victim's payloads.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic dl:1 --topic dl_b:1
se_psql pg1 <<'SQL'
CREATE ROLE dl_victim LOGIN;
CREATE ROLE dl_thief LOGIN;
CREATE TABLE dl_v (device_id text NOT NULL, seq bigint);
CREATE TABLE dl_th (device_id text, seq bigint);
GRANT INSERT ON dl_v TO dl_victim;
GRANT INSERT ON dl_th TO dl_thief;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }

# The thief's sources exist before the victim's dead letters: one to rename later...
as dl_thief -c "SELECT streamext.create_source('thief_early', '$SE_BOOTSTRAP', 'dl_b', 'dl_th')"
# ...and a session whose transaction starts now, to create a source of the victim's name later.
mkfifo "$SE_WORK/thief.in"
se_psql pg1 <"$SE_WORK/thief.in" >"$SE_WORK/thief.out" 2>&1 &
SE_PIDS+=($!)
thief_pid=$!
exec {THIEF}>"$SE_WORK/thief.in"
echo "SET ROLE dl_thief; BEGIN; SELECT 'started ' || (now() < clock_timestamp() + interval '1 hour');" >&$THIEF
for _ in $(seq 1 100); do grep -q "started true" "$SE_WORK/thief.out" && break; sleep 0.1; done
grep -q "started true" "$SE_WORK/thief.out" || se_die "thief session: $(cat "$SE_WORK/thief.out")"

# The victim's secret payloads become dead letters (device_id is NOT NULL).
as dl_victim -c "SELECT streamext.create_source('victim', '$SE_BOOTSTRAP', 'dl', 'dl_v')"
printf '%s\n' '{"seq": 1, "card": "4111-secret"}' '{"seq": 2, "card": "4222-secret"}' '{"device_id": "ok", "seq": 3}' |
	"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic dl --stdin 2>/dev/null
se_wait_for pg1 60 "SELECT rows = 1 AND dead_letters = 2 FROM streamext.source_status WHERE source = 'victim'" ||
	se_die "no dead letters: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_assert_eq "the victim reads its dead letters" 2 "$(as dl_victim -c "SELECT count(*) FROM streamext.dead_letters WHERE convert_from(payload, 'UTF8') LIKE '%secret%'")"
victim_id=$(se_psql pg1 -c "SELECT id FROM streamext.sources WHERE name = 'victim'")
se_assert_eq "the thief does not" 0 "$(as dl_thief -c "SELECT count(*) FROM streamext.dead_letters")"
out=$(as dl_thief -c "INSERT INTO streamext.dead_letters (source, error, source_id, owner) VALUES ('thief_early', 'x', (SELECT max(id) FROM streamext.sources), 'dl_victim')" 2>&1) &&
	se_die "the thief chose a dead letter's source_id: $out"
se_log "ok: source_id and owner are not the inserter's to choose: $(grep -m1 ERROR <<<"$out")"
as dl_victim -c "SELECT streamext.drop_source('victim')"

# Attack 1: rename the early source to the victim's name.
as dl_thief -c "UPDATE streamext.sources SET name = 'victim' WHERE name = 'thief_early'"
se_assert_eq "dead letters visible after a rename" 0 "$(as dl_thief -c "SELECT count(*) FROM streamext.dead_letters")"
se_assert_eq "dead letters deleted after a rename" 0 "$(as dl_thief -c "WITH d AS (DELETE FROM streamext.dead_letters RETURNING 1) SELECT count(*) FROM d")"
se_assert_eq "dead_letters in source_status after a rename" 0 "$(as dl_thief -c "SELECT dead_letters FROM streamext.source_status WHERE source = 'victim'")"
as dl_thief -c "SELECT streamext.drop_source('victim')"

# Attack 2: create the victim's name in the transaction that began before the dead letters.
cat >&$THIEF <<SQL
SELECT streamext.create_source('victim', '$SE_BOOTSTRAP', 'dl_b', 'dl_th');
SELECT 'visible ' || count(*) FROM streamext.dead_letters;
WITH d AS (DELETE FROM streamext.dead_letters RETURNING 1) SELECT 'deleted ' || count(*) FROM d;
COMMIT;
SQL
exec {THIEF}>&-
wait "$thief_pid" || true
grep -q "visible 0" "$SE_WORK/thief.out" || se_die "old transaction: $(cat "$SE_WORK/thief.out")"
grep -q "deleted 0" "$SE_WORK/thief.out" || se_die "old transaction: $(cat "$SE_WORK/thief.out")"
se_log "ok: a source created in an old transaction sees none of them"
se_assert_eq "the victim's dead letters are intact (superuser)" 2 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE owner = 'dl_victim'::regrole")"
se_assert_eq "the victim, its source dropped, sees none either" 0 "$(as dl_victim -c "SELECT count(*) FROM streamext.dead_letters")"
se_assert_eq "id and owner recorded" "t" "$(se_psql pg1 -c "SELECT bool_and(d.source_id = $victim_id AND d.owner = 'dl_victim'::regrole) FROM streamext.dead_letters d WHERE convert_from(payload, 'UTF8') LIKE '%secret%'")"
