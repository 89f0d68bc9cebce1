/*
 * columnar_stats.h
 *		Min/max statistics of versioned_columnar column chunks
 *		(columnar_stats.c): computed at write, tested against skip keys at
 *		read (segment skipping).
 */
#ifndef STREAMEXT_COLUMNAR_STATS_H
#define STREAMEXT_COLUMNAR_STATS_H

#include "columnar/columnar.h"

/*
 * Min and max of the non-NULL values of a column of nrows rows under the
 * type's btree order; false when the type has none or every value is NULL.
 */
extern bool columnar_stats_minmax(Datum *values, bool *isnull, int nrows,
								  Form_pg_attribute att,
								  Datum *min_value, Datum *max_value);

/* Do a segment's statistics of one column refute a skip key? */
extern bool columnar_stat_refutes(ColumnarSkipKey *sk, int null_count, int nrows,
								  bool has_minmax, Datum minv, Datum maxv);

#endif							/* STREAMEXT_COLUMNAR_STATS_H */
