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
#include "utils/builtins.h"
#include "utils/guc.h"

#include "streamext.h"
#include "columnar/columnar.h"
#include "ingest/ingest.h"

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
	ingest_init();
	columnar_init();

	/* A misspelt streamext.* setting is an error, not a silent placeholder. */
	MarkGUCPrefixReserved("streamext");
}

/*
 * Tell the user, once per call site, that background workers are not
 * available because the library was not preloaded.
 */
void
streamext_warn_if_not_preloaded(const char *what)
{
	if (streamext_preloaded)
		return;
	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s needs streamext in shared_preload_libraries", what),
			 errdetail("Without it no background workers run, so nothing is processed."),
			 errhint("Add 'streamext' to shared_preload_libraries in postgresql.conf and restart the server.")));
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
