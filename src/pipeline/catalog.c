/*
 * catalog.c
 *		Reading a pipeline from streamext.pipelines into a PipelineDef, and
 *		the parsing and checking of its options.
 *
 * The options are parsed in one place (pipeline_def_parse) for everyone:
 * create_pipeline and alter_pipeline (ddl.c), the validation trigger of the
 * catalog (streamext._check_pipeline, so that direct DML obeys the same
 * rules), and every load by a worker or run_pipeline.  An unknown key or a
 * bad value is an error naming the pipeline and the option, with a hint
 * listing what is valid.  Column names in options are the columns' exact
 * names (as JSON keys name columns in ingest), not SQL identifiers.
 *
 * An expectation's check is spliced into the batch's SQL, so it must be ONE
 * boolean expression and nothing else: it is parsed as the only target of
 * "SELECT (<check>)" and refused unless that is exactly what the parse tree
 * holds (so "true); DROP TABLE x; --" and "true) FROM t WHERE (true" fail),
 * then planned as a WHERE clause over the source's columns (the relation
 * "batch") to catch unknown columns, non-boolean types, aggregates and
 * set-returning functions at create time instead of in the first batch.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "columnar/columnar.h"
#include "pipeline/pipeline_internal.h"
#include "stream/stream.h"

PG_FUNCTION_INFO_V1(streamext_check_pipeline);

#define OPTION_KEYS "event_time, watermark, dedup_keys, late_rows, quarantine, expectations, window, mode, trigger, max_batch_rows, start_from"
#define WINDOW_KEYS "type, width, slide, gap, keys, origin"
#define EXPECTATION_KEYS "name, check, on_violation"

static const char *const option_keys[] = {
	"event_time", "watermark", "dedup_keys", "late_rows", "quarantine", "expectations",
	"window", "mode", "trigger", "max_batch_rows", "start_from", NULL
};
static const char *const window_keys[] = {
	"type", "width", "slide", "gap", "keys", "origin", NULL
};
static const char *const expectation_keys[] = {"name", "check", "on_violation", NULL};

/* ---------------------------------------------------------------- */
/* JSON helpers												*/
/* ---------------------------------------------------------------- */

/* The value of key in object container c, or NULL when absent or JSON null. */
static JsonbValue *
json_get(JsonbContainer *c, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(c, key, strlen(key), NULL);

	if (v != NULL && v->type == jbvNull)
		return NULL;
	return v;
}

static bool
json_is_object(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
json_is_array(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

static char *
json_cstring(JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Refuse keys of object c not in valid[] (what: "pipeline option", "window option") */
static void
check_keys(JsonbContainer *c, const char *const *valid, const char *what,
		   const char *valid_list, const char *pipeline)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		bool		found = false;

		if (tok != WJB_KEY)
			continue;
		key = json_cstring(&v);
		for (int i = 0; valid[i]; i++)
			if (strcmp(valid[i], key) == 0)
				found = true;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown %s \"%s\" of pipeline \"%s\"", what, key, pipeline),
					 errhint("Valid keys: %s.", valid_list)));
	}
}

/* A string value or a clear error. */
static char *
want_string(JsonbValue *v, const char *what, const char *pipeline, const char *hint)
{
	if (v->type != jbvString || v->val.string.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of pipeline \"%s\" must be a non-empty string", what, pipeline),
				 errhint("%s", hint)));
	return json_cstring(v);
}

/* An interval from its text, refusing what the event-time functions refuse. */
static Interval
want_interval(JsonbValue *v, const char *what, const char *pipeline, bool allow_zero,
			  char **text)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *s = want_string(v, what, pipeline, "Give an interval such as '10 minutes'.");
	Interval   *iv = NULL;
	char	   *label;

	PG_TRY();
	{
		iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* interval_in holds no resources: the error can be replaced */
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of pipeline \"%s\" must be an interval, not \"%s\"", what, pipeline, s),
				 errdetail("%s", edata->message),
				 errhint("Give an interval such as '10 minutes'.")));
	}
	PG_END_TRY();

	label = psprintf("%s of pipeline \"%s\"", what, pipeline);
	(void) stream_interval_usecs(iv, label, allow_zero);
	*text = s;
	return *iv;
}

/* ---------------------------------------------------------------- */
/* Columns of the source										*/
/* ---------------------------------------------------------------- */

/* The type of source column colname, or an error naming the option. */
static Oid
source_column(Relation src, const char *colname, const char *what, const char *pipeline)
{
	TupleDesc	desc = RelationGetDescr(src);

	if (strcmp(colname, PIPELINE_TRACK_COLUMN) != 0)
	{
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!att->attisdropped && strcmp(NameStr(att->attname), colname) == 0)
				return att->atttypid;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("%s of pipeline \"%s\": column \"%s\" does not exist in source table %s",
					what, pipeline, colname,
					quote_qualified_identifier(get_namespace_name(RelationGetNamespace(src)),
											   RelationGetRelationName(src))),
			 errhint("Name a column of the source exactly as it is spelled (case matters, no quotes).")));
	return InvalidOid;
}

/* A JSON array of distinct column names (a single string is one name). */
static List *
want_columns(JsonbValue *v, Relation src, const char *what, const char *pipeline)
{
	List	   *cols = NIL;

	if (v->type == jbvString)
	{
		char	   *c = want_string(v, what, pipeline, "");

		if (src)
			(void) source_column(src, c, what, pipeline);
		return list_make1(c);
	}
	if (!json_is_array(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of pipeline \"%s\" must be an array of column names", what, pipeline),
				 errhint("For example [\"device_id\", \"event_time\"].")));
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	e;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			char	   *c;
			ListCell   *lc;

			if (tok != WJB_ELEM)
				continue;
			c = want_string(&e, what, pipeline, "Every element is a column name.");
			foreach(lc, cols)
				if (strcmp(lfirst(lc), c) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("%s of pipeline \"%s\" names column \"%s\" twice", what, pipeline, c)));
			if (src)
				(void) source_column(src, c, what, pipeline);
			cols = lappend(cols, c);
		}
	}
	if (cols == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of pipeline \"%s\" must name at least one column", what, pipeline)));
	return cols;
}

/* ---------------------------------------------------------------- */
/* Expectations													*/
/* ---------------------------------------------------------------- */

/*
 * Refuse a check that is not exactly one expression: the parse of
 * "SELECT (<check>)" must be one plain SELECT whose only part is one unnamed
 * target.  (The parentheses close on the same line, so a trailing "--"
 * comment swallows them and fails too.)
 */
void
pipeline_check_expression_syntax(const char *check, const char *what, const char *pipeline)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *stmts = NIL;
	SelectStmt *sel = NULL;
	bool		ok = false;
	const char *p;

	for (p = check; *p && isspace((unsigned char) *p); p++)
		;
	if (*p == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of pipeline \"%s\" is empty", what, pipeline),
				 errhint("A check is one boolean expression over the source's columns, such as temperature BETWEEN -50 AND 150.")));

	/* a syntax error's position would point into text the caller never wrote */
	PG_TRY();
	{
		stmts = raw_parser(psprintf("SELECT (%s)", check), RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* the raw parser holds no resources but memory: the error can be replaced */
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("%s of pipeline \"%s\" must be one boolean expression, nothing else", what, pipeline),
				 errdetail("Got: %s (%s)", check, edata->message),
				 errhint("A check such as temperature BETWEEN -50 AND 150; no statement separators, clauses or comments.")));
	}
	PG_END_TRY();
	if (list_length(stmts) == 1 &&
		IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt))
	{
		sel = (SelectStmt *) linitial_node(RawStmt, stmts)->stmt;
		ok = sel->op == SETOP_NONE &&
			sel->distinctClause == NIL && sel->intoClause == NULL &&
			list_length(sel->targetList) == 1 &&
			((ResTarget *) linitial(sel->targetList))->name == NULL &&
			sel->fromClause == NIL && sel->whereClause == NULL &&
			sel->groupClause == NIL && sel->havingClause == NULL &&
			sel->windowClause == NIL && sel->valuesLists == NIL &&
			sel->sortClause == NIL && sel->limitOffset == NULL &&
			sel->limitCount == NULL && sel->lockingClause == NIL &&
			sel->withClause == NULL;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of pipeline \"%s\" must be one boolean expression, nothing else", what, pipeline),
				 errdetail("Got: %s", check),
				 errhint("A check such as temperature BETWEEN -50 AND 150; no statement separators, clauses or comments.")));
}

typedef struct CheckContext
{
	const char *what;
	const char *pipeline;
} CheckContext;

static void
check_error_context(void *arg)
{
	CheckContext *c = arg;

	errcontext("%s of pipeline \"%s\"", c->what, c->pipeline);
}

/* The source's columns as the batch has them, for planning checks. */
static char *
batch_columns_sql(Relation src)
{
	TupleDesc	desc = RelationGetDescr(src);
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), PIPELINE_TRACK_COLUMN) == 0)
			continue;
		appendStringInfo(&buf, "%s%s", first ? "" : ", ", quote_identifier(NameStr(att->attname)));
		first = false;
	}
	if (first)
		appendStringInfoString(&buf, "NULL::pg_catalog.int4 AS \"?\"");
	return buf.data;
}

/*
 * Plan each check as the WHERE clause of a query over the source's columns
 * (relation "batch"), with the pipeline's search_path, as the caller (who is
 * the owner at create and alter).  Nothing is executed.
 */
static void
plan_checks(PipelineDef *def, Relation src)
{
	ListCell   *lc;
	char	   *from;
	int			gucnest;

	if (def->expectations == NIL)
		return;
	from = psprintf("(SELECT %s FROM %s) AS batch", batch_columns_sql(src),
					quote_qualified_identifier(get_namespace_name(RelationGetNamespace(src)),
											   RelationGetRelationName(src)));
	gucnest = NewGUCNestLevel();
	(void) set_config_option("search_path", def->search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	foreach(lc, def->expectations)
	{
		PipelineExpectation *e = lfirst(lc);
		ErrorContextCallback cb;
		CheckContext cc;

		cc.what = psprintf("check of expectation \"%s\"", e->name);
		cc.pipeline = def->name;
		cb.callback = check_error_context;
		cb.arg = &cc;
		cb.previous = error_context_stack;
		error_context_stack = &cb;
		if (SPI_prepare(psprintf("SELECT FROM %s WHERE (%s)", from, e->check), 0, NULL) == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		error_context_stack = cb.previous;
	}
	SPI_finish();
	AtEOXact_GUC(true, gucnest);
}

static List *
parse_expectations(JsonbValue *v, const char *pipeline)
{
	List	   *result = NIL;
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;

	if (!json_is_array(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"expectations\" of pipeline \"%s\" must be an array of objects", pipeline),
				 errhint("For example [{\"name\": \"valid_temp\", \"check\": \"temperature BETWEEN -50 AND 150\", \"on_violation\": \"drop\"}].")));
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		PipelineExpectation *x;
		JsonbValue *f;
		ListCell   *lc;

		if (tok != WJB_ELEM)
			continue;
		if (!json_is_object(&e))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("each expectation of pipeline \"%s\" must be an object", pipeline),
					 errhint("Keys: %s.", EXPECTATION_KEYS)));
		check_keys(e.val.binary.data, expectation_keys, "expectation key", EXPECTATION_KEYS, pipeline);
		x = palloc0(sizeof(PipelineExpectation));
		f = json_get(e.val.binary.data, "name");
		if (f == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("an expectation of pipeline \"%s\" has no name", pipeline),
					 errhint("Keys: %s.", EXPECTATION_KEYS)));
		x->name = want_string(f, "expectation name", pipeline, "Name it, such as \"valid_temp\".");
		foreach(lc, result)
			if (strcmp(((PipelineExpectation *) lfirst(lc))->name, x->name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("pipeline \"%s\" has two expectations named \"%s\"", pipeline, x->name)));
		f = json_get(e.val.binary.data, "check");
		if (f == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("expectation \"%s\" of pipeline \"%s\" has no check", x->name, pipeline),
					 errhint("A check is one boolean expression over the source's columns.")));
		x->check = want_string(f, psprintf("check of expectation \"%s\"", x->name), pipeline,
							   "A check is one boolean expression over the source's columns.");
		pipeline_check_expression_syntax(x->check, psprintf("check of expectation \"%s\"", x->name),
										 pipeline);
		x->on_violation = PIPELINE_VIOLATION_WARN;
		f = json_get(e.val.binary.data, "on_violation");
		if (f != NULL)
		{
			char	   *s = (f->type == jbvString) ? json_cstring(f) : "";

			if (strcmp(s, "warn") == 0)
				x->on_violation = PIPELINE_VIOLATION_WARN;
			else if (strcmp(s, "drop") == 0)
				x->on_violation = PIPELINE_VIOLATION_DROP;
			else if (strcmp(s, "fail") == 0)
				x->on_violation = PIPELINE_VIOLATION_FAIL;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("on_violation of expectation \"%s\" of pipeline \"%s\" must be \"warn\", \"drop\" or \"fail\"",
								x->name, pipeline),
						 errhint("warn keeps and counts the row, drop removes it (into the quarantine table when set), fail stops the pipeline.")));
		}
		result = lappend(result, x);
	}
	return result;
}

/* ---------------------------------------------------------------- */
/* Window															*/
/* ---------------------------------------------------------------- */

static void
not_for_window(JsonbContainer *w, const char *key, const char *type, const char *pipeline)
{
	if (json_get(w, key) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window option \"%s\" of pipeline \"%s\" does not apply to %s windows", key, pipeline, type),
				 errhint("tumble: width, origin; hop: width, slide, origin; session: gap, keys.")));
}

static JsonbValue *
required_for_window(JsonbContainer *w, const char *key, const char *type, const char *pipeline)
{
	JsonbValue *v = json_get(w, key);

	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a %s window of pipeline \"%s\" needs \"%s\"", type, pipeline, key),
				 errhint("For example {\"type\": \"tumble\", \"width\": \"1 hour\"}, {\"type\": \"hop\", \"width\": \"1 hour\", \"slide\": \"10 minutes\"} or {\"type\": \"session\", \"gap\": \"5 minutes\"}.")));
	return v;
}

static void
parse_window(PipelineDef *def, JsonbValue *v, Relation src)
{
	JsonbContainer *w;
	JsonbValue *f;
	char	   *type;
	const char *pipeline = def->name;

	if (!json_is_object(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"window\" of pipeline \"%s\" must be an object", pipeline),
				 errhint("For example {\"type\": \"tumble\", \"width\": \"1 hour\"}.")));
	w = v->val.binary.data;
	check_keys(w, window_keys, "window option", WINDOW_KEYS, pipeline);
	f = json_get(w, "type");
	type = (f != NULL && f->type == jbvString) ? json_cstring(f) : "";
	if (strcmp(type, "tumble") == 0)
		def->window_type = PIPELINE_WINDOW_TUMBLE;
	else if (strcmp(type, "hop") == 0)
		def->window_type = PIPELINE_WINDOW_HOP;
	else if (strcmp(type, "session") == 0)
		def->window_type = PIPELINE_WINDOW_SESSION;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window type of pipeline \"%s\" must be \"tumble\", \"hop\" or \"session\"", pipeline),
				 errhint("For example {\"type\": \"tumble\", \"width\": \"1 hour\"}.")));
	if (def->event_time == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the window of pipeline \"%s\" needs option \"event_time\"", pipeline),
				 errhint("Windows are over event time: name the event-time column.")));

	if (def->window_type == PIPELINE_WINDOW_SESSION)
	{
		not_for_window(w, "width", type, pipeline);
		not_for_window(w, "slide", type, pipeline);
		not_for_window(w, "origin", type, pipeline);
		def->window_gap = want_interval(required_for_window(w, "gap", type, pipeline),
										"window gap", pipeline, false, &def->window_gap_text);
		f = json_get(w, "keys");
		if (f != NULL)
			def->window_keys = want_columns(f, src, "window keys", pipeline);
		return;
	}

	not_for_window(w, "gap", type, pipeline);
	not_for_window(w, "keys", type, pipeline);
	def->window_width = want_interval(required_for_window(w, "width", type, pipeline),
									  "window width", pipeline, false, &def->window_width_text);
	if (def->window_type == PIPELINE_WINDOW_HOP)
	{
		int64		width = stream_interval_usecs(&def->window_width, "window width", false);
		int64		slide;

		def->window_slide = want_interval(required_for_window(w, "slide", type, pipeline),
										  "window slide", pipeline, false, &def->window_slide_text);
		slide = stream_interval_usecs(&def->window_slide, "window slide", false);
		if (slide > width)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("window slide of pipeline \"%s\" must not be larger than its width", pipeline),
					 errhint("A hop window of width W sliding by S needs S <= W.")));
		if (width / slide > 1000)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("window width / slide of pipeline \"%s\" must be at most 1000", pipeline),
					 errhint("Every row enters width / slide windows.")));
	}
	else
		not_for_window(w, "slide", type, pipeline);

	f = json_get(w, "origin");
	if (f != NULL)
	{
		MemoryContext cxt = CurrentMemoryContext;
		char	   *s = want_string(f, "window origin", pipeline, "A timestamp with time zone, such as '2024-01-01 00:00+00'.");

		PG_TRY();
		{
			/* a time without a zone is UTC, whatever the session's TimeZone */
			int			nest = NewGUCNestLevel();

			pipeline_pin_time_settings();
			def->window_origin = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
																		 ObjectIdGetDatum(InvalidOid),
																		 Int32GetDatum(-1)));
			AtEOXact_GUC(true, nest);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("window origin of pipeline \"%s\" must be a timestamp, not \"%s\"", pipeline, s),
					 errdetail("%s", edata->message)));
		}
		PG_END_TRY();
		stream_check_finite(def->window_origin, "window origin");
		def->has_origin = true;
		def->window_origin_text = s;
	}
}

/* ---------------------------------------------------------------- */
/* All options													*/
/* ---------------------------------------------------------------- */

/*
 * Fill def's parsed fields from def->options, checking them against the
 * source (its columns; opened here) and, with check_expressions, planning the
 * expectations' checks (create, alter, the catalog trigger; not each load).
 */
/*
 * A pipeline's results must not depend on the session that runs a batch
 * (run_pipeline in any session, or the worker with the server's settings): a
 * timestamp without time zone (an event-time column of that type, a window
 * origin without an offset, the query's own casts) is read in UTC, and
 * times print and parse in one style.  Called after NewGUCNestLevel(), for
 * each batch and for parsing the origin; the caller's settings come back
 * with AtEOXact_GUC, or with the transaction's end on an error.
 */
void
pipeline_pin_time_settings(void)
{
	(void) set_config_option("TimeZone", "UTC", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("DateStyle", "ISO, MDY", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("IntervalStyle", "postgres", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
pipeline_def_parse(PipelineDef *def, bool check_expressions)
{
	JsonbContainer *o = &def->options->root;
	JsonbValue *v;
	Relation	src;
	const char *pipeline = def->name;
	char		relkind = get_rel_relkind(def->source);

	if (!JB_ROOT_IS_OBJECT(def->options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the options of pipeline \"%s\" must be a JSON object", pipeline),
				 errhint("Valid keys: %s.", OPTION_KEYS)));
	check_keys(o, option_keys, "option", OPTION_KEYS, pipeline);

	/* its owner may drop a table another role's pipeline reads (the drop guard) */
	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the source table of pipeline \"%s\" does not exist any more",
						pipeline),
				 errhint("Drop the pipeline: SELECT streamext.drop_pipeline(%s);",
						 quote_literal_cstr(pipeline))));
	if (get_rel_relkind(def->target) == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the target table of pipeline \"%s\" does not exist any more",
						pipeline),
				 errhint("Drop the pipeline: SELECT streamext.drop_pipeline(%s);",
						 quote_literal_cstr(pipeline))));
	if (columnar_relation_is_columnar(def->source))
		def->source_kind = PIPELINE_SOURCE_COLUMNAR;
	else if (relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE)
		def->source_kind = PIPELINE_SOURCE_HEAP;
	else
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the source of pipeline \"%s\" must be a table", pipeline),
				 errdetail("%s is not a heap, partitioned or versioned_columnar table.",
						   get_rel_name(def->source) ? quote_identifier(get_rel_name(def->source)) : "it"),
				 errhint("A pipeline reads the rows inserted into a table; a view has none.")));

	src = table_open(def->source, AccessShareLock);

	def->event_time = NULL;
	if ((v = json_get(o, "event_time")) != NULL)
	{
		Oid			t;

		def->event_time = want_string(v, "option \"event_time\"", pipeline,
									  "The name of a timestamptz column of the source.");
		t = source_column(src, def->event_time, "option \"event_time\"", pipeline);
		if (t != TIMESTAMPTZOID && t != TIMESTAMPOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("event-time column \"%s\" of pipeline \"%s\" must be of type timestamptz or timestamp, not %s",
							def->event_time, pipeline, format_type_be(t)),
					 errhint("Add a timestamptz column computed from it to the source, or cast it in the source.")));
	}

	def->has_watermark = false;
	if ((v = json_get(o, "watermark")) != NULL)
	{
		def->watermark = want_interval(v, "option \"watermark\"", pipeline, true, &def->watermark_text);
		def->has_watermark = true;
		if (def->event_time == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"watermark\" of pipeline \"%s\" needs option \"event_time\"", pipeline),
					 errhint("The watermark follows the largest event time seen, minus the delay.")));
	}

	def->dedup_keys = NIL;
	if ((v = json_get(o, "dedup_keys")) != NULL)
	{
		def->dedup_keys = want_columns(v, src, "option \"dedup_keys\"", pipeline);
		if (!def->has_watermark)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"dedup_keys\" of pipeline \"%s\" needs options \"event_time\" and \"watermark\"", pipeline),
					 errhint("Duplicates are dropped within the watermark delay: the state of a key is kept until the watermark passes its first event time plus the delay.")));
	}

	def->late_rows = NULL;
	if ((v = json_get(o, "late_rows")) != NULL)
		def->late_rows = want_string(v, "option \"late_rows\"", pipeline, "A table name, such as \"silver_late\".");
	def->quarantine = NULL;
	if ((v = json_get(o, "quarantine")) != NULL)
		def->quarantine = want_string(v, "option \"quarantine\"", pipeline, "A table name, such as \"silver_quarantine\".");

	def->expectations = NIL;
	if ((v = json_get(o, "expectations")) != NULL)
		def->expectations = parse_expectations(v, pipeline);

	def->window_type = PIPELINE_WINDOW_NONE;
	def->window_keys = NIL;
	def->has_origin = false;
	if ((v = json_get(o, "window")) != NULL)
		parse_window(def, v, src);

	def->mode = PIPELINE_MODE_APPEND;
	if ((v = json_get(o, "mode")) != NULL)
	{
		char	   *s = (v->type == jbvString) ? json_cstring(v) : "";

		if (strcmp(s, "update") == 0)
			def->mode = PIPELINE_MODE_UPDATE;
		else if (strcmp(s, "append") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"mode\" of pipeline \"%s\" must be \"append\" or \"update\"", pipeline),
					 errhint("append writes each window once, when it is final; update rewrites the windows each batch touched.")));
	}

	def->trigger = PIPELINE_TRIGGER_INTERVAL;
	def->trigger_interval_ms = 1000;
	if ((v = json_get(o, "trigger")) != NULL)
	{
		char	   *s = (v->type == jbvString) ? json_cstring(v) : NULL;

		if (s && strcmp(s, "manual") == 0)
			def->trigger = PIPELINE_TRIGGER_MANUAL;
		else if (s && strcmp(s, "available_now") == 0)
			def->trigger = PIPELINE_TRIGGER_AVAILABLE_NOW;
		else
		{
			char	   *text;
			Interval	iv;

			if (s == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"trigger\" of pipeline \"%s\" must be a string", pipeline),
						 errhint("An interval such as '1 second', '0' (as soon as rows arrive), 'manual' or 'available_now'.")));
			iv = want_interval(v, "option \"trigger\"", pipeline, true, &text);
			/* at most 100 years: milliseconds of it fit anywhere */
			if (iv.month != 0 || iv.day < 0 || iv.time < 0 || iv.day > 36500 ||
				iv.time > 36500 * USECS_PER_DAY)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"trigger\" of pipeline \"%s\" must be a zero or positive interval without months, not \"%s\"",
								pipeline, text),
						 errhint("An interval such as '1 second', '0' (as soon as rows arrive), 'manual' or 'available_now'.")));
			def->trigger_interval_ms = iv.day * (int64) 86400000 + iv.time / 1000;
		}
	}

	def->max_batch_rows = 0;
	if ((v = json_get(o, "max_batch_rows")) != NULL)
	{
		int64		n = 0;
		bool		ok = false;

		if (v->type == jbvNumeric)
		{
			char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
			char	   *end;

			errno = 0;
			n = strtoll(s, &end, 10);
			ok = (*end == '\0' && errno == 0 && n >= 1 && n <= 1000000000);
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"max_batch_rows\" of pipeline \"%s\" must be an integer between 1 and 1000000000", pipeline),
					 errhint("The most rows one micro-batch reads (backpressure).")));
		def->max_batch_rows = n;
	}

	def->start_latest = false;
	if ((v = json_get(o, "start_from")) != NULL)
	{
		char	   *s = (v->type == jbvString) ? json_cstring(v) : "";

		if (strcmp(s, "latest") == 0)
			def->start_latest = true;
		else if (strcmp(s, "earliest") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"start_from\" of pipeline \"%s\" must be \"earliest\" or \"latest\"", pipeline),
					 errhint("earliest reads the rows the source already has, latest only those inserted after create_pipeline.")));
	}

	if (check_expressions)
		plan_checks(def, src);
	table_close(src, AccessShareLock);
}

/* ---------------------------------------------------------------- */
/* Loading														*/
/* ---------------------------------------------------------------- */

static PipelineDef *
load(const char *where, Oid argtype, Datum arg, const char *label, bool missing_ok, bool parse)
{
	MemoryContext outer = CurrentMemoryContext;
	PipelineDef *def = NULL;
	int			gucnest;
	int			ret;

	gucnest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args(psprintf("SELECT id, name, owner::oid, source::oid, target::oid, query, "
										 "options, search_path, state FROM streamext.pipelines WHERE %s",
										 where),
								1, &argtype, &arg, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read streamext.pipelines: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		MemoryContextSwitchTo(outer);
		def = palloc0(sizeof(PipelineDef));
		def->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		def->name = SPI_getvalue(tup, desc, 2);
		def->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		def->source = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		def->target = DatumGetObjectId(SPI_getbinval(tup, desc, 5, &isnull));
		def->query = SPI_getvalue(tup, desc, 6);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		def->options = DatumGetJsonbPCopy(d);
		def->search_path = SPI_getvalue(tup, desc, 8);
		def->state = SPI_getvalue(tup, desc, 9);
	}
	if (def == NULL && !missing_ok && argtype == TEXTOID)
	{
		/* row-level security hides other roles' pipelines: say which it is */
		bool		isnull;

		ret = SPI_execute_with_args("SELECT streamext._pipeline_name_taken($1)",
									1, &argtype, &arg, NULL, false, 1);
		if (ret == SPI_OK_SELECT && SPI_processed == 1 &&
			DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of pipeline %s", label),
					 errhint("Only its owner (or a member of the owner role) and superusers may use or change a pipeline.")));
	}
	SPI_finish();
	AtEOXact_GUC(true, gucnest);

	if (def == NULL)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline %s does not exist", label),
				 errhint("streamext.pipeline_status lists the pipelines you own.")));
	}
	if (parse)
		pipeline_def_parse(def, false);
	return def;
}

PipelineDef *
pipeline_load(const char *name, bool missing_ok)
{
	return load("name = $1", TEXTOID, CStringGetTextDatum(name),
				psprintf("\"%s\"", name), missing_ok, true);
}

/*
 * The catalog row only: id, name, owner, source, target, query, options,
 * search_path, state; the parsed fields stay zero.  For what must work even
 * when the options no longer fit the source (a column was dropped): drop,
 * pause, resume, and recording an error.
 */
PipelineDef *
pipeline_load_unparsed(const char *name, bool missing_ok)
{
	return load("name = $1", TEXTOID, CStringGetTextDatum(name),
				psprintf("\"%s\"", name), missing_ok, false);
}

PipelineDef *
pipeline_load_by_id(int64 id, bool missing_ok)
{
	return load("id = $1", INT8OID, Int64GetDatum(id),
				psprintf("with id " INT64_FORMAT, id), missing_ok, true);
}

/*
 * streamext._check_pipeline(name, source, target, query, options,
 * search_path): the catalog trigger's check of a new or changed row, so that
 * direct DML on streamext.pipelines meets the checks of create_pipeline and
 * alter_pipeline.
 */
Datum
streamext_check_pipeline(PG_FUNCTION_ARGS)
{
	PipelineDef *def = palloc0(sizeof(PipelineDef));

	for (int i = 0; i < 6; i++)
		if (i != 3 && PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("streamext._check_pipeline: only the query may be null")));
	def->name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	def->source = PG_GETARG_OID(1);
	def->target = PG_GETARG_OID(2);
	def->query = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	def->options = PG_GETARG_JSONB_P(4);
	def->search_path = text_to_cstring(PG_GETARG_TEXT_PP(5));
	def->owner = GetUserId();
	def->state = "running";
	pipeline_def_parse(def, true);
	pipeline_emit_validate(def);
	PG_RETURN_VOID();
}
