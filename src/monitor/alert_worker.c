/*
 * alert_worker.c
 *		The alerts' pass of the streamext launcher, and the one "streamext
 *		alerts" worker that evaluates every alert when it is due.
 *
 * The launcher runs the worker while streamext.alerts has any row.  The
 * worker connects as the bootstrap superuser with search_path pinned to
 * pg_catalog, pg_temp, and every alert gets a transaction of its own: it
 * locks the alert's row (SKIP LOCKED: a pause in progress is not waited
 * for), runs the alert's query (eval_query, built by alert_query.c) as the
 * alert's owner under the alert's search_path, restricted
 * (SECURITY_RESTRICTED_OPERATION), read-only and bounded by
 * streamext.alert_statement_timeout, in a subtransaction: an error puts
 * that alert alone in state error with last_error.  Rows back mean firing,
 * none ok; a change of state writes an alert_events row and NOTIFYs the
 * alert's channel, both delivered by the commit; a webhook is queued after
 * the commit (alert_webhook.c).  The worker looks at the catalog again at
 * least every second, so a new alert is first evaluated within about a
 * second of its creation.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
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
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "common/launcher.h"
#include "common/worker_common.h"
#include "monitor/alert.h"

#define NOTIFY_MAX_PAYLOAD 7999 /* PostgreSQL's limit is 8000 bytes with the terminator */

/* ---------------------------------------------------------------- */
/* The launcher's pass												*/
/* ---------------------------------------------------------------- */

static SeWorkerSet alert_workers = {.what = "alert"};

static bool
alerts_wanted(int64 id, int32 generation, int32 index, void *arg)
{
	return *(bool *)arg && id == 1 && generation == 1 && index <= 0;
}

static bool
any_alerts(void)
{
	SeXact x;
	bool isnull;
	bool result = false;

	se_xact_begin(&x, SE_XACT_SPI, NULL);
	if (SPI_execute("SELECT pg_catalog.to_regclass('streamext.alerts') IS NOT NULL", true, 1) ==
	        SPI_OK_SELECT &&
	    DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		if (SPI_execute("SELECT EXISTS (SELECT 1 FROM streamext.alerts)", true, 1) == SPI_OK_SELECT)
			result = DatumGetBool(
			    SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	se_xact_commit(&x);
	return result;
}

static bool
alert_launcher_pass(void)
{
	bool wanted = any_alerts();

	se_workers_sweep(&alert_workers, alerts_wanted, &wanted);
	if (wanted && !se_workers_listed(&alert_workers, 1, 0))
	{
		BackgroundWorker w;

		se_bgworker_init(&w, "alert_worker_main", "streamext alerts");
		snprintf(w.bgw_name, BGW_MAXLEN, "streamext alerts");
		w.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
		if (!se_workers_start(&alert_workers, &w, 1, 1, 0))
			ereport(LOG, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			              errmsg("streamext launcher cannot start the alerts worker: no "
			                     "background worker slot free"),
			              errhint("Raise max_worker_processes.")));
	}
	return alert_workers.workers != NIL;
}

static void
alert_launcher_stop(void)
{
	se_workers_terminate_all(&alert_workers);
}

static const SeLauncherClient alert_client = {
    .name = "alerts", .start = NULL, .pass = alert_launcher_pass, .stop = alert_launcher_stop};

void
alert_launcher_register(void)
{
	se_launcher_register(&alert_client);
}

/* ---------------------------------------------------------------- */
/* Evaluating one alert											*/
/* ---------------------------------------------------------------- */

typedef struct AlertEval
{
	Oid owner;
	char *sql;
	char *search_path;
	StringInfoData value; /* JSON array of the rows that fired */
	int nrows;
	bool truncated;
} AlertEval;

static void
run_query(void *arg)
{
	AlertEval *ev = arg;
	SeRunAs r;
	int ret;
	uint64 i;

	se_run_as_begin(&r, ev->owner, SECURITY_RESTRICTED_OPERATION, ev->search_path);
	/* the worker's own query: checked again, since it is run as text */
	alert_check_select(ev->sql, "the query of an alert");
	enable_timeout_after(STATEMENT_TIMEOUT, alert_statement_timeout);
	ret = SPI_execute(ev->sql, true, ALERT_MAX_ROWS + 1);
	disable_timeout(STATEMENT_TIMEOUT, false);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
		                errmsg_internal("alert query failed: %s", SPI_result_code_string(ret))));
	for (i = 0; i < SPI_processed; i++)
	{
		char *row = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		CHECK_FOR_INTERRUPTS();
		if (i >= ALERT_MAX_ROWS ||
		    (ev->nrows > 0 && ev->value.len + strlen(row) > ALERT_MAX_VALUE_BYTES))
		{
			ev->truncated = true;
			break;
		}
		appendStringInfoString(&ev->value, ev->nrows > 0 ? ", " : "[");
		/* one row bigger than the whole bound: say so in its place (the alert still fires) */
		if (row != NULL && strlen(row) > ALERT_MAX_VALUE_BYTES)
		{
			appendStringInfo(&ev->value, "{\"truncated_row_bytes\": %zu}", strlen(row));
			ev->truncated = true;
		}
		else
			appendStringInfoString(&ev->value, row ? row : "null");
		ev->nrows++;
	}
	se_run_as_end(&r);
}

static void
exec_catalog(const char *sql, int n, Oid *types, Datum *values, const char *nulls, int expect)
{
	int ret = SPI_execute_with_args(sql, n, types, values, nulls, false, 0);

	if (ret != expect)
		ereport(ERROR,
		        (errcode(ERRCODE_INTERNAL_ERROR),
		         errmsg_internal("alerts worker: %s: %s", sql, SPI_result_code_string(ret))));
}

typedef struct WebhookCheck
{
	const char *url;
	Oid owner;
} WebhookCheck;

static void
check_webhook(void *arg)
{
	WebhookCheck *wc = arg;

	alert_check_webhook(wc->url, wc->owner);
}

/* What to post once the transaction committed. */
typedef struct PendingPost
{
	char *alert;
	char *url;
	char *payload;
} PendingPost;

static void
eval_alert(int64 id, PendingPost *post)
{
	SeXact x;
	Oid types[6] = {INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, JSONBOID, BOOLOID};
	Datum values[6];
	char nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	AlertEval ev;
	ErrorData *ed;
	TimestampTz started;
	char *name, *state, *channel, *webhook;
	bool isnull;
	TupleDesc td;
	HeapTuple tup;

	se_xact_begin(&x, SE_XACT_SPI | SE_XACT_PIN_PATH, "evaluating an alert");
	values[0] = Int64GetDatum(id);
	exec_catalog("SELECT name, owner::oid, eval_query, search_path, state, "
	             " coalesce(options ->> 'channel', '" ALERT_DEFAULT_CHANNEL
	             "'), options ->> 'webhook' "
	             "FROM streamext.alerts WHERE id = $1 AND state IN ('ok', 'firing') "
	             "AND next_check_at <= pg_catalog.clock_timestamp() FOR UPDATE SKIP LOCKED",
	             1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
	{
		se_xact_commit(&x);
		return;
	}
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	memset(&ev, 0, sizeof(ev));
	name = SPI_getvalue(tup, td, 1);
	ev.owner = DatumGetObjectId(SPI_getbinval(tup, td, 2, &isnull));
	ev.sql = SPI_getvalue(tup, td, 3);
	ev.search_path = SPI_getvalue(tup, td, 4);
	state = SPI_getvalue(tup, td, 5);
	channel = SPI_getvalue(tup, td, 6);
	webhook = SPI_getvalue(tup, td, 7);
	initStringInfo(&ev.value);

	pgstat_report_activity(STATE_RUNNING, psprintf("evaluating alert %s", name));
	started = GetCurrentTimestamp();
	ed = se_subxact_try(run_query, &ev);
	disable_timeout(STATEMENT_TIMEOUT, false);
	values[2] = TimestampTzGetDatum(started);
	if (ed != NULL)
	{
		char *msg;

		if (se_error_classify(ed) == SE_ERROR_SHUTDOWN)
			ReThrowError(ed);
		msg = se_error_text(ed);
		values[1] = CStringGetTextDatum(msg);
		/*
		 * Deadlocks, serialization failures, a lock or a resource not
		 * available: the state stays, the next check tries again.  A statement
		 * timeout is the query's own doing: state error like any other.
		 */
		if (se_error_classify(ed) == SE_ERROR_TRANSIENT && ed->sqlerrcode != ERRCODE_QUERY_CANCELED)
		{
			ereport(LOG, (errcode(ed->sqlerrcode),
			              errmsg("alert \"%s\": check failed, trying again at the next one: %s",
			                     name, msg)));
			exec_catalog("UPDATE streamext.alerts SET last_error = $2, last_checked_at = $3, "
			             "next_check_at = $3 + every WHERE id = $1",
			             3, types, values, NULL, SPI_OK_UPDATE);
			se_xact_commit(&x);
			return;
		}
		ereport(LOG, (errcode(ed->sqlerrcode), errmsg("alert \"%s\" failed: %s", name, msg),
		              errhint("Fix the query or the privileges of its owner, then call "
		                      "streamext.resume_alert.")));
		exec_catalog("UPDATE streamext.alerts SET state = 'error', last_error = $2, "
		             "last_checked_at = $3 WHERE id = $1",
		             3, types, values, NULL, SPI_OK_UPDATE);
		se_xact_commit(&x);
		return;
	}
	else
	{
		const char *new_state = ev.nrows > 0 ? "firing" : "ok";
		bool changed = strcmp(new_state, state) != 0;

		values[1] = CStringGetTextDatum(new_state);
		values[5] = BoolGetDatum(changed);
		exec_catalog("UPDATE streamext.alerts SET state = $2, last_error = NULL, "
		             " last_checked_at = $3, next_check_at = $3 + every, "
		             " last_changed_at = CASE WHEN $6 THEN $3 ELSE last_changed_at END "
		             "WHERE id = $1",
		             6, types, values, nulls, SPI_OK_UPDATE);
		if (changed)
		{
			char *payload;

			appendStringInfoString(&ev.value, ev.nrows > 0 ? "]" : "[]");
			values[3] = CStringGetTextDatum(name);
			values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(ev.value.data));
			values[5] = BoolGetDatum(ev.truncated);
			exec_catalog(
			    "WITH e AS (INSERT INTO streamext.alert_events (alert, alert_id, owner, fired_at, "
			    "  state, value) SELECT $4, a.id, a.owner, $3, $2, $5 FROM streamext.alerts a "
			    "  WHERE a.id = $1 RETURNING id, alert, fired_at, state, value) "
			    "SELECT jsonb_build_object('alert', e.alert, 'state', e.state, 'fired_at', "
			    " e.fired_at, 'value', e.value, 'event_id', e.id, 'truncated', $6)::text, "
			    " jsonb_build_object('alert', e.alert, 'state', e.state, 'fired_at', e.fired_at, "
			    " 'value', NULL, 'event_id', e.id, 'truncated', true)::text FROM e",
			    6, types, values, nulls, SPI_OK_SELECT);
			payload = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			/* too long for NOTIFY: the event's id says where the value is */
			if (strlen(payload) > NOTIFY_MAX_PAYLOAD)
				payload = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
			Async_Notify(channel, payload);
			values[1] = Int32GetDatum(alert_events_keep);
			types[1] = INT4OID;
			exec_catalog("DELETE FROM streamext.alert_events WHERE alert_id = $1 AND id <= "
			             "(SELECT id FROM streamext.alert_events WHERE alert_id = $1 "
			             " ORDER BY id DESC OFFSET $2 LIMIT 1)",
			             2, types, values, NULL, SPI_OK_DELETE);
			types[1] = TEXTOID;
			ereport(LOG, (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
			              errmsg("alert \"%s\" is %s", name, new_state)));
			if (webhook != NULL)
			{
				/* the rules may have changed since create_alert: the owner, the allow-list */
				WebhookCheck wc = {webhook, ev.owner};
				ErrorData *wed = se_subxact_try(check_webhook, &wc);

				if (wed != NULL)
				{
					ereport(LOG,
					        (errcode(wed->sqlerrcode),
					         errmsg("alert \"%s\": webhook not posted: %s", name, wed->message)));
					webhook = NULL;
				}
			}
			if (webhook != NULL)
			{
				MemoryContext old = MemoryContextSwitchTo(x.caller);

				post->alert = pstrdup(name);
				post->url = pstrdup(webhook);
				post->payload = pstrdup(payload);
				MemoryContextSwitchTo(old);
			}
		}
	}
	se_xact_commit(&x);
}

/* ---------------------------------------------------------------- */
/* The worker														*/
/* ---------------------------------------------------------------- */

/* The alerts due now, and when the next one is due (ms from now, at most 1 s). */
static List *
due_alerts(long *next_ms)
{
	SeXact x;
	List *ids = NIL;
	uint64 i;
	bool isnull;

	*next_ms = 1000;
	se_xact_begin(&x, SE_XACT_SPI | SE_XACT_PIN_PATH, NULL);
	exec_catalog(
	    "SELECT id, GREATEST(0, EXTRACT(EPOCH FROM next_check_at - clock_timestamp()) * 1000) "
	    "FROM streamext.alerts WHERE state IN ('ok', 'firing') ORDER BY next_check_at",
	    0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		int64 id =
		    DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		double ms = DatumGetFloat8(
		    DirectFunctionCall1(numeric_float8, SPI_getbinval(SPI_tuptable->vals[i],
		                                                      SPI_tuptable->tupdesc, 2, &isnull)));

		if (ms <= 0)
		{
			MemoryContext old = MemoryContextSwitchTo(x.caller);

			ids = lappend(ids, palloc(sizeof(int64)));
			*(int64 *)llast(ids) = id;
			MemoryContextSwitchTo(old);
		}
		else if (ms < *next_ms)
			*next_ms = (long)ms + 1;
	}
	se_xact_commit(&x);
	return ids;
}

typedef struct EvalArg
{
	int64 id;
	PendingPost post;
} EvalArg;

static void
eval_alert_try(void *arg)
{
	EvalArg *ea = arg;

	eval_alert(ea->id, &ea->post);
}

typedef struct DueArg
{
	List *ids;
	long next_ms;
} DueArg;

static void
due_alerts_try(void *arg)
{
	DueArg *da = arg;

	da->ids = due_alerts(&da->next_ms);
}

static void
alert_worker_exit(int code, Datum arg)
{
	alert_webhook_shutdown();
}

void
alert_worker_main(Datum main_arg)
{
	MemoryContext loop_cxt;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
	SetConfigOption("application_name", "streamext alerts", PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname("streamext alerts");
	/* the worker's own queries; run_query gives an alert's query the alert's search_path */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION);
	before_shmem_exit(alert_worker_exit, 0);
	ereport(LOG,
	        (errcode(ERRCODE_SUCCESSFUL_COMPLETION), errmsg("streamext alerts worker started")));

	loop_cxt =
	    AllocSetContextCreate(TopMemoryContext, "streamext alerts loop", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		DueArg da = {NIL, 1000};
		ListCell *lc;
		ErrorData *ed;
		long wait, hook;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextSwitchTo(loop_cxt);
		ed = se_try(due_alerts_try, &da);
		if (ed != NULL)
		{
			if (se_error_classify(ed) == SE_ERROR_SHUTDOWN)
				proc_exit(0);
			ereport(LOG,
			        (errcode(ed->sqlerrcode),
			         errmsg("streamext alerts: cannot read streamext.alerts: %s", ed->message)));
		}
		foreach (lc, da.ids)
		{
			EvalArg ea;

			memset(&ea, 0, sizeof(ea));
			ea.id = *(int64 *)lfirst(lc);
			ed = se_try(eval_alert_try, &ea);
			if (ed != NULL)
			{
				if (se_error_classify(ed) == SE_ERROR_SHUTDOWN)
					proc_exit(0);
				/* the bookkeeping failed (not the query: that is the alert's error state) */
				ereport(LOG, (errcode(ed->sqlerrcode),
				              errmsg("streamext alerts: alert %lld not evaluated: %s",
				                     (long long)ea.id, ed->message)));
				continue;
			}
			if (ea.post.url)
				alert_webhook_enqueue(ea.post.alert, ea.post.url, ea.post.payload);
			/* webhooks progress between alerts too */
			(void)alert_webhook_poll();
		}
		hook = alert_webhook_poll();
		wait = da.next_ms;
		if (hook >= 0 && hook < wait)
			wait = hook;
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_cxt);
		if (wait > 0)
		{
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait,
			                PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}
