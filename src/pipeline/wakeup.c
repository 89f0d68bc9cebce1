/*
 * wakeup.c
 *		Waking pipeline workers when rows of their source commit in this
 *		server, so that a pipeline's latency is not bounded by a polling
 *		interval.
 *
 * Every running pipeline worker registers itself here (shared memory,
 * protected by an LWLock): its pipeline, its database, the relid of its
 * source and its latch.  A writer that committed rows into a table (the
 * ingest sink after each batch, a pipeline worker after each batch) calls
 * pipeline_wake_readers(table), which sets the latch of every worker whose
 * source is that table or, inside a transaction, one of its partition
 * ancestors (rows written into a leaf partition of a pipeline's source).
 * An atomic count of registered workers makes the call nearly free when no
 * pipeline runs.  A worker that finds no free entry still works, polling:
 * at its trigger interval, or every streamext.pipeline_idle_poll_ms for
 * trigger '0'.  Applications' own INSERTs do not call this: pipelines over
 * such tables find their rows by polling.
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/partition.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/lsyscache.h"

#include "pipeline/pipeline.h"
#include "pipeline/pipeline_internal.h"

typedef struct PipelineWakeEntry
{
	pid_t pid; /* 0: free */
	Oid dboid;
	Oid source;
	int64 pipeline_id;
	Latch *latch;
} PipelineWakeEntry;

typedef struct PipelineWakeShared
{
	LWLock *lock;
	pg_atomic_uint32 nused; /* entries with pid != 0 */
	int nentries;
	PipelineWakeEntry entries[FLEXIBLE_ARRAY_MEMBER];
} PipelineWakeShared;

static PipelineWakeShared *wake = NULL;
static PipelineWakeEntry *my_entry = NULL;

static Size
wakeup_shmem_size(void)
{
	return add_size(offsetof(PipelineWakeShared, entries),
	                mul_size(sizeof(PipelineWakeEntry), pipeline_max_workers));
}

void
pipeline_wakeup_shmem_request(void)
{
	RequestAddinShmemSpace(wakeup_shmem_size());
	RequestNamedLWLockTranche("streamext_pipeline_wakeup", 1);
}

void
pipeline_wakeup_shmem_startup(void)
{
	bool found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	wake = ShmemInitStruct("streamext_pipeline_wakeup", wakeup_shmem_size(), &found);
	if (!found)
	{
		memset(wake, 0, wakeup_shmem_size());
		wake->lock = &(GetNamedLWLockTranche("streamext_pipeline_wakeup"))->lock;
		pg_atomic_init_u32(&wake->nused, 0);
		wake->nentries = pipeline_max_workers;
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
wakeup_unregister(int code, Datum arg)
{
	if (wake == NULL || my_entry == NULL)
		return;
	LWLockAcquire(wake->lock, LW_EXCLUSIVE);
	if (my_entry->pid == MyProcPid)
	{
		memset(my_entry, 0, sizeof(PipelineWakeEntry));
		pg_atomic_fetch_sub_u32(&wake->nused, 1);
	}
	LWLockRelease(wake->lock);
	my_entry = NULL;
}

/*
 * Register this worker (once): wake it when rows of source commit.  False
 * when every entry is taken (the worker then polls).
 */
bool
pipeline_wakeup_register(int64 pipeline_id, Oid source)
{
	int i;

	if (wake == NULL || my_entry != NULL)
		return my_entry != NULL;
	LWLockAcquire(wake->lock, LW_EXCLUSIVE);
	for (i = 0; i < wake->nentries; i++)
	{
		PipelineWakeEntry *e = &wake->entries[i];

		/* an entry of a process that died without cleanup (a crash) is free too */
		if (e->pid != 0 && BackendPidGetProc(e->pid) != NULL)
			continue;
		if (e->pid == 0)
			pg_atomic_fetch_add_u32(&wake->nused, 1);
		e->pid = MyProcPid;
		e->dboid = MyDatabaseId;
		e->source = source;
		e->pipeline_id = pipeline_id;
		e->latch = MyLatch;
		my_entry = e;
		break;
	}
	LWLockRelease(wake->lock);
	if (my_entry == NULL)
		return false;
	before_shmem_exit(wakeup_unregister, 0);
	return true;
}

/*
 * Stop every registered pipeline worker: a launcher that starts finds the
 * workers of a previous one (that exited with an error) still running, and
 * knows nothing of them.  Returns how many were signalled.
 */
int
pipeline_wakeup_stop_all(void)
{
	int i;
	int n = 0;

	if (wake == NULL)
		return 0;
	LWLockAcquire(wake->lock, LW_SHARED);
	for (i = 0; i < wake->nentries; i++)
	{
		PipelineWakeEntry *e = &wake->entries[i];

		/* only a process of this server: a stale entry's pid may be reused */
		if (e->pid != 0 && BackendPidGetProc(e->pid) != NULL)
		{
			(void)kill(e->pid, SIGTERM);
			n++;
		}
	}
	LWLockRelease(wake->lock);
	return n;
}

void
pipeline_wake_readers(Oid relid)
{
	List *ancestors = NIL;
	int i;

	if (wake == NULL || pg_atomic_read_u32(&wake->nused) == 0 || !OidIsValid(relid))
		return;

	/* the catalogs can only be read inside a transaction */
	if (IsTransactionState() && get_rel_relispartition(relid))
		ancestors = get_partition_ancestors(relid);

	LWLockAcquire(wake->lock, LW_SHARED);
	for (i = 0; i < wake->nentries; i++)
	{
		PipelineWakeEntry *e = &wake->entries[i];

		if (e->pid == 0 || e->dboid != MyDatabaseId || e->pid == MyProcPid)
			continue;
		if (e->source == relid || list_member_oid(ancestors, e->source))
			SetLatch(e->latch);
	}
	LWLockRelease(wake->lock);
	list_free(ancestors);
}
