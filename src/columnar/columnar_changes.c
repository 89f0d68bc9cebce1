/*
 * columnar_changes.c
 *		streamext.changes(): the change data feed of a versioned_columnar
 *		table (Delta's CDF) -- every row a range of versions inserted,
 *		deleted or updated, read from what those versions wrote.
 *
 * A version's changes are exactly what its transaction wrote into the
 * metadata (see columnar_storage.c): the segments it added (minus the rows
 * it deleted again itself, which its own deletion vectors list), the
 * deletion vectors it wrote on older segments, and the older segments a
 * TRUNCATE of it marked removed.  Indexes on added_version, removed_version
 * and the deletion's version find those rows directly, so a call costs what
 * the versions wrote (plus decoding the older segments their deletions
 * touch, for the deleted rows' values), never a scan of the table: this is
 * what a pipeline reading a gold table calls every micro-batch.
 *
 * What is reported, per version, in this order:
 *   1. 'delete' for each committed row the version removed without a new
 *      image (DELETE, TRUNCATE, restore()'s DELETE, a row moved to another
 *      partition), in row-number order;
 *   2. the rows the version added, in row-number order: 'insert', or for
 *      the new image of an UPDATE (also MERGE's and ON CONFLICT's updates)
 *      'update_preimage' (the old row) immediately followed by its
 *      'update_postimage'.
 * An UPDATE is told apart from a DELETE plus an INSERT by the successor
 * links its deletion vector records (row -> its new row; columnar_lock.c
 * keeps them for EvalPlanQual): a deleted row with a successor that the
 * version left live is an update.  A row the transaction updated and then
 * deleted again is a 'delete'; rows it inserted and deleted (or that a
 * rolled-back savepoint wrote) never existed for anyone and are not
 * reported.  restore() is its deletes and inserts, as in Delta.  VACUUM
 * FULL and SET TABLESPACE write no version and so report nothing; a rewrite
 * (ALTER COLUMN TYPE, CLUSTER, SET ACCESS METHOD, ...) starts a new history
 * whose version 1 inserts every row.
 *
 * Exactly-once reading by version ranges.  A reader that has seen version
 * N also sees every version below N, so "the versions (last, newest
 * visible]" is a gap-free range that a pipeline can read exactly once:
 * a writer takes the table's writer lock before it is given its number
 * (latest committed + 1, read under the lock with SnapshotSelf:
 * columnar_write.c), holds it until its transaction has ended, and the lock
 * is released only after the transaction left the proc array
 * (CommitTransaction: ProcArrayEndTransaction, then the resource owner's
 * locks).  So version N - 1 was committed, and visible to every snapshot
 * taken afterwards, before version N's writer got its number; a snapshot
 * that sees N was taken after N committed, hence after N - 1 did.  (On a
 * standby the same holds: N - 1's commit record precedes N's in the WAL.)
 * A rolled-back writer makes no version, so numbers have no gaps either.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_metadata.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/tuplesort.h"

/* A segment the version added (still there at its commit), with the rows it deleted again. */
typedef struct AddedSeg
{
	ColumnarSegment seg;
	uint8	   *own_deleted;	/* NULL: none */
} AddedSeg;

/* An older segment some of whose rows the version removed. */
typedef struct OldSeg
{
	ColumnarSegment seg;
	uint8	   *removed;		/* rows the version removed */
	int64	   *succ;			/* NULL, or the new row of each row (-1: none) */
} OldSeg;

/* A deletion vector of the version. */
typedef struct DelRec
{
	int64		segno;
	int			nbytes;
	uint8	   *bits;
	int64	   *succ_packed;	/* NULL, or successors in bit order */
	int			nsucc;
} DelRec;

/* Everything one call needs. */
typedef struct ChangesState
{
	Relation	rel;
	TupleDesc	reldesc;
	int64		storage_id;
	Snapshot	snapshot;
	ReturnSetInfo *rsinfo;
	MemoryContext rowcxt;		/* reset per output row */
	MemoryContext segcxt;		/* reset per decoded segment */
	ColumnarScratch scratch;
	Datum	  **vals;
	bool	  **nulls;
	Datum	   *rowvals;		/* one row, for heap_form_tuple */
	bool	   *rownulls;
	Datum		types[4];		/* the _change_type texts */
	TupleDesc	sortdesc;		/* (successor, old row) for the update pairs */
	int64		nchanges;
} ChangesState;

#define BIT_SET(bits, r)	(((bits)[(r) / 8] & (1 << ((r) % 8))) != 0)

/* ---------------------------------------------------------------- */
/* the table and the arguments                                       */
/* ---------------------------------------------------------------- */

/* The table behind changes()'s first argument (NULL::tbl), checked like as_of's. */
static Relation
open_changes_table(FunctionCallInfo fcinfo)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	Oid			relid = OidIsValid(argtype) ? get_typ_typrelid(argtype) : InvalidOid;
	Relation	rel;
	AclResult	acl;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the first argument of streamext.changes must be a table's row type"),
				 errhint("Call it as streamext.changes(NULL::my_table, 3), or with a version range: streamext.changes(NULL::my_table, 3, 5).")));
	rel = table_open(relid, AccessShareLock);
	if (!columnar_is_columnar(rel))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is not a versioned_columnar table",
						RelationGetRelationName(rel)),
				 errhint("Only versioned_columnar tables keep versions; create it with CREATE TABLE ... USING versioned_columnar, or convert it with ALTER TABLE ... SET ACCESS METHOD versioned_columnar.")));
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(rel));
	/* the storage is read directly, past row-level security: as for as_of */
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the change data feed of table \"%s\" is not available: row-level security applies to it",
						RelationGetRelationName(rel))));
	return rel;
}

/* from .. to must be versions visible to the snapshot, from <= to. */
static void
check_range(Relation rel, int64 latest, int64 from, int64 to)
{
	if (latest == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table \"%s\" has no versions yet", RelationGetRelationName(rel)),
				 errhint("Its first committed write will be version 1.")));
	if (from < 1 || from > latest)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version " INT64_FORMAT " of table \"%s\" does not exist",
						from, RelationGetRelationName(rel)),
				 errdetail("Its versions are 1 to " INT64_FORMAT ".", latest),
				 from > latest ?
				 errhint("A reader that has read version " INT64_FORMAT " has nothing new to read until version " INT64_FORMAT " commits.",
						 latest, latest + 1) :
				 errhint("Versions are numbered from 1.")));
	if (to < 1 || to > latest)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version " INT64_FORMAT " of table \"%s\" does not exist",
						to, RelationGetRelationName(rel)),
				 errdetail("Its versions are 1 to " INT64_FORMAT ".", latest),
				 errhint("Pass to_version => NULL to read up to the newest version.")));
	if (from > to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_version " INT64_FORMAT " is after to_version " INT64_FORMAT,
						from, to),
				 errhint("The range from_version .. to_version includes both ends; from_version must not exceed to_version.")));

	/*
	 * Retention: streamext.vacuum removes the segments and deletion vectors
	 * of versions older than the oldest readable one R, and with them the
	 * changes of versions <= R (those of R need the segments R removed).
	 */
	columnar_check_readable(rel, columnar_storage_id(rel, false), from, true);
}

/* committed_at and operation of versions from .. to, checking they are all there */
static void
load_versions(ChangesState *cs, int64 from, int64 to, TimestampTz *at, char **op)
{
	Relation	vrel = table_open(ColumnarVersionRelationId(), AccessShareLock);
	Relation	idx = index_open(ColumnarVersionPkeyIndexId(), AccessShareLock);
	ScanKeyData key[3];
	SysScanDesc scan;
	HeapTuple	tup;
	int64		expect = from;

	ScanKeyInit(&key[0], Anum_columnar_version_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(cs->storage_id));
	ScanKeyInit(&key[1], Anum_columnar_version_version, BTGreaterEqualStrategyNumber, F_INT8GE,
				Int64GetDatum(from));
	ScanKeyInit(&key[2], Anum_columnar_version_version, BTLessEqualStrategyNumber, F_INT8LE,
				Int64GetDatum(to));
	scan = systable_beginscan_ordered(vrel, idx, cs->snapshot, 3, key);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		bool		isnull;
		int64		v = DatumGetInt64(heap_getattr(tup, Anum_columnar_version_version,
													 RelationGetDescr(vrel), &isnull));

		if (v != expect)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("versioned_columnar table \"%s\" is inconsistent: version " INT64_FORMAT " is missing",
							RelationGetRelationName(cs->rel), expect)));
		at[v - from] = DatumGetTimestampTz(heap_getattr(tup, Anum_columnar_version_committed_at,
														RelationGetDescr(vrel), &isnull));
		op[v - from] = TextDatumGetCString(heap_getattr(tup, Anum_columnar_version_operation,
														RelationGetDescr(vrel), &isnull));
		expect++;
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	table_close(vrel, AccessShareLock);
	if (expect != to + 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("versioned_columnar table \"%s\" is inconsistent: version " INT64_FORMAT " is missing",
						RelationGetRelationName(cs->rel), expect)));
}

/* ---------------------------------------------------------------- */
/* what one version wrote (metadata only)                            */
/* ---------------------------------------------------------------- */

static int
cmp_segno(const void *a, const void *b)
{
	int64		x = ((const ColumnarSegment *) a)->segno;
	int64		y = ((const ColumnarSegment *) b)->segno;

	return (x > y) - (x < y);
}

/*
 * Segments whose column attnum (Anum_columnar_segment_added_version or
 * _removed_version, with the index on it) is version, by segno.
 */
static ColumnarSegment *
segments_of_version(ChangesState *cs, Oid index, AttrNumber attnum, int64 version,
					int *nsegs)
{
	Relation	rel = table_open(ColumnarSegmentRelationId(), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int			cap = 16;
	int			n = 0;
	ColumnarSegment *segs = palloc(sizeof(ColumnarSegment) * cap);

	ScanKeyInit(&key[0], Anum_columnar_segment_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(cs->storage_id));
	ScanKeyInit(&key[1], attnum, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(version));
	scan = systable_beginscan(rel, index, true, cs->snapshot, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		d;
		ColumnarSegment *seg;

		CHECK_FOR_INTERRUPTS();
		if (n == cap)
		{
			cap *= 2;
			segs = repalloc_huge(segs, sizeof(ColumnarSegment) * cap);
		}
		seg = &segs[n++];
		seg->segno = DatumGetInt64(heap_getattr(tup, Anum_columnar_segment_segno, desc, &isnull));
		seg->row_count = DatumGetInt32(heap_getattr(tup, Anum_columnar_segment_row_count,
													desc, &isnull));
		seg->added_version = DatumGetInt64(heap_getattr(tup, Anum_columnar_segment_added_version,
														desc, &isnull));
		d = heap_getattr(tup, Anum_columnar_segment_removed_version, desc, &isnull);
		seg->removed_version = isnull ? 0 : DatumGetInt64(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	qsort(segs, n, sizeof(ColumnarSegment), cmp_segno);
	*nsegs = n;
	return segs;
}

static int
cmp_delrec(const void *a, const void *b)
{
	int64		x = ((const DelRec *) a)->segno;
	int64		y = ((const DelRec *) b)->segno;

	return (x > y) - (x < y);
}

/* The deletion vectors one version wrote, by segno. */
static DelRec *
deletions_of_version(ChangesState *cs, int64 version, int *nrecs)
{
	Relation	rel = table_open(ColumnarDeletionRelationId(), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int			cap = 16;
	int			n = 0;
	DelRec	   *recs = palloc(sizeof(DelRec) * cap);

	ScanKeyInit(&key[0], Anum_columnar_deletion_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(cs->storage_id));
	ScanKeyInit(&key[1], Anum_columnar_deletion_version, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(version));
	scan = systable_beginscan(rel, ColumnarDeletionVersionIndexId(), true,
							  cs->snapshot, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		bytea	   *b;
		Datum		sd;
		DelRec	   *d;

		CHECK_FOR_INTERRUPTS();
		if (n == cap)
		{
			cap *= 2;
			recs = repalloc_huge(recs, sizeof(DelRec) * cap);
		}
		d = &recs[n++];
		d->segno = DatumGetInt64(heap_getattr(tup, Anum_columnar_deletion_segno, desc, &isnull));
		b = DatumGetByteaPCopy(heap_getattr(tup, Anum_columnar_deletion_deleted, desc, &isnull));
		d->nbytes = VARSIZE_ANY_EXHDR(b);
		d->bits = (uint8 *) VARDATA_ANY(b);
		d->succ_packed = NULL;
		d->nsucc = 0;
		sd = heap_getattr(tup, Anum_columnar_deletion_successors, desc, &isnull);
		if (!isnull)
		{
			bytea	   *s = DatumGetByteaPCopy(sd);

			d->nsucc = VARSIZE_ANY_EXHDR(s) / sizeof(int64);
			d->succ_packed = palloc(sizeof(int64) * Max(d->nsucc, 1));
			memcpy(d->succ_packed, VARDATA_ANY(s), sizeof(int64) * d->nsucc);
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	qsort(recs, n, sizeof(DelRec), cmp_delrec);
	*nrecs = n;
	return recs;
}

static DelRec *
find_delrec(DelRec *recs, int n, int64 segno)
{
	DelRec		key;

	key.segno = segno;
	return bsearch(&key, recs, n, sizeof(DelRec), cmp_delrec);
}

/* A bitmap of nrows rows from a deletion vector (which may be shorter). */
static uint8 *
bits_of(DelRec *d, int32 nrows)
{
	int			nbytes = (nrows + 7) / 8;
	uint8	   *bits = palloc0(nbytes);

	memcpy(bits, d->bits, Min(nbytes, d->nbytes));
	return bits;
}

/* Is row a live row the version added (one of the segments in added)? */
static bool
added_and_live(AddedSeg *added, int nadded, int64 row)
{
	int			lo = 0;
	int			hi = nadded - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		ColumnarSegment *seg = &added[mid].seg;

		if (row < seg->segno)
			hi = mid - 1;
		else if (row >= seg->segno + seg->row_count)
			lo = mid + 1;
		else
		{
			int			r = row - seg->segno;

			return added[mid].own_deleted == NULL || !BIT_SET(added[mid].own_deleted, r);
		}
	}
	return false;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* ---------------------------------------------------------------- */
/* rows                                                              */
/* ---------------------------------------------------------------- */

/* Decode every column of a segment into cs->vals / cs->nulls. */
static void
decode_segment(ChangesState *cs, ColumnarSegment *seg)
{
	int			natts = cs->reldesc->natts;
	int			a;
	MemoryContext old;

	MemoryContextReset(cs->segcxt);
	old = MemoryContextSwitchTo(cs->segcxt);
	for (a = 0; a < natts; a++)
	{
		cs->vals[a] = palloc(sizeof(Datum) * seg->row_count);
		cs->nulls[a] = palloc(sizeof(bool) * seg->row_count);
	}
	columnar_read_chunks(cs->storage_id, seg->segno, seg->row_count, cs->reldesc, NULL,
						 cs->vals, cs->nulls, &cs->scratch);
	MemoryContextSwitchTo(old);
}

/* Row r of the decoded segment as a value of the table's row type (in the current context). */
static Datum
row_datum(ChangesState *cs, int r)
{
	int			natts = cs->reldesc->natts;
	int			a;

	for (a = 0; a < natts; a++)
	{
		cs->rowvals[a] = cs->vals[a][r];
		cs->rownulls[a] = cs->nulls[a][r] || TupleDescAttr(cs->reldesc, a)->attisdropped;
	}
	return HeapTupleGetDatum(heap_form_tuple(cs->reldesc, cs->rowvals, cs->rownulls));
}

typedef enum ChangeType
{
	CHANGE_INSERT,
	CHANGE_DELETE,
	CHANGE_PREIMAGE,
	CHANGE_POSTIMAGE
} ChangeType;

static const char *const change_type_names[4] = {
	"insert", "delete", "update_preimage", "update_postimage"
};

static void
emit(ChangesState *cs, int64 version, ChangeType type, TimestampTz at, Datum row)
{
	Datum		out[4];
	bool		onull[4] = {false, false, false, false};

	out[0] = Int64GetDatum(version);
	out[1] = cs->types[type];
	out[2] = TimestampTzGetDatum(at);
	out[3] = row;
	tuplestore_putvalues(cs->rsinfo->setResult, cs->rsinfo->setDesc, out, onull);
	cs->nchanges++;
}

/* ---------------------------------------------------------------- */
/* one version                                                       */
/* ---------------------------------------------------------------- */

static void
version_changes(ChangesState *cs, int64 version, TimestampTz at)
{
	int			nadded_all;
	ColumnarSegment *added_all;
	int			ntrunc;
	ColumnarSegment *trunc;
	int			ndel;
	DelRec	   *dels;
	AddedSeg   *added;
	int			nadded = 0;
	OldSeg	   *olds;
	int			nold = 0;
	int64	   *succs;
	int			npairs = 0;
	int			i,
				j;
	Tuplesortstate *sort = NULL;
	TupleTableSlot *slot = NULL;	/* what goes into the sort */
	TupleTableSlot *sorted = NULL;	/* what comes out */
	MemoryContext vcxt = AllocSetContextCreate(CurrentMemoryContext, "columnar changes version",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(vcxt);

	/* what the version wrote: segments added, segments truncated, deletion vectors */
	added_all = segments_of_version(cs, ColumnarSegmentAddedIndexId(),
									Anum_columnar_segment_added_version, version, &nadded_all);
	trunc = segments_of_version(cs, ColumnarSegmentRemovedIndexId(),
								Anum_columnar_segment_removed_version, version, &ntrunc);
	dels = deletions_of_version(cs, version, &ndel);

	/* its own segments: the rows still there at its commit */
	added = palloc(sizeof(AddedSeg) * Max(nadded_all, 1));
	for (i = 0; i < nadded_all; i++)
	{
		DelRec	   *d;

		if (added_all[i].removed_version == version)
			continue;			/* inserted and truncated by the same transaction */
		added[nadded].seg = added_all[i];
		d = find_delrec(dels, ndel, added_all[i].segno);
		added[nadded].own_deleted = d ? bits_of(d, added_all[i].row_count) : NULL;
		nadded++;
	}

	/*
	 * Older segments it removed rows of: its deletion vectors on them, and
	 * the live rows (as of the version before) of segments it truncated.
	 * Both lists are in segno order; a segment may be in both.
	 */
	olds = palloc(sizeof(OldSeg) * Max(ndel + ntrunc, 1));
	i = j = 0;
	while (i < ndel || j < ntrunc)
	{
		DelRec	   *d = NULL;
		ColumnarSegment *t = NULL;
		OldSeg	   *o;

		CHECK_FOR_INTERRUPTS();
		if (i < ndel && (j >= ntrunc || dels[i].segno <= trunc[j].segno))
			d = &dels[i++];
		if (j < ntrunc && (d == NULL ? true : trunc[j].segno == d->segno))
			t = &trunc[j++];
		if (t != NULL && t->added_version == version)
			continue;			/* one of its own segments: never visible to anyone */
		o = &olds[nold];
		o->succ = NULL;
		if (t != NULL)
		{
			int			nd;
			uint8	   *before = columnar_deleted_bitmap(cs->storage_id, t->segno, t->row_count,
														 cs->snapshot, version - 1, &nd);
			int			r;

			o->seg = *t;
			o->removed = palloc0((t->row_count + 7) / 8);
			for (r = 0; r < t->row_count; r++)
				if (before == NULL || !BIT_SET(before, r))
					o->removed[r / 8] |= (1 << (r % 8));
		}
		else
		{
			ColumnarSegment key;

			/* a deletion vector: of one of its own segments (see added[]), or of an older one */
			key.segno = d->segno;
			if (bsearch(&key, added_all, nadded_all, sizeof(ColumnarSegment), cmp_segno) != NULL)
				continue;
			if (!columnar_find_segment(cs->storage_id, d->segno, cs->snapshot, &o->seg) ||
				o->seg.segno != d->segno)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("versioned_columnar table \"%s\" is inconsistent: a deletion vector of version " INT64_FORMAT " refers to missing segment " INT64_FORMAT,
								RelationGetRelationName(cs->rel), version, d->segno)));
			if (o->seg.added_version == version)
				continue;		/* own segment: its deletions are in added[] */
			o->removed = bits_of(d, o->seg.row_count);
		}
		if (d != NULL && d->succ_packed != NULL)
		{
			int			r;
			int			k = 0;

			/* successors are stored in the order of the deletion vector's bits */
			o->succ = palloc(sizeof(int64) * o->seg.row_count);
			for (r = 0; r < o->seg.row_count; r++)
			{
				o->succ[r] = -1;
				if (r / 8 < d->nbytes && BIT_SET(d->bits, r))
				{
					if (k < d->nsucc)
						o->succ[r] = d->succ_packed[k];
					k++;
				}
			}
		}
		nold++;
	}

	/*
	 * Update pairs: a removed row whose successor the version left live.  (A
	 * successor deleted again by the same transaction, or not one of its
	 * rows, makes the old row a plain delete.)  A successor claimed twice
	 * would be corrupt metadata: phase 2 reports it.
	 */
	for (i = 0; i < nold; i++)
	{
		int			r;

		if (olds[i].succ == NULL)
			continue;
		for (r = 0; r < olds[i].seg.row_count; r++)
			if (olds[i].succ[r] >= 0 && BIT_SET(olds[i].removed, r))
			{
				if (added_and_live(added, nadded, olds[i].succ[r]))
					npairs++;
				else
					olds[i].succ[r] = -1;
			}
			else
				olds[i].succ[r] = -1;
	}
	succs = palloc(sizeof(int64) * Max(npairs, 1));
	npairs = 0;
	for (i = 0; i < nold; i++)
	{
		int			r;

		if (olds[i].succ == NULL)
			continue;
		for (r = 0; r < olds[i].seg.row_count; r++)
			if (olds[i].succ[r] >= 0)
				succs[npairs++] = olds[i].succ[r];
	}
	qsort(succs, npairs, sizeof(int64), cmp_int64);
	for (i = 1, j = (npairs > 0); i < npairs; i++)
		if (succs[i] != succs[j - 1])
			succs[j++] = succs[i];
	npairs = j;

	if (npairs > 0)
	{
		AttrNumber	keycol = 1;
		Oid			sortop = Int8LessOperator;
		Oid			coll = InvalidOid;
		bool		nullsfirst = false;

		sort = tuplesort_begin_heap(cs->sortdesc, 1, &keycol, &sortop, &coll, &nullsfirst,
									work_mem, NULL, TUPLESORT_NONE);
		slot = MakeSingleTupleTableSlot(cs->sortdesc, &TTSOpsVirtual);
		sorted = MakeSingleTupleTableSlot(cs->sortdesc, &TTSOpsMinimalTuple);
	}

	/* 1. removed rows: deletes now, update preimages sorted by their new row */
	for (i = 0; i < nold; i++)
	{
		OldSeg	   *o = &olds[i];
		int			r;

		decode_segment(cs, &o->seg);
		for (r = 0; r < o->seg.row_count; r++)
		{
			MemoryContext rold;

			if (!BIT_SET(o->removed, r))
				continue;
			if ((r & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			rold = MemoryContextSwitchTo(cs->rowcxt);
			if (o->succ != NULL && o->succ[r] >= 0 &&
				bsearch(&o->succ[r], succs, npairs, sizeof(int64), cmp_int64) != NULL)
			{
				ExecClearTuple(slot);
				slot->tts_values[0] = Int64GetDatum(o->succ[r]);
				slot->tts_isnull[0] = false;
				slot->tts_values[1] = row_datum(cs, r);
				slot->tts_isnull[1] = false;
				ExecStoreVirtualTuple(slot);
				tuplesort_puttupleslot(sort, slot);
			}
			else
				emit(cs, version, CHANGE_DELETE, at, row_datum(cs, r));
			MemoryContextSwitchTo(rold);
			MemoryContextReset(cs->rowcxt);
		}
	}

	/* 2. added rows in row order; an update's postimage right after its preimage */
	if (sort)
		tuplesort_performsort(sort);
	j = 0;
	for (i = 0; i < nadded; i++)
	{
		AddedSeg   *a = &added[i];
		int			r;

		decode_segment(cs, &a->seg);
		for (r = 0; r < a->seg.row_count; r++)
		{
			int64		row = a->seg.segno + r;
			MemoryContext rold;

			if (a->own_deleted != NULL && BIT_SET(a->own_deleted, r))
				continue;
			if ((r & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			rold = MemoryContextSwitchTo(cs->rowcxt);
			while (j < npairs && succs[j] < row)
				j++;
			if (j < npairs && succs[j] == row)
			{
				bool		isnull;

				if (!tuplesort_gettupleslot(sort, true, false, sorted, NULL) ||
					DatumGetInt64(slot_getattr(sorted, 1, &isnull)) != row)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("versioned_columnar table \"%s\" is inconsistent: version " INT64_FORMAT " updated two rows into row " INT64_FORMAT,
									RelationGetRelationName(cs->rel), version, row)));
				emit(cs, version, CHANGE_PREIMAGE, at, slot_getattr(sorted, 2, &isnull));
				emit(cs, version, CHANGE_POSTIMAGE, at, row_datum(cs, r));
			}
			else
				emit(cs, version, CHANGE_INSERT, at, row_datum(cs, r));
			MemoryContextSwitchTo(rold);
			MemoryContextReset(cs->rowcxt);
		}
	}
	if (sort)
	{
		ExecDropSingleTupleTableSlot(slot);
		ExecDropSingleTupleTableSlot(sorted);
		tuplesort_end(sort);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(vcxt);
}

PG_FUNCTION_INFO_V1(columnar_changes);

/*
 * streamext.changes(NULL::tbl, from_version, to_version DEFAULT NULL):
 * every row change of versions from_version .. to_version (both included;
 * NULL: the newest version the caller's snapshot sees), by version.
 */
Datum
columnar_changes(PG_FUNCTION_ARGS)
{
	ChangesState cs;
	int64		latest;
	int64		from;
	int64		to;
	int64		v;
	TimestampTz *at;
	char	  **op;
	int			natts;

	memset(&cs, 0, sizeof(cs));
	cs.rel = open_changes_table(fcinfo);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("from_version must not be NULL"),
				 errhint("Pass the first version to read, e.g. 1 for the whole history.")));
	cs.reldesc = RelationGetDescr(cs.rel);
	cs.storage_id = columnar_storage_id(cs.rel, false);
	cs.snapshot = GetActiveSnapshot();
	latest = columnar_latest_version(cs.storage_id, cs.snapshot);
	from = PG_GETARG_INT64(1);
	to = PG_ARGISNULL(2) ? latest : PG_GETARG_INT64(2);
	check_range(cs.rel, latest, from, to);

	InitMaterializedSRF(fcinfo, 0);
	cs.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	natts = cs.reldesc->natts;
	cs.rowcxt = AllocSetContextCreate(CurrentMemoryContext, "columnar changes row",
									  ALLOCSET_DEFAULT_SIZES);
	cs.segcxt = AllocSetContextCreate(CurrentMemoryContext, "columnar changes segment",
									  ALLOCSET_DEFAULT_SIZES);
	/* decode buffers, reused from segment to segment (so not in segcxt) */
	cs.scratch.cxt = AllocSetContextCreate(CurrentMemoryContext, "columnar changes decode",
										   ALLOCSET_DEFAULT_SIZES);
	cs.scratch.buf = palloc0(sizeof(char *) * natts);
	cs.scratch.cap = palloc0(sizeof(Size) * natts);
	cs.vals = palloc0(sizeof(Datum *) * natts);
	cs.rowvals = palloc(sizeof(Datum) * natts);
	cs.rownulls = palloc(sizeof(bool) * natts);
	for (v = 0; v < 4; v++)
		cs.types[v] = CStringGetTextDatum(change_type_names[v]);
	cs.nulls = palloc0(sizeof(bool *) * natts);
	cs.sortdesc = CreateTemplateTupleDesc(2);
	TupleDescInitEntry(cs.sortdesc, 1, "successor", INT8OID, -1, 0);
	TupleDescInitEntry(cs.sortdesc, 2, "preimage", cs.reldesc->tdtypeid, -1, 0);

	at = palloc(sizeof(TimestampTz) * (to - from + 1));
	op = palloc(sizeof(char *) * (to - from + 1));
	load_versions(&cs, from, to, at, op);
	for (v = from; v <= to; v++)
	{
		CHECK_FOR_INTERRUPTS();

		/*
		 * OPTIMIZE (DESIGN.md, not built yet) rewrites segments without
		 * changing any row: like Delta's dataChange = false commits, its
		 * version has no changes.
		 */
		if (strcmp(op[v - from], "OPTIMIZE") == 0)
			continue;
		version_changes(&cs, v, at[v - from]);
	}
	table_close(cs.rel, AccessShareLock);
	return (Datum) 0;
}
