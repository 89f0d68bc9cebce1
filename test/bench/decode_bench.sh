#!/usr/bin/env bash
# decode_bench.sh — how fast the json decoder turns messages into typed rows.
#
# Decodes the same N truck telemetry messages (12 fields, the shape se-produce writes) (default 1,000,000; SE_BENCH_MESSAGES)
# with streamext.decode_message() and with the usual SQL route, payload::jsonb into
# jsonb_populate_record(), in one server, and prints both rates and their ratio
# (also excluding the shared cost of scanning the messages).  The last column
# shows the cost of a _raw jsonb metadata column, which needs a full jsonb parse; the next
# one decoding into a table that matches 3 of the 12 keys and has 2 columns no key fills
# (what source_warnings counts).
# Not part of `make test`; run it with `make bench` or directly.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/test/lib.sh"

if [ -z "${SE_BENCH_INNER:-}" ]; then
	se_install_deps
	se_ensure_user
	se_prepare_work "$(mktemp -d /tmp/streamext-bench.XXXXXX)"
	se_build_install "$ROOT"
	se_as_user env SE_BENCH_INNER=1 SE_WORK="$SE_WORK" SE_INST="$SE_INST" SE_BINDIR="$SE_BINDIR" \
		SE_BENCH_MESSAGES="${SE_BENCH_MESSAGES:-1000000}" bash "$SE_WORK/src/test/bench/decode_bench.sh"
	rc=$?
	se_sweep "$SE_WORK"
	rm -rf "$SE_WORK"
	exit $rc
fi

set -e
trap se_cleanup EXIT
N=$SE_BENCH_MESSAGES
se_pg_start bench "shared_buffers = 512MB" "max_parallel_workers_per_gather = 0" "jit = off"
se_psql bench -c "CREATE EXTENSION streamext" 2>/dev/null
se_log "generating $N messages"
se_psql bench <<SQL
CREATE TABLE bronze (device_id text, event_time timestamptz, seq bigint, temperature float8,
	speed float8, lat float8, lon float8, fuel float8, odometer float8, engine_on boolean,
	driver_id text, route_id text, _raw jsonb);
CREATE TABLE bronze_nometa (LIKE bronze);
ALTER TABLE bronze_nometa DROP COLUMN _raw;
-- a table that matches few keys: 9 keys per message match no column, 2 columns no key
CREATE TABLE bronze_few (device_id text, seq bigint, humidity float8, pressure float8, note text);
-- the shape of test/tools/se-produce's truck events
CREATE TABLE msgs AS
SELECT convert_to(format('{"device_id":"truck-%s","event_time":"%s","seq":%s,"temperature":%s,'
		'"speed":%s,"lat":%s,"lon":%s,"fuel":%s,"odometer":%s,"engine_on":%s,"driver_id":"driver-%s","route_id":"route-%s"}',
		lpad((i % 1000)::text, 4, '0'),
		to_char(('2026-01-01 00:00:00+00'::timestamptz + i * interval '1 ms') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		i / 1000, round((4 + (i % 100) / 10.0)::numeric, 1), round(((i % 1200) / 10.0)::numeric, 1),
		round((52 + (i % 100000) / 100000.0)::numeric, 6), round((13 + (i % 77777) / 77777.0)::numeric, 6),
		round(((i % 1000) / 10.0)::numeric, 1), round((100000 + i / 10.0)::numeric, 1),
		CASE WHEN i % 5 <> 0 THEN 'true' ELSE 'false' END,
		lpad((i % 200)::text, 3, '0'), lpad((i % 40)::text, 2, '0')), 'UTF8') AS payload
  FROM generate_series(1, $N) AS i;
VACUUM ANALYZE msgs;
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE t0 timestamptz; best float8 := 'infinity'; i int;
BEGIN
	FOR i IN 1..3 LOOP
		t0 := clock_timestamp();
		EXECUTE q;
		best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
	RETURN best;
END \$\$;
SQL
se_log "sample: $(se_psql bench -c "SELECT convert_from(payload, 'UTF8') FROM msgs LIMIT 1")"
se_log "timing (best of 3 each)"
se_psql bench <<'SQL'
\pset format aligned
\pset tuples_only off
WITH t AS (
	SELECT bench_ms('SELECT count(*) FROM msgs') AS scan,
	       bench_ms('SELECT count(streamext.decode_message(NULL::bronze_nometa, payload)) FROM msgs') AS decode,
	       bench_ms('SELECT count(jsonb_populate_record(NULL::bronze_nometa, convert_from(payload, ''UTF8'')::jsonb)) FROM msgs') AS jsonb,
	       bench_ms('SELECT count(streamext.decode_message(NULL::bronze, payload)) FROM msgs') AS decode_raw,
	       bench_ms('SELECT count(streamext.decode_message(NULL::bronze_few, payload)) FROM msgs') AS decode_few,
	       (SELECT count(*) FROM msgs) AS n
)
SELECT n AS messages,
       round((n / (decode / 1000))::numeric) AS decode_message_per_s,
       round((n / (jsonb / 1000))::numeric) AS jsonb_populate_record_per_s,
       round(((jsonb - scan) / (decode - scan))::numeric, 2) AS ratio_excluding_scan,
       round((jsonb / decode)::numeric, 2) AS ratio,
       round((n / (decode_raw / 1000))::numeric) AS decode_with_raw_jsonb_per_s,
       round((n / (decode_few / 1000))::numeric) AS decode_unmatched_keys_per_s
  FROM t;
SQL
