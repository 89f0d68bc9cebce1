#!/usr/bin/env bash
# Issue 3, test 6 (lifecycle part): pause/resume, drop_source (workers gone within 2 s), a server
# restart (workers come back by themselves and resume exactly), start_from earliest/latest/timestamp.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic life:4 --topic late:2
produce() { "$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic "$1" --count "$2" --devices 32 --seed "${3:-1}" 2>/dev/null; }
rows() { se_psql pg1 -c "SELECT count(*) FROM $1"; }
workers() { se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'streamext source' AND application_name = '$1'"; }

se_psql pg1 -c "CREATE TABLE life (device_id text, seq bigint, _partition int, _offset bigint)"
produce life 1000
se_psql pg1 -c "SELECT streamext.create_source('life_src', '$SE_BOOTSTRAP', 'life', 'life', options => '{\"parallelism\": 2}')"
se_wait_for pg1 60 "SELECT count(*) = 1000 FROM life" || se_die "first 1000 rows did not arrive: $(rows life)"
se_wait_for pg1 10 "SELECT workers = 2 FROM streamext.source_status WHERE source = 'life_src'" || se_die "not 2 workers"
se_assert_eq "worker processes (parallelism 2)" 2 "$(workers life_src)"

# pause: the workers stop, nothing more arrives; resume: the rest arrives, once.
se_psql pg1 -c "SELECT streamext.pause_source('life_src')"
se_wait_for pg1 5 "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'life_src'" || se_die "workers still running after pause"
se_assert_eq "state after pause" "paused|0" "$(se_psql pg1 -c "SELECT state, workers FROM streamext.source_status WHERE source = 'life_src'")"
produce life 500 2
sleep 3
se_assert_eq "rows while paused" 1000 "$(rows life)"
se_psql pg1 -c "SELECT streamext.resume_source('life_src')"
se_wait_for pg1 60 "SELECT count(*) = 1500 FROM life" || se_die "rows after resume: $(rows life)"
se_assert_eq "state after resume" "running" "$(se_psql pg1 -c "SELECT state FROM streamext.source_status WHERE source = 'life_src'")"

# restart of the server: workers come back by themselves and continue where they stopped.
se_pg_stop pg1 fast
produce life 700 3
se_pg_start pg1
se_wait_for pg1 60 "SELECT count(*) = 2200 FROM life" || se_die "rows after restart: $(rows life)"
se_wait_for pg1 10 "SELECT count(*) = 2 FROM pg_stat_activity WHERE application_name = 'life_src'" || se_die "workers did not come back"
sleep 2
se_assert_eq "rows after restart" 2200 "$(rows life)"
se_assert_eq "no duplicates" 0 "$(se_psql pg1 -c "SELECT count(*) - count(DISTINCT (_partition, _offset)) FROM life")"

# drop: workers gone within 2 seconds, catalog rows gone.
start=$(date +%s%N)
se_psql pg1 -c "SELECT streamext.drop_source('life_src')"
se_wait_for pg1 2 "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'life_src'" || se_die "workers still there 2 s after drop_source"
se_log "workers gone $(( ($(date +%s%N) - start) / 1000000 )) ms after drop_source"
se_assert_eq "catalog after drop" "0|0|0" "$(se_psql pg1 -c "SELECT (SELECT count(*) FROM streamext.sources), (SELECT count(*) FROM streamext.source_offsets), (SELECT count(*) FROM streamext.source_status)")"
produce life 100 4
sleep 2
se_assert_eq "rows after drop" 2200 "$(rows life)"

# start_from: latest skips what is there; a timestamp starts at the first message at or after it.
produce late 300 5
sleep 1.5
t=$(se_psql pg1 -c "SELECT now()")
sleep 1.5
produce late 200 6
se_psql pg1 -c "CREATE TABLE late_earliest (seq bigint, _offset bigint); CREATE TABLE late_latest (like late_earliest); CREATE TABLE late_ts (like late_earliest)"
se_psql pg1 -c "SELECT streamext.create_source('late_earliest', '$SE_BOOTSTRAP', 'late', 'late_earliest', options => '{\"start_from\": \"earliest\"}')"
se_psql pg1 -c "SELECT streamext.create_source('late_latest', '$SE_BOOTSTRAP', 'late', 'late_latest', options => '{\"start_from\": \"latest\"}')"
se_psql pg1 -c "SELECT streamext.create_source('late_ts', '$SE_BOOTSTRAP', 'late', 'late_ts', options => jsonb_build_object('start_from', '$t'))"
se_wait_for pg1 60 "SELECT count(*) = 500 FROM late_earliest" || se_die "earliest: $(rows late_earliest)"
se_wait_for pg1 60 "SELECT count(*) = 200 FROM late_ts" || se_die "timestamp: $(rows late_ts)"
# both partitions assigned (latest resolved and stored for each), then caught up
se_wait_for pg1 30 "SELECT workers >= 1 AND lag = 0 FROM streamext.source_status WHERE source = 'late_latest'
	AND (SELECT count(*) FROM streamext.source_offsets WHERE source = 'late_latest') = 2" || se_die "latest source not caught up"
se_assert_eq "latest: nothing old" 0 "$(rows late_latest)"
produce late 50 7
se_wait_for pg1 60 "SELECT count(*) = 50 FROM late_latest" || se_die "latest: $(rows late_latest)"
sleep 1
se_assert_eq "start_from counts (earliest, latest, timestamp)" "550|50|250" "$(se_psql pg1 -c "SELECT (SELECT count(*) FROM late_earliest), (SELECT count(*) FROM late_latest), (SELECT count(*) FROM late_ts)")"
