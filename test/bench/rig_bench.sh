#!/usr/bin/env bash
# Producer throughput of the test rig: se-produce sending truck telemetry to se-broker,
# against kcat -P sending the very same messages (written by se-produce --print) to the
# same broker.  Prints messages/s of both and their ratio.  SE_BENCH_SCALE scales N.
. "$SE_LIB"; se_test_begin

scale=${SE_BENCH_SCALE:-1}
N=$(python3 -c "print(max(1000, int(400000 * float('$scale'))))")
# 32 partitions keep each one far below the mock's ~5 MiB retention.
se_broker_start --brokers 1 --topic a:32 --topic b:32

# kcat gets the same keys (device_id) so that both spread over the partitions alike.
"$SE_TOOLS/se-produce" --print --count "$N" --devices 1000 2>/dev/null |
	sed -E 's/^\{"device_id":"([^"]+)".*/\1|&/' >"$SE_WORK/msgs.txt"

ms() { date +%s%3N; }
t0=$(ms)
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic a --count "$N" --devices 1000 2>"$SE_WORK/produce.err"
t1=$(ms)
kcat -P -b "$SE_BOOTSTRAP" -t b -K '|' -X linger.ms=5 -X batch.num.messages=10000 \
	-X queue.buffering.max.messages=1000000 -l "$SE_WORK/msgs.txt"
t2=$(ms)

count() { kcat -C -b "$SE_BOOTSTRAP" -t "$1" -e -q -f '\n' | wc -l; }
se_assert_eq "messages in topic a (se-produce)" "$N" "$(count a)"
se_assert_eq "messages in topic b (kcat)" "$N" "$(count b)"

python3 - "$N" "$((t1 - t0))" "$((t2 - t1))" <<'PY'
import sys
n, a, b = int(sys.argv[1]), max(1, int(sys.argv[2])), max(1, int(sys.argv[3]))
print(f"messages: {n}")
print(f"se-produce (generate + send, key per message): {a} ms, {n * 1000 / a:,.0f} messages/s")
print(f"kcat -P (same messages and keys from a file):  {b} ms, {n * 1000 / b:,.0f} messages/s")
print(f"ratio se-produce / kcat: {b / a:.2f}x")
PY
