/*
 * search_path.c
 *		Running the extension's own queries in the workers under
 *		search_path = pg_catalog, pg_temp.
 *
 * A worker runs as the owner of a source or pipeline, whose search_path may hold a
 * schema others can create objects in (public before PostgreSQL 15, and
 * after pg_upgrade): an operator planted there, such as ->>(jsonb, jsonb),
 * is a better match for `options->>'x'` than pg_catalog's and would run in
 * the worker.  So every query of the extension's (catalog reads, offsets,
 * dead letters, partition DDL) runs with the path pinned, set like a
 * function's SET clause and restored after.  The rows of a batch are not
 * written under it: the target's triggers are the owner's code and see the
 * owner's own search_path, as in any session of the owner.
 *
 * Plans kept with SPI_keepplan are re-planned when the search_path differs
 * from the one they were made under, so they must be both made and run
 * between se_pin_search_path() and se_unpin_search_path().
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/guc.h"

#include "common/worker_common.h"

/* Pin the search_path until se_unpin_search_path(); inside a transaction. */
int
se_pin_search_path(void)
{
	int level = NewGUCNestLevel();

	(void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
	                        GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/* Back to the search_path before se_pin_search_path() returned level. */
void
se_unpin_search_path(int level)
{
	AtEOXact_GUC(true, level);
}
