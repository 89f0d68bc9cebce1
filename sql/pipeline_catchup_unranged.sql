-- A catch-up batch (the first after create_pipeline or reset_pipeline) reads
-- the whole heap source.  When every row's tag (the tracking column) is below
-- xmin of the batch's snapshot S, it reads the source without testing each
-- row's tag (source_heap.c: a check over the tracking index and the batch's
-- statement run with one snapshot; DEBUG1 says so).  A tag at or above it -
-- set by hand, restored from elsewhere, or a row of a transaction that
-- committed after S or of the batch's own transaction - and a NULL tag keep
-- the test: such a row is read once, by the batch whose progress passes it,
-- and a row with a NULL tag is never read.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE SCHEMA se_plcu;
SET search_path = se_plcu;
SET streamext.batch_log_level = debug5;
CREATE TABLE cu_src (id int, v text);
CREATE TABLE cu_out (id int, v text);
-- large enough for the batch's one statement to read the source itself
INSERT INTO cu_src SELECT i, 'old' FROM generate_series(1, 20000) i;
ANALYZE cu_src;
SELECT streamext.create_pipeline('plcu', 'cu_src', 'cu_out', NULL, '{"trigger": "manual"}');

-- 1. every tag below xmin(S): no test per row, every row once
SET client_min_messages = debug1;
SELECT streamext.run_pipeline('plcu') AS rows_read;
SET client_min_messages = error;
SELECT v, count(*), count(DISTINCT id) AS ids FROM cu_out GROUP BY v ORDER BY v;
SELECT streamext.run_pipeline('plcu') AS rows_read;

-- 2. a tag set by hand far above every xid so far, and a NULL tag: the
--    catch-up tests each row and reads neither; once the xids pass the
--    hand-set tag, the next batch reads that row, once; the NULL one never
SELECT streamext.reset_pipeline('plcu');
TRUNCATE cu_out;
UPDATE cu_src SET v = 'hand-set', _streamext_xid = (pg_current_xact_id()::text::int8 + 1000)::text::xid8
 WHERE id = 1;
UPDATE cu_src SET v = 'null tag', _streamext_xid = NULL WHERE id = 2;
SET client_min_messages = debug1;
SELECT streamext.run_pipeline('plcu') AS rows_read;
SET client_min_messages = error;
SELECT v, count(*), count(DISTINCT id) AS ids FROM cu_out GROUP BY v ORDER BY v;
DO $$
BEGIN
  FOR i IN 1..1100 LOOP
    PERFORM pg_current_xact_id();
    COMMIT;
  END LOOP;
END $$;
SELECT streamext.run_pipeline('plcu') AS rows_read;
SELECT streamext.run_pipeline('plcu') AS rows_read;
SELECT v, count(*), count(DISTINCT id) AS ids FROM cu_out GROUP BY v ORDER BY v;

-- 3. the batch's own transaction wrote the source before the catch-up: its
--    row is read after it commits, once
DELETE FROM cu_src WHERE id IN (1, 2);
SELECT streamext.reset_pipeline('plcu');
TRUNCATE cu_out;
BEGIN;
INSERT INTO cu_src VALUES (30000, 'own');
SET LOCAL client_min_messages = debug1;
SELECT streamext.run_pipeline('plcu') AS rows_read;
SET LOCAL client_min_messages = error;
COMMIT;
SELECT streamext.run_pipeline('plcu') AS rows_read;
SELECT v, count(*), count(DISTINCT id) AS ids FROM cu_out GROUP BY v ORDER BY v;

-- 4. without the tracking index the check would read the whole source: the
--    catch-up tests each row
DROP INDEX cu_src__streamext_xid_idx;
SELECT streamext.reset_pipeline('plcu');
TRUNCATE cu_out;
SET client_min_messages = debug1;
SELECT streamext.run_pipeline('plcu') AS rows_read;
SET client_min_messages = error;
SELECT count(*), count(DISTINCT id) AS ids FROM cu_out;

SELECT streamext.drop_pipeline('plcu');
DROP SCHEMA se_plcu CASCADE;
