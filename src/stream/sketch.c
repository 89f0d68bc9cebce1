/*
 * sketch.c
 *		What the approximate aggregates share: the combine, serialize and
 *		deserialize support functions (parallel aggregation), the stored
 *		byte format, and streamext.approx_merge() over stored states.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "stream/sketch.h"

PG_FUNCTION_INFO_V1(se_sketch_combine);
PG_FUNCTION_INFO_V1(se_sketch_serial);
PG_FUNCTION_INFO_V1(se_sketch_deserial);
PG_FUNCTION_INFO_V1(se_approx_merge_sfunc);

void
sketch_corrupt(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid streamext sketch state"),
			 errdetail("%s", detail),
			 errhint("Pass a value made by approx_count_distinct_state(), approx_percentile_state() or approx_merge().")));
}

void
sketch_read(SketchReader *r, void *dst, Size n)
{
	if (n > r->len - r->pos)
		sketch_corrupt("The state is truncated.");
	memcpy(dst, r->data + r->pos, n);
	r->pos += n;
}

void
sketch_put(StringInfo buf, const void *src, Size n)
{
	appendBinaryStringInfo(buf, (const char *) src, (int) n);
}

Sketch *
sketch_from_bytea(bytea *b, MemoryContext cxt)
{
	SketchReader r;
	uint32		magic;
	uint8		version;
	uint8		kind;
	Sketch	   *s;

	r.data = VARDATA_ANY(b);
	r.len = VARSIZE_ANY_EXHDR(b);
	r.pos = 0;
	sketch_read(&r, &magic, sizeof(magic));
	sketch_read(&r, &version, 1);
	sketch_read(&r, &kind, 1);
	if (magic != SKETCH_MAGIC)
		sketch_corrupt("The value does not start with a sketch header.");
	if (version != SKETCH_VERSION)
		sketch_corrupt("The state was written by an unknown version of streamext.");
	if (kind == SKETCH_HLL)
		s = (Sketch *) hll_deserialize(&r, cxt);
	else if (kind == SKETCH_TDIGEST)
		s = (Sketch *) tdigest_deserialize(&r, cxt);
	else
		sketch_corrupt("Unknown sketch kind.");
	if (r.pos != r.len)
		sketch_corrupt("The state has trailing bytes.");
	return s;
}

bytea *
sketch_to_bytea(Sketch *s)
{
	StringInfoData buf;
	uint32		magic = SKETCH_MAGIC;
	uint8		version = SKETCH_VERSION;
	uint8		kind = (uint8) s->kind;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	sketch_put(&buf, &magic, sizeof(magic));
	sketch_put(&buf, &version, 1);
	sketch_put(&buf, &kind, 1);
	if (s->kind == SKETCH_HLL)
		hll_serialize((HllSketch *) s, &buf);
	else
		tdigest_serialize((TDigest *) s, &buf);
	SET_VARSIZE(buf.data, buf.len);
	return (bytea *) buf.data;
}

/* merge src into dst (NULL: a copy of src), allocating in cxt */
Sketch *
sketch_merge(Sketch *dst, Sketch *src, MemoryContext cxt)
{
	if (src == NULL)
		return dst;
	if (dst != NULL && dst->kind != src->kind)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge a distinct-count state with a percentile state"),
				 errhint("approx_merge() combines states made by the same kind of aggregate.")));
	if (src->kind == SKETCH_HLL)
		return (Sketch *) (dst == NULL ? hll_copy((HllSketch *) src, cxt) :
						   hll_merge((HllSketch *) dst, (HllSketch *) src, cxt));
	return (Sketch *) (dst == NULL ? tdigest_copy((TDigest *) src, cxt) :
					   tdigest_merge((TDigest *) dst, (TDigest *) src, cxt));
}

MemoryContext
sketch_agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("%s called in non-aggregate context", fname)));
	return aggcxt;
}

Datum
se_sketch_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = sketch_agg_context(fcinfo, "sketch combine");
	Sketch	   *a = PG_ARGISNULL(0) ? NULL : (Sketch *) PG_GETARG_POINTER(0);
	Sketch	   *b = PG_ARGISNULL(1) ? NULL : (Sketch *) PG_GETARG_POINTER(1);
	Sketch	   *r = sketch_merge(a, b, cxt);

	if (r == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(r);
}

Datum
se_sketch_serial(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(sketch_to_bytea((Sketch *) PG_GETARG_POINTER(0)));
}

Datum
se_sketch_deserial(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = sketch_agg_context(fcinfo, "sketch deserialize");

	PG_RETURN_POINTER(sketch_from_bytea(PG_GETARG_BYTEA_PP(0), cxt));
}

/* approx_merge(state bytea): merge stored states of one kind into one */
Datum
se_approx_merge_sfunc(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = sketch_agg_context(fcinfo, "approx_merge()");
	Sketch	   *st = PG_ARGISNULL(0) ? NULL : (Sketch *) PG_GETARG_POINTER(0);
	Sketch	   *in;

	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	in = sketch_from_bytea(PG_GETARG_BYTEA_PP(1), CurrentMemoryContext);
	PG_RETURN_POINTER(sketch_merge(st, in, cxt));
}
