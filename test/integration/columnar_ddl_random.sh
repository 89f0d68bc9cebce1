#!/usr/bin/env bash
# Randomized transactions with savepoints over a versioned_columnar table and its heap twin:
# inserts (some of several segments), deletes, updates, TRUNCATE, ADD COLUMN and rewriting
# ALTER COLUMN ... TYPE, each in nested savepoints released or rolled back, transactions
# committed or rolled back.  After every round both tables must give the same answers, the
# gold table must pass verify() and its history must account for its rows.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
SEED=${SE_DDL_SEED:-$(( (RANDOM * 32768 + RANDOM) % 1000000 ))}
ROUNDS=${SE_DDL_ROUNDS:-20}
se_log "seed $SEED, $ROUNDS rounds (rerun with SE_DDL_SEED=$SEED)"

for am in heap versioned_columnar; do
	se_psql pg1 -c "CREATE DATABASE db_$am"
	SE_DB=db_$am se_psql pg1 -c "CREATE EXTENSION streamext; ALTER DATABASE db_$am SET default_table_access_method = $am"
done

# One round's SQL: a fresh table, then 6 random transactions (python3: deterministic per seed).
gen_round() {
	python3 - "$1" <<'PY'
import random, sys
random.seed(int(sys.argv[1]))
out = ["DROP TABLE IF EXISTS f;", "CREATE TABLE f (a int, b text);",
       "INSERT INTO f SELECT g, 'c' || g FROM generate_series(1, %d) g;" % random.choice([0, 5, 12000])]
n = 100000
for tx in range(6):
    out.append("BEGIN;")
    depth = 0
    for op in range(random.randint(3, 14)):
        r = random.random()
        if r < 0.2:
            out.append("SAVEPOINT s%d;" % depth); depth += 1
        elif r < 0.3 and depth > 0:
            depth -= 1; out.append("ROLLBACK TO s%d;" % depth)
        elif r < 0.36 and depth > 0:
            depth -= 1; out.append("RELEASE s%d;" % depth)
        elif r < 0.55:
            k = random.choice([1, 3, 11000])
            out.append("INSERT INTO f SELECT g, 'n' || g FROM generate_series(%d, %d) g;" % (n, n + k - 1)); n += k
        elif r < 0.65:
            out.append("DELETE FROM f WHERE a %% %d = %d;" % (random.choice([2, 3, 7]), random.randint(0, 2)))
        elif r < 0.72:
            out.append("UPDATE f SET b = b || 'u' WHERE a %% 5 = %d;" % random.randint(0, 4))
        elif r < 0.8:
            out.append("TRUNCATE f;")
        elif r < 0.84:
            out.append("ALTER TABLE f ADD COLUMN c%d int DEFAULT %d;" % (op + tx * 100, op))
        elif r < 0.87:
            out.append("ALTER TABLE f ALTER COLUMN a TYPE %s;" % random.choice(["bigint", "int", "numeric"]))
        else:
            out.append("SELECT count(*), sum(a::numeric), sum(length(b)) FROM f;")
    out.append(random.choice(["COMMIT;", "COMMIT;", "ROLLBACK;"]))
    out.append("SELECT count(*), sum(a::numeric), sum(length(b)) FROM f;")
print("\n".join(out))
PY
}

run_sql() {	# run_sql DB FILE: the whole output, errors included (statements may fail alike)
	"$SE_BINDIR/psql" -X -q -At -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" -U postgres -d "$1" -f "$2" 2>&1
}

for ((r = 0; r < ROUNDS; r++)); do
	gen_round $((SEED + r)) >"$SE_WORK/round.sql"
	want=$(run_sql db_heap "$SE_WORK/round.sql")
	got=$(run_sql db_versioned_columnar "$SE_WORK/round.sql")
	if [ "$want" != "$got" ]; then
		diff <(echo "$want") <(echo "$got") | head -20 >&2
		se_die "round $r (seed $((SEED + r))): the gold table answers differently from heap"
	fi
	SE_DB=db_versioned_columnar se_psql pg1 -c "SELECT streamext.verify('f')" >/dev/null
	se_assert_eq "round $r: history accounts for the rows" "t" "$(SE_DB=db_versioned_columnar se_psql pg1 -c "
		SELECT (SELECT coalesce(sum(rows_added - rows_removed), 0) FROM streamext.history('f')) =
		       (SELECT count(*) FROM f)")"
done
se_log "$ROUNDS rounds alike"
