/*
 * columnar_verify.c
 *		streamext.verify(tbl): checks every invariant of a versioned_columnar
 *		table's storage (versions, segments, chunks, deletion vectors, the
 *		row count a scan returns, what streamext.vacuum kept) and errors on
 *		the first broken one.  Split from columnar_api.c, whose helpers to
 *		open the table and list its versions it shares; what OPTIMIZE and
 *		VACUUM versions promise is checked by columnar_verify_history.c.
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

/* ---------------------------------------------------------------- */
/* verify                                                            */
/* ---------------------------------------------------------------- */

/* Report the first broken invariant (amcheck's way: ERRCODE_DATA_CORRUPTED). */
void
columnar_verify_corrupt(Relation rel, const char *fmt,...)
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
	Relation	rel = columnar_api_open(relid, AccessShareLock, ACL_SELECT);
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
	bool	   *has_chunk;
	ColumnarSegment **with_chunk;	/* per column: the oldest segment with a chunk */
	ColumnarSegment **without_chunk;	/* per column: the newest segment without */

	if (storage_id == 0)
		columnar_verify_corrupt(rel, "its relfilenode %u has no storage", rel->rd_node.relNode);

	/*
	 * Like any reader of old versions, hold the old-version readers lock: no
	 * streamext.vacuum removes what verify is reading (it checks versions
	 * down to the oldest readable one).  No version is too old to check.
	 */
	columnar_check_readable(rel, storage_id, PG_INT64_MAX, false);

	/* versions: 1..N, commit times strictly increasing */
	versions = columnar_api_versions(storage_id);
	foreach(lc, versions)
	{
		ColumnarVersionRow *v = lfirst(lc);

		if (v->version != expect)
			columnar_verify_corrupt(rel, "version " INT64_FORMAT " follows version " INT64_FORMAT,
					v->version, expect - 1);
		if (v->committed_at <= last_at)
			columnar_verify_corrupt(rel, "version " INT64_FORMAT " was not committed after its predecessor",
					v->version);
		last_at = v->committed_at;
		expect++;
	}
	latest = expect - 1;
	ws = columnar_write_state_find(storage_id);
	next_row = columnar_next_row(storage_id);

	/* segments: disjoint row ranges below the counter, versions in range */
	segs = columnar_segments(storage_id, snapshot);
	has_chunk = palloc0(sizeof(bool) * Max(tupdesc->natts, 1));
	with_chunk = palloc0(sizeof(ColumnarSegment *) * Max(tupdesc->natts, 1));
	without_chunk = palloc0(sizeof(ColumnarSegment *) * Max(tupdesc->natts, 1));
	foreach(lc, segs)
	{
		ColumnarSegment *seg = lfirst(lc);
		int64		max_version = (ws ? columnar_ws_version(ws) : latest);
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
			columnar_verify_corrupt(rel, "segment " INT64_FORMAT " has %d rows", seg->segno, seg->row_count);
		if (seg->segno < prev_end)
			columnar_verify_corrupt(rel, "segment " INT64_FORMAT " overlaps the segment before it", seg->segno);
		prev_end = seg->segno + seg->row_count;
		if (prev_end > next_row)
			columnar_verify_corrupt(rel, "segment " INT64_FORMAT " ends beyond the row number counter " INT64_FORMAT,
					seg->segno, next_row);
		if (seg->added_version < 1 || seg->added_version > max_version)
			columnar_verify_corrupt(rel, "segment " INT64_FORMAT " was added by unknown version " INT64_FORMAT,
					seg->segno, seg->added_version);
		if (seg->removed_version != 0 &&
			(seg->removed_version < seg->added_version || seg->removed_version > max_version))
			columnar_verify_corrupt(rel, "segment " INT64_FORMAT " was removed by version " INT64_FORMAT " out of range",
					seg->segno, seg->removed_version);

		/* every chunk decodes to the right number of values and statistics */
		crel = table_open(ColumnarChunkRelationId(), AccessShareLock);
		ScanKeyInit(&ckey[0], Anum_columnar_chunk_storage_id, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(storage_id));
		ScanKeyInit(&ckey[1], Anum_columnar_chunk_segno, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(seg->segno));
		cscan = systable_beginscan(crel, ColumnarChunkPkeyIndexId(), true,
								   snapshot, 2, ckey);
		while (HeapTupleIsValid(ctup = systable_getnext(cscan)))
		{
			Datum		cv[Natts_columnar_chunk];
			bool		cn[Natts_columnar_chunk];
			int			attnum;
			Form_pg_attribute att;
			Datum	   *dv;
			bool	   *dn;
			int			i;
			int			nn = 0;
			TypeCacheEntry *tc;

			heap_deform_tuple(ctup, RelationGetDescr(crel), cv, cn);
			attnum = DatumGetInt16(cv[Anum_columnar_chunk_attnum - 1]);
			nchunks++;
			if (attnum < 1 || attnum > tupdesc->natts)
				columnar_verify_corrupt(rel, "segment " INT64_FORMAT " has a chunk of unknown column %d",
						seg->segno, attnum);
			att = TupleDescAttr(tupdesc, attnum - 1);
			if (att->attisdropped)
				continue;
			has_chunk[attnum - 1] = true;
			if (DatumGetInt32(cv[Anum_columnar_chunk_null_count - 1]) < 0 ||
				DatumGetInt32(cv[Anum_columnar_chunk_null_count - 1]) > seg->row_count)
				columnar_verify_corrupt(rel, "segment " INT64_FORMAT " column \"%s\" counts %d NULLs in %d rows",
										seg->segno, NameStr(att->attname),
										DatumGetInt32(cv[Anum_columnar_chunk_null_count - 1]),
										seg->row_count);
			if (cn[Anum_columnar_chunk_min_value - 1] != cn[Anum_columnar_chunk_max_value - 1])
				columnar_verify_corrupt(rel, "segment " INT64_FORMAT " column \"%s\" has a %s but no %s",
										seg->segno, NameStr(att->attname),
										cn[Anum_columnar_chunk_min_value - 1] ? "max" : "min",
										cn[Anum_columnar_chunk_min_value - 1] ? "min" : "max");
			dv = palloc(sizeof(Datum) * seg->row_count);
			dn = palloc(sizeof(bool) * seg->row_count);
			columnar_decode_chunk(DatumGetByteaPP(cv[Anum_columnar_chunk_data - 1]), att,
								  seg->row_count, DatumGetInt32(cv[Anum_columnar_chunk_null_count - 1]),
								  dv, dn);
			for (i = 0; i < seg->row_count; i++)
				if (dn[i])
					nn++;
			if (nn != DatumGetInt32(cv[Anum_columnar_chunk_null_count - 1]))
				columnar_verify_corrupt(rel, "segment " INT64_FORMAT " column \"%s\" has %d NULLs, its statistics say %d",
						seg->segno, NameStr(att->attname), nn,
						DatumGetInt32(cv[Anum_columnar_chunk_null_count - 1]));
			tc = lookup_type_cache(att->atttypid, TYPECACHE_CMP_PROC_FINFO);
			if (!cn[Anum_columnar_chunk_min_value - 1] && !cn[Anum_columnar_chunk_max_value - 1] &&
				OidIsValid(tc->cmp_proc_finfo.fn_oid))
			{
				Datum		minv = columnar_decode_value(DatumGetByteaPP(cv[Anum_columnar_chunk_min_value - 1]),
														 att);
				Datum		maxv = columnar_decode_value(DatumGetByteaPP(cv[Anum_columnar_chunk_max_value - 1]),
														 att);

				for (i = 0; i < seg->row_count; i++)
				{
					if (dn[i])
						continue;
					if (DatumGetInt32(FunctionCall2Coll(&tc->cmp_proc_finfo, att->attcollation,
														dv[i], minv)) < 0 ||
						DatumGetInt32(FunctionCall2Coll(&tc->cmp_proc_finfo, att->attcollation,
														dv[i], maxv)) > 0)
						columnar_verify_corrupt(rel, "segment " INT64_FORMAT " column \"%s\" has a value outside its min/max",
								seg->segno, NameStr(att->attname));
				}
			}
		}
		systable_endscan(cscan);
		table_close(crel, AccessShareLock);
		pfree(vals);
		pfree(nulls);

		/*
		 * Every segment has a chunk of every column but the ones added after
		 * it was written (read as their default): a column's chunks, once
		 * there, are in every segment written later.
		 */
		for (int a = 0; a < tupdesc->natts; a++)
		{
			if (TupleDescAttr(tupdesc, a)->attisdropped)
				continue;
			if (has_chunk[a] && (with_chunk[a] == NULL ||
								 seg->added_version < with_chunk[a]->added_version))
				with_chunk[a] = seg;
			if (!has_chunk[a] && (without_chunk[a] == NULL ||
								  seg->added_version > without_chunk[a]->added_version))
				without_chunk[a] = seg;
			if (with_chunk[a] != NULL && without_chunk[a] != NULL &&
				without_chunk[a]->added_version > with_chunk[a]->added_version)
				columnar_verify_corrupt(rel, "segment " INT64_FORMAT " (version " INT64_FORMAT
										") has no chunk of column \"%s\", which segment " INT64_FORMAT
										" (version " INT64_FORMAT ") has",
										without_chunk[a]->segno, without_chunk[a]->added_version,
										NameStr(TupleDescAttr(tupdesc, a)->attname),
										with_chunk[a]->segno, with_chunk[a]->added_version);
			has_chunk[a] = false;
		}

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
	delrel = table_open(ColumnarDeletionRelationId(), AccessShareLock);
	ScanKeyInit(&key, Anum_columnar_deletion_storage_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(storage_id));
	scan = systable_beginscan(delrel, ColumnarDeletionPkeyIndexId(), true,
							  snapshot, 1, &key);
	{
		int64		cur_segno = -1;
		uint8	   *seen = NULL;
		ColumnarSegment *cur = NULL;

		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Datum		dv[Natts_columnar_deletion];
			bool		dn[Natts_columnar_deletion];
			int64		segno;
			int64		version;
			bytea	   *b;
			int			i;

			heap_deform_tuple(tup, RelationGetDescr(delrel), dv, dn);
			segno = DatumGetInt64(dv[Anum_columnar_deletion_segno - 1]);
			version = DatumGetInt64(dv[Anum_columnar_deletion_version - 1]);
			b = DatumGetByteaPP(dv[Anum_columnar_deletion_deleted - 1]);
			if (segno != cur_segno)
			{
				ListCell   *lc2;

				cur = NULL;
				foreach(lc2, segs)
					if (((ColumnarSegment *) lfirst(lc2))->segno == segno)
						cur = lfirst(lc2);
				if (cur == NULL)
					columnar_verify_corrupt(rel, "a deletion vector refers to missing segment " INT64_FORMAT, segno);
				cur_segno = segno;
				seen = palloc0((cur->row_count + 7) / 8);
			}
			if (version < cur->added_version || version > latest)
				columnar_verify_corrupt(rel, "segment " INT64_FORMAT " has a deletion by version " INT64_FORMAT " out of range",
						segno, version);
			/* writers follow a removed segment's rows to their successors */
			if (cur->removed_version != 0 && version > cur->removed_version)
				columnar_verify_corrupt(rel, "segment " INT64_FORMAT ", removed by version " INT64_FORMAT
										", has a deletion by later version " INT64_FORMAT,
										segno, cur->removed_version, version);
			if (VARSIZE_ANY_EXHDR(b) != (cur->row_count + 7) / 8)
				columnar_verify_corrupt(rel, "segment " INT64_FORMAT " has a deletion vector of the wrong size", segno);
			for (i = 0; i < cur->row_count; i++)
			{
				bool		bit = (((uint8 *) VARDATA_ANY(b))[i / 8] & (1 << (i % 8))) != 0;

				if (bit && (seen[i / 8] & (1 << (i % 8))))
					columnar_verify_corrupt(rel, "row " INT64_FORMAT " was deleted twice", segno + i);
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
		if (ws == NULL || rownum < columnar_ws_buffer_first_row(ws))
			scanned++;
	}
	columnar_reader_end(reader);
	if (ws == NULL && scanned != live_rows)
		columnar_verify_corrupt(rel, "a scan returns " INT64_FORMAT " rows, the metadata counts " INT64_FORMAT,
				scanned, live_rows);

	/* no chunk without its segment (vacuum removes them together) */
	{
		Relation	crel = table_open(ColumnarChunkRelationId(), AccessShareLock);
		int64		all_chunks = 0;

		ScanKeyInit(&key, Anum_columnar_chunk_storage_id, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(storage_id));
		scan = systable_beginscan(crel, ColumnarChunkPkeyIndexId(), true,
								  snapshot, 1, &key);
		while (HeapTupleIsValid(systable_getnext(scan)))
			all_chunks++;
		systable_endscan(scan);
		table_close(crel, AccessShareLock);
		if (all_chunks != nchunks)
			columnar_verify_corrupt(rel, INT64_FORMAT " column chunks belong to no segment", all_chunks - nchunks);
	}

	/*
	 * Versions streamext.vacuum kept: the oldest readable one exists, and it
	 * and the newest hold exactly the rows history says were added and
	 * removed up to them (vacuum and optimize change no version's rows).
	 */
	readable_from = columnar_readable_from(storage_id);
	if (readable_from != 0 && (readable_from < 1 || readable_from > latest))
		columnar_verify_corrupt(rel, "its oldest readable version " INT64_FORMAT " does not exist", readable_from);
	if (latest > 0 && ws == NULL)
	{
		int64		check[2];
		int64	   *net = palloc0(sizeof(int64) * (latest + 1));
		Relation	vrel = table_open(ColumnarVersionRelationId(), AccessShareLock);

		ScanKeyInit(&key, Anum_columnar_version_storage_id, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(storage_id));
		scan = systable_beginscan(vrel, ColumnarVersionPkeyIndexId(), true,
								  snapshot, 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		n1;
			int64		v = DatumGetInt64(heap_getattr(tup, Anum_columnar_version_version,
														   RelationGetDescr(vrel), &n1));

			if (v >= 1 && v <= latest)
				net[v] = DatumGetInt64(heap_getattr(tup, Anum_columnar_version_rows_added,
													RelationGetDescr(vrel), &n1)) -
					DatumGetInt64(heap_getattr(tup, Anum_columnar_version_rows_removed,
											   RelationGetDescr(vrel), &n1));
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
				columnar_verify_corrupt(rel, "version " INT64_FORMAT " has " INT64_FORMAT " rows, its history adds up to " INT64_FORMAT,
						check[k], count, net[check[k]]);
		}
		pfree(net);
	}

	/* what OPTIMIZE and VACUUM versions promise (columnar_verify_history.c) */
	columnar_verify_history(rel, storage_id, snapshot, segs, readable_from);

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
