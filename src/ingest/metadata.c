/*
 * metadata.c
 *		Filling a target's metadata columns (_topic, _partition, _offset, _key,
 *		_kafka_timestamp, _ingested_at, _headers, _raw) from a message, and
 *		leaving a pipeline's tracking column (_streamext_xid) to its default.
 *
 * A metadata column of its canonical type gets its value directly; one of
 * another type (say _partition bigint or _topic varchar(100)) gets the
 * value's text form through that type's input function, so any sensible
 * type works without a list of allowed ones.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "ingest/decode_internal.h"

MetaKind
metadata_kind(const char *colname)
{
	if (colname[0] != '_')
		return META_NONE;
	if (strcmp(colname, "_topic") == 0)
		return META_TOPIC;
	if (strcmp(colname, "_partition") == 0)
		return META_PARTITION;
	if (strcmp(colname, "_offset") == 0)
		return META_OFFSET;
	if (strcmp(colname, "_key") == 0)
		return META_KEY;
	if (strcmp(colname, "_kafka_timestamp") == 0)
		return META_KAFKA_TIMESTAMP;
	if (strcmp(colname, "_ingested_at") == 0)
		return META_INGESTED_AT;
	if (strcmp(colname, "_headers") == 0)
		return META_HEADERS;
	if (strcmp(colname, "_raw") == 0)
		return META_RAW;

	/*
	 * The column by which pipelines read each row once (src/pipeline/): a
	 * message must not set it, or a row could be dated to a transaction the
	 * pipelines have read already and be skipped for good; nor is it a field
	 * of a CSV record.
	 */
	if (strcmp(colname, "_streamext_xid") == 0)
		return META_TRACK_XID;
	return META_NONE;
}

/* A value whose canonical form is text: convert for columns of other types. */
static Datum
from_text(SourceDecoder *dec, DecodeColumn *col, const char *s, int len)
{
	if (col->kind == CK_TEXT)
		return decoder_text_datum(dec, s, len);
	return decoder_input(dec, col, s, len);
}

static Datum
from_int64(SourceDecoder *dec, DecodeColumn *col, int64 v)
{
	char		buf[32];

	switch (col->kind)
	{
		case CK_INT8:
			return Int64GetDatum(v);
		case CK_INT4:
			if (v >= PG_INT32_MIN && v <= PG_INT32_MAX)
				return Int32GetDatum((int32) v);
			break;
		default:
			break;
	}
	snprintf(buf, sizeof(buf), INT64_FORMAT, v);
	return from_text(dec, col, buf, strlen(buf));
}

static Datum
from_timestamptz(SourceDecoder *dec, DecodeColumn *col, TimestampTz ts)
{
	const char *s;

	if (col->typid == TIMESTAMPTZOID)
		return TimestampTzGetDatum(ts);
	s = timestamptz_to_str(ts);
	return decoder_input(dec, col, s, strlen(s));
}

/*
 * Raw bytes (key or payload) into a column: bytea takes them as they are,
 * json/jsonb parse them, every other type needs valid UTF-8 text.
 */
static bool
from_bytes(SourceDecoder *dec, DecodeColumn *col, const char *what,
		   const char *s, size_t len, Datum *value, char **error)
{
	int			bad;

	if (col->typid == BYTEAOID)
	{
		bytea	   *b = palloc(len + VARHDRSZ);

		SET_VARSIZE(b, len + VARHDRSZ);
		memcpy(VARDATA(b), s, len);
		*value = PointerGetDatum(b);
		return true;
	}
	bad = utf8_invalid_at(s, len);
	if (bad >= 0)
	{
		*error = psprintf("%s is not valid UTF-8 (byte %d), so it cannot go into %s column \"%s\"",
						  what, bad, format_type_be(col->typid), col->name);
		return false;
	}
	*value = from_text(dec, col, s, (int) len);
	return true;
}

/*
 * _headers: {"name": "value", ...}.  A value that is valid UTF-8 without NUL
 * bytes is a JSON string; any other value is {"b64": "<base64>"}, so that no
 * text value (say one that reads "\x0102") can be taken for bytes and no
 * byte is lost.  A header without value is null.
 */
static Datum
headers_jsonb(SourceDecoder *dec, DecodeColumn *col, const IngestMessage *msg)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbValue *res;
	int			i;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < msg->nheaders; i++)
	{
		const char *name = msg->header_names[i] ? msg->header_names[i] : "";
		const char *val = msg->header_values ? msg->header_values[i] : NULL;
		size_t		vlen = (val && msg->header_lens) ? msg->header_lens[i] : (val ? strlen(val) : 0);

		v.type = jbvString;
		if (utf8_invalid_at(name, strlen(name)) >= 0)
			v.val.string.val = "?";
		else
			v.val.string.val = decoder_server_string(dec, name, strlen(name));
		v.val.string.len = strlen(v.val.string.val);
		pushJsonbValue(&state, WJB_KEY, &v);
		if (val == NULL)
			v.type = jbvNull;
		else if (utf8_invalid_at(val, vlen) < 0)
		{
			v.type = jbvString;
			v.val.string.val = decoder_server_string(dec, val, (int) vlen);
			v.val.string.len = strlen(v.val.string.val);
		}
		else
		{
			int			blen = pg_b64_enc_len((int) vlen);
			char	   *b64 = palloc(blen + 1);
			int			n = pg_b64_encode(val, (int) vlen, b64, blen);

			if (n < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("could not encode header \"%s\" in base64", name)));
			pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
			v.type = jbvString;
			v.val.string.val = "b64";
			v.val.string.len = 3;
			pushJsonbValue(&state, WJB_KEY, &v);
			v.val.string.val = b64;
			v.val.string.len = n;
			pushJsonbValue(&state, WJB_VALUE, &v);
			pushJsonbValue(&state, WJB_END_OBJECT, NULL);
			continue;
		}
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	if (col->kind == CK_JSONB)
		return JsonbPGetDatum(JsonbValueToJsonb(res));
	else
	{
		char	   *s = JsonbToCString(NULL, &JsonbValueToJsonb(res)->root, 0);

		return InputFunctionCall(&col->infunc, s, col->ioparam, col->typmod);
	}
}

/*
 * Fill the metadata columns.  A message built by decode_message() has no
 * topic: its position, timestamp and headers are unknown, so those columns
 * get their DEFAULT (else NULL), as does _ingested_at.
 */
bool
metadata_fill(SourceDecoder *dec, const IngestMessage *msg,
			  Datum *values, bool *isnull, char **error)
{
	int			i;
	bool		from_kafka = msg->topic != NULL;

	for (i = 0; i < dec->natts; i++)
	{
		DecodeColumn *col = &dec->cols[i];

		if (col->skip || col->meta == META_NONE)
			continue;
		isnull[i] = false;
		switch (col->meta)
		{
			case META_TOPIC:
				if (!from_kafka)
					decoder_fill_default(dec, i, values, isnull);
				else
					values[i] = from_text(dec, col, msg->topic, strlen(msg->topic));
				break;
			case META_PARTITION:
				if (!from_kafka)
					decoder_fill_default(dec, i, values, isnull);
				else
					values[i] = from_int64(dec, col, msg->partition);
				break;
			case META_OFFSET:
				if (!from_kafka)
					decoder_fill_default(dec, i, values, isnull);
				else
					values[i] = from_int64(dec, col, msg->offset);
				break;
			case META_KEY:
				if (msg->key == NULL)
					isnull[i] = true;
				else if (!from_bytes(dec, col, "message key", msg->key, msg->key_len,
									 &values[i], error))
					return false;
				break;
			case META_KAFKA_TIMESTAMP:
				if (!from_kafka || !msg->has_timestamp)
					decoder_fill_default(dec, i, values, isnull);
				else
					values[i] = from_timestamptz(dec, col, msg->timestamp);
				break;
			case META_INGESTED_AT:
				if (!from_kafka)
					decoder_fill_default(dec, i, values, isnull);
				else
					values[i] = from_timestamptz(dec, col, GetCurrentTransactionStartTimestamp());
				break;
			case META_HEADERS:
				if (!from_kafka)
					decoder_fill_default(dec, i, values, isnull);
				else
					values[i] = headers_jsonb(dec, col, msg);
				break;
			case META_RAW:
				if (msg->payload == NULL)
					isnull[i] = true;
				else if (!from_bytes(dec, col, "message payload", msg->payload,
									 msg->payload_len, &values[i], error))
					return false;
				break;
			case META_TRACK_XID:
				decoder_fill_default(dec, i, values, isnull);
				break;
			case META_NONE:
				break;
		}
	}
	return true;
}
