/*
 * columnar_progress.c
 *		The progress slots behind streamext.maintenance_progress: what each
 *		backend running streamext.optimize or streamext.vacuum is doing
 *		(interface: columnar_progress.h).
 *
 * Like pg_stat_progress_*: one slot per backend (indexed by its BackendId)
 * in shared memory, written only by its backend and read by anyone, under
 * one LWLock (updates come once per segment, so the lock is cheap).  The
 * view shows the backends of the current database (relid means nothing
 * elsewhere); pid and operation are shown to everyone, the rest only to
 * members of the backend's session role and of pg_read_all_stats, as
 * pg_stat_get_progress_info does.
 *
 * A slot belongs to the (sub)transaction that claimed it: the xact callbacks
 * below release it at commit, at abort and when the subtransaction it was
 * claimed in aborts, so an error or a cancel leaves no row behind.
 *
 * Shared memory is reserved only when streamext is in
 * shared_preload_libraries.  Without it the operations run the same but
 * report nothing (every call below is a no-op) and the view returns no rows
 * with a WARNING saying why.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid_d.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "columnar/columnar.h"
#include "columnar/columnar_progress.h"

#define PROGRESS_OPERATION_LEN 16
#define PROGRESS_PHASE_LEN 64

typedef struct ProgressSlot
{
	bool		in_use;
	int			pid;
	Oid			datid;
	Oid			userid;			/* session user, for the privilege check */
	Oid			relid;
	char		operation[PROGRESS_OPERATION_LEN];
	char		phase[PROGRESS_PHASE_LEN];
	int64		segments_total;
	int64		segments_done;
	int64		rows_done;
	TimestampTz started_at;
} ProgressSlot;

typedef struct ProgressShared
{
	LWLock	   *lock;
	int			nslots;
	ProgressSlot slots[FLEXIBLE_ARRAY_MEMBER];
} ProgressShared;

static ProgressShared *progress_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* This backend's claimed slot (NULL: none) and the subtransaction that claimed it. */
static ProgressSlot *my_slot = NULL;
static SubTransactionId my_subid = InvalidSubTransactionId;

static Size
progress_shmem_size(void)
{
	return add_size(offsetof(ProgressShared, slots),
					mul_size(MaxBackends, sizeof(ProgressSlot)));
}

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(progress_shmem_size());
	RequestNamedLWLockTranche("streamext maintenance progress", 1);
}

static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	progress_shared = ShmemInitStruct("streamext maintenance progress",
									  progress_shmem_size(), &found);
	if (!found)
	{
		memset(progress_shared, 0, progress_shmem_size());
		progress_shared->lock =
			&(GetNamedLWLockTranche("streamext maintenance progress"))->lock;
		progress_shared->nslots = MaxBackends;
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
progress_release(void)
{
	if (my_slot == NULL)
		return;
	LWLockAcquire(progress_shared->lock, LW_EXCLUSIVE);
	my_slot->in_use = false;
	LWLockRelease(progress_shared->lock);
	my_slot = NULL;
	my_subid = InvalidSubTransactionId;
}

static void
progress_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			progress_release();
			break;
		default:
			break;
	}
}

static void
progress_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	/* aborting a parent aborts its children first, so equality suffices */
	if (event == SUBXACT_EVENT_ABORT_SUB && my_slot != NULL && mySubid == my_subid)
		progress_release();
}

void
columnar_progress_init(void)
{
	RegisterXactCallback(progress_xact_callback, NULL);
	RegisterSubXactCallback(progress_subxact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
}

void
columnar_progress_begin(Oid relid, const char *operation)
{
	ProgressSlot *slot;

	if (progress_shared == NULL || MyBackendId == InvalidBackendId ||
		MyBackendId > progress_shared->nslots)
		return;
	slot = &progress_shared->slots[MyBackendId - 1];
	LWLockAcquire(progress_shared->lock, LW_EXCLUSIVE);
	slot->in_use = true;
	slot->pid = MyProcPid;
	slot->datid = MyDatabaseId;
	slot->userid = GetSessionUserId();
	slot->relid = relid;
	strlcpy(slot->operation, operation, PROGRESS_OPERATION_LEN);
	slot->phase[0] = '\0';
	slot->segments_total = 0;
	slot->segments_done = 0;
	slot->rows_done = 0;
	slot->started_at = GetCurrentTimestamp();
	LWLockRelease(progress_shared->lock);
	my_slot = slot;
	my_subid = GetCurrentSubTransactionId();
}

void
columnar_progress_phase(const char *phase)
{
	if (my_slot == NULL)
		return;
	LWLockAcquire(progress_shared->lock, LW_EXCLUSIVE);
	strlcpy(my_slot->phase, phase, PROGRESS_PHASE_LEN);
	LWLockRelease(progress_shared->lock);
}

void
columnar_progress_update(int64 segments_total, int64 segments_done, int64 rows_done)
{
	if (my_slot == NULL)
		return;
	LWLockAcquire(progress_shared->lock, LW_EXCLUSIVE);
	my_slot->segments_total = segments_total;
	my_slot->segments_done = segments_done;
	my_slot->rows_done = rows_done;
	LWLockRelease(progress_shared->lock);
}

void
columnar_progress_end(void)
{
	progress_release();
}

PG_FUNCTION_INFO_V1(columnar_maintenance_progress);

/*
 * streamext._maintenance_progress(): the rows of the view
 * streamext.maintenance_progress.  Copies the slots under the lock, then
 * builds the rows without it.
 */
Datum
columnar_maintenance_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ProgressSlot *copy;
	int			n = 0;
	bool		read_all;

	InitMaterializedSRF(fcinfo, 0);
	if (progress_shared == NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streamext.maintenance_progress needs streamext in shared_preload_libraries"),
				 errdetail("Without it optimize and vacuum run but report no progress."),
				 errhint("Add 'streamext' to shared_preload_libraries in postgresql.conf and restart the server.")));
		return (Datum) 0;
	}

	copy = palloc(sizeof(ProgressSlot) * progress_shared->nslots);
	LWLockAcquire(progress_shared->lock, LW_SHARED);
	for (int i = 0; i < progress_shared->nslots; i++)
		if (progress_shared->slots[i].in_use &&
			progress_shared->slots[i].datid == MyDatabaseId)
			copy[n++] = progress_shared->slots[i];
	LWLockRelease(progress_shared->lock);

	read_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	for (int i = 0; i < n; i++)
	{
		Datum		values[8];
		bool		nulls[8];
		bool		visible = read_all || has_privs_of_role(GetUserId(), copy[i].userid);

		memset(nulls, !visible, sizeof(nulls));
		values[0] = Int32GetDatum(copy[i].pid);
		nulls[0] = false;
		values[2] = CStringGetTextDatum(copy[i].operation);
		nulls[2] = false;
		if (visible)
		{
			values[1] = ObjectIdGetDatum(copy[i].relid);
			values[3] = CStringGetTextDatum(copy[i].phase);
			values[4] = Int64GetDatum(copy[i].segments_total);
			values[5] = Int64GetDatum(copy[i].segments_done);
			values[6] = Int64GetDatum(copy[i].rows_done);
			values[7] = TimestampTzGetDatum(copy[i].started_at);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
