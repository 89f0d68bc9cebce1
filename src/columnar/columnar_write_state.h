/*
 * columnar_write_state.h
 *		The layout of a transaction's write state of one versioned_columnar
 *		storage: private to the writer, columnar_write.c (the insert buffer,
 *		deletions, flushes) and columnar_xact.c (TRUNCATE, subtransaction
 *		undo, commit).  Everybody else goes through the accessors of
 *		columnar_write_access.c, declared in columnar.h.
 */
#ifndef STREAMEXT_COLUMNAR_WRITE_STATE_H
#define STREAMEXT_COLUMNAR_WRITE_STATE_H

#ifndef COLUMNAR_INTERNAL
#define COLUMNAR_INTERNAL
#endif
#include "columnar/columnar.h"

/* Everything one transaction changes in one storage. */
struct ColumnarWriteState
{
	int64		storage_id;		/* hash key */
	Oid			relid;
	TupleDesc	tupdesc;
	MemoryContext cxt;
	MemoryContext bufcxt;		/* buffered values; reset after a flush */
	SubTransactionId lock_subid;
	Oid			user_id;
	int64		version;
	int64		next_row;		/* next row number to hand out */
	int64		reserved_end;	/* end of the reserved row number range */
	/* insert buffer, column-major; rows buf_first_row .. + nbuf - 1 */
	int64		buf_first_row;
	int			nbuf;
	int			capbuf;
	Datum	  **vals;
	bool	  **nulls;
	CommandId  *cids;
	SubTransactionId *subids;
	/* by-reference values of the buffer: big blocks kept from flush to flush */
	char	  **arena;
	Size	   *arena_size;
	int			arena_nblocks;
	int			arena_cur;		/* block being filled */
	Size		arena_used;		/* bytes used in it */
	CommandId  *del_cids;
	SubTransactionId *del_subids;
	HTAB	   *dels;			/* segno -> ColumnarPendingDel */
	/*
	 * What the version will record: rows written as segments by this
	 * transaction (some of them deleted again, see ColumnarPendingDel.own),
	 * rows of those segments a TRUNCATE removed, committed rows a TRUNCATE
	 * removed, rows inserted by UPDATE.  A subtransaction's rollback puts
	 * these back as they were at its start (undo).
	 */
	int64		rows_flushed;
	int64		rows_own_dropped;
	int64		rows_truncated;
	int64		rows_updated;
	struct ColumnarWriteUndo *undo; /* one entry per open subtransaction */
	bool		dropped;		/* the table was dropped (or rewritten) */
	bool		had_subabort;	/* a subtransaction rolled back: own segments may be gone */
	ColumnarSegment last_seg;	/* segment of the last deleted row */
	bool		inserted;
	bool		deleted;
	bool		updated;
	bool		truncated;		/* a TRUNCATE marked segments removed */
	char	   *operation;
	char	   *parameters;
	int			active_scans;
	/*
	 * The commands that inserted the rows written out as segments so far, as
	 * runs (first row number, command id), for fetches whose snapshot is
	 * older than a segment written in the middle of a statement (its
	 * metadata carries that statement's command, its rows earlier ones).
	 */
	int64	   *run_rows;
	CommandId  *run_cids;
	int			nruns;
	int			capruns;
};

#endif							/* STREAMEXT_COLUMNAR_WRITE_STATE_H */
