/*
 * decode_json.c
 *		Format json: a JSON object per message, top-level keys into columns
 *		by name, column_map paths into any column, without building jsonb.
 *
 * Decoding is two passes over the payload.  The first validates the whole
 * message (grammar, UTF-8, escapes, nesting; decode_json_scan.c) and only
 * remembers where the value of each interesting key is (the key table of
 * decode_json_map.c); keys appearing twice simply overwrite, so the last one
 * wins as in jsonb.  The second converts the remembered values
 * (decode_json_convert.c), so a message that is not valid JSON never
 * reaches a column's input function, and scalars go straight into their
 * column types.  Keys that match no column are counted here, and for
 * merge_schema remembered with their values.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "ingest/decode_json_internal.h"

static KeyEntry *
lookup_key(SourceDecoder *dec, const char *s, int len)
{
	uint32		i = json_hash_key(s, len) & (dec->nbuckets - 1);

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
	for (i = json_hash_key(key, len) & (UNKNOWN_SLOTS - 1);
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
		e = json_insert_key(dec, key, len);
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

	json_skip_ws(&jp);
	if (jp.p >= jp.end)
	{
		*error = pstrdup("message payload is only whitespace, but format json needs a JSON object");
		return false;
	}
	if (*jp.p != '{')
	{
		if (!json_skip_value(&jp, &t))
		{
			*error = jp.error;
			return false;
		}
		*error = psprintf("JSON message is %s, not an object", json_type_name(t));
		return false;
	}
	jp.depth = 1;
	jp.p++;
	json_skip_ws(&jp);
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
				json_parse_fail(&jp, jp.p, "expected a string as object key");
				*error = jp.error;
				return false;
			}
			ks = jp.p + 1;
			if (!json_scan_string(&jp, &esc))
			{
				*error = jp.error;
				return false;
			}
			ke = jp.p - 1;
			if (esc)
			{
				if (!json_unescape(ks, (int) (ke - ks), &dec->scratch))
				{
					*error = psprintf("invalid JSON at byte %d: object key contains \\u0000",
									  (int) (ks - jp.start));
					return false;
				}
				ks = dec->scratch.data;
				ke = ks + dec->scratch.len;
			}
			json_skip_ws(&jp);
			if (jp.p >= jp.end || *jp.p != ':')
			{
				json_parse_fail(&jp, jp.p, "expected ':' after object key");
				*error = jp.error;
				return false;
			}
			jp.p++;
			json_skip_ws(&jp);

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
			if (!json_skip_value(&jp, &t))
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
			json_skip_ws(&jp);
			if (jp.p < jp.end && *jp.p == ',')
			{
				jp.p++;
				json_skip_ws(&jp);
				continue;
			}
			if (jp.p < jp.end && *jp.p == '}')
			{
				jp.p++;
				break;
			}
			json_parse_fail(&jp, jp.p, "expected ',' or '}' after object member");
			*error = jp.error;
			return false;
		}
	}
	json_skip_ws(&jp);
	if (jp.p < jp.end)
	{
		json_parse_fail(&jp, jp.p, "unexpected data after the JSON object");
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
					if (!json_nav_step(dec, &col->path[s], &v, &vend))
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
		if (!json_convert_value(dec, col, v, vend, &values[i], &isnull[i], error))
		{
			*error = psprintf("column \"%s\": %s", col->name, *error);
			return false;
		}
	}
	return true;
}

const char *
json_infer_type(SourceDecoder *dec, const IngestMessage *msg, const char *key)
{
	const char *v = NULL;
	const char *vend = NULL;
	char	   *error;

	if (payload_problem(msg, &error))
		return NULL;
	if (dec->unknown_payload != NULL && dec->unknown_payload == msg->payload &&
		dec->unknown_len == msg->payload_len && dec->unknown_offset == msg->offset &&
		dec->unknown_partition == msg->partition)
	{
		/* the message decoded last: its unknown keys' values are known */
		int			len = strlen(key);
		uint32		i;

		for (i = json_hash_key(key, len) & (UNKNOWN_SLOTS - 1);
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
	return json_value_sql_type(dec, v, vend);
}
