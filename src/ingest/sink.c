/*
 * sink.c
 *		Writing one batch of Kafka messages into a source's target table,
 *		together with the source's next offsets, in the caller's transaction.
 *
 * Rows go in through the executor's insert machinery, the way COPY FROM does
 * it (sink_insert.c).  The whole batch is first tried in one
 * subtransaction; when that fails with an error caused by the data, it is
 * retried in halves, down to single messages, so that exactly the messages
 * that cannot become rows are written to streamext.dead_letters and every
 * other message of the batch still lands.  The dead letters and offsets are
 * written in the same transaction (sink_bookkeeping.c), so rows and offsets
 * commit or vanish together.  Here too: the decoder, rebuilt when the
 * target's shape changes (sink_schema.c changes it), and the decoding
 * statistics a batch leaves for source_status and source_warnings.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "commands/trigger.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "ingest/sink_internal.h"

static bool is_position_key(ErrorData *ed);
static void stage_stats(SinkState *ss, int n, int dead);

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

/* A failed range this small is retried message by message. */
#define SINK_ROW_BY_ROW 32

/* sink_insert_rows() as a function se_subxact_try() can call */
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

	ir->rows = sink_insert_rows(ir->ss, ir->msgs, ir->lo, ir->hi, ir->dead);
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
		/* Written before (a re-delivered message): it is there, not a dead letter. */
		if (ed->sqlerrcode == ERRCODE_UNIQUE_VIOLATION && is_position_key(ed))
		{
			FreeErrorData(ed);
			return;
		}
		sink_add_dead_letter(dead, lo, se_error_text(ed));
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
		sink_write_dead_letters(ss, msgs, dead);
	sink_write_offsets(ss, bp);
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
