-- versioned_columnar: index paths are costed by the segments their fetches decode, so the
-- planner does not pick an index scan that jumps between more segments than the fetcher
-- keeps decoded (work_mem * 4); point lookups and scans of an index the table is loaded
-- in order of still use the index
SET streamext.columnar_segment_rows = 1000;
-- a BI table, rows inserted in (pseudo-)random key order: 20 segments, each spanning all keys
CREATE TABLE cc_bi (k int PRIMARY KEY, g int, v numeric(12,2), note text) USING versioned_columnar;
INSERT INTO cc_bi
SELECT k, k % 100, (k * 37 % 10000) / 100.0, 'note ' || md5(k::text)
FROM generate_series(1, 20000) k ORDER BY md5(k::text);
-- a dashboard table loaded in time order: 100 devices per hour, 200 hours
CREATE TABLE cc_dash (window_start timestamptz, device_id text, qty int, amount numeric(12,2),
					  PRIMARY KEY (device_id, window_start)) USING versioned_columnar;
INSERT INTO cc_dash
SELECT '2024-01-01 00:00:00+00'::timestamptz + (i / 100) * interval '1 hour',
	   'device-' || lpad((i % 100)::text, 3, '0'), i % 97, (i % 1000) / 10.0
FROM generate_series(0, 19999) i;
CREATE INDEX cc_dash_ws ON cc_dash (window_start);
ANALYZE cc_bi;
ANALYZE cc_dash;
CREATE TABLE cc_bi_heap AS SELECT * FROM cc_bi;
CREATE TABLE cc_dash_heap AS SELECT * FROM cc_dash;

-- a small fetch cache (4 x 64kB): the ordered reads go through a sort of the columnar scan
SET work_mem = '64kB';
EXPLAIN (COSTS OFF)
SELECT sum(length(note)) FROM (SELECT * FROM cc_bi ORDER BY k LIMIT 2000) s;
EXPLAIN (COSTS OFF) SELECT k FROM cc_bi ORDER BY k LIMIT 2000;
EXPLAIN (COSTS OFF) SELECT * FROM cc_dash ORDER BY device_id, window_start LIMIT 2000;
EXPLAIN (COSTS OFF)
SELECT device_id FROM cc_dash GROUP BY device_id ORDER BY device_id LIMIT 5;
EXPLAIN (COSTS OFF) SELECT * FROM cc_dash ORDER BY device_id, window_start;
-- point lookups by primary key still use the index
EXPLAIN (COSTS OFF) SELECT * FROM cc_bi WHERE k = 42;
SELECT * FROM cc_bi WHERE k = 42;
SELECT * FROM cc_dash WHERE device_id = 'device-042' AND window_start = '2024-01-05 00:00:00+00';
-- an index in the table's load order touches few segments at a time: it is used
EXPLAIN (COSTS OFF) SELECT * FROM cc_dash ORDER BY window_start LIMIT 100;

-- a fetch cache the whole table fits in: the index scan decodes each segment once
SET work_mem = '64MB';
EXPLAIN (COSTS OFF)
SELECT sum(length(note)) FROM (SELECT * FROM cc_bi ORDER BY k LIMIT 2000) s;
SELECT sum(length(note)), sum(k) FROM (SELECT * FROM cc_bi ORDER BY k LIMIT 2000) s;
SELECT sum(length(note)), sum(k) FROM (SELECT * FROM cc_bi_heap ORDER BY k LIMIT 2000) s;

-- forced index scans return what the heap twin returns, with the cache evicting
-- segments (64kB) and keeping them all (64MB), before and after deletions
SET enable_seqscan = off; SET enable_sort = off; SET enable_bitmapscan = off;
SET work_mem = '64kB';
CREATE FUNCTION cc_digest(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; BEGIN EXECUTE 'SELECT md5(string_agg(s::text, '','')) FROM (' || q || ') s' INTO r; RETURN r; END $$;
SELECT cc_digest('SELECT * FROM cc_bi ORDER BY k LIMIT 3000') =
	   cc_digest('SELECT * FROM cc_bi_heap ORDER BY k LIMIT 3000') AS same_bi;
SELECT cc_digest('SELECT * FROM cc_dash ORDER BY device_id, window_start LIMIT 3000') =
	   cc_digest('SELECT * FROM cc_dash_heap ORDER BY device_id, window_start LIMIT 3000') AS same_dash;
BEGIN;
DELETE FROM cc_bi WHERE k % 7 = 0;
DELETE FROM cc_bi_heap WHERE k % 7 = 0;
UPDATE cc_bi SET note = 'changed' WHERE k % 11 = 0;
UPDATE cc_bi_heap SET note = 'changed' WHERE k % 11 = 0;
SELECT cc_digest('SELECT * FROM cc_bi ORDER BY k LIMIT 3000') =
	   cc_digest('SELECT * FROM cc_bi_heap ORDER BY k LIMIT 3000') AS same_in_xact;
COMMIT;
SET work_mem = '64MB';
SELECT cc_digest('SELECT * FROM cc_bi ORDER BY k') =
	   cc_digest('SELECT * FROM cc_bi_heap ORDER BY k') AS same_after;
-- a cursor's fetches keep their snapshot while the table changes under it
BEGIN;
DECLARE cc_cur CURSOR FOR SELECT k, note FROM cc_bi ORDER BY k;
FETCH 2 FROM cc_cur;
DELETE FROM cc_bi WHERE k BETWEEN 1 AND 100;
FETCH 2 FROM cc_cur;
SELECT count(*) FROM cc_bi WHERE k BETWEEN 1 AND 100;
ROLLBACK;
RESET enable_seqscan; RESET enable_sort; RESET enable_bitmapscan; RESET work_mem;
DROP FUNCTION cc_digest(text);
DROP TABLE cc_bi, cc_bi_heap, cc_dash, cc_dash_heap;
RESET streamext.columnar_segment_rows;
