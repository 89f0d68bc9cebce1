/*
 * sink_bookkeeping.c
 *		The extension's own rows that commit with every batch: the messages
 *		that cannot become rows, in streamext.dead_letters, and per topic and
 *		partition the offset after the batch, in streamext.source_offsets.
 *
 * They are written through SPI under the pinned search_path, in the batch's
 * transaction, so rows, dead letters and offsets commit or vanish together.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "ingest/sink_internal.h"

/* A message that goes to the dead letters, and why. */
typedef struct DeadLetter
{
	int			index;
	char	   *error;
} DeadLetter;

/* Note msgs[index] of the batch as a dead letter; error is palloc'd. */
void
sink_add_dead_letter(List **dead, int index, char *error)
{
	DeadLetter *dl = palloc(sizeof(DeadLetter));

	dl->index = index;
	dl->error = error;
	*dead = lappend(*dead, dl);
}

static Datum
bytes_datum(const char *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	if (len)
		memcpy(VARDATA(b), data, len);
	return PointerGetDatum(b);
}

/* Insert the dead letters; they commit with the batch. */
void
sink_write_dead_letters(SinkState *ss, SinkMessage *msgs, List *dead)
{
	ListCell   *lc;

	if (ss->dead_plan == NULL)
	{
		Oid			types[7] = {TEXTOID, TEXTOID, INT4OID, INT8OID, BYTEAOID, BYTEAOID, TEXTOID};

		ss->dead_plan = SPI_prepare("INSERT INTO streamext.dead_letters "
									"(source, topic, partition, \"offset\", key, payload, error) "
									"VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, types);
		if (ss->dead_plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot prepare dead letter insert: %s", SPI_result_code_string(SPI_result))));
		SPI_keepplan(ss->dead_plan);
	}
	foreach(lc, dead)
	{
		DeadLetter *dl = lfirst(lc);
		const IngestMessage *m = &msgs[dl->index].msg;
		Datum		values[7];
		char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
		int			ret;
		char	   *err = dl->error;

		/* The error text must be storable even when it quotes invalid bytes. */
		if (pg_verifymbstr(err, strlen(err), true) == false)
			err = "message cannot be decoded (the error text is not valid in the database encoding)";
		values[0] = CStringGetTextDatum(ss->source_name);
		values[1] = CStringGetTextDatum(m->topic);
		values[2] = Int32GetDatum(m->partition);
		values[3] = Int64GetDatum(m->offset);
		if (m->key)
			values[4] = bytes_datum(m->key, m->key_len);
		else
			nulls[4] = 'n';
		if (m->payload)
			values[5] = bytes_datum(m->payload, m->payload_len);
		else
			nulls[5] = 'n';
		values[6] = CStringGetTextDatum(err);
		ret = SPI_execute_plan(ss->dead_plan, values, nulls, false, 0);
		if (ret != SPI_OK_INSERT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot insert dead letter: %s", SPI_result_code_string(ret))));
	}
}

/* Summarize the batch per topic and partition; see BatchPartitions. */
void
sink_batch_partitions(SinkMessage *msgs, int n, BatchPartitions *bp)
{
	Datum	   *topics = palloc(sizeof(Datum) * n);
	const char **names = palloc(sizeof(char *) * n);
	Datum	   *parts = palloc(sizeof(Datum) * n);
	Datum	   *firsts = palloc(sizeof(Datum) * n);
	Datum	   *nexts = palloc(sizeof(Datum) * n);
	int			nparts = 0;
	int			i,
				j = -1;

	for (i = 0; i < n; i++)
	{
		const IngestMessage *m = &msgs[i].msg;

		CHECK_FOR_INTERRUPTS();
		/* Messages come in runs per partition: try the last one first. */
		if (j < 0 || DatumGetInt32(parts[j]) != m->partition || strcmp(names[j], m->topic) != 0)
		{
			for (j = 0; j < nparts; j++)
			{
				if (DatumGetInt32(parts[j]) == m->partition && strcmp(names[j], m->topic) == 0)
					break;
			}
		}
		if (j == nparts)
		{
			names[j] = m->topic;
			topics[j] = CStringGetTextDatum(m->topic);
			parts[j] = Int32GetDatum(m->partition);
			firsts[j] = Int64GetDatum(m->offset);
			nexts[j] = Int64GetDatum(m->offset + 1);
			nparts++;
			continue;
		}
		if (DatumGetInt64(firsts[j]) > m->offset)
			firsts[j] = Int64GetDatum(m->offset);
		if (DatumGetInt64(nexts[j]) < m->offset + 1)
			nexts[j] = Int64GetDatum(m->offset + 1);
	}
	bp->n = nparts;
	bp->topics = PointerGetDatum(construct_array(topics, nparts, TEXTOID, -1, false, TYPALIGN_INT));
	bp->partitions = PointerGetDatum(construct_array(parts, nparts, INT4OID, 4, true, TYPALIGN_INT));
	bp->firsts = PointerGetDatum(construct_array(firsts, nparts, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	bp->nexts = PointerGetDatum(construct_array(nexts, nparts, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Upsert, per topic and partition of the batch, the offset after its last message. */
void
sink_write_offsets(SinkState *ss, const BatchPartitions *bp)
{
	Datum		values[4];
	int			ret;

	if (ss->offsets_plan == NULL)
	{
		Oid			types[4] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID};

		ss->offsets_plan = SPI_prepare("INSERT INTO streamext.source_offsets AS o "
									   "(source, topic, partition, next_offset, updated_at) "
									   "SELECT $1, t, p, n, now() FROM unnest($2, $3, $4) AS u(t, p, n) "
									   "ON CONFLICT (source, topic, partition) DO UPDATE "
									   "SET next_offset = excluded.next_offset, updated_at = excluded.updated_at",
									   4, types);
		if (ss->offsets_plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot prepare offsets upsert: %s", SPI_result_code_string(SPI_result))));
		SPI_keepplan(ss->offsets_plan);
	}
	values[0] = CStringGetTextDatum(ss->source_name);
	values[1] = bp->topics;
	values[2] = bp->partitions;
	values[3] = bp->nexts;
	ret = SPI_execute_plan(ss->offsets_plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("cannot store offsets: %s", SPI_result_code_string(ret))));
}
