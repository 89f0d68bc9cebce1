/*
 * window_state.c
 *		The window state of a pipeline: streamext."pipeline_<id>_window", the
 *		raw rows of windows that are not final yet (see window.c for why raw
 *		rows).  Its columns are the batch table's - the source's columns
 *		without the tracking column, typed like the source's, plus
 *		_streamext_et, the column every eviction and every read of a window's
 *		rows is a range of.
 *
 * Only update mode and session windows get a btree index on _streamext_et:
 * they read and evict ranges of the buffer in every batch.  Tumble and hop
 * windows in append mode read the buffer only in a batch that closes a
 * window, and then most of it (the rows below the eviction bound, which is
 * all but the newest windows' rows), so a sequential scan serves them; the
 * index would cost more than it saves, as every buffered row is inserted
 * into it once (in a catch-up batch, the rows of the windows still open: a
 * btree insertion each, about as much again as the heap insertion).  The
 * batches that close no window do not read the buffer at all (window.c).
 *
 * state.c (pipeline_state_create_table) creates the table as an extension
 * member owned by the pipeline's owner; drop_pipeline drops it.  A column
 * added to the source later is added here at the next batch, so buffered
 * and new rows always have the same columns.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "pipeline/emit.h"

char *
window_state_table(PipelineDef *def)
{
	return pipeline_state_table_name(def, "window");
}

/* The state table's OID, InvalidOid when it does not exist (yet). */
Oid
window_state_relid(PipelineDef *def)
{
	List	   *names = stringToQualifiedNameList(window_state_table(def));

	return RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
}

/* "name type [COLLATE c]" of one column */
static char *
column_definition(EmitColumn *c)
{
	char	   *def = psprintf("%s %s", quote_identifier(c->name),
							   format_type_extended(c->type, c->typmod, FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));

	if (OidIsValid(c->collation) && c->collation != get_typcollation(c->type))
		def = psprintf("%s COLLATE %s", def, generate_collation_name(c->collation));
	return def;
}

static void
spi_exec(const char *sql, int expect)
{
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute(sql, false, 0);
	if (rc != expect)
		elog(ERROR, "window state: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
	SPI_finish();
}

/* does this pipeline's buffer get the index on _streamext_et? (see the top) */
static bool
needs_index(PipelineDef *def)
{
	return def->mode == PIPELINE_MODE_UPDATE || def->window_type == PIPELINE_WINDOW_SESSION;
}

/*
 * Run one DDL statement on the state table as the bootstrap superuser.
 * CREATE INDEX needs CREATE on the table's schema, which the pipeline's
 * owner lacks on streamext (the table was created by the extension's owner
 * for that reason): the bootstrap superuser runs it, with a fixed
 * search_path and in a restricted security context.  An index belongs to
 * the table's owner, as every index does.
 */
static void
state_ddl(const char *sql)
{
	Oid			save_userid;
	int			save_sec;
	int			gucnest;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	gucnest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	spi_exec(sql, SPI_OK_UTILITY);
	AtEOXact_GUC(true, gucnest);
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * Give the buffer the index exactly when needs_index(): a state table made
 * before append-mode buffers went without one keeps its index until the
 * pipeline is altered or reset, which drop it.
 */
static void
sync_index(PipelineDef *def, Oid relid)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	relation_close(rel, AccessShareLock);
	if (needs_index(def) && indexes == NIL)
		state_ddl(psprintf("CREATE INDEX ON %s (" PIPELINE_ET_COLUMN ")", window_state_table(def)));
	else if (!needs_index(def))
		foreach(lc, indexes)
			state_ddl(psprintf("DROP INDEX streamext.%s",
							   quote_identifier(get_rel_name(lfirst_oid(lc)))));
}

void
pipeline_emit_create_state(PipelineDef *def)
{
	List	   *cols;
	StringInfoData s;
	ListCell   *lc;

	if (def->window_type == PIPELINE_WINDOW_NONE)
		return;
	cols = emit_batch_columns(def->source);
	if (OidIsValid(window_state_relid(def)))
	{
		/* alter_pipeline: the buffered rows stay, re-windowed by the new options */
		window_state_sync_columns(def, cols);
		sync_index(def, window_state_relid(def));
		return;
	}
	initStringInfo(&s);
	foreach(lc, cols)
		appendStringInfo(&s, "%s, ", column_definition(lfirst(lc)));
	appendStringInfoString(&s, PIPELINE_ET_COLUMN " pg_catalog.timestamptz");
	pipeline_state_create_table(def, "window", s.data);
	sync_index(def, window_state_relid(def));
}

void
pipeline_emit_reset_state(PipelineDef *def)
{
	if (!OidIsValid(window_state_relid(def)))
		return;
	spi_exec(psprintf("TRUNCATE %s", window_state_table(def)), SPI_OK_UTILITY);
}

void
window_state_sync_columns(PipelineDef *def, List *batch_cols)
{
	Oid			relid = window_state_relid(def);
	StringInfoData s;
	ListCell   *lc;

	if (!OidIsValid(relid))
	{
		/* a window added by alter_pipeline */
		pipeline_emit_create_state(def);
		return;
	}
	initStringInfo(&s);
	foreach(lc, batch_cols)
	{
		EmitColumn *c = lfirst(lc);

		if (get_attnum(relid, c->name) == InvalidAttrNumber)
			appendStringInfo(&s, "%sADD COLUMN %s", s.len > 0 ? ", " : "",
							 column_definition(c));
	}
	if (s.len > 0)
		spi_exec(psprintf("ALTER TABLE %s %s", window_state_table(def), s.data),
				 SPI_OK_UTILITY);
}
