/*
 * stream_window.h
 *		What the event-time window functions (is_late, is_duplicate,
 *		session_window) share about walking a window partition.
 */
#ifndef STREAM_WINDOW_H
#define STREAM_WINDOW_H

#include "fmgr.h"
#include "windowapi.h"

#include "stream/stream.h"

/*
 * Advance the arrival clock to the current row of winobj: when the row is
 * not a peer of the previous one (in the window's ORDER BY), the previous
 * batch ends.  *nextpos tracks the row we expect and is checked, because
 * the state assumes every row is visited once, in order.
 */
extern void stream_window_clock_step(WindowObject winobj, StreamClock *clock,
									 int64 *nextpos, const char *fname);

/*
 * Check (once per call site) the window clause the window function fcinfo
 * runs in: ORDER BY required (on the first argument when order_by_arg0) and
 * a frame that covers every earlier row; clear errors otherwise.
 */
extern void stream_window_check(FunctionCallInfo fcinfo, const char *fname,
								bool order_by_arg0);

/*
 * For an aggregate's transition function: when it runs as a window
 * function, check that the frame starts at UNBOUNDED PRECEDING.
 */
extern void stream_window_check_running_aggregate(FunctionCallInfo fcinfo,
												  const char *fname);

#endif							/* STREAM_WINDOW_H */
