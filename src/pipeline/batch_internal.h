/*
 * batch_internal.h
 *		What the files of one micro-batch share (batch.c, batch_spi.c,
 *		source_heap.c, source_columnar.c, dedup.c, expect.c); nothing outside
 *		them uses it.
 *
 * batch.c drives the batch and owns the temporary tables; the sources say
 * which rows are new and what the progress becomes once they are read;
 * dedup.c and expect.c each transform the rows of the batch in SQL.  Every
 * step is SPI, inside the SPI connection batch.c opened, with search_path
 * pinned to pg_catalog, pg_temp (expect.c switches to the pipeline's own
 * path for the user's checks).
 */
#ifndef STREAMEXT_PIPELINE_BATCH_INTERNAL_H
#define STREAMEXT_PIPELINE_BATCH_INTERNAL_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/snapshot.h"
#include "utils/tuplestore.h"

#include "pipeline/pipeline_internal.h"

/* Columns of the rows read (the CTE "r" of batch.c), besides the source's */
#define PIPELINE_LATE_COLUMN "_streamext_late"
#define PIPELINE_ARRIVAL1 "_streamext_a1"
#define PIPELINE_ARRIVAL2 "_streamext_a2"

/* The progress row as locked at the start of a batch. */
typedef struct PipelineProgress
{
	char	   *snapshot;		/* heap: pg_snapshot as text, or NULL */
	int64		version;		/* columnar: last version read */
	bool		has_watermark;
	TimestampTz watermark;
	bool		has_max_event_time;
	TimestampTz max_event_time;
	int64		batches;
	bool		has_dedup_floor;
	TimestampTz dedup_floor;	/* pipeline_progress.dedup_floor (dedup.c) */
} PipelineProgress;

/*
 * What a source says about the batch about to be read.  The rows are
 * "SELECT <column exprs> <from_sql>", where a source column c is
 * row_prefix || quote_identifier(c).  Arrival order (which of two rows with
 * one dedup key came first) is given by two values per row, kept in the
 * rows read as PIPELINE_ARRIVAL1/2, and arrival_order, an ORDER BY list over
 * them (alias r).
 */
typedef struct PipelineRead
{
	bool		empty;			/* nothing new: no batch */
	char	   *from_sql;		/* FROM ... [WHERE ...] */
	/*
	 * or NULL: the same rows with no condition per row, for a statement run
	 * with a snapshot for which unranged_check_sql returns true (see
	 * source_heap.c)
	 */
	char	   *unranged_from_sql;
	char	   *unranged_check_sql;
	bool		one_relation;	/* from_sql reads one heap table (ONLY) */
	char	   *row_prefix;		/* "t." or "(c._row)." */
	char	   *arrival1;		/* heap: the xid; columnar: the version */
	char	   *arrival2;		/* heap: ctid; columnar: position in changes() */
	char	   *arrival_order;	/* e.g. "r._streamext_a1, r._partition, ..." */
	/* the progress once these rows are read (one of the two) */
	char	   *new_snapshot;	/* heap */
	int64		new_version;	/* columnar */
	bool		caught_up;		/* false: max_batch_rows cut the batch short,
								 * more rows are waiting */
} PipelineRead;

/* batch_spi.c: SPI helpers (in the SPI connection of the batch) */
extern int64 batch_spi(const char *sql, int nargs, Oid *types, Datum *values,
					  const char *nulls, int expect);
extern void batch_spi_snapshot(const char *sql, int nargs, Oid *types, Datum *values,
							   const char *nulls, Snapshot snap);
extern bool batch_spi_check(const char *sql, Snapshot snap);
extern void batch_spi_select_with(const char *sql, int nargs, Oid *types, Datum *values,
								  const char *nulls, Snapshot snap);
extern char *batch_spi_text(const char *sql, int nargs, Oid *types, Datum *values,
							const char *nulls);
extern char *batch_qualified_name(Oid relid);
extern List *batch_source_columns(PipelineDef *def);
extern char *batch_column_list(List *columns, const char *prefix);
extern bool batch_relation_has_column(const char *relname_sql, const char *column);
extern char *batch_resolve_table(PipelineDef *def, const char *name, const char *option);

/* source_heap.c, source_columnar.c */
extern void source_heap_plan(PipelineDef *def, PipelineProgress *prog, PipelineRead *rd);
extern Snapshot source_heap_unranged_snapshot(PipelineBatch *b, PipelineRead *rd);
extern void source_columnar_plan(PipelineDef *def, PipelineProgress *prog, PipelineRead *rd);

/*
 * dedup.c: the SELECT over the rows read (CTE "r") that fills
 * PIPELINE_BATCH_TABLE: the rows that are not late, and with dedup_keys the
 * first arrival of each key the state does not hold; dedup_remember adds
 * the kept keys to the state (after the new watermark is known);
 * dedup_evict forgets the keys whose first_event_time + delay <= watermark,
 * and moves b's dedup_floor (recorded with the batch's progress) there.
 */
extern char *dedup_batch_sql(PipelineBatch *b, PipelineRead *rd, List *columns);
extern void dedup_remember(PipelineBatch *b);
extern void dedup_evict(PipelineBatch *b, TimestampTz watermark);

/*
 * expect.c: count every expectation over PIPELINE_BATCH_TABLE, raise for a
 * failing "fail" expectation, take the rows of failing "drop" expectations
 * out (into the quarantine table when set).  Returns the jsonb text of
 * pipeline_batches.expectations ("{}" without expectations) and adds the
 * failures to *failures.
 */
extern char *expect_apply(PipelineBatch *b, List *columns, int64 *failures,
						  int64 *dropped);

/*
 * expect.c, for the single-statement batch of batch.c (no "fail"
 * expectation): the counts as a select list over rows aliased "batch"
 * (one per expectation, then the rows dropped; *drop_cond the condition of
 * those, or NULL; only rows where and_cond holds count, unless it is NULL),
 * the quarantine INSERT over the relation from (NULL without one), and the
 * jsonb text of the counts.
 */
extern bool expect_none_fail(PipelineDef *def);
extern char *expect_count_list(PipelineDef *def, char **drop_cond, const char *and_cond);
extern char *expect_quarantine_sql(PipelineBatch *b, List *columns, const char *from);
extern char *expect_json(PipelineDef *def, const int64 *counts);

/* dedup.c: the INSERT of the kept keys of the rows of from (alias r) into the
 * state, those with an event time above cutoff_sql (NULL: all) */
extern char *dedup_remember_sql(PipelineBatch *b, const char *from, const char *cutoff_sql);

/*
 * batch_rows.c: the rows of sql registered as the ephemeral named relation
 * name (exact row count for the planner); released after the statement
 * that reads them.
 */
extern int64 batch_rows_read(const char *name, const char *sql, int nargs, Oid *types,
							 Datum *values, const char *nulls, Tuplestorestate **rows);
extern void batch_rows_release(const char *name, Tuplestorestate *rows);
extern bool batch_rows_needed(const char *read_sql, int nargs, Oid *types);

/* the CTE of the rows read (alias r in the SQL of dedup.c and batch.c) */
#define PIPELINE_READ_CTE "_streamext_r"

#endif							/* STREAMEXT_PIPELINE_BATCH_INTERNAL_H */
