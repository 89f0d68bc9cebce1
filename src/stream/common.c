/*
 * common.c
 *		Argument checks and arithmetic shared by the event-time functions:
 *		intervals as microseconds, overflow-checked timestamp arithmetic,
 *		window alignment and tstzrange construction.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/rangetypes.h"
#include "utils/typcache.h"

#include "stream/stream.h"

int64
stream_interval_usecs(const Interval *iv, const char *what, bool allow_zero)
{
	int64		usecs;

	if (iv->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not contain months or years", what),
				 errhint("Event-time durations are fixed lengths (a day is 24 hours); use date_trunc() for calendar windows.")));
	if (pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &usecs) ||
		pg_add_s64_overflow(usecs, iv->time, &usecs))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", what)));
	if (usecs < 0 || (usecs == 0 && !allow_zero))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %s, got %s", what,
						allow_zero ? "zero or positive" : "positive",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(iv)))),
				 errhint("%s", allow_zero ?
						 "A watermark delay is how far event time may lag behind the largest event time seen." :
						 "Give a positive duration such as '5 minutes'.")));
	return usecs;
}

void
stream_check_finite(TimestampTz ts, const char *what)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be a finite timestamp", what),
				 errhint("Event-time windows are only defined for finite timestamps; filter out infinity first.")));
}

TimestampTz
stream_ts_add(TimestampTz ts, int64 delta)
{
	TimestampTz result;

	if (pg_add_s64_overflow(ts, delta, &result) || !IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
}

TimestampTz
stream_window_start(TimestampTz ts, int64 period, TimestampTz origin)
{
	int64		offset;
	int64		rem;

	/* both finite and within the valid range, so this cannot overflow */
	offset = ts - origin;
	rem = offset % period;
	if (rem < 0)
		rem += period;
	return ts - rem;
}

TimestampTz
stream_watermark_of(TimestampTz max_event_time, int64 delay)
{
	TimestampTz result;

	if (TIMESTAMP_NOT_FINITE(max_event_time))
		return max_event_time;
	if (pg_sub_s64_overflow(max_event_time, delay, &result) ||
		!IS_VALID_TIMESTAMP(result))
		TIMESTAMP_NOBEGIN(result);
	return result;
}

/*
 * Build the tstzrange [lower, upper).  Windows are built by the million, so
 * when timestamps are passed by value the range is written directly in the
 * on-disk range format (header, type, both bounds aligned, flags byte last),
 * which is what make_range() produces for a non-empty range with an
 * inclusive lower and an exclusive upper bound; the regression tests compare
 * it with tstzrange().
 */
Datum
stream_make_range(FunctionCallInfo fcinfo, TimestampTz lower, TimestampTz upper)
{
#ifdef USE_FLOAT8_BYVAL
	Size		size = MAXALIGN(sizeof(RangeType)) + 2 * sizeof(TimestampTz) + 1;
	RangeType  *range = palloc(size);
	char	   *ptr = (char *) range + MAXALIGN(sizeof(RangeType));

	StaticAssertStmt(sizeof(TimestampTz) == 8, "timestamptz must be 8 bytes");
	Assert(lower <= upper);
	SET_VARSIZE(range, size);
	range->rangetypid = TSTZRANGEOID;
	memcpy(ptr, &lower, sizeof(TimestampTz));
	memcpy(ptr + sizeof(TimestampTz), &upper, sizeof(TimestampTz));
	*((char *) range + size - 1) = RANGE_LB_INC;
	return RangeTypePGetDatum(range);
#else
	/* type cache entries live as long as the backend, so caching is safe */
	static TypeCacheEntry *typcache = NULL;
	RangeBound	lo;
	RangeBound	up;

	if (typcache == NULL)
		typcache = lookup_type_cache(TSTZRANGEOID, TYPECACHE_RANGE_INFO);
	lo.val = TimestampTzGetDatum(lower);
	lo.infinite = false;
	lo.inclusive = true;
	lo.lower = true;
	up.val = TimestampTzGetDatum(upper);
	up.infinite = false;
	up.inclusive = false;
	up.lower = false;
	return RangeTypePGetDatum(make_range(typcache, &lo, &up, false));
#endif
}
