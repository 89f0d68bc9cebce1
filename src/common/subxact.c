/*
 * subxact.c
 *		Catching an error in a worker: in an internal subtransaction (the
 *		rest of the transaction goes on), or at the top level (the
 *		transaction is rolled back).  Either way the caller gets the
 *		ErrorData and is back in its own memory context and resource owner.
 *
 * The pattern (BeginInternalSubTransaction, PG_TRY, CopyErrorData in the
 * caller's context, FlushErrorState, RollbackAndReleaseCurrentSubTransaction,
 * restore context and resource owner) is easy to get subtly wrong; here it
 * is written once.
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/resowner.h"

#include "common/worker_common.h"

ErrorData *
se_subxact_try(SeTryFn fn, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData *volatile ed = NULL;

	BeginInternalSubTransaction(NULL);
	/* fn allocates where the caller does, not in the subtransaction's context */
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return ed;
}

ErrorData *
se_try(SeTryFn fn, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData *volatile ed = NULL;

	PG_TRY();
	{
		fn(arg);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		/* nothing to do outside a transaction */
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
	}
	PG_END_TRY();
	return ed;
}
