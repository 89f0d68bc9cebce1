/*
 * columnar.h
 *		The versioned_columnar table access method: shared declarations of
 *		the storage layer (segments, versions, deletion vectors), the table
 *		AM, the custom scan and the SQL API.
 *
 * Row numbers are the identity of a row: a TID is (row / 291, row % 291 + 1),
 * like Citus columnar, so tidbitmaps and btree indexes accept them.
 */
#ifndef STREAMEXT_COLUMNAR_H
#define STREAMEXT_COLUMNAR_H

#include "access/tupdesc.h"
#include "nodes/bitmapset.h"
#include "storage/itemptr.h"
#include "storage/relfilenode.h"
#include "nodes/pg_list.h"
#include "access/htup.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

#define COLUMNAR_ROWS_PER_BLOCK 291

extern int	columnar_segment_rows;
extern int	columnar_compression_level;

/* One segment (row group) as its metadata row says. */
typedef struct ColumnarSegment
{
	int64		segno;			/* = first row number */
	int32		row_count;
	int64		added_version;
	int64		removed_version;	/* 0: not removed */
} ColumnarSegment;

/* A restriction a segment's min/max/null-count statistics can refute. */
typedef struct ColumnarSkipKey
{
	AttrNumber	attnum;
	int			strategy;		/* BT*StrategyNumber, or 0 = IS NULL, -1 = IS NOT NULL */
	Datum		value;
	Oid			cmp_proc;		/* btree order proc (column type, value type) */
	Oid			collation;
} ColumnarSkipKey;

/*
 * A reader returns the rows of one table: current rows as seen by an MVCC
 * snapshot (plus the backend's own unflushed rows), or the rows of a
 * committed version.  It decodes only the columns asked for, a whole column
 * of a segment at a time.
 */
typedef struct ColumnarReader ColumnarReader;

extern ColumnarReader *columnar_reader_begin(Relation rel, Snapshot snapshot,
											 int64 as_of_version,
											 Bitmapset *attrs, List *skip_keys);
/* A current read, or NULL if more than max_segments segments are live (planning). */
extern ColumnarReader *columnar_reader_begin_limited(Relation rel, Snapshot snapshot,
													 List *skip_keys, int max_segments);
extern bool columnar_reader_next(ColumnarReader *reader, Datum *values,
								 bool *isnull, int64 *rownum);
extern void columnar_reader_rescan(ColumnarReader *reader);
extern void columnar_reader_set_row_range(ColumnarReader *reader, int64 lo, int64 hi);
extern void columnar_reader_end(ColumnarReader *reader);
extern void columnar_reader_counts(ColumnarReader *reader, int64 *read,
								   int64 *skipped);
extern void columnar_reader_set_tupdesc(ColumnarReader *reader, TupleDesc tupdesc);
extern void columnar_reader_set_exclude(ColumnarReader *reader,
										Snapshot now_snapshot);
extern double columnar_reader_unrefuted_fraction(ColumnarReader *reader);
/* One decoded segment (vals/nulls indexed by attnum - 1; NULL: not read). */
typedef struct ColumnarVector
{
	int			nrows;
	int64		segno;
	Datum	  **vals;
	bool	  **nulls;
	uint8	   *deleted;		/* bit per row, NULL: none deleted */
} ColumnarVector;
extern bool columnar_reader_next_vector(ColumnarReader *reader, bool decode,
										ColumnarVector *v);
struct pg_atomic_uint32;
extern void columnar_reader_set_shared(ColumnarReader *reader,
									   struct pg_atomic_uint32 *next, bool nothing);

/* Row fetch by row number (index scans, UPDATE/DELETE re-fetch). */
typedef struct ColumnarFetcher ColumnarFetcher;
extern ColumnarFetcher *columnar_fetcher_begin(Relation rel);
extern bool columnar_fetch_row(ColumnarFetcher *f, int64 rownum,
							   Snapshot snapshot, Datum *values, bool *isnull);
extern void columnar_fetcher_end(ColumnarFetcher *f);
extern void columnar_fetcher_set_rel(ColumnarFetcher *f, Relation rel);
extern void columnar_fetcher_register_scan(ColumnarFetcher *f);
extern Size columnar_fetch_cache_budget(void);
struct RelOptInfo;
extern void columnar_cost_indexes(struct RelOptInfo *rel);

/* Writes (buffered per transaction, flushed as segments at commit). */
extern void columnar_insert_row(Relation rel, Datum *values, bool *isnull,
								CommandId cid, ItemPointer tid);
extern int	columnar_delete_row(Relation rel, int64 rownum, CommandId cid,
								CommandId *cmax);
extern void columnar_note_update(Relation rel);
extern void columnar_flush_relation(Relation rel);
extern void columnar_truncate(Relation rel, bool transactional);
extern int64 columnar_set_operation(Relation rel, const char *operation,
								   const char *parameters);

/* Storage metadata. */
extern int64 columnar_storage_id(Relation rel, bool missing_ok);
extern void columnar_storage_create(const RelFileNode *node, int64 storage_id);
extern void columnar_storage_rekey(Relation rel, const RelFileNode *newnode);
extern void columnar_storage_drop_node(Oid spcnode, Oid relnode);
extern void columnar_storage_clear(int64 storage_id, bool history);
extern void columnar_storage_cache_reset(void);
extern int64 columnar_next_row(int64 storage_id);
extern int64 columnar_latest_version(int64 storage_id, Snapshot snapshot);
extern int64 columnar_live_rows_estimate(Relation rel);
extern List *columnar_segments(int64 storage_id, Snapshot snapshot);
extern List *columnar_live_segments(int64 storage_id, Snapshot snapshot);
extern List *columnar_live_segments_limited(int64 storage_id, Snapshot snapshot, int limit);
extern bool columnar_is_columnar(Relation rel);
extern Oid	columnar_am_oid(void);
extern bool columnar_relation_is_columnar(Oid relid);

/* Decode buffers a reader reuses from segment to segment, one per column (columnar_codec.h). */
typedef struct ColumnarScratch
{
	MemoryContext cxt;
	char	  **buf;
	Size	   *cap;
} ColumnarScratch;

extern uint8 *columnar_deleted_bitmap(int64 storage_id, int64 segno, int32 nrows,
									  Snapshot snapshot, int64 as_of_version,
									  int *ndeleted);

static inline void
columnar_row_to_tid(int64 rownum, ItemPointer tid)
{
	ItemPointerSet(tid, (BlockNumber) (rownum / COLUMNAR_ROWS_PER_BLOCK),
				   (OffsetNumber) (rownum % COLUMNAR_ROWS_PER_BLOCK + 1));
}

static inline int64
columnar_tid_to_row(ItemPointer tid)
{
	return (int64) ItemPointerGetBlockNumber(tid) * COLUMNAR_ROWS_PER_BLOCK +
		ItemPointerGetOffsetNumber(tid) - 1;
}

extern int64 columnar_resolve_version(Relation rel, bool is_time, Datum arg, bool isnull);
struct RangeTblEntry;
extern Oid	columnar_as_of_table(struct RangeTblEntry *rte, Node **arg, bool *is_time);
/* columnar_scan.c: a restriction clause as a skip key (see there) */
extern bool columnar_clause_skip_key(Node *clause, Index relid, TupleDesc tupdesc,
									 List **info, List **exprs);

/* Module setup: hooks, callbacks, GUCs; called from _PG_init. */
extern void columnar_init(void);
extern void columnar_scan_init(void);
extern void columnar_xact_init(void);
extern void columnar_vagg_init(void);	/* columnar_vagg_plan.c */
extern void columnar_progress_init(void);	/* columnar_progress.c */
extern void columnar_vacuum_init(void);	/* columnar_vacuum.c */

/* What streamext.vacuum removed (columnar_vacuum.c). */
extern int64 columnar_readable_from(int64 storage_id);
extern void columnar_check_readable(Relation rel, int64 storage_id, int64 version, bool changes);


/* ---- internals shared by the storage, write and read files ---- */
#ifdef COLUMNAR_INTERNAL
#include "utils/hsearch.h"
#include "access/xact.h"
#include "storage/lockdefs.h"
#include "nodes/lockoptions.h"
#include "nodes/parsenodes.h"
#include "utils/snapmgr.h"

/* Is a row of our own, buffered or deleted in command cid, visible to snapshot? */
static inline bool
columnar_cid_visible(Snapshot snapshot, CommandId cid)
{
	if (snapshot == NULL || !IsMVCCSnapshot(snapshot))
		return true;
	return cid < snapshot->curcid;
}

/* Pending deletions of one flushed segment in the current transaction. */
typedef struct ColumnarPendingDel
{
	int64		segno;			/* hash key */
	int32		nrows;
	bool		removed;		/* segment removed by a committed version */
	bool		own;			/* segment added by this transaction */
	uint8	   *committed;		/* rows deleted by committed versions */
	CommandId  *cids;			/* InvalidCommandId: not deleted by us */
	SubTransactionId *subids;
	int64	   *succ;			/* NULL, or new row of each row we updated (-1: none) */
	int32		npending;
} ColumnarPendingDel;

/*
 * Everything one transaction changes in one storage: opaque outside the
 * writer (columnar_write.c and its transaction end, columnar_xact.c, which
 * include columnar_write_state.h); the others use columnar_ws_* below.
 */
typedef struct ColumnarWriteState ColumnarWriteState;

extern ColumnarWriteState *columnar_write_state_find(int64 storage_id);
/* The write state for a row write: errors after an OPTIMIZE or VACUUM in this transaction. */
extern ColumnarWriteState *columnar_write_state_for_rows(Relation rel);
extern bool columnar_own_row_cid(ColumnarWriteState *ws, int64 rownum, CommandId *cid);
extern void columnar_write_state_dropped(int64 storage_id);
extern ColumnarWriteState *columnar_get_write_state(Relation rel);
extern HTAB *columnar_write_states(void);
extern void columnar_flush_buffer(ColumnarWriteState *ws);
extern void columnar_buffer_reset(ColumnarWriteState *ws);
extern void columnar_write_state_remove(ColumnarWriteState *ws);
extern void columnar_write_states_reset(void);
extern void columnar_write_states_forget_last(void);
extern void columnar_storage_cache_forget(void);
extern void columnar_column_changed(int64 storage_id, Form_pg_attribute newatt);

extern void columnar_insert_segment(int64 storage_id, int64 version, int64 segno,
									TupleDesc tupdesc, Datum **vals, bool **nulls,
									int start, int nrows);
extern void columnar_insert_deletion(int64 storage_id, int64 segno, int64 version,
									 uint8 *bits, int32 nrows, int64 *succ);
extern int64 columnar_row_successor(int64 storage_id, int64 segno, int32 r);
extern ColumnarWriteState *columnar_write_state_lock(Relation rel, bool dont_wait);
extern ColumnarPendingDel *columnar_pending_del_for(ColumnarWriteState *ws,
													ColumnarSegment *seg);
extern int64 columnar_reserve_rows(int64 storage_id, int64 count);
extern bool columnar_find_segment(int64 storage_id, int64 rownum, Snapshot snapshot,
								  ColumnarSegment *seg);
extern void columnar_read_chunks(int64 storage_id, int64 segno, int32 nrows,
								 TupleDesc tupdesc, Bitmapset *attrs,
								 Datum **values, bool **isnull,
								 ColumnarScratch *scratch);

/* Row locks and the row state writers see (columnar_lock.c). */
typedef enum ColumnarRowState
{
	COLUMNAR_ROW_LIVE,
	COLUMNAR_ROW_SELF_DELETED,
	COLUMNAR_ROW_DELETED,
	COLUMNAR_ROW_MISSING
} ColumnarRowState;

/* The write state as the readers, fetches and row locks see it (columnar_write_access.c). */
extern int64 columnar_ws_storage_id(ColumnarWriteState *ws);
extern int64 columnar_ws_version(ColumnarWriteState *ws);
extern MemoryContext columnar_ws_memory(ColumnarWriteState *ws);
extern int	columnar_ws_nbuffered(ColumnarWriteState *ws);
extern int64 columnar_ws_buffer_first_row(ColumnarWriteState *ws);
extern int	columnar_ws_buffer_index(ColumnarWriteState *ws, int64 rownum);
extern bool columnar_ws_buffered_row(ColumnarWriteState *ws, int i, Snapshot snapshot,
									 bool deleted_too, TupleDesc tupdesc,
									 Datum *values, bool *isnull);
extern ColumnarRowState columnar_ws_buffered_state(ColumnarWriteState *ws, int i,
												   CommandId *cmax);
extern void columnar_ws_forget_buffered(ColumnarWriteState *ws, int i);
extern void columnar_ws_scan_started(ColumnarWriteState *ws);
extern void columnar_ws_scan_ended(ColumnarWriteState *ws);
extern ColumnarPendingDel *columnar_ws_pending_del(ColumnarWriteState *ws, int64 segno);
extern HTAB *columnar_ws_pending_dels(ColumnarWriteState *ws);
extern ColumnarSegment *columnar_ws_last_segment(ColumnarWriteState *ws);

extern bool columnar_lock_rows(Relation rel, LockWaitPolicy wait_policy);
extern ColumnarRowState columnar_row_state(Relation rel, int64 rownum, CommandId *cmax,
										   int64 *successor, bool *ours);
extern void columnar_set_successor(Relation rel, int64 oldrow, int64 newrow);
extern void columnar_resolve_successors(ColumnarWriteState *ws);
extern void columnar_lock_init(void);
extern void columnar_abort_speculative(Relation rel, int64 rownum);
struct TupleTableSlotOps;
extern const struct TupleTableSlotOps *columnar_slot_ops_get(void);

/* TableAmRoutine callbacks defined outside columnar_tableam.c */
#include "access/tableam.h"
#include "catalog/index.h"
#include "commands/vacuum.h"

/* columnar_tableam_scan.c */
extern const TupleTableSlotOps *columnar_slot_callbacks(Relation rel);
extern TableScanDesc columnar_scan_begin(Relation rel, Snapshot snapshot, int nkeys,
										 ScanKey key, ParallelTableScanDesc pscan,
										 uint32 flags);
extern void columnar_scan_end(TableScanDesc sscan);
extern void columnar_scan_rescan(TableScanDesc sscan, ScanKey key, bool set_params,
								 bool allow_strat, bool allow_sync, bool allow_pagemode);
extern bool columnar_scan_getnextslot(TableScanDesc sscan, ScanDirection direction,
									  TupleTableSlot *slot);
extern void columnar_scan_set_tidrange(TableScanDesc sscan, ItemPointer mintid,
									   ItemPointer maxtid);
extern bool columnar_scan_getnextslot_tidrange(TableScanDesc sscan, ScanDirection direction,
											   TupleTableSlot *slot);
extern Size columnar_parallelscan_estimate(Relation rel);
extern Size columnar_parallelscan_initialize(Relation rel, ParallelTableScanDesc pscan);
extern void columnar_parallelscan_reinitialize(Relation rel, ParallelTableScanDesc pscan);
extern bool columnar_scan_analyze_next_block(TableScanDesc sscan, BlockNumber blockno,
											 BufferAccessStrategy bstrategy);
extern bool columnar_scan_analyze_next_tuple(TableScanDesc sscan, TransactionId OldestXmin,
											 double *liverows, double *deadrows,
											 TupleTableSlot *slot);
extern bool columnar_scan_bitmap_next_block(TableScanDesc sscan, TBMIterateResult *tbmres);
extern bool columnar_scan_bitmap_next_tuple(TableScanDesc sscan, TBMIterateResult *tbmres,
											TupleTableSlot *slot);
extern bool columnar_scan_sample_next_block(TableScanDesc sscan, SampleScanState *scanstate);
extern bool columnar_scan_sample_next_tuple(TableScanDesc sscan, SampleScanState *scanstate,
											TupleTableSlot *slot);

/* columnar_tableam.c: a row fetched by TID into a virtual slot */
extern bool columnar_fetch_into_slot(ColumnarFetcher *f, Relation rel, ItemPointer tid,
									 Snapshot snapshot, TupleTableSlot *slot, bool own_copy);

/* columnar_tid.c */
extern bool columnar_tuple_tid_valid(TableScanDesc scan, ItemPointer tid);
extern void columnar_get_latest_tid(TableScanDesc scan, ItemPointer tid);
extern void columnar_note_replaced(Relation rel, ItemPointer otid, ItemPointer ntid);
extern void columnar_forget_updates(void);

/* columnar_index.c */
extern double columnar_index_build_range_scan(Relation table_rel, Relation index_rel,
											  IndexInfo *index_info, bool allow_sync,
											  bool anyvisible, bool progress,
											  BlockNumber start_blockno, BlockNumber numblocks,
											  IndexBuildCallback callback, void *callback_state,
											  TableScanDesc sscan);
extern void columnar_index_validate_scan(Relation table_rel, Relation index_rel,
										 IndexInfo *index_info, Snapshot snapshot,
										 ValidateIndexState *state);
extern void columnar_relation_vacuum(Relation rel, VacuumParams *params,
									 BufferAccessStrategy bstrategy);

/* columnar_api.c: shared with streamext.verify (columnar_verify.c) */
typedef struct ColumnarVersionRow
{
	int64		version;
	TimestampTz committed_at;
} ColumnarVersionRow;

extern Relation columnar_api_open(Oid relid, LOCKMODE mode, AclMode right);
extern List *columnar_api_versions(int64 storage_id);

/* streamext.verify (columnar_verify.c, columnar_verify_history.c) */
extern void columnar_verify_corrupt(Relation rel, const char *fmt,...)
			pg_attribute_printf(2, 3) pg_attribute_noreturn();
extern void columnar_verify_history(Relation rel, int64 storage_id, Snapshot snapshot,
									List *segs, int64 readable_from);
#endif							/* COLUMNAR_INTERNAL */

#endif							/* STREAMEXT_COLUMNAR_H */
