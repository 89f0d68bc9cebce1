/*
 * sink_insert.c
 *		Rows of a range of a batch into the source's target table, through
 *		the executor's insert machinery the way COPY FROM does it: partition
 *		routing, BEFORE/AFTER row and statement triggers with transition
 *		tables, constraints, generated columns, indexes, foreign partitions.
 *
 * Rows for a table without row triggers are buffered and written with
 * table_multi_insert(), far fewer WAL records and buffer lookups than one
 * insert per row.  A message the decoder rejects is noted as a dead letter;
 * any other error propagates to sink.c, which retries in smaller ranges.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "executor/tuptable.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "postmaster/interrupt.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "ingest/sink_internal.h"

/*
 * Rows for one table (leaf partition) waiting for table_multi_insert(), the
 * way COPY FROM buffers them: far fewer WAL records and buffer lookups than
 * one heap_insert() per row.
 */
#define SINK_BUFFER_ROWS 1000
#define SINK_BUFFER_BYTES 65535

typedef struct InsertBuffer
{
	ResultRelInfo *rri;
	BulkInsertState bistate;
	TupleTableSlot *slots[SINK_BUFFER_ROWS];
	int			nused;
	int			ncreated;
	int64		bytes;
} InsertBuffer;

/* May rows for this table be buffered?  Row triggers must see rows one by one. */
static bool
can_buffer(ResultRelInfo *rri)
{
	TriggerDesc *td = rri->ri_TrigDesc;

	if (rri->ri_FdwRoutine != NULL)
		return false;
	if (td && (td->trig_insert_before_row || td->trig_insert_after_row ||
			   td->trig_insert_instead_row || td->trig_insert_new_table))
		return false;
	return true;
}

static void
flush_buffer(EState *estate, InsertBuffer *b)
{
	int			i;
	ResultRelInfo *rri = b->rri;

	if (b->nused == 0)
		return;
	table_multi_insert(rri->ri_RelationDesc, b->slots, b->nused,
					   estate->es_output_cid, 0, b->bistate);
	for (i = 0; i < b->nused; i++)
	{
		if (rri->ri_NumIndices > 0)
		{
			List	   *recheck;

			ResetPerTupleExprContext(estate);
			recheck = ExecInsertIndexTuples(rri, b->slots[i], estate, false, false, NULL, NIL);
			list_free(recheck);
		}
		ExecClearTuple(b->slots[i]);
	}
	b->nused = 0;
	b->bytes = 0;
}

/*
 * Insert msgs[lo, hi) into the target; messages the decoder rejects are
 * appended to *dead.  Returns the number of rows inserted.  Errors propagate.
 */
int64
sink_insert_rows(SinkState *ss, SinkMessage *msgs, int lo, int hi, List **dead)
{
	Relation	rel;
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	ModifyTableState *mtstate;
	TransitionCaptureState *tcs;
	PartitionTupleRouting *proute = NULL;
	BulkInsertState bistate;
	TupleTableSlot *rootslot;
	ResultRelInfo *prev_rri = NULL;
	MemoryContext batch_cxt = CurrentMemoryContext;
	List	   *buffers = NIL;
	ListCell   *lc;
	int64		rows = 0;
	int			i;
	int			attno;

	rel = table_open(ss->target, RowExclusiveLock);

	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = ss->target;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	for (attno = 1; attno <= RelationGetDescr(rel)->natts; attno++)
	{
		if (TupleDescAttr(RelationGetDescr(rel), attno - 1)->attisdropped)
			continue;
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   attno - FirstLowInvalidHeapAttributeNumber);
	}
	ExecCheckRTPerms(list_make1(rte), true);
	if (check_enable_rls(ss->target, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source \"%s\" cannot write into table \"%s\" with row-level security",
						ss->source_name, RelationGetRelationName(rel))));

	estate = CreateExecutorState();
	ExecInitRangeTable(estate, list_make1(rte));
	rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, rri, 1);
	CheckValidResultRel(rri, CMD_INSERT);
	ExecOpenIndices(rri, false);
	estate->es_output_cid = GetCurrentCommandId(true);

	mtstate = makeNode(ModifyTableState);
	mtstate->ps.plan = NULL;
	mtstate->ps.state = estate;
	mtstate->operation = CMD_INSERT;
	mtstate->mt_nrels = 1;
	mtstate->resultRelInfo = rri;
	mtstate->rootResultRelInfo = rri;

	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		proute = ExecSetupPartitionTupleRouting(estate, rel);
	if (ss->tp)
		tpart_begin(ss->tp, rel);

	AfterTriggerBeginQuery();

	/* Statement triggers with REFERENCING NEW TABLE see the rows, as with COPY. */
	tcs = MakeTransitionCaptureState(rel->trigdesc, RelationGetRelid(rel), CMD_INSERT);
	mtstate->mt_transition_capture = tcs;
	ExecBSInsertTriggers(estate, rri);

	bistate = GetBulkInsertState();
	rootslot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsVirtual);

	for (i = lo; i < hi; i++)
	{
		TupleTableSlot *slot = rootslot;
		ResultRelInfo *target_rri = rri;
		List	   *recheck = NIL;
		char	   *error = NULL;
		bool		ok;
		MemoryContext old;
		InsertBuffer *b;
		List	   *unknown = NIL;

		CHECK_FOR_INTERRUPTS();

		/*
		 * pause_source, drop_source and server shutdown must not wait for a
		 * long batch (slow triggers, halving): give it up; the rows roll
		 * back with the offsets, so the messages are read again later.
		 */
		if (ShutdownRequestPending)
			ereport(ERROR,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("source \"%s\" is stopping; the batch is abandoned and will be read again",
							ss->source_name)));
		ResetPerTupleExprContext(estate);
		old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
		ExecClearTuple(rootslot);
		ok = decoder_decode(ss->dec, &msgs[i].msg, rootslot->tts_values,
							rootslot->tts_isnull, &error, ss->merge_schema ? &unknown : NULL);
		if (ok && unknown != NIL)
		{
			sink_remember_new_columns(ss, &msgs[i].msg, unknown);
			unknown = NIL;
		}
		if (ss->new_columns != NIL)
		{
			/* The batch is retried after the columns exist; only collect keys now. */
			MemoryContextSwitchTo(old);
			continue;
		}
		if (!ok)
		{
			MemoryContextSwitchTo(batch_cxt);
			sink_add_dead_letter(dead, i, pstrdup(error ? error : "message cannot be decoded"));
			continue;
		}
		ExecStoreVirtualTuple(rootslot);

		if (ss->tp && proute)
		{
			/* Rows whose partition is missing wait until it is created. */
			switch (tpart_check_row(ss->tp, rootslot, &error))
			{
				case TPART_COVERED:
					break;
				case TPART_REJECT:
					MemoryContextSwitchTo(batch_cxt);
					sink_add_dead_letter(dead, i, pstrdup(error));
					continue;
				case TPART_PENDING:
					MemoryContextSwitchTo(old);
					continue;
			}
			if (tpart_pending(ss->tp))
			{
				MemoryContextSwitchTo(old);
				continue;
			}
		}

		if (proute)
		{
			target_rri = ExecFindPartition(mtstate, rri, proute, slot, estate);
			if (target_rri->ri_RootToPartitionMap != NULL)
				slot = execute_attr_map_slot(target_rri->ri_RootToPartitionMap->attrMap,
											 slot, target_rri->ri_PartitionTupleSlot);
		}

		if (target_rri->ri_TrigDesc && target_rri->ri_TrigDesc->trig_insert_before_row)
		{
			if (!ExecBRInsertTriggers(estate, target_rri, slot))
			{
				MemoryContextSwitchTo(old);
				continue;		/* a trigger skipped the row */
			}
		}
		if (target_rri->ri_RelationDesc->rd_att->constr &&
			target_rri->ri_RelationDesc->rd_att->constr->has_generated_stored)
			ExecComputeStoredGenerated(target_rri, estate, slot, CMD_INSERT);
		/* A foreign partition's constraints are the remote table's to check. */
		if (target_rri->ri_FdwRoutine == NULL && target_rri->ri_RelationDesc->rd_att->constr)
			ExecConstraints(target_rri, slot, estate);
		if (target_rri->ri_RelationDesc->rd_rel->relispartition &&
			(proute == NULL ||
			 (target_rri->ri_TrigDesc && target_rri->ri_TrigDesc->trig_insert_before_row)))
			ExecPartitionCheck(target_rri, slot, estate, true);
		MemoryContextSwitchTo(old);

		if (tcs == NULL && can_buffer(target_rri))
		{
			b = (InsertBuffer *) target_rri->ri_CopyMultiInsertBuffer;
			if (b == NULL)
			{
				b = palloc0(sizeof(InsertBuffer));
				b->rri = target_rri;
				b->bistate = GetBulkInsertState();
				target_rri->ri_CopyMultiInsertBuffer = (void *) b;
				buffers = lappend(buffers, b);
			}
			if (b->nused == b->ncreated)
				b->slots[b->ncreated++] = table_slot_create(target_rri->ri_RelationDesc,
															&estate->es_tupleTable);
			ExecCopySlot(b->slots[b->nused], slot);
			b->nused++;
			b->bytes += msgs[i].msg.payload_len;
			if (b->nused >= SINK_BUFFER_ROWS || b->bytes >= SINK_BUFFER_BYTES)
				flush_buffer(estate, b);
			rows++;
			continue;
		}

		old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
		if (target_rri->ri_FdwRoutine != NULL)
		{
			/*
			 * A foreign partition has no table access method: the row goes
			 * through its FDW, as COPY FROM does it.  ExecFindPartition()
			 * began the foreign insert (and refused an FDW that cannot take
			 * routed rows); ExecCleanupTupleRouting() ends it.
			 */
			/*
			 * In the query's context: the FDW keeps state it allocates on its
			 * first row (postgres_fdw: its prepared statement's name).
			 */
			MemoryContextSwitchTo(estate->es_query_cxt);
			slot = target_rri->ri_FdwRoutine->ExecForeignInsert(estate, target_rri, slot, NULL);
			MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
			if (slot == NULL)
			{
				MemoryContextSwitchTo(old);
				continue;		/* the FDW skipped the row */
			}
			/* AFTER ROW triggers may read tableoid */
			slot->tts_tableOid = RelationGetRelid(target_rri->ri_RelationDesc);
		}
		else
		{
			if (target_rri != prev_rri && prev_rri != NULL)
				ReleaseBulkInsertStatePin(bistate);
			prev_rri = target_rri;
			table_tuple_insert(target_rri->ri_RelationDesc, slot, estate->es_output_cid, 0, bistate);
		}
		if (target_rri->ri_NumIndices > 0)
			recheck = ExecInsertIndexTuples(target_rri, slot, estate, false, false, NULL, NIL);
		ExecARInsertTriggers(estate, target_rri, slot, recheck, tcs);
		list_free(recheck);
		MemoryContextSwitchTo(old);
		rows++;
	}

	if (ss->new_columns != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" needs new columns (merge_schema)", ss->source_name)));
	if (tpart_pending(ss->tp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" needs new partitions (time_partition)", ss->source_name)));

	foreach(lc, buffers)
	{
		InsertBuffer *b = lfirst(lc);

		flush_buffer(estate, b);
		FreeBulkInsertState(b->bistate);
		b->rri->ri_CopyMultiInsertBuffer = NULL;
	}

	ExecASInsertTriggers(estate, rri, tcs);
	AfterTriggerEndQuery(estate);
	FreeBulkInsertState(bistate);
	if (proute)
		ExecCleanupTupleRouting(mtstate, proute);
	ExecResetTupleTable(estate->es_tupleTable, false);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	return rows;
}
