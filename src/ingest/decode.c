/*
 * decode.c
 *		Building a message decoder for a target table, dispatching to the
 *		format decoders, and the SQL function streamext.decode_message().
 *
 * All per-column work that does not depend on the message (type lookups,
 * input functions, default expressions, the key lookup table) happens once
 * in decoder_create(), because the consumer worker decodes every message of
 * a topic with the same decoder.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "ingest/decode_internal.h"
#include "ingest/options.h"

/* Which options each format reads is in the table of source options (options.c). */
StaticAssertDecl(SOPT_FMT_JSON == (1 << DECODE_JSON) && SOPT_FMT_CSV == (1 << DECODE_CSV) &&
				 SOPT_FMT_TEXT == (1 << DECODE_TEXT) && SOPT_FMT_BYTES == (1 << DECODE_BYTES),
				 "SOPT_FMT_* bits are 1 << DecodeFormat");

static JsonbValue *
option_value(Jsonb *options, const char *name, JsonbValue *buf)
{
	if (options == NULL || !JB_ROOT_IS_OBJECT(options))
		return NULL;
	return getKeyJsonValueFromContainer(&options->root, name, strlen(name), buf);
}

static const char *
jsonb_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "a JSON value";
	}
}

/* A one-byte string option (delimiter, quote), or dflt when absent. */
static char
single_char_option(Jsonb *options, const char *name, char dflt)
{
	JsonbValue	buf;
	JsonbValue *v = option_value(options, name, &buf);

	if (v == NULL)
		return dflt;
	if (v->type != jbvString || v->val.string.len != 1 ||
		IS_HIGHBIT_SET(v->val.string.val[0]) ||
		v->val.string.val[0] == '\n' || v->val.string.val[0] == '\r')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a single one-byte character other than a newline", name)));
	return v->val.string.val[0];
}

/* on_unknown_key, on_missing_column: true for "dead_letter", false for "ignore" (the default) */
static bool
dead_letter_option(Jsonb *options, const char *name)
{
	JsonbValue	buf;
	JsonbValue *v = option_value(options, name, &buf);

	if (v == NULL || v->type == jbvNull)
		return false;
	if (v->type == jbvString && v->val.string.len == 6 &&
		memcmp(v->val.string.val, "ignore", 6) == 0)
		return false;
	if (v->type == jbvString && v->val.string.len == 11 &&
		memcmp(v->val.string.val, "dead_letter", 11) == 0)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("option \"%s\" must be \"ignore\" or \"dead_letter\"", name)));
	return false;				/* keep compiler quiet */
}

static bool
bool_option(Jsonb *options, const char *name, bool dflt)
{
	JsonbValue	buf;
	JsonbValue *v = option_value(options, name, &buf);

	if (v == NULL || v->type == jbvNull)
		return dflt;
	if (v->type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be true or false, not %s", name, jsonb_type_name(v))));
	return v->val.boolean;
}

/* Refuse options that the chosen format would silently ignore. */
static void
check_format_options(DecodeFormat format, const char *formatname, Jsonb *options)
{
	int			i;
	JsonbValue	buf;

	for (i = 0; i < num_source_options; i++)
	{
		const SourceOption *o = &source_options[i];
		JsonbValue *v;

		if (o->formats == 0)
			continue;			/* the consumer's, whatever the format */
		v = option_value(options, o->name, &buf);
		if (v == NULL || v->type == jbvNull)
			continue;
		/* merge_schema: false is harmless with every format, as is "ignore" */
		if (v->type == jbvBool && !v->val.boolean &&
			strcmp(o->name, "merge_schema") == 0)
			continue;
		if (v->type == jbvString && v->val.string.len == 6 &&
			memcmp(v->val.string.val, "ignore", 6) == 0)
			continue;
		if ((o->formats & (1u << format)) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" cannot be used with format %s",
							o->name, formatname),
					 o->formats == SOPT_FMT_CSV ?
					 errhint("It is an option of format csv.") :
					 o->formats == SOPT_FMT_JSON ?
					 errhint("It is an option of format json.") :
					 errhint("It is an option of formats text and bytes.")));
	}
}

static ColumnKind
column_kind(Oid typid, int32 typmod)
{
	switch (typid)
	{
		case TEXTOID:
			return CK_TEXT;
		case VARCHAROID:
			return typmod < 0 ? CK_TEXT : CK_GENERIC;
		case INT2OID:
			return CK_INT2;
		case INT4OID:
			return CK_INT4;
		case INT8OID:
			return CK_INT8;
		case FLOAT4OID:
			return CK_FLOAT4;
		case FLOAT8OID:
			return CK_FLOAT8;
		case NUMERICOID:
			return typmod < 0 ? CK_NUMERIC : CK_GENERIC;
		case BOOLOID:
			return CK_BOOL;
		case JSONOID:
			return CK_JSON;
		case JSONBOID:
			return CK_JSONB;
		case BYTEAOID:
			return CK_BYTEA;
		case TIMESTAMPTZOID:
			return typmod < 0 ? CK_TIMESTAMPTZ : CK_GENERIC;
		default:
			return CK_GENERIC;
	}
}

static bool
is_string_type(Oid typid)
{
	return typid == TEXTOID || typid == VARCHAROID || typid == BPCHAROID;
}

/* The column named by the "column" option, or the first data column of a wanted type. */
static int
choose_payload_column(SourceDecoder *dec, Jsonb *options)
{
	JsonbValue	buf;
	JsonbValue *v = option_value(options, "column", &buf);
	int			i;

	if (v != NULL && v->type != jbvNull)
	{
		int			c;

		if (v->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"column\" must be a column name")));
		c = decoder_lookup_column(dec, v->val.string.val, v->val.string.len);
		if (c < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("option \"column\" names column \"%.*s\", which the target does not have or which is a metadata column",
							v->val.string.len, v->val.string.val)));
		if (dec->format == DECODE_BYTES && dec->cols[c].typid != BYTEAOID)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("format bytes needs a bytea column, but column \"%s\" has type %s",
							dec->cols[c].name, format_type_be(dec->cols[c].typid))));
		return c;
	}
	for (i = 0; i < dec->natts; i++)
	{
		DecodeColumn *col = &dec->cols[i];

		if (!col->is_data)
			continue;
		if (dec->format == DECODE_BYTES ? col->typid == BYTEAOID : is_string_type(col->typid))
			return i;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 dec->format == DECODE_BYTES ?
			 errmsg("format bytes needs a bytea column in the target, other than _key and _raw") :
			 errmsg("format text needs a text or varchar column in the target, other than the metadata columns"),
			 errhint("Add such a column, or name the column to fill with the \"column\" option.")));
	return -1;					/* keep compiler quiet */
}

/* csv without header: the columns the fields of a record go to, in order */
static void
prepare_csv(SourceDecoder *dec, Jsonb *options)
{
	JsonbValue	buf;
	JsonbValue *v;
	int			i;

	dec->delimiter = single_char_option(options, "delimiter", ',');
	dec->quote = single_char_option(options, "quote", '"');
	if (dec->delimiter == dec->quote)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("csv delimiter and quote must be different characters")));
	dec->header = bool_option(options, "header", false);
	v = option_value(options, "null", &buf);
	if (v != NULL && v->type != jbvNull)
	{
		if (v->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"null\" must be a string")));
		dec->null_string = pnstrdup(v->val.string.val, v->val.string.len);
	}

	dec->field_cols = palloc(sizeof(int) * Max(dec->natts, 1));
	dec->nfields = 0;
	v = option_value(options, "columns", &buf);
	if (v != NULL && v->type != jbvNull)
	{
		JsonbIterator *it;
		JsonbValue	elem;
		JsonbIteratorToken tok;

		if (dec->header)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options \"columns\" and \"header\" cannot be used together"),
					 errhint("With header, the first line of each message names the columns.")));
		if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"columns\" must be an array of column names")));
		pfree(dec->field_cols);
		dec->field_cols = palloc(sizeof(int) * (JsonContainerSize(v->val.binary.data) + 1));
		it = JsonbIteratorInit(v->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
		{
			int			c,
						j;

			if (tok != WJB_ELEM)
				continue;
			if (elem.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"columns\" must be an array of column names")));
			c = decoder_lookup_column(dec, elem.val.string.val, elem.val.string.len);
			if (c < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("option \"columns\" names column \"%.*s\", which the target does not have or which is a metadata column",
								elem.val.string.len, elem.val.string.val)));
			for (j = 0; j < dec->nfields; j++)
				if (dec->field_cols[j] == c)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("option \"columns\" names column \"%s\" twice", dec->cols[c].name)));
			dec->field_cols[dec->nfields++] = c;
		}
		if (dec->nfields == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"columns\" must name at least one column")));
	}
	else
	{
		for (i = 0; i < dec->natts; i++)
			if (dec->cols[i].is_data)
				dec->field_cols[dec->nfields++] = i;
		if (dec->nfields == 0 && !dec->header)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("format csv needs at least one column besides the metadata columns")));
	}
}

SourceDecoder *
decoder_create(TupleDesc tupdesc, const char *format, Jsonb *options)
{
	SourceDecoder *dec = palloc0(sizeof(SourceDecoder));
	Oid			relid = InvalidOid;
	Relation	rel = NULL;
	JsonbValue	buf;
	JsonbValue *v;
	int			i;

	if (format == NULL || strcmp(format, "json") == 0)
		dec->format = DECODE_JSON;
	else if (strcmp(format, "csv") == 0)
		dec->format = DECODE_CSV;
	else if (strcmp(format, "text") == 0)
		dec->format = DECODE_TEXT;
	else if (strcmp(format, "bytes") == 0)
		dec->format = DECODE_BYTES;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown message format \"%s\"", format),
				 errhint("Valid formats are json, csv, text and bytes.")));

	if (options != NULL && !JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source options must be a JSON object")));
	check_format_options(dec->format, format ? format : "json", options);

	dec->mcxt = CurrentMemoryContext;
	dec->need_conversion = GetDatabaseEncoding() != PG_UTF8;
	initStringInfo(&dec->scratch);
	dec->natts = tupdesc->natts;
	dec->cols = palloc0(sizeof(DecodeColumn) * Max(tupdesc->natts, 1));
	dec->payload_col = -1;

	/* defaults need the relation; a row type of a table leads to it */
	if (OidIsValid(tupdesc->tdtypeid) && tupdesc->tdtypeid != RECORDOID)
		relid = get_typ_typrelid(tupdesc->tdtypeid);
	if (OidIsValid(relid))
		rel = relation_open(relid, AccessShareLock);

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		DecodeColumn *col = &dec->cols[i];
		Oid			infunc;

		col->name = pstrdup(NameStr(att->attname));
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;
		col->skip = att->attisdropped || att->attgenerated != '\0';
		if (col->skip)
			continue;
		col->meta = metadata_kind(col->name);
		col->is_data = col->meta == META_NONE;
		col->kind = column_kind(col->typid, col->typmod);
		getTypeInputInfo(col->typid, &infunc, &col->ioparam);
		fmgr_info(infunc, &col->infunc);
		if (col->kind == CK_GENERIC && OidIsValid(get_element_type(col->typid)))
		{
			DecodeColumn *elem = palloc0(sizeof(DecodeColumn));

			elem->name = col->name;
			elem->typid = get_element_type(col->typid);
			elem->typmod = col->typmod;
			elem->is_data = true;
			elem->kind = column_kind(elem->typid, elem->typmod);
			getTypeInputInfo(elem->typid, &infunc, &elem->ioparam);
			fmgr_info(infunc, &elem->infunc);
			get_typlenbyvalalign(elem->typid, &col->elemlen, &col->elembyval, &col->elemalign);
			col->elem = elem;
		}

		if (rel != NULL && att->attnum <= RelationGetDescr(rel)->natts)
		{
			Node	   *def = build_column_default(rel, att->attnum);

			if (def != NULL)
				col->defexpr = ExecInitExpr(expression_planner((Expr *) def), NULL);
		}
	}
	if (rel != NULL)
		relation_close(rel, AccessShareLock);
	dec->econtext = CreateStandaloneExprContext();
	dec->counts = palloc0(sizeof(int64) * COUNTS_SIZE(dec));
	dec->unknown_names = palloc0(sizeof(char *) * DECODE_MAX_UNKNOWN);

	switch (dec->format)
	{
		case DECODE_JSON:
			dec->merge_schema = bool_option(options, "merge_schema", false);
			dec->unknown_dead = dead_letter_option(options, "on_unknown_key");
			dec->missing_dead = dead_letter_option(options, "on_missing_column");
			if (dec->merge_schema && dec->unknown_dead)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("options \"merge_schema\" and \"on_unknown_key\": \"dead_letter\" cannot be used together"),
						 errhint("merge_schema adds a column for every new key; without it, on_unknown_key decides.")));
			v = option_value(options, "column_map", &buf);
			if (v != NULL && v->type != jbvNull &&
				(v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"column_map\" must be an object of column names and JSON paths"),
						 errhint("Example: {\"column_map\": {\"speed\": \"$.readings.speed\"}}")));
			if (v != NULL && v->type == jbvBinary)
			{
				/* hand the sub-object over as a Jsonb of its own */
				json_decoder_prepare(dec, JsonbValueToJsonb(v));
			}
			else
				json_decoder_prepare(dec, NULL);
			break;
		case DECODE_CSV:
			prepare_csv(dec, options);
			break;
		case DECODE_TEXT:
		case DECODE_BYTES:
			dec->payload_col = choose_payload_column(dec, options);
			break;
	}
	return dec;
}

bool
decoder_decode(SourceDecoder *dec, const IngestMessage *msg,
			   Datum *values, bool *isnull, char **error,
			   List **unknown_keys)
{
	int			i;
	bool		ok;

	*error = NULL;
	for (i = 0; i < dec->natts; i++)
	{
		values[i] = (Datum) 0;
		isnull[i] = true;
	}
	switch (dec->format)
	{
		case DECODE_JSON:
			ok = json_decode(dec, msg, values, isnull, error, unknown_keys);
			break;
		case DECODE_CSV:
			ok = csv_decode(dec, msg, values, isnull, error);
			break;
		default:
			ok = text_decode(dec, msg, values, isnull, error);
			break;
	}
	/* one huge message must not pin its scratch space for the decoder's life */
	if (dec->scratch.maxlen > 1024 * 1024)
	{
		MemoryContext old = MemoryContextSwitchTo(dec->mcxt);

		pfree(dec->scratch.data);
		initStringInfo(&dec->scratch);
		MemoryContextSwitchTo(old);
	}
	if (!ok)
		return false;
	return metadata_fill(dec, msg, values, isnull, error);
}

void
decoder_counts_reset(SourceDecoder *dec)
{
	memset(dec->counts, 0, sizeof(int64) * COUNTS_SIZE(dec));
}

int
decoder_counts_size(SourceDecoder *dec)
{
	return COUNTS_SIZE(dec);
}

void
decoder_counts_save(SourceDecoder *dec, int64 *buf)
{
	memcpy(buf, dec->counts, sizeof(int64) * COUNTS_SIZE(dec));
}

void
decoder_counts_restore(SourceDecoder *dec, const int64 *buf)
{
	memcpy(dec->counts, buf, sizeof(int64) * COUNTS_SIZE(dec));
}

int64
decoder_counts_visit(SourceDecoder *dec, DecoderWarningVisitor visit, void *arg)
{
	int			i;

	for (i = 0; i < dec->natts; i++)
		if (dec->counts[i] > 0)
			visit(arg, DECODE_WARN_MISSING_COLUMN, dec->cols[i].name, dec->counts[i]);
	for (i = 0; i < dec->nunknown_names; i++)
		if (dec->counts[COUNT_UNKNOWN(dec, i)] > 0)
			visit(arg, DECODE_WARN_UNKNOWN_KEY, dec->unknown_names[i],
				  dec->counts[COUNT_UNKNOWN(dec, i)]);
	if (dec->counts[COUNT_MORE_UNKNOWN(dec)] > 0)
		visit(arg, DECODE_WARN_UNKNOWN_KEY, NULL, dec->counts[COUNT_MORE_UNKNOWN(dec)]);
	return dec->counts[COUNT_DECODED(dec)];
}

const char *
decoder_infer_type(SourceDecoder *dec, const IngestMessage *msg, const char *key)
{
	if (dec->format != DECODE_JSON)
		return NULL;
	return json_infer_type(dec, msg, key);
}

/* Data column (not metadata, not dropped or generated) named name, or -1. */
int
decoder_lookup_column(SourceDecoder *dec, const char *name, int len)
{
	int			i;

	for (i = 0; i < dec->natts; i++)
	{
		DecodeColumn *col = &dec->cols[i];

		if (col->is_data && strncmp(col->name, name, len) == 0 && col->name[len] == '\0')
			return i;
	}
	return -1;
}

/* s (UTF-8, len bytes) as a palloc'd NUL-terminated string in the server encoding */
char *
decoder_server_string(SourceDecoder *dec, const char *s, int len)
{
	char	   *copy = pnstrdup(s, len);

	if (!dec->need_conversion)
		return copy;
	return pg_any_to_server(copy, len, PG_UTF8);
}

Datum
decoder_text_datum(SourceDecoder *dec, const char *s, int len)
{
	if (!dec->need_conversion)
		return PointerGetDatum(cstring_to_text_with_len(s, len));
	return PointerGetDatum(cstring_to_text(decoder_server_string(dec, s, len)));
}

/* The column type's input function on s; its errors are the usual ERRORs. */
Datum
decoder_input(SourceDecoder *dec, DecodeColumn *col, const char *s, int len)
{
	return InputFunctionCall(&col->infunc, decoder_server_string(dec, s, len),
							 col->ioparam, col->typmod);
}

/* A column the message says nothing about: its DEFAULT, else NULL. */
void
decoder_fill_default(SourceDecoder *dec, int attno, Datum *values, bool *isnull)
{
	DecodeColumn *col = &dec->cols[attno];

	if (col->defexpr == NULL)
	{
		values[attno] = (Datum) 0;
		isnull[attno] = true;
		return;
	}
	values[attno] = ExecEvalExpr(col->defexpr, dec->econtext, &isnull[attno]);
}

/*
 * The common case of timestamptz input without the general parser: an
 * ISO-8601 date and time with an explicit zone, like 2024-05-01T12:30:00Z,
 * 2024-05-01 12:30:00.123+02 or 2024-05-01T12:30:00.5-03:30.  Returns false
 * for anything else (including values out of range), and the caller then
 * uses timestamptz_in, which gives the same result or the usual error.
 */
bool
fast_timestamptz(const char *s, int len, TimestampTz *result)
{
	const char *p = s;
	const char *end = s + len;
	struct pg_tm tm;
	fsec_t		fsec = 0;
	int			tz;
	int			i;

#define NUM(n, out) \
	do { \
		(out) = 0; \
		for (i = 0; i < (n); i++, p++) \
		{ \
			if (p >= end || *p < '0' || *p > '9') \
				return false; \
			(out) = (out) * 10 + (*p - '0'); \
		} \
	} while (0)
#define SEP(c) do { if (p >= end || *p != (c)) return false; p++; } while (0)

	memset(&tm, 0, sizeof(tm));
	NUM(4, tm.tm_year);
	SEP('-');
	NUM(2, tm.tm_mon);
	SEP('-');
	NUM(2, tm.tm_mday);
	if (p >= end || (*p != 'T' && *p != ' '))
		return false;
	p++;
	NUM(2, tm.tm_hour);
	SEP(':');
	NUM(2, tm.tm_min);
	SEP(':');
	NUM(2, tm.tm_sec);
	if (p < end && *p == '.')
	{
		int			scale = 100000;

		p++;
		if (p >= end || *p < '0' || *p > '9')
			return false;
		while (p < end && *p >= '0' && *p <= '9')
		{
			if (scale == 0)
				return false;	/* more than microseconds: let the parser round */
			fsec += (*p++ - '0') * scale;
			scale /= 10;
		}
	}
	if (p < end && *p == 'Z')
	{
		p++;
		tz = 0;
	}
	else if (p < end && (*p == '+' || *p == '-'))
	{
		int			sign = (*p == '-') ? -1 : 1;
		int			hh,
					mm = 0;

		p++;
		NUM(2, hh);
		if (p < end && *p == ':')
		{
			p++;
			NUM(2, mm);
		}
		else if (p < end)
			NUM(2, mm);
		if (hh > 15 || mm > 59)
			return false;
		/* PostgreSQL counts zone offsets west of Greenwich as positive */
		tz = -sign * (hh * SECS_PER_HOUR + mm * SECS_PER_MINUTE);
	}
	else
		return false;			/* no zone: the session's time zone applies */
	if (p != end)
		return false;
#undef NUM
#undef SEP

	if (tm.tm_year < 1 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
		tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return false;
	if (tm2timestamp(&tm, fsec, &tz, result) != 0 || !IS_VALID_TIMESTAMP(*result))
		return false;
	return true;
}

/*
 * Offset of the first byte of s that is not valid UTF-8 (or a zero byte,
 * which no PostgreSQL string can hold), or -1 when all of s is valid.
 */
int
utf8_invalid_at(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	while (p < end)
	{
		int			l;

		if (*p < 0x80)
		{
			if (*p == 0)
				return (int) (p - (const unsigned char *) s);
			p++;
			continue;
		}
		l = pg_utf_mblen(p);
		if (l > end - p || !pg_utf8_islegal(p, l))
			return (int) (p - (const unsigned char *) s);
		p += l;
	}
	return -1;
}

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
