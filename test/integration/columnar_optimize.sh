#!/usr/bin/env bash
# streamext.optimize on what pipelines write: 2,000 micro-batches (with deletes and updates
# among them) into a versioned_columnar table and, in the same transactions, a heap twin.
# The versions and segments are what the test is about, so the batch count stays 2,000;
# a batch is SE_OPT_BATCH_ROWS rows (default 100, to keep make test short; the issue's
# 500: SE_OPT_BATCH_ROWS=500 SE_ONLY=columnar_optimize bash test/run.sh).  Then:
#   - optimize: the same rows (EXCEPT ALL both ways against the twin), every 100th version
#     reads the same as before, far fewer segments, verify() clean, an index still right;
#   - optimize while a writer commits micro-batches, with a DELETE that commits after
#     optimize read its segments and before it commits, and an UPDATE whose snapshot predates
#     the optimize's commit (both ordered by waiting on the lock queue in pg_locks, not by
#     time): nothing lost, versions contiguous, verify() clean;
#   - pg_ctl stop -m immediate in the middle of a ZORDER optimize (seen in
#     streamext.maintenance_progress): after recovery verify() is clean, no OPTIMIZE version
#     was left, the rows are the twin's, and optimize then succeeds.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "max_wal_size = 2GB"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 <<'SQL'
CREATE TABLE c (id bigint PRIMARY KEY, grp int, val text, amount numeric) USING versioned_columnar;
CREATE TABLE h (id bigint PRIMARY KEY, grp int, val text, amount numeric);
CREATE TABLE stop_writer (flag boolean);
CREATE FUNCTION digest(ver bigint) RETURNS text LANGUAGE sql AS $$
	SELECT count(*) || ':' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM streamext.as_of(NULL::c, ver) t
$$;
CREATE FUNCTION same_as_twin() RETURNS text LANGUAGE sql AS $$
	SELECT (SELECT count(*) FROM (SELECT * FROM c EXCEPT ALL SELECT * FROM h) d) || '/' ||
		   (SELECT count(*) FROM (SELECT * FROM h EXCEPT ALL SELECT * FROM c) d)
$$;
SQL

batches=${SE_OPT_BATCHES:-2000}
rows=${SE_OPT_BATCH_ROWS:-100}
se_log "writing $batches micro-batches of $rows rows"
se_psql pg1 <<SQL
DO \$\$
BEGIN
	FOR b IN 0..$batches - 1 LOOP
		INSERT INTO c SELECT g, g % 37, 'v' || g, g * 0.25 FROM generate_series(b * $rows, b * $rows + $rows - 1) g;
		INSERT INTO h SELECT g, g % 37, 'v' || g, g * 0.25 FROM generate_series(b * $rows, b * $rows + $rows - 1) g;
		IF b % 100 = 99 THEN
			-- now and then a delete or an update of older rows, as a pipeline's MERGE does
			DELETE FROM c WHERE id % 1000 = b % 1000 AND id < b * $rows;
			DELETE FROM h WHERE id % 1000 = b % 1000 AND id < b * $rows;
			UPDATE c SET amount = -amount WHERE id % 997 = b % 997 AND id < b * $rows;
			UPDATE h SET amount = -amount WHERE id % 997 = b % 997 AND id < b * $rows;
		END IF;
		COMMIT;
	END LOOP;
END \$\$;
SQL
latest=$(se_psql pg1 -c "SELECT max(version) FROM streamext.history('c')")
se_psql pg1 -c "CREATE TABLE before AS SELECT version, digest(version) FROM streamext.history('c') WHERE version % 100 = 0 OR version = $latest"
se_assert_eq "twin before" "0/0" "$(se_psql pg1 -c "SELECT same_as_twin()")"

r=$(se_psql pg1 -c "SELECT streamext.optimize('c')")
se_log "optimize: $r"
segs_before=$(se_psql pg1 -c "SELECT '$r'::jsonb->>'segments_before'")
segs_after=$(se_psql pg1 -c "SELECT '$r'::jsonb->>'segments_after'")
se_assert_eq "segments reduced at least tenfold" "t" "$(se_psql pg1 -c "SELECT $segs_after * 10 <= $segs_before AND $segs_after > 0")"
se_assert_eq "optimize is the next version" "$((latest + 1))|OPTIMIZE|0|0" \
	"$(se_psql pg1 -c "SELECT version, operation, rows_added, rows_removed FROM streamext.history('c') ORDER BY version DESC LIMIT 1")"
se_assert_eq "twin after" "0/0" "$(se_psql pg1 -c "SELECT same_as_twin()")"
se_assert_eq "every 100th version reads the same" "0" \
	"$(se_psql pg1 -c "SELECT count(*) FROM before WHERE digest IS DISTINCT FROM digest(version)")"
se_assert_eq "the optimize version reads as the one before" "t" \
	"$(se_psql pg1 -c "SELECT digest($((latest + 1))) = digest($latest)")"
se_assert_eq "no changes from it" "0" "$(se_psql pg1 -c "SELECT count(*) FROM streamext.changes(NULL::c, $((latest + 1)))")"
se_psql pg1 -c "SELECT streamext.verify('c')" >/dev/null
# an id ending in 1: the deletes above take ids whose last two digits are 99
probe=$((batches * rows * 7 / 90 * 10 + 1))
se_assert_eq "index lookup" "1|v$probe" \
	"$(se_psql pg1 -c "SET enable_seqscan = off; SELECT count(*), min(val) FROM c WHERE id = $probe")"
se_assert_eq "second optimize does nothing" "0|null" \
	"$(se_psql pg1 -c "SELECT r->>'segments_rewritten', coalesce(r->>'version', 'null') FROM streamext.optimize('c') r")"

# --- concurrent writers ----------------------------------------------------------------------
# a writer committing micro-batches all along
se_psql pg1 <<'SQL' &
DO $$
DECLARE b int := 0;
BEGIN
	LOOP
		EXIT WHEN EXISTS (SELECT FROM stop_writer);
		INSERT INTO c SELECT g, g % 37, 'w' || g, g FROM generate_series(5000000 + b * 200, 5000000 + b * 200 + 199) g;
		INSERT INTO h SELECT g, g % 37, 'w' || g, g FROM generate_series(5000000 + b * 200, 5000000 + b * 200 + 199) g;
		COMMIT;
		b := b + 1;
	END LOOP;
END $$;
SQL
writer=$!
se_wait_for pg1 60 "SELECT count(*) >= 5 FROM c WHERE id >= 5000000 AND id % 200 = 0"
# some small segments for the optimize to rewrite: the writer's
se_wait_for pg1 60 "SELECT count(*) >= 20 FROM c WHERE id >= 5000000 AND id % 200 = 0"

# session D holds the writer lock with an uncommitted DELETE of rows the optimize rewrites
# (up to the writer's rows committed now: both DELETEs then delete the same rows, whatever
# the writer commits while they run)
dmax=$(se_psql pg1 -c "SELECT max(id) FROM c")
coproc DEL { PGAPPNAME=holder se_psql pg1 -v ON_ERROR_STOP=1 >"$SE_WORK/del.out" 2>&1; }
echo "BEGIN; DELETE FROM c WHERE id BETWEEN 5000000 AND $dmax AND id % 3 = 0; DELETE FROM h WHERE id BETWEEN 5000000 AND $dmax AND id % 3 = 0;" >&"${DEL[1]}"
se_wait_for pg1 60 "SELECT EXISTS (SELECT FROM pg_stat_activity a JOIN pg_locks l USING (pid)
	WHERE a.application_name = 'holder' AND a.state = 'idle in transaction' AND l.locktype = 'advisory' AND l.granted)"
deleted_ids=$(se_psql pg1 -c "SELECT count(*) FROM h WHERE id BETWEEN 5000000 AND $dmax AND id % 3 = 0")
se_psql pg1 -c "SELECT streamext.optimize('c')" >"$SE_WORK/opt2.out" 2>&1 &
opt=$!
# optimize has read its segments and waits for the writer lock
se_wait_for pg1 120 "SELECT EXISTS (SELECT FROM streamext.maintenance_progress WHERE phase = 'committing')
	AND EXISTS (SELECT FROM pg_stat_activity WHERE query LIKE 'SELECT streamext.optimize%' AND wait_event_type = 'Lock')"
# an UPDATE whose snapshot predates the optimize's commit queues behind it
se_psql pg1 -c "UPDATE c SET val = 'updated' WHERE id = 5000002" >"$SE_WORK/upd.out" 2>&1 &
upd=$!
se_wait_for pg1 60 "SELECT count(*) = 2 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND (query LIKE 'SELECT streamext.optimize%' OR query LIKE 'UPDATE c SET val%')"
echo "COMMIT;" >&"${DEL[1]}"
wait $opt || { cat "$SE_WORK/opt2.out"; se_die "concurrent optimize failed"; }
wait $upd || { cat "$SE_WORK/upd.out"; se_die "concurrent update failed"; }
se_log "concurrent optimize: $(cat "$SE_WORK/opt2.out")"
se_psql pg1 -c "UPDATE h SET val = 'updated' WHERE id = 5000002"
se_psql pg1 -c "INSERT INTO stop_writer VALUES (true)"
wait $writer
eval "exec ${DEL[1]}>&-"
wait $DEL_PID || true
se_assert_eq "deleted rows stay deleted" "0" "$(se_psql pg1 -c "SELECT count(*) FROM c WHERE id BETWEEN 5000000 AND $dmax AND id % 3 = 0")"
se_assert_eq "the update reached the new copy" "updated" "$(se_psql pg1 -c "SELECT val FROM c WHERE id = 5000002")"
se_assert_eq "the optimize redid the concurrent deletion" "t" \
	"$(se_psql pg1 -c "SELECT ('$(cat "$SE_WORK/opt2.out")'::jsonb->>'rows_deleted_meanwhile')::int > 0 AND $deleted_ids > 0")"
se_assert_eq "twin after concurrent optimize" "0/0" "$(se_psql pg1 -c "SELECT same_as_twin()")"
se_assert_eq "versions contiguous" "t" \
	"$(se_psql pg1 -c "SELECT count(*) = max(version) FROM streamext.history('c')")"
se_psql pg1 -c "SELECT streamext.verify('c')" >/dev/null

# --- crash in the middle ---------------------------------------------------------------------
versions=$(se_psql pg1 -c "SELECT max(version) FROM streamext.history('c')")
segs=$(se_psql pg1 -c "SELECT streamext.verify('c')->>'live_segments'")
se_psql pg1 -c "SELECT streamext.optimize('c', zorder_by => '{grp,id}', full => true)" >/dev/null 2>&1 &
opt=$!
se_wait_for pg1 120 "SELECT EXISTS (SELECT FROM streamext.maintenance_progress WHERE operation = 'optimize' AND segments_done >= 1)"
se_pg_stop pg1 immediate
wait $opt || true
se_pg_start pg1
se_psql pg1 -c "SELECT streamext.verify('c')" >/dev/null
se_assert_eq "no version from the interrupted optimize" "$versions" "$(se_psql pg1 -c "SELECT max(version) FROM streamext.history('c')")"
se_assert_eq "same segments" "$segs" "$(se_psql pg1 -c "SELECT streamext.verify('c')->>'live_segments'")"
se_assert_eq "twin after crash" "0/0" "$(se_psql pg1 -c "SELECT same_as_twin()")"
se_assert_eq "optimize after recovery" "OPTIMIZE" \
	"$(se_psql pg1 -c "SELECT streamext.optimize('c', zorder_by => '{grp,id}')" >/dev/null &&
		se_psql pg1 -c "SELECT operation FROM streamext.history('c') ORDER BY version DESC LIMIT 1")"
se_assert_eq "twin after zorder" "0/0" "$(se_psql pg1 -c "SELECT same_as_twin()")"
se_psql pg1 -c "SELECT streamext.verify('c')" >/dev/null
