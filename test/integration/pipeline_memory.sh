#!/usr/bin/env bash
# Issue 11, test 11: bounded memory with 1M live dedup keys.  A pipeline deduplicating on
# (device_id, event_time) with a watermark delay so large that no key expires reads 1,000,000
# distinct readings (ten transactions of 100,000), then 100,000 re-sent ones: all of them must be
# dropped (the 1M keys are live), while the pipeline worker's private memory (RssAnon in
# /proc/<pid>/status; VmRSS and VmHWM also count the shared buffers it touched) stays bounded:
# it may not grow with the number of keys.  An in-memory key set would need well over 50 bytes a
# key (a text key, a timestamp, a hash entry): 900,000 more keys would be over 45 MB more.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "timezone = 'UTC'"
q() { se_psql pg1 -c "$1"; }
q "CREATE EXTENSION streamext"
KEYS=1000000
STEP=100000
GROWTH_MAX_KB=$((40 * 1024))
PEAK_MAX_KB=$((200 * 1024))

se_psql pg1 <<'SQL'
CREATE TABLE readings (device_id text, event_time timestamptz, temperature float8);
CREATE TABLE deduped (device_id text, event_time timestamptz, temperature float8);
SELECT streamext.create_pipeline('mem', 'readings', 'deduped', NULL,
	'{"event_time": "event_time", "watermark": "100000 days", "dedup_keys": ["device_id", "event_time"], "trigger": "0"}');
SQL
se_wait_for pg1 30 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'streamext pipeline' AND application_name = 'mem'" ||
	se_die "no pipeline worker for mem"

# status KB fields of the worker: "RssAnon VmRSS VmHWM" (the worker may have been restarted: look it up each time)
mem() {
	local pid
	pid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'streamext pipeline' AND application_name = 'mem'")
	[ -n "$pid" ] || { echo "0 0 0"; return; }
	awk '/^RssAnon:/ {a=$2} /^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print a+0, r+0, h+0}' "/proc/$pid/status" 2>/dev/null || echo "0 0 0"
}
peak_anon=0
first_anon=0
rows_in() { q "SELECT coalesce((SELECT rows_in FROM streamext.pipeline_status WHERE pipeline = 'mem'), 0)"; }
# wait until the worker has read WANT rows, sampling its memory every 0.2 s
wait_read() {
	local want=$1 i a r h
	for ((i = 0; i < 600; i++)); do
		read -r a r h <<<"$(mem)"
		((a > peak_anon)) && peak_anon=$a
		(($(rows_in) >= want)) && return 0
		[ "$(q "SELECT state FROM streamext.pipeline_status WHERE pipeline = 'mem'")" = error ] &&
			se_die "pipeline mem failed: $(q "SELECT last_error FROM streamext.pipeline_status WHERE pipeline = 'mem'")"
		sleep 0.2
	done
	se_die "the worker read $(rows_in) of $want rows in 120 s"
}

t0=$(date +%s)
for ((done_ = STEP; done_ <= KEYS; done_ += STEP)); do
	q "INSERT INTO readings SELECT 'truck-' || lpad((i % 5000)::text, 6, '0'),
		'2026-01-01'::timestamptz + i * interval '1 second', 4 + (i % 70) / 10.0
		FROM generate_series($done_ - $STEP, $done_ - 1) i"
	wait_read "$done_"
	read -r a r h <<<"$(mem)"
	((done_ == STEP)) && first_anon=$peak_anon
	se_log "$done_ live keys: worker RssAnon $a kB, VmRSS $r kB, VmHWM $h kB (peak RssAnon so far $peak_anon kB)"
done
# 100,000 re-sent readings, spread over the whole key range: every one is a duplicate
q "INSERT INTO readings SELECT 'truck-' || lpad((i % 5000)::text, 6, '0'),
	'2026-01-01'::timestamptz + i * interval '1 second', 4 + (i % 70) / 10.0
	FROM generate_series(0, $KEYS - 1, 10) i"
wait_read $((KEYS + KEYS / 10))
read -r a r h <<<"$(mem)"
se_log "after the duplicates: RssAnon $a kB, VmRSS $r kB, VmHWM $h kB; peak RssAnon $peak_anon kB ($(($(date +%s) - t0)) s)"

se_assert_eq "rows kept" $KEYS "$(q "SELECT count(*) FROM deduped")"
se_assert_eq "status: rows_in, duplicates_dropped, late_rows" "$((KEYS + KEYS / 10))|$((KEYS / 10))|0" \
	"$(q "SELECT rows_in || '|' || duplicates_dropped || '|' || late_rows FROM streamext.pipeline_status WHERE pipeline = 'mem'")"
echo "pipeline_memory: 1M live dedup keys: worker peak RssAnon $peak_anon kB (after 100k keys: $first_anon kB), VmHWM $h kB"
se_assert_eq "worker private memory growth from 100k to 1M live keys <= $GROWTH_MAX_KB kB" t \
	"$(((peak_anon - first_anon <= GROWTH_MAX_KB)) && echo t || echo "f ($((peak_anon - first_anon)) kB)")"
se_assert_eq "worker peak private memory <= $PEAK_MAX_KB kB" t "$(((peak_anon <= PEAK_MAX_KB)) && echo t || echo "f ($peak_anon kB)")"
