/*
 * columnar_tableam_scan.c
 *		The scan callbacks of versioned_columnar's TableAmRoutine
 *		(columnar_tableam.c): sequential scans (forward and, for SCROLL
 *		cursors, backward), TID range scans, bitmap heap scans, TABLESAMPLE
 *		and ANALYZE's block sampling.  Parallel table scans are refused
 *		(the planner never makes them: see columnar_scan_plan.c).
 *
 * A scan reads rows through a ColumnarReader (current rows, in row order)
 * or, where rows are asked for by TID, fetches them one by one; a block of
 * the scan is COLUMNAR_ROWS_PER_BLOCK row numbers.
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

typedef struct ColumnarScanDescData
{
	TableScanDescData base;
	ColumnarReader *reader;
	ColumnarFetcher *fetcher;
	/* ANALYZE */
	BlockNumber block;
	int			offset;
	/* bitmap scans */
	int			bm_index;
	/* TABLESAMPLE */
	BlockNumber nblocks;
	bool		sample_started;
	/* TID range scans */
	int64		min_row;
	int64		max_row;
	/* position for backward steps: rows returned so far (n + 1: past the end) */
	int64		pos;
	bool		past_end;
} ColumnarScanDescData;

typedef ColumnarScanDescData *ColumnarScanDesc;

static void
forbid_parallel(ParallelTableScanDesc pscan)
{
	if (pscan != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("parallel scans of versioned_columnar tables are not supported")));
}

const TupleTableSlotOps *
columnar_slot_callbacks(Relation rel)
{
	/* virtual slots that know whether we inserted their row (columnar_lock.c) */
	return columnar_slot_ops_get();
}

TableScanDesc
columnar_scan_begin(Relation rel, Snapshot snapshot, int nkeys, ScanKey key,
					ParallelTableScanDesc pscan, uint32 flags)
{
	ColumnarScanDesc scan = palloc0(sizeof(ColumnarScanDescData));

	forbid_parallel(pscan);
	scan->base.rs_rd = rel;
	scan->base.rs_snapshot = snapshot;
	scan->base.rs_nkeys = nkeys;
	scan->base.rs_key = key;
	scan->base.rs_flags = flags;
	scan->base.rs_parallel = pscan;
	scan->min_row = 0;
	scan->max_row = PG_INT64_MAX;
	/* like the heap: pg_stat_user_tables.seq_scan counts sequential scans */
	if (flags & SO_TYPE_SEQSCAN)
		pgstat_count_heap_scan(rel);
	if (flags & (SO_TYPE_ANALYZE | SO_TYPE_BITMAPSCAN | SO_TYPE_SAMPLESCAN))
	{
		scan->fetcher = columnar_fetcher_begin(rel);
		columnar_fetcher_register_scan(scan->fetcher);
	}
	else
		scan->reader = columnar_reader_begin(rel, snapshot, 0, NULL, NIL);
	return (TableScanDesc) scan;
}

void
columnar_scan_end(TableScanDesc sscan)
{
	ColumnarScanDesc scan = (ColumnarScanDesc) sscan;

	if (scan->reader)
		columnar_reader_end(scan->reader);
	if (scan->fetcher)
		columnar_fetcher_end(scan->fetcher);
	if (scan->base.rs_flags & SO_TEMP_SNAPSHOT)
		UnregisterSnapshot(scan->base.rs_snapshot);
	pfree(scan);
}

void
columnar_scan_rescan(TableScanDesc sscan, ScanKey key, bool set_params,
					 bool allow_strat, bool allow_sync, bool allow_pagemode)
{
	ColumnarScanDesc scan = (ColumnarScanDesc) sscan;

	if (scan->reader)
		columnar_reader_rescan(scan->reader);
	if (scan->base.rs_flags & SO_TYPE_SEQSCAN)
		pgstat_count_heap_scan(scan->base.rs_rd);
	scan->sample_started = false;
	scan->pos = 0;
	scan->past_end = false;
}

/* The next row of the scan in row number order, within the TID range. */
static bool
scan_next_row(ColumnarScanDesc scan, TupleTableSlot *slot, int64 *rownum)
{
	for (;;)
	{
		if (!columnar_reader_next(scan->reader, slot->tts_values, slot->tts_isnull, rownum))
			return false;
		if (*rownum >= scan->min_row && *rownum <= scan->max_row)
			return true;
	}
}

bool
columnar_scan_getnextslot(TableScanDesc sscan, ScanDirection direction,
						  TupleTableSlot *slot)
{
	ColumnarScanDesc scan = (ColumnarScanDesc) sscan;
	int64		rownum;

	ExecClearTuple(slot);
	/* a rewrite reads the old rows with the old descriptor (its slot's) */
	columnar_reader_set_tupdesc(scan->reader, slot->tts_tupleDescriptor);
	if (direction == BackwardScanDirection)
	{
		/*
		 * Segments decode forward only: a step back reads again from the
		 * start up to the previous row.  Only scroll cursors over a core
		 * scan (a TID range scan, mostly) step back; the custom scan keeps
		 * its rows instead.
		 */
		int64		target = scan->pos - 1;

		if (scan->pos == 0)
		{
			/* a fresh scan (or one back before its start) begins at the end */
			columnar_reader_rescan(scan->reader);
			target = 0;
			while (scan_next_row(scan, slot, &rownum))
			{
				CHECK_FOR_INTERRUPTS();
				target++;
			}
		}
		columnar_reader_rescan(scan->reader);
		scan->pos = 0;
		scan->past_end = false;
		if (target <= 0)
			return false;
		while (scan->pos < target)
		{
			CHECK_FOR_INTERRUPTS();
			if (!scan_next_row(scan, slot, &rownum))
				return false;	/* the rows changed under us: cannot happen */
			scan->pos++;
		}
	}
	else
	{
		if (scan->past_end)
			return false;
		if (!scan_next_row(scan, slot, &rownum))
		{
			scan->past_end = true;
			scan->pos++;
			return false;
		}
		scan->pos++;
	}
	columnar_row_to_tid(rownum, &slot->tts_tid);
	slot->tts_tableOid = RelationGetRelid(scan->base.rs_rd);
	ExecStoreVirtualTuple(slot);
	pgstat_count_heap_getnext(scan->base.rs_rd);
	return true;
}

void
columnar_scan_set_tidrange(TableScanDesc sscan, ItemPointer mintid, ItemPointer maxtid)
{
	ColumnarScanDesc scan = (ColumnarScanDesc) sscan;
	BlockNumber minblk = ItemPointerGetBlockNumber(mintid);
	OffsetNumber minoff = ItemPointerGetOffsetNumber(mintid);
	BlockNumber maxblk = ItemPointerGetBlockNumber(maxtid);
	OffsetNumber maxoff = ItemPointerGetOffsetNumber(maxtid);

	/*
	 * The bounds may name offsets no virtual block has (0, or beyond its
	 * COLUMNAR_ROWS_PER_BLOCK rows: "ctid < '(2,0)'" arrives as (1,65535)).
	 */
	if (minoff > COLUMNAR_ROWS_PER_BLOCK)
		scan->min_row = ((int64) minblk + 1) * COLUMNAR_ROWS_PER_BLOCK;
	else
		scan->min_row = (int64) minblk * COLUMNAR_ROWS_PER_BLOCK + Max(minoff, 1) - 1;
	if (maxoff == 0)
		scan->max_row = (int64) maxblk * COLUMNAR_ROWS_PER_BLOCK - 1;
	else
		scan->max_row = (int64) maxblk * COLUMNAR_ROWS_PER_BLOCK +
			Min(maxoff, COLUMNAR_ROWS_PER_BLOCK) - 1;
	columnar_reader_set_row_range(scan->reader, scan->min_row,
								  scan->max_row < PG_INT64_MAX ? scan->max_row + 1 : PG_INT64_MAX);
	scan->pos = 0;
	scan->past_end = false;
}

bool
columnar_scan_getnextslot_tidrange(TableScanDesc sscan, ScanDirection direction,
								   TupleTableSlot *slot)
{
	return columnar_scan_getnextslot(sscan, direction, slot);
}

Size
columnar_parallelscan_estimate(Relation rel)
{
	return sizeof(ParallelBlockTableScanDescData);
}

Size
columnar_parallelscan_initialize(Relation rel, ParallelTableScanDesc pscan)
{
	forbid_parallel(pscan);
	return 0;
}

void
columnar_parallelscan_reinitialize(Relation rel, ParallelTableScanDesc pscan)
{
	forbid_parallel(pscan);
}

/* ---- ANALYZE ---- */

bool
columnar_scan_analyze_next_block(TableScanDesc sscan, BlockNumber blockno,
								 BufferAccessStrategy bstrategy)
{
	ColumnarScanDesc scan = (ColumnarScanDesc) sscan;

	scan->block = blockno;
	scan->offset = 0;
	return true;
}

bool
columnar_scan_analyze_next_tuple(TableScanDesc sscan, TransactionId OldestXmin,
								 double *liverows, double *deadrows, TupleTableSlot *slot)
{
	ColumnarScanDesc scan = (ColumnarScanDesc) sscan;
	Snapshot	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();

	while (scan->offset < COLUMNAR_ROWS_PER_BLOCK)
	{
		ItemPointerData tid;

		ItemPointerSet(&tid, scan->block, scan->offset + 1);
		scan->offset++;
		if (columnar_fetch_into_slot(scan->fetcher, sscan->rs_rd, &tid, snapshot, slot, false))
		{
			*liverows += 1;
			return true;
		}
	}
	return false;
}

/* ---- bitmap scans ---- */

bool
columnar_scan_bitmap_next_block(TableScanDesc sscan, TBMIterateResult *tbmres)
{
	ColumnarScanDesc scan = (ColumnarScanDesc) sscan;

	scan->block = tbmres->blockno;
	scan->bm_index = 0;
	return true;
}

bool
columnar_scan_bitmap_next_tuple(TableScanDesc sscan, TBMIterateResult *tbmres,
								TupleTableSlot *slot)
{
	ColumnarScanDesc scan = (ColumnarScanDesc) sscan;

	for (;;)
	{
		ItemPointerData tid;
		OffsetNumber off;

		if (tbmres->ntuples >= 0)
		{
			if (scan->bm_index >= tbmres->ntuples)
				return false;
			off = tbmres->offsets[scan->bm_index++];
		}
		else
		{
			if (scan->bm_index >= COLUMNAR_ROWS_PER_BLOCK)
				return false;
			off = ++scan->bm_index;
		}
		ItemPointerSet(&tid, tbmres->blockno, off);
		if (columnar_fetch_into_slot(scan->fetcher, sscan->rs_rd, &tid, sscan->rs_snapshot, slot, false))
			return true;
	}
}

/*
 * TABLESAMPLE over the virtual blocks of row numbers (COLUMNAR_ROWS_PER_BLOCK
 * rows each): the sampling method picks blocks and offsets as on a heap, and
 * each picked row is fetched if the snapshot sees it.
 */
bool
columnar_scan_sample_next_block(TableScanDesc sscan, SampleScanState *scanstate)
{
	ColumnarScanDesc scan = (ColumnarScanDesc) sscan;
	TsmRoutine *tsm = scanstate->tsmroutine;
	BlockNumber blockno;

	if (!scan->sample_started)
		scan->nblocks = RelationGetNumberOfBlocks(sscan->rs_rd);
	if (scan->nblocks == 0)
		return false;
	if (tsm->NextSampleBlock)
		blockno = tsm->NextSampleBlock(scanstate, scan->nblocks);
	else
		blockno = scan->sample_started ? scan->block + 1 : 0;
	if (!BlockNumberIsValid(blockno) || blockno >= scan->nblocks)
		return false;
	scan->sample_started = true;
	scan->block = blockno;
	return true;
}

bool
columnar_scan_sample_next_tuple(TableScanDesc sscan, SampleScanState *scanstate,
								TupleTableSlot *slot)
{
	ColumnarScanDesc scan = (ColumnarScanDesc) sscan;
	TsmRoutine *tsm = scanstate->tsmroutine;

	for (;;)
	{
		OffsetNumber off;
		ItemPointerData tid;

		CHECK_FOR_INTERRUPTS();
		off = tsm->NextSampleTuple(scanstate, scan->block, COLUMNAR_ROWS_PER_BLOCK);
		if (!OffsetNumberIsValid(off))
		{
			ExecClearTuple(slot);
			return false;
		}
		ItemPointerSet(&tid, scan->block, off);
		if (columnar_fetch_into_slot(scan->fetcher, sscan->rs_rd, &tid, sscan->rs_snapshot, slot, false))
		{
			pgstat_count_heap_getnext(sscan->rs_rd);
			return true;
		}
	}
}
