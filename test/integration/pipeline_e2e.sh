#!/usr/bin/env bash
# Issue 11, test 1: the seed's example end to end from Kafka.  500,100 messages over 64
# partitions in five phases, with event-time disorder, late events, byte-identical duplicates,
# malformed messages (-> dead_letters) and sensor faults (-> the expectation's quarantine):
# Kafka -> bronze (partitioned heap, time_partition) -> silver (dedup on (device_id, event_time)
# within a 10-minute watermark, enrichment join with devices, expectation, late_rows) -> gold_hourly
# (hourly average temperature per device, append mode, versioned_columnar) and gold_minute
# (per minute, update mode).  Silver, the late rows, the quarantine and both golds must equal a
# reference computed with plain SQL from bronze alone; pipeline_e2e_common.bash explains why that
# reference does not depend on where the micro-batches begin and end.
# (pipeline_e2e_fixed.sh is the deterministic variant with run_pipeline and fixed boundaries.)
. "$SE_LIB"; se_test_begin
. "$SE_SRC/test/integration/pipeline_e2e_common.bash"
se_pg_start pg1 "timezone = 'UTC'" "streamext.pipeline_batches_keep = 100000"
pe_q "CREATE EXTENSION streamext"
pe_schema 64

PHASES=5
PER_PHASE=${PE_PER_PHASE:-100000}
t0=$(date +%s)
for ((k = 1; k <= PHASES; k++)); do
	pe_produce_phase "$k" "$PER_PHASE"
	pe_wait_ingested 180
	pe_wait_silver 240
	se_log "phase $k read by silver: $(pe_q "SELECT format('%s batches, %s rows in, %s out, %s late, %s duplicates, watermark %s',
		batches, rows_in, rows_out, late_rows, duplicates_dropped, watermark) FROM streamext.pipeline_status WHERE pipeline = 'silver'")"
done
pe_wait_gold 240
se_log "all phases through silver and gold in $(($(date +%s) - t0)) s"
se_assert_eq "messages produced" t "$(((PE_PRODUCED >= 500000)) && echo t || echo f)"

# The pipelines ran in their workers, several micro-batches each (not one batch per phase).
se_assert_eq "pipeline workers" "gold_hourly gold_minute silver" "$(pe_q "SELECT string_agg(application_name, ' ' ORDER BY application_name)
	FROM pg_stat_activity WHERE backend_type = 'streamext pipeline'")"
se_assert_eq "silver ran more micro-batches than phases" t "$(pe_q "SELECT batches > $PHASES FROM streamext.pipeline_status WHERE pipeline = 'silver'")"

pe_compare

# The event log: one row per batch, contiguous numbers, the counters add up to the status.
se_assert_eq "silver event log sums = status" t "$(pe_q "SELECT sum(b.rows_in) = s.rows_in AND sum(b.late_rows) = s.late_rows
	AND sum(b.duplicates_dropped) = s.duplicates_dropped AND count(*) = s.batches AND max(b.batch) = s.batches
	FROM streamext.pipeline_batches b JOIN streamext.pipeline_status s ON s.pipeline = b.pipeline
	WHERE b.pipeline = 'silver' GROUP BY s.rows_in, s.late_rows, s.duplicates_dropped, s.batches")"
# Append mode on a versioned_columnar gold: every row written once, and every version only adds.
se_assert_eq "gold_hourly versions that removed rows" 0 "$(pe_q "SELECT count(*) FROM streamext.history('gold_hourly') WHERE rows_removed > 0")"
se_assert_eq "gold_hourly rows added over its versions = rows" "$(pe_q "SELECT count(*) FROM gold_hourly")" \
	"$(pe_q "SELECT sum(rows_added) FROM streamext.history('gold_hourly')")"
# BI query on gold: regions by average temperature in the last closed hour.
se_log "BI: $(pe_q "SELECT string_agg(format('%s %s %s', to_char(window_start, 'HH24:MI'), region, round(a::numeric, 3)), ', ')
	FROM (SELECT window_start, region, avg(avg_temp) a FROM gold_hourly WHERE region IS NOT NULL
	       AND window_start = (SELECT max(window_start) FROM gold_hourly) GROUP BY 1, 2 ORDER BY 3 DESC) x")"
