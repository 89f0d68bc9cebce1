/*
 * role.c
 *		Running a piece of code as another role, the way a SECURITY DEFINER
 *		function does: the user id changes until the end of the bracket (or
 *		of the transaction, on an error), and so does the search_path.
 *
 * For code that runs in a session of one role on behalf of another: the
 * pipeline's query and checks run as the pipeline's owner even when a
 * superuser calls run_pipeline; catalog work done as the extension's owner
 * on behalf of a role.  Always SECURITY_LOCAL_USERID_CHANGE; the caller adds
 * SECURITY_RESTRICTED_OPERATION where nothing may create temporary objects
 * or change session state (the batch needs a temporary table, so running a
 * pipeline's query cannot be restricted).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "common/worker_common.h"

void
se_run_as_begin(SeRunAs *r, Oid role, int sec_flags, const char *search_path)
{
	GetUserIdAndSecContext(&r->saved_userid, &r->saved_sec_context);
	SetUserIdAndSecContext(role, r->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE | sec_flags);
	r->undo_settings = (sec_flags & SECURITY_RESTRICTED_OPERATION) != 0;
	r->guc_level = -1;
	if (search_path != NULL || r->undo_settings)
		r->guc_level = NewGUCNestLevel();
	if (search_path != NULL)
		(void)set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION,
		                        GUC_ACTION_SAVE, true, 0, false);
}

void
se_run_as_end(SeRunAs *r)
{
	/*
	 * A restricted operation runs another role's code: every setting it
	 * changed (even with a plain SET) is undone, as after REFRESH
	 * MATERIALIZED VIEW, so nothing of it outlives the bracket.
	 */
	if (r->guc_level >= 0)
		AtEOXact_GUC(!r->undo_settings, r->guc_level);
	SetUserIdAndSecContext(r->saved_userid, r->saved_sec_context);
}
