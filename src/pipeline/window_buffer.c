/*
 * window_buffer.c
 *		Filling the window state of an append tumble or hop window from the
 *		row ids that batch.c's single statement collected (window.c,
 *		pipeline_window_scan_sql), by a bulk insert rather than by an INSERT
 *		in that statement.
 *
 * Why: the rows of the windows still open are buffered once each, and in
 * a catch-up batch they are many (the last hour of a million readings:
 * 55,000 rows).  An INSERT ... SELECT inserts and WAL-logs them one at a
 * time, about 7,400 instructions a row with the TID scan, 8 % of the whole
 * batch; table_multi_insert fills a page at a time with one WAL record per
 * page, as COPY does.
 *
 * The rows are fetched with the snapshot the statement ran with, so they
 * are the rows it read (that snapshot holds back VACUUM from them), and
 * only those at or above the eviction bound that the statement computed
 * are kept, as the INSERT's condition did; whether a row is late or
 * dropped by an expectation was already part of collecting its id.  The
 * path is taken only where it does exactly what the INSERT would:
 * window_buffer_insertable says when.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "pipeline/emit.h"
#include "pipeline/pipeline_internal.h"

/* rows per table_multi_insert call (COPY uses up to 1,000) */
#define WINDOW_BUFFER_BATCH 1000

/*
 * For each attribute of the state table (dst), the attribute of the source
 * (src) it is filled from, -1 for _streamext_et, -2 for a dropped column.
 * NULL when some column would not be filled exactly as the INSERT fills it:
 * a type that differs (the INSERT would cast), a column of the state table
 * that the source does not have (the INSERT would give it its default).
 */
static int *
column_map(Relation src, Relation dst, List *batch_cols)
{
	TupleDesc	sd = RelationGetDescr(src);
	TupleDesc	dd = RelationGetDescr(dst);
	int		   *map = palloc(sizeof(int) * dd->natts);

	for (int i = 0; i < dd->natts; i++)
	{
		Form_pg_attribute da = TupleDescAttr(dd, i);
		const char *name = NameStr(da->attname);
		bool		found = false;
		ListCell   *lc;

		if (da->attisdropped)
		{
			map[i] = -2;
			continue;
		}
		if (strcmp(name, PIPELINE_ET_COLUMN) == 0)
		{
			if (da->atttypid != TIMESTAMPTZOID)
				return NULL;
			map[i] = -1;
			continue;
		}
		foreach(lc, batch_cols)
		{
			EmitColumn *c = lfirst(lc);

			if (strcmp(c->name, name) == 0)
			{
				found = true;
				break;
			}
		}
		if (!found)
			return NULL;
		found = false;
		for (int j = 0; j < sd->natts && !found; j++)
		{
			Form_pg_attribute sa = TupleDescAttr(sd, j);

			if (sa->attisdropped || strcmp(NameStr(sa->attname), name) != 0)
				continue;
			if (sa->atttypid != da->atttypid || sa->atttypmod != da->atttypmod)
				return NULL;
			map[i] = j;
			found = true;
		}
		if (!found)
			return NULL;
	}
	return map;
}

/*
 * Whether window_buffer_insert may fill the state table: a plain heap table
 * with nothing an INSERT would also do (indexes, triggers, rules,
 * constraints, a partition's bound, defaults, row-level security) and the
 * INSERT privilege, every column filled as the INSERT fills it,
 * and an event-time column of type timestamptz (whose value is then the
 * event time itself, without a cast).
 */
bool
window_buffer_insertable(PipelineDef *def, List *batch_cols)
{
	Oid			state = window_state_relid(def);
	Relation	src;
	Relation	dst;
	bool		ok;
	AttrNumber	et = def->event_time ? get_attnum(def->source, def->event_time) : InvalidAttrNumber;

	if (!OidIsValid(state) || et == InvalidAttrNumber ||
		get_atttype(def->source, et) != TIMESTAMPTZOID)
		return false;
	src = table_open(def->source, AccessShareLock);
	dst = table_open(state, RowExclusiveLock);
	ok = dst->rd_rel->relkind == RELKIND_RELATION &&
		dst->rd_rel->relam == HEAP_TABLE_AM_OID &&
		!dst->rd_rel->relispartition &&
		!dst->rd_rel->relrowsecurity &&
		dst->trigdesc == NULL &&
		dst->rd_rules == NULL &&
		RelationGetDescr(dst)->constr == NULL &&
		RelationGetIndexList(dst) == NIL &&
		pg_class_aclcheck(state, GetUserId(), ACL_INSERT) == ACLCHECK_OK &&
		column_map(src, dst, batch_cols) != NULL;
	table_close(dst, NoLock);
	table_close(src, NoLock);
	return ok;
}

static void
flush(Relation dst, TupleTableSlot **slots, int n, CommandId cid, BulkInsertState bis,
	  MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	table_multi_insert(dst, slots, n, cid, 0, bis);
	MemoryContextSwitchTo(old);
	for (int i = 0; i < n; i++)
		ExecClearTuple(slots[i]);
	MemoryContextReset(cxt);
}

/*
 * Buffer the source rows at tids (a tid[]; the rows the statement run with
 * snap read) whose event time is finite and at or above bound (any, when
 * !has_bound).  Returns the rows buffered.
 */
int64
window_buffer_insert(PipelineBatch *b, Datum tids, bool has_bound, TimestampTz bound,
					 Snapshot snap)
{
	PipelineDef *def = b->def;
	List	   *batch_cols = emit_batch_columns(def->source);
	Oid			state = window_state_relid(def);
	ArrayType  *arr = DatumGetArrayTypeP(tids);
	Datum	   *elems;
	bool	   *elnulls;
	int			n;
	Relation	src = table_open(def->source, AccessShareLock);
	Relation	dst = table_open(state, RowExclusiveLock);
	int		   *map = column_map(src, dst, batch_cols);
	AttrNumber	et = get_attnum(def->source, def->event_time);
	TupleDesc	dd = RelationGetDescr(dst);
	TupleTableSlot *sslot = table_slot_create(src, NULL);
	TupleTableSlot **slots = palloc(sizeof(TupleTableSlot *) * WINDOW_BUFFER_BATCH);
	BulkInsertState bis = GetBulkInsertState();
	CommandId	cid = GetCurrentCommandId(true);
	/* what table_multi_insert allocates per call (the heap tuples), freed after it */
	MemoryContext flushcxt = AllocSetContextCreate(CurrentMemoryContext, "window buffer insert",
												   ALLOCSET_DEFAULT_SIZES);
	int			nslots = 0;
	int			used = 0;
	int64		buffered = 0;

	if (map == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("window state of pipeline \"%s\" changed while its batch ran",
								 def->name)));
	deconstruct_array(arr, TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT,
					  &elems, &elnulls, &n);
	for (int i = 0; i < n; i++)
	{
		ItemPointer tid = (ItemPointer) DatumGetPointer(elems[i]);
		TupleTableSlot *d;
		bool		isnull;
		TimestampTz ts;

		CHECK_FOR_INTERRUPTS();
		if (elnulls[i])
			continue;
		if (!table_tuple_fetch_row_version(src, tid, snap, sslot))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("pipeline \"%s\": row (%u,%u) that its batch read is gone",
									 def->name, ItemPointerGetBlockNumber(tid),
									 ItemPointerGetOffsetNumber(tid))));
		ts = DatumGetTimestampTz(slot_getattr(sslot, et, &isnull));
		if (isnull || TIMESTAMP_NOT_FINITE(ts) || (has_bound && ts < bound))
			continue;
		slot_getallattrs(sslot);

		if (used == nslots)
			slots[nslots++] = MakeSingleTupleTableSlot(dd, &TTSOpsVirtual);
		d = slots[used++];
		ExecClearTuple(d);
		for (int a = 0; a < dd->natts; a++)
		{
			if (map[a] == -1)
			{
				d->tts_values[a] = TimestampTzGetDatum(ts);
				d->tts_isnull[a] = false;
			}
			else if (map[a] == -2)
			{
				d->tts_values[a] = (Datum) 0;
				d->tts_isnull[a] = true;
			}
			else
			{
				d->tts_values[a] = sslot->tts_values[map[a]];
				d->tts_isnull[a] = sslot->tts_isnull[map[a]];
			}
		}
		ExecStoreVirtualTuple(d);
		/* its own copy: the source slot's values go with the next fetch */
		ExecMaterializeSlot(d);
		buffered++;
		if (used == WINDOW_BUFFER_BATCH)
		{
			flush(dst, slots, used, cid, bis, flushcxt);
			used = 0;
		}
	}
	if (used > 0)
		flush(dst, slots, used, cid, bis, flushcxt);
	MemoryContextDelete(flushcxt);
	FreeBulkInsertState(bis);
	table_finish_bulk_insert(dst, 0);
	for (int i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	ExecDropSingleTupleTableSlot(sslot);
	table_close(dst, NoLock);
	table_close(src, NoLock);
	ereport(DEBUG1,
			(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
			 errmsg_internal("pipeline \"%s\": batch " INT64_FORMAT " buffered " INT64_FORMAT
							 " rows of open windows in bulk", def->name, b->batch, buffered)));
	return buffered;
}
