-- Review of pipelines: the tracking column of a pipeline's heap source is
-- the extension's; a Kafka source writing the table leaves it to its default.
\set SHOW_CONTEXT never
SET client_min_messages = error;
CREATE SCHEMA se_plr;
SET search_path = se_plr;
-- A Kafka message cannot set the tracking column: a JSON key or a CSV field
-- "_streamext_xid" would otherwise date the row to a transaction every
-- pipeline has already read, and the row would be skipped for good.  The
-- column always gets its default, the inserting transaction.
CREATE TABLE r_bronze (device text, n int);
CREATE TABLE r_silver (device text, n int);
SELECT streamext.create_pipeline('plr_bronze', 'r_bronze', 'r_silver', NULL, '{"trigger": "manual"}');
SELECT (streamext.decode_message(NULL::r_bronze,
	convert_to('{"device": "a", "n": 1, "_streamext_xid": "1"}', 'UTF8'), 'json'))._streamext_xid
	= pg_current_xact_id() AS json_row_has_own_xid;
-- a CSV record has no field for it: the records the table took before the
-- pipeline added the column still fit, a third field is refused
SELECT (streamext.decode_message(NULL::r_bronze, convert_to('a,1,1', 'UTF8'), 'csv'))._streamext_xid
	= pg_current_xact_id() AS csv_row_has_own_xid;
SELECT (streamext.decode_message(NULL::r_bronze, convert_to('a,1', 'UTF8'), 'csv'))._streamext_xid
	= pg_current_xact_id() AS csv_row_has_own_xid;

-- cleanup
SELECT streamext.drop_pipeline(name) FROM streamext.pipelines WHERE name LIKE 'plr\_%' ORDER BY name;
DROP SCHEMA se_plr CASCADE;
