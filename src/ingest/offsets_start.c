/*
 * offsets_start.c
 *		Where a consumer worker starts reading a partition it is assigned:
 *		the offset stored with the rows, else Kafka's committed offset, else
 *		what the start_from option says (earliest, latest or a timestamp).
 *
 * start_from resolved to a number is stored at once, so that a restart
 * continues there instead of resolving it again and skipping what arrived
 * meanwhile.  Where the broker cannot say which offset a timestamp is at,
 * the partition is read from the beginning and the messages before the
 * timestamp are skipped (the time filter).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "utils/builtins.h"
#include "utils/wait_event.h"

#include "ingest/worker.h"

/*
 * Partitions that start at start_from's timestamp but for which the broker
 * could not say where that is (offsets_for_times gave no offset): they are
 * read from the beginning and messages older than the timestamp are skipped
 * until the first one at or after it.
 */
static rd_kafka_topic_partition_list_t *time_filter = NULL;

void
offsets_start_init(void)
{
	time_filter = rd_kafka_topic_partition_list_new(4);
}

/* Partitions leave this worker: forget their time filter. */
void
offsets_start_forget(const rd_kafka_topic_partition_list_t *parts)
{
	for (int i = 0; i < parts->cnt; i++)
		rd_kafka_topic_partition_list_del(time_filter, parts->elems[i].topic, parts->elems[i].partition);
}

/* A stored offset: it wins over Kafka's committed one unless that is further. */
static void
stored_row(void *arg, const char *topic, int32 partition, int64 next)
{
	rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(arg, topic, partition);

	if (p && (p->offset < 0 || next > p->offset))
		p->offset = next;
}

/* A row store_resolved() left: where the partition (of list arg) starts. */
static void
resolved_row(void *arg, const char *topic, int32 partition, int64 next)
{
	rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(arg, topic, partition);

	if (p)
		p->offset = next;
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
	offsets_upsert(resolved, SE_XACT_SPI | SE_XACT_PIN_PATH,
				   "INSERT INTO streamext.source_offsets AS o (source, topic, partition, next_offset) "
				   "SELECT $1, t, p, n FROM unnest($2, $3, $4) AS u(t, p, n) "
				   "WHERE EXISTS (SELECT 1 FROM streamext.sources "
				   "  WHERE id = $5 AND generation = $6 AND state = 'running' FOR KEY SHARE) "
				   "ON CONFLICT (source, topic, partition) DO UPDATE SET next_offset = o.next_offset "
				   "RETURNING topic, partition, next_offset",
				   "the start offsets", resolved_row, parts);
}

/*
 * rd_kafka_offsets_for_times() in steps of a second, for up to 10 s, so that
 * a stop request is noticed within one step.  parts holds timestamps on
 * entry and offsets on return.
 */
static rd_kafka_resp_err_t
offsets_for_times_stepwise(rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *asked = rd_kafka_topic_partition_list_copy(parts);
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

	for (int attempt = 0; attempt < 10; attempt++)
	{
		if (ShutdownRequestPending)
		{
			rd_kafka_topic_partition_list_destroy(asked);
			ereport(ERROR,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("source \"%s\" worker %d stops while partitions are assigned",
							se_worker.args.name, se_worker.args.index)));
		}
		for (int i = 0; i < parts->cnt; i++)
		{
			parts->elems[i].offset = asked->elems[i].offset;
			parts->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
		}
		err = rd_kafka_offsets_for_times(se_worker.rk, parts, 1000);
		if (err != RD_KAFKA_RESP_ERR__TIMED_OUT)
			break;
	}
	rd_kafka_topic_partition_list_destroy(asked);
	return err;
}

/* Starting offsets for newly assigned partitions: ours, else Kafka's, else start_from. */
void
offsets_assign(rd_kafka_topic_partition_list_t *parts)
{
	SeXact		x;
	rd_kafka_topic_partition_list_t *committed;
	rd_kafka_topic_partition_list_t *by_time;
	rd_kafka_topic_partition_list_t *latest;
	rd_kafka_topic_partition_list_t *resolved = rd_kafka_topic_partition_list_new(1);
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	int			ret,
				i;

	/*
	 * Kafka's committed offsets: only other servers can be ahead of ours.
	 * Asked in short steps, so that a stop request is noticed within one.
	 */
	committed = rd_kafka_topic_partition_list_copy(parts);
	for (int attempt = 0;; attempt++)
	{
		rd_kafka_resp_err_t err = rd_kafka_committed(se_worker.rk, committed, 500);

		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			break;
		if (ShutdownRequestPending)
		{
			rd_kafka_topic_partition_list_destroy(committed);
			ereport(ERROR,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("source \"%s\" worker %d stops while partitions are assigned",
							se_worker.args.name, se_worker.args.index)));
		}

		/*
		 * Without Kafka's offsets a partition coming from another server
		 * would be read again from our older stored offset: rather retry,
		 * and in the end (after about as long as before: 20 tries of 10 s)
		 * fail the assignment (the worker restarts).
		 */
		if (attempt >= 300)
		{
			rd_kafka_topic_partition_list_destroy(committed);
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("source \"%s\": cannot read the committed offsets from Kafka: %s",
							se_worker.args.name, rd_kafka_err2str(err))));
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 250, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	for (i = 0; i < parts->cnt; i++)
	{
		parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
		if (committed->elems[i].err == 0 && committed->elems[i].offset >= 0)
			parts->elems[i].offset = committed->elems[i].offset;
	}
	rd_kafka_topic_partition_list_destroy(committed);

	se_xact_begin(&x, SE_XACT_SPI | SE_XACT_PIN_PATH, NULL);
	values[0] = CStringGetTextDatum(se_worker.args.name);
	ret = SPI_execute_with_args("SELECT topic, partition, next_offset FROM streamext.source_offsets "
								"WHERE source = $1", 1, types, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("cannot read streamext.source_offsets: %s", SPI_result_code_string(ret))));
	offsets_visit_rows(stored_row, parts);
	se_xact_commit(&x);

	by_time = rd_kafka_topic_partition_list_new(parts->cnt);
	latest = rd_kafka_topic_partition_list_new(1);
	for (i = 0; i < parts->cnt; i++)
	{
		rd_kafka_topic_partition_t *p = &parts->elems[i];

		if (p->offset >= 0)
			continue;
		if (se_worker.start_from_ms >= 0)
			rd_kafka_topic_partition_list_add(by_time, p->topic, p->partition)->offset = se_worker.start_from_ms;
		else if (strcmp(se_worker.start_from, "latest") == 0)
			rd_kafka_topic_partition_list_add(latest, p->topic, p->partition)->offset = RD_KAFKA_OFFSET_END;
		else
			p->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	if (latest->cnt > 0)
	{
		/*
		 * A number, to be stored: "latest" must not move on at every
		 * assignment.  (Timestamp -1 asks for the end offset.)
		 */
		rd_kafka_resp_err_t err = offsets_for_times_stepwise(latest);

		for (i = 0; i < latest->cnt; i++)
		{
			rd_kafka_topic_partition_t *q = &latest->elems[i];
			rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(parts, q->topic, q->partition);

			if (err == RD_KAFKA_RESP_ERR_NO_ERROR && q->err == 0 && q->offset >= 0)
			{
				p->offset = q->offset;
				rd_kafka_topic_partition_list_add(resolved, p->topic, p->partition)->offset = q->offset;
			}
			else
			{
				ereport(LOG,
						(errmsg("source \"%s\": cannot read the end offset of partition %d of \"%s\": %s",
								se_worker.args.name, p->partition, p->topic,
								rd_kafka_err2str(err ? err : q->err))));
				p->offset = RD_KAFKA_OFFSET_END;
			}
		}
	}
	rd_kafka_topic_partition_list_destroy(latest);
	if (by_time->cnt > 0)
	{
		rd_kafka_resp_err_t err = offsets_for_times_stepwise(by_time);

		if (err)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("source \"%s\": cannot look up offsets for start_from %s: %s",
							se_worker.args.name, se_worker.start_from, rd_kafka_err2str(err))));
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

/* For time_filter partitions: is m older than start_from? */
bool
offsets_skip_before_start(rd_kafka_message_t *m)
{
	const char *topic;
	rd_kafka_timestamp_type_t tstype;
	int64		ts;

	if (time_filter->cnt == 0)
		return false;
	topic = rd_kafka_topic_name(m->rkt);
	if (rd_kafka_topic_partition_list_find(time_filter, topic, m->partition) == NULL)
		return false;
	ts = rd_kafka_message_timestamp(m, &tstype);
	if (ts >= 0 && ts < se_worker.start_from_ms)
		return true;
	rd_kafka_topic_partition_list_del(time_filter, topic, m->partition);
	return false;
}
