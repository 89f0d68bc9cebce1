-- Review of pipelines: everything a pipeline does also works for a role that
-- is not a superuser (the other tests mostly run as one): dedup state, late
-- rows, quarantine, windows in append and update mode, reset and drop.  The
-- state tables live in schema streamext, where the role may not create.
\set SHOW_CONTEXT never
SET client_min_messages = error;
SET timezone = 'UTC';
CREATE ROLE regress_plro_carol LOGIN;
CREATE SCHEMA se_plro;
GRANT USAGE, CREATE ON SCHEMA se_plro TO regress_plro_carol;
SET search_path = se_plro;
SET ROLE regress_plro_carol;

CREATE TABLE bronze (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE silver (device_id int, event_time timestamptz, temperature float8);
CREATE TABLE gold (window_start timestamptz, device_id int, avg_temp float8, n bigint);
CREATE TABLE gold_live (window_start timestamptz, device_id int, n bigint,
	PRIMARY KEY (window_start, device_id));
SELECT streamext.create_pipeline('plro_silver', 'bronze', 'silver', NULL,
  '{"trigger": "manual", "event_time": "event_time", "watermark": "10 minutes",
    "dedup_keys": ["device_id", "event_time"], "late_rows": "silver_late", "quarantine": "silver_q",
    "expectations": [{"name": "valid_temp", "check": "temperature BETWEEN -50 AND 150", "on_violation": "drop"}]}');
SELECT streamext.create_pipeline('plro_gold', 'silver', 'gold',
  'SELECT window_start, device_id, avg(temperature) AS avg_temp, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"trigger": "manual", "event_time": "event_time", "watermark": "10 minutes",
    "window": {"type": "tumble", "width": "1 hour"}}');
SELECT streamext.create_pipeline('plro_live', 'silver', 'gold_live',
  'SELECT window_start, device_id, count(*) AS n FROM batch GROUP BY 1, 2',
  '{"trigger": "manual", "event_time": "event_time", "watermark": "10 minutes", "mode": "update",
    "window": {"type": "hop", "width": "1 hour", "slide": "30 minutes"}}');

INSERT INTO bronze VALUES (1, '2024-05-01 10:00', 20), (1, '2024-05-01 10:00', 20),
	(2, '2024-05-01 10:20', 500), (1, '2024-05-01 10:40', 22);
SELECT streamext.run_pipeline('plro_silver');
SELECT streamext.run_pipeline('plro_gold');
SELECT streamext.run_pipeline('plro_live');
INSERT INTO bronze VALUES (1, '2024-05-01 10:00', 20), (1, '2024-05-01 10:15', 21),
	(1, '2024-05-01 11:30', 24);
SELECT streamext.run_pipeline('plro_silver');
SELECT streamext.run_pipeline('plro_gold');
SELECT streamext.run_pipeline('plro_live');
SELECT device_id, event_time, temperature FROM silver ORDER BY event_time;
SELECT device_id, event_time FROM silver_late ORDER BY event_time;
SELECT device_id, _expectation FROM silver_q;
SELECT * FROM gold ORDER BY 1, 2;
SELECT * FROM gold_live ORDER BY 1, 2;
SELECT pipeline, state, rows_in, rows_out, late_rows, duplicates_dropped, expectation_failures
	FROM streamext.pipeline_status ORDER BY 1;

-- reset and drop, as the owner
SELECT streamext.reset_pipeline('plro_silver');
SELECT streamext.run_pipeline('plro_silver');
SELECT count(*) AS silver_rows FROM silver;
CREATE TEMP TABLE plro_ids AS SELECT id FROM streamext.pipelines WHERE name LIKE 'plro\_%';
SELECT count(*) AS state_tables FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'streamext' AND c.relname IN (SELECT 'pipeline_' || id || s FROM plro_ids, (VALUES ('_dedup'), ('_window')) v(s));
SELECT streamext.drop_pipeline(name) FROM streamext.pipelines WHERE name LIKE 'plro\_%' ORDER BY name;
SELECT count(*) AS state_tables_left FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'streamext' AND c.relname IN (SELECT 'pipeline_' || id || s FROM plro_ids, (VALUES ('_dedup'), ('_window')) v(s));
DROP TABLE plro_ids;
RESET ROLE;

DROP SCHEMA se_plro CASCADE;
DROP ROLE regress_plro_carol;
