/*
 * decode_csv.c
 *		Format csv: each Kafka message is one CSV record (RFC 4180 quoting).
 *
 * Without the header option the fields go to the target's data columns in
 * table order, or in the order of the "columns" option.  With header, each
 * message carries two lines, the column names and then the values, so
 * producers that write self-describing records work too.  One trailing
 * newline is allowed; anything after the record is an error, because a
 * message must become exactly one row.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "ingest/decode_internal.h"

typedef struct CsvField
{
	char	   *value;			/* NUL-terminated copy, quotes removed */
	int			len;
	bool		quoted;
} CsvField;

/*
 * Parse one record starting at *pp into fields; *pp ends up after the
 * record's line break (or at end).  Returns the number of fields, or -1
 * with *error set.
 */
static int
parse_record(SourceDecoder *dec, const char *start, const char **pp, const char *end,
			 CsvField **fields, int *cap, char **error)
{
	const char *p = *pp;
	int			n = 0;

	for (;;)
	{
		CsvField   *f;

		CHECK_FOR_INTERRUPTS();
		if (n == *cap)
		{
			*cap *= 2;
			*fields = repalloc(*fields, sizeof(CsvField) * *cap);
		}
		f = &(*fields)[n++];
		resetStringInfo(&dec->scratch);
		f->quoted = false;
		if (p < end && *p == dec->quote)
		{
			const char *open = p;

			f->quoted = true;
			p++;
			for (;;)
			{
				const char *q = p;

				while (q < end && *q != dec->quote)
					q++;
				if (q >= end)
				{
					*error = psprintf("invalid CSV at byte %d: quoted field is not terminated",
									  (int) (open - start));
					return -1;
				}
				appendBinaryStringInfo(&dec->scratch, p, (int) (q - p));
				if (q + 1 < end && q[1] == dec->quote)
				{
					appendStringInfoChar(&dec->scratch, dec->quote);
					p = q + 2;
					continue;
				}
				p = q + 1;
				break;
			}
			if (p < end && *p != dec->delimiter && *p != '\n' && *p != '\r')
			{
				*error = psprintf("invalid CSV at byte %d: expected a delimiter or the end of the record after a closing quote",
								  (int) (p - start));
				return -1;
			}
		}
		else
		{
			const char *q = p;

			while (q < end && *q != dec->delimiter && *q != '\n' && *q != '\r')
				q++;
			appendBinaryStringInfo(&dec->scratch, p, (int) (q - p));
			p = q;
		}
		f->value = pnstrdup(dec->scratch.data, dec->scratch.len);
		f->len = dec->scratch.len;
		if (p < end && *p == dec->delimiter)
		{
			p++;
			continue;
		}
		break;
	}
	if (p < end && *p == '\r')
		p++;
	if (p < end && *p == '\n')
		p++;
	*pp = p;
	return n;
}

static bool
field_is_null(SourceDecoder *dec, CsvField *f)
{
	if (f->quoted)
		return false;
	if (dec->null_string == NULL)
		return f->len == 0;
	return strcmp(f->value, dec->null_string) == 0;
}

static bool
store_field(SourceDecoder *dec, int c, CsvField *f, Datum *values, bool *isnull)
{
	DecodeColumn *col = &dec->cols[c];
	TimestampTz ts;
	int64		i64;
	double		d;

	if (field_is_null(dec, f))
	{
		isnull[c] = true;
		return true;
	}
	isnull[c] = false;
	/* the common types without their input functions, when that is exact */
	switch (col->kind)
	{
		case CK_TEXT:
			values[c] = decoder_text_datum(dec, f->value, f->len);
			return true;
		case CK_TIMESTAMPTZ:
			if (fast_timestamptz(f->value, f->len, &ts))
			{
				values[c] = TimestampTzGetDatum(ts);
				return true;
			}
			break;
		case CK_INT8:
			if (small_integer(f->value, f->len, &i64))
			{
				values[c] = Int64GetDatum(i64);
				return true;
			}
			break;
		case CK_INT4:
			if (small_integer(f->value, f->len, &i64) && i64 >= PG_INT32_MIN && i64 <= PG_INT32_MAX)
			{
				values[c] = Int32GetDatum((int32) i64);
				return true;
			}
			break;
		case CK_FLOAT8:
			if (fast_float8(f->value, f->len, &d))
			{
				values[c] = Float8GetDatum(d);
				return true;
			}
			break;
		case CK_BOOL:
			if (strcmp(f->value, "true") == 0 || strcmp(f->value, "t") == 0)
			{
				values[c] = BoolGetDatum(true);
				return true;
			}
			if (strcmp(f->value, "false") == 0 || strcmp(f->value, "f") == 0)
			{
				values[c] = BoolGetDatum(false);
				return true;
			}
			break;
		default:
			break;
	}
	values[c] = decoder_input(dec, col, f->value, f->len);
	return true;
}

bool
csv_decode(SourceDecoder *dec, const IngestMessage *msg,
		   Datum *values, bool *isnull, char **error)
{
	const char *start = msg->payload;
	const char *p = start;
	const char *end;
	int			cap = 16;
	CsvField   *fields;
	CsvField   *names = NULL;
	int			nnames = 0;
	int			n;
	int			bad;
	int			i;
	bool	   *filled;

	if (msg->payload == NULL)
	{
		*error = pstrdup("message has no payload (tombstone), but format csv needs a record");
		return false;
	}
	if (msg->payload_len == 0)
	{
		*error = pstrdup("message payload is empty, but format csv needs a record");
		return false;
	}
	if (msg->payload_len > (size_t) MaxAllocSize)
	{
		*error = psprintf("message payload of %zu bytes is too large", msg->payload_len);
		return false;
	}
	bad = utf8_invalid_at(msg->payload, msg->payload_len);
	if (bad >= 0)
	{
		*error = psprintf("message is not valid UTF-8: invalid byte sequence at byte %d", bad);
		return false;
	}
	end = start + msg->payload_len;

	fields = palloc(sizeof(CsvField) * cap);
	if (dec->header)
	{
		n = parse_record(dec, start, &p, end, &fields, &cap, error);
		if (n < 0)
			return false;
		names = fields;
		nnames = n;
		cap = Max(16, n);
		fields = palloc(sizeof(CsvField) * cap);
		if (p >= end)
		{
			*error = pstrdup("csv message has a header line but no record after it");
			return false;
		}
	}
	n = parse_record(dec, start, &p, end, &fields, &cap, error);
	if (n < 0)
		return false;
	if (p < end)
	{
		*error = psprintf("csv message holds more than one record: more data at byte %d",
						  (int) (p - start));
		return false;
	}

	filled = palloc0(sizeof(bool) * Max(dec->natts, 1));
	if (dec->header)
	{
		if (n != nnames)
		{
			*error = psprintf("csv record has %d field%s, but its header line names %d",
							  n, n == 1 ? "" : "s", nnames);
			return false;
		}
		for (i = 0; i < n; i++)
		{
			int			c = decoder_lookup_column(dec, names[i].value, names[i].len);

			if (c < 0)
			{
				*error = psprintf("csv header names column \"%s\", which the target does not have",
								  names[i].value);
				return false;
			}
			if (filled[c])
			{
				*error = psprintf("csv header names column \"%s\" twice", names[i].value);
				return false;
			}
			filled[c] = true;
			if (!store_field(dec, c, &fields[i], values, isnull))
				return false;
		}
	}
	else
	{
		if (n != dec->nfields)
		{
			*error = psprintf("csv record has %d field%s, but %d %s expected",
							  n, n == 1 ? "" : "s", dec->nfields,
							  dec->nfields == 1 ? "is" : "are");
			return false;
		}
		for (i = 0; i < n; i++)
		{
			int			c = dec->field_cols[i];

			filled[c] = true;
			if (!store_field(dec, c, &fields[i], values, isnull))
				return false;
		}
	}
	for (i = 0; i < dec->natts; i++)
		if (dec->cols[i].is_data && !filled[i])
			decoder_fill_default(dec, i, values, isnull);
	return true;
}
