#!/usr/bin/env bash
# Issue 13, SQL alerts, for real: the "streamext alerts" worker evaluates alerts as their owner.
# A query that starts returning rows fires exactly once (one alert_events row, one NOTIFY seen by
# a LISTENing psql, one POST seen by an HTTP server on loopback) and clears exactly once; the
# anomaly rule on generated temperatures fires for the device with the spike only; webhooks that
# are down (closed port, a server that never answers) are retried and never hold up the worker
# (an alert toggling every second keeps changing on time); an alert runs as its owner (a table it
# cannot read: state error), and another role cannot read its events unless granted.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
q() { se_psql pg1 -c "$1"; }

# --- the helpers: an HTTP server that records POSTs, one that never answers, a closed port ---
cat >"$SE_WORK/hooks.py" <<'PY'
import http.server, socket, sys, threading
mode, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "record":
    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            with open(log, "a") as f:
                f.write(self.headers.get("Content-Type", "") + " " + body.replace("\n", " ") + "\n")
            self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
        def log_message(self, *a): pass
    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
else:  # hang: accept, read, never answer
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(16); held = []
    while True:
        c, _ = s.accept(); held.append(c)
        with open(log, "a") as f: f.write("connection\n")
PY
rec_port=$(se_free_port); hang_port=$(se_free_port); closed_port=$(se_free_port)
python3 "$SE_WORK/hooks.py" record "$rec_port" "$SE_WORK/posts.log" & SE_PIDS+=($!)
python3 "$SE_WORK/hooks.py" hang "$hang_port" "$SE_WORK/hang.log" & SE_PIDS+=($!)
touch "$SE_WORK/posts.log" "$SE_WORK/hang.log"
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$rec_port) 2>/dev/null && break; sleep 0.1; done

# A LISTENing client: psql prints each notification after the next command it runs.
(echo "LISTEN streamext_alerts;"; while :; do echo "SELECT 1;"; sleep 0.1; done) |
	"$SE_BINDIR/psql" -X -q -At -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -d postgres \
	>"$SE_WORK/notify.log" 2>&1 & SE_PIDS+=($!)
notifies() { grep -c "Asynchronous notification \"streamext_alerts\" with payload .*\"alert\": \"$1\".*\"state\": \"$2\"" "$SE_WORK/notify.log" || true; }
posts() { grep -c "^application/json .*\"alert\": \"$1\".*\"state\": \"$2\"" "$SE_WORK/posts.log" || true; }
wait_file() {  # wait_file SECONDS CMD...: until CMD prints something non-zero
	local end=$((SECONDS + $1)); shift
	while ((SECONDS < end)); do [ "$("$@")" != 0 ] && return 0; sleep 0.1; done; return 1
}
checks_after() {  # wait until alert $1 was checked 5 more times after now
	local t0; t0=$(q "SELECT clock_timestamp()")
	se_wait_for pg1 20 "SELECT last_checked_at > '$t0'::timestamptz + 4 * every FROM streamext.alerts WHERE name = '$1'"
}

# --- 1. fires exactly once, clears exactly once ---
q "CREATE TABLE flags (id int, note text)"
q "SELECT streamext.create_alert('flagged', 'SELECT id, note FROM flags', jsonb_build_object('every', '200 milliseconds', 'webhook', 'http://127.0.0.1:$rec_port/hook'))" >/dev/null
se_wait_for pg1 30 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'streamext alerts'" || se_die "no streamext alerts worker"
se_wait_for pg1 20 "SELECT last_checked_at IS NOT NULL FROM streamext.alerts WHERE name = 'flagged'" || se_die "flagged never checked: $(q "SELECT * FROM streamext.alerts")"
checks_after flagged || se_die "flagged not checked regularly"
se_assert_eq "no event while the query returns nothing" "ok|0" "$(q "SELECT state, (SELECT count(*) FROM streamext.alert_events) FROM streamext.alerts WHERE name = 'flagged'")"
q "INSERT INTO flags VALUES (7, 'seven')"
se_wait_for pg1 20 "SELECT state = 'firing' FROM streamext.alerts WHERE name = 'flagged'" || se_die "flagged did not fire"
wait_file 20 notifies flagged firing || se_die "no NOTIFY received: $(tail -5 "$SE_WORK/notify.log")"
wait_file 20 posts flagged firing || se_die "no POST received: $(cat "$SE_WORK/posts.log")"
checks_after flagged || se_die "flagged not checked after firing"
se_assert_eq "firing: events, value" '1|[{"id": 7, "note": "seven"}]' \
	"$(q "SELECT count(*), max(value::text) FROM streamext.alert_events WHERE alert = 'flagged' AND state = 'firing'")"
se_assert_eq "firing: NOTIFYs|POSTs" "1|1" "$(notifies flagged firing)|$(posts flagged firing)"
grep -q '"value": \[{"id": 7, "note": "seven"}\]' "$SE_WORK/posts.log" || se_die "the POST lacks the rows: $(cat "$SE_WORK/posts.log")"
q "DELETE FROM flags"
se_wait_for pg1 20 "SELECT state = 'ok' FROM streamext.alerts WHERE name = 'flagged'" || se_die "flagged did not clear"
wait_file 20 notifies flagged ok || se_die "no NOTIFY for the clear"
wait_file 20 posts flagged ok || se_die "no POST for the clear"
checks_after flagged || se_die "flagged not checked after clearing"
se_assert_eq "events firing|ok, NOTIFYs, POSTs" "1|1 1|1 1|1" \
	"$(q "SELECT count(*) FILTER (WHERE state = 'firing') || '|' || count(*) FILTER (WHERE state = 'ok') FROM streamext.alert_events WHERE alert = 'flagged'") $(notifies flagged firing)|$(notifies flagged ok) $(posts flagged firing)|$(posts flagged ok)"
q "SELECT streamext.drop_alert('flagged')" >/dev/null
# a firing query with many and big rows: the event's value is bounded
q "SELECT streamext.create_alert('big', 'SELECT i, repeat(''x'', CASE WHEN i = 1 THEN 100000 ELSE 100 END) AS pad FROM generate_series(1, 1000) i ORDER BY i', '{\"every\": \"200 milliseconds\"}')" >/dev/null
se_wait_for pg1 20 "SELECT state = 'firing' FROM streamext.alerts WHERE name = 'big'" || se_die "big did not fire"
se_assert_eq "big: rows kept|first row replaced|value under 40 kB" "100|true|true" \
	"$(q "SELECT jsonb_array_length(value) || '|' || ((value -> 0 ->> 'truncated_row_bytes')::int > 100000) || '|' || (length(value::text) < 40000) FROM streamext.alert_events WHERE alert = 'big'")"
q "SELECT streamext.drop_alert('big')" >/dev/null

# --- 2. the anomaly rule: 8 devices, one spike ---
q "CREATE TABLE temps (device_id text, event_time timestamptz, avg_temp float8)"
q "INSERT INTO temps SELECT 'dev' || d, now() - interval '2 hours' + i * interval '1 minute',
	20 + d + 0.3 * sin(i + d) FROM generate_series(1, 8) d, generate_series(0, 119) i"
q "SELECT streamext.create_alert('temp_spike', 'SELECT device_id, event_time, avg_temp FROM temps',
	'{\"every\": \"200 milliseconds\", \"channel\": \"temps\", \"anomaly\": {\"column\": \"avg_temp\", \"zscore\": 3, \"window\": \"1 hour\", \"by\": [\"device_id\"]}}')" >/dev/null
se_wait_for pg1 20 "SELECT last_checked_at IS NOT NULL FROM streamext.alerts WHERE name = 'temp_spike'" || se_die "temp_spike not checked"
checks_after temp_spike || se_die "temp_spike not checked regularly"
se_assert_eq "no anomaly in normal readings" "ok|0" "$(q "SELECT state, (SELECT count(*) FROM streamext.alert_events WHERE alert = 'temp_spike') FROM streamext.alerts WHERE name = 'temp_spike'")"
q "INSERT INTO temps VALUES ('dev5', now(), 31), ('dev3', now(), 23.1)"
se_wait_for pg1 20 "SELECT state = 'firing' FROM streamext.alerts WHERE name = 'temp_spike'" || se_die "the spike did not fire: $(q "SELECT last_error FROM streamext.alerts WHERE name = 'temp_spike'")"
se_assert_eq "the anomaly fired for dev5 only" '[{"device_id": "dev5"}]|31' \
	"$(q "SELECT jsonb_path_query_array(value, '\$[*].group')::text || '|' || (value -> 0 ->> 'value') FROM streamext.alert_events WHERE alert = 'temp_spike'")"
q "SELECT streamext.drop_alert('temp_spike')" >/dev/null

# --- 3. webhooks that are down never hold the worker up ---
# 'ticker' toggles every second (fires in even seconds, clears in odd ones)
q "SELECT streamext.create_alert('ticker', 'SELECT 1 AS on WHERE floor(extract(epoch FROM clock_timestamp()))::bigint % 2 = 0', '{\"every\": \"100 milliseconds\"}')" >/dev/null
se_wait_for pg1 20 "SELECT count(*) >= 2 FROM streamext.alert_events WHERE alert = 'ticker'" || se_die "ticker does not toggle"
t0=$(q "SELECT clock_timestamp()")
q "SELECT streamext.create_alert('down_closed', 'SELECT 1', jsonb_build_object('every', '200 milliseconds', 'webhook', 'http://127.0.0.1:$closed_port/x'))" >/dev/null
q "SELECT streamext.create_alert('down_hang', 'SELECT 1', jsonb_build_object('every', '200 milliseconds', 'webhook', 'http://127.0.0.1:$hang_port/x'))" >/dev/null
se_wait_for pg1 20 "SELECT count(*) = 2 FROM streamext.alerts WHERE name LIKE 'down%' AND state = 'firing'" || se_die "the down_* alerts did not fire"
wait_file 20 grep -c connection "$SE_WORK/hang.log" || se_die "the hanging server got no connection"
# The hanging POST times out after 5 s; the closed port fails at once and is retried after 1 s
# and 2 s.  Meanwhile ticker must go on changing every second.
in_log() { grep -Ec "$1" "$SE_WORK/pg/pg1.log" || true; }
wait_file 40 in_log 'alert "down_hang": webhook attempt 1 failed: .*(timed out|Timeout).*; retrying in 1000 ms' ||
	se_die "down_hang not timed out: $(grep down_hang "$SE_WORK/pg/pg1.log")"
wait_file 40 in_log 'alert "down_closed": webhook attempt 3 failed: .*; retrying in 4000 ms' ||
	se_die "down_closed not retried: $(grep down_closed "$SE_WORK/pg/pg1.log")"
stats=$(q "SELECT count(*) || '|' || round(coalesce(max(gap), 99), 2) || '|' || round(extract(epoch FROM clock_timestamp() - '$t0'))
	FROM (SELECT extract(epoch FROM fired_at - lag(fired_at) OVER (ORDER BY id))::numeric AS gap
	FROM streamext.alert_events WHERE alert = 'ticker' AND fired_at > '$t0') g")
IFS='|' read -r n gap secs <<<"$stats"
se_log "ticker: $n changes in the $secs s the webhooks were down; largest gap between changes ${gap} s"
# a worker waiting for the hanging server would leave a gap of 5 s (its timeout) or more
[ "$(q "SELECT $gap < 4")" = t ] || se_die "ticker was held up (gap $gap s)"
[ "$n" -ge $((secs / 2)) ] || se_die "ticker changed only $n times in $secs s"
q "SELECT streamext.drop_alert(name) FROM streamext.alerts WHERE name IN ('ticker', 'down_closed', 'down_hang')" >/dev/null

# --- 4. privileges: an alert runs as its owner; its events are its owner's ---
q "CREATE ROLE alice; CREATE ROLE bob; CREATE TABLE secret (x int); INSERT INTO secret VALUES (1);
	CREATE TABLE shared (x int); INSERT INTO shared VALUES (1); GRANT SELECT ON shared TO alice"
q "SET ROLE alice; SELECT streamext.create_alert('peek', 'SELECT x FROM public.secret', '{\"every\": \"200 milliseconds\"}')" >/dev/null
q "SET ROLE alice; SELECT streamext.create_alert('mine', 'SELECT x FROM public.shared', '{\"every\": \"200 milliseconds\"}')" >/dev/null
se_wait_for pg1 20 "SELECT state = 'error' FROM streamext.alerts WHERE name = 'peek'" || se_die "peek ran with more than alice's rights: $(q "SELECT state, last_error FROM streamext.alerts WHERE name = 'peek'")"
se_assert_eq "peek's error" "permission denied for table secret" "$(q "SELECT last_error FROM streamext.alerts WHERE name = 'peek'")"
se_wait_for pg1 20 "SELECT state = 'firing' FROM streamext.alerts WHERE name = 'mine'" || se_die "mine did not fire"
se_assert_eq "the events of alice's alert: alice|bob" "1|0" \
	"$(q "SET ROLE alice; SELECT count(*) FROM streamext.alert_events")|$(q "SET ROLE bob; SELECT count(*) FROM streamext.alert_events")"
q "GRANT alice TO bob"
se_assert_eq "bob, granted alice" "1" "$(q "SET ROLE bob; SELECT count(*) FROM streamext.alert_events")"
# resume after the fix: the alert is evaluated again
q "GRANT SELECT ON secret TO alice"
q "SET ROLE alice; SELECT streamext.resume_alert('peek')" >/dev/null
se_wait_for pg1 20 "SELECT state = 'firing' FROM streamext.alerts WHERE name = 'peek'" || se_die "peek did not recover after resume"

# --- 5. a restart keeps the state: a firing alert does not fire again ---
se_pg_stop pg1 fast
se_pg_start pg1
t0=$(q "SELECT clock_timestamp()")
se_wait_for pg1 30 "SELECT last_checked_at > '$t0'::timestamptz + 4 * every FROM streamext.alerts WHERE name = 'mine'" || se_die "mine not checked after the restart"
se_assert_eq "after a restart: mine's state|firing events" "firing|1" \
	"$(q "SELECT state || '|' || (SELECT count(*) FROM streamext.alert_events e WHERE e.alert = 'mine') FROM streamext.alerts WHERE name = 'mine'")"

# --- 6. streamext.alert_statement_timeout bounds a query: state error, the others go on ---
q "ALTER SYSTEM SET streamext.alert_statement_timeout = '300ms'" && q "SELECT pg_reload_conf()" >/dev/null
q "SELECT streamext.create_alert('slow', 'SELECT 1 FROM pg_sleep(30)', '{\"every\": \"200 milliseconds\"}')" >/dev/null
se_wait_for pg1 20 "SELECT state = 'error' FROM streamext.alerts WHERE name = 'slow'" || se_die "slow not stopped: $(q "SELECT state, last_error FROM streamext.alerts WHERE name = 'slow'")"
se_assert_eq "slow's error" "canceling statement due to statement timeout" "$(q "SELECT last_error FROM streamext.alerts WHERE name = 'slow'")"
t0=$(q "SELECT clock_timestamp()")
se_wait_for pg1 20 "SELECT last_checked_at > '$t0' FROM streamext.alerts WHERE name = 'mine'" || se_die "the worker stopped after the timeout"
se_log "monitor_alerts: all checks passed"
