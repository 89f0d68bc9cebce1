#!/usr/bin/env bash
# Concurrency cases of the review of versioned_columnar (test/isolation/specs/columnar_review_*),
# with PostgreSQL's isolation tester: each spec is also run on heap twins against the same
# expected file, so the expectation is the heap's behaviour.
. "$SE_LIB"; se_test_begin
iso=$(dirname "$(pg_config --pgxs)")/../test/isolation/pg_isolation_regress
[ -x "$iso" ] || se_die "pg_isolation_regress not found at $iso"
se_pg_start pg1
se_psql pg1 -c "CREATE DATABASE isolation_review"
export SE_DB=isolation_review
se_psql pg1 -c "CREATE EXTENSION streamext"

dir=$SE_WORK/isolation
rm -rf "$dir"
mkdir -p "$dir/specs" "$dir/expected"
tests=()
for spec in "$SE_SRC"/test/isolation/specs/columnar_review_*.spec; do
	t=$(basename "$spec" .spec)
	h=heap_${t#columnar_}
	cp "$spec" "$dir/specs/"
	cp "$SE_SRC/test/isolation/expected/$t.out" "$dir/expected/"
	sed 's/ USING versioned_columnar//' "$spec" >"$dir/specs/$h.spec"
	cp "$dir/expected/$t.out" "$dir/expected/$h.out"
	tests+=("$t" "$h")
done

status=0
"$iso" --use-existing --host="$SE_WORK/pg" --port="$(se_pg_port pg1)" --user=postgres \
	--dbname=isolation_review --bindir="$SE_BINDIR" --inputdir="$dir" --outputdir="$dir/out" \
	"${tests[@]}" || status=$?
if [ "$status" -ne 0 ]; then
	cat "$dir/out/regression.diffs" >&2 || true
	se_die "isolation tests failed"
fi
se_log "ok: review isolation specs behave as on heap tables"
