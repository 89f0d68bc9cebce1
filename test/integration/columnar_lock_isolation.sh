#!/usr/bin/env bash
# Row locks and concurrent writers of versioned_columnar tables, with PostgreSQL's isolation
# tester (test/isolation/specs): columnar_lock_epq must print exactly what the same spec prints
# on heap tables (it is also run on heap copies against the same expected file, so the
# expectation is the heap's behaviour); columnar_lock_coarse shows the documented coarser lock.
. "$SE_LIB"; se_test_begin
iso=$(dirname "$(pg_config --pgxs)")/../test/isolation/pg_isolation_regress
[ -x "$iso" ] || se_die "pg_isolation_regress not found at $iso"
se_pg_start pg1 "max_prepared_transactions = 2"
se_psql pg1 -c "CREATE DATABASE isolation_columnar"
export SE_DB=isolation_columnar
se_psql pg1 -c "CREATE EXTENSION streamext"

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

# a transaction that only locked rows of a gold table can be prepared (the lock goes with it);
# one that wrote to it can too (its rows appear at COMMIT PREPARED), and only that one makes a version
se_psql pg1 -c "CREATE TABLE p (k int) USING versioned_columnar" -c "INSERT INTO p VALUES (1)"
se_psql pg1 -c "BEGIN; SELECT * FROM p FOR UPDATE; PREPARE TRANSACTION 'lock_only'" >/dev/null
se_assert_eq "prepared row lock held" "1" "$(se_psql pg1 -c "SELECT count(*) FROM pg_prepared_xacts")"
se_assert_eq "lock held by the prepared transaction" "could not obtain lock on row in relation \"p\"" \
	"$(se_psql pg1 -c "SELECT * FROM p FOR SHARE NOWAIT" 2>&1 | sed -n 's/^ERROR:  //p')"
se_psql pg1 -c "COMMIT PREPARED 'lock_only'"
se_assert_eq "lock released by COMMIT PREPARED" "1" "$(se_psql pg1 -c "SELECT k FROM p FOR SHARE NOWAIT")"
se_psql pg1 -c "BEGIN; INSERT INTO p VALUES (2); PREPARE TRANSACTION 'w'" >/dev/null
se_assert_eq "prepared rows not visible yet" "1" "$(se_psql pg1 -c "SELECT count(*) FROM p")"
se_psql pg1 -c "COMMIT PREPARED 'w'"
se_assert_eq "prepared rows visible after COMMIT PREPARED" "2" "$(se_psql pg1 -c "SELECT count(*) FROM p")"
se_assert_eq "versions: the two writes, not the lock" "1 WRITE,2 WRITE" \
	"$(se_psql pg1 -c "SELECT string_agg(version || ' ' || operation, ',' ORDER BY version) FROM streamext.history('p')")"
se_assert_eq "nothing prepared" "0" "$(se_psql pg1 -c "SELECT count(*) FROM pg_prepared_xacts")"
