-- streamext.source_offsets has no foreign key to streamext.sources (pg_restore -j
-- loads the two tables in parallel, in no order): renaming, dropping and
-- truncating sources carry over to the offsets through triggers, also for a
-- role that sees only its own rows.
CREATE ROLE regress_oc_alice LOGIN;
CREATE ROLE regress_oc_bob LOGIN;
CREATE SCHEMA regress_oc;
GRANT USAGE ON SCHEMA regress_oc TO PUBLIC;
CREATE TABLE regress_oc.ta (v text);
CREATE TABLE regress_oc.tb (v text);
ALTER TABLE regress_oc.ta OWNER TO regress_oc_alice;
ALTER TABLE regress_oc.tb OWNER TO regress_oc_bob;
SET ROLE regress_oc_alice;
SELECT streamext.create_source('oc_a', '127.0.0.1:1', 't', 'regress_oc.ta', 'text', '{"column": "v"}');
SELECT streamext.pause_source('oc_a');
SET ROLE regress_oc_bob;
SELECT streamext.create_source('oc_b', '127.0.0.1:1', 't', 'regress_oc.tb', 'text', '{"column": "v"}');
SELECT streamext.pause_source('oc_b');
RESET ROLE;
-- as a worker would have stored them
INSERT INTO streamext.source_offsets (source, topic, partition, next_offset)
	VALUES ('oc_a', 't', 0, 42), ('oc_a', 't', 1, 7), ('oc_b', 't', 0, 5);

-- a rename by the owner (the row-level security of the offsets hides bob's)
SET ROLE regress_oc_alice;
UPDATE streamext.sources SET name = 'oc_a2' WHERE name = 'oc_a';
SELECT source, partition, next_offset FROM streamext.source_offsets ORDER BY 1, 2;
-- another role's source: not visible, so not renamed or deleted
UPDATE streamext.sources SET name = 'oc_b2' WHERE name = 'oc_b';
DELETE FROM streamext.sources WHERE name = 'oc_b';
RESET ROLE;
SELECT source, partition, next_offset FROM streamext.source_offsets ORDER BY 1, 2;

-- dropping a source drops its offsets, not the others'
SET ROLE regress_oc_alice;
SELECT streamext.drop_source('oc_a2');
RESET ROLE;
SELECT source, partition, next_offset FROM streamext.source_offsets ORDER BY 1, 2;

-- a plain DELETE by the owner, then TRUNCATE by the superuser
INSERT INTO streamext.source_offsets (source, topic, partition, next_offset) VALUES ('oc_b', 't', 1, 9);
SET ROLE regress_oc_bob;
DELETE FROM streamext.sources WHERE name = 'oc_b';
RESET ROLE;
SELECT count(*) FROM streamext.source_offsets;
SET ROLE regress_oc_bob;
SELECT streamext.create_source('oc_b', '127.0.0.1:1', 't', 'regress_oc.tb', 'text', '{"column": "v"}');
SELECT streamext.pause_source('oc_b');
RESET ROLE;
INSERT INTO streamext.source_offsets (source, topic, partition, next_offset) VALUES ('oc_b', 't', 0, 1);
TRUNCATE streamext.sources;
SELECT count(*) FROM streamext.source_offsets;
-- the trigger function cannot be called directly
SELECT streamext._sources_cascade();

DROP SCHEMA regress_oc CASCADE;
DROP ROLE regress_oc_alice;
DROP ROLE regress_oc_bob;
