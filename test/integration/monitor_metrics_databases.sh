#!/usr/bin/env bash
# streamext.metrics() of one database reports the batches of that database's pipelines only.
# Pipeline ids come from each database's own sequence, so two databases both have a pipeline 1;
# the shared-memory counters behind the batch-duration histogram were keyed by id alone, so
# each database's histogram counted the other's batches too (its _count disagreed with
# streamext_pipeline_batches_total).  Also DESIGN.md's "one structured log line per batch at
# DEBUG1": a run_pipeline batch logs exactly one line, the key=value one.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE DATABASE other"
for db in postgres other; do
	SE_DB=$db se_psql pg1 <<'SQL'
CREATE EXTENSION streamext;
CREATE TABLE src (k int);
CREATE TABLE dst (k int);
SELECT streamext.create_pipeline('p', 'src', 'dst', NULL, '{"trigger": "manual"}');
SQL
done
se_assert_eq "the same pipeline id in both databases" "1|1" \
	"$(se_psql pg1 -c "SELECT id FROM streamext.pipelines")|$(SE_DB=other se_psql pg1 -c "SELECT id FROM streamext.pipelines")"

# one batch in postgres, three in other
se_psql pg1 -c "INSERT INTO src VALUES (1)" -c "SELECT streamext.run_pipeline('p')" >/dev/null
for i in 1 2 3; do
	SE_DB=other se_psql pg1 -c "INSERT INTO src VALUES ($i)" -c "SELECT streamext.run_pipeline('p')" >/dev/null
done

metric() { # DB NAME: the value of the pipeline "p" sample of metric NAME in DB's metrics()
	SE_DB=$1 se_psql pg1 -c "SELECT streamext.metrics()" | sed -n "s/^$2{pipeline=\"p\"} //p"
}
se_assert_eq "postgres: batches_total" 1 "$(metric postgres streamext_pipeline_batches_total)"
se_assert_eq "postgres: histogram count" 1 "$(metric postgres streamext_pipeline_batch_duration_seconds_count)"
se_assert_eq "other: batches_total" 3 "$(metric other streamext_pipeline_batches_total)"
se_assert_eq "other: histogram count" 3 "$(metric other streamext_pipeline_batch_duration_seconds_count)"

# one log line per batch at DEBUG1 (the client sees the server's messages at that level)
se_psql pg1 -c "INSERT INTO src VALUES (2)" >/dev/null
lines=$(se_psql pg1 -c "SET client_min_messages = debug1" -c "SELECT streamext.run_pipeline('p')" 2>&1 >/dev/null |
	grep -c 'pipeline.\{1,2\}p.\{0,2\} batch' || true)
se_assert_eq "log lines of one batch at DEBUG1" 1 "$lines"
se_psql pg1 -c "INSERT INTO src VALUES (3)" >/dev/null
line=$(se_psql pg1 -c "SET client_min_messages = debug1" -c "SELECT streamext.run_pipeline('p')" 2>&1 >/dev/null |
	grep 'batch=' || true)
se_log "the line: $line"
[[ $line == *'pipeline="p" batch=3 rows_in=1 rows_out=1 '* ]] || se_die "not the structured line: $line"
