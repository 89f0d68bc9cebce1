/*
 * watermark.c
 *		Watermarks and late rows: the streamext.watermark() aggregate and the
 *		streamext.is_late() window function, plus the arrival clock they and
 *		is_duplicate() share with the pipelines.
 *
 * Spark semantics: watermark = max event time seen - delay, never
 * decreasing; a row is late when event_time <= the watermark of the rows
 * that arrived before it (inclusive test, microseconds).  Rows that arrived
 * together (peers in ORDER BY arrival, i.e. one micro-batch) share the
 * watermark of the batches before them.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"

#include "stream/stream.h"
#include "stream/stream_window.h"

PG_FUNCTION_INFO_V1(se_watermark_sfunc);
PG_FUNCTION_INFO_V1(se_is_late);

void
stream_clock_end_batch(StreamClock *clock)
{
	if (clock->have_cur)
	{
		if (!clock->have_prev || clock->cur_max > clock->prev_max)
			clock->prev_max = clock->cur_max;
		clock->have_prev = true;
		clock->have_cur = false;
	}
}

void
stream_clock_observe(StreamClock *clock, TimestampTz event_time)
{
	if (!clock->have_cur || event_time > clock->cur_max)
		clock->cur_max = event_time;
	clock->have_cur = true;
}

bool
stream_clock_watermark(const StreamClock *clock, int64 delay,
					   TimestampTz *watermark)
{
	if (!clock->have_prev)
		return false;
	*watermark = stream_watermark_of(clock->prev_max, delay);
	return true;
}

void
stream_window_clock_step(WindowObject winobj, StreamClock *clock,
						 int64 *nextpos, const char *fname)
{
	int64		cur = WinGetCurrentPosition(winobj);

	if (cur != *nextpos)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("%s visited row " INT64_FORMAT " of its partition, expected " INT64_FORMAT,
								 fname, cur, *nextpos)));
	if (cur > 0)
	{
		if (!WinRowsArePeers(winobj, cur - 1, cur))
			stream_clock_end_batch(clock);
		/* only the previous row is needed again (for the peer test) */
		WinSetMarkPosition(winobj, cur - 1);
	}
	*nextpos = cur + 1;
}

/*
 * watermark(event_time, delay) transition: the state is the largest
 * event_time - delay so far (NULL until a row has both), which equals
 * max(event_time) - delay for a constant delay.  Combining two states is
 * timestamptz_larger, so the aggregate runs in parallel plans.
 */
Datum
se_watermark_sfunc(PG_FUNCTION_ARGS)
{
	TimestampTz candidate;

	stream_window_check_running_aggregate(fcinfo, "watermark()");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	candidate = stream_watermark_of(PG_GETARG_TIMESTAMPTZ(1),
									stream_interval_usecs(PG_GETARG_INTERVAL_P(2),
														  "watermark delay", true));
	if (!PG_ARGISNULL(0) && PG_GETARG_TIMESTAMPTZ(0) >= candidate)
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	PG_RETURN_TIMESTAMPTZ(candidate);
}

typedef struct LateState
{
	int64		nextpos;
	StreamClock clock;
} LateState;

/*
 * is_late(event_time, delay) OVER (ORDER BY arrival): true when
 * event_time <= max(event_time of the rows before) - delay.  The first
 * row (batch) is never late; NULL event_time or delay gives NULL.
 */
Datum
se_is_late(PG_FUNCTION_ARGS)
{
	WindowObject winobj = PG_WINDOW_OBJECT();
	LateState  *st;
	Datum		et;
	Datum		delay;
	bool		etnull;
	bool		delaynull;
	TimestampTz wm;
	bool		late;

	stream_window_check(fcinfo, "is_late()", false);
	st = (LateState *) WinGetPartitionLocalMemory(winobj, sizeof(LateState));
	stream_window_clock_step(winobj, &st->clock, &st->nextpos, "is_late()");

	et = WinGetFuncArgCurrent(winobj, 0, &etnull);
	delay = WinGetFuncArgCurrent(winobj, 1, &delaynull);
	if (etnull)
		PG_RETURN_NULL();
	if (delaynull)
	{
		stream_clock_observe(&st->clock, DatumGetTimestampTz(et));
		PG_RETURN_NULL();
	}
	late = stream_clock_watermark(&st->clock,
								  stream_interval_usecs(DatumGetIntervalP(delay),
														"watermark delay", true),
								  &wm) &&
		DatumGetTimestampTz(et) <= wm;
	stream_clock_observe(&st->clock, DatumGetTimestampTz(et));
	PG_RETURN_BOOL(late);
}
