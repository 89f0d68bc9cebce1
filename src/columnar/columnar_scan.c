/*
 * columnar_scan.c
 *		The VersionedColumnarScan custom scan: reads only the columns a query
 *		references and skips segments whose min/max/null-count statistics
 *		refute the WHERE clause; EXPLAIN ANALYZE shows segments read and
 *		skipped.  The planner hook also keeps versioned_columnar tables out
 *		of parallel plans (a worker cannot see the leader's buffered rows).
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"

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

static void extract_keys(RelOptInfo *rel, Relation relation, List *clauses, List **info,
						 List **exprs);
static AttrNumber var_attnum(Node *expr, Index relid);

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;
static get_relation_info_hook_type prev_get_relation_info_hook = NULL;

static Plan *columnar_plan_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
								List *tlist, List *clauses, List *custom_plans);
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

static const CustomPathMethods path_methods = {
	.CustomName = "VersionedColumnarScan",
	.PlanCustomPath = columnar_plan_path,
};

/* Add the serial VersionedColumnarScan path of rel with the given estimates. */
static CustomPath *
add_columnar_path(RelOptInfo *rel, double rows, Cost startup_cost, Cost total_cost)
{
	CustomPath *cpath = makeNode(CustomPath);

	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = rel;
	cpath->path.pathtarget = rel->reltarget;
	cpath->path.param_info = NULL;
	cpath->path.parallel_aware = false;
	cpath->path.parallel_safe = false;
	cpath->path.rows = rows;
	cpath->path.startup_cost = startup_cost;
	cpath->path.total_cost = total_cost;
	cpath->path.pathkeys = NIL;
	/* backward: the scan keeps what it returned (see columnar_next) */
	cpath->flags = CUSTOMPATH_SUPPORT_BACKWARD_SCAN;
	cpath->methods = &path_methods;
	add_path(rel, &cpath->path);
	return cpath;
}

static const CustomScanMethods plan_methods = {
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

/* Parallel workers for a scan of this many (estimated) pages, like the core's. */
static int
workers_for_pages(double pages)
{
	int			workers = 1;
	double		threshold = (double) min_parallel_table_scan_size * 3;

	if (pages < (double) min_parallel_table_scan_size || max_parallel_workers_per_gather <= 0)
		return 0;
	while (pages >= threshold && workers < max_parallel_workers_per_gather)
	{
		workers++;
		threshold *= 3;
	}
	return workers;
}

/*
 * Does this backend hold changes of the table that are not in its storage
 * yet (buffered rows, pending deletions)?  Parallel workers cannot see them,
 * so such a table gets no parallel scan path.
 */
static bool
has_local_changes(Oid relid)
{
	Relation	relation = table_open(relid, NoLock);
	int64		storage_id = columnar_storage_id(relation, true);

	table_close(relation, NoLock);
	return storage_id != 0 && columnar_write_state_find(storage_id) != NULL;
}

/*
 * Rows of a gold table carry no transaction or command ids: a query that
 * reads xmin, xmax, cmin or cmax is refused while it is planned (ctid and
 * tableoid work).  A made-up value could silently break optimistic locking
 * schemes that compare xmin.
 */
static void
refuse_xact_columns(PlannerInfo *root, RelOptInfo *rel)
{
	Bitmapset  *attrs = NULL;
	ListCell   *lc;
	int			x = -1;

	/* RETURNING reads the changed row from the table, not from this scan */
	if (root->parse->resultRelation == (int) rel->relid)
		pull_varattnos((Node *) root->parse->returningList, rel->relid, &attrs);
	pull_varattnos((Node *) rel->reltarget->exprs, rel->relid, &attrs);
	foreach(lc, rel->baserestrictinfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, rel->relid, &attrs);
	foreach(lc, rel->joininfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, rel->relid, &attrs);
	while ((x = bms_next_member(attrs, x)) >= 0)
	{
		int			attnum = x + FirstLowInvalidHeapAttributeNumber;
		const char *name = NULL;

		switch (attnum)
		{
			case MinTransactionIdAttributeNumber:
				name = "xmin";
				break;
			case MaxTransactionIdAttributeNumber:
				name = "xmax";
				break;
			case MinCommandIdAttributeNumber:
				name = "cmin";
				break;
			case MaxCommandIdAttributeNumber:
				name = "cmax";
				break;
		}
		if (name)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("system column \"%s\" is not available on versioned_columnar tables", name),
					 errhint("Rows of these tables carry no transaction ids; streamext.history() lists the versions that wrote them.")));
	}
}

/* Add the parallel-aware twin of a scan path. */
static void
add_partial_twin(RelOptInfo *rel, CustomPath *cpath, int workers)
{
	CustomPath *ppath = makeNode(CustomPath);
	double		leader = 1.0 - 0.3 * workers;
	double		divisor = workers + (parallel_leader_participation && leader > 0 ? leader : 0);

	*ppath = *cpath;
	ppath->flags = 0;
	ppath->path.parallel_aware = true;
	ppath->path.parallel_safe = true;
	ppath->path.parallel_workers = workers;
	ppath->path.rows = clamp_row_est(cpath->path.rows / divisor);
	ppath->path.total_cost = cpath->path.startup_cost +
		(cpath->path.total_cost - cpath->path.startup_cost) / divisor;
	add_partial_path(rel, &ppath->path);
}

/* If rte is a call of streamext.as_of() on a versioned_columnar table, that table. */
Oid
columnar_as_of_table(RangeTblEntry *rte, Node **arg, bool *is_time)
{
	RangeTblFunction *rtf;
	FuncExpr   *fe;
	char	   *name;
	Oid			nsp = get_namespace_oid("streamext", true);
	Oid			relid;

	if (rte->rtekind != RTE_FUNCTION || list_length(rte->functions) != 1 ||
		rte->funcordinality || !OidIsValid(nsp))
		return InvalidOid;
	rtf = linitial(rte->functions);
	if (!IsA(rtf->funcexpr, FuncExpr))
		return InvalidOid;
	fe = (FuncExpr *) rtf->funcexpr;
	if (list_length(fe->args) != 2 || get_func_namespace(fe->funcid) != nsp)
		return InvalidOid;
	name = get_func_name(fe->funcid);
	if (name == NULL || strcmp(name, "as_of") != 0)
		return InvalidOid;
	relid = get_typ_typrelid(exprType(linitial(fe->args)));
	if (!OidIsValid(relid) || !columnar_relation_is_columnar(relid))
		return InvalidOid;
	*arg = lsecond(fe->args);
	*is_time = exprType(*arg) == TIMESTAMPTZOID;
	if (!*is_time && exprType(*arg) != INT8OID)
		return InvalidOid;
	if (contain_var_clause(*arg) || contain_volatile_functions(*arg) ||
		contain_subplans(*arg))
		return InvalidOid;
	return relid;
}

/*
 * as_of() on a versioned_columnar table becomes a VersionedColumnarScan of
 * that version: same projection and skipping as a current read, and no
 * materialization of the function's result.
 */
static void
add_as_of_path(PlannerInfo *root, RelOptInfo *rel, RangeTblEntry *rte)
{
	Node	   *arg;
	bool		is_time;
	Oid			relid = columnar_as_of_table(rte, &arg, &is_time);
	Bitmapset  *attrs = NULL;
	ListCell   *lc;
	CustomPath *cpath;
	int			x = -1;
	Cost		cost;
	Relation	table;
	int64		storage_id;
	double		rows;
	double		pages;

	if (!OidIsValid(relid) || !bms_is_empty(rel->lateral_relids))
		return;
	pull_varattnos((Node *) rel->reltarget->exprs, rel->relid, &attrs);
	foreach(lc, rel->baserestrictinfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, rel->relid, &attrs);
	while ((x = bms_next_member(attrs, x)) >= 0)
		if (x + FirstLowInvalidHeapAttributeNumber <= 0)
			return;				/* whole-row or system column: leave it to the function */
	/*
	 * The scan replaces the function scan, with the table's own estimates
	 * (the function's are a guess of 1000 rows).
	 */
	table = table_open(relid, AccessShareLock);
	storage_id = columnar_storage_id(table, true);
	rows = storage_id ? (double) columnar_next_row(storage_id) : 0;
	if (table->rd_rel->reltuples >= 0 && table->rd_rel->relpages > 0)
		rows = Min(rows, table->rd_rel->reltuples / table->rd_rel->relpages *
				   Max(rows / COLUMNAR_ROWS_PER_BLOCK, 1.0));
	table_close(table, AccessShareLock);
	pages = Max(1.0, rows * (rel->reltarget->width + 24) / 4.0 / BLCKSZ);
	cost = pages * seq_page_cost + rows * cpu_tuple_cost;
	rel->rows = clamp_row_est(rows * clauselist_selectivity(root, rel->baserestrictinfo, 0,
															JOIN_INNER, NULL));
	rel->pathlist = NIL;
	rel->partial_pathlist = NIL;
	rel->consider_parallel = false;
	cpath = add_columnar_path(rel, rel->rows, 0, cost);

	/*
	 * The scan of a committed version needs nothing of this backend's
	 * memory: it may run in parallel (as_of itself is parallel restricted,
	 * but it is not called any more).
	 */
	if (root->glob->parallelModeOK && workers_for_pages(pages) > 0)
	{
		rel->consider_parallel = true;
		add_partial_twin(rel, cpath, workers_for_pages(pages));
	}
}

/*
 * More than 2000 live segments: reading their statistics at plan time would
 * cost too much.  The row number counter bounds the count cheaply; only
 * when it is past the bound (micro-batches each take a whole reservation of
 * row numbers, and OPTIMIZE's new rows move it on while the rewritten
 * segments no longer count) are the live segments counted.
 */
static bool
too_many_segments(int64 storage_id)
{
	List	   *segs;
	ListCell   *lc;
	int			live = 0;

	if (columnar_next_row(storage_id) / Max(columnar_segment_rows, 1) <= 2000)
		return false;
	segs = columnar_segments(storage_id, GetActiveSnapshot());
	foreach(lc, segs)
		if (((ColumnarSegment *) lfirst(lc))->removed_version == 0)
			live++;
	list_free_deep(segs);
	return live > 2000;
}

/*
 * The share of segments a scan still reads after skipping, from the
 * segments' statistics themselves, for the keys whose value the planner can
 * estimate (ANALYZE's correlation cannot help: its sample loses the rows'
 * order for non-heap tables).  Tables of very many segments are not
 * examined: planning must stay cheap.
 */
static double
skip_fraction(PlannerInfo *root, RelOptInfo *rel, Oid relid)
{
	Relation	relation;
	List	   *info = NIL;
	List	   *exprs = NIL;
	List	   *keys = NIL;
	ListCell   *lc;
	int			i = 0;
	double		result = 1.0;
	int64		storage_id;

	if (rel->baserestrictinfo == NIL || !ActiveSnapshotSet())
		return 1.0;
	relation = table_open(relid, NoLock);
	storage_id = columnar_storage_id(relation, true);
	if (storage_id == 0 || too_many_segments(storage_id))
	{
		table_close(relation, NoLock);
		return 1.0;
	}
	extract_keys(rel, relation, rel->baserestrictinfo, &info, &exprs);
	foreach(lc, exprs)
	{
		Node	   *v = estimate_expression_value(root, (Node *) lfirst(lc));
		ColumnarSkipKey *key = palloc0(sizeof(ColumnarSkipKey));

		key->attnum = list_nth_int(info, i * 4);
		key->strategy = list_nth_int(info, i * 4 + 1);
		key->cmp_proc = list_nth_int(info, i * 4 + 2);
		key->collation = list_nth_int(info, i * 4 + 3);
		i++;
		if (key->strategy > 0)
		{
			if (!IsA(v, Const) || ((Const *) v)->constisnull)
				continue;
			key->value = ((Const *) v)->constvalue;
		}
		keys = lappend(keys, key);
	}
	if (keys != NIL)
	{
		ColumnarReader *reader = columnar_reader_begin(relation, GetActiveSnapshot(), 0,
													   NULL, keys);

		result = Max(columnar_reader_unrefuted_fraction(reader), 0.001);
		columnar_reader_end(reader);
	}
	table_close(relation, NoLock);
	return result;
}

static void
columnar_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	ListCell   *lc;
	Path	   *seq = NULL;
	CustomPath *cpath;
	int			natts;
	int			nneeded;
	Bitmapset  *attrs = NULL;
	double		fraction;
	double		seg_fraction = 1.0;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);

	if (rte->rtekind == RTE_FUNCTION)
	{
		add_as_of_path(root, rel, rte);
		return;
	}
	if (rte->rtekind != RTE_RELATION ||
		(rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_MATVIEW) ||
		(rel->reloptkind != RELOPT_BASEREL && rel->reloptkind != RELOPT_OTHER_MEMBER_REL))
		return;
	if (!columnar_relation_is_columnar(rte->relid))
		return;
	refuse_xact_columns(root, rel);

	/*
	 * The core's parallel paths would scan through the table AM in workers,
	 * which cannot see this backend's buffered rows: only our own
	 * parallel-aware scan (below) may run in workers.
	 */
	rel->partial_pathlist = NIL;
	foreach(lc, rel->pathlist)
	{
		Path	   *p = lfirst(lc);

		p->parallel_safe = false;
		if (p->pathtype == T_SeqScan && p->param_info == NULL)
			seq = p;
	}
	if (seq == NULL)
		return;

	/* cost: the seq scan's, scaled by the share of columns read */
	natts = rel->max_attr;
	pull_varattnos((Node *) rel->reltarget->exprs, rel->relid, &attrs);
	foreach(lc, rel->baserestrictinfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, rel->relid, &attrs);
	nneeded = 0;
	{
		int			x = -1;

		while ((x = bms_next_member(attrs, x)) >= 0)
			if (x + FirstLowInvalidHeapAttributeNumber > 0)
				nneeded++;
			else if (x + FirstLowInvalidHeapAttributeNumber == 0)
				nneeded = natts;
	}
	fraction = natts > 0 ? (double) Max(nneeded, 1) / natts : 1.0;

	seg_fraction = skip_fraction(root, rel, rte->relid);

	cpath = add_columnar_path(rel, seq->rows, seq->startup_cost,
							  seq->startup_cost + (seq->total_cost - seq->startup_cost) *
							  (0.2 + 0.6 * fraction) * seg_fraction);

	if (rel->consider_parallel && workers_for_pages(rel->pages * seg_fraction) > 0 &&
		!has_local_changes(rte->relid))
		add_partial_twin(rel, cpath, workers_for_pages(rel->pages * seg_fraction));
}

/* If expr is a Var of this relation (maybe under a binary-compatible cast), its attnum. */
static AttrNumber
var_attnum(Node *expr, Index relid)
{
	while (expr && IsA(expr, RelabelType))
		expr = (Node *) ((RelabelType *) expr)->arg;
	if (expr && IsA(expr, Var) && ((Var *) expr)->varno == relid &&
		((Var *) expr)->varattno > 0 && ((Var *) expr)->varlevelsup == 0)
		return ((Var *) expr)->varattno;
	return InvalidAttrNumber;
}

static bool
usable_value(Node *expr)
{
	return !contain_var_clause(expr) && !contain_volatile_functions(expr) &&
		!contain_subplans(expr);
}

/*
 * One restriction clause as a skip key, if statistics can refute it: column
 * op value with op of the column type's btree family (the column its left
 * input, commuted if need be), or IS [NOT] NULL.  Appends four integers to
 * *info (attnum, strategy or 0/-1 for IS NULL/IS NOT NULL, comparison
 * proc, collation) and the value to *exprs.  The vectorized aggregation
 * uses the same keys as its filters on vectors.
 */
bool
columnar_clause_skip_key(Node *clause, Index relid, TupleDesc tupdesc, List **info, List **exprs)
{
	if (IsA(clause, NullTest))
	{
		NullTest   *nt = (NullTest *) clause;
		AttrNumber	attnum = var_attnum((Node *) nt->arg, relid);

		if (attnum == InvalidAttrNumber || nt->argisrow)
			return false;
		*info = lappend_int(*info, attnum);
		*info = lappend_int(*info, nt->nulltesttype == IS_NULL ? 0 : -1);
		*info = lappend_int(*info, InvalidOid);
		*info = lappend_int(*info, InvalidOid);
		*exprs = lappend(*exprs, makeNullConst(INT4OID, -1, InvalidOid));
		return true;
	}
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left = linitial(op->args);
		Node	   *right = lsecond(op->args);
		AttrNumber	attnum;
		Node	   *value;
		bool		commuted = false;
		Form_pg_attribute att;
		TypeCacheEntry *tc;
		int			strategy;
		Oid			lefttype;
		Oid			righttype;
		Oid			cmp;

		if ((attnum = var_attnum(left, relid)) != InvalidAttrNumber && usable_value(right))
			value = right;
		else if ((attnum = var_attnum(right, relid)) != InvalidAttrNumber && usable_value(left))
		{
			value = left;
			commuted = true;
		}
		else
			return false;
		if (attnum > tupdesc->natts)
			return false;
		att = TupleDescAttr(tupdesc, attnum - 1);
		tc = lookup_type_cache(att->atttypid, TYPECACHE_BTREE_OPFAMILY);
		if (!OidIsValid(tc->btree_opf) || op->inputcollid != att->attcollation ||
			!op_in_opfamily(op->opno, tc->btree_opf))
			return false;
		get_op_opfamily_properties(op->opno, tc->btree_opf, false, &strategy,
								   &lefttype, &righttype);
		/* the column must be the operator's (commuted) left input type */
		if (commuted)
		{
			if (righttype != att->atttypid)
				return false;
			strategy = BTCommuteStrategyNumber(strategy);
			cmp = get_opfamily_proc(tc->btree_opf, righttype, lefttype, BTORDER_PROC);
		}
		else
		{
			if (lefttype != att->atttypid)
				return false;
			cmp = get_opfamily_proc(tc->btree_opf, lefttype, righttype, BTORDER_PROC);
		}
		if (!OidIsValid(cmp))
			return false;
		*info = lappend_int(*info, attnum);
		*info = lappend_int(*info, strategy);
		*info = lappend_int(*info, cmp);
		*info = lappend_int(*info, op->inputcollid);
		*exprs = lappend(*exprs, copyObject(value));
		return true;
	}
	return false;
}

/* Turn the restriction clauses that statistics can refute into skip keys. */
static void
extract_keys(RelOptInfo *rel, Relation relation, List *clauses, List **info, List **exprs)
{
	ListCell   *lc;
	TupleDesc	tupdesc = RelationGetDescr(relation);

	foreach(lc, clauses)
	{
		Node	   *clause = (Node *) lfirst(lc);

		if (IsA(clause, RestrictInfo))
			clause = (Node *) ((RestrictInfo *) clause)->clause;
		(void) columnar_clause_skip_key(clause, rel->relid, tupdesc, info, exprs);
	}
}

static Plan *
plan_as_of(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path, List *tlist,
		   List *clauses, RangeTblEntry *rte)
{
	CustomScan *cscan = makeNode(CustomScan);
	Node	   *arg;
	bool		is_time;
	Oid			relid = columnar_as_of_table(rte, &arg, &is_time);
	Relation	relation = table_open(relid, AccessShareLock);
	TupleDesc	tupdesc = RelationGetDescr(relation);
	Bitmapset  *attrs = NULL;
	List	   *scan_tlist = NIL;
	List	   *attnums = NIL;
	List	   *info = NIL;
	List	   *exprs = NIL;
	List	   *vars;
	ListCell   *lc;
	int			x = -1;

	/* every column the scan returns, as Vars of the function RTE */
	pull_varattnos((Node *) rel->reltarget->exprs, rel->relid, &attrs);
	vars = pull_var_clause((Node *) tlist, PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS |
						   PVC_RECURSE_PLACEHOLDERS);
	foreach(lc, vars)
	{
		Var		   *v = lfirst(lc);

		if (v->varno == rel->relid && v->varattno > 0)
			attrs = bms_add_member(attrs, v->varattno - FirstLowInvalidHeapAttributeNumber);
	}
	foreach(lc, clauses)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, rel->relid, &attrs);
	while ((x = bms_next_member(attrs, x)) >= 0)
	{
		int			attnum = x + FirstLowInvalidHeapAttributeNumber;
		Form_pg_attribute att;

		if (attnum <= 0 || attnum > tupdesc->natts)
			elog(ERROR, "as_of scan of \"%s\" cannot return column %d",
				 RelationGetRelationName(relation), attnum);
		att = TupleDescAttr(tupdesc, attnum - 1);
		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry((Expr *) makeVar(rel->relid, attnum, att->atttypid,
															  att->atttypmod, att->attcollation, 0),
											 list_length(scan_tlist) + 1, NULL, false));
		attnums = lappend_int(attnums, attnum);
	}
	extract_keys(rel, relation, clauses, &info, &exprs);
	table_close(relation, NoLock);

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = extract_actual_clauses(clauses, false);
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_scan_tlist = scan_tlist;
	/* attnums, keys, then (relid, is_time); the version argument leads the exprs */
	cscan->custom_private = list_make3(attnums, info, list_make2_oid(relid, is_time ? 1 : 0));
	cscan->custom_exprs = lcons(copyObject(arg), exprs);
	cscan->methods = &plan_methods;
	return &cscan->scan.plan;
}

static Plan *
columnar_plan_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
				   List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	Bitmapset  *attrs = NULL;
	List	   *attr_list = NIL;
	List	   *info = NIL;
	List	   *exprs = NIL;
	ListCell   *lc;
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	Relation	relation;
	int			x = -1;
	bool		all = false;

	if (rte->rtekind == RTE_FUNCTION)
		return plan_as_of(root, rel, best_path, tlist, clauses, rte);
	relation = table_open(rte->relid, NoLock);

	pull_varattnos((Node *) rel->reltarget->exprs, rel->relid, &attrs);
	pull_varattnos((Node *) tlist, rel->relid, &attrs);
	foreach(lc, clauses)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, rel->relid, &attrs);
	while ((x = bms_next_member(attrs, x)) >= 0)
	{
		int			attnum = x + FirstLowInvalidHeapAttributeNumber;

		if (attnum == 0)
			all = true;
		else if (attnum > 0)
			attr_list = lappend_int(attr_list, attnum);
	}
	if (all)
		attr_list = list_make1_int(0);	/* whole-row reference: every column */

	extract_keys(rel, relation, clauses, &info, &exprs);
	table_close(relation, NoLock);

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = extract_actual_clauses(clauses, false);
	cscan->scan.scanrelid = rel->relid;
	cscan->flags = best_path->flags;
	cscan->custom_private = list_make2(attr_list, info);
	cscan->custom_exprs = exprs;
	cscan->custom_scan_tlist = NIL;
	cscan->methods = &plan_methods;
	return &cscan->scan.plan;
}

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

/*
 * No parallel workers for these tables, neither for queries nor for index
 * builds (plan_create_index_workers honours rel_parallel_workers).
 */
static void
columnar_get_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent,
						   RelOptInfo *rel)
{
	if (prev_get_relation_info_hook)
		prev_get_relation_info_hook(root, relationObjectId, inhparent, rel);
	if (columnar_relation_is_columnar(relationObjectId))
	{
		rel->rel_parallel_workers = 0;
		columnar_cost_indexes(rel);
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

void
columnar_scan_init(void)
{
	prev_get_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = columnar_get_relation_info;
	RegisterCustomScanMethods(&plan_methods);
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = columnar_set_rel_pathlist;
	columnar_vagg_init();
}
