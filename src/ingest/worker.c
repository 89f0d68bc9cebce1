/*
 * worker.c
 *		A source's consumer worker: the main loop that collects messages from
 *		the consumer (consumer.c) into batches and hands each batch to the
 *		sink in one transaction, with its offsets (offsets.c).
 *
 * Messages buffered for partitions that are revoked are dropped: whoever gets
 * the partition rereads them from the stored offsets.
 *
 * The worker waits on its latch and on a pipe that librdkafka writes to when
 * the consumer queue becomes non-empty, so it reacts at once to messages,
 * SIGTERM (pause/drop of the source) and postmaster death.
 */
#include "postgres.h"

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
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ingest/options.h"
#include "ingest/worker.h"
#include "common/launcher.h"
#include "pipeline/pipeline.h"
#include "monitor/monitor.h"

SourceWorker se_worker = {.start_from = "earliest",.start_from_ms = -1,
.max_buffered_bytes = 32 * 1024 * 1024,.batch_max_ms = 500};

static IngestWorkerSlot *myslot = NULL;
static SinkState *sink = NULL;
static Oid	sink_target = InvalidOid;	/* the table the sink writes */
static MemoryContext worker_cxt;

/* options */
static int	batch_max_messages = 10000;

/* the batch being collected */
static rd_kafka_message_t **buf = NULL;
static int	nbuf = 0;
static int64 buf_bytes = 0;
static TimestampTz batch_started = 0;

/* How long to wait for a fetch while Kafka has messages for us, before nudging the fetcher. */
#define FETCH_NUDGE_MS 20

static TimestampTz last_health_check = 0;

void
worker_slot_set_error(const char *msg)
{
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	if (msg)
		strlcpy(myslot->last_error, msg, INGEST_ERROR_LEN);
	else
		myslot->last_error[0] = '\0';
	LWLockRelease(ingest_shared->lock);
}

void
worker_set_broker_down(bool down, const char *why)
{
	if (down == se_worker.broker_down)
		return;
	se_worker.broker_down = down;
	if (down)
		monitor_log_state("source", se_worker.args.name, "disconnected",
						  psprintf("cannot reach the Kafka brokers: %s; retrying", why));
	else
	{
		consumer_brokers_up();
		monitor_log_state("source", se_worker.args.name, "recovered", "Kafka brokers reachable again");
	}
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	myslot->broker_down = down;
	if (down)
		snprintf(myslot->last_error, INGEST_ERROR_LEN, "brokers down: %s", why);
	else
		myslot->last_error[0] = '\0';
	LWLockRelease(ingest_shared->lock);
}

/* The number of partitions the consumer holds, for source_status. */
void
worker_set_assigned(int npartitions)
{
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	myslot->assigned = npartitions;
	LWLockRelease(ingest_shared->lock);
}

/* A better reason for an outage already reported. */
void
worker_set_broker_down_reason(const char *why)
{
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	if (myslot->broker_down)
		snprintf(myslot->last_error, INGEST_ERROR_LEN, "brokers down: %s", why);
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
			(s->source_id == se_worker.args.source_id && s->index == se_worker.args.index &&
			 (s->pid == 0 || BackendPidGetProc(s->pid) == NULL)))
		{
			memset(s, 0, sizeof(IngestWorkerSlot));
			s->in_use = true;
			s->pid = MyProcPid;
			s->source_id = se_worker.args.source_id;
			s->index = se_worker.args.index;
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
	SeXact		x;

	monitor_log_state("source", se_worker.args.name, "error", msg);
	se_xact_begin(&x, SE_XACT_SPI | SE_XACT_PIN_PATH, NULL);
	values[0] = Int64GetDatum(se_worker.args.source_id);
	values[1] = CStringGetTextDatum(msg);
	values[2] = Int32GetDatum(se_worker.args.generation);
	SPI_execute_with_args("UPDATE streamext.sources SET state = 'error', last_error = $2 "
						  "WHERE id = $1 AND generation = $3 AND state = 'running'",
						  3, types, values, NULL, false, 0);
	se_xact_commit(&x);
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
	SeXact		x;

	se_xact_begin(&x, SE_XACT_SPI | SE_XACT_PIN_PATH, "reading the source");
	values[0] = Int64GetDatum(se_worker.args.source_id);
	ret = SPI_execute_with_args("SELECT brokers, topic, target::oid, format, options, generation, state, name, "
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

		if (generation == se_worker.args.generation && strcmp(state, "running") == 0)
		{
			MemoryContext old = MemoryContextSwitchTo(x.caller);
			Datum		d;

			*brokers = SPI_getvalue(tup, td, 1);
			*topic = SPI_getvalue(tup, td, 2);
			*target = DatumGetObjectId(SPI_getbinval(tup, td, 3, &isnull));
			*format = SPI_getvalue(tup, td, 4);
			d = SPI_getbinval(tup, td, 5, &isnull);
			*options = DatumGetJsonbPCopy(d);
			d = SPI_getbinval(tup, td, 9, &isnull);
			se_worker.start_from_ms = isnull ? -1 : DatumGetInt64(d);

			/* The defaults are those of the options table (options.c). */
			*group_id = source_option_string(*options, "group_id");
			if (*group_id == NULL)
				*group_id = psprintf("streamext-%s", SPI_getvalue(tup, td, 8));
			batch_max_messages = (int) source_option_int(*options, "batch_max_messages");
			se_worker.batch_max_ms = (int) source_option_int(*options, "batch_max_ms");
			se_worker.max_buffered_bytes = source_option_int(*options, "max_buffered_bytes");
			se_worker.start_from = source_option_string(*options, "start_from");
			*kafka_props = kafka_property_list(*options);
			MemoryContextSwitchTo(old);
			ok = true;
		}
	}
	se_xact_commit(&x);
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

/* Does a message of the partition wait in the batch being collected? */
bool
worker_has_buffered(const char *topic, int32 partition)
{
	for (int i = 0; i < nbuf; i++)
		if (buf[i]->partition == partition && strcmp(rd_kafka_topic_name(buf[i]->rkt), topic) == 0)
			return true;
	return false;
}

/* Drop buffered messages of the given partitions (they are being revoked). */
void
worker_drop_buffered(const rd_kafka_topic_partition_list_t *parts)
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

static TimestampTz
kafka_ms_to_timestamptz(int64 ms)
{
	return (TimestampTz) (ms * 1000 -
						  ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)) * USECS_PER_DAY);
}

/* One attempt at writing the batch, in a transaction of its own. */
typedef struct WriteAttempt
{
	SinkMessage *msgs;
	BatchPartitions *bp;
	SinkResult *res;
	ClaimResult claim;
	bool		done;
} WriteAttempt;

static void
write_attempt(void *arg)
{
	WriteAttempt *wa = arg;
	SeXact		x;

	se_xact_begin(&x, 0, NULL);
	wa->claim = offsets_claim_batch(wa->bp);
	if (wa->claim == CLAIM_OK)
	{
		sink_write_batch(sink, wa->msgs, nbuf, wa->bp, wa->res);
		se_xact_commit(&x);
		wa->done = true;
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
	TimestampTz write_started;

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
	write_started = GetCurrentTimestamp();
	for (int attempt = 0;; attempt++)
	{
		WriteAttempt wa = {.msgs = msgs,.bp = &bp,.res = &res,.claim = CLAIM_OK,.done = false};
		ErrorData  *ed;
		bool		done;
		ClaimResult claim;

		if (attempt > 20)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("source \"%s\": merge_schema added columns but the messages still do not match them",
							se_worker.args.name)));

		ed = se_try(write_attempt, &wa);
		/* merge_schema found new keys: add the columns, then write the batch again. */
		if (ed != NULL && !sink_schema_pending(sink))
			ReThrowError(ed);
		done = wa.done;
		claim = ed ? CLAIM_OK : wa.claim;
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
				monitor_log_state("source", se_worker.args.name, "stopped",
								  psprintf("paused, changed or dropped; worker %d stops", se_worker.args.index));
				free_buffer();
				ShutdownRequestPending = true;
			}
			else
				offsets_skip_stale();
			MemoryContextReset(batch_cxt);
			return;
		}
		sink_apply_schema(sink);
	}
	pgstat_report_activity(STATE_IDLE, NULL);

	/* Pipelines reading the target see the rows now: wake them. */
	if (res.rows > 0)
		pipeline_wake_readers(sink_target);

	/* The offsets are stored; Kafka hears of them once the commit is durable. */
	offsets_batch_written(msgs, nbuf, XactLastCommitEnd);
	monitor_log_source_batch(se_worker.args.source_id, se_worker.args.name, bp.n, nbuf,
							 res.rows, res.dead_letters, bytes, write_started);

	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	myslot->messages += nbuf;
	myslot->rows += res.rows;
	myslot->dead_letters += res.dead_letters;
	myslot->bytes += bytes;
	myslot->last_batch_at = GetCurrentTimestamp();
	sink_publish_stats(sink, &myslot->decode);
	LWLockRelease(ingest_shared->lock);

	MemoryContextSwitchTo(old);
	free_buffer();
	MemoryContextReset(batch_cxt);
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
	if (se_worker.broker_down && rd_kafka_metadata(se_worker.rk, 0, NULL, &md, 200) == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		rd_kafka_metadata_destroy(md);
		worker_set_broker_down(false, NULL);
	}
	offsets_store_skipped();
	lag = offsets_lag();
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	myslot->lag = lag;
	LWLockRelease(ingest_shared->lock);
}

/* After maintenance: say in source_status whether retention waits for a pipeline. */
static void
publish_retention_wait(void)
{
	const char *wait = sink_retention_wait(sink);

	if (strcmp(myslot->retention_wait, wait ? wait : "") == 0)
		return;
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	strlcpy(myslot->retention_wait, wait ? wait : "", INGEST_ERROR_LEN);
	LWLockRelease(ingest_shared->lock);
}

static void
consume_loop(void)
{
	MemoryContext batch_cxt = AllocSetContextCreate(worker_cxt, "streamext batch",
													 ALLOCSET_DEFAULT_SIZES);

	buf = MemoryContextAlloc(worker_cxt, sizeof(rd_kafka_message_t *) * batch_max_messages);
	offsets_init();

	while (!ShutdownRequestPending)
	{
		TimestampTz now;
		long		timeout;
		int			rc;
		bool		behind;
		char	   *behind_topic = NULL;
		int32		behind_partition = 0;
		int64		behind_position = 0;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		sink_maintain(sink);
		publish_retention_wait();

		while (nbuf < batch_max_messages && buf_bytes < consumer_batch_max_bytes() && !ShutdownRequestPending)
		{
			rd_kafka_message_t *m = rd_kafka_consumer_poll(se_worker.rk, 0);

			if (se_worker.consumer_error)
			{
				if (m)
					rd_kafka_message_destroy(m);
				/* A callback gave up because the worker is to stop: stop. */
				if (ShutdownRequestPending)
					break;
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("source \"%s\": consumer failed: %s", se_worker.args.name, se_worker.consumer_error)));
			}
			if (m == NULL)
				break;
			if (m->err)
			{
				if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				{
					ereport(LOG,
							(errmsg("source \"%s\": %s", se_worker.args.name, rd_kafka_message_errstr(m))));
					worker_slot_set_error(rd_kafka_message_errstr(m));
				}
				rd_kafka_message_destroy(m);
				continue;
			}
			if (se_worker.broker_down)
				worker_set_broker_down(false, NULL);
			if (offsets_skip_before_start(m))
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
			(nbuf >= batch_max_messages || buf_bytes >= consumer_batch_max_bytes() ||
			 TimestampDifferenceExceeds(batch_started, now, se_worker.batch_max_ms)))
		{
			flush_batch(batch_cxt);
			offsets_commit_to_kafka(false);
			check_health(now);
			continue;
		}
		offsets_commit_to_kafka(false);
		check_health(now);

		if (nbuf > 0)
		{
			long		secs;
			int			usecs;

			TimestampDifference(now, TimestampTzPlusMilliseconds(batch_started, se_worker.batch_max_ms), &secs, &usecs);
			timeout = secs * 1000 + usecs / 1000 + 1;
		}
		else
			timeout = 1000;
		if (offsets_commit_pending())
			timeout = Min(timeout, 200);
		/* While the brokers are down, there is nothing to wake. */
		behind = !se_worker.broker_down &&
			consumer_fetcher_behind(&behind_topic, &behind_partition, &behind_position);
		if (behind)
			timeout = Min(timeout, FETCH_NUDGE_MS);
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							   consumer_wake_fd(), timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		consumer_drain_wakeups();
		if (behind && (rc & WL_TIMEOUT))
			consumer_nudge_fetcher(behind_topic, behind_partition, behind_position);
		if (behind_topic)
			pfree(behind_topic);
	}
}

/* What the worker checks and builds before consuming. */
typedef struct WorkerSetup
{
	char	   *brokers;
	char	   *topic;
	Oid			target;
	char	   *format;
	Jsonb	   *options;
	char	   *group_id;
	List	   *kafka_props;
} WorkerSetup;

static void
worker_setup(void *arg)
{
	WorkerSetup *ws = arg;
	Relation	rel;
	SeXact		x;

	se_xact_begin(&x, 0, NULL);
	rel = try_relation_open(ws->target, AccessShareLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the target table of source \"%s\" does not exist any more", se_worker.args.name)));
	(void) decoder_create(RelationGetDescr(rel), ws->format, ws->options);
	relation_close(rel, AccessShareLock);
	se_xact_commit(&x);
	sink = sink_create(se_worker.args.name, ws->target, ws->format, ws->options, worker_cxt);
	sink_target = ws->target;

	/*
	 * The properties were checked when they were set, as the role that set
	 * them; check again what holds for every role (say in a source older
	 * than a check): nothing librdkafka must never get, no buffer larger
	 * than the source's memory budget.
	 */
	kafka_check_properties(ws->options, true, se_worker.args.name);
	consumer_create(ws->brokers, ws->topic, ws->group_id, ws->kafka_props);
}

static void
worker_consume(void *arg)
{
	consume_loop();
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
	WorkerSetup setup;
	ErrorData  *ed;

	memcpy(&se_worker.args, MyBgworkerEntry->bgw_extra, sizeof(se_worker.args));
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnectionByOid(se_worker.args.dboid, se_worker.args.owner, 0);
	SetConfigOption("application_name", se_worker.args.name, PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname(se_worker.args.name);
	/* Rows and offsets commit together, so losing an unflushed commit loses nothing. */
	SetConfigOption("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION);

	worker_cxt = AllocSetContextCreate(TopMemoryContext, "streamext source worker",
									   ALLOCSET_DEFAULT_SIZES);
	claim_slot();

	cxt = MemoryContextSwitchTo(worker_cxt);
	if (!load_source(&brokers, &topic, &target, &format, &options, &group_id, &kafka_props))
		proc_exit(0);

	/* Check what can be checked before consuming; a broken setup stops the source. */
	setup.brokers = brokers;
	setup.topic = topic;
	setup.target = target;
	setup.format = format;
	setup.options = options;
	setup.group_id = group_id;
	setup.kafka_props = kafka_props;
	ed = se_try(worker_setup, &setup);
	if (ed != NULL)
	{
		set_error_state(ed->message);
		proc_exit(0);
	}

	/* for the launcher's automatic parallelism, before the consumer group forms */
	if (se_worker.args.index == 0)
	{
		int			partitions = consumer_topic_partitions(topic, 500);

		if (partitions > 0)
		{
			LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
			myslot->topic_partitions = partitions;
			LWLockRelease(ingest_shared->lock);
			se_launcher_wake();
		}
	}

	monitor_log_state("source", se_worker.args.name, "started", psprintf("worker %d", se_worker.args.index));

	ed = se_try(worker_consume, NULL);
	if (ed != NULL)
	{
		/*
		 * The consumer is not closed: after an error its state is unknown and
		 * a clean close could block.  The group notices our exit when the
		 * session times out, and the next worker reads our stored offsets.
		 */
		switch (se_error_classify(ed))
		{
			case SE_ERROR_SHUTDOWN:
				/* A batch abandoned for pause, drop or shutdown: stop as gracefully as ever. */
				ereport(LOG, (errmsg("%s", ed->message)));
				break;
			case SE_ERROR_TRANSIENT:
				/* the launcher restarts the worker, after a backoff */
				ReThrowError(ed);
				break;
			case SE_ERROR_DATA:
				set_error_state(ed->message);
				proc_exit(0);
		}
	}

	/* Graceful stop: what is committed is told to Kafka, then leave the group. */
	free_buffer();
	consumer_close();
	MemoryContextSwitchTo(cxt);
	proc_exit(0);
}
