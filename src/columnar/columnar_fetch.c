/*
 * columnar_fetch.c
 *		Row fetches by row number of versioned_columnar tables: index scans,
 *		bitmap and sample scans, row locks and the executor's re-fetches
 *		(fetch_row_version), and the dirty-snapshot answers unique checks
 *		and ON CONFLICT wait on.
 *
 * A fetch finds the row's segment (its metadata and deletion vector, as the
 * snapshot sees them), then the row's values in the segment's decoded
 * columns.  Index order jumps between segments, so a fetcher caches both:
 * decoded segments within columnar_fetch_cache_budget() (chunks never change
 * once written, so they are valid whatever the snapshot), and segment
 * visibility per MVCC snapshot, told apart by the snapshot's contents.
 * This transaction's own rows come from its insert buffer and pending
 * deletions, which are never cached.  Sequential reading is in
 * columnar_read.c.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"

#include "access/subtrans.h"
#include "access/transam.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* Did our transaction delete row r of segment segno, as snapshot sees it? */
static bool
pending_deleted(int64 storage_id, int64 segno, int r, Snapshot snapshot)
{
	ColumnarWriteState *ws = columnar_write_state_find(storage_id);
	ColumnarPendingDel *pd;

	if (ws == NULL)
		return false;
	pd = columnar_ws_pending_del(ws, segno);
	if (pd == NULL || pd->npending == 0 || r >= pd->nrows)
		return false;
	return pd->cids[r] != InvalidCommandId && columnar_cid_visible(snapshot, pd->cids[r]);
}

/*
 * Index scans fetch rows in index order, which on a table loaded in any
 * other order jumps from segment to segment.  Decoding a segment costs as
 * much as reading it in a scan, so once the fetches come back to a segment
 * decoded before, the fetcher keeps decoded segments (least recently used
 * first out, within columnar_fetch_cache_budget() bytes) and, always,
 * for an MVCC snapshot, each segment's metadata and deletion bitmap, so that
 * a fetch landing in a segment seen before costs neither a decode nor a
 * metadata lookup.  Chunks never change once written, so decoded values stay
 * valid whatever the snapshot; visibility is remembered per snapshot only.
 */
typedef struct FetchEnt
{
	int64		segno;			/* sort key of the fetcher's array */
	/* visibility of the segment under the fetcher's snapshot vis_gen */
	uint64		vis_gen;		/* 0: not known */
	ColumnarSegment seg;
	uint8	   *deleted;
	/* decoded columns; cxt NULL: not decoded */
	MemoryContext cxt;
	int			natts;
	Datum	  **vals;
	bool	  **nulls;
	Size		bytes;
	uint64		last_use;
	bool		decoded_before;
} FetchEnt;

struct ColumnarFetcher
{
	Relation	rel;
	int64		storage_id;
	MemoryContext cxt;
	FetchEnt  **ents;			/* sorted by segno */
	int			nents;
	int			capents;
	Size		decoded_bytes;	/* of all decoded entries */
	uint64		clock;
	bool		keep_many;		/* fetches came back to a segment: cache */
	/* the MVCC snapshot the entries' visibility is for, and its generation */
	SnapshotData snap_id;
	TransactionId *snap_xip;
	TransactionId *snap_subxip;
	uint64		vis_gen;
	/* visibility of the segment of the current fetch */
	ColumnarSegment vis_seg;
	bool		vis_found;
	uint8	   *vis_deleted;
	bool		vis_owned;		/* vis_deleted is ours, not an entry's */
	bool		registered;		/* counted in the write state's active_scans */
};

/*
 * Bytes of decoded segments one fetcher may keep: four times work_mem (like
 * a hash table's hash_mem_multiplier, the fetcher trades memory for not
 * decoding a segment again).
 */
Size
columnar_fetch_cache_budget(void)
{
	return (Size) work_mem * 1024 * 4;
}

ColumnarFetcher *
columnar_fetcher_begin(Relation rel)
{
	ColumnarFetcher *f = palloc0(sizeof(ColumnarFetcher));

	f->rel = rel;
	f->storage_id = columnar_storage_id(rel, false);
	f->cxt = AllocSetContextCreate(CurrentMemoryContext, "columnar fetch",
								   ALLOCSET_DEFAULT_SIZES);
	return f;
}

void
columnar_fetcher_set_rel(ColumnarFetcher *f, Relation rel)
{
	f->rel = rel;
}

/*
 * The fetcher serves a scan (index, bitmap, sample) that may still return
 * rows buffered by earlier commands of this transaction: while it is open,
 * the insert buffer is not written out early (see maybe_flush), since rows
 * flushed now would carry the current command in their segment's metadata
 * and vanish from the scan's snapshot (INSERT ... SELECT or UPDATE through
 * an index of the table they write lost rows so).
 */
void
columnar_fetcher_register_scan(ColumnarFetcher *f)
{
	ColumnarWriteState *ws = columnar_write_state_find(f->storage_id);

	if (ws && !f->registered)
	{
		columnar_ws_scan_started(ws);
		f->registered = true;
	}
}

void
columnar_fetcher_end(ColumnarFetcher *f)
{
	if (f->registered)
	{
		ColumnarWriteState *ws = columnar_write_state_find(f->storage_id);

		if (ws)
			columnar_ws_scan_ended(ws);
	}
	MemoryContextDelete(f->cxt);
	pfree(f);
}

/*
 * The top-level transaction of a running (sub)transaction, what a waiter
 * must wait for; Invalid for Invalid or a transaction that has ended.
 */
static TransactionId
top_level_xid(TransactionId xid)
{
	if (!TransactionIdIsValid(xid) || TransactionIdIsCurrentTransactionId(xid) ||
		!TransactionIdIsInProgress(xid))
		return InvalidTransactionId;
	return SubTransGetTopmostTransaction(xid);
}

/* Index of the entry with the greatest segno <= rownum, or -1. */
static int
fetch_ent_search(ColumnarFetcher *f, int64 rownum)
{
	int			lo = 0;
	int			hi = f->nents - 1;
	int			found = -1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (f->ents[mid]->segno <= rownum)
		{
			found = mid;
			lo = mid + 1;
		}
		else
			hi = mid - 1;
	}
	return found;
}

/* The entry of segment segno, created if missing. */
static FetchEnt *
fetch_ent(ColumnarFetcher *f, int64 segno)
{
	int			i = fetch_ent_search(f, segno);
	FetchEnt   *e;

	if (i >= 0 && f->ents[i]->segno == segno)
		return f->ents[i];
	if (f->nents == f->capents)
	{
		f->capents = Max(16, f->capents * 2);
		f->ents = f->ents ? repalloc(f->ents, sizeof(FetchEnt *) * f->capents) :
			MemoryContextAlloc(f->cxt, sizeof(FetchEnt *) * f->capents);
	}
	e = MemoryContextAllocZero(f->cxt, sizeof(FetchEnt));
	e->segno = segno;
	memmove(&f->ents[i + 2], &f->ents[i + 1], sizeof(FetchEnt *) * (f->nents - i - 1));
	f->ents[i + 1] = e;
	f->nents++;
	return e;
}

/*
 * Advance the fetcher's snapshot generation unless snapshot is the one the
 * entries' visibility is for.  The pointer alone cannot tell: a snapshot's
 * memory may be reused for a later one, so its contents are compared too.
 */
static void
fetch_snapshot_gen(ColumnarFetcher *f, Snapshot s)
{
	SnapshotData *id = &f->snap_id;

	if (f->vis_gen != 0 && id->curcid == s->curcid && id->xmin == s->xmin &&
		id->xmax == s->xmax && id->xcnt == s->xcnt && id->subxcnt == s->subxcnt &&
		id->suboverflowed == s->suboverflowed && id->takenDuringRecovery == s->takenDuringRecovery &&
		id->snapshot_type == s->snapshot_type &&
		(s->xcnt == 0 || memcmp(f->snap_xip, s->xip, sizeof(TransactionId) * s->xcnt) == 0) &&
		(s->subxcnt == 0 || memcmp(f->snap_subxip, s->subxip, sizeof(TransactionId) * s->subxcnt) == 0))
		return;
	f->vis_gen++;
	*id = *s;
	if (f->snap_xip)
		pfree(f->snap_xip);
	if (f->snap_subxip)
		pfree(f->snap_subxip);
	f->snap_xip = NULL;
	f->snap_subxip = NULL;
	if (s->xcnt > 0)
	{
		f->snap_xip = MemoryContextAlloc(f->cxt, sizeof(TransactionId) * s->xcnt);
		memcpy(f->snap_xip, s->xip, sizeof(TransactionId) * s->xcnt);
	}
	if (s->subxcnt > 0)
	{
		f->snap_subxip = MemoryContextAlloc(f->cxt, sizeof(TransactionId) * s->subxcnt);
		memcpy(f->snap_subxip, s->subxip, sizeof(TransactionId) * s->subxcnt);
	}
}

/* Take the segment of rownum from the entries, if known for this MVCC snapshot. */
static bool
fetch_vis_cached(ColumnarFetcher *f, int64 rownum, Snapshot snapshot)
{
	int			i = fetch_ent_search(f, rownum);
	FetchEnt   *e;

	if (i < 0)
		return false;
	e = f->ents[i];
	if (e->vis_gen != f->vis_gen || rownum >= e->seg.segno + e->seg.row_count)
		return false;
	if (f->vis_owned && f->vis_deleted)
		pfree(f->vis_deleted);
	f->vis_seg = e->seg;
	f->vis_deleted = e->deleted;
	f->vis_owned = false;
	f->vis_found = true;
	return true;
}

/* Remember the segment just looked up for this MVCC snapshot. */
static void
fetch_vis_remember(ColumnarFetcher *f, Snapshot snapshot)
{
	FetchEnt   *e = fetch_ent(f, f->vis_seg.segno);

	if (e->deleted && e->deleted != f->vis_deleted)
		pfree(e->deleted);
	e->seg = f->vis_seg;
	e->deleted = f->vis_deleted;
	e->vis_gen = f->vis_gen;
	f->vis_owned = false;
}

/* The decoded columns of segment seg: from the cache, or decoded now. */
static FetchEnt *
fetch_decoded(ColumnarFetcher *f, ColumnarSegment *seg, TupleDesc tupdesc)
{
	FetchEnt   *e = fetch_ent(f, seg->segno);
	MemoryContext old;
	Size		budget = columnar_fetch_cache_budget();
	int			a;

	e->last_use = ++f->clock;
	if (e->cxt != NULL && e->natts == tupdesc->natts)
		return e;
	if (e->cxt != NULL)
	{
		/* the table gained columns since (or a decode failed): decode again */
		f->decoded_bytes -= e->bytes;
		e->bytes = 0;
		MemoryContextReset(e->cxt);
	}
	else
	{
		/*
		 * Until the fetches come back to a segment decoded before, they go
		 * through the table in order (a bitmap scan, an index the table is
		 * loaded in the order of): one decoded segment is enough, and its
		 * memory is reused rather than asking the system for more.
		 */
		if (e->decoded_before)
			f->keep_many = true;
		if (!f->keep_many)
		{
			int			i;

			for (i = 0; i < f->nents && e->cxt == NULL; i++)
			{
				FetchEnt   *c = f->ents[i];

				if (c != e && c->cxt != NULL)
				{
					e->cxt = c->cxt;
					c->cxt = NULL;
					f->decoded_bytes -= c->bytes;
					c->bytes = 0;
					MemoryContextReset(e->cxt);
				}
			}
		}
		if (e->cxt == NULL)
			e->cxt = AllocSetContextCreate(f->cxt, "columnar fetch segment",
										   ALLOCSET_DEFAULT_SIZES);
	}
	e->decoded_before = true;

	/*
	 * The entry counts as decoded only once all its columns are: an error
	 * in between (a damaged chunk, a cancel) must not leave half-decoded
	 * columns for the next fetch of the transaction's row fetcher, which
	 * outlives the error when a savepoint catches it.
	 */
	e->natts = 0;
	old = MemoryContextSwitchTo(e->cxt);
	e->vals = palloc(sizeof(Datum *) * tupdesc->natts);
	e->nulls = palloc(sizeof(bool *) * tupdesc->natts);
	for (a = 0; a < tupdesc->natts; a++)
	{
		e->vals[a] = palloc(sizeof(Datum) * seg->row_count);
		e->nulls[a] = palloc(sizeof(bool) * seg->row_count);
	}
	columnar_read_chunks(f->storage_id, seg->segno, seg->row_count, tupdesc,
						 NULL, e->vals, e->nulls, NULL);
	MemoryContextSwitchTo(old);
	e->natts = tupdesc->natts;
	e->bytes = MemoryContextMemAllocated(e->cxt, true);
	f->decoded_bytes += e->bytes;

	/* over budget: drop the least recently used other segments */
	while (f->decoded_bytes > budget)
	{
		FetchEnt   *victim = NULL;
		int			i;

		for (i = 0; i < f->nents; i++)
		{
			FetchEnt   *c = f->ents[i];

			if (c != e && c->cxt != NULL && (victim == NULL || c->last_use < victim->last_use))
				victim = c;
		}
		if (victim == NULL)
			break;
		MemoryContextDelete(victim->cxt);
		victim->cxt = NULL;
		f->decoded_bytes -= victim->bytes;
	}
	return e;
}

bool
columnar_fetch_row(ColumnarFetcher *f, int64 rownum, Snapshot snapshot,
				   Datum *values, bool *isnull)
{
	ColumnarWriteState *ws = columnar_write_state_find(f->storage_id);
	TupleDesc	tupdesc = RelationGetDescr(f->rel);
	Snapshot	meta_snapshot = snapshot;
	bool		check_deleted = true;
	FetchEnt   *e;
	int			r;
	int			a;
	SnapshotData dirty_meta;
	bool		dirty = snapshot->snapshot_type == SNAPSHOT_DIRTY;
	TransactionId seg_xmin = InvalidTransactionId;
	TransactionId seg_xmax = InvalidTransactionId;
	bool		per_row = false;

	/*
	 * A dirty snapshot tells its caller (btree unique checks, exclusion
	 * constraints, ON CONFLICT) which in-progress transaction to wait for, in
	 * its xmin/xmax.  InitDirtySnapshot leaves them unset, so they are always
	 * set here: invalid for our own rows (as the heap does for the current
	 * transaction), the inserting or removing transaction's top-level xid for
	 * a segment another transaction has not committed yet.  The metadata is
	 * read with a dirty snapshot of our own, whose fields the heap fills per
	 * metadata tuple.
	 */
	if (dirty)
	{
		snapshot->xmin = InvalidTransactionId;
		snapshot->xmax = InvalidTransactionId;
		snapshot->speculativeToken = 0;
		InitDirtySnapshot(dirty_meta);
		meta_snapshot = &dirty_meta;
	}

	if (ws && (a = columnar_ws_buffer_index(ws, rownum)) >= 0)
		return columnar_ws_buffered_row(ws, a, snapshot, snapshot->snapshot_type == SNAPSHOT_ANY,
										tupdesc, values, isnull);

	switch (snapshot->snapshot_type)
	{
		case SNAPSHOT_MVCC:
		case SNAPSHOT_SELF:
		case SNAPSHOT_DIRTY:
			break;
		case SNAPSHOT_ANY:
			/* the executor re-fetching a row it is about to change */
			meta_snapshot = SnapshotSelf;
			check_deleted = false;
			break;
		default:
			meta_snapshot = SnapshotSelf;
			break;
	}

	if (IsMVCCSnapshot(snapshot))
		fetch_snapshot_gen(f, snapshot);
	if (!(IsMVCCSnapshot(snapshot) && fetch_vis_cached(f, rownum, snapshot)))
	{
		MemoryContext old = MemoryContextSwitchTo(f->cxt);
		int			nd;

		if (f->vis_owned && f->vis_deleted)
			pfree(f->vis_deleted);
		f->vis_deleted = NULL;
		f->vis_owned = true;
		f->vis_found = columnar_find_segment(f->storage_id, rownum, meta_snapshot, &f->vis_seg);

		/*
		 * A segment this transaction wrote out in the middle of a statement
		 * (its insert buffer filled up) carries that statement's command in
		 * its metadata, which the statement's snapshot does not see; the
		 * rows of earlier commands in it are visible to that snapshot all
		 * the same (an upsert of rows loaded earlier in the transaction):
		 * the row's own command decides, as for buffered rows.  Per row, so
		 * not remembered for the segment.
		 */
		if (!f->vis_found && IsMVCCSnapshot(snapshot) && ws != NULL)
		{
			CommandId	own_cid;

			if (columnar_own_row_cid(ws, rownum, &own_cid) &&
				columnar_cid_visible(snapshot, own_cid) &&
				columnar_find_segment(f->storage_id, rownum, SnapshotSelf, &f->vis_seg) &&
				f->vis_seg.added_version == columnar_ws_version(ws) && f->vis_seg.removed_version == 0)
			{
				f->vis_found = true;
				per_row = true;
			}
		}
		if (dirty)
		{
			seg_xmin = dirty_meta.xmin;
			seg_xmax = dirty_meta.xmax;
		}
		if (f->vis_found && check_deleted)
			f->vis_deleted = columnar_deleted_bitmap(f->storage_id, f->vis_seg.segno,
													 f->vis_seg.row_count, meta_snapshot, 0, &nd);
		MemoryContextSwitchTo(old);
		if (IsMVCCSnapshot(snapshot) && f->vis_found && !per_row)
			fetch_vis_remember(f, snapshot);
		if (!f->vis_found)
			return false;
	}
	if (f->vis_seg.removed_version != 0 && check_deleted)
		return false;
	r = rownum - f->vis_seg.segno;
	if (check_deleted &&
		((f->vis_deleted && (f->vis_deleted[r / 8] & (1 << (r % 8)))) ||
		 pending_deleted(f->storage_id, f->vis_seg.segno, r, snapshot)))
		return false;

	e = fetch_decoded(f, &f->vis_seg, tupdesc);
	for (a = 0; a < tupdesc->natts; a++)
	{
		values[a] = e->vals[a][r];
		isnull[a] = e->nulls[a][r];
	}
	if (dirty)
	{
		snapshot->xmin = top_level_xid(seg_xmin);
		snapshot->xmax = top_level_xid(seg_xmax);
	}
	return true;
}
