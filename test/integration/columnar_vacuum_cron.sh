#!/usr/bin/env bash
# Real pg_cron jobs run streamext.optimize and streamext.vacuum on a gold table every minute
# while a client commits micro-batches (each inserts 100 rows, a small segment, and deletes
# the batch from three batches before, as a retention policy would).  The server preloads pg_cron and streamext,
# cron.database_name is the database of the table, and pg_cron connects over the Unix socket
# (cron.host = the socket directory), as docs/gold-tables.md shows.  Waits until the job has
# succeeded, an optimize has rewritten segments and a vacuum after it has removed them (the two
# jobs start in the same minute; their ShareUpdateExclusiveLock on the table makes one wait
# for the other), then checks: no failed run, the rows are exactly the writer's last three
# batches, verify passes, no segment that a version up to the oldest readable one removed is
# left, versions older than the recorded one fail, newer ones read.  (Debian 12's pg_cron is
# 1.4, whose finest schedule is one minute; '<n> seconds' schedules came with 1.5.)
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "cron.host = '$SE_WORK/pg'"
se_psql pg1 -c "CREATE EXTENSION pg_cron"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 -c "ALTER DATABASE postgres SET streamext.columnar_segment_rows = 1000"
se_psql pg1 -c "CREATE TABLE gold (batch int, id int, amount numeric) USING versioned_columnar"

touch "$SE_WORK/writing"
writer() {
	local i=0
	while [ -e "$SE_WORK/writing" ] && ((i < 20000)); do
		i=$((i + 1))
		se_psql pg1 -c "BEGIN" \
			-c "INSERT INTO gold SELECT $i, g, g / 10.0 FROM generate_series(1, 100) g" \
			-c "DELETE FROM gold WHERE batch = $((i - 3))" -c "COMMIT" || return 1
		echo "$i" >"$SE_WORK/batches"
	done
}
writer & wpid=$!
SE_PIDS+=("$wpid")

jobid=$(se_psql pg1 -c "SELECT cron.schedule('vacuum gold', '* * * * *',
	\$\$SET streamext.vacuum_retention_check = off; SELECT streamext.vacuum('gold', '1 second')\$\$)")
optid=$(se_psql pg1 -c "SELECT cron.schedule('optimize gold', '* * * * *', \$\$SELECT streamext.optimize('gold')\$\$)")
se_log "pg_cron jobs $jobid (vacuum), $optid (optimize) scheduled"
# done when a vacuum has made an OPTIMIZE version older than the oldest readable one
se_wait_for pg1 200 "SELECT (SELECT count(*) >= 2 FROM cron.job_run_details WHERE jobid = $jobid AND status = 'succeeded')
	AND EXISTS (SELECT 1 FROM streamext.history('gold') h, streamext.columnar_vacuumed v
	            WHERE h.operation = 'OPTIMIZE' AND h.version < v.readable_from
	            AND (h.parameters->>'segments_removed')::int > 0)" ||
	se_die "the jobs did not run: $(se_psql pg1 -c "SELECT jobid, status, return_message FROM cron.job_run_details")"
rm "$SE_WORK/writing"
wait "$wpid" || se_die "the writer failed"
n=$(cat "$SE_WORK/batches")
se_psql pg1 -c "SELECT cron.unschedule($jobid), cron.unschedule($optid)" >/dev/null
se_log "writer committed $n batches; runs: $(se_psql pg1 -c "SELECT string_agg(jobid || ':' || status, ',') FROM cron.job_run_details")"
se_log "optimizes: $(se_psql pg1 -c "SELECT string_agg(version || ':' || (parameters->>'segments_removed'), ' ')
	FROM streamext.history('gold') WHERE operation = 'OPTIMIZE'")"
se_log "vacuums: $(se_psql pg1 -c "SELECT string_agg(version || ':' || (parameters->>'segments_removed'), ' ')
	FROM streamext.history('gold') WHERE operation = 'VACUUM'")"

se_assert_eq "failed runs" "0" "$(se_psql pg1 -c "SELECT count(*) FROM cron.job_run_details WHERE status = 'failed'")"
se_assert_eq "rows = the last three batches" "$((n - 2)),$n,300" \
	"$(se_psql pg1 -c "SELECT min(batch) || ',' || max(batch) || ',' || count(*) FROM gold")"
se_psql pg1 -c "SELECT streamext.verify('gold')"
from=$(se_psql pg1 -c "SELECT readable_from FROM streamext.columnar_vacuumed")
se_log "oldest readable version: $from"
se_assert_eq "segments removed up to it, left" "0" \
	"$(se_psql pg1 -c "SELECT count(*) FROM streamext.columnar_segment WHERE removed_version <= $from")"
segs=$(se_psql pg1 -c "SELECT count(*) FROM streamext.columnar_segment")
se_log "segments left: $segs of $n written"
((segs < n)) || se_die "the job removed no segment"
se_assert_eq "the oldest readable version reads" "t" \
	"$(se_psql pg1 -c "SELECT (SELECT count(*) FROM streamext.as_of(NULL::gold, $from)) > 0")"
err=$(se_psql pg1 -c "SELECT count(*) FROM streamext.as_of(NULL::gold, $((from - 1)))" 2>&1 || true)
[[ $err == *"oldest readable version is $from"* ]] || se_die "as_of before the oldest readable version: $err"
