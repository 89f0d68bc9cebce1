/*
 * columnar_api.c
 *		The gold-table SQL API: streamext.history, as_of (by version and by
 *		time), restore, verify and columnar_size, plus the two internal
 *		helpers restore() uses.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"

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
static Relation
open_columnar(Oid relid, LOCKMODE mode, AclMode right)
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
	return check_no_rls(open_columnar(relid, AccessShareLock, ACL_SELECT));
}

typedef struct VersionRow
{
	int64		version;
	TimestampTz committed_at;
} VersionRow;

/* All versions visible to the active snapshot, oldest first. */
static List *
list_versions(int64 storage_id)
{
	Relation	rel = columnar_meta_open("columnar_version", AccessShareLock);
	Relation	idx = index_open(columnar_meta_index("columnar_version_pkey"), AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	scan = systable_beginscan_ordered(rel, idx, GetActiveSnapshot(), 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		VersionRow *v = palloc(sizeof(VersionRow));
		bool		isnull;

		v->version = DatumGetInt64(heap_getattr(tup, 2, RelationGetDescr(rel), &isnull));
		v->committed_at = DatumGetTimestampTz(heap_getattr(tup, 3, RelationGetDescr(rel), &isnull));
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
	versions = list_versions(storage_id);
	if (versions == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table \"%s\" has no versions yet", RelationGetRelationName(rel))));
	foreach(lc, versions)
	{
		VersionRow *v = lfirst(lc);

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
						   (long long) ((VersionRow *) linitial(versions))->version,
						   timestamptz_to_str(((VersionRow *) linitial(versions))->committed_at))));
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
		Relation	rel = open_columnar(relid, AccessShareLock, ACL_SELECT);
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
	Relation	rel = open_columnar(relid, RowExclusiveLock, ACL_SELECT);
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
	Relation	rel = open_columnar(relid, AccessShareLock, ACL_SELECT);
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
	vrel = columnar_meta_open("columnar_version", AccessShareLock);
	idx = index_open(columnar_meta_index("columnar_version_pkey"), AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	scan = systable_beginscan_ordered(vrel, idx, GetActiveSnapshot(), 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		Datum		v[8];
		bool		n[8];
		Datum		out[7];
		bool		onull[7];
		char	   *role;

		heap_deform_tuple(tup, RelationGetDescr(vrel), v, n);
		out[0] = v[1];
		out[1] = v[2];
		out[2] = v[3];
		/* versions streamext.vacuum removed are listed, marked "vacuumed" */
		out[3] = DatumGetInt64(v[1]) < readable_from ?
			DirectFunctionCall2(jsonb_concat, v[4], vacuumed) : v[4];
		out[4] = v[5];
		out[5] = v[6];
		memset(onull, 0, sizeof(onull));
		role = GetUserNameFromId(DatumGetObjectId(v[7]), true);
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
	Relation	rel = open_columnar(relid, AccessShareLock, ACL_SELECT);
	int64		storage_id = columnar_storage_id(rel, false);
	const char *tables[3][2] = {
		{"columnar_chunk", "columnar_chunk_pkey"},
		{"columnar_segment", "columnar_segment_pkey"},
		{"columnar_deletion", "columnar_deletion_pkey"}
	};
	int64		total = 0;
	int			t;

	for (t = 0; t < 3; t++)
	{
		Relation	mrel = columnar_meta_open(tables[t][0], AccessShareLock);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
		scan = systable_beginscan(mrel, columnar_meta_index(tables[t][1]), true,
								  GetActiveSnapshot(), 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			CHECK_FOR_INTERRUPTS();
			total += tup->t_len + sizeof(ItemIdData);
			if (t == 0)
			{
				bool		isnull;
				Datum		d = heap_getattr(tup, 7, RelationGetDescr(mrel), &isnull);

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

/* ---------------------------------------------------------------- */
/* verify                                                            */
/* ---------------------------------------------------------------- */

static void
corrupt(Relation rel, const char *fmt,...) pg_attribute_printf(2, 3);

static void
corrupt(Relation rel, const char *fmt,...)
{
	va_list		ap;
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&buf, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("versioned_columnar table \"%s\" is inconsistent: %s",
					RelationGetRelationName(rel), buf.data)));
}

PG_FUNCTION_INFO_V1(columnar_verify);

/* streamext.verify(tbl): check every invariant of the storage; error on the first broken one */
Datum
columnar_verify(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = open_columnar(relid, AccessShareLock, ACL_SELECT);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int64		storage_id = columnar_storage_id(rel, true);
	Snapshot	snapshot = GetActiveSnapshot();
	List	   *versions;
	List	   *segs;
	ListCell   *lc;
	int64		expect = 1;
	TimestampTz last_at = DT_NOBEGIN;
	int64		latest;
	int64		next_row;
	int64		prev_end = 0;
	int64		live_rows = 0;
	int64		deleted_rows = 0;
	int64		nchunks = 0;
	int64		scanned = 0;
	int			live_segs = 0;
	ColumnarWriteState *ws;
	ColumnarReader *reader;
	Datum	   *values;
	bool	   *isnull;
	int64		rownum;
	Relation	delrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	StringInfoData out;
	int64		readable_from;

	if (storage_id == 0)
		corrupt(rel, "its relfilenode %u has no storage", rel->rd_node.relNode);

	/* versions: 1..N, commit times strictly increasing */
	versions = list_versions(storage_id);
	foreach(lc, versions)
	{
		VersionRow *v = lfirst(lc);

		if (v->version != expect)
			corrupt(rel, "version " INT64_FORMAT " follows version " INT64_FORMAT,
					v->version, expect - 1);
		if (v->committed_at <= last_at)
			corrupt(rel, "version " INT64_FORMAT " was not committed after its predecessor",
					v->version);
		last_at = v->committed_at;
		expect++;
	}
	latest = expect - 1;
	ws = columnar_write_state_find(storage_id);
	next_row = columnar_next_row(storage_id);

	/* segments: disjoint row ranges below the counter, versions in range */
	segs = columnar_segments(storage_id, snapshot);
	foreach(lc, segs)
	{
		ColumnarSegment *seg = lfirst(lc);
		int64		max_version = (ws ? ws->version : latest);
		Datum	  **vals = palloc(sizeof(Datum *) * tupdesc->natts);
		bool	  **nulls = palloc(sizeof(bool *) * tupdesc->natts);
		Relation	crel;
		SysScanDesc cscan;
		ScanKeyData ckey[2];
		HeapTuple	ctup;
		uint8	   *bits;
		int			nd;

		CHECK_FOR_INTERRUPTS();
		if (seg->row_count <= 0)
			corrupt(rel, "segment " INT64_FORMAT " has %d rows", seg->segno, seg->row_count);
		if (seg->segno < prev_end)
			corrupt(rel, "segment " INT64_FORMAT " overlaps the segment before it", seg->segno);
		prev_end = seg->segno + seg->row_count;
		if (prev_end > next_row)
			corrupt(rel, "segment " INT64_FORMAT " ends beyond the row number counter " INT64_FORMAT,
					seg->segno, next_row);
		if (seg->added_version < 1 || seg->added_version > max_version)
			corrupt(rel, "segment " INT64_FORMAT " was added by unknown version " INT64_FORMAT,
					seg->segno, seg->added_version);
		if (seg->removed_version != 0 &&
			(seg->removed_version < seg->added_version || seg->removed_version > max_version))
			corrupt(rel, "segment " INT64_FORMAT " was removed by version " INT64_FORMAT " out of range",
					seg->segno, seg->removed_version);

		/* every chunk decodes to the right number of values and statistics */
		crel = columnar_meta_open("columnar_chunk", AccessShareLock);
		ScanKeyInit(&ckey[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
		ScanKeyInit(&ckey[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(seg->segno));
		cscan = systable_beginscan(crel, columnar_meta_index("columnar_chunk_pkey"), true,
								   snapshot, 2, ckey);
		while (HeapTupleIsValid(ctup = systable_getnext(cscan)))
		{
			Datum		cv[7];
			bool		cn[7];
			int			attnum;
			Form_pg_attribute att;
			Datum	   *dv;
			bool	   *dn;
			int			i;
			int			nn = 0;
			TypeCacheEntry *tc;

			heap_deform_tuple(ctup, RelationGetDescr(crel), cv, cn);
			attnum = DatumGetInt16(cv[2]);
			nchunks++;
			if (attnum < 1 || attnum > tupdesc->natts)
				corrupt(rel, "segment " INT64_FORMAT " has a chunk of unknown column %d",
						seg->segno, attnum);
			att = TupleDescAttr(tupdesc, attnum - 1);
			if (att->attisdropped)
				continue;
			dv = palloc(sizeof(Datum) * seg->row_count);
			dn = palloc(sizeof(bool) * seg->row_count);
			columnar_decode_chunk(DatumGetByteaPP(cv[6]), att, seg->row_count,
								  DatumGetInt32(cv[3]), dv, dn);
			for (i = 0; i < seg->row_count; i++)
				if (dn[i])
					nn++;
			if (nn != DatumGetInt32(cv[3]))
				corrupt(rel, "segment " INT64_FORMAT " column \"%s\" has %d NULLs, its statistics say %d",
						seg->segno, NameStr(att->attname), nn, DatumGetInt32(cv[3]));
			tc = lookup_type_cache(att->atttypid, TYPECACHE_CMP_PROC_FINFO);
			if (!cn[4] && !cn[5] && OidIsValid(tc->cmp_proc_finfo.fn_oid))
			{
				Datum		minv = columnar_decode_value(DatumGetByteaPP(cv[4]), att);
				Datum		maxv = columnar_decode_value(DatumGetByteaPP(cv[5]), att);

				for (i = 0; i < seg->row_count; i++)
				{
					if (dn[i])
						continue;
					if (DatumGetInt32(FunctionCall2Coll(&tc->cmp_proc_finfo, att->attcollation,
														dv[i], minv)) < 0 ||
						DatumGetInt32(FunctionCall2Coll(&tc->cmp_proc_finfo, att->attcollation,
														dv[i], maxv)) > 0)
						corrupt(rel, "segment " INT64_FORMAT " column \"%s\" has a value outside its min/max",
								seg->segno, NameStr(att->attname));
				}
			}
		}
		systable_endscan(cscan);
		table_close(crel, AccessShareLock);
		pfree(vals);
		pfree(nulls);

		if (seg->removed_version == 0)
		{
			live_segs++;
			bits = columnar_deleted_bitmap(storage_id, seg->segno, seg->row_count, snapshot, 0, &nd);
			if (bits)
				pfree(bits);
			live_rows += seg->row_count - nd;
			deleted_rows += nd;
		}
	}

	/* deletion vectors: of existing segments, by known versions, never twice */
	delrel = columnar_meta_open("columnar_deletion", AccessShareLock);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
	scan = systable_beginscan(delrel, columnar_meta_index("columnar_deletion_pkey"), true,
							  snapshot, 1, &key);
	{
		int64		cur_segno = -1;
		uint8	   *seen = NULL;
		ColumnarSegment *cur = NULL;

		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Datum		dv[4];
			bool		dn[4];
			int64		segno;
			int64		version;
			bytea	   *b;
			int			i;

			heap_deform_tuple(tup, RelationGetDescr(delrel), dv, dn);
			segno = DatumGetInt64(dv[1]);
			version = DatumGetInt64(dv[2]);
			b = DatumGetByteaPP(dv[3]);
			if (segno != cur_segno)
			{
				ListCell   *lc2;

				cur = NULL;
				foreach(lc2, segs)
					if (((ColumnarSegment *) lfirst(lc2))->segno == segno)
						cur = lfirst(lc2);
				if (cur == NULL)
					corrupt(rel, "a deletion vector refers to missing segment " INT64_FORMAT, segno);
				cur_segno = segno;
				seen = palloc0((cur->row_count + 7) / 8);
			}
			if (version < cur->added_version || version > latest)
				corrupt(rel, "segment " INT64_FORMAT " has a deletion by version " INT64_FORMAT " out of range",
						segno, version);
			if (VARSIZE_ANY_EXHDR(b) != (cur->row_count + 7) / 8)
				corrupt(rel, "segment " INT64_FORMAT " has a deletion vector of the wrong size", segno);
			for (i = 0; i < cur->row_count; i++)
			{
				bool		bit = (((uint8 *) VARDATA_ANY(b))[i / 8] & (1 << (i % 8))) != 0;

				if (bit && (seen[i / 8] & (1 << (i % 8))))
					corrupt(rel, "row " INT64_FORMAT " was deleted twice", segno + i);
				if (bit)
					seen[i / 8] |= (1 << (i % 8));
			}
		}
	}
	systable_endscan(scan);
	table_close(delrel, AccessShareLock);

	/* a scan returns exactly the live rows the metadata accounts for */
	values = palloc(sizeof(Datum) * tupdesc->natts);
	isnull = palloc(sizeof(bool) * tupdesc->natts);
	reader = columnar_reader_begin(rel, snapshot, 0, NULL, NIL);
	while (columnar_reader_next(reader, values, isnull, &rownum))
	{
		if (ws == NULL || rownum < ws->buf_first_row)
			scanned++;
	}
	columnar_reader_end(reader);
	if (ws == NULL && scanned != live_rows)
		corrupt(rel, "a scan returns " INT64_FORMAT " rows, the metadata counts " INT64_FORMAT,
				scanned, live_rows);

	/* no chunk without its segment (vacuum removes them together) */
	{
		Relation	crel = columnar_meta_open("columnar_chunk", AccessShareLock);
		int64		all_chunks = 0;

		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
		scan = systable_beginscan(crel, columnar_meta_index("columnar_chunk_pkey"), true,
								  snapshot, 1, &key);
		while (HeapTupleIsValid(systable_getnext(scan)))
			all_chunks++;
		systable_endscan(scan);
		table_close(crel, AccessShareLock);
		if (all_chunks != nchunks)
			corrupt(rel, INT64_FORMAT " column chunks belong to no segment", all_chunks - nchunks);
	}

	/*
	 * Versions streamext.vacuum kept: the oldest readable one exists, and it
	 * and the newest hold exactly the rows history says were added and
	 * removed up to them (vacuum and optimize change no version's rows).
	 */
	readable_from = columnar_readable_from(storage_id);
	if (readable_from != 0 && (readable_from < 1 || readable_from > latest))
		corrupt(rel, "its oldest readable version " INT64_FORMAT " does not exist", readable_from);
	if (latest > 0 && ws == NULL)
	{
		int64		check[2];
		int64	   *net = palloc0(sizeof(int64) * (latest + 1));
		Relation	vrel = columnar_meta_open("columnar_version", AccessShareLock);

		ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(storage_id));
		scan = systable_beginscan(vrel, columnar_meta_index("columnar_version_pkey"), true,
								  snapshot, 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		n1;
			int64		v = DatumGetInt64(heap_getattr(tup, 2, RelationGetDescr(vrel), &n1));

			if (v >= 1 && v <= latest)
				net[v] = DatumGetInt64(heap_getattr(tup, 6, RelationGetDescr(vrel), &n1)) -
					DatumGetInt64(heap_getattr(tup, 7, RelationGetDescr(vrel), &n1));
		}
		systable_endscan(scan);
		table_close(vrel, AccessShareLock);
		for (int64 v = 1; v <= latest; v++)
			net[v] += net[v - 1];
		check[0] = Max(readable_from, 1);
		check[1] = latest;
		for (int k = 0; k < 2; k++)
		{
			int64		count = 0;

			if (k == 1 && check[1] == check[0])
				break;
			reader = columnar_reader_begin(rel, snapshot, check[k], NULL, NIL);
			while (columnar_reader_next(reader, values, isnull, &rownum))
				count++;
			columnar_reader_end(reader);
			if (count != net[check[k]])
				corrupt(rel, "version " INT64_FORMAT " has " INT64_FORMAT " rows, its history adds up to " INT64_FORMAT,
						check[k], count, net[check[k]]);
		}
		pfree(net);
	}

	initStringInfo(&out);
	appendStringInfo(&out,
					 "{\"versions\": " INT64_FORMAT ", \"segments\": %d, \"live_segments\": %d, "
					 "\"chunks\": " INT64_FORMAT ", \"rows\": " INT64_FORMAT ", \"deleted_rows\": " INT64_FORMAT
					 ", \"next_row\": " INT64_FORMAT "%s}",
					 latest, list_length(segs), live_segs, nchunks, live_rows, deleted_rows, next_row,
					 readable_from > 0 ? psprintf(", \"readable_from\": " INT64_FORMAT, readable_from) : "");
	table_close(rel, AccessShareLock);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
