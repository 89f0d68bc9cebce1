/*
 * worker.c
 *		A source's consumer worker: a librdkafka high-level consumer that
 *		collects messages into batches and hands each batch to the sink in one
 *		transaction.
 *
 * Exactly once: the offsets a worker starts from come from
 * streamext.source_offsets (written with the rows), read when the consumer
 * group assigns partitions; Kafka's committed offsets are only a fallback for
 * partitions another server has advanced, and are written after the WAL of the
 * PostgreSQL commit is flushed.  Messages buffered for partitions that are
 * revoked are dropped: whoever gets the partition rereads them from the
 * stored offsets.
 *
 * The worker waits on its latch and on a pipe that librdkafka writes to when
 * the consumer queue becomes non-empty, so it reacts at once to messages,
 * SIGTERM (pause/drop of the source) and postmaster death.
 */
#include "postgres.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "access/relation.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ingest/ingest_internal.h"

/* This worker's state. */
static IngestWorkerArgs wargs;
static rd_kafka_t *rk = NULL;
static rd_kafka_queue_t *consumer_queue = NULL;
static int	wake_pipe[2] = {-1, -1};
static IngestWorkerSlot *myslot = NULL;
static SinkState *sink = NULL;
static MemoryContext worker_cxt;

/* options */
static int	batch_max_messages = 10000;
static int	batch_max_ms = 500;
static int64 max_buffered_bytes = 32 * 1024 * 1024;
static char *start_from = "earliest";
static int64 start_from_ms = -1;

/* the batch being collected */
static rd_kafka_message_t **buf = NULL;
static int	nbuf = 0;
static int64 buf_bytes = 0;
static TimestampTz batch_started = 0;

/* How long to wait for a fetch while Kafka has messages for us, before nudging the fetcher. */
#define FETCH_NUDGE_MS 20

/* offsets committed in PostgreSQL, waiting for their WAL flush before Kafka hears of them */
static rd_kafka_topic_partition_list_t *pending_commit = NULL;
static XLogRecPtr pending_lsn = InvalidXLogRecPtr;

/* the next offset written, per partition; for the lag */
static rd_kafka_topic_partition_list_t *written = NULL;

/*
 * Partitions that start at start_from's timestamp but for which the broker
 * could not say where that is (offsets_for_times gave no offset): they are
 * read from the beginning and messages older than the timestamp are skipped
 * until the first one at or after it.
 */
static rd_kafka_topic_partition_list_t *time_filter = NULL;

static char *rebalance_error = NULL;
static bool broker_down = false;
static TimestampTz last_health_check = 0;

static void
slot_set_error(const char *msg)
{
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	if (msg)
		strlcpy(myslot->last_error, msg, INGEST_ERROR_LEN);
	else
		myslot->last_error[0] = '\0';
	LWLockRelease(ingest_shared->lock);
}

static void
set_broker_down(bool down, const char *why)
{
	if (down == broker_down)
		return;
	broker_down = down;
	if (down)
		ereport(LOG,
				(errmsg("source \"%s\": cannot reach the Kafka brokers: %s; retrying",
						wargs.name, why)));
	else
		ereport(LOG, (errmsg("source \"%s\": Kafka brokers reachable again", wargs.name)));
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	myslot->broker_down = down;
	if (down)
		snprintf(myslot->last_error, INGEST_ERROR_LEN, "brokers down: %s", why);
	else
		myslot->last_error[0] = '\0';
	LWLockRelease(ingest_shared->lock);
}

static void
worker_shmem_exit(int code, Datum arg)
{
	if (myslot == NULL)
		return;
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	/* a successor may have taken the slot over */
	if (myslot->pid == MyProcPid)
		memset(myslot, 0, sizeof(IngestWorkerSlot));
	LWLockRelease(ingest_shared->lock);
	myslot = NULL;
}

static void
claim_slot(void)
{
	int			i;

	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < ingest_shared->nslots; i++)
	{
		IngestWorkerSlot *s = &ingest_shared->slots[i];

		/* A slot whose process died without cleanup (crash) is reused too. */
		if (!s->in_use ||
			(s->source_id == wargs.source_id && s->index == wargs.index &&
			 (s->pid == 0 || BackendPidGetProc(s->pid) == NULL)))
		{
			memset(s, 0, sizeof(IngestWorkerSlot));
			s->in_use = true;
			s->pid = MyProcPid;
			s->source_id = wargs.source_id;
			s->index = wargs.index;
			s->lag = -1;
			myslot = s;
			break;
		}
	}
	LWLockRelease(ingest_shared->lock);
	if (myslot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many streamext source workers"),
				 errhint("Raise streamext.max_source_workers.")));
	before_shmem_exit(worker_shmem_exit, 0);
}

/* Put the source into the error state, for the user to see and fix. */
static void
set_error_state(const char *msg)
{
	Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];

	ereport(LOG, (errmsg("source \"%s\" stopped: %s", wargs.name, msg)));
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	values[0] = Int64GetDatum(wargs.source_id);
	values[1] = CStringGetTextDatum(msg);
	values[2] = Int32GetDatum(wargs.generation);
	SPI_execute_with_args("UPDATE streamext.sources SET state = 'error', last_error = $2 "
						  "WHERE id = $1 AND generation = $3 AND state = 'running'",
						  3, types, values, NULL, false, 0);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * Read this source's configuration.  Returns false when the source is gone,
 * not running, or changed since the launcher started this worker.
 */
static bool
load_source(char **brokers, char **topic, Oid *target, char **format, Jsonb **options,
			char **group_id, List **kafka_props)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		ok = false;
	int			ret;
	MemoryContext outer = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "reading the source");
	values[0] = Int64GetDatum(wargs.source_id);
	ret = SPI_execute_with_args("SELECT brokers, topic, target::oid, format, options, generation, state, "
								" coalesce(options->>'group_id', 'streamext-' || name), "
								" coalesce((options->>'batch_max_messages')::int, 10000), "
								" coalesce((options->>'batch_max_ms')::int, 500), "
								" coalesce((options->>'max_buffered_bytes')::bigint, 33554432), "
								" coalesce(options->>'start_from', 'earliest'), "
								" CASE WHEN coalesce(options->>'start_from', 'earliest') NOT IN ('earliest', 'latest') "
								"  THEN (extract(epoch FROM (options->>'start_from')::timestamptz) * 1000)::bigint END "
								"FROM streamext.sources WHERE id = $1",
								1, types, values, NULL, true, 1);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		int32		generation = DatumGetInt32(SPI_getbinval(tup, td, 6, &isnull));
		char	   *state = SPI_getvalue(tup, td, 7);

		if (generation == wargs.generation && strcmp(state, "running") == 0)
		{
			MemoryContext old = MemoryContextSwitchTo(outer);
			Datum		d;

			*brokers = SPI_getvalue(tup, td, 1);
			*topic = SPI_getvalue(tup, td, 2);
			*target = DatumGetObjectId(SPI_getbinval(tup, td, 3, &isnull));
			*format = SPI_getvalue(tup, td, 4);
			d = SPI_getbinval(tup, td, 5, &isnull);
			*options = DatumGetJsonbPCopy(d);
			*group_id = SPI_getvalue(tup, td, 8);
			batch_max_messages = DatumGetInt32(SPI_getbinval(tup, td, 9, &isnull));
			batch_max_ms = DatumGetInt32(SPI_getbinval(tup, td, 10, &isnull));
			max_buffered_bytes = DatumGetInt64(SPI_getbinval(tup, td, 11, &isnull));
			start_from = SPI_getvalue(tup, td, 12);
			d = SPI_getbinval(tup, td, 13, &isnull);
			start_from_ms = isnull ? -1 : DatumGetInt64(d);
			MemoryContextSwitchTo(old);
			ok = true;
		}
	}
	if (ok)
	{
		uint64		i;

		ret = SPI_execute_with_args("SELECT key, value #>> '{}' FROM streamext.sources, "
									"jsonb_each(options->'kafka') WHERE id = $1",
									1, types, values, NULL, true, 0);
		for (i = 0; ret == SPI_OK_SELECT && i < SPI_processed; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(outer);

			*kafka_props = lappend(*kafka_props, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
			*kafka_props = lappend(*kafka_props, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

static void
free_buffer(void)
{
	int			i;

	for (i = 0; i < nbuf; i++)
		rd_kafka_message_destroy(buf[i]);
	nbuf = 0;
	buf_bytes = 0;
	batch_started = 0;
}

/* Drop buffered messages of the given partitions (they are being revoked). */
static void
drop_buffered(const rd_kafka_topic_partition_list_t *parts)
{
	int			i,
				keep = 0;

	for (i = 0; i < nbuf; i++)
	{
		rd_kafka_message_t *m = buf[i];

		if (rd_kafka_topic_partition_list_find(parts, rd_kafka_topic_name(m->rkt), m->partition))
		{
			buf_bytes -= m->len + m->key_len;
			rd_kafka_message_destroy(m);
		}
		else
			buf[keep++] = m;
	}
	nbuf = keep;
	if (nbuf == 0)
	{
		buf_bytes = 0;
		batch_started = 0;
	}
}

/* Tell Kafka the offsets whose PostgreSQL commit is durable. */
static void
commit_to_kafka(bool wait_for_flush)
{
	rd_kafka_resp_err_t err;

	if (pending_commit == NULL || pending_commit->cnt == 0)
		return;
	if (GetFlushRecPtr(NULL) < pending_lsn)
	{
		if (!wait_for_flush)
			return;
		XLogFlush(pending_lsn);
	}
	err = rd_kafka_commit(rk, pending_commit, wait_for_flush ? 0 : 1);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		ereport(DEBUG1, (errmsg("source \"%s\": committing offsets to Kafka failed: %s",
								wargs.name, rd_kafka_err2str(err))));
	rd_kafka_topic_partition_list_destroy(pending_commit);
	pending_commit = rd_kafka_topic_partition_list_new(16);
}

/*
 * Before partitions leave this worker (revoke, shutdown), tell Kafka the
 * offsets written for them, synchronously: the next owner, maybe on another
 * server, starts there.  Earlier asynchronous commits may have been refused
 * (say during a rebalance), so this uses everything written, not what is
 * pending.
 */
static void
commit_written(const rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err;
	int			i;

	if (written == NULL || written->cnt == 0)
		return;
	list = rd_kafka_topic_partition_list_new(written->cnt);
	for (i = 0; i < written->cnt; i++)
	{
		rd_kafka_topic_partition_t *w = &written->elems[i];

		if (w->offset >= 0 && (parts == NULL ||
							   rd_kafka_topic_partition_list_find(parts, w->topic, w->partition)))
			rd_kafka_topic_partition_list_add(list, w->topic, w->partition)->offset = w->offset;
	}
	if (list->cnt > 0)
	{
		if (!XLogRecPtrIsInvalid(pending_lsn) && GetFlushRecPtr(NULL) < pending_lsn)
			XLogFlush(pending_lsn);
		/* While the brokers are down a synchronous commit would block for long. */
		err = rd_kafka_commit(rk, list, broker_down ? 1 : 0);
		if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
			ereport(LOG,
					(errmsg("source \"%s\": committing offsets to Kafka failed: %s",
							wargs.name, rd_kafka_err2str(err))));
	}
	rd_kafka_topic_partition_list_destroy(list);
	if (pending_commit)
	{
		rd_kafka_topic_partition_list_destroy(pending_commit);
		pending_commit = rd_kafka_topic_partition_list_new(16);
	}
}

/*
 * Store where start_from "latest" or a timestamp put partitions that had no
 * offset yet, so that a restart (pause/resume, alter_source, a crash, a
 * rebalance) continues there instead of resolving start_from again and
 * skipping what arrived meanwhile.  A row someone stored meanwhile wins.
 */
static void
store_resolved(rd_kafka_topic_partition_list_t *parts, rd_kafka_topic_partition_list_t *resolved)
{
	Oid			types[6] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID, INT8OID, INT4OID};
	Datum		values[6];
	Datum	   *topics = palloc(sizeof(Datum) * resolved->cnt);
	Datum	   *pnums = palloc(sizeof(Datum) * resolved->cnt);
	Datum	   *offs = palloc(sizeof(Datum) * resolved->cnt);
	int			i,
				ret;
	uint64		r;

	for (i = 0; i < resolved->cnt; i++)
	{
		topics[i] = CStringGetTextDatum(resolved->elems[i].topic);
		pnums[i] = Int32GetDatum(resolved->elems[i].partition);
		offs[i] = Int64GetDatum(resolved->elems[i].offset);
	}
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	values[0] = CStringGetTextDatum(wargs.name);
	values[1] = PointerGetDatum(construct_array(topics, resolved->cnt, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(pnums, resolved->cnt, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(offs, resolved->cnt, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = Int64GetDatum(wargs.source_id);
	values[5] = Int32GetDatum(wargs.generation);
	ret = SPI_execute_with_args("INSERT INTO streamext.source_offsets AS o (source, topic, partition, next_offset) "
								"SELECT $1, t, p, n FROM unnest($2, $3, $4) AS u(t, p, n) "
								"WHERE EXISTS (SELECT 1 FROM streamext.sources "
								"  WHERE id = $5 AND generation = $6 AND state = 'running') "
								"ON CONFLICT (source, topic, partition) DO UPDATE SET next_offset = o.next_offset "
								"RETURNING topic, partition, next_offset",
								6, types, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "cannot store the start offsets: %s", SPI_result_code_string(ret));
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		rd_kafka_topic_partition_t *p;

		p = rd_kafka_topic_partition_list_find(parts, SPI_getvalue(tup, td, 1),
											   DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull)));
		if (p)
			p->offset = DatumGetInt64(SPI_getbinval(tup, td, 3, &isnull));
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* Starting offsets for newly assigned partitions: ours, else Kafka's, else start_from. */
static void
set_start_offsets(rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *committed;
	rd_kafka_topic_partition_list_t *by_time;
	rd_kafka_topic_partition_list_t *resolved = rd_kafka_topic_partition_list_new(1);
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	int			ret,
				i;
	uint64		r;

	/* Kafka's committed offsets: only other servers can be ahead of ours. */
	committed = rd_kafka_topic_partition_list_copy(parts);
	for (int attempt = 0;; attempt++)
	{
		rd_kafka_resp_err_t err = rd_kafka_committed(rk, committed, 10000);

		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			break;

		/*
		 * Without Kafka's offsets a partition coming from another server
		 * would be read again from our older stored offset: rather retry,
		 * and in the end fail the assignment (the worker restarts).
		 */
		if (attempt >= 20)
		{
			rd_kafka_topic_partition_list_destroy(committed);
			ereport(ERROR,
					(errmsg("source \"%s\": cannot read the committed offsets from Kafka: %s",
							wargs.name, rd_kafka_err2str(err))));
		}
		(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 250, PG_WAIT_EXTENSION);
	}
	for (i = 0; i < parts->cnt; i++)
	{
		parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
		if (committed->elems[i].err == 0 && committed->elems[i].offset >= 0)
			parts->elems[i].offset = committed->elems[i].offset;
	}
	rd_kafka_topic_partition_list_destroy(committed);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	values[0] = CStringGetTextDatum(wargs.name);
	ret = SPI_execute_with_args("SELECT topic, partition, next_offset FROM streamext.source_offsets "
								"WHERE source = $1", 1, types, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "cannot read streamext.source_offsets: %s", SPI_result_code_string(ret));
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *topic = SPI_getvalue(tup, td, 1);
		int32		partition = DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
		int64		next = DatumGetInt64(SPI_getbinval(tup, td, 3, &isnull));
		rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(parts, topic, partition);

		if (p && (p->offset < 0 || next > p->offset))
			p->offset = next;
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();

	by_time = rd_kafka_topic_partition_list_new(parts->cnt);
	for (i = 0; i < parts->cnt; i++)
	{
		rd_kafka_topic_partition_t *p = &parts->elems[i];

		if (p->offset >= 0)
			continue;
		if (start_from_ms >= 0)
			rd_kafka_topic_partition_list_add(by_time, p->topic, p->partition)->offset = start_from_ms;
		else if (strcmp(start_from, "latest") == 0)
		{
			int64_t		lo,
						hi;
			rd_kafka_resp_err_t err;

			/* A number, to be stored: "latest" must not move on at every assignment. */
			err = rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi, 10000);
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR && hi >= 0)
			{
				p->offset = hi;
				rd_kafka_topic_partition_list_add(resolved, p->topic, p->partition)->offset = hi;
			}
			else
			{
				ereport(LOG,
						(errmsg("source \"%s\": cannot read the end offset of partition %d of \"%s\": %s",
								wargs.name, p->partition, p->topic, rd_kafka_err2str(err))));
				p->offset = RD_KAFKA_OFFSET_END;
			}
		}
		else
			p->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	if (by_time->cnt > 0)
	{
		rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, by_time, 10000);

		if (err)
			ereport(ERROR,
					(errmsg("source \"%s\": cannot look up offsets for start_from %s: %s",
							wargs.name, start_from, rd_kafka_err2str(err))));
		for (i = 0; i < by_time->cnt; i++)
		{
			rd_kafka_topic_partition_t *q = &by_time->elems[i];
			rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(parts, q->topic, q->partition);

			if (q->err == 0 && q->offset >= 0)
			{
				p->offset = q->offset;
				rd_kafka_topic_partition_list_add(resolved, p->topic, p->partition)->offset = q->offset;
			}
			else
			{
				p->offset = RD_KAFKA_OFFSET_BEGINNING;
				if (!rd_kafka_topic_partition_list_find(time_filter, q->topic, q->partition))
					rd_kafka_topic_partition_list_add(time_filter, q->topic, q->partition);
			}
		}
	}
	rd_kafka_topic_partition_list_destroy(by_time);
	if (resolved->cnt > 0)
		store_resolved(parts, resolved);
	rd_kafka_topic_partition_list_destroy(resolved);
}

/*
 * Called by librdkafka from inside rd_kafka_consumer_poll() in this process's
 * only thread, so PostgreSQL calls are allowed; errors must not unwind
 * through librdkafka, so they are caught and re-raised after the poll.
 */
static void
rebalance_cb(rd_kafka_t *k, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	bool		cooperative = strcmp(rd_kafka_rebalance_protocol(k), "COOPERATIVE") == 0;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
	{
		MemoryContext cxt = CurrentMemoryContext;

		PG_TRY();
		{
			set_start_offsets(parts);
		}
		PG_CATCH();
		{
			ErrorData  *ed;

			MemoryContextSwitchTo(cxt);
			ed = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			if (rebalance_error == NULL)
				rebalance_error = MemoryContextStrdup(TopMemoryContext, ed->message);
			for (int i = 0; i < parts->cnt; i++)
				parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
		}
		PG_END_TRY();
		ereport(LOG, (errmsg("source \"%s\" worker %d: assigned %d partitions",
							 wargs.name, wargs.index, parts->cnt)));
		if (rebalance_error)
		{
			/* Take nothing; the worker restarts and rejoins. */
			if (!cooperative)
				rd_kafka_assign(k, NULL);
			return;
		}
		if (cooperative)
			rd_kafka_error_destroy(rd_kafka_incremental_assign(k, parts));
		else
			rd_kafka_assign(k, parts);
	}
	else
	{
		MemoryContext cxt = CurrentMemoryContext;

		/* Revoked (or an error): what we hold for them is someone else's now. */
		ereport(LOG, (errmsg("source \"%s\" worker %d: %d partitions revoked",
							 wargs.name, wargs.index, parts->cnt)));
		drop_buffered(parts);
		for (int i = 0; i < parts->cnt; i++)
			rd_kafka_topic_partition_list_del(time_filter, parts->elems[i].topic, parts->elems[i].partition);
		/* An error (say flushing WAL) must not unwind through librdkafka. */
		PG_TRY();
		{
			commit_written(parts);
		}
		PG_CATCH();
		{
			ErrorData  *ed;

			MemoryContextSwitchTo(cxt);
			ed = CopyErrorData();
			FlushErrorState();
			if (rebalance_error == NULL)
				rebalance_error = MemoryContextStrdup(TopMemoryContext, ed->message);
			FreeErrorData(ed);
		}
		PG_END_TRY();
		if (cooperative)
			rd_kafka_error_destroy(rd_kafka_incremental_unassign(k, parts));
		else
			rd_kafka_assign(k, NULL);
	}
}

/* librdkafka reports errors through here, from inside a poll call. */
static void
error_cb(rd_kafka_t *k, int err, const char *reason, void *opaque)
{
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		set_broker_down(true, reason);
	else if (err == RD_KAFKA_RESP_ERR__FATAL)
	{
		char		buf2[256];

		rd_kafka_fatal_error(k, buf2, sizeof(buf2));
		if (rebalance_error == NULL)
			rebalance_error = MemoryContextStrdup(TopMemoryContext, buf2);
	}
	else if (err != RD_KAFKA_RESP_ERR__TRANSPORT)
		slot_set_error(reason);
}

static void
kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kafka property \"%s\" of source \"%s\": %s", name, wargs.name, errstr)));
}

/*
 * Of max_buffered_bytes, the batch being built gets a quarter (1 to 16 MiB)
 * and librdkafka's prefetch queue the rest.  A full queue stops fetching
 * until librdkafka's broker thread next wakes up; fetcher_behind() and
 * nudge_fetcher() make sure a worker that drained it does not wait for that.
 */
static int64
batch_max_bytes(void)
{
	return Min(Max(1024 * 1024, max_buffered_bytes / 4), 16 * 1024 * 1024);
}

/* librdkafka refuses fetch.max.bytes below message.max.bytes: follow a raised one. */
static void
fetch_max_at_least_message_max(rd_kafka_conf_t *conf)
{
	char		val[64];
	size_t		len = sizeof(val);
	long		message_max;

	if (rd_kafka_conf_get(conf, "message.max.bytes", val, &len) != RD_KAFKA_CONF_OK)
		return;
	message_max = atol(val);
	len = sizeof(val);
	if (rd_kafka_conf_get(conf, "fetch.max.bytes", val, &len) != RD_KAFKA_CONF_OK ||
		atol(val) >= message_max)
		return;
	snprintf(val, sizeof(val), "%ld", message_max);
	kafka_conf_set(conf, "fetch.max.bytes", val);
}

static void offset_commit_cb(rd_kafka_t *k, rd_kafka_resp_err_t err,
							 rd_kafka_topic_partition_list_t *offsets, void *opaque);

static void
create_consumer(const char *brokers, const char *topic, const char *group_id, List *kafka_props)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *subs;
	char		errstr[512];
	char		num[32];
	ListCell   *lc;
	char	   *topics;
	char	   *tok;
	char	   *save;
	rd_kafka_resp_err_t err;

	kafka_conf_set(conf, "bootstrap.servers", brokers);
	kafka_conf_set(conf, "group.id", group_id);
	kafka_conf_set(conf, "client.id", psprintf("streamext-%s", wargs.name));
	kafka_conf_set(conf, "enable.auto.commit", "false");
	kafka_conf_set(conf, "enable.auto.offset.store", "false");
	kafka_conf_set(conf, "auto.offset.reset", strcmp(start_from, "latest") == 0 ? "latest" : "earliest");
	snprintf(num, sizeof(num), "%d", (int) Max(1024, (max_buffered_bytes - batch_max_bytes()) / 1024));
	kafka_conf_set(conf, "queued.max.messages.kbytes", num);

	/*
	 * The byte limit above is what bounds memory; librdkafka's default
	 * message-count floor (100,000) would stop prefetching while a batch is
	 * written and leave the worker waiting for the next fetch afterwards.
	 */
	kafka_conf_set(conf, "queued.min.messages", "10000000");

	/*
	 * Moderate fetch responses: a 2 MB response is parsed while it is still
	 * in the CPU caches and its buffer is recycled quickly; librdkafka's
	 * 50 MB default made the consumer (and the broker) spend more CPU per
	 * message than writing the rows does.  A message larger than this still
	 * comes through (brokers return at least one batch per fetch).
	 */
	kafka_conf_set(conf, "fetch.max.bytes", "2097152");
	kafka_conf_set(conf, "log.connection.close", "false");
	/* New partitions (and topics matching a ^regex) show up in metadata: look every 30 s, not 5 min. */
	kafka_conf_set(conf, "topic.metadata.refresh.interval.ms", "30000");

	/*
	 * A worker that crashed (or a server that died) stays a group member
	 * until its session times out, and the rebalance that gives its
	 * partitions to the restarted worker waits for that: keep it short.
	 */
	kafka_conf_set(conf, "session.timeout.ms", "6000");
	kafka_conf_set(conf, "heartbeat.interval.ms", "1000");
	for (lc = list_head(kafka_props); lc != NULL; lc = lnext(kafka_props, lnext(kafka_props, lc)))
		kafka_conf_set(conf, lfirst(lc), lfirst(lnext(kafka_props, lc)));
	fetch_max_at_least_message_max(conf);

	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_offset_commit_cb(conf, offset_commit_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);

	/*
	 * Each fetch response arrives in one large buffer that lives until its
	 * messages are written.  With glibc's defaults such buffers are mapped
	 * and unmapped (or the heap grown and trimmed) per fetch, and every
	 * fresh page costs a fault and zeroing: keep up to half the source's
	 * memory budget around instead (a small budget keeps glibc's thresholds
	 * small too, so the worker's memory stays bounded by it).  This process
	 * is the worker alone.
	 */
	mallopt(M_MMAP_THRESHOLD, (int) Min(max_buffered_bytes / 4, 32 * 1024 * 1024));
	mallopt(M_TRIM_THRESHOLD, (int) Min(max_buffered_bytes / 2, 1024 * 1024 * 1024));

	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot create the Kafka consumer of source \"%s\": %s", wargs.name, errstr)));
	rd_kafka_poll_set_consumer(rk);

	if (pipe(wake_pipe) != 0 ||
		fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
		fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("cannot create a pipe: %m")));
	consumer_queue = rd_kafka_queue_get_consumer(rk);
	rd_kafka_queue_io_event_enable(consumer_queue, wake_pipe[1], "1", 1);

	subs = rd_kafka_topic_partition_list_new(4);
	topics = pstrdup(topic);
	if (topics[0] == '^')
		rd_kafka_topic_partition_list_add(subs, topics, RD_KAFKA_PARTITION_UA);
	else
		for (tok = strtok_r(topics, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		{
			while (*tok == ' ')
				tok++;
			while (*tok && tok[strlen(tok) - 1] == ' ')
				tok[strlen(tok) - 1] = '\0';
			if (*tok)
				rd_kafka_topic_partition_list_add(subs, tok, RD_KAFKA_PARTITION_UA);
		}
	err = rd_kafka_subscribe(rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	if (err)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\" cannot subscribe to \"%s\": %s", wargs.name, topic,
						rd_kafka_err2str(err))));
}

static void
remember_offset(rd_kafka_topic_partition_list_t *list, const char *topic, int32 partition, int64 next)
{
	rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(list, topic, partition);

	if (p == NULL)
		p = rd_kafka_topic_partition_list_add(list, topic, partition);
	if (next > p->offset)
		p->offset = next;
}

/*
 * The outcome of a Kafka commit (served from a poll on this thread).  An
 * offset Kafka refused (a coordinator move, a rebalance) is committed again
 * later, while the partition is still ours: otherwise the next owner, on
 * another server, would start from an older offset and write messages a
 * second time.
 */
static void
offset_commit_cb(rd_kafka_t *k, rd_kafka_resp_err_t err,
				 rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	rd_kafka_topic_partition_list_t *assigned = NULL;
	rd_kafka_topic_partition_t *w;
	int			i;

	if (offsets == NULL || pending_commit == NULL)
		return;
	if (rd_kafka_assignment(k, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || assigned == NULL)
		return;
	for (i = 0; i < offsets->cnt; i++)
	{
		rd_kafka_topic_partition_t *o = &offsets->elems[i];
		rd_kafka_resp_err_t e = o->err ? o->err : err;

		if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET || o->offset < 0)
			continue;
		if (rd_kafka_topic_partition_list_find(assigned, o->topic, o->partition) == NULL)
			continue;
		/* the newest written offset, never the refused one: Kafka's must not go back */
		w = written ? rd_kafka_topic_partition_list_find(written, o->topic, o->partition) : NULL;
		if (w && w->offset >= 0)
			remember_offset(pending_commit, o->topic, o->partition, w->offset);
	}
	rd_kafka_topic_partition_list_destroy(assigned);
}

/* Sum over assigned partitions of (high watermark - next offset to write). */
static int64
compute_lag(void)
{
	rd_kafka_topic_partition_list_t *assigned = NULL;
	int64		lag = 0;
	int			i;

	if (rd_kafka_assignment(rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || assigned == NULL)
		return -1;
	/* Where nothing was written yet, the fetch position is the best guess. */
	(void) rd_kafka_position(rk, assigned);
	for (i = 0; i < assigned->cnt; i++)
	{
		rd_kafka_topic_partition_t *a = &assigned->elems[i];
		rd_kafka_topic_partition_t *w = rd_kafka_topic_partition_list_find(written, a->topic, a->partition);
		int64_t		lo = -1,
					hi = -1;

		if (rd_kafka_get_watermark_offsets(rk, a->topic, a->partition, &lo, &hi) != 0 || hi < 0)
			continue;
		if (w && w->offset >= 0)
			lag += Max(0, hi - w->offset);
		else if (a->offset >= 0)
			lag += Max(0, hi - a->offset);
	}
	rd_kafka_topic_partition_list_destroy(assigned);
	return lag;
}

static TimestampTz
kafka_ms_to_timestamptz(int64 ms)
{
	return (TimestampTz) (ms * 1000 -
						  ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)) * USECS_PER_DAY);
}

/*
 * Partitions of the batch that another consumer has already written past
 * (see claim_batch); the worker drops their buffered messages and seeks.
 */
static rd_kafka_topic_partition_list_t *stale = NULL;

typedef enum ClaimResult
{
	CLAIM_OK,					/* write the batch */
	CLAIM_STALE,				/* some partitions moved on: see stale */
	CLAIM_GONE					/* the source stopped, changed or was dropped */
} ClaimResult;

/*
 * In the batch's transaction, before anything is written: make sure the
 * source is still the one this worker was started for, and lock the offset
 * rows of the batch's partitions.  Two consumers may both believe they own a
 * partition (a batch longer than max.poll.interval.ms, an old worker still
 * finishing while a re-created source starts): the row lock serializes their
 * batches, and the second one sees that the stored offset is already past
 * its first message.  So each message is committed once and offsets never
 * move backwards.
 */
static ClaimResult
claim_batch(const BatchPartitions *bp)
{
	static SPIPlanPtr source_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	static SPIPlanPtr lock_plan = NULL;
	int			ret;
	Datum		values[4];
	ClaimResult result = CLAIM_OK;
	uint64		r;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (source_plan == NULL)
	{
		Oid			types[2] = {INT8OID, INT4OID};

		source_plan = SPI_prepare("SELECT 1 FROM streamext.sources "
								  "WHERE id = $1 AND generation = $2 AND state = 'running' "
								  "FOR KEY SHARE", 2, types);
		if (source_plan == NULL)
			elog(ERROR, "cannot prepare source check: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(source_plan);
	}
	values[0] = Int64GetDatum(wargs.source_id);
	values[1] = Int32GetDatum(wargs.generation);
	ret = SPI_execute_plan(source_plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "cannot check the source: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_finish();
		return CLAIM_GONE;
	}

	if (insert_plan == NULL)
	{
		Oid			types[4] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID};

		/* A row to lock even for a partition written for the first time. */
		insert_plan = SPI_prepare("INSERT INTO streamext.source_offsets (source, topic, partition, next_offset) "
								  "SELECT $1, t, p, f FROM unnest($2, $3, $4) AS u(t, p, f) "
								  "ON CONFLICT DO NOTHING", 4, types);
		if (insert_plan == NULL)
			elog(ERROR, "cannot prepare offsets insert: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(insert_plan);
		lock_plan = SPI_prepare("SELECT o.topic, o.partition, o.next_offset, u.f "
								"FROM streamext.source_offsets o "
								"JOIN unnest($2, $3, $4) AS u(t, p, f) ON o.topic = u.t AND o.partition = u.p "
								"WHERE o.source = $1 ORDER BY o.topic, o.partition FOR UPDATE OF o",
								4, types);
		if (lock_plan == NULL)
			elog(ERROR, "cannot prepare offsets lock: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(lock_plan);
	}
	values[0] = CStringGetTextDatum(wargs.name);
	values[1] = bp->topics;
	values[2] = bp->partitions;
	values[3] = bp->firsts;
	ret = SPI_execute_plan(insert_plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "cannot store offsets: %s", SPI_result_code_string(ret));
	/* A new snapshot per statement: the lock sees the newest committed offsets. */
	ret = SPI_execute_plan(lock_plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "cannot lock offsets: %s", SPI_result_code_string(ret));
	if (stale)
		rd_kafka_topic_partition_list_destroy(stale);
	stale = rd_kafka_topic_partition_list_new(1);
	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		next = DatumGetInt64(SPI_getbinval(tup, td, 3, &isnull));
		int64		first = DatumGetInt64(SPI_getbinval(tup, td, 4, &isnull));

		if (next > first)
		{
			rd_kafka_topic_partition_list_add(stale, SPI_getvalue(tup, td, 1),
											  DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull)))->offset = next;
			result = CLAIM_STALE;
		}
	}
	SPI_finish();
	return result;
}

/*
 * Another consumer wrote past our buffered messages of the stale
 * partitions: forget them and read on from the stored offsets (if the
 * partitions are still ours; if not, the next rebalance takes them away).
 */
static void
skip_stale(void)
{
	rd_kafka_error_t *error;
	int			i;

	for (i = 0; i < stale->cnt; i++)
		ereport(LOG,
				(errmsg("source \"%s\": partition %d of \"%s\" was written up to offset %lld by another consumer; skipping to there",
						wargs.name, stale->elems[i].partition, stale->elems[i].topic,
						(long long) stale->elems[i].offset)));
	drop_buffered(stale);
	for (i = 0; i < stale->cnt; i++)
		remember_offset(written, stale->elems[i].topic, stale->elems[i].partition, stale->elems[i].offset);
	error = rd_kafka_seek_partitions(rk, stale, 5000);
	if (error)
	{
		ereport(LOG,
				(errmsg("source \"%s\": cannot seek: %s", wargs.name, rd_kafka_error_string(error))));
		rd_kafka_error_destroy(error);
	}
}

/* Write the buffered batch in one transaction. */
static void
flush_batch(MemoryContext batch_cxt)
{
	SinkMessage *msgs;
	BatchPartitions bp;
	SinkResult	res;
	MemoryContext old;
	int			i;
	int64		bytes = 0;

	old = MemoryContextSwitchTo(batch_cxt);
	msgs = palloc0(sizeof(SinkMessage) * nbuf);
	for (i = 0; i < nbuf; i++)
	{
		rd_kafka_message_t *m = buf[i];
		IngestMessage *im = &msgs[i].msg;
		rd_kafka_timestamp_type_t tstype;
		int64		ts;
		rd_kafka_headers_t *hdrs = NULL;

		msgs[i].rkmessage = m;
		im->topic = rd_kafka_topic_name(m->rkt);
		im->partition = m->partition;
		im->offset = m->offset;
		im->key = m->key;
		im->key_len = m->key_len;
		im->payload = m->payload;
		im->payload_len = m->len;
		ts = rd_kafka_message_timestamp(m, &tstype);
		im->has_timestamp = (tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0);
		if (im->has_timestamp)
			im->timestamp = kafka_ms_to_timestamptz(ts);
		if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs)
		{
			size_t		nh = rd_kafka_header_cnt(hdrs);
			size_t		h;

			im->nheaders = (int) nh;
			im->header_names = palloc(sizeof(char *) * nh);
			im->header_values = palloc(sizeof(char *) * nh);
			im->header_lens = palloc(sizeof(size_t) * nh);
			for (h = 0; h < nh; h++)
			{
				const char *name;
				const void *value;
				size_t		size;

				rd_kafka_header_get_all(hdrs, h, &name, &value, &size);
				im->header_names[h] = name;
				im->header_values[h] = value;
				((size_t *) im->header_lens)[h] = size;
			}
		}
		bytes += m->len + m->key_len;
	}

	/* In batch_cxt, so that it outlives the transaction retries below. */
	sink_batch_partitions(msgs, nbuf, &bp);

	pgstat_report_activity(STATE_RUNNING, "writing a batch");
	for (int attempt = 0;; attempt++)
	{
		bool		done = false;
		volatile ClaimResult claim = CLAIM_OK;

		if (attempt > 20)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("source \"%s\": merge_schema added columns but the messages still do not match them",
							wargs.name)));

		PG_TRY();
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			claim = claim_batch(&bp);
			if (claim == CLAIM_OK)
			{
				sink_write_batch(sink, msgs, nbuf, &bp, &res);
				PopActiveSnapshot();
				CommitTransactionCommand();
				done = true;
			}
		}
		PG_CATCH();
		{
			/* merge_schema found new keys: add the columns, then write the batch again. */
			if (!sink_schema_pending(sink))
				PG_RE_THROW();
			MemoryContextSwitchTo(batch_cxt);
			FlushErrorState();
			AbortCurrentTransaction();
		}
		PG_END_TRY();
		if (done)
			break;
		if (claim != CLAIM_OK)
		{
			/* Nothing was written: let go of the locks, then forget what is not ours. */
			AbortCurrentTransaction();
			pgstat_report_activity(STATE_IDLE, NULL);
			MemoryContextSwitchTo(old);
			if (claim == CLAIM_GONE)
			{
				ereport(LOG,
						(errmsg("source \"%s\" was paused, changed or dropped; worker %d stops",
								wargs.name, wargs.index)));
				free_buffer();
				ShutdownRequestPending = true;
			}
			else
				skip_stale();
			MemoryContextReset(batch_cxt);
			return;
		}
		sink_apply_schema(sink);
	}
	pgstat_report_activity(STATE_IDLE, NULL);

	/* The offsets are stored; Kafka hears of them once the commit is durable. */
	pending_lsn = XactLastCommitEnd;
	for (i = 0; i < nbuf; i++)
	{
		/* Messages come in runs per partition; the last of a run has its highest offset. */
		if (i + 1 < nbuf && msgs[i + 1].msg.partition == msgs[i].msg.partition &&
			msgs[i + 1].msg.topic == msgs[i].msg.topic)
			continue;
		remember_offset(pending_commit, msgs[i].msg.topic, msgs[i].msg.partition, msgs[i].msg.offset + 1);
		remember_offset(written, msgs[i].msg.topic, msgs[i].msg.partition, msgs[i].msg.offset + 1);
	}
	ereport(DEBUG1,
			(errmsg("source \"%s\": batch of %d messages, %lld rows, %lld dead letters",
					wargs.name, nbuf, (long long) res.rows, (long long) res.dead_letters)));

	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	myslot->messages += nbuf;
	myslot->rows += res.rows;
	myslot->dead_letters += res.dead_letters;
	myslot->bytes += bytes;
	myslot->last_batch_at = GetCurrentTimestamp();
	LWLockRelease(ingest_shared->lock);

	MemoryContextSwitchTo(old);
	free_buffer();
	MemoryContextReset(batch_cxt);
}

/* Is this error worth a restart (it may go away) rather than the error state? */
static bool
is_transient_error(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TRANSACTION_ROLLBACK:	/* 40: deadlock, serialization */
		case ERRCODE_INSUFFICIENT_RESOURCES:	/* 53 */
		case ERRCODE_OPERATOR_INTERVENTION: /* 57: cancel, shutdown */
		case ERRCODE_SYSTEM_ERROR:	/* 58 */
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:	/* 55: lock not available */
			return true;
		default:
			return sqlerrcode == ERRCODE_INTERNAL_ERROR;
	}
}

static void
drain_pipe(void)
{
	char		junk[64];

	while (read(wake_pipe[0], junk, sizeof(junk)) > 0)
		;
}

/* While the brokers are down, probe them once a second. */
static void
check_health(TimestampTz now)
{
	const struct rd_kafka_metadata *md = NULL;
	int64		lag;

	if (!TimestampDifferenceExceeds(last_health_check, now, 1000))
		return;
	last_health_check = now;
	if (broker_down && rd_kafka_metadata(rk, 0, NULL, &md, 200) == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		rd_kafka_metadata_destroy(md);
		set_broker_down(false, NULL);
	}
	lag = compute_lag();
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	myslot->lag = lag;
	LWLockRelease(ingest_shared->lock);
}

/* For time_filter partitions: is m older than start_from? */
static bool
skip_before_start(rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(time_filter, topic, m->partition);
	rd_kafka_timestamp_type_t tstype;
	int64		ts;

	if (p == NULL)
		return false;
	ts = rd_kafka_message_timestamp(m, &tstype);
	if (ts >= 0 && ts < start_from_ms)
		return true;
	rd_kafka_topic_partition_list_del(time_filter, topic, m->partition);
	return false;
}

/*
 * Nothing to poll although Kafka has messages we have not received: the
 * fetcher may be asleep.  librdkafka (2.0) stops fetching while its queue is
 * full and looks again only when its broker thread next wakes up, up to a
 * second later, even though we drained the queue long before.  Returns true
 * and names one such partition.
 */
static bool
fetcher_behind(char **topic, int32 *partition)
{
	rd_kafka_topic_partition_list_t *assigned = NULL;
	bool		behind = false;
	int			i;

	*topic = NULL;
	if (rd_kafka_assignment(rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || assigned == NULL)
		return false;
	/* The offset after the last message polled, per partition. */
	(void) rd_kafka_position(rk, assigned);
	for (i = 0; i < assigned->cnt && !behind; i++)
	{
		rd_kafka_topic_partition_t *a = &assigned->elems[i];
		int64_t		lo = -1,
					hi = -1;

		if (a->offset < 0 ||
			rd_kafka_get_watermark_offsets(rk, a->topic, a->partition, &lo, &hi) != 0)
			continue;
		if (hi > a->offset)
		{
			behind = true;
			*topic = pstrdup(a->topic);
			*partition = a->partition;
		}
	}
	rd_kafka_topic_partition_list_destroy(assigned);
	return behind;
}

/*
 * Wake the broker thread that fetches the partition, with a request to the
 * partition's leader (its watermarks): having served it, the thread decides
 * again what to fetch.  The short timeout keeps a stop prompt when the
 * broker does not answer.
 */
static void
nudge_fetcher(const char *topic, int32 partition)
{
	int64_t		lo,
				hi;

	(void) rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, 200);
}

static void
consume_loop(void)
{
	MemoryContext batch_cxt = AllocSetContextCreate(worker_cxt, "streamext batch",
													 ALLOCSET_DEFAULT_SIZES);

	buf = MemoryContextAlloc(worker_cxt, sizeof(rd_kafka_message_t *) * batch_max_messages);
	pending_commit = rd_kafka_topic_partition_list_new(16);
	written = rd_kafka_topic_partition_list_new(16);
	time_filter = rd_kafka_topic_partition_list_new(4);

	while (!ShutdownRequestPending)
	{
		TimestampTz now;
		long		timeout;
		int			rc;
		bool		behind;
		char	   *behind_topic = NULL;
		int32		behind_partition = 0;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		sink_maintain(sink);

		while (nbuf < batch_max_messages && buf_bytes < batch_max_bytes() && !ShutdownRequestPending)
		{
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 0);

			if (rebalance_error)
			{
				if (m)
					rd_kafka_message_destroy(m);
				ereport(ERROR,
						(errmsg("source \"%s\": consumer failed: %s", wargs.name, rebalance_error)));
			}
			if (m == NULL)
				break;
			if (m->err)
			{
				if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				{
					ereport(LOG,
							(errmsg("source \"%s\": %s", wargs.name, rd_kafka_message_errstr(m))));
					slot_set_error(rd_kafka_message_errstr(m));
				}
				rd_kafka_message_destroy(m);
				continue;
			}
			if (broker_down)
				set_broker_down(false, NULL);
			if (time_filter->cnt > 0 && skip_before_start(m))
			{
				rd_kafka_message_destroy(m);
				continue;
			}
			if (nbuf == 0)
				batch_started = GetCurrentTimestamp();
			buf[nbuf++] = m;
			buf_bytes += m->len + m->key_len;
		}

		now = GetCurrentTimestamp();
		if (nbuf > 0 &&
			(nbuf >= batch_max_messages || buf_bytes >= batch_max_bytes() ||
			 TimestampDifferenceExceeds(batch_started, now, batch_max_ms)))
		{
			flush_batch(batch_cxt);
			commit_to_kafka(false);
			check_health(now);
			continue;
		}
		commit_to_kafka(false);
		check_health(now);

		if (nbuf > 0)
		{
			long		secs;
			int			usecs;

			TimestampDifference(now, TimestampTzPlusMilliseconds(batch_started, batch_max_ms), &secs, &usecs);
			timeout = secs * 1000 + usecs / 1000 + 1;
		}
		else
			timeout = 1000;
		if (pending_commit->cnt > 0)
			timeout = Min(timeout, 200);
		behind = fetcher_behind(&behind_topic, &behind_partition);
		if (behind)
			timeout = Min(timeout, FETCH_NUDGE_MS);
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							   wake_pipe[0], timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		drain_pipe();
		if (behind && (rc & WL_TIMEOUT))
			nudge_fetcher(behind_topic, behind_partition);
		if (behind_topic)
			pfree(behind_topic);
	}
}

void
ingest_worker_main(Datum arg)
{
	char	   *brokers = NULL,
			   *topic = NULL,
			   *format = NULL,
			   *group_id = NULL;
	Oid			target = InvalidOid;
	Jsonb	   *options = NULL;
	List	   *kafka_props = NIL;
	MemoryContext cxt;

	memcpy(&wargs, MyBgworkerEntry->bgw_extra, sizeof(wargs));
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnectionByOid(wargs.dboid, wargs.owner, 0);
	SetConfigOption("application_name", wargs.name, PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname(wargs.name);
	/* Rows and offsets commit together, so losing an unflushed commit loses nothing. */
	SetConfigOption("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION);

	worker_cxt = AllocSetContextCreate(TopMemoryContext, "streamext source worker",
									   ALLOCSET_DEFAULT_SIZES);
	claim_slot();

	cxt = MemoryContextSwitchTo(worker_cxt);
	if (!load_source(&brokers, &topic, &target, &format, &options, &group_id, &kafka_props))
		proc_exit(0);

	/* Check what can be checked before consuming; a broken setup stops the source. */
	PG_TRY();
	{
		Relation	rel;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		rel = try_relation_open(target, AccessShareLock);
		if (rel == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("the target table of source \"%s\" does not exist any more", wargs.name)));
		(void) decoder_create(RelationGetDescr(rel), format, options);
		relation_close(rel, AccessShareLock);
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(worker_cxt);
		sink = sink_create(wargs.name, target, format, options, worker_cxt);
		create_consumer(brokers, topic, group_id, kafka_props);
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(worker_cxt);
		ed = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		set_error_state(ed->message);
		proc_exit(0);
	}
	PG_END_TRY();

	ereport(LOG, (errmsg("source \"%s\" worker %d started", wargs.name, wargs.index)));

	PG_TRY();
	{
		consume_loop();
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(worker_cxt);
		ed = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();

		/*
		 * The consumer is not closed: after an error its state is unknown and
		 * a clean close could block.  The group notices our exit when the
		 * session times out, and the next worker reads our stored offsets.
		 */
		/* A batch abandoned for pause, drop or shutdown: stop as gracefully as ever. */
		if (ed->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN && ShutdownRequestPending)
			ereport(LOG, (errmsg("%s", ed->message)));
		else if (is_transient_error(ed->sqlerrcode))
			ReThrowError(ed);
		else
		{
			set_error_state(ed->message);
			proc_exit(0);
		}
	}
	PG_END_TRY();

	/* Graceful stop: what is committed is told to Kafka, then leave the group. */
	free_buffer();
	{
		rd_kafka_topic_partition_list_t *assigned = NULL;

		if (rd_kafka_assignment(rk, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR && assigned)
		{
			commit_written(assigned);
			rd_kafka_topic_partition_list_destroy(assigned);
		}
	}
	rd_kafka_queue_destroy(consumer_queue);
	if (broker_down)
		rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	else
	{
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	MemoryContextSwitchTo(cxt);
	proc_exit(0);
}
