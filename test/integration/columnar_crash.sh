#!/usr/bin/env bash
# pg_ctl stop -m immediate in the middle of bulk loads into a versioned_columnar table: after
# recovery verify() passes, the table holds exactly the rows of the committed versions, and
# every version still reads back; a physical replica serves the same data and history.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "wal_level = replica" "max_wal_senders = 4"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 -c "CREATE TABLE c (id bigint, grp int, val text) USING versioned_columnar"
se_psql pg1 -c "CREATE INDEX ON c (id)"

load() {
	local i
	for i in $(seq 0 1000); do
		se_psql pg1 -c "INSERT INTO c SELECT g, g % 100, repeat('x', g % 50) FROM generate_series($((i * 20000)), $((i * 20000 + 19999))) g" \
			2>/dev/null || return 0
	done
}
load & loader=$!
se_wait_for pg1 60 "SELECT count(*) >= 3 FROM streamext.history('c')"
sleep 0.3
se_pg_stop pg1 immediate
wait $loader || true
se_pg_start pg1

se_psql pg1 -c "SELECT streamext.verify('c')"
versions=$(se_psql pg1 -c "SELECT count(*) FROM streamext.history('c')")
se_log "versions committed before the crash: $versions"
se_assert_eq "rows = committed versions' rows" "$((versions * 20000))" "$(se_psql pg1 -c "SELECT count(*) FROM c")"
se_assert_eq "each version reads back" "t" "$(se_psql pg1 -c "
	SELECT bool_and((SELECT count(*) FROM streamext.as_of(NULL::c, version)) = version * 20000) FROM streamext.history('c')")"
se_assert_eq "index agrees" "1" "$(se_psql pg1 -c "SET enable_seqscan = off; SELECT count(*) FROM c WHERE id = 12345")"
# writing continues where it stopped
se_psql pg1 -c "INSERT INTO c SELECT g, 0, 'after' FROM generate_series(1, 10) g"
se_assert_eq "next version" "$((versions + 1))" "$(se_psql pg1 -c "SELECT max(version) FROM streamext.history('c')")"

# a physical replica has the same data and history
"$SE_BINDIR/pg_basebackup" -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -D "$SE_WORK/pg/rep" -R -X stream
port=$(se_free_port)
cat >>"$SE_WORK/pg/rep/postgresql.conf" <<CONF
port = $port
CONF
echo "$port" >"$SE_WORK/pg/rep/.se_port"
se_pg_start rep
se_psql pg1 -c "INSERT INTO c SELECT g, 1, 'replicated' FROM generate_series(1, 1000) g"
se_wait_for rep 60 "SELECT count(*) = $((versions * 20000 + 1010)) FROM c"
se_assert_eq "replica history" "$((versions + 2))" "$(se_psql rep -c "SELECT max(version) FROM streamext.history('c')")"
se_assert_eq "replica time travel" "20000" "$(se_psql rep -c "SELECT count(*) FROM streamext.as_of(NULL::c, 1)")"
se_psql rep -c "SELECT streamext.verify('c')"
