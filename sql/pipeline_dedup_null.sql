-- Dedup keys first seen in a row with a NULL (or infinite) event time: such a
-- row is never late and its key is remembered (its duplicates are dropped),
-- as if first seen at the stream's event time when it arrived (the largest
-- event time read by the end of its batch); it is forgotten when the watermark
-- passes that + delay, like any key, so the state stays bounded.  The same in
-- the one-statement batch (pdn) and the batch with a temporary table (pdn_t,
-- forced by a "fail" expectation).
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET client_min_messages = error;

CREATE TABLE pdn_src (k text, et timestamptz, n int);
CREATE TABLE pdn_out (k text, et timestamptz, n int);
CREATE TABLE pdn_out_t (k text, et timestamptz, n int);
SELECT streamext.create_pipeline('pdn', 'pdn_src', 'pdn_out', NULL,
  '{"event_time": "et", "watermark": "10 minutes", "dedup_keys": ["k"], "trigger": "manual"}');
SELECT streamext.create_pipeline('pdn_t', 'pdn_src', 'pdn_out_t', NULL,
  '{"event_time": "et", "watermark": "10 minutes", "dedup_keys": ["k"], "trigger": "manual",
    "expectations": [{"name": "any", "check": "true", "on_violation": "fail"}]}');
CREATE FUNCTION pdn_state(p text) RETURNS TABLE (k text, first_event_time timestamptz)
  LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format('SELECT k, first_event_time FROM streamext.%I ORDER BY k',
    'pipeline_' || (SELECT id FROM streamext.pipelines WHERE name = p) || '_dedup');
END $$;

-- batch 1: only NULL and infinite event times, no watermark yet: the keys are
-- held, without a time
INSERT INTO pdn_src VALUES ('a', NULL, 1), ('b', 'infinity', 2);
SELECT streamext.run_pipeline(p) FROM unnest(ARRAY['pdn', 'pdn_t']) p;
SELECT * FROM pdn_state('pdn');
-- batch 2: duplicates of a and b are dropped; the first event time (00:00)
-- stamps a and b; c (NULL) comes with it and is stamped too
INSERT INTO pdn_src VALUES ('a', NULL, 3), ('b', NULL, 4), ('c', NULL, 5),
  ('x', '2026-01-01 00:00', 6);
SELECT streamext.run_pipeline(p) FROM unnest(ARRAY['pdn', 'pdn_t']) p;
SELECT * FROM pdn_state('pdn');
SELECT * FROM pdn_state('pdn_t');
-- batch 3: watermark 23:50 before it, 00:05 after: a is a duplicate; a, b,
-- c and x stay (00:00 + 10 min > 00:05); d is stamped 00:15
INSERT INTO pdn_src VALUES ('a', NULL, 7), ('d', NULL, 8), ('y', '2026-01-01 00:15', 9);
SELECT streamext.run_pipeline(p) FROM unnest(ARRAY['pdn', 'pdn_t']) p;
SELECT * FROM pdn_state('pdn');
-- batch 4: the watermark reaches 00:12: a, b, c and x are forgotten
-- (00:00 + 10 min <= 00:12), d and y stay
INSERT INTO pdn_src VALUES ('z', '2026-01-01 00:22', 10);
SELECT streamext.run_pipeline(p) FROM unnest(ARRAY['pdn', 'pdn_t']) p;
SELECT * FROM pdn_state('pdn');
SELECT * FROM pdn_state('pdn_t');
-- batch 5: a and c are new again (kept), d is still a duplicate
INSERT INTO pdn_src VALUES ('a', NULL, 11), ('c', '2026-01-01 00:23', 12), ('d', NULL, 13);
SELECT streamext.run_pipeline(p) FROM unnest(ARRAY['pdn', 'pdn_t']) p;
SELECT * FROM pdn_out ORDER BY n;
SELECT (SELECT array_agg(n ORDER BY n) FROM pdn_out) = (SELECT array_agg(n ORDER BY n) FROM pdn_out_t) AS same;
SELECT batch, rows_in, rows_out, late_rows, duplicates_dropped, watermark
  FROM streamext.pipeline_batches WHERE pipeline = 'pdn' ORDER BY batch;

SELECT streamext.drop_pipeline(p) FROM unnest(ARRAY['pdn', 'pdn_t']) p;
DROP FUNCTION pdn_state(text);
DROP TABLE pdn_src, pdn_out, pdn_out_t;
