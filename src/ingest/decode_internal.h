/*
 * decode_internal.h
 *		What the decoder files (decode*.c, metadata.c) share; nothing outside
 *		them includes it.  The files of format json share more in
 *		decode_json_internal.h.
 *
 * decoder_create() resolves the target's columns once into DecodeColumn
 * entries so that decoding a message only walks arrays and calls the
 * conversion chosen for each column's type.
 */
#ifndef STREAMEXT_INGEST_DECODE_INTERNAL_H
#define STREAMEXT_INGEST_DECODE_INTERNAL_H

#include "executor/execExpr.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"

#include "ingest/decode.h"

typedef enum DecodeFormat
{
	DECODE_JSON,
	DECODE_CSV,
	DECODE_TEXT,
	DECODE_BYTES
} DecodeFormat;

/* How a value becomes a Datum of the column's type. */
typedef enum ColumnKind
{
	CK_GENERIC,					/* the type's input function on the text form */
	CK_TEXT,					/* text, or varchar without a length limit */
	CK_INT2,
	CK_INT4,
	CK_INT8,
	CK_FLOAT4,
	CK_FLOAT8,
	CK_NUMERIC,					/* numeric without typmod */
	CK_BOOL,
	CK_JSON,
	CK_JSONB,
	CK_BYTEA,
	CK_TIMESTAMPTZ
} ColumnKind;

typedef enum MetaKind
{
	META_NONE,
	META_TOPIC,
	META_PARTITION,
	META_OFFSET,
	META_KEY,
	META_KAFKA_TIMESTAMP,
	META_INGESTED_AT,
	META_HEADERS,
	META_RAW,
	META_TRACK_XID				/* a pipeline's tracking column: always its default */
} MetaKind;

/* One step of a column_map path: a member name or an array index. */
typedef struct PathStep
{
	char	   *key;			/* NULL: array index step */
	int			keylen;
	int			index;
} PathStep;

typedef struct DecodeColumn
{
	const char *name;
	Oid			typid;
	int32		typmod;
	bool		skip;			/* dropped or generated: always NULL */
	bool		is_data;		/* filled from the payload */
	ColumnKind	kind;
	MetaKind	meta;
	FmgrInfo	infunc;
	Oid			ioparam;
	ExprState  *defexpr;		/* column DEFAULT (or identity), NULL if none */
	/* array columns: JSON arrays become arrays of elem */
	struct DecodeColumn *elem;
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
	/* column_map (json): path from the top-level object */
	bool		mapped;
	int			root;			/* slot of the path's first key, -1 for "$" */
	int			npath;
	PathStep   *path;
	/* per-message scratch of the JSON decoder: where the value was found */
	const char *vstart;
	const char *vend;
} DecodeColumn;

/* merge_schema: a top-level key of the last message that matched no column */
typedef struct UnknownKey
{
	const char *name;			/* NULL: empty slot */
	int			len;
	const char *vstart;			/* its (last) value in the payload */
	const char *vend;
} UnknownKey;

/* Entry of the decoder's name lookup for top-level JSON keys. */
typedef struct KeyEntry
{
	const char *name;			/* NULL: empty bucket */
	int			len;
	int			col;			/* column filled by this key, or -1 */
	int			root;			/* column_map root slot, or -1 */
	int			unknown;		/* a key seen that matches no column: its counter, else -1 */
} KeyEntry;

struct SourceDecoder
{
	DecodeFormat format;
	int			natts;
	DecodeColumn *cols;
	MemoryContext mcxt;			/* where the decoder lives */
	bool		need_conversion;	/* server encoding is not UTF-8 */
	ExprContext *econtext;		/* evaluates column defaults */
	StringInfoData scratch;

	/* json */
	bool		merge_schema;
	int			nbuckets;		/* power of two */
	KeyEntry   *buckets;
	int			nroots;			/* distinct first keys of column_map paths */
	/* what decoding ignored; see decoder_counts_reset() in decode.h */
	bool		unknown_dead;	/* on_unknown_key = dead_letter */
	bool		missing_dead;	/* on_missing_column = dead_letter */
	int64	   *counts;			/* per column, DECODE_MAX_UNKNOWN keys, the rest, decoded */
	const char **unknown_names; /* DECODE_MAX_UNKNOWN entries */
	int			nunknown_names;
	const char **root_start;	/* per message: value of each root key */
	const char **root_end;
	/* merge_schema: unknown keys of the last decoded message, for inference */
	MemoryContext unknown_cxt;
	UnknownKey *unknown;		/* UNKNOWN_SLOTS entries */
	int			nunknown;
	const char *unknown_payload;	/* the message they belong to */
	size_t		unknown_len;
	int64		unknown_offset;
	int32		unknown_partition;

	/* csv */
	char		delimiter;
	char		quote;
	bool		header;
	char	   *null_string;	/* NULL: unquoted empty field is NULL */
	int			nfields;		/* without header: fields per record */
	int		   *field_cols;		/* without header: column of each field */

	/* text, bytes */
	int			payload_col;
};

/* isdigit() without the locale table lookup */
#define IS_DIGIT(c) ((unsigned char) ((c) - '0') < 10)

/*
 * s (len bytes, not NUL-terminated) if it is an integer of 1 to 18 digits
 * with an optional minus sign, so that it cannot overflow; else false and
 * the caller uses the type's input function.
 */
static inline bool
small_integer(const char *s, int len, int64 *out)
{
	const char *p = s;
	const char *end = s + len;
	bool		neg = false;
	int64		v = 0;

	if (p < end && *p == '-')
	{
		neg = true;
		p++;
	}
	if (p >= end || end - p > 18)
		return false;
	for (; p < end; p++)
	{
		if (!IS_DIGIT(*p))
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return true;
}

/*
 * s as a double, when that can be done exactly without strtod(): a decimal
 * mantissa below 2^53 scaled by at most 10^22 is one correctly rounded IEEE
 * operation on exact operands (Clinger's fast path), so the result is the
 * double float8in() gives.  Anything else, including every form float8in
 * accepts but this does not (signs, spaces, NaN, Infinity), returns false.
 */
static inline bool
fast_float8(const char *s, int len, double *out)
{
	static const double pow10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
	};
	const char *p = s;
	const char *end = s + len;
	bool		neg = false;
	uint64		m = 0;
	int			digits = 0;
	int			scale = 0;
	int			exp = 0;
	double		d;

	if (p < end && *p == '-')
	{
		neg = true;
		p++;
	}
	for (; p < end && IS_DIGIT(*p); p++)
	{
		if (++digits > 18)
			return false;
		m = m * 10 + (*p - '0');
	}
	if (p < end && *p == '.')
	{
		for (p++; p < end && IS_DIGIT(*p); p++)
		{
			if (++digits > 18)
				return false;
			m = m * 10 + (*p - '0');
			scale--;
		}
	}
	if (digits == 0)
		return false;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		bool		eneg = false;
		int			edigits = 0;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = (*p++ == '-');
		for (; p < end && IS_DIGIT(*p); p++, edigits++)
		{
			exp = exp * 10 + (*p - '0');
			if (exp > 400)
				return false;
		}
		if (edigits == 0)
			return false;
		if (eneg)
			exp = -exp;
	}
	if (p != end)
		return false;
	scale += exp;
	if (m > (UINT64CONST(1) << 53) || scale < -22 || scale > 22)
		return false;
	d = (double) m;
	d = scale < 0 ? d / pow10[-scale] : d * pow10[scale];
	*out = neg ? -d : d;
	return true;
}

/* SourceDecoder.counts: the counter of unknown key i, of the rest, of decoded messages */
#define COUNT_UNKNOWN(dec, i) ((dec)->natts + (i))
#define COUNT_MORE_UNKNOWN(dec) ((dec)->natts + DECODE_MAX_UNKNOWN)
#define COUNT_DECODED(dec) ((dec)->natts + DECODE_MAX_UNKNOWN + 1)
#define COUNTS_SIZE(dec) ((dec)->natts + DECODE_MAX_UNKNOWN + 2)

/* slots of SourceDecoder.unknown: room for a table's worth of new columns */
#define UNKNOWN_SLOTS 4096

/* decode.c */
extern int	decoder_lookup_column(SourceDecoder *dec, const char *name, int len);

/* decode_options.c */
extern void decoder_check_format_options(DecodeFormat format, const char *formatname,
										 Jsonb *options);
extern void decoder_apply_options(SourceDecoder *dec, Jsonb *options);

/* decode_input.c */
extern char *decoder_server_string(SourceDecoder *dec, const char *s, int len);
extern Datum decoder_text_datum(SourceDecoder *dec, const char *s, int len);
extern Datum decoder_input(SourceDecoder *dec, DecodeColumn *col, const char *s, int len);
extern void decoder_fill_default(SourceDecoder *dec, int attno, Datum *values, bool *isnull);
extern int	utf8_invalid_at(const char *s, size_t len);
extern bool fast_timestamptz(const char *s, int len, TimestampTz *result);

/* decode_json.c */
extern void json_decoder_prepare(SourceDecoder *dec, Jsonb *column_map);
extern bool json_decode(SourceDecoder *dec, const IngestMessage *msg,
						Datum *values, bool *isnull, char **error,
						List **unknown_keys);
extern const char *json_infer_type(SourceDecoder *dec, const IngestMessage *msg,
								   const char *key);

/* decode_csv.c */
extern bool csv_decode(SourceDecoder *dec, const IngestMessage *msg,
					   Datum *values, bool *isnull, char **error);

/* decode_text.c */
extern bool text_decode(SourceDecoder *dec, const IngestMessage *msg,
						Datum *values, bool *isnull, char **error);

/* metadata.c */
extern MetaKind metadata_kind(const char *colname);
extern bool metadata_fill(SourceDecoder *dec, const IngestMessage *msg,
						  Datum *values, bool *isnull, char **error);

#endif							/* STREAMEXT_INGEST_DECODE_INTERNAL_H */
