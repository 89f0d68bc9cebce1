/*
 * columnar_vagg.h
 *		The vectorized aggregation over versioned_columnar tables: what its
 *		planner part (columnar_vagg_plan.c), its executor node
 *		(columnar_vagg_exec.c) and its aggregate accumulators
 *		(columnar_vagg_agg.c) share.
 *
 * The plan is a CustomScan "VectorizedAgg" whose custom_private holds, as
 * integer lists (copyable, readable by EXPLAIN):
 *	  0: relid, is_as_of, is_time, partial, count_from_metadata
 *	  1: group key attnums
 *	  2: per aggregate: kind, attnum (0: count(*)), argument type, collation
 *	  3: per filter: attnum, strategy, btree cmp proc, collation
 * and custom_exprs the filters' comparison values, then (as_of) the version.
 */
#ifndef STREAMEXT_COLUMNAR_VAGG_H
#define STREAMEXT_COLUMNAR_VAGG_H

#include "fmgr.h"
#include "access/tupdesc.h"
#include "nodes/extensible.h"

typedef enum VaggKind
{
	VAGG_COUNT_STAR,
	VAGG_COUNT,
	VAGG_SUM,
	VAGG_AVG,
	VAGG_MIN,
	VAGG_MAX
} VaggKind;

/* The executor's description of one aggregate. */
typedef struct VaggAgg
{
	VaggKind	kind;
	int			attno;			/* 0-based column, -1 for count(*) */
	Oid			argtype;
	Oid			collation;
	bool		partial;		/* emit the partial state (Partial Aggregate) */
	FmgrInfo	cmp;			/* min/max of numeric and text */
	int16		typlen;
	bool		typbyval;
} VaggAgg;

/* What few numeric sums need: NaN/infinity counts, values too big for wsum. */
typedef struct VaggNumExtra
{
	int64		nan;			/* NaN, +Inf, -Inf inputs (not in count) */
	int64		pinf;
	int64		ninf;
	bool		has_slow;		/* slow holds the sum of values wsum cannot */
	Datum		slow;
} VaggNumExtra;

/*
 * The running state of one aggregate in one group: 56 bytes, so that the
 * states of a group's aggregates sit in few cache lines (with thousands of
 * groups, the states are what the accumulation waits for).  All zero is the
 * initial state.
 */
typedef struct VaggState
{
	int64		count;			/* non-NULL inputs (numeric: not NaN or infinite) */
	union
	{
		struct
		{
			int128		wsum;	/* sum of int8, or numeric in units (scale) */
			int32		scale;	/* numeric: wsum is in units of 10000^-scale */
			int32		fastdscale; /* numeric: largest display scale in wsum */
			int32		maxscale;	/* numeric: largest dscale seen */
			bool		started;	/* numeric: scale is set */
			int64		maxscalecount;
			VaggNumExtra *x;	/* numeric: NULL until needed */
		}			n;
		struct
		{
			double		fsum;	/* Sx of floats */
			double		fsxx;	/* Sxx (avg of floats: Youngs-Cramer) */
			float4		f4sum;	/* sum(float4) adds in single precision */
		}			f;
		int64		isum;		/* sum of int2/int4 */
		struct
		{
			Datum		value;	/* min/max */
			bool		has_value;
		}			m;
	}			u;
} VaggState;

/*
 * The narrow state of one aggregate in one group (16 bytes): what count,
 * sum/avg of int2/int4/float4/float8 (avg of floats while every vector is
 * small, see floats_small) and min/max of by-value types need.  With
 * thousands of groups the 56-byte VaggStates of all aggregates outgrow the
 * first-level cache; an aggregate that can accumulates into an array of
 * these instead, and folds them into its VaggStates at the end.
 */
typedef struct VaggNarrow
{
	int64		count;			/* min/max: rows seen (has_value iff > 0) */
	union
	{
		int64		i;			/* isum */
		double		f;			/* fsum */
		float4		f4;			/* f4sum */
		Datum		d;			/* min/max value */
	}			v;
} VaggNarrow;

typedef enum KeyMode
{
	KEY_BITWISE,				/* by-value, equal iff the Datums are */
	KEY_BYTES,					/* varlena, equal iff the bytes are */
	KEY_GENERIC					/* the type's hash and equality functions */
} KeyMode;

typedef struct VaggKey
{
	int			attno;			/* 0-based */
	KeyMode		mode;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
	FmgrInfo	hash;
	FmgrInfo	eq;
} VaggKey;

/* A slot of the groups' hash table. */
typedef struct VaggSlot
{
	uint32		hash;
	int32		group;			/* -1: empty */
} VaggSlot;

/* A group's text key of up to 16 bytes as words (len -1: NULL; > 16: longer). */
typedef struct VaggShortKey
{
	uint64		a;
	uint64		b;
	int32		len;
} VaggShortKey;

/* The groups of one aggregation (columnar_vagg_group.c). */
typedef struct VaggGroups
{
	int			nkeys;
	VaggKey    *keys;
	int			naggs;
	MemoryContext groupcxt;
	int			ngroups;
	int			capgroups;
	Datum	   *gkeys;			/* [group * nkeys + k] */
	bool	   *gnulls;
	uint32	   *ghash;
	VaggState  *states;			/* [group * naggs + a] */
	bool	   *narrow_ok;		/* per aggregate: may accumulate narrow */
	VaggNarrow **narrow;		/* per aggregate: [group], NULL: not narrow */
	VaggShortKey *gshort;		/* one text key: its bytes, per group */
	VaggSlot   *table;			/* open addressing, at most half full */
	uint32		tabmask;
	int32	   *gidx;			/* per row of the vector: group, -1 not selected */
	uint32	   *hashes;
	int			gcap;
} VaggGroups;

extern void vagg_key_setup(VaggKey *key, Form_pg_attribute att);
extern void vagg_groups_reset(VaggGroups *groups);
extern int32 vagg_add_group(VaggGroups *groups, uint32 hash, Datum **vals, bool **nulls, int i);
extern void vagg_assign_groups(VaggGroups *groups, int nrows, Datum **vals, bool **nulls);

/* columnar_vagg_agg.c */
extern bool vagg_supported(Oid aggfnoid, VaggKind *kind, Oid *argtype);
extern void vagg_agg_setup(VaggAgg *agg);
extern void vagg_state_init(VaggState *st);
extern void vagg_accumulate(VaggAgg *agg, VaggState *states, int nstates_stride,
							const int32 *gidx, int nrows, const Datum *vals,
							const bool *nulls, MemoryContext groupcxt);
extern bool vagg_narrow_eligible(VaggAgg *agg);
extern bool vagg_accumulate_narrow(VaggAgg *agg, VaggNarrow *ns, const int32 *gidx,
								   int nrows, const Datum *vals, const bool *nulls);
extern void vagg_fold_narrow(VaggAgg *agg, const VaggNarrow *ns, VaggState *states,
							 int stride, int ngroups);
/* columnar_vagg_agg.c: exact numeric sums, read by the final values */
extern Datum vagg_int128_to_numeric(int128 v, int scale);
extern Datum vagg_numeric_total(VaggState *st);

/* columnar_vagg_final.c */
extern Datum vagg_finalize(VaggAgg *agg, VaggState *st, bool *isnull);
extern Datum vagg_partial(VaggAgg *agg, VaggState *st, bool *isnull);

/* columnar_vagg_exec.c */
extern Node *vagg_create_state(CustomScan *cscan);
extern const CustomScanMethods vagg_plan_methods;

#endif							/* STREAMEXT_COLUMNAR_VAGG_H */
