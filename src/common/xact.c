/*
 * xact.c
 *		Transaction brackets for background workers: start a transaction
 *		with a snapshot (optionally SPI and a pinned search_path), commit it
 *		or roll it back, and be back in the caller's memory context.
 *
 * A worker's loop runs outside any transaction, in a long-lived context of
 * its own; StartTransactionCommand() switches to the transaction's context
 * and the commit leaves TopMemoryContext current, so every hand-written
 * bracket had to remember to switch back.  These do it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/snapmgr.h"

#include "common/worker_common.h"

void
se_xact_begin(SeXact *x, int flags, const char *activity)
{
	x->caller = CurrentMemoryContext;
	x->flags = flags;
	x->activity = (activity != NULL);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (flags & SE_XACT_PIN_PATH)
		(void)se_pin_search_path(); /* until the end of the transaction */
	if ((flags & SE_XACT_SPI) && SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("SPI_connect failed")));
	if (activity)
		pgstat_report_activity(STATE_RUNNING, activity);
}

void
se_xact_commit(SeXact *x)
{
	if (x->flags & SE_XACT_SPI)
		SPI_finish();
	if (ActiveSnapshotSet())
		PopActiveSnapshot();
	CommitTransactionCommand();
	if (x->activity)
		pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(x->caller);
}

void
se_xact_abort(SeXact *x)
{
	/* SPI, snapshots and GUC nesting are unwound by the abort */
	AbortCurrentTransaction();
	if (x->activity)
		pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(x->caller);
}
