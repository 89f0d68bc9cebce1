/*
 * monitor.h
 *		The monitoring component (issue 13): what the ingest and pipeline
 *		workers tell it about each committed batch, and its entry point.
 *
 * The workers call the monitor_* functions below at a few spots (one line
 * each); the monitor writes the structured batch logs and keeps the
 * counters and batch-duration histograms that streamext.metrics() exports
 * in shared memory (metrics_shmem.c).  Counters there count from the start
 * of the server, whatever the workers do meanwhile.
 */
#ifndef STREAMEXT_MONITOR_H
#define STREAMEXT_MONITOR_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* GUCs */
extern int monitor_batch_log_level; /* streamext.batch_log_level */
extern int monitor_http_port;       /* streamext.metrics_http_port, 0 = off */
extern char *monitor_http_address;  /* streamext.metrics_http_address */

/* GUCs, shared memory, the HTTP worker; called from _PG_init. */
extern void monitor_init(void);

/*
 * A source's batch has committed (ingest worker, after the commit):
 * structured log line, counters and histogram.
 */
extern void monitor_log_source_batch(int64 source_id, const char *source, int partitions,
                                     int64 messages, int64 rows, int64 dead_letters, int64 bytes,
                                     TimestampTz started);

/* The consumer lag of one partition of a source, as a worker last measured it. */
extern void monitor_source_partition_lag(int64 source_id, int32 partition, int64 lag);

/*
 * A pipeline's batch was recorded in the current transaction (batch.c): the
 * log line and counters follow when that transaction commits, and are
 * forgotten if it aborts.
 */
extern void monitor_pipeline_batch_pending(int64 pipeline_id, const char *pipeline, int64 batch,
                                           int64 rows_in, int64 rows_out, int64 late,
                                           int64 duplicates, bool has_watermark,
                                           TimestampTz watermark, TimestampTz started);

/*
 * A change of state of a source's or pipeline's worker (kind "source" or
 * "pipeline"; state "started", "error", "recovered", "paused", "stopped"),
 * logged at LOG as key=value pairs.  detail may be NULL.
 */
extern void monitor_log_state(const char *kind, const char *name, const char *state,
                              const char *detail);

/* The launcher restarts a failed worker of a source or pipeline (kind as above). */
extern void monitor_count_restart(const char *kind, int64 id);

/* metrics_shmem.c: shared memory (called from monitor_init's hooks) */
extern Size monitor_shmem_size(void);
extern void monitor_shmem_startup(void);
extern void monitor_record_batch(char kind, int64 id, int64 messages, int64 rows,
                                 int64 dead_letters, int64 bytes, double seconds);

/* http.c: the optional built-in endpoint's background worker */
extern void monitor_http_register(void);
extern PGDLLEXPORT void monitor_http_main(Datum arg);

#endif /* STREAMEXT_MONITOR_H */
