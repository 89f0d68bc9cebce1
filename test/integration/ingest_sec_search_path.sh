#!/usr/bin/env bash
# Issue 10, item 6: with a schema writable by everyone on the search_path (PostgreSQL 14's default
# for public, kept by pg_upgrade), operators planted there -- #>>(jsonb, jsonb) and ->>(jsonb, jsonb),
# exact matches for `value #>> '{}'` and `options->>'x'` -- must never run in a consumer worker (as
# the source's owner) nor in the launcher (a superuser).  Each planted function records its caller.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic sp:2
se_psql pg1 <<'SQL'
GRANT CREATE ON SCHEMA public TO PUBLIC;
CREATE ROLE sp_alice LOGIN;
CREATE ROLE sp_mallory LOGIN;
CREATE TABLE public.sp_t (device_id text NOT NULL, seq bigint);
GRANT INSERT ON public.sp_t TO sp_alice;
CREATE TABLE public.planted_calls (who name, op text, at timestamptz DEFAULT clock_timestamp());
GRANT INSERT ON public.planted_calls TO PUBLIC;
SQL
se_psql pg1 <<'SQL'
SET ROLE sp_mallory;
CREATE FUNCTION public.sp_path(a jsonb, b jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_calls (who, op) VALUES (current_user, '#>>'); RETURN NULL; END $$;
CREATE OPERATOR public.#>> (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = public.sp_path);
CREATE FUNCTION public.sp_field(a jsonb, b jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_calls (who, op) VALUES (current_user, '->>'); RETURN NULL; END $$;
CREATE OPERATOR public.->> (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = public.sp_field);
SQL
# the planted operators do catch unqualified queries of a role with public on its path
se_psql pg1 -c "SET ROLE sp_alice" -c "SELECT '{\"a\": 1}'::jsonb ->> '{}'" >/dev/null
se_assert_eq "planted operator works (control)" 1 "$(se_psql pg1 -c "SELECT count(*) FROM public.planted_calls")"
se_psql pg1 -c "TRUNCATE public.planted_calls"

# A source of alice's with every option the worker and launcher read; good and bad messages
# (offsets, dead letters), pause, resume, alter, a worker restart.
se_psql pg1 -c "SET ROLE sp_alice" -c "SELECT streamext.create_source('sp', '$SE_BOOTSTRAP', 'sp', 'sp_t',
	options => '{\"parallelism\": 2, \"batch_max_ms\": 100, \"batch_max_messages\": 500, \"max_buffered_bytes\": 8388608,
	             \"group_id\": \"sp-group\", \"kafka\": {\"client.rack\": \"r1\"}}')"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic sp --count 200 2>/dev/null
printf '%s\n' '{"seq": 1}' 'not json' | "$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic sp --stdin --partition 0 2>/dev/null
se_wait_for pg1 90 "SELECT rows = 200 AND dead_letters = 2 FROM streamext.source_status WHERE source = 'sp'" ||
	se_die "source: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_psql pg1 -c "SET ROLE sp_alice" -c "SELECT streamext.pause_source('sp')" -c "SELECT streamext.resume_source('sp')" \
	-c "SELECT streamext.alter_source('sp', '{\"batch_max_ms\": 50}')"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic sp --count 50 --seed 7 2>/dev/null
se_wait_for pg1 90 "SELECT count(*) = 250 FROM public.sp_t" || se_die "after alter: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_assert_eq "state" running "$(se_psql pg1 -c "SELECT state FROM streamext.source_status WHERE source = 'sp'")"
se_assert_eq "planted operator calls" "" "$(se_psql pg1 -c "SELECT string_agg(DISTINCT who || ' ' || op, ', ') FROM public.planted_calls")"
se_psql pg1 -c "SET ROLE sp_alice" -c "SELECT streamext.drop_source('sp')"
se_assert_eq "planted operator calls after drop" 0 "$(se_psql pg1 -c "SELECT count(*) FROM public.planted_calls")"
