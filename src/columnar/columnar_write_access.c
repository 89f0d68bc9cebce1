/*
 * columnar_write_access.c
 *		The write state of a transaction (columnar_write.c) as the readers,
 *		index fetches and row locks see it: its identity, the insert buffer's
 *		rows, the pending deletions of flushed segments, open scans.  The
 *		layout stays private to the writer (columnar_write_state.h); these
 *		are the only ways in for everybody else.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_write_state.h"

#include "access/htup_details.h"
#include "utils/hsearch.h"

int64
columnar_ws_storage_id(ColumnarWriteState *ws)
{
	return ws->storage_id;
}

/* The version this transaction's changes will be committed as. */
int64
columnar_ws_version(ColumnarWriteState *ws)
{
	return ws->version;
}

/* Lives as long as the write state (the transaction). */
MemoryContext
columnar_ws_memory(ColumnarWriteState *ws)
{
	return ws->cxt;
}

int
columnar_ws_nbuffered(ColumnarWriteState *ws)
{
	return ws->nbuf;
}

/* The first row number of the insert buffer: rows below it are in segments. */
int64
columnar_ws_buffer_first_row(ColumnarWriteState *ws)
{
	return ws->buf_first_row;
}

/* The index of a row in the insert buffer, -1 if it is not there. */
int
columnar_ws_buffer_index(ColumnarWriteState *ws, int64 rownum)
{
	if (ws->nbuf > 0 && rownum >= ws->buf_first_row && rownum < ws->buf_first_row + ws->nbuf)
		return (int) (rownum - ws->buf_first_row);
	return -1;
}

/*
 * Buffered row i as snapshot sees it: false if it is not visible (inserted
 * by a later command or by a rolled-back subtransaction, or deleted by a
 * command the snapshot sees, unless deleted_too), else its values in
 * tupdesc's columns (columns added since it was buffered get their
 * missing values).
 */
bool
columnar_ws_buffered_row(ColumnarWriteState *ws, int i, Snapshot snapshot, bool deleted_too,
						 TupleDesc tupdesc, Datum *values, bool *isnull)
{
	int			a;

	if (ws->subids[i] == InvalidSubTransactionId || !columnar_cid_visible(snapshot, ws->cids[i]))
		return false;
	if (!deleted_too && ws->del_cids[i] != InvalidCommandId &&
		columnar_cid_visible(snapshot, ws->del_cids[i]))
		return false;
	for (a = 0; a < tupdesc->natts; a++)
	{
		if (a < ws->tupdesc->natts)
		{
			values[a] = ws->vals[a][i];
			isnull[a] = ws->nulls[a][i];
		}
		else
			values[a] = getmissingattr(tupdesc, a + 1, &isnull[a]);
	}
	return true;
}

/* The state of buffered row i for a writer (columnar_row_state). */
ColumnarRowState
columnar_ws_buffered_state(ColumnarWriteState *ws, int i, CommandId *cmax)
{
	if (ws->subids[i] == InvalidSubTransactionId)
		return COLUMNAR_ROW_MISSING;
	if (ws->del_cids[i] != InvalidCommandId)
	{
		*cmax = ws->del_cids[i];
		return COLUMNAR_ROW_SELF_DELETED;
	}
	return COLUMNAR_ROW_LIVE;
}

/*
 * Buffered row i never existed (a speculative insertion that found a
 * conflict): treated like a row of a rolled-back subtransaction.
 */
void
columnar_ws_forget_buffered(ColumnarWriteState *ws, int i)
{
	if (ws->subids[i] == InvalidSubTransactionId)
		return;
	ws->subids[i] = InvalidSubTransactionId;
	ws->del_cids[i] = FirstCommandId;
	ws->del_subids[i] = InvalidSubTransactionId;
}

/* A scan that may return buffered rows starts or ends (see maybe_flush). */
void
columnar_ws_scan_started(ColumnarWriteState *ws)
{
	ws->active_scans++;
}

void
columnar_ws_scan_ended(ColumnarWriteState *ws)
{
	if (ws->active_scans > 0)
		ws->active_scans--;
}

/* This transaction's pending deletions of a flushed segment, if any. */
ColumnarPendingDel *
columnar_ws_pending_del(ColumnarWriteState *ws, int64 segno)
{
	return hash_search(ws->dels, &segno, HASH_FIND, NULL);
}

/* All of them: segno -> ColumnarPendingDel. */
HTAB *
columnar_ws_pending_dels(ColumnarWriteState *ws)
{
	return ws->dels;
}

/* The segment of the row deleted last (row_count 0: none), which callers may update. */
ColumnarSegment *
columnar_ws_last_segment(ColumnarWriteState *ws)
{
	return &ws->last_seg;
}
