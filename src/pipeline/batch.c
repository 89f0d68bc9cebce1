/*
 * batch.c
 *		One micro-batch of a pipeline, exactly once: the caller's transaction
 *		holds its rows, its output, its state and its progress, so they commit
 *		together or not at all.
 *
 * The steps, all SQL through SPI with search_path pinned to pg_catalog,
 * pg_temp and every name schema-qualified:
 *
 *	1. lock the pipeline's progress row (FOR UPDATE: a worker and
 *	   run_pipeline never run one pipeline at the same time; the second
 *	   waits, then sees the first one's progress);
 *	2. ask the source which rows are new (source_heap.c: snapshot ranges over
 *	   the tracking column; source_columnar.c: changes() by version);
 *	3. in one statement, read them once (a materialized CTE), each flagged
 *	   late or not against the previous batch's watermark (late.c's rule),
 *	   send the late rows to the late_rows table, and fill
 *	   PIPELINE_BATCH_TABLE with the others minus duplicates (dedup.c);
 *	4. dedup.c adds the new keys to the dedup state;
 *	5. expect.c counts the expectations, fails or drops;
 *	6. emit.c runs the query over PIPELINE_BATCH_TABLE into the target;
 *	7. the dedup state forgets the keys the new watermark has passed, the
 *	   progress row gets the new snapshot or version, watermark and counters,
 *	   and streamext.pipeline_batches one row (trimmed to the last
 *	   streamext.pipeline_batches_keep).
 *
 * A pipeline without a "fail" expectation, and without a window or with a
 * tumble or hop window in append mode (window.c), runs steps 3-6 as one
 * statement instead (fused_batch): no temporary table; the rows read come
 * from a CTE over the source when the planner can estimate them, else from
 * the statement before, as an ephemeral named relation whose row count the
 * planner knows (batch_rows.c).
 *
 * Every row read counts for the watermark (late rows and duplicates too):
 * watermark = max(previous, max event time of the batch - delay), as in
 * Spark.  State lives in tables, not in memory, so a worker's memory does
 * not grow with the number of live keys; SQL does the set work (hash joins,
 * sorts that spill) where C loops over a million keys would not be faster.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pipeline/batch_internal.h"
#include "stream/stream.h"
#include "monitor/monitor.h"

/* batches of at least this many rows ANALYZE their temporary tables */
#define BATCH_ANALYZE_ROWS 10000
/* ... with this statistics target (a sample of 300 times as many rows) */
#define BATCH_ANALYZE_TARGET "10"

/* ---- helpers (the SPI calls are in batch_spi.c) -------------------- */

char *
batch_qualified_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

/* The source's columns, in order, without the tracking column. */
List *
batch_source_columns(PipelineDef *def)
{
	Relation	rel = relation_open(def->source, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *cols = NIL;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped ||
			strcmp(NameStr(att->attname), PIPELINE_TRACK_COLUMN) == 0)
			continue;
		cols = lappend(cols, pstrdup(NameStr(att->attname)));
	}
	relation_close(rel, AccessShareLock);
	return cols;
}

/* "p.a, p.b" with quoted names; prefix may be "". */
char *
batch_column_list(List *columns, const char *prefix)
{
	StringInfoData s;
	ListCell   *lc;

	initStringInfo(&s);
	foreach(lc, columns)
	{
		if (s.len > 0)
			appendStringInfoString(&s, ", ");
		appendStringInfo(&s, "%s%s", prefix, quote_identifier(lfirst(lc)));
	}
	return s.data;
}

bool
batch_relation_has_column(const char *relname_sql, const char *column)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(relname_sql), CStringGetTextDatum(column)};
	char	   *s;

	s = batch_spi_text("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute"
					   " WHERE attrelid = $1::pg_catalog.regclass AND attname = $2"
					   " AND attnum > 0 AND NOT attisdropped)",
					   2, types, values, NULL);
	return s && strcmp(s, "t") == 0;
}

/*
 * The late_rows or quarantine table named in the options, as a qualified,
 * quoted name: the option is resolved under the pipeline's search_path (the
 * one its creator named it under), then used under the pinned one.
 */
char *
batch_resolve_table(PipelineDef *def, const char *name, const char *option)
{
	int			level = NewGUCNestLevel();
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	char	   *s;

	(void) set_config_option("search_path", def->search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	s = batch_spi_text("SELECT pg_catalog.to_regclass($1)::pg_catalog.oid", 1, types, values, NULL);
	AtEOXact_GUC(true, level);
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table %s of option \"%s\" of pipeline \"%s\" does not exist",
						name, option, def->name),
				 errhint("Create it, or alter the pipeline.")));
	return batch_qualified_name(atooid(s));
}

/*
 * CREATE TEMP TABLE of the batch's own tables.  run_pipeline called by
 * another role than the owner runs the batch in a security-restricted
 * operation, which refuses temporary tables; these are the extension's
 * (ON COMMIT DROP, dropped after each batch), not the owner's code, so the
 * restriction is lifted for this statement only.  An error restores the
 * security context at the (sub)transaction's abort.
 */
static void
batch_create_temp(const char *sql)
{
	Oid			user;
	int			sec;

	GetUserIdAndSecContext(&user, &sec);
	SetUserIdAndSecContext(user, sec & ~SECURITY_RESTRICTED_OPERATION);
	batch_spi(sql, 0, NULL, NULL, NULL, SPI_OK_UTILITY);
	SetUserIdAndSecContext(user, sec);
}

/* ---- the batch ------------------------------------------------------ */

static void
load_progress(PipelineDef *def, PipelineProgress *prog)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(def->id)};
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		d;

	batch_spi("SELECT snapshot::pg_catalog.text, version, watermark, max_event_time, batches,"
			  " dedup_floor FROM streamext.pipeline_progress WHERE pipeline_id = $1 FOR UPDATE",
			  1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline \"%s\" has no progress row", def->name),
				 errdetail("A pipeline restored from pg_dump's output keeps its definition, not how far it had read its source."),
				 errhint("Run streamext.reset_pipeline('%s') to rebuild its target from the whole source;"
						 " or the pipeline was dropped, or the role running it cannot see it.",
						 def->name)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	prog->snapshot = SPI_getvalue(tup, desc, 1);
	d = SPI_getbinval(tup, desc, 2, &isnull);
	prog->version = isnull ? 0 : DatumGetInt64(d);
	d = SPI_getbinval(tup, desc, 3, &isnull);
	prog->has_watermark = !isnull;
	prog->watermark = isnull ? 0 : DatumGetTimestampTz(d);
	d = SPI_getbinval(tup, desc, 4, &isnull);
	prog->has_max_event_time = !isnull;
	prog->max_event_time = isnull ? 0 : DatumGetTimestampTz(d);
	d = SPI_getbinval(tup, desc, 5, &isnull);
	prog->batches = isnull ? 0 : DatumGetInt64(d);
	d = SPI_getbinval(tup, desc, 6, &isnull);
	prog->has_dedup_floor = !isnull;
	prog->dedup_floor = isnull ? 0 : DatumGetTimestampTz(d);
}

/* Drop the batch table of an earlier batch of this transaction. */
static void
drop_temp_tables(void)
{
	char	   *s;

	s = batch_spi_text("SELECT pg_catalog.to_regclass('pg_temp." PIPELINE_BATCH_TABLE "')",
					   0, NULL, NULL, NULL);
	if (s != NULL)
		batch_spi("DROP TABLE pg_temp." PIPELINE_BATCH_TABLE, 0, NULL, NULL, NULL, SPI_OK_UTILITY);
}

/* "INSERT INTO late_rows (...) SELECT ... FROM r WHERE late", or a count */
static char *
late_rows_sql(PipelineBatch *b, PipelineRead *rd, List *columns)
{
	PipelineDef *def = b->def;
	StringInfoData sql;
	StringInfoData sel;
	char	   *late;

	if (def->late_rows == NULL)
		return "SELECT 1 FROM " PIPELINE_READ_CTE " r WHERE r." PIPELINE_LATE_COLUMN;

	late = batch_resolve_table(def, def->late_rows, "late_rows");
	initStringInfo(&sql);
	initStringInfo(&sel);
	appendStringInfo(&sql, "INSERT INTO %s (%s", late, batch_column_list(columns, ""));
	appendStringInfoString(&sel, batch_column_list(columns, "r."));
	if (batch_relation_has_column(late, "_pipeline"))
	{
		appendStringInfoString(&sql, ", _pipeline");
		appendStringInfoString(&sel, ", $2::pg_catalog.text");
	}
	if (batch_relation_has_column(late, "_batch"))
	{
		appendStringInfoString(&sql, ", _batch");
		appendStringInfoString(&sel, ", $3::pg_catalog.int8");
	}
	if (batch_relation_has_column(late, "_watermark"))
	{
		appendStringInfoString(&sql, ", _watermark");
		appendStringInfoString(&sel, ", $1::pg_catalog.timestamptz");
	}
	appendStringInfo(&sql, ") SELECT %s FROM " PIPELINE_READ_CTE " r WHERE r." PIPELINE_LATE_COLUMN
					 " ORDER BY %s RETURNING 1", sel.data, rd->arrival_order);
	return sql.data;
}

/*
 * The rows read, with the event time, the late flag against the previous
 * watermark ($1) and the arrival order: the body of the CTE
 * PIPELINE_READ_CTE.
 */
static char *
read_sql(PipelineBatch *b, PipelineRead *rd, List *columns)
{
	PipelineDef *def = b->def;
	StringInfoData sql;
	char	   *et;

	/*
	 * An infinite event time is no time at all: like NULL it moves no
	 * watermark, is never late and belongs to no window.  Taken as a time,
	 * one 'infinity' would make the watermark infinite and every later row
	 * late for good, and in a windowed pipeline fail every batch (timestamp
	 * out of range) until the row was deleted.
	 */
	if (def->event_time)
	{
		char	   *col = psprintf("(%s%s)::pg_catalog.timestamptz", rd->row_prefix,
								   quote_identifier(def->event_time));

		et = psprintf("(CASE WHEN pg_catalog.isfinite(%s) THEN %s END)", col, col);
	}
	else
		et = "NULL::pg_catalog.timestamptz";

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s, %s AS " PIPELINE_ET_COLUMN ", ",
					 batch_column_list(columns, rd->row_prefix), et);
	if (b->has_prev_watermark && def->event_time)
		appendStringInfo(&sql, "coalesce((%s), false)",
						 pipeline_late_predicate(def, et, "$1::pg_catalog.timestamptz"));
	else
		appendStringInfoString(&sql, "false");
	appendStringInfo(&sql, " AS " PIPELINE_LATE_COLUMN ", %s AS " PIPELINE_ARRIVAL1 ","
					 " %s AS " PIPELINE_ARRIVAL2 " %s",
					 rd->arrival1, rd->arrival2, rd->from_sql);
	return sql.data;
}

/*
 * Read the new rows, send the late ones to late_rows and fill
 * PIPELINE_BATCH_TABLE with the rest minus duplicates, in one statement:
 * the rows read (a CTE, PIPELINE_READ_CTE: the source's columns, the event
 * time, the late flag against the previous watermark, the arrival order)
 * are not written to a table of their own; a heap source is scanned once
 * per part, a versioned source's changes() materialized once.  Returns the rows read;
 * *late, *kept and *max_et (the largest event time read) are set.
 */
static int64
read_split(PipelineBatch *b, PipelineRead *rd, List *columns, int64 *late,
		   int64 *kept, bool *has_max_et, TimestampTz *max_et)
{
	PipelineDef *def = b->def;
	StringInfoData sql;
	Oid			types[3] = {TIMESTAMPTZOID, TEXTOID, INT8OID};
	Datum		values[3];
	char		nulls[3] = {b->has_prev_watermark ? ' ' : 'n', ' ', ' '};
	char	   *cols = batch_column_list(columns, rd->row_prefix);
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	int64		rows;
	Snapshot	snap;
	char	   *late_sql;
	char	   *keep_sql;

	values[0] = TimestampTzGetDatum(b->prev_watermark);
	values[1] = CStringGetTextDatum(def->name);
	values[2] = Int64GetDatum(b->batch);

	/* the batch table has the source's column types; nothing is read here */
	batch_create_temp(psprintf("CREATE TEMP TABLE " PIPELINE_BATCH_TABLE " ON COMMIT DROP AS"
							   " SELECT %s, NULL::pg_catalog.timestamptz AS " PIPELINE_ET_COLUMN
							   " %s WITH NO DATA", cols, rd->from_sql));

	/*
	 * A heap source is scanned by each part: see fused_batch, also for the
	 * snapshot, asked once the rest of the statement is built.
	 */
	late_sql = late_rows_sql(b, rd, columns);
	keep_sql = dedup_batch_sql(b, rd, columns);
	snap = def->source_kind == PIPELINE_SOURCE_COLUMNAR ? InvalidSnapshot : source_heap_unranged_snapshot(b, rd);
	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH " PIPELINE_READ_CTE " AS %sMATERIALIZED (%s),"
					 " l AS (%s),"
					 " k AS (INSERT INTO pg_temp." PIPELINE_BATCH_TABLE " %s RETURNING 1)"
					 " SELECT (SELECT pg_catalog.count(*) FROM " PIPELINE_READ_CTE "),"
					 " (SELECT pg_catalog.max(r." PIPELINE_ET_COLUMN ") FROM " PIPELINE_READ_CTE " r),"
					 " (SELECT pg_catalog.count(*) FROM l), (SELECT pg_catalog.count(*) FROM k)",
					 def->source_kind == PIPELINE_SOURCE_COLUMNAR ? "" : "NOT ",
					 read_sql(b, rd, columns), late_sql, keep_sql);
	batch_spi_select_with(sql.data, 3, types, values, nulls, snap);

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	rows = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	d = SPI_getbinval(tup, desc, 2, &isnull);
	*has_max_et = !isnull;
	*max_et = isnull ? 0 : DatumGetTimestampTz(d);
	*late = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	*kept = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
	return rows;
}

/* Record the progress of a read that produced no batch (columnar versions
 * without inserts, or heap rows gone before they were read). */
static void
record_progress_only(PipelineDef *def, PipelineRead *rd)
{
	Oid			types[3] = {INT8OID, TEXTOID, INT8OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = Int64GetDatum(def->id);
	if (rd->new_snapshot)
		values[1] = CStringGetTextDatum(rd->new_snapshot);
	else
		nulls[1] = 'n';
	values[2] = Int64GetDatum(rd->new_version);
	if (def->source_kind != PIPELINE_SOURCE_COLUMNAR)
		nulls[2] = 'n';
	batch_spi("UPDATE streamext.pipeline_progress SET"
			  " snapshot = coalesce($2::pg_catalog.pg_snapshot, snapshot),"
			  " version = coalesce($3, version)"
			  " WHERE pipeline_id = $1",
			  3, types, values, nulls, SPI_OK_UPDATE);
}

typedef struct BatchCounts
{
	int64		late;
	int64		duplicates;
	int64		failures;
	int64		dropped;
	char	   *expectations;	/* jsonb text */
	bool		has_max_et;
	TimestampTz max_et;
} BatchCounts;

/*
 * A pipeline without a "fail" expectation, and without a window or with
 * one that pipeline_window_fusable() accepts (then window.c writes the
 * window state and "batch" from k), runs its
 * whole batch as one statement over the rows read (PIPELINE_READ_CTE,
 * which the statement before filled: batch_rows.c): the late ones go to
 * late_rows, the first arrival of each key the state does not hold is kept (k), its keys go into the dedup
 * state, the expectations are counted over k and the dropped rows
 * quarantined, and the query reads "batch" (k minus the dropped rows) into
 * the target: no temporary table is written and read again.  The state
 * insert needs the new watermark, so the statement computes it as batch.c
 * does (streamext.watermark() is stream_watermark_of()), and the cutoff as
 * dedup.c does: new watermark - delay when the watermark is finite and the
 * cutoff a valid time ($5 = the smallest such watermark; below it the
 * cutoff is before every time and keeps every key).  The statement runs
 * under the pipeline's search_path (the checks and the query are the
 * owner's SQL); every generated part is schema-qualified.  A "fail"
 * expectation needs its error before the query runs over the failing row,
 * so those pipelines keep the steps of the temporary table.
 */
static bool
batch_fusable(PipelineDef *def)
{
	return (def->window_type == PIPELINE_WINDOW_NONE || pipeline_window_fusable(def)) &&
		expect_none_fail(def);
}

static int64
fused_batch(PipelineBatch *b, PipelineRead *rd, List *columns, BatchCounts *c,
			bool *has_max_et, TimestampTz *max_et)
{
	PipelineDef *def = b->def;
	int			nexp = list_length(def->expectations);
	StringInfoData sql;
	Oid			types[5] = {TIMESTAMPTZOID, TEXTOID, INT8OID, INTERVALOID, TIMESTAMPTZOID};
	Datum		values[5];
	char		nulls[5] = {b->has_prev_watermark ? ' ' : 'n', ' ', ' ', 'n', 'n'};
	Interval   *delay = palloc0(sizeof(Interval));
	char	   *drop_cond = NULL;
	char	   *counts;
	char	   *quarantine;
	char	   *late;
	char	   *keep;
	char	   *insert;
	int64	   *ecounts;
	bool		windowed = def->window_type != PIPELINE_WINDOW_NONE;
	char	   *window_scan;
	bool		merged;
	int			ecol;
	char	   *keep_cond;
	int			level;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	int64		rows;
	Tuplestorestate *read = NULL;
	bool		use_rows;
	char	   *rsql;
	bool		late_is_false;
	const char *not_late;
	Snapshot	snap = InvalidSnapshot;
	char	   *sqltext;
	const char *scan_kept;

	values[0] = TimestampTzGetDatum(b->prev_watermark);
	values[1] = CStringGetTextDatum(def->name);
	values[2] = Int64GetDatum(b->batch);
	values[3] = PointerGetDatum(delay);
	values[4] = (Datum) 0;
	if (def->has_watermark)
	{
		int64		usecs = stream_interval_usecs(&def->watermark, "watermark", true);
		TimestampTz low;

		delay->time = usecs;
		nulls[3] = ' ';
		if (!pg_add_s64_overflow(MIN_TIMESTAMP, usecs, &low) && IS_VALID_TIMESTAMP(low))
		{
			values[4] = TimestampTzGetDatum(low);
			nulls[4] = ' ';
		}
	}

	/*
	 * Without dedup_keys the kept rows are the rows read that are not late:
	 * _streamext_k is then not materialized (each part that reads it reads
	 * the source, like r), and the rows kept, the expectations' counts and
	 * (windowed) the kept rows without event time are counted by the scan
	 * that finds the watermark, _streamext_m, rather than by one more.
	 */
	merged = def->dedup_keys == NIL;
	late_is_false = !(b->has_prev_watermark && def->event_time);

	/* everything that looks up catalogs, under the pinned search_path */
	not_late = merged && !late_is_false ? "NOT batch." PIPELINE_LATE_COLUMN : NULL;
	counts = expect_count_list(def, &drop_cond, not_late);
	quarantine = expect_quarantine_sql(b, columns, "_streamext_k");
	late = late_rows_sql(b, rd, columns);
	keep = dedup_batch_sql(b, rd, columns);
	insert = pipeline_emit_insert_sql(def);
	keep_cond = drop_cond ? psprintf("NOT (%s)", drop_cond) : "true";
	/*
	 * The kept rows among the rows read, for the counts of the scan below:
	 * no condition per row when no row can be late or dropped (the
	 * planner does not fold the constants through the subquery it reads).
	 */
	scan_kept = not_late && drop_cond ? psprintf("%s AND %s", not_late, keep_cond) :
		not_late ? not_late : drop_cond ? keep_cond : NULL;
	/* counted with the others: a window's kept rows without event time, for the WARNING */
	if (windowed)
		counts = psprintf("%s, pg_catalog.count(*) FILTER (WHERE batch." PIPELINE_ET_COLUMN
						  " IS NULL%s%s)", counts, scan_kept ? " AND " : "", scan_kept ? scan_kept : "");
	/* ... and what window.c finds the rows to buffer by (after the counts read below) */
	if (windowed && (window_scan = pipeline_window_scan_sql(b, scan_kept)) != NULL)
		counts = psprintf("%s, %s", counts, window_scan);

	/*
	 * The rows read are PIPELINE_READ_CTE: an ephemeral named relation that
	 * one statement fills before this one runs (batch_rows.c: the planner
	 * then knows how many rows the batch has) for a versioned source (read
	 * once through changes() either way) and for a heap source whose read
	 * the planner estimates as small (batch_rows_needed: small, or above
	 * the statistics); else a CTE over the heap source, which each part that
	 * needs the rows (late rows, the kept rows, the counts) scans itself:
	 * all parts of one statement share its snapshot, so they read the same
	 * rows, and a heap scan is cheaper than writing and reading them.
	 */
	rsql = read_sql(b, rd, columns);
	use_rows = def->source_kind == PIPELINE_SOURCE_COLUMNAR ||
		batch_rows_needed(rsql, 1, types);
	b->read_in_statement = !use_rows && rd->one_relation;
	/* the CTE of the rows read goes first, once it is known (below) */
	initStringInfo(&sql);
	appendStringInfo(&sql, " _streamext_l AS (%s),"
					 " _streamext_k AS %sMATERIALIZED (%s),",
					 late, merged ? "NOT " : "", keep);
	/*
	 * The watermark is that of the largest event time (watermark() is
	 * monotonic: the watermark of the max is the max of the watermarks), so
	 * the scan computes max() alone.
	 */
	/*
	 * Before the first watermark no row is late (the column is the constant
	 * false): the rows not late are then counted by count(*) itself, which
	 * the executor computes once for both.  The rows are read through a
	 * subquery that is not flattened (OFFSET 0), so that the scan computes
	 * the event time once per row, not once per aggregate that uses it.
	 */
	/*
	 * Without expectations the subquery returns only the columns the counts
	 * use: each column it returns is one more step per row, a constant
	 * NULL for those nobody reads too (about 10 % of the scan).  The
	 * expectations' checks may name any column.
	 */
	if (merged)
		appendStringInfo(&sql, " _streamext_a AS (SELECT pg_catalog.count(*) AS n,"
						 "   pg_catalog.max(batch." PIPELINE_ET_COLUMN ") AS mx,"
						 "   pg_catalog.count(*)%s, %s"
						 "   FROM (SELECT %s FROM " PIPELINE_READ_CTE " OFFSET 0) batch),",
						 late_is_false ? "" : " FILTER (WHERE NOT batch." PIPELINE_LATE_COLUMN ")",
						 counts,
						 nexp > 0 ? "*" :
						 psprintf(PIPELINE_ET_COLUMN "%s%s",
								  late_is_false ? "" : ", " PIPELINE_LATE_COLUMN,
								  b->window_by_tid ?
								  psprintf(", " PIPELINE_ARRIVAL2 ", %s", quote_identifier(def->event_time)) : ""));
	else
		appendStringInfo(&sql, " _streamext_a AS (SELECT pg_catalog.count(*) AS n,"
						 "   pg_catalog.max(r." PIPELINE_ET_COLUMN ") AS mx"
						 "   FROM " PIPELINE_READ_CTE " r),"
						 " _streamext_e AS (SELECT pg_catalog.count(*), %s FROM _streamext_k batch),",
						 counts);
	appendStringInfoString(&sql, " _streamext_m AS (SELECT a.*, (SELECT streamext.watermark(v.x, $4::pg_catalog.interval)"
						   "   FROM (VALUES (a.mx)) v(x)) AS w FROM _streamext_a a)");
	if (def->dedup_keys != NIL)
		appendStringInfo(&sql, ", _streamext_c AS (SELECT CASE WHEN pg_catalog.isfinite(x.nw)"
						 "   AND x.nw OPERATOR(pg_catalog.>=) $5::pg_catalog.timestamptz"
						 "   THEN x.nw OPERATOR(pg_catalog.-) $4::pg_catalog.interval END AS cutoff"
						 "   FROM (SELECT GREATEST($1::pg_catalog.timestamptz, m.w) AS nw"
						 "    FROM _streamext_m m) x),"
						 " _streamext_s AS (%s RETURNING 1)",
						 dedup_remember_sql(b, "_streamext_k",
											def->has_watermark ?
											"(SELECT c.cutoff FROM _streamext_c c)" : "NULL"));
	if (quarantine != NULL)
		appendStringInfo(&sql, ", _streamext_x AS (%s RETURNING 1)", quarantine);
	if (windowed)
		appendStringInfo(&sql, ", %s",
						 pipeline_window_fused_sql(b, "_streamext_k", keep_cond,
												   "SELECT GREATEST($1::pg_catalog.timestamptz, m.w) FROM _streamext_m m",
												   "$1::pg_catalog.timestamptz", insert));
	else
		appendStringInfo(&sql, ", batch AS (SELECT %s FROM _streamext_k batch WHERE %s),"
						 " _streamext_t AS (%s RETURNING 1)",
						 batch_column_list(columns, "batch."), keep_cond, insert);
	/* the counts from column ecol on: the rows kept, per expectation, dropped[, no event time] */
	appendStringInfo(&sql, " SELECT m.n, m.mx, (SELECT pg_catalog.count(*) FROM _streamext_l),"
					 " (SELECT pg_catalog.count(*) FROM _streamext_t), %s%s FROM %s",
					 merged ? "m.*" : "e.*",
					 b->window_tids_c ? ", (SELECT by_tid FROM _streamext_wt) AS _streamext_by_tid,"
					 " (SELECT _streamext_bound FROM _streamext_wb) AS _streamext_buffer_bound" : "",
					 merged ? "_streamext_m m" : "_streamext_m m, _streamext_e e");
	ecol = merged ? 7 : 5;

	/*
	 * The rows read without a test per row, when a snapshot allows it
	 * (source_heap.c), asked last: building the statement may run SQL of
	 * its own (window_state.c syncs the state table's columns), whose
	 * writes the statement would see and the check would not.
	 */
	if (!use_rows && (snap = source_heap_unranged_snapshot(b, rd)) != InvalidSnapshot)
		rsql = read_sql(b, rd, columns);
	sqltext = use_rows ? psprintf("WITH %s", sql.data) :
		psprintf("WITH " PIPELINE_READ_CTE " AS NOT MATERIALIZED (%s),%s", rsql, sql.data);
	/* the rows to buffer are fetched afterwards with the statement's snapshot */
	if (b->window_tids_c && snap == InvalidSnapshot)
		snap = RegisterSnapshot(GetTransactionSnapshot());

	level = NewGUCNestLevel();
	(void) set_config_option("search_path", def->search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (use_rows)
		(void) batch_rows_read(PIPELINE_READ_CTE, rsql, 1, types, values, nulls, &read);
	if (snap != InvalidSnapshot)
		batch_spi_snapshot(sqltext, 5, types, values, nulls, snap);
	else
		batch_spi(sqltext, 5, types, values, nulls, SPI_OK_SELECT);
	AtEOXact_GUC(true, level);

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (b->window_tids_c)
	{
		bool		by_tid = DatumGetBool(SPI_getbinval(tup, desc,
														SPI_fnumber(desc, "_streamext_by_tid"), &isnull));
		Datum		tids;
		bool		no_tids;
		Datum		bound;
		bool		no_bound;

		tids = SPI_getbinval(tup, desc, SPI_fnumber(desc, "_streamext_tids"), &no_tids);
		bound = SPI_getbinval(tup, desc, SPI_fnumber(desc, "_streamext_buffer_bound"), &no_bound);
		/* the command id the statement ran with (SPI advanced its copy's) */
		snap->curcid = GetCurrentCommandId(false);
		if (!isnull && by_tid && !no_tids)
			(void) window_buffer_insert(b, tids, !no_bound, DatumGetTimestampTz(bound), snap);
	}
	if (snap != InvalidSnapshot)
		UnregisterSnapshot(snap);
	rows = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	d = SPI_getbinval(tup, desc, 2, &isnull);
	*has_max_et = !isnull;
	*max_et = isnull ? 0 : DatumGetTimestampTz(d);
	c->late = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	b->rows_out = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
	b->rows_batch = DatumGetInt64(SPI_getbinval(tup, desc, ecol, &isnull));
	ecounts = palloc0(sizeof(int64) * (nexp + 1));
	c->failures = 0;
	for (int i = 0; i < nexp; i++)
	{
		ecounts[i] = DatumGetInt64(SPI_getbinval(tup, desc, ecol + 1 + i, &isnull));
		c->failures += ecounts[i];
	}
	c->dropped = DatumGetInt64(SPI_getbinval(tup, desc, ecol + 1 + nexp, &isnull));
	c->expectations = nexp > 0 ? expect_json(def, ecounts) : "{}";
	if (windowed)
		pipeline_window_warn_no_event_time(b, DatumGetInt64(SPI_getbinval(tup, desc, ecol + 2 + nexp,
																		  &isnull)));
	if (use_rows)
		batch_rows_release(PIPELINE_READ_CTE, read);
	return rows;
}

static void
record_batch(PipelineBatch *b, PipelineRead *rd, BatchCounts *c, TimestampTz started)
{
	PipelineDef *def = b->def;
	Oid			types[13] = {INT8OID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, INT8OID, TIMESTAMPTZOID};
	Datum		values[13];
	char		nulls[13];
	Oid			ltypes[11] = {TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID, INT8OID,
	INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		lvalues[11];
	char		lnulls[11];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(def->id);
	if (rd->new_snapshot)
		values[1] = CStringGetTextDatum(rd->new_snapshot);
	else
		nulls[1] = 'n';
	values[2] = Int64GetDatum(rd->new_version);
	if (def->source_kind != PIPELINE_SOURCE_COLUMNAR)
		nulls[2] = 'n';
	values[3] = TimestampTzGetDatum(b->new_watermark);
	if (!b->has_new_watermark)
		nulls[3] = 'n';
	values[4] = TimestampTzGetDatum(c->max_et);
	if (!c->has_max_et)
		nulls[4] = 'n';
	values[5] = Int64GetDatum(b->rows_in);
	values[6] = Int64GetDatum(b->rows_out);
	values[7] = Int64GetDatum(c->late);
	values[8] = Int64GetDatum(c->duplicates);
	values[9] = Int64GetDatum(c->failures);
	values[10] = CStringGetTextDatum(c->expectations);
	values[11] = Int64GetDatum(b->batch);
	values[12] = TimestampTzGetDatum(b->dedup_floor);
	if (!b->has_dedup_floor)
		nulls[12] = 'n';
	batch_spi("UPDATE streamext.pipeline_progress p SET"
			  " snapshot = coalesce($2::pg_catalog.pg_snapshot, p.snapshot),"
			  " version = coalesce($3, p.version),"
			  " watermark = $4, max_event_time = $5, batches = $12, dedup_floor = $13,"
			  " rows_in = p.rows_in + $6, rows_out = p.rows_out + $7,"
			  " late_rows = p.late_rows + $8, duplicates_dropped = p.duplicates_dropped + $9,"
			  " expectation_failures = p.expectation_failures + $10,"
			  " expectation_counts = p.expectation_counts || coalesce("
			  "   (SELECT pg_catalog.jsonb_object_agg(e.key, coalesce("
			  "      (p.expectation_counts ->> e.key)::pg_catalog.int8, 0)"
			  "      + (e.value ->> 'failed')::pg_catalog.int8)"
			  "    FROM pg_catalog.jsonb_each($11::pg_catalog.jsonb) e), '{}'),"
			  " last_batch_at = pg_catalog.clock_timestamp()"
			  " WHERE p.pipeline_id = $1",
			  13, types, values, nulls, SPI_OK_UPDATE);

	memset(lnulls, ' ', sizeof(lnulls));
	lvalues[0] = CStringGetTextDatum(def->name);
	lvalues[1] = Int64GetDatum(def->id);
	lvalues[2] = Int64GetDatum(b->batch);
	lvalues[3] = TimestampTzGetDatum(started);
	lvalues[4] = Int64GetDatum(b->rows_in);
	lvalues[5] = Int64GetDatum(b->rows_out);
	lvalues[6] = Int64GetDatum(c->late);
	lvalues[7] = Int64GetDatum(c->duplicates);
	lvalues[8] = TimestampTzGetDatum(b->new_watermark);
	if (!b->has_new_watermark)
		lnulls[8] = 'n';
	lvalues[9] = CStringGetTextDatum(c->expectations);
	batch_spi("INSERT INTO streamext.pipeline_batches (pipeline, pipeline_id, batch,"
			  " started_at, committed_at, rows_in, rows_out, late_rows, duplicates_dropped,"
			  " watermark, expectations) VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp(),"
			  " $5, $6, $7, $8, $9, $10::pg_catalog.jsonb)",
			  10, ltypes, lvalues, lnulls, SPI_OK_INSERT);
	monitor_pipeline_batch_pending(def->id, def->name, b->batch, b->rows_in, b->rows_out, c->late,
								   c->duplicates, b->has_new_watermark, b->new_watermark, started);

	/* the event log keeps the last streamext.pipeline_batches_keep batches */
	batch_spi("DELETE FROM streamext.pipeline_batches WHERE pipeline_id = $1 AND batch <= $2",
			  2, (Oid[]) {INT8OID, INT8OID},
			  (Datum[]) {Int64GetDatum(def->id), Int64GetDatum(b->batch - pipeline_batches_keep)},
			  NULL, SPI_OK_DELETE);
}

int64
pipeline_run_batch(PipelineDef *def)
{
	bool		more;

	return pipeline_run_batch_more(def, &more);
}

int64
pipeline_run_batch_more(PipelineDef *def, bool *more)
{
	PipelineProgress prog;
	PipelineRead rd;
	PipelineBatch b;
	BatchCounts c;
	List	   *columns;
	int			level;
	bool		fused;
	TimestampTz started = GetCurrentTimestamp();

	*more = false;
	memset(&rd, 0, sizeof(rd));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("SPI_connect failed")));
	level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/* windows, watermarks and the query's times: the same in every session */
	pipeline_pin_time_settings();

	load_progress(def, &prog);
	rd.caught_up = true;
	if (def->source_kind == PIPELINE_SOURCE_COLUMNAR)
		source_columnar_plan(def, &prog, &rd);
	else
		source_heap_plan(def, &prog, &rd);

	if (rd.empty)
	{
		AtEOXact_GUC(true, level);
		SPI_finish();
		return 0;
	}

	b.def = def;
	b.batch = prog.batches + 1;
	b.has_prev_watermark = prog.has_watermark;
	b.prev_watermark = prog.watermark;
	b.has_dedup_floor = prog.has_dedup_floor;
	b.dedup_floor = prog.dedup_floor;

	columns = batch_source_columns(def);
	drop_temp_tables();
	fused = batch_fusable(def);
	{
		bool		has_batch_max;
		TimestampTz batch_max;

		if (fused)
			b.rows_in = fused_batch(&b, &rd, columns, &c, &has_batch_max, &batch_max);
		else
			b.rows_in = read_split(&b, &rd, columns, &c.late, &b.rows_batch,
								   &has_batch_max, &batch_max);
		if (b.rows_in == 0)
		{
			/* nothing to process, but the read range is done */
			record_progress_only(def, &rd);
			drop_temp_tables();
			AtEOXact_GUC(true, level);
			SPI_finish();
			*more = !rd.caught_up;
			return 0;
		}

		/* watermark = max(previous, max event time read - delay) */
		c.has_max_et = prog.has_max_event_time;
		c.max_et = prog.max_event_time;
		b.has_new_watermark = prog.has_watermark;
		b.new_watermark = prog.watermark;
		if (has_batch_max)
		{
			if (!c.has_max_et || batch_max > c.max_et)
				c.max_et = batch_max;
			c.has_max_et = true;
			if (def->has_watermark)
			{
				TimestampTz wm;

				wm = stream_watermark_of(batch_max,
										 stream_interval_usecs(&def->watermark, "watermark", true));
				if (!b.has_new_watermark || wm > b.new_watermark)
					b.new_watermark = wm;
				b.has_new_watermark = true;
			}
		}
	}
	c.duplicates = b.rows_in - c.late - b.rows_batch;

	if (fused)
		b.rows_batch -= c.dropped;	/* all done by fused_batch */
	else
	{
		/* the kept keys the new watermark does not evict at once */
		dedup_remember(&b);

		/*
		 * A large batch gets statistics: a never-analyzed temporary table
		 * is estimated at a few pages, and the plans of the checks and the
		 * query over a million rows would be nested loops instead of hash
		 * joins.
		 */
		if (b.rows_batch >= BATCH_ANALYZE_ROWS)
		{
			/*
			 * A small sample is enough for row counts and distinct
			 * estimates of the batch's own table (the default samples 30,000
			 * rows: every page of a million-row batch).
			 */
			int			anest = NewGUCNestLevel();

			(void) set_config_option("default_statistics_target", BATCH_ANALYZE_TARGET,
									 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
			batch_spi("ANALYZE pg_temp." PIPELINE_BATCH_TABLE, 0, NULL, NULL, NULL, SPI_OK_UTILITY);
			AtEOXact_GUC(true, anest);
		}

		c.expectations = expect_apply(&b, columns, &c.failures, &c.dropped);
		b.rows_batch -= c.dropped;

		pipeline_emit(&b);
	}

	if (def->dedup_keys != NIL && b.has_new_watermark)
		dedup_evict(&b, b.new_watermark);

	record_batch(&b, &rd, &c, started);
	drop_temp_tables();

	AtEOXact_GUC(true, level);
	SPI_finish();
	*more = !rd.caught_up;
	return b.rows_in;
}
