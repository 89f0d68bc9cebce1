#!/usr/bin/env bash
# PostgreSQL's isolation tester over streamext.vacuum: the specs in
# test/isolation/columnar_vacuum_*.spec (a reader of an old version in flight, a writer
# arriving during the removal), each output compared with its .out.  The tester waits until
# a step is seen blocked in pg_locks: no sleeps.
. "$SE_LIB"; se_test_begin
iso=$(dirname "$(pg_config --pgxs)")/../test/isolation/isolationtester
[ -x "$iso" ] || se_die "isolationtester not found at $iso"
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
conn="host=$SE_WORK/pg port=$(se_pg_port pg1) user=postgres dbname=postgres"
n=0
for spec in "$SE_SRC"/test/isolation/columnar_vacuum_*.spec; do
	name=$(basename "$spec" .spec)
	timeout 300 "$iso" "$conn" <"$spec" >"$SE_WORK/$name.out" 2>&1 ||
		{ cat "$SE_WORK/$name.out"; se_die "$name: isolationtester failed"; }
	diff -u "${spec%.spec}.out" "$SE_WORK/$name.out" || se_die "$name: output differs"
	se_log "ok: $name"
	n=$((n + 1))
done
se_assert_eq "specs run" "1" "$n"
