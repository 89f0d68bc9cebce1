-- CREATE / DROP EXTENSION: the schema and everything in it come and go together.
SELECT extname, extversion FROM pg_extension WHERE extname = 'streamext';
SELECT nspname FROM pg_namespace WHERE nspname = 'streamext';
SELECT streamext.version() = extversion AS library_matches_script
  FROM pg_extension WHERE extname = 'streamext';
SELECT streamext.workers_enabled();

-- every object of the extension lives in schema streamext
SELECT count(*) AS objects_outside_schema
  FROM pg_depend d
  JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'streamext')
   AND p.pronamespace <> 'streamext'::regnamespace;

DROP EXTENSION streamext;
SELECT count(*) AS extension_rows FROM pg_extension WHERE extname = 'streamext';
SELECT count(*) AS schema_rows FROM pg_namespace WHERE nspname = 'streamext';
SELECT count(*) AS leftover_functions FROM pg_proc WHERE proname = 'workers_enabled';

-- a second round trip works as well: nothing was left behind that blocks it
CREATE EXTENSION streamext;
SELECT nspname FROM pg_namespace WHERE nspname = 'streamext';
DROP EXTENSION streamext;
CREATE EXTENSION streamext;
SELECT streamext.version() IS NOT NULL AS loaded;
