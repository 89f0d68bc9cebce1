#!/usr/bin/env bash
# Proves the test rig end to end: se-produce sends 50,000 truck messages over 8 partitions to
# se-broker and kcat reads back exactly those 50,000 (same bytes, keys = device_id); the
# producer is deterministic for a given seed, its knobs do what they say, and --stdin sends
# lines as they are (with keys and headers when asked).
. "$SE_LIB"; se_test_begin

se_broker_start --brokers 1 --topic trucks:8
se_log "broker at $SE_BOOTSTRAP"

# 100 trucks spread the keys over all partitions; 50,000 messages of ~230 bytes stay far
# below the mock's per-partition retention (about 5 MiB).
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic trucks --count 50000 --devices 100 --seed 7 \
	2>"$SE_WORK/produce.err"
cat "$SE_WORK/produce.err" >&2
se_assert_eq "producer summary" "produced 50000 (good 50000, duplicates 0, late 0, malformed 0)" \
	"$(head -n1 "$SE_WORK/produce.err")"

kcat -C -b "$SE_BOOTSTRAP" -t trucks -e -q -f '%p %o %k %s\n' >"$SE_WORK/consumed.txt"
se_assert_eq "messages read back" 50000 "$(wc -l <"$SE_WORK/consumed.txt")"
se_assert_eq "partitions with messages" 8 "$(awk '{print $1}' "$SE_WORK/consumed.txt" | sort -u | wc -l)"
# Offsets are dense per partition: no gaps, nothing read twice.
se_assert_eq "distinct (partition, offset)" 50000 "$(awk '{print $1, $2}' "$SE_WORK/consumed.txt" | sort -u | wc -l)"
# Every message's key is its device_id, and one device always lands in one partition.
se_assert_eq "messages whose key is not their device_id" 0 \
	"$(awk '$4 !~ "^\\{\"device_id\":\"" $3 "\"" ' "$SE_WORK/consumed.txt" | wc -l)"
se_assert_eq "devices split over several partitions" 0 \
	"$(awk '{print $3, $1}' "$SE_WORK/consumed.txt" | sort -u | awk '{print $1}' | uniq -d | wc -l)"

# What Kafka holds is exactly what --print writes for the same seed.
"$SE_TOOLS/se-produce" --print --count 50000 --devices 100 --seed 7 2>/dev/null >"$SE_WORK/print1.txt"
se_assert_eq "consumed payloads = printed messages" \
	"$(sort "$SE_WORK/print1.txt" | md5sum)" "$(cut -d' ' -f4- "$SE_WORK/consumed.txt" | sort | md5sum)"

# Same seed → same bytes, in the same order, also with every knob on; another seed differs.
knobs=(--count 20000 --devices 50 --disorder-ms 500 --late-fraction 0.05 --late-ms 30000
	--duplicate-fraction 0.03 --malformed-fraction 0.02)
"$SE_TOOLS/se-produce" --print --seed 42 "${knobs[@]}" >"$SE_WORK/a.txt" 2>"$SE_WORK/a.err"
"$SE_TOOLS/se-produce" --print --seed 42 "${knobs[@]}" >"$SE_WORK/b.txt" 2>/dev/null
"$SE_TOOLS/se-produce" --print --seed 43 "${knobs[@]}" >"$SE_WORK/c.txt" 2>/dev/null
se_assert_eq "same seed, same messages" "$(md5sum <"$SE_WORK/a.txt")" "$(md5sum <"$SE_WORK/b.txt")"
if [ "$(md5sum <"$SE_WORK/a.txt")" = "$(md5sum <"$SE_WORK/c.txt")" ]; then
	se_die "seeds 42 and 43 produced the same messages"
fi
se_assert_eq "lines printed" 20000 "$(wc -l <"$SE_WORK/a.txt")"

# The summary's counts match the data: duplicates are exact copies, malformed lines are the
# ones python's json module rejects or that lack a numeric temperature.
summary=$(head -n1 "$SE_WORK/a.err")
se_log "knobs: $summary"
read -r good dups late mal < <(sed -E 's/produced [0-9]+ \(good ([0-9]+), duplicates ([0-9]+), late ([0-9]+), malformed ([0-9]+)\)/\1 \2 \3 \4/' <<<"$summary")
se_assert_eq "good + duplicates + malformed" 20000 "$((good + dups + mal))"
python3 - "$SE_WORK/a.txt" "$good" "$dups" "$late" "$mal" <<'PY'
import json, sys
from datetime import datetime
path, good, dups, late, mal = sys.argv[1], *map(int, sys.argv[2:])
seen, n_dup, n_mal, n_late = set(), 0, 0, 0
last_seq = {}
for i, line in enumerate(open(path)):
    line = line.rstrip("\n")
    try:
        m = json.loads(line)
        ok = isinstance(m, dict) and isinstance(m.get("temperature"), float) and m.get("seq", -1) > 0
        if ok:
            t = datetime.strptime(m["event_time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    except (ValueError, KeyError):
        ok = False
    if not ok:
        n_mal += 1
        continue
    if line in seen:
        n_dup += 1
        continue
    seen.add(line)
    # base time of message i is start + i*100ms; disorder is at most 500 ms, late is 30 s more
    base = datetime(2026, 1, 1).timestamp() + i * 0.1
    lag = base - (t.timestamp() - 0)  # naive datetime: both in UTC via the same conversion
    if lag > 20:
        n_late += 1
    assert lag >= -0.001 and (lag <= 0.501 or 29.999 <= lag <= 30.501), (i, lag)
    dev = m["device_id"]
    assert m["seq"] == last_seq.get(dev, 0) + 1, (dev, m["seq"])
    last_seq[dev] = m["seq"]
assert (len(seen), n_dup, n_late, n_mal) == (good, dups, late, mal), (len(seen), n_dup, n_late, n_mal, good, dups, late, mal)
assert dups > 0 and late > 0 and mal > 0
print("knob counts verified")
PY

# --stdin: each line is one message, exactly these bytes; --key-delimiter splits off a key;
# --header adds Kafka headers to every message.  Topic "raw" does not exist yet: the broker
# creates it (4 partitions) when the producer first asks for it.
printf 'k1|{"a":1}\nno key here\n|empty key\n' |
	"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic raw --partition 0 --stdin --key-delimiter '|' \
		-H source=rig -H n=2 2>/dev/null
se_assert_eq "stdin messages (key length, key, headers, value)" \
	"2 k1 source=rig,n=2 {\"a\":1};-1  source=rig,n=2 no key here;0  source=rig,n=2 empty key;" \
	"$(kcat -C -b "$SE_BOOTSTRAP" -t raw -e -q -f '%K %k %h %s;' )"
se_assert_eq "partitions of the auto-created topic" 4 \
	"$(kcat -L -b "$SE_BOOTSTRAP" -t raw -m 5 | grep -c 'partition [0-9]')"
