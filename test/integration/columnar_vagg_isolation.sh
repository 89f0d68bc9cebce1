#!/usr/bin/env bash
# PostgreSQL's isolation tester over VectorizedAgg (test/isolation/columnar_vagg_*.spec): the
# vectorized aggregation, count(*) from segment metadata included, answers from the query's
# snapshot while another session writes, as a heap twin does; each output compared with its .out.
# The tester orders the sessions' steps itself: no sleeps.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 -c "SHOW streamext.enable_vectorized_agg" >/dev/null ||
	se_die "streamext.enable_vectorized_agg does not exist: no vectorized aggregation to test"
se_isolation_specs pg1 columnar_vagg_ 1
