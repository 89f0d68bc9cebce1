/*
 * columnar_vagg_agg.c
 *		The aggregates of the vectorized aggregation: which ones it supports,
 *		their per-group accumulation over one column vector, and their final
 *		values (or the partial states a Finalize Aggregate combines).
 *
 * Every aggregate gives what PostgreSQL's own gives, bit for bit: integer
 * sums are exact (sum(int8) and numeric sums in 128 bits), sum(float) adds
 * in the same precision and order as float4pl/float8pl, avg(float) follows
 * float8_accum (Youngs-Cramer, whose Sxx can overflow and then raise the
 * same error), min/max keep the same one of two equal values (the newer,
 * as the larger/smaller functions do), and overflow errors are the same.
 * Numeric values are read from their stored form (the on-disk numeric
 * format): those whose scaled value fits in 64 bits are summed as integers
 * at the group's scale, the others (NaN, infinities, huge, or a larger scale
 * than the group's) through numeric_add.  The final values and partial
 * states are in columnar_vagg_final.c.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "columnar/columnar_vagg.h"
#include "common/int.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#define POW10_18 INT64CONST(1000000000000000000)


/* Is aggfnoid one of ours?  Its kind and argument type if so. */
bool
vagg_supported(Oid aggfnoid, VaggKind *kind, Oid *argtype)
{
	switch (aggfnoid)
	{
#define K(f, k, t) case f: *kind = k; *argtype = t; return true
			K(F_COUNT_, VAGG_COUNT_STAR, InvalidOid);
			K(F_COUNT_ANY, VAGG_COUNT, InvalidOid);
			K(F_SUM_INT2, VAGG_SUM, INT2OID);
			K(F_SUM_INT4, VAGG_SUM, INT4OID);
			K(F_SUM_INT8, VAGG_SUM, INT8OID);
			K(F_SUM_FLOAT4, VAGG_SUM, FLOAT4OID);
			K(F_SUM_FLOAT8, VAGG_SUM, FLOAT8OID);
			K(F_SUM_NUMERIC, VAGG_SUM, NUMERICOID);
			K(F_AVG_INT2, VAGG_AVG, INT2OID);
			K(F_AVG_INT4, VAGG_AVG, INT4OID);
			K(F_AVG_INT8, VAGG_AVG, INT8OID);
			K(F_AVG_FLOAT4, VAGG_AVG, FLOAT4OID);
			K(F_AVG_FLOAT8, VAGG_AVG, FLOAT8OID);
			K(F_AVG_NUMERIC, VAGG_AVG, NUMERICOID);
			K(F_MIN_INT2, VAGG_MIN, INT2OID);
			K(F_MIN_INT4, VAGG_MIN, INT4OID);
			K(F_MIN_INT8, VAGG_MIN, INT8OID);
			K(F_MIN_FLOAT4, VAGG_MIN, FLOAT4OID);
			K(F_MIN_FLOAT8, VAGG_MIN, FLOAT8OID);
			K(F_MIN_NUMERIC, VAGG_MIN, NUMERICOID);
			K(F_MIN_DATE, VAGG_MIN, DATEOID);
			K(F_MIN_TIMESTAMP, VAGG_MIN, TIMESTAMPOID);
			K(F_MIN_TIMESTAMPTZ, VAGG_MIN, TIMESTAMPTZOID);
			K(F_MIN_TEXT, VAGG_MIN, TEXTOID);
			K(F_MAX_INT2, VAGG_MAX, INT2OID);
			K(F_MAX_INT4, VAGG_MAX, INT4OID);
			K(F_MAX_INT8, VAGG_MAX, INT8OID);
			K(F_MAX_FLOAT4, VAGG_MAX, FLOAT4OID);
			K(F_MAX_FLOAT8, VAGG_MAX, FLOAT8OID);
			K(F_MAX_NUMERIC, VAGG_MAX, NUMERICOID);
			K(F_MAX_DATE, VAGG_MAX, DATEOID);
			K(F_MAX_TIMESTAMP, VAGG_MAX, TIMESTAMPOID);
			K(F_MAX_TIMESTAMPTZ, VAGG_MAX, TIMESTAMPTZOID);
			K(F_MAX_TEXT, VAGG_MAX, TEXTOID);
#undef K
		default:
			return false;
	}
}

void
vagg_agg_setup(VaggAgg *agg)
{
	if (agg->kind == VAGG_MIN || agg->kind == VAGG_MAX)
	{
		get_typlenbyval(agg->argtype, &agg->typlen, &agg->typbyval);
		if (agg->argtype == NUMERICOID)
			fmgr_info(F_NUMERIC_CMP, &agg->cmp);
		else if (agg->argtype == TEXTOID)
			fmgr_info(F_BTTEXTCMP, &agg->cmp);
	}
}

void
vagg_state_init(VaggState *st)
{
	memset(st, 0, sizeof(VaggState));
}

/* ---- numeric in its stored form ---- */

#define NUM_SIGN_MASK	0xC000
#define NUM_NEG			0x4000
#define NUM_SHORT		0x8000
#define NUM_SPECIAL		0xC000
#define NUM_SHORT_SIGN	0x2000
#define NUM_SHORT_DSCALE_MASK 0x1F80
#define NUM_SHORT_DSCALE_SHIFT 7
#define NUM_SHORT_WEIGHT_SIGN 0x0040
#define NUM_SHORT_WEIGHT_MASK 0x003F
#define NUM_DSCALE_MASK 0x3FFF

static const int64 pow10000_tab[5] = {
	1, 10000, 100000000, INT64CONST(1000000000000), INT64CONST(10000000000000000)
};

/*
 * The value of a numeric in units of 10000^-frac4, where frac4 is the number
 * of base-10000 digits its display scale needs, as an int64; false when it
 * is special or does not fit (|v| >= 10^18).  Only a multiplication: its
 * stored digits past the display scale are zero, so they end at or before
 * the last unit.
 */
static pg_attribute_always_inline bool
numeric_units(Datum d, int64 *value, int *frac4, int *dscale)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	const char *p;
	Size		len;
	uint16		head;
	int			weight;
	bool		neg;
	int			ndigits;
	int			e;
	uint64		acc = 0;
	int			i;

	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		return false;			/* compressed or external: the slow path detoasts */
	p = VARDATA_ANY(v);
	len = VARSIZE_ANY_EXHDR(v);
	if (len < sizeof(uint16))
		return false;
	memcpy(&head, p, sizeof(uint16));
	if ((head & NUM_SIGN_MASK) == NUM_SPECIAL)
		return false;
	if ((head & NUM_SIGN_MASK) == NUM_SHORT)
	{
		neg = (head & NUM_SHORT_SIGN) != 0;
		*dscale = (head & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		weight = ((head & NUM_SHORT_WEIGHT_SIGN) ? ~NUM_SHORT_WEIGHT_MASK : 0) |
			(head & NUM_SHORT_WEIGHT_MASK);
		p += sizeof(uint16);
		len -= sizeof(uint16);
	}
	else
	{
		int16		w;

		if (len < 2 * sizeof(uint16))
			return false;
		neg = (head & NUM_SIGN_MASK) == NUM_NEG;
		*dscale = head & NUM_DSCALE_MASK;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		weight = w;
		p += 2 * sizeof(uint16);
		len -= 2 * sizeof(uint16);
	}
	ndigits = (int) (len / sizeof(int16));
	*frac4 = (*dscale + 3) / 4;
	/* up to 16 significant digits: the digits fit in 64 bits */
	if (ndigits > 4 || *frac4 > 4)
		return false;
	if (ndigits == 0)
	{
		*value = 0;
		return true;
	}
	for (i = 0; i < ndigits; i++)
	{
		int16		dig;

		memcpy(&dig, p + i * sizeof(int16), sizeof(int16));
		acc = acc * 10000 + (uint64) dig;
	}
	/* value = acc * 10000^(weight - ndigits + 1) = acc * 10000^e units */
	e = weight - ndigits + 1 + *frac4;
	if (e < 0 || e > 4 || acc >= (uint64) (POW10_18 / pow10000_tab[e]))
		return false;
	acc *= (uint64) pow10000_tab[e];
	*value = neg ? -(int64) acc : (int64) acc;
	return true;
}

/* An int128 at a scale as a numeric, through its decimal text. */
Datum
vagg_int128_to_numeric(int128 v, int scale)
{
	char		buf[64];
	char		out[72];
	int			n = 0;
	bool		neg = v < 0;
	uint128		u = neg ? -(uint128) v : (uint128) v;
	int			o = 0;
	int			i;

	do
	{
		buf[n++] = '0' + (int) (u % 10);
		u /= 10;
	} while (u > 0);
	while (n <= scale)
		buf[n++] = '0';
	if (neg)
		out[o++] = '-';
	for (i = n - 1; i >= 0; i--)
	{
		out[o++] = buf[i];
		if (i == scale && scale > 0)
			out[o++] = '.';
	}
	out[o] = '\0';
	return DirectFunctionCall3(numeric_in, CStringGetDatum(out),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static VaggNumExtra *
num_extra(VaggState *st, MemoryContext groupcxt)
{
	if (st->u.n.x == NULL)
		st->u.n.x = MemoryContextAllocZero(groupcxt, sizeof(VaggNumExtra));
	return st->u.n.x;
}

static void
numeric_add_slow(VaggState *st, Datum d, MemoryContext groupcxt)
{
	VaggNumExtra *x = num_extra(st, groupcxt);
	MemoryContext old = MemoryContextSwitchTo(groupcxt);
	Datum		v = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));

	if (x->has_slow)
	{
		Datum		prev = x->slow;

		x->slow = DirectFunctionCall2(numeric_add, prev, v);
		pfree(DatumGetPointer(prev));
		pfree(DatumGetPointer(v));
	}
	else
		x->slow = v;
	x->has_slow = true;
	MemoryContextSwitchTo(old);
}

static inline void
note_scale(VaggState *st, int scale)
{
	/* as do_numeric_accum tracks it (partial states carry it) */
	if (scale > st->u.n.maxscale)
	{
		st->u.n.maxscale = scale;
		st->u.n.maxscalecount = 1;
	}
	else if (scale == st->u.n.maxscale)
		st->u.n.maxscalecount++;
}

static inline void
vnumeric_accum(VaggState *st, Datum d, MemoryContext groupcxt)
{
	int64		v;
	int			frac4;
	int			dscale;
	Numeric		n;

	if (numeric_units(d, &v, &frac4, &dscale))
	{
		st->count++;
		note_scale(st, dscale);
		if (!st->u.n.started)
		{
			st->u.n.scale = frac4;
			st->u.n.started = true;
		}
		if (frac4 == st->u.n.scale)
		{
			st->u.n.wsum += v;
			st->u.n.fastdscale = Max(st->u.n.fastdscale, dscale);
			return;
		}
		if (frac4 < st->u.n.scale &&
			(v < 0 ? -v : v) < POW10_18 / pow10000_tab[st->u.n.scale - frac4])
		{
			/* every term below 10^18: 10^20 of them fit in 128 bits */
			st->u.n.wsum += v * pow10000_tab[st->u.n.scale - frac4];
			st->u.n.fastdscale = Max(st->u.n.fastdscale, dscale);
			return;
		}
		numeric_add_slow(st, d, groupcxt);
		return;
	}
	n = DatumGetNumeric(d);
	/* NaN and infinities are counted apart, as numeric's own aggregates do */
	if (numeric_is_nan(n))
	{
		num_extra(st, groupcxt)->nan++;
		return;
	}
	if (numeric_is_inf(n))
	{
		uint16		head;

		/* the stored form: +Inf is 0xD000, -Inf 0xF000 */
		memcpy(&head, VARDATA_ANY(n), sizeof(uint16));
		if ((head & 0xF000) == 0xD000)
			num_extra(st, groupcxt)->pinf++;
		else
			num_extra(st, groupcxt)->ninf++;
		return;
	}
	st->count++;
	note_scale(st, DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(n))));
	numeric_add_slow(st, d, groupcxt);
}

/* The exact numeric sum of a group (NULL when it has no input). */
Datum
vagg_numeric_total(VaggState *st)
{
	Datum		fast;

	bool		has_slow = st->u.n.x && st->u.n.x->has_slow;

	if (!st->u.n.started)
		return has_slow ? st->u.n.x->slow : vagg_int128_to_numeric(0, 0);
	/* units of 10000^-scale to the largest display scale of the values */
	{
		int128		w = st->u.n.wsum;
		int			k = 4 * st->u.n.scale - st->u.n.fastdscale;

		while (k-- > 0)
			w /= 10;
		fast = vagg_int128_to_numeric(w, st->u.n.fastdscale);
	}
	if (!has_slow)
		return fast;
	return DirectFunctionCall2(numeric_add, st->u.n.x->slow, fast);
}

/* ---- min / max ---- */

static inline bool
minmax_replaces(VaggAgg *agg, Datum cur, Datum v)
{
	bool		max = agg->kind == VAGG_MAX;

	/* the state is kept only while it is strictly better, as *larger does */
	switch (agg->argtype)
	{
		case INT2OID:
			return max ? !(DatumGetInt16(cur) > DatumGetInt16(v)) :
				!(DatumGetInt16(cur) < DatumGetInt16(v));
		case INT4OID:
		case DATEOID:
			return max ? !(DatumGetInt32(cur) > DatumGetInt32(v)) :
				!(DatumGetInt32(cur) < DatumGetInt32(v));
		case INT8OID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return max ? !(DatumGetInt64(cur) > DatumGetInt64(v)) :
				!(DatumGetInt64(cur) < DatumGetInt64(v));
		case FLOAT4OID:
			return max ? !float4_gt(DatumGetFloat4(cur), DatumGetFloat4(v)) :
				!float4_lt(DatumGetFloat4(cur), DatumGetFloat4(v));
		case FLOAT8OID:
			return max ? !float8_gt(DatumGetFloat8(cur), DatumGetFloat8(v)) :
				!float8_lt(DatumGetFloat8(cur), DatumGetFloat8(v));
		default:
			{
				int32		c = DatumGetInt32(FunctionCall2Coll(&agg->cmp, agg->collation,
																cur, v));

				return max ? !(c > 0) : !(c < 0);
			}
	}
}

static void
minmax_accum(VaggAgg *agg, VaggState *states, int stride, const int32 *gidx,
			 int nrows, const Datum *vals, const bool *nulls, MemoryContext groupcxt)
{
	int			i;

	for (i = 0; i < nrows; i++)
	{
		VaggState  *st;

		if (gidx[i] < 0 || nulls[i])
			continue;
		st = &states[(Size) gidx[i] * stride];
		if (st->u.m.has_value && !minmax_replaces(agg, st->u.m.value, vals[i]))
			continue;
		if (agg->typbyval)
			st->u.m.value = vals[i];
		else
		{
			MemoryContext old = MemoryContextSwitchTo(groupcxt);
			Datum		nv = agg->typlen == -1 ?
				PointerGetDatum(PG_DETOAST_DATUM_COPY(vals[i])) :
				datumCopy(vals[i], false, agg->typlen);

			if (st->u.m.has_value)
				pfree(DatumGetPointer(st->u.m.value));
			st->u.m.value = nv;
			MemoryContextSwitchTo(old);
		}
		st->u.m.has_value = true;
	}
}

/* ---- floats: float8_accum's recurrence ---- */

static inline void
float_avg_accum(VaggState *st, float8 newval)
{
	float8		oldN = (float8) st->count;
	float8		oldSx = st->u.f.fsum;
	float8		N = oldN + 1.0;
	float8		Sx = oldSx + newval;
	float8		Sxx = st->u.f.fsxx;

	if (oldN > 0.0)
	{
		float8		tmp = newval * N - Sx;

		Sxx += tmp * tmp / (N * oldN);
		if (isinf(Sx) || isinf(Sxx))
		{
			if (!isinf(oldSx) && !isinf(newval))
				float_overflow_error();
			Sxx = get_float8_nan();
		}
	}
	else if (isnan(newval) || isinf(newval))
		Sxx = get_float8_nan();
	st->count++;
	st->u.f.fsum = Sx;
	st->u.f.fsxx = Sxx;
}

/*
 * Are all selected values of a float vector finite and below 1e100 in
 * magnitude?  avg() then needs only float8_accum's N and Sx, which are
 * plain counting and addition in row order: its Sxx is used by avg() only
 * to raise an overflow error, which values this small cannot cause (Sxx
 * stays below N * 8e200), so it is not computed for them.
 */
static bool
floats_small(const int32 *gidx, int nrows, const Datum *vals, const bool *nulls, bool f4)
{
	int			i;
	bool		ok = true;

	for (i = 0; i < nrows; i++)
	{
		float8		v;

		if (gidx[i] < 0 || nulls[i])
			continue;
		v = f4 ? (float8) DatumGetFloat4(vals[i]) : DatumGetFloat8(vals[i]);
		ok &= (fabs(v) < 1e100);
	}
	return ok;
}

/*
 * Accumulate one column vector: row i goes to group gidx[i] (< 0: row not
 * selected); states points at this aggregate's state of group 0, stride
 * states apart.
 */
void
vagg_accumulate(VaggAgg *agg, VaggState *states, int stride, const int32 *gidx,
				int nrows, const Datum *vals, const bool *nulls, MemoryContext groupcxt)
{
	int			i;

#define EACH_ROW(body) \
	for (i = 0; i < nrows; i++) \
	{ \
		VaggState  *st; \
		if (gidx[i] < 0 || (nulls && nulls[i])) \
			continue; \
		st = &states[(Size) gidx[i] * stride]; \
		body; \
	}

	switch (agg->kind)
	{
		case VAGG_COUNT_STAR:
			EACH_ROW(st->count++);
			return;
		case VAGG_COUNT:
			EACH_ROW(st->count++);
			return;
		case VAGG_MIN:
		case VAGG_MAX:
			minmax_accum(agg, states, stride, gidx, nrows, vals, nulls, groupcxt);
			return;
		case VAGG_SUM:
		case VAGG_AVG:
			break;
	}
	switch (agg->argtype)
	{
		case INT2OID:
			EACH_ROW((st->count++, st->u.isum = (int64) ((uint64) st->u.isum + (uint64) (int64) DatumGetInt16(vals[i]))));
			return;
		case INT4OID:
			EACH_ROW((st->count++, st->u.isum = (int64) ((uint64) st->u.isum + (uint64) (int64) DatumGetInt32(vals[i]))));
			return;
		case INT8OID:
			EACH_ROW((st->count++, st->u.n.wsum += DatumGetInt64(vals[i])));
			return;
		case FLOAT4OID:
			if (agg->kind == VAGG_SUM)
			{
				/* the first value is the sum, as with sum's NULL initial state (-0 stays -0) */
				EACH_ROW((st->u.f.f4sum = st->count++ == 0 ? DatumGetFloat4(vals[i]) :
						  float4_pl(st->u.f.f4sum, DatumGetFloat4(vals[i]))));
			}
			else if (floats_small(gidx, nrows, vals, nulls, true))
			{
				EACH_ROW((st->count++, st->u.f.fsum += (float8) DatumGetFloat4(vals[i])));
			}
			else
			{
				EACH_ROW(float_avg_accum(st, (float8) DatumGetFloat4(vals[i])));
			}
			return;
		case FLOAT8OID:
			if (agg->kind == VAGG_SUM)
			{
				EACH_ROW((st->u.f.fsum = st->count++ == 0 ? DatumGetFloat8(vals[i]) :
						  float8_pl(st->u.f.fsum, DatumGetFloat8(vals[i]))));
			}
			else if (floats_small(gidx, nrows, vals, nulls, false))
			{
				EACH_ROW((st->count++, st->u.f.fsum += DatumGetFloat8(vals[i])));
			}
			else
			{
				EACH_ROW(float_avg_accum(st, DatumGetFloat8(vals[i])));
			}
			return;
		case NUMERICOID:
			EACH_ROW(vnumeric_accum(st, vals[i], groupcxt));
			return;
	}
#undef EACH_ROW
	elog(ERROR, "vectorized aggregate of unsupported type %u", agg->argtype);
}

/* ---- narrow states (VaggNarrow) ---- */

/* Can this aggregate accumulate into VaggNarrow states? */
bool
vagg_narrow_eligible(VaggAgg *agg)
{
	switch (agg->kind)
	{
		case VAGG_COUNT_STAR:
		case VAGG_COUNT:
			return true;
		case VAGG_SUM:
		case VAGG_AVG:
			return agg->argtype == INT2OID || agg->argtype == INT4OID ||
				agg->argtype == FLOAT4OID || agg->argtype == FLOAT8OID;
		case VAGG_MIN:
		case VAGG_MAX:
			switch (agg->argtype)
			{
				case INT2OID:
				case INT4OID:
				case DATEOID:
				case INT8OID:
				case TIMESTAMPOID:
				case TIMESTAMPTZOID:
				case FLOAT4OID:
				case FLOAT8OID:
					return true;
			}
			return false;
	}
	return false;
}

/*
 * vagg_accumulate on narrow states: the same operations in the same order
 * on the same values, kept in 16 bytes.  False (nothing accumulated) when
 * the vector needs the full state: avg of floats that are not all small.
 */
bool
vagg_accumulate_narrow(VaggAgg *agg, VaggNarrow *ns, const int32 *gidx, int nrows,
					   const Datum *vals, const bool *nulls)
{
	int			i;

#define EACH_NROW(body) \
	for (i = 0; i < nrows; i++) \
	{ \
		VaggNarrow *st; \
		if (gidx[i] < 0 || (nulls && nulls[i])) \
			continue; \
		st = &ns[gidx[i]]; \
		body; \
	}

	switch (agg->kind)
	{
		case VAGG_COUNT_STAR:
			for (i = 0; i < nrows; i++)
				if (gidx[i] >= 0)
					ns[gidx[i]].count++;
			return true;
		case VAGG_COUNT:
			EACH_NROW(st->count++);
			return true;
		case VAGG_MIN:
		case VAGG_MAX:
			EACH_NROW((st->count == 0 || minmax_replaces(agg, st->v.d, vals[i])) ?
					  (void) (st->v.d = vals[i], st->count = 1) : (void) 0);
			return true;
		case VAGG_SUM:
		case VAGG_AVG:
			break;
	}
	switch (agg->argtype)
	{
		case INT2OID:
			EACH_NROW((st->count++, st->v.i = (int64) ((uint64) st->v.i + (uint64) (int64) DatumGetInt16(vals[i]))));
			return true;
		case INT4OID:
			EACH_NROW((st->count++, st->v.i = (int64) ((uint64) st->v.i + (uint64) (int64) DatumGetInt32(vals[i]))));
			return true;
		case FLOAT4OID:
			if (agg->kind == VAGG_SUM)
			{
				/* the first value is the sum (-0 stays -0), as in vagg_accumulate */
				EACH_NROW((st->v.f4 = st->count++ == 0 ? DatumGetFloat4(vals[i]) :
						   float4_pl(st->v.f4, DatumGetFloat4(vals[i]))));
				return true;
			}
			if (!floats_small(gidx, nrows, vals, nulls, true))
				return false;
			EACH_NROW((st->count++, st->v.f += (float8) DatumGetFloat4(vals[i])));
			return true;
		case FLOAT8OID:
			if (agg->kind == VAGG_SUM)
			{
				EACH_NROW((st->v.f = st->count++ == 0 ? DatumGetFloat8(vals[i]) :
						   float8_pl(st->v.f, DatumGetFloat8(vals[i]))));
				return true;
			}
			if (!floats_small(gidx, nrows, vals, nulls, false))
				return false;
			EACH_NROW((st->count++, st->v.f += DatumGetFloat8(vals[i])));
			return true;
	}
#undef EACH_NROW
	elog(ERROR, "narrow vectorized aggregate of unsupported type %u", agg->argtype);
	return false;
}

/*
 * Move the narrow states of ngroups groups into the aggregate's VaggStates
 * (states: group 0's, stride apart), as vagg_accumulate would have left them.
 */
void
vagg_fold_narrow(VaggAgg *agg, const VaggNarrow *ns, VaggState *states, int stride,
				 int ngroups)
{
	int			g;

	for (g = 0; g < ngroups; g++)
	{
		VaggState  *st = &states[(Size) g * stride];
		const VaggNarrow *n = &ns[g];

		if (agg->kind == VAGG_MIN || agg->kind == VAGG_MAX)
		{
			st->u.m.has_value = n->count > 0;
			st->u.m.value = n->v.d;
			continue;
		}
		st->count = n->count;
		if (agg->kind == VAGG_COUNT_STAR || agg->kind == VAGG_COUNT)
			continue;
		switch (agg->argtype)
		{
			case INT2OID:
			case INT4OID:
				st->u.isum = n->v.i;
				break;
			case FLOAT4OID:
				if (agg->kind == VAGG_SUM)
					st->u.f.f4sum = n->v.f4;
				else
					st->u.f.fsum = n->v.f;
				break;
			case FLOAT8OID:
				st->u.f.fsum = n->v.f;
				break;
		}
	}
}
