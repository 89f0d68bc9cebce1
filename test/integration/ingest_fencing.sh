#!/usr/bin/env bash
# Offset fencing (review S1-1): a worker whose batch outlasts max.poll.interval.ms loses its
# partition to the other worker of the source; the stored offsets are locked per batch, so the
# stale batch is skipped instead of writing the same messages twice.  Then (review S2-7) a pause
# during a long batch stops the workers at once: the batch is abandoned and read again on resume.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic fence:2
se_psql pg1 <<'SQL'
CREATE TABLE fence (device_id text, seq bigint, _partition int, _offset bigint);
CREATE FUNCTION fence_slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW._partition = 0 THEN PERFORM pg_sleep(0.02); END IF; RETURN NEW; END $$;
CREATE TRIGGER fence_slow BEFORE INSERT ON fence FOR EACH ROW EXECUTE FUNCTION fence_slow();
SQL
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic fence --count 2000 2>/dev/null
se_psql pg1 -c "SELECT streamext.create_source('fence', '$SE_BOOTSTRAP', 'fence', 'fence', options => '{\"parallelism\": 2, \"batch_max_messages\": 1000, \"kafka\": {\"max.poll.interval.ms\": \"7000\"}}')"
se_wait_for pg1 120 "SELECT count(DISTINCT (_partition, _offset)) >= 2000 FROM fence" || se_log "not all rows"
# let a late duplicate batch (the failure this test is for) land
sleep 12
se_log "fencing: $(grep -c 'by another consumer' "$(se_pg_dir pg1).log") stale batches skipped"
se_assert_eq "distinct messages" 2000 "$(se_psql pg1 -c 'SELECT count(DISTINCT (_partition, _offset)) FROM fence')"
se_assert_eq "rows (no duplicates)" 2000 "$(se_psql pg1 -c 'SELECT count(*) FROM fence')"
se_assert_eq "stored offsets" 2000 "$(se_psql pg1 -c "SELECT sum(next_offset) FROM streamext.source_offsets WHERE source = 'fence'")"
se_assert_eq "state" running "$(se_psql pg1 -c "SELECT state FROM streamext.source_status WHERE source = 'fence'")"

"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic fence --count 1000 --seed 5 2>/dev/null
se_wait_for pg1 30 "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'streamext source' AND query = 'writing a batch')" ||
	se_die "no batch in progress"
sleep 1
se_psql pg1 -c "SELECT streamext.pause_source('fence')"
se_wait_for pg1 4 "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'streamext source')" ||
	se_die "workers still running 4 s after pause_source"
se_log "rows when paused: $(se_psql pg1 -c 'SELECT count(*) FROM fence')"
se_psql pg1 -c "SELECT streamext.resume_source('fence')"
se_wait_for pg1 120 "SELECT count(DISTINCT (_partition, _offset)) >= 3000 FROM fence" || se_log "not all rows after resume"
se_assert_eq "rows after resume (no duplicates)" "3000|3000" "$(se_psql pg1 -c 'SELECT count(*), count(DISTINCT (_partition, _offset)) FROM fence')"
