/*
 * late.c
 *		The late rule of DESIGN.md as one SQL boolean expression.
 *
 * Spark's rule: the watermark is the one after the previous batch; without a
 * window a row is late when its event time <= watermark; with a window it is
 * late when the window it would still have to enter has closed:
 *
 *	 tumble:  tumble_start(et, width, origin) + width <= wm
 *	 hop:	  tumble_start(et, slide, origin) + width <= wm
 *			  (the last window containing et starts at the slide-aligned
 *			  start of et; it ends width later; once that end is past, every
 *			  window of the row has been emitted)
 *	 session: et + gap <= wm
 *
 * A NULL watermark (no event seen yet) or a NULL event time: not late.  The
 * expression is built from the option texts through quote_literal and
 * schema-qualified operators and functions, so it means the same under any
 * search_path it runs with (the pipeline's, or the pinned one).
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "pipeline/pipeline_internal.h"

/* et is the start of the last (or only) window holding the row: its end */
static void
append_window_end(StringInfo buf, PipelineDef *def, const char *et_sql,
				  const char *align_text)
{
	appendStringInfo(buf, "(streamext.tumble_start((%s)::pg_catalog.timestamptz, %s::pg_catalog.interval",
					 et_sql, quote_literal_cstr(align_text));
	if (def->has_origin)
		appendStringInfo(buf, ", %s::pg_catalog.timestamptz",
						 quote_literal_cstr(def->window_origin_text));
	appendStringInfo(buf, ") OPERATOR(pg_catalog.+) %s::pg_catalog.interval)",
					 quote_literal_cstr(def->window_width_text));
}

char *
pipeline_late_predicate(PipelineDef *def, const char *et_sql, const char *wm_sql)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "COALESCE(");
	switch (def->window_type)
	{
		case PIPELINE_WINDOW_TUMBLE:
			append_window_end(&buf, def, et_sql, def->window_width_text);
			break;
		case PIPELINE_WINDOW_HOP:
			append_window_end(&buf, def, et_sql, def->window_slide_text);
			break;
		case PIPELINE_WINDOW_SESSION:
			appendStringInfo(&buf, "((%s)::pg_catalog.timestamptz OPERATOR(pg_catalog.+) %s::pg_catalog.interval)",
							 et_sql, quote_literal_cstr(def->window_gap_text));
			break;
		case PIPELINE_WINDOW_NONE:
			appendStringInfo(&buf, "(%s)::pg_catalog.timestamptz", et_sql);
			break;
	}
	appendStringInfo(&buf, " OPERATOR(pg_catalog.<=) (%s)::pg_catalog.timestamptz, false)",
					 wm_sql);
	return buf.data;
}
