/*
 * stream.h
 *		Event-time building blocks of the stream component, for the SQL
 *		functions in src/stream/ and for the pipelines that run them on
 *		micro-batches (src/pipeline/).
 *
 * All durations are whole microseconds: a day counts as 24 hours and
 * intervals with months are refused, exactly like Spark's event-time
 * operators, so that windows and watermarks do not depend on the session's
 * time zone.
 */
#ifndef STREAM_H
#define STREAM_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/timestamp.h"

/*
 * Convert an interval argument to microseconds.  "what" names the argument
 * in error messages ("width", "slide", "gap", "delay").  Months are refused;
 * allow_zero says whether 0 is acceptable (delays) or not (window sizes).
 */
extern int64 stream_interval_usecs(const Interval *iv, const char *what,
								   bool allow_zero);

/* Refuse an infinite timestamp argument with a clear error. */
extern void stream_check_finite(TimestampTz ts, const char *what);

/* ts + delta with an overflow check ("timestamp out of range"). */
extern TimestampTz stream_ts_add(TimestampTz ts, int64 delta);

/*
 * Start of the window of size "period" containing ts, aligned so that
 * start = origin + k * period (floor, also for ts before origin).
 */
extern TimestampTz stream_window_start(TimestampTz ts, int64 period,
									   TimestampTz origin);

/*
 * Watermark for the largest event time seen: max_event_time - delay,
 * saturating at -infinity instead of failing (a watermark is a bound).
 */
extern TimestampTz stream_watermark_of(TimestampTz max_event_time, int64 delay);

/* Build the tstzrange [lower, upper). */
extern Datum stream_make_range(FunctionCallInfo fcinfo, TimestampTz lower,
							   TimestampTz upper);

/*
 * Deduplication within the watermark, the state behind is_duplicate() and a
 * pipeline's dedup keys.  Keys of any type with a hash opclass (records
 * included; NULL keys are equal to each other).  Memory lives in the given
 * context and is bounded by the keys whose first_event_time + delay is still
 * above the watermark.
 */
typedef struct StreamDedup StreamDedup;

extern StreamDedup *stream_dedup_create(MemoryContext parent, Oid keytype,
										Oid collation);

/* Forget the keys whose first_event_time + delay <= watermark. */
extern void stream_dedup_evict(StreamDedup *dd, TimestampTz watermark);

/*
 * True when key is already held (a duplicate); otherwise remember it with
 * expiry event_time + delay and return false.  Call stream_dedup_evict()
 * with the current watermark first.
 */
extern bool stream_dedup_check(StreamDedup *dd, Datum key, bool isnull,
							   TimestampTz event_time, int64 delay);

/*
 * True when key is already held, without remembering it otherwise: for late
 * rows, which never enter the dedup state (a late row's key must not make a
 * later on-time row of the same key a duplicate).
 */
extern bool stream_dedup_contains(StreamDedup *dd, Datum key, bool isnull);

/* Number of keys held now. */
extern int64 stream_dedup_count(StreamDedup *dd);

/*
 * Persisting the key store between micro-batches: visit every key held (in
 * no particular order) with its expiry, and put a key back with the expiry
 * it had, e.g. when a pipeline loads its state at the start of a batch.
 */
typedef void (*StreamDedupVisitor) (Datum key, bool isnull, TimestampTz expiry,
									void *arg);
extern void stream_dedup_foreach(StreamDedup *dd, StreamDedupVisitor visit,
								 void *arg);
extern void stream_dedup_restore(StreamDedup *dd, Datum key, bool isnull,
								 TimestampTz expiry);

/*
 * Arrival clock: the watermark as the rows of a stream arrive in batches.
 * A row's watermark is the largest event time of the batches before its
 * own minus the delay, so rows of one batch (peers in ORDER BY arrival, or
 * one micro-batch of a pipeline) all see the same watermark, as in Spark.
 */
typedef struct StreamClock
{
	bool		have_prev;		/* did earlier batches have an event time? */
	TimestampTz prev_max;		/* largest event time of earlier batches */
	bool		have_cur;
	TimestampTz cur_max;		/* largest event time of the current batch */
} StreamClock;

/* A new batch begins: the current batch's events count from now on. */
extern void stream_clock_end_batch(StreamClock *clock);

/* An event time (not NULL) of the current batch. */
extern void stream_clock_observe(StreamClock *clock, TimestampTz event_time);

/* Watermark for the current batch; false when no earlier batch had events. */
extern bool stream_clock_watermark(const StreamClock *clock, int64 delay,
								   TimestampTz *watermark);

#endif							/* STREAM_H */
