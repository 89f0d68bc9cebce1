/*
 * ingest_internal.h
 *		What the launcher, the consumer workers and the sink share inside
 *		src/ingest/: worker slots in shared memory, GUCs, the batch interface.
 */
#ifndef STREAMEXT_INGEST_INTERNAL_H
#define STREAMEXT_INGEST_INTERNAL_H

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/jsonb.h"

#include "ingest/decode.h"
#include "common/worker_common.h"

#define INGEST_ERROR_LEN 256
#define INGEST_NAME_LEN 64

/* GUCs (streamext.database is the launcher's: common/launcher.h) */
extern int	ingest_max_source_workers;

/* What a consumer worker is told at start (bgw_extra). */
typedef struct IngestWorkerArgs
{
	Oid			dboid;
	Oid			owner;
	int64		source_id;
	int32		generation;
	int32		index;			/* 0 .. parallelism-1 */
	char		name[INGEST_NAME_LEN];
} IngestWorkerArgs;

/*
 * Decoding warnings of one worker (format json): top-level keys that matched
 * no column and columns that got NULL because the message had no key for
 * them, each with the number of messages, out of `decoded` messages.  At most
 * INGEST_MAX_WARNINGS names are kept (the first ones seen); `more` counts
 * the messages of names beyond that.  Plus the messages and dead letters of
 * the recent past, for the dead-letter rate.
 */
#define INGEST_MAX_WARNINGS 32

typedef struct IngestWarning
{
	int32		kind;			/* DECODE_WARN_UNKNOWN_KEY or DECODE_WARN_MISSING_COLUMN */
	char		name[NAMEDATALEN];
	uint64		messages;
} IngestWarning;

/* the dead-letter rate is that of the messages of the last one or two windows with messages */
#define INGEST_RATE_WINDOW_MS 30000

typedef struct IngestDecodeStats
{
	TimestampTz window_start;	/* of the current window */
	uint64		window_messages;
	uint64		window_dead;
	uint64		prev_messages;	/* the last window with messages before it */
	uint64		prev_dead;
	uint64		decoded;		/* messages that were valid JSON objects */
	uint64		more_unknown_keys;	/* names beyond INGEST_MAX_WARNINGS */
	int32		nwarnings;
	IngestWarning warnings[INGEST_MAX_WARNINGS];
} IngestDecodeStats;

/*
 * One running consumer worker.  The worker writes its statistics after
 * every batch; the status view reads them.  Protected by IngestShared->lock.
 */
typedef struct IngestWorkerSlot
{
	bool		in_use;
	pid_t		pid;
	int64		source_id;
	int32		index;
	uint64		messages;
	uint64		rows;
	uint64		dead_letters;
	uint64		bytes;
	int64		lag;			/* -1: unknown */
	TimestampTz last_batch_at;
	bool		broker_down;
	int32		assigned;		/* partitions the consumer holds */
	char		last_error[INGEST_ERROR_LEN];
	char		retention_wait[INGEST_ERROR_LEN];	/* time_partition: a partition kept for a pipeline */

	/* what new users trip over (issue 10): filled by sink_publish_stats() */
	IngestDecodeStats decode;
	int32		topic_partitions;	/* worker 0: partitions of the topics, 0 if unknown */
} IngestWorkerSlot;

typedef struct IngestShared
{
	LWLock	   *lock;
	int			nslots;
	IngestWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} IngestShared;

extern IngestShared *ingest_shared;

/* lock_guard.c: no LOCK of the extension's tables above ROW EXCLUSIVE by non-owners */
extern void ingest_lock_guard_init(void);

/*
 * The launcher's last decision per running source (what it wanted to run,
 * what it could), for source_status.  Written by the launcher, read by
 * status.c; protected by IngestShared->lock.
 */
#define INGEST_SCHED_MAX_SOURCES 1024

typedef enum IngestSchedReason
{
	INGEST_SCHED_OK = 0,
	INGEST_SCHED_NO_SLOT,		/* streamext.max_source_workers are all taken */
	INGEST_SCHED_NO_BGWORKER	/* max_worker_processes: registration failed */
} IngestSchedReason;

typedef struct IngestSchedEntry
{
	int64		source_id;
	Oid			owner;
	int32		asked;			/* parallelism, or the automatic choice */
	bool		automatic;		/* no parallelism option: chosen by the launcher */
	int32		wanted;			/* asked, within streamext.max_workers_per_source */
	int32		allotted;		/* wanted, within the fair share of the slots */
	int32		reason;			/* IngestSchedReason */
} IngestSchedEntry;

typedef struct IngestSched
{
	int			nsources;
	int			capacity;		/* streamext.max_source_workers */
	int			in_use;			/* workers the launcher runs */
	IngestSchedEntry entries[INGEST_SCHED_MAX_SOURCES];
} IngestSched;

extern IngestSched *ingest_sched;
extern int	ingest_max_workers_per_source;

/* worker.c */
extern PGDLLEXPORT void ingest_worker_main(Datum arg);

/* One message of a batch as the sink sees it (copied out of librdkafka). */
typedef struct SinkMessage
{
	IngestMessage msg;
	void	   *rkmessage;		/* rd_kafka_message_t *, owned by the worker */
} SinkMessage;

/* Result of writing one batch. */
typedef struct SinkResult
{
	int64		rows;
	int64		dead_letters;
} SinkResult;

/*
 * The partitions of a batch, as arrays for SQL: per topic and partition the
 * lowest offset in the batch and the offset after its highest.
 */
typedef struct BatchPartitions
{
	int			n;
	Datum		topics;			/* text[] */
	Datum		partitions;		/* int4[] */
	Datum		firsts;			/* int8[] */
	Datum		nexts;			/* int8[] */
} BatchPartitions;

typedef struct SinkState SinkState;

/* sink.c and its parts (sink_internal.h says which does what) */
extern SinkState *sink_create(const char *source_name, Oid target, const char *format,
							  Jsonb *options, MemoryContext cxt);
extern void sink_batch_partitions(SinkMessage *msgs, int n, BatchPartitions *bp);
extern void sink_write_batch(SinkState *ss, SinkMessage *msgs, int n,
							 const BatchPartitions *bp, SinkResult *result);
extern bool sink_schema_pending(SinkState *ss);
extern void sink_apply_schema(SinkState *ss);
extern void sink_maintain(SinkState *ss);
extern const char *sink_retention_wait(SinkState *ss);
extern void sink_publish_stats(SinkState *ss, IngestDecodeStats *out);

#endif							/* STREAMEXT_INGEST_INTERNAL_H */
