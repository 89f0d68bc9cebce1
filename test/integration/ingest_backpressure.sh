#!/usr/bin/env bash
# Issue 3, test 7: a target with a slow trigger and a small max_buffered_bytes: the worker's own
# memory stays bounded (fetching pauses while PostgreSQL is behind) and nothing is lost.
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic slow:16
N=24000   # about 1.5 MB per partition: the mock broker keeps about 5 MB
se_psql pg1 <<'SQL'
CREATE TABLE slow (id bigint, pad text, _partition int, _offset bigint);
CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- 20 ms every 100th row: slower than Kafka delivers, but without sub-millisecond
	-- sleeps, whose real length depends on how loaded the machine is.
	IF NEW.id % 100 = 0 THEN
		PERFORM pg_sleep(0.02);
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER slow_down BEFORE INSERT ON slow FOR EACH ROW EXECUTE FUNCTION slow_down();
SQL
# 24,000 messages of about 1 kB: 24 MB, far more than the 256 kB the worker may hold.
python3 -c "
import sys
pad = 'x' * 1000
for i in range($N):
    sys.stdout.write('%d|{\"id\": %d, \"pad\": \"%s\"}\n' % (i, i, pad))
" | "$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic slow --stdin --key-delimiter '|' 2>/dev/null
# Keyed, so the messages spread evenly over the 16 partitions: keyless ones may stick to
# a few partitions, which would then hold more than the mock broker keeps.  One worker
# (without parallelism it would run one per core), whose memory is watched.
se_psql pg1 -c "SELECT streamext.create_source('slow_src', '$SE_BOOTSTRAP', 'slow', 'slow',
	options => '{\"max_buffered_bytes\": 262144, \"batch_max_messages\": 1000, \"parallelism\": 1}')"
se_wait_for pg1 30 "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'slow_src'" || se_die "no worker"
pid=$(se_psql pg1 -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'slow_src'")
max_kb=0
deadline=$((SECONDS + 300))
while [ "$(se_psql pg1 -c "SELECT count(*) >= $N FROM slow")" != t ]; do
	[ $SECONDS -lt $deadline ] || se_die "only $(se_psql pg1 -c 'SELECT count(*) FROM slow') rows after 300 s"
	kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status")
	[ "$kb" -gt "$max_kb" ] && max_kb=$kb
	sleep 0.3
done
se_log "largest anonymous memory of the worker: $max_kb kB (messages produced: $((N / 1000)) MB)"
[ "$max_kb" -lt 16384 ] || se_die "worker memory not bounded: $max_kb kB"
sleep 1
se_assert_eq "rows" $N "$(se_psql pg1 -c "SELECT count(*) FROM slow")"
se_assert_eq "distinct ids" $N "$(se_psql pg1 -c "SELECT count(DISTINCT id) FROM slow")"
