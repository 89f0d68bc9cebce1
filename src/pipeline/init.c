/*
 * init.c
 *		pipeline_init(): the GUCs of pipelines, the shared memory of their
 *		wake-ups, and the pipelines' pass of the streamext launcher.
 *
 * streamext.pipeline_batches_keep bounds the event log streamext.pipeline_batches
 * (the last N batches of each pipeline are kept); streamext.pipeline_idle_poll_ms
 * is how often a pipeline with trigger '0' looks for new rows of a source that
 * nothing in this server wakes it for (a table applications insert into);
 * streamext.max_pipeline_workers bounds the pipeline workers the launcher
 * runs, and sizes the wake-up registry.
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "common/launcher.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_internal.h"

int pipeline_batches_keep = 1000;
int pipeline_idle_poll_ms = 100;
int pipeline_max_workers = 16;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
pipeline_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	pipeline_wakeup_shmem_request();
}

static void
pipeline_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	pipeline_wakeup_shmem_startup();
}

void
pipeline_init(void)
{
	GucContext pmctx = process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP;

	DefineCustomIntVariable("streamext.pipeline_batches_keep",
	                        "Batches of each pipeline kept in streamext.pipeline_batches.",
	                        "Older rows of the event log are deleted as new batches commit.",
	                        &pipeline_batches_keep, 1000, 1, INT_MAX, PGC_SUSET, 0, NULL, NULL,
	                        NULL);
	DefineCustomIntVariable(
	    "streamext.pipeline_idle_poll_ms",
	    "How often an idle pipeline with trigger '0' looks for new rows.",
	    "A commit of a source or pipeline of this server wakes the pipelines "
	    "reading its table at once; this is for tables that applications write.",
	    &pipeline_idle_poll_ms, 100, 1, 3600000, PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("streamext.max_pipeline_workers",
	                        "Maximum number of pipeline workers (all pipelines together).",
	                        "Each also needs a max_worker_processes slot.", &pipeline_max_workers,
	                        16, 1, 1024, pmctx, 0, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pipeline_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pipeline_shmem_startup;

	pipeline_launcher_register();
}
