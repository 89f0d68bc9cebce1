-- Deduplication within the watermark: streamext.is_duplicate(key, event_time, delay)
-- OVER (ORDER BY arrival).  The first row of a key is kept; a later row of the key
-- is a duplicate while watermark < first_event_time + delay; then the key is
-- forgotten (evicted) and the next row of the key is kept again.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

CREATE TEMP TABLE se_dd (arrival int, device int, event_time timestamptz, note text);
INSERT INTO se_dd VALUES
	(1, 1, '2024-01-01 10:00:00', 'first of (1, 10:00): kept, expires at 10:10'),
	(2, 1, '2024-01-01 10:00:00', 'same key: duplicate'),
	(3, 2, '2024-01-01 10:00:00', 'other key: kept'),
	(4, 1, '2024-01-01 10:19:59', 'max 10:19:59, watermark 10:09:59'),
	(5, 1, '2024-01-01 10:00:00', 'watermark 10:09:59 < 10:10: still a duplicate'),
	(6, 1, '2024-01-01 10:20:00', 'max 10:20, watermark 10:10'),
	(7, 1, '2024-01-01 10:00:00', 'watermark 10:10 >= expiry 10:10: evicted, kept again (and late)'),
	(8, 1, '2024-01-01 10:00:00', 'row 7''s key expired at once (watermark 10:10): kept again, late'),
	(9, 2, NULL, 'no event time: NULL'),
	(10, 1, '2024-01-01 10:19:59', 'duplicate of row 4');

SELECT arrival, device, event_time, note,
       streamext.is_duplicate(ROW(device, event_time), event_time, '10 minutes') OVER w AS dup,
       streamext.is_late(event_time, '10 minutes') OVER w AS late
  FROM se_dd WINDOW w AS (ORDER BY arrival) ORDER BY arrival;

-- keys of any hashable type: int, text (with collation), arrays, NULL keys
SELECT arrival, k, streamext.is_duplicate(k, et, '1 hour') OVER (ORDER BY arrival) AS dup
  FROM (VALUES (1, 'a'::text, '2024-01-01 10:00:00+00'::timestamptz), (2, 'A', '2024-01-01 10:00:00+00'),
               (3, 'a', '2024-01-01 10:01:00+00'), (4, NULL, '2024-01-01 10:02:00+00'),
               (5, NULL, '2024-01-01 10:03:00+00'), (6, 'a', '2024-01-01 10:04:00+00')) v(arrival, k, et)
 ORDER BY arrival;
SELECT arrival, k, streamext.is_duplicate(k, et, '1 hour') OVER (ORDER BY arrival) AS dup
  FROM (VALUES (1, ARRAY[1, 2], '2024-01-01 10:00:00+00'::timestamptz), (2, ARRAY[2, 1], '2024-01-01 10:00:00+00'),
               (3, ARRAY[1, 2], '2024-01-01 10:00:00+00')) v(arrival, k, et)
 ORDER BY arrival;

-- records compare column by column, NULL columns equal each other (as DISTINCT)
SELECT arrival, a, b, streamext.is_duplicate(ROW(a, b), et, '1 hour') OVER (ORDER BY arrival) AS dup
  FROM (VALUES (1, 1, 'x', '2024-01-01 10:00:00+00'::timestamptz), (2, 1, NULL, '2024-01-01 10:00:00+00'),
               (3, 1, NULL, '2024-01-01 10:00:00+00'), (4, NULL, NULL, '2024-01-01 10:00:00+00'),
               (5, NULL, NULL, '2024-01-01 10:00:00+00'), (6, 1, 'x', '2024-01-01 10:00:00+00')) v(arrival, a, b, et)
 ORDER BY arrival;

-- named composite types and whole-row references work as keys too
CREATE TYPE se_dd_key AS (device int, event_time timestamptz);
SELECT arrival, streamext.is_duplicate(ROW(device, event_time)::se_dd_key, event_time, '1 hour')
         OVER (ORDER BY arrival) AS composite_dup
  FROM se_dd WHERE arrival <= 3 ORDER BY arrival;
SELECT s.arrival, streamext.is_duplicate(d, s.event_time, '1 hour') OVER (ORDER BY s.arrival) AS whole_row_dup
  FROM se_dd s CROSS JOIN LATERAL (SELECT s.device, s.event_time) d
 WHERE s.arrival <= 3 ORDER BY s.arrival;
DROP TYPE se_dd_key;

-- PARTITION BY: each partition has its own keys and watermark
SELECT arrival, device, streamext.is_duplicate(event_time, event_time, '10 minutes')
         OVER (PARTITION BY device ORDER BY arrival) AS dup
  FROM se_dd WHERE arrival <= 3 ORDER BY arrival;

-- rows of one batch (same arrival) share the watermark of earlier batches
SELECT batch, et, k, streamext.is_duplicate(k, et, '10 minutes') OVER (ORDER BY batch) AS dup
  FROM (VALUES (1, '2024-01-01 10:00:00+00'::timestamptz, 'k'), (2, '2024-01-01 10:30:00+00', 'z'),
               (2, '2024-01-01 10:00:00+00', 'k'), (3, '2024-01-01 10:00:00+00', 'k')) v(batch, et, k)
 ORDER BY batch, k;

-- dedup then drop late rows, Spark's withWatermark + dropDuplicatesWithinWatermark
SELECT arrival, device, event_time FROM (
	SELECT *, streamext.is_duplicate(ROW(device, event_time), event_time, '10 minutes') OVER w AS dup,
	          streamext.is_late(event_time, '10 minutes') OVER w AS late
	  FROM se_dd WINDOW w AS (ORDER BY arrival)) s
 WHERE NOT dup AND NOT late ORDER BY arrival;

-- eviction: keys come back after 100,000 seconds, far beyond the 60-second
-- horizon, so every key was forgotten and nothing is a duplicate (memory holds
-- about 61 keys at a time, not 100,000)
SELECT count(*) FILTER (WHERE dup) AS dups, count(*) AS total
  FROM (SELECT streamext.is_duplicate(i % 100000, t, '60 seconds') OVER (ORDER BY i) AS dup
          FROM (SELECT i, '2024-01-01'::timestamptz + i * interval '1 second' AS t
                  FROM generate_series(1, 200000) i) g) s;

-- errors: keys without a hash opclass, negative delay
\set VERBOSITY default
SELECT streamext.is_duplicate(point(1, 1), now(), '1 minute') OVER (ORDER BY 1);
SELECT streamext.is_duplicate(ROW(1, point(1, 1)), now(), '1 minute') OVER (ORDER BY 1);
SELECT streamext.is_duplicate(1, now(), '-1 minute') OVER (ORDER BY 1);
\set VERBOSITY terse

SELECT proname, prokind, provolatile, proisstrict, proparallel, proargtypes::regtype[]
  FROM pg_proc WHERE oid = 'streamext.is_duplicate'::regproc;
DROP TABLE se_dd;
RESET timezone;
RESET datestyle;
RESET intervalstyle;
