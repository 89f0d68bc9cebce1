#!/usr/bin/env bash
# streamext.vacuum with a short retention removes exactly what the rule says: the table as of
# the newest version committed before now() - retain stays readable (and everything after it),
# older versions fail naming it; segments whose rows versions <= it removed go, others stay.
# Commit times are placed by waiting on clock conditions.  Then the space PostgreSQL's own
# VACUUM of the metadata tables frees is reused: delete 50 % (whole segments), streamext.vacuum,
# VACUUM, re-insert as much: the metadata tables grow far less than without the vacuums.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "autovacuum = off"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 -c "ALTER DATABASE postgres SET streamext.columnar_segment_rows = 1000"
se_psql pg1 -c "ALTER DATABASE postgres SET streamext.vacuum_retention_check = off"
se_psql pg1 -c "CREATE TABLE g (id int, v text) USING versioned_columnar"

se_psql pg1 -c "INSERT INTO g SELECT i, md5(i::text) FROM generate_series(1, 5000) i"  # 1: S1..S5
se_psql pg1 -c "DELETE FROM g WHERE id <= 1000"                                        # 2: S1 all deleted
se_psql pg1 -c "DELETE FROM g WHERE id BETWEEN 1001 AND 1500"                          # 3: half of S2
# versions 1-3 become older than the 10-second retention; 4 and 5 are committed right after
se_wait_for pg1 60 "SELECT clock_timestamp() > max(committed_at) + interval '10 seconds' FROM streamext.history('g')"
se_psql pg1 -c "DELETE FROM g WHERE id BETWEEN 1501 AND 2000"                          # 4: rest of S2
se_psql pg1 -c "DELETE FROM g WHERE id BETWEEN 2001 AND 2100"                          # 5
segs() { se_psql pg1 -c "SELECT string_agg(((segno / 1000) + 1)::text, ',' ORDER BY segno)
	FROM streamext.columnar_segment s JOIN streamext.columnar_storage st USING (storage_id)
	WHERE st.relnode = pg_relation_filenode('g')"; }
se_assert_eq "segments before" "1,2,3,4,5" "$(segs)"
# (the deletion of v4 must still be younger than the retention when vacuum runs)
r=$(se_psql pg1 -c "SELECT streamext.vacuum('g', '10 seconds')::text || '|' ||
	(clock_timestamp() - (SELECT committed_at FROM streamext.history('g') WHERE version = 4) < interval '10 seconds')")
se_log "vacuum: $r"
[ "${r##*|}" = true ] || se_die "the machine took over 10 s between version 4 and the vacuum: test invalid"
r=${r%|*}
se_assert_eq "oldest readable" "3" "$(se_psql pg1 -c "SELECT '$r'::jsonb->>'readable_from'")"
se_assert_eq "removed: S1 only (S2's last rows went in version 4)" "1 1000" \
	"$(se_psql pg1 -c "SELECT ('$r'::jsonb->>'segments_removed') || ' ' || ('$r'::jsonb->>'rows_removed')")"
se_assert_eq "segments after" "2,3,4,5" "$(segs)"
se_assert_eq "as_of 3, 4, 5" "3500 3000 2900" "$(se_psql pg1 -c "SELECT
	(SELECT count(*) FROM streamext.as_of(NULL::g, 3)) || ' ' || (SELECT count(*) FROM streamext.as_of(NULL::g, 4))
	|| ' ' || (SELECT count(*) FROM streamext.as_of(NULL::g, 5))")"
err=$(se_psql pg1 -c "SELECT count(*) FROM streamext.as_of(NULL::g, 2)" 2>&1 || true)
se_log "as_of 2: $err"
[[ $err == *"was removed by streamext.vacuum"* && $err == *"oldest readable version is 3"* ]] ||
	se_die "as_of an older version did not fail clearly: $err"
err=$(se_psql pg1 -c "SELECT count(*) FROM streamext.as_of(NULL::g, (SELECT committed_at FROM streamext.history('g') WHERE version = 1))" 2>&1 || true)
[[ $err == *"oldest readable version is 3"* ]] || se_die "as_of an old time did not fail clearly: $err"
se_assert_eq "history keeps its rows, 1-2 marked" "1:vacuumed 2:vacuumed 3:DELETE 4:DELETE 5:DELETE 6:VACUUM" \
	"$(se_psql pg1 -c "SELECT string_agg(version || ':' || CASE WHEN parameters ? 'vacuumed' THEN 'vacuumed'
		ELSE operation END, ' ' ORDER BY version) FROM streamext.history('g')")"
se_psql pg1 -c "SELECT streamext.verify('g')"

# once version 4 is older than the retention too, S2 (all deleted by version 4) goes
se_wait_for pg1 60 "SELECT clock_timestamp() > max(committed_at) + interval '2 seconds' FROM streamext.history('g')"
r=$(se_psql pg1 -c "SELECT streamext.vacuum('g', '2 seconds')")
se_log "vacuum: $r"
se_assert_eq "segments after the second vacuum" "3,4,5" "$(segs)"
se_assert_eq "rows" "2900" "$(se_psql pg1 -c "SELECT count(*) FROM g")"
se_psql pg1 -c "SELECT streamext.verify('g')"

# space reuse: 20 segments; delete 10 whole ones; vacuum (ours, then PostgreSQL's); re-insert
meta_size() { se_psql pg1 -c "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['streamext.columnar_chunk',
	'streamext.columnar_segment', 'streamext.columnar_deletion']::regclass[]) c"; }
cycle() {  # $1: table, $2: vacuum or not
	se_psql pg1 -c "CREATE TABLE $1 (id int, v text) USING versioned_columnar"
	se_psql pg1 -c "INSERT INTO $1 SELECT i, md5(i::text) || md5((i + 1)::text) FROM generate_series(1, 20000) i"
	local s0 s1
	s0=$(meta_size)
	se_psql pg1 -c "DELETE FROM $1 WHERE id <= 10000"
	if [ "$2" = vacuum ]; then
		se_wait_for pg1 60 "SELECT clock_timestamp() > max(committed_at) + interval '1 second' FROM streamext.history('$1')"
		se_psql pg1 -c "SELECT streamext.vacuum('$1', '0')" >/dev/null
		se_psql pg1 -c "VACUUM streamext.columnar_chunk, streamext.columnar_segment, streamext.columnar_deletion"
	fi
	se_psql pg1 -c "INSERT INTO $1 SELECT i, md5(i::text) || md5((i + 1)::text) FROM generate_series(20001, 30000) i"
	s1=$(meta_size)
	echo $((s1 - s0))
}
grow_plain=$(cycle sr1 none)
grow_vacuum=$(cycle sr2 vacuum)
se_log "metadata growth after re-inserting half: with vacuum $grow_vacuum bytes, without $grow_plain bytes"
[ $((grow_vacuum * 2)) -lt "$grow_plain" ] ||
	se_die "space freed by vacuum is not reused: grew $grow_vacuum bytes, $grow_plain without vacuum"
se_psql pg1 -c "SELECT streamext.verify('sr2')"
