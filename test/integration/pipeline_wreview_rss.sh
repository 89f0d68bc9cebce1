#!/usr/bin/env bash
# w-review: a pipeline worker's private memory does not grow with the number of batches it runs
# (every batch's allocations are freed): RssAnon of the worker after its first 1,000 batches and
# after 5,000 more differ by less than 2 MB.  Batches come from single-row commits into the source
# (pgbench), picked up at once (trigger '0', streamext.pipeline_idle_poll_ms = 1).
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "streamext.pipeline_idle_poll_ms = 1" "streamext.pipeline_batches_keep = 100"
se_psql pg1 <<'SQL'
CREATE EXTENSION streamext;
CREATE TABLE src (id bigserial, device_id text, v float8);
CREATE TABLE dst (device_id text, v float8);
SELECT streamext.create_pipeline('rss_p', 'src', 'dst', 'SELECT device_id, v * 2 AS v FROM batch', '{"trigger": "0"}');
SQL
se_wait_for pg1 30 "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'rss_p' AND backend_type = 'streamext pipeline'" || se_die "no worker"
wpid=$(se_psql pg1 -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'rss_p' AND backend_type = 'streamext pipeline'")
anon() { awk '/^RssAnon:/ {print $2}' "/proc/$wpid/status"; }
echo "INSERT INTO src (device_id, v) VALUES ('d' || (random() * 100)::int, random());" >"$SE_WORK/ins.sql"
"$SE_BINDIR/pgbench" -n -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -c 1 -T 600 -f "$SE_WORK/ins.sql" postgres >"$SE_WORK/pgbench.out" 2>&1 &
bench=$!
SE_PIDS+=("$bench")
batches() { se_psql pg1 -c "SELECT batches FROM streamext.pipeline_status WHERE pipeline = 'rss_p'"; }
se_wait_for pg1 300 "SELECT batches >= 1000 FROM streamext.pipeline_status WHERE pipeline = 'rss_p'" || se_die "only $(batches) batches"
b0=$(batches); r0=$(anon)
se_wait_for pg1 600 "SELECT batches >= $((b0 + 5000)) FROM streamext.pipeline_status WHERE pipeline = 'rss_p'" || se_die "only $(batches) batches"
b1=$(batches); r1=$(anon)
kill "$bench" 2>/dev/null || true
wait "$bench" 2>/dev/null || true
se_log "worker RssAnon: ${r0} kB after $b0 batches, ${r1} kB after $b1 batches"
[ "$wpid" = "$(se_psql pg1 -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'rss_p' AND backend_type = 'streamext pipeline'")" ] || se_die "the worker restarted"
[ $((r1 - r0)) -lt 2048 ] || se_die "the worker's memory grew by $((r1 - r0)) kB over $((b1 - b0)) batches"
se_wait_for pg1 60 "SELECT count(*) = (SELECT count(*) FROM src) FROM dst" || se_die "dst has $(se_psql pg1 -c 'SELECT count(*) FROM dst') of $(se_psql pg1 -c 'SELECT count(*) FROM src') rows"
