-- src/monitor/alerts.sql: SQL alerts (issue 13) — the catalog of alerts and
-- their event log, the privilege rules, and the functions users call
-- (create/drop/pause/resume_alert; C in src/monitor/alert_*.c).
--
-- As in src/pipeline/pipeline.sql: every SQL function runs with search_path =
-- pg_catalog, pg_temp; the catalog tables are protected by row-level security
-- (a role sees and changes only the alerts it owns, or whose owner it is a
-- member of; superusers all) and by a validation trigger that runs as the
-- calling role.  The alerts worker evaluates each alert's query as its owner,
-- under the search_path create_alert captured.
--
-- alert_events is readable only by members of the alert's owner (GRANT owner
-- TO reader to share them): its values are rows of the owner's query, so not
-- even pg_monitor reads other roles' events.

CREATE TABLE streamext.alerts (
	id bigserial UNIQUE,
	name text PRIMARY KEY CHECK (length(name) >= 1 AND octet_length(name) <= 63),
	owner regrole NOT NULL DEFAULT current_user::regrole,
	query text NOT NULL,
	options jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
	search_path text NOT NULL,      -- the creator's: the query runs with it
	eval_query text NOT NULL,       -- what the worker runs (the trigger builds it from query and options)
	every interval NOT NULL,        -- options.every, default 1 minute
	state text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing', 'paused', 'error')),
	last_checked_at timestamptz,
	next_check_at timestamptz,
	last_changed_at timestamptz,    -- last ok -> firing or firing -> ok
	last_error text,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE streamext.alerts IS 'SQL alerts: one row per streamext.create_alert; each role sees only its own';
-- pg_dump keeps the alerts (and the id sequence), not their events (history).
SELECT pg_catalog.pg_extension_config_dump('streamext.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('streamext.alerts_id_seq', '');

CREATE TABLE streamext.alert_events (
	id bigserial PRIMARY KEY,
	alert text NOT NULL,
	alert_id bigint NOT NULL REFERENCES streamext.alerts (id) ON DELETE CASCADE,
	owner regrole NOT NULL,
	fired_at timestamptz NOT NULL,
	state text NOT NULL CHECK (state IN ('firing', 'ok')),
	value jsonb NOT NULL            -- firing: the rows that fired (at most 100); ok: []
);
CREATE INDEX ON streamext.alert_events (alert_id, id);
COMMENT ON TABLE streamext.alert_events IS 'one row per change of state of an alert (ok -> firing, firing -> ok); readable by members of the alert''s owner';

ALTER TABLE streamext.alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY alert_owner ON streamext.alerts
	USING (pg_has_role(current_user, owner, 'MEMBER'));
ALTER TABLE streamext.alert_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY alert_owner ON streamext.alert_events FOR SELECT
	USING (pg_has_role(current_user, owner, 'MEMBER'));
CREATE POLICY alert_owner_delete ON streamext.alert_events FOR DELETE
	USING (pg_has_role(current_user, owner, 'MEMBER'));

-- Users create alerts through create_alert and change only their state
-- (pause/resume); the worker (a superuser) writes the rest and the events.
GRANT SELECT, DELETE ON streamext.alerts TO PUBLIC;
GRANT INSERT (name, owner, query, options, search_path), UPDATE (state)
	ON streamext.alerts TO PUBLIC;
GRANT SELECT, DELETE ON streamext.alert_events TO PUBLIC;
GRANT USAGE ON SEQUENCE streamext.alerts_id_seq TO PUBLIC;

-- Checks the query and options and returns the SQL the worker runs (planned
-- as the owner under search_path; never run).
CREATE FUNCTION streamext._alert_sql(name text, owner regrole, query text, options jsonb,
									 search_path text)
	RETURNS text
	AS 'MODULE_PATHNAME', 'streamext_alert_sql'
	LANGUAGE C STRICT VOLATILE
	SET search_path = pg_catalog, pg_temp;

-- Runs as the role changing streamext.alerts: the privilege rules live here.
CREATE FUNCTION streamext._alerts_check() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	su boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
BEGIN
	IF TG_OP = 'INSERT' THEN
		IF NEW.owner::oid <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user) AND NOT su THEN
			RAISE EXCEPTION 'only superusers may create an alert owned by another role'
				USING ERRCODE = 'insufficient_privilege';
		END IF;
		NEW.created_at := now();
		-- a paused alert restored from pg_dump's output (by a superuser, with
		-- check_function_bodies off) stays paused; others start over
		IF NOT (su AND NEW.state = 'paused'
				AND pg_catalog.current_setting('check_function_bodies') = 'off') THEN
			NEW.state := 'ok';
		END IF;
		NEW.last_checked_at := NULL;
		NEW.next_check_at := now();
		NEW.last_changed_at := NULL;
		NEW.last_error := NULL;
	ELSIF NOT su THEN
		-- other roles change only the state: pause, or resume what is paused or in error
		IF NEW.state <> OLD.state AND NOT (NEW.state = 'paused'
				OR (NEW.state = 'ok' AND OLD.state IN ('paused', 'error'))) THEN
			RAISE EXCEPTION 'alert "%" cannot go from state % to %', OLD.name, OLD.state, NEW.state
				USING ERRCODE = 'insufficient_privilege',
					HINT = 'Use streamext.pause_alert and streamext.resume_alert.';
		END IF;
	END IF;
	IF TG_OP = 'UPDATE' AND NEW.owner <> OLD.owner AND NOT su THEN
		RAISE EXCEPTION 'only superusers may change the owner of alert "%"', OLD.name
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF TG_OP = 'UPDATE' AND (NEW.id, NEW.name) IS DISTINCT FROM (OLD.id, OLD.name) THEN
		RAISE EXCEPTION 'the name of alert "%" cannot change', OLD.name
			USING ERRCODE = 'feature_not_supported', HINT = 'Drop the alert and create it again.';
	END IF;
	IF TG_OP = 'INSERT' OR (NEW.owner, NEW.query, NEW.options, NEW.search_path)
		IS DISTINCT FROM (OLD.owner, OLD.query, OLD.options, OLD.search_path) THEN
		NEW.eval_query := streamext._alert_sql(NEW.name, NEW.owner, NEW.query, NEW.options, NEW.search_path);
		NEW.every := coalesce((NEW.options ->> 'every')::interval, interval '1 minute');
	END IF;
	IF NEW.state = 'ok' AND TG_OP = 'UPDATE' AND OLD.state IN ('paused', 'error') THEN
		NEW.last_error := NULL;         -- resumed: evaluated at once, fires again if it still holds
		NEW.next_check_at := now();
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER alerts_check BEFORE INSERT OR UPDATE ON streamext.alerts
	FOR EACH ROW EXECUTE FUNCTION streamext._alerts_check();

-- create_alert reads the caller's search_path (the alert keeps it, its query
-- runs with it), so it has no SET clause: alert_ddl.c pins search_path =
-- pg_catalog, pg_temp itself right after reading it.
CREATE FUNCTION streamext.create_alert(name text, query text, options jsonb DEFAULT '{}')
	RETURNS void
	AS 'MODULE_PATHNAME', 'streamext_create_alert'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION streamext.create_alert(text, text, jsonb)
	IS 'create an SQL alert: query runs every options.every as its owner; it fires when the query returns rows (or the condition or anomaly rule holds)';

CREATE FUNCTION streamext.drop_alert(name text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	DELETE FROM streamext.alerts a WHERE a.name = drop_alert.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert "%" does not exist', drop_alert.name USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION streamext.drop_alert(text) IS 'forget an alert and its events';

CREATE FUNCTION streamext.pause_alert(name text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	UPDATE streamext.alerts a SET state = 'paused' WHERE a.name = pause_alert.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert "%" does not exist', pause_alert.name USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION streamext.pause_alert(text) IS 'stop evaluating an alert (its firing state is forgotten)';

CREATE FUNCTION streamext.resume_alert(name text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	st text;
BEGIN
	SELECT a.state INTO st FROM streamext.alerts a WHERE a.name = resume_alert.name FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert "%" does not exist', resume_alert.name USING ERRCODE = 'undefined_object';
	END IF;
	IF st IN ('paused', 'error') THEN
		UPDATE streamext.alerts a SET state = 'ok' WHERE a.name = resume_alert.name;
	END IF;
END
$$;
COMMENT ON FUNCTION streamext.resume_alert(text) IS 'evaluate a paused alert, or one in state error, again (from state ok)';
