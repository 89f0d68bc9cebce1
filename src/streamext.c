/*
 * streamext.c
 *		Module entry point: GUCs and background worker registration.
 *
 * Each component defines its own GUCs and workers in an init function
 * called from here; nothing else belongs in this file.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "commands/dbcommands.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "streamext.h"
#include "common/launcher.h"
#include "columnar/columnar.h"
#include "ingest/ingest.h"
#include "monitor/alert.h"
#include "pipeline/pipeline.h"
#include "monitor/monitor.h"

PG_MODULE_MAGIC;

bool		streamext_preloaded = false;

void		_PG_init(void);

void
_PG_init(void)
{
	/*
	 * Backends forked from the postmaster inherit this flag; a backend that
	 * loads the library on its own (CREATE EXTENSION, a function call)
	 * without shared_preload_libraries sees false and can say so.
	 */
	streamext_preloaded = process_shared_preload_libraries_in_progress;

	/* each component defines its own GUCs, hooks and workers */
	common_init();				/* first: the launcher the others register with */
	ingest_init();
	columnar_init();
	alert_init();
	pipeline_init();
	monitor_init();

	/* A misspelt streamext.* setting is an error, not a silent placeholder. */
	MarkGUCPrefixReserved("streamext");
}

/*
 * Tell the user that the objects of a component (what: a plural noun,
 * "sources") get no background workers: at every call when the library was
 * not preloaded; when this database is not streamext.database, where the
 * launcher runs none, once per session (*warned_database, the caller's).
 * detail: what still works without workers, or NULL.
 */
void
streamext_warn_if_no_workers(const char *what, const char *detail, bool *warned_database)
{
	char	   *dbname;

	if (!streamext_preloaded)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s need streamext in shared_preload_libraries", what),
				 detail ? errdetail_internal("%s", detail) :
				 errdetail("Without it no background workers run, so nothing is processed."),
				 errhint("Add 'streamext' to shared_preload_libraries in postgresql.conf and restart the server.")));
		return;
	}
	if (*warned_database)
		return;
	dbname = get_database_name(MyDatabaseId);
	if (dbname && se_database && strcmp(dbname, se_database) != 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s of database \"%s\" do not run: streamext.database is \"%s\"",
						what, dbname, se_database),
				 detail ? errdetail_internal("%s", detail) : 0,
				 errhint("Set streamext.database = '%s' in postgresql.conf and restart the server.", dbname)));
		*warned_database = true;
	}
}

PG_FUNCTION_INFO_V1(streamext_version);

/* streamext.version(): the version of the loaded library */
Datum
streamext_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(STREAMEXT_VERSION));
}

PG_FUNCTION_INFO_V1(streamext_workers_enabled);

/* streamext.workers_enabled(): can this server run streamext's workers? */
Datum
streamext_workers_enabled(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(streamext_preloaded);
}
