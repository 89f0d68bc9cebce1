/*
 * decode_internal.h
 *		What the decoder files (decode.c, decode_json.c, decode_csv.c,
 *		decode_text.c, metadata.c) share; nothing outside them includes it.
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
	META_RAW
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

/* slots of SourceDecoder.unknown: room for a table's worth of new columns */
#define UNKNOWN_SLOTS 4096

/* decode.c */
extern int	decoder_lookup_column(SourceDecoder *dec, const char *name, int len);
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
