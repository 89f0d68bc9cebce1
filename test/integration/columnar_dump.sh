#!/usr/bin/env bash
# pg_dump / pg_restore of a database with versioned_columnar tables: the current state, the
# access method and the indexes come back; the history restarts at version 1 (the load).
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 <<'SQL'
CREATE TABLE gold (ts timestamptz, device text, qty int, amount numeric(12,2), doc jsonb, tags text[])
	USING versioned_columnar;
CREATE INDEX gold_device ON gold (device);
INSERT INTO gold SELECT '2024-01-01'::timestamptz + g * interval '1 minute', 'dev-' || (g % 50), g,
	g / 3.0, jsonb_build_object('g', g), ARRAY[g::text] FROM generate_series(1, 30000) g;
DELETE FROM gold WHERE qty % 10 = 0;
UPDATE gold SET amount = 0 WHERE qty % 7 = 0;
INSERT INTO gold VALUES (NULL, NULL, NULL, NULL, NULL, NULL);
SQL
"$SE_BINDIR/pg_dump" -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -Fc -f "$SE_WORK/gold.dump" postgres
se_psql pg1 -c "CREATE DATABASE copy"
"$SE_BINDIR/pg_restore" -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -d copy "$SE_WORK/gold.dump"

q="SELECT md5(string_agg(g::text, '|' ORDER BY qty NULLS FIRST)) FROM gold g"
se_assert_eq "contents after restore" "$(se_psql pg1 -c "$q")" "$(SE_DB=copy se_psql pg1 -c "$q")"
se_assert_eq "access method" "versioned_columnar" "$(SE_DB=copy se_psql pg1 -c "
	SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE relname = 'gold'")"
se_assert_eq "history restarts with the load" "1 WRITE" "$(SE_DB=copy se_psql pg1 -F ' ' -c "
	SELECT version, operation FROM streamext.history('gold')")"
se_assert_eq "index restored" "600" "$(SE_DB=copy se_psql pg1 -c "
	SET enable_seqscan = off; SELECT count(*) FROM gold WHERE device = 'dev-7'")"
SE_DB=copy se_psql pg1 -c "SELECT streamext.verify('gold')"
