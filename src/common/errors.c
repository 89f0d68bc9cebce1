/*
 * errors.c
 *		What an error means for a worker: retry it (transient), stop with
 *		state 'error' (the data or the definition caused it), or just stop
 *		(the worker was asked to).
 *
 * Transient, by SQLSTATE class: 08 connection (Kafka or a server
 * unreachable), 40 transaction rollback (40001 serialization failure,
 * 40P01 deadlock), 53 insufficient resources, 55 object not in prerequisite
 * state (55P03 lock not available, 55006 object in use), 57 operator
 * intervention (57014 query canceled, say by statement_timeout, outside a
 * shutdown; a crash of another backend), 58 system error (I/O), and XX000
 * internal errors.  Everything else (22 data exception, 23 integrity
 * constraint violation, 42 syntax error or access rule violation, P0 raised
 * by PL/pgSQL, 23514 failed expectation, ...) would fail again on the same
 * rows, so retrying cannot help: the user has to fix the data or the
 * definition, then resume.
 *
 * se_error_caused_by_row() is a narrower rule, for isolating single bad
 * rows of a batch (the ingest sink's dead letters): errors one row's content
 * can cause.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/interrupt.h"

#include "common/worker_common.h"

bool
se_error_is_transient(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TRANSACTION_ROLLBACK:             /* 40: deadlock, serialization */
		case ERRCODE_INSUFFICIENT_RESOURCES:           /* 53 */
		case ERRCODE_OPERATOR_INTERVENTION:            /* 57: cancel, shutdown */
		case ERRCODE_SYSTEM_ERROR:                     /* 58 */
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE: /* 55: lock not available */
		case ERRCODE_CONNECTION_EXCEPTION:             /* 08: Kafka unreachable */
			return true;
		default:
			return sqlerrcode == ERRCODE_INTERNAL_ERROR;
	}
}

SeErrorKind
se_error_classify(const ErrorData *ed)
{
	/* a batch abandoned because the worker is to stop (SIGTERM) */
	if ((ShutdownRequestPending || ProcDiePending) &&
	    (ed->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN || ed->sqlerrcode == ERRCODE_QUERY_CANCELED))
		return SE_ERROR_SHUTDOWN;
	return se_error_is_transient(ed->sqlerrcode) ? SE_ERROR_TRANSIENT : SE_ERROR_DATA;
}

bool
se_error_caused_by_row(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_DATA_EXCEPTION:                 /* 22: bad input, out of range, bad encoding */
		case ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION: /* 23: NOT NULL, CHECK, unique, FK */
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:         /* 54: row too big for an index */
		case ERRCODE_RAISE_EXCEPTION:                /* P0: a trigger rejected the row */
		case ERRCODE_CARDINALITY_VIOLATION:
			return true;
		default:
			break;
	}
	return sqlerrcode == ERRCODE_DATATYPE_MISMATCH ||
	       sqlerrcode == ERRCODE_INVALID_TEXT_REPRESENTATION;
}

char *
se_error_text(const ErrorData *ed)
{
	if (ed->detail)
		return psprintf("%s (%s)", ed->message, ed->detail);
	return pstrdup(ed->message ? ed->message : "unknown error");
}
