/*
 * dedup.c
 *		Deduplication within the watermark: the key store behind
 *		streamext.is_duplicate() and pipelines' dedup keys.
 *
 * Spark's dropDuplicatesWithinWatermark: the first row of a key is kept and
 * remembered until the watermark passes its event time + delay; any row of
 * the same key arriving before that is a duplicate.  Keys are evicted in
 * expiry order from a binary heap, so memory is bounded by the keys inside
 * the watermark horizon, not by the data.  Keys are compared with their
 * type's hash opclass (records included); NULL keys equal each other, as in
 * DISTINCT.
 */
#include "postgres.h"

#include "common/int.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "stream/stream.h"
#include "stream/stream_window.h"

PG_FUNCTION_INFO_V1(se_is_duplicate);

typedef struct DedupEntry
{
	struct DedupEntry *next;	/* hash chain, or free list */
	uint32		hash;
	bool		isnull;
	Datum		key;
	TimestampTz expiry;			/* first_event_time + delay */
} DedupEntry;

/* the expiry is repeated here so that sifting does not chase pointers */
typedef struct DedupHeapItem
{
	TimestampTz expiry;
	DedupEntry *entry;
} DedupHeapItem;

/*
 * Record keys (ROW(device_id, event_time), the usual dedup key) are kept
 * deformed: each entry's key points to its column values and null flags, so
 * a probe is deformed once and compared column by column, instead of paying
 * hash_record()'s and record_eq()'s deforming and type lookups on every row.
 */
typedef struct RecordKeys
{
	Oid			typid;
	int32		typmod;
	TupleDesc	tupdesc;
	FmgrInfo   *hash;			/* per column */
	FmgrInfo   *eq;
	Datum	   *values;			/* the probe, deformed */
	bool	   *nulls;
} RecordKeys;

struct StreamDedup
{
	MemoryContext cxt;
	RecordKeys *rec;			/* record keys, or NULL */
	int16		typlen;
	bool		typbyval;
	Oid			collation;
	FmgrInfo	hashfn;
	FmgrInfo	eqfn;
	DedupEntry **buckets;
	uint64		nbuckets;		/* a power of two */
	int64		count;
	DedupHeapItem *heap;		/* min-heap on expiry, one slot per key */
	int64		heapcap;
	DedupEntry *freelist;
};

static void key_free(StreamDedup *dd, DedupEntry *e);

#define DEDUP_INITIAL_BUCKETS 64	/* small: one store per window partition */
#define NULL_KEY_HASH 0x9e3779b9U

StreamDedup *
stream_dedup_create(MemoryContext parent, Oid keytype, Oid collation)
{
	MemoryContext cxt;
	StreamDedup *dd;
	TypeCacheEntry *typentry;
	Oid			hashproc;

	typentry = lookup_type_cache(keytype,
								 TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
	hashproc = typentry->hash_proc_finfo.fn_oid;

	/*
	 * The type cache does not promise hashing for anonymous records, since
	 * it cannot see their columns; hash_record() checks them as it goes.
	 */
	if (!OidIsValid(hashproc) && type_is_rowtype(keytype))
		hashproc = F_HASH_RECORD;
	if (!OidIsValid(hashproc) || !OidIsValid(typentry->eq_opr_finfo.fn_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify a hash function for type %s",
						format_type_be(keytype)),
				 errhint("Deduplication keys need a type with a hash operator class; cast the key to text, or combine hashable columns with ROW(a, b).")));

	cxt = AllocSetContextCreate(parent, "streamext dedup keys",
								ALLOCSET_DEFAULT_SIZES);
	dd = MemoryContextAllocZero(cxt, sizeof(StreamDedup));
	dd->cxt = cxt;
	get_typlenbyval(keytype, &dd->typlen, &dd->typbyval);
	dd->collation = collation;
	fmgr_info_cxt(hashproc, &dd->hashfn, cxt);
	if (type_is_rowtype(keytype))
		dd->rec = MemoryContextAllocZero(cxt, sizeof(RecordKeys));
	fmgr_info_copy(&dd->eqfn, &typentry->eq_opr_finfo, cxt);
	dd->nbuckets = DEDUP_INITIAL_BUCKETS;
	dd->buckets = MemoryContextAllocZero(cxt, sizeof(DedupEntry *) * dd->nbuckets);
	dd->heapcap = DEDUP_INITIAL_BUCKETS;
	dd->heap = MemoryContextAlloc(cxt, sizeof(DedupHeapItem) * dd->heapcap);
	return dd;
}

int64
stream_dedup_count(StreamDedup *dd)
{
	return dd->count;
}

static void
heap_push(StreamDedup *dd, DedupEntry *e)
{
	int64		i;

	if (dd->count >= dd->heapcap)
	{
		dd->heapcap *= 2;
		dd->heap = repalloc_huge(dd->heap, sizeof(DedupHeapItem) * dd->heapcap);
	}
	i = dd->count;
	while (i > 0)
	{
		int64		parent = (i - 1) / 2;

		if (dd->heap[parent].expiry <= e->expiry)
			break;
		dd->heap[i] = dd->heap[parent];
		i = parent;
	}
	dd->heap[i].expiry = e->expiry;
	dd->heap[i].entry = e;
}

/* remove the heap's top; count is already decremented */
static void
heap_pop(StreamDedup *dd)
{
	DedupHeapItem last = dd->heap[dd->count];
	int64		i = 0;

	for (;;)
	{
		int64		child = 2 * i + 1;

		if (child >= dd->count)
			break;
		if (child + 1 < dd->count &&
			dd->heap[child + 1].expiry < dd->heap[child].expiry)
			child++;
		if (last.expiry <= dd->heap[child].expiry)
			break;
		dd->heap[i] = dd->heap[child];
		i = child;
	}
	dd->heap[i] = last;
}

void
stream_dedup_evict(StreamDedup *dd, TimestampTz watermark)
{
	while (dd->count > 0 && dd->heap[0].expiry <= watermark)
	{
		DedupEntry *e = dd->heap[0].entry;
		DedupEntry **link = &dd->buckets[e->hash & (dd->nbuckets - 1)];

		CHECK_FOR_INTERRUPTS();
		while (*link != e)
			link = &(*link)->next;
		*link = e->next;
		dd->count--;
		heap_pop(dd);
		key_free(dd, e);
		e->next = dd->freelist;
		dd->freelist = e;
	}
}

static void
grow_buckets(StreamDedup *dd)
{
	uint64		newn = dd->nbuckets * 2;
	DedupEntry **nb;
	uint64		i;

	nb = MemoryContextAllocHuge(dd->cxt, sizeof(DedupEntry *) * newn);
	memset(nb, 0, sizeof(DedupEntry *) * newn);
	for (i = 0; i < dd->nbuckets; i++)
	{
		DedupEntry *e = dd->buckets[i];

		while (e != NULL)
		{
			DedupEntry *next = e->next;
			DedupEntry **slot = &nb[e->hash & (newn - 1)];

			e->next = *slot;
			*slot = e;
			e = next;
		}
	}
	pfree(dd->buckets);
	dd->buckets = nb;
	dd->nbuckets = newn;
}

/* set up the column functions for the row type of the first record key */
static void
record_keys_init(StreamDedup *dd, HeapTupleHeader th)
{
	RecordKeys *rk = dd->rec;
	TupleDesc	tupdesc;
	int			i;

	rk->typid = HeapTupleHeaderGetTypeId(th);
	rk->typmod = HeapTupleHeaderGetTypMod(th);
	tupdesc = lookup_rowtype_tupdesc(rk->typid, rk->typmod);
	rk->tupdesc = CreateTupleDescCopy(tupdesc);
	ReleaseTupleDesc(tupdesc);
	rk->hash = palloc0(sizeof(FmgrInfo) * Max(rk->tupdesc->natts, 1));
	rk->eq = palloc0(sizeof(FmgrInfo) * Max(rk->tupdesc->natts, 1));
	rk->values = palloc0(sizeof(Datum) * Max(rk->tupdesc->natts, 1));
	rk->nulls = palloc0(sizeof(bool) * Max(rk->tupdesc->natts, 1));
	for (i = 0; i < rk->tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(rk->tupdesc, i);
		TypeCacheEntry *te;
		Oid			hashproc;

		if (att->attisdropped)
			continue;
		te = lookup_type_cache(att->atttypid,
							   TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
		hashproc = te->hash_proc_finfo.fn_oid;
		if (!OidIsValid(hashproc) && type_is_rowtype(att->atttypid))
			hashproc = F_HASH_RECORD;
		if (!OidIsValid(hashproc) || !OidIsValid(te->eq_opr_finfo.fn_oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("could not identify a hash function for type %s",
							format_type_be(att->atttypid)),
					 errhint("Deduplication keys need a type with a hash operator class; cast the key to text, or combine hashable columns with ROW(a, b).")));
		fmgr_info_cxt(hashproc, &rk->hash[i], dd->cxt);
		fmgr_info_copy(&rk->eq[i], &te->eq_opr_finfo, dd->cxt);
	}
}

/* deform a record key into rk->values/nulls and hash it like hash_record() */
static uint32
record_key_hash(StreamDedup *dd, Datum key)
{
	RecordKeys *rk = dd->rec;
	HeapTupleHeader th = DatumGetHeapTupleHeader(key);
	HeapTupleData tuple;
	MemoryContext old;
	uint32		hash = 0;
	int			i;

	if (rk->tupdesc == NULL)
	{
		old = MemoryContextSwitchTo(dd->cxt);
		record_keys_init(dd, th);
		MemoryContextSwitchTo(old);
	}
	else if (HeapTupleHeaderGetTypeId(th) != rk->typid ||
			 HeapTupleHeaderGetTypMod(th) != rk->typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("deduplication keys must all have the same row type")));
	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&(tuple.t_self));
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = th;
	heap_deform_tuple(&tuple, rk->tupdesc, rk->values, rk->nulls);
	for (i = 0; i < rk->tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(rk->tupdesc, i);
		uint32		colhash = 0;

		if (att->attisdropped)
			continue;
		if (!rk->nulls[i])
			colhash = DatumGetUInt32(FunctionCall1Coll(&rk->hash[i], att->attcollation,
													   rk->values[i]));
		hash = (hash << 5) - hash + colhash;
	}
	return hash;
}

/* does the deformed probe equal a stored record key (NULL columns equal)? */
static bool
record_key_equal(StreamDedup *dd, Datum stored)
{
	RecordKeys *rk = dd->rec;
	int			natts = rk->tupdesc->natts;
	Datum	   *values = (Datum *) DatumGetPointer(stored);
	bool	   *nulls = (bool *) (values + natts);
	int			i;

	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(rk->tupdesc, i);

		if (att->attisdropped)
			continue;
		if (nulls[i] != rk->nulls[i])
			return false;
		if (!nulls[i] &&
			!DatumGetBool(FunctionCall2Coll(&rk->eq[i], att->attcollation,
											values[i], rk->values[i])))
			return false;
	}
	return true;
}

/* copy the deformed probe into the key store: values, then null flags */
static Datum
record_key_copy(StreamDedup *dd)
{
	RecordKeys *rk = dd->rec;
	int			natts = rk->tupdesc->natts;
	Datum	   *values;
	bool	   *nulls;
	int			i;
	MemoryContext old;

	/* the copies must live as long as the key store, not the current row */
	old = MemoryContextSwitchTo(dd->cxt);
	values = palloc((sizeof(Datum) + sizeof(bool)) * Max(natts, 1));
	nulls = (bool *) (values + natts);
	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(rk->tupdesc, i);

		nulls[i] = rk->nulls[i] || att->attisdropped;
		values[i] = nulls[i] ? (Datum) 0 :
			datumCopy(rk->values[i], att->attbyval, att->attlen);
	}
	MemoryContextSwitchTo(old);
	return PointerGetDatum(values);
}

static void
key_free(StreamDedup *dd, DedupEntry *e)
{
	if (e->isnull)
		return;
	if (dd->rec != NULL)
	{
		int			natts = dd->rec->tupdesc->natts;
		Datum	   *values = (Datum *) DatumGetPointer(e->key);
		bool	   *nulls = (bool *) (values + natts);
		int			i;

		for (i = 0; i < natts; i++)
			if (!nulls[i] && !TupleDescAttr(dd->rec->tupdesc, i)->attbyval)
				pfree(DatumGetPointer(values[i]));
		pfree(values);
	}
	else if (!dd->typbyval)
		pfree(DatumGetPointer(e->key));
}

/* the entry of key, or NULL; *hashp gets its hash */
static DedupEntry *
dedup_lookup(StreamDedup *dd, Datum key, bool isnull, uint32 *hashp)
{
	uint32		hash;
	DedupEntry *e;

	if (isnull)
		hash = NULL_KEY_HASH;
	else if (dd->rec != NULL)
		hash = record_key_hash(dd, key);
	else
		hash = DatumGetUInt32(FunctionCall1Coll(&dd->hashfn, dd->collation, key));
	*hashp = hash;
	for (e = dd->buckets[hash & (dd->nbuckets - 1)]; e != NULL; e = e->next)
	{
		if (e->hash != hash || e->isnull != isnull)
			continue;
		if (isnull)
			return e;
		if (dd->rec != NULL ? record_key_equal(dd, e->key) :
			DatumGetBool(FunctionCall2Coll(&dd->eqfn, dd->collation, e->key, key)))
			return e;
	}
	return NULL;
}

/* insert key, just looked up (for records: deformed) by dedup_lookup() */
static void
dedup_insert(StreamDedup *dd, Datum key, bool isnull, uint32 hash,
			 TimestampTz expiry)
{
	DedupEntry *e;
	DedupEntry **slot;
	MemoryContext old;

	if (dd->freelist != NULL)
	{
		e = dd->freelist;
		dd->freelist = e->next;
	}
	else
		e = MemoryContextAlloc(dd->cxt, sizeof(DedupEntry));
	e->hash = hash;
	e->isnull = isnull;
	if (isnull)
		e->key = (Datum) 0;
	else if (dd->rec != NULL)
		e->key = record_key_copy(dd);
	else
	{
		old = MemoryContextSwitchTo(dd->cxt);
		e->key = datumCopy(key, dd->typbyval, dd->typlen);
		MemoryContextSwitchTo(old);
	}
	e->expiry = expiry;
	heap_push(dd, e);
	slot = &dd->buckets[hash & (dd->nbuckets - 1)];
	e->next = *slot;
	*slot = e;
	dd->count++;
	if ((uint64) dd->count > dd->nbuckets)
		grow_buckets(dd);
}

bool
stream_dedup_check(StreamDedup *dd, Datum key, bool isnull,
				   TimestampTz event_time, int64 delay)
{
	uint32		hash;
	TimestampTz expiry;

	if (!isnull && dd->typlen == -1)
		key = PointerGetDatum(PG_DETOAST_DATUM_PACKED(key));
	if (dedup_lookup(dd, key, isnull, &hash) != NULL)
		return true;

	/* a new key: remember it until the watermark passes its expiry */
	/* an expiry beyond the timestamp range never comes: saturate */
	if (TIMESTAMP_NOT_FINITE(event_time))
		expiry = event_time;
	else if (pg_add_s64_overflow(event_time, delay, &expiry) ||
			 !IS_VALID_TIMESTAMP(expiry))
		TIMESTAMP_NOEND(expiry);
	dedup_insert(dd, key, isnull, hash, expiry);
	return false;
}

bool
stream_dedup_contains(StreamDedup *dd, Datum key, bool isnull)
{
	uint32		hash;

	if (!isnull && dd->typlen == -1)
		key = PointerGetDatum(PG_DETOAST_DATUM_PACKED(key));
	return dedup_lookup(dd, key, isnull, &hash) != NULL;
}

void
stream_dedup_foreach(StreamDedup *dd, StreamDedupVisitor visit, void *arg)
{
	int64		i;

	for (i = 0; i < dd->count; i++)
	{
		DedupEntry *e = dd->heap[i].entry;
		Datum		key = e->key;

		CHECK_FOR_INTERRUPTS();
		if (dd->rec != NULL && !e->isnull)
		{
			Datum	   *values = (Datum *) DatumGetPointer(e->key);

			key = HeapTupleGetDatum(heap_form_tuple(dd->rec->tupdesc, values,
													(bool *) (values + dd->rec->tupdesc->natts)));
		}
		visit(key, e->isnull, dd->heap[i].expiry, arg);
	}
}

void
stream_dedup_restore(StreamDedup *dd, Datum key, bool isnull, TimestampTz expiry)
{
	uint32		hash;

	if (!isnull && dd->typlen == -1)
		key = PointerGetDatum(PG_DETOAST_DATUM_PACKED(key));
	/* a key held already keeps its expiry: the first occurrence counts */
	if (dedup_lookup(dd, key, isnull, &hash) == NULL)
		dedup_insert(dd, key, isnull, hash, expiry);
}

typedef struct DupState
{
	int64		nextpos;
	StreamClock clock;
	StreamDedup *dedup;
} DupState;

/*
 * is_duplicate(key, event_time, delay) OVER (ORDER BY arrival): true when
 * a row with the same key was kept earlier and the watermark (of the rows
 * before this one) is still below its event time + delay.  A late row is
 * not a duplicate by itself; compose with is_late().  A late row (the
 * is_late() test: event_time <= that watermark) is looked up but never
 * remembered: Spark drops late rows before the dedup state, so with
 * WHERE NOT late AND NOT dup a late row's key must not turn a later
 * on-time row of the same key into a duplicate.  NULL event_time or delay
 * gives NULL and the row is not remembered.
 */
Datum
se_is_duplicate(PG_FUNCTION_ARGS)
{
	WindowObject winobj = PG_WINDOW_OBJECT();
	DupState   *st;
	Datum		key;
	Datum		et;
	Datum		delay;
	bool		keynull;
	bool		etnull;
	bool		delaynull;
	int64		delay_us;
	TimestampTz wm;
	bool		dup;
	bool		late = false;

	stream_window_check(fcinfo, "is_duplicate()", false);
	st = (DupState *) WinGetPartitionLocalMemory(winobj, sizeof(DupState));
	if (st->dedup == NULL)
	{
		Oid			keytype = get_fn_expr_argtype(fcinfo->flinfo, 0);

		if (!OidIsValid(keytype))
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("could not determine the type of the is_duplicate() key")));
		/* the key store goes away with the partition's memory */
		st->dedup = stream_dedup_create(GetMemoryChunkContext(st), keytype,
										PG_GET_COLLATION());
	}
	stream_window_clock_step(winobj, &st->clock, &st->nextpos, "is_duplicate()");

	key = WinGetFuncArgCurrent(winobj, 0, &keynull);
	et = WinGetFuncArgCurrent(winobj, 1, &etnull);
	delay = WinGetFuncArgCurrent(winobj, 2, &delaynull);
	if (etnull)
		PG_RETURN_NULL();
	if (delaynull)
	{
		stream_clock_observe(&st->clock, DatumGetTimestampTz(et));
		PG_RETURN_NULL();
	}
	delay_us = stream_interval_usecs(DatumGetIntervalP(delay), "watermark delay", true);
	if (stream_clock_watermark(&st->clock, delay_us, &wm))
	{
		stream_dedup_evict(st->dedup, wm);
		late = DatumGetTimestampTz(et) <= wm;
	}
	if (late)
		dup = stream_dedup_contains(st->dedup, key, keynull);
	else
		dup = stream_dedup_check(st->dedup, key, keynull, DatumGetTimestampTz(et), delay_us);
	stream_clock_observe(&st->clock, DatumGetTimestampTz(et));
	PG_RETURN_BOOL(dup);
}
