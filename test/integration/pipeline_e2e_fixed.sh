#!/usr/bin/env bash
# Issue 11, test 1 (deterministic part): the seed's pipeline shape driven by run_pipeline with
# fixed micro-batch boundaries.  15 waves of readings (out of order, a heavy tail of late ones,
# re-sent copies of readings of the same and the two previous waves, sensor faults) are
# inserted one transaction per wave into a heap source; after each wave run_pipeline runs one
# micro-batch of each pipeline (trigger manual).  With the boundaries known, the reference is
# exact for ANY data, late rows that are late only because of where a batch ended included:
# Spark's rule with one micro-batch per wave, in plain SQL over the inserted rows:
#   watermark before wave j = max(event_time of waves < j) - delay; late: event_time <= it
#   (with a window: window end <= it); dedup on (device_id, event_time): the first not-late
#   arrival is kept (a key that the watermark evicted can only come back late, as the key holds
#   the event time); expectations on the rows that remain.
# Checked per batch (the event log: rows_in, rows_out, late_rows, duplicates_dropped,
# watermark, expectation counts), the update-mode gold after every batch, and every table at
# the end.
. "$SE_LIB"; se_test_begin
se_pg_start pg1 "timezone = 'UTC'"
q() { se_psql pg1 -c "$1"; }
q "CREATE EXTENSION streamext"
WAVES=15

se_psql pg1 <<'SQL'
SELECT setseed(0.11);
CREATE TABLE staging (id bigint PRIMARY KEY, wave int, device_id text, event_time timestamptz, temperature float8);
CREATE SEQUENCE staging_id;
DO $$
DECLARE j int;
BEGIN
	FOR j IN 1..15 LOOP
		INSERT INTO staging
		SELECT nextval('staging_id'), j, 'dev-' || (random() * 19)::int,
		       '2026-01-01 00:20+00'::timestamptz + j * interval '7 minutes' + random() * interval '7 minutes'
		         - power(random(), 4) * interval '30 minutes',
		       CASE WHEN random() < 0.02 THEN 999 ELSE round((20 + random() * 10)::numeric, 1) END
		  FROM generate_series(1, 400);
		-- re-sent readings (identical), of this wave and the two before; never of faulty or warm ones,
		-- so that the expectation counts do not depend on whether a duplicate is dropped before or
		-- after the checks
		INSERT INTO staging
		SELECT nextval('staging_id'), j, device_id, event_time, temperature FROM (
			SELECT device_id, event_time, temperature FROM staging
			 WHERE wave BETWEEN j - 2 AND j AND temperature < 28 ORDER BY random() LIMIT 30) d;
	END LOOP;
END $$;

-- The source (a heap that applications insert into), a dimension table, the targets.
CREATE TABLE readings (id bigint, wave int, device_id text, event_time timestamptz, temperature float8);
CREATE TABLE devices (device_id text PRIMARY KEY, site text);
INSERT INTO devices SELECT 'dev-' || i, 'site-' || (i % 3) FROM generate_series(0, 17) i;  -- dev-18, dev-19 unknown
CREATE TABLE clean (id bigint, wave int, device_id text, event_time timestamptz, temperature float8, site text);
CREATE TABLE hourly (window_start timestamptz, window_end timestamptz, device_id text, readings bigint,
	temp_sum numeric, temp_max float8) USING versioned_columnar;
CREATE TABLE minute (window_start timestamptz, device_id text, readings bigint, temp_sum numeric,
	PRIMARY KEY (window_start, device_id));

SELECT streamext.create_pipeline('det_silver', 'readings', 'clean',
	$q$SELECT b.id, b.wave, b.device_id, b.event_time, b.temperature, d.site
	     FROM batch b LEFT JOIN devices d USING (device_id)$q$,
	'{"event_time": "event_time", "watermark": "10 minutes", "dedup_keys": ["device_id", "event_time"],
	  "late_rows": "det_late", "quarantine": "det_quarantine", "trigger": "manual",
	  "expectations": [{"name": "valid_temp", "check": "temperature BETWEEN -50 AND 150", "on_violation": "drop"},
	                   {"name": "cool", "check": "temperature < 28 OR temperature > 150", "on_violation": "warn"}]}');
SELECT streamext.create_pipeline('det_hourly', 'clean', 'hourly',
	$q$SELECT window_start, window_end, device_id, count(*) AS readings, sum(temperature::numeric) AS temp_sum,
	          max(temperature) AS temp_max FROM batch GROUP BY 1, 2, 3$q$,
	'{"event_time": "event_time", "watermark": "5 minutes", "window": {"type": "tumble", "width": "1 hour"},
	  "mode": "append", "late_rows": "det_hourly_late", "trigger": "manual"}');
SELECT streamext.create_pipeline('det_minute', 'clean', 'minute',
	$q$SELECT window_start, device_id, count(*) AS readings, sum(temperature::numeric) AS temp_sum
	     FROM batch GROUP BY window_start, device_id$q$,
	'{"event_time": "event_time", "watermark": "5 minutes", "window": {"type": "tumble", "width": "1 minute"},
	  "mode": "update", "trigger": "manual"}');

-- The reference, from staging alone.
CREATE TABLE r_wm AS
SELECT wave, max(max_et) OVER (ORDER BY wave ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - interval '10 minutes' AS wm_before,
       max(max_et) OVER (ORDER BY wave) - interval '10 minutes' AS wm_after
  FROM (SELECT wave, max(event_time) AS max_et FROM staging GROUP BY 1) x;
CREATE TABLE r_class AS
SELECT s.*, coalesce(s.event_time <= w.wm_before, false) AS late FROM staging s JOIN r_wm w USING (wave);
CREATE TABLE r_kept AS
SELECT DISTINCT ON (device_id, event_time) * FROM r_class WHERE NOT late ORDER BY device_id, event_time, wave, id;
CREATE TABLE r_clean AS
SELECT k.id, k.wave, k.device_id, k.event_time, k.temperature, d.site
  FROM r_kept k LEFT JOIN devices d USING (device_id) WHERE k.temperature BETWEEN -50 AND 150;
-- gold reads clean wave by wave (its batch j reads what silver's batch j wrote)
CREATE TABLE r_gwm AS
SELECT wave, max(max_et) OVER (ORDER BY wave ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - interval '5 minutes' AS wm_before,
       max(max_et) OVER (ORDER BY wave) - interval '5 minutes' AS wm_after
  FROM (SELECT wave, max(event_time) AS max_et FROM r_clean GROUP BY 1) x;
CREATE TABLE r_gclass AS
SELECT c.*, coalesce(date_bin('1 hour', c.event_time, 'epoch') + interval '1 hour' <= g.wm_before, false) AS late_h,
       coalesce(date_bin('1 minute', c.event_time, 'epoch') + interval '1 minute' <= g.wm_before, false) AS late_m
  FROM r_clean c JOIN r_gwm g USING (wave);
CREATE TABLE r_hourly AS
SELECT date_bin('1 hour', event_time, 'epoch') AS window_start, date_bin('1 hour', event_time, 'epoch') + interval '1 hour' AS window_end,
       device_id, count(*) AS readings, sum(temperature::numeric) AS temp_sum, max(temperature) AS temp_max
  FROM r_gclass WHERE NOT late_h GROUP BY 1, 2, 3
HAVING date_bin('1 hour', event_time, 'epoch') + interval '1 hour' <= (SELECT max(wm_after) FROM r_gwm);
SQL

se_assert_eq "staging: no key with two different readings (the reference's first arrival is well defined)" 0 \
	"$(q "SELECT count(*) FROM (SELECT device_id, event_time FROM staging GROUP BY 1, 2 HAVING count(DISTINCT temperature) > 1) x")"
se_assert_eq "the data has late rows in later waves, duplicates, faults, warm rows, gold late rows" t "$(q "SELECT
	(SELECT count(*) > 50 FROM r_class WHERE late) AND (SELECT count(*) FROM r_class WHERE NOT late) - (SELECT count(*) FROM r_kept) > 50
	AND (SELECT count(*) > 20 FROM r_kept WHERE temperature = 999) AND (SELECT count(*) > 20 FROM r_kept WHERE temperature BETWEEN 28 AND 150)
	AND (SELECT count(*) > 10 FROM r_gclass WHERE late_m) AND (SELECT count(*) > 0 FROM r_clean WHERE site IS NULL)")"

for ((j = 1; j <= WAVES; j++)); do
	n=$(q "INSERT INTO readings SELECT id, wave, device_id, event_time, temperature FROM staging WHERE wave = $j ORDER BY id;
		SELECT count(*) FROM staging WHERE wave = $j")
	se_assert_eq "wave $j: run_pipeline(det_silver) returns the rows read" "$n" "$(q "SELECT streamext.run_pipeline('det_silver')")"
	se_assert_eq "wave $j: det_silver nothing more to read" 0 "$(q "SELECT streamext.run_pipeline('det_silver')")"
	q "SELECT streamext.run_pipeline('det_hourly'), streamext.run_pipeline('det_minute')" >/dev/null
	# the event log of this batch = the reference of this wave
	se_assert_eq "wave $j: det_silver batch (rows_in rows_out late dup watermark valid_temp cool)" \
		"$(q "SELECT concat_ws(' ', (SELECT count(*) FROM r_class WHERE wave = $j), (SELECT count(*) FROM r_clean WHERE wave = $j),
			(SELECT count(*) FROM r_class WHERE wave = $j AND late),
			(SELECT count(*) FROM r_class WHERE wave = $j AND NOT late) - (SELECT count(*) FROM r_kept WHERE wave = $j),
			(SELECT wm_after FROM r_wm WHERE wave = $j),
			(SELECT count(*) FROM r_kept WHERE wave = $j AND NOT temperature BETWEEN -50 AND 150),
			(SELECT count(*) FROM r_kept WHERE wave = $j AND temperature BETWEEN 28 AND 150))")" \
		"$(q "SELECT concat_ws(' ', rows_in, rows_out, late_rows, duplicates_dropped, watermark,
			coalesce((expectations->'valid_temp'->>'failed')::bigint, 0), coalesce((expectations->'cool'->>'failed')::bigint, 0))
			FROM streamext.pipeline_batches WHERE pipeline = 'det_silver' AND batch = $j")"
	# update mode: after each batch every window holds its aggregate over all rows so far
	se_assert_eq "wave $j: minute (update mode) = aggregate of the rows so far" 0 "$(q "SELECT count(*) FROM minute m
		FULL JOIN (SELECT date_bin('1 minute', event_time, 'epoch') AS window_start, device_id, count(*) AS readings,
		                  sum(temperature::numeric) AS temp_sum
		             FROM r_gclass WHERE NOT late_m AND wave <= $j GROUP BY 1, 2) r USING (window_start, device_id)
		WHERE m.readings IS DISTINCT FROM r.readings OR m.temp_sum IS DISTINCT FROM r.temp_sum")"
	# append mode: exactly the windows closed by the watermark so far, never changed later
	se_assert_eq "wave $j: hourly (append mode) = closed windows" 0 "$(q "SELECT count(*) FROM (
		(SELECT * FROM hourly EXCEPT ALL SELECT * FROM r_hourly WHERE window_end <= (SELECT wm_after FROM r_gwm WHERE wave = $j))
		UNION ALL
		(SELECT * FROM r_hourly WHERE window_end <= (SELECT wm_after FROM r_gwm WHERE wave = $j) EXCEPT ALL SELECT * FROM hourly)) d")"
done

# (clean has the tracking column the gold pipelines added: compare the columns by name)
C="id, wave, device_id, event_time, temperature, site"
se_assert_eq "clean = reference" 0 "$(q "SELECT count(*) FROM ((SELECT $C FROM clean EXCEPT ALL SELECT $C FROM r_clean)
	UNION ALL (SELECT $C FROM r_clean EXCEPT ALL SELECT $C FROM clean)) d")"
se_assert_eq "late rows = reference (ids)" 0 "$(q "SELECT count(*) FROM ((SELECT id FROM det_late EXCEPT ALL SELECT id FROM r_class WHERE late)
	UNION ALL (SELECT id FROM r_class WHERE late EXCEPT ALL SELECT id FROM det_late)) d")"
# (_watermark: the one the row was late against, or the one after its batch; both are >= its event time)
se_assert_eq "late rows carry pipeline, batch = wave, and a watermark they are at or below" 0 "$(q "SELECT count(*) FROM det_late l
	JOIN r_wm w USING (wave) WHERE _pipeline IS DISTINCT FROM 'det_silver' OR _batch IS DISTINCT FROM wave
	   OR _watermark IS NULL OR _watermark NOT IN (w.wm_before, w.wm_after) OR NOT event_time <= w.wm_before")"
se_assert_eq "quarantine = the faults (ids)" 0 "$(q "SELECT count(*) FROM ((SELECT id FROM det_quarantine EXCEPT ALL
	SELECT id FROM r_kept WHERE NOT temperature BETWEEN -50 AND 150) UNION ALL (SELECT id FROM r_kept
	WHERE NOT temperature BETWEEN -50 AND 150 EXCEPT ALL SELECT id FROM det_quarantine)) d")"
se_assert_eq "hourly = reference" 0 "$(q "SELECT count(*) FROM ((TABLE hourly EXCEPT ALL TABLE r_hourly) UNION ALL (TABLE r_hourly EXCEPT ALL TABLE hourly)) d")"
se_assert_eq "hourly late rows = reference" "$(q "SELECT count(*) FROM r_gclass WHERE late_h")" "$(q "SELECT count(*) FROM det_hourly_late")"
se_assert_eq "status of the three pipelines (batches rows_in late_rows duplicates expectation_failures)" \
	"$(q "SELECT concat_ws(' ', $WAVES, (SELECT count(*) FROM staging), (SELECT count(*) FROM r_class WHERE late),
		(SELECT count(*) FROM r_class WHERE NOT late) - (SELECT count(*) FROM r_kept),
		(SELECT count(*) FROM r_kept WHERE temperature >= 28)) || ' | '
		|| concat_ws(' ', $WAVES, (SELECT count(*) FROM r_clean), (SELECT count(*) FROM r_gclass WHERE late_h), 0, 0) || ' | '
		|| concat_ws(' ', $WAVES, (SELECT count(*) FROM r_clean), (SELECT count(*) FROM r_gclass WHERE late_m), 0, 0)")" \
	"$(q "SELECT string_agg(concat_ws(' ', batches, rows_in, late_rows, duplicates_dropped, expectation_failures), ' | ' ORDER BY
		array_position(ARRAY['det_silver', 'det_hourly', 'det_minute'], pipeline::text))
		FROM streamext.pipeline_status WHERE pipeline IN ('det_silver', 'det_hourly', 'det_minute')")"
se_log "waves: $(q "SELECT count(*) FROM staging") rows, $(q "SELECT count(*) FROM r_class WHERE late") late,
	$(q "SELECT count(*) FROM clean") clean, $(q "SELECT count(*) FROM hourly") hourly, $(q "SELECT count(*) FROM minute") minute rows"
