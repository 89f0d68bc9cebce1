/*
 * columnar_vacuum.c
 *		streamext.vacuum(tbl, retain, dry_run): physically remove the data of
 *		a versioned_columnar table that no version committed within the
 *		retention still needs (Delta's VACUUM), and the check every reader of
 *		old versions makes against what was removed.
 *
 * The rule.  R, the oldest version that stays readable, is the newest
 * version committed at or before now() - retain (the table as it was at the
 * cutoff must stay readable), but no newer than the last version read by any
 * pipeline reading the table (it reads the changes of the versions after
 * that one, which need the state of that version).  as_of a version >= R
 * needs exactly: the segments added at or before it and not removed by then
 * -- so every segment not removed by a version <= R -- and their deletion
 * vectors.  So vacuum
 *   - removes (segment row, its chunks, its deletion vectors) every segment
 *     removed by a version <= R, and every segment all of whose rows are
 *     deleted by versions <= R (no version >= R shows any of its rows);
 *   - folds the deletion vectors of versions <= R of every other segment
 *     into one (every version >= R applies all of them), keeping the UPDATE
 *     successor links of each row;
 *   - records R in streamext.columnar_vacuumed and writes one version,
 *     operation VACUUM, whose parameters say what it did (only when it
 *     removed something: a scheduled vacuum of an idle table adds no
 *     versions).  as_of a version < R then fails, and so do changes() from a
 *     version <= R (the changes of version R need the segments R removed).
 * Only metadata whose writing transaction every running snapshot sees as
 * committed (xmin before the removal horizon) is touched, so no running
 * statement can still see those rows live or need an UPDATE's successor
 * that a removed segment held; what is too recent waits for the next run.
 *
 * Concurrency.  The scan takes no lock beyond ShareUpdateExclusiveLock on
 * the table (one vacuum or optimize at a time; readers and writers go on).
 * The removal then takes the writer lock (writers wait until vacuum
 * commits: they read deletion vectors with SnapshotSelf, which must not see
 * a fold half done) and the table's "old version readers" lock in exclusive
 * mode: every reader of an old version holds it in share mode (ShareLock:
 * the weakest mode ExclusiveLock conflicts with) for its transaction
 * (columnar_check_readable), so vacuum waits for the readers in flight and
 * later ones find R committed.  Readers of the current rows take
 * neither lock and never wait.  Everything is heap rows deleted and
 * inserted in vacuum's transaction: a cancel, an error or a crash leaves the
 * table as it was; afterwards PostgreSQL's own (auto)vacuum of the metadata
 * tables frees the space for reuse.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_metadata.h"
#include "columnar/columnar_progress.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* advisory lock tag of the "old version readers" lock (the writer lock is 0x5343) */
#define COLUMNAR_READERS_LOCK_FIELD4 0x5356

bool		columnar_vacuum_retention_check = true;

/* One deletion vector of a segment, as vacuum found it. */
typedef struct VacDeletion
{
	ItemPointerData tid;
	int64		version;
	bool		old;			/* version <= R and its xmin before the horizon */
	Size		bytes;
} VacDeletion;

/* What vacuum does to one segment. */
typedef enum VacAction
{
	VAC_KEEP,
	VAC_REMOVE,
	VAC_FOLD
} VacAction;

typedef struct VacSegment
{
	int64		segno;
	int32		row_count;
	VacAction	action;
} VacSegment;

typedef struct VacCounts
{
	int64		segments;
	int64		chunks;
	int64		deletions;		/* deletion vectors removed (net of the folded ones written) */
	int64		rows;
	int64		bytes;
} VacCounts;

void
columnar_vacuum_init(void)
{
	DefineCustomBoolVariable("streamext.vacuum_retention_check",
							 "Refuse streamext.vacuum with a retain shorter than 7 days.",
							 "As Delta's retentionDurationCheck: a short retention removes versions that "
							 "long-running queries or lagging readers elsewhere may still want.",
							 &columnar_vacuum_retention_check, true, PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

static void
readers_locktag(LOCKTAG *tag, int64 storage_id)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (storage_id >> 32),
						 (uint32) storage_id, COLUMNAR_READERS_LOCK_FIELD4);
}

/*
 * The oldest readable version recorded by the last vacuum (0: never
 * vacuumed), as SnapshotSelf sees it: committed vacuums and our own.
 */
int64
columnar_readable_from(int64 storage_id)
{
	Relation	rel = table_open(ColumnarVacuumedRelationId(), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	int64		result = 0;

	ScanKeyInit(&key, Anum_columnar_vacuumed_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	scan = systable_beginscan(rel, ColumnarVacuumedPkeyIndexId(), true,
							  SnapshotSelf, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;

		result = DatumGetInt64(heap_getattr(tup, Anum_columnar_vacuumed_readable_from,
											RelationGetDescr(rel), &isnull));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

/*
 * Before reading version `version` of a table (for changes: the changes
 * from `version` on): hold the old-version readers lock for the rest of the
 * transaction, so that no vacuum removes what this read needs, then fail if
 * a vacuum already did.  Parallel workers rely on their leader's lock.
 */
void
columnar_check_readable(Relation rel, int64 storage_id, int64 version, bool changes)
{
	LOCKTAG		tag;
	int64		from;

	if (!IsParallelWorker())
	{
		readers_locktag(&tag, storage_id);
		(void) LockAcquire(&tag, ShareLock, false, false);
	}
	from = columnar_readable_from(storage_id);
	if (from == 0)
		return;
	if (!changes && version < from)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version " INT64_FORMAT " of table \"%s\" was removed by streamext.vacuum",
						version, RelationGetRelationName(rel)),
				 errdetail("The oldest readable version is " INT64_FORMAT ".", from),
				 errhint("streamext.vacuum keeps the versions committed within its retain interval.")));
	if (changes && version <= from)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the changes of version " INT64_FORMAT " of table \"%s\" were removed by streamext.vacuum",
						version, RelationGetRelationName(rel)),
				 errdetail("The oldest readable version is " INT64_FORMAT "; changes are complete from version " INT64_FORMAT " on.",
						   from, from + 1)));
}

/* ---------------------------------------------------------------- */
/* which version stays readable                                      */
/* ---------------------------------------------------------------- */

/* The newest version committed at or before cutoff (0: none), and the latest. */
static int64
version_at(int64 storage_id, TimestampTz cutoff, int64 *latest)
{
	Relation	rel = table_open(ColumnarVersionRelationId(), AccessShareLock);
	Relation	idx = index_open(ColumnarVersionPkeyIndexId(), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	int64		result = 0;

	*latest = 0;
	ScanKeyInit(&key, Anum_columnar_version_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	scan = systable_beginscan_ordered(rel, idx, GetActiveSnapshot(), 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		bool		isnull;
		int64		v = DatumGetInt64(heap_getattr(tup, Anum_columnar_version_version,
												   RelationGetDescr(rel), &isnull));
		TimestampTz at = DatumGetTimestampTz(heap_getattr(tup, Anum_columnar_version_committed_at,
														  RelationGetDescr(rel), &isnull));

		CHECK_FOR_INTERRUPTS();
		*latest = v;
		if (at <= cutoff)
			result = v;
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return result;
}

/*
 * The lowest last-read version of the pipelines reading relid (-1: none
 * reads it), and the name of that pipeline.  The catalog is read directly:
 * its row-level security would hide other roles' pipelines, which need the
 * data as much.  The latest snapshot: a pipeline created meanwhile counts.
 */
static int64
pipelines_floor(Oid relid, char **name)
{
	Oid			nsp = get_namespace_oid("streamext", false);
	Oid			pipes_id = get_relname_relid("pipelines", nsp);
	Oid			prog_id = get_relname_relid("pipeline_progress", nsp);
	Relation	pipes;
	Relation	prog;
	TableScanDesc scan;
	HeapTuple	tup;
	Snapshot	snap;
	int64		result = -1;
	AttrNumber	a_id,
				a_name,
				a_source,
				a_pid,
				a_version;

	*name = NULL;
	if (!OidIsValid(pipes_id) || !OidIsValid(prog_id))
		return -1;
	pipes = table_open(pipes_id, AccessShareLock);
	prog = table_open(prog_id, AccessShareLock);
	a_id = get_attnum(pipes_id, "id");
	a_name = get_attnum(pipes_id, "name");
	a_source = get_attnum(pipes_id, "source");
	a_pid = get_attnum(prog_id, "pipeline_id");
	a_version = get_attnum(prog_id, "version");
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(pipes, snap, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		int64		id;
		int64		v = 0;
		TableScanDesc pscan;
		HeapTuple	ptup;

		CHECK_FOR_INTERRUPTS();
		if (DatumGetObjectId(heap_getattr(tup, a_source, RelationGetDescr(pipes), &isnull)) != relid)
			continue;
		id = DatumGetInt64(heap_getattr(tup, a_id, RelationGetDescr(pipes), &isnull));
		pscan = table_beginscan(prog, snap, 0, NULL);
		while ((ptup = heap_getnext(pscan, ForwardScanDirection)) != NULL)
		{
			Datum		d;

			if (DatumGetInt64(heap_getattr(ptup, a_pid, RelationGetDescr(prog), &isnull)) != id)
				continue;
			d = heap_getattr(ptup, a_version, RelationGetDescr(prog), &isnull);
			v = isnull ? 0 : DatumGetInt64(d);
			break;
		}
		table_endscan(pscan);
		if (result < 0 || v < result)
		{
			result = v;
			*name = TextDatumGetCString(heap_getattr(tup, a_name, RelationGetDescr(pipes), &isnull));
		}
	}
	table_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(prog, AccessShareLock);
	table_close(pipes, AccessShareLock);
	return result;
}

/* ---------------------------------------------------------------- */
/* the scan: what to remove                                          */
/* ---------------------------------------------------------------- */

/* bytes of one metadata row, with its TOASTed data (as columnar_size counts) */
static Size
tuple_bytes(HeapTuple tup, TupleDesc desc, int toast_att)
{
	Size		n = tup->t_len + sizeof(ItemIdData);

	if (toast_att > 0)
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, toast_att, desc, &isnull);

		if (!isnull && VARATT_IS_EXTERNAL(DatumGetPointer(d)))
			n += toast_datum_size(d);
	}
	return n;
}

static bool
old_enough(HeapTuple tup, TransactionId horizon)
{
	TransactionId xmin = HeapTupleHeaderGetXmin(tup->t_data);

	return !TransactionIdIsNormal(xmin) || TransactionIdPrecedes(xmin, horizon);
}

/* Bytes of the chunks of one segment. */
static Size
chunk_bytes(int64 storage_id, int64 segno, int64 *nchunks)
{
	Relation	rel = table_open(ColumnarChunkRelationId(), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	Size		n = 0;

	ScanKeyInit(&key[0], Anum_columnar_chunk_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], Anum_columnar_chunk_segno, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(segno));
	scan = systable_beginscan(rel, ColumnarChunkPkeyIndexId(), true,
							  GetActiveSnapshot(), 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		n += tuple_bytes(tup, RelationGetDescr(rel), Anum_columnar_chunk_data);
		(*nchunks)++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return n;
}

/*
 * The deletion vectors of one segment; *dead: are all its rows deleted by
 * the old ones?  *old_bytes: the size of the old ones.
 */
static List *
segment_deletions(int64 storage_id, VacSegment *vs, int64 R, TransactionId horizon,
				  bool *dead, Size *old_bytes, int *nold)
{
	Relation	rel = table_open(ColumnarDeletionRelationId(), AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;
	int			nbytes = (vs->row_count + 7) / 8;
	uint8	   *bits = palloc0(nbytes);
	int			ndel = 0;

	*old_bytes = 0;
	*nold = 0;
	ScanKeyInit(&key[0], Anum_columnar_deletion_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], Anum_columnar_deletion_segno, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(vs->segno));
	scan = systable_beginscan(rel, ColumnarDeletionPkeyIndexId(), true,
							  GetActiveSnapshot(), 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		VacDeletion *d = palloc(sizeof(VacDeletion));
		bool		isnull;

		d->tid = tup->t_self;
		d->version = DatumGetInt64(heap_getattr(tup, Anum_columnar_deletion_version,
												RelationGetDescr(rel), &isnull));
		d->old = d->version <= R && old_enough(tup, horizon);
		d->bytes = tuple_bytes(tup, RelationGetDescr(rel), 0);
		if (d->old)
		{
			bytea	   *b = DatumGetByteaPP(heap_getattr(tup, Anum_columnar_deletion_deleted,
														 RelationGetDescr(rel), &isnull));
			int			len = Min((int) VARSIZE_ANY_EXHDR(b), nbytes);

			for (int i = 0; i < len; i++)
				bits[i] |= ((uint8 *) VARDATA_ANY(b))[i];
			*old_bytes += d->bytes;
			(*nold)++;
		}
		result = lappend(result, d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	for (int i = 0; i < vs->row_count; i++)
		if (bits[i / 8] & (1 << (i % 8)))
			ndel++;
	*dead = (ndel == vs->row_count);
	pfree(bits);
	return result;
}

/* ---------------------------------------------------------------- */
/* the removal                                                       */
/* ---------------------------------------------------------------- */

/*
 * Delete the rows of (storage_id, segno) from a metadata table, as
 * SnapshotSelf sees them; segno_att: the table's segno column, index: an
 * index leading with (storage_id, segno).
 */
static void
delete_segment_rows(Oid table, Oid index, AttrNumber segno_att, int64 storage_id, int64 segno)
{
	Relation	rel = table_open(table, RowExclusiveLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&key[0], Anum_columnar_meta_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	ScanKeyInit(&key[1], segno_att, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(segno));
	scan = systable_beginscan(rel, index, true, SnapshotSelf, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		CHECK_FOR_INTERRUPTS();
		CatalogTupleDelete(rel, &tup->t_self);
	}
	systable_endscan(scan);
	table_close(rel, RowExclusiveLock);
}

/*
 * Replace the old deletion vectors of a segment by one, of the newest of
 * their versions, with every row's successor as its own vector had it.
 */
static void
fold_deletions(int64 storage_id, VacSegment *vs, List *dels)
{
	Relation	rel = table_open(ColumnarDeletionRelationId(), RowExclusiveLock);
	int			nbytes = (vs->row_count + 7) / 8;
	uint8	   *bits = palloc0(nbytes);
	int64	   *succ = palloc(sizeof(int64) * vs->row_count);
	bool		any_succ = false;
	int64		version = 0;
	ListCell   *lc;

	for (int i = 0; i < vs->row_count; i++)
		succ[i] = -1;
	foreach(lc, dels)
	{
		VacDeletion *d = lfirst(lc);
		HeapTupleData tupdata;
		HeapTuple	tup = &tupdata;
		Buffer		buf;
		bool		isnull;
		bytea	   *b;
		Datum		sd;
		int			len;
		int			rank = 0;

		if (!d->old)
			continue;
		CHECK_FOR_INTERRUPTS();
		tupdata.t_self = d->tid;
		if (!heap_fetch(rel, SnapshotSelf, tup, &buf, false))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("a deletion vector of segment " INT64_FORMAT " changed during streamext.vacuum",
							vs->segno)));
		b = DatumGetByteaPP(heap_getattr(tup, Anum_columnar_deletion_deleted,
										 RelationGetDescr(rel), &isnull));
		len = Min((int) VARSIZE_ANY_EXHDR(b), nbytes);
		sd = heap_getattr(tup, Anum_columnar_deletion_successors, RelationGetDescr(rel), &isnull);
		for (int i = 0; i < len * 8 && i < vs->row_count; i++)
		{
			if (!(((uint8 *) VARDATA_ANY(b))[i / 8] & (1 << (i % 8))))
				continue;
			bits[i / 8] |= (1 << (i % 8));
			if (!isnull)
			{
				bytea	   *sb = DatumGetByteaPP(sd);

				if ((Size) (rank + 1) * sizeof(int64) <= VARSIZE_ANY_EXHDR(sb))
				{
					memcpy(&succ[i], VARDATA_ANY(sb) + rank * sizeof(int64), sizeof(int64));
					if (succ[i] != -1)
						any_succ = true;
				}
			}
			rank++;
		}
		version = Max(version, d->version);
		ReleaseBuffer(buf);
		CatalogTupleDelete(rel, &d->tid);
	}
	table_close(rel, RowExclusiveLock);
	CommandCounterIncrement();
	columnar_insert_deletion(storage_id, vs->segno, version, bits, vs->row_count,
							 any_succ ? succ : NULL);
	pfree(bits);
	pfree(succ);
}

/* Record the oldest readable version (insert or update the table's row). */
static void
record_readable_from(int64 storage_id, int64 R, int64 version)
{
	Relation	rel = table_open(ColumnarVacuumedRelationId(), RowExclusiveLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Datum		values[Natts_columnar_vacuumed];
	bool		nulls[Natts_columnar_vacuumed];

	memset(nulls, false, sizeof(nulls));
	values[Anum_columnar_vacuumed_storage_id - 1] = Int64GetDatum(storage_id);
	values[Anum_columnar_vacuumed_readable_from - 1] = Int64GetDatum(R);
	values[Anum_columnar_vacuumed_vacuumed_at - 1] = TimestampTzGetDatum(GetCurrentTimestamp());
	values[Anum_columnar_vacuumed_version - 1] = Int64GetDatum(version);
	ScanKeyInit(&key, Anum_columnar_vacuumed_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	scan = systable_beginscan(rel, ColumnarVacuumedPkeyIndexId(), true,
							  SnapshotSelf, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		repl[Natts_columnar_vacuumed];
		HeapTuple	newtup;

		/* the storage_id stays, everything else is the new vacuum's */
		memset(repl, true, sizeof(repl));
		repl[Anum_columnar_vacuumed_storage_id - 1] = false;
		newtup = heap_modify_tuple(tup, RelationGetDescr(rel), values, nulls, repl);
		CatalogTupleUpdate(rel, &newtup->t_self, newtup);
	}
	else
		CatalogTupleInsert(rel, heap_form_tuple(RelationGetDescr(rel), values, nulls));
	systable_endscan(scan);
	table_close(rel, RowExclusiveLock);
	CommandCounterIncrement();
}

/* ---------------------------------------------------------------- */
/* streamext.vacuum                                                  */
/* ---------------------------------------------------------------- */

static void
check_retention(Interval *retain)
{
	Interval	week;

	memset(&week, 0, sizeof(week));
	week.day = 7;
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(retain),
										  IntervalPGetDatum(&week))) >= 0)
		return;
	if (retain->time < 0 || retain->day < 0 || retain->month < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retain must not be negative")));
	if (columnar_vacuum_retention_check)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retain %s is shorter than 7 days",
						DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(retain)))),
				 errdetail("A short retention removes versions that long-running queries, time travel and lagging readers may still need."),
				 errhint("If you are certain, SET streamext.vacuum_retention_check = off first.")));
}

static char *
result_json(bool dry_run, const char *retain, int64 R, int64 before, VacCounts *c,
			int64 version, const char *pipeline, int64 pipeline_version)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"dry_run\": %s, \"retain\": ", dry_run ? "true" : "false");
	escape_json(&s, retain);
	appendStringInfo(&s, ", \"readable_from\": " INT64_FORMAT ", \"readable_from_before\": " INT64_FORMAT
					 ", \"segments_removed\": " INT64_FORMAT ", \"chunks_removed\": " INT64_FORMAT
					 ", \"deletion_records_removed\": " INT64_FORMAT ", \"rows_removed\": " INT64_FORMAT
					 ", \"bytes_removed\": " INT64_FORMAT,
					 R, before, c->segments, c->chunks, c->deletions, c->rows, c->bytes);
	if (version > 0)
		appendStringInfo(&s, ", \"version\": " INT64_FORMAT, version);
	if (pipeline)
	{
		appendStringInfoString(&s, ", \"held_back_by_pipeline\": ");
		escape_json(&s, pipeline);
		appendStringInfo(&s, ", \"pipeline_version\": " INT64_FORMAT, pipeline_version);
	}
	appendStringInfoChar(&s, '}');
	return s.data;
}

PG_FUNCTION_INFO_V1(columnar_vacuum);

/* streamext.vacuum(tbl regclass, retain interval, dry_run boolean) -> jsonb */
Datum
columnar_vacuum(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Interval   *retain = PG_GETARG_INTERVAL_P(1);
	bool		dry_run = PG_GETARG_BOOL(2);
	char	   *retain_text = DatumGetCString(DirectFunctionCall1(interval_out,
																  IntervalPGetDatum(retain)));
	Relation	rel;
	int64		storage_id;
	TimestampTz cutoff;
	int64		latest;
	int64		R;
	int64		before;
	int64		pipe_v;
	char	   *pipe_name;
	bool		by_pipeline = false;
	TransactionId horizon;
	List	   *segs;
	ListCell   *lc;
	VacSegment *vsegs;
	List	  **dels;
	int			nsegs;
	int			i;
	VacCounts	c;
	int64		version = 0;
	char	   *json;

	memset(&c, 0, sizeof(c));

	/*
	 * The owner check comes before the lock, as VACUUM's: a role that may
	 * not vacuum the table must not wait for a lock its owner holds and
	 * queue every later reader and writer behind it.  Checked again once
	 * locked (an ALTER OWNER may have committed in between).
	 */
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
	rel = table_open(relid, ShareUpdateExclusiveLock);
	if (!columnar_is_columnar(rel))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is not a versioned_columnar table",
						RelationGetRelationName(rel)),
				 errhint("streamext.vacuum removes old versions of versioned_columnar tables; VACUUM is for other tables.")));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
	check_retention(retain);
	storage_id = columnar_storage_id(rel, false);
	/* its version must hold its removal only (the rows written so far would be labelled VACUUM) */
	if (columnar_write_state_find(storage_id) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot vacuum table \"%s\": this transaction has written to it",
						RelationGetRelationName(rel)),
				 errhint("Run streamext.vacuum in a transaction of its own.")));

	columnar_progress_begin(relid, "vacuum");
	columnar_progress_phase("scanning versions");
	cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													 TimestampTzGetDatum(GetCurrentTimestamp()),
													 IntervalPGetDatum(retain)));
	R = version_at(storage_id, cutoff, &latest);
	before = columnar_readable_from(storage_id);
	pipe_v = pipelines_floor(relid, &pipe_name);
	if (pipe_v >= 0 && pipe_v < R)
	{
		R = pipe_v;
		by_pipeline = true;
	}
	if (R < before)
		R = before;
	if (before == 0)
		before = latest > 0 ? 1 : 0;

	/* nothing committed before the cutoff (or nothing a pipeline has read): nothing to do */
	if (R <= 0)
	{
		columnar_progress_end();
		table_close(rel, NoLock);
		json = result_json(dry_run, retain_text, before, before, &c, 0,
						   by_pipeline ? pipe_name : NULL, pipe_v);
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	}

	/* what to remove: every segment, as the active snapshot sees it */
	columnar_progress_phase("scanning segments");
	{
		Relation	segrel = table_open(ColumnarSegmentRelationId(), AccessShareLock);

		horizon = GetOldestNonRemovableTransactionId(segrel);
		table_close(segrel, AccessShareLock);
	}
	segs = columnar_segments(storage_id, GetActiveSnapshot());
	nsegs = list_length(segs);
	vsegs = palloc0(sizeof(VacSegment) * (nsegs + 1));
	dels = palloc0(sizeof(List *) * (nsegs + 1));
	i = 0;
	foreach(lc, segs)
	{
		ColumnarSegment *seg = lfirst(lc);
		VacSegment *vs = &vsegs[i];
		bool		dead;
		Size		old_bytes;
		int			nold;
		bool		removed_old;

		CHECK_FOR_INTERRUPTS();
		vs->segno = seg->segno;
		vs->row_count = seg->row_count;
		vs->action = VAC_KEEP;
		dels[i] = segment_deletions(storage_id, vs, R, horizon, &dead, &old_bytes, &nold);
		removed_old = seg->removed_version != 0 && seg->removed_version <= R;
		if (removed_old || dead)
		{
			/* the segment row itself must be old enough: it records the removal */
			Relation	segrel = table_open(ColumnarSegmentRelationId(), AccessShareLock);
			ScanKeyData key[2];
			SysScanDesc scan;
			HeapTuple	tup;
			bool		ok = false;

			ScanKeyInit(&key[0], Anum_columnar_segment_storage_id, BTEqualStrategyNumber,
						F_INT8EQ, Int64GetDatum(storage_id));
			ScanKeyInit(&key[1], Anum_columnar_segment_segno, BTEqualStrategyNumber,
						F_INT8EQ, Int64GetDatum(seg->segno));
			scan = systable_beginscan(segrel, ColumnarSegmentPkeyIndexId(), true,
									  GetActiveSnapshot(), 2, key);
			if (HeapTupleIsValid(tup = systable_getnext(scan)))
			{
				ok = dead || old_enough(tup, horizon);
				if (ok)
					c.bytes += tuple_bytes(tup, RelationGetDescr(segrel), 0);
			}
			systable_endscan(scan);
			table_close(segrel, AccessShareLock);
			if (ok)
			{
				ListCell   *lc2;

				vs->action = VAC_REMOVE;
				c.segments++;
				c.rows += seg->row_count;
				c.bytes += chunk_bytes(storage_id, seg->segno, &c.chunks);
				foreach(lc2, dels[i])
					c.bytes += ((VacDeletion *) lfirst(lc2))->bytes;
				c.deletions += list_length(dels[i]);
			}
		}
		if (vs->action == VAC_KEEP && nold >= 2)
		{
			vs->action = VAC_FOLD;
			c.deletions += nold - 1;
			/* the folded vector is about the size of one of them */
			c.bytes += old_bytes - old_bytes / nold;
		}
		i++;
		columnar_progress_update(nsegs, i, c.rows);
	}

	/*
	 * Nothing to remove: no version either (moving R alone would gain
	 * nothing, and a scheduled vacuum would add a version at every run).
	 */
	if (dry_run || (c.segments == 0 && c.deletions == 0))
	{
		columnar_progress_end();
		table_close(rel, NoLock);
		json = result_json(dry_run, retain_text, dry_run ? R : before, before, &c, 0,
						   by_pipeline ? pipe_name : NULL, pipe_v);
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	}

	/*
	 * The removal: writers wait from here until we commit (the writer lock
	 * also gives this vacuum its version), readers of old versions in flight
	 * finish first.
	 */
	columnar_progress_phase("waiting for old-version readers and writers");
	version = columnar_set_operation(rel, "VACUUM", NULL);
	{
		LOCKTAG		tag;

		readers_locktag(&tag, storage_id);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	}
	columnar_progress_phase("removing segments and deletion vectors");
	{
		int64		done_rows = 0;

		for (i = 0; i < nsegs; i++)
		{
			VacSegment *vs = &vsegs[i];

			CHECK_FOR_INTERRUPTS();
			if (vs->action == VAC_REMOVE)
			{
				delete_segment_rows(ColumnarChunkRelationId(), ColumnarChunkPkeyIndexId(),
									Anum_columnar_chunk_segno, storage_id, vs->segno);
				delete_segment_rows(ColumnarDeletionRelationId(), ColumnarDeletionPkeyIndexId(),
									Anum_columnar_deletion_segno, storage_id, vs->segno);
				delete_segment_rows(ColumnarSegmentRelationId(), ColumnarSegmentPkeyIndexId(),
									Anum_columnar_segment_segno, storage_id, vs->segno);
				done_rows += vs->row_count;
			}
			else if (vs->action == VAC_FOLD)
				fold_deletions(storage_id, vs, dels[i]);
			columnar_progress_update(nsegs, i + 1, done_rows);
		}
	}
	CommandCounterIncrement();
	record_readable_from(storage_id, R, version);
	json = result_json(false, retain_text, R, before, &c, version,
					   by_pipeline ? pipe_name : NULL, pipe_v);
	columnar_set_operation(rel, "VACUUM", json);
	columnar_progress_end();
	table_close(rel, NoLock);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}
