/*
 * columnar_metadata.h
 *		The interface to versioned_columnar's metadata heap tables
 *		(streamext.columnar_*, declared in columnar.sql): attribute numbers
 *		of their columns and the OIDs of the tables, their indexes and the
 *		storage sequence, cached per backend.
 *
 * The Anum_ and Natts_ constants must match columnar.sql column for column;
 * the first lookup of a table's OID in a backend checks its column count
 * against Natts_, so an extension script and a library of different builds
 * fail with a clear error instead of reading the wrong column.
 */
#ifndef STREAMEXT_COLUMNAR_METADATA_H
#define STREAMEXT_COLUMNAR_METADATA_H

/* streamext.columnar_storage: relfilenode -> storage */
#define Natts_columnar_storage				3
#define Anum_columnar_storage_spcnode		1
#define Anum_columnar_storage_relnode		2
#define Anum_columnar_storage_storage_id	3

/* streamext.columnar_rowid: next free row number of a storage */
#define Natts_columnar_rowid				2
#define Anum_columnar_rowid_storage_id		1
#define Anum_columnar_rowid_next_row		2

/* streamext.columnar_version: one row per committed version */
#define Natts_columnar_version				8
#define Anum_columnar_version_storage_id	1
#define Anum_columnar_version_version		2
#define Anum_columnar_version_committed_at	3
#define Anum_columnar_version_operation		4
#define Anum_columnar_version_parameters	5
#define Anum_columnar_version_rows_added	6
#define Anum_columnar_version_rows_removed	7
#define Anum_columnar_version_committed_by	8

/* streamext.columnar_segment: one row per segment (row group) */
#define Natts_columnar_segment				6
#define Anum_columnar_segment_storage_id	1
#define Anum_columnar_segment_segno			2
#define Anum_columnar_segment_first_row		3
#define Anum_columnar_segment_row_count		4
#define Anum_columnar_segment_added_version	5
#define Anum_columnar_segment_removed_version 6

/* streamext.columnar_chunk: one row per (segment, column) */
#define Natts_columnar_chunk				7
#define Anum_columnar_chunk_storage_id		1
#define Anum_columnar_chunk_segno			2
#define Anum_columnar_chunk_attnum			3
#define Anum_columnar_chunk_null_count		4
#define Anum_columnar_chunk_min_value		5
#define Anum_columnar_chunk_max_value		6
#define Anum_columnar_chunk_data			7

/* streamext.columnar_deletion: deletion vectors, one per (segment, version) */
#define Natts_columnar_deletion				5
#define Anum_columnar_deletion_storage_id	1
#define Anum_columnar_deletion_segno		2
#define Anum_columnar_deletion_version		3
#define Anum_columnar_deletion_deleted		4
#define Anum_columnar_deletion_successors	5

/* streamext.columnar_vacuumed: what streamext.vacuum removed, one row per storage */
#define Natts_columnar_vacuumed				4
#define Anum_columnar_vacuumed_storage_id	1
#define Anum_columnar_vacuumed_readable_from 2
#define Anum_columnar_vacuumed_vacuumed_at	3
#define Anum_columnar_vacuumed_version		4

/* storage_id is the first column of every metadata table but columnar_storage */
#define Anum_columnar_meta_storage_id		1

/*
 * Scan keys of systable_beginscan() and systable_beginscan_ordered() on the
 * indexes of these tables take the table's attribute numbers above (the scan
 * maps them to index columns).
 */

/*
 * OIDs of the metadata objects.  Each errors (ERRCODE_UNDEFINED_TABLE) when
 * the extension is not installed, and a table's accessor errors
 * (ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE) when its column count is not
 * the Natts_ above.
 */
extern Oid	ColumnarStorageRelationId(void);
extern Oid	ColumnarStoragePkeyIndexId(void);
extern Oid	ColumnarStorageStorageIdIndexId(void);
extern Oid	ColumnarStorageSequenceId(void);
extern Oid	ColumnarRowidRelationId(void);
extern Oid	ColumnarRowidPkeyIndexId(void);
extern Oid	ColumnarVersionRelationId(void);
extern Oid	ColumnarVersionPkeyIndexId(void);
extern Oid	ColumnarSegmentRelationId(void);
extern Oid	ColumnarSegmentPkeyIndexId(void);
extern Oid	ColumnarSegmentAddedIndexId(void);
extern Oid	ColumnarSegmentRemovedIndexId(void);
extern Oid	ColumnarChunkRelationId(void);
extern Oid	ColumnarChunkPkeyIndexId(void);
extern Oid	ColumnarDeletionRelationId(void);
extern Oid	ColumnarDeletionPkeyIndexId(void);
extern Oid	ColumnarDeletionVersionIndexId(void);
extern Oid	ColumnarVacuumedRelationId(void);
extern Oid	ColumnarVacuumedPkeyIndexId(void);

/*
 * Are the metadata tables there?  False while the extension is not
 * installed (or is being dropped); never errors.
 */
extern bool columnar_metadata_exists(void);

#endif							/* STREAMEXT_COLUMNAR_METADATA_H */
