/*
 * worker_common.h
 *		What every streamext background worker needs around the code that
 *		does its job: transaction and SPI brackets, a subtransaction that
 *		catches an error, the rule that tells a transient error from one the
 *		data (or the definition) causes, restart backoff, and running a piece
 *		of code as another role.
 *
 * Ingest workers, the launcher and pipeline workers all use these, so that
 * each of them gets memory contexts, snapshots, the pinned search_path and
 * error classification right in one place (issue 11).
 */
#ifndef STREAMEXT_COMMON_WORKER_COMMON_H
#define STREAMEXT_COMMON_WORKER_COMMON_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/elog.h"
#include "utils/palloc.h"

/* ---- xact.c: transaction (+ SPI) brackets ---- */

#define SE_XACT_SPI      0x01 /* SPI_connect() inside, SPI_finish() at the end */
#define SE_XACT_PIN_PATH 0x02 /* search_path = pg_catalog, pg_temp until the end */

typedef struct SeXact
{
	MemoryContext caller; /* current when se_xact_begin() was called */
	int flags;
	bool activity; /* reported to pg_stat_activity */
} SeXact;

/*
 * Start a transaction with a snapshot (and SPI, a pinned search_path, as
 * flags say); activity, if not NULL, shows in pg_stat_activity until the
 * end.  Inside, x->caller is the context to copy results into.
 */
extern void se_xact_begin(SeXact *x, int flags, const char *activity);

/* Commit what se_xact_begin() started; back in the caller's memory context. */
extern void se_xact_commit(SeXact *x);

/*
 * Roll back the current transaction after an error was caught (it may be
 * one of se_xact_begin() or not); back in the caller's memory context.
 */
extern void se_xact_abort(SeXact *x);

/* ---- search_path.c: the extension's own queries under a pinned search_path ---- */

extern int se_pin_search_path(void);
extern void se_unpin_search_path(int level);

/* ---- subxact.c: catching errors ---- */

typedef void (*SeTryFn)(void *arg);

/*
 * Run fn(arg) in an internal subtransaction of the current transaction.
 * Returns NULL when it succeeded (the subtransaction is released), else the
 * error, copied into the caller's memory context, after rolling the
 * subtransaction back.  The caller's memory context and resource owner are
 * current again either way.
 */
extern ErrorData *se_subxact_try(SeTryFn fn, void *arg);

/*
 * Run fn(arg) at the top level (outside or inside a transaction).  Returns
 * NULL, or the error (in the caller's memory context) after aborting the
 * current transaction, if any.  FATAL errors are not caught.
 */
extern ErrorData *se_try(SeTryFn fn, void *arg);

/* ---- errors.c: what an error means for a worker ---- */

typedef enum SeErrorKind
{
	SE_ERROR_DATA,      /* the data or the definition: stop, state 'error' */
	SE_ERROR_TRANSIENT, /* may go away: retry with backoff */
	SE_ERROR_SHUTDOWN   /* the worker was asked to stop: just stop */
} SeErrorKind;

extern SeErrorKind se_error_classify(const ErrorData *ed);
extern bool se_error_is_transient(int sqlerrcode);

/* Can the content of one row (message) have caused this error? */
extern bool se_error_caused_by_row(int sqlerrcode);

/* "message (detail)", palloc'd */
extern char *se_error_text(const ErrorData *ed);

/* ---- backoff.c: restart delays ---- */

#define SE_BACKOFF_BASE_MS 1000
#define SE_BACKOFF_MAX_MS  60000
/* something that ran this long before failing starts its count again */
#define SE_BACKOFF_RESET_MS 60000

typedef struct SeBackoff
{
	int failures; /* consecutive */
} SeBackoff;

/* The delay before attempt failures + 1: base * 2^(failures - 1), capped. */
extern int se_backoff_delay_ms(int failures, bool jitter);

/*
 * Count a failure of something started at started_at (0: unknown) and
 * return how long to wait before trying again.
 */
extern int se_backoff_fail(SeBackoff *b, TimestampTz started_at, TimestampTz now, bool jitter);

/* ---- role.c: running as another role ---- */

typedef struct SeRunAs
{
	Oid saved_userid;
	int saved_sec_context;
	int guc_level;
	bool undo_settings; /* SECURITY_RESTRICTED_OPERATION: undo every setting at the end */
} SeRunAs;

/*
 * Run what follows as role, until se_run_as_end(): SECURITY_LOCAL_USERID_CHANGE
 * plus sec_flags (say SECURITY_RESTRICTED_OPERATION), and with search_path
 * set to search_path unless it is NULL; with SECURITY_RESTRICTED_OPERATION
 * every setting changed in between is undone by se_run_as_end().  Inside a
 * transaction; an error in between is undone by the (sub)transaction's abort.
 */
extern void se_run_as_begin(SeRunAs *r, Oid role, int sec_flags, const char *search_path);
extern void se_run_as_end(SeRunAs *r);

#endif /* STREAMEXT_COMMON_WORKER_COMMON_H */
