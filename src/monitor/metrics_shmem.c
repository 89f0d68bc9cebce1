/*
 * metrics_shmem.c
 *		The counters behind streamext.metrics() that no catalog table keeps:
 *		per source and pipeline the committed batches, their durations as a
 *		histogram, the sources' messages/rows/dead letters/bytes, worker
 *		restarts, and the consumer lag of each partition.
 *
 * They live in shared memory so that every worker can bump them and any
 * backend can read them, under one LWLock.  They count from the start of the
 * server: a worker that restarts does not reset them, so the _total metrics
 * stay monotonic (Prometheus sees a reset only when the server restarts).
 * The table has room for MONITOR_MAX_OBJECTS objects; when it is full the
 * object not updated for the longest time (a dropped one, most likely)
 * gives up its entry.
 *
 * Entries are keyed by database as well as by id: source and pipeline ids
 * come from each database's own sequences, so pipeline 1 of one database
 * and pipeline 1 of another are different objects, and metrics() of a
 * database reports only its own (it names them from its own catalog).
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "monitor/monitor.h"

#define MONITOR_MAX_OBJECTS    512
#define MONITOR_MAX_PARTITIONS 2048
#define MONITOR_NBUCKETS       14

/* upper bounds (seconds) of the batch-duration buckets; +Inf is the count */
static const double bucket_bounds[MONITOR_NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                       1,     2.5,  5,     10,   30,  60,   300};

typedef struct MonitorObject
{
	char kind; /* 's' source, 'p' pipeline, 0 free */
	Oid dboid; /* the database of the source or pipeline */
	int64 id;
	TimestampTz updated;
	int64 batches;
	int64 messages;
	int64 rows;
	int64 dead_letters;
	int64 bytes;
	int64 restarts;
	double seconds_sum;
	int64 buckets[MONITOR_NBUCKETS]; /* not cumulative */
} MonitorObject;

typedef struct MonitorPartition
{
	int64 source_id; /* 0: free */
	Oid dboid;
	int32 partition;
	int64 lag;
	TimestampTz updated;
} MonitorPartition;

typedef struct MonitorShared
{
	LWLock *lock;
	MonitorObject objects[MONITOR_MAX_OBJECTS];
	MonitorPartition partitions[MONITOR_MAX_PARTITIONS];
} MonitorShared;

static MonitorShared *monitor_shared = NULL;

Size
monitor_shmem_size(void)
{
	return MAXALIGN(sizeof(MonitorShared));
}

void
monitor_shmem_startup(void)
{
	bool found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	monitor_shared = ShmemInitStruct("streamext monitor", monitor_shmem_size(), &found);
	if (!found)
	{
		memset(monitor_shared, 0, monitor_shmem_size());
		monitor_shared->lock = &(GetNamedLWLockTranche("streamext monitor"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The entry of (kind, id) in this database, taken if new; under the exclusive lock. */
static MonitorObject *
object_entry(char kind, int64 id)
{
	MonitorObject *oldest = NULL;
	int i;

	for (i = 0; i < MONITOR_MAX_OBJECTS; i++)
	{
		MonitorObject *o = &monitor_shared->objects[i];

		if (o->kind == kind && o->id == id && o->dboid == MyDatabaseId)
			return o;
		if (oldest == NULL || o->kind == 0 || (oldest->kind != 0 && o->updated < oldest->updated))
			oldest = o;
	}
	memset(oldest, 0, sizeof(MonitorObject));
	oldest->kind = kind;
	oldest->dboid = MyDatabaseId;
	oldest->id = id;
	return oldest;
}

void
monitor_record_batch(char kind, int64 id, int64 messages, int64 rows, int64 dead_letters,
                     int64 bytes, double seconds)
{
	MonitorObject *o;
	int b;

	if (monitor_shared == NULL)
		return;
	LWLockAcquire(monitor_shared->lock, LW_EXCLUSIVE);
	o = object_entry(kind, id);
	o->updated = GetCurrentTimestamp();
	o->batches++;
	o->messages += messages;
	o->rows += rows;
	o->dead_letters += dead_letters;
	o->bytes += bytes;
	o->seconds_sum += seconds;
	for (b = 0; b < MONITOR_NBUCKETS; b++)
		if (seconds <= bucket_bounds[b])
		{
			o->buckets[b]++;
			break;
		}
	LWLockRelease(monitor_shared->lock);
}

void
monitor_count_restart(const char *kind, int64 id)
{
	MonitorObject *o;

	if (monitor_shared == NULL)
		return;
	LWLockAcquire(monitor_shared->lock, LW_EXCLUSIVE);
	o = object_entry(strcmp(kind, "source") == 0 ? 's' : 'p', id);
	o->updated = GetCurrentTimestamp();
	o->restarts++;
	LWLockRelease(monitor_shared->lock);
}

void
monitor_source_partition_lag(int64 source_id, int32 partition, int64 lag)
{
	MonitorPartition *slot = NULL;
	int i;

	if (monitor_shared == NULL)
		return;
	LWLockAcquire(monitor_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < MONITOR_MAX_PARTITIONS; i++)
	{
		MonitorPartition *p = &monitor_shared->partitions[i];

		if (p->source_id == source_id && p->dboid == MyDatabaseId && p->partition == partition)
		{
			slot = p;
			break;
		}
		if (slot == NULL || p->source_id == 0 ||
		    (slot->source_id != 0 && p->updated < slot->updated))
			slot = p;
	}
	slot->source_id = source_id;
	slot->dboid = MyDatabaseId;
	slot->partition = partition;
	slot->lag = lag;
	slot->updated = GetCurrentTimestamp();
	LWLockRelease(monitor_shared->lock);
}

PG_FUNCTION_INFO_V1(streamext_monitor_batch_stats);

/*
 * streamext._monitor_batch_stats() → SETOF (kind, id, batches, messages,
 * rows, dead_letters, bytes, restarts, seconds_sum, bounds float8[],
 * buckets bigint[] cumulative): the shared counters of every object of this database.
 */
Datum
streamext_monitor_batch_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
	MonitorObject *copy;
	Datum bounds[MONITOR_NBUCKETS];
	int i;

	InitMaterializedSRF(fcinfo, 0);
	if (monitor_shared == NULL)
		PG_RETURN_VOID();
	copy = palloc(sizeof(monitor_shared->objects));
	LWLockAcquire(monitor_shared->lock, LW_SHARED);
	memcpy(copy, monitor_shared->objects, sizeof(monitor_shared->objects));
	LWLockRelease(monitor_shared->lock);

	for (i = 0; i < MONITOR_NBUCKETS; i++)
		bounds[i] = Float8GetDatum(bucket_bounds[i]);
	for (i = 0; i < MONITOR_MAX_OBJECTS; i++)
	{
		MonitorObject *o = &copy[i];
		Datum values[11];
		bool nulls[11] = {0};
		Datum cum[MONITOR_NBUCKETS];
		int64 running = 0;
		int b;

		if (o->kind == 0 || o->dboid != MyDatabaseId)
			continue;
		for (b = 0; b < MONITOR_NBUCKETS; b++)
		{
			running += o->buckets[b];
			cum[b] = Int64GetDatum(running);
		}
		values[0] = CStringGetTextDatum(o->kind == 's' ? "source" : "pipeline");
		values[1] = Int64GetDatum(o->id);
		values[2] = Int64GetDatum(o->batches);
		values[3] = Int64GetDatum(o->messages);
		values[4] = Int64GetDatum(o->rows);
		values[5] = Int64GetDatum(o->dead_letters);
		values[6] = Int64GetDatum(o->bytes);
		values[7] = Int64GetDatum(o->restarts);
		values[8] = Float8GetDatum(o->seconds_sum);
		values[9] = PointerGetDatum(construct_array(
		    bounds, MONITOR_NBUCKETS, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[10] = PointerGetDatum(construct_array(cum, MONITOR_NBUCKETS, INT8OID, sizeof(int64),
		                                             FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(streamext_monitor_partition_lag);

/* streamext._monitor_partition_lag() → SETOF (source_id, partition, lag) */
Datum
streamext_monitor_partition_lag(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
	MonitorPartition *copy;
	int i;

	InitMaterializedSRF(fcinfo, 0);
	if (monitor_shared == NULL)
		PG_RETURN_VOID();
	copy = palloc(sizeof(monitor_shared->partitions));
	LWLockAcquire(monitor_shared->lock, LW_SHARED);
	memcpy(copy, monitor_shared->partitions, sizeof(monitor_shared->partitions));
	LWLockRelease(monitor_shared->lock);
	for (i = 0; i < MONITOR_MAX_PARTITIONS; i++)
	{
		Datum values[3];
		bool nulls[3] = {0};

		if (copy[i].source_id == 0 || copy[i].dboid != MyDatabaseId)
			continue;
		values[0] = Int64GetDatum(copy[i].source_id);
		values[1] = Int32GetDatum(copy[i].partition);
		values[2] = Int64GetDatum(copy[i].lag);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
