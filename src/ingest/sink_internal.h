/*
 * sink_internal.h
 *		What the files of the sink share; nothing outside them includes it.
 *
 *		sink.c				one batch: its subtransaction, the halving retries,
 *							the decoding statistics it leaves
 *		sink_insert.c		rows into the target through the executor, as COPY does
 *		sink_schema.c		the target's shape: merge_schema's new columns,
 *							time_partition's partitions
 *		sink_bookkeeping.c	the extension's rows written with a batch: dead
 *							letters and the source's next offsets
 */
#ifndef STREAMEXT_INGEST_SINK_INTERNAL_H
#define STREAMEXT_INGEST_SINK_INTERNAL_H

#include "executor/spi.h"

#include "ingest/ingest_internal.h"
#include "ingest/time_partition.h"

struct SinkState
{
	char	   *source_name;
	Oid			target;
	char	   *format;
	Jsonb	   *options;
	MemoryContext cxt;			/* lives as long as the worker */
	MemoryContext dec_cxt;		/* the decoder; rebuilt when the target changes */
	SourceDecoder *dec;
	TupleDesc	dec_desc;		/* the tuple descriptor the decoder was built for */
	SPIPlanPtr	offsets_plan;
	SPIPlanPtr	dead_plan;
	bool		merge_schema;
	List	   *new_columns;	/* merge_schema: NewColumn to add before a retry */
	List	   *refused_columns;	/* merge_schema: names that could not be added */
	TimePartition *tp;			/* time_partition, or NULL */
	/* decoding warnings and dead-letter rate: published, and of the batch being written */
	IngestDecodeStats stats;
	IngestDecodeStats staged;
	bool		staged_valid;
};

/* sink_insert.c */
extern int64 sink_insert_rows(SinkState *ss, SinkMessage *msgs, int lo, int hi, List **dead);

/* sink_schema.c */
extern void sink_remember_new_columns(SinkState *ss, const IngestMessage *msg, List *keys);

/* sink_bookkeeping.c */
extern void sink_add_dead_letter(List **dead, int index, char *error);
extern void sink_write_dead_letters(SinkState *ss, SinkMessage *msgs, List *dead);
extern void sink_write_offsets(SinkState *ss, const BatchPartitions *bp);

#endif							/* STREAMEXT_INGEST_SINK_INTERNAL_H */
