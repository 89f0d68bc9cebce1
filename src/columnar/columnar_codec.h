/*
 * columnar_codec.h
 *		The column chunk codec of versioned_columnar (columnar_codec.c):
 *		encoding one column of a segment into a compressed chunk, decoding it
 *		back, and the one-value encoding of the min/max statistics.
 */
#ifndef STREAMEXT_COLUMNAR_CODEC_H
#define STREAMEXT_COLUMNAR_CODEC_H

#include "columnar/columnar.h"

/*
 * Encode nrows values of one column (isnull[i]: values[i] is NULL) into a
 * chunk; set its null count and, when the type has a btree order and the
 * values are small enough, its min and max (else NULL).
 */
extern bytea *columnar_encode_chunk(Datum *values, bool *isnull, int nrows,
									Form_pg_attribute att, int *null_count,
									bytea **min_value, bytea **max_value);

/*
 * Decode a chunk of nrows values; errors (ERRCODE_DATA_CORRUPTED) on a
 * chunk that does not decode to nrows values.  By-reference values point
 * into a buffer of scratch (reused from call to call: valid until the next
 * call for the same column) or, without scratch, into a new palloc'd one.
 */
extern void columnar_decode_chunk(bytea *data, Form_pg_attribute att, int nrows,
								  int null_count, Datum *values, bool *isnull);
extern void columnar_decode_chunk_scratch(bytea *data, Form_pg_attribute att, int nrows,
										  int null_count, Datum *values, bool *isnull,
										  ColumnarScratch *scratch);

/* One value as stored in min_value/max_value. */
extern Datum columnar_decode_value(bytea *data, Form_pg_attribute att);

#endif							/* STREAMEXT_COLUMNAR_CODEC_H */
