/*
 * time_partition.c
 *		The time_partition source option in the consumer worker: which range
 *		partitions of the target a batch still needs, having them created, and
 *		running streamext.maintain_partitions (premake, retention) regularly.
 *
 * The sink asks tpart_check_row() about every decoded row before routing it.
 * The answer comes from the target's partition bounds in the relcache, so a
 * row that an existing partition (or the DEFAULT partition) takes costs a
 * binary search and nothing more.  A row whose partition is missing makes the
 * batch attempt fail like merge_schema does: the worker rolls the batch back,
 * tpart_apply() creates the partitions, each in a transaction of its own (so
 * the batch's rows and offsets still commit together, exactly once), and the
 * batch is written again.  The DDL itself is SQL (time_partition.sql), runs as
 * the worker's role (the source's owner) and takes a SHARE UPDATE EXCLUSIVE lock per
 * target, so workers of one source never race; a partition another worker
 * made in the meantime is simply found.
 *
 * Bucket arithmetic must agree with streamext._tp_floor(): keys are taken as
 * UTC microseconds; buckets are aligned to the Unix epoch, or with months in
 * the interval to calendar months.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/partcache.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ingest/ingest_internal.h"
#include "ingest/time_partition.h"
#include "pipeline/pipeline.h"

#define TPART_MAX_PENDING 1000
#define TPART_MAINTAIN_MS 60000

/* A bucket this worker tried to create since the last maintenance. */
typedef struct TriedBucket
{
	int64		lo;
	char	   *error;			/* NULL: created (or found) without error */
} TriedBucket;

struct TimePartition
{
	MemoryContext cxt;
	char	   *column;
	Interval	width;
	int32		months;			/* months in width; 0: fixed stride */
	int64		stride;			/* microseconds, when months = 0 */
	bool		has_retention;
	Interval	retention;
	int			premake;

	/* for the batch being written (tpart_begin) */
	bool		active;
	AttrNumber	attno;
	Oid			typid;
	bool		has_default;
	int			nranges;
	int64	   *range_lo;		/* sorted, non-overlapping [lo, hi) */
	int64	   *range_hi;
	bool		has_cutoff;
	int64		cutoff;

	/* buckets to create before the batch is written again */
	int			npending;
	int64		pending_lo[TPART_MAX_PENDING];
	int64		pending_point[TPART_MAX_PENDING];

	List	   *tried;			/* TriedBucket */
	TimestampTz last_maintain;

	/*
	 * Partitions past the retention that a pipeline still reads, as of the
	 * last maintenance ("reason (partition p)"), each logged once; and what
	 * source_status says about them.
	 */
	List	   *waiting;
	char	   *waiting_summary;
};

static const JsonbValue *
json_get(JsonbContainer *c, const char *key, JsonbValue *out)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(c, JB_FOBJECT, &k);
	if (v == NULL)
		return NULL;
	*out = *v;
	return out;
}

static Interval *
parse_interval(const JsonbValue *v)
{
	char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

	return DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(s),
												 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* NULL when the options have no time_partition (they were validated before). */
TimePartition *
tpart_create(Jsonb *options, MemoryContext cxt)
{
	JsonbValue	tpv,
				v;
	JsonbContainer *c;
	TimePartition *tp;
	MemoryContext old;

	if (json_get(&options->root, "time_partition", &tpv) == NULL || tpv.type != jbvBinary)
		return NULL;
	c = tpv.val.binary.data;
	old = MemoryContextSwitchTo(cxt);
	tp = palloc0(sizeof(TimePartition));
	tp->cxt = cxt;
	if (json_get(c, "column", &v) == NULL || v.type != jbvString ||
		json_get(c, "interval", &v) == NULL || v.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_partition needs \"column\" and \"interval\"")));
	json_get(c, "column", &v);
	tp->column = pnstrdup(v.val.string.val, v.val.string.len);
	json_get(c, "interval", &v);
	tp->width = *parse_interval(&v);
	tp->months = tp->width.month;
	tp->stride = tp->width.time + (int64) tp->width.day * USECS_PER_DAY;
	if (tp->months < 0 || (tp->months == 0 && tp->stride <= 0) ||
		(tp->months > 0 && tp->stride != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_partition option \"interval\" must be positive and either whole months or without months")));
	if (json_get(c, "retention", &v) != NULL && v.type == jbvString)
	{
		tp->has_retention = true;
		tp->retention = *parse_interval(&v);
	}
	tp->premake = 2;
	if (json_get(c, "premake", &v) != NULL && v.type == jbvNumeric)
		tp->premake = DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v.val.numeric)));
	MemoryContextSwitchTo(old);
	return tp;
}

/* A key or bound as UTC microseconds; infinities sort inside MINVALUE/MAXVALUE. */
static int64
key_value(Oid typid, Datum d)
{
	if (typid == DATEOID)
	{
		DateADT		date = DatumGetDateADT(d);

		if (DATE_IS_NOBEGIN(date))
			return PG_INT64_MIN + 1;
		if (DATE_IS_NOEND(date))
			return PG_INT64_MAX - 1;
		return (int64) date * USECS_PER_DAY;
	}
	else
	{
		Timestamp	ts = DatumGetTimestamp(d);

		if (TIMESTAMP_IS_NOBEGIN(ts))
			return PG_INT64_MIN + 1;
		if (TIMESTAMP_IS_NOEND(ts))
			return PG_INT64_MAX - 1;
		return ts;
	}
}

static int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* The bucket [*lo, *hi) holding v; false when it cannot be represented. */
static bool
bucket_of(TimePartition *tp, int64 v, int64 *lo, int64 *hi)
{
	if (tp->months > 0)
	{
		struct pg_tm tm;
		fsec_t		fsec;
		int64		n,
					b;
		Timestamp	t;

		if (timestamp2tm(v, NULL, &tm, &fsec, NULL, NULL) != 0)
			return false;
		n = (int64) (tm.tm_year - 1970) * 12 + tm.tm_mon - 1;
		b = floor_div(n, tp->months) * tp->months;
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = 1970 + floor_div(b, 12);
		tm.tm_mon = b - floor_div(b, 12) * 12 + 1;
		tm.tm_mday = 1;
		if (tm2timestamp(&tm, 0, NULL, &t) != 0)
			return false;
		*lo = t;
		b += tp->months;
		tm.tm_year = 1970 + floor_div(b, 12);
		tm.tm_mon = b - floor_div(b, 12) * 12 + 1;
		if (tm2timestamp(&tm, 0, NULL, &t) != 0)
			return false;
		*hi = t;
	}
	else
	{
		int64		unix_epoch = -((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)) * USECS_PER_DAY;
		int64		rel;

		if (pg_sub_s64_overflow(v, unix_epoch, &rel))
			return false;
		*lo = floor_div(rel, tp->stride) * tp->stride + unix_epoch;
		if (pg_add_s64_overflow(*lo, tp->stride, hi))
			return false;
	}
	return IS_VALID_TIMESTAMP(*lo) && IS_VALID_TIMESTAMP(*hi);
}

/* Read the target's current partition bounds; once per batch attempt. */
void
tpart_begin(TimePartition *tp, Relation rel)
{
	PartitionDesc pd;
	PartitionBoundInfo bi;
	PartitionKey key;
	int			j;

	tp->active = false;
	tp->nranges = 0;
	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		return;
	key = RelationGetPartitionKey(rel);
	tp->attno = get_attnum(RelationGetRelid(rel), tp->column);
	if (key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
		tp->attno == InvalidAttrNumber || key->partattrs[0] != tp->attno)
		return;					/* changed since validation: the executor decides */
	tp->typid = TupleDescAttr(RelationGetDescr(rel), tp->attno - 1)->atttypid;
	if (tp->typid != TIMESTAMPTZOID && tp->typid != TIMESTAMPOID && tp->typid != DATEOID)
		return;
	pd = RelationGetPartitionDesc(rel, true);
	bi = pd->boundinfo;
	tp->has_default = bi != NULL && partition_bound_has_default(bi);
	if (bi != NULL && bi->ndatums > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(tp->cxt);

		if (tp->range_lo)
		{
			pfree(tp->range_lo);
			pfree(tp->range_hi);
		}
		tp->range_lo = palloc(sizeof(int64) * bi->ndatums);
		tp->range_hi = palloc(sizeof(int64) * bi->ndatums);
		MemoryContextSwitchTo(old);
		for (j = 1; j < bi->ndatums; j++)
		{
			int64		b[2];
			int			i;

			if (bi->indexes[j] < 0)
				continue;
			for (i = 0; i < 2; i++)
			{
				int			d = j - 1 + i;

				if (bi->kind[d][0] == PARTITION_RANGE_DATUM_MINVALUE)
					b[i] = PG_INT64_MIN;
				else if (bi->kind[d][0] == PARTITION_RANGE_DATUM_MAXVALUE)
					b[i] = PG_INT64_MAX;
				else
					b[i] = key_value(tp->typid, bi->datums[d][0]);
			}
			tp->range_lo[tp->nranges] = b[0];
			tp->range_hi[tp->nranges] = b[1];
			tp->nranges++;
		}
	}
	tp->has_cutoff = false;
	if (tp->has_retention)
	{
		Timestamp	now = GetCurrentTransactionStartTimestamp();

		tp->cutoff = DatumGetTimestamp(DirectFunctionCall2(timestamp_mi_interval,
														   TimestampGetDatum(now),
														   IntervalPGetDatum(&tp->retention)));
		tp->has_cutoff = true;
	}
	tp->active = true;
}

static bool
covered(TimePartition *tp, int64 v)
{
	int			lo = 0,
				hi = tp->nranges - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (v < tp->range_lo[mid])
			hi = mid - 1;
		else if (v >= tp->range_hi[mid])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static char *
key_text(TimePartition *tp, Datum d)
{
	Oid			out;
	bool		varlena;

	getTypeOutputInfo(tp->typid, &out, &varlena);
	return OidOutputFunctionCall(out, d);
}

/*
 * Can the row in slot (a decoded row of the target, virtual) be routed?  On
 * TPART_REJECT, *reject says why no partition can hold it.
 */
TpartVerdict
tpart_check_row(TimePartition *tp, TupleTableSlot *slot, char **reject)
{
	Datum		d;
	bool		isnull;
	int64		v,
				lo,
				hi;
	ListCell   *lc;
	int			i;

	if (!tp->active || tp->has_default)
		return TPART_COVERED;
	d = slot_getattr(slot, tp->attno, &isnull);
	if (isnull)
	{
		*reject = psprintf("time_partition column \"%s\" is null, so no partition can hold the row",
						   tp->column);
		return TPART_REJECT;
	}
	v = key_value(tp->typid, d);
	if (covered(tp, v))
		return TPART_COVERED;
	if (v == PG_INT64_MIN + 1 || v == PG_INT64_MAX - 1 || !bucket_of(tp, v, &lo, &hi))
	{
		*reject = psprintf("time_partition column \"%s\" is %s, for which no partition can be created",
						   tp->column, key_text(tp, d));
		return TPART_REJECT;
	}
	if (tp->has_cutoff && hi <= tp->cutoff)
	{
		*reject = psprintf("time_partition column \"%s\" is %s, older than the retention allows; no partition is created for it",
						   tp->column, key_text(tp, d));
		return TPART_REJECT;
	}
	foreach(lc, tp->tried)
	{
		TriedBucket *t = lfirst(lc);

		if (t->lo == lo)
		{
			*reject = psprintf("no partition could be created for time_partition column \"%s\" = %s: %s",
							   tp->column, key_text(tp, d),
							   t->error ? t->error : "a partition of the table overlaps it");
			return TPART_REJECT;
		}
	}
	for (i = 0; i < tp->npending; i++)
	{
		if (tp->pending_lo[i] == lo)
			return TPART_PENDING;
	}
	if (tp->npending < TPART_MAX_PENDING)
	{
		tp->pending_lo[tp->npending] = lo;
		tp->pending_point[tp->npending] = v;
		tp->npending++;
	}
	return TPART_PENDING;
}

bool
tpart_pending(TimePartition *tp)
{
	return tp != NULL && tp->npending > 0;
}

/*
 * Run sql, a query returning (action text, partition text) rows, in a
 * transaction of its own and log each row.  Returns NULL, or the error
 * message after rolling the transaction back; partition DDL must commit (or
 * fail) on its own, never inside a batch.
 */
typedef struct PartitionDdl
{
	const char *sql;
	int			nargs;
	Oid		   *types;
	Datum	   *values;
	const char *source_name;
	TimePartition *tp;			/* maintenance: note the partitions retention waits for */
	List	   *waiting;		/* "reason (partition p)", in tp->cxt */
} PartitionDdl;

/*
 * A partition that retention keeps for a pipeline: logged when it starts to
 * wait, not at every maintenance.
 */
static void
note_waiting(PartitionDdl *d, const char *partition, const char *reason)
{
	char	   *entry = psprintf("%s (partition %s)", reason, partition);
	ListCell   *lc;
	bool		known = false;
	MemoryContext old;

	foreach(lc, d->tp->waiting)
		known |= strcmp((char *) lfirst(lc), entry) == 0;
	if (!known)
		ereport(LOG,
				(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
				 errmsg("source \"%s\" (time_partition): partition %s is past the retention but kept: %s",
						d->source_name, partition, reason),
				 errhint("It is dropped once the pipeline has read its rows.")));
	old = MemoryContextSwitchTo(d->tp->cxt);
	d->waiting = lappend(d->waiting, pstrdup(entry));
	MemoryContextSwitchTo(old);
	pfree(entry);
}

static void
partition_ddl(void *arg)
{
	PartitionDdl *d = arg;
	SeXact		x;
	uint64		r;
	int			ret;

	se_xact_begin(&x, SE_XACT_SPI | SE_XACT_PIN_PATH, NULL);
	ret = SPI_execute_with_args(d->sql, d->nargs, d->types, d->values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("%s failed: %s", d->sql, SPI_result_code_string(ret))));
	for (r = 0; r < SPI_processed; r++)
	{
		char	   *action = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		char	   *partition = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);

		if (d->tp != NULL && strcmp(action, "waiting") == 0)
			note_waiting(d, partition, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3));
		else
			ereport(LOG,
					(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
					 errmsg("source \"%s\" (time_partition): %s partition %s", d->source_name,
							action, partition)));
	}
	se_xact_commit(&x);
}

/* The partitions retention waits for now: forget the others, say so in one line. */
static void
set_waiting(TimePartition *tp, List *waiting)
{
	list_free_deep(tp->waiting);
	tp->waiting = waiting;
	if (tp->waiting_summary)
		pfree(tp->waiting_summary);
	tp->waiting_summary = NULL;
	if (waiting == NIL)
		return;
	/* "<reason> (partition p)" for the first; a count for the rest */
	if (list_length(waiting) == 1)
		tp->waiting_summary = MemoryContextStrdup(tp->cxt, linitial(waiting));
	else
		tp->waiting_summary = MemoryContextStrdup(tp->cxt,
												  psprintf("%s, and %d more partition(s)",
														   (char *) linitial(waiting),
														   list_length(waiting) - 1));
}

/* What source_status says about retention, or NULL. */
const char *
tpart_retention_wait(TimePartition *tp)
{
	return tp ? tp->waiting_summary : NULL;
}

PG_FUNCTION_INFO_V1(streamext_tp_unprocessed_by);

/* streamext._tp_unprocessed_by(part regclass): a pipeline that has not read all rows of part, or NULL */
Datum
streamext_tp_unprocessed_by(PG_FUNCTION_ARGS)
{
	char	   *pipeline = NULL;

	if (!pipeline_relation_has_unprocessed(PG_GETARG_OID(0), &pipeline))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(pipeline ? pipeline : "?"));
}

static char *
run_partition_ddl(const char *sql, int nargs, Oid *types, Datum *values, const char *source_name,
				  TimePartition *tp)
{
	PartitionDdl d = {sql, nargs, types, values, source_name, tp, NIL};
	ErrorData  *ed = se_try(partition_ddl, &d);
	char	   *error;

	if (ed == NULL)
	{
		if (tp != NULL)
			set_waiting(tp, d.waiting);
		return NULL;
	}
	list_free_deep(d.waiting);
	error = ed->message ? pstrdup(ed->message) : pstrdup("unknown error");
	FreeErrorData(ed);
	return error;
}

/*
 * Create the partitions holding points (and ahead more after the newest) with
 * streamext._tp_ensure.  Returns NULL, or the error message.
 */
static char *
ensure(Oid target, Jsonb *options, int64 *points, int npoints, int ahead, const char *source_name)
{
	Oid			types[4] = {OIDOID, JSONBOID, TIMESTAMPARRAYOID, INT4OID};
	Datum		values[4];
	Datum	   *elems = palloc(sizeof(Datum) * npoints);
	ArrayType  *arr;
	char	   *error;
	int			i;

	for (i = 0; i < npoints; i++)
		elems[i] = TimestampGetDatum(points[i]);
	arr = construct_array(elems, npoints, TIMESTAMPOID, sizeof(Timestamp), FLOAT8PASSBYVAL,
						  TYPALIGN_DOUBLE);
	values[0] = ObjectIdGetDatum(target);
	values[1] = JsonbPGetDatum(options);
	values[2] = PointerGetDatum(arr);
	values[3] = Int32GetDatum(ahead);
	error = run_partition_ddl("SELECT 'created', p FROM streamext._tp_ensure($1::regclass, $2, $3, $4) p",
							  4, types, values, source_name, NULL);
	if (error)
		ereport(LOG,
				(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
				 errmsg("source \"%s\" (time_partition): cannot create a partition: %s",
						source_name, error)));
	pfree(arr);
	pfree(elems);
	return error;
}

/*
 * Create the partitions the last batch attempt needed, then premake ahead of
 * the newest of them.  Outside any transaction.
 */
void
tpart_apply(TimePartition *tp, Oid target, Jsonb *options, const char *source_name)
{
	int			i;
	int64		newest = PG_INT64_MIN;

	if (tp == NULL || tp->npending == 0)
		return;
	pgstat_report_activity(STATE_RUNNING, "creating partitions");
	for (i = 0; i < tp->npending; i++)
	{
		char	   *error;
		TriedBucket *t;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		error = ensure(target, options, &tp->pending_point[i], 1, 0, source_name);
		/* the list lives as long as tp: the caller's context may be a transaction's */
		old = MemoryContextSwitchTo(tp->cxt);
		t = palloc(sizeof(TriedBucket));
		t->lo = tp->pending_lo[i];
		t->error = error ? pstrdup(error) : NULL;
		tp->tried = lappend(tp->tried, t);
		MemoryContextSwitchTo(old);
		if (error == NULL)
			newest = Max(newest, tp->pending_lo[i]);
	}
	tp->npending = 0;
	if (newest != PG_INT64_MIN && tp->premake > 0)
		(void) ensure(target, options, &newest, 1, tp->premake, source_name);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Run streamext.maintain_partitions for the source once a minute (and at the
 * first call).  Outside any transaction; errors are logged, not raised.
 */
void
tpart_maintain(TimePartition *tp, const char *source_name)
{
	TimestampTz now = GetCurrentTimestamp();
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *error;

	if (tp == NULL ||
		(tp->last_maintain != 0 && !TimestampDifferenceExceeds(tp->last_maintain, now, TPART_MAINTAIN_MS)))
		return;
	tp->last_maintain = now;
	/* Partitions that could not be made are tried again from now on. */
	list_free_deep(tp->tried);
	tp->tried = NIL;

	pgstat_report_activity(STATE_RUNNING, "maintaining partitions");
	values[0] = CStringGetTextDatum(source_name);
	error = run_partition_ddl("SELECT action, partition, reason FROM streamext.maintain_partitions($1)",
							  1, types, values, source_name, tp);
	if (error)
	{
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("source \"%s\" (time_partition): partition maintenance failed: %s",
						source_name, error)));
		pfree(error);
	}
	pfree(DatumGetPointer(values[0]));
	pgstat_report_activity(STATE_IDLE, NULL);
}
