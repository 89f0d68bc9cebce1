/*
 * pipeline.h
 *		Continuous pipelines: what the other components may call.
 */
#ifndef STREAMEXT_PIPELINE_H
#define STREAMEXT_PIPELINE_H

#include "postgres.h"

/* GUCs and shared memory; called from _PG_init. */
extern void pipeline_init(void);

/*
 * A transaction that wrote rows into relation relid has committed: wake the
 * workers of the pipelines reading it (relid may be a partition of their
 * source).  Cheap when nobody reads relid; call it after the commit.
 */
extern void pipeline_wake_readers(Oid relid);

/*
 * Does some pipeline still have to read rows of relid (a table, or a
 * partition of a pipeline's source)?  Retention (time_partition, VACUUM of a
 * versioned table) must not remove such rows.  When true and pipeline is
 * not NULL, *pipeline is the name of one such pipeline.
 */
extern bool pipeline_relation_has_unprocessed(Oid relid, char **pipeline);

/* Entry point of a pipeline worker (bgw_main_arg: the pipeline's id). */
extern PGDLLEXPORT void pipeline_worker_main(Datum main_arg);

#endif							/* STREAMEXT_PIPELINE_H */
