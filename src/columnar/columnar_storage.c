/*
 * columnar_storage.c
 *		Storage layer of versioned_columnar: the metadata heap tables
 *		(storage map, row number counters, versions, segments, column chunks,
 *		deletion vectors).  How a column chunk is encoded is columnar_codec.c's
 *		job, its min/max statistics columnar_stats.c's.
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

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_metadata.h"
#include "columnar/columnar_codec.h"

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

/* ---------------------------------------------------------------- */
/* access method                                                     */
/* ---------------------------------------------------------------- */

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
	rel = table_open(ColumnarStorageRelationId(), AccessShareLock);

	ScanKeyInit(&key[0], Anum_columnar_storage_spcnode, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(spcnode));
	ScanKeyInit(&key[1], Anum_columnar_storage_relnode, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relnode));
	scan = systable_beginscan(rel, ColumnarStoragePkeyIndexId(), true,
							  SnapshotSelf, 2, key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;

		result = DatumGetInt64(heap_getattr(tup, Anum_columnar_storage_storage_id,
											RelationGetDescr(rel), &isnull));
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
	Datum		values[Natts_columnar_storage];
	bool		nulls[Natts_columnar_storage] = {false, false, false};
	Datum		rvalues[Natts_columnar_rowid];
	bool		rnulls[Natts_columnar_rowid] = {false, false};
	HeapTuple	tup;
	bool		new_storage = (storage_id == 0);

	if (new_storage)
		storage_id = nextval_internal(ColumnarStorageSequenceId(), false);

	rel = table_open(ColumnarStorageRelationId(), RowExclusiveLock);
	values[Anum_columnar_storage_spcnode - 1] = ObjectIdGetDatum(node->spcNode);
	values[Anum_columnar_storage_relnode - 1] = ObjectIdGetDatum(node->relNode);
	values[Anum_columnar_storage_storage_id - 1] = Int64GetDatum(storage_id);
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	CatalogTupleInsert(rel, tup);
	table_close(rel, RowExclusiveLock);
	storage_cache_set(node->spcNode, node->relNode, storage_id);

	if (new_storage)
	{
		rel = table_open(ColumnarRowidRelationId(), RowExclusiveLock);
		rvalues[Anum_columnar_rowid_storage_id - 1] = Int64GetDatum(storage_id);
		rvalues[Anum_columnar_rowid_next_row - 1] = Int64GetDatum(0);
		tup = heap_form_tuple(RelationGetDescr(rel), rvalues, rnulls);
		CatalogTupleInsert(rel, tup);
		table_close(rel, RowExclusiveLock);
	}
	CommandCounterIncrement();
}

/*
 * Delete the metadata rows of one storage from one metadata table, through
 * an index whose first column is storage_id.
 */
static void
delete_storage_rows(Oid table, Oid index, int64 storage_id)
{
	Relation	rel = table_open(table, RowExclusiveLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&key, Anum_columnar_meta_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	scan = systable_beginscan(rel, index, true, SnapshotSelf, 1, &key);
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
	delete_storage_rows(ColumnarChunkRelationId(), ColumnarChunkPkeyIndexId(),
						storage_id);
	delete_storage_rows(ColumnarSegmentRelationId(), ColumnarSegmentPkeyIndexId(),
						storage_id);
	delete_storage_rows(ColumnarDeletionRelationId(), ColumnarDeletionPkeyIndexId(),
						storage_id);
	if (history)
	{
		delete_storage_rows(ColumnarVersionRelationId(), ColumnarVersionPkeyIndexId(),
							storage_id);
		delete_storage_rows(ColumnarVacuumedRelationId(), ColumnarVacuumedPkeyIndexId(),
							storage_id);
	}
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

	if (!columnar_metadata_exists())
		return;					/* the extension is being dropped too */
	storage_cache_set(spcnode, relnode, 0);

	rel = table_open(ColumnarStorageRelationId(), RowExclusiveLock);
	ScanKeyInit(&key[0], Anum_columnar_storage_spcnode, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(spcnode));
	ScanKeyInit(&key[1], Anum_columnar_storage_relnode, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relnode));
	scan = systable_beginscan(rel, ColumnarStoragePkeyIndexId(), true,
							  SnapshotSelf, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;

		storage_id = DatumGetInt64(heap_getattr(tup, Anum_columnar_storage_storage_id,
												RelationGetDescr(rel), &isnull));
		CatalogTupleDelete(rel, &tup->t_self);
	}
	systable_endscan(scan);

	if (storage_id != 0)
	{
		ScanKeyInit(&key[0], Anum_columnar_storage_storage_id,
					BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
		scan = systable_beginscan(rel, ColumnarStorageStorageIdIndexId(),
								  true, SnapshotSelf, 1, key);
		still_used = HeapTupleIsValid(systable_getnext(scan));
		systable_endscan(scan);
	}
	table_close(rel, RowExclusiveLock);

	if (storage_id != 0 && !still_used)
	{
		columnar_write_state_dropped(storage_id);
		delete_storage_rows(ColumnarChunkRelationId(), ColumnarChunkPkeyIndexId(),
						storage_id);
		delete_storage_rows(ColumnarSegmentRelationId(), ColumnarSegmentPkeyIndexId(),
						storage_id);
		delete_storage_rows(ColumnarDeletionRelationId(), ColumnarDeletionPkeyIndexId(),
						storage_id);
		delete_storage_rows(ColumnarVersionRelationId(), ColumnarVersionPkeyIndexId(),
						storage_id);
		delete_storage_rows(ColumnarVacuumedRelationId(), ColumnarVacuumedPkeyIndexId(),
						storage_id);
		delete_storage_rows(ColumnarRowidRelationId(), ColumnarRowidPkeyIndexId(),
						storage_id);
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

	ScanKeyInit(&key, Anum_columnar_rowid_storage_id, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	scan = systable_beginscan(rel, ColumnarRowidPkeyIndexId(), true,
							  SnapshotSelf, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;

		*tid = tup->t_self;
		*value = DatumGetInt64(heap_getattr(tup, Anum_columnar_rowid_next_row,
											RelationGetDescr(rel), &isnull));
		found = true;
	}
	systable_endscan(scan);
	return found;
}

int64
columnar_next_row(int64 storage_id)
{
	Relation	rel = table_open(ColumnarRowidRelationId(), AccessShareLock);
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
	Relation	rel = table_open(ColumnarRowidRelationId(), RowExclusiveLock);
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
	/* NOT NULL bigint columns only: the counter is at a fixed offset */
	StaticAssertStmt(Natts_columnar_rowid == 2 && Anum_columnar_rowid_next_row == 2,
					 "columnar_rowid is (storage_id bigint, next_row bigint)");
	data = (char *) htup + htup->t_hoff + (Anum_columnar_rowid_next_row - 1) * sizeof(int64);
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
	Relation	rel = table_open(ColumnarVersionRelationId(), AccessShareLock);
	Relation	idx = index_open(ColumnarVersionPkeyIndexId(), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	int64		result = 0;

	ScanKeyInit(&key, Anum_columnar_version_storage_id, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	scan = systable_beginscan_ordered(rel, idx, snapshot, 1, &key);
	tup = systable_getnext_ordered(scan, BackwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;

		result = DatumGetInt64(heap_getattr(tup, Anum_columnar_version_version,
											RelationGetDescr(rel), &isnull));
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

	seg->segno = DatumGetInt64(heap_getattr(tup, Anum_columnar_segment_segno, desc, &isnull));
	seg->row_count = DatumGetInt32(heap_getattr(tup, Anum_columnar_segment_row_count, desc, &isnull));
	seg->added_version = DatumGetInt64(heap_getattr(tup, Anum_columnar_segment_added_version,
													desc, &isnull));
	d = heap_getattr(tup, Anum_columnar_segment_removed_version, desc, &isnull);
	seg->removed_version = isnull ? 0 : DatumGetInt64(d);
}

/* All segment rows of a storage visible to snapshot, in row order. */
List *
columnar_segments(int64 storage_id, Snapshot snapshot)
{
	Relation	rel = table_open(ColumnarSegmentRelationId(), AccessShareLock);
	Relation	idx = index_open(ColumnarSegmentPkeyIndexId(), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	ScanKeyInit(&key, Anum_columnar_segment_storage_id, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
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
	return columnar_live_segments_limited(storage_id, snapshot, 0);
}

/* The same, but only limit + 1 of them (in no order) if there are more; 0: no limit. */
List *
columnar_live_segments_limited(int64 storage_id, Snapshot snapshot, int limit)
{
	Relation	rel = table_open(ColumnarSegmentRelationId(), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	ScanKeyInit(&key[0], Anum_columnar_segment_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	ScanKeyEntryInitialize(&key[1], SK_ISNULL | SK_SEARCHNULL,
						   Anum_columnar_segment_removed_version, InvalidStrategy, InvalidOid,
						   InvalidOid, InvalidOid, (Datum) 0);
	scan = systable_beginscan(rel, ColumnarSegmentRemovedIndexId(), true,
							  snapshot, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		ColumnarSegment *seg = palloc(sizeof(ColumnarSegment));

		segment_from_tuple(tup, RelationGetDescr(rel), seg);
		if (seg->removed_version == 0)
			result = lappend(result, seg);
		else
			pfree(seg);
		if (limit > 0 && list_length(result) > limit)
			break;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (list_length(result) > 1 && (limit <= 0 || list_length(result) <= limit))
		list_sort(result, cmp_segment_segno);
	return result;
}

/* The segment holding a row number, if one is visible to snapshot. */
bool
columnar_find_segment(int64 storage_id, int64 rownum, Snapshot snapshot,
					  ColumnarSegment *seg)
{
	Relation	rel = table_open(ColumnarSegmentRelationId(), AccessShareLock);
	Relation	idx = index_open(ColumnarSegmentPkeyIndexId(), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	ScanKeyInit(&key[0], Anum_columnar_segment_storage_id, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], Anum_columnar_segment_segno, BTLessEqualStrategyNumber, F_INT8LE, Int64GetDatum(rownum));
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
	Relation	rel = table_open(ColumnarDeletionRelationId(), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	uint8	   *bits = NULL;
	int			nbytes = (nrows + 7) / 8;

	*ndeleted = 0;
	ScanKeyInit(&key[0], Anum_columnar_deletion_storage_id, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], Anum_columnar_deletion_segno, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(segno));
	scan = systable_beginscan(rel, ColumnarDeletionPkeyIndexId(), true,
							  snapshot, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		int64		version = DatumGetInt64(heap_getattr(tup, Anum_columnar_deletion_version,
														 RelationGetDescr(rel), &isnull));
		bytea	   *b;
		int			i;
		int			len;

		if (as_of_version > 0 && version > as_of_version)
			continue;
		b = DatumGetByteaPP(heap_getattr(tup, Anum_columnar_deletion_deleted,
										 RelationGetDescr(rel), &isnull));
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
	Relation	rel = table_open(ColumnarDeletionRelationId(), RowExclusiveLock);
	Datum		values[Natts_columnar_deletion];
	bool		nulls[Natts_columnar_deletion] = {false, false, false, false, false};
	int			nbytes = (nrows + 7) / 8;
	bytea	   *b = palloc(VARHDRSZ + nbytes);
	HeapTuple	tup;

	SET_VARSIZE(b, VARHDRSZ + nbytes);
	memcpy(VARDATA(b), bits, nbytes);
	values[Anum_columnar_deletion_storage_id - 1] = Int64GetDatum(storage_id);
	values[Anum_columnar_deletion_segno - 1] = Int64GetDatum(segno);
	values[Anum_columnar_deletion_version - 1] = Int64GetDatum(version);
	values[Anum_columnar_deletion_deleted - 1] = PointerGetDatum(b);
	nulls[Anum_columnar_deletion_successors - 1] = true;
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
		values[Anum_columnar_deletion_successors - 1] = PointerGetDatum(sbuf.data);
		nulls[Anum_columnar_deletion_successors - 1] = false;
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
	Relation	rel = table_open(ColumnarDeletionRelationId(), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int64		result = -1;

	ScanKeyInit(&key[0], Anum_columnar_deletion_storage_id, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], Anum_columnar_deletion_segno, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(segno));
	scan = systable_beginscan(rel, ColumnarDeletionPkeyIndexId(), true,
							  SnapshotSelf, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		bytea	   *b = DatumGetByteaPP(heap_getattr(tup, Anum_columnar_deletion_deleted,
													 RelationGetDescr(rel), &isnull));
		uint8	   *bits = (uint8 *) VARDATA_ANY(b);
		Datum		sd;
		bytea	   *sb;
		int			rank = 0;
		int			i;

		if (r / 8 >= (int) VARSIZE_ANY_EXHDR(b) || !(bits[r / 8] & (1 << (r % 8))))
			continue;
		sd = heap_getattr(tup, Anum_columnar_deletion_successors, RelationGetDescr(rel), &isnull);
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
		rows += columnar_ws_nbuffered(ws);
	list_free_deep(segs);
	return rows;
}

/*
 * Write rows start .. start + nrows - 1 of column-major buffers vals/nulls
 * (indexed by attnum - 1) as segment segno added by version: its segment
 * row and one chunk row per column of tupdesc.
 */
void
columnar_insert_segment(int64 storage_id, int64 version, int64 segno, TupleDesc tupdesc,
						Datum **vals, bool **nulls_in, int start, int nrows)
{
	Relation	segrel = table_open(ColumnarSegmentRelationId(), RowExclusiveLock);
	Relation	chunkrel = table_open(ColumnarChunkRelationId(), RowExclusiveLock);
	Datum		values[Max(Natts_columnar_segment, Natts_columnar_chunk)];
	bool		nulls[Max(Natts_columnar_segment, Natts_columnar_chunk)];
	HeapTuple	tup;
	int			a;
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "columnar segment write",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);

	memset(nulls, 0, sizeof(nulls));
	values[Anum_columnar_segment_storage_id - 1] = Int64GetDatum(storage_id);
	values[Anum_columnar_segment_segno - 1] = Int64GetDatum(segno);
	values[Anum_columnar_segment_first_row - 1] = Int64GetDatum(segno);
	values[Anum_columnar_segment_row_count - 1] = Int32GetDatum(nrows);
	values[Anum_columnar_segment_added_version - 1] = Int64GetDatum(version);
	nulls[Anum_columnar_segment_removed_version - 1] = true;
	tup = heap_form_tuple(RelationGetDescr(segrel), values, nulls);
	CatalogTupleInsert(segrel, tup);

	for (a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);
		int			null_count;
		bytea	   *minv;
		bytea	   *maxv;
		bytea	   *chunk;

		if (att->attisdropped)
			continue;
		CHECK_FOR_INTERRUPTS();
		chunk = columnar_encode_chunk(vals[a] + start, nulls_in[a] + start, nrows,
									  att, &null_count, &minv, &maxv);
		memset(nulls, 0, sizeof(nulls));
		values[Anum_columnar_chunk_storage_id - 1] = Int64GetDatum(storage_id);
		values[Anum_columnar_chunk_segno - 1] = Int64GetDatum(segno);
		values[Anum_columnar_chunk_attnum - 1] = Int16GetDatum(att->attnum);
		values[Anum_columnar_chunk_null_count - 1] = Int32GetDatum(null_count);
		values[Anum_columnar_chunk_min_value - 1] = PointerGetDatum(minv);
		nulls[Anum_columnar_chunk_min_value - 1] = (minv == NULL);
		values[Anum_columnar_chunk_max_value - 1] = PointerGetDatum(maxv);
		nulls[Anum_columnar_chunk_max_value - 1] = (maxv == NULL);
		values[Anum_columnar_chunk_data - 1] = PointerGetDatum(chunk);
		tup = heap_form_tuple(RelationGetDescr(chunkrel), values, nulls);
		CatalogTupleInsert(chunkrel, tup);
		MemoryContextReset(tmp);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	table_close(chunkrel, RowExclusiveLock);
	table_close(segrel, RowExclusiveLock);
}

/* Read the chunks of the columns in attrs (NULL: all) of one segment. */
void
columnar_read_chunks(int64 storage_id, int64 segno, int32 nrows, TupleDesc tupdesc,
					 Bitmapset *attrs, Datum **values, bool **isnull,
					 ColumnarScratch *scratch)
{
	Relation	rel = table_open(ColumnarChunkRelationId(), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool	   *seen = palloc0(sizeof(bool) * tupdesc->natts);
	int			a;

	ScanKeyInit(&key[0], Anum_columnar_chunk_storage_id, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], Anum_columnar_chunk_segno, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(segno));
	/* chunk rows never change once written: any visible copy will do */
	scan = systable_beginscan(rel, ColumnarChunkPkeyIndexId(), true,
							  SnapshotSelf, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		n;
		int			attnum = DatumGetInt16(heap_getattr(tup, Anum_columnar_chunk_attnum,
														RelationGetDescr(rel), &n));
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
		null_count = DatumGetInt32(heap_getattr(tup, Anum_columnar_chunk_null_count,
												RelationGetDescr(rel), &n));
		data = DatumGetByteaPP(heap_getattr(tup, Anum_columnar_chunk_data, RelationGetDescr(rel), &n));
		columnar_decode_chunk_scratch(data, att, nrows, null_count, values[attnum - 1],
									  isnull[attnum - 1], scratch);
		if ((Pointer) data != DatumGetPointer(heap_getattr(tup, Anum_columnar_chunk_data,
															   RelationGetDescr(rel), &n)))
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
