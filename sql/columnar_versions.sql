-- versioned_columnar: one version per committing transaction, history, as_of by version and
-- by time, restore, and the errors of the time-travel API
CREATE TABLE col_ver (id int, v text) USING versioned_columnar;

INSERT INTO col_ver SELECT g, 'v1' FROM generate_series(1, 10) g;            -- version 1
BEGIN;                                                                        -- version 2
INSERT INTO col_ver VALUES (11, 'v2');
DELETE FROM col_ver WHERE id <= 2;
COMMIT;
BEGIN;                                                                        -- rolled back: no version
INSERT INTO col_ver VALUES (99, 'never');
DELETE FROM col_ver;
ROLLBACK;
UPDATE col_ver SET v = 'v3' WHERE id = 5;                                     -- version 3
BEGIN;                                                                        -- version 4, savepoints
INSERT INTO col_ver VALUES (12, 'v4');
SAVEPOINT s1;
INSERT INTO col_ver VALUES (13, 'rolled back');
DELETE FROM col_ver WHERE id = 3;
ROLLBACK TO s1;
DELETE FROM col_ver WHERE id = 4;
COMMIT;
SELECT 1;                                                                     -- no write: no version
DELETE FROM col_ver WHERE id = 1000;                                          -- nothing matched: no version

SELECT version, operation, parameters, rows_added, rows_removed, committed_by = current_user AS by_me
FROM streamext.history('col_ver');
SELECT bool_and(committed_at > prev) AS strictly_increasing
FROM (SELECT committed_at, lag(committed_at) OVER (ORDER BY version) AS prev
	  FROM streamext.history('col_ver')) h WHERE prev IS NOT NULL;

SELECT array_agg(id ORDER BY id) AS v1 FROM streamext.as_of(NULL::col_ver, 1);
SELECT array_agg(id ORDER BY id) AS v2 FROM streamext.as_of(NULL::col_ver, version => 2);
SELECT id, v FROM streamext.as_of(NULL::col_ver, 3) WHERE id = 5;
SELECT array_agg(id ORDER BY id) AS v4 FROM streamext.as_of(NULL::col_ver, 4);
SELECT array_agg(id ORDER BY id) AS current FROM col_ver;

-- by time: the latest version committed at or before the timestamp
SELECT array_agg(id ORDER BY id) AS at_v2
FROM streamext.as_of(NULL::col_ver, at => (SELECT committed_at FROM streamext.history('col_ver') WHERE version = 2));
SELECT array_agg(id ORDER BY id) AS between_v1_v2
FROM streamext.as_of(NULL::col_ver, at => (SELECT committed_at + (h2 - committed_at) / 2
	FROM (SELECT committed_at, lead(committed_at) OVER (ORDER BY version) AS h2
		  FROM streamext.history('col_ver')) x ORDER BY committed_at LIMIT 1));
SELECT count(*) AS after_latest FROM streamext.as_of(NULL::col_ver, at => now() + interval '1 day');

-- a reader's snapshot is stable: history seen inside a transaction does not move
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT max(version) FROM streamext.history('col_ver');
SELECT count(*) FROM col_ver;
COMMIT;

-- restore makes an old state current as a new version
SELECT streamext.restore('col_ver', 1) AS new_version;
SELECT array_agg(id ORDER BY id) AS restored, array_agg(DISTINCT v) AS values FROM col_ver;
SELECT version, operation, parameters, rows_added, rows_removed FROM streamext.history('col_ver') WHERE version = 5;
SELECT array_agg(id ORDER BY id) AS v4_still FROM streamext.as_of(NULL::col_ver, 4);

-- TRUNCATE is a version too, and time travel still reaches before it
TRUNCATE col_ver;
SELECT version, operation, rows_added, rows_removed FROM streamext.history('col_ver') WHERE version = 6;
SELECT count(*) AS after_truncate FROM col_ver;
SELECT count(*) AS before_truncate FROM streamext.as_of(NULL::col_ver, 5);
-- VACUUM never removes what time travel needs
VACUUM col_ver;
VACUUM FULL col_ver;
SELECT count(*) AS v1_after_vacuum FROM streamext.as_of(NULL::col_ver, 1);
SELECT streamext.verify('col_ver') - 'next_row' AS verify;

-- restore with identity and generated columns, and time travel past row-level security
CREATE TABLE col_gen (id int GENERATED ALWAYS AS IDENTITY, v int, twice int GENERATED ALWAYS AS (v * 2) STORED)
	USING versioned_columnar;
INSERT INTO col_gen (v) VALUES (1), (2), (3);
DELETE FROM col_gen WHERE v = 2;
UPDATE col_gen SET v = 30 WHERE v = 3;
SELECT streamext.restore('col_gen', 1) AS new_version;
SELECT id, v, twice FROM col_gen ORDER BY id;
SELECT id, v, twice FROM streamext.as_of(NULL::col_gen, 2) ORDER BY id;
CREATE TABLE col_rls (a int, who text) USING versioned_columnar;
INSERT INTO col_rls VALUES (1, 'x');
ALTER TABLE col_rls ENABLE ROW LEVEL SECURITY;
ALTER TABLE col_rls FORCE ROW LEVEL SECURITY;
CREATE POLICY col_rls_p ON col_rls USING (who = 'nobody');
CREATE ROLE regress_col_rls;
GRANT SELECT ON col_rls TO regress_col_rls;

-- errors
\set VERBOSITY terse
SET ROLE regress_col_rls;
SELECT count(*) FROM col_rls;
SELECT * FROM streamext.as_of(NULL::col_rls, 1);
SELECT * FROM streamext.as_of(NULL::col_ver, 1);
RESET ROLE;
SELECT * FROM streamext.as_of(NULL::col_ver, 0);
SELECT * FROM streamext.as_of(NULL::col_ver, 7);
SELECT * FROM streamext.as_of(NULL::col_ver, NULL::bigint);
SELECT * FROM streamext.as_of(NULL::col_ver, at => '2000-01-01 00:00:00+00');
CREATE TABLE col_heap (id int);
SELECT * FROM streamext.as_of(NULL::col_heap, 1);
SELECT * FROM streamext.history('col_heap');
SELECT streamext.restore('col_heap', 1);
SELECT streamext.verify('col_heap');
SELECT * FROM streamext.as_of(NULL::int, 1);
CREATE TABLE col_empty (id int) USING versioned_columnar;
SELECT * FROM streamext.as_of(NULL::col_empty, 1);
SELECT * FROM streamext.as_of(NULL::col_empty, at => now());
SELECT streamext.restore('col_ver', 42);
BEGIN;
INSERT INTO col_empty VALUES (1);
PREPARE TRANSACTION 'col_p';
ROLLBACK PREPARED 'col_p';
SELECT count(*) AS after_rollback_prepared FROM col_empty;
\set VERBOSITY default

DROP TABLE col_ver, col_heap, col_empty, col_gen, col_rls;
DROP ROLE regress_col_rls;
