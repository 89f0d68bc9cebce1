/*
 * columnar_verify_history.c
 *		The part of streamext.verify(tbl) (columnar_verify.c) that checks what
 *		streamext.optimize and streamext.vacuum promise, against the history:
 *
 *	OPTIMIZE, version V.  Its history row adds and removes no row and its
 *	parameters are well formed (zorder_by: at most ZORDER_MAX_COLUMNS
 *	distinct names; segments_added / rows_rewritten: what it wrote).  V
 *	touches only the segments it retired (removed_version = V) and the ones
 *	it wrote (added_version = V): every deletion vector of V is on one of
 *	them.  Each row of a retired segment live before V is deleted by V with a
 *	successor, a row of a segment V wrote, with the same values; each row V
 *	wrote is the successor of exactly one of them, or V deleted it at once
 *	(its original was deleted while the rewrite ran).  So the live rows
 *	before V and as of V are the same rows: V changes no row.  A version as
 *	old as the oldest readable one (streamext.vacuum's R) is not checked:
 *	vacuum may have removed the segments it retired.
 *
 *	VACUUM.  Its history row adds and removes no row; its parameters'
 *	readable_from is below its own version and never below readable_from
 *	before it, which is the previous VACUUM's readable_from (1 for the
 *	first); the last VACUUM is the one streamext.columnar_vacuumed names, with
 *	the same readable_from.  (Whether vacuum removed all it could is not an
 *	invariant: it leaves what a running snapshot may still see.)
 *
 *	Successors (UPDATE's and OPTIMIZE's): one per deleted row, each a row its
 *	deletion's version added (for versions vacuum has not folded).
 *
 * Row values are compared by a 32-bit hash of their stored images, one per
 * rewritten row, so the check needs 4 bytes a row, not the rows themselves.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_metadata.h"
#include "columnar/columnar_optimize.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#define BIT_SET(bits, r) ((bits) != NULL && ((bits)[(r) / 8] & (1 << ((r) % 8))))

typedef struct VerVersion
{
	int64 version;
	char *operation;
	Jsonb *params;
	int64 rows_added;
	int64 rows_removed;
} VerVersion;

/* The deletion vectors of one segment, split around version V. */
typedef struct SegDeletions
{
	uint8 *before;  /* OR of the vectors of versions < V (NULL: none) */
	uint8 *at;      /* the vector of V (NULL: none) */
	bytea *at_succ; /* its successors (NULL: none) */
	int nat;        /* vectors of V */
} SegDeletions;

static JsonbValue *
param(Jsonb *j, const char *key)
{
	JsonbValue k;

	if (j == NULL || !JB_ROOT_IS_OBJECT(j))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *)key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&j->root, JB_FOBJECT, &k);
}

/* An integer parameter; false if missing or not an integer. */
static bool
param_int(Jsonb *j, const char *key, int64 *out)
{
	JsonbValue *v = param(j, key);

	if (v == NULL || v->type != jbvNumeric)
		return false;
	*out = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	return true;
}

static List *
load_versions(int64 storage_id, Snapshot snapshot)
{
	Relation rel = table_open(ColumnarVersionRelationId(), AccessShareLock);
	TupleDesc desc = RelationGetDescr(rel);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple tup;
	List *result = NIL;

	ScanKeyInit(&key, Anum_columnar_version_storage_id, BTEqualStrategyNumber, F_INT8EQ,
	            Int64GetDatum(storage_id));
	scan = systable_beginscan(rel, ColumnarVersionPkeyIndexId(), true, snapshot, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		VerVersion *v = palloc(sizeof(VerVersion));
		bool isnull;
		Datum d;

		v->version = DatumGetInt64(heap_getattr(tup, Anum_columnar_version_version, desc, &isnull));
		v->operation =
		    TextDatumGetCString(heap_getattr(tup, Anum_columnar_version_operation, desc, &isnull));
		d = heap_getattr(tup, Anum_columnar_version_parameters, desc, &isnull);
		v->params = isnull ? NULL : DatumGetJsonbPCopy(d);
		v->rows_added =
		    DatumGetInt64(heap_getattr(tup, Anum_columnar_version_rows_added, desc, &isnull));
		v->rows_removed =
		    DatumGetInt64(heap_getattr(tup, Anum_columnar_version_rows_removed, desc, &isnull));
		result = lappend(result, v);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

/* The deletion vectors of a segment of nrows rows, around version V. */
static void
load_deletions(int64 storage_id, int64 segno, int32 nrows, int64 V, Snapshot snapshot,
               SegDeletions *sd)
{
	Relation rel = table_open(ColumnarDeletionRelationId(), AccessShareLock);
	TupleDesc desc = RelationGetDescr(rel);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple tup;
	int nbytes = (nrows + 7) / 8;

	memset(sd, 0, sizeof(SegDeletions));
	ScanKeyInit(&key[0], Anum_columnar_deletion_storage_id, BTEqualStrategyNumber, F_INT8EQ,
	            Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], Anum_columnar_deletion_segno, BTEqualStrategyNumber, F_INT8EQ,
	            Int64GetDatum(segno));
	scan = systable_beginscan(rel, ColumnarDeletionPkeyIndexId(), true, snapshot, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool isnull;
		int64 version =
		    DatumGetInt64(heap_getattr(tup, Anum_columnar_deletion_version, desc, &isnull));
		bytea *b =
		    DatumGetByteaPP(heap_getattr(tup, Anum_columnar_deletion_deleted, desc, &isnull));
		int len = Min((int)VARSIZE_ANY_EXHDR(b), nbytes);
		uint8 **dst;
		Datum s;

		if (version > V)
			continue; /* verify.c: none after a segment's removal */
		dst = version < V ? &sd->before : &sd->at;
		if (version == V)
		{
			sd->nat++;
			s = heap_getattr(tup, Anum_columnar_deletion_successors, desc, &isnull);
			sd->at_succ = isnull ? NULL : DatumGetByteaPCopy(s);
		}
		if (*dst == NULL)
			*dst = palloc0(nbytes);
		for (int i = 0; i < len; i++)
			(*dst)[i] |= ((uint8 *)VARDATA_ANY(b))[i];
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* The segnos of the deletion vectors of version V. */
static List *
deletions_of_version(int64 storage_id, int64 V, Snapshot snapshot)
{
	Relation rel = table_open(ColumnarDeletionRelationId(), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple tup;
	List *result = NIL;

	ScanKeyInit(&key[0], Anum_columnar_deletion_storage_id, BTEqualStrategyNumber, F_INT8EQ,
	            Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], Anum_columnar_deletion_version, BTEqualStrategyNumber, F_INT8EQ,
	            Int64GetDatum(V));
	scan = systable_beginscan(rel, ColumnarDeletionVersionIndexId(), true, snapshot, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool isnull;
		int64 *segno = palloc(sizeof(int64));

		*segno = DatumGetInt64(
		    heap_getattr(tup, Anum_columnar_deletion_segno, RelationGetDescr(rel), &isnull));
		result = lappend(result, segno);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

/* Hashes of the stored images of the rows of one segment, into hashes[0 .. nrows - 1]. */
static void
row_hashes(Relation rel, int64 storage_id, const ColumnarSegment *seg, uint32 *hashes)
{
	TupleDesc tupdesc = RelationGetDescr(rel);
	/* the decoded segment lives only as long as this call */
	MemoryContext cxt =
	    AllocSetContextCreate(CurrentMemoryContext, "verify segment", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Datum **vals = palloc(sizeof(Datum *) * tupdesc->natts);
	bool **nulls = palloc(sizeof(bool *) * tupdesc->natts);

	for (int a = 0; a < tupdesc->natts; a++)
	{
		bool dropped = TupleDescAttr(tupdesc, a)->attisdropped;

		vals[a] = dropped ? NULL : palloc(sizeof(Datum) * seg->row_count);
		nulls[a] = dropped ? NULL : palloc(sizeof(bool) * seg->row_count);
	}
	columnar_read_chunks(storage_id, seg->segno, seg->row_count, tupdesc, NULL, vals, nulls, NULL);
	for (int r = 0; r < seg->row_count; r++)
	{
		uint32 h = 0;

		for (int a = 0; a < tupdesc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, a);
			Datum d;
			uint32 ch;

			if (vals[a] == NULL)
				continue;
			if (nulls[a][r])
				ch = 0x9e3779b9;
			else if (att->attbyval)
			{
				d = vals[a][r];
				ch = hash_bytes((const unsigned char *)&d, sizeof(Datum));
			}
			else if (att->attlen == -1)
			{
				struct varlena *v = PG_DETOAST_DATUM_PACKED(vals[a][r]);

				ch = hash_bytes((const unsigned char *)VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
			}
			else if (att->attlen == -2)
				ch = hash_bytes((const unsigned char *)DatumGetCString(vals[a][r]),
				                strlen(DatumGetCString(vals[a][r])));
			else
				ch = hash_bytes((const unsigned char *)DatumGetPointer(vals[a][r]), att->attlen);
			h = hash_combine(h, ch);
		}
		hashes[r] = h;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/* The segment of segs[0 .. nsegs - 1] (sorted by segno) holding rownum, or NULL. */
static ColumnarSegment *
seg_holding(ColumnarSegment **segs, int nsegs, int64 rownum, int *idx)
{
	int lo = 0;
	int hi = nsegs - 1;

	while (lo <= hi)
	{
		int mid = (lo + hi) / 2;

		if (rownum < segs[mid]->segno)
			hi = mid - 1;
		else if (rownum >= segs[mid]->segno + segs[mid]->row_count)
			lo = mid + 1;
		else
		{
			if (idx)
				*idx = mid;
			return segs[mid];
		}
	}
	return NULL;
}

/* The checks of one OPTIMIZE version V (see the top of the file). */
static void
verify_optimize(Relation rel, int64 storage_id, Snapshot snapshot, List *segs, VerVersion *v)
{
	int64 V = v->version;
	ColumnarSegment **olds = palloc(sizeof(ColumnarSegment *) * Max(list_length(segs), 1));
	ColumnarSegment **news = palloc(sizeof(ColumnarSegment *) * Max(list_length(segs), 1));
	int nold = 0;
	int nnew = 0;
	int64 new_rows = 0;
	int64 new_live = 0;
	int64 old_live = 0;
	int64 segments_removed;
	int64 segments_added;
	int64 rows_rewritten;
	int64 *new_base;
	uint32 *expect; /* per row V wrote: the hash of its original */
	uint8 *hit;     /* per row V wrote: an original names it */
	uint8 **redo;   /* per segment V wrote: the rows V deleted */
	ListCell *lc;
	MemoryContext cxt =
	    AllocSetContextCreate(CurrentMemoryContext, "verify optimize", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	foreach (lc, segs)
	{
		ColumnarSegment *seg = lfirst(lc);

		if (seg->removed_version == V)
			olds[nold++] = seg;
		if (seg->added_version == V)
		{
			news[nnew++] = seg;
			new_rows += seg->row_count;
		}
	}
	if (!param_int(v->params, "segments_removed", &segments_removed) ||
	    !param_int(v->params, "segments_added", &segments_added) ||
	    !param_int(v->params, "rows_rewritten", &rows_rewritten))
		columnar_verify_corrupt(
		    rel, "OPTIMIZE version " INT64_FORMAT " has no segment and row counts in its history",
		    V);
	if (segments_added != nnew || rows_rewritten != new_rows)
		columnar_verify_corrupt(rel,
		                        "OPTIMIZE version " INT64_FORMAT
		                        " wrote %d segments of " INT64_FORMAT
		                        " rows, its history says " INT64_FORMAT " of " INT64_FORMAT,
		                        V, nnew, new_rows, segments_added, rows_rewritten);
	/* retired segments without live rows may be gone (vacuum removes them): at most */
	if (nold > segments_removed)
		columnar_verify_corrupt(rel,
		                        "OPTIMIZE version " INT64_FORMAT
		                        " retired %d segments, its history says " INT64_FORMAT,
		                        V, nold, segments_removed);

	/* V touches nothing but what it retired and wrote */
	foreach (lc, deletions_of_version(storage_id, V, snapshot))
	{
		int64 segno = *(int64 *)lfirst(lc);
		bool ok = false;

		for (int i = 0; i < nold && !ok; i++)
			ok = olds[i]->segno == segno;
		for (int i = 0; i < nnew && !ok; i++)
			ok = news[i]->segno == segno;
		if (!ok)
			columnar_verify_corrupt(rel,
			                        "OPTIMIZE version " INT64_FORMAT
			                        " deletes rows of segment " INT64_FORMAT
			                        ", which it neither retired nor wrote",
			                        V, segno);
	}

	/* what V wrote: the rows it deleted at once (their originals went meanwhile) */
	new_base = palloc(sizeof(int64) * Max(nnew, 1));
	redo = palloc0(sizeof(uint8 *) * Max(nnew, 1));
	for (int i = 0; i < nnew; i++)
	{
		SegDeletions sd;
		int nd = 0;

		new_base[i] = i == 0 ? 0 : new_base[i - 1] + news[i - 1]->row_count;
		load_deletions(storage_id, news[i]->segno, news[i]->row_count, V, snapshot, &sd);
		if (sd.nat > 1)
			columnar_verify_corrupt(
			    rel, "segment " INT64_FORMAT " has %d deletion vectors of version " INT64_FORMAT,
			    news[i]->segno, sd.nat, V);
		if (sd.at_succ != NULL)
			columnar_verify_corrupt(rel,
			                        "OPTIMIZE version " INT64_FORMAT
			                        " gives rows of segment " INT64_FORMAT
			                        ", which it wrote, successors",
			                        V, news[i]->segno);
		redo[i] = sd.at;
		for (int r = 0; r < news[i]->row_count; r++)
			if (BIT_SET(sd.at, r))
				nd++;
		new_live += news[i]->row_count - nd;
	}

	/* what V retired: every row live before V moved, by V, to a row V wrote */
	expect = MemoryContextAllocHuge(cxt, sizeof(uint32) * Max(new_rows, 1));
	hit = MemoryContextAllocHuge(cxt, (new_rows + 8) / 8);
	memset(hit, 0, (new_rows + 8) / 8);
	for (int i = 0; i < nold; i++)
	{
		ColumnarSegment *o = olds[i];
		SegDeletions sd;
		uint32 *hashes = palloc(sizeof(uint32) * o->row_count);
		int rank = 0;
		int live = 0;

		CHECK_FOR_INTERRUPTS();
		load_deletions(storage_id, o->segno, o->row_count, V, snapshot, &sd);
		if (sd.nat > 1)
			columnar_verify_corrupt(
			    rel, "segment " INT64_FORMAT " has %d deletion vectors of version " INT64_FORMAT,
			    o->segno, sd.nat, V);
		for (int r = 0; r < o->row_count; r++)
			if (!BIT_SET(sd.before, r))
				live++;
		old_live += live;
		if (live == 0)
			continue;
		row_hashes(rel, storage_id, o, hashes);
		for (int r = 0; r < o->row_count; r++)
		{
			int64 succ;
			int k = 0;
			ColumnarSegment *n;
			int64 pos;

			if (BIT_SET(sd.before, r))
			{
				if (BIT_SET(sd.at, r))
					rank++;
				continue;
			}
			if (!BIT_SET(sd.at, r))
				columnar_verify_corrupt(rel,
				                        "row " INT64_FORMAT
				                        ", live before OPTIMIZE version " INT64_FORMAT
				                        " retired its segment, was not moved",
				                        o->segno + r, V);
			if (sd.at_succ == NULL ||
			    (Size)(rank + 1) * sizeof(int64) > VARSIZE_ANY_EXHDR(sd.at_succ))
				columnar_verify_corrupt(rel,
				                        "row " INT64_FORMAT
				                        ", moved by OPTIMIZE version " INT64_FORMAT
				                        ", has no successor",
				                        o->segno + r, V);
			memcpy(&succ, VARDATA_ANY(sd.at_succ) + rank * sizeof(int64), sizeof(int64));
			rank++;
			n = seg_holding(news, nnew, succ, &k);
			if (n == NULL)
				columnar_verify_corrupt(
				    rel,
				    "row " INT64_FORMAT ", moved by OPTIMIZE version " INT64_FORMAT
				    ", has successor " INT64_FORMAT ", which is in no segment it wrote",
				    o->segno + r, V, succ);
			if (BIT_SET(redo[k], succ - n->segno))
				columnar_verify_corrupt(rel,
				                        "row " INT64_FORMAT ", successor of row " INT64_FORMAT
				                        " by OPTIMIZE version " INT64_FORMAT ", is deleted by it",
				                        succ, o->segno + r, V);
			pos = new_base[k] + (succ - n->segno);
			if (BIT_SET(hit, pos))
				columnar_verify_corrupt(
				    rel,
				    "row " INT64_FORMAT
				    " is the successor of two rows by OPTIMIZE version " INT64_FORMAT,
				    succ, V);
			hit[pos / 8] |= (1 << (pos % 8));
			expect[pos] = hashes[r];
		}
		pfree(hashes);
	}
	if (old_live != new_live)
		columnar_verify_corrupt(rel,
		                        "OPTIMIZE version " INT64_FORMAT " retired " INT64_FORMAT
		                        " live rows and wrote " INT64_FORMAT,
		                        V, old_live, new_live);

	/* every row V wrote (and kept) is the copy of one, with its values */
	for (int i = 0; i < nnew; i++)
	{
		ColumnarSegment *n = news[i];
		uint32 *hashes = palloc(sizeof(uint32) * n->row_count);

		CHECK_FOR_INTERRUPTS();
		row_hashes(rel, storage_id, n, hashes);
		for (int r = 0; r < n->row_count; r++)
		{
			int64 pos = new_base[i] + r;

			if (BIT_SET(redo[i], r))
				continue;
			if (!BIT_SET(hit, pos))
				columnar_verify_corrupt(rel,
				                        "row " INT64_FORMAT
				                        ", written by OPTIMIZE version " INT64_FORMAT
				                        ", is the successor of no row it retired",
				                        n->segno + r, V);
			if (expect[pos] != hashes[r])
				columnar_verify_corrupt(rel,
				                        "row " INT64_FORMAT
				                        ", written by OPTIMIZE version " INT64_FORMAT
				                        ", differs from the row it replaced",
				                        n->segno + r, V);
		}
		pfree(hashes);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/* History parameters of an OPTIMIZE: zorder_by, full. */
static void
verify_optimize_params(Relation rel, VerVersion *v)
{
	JsonbValue *z = param(v->params, "zorder_by");
	JsonbValue *full = param(v->params, "full");
	int n;
	char *names[ZORDER_MAX_COLUMNS];

	if (z == NULL || z->type != jbvBinary || !JsonContainerIsArray(z->val.binary.data) ||
	    full == NULL || full->type != jbvBool)
		columnar_verify_corrupt(rel,
		                        "OPTIMIZE version " INT64_FORMAT
		                        " has no zorder_by array or full flag in its history",
		                        v->version);
	n = JsonContainerSize(z->val.binary.data);
	if (n > ZORDER_MAX_COLUMNS)
		columnar_verify_corrupt(rel,
		                        "OPTIMIZE version " INT64_FORMAT
		                        " has %d zorder_by columns, at most %d are allowed",
		                        v->version, n, ZORDER_MAX_COLUMNS);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(z->val.binary.data, i);

		if (e == NULL || e->type != jbvString || e->val.string.len == 0)
			columnar_verify_corrupt(rel,
			                        "OPTIMIZE version " INT64_FORMAT
			                        " has a zorder_by entry that is not a column name",
			                        v->version);
		names[i] = pnstrdup(e->val.string.val, e->val.string.len);
		for (int j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				columnar_verify_corrupt(
				    rel, "OPTIMIZE version " INT64_FORMAT " names zorder_by column \"%s\" twice",
				    v->version, names[i]);
	}
}

/*
 * Successor links (UPDATE's and OPTIMIZE's): one per deleted row of the
 * vector, and for a vector newer than the oldest readable version (vacuum
 * folds the older ones, whose successors' segments it may have removed)
 * each successor (-1: a plain delete) is a row of a segment added by the
 * vector's own version, another row than the one it replaces.  And every
 * segment row's first_row is its segno.
 */
static void
verify_successors(Relation rel, int64 storage_id, Snapshot snapshot, List *segs,
                  int64 readable_from)
{
	int nsegs = list_length(segs);
	ColumnarSegment **arr = palloc(sizeof(ColumnarSegment *) * Max(nsegs, 1));
	Relation drel;
	Relation srel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple tup;
	ListCell *lc;
	int n = 0;

	foreach (lc, segs)
		arr[n++] = lfirst(lc);

	srel = table_open(ColumnarSegmentRelationId(), AccessShareLock);
	ScanKeyInit(&key, Anum_columnar_segment_storage_id, BTEqualStrategyNumber, F_INT8EQ,
	            Int64GetDatum(storage_id));
	scan = systable_beginscan(srel, ColumnarSegmentPkeyIndexId(), true, snapshot, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool isnull;
		int64 segno = DatumGetInt64(
		    heap_getattr(tup, Anum_columnar_segment_segno, RelationGetDescr(srel), &isnull));
		int64 first = DatumGetInt64(
		    heap_getattr(tup, Anum_columnar_segment_first_row, RelationGetDescr(srel), &isnull));

		if (isnull || first != segno)
			columnar_verify_corrupt(rel, "segment " INT64_FORMAT " records first row " INT64_FORMAT,
			                        segno, isnull ? -1 : first);
	}
	systable_endscan(scan);
	table_close(srel, AccessShareLock);

	drel = table_open(ColumnarDeletionRelationId(), AccessShareLock);
	scan = systable_beginscan(drel, ColumnarDeletionPkeyIndexId(), true, snapshot, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc desc = RelationGetDescr(drel);
		bool isnull;
		int64 segno = DatumGetInt64(heap_getattr(tup, Anum_columnar_deletion_segno, desc, &isnull));
		int64 version =
		    DatumGetInt64(heap_getattr(tup, Anum_columnar_deletion_version, desc, &isnull));
		bytea *b =
		    DatumGetByteaPP(heap_getattr(tup, Anum_columnar_deletion_deleted, desc, &isnull));
		Datum sd = heap_getattr(tup, Anum_columnar_deletion_successors, desc, &isnull);
		bytea *sb;
		int64 nbits = 0;
		int rank = 0;
		ColumnarSegment *seg;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		sb = DatumGetByteaPP(sd);
		for (int i = 0; i < (int)VARSIZE_ANY_EXHDR(b) * 8; i++)
			if (BIT_SET((uint8 *)VARDATA_ANY(b), i))
				nbits++;
		if (VARSIZE_ANY_EXHDR(sb) != nbits * sizeof(int64))
			columnar_verify_corrupt(
			    rel,
			    "segment " INT64_FORMAT " has a deletion vector of version " INT64_FORMAT
			    " with " INT64_FORMAT " deleted rows and %d successors",
			    segno, version, nbits, (int)(VARSIZE_ANY_EXHDR(sb) / sizeof(int64)));
		if (version <= readable_from)
			continue;
		/*
		 * The version removed the segment too: an OPTIMIZE (its successors
		 * are checked by verify_optimize), or a TRUNCATE later in the
		 * transaction, which dropped the new rows it had not written out yet
		 * (nothing can reach those successors).
		 */
		seg = seg_holding(arr, n, segno, NULL);
		if (seg != NULL && seg->removed_version == version)
			continue;
		for (int i = 0; i < (int)VARSIZE_ANY_EXHDR(b) * 8; i++)
		{
			int64 succ;
			ColumnarSegment *hit;

			if (!BIT_SET((uint8 *)VARDATA_ANY(b), i))
				continue;
			memcpy(&succ, VARDATA_ANY(sb) + rank * sizeof(int64), sizeof(int64));
			rank++;
			if (succ == -1)
				continue;
			hit = seg_holding(arr, n, succ, NULL);
			if (hit == NULL || hit->added_version != version || succ == segno + i)
				columnar_verify_corrupt(rel,
				                        "row " INT64_FORMAT ", deleted by version " INT64_FORMAT
				                        ", has successor " INT64_FORMAT
				                        ", which is no row that version added",
				                        segno + i, version, succ);
		}
	}
	systable_endscan(scan);
	table_close(drel, AccessShareLock);
}

void
columnar_verify_history(Relation rel, int64 storage_id, Snapshot snapshot, List *segs,
                        int64 readable_from)
{
	List *versions = load_versions(storage_id, snapshot);
	ListCell *lc;
	int64 prev_from = 0;
	int64 last_vacuum = 0;
	int64 vacuumed_by = 0;
	int64 recorded_from = 0;

	/* what streamext.columnar_vacuumed says, as this snapshot sees the history */
	{
		Relation vrel = table_open(ColumnarVacuumedRelationId(), AccessShareLock);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple tup;

		ScanKeyInit(&key, Anum_columnar_vacuumed_storage_id, BTEqualStrategyNumber, F_INT8EQ,
		            Int64GetDatum(storage_id));
		scan = systable_beginscan(vrel, ColumnarVacuumedPkeyIndexId(), true, snapshot, 1, &key);
		if (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool isnull;

			recorded_from = DatumGetInt64(heap_getattr(tup, Anum_columnar_vacuumed_readable_from,
			                                           RelationGetDescr(vrel), &isnull));
			vacuumed_by = DatumGetInt64(
			    heap_getattr(tup, Anum_columnar_vacuumed_version, RelationGetDescr(vrel), &isnull));
		}
		systable_endscan(scan);
		table_close(vrel, AccessShareLock);
	}
	readable_from = Max(readable_from, recorded_from);
	verify_successors(rel, storage_id, snapshot, segs, readable_from);

	foreach (lc, versions)
	{
		VerVersion *v = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		if (strcmp(v->operation, "OPTIMIZE") == 0)
		{
			if (v->rows_added != 0 || v->rows_removed != 0)
				columnar_verify_corrupt(rel,
				                        "OPTIMIZE version " INT64_FORMAT " added " INT64_FORMAT
				                        " and removed " INT64_FORMAT " rows",
				                        v->version, v->rows_added, v->rows_removed);
			verify_optimize_params(rel, v);
			if (v->version > readable_from)
				verify_optimize(rel, storage_id, snapshot, segs, v);
		}
		else if (strcmp(v->operation, "VACUUM") == 0)
		{
			int64 from;
			int64 before;

			if (v->rows_added != 0 || v->rows_removed != 0)
				columnar_verify_corrupt(rel,
				                        "VACUUM version " INT64_FORMAT " added " INT64_FORMAT
				                        " and removed " INT64_FORMAT " rows",
				                        v->version, v->rows_added, v->rows_removed);
			if (!param_int(v->params, "readable_from", &from) ||
			    !param_int(v->params, "readable_from_before", &before))
				columnar_verify_corrupt(
				    rel, "VACUUM version " INT64_FORMAT " has no readable_from in its history",
				    v->version);
			if (from < 1 || from >= v->version)
				columnar_verify_corrupt(rel,
				                        "VACUUM version " INT64_FORMAT " made version " INT64_FORMAT
				                        " the oldest readable one",
				                        v->version, from);
			if (before != (prev_from > 0 ? prev_from : 1) || from < before)
				columnar_verify_corrupt(rel,
				                        "VACUUM version " INT64_FORMAT
				                        " moved the oldest readable version from " INT64_FORMAT
				                        " to " INT64_FORMAT
				                        ", the one before left it at " INT64_FORMAT,
				                        v->version, before, from, prev_from > 0 ? prev_from : 1);
			prev_from = from;
			last_vacuum = v->version;
		}
	}
	if (last_vacuum != vacuumed_by || prev_from != recorded_from)
		columnar_verify_corrupt(
		    rel,
		    "its oldest readable version " INT64_FORMAT " was recorded by version " INT64_FORMAT
		    ", its history's last VACUUM (" INT64_FORMAT ") made it " INT64_FORMAT,
		    recorded_from, vacuumed_by, last_vacuum, prev_from);
}
