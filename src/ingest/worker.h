/*
 * worker.h
 *		The interface between the three parts of a source's consumer worker:
 *		the loop that collects batches and writes them (worker.c), the
 *		librdkafka consumer with its callbacks (consumer.c) and the offset
 *		bookkeeping (offsets.c, and offsets_start.c for where partitions
 *		start).
 *
 * A worker process runs the consumer of one source, so what the parts share
 * is one process-wide struct, se_worker.
 */
#ifndef STREAMEXT_INGEST_WORKER_H
#define STREAMEXT_INGEST_WORKER_H

#include <librdkafka/rdkafka.h>

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "ingest/ingest_internal.h"

typedef struct SourceWorker
{
	IngestWorkerArgs args;		/* what the launcher started us for */
	rd_kafka_t *rk;				/* the consumer (consumer.c) */

	/* options of the source (read by worker.c) */
	int64		max_buffered_bytes;
	int			batch_max_ms;	/* longest wait for a batch to fill */
	char	   *start_from;		/* "earliest", "latest" or a timestamp */
	int64		start_from_ms;	/* start_from as a Kafka timestamp, else -1 */

	bool		broker_down;	/* librdkafka reported every broker down */

	/*
	 * An error inside a librdkafka callback, which must not unwind through
	 * librdkafka: the loop raises it after the poll.
	 */
	char	   *consumer_error;
} SourceWorker;

extern SourceWorker se_worker;

/* worker.c */
extern void worker_slot_set_error(const char *msg);
extern void worker_set_broker_down(bool down, const char *why);
extern void worker_set_broker_down_reason(const char *why);
extern void worker_set_assigned(int npartitions);
extern bool worker_has_buffered(const char *topic, int32 partition);
extern void worker_drop_buffered(const rd_kafka_topic_partition_list_t *parts);

/* consumer.c */
extern void consumer_create(const char *brokers, const char *topic, const char *group_id,
							List *kafka_props);
extern int64 consumer_batch_max_bytes(void);
extern int	consumer_wake_fd(void);
extern void consumer_drain_wakeups(void);
extern bool consumer_fetcher_behind(char **topic, int32 *partition, int64 *position);
extern void consumer_nudge_fetcher(const char *topic, int32 partition, int64 position);
extern const rd_kafka_topic_partition_list_t *consumer_assignment(void);
extern bool consumer_poll_until(rd_kafka_queue_t *q, TimestampTz deadline,
								rd_kafka_event_t **ev);
extern void consumer_close(void);
extern void consumer_brokers_up(void);

extern int	consumer_topic_partitions(const char *topic, int timeout_ms);

/* offsets.c */
typedef enum ClaimResult
{
	CLAIM_OK,					/* write the batch */
	CLAIM_STALE,				/* some partitions moved on: offsets_skip_stale() */
	CLAIM_GONE					/* the source stopped, changed or was dropped */
} ClaimResult;

extern void offsets_init(void);
extern void offsets_revoke(const rd_kafka_topic_partition_list_t *parts);
extern void offsets_commit_cb(rd_kafka_t *k, rd_kafka_resp_err_t err,
							  rd_kafka_topic_partition_list_t *offsets, void *opaque);
extern ClaimResult offsets_claim_batch(const BatchPartitions *bp);
extern void offsets_skip_stale(void);
extern void offsets_batch_written(const SinkMessage *msgs, int n, XLogRecPtr commit_lsn);
extern void offsets_commit_to_kafka(bool wait_for_flush);
extern bool offsets_commit_pending(void);
extern void offsets_commit_written(const rd_kafka_topic_partition_list_t *parts,
								   TimestampTz deadline);
extern int64 offsets_lag(void);
extern void offsets_store_skipped(void);

/* offsets.c, for offsets_start.c: rows of streamext.source_offsets */
typedef void (*OffsetRowFn) (void *arg, const char *topic, int32 partition, int64 next);

extern void offsets_visit_rows(OffsetRowFn row_fn, void *arg);

extern void offsets_upsert(rd_kafka_topic_partition_list_t *list, int xact_flags,
						   const char *sql, const char *what, OffsetRowFn row_fn, void *arg);

/* offsets_start.c */
extern void offsets_start_init(void);
extern void offsets_assign(rd_kafka_topic_partition_list_t *parts);
extern void offsets_start_forget(const rd_kafka_topic_partition_list_t *parts);
extern bool offsets_skip_before_start(rd_kafka_message_t *m);

#endif							/* STREAMEXT_INGEST_WORKER_H */
