#!/usr/bin/env bash
# Issue 10, what new users trip over: a JSON key that matches no column and a column no key fills
# are counted in source_status (unmatched_keys, null_columns) and named in source_warnings, whatever
# the options; on_unknown_key / on_missing_column = dead_letter make such messages dead letters;
# a source whose every message goes to dead letters is in state degraded, with the most recent
# dead-letter error.  Names from the data are shown only to the owner (and pg_read_all_stats).
. "$SE_LIB"; se_test_begin
se_pg_start pg1
se_psql pg1 -c "CREATE EXTENSION streamext"
se_broker_start --brokers 1 --topic ud:2
N=600
# "humidty" is a misspelling of the column humidity; "extra" is a key the tables do not have.
python3 - "$SE_WORK/lines" $N <<'PY'
import sys
with open(sys.argv[1], 'w') as f:
	for i in range(int(sys.argv[2])):
		f.write('{"device_id":"d%d","temperature":%d.5,"humidty":%d,"seq":%d,"extra":true}\n' % (i % 7, i % 40, i % 90, i))
PY
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic ud --partition 0 --stdin <"$SE_WORK/lines" 2>/dev/null
se_psql pg1 <<'SQL'
CREATE ROLE ud_alice LOGIN;
CREATE ROLE ud_bob LOGIN;
CREATE TABLE ud_plain (device_id text NOT NULL, temperature float8, humidity float8, seq bigint,
                       received timestamptz DEFAULT now());
CREATE TABLE ud_keys (LIKE ud_plain INCLUDING DEFAULTS);
CREATE TABLE ud_cols (LIKE ud_plain INCLUDING DEFAULTS);
CREATE TABLE ud_notnull (LIKE ud_plain INCLUDING DEFAULTS, site text NOT NULL);
GRANT INSERT ON ud_plain, ud_keys, ud_cols, ud_notnull TO ud_alice;
SQL
as() { local role=$1; shift; se_psql pg1 -c "SET ROLE $role" "$@"; }
as ud_alice -c "SELECT streamext.create_source('ud_plain', '$SE_BOOTSTRAP', 'ud', 'ud_plain')"
as ud_alice -c "SELECT streamext.create_source('ud_keys', '$SE_BOOTSTRAP', 'ud', 'ud_keys', options => '{\"on_unknown_key\": \"dead_letter\"}')"
as ud_alice -c "SELECT streamext.create_source('ud_cols', '$SE_BOOTSTRAP', 'ud', 'ud_cols', options => '{\"on_missing_column\": \"dead_letter\"}')"
as ud_alice -c "SELECT streamext.create_source('ud_notnull', '$SE_BOOTSTRAP', 'ud', 'ud_notnull')"
for s in ud_plain ud_keys ud_cols ud_notnull; do
	se_wait_for pg1 90 "SELECT messages >= $N FROM streamext.source_status WHERE source = '$s'" ||
		se_die "$s: $(se_psql pg1 -c "SELECT * FROM streamext.source_status WHERE source = '$s'")"
done
se_psql pg1 -c "SELECT source, state, workers, messages, rows, dead_letters, hint, dead_letter_rate, unmatched_keys, null_columns FROM streamext.source_status ORDER BY 1" >&2

# ignore (the default): the rows land, and what was ignored is visible
se_assert_eq "ud_plain: rows, all humidity NULL" "$N|$N" "$(se_psql pg1 -c "SELECT count(*), count(*) FILTER (WHERE humidity IS NULL) FROM ud_plain")"
se_assert_eq "ud_plain: status" "running|$N|0|2|1|0" "$(se_psql pg1 -c "SELECT state, rows, dead_letters, unmatched_keys, null_columns, dead_letter_rate FROM streamext.source_status WHERE source = 'ud_plain'")"
se_assert_eq "ud_plain: hint" "1 column(s) got NULL in every message for lack of a key; see streamext.source_warnings" \
	"$(se_psql pg1 -c "SELECT hint FROM streamext.source_status WHERE source = 'ud_plain'")"
se_assert_eq "ud_plain: warnings" "missing_column|humidity|$N|$N
unknown_key|extra|$N|$N
unknown_key|humidty|$N|$N" "$(se_psql pg1 -c "SELECT kind, name, messages, decoded FROM streamext.source_warnings WHERE source = 'ud_plain' ORDER BY 1, 2")"

# on_unknown_key: dead_letter
se_assert_eq "ud_keys: nothing lands" 0 "$(se_psql pg1 -c "SELECT count(*) FROM ud_keys")"
se_assert_eq "ud_keys: status" "degraded|0|$N|1" "$(se_psql pg1 -c "SELECT state, rows, dead_letters, dead_letter_rate FROM streamext.source_status WHERE source = 'ud_keys'")"
se_assert_eq "ud_keys: last dead-letter error" t "$(se_psql pg1 -c "SELECT last_dead_letter_error ~ '^key \"(humidty|extra)\" matches no column of the target \(on_unknown_key is dead_letter\)$' FROM streamext.source_status WHERE source = 'ud_keys'")"
se_assert_eq "ud_keys: hint" "most recent messages go to streamext.dead_letters; see last_dead_letter_error" \
	"$(se_psql pg1 -c "SELECT hint FROM streamext.source_status WHERE source = 'ud_keys'")"

# on_missing_column: dead_letter (received has a DEFAULT, so it is not missing)
se_assert_eq "ud_cols: status" "degraded|0|$N" "$(se_psql pg1 -c "SELECT state, rows, dead_letters FROM streamext.source_status WHERE source = 'ud_cols'")"
se_assert_eq "ud_cols: dead-letter errors" "column \"humidity\" has no key in the message (on_missing_column is dead_letter)|$N" \
	"$(se_psql pg1 -c "SELECT error, count(*) FROM streamext.dead_letters WHERE source = 'ud_cols' GROUP BY error")"
se_assert_eq "ud_cols: last dead-letter error" "column \"humidity\" has no key in the message (on_missing_column is dead_letter)" \
	"$(se_psql pg1 -c "SELECT last_dead_letter_error FROM streamext.source_status WHERE source = 'ud_cols'")"

# a NOT NULL column missing from every message: every message is a dead letter, state degraded
se_assert_eq "ud_notnull: status" "degraded|0|$N" "$(se_psql pg1 -c "SELECT state, rows, dead_letters FROM streamext.source_status WHERE source = 'ud_notnull'")"
se_assert_eq "ud_notnull: last dead-letter error" t "$(se_psql pg1 -c "SELECT last_dead_letter_error LIKE 'null value in column \"site\"%' FROM streamext.source_status WHERE source = 'ud_notnull'")"

# other roles see the state and the rate, not the names or the error texts
se_assert_eq "bob: ud_keys" "degraded|1|||" "$(as ud_bob -c "SELECT state, dead_letter_rate, last_dead_letter_error, unmatched_keys, null_columns FROM streamext.source_status WHERE source = 'ud_keys'")"
se_assert_eq "bob: no warnings" 0 "$(as ud_bob -c "SELECT count(*) FROM streamext.source_warnings")"
se_assert_eq "bob: internal function" 0 "$(as ud_bob -c "SELECT count(*) FROM streamext._source_warnings()")"
se_assert_eq "alice: warnings" 11 "$(as ud_alice -c "SELECT count(*) FROM streamext.source_warnings")"

# the fix: once the messages fit, the state recovers (the rate follows recent messages)
se_psql pg1 -c "ALTER TABLE ud_cols ALTER COLUMN humidity SET DEFAULT -1"
python3 - "$SE_WORK/lines2" 1500 <<'PY'
import sys
with open(sys.argv[1], 'w') as f:
	for i in range(int(sys.argv[2])):
		f.write('{"device_id":"e%d","temperature":1.5,"humidity":%d,"seq":%d}\n' % (i % 7, i % 90, 100000 + i))
PY
"$SE_TOOLS/se-produce" --brokers "$SE_BOOTSTRAP" --topic ud --partition 1 --stdin <"$SE_WORK/lines2" 2>/dev/null
se_wait_for pg1 90 "SELECT rows >= 1500 FROM streamext.source_status WHERE source = 'ud_cols'" ||
	se_die "ud_cols: $(se_psql pg1 -c "SELECT * FROM streamext.source_status WHERE source = 'ud_cols'")"
se_assert_eq "ud_cols: recovered" "running" "$(se_psql pg1 -c "SELECT state FROM streamext.source_status WHERE source = 'ud_cols'")"
