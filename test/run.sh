#!/usr/bin/env bash
# test/run.sh — the README's test command (`make test`).
#
# Installs missing Debian packages, builds the extension and the test tools, installs
# them into a private copy of PostgreSQL, runs pg_regress over sql/ and every
# integration test in test/integration/ (each in a fresh work folder, with a time
# limit; SE_JOBS of them at a time), sweeps up anything a test left running, and ends
# with "N passed, N failed".
#
#   SE_ONLY=regex     run only the pg_regress and integration tests whose name matches
#   SE_KEEP=1         keep the work folder (default: removed when everything passed)
#   SE_TEST_TIMEOUT   seconds per integration test (default 900)
#   SE_TMPDIR         where the work folder is made (default /tmp)
#   SE_JOBS           how many tests (pg_regress counts as one) run at a time (default 2)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/test/lib.sh"

se_install_deps
se_ensure_user
se_prepare_work "$(mktemp -d "${SE_TMPDIR:-/tmp}/streamext-test.XXXXXX")"
se_log "work folder: $SE_WORK"
se_build_install "$ROOT"
# One initdb for every test cluster: se_pg_init copies it (see there).
SE_PG_TEMPLATE=$SE_WORK/pg-template
se_as_user bash -c '. "$1"; se_pg_initdb "$2"' _ "$SE_WORK/src/test/lib.sh" "$SE_PG_TEMPLATE" >"$SE_WORK/pg-template.log" 2>&1 ||
	{ cat "$SE_WORK/pg-template.log"; se_die "initdb of the template cluster failed"; }

only=${SE_ONLY:-.}
passed=0
failed=0
failures=()

# --- the tests ---------------------------------------------------------------
# pg_regress (one job: its tests share one server and run in order) and every integration test
# are jobs; SE_JOBS of them run at a time (default 2).  Each job has its own work folder, its
# own servers on ports the kernel handed out (se_free_port) and its own broker, and the sweep
# after a job stops only what lives in that job's folder, so jobs cannot see each other.
# Results are printed as jobs finish.
jobs_max=${SE_JOBS:-2}
[[ $jobs_max =~ ^[1-9][0-9]*$ ]] || se_die "SE_JOBS must be a positive number, not '$jobs_max'"

regress_tests=()
for f in "$ROOT"/sql/*.sql; do
	t=$(basename "$f" .sql)
	[[ $t =~ $only ]] && regress_tests+=("$t")
done
rdir=$SE_WORK/regress

# regress_run: run pg_regress over the chosen tests (a job, in the background).
regress_run() {
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
	se_sweep "$rdir"
}

# regress_report: count pg_regress's results (in this shell, once the job has finished).
regress_report() {
	local line name t
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
}

# it_run NAME: run one integration test in a fresh folder, with a time limit (a job).
it_run() {
	local t=$1 f=$SE_WORK/src/test/integration/$1.sh tdir=$SE_WORK/it/$1 start rc
	mkdir -p "$tdir"
	[ "$(id -u)" = 0 ] && chown "$SE_USER" "$tdir" "$SE_WORK/it"
	se_log "integration: $t"
	start=$(date +%s)
	(cd "$tdir" && se_as_user env SE_WORK="$tdir" SE_INST="$SE_INST" SE_BINDIR="$SE_BINDIR" \
		SE_TOOLS="$SE_TOOLS" SE_LIB="$SE_WORK/src/test/lib.sh" SE_SRC="$SE_WORK/src" SE_PG_TEMPLATE="$SE_PG_TEMPLATE" \
		timeout -k 15 "${SE_TEST_TIMEOUT:-900}" setsid bash "$f") >"$tdir/output.log" 2>&1
	rc=$?
	se_sweep "$tdir"
	echo "$rc $(($(date +%s) - start))" >"$SE_WORK/it/$t.result"
}

# it_report NAME: count and print the result of a finished integration test.
it_report() {
	local t=$1 rc=1 secs=0
	read -r rc secs <"$SE_WORK/it/$t.result" || true
	if [ "$rc" = 0 ]; then
		((passed++))
		printf 'integration %-40s ... ok   %ds\n' "$t" "$secs"
	else
		((failed++))
		failures+=("integration:$t")
		printf 'integration %-40s ... FAILED (exit %d) %ds\n' "$t" "$rc" "$secs"
		tail -n 60 "$SE_WORK/it/$t/output.log" | sed 's/^/    | /'
	fi
}

# The longest jobs start first (each about a minute or more), so that the run does not end with
# one of them running alone.  This is only the order: every test runs either way.
long_first="columnar_vacuum_cron pipeline_exactly_once ingest_crash ingest_kafka_stop pipeline_worker
	ingest_fencing ingest_review pipeline_e2e columnar_vagg_random"
queue=()
((${#regress_tests[@]})) && queue+=(regress)
declare -A queued=()
for t in $long_first; do
	[ -e "$SE_WORK/src/test/integration/$t.sh" ] && [[ $t =~ $only ]] && { queue+=("it:$t"); queued[$t]=1; }
done
for f in "$SE_WORK"/src/test/integration/*.sh; do
	[ -e "$f" ] || continue
	t=$(basename "$f" .sh)
	[[ $t =~ $only ]] && [ -z "${queued[$t]:-}" ] && queue+=("it:$t")
done
mkdir -p "$SE_WORK/it"
declare -A running=()   # pid of a job -> its name
# Interrupted: stop the jobs' tests (they run in sessions of their own) and their servers.
trap 'trap - INT TERM; for p in "${!running[@]}"; do pkill -TERM -P "$p"; done; se_sweep "$SE_WORK"; exit 130' INT TERM
tests_start=$(date +%s)
next=0
while ((next < ${#queue[@]} || ${#running[@]})); do
	while ((next < ${#queue[@]} && ${#running[@]} < jobs_max)); do
		case ${queue[next]} in
		regress) regress_run & ;;
		it:*) it_run "${queue[next]#it:}" & ;;
		esac
		running[$!]=${queue[next]}
		next=$((next + 1))
	done
	done_pid=
	wait -n -p done_pid "${!running[@]}"
	if [ -z "$done_pid" ]; then
		# wait reported no job (should not happen): a job whose process is gone has finished
		for p in "${!running[@]}"; do kill -0 "$p" 2>/dev/null || { done_pid=$p; break; }; done
		[ -n "$done_pid" ] || { sleep 0.2; continue; }
	fi
	[ -n "${running[$done_pid]:-}" ] || continue
	job=${running[$done_pid]}
	unset "running[$done_pid]"
	case $job in
	regress) regress_report ;;
	it:*) it_report "${job#it:}" ;;
	esac
done
trap - INT TERM
se_log "tests took $(($(date +%s) - tests_start)) s ($jobs_max at a time)"

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
