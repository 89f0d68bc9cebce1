/*
 * hll.c
 *		streamext.approx_count_distinct(): HyperLogLog distinct counts.
 *
 * Values are hashed with their type's extended (64-bit) hash opclass
 * function, so any hashable type works, records included; NULLs are not
 * counted, as in count(DISTINCT).  The precision follows Spark's rule for
 * a relative standard deviation rsd: p = ceil(2 * log2(1.106 / rsd)), i.e.
 * 2^p one-byte registers (p = 14, at most 16 KiB, for the default 0.01).  The
 * estimate is Ertl's improved raw estimator ("New cardinality estimation
 * algorithms for HyperLogLog sketches", 2017), which needs no empirical
 * bias tables and is unbiased from zero to 2^64 distinct values.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "stream/sketch.h"

PG_FUNCTION_INFO_V1(se_hll_sfunc);
PG_FUNCTION_INFO_V1(se_hll_final);
PG_FUNCTION_INFO_V1(se_hll_result);

#define HLL_MIN_P 4
#define HLL_MAX_P 18
#define HLL_DEFAULT_RSD 0.01

/*
 * Small sets keep only their non-zero registers, in an open-addressing table
 * of (index + 1) << 8 | value entries: a group with a few distinct values
 * costs a few bytes instead of 2^p (GROUP BY device with thousands of groups).
 * Past 2^p / 16 entries the sketch turns dense.  Both forms give the same
 * registers, hence the same estimate.
 */
struct HllSketch
{
	Sketch		hdr;
	int			p;
	int			nsparse;		/* entries in sparse (when regs == NULL) */
	int			sparsecap;		/* a power of two */
	uint32	   *sparse;
	uint8	   *regs;			/* 2^p registers once dense */
};

#define HLL_M(h) ((uint32) 1 << (h)->p)
#define HLL_SPARSE_MAX(h) (HLL_M(h) / 16)

static HllSketch *
hll_create(int p, MemoryContext cxt)
{
	HllSketch  *h = MemoryContextAllocZero(cxt, sizeof(HllSketch));

	h->hdr.kind = SKETCH_HLL;
	h->p = p;
	h->sparsecap = 16;
	h->sparse = MemoryContextAllocZero(cxt, sizeof(uint32) * h->sparsecap);
	return h;
}

static void
hll_densify(HllSketch *h)
{
	int			i;

	h->regs = MemoryContextAllocZero(GetMemoryChunkContext(h), HLL_M(h));
	for (i = 0; i < h->sparsecap; i++)
		if (h->sparse[i] != 0)
			h->regs[(h->sparse[i] >> 8) - 1] = (uint8) (h->sparse[i] & 0xff);
	pfree(h->sparse);
	h->sparse = NULL;
	h->nsparse = 0;
}

static void hll_set(HllSketch *h, uint32 idx, uint8 rho);

static void
hll_grow_sparse(HllSketch *h)
{
	uint32	   *old = h->sparse;
	int			oldcap = h->sparsecap;
	int			i;

	h->sparsecap *= 2;
	h->sparse = MemoryContextAllocZero(GetMemoryChunkContext(h),
									   sizeof(uint32) * h->sparsecap);
	h->nsparse = 0;
	for (i = 0; i < oldcap; i++)
		if (old[i] != 0)
			hll_set(h, (old[i] >> 8) - 1, (uint8) (old[i] & 0xff));
	pfree(old);
}

/* register idx = max(register idx, rho) */
static void
hll_set(HllSketch *h, uint32 idx, uint8 rho)
{
	uint32		mask;
	uint32		slot;

	if (h->regs != NULL)
	{
		if (rho > h->regs[idx])
			h->regs[idx] = rho;
		return;
	}
	mask = (uint32) h->sparsecap - 1;
	for (slot = (idx * 2654435761U) & mask;; slot = (slot + 1) & mask)
	{
		uint32		e = h->sparse[slot];

		if (e == 0)
			break;
		if ((e >> 8) - 1 == idx)
		{
			if (rho > (e & 0xff))
				h->sparse[slot] = ((idx + 1) << 8) | rho;
			return;
		}
	}
	h->sparse[slot] = ((idx + 1) << 8) | rho;
	h->nsparse++;
	if (h->nsparse > HLL_SPARSE_MAX(h))
		hll_densify(h);
	else if (h->nsparse * 2 > h->sparsecap)
		hll_grow_sparse(h);
}

/* the non-zero registers, by index: returns their number */
static int
hll_entries(const HllSketch *h, uint32 **idx, uint8 **val)
{
	uint32		m = HLL_M(h);
	int			n = 0;
	uint32		i;

	if (h->regs == NULL)
	{
		uint8	   *dense = palloc0(m);

		/* via a scratch array, so the entries come out in index order */
		for (i = 0; i < (uint32) h->sparsecap; i++)
			if (h->sparse[i] != 0)
				dense[(h->sparse[i] >> 8) - 1] = (uint8) (h->sparse[i] & 0xff);
		*idx = palloc(sizeof(uint32) * Max(h->nsparse, 1));
		*val = palloc(Max(h->nsparse, 1));
		for (i = 0; i < m; i++)
			if (dense[i] != 0)
			{
				(*idx)[n] = i;
				(*val)[n++] = dense[i];
			}
		pfree(dense);
		return n;
	}
	*idx = palloc(sizeof(uint32) * m);
	*val = palloc(m);
	for (i = 0; i < m; i++)
		if (h->regs[i] != 0)
		{
			(*idx)[n] = i;
			(*val)[n++] = h->regs[i];
		}
	return n;
}

static int
hll_precision(double rsd)
{
	if (isnan(rsd) || rsd < 0.0025 || rsd > 0.25)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rel_error must be between 0.0025 and 0.25, got %g", rsd),
				 errhint("rel_error is the relative standard error of the estimate; 0.01 uses at most 16 KiB per group.")));
	return Max(HLL_MIN_P, (int) ceil(2.0 * log2(1.106 / rsd)));
}

/* murmur3's 64-bit finalizer: spreads weak hashes over all 64 bits */
static inline uint64
mix64(uint64 h)
{
	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

static inline void
hll_add_hash(HllSketch *h, uint64 hash)
{
	int			p = h->p;
	uint32		idx = (uint32) (hash >> (64 - p));

	/* a guard bit caps the count of leading zeros at 64 - p */
	uint64		w = (hash << p) | ((uint64) 1 << (p - 1));
	uint8		rho = (uint8) (64 - pg_leftmost_one_pos64(w));

	if (h->regs != NULL)
	{
		if (rho > h->regs[idx])
			h->regs[idx] = rho;
	}
	else
		hll_set(h, idx, rho);
}

HllSketch *
hll_copy(const HllSketch *src, MemoryContext cxt)
{
	HllSketch  *h = MemoryContextAlloc(cxt, sizeof(HllSketch));

	memcpy(h, src, sizeof(HllSketch));
	if (src->regs != NULL)
	{
		h->regs = MemoryContextAlloc(cxt, HLL_M(src));
		memcpy(h->regs, src->regs, HLL_M(src));
	}
	else
	{
		h->sparse = MemoryContextAlloc(cxt, sizeof(uint32) * src->sparsecap);
		memcpy(h->sparse, src->sparse, sizeof(uint32) * src->sparsecap);
	}
	return h;
}

/*
 * Fold a sketch to a lower precision: the bits that leave the index move
 * in front of the remaining hash bits, so the register's rank grows by
 * their width when they are all zero.
 */
static HllSketch *
hll_reduce(const HllSketch *src, int p, MemoryContext cxt)
{
	HllSketch  *h = hll_create(p, cxt);
	int			shift = src->p - p;
	uint32	   *idx;
	uint8	   *val;
	int			n = hll_entries(src, &idx, &val);
	int			i;

	for (i = 0; i < n; i++)
	{
		uint32		low = idx[i] & (((uint32) 1 << shift) - 1);
		uint8		rho;

		if (low != 0)
			rho = (uint8) (shift - pg_leftmost_one_pos32(low));
		else
			rho = (uint8) (shift + val[i]);
		hll_set(h, idx[i] >> shift, rho);
	}
	return h;
}

HllSketch *
hll_merge(HllSketch *dst, const HllSketch *src, MemoryContext cxt)
{
	uint32	   *idx;
	uint8	   *val;
	int			n;
	int			i;

	if (src->p < dst->p)
		dst = hll_reduce(dst, src->p, cxt);
	else if (src->p > dst->p)
		src = hll_reduce(src, dst->p, CurrentMemoryContext);
	if (src->regs != NULL)
	{
		uint32		m = HLL_M(dst);
		uint32		j;

		if (dst->regs == NULL)
			hll_densify(dst);
		for (j = 0; j < m; j++)
			if (src->regs[j] > dst->regs[j])
				dst->regs[j] = src->regs[j];
		return dst;
	}
	n = hll_entries(src, &idx, &val);
	for (i = 0; i < n; i++)
		hll_set(dst, idx[i], val[i]);
	return dst;
}

static double
hll_sigma(double x)
{
	double		y = 1.0;
	double		z = x;
	double		zprev;

	if (x == 1.0)
		return INFINITY;
	do
	{
		x *= x;
		zprev = z;
		z += x * y;
		y += y;
	} while (z != zprev);
	return z;
}

static double
hll_tau(double x)
{
	double		y = 1.0;
	double		z;
	double		zprev;

	if (x == 0.0 || x == 1.0)
		return 0.0;
	z = 1.0 - x;
	do
	{
		x = sqrt(x);
		zprev = z;
		y *= 0.5;
		z -= pow(1.0 - x, 2) * y;
	} while (z != zprev);
	return z / 3.0;
}

double
hll_estimate(const HllSketch *h)
{
	int			q = 64 - h->p;
	double		m = (double) HLL_M(h);
	int			counts[66] = {0};
	uint32		i;
	double		z;
	int			k;

	if (h->regs != NULL)
	{
		for (i = 0; i < (uint32) m; i++)
			counts[h->regs[i]]++;
	}
	else
	{
		counts[0] = (int) m - h->nsparse;
		for (i = 0; i < (uint32) h->sparsecap; i++)
			if (h->sparse[i] != 0)
				counts[h->sparse[i] & 0xff]++;
	}
	if (counts[0] == (int) m)
		return 0.0;
	z = m * hll_tau((m - counts[q + 1]) / m);
	for (k = q; k >= 1; k--)
		z = 0.5 * (z + counts[k]);
	z += m * hll_sigma(counts[0] / m);
	return (m / (2.0 * log(2.0))) * m / z;
}

/*
 * Stored form: p, an encoding byte, then either all 2^p registers (dense)
 * or the count of non-zero registers and (index, value) pairs (sparse),
 * whichever is smaller: small groups store a few bytes.
 */
void
hll_serialize(const HllSketch *h, StringInfo buf)
{
	uint32		m = HLL_M(h);
	uint32	   *idx;
	uint8	   *val;
	uint32		n = (uint32) hll_entries(h, &idx, &val);
	uint32		i;
	uint8		p = (uint8) h->p;
	uint8		enc = ((Size) n * 5 + 4 < m) ? 1 : 0;

	sketch_put(buf, &p, 1);
	sketch_put(buf, &enc, 1);
	if (enc == 0)
	{
		uint8	   *dense = palloc0(m);

		for (i = 0; i < n; i++)
			dense[idx[i]] = val[i];
		sketch_put(buf, dense, m);
		return;
	}
	sketch_put(buf, &n, sizeof(n));
	for (i = 0; i < n; i++)
	{
		sketch_put(buf, &idx[i], sizeof(uint32));
		sketch_put(buf, &val[i], 1);
	}
}

HllSketch *
hll_deserialize(SketchReader *r, MemoryContext cxt)
{
	uint8		p;
	uint8		enc;
	HllSketch  *h;
	uint32		m;
	uint32		i;

	sketch_read(r, &p, 1);
	sketch_read(r, &enc, 1);
	if (p < HLL_MIN_P || p > HLL_MAX_P || enc > 1)
		sketch_corrupt("Bad HyperLogLog precision or encoding.");
	h = hll_create(p, cxt);
	m = (uint32) 1 << p;
	if (enc == 0)
	{
		uint8	   *dense = palloc(m);

		sketch_read(r, dense, m);
		for (i = 0; i < m; i++)
		{
			if (dense[i] > 64 - p + 1)
				sketch_corrupt("HyperLogLog register value out of range.");
			if (dense[i] != 0)
				hll_set(h, i, dense[i]);
		}
	}
	else
	{
		uint32		n;

		sketch_read(r, &n, sizeof(n));
		if (n > m)
			sketch_corrupt("Too many HyperLogLog registers.");
		for (i = 0; i < n; i++)
		{
			uint32		idx;
			uint8		v;

			sketch_read(r, &idx, sizeof(idx));
			sketch_read(r, &v, 1);
			if (idx >= m)
				sketch_corrupt("HyperLogLog register index out of range.");
			if (v > 64 - p + 1)
				sketch_corrupt("HyperLogLog register value out of range.");
			if (v != 0)
				hll_set(h, idx, v);
		}
	}
	return h;
}

typedef struct HllHashCache
{
	Oid			type;
	int16		typlen;
	FmgrInfo	hash;
} HllHashCache;

/*
 * approx_count_distinct(value anyelement [, rel_error float8]) transition:
 * the precision comes from the first row's rel_error.
 */
Datum
se_hll_sfunc(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = sketch_agg_context(fcinfo, "approx_count_distinct()");
	HllSketch  *h = PG_ARGISNULL(0) ? NULL : (HllSketch *) PG_GETARG_POINTER(0);
	HllHashCache *hc = (HllHashCache *) fcinfo->flinfo->fn_extra;
	Datum		value;
	uint64		hash;

	if (PG_ARGISNULL(1))
	{
		if (h == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(h);
	}
	if (h == NULL)
	{
		double		rsd = HLL_DEFAULT_RSD;

		if (PG_NARGS() > 2)
		{
			if (PG_ARGISNULL(2))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("rel_error must not be null")));
			rsd = PG_GETARG_FLOAT8(2);
		}
		h = hll_create(hll_precision(rsd), cxt);
	}
	if (hc == NULL)
	{
		Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 1);
		TypeCacheEntry *typentry;
		Oid			hashproc;
		bool		byval;

		if (!OidIsValid(type))
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("could not determine the type of the approx_count_distinct() argument")));
		typentry = lookup_type_cache(type, TYPECACHE_HASH_EXTENDED_PROC_FINFO);
		hashproc = typentry->hash_extended_proc_finfo.fn_oid;
		/* records: the type cache cannot vouch for their columns, the hash checks */
		if (!OidIsValid(hashproc) && type_is_rowtype(type))
			hashproc = F_HASH_RECORD_EXTENDED;
		if (!OidIsValid(hashproc))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("could not identify an extended hash function for type %s",
							format_type_be(type)),
					 errhint("approx_count_distinct() needs a type with a hash operator class; cast the value to text.")));
		hc = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(HllHashCache));
		hc->type = type;
		get_typlenbyval(type, &hc->typlen, &byval);
		fmgr_info_cxt(hashproc, &hc->hash, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = hc;
	}
	value = PG_GETARG_DATUM(1);
	hash = DatumGetUInt64(FunctionCall2Coll(&hc->hash, PG_GET_COLLATION(),
											value, UInt64GetDatum(0)));
	hll_add_hash(h, mix64(hash));
	PG_RETURN_POINTER(h);
}

/* final: the estimate, 0 when no row had a value */
Datum
se_hll_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_INT64(0);
	PG_RETURN_INT64((int64) llround(hll_estimate((HllSketch *) PG_GETARG_POINTER(0))));
}

/* approx_count_distinct_result(state bytea): the estimate of a stored state */
Datum
se_hll_result(PG_FUNCTION_ARGS)
{
	Sketch	   *s = sketch_from_bytea(PG_GETARG_BYTEA_PP(0), CurrentMemoryContext);

	if (s->kind != SKETCH_HLL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("state is a percentile state, not a distinct-count state"),
				 errhint("Use approx_percentile_result() for states made by approx_percentile_state().")));
	PG_RETURN_INT64((int64) llround(hll_estimate((HllSketch *) s)));
}
