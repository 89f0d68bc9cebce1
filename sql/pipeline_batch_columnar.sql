-- A versioned_columnar source is read version by version through
-- streamext.changes(): each batch reads the rows inserted by the versions
-- after the last one read; deletes and updates are not replayed;
-- max_batch_rows cuts at a version boundary.
SET client_min_messages = error;
CREATE TABLE pbc_src (id int, v text) USING versioned_columnar;
CREATE TABLE pbc_out (id int, v text);
INSERT INTO pbc_src VALUES (1, 'v1 before create');
SELECT streamext.create_pipeline('pbc', 'pbc_src', 'pbc_out', NULL,
  '{"trigger": "manual", "max_batch_rows": 2}');
INSERT INTO pbc_src VALUES (2, 'a'), (3, 'a');
INSERT INTO pbc_src VALUES (4, 'b');
DELETE FROM pbc_src WHERE id = 2;
INSERT INTO pbc_src VALUES (5, 'c');
-- batch 1: only the version from before create (with the next one the
-- batch would hold 3 rows > max_batch_rows) ...
SELECT streamext.run_pipeline('pbc', 1);
SELECT * FROM pbc_out ORDER BY id;
-- ... then the rest in two batches (versions 2; 3 to 5), the delete adding nothing
SELECT streamext.run_pipeline('pbc');
SELECT * FROM pbc_out ORDER BY id;
SELECT streamext.run_pipeline('pbc');
UPDATE pbc_src SET v = 'updated' WHERE id = 1;
SELECT streamext.run_pipeline('pbc');
INSERT INTO pbc_src VALUES (6, 'd');
SELECT streamext.run_pipeline('pbc');
SELECT id, count(*) FROM pbc_out GROUP BY id ORDER BY id;
SELECT batch, rows_in, rows_out FROM streamext.pipeline_batches WHERE pipeline = 'pbc' ORDER BY batch;
SELECT streamext.drop_pipeline('pbc');
