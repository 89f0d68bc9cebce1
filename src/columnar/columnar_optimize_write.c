/*
 * columnar_optimize_write.c
 *		The output of streamext.optimize: rows appended one by one become full
 *		segments (column chunks with their statistics), with index entries for
 *		their new row numbers (interface: columnar_optimize.h).
 *
 * The segment rows themselves are written only at commit
 * (columnar_optimize.c), under the writer lock, when the version adding
 * them is known; until then the chunks are invisible to everyone, and a
 * rollback or a crash takes them away with the transaction.  The row
 * numbers were reserved up front: position p of the output is row base + p,
 * and every segment but the last holds exactly segrows rows, so the
 * commit finds any output row's segment by division.
 */
#include "postgres.h"

#include "columnar/columnar_codec.h"
#include "columnar/columnar_metadata.h"
#include "columnar/columnar_optimize.h"
#include "columnar/columnar_progress.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/rel.h"


/* ---------------------------------------------------------------- */
/* output                                                            */
/* ---------------------------------------------------------------- */

static void
writer_open_indexes(OptWriter *w)
{
	List *ids = RelationGetIndexList(w->rel);
	ListCell *lc;
	int n = 0;

	w->indexes = palloc(sizeof(Relation) * Max(list_length(ids), 1));
	w->infos = palloc(sizeof(IndexInfo *) * Max(list_length(ids), 1));
	w->preds = palloc0(sizeof(ExprState *) * Max(list_length(ids), 1));
	foreach (lc, ids)
	{
		Relation idx = index_open(lfirst_oid(lc), RowExclusiveLock);

		/* CREATE INDEX CONCURRENTLY conflicts with our lock: every index is ready */
		if (!idx->rd_index->indisready)
		{
			index_close(idx, RowExclusiveLock);
			continue;
		}
		w->indexes[n] = idx;
		w->infos[n] = BuildIndexInfo(idx);
		n++;
	}
	w->nindexes = n;
	if (n > 0)
	{
		int i;

		w->estate = CreateExecutorState();
		w->slot = MakeSingleTupleTableSlot(w->tupdesc, &TTSOpsVirtual);
		GetPerTupleExprContext(w->estate)->ecxt_scantuple = w->slot;
		for (i = 0; i < n; i++)
			if (w->infos[i]->ii_Predicate != NIL)
				w->preds[i] = ExecPrepareQual(w->infos[i]->ii_Predicate, w->estate);
	}
}

OptWriter *
columnar_optimize_writer_begin(Relation rel, int64 storage_id, int64 base, int64 inputs_total)
{
	OptWriter *w = palloc0(sizeof(OptWriter));
	int a;

	w->rel = rel;
	w->storage_id = storage_id;
	w->tupdesc = RelationGetDescr(rel);
	w->base = base;
	w->segrows = columnar_segment_rows;
	w->inputs_total = inputs_total;
	w->vals = palloc(sizeof(Datum *) * w->tupdesc->natts);
	w->nulls = palloc(sizeof(bool *) * w->tupdesc->natts);
	for (a = 0; a < w->tupdesc->natts; a++)
	{
		w->vals[a] = palloc(sizeof(Datum) * w->segrows);
		w->nulls[a] = palloc(sizeof(bool) * w->segrows);
	}
	w->bufcxt =
	    AllocSetContextCreate(CurrentMemoryContext, "optimize output", ALLOCSET_DEFAULT_SIZES);
	w->capsegs = 16;
	w->segnos = palloc(sizeof(int64) * w->capsegs);
	w->counts = palloc(sizeof(int32) * w->capsegs);
	writer_open_indexes(w);
	return w;
}

/* Index entries of the buffered rows, which are rows segno .. segno + nbuf - 1. */
static void
writer_index_rows(OptWriter *w, int64 segno)
{
	ExprContext *econtext;
	int i;
	int a;
	int x;

	if (w->nindexes == 0)
		return;
	econtext = GetPerTupleExprContext(w->estate);
	for (i = 0; i < w->nbuf; i++)
	{
		ItemPointerData tid;

		CHECK_FOR_INTERRUPTS();
		ResetExprContext(econtext);
		ExecClearTuple(w->slot);
		for (a = 0; a < w->tupdesc->natts; a++)
		{
			w->slot->tts_values[a] = w->vals[a][i];
			w->slot->tts_isnull[a] = w->nulls[a][i];
		}
		ExecStoreVirtualTuple(w->slot);
		columnar_row_to_tid(segno + i, &tid);
		w->slot->tts_tid = tid;
		for (x = 0; x < w->nindexes; x++)
		{
			Datum values[INDEX_MAX_KEYS];
			bool isnull[INDEX_MAX_KEYS];

			if (w->preds[x] != NULL && !ExecQual(w->preds[x], econtext))
				continue;
			FormIndexDatum(w->infos[x], w->slot, w->estate, values, isnull);
			/* the same rows are in the table already: no uniqueness to check */
			index_insert(w->indexes[x], values, isnull, &tid, w->rel, UNIQUE_CHECK_NO, false,
			             w->infos[x]);
		}
	}
}

/*
 * Insert one chunk row at the end of the chunk table (HEAP_INSERT_SKIP_FSM,
 * its TOASTed data too), as a bulk load into it does, rather than into the
 * gaps the free space map knows of between the small chunk rows of the
 * micro-batches being compacted: the output's chunk rows then lie together,
 * and a scan fetches a segment's chunks, and the statistics of all output
 * segments, from a few pages instead of many.  The index entries are made
 * as CatalogTupleInsert() makes them: the metadata tables' indexes are on
 * plain columns (columnar.sql), like a catalog's.
 */
static void
chunk_insert(Relation chunkrel, CatalogIndexState indstate, HeapTuple tup)
{
	TupleDesc desc = RelationGetDescr(chunkrel);
	int i;
	int k;

	heap_insert(chunkrel, tup, GetCurrentCommandId(true), HEAP_INSERT_SKIP_FSM, NULL);
	for (i = 0; i < indstate->ri_NumIndices; i++)
	{
		Relation idx = indstate->ri_IndexRelationDescs[i];
		IndexInfo *info = indstate->ri_IndexRelationInfo[i];
		Datum values[INDEX_MAX_KEYS];
		bool isnull[INDEX_MAX_KEYS];

		if (!info->ii_ReadyForInserts)
			continue;
		Assert(info->ii_Expressions == NIL && info->ii_Predicate == NIL);
		for (k = 0; k < info->ii_NumIndexAttrs; k++)
			values[k] = heap_getattr(tup, info->ii_IndexAttrNumbers[k], desc, &isnull[k]);
		index_insert(idx, values, isnull, &tup->t_self, chunkrel,
		             idx->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, info);
	}
}

/*
 * Write the buffer as one segment's chunks.  Its segment row is written at
 * commit, when the version adding it is known; until then nobody, this
 * transaction included, reads the chunks.
 */
static void
writer_flush(OptWriter *w)
{
	Relation chunkrel;
	CatalogIndexState indstate;
	int64 segno = w->base + w->written;
	MemoryContext tmp;
	MemoryContext old;
	int a;

	if (w->nbuf == 0)
		return;
	chunkrel = table_open(ColumnarChunkRelationId(), RowExclusiveLock);
	indstate = CatalogOpenIndexes(chunkrel);
	tmp = AllocSetContextCreate(CurrentMemoryContext, "optimize chunk", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(tmp);
	for (a = 0; a < w->tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(w->tupdesc, a);
		Datum values[Natts_columnar_chunk];
		bool nulls[Natts_columnar_chunk] = {false};
		int null_count;
		bytea *minv;
		bytea *maxv;
		bytea *chunk;
		HeapTuple tup;

		if (att->attisdropped)
			continue;
		CHECK_FOR_INTERRUPTS();
		chunk =
		    columnar_encode_chunk(w->vals[a], w->nulls[a], w->nbuf, att, &null_count, &minv, &maxv);
		values[Anum_columnar_chunk_storage_id - 1] = Int64GetDatum(w->storage_id);
		values[Anum_columnar_chunk_segno - 1] = Int64GetDatum(segno);
		values[Anum_columnar_chunk_attnum - 1] = Int16GetDatum(att->attnum);
		values[Anum_columnar_chunk_null_count - 1] = Int32GetDatum(null_count);
		values[Anum_columnar_chunk_min_value - 1] = PointerGetDatum(minv);
		nulls[Anum_columnar_chunk_min_value - 1] = (minv == NULL);
		values[Anum_columnar_chunk_max_value - 1] = PointerGetDatum(maxv);
		nulls[Anum_columnar_chunk_max_value - 1] = (maxv == NULL);
		values[Anum_columnar_chunk_data - 1] = PointerGetDatum(chunk);
		tup = heap_form_tuple(RelationGetDescr(chunkrel), values, nulls);
		chunk_insert(chunkrel, indstate, tup);
		MemoryContextReset(tmp);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	CatalogCloseIndexes(indstate);
	table_close(chunkrel, RowExclusiveLock);
	writer_index_rows(w, segno);

	if (w->nsegs == w->capsegs)
	{
		w->capsegs *= 2;
		w->segnos = repalloc(w->segnos, sizeof(int64) * w->capsegs);
		w->counts = repalloc(w->counts, sizeof(int32) * w->capsegs);
	}
	w->segnos[w->nsegs] = segno;
	w->counts[w->nsegs] = w->nbuf;
	w->nsegs++;
	w->written += w->nbuf;
	w->nbuf = 0;
	MemoryContextReset(w->bufcxt);
	columnar_progress_update(w->inputs_total, w->inputs_done, w->written);
}

void
columnar_optimize_write_row(OptWriter *w, Datum *values, bool *isnull)
{
	int a;
	MemoryContext old = MemoryContextSwitchTo(w->bufcxt);

	for (a = 0; a < w->tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(w->tupdesc, a);

		w->nulls[a][w->nbuf] = isnull[a] || att->attisdropped;
		if (w->nulls[a][w->nbuf])
			w->vals[a][w->nbuf] = (Datum)0;
		else if (att->attbyval)
			w->vals[a][w->nbuf] = values[a];
		else
			w->vals[a][w->nbuf] = datumCopy(values[a], false, att->attlen);
	}
	MemoryContextSwitchTo(old);
	if (++w->nbuf == w->segrows)
		writer_flush(w);
}

void
columnar_optimize_inputs_done(OptWriter *w, int64 done)
{
	w->inputs_done = done;
	columnar_progress_update(w->inputs_total, w->inputs_done, w->written);
}

void
columnar_optimize_writer_end(OptWriter *w)
{
	int i;

	writer_flush(w);
	for (i = 0; i < w->nindexes; i++)
		index_close(w->indexes[i], RowExclusiveLock);
	if (w->nindexes > 0)
	{
		ExecDropSingleTupleTableSlot(w->slot);
		FreeExecutorState(w->estate);
	}
}
