-- src/ingest/ingest.sql: Kafka sources — catalog tables, their privilege rules, the
-- functions users call (create/alter/drop/pause/resume_source) and the status view.
--
-- Every SQL function here runs with search_path = pg_catalog, pg_temp: they are
-- called by (and the trigger fires for) superusers too, and must not resolve an
-- operator or function planted in a schema of the caller's search_path.
--
-- Privileges are enforced where the rows change, not in the functions: the catalog
-- tables are writable by everyone but protected by row-level security (a role sees
-- and changes only the sources it owns) and by a validation trigger that runs as the
-- calling role (INSERT on the target, superuser-only kafka properties).  So the
-- functions and direct DML obey the same rules, and the consumer workers, which run
-- as the source's owner, can record offsets and dead letters without extra rights.

CREATE TABLE streamext.sources (
	id bigserial UNIQUE,
	-- 63 bytes: the workers use the name as application_name and in shared memory
	name text PRIMARY KEY CHECK (length(name) >= 1 AND octet_length(name) <= 63),
	owner regrole NOT NULL DEFAULT current_user::regrole,
	brokers text NOT NULL CHECK (brokers <> ''),
	topic text NOT NULL CHECK (topic <> ''),
	target regclass NOT NULL,
	format text NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'csv', 'text', 'bytes')),
	options jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
	state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'paused', 'error')),
	last_error text,
	generation integer NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE streamext.sources IS 'Kafka sources: one row per streamext.create_source; each role sees only its own sources';

-- No foreign key to streamext.sources: pg_restore -j loads the two tables'
-- data in parallel (it does not order an extension's configuration tables by
-- their foreign keys), and a key check made the offsets' COPY fail whenever it
-- ran before the sources' had committed.  Renaming or dropping a source
-- carries over to its offsets by the triggers below; the workers store
-- offsets only while holding a key-share lock on their source's row.
CREATE TABLE streamext.source_offsets (
	source text NOT NULL,
	topic text NOT NULL,
	partition integer NOT NULL,
	next_offset bigint NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source, topic, partition)
);
COMMENT ON TABLE streamext.source_offsets IS 'per source and Kafka partition, the offset of the next message to ingest; committed with the rows';

-- pg_dump keeps the sources and their offsets: the offsets are Kafka's, not
-- this cluster's, and a dump holds them consistent with the rows of the
-- targets (one snapshot), so a restored source goes on after the last message
-- it committed.  Dead letters are not configuration; they are not kept.
SELECT pg_catalog.pg_extension_config_dump('streamext.sources', '');
SELECT pg_catalog.pg_extension_config_dump('streamext.sources_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('streamext.source_offsets', '');

CREATE TABLE streamext.dead_letters (
	id bigserial PRIMARY KEY,
	source text NOT NULL,
	topic text,
	partition integer,
	"offset" bigint,
	key bytea,
	payload bytea,
	error text NOT NULL,
	failed_at timestamptz NOT NULL DEFAULT now(),
	-- the source's immutable id and its owner when the message failed, filled in
	-- by a trigger: who may read a dead letter depends on these, never on the
	-- name (names are free to take again, and a source can be renamed)
	source_id bigint NOT NULL,
	owner regrole NOT NULL
);
CREATE INDEX ON streamext.dead_letters (source_id, failed_at);
COMMENT ON TABLE streamext.dead_letters IS 'messages that could not become a row of their source''s target, with the error';

-- Runs as the role inserting (the worker runs as the source's owner): under
-- the row-level security of streamext.sources, the name finds only a source
-- of the caller's; its id and owner are recorded.
CREATE FUNCTION streamext._dead_letters_fill() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	SELECT s.id, s.owner INTO NEW.source_id, NEW.owner FROM streamext.sources s WHERE s.name = NEW.source;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist', NEW.source
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER dead_letters_fill BEFORE INSERT ON streamext.dead_letters
	FOR EACH ROW EXECUTE FUNCTION streamext._dead_letters_fill();

-- Row-level security: a role works with the sources it owns (or is a member of
-- the owner role); superusers and the extension owner see everything.
ALTER TABLE streamext.sources ENABLE ROW LEVEL SECURITY;
CREATE POLICY source_owner ON streamext.sources
	USING (pg_has_role(current_user, owner, 'MEMBER'));
ALTER TABLE streamext.source_offsets ENABLE ROW LEVEL SECURITY;
CREATE POLICY source_owner ON streamext.source_offsets
	USING (EXISTS (SELECT 1 FROM streamext.sources s WHERE s.name = source));
-- Dead letters stay when their source is dropped (superusers can still read
-- them).  A role sees those of the sources it has now, by the source's id and
-- owner: a rename, a new source of an old name, or a transaction that started
-- before a drop grants nothing.
ALTER TABLE streamext.dead_letters ENABLE ROW LEVEL SECURITY;
CREATE POLICY source_owner_insert ON streamext.dead_letters FOR INSERT
	WITH CHECK (EXISTS (SELECT 1 FROM streamext.sources s
		WHERE s.id = dead_letters.source_id AND s.owner = dead_letters.owner AND s.name = dead_letters.source));
CREATE POLICY source_owner_select ON streamext.dead_letters FOR SELECT
	USING (EXISTS (SELECT 1 FROM streamext.sources s
		WHERE s.id = dead_letters.source_id AND s.owner = dead_letters.owner));
CREATE POLICY source_owner_delete ON streamext.dead_letters FOR DELETE
	USING (EXISTS (SELECT 1 FROM streamext.sources s
		WHERE s.id = dead_letters.source_id AND s.owner = dead_letters.owner));

-- id, generation and the timestamps are the extension's: a role choosing ids
-- could make other roles' create_source fail.
GRANT SELECT, DELETE ON streamext.sources TO PUBLIC;
GRANT INSERT (name, owner, brokers, topic, target, format, options, state),
	UPDATE (name, owner, brokers, topic, target, format, options, state, last_error)
	ON streamext.sources TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON streamext.source_offsets TO PUBLIC;
GRANT SELECT, DELETE ON streamext.dead_letters TO PUBLIC;
GRANT INSERT (source, topic, partition, "offset", key, payload, error) ON streamext.dead_letters TO PUBLIC;
GRANT USAGE ON SEQUENCE streamext.sources_id_seq, streamext.dead_letters_id_seq TO PUBLIC;

-- The table of source options and the librdkafka allow-list (src/ingest/options.c).
CREATE FUNCTION streamext._source_options(OUT name text, OUT type text, OUT default_value text,
	OUT min bigint, OUT max bigint, OUT formats text[], OUT superuser_only boolean, OUT description text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'streamext_source_options'
	LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext._kafka_properties(OUT name text, OUT who text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'streamext_kafka_properties'
	LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
-- The kafka object of options: the allow-list, the properties nobody may set,
-- the memory budget, and librdkafka's own parser.
CREATE FUNCTION streamext._check_kafka_properties(options jsonb, is_superuser boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_check_kafka_properties'
	LANGUAGE C STRICT STABLE PARALLEL SAFE;
-- The format's options against the target table, as the workers check them.
CREATE FUNCTION streamext._check_decoder(target regclass, format text, options jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_check_decoder'
	LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- Check a source's options; raises a clear error for anything wrong.
CREATE FUNCTION streamext._check_source_options(options jsonb, is_superuser boolean) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	k text;
	v jsonb;
	o record;
	ts timestamptz;
BEGIN
	IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'source options must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(options) LOOP
		SELECT * INTO o FROM streamext._source_options() so WHERE so.name = k;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'unknown source option "%"', k
				USING ERRCODE = 'invalid_parameter_value',
					HINT = 'Known options: ' || (SELECT string_agg(so.name, ', ') FROM streamext._source_options() so) || '.';
		END IF;
		IF o.superuser_only AND NOT coalesce(is_superuser, false) THEN
			RAISE EXCEPTION 'only superusers may set source option "%"', k
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		IF o.type = 'integer' AND (jsonb_typeof(v) <> 'number' OR v::text !~ '^[0-9]+$'
				OR v::text::numeric < o.min OR v::text::numeric > o.max) THEN
			RAISE EXCEPTION 'source option "%" must be an integer between % and %', k, o.min, o.max
				USING ERRCODE = 'invalid_parameter_value';
		ELSIF o.type = 'boolean' AND jsonb_typeof(v) <> 'boolean' THEN
			RAISE EXCEPTION 'source option "%" must be true or false', k
				USING ERRCODE = 'invalid_parameter_value';
		ELSIF o.type = 'object' AND jsonb_typeof(v) <> 'object' THEN
			RAISE EXCEPTION 'source option "%" must be a JSON object', k
				USING ERRCODE = 'invalid_parameter_value',
					HINT = CASE k WHEN 'kafka' THEN 'An object of librdkafka properties.'
						WHEN 'column_map' THEN 'An object of column name to JSON path.'
						WHEN 'time_partition' THEN 'For example {"column": "event_time", "interval": "1 day", "premake": 2, "retention": "30 days"}.'
						ELSE o.description END;
		END IF;
	END LOOP;
	IF options ? 'group_id' AND (jsonb_typeof(options -> 'group_id') <> 'string' OR options ->> 'group_id' = '') THEN
		RAISE EXCEPTION 'source option "group_id" must be a non-empty string'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH k IN ARRAY ARRAY['on_unknown_key', 'on_missing_column'] LOOP
		IF options ? k AND (jsonb_typeof(options -> k) <> 'string' OR options ->> k NOT IN ('ignore', 'dead_letter')) THEN
			RAISE EXCEPTION 'source option "%" must be "ignore" or "dead_letter"', k
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	IF options -> 'merge_schema' = 'true' AND options ->> 'on_unknown_key' = 'dead_letter' THEN
		RAISE EXCEPTION 'source options "merge_schema" and "on_unknown_key": "dead_letter" cannot be used together'
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'merge_schema adds a column for every new key; without it, on_unknown_key decides.';
	END IF;
	IF options ? 'start_from' THEN
		IF jsonb_typeof(options -> 'start_from') <> 'string' THEN
			RAISE EXCEPTION 'source option "start_from" must be "earliest", "latest" or a timestamp'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF options ->> 'start_from' NOT IN ('earliest', 'latest') THEN
			BEGIN
				ts := (options ->> 'start_from')::timestamptz;
			EXCEPTION WHEN OTHERS THEN
				RAISE EXCEPTION 'source option "start_from" must be "earliest", "latest" or a timestamp, not "%"',
					options ->> 'start_from'
					USING ERRCODE = 'invalid_parameter_value';
			END;
			-- the worker asks Kafka for the offset at this time in Unix milliseconds
			IF NOT isfinite(ts) OR ts < '1970-01-01 00:00+00' THEN
				RAISE EXCEPTION 'source option "start_from" must be a finite timestamp after 1970, not "%"',
					options ->> 'start_from'
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
		END IF;
	END IF;
	IF options ? 'kafka' THEN
		FOR k, v IN SELECT * FROM jsonb_each(options -> 'kafka') LOOP
			IF jsonb_typeof(v) NOT IN ('string', 'number', 'boolean') THEN
				RAISE EXCEPTION 'kafka property "%" must be a string, number or boolean', k
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
		END LOOP;
		PERFORM streamext._check_kafka_properties(options, coalesce(is_superuser, false));
	END IF;
	IF options ? 'time_partition' THEN
		-- The target-dependent checks run in _sources_check (time_partition.sql).
		PERFORM streamext._check_time_partition(NULL, options -> 'time_partition', NULL);
	END IF;
END
$$;

-- The Kafka consumer group of a source.
CREATE FUNCTION streamext._source_group_id(name text, options jsonb) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT coalesce(options ->> 'group_id', 'streamext-' || name) $$;

-- Does a source of another owner than owner (other than source source_id) use
-- the consumer group group_id?  Sees every source (row-level security does not
-- apply to the extension's owner), so it answers only this question.  The
-- question is serialized per group until the end of the transaction by an
-- advisory lock; any role can take that lock, so it is waited for a few
-- seconds only, and then refused with a clear error rather than hung on.
-- VOLATILE: after the lock it must see what was committed meanwhile.
CREATE FUNCTION streamext._group_id_taken(group_id text, source_id bigint, owner regrole) RETURNS boolean
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	-- $n, not the names: "owner" would be ambiguous with the column s.owner
	FOR i IN 1 .. 100 LOOP
		EXIT WHEN pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('streamext.group_id'), pg_catalog.hashtext($1));
		IF i = 100 THEN
			RAISE EXCEPTION 'consumer group "%" is being changed by another transaction', $1
				USING ERRCODE = 'lock_not_available', HINT = 'Try again.';
		END IF;
		PERFORM pg_catalog.pg_sleep(0.05);
	END LOOP;
	RETURN EXISTS (SELECT 1 FROM streamext.sources s
		WHERE s.id IS DISTINCT FROM $2 AND s.owner <> $3
		AND streamext._source_group_id(s.name, s.options) = $1);
END
$$;

-- Runs as the role changing streamext.sources: the privilege rules live here.
CREATE FUNCTION streamext._sources_check() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	su boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
BEGIN
	IF TG_OP = 'INSERT' THEN
		IF NEW.owner::oid <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user) AND NOT su THEN
			RAISE EXCEPTION 'only superusers may create a source owned by another role'
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		-- superusers too: a background worker cannot connect as a NOLOGIN role
		IF NOT coalesce((SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE oid = NEW.owner::oid), false) THEN
			RAISE EXCEPTION 'the owner of a source must be a role that can log in, and % cannot', NEW.owner
				USING ERRCODE = 'invalid_parameter_value',
					HINT = 'The source''s workers connect as its owner; use a LOGIN role.';
		END IF;
		NEW.created_at := now();
		NEW.generation := 1;
	ELSE
		IF NEW.owner <> OLD.owner AND NOT su THEN
			RAISE EXCEPTION 'only superusers may change the owner of a source'
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		IF (NEW.name, NEW.brokers, NEW.topic, NEW.target, NEW.format, NEW.options, NEW.owner)
			IS DISTINCT FROM (OLD.name, OLD.brokers, OLD.topic, OLD.target, OLD.format, OLD.options, OLD.owner)
			OR (NEW.state = 'running' AND OLD.state <> 'running') THEN
			NEW.generation := OLD.generation + 1;
		END IF;
	END IF;
	IF (TG_OP = 'INSERT' OR (NEW.target, NEW.owner) IS DISTINCT FROM (OLD.target, OLD.owner))
		AND NOT pg_catalog.has_table_privilege(NEW.owner::oid, NEW.target::oid, 'INSERT') THEN
		-- the bare name: with this function's search_path a regclass would print schema-qualified
		RAISE EXCEPTION 'permission denied for table %',
			(SELECT pg_catalog.quote_ident(c.relname) FROM pg_catalog.pg_class c WHERE c.oid = NEW.target::oid)
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = format('The owner of a source (%s) needs INSERT on its target table.', NEW.owner);
	END IF;
	IF TG_OP = 'INSERT' OR NEW.options IS DISTINCT FROM OLD.options THEN
		PERFORM streamext._check_source_options(NEW.options, su);
	END IF;
	-- what the workers would stop on at their start: the format's options against the target
	IF TG_OP = 'INSERT' OR (NEW.target, NEW.format, NEW.options) IS DISTINCT FROM (OLD.target, OLD.format, OLD.options) THEN
		PERFORM streamext._check_decoder(NEW.target, NEW.format, NEW.options);
	END IF;
	-- Joining another role's consumer group would take (and commit) its messages.
	IF NOT su AND (TG_OP = 'INSERT' OR streamext._source_group_id(NEW.name, NEW.options)
			IS DISTINCT FROM streamext._source_group_id(OLD.name, OLD.options) OR NEW.owner <> OLD.owner)
		AND streamext._group_id_taken(streamext._source_group_id(NEW.name, NEW.options),
			CASE WHEN TG_OP = 'UPDATE' THEN OLD.id END, NEW.owner) THEN
		RAISE EXCEPTION 'consumer group "%" is used by a source of another role',
			streamext._source_group_id(NEW.name, NEW.options)
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = 'A source in a group receives (and commits) part of the group''s messages, which the other source then never sees.',
				HINT = 'Choose another group_id; only superusers may put sources of different roles into one group.';
	END IF;
	IF NEW.options ? 'time_partition' AND (TG_OP = 'INSERT' OR
		(NEW.options, NEW.target, NEW.owner) IS DISTINCT FROM (OLD.options, OLD.target, OLD.owner)) THEN
		PERFORM streamext._check_time_partition(NEW.target, NEW.options -> 'time_partition', NEW.owner);
	END IF;
	IF NEW.state = 'running' THEN
		NEW.last_error := NULL;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END
$$;
CREATE TRIGGER sources_check BEFORE INSERT OR UPDATE ON streamext.sources
	FOR EACH ROW EXECUTE FUNCTION streamext._sources_check();

-- What ON UPDATE/DELETE CASCADE did before the foreign key went (see
-- source_offsets): a source's offsets follow its renaming and go with it.
-- SECURITY DEFINER so that row-level security on source_offsets, which is
-- the caller's view, does not leave rows behind; only callable as a trigger.
CREATE FUNCTION streamext._sources_cascade() RETURNS trigger
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		TRUNCATE streamext.source_offsets;
	ELSIF TG_OP = 'DELETE' THEN
		DELETE FROM streamext.source_offsets o WHERE o.source = OLD.name;
	ELSIF NEW.name <> OLD.name THEN
		UPDATE streamext.source_offsets o SET source = NEW.name WHERE o.source = OLD.name;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER sources_cascade AFTER UPDATE OF name OR DELETE ON streamext.sources
	FOR EACH ROW EXECUTE FUNCTION streamext._sources_cascade();
CREATE TRIGGER sources_cascade_truncate AFTER TRUNCATE ON streamext.sources
	FOR EACH STATEMENT EXECUTE FUNCTION streamext._sources_cascade();

-- Live statistics of the consumer workers (shared memory; since each worker started).
CREATE FUNCTION streamext._source_worker_stats(
	OUT source_id bigint, OUT workers integer, OUT messages bigint, OUT rows bigint,
	OUT bytes bigint, OUT lag bigint, OUT last_batch_at timestamptz,
	OUT broker_down boolean, OUT last_error text, OUT assigned_partitions integer,
	OUT retention_wait text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'streamext_source_worker_stats'
	LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- Wakes the launcher at the end of the calling transaction, so that source changes
-- take effect at once instead of at its next poll.
CREATE FUNCTION streamext._wake_launcher() RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_wake_launcher'
	LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

-- Why sources have no or fewer workers, their recent dead-letter rate and what
-- decoding ignored (status.c).  Key and column names come from the data: the
-- functions show them only to members of the owner role and pg_read_all_stats.
CREATE FUNCTION streamext._ingest_problem(OUT blocking boolean, OUT problem text)
	AS 'MODULE_PATHNAME', 'streamext_ingest_problem'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION streamext._source_schedule(
	OUT source_id bigint, OUT asked integer, OUT automatic boolean, OUT wanted integer,
	OUT allotted integer, OUT waiting_for text, OUT capacity integer, OUT in_use integer)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'streamext_source_schedule'
	LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
CREATE FUNCTION streamext._source_decode_stats(
	OUT source_id bigint, OUT decoded bigint, OUT dead_letter_rate double precision,
	OUT unmatched_keys bigint, OUT null_columns bigint, OUT recent_messages bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'streamext_source_decode_stats'
	LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
CREATE FUNCTION streamext._source_warnings(
	OUT source_id bigint, OUT kind text, OUT name text, OUT messages bigint, OUT decoded bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'streamext_source_warnings'
	LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

CREATE VIEW streamext.source_status AS
SELECT s.name AS source,
	CASE WHEN s.state = 'running' AND p.blocking THEN 'no_workers'
		WHEN s.state = 'running' AND coalesce(w.broker_down, false) THEN 'disconnected'
		WHEN s.state = 'running' AND coalesce(w.workers, 0) = 0
			AND (sc.allotted = 0 OR sc.waiting_for = 'max_worker_processes') THEN 'no_workers'
		WHEN s.state = 'running' AND coalesce(w.workers, 0) = 0 THEN 'starting'
		-- every recent message a dead letter, or at least half of 100 or more
		WHEN s.state = 'running' AND (ds.dead_letter_rate = 1
			OR (ds.dead_letter_rate >= 0.5 AND ds.recent_messages >= 100)) THEN 'degraded'
		ELSE s.state END AS state,
	coalesce(w.workers, 0) AS workers,
	coalesce(w.messages, 0) AS messages,
	coalesce(w.rows, 0) AS rows,
	-- those of the source's current owner, as in streamext.dead_letters: a source given
	-- to another role (by a superuser) does not give it the old owner's
	(SELECT count(*) FROM streamext.dead_letters d WHERE d.source_id = s.id AND d.owner = s.owner) AS dead_letters,
	coalesce(w.bytes, 0) AS bytes,
	w.lag,
	w.last_batch_at,
	-- every role sees every source's name and state, but error texts can quote row data
	CASE WHEN pg_catalog.pg_has_role(s.owner, 'MEMBER')
		OR pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER')
		THEN coalesce(s.last_error, w.last_error) END AS last_error,
	-- 0 with workers running: another member of the consumer group holds every partition
	coalesce(w.assigned_partitions, 0) AS assigned_partitions,
	-- issue 10, what new users trip over (ing-user): why, how many dead letters lately, what was ignored
	CASE WHEN s.state <> 'running' THEN NULL
		WHEN p.problem IS NOT NULL THEN p.problem
		WHEN sc.waiting_for = 'max_worker_processes' THEN
			'cannot start a worker: no background worker slot is free; raise max_worker_processes'
		WHEN sc.allotted = 0 THEN pg_catalog.format(
			'no worker: all %s streamext.max_source_workers are taken by other sources (every running source gets one before any gets more, the roles taking turns); raise streamext.max_source_workers (and max_worker_processes)',
			sc.capacity)
		WHEN sc.allotted < sc.wanted THEN pg_catalog.format(
			'runs %s of the %s workers it wants: the %s streamext.max_source_workers are shared fairly among the running sources',
			sc.allotted, sc.wanted, sc.capacity)
		WHEN sc.wanted < sc.asked AND NOT sc.automatic THEN pg_catalog.format(
			'parallelism %s is above streamext.max_workers_per_source: runs at most %s workers',
			sc.asked, sc.wanted)
		WHEN ds.dead_letter_rate = 1 OR (ds.dead_letter_rate >= 0.5 AND ds.recent_messages >= 100) THEN
			'most recent messages go to streamext.dead_letters; see last_dead_letter_error'
		-- time_partition retention keeps a partition a pipeline has not read yet
		WHEN w.retention_wait IS NOT NULL THEN w.retention_wait
		WHEN ds.null_columns > 0 THEN pg_catalog.format(
			'%s column(s) got NULL in every message for lack of a key; see streamext.source_warnings',
			ds.null_columns)
		WHEN ds.unmatched_keys > 0 THEN pg_catalog.format(
			'%s JSON key(s) match no column and are ignored; see streamext.source_warnings',
			ds.unmatched_keys)
		END AS hint,
	ds.dead_letter_rate,
	CASE WHEN pg_catalog.pg_has_role(s.owner, 'MEMBER')
		OR pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER')
		THEN (SELECT d.error FROM streamext.dead_letters d
			   WHERE d.source_id = s.id AND d.owner = s.owner
			   ORDER BY d.failed_at DESC LIMIT 1) END AS last_dead_letter_error,
	ds.unmatched_keys,
	ds.null_columns
FROM streamext.sources s
LEFT JOIN streamext._source_worker_stats() w ON w.source_id = s.id
CROSS JOIN streamext._ingest_problem() p
LEFT JOIN streamext._source_schedule() sc ON sc.source_id = s.id
LEFT JOIN streamext._source_decode_stats() ds ON ds.source_id = s.id;
COMMENT ON VIEW streamext.source_status IS 'one row per source: state, running workers, counters since the workers started, lag, last error, why it has no workers, dead-letter rate, what decoding ignored';
GRANT SELECT ON streamext.source_status TO PUBLIC;

CREATE VIEW streamext.source_warnings AS
SELECT s.name AS source, w.kind, w.name, w.messages, w.decoded
FROM streamext.sources s
JOIN streamext._source_warnings() w ON w.source_id = s.id;
COMMENT ON VIEW streamext.source_warnings IS 'per running source: JSON keys that matched no column (kind unknown_key) and columns no key filled, so NULL (kind missing_column), with the number of messages, since the workers started';
GRANT SELECT ON streamext.source_warnings TO PUBLIC;
-- The functions the views call stay executable by PUBLIC: a view checks EXECUTE
-- on its functions for the querying role, not for the view's owner (REVOKE would
-- break source_status for everyone), and they run with the querying role's rights.
-- So they make the views' checks themselves: _source_worker_stats shows
-- last_error, _source_decode_stats the decoded/unmatched_keys/null_columns counts
-- and _source_warnings its rows (key and column names) only to members of the
-- owner role and pg_read_all_stats; _source_schedule (worker numbers) and
-- _ingest_problem (the server's setup) hold nothing of a source's data.  The other
-- internal functions executable by PUBLIC give away nothing a role could not learn
-- otherwise: the validators (_check_*, _check_decoder: column names, which
-- pg_attribute shows anyway) and _source_options/_kafka_properties (no data), _own_source and
-- _source_group_id (public names), _group_id_taken (SECURITY DEFINER: only whether
-- another role's source uses a group, which create_source says anyway),
-- _wake_launcher (an early look at streamext.sources), the _tp_* helpers (pure,
-- or _tp_lock/_tp_ensure: for the target's owner only).

-- Raise the right error when name is not a source the caller may change.
CREATE FUNCTION streamext._own_source(source_name text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF source_name IS NULL THEN
		RAISE EXCEPTION 'source name must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM streamext.sources WHERE name = source_name) THEN
		IF EXISTS (SELECT 1 FROM streamext.source_status WHERE source = source_name) THEN
			RAISE EXCEPTION 'must be owner of source "%"', source_name
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		RAISE EXCEPTION 'source "%" does not exist', source_name
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;

CREATE FUNCTION streamext.create_source(name text, brokers text, topic text, target regclass,
										format text DEFAULT 'json', options jsonb DEFAULT '{}')
	RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF name IS NULL OR brokers IS NULL OR topic IS NULL OR target IS NULL OR format IS NULL THEN
		RAISE EXCEPTION 'name, brokers, topic, target and format must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF length(name) < 1 OR octet_length(name) > 63 THEN
		RAISE EXCEPTION 'source name must be 1 to 63 bytes long, and "%" has % bytes', name, octet_length(name)
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Characters outside ASCII take 2 to 4 bytes each in UTF-8.';
	END IF;
	IF format NOT IN ('json', 'csv', 'text', 'bytes') THEN
		RAISE EXCEPTION 'unknown source format "%"', format
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use json, csv, text or bytes.';
	END IF;
	IF EXISTS (SELECT 1 FROM streamext.source_status s WHERE s.source = create_source.name) THEN
		RAISE EXCEPTION 'source "%" already exists', name USING ERRCODE = 'duplicate_object';
	END IF;
	PERFORM streamext._check_source_options(coalesce(options, '{}'),
		(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user));
	INSERT INTO streamext.sources (name, brokers, topic, target, format, options)
		VALUES (name, brokers, topic, target, format, coalesce(options, '{}'));
	PERFORM streamext._wake_launcher();
END
$$;
COMMENT ON FUNCTION streamext.create_source(text, text, text, regclass, text, jsonb)
	IS 'start ingesting a Kafka topic into a table, exactly once';

CREATE FUNCTION streamext.drop_source(name text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM streamext._own_source(name);
	DELETE FROM streamext.sources s WHERE s.name = drop_source.name;
	PERFORM streamext._wake_launcher();
END
$$;
COMMENT ON FUNCTION streamext.drop_source(text) IS 'stop a source and forget it and its offsets (dead letters stay, readable by superusers only)';

CREATE FUNCTION streamext.pause_source(name text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM streamext._own_source(name);
	UPDATE streamext.sources s SET state = 'paused' WHERE s.name = pause_source.name;
	PERFORM streamext._wake_launcher();
END
$$;
COMMENT ON FUNCTION streamext.pause_source(text) IS 'stop a source''s workers; resume_source continues where it stopped';

CREATE FUNCTION streamext.resume_source(name text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM streamext._own_source(name);
	UPDATE streamext.sources s SET state = 'running' WHERE s.name = resume_source.name;
	PERFORM streamext._wake_launcher();
END
$$;
COMMENT ON FUNCTION streamext.resume_source(text) IS 'restart a paused source, or one in the error state';

CREATE FUNCTION streamext.alter_source(name text, options jsonb) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	merged jsonb;
	kafka jsonb;
BEGIN
	PERFORM streamext._own_source(name);
	IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'source options must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- Merge key by key; a key set to null goes back to its default.  The kafka
	-- object is merged property by property too (so changing one keeps the
	-- others, such as sasl.password); "kafka": null removes all of them.
	SELECT s.options || alter_source.options,
		CASE WHEN jsonb_typeof(alter_source.options -> 'kafka') = 'object'
			THEN coalesce(CASE WHEN jsonb_typeof(s.options -> 'kafka') = 'object' THEN s.options -> 'kafka' END, '{}')
				|| (alter_source.options -> 'kafka') END
		INTO merged, kafka
		FROM streamext.sources s WHERE s.name = alter_source.name;
	IF kafka IS NOT NULL THEN
		merged := jsonb_set(merged, '{kafka}',
			(SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(kafka)
			  WHERE jsonb_typeof(value) <> 'null'));
	END IF;
	merged := (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(merged)
				WHERE jsonb_typeof(value) <> 'null');
	UPDATE streamext.sources s SET options = merged WHERE s.name = alter_source.name;
	PERFORM streamext._wake_launcher();
END
$$;
COMMENT ON FUNCTION streamext.alter_source(text, jsonb)
	IS 'change a source''s options (merged into the current ones, the kafka object property by property; null removes one); its workers restart';
