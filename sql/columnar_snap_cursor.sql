-- versioned_columnar: backward scans of the custom scan (SCROLL cursors), cursors WITH HOLD
CREATE TABLE snap_sc (a int, b text) USING versioned_columnar;
INSERT INTO snap_sc SELECT g, 'v' || g FROM generate_series(1, 5) g;
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT * FROM snap_sc WHERE a <> 3;
FETCH 2 c; FETCH BACKWARD 1 c; FETCH ABSOLUTE 4 c; FETCH ALL c; FETCH BACKWARD 2 c; MOVE FIRST c; FETCH c; FETCH PRIOR c; FETCH PRIOR c; FETCH NEXT c; FETCH LAST c; FETCH RELATIVE -2 c;
DELETE FROM snap_sc WHERE CURRENT OF c;
FETCH ABSOLUTE -1 c;
COMMIT;
SELECT * FROM snap_sc ORDER BY a;
BEGIN;
DECLARE d CURSOR FOR SELECT b FROM snap_sc;
FETCH 2 d; FETCH BACKWARD 1 d; MOVE ABSOLUTE 0 d; FETCH d;
COMMIT;
BEGIN;
DECLARE e NO SCROLL CURSOR FOR SELECT b FROM snap_sc;
FETCH 2 e; FETCH BACKWARD 1 e;
COMMIT;
BEGIN;
DECLARE f SCROLL CURSOR FOR SELECT count(*) FROM snap_sc;
FETCH f; FETCH BACKWARD f;
COMMIT;
BEGIN;
DECLARE g SCROLL CURSOR FOR SELECT * FROM snap_sc WHERE ctid > '(0,2)';
FETCH g; FETCH BACKWARD g;
COMMIT;
BEGIN;
DECLARE h SCROLL CURSOR WITH HOLD FOR SELECT * FROM snap_sc;
FETCH h;
COMMIT;
FETCH h; FETCH BACKWARD h; FETCH ABSOLUTE 3 h;
CLOSE h;
-- a scroll cursor over a join and an aggregate of the table
BEGIN;
DECLARE j SCROLL CURSOR FOR SELECT x.a, y.b FROM snap_sc x JOIN snap_sc y ON x.a = y.a + 1 ORDER BY x.a;
FETCH ALL j; FETCH BACKWARD ALL j;
COMMIT;
-- backward steps of a core TID range scan, TID range bounds
CREATE TABLE snap_big (a int) USING versioned_columnar;
INSERT INTO snap_big SELECT generate_series(1, 20000);
ANALYZE snap_big;
EXPLAIN (COSTS OFF) SELECT * FROM snap_big WHERE ctid < '(0,5)';
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT * FROM snap_big WHERE ctid < '(0,5)';
FETCH 2 c; FETCH BACKWARD 1 c; FETCH BACKWARD 1 c; FETCH ALL c; FETCH BACKWARD 2 c; FETCH ABSOLUTE 3 c; FETCH LAST c; FETCH NEXT c; FETCH PRIOR c; MOVE BACKWARD ALL c; FETCH c;
COMMIT;
SELECT min(ctid) = '(1,1)' AS starts_at_block_1, max(ctid) < '(2,0)' AS ends_in_block_1,
	count(*) = (SELECT count(*) FROM snap_big WHERE ctid >= '(1,1)' AND ctid <= '(1,65535)') AS same_rows
FROM snap_big WHERE ctid >= '(1,0)' AND ctid < '(2,0)';
SELECT count(*) FROM snap_big WHERE ctid < '(0,0)';
SELECT a FROM snap_big WHERE ctid = '(0,1)';
DROP TABLE snap_big, snap_sc;
