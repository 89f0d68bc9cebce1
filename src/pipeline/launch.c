/*
 * launch.c
 *		The pipelines' pass of the streamext launcher (src/common/launcher.c):
 *		one worker per pipeline in state running whose trigger is not
 *		'manual', at the pipeline's current generation.
 *
 * The same rules as for sources (src/common/worker_set.c): a worker that
 * stops without being asked to is restarted after a backoff of 1 s, 2 s, 4 s
 * ... up to a minute; a new generation (alter, reset, resume) replaces the
 * worker once the old one has stopped; a pipeline that is paused, dropped,
 * finished or in state error has no worker and holds no slot (its worker
 * sets the state and exits, and the pass forgets it).  A worker connects as
 * the pipeline's owner, so an owner that cannot log in puts its pipelines in
 * state error with a message saying so, instead of failing every start.
 *
 * Fairness: when more pipelines run than streamext.max_pipeline_workers, the
 * owners take turns (_pipeline_schedule in pipeline.sql): every owner's first
 * pipeline gets a worker before any owner's second, so a role that creates
 * many pipelines cannot starve the others; pipeline_status's hint says why a
 * pipeline waits.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "access/htup_details.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "streamext.h"
#include "common/launcher.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_internal.h"

/* A pipeline the launcher runs a worker for. */
typedef struct LaunchPipeline
{
	int64 id;
	int32 generation;
	Oid owner;
	char name[NAMEDATALEN];
} LaunchPipeline;

static SeWorkerSet pipeline_workers = {.what = "pipeline"};

static bool pipeline_launcher_pass(void);
static void pipeline_launcher_start(void);
static void pipeline_launcher_stop(void);

static const SeLauncherClient pipeline_client = {.name = "pipelines",
                                                 .start = pipeline_launcher_start,
                                                 .pass = pipeline_launcher_pass,
                                                 .stop = pipeline_launcher_stop};

void
pipeline_launcher_register(void)
{
	se_launcher_register(&pipeline_client);
}

void
pipeline_signal_launcher(void)
{
	se_launcher_wake_at_commit();
}

/* The pipelines to run, in turn; NIL when the extension is not installed (yet). */
static List *
read_pipelines(void)
{
	List *result = NIL;
	SeXact x;
	int ret;
	uint64 i;
	bool isnull;

	se_xact_begin(&x, SE_XACT_SPI, "reading streamext.pipelines");
	ret = SPI_execute("SELECT pg_catalog.to_regclass('streamext.pipelines') IS NOT NULL", true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1 ||
	    !DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		se_xact_commit(&x);
		return NIL;
	}

	/* the worker connects as the owner: one that cannot log in would fail every start */
	(void)se_launcher_stop_nologin("streamext.pipelines", "pipeline");

	/*
	 * The running pipelines that need a worker, in the fair order of
	 * _pipeline_schedule (pipeline.sql): only the first
	 * streamext.max_pipeline_workers are wanted, so a worker beyond them (its
	 * owner had the slots first, another owner's pipeline came) is stopped.
	 */
	ret = SPI_execute(psprintf(
	    "SELECT p.id, p.generation, p.owner::pg_catalog.oid, p.name "
	    "FROM streamext._pipeline_schedule() s "
	    "JOIN streamext.pipelines p ON p.id OPERATOR(pg_catalog.=) s.pipeline_id "
	    "WHERE s.turn OPERATOR(pg_catalog.<=) %d "
	    "ORDER BY s.turn",
	    pipeline_max_workers),
	    true, 0);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
		                errmsg_internal("cannot read streamext.pipelines: %s",
		                                SPI_result_code_string(ret))));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc td = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(x.caller);
		LaunchPipeline *p = palloc0(sizeof(LaunchPipeline));

		p->id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		p->generation = DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
		p->owner = DatumGetObjectId(SPI_getbinval(tup, td, 3, &isnull));
		strlcpy(p->name, TextDatumGetCString(SPI_getbinval(tup, td, 4, &isnull)), NAMEDATALEN);
		result = lappend(result, p);
		MemoryContextSwitchTo(old);
	}
	se_xact_commit(&x);
	return result;
}

static bool
pipeline_wanted(int64 id, int32 generation, int32 index, void *arg)
{
	List *pipelines = arg;
	ListCell *lc;

	foreach (lc, pipelines)
	{
		LaunchPipeline *p = lfirst(lc);

		if (p->id == id && p->generation == generation && index <= 0)
			return true;
	}
	return false;
}

static bool
start_worker(LaunchPipeline *p)
{
	BackgroundWorker worker;
	PipelineWorkerArgs args;

	se_bgworker_init(&worker, "pipeline_worker_main", "streamext pipeline");
	memset(&args, 0, sizeof(args));
	args.dboid = MyDatabaseId;
	args.owner = p->owner;
	args.pipeline_id = p->id;
	args.generation = p->generation;
	strlcpy(args.name, p->name, NAMEDATALEN);
	StaticAssertStmt(sizeof(PipelineWorkerArgs) <= BGW_EXTRALEN, "pipeline worker args too long");
	memcpy(worker.bgw_extra, &args, sizeof(args));
	worker.bgw_main_arg = Int64GetDatum(p->id);
	snprintf(worker.bgw_name, BGW_MAXLEN, "streamext pipeline %s", p->name);
	return se_workers_start(&pipeline_workers, &worker, p->id, p->generation, 0);
}

static bool
pipeline_launcher_pass(void)
{
	List *pipelines = read_pipelines();
	ListCell *lc;
	static bool warned_no_slot = false;
	static bool warned_max = false;
	int in_use;

	se_workers_sweep(&pipeline_workers, pipeline_wanted, pipelines);
	in_use = se_workers_alive(&pipeline_workers);
	foreach (lc, pipelines)
	{
		LaunchPipeline *p = lfirst(lc);

		if (se_workers_listed(&pipeline_workers, p->id, 0))
			continue;
		if (in_use >= pipeline_max_workers)
		{
			if (!warned_max)
				ereport(
				    LOG,
				    (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				     errmsg("streamext launcher: pipeline \"%s\" has no worker: all %d "
				            "streamext.max_pipeline_workers are taken",
				            p->name, pipeline_max_workers),
				     errhint("Raise streamext.max_pipeline_workers (and max_worker_processes).")));
			warned_max = true;
			break;
		}
		if (!start_worker(p))
		{
			if (!warned_no_slot)
				ereport(LOG, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				              errmsg("streamext launcher cannot start a worker for pipeline "
				                     "\"%s\": no background worker slot free",
				                     p->name),
				              errhint("Raise max_worker_processes.")));
			warned_no_slot = true;
			break;
		}
		warned_no_slot = false;
		in_use++;
	}
	if (in_use < pipeline_max_workers)
		warned_max = false;
	list_free_deep(pipelines);
	return pipeline_workers.workers != NIL;
}

/* In the launcher, once: stop the workers a previous launcher left running. */
static void
pipeline_launcher_start(void)
{
	int n = pipeline_wakeup_stop_all();

	if (n > 0)
		ereport(LOG,
		        (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
		         errmsg("streamext launcher: stopped %d pipeline worker(s) of a previous launcher",
		                n)));
}

static void
pipeline_launcher_stop(void)
{
	se_workers_terminate_all(&pipeline_workers);
}

PG_FUNCTION_INFO_V1(streamext_pipeline_problem);

/*
 * streamext._pipeline_problem(OUT problem, OUT max_workers): why no pipeline
 * of this database gets a worker, or NULL; and streamext.max_pipeline_workers.
 * Nothing here is secret: it is the server's setup.
 */
Datum
streamext_pipeline_problem(PG_FUNCTION_ARGS)
{
	char *dbname = get_database_name(MyDatabaseId);
	TupleDesc tupdesc;
	Datum values[2];
	bool nulls[2] = {false, false};
	const char *problem = NULL;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
		                errmsg_internal("return type must be a row type")));
	if (!streamext_preloaded)
		problem = "streamext is not in shared_preload_libraries, so no pipeline workers run (only "
		          "streamext.run_pipeline runs batches): add 'streamext' to shared_preload_libraries "
		          "in postgresql.conf and restart the server";
	else if (dbname != NULL && se_database != NULL && strcmp(dbname, se_database) != 0)
		problem = psprintf("pipeline workers run only in database \"%s\" (streamext.database), not "
		                   "in \"%s\" (only streamext.run_pipeline runs batches here): set "
		                   "streamext.database = '%s' in postgresql.conf and restart the server",
		                   se_database, dbname, dbname);
	else if (!se_launcher_running())
		problem = "the streamext launcher is not running (it restarts after a crash; see the server "
		          "log)";
	if (problem == NULL)
		nulls[0] = true;
	else
		values[0] = CStringGetTextDatum(problem);
	values[1] = Int32GetDatum(pipeline_max_workers);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
