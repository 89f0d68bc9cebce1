/*
 * columnar_xact.c
 *		Transaction boundaries of versioned_columnar writes: TRUNCATE, DROP,
 *		subtransaction rollback, and the commit-time (or PREPARE-time) flush
 *		that writes the version row.
 *
 * A transaction's changes to a table live in its write state
 * (columnar_write.c) until commit, and a rollback to a savepoint must undo
 * them exactly as it undoes the heap's.  Buffered rows and pending deletions
 * carry the subtransaction that made them; segments written, segments a
 * TRUNCATE marked removed and metadata a DROP deleted are heap rows, which
 * the rollback takes back by itself; and every open subtransaction keeps the
 * write state's counters and descriptor as they were when it started
 * (ColumnarWriteUndo), to put them back.  So TRUNCATE in a savepoint never
 * throws buffered rows away (it marks them deleted), and DROP only marks the
 * state dropped.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_write_state.h"
#include "columnar/columnar_metadata.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* A write state as it was when a subtransaction started. */
typedef struct ColumnarWriteUndo
{
	SubTransactionId subid;
	struct ColumnarWriteUndo *next;
	TupleDesc	tupdesc;
	int64		rows_flushed;
	int64		rows_own_dropped;
	int64		rows_truncated;
	int64		rows_updated;
	bool		inserted;
	bool		deleted;
	bool		updated;
	bool		truncated;
	bool		dropped;
	char	   *operation;
	char	   *parameters;
} ColumnarWriteUndo;

/* The versions are written: a TRUNCATE now is ON COMMIT DELETE ROWS. */
static bool precommit_done = false;

/* ---------------------------------------------------------------- */
/* TRUNCATE                                                          */
/* ---------------------------------------------------------------- */

/*
 * The buffered rows go.  At the top level they are simply dropped (the
 * pending deletions too, once remove_segments() has counted the segments:
 * forget_pending_deletions()); in a subtransaction they are marked deleted
 * by it, so that its rollback brings them back, and the pending deletions
 * stay for the same reason.
 */
static void
truncate_buffer(ColumnarWriteState *ws, bool nested)
{
	CommandId	cid;
	SubTransactionId subid;
	int			i;

	ws->last_seg.row_count = 0;
	if (!nested)
	{
		ws->nbuf = 0;
		ws->buf_first_row = ws->next_row;
		columnar_buffer_reset(ws);
		return;
	}
	cid = GetCurrentCommandId(true);
	subid = GetCurrentSubTransactionId();
	for (i = 0; i < ws->nbuf; i++)
		if (ws->subids[i] != InvalidSubTransactionId && ws->del_cids[i] == InvalidCommandId)
		{
			ws->del_cids[i] = cid;
			ws->del_subids[i] = subid;
		}
}

/*
 * A TRUNCATE at the top level: no rollback to a savepoint can want the
 * pending deletions back, so they go, and their rows are counted as the
 * TRUNCATE's.  remove_segments() left them out of the live rows it counted
 * (they were to be counted at commit, from the deletion vectors), and a
 * segment a TRUNCATE in a released savepoint removed before is not counted
 * again at all: dropping them uncounted would lose them from the history.
 */
static void
forget_pending_deletions(ColumnarWriteState *ws, bool count)
{
	HASHCTL		ctl;

	if (count)
	{
		HASH_SEQ_STATUS st;
		ColumnarPendingDel *pd;

		hash_seq_init(&st, ws->dels);
		while ((pd = hash_seq_search(&st)) != NULL)
		{
			if (pd->own)
				ws->rows_own_dropped += pd->npending;
			else
				ws->rows_truncated += pd->npending;
		}
	}
	hash_destroy(ws->dels);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(ColumnarPendingDel);
	ctl.hcxt = ws->cxt;
	ws->dels = hash_create("columnar pending deletions", 16, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Mark every segment removed by this version (time travel to older versions
 * still reads them).  Its committed live rows count as the version's removed
 * rows, live rows of our own segments as never added.
 */
static void
remove_segments(ColumnarWriteState *ws)
{
	Relation	segrel = table_open(ColumnarSegmentRelationId(), RowExclusiveLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&key, Anum_columnar_segment_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(ws->storage_id));
	scan = systable_beginscan(segrel, ColumnarSegmentPkeyIndexId(), true,
							  SnapshotSelf, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Datum		values[Natts_columnar_segment];
		bool		nulls[Natts_columnar_segment];
		bool		repl[Natts_columnar_segment] = {false};
		HeapTuple	newtup;
		int64		segno;
		int32		row_count;
		int			nd;
		uint8	   *bits;
		ColumnarPendingDel *pd;
		int64		live;

		CHECK_FOR_INTERRUPTS();
		heap_deform_tuple(tup, RelationGetDescr(segrel), values, nulls);
		if (!nulls[Anum_columnar_segment_removed_version - 1])
			continue;
		segno = DatumGetInt64(values[Anum_columnar_segment_segno - 1]);
		row_count = DatumGetInt32(values[Anum_columnar_segment_row_count - 1]);
		bits = columnar_deleted_bitmap(ws->storage_id, segno, row_count, SnapshotSelf, 0, &nd);
		if (bits)
			pfree(bits);
		pd = hash_search(ws->dels, &segno, HASH_FIND, NULL);
		live = row_count - nd - (pd ? pd->npending : 0);
		if (DatumGetInt64(values[Anum_columnar_segment_added_version - 1]) == ws->version)
			ws->rows_own_dropped += live;
		else
			ws->rows_truncated += live;
		ws->truncated = true;
		values[Anum_columnar_segment_removed_version - 1] = Int64GetDatum(ws->version);
		nulls[Anum_columnar_segment_removed_version - 1] = false;
		repl[Anum_columnar_segment_removed_version - 1] = true;
		newtup = heap_modify_tuple(tup, RelationGetDescr(segrel), values, nulls, repl);
		CatalogTupleUpdate(segrel, &newtup->t_self, newtup);
	}
	systable_endscan(scan);
	table_close(segrel, RowExclusiveLock);
	CommandCounterIncrement();
}

/*
 * TRUNCATE.  Transactional: the segments are marked removed by this version.
 * Non-transactional (the table was created or given a new relfilenode in
 * this subtransaction): without history and outside a savepoint the data is
 * simply deleted; with history, or when a rollback to a savepoint must find
 * the rows again, it is marked removed as above.  After the versions are
 * written (ON COMMIT DELETE ROWS) the table keeps neither rows nor history.
 */
void
columnar_truncate(Relation rel, bool transactional)
{
	/* ON COMMIT DELETE ROWS empties the table whatever the transaction did */
	ColumnarWriteState *ws = (!transactional && precommit_done) ?
		columnar_get_write_state(rel) : columnar_write_state_for_rows(rel);
	bool		nested = GetCurrentTransactionNestLevel() > 1;

	if (!transactional && precommit_done)
	{
		/*
		 * The rows written at pre-commit must be visible to the deletion, and
		 * deleting TOASTed chunks needs a snapshot: commit has none active.
		 */
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		columnar_storage_clear(ws->storage_id, true);
		PopActiveSnapshot();
		return;
	}
	if (!transactional && (ws->version > 1 || nested))
		transactional = true;
	truncate_buffer(ws, nested);
	if (!transactional)
	{
		forget_pending_deletions(ws, false);
		columnar_storage_clear(ws->storage_id, false);
		ws->rows_flushed = 0;
		ws->rows_own_dropped = 0;
		ws->rows_updated = 0;
		return;
	}
	remove_segments(ws);
	if (!nested)
		forget_pending_deletions(ws, true);
}

/*
 * A column changed its type or collation without a rewrite: the min/max of
 * its chunks were computed with the old ordering and are dropped (the rows
 * stay, heap updates a rollback undoes); rows still buffered get theirs
 * with the new one.
 */
void
columnar_column_changed(int64 storage_id, Form_pg_attribute newatt)
{
	Relation	chunkrel = table_open(ColumnarChunkRelationId(), RowExclusiveLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	ColumnarWriteState *ws = columnar_write_state_find(storage_id);

	ScanKeyInit(&key, Anum_columnar_chunk_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	scan = systable_beginscan(chunkrel, ColumnarChunkPkeyIndexId(), true,
							  SnapshotSelf, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Datum		values[Natts_columnar_chunk];
		bool		nulls[Natts_columnar_chunk];
		bool		repl[Natts_columnar_chunk] = {false};
		HeapTuple	newtup;

		CHECK_FOR_INTERRUPTS();
		heap_deform_tuple(tup, RelationGetDescr(chunkrel), values, nulls);
		/* the updated copy is visible to the scan too: it has no min/max left */
		if (DatumGetInt16(values[Anum_columnar_chunk_attnum - 1]) != newatt->attnum ||
			(nulls[Anum_columnar_chunk_min_value - 1] && nulls[Anum_columnar_chunk_max_value - 1]))
			continue;
		nulls[Anum_columnar_chunk_min_value - 1] = nulls[Anum_columnar_chunk_max_value - 1] = true;
		repl[Anum_columnar_chunk_min_value - 1] = repl[Anum_columnar_chunk_max_value - 1] = true;
		newtup = heap_modify_tuple(tup, RelationGetDescr(chunkrel), values, nulls, repl);
		CatalogTupleUpdate(chunkrel, &newtup->t_self, newtup);
		heap_freetuple(newtup);
	}
	systable_endscan(scan);
	table_close(chunkrel, RowExclusiveLock);
	/* no CommandCounterIncrement: ALTER TABLE still holds the relation's old descriptor */

	if (ws && newatt->attnum <= ws->tupdesc->natts)
	{
		/* a new descriptor, not a change in place: a rollback restores the old one */
		MemoryContext old = MemoryContextSwitchTo(ws->cxt);
		TupleDesc	desc = CreateTupleDescCopy(ws->tupdesc);
		Form_pg_attribute att = TupleDescAttr(desc, newatt->attnum - 1);

		memcpy(att, newatt, ATTRIBUTE_FIXED_PART_SIZE);
		/* as CreateTupleDescCopy leaves them: the copy has no constraints or defaults */
		att->attnotnull = false;
		att->atthasdef = false;
		att->atthasmissing = false;
		att->attidentity = '\0';
		att->attgenerated = '\0';
		ws->tupdesc = desc;
		MemoryContextSwitchTo(old);
		columnar_write_states_forget_last();
	}
}

/* ---------------------------------------------------------------- */
/* commit                                                            */
/* ---------------------------------------------------------------- */

static void
insert_version(ColumnarWriteState *ws, int64 added, int64 removed)
{
	Relation	rel = table_open(ColumnarVersionRelationId(), RowExclusiveLock);
	Relation	idx = index_open(ColumnarVersionPkeyIndexId(), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	TimestampTz now = GetCurrentTimestamp();
	Datum		values[Natts_columnar_version];
	bool		nulls[Natts_columnar_version] = {false};
	const char *op;
	const char *params;

	/* commit timestamps strictly increase, even if the clock steps back */
	ScanKeyInit(&key, Anum_columnar_version_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(ws->storage_id));
	scan = systable_beginscan_ordered(rel, idx, SnapshotSelf, 1, &key);
	tup = systable_getnext_ordered(scan, BackwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		int64		last = DatumGetInt64(heap_getattr(tup, Anum_columnar_version_version,
													  RelationGetDescr(rel), &isnull));
		TimestampTz last_at = DatumGetTimestampTz(heap_getattr(tup, Anum_columnar_version_committed_at,
															   RelationGetDescr(rel), &isnull));

		if (last != ws->version - 1)
			elog(ERROR, "versioned_columnar version " INT64_FORMAT " follows " INT64_FORMAT,
				 ws->version, last);
		if (now <= last_at)
			now = last_at + 1;
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);

	/*
	 * A TRUNCATE that removed no committed row (the table was empty, as
	 * pg_restore's TRUNCATE ONLY before its COPY finds it) does not make the
	 * version a TRUNCATE.
	 */
	if (ws->operation)
		op = ws->operation;
	else if (ws->rows_truncated > 0 || (ws->truncated && added == 0 && removed == 0))
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

	values[Anum_columnar_version_storage_id - 1] = Int64GetDatum(ws->storage_id);
	values[Anum_columnar_version_version - 1] = Int64GetDatum(ws->version);
	values[Anum_columnar_version_committed_at - 1] = TimestampTzGetDatum(now);
	values[Anum_columnar_version_operation - 1] = CStringGetTextDatum(op);
	values[Anum_columnar_version_parameters - 1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(params));
	values[Anum_columnar_version_rows_added - 1] = Int64GetDatum(added);
	values[Anum_columnar_version_rows_removed - 1] = Int64GetDatum(removed);
	values[Anum_columnar_version_committed_by - 1] = ObjectIdGetDatum(ws->user_id);
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	CatalogTupleInsert(rel, tup);
	table_close(rel, RowExclusiveLock);
}

/*
 * Write what is still buffered, the pending deletions and the version row.
 * Rows added counts the rows of our segments still live at commit; rows
 * removed counts committed rows deleted or truncated away.
 */
static void
commit_write_state(ColumnarWriteState *ws)
{
	HASH_SEQ_STATUS st;
	ColumnarPendingDel *pd;
	int64		own_deleted = 0;
	int64		removed = 0;
	bool		wrote = false;

	if (ws->dropped)
		return;
	if (ws->nbuf > 0)
		columnar_flush_buffer(ws);
	columnar_resolve_successors(ws);

	hash_seq_init(&st, ws->dels);
	while ((pd = hash_seq_search(&st)) != NULL)
	{
		uint8	   *bits;
		int			i;
		int			n = 0;
		ColumnarSegment seg;

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
		/* a segment of ours written in a rolled-back subtransaction is gone */
		if (pd->own && ws->had_subabort &&
			!(columnar_find_segment(ws->storage_id, pd->segno, SnapshotSelf, &seg) &&
			  seg.segno == pd->segno))
			continue;
		columnar_insert_deletion(ws->storage_id, pd->segno, ws->version, bits, pd->nrows,
								 pd->succ);
		wrote = true;
		if (pd->own)
			own_deleted += n;	/* added and deleted by us: never visible to anyone */
		else
			removed += n;
		pfree(bits);
	}
	/* a transaction that wrote nothing (all rolled back, or nothing matched) makes no version */
	if (ws->rows_flushed == 0 && !wrote && !ws->truncated && !ws->operation)
		return;
	insert_version(ws, ws->rows_flushed - ws->rows_own_dropped - own_deleted,
				   removed + ws->rows_truncated);
}

/* ---------------------------------------------------------------- */
/* subtransactions                                                   */
/* ---------------------------------------------------------------- */

static void
push_undo(ColumnarWriteState *ws, SubTransactionId subid)
{
	ColumnarWriteUndo *u = MemoryContextAlloc(ws->cxt, sizeof(ColumnarWriteUndo));

	u->subid = subid;
	u->next = ws->undo;
	u->tupdesc = ws->tupdesc;
	u->rows_flushed = ws->rows_flushed;
	u->rows_own_dropped = ws->rows_own_dropped;
	u->rows_truncated = ws->rows_truncated;
	u->rows_updated = ws->rows_updated;
	u->inserted = ws->inserted;
	u->deleted = ws->deleted;
	u->updated = ws->updated;
	u->truncated = ws->truncated;
	u->dropped = ws->dropped;
	u->operation = ws->operation;
	u->parameters = ws->parameters;
	ws->undo = u;
}

static void
pop_undo(ColumnarWriteState *ws, bool restore)
{
	ColumnarWriteUndo *u = ws->undo;

	if (restore)
	{
		ws->tupdesc = u->tupdesc;
		ws->rows_flushed = u->rows_flushed;
		ws->rows_own_dropped = u->rows_own_dropped;
		ws->rows_truncated = u->rows_truncated;
		ws->rows_updated = u->rows_updated;
		ws->inserted = u->inserted;
		ws->deleted = u->deleted;
		ws->updated = u->updated;
		ws->truncated = u->truncated;
		ws->dropped = u->dropped;
		ws->operation = u->operation;
		ws->parameters = u->parameters;
	}
	ws->undo = u->next;
	pfree(u);
}

/*
 * A subtransaction's rollback: everything it buffered or deleted carries its
 * id or a later one (subtransaction ids grow, and only its own
 * subtransactions started after it).  If it took the writer lock, the lock
 * is gone with it, and so is our claim on the version number: forget the
 * whole state.
 */
static void
abort_sub(ColumnarWriteState *ws, SubTransactionId mySubid)
{
	ColumnarPendingDel *pd;
	HASH_SEQ_STATUS st;
	int			i;

	if (ws->lock_subid >= mySubid)
	{
		columnar_write_state_remove(ws);
		return;
	}
	while (ws->undo && ws->undo->subid > mySubid)
		pop_undo(ws, false);
	if (ws->undo && ws->undo->subid == mySubid)
		pop_undo(ws, true);
	ws->had_subabort = true;
	ws->last_seg.row_count = 0;

	/*
	 * Rolled-back rows keep their row numbers (index entries point at them):
	 * they stay in the buffer, deleted for everyone, and written as such.
	 */
	for (i = 0; i < ws->nbuf; i++)
	{
		if (ws->subids[i] != InvalidSubTransactionId && ws->subids[i] >= mySubid)
		{
			ws->subids[i] = InvalidSubTransactionId;
			ws->del_cids[i] = FirstCommandId;
			ws->del_subids[i] = InvalidSubTransactionId;
		}
		else if (ws->del_cids[i] != InvalidCommandId && ws->subids[i] != InvalidSubTransactionId &&
				 ws->del_subids[i] >= mySubid)
			ws->del_cids[i] = InvalidCommandId;
	}
	hash_seq_init(&st, ws->dels);
	while ((pd = hash_seq_search(&st)) != NULL)
	{
		for (i = 0; i < pd->nrows; i++)
			if (pd->cids[i] != InvalidCommandId && pd->subids[i] >= mySubid)
			{
				pd->cids[i] = InvalidCommandId;
				pd->npending--;
			}
	}
}

static void
columnar_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	HTAB	   *states = columnar_write_states();
	HASH_SEQ_STATUS st;
	ColumnarWriteState *ws;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		columnar_storage_cache_forget();
		columnar_write_states_forget_last();
	}
	if (states == NULL)
		return;
	hash_seq_init(&st, states);
	while ((ws = hash_seq_search(&st)) != NULL)
	{
		switch (event)
		{
			case SUBXACT_EVENT_START_SUB:
				push_undo(ws, mySubid);
				break;
			case SUBXACT_EVENT_COMMIT_SUB:
				if (ws->undo && ws->undo->subid == mySubid)
					pop_undo(ws, false);
				break;
			case SUBXACT_EVENT_ABORT_SUB:
				abort_sub(ws, mySubid);
				break;
			default:
				break;
		}
	}
}

/* ---------------------------------------------------------------- */
/* transaction end                                                   */
/* ---------------------------------------------------------------- */

static void
columnar_xact_callback(XactEvent event, void *arg)
{
	HTAB	   *states = columnar_write_states();

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:

			/*
			 * A prepared transaction that wrote a gold table would keep the
			 * table's writer lock until COMMIT PREPARED, and so stop every
			 * other writer of the table, the preparing session included, for
			 * as long as it stays prepared (a heap table's prepared rows
			 * block nobody's inserts).  Versions must stay in commit order,
			 * so the lock cannot be given up either: such a PREPARE is
			 * refused.  Row locks alone (a write state without changes) may
			 * be prepared: the lock goes with the prepared transaction, as
			 * the heap's row locks do.
			 */
			if (states)
			{
				HASH_SEQ_STATUS st;
				ColumnarWriteState *ws;

				hash_seq_init(&st, states);
				while ((ws = hash_seq_search(&st)) != NULL)
					if (!ws->dropped &&
						(ws->inserted || ws->deleted || ws->truncated || ws->operation))
					{
						hash_seq_term(&st);
						ereport(ERROR,
								(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
								 errmsg("cannot PREPARE a transaction that wrote to a versioned_columnar table"),
								 errhint("Commit it instead; a prepared writer would hold the table's writer lock until COMMIT PREPARED.")));
					}
			}
			/* FALLTHROUGH */
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			if (states)
			{
				HASH_SEQ_STATUS st;
				ColumnarWriteState *ws;

				hash_seq_init(&st, states);
				while ((ws = hash_seq_search(&st)) != NULL)
					commit_write_state(ws);
			}
			precommit_done = true;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			precommit_done = false;
			columnar_write_states_reset();
			break;
	}
}

void
columnar_xact_init(void)
{
	RegisterXactCallback(columnar_xact_callback, NULL);
	RegisterSubXactCallback(columnar_subxact_callback, NULL);
}
