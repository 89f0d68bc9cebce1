#!/usr/bin/env bash
# PostgreSQL's isolation tester over streamext.optimize: the specs in
# test/isolation/columnar_optimize_*.spec (concurrent INSERT, DELETE, UPDATE and TRUNCATE
# writers; readers that never wait; the exclusion with streamext.vacuum), each output compared
# with its .out.  The tester waits until a step is seen blocked in pg_locks: no sleeps.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_isolation_specs pg1 columnar_optimize_ 2
