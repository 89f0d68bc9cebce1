/*
 * columnar_optimize.c
 *		streamext.optimize(tbl, zorder_by, full): rewrite the small and the
 *		much-deleted segments of a versioned_columnar table into full ones
 *		(bin packing), or cluster rows on a Z-order curve (columnar_zorder.c),
 *		as one version whose operation is OPTIMIZE and which changes no row.
 *
 * Concurrency.  The rewrite runs under ShareUpdateExclusiveLock (conflicts
 * with itself, VACUUM, DDL; not with readers or writers) and without the
 * table's writer lock: it reads its input segments as of the latest
 * committed version R and writes new chunk rows, invisible to everyone until
 * commit.  Only then does it take the writer lock (waiting for the current
 * writer's commit; writers then wait for ours, which is short: metadata
 * rows only), learn its version V and look at the input segments again:
 *   - rows deleted between R and V (a concurrent DELETE, UPDATE, TRUNCATE)
 *     are deleted from their new copies too, by V (redone, never lost);
 *   - every other input row gets its new row number as its successor in a
 *     deletion vector of V on the old segment, which V marks removed: a
 *     writer whose snapshot predates V follows the row to its copy
 *     (columnar_lock.c), as it follows an UPDATE.
 * As of any version before V the old segments are read, as of V and later
 * the new ones, with the same rows: every as_of answer stays the same, and
 * changes() reports nothing for an OPTIMIZE version.  The new rows get new
 * row numbers (TIDs), so each index gets entries for them (without a
 * uniqueness check: the rows are the ones already there).
 *
 * Choice of segments (documented in docs/gold-tables.md): without zorder_by
 * a live segment is rewritten if it holds fewer than half
 * streamext.columnar_segment_rows live rows (small) or a tenth or more of
 * its rows are deleted (dirty); nothing is done, and no version written, if
 * that would neither purge deleted rows nor reduce the number of segments.
 * With zorder_by every segment not written by an OPTIMIZE with the same
 * zorder_by (history parameters) is rewritten, and dirty ones too.  full
 * rewrites every live segment.
 */
#include "postgres.h"

#include "columnar/columnar_metadata.h"
#include "columnar/columnar_optimize.h"
#include "columnar/columnar_progress.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/pg_type_d.h"
#include "access/multixact.h"
#include "commands/vacuum.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#define BIT_SET(bits, r) ((bits) != NULL && ((bits)[(r) / 8] & (1 << ((r) % 8))))

/* ---------------------------------------------------------------- */
/* input                                                             */
/* ---------------------------------------------------------------- */

void
columnar_optimize_read_input(Relation rel, int64 storage_id, OptInput *in, Bitmapset *attrs,
			     Datum **vals, bool **nulls)
{
	TupleDesc tupdesc = RelationGetDescr(rel);
	int a;

	for (a = 0; a < tupdesc->natts; a++)
	{
		bool want = !TupleDescAttr(tupdesc, a)->attisdropped &&
		            (attrs == NULL || bms_is_member(a + 1, attrs));

		vals[a] = want ? palloc(sizeof(Datum) * in->seg.row_count) : NULL;
		nulls[a] = want ? palloc(sizeof(bool) * in->seg.row_count) : NULL;
	}
	/* decoded values live in CurrentMemoryContext: no shared scratch */
	columnar_read_chunks(storage_id, in->seg.segno, in->seg.row_count, tupdesc, attrs, vals, nulls,
	                     NULL);
}

/* Bin packing: the input rows in their order, into full segments. */
static void
binpack_rewrite(Relation rel, int64 storage_id, OptInput *inputs, int ninputs, OptWriter *w)
{
	TupleDesc tupdesc = RelationGetDescr(rel);
	MemoryContext incxt =
	    AllocSetContextCreate(CurrentMemoryContext, "optimize input", ALLOCSET_DEFAULT_SIZES);
	Datum *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool *isnull = palloc(sizeof(bool) * tupdesc->natts);
	Datum **vals = palloc(sizeof(Datum *) * tupdesc->natts);
	bool **nulls = palloc(sizeof(bool *) * tupdesc->natts);
	int i;

	for (i = 0; i < ninputs; i++)
	{
		OptInput *in = &inputs[i];
		MemoryContext old;
		int r;
		int a;

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
					values[a] = vals[a] ? vals[a][r] : (Datum)0;
					isnull[a] = vals[a] ? nulls[a][r] : true;
				}
				columnar_optimize_write_row(w, values, isnull);
			}
			MemoryContextReset(incxt);
		}
		columnar_optimize_inputs_done(w, i + 1);
	}
	MemoryContextDelete(incxt);
}

/* ---------------------------------------------------------------- */
/* choice of segments                                                */
/* ---------------------------------------------------------------- */

/* Live segments, rows and stored bytes (chunk data and statistics) as snapshot sees them. */
static void
live_stats(int64 storage_id, Snapshot snapshot, int64 *nsegs, int64 *rows, int64 *bytes)
{
	List *segs = columnar_segments(storage_id, snapshot);
	Relation chunkrel = table_open(ColumnarChunkRelationId(), AccessShareLock);
	ListCell *lc;

	*nsegs = *rows = *bytes = 0;
	foreach (lc, segs)
	{
		ColumnarSegment *seg = lfirst(lc);
		ScanKeyData key[2];
		SysScanDesc scan;
		HeapTuple tup;
		uint8 *bits;
		int nd;

		CHECK_FOR_INTERRUPTS();
		if (seg->removed_version != 0)
			continue;
		bits = columnar_deleted_bitmap(storage_id, seg->segno, seg->row_count, snapshot, 0, &nd);
		if (bits)
			pfree(bits);
		(*nsegs)++;
		*rows += seg->row_count - nd;
		ScanKeyInit(&key[0], Anum_columnar_chunk_storage_id, BTEqualStrategyNumber, F_INT8EQ,
		            Int64GetDatum(storage_id));
		ScanKeyInit(&key[1], Anum_columnar_chunk_segno, BTEqualStrategyNumber, F_INT8EQ,
		            Int64GetDatum(seg->segno));
		scan = systable_beginscan(chunkrel, ColumnarChunkPkeyIndexId(), true,
		                          snapshot, 2, key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			int col;

			for (col = Anum_columnar_chunk_min_value; col <= Anum_columnar_chunk_data; col++)
			{
				bool isnull;
				Datum d = heap_getattr(tup, col, RelationGetDescr(chunkrel), &isnull);

				if (!isnull)
					*bytes += toast_datum_size(d);
			}
		}
		systable_endscan(scan);
	}
	table_close(chunkrel, AccessShareLock);
}

/* zorder_by names as a jsonb array text ("[]" for none) */
static char *
zorder_json(Relation rel, const ZorderColumns *z)
{
	StringInfoData buf;
	int i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (i = 0; z && i < z->ncols; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf,
		            NameStr(TupleDescAttr(RelationGetDescr(rel), z->attnums[i] - 1)->attname));
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * The versions that wrote segments clustered on these columns: OPTIMIZE
 * versions whose parameters' zorder_by is the same array.  Sorted.
 */
static int64 *
clustered_versions(int64 storage_id, Snapshot snapshot, const char *zjson, int *n)
{
	Relation rel = table_open(ColumnarVersionRelationId(), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple tup;
	Jsonb *want = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(zjson)));
	int cap = 16;
	int64 *result = palloc(sizeof(int64) * cap);
	JsonbValue k;

	*n = 0;
	k.type = jbvString;
	k.val.string.val = "zorder_by";
	k.val.string.len = strlen("zorder_by");
	ScanKeyInit(&key, Anum_columnar_version_storage_id, BTEqualStrategyNumber, F_INT8EQ,
	            Int64GetDatum(storage_id));
	scan = systable_beginscan(rel, ColumnarVersionPkeyIndexId(), true, snapshot, 1,
	                          &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool isnull;
		char *op = TextDatumGetCString(heap_getattr(tup, Anum_columnar_version_operation, RelationGetDescr(rel),
		                                            &isnull));
		Jsonb *params;
		JsonbValue *v;

		if (strcmp(op, "OPTIMIZE") != 0)
			continue;
		params = DatumGetJsonbP(heap_getattr(tup, Anum_columnar_version_parameters, RelationGetDescr(rel),
		                                        &isnull));
		v = findJsonbValueFromContainer(&params->root, JB_FOBJECT, &k);
		if (v == NULL || v->type != jbvBinary ||
		    compareJsonbContainers(&JsonbValueToJsonb(v)->root, &want->root) != 0)
			continue;
		if (*n == cap)
			result = repalloc(result, sizeof(int64) * (cap *= 2));
		result[(*n)++] = DatumGetInt64(heap_getattr(tup, Anum_columnar_version_version,
		                                                     RelationGetDescr(rel), &isnull));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

static bool
in_sorted(const int64 *a, int n, int64 x)
{
	int lo = 0;
	int hi = n - 1;

	while (lo <= hi)
	{
		int mid = (lo + hi) / 2;

		if (a[mid] == x)
			return true;
		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64 x = *(const int64 *)a;
	int64 y = *(const int64 *)b;

	return (x > y) - (x < y);
}

/* The live segments to rewrite, as of version R seen by snapshot; *total_live their live rows. */
static OptInput *
choose_inputs(int64 storage_id, Snapshot snapshot, int64 R, const ZorderColumns *z,
	      const char *zjson, bool full, int *ninputs, int64 *total_live)
{
	List *segs = columnar_segments(storage_id, snapshot);
	OptInput *inputs = palloc(sizeof(OptInput) * Max(list_length(segs), 1));
	int64 *clustered = NULL;
	int nclustered = 0;
	bool dirty_any = false;
	ListCell *lc;
	int n = 0;

	if (z != NULL && !full)
	{
		clustered = clustered_versions(storage_id, snapshot, zjson, &nclustered);
		qsort(clustered, nclustered, sizeof(int64), cmp_int64);
	}
	*total_live = 0;
	foreach (lc, segs)
	{
		ColumnarSegment *seg = lfirst(lc);
		int nd;
		uint8 *bits;
		int live;
		bool dirty;
		bool take;

		CHECK_FOR_INTERRUPTS();
		if (seg->removed_version != 0)
			continue;
		bits = columnar_deleted_bitmap(storage_id, seg->segno, seg->row_count, snapshot, R, &nd);
		live = seg->row_count - nd;
		dirty = nd > 0 && nd * 10 >= seg->row_count;
		if (full)
			take = true;
		else if (z != NULL)
			take = dirty || !in_sorted(clustered, nclustered, seg->added_version);
		else
			take = dirty || live * 2 < columnar_segment_rows;
		if (!take)
		{
			if (bits)
				pfree(bits);
			continue;
		}
		dirty_any |= dirty;
		inputs[n].seg = *seg;
		inputs[n].deleted = bits;
		inputs[n].ndeleted = nd;
		inputs[n].inpos = *total_live;
		*total_live += live;
		n++;
	}

	/* bin packing that neither purges deletions nor saves a segment is no progress */
	if (z == NULL && !full && !dirty_any &&
	    n <= (*total_live + columnar_segment_rows - 1) / columnar_segment_rows)
		n = 0;
	*ninputs = n;
	return inputs;
}

/* ---------------------------------------------------------------- */
/* commit                                                            */
/* ---------------------------------------------------------------- */

static void
mark_removed(Relation segrel, int64 storage_id, int64 segno, int64 version)
{
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple tup;

	ScanKeyInit(&key[0], Anum_columnar_segment_storage_id, BTEqualStrategyNumber, F_INT8EQ,
	            Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], Anum_columnar_segment_segno, BTEqualStrategyNumber, F_INT8EQ,
	            Int64GetDatum(segno));
	scan = systable_beginscan(segrel, ColumnarSegmentPkeyIndexId(), true,
	                          SnapshotSelf, 2, key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Datum values[Natts_columnar_segment];
		bool nulls[Natts_columnar_segment];
		bool repl[Natts_columnar_segment] = {false};
		HeapTuple newtup;

		heap_deform_tuple(tup, RelationGetDescr(segrel), values, nulls);
		values[Anum_columnar_segment_removed_version - 1] = Int64GetDatum(version);
		nulls[Anum_columnar_segment_removed_version - 1] = false;
		repl[Anum_columnar_segment_removed_version - 1] = true;
		newtup = heap_modify_tuple(tup, RelationGetDescr(segrel), values, nulls, repl);
		CatalogTupleUpdate(segrel, &newtup->t_self, newtup);
		heap_freetuple(newtup);
	}
	systable_endscan(scan);
}

/*
 * Under the writer lock, as version V: remove the input segments (their
 * rows' successors being their copies), add the new ones, and delete the
 * copies of rows deleted since R.  Returns the number of such rows.
 */
static int64
commit_rewrite(int64 storage_id, int64 V, OptInput *inputs, int ninputs, OptWriter *w,
	       const int64 *newpos)
{
	Relation segrel = table_open(ColumnarSegmentRelationId(), RowExclusiveLock);
	uint8 **redo = palloc0(sizeof(uint8 *) * Max(w->nsegs, 1));
	int64 nredo = 0;
	int i;

	for (i = 0; i < ninputs; i++)
	{
		OptInput *in = &inputs[i];
		ColumnarSegment cur;
		bool gone;
		uint8 *now = NULL;
		uint8 *bits = palloc0((in->seg.row_count + 7) / 8);
		int64 *succ = palloc(sizeof(int64) * in->seg.row_count);
		int64 rank = 0;
		int nd;
		int nmoved = 0;
		int r;

		CHECK_FOR_INTERRUPTS();
		gone = !columnar_find_segment(storage_id, in->seg.segno, SnapshotSelf, &cur) ||
		       cur.segno != in->seg.segno || cur.removed_version != 0;
		if (!gone)
			now = columnar_deleted_bitmap(storage_id, in->seg.segno, in->seg.row_count,
			                              SnapshotSelf, 0, &nd);
		for (r = 0; r < in->seg.row_count; r++)
		{
			int64 pos;
			int64 newrow;

			if (BIT_SET(in->deleted, r))
				continue;
			pos = in->inpos + rank++;
			newrow = newpos ? newpos[pos] : pos;
			if (gone || BIT_SET(now, r))
			{
				/* deleted since R: its copy goes too */
				int s = newrow / w->segrows;
				int k = newrow % w->segrows;

				if (redo[s] == NULL)
					redo[s] = palloc0((w->counts[s] + 7) / 8);
				redo[s][k / 8] |= (1 << (k % 8));
				nredo++;
				continue;
			}
			bits[r / 8] |= (1 << (r % 8));
			succ[r] = w->base + newrow;
			nmoved++;
		}
		if (!gone)
		{
			if (nmoved > 0)
				columnar_insert_deletion(storage_id, in->seg.segno, V, bits, in->seg.row_count,
				                         succ);
			mark_removed(segrel, storage_id, in->seg.segno, V);
		}
		pfree(bits);
		pfree(succ);
		if (now)
			pfree(now);
	}

	for (i = 0; i < w->nsegs; i++)
	{
		Datum values[Natts_columnar_segment];
		bool nulls[Natts_columnar_segment] = {false};
		HeapTuple tup;

		values[Anum_columnar_segment_storage_id - 1] = Int64GetDatum(storage_id);
		values[Anum_columnar_segment_segno - 1] = Int64GetDatum(w->segnos[i]);
		values[Anum_columnar_segment_first_row - 1] = Int64GetDatum(w->segnos[i]);
		values[Anum_columnar_segment_row_count - 1] = Int32GetDatum(w->counts[i]);
		values[Anum_columnar_segment_added_version - 1] = Int64GetDatum(V);
		values[Anum_columnar_segment_removed_version - 1] = (Datum) 0;
		nulls[Anum_columnar_segment_removed_version - 1] = true;
		tup = heap_form_tuple(RelationGetDescr(segrel), values, nulls);
		CatalogTupleInsert(segrel, tup);
		if (redo[i] != NULL)
			columnar_insert_deletion(storage_id, w->segnos[i], V, redo[i], w->counts[i], NULL);
	}
	table_close(segrel, RowExclusiveLock);
	CommandCounterIncrement();
	return nredo;
}

/* ---------------------------------------------------------------- */
/* streamext.optimize                                                */
/* ---------------------------------------------------------------- */

static Relation
open_for_optimize(Oid relid)
{
	Relation rel;

	/* like VACUUM FULL and CLUSTER: the owner's business */
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
	rel = table_open(relid, ShareUpdateExclusiveLock);
	/* again once locked: an ALTER OWNER may have committed while we waited */
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
	if (!columnar_is_columnar(rel))
		ereport(
		    ERROR,
		    (errcode(ERRCODE_WRONG_OBJECT_TYPE),
		     errmsg("table \"%s\" is not a versioned_columnar table", RelationGetRelationName(rel)),
		     errhint(
		         "OPTIMIZE rewrites the segments of a table created USING versioned_columnar.")));
	if (RELATION_IS_OTHER_TEMP(rel))
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("cannot optimize temporary tables of other sessions")));
	return rel;
}

PG_FUNCTION_INFO_V1(columnar_optimize);

Datum
columnar_optimize(PG_FUNCTION_ARGS)
{
	Oid relid;
	bool full = PG_ARGISNULL(2) ? false : PG_GETARG_BOOL(2);
	TimestampTz start = GetCurrentTimestamp();
	ZorderColumns zcols;
	ZorderColumns *z = NULL;
	Relation rel;
	int64 storage_id;
	Snapshot snapshot;
	int64 R;
	int64 V = 0;
	OptInput *inputs;
	int ninputs;
	int64 total_live;
	int64 segs_before, rows_before, bytes_before;
	int64 segs_after, rows_after, bytes_after;
	int64 nredo = 0;
	int nadded = 0;
	char *zjson;
	StringInfoData out;
	long secs;
	int usecs;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	relid = PG_GETARG_OID(0);
	rel = open_for_optimize(relid);
	if (!PG_ARGISNULL(1))
	{
		columnar_zorder_columns(rel, PG_GETARG_ARRAYTYPE_P(1), &zcols);
		z = &zcols;
	}
	zjson = zorder_json(rel, z);
	storage_id = columnar_storage_id(rel, false);
	if (columnar_write_state_find(storage_id) != NULL)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("cannot optimize table \"%s\": this transaction has written to it",
		                       RelationGetRelationName(rel)),
		                errhint("Run streamext.optimize in a transaction of its own.")));

	columnar_progress_begin(relid, "optimize");
	columnar_progress_phase("scanning segments");
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	R = columnar_latest_version(storage_id, snapshot);
	live_stats(storage_id, snapshot, &segs_before, &rows_before, &bytes_before);
	inputs = choose_inputs(storage_id, snapshot, R, z, zjson, full, &ninputs, &total_live);
	columnar_progress_update(ninputs, 0, 0);
	segs_after = segs_before;
	rows_after = rows_before;
	bytes_after = bytes_before;

	if (ninputs > 0)
	{
		int64 base = total_live > 0 ? columnar_reserve_rows(storage_id, total_live) : 0;
		OptWriter *w = columnar_optimize_writer_begin(rel, storage_id, base, ninputs);
		int64 *newpos = NULL;
		StringInfoData params;

		columnar_progress_phase("writing segments");
		if (z != NULL)
		{
			newpos =
			    MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * Max(total_live, 1));
			columnar_zorder_rewrite(rel, storage_id, z, inputs, ninputs, total_live, w, newpos);
		}
		else
			binpack_rewrite(rel, storage_id, inputs, ninputs, w);
		columnar_optimize_writer_end(w);
		if (w->written != total_live)
			elog(ERROR, "optimize wrote " INT64_FORMAT " rows of " INT64_FORMAT, w->written,
			     total_live);
		nadded = w->nsegs;

		/* the short part: under the writer lock, as the next version */
		columnar_progress_phase("committing");
		initStringInfo(&params);
		appendStringInfo(&params,
		                 "{\"zorder_by\": %s, \"full\": %s, \"segments_removed\": %d, "
		                 "\"segments_added\": %d, \"rows_rewritten\": " INT64_FORMAT "}",
		                 zjson, full ? "true" : "false", ninputs, nadded, total_live);
		V = columnar_set_operation(rel, "OPTIMIZE", params.data);
		nredo = commit_rewrite(storage_id, V, inputs, ninputs, w, newpos);
		live_stats(storage_id, SnapshotSelf, &segs_after, &rows_after, &bytes_after);

		/*
		 * The planner scales the row density ANALYZE saw to the row number
		 * counter, which the new rows just moved on by rows_rewritten: keep
		 * the estimate right (as VACUUM FULL and CLUSTER reset the heap's)
		 * rather than have it grow with every OPTIMIZE.  In place, as
		 * ANALYZE writes it.
		 */
		if (rel->rd_rel->reltuples >= 0)
			vac_update_relstats(rel,
								(BlockNumber) ((columnar_next_row(storage_id) +
												COLUMNAR_ROWS_PER_BLOCK - 1) /
											   COLUMNAR_ROWS_PER_BLOCK),
								(double) rows_after, 0, rel->rd_rel->relhasindex,
								InvalidTransactionId, InvalidMultiXactId, NULL, NULL, true);
		columnar_progress_update(ninputs, ninputs, total_live);
	}
	UnregisterSnapshot(snapshot);
	columnar_progress_end();

	TimestampDifference(start, GetCurrentTimestamp(), &secs, &usecs);
	initStringInfo(&out);
	appendStringInfoString(&out, "{\"version\": ");
	if (V > 0)
		appendStringInfo(&out, INT64_FORMAT, V);
	else
		appendStringInfoString(&out, "null");
	appendStringInfo(&out,
	                 ", \"zorder_by\": %s, \"full\": %s, \"segments_rewritten\": %d, "
	                 "\"segments_added\": %d, \"segments_before\": " INT64_FORMAT
	                 ", \"segments_after\": " INT64_FORMAT ", \"rows_before\": " INT64_FORMAT
	                 ", \"rows_after\": " INT64_FORMAT ", \"bytes_before\": " INT64_FORMAT
	                 ", \"bytes_after\": " INT64_FORMAT
	                 ", \"rows_deleted_meanwhile\": " INT64_FORMAT ", \"seconds\": %.3f}",
	                 zjson, full ? "true" : "false", ninputs, nadded, segs_before, segs_after,
	                 rows_before, rows_after, bytes_before, bytes_after, nredo,
	                 secs + usecs / 1000000.0);
	table_close(rel, NoLock);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
