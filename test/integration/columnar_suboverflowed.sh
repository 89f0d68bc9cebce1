#!/usr/bin/env bash
# Row fetches of a versioned_columnar table under a snapshot whose subtransaction list
# overflowed.  When a running transaction has more subtransactions with an xid than PGPROC
# caches (64), GetSnapshotData marks the snapshot suboverflowed but still counts, in subxcnt,
# the sub-xids of the transactions it looked at before that one; CopySnapshot (every snapshot
# the executor passes to a table AM) then drops the list: subxip NULL, subxcnt > 0.  The row
# fetcher copied subxcnt entries from subxip to remember the snapshot, and the backend died of
# SIGSEGV: an ON CONFLICT DO UPDATE of a gold table (the row lock re-fetches the existing row),
# which is how an update-mode pipeline writes, crashed a pipeline worker in
# pipeline_exactly_once while an ingest worker split a batch with bad messages into many
# subtransactions.
#
# The snapshot needs a transaction with one sub-xid that GetSnapshotData sees before the
# overflowed one (procarray order is PGPROC number order, which connection order decides):
# three such sessions connect before the overflowed one and three after, each waited for by
# its own output, so no other connection comes in between.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_psql pg1 -c "CREATE TABLE h (a int)" \
	-c "CREATE TABLE g (k int PRIMARY KEY, v int) USING versioned_columnar" \
	-c "INSERT INTO g SELECT i, 0 FROM generate_series(1, 100) i" \
	-c "CREATE TABLE src (k int, v int)" \
	-c "CREATE TABLE tgt (k int PRIMARY KEY, v int) USING versioned_columnar" \
	-c "SELECT streamext.create_pipeline('up', 'src', 'tgt', NULL, '{\"trigger\": \"manual\", \"mode\": \"update\"}')" \
	-c "INSERT INTO src SELECT i, 0 FROM generate_series(1, 100) i" >/dev/null
se_assert_eq "first batch of the update pipeline" 100 "$(se_psql pg1 -c "SELECT streamext.run_pipeline('up')")"

# session NAME SQL: a psql fed through a FIFO, kept open in its transaction; waits for "ready"
session() {
	local name=$1 sql=$2 fd i
	mkfifo "$SE_WORK/$name.fifo"
	exec {fd}<>"$SE_WORK/$name.fifo"
	"$SE_BINDIR/psql" -X -q -At -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -d postgres \
		<"$SE_WORK/$name.fifo" >"$SE_WORK/$name.out" 2>&1 &
	SE_PIDS+=($!)
	echo "$sql SELECT 'ready';" >&$fd
	for ((i = 0; i < 300; i++)); do
		grep -qx ready "$SE_WORK/$name.out" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$SE_WORK/$name.out" >&2
	se_die "session $name did not get ready"
}
one_subxact="BEGIN; SAVEPOINT s; INSERT INTO h VALUES (0);"
many_subxacts="BEGIN; DO \$\$ BEGIN FOR i IN 1..70 LOOP BEGIN INSERT INTO h VALUES (i);
	EXCEPTION WHEN others THEN NULL; END; END LOOP; END \$\$;"
session a1 "$one_subxact"
session a2 "$one_subxact"
session a3 "$one_subxact"
session many "$many_subxacts"
session a4 "$one_subxact"
session a5 "$one_subxact"
session a6 "$one_subxact"
se_assert_eq "transactions open" 7 "$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity
	WHERE state = 'idle in transaction' AND backend_xid IS NOT NULL")"

# a pipeline's upsert (the row lock of ON CONFLICT DO UPDATE), the same upsert directly, an
# index scan
se_psql pg1 -c "INSERT INTO src SELECT i, 2 FROM generate_series(1, 100) i"
se_assert_eq "update pipeline's batch" 100 "$(se_psql pg1 -c "SELECT streamext.run_pipeline('up')")"
se_assert_eq "target updated" "100|200" "$(se_psql pg1 -c "SELECT count(*), sum(v) FROM tgt")"
se_assert_eq "upsert of existing rows" 100 "$(se_psql pg1 -c "WITH u AS (INSERT INTO g SELECT i, 1
	FROM generate_series(1, 100) i ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v RETURNING 1) SELECT count(*) FROM u")"
se_assert_eq "index scan" "50|1" "$(se_psql pg1 -c "SET enable_seqscan = off" -c "SET enable_bitmapscan = off" \
	-c "SELECT k, v FROM g WHERE k = 50")"
se_assert_eq "the sessions are still there" 7 "$(se_psql pg1 -c "SELECT count(*) FROM pg_stat_activity
	WHERE state = 'idle in transaction' AND backend_xid IS NOT NULL")"
se_assert_eq "no server process crashed" 0 "$(grep -c 'terminated by signal' "$(se_pg_dir pg1).log" || true)"
