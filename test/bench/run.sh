#!/usr/bin/env bash
# test/bench/run.sh — `make bench`: every benchmark in test/bench/*_bench.sh, one after another.
#
# Benchmarks are shell scripts written like integration tests (they source $SE_LIB and
# start their own clusters and brokers) and print their results as ratios against a
# baseline measured in the same run, because the machine is small and shared.
# Not part of `make test`.  SE_ONLY=regex selects benchmarks; SE_BENCH_SCALE (default 1)
# scales their data sizes down (e.g. 0.1) for a quick look.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/test/lib.sh"

se_install_deps
se_ensure_user
se_prepare_work "$(mktemp -d "${SE_TMPDIR:-/tmp}/streamext-bench.XXXXXX")"
se_log "work folder: $SE_WORK"
se_build_install "$ROOT"

rc=0
for f in "$SE_WORK"/src/test/bench/*_bench.sh; do
	[ -e "$f" ] || continue
	b=$(basename "$f" .sh)
	[[ $b =~ ${SE_ONLY:-.} ]] || continue
	bdir=$SE_WORK/bench/$b
	mkdir -p "$bdir"
	[ "$(id -u)" = 0 ] && chown -R "$SE_USER" "$SE_WORK/bench"
	echo "=== $b"
	(cd "$bdir" && se_as_user env SE_WORK="$bdir" SE_INST="$SE_INST" SE_BINDIR="$SE_BINDIR" \
		SE_TOOLS="$SE_TOOLS" SE_LIB="$SE_WORK/src/test/lib.sh" SE_SRC="$SE_WORK/src" \
		SE_BENCH_SCALE="${SE_BENCH_SCALE:-1}" setsid bash "$f") 2>&1 | tee "$bdir/output.log"
	[ "${PIPESTATUS[0]}" = 0 ] || { echo "=== $b FAILED"; rc=1; }
	se_sweep "$bdir"
done
se_sweep "$SE_WORK"
[ $rc = 0 ] && [ -z "${SE_KEEP:-}" ] && rm -rf "$SE_WORK"
exit $rc
