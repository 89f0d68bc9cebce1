/*
 * decode_json_fuzz.c
 *		libFuzzer target for the json message decoder (src/ingest/decode_json*.c).
 *
 * The decoder's files are compiled into this program together with small
 * stand-ins for the few backend facilities it uses (memory, strings, UTF-8
 * helpers), so arbitrary bytes can be thrown at the tokenizer, the key
 * lookup, unescaping, column_map navigation, array conversion and type
 * inference without a server.  Backend functions that the chosen column
 * types never reach abort(), so an unexpected path is reported as a crash.
 *
 * Build and run: test/fuzz/run.sh [seconds]
 */
#include "../../src/ingest/decode_json.c"
#include "../../src/ingest/decode_json_convert.c"
#include "../../src/ingest/decode_json_map.c"
#include "../../src/ingest/decode_json_scan.c"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* port.h routes these to libpgport; the C library's are fine here */
#undef vsnprintf

/* ---- memory: an arena freed after every input ---- */

typedef struct Chunk
{
	struct Chunk *next;
	size_t		size;
	max_align_t data[];
} Chunk;

static Chunk *arena = NULL;

static void *
arena_alloc(size_t size)
{
	Chunk	   *c = malloc(sizeof(Chunk) + size + 1);

	if (c == NULL)
		abort();
	c->next = arena;
	c->size = size;
	arena = c;
	return c->data;
}

static void
arena_reset(void)
{
	while (arena)
	{
		Chunk	   *n = arena->next;

		free(arena);
		arena = n;
	}
}

void *
palloc(Size size)
{
	return arena_alloc(size);
}

void *
palloc0(Size size)
{
	void	   *p = arena_alloc(size);

	memset(p, 0, size);
	return p;
}

void *
repalloc(void *pointer, Size size)
{
	Chunk	   *c = (Chunk *) ((char *) pointer - offsetof(Chunk, data));
	void	   *p = arena_alloc(size);

	memcpy(p, pointer, Min(c->size, size));
	return p;
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out = palloc(len + 1);

	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

char *
pstrdup(const char *in)
{
	return pnstrdup(in, strlen(in));
}

char *
psprintf(const char *fmt,...)
{
	va_list		ap;
	int			n;
	char	   *out;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	out = palloc(n + 1);
	va_start(ap, fmt);
	vsnprintf(out, n + 1, fmt, ap);
	va_end(ap);
	return out;
}

void
initStringInfo(StringInfo str)
{
	str->maxlen = 64;
	str->data = palloc(str->maxlen);
	resetStringInfo(str);
}

void
resetStringInfo(StringInfo str)
{
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
appendBinaryStringInfo(StringInfo str, const char *data, int datalen)
{
	if (str->len + datalen + 1 > str->maxlen)
	{
		int			newlen = Max(str->maxlen * 2, str->len + datalen + 1);

		str->data = repalloc(str->data, newlen);
		str->maxlen = newlen;
	}
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
	str->data[str->len] = '\0';
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	appendBinaryStringInfo(str, &ch, 1);
}

/* ---- UTF-8, written from the Unicode rules ---- */

int
pg_utf_mblen(const unsigned char *s)
{
	if ((*s & 0x80) == 0)
		return 1;
	if ((*s & 0xe0) == 0xc0)
		return 2;
	if ((*s & 0xf0) == 0xe0)
		return 3;
	if ((*s & 0xf8) == 0xf0)
		return 4;
	return 1;
}

bool
pg_utf8_islegal(const unsigned char *s, int length)
{
	unsigned int cp;
	int			i;

	if (length == 1)
		return *s < 0x80;
	if (length == 2)
		cp = *s & 0x1f;
	else if (length == 3)
		cp = *s & 0x0f;
	else if (length == 4)
		cp = *s & 0x07;
	else
		return false;
	if ((length == 2 && (*s & 0xe0) != 0xc0) || (length == 3 && (*s & 0xf0) != 0xe0) ||
		(length == 4 && (*s & 0xf8) != 0xf0))
		return false;
	for (i = 1; i < length; i++)
	{
		if ((s[i] & 0xc0) != 0x80)
			return false;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((length == 2 && cp < 0x80) || (length == 3 && cp < 0x800) ||
		(length == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	return true;
}

unsigned char *
unicode_to_utf8(pg_wchar c, unsigned char *utf8string)
{
	if (c <= 0x7F)
		utf8string[0] = c;
	else if (c <= 0x7FF)
	{
		utf8string[0] = 0xC0 | (c >> 6);
		utf8string[1] = 0x80 | (c & 0x3F);
	}
	else if (c <= 0xFFFF)
	{
		utf8string[0] = 0xE0 | (c >> 12);
		utf8string[1] = 0x80 | ((c >> 6) & 0x3F);
		utf8string[2] = 0x80 | (c & 0x3F);
	}
	else
	{
		utf8string[0] = 0xF0 | (c >> 18);
		utf8string[1] = 0x80 | ((c >> 12) & 0x3F);
		utf8string[2] = 0x80 | ((c >> 6) & 0x3F);
		utf8string[3] = 0x80 | (c & 0x3F);
	}
	return utf8string;
}

/* ---- the rest of the backend the fuzzed paths touch ---- */

MemoryContext CurrentMemoryContext = NULL;

void
MemoryContextReset(MemoryContext context)
{
	/* the arena goes away after each input anyway */
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	return pstrdup(string);
}

volatile sig_atomic_t InterruptPending = false;

void
ProcessInterrupts(void)
{
}

void
check_stack_depth(void)
{
}

List *
lappend(List *list, void *datum)
{
	/* the fuzzer only counts unknown keys: a one-cell list is enough */
	static List dummy;

	(void) datum;
	return list ? list : &dummy;
}

MetaKind
metadata_kind(const char *colname)
{
	return strcmp(colname, "_offset") == 0 ? META_OFFSET : META_NONE;
}

int
decoder_lookup_column(SourceDecoder *dec, const char *name, int len)
{
	abort();
}

char *
decoder_server_string(SourceDecoder *dec, const char *s, int len)
{
	return pnstrdup(s, len);
}

Datum
decoder_text_datum(SourceDecoder *dec, const char *s, int len)
{
	/* check that the decoder only hands over valid UTF-8 */
	int			i = 0;

	while (i < len)
	{
		int			l = pg_utf_mblen((const unsigned char *) s + i);

		if (i + l > len || !pg_utf8_islegal((const unsigned char *) s + i, l))
			abort();
		i += l;
	}
	return PointerGetDatum(pnstrdup(s, len));
}

Datum
decoder_input(SourceDecoder *dec, DecodeColumn *col, const char *s, int len)
{
	return decoder_text_datum(dec, s, len);
}

void
decoder_fill_default(SourceDecoder *dec, int attno, Datum *values, bool *isnull)
{
	isnull[attno] = true;
}

char *
format_type_be(Oid type_oid)
{
	return pstrdup("some_type[]");
}

double
float8in_internal(char *num, char **endptr_p, const char *type_name, const char *orig_string)
{
	return strtod(num, NULL);
}

bool
fast_timestamptz(const char *s, int len, TimestampTz *result)
{
	return false;
}

ArrayType *
construct_md_array(Datum *elems, bool *nulls, int ndims, int *dims, int *lbs,
				   Oid elmtype, int elmlen, bool elmbyval, char elmalign)
{
	return palloc(sizeof(ArrayType));
}

int
ParseDateTime(const char *timestr, char *workbuf, size_t buflen, char **field,
			  int *ftype, int maxfields, int *numfields)
{
	return 1;					/* "not a date": inference then says text */
}

/* backend functions the fuzzed paths never reach: decode_json_fuzz_stubs.c */

/* ---- the target ---- */

static void
add_column(SourceDecoder *dec, int i, const char *name, ColumnKind kind, const char *path)
{
	DecodeColumn *col = &dec->cols[i];

	col->name = name;
	col->kind = kind;
	col->is_data = true;
	col->root = -1;
	if (path != NULL)
	{
		parse_path(col, path);
		col->mapped = true;
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SourceDecoder *dec;
	IngestMessage msg;
	Datum		values[10];
	bool		isnull[10];
	char	   *error = NULL;
	List	   *unknown = NIL;
	int			i;
	char	   *copy;

	if (size < 1)
		return 0;
	dec = palloc0(sizeof(SourceDecoder));
	dec->format = DECODE_JSON;
	dec->natts = 10;
	dec->cols = palloc0(sizeof(DecodeColumn) * dec->natts);
	dec->merge_schema = data[0] & 1;
	dec->unknown = palloc0(sizeof(UnknownKey) * UNKNOWN_SLOTS);
	dec->counts = palloc0(sizeof(int64) * COUNTS_SIZE(dec));
	dec->unknown_names = palloc0(sizeof(char *) * DECODE_MAX_UNKNOWN);
	initStringInfo(&dec->scratch);
	add_column(dec, 0, "a", CK_TEXT, NULL);
	add_column(dec, 1, "b", CK_INT8, NULL);
	add_column(dec, 2, "c", CK_JSON, NULL);
	add_column(dec, 3, "d", CK_BOOL, NULL);
	add_column(dec, 4, "e", CK_GENERIC, NULL);
	dec->cols[4].elem = palloc0(sizeof(DecodeColumn));
	dec->cols[4].elem->kind = CK_TEXT;
	add_column(dec, 5, "f", CK_TEXT, "$.x.y[1]");
	add_column(dec, 6, "g", CK_JSON, "$");
	add_column(dec, 7, "h", CK_GENERIC, "x[\"a b\"][0]");
	add_column(dec, 8, "_offset", CK_INT8, NULL);
	dec->cols[8].is_data = false;
	dec->cols[8].meta = META_OFFSET;
	add_column(dec, 9, "n", CK_FLOAT8, NULL);

	/* what json_decoder_prepare does with a column_map (room for unknown keys too) */
	dec->nbuckets = 128;
	dec->buckets = palloc0(sizeof(KeyEntry) * dec->nbuckets);
	for (i = 0; i < dec->natts; i++)
	{
		DecodeColumn *col = &dec->cols[i];
		KeyEntry   *e;

		if (col->mapped && col->npath > 0)
		{
			e = json_insert_key(dec, col->path[0].key, col->path[0].keylen);
			if (e->root < 0)
				e->root = dec->nroots++;
			col->root = e->root;
		}
	}
	dec->root_start = palloc0(sizeof(char *) * Max(dec->nroots, 1));
	dec->root_end = palloc0(sizeof(char *) * Max(dec->nroots, 1));
	for (i = 0; i < dec->natts; i++)
	{
		KeyEntry   *e = json_insert_key(dec, dec->cols[i].name, strlen(dec->cols[i].name));

		if (dec->cols[i].is_data && !dec->cols[i].mapped)
			e->col = i;
	}

	/* an exact-size copy, so reading past the message is caught by ASan */
	copy = malloc(size - 1 + 1);
	memcpy(copy, data + 1, size - 1);
	memset(&msg, 0, sizeof(msg));
	msg.topic = "t";
	msg.payload = copy;
	msg.payload_len = size - 1;

	if (json_decode(dec, &msg, values, isnull, &error, &unknown))
	{
		if (error != NULL)
			abort();
		/* the float fast path must agree with strtod to the bit */
		if (dec->cols[9].vstart != NULL && json_value_type(dec->cols[9].vstart) == JT_NUMBER)
		{
			char	   *num = pnstrdup(dec->cols[9].vstart, dec->cols[9].vend - dec->cols[9].vstart);
			double		fast;

			if (fast_float8(num, strlen(num), &fast))
			{
				double		slow = strtod(num, NULL);

				if (memcmp(&fast, &slow, sizeof(double)) != 0)
					abort();
			}
		}
		(void) json_infer_type(dec, &msg, "a");
		(void) json_infer_type(dec, &msg, "zz");
	}
	else if (error == NULL)
		abort();				/* a refusal must say why */
	free(copy);
	arena_reset();
	return 0;
}
