#!/usr/bin/env bash
# pg_dump | psql of a database with pipelines, a source and an alert, into a second database:
# the definitions come back (names, owners, tables, queries, options, states, ids; the id
# sequences go on after them), with the source's Kafka offsets; a pipeline's progress does not
# (it would not mean the same rows there), so a restored pipeline's batch fails naming
# reset_pipeline, and after reset_pipeline it rebuilds the same silver and gold, and then goes
# on like the original.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 <<'SQL'
CREATE EXTENSION streamext;
CREATE ROLE pd_owner LOGIN;
GRANT CREATE ON SCHEMA public TO pd_owner;
SET ROLE pd_owner;
CREATE TABLE devices (device_id int PRIMARY KEY, region text);
INSERT INTO devices SELECT g, 'r' || (g % 3) FROM generate_series(1, 20) g;
CREATE TABLE bronze (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE silver (device_id int, event_time timestamptz, temperature float8, region text);
CREATE TABLE gold_hourly (window_start timestamptz, device_id int, avg_temp float8, n bigint);
CREATE TABLE gold_minute (window_start timestamptz, device_id int, n bigint,
                          PRIMARY KEY (window_start, device_id));
SELECT streamext.create_pipeline('silver', 'bronze', 'silver',
  'SELECT b.device_id, b.event_time, b.temperature, d.region FROM batch b JOIN devices d USING (device_id)',
  '{"event_time": "event_time", "watermark": "10 minutes", "dedup_keys": ["device_id", "event_time"],
    "late_rows": "silver_late", "quarantine": "silver_quarantine", "trigger": "manual", "max_batch_rows": 1,
    "expectations": [{"name": "valid_temp", "check": "temperature BETWEEN -50 AND 150", "on_violation": "drop"}]}');
SELECT streamext.create_pipeline('gold_hourly', 'silver', 'gold_hourly',
  'SELECT window_start, device_id, avg(temperature) AS avg_temp, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "10 minutes", "trigger": "manual", "max_batch_rows": 1,
    "window": {"type": "tumble", "width": "1 hour"}}');
SELECT streamext.create_pipeline('gold_minute', 'silver', 'gold_minute',
  'SELECT window_start, device_id, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"event_time": "event_time", "watermark": "10 minutes", "trigger": "manual", "mode": "update", "max_batch_rows": 1,
    "window": {"type": "tumble", "width": "1 minute"}}');
SELECT streamext.create_pipeline('paused', 'bronze', 'silver', NULL, '{"trigger": "manual"}');
SELECT streamext.pause_pipeline('paused');
CREATE TABLE bronze_k (device_id int, _partition int, _offset bigint);
BEGIN;
SELECT streamext.create_source('kafka', 'localhost:1', 'readings', 'bronze_k');
SELECT streamext.pause_source('kafka');
COMMIT;
SELECT streamext.create_alert('hot', 'SELECT device_id FROM silver WHERE temperature > 140');
SELECT streamext.pause_alert('hot');
RESET ROLE;
INSERT INTO streamext.source_offsets (source, topic, partition, next_offset) VALUES ('kafka', 'readings', 0, 4242);
SQL

# readings with duplicates, late rows and failed expectations, in three transactions: with
# max_batch_rows 1 a batch reads one transaction, so the replay after reset_pipeline has the
# original's batch boundaries (and late rows)
batch() {  # batch N: 400 readings of the hour N, some repeated, some an hour old, some too hot
	SE_DB=${2:-postgres} se_psql pg1 -c "
		INSERT INTO bronze SELECT 1 + g % 20, '2026-01-01'::timestamptz + ($1 * 60 + g % 60) * interval '1 minute',
			CASE WHEN g % 37 = 0 THEN 999 ELSE 20 + g % 7 END FROM generate_series(1, 400) g;
		INSERT INTO bronze SELECT 1 + g % 20, '2026-01-01'::timestamptz + ($1 * 60 + g % 60) * interval '1 minute', 0
			FROM generate_series(1, 50) g;
		INSERT INTO bronze SELECT 1 + g % 20, '2026-01-01'::timestamptz + (($1 - 1) * 60 + g % 40) * interval '1 minute', 1
			FROM generate_series(1, 10) g WHERE $1 > 1;"
}
run_all() {
	for p in silver gold_hourly gold_minute; do
		SE_DB=${1:-postgres} se_psql pg1 -c "SELECT streamext.run_pipeline('$p')" >/dev/null
	done
}
batch 1; run_all; batch 2; run_all; batch 3; run_all
se_assert_eq "late rows in the original" "t" "$(se_psql pg1 -c "SELECT count(*) > 0 FROM silver_late")"

"$SE_BINDIR/pg_dump" -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -f "$SE_WORK/dump.sql" postgres
se_psql pg1 -c "CREATE DATABASE copy"
SE_DB=copy se_psql pg1 -v ON_ERROR_STOP=1 -f "$SE_WORK/dump.sql" >/dev/null

defs="SELECT string_agg(concat_ws(' | ', id, name, owner, source, target, query, options, search_path, state),
	E'\n' ORDER BY name) FROM streamext.pipelines"
se_assert_eq "pipeline definitions restored" "$(se_psql pg1 -c "$defs")" "$(SE_DB=copy se_psql pg1 -c "$defs")"
se_assert_eq "four pipelines" "4" "$(SE_DB=copy se_psql pg1 -c "SELECT count(*) FROM streamext.pipelines")"
q="SELECT string_agg(concat_ws(' | ', id, name, owner, brokers, topic, target, format, options, state), E'\n' ORDER BY name)
	FROM streamext.sources"
se_assert_eq "source restored" "$(se_psql pg1 -c "$q")" "$(SE_DB=copy se_psql pg1 -c "$q")"
q="SELECT string_agg(concat_ws(' | ', source, topic, partition, next_offset), E'\n') FROM streamext.source_offsets"
se_assert_eq "source offsets restored" "kafka | readings | 0 | 4242" "$(SE_DB=copy se_psql pg1 -c "$q")"
q="SELECT string_agg(concat_ws(' | ', id, name, owner, query, options, state), E'\n' ORDER BY name) FROM streamext.alerts"
se_assert_eq "alert restored (paused)" "$(se_psql pg1 -c "$q")" "$(SE_DB=copy se_psql pg1 -c "$q")"
se_assert_eq "paused alert stays paused" "paused" "$(SE_DB=copy se_psql pg1 -c "SELECT state FROM streamext.alerts")"

# the restored pipelines have no progress: the batch says what to do
out=$(SE_DB=copy se_psql pg1 -c "SELECT streamext.run_pipeline('silver')" 2>&1) && se_die "a restored pipeline ran: $out"
grep -q "reset_pipeline('silver')" <<<"$out" || se_die "no hint to reset_pipeline: $out"
se_log "ok: restored pipeline without progress: $(head -1 <<<"$out")"

# reset_pipeline rebuilds the same silver (and its late and quarantined rows) and gold
for p in silver gold_hourly gold_minute; do
	SE_DB=copy se_psql pg1 -c "SET ROLE pd_owner; SELECT streamext.reset_pipeline('$p')" >/dev/null
done
run_all copy
compare() {
	local t q
	for t in silver silver_late silver_quarantine gold_hourly gold_minute; do
		q="SELECT count(*) || ' ' || md5(string_agg(x::text, '|' ORDER BY x::text)) FROM $t x"
		# silver has the tracking column of a source (its own transaction ids); the late and
		# quarantine rows, the batch numbers
		[ "$t" = silver ] || [ "$t" = silver_late ] || [ "$t" = silver_quarantine ] &&
			q="SELECT count(*) || ' ' || md5(string_agg(r::text, '|' ORDER BY r::text))
				FROM (SELECT (x.device_id, x.event_time, x.temperature) AS r FROM $t x) y"
		se_assert_eq "$t after restore $1" "$(se_psql pg1 -c "$q")" "$(SE_DB=copy se_psql pg1 -c "$q")"
	done
}
compare "and reset"
# and both go on the same way
batch 4; batch 4 copy; run_all; run_all copy
compare "and one more batch"
se_assert_eq "restored watermark" "$(se_psql pg1 -c "SELECT watermark FROM streamext.pipeline_status WHERE pipeline = 'silver'")" \
	"$(SE_DB=copy se_psql pg1 -c "SELECT watermark FROM streamext.pipeline_status WHERE pipeline = 'silver'")"

# the id sequences went on after the restored ids
SE_DB=copy se_psql pg1 -c "SET ROLE pd_owner;
	SELECT streamext.create_pipeline('another', 'bronze', 'silver', NULL, '{\"trigger\": \"manual\"}')" >/dev/null
se_assert_eq "new pipeline id after the restored ones" "t" "$(SE_DB=copy se_psql pg1 -c "
	SELECT id > (SELECT max(id) FROM streamext.pipelines WHERE name <> 'another') FROM streamext.pipelines WHERE name = 'another'")"

# pg_restore of a custom-format dump (-j 2: one connection per table) restores the same
"$SE_BINDIR/pg_dump" -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -Fc -f "$SE_WORK/dump.fc" postgres
se_psql pg1 -c "CREATE DATABASE copy2"
"$SE_BINDIR/pg_restore" -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -j 2 -d copy2 "$SE_WORK/dump.fc"
se_assert_eq "pipeline definitions restored by pg_restore" "$(se_psql pg1 -c "$defs")" "$(SE_DB=copy2 se_psql pg1 -c "$defs")"
SE_DB=copy2 se_psql pg1 -c "SET ROLE pd_owner; SELECT streamext.reset_pipeline('silver')" >/dev/null
SE_DB=copy2 se_psql pg1 -c "SELECT streamext.run_pipeline('silver')" >/dev/null
q="SELECT count(*) || ' ' || md5(string_agg(r::text, '|' ORDER BY r::text))
	FROM (SELECT (x.device_id, x.event_time, x.temperature) AS r FROM silver x) y"
se_assert_eq "silver after pg_restore and reset" "$(se_psql pg1 -c "$q")" "$(SE_DB=copy2 se_psql pg1 -c "$q")"
