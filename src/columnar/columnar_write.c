/*
 * columnar_write.c
 *		Transactional writes of versioned_columnar tables: the per-transaction
 *		insert buffer and pending deletions, the writer lock and version
 *		assignment.  What happens to them at transaction boundaries (commit,
 *		subtransaction rollback, TRUNCATE, DROP) is in columnar_xact.c.
 *
 * A transaction that first writes a table takes that table's writer lock
 * (held to its end), so writers of one table serialize and the version
 * number (latest committed + 1) is known from the first write on: every
 * segment and deletion row carries it, and no row ever needs rewriting.
 * Rows are buffered in memory and written as segments when a segment is full
 * or at pre-commit; deletions are kept as per-segment bitmaps and written at
 * pre-commit, with the version row (columnar_xact.c).  Readers never take the
 * lock.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_write_state.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/parallel.h"
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

static bool
lock_storage(int64 storage_id, bool dont_wait)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (storage_id >> 32),
						 (uint32) storage_id, COLUMNAR_LOCK_FIELD4);
	return LockAcquire(&tag, ExclusiveLock, false, dont_wait) != LOCKACQUIRE_NOT_AVAIL;
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

/*
 * The table has more columns than when its rows were buffered (ADD COLUMN
 * without a rewrite, in this transaction): the buffered rows get the new
 * columns' missing values, as the heap's old tuples read them.  Writing the
 * buffer out instead would put rows of enclosing subtransactions into
 * segments a rollback of the current one takes away.  (The descriptor goes
 * back to an older one only by a subtransaction's rollback, which restores
 * the old descriptor itself.)
 */
static void
adopt_descriptor(ColumnarWriteState *ws, TupleDesc reldesc)
{
	MemoryContext old = MemoryContextSwitchTo(ws->cxt);
	int			oldnatts = ws->tupdesc->natts;
	int			a;
	int			i;

	if (reldesc->natts > oldnatts)
	{
		ws->vals = repalloc(ws->vals, sizeof(Datum *) * reldesc->natts);
		ws->nulls = repalloc(ws->nulls, sizeof(bool *) * reldesc->natts);
	}
	for (a = oldnatts; a < reldesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(reldesc, a);
		bool		isnull = true;
		Datum		d = (Datum) 0;

		if (!att->attisdropped)
			d = getmissingattr(reldesc, a + 1, &isnull);
		if (!isnull)
			d = datumCopy(d, att->attbyval, att->attlen);
		ws->vals[a] = palloc(sizeof(Datum) * ws->capbuf);
		ws->nulls[a] = palloc(sizeof(bool) * ws->capbuf);
		for (i = 0; i < ws->nbuf; i++)
		{
			ws->vals[a][i] = d;
			ws->nulls[a][i] = isnull;
		}
	}
	ws->tupdesc = CreateTupleDescCopy(reldesc);
	MemoryContextSwitchTo(old);
}

/*
 * The write state of rel in this transaction; takes the writer lock first.
 * With dont_wait, NULL if another transaction holds the lock.
 */
static ColumnarWriteState *
get_write_state_ext(Relation rel, bool dont_wait)
{
	int64		storage_id;
	ColumnarWriteState *ws;
	bool		found;
	MemoryContext old;
	int			a;

	/*
	 * The leader of a parallel query may insert (CREATE TABLE AS, whose
	 * transaction id exists before the query starts, as for the heap); the
	 * workers never write.
	 */
	if (IsParallelWorker())
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
			adopt_descriptor(ws, RelationGetDescr(rel));
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
		if (!lock_storage(storage_id, dont_wait))
		{
			MemoryContextDelete(ws->cxt);
			hash_search(write_states, &storage_id, HASH_REMOVE, NULL);
			ws = NULL;
		}
		else
		{
			ws->lock_subid = GetCurrentSubTransactionId();
			ws->user_id = GetUserId();
			/*
			 * Under the lock, which the previous writer released only after
			 * its commit became visible: whoever sees this version sees
			 * every one before it (columnar_changes.c relies on it).
			 */
			ws->version = columnar_latest_version(storage_id, SnapshotSelf) + 1;
			ws->next_row = ws->reserved_end = 0;
		}
	}
	PG_CATCH();
	{
		last_ws = NULL;
		MemoryContextDelete(ws->cxt);
		hash_search(write_states, &storage_id, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (ws != NULL)
		remember_ws(rel, ws);
	return ws;
}

static ColumnarWriteState *
get_write_state(Relation rel)
{
	return get_write_state_ext(rel, false);
}

/*
 * The write state for a row write (INSERT, DELETE, UPDATE, TRUNCATE).  An
 * OPTIMIZE or VACUUM earlier in this transaction made its version one that
 * changes no row (OPTIMIZE: changes() skips it, verify() checks it is a
 * rewrite) or only removes old ones: rows written into it would be hidden
 * from the change feed and mislabelled in the history, so they are refused.
 */
ColumnarWriteState *
columnar_write_state_for_rows(Relation rel)
{
	ColumnarWriteState *ws = get_write_state(rel);

	if (ws->operation != NULL &&
		(strcmp(ws->operation, "OPTIMIZE") == 0 || strcmp(ws->operation, "VACUUM") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot write to table \"%s\" after streamext.%s in the same transaction",
						RelationGetRelationName(rel),
						strcmp(ws->operation, "OPTIMIZE") == 0 ? "optimize" : "vacuum"),
				 errhint("Run streamext.optimize and streamext.vacuum in a transaction of their own.")));
	return ws;
}

/* For row locks: the write state, or NULL if dont_wait and the lock is taken. */
ColumnarWriteState *
columnar_write_state_lock(Relation rel, bool dont_wait)
{
	return get_write_state_ext(rel, dont_wait);
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

/*
 * Can rows start .. start + n - 1 of the buffer go unwritten?  Rows of
 * rolled-back subtransactions are invisible to everyone; rows this
 * transaction deleted are too once it commits.  Their row numbers then
 * simply have no segment, which reads as "no such row".
 */
static bool
rows_dead(ColumnarWriteState *ws, int start, int n, bool at_commit)
{
	int			i;

	for (i = start; i < start + n; i++)
		if (ws->subids[i] != InvalidSubTransactionId &&
			!(at_commit && ws->del_cids[i] != InvalidCommandId))
			return false;
	return true;
}

/* Remember which command inserted buffered rows start .. start + n - 1. */
static void
remember_cids(ColumnarWriteState *ws, int start, int n)
{
	int			i;

	for (i = start; i < start + n; i++)
	{
		if (ws->nruns > 0 && ws->run_cids[ws->nruns - 1] == ws->cids[i])
			continue;
		if (ws->nruns == ws->capruns)
		{
			MemoryContext old = MemoryContextSwitchTo(ws->cxt);

			ws->capruns = Max(16, ws->capruns * 2);
			ws->run_rows = ws->run_rows ? repalloc(ws->run_rows, sizeof(int64) * ws->capruns) :
				palloc(sizeof(int64) * ws->capruns);
			ws->run_cids = ws->run_cids ? repalloc(ws->run_cids, sizeof(CommandId) * ws->capruns) :
				palloc(sizeof(CommandId) * ws->capruns);
			MemoryContextSwitchTo(old);
		}
		ws->run_rows[ws->nruns] = ws->buf_first_row + i;
		ws->run_cids[ws->nruns] = ws->cids[i];
		ws->nruns++;
	}
}

/*
 * The command that inserted row rownum, if this transaction wrote it out as
 * part of a segment.  (Rows of segments a rollback took away keep their
 * entry; their segment is gone, which the caller finds first.)
 */
bool
columnar_own_row_cid(ColumnarWriteState *ws, int64 rownum, CommandId *cid)
{
	int			lo = 0;
	int			hi = ws->nruns - 1;
	int			found = -1;

	if (ws->nruns == 0 || rownum < ws->run_rows[0] || rownum >= ws->buf_first_row)
		return false;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (ws->run_rows[mid] <= rownum)
		{
			found = mid;
			lo = mid + 1;
		}
		else
			hi = mid - 1;
	}
	if (found < 0)
		return false;
	*cid = ws->run_cids[found];
	return true;
}

/*
 * Write rows start .. start + nrows - 1 of the insert buffer as one segment;
 * the buffered rows we already deleted become pending deletions of it.
 */
static void
write_segment(ColumnarWriteState *ws, int start, int nrows)
{
	int64		segno = ws->buf_first_row + start;
	ColumnarPendingDel *pd = NULL;
	int			i;

	columnar_insert_segment(ws->storage_id, ws->version, segno, ws->tupdesc,
							ws->vals, ws->nulls, start, nrows);
	for (i = 0; i < nrows; i++)
	{
		if (ws->del_cids[start + i] == InvalidCommandId)
			continue;
		if (pd == NULL)
		{
			bool		found;

			pd = hash_search(ws->dels, &segno, HASH_ENTER, &found);
			if (!found)
			{
				MemoryContext o = MemoryContextSwitchTo(ws->cxt);
				int			r;

				pd->nrows = nrows;
				pd->removed = false;
				pd->own = true;
				pd->committed = palloc0((nrows + 7) / 8);
				pd->cids = palloc(sizeof(CommandId) * nrows);
				pd->subids = palloc0(sizeof(SubTransactionId) * nrows);
				pd->succ = NULL;
				pd->npending = 0;
				for (r = 0; r < nrows; r++)
					pd->cids[r] = InvalidCommandId;
				MemoryContextSwitchTo(o);
			}
		}
		pd->cids[i] = ws->del_cids[start + i];
		pd->subids[i] = ws->del_subids[start + i];
		pd->npending++;
	}
	ws->rows_flushed += nrows;
	/* the leader of a parallel CREATE TABLE AS cannot start a command; nothing reads the rows in it */
	if (!IsInParallelMode())
		CommandCounterIncrement();
}

/* Write the whole buffer as segments (of at most columnar_segment_rows). */
static void
flush_buffer_ext(ColumnarWriteState *ws, bool at_commit)
{
	int			start = 0;

	while (start < ws->nbuf)
	{
		int			n = Min(ws->nbuf - start, columnar_segment_rows);

		if (!rows_dead(ws, start, n, at_commit))
		{
			if (!at_commit)
				remember_cids(ws, start, n);
			write_segment(ws, start, n);
		}
		start += n;
	}
	ws->buf_first_row += ws->nbuf;
	ws->nbuf = 0;
	buffer_reset(ws);
}

static void
flush_buffer(ColumnarWriteState *ws)
{
	flush_buffer_ext(ws, false);
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
	ColumnarWriteState *ws = columnar_write_state_for_rows(rel);
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

ColumnarPendingDel *
columnar_pending_del_for(ColumnarWriteState *ws, ColumnarSegment *seg)
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
		pd->own = seg->added_version == ws->version;
		committed = columnar_deleted_bitmap(ws->storage_id, seg->segno, seg->row_count,
											SnapshotSelf, 0, &nd);
		pd->committed = committed ? committed : palloc0((seg->row_count + 7) / 8);
		pd->cids = palloc(sizeof(CommandId) * seg->row_count);
		pd->subids = palloc0(sizeof(SubTransactionId) * seg->row_count);
		pd->succ = NULL;
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
	ColumnarWriteState *ws;
	ColumnarSegment seg;
	ColumnarPendingDel *pd;
	int			r;

	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot delete rows of a versioned_columnar table during a parallel operation")));
	ws = columnar_write_state_for_rows(rel);

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
	pd = columnar_pending_del_for(ws, &seg);
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

/* ---- for columnar_xact.c: the transaction's write states ---- */

ColumnarWriteState *
columnar_get_write_state(Relation rel)
{
	return get_write_state(rel);
}

HTAB *
columnar_write_states(void)
{
	return write_states;
}

/* At commit: what is left of the buffer becomes segments. */
void
columnar_flush_buffer(ColumnarWriteState *ws)
{
	flush_buffer_ext(ws, true);
}

void
columnar_buffer_reset(ColumnarWriteState *ws)
{
	buffer_reset(ws);
}

/* Forget a write state (its subtransaction took the writer lock and rolled back). */
void
columnar_write_state_remove(ColumnarWriteState *ws)
{
	int64		storage_id = ws->storage_id;

	last_ws = NULL;
	MemoryContextDelete(ws->cxt);
	hash_search(write_states, &storage_id, HASH_REMOVE, NULL);
}

/*
 * The table was dropped (or replaced by a rewrite): nothing of it may be
 * written at commit.  The state itself stays: a rollback to a savepoint
 * before the DROP brings the table and its buffered rows back.
 */
void
columnar_write_state_dropped(int64 storage_id)
{
	ColumnarWriteState *ws = columnar_write_state_find(storage_id);

	if (ws)
	{
		ws->dropped = true;
		last_ws = NULL;
	}
}

/* The transaction ended: everything lived in TopTransactionContext. */
void
columnar_write_states_reset(void)
{
	columnar_storage_cache_reset();
	last_ws = NULL;
	write_states = NULL;
	write_cxt = NULL;
}

/* A subtransaction rolled back: cached pointers into the write states may be stale. */
void
columnar_write_states_forget_last(void)
{
	last_ws = NULL;
}
