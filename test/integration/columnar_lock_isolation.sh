#!/usr/bin/env bash
# Row locks and concurrent writers of versioned_columnar tables, with PostgreSQL's isolation
# tester (test/isolation/specs): columnar_lock_epq must print exactly what the same spec prints
# on heap tables (it is also run on heap copies against the same expected file, so the
# expectation is the heap's behaviour); columnar_lock_coarse shows the documented coarser lock.
. "$SE_LIB"; se_test_begin
iso=$(dirname "$(pg_config --pgxs)")/../test/isolation/pg_isolation_regress
[ -x "$iso" ] || se_die "pg_isolation_regress not found at $iso"
se_pg_start pg1
se_psql pg1 -c "CREATE DATABASE isolation_columnar"
SE_DB=isolation_columnar se_psql pg1 -c "CREATE EXTENSION streamext"

dir=$SE_WORK/isolation
rm -rf "$dir"
mkdir -p "$dir/specs" "$dir/expected"
cp "$SE_SRC"/test/isolation/specs/*.spec "$dir/specs/"
cp "$SE_SRC"/test/isolation/expected/*.out "$dir/expected/"
# the heap twin of the spec that must behave as on the heap
sed 's/ USING versioned_columnar//' "$dir/specs/columnar_lock_epq.spec" >"$dir/specs/heap_lock_epq.spec"
cp "$dir/expected/columnar_lock_epq.out" "$dir/expected/heap_lock_epq.out"

status=0
"$iso" --use-existing --host="$SE_WORK/pg" --port="$(se_pg_port pg1)" --user=postgres \
	--dbname=isolation_columnar --bindir="$SE_BINDIR" --inputdir="$dir" --outputdir="$dir/out" \
	columnar_lock_epq heap_lock_epq columnar_lock_coarse || status=$?
if [ "$status" -ne 0 ]; then
	cat "$dir/out/regression.diffs" >&2 || true
	se_die "isolation tests failed"
fi
