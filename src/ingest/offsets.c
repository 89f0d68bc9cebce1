/*
 * offsets.c
 *		Offset bookkeeping of a consumer worker: the offset rows locked and
 *		advanced with every batch, what Kafka is told and when, and the lag.
 *		Where newly assigned partitions start is offsets_start.c's.
 *
 * Exactly once: the offsets a worker starts from come from
 * streamext.source_offsets (written with the rows), read when the consumer
 * group assigns partitions; Kafka's committed offsets are only a fallback for
 * partitions another server has advanced, and are written after the WAL of the
 * PostgreSQL commit is flushed.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ingest/worker.h"
#include "monitor/monitor.h"

/* offsets committed in PostgreSQL, waiting for their WAL flush before Kafka hears of them */
static rd_kafka_topic_partition_list_t *pending_commit = NULL;
static XLogRecPtr pending_lsn = InvalidXLogRecPtr;

/* the next offset written, per partition; for the lag */
static rd_kafka_topic_partition_list_t *written = NULL;

/*
 * Partitions of the batch that another consumer has already written past
 * (see offsets_claim_batch); the worker drops their buffered messages and seeks.
 */
static rd_kafka_topic_partition_list_t *stale = NULL;

/*
 * Partitions sought to after a stale claim: until the seek has reset
 * librdkafka's position, that position says nothing about what was written
 * (see offsets_store_skipped).
 */
static rd_kafka_topic_partition_list_t *seeking = NULL;

/* How long a revoked partition's final commit may wait for Kafka's answer. */
#define REVOKE_COMMIT_TIMEOUT_MS 1000

static void remember_offset(rd_kafka_topic_partition_list_t *list, const char *topic,
							int32 partition, int64 next);

void
offsets_init(void)
{
	pending_commit = rd_kafka_topic_partition_list_new(16);
	written = rd_kafka_topic_partition_list_new(16);
	seeking = rd_kafka_topic_partition_list_new(1);
	offsets_start_init();
}

/* Tell Kafka the offsets whose PostgreSQL commit is durable. */
void
offsets_commit_to_kafka(bool wait_for_flush)
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
	err = rd_kafka_commit(se_worker.rk, pending_commit, wait_for_flush ? 0 : 1);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		ereport(DEBUG1, (errmsg("source \"%s\": committing offsets to Kafka failed: %s",
								se_worker.args.name, rd_kafka_err2str(err))));
	rd_kafka_topic_partition_list_destroy(pending_commit);
	pending_commit = rd_kafka_topic_partition_list_new(16);
}

/*
 * Commit to Kafka and wait for the answer until deadline at most: a
 * synchronous rd_kafka_commit() waits as long as the brokers take, and a
 * worker must stop promptly whatever they do.
 */
static rd_kafka_resp_err_t
commit_bounded(const rd_kafka_topic_partition_list_t *list, TimestampTz deadline)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(se_worker.rk);
	rd_kafka_resp_err_t err;

	err = rd_kafka_commit_queue(se_worker.rk, list, q, NULL, NULL);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		err = RD_KAFKA_RESP_ERR__TIMED_OUT;
		for (;;)
		{
			rd_kafka_event_t *ev;

			if (!consumer_poll_until(q, deadline, &ev))
				break;
			if (ev == NULL)
				continue;
			if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT)
			{
				err = rd_kafka_event_error(ev);
				rd_kafka_event_destroy(ev);
				break;
			}
			rd_kafka_event_destroy(ev);
		}
	}
	rd_kafka_queue_destroy(q);
	return err;
}

/*
 * Before partitions leave this worker (revoke, shutdown), tell Kafka the
 * offsets written for them, and wait for the answer until deadline: the next
 * owner, maybe on another server, starts there.  Earlier asynchronous
 * commits may have been refused (say during a rebalance), so this uses
 * everything written, not what is pending.
 */
void
offsets_commit_written(const rd_kafka_topic_partition_list_t *parts, TimestampTz deadline)
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
		/* While the brokers are known to be down, waiting would be in vain. */
		if (se_worker.broker_down)
			err = rd_kafka_commit(se_worker.rk, list, 1);
		else
			err = commit_bounded(list, deadline);
		if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
			ereport(LOG,
					(errmsg("source \"%s\": committing offsets to Kafka failed: %s",
							se_worker.args.name, rd_kafka_err2str(err))));
	}
	rd_kafka_topic_partition_list_destroy(list);
	if (pending_commit)
	{
		rd_kafka_topic_partition_list_destroy(pending_commit);
		pending_commit = rd_kafka_topic_partition_list_new(16);
	}
}

/* Partitions leave this worker: forget their time filter, tell Kafka what was written. */
void
offsets_revoke(const rd_kafka_topic_partition_list_t *parts)
{
	offsets_start_forget(parts);
	offsets_commit_written(parts, TimestampTzPlusMilliseconds(GetCurrentTimestamp(), REVOKE_COMMIT_TIMEOUT_MS));
}

/* Are offsets waiting to be told to Kafka? */
bool
offsets_commit_pending(void)
{
	return pending_commit->cnt > 0;
}

/*
 * A batch committed in PostgreSQL at commit_lsn: its offsets are stored;
 * Kafka hears of them once the commit is durable.
 */
void
offsets_batch_written(const SinkMessage *msgs, int n, XLogRecPtr commit_lsn)
{
	pending_lsn = commit_lsn;
	for (int i = 0; i < n; i++)
	{
		/* Messages come in runs per partition; the last of a run has its highest offset. */
		if (i + 1 < n && msgs[i + 1].msg.partition == msgs[i].msg.partition &&
			msgs[i + 1].msg.topic == msgs[i].msg.topic)
			continue;
		remember_offset(pending_commit, msgs[i].msg.topic, msgs[i].msg.partition, msgs[i].msg.offset + 1);
		remember_offset(written, msgs[i].msg.topic, msgs[i].msg.partition, msgs[i].msg.offset + 1);
	}
}

/* Each row (topic, partition, next_offset) of the last SPI result to row_fn. */
void
offsets_visit_rows(OffsetRowFn row_fn, void *arg)
{
	uint64		r;

	for (r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *topic = SPI_getvalue(tup, td, 1);
		int32		partition = DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
		int64		next = DatumGetInt64(SPI_getbinval(tup, td, 3, &isnull));

		row_fn(arg, topic, partition, next);
	}
}

/*
 * One of the fenced upserts of offset rows, in a transaction of its own
 * (se_xact_begin() flags xact_flags).  sql gets $1 the source's name, $2..$4
 * the topics, partitions and offsets of list, $5/$6 the source's id and
 * generation (the write is fenced on them: the statement's EXISTS takes a
 * key-share lock on the source's row, so that a drop or rename waits for
 * this transaction and then carries its rows along: source_offsets has no
 * foreign key), and returns the topic,
 * partition and next_offset of the rows it leaves, which go to row_fn.
 * what names the offsets for the error message.
 */
void
offsets_upsert(rd_kafka_topic_partition_list_t *list, int xact_flags, const char *sql,
			   const char *what, OffsetRowFn row_fn, void *arg)
{
	SeXact		x;
	Oid			types[6] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID, INT8OID, INT4OID};
	Datum		values[6];
	Datum	   *topics;
	Datum	   *pnums;
	Datum	   *offs;
	int			ret;
	int			i;

	se_xact_begin(&x, xact_flags, NULL);
	topics = palloc(sizeof(Datum) * list->cnt);
	pnums = palloc(sizeof(Datum) * list->cnt);
	offs = palloc(sizeof(Datum) * list->cnt);
	for (i = 0; i < list->cnt; i++)
	{
		topics[i] = CStringGetTextDatum(list->elems[i].topic);
		pnums[i] = Int32GetDatum(list->elems[i].partition);
		offs[i] = Int64GetDatum(list->elems[i].offset);
	}
	values[0] = CStringGetTextDatum(se_worker.args.name);
	values[1] = PointerGetDatum(construct_array(topics, list->cnt, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(pnums, list->cnt, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(offs, list->cnt, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = Int64GetDatum(se_worker.args.source_id);
	values[5] = Int32GetDatum(se_worker.args.generation);
	ret = SPI_execute_with_args(sql, 6, types, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("cannot store %s: %s", what, SPI_result_code_string(ret))));
	offsets_visit_rows(row_fn, arg);
	se_xact_commit(&x);
}

/* A row store_skipped() left: written, and to be told to Kafka. */
static void
skipped_row(void *arg, const char *topic, int32 partition, int64 next)
{
	remember_offset(written, topic, partition, next);
	remember_offset(pending_commit, topic, partition, next);
}

/* Store the positions past skipped records (offsets_store_skipped). */
static void
store_skipped(rd_kafka_topic_partition_list_t *ahead)
{
	/* Offsets only move forward; what another consumer stored meanwhile wins if it is further. */
	offsets_upsert(ahead, SE_XACT_SPI,
				   "INSERT INTO streamext.source_offsets AS o (source, topic, partition, next_offset) "
				   "SELECT $1, t, p, n FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u(t, p, n) "
				   "WHERE EXISTS (SELECT 1 FROM streamext.sources "
				   "  WHERE id OPERATOR(pg_catalog.=) $5 AND generation OPERATOR(pg_catalog.=) $6 "
				   "  AND state OPERATOR(pg_catalog.=) 'running' FOR KEY SHARE) "
				   "ON CONFLICT (source, topic, partition) DO UPDATE SET next_offset = excluded.next_offset "
				   "WHERE o.next_offset OPERATOR(pg_catalog.<) excluded.next_offset "
				   "RETURNING topic, partition, next_offset",
				   "the offsets past skipped records", skipped_row, NULL);
	pending_lsn = XactLastCommitEnd;
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
void
offsets_commit_cb(rd_kafka_t *k, rd_kafka_resp_err_t err,
				 rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	const rd_kafka_topic_partition_list_t *assigned = consumer_assignment();
	rd_kafka_topic_partition_t *w;
	int			i;

	/* No calls into the consumer here: this may run while it closes. */
	if (offsets == NULL || pending_commit == NULL)
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
}

/* Sum over assigned partitions of (high watermark - next offset to write). */
int64
offsets_lag(void)
{
	rd_kafka_topic_partition_list_t *assigned;
	int64		lag = 0;
	int			i;

	assigned = rd_kafka_topic_partition_list_copy(consumer_assignment());
	/* Where nothing was written yet, the fetch position is the best guess. */
	(void) rd_kafka_position(se_worker.rk, assigned);
	for (i = 0; i < assigned->cnt; i++)
	{
		rd_kafka_topic_partition_t *a = &assigned->elems[i];
		rd_kafka_topic_partition_t *w = rd_kafka_topic_partition_list_find(written, a->topic, a->partition);
		int64_t		lo = -1,
					hi = -1;
		int64		plag;

		if (rd_kafka_get_watermark_offsets(se_worker.rk, a->topic, a->partition, &lo, &hi) != 0 || hi < 0)
			continue;
		if (w && w->offset >= 0)
			plag = Max(0, hi - w->offset);
		else if (a->offset >= 0)
			plag = Max(0, hi - a->offset);
		else
			continue;
		lag += plag;
		monitor_source_partition_lag(se_worker.args.source_id, a->partition, plag);
	}
	rd_kafka_topic_partition_list_destroy(assigned);
	return lag;
}

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
ClaimResult
offsets_claim_batch(const BatchPartitions *bp)
{
	static SPIPlanPtr source_plan = NULL;
	static SPIPlanPtr insert_plan = NULL;
	static SPIPlanPtr lock_plan = NULL;
	int			ret;
	Datum		values[4];
	ClaimResult result = CLAIM_OK;
	uint64		r;
	int			pin;

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("SPI_connect failed")));
	/* The batch's rows are written after this, outside the pin. */
	pin = se_pin_search_path();
	if (source_plan == NULL)
	{
		Oid			types[2] = {INT8OID, INT4OID};

		source_plan = SPI_prepare("SELECT 1 FROM streamext.sources "
								  "WHERE id = $1 AND generation = $2 AND state = 'running' "
								  "FOR KEY SHARE", 2, types);
		if (source_plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot prepare source check: %s", SPI_result_code_string(SPI_result))));
		SPI_keepplan(source_plan);
	}
	values[0] = Int64GetDatum(se_worker.args.source_id);
	values[1] = Int32GetDatum(se_worker.args.generation);
	ret = SPI_execute_plan(source_plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("cannot check the source: %s", SPI_result_code_string(ret))));
	if (SPI_processed == 0)
	{
		SPI_finish();
		se_unpin_search_path(pin);
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
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot prepare offsets insert: %s", SPI_result_code_string(SPI_result))));
		SPI_keepplan(insert_plan);
		lock_plan = SPI_prepare("SELECT o.topic, o.partition, o.next_offset, u.f "
								"FROM streamext.source_offsets o "
								"JOIN unnest($2, $3, $4) AS u(t, p, f) ON o.topic = u.t AND o.partition = u.p "
								"WHERE o.source = $1 ORDER BY o.topic, o.partition FOR UPDATE OF o",
								4, types);
		if (lock_plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot prepare offsets lock: %s", SPI_result_code_string(SPI_result))));
		SPI_keepplan(lock_plan);
	}
	values[0] = CStringGetTextDatum(se_worker.args.name);
	values[1] = bp->topics;
	values[2] = bp->partitions;
	values[3] = bp->firsts;
	ret = SPI_execute_plan(insert_plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("cannot store offsets: %s", SPI_result_code_string(ret))));
	/* A new snapshot per statement: the lock sees the newest committed offsets. */
	ret = SPI_execute_plan(lock_plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("cannot lock offsets: %s", SPI_result_code_string(ret))));
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
	se_unpin_search_path(pin);
	return result;
}

/*
 * Another consumer wrote past our buffered messages of the stale
 * partitions: forget them and read on from the stored offsets (if the
 * partitions are still ours; if not, the next rebalance takes them away).
 */
void
offsets_skip_stale(void)
{
	rd_kafka_error_t *error;
	int			i;

	for (i = 0; i < stale->cnt; i++)
		ereport(LOG,
				(errmsg("source \"%s\": partition %d of \"%s\" was written up to offset %lld by another consumer; skipping to there",
						se_worker.args.name, stale->elems[i].partition, stale->elems[i].topic,
						(long long) stale->elems[i].offset)));
	worker_drop_buffered(stale);
	for (i = 0; i < stale->cnt; i++)
	{
		remember_offset(written, stale->elems[i].topic, stale->elems[i].partition, stale->elems[i].offset);
		if (!rd_kafka_topic_partition_list_find(seeking, stale->elems[i].topic, stale->elems[i].partition))
			rd_kafka_topic_partition_list_add(seeking, stale->elems[i].topic, stale->elems[i].partition);
	}
	/* Asynchronous: waiting for the brokers here would delay a stop. */
	error = rd_kafka_seek_partitions(se_worker.rk, stale, 0);
	if (error)
	{
		ereport(LOG,
				(errmsg("source \"%s\": cannot seek: %s", se_worker.args.name, rd_kafka_error_string(error))));
		rd_kafka_error_destroy(error);
	}
}

/*
 * Some records never reach a batch: the control records (COMMIT and ABORT
 * markers) that end every transaction of a transactional producer, the
 * messages of aborted transactions (isolation.level read_committed) and
 * messages before start_from.  librdkafka's position (the offset after the
 * last record it handed over or skipped) moves past them; the stored offset,
 * Kafka's committed offset and the lag would stay before them for good.  So
 * where the position is ahead of what was written and no message of the
 * partition waits in the batch being collected, everything in between was
 * skipped on purpose: store the position, with the same guard as every
 * offset write (the source is still the one this worker runs), and tell
 * Kafka.  Called about once a second, from the worker's loop.
 */
void
offsets_store_skipped(void)
{
	const rd_kafka_topic_partition_list_t *assigned = consumer_assignment();
	rd_kafka_topic_partition_list_t *pos;
	rd_kafka_topic_partition_list_t *ahead;
	int			i;

	if (assigned->cnt == 0)
		return;
	pos = rd_kafka_topic_partition_list_copy(assigned);
	(void) rd_kafka_position(se_worker.rk, pos);
	ahead = rd_kafka_topic_partition_list_new(1);
	for (i = 0; i < pos->cnt; i++)
	{
		rd_kafka_topic_partition_t *p = &pos->elems[i];
		rd_kafka_topic_partition_t *w = rd_kafka_topic_partition_list_find(written, p->topic, p->partition);

		if (rd_kafka_topic_partition_list_find(seeking, p->topic, p->partition))
		{
			/* An invalid position: the seek has been applied. */
			if (p->offset < 0)
				rd_kafka_topic_partition_list_del(seeking, p->topic, p->partition);
			continue;
		}
		if (p->offset < 0 || (w && w->offset >= p->offset) ||
			worker_has_buffered(p->topic, p->partition))
			continue;
		rd_kafka_topic_partition_list_add(ahead, p->topic, p->partition)->offset = p->offset;
	}
	rd_kafka_topic_partition_list_destroy(pos);
	if (ahead->cnt > 0)
		store_skipped(ahead);
	rd_kafka_topic_partition_list_destroy(ahead);
}
