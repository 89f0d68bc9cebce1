#!/usr/bin/env bash
# A randomized history of 36 transactions (inserts, deletes, updates, multi-statement
# transactions, savepoints, rollbacks, a TRUNCATE and a restore) on a versioned_columnar table,
# mirrored on a heap table: every version, read with as_of by number and by commit time,
# must equal the mirror's state after that version's transaction; rollbacks leave no version.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 <<'SQL'
SET streamext.columnar_segment_rows = 1000;
CREATE TABLE c (id int, grp int, val text, amount numeric(10,2)) USING versioned_columnar;
CREATE INDEX ON c (id);
CREATE TABLE m (id int, grp int, val text, amount numeric(10,2));
CREATE TABLE snaps (version bigint, id int, grp int, val text, amount numeric(10,2));
SQL

RANDOM=20241124
next_id=1
expected_version=0
# stmt appends one random statement, for both tables, to $sql (no subshell: next_id must move)
both() { sql+=$'\n'"${1//@T@/c}"$'\n'"${1//@T@/m}"; }

stmt() {
	local kind=$((RANDOM % 6)) n
	case $kind in
	0 | 1)
		n=$((RANDOM % 3000 + 1))
		both "INSERT INTO @T@ SELECT g, g % 17, 'v' || g, g / 7.0 FROM generate_series($next_id, $((next_id + n - 1))) g;"
		next_id=$((next_id + n))
		;;
	2) both "DELETE FROM @T@ WHERE grp = $((RANDOM % 17)) AND id % $((RANDOM % 5 + 2)) = 0;" ;;
	3) both "UPDATE @T@ SET val = val || 'u', amount = amount + 1 WHERE id % 97 = $((RANDOM % 97));" ;;
	4) both "DELETE FROM @T@ WHERE id BETWEEN $((RANDOM % (next_id + 1))) AND $((RANDOM % (next_id + 1)));" ;;
	5) both "INSERT INTO @T@ VALUES ($next_id, NULL, NULL, NULL);"; next_id=$((next_id + 1)) ;;
	esac
}

for tx in $(seq 1 36); do
	sql="BEGIN;"
	nstmts=$((RANDOM % 3 + 1))
	for _ in $(seq 1 $nstmts); do stmt; done
	if ((RANDOM % 4 == 0)); then
		sql+=$'\n'"SAVEPOINT s;"
		stmt
		sql+=$'\n'"ROLLBACK TO s;"
	fi
	if ((tx == 15)); then sql+=$'\n'"TRUNCATE c; TRUNCATE m;"; fi
	rollback=0
	if ((RANDOM % 5 == 0)); then rollback=1; sql+=$'\n'"ROLLBACK;"; else sql+=$'\n'"COMMIT;"; fi
	before=$(se_psql pg1 -c "SELECT coalesce(max(version), 0) FROM streamext.history('c')")
	se_psql pg1 -c "SET streamext.columnar_segment_rows = 1000" -c "$sql" >/dev/null
	after=$(se_psql pg1 -c "SELECT coalesce(max(version), 0) FROM streamext.history('c')")
	if ((rollback)); then
		se_assert_eq "tx $tx rolled back: no new version" "$before" "$after"
	elif ((after != before)); then
		se_assert_eq "tx $tx: exactly one new version" "$((before + 1))" "$after"
		se_psql pg1 -c "INSERT INTO snaps SELECT $after, * FROM m"
	fi
done

# the restore of an old version is a version too
target=$(se_psql pg1 -c "SELECT max(version) / 2 FROM streamext.history('c')")
se_psql pg1 -c "SELECT streamext.restore('c', $target)" >/dev/null
se_psql pg1 <<SQL
TRUNCATE m;
INSERT INTO m SELECT id, grp, val, amount FROM snaps WHERE version = $target;
INSERT INTO snaps SELECT (SELECT max(version) FROM streamext.history('c')), * FROM m;
SQL

nversions=$(se_psql pg1 -c "SELECT count(*) FROM streamext.history('c')")
se_assert_eq "versions are contiguous" "$nversions" \
	"$(se_psql pg1 -c "SELECT max(version) FROM streamext.history('c')")"
se_assert_eq "commit times strictly increase" "t" "$(se_psql pg1 -c "
	SELECT coalesce(bool_and(committed_at > prev), true) FROM (SELECT committed_at,
	lag(committed_at) OVER (ORDER BY version) prev FROM streamext.history('c')) x WHERE prev IS NOT NULL")"

bad=$(se_psql pg1 <<'SQL'
CREATE FUNCTION diff_at(v bigint) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM (
		(SELECT * FROM streamext.as_of(NULL::c, v) EXCEPT ALL SELECT id, grp, val, amount FROM snaps WHERE version = v)
		UNION ALL
		(SELECT id, grp, val, amount FROM snaps WHERE version = v EXCEPT ALL SELECT * FROM streamext.as_of(NULL::c, v))) d $$;
CREATE FUNCTION diff_time(v bigint) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM (
		(SELECT * FROM streamext.as_of(NULL::c, at => (SELECT committed_at FROM streamext.history('c') h WHERE h.version = v))
		 EXCEPT ALL SELECT id, grp, val, amount FROM snaps WHERE version = v)
		UNION ALL
		(SELECT id, grp, val, amount FROM snaps WHERE version = v
		 EXCEPT ALL SELECT * FROM streamext.as_of(NULL::c, at => (SELECT committed_at FROM streamext.history('c') h WHERE h.version = v)))) d $$;
SELECT string_agg(version::text, ',') FROM streamext.history('c') WHERE diff_at(version) <> 0 OR diff_time(version) <> 0;
SQL
)
se_assert_eq "versions that differ from the mirror" "" "$bad"
se_assert_eq "current state equals the latest version" "0" "$(se_psql pg1 -c "
	SELECT count(*) FROM ((SELECT * FROM c EXCEPT ALL SELECT * FROM m) UNION ALL (SELECT * FROM m EXCEPT ALL SELECT * FROM c)) d")"
se_assert_eq "index scan agrees" "$(se_psql pg1 -c "SELECT count(*) FROM m WHERE id BETWEEN 100 AND 900")" \
	"$(se_psql pg1 -c "SET enable_seqscan = off; SELECT count(*) FROM c WHERE id BETWEEN 100 AND 900")"
se_psql pg1 -c "VACUUM c" -c "VACUUM FULL c" -c "ANALYZE c"
se_assert_eq "versions still equal the mirror after VACUUM" "" "$(se_psql pg1 -c "
	SELECT string_agg(version::text, ',') FROM streamext.history('c') WHERE diff_at(version) <> 0")"
se_psql pg1 -c "SELECT streamext.verify('c')"
se_log "checked $nversions versions"
