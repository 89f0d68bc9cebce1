/*
 * windows.c
 *		Tumbling and sliding (hopping) event-time windows:
 *		streamext.tumble(), streamext.tumble_start() and streamext.hop().
 *
 * Windows are half-open [start, start + width) and aligned to origin (the
 * Unix epoch by default): start = ts - ((ts - origin) mod width), with a
 * floor modulo so that timestamps before the origin land in the window that
 * really contains them.  This is Spark's window(ts, width, slide, startTime).
 */
#include "postgres.h"

#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "utils/timestamp.h"

#include "stream/stream.h"

PG_FUNCTION_INFO_V1(se_tumble);
PG_FUNCTION_INFO_V1(se_tumble_start);
PG_FUNCTION_INFO_V1(se_hop);
PG_FUNCTION_INFO_V1(se_hop_support);

static TimestampTz
tumble_start_args(FunctionCallInfo fcinfo, int64 *width)
{
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz origin = PG_GETARG_TIMESTAMPTZ(2);

	*width = stream_interval_usecs(PG_GETARG_INTERVAL_P(1), "window width", false);
	stream_check_finite(ts, "event time");
	stream_check_finite(origin, "window origin");
	return stream_window_start(ts, *width, origin);
}

/* tumble(ts, width, origin) -> tstzrange [start, start + width) */
Datum
se_tumble(PG_FUNCTION_ARGS)
{
	int64		width;
	TimestampTz start = tumble_start_args(fcinfo, &width);

	PG_RETURN_DATUM(stream_make_range(fcinfo, start, stream_ts_add(start, width)));
}

/* tumble_start(ts, width, origin) -> the start of tumble()'s window */
Datum
se_tumble_start(PG_FUNCTION_ARGS)
{
	int64		width;

	PG_RETURN_TIMESTAMPTZ(tumble_start_args(fcinfo, &width));
}

typedef struct HopState
{
	TimestampTz next;			/* start of the next window to return */
	int64		slide;
	int64		width;
	int64		remaining;		/* windows still to return */
} HopState;

/*
 * hop(ts, width, slide, origin) -> every window [s, s + width) with
 * s = origin + k * slide and s <= ts < s + width, ascending.
 *
 * The latest such start is s_last = floor-aligned ts.  With d = ts - s_last
 * (0 <= d < slide <= width) the earlier starts s_last - k * slide qualify
 * while k * slide < width - d, so there are (width - d - 1) / slide + 1
 * windows; width / slide need not be whole.
 */
Datum
se_hop(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	HopState   *st;

	if (SRF_IS_FIRSTCALL())
	{
		TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);
		TimestampTz origin = PG_GETARG_TIMESTAMPTZ(3);
		int64		width;
		int64		slide;
		TimestampTz last;
		int64		k;

		width = stream_interval_usecs(PG_GETARG_INTERVAL_P(1), "window width", false);
		slide = stream_interval_usecs(PG_GETARG_INTERVAL_P(2), "window slide", false);
		if (slide > width)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("window slide must not be larger than window width"),
					 errhint("A sliding window covers [start, start + width) every slide; with slide > width some rows would fall in no window. Use tumble() for slide = width.")));
		stream_check_finite(ts, "event time");
		stream_check_finite(origin, "window origin");

		funcctx = SRF_FIRSTCALL_INIT();
		st = MemoryContextAlloc(funcctx->multi_call_memory_ctx, sizeof(HopState));
		last = stream_window_start(ts, slide, origin);
		k = (width - (ts - last) - 1) / slide;
		/* k * slide < width, so only the subtraction can leave the range */
		if (pg_sub_s64_overflow(last, k * slide, &st->next) ||
			!IS_VALID_TIMESTAMP(st->next))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
		st->slide = slide;
		st->width = width;
		st->remaining = k + 1;
		funcctx->user_fctx = st;
	}

	funcctx = SRF_PERCALL_SETUP();
	st = (HopState *) funcctx->user_fctx;
	if (st->remaining > 0)
	{
		TimestampTz start = st->next;
		Datum		result;

		result = stream_make_range(fcinfo, start, stream_ts_add(start, st->width));
		st->remaining--;
		if (st->remaining > 0)
			st->next = start + st->slide;
		SRF_RETURN_NEXT(funcctx, result);
	}
	SRF_RETURN_DONE(funcctx);
}

/*
 * Planner support for hop(): each row yields width / slide windows on
 * average, so with constant durations the planner sees the real row count
 * (and plans joins, aggregation and parallelism as for generate_series()).
 */
Datum
se_hop_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestRows *req;
	List	   *args;
	Node	   *width;
	Node	   *slide;
	Interval   *w;
	Interval   *s;
	double		wus;
	double		sus;

	if (!IsA(rawreq, SupportRequestRows))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestRows *) rawreq;
	if (!is_funcclause(req->node))
		PG_RETURN_POINTER(NULL);
	args = ((FuncExpr *) req->node)->args;
	if (list_length(args) < 3)
		PG_RETURN_POINTER(NULL);
	width = estimate_expression_value(req->root, (Node *) lsecond(args));
	slide = estimate_expression_value(req->root, (Node *) lthird(args));
	if (!IsA(width, Const) || !IsA(slide, Const) ||
		((Const *) width)->constisnull || ((Const *) slide)->constisnull)
		PG_RETURN_POINTER(NULL);
	w = DatumGetIntervalP(((Const *) width)->constvalue);
	s = DatumGetIntervalP(((Const *) slide)->constvalue);
	wus = (double) w->day * USECS_PER_DAY + w->time;
	sus = (double) s->day * USECS_PER_DAY + s->time;
	/* invalid durations fail at run time; only estimate sensible ones */
	if (w->month != 0 || s->month != 0 || wus <= 0 || sus <= 0 || sus > wus)
		PG_RETURN_POINTER(NULL);
	req->rows = wus / sus;
	PG_RETURN_POINTER(req);
}
