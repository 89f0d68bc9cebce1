/*
 * columnar_read.c
 *		Reading versioned_columnar tables: sequential readers (current rows
 *		under an MVCC snapshot, or the rows of a committed version).  Row
 *		fetches by row number are in columnar_fetch.c.
 *
 * Current rows are those of segments visible to the snapshot and not
 * removed, minus visible deletion vectors, plus this transaction's own
 * buffered rows and minus its pending deletions (both filtered by command
 * id, as the heap would).  Rows of version V are those of segments added at
 * or before V and not removed by then, minus deletions of versions <= V.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_metadata.h"
#include "columnar/columnar_codec.h"
#include "columnar/columnar_stats.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "utils/fmgroids.h"
#include "port/atomics.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* Statistics of one column of one segment, for one skip key. */
typedef struct SegStat
{
	bool		present;
	bool		has_minmax;
	int32		null_count;
	Datum		minv;
	Datum		maxv;
} SegStat;

struct ColumnarReader
{
	Relation	rel;
	TupleDesc	tupdesc;
	int64		storage_id;
	Snapshot	snapshot;
	int64		as_of;
	Bitmapset  *attrs;
	List	   *skip_keys;
	Snapshot	exclude_now;	/* restore(): skip rows that are current */
	ColumnarSegment *segs;
	int			nsegs;
	int			segidx;
	MemoryContext segcxt;
	Datum	  **vals;
	bool	  **nulls;
	int			nrows;
	int			rowidx;
	int64		segno;
	uint8	   *deleted;
	bool		in_buffer;
	int			bufidx;
	bool		registered;
	int64		nread;
	int64		nskipped;
	pg_atomic_uint32 *shared_next;	/* parallel scan: next segment to claim */
	ColumnarScratch scratch;	/* decompression buffers, reused */
	struct SegStat *stats;		/* [segment][skip key], loaded in one pass */
	int			nkeys;
	int			capacity;		/* rows the vals/nulls arrays hold */
	bool		nothing;		/* parallel worker of a leader-only scan */
	int64		row_lo;			/* only segments with rows in [row_lo, row_hi) */
	int64		row_hi;
	bool		no_decode;		/* vector reads that need only row counts */
	int			max_live;		/* > 0: planning, give up past this many live segments */
	bool		too_many;		/* it did */
};

static bool segment_refuted(ColumnarReader *r, int idx);


/* The statistics in one chunk row, for the skip keys on its column, of segment idx. */
static void
stat_from_chunk(ColumnarReader *r, HeapTuple tup, TupleDesc cdesc, int idx)
{
	bool		n;
	int			attnum = DatumGetInt16(heap_getattr(tup, Anum_columnar_chunk_attnum, cdesc, &n));
	int			k = 0;
	ListCell   *lc;

	foreach(lc, r->skip_keys)
	{
		ColumnarSkipKey *sk = lfirst(lc);
		SegStat    *st = &r->stats[idx * r->nkeys + k++];
		bool		n1,
					n2;
		Datum		mind,
					maxd;

		if (sk->attnum != attnum)
			continue;
		st->present = true;
		st->null_count = DatumGetInt32(heap_getattr(tup, Anum_columnar_chunk_null_count, cdesc, &n));
		mind = heap_getattr(tup, Anum_columnar_chunk_min_value, cdesc, &n1);
		maxd = heap_getattr(tup, Anum_columnar_chunk_max_value, cdesc, &n2);
		st->has_minmax = !n1 && !n2;
		if (st->has_minmax && sk->strategy > 0)
		{
			Form_pg_attribute att = TupleDescAttr(r->tupdesc, attnum - 1);

			st->minv = columnar_decode_value(DatumGetByteaPP(mind), att);
			st->maxv = columnar_decode_value(DatumGetByteaPP(maxd), att);
		}
	}
}

/*
 * Read the statistics the skip keys need for every segment read: one index
 * scan of the chunk table per column, over the segment numbers from the
 * first segment read to the last, with the column as an index qual, so that
 * only the chunk rows of that column are fetched, and none of the segments
 * outside the range (an OPTIMIZE's new segments follow the ones it removed,
 * which time travel keeps: a current read of a compacted table of
 * micro-batches must not fetch their chunk rows, or it reads slower than
 * the same rows loaded at once).  One lookup per segment and column would
 * cost more than the skipping saves on tables of many small segments --
 * unless most of the segments in that range are not read (removed by
 * OPTIMIZE or TRUNCATE between the live ones, or not yet added as of the
 * version read).  nall: segments of the storage.
 */
static void
load_stats(ColumnarReader *r, int nall)
{
	Relation	rel;
	ScanKeyData key[4];
	SysScanDesc scan;
	HeapTuple	tup;
	TupleDesc	cdesc;
	Bitmapset  *attnums = NULL;
	ListCell   *lc;
	int64		lo;
	int64		hi;
	int64		span;
	int			a = -1;

	r->nkeys = list_length(r->skip_keys);
	r->stats = NULL;
	if (r->nkeys == 0 || r->nsegs == 0)
		return;
	r->stats = palloc0(sizeof(SegStat) * r->nsegs * r->nkeys);
	foreach(lc, r->skip_keys)
		attnums = bms_add_member(attnums, ((ColumnarSkipKey *) lfirst(lc))->attnum);
	rel = table_open(ColumnarChunkRelationId(), AccessShareLock);
	cdesc = RelationGetDescr(rel);
	lo = r->segs[0].segno;
	hi = r->segs[r->nsegs - 1].segno;

	/*
	 * Segments in [lo, hi]: each takes up to streamext.columnar_segment_rows
	 * row numbers (or a writer's reservation of them), so the span of row
	 * numbers bounds them, as the row counter bounds nall.
	 */
	span = Min((hi - lo) / Max(columnar_segment_rows, 1) + 1, (int64) nall);
	if (span > 2 * (int64) r->nsegs * bms_num_members(attnums))
	{
		int			idx;

		for (idx = 0; idx < r->nsegs; idx++)
		{
			CHECK_FOR_INTERRUPTS();
			a = -1;
			while ((a = bms_next_member(attnums, a)) >= 0)
			{
				ScanKeyInit(&key[0], Anum_columnar_chunk_storage_id, BTEqualStrategyNumber, F_INT8EQ,
							Int64GetDatum(r->storage_id));
				ScanKeyInit(&key[1], Anum_columnar_chunk_segno, BTEqualStrategyNumber, F_INT8EQ,
							Int64GetDatum(r->segs[idx].segno));
				ScanKeyInit(&key[2], Anum_columnar_chunk_attnum, BTEqualStrategyNumber, F_INT2EQ, Int16GetDatum(a));
				scan = systable_beginscan(rel, ColumnarChunkPkeyIndexId(), true,
										  SnapshotSelf, 3, key);
				if (HeapTupleIsValid(tup = systable_getnext(scan)))
					stat_from_chunk(r, tup, cdesc, idx);
				systable_endscan(scan);
			}
		}
		table_close(rel, AccessShareLock);
		return;
	}
	while ((a = bms_next_member(attnums, a)) >= 0)
	{
		ScanKeyInit(&key[0], Anum_columnar_chunk_storage_id, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(r->storage_id));
		ScanKeyInit(&key[1], Anum_columnar_chunk_segno, BTGreaterEqualStrategyNumber, F_INT8GE,
					Int64GetDatum(lo));
		ScanKeyInit(&key[2], Anum_columnar_chunk_segno, BTLessEqualStrategyNumber, F_INT8LE,
					Int64GetDatum(hi));
		ScanKeyInit(&key[3], Anum_columnar_chunk_attnum, BTEqualStrategyNumber, F_INT2EQ, Int16GetDatum(a));
		scan = systable_beginscan(rel, ColumnarChunkPkeyIndexId(), true,
								  SnapshotSelf, 4, key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		n;
			int64		segno = DatumGetInt64(heap_getattr(tup, Anum_columnar_chunk_segno, cdesc, &n));
			int			l = 0;
			int			h = r->nsegs - 1;

			CHECK_FOR_INTERRUPTS();
			while (l <= h)
			{
				int			mid = (l + h) / 2;

				if (r->segs[mid].segno == segno)
				{
					stat_from_chunk(r, tup, cdesc, mid);
					break;
				}
				if (r->segs[mid].segno < segno)
					l = mid + 1;
				else
					h = mid - 1;
			}
		}
		systable_endscan(scan);
	}
	table_close(rel, AccessShareLock);
}

static bool
segment_refuted(ColumnarReader *r, int idx)
{
	int			k;

	for (k = 0; k < r->nkeys; k++)
	{
		SegStat    *st = &r->stats[idx * r->nkeys + k];

		if (st->present &&
			columnar_stat_refutes(list_nth(r->skip_keys, k), st->null_count,
								  r->segs[idx].row_count, st->has_minmax, st->minv, st->maxv))
			return true;
	}
	return false;
}

static void
load_segments(ColumnarReader *r)
{
	List	   *segs;
	ListCell   *lc;
	MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(r));
	int			nall;

	/*
	 * A current read needs only the live segments; nall, the segments of
	 * the storage, is then bounded by the row counter (every segment takes
	 * up to streamext.columnar_segment_rows row numbers, or a writer's
	 * reservation of them).
	 */
	if (r->as_of == 0)
	{
		nall = (int) Min(columnar_next_row(r->storage_id) / Max(columnar_segment_rows, 1),
						 (int64) INT_MAX);
		/* the row counter bounds the live segments: count them only past the limit */
		segs = columnar_live_segments_limited(r->storage_id, r->snapshot,
											  nall > r->max_live ? r->max_live : 0);
		if (r->max_live > 0 && list_length(segs) > r->max_live)
		{
			r->too_many = true;
			r->segs = palloc(sizeof(ColumnarSegment));
			r->nsegs = 0;
			r->nkeys = 0;
			r->stats = NULL;
			list_free_deep(segs);
			MemoryContextSwitchTo(old);
			return;
		}
	}
	else
	{
		segs = columnar_segments(r->storage_id, r->snapshot);
		nall = list_length(segs);
	}

	r->segs = palloc(sizeof(ColumnarSegment) * (list_length(segs) + 1));
	r->nsegs = 0;
	foreach(lc, segs)
	{
		ColumnarSegment *seg = lfirst(lc);

		if (r->as_of > 0)
		{
			if (seg->added_version > r->as_of ||
				(seg->removed_version != 0 && seg->removed_version <= r->as_of))
				continue;
		}
		else if (seg->removed_version != 0)
			continue;
		r->segs[r->nsegs++] = *seg;
	}
	load_stats(r, Max(nall, list_length(segs)));
	list_free_deep(segs);
	MemoryContextSwitchTo(old);
}

static ColumnarReader *
reader_begin(Relation rel, Snapshot snapshot, int64 as_of_version,
			 Bitmapset *attrs, List *skip_keys, int max_live)
{
	ColumnarReader *r = palloc0(sizeof(ColumnarReader));
	int			a;
	ColumnarWriteState *ws;

	r->rel = rel;
	r->tupdesc = RelationGetDescr(rel);
	r->storage_id = columnar_storage_id(rel, false);
	/* an old version: hold off vacuum, and fail if it removed the version */
	if (as_of_version > 0)
		columnar_check_readable(rel, r->storage_id, as_of_version, false);
	r->snapshot = snapshot;
	r->as_of = as_of_version;
	r->row_lo = 0;
	r->row_hi = PG_INT64_MAX;
	r->attrs = attrs;
	r->skip_keys = skip_keys;
	r->segcxt = AllocSetContextCreate(CurrentMemoryContext, "columnar reader segment",
									  ALLOCSET_DEFAULT_SIZES);
	r->vals = palloc0(sizeof(Datum *) * r->tupdesc->natts);
	r->nulls = palloc0(sizeof(bool *) * r->tupdesc->natts);
	r->scratch.cxt = CurrentMemoryContext;
	r->scratch.buf = palloc0(sizeof(char *) * r->tupdesc->natts);
	r->scratch.cap = palloc0(sizeof(Size) * r->tupdesc->natts);
	r->capacity = 0;
	r->max_live = max_live;
	(void) a;
	load_segments(r);
	ws = columnar_write_state_find(r->storage_id);
	if (ws && as_of_version == 0)
	{
		columnar_ws_scan_started(ws);
		r->registered = true;
	}
	r->segidx = 0;
	r->rowidx = r->nrows = 0;
	return r;
}

ColumnarReader *
columnar_reader_begin(Relation rel, Snapshot snapshot, int64 as_of_version,
					  Bitmapset *attrs, List *skip_keys)
{
	return reader_begin(rel, snapshot, as_of_version, attrs, skip_keys, 0);
}

/*
 * For the planner's estimates: a current read whose segment statistics are
 * loaded, unless more than max_segments segments are live (then NULL),
 * which would cost planning too much.  One scan of the live segments both
 * counts and lists them.
 */
ColumnarReader *
columnar_reader_begin_limited(Relation rel, Snapshot snapshot, List *skip_keys,
							  int max_segments)
{
	ColumnarReader *r = reader_begin(rel, snapshot, 0, NULL, skip_keys, Max(max_segments, 1));

	if (r->too_many)
	{
		columnar_reader_end(r);
		return NULL;
	}
	return r;
}

/*
 * Parallel scans: participants claim segments from a shared counter; a
 * worker of a scan the leader must run alone (it has unwritten rows or
 * deletions of this table) returns nothing.
 */
void
columnar_reader_set_shared(ColumnarReader *reader, pg_atomic_uint32 *next, bool nothing)
{
	reader->shared_next = next;
	reader->nothing = nothing;
}

/* The share of segments the skip keys cannot refute (planner estimate). */
double
columnar_reader_unrefuted_fraction(ColumnarReader *r)
{
	int			i;
	int			n = 0;

	if (r->nsegs == 0)
		return 1.0;
	for (i = 0; i < r->nsegs; i++)
		if (!(r->stats && segment_refuted(r, i)))
			n++;
	return (double) n / r->nsegs;
}

/*
 * Decode with another descriptor than the relation's: the one of the slot a
 * table scan fills.  A table rewrite (ALTER COLUMN ... TYPE, ADD COLUMN with
 * a volatile default) scans the old rows with the descriptor they were
 * written with while the relation already has the new one, and a column
 * added later reads as the slot descriptor's missing value, as on the heap.
 * Only before the first row: decoded values belong to one descriptor.
 */
void
columnar_reader_set_tupdesc(ColumnarReader *r, TupleDesc tupdesc)
{
	int			a;

	if (tupdesc == r->tupdesc)
		return;
	if (r->nread > 0 || r->nrows > 0 || r->in_buffer)
		elog(ERROR, "versioned_columnar reader cannot change its tuple descriptor during a scan");
	for (a = 0; a < r->tupdesc->natts; a++)
	{
		if (r->vals[a])
		{
			pfree(r->vals[a]);
			pfree(r->nulls[a]);
		}
		if (r->scratch.buf[a])
			pfree(r->scratch.buf[a]);
	}
	pfree(r->vals);
	pfree(r->nulls);
	pfree(r->scratch.buf);
	pfree(r->scratch.cap);
	r->tupdesc = tupdesc;
	r->vals = MemoryContextAllocZero(r->scratch.cxt, sizeof(Datum *) * tupdesc->natts);
	r->nulls = MemoryContextAllocZero(r->scratch.cxt, sizeof(bool *) * tupdesc->natts);
	r->scratch.buf = MemoryContextAllocZero(r->scratch.cxt, sizeof(char *) * tupdesc->natts);
	r->scratch.cap = MemoryContextAllocZero(r->scratch.cxt, sizeof(Size) * tupdesc->natts);
	r->capacity = 0;
}

void
columnar_reader_set_exclude(ColumnarReader *reader, Snapshot now_snapshot)
{
	reader->exclude_now = now_snapshot;
}

void
columnar_reader_rescan(ColumnarReader *r)
{
	MemoryContextReset(r->segcxt);
	pfree(r->segs);
	if (r->stats)
		pfree(r->stats);
	load_segments(r);
	r->segidx = 0;
	r->rowidx = r->nrows = 0;
	r->in_buffer = false;
	r->bufidx = 0;
}

void
columnar_reader_end(ColumnarReader *r)
{
	if (r->registered)
	{
		ColumnarWriteState *ws = columnar_write_state_find(r->storage_id);

		if (ws)
			columnar_ws_scan_ended(ws);
	}
	MemoryContextDelete(r->segcxt);
	pfree(r->segs);
	pfree(r);
}

void
columnar_reader_counts(ColumnarReader *r, int64 *read, int64 *skipped)
{
	*read = r->nread;
	*skipped = r->nskipped;
}

/* Mark in bits (allocated if NULL) the rows our transaction deleted. */
static uint8 *
apply_pending(int64 storage_id, int64 segno, int32 nrows, Snapshot snapshot, uint8 *bits)
{
	ColumnarWriteState *ws = columnar_write_state_find(storage_id);
	ColumnarPendingDel *pd;
	int			i;

	if (ws == NULL)
		return bits;
	pd = columnar_ws_pending_del(ws, segno);
	if (pd == NULL || pd->npending == 0)
		return bits;
	for (i = 0; i < nrows && i < pd->nrows; i++)
		if (pd->cids[i] != InvalidCommandId && columnar_cid_visible(snapshot, pd->cids[i]))
		{
			if (bits == NULL)
				bits = palloc0((nrows + 7) / 8);
			bits[i / 8] |= (1 << (i % 8));
		}
	return bits;
}

/* Decode the next segment that may hold matching rows; false at the end. */
static bool
next_segment(ColumnarReader *r)
{
	if (r->nothing)
		return false;
	for (;;)
	{
		ColumnarSegment *seg;
		MemoryContext old;
		int			a;
		int			nd;
		int			idx;

		if (r->shared_next)
		{
			idx = (int) pg_atomic_fetch_add_u32(r->shared_next, 1);
			if (idx >= r->nsegs)
				return false;
		}
		else if (r->segidx < r->nsegs)
			idx = r->segidx++;
		else
			return false;
		seg = &r->segs[idx];

		CHECK_FOR_INTERRUPTS();
		if (seg->segno + seg->row_count <= r->row_lo || seg->segno >= r->row_hi ||
			(r->stats && segment_refuted(r, idx)))
		{
			r->nskipped++;
			continue;
		}
		MemoryContextReset(r->segcxt);
		old = MemoryContextSwitchTo(r->segcxt);
		r->deleted = columnar_deleted_bitmap(r->storage_id, seg->segno, seg->row_count,
											 r->snapshot, r->as_of, &nd);
		if (r->as_of == 0)
			r->deleted = apply_pending(r->storage_id, seg->segno, seg->row_count,
									   r->snapshot, r->deleted);
		if (r->exclude_now)
		{
			/* restore(): only rows that are not current any more */
			uint8	   *now;
			int			i;
			bool		seg_current = false;
			ColumnarSegment cur;

			if (columnar_find_segment(r->storage_id, seg->segno, r->exclude_now, &cur))
				seg_current = (cur.removed_version == 0);
			now = columnar_deleted_bitmap(r->storage_id, seg->segno, seg->row_count,
										  r->exclude_now, 0, &nd);
			now = apply_pending(r->storage_id, seg->segno, seg->row_count, r->exclude_now, now);
			if (r->deleted == NULL)
				r->deleted = palloc0((seg->row_count + 7) / 8);
			for (i = 0; i < seg->row_count; i++)
				if (seg_current && !(now && (now[i / 8] & (1 << (i % 8)))))
					r->deleted[i / 8] |= (1 << (i % 8));
		}
		if (r->deleted != NULL && nd == seg->row_count && r->exclude_now == NULL)
		{
			/* every row deleted: no need to decode anything */
			MemoryContextSwitchTo(old);
			r->nread++;
			continue;
		}
		/* value arrays live as long as the reader; grow them when needed */
		if (seg->row_count > r->capacity)
		{
			MemoryContext o = MemoryContextSwitchTo(r->scratch.cxt);

			for (a = 0; a < r->tupdesc->natts; a++)
			{
				if (r->vals[a])
				{
					pfree(r->vals[a]);
					pfree(r->nulls[a]);
				}
				r->vals[a] = NULL;
			}
			r->capacity = seg->row_count;
			for (a = 0; a < r->tupdesc->natts; a++)
				if (r->attrs == NULL || bms_is_member(a + 1, r->attrs))
				{
					r->vals[a] = palloc(sizeof(Datum) * r->capacity);
					r->nulls[a] = palloc(sizeof(bool) * r->capacity);
				}
			MemoryContextSwitchTo(o);
		}
		if (!r->no_decode)
			columnar_read_chunks(r->storage_id, seg->segno, seg->row_count, r->tupdesc,
								 r->attrs, r->vals, r->nulls, &r->scratch);
		MemoryContextSwitchTo(old);
		r->segno = seg->segno;
		r->nrows = seg->row_count;
		r->rowidx = 0;
		r->nread++;
		return true;
	}
}

/*
 * Read only the segments that hold rows numbered in [lo, hi) (TID range
 * scans, BRIN summarization of a block range); the caller still filters the
 * rows themselves.  Set before the first row is read.
 */
void
columnar_reader_set_row_range(ColumnarReader *r, int64 lo, int64 hi)
{
	r->row_lo = lo;
	r->row_hi = hi;
}

bool
columnar_reader_next(ColumnarReader *r, Datum *values, bool *isnull, int64 *rownum)
{
	int			natts = r->tupdesc->natts;
	int			a;

	while (!r->in_buffer)
	{
		while (r->rowidx < r->nrows)
		{
			int			i = r->rowidx++;

			if (r->deleted && (r->deleted[i / 8] & (1 << (i % 8))))
				continue;
			for (a = 0; a < natts; a++)
			{
				if (r->vals[a])
				{
					values[a] = r->vals[a][i];
					isnull[a] = r->nulls[a][i];
				}
				else
				{
					values[a] = (Datum) 0;
					isnull[a] = true;
				}
			}
			*rownum = r->segno + i;
			return true;
		}
		if (!next_segment(r))
		{
			r->in_buffer = true;
			r->bufidx = 0;
		}
	}

	/* our own buffered rows (current reads only; a parallel scan has none) */
	if (r->as_of == 0 && r->exclude_now == NULL && !r->nothing)
	{
		ColumnarWriteState *ws = columnar_write_state_find(r->storage_id);

		while (ws && r->bufidx < columnar_ws_nbuffered(ws))
		{
			int			i = r->bufidx++;

			if (!columnar_ws_buffered_row(ws, i, r->snapshot, false, r->tupdesc, values, isnull))
				continue;
			*rownum = columnar_ws_buffer_first_row(ws) + i;
			return true;
		}
	}
	return false;
}

/*
 * Vector reads (the vectorized aggregation): the next segment's decoded
 * columns as a whole, with its deletion bitmap (NULL: no row deleted).
 * decode = false reads no chunk at all (counting rows from metadata).  At
 * the end of the segments it returns false, and columnar_reader_next() then
 * returns this transaction's own buffered rows one by one.
 */
bool
columnar_reader_next_vector(ColumnarReader *r, bool decode, ColumnarVector *v)
{
	if (r->in_buffer)
		return false;
	r->rowidx = r->nrows;
	r->no_decode = !decode;
	if (!next_segment(r))
	{
		r->no_decode = false;
		r->in_buffer = true;
		r->bufidx = 0;
		return false;
	}
	r->no_decode = false;
	r->rowidx = r->nrows;
	v->nrows = r->nrows;
	v->segno = r->segno;
	v->vals = r->vals;
	v->nulls = r->nulls;
	v->deleted = r->deleted;
	return true;
}
