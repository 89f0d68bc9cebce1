/*
 * columnar_cost.c
 *		Costing of index paths (Index Scan, Index Only Scan, and the Bitmap
 *		Heap Scans built on them) over versioned_columnar tables.
 *
 * A row fetched through an index lives in a segment whose column chunks
 * must all be decoded before any value of the row can be returned; the
 * fetcher keeps decoded segments within columnar_fetch_cache_budget().  The
 * core costs the fetches as heap page reads, which says nothing about this:
 * a scan in the order of an index whose keys are spread over every segment
 * decodes a segment for nearly every row once the segments it jumps between
 * no longer fit in the cache.  So the amcostestimate of every index of a
 * columnar table is wrapped and charged with the segment decodes its fetches
 * will cause.  An index-only scan gets no discount: the table has no
 * visibility map, so every index entry is fetched from the table
 * (relation_estimate_size reports allvisfrac = 0).
 *
 * How many segments a scan in index order keeps jumping between comes from
 * the segments' min/max statistics of the index's leading column: the
 * average number of segments whose range overlaps a segment's range (1 to 3
 * for a column the table is loaded in order of, every segment for one whose
 * values are spread over all of them).  ANALYZE's correlation cannot say this: its
 * sample loses the rows' order for non-heap tables.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_metadata.h"
#include "columnar/columnar_codec.h"

#include <math.h>

#include "access/amapi.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/pathnodes.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/plancat.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

/* What the segment statistics say about one column of one table. */
typedef struct OverlapKey
{
	int64		storage_id;
	AttrNumber	attnum;
} OverlapKey;

typedef struct OverlapEntry
{
	OverlapKey	key;
	int64		next_row;		/* the table's row counter when computed */
	double		nsegs;			/* live segments */
	double		overlap;		/* segments covering a typical key value */
} OverlapEntry;

static HTAB *overlap_cache = NULL;

/* Tables of more segments are not examined: planning must stay cheap. */
#define MAX_OVERLAP_SEGMENTS 5000

/* The original cost estimators, by index AM. */
typedef struct OrigEstimator
{
	Oid			amoid;
	amcostestimate_function fn;
} OrigEstimator;

#define MAX_INDEX_AMS 16
static OrigEstimator orig_estimators[MAX_INDEX_AMS];
static int	n_orig_estimators = 0;

typedef struct SortCxt
{
	FmgrInfo   *cmp;
	Oid			collation;
} SortCxt;

static int
datum_cmp(const void *a, const void *b, void *arg)
{
	SortCxt    *c = arg;

	return DatumGetInt32(FunctionCall2Coll(c->cmp, c->collation,
										   *(const Datum *) a, *(const Datum *) b));
}

/* Number of values of sorted[0..n-1] that are < v (or <= v with inclusive). */
static int
count_below(Datum *sorted, int n, Datum v, bool inclusive, SortCxt *c)
{
	int			lo = 0;
	int			hi = n;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;
		int			r = datum_cmp(&sorted[mid], &v, c);

		if (r < 0 || (inclusive && r == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Count the live segments of the table and how many of them cover a typical
 * value of column attnum.  Without usable statistics, every segment does.
 */
static void
compute_overlap(Relation rel, int64 storage_id, AttrNumber attnum, double *nsegs,
				double *overlap)
{
	List	   *segs = columnar_segments(storage_id, GetActiveSnapshot());
	ListCell   *lc;
	int64	   *live;
	int			nlive = 0;
	Datum	   *mins;
	Datum	   *maxs;
	int			n = 0;
	TypeCacheEntry *tc = NULL;
	Form_pg_attribute att = NULL;
	Relation	chunks;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	SortCxt		sc;
	double		covered = 0;
	int			i;

	live = palloc(sizeof(int64) * (list_length(segs) + 1));
	foreach(lc, segs)
	{
		ColumnarSegment *seg = lfirst(lc);

		if (seg->removed_version == 0)
			live[nlive++] = seg->segno;
	}
	list_free_deep(segs);
	*nsegs = Max(nlive, 1);
	*overlap = *nsegs;
	if (nlive <= 1 || attnum <= 0 || attnum > RelationGetDescr(rel)->natts)
		return;
	att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	tc = lookup_type_cache(att->atttypid, TYPECACHE_CMP_PROC_FINFO);
	if (!OidIsValid(tc->cmp_proc))
		return;

	mins = palloc(sizeof(Datum) * nlive);
	maxs = palloc(sizeof(Datum) * nlive);
	chunks = table_open(ColumnarChunkRelationId(), AccessShareLock);
	ScanKeyInit(&key, Anum_columnar_chunk_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	scan = systable_beginscan(chunks, ColumnarChunkPkeyIndexId(), true,
							  SnapshotSelf, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	cdesc = RelationGetDescr(chunks);
		bool		isnull,
					n1,
					n2;
		int64		segno;
		Datum		mind,
					maxd;
		int			lo = 0,
					hi = nlive - 1;
		bool		found = false;

		CHECK_FOR_INTERRUPTS();
		if (DatumGetInt16(heap_getattr(tup, Anum_columnar_chunk_attnum, cdesc, &isnull)) != attnum)
			continue;
		segno = DatumGetInt64(heap_getattr(tup, Anum_columnar_chunk_segno, cdesc, &isnull));
		while (lo <= hi && !found)
		{
			int			mid = (lo + hi) / 2;

			if (live[mid] == segno)
				found = true;
			else if (live[mid] < segno)
				lo = mid + 1;
			else
				hi = mid - 1;
		}
		mind = heap_getattr(tup, Anum_columnar_chunk_min_value, cdesc, &n1);
		maxd = heap_getattr(tup, Anum_columnar_chunk_max_value, cdesc, &n2);
		if (!found || n1 || n2 || n >= nlive)
			continue;
		mins[n] = columnar_decode_value(DatumGetByteaPP(mind), att);
		maxs[n] = columnar_decode_value(DatumGetByteaPP(maxd), att);
		n++;
	}
	systable_endscan(scan);
	table_close(chunks, AccessShareLock);
	if (n < 2)
		return;

	/* segments j overlapping segment i: all but those above max_i and below min_i */
	sc.cmp = &tc->cmp_proc_finfo;
	sc.collation = OidIsValid(att->attcollation) ? att->attcollation : InvalidOid;
	{
		Datum	   *lo_pts = palloc(sizeof(Datum) * n);
		Datum	   *hi_pts = palloc(sizeof(Datum) * n);

		memcpy(lo_pts, mins, sizeof(Datum) * n);
		memcpy(hi_pts, maxs, sizeof(Datum) * n);
		qsort_arg(mins, n, sizeof(Datum), datum_cmp, &sc);
		qsort_arg(maxs, n, sizeof(Datum), datum_cmp, &sc);
		for (i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			covered += n - (n - count_below(mins, n, hi_pts[i], true, &sc)) -
				count_below(maxs, n, lo_pts[i], false, &sc);
		}
	}
	/* segments without statistics (all NULL) are counted as overlapping nothing */
	*overlap = Max(1.0, covered / n);
}

/* The segment count and overlap of a column, cached while the table does not grow much. */
static void
table_overlap(Oid relid, AttrNumber attnum, double *nsegs, double *overlap)
{
	Relation	rel = table_open(relid, NoLock);
	int64		storage_id = columnar_storage_id(rel, true);
	int64		next_row;
	OverlapKey	key;
	OverlapEntry *e;
	bool		found;

	*nsegs = 1;
	*overlap = 1;
	if (storage_id == 0 || !ActiveSnapshotSet())
	{
		table_close(rel, NoLock);
		return;
	}
	next_row = columnar_next_row(storage_id);
	if (next_row / Max(columnar_segment_rows, 1) > MAX_OVERLAP_SEGMENTS)
	{
		/* too many segments to read at planning time: take them as spread */
		*nsegs = Max(1.0, ceil((double) next_row / Max(columnar_segment_rows, 1)));
		*overlap = *nsegs;
		table_close(rel, NoLock);
		return;
	}
	if (overlap_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(OverlapKey);
		ctl.entrysize = sizeof(OverlapEntry);
		ctl.hcxt = TopMemoryContext;
		overlap_cache = hash_create("columnar index cost", 64, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.storage_id = storage_id;
	key.attnum = attnum;
	e = hash_search(overlap_cache, &key, HASH_ENTER, &found);
	/* recompute when the table grew by a tenth, or shrank */
	if (!found || next_row < e->next_row || next_row > e->next_row + e->next_row / 10)
	{
		MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "columnar overlap",
												  ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(cxt);

		/* a failure below must not leave a half-filled entry behind */
		e->next_row = -1;
		compute_overlap(rel, storage_id, attnum, &e->nsegs, &e->overlap);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		e->next_row = next_row;
	}
	*nsegs = e->nsegs;
	*overlap = e->overlap;
	table_close(rel, NoLock);
}

/*
 * Segments decoded by fetches of n rows in index order among D candidate
 * segments of which a working set of w is visited in turn, with a cache of
 * b segments (Mackert and Lohman's approximation when the working set does
 * not fit).
 */
static double
segment_decodes(double n, double D, double w, double b)
{
	double		touched = D * (1.0 - pow(1.0 - 1.0 / D, n));

	if (w <= b)
		return touched;
	{
		double		lim = 2.0 * w * b / (2.0 * w - b);
		double		misses;

		if (n <= lim)
			misses = 2.0 * w * n / (2.0 * w + n);
		else
			misses = b + (n - lim) * (w - b) / w;
		return Max(touched, misses);
	}
}

/* The decoding cost an index scan of the given selectivity adds, per loop. */
static Cost
fetch_decode_cost(PlannerInfo *root, IndexOptInfo *index, Selectivity sel, double loop_count)
{
	RelOptInfo *rel = index->rel;
	RangeTblEntry *rte = root->simple_rte_array[rel->relid];
	double		T = Max(rel->tuples, 1.0);
	double		n = Max(sel * T, 1.0);
	double		loops = Max(loop_count, 1.0);
	double		nsegs;
	double		overlap;
	double		seg_bytes;
	double		cached;
	double		candidates;
	double		decodes;
	Cost		seg_cost;
	int32		width;
	int			natts = rel->max_attr;

	/* values, null flags and decoded data, with the allocator's slack */
	width = get_relation_data_width(rte->relid, NULL);
	nsegs = Max(1.0, ceil(T / Max(columnar_segment_rows, 1)));
	seg_bytes = (T / nsegs) * (natts * (sizeof(Datum) + 1) + width) * 1.3;
	cached = Max(1.0, floor((double) columnar_fetch_cache_budget() / seg_bytes));

	/*
	 * Fetches that fit in the cache even if each decodes a segment of its own
	 * (point lookups, small ranges) do not need the statistics, which cost a
	 * read of the table's chunk metadata: take the segments as spread.
	 */
	overlap = nsegs;
	if (n * loops > cached)
	{
		table_overlap(rte->relid, index->indexkeys[0], &nsegs, &overlap);
		seg_bytes = (T / nsegs) * (natts * (sizeof(Datum) + 1) + width) * 1.3;
		cached = Max(1.0, floor((double) columnar_fetch_cache_budget() / seg_bytes));
	}

	/* the fetches of all loops share one fetcher and its cache */
	candidates = Min(nsegs, overlap + Min(1.0, n * loops / T) * nsegs);
	decodes = segment_decodes(n * loops, candidates, Min(overlap, candidates), cached) / loops;

	/* one segment decoded, all columns: a scan of it reading every column */
	seg_cost = 0.8 * (rel->pages * seq_page_cost + T * cpu_tuple_cost) / nsegs;
	return decodes * seg_cost;
}

static amcostestimate_function
original_estimator(Oid amoid)
{
	int			i;
	IndexAmRoutine *routine;

	for (i = 0; i < n_orig_estimators; i++)
		if (orig_estimators[i].amoid == amoid)
			return orig_estimators[i].fn;
	routine = GetIndexAmRoutineByAmId(amoid, false);
	if (n_orig_estimators < MAX_INDEX_AMS)
	{
		orig_estimators[n_orig_estimators].amoid = amoid;
		orig_estimators[n_orig_estimators].fn = routine->amcostestimate;
		n_orig_estimators++;
	}
	return routine->amcostestimate;
}

static void
columnar_amcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
						Cost *indexStartupCost, Cost *indexTotalCost,
						Selectivity *indexSelectivity, double *indexCorrelation,
						double *indexPages)
{
	IndexOptInfo *index = path->indexinfo;

	original_estimator(index->relam) (root, path, loop_count, indexStartupCost,
									  indexTotalCost, indexSelectivity,
									  indexCorrelation, indexPages);
	*indexTotalCost += fetch_decode_cost(root, index, *indexSelectivity, loop_count);
}

/* Make the planner cost the indexes of a columnar table with what their fetches decode. */
void
columnar_cost_indexes(RelOptInfo *rel)
{
	ListCell   *lc;

	foreach(lc, rel->indexlist)
	{
		IndexOptInfo *index = lfirst(lc);

		if (index->amcostestimate == (void (*) ()) original_estimator(index->relam))
			index->amcostestimate = (void (*) ()) columnar_amcostestimate;
	}
}
