/*
 * decode_json_internal.h
 *		What the files of format json share; nothing else includes it.
 *
 *		decode_json.c			the top level: one message into a row
 *		decode_json_scan.c		validating JSON, and moving over JSON known valid
 *		decode_json_map.c		column_map paths and the key lookup table
 *		decode_json_convert.c	a JSON value into a column's type, and back
 *
 * Decoding validates the message once (JsonParser) and remembers where
 * the values of interest are; everything after that moves over text known
 * to be valid JSON (the json_nav_* functions), so it needs no error checks.
 * The small functions of the per-key path are inline here, because the
 * decoder calls them for every key of every message.
 */
#ifndef STREAMEXT_INGEST_DECODE_JSON_INTERNAL_H
#define STREAMEXT_INGEST_DECODE_JSON_INTERNAL_H

#include "lib/stringinfo.h"

#include "ingest/decode_internal.h"

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

/* decode_json_scan.c: validation */
extern const char *json_type_name(JType t);
extern bool json_parse_fail(JsonParser *jp, const char *at, const char *what);
extern bool json_scan_string(JsonParser *jp, bool *has_escape);
extern bool json_skip_value(JsonParser *jp, JType *type);
extern bool json_unescape(const char *s, int len, StringInfo buf);

static inline void
json_skip_ws(JsonParser *jp)
{
	while (jp->p < jp->end &&
		   (*jp->p == ' ' || *jp->p == '\n' || *jp->p == '\r' || *jp->p == '\t'))
		jp->p++;
}

static inline JType
json_value_type(const char *v)
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

static inline const char *
json_nav_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* end of the validated string starting at its opening quote */
static inline const char *
json_nav_string_end(const char *p, const char *end)
{
	p++;
	while (p < end && *p != '"')
		p += (*p == '\\') ? 2 : 1;
	return p + 1;
}

static inline uint32
json_hash_key(const char *s, int len)
{
	uint32		h = 2166136261u;
	int			i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char) s[i]) * 16777619u;
	return h;
}

/* decode_json_scan.c: navigation over validated JSON */
extern const char *json_nav_skip(const char *p, const char *end);

/* decode_json_map.c */
extern bool json_nav_step(SourceDecoder *dec, PathStep *step, const char **v, const char **vend);
extern KeyEntry *json_insert_key(SourceDecoder *dec, const char *s, int len);

/* decode_json_convert.c */
extern bool json_convert_value(SourceDecoder *dec, DecodeColumn *col, const char *v,
							   const char *vend, Datum *value, bool *isnull, char **error);
extern const char *json_value_sql_type(SourceDecoder *dec, const char *v, const char *vend);

#endif							/* STREAMEXT_INGEST_DECODE_JSON_INTERNAL_H */
