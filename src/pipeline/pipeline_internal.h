/*
 * pipeline_internal.h
 *		What the files of src/pipeline/ share: the parsed definition of a
 *		pipeline and the contract of one micro-batch.
 *
 * One micro-batch, in the caller's transaction (the worker's, or the session
 * of run_pipeline), running as the pipeline's owner:
 *
 *	 batch.c	takes the pipeline's lock, reads the rows its source gained since
 *				the last batch (source_heap.c: snapshot ranges over the tracking
 *				column; source_columnar.c: streamext.changes() by version),
 *				splits off late rows (late_rows table), drops duplicates (dedup
 *				state), checks the expectations (quarantine), and leaves the rows
 *				that remain in the temporary table PIPELINE_BATCH_TABLE;
 *	 emit.c		runs the user's query over them (as the relation "batch") and
 *				writes the target: plain inserts, or windowed aggregation in
 *				append or update mode with the window state of window.c;
 *	 batch.c	then records the progress, the new watermark, the dedup state,
 *				the counters and one streamext.pipeline_batches row.
 *
 * All of it commits together or not at all: that is the exactly-once rule.
 */
#ifndef STREAMEXT_PIPELINE_INTERNAL_H
#define STREAMEXT_PIPELINE_INTERNAL_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/snapshot.h"

/*
 * The column create_pipeline adds to a heap source (when the source lacks it)
 * to know which transaction inserted each row: xid8, DEFAULT
 * pg_current_xact_id(), with a btree index.  64 bits, so neither freezing
 * nor xid wraparound changes what it says.  It is never part of "batch".
 */
#define PIPELINE_TRACK_COLUMN "_streamext_xid"

/*
 * The temporary table holding the rows of the current micro-batch that the
 * query reads: the source's columns (without PIPELINE_TRACK_COLUMN), in the
 * source's order, plus PIPELINE_ET_COLUMN.  Created ON COMMIT DROP by batch.c.
 */
#define PIPELINE_BATCH_TABLE "_streamext_batch"
#define PIPELINE_ET_COLUMN "_streamext_et"	/* event time, NULL without event_time */

typedef enum PipelineSourceKind
{
	PIPELINE_SOURCE_HEAP,		/* heap or partitioned heap: tracking column */
	PIPELINE_SOURCE_COLUMNAR	/* versioned_columnar: read by version */
} PipelineSourceKind;

typedef enum PipelineWindowType
{
	PIPELINE_WINDOW_NONE,
	PIPELINE_WINDOW_TUMBLE,
	PIPELINE_WINDOW_HOP,
	PIPELINE_WINDOW_SESSION
} PipelineWindowType;

typedef enum PipelineMode
{
	PIPELINE_MODE_APPEND,
	PIPELINE_MODE_UPDATE
} PipelineMode;

typedef enum PipelineTrigger
{
	PIPELINE_TRIGGER_INTERVAL,	/* every trigger_interval (0: as soon as rows arrive) */
	PIPELINE_TRIGGER_MANUAL,	/* only run_pipeline */
	PIPELINE_TRIGGER_AVAILABLE_NOW	/* catch up, then state 'finished' */
} PipelineTrigger;

typedef enum PipelineViolation
{
	PIPELINE_VIOLATION_WARN,
	PIPELINE_VIOLATION_DROP,
	PIPELINE_VIOLATION_FAIL
} PipelineViolation;

typedef struct PipelineExpectation
{
	char	   *name;
	char	   *check;			/* one boolean expression, validated at create */
	PipelineViolation on_violation;
} PipelineExpectation;

/*
 * A pipeline as loaded from streamext.pipelines (catalog.c).  Intervals and
 * timestamps from the options are kept both parsed (for C) and as the text
 * the user gave (for generated SQL, always through quote_literal).
 */
typedef struct PipelineDef
{
	int64		id;				/* streamext.pipelines.id: names state tables */
	char	   *name;
	Oid			owner;
	Oid			source;
	Oid			target;
	PipelineSourceKind source_kind;
	char	   *query;			/* NULL: SELECT * FROM batch */
	char	   *search_path;	/* captured at create; the query runs with it */
	char	   *state;			/* running | paused | error | finished */
	Jsonb	   *options;

	/* event time */
	char	   *event_time;		/* column name, or NULL */
	bool		has_watermark;
	Interval	watermark;		/* delay */
	char	   *watermark_text;

	List	   *dedup_keys;		/* column names (char *) */

	/* window */
	PipelineWindowType window_type;
	Interval	window_width;	/* tumble, hop */
	Interval	window_slide;	/* hop */
	Interval	window_gap;		/* session */
	List	   *window_keys;	/* session: column names */
	bool		has_origin;
	TimestampTz window_origin;
	char	   *window_width_text;
	char	   *window_slide_text;
	char	   *window_gap_text;
	char	   *window_origin_text;

	PipelineMode mode;

	char	   *late_rows;		/* qualified, quoted table name, or NULL */
	char	   *quarantine;		/* qualified, quoted table name, or NULL */
	List	   *expectations;	/* PipelineExpectation * */

	PipelineTrigger trigger;
	int64		trigger_interval_ms;	/* PIPELINE_TRIGGER_INTERVAL */
	int64		max_batch_rows; /* 0: unbounded */
	bool		start_latest;	/* start_from = latest */
} PipelineDef;

/*
 * One micro-batch as emit.c sees it.  batch.c fills everything but rows_out.
 */
typedef struct PipelineBatch
{
	PipelineDef *def;
	int64		batch;			/* 1, 2, ... (pipeline_batches.batch) */
	bool		has_prev_watermark;
	TimestampTz prev_watermark; /* watermark after the previous batch: the late rule */
	bool		has_new_watermark;
	TimestampTz new_watermark;	/* after this batch: append mode emits windows
								 * whose end <= new_watermark */
	int64		rows_in;		/* rows read from the source */
	int64		rows_batch;		/* rows in PIPELINE_BATCH_TABLE */
	int64		rows_out;		/* rows written to the target (emit.c) */
	bool		has_dedup_floor;
	TimestampTz dedup_floor;	/* no dedup key has first_event_time <= it (dedup.c) */
	bool		window_by_tid;	/* the scan collects the tids of the rows to
								 * buffer (window.c) */
	bool		read_in_statement;	/* fused_batch's statement reads the
									 * source itself (no tuplestore first),
									 * one heap table */
	bool		window_tids_c;	/* ... and window_buffer.c inserts them, not
								 * the statement, with its snapshot */
} PipelineBatch;

/* catalog.c: load a definition (NULL when missing_ok and absent) */
extern PipelineDef *pipeline_load(const char *name, bool missing_ok);
extern PipelineDef *pipeline_load_by_id(int64 id, bool missing_ok);
/* catalog.c: the catalog row only, options not parsed (drop, pause, resume) */
extern PipelineDef *pipeline_load_unparsed(const char *name, bool missing_ok);
/* catalog.c: parse def->options into def's fields, checking them against the
 * source's columns (def->name, source, target, options, search_path set);
 * check_expressions also plans the expectations' checks (create/alter) */
extern void pipeline_def_parse(PipelineDef *def, bool check_expressions);
/* catalog.c: TimeZone UTC (and one DateStyle, IntervalStyle) until the
 * caller's AtEOXact_GUC: what every batch runs with */
extern void pipeline_pin_time_settings(void);
/* catalog.c: refuse text that is not exactly one SQL expression */
extern void pipeline_check_expression_syntax(const char *expr, const char *what,
											 const char *pipeline);

/* late.c: SQL boolean expression, true when the row whose event time is
 * et_sql is late against the watermark wm_sql (the late rule of DESIGN.md) */
extern char *pipeline_late_predicate(PipelineDef *def, const char *et_sql, const char *wm_sql);

/* state.c: per-pipeline state tables streamext."pipeline_<id>_<suffix>" */
extern char *pipeline_state_table_name(PipelineDef *def, const char *suffix);
extern void pipeline_state_create_table(PipelineDef *def, const char *suffix, const char *columns_sql);
extern void pipeline_state_drop_all(int64 pipeline_id);

/* batch.c: run one micro-batch in the current transaction; returns rows read
 * from the source (0: nothing new, nothing recorded) */
extern int64 pipeline_run_batch(PipelineDef *def);
/* the same; *more is set when max_batch_rows left rows for another batch */
extern int64 pipeline_run_batch_more(PipelineDef *def, bool *more);

/* emit.c: validate query/window/mode against source and target at create
 * and alter time (errors on a bad definition); create, empty and use the
 * window state; write this batch's output */
extern void pipeline_emit_validate(PipelineDef *def);
extern void pipeline_emit_create_state(PipelineDef *def);
extern void pipeline_emit_reset_state(PipelineDef *def);
extern void pipeline_emit(PipelineBatch *b);
extern char *pipeline_emit_insert_sql(PipelineDef *def);

/*
 * window.c, for batch.c's single statement: whether the window runs in it
 * (tumble and hop, append mode); the CTEs from the kept rows (CTE kept, rows
 * with keep_cond true) to the INSERT insert_sql (as _streamext_t), given the
 * new and the previous watermark as SQL; the WARNING about n kept rows
 * without event time; the aggregate that the scan finding the watermark
 * adds to its counts (NULL: none), for the rows to buffer among those that
 * pass scan_cond (NULL: every row read is kept) - called first, as
 * pipeline_window_fused_sql reads its choice (b->window_by_tid).
 */
extern bool pipeline_window_fusable(PipelineDef *def);
extern char *pipeline_window_scan_sql(PipelineBatch *b, const char *scan_cond);
extern char *pipeline_window_fused_sql(PipelineBatch *b, const char *kept, const char *keep_cond,
									   const char *wm_sql, const char *prev_sql,
									   const char *insert_sql);
extern void pipeline_window_warn_no_event_time(PipelineBatch *b, int64 n);
/*
 * window_buffer.c: when b->window_tids_c, the rows to buffer are inserted in
 * bulk after the statement, from the tids it collected (tid[]), with the
 * snapshot it ran with: the rows at or above the eviction bound.
 */
extern int64 window_buffer_insert(PipelineBatch *b, Datum tids, bool has_bound,
								  TimestampTz bound, Snapshot snap);

/* init.c: GUCs */
extern int	pipeline_batches_keep;	/* streamext.pipeline_batches_keep */
extern int	pipeline_idle_poll_ms;	/* streamext.pipeline_idle_poll_ms */
extern int	pipeline_max_workers;	/* streamext.max_pipeline_workers */

/*
 * launch.c: the pipelines' pass of the streamext launcher (one worker per
 * pipeline in state running whose trigger is not manual).  DDL functions
 * (create/alter/drop/pause/resume/reset) call pipeline_signal_launcher() so
 * that the launcher starts or stops workers as soon as they commit.
 */
extern void pipeline_launcher_register(void);
extern void pipeline_signal_launcher(void);

/* What a pipeline worker is told at start (bgw_extra; bgw_main_arg is the id). */
typedef struct PipelineWorkerArgs
{
	Oid			dboid;
	Oid			owner;
	int64		pipeline_id;
	int32		generation;
	char		name[NAMEDATALEN];
} PipelineWorkerArgs;

/* wakeup.c: the registry of running pipeline workers and their sources */
extern void pipeline_wakeup_shmem_request(void);
extern void pipeline_wakeup_shmem_startup(void);
extern bool pipeline_wakeup_register(int64 pipeline_id, Oid source);
extern int	pipeline_wakeup_stop_all(void);

#endif							/* STREAMEXT_PIPELINE_INTERNAL_H */
