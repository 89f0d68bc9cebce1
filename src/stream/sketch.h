/*
 * sketch.h
 *		Mergeable approximate-aggregate states (HyperLogLog for distinct
 *		counts, t-digest for percentiles) and their storable byte format.
 *
 * Both kinds start with a Sketch header so that the combine, serialize and
 * deserialize functions, and streamext.approx_merge() over stored states,
 * can serve either kind.
 */
#ifndef STREAM_SKETCH_H
#define STREAM_SKETCH_H

#include "postgres.h"

#include "fmgr.h"

typedef enum SketchKind
{
	SKETCH_HLL = 1,
	SKETCH_TDIGEST = 2
} SketchKind;

typedef struct Sketch
{
	SketchKind	kind;
} Sketch;

/* stored format: magic, version, kind, then the kind's own fields */
#define SKETCH_MAGIC 0x53455348	/* "SESH" */
#define SKETCH_VERSION 1
#define SKETCH_HEADER_SIZE 6

/* reading and writing the stored format, with bounds checks */
typedef struct SketchReader
{
	const char *data;
	Size		len;
	Size		pos;
} SketchReader;

extern void sketch_read(SketchReader *r, void *dst, Size n);
extern void sketch_corrupt(const char *detail) pg_attribute_noreturn();
extern void sketch_put(StringInfo buf, const void *src, Size n);

/* HyperLogLog (hll.c) */
typedef struct HllSketch HllSketch;
extern HllSketch *hll_copy(const HllSketch *src, MemoryContext cxt);
extern HllSketch *hll_merge(HllSketch *dst, const HllSketch *src, MemoryContext cxt);
extern void hll_serialize(const HllSketch *h, StringInfo buf);
extern HllSketch *hll_deserialize(SketchReader *r, MemoryContext cxt);
extern double hll_estimate(const HllSketch *h);

/* t-digest (percentile.c) */
typedef struct TDigest TDigest;
extern TDigest *tdigest_copy(TDigest *src, MemoryContext cxt);
extern TDigest *tdigest_merge(TDigest *dst, TDigest *src, MemoryContext cxt);
extern void tdigest_serialize(TDigest *t, StringInfo buf);
extern TDigest *tdigest_deserialize(SketchReader *r, MemoryContext cxt);

/* sketch.c */
extern Sketch *sketch_from_bytea(bytea *b, MemoryContext cxt);
extern bytea *sketch_to_bytea(Sketch *s);
extern Sketch *sketch_merge(Sketch *dst, Sketch *src, MemoryContext cxt);
extern MemoryContext sketch_agg_context(FunctionCallInfo fcinfo, const char *fname);

#endif							/* STREAM_SKETCH_H */
