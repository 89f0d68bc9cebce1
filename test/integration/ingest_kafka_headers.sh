#!/usr/bin/env bash
# Issue 10, item 12: Kafka headers in _headers, through a real consumer: a value that is UTF-8 text
# without NUL is a JSON string (also one that reads like bytea hex), any other value, NUL bytes
# included, is {"b64": "..."}; a header without value is null.
. "$SE_LIB"; se_test_begin
raw() { python3 "$SE_SRC/test/tools/se-kafka-raw.py" "$@"; }
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic hdr:1
# "\x0102" as text is 5c 78 30 31 30 32; a-NUL-b is 61 00 62; "ü" is c3 bc.
raw record --brokers "$SE_BOOTSTRAP" --topic hdr --payload '{"x": 1}' \
	--header text=68656c6c6f --header looks_hex=5c7830313032 --header binary=000102ff \
	--header nul=610062 --header umlaut=c3bc --header empty= --header none
se_psql pg1 -c "CREATE TABLE hdr (x int, _headers jsonb)"
se_psql pg1 -c "SELECT streamext.create_source('hdr_src', '$SE_BOOTSTRAP', 'hdr', 'hdr')"
se_wait_for pg1 60 "SELECT count(*) = 1 FROM hdr" || se_die "the message did not arrive"
se_assert_eq "_headers" t "$(se_psql pg1 -c "SELECT _headers = jsonb_build_object(
	'text', 'hello', 'looks_hex', E'\\\\x0102', 'binary', '{\"b64\": \"AAEC/w==\"}'::jsonb,
	'nul', '{\"b64\": \"YQBi\"}'::jsonb, 'umlaut', U&'\\00FC', 'empty', '', 'none', NULL) FROM hdr")"
se_log "_headers: $(se_psql pg1 -c "SELECT _headers FROM hdr")"
# The bytes come back exactly.
se_assert_eq "binary header, decoded" '\x000102ff' "$(se_psql pg1 -c "SELECT decode(_headers->'binary'->>'b64', 'base64') FROM hdr")"
se_assert_eq "text header that reads like hex" '\x0102' "$(se_psql pg1 -c "SELECT _headers->>'looks_hex' FROM hdr")"
