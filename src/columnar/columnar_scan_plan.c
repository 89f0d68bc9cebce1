/*
 * columnar_scan_plan.c
 *		Planning of the VersionedColumnarScan custom scan (executed by
 *		columnar_scan.c): its paths, serial, parallel and of as_of() calls,
 *		their costs with segment skipping, the restriction clauses it turns
 *		into skip keys, and the plan node.  The planner hooks also keep
 *		versioned_columnar tables out of parallel plans where a worker could
 *		not see the leader's buffered rows.
 *
 * The plan's custom_private is (columns read, flattened skip keys: attnum,
 * strategy, cmp proc, collation per key), its custom_exprs the key values.
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

static void extract_keys(RelOptInfo *rel, Relation relation, List *clauses, List **info,
						 List **exprs);
static AttrNumber var_attnum(Node *expr, Index relid);

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;
static get_relation_info_hook_type prev_get_relation_info_hook = NULL;

static Plan *columnar_plan_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
								List *tlist, List *clauses, List *custom_plans);

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
	if (storage_id == 0)
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
		/*
		 * More than 2000 live segments: reading their statistics at plan
		 * time would cost too much.  The reader counts the live segments
		 * (through the removed_version index, so that the segments an
		 * OPTIMIZE removed cost planning nothing) only when the row counter
		 * does not bound them (micro-batches each take a whole reservation
		 * of row numbers, and OPTIMIZE's new rows move it on).
		 */
		ColumnarReader *reader = columnar_reader_begin_limited(relation, GetActiveSnapshot(),
															   keys, 2000);

		if (reader != NULL)
		{
			result = Max(columnar_reader_unrefuted_fraction(reader), 0.001);
			columnar_reader_end(reader);
		}
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
	cscan->methods = &columnar_scan_plan_methods;
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
	cscan->methods = &columnar_scan_plan_methods;
	return &cscan->scan.plan;
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

void
columnar_scan_init(void)
{
	prev_get_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = columnar_get_relation_info;
	RegisterCustomScanMethods(&columnar_scan_plan_methods);
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = columnar_set_rel_pathlist;
	columnar_vagg_init();
}
