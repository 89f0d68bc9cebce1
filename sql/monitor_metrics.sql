-- streamext.metrics(): every line is valid Prometheus text exposition format,
-- each family's TYPE comes before its samples, label values are escaped, the
-- values match the status views, and only pg_monitor members may read it.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE SCHEMA se_mon;
SET search_path = se_mon, public;

-- A checker of the exposition format: returns the offending lines (none if valid).
CREATE FUNCTION check_exposition(body text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	m text[];
	fam text;
	typed jsonb := '{}';     -- family -> type
	seen jsonb := '{}';      -- families whose samples are over
	cur text := NULL;        -- family of the samples being read
	lbl text := '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"';
	num text := '(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN)';
BEGIN
	IF right(body, 1) <> E'\n' THEN
		RETURN NEXT 'no final newline';
	END IF;
	FOREACH line IN ARRAY string_to_array(rtrim(body, E'\n'), E'\n') LOOP
		IF line ~ '^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S' THEN
			CONTINUE;
		END IF;
		m := regexp_match(line, '^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$');
		IF m IS NOT NULL THEN
			IF typed ? m[1] THEN
				RETURN NEXT 'second TYPE: ' || line;
			END IF;
			typed := typed || jsonb_build_object(m[1], m[2]);
			CONTINUE;
		END IF;
		m := regexp_match(line, '^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{' || lbl || '(?:,' || lbl || ')*\})? ' || num || '$');
		IF m IS NULL THEN
			RETURN NEXT 'not a sample: ' || line;
			CONTINUE;
		END IF;
		fam := m[1];
		IF NOT typed ? fam AND fam ~ '_(bucket|sum|count)$' THEN
			fam := regexp_replace(fam, '_(bucket|sum|count)$', '');
			IF typed ->> fam IS DISTINCT FROM 'histogram' THEN
				fam := m[1];
			END IF;
		END IF;
		IF NOT typed ? fam THEN
			RETURN NEXT 'sample before its TYPE: ' || line;
		END IF;
		IF typed ->> fam = 'counter' AND fam !~ '_total$' THEN
			RETURN NEXT 'counter without _total: ' || line;
		END IF;
		IF m[1] ~ '_bucket$' AND line !~ 'le="' THEN
			RETURN NEXT 'bucket without le: ' || line;
		END IF;
		IF cur IS DISTINCT FROM fam THEN
			IF seen ? fam THEN
				RETURN NEXT 'samples of a family not together: ' || line;
			END IF;
			IF cur IS NOT NULL THEN
				seen := seen || jsonb_build_object(cur, true);
			END IF;
			cur := fam;
		END IF;
	END LOOP;
END
$$;

-- the checker itself rejects what it should
SELECT * FROM check_exposition(E'# TYPE a_total counter\na_total{x="a"b"} 1\nb 1\n# TYPE c gauge\nc{x="\\q"} 2\nc 1e3\na_total 2\n');

-- a source, a pipeline and an expectation whose names need escaping; the
-- source's brokers and Kafka properties must not show
CREATE TABLE mon_target (device_id text, temp float8, ts timestamptz);
SELECT streamext.create_source(E'src "q" \\ 1', 'secret-broker.example:9092', 'mon_topic', 'mon_target',
	options => '{"kafka": {"client.id": "secret-client"}}');
CREATE TABLE mon_src (device_id text, temp float8, ts timestamptz);
CREATE TABLE mon_out (device_id text, temp float8, ts timestamptz);
SELECT streamext.create_pipeline(E'pipe "p" \\ 1', 'mon_src', 'mon_out', NULL,
	'{"event_time": "ts", "watermark": "1 minute", "trigger": "manual",
	  "expectations": [{"name": "temp \"ok\"", "check": "temp < 100", "on_violation": "drop"}]}');
INSERT INTO mon_src VALUES ('a', 20, '2024-01-01 10:00+00'), ('b', 200, '2024-01-01 10:01+00'),
	('c', 21, '2024-01-01 10:02+00');
SELECT streamext.run_pipeline(E'pipe "p" \\ 1');
INSERT INTO mon_src VALUES ('d', 22, '2024-01-01 10:03+00');
SELECT streamext.run_pipeline(E'pipe "p" \\ 1');
CREATE TABLE mon_col (id int, v text) USING versioned_columnar;
INSERT INTO mon_col SELECT g, 'x' || g FROM generate_series(1, 100) g;
INSERT INTO mon_col SELECT g, 'y' || g FROM generate_series(1, 50) g;
DELETE FROM mon_col WHERE id <= 10;

CREATE TEMP TABLE m AS SELECT streamext.metrics() AS body;
SELECT * FROM check_exposition((SELECT body FROM m));
CREATE TEMP TABLE ml AS SELECT l FROM m, regexp_split_to_table(m.body, E'\n') l;

-- escaped labels, values as in source_status and pipeline_status
SELECT l FROM ml WHERE l LIKE 'streamext_source_rows_total%' OR l LIKE 'streamext_source_state%state="paused"%'
	OR l LIKE 'streamext_pipeline_%_total{%' OR l LIKE 'streamext_pipeline_watermark%'
	OR l LIKE 'streamext_pipeline_state%running%' ORDER BY l;
SELECT rows_in, rows_out, expectation_failures, extract(epoch FROM watermark) AS watermark
	FROM streamext.pipeline_status WHERE pipeline = E'pipe "p" \\ 1';
-- the histogram: two batches, cumulative buckets ending at +Inf = _count
SELECT count(*) AS buckets,
	bool_and(l ~ '^streamext_pipeline_batch_duration_seconds_bucket\{pipeline="pipe \\"p\\" \\\\ 1",le="[0-9.e+Inf-]+"\} [0-9]+$') AS well_formed
	FROM ml WHERE l LIKE 'streamext_pipeline_batch_duration_seconds_bucket%';
SELECT l FROM ml WHERE l ~ '^streamext_pipeline_batch_duration_seconds_(count|bucket.*Inf)';
SELECT (SELECT bool_and(c >= p) FROM (SELECT c, lag(c, 1, 0) OVER (ORDER BY ord) p
	FROM (SELECT substring(l FROM ' ([0-9]+)$')::bigint c, row_number() OVER () ord FROM ml
	WHERE l LIKE 'streamext_pipeline_batch_duration_seconds_bucket%') b) x) AS cumulative;
-- the versioned_columnar table: 3 versions, 150 - 20 rows
SELECT l FROM ml WHERE l ~ '^streamext_columnar_(versions|rows)\{table="se_mon.mon_col"\}';
SELECT count(*) AS bytes_and_segments FROM ml
	WHERE l ~ '^streamext_columnar_(bytes|segments)\{table="se_mon.mon_col"\} [1-9][0-9]*$';
SELECT count(*) AS launcher_lines FROM ml
	WHERE l ~ '^streamext_launcher_up [01]$' OR l ~ '^streamext_launcher_workers\{kind="(launcher|source|pipeline)"\} [0-9]+$';
SELECT l FROM ml WHERE l LIKE 'streamext_source_%' AND l NOT LIKE '%_state{%' ORDER BY l;
-- a newline in a label value (expectation names may hold one)
SELECT streamext._prom_label(E'a\\b"c\nd') AS escaped;
-- no secrets
SELECT count(*) AS secrets FROM ml WHERE l LIKE '%secret%' OR l LIKE '%9092%';

-- a batch rolled back is not counted (the histogram is bumped when the batch's transaction commits)
INSERT INTO mon_src VALUES ('e', 23, '2024-01-01 10:04+00');
BEGIN;
SELECT streamext.run_pipeline(E'pipe "p" \\ 1');
ROLLBACK;
SELECT l FROM regexp_split_to_table(streamext.metrics(), E'\n') l
	WHERE l LIKE 'streamext_pipeline_batch_duration_seconds_count%';
SELECT streamext.run_pipeline(E'pipe "p" \\ 1');
SELECT l FROM regexp_split_to_table(streamext.metrics(), E'\n') l
	WHERE l LIKE 'streamext_pipeline_batch_duration_seconds_count%';

-- the settings
SHOW streamext.batch_log_level;
SET streamext.batch_log_level = 'log';
SET streamext.batch_log_level = 'loud';
SET streamext.metrics_http_port = 9999;
SHOW streamext.metrics_http_address;
RESET streamext.batch_log_level;

-- a pipeline in error: its state shows, its error text (it can quote rows) does not
UPDATE streamext.pipelines SET state = 'error', last_error = 'secret row data' WHERE name = E'pipe "p" \\ 1';
SELECT l FROM regexp_split_to_table(streamext.metrics(), E'\n') l
	WHERE l LIKE 'streamext_pipeline_state%' OR l LIKE '%secret%' ORDER BY l;

-- privileges: pg_monitor members only
CREATE ROLE se_mon_plain;
CREATE ROLE se_mon_reader IN ROLE pg_monitor;
SET ROLE se_mon_plain;
SELECT streamext.metrics();
RESET ROLE;
SET ROLE se_mon_reader;
SELECT count(*) > 0 AS reader_sees_the_pipeline FROM regexp_split_to_table(streamext.metrics(), E'\n') l
	WHERE strpos(l, 'streamext_pipeline_rows_out_total{pipeline="pipe \"p\" \\ 1"} 4') = 1;
SELECT streamext._monitor_batch_stats();
SET streamext.batch_log_level = 'log';
RESET ROLE;
SELECT has_function_privilege('public', 'streamext.metrics()', 'EXECUTE') AS public_may;

-- the last OPTIMIZE and VACUUM of a versioned_columnar table: no sample before, one after
SELECT count(*) AS before FROM regexp_split_to_table(streamext.metrics(), E'\n') l
	WHERE l ~ '^streamext_columnar_last_(optimize|vacuum)_seconds\{table="se_mon.mon_col"\}';
SELECT (streamext.optimize('se_mon.mon_col')) ->> 'segments_rewritten' AS rewritten;
SET streamext.vacuum_retention_check = off;
SELECT (streamext.vacuum('se_mon.mon_col', retain => '0 seconds')) ->> 'readable_from' IS NOT NULL AS vacuumed;
RESET streamext.vacuum_retention_check;
CREATE TEMP TABLE mv AS SELECT l FROM regexp_split_to_table(streamext.metrics(), E'\n') l
	WHERE l ~ '^streamext_columnar_last_(optimize|vacuum)_seconds\{table="se_mon.mon_col"\}';
SELECT regexp_replace(l, ' [0-9.]+$', ' <time>') AS l,
	substring(l FROM ' ([0-9.]+)$')::numeric = (SELECT extract(epoch FROM max(committed_at))
		FROM streamext.history('se_mon.mon_col') WHERE operation = 'OPTIMIZE') AS as_in_history
	FROM mv WHERE l LIKE '%optimize%';
-- (a vacuum writes a VACUUM version only when it removed something: the sample follows history)
SELECT (SELECT count(*) FROM mv WHERE l LIKE '%vacuum%') =
	(SELECT count(*) > 0 FROM streamext.history('se_mon.mon_col') WHERE operation = 'VACUUM')::int
	AS vacuum_sample_as_in_history;

SELECT streamext.drop_source(E'src "q" \\ 1');
SELECT streamext.drop_pipeline(E'pipe "p" \\ 1');
DROP ROLE se_mon_plain, se_mon_reader;
DROP SCHEMA se_mon CASCADE;
