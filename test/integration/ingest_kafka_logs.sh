#!/usr/bin/env bash
# Issue 10, item 11: librdkafka's log lines reach the server log through ereport, with the source's
# name (never raw "%3|...|FAIL|..." lines); an outage of a one-broker cluster is reported as one
# broker, with its address and the reason; a source whose consumer holds no partitions (another
# member of its group took them all) shows that in source_status.assigned_partitions.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic logs:2 --topic one:1
log=$(se_pg_dir pg1).log
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic logs --count 100 --devices 8 2>/dev/null
se_psql pg1 -c "CREATE TABLE logs (device_id text, seq bigint)"
se_psql pg1 -c "SELECT streamext.create_source('logs_src', '$SE_BOOTSTRAP', 'logs', 'logs')"
se_wait_for pg1 60 "SELECT count(*) = 100 FROM logs" || se_die "rows did not arrive"

# An outage: one broker, named with its address and the reason.
se_assert_eq "down all" ok "$(se_broker_cmd down all)"
se_wait_for pg1 30 "SELECT state = 'disconnected' FROM streamext.source_status WHERE source = 'logs_src'" || se_die "no outage shown"
addr=${SE_BOOTSTRAP%%,*}
# The reason may follow the first report (librdkafka does not report a connection the broker closed).
se_wait_for pg1 15 "SELECT last_error LIKE 'brokers down: 1 broker unreachable: $addr (%Connection refused%' FROM streamext.source_status WHERE source = 'logs_src'" ||
	se_die "last_error does not name the one broker, its address and the reason: $(se_psql pg1 -c "SELECT last_error FROM streamext.source_status WHERE source = 'logs_src'")"
se_log "last_error during the outage: $(se_psql pg1 -c "SELECT last_error FROM streamext.source_status WHERE source = 'logs_src'")"
# librdkafka logs the failed connections; they must come through ereport.
for _ in $(seq 1 100); do grep -q 'source "logs_src": Kafka client: ' "$log" && break; sleep 0.2; done
grep 'source "logs_src": Kafka client: ' "$log" | head -3 >&2 || se_die "no librdkafka log line came through ereport"
se_assert_eq "up all" ok "$(se_broker_cmd up all)"
se_wait_for pg1 30 "SELECT state = 'running' AND last_error IS NULL FROM streamext.source_status WHERE source = 'logs_src'" || se_die "not running again"
se_wait_for pg1 30 "SELECT assigned_partitions = 2 FROM streamext.source_status WHERE source = 'logs_src'" ||
	se_die "assigned_partitions: $(se_psql pg1 -c "SELECT assigned_partitions FROM streamext.source_status WHERE source = 'logs_src'")"

# Two sources in one consumer group on a one-partition topic: one of them holds nothing (for it, the
# other is a foreign member that took every partition), and source_status says which.
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic one --count 10 --devices 2 2>/dev/null
se_psql pg1 -c "CREATE TABLE one (device_id text, seq bigint)"
se_psql pg1 -c "SELECT streamext.create_source('one_a', '$SE_BOOTSTRAP', 'one', 'one', options => '{\"group_id\": \"shared\"}')"
se_wait_for pg1 60 "SELECT count(*) = 10 FROM one" || se_die "rows of one did not arrive"
se_psql pg1 -c "SELECT streamext.create_source('one_b', '$SE_BOOTSTRAP', 'one', 'one', options => '{\"group_id\": \"shared\"}')"
# Both workers have been through the rebalance that let one_b join (each logs its assignment).
for _ in $(seq 1 150); do grep -q 'source "one_b" worker 0: assigned' "$log" && break; sleep 0.2; done
grep -q 'source "one_b" worker 0: assigned' "$log" || se_die "one_b did not join the group"
se_wait_for pg1 30 "SELECT sum(assigned_partitions) = 1 FROM streamext.source_status WHERE source IN ('one_a', 'one_b')" ||
	se_die "assignment: $(se_psql pg1 -c "SELECT * FROM streamext.source_status")"
se_assert_eq "workers and assigned partitions of one_a, one_b (one holds the partition, the other nothing)" "1|1 1|0" \
	"$(se_psql pg1 -c "SELECT workers, assigned_partitions FROM streamext.source_status WHERE source IN ('one_a', 'one_b') ORDER BY assigned_partitions DESC" | tr '\n' ' ' | sed 's/ $//')"
holder=$(se_psql pg1 -c "SELECT source FROM streamext.source_status WHERE source IN ('one_a', 'one_b') AND assigned_partitions = 1")
other=$(se_psql pg1 -c "SELECT source FROM streamext.source_status WHERE source IN ('one_a', 'one_b') AND assigned_partitions = 0")
se_log "$holder holds the partition, $other nothing"
# The holder goes away: the partition moves to the other.
se_psql pg1 -c "SELECT streamext.drop_source('$holder')"
se_wait_for pg1 60 "SELECT assigned_partitions = 1 FROM streamext.source_status WHERE source = '$other'" ||
	se_die "the partition did not move: $(se_psql pg1 -c "SELECT * FROM streamext.source_status")"

# Not one raw librdkafka line in the server log.
raw=$(grep -cE '^%[0-9]\|' "$log" || true)
se_assert_eq "raw librdkafka lines in the server log" 0 "$raw"
