/*
 * decode_options.c
 *		The decoding options of a source, checked and read into the decoder:
 *		format json's merge_schema, on_unknown_key, on_missing_column and
 *		column_map; csv's delimiter, quote, header, null and columns; text's
 *		and bytes' column.
 *
 * All of it runs once, in decoder_create(): an option the format would
 * ignore, or one that cannot work with the target's columns, is an ERROR
 * then rather than a surprise at the first message.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

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
void
decoder_check_format_options(DecodeFormat format, const char *formatname, Jsonb *options)
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

/*
 * Read the options of dec's format into dec, once its columns are set up
 * (decoder_check_format_options() has refused the options of other formats).
 */
void
decoder_apply_options(SourceDecoder *dec, Jsonb *options)
{
	JsonbValue	buf;
	JsonbValue *v;

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
}
