/*
 * decode_message.c
 *		The SQL function streamext.decode_message(): one message decoded the
 *		way a source would decode it, so that users can try a format and
 *		options on a sample without a broker.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "common/base64.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "ingest/decode_internal.h"
#include "ingest/options.h"

/*
 * streamext.decode_message(row anyelement, payload bytea, format text,
 *							options jsonb, key bytea) RETURNS anyelement
 *
 * Decodes one message the way a source would, so users can try a format and
 * options on a sample.  The decoder is cached per call site as long as the
 * row type, format and options stay the same.
 */
typedef struct DecodeMessageCache
{
	Oid			typid;
	char	   *format;
	Jsonb	   *options;
	TupleDesc	tupdesc;
	SourceDecoder *dec;
	MemoryContext cxt;
} DecodeMessageCache;

static void
check_decode_message_options(Jsonb *options)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source options must be a JSON object")));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(v.val.string.val, v.val.string.len);
		/* the consumer's options are accepted (and ignored) too */
		if (source_option_find(name) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown source option \"%s\"", name),
					 errhint("Decoding options are column_map, merge_schema, on_unknown_key, on_missing_column, delimiter, quote, header, null, columns and column.")));
	}
}

/*
 * A header value given as {"b64": "<base64>"} (bytes, as _headers shows
 * values that are not UTF-8 text): decode it; false if v is not that.
 */
static bool
header_b64(JsonbValue *v, const char **value, size_t *len)
{
	JsonbValue *b64;
	char	   *out;
	int			n;

	if (!JsonContainerIsObject(v->val.binary.data) || JsonContainerSize(v->val.binary.data) != 1)
		return false;
	b64 = getKeyJsonValueFromContainer(v->val.binary.data, "b64", 3, NULL);
	if (b64 == NULL || b64->type != jbvString)
		return false;
	out = palloc(pg_b64_dec_len(b64->val.string.len) + 1);
	n = pg_b64_decode(b64->val.string.val, b64->val.string.len, out,
					  pg_b64_dec_len(b64->val.string.len));
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid base64 in a header value: \"%.*s\"",
						b64->val.string.len, b64->val.string.val)));
	*value = out;
	*len = n;
	return true;
}

/* headers given as {"name": "value", {"b64": "..."} or null, ...} */
static void
message_headers(Jsonb *headers, IngestMessage *msg)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;
	int			count;
	const char **names;
	const char **values;
	size_t	   *lens;

	if (!JB_ROOT_IS_OBJECT(headers))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("headers must be a JSON object of header names and string values")));
	count = JB_ROOT_COUNT(headers);
	names = palloc(sizeof(char *) * Max(count, 1));
	values = palloc(sizeof(char *) * Max(count, 1));
	lens = palloc(sizeof(size_t) * Max(count, 1));
	it = JsonbIteratorInit(&headers->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			names[n] = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			if (v.type == jbvNull)
			{
				values[n] = NULL;
				lens[n] = 0;
			}
			else if (v.type == jbvString)
			{
				values[n] = pg_server_to_any(v.val.string.val, v.val.string.len, PG_UTF8);
				lens[n] = values[n] == v.val.string.val ? v.val.string.len : strlen(values[n]);
			}
			else if (v.type == jbvBinary && header_b64(&v, &values[n], &lens[n]))
				;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("header \"%s\" must have a string, {\"b64\": \"...\"} or null value", names[n])));
			n++;
		}
	}
	msg->nheaders = n;
	msg->header_names = names;
	msg->header_values = values;
	msg->header_lens = lens;
}

PG_FUNCTION_INFO_V1(streamext_decode_message);

Datum
streamext_decode_message(PG_FUNCTION_ARGS)
{
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 0);
	DecodeMessageCache *cache = fcinfo->flinfo->fn_extra;
	char	   *format;
	Jsonb	   *options;
	IngestMessage msg;
	Datum	   *values;
	bool	   *isnull;
	char	   *error;
	List	   *unknown = NIL;
	bytea	   *payload = NULL;
	bytea	   *key = NULL;
	HeapTuple	tuple;

	if (!OidIsValid(typid) || !type_is_rowtype(typid) || typid == RECORDOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("first argument of decode_message must be a row of a table, like NULL::my_table")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("format must not be null")));
	format = text_to_cstring(PG_GETARG_TEXT_PP(2));
	options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);

	if (cache == NULL || cache->typid != typid || strcmp(cache->format, format) != 0 ||
		(options == NULL) != (cache->options == NULL) ||
		(options != NULL && (VARSIZE(options) != VARSIZE(cache->options) ||
							 memcmp(options, cache->options, VARSIZE(options)) != 0)))
	{
		MemoryContext cxt;
		MemoryContext old;

		if (options != NULL)
			check_decode_message_options(options);
		if (cache != NULL)
		{
			MemoryContextDelete(cache->cxt);
			fcinfo->flinfo->fn_extra = NULL;
		}
		cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "decode_message",
									ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(cxt);
		cache = palloc0(sizeof(DecodeMessageCache));
		cache->cxt = cxt;
		cache->typid = typid;
		cache->format = pstrdup(format);
		if (options != NULL)
		{
			cache->options = palloc(VARSIZE(options));
			memcpy(cache->options, options, VARSIZE(options));
		}
		cache->tupdesc = lookup_rowtype_tupdesc_copy(typid, -1);
		cache->dec = decoder_create(cache->tupdesc, format, cache->options);
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = cache;
	}

	if (!PG_ARGISNULL(1))
		payload = PG_GETARG_BYTEA_PP(1);
	if (!PG_ARGISNULL(4))
		key = PG_GETARG_BYTEA_PP(4);

	memset(&msg, 0, sizeof(msg));
	msg.topic = NULL;			/* not from Kafka: no position metadata */
	msg.partition = -1;
	msg.offset = -1;
	if (key != NULL)
	{
		msg.key = VARDATA_ANY(key);
		msg.key_len = VARSIZE_ANY_EXHDR(key);
	}
	if (payload != NULL)
	{
		msg.payload = VARDATA_ANY(payload);
		msg.payload_len = VARSIZE_ANY_EXHDR(payload);
	}

	/* the long form: the message's Kafka position, timestamp and headers */
	if (PG_NARGS() >= 10)
	{
		if (!PG_ARGISNULL(5))
			msg.topic = text_to_cstring(PG_GETARG_TEXT_PP(5));
		if (msg.topic != NULL && (PG_ARGISNULL(6) || PG_ARGISNULL(7)))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a message with a topic needs a partition and an offset")));
		if (!PG_ARGISNULL(6))
			msg.partition = PG_GETARG_INT32(6);
		if (!PG_ARGISNULL(7))
			msg.offset = PG_GETARG_INT64(7);
		if (!PG_ARGISNULL(8))
		{
			msg.has_timestamp = true;
			msg.timestamp = PG_GETARG_TIMESTAMPTZ(8);
		}
		if (!PG_ARGISNULL(9))
			message_headers(PG_GETARG_JSONB_P(9), &msg);
	}

	values = palloc(sizeof(Datum) * Max(cache->tupdesc->natts, 1));
	isnull = palloc(sizeof(bool) * Max(cache->tupdesc->natts, 1));
	if (!decoder_decode(cache->dec, &msg, values, isnull, &error,
						cache->dec->merge_schema ? &unknown : NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("%s", error)));

	/* show what a source with merge_schema would do with this message */
	if (unknown != NIL)
	{
		StringInfoData cols;
		ListCell   *lc;

		initStringInfo(&cols);
		foreach(lc, unknown)
		{
			const char *name = lfirst(lc);
			const char *type = decoder_infer_type(cache->dec, &msg, name);

			appendStringInfo(&cols, "%s%s %s", cols.len > 0 ? ", " : "",
							 quote_identifier(name), type ? type : "text");
		}
		ereport(NOTICE,
				(errmsg("merge_schema would add column%s %s",
						list_length(unknown) > 1 ? "s" : "", cols.data)));
	}

	tuple = heap_form_tuple(cache->tupdesc, values, isnull);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}
