/*
 * columnar_tid.c
 *		TIDs of versioned_columnar tables: which TIDs exist (tuple_tid_valid)
 *		and which row replaced an updated one (tuple_get_latest_tid), for TID
 *		scans, WHERE CURRENT OF and currtid2().
 *
 * A TID is a row number (see columnar.h); an UPDATE deletes the old row and
 * inserts the new one at a new row number.  Nothing on disk links the two,
 * so the transaction remembers its own updates here.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"

#include "access/relscan.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * A TID is valid if its row number was handed out and its row still exists
 * physically for the scan: in our insert buffer, or in a segment that no
 * TRUNCATE visible to the snapshot removed (a truncated heap has no blocks).
 * Deleted rows stay valid, as dead heap tuples do.
 */
bool
columnar_tuple_tid_valid(TableScanDesc scan, ItemPointer tid)
{
	int64		storage_id = columnar_storage_id(scan->rs_rd, false);
	int64		rownum;
	ColumnarWriteState *ws;
	ColumnarSegment seg;

	if (!ItemPointerIsValid(tid) || ItemPointerGetOffsetNumber(tid) > COLUMNAR_ROWS_PER_BLOCK)
		return false;
	rownum = columnar_tid_to_row(tid);
	if (rownum >= columnar_next_row(storage_id))
		return false;
	ws = columnar_write_state_find(storage_id);
	if (ws && columnar_ws_buffer_index(ws, rownum) >= 0)
		return true;
	return columnar_find_segment(storage_id, rownum, scan->rs_snapshot, &seg) &&
		seg.removed_version == 0;
}

/*
 * The updates of this transaction, as runs of old row -> new row (an UPDATE
 * of consecutive rows makes one run), so that a TID leads to the row that
 * replaced it, as the heap's t_ctid chain does: WHERE CURRENT OF after an
 * UPDATE of the cursor's row, currtid2().  Updates of other, committed
 * transactions are not followed: the old TID then stays the latest.
 */
typedef struct UpdateRun
{
	int64		storage_id;
	int64		old_row;
	int64		new_row;
	int64		len;
} UpdateRun;

static UpdateRun *update_runs = NULL;	/* in TopTransactionContext */
static int	n_update_runs = 0;
static int	cap_update_runs = 0;

/* An UPDATE replaced the row at otid by the row at ntid. */
void
columnar_note_replaced(Relation rel, ItemPointer otid, ItemPointer ntid)
{
	int64		storage_id = columnar_storage_id(rel, false);
	int64		o = columnar_tid_to_row(otid);
	int64		n = columnar_tid_to_row(ntid);
	UpdateRun  *last = n_update_runs > 0 ? &update_runs[n_update_runs - 1] : NULL;

	if (last && last->storage_id == storage_id && last->old_row + last->len == o &&
		last->new_row + last->len == n)
	{
		last->len++;
		return;
	}
	if (n_update_runs == cap_update_runs)
	{
		int			newcap = Max(64, cap_update_runs * 2);

		if (update_runs == NULL)
			update_runs = MemoryContextAlloc(TopTransactionContext, sizeof(UpdateRun) * newcap);
		else
			update_runs = repalloc_huge(update_runs, sizeof(UpdateRun) * newcap);
		cap_update_runs = newcap;
	}
	update_runs[n_update_runs].storage_id = storage_id;
	update_runs[n_update_runs].old_row = o;
	update_runs[n_update_runs].new_row = n;
	update_runs[n_update_runs].len = 1;
	n_update_runs++;
}

/* The row that last replaced row (newest update first), or -1. */
static int64
replacing_row(int64 storage_id, int64 row)
{
	int			i;

	for (i = n_update_runs - 1; i >= 0; i--)
	{
		UpdateRun  *u = &update_runs[i];

		if (u->storage_id == storage_id && row >= u->old_row && row < u->old_row + u->len)
			return u->new_row + (row - u->old_row);
	}
	return -1;
}

/* Follow the updates from tid to the latest row version visible to the scan. */
void
columnar_get_latest_tid(TableScanDesc scan, ItemPointer tid)
{
	Relation	rel = scan->rs_rd;
	int64		storage_id = columnar_storage_id(rel, false);
	int64		row = columnar_tid_to_row(tid);
	int			natts = RelationGetDescr(rel)->natts;
	Datum	   *values = palloc(sizeof(Datum) * Max(natts, 1));
	bool	   *isnull = palloc(sizeof(bool) * Max(natts, 1));
	ColumnarFetcher *f = columnar_fetcher_begin(rel);

	while (row >= 0)
	{
		CHECK_FOR_INTERRUPTS();
		if (columnar_fetch_row(f, row, scan->rs_snapshot, values, isnull))
			columnar_row_to_tid(row, tid);
		row = replacing_row(storage_id, row);
	}
	columnar_fetcher_end(f);
	pfree(values);
	pfree(isnull);
}

/* Transaction end: the updates are forgotten with TopTransactionContext. */
void
columnar_forget_updates(void)
{
	update_runs = NULL;
	n_update_runs = 0;
	cap_update_runs = 0;
}
