#!/usr/bin/env bash
# test/run.sh — the README's test command (`make test`).
#
# Installs missing Debian packages, builds the extension and the test tools, installs
# them into a private copy of PostgreSQL, runs pg_regress over sql/ and then every
# integration test in test/integration/ (each in a fresh work folder, with a time
# limit), sweeps up anything a test left running, and ends with "N passed, N failed".
#
#   SE_ONLY=regex     run only the pg_regress and integration tests whose name matches
#   SE_KEEP=1         keep the work folder (default: removed when everything passed)
#   SE_TEST_TIMEOUT   seconds per integration test (default 900)
#   SE_TMPDIR         where the work folder is made (default /tmp)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/test/lib.sh"

se_install_deps
se_ensure_user
se_prepare_work "$(mktemp -d "${SE_TMPDIR:-/tmp}/streamext-test.XXXXXX")"
se_log "work folder: $SE_WORK"
se_build_install "$ROOT"

only=${SE_ONLY:-.}
passed=0
failed=0
failures=()

# --- pg_regress ------------------------------------------------------------
regress_tests=()
for f in "$ROOT"/sql/*.sql; do
	t=$(basename "$f" .sql)
	[[ $t =~ $only ]] && regress_tests+=("$t")
done
if ((${#regress_tests[@]})); then
	rdir=$SE_WORK/regress
	mkdir -p "$rdir"
	cp -r "$SE_WORK/src/sql" "$SE_WORK/src/expected" "$rdir/"
	cat >"$rdir/regress.conf" <<CONF
shared_preload_libraries = 'streamext,pg_cron'
cron.database_name = 'regression'
max_worker_processes = 32
max_prepared_transactions = 4
CONF
	[ "$(id -u)" = 0 ] && chown -R "$SE_USER" "$rdir"
	se_log "pg_regress: ${#regress_tests[@]} test(s)"
	(cd "$rdir" && se_as_user "$SE_PG_REGRESS" --bindir="$SE_BINDIR" \
		--temp-instance="$rdir/tmp_check" --temp-config="$rdir/regress.conf" \
		--inputdir="$rdir" --outputdir="$rdir" --load-extension=streamext \
		"${regress_tests[@]}") >"$SE_WORK/regress.out" 2>&1
	cat "$SE_WORK/regress.out"
	while read -r line; do
		name=$(sed -E 's/^(test |[[:space:]]*)([^ ]+) +\.\.\. .*/\2/' <<<"$line")
		if [[ $line =~ \.\.\.\ ok ]]; then
			((passed++))
		else
			((failed++))
			failures+=("regress:$name")
		fi
	done < <(grep -E '\.\.\. (ok|FAILED|failed)' "$SE_WORK/regress.out")
	if [ -s "$rdir/regression.diffs" ]; then
		cp "$rdir/regression.diffs" "$ROOT/regression.diffs" 2>/dev/null
		head -c 20000 "$rdir/regression.diffs"
	fi
	# pg_regress stops at a test it cannot run (a missing expected file, a
	# server that died): every test asked for must have a result line.
	declare -A reported=()
	while read -r name; do reported[$name]=1; done < <(grep -E '\.\.\. (ok|FAILED|failed)' "$SE_WORK/regress.out" |
		sed -E 's/^(test |ok [0-9]+ +[-+]? *|not ok [0-9]+ +[-+]? *|[[:space:]]*)([^ ]+) +\.\.\. .*/\2/')
	for t in "${regress_tests[@]}"; do
		if [ -z "${reported[$t]:-}" ]; then
			((failed++))
			failures+=("regress:$t(did-not-run)")
		fi
	done
	se_sweep "$rdir"
fi

# --- integration tests -----------------------------------------------------
for f in "$SE_WORK"/src/test/integration/*.sh; do
	[ -e "$f" ] || continue
	t=$(basename "$f" .sh)
	[[ $t =~ $only ]] || continue
	tdir=$SE_WORK/it/$t
	mkdir -p "$tdir"
	[ "$(id -u)" = 0 ] && chown "$SE_USER" "$tdir" "$SE_WORK/it"
	se_log "integration: $t"
	start=$(date +%s)
	(cd "$tdir" && se_as_user env SE_WORK="$tdir" SE_INST="$SE_INST" SE_BINDIR="$SE_BINDIR" \
		SE_TOOLS="$SE_TOOLS" SE_LIB="$SE_WORK/src/test/lib.sh" SE_SRC="$SE_WORK/src" \
		timeout -k 15 "${SE_TEST_TIMEOUT:-900}" setsid bash "$f") >"$tdir/output.log" 2>&1
	rc=$?
	se_sweep "$tdir"
	secs=$(($(date +%s) - start))
	if [ $rc = 0 ]; then
		((passed++))
		printf 'integration %-40s ... ok   %ds\n' "$t" "$secs"
	else
		((failed++))
		failures+=("integration:$t")
		printf 'integration %-40s ... FAILED (exit %d) %ds\n' "$t" "$rc" "$secs"
		tail -n 60 "$tdir/output.log" | sed 's/^/    | /'
	fi
done

# --- nothing may survive the tests ---------------------------------------------
se_sweep "$SE_WORK"
# Zombies are excluded: they have exited, and only wait for a parent (PID 1 here) to reap them.
# Any process of the test role counts too when this is the only run on the machine (CI, or
# SE_STRICT=1); on a shared development machine other runs use that role at the same time,
# so there only the test role's processes working in this run's folder count (servers and
# their backends work in their data folder).  user:32 — plain "user" truncates long names
# ("streame+"), which never matched SE_USER.
strict=0
[ "$(id -u)" = 0 ] && { [ -n "${CI:-}" ] || [ -n "${SE_STRICT:-}" ]; } && strict=1
ps -e -o pid=,stat=,user:32=,args= >"$SE_WORK/ps.txt"
leftovers=$(awk -v w="$SE_WORK/" -v u="$SE_USER" -v strict="$strict" -v root="$(id -u)" '
	$2 ~ /^Z/ { next }
	index($0, w) { print; next }
	root == 0 && $3 == u {
		if (strict == 1) { print; next }
		cwd = ""
		("readlink /proc/" $1 "/cwd 2>/dev/null") | getline cwd
		close("readlink /proc/" $1 "/cwd 2>/dev/null")
		if (index(cwd "/", w) == 1) print
	}' "$SE_WORK/ps.txt")
if [ -n "$leftovers" ]; then
	((failed++))
	failures+=("leftover-processes")
	echo "processes left behind by the tests:"
	echo "$leftovers"
fi

if ((failed)); then
	echo "failed: ${failures[*]}"
	echo "work folder kept: $SE_WORK"
elif [ -z "${SE_KEEP:-}" ]; then
	rm -rf "$SE_WORK"
fi
echo "$passed passed, $failed failed"
((failed == 0))
