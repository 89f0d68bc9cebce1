/*
 * batch_rows.c
 *		The rows a fused batch reads (batch.c's fused_batch), held in a
 *		tuplestore and registered as an ephemeral named relation for the
 *		statement that processes them, as transition tables are for triggers.
 *
 * Why not a CTE over the source, in the statement itself: the planner
 * estimates the rows of a batch from the source's statistics, and those do
 * not describe the new rows.  The tracking column (xid8) of a heap source has
 * no statistics that a range of new xids could be estimated from (a new
 * bronze partition is not even analyzed when its first batches run): a read
 * of 500,000 new rows was estimated at 1,300, and the plan over it probed the
 * dedup state's index and the query's lookup table once per row (nested
 * loops) where hash joins cost a fifth as much.  An ephemeral named relation
 * carries its exact row count (enrtuples), so every estimate above it starts
 * from the truth: a hash join for a catch-up batch of a million rows, an
 * index lookup for a batch of ten.
 *
 * A read of a heap source that the planner already estimates as large (a
 * catch-up over a freshly analyzed table) gets the plan of a large batch
 * anyway: then the statement reads the source itself, once per part that
 * needs the rows, which for a million rows costs less than writing them to
 * the tuplestore and reading them back (batch_rows_needed).
 *
 * The rows are read by one statement and processed by the next, in the same
 * transaction; every read of the source happens in the first, so all parts
 * of the batch see the same rows, as when they shared one snapshot.  The
 * tuplestore spills to a temporary file beyond work_mem, as the CTE's did.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "utils/memutils.h"
#include "utils/queryenvironment.h"
#include "utils/plancache.h"
#include "utils/tuplestore.h"

#include "pipeline/batch_internal.h"

/*
 * A planner estimate of at least this many rows is trusted (see
 * batch_rows_needed): the plans of smaller and larger batches part around
 * here, where hash joins start to beat index probes.
 */
#define BATCH_ROWS_TRUSTED 10000

/* A tuplestore receiver that also keeps the result's row type. */
typedef struct RowsReceiver
{
	DestReceiver pub;
	DestReceiver *store;
	MemoryContext cxt;
	TupleDesc	desc;
} RowsReceiver;

static bool
rows_receive(TupleTableSlot *slot, DestReceiver *self)
{
	RowsReceiver *r = (RowsReceiver *) self;

	return r->store->receiveSlot(slot, r->store);
}

static void
rows_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	RowsReceiver *r = (RowsReceiver *) self;
	MemoryContext old = MemoryContextSwitchTo(r->cxt);

	r->desc = CreateTupleDescCopy(typeinfo);
	MemoryContextSwitchTo(old);
	r->store->rStartup(r->store, operation, typeinfo);
}

static void
rows_shutdown(DestReceiver *self)
{
	RowsReceiver *r = (RowsReceiver *) self;

	r->store->rShutdown(r->store);
}

static void
rows_destroy(DestReceiver *self)
{
}

/*
 * Run sql (a SELECT; parameters as for SPI_execute_with_args, nulls may be
 * NULL) and register its rows as the ephemeral named relation name in the
 * current SPI connection.  Returns the number of rows; *rows is the
 * tuplestore, for batch_rows_release.
 */
int64
batch_rows_read(const char *name, const char *sql, int nargs, Oid *types, Datum *values,
				const char *nulls, Tuplestorestate **rows)
{
	MemoryContext cxt = CurrentMemoryContext;
	Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
	RowsReceiver r;
	SPIExecuteOptions opts;
	SPIPlanPtr	plan;
	ParamListInfo params = makeParamList(nargs);
	EphemeralNamedRelation enr;
	int			ret;

	for (int i = 0; i < nargs; i++)
	{
		ParamExternData *p = &params->params[i];

		p->value = values[i];
		p->isnull = nulls != NULL && nulls[i] == 'n';
		p->pflags = PARAM_FLAG_CONST;
		p->ptype = types[i];
	}

	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = rows_receive;
	r.pub.rStartup = rows_startup;
	r.pub.rShutdown = rows_shutdown;
	r.pub.rDestroy = rows_destroy;
	r.pub.mydest = DestTuplestore;
	r.cxt = cxt;
	r.store = CreateDestReceiver(DestTuplestore);
	SetTuplestoreDestReceiverParams(r.store, ts, cxt, false, NULL, NULL);

	memset(&opts, 0, sizeof(opts));
	opts.params = params;
	opts.dest = (DestReceiver *) &r;
	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("pipeline batch: SPI_prepare failed (%s) for: %s",
								 SPI_result_code_string(SPI_result), sql)));
	ret = SPI_execute_plan_extended(plan, &opts);
	SPI_freeplan(plan);
	if (ret != SPI_OK_SELECT || r.desc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("pipeline batch: unexpected SPI result %d for: %s", ret, sql)));
	r.store->rDestroy(r.store);

	enr = palloc0(sizeof(EphemeralNamedRelationData));
	enr->md.name = pstrdup(name);
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = r.desc;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = (double) tuplestore_tuple_count(ts);
	enr->reldata = ts;
	ret = SPI_register_relation(enr);
	if (ret != SPI_OK_REL_REGISTER)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("pipeline batch: cannot register the rows read: %s",
								 SPI_result_code_string(ret))));
	*rows = ts;
	return tuplestore_tuple_count(ts);
}

/* Unregister the relation of batch_rows_read and free its rows. */
void
batch_rows_release(const char *name, Tuplestorestate *rows)
{
	(void) SPI_unregister_relation(name);
	tuplestore_end(rows);
}

/*
 * Whether the rows that read_sql (the batch's read of a heap source) returns
 * should be read into a tuplestore first: the planner estimates fewer than
 * BATCH_ROWS_TRUSTED rows.  An estimate that large already gets the plan of
 * a large batch (hash joins), so the statement may read the source itself.
 * A smaller one may be the truth (a batch of ten: the tuplestore costs
 * nothing then) or the statistics' blind spot: new transactions lie above
 * the histogram of the tracking column (a growing table between two
 * autoanalyze runs, a partition never analyzed), which the planner puts in
 * its last bucket whatever their number.  Planned once, generically (the
 * read's range is in its text; $1, the watermark, only decides lateness).
 */
bool
batch_rows_needed(const char *read_sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(read_sql, nargs, types);
	CachedPlan *cplan;
	double		rows = 0;

	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("cannot prepare the batch's read: %s",
								 SPI_result_code_string(SPI_result))));
	cplan = SPI_plan_get_cached_plan(plan);
	if (cplan == NULL)
	{
		SPI_freeplan(plan);
		return true;
	}
	if (list_length(cplan->stmt_list) == 1)
		rows = linitial_node(PlannedStmt, cplan->stmt_list)->planTree->plan_rows;
	ReleaseCachedPlan(cplan, NULL);
	SPI_freeplan(plan);
	return rows < BATCH_ROWS_TRUSTED;
}
