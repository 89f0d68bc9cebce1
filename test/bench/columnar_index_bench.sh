#!/usr/bin/env bash
# Index benchmark: the plans BI clients get on gold tables with btree indexes, against heap.
# Two tables (SE_BENCH_SCALE scales the row counts):
#  - bi: 200,000 rows (k int PRIMARY KEY, g, v numeric, note text) inserted in random key order;
#    bi_limit = SELECT sum(length(note)) FROM (SELECT * FROM t ORDER BY k LIMIT 20000) s,
#    bi_point = 100 primary key lookups (WHERE k = ...), each planned on its own;
#  - dash: 2,000,000 gold-like rows loaded in time order, PRIMARY KEY (device_id, window_start);
#    grid = ORDER BY device_id, window_start LIMIT 20000, dropdown = GROUP BY device_id ORDER BY
#    device_id LIMIT 50, copy_ordered = COPY (SELECT * ... ORDER BY device_id, window_start) TO a
#    file, dash_point = 100 primary key lookups.
# Each query runs on (a) the gold table as the planner likes, (b) the gold table with index
# scans disabled, (c) the heap twin; medians of interleaved runs, printed as ratios.  A run over
# COLUMNAR_INDEX_BENCH_TIMEOUT_S seconds (default 120) is cancelled and shown as a timeout.
. "$SE_LIB"; se_test_begin
scale=${SE_BENCH_SCALE:-1}
bi_rows=$(awk -v s="$scale" 'BEGIN { printf "%d", 200000 * s }')
dash_rows=$(awk -v s="$scale" 'BEGIN { printf "%d", 2000000 * s }')
reps=${COLUMNAR_BENCH_REPS:-3}
timeout_s=${COLUMNAR_INDEX_BENCH_TIMEOUT_S:-120}
se_pg_start pg1 "shared_buffers = 512MB" "max_wal_size = 4GB" "checkpoint_timeout = 30min"
se_psql pg1 -c "CREATE EXTENSION streamext"
se_log "rows: bi $bi_rows, dash $dash_rows"

se_psql pg1 <<SQL
CREATE TABLE bi_h (k int PRIMARY KEY, g int, v numeric(12,2), note text);
CREATE TABLE bi_c (LIKE bi_h) USING versioned_columnar;
ALTER TABLE bi_c ADD PRIMARY KEY (k);
CREATE UNLOGGED TABLE bi_src AS
SELECT k, k % 100 AS g, round((random() * 10000)::numeric, 2)::numeric(12,2) AS v,
	   'note ' || md5(k::text) AS note
FROM generate_series(1, $bi_rows) k ORDER BY random();
INSERT INTO bi_h SELECT * FROM bi_src;
INSERT INTO bi_c SELECT * FROM bi_src;

CREATE TABLE dash_h (window_start timestamptz, device_id text, product_id int, region text,
					 qty int, amount numeric(12,2), temperature float8, speed float8,
					 PRIMARY KEY (device_id, window_start));
CREATE TABLE dash_c (LIKE dash_h) USING versioned_columnar;
ALTER TABLE dash_c ADD PRIMARY KEY (device_id, window_start);
CREATE UNLOGGED TABLE dash_src AS
SELECT '2024-01-01 00:00:00+00'::timestamptz + (i / 5000) * interval '1 hour' AS window_start,
	   'device-' || lpad((i % 5000)::text, 5, '0') AS device_id,
	   ((i::bigint * 7919) % 10000)::int AS product_id,
	   'region-' || ((i / 7) % 20) AS region,
	   (random() * 100)::int AS qty,
	   round((random() * 1000)::numeric, 2)::numeric(12,2) AS amount,
	   random() * 40 AS temperature,
	   round((random() * 120)::numeric, 1)::float8 AS speed
FROM generate_series(0, $dash_rows - 1) i;
INSERT INTO dash_h SELECT * FROM dash_src;
INSERT INTO dash_c SELECT * FROM dash_src;
DROP TABLE bi_src, dash_src;
VACUUM ANALYZE bi_h; VACUUM ANALYZE dash_h; ANALYZE bi_c; ANALYZE dash_c;

CREATE TABLE results (what text, variant text, ms float8);
CREATE TABLE plans (what text, variant text, plan text);
-- the query's time in ms, or NULL when statement_timeout cancelled it
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; BEGIN
	t0 := clock_timestamp(); EXECUTE q; RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
EXCEPTION WHEN query_canceled THEN RETURN NULL;
END \$\$;
-- the scan and top nodes of the plan, in one line
CREATE FUNCTION plan_of(q text) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE l text; r text := ''; BEGIN
	FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		IF l ~ '^ *(->  )?[A-Z]' AND l !~ '^ *(Sort Key|Group Key|Index Cond|Filter|Custom Plan|Columns|Skip|Output|Workers)' THEN
			r := r || CASE WHEN r = '' THEN '' ELSE ' > ' END ||
				 regexp_replace(regexp_replace(l, '^ *(->  )?', ''), ' (on|using) .*', '');
		END IF;
	END LOOP;
	RETURN r;
END \$\$;
SQL

mid=$((bi_rows / 2))
last=$(se_psql pg1 -c "SELECT max(window_start) FROM dash_h")
declare -A Q=(
	[bi_limit]="SELECT sum(length(note)) FROM (SELECT * FROM bi_@T ORDER BY k LIMIT 20000) s"
	[bi_point]="DO \$d\$ DECLARE r record; BEGIN FOR i IN 1..100 LOOP EXECUTE format('SELECT * FROM bi_@T WHERE k = %s', (i * 7919) % $bi_rows + 1) INTO r; END LOOP; END \$d\$"
	[grid]="SELECT * FROM dash_@T ORDER BY device_id, window_start LIMIT 20000"
	[dropdown]="SELECT device_id FROM dash_@T GROUP BY device_id ORDER BY device_id LIMIT 50"
	[copy_ordered]="COPY (SELECT * FROM dash_@T ORDER BY device_id, window_start) TO '/dev/null'"
	[dash_point]="DO \$d\$ DECLARE r record; BEGIN FOR i IN 1..100 LOOP EXECUTE format('SELECT * FROM dash_@T WHERE device_id = %L AND window_start = %L', 'device-' || lpad(((i * 37) % 5000)::text, 5, '0'), '$last'::timestamptz - ((i % 50) * interval '1 hour')) INTO r; END LOOP; END \$d\$"
)
order=(bi_limit bi_point grid dropdown copy_ordered dash_point)
ordlist=$(printf "'%s'," "${order[@]}"); ordlist=${ordlist%,}
noidx="SET enable_indexscan = off; SET enable_indexonlyscan = off; SET enable_bitmapscan = off;"
declare -A V=([gold]="c|" [gold_noindex]="c|$noidx" [heap]="h|")
for q in "${order[@]}"; do
	for v in gold gold_noindex heap; do
		t=${V[$v]%%|*}; settings=${V[$v]#*|}; sql=${Q[$q]//@T/$t}
		sql=${sql#COPY (}; sql=${sql%) TO *}	# a COPY's plan is its query's
		case $q in *_point) ;; *)
			se_psql pg1 -c "$settings INSERT INTO plans SELECT '$q', '$v', plan_of(\$q\$$sql\$q\$)" ;;
		esac
	done
done
for r in $(seq 1 "$reps"); do
	for q in "${order[@]}"; do
		for v in gold gold_noindex heap; do
			t=${V[$v]%%|*}; settings=${V[$v]#*|}; sql=${Q[$q]//@T/$t}
			se_psql pg1 -c "$settings SET statement_timeout = '${timeout_s}s'; INSERT INTO results SELECT '$q', '$v', bench_ms(\$q\$$sql\$q\$)"
		done
	done
done

echo
echo "gold-table index plans, bi $bi_rows rows, dash $dash_rows rows (medians of $reps; ms; NULL = over ${timeout_s} s)"
printf '%-13s %10s %12s %10s %12s %12s\n' what gold gold_noindex heap gold/heap gold/noindex
se_psql pg1 -F ' ' -c "
	WITH m AS (SELECT what, variant, CASE WHEN count(ms) < count(*) THEN NULL
					  ELSE percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) END AS ms
			   FROM results GROUP BY what, variant),
	w AS (SELECT what, max(ms) FILTER (WHERE variant = 'gold') g,
				 max(ms) FILTER (WHERE variant = 'gold_noindex') n,
				 max(ms) FILTER (WHERE variant = 'heap') h FROM m GROUP BY what)
	SELECT what, coalesce(round(g::numeric, 1)::text, 'timeout'), round(n::numeric, 1),
		   round(h::numeric, 1), coalesce(round((g / h)::numeric, 2)::text, '-'),
		   coalesce(round((g / n)::numeric, 2)::text, '-')
	FROM w ORDER BY array_position(ARRAY[$ordlist], what)" |
	while read -r w g n h gh gn; do printf '%-13s %10s %12s %10s %12s %12s\n' "$w" "$g" "$n" "$h" "$gh" "$gn"; done
echo
echo "plans (gold as planned | heap)"
se_psql pg1 -F ' | ' -c "
	SELECT g.what, g.plan, h.plan FROM plans g JOIN plans h ON h.what = g.what AND h.variant = 'heap'
	WHERE g.variant = 'gold' ORDER BY array_position(ARRAY[$ordlist], g.what)"
# fail when the planner's choice on the gold table is 10x slower than with index scans disabled
bad=$(se_psql pg1 -c "
	WITH m AS (SELECT what, variant, CASE WHEN count(ms) < count(*) THEN 'Infinity'::float8
					  ELSE percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) END AS ms
			   FROM results GROUP BY what, variant)
	SELECT string_agg(g.what, ', ') FROM m g JOIN m n ON n.what = g.what AND n.variant = 'gold_noindex'
	WHERE g.variant = 'gold' AND g.ms > 10 * n.ms AND g.ms > 50")
[ -z "$bad" ] || se_die "the gold table's plan is over 10x slower than without index scans: $bad"
