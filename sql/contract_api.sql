-- The names of DESIGN.md's "Pipelines", "Gold tables" and "Monitoring" parts, as users,
-- docs and tests call them: every function's arguments (names, types, defaults) and result,
-- and the columns of the tables and views in DESIGN.md's order (extra columns may follow).
-- Reads the catalogs only (its helper is a temporary function), so it needs no cleanup.
SELECT p.proname, pg_catalog.pg_get_function_arguments(p.oid) AS arguments,
	pg_catalog.pg_get_function_result(p.oid) AS result
FROM pg_catalog.pg_proc p
WHERE p.pronamespace = 'streamext'::regnamespace
	AND p.proname IN ('create_pipeline', 'alter_pipeline', 'drop_pipeline', 'pause_pipeline',
		'resume_pipeline', 'reset_pipeline', 'run_pipeline', 'history', 'as_of', 'restore',
		'changes', 'optimize', 'vacuum', 'verify', 'metrics')
ORDER BY 1, 2;

-- columns: the first ones are DESIGN.md's, in its order
CREATE FUNCTION pg_temp.design_columns(rel regclass, design text[]) RETURNS text
LANGUAGE sql AS $$
	SELECT CASE WHEN cols[1:cardinality(design)] = design THEN 'as DESIGN.md'
		ELSE 'differs: ' || array_to_string(cols, ', ') END
	FROM (SELECT array_agg(attname::text ORDER BY attnum) AS cols
		  FROM pg_catalog.pg_attribute WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped) c
$$;
SELECT 'pipeline_status' AS relation, pg_temp.design_columns('streamext.pipeline_status',
	'{pipeline,state,batches,rows_in,rows_out,late_rows,duplicates_dropped,expectation_failures,watermark,lag,last_batch_at,last_error}')
UNION ALL
SELECT 'pipeline_batches', pg_temp.design_columns('streamext.pipeline_batches',
	'{pipeline,batch,started_at,committed_at,rows_in,rows_out,late_rows,duplicates_dropped,watermark,expectations}')
UNION ALL
SELECT 'maintenance_progress', pg_temp.design_columns('streamext.maintenance_progress',
	'{pid,relid,operation,phase,segments_total,segments_done,rows_done,started_at}')
UNION ALL
SELECT 'pipelines', CASE WHEN to_regclass('streamext.pipelines') IS NOT NULL THEN 'exists' END;

-- types of the columns users read
SELECT attrelid::regclass AS relation, attname, format_type(atttypid, atttypmod) AS type
FROM pg_catalog.pg_attribute
WHERE attrelid IN ('streamext.pipeline_status'::regclass, 'streamext.pipeline_batches'::regclass,
	'streamext.maintenance_progress'::regclass)
	AND attnum > 0 AND NOT attisdropped
ORDER BY attrelid::regclass::text, attnum;

-- the retention check (a user setting) and its default
SELECT name, setting, context FROM pg_catalog.pg_settings WHERE name = 'streamext.vacuum_retention_check';
