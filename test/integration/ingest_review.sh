#!/usr/bin/env bash
# Regression checks for the review of the ingestion (/work/review-ingest.md): planted operators are
# never run by the catalog functions (S2-2); the csv/text options null, columns and column are
# accepted (S1-5).
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic rv:1 --topic rcsv:1 --topic rtxt:1
se_psql pg1 <<'SQL'
CREATE ROLE rv_bob LOGIN;
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
