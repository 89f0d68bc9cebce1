/*
 * columnar_metadata.c
 *		OIDs of versioned_columnar's metadata tables, their indexes and the
 *		storage sequence (see columnar_metadata.h), looked up by name once per
 *		backend and cached.
 *
 * The cache is a small array filled on first use.  A relcache invalidation
 * of any cached relation (DROP EXTENSION drops them all; a rolled-back
 * CREATE EXTENSION invalidates what it created) or a full relcache reset
 * empties it, so a DROP EXTENSION and CREATE EXTENSION in one session finds
 * the new objects.  Nothing is cached while the extension is missing.
 *
 * On first lookup of a table the catalog's column count is compared with
 * the Natts_ constant the library was built with: a library and an
 * extension script from different builds would otherwise read the wrong
 * columns.
 */
#include "postgres.h"

#include "columnar/columnar_metadata.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

typedef enum ColumnarMetaObject
{
	META_STORAGE,
	META_STORAGE_PKEY,
	META_STORAGE_STORAGE_ID_IDX,
	META_STORAGE_SEQ,
	META_ROWID,
	META_ROWID_PKEY,
	META_VERSION,
	META_VERSION_PKEY,
	META_SEGMENT,
	META_SEGMENT_PKEY,
	META_SEGMENT_ADDED_IDX,
	META_SEGMENT_REMOVED_IDX,
	META_CHUNK,
	META_CHUNK_PKEY,
	META_DELETION,
	META_DELETION_PKEY,
	META_DELETION_VERSION_IDX,
	META_VACUUMED,
	META_VACUUMED_PKEY,
	META_COUNT
} ColumnarMetaObject;

/* Names as columnar.sql creates them; natts 0: not a table (not checked). */
static const struct
{
	const char *name;
	int			natts;
}			meta_objects[META_COUNT] =
{
	[META_STORAGE] = {"columnar_storage", Natts_columnar_storage},
	[META_STORAGE_PKEY] = {"columnar_storage_pkey", 0},
	[META_STORAGE_STORAGE_ID_IDX] = {"columnar_storage_storage_id_idx", 0},
	[META_STORAGE_SEQ] = {"columnar_storage_seq", 0},
	[META_ROWID] = {"columnar_rowid", Natts_columnar_rowid},
	[META_ROWID_PKEY] = {"columnar_rowid_pkey", 0},
	[META_VERSION] = {"columnar_version", Natts_columnar_version},
	[META_VERSION_PKEY] = {"columnar_version_pkey", 0},
	[META_SEGMENT] = {"columnar_segment", Natts_columnar_segment},
	[META_SEGMENT_PKEY] = {"columnar_segment_pkey", 0},
	[META_SEGMENT_ADDED_IDX] = {"columnar_segment_added_idx", 0},
	[META_SEGMENT_REMOVED_IDX] = {"columnar_segment_removed_idx", 0},
	[META_CHUNK] = {"columnar_chunk", Natts_columnar_chunk},
	[META_CHUNK_PKEY] = {"columnar_chunk_pkey", 0},
	[META_DELETION] = {"columnar_deletion", Natts_columnar_deletion},
	[META_DELETION_PKEY] = {"columnar_deletion_pkey", 0},
	[META_DELETION_VERSION_IDX] = {"columnar_deletion_version_idx", 0},
	[META_VACUUMED] = {"columnar_vacuumed", Natts_columnar_vacuumed},
	[META_VACUUMED_PKEY] = {"columnar_vacuumed_pkey", 0},
};

StaticAssertDecl(Anum_columnar_rowid_storage_id == Anum_columnar_meta_storage_id &&
				 Anum_columnar_version_storage_id == Anum_columnar_meta_storage_id &&
				 Anum_columnar_segment_storage_id == Anum_columnar_meta_storage_id &&
				 Anum_columnar_chunk_storage_id == Anum_columnar_meta_storage_id &&
				 Anum_columnar_deletion_storage_id == Anum_columnar_meta_storage_id &&
				 Anum_columnar_vacuumed_storage_id == Anum_columnar_meta_storage_id,
				 "storage_id is the first column of the per-storage metadata tables");

static Oid	meta_oids[META_COUNT];
static bool callback_registered = false;

/*
 * Counts relcache invalidations: a lookup that saw one arrive meanwhile
 * (catalog access accepts invalidations) does not cache what it found, which
 * may be a relation being dropped.
 */
static uint64 meta_generation = 0;

/*
 * A relcache invalidation: forget everything if it concerns one of ours
 * (or all relations).  Cheap enough to simply refill afterwards.
 */
static void
columnar_metadata_invalidate(Datum arg, Oid relid)
{
	int			i;

	meta_generation++;
	if (OidIsValid(relid))
	{
		for (i = 0; i < META_COUNT; i++)
			if (meta_oids[i] == relid)
				break;
		if (i == META_COUNT)
			return;
	}
	memset(meta_oids, 0, sizeof(meta_oids));
}

/* The relation's OID by name in schema streamext; InvalidOid if missing. */
static Oid
meta_lookup(const char *name)
{
	Oid			nsp = get_namespace_oid("streamext", true);

	return OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
}

/* The extension script and this library must agree on a table's columns. */
static void
check_natts(Oid relid, const char *name, int natts)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	int			catalog_natts;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	catalog_natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
	ReleaseSysCache(tup);
	if (catalog_natts != natts)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("versioned_columnar metadata table streamext.%s has %d columns, the streamext library expects %d",
						name, catalog_natts, natts),
				 errhint("The installed extension script and the loaded library come from different builds: "
						 "reinstall streamext and reconnect.")));
}

static Oid
meta_oid(ColumnarMetaObject which)
{
	Oid			relid = meta_oids[which];
	uint64		generation;

	if (likely(OidIsValid(relid)))
		return relid;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(columnar_metadata_invalidate, (Datum) 0);
		callback_registered = true;
	}
	generation = meta_generation;
	relid = meta_lookup(meta_objects[which].name);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("versioned_columnar metadata table streamext.%s does not exist",
						meta_objects[which].name),
				 errhint("Is the streamext extension installed in this database?")));
	if (meta_objects[which].natts > 0)
		check_natts(relid, meta_objects[which].name, meta_objects[which].natts);
	if (generation == meta_generation)
		meta_oids[which] = relid;
	return relid;
}

bool
columnar_metadata_exists(void)
{
	/* not cached: called while the extension's own objects are being dropped */
	return OidIsValid(meta_lookup(meta_objects[META_STORAGE].name));
}

Oid
ColumnarStorageRelationId(void)
{
	return meta_oid(META_STORAGE);
}

Oid
ColumnarStoragePkeyIndexId(void)
{
	return meta_oid(META_STORAGE_PKEY);
}

Oid
ColumnarStorageStorageIdIndexId(void)
{
	return meta_oid(META_STORAGE_STORAGE_ID_IDX);
}

Oid
ColumnarStorageSequenceId(void)
{
	return meta_oid(META_STORAGE_SEQ);
}

Oid
ColumnarRowidRelationId(void)
{
	return meta_oid(META_ROWID);
}

Oid
ColumnarRowidPkeyIndexId(void)
{
	return meta_oid(META_ROWID_PKEY);
}

Oid
ColumnarVersionRelationId(void)
{
	return meta_oid(META_VERSION);
}

Oid
ColumnarVersionPkeyIndexId(void)
{
	return meta_oid(META_VERSION_PKEY);
}

Oid
ColumnarSegmentRelationId(void)
{
	return meta_oid(META_SEGMENT);
}

Oid
ColumnarSegmentPkeyIndexId(void)
{
	return meta_oid(META_SEGMENT_PKEY);
}

Oid
ColumnarSegmentAddedIndexId(void)
{
	return meta_oid(META_SEGMENT_ADDED_IDX);
}

Oid
ColumnarSegmentRemovedIndexId(void)
{
	return meta_oid(META_SEGMENT_REMOVED_IDX);
}

Oid
ColumnarChunkRelationId(void)
{
	return meta_oid(META_CHUNK);
}

Oid
ColumnarChunkPkeyIndexId(void)
{
	return meta_oid(META_CHUNK_PKEY);
}

Oid
ColumnarDeletionRelationId(void)
{
	return meta_oid(META_DELETION);
}

Oid
ColumnarDeletionPkeyIndexId(void)
{
	return meta_oid(META_DELETION_PKEY);
}

Oid
ColumnarDeletionVersionIndexId(void)
{
	return meta_oid(META_DELETION_VERSION_IDX);
}

Oid
ColumnarVacuumedRelationId(void)
{
	return meta_oid(META_VACUUMED);
}

Oid
ColumnarVacuumedPkeyIndexId(void)
{
	return meta_oid(META_VACUUMED_PKEY);
}
