#!/usr/bin/env bash
# The SQL examples of docs/gold-tables.md (all of them, top to bottom, in one session) and of
# the seed's example in docs/pipelines.md (steps 1 to 8, in one session, pg_cron included) run
# as the pages show and print every output line the pages claim, and exactly the errors they
# show (test/tools/se-doc-examples.py).
. "$SE_LIB"; se_test_begin
se_pg_start pg1
doc() { python3 "$SE_SRC/test/tools/se-doc-examples.py" "$@"; }

run_page() { # NAME DATABASE PAGE [HEADING]: run the page's examples in DATABASE, check them
	local name=$1 db=$2; shift 2
	doc extract "$@" >"$SE_WORK/$name.sql"
	SE_DB=$db se_psql pg1 -A -t -P format=aligned -P tuples_only=off -v ON_ERROR_STOP=0 \
		-f "$SE_WORK/$name.sql" >"$SE_WORK/$name.out" 2>&1 || true
	if doc check "$@" <"$SE_WORK/$name.out" >"$SE_WORK/$name.check"; then
		se_log "ok: $name: $(tail -1 "$SE_WORK/$name.check")"
	else
		cat "$SE_WORK/$name.check" >&2
		se_die "$name: the page's examples do not print what it says (output: $SE_WORK/$name.out)"
	fi
}

se_psql pg1 -c "CREATE DATABASE gold_docs"
run_page gold-tables gold_docs "$SE_SRC/docs/gold-tables.md"

# the seed's example: "after CREATE EXTENSION streamext and SET timezone = 'UTC'", step 7 in
# pg_cron's cron.database_name (postgres here)
se_psql pg1 -c "CREATE EXTENSION streamext" -c "ALTER DATABASE postgres SET timezone = 'UTC'"
run_page pipelines postgres "$SE_SRC/docs/pipelines.md" "## The seed's example, step by step"
