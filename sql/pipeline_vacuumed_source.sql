-- A pipeline on a versioned_columnar source that streamext.vacuum has vacuumed before the
-- pipeline existed (or before reset_pipeline) starts from the oldest readable version: its
-- first batch reads the rows of that version, the next ones the changes after it.  It used to
-- fail on every batch, since changes() cannot read the vacuumed versions.
CREATE SCHEMA se_pvs;
SET search_path = se_pvs;
SET timezone = 'UTC';
SET streamext.vacuum_retention_check = off;
CREATE TABLE g (k int, t timestamptz) USING versioned_columnar;
INSERT INTO g SELECT i, '2026-01-01 00:00+00'::timestamptz + i * interval '1 minute' FROM generate_series(1, 5) i;   -- 1
INSERT INTO g SELECT i, '2026-01-01 00:00+00'::timestamptz + i * interval '1 minute' FROM generate_series(6, 10) i;  -- 2
DELETE FROM g WHERE k <= 5;                                   -- 3: the segment of version 1 is all deleted
SELECT v->>'readable_from' AS readable_from, v->>'segments_removed' AS segments_removed, v->>'version' AS version
FROM streamext.vacuum('g', '0') v;                           -- 4: VACUUM, R = 3
INSERT INTO g VALUES (11, '2026-01-01 00:11+00');                -- 5
SELECT count(*) FROM streamext.changes(NULL::g, 1);          -- the changes up to 3 are gone
CREATE TABLE dst (k int, t timestamptz);
SELECT streamext.create_pipeline('pvs', 'g', 'dst', NULL,
	'{"event_time": "t", "watermark": "1 minute", "trigger": "manual"}');
SELECT streamext.run_pipeline('pvs', max_batches => 1) AS first_batch;   -- version 3: 6 .. 10
SELECT streamext.run_pipeline('pvs') AS the_rest;                        -- versions 4, 5: 11
SELECT array_agg(k ORDER BY k) FROM dst;
SELECT batch, rows_in, rows_out, late_rows, watermark FROM streamext.pipeline_batches WHERE pipeline = 'pvs' ORDER BY batch;
SELECT lag FROM streamext.pipeline_status WHERE pipeline = 'pvs';
-- reset_pipeline replays the source: from version 3 again
SELECT streamext.reset_pipeline('pvs');
SELECT streamext.run_pipeline('pvs') AS replayed;
SELECT array_agg(k ORDER BY k) FROM dst;
-- the other ways a batch runs read the same snapshot: dedup with a tumble window (one
-- statement), update mode and a session window (through the batch table)
INSERT INTO g VALUES (11, '2026-01-01 00:11+00');             -- 6: a duplicate of 11
CREATE TABLE w_append (window_start timestamptz, n bigint);
CREATE TABLE w_update (window_start timestamptz PRIMARY KEY, n bigint);
CREATE TABLE w_session (window_start timestamptz, window_end timestamptz, n bigint);
SELECT streamext.create_pipeline('pvs_append', 'g', 'w_append',
	'SELECT window_start, count(*) AS n FROM batch GROUP BY window_start',
	'{"event_time": "t", "watermark": "1 minute", "dedup_keys": ["k"],
	  "window": {"type": "tumble", "width": "5 minutes"}, "trigger": "manual"}');
SELECT streamext.create_pipeline('pvs_update', 'g', 'w_update',
	'SELECT window_start, count(*) AS n FROM batch GROUP BY window_start',
	'{"event_time": "t", "watermark": "1 minute", "window": {"type": "tumble", "width": "5 minutes"},
	  "mode": "update", "trigger": "manual"}');
SELECT streamext.create_pipeline('pvs_session', 'g', 'w_session',
	'SELECT window_start, window_end, count(*) AS n FROM batch GROUP BY window_start, window_end',
	'{"event_time": "t", "watermark": "1 minute", "window": {"type": "session", "gap": "90 seconds"},
	  "trigger": "manual"}');
SELECT streamext.run_pipeline('pvs_append') AS append_rows, streamext.run_pipeline('pvs_update') AS update_rows,
	streamext.run_pipeline('pvs_session') AS session_rows;
SELECT pipeline, batches, rows_in, duplicates_dropped, late_rows FROM streamext.pipeline_status
WHERE pipeline LIKE 'pvs_%' ORDER BY pipeline;
SELECT * FROM w_append ORDER BY 1;
SELECT * FROM w_update ORDER BY 1;
SELECT * FROM w_session ORDER BY 1;
SELECT streamext.drop_pipeline(p) FROM unnest('{pvs_append,pvs_update,pvs_session}'::text[]) p;
-- and a pipeline that read everything holds the next vacuum back as before
DELETE FROM g WHERE k <= 10;                                  -- 7
SELECT v->>'readable_from' AS readable_from, v->>'held_back_by_pipeline' AS held_back_by
FROM streamext.vacuum('g', '0') v;
SELECT streamext.drop_pipeline('pvs');
RESET streamext.vacuum_retention_check;
RESET search_path;
RESET timezone;
DROP SCHEMA se_pvs CASCADE;
