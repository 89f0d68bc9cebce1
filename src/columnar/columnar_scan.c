/*
 * columnar_scan.c
 *		Execution of the VersionedColumnarScan custom scan (planned by
 *		columnar_scan_plan.c): reads only the columns a query references and
 *		skips segments whose min/max/null-count statistics refute the WHERE
 *		clause, serially or in parallel, of the current rows or of an as_of()
 *		version; EXPLAIN ANALYZE shows segments read and skipped.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_scan.h"

#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "access/parallel.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/plancat.h"
#include "utils/snapmgr.h"
#include "optimizer/restrictinfo.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"
#include "parser/parsetree.h"
#include "pgstat.h"

typedef struct ColumnarScanState
{
	CustomScanState css;
	ColumnarReader *reader;
	Bitmapset  *attrs;
	List	   *key_info;		/* flattened attnum, strategy, cmp proc, collation */
	List	   *key_exprs;		/* ExprState per key */
	int64		segs_read;
	int64		segs_skipped;
	/* as_of(): the scan of a function RTE */
	bool		as_of;
	bool		is_time;
	Relation	rel;
	List	   *scan_attnums;	/* table attnum of each scan tuple column */
	int			nscan;			/* the same as an array of 0-based attnos */
	int		   *scan_idx;
	ExprState  *version_expr;
	int64		version;
	Datum	   *tvalues;
	bool	   *tnulls;
	struct ColumnarParallelState *pstate;
	/* scans that may run backward (SCROLL cursors): the rows returned so far */
	Tuplestorestate *store;
	TupleTableSlot *store_slot;	/* a row read back: scan tuple, row number */
	TupleTableSlot *put_slot;	/* a row to store */
	bool		eof_underlying;
	int64		nreturned;		/* rows read, not yet counted for pgstat */
} ColumnarScanState;

/* Shared by the participants of a parallel scan. */
typedef struct ColumnarParallelState
{
	bool		leader_only;	/* the leader has unwritten changes: it scans alone */
	pg_atomic_uint32 next_seg;
} ColumnarParallelState;

static Node *columnar_create_state(CustomScan *cscan);
static void columnar_begin(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *columnar_exec(CustomScanState *node);
static void columnar_end(CustomScanState *node);
static void columnar_rescan(CustomScanState *node);
static void columnar_explain(CustomScanState *node, List *ancestors, ExplainState *es);
static Size columnar_estimate_dsm(CustomScanState *node, ParallelContext *pcxt);
static void columnar_init_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate);
static void columnar_reinit_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate);
static void columnar_init_worker(CustomScanState *node, shm_toc *toc, void *coordinate);

const CustomScanMethods columnar_scan_plan_methods = {
	.CustomName = "VersionedColumnarScan",
	.CreateCustomScanState = columnar_create_state,
};


static const CustomExecMethods exec_methods = {
	.CustomName = "VersionedColumnarScan",
	.BeginCustomScan = columnar_begin,
	.ExecCustomScan = columnar_exec,
	.EndCustomScan = columnar_end,
	.ReScanCustomScan = columnar_rescan,
	.ExplainCustomScan = columnar_explain,
	.EstimateDSMCustomScan = columnar_estimate_dsm,
	.InitializeDSMCustomScan = columnar_init_dsm,
	.ReInitializeDSMCustomScan = columnar_reinit_dsm,
	.InitializeWorkerCustomScan = columnar_init_worker,
};

static Node *
columnar_create_state(CustomScan *cscan)
{
	ColumnarScanState *state = (ColumnarScanState *) newNode(sizeof(ColumnarScanState),
															 T_CustomScanState);

	state->css.methods = &exec_methods;
	return (Node *) state;
}

static void
attach_parallel(ColumnarScanState *state)
{
	ColumnarParallelState *ps = state->pstate;

	if (ps == NULL || state->reader == NULL)
		return;
	if (ps->leader_only)
		columnar_reader_set_shared(state->reader, NULL, IsParallelWorker());
	else
		columnar_reader_set_shared(state->reader, &ps->next_seg, false);
}

static void
start_reader(ColumnarScanState *state)
{
	ExprContext *econtext = state->css.ss.ps.ps_ExprContext;
	List	   *keys = NIL;
	ListCell   *lc;
	int			i = 0;

	foreach(lc, state->key_exprs)
	{
		ExprState  *es = lfirst(lc);
		ColumnarSkipKey *key = palloc0(sizeof(ColumnarSkipKey));
		bool		isnull;

		key->attnum = list_nth_int(state->key_info, i * 4);
		key->strategy = list_nth_int(state->key_info, i * 4 + 1);
		key->cmp_proc = list_nth_int(state->key_info, i * 4 + 2);
		key->collation = list_nth_int(state->key_info, i * 4 + 3);
		i++;
		if (key->strategy > 0)
		{
			key->value = ExecEvalExpr(es, econtext, &isnull);
			if (isnull)
				continue;		/* the qual itself rejects every row */
		}
		keys = lappend(keys, key);
	}
	if (state->as_of)
	{
		bool		isnull;
		Datum		arg = ExecEvalExpr(state->version_expr, econtext, &isnull);

		state->version = columnar_resolve_version(state->rel, state->is_time, arg, isnull);
		state->reader = columnar_reader_begin(state->rel, state->css.ss.ps.state->es_snapshot,
											  state->version, state->attrs, keys);
		attach_parallel(state);
		pgstat_count_heap_scan(state->rel);
		return;
	}
	state->reader = columnar_reader_begin(state->css.ss.ss_currentRelation,
										  state->css.ss.ps.state->es_snapshot, 0,
										  state->attrs, keys);
	attach_parallel(state);
	/* the heap's sequential scan counts for pg_stat_user_tables (seq_scan, seq_tup_read) */
	pgstat_count_heap_scan(state->css.ss.ss_currentRelation);
}

static void
columnar_begin(CustomScanState *node, EState *estate, int eflags)
{
	ColumnarScanState *state = (ColumnarScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *attr_list = linitial(cscan->custom_private);
	ListCell   *lc;
	List	   *exprs = cscan->custom_exprs;

	state->attrs = NULL;
	if (list_length(cscan->custom_private) == 3)
	{
		List	   *mode = lthird(cscan->custom_private);

		state->as_of = true;
		state->is_time = linitial_oid(mode) && lsecond_oid(mode) == 1;
		state->rel = table_open(linitial_oid(mode), AccessShareLock);
		state->scan_attnums = attr_list;
		state->nscan = 0;
		state->scan_idx = palloc(sizeof(int) * Max(list_length(attr_list), 1));
		foreach(lc, attr_list)
			state->scan_idx[state->nscan++] = lfirst_int(lc) - 1;
		state->version_expr = ExecInitExpr((Expr *) linitial(exprs), &node->ss.ps);
		exprs = list_delete_first(list_copy(exprs));
		state->tvalues = palloc(sizeof(Datum) * RelationGetDescr(state->rel)->natts);
		state->tnulls = palloc(sizeof(bool) * RelationGetDescr(state->rel)->natts);
	}
	foreach(lc, attr_list)
	{
		int			attnum = lfirst_int(lc);

		if (attnum == 0)
		{
			state->attrs = NULL;
			break;
		}
		state->attrs = bms_add_member(state->attrs, attnum);
	}
	/* nothing referenced (count(*)): read one column to count rows */
	if (attr_list == NIL)
	{
		TupleDesc	tupdesc = RelationGetDescr(state->as_of ? state->rel : node->ss.ss_currentRelation);
		int			a;

		for (a = 0; a < tupdesc->natts; a++)
			if (!TupleDescAttr(tupdesc, a)->attisdropped)
			{
				state->attrs = bms_make_singleton(a + 1);
				break;
			}
	}
	state->key_info = lsecond(cscan->custom_private);
	state->key_exprs = NIL;
	foreach(lc, exprs)
		state->key_exprs = lappend(state->key_exprs,
								   ExecInitExpr((Expr *) lfirst(lc), &node->ss.ps));
	if (eflags & EXEC_FLAG_BACKWARD)
	{
		TupleDesc	sdesc = node->ss.ss_ScanTupleSlot->tts_tupleDescriptor;
		TupleDesc	desc = CreateTemplateTupleDesc(sdesc->natts + 1);
		int			a;

		for (a = 0; a < sdesc->natts; a++)
			TupleDescCopyEntry(desc, a + 1, sdesc, a + 1);
		TupleDescInitEntry(desc, sdesc->natts + 1, "rownum", INT8OID, -1, 0);
		state->store = tuplestore_begin_heap(true, false, work_mem);
		state->store_slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
		state->put_slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
		state->eof_underlying = false;
	}

	/*
	 * The reader starts at the first row fetched: parameters of the skip
	 * keys and the version may come from init plans, which are not ready
	 * while the plan tree is being initialized.
	 */
}

/*
 * Add the rows read so far to pg_stat_user_tables' seq_tup_read, as the
 * heap's scan counts them: summed in the scan state and added when the
 * reader ends (last row, rescan, end of the scan), since the per-row
 * pgstat_count_heap_getnext costs a pointer chase and a branch in the scan's
 * innermost loop.
 */
static void
count_returned(ColumnarScanState *state)
{
	Relation	rel = state->as_of ? state->rel : state->css.ss.ss_currentRelation;

	if (state->nreturned > 0 && pgstat_should_count_relation(rel))
		rel->pgstat_info->t_counts.t_tuples_returned += state->nreturned;
	state->nreturned = 0;
}

/*
 * One row from the reader into the scan slot: the scan's per-row path, so
 * inlined into both of its callers.
 */
static pg_attribute_always_inline TupleTableSlot *
columnar_read_next(ScanState *ss)
{
	ColumnarScanState *state = (ColumnarScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;
	int64		rownum;

	ExecClearTuple(slot);
	if (state->as_of)
	{
		int			i;

		if (!columnar_reader_next(state->reader, state->tvalues, state->tnulls, &rownum))
		{
			count_returned(state);
			return slot;
		}
		for (i = 0; i < state->nscan; i++)
		{
			slot->tts_values[i] = state->tvalues[state->scan_idx[i]];
			slot->tts_isnull[i] = state->tnulls[state->scan_idx[i]];
		}
		ExecStoreVirtualTuple(slot);
		state->nreturned++;
		return slot;
	}
	if (!columnar_reader_next(state->reader, slot->tts_values, slot->tts_isnull, &rownum))
	{
		count_returned(state);
		return slot;
	}
	columnar_row_to_tid(rownum, &slot->tts_tid);
	slot->tts_tableOid = RelationGetRelid(ss->ss_currentRelation);
	ExecStoreVirtualTuple(slot);
	state->nreturned++;
	return slot;
}

/* The access method of a scan that only runs forward. */
static TupleTableSlot *
columnar_forward_next(ScanState *ss)
{
	return columnar_read_next(ss);
}

/* Copy a stored row (scan tuple + row number) into the scan slot. */
static TupleTableSlot *
from_store(ColumnarScanState *state, TupleTableSlot *slot)
{
	int			natts = slot->tts_tupleDescriptor->natts;
	TupleTableSlot *ss = state->store_slot;
	bool		isnull;

	slot_getallattrs(ss);
	ExecClearTuple(slot);
	memcpy(slot->tts_values, ss->tts_values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, ss->tts_isnull, sizeof(bool) * natts);
	columnar_row_to_tid(DatumGetInt64(slot_getattr(ss, natts + 1, &isnull)), &slot->tts_tid);
	if (!state->as_of)
		slot->tts_tableOid = RelationGetRelid(state->css.ss.ss_currentRelation);
	ExecStoreVirtualTuple(slot);
	return slot;
}

/*
 * The scan's access method.  A scan that may be asked to run backward keeps
 * every row it read in a tuplestore (the values stay there, so the slot may
 * point into it) and moves over that, like a Material node would, but with
 * each row's TID kept for WHERE CURRENT OF.
 */
static TupleTableSlot *
columnar_next(ScanState *ss)
{
	ColumnarScanState *state = (ColumnarScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;
	bool		forward = ScanDirectionIsForward(ss->ps.state->es_direction);
	bool		at_end;

	Assert(state->store != NULL);
	at_end = tuplestore_ateof(state->store);
	if (!forward && at_end)
	{
		/* first step back from the end: skip over the end position */
		if (!state->eof_underlying && !tuplestore_advance(state->store, false))
			return ExecClearTuple(slot);
		at_end = false;
	}
	if (!at_end)
	{
		if (tuplestore_gettupleslot(state->store, forward, false, state->store_slot))
			return from_store(state, slot);
		if (!forward)
			return ExecClearTuple(slot);
	}
	if (state->eof_underlying)
		return ExecClearTuple(slot);
	slot = columnar_read_next(ss);
	if (TupIsNull(slot))
	{
		state->eof_underlying = true;
		return slot;
	}
	{
		TupleTableSlot *st = state->put_slot;
		TupleDesc	desc = slot->tts_tupleDescriptor;
		int			natts = desc->natts;
		int			a;

		ExecClearTuple(st);
		for (a = 0; a < natts; a++)
		{
			st->tts_values[a] = slot->tts_values[a];
			st->tts_isnull[a] = slot->tts_isnull[a] || TupleDescAttr(desc, a)->attisdropped;
		}
		st->tts_values[natts] = Int64GetDatum(columnar_tid_to_row(&slot->tts_tid));
		st->tts_isnull[natts] = false;
		st->tts_tableOid = slot->tts_tableOid;
		ExecStoreVirtualTuple(st);
		tuplestore_puttupleslot(state->store, st);
	}
	return slot;
}

static bool
columnar_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
columnar_exec(CustomScanState *node)
{
	ColumnarScanState *state = (ColumnarScanState *) node;

	if (state->reader == NULL)
		start_reader(state);
	if (state->store == NULL)
	{
		/*
		 * Checked before ExecScan (one compare per row), so that the
		 * access method of a forward-only scan is the row read alone.
		 */
		if (!ScanDirectionIsForward(node->ss.ps.state->es_direction))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot scan a versioned_columnar table backward here"),
					 errhint("Declare the cursor WITH SCROLL.")));
		return ExecScan(&node->ss, columnar_forward_next, columnar_recheck);
	}
	return ExecScan(&node->ss, columnar_next, columnar_recheck);
}

static void
stop_reader(ColumnarScanState *state)
{
	if (state->reader)
	{
		int64		r,
					s;

		count_returned(state);
		columnar_reader_counts(state->reader, &r, &s);
		state->segs_read += r;
		state->segs_skipped += s;
		columnar_reader_end(state->reader);
		state->reader = NULL;
	}
}

static void
columnar_end(CustomScanState *node)
{
	ColumnarScanState *state = (ColumnarScanState *) node;

	stop_reader(state);
	if (state->store)
	{
		tuplestore_end(state->store);
		ExecDropSingleTupleTableSlot(state->store_slot);
		ExecDropSingleTupleTableSlot(state->put_slot);
		state->store = NULL;
	}
	if (state->rel)
		table_close(state->rel, AccessShareLock);
	state->rel = NULL;
}

static void
columnar_rescan(CustomScanState *node)
{
	ColumnarScanState *state = (ColumnarScanState *) node;

	stop_reader(state);
	if (state->store)
	{
		tuplestore_clear(state->store);
		state->eof_underlying = false;
	}
	ExecScanReScan(&node->ss);
}

static void
columnar_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	ColumnarScanState *state = (ColumnarScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	TupleDesc	tupdesc;
	List	   *attr_list = linitial(cscan->custom_private);
	int			nlive = 0;
	int			a;

	if (state->as_of)
	{
		tupdesc = RelationGetDescr(state->rel);
		ExplainPropertyText("As Of Table", RelationGetRelationName(state->rel), es);
		if (es->analyze)
			ExplainPropertyInteger("Version", NULL, state->version, es);
	}
	else
		tupdesc = RelationGetDescr(node->ss.ss_currentRelation);

	for (a = 0; a < tupdesc->natts; a++)
		if (!TupleDescAttr(tupdesc, a)->attisdropped)
			nlive++;
	ExplainPropertyText("Columns Read",
						psprintf("%d of %d",
								 (attr_list != NIL && linitial_int(attr_list) == 0) ? nlive :
								 Max(list_length(attr_list), 1), nlive), es);
	ExplainPropertyInteger("Skip Keys", NULL, list_length(state->key_exprs), es);
	if (es->analyze)
	{
		int64		r = state->segs_read;
		int64		s = state->segs_skipped;

		if (state->reader)
		{
			int64		r2,
						s2;

			columnar_reader_counts(state->reader, &r2, &s2);
			r += r2;
			s += s2;
		}
		ExplainPropertyInteger("Segments Read", NULL, r, es);
		ExplainPropertyInteger("Segments Skipped", NULL, s, es);
	}
}

static Size
columnar_estimate_dsm(CustomScanState *node, ParallelContext *pcxt)
{
	return sizeof(ColumnarParallelState);
}

static void
columnar_init_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate)
{
	ColumnarScanState *state = (ColumnarScanState *) node;
	ColumnarParallelState *ps = coordinate;
	int64		storage_id;

	/* an old version needs nothing of the leader's memory */
	if (state->as_of)
		storage_id = 0;
	else
		storage_id = columnar_storage_id(node->ss.ss_currentRelation, true);
	ps->leader_only = storage_id != 0 && columnar_write_state_find(storage_id) != NULL;

	/*
	 * A plan made before this transaction wrote the table (a cached plan)
	 * can still scan it in parallel: the leader then scans alone, which it
	 * cannot do if it does not take part.  Refuse rather than miss rows.
	 */
	if (ps->leader_only && !parallel_leader_participation)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot scan versioned_columnar table \"%s\" in parallel without the leader: this transaction has unwritten changes of it",
						RelationGetRelationName(node->ss.ss_currentRelation)),
				 errhint("Set parallel_leader_participation to on, or plan the query again in this transaction.")));
	pg_atomic_init_u32(&ps->next_seg, 0);
	state->pstate = ps;
	attach_parallel(state);
}

static void
columnar_reinit_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate)
{
	ColumnarParallelState *ps = coordinate;

	pg_atomic_write_u32(&ps->next_seg, 0);
}

static void
columnar_init_worker(CustomScanState *node, shm_toc *toc, void *coordinate)
{
	ColumnarScanState *state = (ColumnarScanState *) node;

	state->pstate = coordinate;
	attach_parallel(state);
}
