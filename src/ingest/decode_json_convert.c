/*
 * decode_json_convert.c
 *		Format json's type coercion: a validated JSON value into a Datum of
 *		its column's type, and, for merge_schema, the SQL type a new column
 *		should get for a value.
 *
 * Scalars go straight into the common column types (integers, floats,
 * numeric, boolean, timestamptz, text), through fast paths that give what
 * the type's input function would give; everything else goes through the
 * type's input function on the value's text, so the usual errors apply.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "ingest/decode_json_internal.h"

/*
 * A validated number without exponent and with at most 18 digits, like
 * -12.50, as an integer and the number of digits after the point.
 */
static bool
small_decimal(const char *s, int len, int64 *mantissa, int *scale)
{
	const char *p = s;
	const char *end = s + len;
	bool		neg = false;
	int64		m = 0;
	int			digits = 0;
	int			sc = 0;
	bool		frac = false;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	for (; p < end; p++)
	{
		if (*p == '.')
		{
			frac = true;
			continue;
		}
		if (!IS_DIGIT(*p) || ++digits > 18)
			return false;		/* an exponent, or too long */
		m = m * 10 + (*p - '0');
		if (frac)
			sc++;
	}
	*mantissa = neg ? -m : m;
	*scale = sc;
	return true;
}

/* Text of a validated value, for string values unescaped. */
static bool
value_text(SourceDecoder *dec, const char *v, const char *vend, JType t,
		   const char **s, int *len, char **error)
{
	if (t != JT_STRING)
	{
		*s = v;
		*len = (int) (vend - v);
		return true;
	}
	*s = v + 1;
	*len = (int) (vend - v) - 2;
	if (memchr(*s, '\\', *len) == NULL)
		return true;
	if (!json_unescape(*s, *len, &dec->scratch))
	{
		*error = psprintf("JSON string contains \\u0000, which PostgreSQL text cannot hold");
		return false;
	}
	*s = dec->scratch.data;
	*len = dec->scratch.len;
	return true;
}

/* A JSON array into a one-dimensional array column, element by element. */
static bool
convert_array(SourceDecoder *dec, DecodeColumn *col, const char *v, const char *vend,
			  Datum *value, char **error)
{
	int			cap = 16;
	int			n = 0;
	Datum	   *elems = palloc(sizeof(Datum) * cap);
	bool	   *nulls = palloc(sizeof(bool) * cap);
	const char *p = json_nav_ws(v + 1, vend);
	int			dims[1];
	int			lbs[1] = {1};

	while (*p != ']')
	{
		const char *e = json_nav_skip(p, vend);

		CHECK_FOR_INTERRUPTS();
		if (*p == '[' && col->elem->kind != CK_JSON && col->elem->kind != CK_JSONB)
		{
			*error = psprintf("nested JSON arrays cannot go into array column of type %s",
							  format_type_be(col->typid));
			return false;
		}
		if (n == cap)
		{
			cap *= 2;
			elems = repalloc(elems, sizeof(Datum) * cap);
			nulls = repalloc(nulls, sizeof(bool) * cap);
		}
		if (!json_convert_value(dec, col->elem, p, e, &elems[n], &nulls[n], error))
			return false;
		n++;
		p = json_nav_ws(e, vend);
		if (*p == ',')
			p = json_nav_ws(p + 1, vend);
	}
	dims[0] = n;
	*value = PointerGetDatum(construct_md_array(elems, nulls, n > 0 ? 1 : 0, dims, lbs,
												col->elem->typid, col->elemlen,
												col->elembyval, col->elemalign));
	return true;
}

/* Convert one validated JSON value (v .. vend) into column col. */
bool
json_convert_value(SourceDecoder *dec, DecodeColumn *col, const char *v, const char *vend,
			  Datum *value, bool *isnull, char **error)
{
	JType		t = json_value_type(v);
	const char *s;
	int			len;
	int64		i64;
	int			scale;
	char		nbuf[64];

	*isnull = false;
	if (t == JT_NULL)
	{
		*isnull = true;
		return true;
	}
	switch (col->kind)
	{
		case CK_JSON:
			*value = decoder_text_datum(dec, v, (int) (vend - v));
			return true;
		case CK_JSONB:
			*value = DirectFunctionCall1(jsonb_in,
										 CStringGetDatum(decoder_server_string(dec, v, (int) (vend - v))));
			return true;
		case CK_TEXT:
			if (!value_text(dec, v, vend, t, &s, &len, error))
				return false;
			*value = decoder_text_datum(dec, s, len);
			return true;
		case CK_BOOL:
			if (t == JT_TRUE || t == JT_FALSE)
			{
				*value = BoolGetDatum(t == JT_TRUE);
				return true;
			}
			break;
		case CK_INT2:
		case CK_INT4:
		case CK_INT8:
		case CK_NUMERIC:
			if (t == JT_NUMBER && small_integer(v, (int) (vend - v), &i64))
			{
				if (col->kind == CK_INT8)
				{
					*value = Int64GetDatum(i64);
					return true;
				}
				if (col->kind == CK_INT4 && i64 >= PG_INT32_MIN && i64 <= PG_INT32_MAX)
				{
					*value = Int32GetDatum((int32) i64);
					return true;
				}
				if (col->kind == CK_INT2 && i64 >= PG_INT16_MIN && i64 <= PG_INT16_MAX)
				{
					*value = Int16GetDatum((int16) i64);
					return true;
				}
				if (col->kind == CK_NUMERIC)
				{
					*value = NumericGetDatum(int64_to_numeric(i64));
					return true;
				}
			}
			if (t == JT_NUMBER && col->kind == CK_NUMERIC &&
				small_decimal(v, (int) (vend - v), &i64, &scale))
			{
				/* the same value and display scale numeric_in would give */
				*value = NumericGetDatum(int64_div_fast_to_numeric(i64, scale));
				return true;
			}
			if (t == JT_NUMBER && col->kind == CK_NUMERIC)
			{
				*value = DirectFunctionCall3(numeric_in,
											 CStringGetDatum(pnstrdup(v, vend - v)),
											 ObjectIdGetDatum(InvalidOid),
											 Int32GetDatum(-1));
				return true;
			}
			break;
		case CK_FLOAT8:
		case CK_FLOAT4:
			if (t == JT_NUMBER && col->kind == CK_FLOAT8)
			{
				double		d;

				if (fast_float8(v, (int) (vend - v), &d))
				{
					*value = Float8GetDatum(d);
					return true;
				}
			}
			if (t == JT_NUMBER && vend - v < (int) sizeof(nbuf))
			{
				memcpy(nbuf, v, vend - v);
				nbuf[vend - v] = '\0';
				if (col->kind == CK_FLOAT8)
					*value = Float8GetDatum(float8in_internal(nbuf, NULL, "double precision", nbuf));
				else
					*value = DirectFunctionCall1(float4in, CStringGetDatum(nbuf));
				return true;
			}
			break;
		case CK_TIMESTAMPTZ:
			if (t == JT_STRING && memchr(v, '\\', vend - v) == NULL)
			{
				TimestampTz ts;

				if (fast_timestamptz(v + 1, (int) (vend - v) - 2, &ts))
				{
					*value = TimestampTzGetDatum(ts);
					return true;
				}
			}
			break;
		case CK_BYTEA:
			break;
		case CK_GENERIC:
			if (t == JT_ARRAY && col->elem != NULL)
				return convert_array(dec, col, v, vend, value, error);
			break;
	}
	/* everything else: the type's input function on the value's text */
	if (!value_text(dec, v, vend, t, &s, &len, error))
		return false;
	*value = decoder_input(dec, col, s, len);
	return true;
}

/* An ISO-8601 date and time, such as 2024-05-01T12:30:00Z or 2024-05-01 12:30:00.5+02:00 */
static bool
is_iso_timestamp(const char *s, int len)
{
	const char *p = s;
	const char *end = s + len;
	char		workbuf[MAXDATELEN + 1];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz;
	struct pg_tm tm;
	fsec_t		fsec;
	char	   *copy;
	int			i;

#define DIGITS(n) do { for (i = 0; i < (n); i++, p++) if (p >= end || !IS_DIGIT(*p)) return false; } while (0)
#define CHAR(c) do { if (p >= end || *p != (c)) return false; p++; } while (0)

	if (len > MAXDATELEN)
		return false;
	DIGITS(4);
	CHAR('-');
	DIGITS(2);
	CHAR('-');
	DIGITS(2);
	if (p >= end || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	DIGITS(2);
	CHAR(':');
	DIGITS(2);
	if (p < end && *p == ':')
	{
		p++;
		DIGITS(2);
		if (p < end && (*p == '.' || *p == ','))
		{
			p++;
			if (p >= end || !IS_DIGIT(*p))
				return false;
			while (p < end && IS_DIGIT(*p))
				p++;
		}
	}
	if (p < end && (*p == 'Z' || *p == 'z'))
		p++;
	else if (p < end && (*p == '+' || *p == '-'))
	{
		p++;
		DIGITS(2);
		if (p < end && *p == ':')
			p++;
		if (p < end)
			DIGITS(2);
	}
	if (p != end)
		return false;
#undef DIGITS
#undef CHAR

	/* the shape is right; now the calendar must agree (no 2024-02-30) */
	copy = pnstrdup(s, len);
	if (ParseDateTime(copy, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0)
		return false;
	return DecodeDateTime(field, ftype, nf, &dtype, &tm, &fsec, &tz) == 0 && dtype == DTK_DATE;
}

/*
 * For merge_schema: the type of a new column for the validated value
 * v .. vend; see decoder_infer_type().
 */
const char *
json_value_sql_type(SourceDecoder *dec, const char *v, const char *vend)
{
	char	   *error;
	int64		i64;
	const char *s;
	int			len;

	switch (json_value_type(v))
	{
		case JT_OBJECT:
		case JT_ARRAY:
			return "jsonb";
		case JT_TRUE:
		case JT_FALSE:
			return "boolean";
		case JT_NULL:
			return "text";
		case JT_NUMBER:
			if (memchr(v, '.', vend - v) || memchr(v, 'e', vend - v) || memchr(v, 'E', vend - v))
				return "double precision";
			if (small_integer(v, (int) (vend - v), &i64))
				return "bigint";
			{
				/* 19 digits may still fit */
				char	   *copy = pnstrdup(v, vend - v);
				char	   *endp;

				errno = 0;
				(void) strtoi64(copy, &endp, 10);
				return (errno == 0 && *endp == '\0') ? "bigint" : "numeric";
			}
		case JT_STRING:
			if (!value_text(dec, v, vend, JT_STRING, &s, &len, &error))
				return "text";
			return is_iso_timestamp(s, len) ? "timestamptz" : "text";
	}
	return NULL;
}
