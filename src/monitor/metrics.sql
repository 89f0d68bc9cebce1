-- src/monitor/metrics.sql — streamext.metrics(): the Prometheus exposition format
-- (issue 13).  Counters of the sources and the batch-duration histograms come
-- from shared memory (metrics_shmem.c, since the server started), the pipelines'
-- counters from streamext.pipeline_progress (committed with each batch, so they
-- survive restarts), the versioned_columnar figures from its catalog.

-- The shared counters; internal, read by metrics() only.
CREATE FUNCTION streamext._monitor_batch_stats(
	OUT kind text, OUT id bigint, OUT batches bigint, OUT messages bigint, OUT rows bigint,
	OUT dead_letters bigint, OUT bytes bigint, OUT restarts bigint, OUT seconds_sum double precision,
	OUT bounds double precision[], OUT buckets bigint[])
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'streamext_monitor_batch_stats'
	LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
CREATE FUNCTION streamext._monitor_partition_lag(OUT source_id bigint, OUT partition integer, OUT lag bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'streamext_monitor_partition_lag'
	LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
CREATE FUNCTION streamext._monitor_launcher_up() RETURNS boolean
	AS 'MODULE_PATHNAME', 'streamext_monitor_launcher_up'
	LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION streamext._monitor_batch_stats(), streamext._monitor_partition_lag(),
	streamext._monitor_launcher_up() FROM PUBLIC;

-- A label value as the exposition format wants it: \ " and newline escaped.
CREATE FUNCTION streamext._prom_label(value text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT replace(replace(replace(value, '\', '\\'), '"', '\"'), E'\n', '\n') $$;

-- SECURITY DEFINER: a pg_monitor member sees every role's sources and pipelines,
-- but only their names, counters and states: no broker addresses, options,
-- Kafka properties or error texts (those can quote rows of other roles).
CREATE FUNCTION streamext.metrics() RETURNS text
	LANGUAGE sql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
WITH fam(ord, name, type, help) AS (VALUES
	(1, 'streamext_launcher_up', 'gauge', '1 if the streamext launcher runs, else 0'),
	(2, 'streamext_launcher_workers', 'gauge', 'background workers of streamext running, by kind'),
	(10, 'streamext_source_messages_total', 'counter', 'Kafka messages committed by the source since the server started'),
	(11, 'streamext_source_rows_total', 'counter', 'rows written into the source''s target since the server started'),
	(12, 'streamext_source_bytes_total', 'counter', 'bytes of keys and payloads committed since the server started'),
	(13, 'streamext_source_dead_letters_total', 'counter', 'messages the source sent to streamext.dead_letters since the server started'),
	(14, 'streamext_source_batches_total', 'counter', 'batches the source committed since the server started'),
	(15, 'streamext_source_batch_duration_seconds', 'histogram', 'time to write and commit one batch of the source'),
	(16, 'streamext_source_lag_messages', 'gauge', 'messages in the partition not yet committed by the source (last measured)'),
	(17, 'streamext_source_state', 'gauge', '1 for the source''s current state (as in source_status), 0 for the others'),
	(18, 'streamext_source_workers', 'gauge', 'consumer workers of the source running'),
	(19, 'streamext_source_worker_restarts_total', 'counter', 'workers of the source the launcher restarted after a failure since the server started'),
	(30, 'streamext_pipeline_batches_total', 'counter', 'micro-batches the pipeline committed (pipeline_progress; reset_pipeline resets it)'),
	(31, 'streamext_pipeline_rows_in_total', 'counter', 'rows the pipeline read from its source'),
	(32, 'streamext_pipeline_rows_out_total', 'counter', 'rows the pipeline wrote into its target'),
	(33, 'streamext_pipeline_late_rows_total', 'counter', 'rows older than the watermark minus the allowed lateness'),
	(34, 'streamext_pipeline_duplicates_dropped_total', 'counter', 'rows dropped as duplicates'),
	(35, 'streamext_pipeline_expectation_failures_total', 'counter', 'rows that failed the expectation'),
	(36, 'streamext_pipeline_watermark_seconds', 'gauge', 'the pipeline''s watermark as a Unix timestamp'),
	(37, 'streamext_pipeline_lag_versions', 'gauge', 'versions of the versioned_columnar source not yet read'),
	(38, 'streamext_pipeline_batch_duration_seconds', 'histogram', 'time from the start of a micro-batch to its commit'),
	(39, 'streamext_pipeline_state', 'gauge', '1 for the pipeline''s current state, 0 for the others'),
	(40, 'streamext_pipeline_worker_restarts_total', 'counter', 'workers of the pipeline the launcher restarted after a failure since the server started'),
	(50, 'streamext_columnar_versions', 'gauge', 'newest committed version of the versioned_columnar table'),
	(51, 'streamext_columnar_segments', 'gauge', 'live segments (row groups) of the table'),
	(52, 'streamext_columnar_bytes', 'gauge', 'bytes the table occupies in its segment tables (all versions)'),
	(53, 'streamext_columnar_rows', 'gauge', 'rows of the newest version'),
	(54, 'streamext_columnar_last_optimize_seconds', 'gauge', 'commit time of the table''s newest OPTIMIZE version as a Unix timestamp (no sample: never optimized)'),
	(55, 'streamext_columnar_last_vacuum_seconds', 'gauge', 'commit time of the table''s newest VACUUM version (a vacuum that removed data) as a Unix timestamp (no sample: none)')
),
src AS (
	SELECT s.id, 'source="' || streamext._prom_label(s.name) || '"' AS lbl, st.state, st.workers
	FROM streamext.sources s JOIN streamext.source_status st ON st.source = s.name
),
pip AS (
	SELECT p.id, 'pipeline="' || streamext._prom_label(p.name) || '"' AS lbl, p.state, g.*,
		CASE WHEN g.version IS NOT NULL THEN
			GREATEST(streamext._pipeline_source_version(p.source) - g.version, 0) END AS lag
	FROM streamext.pipelines p LEFT JOIN streamext.pipeline_progress g ON g.pipeline_id = p.id
),
bs AS (SELECT * FROM streamext._monitor_batch_stats()),
col AS (
	SELECT c.oid, 'table="' || streamext._prom_label(c.oid::regclass::text) || '"' AS lbl, st.storage_id
	FROM pg_class c
	JOIN pg_am a ON a.oid = c.relam AND a.amname = 'versioned_columnar'
	JOIN streamext.columnar_storage st ON st.relnode = c.relfilenode
		AND st.spcnode = CASE WHEN c.reltablespace = 0
			THEN (SELECT d.dattablespace FROM pg_database d WHERE d.datname = current_database())
			ELSE c.reltablespace END
	WHERE c.relkind = 'r'
),
-- (family, object, order within the object, the sample line)
samples(family, obj, seq, line) AS (
	SELECT 'streamext_launcher_up', '', 0, 'streamext_launcher_up ' || streamext._monitor_launcher_up()::int
	UNION ALL
	SELECT 'streamext_launcher_workers', k.kind, 0, format('streamext_launcher_workers{kind="%s"} %s', k.kind,
		(SELECT count(*) FROM pg_stat_activity a WHERE a.backend_type = 'streamext ' || k.kind))
	FROM (VALUES ('launcher'), ('source'), ('pipeline')) k(kind)
	-- sources
	UNION ALL
	SELECT f.metric, src.lbl, 0, format('%s{%s} %s', f.metric, src.lbl, coalesce(f.value, 0))
	FROM src LEFT JOIN bs b ON b.kind = 'source' AND b.id = src.id,
	LATERAL (VALUES ('streamext_source_messages_total', b.messages),
		('streamext_source_rows_total', b.rows),
		('streamext_source_bytes_total', b.bytes),
		('streamext_source_dead_letters_total', b.dead_letters),
		('streamext_source_batches_total', b.batches),
		('streamext_source_worker_restarts_total', b.restarts),
		('streamext_source_workers', src.workers::bigint)) f(metric, value)
	UNION ALL
	SELECT 'streamext_source_state', src.lbl || s.state, 0,
		format('streamext_source_state{%s,state="%s"} %s', src.lbl, s.state, (src.state = s.state)::int)
	FROM src, (VALUES ('running'), ('starting'), ('no_workers'), ('disconnected'), ('degraded'),
		('paused'), ('error')) s(state)
	UNION ALL
	SELECT 'streamext_source_lag_messages', src.lbl || lpad(l.partition::text, 10, '0'), 0,
		format('streamext_source_lag_messages{%s,partition="%s"} %s', src.lbl, l.partition, l.lag)
	FROM src JOIN streamext._monitor_partition_lag() l ON l.source_id = src.id
	-- pipelines
	UNION ALL
	SELECT f.metric, pip.lbl, 0, format('%s{%s} %s', f.metric, pip.lbl, f.value)
	FROM pip LEFT JOIN bs b ON b.kind = 'pipeline' AND b.id = pip.id,
	LATERAL (VALUES ('streamext_pipeline_batches_total', coalesce(pip.batches, 0)::numeric),
		('streamext_pipeline_rows_in_total', coalesce(pip.rows_in, 0)),
		('streamext_pipeline_rows_out_total', coalesce(pip.rows_out, 0)),
		('streamext_pipeline_late_rows_total', coalesce(pip.late_rows, 0)),
		('streamext_pipeline_duplicates_dropped_total', coalesce(pip.duplicates_dropped, 0)),
		('streamext_pipeline_worker_restarts_total', coalesce(b.restarts, 0)),
		('streamext_pipeline_watermark_seconds', extract(epoch FROM pip.watermark)),
		('streamext_pipeline_lag_versions', pip.lag)) f(metric, value)
	WHERE f.value IS NOT NULL
	UNION ALL
	SELECT 'streamext_pipeline_expectation_failures_total', pip.lbl || e.key, 0,
		format('streamext_pipeline_expectation_failures_total{%s,expectation="%s"} %s',
			pip.lbl, streamext._prom_label(e.key), e.value)
	FROM pip, jsonb_each_text(coalesce(pip.expectation_counts, '{}')) e
	UNION ALL
	SELECT 'streamext_pipeline_state', pip.lbl || s.state, 0,
		format('streamext_pipeline_state{%s,state="%s"} %s', pip.lbl, s.state, (pip.state = s.state)::int)
	FROM pip, (VALUES ('running'), ('paused'), ('error'), ('finished')) s(state)
	-- the histograms: cumulative buckets, then +Inf, _sum and _count
	UNION ALL
	SELECT h.family, o.lbl, h.seq, format('%s%s{%s%s} %s', h.family, h.suffix, o.lbl, h.le, h.value)
	FROM (SELECT src.lbl, b.* FROM src JOIN bs b ON b.kind = 'source' AND b.id = src.id
		UNION ALL
		SELECT pip.lbl, b.* FROM pip JOIN bs b ON b.kind = 'pipeline' AND b.id = pip.id) o,
	LATERAL (
		SELECT 'streamext_' || o.kind || '_batch_duration_seconds' AS family, '_bucket' AS suffix,
			format(',le="%s"', o.bounds[i]) AS le, o.buckets[i]::text AS value, i AS seq
		FROM generate_subscripts(o.bounds, 1) i
		UNION ALL SELECT 'streamext_' || o.kind || '_batch_duration_seconds', '_bucket', ',le="+Inf"', o.batches::text, 1000
		UNION ALL SELECT 'streamext_' || o.kind || '_batch_duration_seconds', '_sum', '', o.seconds_sum::text, 1001
		UNION ALL SELECT 'streamext_' || o.kind || '_batch_duration_seconds', '_count', '', o.batches::text, 1002) h
	-- versioned_columnar tables
	UNION ALL
	SELECT f.metric, col.lbl, 0, format('%s{%s} %s', f.metric, col.lbl, f.value)
	FROM col,
	LATERAL (VALUES
		('streamext_columnar_versions', (SELECT coalesce(max(v.version), 0) FROM streamext.columnar_version v WHERE v.storage_id = col.storage_id)),
		('streamext_columnar_segments', (SELECT count(*) FROM streamext.columnar_segment g WHERE g.storage_id = col.storage_id AND g.removed_version IS NULL)),
		('streamext_columnar_bytes', streamext.columnar_size(col.oid)),
		('streamext_columnar_rows', (SELECT coalesce(sum(v.rows_added - v.rows_removed), 0) FROM streamext.columnar_version v WHERE v.storage_id = col.storage_id)),
		('streamext_columnar_last_optimize_seconds', (SELECT extract(epoch FROM max(v.committed_at)) FROM streamext.columnar_version v WHERE v.storage_id = col.storage_id AND v.operation = 'OPTIMIZE')),
		('streamext_columnar_last_vacuum_seconds', (SELECT extract(epoch FROM max(v.committed_at)) FROM streamext.columnar_version v WHERE v.storage_id = col.storage_id AND v.operation = 'VACUUM'))) f(metric, value)
	WHERE f.value IS NOT NULL
)
SELECT string_agg(block, '' ORDER BY ord)
FROM (
	SELECT f.ord, format(E'# HELP %s %s\n# TYPE %s %s\n', f.name, f.help, f.name, f.type)
		|| coalesce(string_agg(s.line || E'\n', '' ORDER BY s.obj, s.seq), '') AS block
	FROM fam f LEFT JOIN samples s ON s.family = f.name
	GROUP BY f.ord, f.name, f.type, f.help
) blocks
$$;
COMMENT ON FUNCTION streamext.metrics() IS 'streamext''s metrics in the Prometheus text exposition format (sources, pipelines, versioned_columnar tables, launcher); for pg_monitor members';
REVOKE ALL ON FUNCTION streamext.metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION streamext.metrics() TO pg_monitor;

-- State changes made by SQL (pause_*, resume_*) go to the server log at LOG in the
-- format of the workers' lines (log.c); the workers log started, error, recovered
-- and the rest themselves.  A deferred trigger: logged when the change commits.
CREATE FUNCTION streamext._monitor_log_state_change() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF NEW.state = 'paused' OR (NEW.state = 'running' AND OLD.state <> 'running') THEN
		RAISE LOG '%="%" state=%', TG_ARGV[0],
			replace(replace(replace(NEW.name, '\', '\\'), '"', '\"'), E'\n', '\n'),
			CASE NEW.state WHEN 'paused' THEN 'paused' ELSE 'resumed' END;
	END IF;
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER monitor_state_log AFTER UPDATE OF state ON streamext.sources
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
	EXECUTE FUNCTION streamext._monitor_log_state_change('source');
CREATE CONSTRAINT TRIGGER monitor_state_log AFTER UPDATE OF state ON streamext.pipelines
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
	EXECUTE FUNCTION streamext._monitor_log_state_change('pipeline');
