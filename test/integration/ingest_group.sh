#!/usr/bin/env bash
# Issue 3, test 5: parallelism 4 over 8 partitions in one server, and two servers in one consumer
# group; one server stops gracefully mid-stream, its partitions move to the other, and the union of
# both tables holds every message exactly once.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_pg_start pg2
se_broker_start --brokers 1 --topic grp:8
N=80000
for pg in pg1 pg2; do
	se_psql $pg -c "CREATE EXTENSION streamext"
	se_psql $pg -c "CREATE TABLE grp (device_id text, seq bigint, _partition int, _offset bigint)"
done
se_psql pg1 -c "SELECT streamext.create_source('grp_src', '$SE_BOOTSTRAP', 'grp', 'grp', options => '{\"group_id\": \"shared\", \"parallelism\": 4}')"
# one worker on pg2 (without parallelism it would run one per core): fewer rebalances, during
# which the mock broker refuses offset commits (see docs/ingest.md)
se_psql pg2 -c "SELECT streamext.create_source('grp_src', '$SE_BOOTSTRAP', 'grp', 'grp', options => '{\"group_id\": \"shared\", \"parallelism\": 1}')"
se_wait_for pg1 30 "SELECT count(*) = 4 FROM pg_stat_activity WHERE backend_type = 'streamext source' AND application_name = 'grp_src'" || se_die "not 4 workers"
se_wait_for pg2 30 "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'streamext source' AND application_name = 'grp_src'" || se_die "no worker on pg2"
sleep 8   # let the group settle: the mock broker refuses offset commits while it rebalances
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic grp --count $N --devices 64 --rate 4000 2>"$SE_WORK/produce.log" &
producer=$!
se_wait_for pg1 60 "SELECT count(DISTINCT _partition) >= 6 FROM grp" || se_die "pg1's 4 workers did not write: $(se_psql pg1 -c 'SELECT * FROM streamext.source_status')"
se_assert_eq "workers of pg1" 4 "$(se_psql pg1 -c "SELECT workers FROM streamext.source_status WHERE source = 'grp_src'")"
se_wait_for pg2 60 "SELECT count(*) >= 500 FROM grp" || se_die "pg2 got nothing: $(se_psql pg2 -c 'SELECT * FROM streamext.source_status')"
se_log "pg2 has $(se_psql pg2 -c 'SELECT count(*) FROM grp') rows from partitions $(se_psql pg2 -c "SELECT string_agg(DISTINCT _partition::text, ',') FROM grp"); stopping it"
se_pg_stop pg2 fast
wait "$producer" || se_die "producer failed"

# Start it again without running the source (its launcher serves another database), to read its rows.
"$SE_BINDIR/pg_ctl" -D "$(se_pg_dir pg2)" -l "$(se_pg_dir pg2).log" -o "-c streamext.database=nonexistent" -w start >/dev/null
se_psql pg2 -c "\\copy (SELECT _partition, _offset FROM grp) TO '$SE_WORK/pg2.txt'"
n2=$(se_psql pg2 -c "SELECT count(*) FROM grp")
se_pg_stop pg2 fast
se_wait_for pg1 120 "SELECT count(*) + $n2 >= $N FROM grp" || se_die "union has $(( $(se_psql pg1 -c 'SELECT count(*) FROM grp') + n2 )) rows"
sleep 2
se_psql pg1 -c "CREATE TABLE grp2 (_partition int, _offset bigint)"
se_psql pg1 -c "\\copy grp2 FROM '$SE_WORK/pg2.txt'"
se_assert_eq "union rows" $N "$(se_psql pg1 -c "SELECT (SELECT count(*) FROM grp) + (SELECT count(*) FROM grp2)")"
se_assert_eq "distinct (partition, offset) in the union" $N "$(se_psql pg1 -c "SELECT count(DISTINCT (p, o)) FROM (SELECT _partition, _offset FROM grp UNION ALL SELECT * FROM grp2) u(p, o)")"
