-- Second review of issue 10's ingest hardening: attacks by a role without
-- privileges against the merged code.
\set SHOW_CONTEXT never
CREATE ROLE regress_r2_bob LOGIN;
CREATE SCHEMA regress_r2 AUTHORIZATION regress_r2_bob;
CREATE TABLE regress_r2.t (device_id text, seq bigint);
ALTER TABLE regress_r2.t OWNER TO regress_r2_bob;

-- 1. LOCK TABLE: UPDATE or DELETE on a table lets a role lock it in every mode;
-- held open on the extension's tables, that would stall every role's sources
-- (the launcher, each batch's offsets and dead letters, source_status).  Refused
-- above ROW EXCLUSIVE, also through a view of the role's own.
SET ROLE regress_r2_bob;
BEGIN;
LOCK TABLE streamext.sources IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
BEGIN;
LOCK TABLE streamext.source_offsets IN EXCLUSIVE MODE NOWAIT;
ROLLBACK;
BEGIN;
LOCK TABLE streamext.dead_letters IN SHARE UPDATE EXCLUSIVE MODE;
ROLLBACK;
BEGIN;
LOCK TABLE regress_r2.t, streamext.sources IN SHARE MODE;
ROLLBACK;
CREATE VIEW regress_r2.v AS SELECT * FROM streamext.sources;
CREATE VIEW regress_r2.v2 AS
	WITH o AS (SELECT * FROM streamext.source_offsets) SELECT 1 AS one FROM o;
CREATE VIEW regress_r2.v3 AS SELECT 1 AS one FROM regress_r2.t
	WHERE EXISTS (SELECT 1 FROM regress_r2.v2);
BEGIN;
LOCK TABLE regress_r2.v IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
BEGIN;
LOCK TABLE regress_r2.v3 IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
-- the weak modes conflict with nothing the extension does; a role's own tables
BEGIN;
LOCK TABLE streamext.sources, streamext.source_offsets, streamext.dead_letters IN ROW EXCLUSIVE MODE;
LOCK TABLE regress_r2.t IN ACCESS EXCLUSIVE MODE;
ROLLBACK;
RESET ROLE;
-- the tables' owner (a superuser here) may
BEGIN;
LOCK TABLE streamext.sources IN ACCESS EXCLUSIVE MODE;
ROLLBACK;

-- 2. sasl.kerberos.principal goes unquoted into librdkafka's kinit command:
-- a value beginning with "-" would be one of kinit's options (-c writes a file).
SET ROLE regress_r2_bob;
SELECT streamext.create_source('r2_k', '127.0.0.1:1', 't', 'regress_r2.t', 'json',
	'{"kafka": {"security.protocol": "sasl_plaintext", "sasl.mechanisms": "GSSAPI",
	            "sasl.kerberos.principal": "-c/tmp/r2_cache"}}');
SELECT streamext.create_source('r2_k', '127.0.0.1:1', 't', 'regress_r2.t', 'json',
	'{"kafka": {"sasl.kerberos.service.name": "-V"}}');

-- 3. A format option the worker would stop on at its start is refused by
-- create_source and alter_source (a typo found at once, not as state error).
SELECT streamext.create_source('r2_o', '127.0.0.1:1', 't', 'regress_r2.t', 'text', '{"column": "devce_id"}');
SELECT streamext.create_source('r2_o', '127.0.0.1:1', 't', 'regress_r2.t', 'csv', '{"delimiter": "::"}');
SELECT streamext.create_source('r2_o', '127.0.0.1:1', 't', 'regress_r2.t', 'csv', '{"quote": ","}');
SELECT streamext.create_source('r2_o', '127.0.0.1:1', 't', 'regress_r2.t', 'csv', '{"columns": ["seq", "sq"]}');
SELECT streamext.create_source('r2_o', '127.0.0.1:1', 't', 'regress_r2.t', 'json', '{"column_map": {"seq": 5}}');
SELECT streamext.create_source('r2_o', '127.0.0.1:1', 't', 'regress_r2.t', 'csv', '{"columns": ["seq", "device_id"]}');
SELECT streamext.alter_source('r2_o', '{"null": 0}');
SELECT streamext.alter_source('r2_o', '{"null": "NULL"}');
UPDATE streamext.sources SET format = 'text', options = '{"column": "seq"}' WHERE name = 'r2_o';
SELECT name, format, options FROM streamext.sources WHERE name = 'r2_o';
SELECT streamext.drop_source('r2_o');
RESET ROLE;

DROP SCHEMA regress_r2 CASCADE;
DROP ROLE regress_r2_bob;

-- 4. A superuser gives alice's source to carol: carol does not see alice's dead
-- letters in streamext.dead_letters (they are tied to the owner at the time),
-- and must not see her last one's error text in source_status either.
CREATE ROLE regress_r2_alice LOGIN;
CREATE ROLE regress_r2_carol LOGIN;
CREATE SCHEMA regress_r2 AUTHORIZATION regress_r2_alice;
CREATE TABLE regress_r2.t2 (device_id text, seq bigint);
GRANT USAGE ON SCHEMA regress_r2 TO regress_r2_carol;
GRANT INSERT ON regress_r2.t2 TO regress_r2_alice, regress_r2_carol;
SET ROLE regress_r2_alice;
SELECT streamext.create_source('r2_given', '127.0.0.1:1', 't', 'regress_r2.t2');
INSERT INTO streamext.dead_letters (source, error, payload)
	VALUES ('r2_given', 'alice''s secret payload did not parse', 'secret');
SELECT source, dead_letters, last_dead_letter_error FROM streamext.source_status WHERE source = 'r2_given';
RESET ROLE;
UPDATE streamext.sources SET owner = 'regress_r2_carol' WHERE name = 'r2_given';
SET ROLE regress_r2_carol;
SELECT count(*) FROM streamext.dead_letters;
SELECT source, dead_letters, last_dead_letter_error FROM streamext.source_status WHERE source = 'r2_given';
RESET ROLE;
SELECT streamext.drop_source('r2_given');
DELETE FROM streamext.dead_letters WHERE source = 'r2_given';
DROP SCHEMA regress_r2 CASCADE;
DROP ROLE regress_r2_alice, regress_r2_carol;
