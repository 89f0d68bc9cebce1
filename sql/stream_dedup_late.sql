-- Late rows never enter the dedup state (DESIGN.md, "The guarantees"; Spark drops
-- late rows before dropDuplicatesWithinWatermark).  A late row's key must not make
-- a later on-time row of the same key a duplicate.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE TEMP TABLE se_ddl (arrival int, device int, event_time timestamptz, note text);
INSERT INTO se_ddl VALUES
	(1, 1, '2024-01-01 10:30:00', 'max 10:30: watermark 10:20'),
	(2, 2, '2024-01-01 10:15:00', 'late (10:15 <= 10:20): not remembered'),
	(3, 2, '2024-01-01 10:21:00', 'on time, first on-time row of device 2: kept'),
	(4, 2, '2024-01-01 10:22:00', 'duplicate of row 3'),
	(5, 3, '2024-01-01 10:25:00', 'on time: kept, remembered'),
	(6, 3, '2024-01-01 10:10:00', 'late and a duplicate of row 5: both'),
	(7, 4, '2024-01-01 10:19:00', 'late'),
	(8, 4, '2024-01-01 10:18:00', 'late again: the late row 7 left no key, so not a duplicate');

-- dedup on the device alone: a late row's expiry (10:15 + 10 min = 10:25) is
-- still ahead of the watermark when row 3 arrives
SELECT arrival, device, event_time, note,
       streamext.is_late(event_time, '10 minutes') OVER w AS late,
       streamext.is_duplicate(device, event_time, '10 minutes') OVER w AS dup
  FROM se_ddl WINDOW w AS (ORDER BY arrival) ORDER BY arrival;

-- Spark's withWatermark + dropDuplicatesWithinWatermark: row 3 survives
SELECT arrival, device, event_time FROM (
	SELECT *, streamext.is_late(event_time, '10 minutes') OVER w AS late,
	          streamext.is_duplicate(device, event_time, '10 minutes') OVER w AS dup
	  FROM se_ddl WINDOW w AS (ORDER BY arrival)) s
 WHERE NOT late AND NOT dup ORDER BY arrival;

-- rows of one batch (peers) share the watermark of earlier batches: a late row
-- in batch 2 does not hide the on-time row of the same key in batch 3, and an
-- on-time peer in batch 2 is remembered as usual
SELECT batch, k, et, streamext.is_late(et, '10 minutes') OVER w AS late,
       streamext.is_duplicate(k, et, '10 minutes') OVER w AS dup
  FROM (VALUES (1, 'x', '2024-01-01 10:30:00+00'::timestamptz),
               (2, 'a', '2024-01-01 10:15:00+00'), (2, 'b', '2024-01-01 10:25:00+00'),
               (3, 'a', '2024-01-01 10:26:00+00'), (3, 'b', '2024-01-01 10:27:00+00')) v(batch, k, et)
WINDOW w AS (ORDER BY batch) ORDER BY batch, k;

-- a bronze table of a multi-partition topic: each partition's offsets start at 0,
-- so ORDER BY _offset interleaves partitions by position, not by arrival; the
-- ingest batch (_ingested_at, one per transaction) is the arrival order
CREATE TEMP TABLE se_bronze (_ingested_at timestamptz, _partition int, _offset bigint, event_time timestamptz);
INSERT INTO se_bronze VALUES
	('2024-01-01 11:00:00', 0, 0, '2024-01-01 10:00:00'),
	('2024-01-01 11:00:00', 0, 1, '2024-01-01 10:01:00'),
	('2024-01-01 11:00:01', 1, 0, '2024-01-01 10:30:00'),
	('2024-01-01 11:00:02', 0, 2, '2024-01-01 10:02:00');
SELECT _ingested_at, _partition, _offset, event_time,
       streamext.is_late(event_time, '10 minutes')
         OVER (ORDER BY _ingested_at, _partition, _offset) AS late_by_batch,
       streamext.is_late(event_time, '10 minutes') OVER (ORDER BY _offset) AS late_by_offset
  FROM se_bronze ORDER BY _ingested_at, _partition, _offset;
-- the hint names that order
SELECT streamext.is_late(event_time, '10 minutes') OVER () FROM se_bronze;
