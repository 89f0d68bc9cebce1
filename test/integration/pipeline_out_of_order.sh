#!/usr/bin/env bash
# PostgreSQL's isolation tester over pipelines: the specs in
# test/isolation/pipeline_*.spec (out-of-order commits on a heap source: a
# long transaction with early rows, writers committing in reverse xid order,
# a transaction older than create_pipeline; a writer committing while a batch
# waits between its snapshot and its read; a catch-up without a test per row
# while a transaction runs), each output compared with its .out.  Sessions
# are synchronized by the tester, which waits until a step is seen blocked
# in pg_locks: no sleeps.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_isolation_specs pg1 pipeline_ 3
