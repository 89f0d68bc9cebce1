#!/usr/bin/env bash
# Randomized check of the event-time functions on 200,000 random out-of-order rows:
# is_late, hop and session_window against plain-SQL references, is_duplicate against
# an independent script, and the approximate aggregates against exact results.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "max_parallel_workers_per_gather = 2"
se_psql pg1 -c "CREATE EXTENSION streamext"

SEED=${SE_STREAM_SEED:-$(( (RANDOM * 32768 + RANDOM) % 1000000 ))}
se_log "seed $SEED (rerun with SE_STREAM_SEED=$SEED)"
N=200000

# Rows arrive in order of "arrival" with event times up to 20 minutes out of order
# (most a little, some a lot);
# keys (k, k2) repeat every ~80 s of event time, so duplicates and evictions are both
# common; 1% of event times are NULL; batch groups 50 arrivals (a micro-batch).
se_psql pg1 <<SQL
SELECT setseed($SEED / 1000000.0);
CREATE TABLE ev AS
SELECT i AS arrival, i / 50 AS batch, (random() * 2000)::int AS k,
       CASE WHEN random() < 0.3 THEN NULL ELSE (random() * 3)::int END AS k2,
       CASE WHEN random() < 0.01 THEN NULL
            ELSE '2024-01-01'::timestamptz + i * interval '10 ms'
                 - (power(random(), 8) * 1200000000)::bigint * interval '1 microsecond' END AS et,
       '1969-12-31 12:00:00+00'::timestamptz
                 + (random() * 86400000000)::bigint * interval '1 microsecond' AS ts_old
  FROM generate_series(1, $N) i;
ANALYZE ev;
SQL

# --- is_late: event_time <= max(event time of earlier rows) - delay -------------
bad=$(se_psql pg1 -c "
SELECT count(*) FROM (
  SELECT streamext.is_late(et, '2 minutes') OVER (ORDER BY arrival) AS got,
         CASE WHEN et IS NULL THEN NULL
              ELSE coalesce(et <= max(et) OVER (ORDER BY arrival ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                                  - interval '2 minutes', false) END AS want
    FROM ev) s WHERE got IS DISTINCT FROM want")
se_assert_eq "is_late mismatches (per row)" 0 "$bad"
late=$(se_psql pg1 -c "SELECT count(*) FILTER (WHERE l) FROM (SELECT streamext.is_late(et, '2 minutes') OVER (ORDER BY arrival) l FROM ev) s")
se_log "late rows: $late of $N"
[ "$late" -gt 1000 ] && [ "$late" -lt $((N - 1000)) ] || se_die "the data should have both late and on-time rows"
# micro-batches: rows of one batch share the watermark of the earlier batches
bad=$(se_psql pg1 -c "
SELECT count(*) FROM (
  SELECT streamext.is_late(et, '2 minutes') OVER (ORDER BY batch) AS got,
         CASE WHEN et IS NULL THEN NULL
              ELSE coalesce(et <= max(et) OVER (ORDER BY batch RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                                  - interval '2 minutes', false) END AS want
    FROM ev) s WHERE got IS DISTINCT FROM want")
se_assert_eq "is_late mismatches (per batch)" 0 "$bad"
# per key, and the running watermark never decreases and equals max - delay
bad=$(se_psql pg1 -c "
SELECT count(*) FROM (
  SELECT streamext.is_late(et, '30 seconds') OVER (PARTITION BY k ORDER BY arrival) AS got,
         CASE WHEN et IS NULL THEN NULL
              ELSE coalesce(et <= max(et) OVER (PARTITION BY k ORDER BY arrival ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                                  - interval '30 seconds', false) END AS want,
         streamext.watermark(et, '30 seconds') OVER (PARTITION BY k ORDER BY arrival) AS wm,
         max(et) OVER (PARTITION BY k ORDER BY arrival) - interval '30 seconds' AS wm_want
    FROM ev) s WHERE got IS DISTINCT FROM want OR wm IS DISTINCT FROM wm_want")
se_assert_eq "is_late/watermark mismatches (per key)" 0 "$bad"

# --- is_duplicate: an independent reference in Python ----------------------------
cat >"$SE_WORK/dedup_ref.py" <<'PY'
# A key is a duplicate when its last kept row's event time + delay is above the
# watermark (max event time of the rows before, minus delay); otherwise it is kept,
# unless the row is late (event time <= watermark): late rows never enter the state.
import sys
delay = int(sys.argv[1])
kept = {}
prev_max = None
out = []
for line in sys.stdin:
    arrival, k, k2, et = line.rstrip("\n").split("\t")
    if et == "\\N":
        out.append(arrival + "\t\\N\n")
        continue
    et = int(et)
    key = (k, k2)
    wm = None if prev_max is None else prev_max - delay
    expiry = kept.get(key)
    dup = expiry is not None and (wm is None or wm < expiry)
    late = wm is not None and et <= wm
    if not dup and not late:
        kept[key] = et + delay
    prev_max = et if prev_max is None else max(prev_max, et)
    out.append("%s\t%s\n" % (arrival, "t" if dup else "f"))
sys.stdout.write("".join(out))
PY
se_psql pg1 -c "CREATE TABLE dupref (arrival int, dup boolean)"
se_psql pg1 -c "COPY (SELECT arrival, k, k2, (extract(epoch FROM et) * 1000000)::bigint FROM ev ORDER BY arrival) TO STDOUT" |
	python3 "$SE_WORK/dedup_ref.py" 300000000 | se_psql pg1 -c "COPY dupref FROM STDIN"
res=$(se_psql pg1 -c "
SELECT count(*) FILTER (WHERE s.dup IS DISTINCT FROM r.dup) || ' ' || count(*) FILTER (WHERE s.dup) || ' ' || count(r.arrival)
  FROM (SELECT arrival, streamext.is_duplicate(ROW(k, k2), et, '5 minutes') OVER (ORDER BY arrival) AS dup FROM ev) s
  LEFT JOIN dupref r USING (arrival)")
read -r bad dups joined <<<"$res"
se_log "duplicates: $dups of $N"
se_assert_eq "reference rows" "$N" "$joined"
se_assert_eq "is_duplicate mismatches" 0 "$bad"
[ "$dups" -gt 1000 ] && [ "$dups" -lt $((N - 20000)) ] || se_die "the data should have both duplicates and evicted keys"

# --- hop: every window [s, s + width) with s = origin + k * slide, s <= ts < s + width
check_hop() {
	local col=$1 width=$2 slide=$3 origin=$4
	se_psql pg1 -c "
WITH got AS (
  SELECT arrival, lower(w) AS lo, upper(w) AS hi
    FROM ev, LATERAL streamext.hop($col, '$width', '$slide', '$origin') w),
want AS (
  SELECT arrival, to_timestamp(0) + (o + n * sl) * interval '1 microsecond' AS lo,
         to_timestamp(0) + (o + n * sl + wd) * interval '1 microsecond' AS hi
    FROM (SELECT arrival, extract(epoch FROM $col) * 1000000 AS e,
                 extract(epoch FROM interval '$width') * 1000000 AS wd,
                 extract(epoch FROM interval '$slide') * 1000000 AS sl,
                 extract(epoch FROM '$origin'::timestamptz) * 1000000 AS o
            FROM ev WHERE $col IS NOT NULL) x,
         LATERAL generate_series(ceil((e - wd + 1 - o) / sl)::bigint, floor((e - o) / sl)::bigint) n)
SELECT (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM want) a)
     + (SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM got) b)"
}
se_assert_eq "hop 10min/4min mismatches" 0 "$(check_hop et '10 minutes' '4 minutes' '1970-01-01 00:00:07+00')"
se_assert_eq "hop 1h/25min before 1970 mismatches" 0 "$(check_hop ts_old '1 hour' '25 minutes' '2024-05-05 00:00:00+00')"
se_assert_eq "hop 7us/3us mismatches" 0 "$(check_hop ts_old '7 microseconds' '3 microseconds' 'epoch')"

# --- session_window: gaps and islands in plain SQL --------------------------------
bad=$(se_psql pg1 -c "
WITH got AS (
  SELECT arrival, streamext.session_window(et, '45 seconds') OVER (PARTITION BY k ORDER BY et) AS s FROM ev),
marked AS (
  SELECT arrival, k, et,
         CASE WHEN lag(et) OVER (PARTITION BY k ORDER BY et) IS NULL
                OR et > lag(et) OVER (PARTITION BY k ORDER BY et) + interval '45 seconds' THEN 1 ELSE 0 END AS starts
    FROM ev WHERE et IS NOT NULL),
numbered AS (
  SELECT *, sum(starts) OVER (PARTITION BY k ORDER BY et ROWS UNBOUNDED PRECEDING) AS sid FROM marked),
want AS (
  SELECT arrival, tstzrange(min(et) OVER p, max(et) OVER p + interval '45 seconds') AS s
    FROM numbered WINDOW p AS (PARTITION BY k, sid))
SELECT count(*) FROM got LEFT JOIN want USING (arrival) WHERE got.s IS DISTINCT FROM want.s")
se_assert_eq "session_window mismatches" 0 "$bad"
sessions=$(se_psql pg1 -c "SELECT count(DISTINCT (k, s)) FROM (SELECT k, streamext.session_window(et, '45 seconds') OVER (PARTITION BY k ORDER BY et) s FROM ev) x")
se_log "sessions: $sessions"

# --- approximate aggregates within their bounds -----------------------------------
res=$(se_psql pg1 -c "
SELECT abs(streamext.approx_count_distinct(g) - 10000000) <= 3 * 0.01 * 10000000
  FROM generate_series(1, 10000000) g")
se_assert_eq "approx_count_distinct on 10M distinct within 3 x 1%" t "$res"
res=$(se_psql pg1 -c "
SELECT bool_and(abs(est - exact) <= 3 * 0.02 * exact)
  FROM (SELECT streamext.approx_count_distinct(ROW(k, k2), 0.02) AS est, count(DISTINCT (k, k2)) AS exact
          FROM ev GROUP BY batch / 400) s")
se_assert_eq "approx_count_distinct per group within 3 x 2%" t "$res"
se_psql pg1 -c "CREATE TABLE skew AS SELECT exp(random() * 25) * CASE WHEN random() < 0.1 THEN -1 ELSE 1 END AS v FROM generate_series(1, $N)"
for acc in 100 1000 10000; do
	res=$(se_psql pg1 -c "
SELECT max(greatest(lo - f, f - hi, 0)) <= 1.0 / $acc
  FROM (SELECT f, (SELECT count(*) FILTER (WHERE v < a)::float8 / count(*) FROM skew) AS lo,
               (SELECT count(*) FILTER (WHERE v <= a)::float8 / count(*) FROM skew) AS hi
          FROM (SELECT unnest(ARRAY[0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]) AS f,
                       unnest(streamext.approx_percentile(v, ARRAY[0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999], $acc)) AS a
                  FROM skew) q) s")
	se_assert_eq "approx_percentile rank error <= 1/$acc on skewed data" t "$res"
done
# stored per-group states, merged, keep the bound
res=$(se_psql pg1 -c "
WITH parts AS (SELECT streamext.approx_percentile_state(v, 1000) AS st FROM skew GROUP BY (v * 1000)::bigint % 7),
     merged AS (SELECT streamext.approx_merge(st) AS m FROM parts)
SELECT bool_and(greatest(lo - f, f - hi, 0) <= 1.0 / 1000)
  FROM (SELECT f, (SELECT count(*) FILTER (WHERE v < a)::float8 / count(*) FROM skew) AS lo,
               (SELECT count(*) FILTER (WHERE v <= a)::float8 / count(*) FROM skew) AS hi
          FROM merged, unnest(ARRAY[0.01, 0.5, 0.9, 0.99]) f,
               LATERAL (SELECT streamext.approx_percentile_result(merged.m, f) AS a OFFSET 0) x) s")
se_assert_eq "merged percentile states within 1/1000" t "$res"
