#!/usr/bin/env bash
# Randomized differential test of vectorized aggregation: 1,000 generated GROUP BY queries
# (random aggregate lists over every supported type, random group columns, random WHERE
# comparisons, some over as_of(version 1), some with parallel plans, a few with aggregates the
# vectorized node cannot do) run on a versioned_columnar table with
# streamext.enable_vectorized_agg on and on its heap twin.  The answers must be identical as
# text, except sums and averages of the float8 column with inexact values, compared with a
# tolerance for the order of additions, and min/max of numerics, where values equal but of
# another scale (1.0, 1.000) may be either.  Counts the queries whose plan has the VectorizedAgg
# node and fails when none has.  The seed is printed; rerun with SE_VAGG_SEED=<seed>
# (SE_VAGG_QUERIES=n for another number of queries).
. "$SE_LIB"; se_test_begin
SEED=${SE_VAGG_SEED:-$(((RANDOM * 32768 + RANDOM) % 1000000))}
NQ=${SE_VAGG_QUERIES:-1000}
ROWS=${SE_VAGG_ROWS:-12000}
se_log "seed $SEED, $NQ queries over $ROWS rows (rerun with SE_VAGG_SEED=$SEED)"
se_pg_start pg1 "max_parallel_workers = 8" "max_parallel_workers_per_gather = 2"
se_psql pg1 -c "CREATE EXTENSION streamext"
# the feature must exist: without the setting this test has nothing to compare
se_psql pg1 -c "SHOW streamext.enable_vectorized_agg" >/dev/null ||
	se_die "streamext.enable_vectorized_agg does not exist: no vectorized aggregation to test"

# python3 gen.py data|queries SEED ...: the rows (CSV), or the two query files (gold, heap)
cat >"$SE_WORK/gen.py" <<'PY'
import random, sys, datetime

mode, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)

# column: (type, null probability); one column is NULL in whole runs of rows, one always
COLS = ["id", "k", "dev", "b", "i2", "i4", "i8", "f4", "f8", "fx", "n", "n2", "d", "ts", "tz", "t", "tn"]
TYPES = dict(id="int", k="text", dev="text", b="bool", i2="int2", i4="int4", i8="int8", f4="float4",
             f8="float8", fx="float8", n="numeric", n2="numeric(12,2)", d="date", ts="timestamp",
             tz="timestamptz", t="text", tn="int4")
NUMERIC = ["i2", "i4", "i8", "f4", "f8", "fx", "n", "n2", "tn"]
ORDERED = NUMERIC + ["d", "ts", "tz", "t", "k", "dev"]
# group keys, the few-valued ones (as BI queries group) more often than the many-valued
KEYS = ["k", "k", "k", "dev", "dev", "b", "b", "tn", "f4", "i2", "d", "tz", "t", "n2", "i4"]
INEXACT = {"f8"}                # float8 values whose sums depend on the order of additions


def value(c, i, nullrun):
    r = rnd.random()
    if c == "id":
        return str(i)
    if c == "tn":                       # NULL everywhere
        return ""
    if nullrun and c in ("i4", "n", "t", "tz", "f8"):
        return ""
    if r < {"k": 0.03, "dev": 0.02, "b": 0.1}.get(c, 0.15):
        return ""
    if c == "k":
        return "region-%d" % rnd.randrange(12)
    if c == "dev":
        return "device-%04d" % rnd.randrange(400)
    if c == "b":
        return rnd.choice(["t", "f"])
    if c == "i2":
        return str(rnd.choice([-32768, 32767, rnd.randint(-32768, 32767), rnd.randint(-50, 50)]))
    if c == "i4":
        return str(rnd.choice([-2147483648, 2147483647, rnd.randint(-2**31, 2**31 - 1), rnd.randint(-1000, 1000)]))
    if c == "i8":
        return str(rnd.choice([-2**63, 2**63 - 1, rnd.randint(-2**63, 2**63 - 1), rnd.randint(-10**6, 10**6)]))
    if c == "f4":                       # multiples of 1/4 up to 100: sums exact in float4
        return str(rnd.randint(-400, 400) / 4)
    if c == "f8":
        return repr(rnd.uniform(-1000, 1000))
    if c == "fx":                       # exact values, NaN and infinities
        if r < 0.17:
            return rnd.choice(["NaN", "Infinity", "-Infinity"])
        return str(rnd.randint(-8000, 8000) / 8)
    if c == "n":                        # display scales 0-20, 16-digit and 30-digit values
        if r < 0.17:
            return str(rnd.choice([1, -1]) * (10**30 + rnd.randrange(10**6)))
        if r < 0.18:
            return rnd.choice(["NaN", "Infinity", "-Infinity"])
        if r < 0.21:
            return "%.*f" % (rnd.randrange(6, 21), rnd.uniform(-1, 1))
        if r < 0.23:
            return "%d.%04d" % (rnd.randrange(-10**14, 10**14), rnd.randrange(10**4))
        if r < 0.24:
            return "%.*f" % (rnd.randrange(6), rnd.randrange(-3, 4))   # 0.000, 2.00000, ...
        s = rnd.randrange(6)
        return "%.*f" % (s, rnd.uniform(-10**5, 10**5))
    if c == "n2":
        return "%.2f" % (rnd.randrange(100000) / 100)
    if c == "d":
        if r < 0.16:
            return rnd.choice(["infinity", "-infinity"])
        return (datetime.date(2000, 1, 1) + datetime.timedelta(days=rnd.randrange(-3000, 3000))).isoformat()
    if c in ("ts", "tz"):
        t = datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=rnd.randrange(0, 86400 * 60))
        return t.isoformat(" ") + ("+00" if c == "tz" else "")
    if c == "t":
        if r < 0.17:
            return '""'
        if r < 0.18:
            return "z" * 2500 + str(rnd.randrange(1000))
        return rnd.choice(["a", "B", "b", "A", "é", "v"]) + str(rnd.randrange(300))


def const(c):
    """a constant of column c's type, usually from the data's range"""
    if c in ("k", "dev", "t"):
        v = {"k": "region-%d" % rnd.randrange(12), "dev": "device-%04d" % rnd.randrange(400),
             "t": rnd.choice(["a", "B", "b", "v", "z"]) + str(rnd.randrange(300))}[c]
        return "'%s'" % v
    if c == "b":
        return rnd.choice(["true", "false"])
    if c in ("i2",):
        return str(rnd.randint(-32768, 32767))
    if c in ("i4", "tn"):
        return str(rnd.choice([rnd.randint(-2**31, 2**31 - 1), rnd.randint(-1000, 1000)]))
    if c == "i8":
        return str(rnd.choice([rnd.randint(-2**63, 2**63 - 1), rnd.randint(-10**6, 10**6)]))
    if c in ("f4", "f8", "fx"):
        return str(rnd.randint(-400, 400) / 4)
    if c in ("n", "n2"):
        return "%.2f" % rnd.uniform(-1000, 1000)
    if c == "d":
        return "'%s'" % (datetime.date(2000, 1, 1) + datetime.timedelta(days=rnd.randrange(-3000, 3000))).isoformat()
    t = datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=rnd.randrange(0, 86400 * 60))
    return "'%s%s'" % (t.isoformat(" "), "+00" if c == "tz" else "")


def condition():
    c = rnd.choice(ORDERED + ["b"])
    r = rnd.random()
    if r < 0.1:
        return "%s IS %sNULL" % (c, rnd.choice(["", "NOT "]))
    if c == "b":
        return "b = %s" % const(c)
    if r < 0.2:
        a, b = sorted([const(c), const(c)]) if c in ("k", "dev", "t", "d", "ts", "tz") else (const(c), const(c))
        return "%s BETWEEN %s AND %s" % (c, a, b)
    return "%s %s %s" % (c, rnd.choice(["=", "<>", "<", "<=", ">", ">="]), const(c))


def aggregate():
    r = rnd.random()
    if r < 0.1:
        return "count(*)", ""
    if r < 0.97:
        a = rnd.choice(["count", "sum", "avg", "min", "max", "min", "max"])
        c = rnd.choice(NUMERIC if a in ("sum", "avg") else ORDERED)
        # min/max of numerics equal in value but not in scale (1.0, 1.000) may give either
        kind = "f" if a in ("sum", "avg") and c in INEXACT else "n" if a in ("min", "max") and c == "n" else ""
        return "%s(%s)" % (a, c), kind
    # something the vectorized node does not do: the query must still be right
    return rnd.choice(["stddev_pop(i4)", "sum(i2 + tn)", "count(DISTINCT k)", "max(t ORDER BY id)",
                       "sum(i4) FILTER (WHERE b)", "bool_or(b)", "string_agg(k, ',' ORDER BY id)"]), ""


def queries():
    gold, heap, text = [], [], []
    for q in range(int(sys.argv[3])):
        keys = []
        for _ in range(rnd.choice([0, 1, 1, 1, 2, 2, 3])):
            c = rnd.choice(KEYS)
            if c not in keys:
                keys.append(c)
        aggs = [aggregate() for _ in range(rnd.randint(1, 5))]
        where = [condition() for _ in range(rnd.choice([0, 0, 1, 1, 2]))]
        as_of = rnd.random() < 0.15
        parallel = rnd.random() < 0.2
        inexact = ["%d%s" % (i + len(keys), x) for i, (_, x) in enumerate(aggs) if x]
        sql = "SELECT %s FROM @T%s%s%s" % (
            ", ".join(keys + [a for a, _ in aggs]),
            " WHERE " + " AND ".join(where) if where else "",
            " GROUP BY " + ", ".join(keys) if keys else "",
            " ORDER BY " + ", ".join(str(i + 1) for i in range(len(keys))) if keys else "")
        pre = ("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
               if parallel else "")
        post = "RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;" if parallel else ""
        g = sql.replace("@T", "streamext.as_of(NULL::gold, 1) t" if as_of else "gold t")
        h = sql.replace("@T", "heap1 t" if as_of else "heap t")
        marker = "\\echo '#Q %d %s'" % (q, ",".join(map(str, inexact)))
        gold.append("%s\n%s\n\\echo '#E'\nEXPLAIN (COSTS OFF) %s;\n\\echo '#R'\n%s;\n%s" % (marker, pre, g, g, post))
        heap.append("%s\n%s\n\\echo '#R'\n%s;\n%s" % (marker, pre, h, post))
        text.append("%s%s" % ("[parallel] " if parallel else "", g))
    open(sys.argv[4], "w").write("\n".join(gold) + "\n")
    open(sys.argv[5], "w").write("\n".join(heap) + "\n")
    open(sys.argv[6], "w").write("\n".join(text) + "\n")


if mode == "ddl":
    print("CREATE TABLE heap (%s);" % ", ".join("%s %s" % (c, TYPES[c]) for c in COLS))
elif mode == "data":
    n = int(sys.argv[3])
    for i in range(1, n + 1):
        nullrun = (i // 1000) % 4 == 2  # every fourth segment: some columns entirely NULL
        print(",".join(value(c, i, nullrun) for c in COLS))
elif mode == "queries":
    queries()
PY

cat >"$SE_WORK/compare.py" <<'PY'
# compare.py GOLD.out HEAP.out QUERIES: compare the answers query by query; errors (psql's
# "psql:file:line: ERROR: ..." lines, which may land anywhere) must be the same on both sides
import decimal, math, re, sys
from collections import Counter

ERR = re.compile(r"^psql:[^:]*:\d+: (ERROR|WARNING):\s+(.*)")


def sections(path):
    """query number -> (inexact columns, result lines, explain lines); and the errors"""
    out, cur, part, errors = {}, None, None, Counter()
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        m = ERR.match(line)
        if m:
            errors[m.group(2)] += 1
        elif line.startswith("#Q "):
            f = line.split(" ")
            cur = int(f[1])
            out[cur] = ({int(x[:-1]): x[-1] for x in f[2].split(",")} if len(f) > 2 and f[2] else {}, [], [])
            part = None
        elif line == "#E":
            part = 2
        elif line == "#R":
            part = 1
        elif cur is not None and part is not None:
            out[cur][part].append(line)
    return out, errors


def close(kind, a, b):
    if kind == "n":
        try:
            return decimal.Decimal(a) == decimal.Decimal(b)
        except decimal.InvalidOperation:
            return False
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if not (math.isfinite(x) and math.isfinite(y)):
        return False
    return abs(x - y) <= 1e-6 + 1e-9 * max(abs(x), abs(y))


(gold, gerr), (heap, herr) = sections(sys.argv[1]), sections(sys.argv[2])
queries = open(sys.argv[3]).read().split("\n")
bad, vectorized, tolerated = [], 0, 0
for q in sorted(heap):
    inexact, hrows, _ = heap[q]
    _, grows, explain = gold.get(q, ({}, None, []))
    if any("VectorizedAgg" in l for l in explain):
        vectorized += 1
    same = grows is not None and len(grows) == len(hrows)
    for gl, hl in zip(grows or [], hrows):
        if gl == hl:
            continue
        gf, hf = gl.split("\x1f"), hl.split("\x1f")
        if len(gf) != len(hf) or any(g != h and not (i in inexact and close(inexact[i], g, h))
                                     for i, (g, h) in enumerate(zip(gf, hf))):
            same = False
            break
        tolerated += 1
    if not same:
        bad.append(q)
for q in bad[:8]:
    print("query %d differs: %s" % (q, queries[q]))
    g, h = gold[q][1], heap[q][1]
    i = next((i for i, (a, b) in enumerate(zip(g, h)) if a != b), min(len(g), len(h)))
    print("  row %d of %d / %d" % (i + 1, len(g), len(h)))
    print("  gold: %s" % (g[i] if i < len(g) else "-").replace("\x1f", "|")[:1000])
    print("  heap: %s" % (h[i] if i < len(h) else "-").replace("\x1f", "|")[:1000])
if gerr != herr:
    print("errors differ: gold %s, heap %s" % (dict(gerr), dict(herr)))
    bad.append(-1)
print("errors %d" % sum(herr.values()))
print("rows equal only within float tolerance or numeric scale %d" % tolerated)
print("vectorized %d" % vectorized)
print("differing %d" % len(bad))
PY

python3 "$SE_WORK/gen.py" data "$SEED" "$ROWS" >"$SE_WORK/rows.csv"
se_psql pg1 -c "$(python3 "$SE_WORK/gen.py" ddl "$SEED")"
se_psql pg1 <<SQL
\copy heap FROM '$SE_WORK/rows.csv' WITH (FORMAT csv)
SET streamext.columnar_segment_rows = 1000;
CREATE TABLE gold (LIKE heap) USING versioned_columnar;
INSERT INTO gold SELECT * FROM heap ORDER BY id;
CREATE TABLE heap1 AS SELECT * FROM heap;
DELETE FROM heap WHERE id % 13 = 0;
DELETE FROM gold WHERE id % 13 = 0;
UPDATE heap SET i8 = i8 / 2, t = t || 'u', k = 'region-x' WHERE id % 29 = 0;
UPDATE gold SET i8 = i8 / 2, t = t || 'u', k = 'region-x' WHERE id % 29 = 0;
ANALYZE heap, heap1, gold;
SQL
se_assert_eq "gold and heap hold the same rows" "t" "$(se_psql pg1 -c "
	SELECT (SELECT count(*) FROM (SELECT h::text FROM heap h EXCEPT ALL SELECT g::text FROM gold g) x) = 0
	   AND (SELECT count(*) FROM (SELECT g::text FROM gold g EXCEPT ALL SELECT h::text FROM heap h) x) = 0")"

python3 "$SE_WORK/gen.py" queries "$SEED" "$NQ" "$SE_WORK/gold.sql" "$SE_WORK/heap.sql" "$SE_WORK/queries.txt"
run() {	# run FILE OUT: one session, errors included in the output (both sides must fail alike)
	"$SE_BINDIR/psql" -X -q -At -F $'\x1f' -v VERBOSITY=terse -h "$SE_WORK/pg" -p "$(se_pg_port pg1)" \
		-U postgres -d postgres -c "SET streamext.enable_vectorized_agg = on" -f "$1" >"$2" 2>&1
}
start=$(date +%s)
run "$SE_WORK/gold.sql" "$SE_WORK/gold.out"
run "$SE_WORK/heap.sql" "$SE_WORK/heap.out"
se_log "queries ran in $(($(date +%s) - start)) s"
result=$(python3 "$SE_WORK/compare.py" "$SE_WORK/gold.out" "$SE_WORK/heap.out" "$SE_WORK/queries.txt")
echo "$result"
vectorized=$(sed -n 's/^vectorized //p' <<<"$result")
differing=$(sed -n 's/^differing //p' <<<"$result")
se_log "$vectorized of $NQ queries used Custom Scan (VectorizedAgg)"
se_assert_eq "queries answering differently from heap (seed $SEED)" 0 "$differing"
((vectorized > 0)) || se_die "no query used the VectorizedAgg node"
