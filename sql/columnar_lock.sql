-- versioned_columnar: row locks and what needs them (SELECT ... FOR UPDATE/SHARE, foreign keys
-- in both directions, INSERT ... ON CONFLICT, BEFORE ROW triggers).  Every statement prints what
-- it prints on a heap table (this file run with the USING clauses removed gives the same output).
CREATE TABLE lk (k int PRIMARY KEY, v text) USING versioned_columnar;
INSERT INTO lk SELECT g, 'v' || g FROM generate_series(1, 6) g;

-- every lock mode, NOWAIT and SKIP LOCKED (nobody else holds a lock)
SELECT * FROM lk WHERE k = 2 FOR UPDATE;
SELECT * FROM lk WHERE k <= 2 ORDER BY k FOR NO KEY UPDATE;
SELECT * FROM lk WHERE k IN (3, 4) ORDER BY k FOR SHARE NOWAIT;
SELECT * FROM lk ORDER BY k FOR KEY SHARE SKIP LOCKED;
SELECT k FROM lk WHERE v = 'v5' FOR UPDATE OF lk;
SELECT a.k, b.v FROM lk a JOIN lk b ON b.k = a.k + 1 WHERE a.k < 3 ORDER BY a.k FOR UPDATE OF a;

-- locks in a transaction: rows changed earlier in it, in savepoints, through a cursor
BEGIN;
UPDATE lk SET v = 'changed' WHERE k = 1;
SELECT * FROM lk WHERE k = 1 FOR UPDATE;
DELETE FROM lk WHERE k = 6;
SELECT count(*) FROM (SELECT * FROM lk FOR SHARE) s;
SAVEPOINT s1;
SELECT * FROM lk WHERE k = 2 FOR UPDATE;
UPDATE lk SET v = 'in savepoint' WHERE k = 2;
ROLLBACK TO s1;
SELECT * FROM lk WHERE k = 2 FOR UPDATE;
DECLARE c CURSOR FOR SELECT * FROM lk WHERE k > 3 ORDER BY k FOR UPDATE;
FETCH 1 FROM c;
UPDATE lk SET v = 'via cursor' WHERE k = 4;
FETCH 1 FROM c;
CLOSE c;
COMMIT;
SELECT * FROM lk ORDER BY k;

-- a heap table referencing a gold table (RI checks lock the referenced row FOR KEY SHARE)
CREATE TABLE lk_child (id int, k int REFERENCES lk ON DELETE CASCADE ON UPDATE CASCADE);
INSERT INTO lk_child VALUES (1, 1), (2, 2), (3, 2);
INSERT INTO lk_child VALUES (4, 99);
UPDATE lk_child SET k = 3 WHERE id = 3;
UPDATE lk_child SET k = 98 WHERE id = 3;
UPDATE lk SET k = 20 WHERE k = 2;
DELETE FROM lk WHERE k = 1;
SELECT * FROM lk_child ORDER BY id;
-- a gold table referencing a gold table, RESTRICT and SET NULL
CREATE TABLE lk_gchild (id int, k int REFERENCES lk ON DELETE SET NULL, k2 int REFERENCES lk ON UPDATE RESTRICT)
	USING versioned_columnar;
INSERT INTO lk_gchild VALUES (1, 3, 4), (2, 4, 5);
INSERT INTO lk_gchild VALUES (3, 7, 4);
DELETE FROM lk WHERE k = 3;
UPDATE lk SET k = 40 WHERE k = 4;
UPDATE lk SET v = 'not the key' WHERE k = 4;
SELECT * FROM lk_gchild ORDER BY id;
-- a deferred foreign key checked at commit
CREATE TABLE lk_def (k int REFERENCES lk DEFERRABLE INITIALLY DEFERRED) USING versioned_columnar;
BEGIN;
INSERT INTO lk_def VALUES (50);
INSERT INTO lk VALUES (50, 'just in time');
COMMIT;
BEGIN;
INSERT INTO lk_def VALUES (51);
COMMIT;
SELECT * FROM lk_def;

-- INSERT ... ON CONFLICT
CREATE TABLE up (k int PRIMARY KEY, n int, note text) USING versioned_columnar;
INSERT INTO up VALUES (1, 1, 'a'), (2, 1, 'b');
INSERT INTO up VALUES (1, 9, 'x'), (3, 1, 'c') ON CONFLICT DO NOTHING;
INSERT INTO up VALUES (2, 9, 'y') ON CONFLICT (k) DO NOTHING RETURNING *;
INSERT INTO up VALUES (1, 1, 'a2'), (4, 1, 'd') ON CONFLICT (k) DO UPDATE
	SET n = up.n + excluded.n, note = excluded.note RETURNING *;
INSERT INTO up VALUES (2, 5, 'z') ON CONFLICT ON CONSTRAINT up_pkey DO UPDATE
	SET n = up.n + excluded.n WHERE up.note = 'nope' RETURNING *;
INSERT INTO up AS u VALUES (2, 5, 'z') ON CONFLICT (k) DO UPDATE
	SET n = u.n + excluded.n WHERE u.note = 'b' RETURNING u.*, (SELECT count(*) FROM up) AS before;
-- the same key twice in one command
INSERT INTO up VALUES (5, 1, 'e'), (5, 2, 'e2') ON CONFLICT (k) DO UPDATE SET n = excluded.n;
INSERT INTO up VALUES (6, 1, 'f'), (6, 2, 'f2') ON CONFLICT (k) DO NOTHING;
-- in one transaction, with savepoints
BEGIN;
INSERT INTO up VALUES (7, 1, 'g') ON CONFLICT (k) DO UPDATE SET n = up.n + 1;
INSERT INTO up VALUES (7, 1, 'g') ON CONFLICT (k) DO UPDATE SET n = up.n + 1;
SAVEPOINT s1;
INSERT INTO up VALUES (7, 1, 'g') ON CONFLICT (k) DO UPDATE SET n = up.n + 100;
INSERT INTO up VALUES (8, 1, 'h') ON CONFLICT (k) DO UPDATE SET n = up.n + 100;
ROLLBACK TO s1;
INSERT INTO up VALUES (8, 1, 'h') ON CONFLICT (k) DO NOTHING;
SELECT * FROM up WHERE k >= 7 ORDER BY k;
COMMIT;
-- a unique index on another column, and a partial arbiter index
CREATE UNIQUE INDEX up_note ON up (note);
INSERT INTO up VALUES (9, 1, 'a2') ON CONFLICT (note) DO UPDATE SET n = up.n + 10 RETURNING *;
INSERT INTO up VALUES (9, 1, 'a2') ON CONFLICT (k) DO NOTHING;
INSERT INTO up VALUES (9, 1, 'a2') ON CONFLICT DO NOTHING;
CREATE UNIQUE INDEX up_part ON up (n) WHERE note LIKE 'p%';
INSERT INTO up VALUES (10, 77, 'p1');
INSERT INTO up VALUES (11, 77, 'p2') ON CONFLICT (n) WHERE note LIKE 'p%' DO UPDATE SET note = 'p1!' RETURNING *;
SELECT * FROM up ORDER BY k;
-- many rows: a bulk upsert over segments written earlier in the same transaction
SET streamext.columnar_segment_rows = 1000;
BEGIN;
INSERT INTO up SELECT g, 0, 'bulk ' || g FROM generate_series(100, 3099) g;
INSERT INTO up SELECT g, 1, 'bulk ' || g FROM generate_series(1000, 5099) g
	ON CONFLICT (k) DO UPDATE SET n = up.n + excluded.n;
COMMIT;
RESET streamext.columnar_segment_rows;
SELECT n, count(*), min(k), max(k) FROM up WHERE k >= 100 GROUP BY n ORDER BY n;

-- BEFORE ROW triggers on UPDATE and DELETE lock the row first
CREATE TABLE tg (k int, v int) USING versioned_columnar;
INSERT INTO tg SELECT g, g FROM generate_series(1, 5) g;
CREATE FUNCTION tg_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		RETURN CASE WHEN OLD.k = 5 THEN NULL ELSE OLD END;
	END IF;
	NEW.v := NEW.v * 10;
	RETURN NEW;
END $$;
CREATE TRIGGER tg_b BEFORE UPDATE OR DELETE ON tg FOR EACH ROW EXECUTE FUNCTION tg_before();
UPDATE tg SET v = v + 1 WHERE k <= 2;
DELETE FROM tg WHERE k >= 4;
BEGIN;
UPDATE tg SET v = v + 1 WHERE k = 1;
UPDATE tg SET v = v + 1 WHERE k = 1;
COMMIT;
MERGE INTO tg USING (VALUES (2), (3), (9)) s(k) ON tg.k = s.k
	WHEN MATCHED AND s.k = 2 THEN DELETE
	WHEN MATCHED THEN UPDATE SET v = 0
	WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.k);
SELECT * FROM tg ORDER BY k;

DROP TABLE lk_child, lk_gchild, lk_def, lk, up, tg;
DROP FUNCTION tg_before();
