#!/usr/bin/env bash
# Issue 11, retention safety: time_partition retention never drops a bronze partition holding rows a
# pipeline has not processed, whoever owns the pipeline (row-level security hides other roles'
# pipelines from the source's owner, not from retention); it says so in maintain_partitions, in the
# log (once per partition) and in source_status.hint; once the pipelines have read the rows, the
# partition goes.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic ret:1
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }
log_lines() { grep -c "is past the retention but kept" "$(se_pg_dir pg1).log" || true; }

se_psql pg1 <<'SQL'
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
GRANT CREATE ON SCHEMA public TO alice, bob;
SQL
as alice -f - <<'SQL'
CREATE TABLE bronze (device_id text, event_time timestamptz NOT NULL, seq bigint) PARTITION BY RANGE (event_time);
CREATE TABLE bronze_p20260101 PARTITION OF bronze FOR VALUES FROM ('2026-01-01 00:00+00') TO ('2026-01-02 00:00+00');
CREATE TABLE bronze_p20260102 PARTITION OF bronze FOR VALUES FROM ('2026-01-02 00:00+00') TO ('2026-01-03 00:00+00');
INSERT INTO bronze SELECT 'd' || i % 4, timestamptz '2026-01-01 00:00+00' + i * interval '1 minute', i
	FROM generate_series(0, 2879) i;
CREATE TABLE silver_a (device_id text, event_time timestamptz, seq bigint);
GRANT SELECT ON bronze TO bob;
SELECT streamext.create_pipeline('alice_p', 'bronze', 'silver_a', 'SELECT device_id, event_time, seq FROM batch',
	'{"trigger": "manual"}');
SQL
as bob -f - <<'SQL'
CREATE TABLE silver_b (device_id text, event_time timestamptz, seq bigint);
SELECT streamext.create_pipeline('bob_p', 'bronze', 'silver_b', 'SELECT device_id, event_time, seq FROM batch',
	'{"trigger": "manual"}');
SQL
se_assert_eq "rows in the expired partitions" 2880 "$(se_psql pg1 -c "SELECT count(*) FROM bronze")"

# The source's worker maintains the partitions when it starts: both expired partitions are kept.
as alice -c "SELECT streamext.create_source('ret_src', '$SE_BOOTSTRAP', 'ret', 'bronze',
	options => '{\"time_partition\": {\"column\": \"event_time\", \"interval\": \"1 day\", \"premake\": 1, \"retention\": \"30 days\"}}')"
se_wait_for pg1 60 "SELECT hint LIKE 'retention waits for pipeline %' FROM streamext.source_status WHERE source = 'ret_src'" ||
	se_die "no retention hint: $(se_psql pg1 -c "SELECT state, workers, hint FROM streamext.source_status")"
se_log "hint: $(se_psql pg1 -c "SELECT hint FROM streamext.source_status WHERE source = 'ret_src'")"
se_assert_eq "log lines (one per kept partition)" 2 "$(log_lines)"
grep "is past the retention but kept" "$(se_pg_dir pg1).log" | sed 's/^/    /' >&2
se_assert_eq "partitions kept" "bronze_p20260101 bronze_p20260102" \
	"$(se_psql pg1 -c "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'bronze'::regclass AND c.relname < 'bronze_p202602'")"

# maintain_partitions as the source's owner says why; alice's own pipeline catches up, bob's still has to read.
se_assert_eq "maintain_partitions while both pipelines have to read" \
	"waiting|public.bronze_p20260101 waiting|public.bronze_p20260102" \
	"$(as alice -c "SELECT string_agg(action || '|' || partition, ' ' ORDER BY partition) FROM streamext.maintain_partitions('ret_src') WHERE partition LIKE '%202601%'")"
as alice -c "SELECT streamext.run_pipeline('alice_p')" >/dev/null
se_assert_eq "alice's silver" 2880 "$(se_psql pg1 -c "SELECT count(*) FROM silver_a")"
out=$(as alice -c "SELECT string_agg(action || '|' || partition || '|' || coalesce(reason, ''), ' ' ORDER BY partition) FROM streamext.maintain_partitions('ret_src') WHERE partition LIKE '%202601%'")
se_log "maintain_partitions: $out"
case $out in
waiting*bob_p*waiting*bob_p*) ;;
*) se_die "retention does not wait for bob's pipeline (invisible to alice): $out" ;;
esac

# bob's pipeline reads the rows: retention drops both partitions.
as bob -c "SELECT streamext.run_pipeline('bob_p')" >/dev/null
se_assert_eq "bob's silver" 2880 "$(se_psql pg1 -c "SELECT count(*) FROM silver_b")"
se_assert_eq "maintain_partitions once every pipeline has read" \
	"dropped|public.bronze_p20260101 dropped|public.bronze_p20260102" \
	"$(as alice -c "SELECT string_agg(action || '|' || partition, ' ' ORDER BY partition) FROM streamext.maintain_partitions('ret_src') WHERE partition LIKE '%202601%'")"
se_assert_eq "expired partitions left" 0 \
	"$(se_psql pg1 -c "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'bronze'::regclass AND c.relname < 'bronze_p202602'")"
se_log "pipeline_retention: all checks passed"
