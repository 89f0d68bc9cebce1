/*
 * sink.c
 *		Writing one batch of Kafka messages into a source's target table,
 *		together with the source's next offsets, in the caller's transaction.
 *
 * Rows go in through the executor's insert machinery, the way COPY FROM does
 * it (partition routing, BEFORE/AFTER row triggers, constraints, generated
 * columns, indexes), with a bulk-insert buffer strategy.  The whole batch is
 * first tried in one subtransaction; when that fails with an error caused by
 * the data, it is retried in halves, down to single messages, so that exactly
 * the messages that cannot become rows are written to streamext.dead_letters
 * and every other message of the batch still lands.  The offsets are upserted
 * in the same transaction, so rows and offsets commit or vanish together.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/heap.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/execPartition.h"
#include "foreign/fdwapi.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "postmaster/interrupt.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "ingest/ingest_internal.h"
#include "ingest/time_partition.h"

struct SinkState
{
	char	   *source_name;
	Oid			target;
	char	   *format;
	Jsonb	   *options;
	MemoryContext cxt;			/* lives as long as the worker */
	MemoryContext dec_cxt;		/* the decoder; rebuilt when the target changes */
	SourceDecoder *dec;
	TupleDesc	dec_desc;		/* the tuple descriptor the decoder was built for */
	SPIPlanPtr	offsets_plan;
	SPIPlanPtr	dead_plan;
	bool		merge_schema;
	List	   *new_columns;	/* merge_schema: NewColumn to add before a retry */
	List	   *refused_columns;	/* merge_schema: names that could not be added */
	TimePartition *tp;			/* time_partition, or NULL */
	/* decoding warnings and dead-letter rate: published, and of the batch being written */
	IngestDecodeStats stats;
	IngestDecodeStats staged;
	bool		staged_valid;
};

/* A column merge_schema adds for a new top-level JSON key. */
typedef struct NewColumn
{
	char	   *name;
	char	   *type;
} NewColumn;

static bool is_position_key(ErrorData *ed);
static void stage_stats(SinkState *ss, int n, int dead);

/* A message that goes to the dead letters, and why. */
typedef struct DeadLetter
{
	int			index;
	char	   *error;
} DeadLetter;

SinkState *
sink_create(const char *source_name, Oid target, const char *format,
			Jsonb *options, MemoryContext cxt)
{
	SinkState  *ss = MemoryContextAllocZero(cxt, sizeof(SinkState));
	MemoryContext old = MemoryContextSwitchTo(cxt);

	ss->source_name = pstrdup(source_name);
	ss->target = target;
	ss->format = pstrdup(format);
	ss->options = (Jsonb *) PG_DETOAST_DATUM_COPY(JsonbPGetDatum(options));
	ss->cxt = cxt;
	{
		JsonbValue	key;
		JsonbValue *v;

		key.type = jbvString;
		key.val.string.val = "merge_schema";
		key.val.string.len = strlen("merge_schema");
		v = findJsonbValueFromContainer(&ss->options->root, JB_FOBJECT, &key);
		ss->merge_schema = (v != NULL && v->type == jbvBool && v->val.boolean);
	}
	ss->tp = tpart_create(ss->options, cxt);
	MemoryContextSwitchTo(old);
	return ss;
}

/* Make sure the decoder fits the target's current shape. */
static void
sink_prepare_decoder(SinkState *ss, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext old;

	if (ss->dec != NULL && equalTupleDescs(ss->dec_desc, desc))
		return;
	if (ss->dec_cxt)
		MemoryContextDelete(ss->dec_cxt);
	ss->dec = NULL;
	ss->dec_cxt = AllocSetContextCreate(ss->cxt, "streamext decoder", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ss->dec_cxt);
	ss->dec_desc = CreateTupleDescCopyConstr(desc);
	ss->dec = decoder_create(ss->dec_desc, ss->format, ss->options);
	MemoryContextSwitchTo(old);
}

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

/* merge_schema: note the columns for keys of msg the target does not have. */
static void
remember_new_columns(SinkState *ss, const IngestMessage *msg, List *keys)
{
	ListCell   *lc;

	foreach(lc, keys)
	{
		char	   *key = lfirst(lc);
		ListCell   *c;
		bool		known = false;
		const char *type;
		NewColumn  *nc;
		MemoryContext old;

		foreach(c, ss->new_columns)
		{
			if (strcmp(((NewColumn *) lfirst(c))->name, key) == 0)
				known = true;
		}
		foreach(c, ss->refused_columns)
		{
			if (strcmp((char *) lfirst(c), key) == 0)
				known = true;
		}

		/*
		 * No column can have a system column's name (xmin, ctid, ...); such a
		 * key is ignored like any key merge_schema cannot turn into a column.
		 */
		if (known || SystemAttributeByName(key) != NULL)
			continue;
		type = decoder_infer_type(ss->dec, msg, key);
		if (type == NULL)
			continue;
		old = MemoryContextSwitchTo(ss->cxt);
		nc = palloc(sizeof(NewColumn));
		nc->name = pstrdup(key);
		nc->type = pstrdup(type);
		ss->new_columns = lappend(ss->new_columns, nc);
		MemoryContextSwitchTo(old);
	}
}

bool
sink_schema_pending(SinkState *ss)
{
	return ss->new_columns != NIL || tpart_pending(ss->tp);
}

/* time_partition: premake and retention, once a minute; outside a transaction. */
void
sink_maintain(SinkState *ss)
{
	tpart_maintain(ss->tp, ss->source_name);
}

/* What retention waits for (a pipeline that has not read a partition), or NULL. */
const char *
sink_retention_wait(SinkState *ss)
{
	return tpart_retention_wait(ss->tp);
}

/* Run one utility statement through SPI (se_subxact_try's signature). */
static void
run_utility(void *arg)
{
	const char *sql = arg;
	int			ret = SPI_execute(sql, false, 0);

	if (ret != SPI_OK_UTILITY)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("merge_schema: %s failed: %s", sql, SPI_result_code_string(ret))));
}

/*
 * merge_schema: add the noted columns, in a transaction of their own, so the
 * batch can be retried.  Runs as the source's owner, who must own the table.
 */
void
sink_apply_schema(SinkState *ss)
{
	ListCell   *lc;
	Oid			types[3] = {OIDOID, TEXTOID, TEXTOID};
	SeXact		x;

	/* pinned until the commit: the type names of the new columns are pg_catalog's */
	se_xact_begin(&x, SE_XACT_SPI | SE_XACT_PIN_PATH, NULL);
	foreach(lc, ss->new_columns)
	{
		NewColumn  *nc = lfirst(lc);
		Datum		values[3];
		int			ret;
		char	   *sql;
		bool		isnull;
		ErrorData  *ed;

		values[0] = ObjectIdGetDatum(ss->target);
		values[1] = CStringGetTextDatum(nc->name);
		values[2] = CStringGetTextDatum(nc->type);
		ret = SPI_execute_with_args("SELECT pg_catalog.format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS %I %s', $1::pg_catalog.regclass, $2, $3)",
									3, types, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot build ALTER TABLE for merge_schema")));
		sql = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		ereport(LOG,
				(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
				 errmsg("source \"%s\" (merge_schema): %s", ss->source_name, sql)));

		/*
		 * A column that cannot be added (the owner does not own the table, a
		 * name PostgreSQL refuses, too many columns) must not stop the
		 * source: its key is ignored from now on, and the messages land
		 * without it.
		 */
		ed = se_subxact_try(run_utility, sql);
		if (ed != NULL)
		{
			MemoryContext old;

			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg("source \"%s\" (merge_schema): cannot add column \"%s\", the key is ignored: %s",
							ss->source_name, nc->name, ed->message)));
			old = MemoryContextSwitchTo(ss->cxt);
			ss->refused_columns = lappend(ss->refused_columns, pstrdup(nc->name));
			MemoryContextSwitchTo(old);
			FreeErrorData(ed);
		}
	}
	se_xact_commit(&x);
	list_free_deep(ss->new_columns);
	ss->new_columns = NIL;
	tpart_apply(ss->tp, ss->target, ss->options, ss->source_name);
}

/*
 * Insert msgs[lo, hi) into the target; messages the decoder rejects are
 * appended to *dead.  Returns the number of rows inserted.  Errors propagate.
 */
static int64
insert_rows(SinkState *ss, SinkMessage *msgs, int lo, int hi, List **dead)
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
			remember_new_columns(ss, &msgs[i].msg, unknown);
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
			DeadLetter *dl;

			MemoryContextSwitchTo(batch_cxt);
			dl = palloc(sizeof(DeadLetter));
			dl->index = i;
			dl->error = pstrdup(error ? error : "message cannot be decoded");
			*dead = lappend(*dead, dl);
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
					{
						DeadLetter *dl;

						MemoryContextSwitchTo(batch_cxt);
						dl = palloc(sizeof(DeadLetter));
						dl->index = i;
						dl->error = pstrdup(error);
						*dead = lappend(*dead, dl);
						continue;
					}
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

/* A failed range this small is retried message by message. */
#define SINK_ROW_BY_ROW 32

/* insert_rows() as a function se_subxact_try() can call */
typedef struct InsertRange
{
	SinkState  *ss;
	SinkMessage *msgs;
	int			lo;
	int			hi;
	List	  **dead;
	int64		rows;
} InsertRange;

static void
insert_range(void *arg)
{
	InsertRange *ir = arg;

	ir->rows = insert_rows(ir->ss, ir->msgs, ir->lo, ir->hi, ir->dead);
}

/*
 * Write msgs[lo, hi) in a subtransaction; on a data error, split in halves
 * until the single bad messages are found and dead-lettered.
 */
static void
write_range(SinkState *ss, SinkMessage *msgs, int lo, int hi, List **dead, int64 *rows)
{
	List	   *local_dead = NIL;
	int64		local_rows = 0;
	ErrorData  *ed;
	InsertRange ir;
	int			mid;
	int64	   *counts = palloc(sizeof(int64) * decoder_counts_size(ss->dec));

	/* the messages of a range that fails are decoded (and counted) again */
	decoder_counts_save(ss->dec, counts);
	ir.ss = ss;
	ir.msgs = msgs;
	ir.lo = lo;
	ir.hi = hi;
	ir.dead = &local_dead;
	ed = se_subxact_try(insert_range, &ir);
	if (ed != NULL)
	{
		if (!se_error_caused_by_row(ed->sqlerrcode) || ss->new_columns != NIL || tpart_pending(ss->tp))
			ReThrowError(ed);
		/* counted once: a single message is not decoded again, a range is */
		if (hi - lo > 1)
			decoder_counts_restore(ss->dec, counts);
	}
	else
		local_rows = ir.rows;

	if (ed == NULL)
	{
		*dead = list_concat(*dead, local_dead);
		*rows += local_rows;
		return;
	}
	if (hi - lo == 1)
	{
		DeadLetter *dl;

		/* Written before (a re-delivered message): it is there, not a dead letter. */
		if (ed->sqlerrcode == ERRCODE_UNIQUE_VIOLATION && is_position_key(ed))
		{
			FreeErrorData(ed);
			return;
		}
		dl = palloc(sizeof(DeadLetter));
		dl->index = lo;
		dl->error = se_error_text(ed);
		*dead = lappend(*dead, dl);
		return;
	}
	FreeErrorData(ed);

	/*
	 * Small ranges go row by row at once: halving them further would insert
	 * (and run the triggers of) their good rows several times more.
	 */
	if (hi - lo <= SINK_ROW_BY_ROW)
	{
		for (mid = lo; mid < hi; mid++)
			write_range(ss, msgs, mid, mid + 1, dead, rows);
		return;
	}
	mid = lo + (hi - lo) / 2;
	write_range(ss, msgs, lo, mid, dead, rows);
	write_range(ss, msgs, mid, hi, dead, rows);
}

/*
 * Did this unique violation come from a unique index on the message's Kafka
 * position: plain columns only, among them _partition and _offset, all of
 * them from _topic, _partition, _offset?  DESIGN makes such an index the
 * target's idempotency key.
 */
static bool
is_position_key(ErrorData *ed)
{
	Oid			nsp;
	Oid			idx;
	HeapTuple	tup;
	Form_pg_index ind;
	bool		result = true;
	bool		has_partition = false,
				has_offset = false;
	int			i;

	if (ed->constraint_name == NULL || ed->schema_name == NULL)
		return false;
	nsp = get_namespace_oid(ed->schema_name, true);
	if (!OidIsValid(nsp))
		return false;
	idx = get_relname_relid(ed->constraint_name, nsp);
	if (!OidIsValid(idx))
		return false;
	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(idx));
	if (!HeapTupleIsValid(tup))
		return false;
	ind = (Form_pg_index) GETSTRUCT(tup);
	if (!ind->indisunique ||
		!heap_attisnull(tup, Anum_pg_index_indexprs, NULL) ||
		!heap_attisnull(tup, Anum_pg_index_indpred, NULL))
		result = false;
	for (i = 0; result && i < ind->indnkeyatts; i++)
	{
		char	   *name = ind->indkey.values[i] > 0 ?
			get_attname(ind->indrelid, ind->indkey.values[i], true) : NULL;

		if (name == NULL)
			result = false;
		else if (strcmp(name, "_partition") == 0)
			has_partition = true;
		else if (strcmp(name, "_offset") == 0)
			has_offset = true;
		else if (strcmp(name, "_topic") != 0)
			result = false;
	}
	ReleaseSysCache(tup);
	return result && has_partition && has_offset;
}

static Datum
bytes_datum(const char *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	if (len)
		memcpy(VARDATA(b), data, len);
	return PointerGetDatum(b);
}

/* Insert the dead letters; they commit with the batch. */
static void
write_dead_letters(SinkState *ss, SinkMessage *msgs, List *dead)
{
	ListCell   *lc;

	if (ss->dead_plan == NULL)
	{
		Oid			types[7] = {TEXTOID, TEXTOID, INT4OID, INT8OID, BYTEAOID, BYTEAOID, TEXTOID};

		ss->dead_plan = SPI_prepare("INSERT INTO streamext.dead_letters "
									"(source, topic, partition, \"offset\", key, payload, error) "
									"VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, types);
		if (ss->dead_plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot prepare dead letter insert: %s", SPI_result_code_string(SPI_result))));
		SPI_keepplan(ss->dead_plan);
	}
	foreach(lc, dead)
	{
		DeadLetter *dl = lfirst(lc);
		const IngestMessage *m = &msgs[dl->index].msg;
		Datum		values[7];
		char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
		int			ret;
		char	   *err = dl->error;

		/* The error text must be storable even when it quotes invalid bytes. */
		if (pg_verifymbstr(err, strlen(err), true) == false)
			err = "message cannot be decoded (the error text is not valid in the database encoding)";
		values[0] = CStringGetTextDatum(ss->source_name);
		values[1] = CStringGetTextDatum(m->topic);
		values[2] = Int32GetDatum(m->partition);
		values[3] = Int64GetDatum(m->offset);
		if (m->key)
			values[4] = bytes_datum(m->key, m->key_len);
		else
			nulls[4] = 'n';
		if (m->payload)
			values[5] = bytes_datum(m->payload, m->payload_len);
		else
			nulls[5] = 'n';
		values[6] = CStringGetTextDatum(err);
		ret = SPI_execute_plan(ss->dead_plan, values, nulls, false, 0);
		if (ret != SPI_OK_INSERT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot insert dead letter: %s", SPI_result_code_string(ret))));
	}
}

/* Summarize the batch per topic and partition; see BatchPartitions. */
void
sink_batch_partitions(SinkMessage *msgs, int n, BatchPartitions *bp)
{
	Datum	   *topics = palloc(sizeof(Datum) * n);
	const char **names = palloc(sizeof(char *) * n);
	Datum	   *parts = palloc(sizeof(Datum) * n);
	Datum	   *firsts = palloc(sizeof(Datum) * n);
	Datum	   *nexts = palloc(sizeof(Datum) * n);
	int			nparts = 0;
	int			i,
				j = -1;

	for (i = 0; i < n; i++)
	{
		const IngestMessage *m = &msgs[i].msg;

		CHECK_FOR_INTERRUPTS();
		/* Messages come in runs per partition: try the last one first. */
		if (j < 0 || DatumGetInt32(parts[j]) != m->partition || strcmp(names[j], m->topic) != 0)
		{
			for (j = 0; j < nparts; j++)
			{
				if (DatumGetInt32(parts[j]) == m->partition && strcmp(names[j], m->topic) == 0)
					break;
			}
		}
		if (j == nparts)
		{
			names[j] = m->topic;
			topics[j] = CStringGetTextDatum(m->topic);
			parts[j] = Int32GetDatum(m->partition);
			firsts[j] = Int64GetDatum(m->offset);
			nexts[j] = Int64GetDatum(m->offset + 1);
			nparts++;
			continue;
		}
		if (DatumGetInt64(firsts[j]) > m->offset)
			firsts[j] = Int64GetDatum(m->offset);
		if (DatumGetInt64(nexts[j]) < m->offset + 1)
			nexts[j] = Int64GetDatum(m->offset + 1);
	}
	bp->n = nparts;
	bp->topics = PointerGetDatum(construct_array(topics, nparts, TEXTOID, -1, false, TYPALIGN_INT));
	bp->partitions = PointerGetDatum(construct_array(parts, nparts, INT4OID, 4, true, TYPALIGN_INT));
	bp->firsts = PointerGetDatum(construct_array(firsts, nparts, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	bp->nexts = PointerGetDatum(construct_array(nexts, nparts, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Upsert, per topic and partition of the batch, the offset after its last message. */
static void
write_offsets(SinkState *ss, const BatchPartitions *bp)
{
	Datum		values[4];
	int			ret;

	if (ss->offsets_plan == NULL)
	{
		Oid			types[4] = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID};

		ss->offsets_plan = SPI_prepare("INSERT INTO streamext.source_offsets AS o "
									   "(source, topic, partition, next_offset, updated_at) "
									   "SELECT $1, t, p, n, now() FROM unnest($2, $3, $4) AS u(t, p, n) "
									   "ON CONFLICT (source, topic, partition) DO UPDATE "
									   "SET next_offset = excluded.next_offset, updated_at = excluded.updated_at",
									   4, types);
		if (ss->offsets_plan == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("cannot prepare offsets upsert: %s", SPI_result_code_string(SPI_result))));
		SPI_keepplan(ss->offsets_plan);
	}
	values[0] = CStringGetTextDatum(ss->source_name);
	values[1] = bp->topics;
	values[2] = bp->partitions;
	values[3] = bp->nexts;
	ret = SPI_execute_plan(ss->offsets_plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("cannot store offsets: %s", SPI_result_code_string(ret))));
}

/*
 * Write a batch.  Must run inside a transaction with an active snapshot; the
 * caller commits.  Fills *result.
 */
void
sink_write_batch(SinkState *ss, SinkMessage *msgs, int n, const BatchPartitions *bp,
				 SinkResult *result)
{
	Relation	rel;
	List	   *dead = NIL;
	int64		rows = 0;
	int			pin;

	result->rows = 0;
	result->dead_letters = 0;
	if (n == 0)
		return;

	/*
	 * SET CONSTRAINTS ALL IMMEDIATE: deferred constraints (deferrable foreign
	 * keys, unique constraints) are then checked at the end of each insert,
	 * inside its subtransaction, so a violating row becomes a dead letter
	 * instead of failing the commit of the whole batch.
	 */
	{
		ConstraintsSetStmt *immediate = makeNode(ConstraintsSetStmt);

		immediate->constraints = NIL;
		immediate->deferred = false;
		AfterTriggerSetState(immediate);
	}

	rel = try_relation_open(ss->target, RowExclusiveLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the target table of source \"%s\" does not exist any more", ss->source_name),
				 errhint("Drop the source, or recreate it for a new table.")));
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the target of source \"%s\" is not a table", ss->source_name)));
	sink_prepare_decoder(ss, rel);
	table_close(rel, NoLock);

	ss->staged_valid = false;
	decoder_counts_reset(ss->dec);
	write_range(ss, msgs, 0, n, &dead, &rows);

	/* The rows are written; the rest are the extension's own queries. */
	pin = se_pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("SPI_connect failed")));
	if (dead != NIL)
		write_dead_letters(ss, msgs, dead);
	write_offsets(ss, bp);
	SPI_finish();
	se_unpin_search_path(pin);

	result->rows = rows;
	result->dead_letters = list_length(dead);
	stage_stats(ss, n, list_length(dead));
}

/* Fold one warning of the batch into ss->staged. */
static void
stage_warning(void *arg, int kind, const char *name, int64 messages)
{
	IngestDecodeStats *st = (IngestDecodeStats *) arg;
	int			i;

	if (name != NULL)
	{
		for (i = 0; i < st->nwarnings; i++)
		{
			if (st->warnings[i].kind == kind && strcmp(st->warnings[i].name, name) == 0)
			{
				st->warnings[i].messages += messages;
				return;
			}
		}
		if (st->nwarnings < INGEST_MAX_WARNINGS)
		{
			IngestWarning *w = &st->warnings[st->nwarnings++];

			w->kind = kind;
			w->messages = messages;
			/* the first NAMEDATALEN - 1 bytes, ending on a character boundary */
			strlcpy(w->name, name, pg_mbcliplen(name, strlen(name), NAMEDATALEN - 1) + 1);
			return;
		}
	}
	if (kind == DECODE_WARN_UNKNOWN_KEY)
		st->more_unknown_keys += messages;
}

/*
 * The statistics as they will be once this batch commits: the published
 * ones plus the batch's warnings and its messages and dead letters, in
 * windows of INGEST_RATE_WINDOW_MS (the window before the current one is
 * the last that had messages, so an idle source keeps its last rate).
 * sink_publish_stats() makes them the published ones.
 */
static void
stage_stats(SinkState *ss, int n, int dead)
{
	IngestDecodeStats *st = &ss->staged;
	TimestampTz now = GetCurrentTimestamp();

	*st = ss->stats;
	st->decoded += decoder_counts_visit(ss->dec, stage_warning, st);
	if (st->window_start == 0 ||
		TimestampDifferenceExceeds(st->window_start, now, INGEST_RATE_WINDOW_MS))
	{
		if (st->window_messages > 0)
		{
			st->prev_messages = st->window_messages;
			st->prev_dead = st->window_dead;
		}
		st->window_messages = st->window_dead = 0;
		st->window_start = now;
	}
	st->window_messages += n;
	st->window_dead += dead;
	ss->staged_valid = true;
}

/*
 * After the commit of the batch sink_write_batch() wrote last: its
 * statistics count from now on; copy them to *out (a worker slot, under the
 * caller's lock).
 */
void
sink_publish_stats(SinkState *ss, IngestDecodeStats *out)
{
	if (ss->staged_valid)
		ss->stats = ss->staged;
	ss->staged_valid = false;
	*out = ss->stats;
}
