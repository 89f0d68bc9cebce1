/*
 * columnar_vagg_plan.c
 *		Planning of the vectorized aggregation: the upper-planner hook that
 *		recognises an aggregation over one versioned_columnar table (or an
 *		as_of() read of one) and adds a VectorizedAgg custom path doing the
 *		scan and the aggregation in one node — in place of the Aggregate
 *		over the scan, and of the Partial Aggregate under a Gather.
 *
 * The path is offered only when everything the query asks of the
 * aggregation is something the node does exactly as PostgreSQL would:
 * the aggregates of columnar_vagg_agg.c on plain columns (no FILTER,
 * DISTINCT, ORDER BY), GROUP BY plain columns of hashable types, WHERE
 * clauses that are all comparisons of a column with a value (or IS [NOT]
 * NULL), HAVING on the aggregates.  Anything else keeps today's plan.  The
 * path competes on cost with the others, so it is taken when cheaper.
 * streamext.enable_vectorized_agg switches it off.
 */
#include "postgres.h"

#include "columnar/columnar.h"
#include "columnar/columnar_vagg.h"

#include "access/nbtree.h"
#include "access/table.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "miscadmin.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planner.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/selfuncs.h"
#include "utils/typcache.h"

static bool enable_vectorized_agg = true;
static create_upper_paths_hook_type prev_upper_paths_hook = NULL;

static Plan *vagg_plan_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
							List *tlist, List *clauses, List *custom_plans);

static const CustomPathMethods vagg_path_methods = {
	.CustomName = "VectorizedAgg",
	.PlanCustomPath = vagg_plan_path,
};

/* What the checks found, carried in the path's custom_private. */
typedef struct VaggPlanInfo
{
	Index		relid;			/* range table index of the scanned rel */
	Oid			tableoid;
	bool		as_of;
	bool		is_time;
	Node	   *version_arg;
	List	   *group_attnums;
	List	   *aggrefs;		/* distinct Aggrefs of target and HAVING */
	List	   *agg_info;		/* kind, attnum, argtype, collation per Aggref */
	List	   *filter_info;	/* attnum, strategy, cmp proc, collation */
	List	   *filter_values;
	List	   *filter_clauses;
	List	   *having;
} VaggPlanInfo;

static AttrNumber
plain_var(Node *expr, Index relid)
{
	if (expr && IsA(expr, Var) && ((Var *) expr)->varno == relid &&
		((Var *) expr)->varattno > 0 && ((Var *) expr)->varlevelsup == 0)
		return ((Var *) expr)->varattno;
	return InvalidAttrNumber;
}

/*
 * A WHERE clause as a filter on vectors (and a skip key): the scan's skip
 * keys, column op value with op of the column type's btree family, or
 * IS [NOT] NULL.
 */
static bool
add_filter(VaggPlanInfo *info, Node *clause, TupleDesc tupdesc)
{
	return columnar_clause_skip_key(clause, info->relid, tupdesc, &info->filter_info,
									&info->filter_values);
}

/* An aggregate call the node computes exactly. */
static bool
add_aggref(VaggPlanInfo *info, Aggref *aggref, bool partial, TupleDesc tupdesc)
{
	VaggKind	kind;
	Oid			argtype;
	AttrNumber	attnum = 0;

	if (list_member(info->aggrefs, aggref))
		return true;
	if (aggref->aggsplit != (partial ? AGGSPLIT_INITIAL_SERIAL : AGGSPLIT_SIMPLE) ||
		aggref->aggfilter != NULL || aggref->aggdistinct != NIL || aggref->aggorder != NIL ||
		aggref->aggkind != AGGKIND_NORMAL || aggref->agglevelsup != 0 ||
		aggref->aggvariadic || aggref->aggdirectargs != NIL)
		return false;
	if (!vagg_supported(aggref->aggfnoid, &kind, &argtype))
		return false;
	if (kind == VAGG_COUNT_STAR)
	{
		if (aggref->args != NIL)
			return false;
	}
	else
	{
		TargetEntry *tle;

		if (list_length(aggref->args) != 1)
			return false;
		tle = linitial(aggref->args);
		attnum = plain_var((Node *) tle->expr, info->relid);
		if (attnum == InvalidAttrNumber || attnum > tupdesc->natts)
			return false;
		if (kind == VAGG_COUNT)
			argtype = TupleDescAttr(tupdesc, attnum - 1)->atttypid;
		else if (TupleDescAttr(tupdesc, attnum - 1)->atttypid != argtype)
			return false;
		/* min/max of text: the comparison is the aggregate's collation's */
	}
	info->aggrefs = lappend(info->aggrefs, aggref);
	info->agg_info = lappend_int(info->agg_info, kind);
	info->agg_info = lappend_int(info->agg_info, attnum);
	info->agg_info = lappend_int(info->agg_info, argtype);
	info->agg_info = lappend_int(info->agg_info, aggref->inputcollid);
	return true;
}

/* Aggrefs and plain group columns only, in exprs. */
static bool
collect_target(VaggPlanInfo *info, List *exprs, bool partial, TupleDesc tupdesc)
{
	List	   *items = pull_var_clause((Node *) exprs, PVC_INCLUDE_AGGREGATES |
										PVC_INCLUDE_PLACEHOLDERS | PVC_INCLUDE_WINDOWFUNCS);
	ListCell   *lc;

	foreach(lc, items)
	{
		Node	   *n = lfirst(lc);

		if (IsA(n, Aggref))
		{
			if (!add_aggref(info, (Aggref *) n, partial, tupdesc))
				return false;
		}
		else if (IsA(n, Var))
		{
			AttrNumber	attnum = plain_var(n, info->relid);

			if (attnum == InvalidAttrNumber || !list_member_int(info->group_attnums, attnum))
				return false;
		}
		else
			return false;		/* GROUPING(), placeholders, window functions */
	}
	return true;
}

/*
 * The VectorizedAgg path computing target (group keys and Aggrefs, SIMPLE
 * or partial ones) from the scan path in (serial, or the parallel-aware
 * twin when partial) of input_rel; NULL when the query asks for anything
 * the node cannot do exactly.
 */
static CustomPath *
make_vagg_path(PlannerInfo *root, RelOptInfo *input_rel, RelOptInfo *output_rel,
			   PathTarget *target, Path *in, bool partial, Node *having_qual)
{
	Query	   *parse = root->parse;
	VaggPlanInfo info;
	RangeTblEntry *rte;
	Relation	rel;
	TupleDesc	tupdesc;
	ListCell   *lc;
	List	   *group_exprs = NIL;
	double		ngroups;
	double		rows;
	CustomPath *cpath;
	Cost		run_cost;
	bool		count_meta;
	int			nkeys;
	int			naggs;

	if (in == NULL || !IsA(in, CustomPath) || in->param_info != NULL ||
		in->parallel_aware != partial ||
		strcmp(((CustomPath *) in)->methods->CustomName, "VersionedColumnarScan") != 0)
		return NULL;
	memset(&info, 0, sizeof(info));
	info.relid = bms_singleton_member(input_rel->relids);
	rte = planner_rt_fetch(info.relid, root);
	if (rte->rtekind == RTE_RELATION)
	{
		if ((rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_MATVIEW) ||
			rte->inh || rte->tablesample || !columnar_relation_is_columnar(rte->relid))
			return NULL;
		info.tableoid = rte->relid;
	}
	else if (rte->rtekind == RTE_FUNCTION)
	{
		info.tableoid = columnar_as_of_table(rte, &info.version_arg, &info.is_time);
		if (!OidIsValid(info.tableoid) || !bms_is_empty(input_rel->lateral_relids))
			return NULL;
		info.as_of = true;
	}
	else
		return NULL;

	rel = table_open(info.tableoid, NoLock);
	tupdesc = RelationGetDescr(rel);

	/* GROUP BY: plain columns, hashed by the type's default equality */
	foreach(lc, parse->groupClause)
	{
		SortGroupClause *sgc = lfirst(lc);
		Node	   *expr = (Node *) get_sortgroupclause_expr(sgc, parse->targetList);
		AttrNumber	attnum = plain_var(expr, info.relid);
		TypeCacheEntry *tc;

		if (attnum == InvalidAttrNumber || attnum > tupdesc->natts || !sgc->hashable)
			goto fallback;
		tc = lookup_type_cache(exprType(expr), TYPECACHE_EQ_OPR | TYPECACHE_HASH_PROC);
		if (tc->eq_opr != sgc->eqop || !OidIsValid(tc->hash_proc) ||
			exprCollation(expr) != TupleDescAttr(tupdesc, attnum - 1)->attcollation)
			goto fallback;
		if (!list_member_int(info.group_attnums, attnum))
			info.group_attnums = lappend_int(info.group_attnums, attnum);
		group_exprs = lappend(group_exprs, expr);
	}

	/* WHERE: every clause a vector filter */
	foreach(lc, input_rel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst(lc);

		if (ri->pseudoconstant || ri->security_level > 0 ||
			!add_filter(&info, (Node *) ri->clause, tupdesc))
			goto fallback;
		info.filter_clauses = lappend(info.filter_clauses, ri->clause);
	}

	if (!collect_target(&info, target->exprs, partial, tupdesc))
		goto fallback;
	if (!partial && having_qual)
	{
		List	   *having = (List *) having_qual;

		if (!IsA(having, List))
			having = list_make1(having);
		if (contain_subplans((Node *) having) || contain_volatile_functions((Node *) having) ||
			!collect_target(&info, having, false, tupdesc))
			goto fallback;
		info.having = having;
	}
	table_close(rel, NoLock);

	/* cost: the scan's I/O and decoding, a fraction of its per-row CPU */
	nkeys = list_length(info.group_attnums);
	naggs = list_length(info.aggrefs);
	count_meta = nkeys == 0 && info.filter_info == NIL;
	foreach(lc, info.agg_info)
		if (foreach_current_index(lc) % 4 == 0 && lfirst_int(lc) != VAGG_COUNT_STAR)
			count_meta = false;
	rows = in->rows;
	ngroups = nkeys == 0 ? 1 :
		estimate_num_groups(root, group_exprs, partial ? rows * 2 : rows, NULL, NULL);
	/* the groups stay in memory (no spilling, unlike a hash aggregate) */
	if (ngroups * (sizeof(VaggState) * naggs + (sizeof(Datum) + 24) * nkeys + 16) >
		(double) get_hash_memory_limit())
		return NULL;
	/*
	 * The scan's cost is mostly reading and decoding chunks, which stays;
	 * the per-row work of returning tuples and calling transition functions
	 * becomes a few operations per value.
	 */
	if (count_meta)
		run_cost = (in->total_cost - in->startup_cost) * 0.02;
	else
		run_cost = (in->total_cost - in->startup_cost) * 0.4 +
			rows * cpu_operator_cost * 0.1 * (nkeys + naggs + list_length(info.filter_clauses));
	run_cost = Max(run_cost, 0) + ngroups * cpu_operator_cost * (1 + naggs);

	cpath = makeNode(CustomPath);
	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = output_rel;
	cpath->path.pathtarget = target;
	cpath->path.param_info = NULL;
	cpath->path.parallel_aware = partial;
	cpath->path.parallel_safe = partial;
	cpath->path.parallel_workers = partial ? in->parallel_workers : 0;
	cpath->path.rows = clamp_row_est(Min(ngroups, Max(rows, 1)));
	cpath->path.startup_cost = in->startup_cost + run_cost;
	cpath->path.total_cost = cpath->path.startup_cost + cpath->path.rows * cpu_tuple_cost;
	cpath->path.pathkeys = NIL;
	cpath->flags = 0;
	cpath->custom_paths = NIL;
	cpath->custom_private = list_make4(list_make5_int(info.relid, info.tableoid, info.as_of,
													  info.is_time, partial ? 1 : 0),
									   list_make2(info.group_attnums, info.aggrefs),
									   list_make3(info.agg_info, info.filter_info,
												  info.filter_values),
									   list_make3(info.filter_clauses, info.having,
												  info.version_arg ? list_make1(info.version_arg) : NIL));
	linitial(cpath->custom_private) = lappend_int(linitial(cpath->custom_private),
												  count_meta ? 1 : 0);
	cpath->methods = &vagg_path_methods;
	return cpath;

fallback:
	table_close(rel, NoLock);
	return NULL;
}

/* A shallow copy of a path node of the kinds a Finalize Aggregate sits on. */
static Path *
copy_chain_node(Path *p, Path ***subpath)
{
	Path	   *c;
	Size		sz;

	switch (nodeTag(p))
	{
		case T_AggPath:
			sz = sizeof(AggPath);
			break;
		case T_SortPath:
			sz = sizeof(SortPath);
			break;
		case T_IncrementalSortPath:
			sz = sizeof(IncrementalSortPath);
			break;
		case T_GatherPath:
			sz = sizeof(GatherPath);
			break;
		case T_GatherMergePath:
			sz = sizeof(GatherMergePath);
			break;
		default:
			return NULL;
	}
	c = palloc(sz);
	memcpy(c, p, sz);
	switch (nodeTag(p))
	{
		case T_AggPath:
			*subpath = &((AggPath *) c)->subpath;
			break;
		case T_SortPath:
		case T_IncrementalSortPath:
			*subpath = &((SortPath *) c)->subpath;
			break;
		case T_GatherPath:
			*subpath = &((GatherPath *) c)->subpath;
			break;
		default:
			*subpath = &((GatherMergePath *) c)->subpath;
			break;
	}
	return c;
}

static Path *
chain_subpath(Path *p)
{
	switch (nodeTag(p))
	{
		case T_AggPath:
			return ((AggPath *) p)->subpath;
		case T_SortPath:
		case T_IncrementalSortPath:
			return ((SortPath *) p)->subpath;
		case T_GatherPath:
			return ((GatherPath *) p)->subpath;
		case T_GatherMergePath:
			return ((GatherMergePath *) p)->subpath;
		default:
			return NULL;
	}
}

/*
 * Parallel plans: PostgreSQL 15 has no hook for partially grouped paths, so
 * each Finalize Aggregate path of the grouped rel whose partial side is a
 * Partial Aggregate over our parallel scan (through Sort, Gather or Gather
 * Merge) gets a twin where a partial VectorizedAgg replaces that Partial
 * Aggregate, costed with the difference.
 */
static void
add_parallel_twins(PlannerInfo *root, RelOptInfo *input_rel, RelOptInfo *output_rel)
{
	List	   *candidates = list_copy(output_rel->pathlist);
	ListCell   *lc;

	foreach(lc, candidates)
	{
		Path	   *top = lfirst(lc);
		Path	   *p;
		Path	   *partial_agg = NULL;
		CustomPath *vpath;
		Path	   *newtop = NULL;
		Path	  **link = &newtop;
		Cost		delta;

		if (!IsA(top, AggPath) || ((AggPath *) top)->aggsplit != AGGSPLIT_FINAL_DESERIAL)
			continue;
		for (p = chain_subpath(top); p != NULL; p = chain_subpath(p))
		{
			if (IsA(p, AggPath))
			{
				if (((AggPath *) p)->aggsplit == AGGSPLIT_INITIAL_SERIAL)
					partial_agg = p;
				break;
			}
			if (!IsA(p, SortPath) && !IsA(p, IncrementalSortPath) &&
				!IsA(p, GatherPath) && !IsA(p, GatherMergePath))
				break;
		}
		if (partial_agg == NULL)
			continue;
		vpath = make_vagg_path(root, input_rel, partial_agg->parent, partial_agg->pathtarget,
							   ((AggPath *) partial_agg)->subpath, true, NULL);
		if (vpath == NULL || vpath->path.total_cost >= partial_agg->total_cost)
			continue;
		delta = partial_agg->total_cost - vpath->path.total_cost;
		for (p = top; p != partial_agg; p = chain_subpath(p))
		{
			Path	  **next;
			Path	   *c = copy_chain_node(p, &next);

			c->startup_cost = Max(c->startup_cost - delta, 0);
			c->total_cost -= delta;
			*link = c;
			link = next;
		}
		*link = &vpath->path;
		add_path(output_rel, newtop);
	}
}

static void
vagg_upper_paths(PlannerInfo *root, UpperRelationKind stage, RelOptInfo *input_rel,
				 RelOptInfo *output_rel, void *extra)
{
	Query	   *parse = root->parse;
	GroupPathExtraData *gextra = extra;
	CustomPath *cpath;

	if (prev_upper_paths_hook)
		prev_upper_paths_hook(root, stage, input_rel, output_rel, extra);
	if (!enable_vectorized_agg || stage != UPPERREL_GROUP_AGG)
		return;
	if (parse->groupingSets != NIL || parse->hasTargetSRFs || !parse->hasAggs ||
		input_rel->reloptkind != RELOPT_BASEREL ||
		bms_membership(input_rel->relids) != BMS_SINGLETON ||
		(gextra && gextra->patype != PARTITIONWISE_AGGREGATE_NONE))
		return;
	if (input_rel->partial_pathlist != NIL)
		add_parallel_twins(root, input_rel, output_rel);
	cpath = make_vagg_path(root, input_rel, output_rel, output_rel->reltarget,
						   input_rel->cheapest_total_path, false,
						   gextra ? gextra->havingQual : NULL);
	if (cpath)
		add_path(output_rel, &cpath->path);
}

/* The filters as EXPLAIN shows them: deparsed against the table alone. */
static char *
deparse_filters(List *clauses, Index relid, Oid tableoid)
{
	Node	   *expr = (Node *) make_ands_explicit(copyObject(clauses));

	if (relid != 1)
		ChangeVarNodes(expr, relid, 1, 0);
	return deparse_expression(expr, deparse_context_for(get_rel_name(tableoid), tableoid),
							  false, false);
}

static Plan *
vagg_plan_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
			   List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	List	   *p0 = linitial(best_path->custom_private);
	List	   *p1 = lsecond(best_path->custom_private);
	List	   *p2 = lthird(best_path->custom_private);
	List	   *p3 = lfourth(best_path->custom_private);
	Index		relid = list_nth_int(p0, 0);
	Oid			tableoid = list_nth_int(p0, 1);
	bool		as_of = list_nth_int(p0, 2) != 0;
	List	   *group_attnums = linitial(p1);
	List	   *aggrefs = lsecond(p1);
	List	   *filter_clauses = linitial(p3);
	List	   *having = lsecond(p3);
	List	   *scan_tlist = NIL;
	ListCell   *lc;
	Relation	table = table_open(tableoid, NoLock);
	TupleDesc	tupdesc = RelationGetDescr(table);

	/* the node's own tuple: group keys, then aggregates */
	foreach(lc, group_attnums)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, lfirst_int(lc) - 1);

		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry((Expr *) makeVar(relid, att->attnum, att->atttypid,
															  att->atttypmod, att->attcollation, 0),
											 list_length(scan_tlist) + 1, NULL, false));
	}
	foreach(lc, aggrefs)
		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry((Expr *) copyObject(lfirst(lc)),
											 list_length(scan_tlist) + 1, NULL, false));
	table_close(table, NoLock);

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = having ? copyObject(having) : NIL;
	cscan->scan.scanrelid = as_of ? 0 : relid;
	cscan->flags = 0;
	cscan->custom_scan_tlist = scan_tlist;
	cscan->custom_private = list_make5(list_make5_int(tableoid, as_of, list_nth_int(p0, 3),
													  list_nth_int(p0, 4), list_nth_int(p0, 5)),
									   group_attnums, linitial(p2), lsecond(p2),
									   makeString(filter_clauses ?
												  deparse_filters(filter_clauses, relid, tableoid) :
												  pstrdup("")));
	cscan->custom_exprs = list_concat(copyObject(lthird(p2)), copyObject(lthird(p3)));
	cscan->methods = &vagg_plan_methods;
	return &cscan->scan.plan;
}

void
columnar_vagg_init(void)
{
	DefineCustomBoolVariable("streamext.enable_vectorized_agg",
							 "Plans aggregations over versioned_columnar tables as VectorizedAgg.",
							 "The VectorizedAgg node aggregates decoded column vectors "
							 "instead of rows; off keeps the Aggregate over the scan.",
							 &enable_vectorized_agg, true, PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterCustomScanMethods(&vagg_plan_methods);
	prev_upper_paths_hook = create_upper_paths_hook;
	create_upper_paths_hook = vagg_upper_paths;
}
