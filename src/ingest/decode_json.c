/*
 * decode_json.c
 *		Format json: a JSON object per message, top-level keys into columns
 *		by name, column_map paths into any column, without building jsonb.
 *
 * Decoding is two passes over the payload.  The first validates the whole
 * message (grammar, UTF-8, escapes, nesting) and only remembers where the
 * value of each interesting key is; keys appearing twice simply overwrite,
 * so the last one wins as in jsonb.  The second converts the remembered
 * values, so a message that is not valid JSON never reaches a column's
 * input function, and scalars go straight into their column types.
 *
 * column_map paths have this syntax (a subset of SQL/JSON paths):
 *		$				the whole message
 *		$.name			member "name" (any characters except . [ and space)
 *		$["any name"]	member with any name; also ['...']; \" and \\ escape
 *		$[3]			array element 3 (zero-based)
 * and any sequence of those, e.g. $.readings[0].speed.  The leading $ may
 * be left out: "readings[0].speed".
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "ingest/decode_internal.h"

#define JSON_MAX_DEPTH 1000


typedef enum JType
{
	JT_OBJECT,
	JT_ARRAY,
	JT_STRING,
	JT_NUMBER,
	JT_TRUE,
	JT_FALSE,
	JT_NULL
} JType;

typedef struct JsonParser
{
	const char *start;
	const char *p;
	const char *end;
	char	   *error;
	int			depth;
} JsonParser;

static bool skip_value(JsonParser *jp, JType *type);

static const char *
jtype_name(JType t)
{
	switch (t)
	{
		case JT_OBJECT:
			return "an object";
		case JT_ARRAY:
			return "an array";
		case JT_STRING:
			return "a string";
		case JT_NUMBER:
			return "a number";
		case JT_TRUE:
		case JT_FALSE:
			return "a boolean";
		case JT_NULL:
			return "null";
	}
	return "a value";
}

static bool
jp_fail(JsonParser *jp, const char *at, const char *what)
{
	int			pos = (int) (at - jp->start);

	if (at >= jp->end)
		jp->error = psprintf("invalid JSON at byte %d: %s, but the message ends there", pos, what);
	else if (*at >= 0x20 && *at < 0x7f)
		jp->error = psprintf("invalid JSON at byte %d: %s, found '%c'", pos, what, *at);
	else
		jp->error = psprintf("invalid JSON at byte %d: %s, found byte 0x%02x", pos, what,
							 (unsigned char) *at);
	return false;
}

static inline void
skip_ws(JsonParser *jp)
{
	while (jp->p < jp->end &&
		   (*jp->p == ' ' || *jp->p == '\n' || *jp->p == '\r' || *jp->p == '\t'))
		jp->p++;
}

static inline int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* four hex digits at p (bounds checked by the caller), or -1 */
static int
hex4(const char *p)
{
	int			v = 0;
	int			i;

	for (i = 0; i < 4; i++)
	{
		int			h = hexval(p[i]);

		if (h < 0)
			return -1;
		v = (v << 4) | h;
	}
	return v;
}

/*
 * Validate the string starting at the opening quote at jp->p and move past
 * its closing quote.  *has_escape tells whether unescaping is needed.
 */
static bool
scan_string(JsonParser *jp, bool *has_escape)
{
	const unsigned char *p = (const unsigned char *) jp->p + 1;
	const unsigned char *end = (const unsigned char *) jp->end;

	*has_escape = false;
	for (;;)
	{
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p >= end)
		{
			jp->error = psprintf("invalid JSON at byte %d: unterminated string",
								 (int) (jp->p - jp->start));
			return false;
		}
		if (*p == '"')
			break;
		if (*p == '\\')
		{
			*has_escape = true;
			if (p + 1 >= end)
				return jp_fail(jp, (const char *) p + 1, "expected an escape character after '\\'");
			switch (p[1])
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					p += 2;
					break;
				case 'u':
					{
						int			cp;

						if (end - p < 6 || (cp = hex4((const char *) p + 2)) < 0)
							return jp_fail(jp, (const char *) p, "expected four hex digits after \\u");
						if (cp >= 0xDC00 && cp <= 0xDFFF)
						{
							jp->error = psprintf("invalid JSON at byte %d: Unicode low surrogate \\u%04X without a preceding high surrogate",
												 (int) ((const char *) p - jp->start), cp);
							return false;
						}
						if (cp >= 0xD800 && cp <= 0xDBFF)
						{
							int			lo;

							if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
								(lo = hex4((const char *) p + 8)) < 0xDC00 || lo > 0xDFFF)
							{
								jp->error = psprintf("invalid JSON at byte %d: Unicode high surrogate \\u%04X must be followed by a low surrogate",
													 (int) ((const char *) p - jp->start), cp);
								return false;
							}
							p += 12;
						}
						else
							p += 6;
						break;
					}
				default:
					return jp_fail(jp, (const char *) p + 1, "invalid escape sequence");
			}
			continue;
		}
		if (*p < 0x20)
			return jp_fail(jp, (const char *) p, "control characters must be escaped in strings");
		/* non-ASCII: must be well-formed UTF-8 */
		{
			int			l = pg_utf_mblen(p);

			if (l > end - p || !pg_utf8_islegal(p, l))
			{
				jp->error = psprintf("message is not valid UTF-8: invalid byte sequence at byte %d",
									 (int) ((const char *) p - jp->start));
				return false;
			}
			p += l;
		}
	}
	jp->p = (const char *) p + 1;
	return true;
}

static bool
scan_number(JsonParser *jp)
{
	const char *p = jp->p;
	const char *end = jp->end;

	if (*p == '-')
		p++;
	if (p >= end || !IS_DIGIT(*p))
		return jp_fail(jp, p, "expected a digit");
	if (*p == '0')
	{
		p++;
		if (p < end && IS_DIGIT(*p))
			return jp_fail(jp, p, "leading zeros are not allowed in numbers");
	}
	else
		while (p < end && IS_DIGIT(*p))
			p++;
	if (p < end && *p == '.')
	{
		p++;
		if (p >= end || !IS_DIGIT(*p))
			return jp_fail(jp, p, "expected a digit after the decimal point");
		while (p < end && IS_DIGIT(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !IS_DIGIT(*p))
			return jp_fail(jp, p, "expected a digit in the exponent");
		while (p < end && IS_DIGIT(*p))
			p++;
	}
	jp->p = p;
	return true;
}

static bool
scan_literal(JsonParser *jp, const char *lit, int len)
{
	if (jp->end - jp->p < len || memcmp(jp->p, lit, len) != 0)
		return jp_fail(jp, jp->p, "expected a JSON value");
	jp->p += len;
	return true;
}

static bool
skip_container(JsonParser *jp, bool is_object)
{
	char		close = is_object ? '}' : ']';
	JType		t;

	if (++jp->depth > JSON_MAX_DEPTH)
	{
		jp->error = psprintf("invalid JSON at byte %d: nested more than %d levels deep",
							 (int) (jp->p - jp->start), JSON_MAX_DEPTH);
		return false;
	}
	check_stack_depth();
	jp->p++;
	skip_ws(jp);
	if (jp->p < jp->end && *jp->p == close)
	{
		jp->p++;
		jp->depth--;
		return true;
	}
	for (;;)
	{
		if (is_object)
		{
			bool		esc;

			if (jp->p >= jp->end || *jp->p != '"')
				return jp_fail(jp, jp->p, "expected a string as object key");
			if (!scan_string(jp, &esc))
				return false;
			skip_ws(jp);
			if (jp->p >= jp->end || *jp->p != ':')
				return jp_fail(jp, jp->p, "expected ':' after object key");
			jp->p++;
			skip_ws(jp);
		}
		if (!skip_value(jp, &t))
			return false;
		skip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',')
		{
			jp->p++;
			skip_ws(jp);
			continue;
		}
		if (jp->p < jp->end && *jp->p == close)
		{
			jp->p++;
			jp->depth--;
			return true;
		}
		return jp_fail(jp, jp->p, is_object ? "expected ',' or '}' after object member" :
					   "expected ',' or ']' after array element");
	}
}

/* Validate the value at jp->p (no leading whitespace) and move past it. */
static bool
skip_value(JsonParser *jp, JType *type)
{
	bool		esc;

	if (jp->p >= jp->end)
		return jp_fail(jp, jp->p, "expected a JSON value");
	switch (*jp->p)
	{
		case '{':
			*type = JT_OBJECT;
			return skip_container(jp, true);
		case '[':
			*type = JT_ARRAY;
			return skip_container(jp, false);
		case '"':
			*type = JT_STRING;
			return scan_string(jp, &esc);
		case 't':
			*type = JT_TRUE;
			return scan_literal(jp, "true", 4);
		case 'f':
			*type = JT_FALSE;
			return scan_literal(jp, "false", 5);
		case 'n':
			*type = JT_NULL;
			return scan_literal(jp, "null", 4);
		default:
			*type = JT_NUMBER;
			if (*jp->p == '-' || IS_DIGIT(*jp->p))
				return scan_number(jp);
			if (IS_HIGHBIT_SET(*jp->p))
			{
				int			l = pg_utf_mblen((const unsigned char *) jp->p);

				if (l > jp->end - jp->p || !pg_utf8_islegal((const unsigned char *) jp->p, l))
				{
					jp->error = psprintf("message is not valid UTF-8: invalid byte sequence at byte %d",
										 (int) (jp->p - jp->start));
					return false;
				}
			}
			return jp_fail(jp, jp->p, "expected a JSON value");
	}
}

/*
 * Unescape a validated string's content into buf (reset first).  Returns
 * false if it holds \u0000, which no PostgreSQL text can store.
 */
static bool
unescape_string(const char *s, int len, StringInfo buf)
{
	const char *p = s;
	const char *end = s + len;

	resetStringInfo(buf);
	while (p < end)
	{
		const char *q = p;

		while (q < end && *q != '\\')
			q++;
		if (q > p)
			appendBinaryStringInfo(buf, p, (int) (q - p));
		if (q >= end)
			break;
		switch (q[1])
		{
			case 'b':
				appendStringInfoChar(buf, '\b');
				break;
			case 'f':
				appendStringInfoChar(buf, '\f');
				break;
			case 'n':
				appendStringInfoChar(buf, '\n');
				break;
			case 'r':
				appendStringInfoChar(buf, '\r');
				break;
			case 't':
				appendStringInfoChar(buf, '\t');
				break;
			case 'u':
				{
					pg_wchar	cp = hex4(q + 2);
					unsigned char utf8[8];

					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(q + 8) - 0xDC00);
						q += 6;
					}
					if (cp == 0)
						return false;
					unicode_to_utf8(cp, utf8);
					appendBinaryStringInfo(buf, (char *) utf8, pg_utf_mblen(utf8));
					q += 4;
					break;
				}
			default:			/* " \ / */
				appendStringInfoChar(buf, q[1]);
				break;
		}
		p = q + 2;
	}
	return true;
}

static JType
value_type(const char *v)
{
	switch (*v)
	{
		case '{':
			return JT_OBJECT;
		case '[':
			return JT_ARRAY;
		case '"':
			return JT_STRING;
		case 't':
			return JT_TRUE;
		case 'f':
			return JT_FALSE;
		case 'n':
			return JT_NULL;
		default:
			return JT_NUMBER;
	}
}

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
	if (!unescape_string(*s, *len, &dec->scratch))
	{
		*error = psprintf("JSON string contains \\u0000, which PostgreSQL text cannot hold");
		return false;
	}
	*s = dec->scratch.data;
	*len = dec->scratch.len;
	return true;
}

static bool convert_value(SourceDecoder *dec, DecodeColumn *col, const char *v,
						  const char *vend, Datum *value, bool *isnull, char **error);
static const char *nav_ws(const char *p, const char *end);
static const char *nav_skip(const char *p, const char *end);

/* A JSON array into a one-dimensional array column, element by element. */
static bool
convert_array(SourceDecoder *dec, DecodeColumn *col, const char *v, const char *vend,
			  Datum *value, char **error)
{
	int			cap = 16;
	int			n = 0;
	Datum	   *elems = palloc(sizeof(Datum) * cap);
	bool	   *nulls = palloc(sizeof(bool) * cap);
	const char *p = nav_ws(v + 1, vend);
	int			dims[1];
	int			lbs[1] = {1};

	while (*p != ']')
	{
		const char *e = nav_skip(p, vend);

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
		if (!convert_value(dec, col->elem, p, e, &elems[n], &nulls[n], error))
			return false;
		n++;
		p = nav_ws(e, vend);
		if (*p == ',')
			p = nav_ws(p + 1, vend);
	}
	dims[0] = n;
	*value = PointerGetDatum(construct_md_array(elems, nulls, n > 0 ? 1 : 0, dims, lbs,
												col->elem->typid, col->elemlen,
												col->elembyval, col->elemalign));
	return true;
}

/* Convert one validated JSON value (v .. vend) into column col. */
static bool
convert_value(SourceDecoder *dec, DecodeColumn *col, const char *v, const char *vend,
			  Datum *value, bool *isnull, char **error)
{
	JType		t = value_type(v);
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

/* ---- column_map navigation over already validated JSON ---- */

static const char *
nav_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* end of the validated string starting at its opening quote */
static const char *
nav_string_end(const char *p, const char *end)
{
	p++;
	while (p < end && *p != '"')
		p += (*p == '\\') ? 2 : 1;
	return p + 1;
}

static const char *
nav_skip(const char *p, const char *end)
{
	int			depth = 0;

	if (*p == '"')
		return nav_string_end(p, end);
	if (*p != '{' && *p != '[')
	{
		while (p < end && *p != ',' && *p != '}' && *p != ']' &&
			   *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
			p++;
		return p;
	}
	while (p < end)
	{
		if (*p == '"')
		{
			p = nav_string_end(p, end);
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
		{
			if (--depth == 0)
				return p + 1;
		}
		p++;
	}
	return p;
}

/* one path step from the value at *v; false if the step leads nowhere */
static bool
nav_step(SourceDecoder *dec, PathStep *step, const char **v, const char **vend)
{
	const char *p = *v;
	const char *end = *vend;
	bool		found = false;
	int			idx = 0;

	if (step->key != NULL ? *p != '{' : *p != '[')
		return false;
	p = nav_ws(p + 1, end);
	if (*p == '}' || *p == ']')
		return false;
	for (;;)
	{
		bool		match;
		const char *e;

		CHECK_FOR_INTERRUPTS();
		if (step->key != NULL)
		{
			const char *ks = p + 1;
			const char *ke = nav_string_end(p, end) - 1;

			if (memchr(ks, '\\', ke - ks) == NULL)
				match = (ke - ks) == step->keylen && memcmp(ks, step->key, step->keylen) == 0;
			else
				match = unescape_string(ks, (int) (ke - ks), &dec->scratch) &&
					dec->scratch.len == step->keylen &&
					memcmp(dec->scratch.data, step->key, step->keylen) == 0;
			p = nav_ws(ke + 1, end);
			p = nav_ws(p + 1, end); /* ':' */
		}
		else
			match = idx++ == step->index;
		e = nav_skip(p, end);
		if (match)
		{
			/* last one wins for keys; the first (only) one for indexes */
			*v = p;
			*vend = e;
			found = true;
			if (step->key == NULL)
				return true;
		}
		p = nav_ws(e, end);
		if (*p != ',')
			break;
		p = nav_ws(p + 1, end);
	}
	return found;
}

/* ---- the top level ---- */

static uint32
hash_key(const char *s, int len)
{
	uint32		h = 2166136261u;
	int			i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char) s[i]) * 16777619u;
	return h;
}

static KeyEntry *
lookup_key(SourceDecoder *dec, const char *s, int len)
{
	uint32		i = hash_key(s, len) & (dec->nbuckets - 1);

	for (;;)
	{
		KeyEntry   *e = &dec->buckets[i];

		if (e->name == NULL)
			return NULL;
		if (e->len == len && memcmp(e->name, s, len) == 0)
			return e;
		i = (i + 1) & (dec->nbuckets - 1);
	}
}

static KeyEntry *
insert_key(SourceDecoder *dec, const char *s, int len)
{
	uint32		i = hash_key(s, len) & (dec->nbuckets - 1);

	for (;;)
	{
		KeyEntry   *e = &dec->buckets[i];

		if (e->name == NULL)
		{
			e->name = pnstrdup(s, len);
			e->len = len;
			e->col = -1;
			e->root = -1;
			e->unknown = -1;
			return e;
		}
		if (e->len == len && memcmp(e->name, s, len) == 0)
			return e;
		i = (i + 1) & (dec->nbuckets - 1);
	}
}

static void
path_error(const char *colname, const char *path, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid JSON path \"%s\" for column \"%s\" in column_map: %s",
					path, colname, what),
			 errhint("Paths look like $.a.b, $.list[0].name or $[\"key with spaces\"].")));
}

static void
parse_path(DecodeColumn *col, const char *path)
{
	const char *p = path;
	int			cap = 4;
	bool		relative = false;

	col->npath = 0;
	col->path = palloc(sizeof(PathStep) * cap);
	if (*p == '$')
		p++;
	else if (*p == '\0')
		path_error(col->name, path, "empty path");
	else if (*p != '.' && *p != '[')
		relative = true;		/* "a.b" is the same as "$.a.b" */
	while (*p != '\0')
	{
		PathStep   *st;

		if (col->npath == cap)
		{
			cap *= 2;
			col->path = repalloc(col->path, sizeof(PathStep) * cap);
		}
		st = &col->path[col->npath];
		if (relative || *p == '.')
		{
			const char *s = relative ? p : p + 1;

			relative = false;
			p = s;
			while (*p != '\0' && *p != '.' && *p != '[' && *p != ' ')
				p++;
			if (p == s)
				path_error(col->name, path, "expected a member name after '.'");
			st->key = pnstrdup(s, p - s);
			st->keylen = (int) (p - s);
		}
		else if (*p == '[' && (p[1] == '"' || p[1] == '\''))
		{
			char		q = p[1];
			StringInfoData name;

			initStringInfo(&name);
			p += 2;
			while (*p != '\0' && *p != q)
			{
				if (*p == '\\' && (p[1] == q || p[1] == '\\'))
					p++;
				appendStringInfoChar(&name, *p++);
			}
			if (*p != q || p[1] != ']')
				path_error(col->name, path, "unterminated quoted member name");
			p += 2;
			st->key = name.data;
			st->keylen = name.len;
		}
		else if (*p == '[')
		{
			long		idx = 0;

			p++;
			if (!IS_DIGIT(*p))
				path_error(col->name, path, "expected an array index (a number from 0) or a quoted name after '['");
			while (IS_DIGIT(*p))
			{
				idx = idx * 10 + (*p++ - '0');
				if (idx > PG_INT32_MAX)
					path_error(col->name, path, "array index too large");
			}
			if (*p != ']')
				path_error(col->name, path, "expected ']'");
			p++;
			st->key = NULL;
			st->index = (int) idx;
		}
		else
			path_error(col->name, path, "expected '.' or '['");
		col->npath++;
	}
	if (col->npath > 0 && col->path[0].key == NULL)
		path_error(col->name, path, "a message is an object, so the path must start with a member name");
}

void
json_decoder_prepare(SourceDecoder *dec, Jsonb *column_map)
{
	/* room for the keys seen that match no column, too (note_unmatched_key) */
	int			nentries = dec->natts + 1 + DECODE_MAX_UNKNOWN;
	int			i;

	if (column_map != NULL)
		nentries += JB_ROOT_COUNT(column_map);
	dec->nbuckets = 16;
	while (dec->nbuckets < nentries * 2)
		dec->nbuckets *= 2;
	dec->buckets = palloc0(sizeof(KeyEntry) * dec->nbuckets);
	for (i = 0; i < dec->natts; i++)
		dec->cols[i].root = -1;

	if (column_map != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(&column_map->root);
		JsonbValue	v;
		JsonbIteratorToken tok;
		DecodeColumn *col = NULL;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				int			c = decoder_lookup_column(dec, v.val.string.val, v.val.string.len);

				if (c < 0)
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_COLUMN),
							 errmsg("column_map names column \"%.*s\", which the target does not have or which is a metadata column",
									v.val.string.len, v.val.string.val)));
				col = &dec->cols[c];
			}
			else if (tok == WJB_VALUE)
			{
				char	   *path;
				KeyEntry   *e;

				if (v.type != jbvString)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("column_map value for column \"%s\" must be a JSON path string",
									col->name)));
				path = pnstrdup(v.val.string.val, v.val.string.len);
				parse_path(col, path);
				col->mapped = true;
				if (col->npath > 0)
				{
					e = insert_key(dec, col->path[0].key, col->path[0].keylen);
					if (e->root < 0)
						e->root = dec->nroots++;
					col->root = e->root;
				}
			}
		}
	}
	dec->root_start = palloc0(sizeof(char *) * Max(dec->nroots, 1));
	dec->root_end = palloc0(sizeof(char *) * Max(dec->nroots, 1));
	if (dec->merge_schema)
	{
		dec->unknown_cxt = AllocSetContextCreate(CurrentMemoryContext,
												 "streamext unknown keys",
												 ALLOCSET_SMALL_SIZES);
		dec->unknown = palloc0(sizeof(UnknownKey) * UNKNOWN_SLOTS);
	}

	/* columns by name; metadata and generated columns are known but not filled */
	for (i = 0; i < dec->natts; i++)
	{
		DecodeColumn *col = &dec->cols[i];
		KeyEntry   *e;

		if (col->name == NULL || (col->skip && strncmp(col->name, "........pg.dropped.", 19) == 0))
			continue;
		e = insert_key(dec, col->name, strlen(col->name));
		if (col->is_data && !col->mapped)
			e->col = i;
	}
}

/*
 * merge_schema: remember a key that matches no column, once, if it can be
 * one, and return its slot so the caller can record where its value is (the
 * last one wins, as for columns).  A table has at most
 * MaxHeapAttributeNumber columns, so no more keys than that are collected.
 */
static UnknownKey *
note_unknown_key(SourceDecoder *dec, const char *key, int len, List **unknown_keys)
{
	UnknownKey *slot;
	uint32		i;

	if (len == 0 || len >= NAMEDATALEN)
		return NULL;
	for (i = hash_key(key, len) & (UNKNOWN_SLOTS - 1);
		 dec->unknown[i].name != NULL;
		 i = (i + 1) & (UNKNOWN_SLOTS - 1))
	{
		if (dec->unknown[i].len == len && memcmp(dec->unknown[i].name, key, len) == 0)
			return &dec->unknown[i];
	}
	if (dec->nunknown >= MaxHeapAttributeNumber)
		return NULL;
	slot = &dec->unknown[i];
	slot->name = MemoryContextStrdup(dec->unknown_cxt, pnstrdup(key, len));
	slot->len = len;
	dec->nunknown++;
	/* a new column with a metadata name would turn into metadata */
	if (metadata_kind(slot->name) == META_NONE)
		*unknown_keys = lappend(*unknown_keys, pstrdup(slot->name));
	return slot;
}

/*
 * A top-level key that matches no column (e: its entry if seen before, else
 * NULL): count it, and refuse the message if on_unknown_key is dead_letter.
 * The first DECODE_MAX_UNKNOWN names get an entry in the key table, so that
 * the next message's lookup finds their counter at once; the rest share one
 * counter.  Returns the entry (or NULL), or sets *error.
 */
static KeyEntry *
note_unmatched_key(SourceDecoder *dec, KeyEntry *e, const char *key, int len, char **error)
{
	if (e == NULL && dec->nunknown_names < DECODE_MAX_UNKNOWN)
	{
		MemoryContext old = MemoryContextSwitchTo(dec->mcxt);
		const char *name = NULL;
		int			i;

		/* a name for source_warnings, in the server encoding without conversion errors */
		for (i = 0; dec->need_conversion && i < len; i++)
			if (IS_HIGHBIT_SET(key[i]))
				name = "(a key with non-ASCII characters)";
		if (name == NULL)
			name = pnstrdup(key, len);
		e = insert_key(dec, key, len);
		e->unknown = dec->nunknown_names;
		dec->unknown_names[dec->nunknown_names++] = name;
		MemoryContextSwitchTo(old);
	}
	if (e != NULL)
		dec->counts[COUNT_UNKNOWN(dec, e->unknown)]++;
	else
		dec->counts[COUNT_MORE_UNKNOWN(dec)]++;
	if (dec->unknown_dead)
		*error = psprintf("key \"%.*s\" matches no column of the target (on_unknown_key is dead_letter)",
						  pg_encoding_mbcliplen(PG_UTF8, key, len, 200), key);
	return e;
}

static bool
payload_problem(const IngestMessage *msg, char **error)
{
	if (msg->payload == NULL)
	{
		*error = pstrdup("message has no payload (tombstone), but format json needs a JSON object");
		return true;
	}
	if (msg->payload_len == 0)
	{
		*error = pstrdup("message payload is empty, but format json needs a JSON object");
		return true;
	}
	if (msg->payload_len > (size_t) MaxAllocSize)
	{
		*error = psprintf("message payload of %zu bytes is too large", msg->payload_len);
		return true;
	}
	return false;
}

/*
 * Validate the message and record where the interesting values are: with
 * want_key, only that key's value; otherwise the columns' and column_map
 * roots' values, and unknown keys for merge_schema.
 */
static bool
scan_top_level(SourceDecoder *dec, const IngestMessage *msg, char **error,
			   List **unknown_keys, const char *want_key,
			   const char **want_start, const char **want_end)
{
	JsonParser	jp;
	JType		t;
	int			want_len = want_key ? strlen(want_key) : 0;

	jp.start = msg->payload;
	jp.p = msg->payload;
	jp.end = msg->payload + msg->payload_len;
	jp.error = NULL;
	jp.depth = 0;

	skip_ws(&jp);
	if (jp.p >= jp.end)
	{
		*error = pstrdup("message payload is only whitespace, but format json needs a JSON object");
		return false;
	}
	if (*jp.p != '{')
	{
		if (!skip_value(&jp, &t))
		{
			*error = jp.error;
			return false;
		}
		*error = psprintf("JSON message is %s, not an object", jtype_name(t));
		return false;
	}
	jp.depth = 1;
	jp.p++;
	skip_ws(&jp);
	if (jp.p < jp.end && *jp.p == '}')
		jp.p++;
	else
	{
		for (;;)
		{
			const char *ks;
			const char *ke;
			const char *vs;
			bool		esc;
			bool		wanted;
			KeyEntry   *e;
			UnknownKey *unknown;

			CHECK_FOR_INTERRUPTS();
			if (jp.p >= jp.end || *jp.p != '"')
			{
				jp_fail(&jp, jp.p, "expected a string as object key");
				*error = jp.error;
				return false;
			}
			ks = jp.p + 1;
			if (!scan_string(&jp, &esc))
			{
				*error = jp.error;
				return false;
			}
			ke = jp.p - 1;
			if (esc)
			{
				if (!unescape_string(ks, (int) (ke - ks), &dec->scratch))
				{
					*error = psprintf("invalid JSON at byte %d: object key contains \\u0000",
									  (int) (ks - jp.start));
					return false;
				}
				ks = dec->scratch.data;
				ke = ks + dec->scratch.len;
			}
			skip_ws(&jp);
			if (jp.p >= jp.end || *jp.p != ':')
			{
				jp_fail(&jp, jp.p, "expected ':' after object key");
				*error = jp.error;
				return false;
			}
			jp.p++;
			skip_ws(&jp);

			/* an escaped key lives in the scratch buffer: use it now */
			unknown = NULL;
			if (want_key != NULL)
				e = NULL;
			else
			{
				e = lookup_key(dec, ks, (int) (ke - ks));
				if (unlikely(e == NULL || e->unknown >= 0))
				{
					if (dec->merge_schema && unknown_keys != NULL)
						unknown = note_unknown_key(dec, ks, (int) (ke - ks), unknown_keys);
					e = note_unmatched_key(dec, e, ks, (int) (ke - ks), error);
					if (dec->unknown_dead)
						return false;
				}
			}
			wanted = want_key != NULL && ke - ks == want_len &&
				memcmp(ks, want_key, want_len) == 0;

			vs = jp.p;
			if (!skip_value(&jp, &t))
			{
				*error = jp.error;
				return false;
			}
			if (wanted)
			{
				*want_start = vs;
				*want_end = jp.p;
			}
			if (unknown != NULL)
			{
				unknown->vstart = vs;
				unknown->vend = jp.p;
			}
			if (e != NULL)
			{
				if (e->col >= 0)
				{
					dec->cols[e->col].vstart = vs;
					dec->cols[e->col].vend = jp.p;
				}
				if (e->root >= 0)
				{
					dec->root_start[e->root] = vs;
					dec->root_end[e->root] = jp.p;
				}
			}
			skip_ws(&jp);
			if (jp.p < jp.end && *jp.p == ',')
			{
				jp.p++;
				skip_ws(&jp);
				continue;
			}
			if (jp.p < jp.end && *jp.p == '}')
			{
				jp.p++;
				break;
			}
			jp_fail(&jp, jp.p, "expected ',' or '}' after object member");
			*error = jp.error;
			return false;
		}
	}
	skip_ws(&jp);
	if (jp.p < jp.end)
	{
		jp_fail(&jp, jp.p, "unexpected data after the JSON object");
		*error = jp.error;
		return false;
	}
	return true;
}

bool
json_decode(SourceDecoder *dec, const IngestMessage *msg,
			Datum *values, bool *isnull, char **error,
			List **unknown_keys)
{
	int			i;

	if (payload_problem(msg, error))
		return false;
	for (i = 0; i < dec->natts; i++)
		dec->cols[i].vstart = NULL;
	for (i = 0; i < dec->nroots; i++)
		dec->root_start[i] = NULL;

	if (dec->merge_schema && unknown_keys != NULL)
	{
		MemoryContextReset(dec->unknown_cxt);
		memset(dec->unknown, 0, sizeof(UnknownKey) * UNKNOWN_SLOTS);
		dec->nunknown = 0;
		dec->unknown_payload = msg->payload;
		dec->unknown_len = msg->payload_len;
		dec->unknown_offset = msg->offset;
		dec->unknown_partition = msg->partition;
	}
	if (!scan_top_level(dec, msg, error, unknown_keys, NULL, NULL, NULL))
	{
		dec->unknown_payload = NULL;
		return false;
	}
	dec->counts[COUNT_DECODED(dec)]++;

	for (i = 0; i < dec->natts; i++)
	{
		DecodeColumn *col = &dec->cols[i];
		const char *v = col->vstart;
		const char *vend = col->vend;

		if (!col->is_data)
			continue;
		if (col->mapped)
		{
			int			s;

			if (col->npath == 0)
			{
				/* "$": the whole message, without surrounding whitespace */
				v = msg->payload;
				vend = msg->payload + msg->payload_len;
				while (*v != '{')
					v++;
				while (vend[-1] != '}')
					vend--;
			}
			else
			{
				v = dec->root_start[col->root];
				vend = dec->root_end[col->root];
				for (s = 1; v != NULL && s < col->npath; s++)
					if (!nav_step(dec, &col->path[s], &v, &vend))
						v = NULL;
			}
		}
		if (v == NULL)
		{
			/* no key: the DEFAULT, else NULL, which source_warnings shows */
			if (col->defexpr == NULL)
			{
				dec->counts[i]++;
				if (dec->missing_dead)
				{
					*error = col->mapped ?
						psprintf("column \"%s\": its column_map path finds nothing in the message (on_missing_column is dead_letter)",
								 col->name) :
						psprintf("column \"%s\" has no key in the message (on_missing_column is dead_letter)",
								 col->name);
					return false;
				}
			}
			decoder_fill_default(dec, i, values, isnull);
			continue;
		}
		if (!convert_value(dec, col, v, vend, &values[i], &isnull[i], error))
		{
			*error = psprintf("column \"%s\": %s", col->name, *error);
			return false;
		}
	}
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

const char *
json_infer_type(SourceDecoder *dec, const IngestMessage *msg, const char *key)
{
	const char *v = NULL;
	const char *vend = NULL;
	char	   *error;
	int64		i64;
	const char *s;
	int			len;

	if (payload_problem(msg, &error))
		return NULL;
	if (dec->unknown_payload != NULL && dec->unknown_payload == msg->payload &&
		dec->unknown_len == msg->payload_len && dec->unknown_offset == msg->offset &&
		dec->unknown_partition == msg->partition)
	{
		/* the message decoded last: its unknown keys' values are known */
		int			len = strlen(key);
		uint32		i;

		for (i = hash_key(key, len) & (UNKNOWN_SLOTS - 1);
			 dec->unknown[i].name != NULL;
			 i = (i + 1) & (UNKNOWN_SLOTS - 1))
		{
			if (dec->unknown[i].len == len && memcmp(dec->unknown[i].name, key, len) == 0)
			{
				v = dec->unknown[i].vstart;
				vend = dec->unknown[i].vend;
				break;
			}
		}
	}
	if (v == NULL &&
		(!scan_top_level(dec, msg, &error, NULL, key, &v, &vend) || v == NULL))
		return NULL;
	switch (value_type(v))
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
