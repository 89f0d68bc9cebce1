/*
 * launcher.c
 *		The ingest side of the streamext launcher (src/common/launcher.c):
 *		GUCs, shared memory for worker statistics, and the pass that keeps
 *		one set of consumer workers per running source alive.
 *
 * The pass reads streamext.sources whenever the launcher is woken (a source
 * function's transaction commits, a worker starts or stops) and at least
 * every streamext.launcher_naptime, and then starts, stops or restarts
 * dynamic consumer workers (src/common/worker_set.c) so that every running
 * source has its share of them at its current generation.
 *
 * How many workers a source gets: its `parallelism` option, or without one
 * one per Kafka partition of its topics, at most one per CPU core; either way at
 * most streamext.max_workers_per_source.  The streamext.max_source_workers
 * slots are then shared out max-min fairly: every source gets one worker
 * before any gets a second, and so on, so that no source (of any role) is
 * left without a worker while another has several.  When there are more
 * sources than slots, the first workers go to the roles in turn, so that
 * one role creating many sources cannot leave another's without any.  What the launcher
 * decided is published in shared memory (IngestSched) for source_status.
 */
#include "postgres.h"

#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "streamext.h"
#include "ingest/ingest.h"
#include "ingest/ingest_internal.h"
#include "common/launcher.h"

int			ingest_max_source_workers = 16;
int			ingest_max_workers_per_source = 8;

IngestShared *ingest_shared = NULL;
IngestSched *ingest_sched = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* A source row as the launcher needs it. */
typedef struct LauncherSource
{
	int64		id;
	int32		generation;
	int32		parallelism;	/* workers to run now: the allotment below */
	Oid			owner;
	char		name[INGEST_NAME_LEN];
	int32		requested;		/* the parallelism option, or -1 */
	int32		partitions;		/* Kafka partitions it has read so far */
	int32		asked;			/* requested, or the automatic choice */
	int32		wanted;			/* asked, within max_workers_per_source */
	int32		reason;			/* IngestSchedReason */
} LauncherSource;

static SeWorkerSet source_workers = {.what = "source"};

static bool ingest_launcher_pass(void);
static void ingest_launcher_start(void);
static void ingest_launcher_stop(void);

static const SeLauncherClient ingest_client = {
	.name = "sources",
	.start = ingest_launcher_start,
	.pass = ingest_launcher_pass,
	.stop = ingest_launcher_stop
};

static Size
ingest_shmem_size(void)
{
	return add_size(offsetof(IngestShared, slots),
					mul_size(sizeof(IngestWorkerSlot), ingest_max_source_workers));
}

static void
ingest_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(ingest_shmem_size());
	RequestAddinShmemSpace(sizeof(IngestSched));
	RequestNamedLWLockTranche("streamext_ingest", 1);
}

static void
ingest_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ingest_shared = ShmemInitStruct("streamext_ingest", ingest_shmem_size(), &found);
	if (!found)
	{
		memset(ingest_shared, 0, ingest_shmem_size());
		ingest_shared->lock = &(GetNamedLWLockTranche("streamext_ingest"))->lock;
		ingest_shared->nslots = ingest_max_source_workers;
	}
	ingest_sched = ShmemInitStruct("streamext_ingest_sched", sizeof(IngestSched), &found);
	if (!found)
		memset(ingest_sched, 0, sizeof(IngestSched));
	LWLockRelease(AddinShmemInitLock);
}

void
ingest_init(void)
{
	/*
	 * PGC_POSTMASTER variables may only be defined while preloading; loaded
	 * later (no workers then, so the values matter little) they are SIGHUP ones.
	 */
	GucContext	pmctx = process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP;

	DefineCustomIntVariable("streamext.max_source_workers",
							"Maximum number of Kafka consumer workers (all sources together).",
							"Each also needs a max_worker_processes slot.",
							&ingest_max_source_workers, 16, 1, 1024,
							pmctx, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("streamext.max_workers_per_source",
							"Maximum number of Kafka consumer workers of one source.",
							"A source's parallelism option, or the automatic choice (one worker per "
							"partition, at most one per CPU core), is bounded by this.",
							&ingest_max_workers_per_source, 8, 1, 1024,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	/* in every backend that loads the library, preloaded or not */
	ingest_lock_guard_init();

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ingest_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ingest_shmem_startup;

	se_launcher_register(&ingest_client);
}

PG_FUNCTION_INFO_V1(streamext_wake_launcher);

/* streamext._wake_launcher(): wake the launcher when this transaction commits */
Datum
streamext_wake_launcher(PG_FUNCTION_ARGS)
{
	static bool warned_database = false;

	streamext_warn_if_no_workers("sources", NULL, &warned_database);
	se_launcher_wake_at_commit();
	PG_RETURN_VOID();
}

/*
 * The sources whose errors the calling role may see: those of roles it is a
 * member of (under the row-level security of streamext.sources), or every
 * source for pg_read_all_stats and superusers (*all).
 */
static int64 *
visible_sources(bool *all, int *n)
{
	int64	   *ids;
	MemoryContext outer = CurrentMemoryContext;
	uint64		i;

	*n = 0;
	*all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	if (*all)
		return NULL;
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("SPI_connect failed")));
	if (SPI_execute("SELECT s.id FROM streamext.sources s "
					"WHERE pg_catalog.pg_has_role(s.owner::pg_catalog.oid, 'MEMBER'::pg_catalog.text)",
					true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("cannot read streamext.sources")));
	ids = MemoryContextAlloc(outer, sizeof(int64) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		ids[(*n)++] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	return ids;
}

PG_FUNCTION_INFO_V1(streamext_source_worker_stats);

/* streamext._source_worker_stats(): per source, the sum over its live workers */
Datum
streamext_source_worker_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IngestWorkerSlot *copy;
	bool	   *done;
	int			n,
				i,
				j;
	int64	   *visible;
	int			nvisible;
	bool		all_visible;

	InitMaterializedSRF(fcinfo, 0);
	if (ingest_shared == NULL)
		PG_RETURN_VOID();
	visible = visible_sources(&all_visible, &nvisible);

	n = ingest_shared->nslots;
	copy = palloc(sizeof(IngestWorkerSlot) * n);
	done = palloc0(sizeof(bool) * n);
	LWLockAcquire(ingest_shared->lock, LW_SHARED);
	memcpy(copy, ingest_shared->slots, sizeof(IngestWorkerSlot) * n);
	LWLockRelease(ingest_shared->lock);

	for (i = 0; i < n; i++)
	{
		Datum		values[11];
		bool		nulls[11];
		int			workers = 0;
		uint64		messages = 0,
					rows = 0,
					bytes = 0;
		int64		lag = 0;
		bool		lag_known = false;
		int32		assigned = 0;
		TimestampTz last_batch = 0;
		bool		down = false;
		const char *err = NULL;
		const char *retention = NULL;

		if (!copy[i].in_use || done[i])
			continue;
		for (j = i; j < n; j++)
		{
			IngestWorkerSlot *s = &copy[j];

			if (!s->in_use || done[j] || s->source_id != copy[i].source_id)
				continue;
			done[j] = true;
			workers++;
			messages += s->messages;
			rows += s->rows;
			bytes += s->bytes;
			if (s->lag >= 0)
			{
				lag += s->lag;
				lag_known = true;
			}
			if (s->last_batch_at > last_batch)
				last_batch = s->last_batch_at;
			down |= s->broker_down;
			assigned += s->assigned;
			if (s->last_error[0] != '\0' && err == NULL)
				err = s->last_error;
			if (s->retention_wait[0] != '\0' && retention == NULL)
				retention = s->retention_wait;
		}
		memset(nulls, 0, sizeof(nulls));
		values[0] = Int64GetDatum(copy[i].source_id);
		values[1] = Int32GetDatum(workers);
		values[2] = Int64GetDatum((int64) messages);
		values[3] = Int64GetDatum((int64) rows);
		values[4] = Int64GetDatum((int64) bytes);
		values[5] = Int64GetDatum(lag);
		nulls[5] = !lag_known;
		values[6] = TimestampTzGetDatum(last_batch);
		nulls[6] = (last_batch == 0);
		values[7] = BoolGetDatum(down);
		/* error texts name brokers and hosts: the same rule as source_status */
		if (err && !all_visible)
		{
			bool		mine = false;

			for (j = 0; j < nvisible && !mine; j++)
				mine = visible[j] == copy[i].source_id;
			if (!mine)
				err = NULL;
		}
		if (err)
			values[8] = CStringGetTextDatum(err);
		nulls[8] = (err == NULL);
		values[9] = Int32GetDatum(assigned);
		if (retention)
			values[10] = CStringGetTextDatum(retention);
		nulls[10] = (retention == NULL);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/*
 * Read the sources the launcher must run.  Returns NIL when the extension is
 * not installed in this database (yet).
 */
static List *
launcher_read_sources(void)
{
	List	   *result = NIL;
	SeXact		x;
	int			ret;
	uint64		i;

	se_xact_begin(&x, SE_XACT_SPI, "reading streamext.sources");

	ret = SPI_execute("SELECT pg_catalog.to_regclass('streamext.sources') IS NOT NULL", true, 1);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		bool		installed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc, 1, &isnull));

		if (installed)
		{
			/*
			 * A worker connects as the source's owner; if the owner cannot log
			 * in (NOLOGIN, dropped), every start would fail: say so instead.
			 */
			(void) se_launcher_stop_nologin("streamext.sources", "source");
			/*
			 * Schema-qualified operators: this runs as a superuser, with a
			 * search_path other roles may write to.  The partitions a source
			 * has read so far (it stores an offset for each) size the
			 * automatic parallelism.
			 */
			ret = SPI_execute("SELECT s.id, s.generation, "
							  "(s.options OPERATOR(pg_catalog.->>) 'parallelism')::pg_catalog.int4, "
							  "s.owner::pg_catalog.oid, s.name, "
							  "(SELECT pg_catalog.count(*) FROM streamext.source_offsets o "
							  "  WHERE o.source OPERATOR(pg_catalog.=) s.name)::pg_catalog.int4 "
							  "FROM streamext.sources s "
							  "WHERE s.state OPERATOR(pg_catalog.=) 'running' ORDER BY s.id",
							  false, 0);
			if (ret != SPI_OK_SELECT)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg_internal("cannot read streamext.sources: %s", SPI_result_code_string(ret))));
			for (i = 0; i < SPI_processed; i++)
			{
				HeapTuple	tup = SPI_tuptable->vals[i];
				TupleDesc	td = SPI_tuptable->tupdesc;
				LauncherSource *src;
				MemoryContext old = MemoryContextSwitchTo(x.caller);

				src = palloc0(sizeof(LauncherSource));
				src->id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
				src->generation = DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
				src->requested = DatumGetInt32(SPI_getbinval(tup, td, 3, &isnull));
				if (isnull)
					src->requested = -1;
				src->partitions = DatumGetInt32(SPI_getbinval(tup, td, 6, &isnull));
				src->owner = DatumGetObjectId(SPI_getbinval(tup, td, 4, &isnull));
				strlcpy(src->name, TextDatumGetCString(SPI_getbinval(tup, td, 5, &isnull)),
						INGEST_NAME_LEN);
				result = lappend(result, src);
				MemoryContextSwitchTo(old);
			}
		}
	}
	se_xact_commit(&x);
	return result;
}

static bool
launcher_start_worker(LauncherSource *src, int index)
{
	BackgroundWorker worker;
	IngestWorkerArgs args;

	se_bgworker_init(&worker, "ingest_worker_main", "streamext source");
	memset(&args, 0, sizeof(args));
	args.dboid = MyDatabaseId;
	args.owner = src->owner;
	args.source_id = src->id;
	args.generation = src->generation;
	args.index = index;
	strlcpy(args.name, src->name, INGEST_NAME_LEN);
	StaticAssertStmt(sizeof(IngestWorkerArgs) <= BGW_EXTRALEN, "worker args too long");
	memcpy(worker.bgw_extra, &args, sizeof(args));
	snprintf(worker.bgw_name, BGW_MAXLEN, "streamext source %s #%d", src->name, index);
	return se_workers_start(&source_workers, &worker, src->id, src->generation, index);
}

/* CPU cores of this machine, for the automatic parallelism. */
static int
launcher_cores(void)
{
	long		n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (int) Min(n, 1024);
}

/*
 * Decide how many workers each source runs (src->parallelism): what it asks
 * for, or without a parallelism option one per partition (of the topics, as
 * worker 0 found in the brokers' metadata at its start, or read so far: one
 * partition reads sequentially; more workers than partitions would idle) and
 * at most one per core (more would only compete for the CPUs); within
 * streamext.max_workers_per_source.  Then the slots are shared out max-min
 * fairly: first every source gets one worker, the owners taking turns (each
 * owner's sources in id order), so that a role with many sources cannot
 * take every slot from another role's; then rounds in source id order give
 * every source still short of its wish one more worker, so a source asking
 * for 64 cannot leave another at 0.
 */
static void
launcher_allot(List *sources)
{
	int			cores = launcher_cores();
	int			remaining = ingest_max_source_workers;
	bool		progress;
	ListCell   *lc;
	int			i;

	/* the partitions a worker 0 found in the topics' metadata */
	LWLockAcquire(ingest_shared->lock, LW_SHARED);
	for (i = 0; i < ingest_shared->nslots; i++)
	{
		IngestWorkerSlot *slot = &ingest_shared->slots[i];

		if (!slot->in_use || slot->topic_partitions <= 0)
			continue;
		foreach(lc, sources)
		{
			LauncherSource *src = lfirst(lc);

			if (src->id == slot->source_id)
				src->partitions = Max(src->partitions, slot->topic_partitions);
		}
	}
	LWLockRelease(ingest_shared->lock);

	foreach(lc, sources)
	{
		LauncherSource *src = lfirst(lc);

		if (src->requested > 0)
			src->asked = src->requested;
		else
			src->asked = Max(1, Min(src->partitions, cores));
		src->wanted = Min(src->asked, ingest_max_workers_per_source);
		src->parallelism = 0;
		src->reason = INGEST_SCHED_OK;
	}
	/* first workers: the owners in turn, in the order of their first sources */
	do
	{
		List	   *served = NIL;	/* owners served in this turn */

		progress = false;
		foreach(lc, sources)
		{
			LauncherSource *src = lfirst(lc);

			if (remaining == 0)
				break;
			if (src->parallelism > 0 || src->wanted <= 0 ||
				list_member_oid(served, src->owner))
				continue;
			src->parallelism = 1;
			remaining--;
			served = lappend_oid(served, src->owner);
			progress = true;
		}
		list_free(served);
	} while (progress && remaining > 0);
	/* then the rest, a worker per source and round */
	do
	{
		progress = false;
		foreach(lc, sources)
		{
			LauncherSource *src = lfirst(lc);

			if (remaining == 0)
				break;
			if (src->parallelism < src->wanted)
			{
				src->parallelism++;
				remaining--;
				progress = true;
			}
		}
	} while (progress && remaining > 0);
	foreach(lc, sources)
	{
		LauncherSource *src = lfirst(lc);

		if (src->parallelism < src->wanted)
			src->reason = INGEST_SCHED_NO_SLOT;
	}
}

/* Publish the decisions of this pass for source_status. */
static void
launcher_publish(List *sources, int in_use)
{
	ListCell   *lc;
	int			n = 0;

	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	foreach(lc, sources)
	{
		LauncherSource *src = lfirst(lc);
		IngestSchedEntry *e;

		if (n >= INGEST_SCHED_MAX_SOURCES)
			break;
		e = &ingest_sched->entries[n++];
		e->source_id = src->id;
		e->owner = src->owner;
		e->asked = src->asked;
		e->automatic = src->requested <= 0;
		e->wanted = src->wanted;
		e->allotted = src->parallelism;
		e->reason = src->reason;
	}
	ingest_sched->nsources = n;
	ingest_sched->capacity = ingest_max_source_workers;
	ingest_sched->in_use = in_use;
	LWLockRelease(ingest_shared->lock);
}

/* Is worker index of (source, generation) among the workers to run? */
static bool
source_worker_wanted(int64 id, int32 generation, int32 index, void *arg)
{
	List	   *sources = arg;
	ListCell   *ls;

	foreach(ls, sources)
	{
		LauncherSource *src = lfirst(ls);

		if (src->id == id && src->generation == generation &&
			(index < 0 || index < src->parallelism))
			return true;
	}
	return false;
}

/* One pass: make the running workers match the running sources. */
static bool
ingest_launcher_pass(void)
{
	List	   *sources = launcher_read_sources();
	ListCell   *lc;
	static bool warned_no_slot = false;
	int			in_use;

	launcher_allot(sources);

	/*
	 * Stop what is no longer wanted.  Workers still running or stopping hold
	 * a slot; a new one starts only when a slot is free (a shrinking source's
	 * workers must stop first).
	 */
	se_workers_sweep(&source_workers, source_worker_wanted, sources);
	in_use = se_workers_alive(&source_workers);

	/* Start what is missing. */
	foreach(lc, sources)
	{
		LauncherSource *src = lfirst(lc);
		int			i;

		for (i = 0; i < src->parallelism; i++)
		{
			if (se_workers_listed(&source_workers, src->id, i))
				continue;
			if (in_use >= ingest_max_source_workers)
				break;
			if (!launcher_start_worker(src, i))
			{
				src->reason = INGEST_SCHED_NO_BGWORKER;
				if (!warned_no_slot)
					ereport(LOG,
							(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
							 errmsg("streamext launcher cannot start a worker for source \"%s\": no background worker slot free",
									src->name),
							 errhint("Raise max_worker_processes.")));
				warned_no_slot = true;
				break;
			}
			warned_no_slot = false;
			in_use++;
		}
	}
	launcher_publish(sources, in_use);
	list_free_deep(sources);
	return source_workers.workers != NIL;
}

/* The launcher exits: source_status no longer shows its decisions. */
static void
ingest_launcher_exit(int code, Datum arg)
{
	if (ingest_shared == NULL)
		return;
	LWLockAcquire(ingest_shared->lock, LW_EXCLUSIVE);
	ingest_sched->nsources = 0;
	LWLockRelease(ingest_shared->lock);
}

/*
 * Workers of a previous launcher (one that exited with an error) still run,
 * and this launcher knows nothing of them: stop them, it starts its own.
 */
static void
launcher_stop_orphans(void)
{
	int			i;
	int			n = 0;

	LWLockAcquire(ingest_shared->lock, LW_SHARED);
	for (i = 0; i < ingest_shared->nslots; i++)
	{
		IngestWorkerSlot *s = &ingest_shared->slots[i];

		/* only a process of this server: a stale slot's pid may be reused */
		if (s->in_use && s->pid != 0 && BackendPidGetProc(s->pid) != NULL)
		{
			(void) kill(s->pid, SIGTERM);
			n++;
		}
	}
	LWLockRelease(ingest_shared->lock);
	if (n > 0)
		ereport(LOG,
				(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
				 errmsg("streamext launcher: stopped %d consumer worker(s) of a previous launcher", n)));
}

/* In the launcher, once: stop what a previous launcher left running. */
static void
ingest_launcher_start(void)
{
	before_shmem_exit(ingest_launcher_exit, 0);
	launcher_stop_orphans();
}

static void
ingest_launcher_stop(void)
{
	se_workers_terminate_all(&source_workers);
}
