/*
 * decode_text.c
 *		Formats text and bytes: the whole payload into one column.
 *
 * A tombstone (no payload) becomes NULL rather than an error, so compacted
 * topics whose deletions matter can be kept in full; an empty payload is an
 * empty string or empty bytea.  The other data columns get their defaults.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/memutils.h"

#include "ingest/decode_internal.h"

bool
text_decode(SourceDecoder *dec, const IngestMessage *msg,
			Datum *values, bool *isnull, char **error)
{
	int			c = dec->payload_col;
	DecodeColumn *col = &dec->cols[c];
	int			i;

	for (i = 0; i < dec->natts; i++)
		if (i != c && dec->cols[i].is_data)
			decoder_fill_default(dec, i, values, isnull);

	if (msg->payload == NULL)
	{
		isnull[c] = true;
		return true;
	}
	if (msg->payload_len > (size_t) MaxAllocSize - VARHDRSZ)
	{
		*error = psprintf("message payload of %zu bytes is too large", msg->payload_len);
		return false;
	}
	isnull[c] = false;
	if (dec->format == DECODE_BYTES)
	{
		bytea	   *b = palloc(msg->payload_len + VARHDRSZ);

		SET_VARSIZE(b, msg->payload_len + VARHDRSZ);
		memcpy(VARDATA(b), msg->payload, msg->payload_len);
		values[c] = PointerGetDatum(b);
		return true;
	}
	i = utf8_invalid_at(msg->payload, msg->payload_len);
	if (i >= 0)
	{
		*error = psprintf("message is not valid UTF-8: invalid byte sequence at byte %d", i);
		return false;
	}
	if (col->kind == CK_TEXT)
		values[c] = decoder_text_datum(dec, msg->payload, (int) msg->payload_len);
	else
		values[c] = decoder_input(dec, col, msg->payload, (int) msg->payload_len);
	return true;
}
