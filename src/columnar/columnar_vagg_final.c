/*
 * columnar_vagg_final.c
 *		The end of a vectorized aggregate: a group's final value, as
 *		PostgreSQL's final function gives it, or the partial state a Partial
 *		Aggregate would emit for a Finalize Aggregate above a Gather to combine
 *		(in the byte layout of the aggregates' own serial functions).
 *
 * Apart from the accumulation (columnar_vagg_agg.c) because it runs once per
 * group, not once per row, and only reads the states.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "columnar/columnar_vagg.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

/* The aggregate's final value, the same as PostgreSQL's final function gives. */
Datum
vagg_finalize(VaggAgg *agg, VaggState *st, bool *isnull)
{
	VaggNumExtra *x;

	*isnull = false;
	switch (agg->kind)
	{
		case VAGG_COUNT_STAR:
		case VAGG_COUNT:
			return Int64GetDatum(st->count);
		case VAGG_MIN:
		case VAGG_MAX:
			*isnull = !st->u.m.has_value;
			return st->u.m.value;
		case VAGG_SUM:
		case VAGG_AVG:
			break;
	}
	x = agg->argtype == NUMERICOID ? st->u.n.x : NULL;
	if (st->count == 0 && (x == NULL || x->nan + x->pinf + x->ninf == 0))
	{
		*isnull = true;
		return (Datum) 0;
	}
	if (x && (x->nan || x->pinf || x->ninf))
	{
		const char *special = (x->nan || (x->pinf && x->ninf)) ? "NaN" :
			x->pinf ? "Infinity" : "-Infinity";

		return DirectFunctionCall3(numeric_in, CStringGetDatum(special),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	}
	switch (agg->argtype)
	{
		case INT2OID:
		case INT4OID:
			if (agg->kind == VAGG_SUM)
				return Int64GetDatum(st->u.isum);
			return DirectFunctionCall2(numeric_div, NumericGetDatum(int64_to_numeric(st->u.isum)),
									   NumericGetDatum(int64_to_numeric(st->count)));
		case INT8OID:
			if (agg->kind == VAGG_SUM)
				return vagg_int128_to_numeric(st->u.n.wsum, 0);
			return DirectFunctionCall2(numeric_div, vagg_int128_to_numeric(st->u.n.wsum, 0),
									   NumericGetDatum(int64_to_numeric(st->count)));
		case FLOAT4OID:
			if (agg->kind == VAGG_SUM)
				return Float4GetDatum(st->u.f.f4sum);
			return Float8GetDatum(st->u.f.fsum / (float8) st->count);
		case FLOAT8OID:
			if (agg->kind == VAGG_SUM)
				return Float8GetDatum(st->u.f.fsum);
			return Float8GetDatum(st->u.f.fsum / (float8) st->count);
		case NUMERICOID:
			if (agg->kind == VAGG_SUM)
				return vagg_numeric_total(st);
			return DirectFunctionCall2(numeric_div, vagg_numeric_total(st),
									   NumericGetDatum(int64_to_numeric(st->count)));
	}
	elog(ERROR, "vectorized aggregate of unsupported type %u", agg->argtype);
	return (Datum) 0;
}

static Datum
int8_array(int n, const int64 *v)
{
	Datum		d[3];
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static Datum
float8_array(int n, const float8 *v)
{
	Datum		d[3];
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * A numeric as the numeric aggregates' serial functions write one: number
 * of digits, weight, sign, display scale as 32-bit integers, then the base
 * 10000 digits as 16-bit ones.  Read off numeric_send's output, which has
 * the same fields in 16 bits.
 */
static void
send_numeric(StringInfo buf, Datum num)
{
	bytea	   *b = DatumGetByteaPP(DirectFunctionCall1(numeric_send, num));
	StringInfoData in;
	int			ndigits;
	int			i;

	in.data = VARDATA_ANY(b);
	in.len = VARSIZE_ANY_EXHDR(b);
	in.maxlen = in.len;
	in.cursor = 0;
	ndigits = (int16) pq_getmsgint(&in, 2);
	pq_sendint32(buf, ndigits);
	pq_sendint32(buf, (int16) pq_getmsgint(&in, 2));	/* weight */
	pq_sendint32(buf, (uint16) pq_getmsgint(&in, 2));	/* sign */
	pq_sendint32(buf, (int16) pq_getmsgint(&in, 2));	/* dscale */
	for (i = 0; i < ndigits; i++)
		pq_sendint16(buf, (int16) pq_getmsgint(&in, 2));
}

/*
 * The partial state a Partial Aggregate of this aggregate would emit: its
 * transition value, or for an internal one the bytes of its serial function
 * (int8_avg_serialize: N, sum; numeric_avg_serialize: N, sum, max scale and
 * its count, NaN, +Inf and -Inf counts), which the Finalize Aggregate's
 * deserial and combine functions read.
 */
Datum
vagg_partial(VaggAgg *agg, VaggState *st, bool *isnull)
{
	StringInfoData buf;
	VaggNumExtra *x;

	*isnull = false;
	switch (agg->kind)
	{
		case VAGG_COUNT_STAR:
		case VAGG_COUNT:
		case VAGG_MIN:
		case VAGG_MAX:
			return vagg_finalize(agg, st, isnull);
		case VAGG_SUM:
		case VAGG_AVG:
			break;
	}
	switch (agg->argtype)
	{
		case INT2OID:
		case INT4OID:
			if (agg->kind == VAGG_SUM)
				return vagg_finalize(agg, st, isnull);
			{
				int64		v[2] = {st->count, st->u.isum};

				return int8_array(2, v);
			}
		case FLOAT4OID:
		case FLOAT8OID:
			if (agg->kind == VAGG_SUM)
				return vagg_finalize(agg, st, isnull);
			{
				float8		v[3] = {(float8) st->count, st->u.f.fsum, st->u.f.fsxx};

				return float8_array(3, v);
			}
		case INT8OID:
			if (st->count == 0)
				break;
			pq_begintypsend(&buf);
			pq_sendint64(&buf, st->count);
			send_numeric(&buf, vagg_int128_to_numeric(st->u.n.wsum, 0));
			return PointerGetDatum(pq_endtypsend(&buf));
		case NUMERICOID:
			x = st->u.n.x;
			if (st->count == 0 && (x == NULL || x->nan + x->pinf + x->ninf == 0))
				break;
			pq_begintypsend(&buf);
			pq_sendint64(&buf, st->count);
			send_numeric(&buf, vagg_numeric_total(st));
			pq_sendint32(&buf, st->u.n.maxscale);
			pq_sendint64(&buf, st->u.n.maxscalecount);
			pq_sendint64(&buf, x ? x->nan : 0);
			pq_sendint64(&buf, x ? x->pinf : 0);
			pq_sendint64(&buf, x ? x->ninf : 0);
			return PointerGetDatum(pq_endtypsend(&buf));
	}
	*isnull = true;
	return (Datum) 0;
}
