/*
 * columnar_api.c
 *		The gold-table SQL API: streamext.history, as_of (by version and by
 *		time), restore and columnar_size, plus the two internal helpers
 *		restore() uses.  streamext.verify is in columnar_verify.c.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_metadata.h"
#include "columnar/columnar_codec.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/rls.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "storage/itemptr.h"

/* Open a versioned_columnar table for reading, checking the caller's right. */
Relation
columnar_api_open(Oid relid, LOCKMODE mode, AclMode right)
{
	Relation	rel = table_open(relid, mode);
	AclResult	acl;

	if (!columnar_is_columnar(rel))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is not a versioned_columnar table",
						RelationGetRelationName(rel)),
				 errhint("Create it with CREATE TABLE ... USING versioned_columnar, or convert it with ALTER TABLE ... SET ACCESS METHOD versioned_columnar.")));
	acl = pg_class_aclcheck(relid, GetUserId(), right);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(rel));
	return rel;
}

/*
 * Time travel reads the storage directly, past row-level security: refuse
 * it where a policy applies to the caller.
 */
static Relation
check_no_rls(Relation rel)
{
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("time travel on table \"%s\" is not allowed: row-level security applies to it",
						RelationGetRelationName(rel))));
	return rel;
}

/* The table behind as_of's first argument, NULL::tbl. */
static Relation
open_row_type(FunctionCallInfo fcinfo)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	Oid			relid = OidIsValid(argtype) ? get_typ_typrelid(argtype) : InvalidOid;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the first argument of streamext.as_of must be a table's row type"),
				 errhint("Call it as streamext.as_of(NULL::my_table, version => 3).")));
	return check_no_rls(columnar_api_open(relid, AccessShareLock, ACL_SELECT));
}

/* All versions visible to the active snapshot, oldest first. */
List *
columnar_api_versions(int64 storage_id)
{
	Relation	rel = table_open(ColumnarVersionRelationId(), AccessShareLock);
	Relation	idx = index_open(ColumnarVersionPkeyIndexId(), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	ScanKeyInit(&key, Anum_columnar_version_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	scan = systable_beginscan_ordered(rel, idx, GetActiveSnapshot(), 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		ColumnarVersionRow *v = palloc(sizeof(ColumnarVersionRow));
		bool		isnull;

		v->version = DatumGetInt64(heap_getattr(tup, Anum_columnar_version_version,
												RelationGetDescr(rel), &isnull));
		v->committed_at = DatumGetTimestampTz(heap_getattr(tup, Anum_columnar_version_committed_at,
														   RelationGetDescr(rel), &isnull));
		result = lappend(result, v);
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return result;
}

static void
check_version(Relation rel, int64 storage_id, int64 version)
{
	int64		latest = columnar_latest_version(storage_id, GetActiveSnapshot());

	if (latest == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table \"%s\" has no versions yet", RelationGetRelationName(rel))));
	if (version < 1 || version > latest)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("version " INT64_FORMAT " of table \"%s\" does not exist",
						version, RelationGetRelationName(rel)),
				 errdetail("Its versions are 1 to " INT64_FORMAT ".", latest)));
	columnar_check_readable(rel, storage_id, version, false);
}

static void
emit_rows(FunctionCallInfo fcinfo, Relation rel, int64 version, bool only_not_current)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *isnull = palloc(sizeof(bool) * tupdesc->natts);
	ColumnarReader *reader;
	int64		rownum;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	reader = columnar_reader_begin(rel, GetActiveSnapshot(), version, NULL, NIL);
	if (only_not_current)
		columnar_reader_set_exclude(reader, GetActiveSnapshot());
	while (columnar_reader_next(reader, values, isnull, &rownum))
	{
		int			a;

		for (a = 0; a < tupdesc->natts; a++)
			if (TupleDescAttr(tupdesc, a)->attisdropped)
				isnull[a] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	columnar_reader_end(reader);
}

/*
 * The version an as_of() call reads: arg is the version (bigint) or, with
 * is_time, a timestamptz.  Checks the caller's right and that it exists.
 */
int64
columnar_resolve_version(Relation rel, bool is_time, Datum arg, bool isnull)
{
	int64		storage_id = columnar_storage_id(rel, false);
	AclResult	acl = pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT);
	List	   *versions;
	ListCell   *lc;
	int64		version = 0;
	TimestampTz at;

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(rel));
	check_no_rls(rel);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", is_time ? "timestamp" : "version")));
	if (!is_time)
	{
		version = DatumGetInt64(arg);
		check_version(rel, storage_id, version);
		return version;
	}
	at = DatumGetTimestampTz(arg);
	versions = columnar_api_versions(storage_id);
	if (versions == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table \"%s\" has no versions yet", RelationGetRelationName(rel))));
	foreach(lc, versions)
	{
		ColumnarVersionRow *v = lfirst(lc);

		if (v->committed_at <= at)
			version = v->version;
		else
			break;
	}
	if (version == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timestamp %s is before the first version of table \"%s\"",
						timestamptz_to_str(at), RelationGetRelationName(rel)),
				 errdetail("Version %lld was committed at %s.",
						   (long long) ((ColumnarVersionRow *) linitial(versions))->version,
						   timestamptz_to_str(((ColumnarVersionRow *) linitial(versions))->committed_at))));
	return version;
}

PG_FUNCTION_INFO_V1(columnar_as_of_version);

/* streamext.as_of(NULL::tbl, version): the rows of a committed version */
Datum
columnar_as_of_version(PG_FUNCTION_ARGS)
{
	Relation	rel = open_row_type(fcinfo);
	int64		version = columnar_resolve_version(rel, false, PG_GETARG_DATUM(1), PG_ARGISNULL(1));

	emit_rows(fcinfo, rel, version, false);
	table_close(rel, AccessShareLock);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(columnar_as_of_time);

/* streamext.as_of(NULL::tbl, at): the latest version committed at or before at */
Datum
columnar_as_of_time(PG_FUNCTION_ARGS)
{
	Relation	rel = open_row_type(fcinfo);
	int64		version = columnar_resolve_version(rel, true, PG_GETARG_DATUM(1), PG_ARGISNULL(1));

	emit_rows(fcinfo, rel, version, false);
	table_close(rel, AccessShareLock);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(columnar_restore_rows);

/* rows of a version that are not current any more (restore()'s INSERT) */
Datum
columnar_restore_rows(PG_FUNCTION_ARGS)
{
	Relation	rel;
	int64		storage_id;
	int64		version;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("version must not be NULL")));
	rel = open_row_type(fcinfo);
	version = PG_GETARG_INT64(1);
	storage_id = columnar_storage_id(rel, false);
	check_version(rel, storage_id, version);
	emit_rows(fcinfo, rel, version, true);
	table_close(rel, AccessShareLock);
	return (Datum) 0;
}

/* Which rows were live at one version: cached across calls of one query. */
typedef struct LiveAtCache
{
	Oid			relid;
	int64		version;
	int64		storage_id;
	int			nsegs;
	ColumnarSegment *segs;
	uint8	  **deleted;
	bool	   *loaded;
} LiveAtCache;

PG_FUNCTION_INFO_V1(columnar_live_at);

/* streamext._columnar_live_at(tbl, ctid, version): was this row live then? */
Datum
columnar_live_at(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ItemPointer tid = (ItemPointer) PG_GETARG_POINTER(1);
	int64		version = PG_GETARG_INT64(2);
	LiveAtCache *c = fcinfo->flinfo->fn_extra;
	int64		rownum = columnar_tid_to_row(tid);
	int			lo,
				hi;

	if (c == NULL || c->relid != relid || c->version != version)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		Relation	rel = columnar_api_open(relid, AccessShareLock, ACL_SELECT);
		List	   *segs;
		ListCell   *lc;

		c = palloc0(sizeof(LiveAtCache));
		c->relid = relid;
		c->version = version;
		c->storage_id = columnar_storage_id(rel, false);
		check_version(rel, c->storage_id, version);
		segs = columnar_segments(c->storage_id, GetActiveSnapshot());
		c->segs = palloc(sizeof(ColumnarSegment) * (list_length(segs) + 1));
		foreach(lc, segs)
		{
			ColumnarSegment *seg = lfirst(lc);

			if (seg->added_version <= version &&
				(seg->removed_version == 0 || seg->removed_version > version))
				c->segs[c->nsegs++] = *seg;
		}
		c->deleted = palloc0(sizeof(uint8 *) * (c->nsegs + 1));
		c->loaded = palloc0(sizeof(bool) * (c->nsegs + 1));
		table_close(rel, AccessShareLock);
		fcinfo->flinfo->fn_extra = c;
		MemoryContextSwitchTo(old);
	}

	lo = 0;
	hi = c->nsegs - 1;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		ColumnarSegment *seg = &c->segs[mid];

		if (rownum < seg->segno)
			hi = mid - 1;
		else if (rownum >= seg->segno + seg->row_count)
			lo = mid + 1;
		else
		{
			int			r = rownum - seg->segno;

			if (!c->loaded[mid])
			{
				MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
				int			nd;

				c->deleted[mid] = columnar_deleted_bitmap(c->storage_id, seg->segno,
														  seg->row_count, GetActiveSnapshot(),
														  version, &nd);
				c->loaded[mid] = true;
				MemoryContextSwitchTo(old);
			}
			PG_RETURN_BOOL(!(c->deleted[mid] && (c->deleted[mid][r / 8] & (1 << (r % 8)))));
		}
	}
	PG_RETURN_BOOL(false);
}

PG_FUNCTION_INFO_V1(columnar_restore);

/* streamext.restore(tbl, version): make a version's rows current, as a new version */
Datum
columnar_restore(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		version = PG_GETARG_INT64(1);
	Relation	rel = columnar_api_open(relid, RowExclusiveLock, ACL_SELECT);
	int64		storage_id = columnar_storage_id(rel, false);
	char	   *qualname;
	StringInfoData cols;
	StringInfoData sql;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int64		new_version;
	int			a;
	int			ret;

	check_version(rel, storage_id, version);
	/* take the writer lock first: nothing may commit in between */
	new_version = columnar_set_operation(rel, "RESTORE",
										 psprintf("{\"version\": " INT64_FORMAT "}", version));
	qualname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										  RelationGetRelationName(rel));
	initStringInfo(&cols);
	for (a = 0; a < tupdesc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, a);

		if (att->attisdropped || att->attgenerated != '\0')
			continue;
		if (cols.len > 0)
			appendStringInfoString(&cols, ", ");
		appendStringInfoString(&cols, quote_identifier(NameStr(att->attname)));
	}

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %d", ret);
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "DELETE FROM %s t WHERE NOT streamext._columnar_live_at(%u::oid::regclass, t.ctid, " INT64_FORMAT ")",
					 qualname, relid, version);
	ret = SPI_execute(sql.data, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "restore: DELETE failed: %d", ret);
	if (cols.len > 0)
	{
		resetStringInfo(&sql);
		appendStringInfo(&sql,
						 "INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM streamext._columnar_restore_rows(NULL::%s, " INT64_FORMAT ")",
						 qualname, cols.data, cols.data, qualname, version);
		ret = SPI_execute(sql.data, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "restore: INSERT failed: %d", ret);
	}
	SPI_finish();
	table_close(rel, NoLock);
	PG_RETURN_INT64(new_version);
}

PG_FUNCTION_INFO_V1(columnar_history);

/* streamext.history(tbl): one row per version, oldest first */
Datum
columnar_history(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	rel = columnar_api_open(relid, AccessShareLock, ACL_SELECT);
	int64		storage_id = columnar_storage_id(rel, false);
	Relation	vrel;
	Relation	idx;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	int64		readable_from;
	Datum		vacuumed = (Datum) 0;

	InitMaterializedSRF(fcinfo, 0);
	readable_from = columnar_readable_from(storage_id);
	if (readable_from > 1)
		vacuumed = DirectFunctionCall1(jsonb_in, CStringGetDatum("{\"vacuumed\": true}"));
	vrel = table_open(ColumnarVersionRelationId(), AccessShareLock);
	idx = index_open(ColumnarVersionPkeyIndexId(), AccessShareLock);
	ScanKeyInit(&key, Anum_columnar_version_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	scan = systable_beginscan_ordered(vrel, idx, GetActiveSnapshot(), 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		Datum		v[Natts_columnar_version];
		bool		n[Natts_columnar_version];
		Datum		out[7];
		bool		onull[7];
		char	   *role;

		heap_deform_tuple(tup, RelationGetDescr(vrel), v, n);
		out[0] = v[Anum_columnar_version_version - 1];
		out[1] = v[Anum_columnar_version_committed_at - 1];
		out[2] = v[Anum_columnar_version_operation - 1];
		/* versions streamext.vacuum removed are listed, marked "vacuumed" */
		out[3] = DatumGetInt64(v[Anum_columnar_version_version - 1]) < readable_from ?
			DirectFunctionCall2(jsonb_concat, v[Anum_columnar_version_parameters - 1], vacuumed) :
			v[Anum_columnar_version_parameters - 1];
		out[4] = v[Anum_columnar_version_rows_added - 1];
		out[5] = v[Anum_columnar_version_rows_removed - 1];
		memset(onull, 0, sizeof(onull));
		role = GetUserNameFromId(DatumGetObjectId(v[Anum_columnar_version_committed_by - 1]), true);
		if (role)
			out[6] = DirectFunctionCall1(namein, CStringGetDatum(role));
		else
			onull[6] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, onull);
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	table_close(vrel, AccessShareLock);
	table_close(rel, AccessShareLock);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(columnar_size);

/* streamext.columnar_size(tbl): bytes of all segments, chunks and deletions */
Datum
columnar_size(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = columnar_api_open(relid, AccessShareLock, ACL_SELECT);
	int64		storage_id = columnar_storage_id(rel, false);
	Oid			tables[3][2] = {
		{ColumnarChunkRelationId(), ColumnarChunkPkeyIndexId()},
		{ColumnarSegmentRelationId(), ColumnarSegmentPkeyIndexId()},
		{ColumnarDeletionRelationId(), ColumnarDeletionPkeyIndexId()}
	};
	int64		total = 0;
	int			t;

	for (t = 0; t < 3; t++)
	{
		Relation	mrel = table_open(tables[t][0], AccessShareLock);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&key, Anum_columnar_meta_storage_id, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(storage_id));
		scan = systable_beginscan(mrel, tables[t][1], true,
								  GetActiveSnapshot(), 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			CHECK_FOR_INTERRUPTS();
			total += tup->t_len + sizeof(ItemIdData);
			if (t == 0)
			{
				bool		isnull;
				Datum		d = heap_getattr(tup, Anum_columnar_chunk_data, RelationGetDescr(mrel),
											   &isnull);

				if (!isnull && VARATT_IS_EXTERNAL(DatumGetPointer(d)))
					total += toast_datum_size(d);
			}
		}
		systable_endscan(scan);
		table_close(mrel, AccessShareLock);
	}
	table_close(rel, AccessShareLock);
	PG_RETURN_INT64(total);
}
