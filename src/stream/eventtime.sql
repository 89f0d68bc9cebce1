-- src/stream/eventtime.sql: event-time windows, watermarks, late rows and
-- deduplication (Spark Structured Streaming semantics; see docs/event-time.md).
-- Durations are fixed lengths (a day is 24 hours; months are refused), so
-- every function is independent of the session's time zone.

CREATE FUNCTION streamext.tumble(ts timestamptz, width interval,
                                 origin timestamptz DEFAULT 'epoch')
	RETURNS tstzrange
	AS 'MODULE_PATHNAME', 'se_tumble'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION streamext.tumble(timestamptz, interval, timestamptz) IS
	'tumbling event-time window [start, start + width) containing ts, aligned to origin';

CREATE FUNCTION streamext.tumble_start(ts timestamptz, width interval,
                                       origin timestamptz DEFAULT 'epoch')
	RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'se_tumble_start'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION streamext.tumble_start(timestamptz, interval, timestamptz) IS
	'start of the tumbling window containing ts: ts - ((ts - origin) mod width)';

CREATE FUNCTION streamext.hop_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_hop_support'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION streamext.hop_support(internal) IS
	'planner support for streamext.hop(): width / slide rows per call';

CREATE FUNCTION streamext.hop(ts timestamptz, width interval, slide interval,
                              origin timestamptz DEFAULT 'epoch')
	RETURNS SETOF tstzrange
	AS 'MODULE_PATHNAME', 'se_hop'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 2 SUPPORT streamext.hop_support;
COMMENT ON FUNCTION streamext.hop(timestamptz, interval, interval, timestamptz) IS
	'sliding event-time windows [s, s + width) containing ts, s = origin + k * slide, ascending';

CREATE FUNCTION streamext.session_window(ts timestamptz, gap interval)
	RETURNS tstzrange
	AS 'MODULE_PATHNAME', 'se_session_window'
	LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION streamext.session_window(timestamptz, interval) IS
	'window function, OVER (PARTITION BY key ORDER BY ts): the session [first ts, last ts + gap) of the row';

CREATE FUNCTION streamext.watermark_sfunc(state timestamptz, event_time timestamptz,
                                          delay interval)
	RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'se_watermark_sfunc'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION streamext.watermark_sfunc(timestamptz, timestamptz, interval) IS
	'transition function of streamext.watermark()';

CREATE AGGREGATE streamext.watermark(event_time timestamptz, delay interval) (
	SFUNC = streamext.watermark_sfunc,
	STYPE = timestamptz,
	COMBINEFUNC = pg_catalog.timestamptz_larger,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE streamext.watermark(timestamptz, interval) IS
	'max(event_time) - delay; as a window function OVER (ORDER BY arrival) the running watermark';

CREATE FUNCTION streamext.is_late(event_time timestamptz, delay interval)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'se_is_late'
	LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION streamext.is_late(timestamptz, interval) IS
	'window function, OVER (ORDER BY arrival): event_time <= max(event_time of earlier rows) - delay';

CREATE FUNCTION streamext.is_duplicate(key anyelement, event_time timestamptz, delay interval)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'se_is_duplicate'
	LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION streamext.is_duplicate(anyelement, timestamptz, interval) IS
	'window function, OVER (ORDER BY arrival): key already kept and watermark < its first event time + delay';
