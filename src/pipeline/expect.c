/*
 * expect.c
 *		A pipeline's expectations over the rows of a batch (after late rows
 *		and duplicates are out, before the query): warn counts, drop counts
 *		and removes (into the quarantine table when set), fail raises and so
 *		rolls the whole batch back.
 *
 * A row violates an expectation when its check is not true: false, or NULL
 * (a check that cannot say the row is valid does not let it pass; this is
 * stricter than a CHECK constraint on purpose, a NULL temperature is not a
 * valid temperature).  All checks are counted in one pass over the batch.
 * The checks are the owner's SQL: they run as the owner (the whole batch
 * does) under the pipeline's stored search_path, set like a function's SET
 * clause for these statements only; create_pipeline has already refused a
 * check that is not exactly one boolean expression.  The batch table is
 * aliased "batch" in every statement, so a check may say batch.col, as the
 * query does.  A row that violates
 * several drop expectations is quarantined once, with the first of them (in
 * the order of the definition) as _expectation; each expectation counts it.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "mb/pg_wchar.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "pipeline/batch_internal.h"

#define ROW_TEXT_MAX 1000

static const char *
action_name(PipelineViolation v)
{
	switch (v)
	{
		case PIPELINE_VIOLATION_WARN:
			return "warn";
		case PIPELINE_VIOLATION_DROP:
			return "drop";
		case PIPELINE_VIOLATION_FAIL:
			return "fail";
	}
	return "?";
}

/* "(check) IS NOT TRUE": the row violates it */
static char *
violates(PipelineExpectation *e)
{
	return psprintf("((%s) IS NOT TRUE)", e->check);
}

/* pipeline_batches.expectations of these counts (one per expectation) */
char *
expect_json(PipelineDef *def, const int64 *counts)
{
	StringInfoData json;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&json);
	appendStringInfoChar(&json, '{');
	foreach(lc, def->expectations)
	{
		PipelineExpectation *e = lfirst(lc);

		if (i > 0)
			appendStringInfoString(&json, ", ");
		escape_json(&json, e->name);
		appendStringInfo(&json, ": {\"failed\": " INT64_FORMAT ", \"action\": \"%s\"}",
						 counts[i], action_name(e->on_violation));
		i++;
	}
	appendStringInfoChar(&json, '}');
	return json.data;
}

/* No "fail" expectation: the batch may run as one statement (batch.c). */
bool
expect_none_fail(PipelineDef *def)
{
	ListCell   *lc;

	foreach(lc, def->expectations)
		if (((PipelineExpectation *) lfirst(lc))->on_violation == PIPELINE_VIOLATION_FAIL)
			return false;
	return true;
}

/*
 * For the single-statement batch: "count(*) FILTER (WHERE <violates e>)"
 * for each expectation, then the count of the rows a drop expectation
 * takes out, as a select list over rows aliased "batch"; *drop_cond is the
 * condition of those rows (NULL without drop expectations).  With and_cond,
 * only the rows where it holds count (batch.c counts the kept rows in its
 * scan of all rows read).
 */
char *
expect_count_list(PipelineDef *def, char **drop_cond, const char *and_cond)
{
	const char *and = and_cond ? psprintf("(%s) AND ", and_cond) : "";
	StringInfoData sel;
	StringInfoData cond;
	ListCell   *lc;

	initStringInfo(&sel);
	initStringInfo(&cond);
	foreach(lc, def->expectations)
	{
		PipelineExpectation *e = lfirst(lc);

		appendStringInfo(&sel, "pg_catalog.count(*) FILTER (WHERE %s%s), ", and, violates(e));
		if (e->on_violation != PIPELINE_VIOLATION_DROP)
			continue;
		if (cond.len > 0)
			appendStringInfoString(&cond, " OR ");
		appendStringInfoString(&cond, violates(e));
	}
	*drop_cond = cond.len > 0 ? cond.data : NULL;
	/* no drop expectation: nothing dropped, and no aggregate to count it per row */
	if (*drop_cond)
		appendStringInfo(&sel, "pg_catalog.count(*) FILTER (WHERE %s%s)", and, *drop_cond);
	else
		appendStringInfoString(&sel, "0::pg_catalog.int8");
	return sel.data;
}

/*
 * "INSERT INTO <quarantine> (...) SELECT ... FROM <from> batch WHERE <a drop
 * expectation fails>", $1 the previous watermark; NULL without a quarantine
 * table or drop expectations.
 */
char *
expect_quarantine_sql(PipelineBatch *b, List *columns, const char *from)
{
	PipelineDef *def = b->def;
	StringInfoData which;
	StringInfoData ins;
	StringInfoData sel;
	char	   *cond;
	char	   *quarantine;
	ListCell   *lc;

	(void) expect_count_list(def, &cond, NULL);
	if (def->quarantine == NULL || cond == NULL)
		return NULL;
	initStringInfo(&which);
	appendStringInfoString(&which, "CASE");
	foreach(lc, def->expectations)
	{
		PipelineExpectation *e = lfirst(lc);

		if (e->on_violation == PIPELINE_VIOLATION_DROP)
			appendStringInfo(&which, " WHEN %s THEN %s", violates(e), quote_literal_cstr(e->name));
	}
	appendStringInfoString(&which, " END");

	quarantine = batch_resolve_table(def, def->quarantine, "quarantine");
	initStringInfo(&ins);
	initStringInfo(&sel);
	appendStringInfo(&ins, "INSERT INTO %s (%s", quarantine, batch_column_list(columns, ""));
	appendStringInfoString(&sel, batch_column_list(columns, ""));
	if (batch_relation_has_column(quarantine, "_pipeline"))
	{
		appendStringInfoString(&ins, ", _pipeline");
		appendStringInfo(&sel, ", %s", quote_literal_cstr(def->name));
	}
	if (batch_relation_has_column(quarantine, "_batch"))
	{
		appendStringInfoString(&ins, ", _batch");
		appendStringInfo(&sel, ", " INT64_FORMAT, b->batch);
	}
	if (batch_relation_has_column(quarantine, "_watermark"))
	{
		appendStringInfoString(&ins, ", _watermark");
		appendStringInfoString(&sel, ", $1::pg_catalog.timestamptz");
	}
	if (batch_relation_has_column(quarantine, "_expectation"))
	{
		appendStringInfoString(&ins, ", _expectation");
		appendStringInfo(&sel, ", %s", which.data);
	}
	appendStringInfo(&ins, ") SELECT %s FROM %s batch WHERE %s", sel.data, from, cond);
	return ins.data;
}

char *
expect_apply(PipelineBatch *b, List *columns, int64 *failures, int64 *dropped)
{
	PipelineDef *def = b->def;
	int			n = list_length(def->expectations);
	int64	   *counts;
	StringInfoData sql;
	ListCell   *lc;
	int			i;
	int			level;
	bool		any_drop = false;

	*failures = 0;
	*dropped = 0;
	if (n == 0)
		return "{}";

	level = NewGUCNestLevel();
	(void) set_config_option("search_path", def->search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	counts = palloc0(sizeof(int64) * n);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	i = 0;
	foreach(lc, def->expectations)
	{
		if (i++ > 0)
			appendStringInfoString(&sql, ", ");
		appendStringInfo(&sql, "pg_catalog.count(*) FILTER (WHERE %s)", violates(lfirst(lc)));
	}
	appendStringInfoString(&sql, " FROM pg_temp." PIPELINE_BATCH_TABLE " batch");
	batch_spi(sql.data, 0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);

		counts[i] = isnull ? 0 : DatumGetInt64(d);
		*failures += counts[i];
	}

	/* fail: the first failing one, in the order of the definition */
	i = 0;
	foreach(lc, def->expectations)
	{
		PipelineExpectation *e = lfirst(lc);

		if (e->on_violation == PIPELINE_VIOLATION_FAIL && counts[i] > 0)
		{
			char	   *row;

			row = batch_spi_text(psprintf("SELECT ROW(%s)::pg_catalog.text FROM pg_temp."
										  PIPELINE_BATCH_TABLE " batch WHERE %s LIMIT 1",
										  batch_column_list(columns, ""), violates(e)),
								 0, NULL, NULL, NULL);
			if (row == NULL)
				row = "?";
			if (strlen(row) > ROW_TEXT_MAX)
				row = psprintf("%.*s...", pg_mbcliplen(row, strlen(row), ROW_TEXT_MAX), row);
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("expectation \"%s\" of pipeline \"%s\" failed for " INT64_FORMAT " row(s)",
							e->name, def->name, counts[i]),
					 errdetail("Failing row: %s", row),
					 errhint("Fix the source rows or alter the expectation, then resume or run the pipeline again.")));
		}
		if (e->on_violation == PIPELINE_VIOLATION_DROP && counts[i] > 0)
			any_drop = true;
		i++;
	}

	if (any_drop)
	{
		char	   *cond;
		char	   *ins;

		(void) expect_count_list(def, &cond, NULL);
		ins = expect_quarantine_sql(b, columns, "pg_temp." PIPELINE_BATCH_TABLE);
		if (ins != NULL)
		{
			Oid			types[1] = {TIMESTAMPTZOID};
			Datum		values[1] = {TimestampTzGetDatum(b->prev_watermark)};
			char		nulls[1] = {b->has_prev_watermark ? ' ' : 'n'};

			batch_spi(ins, 1, types, values, nulls, SPI_OK_INSERT);
		}
		*dropped = batch_spi(psprintf("DELETE FROM pg_temp." PIPELINE_BATCH_TABLE " batch WHERE %s",
									  cond),
							 0, NULL, NULL, NULL, SPI_OK_DELETE);
	}

	AtEOXact_GUC(true, level);

	return expect_json(def, counts);
}
