/*
 * percentile.c
 *		streamext.approx_percentile(): percentiles from a merging t-digest
 *		(Dunning and Ertl, "Computing extremely accurate quantiles using
 *		t-digests", 2019), with the k1 (arcsine) scale function.
 *
 * accuracy has Spark's meaning: 1/accuracy is the rank error allowed.  With
 * compression delta = pi * accuracy, no centroid spans more than
 * pi * sqrt(q (1 - q)) / delta <= 1 / accuracy of the ranks at quantile q,
 * and a result is interpolated inside one centroid, so its rank is off by
 * at most 1/accuracy of the rows; the tails are much more precise.  Two
 * single values only merge when 2/n <= 1/accuracy, so below 2 * accuracy
 * rows every centroid is a single value and the result is exact.  A result is the value at rank
 * ceil(fraction * n), like percentile_disc() and Spark's percentile_approx().
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "stream/sketch.h"

PG_FUNCTION_INFO_V1(se_tdigest_sfunc);
PG_FUNCTION_INFO_V1(se_tdigest_state_sfunc);
PG_FUNCTION_INFO_V1(se_tdigest_final);
PG_FUNCTION_INFO_V1(se_tdigest_final_array);
PG_FUNCTION_INFO_V1(se_tdigest_result);
PG_FUNCTION_INFO_V1(se_tdigest_result_array);

#define TD_DEFAULT_ACCURACY 10000
#define TD_MAX_ACCURACY 1000000

typedef struct Centroid
{
	double		mean;
	double		weight;
} Centroid;

struct TDigest
{
	Sketch		hdr;
	int32		accuracy;
	double		delta;			/* compression */
	double		total;			/* weight of the centroids */
	double		min;
	double		max;
	int			ncent;
	int			maxcent;
	Centroid   *cent;			/* sorted by mean */
	int			nbuf;
	int			maxbuf;
	double	   *buf;			/* values not merged yet */
	/* approx_percentile(): the requested fractions, from the first row */
	int			nfrac;
	bool		fracarray;
	double	   *frac;
};

static MemoryContext
td_cxt(TDigest *t)
{
	return GetMemoryChunkContext(t);
}

static TDigest *
td_create(int32 accuracy, MemoryContext cxt)
{
	TDigest    *t;

	if (accuracy < 1 || accuracy > TD_MAX_ACCURACY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("accuracy must be between 1 and %d, got %d", TD_MAX_ACCURACY, accuracy),
				 errhint("1/accuracy is the rank error allowed; memory per group grows with accuracy, up to about 100 bytes per unit.")));
	t = MemoryContextAllocZero(cxt, sizeof(TDigest));
	t->hdr.kind = SKETCH_TDIGEST;
	t->accuracy = accuracy;
	t->delta = M_PI * accuracy;
	t->min = INFINITY;
	t->max = -INFINITY;
	return t;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* k1 scale: k(q) = delta / (2 pi) * asin(2q - 1), and its inverse */
static inline double
td_k(const TDigest *t, double q)
{
	return t->delta / (2.0 * M_PI) * asin(2.0 * q - 1.0);
}

static inline double
td_q(const TDigest *t, double k)
{
	double		x = k * 2.0 * M_PI / t->delta;

	if (x >= M_PI / 2.0)
		return 1.0;
	return (sin(x) + 1.0) / 2.0;
}

/*
 * Merge the sorted items into new centroids, each as large as the scale
 * function allows at its quantile.
 */
static void
td_compress_items(TDigest *t, Centroid *items, int n)
{
	double		total = 0;
	double		q0 = 0;
	double		qlimit;
	Centroid	cur;
	int			out = 0;
	int			i;

	for (i = 0; i < n; i++)
		total += items[i].weight;
	if (n > t->maxcent)
	{
		t->maxcent = n;
		if (t->cent == NULL)
			t->cent = MemoryContextAlloc(td_cxt(t), sizeof(Centroid) * n);
		else
			t->cent = repalloc(t->cent, sizeof(Centroid) * n);
	}
	if (n == 0)
	{
		t->ncent = 0;
		t->total = 0;
		return;
	}
	qlimit = td_q(t, td_k(t, q0) + 1.0);
	cur = items[0];
	for (i = 1; i < n; i++)
	{
		double		q = q0 + (cur.weight + items[i].weight) / total;

		if (q <= qlimit)
		{
			cur.weight += items[i].weight;
			cur.mean += (items[i].mean - cur.mean) * items[i].weight / cur.weight;
		}
		else
		{
			t->cent[out++] = cur;
			q0 += cur.weight / total;
			qlimit = td_q(t, td_k(t, q0) + 1.0);
			cur = items[i];
		}
	}
	t->cent[out++] = cur;
	t->ncent = out;
	t->total = total;
}

/* merge the buffered values into the centroids */
static void
td_flush(TDigest *t)
{
	Centroid   *items;
	int			n = 0;
	int			i = 0;
	int			j = 0;

	if (t->nbuf == 0)
		return;
	qsort(t->buf, t->nbuf, sizeof(double), cmp_double);
	items = palloc(sizeof(Centroid) * (t->ncent + t->nbuf));
	while (i < t->ncent || j < t->nbuf)
	{
		if (j >= t->nbuf || (i < t->ncent && t->cent[i].mean <= t->buf[j]))
			items[n++] = t->cent[i++];
		else
		{
			items[n].mean = t->buf[j++];
			items[n++].weight = 1;
		}
	}
	t->nbuf = 0;
	td_compress_items(t, items, n);
	pfree(items);
}

static void
td_add(TDigest *t, double v)
{
	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("approx_percentile() cannot rank NaN"),
				 errhint("Filter out NaN values first.")));
	if (t->nbuf >= t->maxbuf)
	{
		/* the buffer grows with the data up to about one compression */
		int			limit = Max(64, (int) Min(t->delta, 1000000.0));

		if (t->maxbuf < limit)
		{
			t->maxbuf = t->maxbuf == 0 ? 16 : Min(limit, t->maxbuf * 2);
			if (t->buf == NULL)
				t->buf = MemoryContextAlloc(td_cxt(t), sizeof(double) * t->maxbuf);
			else
				t->buf = repalloc(t->buf, sizeof(double) * t->maxbuf);
		}
		else
			td_flush(t);
	}
	t->buf[t->nbuf++] = v;
	if (v < t->min)
		t->min = v;
	if (v > t->max)
		t->max = v;
}

TDigest *
tdigest_copy(TDigest *src, MemoryContext cxt)
{
	TDigest    *t;

	td_flush(src);
	t = td_create(src->accuracy, cxt);
	t->min = src->min;
	t->max = src->max;
	t->total = src->total;
	t->ncent = t->maxcent = src->ncent;
	if (src->ncent > 0)
	{
		t->cent = MemoryContextAlloc(cxt, sizeof(Centroid) * src->ncent);
		memcpy(t->cent, src->cent, sizeof(Centroid) * src->ncent);
	}
	if (src->nfrac > 0)
	{
		t->nfrac = src->nfrac;
		t->fracarray = src->fracarray;
		t->frac = MemoryContextAlloc(cxt, sizeof(double) * src->nfrac);
		memcpy(t->frac, src->frac, sizeof(double) * src->nfrac);
	}
	return t;
}

/* merge src into dst; the result keeps the lower accuracy of the two */
TDigest *
tdigest_merge(TDigest *dst, TDigest *src, MemoryContext cxt)
{
	Centroid   *items;
	int			n = 0;
	int			i = 0;
	int			j = 0;

	td_flush(dst);
	td_flush(src);
	if (src->accuracy < dst->accuracy)
	{
		dst->accuracy = src->accuracy;
		dst->delta = src->delta;
	}
	if (dst->nfrac == 0 && src->nfrac > 0)
	{
		dst->nfrac = src->nfrac;
		dst->fracarray = src->fracarray;
		dst->frac = MemoryContextAlloc(td_cxt(dst), sizeof(double) * src->nfrac);
		memcpy(dst->frac, src->frac, sizeof(double) * src->nfrac);
	}
	if (src->ncent == 0)
		return dst;
	items = palloc(sizeof(Centroid) * (dst->ncent + src->ncent));
	while (i < dst->ncent || j < src->ncent)
	{
		CHECK_FOR_INTERRUPTS();
		if (j >= src->ncent || (i < dst->ncent && dst->cent[i].mean <= src->cent[j].mean))
			items[n++] = dst->cent[i++];
		else
			items[n++] = src->cent[j++];
	}
	td_compress_items(dst, items, n);
	pfree(items);
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	return dst;
}

/* the value at rank ceil(fraction * n), interpolated between centroids */
static double
td_quantile(TDigest *t, double fraction)
{
	double		n;
	double		k;
	double		target;
	double		cum = 0;
	double		prevcenter;
	double		prevmean;
	int			i;

	td_flush(t);
	n = t->total;
	k = ceil(fraction * n);
	if (k < 1)
		k = 1;
	if (k >= n)
		return t->max;
	if (k == 1)
		return t->min;
	target = k - 0.5;			/* the middle of the k-th row's rank slot */
	prevcenter = 0.5;			/* the minimum sits in the first slot */
	prevmean = t->min;
	for (i = 0; i < t->ncent; i++)
	{
		double		center = cum + t->cent[i].weight / 2.0;

		if (target <= center)
		{
			if (target == center)
				return t->cent[i].mean;
			return prevmean + (target - prevcenter) / (center - prevcenter) *
				(t->cent[i].mean - prevmean);
		}
		prevcenter = center;
		prevmean = t->cent[i].mean;
		cum += t->cent[i].weight;
	}
	/* between the last centroid and the maximum, in the last slot */
	return prevmean + (target - prevcenter) / (n - 0.5 - prevcenter) *
		(t->max - prevmean);
}

static void
check_fraction(double f)
{
	if (isnan(f) || f < 0.0 || f > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("percentile fraction must be between 0 and 1, got %g", f),
				 errhint("0.5 is the median, 0.99 the 99th percentile.")));
}

/* the fractions of a float8[] argument, checked */
static double *
array_fractions(ArrayType *arr, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	double	   *out;
	int			i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("percentile fractions must be a one-dimensional array")));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, n);
	out = palloc(sizeof(double) * Max(*n, 1));
	for (i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("percentile fractions must not contain nulls")));
		out[i] = DatumGetFloat8(elems[i]);
		check_fraction(out[i]);
	}
	return out;
}

static int32
accuracy_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() <= argno)
		return TD_DEFAULT_ACCURACY;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("accuracy must not be null")));
	return PG_GETARG_INT32(argno);
}

/*
 * approx_percentile(value, fraction float8 | float8[] [, accuracy int])
 * transition; the fractions and accuracy come from the first row.
 */
Datum
se_tdigest_sfunc(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = sketch_agg_context(fcinfo, "approx_percentile()");
	TDigest    *t = PG_ARGISNULL(0) ? NULL : (TDigest *) PG_GETARG_POINTER(0);

	if (t == NULL)
	{
		bool		isarray = get_fn_expr_argtype(fcinfo->flinfo, 2) == FLOAT8ARRAYOID;
		MemoryContext old;

		if (PG_ARGISNULL(1))
			PG_RETURN_NULL();
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("percentile fraction must not be null")));
		t = td_create(accuracy_arg(fcinfo, 3), cxt);
		old = MemoryContextSwitchTo(cxt);
		t->fracarray = isarray;
		if (isarray)
			t->frac = array_fractions(PG_GETARG_ARRAYTYPE_P(2), &t->nfrac);
		else
		{
			t->nfrac = 1;
			t->frac = palloc(sizeof(double));
			t->frac[0] = PG_GETARG_FLOAT8(2);
			check_fraction(t->frac[0]);
		}
		MemoryContextSwitchTo(old);
	}
	if (!PG_ARGISNULL(1))
		td_add(t, PG_GETARG_FLOAT8(1));
	PG_RETURN_POINTER(t);
}

/* approx_percentile_state(value [, accuracy]) transition */
Datum
se_tdigest_state_sfunc(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = sketch_agg_context(fcinfo, "approx_percentile_state()");
	TDigest    *t = PG_ARGISNULL(0) ? NULL : (TDigest *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1))
	{
		if (t == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(t);
	}
	if (t == NULL)
		t = td_create(accuracy_arg(fcinfo, 2), cxt);
	td_add(t, PG_GETARG_FLOAT8(1));
	PG_RETURN_POINTER(t);
}

Datum
se_tdigest_final(PG_FUNCTION_ARGS)
{
	TDigest    *t;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = (TDigest *) PG_GETARG_POINTER(0);
	if (t->total + t->nbuf == 0 || t->nfrac < 1)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(td_quantile(t, t->frac[0]));
}

static ArrayType *
td_quantiles(TDigest *t, const double *frac, int nfrac)
{
	Datum	   *out = palloc(sizeof(Datum) * Max(nfrac, 1));
	int			i;

	for (i = 0; i < nfrac; i++)
		out[i] = Float8GetDatum(td_quantile(t, frac[i]));
	return construct_array(out, nfrac, FLOAT8OID, sizeof(float8),
						   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

Datum
se_tdigest_final_array(PG_FUNCTION_ARGS)
{
	TDigest    *t;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = (TDigest *) PG_GETARG_POINTER(0);
	if (t->total + t->nbuf == 0)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(td_quantiles(t, t->frac, t->nfrac));
}

static TDigest *
stored_digest(bytea *b)
{
	Sketch	   *s = sketch_from_bytea(b, CurrentMemoryContext);

	if (s->kind != SKETCH_TDIGEST)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("state is a distinct-count state, not a percentile state"),
				 errhint("Use approx_count_distinct_result() for states made by approx_count_distinct_state().")));
	return (TDigest *) s;
}

/* approx_percentile_result(state bytea, fraction float8) */
Datum
se_tdigest_result(PG_FUNCTION_ARGS)
{
	TDigest    *t = stored_digest(PG_GETARG_BYTEA_PP(0));
	double		f = PG_GETARG_FLOAT8(1);

	check_fraction(f);
	if (t->total == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(td_quantile(t, f));
}

/* approx_percentile_result(state bytea, fractions float8[]) */
Datum
se_tdigest_result_array(PG_FUNCTION_ARGS)
{
	TDigest    *t = stored_digest(PG_GETARG_BYTEA_PP(0));
	int			n;
	double	   *f = array_fractions(PG_GETARG_ARRAYTYPE_P(1), &n);

	if (t->total == 0)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(td_quantiles(t, f, n));
}

/*
 * Stored form: accuracy, min, max, the centroid count and (mean, weight)
 * pairs, then the requested fractions (none for approx_percentile_state).
 */
void
tdigest_serialize(TDigest *t, StringInfo buf)
{
	uint8		isarray = t->fracarray ? 1 : 0;

	td_flush(t);
	sketch_put(buf, &t->accuracy, sizeof(int32));
	sketch_put(buf, &t->min, sizeof(double));
	sketch_put(buf, &t->max, sizeof(double));
	sketch_put(buf, &t->ncent, sizeof(int));
	if (t->ncent > 0)
		sketch_put(buf, t->cent, sizeof(Centroid) * t->ncent);
	sketch_put(buf, &t->nfrac, sizeof(int));
	sketch_put(buf, &isarray, 1);
	if (t->nfrac > 0)
		sketch_put(buf, t->frac, sizeof(double) * t->nfrac);
}

TDigest *
tdigest_deserialize(SketchReader *r, MemoryContext cxt)
{
	int32		accuracy;
	TDigest    *t;
	int			n;
	int			i;
	uint8		isarray;

	sketch_read(r, &accuracy, sizeof(int32));
	if (accuracy < 1 || accuracy > TD_MAX_ACCURACY)
		sketch_corrupt("Bad percentile accuracy.");
	t = td_create(accuracy, cxt);
	sketch_read(r, &t->min, sizeof(double));
	sketch_read(r, &t->max, sizeof(double));
	sketch_read(r, &n, sizeof(int));
	if (n < 0 || (Size) n > (r->len - r->pos) / sizeof(Centroid))
		sketch_corrupt("Bad centroid count.");
	if (n > 0)
	{
		t->cent = MemoryContextAlloc(cxt, sizeof(Centroid) * n);
		sketch_read(r, t->cent, sizeof(Centroid) * n);
	}
	t->ncent = t->maxcent = n;
	for (i = 0; i < n; i++)
	{
		Centroid   *c = &t->cent[i];

		if (!isfinite(c->mean) || !isfinite(c->weight) || c->weight < 1 ||
			(i > 0 && c->mean < t->cent[i - 1].mean) ||
			c->mean < t->min || c->mean > t->max)
			sketch_corrupt("Bad centroid.");
		t->total += c->weight;
	}
	sketch_read(r, &t->nfrac, sizeof(int));
	sketch_read(r, &isarray, 1);
	if (t->nfrac < 0 || (Size) t->nfrac > (r->len - r->pos) / sizeof(double) || isarray > 1)
		sketch_corrupt("Bad percentile fractions.");
	t->fracarray = isarray == 1;
	if (t->nfrac > 0)
	{
		t->frac = MemoryContextAlloc(cxt, sizeof(double) * t->nfrac);
		sketch_read(r, t->frac, sizeof(double) * t->nfrac);
		for (i = 0; i < t->nfrac; i++)
			if (isnan(t->frac[i]) || t->frac[i] < 0 || t->frac[i] > 1)
				sketch_corrupt("Bad percentile fraction.");
	}
	return t;
}
