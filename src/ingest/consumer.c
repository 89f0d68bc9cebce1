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
#include <pthread.h>
#include <malloc.h>
#include <unistd.h>

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "ingest/worker.h"

static rd_kafka_queue_t *consumer_queue = NULL;
static int	wake_pipe[2] = {-1, -1};

/*
 * The partitions this consumer holds, as the rebalance callback gave them.
 * rd_kafka_assignment() would ask librdkafka's group thread and wait for its
 * answer without a time limit, which never comes while the consumer closes:
 * the worker keeps its own copy instead.
 */
static rd_kafka_topic_partition_list_t *assignment = NULL;

/*
 * How long closing the consumer may take at most, in all; while the brokers
 * are known to be down, leaving the group cannot succeed and is hardly tried.
 */
#define CLOSE_TIMEOUT_MS 1000
#define CLOSE_TIMEOUT_DOWN_MS 200

static void
assignment_changed(void)
{
	worker_set_assigned(assignment->cnt);
}

/* The partitions this consumer holds (never NULL). */
const rd_kafka_topic_partition_list_t *
consumer_assignment(void)
{
	if (assignment == NULL)
		assignment = rd_kafka_topic_partition_list_new(8);
	return assignment;
}

static void
assignment_add(const rd_kafka_topic_partition_list_t *parts)
{
	(void) consumer_assignment();
	for (int i = 0; i < parts->cnt; i++)
		if (!rd_kafka_topic_partition_list_find(assignment, parts->elems[i].topic,
												parts->elems[i].partition))
			rd_kafka_topic_partition_list_add(assignment, parts->elems[i].topic,
											  parts->elems[i].partition);
	assignment_changed();
}

static void
assignment_remove(const rd_kafka_topic_partition_list_t *parts)
{
	(void) consumer_assignment();
	if (parts == NULL)
	{
		rd_kafka_topic_partition_list_destroy(assignment);
		assignment = rd_kafka_topic_partition_list_new(8);
	}
	else
		for (int i = 0; i < parts->cnt; i++)
			rd_kafka_topic_partition_list_del(assignment, parts->elems[i].topic,
											  parts->elems[i].partition);
	assignment_changed();
}

static void
assign_partitions(void *arg)
{
	offsets_assign((rd_kafka_topic_partition_list_t *) arg);
}

static void
revoke_partitions(void *arg)
{
	offsets_revoke((const rd_kafka_topic_partition_list_t *) arg);
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
		ErrorData  *ed = se_try(assign_partitions, parts);

		if (ed != NULL)
		{
			if (se_worker.consumer_error == NULL)
				se_worker.consumer_error = MemoryContextStrdup(TopMemoryContext, ed->message);
			for (int i = 0; i < parts->cnt; i++)
				parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
		}
		ereport(LOG, (errmsg("source \"%s\" worker %d: assigned %d partitions",
							 se_worker.args.name, se_worker.args.index, parts->cnt)));
		if (se_worker.consumer_error || ShutdownRequestPending)
		{
			/* Take nothing; the worker restarts and rejoins, or stops. */
			if (!cooperative)
			{
				rd_kafka_assign(k, NULL);
				assignment_remove(NULL);
			}
			return;
		}
		if (cooperative)
			rd_kafka_error_destroy(rd_kafka_incremental_assign(k, parts));
		else
		{
			rd_kafka_assign(k, parts);
			assignment_remove(NULL);
		}
		assignment_add(parts);
	}
	else
	{
		ErrorData  *ed;

		/* Revoked (or an error): what we hold for them is someone else's now. */
		ereport(LOG, (errmsg("source \"%s\" worker %d: %d partitions revoked",
							 se_worker.args.name, se_worker.args.index, parts->cnt)));
		worker_drop_buffered(parts);
		/* An error (say flushing WAL) must not unwind through librdkafka. */
		ed = se_try(revoke_partitions, parts);
		if (ed != NULL)
		{
			if (se_worker.consumer_error == NULL)
				se_worker.consumer_error = MemoryContextStrdup(TopMemoryContext, ed->message);
			FreeErrorData(ed);
		}
		if (cooperative)
		{
			rd_kafka_error_destroy(rd_kafka_incremental_unassign(k, parts));
			assignment_remove(parts);
		}
		else
		{
			rd_kafka_assign(k, NULL);
			assignment_remove(NULL);
		}
	}
}

/*
 * The last failure per broker address, to say why "all brokers are down":
 * librdkafka's own count there includes each bootstrap entry besides the
 * broker it turned out to be (one broker is "2/2 brokers are down"), and
 * names neither addresses nor reasons.
 */
#define MAX_BROKER_FAILURES 8
typedef struct BrokerFailure
{
	char		addr[128];
	char		reason[192];
} BrokerFailure;
static BrokerFailure failures[MAX_BROKER_FAILURES];
static int	nfailures = 0;
static char *bootstrap_servers = NULL;

/* librdkafka's reasons for a broker start with "host:port/id: " (id "bootstrap" for an entry of the list). */
static void
remember_failure(const char *reason)
{
	const char *slash = strchr(reason, '/');
	const char *colon = slash ? strstr(slash, ": ") : NULL;
	size_t		alen;
	int			i;

	if (slash == NULL || colon == NULL || slash == reason)
		return;
	alen = Min((size_t) (slash - reason), sizeof(failures[0].addr) - 1);
	for (i = 0; i < nfailures; i++)
		if (strncmp(failures[i].addr, reason, alen) == 0 && failures[i].addr[alen] == '\0')
			break;
	if (i == nfailures)
	{
		if (nfailures == MAX_BROKER_FAILURES)
			i = MAX_BROKER_FAILURES - 1;
		else
			nfailures++;
		memcpy(failures[i].addr, reason, alen);
		failures[i].addr[alen] = '\0';
	}
	strlcpy(failures[i].reason, colon + 2, sizeof(failures[i].reason));
}

/*
 * "1 broker unreachable: 127.0.0.1:9092 (Connect to ... failed: Connection
 * refused ...)".  librdkafka may report every broker down before it says why
 * (a connection the broker closed is not reported): then the reason follows
 * with the next failure.
 */
static char *
brokers_down_reason(void)
{
	StringInfoData s;

	if (nfailures == 0)
		return psprintf("no broker of \"%s\" answers", bootstrap_servers ? bootstrap_servers : "");
	initStringInfo(&s);
	appendStringInfo(&s, "%d broker%s unreachable: ", nfailures, nfailures == 1 ? "" : "s");
	for (int i = 0; i < nfailures; i++)
		appendStringInfo(&s, "%s%s (%s)", i > 0 ? "; " : "", failures[i].addr, failures[i].reason);
	return s.data;
}

/* The brokers answer again: forget old failures. */
void
consumer_brokers_up(void)
{
	nfailures = 0;
}

/* librdkafka reports errors through here, from inside a poll call. */
static void
error_cb(rd_kafka_t *k, int err, const char *reason, void *opaque)
{
	if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__RESOLVE ||
		err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL)
	{
		remember_failure(reason);
		if (se_worker.broker_down)
			worker_set_broker_down_reason(brokers_down_reason());
	}
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		worker_set_broker_down(true, brokers_down_reason());
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

static pthread_t worker_thread;

/*
 * librdkafka's own log lines, in the server log's format (and jsonlog) with
 * the source's name instead of raw on stderr.  log.queue makes librdkafka
 * queue them instead of calling this from its threads; the queue is the
 * consumer's, served by rd_kafka_consumer_poll() on the worker's thread.
 * ereport() must not run on any other thread: should librdkafka ever call
 * from one, the line goes to stderr as before.
 */
static void
log_cb(const rd_kafka_t *k, int level, const char *fac, const char *line)
{
	int			elevel;

	if (!pthread_equal(pthread_self(), worker_thread))
	{
		fprintf(stderr, "%%%d|%s|%s\n", level, fac, line);
		return;
	}
	/* syslog levels: 0-4 emergency .. warning, 5 notice, 6 info, 7 debug */
	if (level <= 4)
		elevel = LOG;
	else if (level <= 6)
		elevel = DEBUG1;
	else
		elevel = DEBUG2;
	ereport(elevel,
			(errcode(level <= 3 ? ERRCODE_CONNECTION_EXCEPTION : ERRCODE_WARNING),
			 errmsg("source \"%s\": Kafka client: %s", se_worker.args.name, line),
			 errdetail_internal("librdkafka %s, level %d", fac, level)));
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
	bootstrap_servers = MemoryContextStrdup(TopMemoryContext, brokers);
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

	/*
	 * A fetch that finds nothing new waits at the broker for up to
	 * fetch.wait.max.ms (librdkafka's default 500 ms).  Kafka answers it as
	 * soon as data arrives, so there the wait costs no latency; a broker that
	 * holds an empty fetch for the whole wait (librdkafka's mock cluster, the
	 * test rig's broker, does) would keep each message waiting longer than
	 * the batch_max_ms the source asked for.  A source with a short
	 * batch_max_ms therefore waits no longer than that; the default (500 ms)
	 * keeps librdkafka's default.  A fetch.wait.max.ms of the source's kafka
	 * properties wins.
	 */
	if (se_worker.batch_max_ms < 500)
	{
		snprintf(num, sizeof(num), "%d", se_worker.batch_max_ms);
		kafka_conf_set(conf, "fetch.wait.max.ms", num);
	}
	kafka_conf_set(conf, "log.connection.close", "false");
	/* New partitions (and topics matching a ^regex) show up in metadata: look every 30 s, not 5 min. */
	kafka_conf_set(conf, "topic.metadata.refresh.interval.ms", "30000");

	/*
	 * A worker that crashed (or a server that died) stays a group member
	 * until its session times out, and the rebalance that gives its
	 * partitions to the restarted worker waits for that: keep it short.
	 */
	kafka_conf_set(conf, "session.timeout.ms", "6000");
	/* Documented: messages of open or aborted transactions are not ingested. */
	kafka_conf_set(conf, "isolation.level", "read_committed");
	kafka_conf_set(conf, "heartbeat.interval.ms", "1000");
	for (lc = list_head(kafka_props); lc != NULL; lc = lnext(kafka_props, lnext(kafka_props, lc)))
		kafka_conf_set(conf, lfirst(lc), lfirst(lnext(kafka_props, lc)));
	fetch_max_at_least_message_max(conf);

	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_offset_commit_cb(conf, offsets_commit_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	worker_thread = pthread_self();
	rd_kafka_conf_set_log_cb(conf, log_cb);
	kafka_conf_set(conf, "log.queue", "true");

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
	/* Log lines to the main queue, which the consumer queue now serves (see log_cb). */
	rd_kafka_poll_set_consumer(se_worker.rk);
	rd_kafka_set_log_queue(se_worker.rk, NULL);

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
consumer_fetcher_behind(char **topic, int32 *partition, int64 *position)
{
	rd_kafka_topic_partition_list_t *assigned;
	bool		behind = false;
	int			i;

	*topic = NULL;
	if (consumer_assignment()->cnt == 0)
		return false;
	assigned = rd_kafka_topic_partition_list_copy(consumer_assignment());
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
			*position = a->offset;
		}
	}
	rd_kafka_topic_partition_list_destroy(assigned);
	return behind;
}

/*
 * Wake the broker thread that fetches the partition: an asynchronous seek to
 * where the worker is (the offset after the last message polled) reaches the
 * thread as an operation, and having served it, the thread decides again
 * what to fetch.  Nothing is lost or read twice: what was fetched beyond the
 * position and not polled yet is discarded and fetched again.  The seek does
 * not wait for the brokers (an earlier version asked the partition's leader
 * for its watermarks, which blocked for many seconds when brokers did not
 * answer, whatever its time limit).
 */
void
consumer_nudge_fetcher(const char *topic, int32 partition, int64 position)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_error_t *error;

	rd_kafka_topic_partition_list_add(list, topic, partition)->offset = position;
	error = rd_kafka_seek_partitions(se_worker.rk, list, 0);
	if (error)
		rd_kafka_error_destroy(error);
	rd_kafka_topic_partition_list_destroy(list);
}

/* The descriptor that becomes readable when the consumer queue has something. */
int
consumer_wake_fd(void)
{
	return wake_pipe[0];
}

/*
 * One wait for an event of q: at most 100 ms, so that the caller's loop
 * looks at its own condition that often, and never past deadline.  False
 * once deadline has passed (nothing is polled then); else *ev is the event
 * (the caller destroys it) or NULL.
 */
bool
consumer_poll_until(rd_kafka_queue_t *q, TimestampTz deadline, rd_kafka_event_t **ev)
{
	long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

	*ev = NULL;
	if (left <= 0)
		return false;
	*ev = rd_kafka_queue_poll(q, (int) Min(left, 100));
	return true;
}

/*
 * Serve the close queue until the consumer has left the group or the time is
 * up.  Rebalance events are answered here by giving the partitions up; no
 * PostgreSQL work, commits or other calls into the consumer happen while it
 * closes.
 */
static bool
close_consumer_bounded(TimestampTz deadline)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(se_worker.rk);
	rd_kafka_error_t *error;
	bool		closed;

	error = rd_kafka_consumer_close_queue(se_worker.rk, q);
	if (error)
	{
		ereport(DEBUG1,
				(errmsg_internal("source \"%s\": closing the consumer: %s",
								 se_worker.args.name, rd_kafka_error_string(error))));
		rd_kafka_error_destroy(error);
		rd_kafka_queue_destroy(q);
		return rd_kafka_consumer_closed(se_worker.rk);
	}
	while (!(closed = rd_kafka_consumer_closed(se_worker.rk)))
	{
		rd_kafka_event_t *ev;

		if (!consumer_poll_until(q, deadline, &ev))
			break;
		if (ev == NULL)
			continue;
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
		{
			if (strcmp(rd_kafka_rebalance_protocol(se_worker.rk), "COOPERATIVE") == 0)
			{
				rd_kafka_topic_partition_list_t *parts = rd_kafka_event_topic_partition_list(ev);

				if (rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && parts)
					rd_kafka_error_destroy(rd_kafka_incremental_unassign(se_worker.rk, parts));
			}
			else
				rd_kafka_assign(se_worker.rk, NULL);
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	return closed;
}

/*
 * Stop: what is committed is told to Kafka, then leave the group.  All of it
 * within CLOSE_TIMEOUT_MS whatever the brokers do: a worker must stop
 * promptly for pause, drop and shutdown.  A consumer that could not leave
 * the group in time is not destroyed (that would wait for its group thread
 * as long as the brokers keep it); the process exits with it, and the group
 * notices when its session times out.
 */
void
consumer_close(void)
{
	TimestampTz start = GetCurrentTimestamp();
	int			limit = se_worker.broker_down ? CLOSE_TIMEOUT_DOWN_MS : CLOSE_TIMEOUT_MS;
	TimestampTz deadline = TimestampTzPlusMilliseconds(start, limit);
	bool		closed;

	offsets_commit_written(consumer_assignment(),
						   TimestampTzPlusMilliseconds(start, limit / 3));
	rd_kafka_queue_destroy(consumer_queue);
	consumer_queue = NULL;
	closed = close_consumer_bounded(deadline);
	if (closed)
		rd_kafka_destroy_flags(se_worker.rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	else
		ereport(LOG,
				(errmsg("source \"%s\" worker %d: the consumer did not leave its group within %d ms; stopping without it",
						se_worker.args.name, se_worker.args.index, limit)));
	se_worker.rk = NULL;
	ereport(DEBUG1,
			(errmsg_internal("source \"%s\" worker %d: consumer closed in %ld ms",
							 se_worker.args.name, se_worker.args.index,
							 TimestampDifferenceMilliseconds(start, GetCurrentTimestamp()))));
}
