#!/usr/bin/env bash
# Two writers commit to one versioned_columnar table at the same time while a reader runs
# repeatable-read transactions: both writers succeed, versions are contiguous with strictly
# increasing commit times, the reader's snapshot never moves, and verify() passes.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 -c "CREATE TABLE c (w int, n int, payload text) USING versioned_columnar"

writer() {
	local w=$1 i
	for i in $(seq 1 40); do
		se_psql pg1 -c "BEGIN; INSERT INTO c SELECT $w, $i * 1000 + g, md5(g::text) FROM generate_series(1, 500) g;
			DELETE FROM c WHERE w = $w AND n = $i * 1000 + 7; COMMIT;"
	done
}
reader() {
	local i
	for i in $(seq 1 30); do
		se_psql pg1 -c "BEGIN ISOLATION LEVEL REPEATABLE READ;
			CREATE TEMP TABLE IF NOT EXISTS seen (a bigint, b bigint);
			INSERT INTO seen SELECT count(*), (SELECT count(*) FROM streamext.history('c')) FROM c;
			SELECT pg_sleep(0.05);
			INSERT INTO seen SELECT count(*), (SELECT count(*) FROM streamext.history('c')) FROM c;
			SELECT count(DISTINCT (a, b)) FROM seen;
			DROP TABLE seen;
			COMMIT;" | grep -qx 1 || { echo "reader snapshot moved" >&2; return 1; }
	done
}
writer 1 & p1=$!
writer 2 & p2=$!
reader & p3=$!
wait $p1 || se_die "writer 1 failed"
wait $p2 || se_die "writer 2 failed"
wait $p3 || se_die "reader failed"

se_assert_eq "versions" "80" "$(se_psql pg1 -c "SELECT count(*) FROM streamext.history('c')")"
se_assert_eq "contiguous" "80" "$(se_psql pg1 -c "SELECT max(version) FROM streamext.history('c')")"
se_assert_eq "commit times strictly increase" "t" "$(se_psql pg1 -c "
	SELECT bool_and(committed_at > prev) FROM (SELECT committed_at,
	lag(committed_at) OVER (ORDER BY version) prev FROM streamext.history('c')) x WHERE prev IS NOT NULL")"
se_assert_eq "rows" "$((2 * 40 * 500 - 2 * 40))" "$(se_psql pg1 -c "SELECT count(*) FROM c")"
se_assert_eq "rows of each version add up" "t" "$(se_psql pg1 -c "
	SELECT bool_and(n = (SELECT sum(rows_added - rows_removed) FROM streamext.history('c') h2 WHERE h2.version <= h.version))
	FROM (SELECT version, (SELECT count(*) FROM streamext.as_of(NULL::c, h.version)) n FROM streamext.history('c') h
		  WHERE version % 10 = 0) h")"
se_psql pg1 -c "SELECT streamext.verify('c')"

# conflicting deletes of one row: under READ COMMITTED the second deleter waits for the first,
# then finds the row gone and skips it; under REPEATABLE READ it fails to serialize
se_psql pg1 -c "CREATE TABLE k (id int) USING versioned_columnar" -c "INSERT INTO k SELECT generate_series(1, 10)"
se_psql pg1 -c "BEGIN; DELETE FROM k WHERE id = 1; SELECT pg_sleep(2); COMMIT;" >/dev/null & pa=$!
sleep 0.7
se_assert_eq "read committed: second delete skips the deleted row" "" \
	"$(se_psql pg1 -c "DELETE FROM k WHERE id = 1 RETURNING id")"
wait $pa
se_psql pg1 -c "BEGIN; DELETE FROM k WHERE id = 2; SELECT pg_sleep(2); COMMIT;" >/dev/null & pa=$!
sleep 0.7
rr=$(se_psql pg1 -c "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM k;
	DELETE FROM k WHERE id = 2; COMMIT;" 2>&1 || true)
wait $pa
case $rr in
*"could not serialize access"*) se_log "ok: repeatable read: serialization failure" ;;
*) se_die "repeatable read: expected a serialization failure, got: $rr" ;;
esac
se_assert_eq "rows left" "8" "$(se_psql pg1 -c "SELECT count(*) FROM k")"
se_assert_eq "one version per committed delete" "3" "$(se_psql pg1 -c "SELECT count(*) FROM streamext.history('k')")"
se_psql pg1 -c "SELECT streamext.verify('k')"
