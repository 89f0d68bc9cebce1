-- streamext.sql: the schema every component lives in, and module-level functions.
-- The Makefile puts this file first in streamext--<version>.sql, then each
-- component's src/<component>/*.sql in dependency order.

\echo Use "CREATE EXTENSION streamext" to load this file. \quit

CREATE SCHEMA streamext;
COMMENT ON SCHEMA streamext IS 'streamext: Kafka sources, event-time functions, pipelines, versioned gold tables';
GRANT USAGE ON SCHEMA streamext TO PUBLIC;

CREATE FUNCTION streamext.version() RETURNS text
	AS 'MODULE_PATHNAME', 'streamext_version'
	LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION streamext.version() IS 'version of the loaded streamext library';

CREATE FUNCTION streamext.workers_enabled() RETURNS boolean
	AS 'MODULE_PATHNAME', 'streamext_workers_enabled'
	LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION streamext.workers_enabled() IS 'true when streamext is in shared_preload_libraries, so its background workers can run';

-- Installing without the preload works (functions, gold tables), but nothing
-- streams until the server loads the library at start; say so now.
DO $check$
BEGIN
	IF NOT streamext.workers_enabled() THEN
		RAISE WARNING 'streamext is not in shared_preload_libraries: sources and pipelines will not run'
			USING HINT = 'Add ''streamext'' to shared_preload_libraries in postgresql.conf and restart the server.';
	END IF;
END
$check$;
