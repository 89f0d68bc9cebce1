/*
 * launcher.c
 *		The streamext launcher: one static background worker that runs the
 *		passes of the components' clients (launcher.h), its identity in
 *		shared memory so that others can wake it, and the GUCs it needs.
 *
 * After a crash restart of the server the postmaster restarts the launcher
 * (bgw_restart_time 1 s), and its clients start their workers again.  The
 * launcher runs as a superuser, so its search_path is pinned for the whole
 * session: no operator or function planted in a schema of the database's
 * search_path may ever run in it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "common/launcher.h"

char *se_database = NULL;
int se_launcher_naptime = 1000;

#define SE_MAX_CLIENTS 4

static const SeLauncherClient *clients[SE_MAX_CLIENTS];
static int nclients = 0;

typedef struct SeLauncherShared
{
	LWLock *lock;
	pid_t pid; /* 0: no launcher */
	Latch *latch;
} SeLauncherShared;

static SeLauncherShared *launcher_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static bool wake_at_commit = false;
static bool xact_callback_registered = false;

static void
launcher_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(SeLauncherShared));
	RequestNamedLWLockTranche("streamext_launcher", 1);
}

static void
launcher_shmem_startup(void)
{
	bool found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	launcher_shared = ShmemInitStruct("streamext_launcher", sizeof(SeLauncherShared), &found);
	if (!found)
	{
		memset(launcher_shared, 0, sizeof(SeLauncherShared));
		launcher_shared->lock = &(GetNamedLWLockTranche("streamext_launcher"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
common_init(void)
{
	BackgroundWorker worker;

	/*
	 * PGC_POSTMASTER variables may only be defined while preloading; loaded
	 * later (no workers then, so the values matter little) they are SIGHUP ones.
	 */
	GucContext pmctx = process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP;

	DefineCustomStringVariable(
	    "streamext.database",
	    "Database whose Kafka sources and pipelines the streamext launcher runs.", NULL,
	    &se_database, "postgres", pmctx, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("streamext.launcher_naptime",
	                        "Longest time the launcher waits between checks of streamext.sources "
	                        "and streamext.pipelines.",
	                        NULL, &se_launcher_naptime, 1000, 10, 60000, PGC_SIGHUP, GUC_UNIT_MS,
	                        NULL, NULL, NULL);

	/* every backend that loads the library, preloaded or not */
	se_owned_init();

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = launcher_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = launcher_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "streamext");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "se_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "streamext launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "streamext launcher");
	RegisterBackgroundWorker(&worker);
}

void
se_launcher_register(const SeLauncherClient *client)
{
	if (nclients >= SE_MAX_CLIENTS)
		elog(ERROR, "too many streamext launcher clients");
	clients[nclients++] = client;
}

void
se_launcher_wake(void)
{
	Latch *latch = NULL;

	if (launcher_shared == NULL)
		return;
	LWLockAcquire(launcher_shared->lock, LW_SHARED);
	if (launcher_shared->pid != 0)
		latch = launcher_shared->latch;
	LWLockRelease(launcher_shared->lock);
	if (latch)
		SetLatch(latch);
}

bool
se_launcher_running(void)
{
	bool running;

	if (launcher_shared == NULL)
		return false;
	LWLockAcquire(launcher_shared->lock, LW_SHARED);
	running = launcher_shared->pid != 0;
	LWLockRelease(launcher_shared->lock);
	return running;
}

static void
wake_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
		se_launcher_wake();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		wake_at_commit = false;
}

void
se_launcher_wake_at_commit(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_at_commit = true;
}

uint64
se_launcher_stop_nologin(const char *table, const char *what)
{
	/*
	 * A worker connects as the owner, so the owner also needs CONNECT on the
	 * database (a bgworker's connection checks it like a login's).
	 * SKIP LOCKED: the owner may hold its row locked (SELECT ... FOR UPDATE
	 * in an open transaction, then made NOLOGIN), and the launcher must never
	 * wait for another role; the row is marked in a later pass.
	 * Schema-qualified operators: this runs as a superuser.
	 */
	char *sql = psprintf(
	    "UPDATE %s o SET state = 'error', last_error = CASE WHEN EXISTS "
	    "(SELECT 1 FROM pg_catalog.pg_roles r "
	    "  WHERE r.oid OPERATOR(pg_catalog.=) o.owner::pg_catalog.oid AND r.rolcanlogin) "
	    "THEN pg_catalog.format('the owner of the %s, role %%s, may not connect to database %%I "
	    "(it has no CONNECT privilege on it); grant it CONNECT, or give the %s another owner, "
	    "then call streamext.resume_%s', o.owner, pg_catalog.current_database()) "
	    "ELSE pg_catalog.format('the owner of the %s, role %%s, cannot log in "
	    "(or does not exist); "
	    "give it LOGIN, or another owner, then call streamext.resume_%s', o.owner) END "
	    "WHERE o.id OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT o2.id FROM %s o2 "
	    " WHERE o2.state OPERATOR(pg_catalog.=) 'running'::pg_catalog.text AND (NOT EXISTS "
	    "(SELECT 1 FROM pg_catalog.pg_roles r "
	    "  WHERE r.oid OPERATOR(pg_catalog.=) o2.owner::pg_catalog.oid AND r.rolcanlogin) "
	    " OR NOT pg_catalog.has_database_privilege(o2.owner::pg_catalog.oid, "
	    "   pg_catalog.current_database(), 'CONNECT')) "
	    " FOR UPDATE SKIP LOCKED))",
	    table, what, what, what, what, what, table);
	int ret = SPI_execute(sql, false, 0);

	if (ret != SPI_OK_UPDATE)
		ereport(ERROR,
		        (errcode(ERRCODE_INTERNAL_ERROR),
		         errmsg_internal("cannot update %s: %s", table, SPI_result_code_string(ret))));
	if (SPI_processed > 0)
		ereport(LOG,
		        (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
		         errmsg("streamext launcher: %llu %s(s) stopped because their owner cannot log in",
		                (unsigned long long)SPI_processed, what)));
	pfree(sql);
	return SPI_processed;
}

static void
launcher_shmem_exit(int code, Datum arg)
{
	if (launcher_shared == NULL)
		return;
	LWLockAcquire(launcher_shared->lock, LW_EXCLUSIVE);
	if (launcher_shared->pid == MyProcPid)
	{
		launcher_shared->pid = 0;
		launcher_shared->latch = NULL;
	}
	LWLockRelease(launcher_shared->lock);
}

typedef struct LauncherPass
{
	const SeLauncherClient *client;
	bool busy;
} LauncherPass;

static void
run_pass(void *arg)
{
	LauncherPass *lp = arg;

	lp->busy = lp->client->pass();
}

void
se_launcher_main(Datum arg)
{
	MemoryContext loop_cxt;
	int i;

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(se_database, NULL, 0);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	LWLockAcquire(launcher_shared->lock, LW_EXCLUSIVE);
	launcher_shared->pid = MyProcPid;
	launcher_shared->latch = MyLatch;
	LWLockRelease(launcher_shared->lock);
	before_shmem_exit(launcher_shmem_exit, 0);

	for (i = 0; i < nclients; i++)
		if (clients[i]->start)
			clients[i]->start();

	ereport(LOG, (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
	              errmsg("streamext launcher started for database \"%s\"", se_database)));

	loop_cxt =
	    AllocSetContextCreate(TopMemoryContext, "streamext launcher loop", ALLOCSET_DEFAULT_SIZES);
	while (!ShutdownRequestPending)
	{
		bool busy = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		for (i = 0; i < nclients; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(loop_cxt);
			LauncherPass lp = {clients[i], false};
			ErrorData *ed;

			/* one client's failure (say, its catalog is being changed) does not stop the others' */
			ed = se_try(run_pass, &lp);
			if (ed)
			{
				ereport(LOG, (errcode(ed->sqlerrcode),
				              errmsg("streamext launcher: the %s pass failed: %s", clients[i]->name,
				                     ed->message)));
				lp.busy = true;
			}
			busy |= lp.busy;
			MemoryContextSwitchTo(old);
			MemoryContextReset(loop_cxt);
		}

		/* Restart delays need another look within a second. */
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
		                busy ? Min(se_launcher_naptime, 500) : se_launcher_naptime,
		                PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}

	/* Workers stop with the server; on a mere launcher stop, stop them too. */
	for (i = 0; i < nclients; i++)
		if (clients[i]->stop)
			clients[i]->stop();
	/* Exit code 1: the postmaster restarts a launcher that was merely terminated. */
	proc_exit(1);
}
