-- versioned_columnar: DDL, DML, NULLs and common types, indexes, own-transaction visibility
CREATE TABLE col_basic (
	id bigint,
	name text,
	amount numeric(12,2),
	ts timestamptz,
	doc jsonb,
	tags text[],
	flag boolean,
	f8 float8,
	small smallint,
	u uuid
) USING versioned_columnar;

SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE relname = 'col_basic';

INSERT INTO col_basic
SELECT g, 'name ' || g, g * 1.25, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
	   jsonb_build_object('g', g, 'even', g % 2 = 0), ARRAY['t' || (g % 3), 'x'],
	   g % 2 = 0, g / 3.0, (g % 100)::smallint, md5(g::text)::uuid
FROM generate_series(1, 25000) g;

-- NULLs in every column, and a large (TOASTed on input) value
INSERT INTO col_basic VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO col_basic (id, name) VALUES (-1, repeat('large value ', 100000));

SELECT count(*), count(id), sum(id), min(name) FILTER (WHERE id > 0), max(amount), min(ts), max(ts) FROM col_basic;
SELECT id, name, amount, ts, doc, tags, flag, f8, small, u FROM col_basic WHERE id IN (1, 12345, 25000) ORDER BY id;
SELECT count(*) FROM col_basic WHERE id IS NULL;
SELECT length(name) FROM col_basic WHERE id = -1;
SELECT doc->>'even', count(*) FROM col_basic WHERE id > 0 GROUP BY 1 ORDER BY 1;

-- own uncommitted rows are visible to the transaction, not to others' snapshots
BEGIN;
INSERT INTO col_basic (id, name) VALUES (100001, 'mine');
SELECT count(*) FROM col_basic WHERE id = 100001;
DELETE FROM col_basic WHERE id BETWEEN 1 AND 10;
SELECT count(*) FROM col_basic WHERE id BETWEEN 1 AND 10;
ROLLBACK;
SELECT count(*) FROM col_basic WHERE id = 100001 OR id BETWEEN 1 AND 10;

-- DELETE and UPDATE
DELETE FROM col_basic WHERE id % 1000 = 0;
UPDATE col_basic SET name = 'updated', amount = -1 WHERE id BETWEEN 500 AND 505;
SELECT count(*), count(*) FILTER (WHERE name = 'updated'), sum(amount) FILTER (WHERE name = 'updated')
FROM col_basic;
SELECT id, name, amount FROM col_basic WHERE id BETWEEN 499 AND 506 ORDER BY id;

-- INSERT ... SELECT from itself sees only the rows from before the statement
INSERT INTO col_basic (id, name) SELECT id + 1000000, name FROM col_basic WHERE id BETWEEN 1 AND 5;
SELECT count(*) FROM col_basic WHERE id > 1000000;

-- btree indexes, unique indexes, index and bitmap scans
CREATE INDEX col_basic_id ON col_basic (id);
CREATE UNIQUE INDEX col_basic_u ON col_basic (u);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id, name FROM col_basic WHERE id = 777;
SELECT id, name FROM col_basic WHERE id = 777;
SELECT id, name FROM col_basic WHERE id = 502;
RESET enable_bitmapscan;
SET enable_indexscan = off;
SELECT count(*) FROM col_basic WHERE id BETWEEN 100 AND 200;
RESET enable_indexscan;
RESET enable_seqscan;
INSERT INTO col_basic (id, u) SELECT 0, u FROM col_basic WHERE id = 7;

-- ANALYZE gives the planner a row count
ANALYZE col_basic;
SELECT reltuples BETWEEN 24000 AND 26000 AS reltuples_ok FROM pg_class WHERE relname = 'col_basic';

-- ADD and DROP COLUMN: old segments read the default
ALTER TABLE col_basic ADD COLUMN extra int DEFAULT 7;
INSERT INTO col_basic (id, extra) VALUES (200000, 8);
SELECT extra, count(*) FROM col_basic GROUP BY extra ORDER BY extra;
ALTER TABLE col_basic DROP COLUMN doc;
SELECT id, name, extra FROM col_basic WHERE id IN (3, 200000) ORDER BY id;

-- COPY in and out
CREATE TABLE col_copy (a int, b text) USING versioned_columnar;
COPY col_copy FROM stdin;
1	one
2	two
3	\N
\.
COPY col_copy TO stdout;

-- CREATE TABLE AS, SET ACCESS METHOD both ways, VACUUM, VACUUM FULL, SET TABLESPACE-free rewrite
CREATE TABLE col_ctas USING versioned_columnar AS SELECT id, name FROM col_basic WHERE id BETWEEN 1 AND 100;
SELECT count(*) FROM col_ctas;
ALTER TABLE col_ctas SET ACCESS METHOD heap;
SELECT count(*), (SELECT amname FROM pg_am a JOIN pg_class c ON c.relam = a.oid WHERE relname = 'col_ctas') FROM col_ctas;
ALTER TABLE col_ctas SET ACCESS METHOD versioned_columnar;
SELECT count(*), (SELECT amname FROM pg_am a JOIN pg_class c ON c.relam = a.oid WHERE relname = 'col_ctas') FROM col_ctas;
ALTER TABLE col_ctas ALTER COLUMN id TYPE int;
SELECT count(*), sum(id) FROM col_ctas;
VACUUM col_basic;
VACUUM FULL col_basic;
SELECT count(*) FROM col_basic;
SELECT (streamext.verify('col_basic')->>'rows')::bigint = (SELECT count(*) FROM col_basic) AS verified;

-- unsupported features fail cleanly
CREATE UNLOGGED TABLE col_unlogged (a int) USING versioned_columnar;
-- (ON CONFLICT works: sql/columnar_lock.sql)
CREATE UNIQUE INDEX ON col_copy (a);
INSERT INTO col_copy VALUES (1, 'again') ON CONFLICT (a) DO NOTHING;
INSERT INTO col_copy VALUES (99, 'new') ON CONFLICT (a) DO NOTHING;

-- TRUNCATE and DROP remove everything
TRUNCATE col_copy;
SELECT count(*) FROM col_copy;
DROP TABLE col_basic, col_copy, col_ctas;
SELECT count(*) AS storages_left FROM streamext.columnar_storage;
SELECT count(*) AS segments_left FROM streamext.columnar_segment;
