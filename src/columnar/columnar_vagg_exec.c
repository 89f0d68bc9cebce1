/*
 * columnar_vagg_exec.c
 *		The VectorizedAgg executor node: aggregates a versioned_columnar
 *		table (or one of its versions, as_of) segment by segment on the
 *		decoded column vectors the reader hands out, instead of one tuple at
 *		a time through a scan and an Aggregate node.
 *
 * Per segment: the deletion bitmap and the filters (comparisons of a column
 * with a value, IS [NOT] NULL) mark the selected rows; the group keys map
 * each selected row to a group (columnar_vagg_group.c); then each aggregate
 * runs over its column vector (columnar_vagg_agg.c).  This
 * transaction's own buffered rows come last, in batches shaped like
 * vectors.  count(*) without filter and grouping reads no chunk at all:
 * segment row counts minus deletions.
 *
 * Results are returned at the end, one group per row; a query without
 * GROUP BY always returns one row.  In a parallel plan each participant
 * aggregates the segments it claims and returns partial states.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_vagg.h"

#include "access/parallel.h"
#include "access/table.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "optimizer/optimizer.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#define VAGG_BATCH 1024


typedef struct VaggFilter
{
	int			attno;			/* 0-based */
	int			strategy;		/* BT*StrategyNumber; 0 IS NULL; -1 IS NOT NULL */
	FmgrInfo	cmp;
	Oid			collation;
	Datum		value;
	bool		value_null;
	ExprState  *expr;
	char		inline_kind;	/* '8': int64 order, '4': int32 order, 0: call cmp */
} VaggFilter;

typedef struct VaggParallel
{
	bool		leader_only;
	pg_atomic_uint32 next_seg;
} VaggParallel;

typedef struct VaggScanState
{
	CustomScanState css;
	Relation	rel;			/* the table (opened here for as_of) */
	bool		as_of;
	bool		is_time;
	bool		partial;
	bool		count_meta;
	int64		version;
	ExprState  *version_expr;
	Bitmapset  *attrs;
	ColumnarReader *reader;
	int			naggs;
	VaggAgg    *aggs;
	int			nfilters;
	VaggFilter *filters;
	MemoryContext runcxt;		/* the reader's allocations, per run */
	VaggGroups	g;				/* the groups and their states */
	/* per vector scratch */
	Datum	  **bvals;			/* buffered-row batch, per column */
	bool	  **bnulls;
	int			natts;
	bool		done;
	int			next_out;
	VaggParallel *pstate;
	/* EXPLAIN ANALYZE */
	int64		nvectors;
	int64		segs_read;
	int64		segs_skipped;
} VaggScanState;

static void vagg_begin(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *vagg_exec(CustomScanState *node);
static void vagg_end(CustomScanState *node);
static void vagg_rescan(CustomScanState *node);
static void vagg_explain(CustomScanState *node, List *ancestors, ExplainState *es);
static Size vagg_estimate_dsm(CustomScanState *node, ParallelContext *pcxt);
static void vagg_init_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate);
static void vagg_reinit_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate);
static void vagg_init_worker(CustomScanState *node, shm_toc *toc, void *coordinate);

const CustomScanMethods vagg_plan_methods = {
	.CustomName = "VectorizedAgg",
	.CreateCustomScanState = vagg_create_state,
};

static const CustomExecMethods vagg_exec_methods = {
	.CustomName = "VectorizedAgg",
	.BeginCustomScan = vagg_begin,
	.ExecCustomScan = vagg_exec,
	.EndCustomScan = vagg_end,
	.ReScanCustomScan = vagg_rescan,
	.ExplainCustomScan = vagg_explain,
	.EstimateDSMCustomScan = vagg_estimate_dsm,
	.InitializeDSMCustomScan = vagg_init_dsm,
	.ReInitializeDSMCustomScan = vagg_reinit_dsm,
	.InitializeWorkerCustomScan = vagg_init_worker,
};

/*
 * Comparison functions whose order is that of the Datum as an int64 or an
 * int32 (timestamps, bigint, time; integer, date): the filter compares
 * inline instead of calling them once per row.  A time-range restriction is
 * the common filter, and on a table clustered for other columns too
 * (ZORDER) the segments it reads hold many rows outside the range.
 */
static char
filter_inline_kind(Oid cmp_proc)
{
	switch (cmp_proc)
	{
		case F_BTINT8CMP:
		case F_TIMESTAMP_CMP:
		case F_TIMESTAMPTZ_CMP:
		case F_TIME_CMP:
			return '8';
		case F_BTINT4CMP:
		case F_DATE_CMP:
			return '4';
		default:
			return 0;
	}
}

/* apply_filters() for a filter of an inline kind */
static void
apply_inline_filter(VaggFilter *flt, int nrows, Datum *v, bool *n, int32 *gidx)
{
	int64		x = flt->inline_kind == '8' ? DatumGetInt64(flt->value) :
		(int64) DatumGetInt32(flt->value);
	int			i;

	for (i = 0; i < nrows; i++)
	{
		int64		y;
		bool		pass;

		if (gidx[i] < 0)
			continue;
		if (n[i])
		{
			gidx[i] = -1;
			continue;
		}
		y = flt->inline_kind == '8' ? DatumGetInt64(v[i]) : (int64) DatumGetInt32(v[i]);
		switch (flt->strategy)
		{
			case BTLessStrategyNumber:
				pass = y < x;
				break;
			case BTLessEqualStrategyNumber:
				pass = y <= x;
				break;
			case BTEqualStrategyNumber:
				pass = y == x;
				break;
			case BTGreaterEqualStrategyNumber:
				pass = y >= x;
				break;
			default:
				pass = y > x;
				break;
		}
		if (!pass)
			gidx[i] = -1;
	}
}

Node *
vagg_create_state(CustomScan *cscan)
{
	VaggScanState *state = (VaggScanState *) newNode(sizeof(VaggScanState),
													 T_CustomScanState);

	state->css.methods = &vagg_exec_methods;
	return (Node *) state;
}


static void
vagg_begin(CustomScanState *node, EState *estate, int eflags)
{
	VaggScanState *state = (VaggScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *conf = linitial(cscan->custom_private);
	List	   *keyl = lsecond(cscan->custom_private);
	List	   *aggl = lthird(cscan->custom_private);
	List	   *filtl = lfourth(cscan->custom_private);
	ListCell   *lc;
	TupleDesc	tupdesc;
	int			i;

	state->as_of = list_nth_int(conf, 1) != 0;
	state->is_time = list_nth_int(conf, 2) != 0;
	state->partial = list_nth_int(conf, 3) != 0;
	state->count_meta = list_nth_int(conf, 4) != 0;
	if (state->as_of)
		state->rel = table_open((Oid) list_nth_int(conf, 0), AccessShareLock);
	else
		state->rel = node->ss.ss_currentRelation;
	tupdesc = RelationGetDescr(state->rel);
	state->natts = tupdesc->natts;

	state->g.nkeys = list_length(keyl);
	state->g.keys = palloc0(sizeof(VaggKey) * Max(state->g.nkeys, 1));
	i = 0;
	foreach(lc, keyl)
	{
		int			attnum = lfirst_int(lc);

		vagg_key_setup(&state->g.keys[i++], TupleDescAttr(tupdesc, attnum - 1));
		state->attrs = bms_add_member(state->attrs, attnum);
	}
	state->naggs = list_length(aggl) / 4;
	state->g.naggs = state->naggs;
	state->aggs = palloc0(sizeof(VaggAgg) * Max(state->naggs, 1));
	for (i = 0; i < state->naggs; i++)
	{
		VaggAgg    *agg = &state->aggs[i];
		int			attnum = list_nth_int(aggl, i * 4 + 1);

		agg->kind = (VaggKind) list_nth_int(aggl, i * 4);
		agg->attno = attnum - 1;
		agg->argtype = (Oid) list_nth_int(aggl, i * 4 + 2);
		agg->collation = (Oid) list_nth_int(aggl, i * 4 + 3);
		agg->partial = state->partial;
		vagg_agg_setup(agg);
		if (attnum > 0)
			state->attrs = bms_add_member(state->attrs, attnum);
	}
	/* count(*) from metadata adds to the full states directly */
	state->g.narrow_ok = palloc0(sizeof(bool) * Max(state->naggs, 1));
	for (i = 0; i < state->naggs; i++)
		state->g.narrow_ok[i] = !state->count_meta && vagg_narrow_eligible(&state->aggs[i]);
	state->nfilters = list_length(filtl) / 4;
	state->filters = palloc0(sizeof(VaggFilter) * Max(state->nfilters, 1));
	for (i = 0; i < state->nfilters; i++)
	{
		VaggFilter *f = &state->filters[i];
		int			attnum = list_nth_int(filtl, i * 4);

		f->attno = attnum - 1;
		f->strategy = list_nth_int(filtl, i * 4 + 1);
		if (f->strategy > 0)
		{
			Oid			proc = (Oid) list_nth_int(filtl, i * 4 + 2);

			fmgr_info(proc, &f->cmp);
			f->inline_kind = filter_inline_kind(proc);
		}
		f->collation = (Oid) list_nth_int(filtl, i * 4 + 3);
		f->expr = ExecInitExpr((Expr *) list_nth(cscan->custom_exprs, i), &node->ss.ps);
		state->attrs = bms_add_member(state->attrs, attnum);
	}
	if (state->as_of)
		state->version_expr = ExecInitExpr((Expr *) llast(cscan->custom_exprs), &node->ss.ps);
	if (bms_is_empty(state->attrs))
	{
		/* count(*) only: the reader still wants one column for its buffered rows */
		for (i = 0; i < tupdesc->natts; i++)
			if (!TupleDescAttr(tupdesc, i)->attisdropped)
			{
				state->attrs = bms_make_singleton(i + 1);
				break;
			}
	}
	state->runcxt = AllocSetContextCreate(CurrentMemoryContext, "VectorizedAgg reader",
										  ALLOCSET_DEFAULT_SIZES);
	state->g.groupcxt = AllocSetContextCreate(CurrentMemoryContext, "VectorizedAgg groups",
											ALLOCSET_DEFAULT_SIZES);
	state->bvals = palloc0(sizeof(Datum *) * tupdesc->natts);
	state->bnulls = palloc0(sizeof(bool *) * tupdesc->natts);
	i = -1;
	while ((i = bms_next_member(state->attrs, i)) >= 0)
	{
		state->bvals[i - 1] = palloc(sizeof(Datum) * VAGG_BATCH);
		state->bnulls[i - 1] = palloc(sizeof(bool) * VAGG_BATCH);
	}
}


/* Filters on the vector: rows failing one get gidx -1. */
static void
apply_filters(VaggScanState *state, int nrows, Datum **vals, bool **nulls)
{
	int32	   *gidx = state->g.gidx;
	int			f;
	int			i;

	for (f = 0; f < state->nfilters; f++)
	{
		VaggFilter *flt = &state->filters[f];
		Datum	   *v = vals[flt->attno];
		bool	   *n = nulls[flt->attno];

		if (flt->strategy == 0 || flt->strategy == -1)
		{
			bool		want_null = flt->strategy == 0;

			for (i = 0; i < nrows; i++)
				if (gidx[i] >= 0 && n[i] != want_null)
					gidx[i] = -1;
			continue;
		}
		if (flt->value_null)
		{
			for (i = 0; i < nrows; i++)
				gidx[i] = -1;
			continue;
		}
		if (flt->inline_kind)
		{
			apply_inline_filter(flt, nrows, v, n, gidx);
			continue;
		}
		for (i = 0; i < nrows; i++)
		{
			int32		c;
			bool		pass;

			if (gidx[i] < 0)
				continue;
			if (n[i])
			{
				gidx[i] = -1;
				continue;
			}
			c = DatumGetInt32(FunctionCall2Coll(&flt->cmp, flt->collation, v[i], flt->value));
			switch (flt->strategy)
			{
				case BTLessStrategyNumber:
					pass = c < 0;
					break;
				case BTLessEqualStrategyNumber:
					pass = c <= 0;
					break;
				case BTEqualStrategyNumber:
					pass = c == 0;
					break;
				case BTGreaterEqualStrategyNumber:
					pass = c >= 0;
					break;
				default:
					pass = c > 0;
					break;
			}
			if (!pass)
				gidx[i] = -1;
		}
	}
}

static void
process_vector(VaggScanState *state, int nrows, Datum **vals, bool **nulls, uint8 *deleted)
{
	int			i;
	int			a;

	if (nrows <= 0)
		return;
	if (nrows > state->g.gcap)
	{
		int			cap = Max(nrows, VAGG_BATCH);

		state->g.gcap = cap;
		state->g.gidx = MemoryContextAllocHuge(state->g.groupcxt, sizeof(int32) * cap);
		state->g.hashes = MemoryContextAllocHuge(state->g.groupcxt, sizeof(uint32) * cap);
	}
	for (i = 0; i < nrows; i++)
		state->g.gidx[i] = 0;
	if (deleted)
		for (i = 0; i < nrows; i++)
			if (deleted[i / 8] & (1 << (i % 8)))
				state->g.gidx[i] = -1;
	apply_filters(state, nrows, vals, nulls);
	vagg_assign_groups(&state->g, nrows, vals, nulls);
	for (a = 0; a < state->naggs; a++)
	{
		VaggAgg    *agg = &state->aggs[a];
		const Datum *av = agg->attno >= 0 ? vals[agg->attno] : NULL;
		const bool *an = agg->attno >= 0 ? nulls[agg->attno] : NULL;

		if (state->g.narrow && state->g.narrow[a])
		{
			if (vagg_accumulate_narrow(agg, state->g.narrow[a], state->g.gidx, nrows, av, an))
				continue;
			/* this vector needs the full states: from now on for good */
			vagg_fold_narrow(agg, state->g.narrow[a], &state->g.states[a], state->naggs,
							 state->g.ngroups);
			state->g.narrow[a] = NULL;
		}
		vagg_accumulate(agg, &state->g.states[a], state->naggs, state->g.gidx, nrows,
						agg->attno >= 0 ? vals[agg->attno] : NULL,
						agg->attno >= 0 ? nulls[agg->attno] : NULL,
						state->g.groupcxt);
	}
	CHECK_FOR_INTERRUPTS();
}

static void
start_reader(VaggScanState *state)
{
	ExprContext *econtext = state->css.ss.ps.ps_ExprContext;
	EState	   *estate = state->css.ss.ps.state;
	List	   *keys = NIL;
	int			i;

	for (i = 0; i < state->nfilters; i++)
	{
		VaggFilter *f = &state->filters[i];
		ColumnarSkipKey *key = palloc0(sizeof(ColumnarSkipKey));

		key->attnum = f->attno + 1;
		key->strategy = f->strategy;
		key->collation = f->collation;
		if (f->strategy > 0)
		{
			f->value = ExecEvalExpr(f->expr, econtext, &f->value_null);
			if (f->value_null)
				continue;
			key->cmp_proc = f->cmp.fn_oid;
			key->value = f->value;
		}
		keys = lappend(keys, key);
	}
	if (state->as_of)
	{
		bool		isnull;
		Datum		arg = ExecEvalExpr(state->version_expr, econtext, &isnull);

		state->version = columnar_resolve_version(state->rel, state->is_time, arg, isnull);
	}
	state->reader = columnar_reader_begin(state->rel, estate->es_snapshot, state->version,
										  state->attrs, keys);
	if (state->pstate)
	{
		if (state->pstate->leader_only)
			columnar_reader_set_shared(state->reader, NULL, IsParallelWorker());
		else
			columnar_reader_set_shared(state->reader, &state->pstate->next_seg, false);
	}
	pgstat_count_heap_scan(state->rel);
}

/* Aggregate everything. */
static void
run(VaggScanState *state)
{
	ColumnarVector v;
	Datum	   *rowvals = palloc(sizeof(Datum) * state->natts);
	bool	   *rownulls = palloc(sizeof(bool) * state->natts);
	int64		rownum;
	int			n = 0;
	int64		nrows = 0;
	int			i;

	vagg_groups_reset(&state->g);
	state->done = false;
	state->next_out = 0;
	start_reader(state);
	if (state->g.nkeys == 0)
		vagg_add_group(&state->g, 0, NULL, NULL, 0); /* the one group */
	while (columnar_reader_next_vector(state->reader, !state->count_meta, &v))
	{
		state->nvectors++;
		if (state->count_meta)
		{
			int			live = v.nrows;
			int			i;
			int			a;

			if (v.deleted)
				for (i = 0; i < v.nrows; i++)
					if (v.deleted[i / 8] & (1 << (i % 8)))
						live--;
			for (a = 0; a < state->naggs; a++)
				state->g.states[a].count += live;
			nrows += live;
			continue;
		}
		nrows += v.nrows;
		process_vector(state, v.nrows, v.vals, v.nulls, v.deleted);
	}
	/* this transaction's buffered rows, in batches */
	while (columnar_reader_next(state->reader, rowvals, rownulls, &rownum))
	{
		int			a = -1;

		while ((a = bms_next_member(state->attrs, a)) >= 0)
		{
			state->bvals[a - 1][n] = rowvals[a - 1];
			state->bnulls[a - 1][n] = rownulls[a - 1];
		}
		if (++n == VAGG_BATCH)
		{
			process_vector(state, n, state->bvals, state->bnulls, NULL);
			nrows += n;
			n = 0;
		}
	}
	process_vector(state, n, state->bvals, state->bnulls, NULL);
	nrows += n;
	for (i = 0; i < state->naggs; i++)
		if (state->g.narrow && state->g.narrow[i])
		{
			vagg_fold_narrow(&state->aggs[i], state->g.narrow[i], &state->g.states[i],
							 state->naggs, state->g.ngroups);
			state->g.narrow[i] = NULL;
		}
	{
		int64		r,
					s;

		columnar_reader_counts(state->reader, &r, &s);
		state->segs_read += r;
		state->segs_skipped += s;
	}
	/* pg_stat_user_tables' seq_tup_read, as a scan would count */
	if (pgstat_should_count_relation(state->rel))
		state->rel->pgstat_info->t_counts.t_tuples_returned += nrows;
	columnar_reader_end(state->reader);
	state->reader = NULL;
	state->done = true;
	pfree(rowvals);
	pfree(rownulls);
}

/* The next group as a scan tuple: keys, then aggregates. */
static TupleTableSlot *
next_group(ScanState *ss)
{
	VaggScanState *state = (VaggScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;
	int			g;
	int			k;
	int			a;

	MemoryContext old;

	ExecClearTuple(slot);
	if (state->next_out >= state->g.ngroups)
		return slot;
	g = state->next_out++;
	old = MemoryContextSwitchTo(ss->ps.ps_ExprContext->ecxt_per_tuple_memory);
	for (k = 0; k < state->g.nkeys; k++)
	{
		slot->tts_values[k] = state->g.gkeys[(Size) g * state->g.nkeys + k];
		slot->tts_isnull[k] = state->g.gnulls[(Size) g * state->g.nkeys + k];
	}
	for (a = 0; a < state->naggs; a++)
	{
		VaggState  *st = &state->g.states[(Size) g * state->naggs + a];
		bool		isnull;

		if (state->partial)
			slot->tts_values[state->g.nkeys + a] = vagg_partial(&state->aggs[a], st, &isnull);
		else
			slot->tts_values[state->g.nkeys + a] = vagg_finalize(&state->aggs[a], st, &isnull);
		slot->tts_isnull[state->g.nkeys + a] = isnull;
	}
	MemoryContextSwitchTo(old);
	return ExecStoreVirtualTuple(slot);
}

static bool
vagg_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
vagg_exec(CustomScanState *node)
{
	VaggScanState *state = (VaggScanState *) node;

	if (!state->done)
	{
		MemoryContext old;

		/* what the reader allocates goes with it: a rescan starts afresh */
		MemoryContextReset(state->runcxt);
		old = MemoryContextSwitchTo(state->runcxt);

		run(state);
		MemoryContextSwitchTo(old);
	}
	/* final values are built in the per-tuple context of the scan */
	return ExecScan(&node->ss, next_group, vagg_recheck);
}

static void
vagg_end(CustomScanState *node)
{
	VaggScanState *state = (VaggScanState *) node;

	if (state->reader)
		columnar_reader_end(state->reader);
	state->reader = NULL;
	if (state->as_of && state->rel)
		table_close(state->rel, AccessShareLock);
	state->rel = NULL;
}

static void
vagg_rescan(CustomScanState *node)
{
	VaggScanState *state = (VaggScanState *) node;

	if (state->reader)
		columnar_reader_end(state->reader);
	state->reader = NULL;
	state->done = false;
	state->g.ngroups = 0;
	state->next_out = 0;
	ExecScanReScan(&node->ss);
}

static void
vagg_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	VaggScanState *state = (VaggScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	StringInfoData buf;
	int			k;
	int			a;
	static const char *const names[] = {"count(*)", "count", "sum", "avg", "min", "max"};
	TupleDesc	tupdesc = RelationGetDescr(state->rel);

	if (state->as_of)
	{
		ExplainPropertyText("As Of Table", RelationGetRelationName(state->rel), es);
		if (es->analyze)
			ExplainPropertyInteger("Version", NULL, state->version, es);
	}
	if (state->g.nkeys > 0)
	{
		initStringInfo(&buf);
		for (k = 0; k < state->g.nkeys; k++)
			appendStringInfo(&buf, "%s%s", k ? ", " : "",
							 quote_identifier(NameStr(TupleDescAttr(tupdesc, state->g.keys[k].attno)->attname)));
		ExplainPropertyText("Group Keys", buf.data, es);
	}
	initStringInfo(&buf);
	for (a = 0; a < state->naggs; a++)
	{
		VaggAgg    *agg = &state->aggs[a];

		if (agg->kind == VAGG_COUNT_STAR)
			appendStringInfo(&buf, "%s%s", a ? ", " : "", names[agg->kind]);
		else
			appendStringInfo(&buf, "%s%s(%s)", a ? ", " : "", names[agg->kind],
							 quote_identifier(NameStr(TupleDescAttr(tupdesc, agg->attno)->attname)));
	}
	ExplainPropertyText(state->partial ? "Partial Aggregates" : "Aggregates", buf.data, es);
	if (state->nfilters > 0)
	{
		ExplainPropertyText("Vector Filter",
							strVal(list_nth(cscan->custom_private, 4)), es);
		ExplainPropertyInteger("Skip Keys", NULL, state->nfilters, es);
	}
	if (state->count_meta)
		ExplainPropertyText("Count From", "segment metadata", es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Vectors Processed", NULL, state->nvectors, es);
		ExplainPropertyInteger("Segments Skipped", NULL, state->segs_skipped, es);
	}
}

static Size
vagg_estimate_dsm(CustomScanState *node, ParallelContext *pcxt)
{
	return sizeof(VaggParallel);
}

static void
vagg_init_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate)
{
	VaggScanState *state = (VaggScanState *) node;
	VaggParallel *ps = coordinate;
	int64		storage_id = state->as_of ? 0 : columnar_storage_id(state->rel, true);

	ps->leader_only = storage_id != 0 && columnar_write_state_find(storage_id) != NULL;
	if (ps->leader_only && !parallel_leader_participation)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot scan versioned_columnar table \"%s\" in parallel without the leader: this transaction has unwritten changes of it",
						RelationGetRelationName(state->rel)),
				 errhint("Set parallel_leader_participation to on, or plan the query again in this transaction.")));
	pg_atomic_init_u32(&ps->next_seg, 0);
	state->pstate = ps;
}

static void
vagg_reinit_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate)
{
	VaggParallel *ps = coordinate;

	pg_atomic_write_u32(&ps->next_seg, 0);
}

static void
vagg_init_worker(CustomScanState *node, shm_toc *toc, void *coordinate)
{
	VaggScanState *state = (VaggScanState *) node;

	state->pstate = coordinate;
}
