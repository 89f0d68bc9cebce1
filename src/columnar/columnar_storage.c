/*
 * columnar_storage.c
 *		Storage layer of versioned_columnar: the metadata heap tables
 *		(storage map, row number counters, versions, segments, column chunks,
 *		deletion vectors) and the column chunk codec.
 *
 * Every piece of a columnar table is a row of an ordinary heap table in
 * schema streamext, so MVCC, WAL, crash recovery, replication and rollback
 * come from the heap.  The one exception is the row number counter, which
 * must move forward even when a transaction rolls back (an aborted
 * transaction's index entries still point at its row numbers), so it is
 * updated in place and WAL-logged with generic WAL.
 */
#include "postgres.h"

#include <math.h>
#include <zstd.h>

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"

#include "access/detoast.h"
#include "access/generic_xlog.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tupmacs.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "commands/sequence.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"
#include "utils/varlena.h"
#include "utils/memutils.h"
#include "commands/defrem.h"

int			columnar_segment_rows = 10000;
int			columnar_compression_level = 3;

/* Chunk header: method byte, then the raw payload's length. */
#define CHUNK_RAW	0
#define CHUNK_ZSTD	1
#define CHUNK_HDR	5

/* Min/max values larger than this are not kept (they would not pay off). */
#define MAX_STAT_BYTES 256

/* ---------------------------------------------------------------- */
/* metadata relations                                                */
/* ---------------------------------------------------------------- */

Oid
columnar_meta_relid(const char *name)
{
	Oid			nsp = get_namespace_oid("streamext", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("versioned_columnar metadata table streamext.%s does not exist", name),
				 errhint("Is the streamext extension installed in this database?")));
	return relid;
}

Relation
columnar_meta_open(const char *name, LOCKMODE mode)
{
	return table_open(columnar_meta_relid(name), mode);
}

Oid
columnar_meta_index(const char *name)
{
	return columnar_meta_relid(name);
}

Oid
columnar_am_oid(void)
{
	return get_am_oid("versioned_columnar", true);
}

bool
columnar_is_columnar(Relation rel)
{
	Oid			am = columnar_am_oid();

	return OidIsValid(am) && rel->rd_rel->relam == am &&
		(rel->rd_rel->relkind == RELKIND_RELATION || rel->rd_rel->relkind == RELKIND_MATVIEW);
}

/* ---------------------------------------------------------------- */
/* storage map                                                       */
/* ---------------------------------------------------------------- */

/*
 * relfilenode -> storage, cached for the transaction (a mapping changes only
 * through this backend's own DDL, which updates the cache, or through DDL of
 * others, which waits for our locks on the table).
 */
typedef struct StorageCacheEntry
{
	Oid			key[2];
	int64		storage_id;
} StorageCacheEntry;

static HTAB *storage_cache = NULL;

static void
storage_cache_set(Oid spcnode, Oid relnode, int64 storage_id)
{
	Oid			key[2] = {spcnode, relnode};
	StorageCacheEntry *e;

	if (storage_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(key);
		ctl.entrysize = sizeof(StorageCacheEntry);
		ctl.hcxt = TopTransactionContext;
		storage_cache = hash_create("columnar storage cache", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (storage_id == 0)
		hash_search(storage_cache, key, HASH_REMOVE, NULL);
	else
	{
		e = hash_search(storage_cache, key, HASH_ENTER, NULL);
		e->storage_id = storage_id;
	}
}

/* Called at transaction end: the cache lived in TopTransactionContext. */
void
columnar_storage_cache_reset(void)
{
	storage_cache = NULL;
}

/*
 * Called when a subtransaction rolls back: the mappings it made are gone
 * (and their relfilenode numbers may be handed out again).
 */
void
columnar_storage_cache_forget(void)
{
	if (storage_cache != NULL)
		hash_destroy(storage_cache);
	storage_cache = NULL;
}

static int64
storage_lookup(Oid spcnode, Oid relnode, bool missing_ok)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int64		result = 0;

	if (storage_cache != NULL && IsTransactionState())
	{
		Oid			k[2] = {spcnode, relnode};
		StorageCacheEntry *e = hash_search(storage_cache, k, HASH_FIND, NULL);

		if (e)
			return e->storage_id;
	}
	rel = columnar_meta_open("columnar_storage", AccessShareLock);

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(spcnode));
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relnode));
	scan = systable_beginscan(rel, columnar_meta_index("columnar_storage_pkey"), true,
							  SnapshotSelf, 2, key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;

		result = DatumGetInt64(heap_getattr(tup, 3, RelationGetDescr(rel), &isnull));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (result != 0 && IsTransactionState())
		storage_cache_set(spcnode, relnode, result);
	if (result == 0 && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("versioned_columnar storage of relfilenode %u/%u is missing", spcnode, relnode)));
	return result;
}

int64
columnar_storage_id(Relation rel, bool missing_ok)
{
	return storage_lookup(rel->rd_node.spcNode, rel->rd_node.relNode, missing_ok);
}

/* Map a new relfilenode to a storage; storage_id 0 creates a new storage. */
void
columnar_storage_create(const RelFileNode *node, int64 storage_id)
{
	Relation	rel;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	HeapTuple	tup;
	bool		new_storage = (storage_id == 0);

	if (new_storage)
		storage_id = nextval_internal(columnar_meta_relid("columnar_storage_seq"), false);

	rel = columnar_meta_open("columnar_storage", RowExclusiveLock);
	values[0] = ObjectIdGetDatum(node->spcNode);
	values[1] = ObjectIdGetDatum(node->relNode);
	values[2] = Int64GetDatum(storage_id);
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	CatalogTupleInsert(rel, tup);
	table_close(rel, RowExclusiveLock);
	storage_cache_set(node->spcNode, node->relNode, storage_id);

	if (new_storage)
	{
		rel = columnar_meta_open("columnar_rowid", RowExclusiveLock);
		values[0] = Int64GetDatum(storage_id);
		values[1] = Int64GetDatum(0);
		tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
		CatalogTupleInsert(rel, tup);
		table_close(rel, RowExclusiveLock);
	}
	CommandCounterIncrement();
}

/* Delete the metadata rows of one storage from one metadata table. */
static void
delete_storage_rows(const char *table, const char *index, int64 storage_id)
{
	Relation	rel = columnar_meta_open(table, RowExclusiveLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	scan = systable_beginscan(rel, columnar_meta_index(index), true, SnapshotSelf, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		CHECK_FOR_INTERRUPTS();
		CatalogTupleDelete(rel, &tup->t_self);
	}
	systable_endscan(scan);
	table_close(rel, RowExclusiveLock);
}

/*
 * Remove all rows of a storage (a table truncated in the transaction that
 * created it), with history also its versions (ON COMMIT DELETE ROWS).
 */
void
columnar_storage_clear(int64 storage_id, bool history)
{
	delete_storage_rows("columnar_chunk", "columnar_chunk_pkey", storage_id);
	delete_storage_rows("columnar_segment", "columnar_segment_pkey", storage_id);
	delete_storage_rows("columnar_deletion", "columnar_deletion_pkey", storage_id);
	if (history)
		delete_storage_rows("columnar_version", "columnar_version_pkey", storage_id);
	CommandCounterIncrement();
}

/*
 * Forget a relfilenode (its relation is dropped, or it was replaced).  When
 * no relfilenode maps to the storage any more, all its data goes too.
 */
void
columnar_storage_drop_node(Oid spcnode, Oid relnode)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int64		storage_id = 0;
	bool		still_used = false;

	if (!OidIsValid(get_namespace_oid("streamext", true)) ||
		!OidIsValid(get_relname_relid("columnar_storage", get_namespace_oid("streamext", true))))
		return;					/* the extension is being dropped too */
	storage_cache_set(spcnode, relnode, 0);

	rel = columnar_meta_open("columnar_storage", RowExclusiveLock);
	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(spcnode));
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relnode));
	scan = systable_beginscan(rel, columnar_meta_index("columnar_storage_pkey"), true,
							  SnapshotSelf, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;

		storage_id = DatumGetInt64(heap_getattr(tup, 3, RelationGetDescr(rel), &isnull));
		CatalogTupleDelete(rel, &tup->t_self);
	}
	systable_endscan(scan);

	if (storage_id != 0)
	{
		ScanKeyInit(&key[0], 3, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
		scan = systable_beginscan(rel, columnar_meta_index("columnar_storage_storage_id_idx"),
								  true, SnapshotSelf, 1, key);
		still_used = HeapTupleIsValid(systable_getnext(scan));
		systable_endscan(scan);
	}
	table_close(rel, RowExclusiveLock);

	if (storage_id != 0 && !still_used)
	{
		columnar_write_state_dropped(storage_id);
		delete_storage_rows("columnar_chunk", "columnar_chunk_pkey", storage_id);
		delete_storage_rows("columnar_segment", "columnar_segment_pkey", storage_id);
		delete_storage_rows("columnar_deletion", "columnar_deletion_pkey", storage_id);
		delete_storage_rows("columnar_version", "columnar_version_pkey", storage_id);
		delete_storage_rows("columnar_rowid", "columnar_rowid_pkey", storage_id);
	}
	CommandCounterIncrement();
}

/* A relation moves to a new relfilenode but keeps its storage (and history). */
void
columnar_storage_rekey(Relation rel, const RelFileNode *newnode)
{
	int64		storage_id = columnar_storage_id(rel, false);

	columnar_storage_create(newnode, storage_id);
	columnar_storage_drop_node(rel->rd_node.spcNode, rel->rd_node.relNode);
}

/* ---------------------------------------------------------------- */
/* row numbers                                                       */
/* ---------------------------------------------------------------- */

/* Find the counter row's TID with a snapshot that sees our own inserts. */
static bool
rowid_tid(Relation rel, int64 storage_id, ItemPointer tid, int64 *value)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	scan = systable_beginscan(rel, columnar_meta_index("columnar_rowid_pkey"), true,
							  SnapshotSelf, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;

		*tid = tup->t_self;
		*value = DatumGetInt64(heap_getattr(tup, 2, RelationGetDescr(rel), &isnull));
		found = true;
	}
	systable_endscan(scan);
	return found;
}

int64
columnar_next_row(int64 storage_id)
{
	Relation	rel = columnar_meta_open("columnar_rowid", AccessShareLock);
	ItemPointerData tid;
	int64		value = 0;

	rowid_tid(rel, storage_id, &tid, &value);
	table_close(rel, AccessShareLock);
	return value;
}

/*
 * Reserve count row numbers and return the first.  The caller holds the
 * storage's writer lock, so nobody else moves this counter meanwhile; the
 * update is in place (it survives a rollback) and WAL-logged.
 */
int64
columnar_reserve_rows(int64 storage_id, int64 count)
{
	Relation	rel = columnar_meta_open("columnar_rowid", RowExclusiveLock);
	ItemPointerData tid;
	int64		value;
	Buffer		buf;
	Page		page;
	GenericXLogState *state;
	ItemId		itemid;
	HeapTupleHeader htup;
	char	   *data;
	int64		newvalue;

	if (!rowid_tid(rel, storage_id, &tid, &value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("row number counter of versioned_columnar storage " INT64_FORMAT " is missing",
						storage_id)));

	buf = ReadBuffer(rel, ItemPointerGetBlockNumber(&tid));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(rel);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	itemid = PageGetItemId(page, ItemPointerGetOffsetNumber(&tid));
	if (!ItemIdIsNormal(itemid))
		elog(ERROR, "row number counter tuple of storage " INT64_FORMAT " is not normal", storage_id);
	htup = (HeapTupleHeader) PageGetItem(page, itemid);
	/* two NOT NULL bigint columns: the counter is the second */
	data = (char *) htup + htup->t_hoff + sizeof(int64);
	memcpy(&value, data, sizeof(int64));
	newvalue = value + count;
	memcpy(data, &newvalue, sizeof(int64));
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	table_close(rel, RowExclusiveLock);
	return value;
}

/* ---------------------------------------------------------------- */
/* versions and segments                                             */
/* ---------------------------------------------------------------- */

int64
columnar_latest_version(int64 storage_id, Snapshot snapshot)
{
	Relation	rel = columnar_meta_open("columnar_version", AccessShareLock);
	Relation	idx = index_open(columnar_meta_index("columnar_version_pkey"), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	int64		result = 0;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	scan = systable_beginscan_ordered(rel, idx, snapshot, 1, &key);
	tup = systable_getnext_ordered(scan, BackwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;

		result = DatumGetInt64(heap_getattr(tup, 2, RelationGetDescr(rel), &isnull));
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return result;
}

static void
segment_from_tuple(HeapTuple tup, TupleDesc desc, ColumnarSegment *seg)
{
	bool		isnull;
	Datum		d;

	seg->segno = DatumGetInt64(heap_getattr(tup, 2, desc, &isnull));
	seg->row_count = DatumGetInt32(heap_getattr(tup, 4, desc, &isnull));
	seg->added_version = DatumGetInt64(heap_getattr(tup, 5, desc, &isnull));
	d = heap_getattr(tup, 6, desc, &isnull);
	seg->removed_version = isnull ? 0 : DatumGetInt64(d);
}

/* All segment rows of a storage visible to snapshot, in row order. */
List *
columnar_segments(int64 storage_id, Snapshot snapshot)
{
	Relation	rel = columnar_meta_open("columnar_segment", AccessShareLock);
	Relation	idx = index_open(columnar_meta_index("columnar_segment_pkey"), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	scan = systable_beginscan_ordered(rel, idx, snapshot, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		ColumnarSegment *seg = palloc(sizeof(ColumnarSegment));

		segment_from_tuple(tup, RelationGetDescr(rel), seg);
		result = lappend(result, seg);
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return result;
}

static int
cmp_segment_segno(const ListCell *a, const ListCell *b)
{
	int64		x = ((ColumnarSegment *) lfirst(a))->segno;
	int64		y = ((ColumnarSegment *) lfirst(b))->segno;

	return (x > y) - (x < y);
}

/*
 * The segment rows of a storage visible to snapshot that are not removed,
 * in row order: through the removed_version index (IS NULL), so that the
 * segments an OPTIMIZE or a TRUNCATE removed, which time travel keeps, cost
 * a current read nothing.
 */
List *
columnar_live_segments(int64 storage_id, Snapshot snapshot)
{
	Relation	rel = columnar_meta_open("columnar_segment", AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	ScanKeyEntryInitialize(&key[1], SK_ISNULL | SK_SEARCHNULL, 6, InvalidStrategy, InvalidOid,
						   InvalidOid, InvalidOid, (Datum) 0);
	scan = systable_beginscan(rel, columnar_meta_index("columnar_segment_removed_idx"), true,
							  snapshot, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		ColumnarSegment *seg = palloc(sizeof(ColumnarSegment));

		segment_from_tuple(tup, RelationGetDescr(rel), seg);
		if (seg->removed_version == 0)
			result = lappend(result, seg);
		else
			pfree(seg);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (list_length(result) > 1)
		list_sort(result, cmp_segment_segno);
	return result;
}

/* The segment holding a row number, if one is visible to snapshot. */
bool
columnar_find_segment(int64 storage_id, int64 rownum, Snapshot snapshot,
					  ColumnarSegment *seg)
{
	Relation	rel = columnar_meta_open("columnar_segment", AccessShareLock);
	Relation	idx = index_open(columnar_meta_index("columnar_segment_pkey"), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], 2, BTLessEqualStrategyNumber, F_INT8LE, Int64GetDatum(rownum));
	scan = systable_beginscan_ordered(rel, idx, snapshot, 2, key);
	tup = systable_getnext_ordered(scan, BackwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		segment_from_tuple(tup, RelationGetDescr(rel), seg);
		found = rownum < seg->segno + seg->row_count;
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Rows of a segment deleted as seen by snapshot: by any visible deletion
 * row, or with as_of_version > 0 only by versions up to it.
 */
uint8 *
columnar_deleted_bitmap(int64 storage_id, int64 segno, int32 nrows,
						Snapshot snapshot, int64 as_of_version, int *ndeleted)
{
	Relation	rel = columnar_meta_open("columnar_deletion", AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	uint8	   *bits = NULL;
	int			nbytes = (nrows + 7) / 8;

	*ndeleted = 0;
	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(segno));
	scan = systable_beginscan(rel, columnar_meta_index("columnar_deletion_pkey"), true,
							  snapshot, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		int64		version = DatumGetInt64(heap_getattr(tup, 3, RelationGetDescr(rel), &isnull));
		bytea	   *b;
		int			i;
		int			len;

		if (as_of_version > 0 && version > as_of_version)
			continue;
		b = DatumGetByteaPP(heap_getattr(tup, 4, RelationGetDescr(rel), &isnull));
		len = Min(VARSIZE_ANY_EXHDR(b), nbytes);
		if (bits == NULL)
			bits = palloc0(nbytes);
		for (i = 0; i < len; i++)
			bits[i] |= ((uint8 *) VARDATA_ANY(b))[i];
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (bits != NULL)
	{
		int			i;

		for (i = 0; i < nrows; i++)
			if (bits[i / 8] & (1 << (i % 8)))
				(*ndeleted)++;
	}
	return bits;
}

/*
 * A deletion vector of one version; succ (or NULL) gives, for each row of
 * the segment an UPDATE deleted, the row number of its new version (-1 for
 * rows simply deleted), stored as int64s in the order of the bitmap's bits.
 */
void
columnar_insert_deletion(int64 storage_id, int64 segno, int64 version,
						 uint8 *bits, int32 nrows, int64 *succ)
{
	Relation	rel = columnar_meta_open("columnar_deletion", RowExclusiveLock);
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, true};
	int			nbytes = (nrows + 7) / 8;
	bytea	   *b = palloc(VARHDRSZ + nbytes);
	HeapTuple	tup;

	SET_VARSIZE(b, VARHDRSZ + nbytes);
	memcpy(VARDATA(b), bits, nbytes);
	values[0] = Int64GetDatum(storage_id);
	values[1] = Int64GetDatum(segno);
	values[2] = Int64GetDatum(version);
	values[3] = PointerGetDatum(b);
	if (succ != NULL)
	{
		StringInfoData sbuf;
		int			i;

		initStringInfo(&sbuf);
		appendStringInfoSpaces(&sbuf, VARHDRSZ);
		for (i = 0; i < nrows; i++)
			if (bits[i / 8] & (1 << (i % 8)))
				appendBinaryStringInfo(&sbuf, (char *) &succ[i], sizeof(int64));
		SET_VARSIZE(sbuf.data, sbuf.len);
		values[4] = PointerGetDatum(sbuf.data);
		nulls[4] = false;
	}
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	CatalogTupleInsert(rel, tup);
	table_close(rel, RowExclusiveLock);
}

/*
 * The new version of row r of a segment, if a committed UPDATE deleted it
 * (as SnapshotSelf sees the deletion vectors); -1 if it was deleted without
 * a successor or is not deleted.
 */
int64
columnar_row_successor(int64 storage_id, int64 segno, int32 r)
{
	Relation	rel = columnar_meta_open("columnar_deletion", AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int64		result = -1;

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(segno));
	scan = systable_beginscan(rel, columnar_meta_index("columnar_deletion_pkey"), true,
							  SnapshotSelf, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		bytea	   *b = DatumGetByteaPP(heap_getattr(tup, 4, RelationGetDescr(rel), &isnull));
		uint8	   *bits = (uint8 *) VARDATA_ANY(b);
		Datum		sd;
		bytea	   *sb;
		int			rank = 0;
		int			i;

		if (r / 8 >= (int) VARSIZE_ANY_EXHDR(b) || !(bits[r / 8] & (1 << (r % 8))))
			continue;
		sd = heap_getattr(tup, 5, RelationGetDescr(rel), &isnull);
		if (isnull)
			break;
		for (i = 0; i < r; i++)
			if (bits[i / 8] & (1 << (i % 8)))
				rank++;
		sb = DatumGetByteaPP(sd);
		if ((Size) (rank + 1) * sizeof(int64) <= VARSIZE_ANY_EXHDR(sb))
			memcpy(&result, VARDATA_ANY(sb) + rank * sizeof(int64), sizeof(int64));
		break;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

/* Live rows, roughly: for the planner. */
int64
columnar_live_rows_estimate(Relation rel)
{
	int64		storage_id = columnar_storage_id(rel, true);
	List	   *segs;
	ListCell   *lc;
	int64		rows = 0;
	ColumnarWriteState *ws;

	if (storage_id == 0)
		return 0;
	segs = columnar_segments(storage_id, GetActiveSnapshot() ? GetActiveSnapshot() : SnapshotSelf);
	foreach(lc, segs)
	{
		ColumnarSegment *seg = lfirst(lc);

		if (seg->removed_version == 0)
			rows += seg->row_count;
	}
	ws = columnar_write_state_find(storage_id);
	if (ws)
		rows += ws->nbuf;
	list_free_deep(segs);
	return rows;
}

/* ---------------------------------------------------------------- */
/* the chunk codec                                                   */
/* ---------------------------------------------------------------- */

/* varlenas always get a 4-byte aligned, 4-byte header */
static inline char
value_align(Form_pg_attribute att)
{
	if (att->attlen == -1 && att->attalign == TYPALIGN_CHAR)
		return TYPALIGN_INT;
	if (att->attlen == -1 && att->attalign == TYPALIGN_SHORT)
		return TYPALIGN_INT;
	return att->attalign;
}

/*
 * Values are laid out as in a tuple: each at its type's alignment relative
 * to the start of the (MAXALIGNed) decompressed buffer, varlenas with a
 * 4-byte header, so a decoded Datum can point straight into the buffer.
 */
static void
append_value(StringInfo buf, Datum value, Form_pg_attribute att)
{
	if (att->attbyval)
	{
		switch (att->attlen)
		{
			case 1:
				{
					char		v = DatumGetChar(value);

					appendBinaryStringInfo(buf, &v, 1);
					break;
				}
			case 2:
				{
					int16		v = DatumGetInt16(value);

					appendBinaryStringInfo(buf, (char *) &v, 2);
					break;
				}
			case 4:
				{
					int32		v = DatumGetInt32(value);

					appendBinaryStringInfo(buf, (char *) &v, 4);
					break;
				}
			default:
				{
					int64		v = DatumGetInt64(value);

					appendBinaryStringInfo(buf, (char *) &v, 8);
					break;
				}
		}
	}
	else
	{
		int			aligned = att_align_nominal(buf->len, value_align(att));

		while (buf->len < aligned)
			appendStringInfoCharMacro(buf, '\0');
		if (att->attlen > 0)
			appendBinaryStringInfo(buf, DatumGetPointer(value), att->attlen);
		else if (att->attlen == -1)
		{
			struct varlena *v = (struct varlena *) DatumGetPointer(value);
			bool		copied = false;
			Size		len;
			int			pos;

			/* a short header is read in place; only toasted values need copying */
			if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
			{
				v = detoast_attr(v);
				copied = true;
			}
			len = VARSIZE_ANY_EXHDR(v);
			pos = buf->len;
			enlargeStringInfo(buf, len + VARHDRSZ);
			SET_VARSIZE((struct varlena *) (buf->data + pos), len + VARHDRSZ);
			memcpy(buf->data + pos + VARHDRSZ, VARDATA_ANY(v), len);
			buf->len += len + VARHDRSZ;
			buf->data[buf->len] = '\0';
			if (copied)
				pfree(v);
		}
		else
			appendBinaryStringInfo(buf, DatumGetCString(value),
								   strlen(DatumGetCString(value)) + 1);
	}
}

/* Read one value at *pos of an aligned buffer; advance *pos. */
static inline Datum
read_value(const char *base, Size *pos, Form_pg_attribute att)
{
	const char *p;
	Datum		d;

	if (att->attbyval)
	{
		p = base + *pos;
		switch (att->attlen)
		{
			case 1:
				d = CharGetDatum(*p);
				break;
			case 2:
				{
					int16		v;

					memcpy(&v, p, 2);
					d = Int16GetDatum(v);
					break;
				}
			case 4:
				{
					int32		v;

					memcpy(&v, p, 4);
					d = Int32GetDatum(v);
					break;
				}
			default:
				{
					int64		v;

					memcpy(&v, p, 8);
					d = Int64GetDatum(v);
					break;
				}
		}
		*pos += att->attlen;
		return d;
	}
	*pos = att_align_nominal(*pos, value_align(att));
	p = base + *pos;
	if (att->attlen > 0)
		*pos += att->attlen;
	else if (att->attlen == -1)
		*pos += VARSIZE(p);
	else
		*pos += strlen(p) + 1;
	return PointerGetDatum(p);
}

/*
 * zstd contexts, made once per backend and reused: a context per call would
 * allocate and clear zstd's tables for every chunk.  (libzstd allocates
 * them itself, outside PostgreSQL's memory contexts.)
 */
static ZSTD_CCtx *zstd_cctx = NULL;
static ZSTD_DCtx *zstd_dctx = NULL;

static bytea *
make_chunk(StringInfo raw)
{
	size_t		bound = ZSTD_compressBound(raw->len);
	bytea	   *out = palloc(VARHDRSZ + CHUNK_HDR + bound);
	char	   *dst = VARDATA(out);
	size_t		clen;
	uint32		rawlen = raw->len;

	if (zstd_cctx == NULL && (zstd_cctx = ZSTD_createCCtx()) == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("could not create a zstd compression context")));
	clen = ZSTD_compressCCtx(zstd_cctx, dst + CHUNK_HDR, bound, raw->data, raw->len,
							 columnar_compression_level);
	/* incompressible (or tiny) data is stored as it is: cheaper to read */
	if (ZSTD_isError(clen) || clen >= (size_t) raw->len - raw->len / 16)
	{
		dst[0] = CHUNK_RAW;
		memcpy(dst + 1, &rawlen, 4);
		memcpy(dst + CHUNK_HDR, raw->data, raw->len);
		SET_VARSIZE(out, VARHDRSZ + CHUNK_HDR + raw->len);
	}
	else
	{
		dst[0] = CHUNK_ZSTD;
		memcpy(dst + 1, &rawlen, 4);
		SET_VARSIZE(out, VARHDRSZ + CHUNK_HDR + clen);
	}
	return out;
}

/*
 * The raw payload of a chunk, in a MAXALIGNed buffer: scratch's buffer for
 * this column when given (reused from segment to segment), else a new one.
 */
static char *
chunk_payload(bytea *data, Size *len, ColumnarScratch *scratch, int col)
{
	char	   *src = VARDATA_ANY(data);
	Size		srclen = VARSIZE_ANY_EXHDR(data);
	uint32		rawlen;
	char	   *raw;

	if (srclen < CHUNK_HDR)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("versioned_columnar chunk is truncated")));
	memcpy(&rawlen, src + 1, 4);
	if (scratch != NULL)
	{
		if (scratch->cap[col] < (Size) rawlen + 1)
		{
			if (scratch->buf[col])
				pfree(scratch->buf[col]);
			scratch->cap[col] = Max((Size) rawlen + 1, scratch->cap[col] * 2);
			scratch->buf[col] = MemoryContextAllocHuge(scratch->cxt, scratch->cap[col]);
		}
		raw = scratch->buf[col];
	}
	else
		raw = palloc(rawlen + 1);
	if (src[0] == CHUNK_RAW)
	{
		if (srclen - CHUNK_HDR != rawlen)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("versioned_columnar chunk has a wrong length")));
		memcpy(raw, src + CHUNK_HDR, rawlen);
	}
	else if (src[0] == CHUNK_ZSTD)
	{
		size_t		n;

		if (zstd_dctx == NULL && (zstd_dctx = ZSTD_createDCtx()) == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
							errmsg("could not create a zstd decompression context")));
		n = ZSTD_decompressDCtx(zstd_dctx, raw, rawlen, src + CHUNK_HDR, srclen - CHUNK_HDR);

		if (ZSTD_isError(n) || n != rawlen)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("versioned_columnar chunk does not decompress: %s",
								   ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length")));
	}
	else
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("versioned_columnar chunk has unknown method %d", src[0])));
	*len = rawlen;
	return raw;
}

static bytea *
value_to_bytea(Datum value, Form_pg_attribute att)
{
	StringInfoData buf;
	bytea	   *b;

	initStringInfo(&buf);
	append_value(&buf, value, att);
	if (buf.len > MAX_STAT_BYTES)
		return NULL;
	b = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(b, VARHDRSZ + buf.len);
	memcpy(VARDATA(b), buf.data, buf.len);
	pfree(buf.data);
	return b;
}

Datum
columnar_decode_value(bytea *data, Form_pg_attribute att)
{
	Size		len = VARSIZE_ANY_EXHDR(data);
	char	   *buf = palloc(len + 1);
	Size		pos = 0;

	memcpy(buf, VARDATA_ANY(data), len);
	return read_value(buf, &pos, att);
}

/*
 * How min and max of a column are found: the common fixed-width types are
 * compared inline, as their btree comparison functions do; everything else
 * calls the type's btree comparison function.
 */
typedef enum MinMaxKind
{
	MINMAX_FMGR,
	MINMAX_INT16,
	MINMAX_INT32,
	MINMAX_UINT32,
	MINMAX_INT64,
	MINMAX_FLOAT4,
	MINMAX_FLOAT8
} MinMaxKind;

static MinMaxKind
minmax_kind(Oid cmp_proc)
{
	switch (cmp_proc)
	{
		case F_BTINT2CMP:
			return MINMAX_INT16;
		case F_BTINT4CMP:
		case F_DATE_CMP:
			return MINMAX_INT32;
		case F_BTOIDCMP:
			return MINMAX_UINT32;
		case F_BTINT8CMP:
		case F_TIMESTAMP_CMP:
		case F_TIMESTAMPTZ_CMP:
		case F_TIME_CMP:
			return MINMAX_INT64;
		case F_BTFLOAT4CMP:
			return MINMAX_FLOAT4;
		case F_BTFLOAT8CMP:
			return MINMAX_FLOAT8;
		default:
			return MINMAX_FMGR;
	}
}

/* btfloat8cmp's order: NaN equals NaN and sorts above everything else */
static inline int
float8_order(float8 a, float8 b)
{
	if (isnan(a))
		return isnan(b) ? 0 : 1;
	if (isnan(b))
		return -1;
	return (a > b) - (a < b);
}

/* -1, 0, 1 like the type's comparison function, for the inline kinds */
static inline int
minmax_compare(MinMaxKind kind, Datum a, Datum b)
{
	switch (kind)
	{
		case MINMAX_INT16:
			return (DatumGetInt16(a) > DatumGetInt16(b)) - (DatumGetInt16(a) < DatumGetInt16(b));
		case MINMAX_INT32:
			return (DatumGetInt32(a) > DatumGetInt32(b)) - (DatumGetInt32(a) < DatumGetInt32(b));
		case MINMAX_UINT32:
			return (DatumGetObjectId(a) > DatumGetObjectId(b)) -
				(DatumGetObjectId(a) < DatumGetObjectId(b));
		case MINMAX_INT64:
			return (DatumGetInt64(a) > DatumGetInt64(b)) - (DatumGetInt64(a) < DatumGetInt64(b));
		case MINMAX_FLOAT4:
			return float8_order(DatumGetFloat4(a), DatumGetFloat4(b));
		case MINMAX_FLOAT8:
			return float8_order(DatumGetFloat8(a), DatumGetFloat8(b));
		default:
			Assert(false);
			return 0;
	}
}

/*
 * Same bytes, so equal under any btree order (comparison is reflexive): the
 * comparison function need not be called.  Rows of one segment repeat values
 * often (regions, devices, amounts), and a collation-aware comparison of two
 * strings costs far more than this.
 */
static inline bool
same_bytes(Datum a, Datum b, Form_pg_attribute att)
{
	if (att->attbyval)
		return a == b;
	if (att->attlen == -1)
	{
		struct varlena *va = (struct varlena *) DatumGetPointer(a);
		struct varlena *vb = (struct varlena *) DatumGetPointer(b);

		if (va == vb)
			return true;
		if (VARATT_IS_EXTERNAL(va) || VARATT_IS_COMPRESSED(va) ||
			VARATT_IS_EXTERNAL(vb) || VARATT_IS_COMPRESSED(vb))
			return false;
		return VARSIZE_ANY_EXHDR(va) == VARSIZE_ANY_EXHDR(vb) &&
			memcmp(VARDATA_ANY(va), VARDATA_ANY(vb), VARSIZE_ANY_EXHDR(va)) == 0;
	}
	if (att->attlen > 0)
		return memcmp(DatumGetPointer(a), DatumGetPointer(b), att->attlen) == 0;
	return strcmp(DatumGetCString(a), DatumGetCString(b)) == 0;
}

/* neither TOASTed nor compressed: its bytes can be compared in place */
static inline bool
plain_varlena(Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	return !VARATT_IS_EXTERNAL(v) && !VARATT_IS_COMPRESSED(v);
}

static inline int
text_order(Datum a, Datum b, Oid collation)
{
	struct varlena *va = (struct varlena *) DatumGetPointer(a);
	struct varlena *vb = (struct varlena *) DatumGetPointer(b);

	return varstr_cmp(VARDATA_ANY(va), VARSIZE_ANY_EXHDR(va),
					  VARDATA_ANY(vb), VARSIZE_ANY_EXHDR(vb), collation);
}

/*
 * Encode one column of nrows values into a chunk; compute null count and,
 * when the type has a btree order, min and max.
 */
bytea *
columnar_encode_chunk(Datum *values, bool *isnull, int nrows,
					  Form_pg_attribute att, int *null_count,
					  bytea **min_value, bytea **max_value)
{
	StringInfoData buf;
	int			nnull = 0;
	int			i;
	int			bitmap_len = (nrows + 7) / 8;
	TypeCacheEntry *tc;
	FmgrInfo   *cmp = NULL;
	MinMaxKind	kind = MINMAX_FMGR;
	bool		is_text = false;
	Datum		minv = 0;
	Datum		maxv = 0;
	bool		have = false;
	bytea	   *result;

	for (i = 0; i < nrows; i++)
		if (isnull[i])
			nnull++;

	initStringInfo(&buf);
	if (nnull > 0)
	{
		enlargeStringInfo(&buf, bitmap_len);
		memset(buf.data, 0, bitmap_len);
		for (i = 0; i < nrows; i++)
			if (isnull[i])
				buf.data[i / 8] |= (1 << (i % 8));
		buf.len = bitmap_len;
	}

	tc = lookup_type_cache(att->atttypid, TYPECACHE_CMP_PROC_FINFO);
	if (OidIsValid(tc->cmp_proc_finfo.fn_oid))
	{
		cmp = &tc->cmp_proc_finfo;
		if (att->attbyval)
			kind = minmax_kind(tc->cmp_proc_finfo.fn_oid);
		is_text = (tc->cmp_proc_finfo.fn_oid == F_BTTEXTCMP);
	}

	if (att->attbyval && nnull == 0 && att->attlen >= 1 && att->attlen <= 8)
	{
		/* fixed-width values without NULLs: a packed array, written in one go */
		char	   *dst;

		enlargeStringInfo(&buf, nrows * att->attlen);
		dst = buf.data + buf.len;
		switch (att->attlen)
		{
			case 8:
				for (i = 0; i < nrows; i++)
				{
					int64		v = DatumGetInt64(values[i]);

					memcpy(dst + (Size) i * 8, &v, 8);
				}
				break;
			case 4:
				for (i = 0; i < nrows; i++)
				{
					int32		v = DatumGetInt32(values[i]);

					memcpy(dst + (Size) i * 4, &v, 4);
				}
				break;
			case 2:
				for (i = 0; i < nrows; i++)
				{
					int16		v = DatumGetInt16(values[i]);

					memcpy(dst + (Size) i * 2, &v, 2);
				}
				break;
			default:
				for (i = 0; i < nrows; i++)
					append_value(&buf, values[i], att);
				break;
		}
		if (att->attlen == 8 || att->attlen == 4 || att->attlen == 2)
			buf.len += nrows * att->attlen;
		buf.data[buf.len] = '\0';
	}
	else
	{
		if (att->attlen > 0)
			enlargeStringInfo(&buf, (nrows - nnull) * att_align_nominal(att->attlen, value_align(att)));
		for (i = 0; i < nrows; i++)
		{
			if (isnull[i])
				continue;
			if ((i & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			append_value(&buf, values[i], att);
		}
	}

	if (cmp)
	{
		for (i = 0; i < nrows; i++)
		{
			Datum		v;

			if (isnull[i])
				continue;
			v = values[i];
			if (!have)
			{
				minv = maxv = v;
				have = true;
			}
			else if (kind != MINMAX_FMGR)
			{
				if (minmax_compare(kind, v, minv) < 0)
					minv = v;
				else if (minmax_compare(kind, v, maxv) > 0)
					maxv = v;
			}
			else
			{
				if ((i & 1023) == 0)
					CHECK_FOR_INTERRUPTS();
				if (same_bytes(v, minv, att) || same_bytes(v, maxv, att))
					continue;
				if (is_text && plain_varlena(v) && plain_varlena(minv) && plain_varlena(maxv))
				{
					/* bttextcmp without the call and detoasting overhead */
					if (text_order(v, minv, att->attcollation) < 0)
						minv = v;
					else if (text_order(v, maxv, att->attcollation) > 0)
						maxv = v;
				}
				else if (DatumGetInt32(FunctionCall2Coll(cmp, att->attcollation, v, minv)) < 0)
					minv = v;
				else if (DatumGetInt32(FunctionCall2Coll(cmp, att->attcollation, v, maxv)) > 0)
					maxv = v;
			}
		}
	}

	*null_count = nnull;
	*min_value = *max_value = NULL;
	if (have)
	{
		*min_value = value_to_bytea(minv, att);
		*max_value = value_to_bytea(maxv, att);
		if (*min_value == NULL || *max_value == NULL)
			*min_value = *max_value = NULL;
	}
	result = make_chunk(&buf);
	pfree(buf.data);
	return result;
}

void
columnar_decode_chunk(bytea *data, Form_pg_attribute att, int nrows,
					  int null_count, Datum *values, bool *isnull)
{
	columnar_decode_chunk_scratch(data, att, nrows, null_count, values, isnull, NULL);
}

void
columnar_decode_chunk_scratch(bytea *data, Form_pg_attribute att, int nrows,
							  int null_count, Datum *values, bool *isnull,
							  ColumnarScratch *scratch)
{
	Size		len;
	char	   *raw = chunk_payload(data, &len, scratch, att->attnum - 1);
	Size		pos = 0;
	const uint8 *bitmap = NULL;
	int			i;

	if (null_count > 0)
	{
		bitmap = (const uint8 *) raw;
		pos = (nrows + 7) / 8;
	}
	if (att->attbyval && bitmap == NULL && att->attlen == 8)
	{
		/* the common case, without per-value branches */
		if (len < (Size) nrows * 8)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("versioned_columnar chunk of column \"%s\" is too short",
								   NameStr(att->attname))));
		for (i = 0; i < nrows; i++)
		{
			int64		v;

			memcpy(&v, raw + (Size) i * 8, 8);
			values[i] = Int64GetDatum(v);
			isnull[i] = false;
		}
		return;
	}
	for (i = 0; i < nrows; i++)
	{
		if (bitmap && (bitmap[i / 8] & (1 << (i % 8))))
		{
			values[i] = (Datum) 0;
			isnull[i] = true;
			continue;
		}
		if (pos >= len)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("versioned_columnar chunk of column \"%s\" is too short",
								   NameStr(att->attname))));
		values[i] = read_value(raw, &pos, att);
		isnull[i] = false;
	}
	if (pos > len)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("versioned_columnar chunk of column \"%s\" overruns its data",
							   NameStr(att->attname))));
}

/* Write rows start .. start + nrows - 1 of the insert buffer as one segment. */
void
columnar_write_segment(ColumnarWriteState *ws, int start, int nrows)
{
	Relation	segrel = columnar_meta_open("columnar_segment", RowExclusiveLock);
	Relation	chunkrel = columnar_meta_open("columnar_chunk", RowExclusiveLock);
	int64		segno = ws->buf_first_row + start;
	Datum		values[7];
	bool		nulls[7];
	HeapTuple	tup;
	int			a;
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "columnar segment write",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	uint8	   *delbits = NULL;
	int			i;

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int64GetDatum(ws->storage_id);
	values[1] = Int64GetDatum(segno);
	values[2] = Int64GetDatum(segno);
	values[3] = Int32GetDatum(nrows);
	values[4] = Int64GetDatum(ws->version);
	nulls[5] = true;
	tup = heap_form_tuple(RelationGetDescr(segrel), values, nulls);
	CatalogTupleInsert(segrel, tup);

	for (a = 0; a < ws->tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(ws->tupdesc, a);
		int			null_count;
		bytea	   *minv;
		bytea	   *maxv;
		bytea	   *chunk;

		if (att->attisdropped)
			continue;
		CHECK_FOR_INTERRUPTS();
		chunk = columnar_encode_chunk(ws->vals[a] + start, ws->nulls[a] + start, nrows,
									  att, &null_count, &minv, &maxv);
		memset(nulls, 0, sizeof(nulls));
		values[0] = Int64GetDatum(ws->storage_id);
		values[1] = Int64GetDatum(segno);
		values[2] = Int16GetDatum(att->attnum);
		values[3] = Int32GetDatum(null_count);
		values[4] = PointerGetDatum(minv);
		nulls[4] = (minv == NULL);
		values[5] = PointerGetDatum(maxv);
		nulls[5] = (maxv == NULL);
		values[6] = PointerGetDatum(chunk);
		tup = heap_form_tuple(RelationGetDescr(chunkrel), values, nulls);
		CatalogTupleInsert(chunkrel, tup);
		MemoryContextReset(tmp);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	table_close(chunkrel, RowExclusiveLock);
	table_close(segrel, RowExclusiveLock);

	/* buffered rows we already deleted become pending deletions of the segment */
	for (i = 0; i < nrows; i++)
	{
		if (ws->del_cids[start + i] != InvalidCommandId)
		{
			ColumnarPendingDel *pd;
			bool		found;

			if (delbits == NULL)
			{
				pd = hash_search(ws->dels, &segno, HASH_ENTER, &found);
				if (!found)
				{
					MemoryContext o = MemoryContextSwitchTo(ws->cxt);

					pd->nrows = nrows;
					pd->removed = false;
					pd->own = true;
					pd->committed = palloc0((nrows + 7) / 8);
					pd->cids = palloc(sizeof(CommandId) * nrows);
					pd->subids = palloc0(sizeof(SubTransactionId) * nrows);
					pd->succ = NULL;
					pd->npending = 0;
					for (a = 0; a < nrows; a++)
						pd->cids[a] = InvalidCommandId;
					MemoryContextSwitchTo(o);
				}
				delbits = (uint8 *) pd;
			}
			pd = (ColumnarPendingDel *) delbits;
			pd->cids[i] = ws->del_cids[start + i];
			pd->subids[i] = ws->del_subids[start + i];
			pd->npending++;
		}
	}
	ws->rows_flushed += nrows;
	/* the leader of a parallel CREATE TABLE AS cannot start a command; nothing reads the rows in it */
	if (!IsInParallelMode())
		CommandCounterIncrement();
}

/* Read the chunks of the columns in attrs (NULL: all) of one segment. */
void
columnar_read_chunks(int64 storage_id, int64 segno, int32 nrows, TupleDesc tupdesc,
					 Bitmapset *attrs, Datum **values, bool **isnull,
					 ColumnarScratch *scratch)
{
	Relation	rel = columnar_meta_open("columnar_chunk", AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool	   *seen = palloc0(sizeof(bool) * tupdesc->natts);
	int			a;

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(segno));
	/* chunk rows never change once written: any visible copy will do */
	scan = systable_beginscan(rel, columnar_meta_index("columnar_chunk_pkey"), true,
							  SnapshotSelf, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		n;
		int			attnum = DatumGetInt16(heap_getattr(tup, 3, RelationGetDescr(rel), &n));
		int			null_count;
		Form_pg_attribute att;
		bytea	   *data;

		if (attnum < 1 || attnum > tupdesc->natts)
			continue;
		att = TupleDescAttr(tupdesc, attnum - 1);
		if (att->attisdropped || values[attnum - 1] == NULL)
			continue;
		if (attrs != NULL && !bms_is_member(attnum, attrs))
			continue;
		null_count = DatumGetInt32(heap_getattr(tup, 4, RelationGetDescr(rel), &n));
		data = DatumGetByteaPP(heap_getattr(tup, 7, RelationGetDescr(rel), &n));
		columnar_decode_chunk_scratch(data, att, nrows, null_count, values[attnum - 1],
									  isnull[attnum - 1], scratch);
		if ((Pointer) data != DatumGetPointer(heap_getattr(tup, 7, RelationGetDescr(rel), &n)))
			pfree(data);		/* the detoasted copy */
		seen[attnum - 1] = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	/* columns added after the segment was written read as their default */
	for (a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);

		if (seen[a] || values[a] == NULL)
			continue;
		if (attrs != NULL && !bms_is_member(a + 1, attrs))
			continue;
		if (att->attisdropped)
		{
			int			i;

			for (i = 0; i < nrows; i++)
			{
				values[a][i] = (Datum) 0;
				isnull[a][i] = true;
			}
		}
		else
		{
			bool		n;
			Datum		d = getmissingattr(tupdesc, a + 1, &n);
			int			i;

			for (i = 0; i < nrows; i++)
			{
				values[a][i] = d;
				isnull[a][i] = n;
			}
		}
	}
	pfree(seen);
}

/* Do a segment's statistics of one column refute a skip key? */
bool
columnar_stat_refutes(ColumnarSkipKey *sk, int null_count, int nrows, bool has_minmax,
					  Datum minv, Datum maxv)
{
	int32		cmin;
	int32		cmax;

	if (sk->strategy == 0)
		return null_count == 0;
	if (sk->strategy == -1)
		return null_count == nrows;
	if (null_count == nrows)
		return true;			/* strict operators never match NULLs */
	if (!has_minmax)
		return false;
	cmin = DatumGetInt32(OidFunctionCall2Coll(sk->cmp_proc, sk->collation, minv, sk->value));
	cmax = DatumGetInt32(OidFunctionCall2Coll(sk->cmp_proc, sk->collation, maxv, sk->value));
	switch (sk->strategy)
	{
		case BTLessStrategyNumber:
			return cmin >= 0;
		case BTLessEqualStrategyNumber:
			return cmin > 0;
		case BTEqualStrategyNumber:
			return cmin > 0 || cmax < 0;
		case BTGreaterEqualStrategyNumber:
			return cmax < 0;
		case BTGreaterStrategyNumber:
			return cmax <= 0;
	}
	return false;
}
