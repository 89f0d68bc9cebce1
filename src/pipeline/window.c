/*
 * window.c
 *		Windowed aggregation of a micro-batch, append and update modes, for
 *		any aggregate the query uses.
 *
 * The state design: the raw rows of the windows that are not final yet are
 * buffered in the pipeline's state table streamext."pipeline_<id>_window"
 * (the batch table's columns, window_state.c), and every batch runs the
 * user's query, unchanged, over exactly the rows of the windows it emits.
 * Why raw rows rather than partial aggregate states (combine/serialize, as
 * parallel aggregation does):
 *	- it is exact for every aggregate the query may use - avg, sum, count,
 *	  min, max, approx_count_distinct, approx_percentile, ordered-set and user
 *	  aggregates without a combine function, DISTINCT aggregates, FILTER,
 *	  HAVING, expressions over aggregates - because the query itself runs
 *	  over the window's rows; partial states would need a rewrite of the
 *	  query into partial and final aggregation that PostgreSQL offers only
 *	  inside its planner, and aggregates without combine functions could not
 *	  be supported at all;
 *	- a window that opens and closes inside one batch (a catch-up batch of
 *	  1M rows) is never buffered: the batch's rows are aggregated in one
 *	  INSERT ... SELECT, as the plain SQL would; for tumble and hop windows
 *	  in append mode that is part of batch.c's single statement over the
 *	  rows read (pipeline_window_fused_sql), with no temporary table;
 *	- the buffer is bounded by the watermark: a row leaves it when its last
 *	  window is final;
 *	- the cost: an open window's rows are stored once and read once more
 *	  when it closes (append), or re-aggregated by every batch that touches
 *	  the window (update: O(rows of the touched windows) per batch).
 *
 * Semantics (Spark's): windows are half-open [start, end), aligned to the
 * origin.  Append mode writes a window once, when end <= the watermark after
 * this batch; a hop window whose end <= the previous watermark was written
 * already, so a row contributes only to its windows that end later (batch.c
 * has removed late rows: their last window ended <= the previous watermark).
 * Sessions (per key, the rows whose event times lie within gap of the next)
 * are recomputed from the buffer plus the batch, so a session that a new row
 * extends or bridges merges; a session is final when last event + gap <=
 * watermark.  Update mode upserts every window the batch touched, with its
 * aggregate over all of the window's rows so far, and keeps buffering until
 * the window is final.  Tumble and hop results do not depend on how the rows
 * were split into batches (beyond which rows are late); a row within gap of
 * a session already written starts a new session, as in Spark.
 *
 * Rows with a NULL event time belong to no window: like Spark's window(),
 * which filters them out, they are not aggregated; a WARNING says how many.
 *
 * (OPERATOR(pg_catalog.x) binds like any user operator - tighter than AND,
 * left to right - hence the parentheses around sums in comparisons.)
 *
 * Every statement is parameterized: $1 new watermark, $2 previous watermark,
 * $3 width, $4 slide, $5 gap, $6 origin, $7 the eviction bound (a row whose
 * event time is below it has no window left open).  Operators and functions
 * of the generated SQL are schema-qualified: it runs with the pipeline's
 * search_path, for the user's query.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "pipeline/batch_internal.h"
#include "pipeline/emit.h"
#include "stream/stream.h"

#define OP(o) " OPERATOR(pg_catalog." o ") "
#define ET PIPELINE_ET_COLUMN
#define BATCH "pg_temp." PIPELINE_BATCH_TABLE
#define NPARAMS 7

/* windows per row that hop() accepts (its own limit, checked at create) */
#define WINDOW_HOP_MAX 1000000

/* the last pages of a heap source whose rows estimate the batch's watermark */
#define WINDOW_SAMPLE_PAGES 4
/* at most this many tids of candidates are collected (an array in memory) */
#define WINDOW_TID_MAX 16000000

void
window_validate(PipelineDef *def, List *batch_cols)
{
	ListCell   *lc;
	int64		width;
	int64		slide;

	if (def->window_type == PIPELINE_WINDOW_NONE)
		return;
	if (def->event_time == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a window needs an event_time column"),
				 errhint("Add \"event_time\": \"<column>\" to the options of pipeline \"%s\".", def->name)));
	if (!def->has_watermark)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a window needs a watermark"),
				 errdetail("A window's result is final when the watermark passes its end; without a watermark no window would ever be final."),
				 errhint("Add \"watermark\": \"10 minutes\" (how late rows may arrive; \"0 seconds\" for not at all).")));
	foreach(lc, batch_cols)
	{
		EmitColumn *c = lfirst(lc);

		if (strcmp(c->name, "window_start") == 0 || strcmp(c->name, "window_end") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("source column \"%s\" clashes with the window's column of that name", c->name),
					 errdetail("With a window, \"batch\" has the columns window_start and window_end."),
					 errhint("Rename the source column, or read the source through a view that renames it.")));
	}
	if (def->has_origin)
		stream_check_finite(def->window_origin, "window origin");

	switch (def->window_type)
	{
		case PIPELINE_WINDOW_TUMBLE:
			(void) stream_interval_usecs(&def->window_width, "window width", false);
			break;
		case PIPELINE_WINDOW_HOP:
			width = stream_interval_usecs(&def->window_width, "window width", false);
			slide = stream_interval_usecs(&def->window_slide, "window slide", false);
			if (slide > width)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("window slide must not be larger than window width"),
						 errhint("Use a tumble window for slide = width.")));
			if (width / slide > WINDOW_HOP_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("window width / slide must be at most %d", WINDOW_HOP_MAX)));
			break;
		case PIPELINE_WINDOW_SESSION:
			(void) stream_interval_usecs(&def->window_gap, "session gap", false);
			foreach(lc, def->window_keys)
			{
				char	   *key = lfirst(lc);
				ListCell   *lc2;
				bool		found = false;

				foreach(lc2, batch_cols)
					if (strcmp(((EmitColumn *) lfirst(lc2))->name, key) == 0)
						found = true;
				if (!found)
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_COLUMN),
							 errmsg("session key \"%s\" is not a column of the source of pipeline \"%s\"",
									key, def->name)));
			}
			if (def->mode == PIPELINE_MODE_UPDATE)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("update mode does not support session windows"),
						 errdetail("A session's start and end move as rows arrive, so the target row of a session would stay behind after the session grew or merged (Spark refuses this too)."),
						 errhint("Use mode append, or a tumble or hop window.")));
			break;
		case PIPELINE_WINDOW_NONE:
			break;
	}
}

/* The eviction bound of tumble and hop: rows with et < bound are done. */
static TimestampTz
eviction_bound(PipelineDef *def, TimestampTz wm, TimestampTz origin)
{
	int64		width = stream_interval_usecs(&def->window_width, "window width", false);
	int64		slide = def->window_type == PIPELINE_WINDOW_HOP ?
		stream_interval_usecs(&def->window_slide, "window slide", false) : width;

	/*
	 * A row's last window starts at L = tumble_start(et, slide) and is final
	 * when L + width <= wm, i.e. L <= wm - width; L is a step function of et,
	 * so that holds exactly for et < tumble_start(wm - width, slide) + slide.
	 */
	return stream_ts_add(stream_window_start(stream_ts_add(wm, -width), slide, origin), slide);
}

/*
 * Does some tumble or hop window end in (previous watermark, watermark]?
 * Window ends are origin + width + k * slide; the last one <= wm is
 * tumble_start(wm - width, slide) + width.  When none does, an append batch
 * only buffers its rows: the common case of a stream with long windows.
 */
static bool
some_window_closes(PipelineBatch *b, TimestampTz origin)
{
	PipelineDef *def = b->def;
	int64		width = stream_interval_usecs(&def->window_width, "window width", false);
	int64		slide = def->window_type == PIPELINE_WINDOW_HOP ?
		stream_interval_usecs(&def->window_slide, "window slide", false) : width;
	TimestampTz last_end;

	if (!b->has_new_watermark)
		return false;
	if (!b->has_prev_watermark)
		return true;
	last_end = stream_ts_add(stream_window_start(stream_ts_add(b->new_watermark, -width),
												 slide, origin), width);
	return last_end > b->prev_watermark;
}

static void
run(const char *sql, Datum *values, const char *nulls, int expect)
{
	static Oid	types[NPARAMS] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID,
	INTERVALOID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	int			rc = SPI_execute_with_args(sql, NPARAMS, types, values, nulls, false, 0);

	if (rc != expect)
		elog(ERROR, "window statement failed: %s", SPI_result_code_string(rc));
}

/* does the state hold a row satisfying cond? */
static bool
state_has_rows(const char *state, const char *cond, Datum *values, const char *nulls)
{
	bool		isnull;

	run(psprintf("SELECT EXISTS (SELECT FROM %s WHERE %s)", state, cond),
		values, nulls, SPI_OK_SELECT);
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Keep the batch's rows that have a window still open after this batch;
 * returns the number of rows without an event time (in no window).  The one
 * scan of the batch finds both (the CTE holds the open rows only).
 */
static int64
buffer_rows(const char *state, const char *cols, bool have_wm, Datum *values,
			const char *nulls)
{
	char	   *sql;
	bool		isnull;

	sql = psprintf("WITH _streamext_s AS MATERIALIZED (SELECT %s, " ET " FROM " BATCH
				   " WHERE " ET " %s OR " ET " IS NULL),"
				   " _streamext_i AS (INSERT INTO %s (%s, " ET ") SELECT %s, " ET
				   " FROM _streamext_s WHERE " ET " IS NOT NULL)"
				   " SELECT pg_catalog.count(*) FROM _streamext_s WHERE " ET " IS NULL",
				   cols, have_wm ? OP(">=") "$7" : "IS NOT NULL", state, cols, cols);
	run(sql, values, nulls, SPI_OK_SELECT);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* evict the buffered rows that have no window open any more */
static void
evict_rows(const char *state, Datum *values, const char *nulls)
{
	run(psprintf("DELETE FROM %s WHERE " ET OP("<") "$7", state),
		values, nulls, SPI_OK_DELETE);
}

/*
 * Tumble, append: the final windows' rows are the batch's rows below the
 * bound and the buffered rows below it (deleted as they are read); one
 * statement aggregates them all.  When nothing buffered is final (a catch-up
 * batch, or no window closed), the query reads the batch table alone: the
 * plan is then the plain INSERT ... SELECT ... GROUP BY over it.
 */
static int64
tumble_append(const char *state, const char *cols, const char *insert,
			  Datum *values, const char *nulls)
{
	const char *ws = "streamext.tumble_start(" ET ", $3, $6)";
	char	   *sql;
	bool		buffered;

	buffered = state_has_rows(state, ET OP("<") "$7", values, nulls);

	if (buffered)
		sql = psprintf("WITH _streamext_done AS (DELETE FROM %s WHERE " ET OP("<") "$7 RETURNING %s, " ET "),"
					   " batch AS (SELECT %s, %s AS window_start, (%s)" OP("+") "$3 AS window_end"
					   " FROM (SELECT %s, " ET " FROM " BATCH " WHERE " ET OP("<") "$7"
					   " UNION ALL SELECT %s, " ET " FROM _streamext_done) _streamext_u) %s",
					   state, cols, cols, ws, ws, cols, cols, insert);
	else
		sql = psprintf("WITH batch AS (SELECT %s, %s AS window_start, (%s)" OP("+") "$3 AS window_end"
					   " FROM " BATCH " WHERE " ET OP("<") "$7) %s",
					   cols, ws, ws, insert);
	run(sql, values, nulls, SPI_OK_INSERT);
	return (int64) SPI_processed;
}

/*
 * Hop, append: the windows that end in (previous watermark, watermark], over
 * the batch's rows and the buffered rows that can be in them (et < wm).
 */
static int64
hop_append(PipelineBatch *b, const char *state, List *batch_cols,
		   const char *insert, Datum *values, const char *nulls)
{
	char	   *cols = emit_column_list(batch_cols, NULL);
	char	   *ucols = emit_column_list(batch_cols, "_streamext_u.");
	char	   *sql;

	sql = psprintf("WITH batch AS (SELECT %s, pg_catalog.lower(_streamext_h.r) AS window_start,"
				   " pg_catalog.upper(_streamext_h.r) AS window_end"
				   " FROM (SELECT %s, " ET " FROM " BATCH " WHERE " ET OP("<") "$1"
				   " UNION ALL SELECT %s, " ET " FROM %s WHERE " ET OP("<") "$1) _streamext_u,"
				   " LATERAL streamext.hop(_streamext_u." ET ", $3, $4, $6) AS _streamext_h(r)"
				   " WHERE pg_catalog.upper(_streamext_h.r)" OP("<=") "$1 %s) %s",
				   ucols, cols, cols, state,
				   b->has_prev_watermark ? "AND pg_catalog.upper(_streamext_h.r)" OP(">") "$2" : "",
				   insert);
	run(sql, values, nulls, SPI_OK_INSERT);
	return (int64) SPI_processed;
}

/*
 * Tumble and hop, update: every window the batch touches (and that was not
 * final before it), over the batch's rows and the buffered rows of those
 * windows.
 */
static int64
sliding_update(PipelineBatch *b, const char *state, List *batch_cols,
			   const char *insert, Datum *values, const char *nulls)
{
	char	   *cols = emit_column_list(batch_cols, NULL);
	char	   *scols = emit_column_list(batch_cols, "_streamext_s.");
	const char *windows;
	char	   *sql;

	/* the windows of a row _streamext_x, as a set of ranges r */
	if (b->def->window_type == PIPELINE_WINDOW_TUMBLE)
		windows = "(SELECT streamext.tumble(_streamext_x." ET ", $3, $6)) AS _streamext_h(r)";
	else
		windows = "streamext.hop(_streamext_x." ET ", $3, $4, $6) AS _streamext_h(r)";

	if (!state_has_rows(state, "true", values, nulls))
	{
		/* nothing buffered (a first or catch-up batch): the batch alone */
		const char *ws = "streamext.tumble_start(" ET ", $3, $6)";

		if (b->def->window_type == PIPELINE_WINDOW_TUMBLE)
			sql = psprintf("WITH batch AS (SELECT %s, %s AS window_start, (%s)" OP("+") "$3 AS window_end"
						   " FROM " BATCH " WHERE " ET " IS NOT NULL) %s",
						   cols, ws, ws, insert);
		else
			sql = psprintf("WITH batch AS (SELECT %s, pg_catalog.lower(_streamext_h.r) AS window_start,"
						   " pg_catalog.upper(_streamext_h.r) AS window_end"
						   " FROM " BATCH " _streamext_x, LATERAL %s %s) %s",
						   emit_column_list(batch_cols, "_streamext_x."), windows,
						   b->has_prev_watermark ? "WHERE pg_catalog.upper(_streamext_h.r)" OP(">") "$2" : "",
						   insert);
		run(sql, values, nulls, SPI_OK_INSERT);
		return (int64) SPI_processed;
	}

	sql = psprintf("WITH _streamext_touched AS MATERIALIZED ("
				   "SELECT DISTINCT pg_catalog.lower(_streamext_h.r) AS ws FROM " BATCH " _streamext_x,"
				   " LATERAL %s WHERE true %s),"
				   " batch AS (SELECT %s, pg_catalog.lower(_streamext_h.r) AS window_start,"
				   " pg_catalog.upper(_streamext_h.r) AS window_end"
				   " FROM (SELECT %s, " ET " FROM " BATCH
				   " UNION ALL SELECT %s, _streamext_s." ET " FROM %s _streamext_s WHERE EXISTS (SELECT FROM _streamext_touched _streamext_t"
				   " WHERE _streamext_s." ET OP(">=") "_streamext_t.ws AND _streamext_s." ET OP("<") "(_streamext_t.ws" OP("+") "$3))) _streamext_x,"
				   " LATERAL %s, _streamext_touched _streamext_t"
				   " WHERE pg_catalog.lower(_streamext_h.r)" OP("=") "_streamext_t.ws) %s",
				   windows,
				   b->has_prev_watermark ? "AND pg_catalog.upper(_streamext_h.r)" OP(">") "$2" : "",
				   emit_column_list(batch_cols, "_streamext_x."), cols, scols, state,
				   windows, insert);
	run(sql, values, nulls, SPI_OK_INSERT);
	return (int64) SPI_processed;
}

/*
 * Session windows, append: sessions over the buffered rows and the batch's,
 * per key (session_window(), Spark's merge rule); the final sessions are
 * written and their buffered rows deleted, the batch's rows of open sessions
 * buffered - one statement.
 */
static int64
session_append(PipelineBatch *b, const char *state, List *batch_cols,
			   const char *insert, Datum *values, const char *nulls)
{
	PipelineDef *def = b->def;
	char	   *cols = emit_column_list(batch_cols, NULL);
	StringInfoData part;
	ListCell   *lc;
	char	   *sql;

	StringInfoData keys;
	char	   *buffered;

	initStringInfo(&part);
	initStringInfo(&keys);
	foreach(lc, def->window_keys)
	{
		appendStringInfo(&part, "%s%s", part.len > 0 ? ", " : "PARTITION BY ",
						 quote_identifier(lfirst(lc)));
		appendStringInfo(&keys, "%s%s", keys.len > 0 ? ", " : "",
						 quote_identifier(lfirst(lc)));
	}

	/*
	 * The buffered rows whose sessions may change: those of the keys in the
	 * batch, and of the keys with a row at or before watermark - gap (only
	 * such a key can have a session that ends by the watermark).  Keys are
	 * compared as record values, where NULL equals NULL as in PARTITION BY.
	 */
	if (keys.len > 0)
		buffered = psprintf("(SELECT %s, " ET ", _streamext_tid FROM (SELECT %s, " ET ", ctid AS _streamext_tid,"
							" ROW(%s) AS _streamext_k FROM %s) _streamext_b"
							" WHERE _streamext_k IN (SELECT ROW(%s) FROM " BATCH " WHERE " ET " IS NOT NULL"
							" UNION SELECT ROW(%s) FROM %s WHERE " ET OP("<=") "($1" OP("-") "$5)))",
							cols, cols, keys.data, state, keys.data, keys.data, state);
	else
		buffered = psprintf("(SELECT %s, " ET ", ctid FROM %s)", cols, state);

	sql = psprintf("WITH _streamext_s AS MATERIALIZED (SELECT %s, " ET ", _streamext_tid,"
				   " streamext.session_window(" ET ", $5) OVER (%s ORDER BY " ET ") AS _streamext_r"
				   " FROM (SELECT %s, " ET ", NULL::pg_catalog.tid AS _streamext_tid FROM " BATCH
				   " WHERE " ET " IS NOT NULL UNION ALL %s) _streamext_u),"
				   " _streamext_del AS (DELETE FROM %s AS _streamext_st USING _streamext_s"
				   " WHERE _streamext_st.ctid" OP("=") "_streamext_s._streamext_tid"
				   " AND pg_catalog.upper(_streamext_s._streamext_r)" OP("<=") "$1),"
				   " _streamext_keep AS (INSERT INTO %s (%s, " ET ") SELECT %s, " ET " FROM _streamext_s"
				   " WHERE _streamext_tid IS NULL AND pg_catalog.upper(_streamext_r)" OP(">") "$1),"
				   " batch AS (SELECT %s, pg_catalog.lower(_streamext_r) AS window_start,"
				   " pg_catalog.upper(_streamext_r) AS window_end FROM _streamext_s"
				   " WHERE pg_catalog.upper(_streamext_r)" OP("<=") "$1) %s",
				   cols, part.data, cols, buffered, state, state, cols, cols, cols, insert);
	run(sql, values, nulls, SPI_OK_INSERT);
	return (int64) SPI_processed;
}

/* is nothing buffered? (in the caller's SPI connection) */
static bool
state_is_empty(const char *state)
{
	bool		isnull;

	/*
	 * Not read-only: a read-only query runs with the caller's snapshot, which
	 * does not see the rows that the batches before this one in the same
	 * transaction (run_pipeline runs them all in the caller's) buffered.
	 */
	if (SPI_execute(psprintf("SELECT NOT EXISTS (SELECT FROM %s)", state), false, 1) != SPI_OK_SELECT)
		elog(ERROR, "window statement failed");
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * batch.c's single statement (no temporary table) covers tumble and hop
 * windows in append mode: which windows are final is known once the new
 * watermark is, and that is an aggregate over the rows read, which the
 * statement computes itself.  Update mode (a window's rows are re-read by
 * every batch that touches it) and sessions (recomputed from the buffer)
 * keep the steps of window_emit.
 */
bool
pipeline_window_fusable(PipelineDef *def)
{
	return def->mode == PIPELINE_MODE_APPEND &&
		(def->window_type == PIPELINE_WINDOW_TUMBLE || def->window_type == PIPELINE_WINDOW_HOP);
}

/* "'<text>'::pg_catalog.interval", and ", '<origin>'::pg_catalog.timestamptz" or "" */
static char *
interval_literal(const char *text)
{
	return psprintf("%s::pg_catalog.interval", quote_literal_cstr(text));
}

static char *
origin_arg(PipelineDef *def)
{
	return def->has_origin ?
		psprintf(", %s::pg_catalog.timestamptz", quote_literal_cstr(def->window_origin_text)) : "";
}

/*
 * The rows to buffer by tid (batch.c's single statement, tumble and hop in
 * append mode): without dedup_keys, over a plain heap source.  The rows to
 * buffer are those at or above the eviction bound, known once the scan that
 * finds the watermark is done; rather than a scan of their own, that scan
 * collects the tids of the rows at or above a lower bound of it, and the
 * buffer is filled from those tids (a TID scan) - one full scan of the rows
 * read fewer.  The lower bound is the eviction bound of the watermark that
 * the rows on the source's last pages alone would give, a subset of the
 * rows read, so it cannot exceed the batch's (watermark and bound are
 * monotonic in the largest event time); for a source appended to in event
 * time order, or one batch whose rows arrived in one transaction, those
 * rows are about the newest and the candidates about the rows to buffer.
 * Were they many more (the sample's rows old, the bound far below the real
 * one), the rows are buffered by a scan after all (the statement decides:
 * _streamext_wt.by_tid).  Partitioned and versioned sources, and dedup
 * (whose kept rows are not the scanned ones), buffer by a scan; so does a
 * batch that could read more than WINDOW_TID_MAX rows (the source's pages
 * times the most tuples a page holds, or max_batch_rows), which bounds the
 * memory the candidates' tids take whatever the estimate.
 */
static bool
buffer_by_tid(PipelineDef *def)
{
	return pipeline_window_fusable(def) && def->source_kind == PIPELINE_SOURCE_HEAP &&
		def->dedup_keys == NIL && get_rel_relkind(def->source) == RELKIND_RELATION;
}

char *
pipeline_window_scan_sql(PipelineBatch *b, const char *scan_cond)
{
	PipelineDef *def = b->def;
	int64		width;
	int64		slide;
	TimestampTz low;
	Relation	rel;
	BlockNumber nblocks;
	BlockNumber first;
	char	   *slide_sql;

	b->window_by_tid = false;
	if (!buffer_by_tid(def))
		return NULL;
	width = stream_interval_usecs(&def->window_width, "window width", false);
	slide = def->window_type == PIPELINE_WINDOW_HOP ?
		stream_interval_usecs(&def->window_slide, "window slide", false) : width;
	/* below low, wm - width and its window start could leave the valid range */
	if (pg_add_s64_overflow(MIN_TIMESTAMP, width, &low) ||
		pg_add_s64_overflow(low, slide, &low) || !IS_VALID_TIMESTAMP(low))
		return NULL;

	rel = relation_open(def->source, AccessShareLock);
	nblocks = RelationGetNumberOfBlocks(rel);
	relation_close(rel, AccessShareLock);
	if ((def->max_batch_rows <= 0 || def->max_batch_rows > WINDOW_TID_MAX) &&
		(int64) nblocks * MaxHeapTuplesPerPage > WINDOW_TID_MAX)
		return NULL;
	first = nblocks > WINDOW_SAMPLE_PAGES ? nblocks - WINDOW_SAMPLE_PAGES : 0;

	slide_sql = interval_literal(def->window_type == PIPELINE_WINDOW_HOP ?
								 def->window_slide_text : def->window_width_text);
	/*
	 * The candidates' test reads the source's column: an infinite event time
	 * (ET NULL) that passes it is a candidate that _streamext_wi drops.
	 */
	b->window_by_tid = true;
	return psprintf("pg_catalog.array_agg(batch." PIPELINE_ARRIVAL2 ") FILTER (WHERE %s%s(batch.%s)::pg_catalog.timestamptz" OP(">=")
					"(SELECT coalesce(CASE WHEN _streamext_p.w" OP(">=")
					"%s::pg_catalog.timestamptz THEN streamext.tumble_start(_streamext_p.w" OP("-") "%s, %s%s)"
					OP("+") "%s END, '-infinity'::pg_catalog.timestamptz)"
					" FROM (SELECT GREATEST($1::pg_catalog.timestamptz, streamext.watermark((SELECT s." ET
					" FROM " PIPELINE_READ_CTE " s WHERE s." PIPELINE_ARRIVAL2 OP(">=") "'(%u,0)'::pg_catalog.tid"
					" AND s." ET " IS NOT NULL ORDER BY s." ET " DESC LIMIT 1), $4::pg_catalog.interval)) AS w)"
					" _streamext_p)) AS _streamext_tids",
					scan_cond ? scan_cond : "", scan_cond ? " AND " : "", quote_identifier(def->event_time),
					quote_literal_cstr(DatumGetCString(DirectFunctionCall1(timestamptz_out,
																		   TimestampTzGetDatum(low)))),
					interval_literal(def->window_width_text), slide_sql, origin_arg(def), slide_sql,
					first);
}

/*
 * The parts of batch.c's single statement after the kept rows, for a tumble
 * or hop window in append mode: the CTEs up to "batch" and the INSERT of the
 * query's result as _streamext_t.  kept is the CTE of the kept rows (the
 * batch's columns and PIPELINE_ET_COLUMN, aliased "batch" so that the
 * checks in keep_cond can say batch.col), keep_cond the condition of the
 * rows the expectations keep, wm_sql the new watermark and prev_sql the
 * previous one (NULL before the first event).  The same rows as
 * window_emit's steps, without staging them:
 *
 *	- the new watermark wm and the eviction bound are computed once
 *	  (_streamext_wb; eviction_bound() in SQL);
 *	- tumble: the final windows are the kept rows below the bound and the
 *	  buffered rows below it, deleted as they are read (_streamext_wd); a
 *	  catch-up batch whose buffer holds nothing final thus aggregates the
 *	  rows read directly, as the plain INSERT ... SELECT ... GROUP BY would;
 *	- hop: the windows ending in (prev, wm] over the kept and buffered rows
 *	  below wm, and the buffered rows below the bound are deleted;
 *	- both read and delete buffered rows only when some window closes
 *	  (some_window_closes() in SQL, _streamext_closes: a condition without
 *	  columns, so the planner tests it once, before the scan): only then
 *	  does the bound move, and the buffer holds no row below the bound
 *	  before this batch, so nothing else could match.  The buffer has no
 *	  index (window_state.c): a batch that closes a window scans it;
 *	- the kept rows at or above the bound (all of them before the first
 *	  watermark) are buffered (_streamext_wi).
 *
 * The parts of one statement share its snapshot and none sees another's
 * writes: the buffered rows read are those before this batch, and the rows
 * buffered now are not read again.
 */
char *
pipeline_window_fused_sql(PipelineBatch *b, const char *kept, const char *keep_cond,
						  const char *wm_sql, const char *prev_sql, const char *insert)
{
	PipelineDef *def = b->def;
	List	   *batch_cols = emit_batch_columns(def->source);
	char	   *state = window_state_table(def);
	char	   *cols = emit_column_list(batch_cols, NULL);
	char	   *width = interval_literal(def->window_width_text);
	char	   *slide = def->window_type == PIPELINE_WINDOW_HOP ?
		interval_literal(def->window_slide_text) : width;
	char	   *origin = origin_arg(def);
	const char *bound = "(SELECT _streamext_bound FROM _streamext_wb)";
	const char *wm = "(SELECT _streamext_wm FROM _streamext_wb)";
	const char *closes = "(SELECT _streamext_closes FROM _streamext_wb)";
	StringInfoData sql;

	window_state_sync_columns(def, batch_cols);
	/*
	 * The rows to buffer by tid go into the state in bulk, after the
	 * statement, fetched with its snapshot; only when it reads the source
	 * itself: rows read into a tuplestore first were read with another.
	 */
	b->window_tids_c = b->window_by_tid && b->read_in_statement &&
		window_buffer_insertable(def, batch_cols);

	initStringInfo(&sql);
	/* wm - width is in the valid range whenever C's eviction_bound() is */
	appendStringInfo(&sql, "_streamext_wb AS (SELECT _streamext_w.wm AS _streamext_wm,"
					 " streamext.tumble_start(_streamext_w.wm" OP("-") "%s, %s%s)" OP("+") "%s AS _streamext_bound,"
					 " coalesce((streamext.tumble_start(_streamext_w.wm" OP("-") "%s, %s%s)" OP("+") "%s)"
					 OP(">") "%s, _streamext_w.wm IS NOT NULL) AS _streamext_closes"
					 " FROM (SELECT (%s) AS wm) _streamext_w),",
					 width, slide, origin, slide,
					 width, slide, origin, width, prev_sql, wm_sql);
	if (b->window_by_tid)
	{
		/* see pipeline_window_scan_sql: by tid, or (many candidates) by a scan */
		appendStringInfoString(&sql, " _streamext_wt AS (SELECT m._streamext_tids AS tids,"
							   " coalesce(pg_catalog.cardinality(m._streamext_tids)::pg_catalog.int8"
							   OP("*") "3" OP("<=") "m.n, true) AS by_tid FROM _streamext_m m),");
		if (!b->window_tids_c)
			appendStringInfo(&sql, " _streamext_wi AS (INSERT INTO %s (%s, " ET ") SELECT %s, batch." ET
						 " FROM " PIPELINE_READ_CTE " batch WHERE (SELECT by_tid FROM _streamext_wt)"
						 " AND batch." PIPELINE_ARRIVAL2 OP("=") "ANY ((SELECT tids FROM _streamext_wt)::pg_catalog.tid[])"
						 " AND NOT batch." PIPELINE_LATE_COLUMN " AND batch." ET OP(">=")
						 "coalesce(%s, '-infinity'::pg_catalog.timestamptz) AND (%s)),",
						 state, cols, emit_column_list(batch_cols, "batch."), bound, keep_cond);
		appendStringInfo(&sql, " _streamext_ws AS (INSERT INTO %s (%s, " ET ") SELECT %s, batch." ET
						 " FROM %s batch WHERE NOT (SELECT by_tid FROM _streamext_wt) AND batch." ET OP(">=")
						 "coalesce(%s, '-infinity'::pg_catalog.timestamptz) AND (%s)),",
						 state, cols, emit_column_list(batch_cols, "batch."), kept, bound, keep_cond);
	}
	else
		appendStringInfo(&sql, " _streamext_wi AS (INSERT INTO %s (%s, " ET ") SELECT %s, batch." ET
						 " FROM %s batch WHERE batch." ET OP(">=")
						 "coalesce(%s, '-infinity'::pg_catalog.timestamptz) AND (%s)),",
						 state, cols, emit_column_list(batch_cols, "batch."), kept, bound, keep_cond);
	if (def->window_type == PIPELINE_WINDOW_TUMBLE && state_is_empty(state))
	{
		/* nothing buffered (a first or catch-up batch): the kept rows alone */
		/*
		 * The rows below the bound have a finite event time, which is the
		 * source's column as timestamptz: the window is computed from that
		 * rather than from ET, whose isfinite() test would run once more per
		 * window column and row.
		 */
		const char *ws = psprintf("streamext.tumble_start((batch.%s)::pg_catalog.timestamptz, %s%s)",
								  quote_identifier(def->event_time), width, origin);

		appendStringInfo(&sql, " batch AS (SELECT %s, %s AS window_start, (%s)" OP("+") "%s AS window_end"
						 " FROM %s batch WHERE batch." ET OP("<") "%s AND (%s)),",
						 emit_column_list(batch_cols, "batch."), ws, ws, width,
						 kept, bound, keep_cond);
	}
	else if (def->window_type == PIPELINE_WINDOW_TUMBLE)
	{
		const char *ws = psprintf("streamext.tumble_start(_streamext_u." ET ", %s%s)", width, origin);

		appendStringInfo(&sql, " _streamext_wd AS (DELETE FROM %s WHERE %s AND " ET OP("<") "%s"
						 " RETURNING %s, " ET "),"
						 " batch AS (SELECT %s, %s AS window_start, (%s)" OP("+") "%s AS window_end"
						 " FROM (SELECT %s, batch." ET " FROM %s batch WHERE batch." ET OP("<") "%s AND (%s)"
						 " UNION ALL SELECT %s, " ET " FROM _streamext_wd) _streamext_u),",
						 state, closes, bound, cols,
						 emit_column_list(batch_cols, "_streamext_u."), ws, ws, width,
						 emit_column_list(batch_cols, "batch."), kept, bound, keep_cond,
						 cols);
	}
	else
	{
		appendStringInfo(&sql, " _streamext_wd AS (DELETE FROM %s WHERE %s AND " ET OP("<") "%s RETURNING 1),"
						 " batch AS (SELECT %s, pg_catalog.lower(_streamext_h.r) AS window_start,"
						 " pg_catalog.upper(_streamext_h.r) AS window_end"
						 " FROM (SELECT %s, batch." ET " FROM %s batch WHERE %s AND batch." ET OP("<") "%s AND (%s)"
						 " UNION ALL SELECT %s, " ET " FROM %s WHERE %s AND " ET OP("<") "%s) _streamext_u,"
						 " LATERAL streamext.hop(_streamext_u." ET ", %s, %s%s) AS _streamext_h(r)"
						 " WHERE pg_catalog.upper(_streamext_h.r)" OP("<=") "%s"
						 " AND (%s IS NULL OR pg_catalog.upper(_streamext_h.r)" OP(">") "%s)),",
						 state, closes, bound,
						 emit_column_list(batch_cols, "_streamext_u."),
						 emit_column_list(batch_cols, "batch."), kept, closes, wm, keep_cond,
						 cols, state, closes, wm,
						 width, slide, origin, wm, prev_sql, prev_sql);
	}
	appendStringInfo(&sql, " _streamext_t AS (%s RETURNING 1)", insert);
	return sql.data;
}

/*
 * Rows without an event time are in no window (Spark's window() drops them):
 * not silently - say how many and how to keep them.
 */
void
pipeline_window_warn_no_event_time(PipelineBatch *b, int64 n)
{
	if (n > 0)
		ereport(WARNING,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline \"%s\": " INT64_FORMAT " row%s of batch " INT64_FORMAT " without event time belong%s to no window",
						b->def->name, n, n > 1 ? "s" : "", b->batch, n > 1 ? "" : "s"),
				 errdetail("Rows whose \"%s\" is NULL are not aggregated.", b->def->event_time),
				 errhint("To keep them, add the expectation {\"name\": \"has_event_time\", \"check\": \"%s IS NOT NULL\", \"on_violation\": \"drop\"} and a quarantine table.",
						 quote_identifier(b->def->event_time))));
}

int64
window_emit(PipelineBatch *b, List *batch_cols, const char *insert)
{
	PipelineDef *def = b->def;
	char	   *state = window_state_table(def);
	char	   *cols = emit_column_list(batch_cols, NULL);
	TimestampTz origin = def->has_origin ? def->window_origin : SetEpochTimestamp();
	Datum		values[NPARAMS];
	char		nulls[NPARAMS];
	int64		rows = 0;

	window_state_sync_columns(def, batch_cols);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = TimestampTzGetDatum(b->new_watermark);
	nulls[0] = b->has_new_watermark ? ' ' : 'n';
	values[1] = TimestampTzGetDatum(b->prev_watermark);
	nulls[1] = b->has_prev_watermark ? ' ' : 'n';
	values[2] = IntervalPGetDatum(&def->window_width);
	values[3] = IntervalPGetDatum(&def->window_slide);
	values[4] = IntervalPGetDatum(&def->window_gap);
	values[5] = TimestampTzGetDatum(origin);
	values[6] = (Datum) 0;
	nulls[6] = 'n';
	if (b->has_new_watermark && def->window_type != PIPELINE_WINDOW_SESSION)
	{
		values[6] = TimestampTzGetDatum(eviction_bound(def, b->new_watermark, origin));
		nulls[6] = ' ';
	}

	if (!b->has_new_watermark && def->mode == PIPELINE_MODE_APPEND)
	{
		/* no event time yet: nothing is final, everything waits */
		pipeline_window_warn_no_event_time(b, buffer_rows(state, cols, false, values, nulls));
		return 0;
	}

	switch (def->window_type)
	{
		case PIPELINE_WINDOW_TUMBLE:
		case PIPELINE_WINDOW_HOP:
			if (def->mode == PIPELINE_MODE_APPEND && !some_window_closes(b, origin))
			{
				/*
				 * Nothing to write, nothing to evict (a row with no window
				 * open after this batch would be late): keep the rows.
				 */
				pipeline_window_warn_no_event_time(b, buffer_rows(state, cols, true, values, nulls));
				break;
			}
			if (def->mode == PIPELINE_MODE_UPDATE)
				rows = sliding_update(b, state, batch_cols, insert, values, nulls);
			else if (def->window_type == PIPELINE_WINDOW_TUMBLE)
				rows = tumble_append(state, cols, insert, values, nulls);
			else
				rows = hop_append(b, state, batch_cols, insert, values, nulls);
			/* tumble append deleted its final rows as it read them */
			if (b->has_new_watermark &&
				!(def->window_type == PIPELINE_WINDOW_TUMBLE && def->mode == PIPELINE_MODE_APPEND))
				evict_rows(state, values, nulls);
			pipeline_window_warn_no_event_time(b, buffer_rows(state, cols, b->has_new_watermark,
											  values, nulls));
			break;
		case PIPELINE_WINDOW_SESSION:
			rows = session_append(b, state, batch_cols, insert, values, nulls);
			run("SELECT pg_catalog.count(*) FROM " BATCH " WHERE " ET " IS NULL",
				values, nulls, SPI_OK_SELECT);
			{
				bool		isnull;

				pipeline_window_warn_no_event_time(b, DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
																  SPI_tuptable->tupdesc, 1, &isnull)));
			}
			break;
		case PIPELINE_WINDOW_NONE:
			break;
	}
	return rows;
}
