#!/usr/bin/env bash
# run.sh [seconds] — build test/fuzz/decode_json_fuzz with clang's libFuzzer and
# AddressSanitizer, then fuzz the json decoder for the given time (default 60 s),
# starting from the seed messages in test/fuzz/corpus/.  Not part of make test.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
secs=${1:-60}
out=${SE_FUZZ_DIR:-$(mktemp -d /tmp/streamext-fuzz.XXXXXX)}
inc=$(pg_config --includedir-server)
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Wno-unused-function -Wno-ignored-attributes -I"$inc" -I"$ROOT/src" \
	"$HERE/decode_json_fuzz.c" "$HERE/decode_json_fuzz_stubs.c" -o "$out/decode_json_fuzz"
mkdir -p "$out/corpus"
cp "$HERE"/corpus/* "$out/corpus/" 2>/dev/null || true
"$out/decode_json_fuzz" -max_total_time="$secs" -max_len=4096 -timeout=5 -artifact_prefix="$out/" \
	-dict="$HERE/json.dict" "$out/corpus"
echo "fuzzing finished without a crash ($out)"
