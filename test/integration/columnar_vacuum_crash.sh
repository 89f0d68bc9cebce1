#!/usr/bin/env bash
# pg_ctl stop -m immediate in the middle of streamext.vacuum's removal: after recovery the
# table is as before the vacuum (verify passes, every version still reads back, no VACUUM
# version, nothing recorded as removed), and a vacuum run again removes what it should.  Before
# that, the same vacuum is cancelled in the middle (nothing changes, no progress row is left),
# and the progress view is read by a role without and with pg_read_all_stats.
# "In the middle" is made certain, not timed: a session holds a row lock on a chunk of a late
# segment, so the vacuum, having removed the segments before it, waits there; the progress
# view shows how far it got.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 -c "ALTER DATABASE postgres SET streamext.columnar_segment_rows = 1000"
se_psql pg1 -c "CREATE TABLE g (id int, grp int, v text) USING versioned_columnar"
se_psql pg1 -c "INSERT INTO g SELECT i, i % 7, md5(i::text) FROM generate_series(1, 100000) i"   # 1: 100 segments
se_psql pg1 -c "DELETE FROM g WHERE id <= 80000"                                                 # 2: 80 of them
se_psql pg1 -c "UPDATE g SET grp = -1 WHERE id % 10 = 0"                                         # 3
before=$(se_psql pg1 -c "SELECT streamext.verify('g')")
se_log "before: $before"
storage=$(se_psql pg1 -c "SELECT storage_id FROM streamext.columnar_storage WHERE relnode = pg_relation_filenode('g')")
late=$(se_psql pg1 -c "SELECT segno FROM streamext.columnar_segment WHERE storage_id = $storage ORDER BY segno OFFSET 60 LIMIT 1")

# the blocker: a session fed through a FIFO, so it stays open (until the server goes down)
# holding a row lock on a chunk of segment 61 and an advisory lock that says it has it
mkfifo "$SE_WORK/blocker.fifo"
exec {blk}<>"$SE_WORK/blocker.fifo"
"$SE_BINDIR/psql" -X -q -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -d postgres \
	<"$SE_WORK/blocker.fifo" >/dev/null 2>&1 &
SE_PIDS+=($!)
echo "BEGIN; SELECT 1 FROM streamext.columnar_chunk WHERE storage_id = $storage AND segno = $late AND attnum = 1 FOR UPDATE;
	SELECT pg_advisory_xact_lock(4242);" >&"$blk"
se_wait_for pg1 60 "SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND granted"

se_psql pg1 -c "SET streamext.vacuum_retention_check = off" -c "SELECT streamext.vacuum('g', '0')" >/dev/null 2>&1 &
SE_PIDS+=($!)
se_wait_for pg1 60 "SELECT (SELECT count(*) = 1 FROM streamext.maintenance_progress
	WHERE operation = 'vacuum' AND phase LIKE 'removing%' AND segments_done >= 50)
	AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%streamext.vacuum(%')"

# others see the row as in pg_stat_progress_*: pid and operation, the rest only with
# pg_read_all_stats (or membership in the vacuum's role)
se_psql pg1 -c "CREATE ROLE watcher LOGIN"
se_assert_eq "progress seen by another role" "t|t|t|vacuum" "$("$SE_BINDIR/psql" -X -At -h "$SE_WORK/pg" \
	-p "$(se_pg_port pg1)" -U watcher -d postgres -c "SELECT pid IS NOT NULL, relid IS NULL, phase IS NULL, operation
	FROM streamext.maintenance_progress")"
se_psql pg1 -c "GRANT pg_read_all_stats TO watcher"
se_assert_eq "progress seen with pg_read_all_stats" "g|removing segments and deletion vectors" "$("$SE_BINDIR/psql" -X -At \
	-h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U watcher -d postgres -c "SELECT relid::regclass, phase
	FROM streamext.maintenance_progress")"

# a cancel in the middle leaves the table as it was and no progress row
se_psql pg1 -c "SELECT pg_cancel_backend(pid) FROM streamext.maintenance_progress" >/dev/null
se_wait_for pg1 60 "SELECT NOT EXISTS (SELECT 1 FROM streamext.maintenance_progress)
	AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%streamext.vacuum(%' AND state = 'active' AND pid <> pg_backend_pid())"
se_assert_eq "verify after the cancel" "$before" "$(se_psql pg1 -c "SELECT streamext.verify('g')")"
se_assert_eq "no VACUUM version after the cancel" "3" "$(se_psql pg1 -c "SELECT max(version) FROM streamext.history('g')")"

# again, and this time the server goes down in the middle
se_psql pg1 -c "SET streamext.vacuum_retention_check = off" -c "SELECT streamext.vacuum('g', '0')" >/dev/null 2>&1 &
SE_PIDS+=($!)
se_wait_for pg1 60 "SELECT (SELECT count(*) = 1 FROM streamext.maintenance_progress
	WHERE operation = 'vacuum' AND phase LIKE 'removing%' AND segments_done >= 50)
	AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%streamext.vacuum(%')"
se_log "progress at the crash: $(se_psql pg1 -c "SELECT phase, segments_total, segments_done, rows_done FROM streamext.maintenance_progress")"
se_pg_stop pg1 immediate
se_pg_start pg1

after=$(se_psql pg1 -c "SELECT streamext.verify('g')")
se_log "after recovery: $after"
se_assert_eq "verify as before" "$before" "$after"
se_assert_eq "no VACUUM version" "3" "$(se_psql pg1 -c "SELECT max(version) FROM streamext.history('g')")"
se_assert_eq "versions read back" "100000 20000 20000" "$(se_psql pg1 -c "SELECT
	(SELECT count(*) FROM streamext.as_of(NULL::g, 1)) || ' ' || (SELECT count(*) FROM streamext.as_of(NULL::g, 2))
	|| ' ' || (SELECT count(*) FROM streamext.as_of(NULL::g, 3))")"
se_assert_eq "nothing recorded as removed" "0" "$(se_psql pg1 -c "SELECT count(*) FROM streamext.columnar_vacuumed")"

# run again, to the end
r=$(se_psql pg1 -c "SET streamext.vacuum_retention_check = off" -c "SELECT streamext.vacuum('g', '0')")
se_log "vacuum: $r"
se_assert_eq "segments removed" "80" "$(se_psql pg1 -c "SELECT '$r'::jsonb->>'segments_removed'")"
se_assert_eq "rows" "20000 2000" "$(se_psql pg1 -c "SELECT count(*) || ' ' || count(*) FILTER (WHERE grp = -1) FROM g")"
se_assert_eq "as_of 3 still readable" "20000" "$(se_psql pg1 -c "SELECT count(*) FROM streamext.as_of(NULL::g, 3)")"
se_psql pg1 -c "SELECT streamext.verify('g')"
