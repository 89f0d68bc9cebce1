#!/usr/bin/env bash
# streamext.changes() read the way a pipeline reads it: a reader repeatedly takes the
# versions (last, newest visible] and applies their changes to a heap mirror, while two
# writers commit random transactions (inserts, deletes, updates, upserts, savepoints,
# rollbacks) concurrently.  Every version must be read exactly once (the ranges read are
# contiguous: a reader that sees version N sees every version below it), the mirror must
# equal the table at the end, and every version's changes must turn the version before it
# into it (as_of).
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 <<'SQL'
CREATE SEQUENCE ids;
CREATE TABLE c (id bigint, w int, grp int, val text, amount numeric(10,2)) USING versioned_columnar;
CREATE UNIQUE INDEX ON c (id);
CREATE TABLE mirror (id bigint PRIMARY KEY, w int, grp int, val text, amount numeric(10,2));
CREATE TABLE reads (first bigint, last bigint, changes bigint);
CREATE TABLE progress (last bigint NOT NULL);
INSERT INTO progress VALUES (0);
-- one micro-batch: the versions after the last one read, up to the newest this snapshot sees
CREATE FUNCTION read_batch() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	l bigint := (SELECT last FROM progress);
	cur bigint := (SELECT coalesce(max(version), 0) FROM streamext.history('c'));
	n bigint;
	v bigint;
BEGIN
	IF cur = l THEN
		RETURN 0;
	END IF;
	CREATE TEMP TABLE batch ON COMMIT DROP AS
		SELECT row_number() OVER () AS pos, _version, _change_type, _row
		FROM streamext.changes(NULL::c, l + 1, cur);
	-- within a version a row is removed at most once and added at most once
	FOR v IN SELECT DISTINCT _version FROM batch ORDER BY 1 LOOP
		DELETE FROM mirror m USING batch b
		WHERE b._version = v AND b._change_type IN ('delete', 'update_preimage') AND m.id = (b._row).id;
		INSERT INTO mirror SELECT (b._row).* FROM batch b
		WHERE b._version = v AND b._change_type IN ('insert', 'update_postimage') ORDER BY pos;
	END LOOP;
	SELECT count(*) INTO n FROM batch;
	INSERT INTO reads VALUES (l + 1, cur, n);
	UPDATE progress SET last = cur;
	RETURN n;
END $$;
SQL

writer() {
	local w=$1 i sql n
	RANDOM=$((20241202 + w))
	for i in $(seq 1 40); do
		sql="BEGIN;"
		n=$((RANDOM % 400 + 1))
		sql+=" INSERT INTO c SELECT nextval('ids'), $w, g % 13, 'w$w-' || g, g / 3.0 FROM generate_series(1, $n) g;"
		case $((RANDOM % 5)) in
		0) sql+=" DELETE FROM c WHERE grp = $((RANDOM % 13)) AND id % 3 = $((RANDOM % 3));" ;;
		1) sql+=" UPDATE c SET val = val || 'u', amount = amount + 1 WHERE id % 41 = $((RANDOM % 41));" ;;
		2) sql+=" INSERT INTO c SELECT id, w, grp, 'upsert', 0 FROM c WHERE id % 53 = $((RANDOM % 53))
			UNION ALL SELECT nextval('ids'), $w, 0, 'new', 0
			ON CONFLICT (id) DO UPDATE SET val = excluded.val, amount = c.amount + 100;" ;;
		3) sql+=" SAVEPOINT s; DELETE FROM c WHERE w = $w; UPDATE c SET grp = -1; ROLLBACK TO s;
			UPDATE c SET grp = grp + 1 WHERE id % 29 = $((RANDOM % 29));
			DELETE FROM c WHERE id % 29 = $((RANDOM % 29));" ;;
		4) sql+=" UPDATE c SET amount = amount * 2 WHERE id % 31 = $((RANDOM % 31));
			UPDATE c SET amount = amount / 2 WHERE id % 31 = $((RANDOM % 31));" ;;
		esac
		if ((RANDOM % 6 == 0)); then sql+=" ROLLBACK;"; else sql+=" COMMIT;"; fi
		se_psql pg1 -c "SET streamext.columnar_segment_rows = 1000" -c "$sql" >/dev/null
	done
}

writer 1 & p1=$!
writer 2 & p2=$!
# the reader runs batches until both writers are done, then one last batch
batches=0
while kill -0 $p1 2>/dev/null || kill -0 $p2 2>/dev/null; do
	se_psql pg1 -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT read_batch()" -c "COMMIT" >/dev/null
	batches=$((batches + 1))
done
wait $p1 || se_die "writer 1 failed"
wait $p2 || se_die "writer 2 failed"
se_psql pg1 -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT read_batch()" -c "COMMIT" >/dev/null

nversions=$(se_psql pg1 -c "SELECT max(version) FROM streamext.history('c')")
se_log "$batches batches over $nversions versions; $(se_psql pg1 -c "SELECT count(*) FROM reads") of them read something"
se_assert_eq "versions read, each once, in order" "t" "$(se_psql pg1 -c "
	SELECT bool_and(first = coalesce(prev_last, 0) + 1) AND max(last) = $nversions AND min(first) = 1
	FROM (SELECT first, last, lag(last) OVER (ORDER BY first) prev_last FROM reads) r")"
se_assert_eq "mirror equals the table" "0" "$(se_psql pg1 -c "
	SELECT count(*) FROM ((SELECT * FROM c EXCEPT ALL SELECT * FROM mirror)
	UNION ALL (SELECT * FROM mirror EXCEPT ALL SELECT * FROM c)) d")"
se_assert_eq "updates were reported as pre/post images" "t" "$(se_psql pg1 -c "
	SELECT count(*) FILTER (WHERE _change_type = 'update_preimage') = count(*) FILTER (WHERE _change_type = 'update_postimage')
	   AND count(*) FILTER (WHERE _change_type = 'update_postimage') > 0
	FROM streamext.changes(NULL::c, 1)")"
se_assert_eq "versions whose changes do not turn the version before into it" "" "$(se_psql pg1 <<'SQL'
CREATE FUNCTION diff_at(v bigint) RETURNS bigint LANGUAGE sql AS $$
	WITH applied AS (
		(SELECT * FROM streamext.as_of(NULL::c, v - 1)
		 EXCEPT ALL
		 SELECT (_row).* FROM streamext.changes(NULL::c, v, v) WHERE _change_type IN ('delete', 'update_preimage'))
		UNION ALL
		SELECT (_row).* FROM streamext.changes(NULL::c, v, v) WHERE _change_type IN ('insert', 'update_postimage')),
	actual AS (SELECT * FROM streamext.as_of(NULL::c, v))
	SELECT count(*) FROM ((SELECT * FROM applied EXCEPT ALL SELECT * FROM actual)
						  UNION ALL (SELECT * FROM actual EXCEPT ALL SELECT * FROM applied)) d $$;
SELECT string_agg(version::text, ',') FROM streamext.history('c') WHERE version > 1 AND diff_at(version) <> 0;
SQL
)"
se_psql pg1 -c "SELECT streamext.verify('c')" >/dev/null
