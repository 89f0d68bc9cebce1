/*
 * worker_set.c
 *		The launcher's bookkeeping of the dynamic workers of one client
 *		(sources, pipelines): starting them, stopping those no longer wanted,
 *		and restarting a failed one only after a backoff.
 *
 * A pass of a client reads what should run, calls se_workers_sweep() with
 * a function saying whether a worker is still wanted, then starts what is
 * missing with se_workers_start().  A worker that stopped without being
 * asked to counts as a failure of its (id, generation, index); the next
 * start waits 1 s, 2 s, 4 s ... up to a minute (backoff.c).  A definition
 * that changes (a new generation) or an object that is no longer wanted
 * (paused, dropped, in state error) forgets its failures, so nothing holds
 * a slot or a delay for what no longer runs.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "common/launcher.h"
#include "monitor/monitor.h"

typedef struct SeWorkerFailures
{
	int64 id;
	int32 generation;
	int32 index;
	SeBackoff backoff;
} SeWorkerFailures;

void
se_bgworker_init(BackgroundWorker *bgw, const char *function, const char *type)
{
	memset(bgw, 0, sizeof(*bgw));
	bgw->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw->bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw->bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw->bgw_library_name, BGW_MAXLEN, "streamext");
	snprintf(bgw->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(bgw->bgw_type, BGW_MAXLEN, "%s", type);
	bgw->bgw_notify_pid = MyProcPid;
}

/*
 * A wanted worker stopped without being asked to: count the failure and
 * return how long to wait before starting it again.
 */
static int
note_failure(SeWorkerSet *set, SeWorker *w, TimestampTz now)
{
	SeWorkerFailures *f = NULL;
	ListCell *lc;
	int delay;

	foreach (lc, set->failures)
	{
		SeWorkerFailures *c = lfirst(lc);

		if (c->id == w->id && c->generation == w->generation && c->index == w->index)
			f = c;
	}
	if (f == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		f = palloc0(sizeof(SeWorkerFailures));
		f->id = w->id;
		f->generation = w->generation;
		f->index = w->index;
		set->failures = lappend(set->failures, f);
		MemoryContextSwitchTo(old);
	}
	delay = se_backoff_fail(&f->backoff, w->started_at, now, false);
	monitor_count_restart(set->what, w->id);
	if (f->backoff.failures >= 3)
		ereport(LOG,
		        (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
		         errmsg("streamext launcher: worker %d of %s %lld failed %d times in a row; next "
		                "start in %d s",
		                w->index, set->what, (long long)w->id, f->backoff.failures, delay / 1000),
		         errhint("See the worker's errors above, and streamext.%s_status.", set->what)));
	return delay;
}

void
se_workers_sweep(SeWorkerSet *set, SeWantedFn wanted_fn, void *arg)
{
	List *keep = NIL;
	ListCell *lc;
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	/* Stop what is no longer wanted; forget what has stopped. */
	foreach (lc, set->workers)
	{
		SeWorker *w = lfirst(lc);
		pid_t pid;
		BgwHandleStatus st = GetBackgroundWorkerPid(w->handle, &pid);
		bool wanted = wanted_fn(w->id, w->generation, w->index, arg);

		if (st == BGWH_STOPPED)
		{
			if (w->stopped_at == 0)
			{
				w->stopped_at = now;
				if (wanted && !w->stopping)
					w->restart_delay_ms = note_failure(set, w, now);
			}
			/* Keep a stopped, still wanted worker's entry for the restart delay. */
			if (wanted && !w->stopping &&
			    !TimestampDifferenceExceeds(w->stopped_at, now, w->restart_delay_ms))
			{
				keep = lappend(keep, w);
				continue;
			}
			pfree(w->handle);
			pfree(w);
			continue;
		}
		if (!wanted && !w->stopping)
		{
			TerminateBackgroundWorker(w->handle);
			w->stopping = true;
		}
		keep = lappend(keep, w);
	}
	list_free(set->workers);
	set->workers = keep;

	/* Forget the failures of what stopped or changed. */
	keep = NIL;
	foreach (lc, set->failures)
	{
		SeWorkerFailures *f = lfirst(lc);

		if (wanted_fn(f->id, f->generation, -1, arg))
			keep = lappend(keep, f);
		else
			pfree(f);
	}
	list_free(set->failures);
	set->failures = keep;
	MemoryContextSwitchTo(old);
}

int
se_workers_alive(SeWorkerSet *set)
{
	ListCell *lc;
	int n = 0;

	foreach (lc, set->workers)
	{
		if (((SeWorker *)lfirst(lc))->stopped_at == 0)
			n++;
	}
	return n;
}

bool
se_workers_listed(SeWorkerSet *set, int64 id, int32 index)
{
	ListCell *lc;

	foreach (lc, set->workers)
	{
		SeWorker *w = lfirst(lc);

		/* An old generation still stopping blocks its successor. */
		if (w->id == id && w->index == index)
			return true;
	}
	return false;
}

bool
se_workers_start(SeWorkerSet *set, BackgroundWorker *bgw, int64 id, int32 generation, int32 index)
{
	BackgroundWorkerHandle *handle;
	SeWorker *w;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	if (!RegisterDynamicBackgroundWorker(bgw, &handle))
	{
		MemoryContextSwitchTo(old);
		return false;
	}
	w = palloc0(sizeof(SeWorker));
	w->id = id;
	w->generation = generation;
	w->index = index;
	w->handle = handle;
	w->started_at = GetCurrentTimestamp();
	w->restart_delay_ms = SE_BACKOFF_BASE_MS;
	set->workers = lappend(set->workers, w);
	MemoryContextSwitchTo(old);
	return true;
}

void
se_workers_terminate_all(SeWorkerSet *set)
{
	ListCell *lc;

	foreach (lc, set->workers)
		TerminateBackgroundWorker(((SeWorker *)lfirst(lc))->handle);
}
