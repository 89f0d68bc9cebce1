/*
 * sink_schema.c
 *		Changes of the target's shape that a source makes: merge_schema's new
 *		columns for top-level JSON keys the target does not have yet, and
 *		time_partition's partitions (time_partition.c does the work).
 *
 * A batch that needs either is rolled back: the columns or partitions are
 * made in a transaction of their own, then the batch is written again, so
 * its rows and offsets still commit together.
 */
#include "postgres.h"

#include "catalog/heap.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "ingest/sink_internal.h"

/* A column merge_schema adds for a new top-level JSON key. */
typedef struct NewColumn
{
	char	   *name;
	char	   *type;
} NewColumn;

/* merge_schema: note the columns for keys of msg the target does not have. */
void
sink_remember_new_columns(SinkState *ss, const IngestMessage *msg, List *keys)
{
	ListCell   *lc;

	foreach(lc, keys)
	{
		char	   *key = lfirst(lc);
		ListCell   *c;
		bool		known = false;
		const char *type;
		NewColumn  *nc;
		MemoryContext old;

		foreach(c, ss->new_columns)
		{
			if (strcmp(((NewColumn *) lfirst(c))->name, key) == 0)
				known = true;
		}
		foreach(c, ss->refused_columns)
		{
			if (strcmp((char *) lfirst(c), key) == 0)
				known = true;
		}

		/*
		 * No column can have a system column's name (xmin, ctid, ...); such a
		 * key is ignored like any key merge_schema cannot turn into a column.
		 */
		if (known || SystemAttributeByName(key) != NULL)
			continue;
		type = decoder_infer_type(ss->dec, msg, key);
		if (type == NULL)
			continue;
		old = MemoryContextSwitchTo(ss->cxt);
		nc = palloc(sizeof(NewColumn));
		nc->name = pstrdup(key);
		nc->type = pstrdup(type);
		ss->new_columns = lappend(ss->new_columns, nc);
		MemoryContextSwitchTo(old);
	}
}

bool
sink_schema_pending(SinkState *ss)
{
	return ss->new_columns != NIL || tpart_pending(ss->tp);
}

/* time_partition: premake and retention, once a minute; outside a transaction. */
void
sink_maintain(SinkState *ss)
{
	tpart_maintain(ss->tp, ss->source_name);
}

/* What retention waits for (a pipeline that has not read a partition), or NULL. */
const char *
sink_retention_wait(SinkState *ss)
{
	return tpart_retention_wait(ss->tp);
}

/* Run one utility statement through SPI (se_subxact_try's signature). */
static void
run_utility(void *arg)
{
	const char *sql = arg;
	int			ret = SPI_execute(sql, false, 0);

	if (ret != SPI_OK_UTILITY)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("merge_schema: %s failed: %s", sql, SPI_result_code_string(ret))));
}

/*
 * merge_schema: add the noted columns, in a transaction of their own, so the
 * batch can be retried.  Runs as the source's owner, who must own the table.
 */
void
sink_apply_schema(SinkState *ss)
{
	ListCell   *lc;
	Oid			types[3] = {OIDOID, TEXTOID, TEXTOID};
	SeXact		x;

	/* pinned until the commit: the type names of the new columns are pg_catalog's */
	se_xact_begin(&x, SE_XACT_SPI | SE_XACT_PIN_PATH, NULL);
	foreach(lc, ss->new_columns)
	{
		NewColumn  *nc = lfirst(lc);
		Datum		values[3];
		int			ret;
		char	   *sql;
		bool		isnull;
		ErrorData  *ed;

		values[0] = ObjectIdGetDatum(ss->target);
		values[1] = CStringGetTextDatum(nc->name);
		values[2] = CStringGetTextDatum(nc->type);
		ret = SPI_execute_with_args("SELECT pg_catalog.format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS %I %s', $1::pg_catalog.regclass, $2, $3)",
									3, types, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot build ALTER TABLE for merge_schema")));
		sql = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		ereport(LOG,
				(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
				 errmsg("source \"%s\" (merge_schema): %s", ss->source_name, sql)));

		/*
		 * A column that cannot be added (the owner does not own the table, a
		 * name PostgreSQL refuses, too many columns) must not stop the
		 * source: its key is ignored from now on, and the messages land
		 * without it.
		 */
		ed = se_subxact_try(run_utility, sql);
		if (ed != NULL)
		{
			MemoryContext old;

			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg("source \"%s\" (merge_schema): cannot add column \"%s\", the key is ignored: %s",
							ss->source_name, nc->name, ed->message)));
			old = MemoryContextSwitchTo(ss->cxt);
			ss->refused_columns = lappend(ss->refused_columns, pstrdup(nc->name));
			MemoryContextSwitchTo(old);
			FreeErrorData(ed);
		}
	}
	se_xact_commit(&x);
	list_free_deep(ss->new_columns);
	ss->new_columns = NIL;
	tpart_apply(ss->tp, ss->target, ss->options, ss->source_name);
}
