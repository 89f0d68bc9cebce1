-- versioned_columnar metadata interface (columnar_metadata.c): the OIDs of the
-- metadata tables are cached per backend; the cache must follow DROP EXTENSION
-- and CREATE EXTENSION in the same session, a rolled-back CREATE EXTENSION, and
-- catch a metadata table whose columns do not match the library.
CREATE TABLE col_meta (id int, v text) USING versioned_columnar;
INSERT INTO col_meta SELECT g, 'v' || g FROM generate_series(1, 100) g;
SELECT count(*), sum(id) FROM col_meta;
DROP TABLE col_meta;

-- the cached OIDs are gone with the extension; the new objects are found
DROP EXTENSION streamext;
CREATE EXTENSION streamext;
CREATE TABLE col_meta (id int, v text) USING versioned_columnar;
INSERT INTO col_meta SELECT g, 'v' || g FROM generate_series(1, 100) g;
DELETE FROM col_meta WHERE id <= 10;
SELECT count(*), sum(id) FROM col_meta;
SELECT version, operation, rows_added, rows_removed FROM streamext.history('col_meta');
SELECT count(*) FROM streamext.as_of(NULL::col_meta, version => 1);
SELECT _change_type, count(*) FROM streamext.changes(NULL::col_meta, 2) GROUP BY 1;
SELECT streamext.verify('col_meta') ->> 'rows' AS rows, streamext.verify('col_meta') ->> 'deleted_rows' AS deleted_rows;

-- DROP EXTENSION ... CASCADE with a columnar table: the table's metadata goes too
DROP EXTENSION streamext CASCADE;
CREATE EXTENSION streamext;
SELECT count(*) AS storages FROM streamext.columnar_storage;
CREATE TABLE col_meta (id int, v text) USING versioned_columnar;
INSERT INTO col_meta VALUES (1, 'one');

-- a CREATE EXTENSION rolled back: its objects were cached, the old ones are used again
BEGIN;
DROP TABLE col_meta;
DROP EXTENSION streamext;
CREATE EXTENSION streamext;
CREATE TABLE col_meta2 (id int) USING versioned_columnar;
INSERT INTO col_meta2 VALUES (1), (2);
SELECT count(*) FROM col_meta2;
ROLLBACK;
INSERT INTO col_meta VALUES (2, 'two');
SELECT * FROM col_meta ORDER BY id;
SELECT version, operation FROM streamext.history('col_meta');

-- a metadata table that does not match the library is reported, not misread
BEGIN;
ALTER TABLE streamext.columnar_segment ADD COLUMN extra int;
SELECT count(*) FROM col_meta;
ROLLBACK;
INSERT INTO col_meta VALUES (3, 'three');
SELECT count(*) FROM col_meta;
DROP TABLE col_meta;
