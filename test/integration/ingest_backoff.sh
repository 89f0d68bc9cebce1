#!/usr/bin/env bash
# Review S2-6: a worker that keeps failing is restarted with exponential backoff (1 s, 2 s, 4 s ...
# up to a minute), not every second; a source whose owner cannot log in goes to the error state
# with a clear last_error instead of a FATAL every second.  A terminated launcher comes back
# (review S2-5) and leaves exactly one worker per source.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "streamext.max_source_workers = 1"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic bo:2
log=$(se_pg_dir pg1).log
se_psql pg1 -c "CREATE ROLE bo_alice LOGIN; CREATE TABLE bo_t (device_id text, seq bigint); GRANT INSERT ON bo_t TO bo_alice"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic bo --count 20 2>/dev/null

# A worker that fails at every start: its owner has lost USAGE on the schema streamext, so the
# worker's first query fails.  (The launcher no longer starts more workers than there are slots,
# which is how this used to be provoked.)
se_psql pg1 -c "CREATE ROLE bo_carol LOGIN; GRANT INSERT ON bo_t TO bo_carol"
se_psql pg1 -c "BEGIN; SET ROLE bo_carol; SELECT streamext.create_source('bo', '$SE_BOOTSTRAP', 'bo', 'bo_t');
	RESET ROLE; REVOKE USAGE ON SCHEMA streamext FROM PUBLIC; COMMIT"
# Wait for the 4th failed start, then check the gaps between the failures in the server log: the
# launcher waits 1 s, 2 s, 4 s after the 1st, 2nd, 3rd failure before starting the worker again
# (without backoff the gaps are about 1 s each).  A loaded machine only makes the gaps longer.
fail_times() {
	grep 'permission denied for schema streamext' "$log" | head -n4 |
		awk '{ split($2, t, ":"); print t[1] * 3600 + t[2] * 60 + t[3] }'
}
for ((i = 0; i < 600; i++)); do
	[ "$(fail_times | wc -l)" -ge 4 ] && break
	sleep 0.1
done
[ "$(fail_times | wc -l)" -ge 4 ] || se_die "not 4 failed starts in 60 s: $(grep -c 'permission denied for schema streamext' "$log" || true)"
gaps=$(fail_times | awk 'NR > 1 { d = $1 - p; if (d < 0) d += 86400; printf "%s%.2f", (NR > 2 ? " " : ""), d } { p = $1 }')
se_log "gaps between the first 4 failed starts of the worker: $gaps s"
read -r g1 g2 g3 <<<"$gaps"
awk -v a="$g1" -v b="$g2" -v c="$g3" 'BEGIN { exit !(a >= 0.95 && b >= 1.95 && c >= 3.95) }' ||
	se_die "expected gaps of at least 1, 2, 4 s (backoff), got $gaps"
grep -q 'failed 3 times in a row; next start in 4 s' "$log" || se_die "no backoff log line"
se_psql pg1 -c "GRANT USAGE ON SCHEMA streamext TO PUBLIC" -c "SELECT streamext.drop_source('bo')"

# NOLOGIN owner: the source goes to the error state, with the reason.
se_psql pg1 -c "TRUNCATE bo_t"
se_psql pg1 -c "SET ROLE bo_alice" -c "SELECT streamext.create_source('bo2', '$SE_BOOTSTRAP', 'bo', 'bo_t')"
se_wait_for pg1 30 "SELECT count(*) = 20 FROM bo_t" || se_die "bo2 did not ingest"
se_psql pg1 -c "ALTER ROLE bo_alice NOLOGIN"
se_psql pg1 -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'bo2'" >/dev/null
se_wait_for pg1 20 "SELECT state = 'error' FROM streamext.source_status WHERE source = 'bo2'" ||
	se_die "no error state: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_assert_eq "last_error" t "$(se_psql pg1 -c "SELECT last_error LIKE '%role bo_alice, cannot log in%' FROM streamext.source_status WHERE source = 'bo2'")"
sleep 3
nologin=$(grep -c 'not permitted to log in' "$log" || true)
se_log "FATAL not permitted to log in: $nologin"
[ "$nologin" -le 2 ] || se_die "workers kept trying to log in: $nologin"
se_assert_eq "no worker" 0 "$(se_psql pg1 -c "SELECT workers FROM streamext.source_status WHERE source = 'bo2'")"

# S2-5: terminate the launcher; it is restarted, and the source still has one worker.
se_psql pg1 -c "CREATE TABLE bo3_t (device_id text, seq bigint)"
se_psql pg1 -c "SELECT streamext.create_source('bo3', '$SE_BOOTSTRAP', 'bo', 'bo3_t')"
se_wait_for pg1 30 "SELECT count(*) = 20 FROM bo3_t" || se_die "bo3 did not ingest"
old=$(se_psql pg1 -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'streamext launcher'")
se_psql pg1 -c "SELECT pg_terminate_backend($old)" >/dev/null
se_wait_for pg1 20 "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'streamext launcher' AND pid <> $old)" ||
	se_die "the launcher did not come back"
se_wait_for pg1 20 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'streamext source' AND application_name = 'bo3'" ||
	se_die "bo3 has no worker after the launcher restart"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic bo --count 20 --seed 4 2>/dev/null
se_wait_for pg1 30 "SELECT count(*) = 40 FROM bo3_t" || se_die "bo3 stopped ingesting"
sleep 2
se_assert_eq "one worker" 1 "$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'streamext source'")"
se_assert_eq "rows, no duplicates" 40 "$(se_psql pg1 -c 'SELECT count(*) FROM bo3_t')"
