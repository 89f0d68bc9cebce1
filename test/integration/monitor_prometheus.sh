#!/usr/bin/env bash
# Issue 13: Debian's prometheus-postgres-exporter (with docs/monitoring/queries.yaml, as a
# pg_monitor role) and the built-in GET /metrics endpoint are scraped by a real Prometheus
# every second; its HTTP API returns streamext series whose values match source_status and
# pipeline_status.  Also: the endpoint's 404/431 answers and a stalled client, and the
# structured batch lines in the jsonlog server log.
. "$SE_LIB"; se_test_begin
HPORT=$(se_free_port)
se_pg_start pg1 "streamext.metrics_http_port = $HPORT" "logging_collector = on" \
	"log_destination = 'stderr,jsonlog'" "log_directory = 'log'" "streamext.batch_log_level = log"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 -c "CREATE ROLE se_exporter LOGIN IN ROLE pg_monitor"
se_broker_start --brokers 1 --topic mon:2
N=500
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic mon --count $N --devices 16 2>"$SE_WORK/produce.log"
se_psql pg1 <<'SQL'
CREATE TABLE trucks (
	device_id text NOT NULL, event_time timestamptz NOT NULL, seq bigint, temperature double precision,
	speed double precision, lat double precision, lon double precision, fuel double precision,
	odometer double precision, engine_on boolean, driver_id text, route_id text);
CREATE TABLE silver (LIKE trucks);
CREATE TABLE gold (id int, v text) USING versioned_columnar;
INSERT INTO gold SELECT g, 'v' FROM generate_series(1, 70) g;
INSERT INTO gold SELECT g, 'w' FROM generate_series(1, 30) g;
SELECT streamext.create_pipeline('mon_pipe', 'trucks', 'silver', NULL,
	'{"event_time": "event_time", "watermark": "1 minute"}');
SQL
se_psql pg1 -c "SELECT streamext.create_source('mon_src', '$SE_BOOTSTRAP', 'mon', 'trucks')"
se_wait_for pg1 60 "SELECT rows = $N FROM streamext.source_status WHERE source = 'mon_src'" ||
	se_die "source_status: $(se_psql pg1 -c "SELECT state, rows FROM streamext.source_status")"
se_wait_for pg1 60 "SELECT rows_out = $N FROM streamext.pipeline_status WHERE pipeline = 'mon_pipe'" ||
	se_die "pipeline_status: $(se_psql pg1 -c "SELECT state, rows_out, last_error FROM streamext.pipeline_status")"

# The built-in endpoint: /metrics, 404 elsewhere, 431 for a huge request, and a client that
# sends nothing delays the next request by at most the 5 s timeout.
body=$(curl -sf "http://127.0.0.1:$HPORT/metrics")
grep -q '^streamext_source_rows_total{source="mon_src"} '"$N"'$' <<<"$body" || se_die "no rows line in: $body"
# Prometheus' own parser and linter accept every line.
promtool check metrics <<<"$body" || se_die "promtool check metrics rejected the endpoint's output"
se_assert_eq "GET /other" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HPORT/other")"
se_assert_eq "huge request" 431 "$(curl -s -o /dev/null -w '%{http_code}' \
	-H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$HPORT/metrics")"
python3 - "$HPORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
idle = socket.create_connection(("127.0.0.1", port))   # sends nothing
t0 = time.time()
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(30)
s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
assert data.startswith(b"HTTP/1.1 200"), data[:100]
assert time.time() - t0 < 15, time.time() - t0
PY
se_log "ok: a stalled client did not stop the endpoint"

# The exporter, as the pg_monitor role, and Prometheus scraping both every second.
EPORT=$(se_free_port); PPORT=$(se_free_port)
DATA_SOURCE_NAME="postgresql://se_exporter@127.0.0.1:$(se_pg_port pg1)/postgres?sslmode=disable" \
	prometheus-postgres-exporter --web.listen-address="127.0.0.1:$EPORT" \
	--extend.query-path="$SE_SRC/docs/monitoring/queries.yaml" --disable-settings-metrics \
	>"$SE_WORK/exporter.log" 2>&1 &
SE_PIDS+=($!)
mkdir -p "$SE_WORK/prom"
cat >"$SE_WORK/prom/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: exporter
    static_configs: [{targets: ['127.0.0.1:$EPORT']}]
  - job_name: builtin
    static_configs: [{targets: ['127.0.0.1:$HPORT']}]
YML
prometheus --config.file="$SE_WORK/prom/prometheus.yml" --storage.tsdb.path="$SE_WORK/prom/data" \
	--web.listen-address="127.0.0.1:$PPORT" >"$SE_WORK/prometheus.log" 2>&1 &
SE_PIDS+=($!)

# prom_value QUERY: the value of the query's single series, or nothing.
prom_value() {
	curl -sf --get "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if len(r)==1 else "")' 2>/dev/null || true
}
# prom_wait QUERY EXPECTED: poll Prometheus until the query returns EXPECTED (deadline 40 s).
prom_wait() {
	local got="" i
	for ((i = 0; i < 200; i++)); do
		got=$(prom_value "$1")
		[ "$got" = "$2" ] && { se_log "ok: prometheus $1 = $got"; return 0; }
		sleep 0.2
	done
	se_log "exporter log:"; tail -5 "$SE_WORK/exporter.log" >&2
	se_die "prometheus: $1 = '$got', expected '$2'"
}
rows=$(se_psql pg1 -c "SELECT rows FROM streamext.source_status WHERE source = 'mon_src'")
out=$(se_psql pg1 -c "SELECT rows_out FROM streamext.pipeline_status WHERE pipeline = 'mon_pipe'")
prom_wait 'streamext_source_rows_total{job="builtin",source="mon_src"}' "$rows"
prom_wait 'streamext_source_rows_total{job="exporter",source="mon_src"}' "$rows"
prom_wait 'streamext_pipeline_rows_out_total{job="builtin",pipeline="mon_pipe"}' "$out"
prom_wait 'streamext_pipeline_rows_out_total{job="exporter",pipeline="mon_pipe"}' "$out"
prom_wait 'streamext_source_state{job="builtin",source="mon_src",state="running"}' 1
prom_wait 'streamext_source_state_active{job="exporter",source="mon_src",state="running"}' 1
batches=$(se_psql pg1 -c "SELECT batches FROM streamext.pipeline_status WHERE pipeline = 'mon_pipe'")
prom_wait 'streamext_pipeline_batches_total{job="builtin",pipeline="mon_pipe"}' "$batches"
prom_wait 'sum(streamext_source_lag_messages{job="builtin",source="mon_src"})' 0
prom_wait 'streamext_source_batch_duration_seconds_count{job="builtin",source="mon_src"} > bool 0' 1
prom_wait 'streamext_launcher_up{job="builtin"}' 1
prom_wait 'streamext_columnar_rows{job="exporter",table="public.gold"}' 100
prom_wait 'streamext_columnar_versions{job="builtin",table="public.gold"}' 2
prom_wait 'floor(streamext_pipeline_watermark_seconds{job="exporter",pipeline="mon_pipe"})' \
	"$(se_psql pg1 -c "SELECT floor(extract(epoch FROM watermark))::bigint FROM streamext.pipeline_status WHERE pipeline = 'mon_pipe'")"
! grep -i 'error' "$SE_WORK/exporter.log" || se_die "the exporter reported errors"

# A worker that stops without being asked is restarted by the launcher, and counted.
se_psql pg1 -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'streamext source'" >/dev/null
se_wait_for pg1 30 "SELECT streamext.metrics() ~ E'\\nstreamext_source_worker_restarts_total\\{source=\"mon_src\"\\} [1-9]'" ||
	se_die "no restart counted: $(se_psql pg1 -c "SELECT streamext.metrics()" | grep restarts)"
se_wait_for pg1 30 "SELECT workers > 0 FROM streamext.source_status WHERE source = 'mon_src'" || se_die "no worker after the restart"
se_log "ok: the restart is counted"

# Structured logs: one jsonlog line per committed batch, its fields as key=value pairs; the
# workers' state changes (started, then paused) at LOG.
se_psql pg1 -c "SELECT streamext.pause_source('mon_src'), streamext.pause_pipeline('mon_pipe')"
python3 - "$(se_pg_dir pg1)/log" "$N" <<'PY'
import glob, json, re, sys, time
logdir, n = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 30
while True:
    src = pipe = rows = 0; states = set()
    for f in glob.glob(logdir + "/*.json"):
        for line in open(f):
            rec = json.loads(line)
            msg = rec.get("message", "")
            kv = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', msg))
            if kv.get("source") == '"mon_src"' and "partitions" in kv:
                assert {"rows", "dead_letters", "duration_ms", "messages", "bytes"} <= kv.keys(), msg
                assert rec.get("backend_type") == "streamext source", rec
                src += 1; rows += int(kv["rows"])
            if kv.get("pipeline") == '"mon_pipe"' and "batch" in kv:
                assert {"rows_in", "rows_out", "late", "duplicates", "duration_ms", "watermark"} <= kv.keys(), msg
                assert rec.get("backend_type") == "streamext pipeline", rec
                pipe += 1
            for kind in ("source", "pipeline"):
                if kv.get(kind) in ('"mon_src"', '"mon_pipe"') and "state" in kv:
                    assert rec.get("error_severity") == "LOG", rec
                    states.add(kind + ":" + kv["state"])
    want = {"source:started", "pipeline:started", "source:paused", "pipeline:paused"}
    if src > 0 and rows == n and pipe > 0 and want <= states:
        break
    assert time.time() < deadline, (src, rows, pipe, sorted(states))
    time.sleep(0.2)
print(f"jsonlog: {src} source batch lines ({rows} rows), {pipe} pipeline batch lines, states {sorted(states)}")
PY
se_log "ok: structured batch and state lines in the jsonlog"
