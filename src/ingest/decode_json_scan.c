/*
 * decode_json_scan.c
 *		Format json's tokenizer: validating a JSON value (grammar, UTF-8,
 *		escapes, nesting depth) with an error message that says what and
 *		where, unescaping strings, and skipping over values known to be valid.
 *
 * Validation only moves a JsonParser past values; it builds nothing, so
 * that the decoder can validate a whole message and convert just the values
 * it has columns for.  json_nav_skip() and the inline json_nav_* functions
 * run over text that has been validated and so check nothing.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "ingest/decode_json_internal.h"

#define JSON_MAX_DEPTH 1000

const char *
json_type_name(JType t)
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

bool
json_parse_fail(JsonParser *jp, const char *at, const char *what)
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
bool
json_scan_string(JsonParser *jp, bool *has_escape)
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
				return json_parse_fail(jp, (const char *) p + 1, "expected an escape character after '\\'");
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
							return json_parse_fail(jp, (const char *) p, "expected four hex digits after \\u");
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
					return json_parse_fail(jp, (const char *) p + 1, "invalid escape sequence");
			}
			continue;
		}
		if (*p < 0x20)
			return json_parse_fail(jp, (const char *) p, "control characters must be escaped in strings");
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
		return json_parse_fail(jp, p, "expected a digit");
	if (*p == '0')
	{
		p++;
		if (p < end && IS_DIGIT(*p))
			return json_parse_fail(jp, p, "leading zeros are not allowed in numbers");
	}
	else
		while (p < end && IS_DIGIT(*p))
			p++;
	if (p < end && *p == '.')
	{
		p++;
		if (p >= end || !IS_DIGIT(*p))
			return json_parse_fail(jp, p, "expected a digit after the decimal point");
		while (p < end && IS_DIGIT(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !IS_DIGIT(*p))
			return json_parse_fail(jp, p, "expected a digit in the exponent");
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
		return json_parse_fail(jp, jp->p, "expected a JSON value");
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
	json_skip_ws(jp);
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
				return json_parse_fail(jp, jp->p, "expected a string as object key");
			if (!json_scan_string(jp, &esc))
				return false;
			json_skip_ws(jp);
			if (jp->p >= jp->end || *jp->p != ':')
				return json_parse_fail(jp, jp->p, "expected ':' after object key");
			jp->p++;
			json_skip_ws(jp);
		}
		if (!json_skip_value(jp, &t))
			return false;
		json_skip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',')
		{
			jp->p++;
			json_skip_ws(jp);
			continue;
		}
		if (jp->p < jp->end && *jp->p == close)
		{
			jp->p++;
			jp->depth--;
			return true;
		}
		return json_parse_fail(jp, jp->p, is_object ? "expected ',' or '}' after object member" :
					   "expected ',' or ']' after array element");
	}
}

/* Validate the value at jp->p (no leading whitespace) and move past it. */
bool
json_skip_value(JsonParser *jp, JType *type)
{
	bool		esc;

	if (jp->p >= jp->end)
		return json_parse_fail(jp, jp->p, "expected a JSON value");
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
			return json_scan_string(jp, &esc);
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
			return json_parse_fail(jp, jp->p, "expected a JSON value");
	}
}

/*
 * Unescape a validated string's content into buf (reset first).  Returns
 * false if it holds \u0000, which no PostgreSQL text can store.
 */
bool
json_unescape(const char *s, int len, StringInfo buf)
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

const char *
json_nav_skip(const char *p, const char *end)
{
	int			depth = 0;

	if (*p == '"')
		return json_nav_string_end(p, end);
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
			p = json_nav_string_end(p, end);
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
