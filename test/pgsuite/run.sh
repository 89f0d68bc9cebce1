#!/usr/bin/env bash
# test/pgsuite/run.sh — `make check-pgsuite`: PostgreSQL's own regression suite on
# versioned_columnar, compared run against run with heap.
#
# Gets the suite of the installed server from Debian's source package (source.sh), builds
# its C test modules against the installed headers, and runs the whole parallel schedule
# twice on throwaway clusters with streamext preloaded and installed in the suite's
# database: once as it is (heap), once with default_table_access_method =
# versioned_columnar on that database.  A watchdog turns any statement that runs longer
# than SE_PGSUITE_STMT_TIMEOUT seconds into a recorded HANG and gets the run going again.
# compare.py then diffs the two runs' outputs per test against the checked-in list of
# expected differences (test/pgsuite/expected-diffs/); crashes, hangs, internal errors
# and any other difference fail.  Ends with "N passed, N failed".
#
#   SE_PGSUITE_CACHE         where the source package is unpacked and kept
#                            (default /var/cache/streamext-pgsuite)
#   SE_PGSUITE_STMT_TIMEOUT  seconds a statement may run (default 60)
#   SE_PGSUITE_RUN_TIMEOUT   seconds one whole pg_regress run may take (default 3600)
#   SE_PGSUITE_TESTS         run these tests (space-separated, in schedule order) instead
#                            of the whole schedule; for debugging
#   SE_PGSUITE_ACCEPT=1      write the differences found into test/pgsuite/expected-diffs/
#                            as new entries to review (each still needs its reason)
#   SE_KEEP=1                keep the work folder (default: removed when everything passed)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/test/pgsuite
. "$ROOT/test/lib.sh"
. "$HERE/source.sh"

STMT_TIMEOUT=${SE_PGSUITE_STMT_TIMEOUT:-60}
started=$(date +%s)

se_install_deps
se_ensure_user
suite_src=$(pgs_fetch_suite "${SE_PGSUITE_CACHE:-/var/cache/streamext-pgsuite}") || exit 1
se_prepare_work "$(mktemp -d "${SE_TMPDIR:-/tmp}/streamext-pgsuite.XXXXXX")"
se_log "work folder: $SE_WORK; suite: $suite_src ($(cat "$suite_src/.source-version" 2>/dev/null))"
se_build_install "$ROOT"

# --- the suite and its test modules --------------------------------------------
SUITE=$SE_WORK/suite
mkdir -p "$SUITE/modules"
cp -r "$suite_src/src/test/regress/sql" "$suite_src/src/test/regress/expected" \
	"$suite_src/src/test/regress/data" "$suite_src/src/test/regress/parallel_schedule" \
	"$suite_src/src/test/regress/resultmap" "$SUITE/"
cp "$suite_src/src/test/regress/regress.c" "$suite_src/contrib/spi/refint.c" \
	"$suite_src/contrib/spi/autoinc.c" "$SUITE/modules/"
# The schedule's C functions: regress.so (the suite's own) and contrib/spi's refint and
# autoinc, built with PGXS against the installed server headers.
cat >"$SUITE/modules/Makefile" <<'MK'
MODULES = regress refint autoinc
PG_CONFIG = pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
MK
make -C "$SUITE/modules" -s >"$SE_WORK/modules.log" 2>&1 ||
	{ cat "$SE_WORK/modules.log"; se_die "building the suite's test modules failed"; }

if [ -n "${SE_PGSUITE_TESTS:-}" ]; then
	schedule=$SUITE/schedule.selected
	for t in $SE_PGSUITE_TESTS; do echo "test: $t"; done >"$schedule"
else
	schedule=$SUITE/parallel_schedule
fi

# pg_regress runs every test's psql through this launcher: it names the session after
# the test (PostgreSQL 15's pg_regress calls them all "pg_regress"), so the server log
# and the watchdog can tell which test a statement belongs to; and it waits (up to a
# minute) until the server accepts connections, so that the tests after a crash run on
# the restarted server instead of failing while it recovers.
cat >"$SUITE/launch.sh" <<SH
#!/bin/sh
in=\$(readlink /proc/\$\$/fd/0 2>/dev/null)
case \$in in
*.sql) t=\${in##*/}; PGAPPNAME="pg_regress/\${t%.sql}"; export PGAPPNAME ;;
esac
i=0
until "$SE_BINDIR/pg_isready" -q -d postgres; do
	i=\$((i + 1)); [ \$i -ge 120 ] && break; sleep 0.5
done
exec "\$@"
SH
chmod 755 "$SUITE/launch.sh"
chmod -R a+rX "$SUITE"
[ "$(id -u)" = 0 ] && chown -R "$SE_USER" "$SUITE"

# --- one run of the schedule -----------------------------------------------------
# Everything run as the test role reads the rig from the work folder's copy.
LIB=$SE_WORK/src/test/lib.sh

# pgs_run NAME AM: run the schedule on a fresh cluster; results in $SE_WORK/NAME.
pgs_run() {
	local name=$1 am=$2 out=$SE_WORK/$1 wd rc t0
	mkdir -p "$out"
	[ "$(id -u)" = 0 ] && chown "$SE_USER" "$out"
	t0=$(date +%s)
	# The settings pg_regress gives its own temporary instances, plus a log that names
	# each message's SQLSTATE and test.
	se_as_user bash -c '. "$1"; se_pg_init "$2" \
		"shared_preload_libraries = '\''streamext'\''" \
		"max_prepared_transactions = 2" "log_autovacuum_min_duration = 0" \
		"log_lock_waits = on" "log_temp_files = 128kB" "max_connections = 100" \
		"log_line_prefix = '\''%m [%p] %e %q%a: '\''" "log_min_messages = warning" \
		"restart_after_crash = on" "log_connections = on" "datestyle = '\''Postgres, MDY'\''" && se_pg_start "$2"' \
		_ "$LIB" "$name" || se_die "cannot start cluster $name"
	# The suite's database, made as pg_regress makes it (--no-locale, UTF8), with the
	# extension installed and, for the columnar run, versioned_columnar as the default
	# access method of that database only (the extension's own tables stay heap).
	local db_setup="CREATE DATABASE regression TEMPLATE=template0 ENCODING='UTF8' LC_COLLATE='C' LC_CTYPE='C';"
	local s
	for s in "lc_messages TO 'C'" "lc_monetary TO 'C'" "lc_numeric TO 'C'" "lc_time TO 'C'" \
		"bytea_output TO 'hex'" "timezone_abbreviations TO 'Default'"; do
		db_setup+="ALTER DATABASE regression SET $s;"
	done
	se_as_user bash -c '. "$1"; se_psql "$2" <<<"$3" && SE_DB=regression se_psql "$2" -c "CREATE EXTENSION streamext"' \
		_ "$LIB" "$name" "$db_setup" || se_die "cannot create the suite's database on $name"
	if [ "$am" != heap ]; then
		se_as_user bash -c '. "$1"; SE_DB=regression se_psql "$2" -c "ALTER DATABASE regression SET default_table_access_method = $3"' \
			_ "$LIB" "$name" "$am" || se_die "cannot set the access method on $name"
	fi
	: >"$out/hangs.tsv"
	: >"$out/killed.pids"
	[ "$(id -u)" = 0 ] && chown "$SE_USER" "$out/hangs.tsv" "$out/killed.pids"
	se_as_user bash -c '. "$1"; . "$2"; STMT_TIMEOUT=$3; SE_WORK=$4; pgs_watchdog "$5" "$6"' \
		_ "$LIB" "$SE_WORK/src/test/pgsuite/watchdog.sh" "$STMT_TIMEOUT" "$SE_WORK" "$name" "$out" &
	wd=$!
	se_log "run $name ($am): pg_regress on port $(se_pg_port "$name")"
	(cd "$out" && se_as_user timeout -k 30 "${SE_PGSUITE_RUN_TIMEOUT:-3600}" "$SE_PG_REGRESS" \
		--bindir="$SE_BINDIR" --launcher="$SUITE/launch.sh" \
		--host="$SE_WORK/pg" --port="$(se_pg_port "$name")" --user=postgres --use-existing \
		--inputdir="$SUITE" --outputdir="$out" --dlpath="$SUITE/modules" \
		--max-concurrent-tests=20 --schedule="$schedule") >"$out/pg_regress.out" 2>&1
	rc=$?
	kill "$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	se_as_user bash -c '. "$1"; se_pg_stop "$2" fast || se_pg_stop "$2" immediate' _ "$LIB" "$name" >/dev/null 2>&1
	cp "$(se_pg_dir "$name").log" "$out/server.log"
	echo "$rc" >"$out/pg_regress.rc"
	se_log "run $name ($am): pg_regress exit $rc after $(($(date +%s) - t0)) s; $(grep -c . "$out/hangs.tsv") hang(s)"
}

trap 'se_sweep "$SE_WORK"' EXIT
pgs_run heap heap
pgs_run columnar versioned_columnar

# --- compare -----------------------------------------------------------------
accept=()
[ -n "${SE_PGSUITE_ACCEPT:-}" ] && accept=(--accept)
python3 "$HERE/compare.py" --heap "$SE_WORK/heap" --columnar "$SE_WORK/columnar" \
	--schedule "$schedule" --expected "$HERE/expected-diffs" --summary "$SE_WORK/summary.txt" \
	--elapsed "$(($(date +%s) - started))" "${accept[@]}"
rc=$?
if ((rc)) || [ -n "${SE_KEEP:-}" ]; then
	echo "work folder kept: $SE_WORK"
else
	trap - EXIT
	se_sweep "$SE_WORK"
	rm -rf "$SE_WORK"
fi
exit $rc
