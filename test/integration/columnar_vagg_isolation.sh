#!/usr/bin/env bash
# PostgreSQL's isolation tester over VectorizedAgg (test/isolation/columnar_vagg_*.spec): the
# vectorized aggregation, count(*) from segment metadata included, answers from the query's
# snapshot while another session writes, as a heap twin does; each output compared with its .out.
# The tester orders the sessions' steps itself: no sleeps.
. "$SE_LIB"; se_test_begin
iso=$(dirname "$(pg_config --pgxs)")/../test/isolation/isolationtester
[ -x "$iso" ] || se_die "isolationtester not found at $iso"
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 -c "SHOW streamext.enable_vectorized_agg" >/dev/null ||
	se_die "streamext.enable_vectorized_agg does not exist: no vectorized aggregation to test"
conn="host=$SE_WORK/pg port=$(se_pg_port pg1) user=postgres dbname=postgres"
n=0
for spec in "$SE_SRC"/test/isolation/columnar_vagg_*.spec; do
	name=$(basename "$spec" .spec)
	timeout 300 "$iso" "$conn" <"$spec" >"$SE_WORK/$name.out" 2>&1 ||
		{ cat "$SE_WORK/$name.out"; se_die "$name: isolationtester failed"; }
	diff -u "${spec%.spec}.out" "$SE_WORK/$name.out" || se_die "$name: output differs"
	se_log "ok: $name"
	n=$((n + 1))
done
se_assert_eq "specs run" "1" "$n"
