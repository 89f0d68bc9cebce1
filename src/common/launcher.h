/*
 * launcher.h
 *		The streamext launcher, shared by the components that run dynamic
 *		background workers (Kafka sources, pipelines), and the bookkeeping
 *		of the workers it starts.
 *
 * One static background worker, "streamext launcher", connected to
 * streamext.database.  Each component registers a client at _PG_init; the
 * launcher calls every client's pass whenever it is woken (a DDL function
 * of the component commits, a worker starts or stops) and at least every
 * streamext.launcher_naptime, and a pass starts and stops the component's
 * workers so that they match its catalog.
 */
#ifndef STREAMEXT_COMMON_LAUNCHER_H
#define STREAMEXT_COMMON_LAUNCHER_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "postmaster/bgworker.h"

#include "common/worker_common.h"

/* GUCs */
extern char *se_database;       /* streamext.database */
extern int se_launcher_naptime; /* streamext.launcher_naptime, ms */

typedef struct SeLauncherClient
{
	const char *name;
	void (*start)(void); /* once, in the launcher, connected (may be NULL) */
	/* one pass; returns true while it has workers (the launcher looks again soon) */
	bool (*pass)(void);
	void (*stop)(void); /* the launcher stops (may be NULL) */
} SeLauncherClient;

/* GUCs, shared memory, the launcher worker; the first thing _PG_init calls. */
extern void common_init(void);

/* owned.c: the DROP ROLE / REASSIGN OWNED / DROP OWNED hook; common_init() calls it. */
extern void se_owned_init(void);

/* At _PG_init, after common_init(); client must stay valid. */
extern void se_launcher_register(const SeLauncherClient *client);

/* Set the launcher's latch, if it runs. */
extern void se_launcher_wake(void);

/* Wake the launcher when the current transaction commits. */
extern void se_launcher_wake_at_commit(void);

/* Is a launcher running? */
extern bool se_launcher_running(void);

extern PGDLLEXPORT void se_launcher_main(Datum arg);

/*
 * In a pass (SPI connected): put the running objects of table
 * (streamext.sources, streamext.pipelines) whose owner cannot log in, or has
 * no CONNECT privilege on this database, into state 'error' saying so (what:
 * "source", "pipeline"), since every start of their workers would fail.
 * Returns how many.
 */
extern uint64 se_launcher_stop_nologin(const char *table, const char *what);

/*
 * worker_set.c: the dynamic workers one client started.  A worker is named
 * by (id, generation, index): the source or pipeline, its generation (a
 * change of definition restarts it) and its number among the object's
 * workers.  A worker that stops without being asked to is restarted after
 * a backoff (se_backoff_fail, counted per (id, generation, index)).
 */
typedef struct SeWorker
{
	int64 id;
	int32 generation;
	int32 index;
	BackgroundWorkerHandle *handle;
	bool stopping; /* terminate requested */
	TimestampTz started_at;
	TimestampTz stopped_at; /* when we saw it stopped; 0 while running */
	int restart_delay_ms;   /* once stopped: wait this long before a restart */
} SeWorker;

typedef struct SeWorkerSet
{
	const char *what; /* "source", "pipeline": for the log */
	List *workers;    /* SeWorker *, in TopMemoryContext */
	List *failures;   /* consecutive failures, in TopMemoryContext */
} SeWorkerSet;

/* Is worker (id, generation, index) wanted now?  index -1: any of (id, generation). */
typedef bool (*SeWantedFn)(int64 id, int32 generation, int32 index, void *arg);

/*
 * Fill the parts of a dynamic worker's definition every streamext worker
 * shares (shared memory and a database connection, started after recovery,
 * never restarted by the postmaster, the launcher notified): the caller sets
 * bgw_function_name, bgw_name, bgw_type and bgw_extra.
 */
extern void se_bgworker_init(BackgroundWorker *bgw, const char *function, const char *type);

/*
 * Stop the workers no longer wanted, forget those that stopped (a stopped,
 * still wanted worker stays listed for its restart delay, so that it is not
 * restarted before), forget the failures of what is no longer wanted.
 */
extern void se_workers_sweep(SeWorkerSet *set, SeWantedFn wanted, void *arg);

/* Workers still running or stopping. */
extern int se_workers_alive(SeWorkerSet *set);

/* Is worker index of object id listed (running, stopping, or waiting for its restart)? */
extern bool se_workers_listed(SeWorkerSet *set, int64 id, int32 index);

/* Start a worker; false when no background worker slot is free. */
extern bool se_workers_start(SeWorkerSet *set, BackgroundWorker *bgw, int64 id, int32 generation,
                             int32 index);

/* Ask every worker of the set to stop. */
extern void se_workers_terminate_all(SeWorkerSet *set);

#endif /* STREAMEXT_COMMON_LAUNCHER_H */
