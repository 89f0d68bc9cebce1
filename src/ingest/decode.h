/*
 * decode.h
 *		Turning one Kafka message into one row of a source's target table.
 *
 * The consumer worker (worker.c, sink.c) builds a SourceDecoder once per target
 * relation (and again after the target's shape changes), then calls
 * decoder_decode() for every message of a batch.  The decoder knows the
 * message format (json, csv, text, bytes), the column_map, and which metadata
 * columns (_topic, _partition, _offset, _key, _kafka_timestamp, _ingested_at,
 * _headers, _raw) the target has.
 */
#ifndef STREAMEXT_INGEST_DECODE_H
#define STREAMEXT_INGEST_DECODE_H

#include "access/tupdesc.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/*
 * One message as the decoder sees it; pointers stay valid during the call.
 * topic NULL means "not from Kafka" (streamext.decode_message()): _topic,
 * _partition, _offset, _kafka_timestamp, _ingested_at and _headers then get
 * their column DEFAULT, else NULL.
 */
typedef struct IngestMessage
{
	const char *topic;
	int32		partition;
	int64		offset;
	const char *key;			/* NULL: the message has no key */
	size_t		key_len;
	const char *payload;		/* NULL: tombstone (null payload) */
	size_t		payload_len;
	bool		has_timestamp;
	TimestampTz timestamp;		/* Kafka message timestamp */
	int			nheaders;
	const char **header_names;
	const char **header_values; /* an entry may be NULL */
	const size_t *header_lens;
} IngestMessage;

typedef struct SourceDecoder SourceDecoder;

/*
 * Build a decoder for rows of tupdesc.  format is json, csv, text or bytes;
 * options is the source's options jsonb (column_map, delimiter, quote, header,
 * merge_schema).  Raises ERROR (ERRCODE_INVALID_PARAMETER_VALUE) for a format
 * or options that cannot work with this target, e.g. text into a table with
 * no text column.  Everything it allocates lives in the current memory context.
 */
extern SourceDecoder *decoder_create(TupleDesc tupdesc, const char *format, Jsonb *options);

/*
 * Decode msg into values/isnull (tupdesc->natts entries).  Every column is
 * set: from the message, else (a missing key, a column the csv record does
 * not name, the other columns of text/bytes) the column's DEFAULT or identity
 * value, evaluated per call, else NULL.  Dropped and generated columns are
 * NULL (a stored generated column is computed by whoever inserts the row).
 * Memory is allocated in the current memory context.  Returns false and
 * sets *error (palloc'd, human-readable: what and where, e.g.
 * "invalid JSON at byte 17: expected ':'") for a message that cannot become
 * a row.  Values a column's input function rejects raise the usual ERROR;
 * the caller isolates such messages (subtransaction) and dead-letters them.
 * With merge_schema, top-level JSON keys that match no column are appended
 * to *unknown_keys (a List of palloc'd key names) if unknown_keys != NULL,
 * and the message still decodes (the caller adds the columns and retries
 * with a new decoder, since a decoder knows only the columns it was built
 * for).  Keys that cannot become a column are not reported: empty ones,
 * ones of NAMEDATALEN bytes or more, and metadata column names.
 */
extern bool decoder_decode(SourceDecoder *dec, const IngestMessage *msg,
						   Datum *values, bool *isnull, char **error,
						   List **unknown_keys);

/*
 * What decoding ignored (format json), counted in messages since
 * decoder_counts_reset(): per top-level key that matched no column (the
 * first DECODE_MAX_UNKNOWN names, then one count for the rest) and per
 * column without DEFAULT that no key (or column_map path) filled, so it got
 * NULL; plus the messages that were valid JSON objects.  Counting costs an
 * increment per such key or column; nothing for keys that match.  The
 * options on_unknown_key and on_missing_column ("ignore" or "dead_letter")
 * make such a message fail to decode instead, with an error naming the key
 * or column; it is counted either way.
 *
 * decoder_counts_save()/decoder_counts_restore() take and put back a copy
 * (decoder_counts_size() int64s) so that a caller decoding messages again
 * after a rollback (sink.c's halving retries) counts each message once.
 */
#define DECODE_MAX_UNKNOWN 32
#define DECODE_WARN_UNKNOWN_KEY 1
#define DECODE_WARN_MISSING_COLUMN 2

typedef void (*DecoderWarningVisitor) (void *arg, int kind, const char *name, int64 messages);

extern void decoder_counts_reset(SourceDecoder *dec);
extern int	decoder_counts_size(SourceDecoder *dec);
extern void decoder_counts_save(SourceDecoder *dec, int64 *buf);
extern void decoder_counts_restore(SourceDecoder *dec, const int64 *buf);

/*
 * Visit every warning with a count above zero (name NULL: unknown keys
 * beyond the first DECODE_MAX_UNKNOWN names); returns the number of
 * messages decoded.
 */
extern int64 decoder_counts_visit(SourceDecoder *dec, DecoderWarningVisitor visit, void *arg);

/*
 * For merge_schema: the SQL type to give a new column, inferred from the
 * JSON value of key in msg's payload (bigint, double precision, boolean,
 * timestamptz for ISO-8601 strings, text, jsonb for objects and arrays;
 * numeric for integers beyond bigint, text for null).  NULL if the message is
 * not a JSON object, has no such key, or the format is not json.  For the
 * message decoder_decode() saw last (same payload pointer, length, partition
 * and offset) with unknown_keys, this costs no parsing; otherwise it parses
 * the message again.
 */
extern const char *decoder_infer_type(SourceDecoder *dec, const IngestMessage *msg,
									  const char *key);

#endif							/* STREAMEXT_INGEST_DECODE_H */
