-- src/pipeline/pipeline.sql: continuous pipelines — the catalog (pipelines, their
-- progress, the event log of batches), its privilege rules, the status view, the
-- functions users call (create/alter/drop/pause/resume/reset/run_pipeline; C in
-- src/pipeline/ddl.c and run.c) and the guard against dropping a table a
-- pipeline uses.
--
-- As in src/ingest/ingest.sql: every SQL function runs with search_path =
-- pg_catalog, pg_temp; privileges are enforced where the rows change — the
-- catalog tables are writable by everyone, protected by row-level security (a
-- role sees and changes only the pipelines it owns, or whose owner it is a
-- member of; superusers all) and by a validation trigger that runs as the
-- calling role.  The workers and run_pipeline run as the pipeline's owner, so
-- they can record progress without extra rights.

CREATE TABLE streamext.pipelines (
	id bigserial UNIQUE,
	-- 63 bytes: the workers use the name as application_name
	name text PRIMARY KEY CHECK (length(name) >= 1 AND octet_length(name) <= 63),
	owner regrole NOT NULL DEFAULT current_user::regrole,
	source regclass NOT NULL,
	target regclass NOT NULL,
	query text,                     -- NULL: SELECT * FROM batch
	options jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
	search_path text NOT NULL,      -- the creator's search_path: the query and checks run with it
	state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'paused', 'error', 'finished')),
	last_error text,
	generation integer NOT NULL DEFAULT 1,  -- bumped by alter/reset/resume: workers restart
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CHECK (source <> target)
);
COMMENT ON TABLE streamext.pipelines IS 'continuous pipelines: one row per streamext.create_pipeline; each role sees only its own';

-- One row per pipeline, rewritten by every batch in the batch's transaction.
CREATE TABLE streamext.pipeline_progress (
	pipeline_id bigint PRIMARY KEY REFERENCES streamext.pipelines (id) ON DELETE CASCADE,
	snapshot pg_snapshot,           -- heap source: rows whose _streamext_xid is visible in it are done
	version bigint,                 -- versioned_columnar source: last version read (0 = none)
	version_committed_at timestamptz,  -- and its commit time: tells a rewritten history (source_columnar.c)
	watermark timestamptz,          -- NULL until the first event
	max_event_time timestamptz,
	dedup_floor timestamptz,        -- the dedup state holds no key whose first_event_time <= it (dedup.c)
	batches bigint NOT NULL DEFAULT 0,
	rows_in bigint NOT NULL DEFAULT 0,
	rows_out bigint NOT NULL DEFAULT 0,
	late_rows bigint NOT NULL DEFAULT 0,
	duplicates_dropped bigint NOT NULL DEFAULT 0,
	expectation_failures bigint NOT NULL DEFAULT 0,
	expectation_counts jsonb NOT NULL DEFAULT '{}',  -- {"name": failures so far}
	last_batch_at timestamptz
);
COMMENT ON TABLE streamext.pipeline_progress IS 'per pipeline: how far it has read its source (snapshot or version), its watermark and counters; committed with each batch';

-- The event log: the last streamext.pipeline_batches_keep batches per pipeline.
-- The columns DESIGN.md names come first, in its order; pipeline_id (the key,
-- as names may be reused after a drop) last.
CREATE TABLE streamext.pipeline_batches (
	pipeline text NOT NULL,
	batch bigint NOT NULL,
	started_at timestamptz NOT NULL,
	committed_at timestamptz NOT NULL,
	rows_in bigint,
	rows_out bigint,
	late_rows bigint,
	duplicates_dropped bigint,
	watermark timestamptz,
	expectations jsonb,             -- {"valid_temp": {"failed": 3, "action": "drop"}}
	pipeline_id bigint NOT NULL REFERENCES streamext.pipelines (id) ON DELETE CASCADE,
	PRIMARY KEY (pipeline_id, batch)
);
COMMENT ON TABLE streamext.pipeline_batches IS 'one row per committed micro-batch (the last streamext.pipeline_batches_keep per pipeline)';

-- pg_dump keeps the definitions (and the id sequence: the state tables are
-- named by id), not pipeline_progress or pipeline_batches: a progress
-- snapshot holds this cluster's transaction ids and a versioned source's
-- versions start again at a restore, so neither would mean the same rows
-- there.  A restored pipeline has no progress; its batches say so, and
-- reset_pipeline rebuilds its target from the whole source (docs/pipelines.md).
SELECT pg_catalog.pg_extension_config_dump('streamext.pipelines', '');
SELECT pg_catalog.pg_extension_config_dump('streamext.pipelines_id_seq', '');

-- Row-level security: a role works with the pipelines it owns (or is a member
-- of the owner role); superusers and the extension owner see everything.
ALTER TABLE streamext.pipelines ENABLE ROW LEVEL SECURITY;
CREATE POLICY pipeline_owner ON streamext.pipelines
	USING (pg_has_role(current_user, owner, 'MEMBER'));
ALTER TABLE streamext.pipeline_progress ENABLE ROW LEVEL SECURITY;
CREATE POLICY pipeline_owner ON streamext.pipeline_progress
	USING (EXISTS (SELECT 1 FROM streamext.pipelines p WHERE p.id = pipeline_id));
ALTER TABLE streamext.pipeline_batches ENABLE ROW LEVEL SECURITY;
CREATE POLICY pipeline_owner ON streamext.pipeline_batches
	USING (EXISTS (SELECT 1 FROM streamext.pipelines p WHERE p.id = pipeline_id AND p.name = pipeline));

-- id, created_at and updated_at are the extension's; name, source and target
-- never change (the progress is about that source).
GRANT SELECT, DELETE ON streamext.pipelines TO PUBLIC;
GRANT INSERT (name, owner, source, target, query, options, search_path, state),
	UPDATE (owner, query, options, search_path, state, last_error, generation)
	ON streamext.pipelines TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON streamext.pipeline_progress, streamext.pipeline_batches TO PUBLIC;
GRANT USAGE ON SEQUENCE streamext.pipelines_id_seq TO PUBLIC;

-- Options, columns, checks (one boolean expression each), the query, window
-- and mode against the source and target, as the batches will use them
-- (catalog.c, emit.c).  search_path: the pipeline's, for the names in the
-- query and checks.  Plans, never runs, what it checks.
CREATE FUNCTION streamext._check_pipeline(name text, source regclass, target regclass, query text,
										  options jsonb, search_path text)
	RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_check_pipeline'
	LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SET search_path = pg_catalog, pg_temp;

-- The newest version of a versioned_columnar table the caller may read (NULL
-- for other tables, or without SELECT on it): the lag of pipeline_status.
CREATE FUNCTION streamext._pipeline_source_version(source regclass) RETURNS bigint
	AS 'MODULE_PATHNAME', 'streamext_pipeline_source_version'
	LANGUAGE C STRICT STABLE
	SET search_path = pg_catalog, pg_temp;

-- Is the name taken by a pipeline of any role?  Names are public (they are the
-- workers' application_name); SECURITY DEFINER to see past row-level security,
-- so it answers only this question.
CREATE FUNCTION streamext._pipeline_name_taken(pipeline_name text) RETURNS boolean
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT EXISTS (SELECT 1 FROM streamext.pipelines p WHERE p.name = pipeline_name) $$;

-- Runs as the role changing streamext.pipelines: the privilege rules live here.
CREATE FUNCTION streamext._pipelines_check() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	su boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
	-- a restore of pg_dump's output (which sets check_function_bodies off, as
	-- for function bodies) by a superuser: the grants and the indexes that the
	-- checks below look at are restored after the rows, so they are left to
	-- the batches, which parse the definition again and run as the owner
	restoring boolean := TG_OP = 'INSERT' AND su
		AND pg_catalog.current_setting('check_function_bodies') = 'off';
	update_mode boolean := NEW.options ->> 'mode' = 'update';
	t regclass;
	priv text;
BEGIN
	IF TG_OP = 'INSERT' THEN
		IF NEW.owner::oid <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user) AND NOT su THEN
			RAISE EXCEPTION 'only superusers may create a pipeline owned by another role'
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		NEW.created_at := now();
		NEW.generation := 1;
	ELSE
		IF NEW.owner <> OLD.owner AND NOT su THEN
			RAISE EXCEPTION 'only superusers may change the owner of pipeline "%"', OLD.name
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		IF (NEW.id, NEW.name, NEW.source, NEW.target) IS DISTINCT FROM (OLD.id, OLD.name, OLD.source, OLD.target) THEN
			RAISE EXCEPTION 'the name, source and target of pipeline "%" cannot change', OLD.name
				USING ERRCODE = 'feature_not_supported',
					HINT = 'Drop the pipeline and create it again.';
		END IF;
		IF NEW.generation < OLD.generation THEN
			RAISE EXCEPTION 'the generation of pipeline "%" only grows', OLD.name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		-- workers restart when what they run changes, or on resume
		IF NEW.generation = OLD.generation AND
			((NEW.query, NEW.options, NEW.owner, NEW.search_path)
				IS DISTINCT FROM (OLD.query, OLD.options, OLD.owner, OLD.search_path)
			 OR (NEW.state = 'running' AND OLD.state <> 'running')) THEN
			NEW.generation := OLD.generation + 1;
		END IF;
	END IF;
	IF NEW.source::oid = NEW.target::oid THEN
		RAISE EXCEPTION 'pipeline "%" cannot write into the table it reads', NEW.name
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Give the pipeline another target table.';
	END IF;
	-- superusers too: a background worker cannot connect as a NOLOGIN role
	IF (TG_OP = 'INSERT' OR NEW.owner <> OLD.owner)
		AND NOT coalesce((SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE oid = NEW.owner::oid), false) THEN
		RAISE EXCEPTION 'the owner of a pipeline must be a role that can log in, and % cannot', NEW.owner
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'The pipeline''s worker connects as its owner; use a LOGIN role.';
	END IF;
	IF NOT restoring AND (TG_OP = 'INSERT' OR (NEW.owner, NEW.query, NEW.options, NEW.search_path)
		IS DISTINCT FROM (OLD.owner, OLD.query, OLD.options, OLD.search_path)) THEN
		-- the bare names: with this function's search_path a regclass would print schema-qualified
		IF NOT pg_catalog.has_table_privilege(NEW.owner::oid, NEW.source::oid, 'SELECT') THEN
			RAISE EXCEPTION 'permission denied for table %',
				(SELECT pg_catalog.quote_ident(c.relname) FROM pg_catalog.pg_class c WHERE c.oid = NEW.source::oid)
				USING ERRCODE = 'insufficient_privilege',
					DETAIL = pg_catalog.format('The owner of pipeline "%s" (%s) needs SELECT on its source table.', NEW.name, NEW.owner);
		END IF;
		FOREACH priv IN ARRAY CASE WHEN update_mode THEN ARRAY['INSERT', 'UPDATE', 'DELETE'] ELSE ARRAY['INSERT'] END LOOP
			IF NOT pg_catalog.has_table_privilege(NEW.owner::oid, NEW.target::oid, priv) THEN
				RAISE EXCEPTION 'permission denied for table %',
					(SELECT pg_catalog.quote_ident(c.relname) FROM pg_catalog.pg_class c WHERE c.oid = NEW.target::oid)
					USING ERRCODE = 'insufficient_privilege',
						DETAIL = pg_catalog.format('The owner of pipeline "%s" (%s) needs %s on its target table%s.',
							NEW.name, NEW.owner, CASE WHEN update_mode THEN 'INSERT, UPDATE and DELETE' ELSE 'INSERT' END,
							CASE WHEN update_mode THEN ' in update mode' ELSE '' END);
			END IF;
		END LOOP;
		-- the tables of late and quarantined rows (create_pipeline makes them when missing)
		FOREACH priv IN ARRAY ARRAY['late_rows', 'quarantine'] LOOP
			CONTINUE WHEN jsonb_typeof(NEW.options -> priv) IS DISTINCT FROM 'string';
			t := pg_catalog.to_regclass(NEW.options ->> priv);
			IF t IS NULL THEN
				RAISE EXCEPTION 'the % table "%" of pipeline "%" does not exist', priv, NEW.options ->> priv, NEW.name
					USING ERRCODE = 'undefined_table',
						HINT = 'create_pipeline and alter_pipeline create it.';
			END IF;
			IF NOT pg_catalog.has_table_privilege(NEW.owner::oid, t::oid, 'INSERT') THEN
				RAISE EXCEPTION 'permission denied for table %',
					(SELECT pg_catalog.quote_ident(c.relname) FROM pg_catalog.pg_class c WHERE c.oid = t::oid)
					USING ERRCODE = 'insufficient_privilege',
						DETAIL = pg_catalog.format('The owner of pipeline "%s" (%s) needs INSERT on its %s table.', NEW.name, NEW.owner, priv);
			END IF;
		END LOOP;
		PERFORM streamext._check_pipeline(NEW.name, NEW.source, NEW.target, NEW.query, NEW.options, NEW.search_path);
	END IF;
	IF NEW.state = 'running' AND (TG_OP = 'INSERT' OR OLD.state <> 'running') THEN
		NEW.last_error := NULL;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END
$$;
CREATE TRIGGER pipelines_check BEFORE INSERT OR UPDATE ON streamext.pipelines
	FOR EACH ROW EXECUTE FUNCTION streamext._pipelines_check();

-- Which running pipelines get one of the streamext.max_pipeline_workers workers:
-- those with turn <= streamext.max_pipeline_workers.  Fair among owners: every
-- owner's first running pipeline (by id) comes before any owner's second, and so
-- on, so no role can take every worker by creating many pipelines.  The launcher
-- (launch.c) starts and stops workers by this order and pipeline_status explains
-- it.  SECURITY DEFINER to see past row-level security; it gives away only ids
-- and how many pipelines run.
CREATE FUNCTION streamext._pipeline_schedule(OUT pipeline_id bigint, OUT turn bigint)
	RETURNS SETOF record
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT x.id, row_number() OVER (ORDER BY x.owner_turn, x.id)
	FROM (SELECT p.id, row_number() OVER (PARTITION BY p.owner ORDER BY p.id) AS owner_turn
		  FROM streamext.pipelines p
		  WHERE p.state = 'running'
			AND coalesce(p.options ->> 'trigger', '') <> 'manual') x
$$;

-- Why no pipeline of this database gets a worker (not preloaded, another
-- streamext.database, no launcher), or NULL; and streamext.max_pipeline_workers.
CREATE FUNCTION streamext._pipeline_problem(OUT problem text, OUT max_workers integer)
	AS 'MODULE_PATHNAME', 'streamext_pipeline_problem'
	LANGUAGE C STABLE PARALLEL RESTRICTED;

-- security_invoker: the row-level security of the catalog applies to the role
-- querying, so each role sees its own pipelines (superusers all).
-- hint: why a running pipeline that needs a worker has none (state stays the
-- catalog's: run_pipeline still runs it).
-- lag: versions of a versioned_columnar source not read yet; NULL for a heap
-- source (counting its unread rows would cost a scan of them).
CREATE VIEW streamext.pipeline_status WITH (security_invoker = true) AS
SELECT p.name AS pipeline,
	p.state,
	coalesce(g.batches, 0) AS batches,
	coalesce(g.rows_in, 0) AS rows_in,
	coalesce(g.rows_out, 0) AS rows_out,
	coalesce(g.late_rows, 0) AS late_rows,
	coalesce(g.duplicates_dropped, 0) AS duplicates_dropped,
	coalesce(g.expectation_failures, 0) AS expectation_failures,
	g.watermark,
	CASE WHEN g.version IS NOT NULL THEN
		GREATEST(streamext._pipeline_source_version(p.source) - g.version, 0) END AS lag,
	g.last_batch_at,
	p.last_error,
	p.source,
	p.target,
	p.generation,
	g.max_event_time,
	coalesce(g.expectation_counts, '{}') AS expectation_counts,
	p.updated_at,
	CASE WHEN p.state <> 'running' OR coalesce(p.options ->> 'trigger', '') = 'manual' THEN NULL
		WHEN pr.problem IS NOT NULL THEN pr.problem
		WHEN sc.turn > pr.max_workers THEN pg_catalog.format(
			'no worker: all %s streamext.max_pipeline_workers are taken by other pipelines (every owner''s first running pipeline gets one before any owner''s second, and so on); raise streamext.max_pipeline_workers (and max_worker_processes), or pause a pipeline',
			pr.max_workers)
		END AS hint
FROM streamext.pipelines p
LEFT JOIN streamext.pipeline_progress g ON g.pipeline_id = p.id
CROSS JOIN streamext._pipeline_problem() pr
LEFT JOIN streamext._pipeline_schedule() sc ON sc.pipeline_id = p.id;
COMMENT ON VIEW streamext.pipeline_status IS 'one row per pipeline of the querying role: state, counters, watermark, lag (versions behind, versioned_columnar sources), last batch, last error, why it has no worker';
GRANT SELECT ON streamext.pipeline_status TO PUBLIC;

-- create_pipeline reads the caller's search_path (the pipeline keeps it, its
-- query and checks run with it), so it has no SET clause: ddl.c pins
-- search_path = pg_catalog, pg_temp itself right after reading it.
CREATE FUNCTION streamext.create_pipeline(name text, source regclass, target regclass,
										  query text DEFAULT NULL, options jsonb DEFAULT '{}')
	RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_create_pipeline'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION streamext.create_pipeline(text, regclass, regclass, text, jsonb)
	IS 'start a continuous pipeline: the rows inserted into source, through query, into target, exactly once';

CREATE FUNCTION streamext.alter_pipeline(name text, options jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_alter_pipeline'
	LANGUAGE C VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION streamext.alter_pipeline(text, jsonb)
	IS 'change a pipeline''s options (merged into the current ones; null removes one); its worker restarts';

CREATE FUNCTION streamext.drop_pipeline(name text) RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_drop_pipeline'
	LANGUAGE C VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION streamext.drop_pipeline(text)
	IS 'stop a pipeline and forget it, its progress and state (the target, late-rows and quarantine tables stay)';

CREATE FUNCTION streamext.pause_pipeline(name text) RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_pause_pipeline'
	LANGUAGE C VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION streamext.pause_pipeline(text) IS 'stop a pipeline''s worker; resume_pipeline continues where it stopped';

CREATE FUNCTION streamext.resume_pipeline(name text) RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_resume_pipeline'
	LANGUAGE C VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION streamext.resume_pipeline(text) IS 'restart a paused or finished pipeline, or one in the error state';

CREATE FUNCTION streamext.reset_pipeline(name text) RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_reset_pipeline'
	LANGUAGE C VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION streamext.reset_pipeline(text)
	IS 'Kappa backfill: empty the target (a versioned target keeps its history), clear progress and state, read the whole source again';

-- C in run.c; it runs the query with the pipeline's own search_path.
CREATE FUNCTION streamext.run_pipeline(name text, max_batches int DEFAULT NULL) RETURNS bigint
	AS 'MODULE_PATHNAME', 'streamext_run_pipeline'
	LANGUAGE C VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION streamext.run_pipeline(text, int)
	IS 'run micro-batches of a pipeline now, in this session, until caught up (or max_batches); returns the rows read';

-- A table a pipeline reads or writes cannot be dropped while the pipeline
-- exists: the DROP is refused naming the pipeline (as PostgreSQL refuses to
-- drop a table a view uses), instead of leaving a pipeline whose source or
-- target is a dangling oid.  Partitions of a source may be dropped (that is
-- retention).  It runs as the role dropping, so row-level security limits it
-- to that role's own pipelines (a superuser's: all): a role with SELECT (or
-- INSERT) on another role's table must not be able to keep its owner from
-- dropping it by pointing a pipeline at it; that pipeline's next batch then
-- fails naming the missing table, and its state becomes 'error'.
CREATE FUNCTION streamext._pipeline_drop_guard() RETURNS event_trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	r record;
BEGIN
	IF pg_catalog.to_regclass('streamext.pipelines') IS NULL THEN
		RETURN;                 -- DROP EXTENSION
	END IF;
	SELECT p.name, d.object_identity,
		CASE WHEN p.source::oid = d.objid THEN 'source' WHEN p.target::oid = d.objid THEN 'target'
			WHEN d.object_identity = p.options ->> 'late_rows' THEN 'late_rows table'
			ELSE 'quarantine table' END AS role
		INTO r
		FROM pg_catalog.pg_event_trigger_dropped_objects() d
		-- late_rows and quarantine hold the name as object_identity spells it (ddl.c)
		JOIN streamext.pipelines p ON d.objid IN (p.source::oid, p.target::oid)
			OR d.object_identity IN (p.options ->> 'late_rows', p.options ->> 'quarantine')
		WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0
			AND d.object_type IN ('table', 'view', 'materialized view', 'foreign table')
		ORDER BY p.name, d.object_identity
		LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot drop table % because pipeline "%" uses it as its %', r.object_identity, r.name, r.role
			USING ERRCODE = 'dependent_objects_still_exist',
				HINT = pg_catalog.format('Drop the pipeline first: SELECT streamext.drop_pipeline(%L);', r.name);
	END IF;
END
$$;
CREATE EVENT TRIGGER streamext_pipeline_drop_guard ON sql_drop
	EXECUTE FUNCTION streamext._pipeline_drop_guard();
