#!/usr/bin/env bash
# PostgreSQL's isolation tester over streamext.vacuum: the specs in
# test/isolation/columnar_vacuum_*.spec (a reader of an old version in flight, a writer
# arriving during the removal), each output compared with its .out.  The tester waits until
# a step is seen blocked in pg_locks: no sleeps.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_isolation_specs pg1 columnar_vacuum_ 2
