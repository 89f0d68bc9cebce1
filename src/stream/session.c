/*
 * session.c
 *		streamext.session_window(ts, gap) OVER (PARTITION BY key ORDER BY ts):
 *		gap-based session windows, as Spark's session_window().
 *
 * Every row opens [ts, ts + gap); while the next row's ts <= the current
 * session's end the rows merge (the end becomes the largest ts + gap), and
 * every row of a session gets the whole session's range.  The function reads
 * ahead to the end of each session once, so a partition costs O(rows).
 * Because the rows must come in ts order, the order is verified as the rows
 * are read: a window not ordered by ts gets an error instead of wrong ranges.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "stream/stream.h"
#include "stream/stream_window.h"

PG_FUNCTION_INFO_V1(se_session_window);

typedef struct SessionState
{
	int64		nextpos;		/* row we expect to be called for */
	bool		valid;			/* does a session cover rows up to last? */
	int64		last;			/* last row of the current session */
	TimestampTz start;
	TimestampTz end;
} SessionState;

static void
order_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_WINDOWING_ERROR),
			 errmsg("session_window() requires its window to be ordered by its ts argument"),
			 errhint("Write session_window(ts, gap) OVER (PARTITION BY key ORDER BY ts).")));
}

/* ts and gap of row pos (relative to the current row); false for NULLs */
static bool
row_at(WindowObject winobj, int64 relpos, TimestampTz *ts, int64 *gap, bool *isout)
{
	bool		tsnull;
	bool		gapnull;
	Datum		tsd;
	Datum		gapd;

	tsd = WinGetFuncArgInPartition(winobj, 0, (int) relpos, WINDOW_SEEK_CURRENT,
								   false, &tsnull, isout);
	if (*isout)
		return false;
	gapd = WinGetFuncArgInPartition(winobj, 1, (int) relpos, WINDOW_SEEK_CURRENT,
									false, &gapnull, isout);
	if (tsnull || gapnull)
		return false;
	*ts = DatumGetTimestampTz(tsd);
	stream_check_finite(*ts, "session event time");
	*gap = stream_interval_usecs(DatumGetIntervalP(gapd), "session gap", false);
	return true;
}

Datum
se_session_window(PG_FUNCTION_ARGS)
{
	WindowObject winobj = PG_WINDOW_OBJECT();
	SessionState *st;
	int64		cur = WinGetCurrentPosition(winobj);
	TimestampTz ts;
	int64		gap;
	bool		isout;
	int64		rel;
	int64		prevrel;
	TimestampTz prevts;

	stream_window_check(fcinfo, "session_window()", true);
	st = (SessionState *) WinGetPartitionLocalMemory(winobj, sizeof(SessionState));
	if (cur != st->nextpos)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("session_window() visited row " INT64_FORMAT " of its partition, expected " INT64_FORMAT,
								 cur, st->nextpos)));
	st->nextpos = cur + 1;
	/* rows before the current one are never read again */
	WinSetMarkPosition(winobj, cur);

	if (!row_at(winobj, 0, &ts, &gap, &isout))
		PG_RETURN_NULL();
	if (st->valid && cur <= st->last)
		PG_RETURN_DATUM(stream_make_range(fcinfo, st->start, st->end));

	/* a new session starts here: read ahead to its last row */
	st->valid = true;
	st->last = cur;
	st->start = ts;
	st->end = stream_ts_add(ts, gap);
	prevrel = 0;
	prevts = ts;
	for (rel = 1;; rel++)
	{
		TimestampTz nts;
		int64		ngap;
		TimestampTz nend;

		CHECK_FOR_INTERRUPTS();
		if (cur + rel > (int64) PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("session_window() supports at most %d rows in one session", PG_INT32_MAX)));
		if (!row_at(winobj, rel, &nts, &ngap, &isout))
		{
			if (isout)
				break;
			continue;			/* NULL rows belong to no session */
		}
		/* the window must be ordered by ts: ascending, peers only if equal */
		if (nts < prevts ||
			(nts != prevts && WinRowsArePeers(winobj, cur + prevrel, cur + rel)))
			order_error();
		if (nts > st->end)
			break;
		nend = stream_ts_add(nts, ngap);
		if (nend > st->end)
			st->end = nend;
		st->last = cur + rel;
		prevrel = rel;
		prevts = nts;
	}
	PG_RETURN_DATUM(stream_make_range(fcinfo, st->start, st->end));
}
