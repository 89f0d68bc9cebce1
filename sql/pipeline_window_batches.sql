-- Several batches of an append-mode tumble window in one run_pipeline call (one transaction):
-- each batch must see the rows the batches before it buffered.  The check for "nothing
-- buffered" read with the calling statement's snapshot, which does not see them: a window
-- closing in a later batch of the call was written from that batch's rows alone, and its
-- buffered rows came out again later as a second row of the same window.
CREATE SCHEMA se_pwb;
SET search_path = se_pwb;
SET timezone = 'UTC';
CREATE TABLE src (k int, t timestamptz);
CREATE TABLE dst (window_start timestamptz, n bigint);
SELECT streamext.create_pipeline('pwb', 'src', 'dst',
	'SELECT window_start, count(*) AS n FROM batch GROUP BY window_start',
	'{"event_time": "t", "watermark": "1 minute", "window": {"type": "tumble", "width": "5 minutes"},
	  "max_batch_rows": 5, "trigger": "manual"}');
-- three transactions; max_batch_rows 5 reads them in two batches (the first, then the other two)
INSERT INTO src SELECT i, '2026-01-01 00:00+00'::timestamptz + i * interval '1 minute' FROM generate_series(6, 10) i;
INSERT INTO src VALUES (18, '2026-01-01 00:08+00'), (12, '2026-01-01 00:12+00');
INSERT INTO src VALUES (20, '2026-01-01 00:20+00');
SELECT streamext.run_pipeline('pwb') AS rows_read;
SELECT batch, rows_in, rows_out, late_rows, watermark FROM streamext.pipeline_batches
WHERE pipeline = 'pwb' ORDER BY batch;
-- each closed window once, with all its rows: [00:05, 00:10) 00:06 .. 00:09 and 00:08, [00:10, 00:15) 00:10 and 00:12
SELECT window_start, n FROM dst ORDER BY window_start;
-- and no buffered row of a written window comes out again later
INSERT INTO src VALUES (30, '2026-01-01 00:30+00');
SELECT streamext.run_pipeline('pwb') AS rows_read;
SELECT window_start, n FROM dst ORDER BY window_start;
SELECT streamext.drop_pipeline('pwb');
RESET timezone;
RESET search_path;
DROP SCHEMA se_pwb CASCADE;
