/*
 * source_heap.c
 *		Which rows of a heap source (plain or partitioned) a batch reads, and
 *		the progress snapshot once they are read; and whether retention may
 *		drop a relation a pipeline still has to read.
 *
 * Every row carries the transaction that inserted it in the tracking column
 * (xid8, DEFAULT pg_current_xact_id(); rows that existed when create_pipeline
 * added the column carry the creating transaction's xid).  The progress is a
 * pg_snapshot P: a row has been read iff its xid is visible in P.  A batch
 * takes S = pg_current_snapshot() and reads the rows whose xid is visible in
 * S and not in P, found by an index range scan:
 *
 *	   (x >= xmax(P) AND x < xmax(S)  OR  x = ANY(xip(P)))
 *	   AND pg_visible_in_snapshot(x, S)
 *
 * (x < xmin(P) is visible in P; between xmin(P) and xmax(P) only the xip
 * list of P is not.)  Why this is exact with writers that commit out of
 * order: a transaction is visible in S only once it has committed, and all
 * its rows are then visible to the reading statement, whose snapshot is
 * taken after S; a transaction running at S is in xip(S) or at or above
 * xmax(S), so none of its rows are read and it stays invisible in the new
 * progress, however long it runs; xid8 never wraps and is not changed by
 * freezing.  The batch's own transaction counts as running in S (see
 * below), so its rows are read after it commits, all of them.
 *
 * The new progress P' must have exactly visible(P) ∪ {x visible in S, x < C},
 * where C = xmax(S), or, when max_batch_rows cuts the batch, the xid of the
 * first transaction left for the next batch (a batch always ends at a
 * transaction boundary, so no transaction is ever read in part).  P' is built
 * explicitly:
 *
 *	   xmax(P') = max(xmax(P), C)
 *	   xip(P')  = { x in xip(P) : x >= C or x not visible in S }
 *				∪ { x in xip(S) : xmax(P) <= x < C }
 *	   xmin(P') = min(xip(P')), or xmax(P') when xip(P') is empty
 *
 * Below xmax(P) the only xids not visible in P are xip(P): of those, the ones
 * read now (visible in S, below C) become visible, the others stay in xip.
 * Between xmax(P) and C (only when C > xmax(P); C <= xmax(S)) an xid is
 * visible in P' iff it is visible in S, i.e. not in xip(S).  Nothing at or
 * above xmax(P') is visible.  So visible(P') is the set above, element for
 * element; the xip list stays as small as the number of transactions that
 * were running, never the number of xids consumed.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/transam.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "pipeline/batch_internal.h"
#include "pipeline/pipeline.h"

#define X "t." PIPELINE_TRACK_COLUMN

/*
 * The snapshot S a batch's reads are measured against, as
 * text: the current one, with the transaction's own xid among the running
 * ones when it is below xmax (see below).
 */
#define SOURCE_HEAP_SNAPSHOT_SQL \
	"(WITH a AS (SELECT pg_catalog.pg_current_snapshot() AS s," \
	"  pg_catalog.pg_current_xact_id_if_assigned() AS o)" \
	" SELECT CASE WHEN a.o IS NULL OR a.o >= pg_catalog.pg_snapshot_xmax(a.s)" \
	"  THEN a.s::pg_catalog.text" \
	"  ELSE (least(pg_catalog.pg_snapshot_xmin(a.s), a.o)::pg_catalog.text || ':' ||" \
	"   pg_catalog.pg_snapshot_xmax(a.s)::pg_catalog.text || ':' ||" \
	"   (SELECT pg_catalog.string_agg(x::pg_catalog.text, ',' ORDER BY x) FROM" \
	"    (SELECT pg_catalog.pg_snapshot_xip(a.s) AS x UNION SELECT a.o) u)" \
	"  )::pg_catalog.pg_snapshot::pg_catalog.text END FROM a)"

static Oid
index_am(Oid indexrelid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexrelid));
	Oid			am;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	am = ((Form_pg_class) GETSTRUCT(tup))->relam;
	ReleaseSysCache(tup);
	return am;
}

/*
 * Whether a catch-up may read relid, a plain table read ONLY (one_relation
 * in source_heap_plan: no inheritance children, whose set could change
 * between the check and the read), without a test per row: no row-level
 * security (whose policies need not pick the same rows twice), and a valid
 * btree index that leads with the tracking column (create_pipeline makes
 * one; a user may have dropped it), for the check to read.
 */
static bool
unranged_read_possible(Oid relid)
{
	AttrNumber	attnum = get_attnum(relid, PIPELINE_TRACK_COLUMN);
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	bool		found = false;

	rel = relation_open(relid, AccessShareLock);
	if (rel->rd_rel->relrowsecurity)
	{
		relation_close(rel, AccessShareLock);
		return false;
	}
	indexes = RelationGetIndexList(rel);

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index ix;

		if (!HeapTupleIsValid(tup))
			continue;
		ix = (Form_pg_index) GETSTRUCT(tup);
		if (ix->indisvalid && ix->indnkeyatts >= 1 && ix->indkey.values[0] == attnum &&
			index_am(ix->indexrelid) == BTREE_AM_OID &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL))
			found = true;
		ReleaseSysCache(tup);
		if (found)
			break;
	}
	list_free(indexes);
	relation_close(rel, AccessShareLock);
	return found;
}

void
source_heap_plan(PipelineDef *def, PipelineProgress *prog, PipelineRead *rd)
{
	char	   *src = batch_qualified_name(def->source);
	char	   *S;
	char	   *pxmax;
	char	   *pxip;
	char	   *sxmax;
	char	   *sxip;
	char	   *newpred;
	char	   *lower;
	char	   *cut = NULL;
	char	   *s;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	if (get_attnum(def->source, PIPELINE_TRACK_COLUMN) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("source %s of pipeline \"%s\" has no column \"%s\"",
						src, def->name, PIPELINE_TRACK_COLUMN),
				 errhint("reset_pipeline or create the pipeline again to add it.")));
	if (get_atttype(def->source, get_attnum(def->source, PIPELINE_TRACK_COLUMN)) != XID8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of source %s of pipeline \"%s\" must be of type xid8",
						PIPELINE_TRACK_COLUMN, src, def->name),
				 errhint("The column records which transaction inserted each row; its type must not change.")));
	if (prog->snapshot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("pipeline \"%s\" has no progress snapshot", def->name),
				 errhint("reset_pipeline sets it again.")));

	/*
	 * S, with the batch's own transaction invisible in it whenever that has
	 * an xid.  A snapshot leaves its own xid out of xip, so it would count as
	 * committed when below xmax: the rows this transaction inserted so far
	 * would be read and marked done, and the rows it inserts after this
	 * batch, with the same xid, would then never be read.  Put into xip, the
	 * own xid stays unread until this transaction has committed, and a later
	 * batch reads all its rows.
	 */
	S = batch_spi_text("SELECT " SOURCE_HEAP_SNAPSHOT_SQL, 0, NULL, NULL, NULL);
	values[0] = CStringGetTextDatum(prog->snapshot);
	values[1] = CStringGetTextDatum(S);
	batch_spi("SELECT pg_catalog.pg_snapshot_xmax($1::pg_catalog.pg_snapshot)::pg_catalog.text,"
			  " coalesce((SELECT pg_catalog.array_agg(x ORDER BY x)::pg_catalog.text"
			  "   FROM pg_catalog.pg_snapshot_xip($1::pg_catalog.pg_snapshot) x), '{}'),"
			  " pg_catalog.pg_snapshot_xmax($2::pg_catalog.pg_snapshot)::pg_catalog.text,"
			  " coalesce((SELECT pg_catalog.array_agg(x ORDER BY x)::pg_catalog.text"
			  "   FROM pg_catalog.pg_snapshot_xip($2::pg_catalog.pg_snapshot) x), '{}')",
			  2, types, values, NULL, SPI_OK_SELECT);
	pxmax = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	pxip = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	sxmax = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	sxip = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);

	/* the literals are pg_snapshot/xid8 output: digits, colons, commas, braces */
	/* operators qualified: batch.c may read under the pipeline's search_path */
	/*
	 * Each part is left out when it cannot exclude a row, which is the case
	 * of a catch-up batch (every part costs a function call per row of every
	 * scan of the source): the xip list of P when it is empty; the test
	 * against S when S has no running transactions (its xip list is
	 * empty), because every xid the range admits is below xmax(S) - the
	 * xids of xip(P) too, as xmax(P) <= xmax(S) - and visible in S.
	 */
	lower = strtou64(pxmax, NULL, 10) <= FirstNormalTransactionId ? NULL :
		psprintf(X " OPERATOR(pg_catalog.>=) '%s'::pg_catalog.xid8", pxmax);
	/*
	 * Also the lower bound when P has seen no transaction at all (create
	 * and reset start from '1:1:'): every xid is at or above it, and the
	 * upper bound still keeps out NULL.  A catch-up over the whole source is
	 * the batch that reads the most rows, and each scan of it then makes one
	 * comparison per row fewer.  (A value below FirstNormalTransactionId,
	 * which no transaction has, could only have been written by hand: the
	 * first batch reads it rather than none ever.)
	 */
	newpred = psprintf("(%s" X " OPERATOR(pg_catalog.<) '%s'::pg_catalog.xid8%s)%s",
					   lower ? psprintf("%s AND ", lower) : "",
					   sxmax,
					   strcmp(pxip, "{}") == 0 ? "" :
					   psprintf(" OR " X " OPERATOR(pg_catalog.=) ANY ('%s'::pg_catalog.xid8[])", pxip),
					   S[strlen(S) - 1] == ':' ? "" :
					   psprintf(" AND pg_catalog.pg_visible_in_snapshot(" X ", '%s'::pg_catalog.pg_snapshot)", S));

	/*
	 * Anything new?  Asked per part of the predicate, each by the index on
	 * the tracking column: the new rows are the last ones of the table, and
	 * a sequential scan that "finds a row soon" (the planner's guess for
	 * EXISTS over a large table) read all of it first, every batch.
	 * ORDER BY the indexed column makes the index the cheaper plan.
	 */
	s = batch_spi_text(psprintf("SELECT 1 FROM %s t WHERE " X " OPERATOR(pg_catalog.>=) '%s'::pg_catalog.xid8"
								" AND " X " OPERATOR(pg_catalog.<) '%s'::pg_catalog.xid8"
								" AND pg_catalog.pg_visible_in_snapshot(" X ", '%s'::pg_catalog.pg_snapshot)"
								" ORDER BY " X " LIMIT 1",
								src, pxmax, sxmax, S),
					   0, NULL, NULL, NULL);
	if (s == NULL && strcmp(pxip, "{}") != 0)
		s = batch_spi_text(psprintf("SELECT 1 FROM %s t WHERE " X " OPERATOR(pg_catalog.=) ANY ('%s'::pg_catalog.xid8[])"
									" AND pg_catalog.pg_visible_in_snapshot(" X ", '%s'::pg_catalog.pg_snapshot)"
									" LIMIT 1",
									src, pxip, S),
						   0, NULL, NULL, NULL);
	if (s == NULL)
	{
		rd->empty = true;
		return;
	}

	if (def->max_batch_rows > 0)
	{
		/*
		 * The xid of the row after the first max_batch_rows in xid order:
		 * read only the transactions below it.  When a single transaction
		 * has more rows than that, it is read whole and C is the next one.
		 */
		char	   *c0;

		c0 = batch_spi_text(psprintf("SELECT " X "::pg_catalog.text FROM %s t WHERE %s"
									 " ORDER BY " X " OFFSET " INT64_FORMAT " LIMIT 1",
									 src, newpred, def->max_batch_rows),
							0, NULL, NULL, NULL);
		if (c0 != NULL)
		{
			char	   *first;

			first = batch_spi_text(psprintf("SELECT pg_catalog.min(" X ")::pg_catalog.text"
											" FROM %s t WHERE %s", src, newpred),
								   0, NULL, NULL, NULL);
			if (first != NULL && strcmp(first, c0) == 0)
				cut = batch_spi_text(psprintf("SELECT pg_catalog.min(" X ")::pg_catalog.text"
											  " FROM %s t WHERE %s AND " X " > '%s'::pg_catalog.xid8",
											  src, newpred, c0),
									 0, NULL, NULL, NULL);
			else
				cut = c0;
		}
	}

	/*
	 * A plain table without inheritance children is read ONLY: a child that
	 * inherits from it from now on is not read by this batch, as a partition
	 * attached after a statement's plan is not, and the row ids the batch
	 * collects are then all the table's own (window_buffer.c).
	 */
	rd->one_relation = get_rel_relkind(def->source) == RELKIND_RELATION &&
		!has_subclass(def->source);
	if (cut != NULL)
	{
		rd->caught_up = false;
		rd->from_sql = psprintf("FROM %s%s t WHERE %s AND " X " OPERATOR(pg_catalog.<) '%s'::pg_catalog.xid8",
								rd->one_relation ? "ONLY " : "", src, newpred, cut);
	}
	else
	{
		cut = sxmax;
		rd->from_sql = psprintf("FROM %s%s t WHERE %s", rd->one_relation ? "ONLY " : "", src, newpred);

		/*
		 * With no lower bound (the catch-up after create or reset) every
		 * row of the source is tested against the range, in every scan of
		 * it.  The tracking column is usually the table's last (added by
		 * create_pipeline), and the executor deforms a row up to the last
		 * column an expression names before it evaluates it, so each test
		 * reads the whole row, which the query itself mostly does not need:
		 * about 8 % of the catch-up of a gold pipeline.  When no row a
		 * snapshot X shows has a NULL tag, a tag at or above xmax(S) or a
		 * tag in xip(S) (which holds the batch's own xid, see above), every
		 * one of them passes the range (below xmax(S) and not running at S
		 * is visible in S), and a statement run with X may read the source
		 * without the test.  batch.c asks unranged_check_sql with X (the
		 * tracking index answers: max() from its last entry, the xids of
		 * xip(S) and NULL by index scans) and, when it is true, runs its
		 * single statement with the same X over unranged_from_sql.  X
		 * fixes which rows both see; both read the one table (ONLY: a
		 * plain table with no partitions, no inheritance children when
		 * asked and no row-level security, unranged_read_possible), and
		 * the lock the batch holds on it keeps out whatever could rewrite
		 * it.  (A child that inherits from it in between is read by
		 * neither, as a partition attached after the plan of a statement
		 * is not.)  A row of a writer running at S, or committed after it,
		 * of the batch's own transaction, or with a tag set by hand or
		 * restored from elsewhere at or above xmax(S) or in xip(S), makes
		 * the check false, and the range is tested as before.  Without the
		 * index the check would read the whole source.
		 */
		if (lower == NULL && strcmp(pxip, "{}") == 0 && rd->one_relation &&
			unranged_read_possible(def->source))
		{
			rd->unranged_from_sql = psprintf("FROM ONLY %s t", src);
			rd->unranged_check_sql =
				psprintf("SELECT ((SELECT pg_catalog.max(u." PIPELINE_TRACK_COLUMN ") FROM ONLY %s u)"
						 " OPERATOR(pg_catalog.<) '%s'::pg_catalog.xid8"
						 "%s"
						 " AND NOT EXISTS (SELECT FROM ONLY %s u WHERE u." PIPELINE_TRACK_COLUMN " IS NULL))"
						 " IS TRUE",
						 src, sxmax,
						 strcmp(sxip, "{}") == 0 ? "" :
						 psprintf(" AND NOT EXISTS (SELECT FROM ONLY %s u WHERE u." PIPELINE_TRACK_COLUMN
								  " OPERATOR(pg_catalog.=) ANY ('%s'::pg_catalog.xid8[]))", src, sxip),
						 src);
		}
	}
	/*
	 * Arrival: by transaction, then by Kafka partition and offset for a
	 * bronze table, then in physical order (rows one transaction appends
	 * follow each other)
	 */
	rd->row_prefix = "t.";
	rd->arrival1 = "t." PIPELINE_TRACK_COLUMN;
	rd->arrival2 = "t.ctid";
	rd->arrival_order = "r." PIPELINE_ARRIVAL1 ", r." PIPELINE_ARRIVAL2;
	if (batch_relation_has_column(src, "_partition") && batch_relation_has_column(src, "_offset"))
		rd->arrival_order = "r." PIPELINE_ARRIVAL1 ", r._partition, r._offset, r." PIPELINE_ARRIVAL2;

	/* the new progress snapshot, as the comment at the top derives it */
	{
		Oid			t3[3] = {TEXTOID, TEXTOID, TEXTOID};
		Datum		v3[3];

		v3[0] = CStringGetTextDatum(prog->snapshot);
		v3[1] = CStringGetTextDatum(S);
		v3[2] = CStringGetTextDatum(cut);
		rd->new_snapshot =
			batch_spi_text("WITH a AS (SELECT $1::pg_catalog.pg_snapshot AS p,"
						   "   $2::pg_catalog.pg_snapshot AS s, $3::pg_catalog.xid8 AS c),"
						   " b AS (SELECT a.*, greatest(pg_catalog.pg_snapshot_xmax(a.p), a.c) AS xmax"
						   "   FROM a),"
						   " xs AS (SELECT x FROM b, pg_catalog.pg_snapshot_xip(b.p) x"
						   "   WHERE x >= b.c OR NOT pg_catalog.pg_visible_in_snapshot(x, b.s)"
						   "  UNION"
						   "  SELECT x FROM b, pg_catalog.pg_snapshot_xip(b.s) x"
						   "   WHERE x >= pg_catalog.pg_snapshot_xmax(b.p) AND x < b.c)"
						   " SELECT (coalesce((SELECT pg_catalog.min(x) FROM xs), b.xmax)::pg_catalog.text"
						   "   || ':' || b.xmax::pg_catalog.text || ':' || coalesce("
						   "   (SELECT pg_catalog.string_agg(x::pg_catalog.text, ',' ORDER BY x) FROM xs), '')"
						   "  )::pg_catalog.pg_snapshot::pg_catalog.text FROM b",
						   3, t3, v3, NULL);
	}
}

/*
 * The snapshot to read the rows of a catch-up batch with, when every row it
 * shows is new to the batch: rd->from_sql is then the source without a test
 * per row (source_heap.c).  InvalidSnapshot otherwise.  The caller runs
 * the one statement that reads the rows with it (batch_spi_select_with).
 */
Snapshot
source_heap_unranged_snapshot(PipelineBatch *b, PipelineRead *rd)
{
	Snapshot	snap;

	if (rd->unranged_from_sql == NULL)
		return InvalidSnapshot;
	snap = RegisterSnapshot(GetTransactionSnapshot());
	if (!batch_spi_check(rd->unranged_check_sql, snap))
	{
		UnregisterSnapshot(snap);
		return InvalidSnapshot;
	}
	ereport(DEBUG1,
			(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
			 errmsg_internal("pipeline \"%s\": every row of the source is new to batch " INT64_FORMAT
							 ", which reads it without a test per row",
							 b->def->name, b->batch)));
	rd->from_sql = rd->unranged_from_sql;
	return snap;
}

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Retention asks before dropping relid (a partition of some pipeline's
 * source, or a source itself).  The catalogs are read as the bootstrap
 * superuser: row-level security would otherwise hide the pipelines of other
 * roles from the source's owner, and their unread rows would be dropped.
 * Only the extension's pinned catalog queries run under that identity; the
 * relation itself is read as its owner.  A pipeline whose owner has lost
 * SELECT on the source holds nothing back: any role with SELECT can create a
 * pipeline on a table, and its owner must be able to end that role's hold on
 * its retention (by revoking the privilege).
 */
bool
pipeline_relation_has_unprocessed(Oid relid, char **pipeline)
{
	Oid			save_user;
	int			save_sec;
	int			level;
	bool		found = false;
	char	   *name = NULL;
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("SPI_connect failed")));
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	PG_TRY();
	{
		char	   *s;

		s = batch_spi_text("SELECT pg_catalog.to_regclass('streamext.pipeline_progress')::pg_catalog.text",
						   0, NULL, NULL, NULL);
		if (s != NULL)
		{
			Oid			types[1] = {OIDOID};
			Datum		values[1] = {ObjectIdGetDatum(relid)};
			SPITupleTable *tt;
			uint64		n;
			char	   *rel = batch_qualified_name(relid);
			AttrNumber	track = get_attnum(relid, PIPELINE_TRACK_COLUMN);

			/*
			 * Only an xid8 column is the tracking column: over another type
			 * (its owner may alter it) the comparisons below could cast with
			 * a function of the owner's.
			 */
			bool		has_track = track != InvalidAttrNumber &&
				get_atttype(relid, track) == XID8OID;
			Oid			rel_owner = relation_owner(relid);

			batch_spi("SELECT p.name, pr.snapshot::pg_catalog.text, pr.version,"
					  " (SELECT c.relam = (SELECT oid FROM pg_catalog.pg_am"
					  "    WHERE amname = 'versioned_columnar')"
					  "  FROM pg_catalog.pg_class c WHERE c.oid = p.source::pg_catalog.oid)"
					  " FROM streamext.pipelines p"
					  " JOIN streamext.pipeline_progress pr ON pr.pipeline_id = p.id"
					  " WHERE (p.source::pg_catalog.oid = $1 OR p.source::pg_catalog.oid IN"
					  "  (SELECT a.relid::pg_catalog.oid FROM pg_catalog.pg_partition_ancestors($1) a))"
					  /* a pipeline that may no longer read the source holds nothing back */
					  "  AND pg_catalog.has_table_privilege(p.owner::pg_catalog.oid,"
					  "   p.source::pg_catalog.oid, 'SELECT')"
					  " ORDER BY p.name",
					  1, types, values, NULL, SPI_OK_SELECT);
			tt = SPI_tuptable;
			n = SPI_processed;
			for (uint64 i = 0; i < n && !found; i++)
			{
				HeapTuple	tup = tt->vals[i];
				char	   *pname = SPI_getvalue(tup, tt->tupdesc, 1);
				char	   *snap = SPI_getvalue(tup, tt->tupdesc, 2);
				char	   *ver = SPI_getvalue(tup, tt->tupdesc, 3);
				char	   *columnar = SPI_getvalue(tup, tt->tupdesc, 4);
				char	   *r;

				/*
				 * The relation's rows are read as its owner, in a
				 * security-restricted operation (as VACUUM runs index
				 * functions), not as the superuser that read the catalog.
				 */
				SetUserIdAndSecContext(rel_owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
									   SECURITY_RESTRICTED_OPERATION);
				if (columnar && strcmp(columnar, "t") == 0)
					r = batch_spi_text(psprintf("SELECT (SELECT coalesce(pg_catalog.max(version), 0)"
												" FROM streamext.history(%s)) > %s",
												quote_literal_cstr(rel), ver ? ver : "0"),
									   0, NULL, NULL, NULL);
				else if (!has_track || snap == NULL)
					r = "t";	/* cannot tell: keep the rows */
				else
					r = batch_spi_text(psprintf("SELECT EXISTS (SELECT 1 FROM %s t WHERE"
												" " X " >= pg_catalog.pg_snapshot_xmin(%s::pg_catalog.pg_snapshot)"
												" AND NOT pg_catalog.pg_visible_in_snapshot(" X ", %s::pg_catalog.pg_snapshot))",
												rel, quote_literal_cstr(snap), quote_literal_cstr(snap)),
									   0, NULL, NULL, NULL);
				SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
				if (r && strcmp(r, "t") == 0)
				{
					found = true;
					name = MemoryContextStrdup(caller, pname);
				}
			}
		}
	}
	PG_CATCH();
	{
		/* the (sub)transaction's abort restores the search_path */
		SetUserIdAndSecContext(save_user, save_sec);
		PG_RE_THROW();
	}
	PG_END_TRY();
	AtEOXact_GUC(true, level);
	SetUserIdAndSecContext(save_user, save_sec);
	SPI_finish();
	if (found && pipeline)
		*pipeline = name;
	return found;
}
