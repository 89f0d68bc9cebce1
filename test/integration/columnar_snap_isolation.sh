#!/usr/bin/env bash
# PostgreSQL's isolation tester over versioned_columnar tables: the specs in
# test/isolation/columnar_snap_*.spec (unique and deferred unique keys of two
# sessions, cancel of a waiting insert, a dirty-snapshot reader waiting for the
# xid of an uncommitted segment, SERIALIZABLE write skew, CREATE INDEX
# CONCURRENTLY waiting for a writer), each output compared
# with its .out.  Sessions are synchronized by the tester, which waits until a
# step is seen blocked in pg_locks: no sleeps.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_isolation_specs pg1 columnar_snap_ 4
