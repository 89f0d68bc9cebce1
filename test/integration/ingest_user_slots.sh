#!/usr/bin/env bash
# Issue 10, item 7: worker-slot starvation.  A source asking for {"parallelism": 64} must not take
# every streamext.max_source_workers slot: parallelism is bounded by streamext.max_workers_per_source,
# slots are shared fairly (every running source gets one worker before any gets more, whoever owns
# it), and a source that cannot get a worker says so in source_status (state no_workers, hint).
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "streamext.max_source_workers = 4"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic wide:8 --topic small:2
se_psql pg1 <<'SQL'
CREATE ROLE us_alice LOGIN;
CREATE ROLE us_bob LOGIN;
CREATE TABLE us_a (device_id text, seq bigint);
CREATE TABLE us_b (device_id text, seq bigint);
GRANT INSERT ON us_a TO us_alice;
GRANT INSERT ON us_b TO us_bob;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }
workers() { se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'streamext source' AND application_name = '$1'"; }
status() { se_psql pg1 -c "SELECT state, workers, hint FROM streamext.source_status WHERE source = '$1'"; }

# Alone, alice's source gets every slot it may have: 4 of the 8 per-source maximum.
as us_alice -c "SELECT streamext.create_source('greedy', '$SE_BOOTSTRAP', 'wide', 'us_a', options => '{\"parallelism\": 64}')"
se_wait_for pg1 30 "SELECT workers = 4 FROM streamext.source_status WHERE source = 'greedy'" || se_die "greedy: $(status greedy)"
se_assert_eq "greedy: hint" t "$(se_psql pg1 -c "SELECT hint LIKE 'runs 4 of the 8 workers it wants%' FROM streamext.source_status WHERE source = 'greedy'")"

# Bob's new source (no options: one worker per partition of its 2, at most one per core) gets
# its workers: greedy gives them back.
cores=$(getconf _NPROCESSORS_ONLN)
small=$(( cores < 2 ? 1 : 2 ))
as us_bob -c "SELECT streamext.create_source('modest', '$SE_BOOTSTRAP', 'small', 'us_b')"
se_wait_for pg1 30 "SELECT workers = $small AND state <> 'no_workers' FROM streamext.source_status WHERE source = 'modest'" ||
	se_die "modest has not its $small workers: $(status modest); greedy: $(status greedy)"
se_wait_for pg1 30 "SELECT count(*) = 4 FROM pg_stat_activity WHERE backend_type = 'streamext source'" ||
	se_die "not 4 workers in all: $(se_psql pg1 -c 'SELECT source, state, workers FROM streamext.source_status')"
se_assert_eq "greedy keeps the rest" $((4 - small)) "$(workers greedy)"
se_assert_eq "modest" $small "$(workers modest)"

# Three more of bob's sources: four slots, five sources, so one source gets none and says why.
for s in b3 b4 b5; do
	as us_bob -c "SELECT streamext.create_source('$s', '$SE_BOOTSTRAP', 'small', 'us_b')"
done
se_wait_for pg1 30 "SELECT count(*) = 1 FROM streamext.source_status WHERE state = 'no_workers'" ||
	se_die "no source in state no_workers: $(se_psql pg1 -c 'SELECT source, state, workers, hint FROM streamext.source_status')"
se_wait_for pg1 30 "SELECT count(*) = 4 FROM streamext.source_status WHERE workers = 1" ||
	se_die "not one worker each: $(se_psql pg1 -c 'SELECT source, state, workers, hint FROM streamext.source_status')"
se_assert_eq "the source without a worker is the newest" "b5|0" "$(se_psql pg1 -c "SELECT source, workers FROM streamext.source_status WHERE state = 'no_workers'")"
se_assert_eq "its hint" t "$(se_psql pg1 -c "SELECT hint LIKE 'no worker: all 4 streamext.max_source_workers are taken by other sources%' FROM streamext.source_status WHERE source = 'b5'")"
se_assert_eq "never more workers than slots" 4 "$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'streamext source'")"
se_assert_eq "no worker failed for want of a slot" 0 "$(grep -c 'too many streamext source workers' "$(se_pg_dir pg1).log" || true)"

# When slots free up, it gets one.
as us_bob -c "SELECT streamext.drop_source('b3')"
se_wait_for pg1 30 "SELECT workers = 1 AND state <> 'no_workers' FROM streamext.source_status WHERE source = 'b5'" || se_die "b5: $(status b5)"
for s in b4 b5 modest; do as us_bob -c "SELECT streamext.drop_source('$s')"; done
se_wait_for pg1 30 "SELECT workers = 4 FROM streamext.source_status WHERE source = 'greedy'" || se_die "greedy alone: $(status greedy)"

# streamext.max_workers_per_source bounds parallelism (SIGHUP).
se_psql pg1 -c "ALTER SYSTEM SET streamext.max_workers_per_source = 2" -c "SELECT pg_reload_conf()" >/dev/null
se_wait_for pg1 30 "SELECT workers = 2 FROM streamext.source_status WHERE source = 'greedy'" || se_die "greedy: $(status greedy)"
se_assert_eq "greedy: hint" "parallelism 64 is above streamext.max_workers_per_source: runs at most 2 workers" \
	"$(se_psql pg1 -c "SELECT hint FROM streamext.source_status WHERE source = 'greedy'")"
se_assert_eq "greedy's worker processes" 2 "$(workers greedy)"
