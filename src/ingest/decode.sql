-- decode.sql: streamext.decode_message(), trying a source's format and options on one message.

CREATE FUNCTION streamext.decode_message(
	"row" anyelement,
	payload bytea,
	format text DEFAULT 'json',
	options jsonb DEFAULT '{}',
	key bytea DEFAULT NULL)
RETURNS anyelement
	AS 'MODULE_PATHNAME', 'streamext_decode_message'
	-- not strict: "row" is NULL::table by convention, a NULL payload is a tombstone;
	-- volatile: column defaults (now(), nextval) are evaluated per call
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION streamext.decode_message(anyelement, bytea, text, jsonb, bytea) IS
	'decode one message into a row of the table named by NULL::table, as a source with that format and options would';

-- The long form also takes the message's Kafka position, timestamp and headers
-- ({"name": "value", ...}), so every metadata column can be tried; without a
-- default on any argument it never competes with the short form.
CREATE FUNCTION streamext.decode_message(
	"row" anyelement,
	payload bytea,
	format text,
	options jsonb,
	key bytea,
	topic text,
	"partition" integer,
	"offset" bigint,
	"timestamp" timestamptz,
	headers jsonb)
RETURNS anyelement
	AS 'MODULE_PATHNAME', 'streamext_decode_message'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION streamext.decode_message(anyelement, bytea, text, jsonb, bytea, text, integer, bigint, timestamptz, jsonb) IS
	'decode one message with its topic, partition, offset, timestamp and headers into a row of the table named by NULL::table';
