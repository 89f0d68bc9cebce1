/*
 * emit.c
 *		The end of a micro-batch: run the pipeline's query over the relation
 *		"batch" and write its result into the target, by column name; and,
 *		at create and alter time, check that this will work.
 *
 * The query never runs on its own: it is wrapped as
 *
 *		WITH batch AS (SELECT <source columns> FROM pg_temp._streamext_batch)
 *		INSERT INTO target AS _streamext_target (<result columns>)
 *		SELECT * FROM (<query>) _streamext_q [ON CONFLICT (key) DO UPDATE ...]
 *
 * so a query with its own WITH works (it is a subquery), "batch" shadows any
 * table of that name, and the result goes into the target by name.  With a
 * window, window.c defines "batch" instead (rows plus window_start and
 * window_end).  The query runs with the search_path stored at create time,
 * as the pipeline's owner (the caller, batch.c, already runs as the owner).
 *
 * Validation analyzes the same wrapper, with "batch" reading the source
 * itself (parse analysis only, nothing runs), so a typo in a column, a
 * result column the target lacks or a missing unique key fail at create
 * time with a clear message rather than at the first batch.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parser.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "pipeline/emit.h"

/* A column of the query's result. */
typedef struct ResultColumn
{
	char	   *name;
	Oid			type;
	int32		typmod;
} ResultColumn;

/* What analysis tells about the user's query. */
typedef struct QueryShape
{
	List	   *result;			/* ResultColumn * */
	bool		aggregates;		/* aggregates, GROUP BY or HAVING */
	bool		groups_unwindowed;	/* GROUP BY over "batch" directly, without
									 * window_start or window_end */
} QueryShape;

List *
emit_batch_columns(Oid relid)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *cols = NIL;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		EmitColumn *c;

		if (att->attisdropped ||
			strcmp(NameStr(att->attname), PIPELINE_TRACK_COLUMN) == 0 ||
			strcmp(NameStr(att->attname), PIPELINE_ET_COLUMN) == 0)
			continue;
		c = palloc(sizeof(EmitColumn));
		c->name = pstrdup(NameStr(att->attname));
		c->type = att->atttypid;
		c->typmod = att->atttypmod;
		c->collation = att->attcollation;
		cols = lappend(cols, c);
	}
	relation_close(rel, AccessShareLock);
	return cols;
}

char *
emit_column_list(List *cols, const char *prefix)
{
	StringInfoData s;
	ListCell   *lc;

	initStringInfo(&s);
	foreach(lc, cols)
	{
		EmitColumn *c = lfirst(lc);

		appendStringInfo(&s, "%s%s%s", s.len > 0 ? ", " : "",
						 prefix ? prefix : "", quote_identifier(c->name));
	}
	return s.data;
}

char *
emit_query_text(PipelineDef *def)
{
	List	   *raw;
	RawStmt    *rs;
	SelectStmt *sel;
	int			len;

	if (def->query == NULL)
		return pstrdup("SELECT * FROM batch");

	raw = raw_parser(def->query, RAW_PARSE_DEFAULT);
	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pipeline query must be exactly one SELECT statement"),
				 errdetail("The query of pipeline \"%s\" has %d statements.",
						   def->name, list_length(raw))));
	rs = linitial_node(RawStmt, raw);
	if (!IsA(rs->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pipeline query must be a SELECT statement, not %s",
						GetCommandTagName(CreateCommandTag(rs->stmt))),
				 errhint("The pipeline writes the query's result into its target itself.")));
	sel = (SelectStmt *) rs->stmt;
	if (sel->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pipeline query must not use SELECT INTO"),
				 errhint("The pipeline writes the query's result into its target itself.")));
	if (sel->withClause != NULL)
	{
		ListCell   *lc;

		foreach(lc, sel->withClause->ctes)
		{
			CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

			if (!IsA(cte->ctequery, SelectStmt))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("pipeline query must not modify data"),
						 errdetail("WITH query \"%s\" is %s.", cte->ctename,
								   GetCommandTagName(CreateCommandTag(cte->ctequery)))));
		}
	}
	/* the statement's own text: no trailing semicolon inside our wrapper */
	len = rs->stmt_len > 0 ? rs->stmt_len : (int) strlen(def->query) - rs->stmt_location;
	return pnstrdup(def->query + rs->stmt_location, len);
}

int
emit_push_search_path(PipelineDef *def)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", def->search_path,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	return nestlevel;
}

void
emit_pop_search_path(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
}

static char *
qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

typedef struct ParseErrorArg
{
	const char *query;
	int			offset;			/* characters before query in the analyzed text */
	int			len;
} ParseErrorArg;

/*
 * A parse error's position is one in the wrapper we analyze, which the
 * client never saw: report it as a position in the pipeline's query.
 */
static void
parse_error_callback(void *arg)
{
	ParseErrorArg *perr = (ParseErrorArg *) arg;
	int			pos = geterrposition();

	if (pos <= 0)
		return;
	errposition(0);
	/* positions count characters from 1 */
	pos -= perr->offset;
	if (pos >= 1 && pos <= pg_mbstrlen_with_len(perr->query, perr->len) + 1)
	{
		internalerrposition(pos);
		internalerrquery(perr->query);
	}
}

/*
 * Does the aggregating query sub group by window_start or window_end of
 * "batch" (attributes ncols + 1 and ncols + 2 of the CTE)?  Only a query that
 * reads "batch" directly is judged; through subqueries or with grouping sets
 * we cannot tell and say yes.
 */
static bool
groups_by_window(Query *sub, int ncols)
{
	ListCell   *lc;
	bool		reads_batch = false;

	if (sub->groupingSets != NIL)
		return true;
	foreach(lc, sub->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (rte->rtekind == RTE_CTE && rte->ctelevelsup == 1 &&
			strcmp(rte->ctename, "batch") == 0)
			reads_batch = true;
		else if (rte->rtekind == RTE_SUBQUERY || rte->rtekind == RTE_CTE)
			return true;
	}
	if (!reads_batch)
		return true;
	foreach(lc, sub->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *te = get_sortgroupclause_tle(sgc, sub->targetList);
		Var		   *var = (Var *) te->expr;
		RangeTblEntry *rte;

		if (!IsA(var, Var) || var->varlevelsup != 0)
			continue;
		rte = rt_fetch(var->varno, sub->rtable);
		if (rte->rtekind == RTE_JOIN)
			return true;		/* a merged column of USING: cannot tell */
		if (rte->rtekind == RTE_CTE && strcmp(rte->ctename, "batch") == 0 &&
			(var->varattno == ncols + 1 || var->varattno == ncols + 2))
			return true;
	}
	return false;
}

/*
 * Analyze the user's query over "batch" = SELECT cols FROM from_sql (plus
 * NULL window bounds for a windowed pipeline: only their type matters here),
 * with the pipeline's search_path; parse analysis only.
 */
static QueryShape *
analyze_query(PipelineDef *def, List *cols, const char *from_sql,
			  const char *query)
{
	StringInfoData sql;
	List	   *raw;
	Query	   *outer;
	Query	   *sub;
	RangeTblRef *rtr;
	RangeTblEntry *rte;
	QueryShape *shape = palloc0(sizeof(QueryShape));
	ListCell   *lc;
	int			nestlevel;
	ParseErrorArg perr;
	ErrorContextCallback errcb;

	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH batch AS (SELECT %s", emit_column_list(cols, NULL));
	if (def->window_type != PIPELINE_WINDOW_NONE)
		appendStringInfoString(&sql, ", NULL::pg_catalog.timestamptz AS window_start, NULL::pg_catalog.timestamptz AS window_end");
	appendStringInfo(&sql, " FROM %s) SELECT * FROM (\n%s\n) _streamext_q", from_sql, query);

	/* an error in the query points into the query, not into the wrapper */
	perr.query = query;
	perr.offset = pg_mbstrlen_with_len(sql.data, sql.len - strlen(query) - strlen("\n) _streamext_q"));
	perr.len = strlen(query);
	errcb.callback = parse_error_callback;
	errcb.arg = &perr;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	nestlevel = emit_push_search_path(def);
	raw = raw_parser(sql.data, RAW_PARSE_DEFAULT);
	outer = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql.data,
									  NULL, 0, NULL);
	emit_pop_search_path(nestlevel);
	error_context_stack = errcb.previous;

	rtr = linitial_node(RangeTblRef, outer->jointree->fromlist);
	rte = rt_fetch(rtr->rtindex, outer->rtable);
	Assert(rte->rtekind == RTE_SUBQUERY);
	sub = rte->subquery;
	shape->aggregates = sub->hasAggs || sub->groupClause != NIL ||
		sub->groupingSets != NIL || sub->havingQual != NULL;
	if (shape->aggregates && def->window_type != PIPELINE_WINDOW_NONE)
		shape->groups_unwindowed = !groups_by_window(sub, list_length(cols));
	foreach(lc, sub->targetList)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);
		ResultColumn *rc;

		if (te->resjunk)
			continue;
		rc = palloc(sizeof(ResultColumn));
		rc->name = pstrdup(te->resname);
		rc->type = exprType((Node *) te->expr);
		rc->typmod = exprTypmod((Node *) te->expr);
		shape->result = lappend(shape->result, rc);
	}
	return shape;
}

static bool
result_has(List *result, const char *name)
{
	ListCell   *lc;

	foreach(lc, result)
		if (strcmp(((ResultColumn *) lfirst(lc))->name, name) == 0)
			return true;
	return false;
}

/*
 * Update mode's key: the columns of the target's primary key, else of the
 * first unique index, whose columns are all result columns (plain columns, no
 * predicate, not deferrable: what ON CONFLICT can use as its arbiter).  NIL
 * when there is none.
 */
static List *
update_key(Relation target, List *result)
{
	List	   *indexes = RelationGetIndexList(target);
	List	   *best = NIL;
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		Form_pg_index ind;
		List	   *names = NIL;
		bool		usable;

		if (!HeapTupleIsValid(tup))
			continue;
		ind = (Form_pg_index) GETSTRUCT(tup);
		usable = ind->indisunique && ind->indimmediate && ind->indisvalid &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL);
		for (int i = 0; usable && i < ind->indnkeyatts; i++)
		{
			char	   *att = get_attname(RelationGetRelid(target),
										  ind->indkey.values[i], false);

			if (!result_has(result, att))
				usable = false;
			names = lappend(names, att);
		}
		if (usable && (best == NIL || ind->indisprimary))
			best = names;
		ReleaseSysCache(tup);
		if (usable && ind->indisprimary)
			break;
	}
	list_free(indexes);
	return best;
}

static char *
result_list(List *result)
{
	StringInfoData s;
	ListCell   *lc;

	initStringInfo(&s);
	foreach(lc, result)
		appendStringInfo(&s, "%s%s", s.len > 0 ? ", " : "",
						 quote_identifier(((ResultColumn *) lfirst(lc))->name));
	return s.data;
}

static void
no_update_key_error(PipelineDef *def, Relation target, List *result)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
			 errmsg("update mode needs a primary key or unique index on target \"%s\" over columns of the query's result",
					RelationGetRelationName(target)),
			 errdetail("Update mode replaces the target's row of each group; the query of pipeline \"%s\" returns the columns %s.",
					   def->name, result_list(result)),
			 errhint("Create a unique index on the group columns, for example CREATE UNIQUE INDEX ON %s (window_start, device_id).",
					 qualified_name(RelationGetRelid(target)))));
}

/* Check the query's result against the target. */
static void
check_result(PipelineDef *def, QueryShape *shape)
{
	Relation	target = relation_open(def->target, AccessShareLock);
	StringInfoData missing;
	int			nmissing = 0;
	ListCell   *lc;

	initStringInfo(&missing);
	foreach(lc, shape->result)
	{
		ResultColumn *rc = lfirst(lc);
		AttrNumber	attnum;
		ListCell   *lc2;

		foreach(lc2, shape->result)
		{
			if (lc2 == lc)
				break;
			if (strcmp(((ResultColumn *) lfirst(lc2))->name, rc->name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("pipeline query returns column \"%s\" more than once", rc->name),
						 errhint("Result columns go into the target by name; give each one its own name with AS.")));
		}
		attnum = get_attnum(def->target, rc->name);
		if (attnum == InvalidAttrNumber || attnum < 0)
		{
			appendStringInfo(&missing, "%s%s", nmissing > 0 ? ", " : "",
							 quote_identifier(rc->name));
			nmissing++;
			continue;
		}
		else
		{
			Form_pg_attribute att = TupleDescAttr(RelationGetDescr(target), attnum - 1);

			if (rc->type != UNKNOWNOID &&
				!can_coerce_type(1, &rc->type, &att->atttypid, COERCION_ASSIGNMENT))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("target column \"%s\" is of type %s but the pipeline query returns %s",
								rc->name, format_type_be(att->atttypid),
								format_type_be(rc->type)),
						 errhint("Cast the result column in the query.")));
		}
	}
	if (nmissing > 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target \"%s\" has no column%s %s of the pipeline query's result",
						RelationGetRelationName(target), nmissing > 1 ? "s" : "",
						missing.data),
				 errhint("Result columns go into the target by name: name them like the target's columns (expr AS column), or add the columns to the target.")));

	if (shape->aggregates && def->window_type == PIPELINE_WINDOW_NONE)
	{
		if (def->mode == PIPELINE_MODE_APPEND)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("append mode needs a window for aggregations"),
					 errdetail("Append mode writes each result row once, when it is final; an aggregate without a window is never final."),
					 errhint("Add a \"window\" option and GROUP BY window_start (e.g. {\"window\": {\"type\": \"tumble\", \"width\": \"1 hour\"}}), or use \"mode\": \"update\" with a window for running aggregates.")));
		else
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("update mode needs a window for aggregations"),
					 errdetail("Without a window every row would have to be kept forever to recompute its group."),
					 errhint("Add a \"window\" option and GROUP BY window_start.")));
	}
	if (shape->groups_unwindowed)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a windowed aggregation must group by window_start or window_end"),
				 errdetail("Without the window in GROUP BY, a result row would mix the windows that happen to close in one micro-batch."),
				 errhint("Add window_start (and window_end) to the GROUP BY and the result of pipeline \"%s\".", def->name)));
	if (def->mode == PIPELINE_MODE_UPDATE && update_key(target, shape->result) == NIL)
		no_update_key_error(def, target, shape->result);
	relation_close(target, AccessShareLock);
}

void
pipeline_emit_validate(PipelineDef *def)
{
	List	   *cols = emit_batch_columns(def->source);
	char	   *query = emit_query_text(def);
	QueryShape *shape;

	window_validate(def, cols);
	shape = analyze_query(def, cols, qualified_name(def->source), query);
	check_result(def, shape);
}

/*
 * INSERT INTO target (result columns) SELECT * FROM (query), with update
 * mode's upsert on the target's key.
 */
static char *
insert_sql(PipelineDef *def, QueryShape *shape, const char *query)
{
	StringInfoData s;
	Relation	target = relation_open(def->target, AccessShareLock);

	initStringInfo(&s);
	appendStringInfo(&s, "INSERT INTO %s AS _streamext_target (%s) SELECT * FROM (\n%s\n) _streamext_q",
					 qualified_name(def->target), result_list(shape->result), query);
	if (def->mode == PIPELINE_MODE_UPDATE)
	{
		List	   *key = update_key(target, shape->result);
		ListCell   *lc;
		bool		first = true;
		bool		comparable = true;
		StringInfoData lhs;
		StringInfoData rhs;
		Form_pg_attribute att;

		initStringInfo(&lhs);
		initStringInfo(&rhs);
		/* the target changed since create_pipeline */
		if (key == NIL)
			no_update_key_error(def, target, shape->result);
		appendStringInfoString(&s, " ON CONFLICT (");
		foreach(lc, key)
			appendStringInfo(&s, "%s%s", lc == list_head(key) ? "" : ", ",
							 quote_identifier(lfirst(lc)));
		appendStringInfoString(&s, ") DO ");
		foreach(lc, shape->result)
		{
			ResultColumn *rc = lfirst(lc);
			ListCell   *lk;
			bool		iskey = false;

			foreach(lk, key)
				if (strcmp(lfirst(lk), rc->name) == 0)
					iskey = true;
			if (iskey)
				continue;
			appendStringInfo(&s, "%s%s = EXCLUDED.%s", first ? "UPDATE SET " : ", ",
							 quote_identifier(rc->name), quote_identifier(rc->name));
			appendStringInfo(&lhs, "%s_streamext_target.%s", first ? "" : ", ",
							 quote_identifier(rc->name));
			appendStringInfo(&rhs, "%sEXCLUDED.%s", first ? "" : ", ",
							 quote_identifier(rc->name));
			att = TupleDescAttr(RelationGetDescr(target),
								get_attnum(def->target, rc->name) - 1);
			if (!OidIsValid(lookup_type_cache(att->atttypid, TYPECACHE_EQ_OPR)->eq_opr))
				comparable = false;
			first = false;
		}
		if (first)
			appendStringInfoString(&s, "NOTHING");
		else if (comparable)
		{
			/*
			 * A window the batch touched may keep a group's values (another
			 * group of it changed): leave that row alone, so a gold table's
			 * change feed shows only real changes.
			 */
			appendStringInfo(&s, " WHERE (%s) IS DISTINCT FROM (%s)", lhs.data, rhs.data);
		}
	}
	relation_close(target, AccessShareLock);
	return s.data;
}

/*
 * The INSERT of the query's result into the target, for a batch that has
 * no temporary table (batch.c's single statement, no window): "batch" is
 * a CTE with the source's columns, so the query is analyzed over the
 * source, as at create time.
 */
char *
pipeline_emit_insert_sql(PipelineDef *def)
{
	List	   *cols = emit_batch_columns(def->source);
	char	   *query = emit_query_text(def);
	QueryShape *shape = analyze_query(def, cols, qualified_name(def->source), query);

	return insert_sql(def, shape, query);
}

void
pipeline_emit(PipelineBatch *b)
{
	PipelineDef *def = b->def;
	Oid			batchrel;
	List	   *cols;
	char	   *query;
	QueryShape *shape;
	char	   *insert;
	int			nestlevel;
	int64		rows;

	batchrel = RangeVarGetRelid(makeRangeVar("pg_temp", PIPELINE_BATCH_TABLE, -1),
								NoLock, false);
	cols = emit_batch_columns(batchrel);
	query = emit_query_text(def);
	shape = analyze_query(def, cols, "pg_temp." PIPELINE_BATCH_TABLE, query);
	insert = insert_sql(def, shape, query);

	nestlevel = emit_push_search_path(def);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (def->window_type != PIPELINE_WINDOW_NONE)
		rows = window_emit(b, cols, insert);
	else
	{
		char	   *sql = psprintf("WITH batch AS (SELECT %s FROM pg_temp.%s) %s",
								   emit_column_list(cols, NULL),
								   PIPELINE_BATCH_TABLE, insert);

		if (SPI_execute(sql, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "pipeline \"%s\": writing the target failed", def->name);
		rows = (int64) SPI_processed;
	}
	SPI_finish();
	emit_pop_search_path(nestlevel);
	b->rows_out = rows;
}
