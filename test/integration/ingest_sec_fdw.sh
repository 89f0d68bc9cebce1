#!/usr/bin/env bash
# Issue 10, item 1: a target with a foreign partition (postgres_fdw, a loopback server to the same
# cluster).  Rows routed to it go through the FDW, as with COPY; a row the remote table refuses is a
# dead letter with the remote error; the server never crashes (it used to die with signal 11 in
# table_tuple_insert on the foreign partition and restart in a loop).
. "$SE_LIB"; se_test_begin
se_pg_start pg1
port=$(se_pg_port pg1)
se_psql pg1 -c "CREATE EXTENSION streamext" -c "CREATE EXTENSION postgres_fdw"
se_broker_start --brokers 1 --topic fdw:1
se_psql pg1 <<SQL
CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '$SE_WORK/pg', port '$port', dbname 'postgres');
CREATE USER MAPPING FOR postgres SERVER loopback OPTIONS (user 'postgres');
-- the table behind the foreign partition; it refuses negative seq
CREATE TABLE remote_rows (device_id text, seq bigint CHECK (seq >= 0));
CREATE TABLE readings (device_id text, seq bigint) PARTITION BY LIST (device_id);
CREATE TABLE readings_local PARTITION OF readings FOR VALUES IN ('local');
CREATE FOREIGN TABLE readings_remote PARTITION OF readings FOR VALUES IN ('remote')
	SERVER loopback OPTIONS (table_name 'remote_rows');
SQL
{
	for i in $(seq 1 20); do
		echo "{\"device_id\": \"local\", \"seq\": $i}"
		echo "{\"device_id\": \"remote\", \"seq\": $i}"
	done
	echo '{"device_id": "remote", "seq": -1}'
} | "$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic fdw --stdin 2>/dev/null
se_psql pg1 -c "SELECT streamext.create_source('fdw', '$SE_BOOTSTRAP', 'fdw', 'readings')"
se_wait_for pg1 60 "SELECT rows + dead_letters = 41 FROM streamext.source_status WHERE source = 'fdw'" ||
	se_die "not all messages handled: $(se_psql pg1 -c "SELECT * FROM streamext.source_status")"
se_assert_eq "local rows" 20 "$(se_psql pg1 -c "SELECT count(*) FROM readings_local")"
se_assert_eq "rows in the remote table" 20 "$(se_psql pg1 -c "SELECT count(*) FROM remote_rows")"
se_assert_eq "rows through the partitioned table" 40 "$(se_psql pg1 -c "SELECT count(*) FROM readings")"
se_assert_eq "dead letter of the refused remote row" 1 \
	"$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE source = 'fdw' AND error LIKE '%remote_rows_seq_check%'")"
se_assert_eq "state" running "$(se_psql pg1 -c "SELECT state FROM streamext.source_status WHERE source = 'fdw'")"

# An FDW that cannot take routed rows (file_fdw): a clear error, the source stops, no crash.
se_psql pg1 <<'SQL'
CREATE EXTENSION file_fdw;
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE readings_file PARTITION OF readings FOR VALUES IN ('file')
	SERVER files OPTIONS (filename '/dev/null');
SQL
echo '{"device_id": "file", "seq": 1}' | "$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic fdw --stdin 2>/dev/null
se_wait_for pg1 60 "SELECT state = 'error' AND last_error LIKE '%foreign table%' FROM streamext.source_status WHERE source = 'fdw'" ||
	se_die "file_fdw partition: $(se_psql pg1 -c "SELECT * FROM streamext.source_status")"
se_log "ok: $(se_psql pg1 -c "SELECT last_error FROM streamext.source_status WHERE source = 'fdw'")"
if grep -qE "terminated by signal|server process .* was terminated" "$(se_pg_dir pg1).log"; then
	grep -E "terminated by signal" "$(se_pg_dir pg1).log" >&2
	se_die "a server process crashed"
fi
se_log "ok: no server process crashed"
se_psql pg1 -c "SELECT streamext.drop_source('fdw')"
