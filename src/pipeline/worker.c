/*
 * worker.c
 *		A pipeline's background worker: runs micro-batches (batch.c) in a
 *		transaction each, as the pipeline's owner, when its trigger says so.
 *
 * Triggers: an interval N starts a batch N after the start of the previous
 * one; '0' runs the next batch at once while batches read rows, and when one
 * reads none sleeps on its latch until a commit into the source wakes it
 * (wakeup.c), or streamext.pipeline_idle_poll_ms passes; 'available_now'
 * runs batches until one reads nothing, then sets the state 'finished' and
 * exits; 'manual' pipelines have no worker.
 *
 * Each batch's transaction first checks that the pipeline still runs at the
 * generation the launcher started this worker for, and checks again after
 * the batch, before the commit (the batch has then taken the pipeline's
 * lock, so a pause, alter or drop that committed meanwhile is seen): if not,
 * the batch is rolled back and the worker exits; the launcher starts the
 * worker of the new generation.  After each commit the workers reading the
 * target are woken.
 *
 * Errors (src/common/errors.c): a transient one (serialization failure,
 * deadlock, lock timeout, out of resources, a connection) rolls the batch
 * back and retries it after a backoff; any other (an expectation with
 * on_violation 'fail', an error in the query, a constraint of the target)
 * would fail again on the same rows, so the worker sets the state 'error'
 * with last_error and exits; resume_pipeline or alter_pipeline start it
 * again.  SIGTERM (pause, drop, shutdown) ends the worker at once, rolling
 * back a batch in progress: die() makes the next CHECK_FOR_INTERRUPTS exit.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "common/worker_common.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_internal.h"
#include "monitor/monitor.h"

static PipelineWorkerArgs args;

/* One micro-batch as the loop sees it. */
typedef struct WorkerBatch
{
	PipelineDef *def;
	int64 rows; /* read from the source */
	bool gone;  /* paused, dropped or changed: stop */
} WorkerBatch;

/*
 * Does the pipeline still run at our generation?  Inside a transaction; the
 * pipeline's row as the owner sees it (row-level security).
 */
static bool
still_current(void)
{
	Oid types[1] = {INT8OID};
	Datum values[1];
	bool current = false;
	int pin;
	int ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("SPI_connect failed")));
	pin = se_pin_search_path();
	values[0] = Int64GetDatum(args.pipeline_id);
	ret = SPI_execute_with_args("SELECT state OPERATOR(pg_catalog.=) 'running', generation "
	                            "FROM streamext.pipelines WHERE id OPERATOR(pg_catalog.=) $1",
	                            1, types, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
		                errmsg_internal("cannot read streamext.pipelines: %s",
		                                SPI_result_code_string(ret))));
	if (SPI_processed == 1)
	{
		bool isnull1, isnull2;
		bool running =
		    DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull1));
		int32 generation =
		    DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull2));

		current = !isnull1 && running && !isnull2 && generation == args.generation;
	}
	se_unpin_search_path(pin);
	SPI_finish();
	return current;
}

/* Load the definition; NULL when the pipeline is gone or changed. */
static void
load_def(void *arg)
{
	PipelineDef **def = arg;
	SeXact x;

	se_xact_begin(&x, 0, "loading the pipeline");
	*def = NULL;
	if (still_current())
	{
		MemoryContext old = MemoryContextSwitchTo(x.caller);

		*def = pipeline_load_by_id(args.pipeline_id, true);
		MemoryContextSwitchTo(old);
	}
	se_xact_commit(&x);
}

/*
 * Every batch creates and drops its temporary tables, whose new OIDs leave
 * entries (negative ones too: statistics, types, ... looked up by the new
 * relid) in the catalog caches that nothing ever removes, about half a
 * kilobyte a batch: over millions of batches a worker's memory would grow
 * without bound.  So every so many batches the worker empties its caches,
 * as a backend does when it misses too many invalidation messages.
 */
#define PIPELINE_CACHE_RESET_BATCHES 1000

static void
run_batch(void *arg)
{
	WorkerBatch *wb = arg;
	SeXact x;
	static int batches_since_reset = 0;

	se_xact_begin(&x, 0, "running a micro-batch");
	if (++batches_since_reset >= PIPELINE_CACHE_RESET_BATCHES)
	{
		InvalidateSystemCaches();
		batches_since_reset = 0;
	}
	if (!still_current())
	{
		wb->gone = true;
		se_xact_abort(&x);
		return;
	}
	wb->rows = pipeline_run_batch(wb->def);
	if (!still_current())
	{
		/* a pause, alter or drop committed while the batch ran: it is not ours to commit */
		wb->gone = true;
		se_xact_abort(&x);
		return;
	}
	se_xact_commit(&x);
}

/* Set the pipeline's state (error with last_error, or finished), if it still runs at our
 * generation. */
typedef struct StateChange
{
	const char *state;
	const char *error;
} StateChange;

static void
set_state_xact(void *arg)
{
	StateChange *sc = arg;
	Oid types[4] = {INT8OID, TEXTOID, INT4OID, TEXTOID};
	Datum values[4];
	char nulls[4] = {' ', ' ', ' ', ' '};
	SeXact x;
	int ret;

	se_xact_begin(&x, SE_XACT_SPI | SE_XACT_PIN_PATH, NULL);
	values[0] = Int64GetDatum(args.pipeline_id);
	values[1] = CStringGetTextDatum(sc->state);
	values[2] = Int32GetDatum(args.generation);
	if (sc->error)
		values[3] = CStringGetTextDatum(sc->error);
	else
		nulls[3] = 'n';
	ret = SPI_execute_with_args("UPDATE streamext.pipelines SET state = $2, last_error = $4 "
	                            "WHERE id = $1 AND generation = $3 AND state = 'running'",
	                            4, types, values, nulls, false, 0);
	if (ret != SPI_OK_UPDATE)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
		                errmsg_internal("cannot update streamext.pipelines: %s",
		                                SPI_result_code_string(ret))));
	se_xact_commit(&x);
}

static void
set_state(const char *state, const char *error)
{
	StateChange sc = {state, error};
	ErrorData *ed;

	monitor_log_state("pipeline", args.name, state, error);
	ed = se_try(set_state_xact, &sc);

	if (ed != NULL)
		ereport(LOG,
		        (errcode(ed->sqlerrcode), errmsg("pipeline \"%s\": cannot set its state to %s: %s",
		                                         args.name, state, ed->message)));
}

/* Sleep until deadline (or, with wake_early, the latch), reacting to SIGTERM and SIGHUP. */
static void
wait_until(TimestampTz deadline, bool wake_early)
{
	for (;;)
	{
		long ms;
		int rc;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (ms <= 0)
			return;
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms,
		               PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if ((rc & WL_LATCH_SET) && wake_early)
			return;
	}
}

void
pipeline_worker_main(Datum main_arg)
{
	MemoryContext worker_cxt;
	MemoryContext batch_cxt;
	PipelineDef *def = NULL;
	SeBackoff backoff = {0};
	ErrorData *ed;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	Assert(DatumGetInt64(main_arg) == args.pipeline_id);
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnectionByOid(args.dboid, args.owner, 0);
	SetConfigOption("application_name", args.name, PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname(args.name);
	/* the extension's own queries; batch.c gives the user's query the pipeline's search_path */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION);

	worker_cxt = AllocSetContextCreate(TopMemoryContext, "streamext pipeline worker",
	                                   ALLOCSET_DEFAULT_SIZES);
	batch_cxt =
	    AllocSetContextCreate(worker_cxt, "streamext pipeline batch", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(worker_cxt);

	/* a broken definition is the user's to fix: state error */
	ed = se_try(load_def, &def);
	if (ed != NULL)
	{
		if (se_error_classify(ed) == SE_ERROR_TRANSIENT)
			ReThrowError(ed); /* the launcher restarts us after a backoff */
		set_state("error", se_error_text(ed));
		proc_exit(0);
	}
	if (def == NULL)
		proc_exit(0); /* paused, dropped or changed meanwhile */
	if (!pipeline_wakeup_register(def->id, def->source))
		ereport(LOG,
		        (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
		         errmsg("pipeline \"%s\": no wake-up entry free, polling its source", args.name),
		         errhint("Raise streamext.max_pipeline_workers.")));
	monitor_log_state("pipeline", args.name, "started", NULL);

	for (;;)
	{
		WorkerBatch wb = {.def = def};
		TimestampTz started;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		started = GetCurrentTimestamp();
		MemoryContextSwitchTo(batch_cxt);
		ed = se_try(run_batch, &wb);
		MemoryContextSwitchTo(worker_cxt);
		if (ed != NULL)
		{
			int delay;

			switch (se_error_classify(ed))
			{
				case SE_ERROR_SHUTDOWN:
					proc_exit(0);
					break;
				case SE_ERROR_TRANSIENT:
					delay = se_backoff_fail(&backoff, 0, started, true);
					ereport(LOG,
					        (errcode(ed->sqlerrcode),
					         errmsg("pipeline \"%s\": batch rolled back: %s; retrying in %d ms",
					                args.name, ed->message, delay)));
					MemoryContextReset(batch_cxt);
					wait_until(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay), false);
					continue;
				case SE_ERROR_DATA:
				{
					char *msg = se_error_text(ed);

					ereport(LOG, (errcode(ed->sqlerrcode),
					              errmsg("pipeline \"%s\" stopped: %s", args.name, msg),
					              errhint("Fix the data or the definition, then call "
					                      "streamext.resume_pipeline.")));
					set_state("error", msg);
					proc_exit(0);
				}
			}
		}
		MemoryContextReset(batch_cxt);
		if (backoff.failures > 0)
			monitor_log_state("pipeline", args.name, "recovered", NULL);
		backoff.failures = 0;
		if (wb.gone)
		{
			monitor_log_state("pipeline", args.name, "stopped",
			                  "paused, changed or dropped; its worker stops");
			proc_exit(0);
		}
		if (wb.rows > 0)
			pipeline_wake_readers(def->target);

		switch (def->trigger)
		{
			case PIPELINE_TRIGGER_AVAILABLE_NOW:
				if (wb.rows == 0)
				{
					set_state("finished", NULL);
					ereport(LOG, (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
					              errmsg("pipeline \"%s\" processed all available rows: finished",
					                     args.name)));
					proc_exit(0);
				}
				break;
			case PIPELINE_TRIGGER_INTERVAL:
				if (def->trigger_interval_ms > 0)
					wait_until(TimestampTzPlusMilliseconds(started, def->trigger_interval_ms),
					           false);
				else if (wb.rows == 0)
					wait_until(
					    TimestampTzPlusMilliseconds(GetCurrentTimestamp(), pipeline_idle_poll_ms),
					    true);
				break;
			case PIPELINE_TRIGGER_MANUAL:
				/* the launcher starts no worker for it; changed meanwhile: the next check stops us
				 */
				wait_until(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000), true);
				break;
		}
	}
}
