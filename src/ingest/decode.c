/*
 * decode.c
 *		Building a message decoder for a target table and dispatching each
 *		message to its format's decoder (decode_json.c, decode_csv.c,
 *		decode_text.c), then to the metadata columns (metadata.c).
 *
 * All per-column work that does not depend on the message (type lookups,
 * input functions, default expressions, the key lookup table) happens once
 * in decoder_create(), because the consumer worker decodes every message of
 * a topic with the same decoder.  The options are read in decode_options.c,
 * the conversions of values in decode_input.c; the SQL function
 * streamext.decode_message() is in decode_message.c.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "ingest/decode_internal.h"

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

SourceDecoder *
decoder_create(TupleDesc tupdesc, const char *format, Jsonb *options)
{
	SourceDecoder *dec = palloc0(sizeof(SourceDecoder));
	Oid			relid = InvalidOid;
	Relation	rel = NULL;
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
	decoder_check_format_options(dec->format, format ? format : "json", options);

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

	decoder_apply_options(dec, options);
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
