/*
 * columnar_tableam.c
 *		The TableAmRoutine of versioned_columnar (PostgreSQL 15), and the
 *		object access hook: a dropped table takes its metadata with it, a
 *		column retyped without a rewrite loses its stale min/max.
 *
 * Tuples are virtual: values are decoded from column chunks (or taken from
 * the transaction's insert buffer) and a TID is the row number.  Row locks
 * are the table's writer lock (columnar_lock.c).  The scan callbacks are in
 * columnar_tableam_scan.c.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"

#include <math.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "catalog/pg_attribute.h"
#include "utils/fmgroids.h"
#include "access/multixact.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "access/tsmapi.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/storage.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/tidbitmap.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/guc.h"
#include "utils/tuplesort.h"

typedef struct ColumnarIndexFetch
{
	IndexFetchTableData base;
	ColumnarFetcher *fetcher;
} ColumnarIndexFetch;

static const TableAmRoutine columnar_am_methods;

/* One fetcher per transaction for tuple_fetch_row_version (UPDATE/DELETE). */
static ColumnarFetcher *row_fetcher = NULL;
static Oid	row_fetcher_relid = InvalidOid;
static Oid	row_fetcher_relnode = InvalidOid;
static MemoryContext row_fetcher_cxt = NULL;

/* ---- index fetches ---- */

static IndexFetchTableData *
columnar_index_fetch_begin(Relation rel)
{
	ColumnarIndexFetch *scan = palloc0(sizeof(ColumnarIndexFetch));

	scan->base.rel = rel;
	scan->fetcher = columnar_fetcher_begin(rel);
	columnar_fetcher_register_scan(scan->fetcher);
	return &scan->base;
}

static void
columnar_index_fetch_reset(IndexFetchTableData *scan)
{
}

static void
columnar_index_fetch_end(IndexFetchTableData *sscan)
{
	ColumnarIndexFetch *scan = (ColumnarIndexFetch *) sscan;

	columnar_fetcher_end(scan->fetcher);
	pfree(scan);
}

/*
 * The row at tid into slot.  Its by-reference values point into the
 * fetcher's decoded segment (or the insert buffer), which the next fetch may
 * reuse.  An index scan's fetcher serves only that scan, whose slot the next
 * fetch overwrites anyway; the transaction's shared row fetcher also serves
 * every row lock and row re-fetch, of any table, while the executor still
 * uses slots it filled before (ON CONFLICT's existing row while its SET list
 * runs functions that lock rows, EvalPlanQual's rows of several tables): its
 * rows are copied into the slot (own_copy), as a heap slot keeps its own
 * buffer pin.
 */
bool
columnar_fetch_into_slot(ColumnarFetcher *f, Relation rel, ItemPointer tid, Snapshot snapshot,
						 TupleTableSlot *slot, bool own_copy)
{
	int64		rownum = columnar_tid_to_row(tid);

	ExecClearTuple(slot);
	columnar_fetcher_set_rel(f, rel);
	if (!columnar_fetch_row(f, rownum, snapshot, slot->tts_values, slot->tts_isnull))
		return false;
	slot->tts_tid = *tid;
	slot->tts_tableOid = RelationGetRelid(rel);
	ExecStoreVirtualTuple(slot);
	if (own_copy)
		ExecMaterializeSlot(slot);
	return true;
}

static bool
columnar_index_fetch_tuple(IndexFetchTableData *sscan, ItemPointer tid, Snapshot snapshot,
						   TupleTableSlot *slot, bool *call_again, bool *all_dead)
{
	ColumnarIndexFetch *scan = (ColumnarIndexFetch *) sscan;

	*call_again = false;
	if (all_dead)
		*all_dead = false;		/* old versions stay readable: never kill index entries */
	return columnar_fetch_into_slot(scan->fetcher, sscan->rel, tid, snapshot, slot, false);
}

static ColumnarFetcher *
get_row_fetcher(Relation rel)
{
	/* a rewrite in this transaction gives the table a new relfilenode and storage */
	if (row_fetcher == NULL || row_fetcher_relid != RelationGetRelid(rel) ||
		row_fetcher_relnode != rel->rd_node.relNode)
	{
		MemoryContext old;

		if (row_fetcher_cxt == NULL)
			row_fetcher_cxt = AllocSetContextCreate(TopTransactionContext, "columnar row fetch",
													ALLOCSET_DEFAULT_SIZES);
		else
			MemoryContextReset(row_fetcher_cxt);
		old = MemoryContextSwitchTo(row_fetcher_cxt);
		row_fetcher = columnar_fetcher_begin(rel);
		row_fetcher_relid = RelationGetRelid(rel);
		row_fetcher_relnode = rel->rd_node.relNode;
		MemoryContextSwitchTo(old);
	}
	return row_fetcher;
}

static bool
columnar_fetch_row_version(Relation rel, ItemPointer tid, Snapshot snapshot,
						   TupleTableSlot *slot)
{
	return columnar_fetch_into_slot(get_row_fetcher(rel), rel, tid, snapshot, slot, true);
}

static bool
columnar_tuple_satisfies_snapshot(Relation rel, TupleTableSlot *slot, Snapshot snapshot)
{
	Datum	   *values = palloc(sizeof(Datum) * RelationGetDescr(rel)->natts);
	bool	   *isnull = palloc(sizeof(bool) * RelationGetDescr(rel)->natts);
	ColumnarFetcher *f = get_row_fetcher(rel);
	bool		result;

	columnar_fetcher_set_rel(f, rel);
	result = columnar_fetch_row(f, columnar_tid_to_row(&slot->tts_tid), snapshot, values, isnull);
	pfree(values);
	pfree(isnull);
	return result;
}

static TransactionId
columnar_index_delete_tuples(Relation rel, TM_IndexDeleteOp *delstate)
{
	int			i;

	/* index entries are never removed early: old versions need no entries, but
	 * nothing here knows which rows are dead to every snapshot */
	for (i = 0; i < delstate->ndeltids; i++)
		delstate->status[i].knowndeletable = false;
	return InvalidTransactionId;
}

/* ---- writes ---- */

static void
columnar_tuple_insert(Relation rel, TupleTableSlot *slot, CommandId cid, int options,
					  BulkInsertState bistate)
{
	slot_getallattrs(slot);
	columnar_insert_row(rel, slot->tts_values, slot->tts_isnull, cid, &slot->tts_tid);
	slot->tts_tableOid = RelationGetRelid(rel);
	pgstat_count_heap_insert(rel, 1);
}

/*
 * INSERT ... ON CONFLICT.  Other backends cannot see a row before its
 * transaction commits and inserters of one table serialize on the writer
 * lock, so nobody ever waits for a speculative insertion: the row is
 * inserted as any other and removed again if its index entries found a
 * conflict.
 */
static void
columnar_tuple_insert_speculative(Relation rel, TupleTableSlot *slot, CommandId cid,
								  int options, BulkInsertState bistate, uint32 specToken)
{
	columnar_tuple_insert(rel, slot, cid, options, bistate);
}

static void
columnar_tuple_complete_speculative(Relation rel, TupleTableSlot *slot, uint32 specToken,
									bool succeeded)
{
	if (!succeeded)
		columnar_abort_speculative(rel, columnar_tid_to_row(&slot->tts_tid));
}

static void
columnar_multi_insert(Relation rel, TupleTableSlot **slots, int ntuples, CommandId cid,
					  int options, BulkInsertState bistate)
{
	int			i;

	for (i = 0; i < ntuples; i++)
	{
		slot_getallattrs(slots[i]);
		columnar_insert_row(rel, slots[i]->tts_values, slots[i]->tts_isnull, cid,
							&slots[i]->tts_tid);
		slots[i]->tts_tableOid = RelationGetRelid(rel);
	}
	pgstat_count_heap_insert(rel, ntuples);
}

static TM_Result
delete_result(int r, ItemPointer tid, CommandId cmax, TM_FailureData *tmfd)
{
	if (r == TM_Ok)
		return TM_Ok;
	tmfd->ctid = *tid;
	tmfd->traversed = false;
	if (r == TM_SelfModified)
	{
		/*
		 * The executor tells "modified by this command" (MERGE's cardinality
		 * error, UPDATE ... FROM's skip) from an invisible tuple by xmax
		 * being our transaction: rows are buffered without an xid, so assign
		 * one now (the commit writes the rows with it anyway).
		 */
		tmfd->xmax = GetTopTransactionId();
		tmfd->cmax = cmax;
		return TM_SelfModified;
	}
	tmfd->xmax = InvalidTransactionId;
	tmfd->cmax = InvalidCommandId;
	return TM_Deleted;
}

/*
 * A row a committed transaction deleted is TM_Updated if that was an UPDATE
 * (tmfd->ctid is then the new version), so that READ COMMITTED re-checks
 * the new version (EvalPlanQual) as on the heap.
 */
static TM_Result
updated_result(Relation rel, TM_Result result, TM_FailureData *tmfd)
{
	CommandId	cmax;
	int64		successor;
	bool		ours;

	if (result == TM_Deleted &&
		columnar_row_state(rel, columnar_tid_to_row(&tmfd->ctid), &cmax, &successor,
						   &ours) == COLUMNAR_ROW_DELETED && successor >= 0)
	{
		columnar_row_to_tid(successor, &tmfd->ctid);
		return TM_Updated;
	}
	return result;
}

static TM_Result
columnar_tuple_delete(Relation rel, ItemPointer tid, CommandId cid, Snapshot snapshot,
					  Snapshot crosscheck, bool wait, TM_FailureData *tmfd, bool changingPart)
{
	CommandId	cmax = InvalidCommandId;
	int64		rownum = columnar_tid_to_row(tid);
	int			r = columnar_delete_row(rel, rownum, cid, &cmax);

	if (r == TM_Ok)
	{
		columnar_set_successor(rel, rownum, -1);
		pgstat_count_heap_delete(rel);
	}
	return updated_result(rel, delete_result(r, tid, cmax, tmfd), tmfd);
}

static TM_Result
columnar_tuple_update(Relation rel, ItemPointer otid, TupleTableSlot *slot, CommandId cid,
					  Snapshot snapshot, Snapshot crosscheck, bool wait,
					  TM_FailureData *tmfd, LockTupleMode *lockmode, bool *update_indexes)
{
	CommandId	cmax = InvalidCommandId;
	int64		oldrow = columnar_tid_to_row(otid);
	int			r = columnar_delete_row(rel, oldrow, cid, &cmax);

	*lockmode = LockTupleExclusive;
	*update_indexes = true;
	if (r != TM_Ok)
		return updated_result(rel, delete_result(r, otid, cmax, tmfd), tmfd);
	columnar_note_update(rel);
	slot_getallattrs(slot);
	columnar_insert_row(rel, slot->tts_values, slot->tts_isnull, cid, &slot->tts_tid);
	columnar_set_successor(rel, oldrow, columnar_tid_to_row(&slot->tts_tid));
	columnar_note_replaced(rel, otid, &slot->tts_tid);
	slot->tts_tableOid = RelationGetRelid(rel);
	pgstat_count_heap_update(rel, false);
	return TM_Ok;
}

/*
 * Row locks (SELECT ... FOR UPDATE/SHARE, foreign keys, ON CONFLICT DO
 * UPDATE, BEFORE ROW triggers): every mode takes the table's writer lock,
 * then the row is checked as the lock holder sees it (columnar_lock.c).
 */
static TM_Result
columnar_tuple_lock(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot *slot,
					CommandId cid, LockTupleMode mode, LockWaitPolicy wait_policy,
					uint8 flags, TM_FailureData *tmfd)
{
	int64		rownum = columnar_tid_to_row(tid);

	tmfd->traversed = false;
	tmfd->xmax = InvalidTransactionId;
	tmfd->cmax = InvalidCommandId;
	tmfd->ctid = *tid;
	if (!columnar_lock_rows(rel, wait_policy))
		return TM_WouldBlock;
	for (;;)
	{
		ItemPointerData cur;
		CommandId	cmax;
		int64		successor;
		bool		ours;

		CHECK_FOR_INTERRUPTS();
		columnar_row_to_tid(rownum, &cur);
		tmfd->ctid = cur;
		switch (columnar_row_state(rel, rownum, &cmax, &successor, &ours))
		{
			case COLUMNAR_ROW_LIVE:
				if (!columnar_fetch_into_slot(get_row_fetcher(rel), rel, &cur, snapshot, slot, true))
				{
					if (ours)
					{
						/*
						 * Inserted by the current command: only ON CONFLICT
						 * DO UPDATE meets such a row (its conflict check sees
						 * it), and on the heap it raises this error.
						 */
						if (!(flags & TUPLE_LOCK_FLAG_FIND_LAST_VERSION))
							ereport(ERROR,
									(errcode(ERRCODE_CARDINALITY_VIOLATION),
									 errmsg("%s command cannot affect row a second time",
											"ON CONFLICT DO UPDATE"),
									 errhint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")));
						return TM_Invisible;
					}
					/* committed after the snapshot was taken */
					if (IsolationUsesXactSnapshot())
						ereport(ERROR,
								(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
								 errmsg("could not serialize access due to concurrent update")));
					if (!columnar_fetch_into_slot(get_row_fetcher(rel), rel, &cur, SnapshotAny, slot, true))
						return TM_Invisible;
				}
				*tid = cur;
				return TM_Ok;
			case COLUMNAR_ROW_SELF_DELETED:
				if (cmax < cid)
					return TM_Invisible;	/* deleted by an earlier command */
				tmfd->xmax = GetTopTransactionId();
				tmfd->cmax = cmax;
				return TM_SelfModified;
			case COLUMNAR_ROW_DELETED:
				if (successor < 0)
					return TM_Deleted;
				if (flags & TUPLE_LOCK_FLAG_FIND_LAST_VERSION)
				{
					rownum = successor;
					tmfd->traversed = true;
					continue;
				}
				columnar_row_to_tid(successor, &tmfd->ctid);
				return TM_Updated;
			case COLUMNAR_ROW_MISSING:
				/* an update chain may end in a row its transaction never wrote out */
				return tmfd->traversed ? TM_Deleted : TM_Invisible;
		}
	}
}

static void
columnar_finish_bulk_insert(Relation rel, int options)
{
	/*
	 * A table being created or rewritten in this (sub)transaction gets its
	 * rows now: a rewrite swaps it into place before commit.
	 */
	if (rel->rd_createSubid == GetCurrentSubTransactionId())
		columnar_flush_relation(rel);
}

/* ---- DDL ---- */

static void
columnar_relation_set_new_filenode(Relation rel, const RelFileNode *newrnode,
								   char persistence, TransactionId *freezeXid,
								   MultiXactId *minmulti)
{
	SMgrRelation srel;

	if (persistence == RELPERSISTENCE_UNLOGGED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("unlogged versioned_columnar tables are not supported")));

	*freezeXid = InvalidTransactionId;
	*minmulti = InvalidMultiXactId;

	if (!RelFileNodeEquals(rel->rd_node, *newrnode) && columnar_storage_id(rel, true) != 0)
	{
		/* TRUNCATE: a new version without rows; the history stays */
		columnar_truncate(rel, true);
		columnar_storage_rekey(rel, newrnode);
	}
	else
		columnar_storage_create(newrnode, 0);

	srel = RelationCreateStorage(*newrnode, persistence, true);
	smgrclose(srel);
}

static void
columnar_relation_nontransactional_truncate(Relation rel)
{
	columnar_truncate(rel, false);
}

static void
columnar_relation_copy_data(Relation rel, const RelFileNode *newrnode)
{
	SMgrRelation srel;

	/*
	 * SET TABLESPACE: the data lives in the metadata tables; only the map
	 * moves.  Buffered rows stay buffered: the write state belongs to the
	 * storage, not to the relfilenode (and writing them out here would put
	 * rows of an enclosing subtransaction into this one's segments).
	 */
	srel = RelationCreateStorage(*newrnode, rel->rd_rel->relpersistence, true);
	smgrclose(srel);
	columnar_storage_rekey(rel, newrnode);
	RelationDropStorage(rel);
}

/*
 * CLUSTER: the current rows, sorted by the index (a sort, not an index scan:
 * fetches in index order would decode a segment per row), written to the
 * new relfilenode's storage, so the table starts a new history as any
 * rewrite does.
 */
static void
cluster_rows(Relation OldTable, Relation NewTable, Relation OldIndex, double *num_tuples)
{
	TupleDesc	desc = RelationGetDescr(OldTable);
	Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	ColumnarReader *reader = columnar_reader_begin(OldTable, snapshot, 0, NULL, NIL);
	Tuplesortstate *sort = tuplesort_begin_cluster(desc, OldIndex, maintenance_work_mem,
												   NULL, TUPLESORT_NONE);
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *isnull = palloc(sizeof(bool) * desc->natts);
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "columnar cluster row",
											  ALLOCSET_DEFAULT_SIZES);
	CommandId	cid = GetCurrentCommandId(true);
	int64		rownum;
	HeapTuple	tup;
	double		n = 0;
	int			a;

	while (columnar_reader_next(reader, values, isnull, &rownum))
	{
		MemoryContext old = MemoryContextSwitchTo(tmp);

		CHECK_FOR_INTERRUPTS();
		for (a = 0; a < desc->natts; a++)
			if (TupleDescAttr(desc, a)->attisdropped)
				isnull[a] = true;
		tup = heap_form_tuple(desc, values, isnull);
		MemoryContextSwitchTo(old);
		tuplesort_putheaptuple(sort, tup);	/* copies it */
		MemoryContextReset(tmp);
	}
	columnar_reader_end(reader);
	UnregisterSnapshot(snapshot);
	tuplesort_performsort(sort);
	while ((tup = tuplesort_getheaptuple(sort, true)) != NULL)
	{
		ItemPointerData tid;

		CHECK_FOR_INTERRUPTS();
		heap_deform_tuple(tup, desc, values, isnull);
		columnar_insert_row(NewTable, values, isnull, cid, &tid);
		n += 1;
	}
	tuplesort_end(sort);
	columnar_flush_relation(NewTable);
	MemoryContextDelete(tmp);
	*num_tuples = n;
}

static void
columnar_relation_copy_for_cluster(Relation OldTable, Relation NewTable, Relation OldIndex,
								   bool use_sort, TransactionId OldestXmin,
								   TransactionId *xid_cutoff, MultiXactId *multi_cutoff,
								   double *num_tuples, double *tups_vacuumed,
								   double *tups_recently_dead)
{
	int64		storage_id;

	if (OldIndex != NULL)
	{
		cluster_rows(OldTable, NewTable, OldIndex, num_tuples);
		*tups_vacuumed = 0;
		*tups_recently_dead = 0;
		*xid_cutoff = InvalidTransactionId;
		*multi_cutoff = InvalidMultiXactId;
		return;
	}

	/*
	 * VACUUM FULL: rows are already compact and old versions must survive,
	 * so the new relfilenode simply takes over the old storage.
	 */
	storage_id = columnar_storage_id(OldTable, false);
	columnar_storage_drop_node(NewTable->rd_node.spcNode, NewTable->rd_node.relNode);
	columnar_storage_create(&NewTable->rd_node, storage_id);
	*num_tuples = columnar_live_rows_estimate(OldTable);
	*tups_vacuumed = 0;
	*tups_recently_dead = 0;
	*xid_cutoff = InvalidTransactionId;
	*multi_cutoff = InvalidMultiXactId;
}

/* ---- sizes ---- */

static uint64
columnar_relation_size(Relation rel, ForkNumber forkNumber)
{
	int64		storage_id;
	uint64		nblocks;

	if (forkNumber != MAIN_FORKNUM)
		return 0;
	storage_id = columnar_storage_id(rel, true);
	if (storage_id == 0)
		return 0;
	/* virtual blocks of row numbers: what ANALYZE samples */
	nblocks = (columnar_next_row(storage_id) + COLUMNAR_ROWS_PER_BLOCK - 1) / COLUMNAR_ROWS_PER_BLOCK;
	return nblocks * BLCKSZ;
}

static bool
columnar_relation_needs_toast_table(Relation rel)
{
	return false;
}

static Oid
columnar_relation_toast_am(Relation rel)
{
	return HEAP_TABLE_AM_OID;
}

static void
columnar_fetch_toast_slice(Relation toastrel, Oid valueid, int32 attrsize,
						   int32 sliceoffset, int32 slicelength, struct varlena *result)
{
	elog(ERROR, "versioned_columnar tables have no TOAST table");
}

static void
columnar_relation_estimate_size(Relation rel, int32 *attr_widths, BlockNumber *pages,
								double *tuples, double *allvisfrac)
{
	int32		width = get_rel_data_width(rel, attr_widths);
	int64		storage_id = columnar_storage_id(rel, true);
	double		ntuples;

	/*
	 * Like the heap: scale the density ANALYZE saw (rows per virtual block of
	 * row numbers) to the current row counter, which is one cheap lookup.
	 * Before the first ANALYZE, count the rows of the segments.
	 */
	if (rel->rd_rel->reltuples >= 0 && rel->rd_rel->relpages > 0 && storage_id != 0)
	{
		double		blocks = (double) columnar_next_row(storage_id) / COLUMNAR_ROWS_PER_BLOCK;

		ntuples = rel->rd_rel->reltuples / rel->rd_rel->relpages * Max(blocks, 1.0);
	}
	else
	{
		ntuples = (double) columnar_live_rows_estimate(rel);

		/*
		 * Like the heap (table_block_relation_estimate_size): a table never
		 * vacuumed or analyzed that looks nearly empty is assumed to hold
		 * ten pages' worth of rows, because it may well have grown since
		 * the plan was made and a plan for an empty table is a poor one
		 * for a full table.  (PostgreSQL's own tests rely on the heap's
		 * plans for such tables: with a one-row estimate the planner picks
		 * joins the heap never would.)
		 */
		if (rel->rd_rel->reltuples < 0 && !rel->rd_rel->relhassubclass)
		{
			double		per_page = (BLCKSZ - SizeOfPageHeaderData) /
				(double) (width + MAXALIGN(SizeofHeapTupleHeader) + sizeof(ItemIdData));

			ntuples = Max(ntuples, floor(per_page) * 10);
		}
	}
	*tuples = ntuples;
	/* compressed columns: assume about a quarter of the heap's bytes */
	*pages = (BlockNumber) Max(1.0, ceil(ntuples * (width + 24) / 4.0 / BLCKSZ));
	*allvisfrac = 0;
}

static const TableAmRoutine columnar_am_methods = {
	.type = T_TableAmRoutine,
	.slot_callbacks = columnar_slot_callbacks,
	.scan_begin = columnar_scan_begin,
	.scan_end = columnar_scan_end,
	.scan_rescan = columnar_scan_rescan,
	.scan_getnextslot = columnar_scan_getnextslot,
	.scan_set_tidrange = columnar_scan_set_tidrange,
	.scan_getnextslot_tidrange = columnar_scan_getnextslot_tidrange,
	.parallelscan_estimate = columnar_parallelscan_estimate,
	.parallelscan_initialize = columnar_parallelscan_initialize,
	.parallelscan_reinitialize = columnar_parallelscan_reinitialize,
	.index_fetch_begin = columnar_index_fetch_begin,
	.index_fetch_reset = columnar_index_fetch_reset,
	.index_fetch_end = columnar_index_fetch_end,
	.index_fetch_tuple = columnar_index_fetch_tuple,
	.tuple_fetch_row_version = columnar_fetch_row_version,
	.tuple_tid_valid = columnar_tuple_tid_valid,
	.tuple_get_latest_tid = columnar_get_latest_tid,
	.tuple_satisfies_snapshot = columnar_tuple_satisfies_snapshot,
	.index_delete_tuples = columnar_index_delete_tuples,
	.tuple_insert = columnar_tuple_insert,
	.tuple_insert_speculative = columnar_tuple_insert_speculative,
	.tuple_complete_speculative = columnar_tuple_complete_speculative,
	.multi_insert = columnar_multi_insert,
	.tuple_delete = columnar_tuple_delete,
	.tuple_update = columnar_tuple_update,
	.tuple_lock = columnar_tuple_lock,
	.finish_bulk_insert = columnar_finish_bulk_insert,
	.relation_set_new_filenode = columnar_relation_set_new_filenode,
	.relation_nontransactional_truncate = columnar_relation_nontransactional_truncate,
	.relation_copy_data = columnar_relation_copy_data,
	.relation_copy_for_cluster = columnar_relation_copy_for_cluster,
	.relation_vacuum = columnar_relation_vacuum,
	.scan_analyze_next_block = columnar_scan_analyze_next_block,
	.scan_analyze_next_tuple = columnar_scan_analyze_next_tuple,
	.index_build_range_scan = columnar_index_build_range_scan,
	.index_validate_scan = columnar_index_validate_scan,
	.relation_size = columnar_relation_size,
	.relation_needs_toast_table = columnar_relation_needs_toast_table,
	.relation_toast_am = columnar_relation_toast_am,
	.relation_fetch_toast_slice = columnar_fetch_toast_slice,
	.relation_estimate_size = columnar_relation_estimate_size,
	.scan_bitmap_next_block = columnar_scan_bitmap_next_block,
	.scan_bitmap_next_tuple = columnar_scan_bitmap_next_tuple,
	.scan_sample_next_block = columnar_scan_sample_next_block,
	.scan_sample_next_tuple = columnar_scan_sample_next_tuple,
};

PG_FUNCTION_INFO_V1(columnar_handler);

Datum
columnar_handler(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(&columnar_am_methods);
}

/* ---- drop hook and transaction end ---- */

static object_access_hook_type prev_object_access_hook = NULL;

/* A table or materialized view of this access method (by its pg_class row). */
bool
columnar_relation_is_columnar(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	bool		result = false;

	if (HeapTupleIsValid(tup))
	{
		Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);
		Oid			am = columnar_am_oid();

		result = OidIsValid(am) && cls->relam == am &&
			(cls->relkind == RELKIND_RELATION || cls->relkind == RELKIND_MATVIEW);
		ReleaseSysCache(tup);
	}
	return result;
}

/*
 * ALTER COLUMN ... TYPE that needs no rewrite (a binary-compatible type, or
 * only another collation) keeps the segments, whose min/max were computed
 * with the old type's ordering: they could refute rows that match under the
 * new one, so they are forgotten.  The pg_attribute row updated by the
 * current command is visible only to SnapshotSelf; the relcache still has
 * the old one.
 */
static void
column_altered(Oid relid, AttrNumber attnum)
{
	Relation	rel;
	Relation	attrel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;

	if (!columnar_relation_is_columnar(relid))
		return;
	rel = RelationIdGetRelation(relid);
	if (!RelationIsValid(rel))
		return;
	if (attnum > RelationGetDescr(rel)->natts)
	{
		RelationClose(rel);
		return;
	}
	attrel = table_open(AttributeRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_attribute_attrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&key[1], Anum_pg_attribute_attnum, BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum(attnum));
	scan = systable_beginscan(attrel, AttributeRelidNumIndexId, true, SnapshotSelf, 2, key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_attribute newatt = (Form_pg_attribute) GETSTRUCT(tup);
		Form_pg_attribute oldatt = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
		int64		storage_id = columnar_storage_id(rel, true);

		if (storage_id != 0 && !newatt->attisdropped &&
			(newatt->atttypid != oldatt->atttypid || newatt->attcollation != oldatt->attcollation))
			columnar_column_changed(storage_id, newatt);
	}
	systable_endscan(scan);
	table_close(attrel, AccessShareLock);
	RelationClose(rel);
}

/*
 * A dropped columnar table takes its metadata (transactionally) with it; an
 * altered column may invalidate the segments' statistics.
 */
static void
columnar_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId,
					   void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access == OAT_POST_ALTER && classId == RelationRelationId && subId > 0)
		column_altered(objectId, (AttrNumber) subId);

	if (access == OAT_DROP && classId == RelationRelationId && subId == 0)
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(objectId));

		if (HeapTupleIsValid(tup))
		{
			Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);
			Oid			am = columnar_am_oid();

			if (OidIsValid(am) && cls->relam == am &&
				(cls->relkind == RELKIND_RELATION || cls->relkind == RELKIND_MATVIEW))
			{
				Oid			spc = OidIsValid(cls->reltablespace) ? cls->reltablespace : MyDatabaseTableSpace;
				Oid			node = OidIsValid(cls->relfilenode) ? cls->relfilenode : objectId;

				columnar_storage_drop_node(spc, node);
			}
			ReleaseSysCache(tup);
		}
	}
}

static void
columnar_tableam_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			row_fetcher = NULL;
			row_fetcher_relid = InvalidOid;
			row_fetcher_cxt = NULL; /* freed with TopTransactionContext */
			columnar_forget_updates();
			break;
		default:
			break;
	}
}

void
columnar_init(void)
{
	DefineCustomIntVariable("streamext.columnar_segment_rows",
							"Rows per segment (row group) of versioned_columnar tables.",
							"Larger segments compress better; smaller ones skip more precisely.",
							&columnar_segment_rows, 10000, 1000, 1000000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("streamext.columnar_compression_level",
							"zstd level of versioned_columnar column chunks.",
							NULL, &columnar_compression_level, 3, 1, 19,
							PGC_USERSET, 0, NULL, NULL, NULL);
	prev_object_access_hook = object_access_hook;
	object_access_hook = columnar_object_access;
	RegisterXactCallback(columnar_tableam_xact_callback, NULL);
	columnar_xact_init();
	columnar_progress_init();
	columnar_vacuum_init();
	columnar_lock_init();
	columnar_scan_init();
}
