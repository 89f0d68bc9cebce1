/*
 * metrics.c
 *		The monitoring component's entry point: its GUCs, its shared memory
 *		(the counters of metrics_shmem.c) and the optional HTTP endpoint.
 *
 * streamext.metrics() itself is SQL (metrics.sql): it reads the catalog
 * (source_status, pipeline_progress, the versioned_columnar catalog) and the
 * shared counters through _monitor_batch_stats() and _monitor_partition_lag().
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "common/launcher.h"
#include "monitor/monitor.h"

int monitor_http_port = 0;
char *monitor_http_address = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* the levels of log_min_messages */
static const struct config_enum_entry batch_log_levels[] = {
    {"debug5", DEBUG5, false}, {"debug4", DEBUG4, false}, {"debug3", DEBUG3, false},
    {"debug2", DEBUG2, false}, {"debug1", DEBUG1, false}, {"debug", DEBUG2, true},
    {"info", INFO, false},     {"notice", NOTICE, false}, {"warning", WARNING, false},
    {"log", LOG, false},       {NULL, 0, false}};

static void
monitor_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(monitor_shmem_size());
	RequestNamedLWLockTranche("streamext monitor", 1);
}

static void
monitor_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	monitor_shmem_startup();
}

void
monitor_init(void)
{
	/*
	 * PGC_POSTMASTER variables may only be defined while preloading; loaded
	 * later (CREATE EXTENSION without the preload) they are defined at
	 * SIGHUP level and mean nothing, since no endpoint worker is registered.
	 */
	GucContext	pmctx = process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP;

	DefineCustomEnumVariable("streamext.batch_log_level",
	                         "Message level of the structured log line of each committed batch.",
	                         "One line per batch of each source and pipeline, as key=value pairs.",
	                         &monitor_batch_log_level, DEBUG1, batch_log_levels, PGC_SUSET, 0, NULL,
	                         NULL, NULL);
	DefineCustomIntVariable(
	    "streamext.metrics_http_port",
	    "TCP port of the built-in Prometheus endpoint (GET /metrics); 0 turns it off.",
	    "The endpoint's worker connects to streamext.database.", &monitor_http_port, 0, 0, 65535,
	    pmctx, 0, NULL, NULL, NULL);
	DefineCustomStringVariable(
	    "streamext.metrics_http_address", "Address the built-in Prometheus endpoint listens on.",
	    "Loopback by default: anyone who can connect reads the metrics.", &monitor_http_address,
	    "127.0.0.1", pmctx, 0, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = monitor_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = monitor_startup;

	if (monitor_http_port > 0)
		monitor_http_register();
}

PG_FUNCTION_INFO_V1(streamext_monitor_launcher_up);

/* streamext._monitor_launcher_up(): does the streamext launcher run? */
Datum
streamext_monitor_launcher_up(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(se_launcher_running());
}
