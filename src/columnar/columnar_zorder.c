/*
 * columnar_zorder.c
 *		The row order of OPTIMIZE ... ZORDER BY (zorder_by => '{a,b}'): rows
 *		sorted on a Z-order curve over 1 to 4 columns, so that each segment
 *		covers a small range of every one of them and min/max skipping works
 *		on each (interface: columnar_optimize.h).
 *
 * As Delta does, a column's values are first mapped to range ids: the
 * boundaries are quantiles of a sample of the rows being rewritten (a
 * systematic sample of at most ZORDER_SAMPLE rows, taken in a first pass
 * that decodes only the z-order columns), so skewed or non-numeric columns
 * (text, timestamps, numerics: any type with a default btree order) get
 * ranges of about equal row counts.  NULL is the range after the last.  The
 * z key interleaves the range ids' bits, most significant first; the rows,
 * with their z key and input position, go through a tuplesort (spilling to
 * disk beyond maintenance_work_mem) and come out into full segments.
 */
#include "postgres.h"

#include "columnar/columnar_optimize.h"
#include "columnar/columnar_progress.h"

#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sortsupport.h"
#include "utils/tuplesort.h"
#include "utils/typcache.h"

/* rows sampled for the range boundaries, and range ids per column at most */
#define ZORDER_SAMPLE 100000
#define ZORDER_RANGES 1024

#define BIT_SET(bits, r) ((bits) != NULL && ((bits)[(r) / 8] & (1 << ((r) % 8))))

/* One column's ranges. */
typedef struct ZorderRanges
{
	AttrNumber attnum;
	SortSupportData ssup;
	Datum *bounds; /* ascending, distinct */
	int nbounds;
	int bits; /* bits its range ids need (NULL's included) */
} ZorderRanges;

void
columnar_zorder_columns(Relation rel, ArrayType *names, ZorderColumns *z)
{
	TupleDesc tupdesc = RelationGetDescr(rel);
	Datum *elems;
	bool *nulls;
	int n;
	int i;

	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n < 1 || n > ZORDER_MAX_COLUMNS)
		ereport(ERROR,
		        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		         errmsg("ZORDER BY takes 1 to %d columns, not %d", ZORDER_MAX_COLUMNS, n),
		         errhint("Pass zorder_by => NULL (the default) to compact without clustering.")));
	z->ncols = n;
	for (i = 0; i < n; i++)
	{
		char *name;
		AttrNumber attnum = InvalidAttrNumber;
		Form_pg_attribute att;
		TypeCacheEntry *tc;
		int a;
		int j;

		if (nulls[i])
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			                errmsg("ZORDER BY column names must not be NULL")));
		name = TextDatumGetCString(elems[i]);
		for (a = 0; a < tupdesc->natts; a++)
		{
			att = TupleDescAttr(tupdesc, a);
			if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
				attnum = att->attnum;
		}
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
			        (errcode(ERRCODE_UNDEFINED_COLUMN),
			         errmsg("column \"%s\" of table \"%s\" does not exist", name,
			                RelationGetRelationName(rel)),
			         errhint("ZORDER BY names columns as they are spelled, case included.")));
		for (j = 0; j < i; j++)
			if (z->attnums[j] == attnum)
				ereport(ERROR, (errcode(ERRCODE_DUPLICATE_COLUMN),
				                errmsg("column \"%s\" appears twice in ZORDER BY", name)));
		att = TupleDescAttr(tupdesc, attnum - 1);
		tc = lookup_type_cache(att->atttypid, TYPECACHE_LT_OPR);
		if (!OidIsValid(tc->lt_opr))
			ereport(
			    ERROR,
			    (errcode(ERRCODE_UNDEFINED_FUNCTION),
			     errmsg("cannot ZORDER BY column \"%s\": type %s has no ordering", name,
			            format_type_be(att->atttypid)),
			     errhint(
			         "ZORDER BY needs columns whose type has a default btree operator class.")));
		z->attnums[i] = attnum;
	}
}

static int
cmp_sample(const void *a, const void *b, void *arg)
{
	return ApplySortComparator(*(const Datum *)a, false, *(const Datum *)b, false,
	                           (SortSupport)arg);
}

/* Range boundaries of every column from a sample of the input rows. */
static void
sample_ranges(Relation rel, int64 storage_id, const ZorderColumns *z, OptInput *inputs, int ninputs,
	      int64 total_live, ZorderRanges *ranges)
{
	TupleDesc tupdesc = RelationGetDescr(rel);
	int64 stride = Max(1, total_live / ZORDER_SAMPLE);
	int64 cap = total_live / stride + 1;
	Datum **sample = palloc(sizeof(Datum *) * z->ncols);
	int64 *nsample = palloc0(sizeof(int64) * z->ncols);
	Bitmapset *attrs = NULL;
	MemoryContext incxt =
	    AllocSetContextCreate(CurrentMemoryContext, "zorder sample input", ALLOCSET_DEFAULT_SIZES);
	Datum **vals = palloc(sizeof(Datum *) * tupdesc->natts);
	bool **nulls = palloc(sizeof(bool *) * tupdesc->natts);
	int c;
	int i;

	for (c = 0; c < z->ncols; c++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, z->attnums[c] - 1);
		TypeCacheEntry *tc = lookup_type_cache(att->atttypid, TYPECACHE_LT_OPR);

		attrs = bms_add_member(attrs, z->attnums[c]);
		sample[c] = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(Datum) * cap);
		ranges[c].attnum = z->attnums[c];
		memset(&ranges[c].ssup, 0, sizeof(SortSupportData));
		ranges[c].ssup.ssup_cxt = CurrentMemoryContext;
		ranges[c].ssup.ssup_collation = att->attcollation;
		PrepareSortSupportFromOrderingOp(tc->lt_opr, &ranges[c].ssup);
	}

	columnar_progress_phase("sampling z-order ranges");
	for (i = 0; i < ninputs; i++)
	{
		OptInput *in = &inputs[i];
		MemoryContext old;
		int64 pos = in->inpos;
		int r;

		CHECK_FOR_INTERRUPTS();
		if (in->ndeleted == in->seg.row_count)
			continue;
		old = MemoryContextSwitchTo(incxt);
		columnar_optimize_read_input(rel, storage_id, in, attrs, vals, nulls);
		MemoryContextSwitchTo(old);
		for (r = 0; r < in->seg.row_count; r++)
		{
			if (BIT_SET(in->deleted, r))
				continue;
			if (pos++ % stride != 0)
				continue;
			for (c = 0; c < z->ncols; c++)
			{
				Form_pg_attribute att = TupleDescAttr(tupdesc, z->attnums[c] - 1);
				int a = z->attnums[c] - 1;

				if (nulls[a][r] || nsample[c] >= cap)
					continue;
				sample[c][nsample[c]++] = datumCopy(vals[a][r], att->attbyval, att->attlen);
			}
		}
		MemoryContextReset(incxt);
	}
	MemoryContextDelete(incxt);

	for (c = 0; c < z->ncols; c++)
	{
		ZorderRanges *zr = &ranges[c];
		int64 n = nsample[c];
		int nr = (int)Min((int64)ZORDER_RANGES, Max(n, 1));
		int j;

		qsort_arg(sample[c], n, sizeof(Datum), cmp_sample, &zr->ssup);
		/* boundary j: the first value of range j (1 .. nr - 1), each once */
		zr->bounds = palloc(sizeof(Datum) * nr);
		zr->nbounds = 0;
		for (j = 1; j < nr; j++)
		{
			Datum b = sample[c][(int64)j * n / nr];

			if (zr->nbounds > 0 &&
			    ApplySortComparator(b, false, zr->bounds[zr->nbounds - 1], false, &zr->ssup) <= 0)
				continue;
			zr->bounds[zr->nbounds++] = b;
		}
		/* ids 0 .. nbounds for values, nbounds + 1 for NULL */
		zr->bits = 1;
		while ((1 << zr->bits) < zr->nbounds + 2)
			zr->bits++;
	}
}

/* The range id of a value: how many boundaries are at or below it. */
static uint32
range_id(ZorderRanges *zr, Datum v, bool isnull)
{
	int lo = 0;
	int hi = zr->nbounds;

	if (isnull)
		return zr->nbounds + 1;
	while (lo < hi)
	{
		int mid = (lo + hi) / 2;

		if (ApplySortComparator(zr->bounds[mid], false, v, false, &zr->ssup) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Interleave the range ids' bits (at most 4 x 11 bits: the key stays positive). */
static int64
z_key(ZorderRanges *ranges, int ncols, int maxbits, Datum *vals, bool *nulls)
{
	uint32 ids[ZORDER_MAX_COLUMNS];
	uint64 key = 0;
	int c;
	int b;

	for (c = 0; c < ncols; c++)
	{
		AttrNumber a = ranges[c].attnum - 1;

		/*
		 * Every column's ids spread over all maxbits bits, proportionally:
		 * then each bit of the key halves the rows, whatever a column's
		 * number of ranges (ids 0 .. nbounds + 1 left in a power of two
		 * would leave its top bit to a few ranges).
		 */
		ids[c] = (uint32)(((uint64)range_id(&ranges[c], vals[a], nulls[a]) << maxbits) /
		                  (ranges[c].nbounds + 2));
	}
	for (b = maxbits - 1; b >= 0; b--)
		for (c = 0; c < ncols; c++)
			key = (key << 1) | ((ids[c] >> b) & 1);
	return (int64)key;
}

void
columnar_zorder_rewrite(Relation rel, int64 storage_id, const ZorderColumns *z, OptInput *inputs,
			int ninputs, int64 total_live, OptWriter *w, int64 *newpos)
{
	TupleDesc tupdesc = RelationGetDescr(rel);
	ZorderRanges ranges[ZORDER_MAX_COLUMNS];
	int maxbits = 0;
	TupleDesc sdesc;
	Tuplesortstate *sort;
	TupleTableSlot *slot;   /* into the sort */
	TupleTableSlot *sorted; /* out of it */
	AttrNumber sortcols[2] = {1, 2};
	Oid sortops[2] = {Int8LessOperator, Int8LessOperator};
	Oid colls[2] = {InvalidOid, InvalidOid};
	bool nullsfirst[2] = {false, false};
	MemoryContext incxt;
	Datum **vals = palloc(sizeof(Datum *) * tupdesc->natts);
	bool **nulls = palloc(sizeof(bool *) * tupdesc->natts);
	Datum *rowv = palloc(sizeof(Datum) * tupdesc->natts);
	bool *rown = palloc(sizeof(bool) * tupdesc->natts);
	int64 outpos = 0;
	int c;
	int a;
	int i;

	sample_ranges(rel, storage_id, z, inputs, ninputs, total_live, ranges);
	for (c = 0; c < z->ncols; c++)
		maxbits = Max(maxbits, ranges[c].bits);

	/* sort tuples: z key, input position, the table's columns */
	sdesc = CreateTemplateTupleDesc(tupdesc->natts + 2);
	TupleDescInitEntry(sdesc, 1, "z", INT8OID, -1, 0);
	TupleDescInitEntry(sdesc, 2, "pos", INT8OID, -1, 0);
	for (a = 0; a < tupdesc->natts; a++)
		TupleDescCopyEntry(sdesc, a + 3, tupdesc, a + 1);
	sort = tuplesort_begin_heap(sdesc, 2, sortcols, sortops, colls, nullsfirst,
	                            maintenance_work_mem, NULL, TUPLESORT_NONE);
	slot = MakeSingleTupleTableSlot(sdesc, &TTSOpsVirtual);
	sorted = MakeSingleTupleTableSlot(sdesc, &TTSOpsMinimalTuple);
	incxt = AllocSetContextCreate(CurrentMemoryContext, "zorder input", ALLOCSET_DEFAULT_SIZES);

	columnar_progress_phase("sorting rows on the z-order curve");
	for (i = 0; i < ninputs; i++)
	{
		OptInput *in = &inputs[i];
		MemoryContext old;
		int64 pos = in->inpos;
		int r;

		CHECK_FOR_INTERRUPTS();
		if (in->ndeleted < in->seg.row_count)
		{
			old = MemoryContextSwitchTo(incxt);
			columnar_optimize_read_input(rel, storage_id, in, NULL, vals, nulls);
			MemoryContextSwitchTo(old);
			for (r = 0; r < in->seg.row_count; r++)
			{
				if (BIT_SET(in->deleted, r))
					continue;
				for (a = 0; a < tupdesc->natts; a++)
				{
					rowv[a] = vals[a] ? vals[a][r] : (Datum)0;
					rown[a] = vals[a] ? nulls[a][r] : true;
				}
				ExecClearTuple(slot);
				slot->tts_values[0] = Int64GetDatum(z_key(ranges, z->ncols, maxbits, rowv, rown));
				slot->tts_isnull[0] = false;
				slot->tts_values[1] = Int64GetDatum(pos++);
				slot->tts_isnull[1] = false;
				memcpy(slot->tts_values + 2, rowv, sizeof(Datum) * tupdesc->natts);
				memcpy(slot->tts_isnull + 2, rown, sizeof(bool) * tupdesc->natts);
				ExecStoreVirtualTuple(slot);
				tuplesort_puttupleslot(sort, slot);
			}
			MemoryContextReset(incxt);
		}
		columnar_optimize_inputs_done(w, i + 1);
	}
	MemoryContextDelete(incxt);
	tuplesort_performsort(sort);

	columnar_progress_phase("writing segments");
	while (tuplesort_gettupleslot(sort, true, false, sorted, NULL))
	{
		int64 pos;

		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(sorted);
		pos = DatumGetInt64(sorted->tts_values[1]);
		if (pos < 0 || pos >= total_live)
			elog(ERROR, "z-order sort returned input position " INT64_FORMAT, pos);
		newpos[pos] = outpos++;
		columnar_optimize_write_row(w, sorted->tts_values + 2, sorted->tts_isnull + 2);
	}
	tuplesort_end(sort);
	ExecDropSingleTupleTableSlot(slot);
	ExecDropSingleTupleTableSlot(sorted);
	if (outpos != total_live)
		elog(ERROR, "z-order sort returned " INT64_FORMAT " rows of " INT64_FORMAT, outpos,
		     total_live);
}
