#!/usr/bin/env bash
# Issue 3, test 6 (merge_schema part): new top-level JSON keys add typed columns in their own
# transaction, then the batch lands; every message is a row once, old rows get NULL in new columns.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic evolve:1
se_psql pg1 -c "CREATE TABLE evolve (id bigint, _offset bigint)"
se_psql pg1 -c "SELECT streamext.create_source('evolve_src', '$SE_BOOTSTRAP', 'evolve', 'evolve',
	options => '{\"merge_schema\": true, \"batch_max_messages\": 3}')"
printf '%s\n' '{"id": 1}' '{"id": 2, "speed": 1.5}' '{"id": 3, "speed": 2, "on": true}' \
	'{"id": 4, "seen": "2026-01-01T00:00:00Z", "tags": ["a"], "note": "x"}' '{"id": 5}' '{"id": 6, "big": 12}' \
	'{"id": "seven"}' |
	"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic evolve --partition 0 --stdin 2>/dev/null
se_wait_for pg1 60 "SELECT (SELECT count(*) FROM evolve) + (SELECT count(*) FROM streamext.dead_letters) = 7" ||
	se_die "rows: $(se_psql pg1 -c 'SELECT count(*) FROM evolve'), status: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_assert_eq "columns" "id bigint,_offset bigint,speed double precision,on boolean,seen timestamp with time zone,tags jsonb,note text,big bigint" \
	"$(se_psql pg1 -c "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'evolve'::regclass AND attnum > 0 AND NOT attisdropped")"
se_assert_eq "rows" "1|||||||0
2|1.5||||||1
3|2|t|||||2
4|||2026-01-01 00:00:00+00|[\"a\"]|x||3
5|||||||4
6||||||12|5" "$(se_psql pg1 -c "SET timezone = UTC" -c "SELECT id, speed, \"on\", seen, tags, note, big, _offset FROM evolve ORDER BY id")"
se_assert_eq "dead letter for the wrongly typed id" 1 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE \"offset\" = 6 AND error LIKE '%bigint%'")"
