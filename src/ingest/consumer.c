/*
 * consumer.c
 *		The librdkafka high-level consumer of a worker: its configuration,
 *		the callbacks librdkafka calls (rebalance, errors), the pipe that
 *		wakes the worker when messages arrive, keeping the fetcher busy, and
 *		closing it.
 *
 * librdkafka calls the callbacks from inside rd_kafka_consumer_poll() on the
 * worker's only thread, so they may use PostgreSQL, but an error must not
 * unwind through librdkafka: it is kept in se_worker.consumer_error and raised
 * by the loop after the poll.
 */
#include "postgres.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "ingest/worker.h"

static rd_kafka_queue_t *consumer_queue = NULL;
static int	wake_pipe[2] = {-1, -1};

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
			offsets_assign(parts);
		}
		PG_CATCH();
		{
			ErrorData  *ed;

			MemoryContextSwitchTo(cxt);
			ed = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			if (se_worker.consumer_error == NULL)
				se_worker.consumer_error = MemoryContextStrdup(TopMemoryContext, ed->message);
			for (int i = 0; i < parts->cnt; i++)
				parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
		}
		PG_END_TRY();
		ereport(LOG, (errmsg("source \"%s\" worker %d: assigned %d partitions",
							 se_worker.args.name, se_worker.args.index, parts->cnt)));
		if (se_worker.consumer_error)
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
							 se_worker.args.name, se_worker.args.index, parts->cnt)));
		worker_drop_buffered(parts);
		/* An error (say flushing WAL) must not unwind through librdkafka. */
		PG_TRY();
		{
			offsets_revoke(parts);
		}
		PG_CATCH();
		{
			ErrorData  *ed;

			MemoryContextSwitchTo(cxt);
			ed = CopyErrorData();
			FlushErrorState();
			if (se_worker.consumer_error == NULL)
				se_worker.consumer_error = MemoryContextStrdup(TopMemoryContext, ed->message);
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
		worker_set_broker_down(true, reason);
	else if (err == RD_KAFKA_RESP_ERR__FATAL)
	{
		char		buf2[256];

		rd_kafka_fatal_error(k, buf2, sizeof(buf2));
		if (se_worker.consumer_error == NULL)
			se_worker.consumer_error = MemoryContextStrdup(TopMemoryContext, buf2);
	}
	else if (err != RD_KAFKA_RESP_ERR__TRANSPORT)
		worker_slot_set_error(reason);
}

static void
kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kafka property \"%s\" of source \"%s\": %s", name, se_worker.args.name, errstr)));
}

/*
 * Of max_buffered_bytes, the batch being built gets a quarter (1 to 16 MiB)
 * and librdkafka's prefetch queue the rest.  A full queue stops fetching
 * until librdkafka's broker thread next wakes up; consumer_fetcher_behind() and
 * consumer_nudge_fetcher() make sure a worker that drained it does not wait for that.
 */
int64
consumer_batch_max_bytes(void)
{
	return Min(Max(1024 * 1024, se_worker.max_buffered_bytes / 4), 16 * 1024 * 1024);
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

void
consumer_create(const char *brokers, const char *topic, const char *group_id, List *kafka_props)
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
	kafka_conf_set(conf, "client.id", psprintf("streamext-%s", se_worker.args.name));
	kafka_conf_set(conf, "enable.auto.commit", "false");
	kafka_conf_set(conf, "enable.auto.offset.store", "false");
	kafka_conf_set(conf, "auto.offset.reset", strcmp(se_worker.start_from, "latest") == 0 ? "latest" : "earliest");
	snprintf(num, sizeof(num), "%d", (int) Max(1024, (se_worker.max_buffered_bytes - consumer_batch_max_bytes()) / 1024));
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
	rd_kafka_conf_set_offset_commit_cb(conf, offsets_commit_cb);
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
	mallopt(M_MMAP_THRESHOLD, (int) Min(se_worker.max_buffered_bytes / 4, 32 * 1024 * 1024));
	mallopt(M_TRIM_THRESHOLD, (int) Min(se_worker.max_buffered_bytes / 2, 1024 * 1024 * 1024));

	se_worker.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (se_worker.rk == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot create the Kafka consumer of source \"%s\": %s", se_worker.args.name, errstr)));
	rd_kafka_poll_set_consumer(se_worker.rk);

	if (pipe(wake_pipe) != 0 ||
		fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
		fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("cannot create a pipe: %m")));
	consumer_queue = rd_kafka_queue_get_consumer(se_worker.rk);
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
	err = rd_kafka_subscribe(se_worker.rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	if (err)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\" cannot subscribe to \"%s\": %s", se_worker.args.name, topic,
						rd_kafka_err2str(err))));
}

/*
 * The number of partitions of the source's topics, from the brokers'
 * metadata, or -1 when unknown (a pattern subscription, a topic that does
 * not exist, brokers that do not answer within timeout_ms per topic).  The
 * launcher sizes a source without a parallelism option by it: asked right
 * after subscribing, it lets the source's other workers join the consumer
 * group in its first rebalance instead of causing a second one later.
 */
int
consumer_topic_partitions(const char *topic, int timeout_ms)
{
	char	   *topics = pstrdup(topic);
	char	   *tok;
	char	   *save = NULL;
	int			count = 0;

	if (topics[0] == '^')
		return -1;
	for (tok = strtok_r(topics, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		rd_kafka_topic_t *rkt;
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t err;

		while (*tok == ' ')
			tok++;
		while (*tok && tok[strlen(tok) - 1] == ' ')
			tok[strlen(tok) - 1] = '\0';
		if (*tok == '\0')
			continue;
		CHECK_FOR_INTERRUPTS();
		rkt = rd_kafka_topic_new(se_worker.rk, tok, NULL);
		if (rkt == NULL)
			return -1;
		err = rd_kafka_metadata(se_worker.rk, 0, rkt, &md, timeout_ms);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0)
			count += md->topics[0].partition_cnt;
		else
			count = -1;
		if (md)
			rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(rkt);
		if (count < 0)
			return -1;
	}
	return count > 0 ? count : -1;
}

void
consumer_drain_wakeups(void)
{
	char		junk[64];

	while (read(wake_pipe[0], junk, sizeof(junk)) > 0)
		;
}

/*
 * Nothing to poll although Kafka has messages we have not received: the
 * fetcher may be asleep.  librdkafka (2.0) stops fetching while its queue is
 * full and looks again only when its broker thread next wakes up, up to a
 * second later, even though we drained the queue long before.  Returns true
 * and names one such partition.
 */
bool
consumer_fetcher_behind(char **topic, int32 *partition)
{
	rd_kafka_topic_partition_list_t *assigned = NULL;
	bool		behind = false;
	int			i;

	*topic = NULL;
	if (rd_kafka_assignment(se_worker.rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || assigned == NULL)
		return false;
	/* The offset after the last message polled, per partition. */
	(void) rd_kafka_position(se_worker.rk, assigned);
	for (i = 0; i < assigned->cnt && !behind; i++)
	{
		rd_kafka_topic_partition_t *a = &assigned->elems[i];
		int64_t		lo = -1,
					hi = -1;

		if (a->offset < 0 ||
			rd_kafka_get_watermark_offsets(se_worker.rk, a->topic, a->partition, &lo, &hi) != 0)
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
void
consumer_nudge_fetcher(const char *topic, int32 partition)
{
	int64_t		lo,
				hi;

	(void) rd_kafka_query_watermark_offsets(se_worker.rk, topic, partition, &lo, &hi, 200);
}

/* The descriptor that becomes readable when the consumer queue has something. */
int
consumer_wake_fd(void)
{
	return wake_pipe[0];
}

/* Graceful stop: what is committed is told to Kafka, then leave the group. */
void
consumer_close(void)
{
	rd_kafka_topic_partition_list_t *assigned = NULL;

	if (rd_kafka_assignment(se_worker.rk, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR && assigned)
	{
		offsets_commit_written(assigned);
		rd_kafka_topic_partition_list_destroy(assigned);
	}
	rd_kafka_queue_destroy(consumer_queue);
	if (se_worker.broker_down)
		rd_kafka_destroy_flags(se_worker.rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	else
	{
		rd_kafka_consumer_close(se_worker.rk);
		rd_kafka_destroy(se_worker.rk);
	}
}
