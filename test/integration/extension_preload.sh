#!/usr/bin/env bash
# Loading without shared_preload_libraries: CREATE EXTENSION works but warns with a hint,
# and workers_enabled() tells the truth in both configurations.
. "$SE_LIB"; se_test_begin

se_pg_start nopreload "shared_preload_libraries = ''"
out=$(se_psql nopreload -c "CREATE EXTENSION streamext" 2>&1)
se_log "$out"
grep -q "WARNING:  streamext is not in shared_preload_libraries" <<<"$out" || { se_log "FAIL: no warning"; exit 1; }
grep -q "HINT:  Add 'streamext' to shared_preload_libraries" <<<"$out" || { se_log "FAIL: no hint"; exit 1; }
se_assert_eq "workers_enabled without preload" f "$(se_psql nopreload -c 'SELECT streamext.workers_enabled()')"
se_psql nopreload -c "DROP EXTENSION streamext"
se_assert_eq "schema gone" 0 "$(se_psql nopreload -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'streamext'")"

se_pg_start preload
out=$(se_psql preload -c "CREATE EXTENSION streamext" 2>&1)
[ -z "$out" ] || { se_log "FAIL: unexpected output with preload: $out"; exit 1; }
se_assert_eq "workers_enabled with preload" t "$(se_psql preload -c 'SELECT streamext.workers_enabled()')"
