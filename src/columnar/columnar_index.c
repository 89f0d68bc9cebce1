/*
 * columnar_index.c
 *		Indexes on versioned_columnar tables: the table scans of index builds
 *		(whole table, or a range of virtual blocks for BRIN summarization),
 *		the validation scan of CREATE/REINDEX INDEX CONCURRENTLY, and the
 *		index cleanup pass of VACUUM.
 *
 * Rows are read with a columnar reader under an MVCC snapshot, in row number
 * (= TID) order, which BRIN's range summaries and the validation merge rely on.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"

#include "access/genam.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "commands/vacuum.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplesort.h"

/*
 * The rows an index build indexes: every row the build's snapshot sees, or
 * for a block range (start_blockno, numblocks: BRIN summarization) the rows
 * numbered in that range of virtual blocks, read segment by segment.
 */
double
columnar_index_build_range_scan(Relation table_rel, Relation index_rel, IndexInfo *index_info,
								bool allow_sync, bool anyvisible, bool progress,
								BlockNumber start_blockno, BlockNumber numblocks,
								IndexBuildCallback callback, void *callback_state,
								TableScanDesc sscan)
{
	Snapshot	snapshot;
	bool		own_snapshot = false;
	ColumnarReader *reader;
	EState	   *estate = CreateExecutorState();
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(table_rel), &TTSOpsVirtual);
	ExprState  *predicate;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	double		reltuples = 0;
	int64		rownum;
	/* a range of virtual blocks (BRIN summarization): its row numbers */
	int64		first_row = (int64) start_blockno * COLUMNAR_ROWS_PER_BLOCK;
	int64		end_row = numblocks == InvalidBlockNumber ? PG_INT64_MAX :
		((int64) start_blockno + numblocks) * COLUMNAR_ROWS_PER_BLOCK;

	if (sscan != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("parallel index builds of versioned_columnar tables are not supported")));

	econtext->ecxt_scantuple = slot;
	predicate = ExecPrepareQual(index_info->ii_Predicate, estate);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	own_snapshot = true;
	reader = columnar_reader_begin(table_rel, snapshot, 0, NULL, NIL);
	columnar_reader_set_row_range(reader, first_row, end_row);
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		ExecClearTuple(slot);
		if (!columnar_reader_next(reader, slot->tts_values, slot->tts_isnull, &rownum))
			break;
		/* rows come in row number order: after the range, nothing more */
		if (rownum < first_row)
			continue;
		if (rownum >= end_row)
			break;
		ExecStoreVirtualTuple(slot);
		columnar_row_to_tid(rownum, &slot->tts_tid);
		MemoryContextReset(econtext->ecxt_per_tuple_memory);
		if (predicate != NULL && !ExecQual(predicate, econtext))
			continue;
		reltuples += 1;
		FormIndexDatum(index_info, slot, estate, values, isnull);
		callback(index_rel, &slot->tts_tid, values, isnull, true, callback_state);
	}
	columnar_reader_end(reader);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	if (own_snapshot)
		UnregisterSnapshot(snapshot);
	index_info->ii_ExpressionsState = NIL;
	index_info->ii_PredicateState = NULL;
	return reltuples;
}

/*
 * The last phase of CREATE INDEX CONCURRENTLY / REINDEX CONCURRENTLY: insert
 * every row the snapshot sees that the index lacks.  state->tuplesort holds
 * the index's TIDs, sorted; rows come in row number order, which is TID
 * order, so one merge pass finds the missing ones.
 */
void
columnar_index_validate_scan(Relation table_rel, Relation index_rel, IndexInfo *index_info,
							 Snapshot snapshot, ValidateIndexState *state)
{
	ColumnarReader *reader;
	EState	   *estate = CreateExecutorState();
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(table_rel), &TTSOpsVirtual);
	ExprState  *predicate;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	int64		rownum;
	int64		indexed = -1;	/* the last index TID read from the sort */
	bool		sort_done = false;

	econtext->ecxt_scantuple = slot;
	predicate = ExecPrepareQual(index_info->ii_Predicate, estate);
	reader = columnar_reader_begin(table_rel, snapshot, 0, NULL, NIL);
	for (;;)
	{
		int64		encoded;

		CHECK_FOR_INTERRUPTS();
		ExecClearTuple(slot);
		if (!columnar_reader_next(reader, slot->tts_values, slot->tts_isnull, &rownum))
			break;
		ExecStoreVirtualTuple(slot);
		columnar_row_to_tid(rownum, &slot->tts_tid);
		slot->tts_tableOid = RelationGetRelid(table_rel);
		encoded = itemptr_encode(&slot->tts_tid);
		state->htups += 1;
		while (!sort_done && indexed < encoded)
		{
			Datum		val;
			bool		null;

			if (tuplesort_getdatum(state->tuplesort, true, &val, &null, NULL))
				indexed = DatumGetInt64(val);
			else
				sort_done = true;
		}
		if (indexed == encoded)
			continue;
		MemoryContextReset(econtext->ecxt_per_tuple_memory);
		if (predicate != NULL && !ExecQual(predicate, econtext))
			continue;
		FormIndexDatum(index_info, slot, estate, values, isnull);
		index_insert(index_rel, values, isnull, &slot->tts_tid, table_rel,
					 index_info->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 false, index_info);
		state->tups_inserted += 1;
	}
	columnar_reader_end(reader);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	index_info->ii_ExpressionsState = NIL;
	index_info->ii_PredicateState = NULL;
}

/*
 * Like the heap, report what VACUUM found: the live rows, and no dead rows
 * (rows of old versions are kept for time travel, not garbage), so that
 * pg_stat_user_tables shows the vacuum and autovacuum does not come back for
 * the same deletions again and again.
 */
static void
report_vacuum_counts(Relation rel)
{
	int64		storage_id = columnar_storage_id(rel, true);
	PgStat_Counter live = 0;

	if (storage_id != 0)
	{
		List	   *segs = columnar_segments(storage_id, SnapshotSelf);
		ListCell   *lc;

		foreach(lc, segs)
		{
			ColumnarSegment *seg = lfirst(lc);
			int			nd;
			uint8	   *bits;

			CHECK_FOR_INTERRUPTS();
			if (seg->removed_version != 0)
				continue;
			bits = columnar_deleted_bitmap(storage_id, seg->segno, seg->row_count,
										   SnapshotSelf, 0, &nd);
			if (bits)
				pfree(bits);
			live += seg->row_count - nd;
		}
		list_free_deep(segs);
	}
	pgstat_report_vacuum(RelationGetRelid(rel), rel->rd_rel->relisshared, live, 0);
}

void
columnar_relation_vacuum(Relation rel, VacuumParams *params, BufferAccessStrategy bstrategy)
{
	Relation   *indrels;
	int			nindexes;
	int			i;

	/*
	 * No rows to remove: dead metadata rows are vacuumed with the metadata
	 * tables, and data of old versions is kept for time travel until
	 * streamext.vacuum() removes it.  Index entries stay (old versions are
	 * read through them), but each index gets its cleanup pass, as after a
	 * heap vacuum that found nothing dead: GIN moves its pending list into
	 * the index, BRIN summarizes new block ranges, btree recycles pages.
	 */
	report_vacuum_counts(rel);
	if (params->index_cleanup == VACOPTVALUE_DISABLED)
		return;
	vac_open_indexes(rel, RowExclusiveLock, &nindexes, &indrels);
	for (i = 0; i < nindexes; i++)
	{
		IndexVacuumInfo ivinfo;
		IndexBulkDeleteResult *stats;

		CHECK_FOR_INTERRUPTS();
		memset(&ivinfo, 0, sizeof(ivinfo));
		ivinfo.index = indrels[i];
		ivinfo.analyze_only = false;
		ivinfo.report_progress = false;
		ivinfo.estimated_count = true;
		ivinfo.message_level = DEBUG2;
		ivinfo.num_heap_tuples = Max(rel->rd_rel->reltuples, 0);
		ivinfo.strategy = bstrategy;
		stats = index_vacuum_cleanup(&ivinfo, NULL);
		if (stats)
			pfree(stats);
	}
	vac_close_indexes(nindexes, indrels, NoLock);
}
