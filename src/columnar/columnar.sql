-- columnar.sql: the versioned_columnar table access method, its metadata tables
-- and the gold-table SQL API (history, as_of, restore, verify, changes).
--
-- Storage design (see docs/gold-tables.md): a columnar table's rows live in
-- the heap tables below, one row per segment and per (segment, column), each
-- column's values compressed by the extension (zstd) into a bytea.  Every
-- piece of metadata is an ordinary heap row, so MVCC, WAL, crash recovery and
-- replication come from the heap, and a rolled-back transaction leaves neither
-- rows nor a version behind.

CREATE FUNCTION streamext.columnar_handler(internal) RETURNS table_am_handler
	AS 'MODULE_PATHNAME', 'columnar_handler' LANGUAGE C STRICT;
CREATE ACCESS METHOD versioned_columnar TYPE TABLE HANDLER streamext.columnar_handler;
COMMENT ON ACCESS METHOD versioned_columnar IS 'streamext: compressed column segments with versions and time travel';

-- One storage per table; its relfilenode maps to it (a TRUNCATE keeps the
-- storage, and so its history; a rewrite starts a new storage).
CREATE TABLE streamext.columnar_storage (
	spcnode oid NOT NULL,
	relnode oid NOT NULL,
	storage_id bigint NOT NULL,
	PRIMARY KEY (spcnode, relnode)
);
CREATE INDEX ON streamext.columnar_storage (storage_id);
CREATE SEQUENCE streamext.columnar_storage_seq;

-- Next free row number of a storage: updated in place (not transactionally),
-- so row numbers, and so TIDs, are never reused after a rollback.
CREATE TABLE streamext.columnar_rowid (
	storage_id bigint PRIMARY KEY,
	next_row bigint NOT NULL
);

-- One row per committed version.
CREATE TABLE streamext.columnar_version (
	storage_id bigint NOT NULL,
	version bigint NOT NULL,
	committed_at timestamptz NOT NULL,
	operation text NOT NULL,
	parameters jsonb NOT NULL,
	rows_added bigint NOT NULL,
	rows_removed bigint NOT NULL,
	committed_by oid NOT NULL,
	PRIMARY KEY (storage_id, version)
);

-- One row per segment (row group): rows first_row .. first_row + row_count - 1,
-- added by version added_version, removed (TRUNCATE, restore) by removed_version.
CREATE TABLE streamext.columnar_segment (
	storage_id bigint NOT NULL,
	segno bigint NOT NULL,
	first_row bigint NOT NULL,
	row_count integer NOT NULL,
	added_version bigint NOT NULL,
	removed_version bigint,
	PRIMARY KEY (storage_id, segno)
);

-- One row per (segment, column): the compressed values and their statistics.
CREATE TABLE streamext.columnar_chunk (
	storage_id bigint NOT NULL,
	segno bigint NOT NULL,
	attnum smallint NOT NULL,
	null_count integer NOT NULL,
	min_value bytea,
	max_value bytea,
	data bytea NOT NULL,
	PRIMARY KEY (storage_id, segno, attnum)
);
-- The extension compresses the values itself: keep TOAST from trying again.
ALTER TABLE streamext.columnar_chunk ALTER COLUMN data SET STORAGE EXTERNAL;

-- Deletion vectors: the rows of a segment deleted by one version, as a bitmap.
-- successors (NULL: none) holds, for each deleted row in bitmap order, the row
-- number (int8, -1: none) of the new version an UPDATE made of it, so that a
-- concurrent writer under READ COMMITTED can follow it (EvalPlanQual).
CREATE TABLE streamext.columnar_deletion (
	storage_id bigint NOT NULL,
	segno bigint NOT NULL,
	version bigint NOT NULL,
	deleted bytea NOT NULL,
	successors bytea,
	PRIMARY KEY (storage_id, segno, version)
);

-- What streamext.vacuum removed (columnar_vacuum.c): versions before readable_from
-- are no longer readable; version is the VACUUM version that recorded it.
CREATE TABLE streamext.columnar_vacuumed (
	storage_id bigint PRIMARY KEY,
	readable_from bigint NOT NULL,
	vacuumed_at timestamptz NOT NULL,
	version bigint NOT NULL
);

REVOKE ALL ON streamext.columnar_storage, streamext.columnar_rowid, streamext.columnar_version,
	streamext.columnar_segment, streamext.columnar_chunk, streamext.columnar_deletion,
	streamext.columnar_vacuumed,
	streamext.columnar_storage_seq FROM PUBLIC;

CREATE FUNCTION streamext.history(tbl regclass)
	RETURNS TABLE(version bigint, committed_at timestamptz, operation text, parameters jsonb,
				  rows_added bigint, rows_removed bigint, committed_by name)
	AS 'MODULE_PATHNAME', 'columnar_history' LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION streamext.history(regclass) IS 'the versions of a versioned_columnar table, oldest first';

-- PARALLEL RESTRICTED: the function runs in the leader; as_of in FROM is planned as a
-- (possibly parallel) scan of the version instead.
CREATE FUNCTION streamext.as_of("row" anyelement, version bigint) RETURNS SETOF anyelement
	AS 'MODULE_PATHNAME', 'columnar_as_of_version' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION streamext.as_of(anyelement, bigint) IS 'the rows of a versioned_columnar table as of a version: as_of(NULL::tbl, version => v)';

CREATE FUNCTION streamext.as_of("row" anyelement, at timestamptz) RETURNS SETOF anyelement
	AS 'MODULE_PATHNAME', 'columnar_as_of_time' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION streamext.as_of(anyelement, timestamptz) IS 'the rows of a versioned_columnar table as of a time (the latest version committed at or before it)';

-- restore() runs DELETE and INSERT on the table with the caller's rights.
CREATE FUNCTION streamext.restore(tbl regclass, version bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'columnar_restore' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION streamext.restore(regclass, bigint) IS 'make the state of a version current again, as a new version (returned)';

CREATE FUNCTION streamext.verify(tbl regclass) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'columnar_verify' LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION streamext.verify(regclass) IS 'check the internal consistency of a versioned_columnar table; errors on corruption, else a summary';

-- Internal helpers of restore(); they check the caller's SELECT right on the table.
CREATE FUNCTION streamext._columnar_live_at(tbl regclass, row_id tid, version bigint) RETURNS boolean
	AS 'MODULE_PATHNAME', 'columnar_live_at' LANGUAGE C STRICT STABLE;
CREATE FUNCTION streamext._columnar_restore_rows("row" anyelement, version bigint) RETURNS SETOF anyelement
	AS 'MODULE_PATHNAME', 'columnar_restore_rows' LANGUAGE C STABLE;

CREATE FUNCTION streamext.columnar_size(tbl regclass) RETURNS bigint
	AS 'MODULE_PATHNAME', 'columnar_size' LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION streamext.columnar_size(regclass) IS 'bytes a versioned_columnar table occupies in its segment tables (all versions)';

-- The change data feed (columnar_changes.c) finds what a version wrote through
-- these indexes, without reading the table's other segments and deletions.
-- (Plain indexes: CatalogTupleInsert, which maintains them, takes no partial ones.)
CREATE INDEX columnar_segment_added_idx ON streamext.columnar_segment (storage_id, added_version);
CREATE INDEX columnar_segment_removed_idx ON streamext.columnar_segment (storage_id, removed_version);
CREATE INDEX columnar_deletion_version_idx ON streamext.columnar_deletion (storage_id, version);

-- Not STRICT: the first argument is NULL::tbl and to_version NULL means the newest.
CREATE FUNCTION streamext.changes("row" anyelement, from_version bigint, to_version bigint DEFAULT NULL)
	RETURNS TABLE(_version bigint, _change_type text, _committed_at timestamptz, _row anyelement)
	AS 'MODULE_PATHNAME', 'columnar_changes' LANGUAGE C STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION streamext.changes(anyelement, bigint, bigint) IS 'the change data feed of a versioned_columnar table: every row inserted, deleted or updated by versions from_version .. to_version';

-- Progress of streamext.optimize and streamext.vacuum (columnar_progress.c), in the
-- style of pg_stat_progress_*: one row per backend of this database running one;
-- pid and operation for everyone, the rest for members of that backend's role
-- and of pg_read_all_stats.  Empty, with a WARNING, unless streamext is in
-- shared_preload_libraries.
CREATE FUNCTION streamext._maintenance_progress()
	RETURNS TABLE(pid integer, relid oid, operation text, phase text, segments_total bigint,
				  segments_done bigint, rows_done bigint, started_at timestamptz)
	AS 'MODULE_PATHNAME', 'columnar_maintenance_progress' LANGUAGE C STRICT VOLATILE;
CREATE VIEW streamext.maintenance_progress AS
	SELECT pid, relid, operation, phase, segments_total, segments_done, rows_done, started_at
	FROM streamext._maintenance_progress();
COMMENT ON VIEW streamext.maintenance_progress IS 'what each backend running streamext.optimize or streamext.vacuum is doing';
GRANT SELECT ON streamext.maintenance_progress TO PUBLIC;

-- OPTIMIZE (columnar_optimize.c, columnar_zorder.c): one version whose operation is
-- OPTIMIZE, changing no row.  Not STRICT: zorder_by NULL means bin packing.  The
-- caller must own the table (checked in C, like VACUUM FULL and CLUSTER).
CREATE FUNCTION streamext.optimize(tbl regclass, zorder_by text[] DEFAULT NULL, "full" boolean DEFAULT false)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'columnar_optimize' LANGUAGE C VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION streamext.optimize(regclass, text[], boolean) IS 'compact small and much-deleted segments of a versioned_columnar table into full ones, or with zorder_by cluster its rows on a Z-order curve over those columns; returns metrics';

-- VACUUM with a retention (Delta's): removes what no version committed within
-- retain, and no pipeline reading the table, still needs.  Owner only.
CREATE FUNCTION streamext.vacuum(tbl regclass, retain interval DEFAULT '7 days', dry_run boolean DEFAULT false)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'columnar_vacuum' LANGUAGE C STRICT VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION streamext.vacuum(regclass, interval, boolean) IS 'remove the segments and deletion vectors of a versioned_columnar table that no version committed within retain needs; dry_run: only say what would go';
