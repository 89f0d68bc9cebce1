# test/pgsuite/watchdog.sh — the statement watchdog of test/pgsuite/run.sh.
#
# Sourced (after test/lib.sh) by a shell running as the test role next to pg_regress.
# A statement that runs longer than STMT_TIMEOUT seconds is a HANG: the watchdog records
# it once (test, pid, statement) and then gets the run going again: cancel, then
# terminate, then SIGKILL of that backend (the postmaster then restarts the cluster;
# the killed pid is recorded so that the crash it causes is not counted as a crash).

# pgs_watchdog NAME OUTDIR: watch cluster NAME until killed or the cluster stops.
pgs_watchdog() {
	local name=$1 out=$2 dir line pid app qs query now
	dir=$(se_pg_dir "$name")
	declare -A seen=()
	while sleep 3; do
		now=$(date +%s)
		while IFS=$'\x1f' read -r pid app qs query; do
			[ -n "$pid" ] || continue
			local key="$pid/$qs"
			if [ -z "${seen[$key]:-}" ]; then
				seen[$key]=$now
				printf 'HANG\t%s\t%s\t%s\n' "${app#pg_regress/}" "$pid" "$query" >>"$out/hangs.tsv"
				se_psql "$name" -c "SELECT pg_cancel_backend($pid)" >/dev/null 2>&1
			elif ((now - seen[$key] >= 20)); then
				echo "$pid" >>"$out/killed.pids"
				kill -KILL "$pid" 2>/dev/null
			elif ((now - seen[$key] >= 10)); then
				se_psql "$name" -c "SELECT pg_terminate_backend($pid)" >/dev/null 2>&1
			fi
		done < <(se_psql "$name" -F $'\x1f' -c "
			SELECT pid, application_name, extract(epoch FROM query_start)::bigint,
			       regexp_replace(left(query, 2000), '\s+', ' ', 'g')
			FROM pg_catalog.pg_stat_activity
			WHERE state = 'active' AND backend_type = 'client backend'
			  AND pid <> pg_catalog.pg_backend_pid()
			  AND query_start < now() - interval '$STMT_TIMEOUT seconds'" 2>/dev/null)
		[ -f "$dir/postmaster.pid" ] || break
	done
}

