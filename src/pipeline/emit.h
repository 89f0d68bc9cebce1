/*
 * emit.h
 *		What emit.c (the query and the target), window.c (windowed
 *		aggregation), window_state.c (the buffered rows of open windows) and
 *		window_buffer.c (filling them in bulk) share.  Only these four files
 *		include it.
 */
#ifndef STREAMEXT_PIPELINE_EMIT_H
#define STREAMEXT_PIPELINE_EMIT_H

#include "pipeline/pipeline_internal.h"

/* One column of "batch" as the user's query sees it (a source column). */
typedef struct EmitColumn
{
	char	   *name;
	Oid			type;
	int32		typmod;
	Oid			collation;
} EmitColumn;

/*
 * The columns of relation relid that make up "batch": every live column but
 * PIPELINE_TRACK_COLUMN and PIPELINE_ET_COLUMN, in attribute order.
 */
extern List *emit_batch_columns(Oid relid);

/* "a", "b", ... quoted, each prefixed by prefix (e.g. "u.") when not NULL */
extern char *emit_column_list(List *cols, const char *prefix);

/*
 * The user's query, checked to be exactly one SELECT (errors otherwise), as
 * the text of that one statement (no trailing semicolon); "SELECT * FROM
 * batch" when the pipeline has none.
 */
extern char *emit_query_text(PipelineDef *def);

/* Run with the pipeline's stored search_path until emit_pop_search_path. */
extern int	emit_push_search_path(PipelineDef *def);
extern void emit_pop_search_path(int nestlevel);

/* window.c: check the window options against the source's columns */
extern void window_validate(PipelineDef *def, List *batch_cols);

/*
 * window.c: windowed emit of one batch.  insert_sql is "INSERT INTO target
 * (cols) SELECT * FROM (<query>) q" followed by the update mode's ON
 * CONFLICT clause, and refers to the CTE "batch" that window.c defines in
 * front of it.  Returns the rows written to the target.
 */
extern int64 window_emit(PipelineBatch *b, List *batch_cols, const char *insert_sql);

/* window_state.c: the state table of buffered rows, and its columns */
extern char *window_state_table(PipelineDef *def);
extern Oid	window_state_relid(PipelineDef *def);
extern void window_state_sync_columns(PipelineDef *def, List *batch_cols);
/* window_buffer.c: whether window_buffer_insert may fill the state (after the sync) */
extern bool window_buffer_insertable(PipelineDef *def, List *batch_cols);

#endif							/* STREAMEXT_PIPELINE_EMIT_H */
