/*
 * columnar_stats.c
 *		Min/max statistics of versioned_columnar column chunks: computing a
 *		chunk's min and max when it is written, and deciding whether a
 *		segment's statistics refute a skip key when it is read.
 *
 * The statistics live in columnar_chunk.min_value/max_value (encoded as one
 * value of the column, columnar_codec.c) next to its null_count.  Only types
 * with a btree order get them; the common fixed-width types and text are
 * compared inline, since computing min/max is a loop over every written value.
 */
#include "postgres.h"

#include <math.h>

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_stats.h"

#include "access/stratnum.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/typcache.h"
#include "utils/varlena.h"

/*
 * How min and max of a column are found: the common fixed-width types are
 * compared inline, as their btree comparison functions do; everything else
 * calls the type's btree comparison function.
 */
typedef enum MinMaxKind
{
	MINMAX_FMGR,
	MINMAX_INT16,
	MINMAX_INT32,
	MINMAX_UINT32,
	MINMAX_INT64,
	MINMAX_FLOAT4,
	MINMAX_FLOAT8
} MinMaxKind;

static MinMaxKind
minmax_kind(Oid cmp_proc)
{
	switch (cmp_proc)
	{
		case F_BTINT2CMP:
			return MINMAX_INT16;
		case F_BTINT4CMP:
		case F_DATE_CMP:
			return MINMAX_INT32;
		case F_BTOIDCMP:
			return MINMAX_UINT32;
		case F_BTINT8CMP:
		case F_TIMESTAMP_CMP:
		case F_TIMESTAMPTZ_CMP:
		case F_TIME_CMP:
			return MINMAX_INT64;
		case F_BTFLOAT4CMP:
			return MINMAX_FLOAT4;
		case F_BTFLOAT8CMP:
			return MINMAX_FLOAT8;
		default:
			return MINMAX_FMGR;
	}
}

/* btfloat8cmp's order: NaN equals NaN and sorts above everything else */
static inline int
float8_order(float8 a, float8 b)
{
	if (isnan(a))
		return isnan(b) ? 0 : 1;
	if (isnan(b))
		return -1;
	return (a > b) - (a < b);
}

/* -1, 0, 1 like the type's comparison function, for the inline kinds */
static inline int
minmax_compare(MinMaxKind kind, Datum a, Datum b)
{
	switch (kind)
	{
		case MINMAX_INT16:
			return (DatumGetInt16(a) > DatumGetInt16(b)) - (DatumGetInt16(a) < DatumGetInt16(b));
		case MINMAX_INT32:
			return (DatumGetInt32(a) > DatumGetInt32(b)) - (DatumGetInt32(a) < DatumGetInt32(b));
		case MINMAX_UINT32:
			return (DatumGetObjectId(a) > DatumGetObjectId(b)) -
				(DatumGetObjectId(a) < DatumGetObjectId(b));
		case MINMAX_INT64:
			return (DatumGetInt64(a) > DatumGetInt64(b)) - (DatumGetInt64(a) < DatumGetInt64(b));
		case MINMAX_FLOAT4:
			return float8_order(DatumGetFloat4(a), DatumGetFloat4(b));
		case MINMAX_FLOAT8:
			return float8_order(DatumGetFloat8(a), DatumGetFloat8(b));
		default:
			Assert(false);
			return 0;
	}
}

/*
 * Same bytes, so equal under any btree order (comparison is reflexive): the
 * comparison function need not be called.  Rows of one segment repeat values
 * often (regions, devices, amounts), and a collation-aware comparison of two
 * strings costs far more than this.
 */
static inline bool
same_bytes(Datum a, Datum b, Form_pg_attribute att)
{
	if (att->attbyval)
		return a == b;
	if (att->attlen == -1)
	{
		struct varlena *va = (struct varlena *) DatumGetPointer(a);
		struct varlena *vb = (struct varlena *) DatumGetPointer(b);

		if (va == vb)
			return true;
		if (VARATT_IS_EXTERNAL(va) || VARATT_IS_COMPRESSED(va) ||
			VARATT_IS_EXTERNAL(vb) || VARATT_IS_COMPRESSED(vb))
			return false;
		return VARSIZE_ANY_EXHDR(va) == VARSIZE_ANY_EXHDR(vb) &&
			memcmp(VARDATA_ANY(va), VARDATA_ANY(vb), VARSIZE_ANY_EXHDR(va)) == 0;
	}
	if (att->attlen > 0)
		return memcmp(DatumGetPointer(a), DatumGetPointer(b), att->attlen) == 0;
	return strcmp(DatumGetCString(a), DatumGetCString(b)) == 0;
}

/* neither TOASTed nor compressed: its bytes can be compared in place */
static inline bool
plain_varlena(Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	return !VARATT_IS_EXTERNAL(v) && !VARATT_IS_COMPRESSED(v);
}

static inline int
text_order(Datum a, Datum b, Oid collation)
{
	struct varlena *va = (struct varlena *) DatumGetPointer(a);
	struct varlena *vb = (struct varlena *) DatumGetPointer(b);

	return varstr_cmp(VARDATA_ANY(va), VARSIZE_ANY_EXHDR(va),
					  VARDATA_ANY(vb), VARSIZE_ANY_EXHDR(vb), collation);
}

/*
 * Min and max of the non-NULL values of one column of nrows rows, if the
 * type has a btree order and a value is not NULL; they point into values.
 */
bool
columnar_stats_minmax(Datum *values, bool *isnull, int nrows, Form_pg_attribute att,
					  Datum *min_value, Datum *max_value)
{
	TypeCacheEntry *tc;
	FmgrInfo   *cmp = NULL;
	MinMaxKind	kind = MINMAX_FMGR;
	bool		is_text = false;
	Datum		minv = 0;
	Datum		maxv = 0;
	bool		have = false;
	int			i;

	tc = lookup_type_cache(att->atttypid, TYPECACHE_CMP_PROC_FINFO);
	if (!OidIsValid(tc->cmp_proc_finfo.fn_oid))
		return false;
	cmp = &tc->cmp_proc_finfo;
	if (att->attbyval)
		kind = minmax_kind(tc->cmp_proc_finfo.fn_oid);
	is_text = (tc->cmp_proc_finfo.fn_oid == F_BTTEXTCMP);

	for (i = 0; i < nrows; i++)
	{
		Datum		v;

		if (isnull[i])
			continue;
		v = values[i];
		if (!have)
		{
			minv = maxv = v;
			have = true;
		}
		else if (kind != MINMAX_FMGR)
		{
			if (minmax_compare(kind, v, minv) < 0)
				minv = v;
			else if (minmax_compare(kind, v, maxv) > 0)
				maxv = v;
		}
		else
		{
			if ((i & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			if (same_bytes(v, minv, att) || same_bytes(v, maxv, att))
				continue;
			if (is_text && plain_varlena(v) && plain_varlena(minv) && plain_varlena(maxv))
			{
				/* bttextcmp without the call and detoasting overhead */
				if (text_order(v, minv, att->attcollation) < 0)
					minv = v;
				else if (text_order(v, maxv, att->attcollation) > 0)
					maxv = v;
			}
			else if (DatumGetInt32(FunctionCall2Coll(cmp, att->attcollation, v, minv)) < 0)
				minv = v;
			else if (DatumGetInt32(FunctionCall2Coll(cmp, att->attcollation, v, maxv)) > 0)
				maxv = v;
		}
	}
	*min_value = minv;
	*max_value = maxv;
	return have;
}

/* Do a segment's statistics of one column refute a skip key? */
bool
columnar_stat_refutes(ColumnarSkipKey *sk, int null_count, int nrows, bool has_minmax,
					  Datum minv, Datum maxv)
{
	int32		cmin;
	int32		cmax;

	if (sk->strategy == 0)
		return null_count == 0;
	if (sk->strategy == -1)
		return null_count == nrows;
	if (null_count == nrows)
		return true;			/* strict operators never match NULLs */
	if (!has_minmax)
		return false;
	cmin = DatumGetInt32(OidFunctionCall2Coll(sk->cmp_proc, sk->collation, minv, sk->value));
	cmax = DatumGetInt32(OidFunctionCall2Coll(sk->cmp_proc, sk->collation, maxv, sk->value));
	switch (sk->strategy)
	{
		case BTLessStrategyNumber:
			return cmin >= 0;
		case BTLessEqualStrategyNumber:
			return cmin > 0;
		case BTEqualStrategyNumber:
			return cmin > 0 || cmax < 0;
		case BTGreaterEqualStrategyNumber:
			return cmax < 0;
		case BTGreaterStrategyNumber:
			return cmax <= 0;
	}
	return false;
}
