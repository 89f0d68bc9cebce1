/*
 * stream_window.h
 *		What the event-time window functions (is_late, is_duplicate,
 *		session_window) share about walking a window partition.
 */
#ifndef STREAM_WINDOW_H
#define STREAM_WINDOW_H

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

#endif							/* STREAM_WINDOW_H */
