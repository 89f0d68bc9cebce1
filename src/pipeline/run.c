/*
 * run.c
 *		streamext.run_pipeline(name, max_batches): micro-batches of one
 *		pipeline now, in the caller's transaction, until it has caught up.
 *
 * For tests, backfills and pipelines with trigger 'manual' driven by
 * pg_cron.  The batches run as the pipeline's owner (the caller must be the
 * owner, a member of the owner's role, or a superuser), exactly as in the
 * worker; for a caller other than the owner inside a security-restricted
 * operation, so the owner's code cannot act later with the caller's rights; every error reaches the caller and rolls back its transaction, so
 * a failed run leaves nothing behind.  A paused (or failed) pipeline runs
 * too: pausing stops the worker, and running by hand is how a manual
 * pipeline is driven or a fixed pipeline is tried before resume_pipeline.
 * A worker running the same pipeline is waited for (the progress row lock
 * of batch.c).
 *
 * "Caught up" is: the last batch read everything its snapshot saw (it was
 * not cut short by max_batch_rows), or there was nothing new.  Rows that
 * commit while run_pipeline runs are left for the next call, so a busy
 * source cannot keep it running forever.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "common/worker_common.h"
#include "pipeline/pipeline_internal.h"

PG_FUNCTION_INFO_V1(streamext_run_pipeline);

Datum
streamext_run_pipeline(PG_FUNCTION_ARGS)
{
	char	   *name;
	int32		max_batches = -1;
	PipelineDef *def;
	SeRunAs		as_owner;
	bool		switched = false;
	int64		total = 0;
	int32		batches = 0;
	bool		more;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
	{
		max_batches = PG_GETARG_INT32(1);
		if (max_batches < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_batches must be at least 1, or NULL for no limit")));
	}

	def = pipeline_load(name, false);
	if (!superuser() && !has_privs_of_role(GetUserId(), def->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be the owner of pipeline \"%s\" to run it", def->name)));

	/*
	 * Another role's code (the query, the checks, the target's triggers) must
	 * not leave anything behind in this session that would later run with the
	 * caller's rights: as for REFRESH MATERIALIZED VIEW, it runs in a
	 * security-restricted operation (no temporary tables, deferred triggers,
	 * WITH HOLD cursors, SET ROLE), and every setting it changed is undone.
	 */
	if (GetUserId() != def->owner)
	{
		se_run_as_begin(&as_owner, def->owner, SECURITY_RESTRICTED_OPERATION, NULL);
		switched = true;
	}

	/* an error resets the user at (sub)transaction abort */
	do
	{
		CHECK_FOR_INTERRUPTS();
		total += pipeline_run_batch_more(def, &more);
		batches++;
	} while (more && (max_batches < 0 || batches < max_batches));

	if (switched)
		se_run_as_end(&as_owner);
	PG_RETURN_INT64(total);
}
