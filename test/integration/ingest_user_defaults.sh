#!/usr/bin/env bash
# Issue 10, "defaults must be fast": without a parallelism option a source runs one worker per
# Kafka partition it reads, at most one per CPU core (and at most streamext.max_workers_per_source);
# an explicit parallelism is kept.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic many:16 --topic one:1
cores=$(getconf _NPROCESSORS_ONLN)
auto=$(( cores < 8 ? cores : 8 ))
se_log "cores: $cores, expected automatic workers on 16 partitions: $auto"
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic many --count 20000 --devices 64 2>/dev/null
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic one --count 2000 --devices 64 2>/dev/null
se_psql pg1 <<'SQL'
CREATE TABLE ud_many (device_id text, seq bigint, _partition int, _offset bigint);
CREATE TABLE ud_one (LIKE ud_many);
CREATE TABLE ud_fixed (LIKE ud_many);
SQL
se_psql pg1 -c "SELECT streamext.create_source('ud_many', '$SE_BOOTSTRAP', 'many', 'ud_many')"
se_psql pg1 -c "SELECT streamext.create_source('ud_one', '$SE_BOOTSTRAP', 'one', 'ud_one')"
se_psql pg1 -c "SELECT streamext.create_source('ud_fixed', '$SE_BOOTSTRAP', 'many', 'ud_fixed', options => '{\"parallelism\": 1}')"
se_wait_for pg1 120 "SELECT (SELECT count(*) FROM ud_many) = 20000 AND (SELECT count(*) FROM ud_one) = 2000 AND (SELECT count(*) FROM ud_fixed) = 20000" ||
	se_die "not everything arrived: $(se_psql pg1 -c 'SELECT source, state, workers, rows FROM streamext.source_status')"
se_wait_for pg1 30 "SELECT workers = $auto FROM streamext.source_status WHERE source = 'ud_many'" ||
	se_die "ud_many: $(se_psql pg1 -c "SELECT workers, hint FROM streamext.source_status WHERE source = 'ud_many'") workers, want $auto"
se_assert_eq "one partition: one worker" 1 "$(se_psql pg1 -c "SELECT workers FROM streamext.source_status WHERE source = 'ud_one'")"
se_assert_eq "explicit parallelism 1" 1 "$(se_psql pg1 -c "SELECT workers FROM streamext.source_status WHERE source = 'ud_fixed'")"
se_assert_eq "worker processes of ud_many" $auto "$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'streamext source' AND application_name = 'ud_many'")"
# more messages still arrive exactly once after the workers were added
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic many --count 20000 --devices 64 --seed 7 2>/dev/null
se_wait_for pg1 120 "SELECT count(*) = 40000 FROM ud_many" || se_die "ud_many: $(se_psql pg1 -c 'SELECT count(*) FROM ud_many') rows"
sleep 1
se_assert_eq "rows, each once" "40000|40000" "$(se_psql pg1 -c "SELECT count(*), count(DISTINCT (_partition, _offset)) FROM ud_many")"
