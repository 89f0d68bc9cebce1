#!/usr/bin/env bash
# Issue 3, time_partition: validation errors; range partitions created on demand (one per day of
# data, exact row count, two workers racing), premake ahead of the data and of now(), retention
# dropped by streamext.maintain_partitions, and unroutable rows (NULL, infinity, expired) dead-lettered.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic tp:4

# expect_error PATTERN SQL: SQL must fail with a message matching PATTERN.
expect_error() {
	local out
	if out=$(se_psql pg1 -c "$2" 2>&1); then
		se_die "expected an error matching '$1' from: $2"
	fi
	grep -E "$1" <<<"$out" >/dev/null || se_die "expected '$1', got: $out"
	se_log "ok: refused: $(grep -m1 ERROR <<<"$out")"
}

se_psql pg1 <<'SQL'
CREATE TABLE plain (event_time timestamptz);
CREATE TABLE by_list (event_time timestamptz, k int) PARTITION BY LIST (k);
CREATE TABLE by_text (event_time timestamptz, t text) PARTITION BY RANGE (t);
CREATE TABLE by_int (event_time int) PARTITION BY RANGE (event_time);
CREATE TABLE by_day (d date) PARTITION BY RANGE (d);
CREATE TABLE trucks (device_id text, event_time timestamptz, seq bigint) PARTITION BY RANGE (event_time);
SQL
B=$SE_BOOTSTRAP
tp() { echo "{\"parallelism\": 2, \"time_partition\": $1}"; }
expect_error 'is not partitioned' "SELECT streamext.create_source('v', '$B', 'tp', 'plain', 'json', '$(tp '{"column": "event_time", "interval": "1 day"}')')"
expect_error 'partitioned by LIST \(k\)' "SELECT streamext.create_source('v', '$B', 'tp', 'by_list', 'json', '$(tp '{"column": "event_time", "interval": "1 day"}')')"
expect_error 'partitioned by RANGE \(t\)' "SELECT streamext.create_source('v', '$B', 'tp', 'by_text', 'json', '$(tp '{"column": "event_time", "interval": "1 day"}')')"
expect_error 'must be of type timestamptz, timestamp or date, not integer' "SELECT streamext.create_source('v', '$B', 'tp', 'by_int', 'json', '$(tp '{"column": "event_time", "interval": "1 day"}')')"
expect_error 'column "nope" does not exist' "SELECT streamext.create_source('v', '$B', 'tp', 'trucks', 'json', '$(tp '{"column": "nope", "interval": "1 day"}')')"
expect_error '"interval" must be positive' "SELECT streamext.create_source('v', '$B', 'tp', 'trucks', 'json', '$(tp '{"column": "event_time", "interval": "-1 day"}')')"
expect_error '"interval" must be positive' "SELECT streamext.create_source('v', '$B', 'tp', 'trucks', 'json', '$(tp '{"column": "event_time", "interval": "0"}')')"
expect_error '"interval" is not an interval' "SELECT streamext.create_source('v', '$B', 'tp', 'trucks', 'json', '$(tp '{"column": "event_time", "interval": "daily"}')')"
expect_error 'whole months or have no months' "SELECT streamext.create_source('v', '$B', 'tp', 'trucks', 'json', '$(tp '{"column": "event_time", "interval": "1 month 2 days"}')')"
expect_error 'whole days for the date column' "SELECT streamext.create_source('v', '$B', 'tp', 'by_day', 'json', '$(tp '{"column": "d", "interval": "6 hours"}')')"
expect_error '"premake" must be an integer between 0 and 1000' "SELECT streamext.create_source('v', '$B', 'tp', 'trucks', 'json', '$(tp '{"column": "event_time", "interval": "1 day", "premake": -1}')')"
expect_error '"premake" must be an integer between 0 and 1000' "SELECT streamext.create_source('v', '$B', 'tp', 'trucks', 'json', '$(tp '{"column": "event_time", "interval": "1 day", "premake": 100000}')')"
expect_error '"retention" must be a positive interval' "SELECT streamext.create_source('v', '$B', 'tp', 'trucks', 'json', '$(tp '{"column": "event_time", "interval": "1 day", "retention": "-30 days"}')')"
expect_error 'unknown time_partition option "colum"' "SELECT streamext.create_source('v', '$B', 'tp', 'trucks', 'json', '$(tp '{"colum": "event_time", "interval": "1 day"}')')"
expect_error 'must be a JSON object' "SELECT streamext.create_source('v', '$B', 'tp', 'trucks', 'json', '$(tp '"event_time"')')"
se_assert_eq "sources after refusals" 0 "$(se_psql pg1 -c 'SELECT count(*) FROM streamext.sources')"
# Months are calendar-aligned; a date key works with whole days.
se_assert_eq "month buckets" "2026-01-01 00:00:00|2026-01-01 00:00:00|1969-10-01 00:00:00" "$(se_psql pg1 -c "SELECT
	streamext._tp_floor('2026-03-31 23:59', '3 months'), streamext._tp_floor('2026-01-01', '1 year'),
	streamext._tp_floor('1969-12-31 23:59', '3 months')")"

# On demand: 3000 messages, one every 144 s from 2026-01-01 = exactly 5 days of data.
se_psql pg1 -c "SELECT streamext.create_source('tp_src', '$B', 'tp', 'trucks', 'json',
	'$(tp '{"column": "event_time", "interval": "1 day", "premake": 2}')')"
N=3000
"$SE_TOOLS/se-produce" --brokers "$B" --topic tp --count $N --devices 16 \
	--start 2026-01-01T00:00:00Z --interval-ms 144000 2>"$SE_WORK/produce.log"
se_wait_for pg1 120 "SELECT count(*) >= $N FROM trucks" || se_die "only $(se_psql pg1 -c 'select count(*) from trucks') rows arrived"
sleep 2
se_assert_eq "rows" $N "$(se_psql pg1 -c 'SELECT count(*) FROM trucks')"
se_assert_eq "distinct (device_id, seq)" $N "$(se_psql pg1 -c "SELECT count(DISTINCT (device_id, seq)) FROM trucks")"
se_assert_eq "dead letters" 0 "$(se_psql pg1 -c 'SELECT count(*) FROM streamext.dead_letters')"
se_assert_eq "rows per day partition" \
	"trucks_p20260101:600 trucks_p20260102:600 trucks_p20260103:600 trucks_p20260104:600 trucks_p20260105:600" \
	"$(se_psql pg1 -c "SELECT string_agg(tableoid::regclass || ':' || n, ' ' ORDER BY tableoid::regclass::text)
		FROM (SELECT tableoid, count(*) n FROM trucks GROUP BY 1) x")"
se_assert_eq "bounds of a created partition" "FOR VALUES FROM ('2026-01-03 00:00:00+00') TO ('2026-01-04 00:00:00+00')" \
	"$(se_psql pg1 -c "SET TimeZone = 'UTC'; SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'trucks_p20260103'")"
# premake 2: ahead of the newest data, and ahead of now() (the worker maintains at start).
se_assert_eq "premade after the data" "t|t|f" "$(se_psql pg1 -c "SELECT to_regclass('trucks_p20260106') IS NOT NULL,
	to_regclass('trucks_p20260107') IS NOT NULL, to_regclass('trucks_p20260108') IS NOT NULL")"
se_wait_for pg1 30 "SELECT count(*) = 3 FROM generate_series(0, 2) d
	WHERE to_regclass('trucks_p' || to_char((now() AT TIME ZONE 'UTC') + d * interval '1 day', 'YYYYMMDD')) IS NOT NULL" \
	|| se_die "no partitions ahead of now(): $(se_psql pg1 -c "SELECT string_agg(relname, ' ') FROM pg_class WHERE relname LIKE 'trucks_p%'")"
se_assert_eq "partitions" 10 "$(se_psql pg1 -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'trucks'::regclass")"
se_assert_eq "maintain_partitions when all is there" "" "$(se_psql pg1 -c "SELECT * FROM streamext.maintain_partitions('tp_src')")"

# Retention: paused, the January partitions are older than 30 days; maintain_partitions drops them.
se_psql pg1 -c "SELECT streamext.pause_source('tp_src')"
se_psql pg1 -c "SELECT streamext.alter_source('tp_src', '{\"time_partition\": {\"column\": \"event_time\", \"interval\": \"1 day\", \"premake\": 2, \"retention\": \"30 days\"}}')"
se_assert_eq "dropped by retention" \
	"dropped|public.trucks_p20260101 dropped|public.trucks_p20260102 dropped|public.trucks_p20260103 dropped|public.trucks_p20260104 dropped|public.trucks_p20260105 dropped|public.trucks_p20260106 dropped|public.trucks_p20260107" \
	"$(se_psql pg1 -c "SELECT string_agg(action || '|' || partition, ' ' ORDER BY partition) FROM streamext.maintain_partitions('tp_src')")"
se_assert_eq "partitions left" 3 "$(se_psql pg1 -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'trucks'::regclass")"
expect_error 'has no time_partition option' "SELECT streamext.create_source('other', '$B', 'nothing', 'plain'); SELECT streamext.maintain_partitions('other')"
expect_error 'source "nope" does not exist' "SELECT streamext.maintain_partitions('nope')"

# Unroutable rows go to the dead letters with a clear error; a current row lands.
se_psql pg1 -c "SELECT streamext.resume_source('tp_src')"
{
	echo '{"device_id": "x", "seq": 100001, "event_time": null}'
	echo '{"device_id": "x", "seq": 100002, "event_time": "infinity"}'
	echo '{"device_id": "x", "seq": 100003, "event_time": "2026-01-02T00:00:00Z"}'
	echo "{\"device_id\": \"x\", \"seq\": 100004, \"event_time\": \"$(date -u -d '+3 days' +%Y-%m-%dT12:00:00Z)\"}"
	echo '{"device_id": "x", "seq": 100005}'
} | "$SE_TOOLS/se-produce" --brokers "$B" --topic tp --partition 1 --stdin 2>/dev/null
se_wait_for pg1 60 "SELECT (SELECT count(*) FROM streamext.dead_letters) + (SELECT count(*) FROM trucks WHERE seq > 100000) >= 5" \
	|| se_die "the 5 messages did not arrive"
sleep 1
se_psql pg1 -c "SELECT convert_from(payload, 'UTF8'), error FROM streamext.dead_letters ORDER BY \"offset\"" | while read -r l; do se_log "dead letter: $l"; done
se_assert_eq "dead letters" 4 "$(se_psql pg1 -c 'SELECT count(*) FROM streamext.dead_letters')"
se_assert_eq "null key" 2 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE error = 'time_partition column \"event_time\" is null, so no partition can hold the row'")"
se_assert_eq "infinite key" 1 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE error LIKE 'time_partition column \"event_time\" is infinity, for which no partition can be created'")"
se_assert_eq "expired key" 1 "$(se_psql pg1 -c "SELECT count(*) FROM streamext.dead_letters WHERE error LIKE '%older than the retention allows%'")"
se_assert_eq "current row landed (premade partition + 1 new on demand)" 1 "$(se_psql pg1 -c 'SELECT count(*) FROM trucks WHERE seq = 100004')"
se_assert_eq "rows left (January dropped by retention)" 1 "$(se_psql pg1 -c 'SELECT count(*) FROM trucks')"
se_assert_eq "source state" "running|" "$(se_psql pg1 -c "SELECT state, last_error FROM streamext.source_status WHERE source = 'tp_src'")"

# Calendar months on a date key, into a table whose name needs quoting.
se_broker_cmd topic tm 1 >/dev/null
se_psql pg1 -c 'CREATE TABLE "Ev ""Q"" Months" (d date, n int) PARTITION BY RANGE (d)'
se_psql pg1 -c "SELECT streamext.create_source('months', '$B', 'tm', '\"Ev \"\"Q\"\" Months\"', 'json',
	'{\"time_partition\": {\"column\": \"d\", \"interval\": \"1 month\", \"premake\": 0}}')"
printf '%s\n' '{"d": "2026-01-15", "n": 1}' '{"d": "2026-02-01", "n": 2}' '{"d": "2026-02-28", "n": 3}' '{"d": "2025-12-31", "n": 4}' \
	| "$SE_TOOLS/se-produce" --brokers "$B" --topic tm --partition 0 --stdin 2>/dev/null
se_wait_for pg1 60 "SELECT count(*) = 4 FROM \"Ev \"\"Q\"\" Months\"" || se_die "the month rows did not arrive"
se_assert_eq "month partitions" \
	"Ev \"Q\" Months_p20251201:FOR VALUES FROM ('2025-12-01') TO ('2026-01-01') Ev \"Q\" Months_p20260101:FOR VALUES FROM ('2026-01-01') TO ('2026-02-01') Ev \"Q\" Months_p20260201:FOR VALUES FROM ('2026-02-01') TO ('2026-03-01') Ev \"Q\" Months_p$(date -u +%Y%m)01:FOR VALUES FROM ('$(date -u +%Y-%m)-01') TO ('$(date -u -d "$(date -u +%Y-%m-15) +1 month" +%Y-%m)-01')" \
	"$(se_psql pg1 -c "SELECT string_agg(c.relname || ':' || pg_get_expr(c.relpartbound, c.oid), ' ' ORDER BY c.relname)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '\"Ev \"\"Q\"\" Months\"'::regclass")"
se_assert_eq "month rows per partition" "1 1 2" "$(se_psql pg1 -c "SELECT string_agg(n::text, ' ' ORDER BY t) FROM
	(SELECT tableoid::regclass::text t, count(*) n FROM \"Ev \"\"Q\"\" Months\" GROUP BY 1) x")"
se_assert_eq "long names are shortened to 63 bytes" \
	"$(printf 'é%.0s' {1..26})_p20260101|$(printf 'é%.0s' {1..25})_p20260101_2" "$(se_psql pg1 -c "SELECT
	streamext._tp_name(repeat('é', 40), '_p20260101'), streamext._tp_name(repeat('é', 40), '_p20260101_2')")"

# Concurrent creators (workers of one source, maintain_partitions): each partition is made once.
se_psql pg1 -c "CREATE TABLE race (t timestamptz) PARTITION BY RANGE (t)"
pids=()
for i in 1 2 3 4; do
	se_psql pg1 -c "SELECT count(*) FROM streamext._tp_ensure('race', '{\"time_partition\": {\"column\": \"t\", \"interval\": \"1 hour\"}}',
		ARRAY['2026-03-01 10:30'::timestamp], 3)" >"$SE_WORK/race.$i" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || se_die "a concurrent creator failed: $(cat "$SE_WORK"/race.*)"; done
se_assert_eq "partitions created by 4 racing creators" 4 "$(awk '{s += $1} END {print s}' "$SE_WORK"/race.*)"
se_assert_eq "hourly partitions" "race_p20260301_1000 race_p20260301_1100 race_p20260301_1200 race_p20260301_1300" \
	"$(se_psql pg1 -c "SELECT string_agg(inhrelid::regclass::text, ' ' ORDER BY inhrelid::regclass::text) FROM pg_inherits WHERE inhparent = 'race'::regclass")"

# A DEFAULT partition takes rows without a partition; a premade one that would conflict with its
# rows is skipped with a warning, the others are made, and the retention still drops.
se_psql pg1 <<'SQL'
CREATE TABLE withdef (t timestamptz) PARTITION BY RANGE (t);
CREATE TABLE withdef_default PARTITION OF withdef DEFAULT;
CREATE TABLE withdef_old PARTITION OF withdef FOR VALUES FROM ('2000-01-01') TO ('2000-01-02');
INSERT INTO withdef VALUES (now() + interval '1 day');
SQL
se_psql pg1 -c "SELECT streamext.create_source('withdef', '$B', 'nothing-here', 'withdef', 'json',
	'{\"time_partition\": {\"column\": \"t\", \"interval\": \"1 day\", \"premake\": 2, \"retention\": \"7 days\"}}')"
se_wait_for pg1 30 "SELECT to_regclass('withdef_old') IS NULL" || se_die "withdef_old was not dropped"
se_assert_eq "made around the default partition's rows" "withdef_default withdef_p$(date -u +%Y%m%d) withdef_p$(date -u -d '+2 days' +%Y%m%d)" \
	"$(se_psql pg1 -c "SELECT string_agg(inhrelid::regclass::text, ' ' ORDER BY inhrelid::regclass::text) FROM pg_inherits WHERE inhparent = 'withdef'::regclass")"
se_psql pg1 -c "SELECT streamext.drop_source('withdef')"
