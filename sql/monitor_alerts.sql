-- SQL alerts: DDL, bad options and queries, privileges (issue 13).  The
-- alerts worker runs in streamext.database (postgres), not in this database,
-- so nothing here is evaluated behind the test's back; the anomaly rule is
-- checked by running the SQL the worker would run (eval_query) by hand.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE ROLE regress_al_alice LOGIN;
CREATE ROLE regress_al_bob LOGIN;
CREATE SCHEMA se_al;
GRANT USAGE, CREATE ON SCHEMA se_al TO regress_al_alice, regress_al_bob;
SET search_path = se_al;

CREATE TABLE readings (device_id text, event_time timestamptz, avg_temp float8);
GRANT SELECT ON readings TO regress_al_alice;

-- the query runs as the alert's SQL; a bare table name resolves with the creator's search_path
SELECT streamext.create_alert('hot', 'SELECT device_id, avg_temp FROM readings WHERE avg_temp > 90;');
SELECT name, owner, state, every, search_path, options FROM streamext.alerts;
SELECT streamext.create_alert('hot', 'SELECT 1');                 -- taken
SELECT streamext.create_alert('c1', 'SELECT avg_temp FROM readings',
	'{"every": "200 milliseconds", "condition": {"column": "avg_temp", "op": ">=", "value": 50}, "channel": "temps"}');
SELECT name, every, options ->> 'channel' AS channel FROM streamext.alerts WHERE name = 'c1';

-- bad queries
SELECT streamext.create_alert('bad', 'SELECT 1; SELECT 2');
SELECT streamext.create_alert('bad', 'DELETE FROM readings');
SELECT streamext.create_alert('bad', 'WITH d AS (DELETE FROM readings RETURNING *) SELECT * FROM d');
SELECT streamext.create_alert('bad', 'SELECT * FROM readings FOR UPDATE');
SELECT streamext.create_alert('bad', 'SELECT * INTO t2 FROM readings');
SELECT streamext.create_alert('bad', 'SELECT * FROM no_such_table');
SELECT streamext.create_alert('bad', 'SELEC 1');
SELECT streamext.create_alert('bad', NULL);
-- a trailing comment does not swallow the wrapper
SELECT streamext.create_alert('comment', 'SELECT 1 AS one -- trailing comment');
SELECT streamext.drop_alert('comment');

-- bad options
SELECT streamext.create_alert('bad', 'SELECT 1', '{"evry": "1 minute"}');
SELECT streamext.create_alert('bad', 'SELECT 1', '{"every": "-1 minute"}');
SELECT streamext.create_alert('bad', 'SELECT 1', '{"every": "1 month"}');
SELECT streamext.create_alert('bad', 'SELECT 1', '{"every": "1 microsecond"}');
SELECT streamext.create_alert('bad', 'SELECT 1', '{"every": "soon"}');
SELECT streamext.create_alert('bad', 'SELECT 1', '{"every": 5}');
SELECT streamext.create_alert('bad', 'SELECT 1', '[]');
SELECT streamext.create_alert('bad', 'SELECT 1 AS x', '{"condition": {"column": "x", "op": "~", "value": 1}}');
SELECT streamext.create_alert('bad', 'SELECT 1 AS x', '{"condition": {"column": "y", "op": ">", "value": 1}}');
SELECT streamext.create_alert('bad', 'SELECT 1 AS x', '{"condition": {"column": "x", "op": ">"}}');
SELECT streamext.create_alert('bad', 'SELECT 1 AS x', '{"condition": {"column": "x", "op": ">", "value": [1]}}');
SELECT streamext.create_alert('bad', 'SELECT 1 AS x', '{"condition": {"column": "x", "op": ">", "value": "abc"}}');
SELECT streamext.create_alert('bad', 'SELECT 1 AS x', '{"condition": {"column": "x", "op": ">", "value": 1, "extra": 1}}');
SELECT streamext.create_alert('bad', 'SELECT 1 AS x', '{"channel": ""}');
SELECT streamext.create_alert('bad', 'SELECT * FROM readings', '{"anomaly": {"column": "avg_temp", "zscore": 0, "window": "1 hour"}}');
SELECT streamext.create_alert('bad', 'SELECT * FROM readings', '{"anomaly": {"column": "avg_temp", "zscore": 3}}');
SELECT streamext.create_alert('bad', 'SELECT * FROM readings', '{"anomaly": {"column": "avg_temp", "zscore": 3, "window": "1 hour", "by": "device_id"}}');
SELECT streamext.create_alert('bad', 'SELECT * FROM readings', '{"anomaly": {"column": "avg_temp", "zscore": 3, "window": "1 hour", "time": "ts"}}');
SELECT streamext.create_alert('bad', 'SELECT * FROM readings', '{"anomaly": {"column": "avg_temp", "zscore": 3, "window": "1 hour"}, "condition": {"column": "avg_temp", "op": ">", "value": 1}}');
SELECT streamext.create_alert('bad', 'SELECT 1', '{"webhook": "ftp://127.0.0.1/x"}');
SELECT streamext.create_alert('bad', 'SELECT 1', '{"webhook": "http://user:pw@127.0.0.1/x"}');
SELECT streamext.create_alert('bad', 'SELECT 1', '{"webhook": "not a url"}');
SELECT count(*) FROM streamext.alerts WHERE name = 'bad';

-- unknown alerts
SELECT streamext.drop_alert('nope');
SELECT streamext.pause_alert('nope');
SELECT streamext.resume_alert('nope');

-- pause / resume
SELECT streamext.pause_alert('hot');
SELECT state FROM streamext.alerts WHERE name = 'hot';
SELECT streamext.resume_alert('hot');
SELECT state, last_error FROM streamext.alerts WHERE name = 'hot';

-- the anomaly rule, run by hand: per device, the latest value against the
-- mean and stddev of the device's values in [latest - 1 hour, latest)
SELECT streamext.create_alert('spike', 'SELECT * FROM readings',
	'{"anomaly": {"column": "avg_temp", "zscore": 3, "window": "1 hour", "by": ["device_id"]}}');
INSERT INTO readings
SELECT 'd' || d, timestamptz '2024-01-01 00:00+00' + i * interval '1 minute', 20 + (i % 5) * 0.5 + d
FROM generate_series(1, 3) d, generate_series(0, 59) i;
-- an old reading far outside the window of d1 does not count
INSERT INTO readings VALUES ('d1', '2023-12-31 00:00+00', 1000);
CREATE FUNCTION run_alert(alert text) RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE (SELECT eval_query FROM streamext.alerts WHERE name = alert);
END $$;
SELECT count(*) AS firing FROM run_alert('spike');
INSERT INTO readings VALUES ('d2', '2024-01-01 01:00+00', 45);   -- the spike
INSERT INTO readings VALUES ('d3', '2024-01-01 01:00+00', 24);   -- normal
SELECT r ->> 'group' AS grp, r ->> 'value' AS value, round((r ->> 'mean')::numeric, 3) AS mean,
	(r ->> 'n')::int AS n, (r ->> 'zscore')::float8 > 3 AS over
FROM run_alert('spike') r;
-- a group with fewer than two earlier values in the window never fires
INSERT INTO readings VALUES ('d4', '2024-01-01 00:59+00', 20), ('d4', '2024-01-01 01:00+00', 99);
SELECT r -> 'group' FROM run_alert('spike') r ORDER BY 1;
-- without "by" the whole result is one group
SELECT streamext.create_alert('spike_all', 'SELECT event_time AS ts, avg_temp FROM readings WHERE device_id = ''d2''',
	'{"anomaly": {"column": "avg_temp", "zscore": 3, "window": "1 hour", "time": "ts"}}');
SELECT r -> 'group', r -> 'value' FROM run_alert('spike_all') r;
-- the condition rule: the literal takes the column's type
SELECT streamext.create_alert('cond_text', 'SELECT device_id FROM readings', '{"condition": {"column": "device_id", "op": "=", "value": "d4"}}');
SELECT count(*) FROM run_alert('cond_text');
SELECT count(*) FROM run_alert('c1');
-- a column named like the wrapper's alias does not replace the row
SELECT streamext.create_alert('q_col', 'SELECT 1 AS q, 2 AS r');
SELECT * FROM run_alert('q_col');
SELECT streamext.drop_alert('q_col');
SELECT streamext.drop_alert('spike_all');
SELECT streamext.drop_alert('cond_text');

-- privileges: a role sees and changes only its own alerts
SET ROLE regress_al_alice;
SELECT streamext.create_alert('alice1', 'SELECT * FROM readings WHERE avg_temp > 1000');
SELECT name FROM streamext.alerts ORDER BY name;
SELECT streamext.drop_alert('hot');                                -- not hers: does not exist
SELECT streamext.create_alert('hot', 'SELECT 1');                  -- the name is taken all the same
-- the catalog only through the functions: no forged state, eval_query, owner
UPDATE streamext.alerts SET state = 'firing' WHERE name = 'alice1';
UPDATE streamext.alerts SET eval_query = 'SELECT 1' WHERE name = 'alice1';
INSERT INTO streamext.alerts (name, owner, query, search_path) VALUES ('forged', 'regress_al_bob', 'SELECT 1', 'public');
INSERT INTO streamext.alert_events (alert, alert_id, owner, fired_at, state, value)
	SELECT 'alice1', id, owner, now(), 'firing', '[]' FROM streamext.alerts WHERE name = 'alice1';
-- no webhook for a non-superuser unless its host is allowed (superuser-set)
SELECT streamext.create_alert('hook', 'SELECT 1', '{"webhook": "http://127.0.0.1:9/x"}');
SET streamext.alert_webhook_allowed_hosts = '127.0.0.1';
RESET ROLE;
SET streamext.alert_webhook_allowed_hosts = 'example.invalid, 127.0.0.1';
SET ROLE regress_al_alice;
SELECT streamext.create_alert('hook', 'SELECT 1', '{"webhook": "http://127.0.0.1:9/x"}');
SELECT streamext.create_alert('hook2', 'SELECT 1', '{"webhook": "http://10.0.0.1:9/x"}');
SELECT streamext.pause_alert('alice1');
RESET ROLE;
RESET streamext.alert_webhook_allowed_hosts;
-- privileges are checked when the query runs (the worker puts the alert in
-- state error, test/integration/monitor_alerts.sh), not at create
SET ROLE regress_al_bob;
SELECT streamext.create_alert('bob1', 'SELECT * FROM se_al.readings');
SELECT name, owner FROM streamext.alerts ORDER BY name;
RESET ROLE;

-- events: readable by members of the owner only
INSERT INTO streamext.alert_events (alert, alert_id, owner, fired_at, state, value)
	SELECT name, id, owner, '2024-01-01', 'firing', '[{"x": 1}]' FROM streamext.alerts WHERE name = 'alice1';
SET ROLE regress_al_bob;
SELECT count(*) FROM streamext.alert_events;
RESET ROLE;
GRANT regress_al_alice TO regress_al_bob;
SET ROLE regress_al_bob;
SELECT alert, state, value FROM streamext.alert_events;
RESET ROLE;
REVOKE regress_al_alice FROM regress_al_bob;

-- the ready-made alerts of docs/monitoring.md plan against the status views
SELECT streamext.create_alert('source_lag',
    'SELECT source, lag FROM streamext.source_status',
    '{"every": "1 minute", "condition": {"column": "lag", "op": ">", "value": 100000}}');
SELECT streamext.create_alert('dead_letters',
    'SELECT source, dead_letter_rate, last_dead_letter_error FROM streamext.source_status',
    '{"every": "1 minute", "condition": {"column": "dead_letter_rate", "op": ">", "value": 0.05}}');
SELECT streamext.create_alert('watermark_stalled', $q$
    SELECT p.pipeline, p.watermark, min(b.committed_at) AS since
    FROM streamext.pipeline_status p
    JOIN streamext.pipeline_batches b ON b.pipeline = p.pipeline AND b.watermark = p.watermark
    WHERE p.state = 'running'
    GROUP BY p.pipeline, p.watermark
    HAVING min(b.committed_at) < now() - interval '15 minutes'
$q$, '{"every": "1 minute"}');
SELECT streamext.create_alert('expectation_failures', $q$
    SELECT pipeline, sum(failed) AS failed, sum(rows_in) AS rows_in
    FROM (SELECT b.pipeline, b.rows_in,
                 (SELECT coalesce(sum((e.value ->> 'failed')::bigint), 0)
                  FROM jsonb_each(b.expectations) e) AS failed
          FROM streamext.pipeline_batches b
          WHERE b.committed_at > now() - interval '15 minutes') x
    GROUP BY pipeline
    HAVING sum(failed) > 0.01 * sum(rows_in)
$q$, '{"every": "1 minute"}');
SELECT name, every, state FROM streamext.alerts WHERE name IN ('source_lag', 'dead_letters', 'watermark_stalled', 'expectation_failures') ORDER BY name;
SELECT count(*) FROM run_alert('watermark_stalled');
SELECT count(*) FROM run_alert('expectation_failures');
SELECT count(*) FROM run_alert('source_lag');
-- and fire on a pipeline whose expectations fail and whose watermark stands still
CREATE TABLE pm_src (id int, et timestamptz, v int);
CREATE TABLE pm_out (id int, et timestamptz, v int);
SELECT streamext.create_pipeline('pm', 'pm_src', 'pm_out', NULL,
  '{"event_time": "et", "watermark": "10 seconds", "trigger": "manual",
    "expectations": [{"name": "v_small", "check": "v < 100", "on_violation": "warn"}]}');
INSERT INTO pm_src SELECT i, '2026-01-01 00:00:00'::timestamptz + i * interval '1 second', i FROM generate_series(1, 200) i;
SELECT streamext.run_pipeline('pm');
SELECT * FROM run_alert('expectation_failures');
SELECT count(*) FROM run_alert('watermark_stalled');
-- as if the batch had committed 20 minutes ago: the watermark has not moved since
UPDATE streamext.pipeline_batches SET committed_at = committed_at - interval '20 minutes' WHERE pipeline = 'pm';
SELECT r ->> 'pipeline' AS pipeline, r ->> 'watermark' AS watermark FROM run_alert('watermark_stalled') r;
SELECT count(*) FROM run_alert('expectation_failures');
SELECT streamext.drop_pipeline('pm');
DROP TABLE pm_src, pm_out;

SELECT streamext.drop_alert(name) FROM streamext.alerts ORDER BY name;
SELECT count(*) FROM streamext.alert_events;
DROP FUNCTION run_alert(text);
DROP TABLE readings;
DROP SCHEMA se_al;
DROP ROLE regress_al_alice;
DROP ROLE regress_al_bob;
