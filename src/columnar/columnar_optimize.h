/*
 * columnar_optimize.h
 *		The interface between streamext.optimize (columnar_optimize.c: which
 *		segments to rewrite, the rewrite's output, the commit under the
 *		writer lock) and its ZORDER ordering (columnar_zorder.c: the order in
 *		which the rewritten rows are written).
 *
 * An OPTIMIZE reads the live rows of its input segments as of one committed
 * version R, in segno order: the "input stream", where every live row has a
 * position (inpos).  It writes them to new segments in some order (bin
 * packing: the input order; ZORDER: the z-key order), the row at output
 * position p getting row number base + p.  The commit maps each input row
 * to its output row through that order (newpos), to leave the old rows'
 * successors and to carry over deletions committed meanwhile.
 */
#ifndef STREAMEXT_COLUMNAR_OPTIMIZE_H
#define STREAMEXT_COLUMNAR_OPTIMIZE_H

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "utils/array.h"
#include "nodes/execnodes.h"

#define ZORDER_MAX_COLUMNS 4

/* One segment to rewrite, as of version R. */
typedef struct OptInput
{
	ColumnarSegment seg;
	uint8 *deleted; /* rows deleted as of R (NULL: none) */
	int ndeleted;
	int64 inpos; /* input position of its first live row */
} OptInput;

/* The output of a rewrite: full segments in row number order (columnar_optimize_write.c). */
typedef struct OptWriter
{
	Relation rel;
	int64 storage_id;
	TupleDesc tupdesc;
	int64 base;    /* row number of output position 0 */
	int64 written; /* rows in finished segments */
	int segrows;   /* rows of every segment but the last */
	int nbuf;
	Datum **vals;
	bool **nulls;
	MemoryContext bufcxt; /* the buffer's by-reference values */
	int64 *segnos;
	int32 *counts;
	int nsegs;
	int capsegs;
	int64 inputs_total; /* for the progress view */
	int64 inputs_done;
	/* the table's indexes, which need entries for the new row numbers */
	int nindexes;
	Relation *indexes;
	IndexInfo **infos;
	ExprState **preds;
	EState *estate;
	TupleTableSlot *slot;
} OptWriter;

extern OptWriter *columnar_optimize_writer_begin(Relation rel, int64 storage_id, int64 base,
                                                 int64 inputs_total);
/* Write out the last, partial segment; close the indexes. */
extern void columnar_optimize_writer_end(OptWriter *w);

/* Decode the columns in attrs (NULL: all) of one input segment into vals/nulls. */
extern void columnar_optimize_read_input(Relation rel, int64 storage_id, OptInput *in,
                                         Bitmapset *attrs, Datum **vals, bool **nulls);
/* Append one row (values are copied) to the output. */
extern void columnar_optimize_write_row(OptWriter *w, Datum *values, bool *isnull);
/* For the progress view: input segments read so far. */
extern void columnar_optimize_inputs_done(OptWriter *w, int64 done);

/* The columns of a ZORDER BY. */
typedef struct ZorderColumns
{
	int ncols;
	AttrNumber attnums[ZORDER_MAX_COLUMNS];
} ZorderColumns;

/* Resolve zorder_by's names (errors for bad ones) into z. */
extern void columnar_zorder_columns(Relation rel, ArrayType *names, ZorderColumns *z);

/*
 * Write the live rows of inputs[0 .. ninputs - 1] (total_live of them) to w
 * in z-key order; newpos[inpos] receives each input row's output position.
 */
extern void columnar_zorder_rewrite(Relation rel, int64 storage_id, const ZorderColumns *z,
                                    OptInput *inputs, int ninputs, int64 total_live, OptWriter *w,
                                    int64 *newpos);

#endif /* STREAMEXT_COLUMNAR_OPTIMIZE_H */
