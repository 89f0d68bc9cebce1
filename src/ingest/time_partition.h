/*
 * time_partition.h
 *		The time_partition source option on the worker's side: which range
 *		partitions a batch needs, creating them, periodic maintenance.
 */
#ifndef STREAMEXT_TIME_PARTITION_H
#define STREAMEXT_TIME_PARTITION_H

#include "executor/tuptable.h"
#include "utils/jsonb.h"
#include "utils/rel.h"

typedef struct TimePartition TimePartition;

/* What tpart_check_row says about a row. */
typedef enum TpartVerdict
{
	TPART_COVERED,				/* an existing partition takes it */
	TPART_PENDING,				/* its partition must be created first */
	TPART_REJECT				/* no partition can exist for it */
} TpartVerdict;

extern TimePartition *tpart_create(Jsonb *options, MemoryContext cxt);
extern void tpart_begin(TimePartition *tp, Relation rel);
extern TpartVerdict tpart_check_row(TimePartition *tp, TupleTableSlot *slot, char **reject);
extern bool tpart_pending(TimePartition *tp);
extern void tpart_apply(TimePartition *tp, Oid target, Jsonb *options, const char *source_name);
extern void tpart_maintain(TimePartition *tp, const char *source_name);
extern const char *tpart_retention_wait(TimePartition *tp);

#endif							/* STREAMEXT_TIME_PARTITION_H */
