/*
 * columnar_write.c
 *		Transactional writes of versioned_columnar tables: the per-transaction
 *		insert buffer and pending deletions, the writer lock and version
 *		assignment, and the commit-time flush that creates the version.
 *
 * A transaction that first writes a table takes that table's writer lock
 * (held to its end), so writers of one table serialize and the version
 * number (latest committed + 1) is known from the first write on: every
 * segment and deletion row carries it, and no row ever needs rewriting.
 * Rows are buffered in memory and written as segments when a segment is full
 * or at pre-commit; deletions are kept as per-segment bitmaps and written at
 * pre-commit, with the version row.  Readers never take the lock.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* field4 of the advisory lock tag that serializes a storage's writers */
#define COLUMNAR_LOCK_FIELD4 0x5343

/* row numbers reserved at a time: one counter update per segment */
#define ROW_RESERVE_CHUNK Max(4096, columnar_segment_rows)

static HTAB *write_states = NULL;
static MemoryContext write_cxt = NULL;

/*
 * The write state of the last table written, so that a bulk load finds it
 * without two hash lookups per row.  Forgotten whenever an entry leaves
 * write_states.
 */
static ColumnarWriteState *last_ws = NULL;
static Oid	last_relid = InvalidOid;
static RelFileNode last_node;

/* bytes of an arena block: a segment's text values fit in a few */
#define ARENA_BLOCK_SIZE (1024 * 1024)

ColumnarWriteState *
columnar_write_state_find(int64 storage_id)
{
	if (write_states == NULL)
		return NULL;
	return hash_search(write_states, &storage_id, HASH_FIND, NULL);
}

static void
lock_storage(int64 storage_id)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (storage_id >> 32),
						 (uint32) storage_id, COLUMNAR_LOCK_FIELD4);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

static void
remember_ws(Relation rel, ColumnarWriteState *ws)
{
	last_ws = ws;
	last_relid = RelationGetRelid(rel);
	last_node = rel->rd_node;
}

/*
 * Space for a by-reference value of the insert buffer.  Values of a segment
 * are copied into big blocks that are reused after each flush: a palloc per
 * value, and the malloc/free of the context's blocks at every flush, cost
 * more than the rest of buffering a row.
 */
static char *
arena_alloc(ColumnarWriteState *ws, Size len)
{
	char	   *p;

	len = MAXALIGN(len);
	if (len > ARENA_BLOCK_SIZE / 8)
		return MemoryContextAllocHuge(ws->bufcxt, len);
	if (ws->arena_nblocks == 0 || ws->arena_used + len > ws->arena_size[ws->arena_cur])
	{
		if (ws->arena_nblocks > 0)
			ws->arena_cur++;
		if (ws->arena_cur >= ws->arena_nblocks)
		{
			MemoryContext old = MemoryContextSwitchTo(ws->cxt);

			if (ws->arena_nblocks == 0)
			{
				ws->arena = palloc(sizeof(char *) * 8);
				ws->arena_size = palloc(sizeof(Size) * 8);
			}
			else if ((ws->arena_nblocks & (ws->arena_nblocks - 1)) == 0 && ws->arena_nblocks >= 8)
			{
				ws->arena = repalloc(ws->arena, sizeof(char *) * ws->arena_nblocks * 2);
				ws->arena_size = repalloc(ws->arena_size, sizeof(Size) * ws->arena_nblocks * 2);
			}
			ws->arena[ws->arena_nblocks] = palloc(ARENA_BLOCK_SIZE);
			ws->arena_size[ws->arena_nblocks] = ARENA_BLOCK_SIZE;
			ws->arena_cur = ws->arena_nblocks++;
			MemoryContextSwitchTo(old);
		}
		ws->arena_used = 0;
	}
	p = ws->arena[ws->arena_cur] + ws->arena_used;
	ws->arena_used += len;
	return p;
}

/* The buffer is empty: its values' space can be used again. */
static void
buffer_reset(ColumnarWriteState *ws)
{
	ws->arena_cur = 0;
	ws->arena_used = 0;
	MemoryContextReset(ws->bufcxt);
}

/* The write state of rel in this transaction; takes the writer lock first. */
static ColumnarWriteState *
get_write_state(Relation rel)
{
	int64		storage_id;
	ColumnarWriteState *ws;
	bool		found;
	MemoryContext old;
	int			a;

	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot write to a versioned_columnar table during a parallel operation")));

	if (last_ws != NULL && RelationGetRelid(rel) == last_relid &&
		RelFileNodeEquals(rel->rd_node, last_node) &&
		last_ws->tupdesc->natts == RelationGetDescr(rel)->natts)
		return last_ws;
	last_ws = NULL;
	storage_id = columnar_storage_id(rel, false);

	if (write_states == NULL)
	{
		HASHCTL		ctl;

		write_cxt = AllocSetContextCreate(TopTransactionContext, "columnar writes",
										  ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(ColumnarWriteState);
		ctl.hcxt = write_cxt;
		write_states = hash_create("columnar write states", 8, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	ws = hash_search(write_states, &storage_id, HASH_ENTER, &found);
	if (found)
	{
		/* a new column (ALTER TABLE in this transaction) needs the new layout */
		if (ws->tupdesc->natts != RelationGetDescr(rel)->natts)
		{
			columnar_flush_relation(rel);
			old = MemoryContextSwitchTo(ws->cxt);
			ws->tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
			ws->vals = repalloc(ws->vals, sizeof(Datum *) * ws->tupdesc->natts);
			ws->nulls = repalloc(ws->nulls, sizeof(bool *) * ws->tupdesc->natts);
			for (a = 0; a < ws->tupdesc->natts; a++)
			{
				ws->vals[a] = palloc(sizeof(Datum) * ws->capbuf);
				ws->nulls[a] = palloc(sizeof(bool) * ws->capbuf);
			}
			MemoryContextSwitchTo(old);
		}
		remember_ws(rel, ws);
		return ws;
	}

	memset(((char *) ws) + sizeof(int64), 0, sizeof(ColumnarWriteState) - sizeof(int64));
	ws->storage_id = storage_id;
	ws->relid = RelationGetRelid(rel);
	ws->cxt = AllocSetContextCreate(write_cxt, "columnar write state", ALLOCSET_DEFAULT_SIZES);
	ws->bufcxt = AllocSetContextCreate(ws->cxt, "columnar insert buffer", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ws->cxt);
	ws->tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
	ws->capbuf = 1024;
	ws->vals = palloc(sizeof(Datum *) * ws->tupdesc->natts);
	ws->nulls = palloc(sizeof(bool *) * ws->tupdesc->natts);
	for (a = 0; a < ws->tupdesc->natts; a++)
	{
		ws->vals[a] = palloc(sizeof(Datum) * ws->capbuf);
		ws->nulls[a] = palloc(sizeof(bool) * ws->capbuf);
	}
	ws->cids = palloc(sizeof(CommandId) * ws->capbuf);
	ws->subids = palloc(sizeof(SubTransactionId) * ws->capbuf);
	ws->del_cids = palloc(sizeof(CommandId) * ws->capbuf);
	ws->del_subids = palloc(sizeof(SubTransactionId) * ws->capbuf);
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(ColumnarPendingDel);
		ctl.hcxt = ws->cxt;
		ws->dels = hash_create("columnar pending deletions", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	MemoryContextSwitchTo(old);

	/* a failure from here on must not leave a half-made entry behind */
	PG_TRY();
	{
		lock_storage(storage_id);
		ws->lock_subid = GetCurrentSubTransactionId();
		ws->user_id = GetUserId();
		ws->version = columnar_latest_version(storage_id, SnapshotSelf) + 1;
		ws->next_row = ws->reserved_end = 0;
	}
	PG_CATCH();
	{
		last_ws = NULL;
		MemoryContextDelete(ws->cxt);
		hash_search(write_states, &storage_id, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	remember_ws(rel, ws);
	return ws;
}

static void
grow_buffer(ColumnarWriteState *ws)
{
	int			newcap = ws->capbuf * 2;
	int			a;
	MemoryContext old = MemoryContextSwitchTo(ws->cxt);

	for (a = 0; a < ws->tupdesc->natts; a++)
	{
		ws->vals[a] = repalloc_huge(ws->vals[a], sizeof(Datum) * newcap);
		ws->nulls[a] = repalloc_huge(ws->nulls[a], sizeof(bool) * newcap);
	}
	ws->cids = repalloc_huge(ws->cids, sizeof(CommandId) * newcap);
	ws->subids = repalloc_huge(ws->subids, sizeof(SubTransactionId) * newcap);
	ws->del_cids = repalloc_huge(ws->del_cids, sizeof(CommandId) * newcap);
	ws->del_subids = repalloc_huge(ws->del_subids, sizeof(SubTransactionId) * newcap);
	ws->capbuf = newcap;
	MemoryContextSwitchTo(old);
}

/* Write the whole buffer as segments (of at most columnar_segment_rows). */
static void
flush_buffer(ColumnarWriteState *ws)
{
	int			start = 0;

	while (start < ws->nbuf)
	{
		int			n = Min(ws->nbuf - start, columnar_segment_rows);

		columnar_write_segment(ws, start, n);
		start += n;
	}
	ws->buf_first_row += ws->nbuf;
	ws->nbuf = 0;
	buffer_reset(ws);
}

/*
 * A full buffer is written out early, unless a scan of this table is open
 * in this backend (it may still have to return buffered rows) or the buffer
 * holds rows of an enclosing subtransaction (a rollback of the current one
 * would take them along).
 */
static void
maybe_flush(ColumnarWriteState *ws)
{
	SubTransactionId cur = GetCurrentSubTransactionId();
	int			i;

	if (ws->nbuf < columnar_segment_rows || ws->active_scans > 0)
		return;
	for (i = 0; i < ws->nbuf; i++)
		if ((ws->subids[i] != cur && ws->subids[i] != InvalidSubTransactionId) ||
			(ws->del_cids[i] != InvalidCommandId && ws->del_subids[i] != cur &&
			 ws->del_subids[i] != InvalidSubTransactionId))
			return;
	flush_buffer(ws);
}

void
columnar_insert_row(Relation rel, Datum *values, bool *isnull, CommandId cid,
					ItemPointer tid)
{
	ColumnarWriteState *ws = get_write_state(rel);
	int			a;
	int			i;
	MemoryContext old;

	if (ws->nbuf >= ws->capbuf)
		grow_buffer(ws);
	if (ws->next_row >= ws->reserved_end)
	{
		int64		first = columnar_reserve_rows(ws->storage_id, ROW_RESERVE_CHUNK);

		if (ws->reserved_end == 0 || first != ws->reserved_end)
		{
			/* first reservation of this transaction: the buffer starts here */
			if (ws->nbuf > 0)
				flush_buffer(ws);
			ws->next_row = first;
			ws->buf_first_row = first;
		}
		ws->reserved_end = first + ROW_RESERVE_CHUNK;
	}
	i = ws->nbuf;
	for (a = 0; a < ws->tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(ws->tupdesc, a);
		Datum		v = values[a];
		Size		len;
		char	   *copy;

		if (isnull[a] || att->attisdropped)
		{
			ws->nulls[a][i] = true;
			ws->vals[a][i] = (Datum) 0;
			continue;
		}
		ws->nulls[a][i] = false;
		if (att->attbyval)
		{
			ws->vals[a][i] = v;
			continue;
		}
		if (att->attlen == -1)
		{
			struct varlena *p = (struct varlena *) DatumGetPointer(v);

			if (VARATT_IS_EXTERNAL(p) || VARATT_IS_COMPRESSED(p))
			{
				old = MemoryContextSwitchTo(ws->bufcxt);
				ws->vals[a][i] = PointerGetDatum(detoast_attr(p));
				MemoryContextSwitchTo(old);
				continue;
			}
			len = VARSIZE_ANY(p);
		}
		else
			len = datumGetSize(v, false, att->attlen);
		copy = arena_alloc(ws, len);
		memcpy(copy, DatumGetPointer(v), len);
		ws->vals[a][i] = PointerGetDatum(copy);
	}
	ws->cids[i] = cid;
	ws->subids[i] = GetCurrentSubTransactionId();
	ws->del_cids[i] = InvalidCommandId;
	ws->del_subids[i] = InvalidSubTransactionId;
	ws->nbuf++;
	ws->inserted = true;
	columnar_row_to_tid(ws->buf_first_row + i, tid);
	ws->next_row++;
	Assert(ws->buf_first_row + ws->nbuf == ws->next_row);
	maybe_flush(ws);
}

static ColumnarPendingDel *
pending_del_for(ColumnarWriteState *ws, ColumnarSegment *seg)
{
	bool		found;
	ColumnarPendingDel *pd = hash_search(ws->dels, &seg->segno, HASH_ENTER, &found);

	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(ws->cxt);
		int			nd;
		uint8	   *committed;
		int			i;

		pd->nrows = seg->row_count;
		/* we hold the writer lock: the committed state cannot move on */
		pd->removed = seg->removed_version != 0;
		committed = columnar_deleted_bitmap(ws->storage_id, seg->segno, seg->row_count,
											SnapshotSelf, 0, &nd);
		pd->committed = committed ? committed : palloc0((seg->row_count + 7) / 8);
		pd->cids = palloc(sizeof(CommandId) * seg->row_count);
		pd->subids = palloc0(sizeof(SubTransactionId) * seg->row_count);
		for (i = 0; i < seg->row_count; i++)
			pd->cids[i] = InvalidCommandId;
		pd->npending = 0;
		MemoryContextSwitchTo(old);
	}
	return pd;
}

/*
 * Delete a row.  Returns TM_Ok, TM_Deleted (a committed version deleted or
 * removed it after the caller's snapshot was taken) or TM_SelfModified (we
 * deleted it already, in command *cmax).
 */
int
columnar_delete_row(Relation rel, int64 rownum, CommandId cid, CommandId *cmax)
{
	ColumnarWriteState *ws = get_write_state(rel);
	ColumnarSegment seg;
	ColumnarPendingDel *pd;
	int			r;

	if (ws->nbuf > 0 && rownum >= ws->buf_first_row && rownum < ws->buf_first_row + ws->nbuf)
	{
		int			i = rownum - ws->buf_first_row;

		if (ws->del_cids[i] != InvalidCommandId)
		{
			*cmax = ws->del_cids[i];
			return TM_SelfModified;
		}
		ws->del_cids[i] = cid;
		ws->del_subids[i] = GetCurrentSubTransactionId();
		ws->deleted = true;
		return TM_Ok;
	}
	/* consecutive deletions mostly hit the same segment: remember it */
	if (ws->last_seg.row_count > 0 && rownum >= ws->last_seg.segno &&
		rownum < ws->last_seg.segno + ws->last_seg.row_count)
		seg = ws->last_seg;
	else if (!columnar_find_segment(ws->storage_id, rownum, SnapshotSelf, &seg))
		return TM_Deleted;
	else
		ws->last_seg = seg;
	pd = pending_del_for(ws, &seg);
	r = rownum - seg.segno;
	if (seg.removed_version != 0 || pd->removed ||
		(pd->committed[r / 8] & (1 << (r % 8))))
		return TM_Deleted;
	if (pd->cids[r] != InvalidCommandId)
	{
		*cmax = pd->cids[r];
		return TM_SelfModified;
	}
	pd->cids[r] = cid;
	pd->subids[r] = GetCurrentSubTransactionId();
	pd->npending++;
	ws->deleted = true;
	return TM_Ok;
}

void
columnar_note_update(Relation rel)
{
	ColumnarWriteState *ws = get_write_state(rel);

	ws->updated = true;
	ws->rows_updated++;
}

int64
columnar_set_operation(Relation rel, const char *operation, const char *parameters)
{
	ColumnarWriteState *ws = get_write_state(rel);
	MemoryContext old = MemoryContextSwitchTo(ws->cxt);

	ws->operation = pstrdup(operation);
	ws->parameters = parameters ? pstrdup(parameters) : NULL;
	MemoryContextSwitchTo(old);
	return ws->version;
}

/* Write the buffered rows of rel now (end of a bulk load into a new table). */
void
columnar_flush_relation(Relation rel)
{
	int64		storage_id = columnar_storage_id(rel, true);
	ColumnarWriteState *ws = storage_id ? columnar_write_state_find(storage_id) : NULL;

	if (ws && ws->nbuf > 0)
		flush_buffer(ws);
}

/*
 * TRUNCATE.  Transactional: every segment is marked removed by this version
 * (so time travel to older versions still works).  Non-transactional (the
 * table was created in this transaction): the data is simply deleted.
 */
void
columnar_truncate(Relation rel, bool transactional)
{
	ColumnarWriteState *ws = get_write_state(rel);
	Relation	segrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	int64		removed = 0;

	ws->nbuf = 0;
	ws->buf_first_row = ws->next_row;
	ws->last_seg.row_count = 0;
	buffer_reset(ws);
	hash_destroy(ws->dels);
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(ColumnarPendingDel);
		ctl.hcxt = ws->cxt;
		ws->dels = hash_create("columnar pending deletions", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (!transactional)
	{
		/* the table was created in this transaction: nothing to keep */
		columnar_storage_clear(ws->storage_id);
		ws->rows_flushed = 0;
		ws->rows_aborted = 0;
		ws->rows_updated = 0;
		return;
	}
	ws->truncated = true;

	segrel = columnar_meta_open("columnar_segment", RowExclusiveLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(ws->storage_id));
	scan = systable_beginscan(segrel, columnar_meta_index("columnar_segment_pkey"), true,
							  SnapshotSelf, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		ColumnarSegment seg;
		Datum		values[6];
		bool		nulls[6];
		bool		repl[6] = {false, false, false, false, false, true};
		HeapTuple	newtup;
		int			nd;
		uint8	   *bits;

		CHECK_FOR_INTERRUPTS();
		heap_deform_tuple(tup, RelationGetDescr(segrel), values, nulls);
		if (!nulls[5])
			continue;
		seg.segno = DatumGetInt64(values[1]);
		seg.row_count = DatumGetInt32(values[3]);
		bits = columnar_deleted_bitmap(ws->storage_id, seg.segno, seg.row_count,
									   SnapshotSelf, 0, &nd);
		if (bits)
			pfree(bits);
		removed += seg.row_count - nd;
		values[5] = Int64GetDatum(ws->version);
		nulls[5] = false;
		newtup = heap_modify_tuple(tup, RelationGetDescr(segrel), values, nulls, repl);
		CatalogTupleUpdate(segrel, &newtup->t_self, newtup);
	}
	systable_endscan(scan);
	table_close(segrel, RowExclusiveLock);
	ws->rows_truncated += removed;
	CommandCounterIncrement();
}

/* ---------------------------------------------------------------- */
/* commit                                                            */
/* ---------------------------------------------------------------- */

static void
insert_version(ColumnarWriteState *ws, int64 rows_removed)
{
	Relation	rel = columnar_meta_open("columnar_version", RowExclusiveLock);
	Relation	idx = index_open(columnar_meta_index("columnar_version_pkey"), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	TimestampTz now = GetCurrentTimestamp();
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};
	const char *op;
	const char *params;
	int64		added;
	int64		removed;

	/* commit timestamps strictly increase, even if the clock steps back */
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(ws->storage_id));
	scan = systable_beginscan_ordered(rel, idx, SnapshotSelf, 1, &key);
	tup = systable_getnext_ordered(scan, BackwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		int64		last = DatumGetInt64(heap_getattr(tup, 2, RelationGetDescr(rel), &isnull));
		TimestampTz last_at = DatumGetTimestampTz(heap_getattr(tup, 3, RelationGetDescr(rel), &isnull));

		if (last != ws->version - 1)
			elog(ERROR, "versioned_columnar version " INT64_FORMAT " follows " INT64_FORMAT,
				 ws->version, last);
		if (now <= last_at)
			now = last_at + 1;
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);

	added = ws->rows_flushed - ws->rows_aborted;
	removed = rows_removed - ws->rows_aborted + ws->rows_truncated;
	if (ws->operation)
		op = ws->operation;
	else if (ws->truncated)
		op = "TRUNCATE";
	else if (ws->updated && removed > 0 && added <= ws->rows_updated)
		op = "UPDATE";
	else if (added > 0 && removed > 0)
		op = "MERGE";
	else if (removed > 0)
		op = "DELETE";
	else
		op = "WRITE";
	params = ws->parameters ? ws->parameters : "{}";

	values[0] = Int64GetDatum(ws->storage_id);
	values[1] = Int64GetDatum(ws->version);
	values[2] = TimestampTzGetDatum(now);
	values[3] = CStringGetTextDatum(op);
	values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(params));
	values[5] = Int64GetDatum(added);
	values[6] = Int64GetDatum(removed);
	values[7] = ObjectIdGetDatum(ws->user_id);
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	CatalogTupleInsert(rel, tup);
	table_close(rel, RowExclusiveLock);
}

static void
commit_write_state(ColumnarWriteState *ws)
{
	HASH_SEQ_STATUS st;
	ColumnarPendingDel *pd;
	int64		rows_removed = 0;

	if (ws->nbuf > 0)
		flush_buffer(ws);

	hash_seq_init(&st, ws->dels);
	while ((pd = hash_seq_search(&st)) != NULL)
	{
		uint8	   *bits;
		int			i;
		int			n = 0;

		if (pd->npending == 0)
			continue;
		bits = palloc0((pd->nrows + 7) / 8);
		for (i = 0; i < pd->nrows; i++)
			if (pd->cids[i] != InvalidCommandId)
			{
				bits[i / 8] |= (1 << (i % 8));
				n++;
			}
		if (n == 0)
			continue;
		/* rows we added and deleted ourselves were never visible to anyone */
		columnar_insert_deletion(ws->storage_id, pd->segno, ws->version, bits, pd->nrows);
		rows_removed += n;
		pfree(bits);
	}
	/* a transaction that changed nothing (all rolled back, or nothing matched) makes no version */
	if (ws->rows_flushed - ws->rows_aborted == 0 && rows_removed - ws->rows_aborted == 0 &&
		!ws->truncated && !ws->operation)
		return;
	insert_version(ws, rows_removed);
}

/* The storage is gone (its table was dropped): nothing of it may be written. */
void
columnar_forget_write_state(int64 storage_id)
{
	ColumnarWriteState *ws = columnar_write_state_find(storage_id);

	if (ws)
	{
		last_ws = NULL;
		MemoryContextDelete(ws->cxt);
		hash_search(write_states, &storage_id, HASH_REMOVE, NULL);
	}
}

static void
reset_state(void)
{
	columnar_storage_cache_reset();
	last_ws = NULL;
	write_states = NULL;
	write_cxt = NULL;			/* freed with TopTransactionContext */
}

static void
columnar_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			if (write_states)
			{
				HASH_SEQ_STATUS st;
				ColumnarWriteState *ws;

				hash_seq_init(&st, write_states);
				while ((ws = hash_seq_search(&st)) != NULL)
					commit_write_state(ws);
			}
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (write_states && hash_get_num_entries(write_states) > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that wrote to a versioned_columnar table")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			reset_state();
			break;
	}
}

/*
 * A subtransaction's rollback drops what it buffered: everything written
 * since it started carries its id or a later one (subtransaction ids grow).
 * If it took the writer lock, the lock is gone with it, and so is our claim
 * on the version number: forget the whole state.
 */
static void
columnar_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS st;
	ColumnarWriteState *ws;

	if (event != SUBXACT_EVENT_ABORT_SUB || write_states == NULL)
		return;
	hash_seq_init(&st, write_states);
	while ((ws = hash_seq_search(&st)) != NULL)
	{
		ColumnarPendingDel *pd;
		HASH_SEQ_STATUS st2;
		int			i;

		if (ws->lock_subid >= mySubid)
		{
			last_ws = NULL;
			MemoryContextDelete(ws->cxt);
			hash_search(write_states, &ws->storage_id, HASH_REMOVE, NULL);
			continue;
		}
		/*
		 * Rolled-back rows keep their row numbers (index entries point at
		 * them): they stay in the buffer, deleted for everyone, and are
		 * counted neither as added nor as removed.
		 */
		for (i = ws->nbuf - 1; i >= 0 && ws->subids[i] >= mySubid; i--)
		{
			ws->subids[i] = InvalidSubTransactionId;
			ws->del_cids[i] = FirstCommandId;
			ws->del_subids[i] = InvalidSubTransactionId;
			ws->rows_aborted++;
		}
		for (i = 0; i < ws->nbuf; i++)
			if (ws->del_cids[i] != InvalidCommandId && ws->subids[i] != InvalidSubTransactionId &&
				ws->del_subids[i] >= mySubid)
				ws->del_cids[i] = InvalidCommandId;
		hash_seq_init(&st2, ws->dels);
		while ((pd = hash_seq_search(&st2)) != NULL)
		{
			for (i = 0; i < pd->nrows; i++)
				if (pd->cids[i] != InvalidCommandId && pd->subids[i] >= mySubid)
				{
					pd->cids[i] = InvalidCommandId;
					pd->npending--;
				}
		}
	}
}

void
columnar_xact_init(void)
{
	RegisterXactCallback(columnar_xact_callback, NULL);
	RegisterSubXactCallback(columnar_subxact_callback, NULL);
}
