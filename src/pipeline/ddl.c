/*
 * ddl.c
 *		create_pipeline, alter_pipeline, drop_pipeline, pause_pipeline,
 *		resume_pipeline and reset_pipeline.
 *
 * They run as the calling role, and write the catalog through SQL, so the
 * catalog's row-level security and its validation trigger (pipeline.sql)
 * apply to them as to direct DML: a role changes only the pipelines it owns
 * (or a superuser any).  What the trigger cannot do is done here: install the
 * tracking column on a heap source, create the late-rows and quarantine
 * tables, record the initial progress, and create, empty or drop the state.
 *
 * create_pipeline captures the caller's search_path (the pipeline keeps it;
 * its query and checks run with it) and then pins search_path = pg_catalog,
 * pg_temp for everything it runs itself; the other functions have the pin as
 * their SET clause.
 *
 * The tracking column is added without a table rewrite: ADD COLUMN with a
 * constant default (this transaction's own id as an xid8 literal, so the rows
 * already there read as inserted by the create transaction), then SET
 * DEFAULT pg_current_xact_id() for the rows to come, and a btree index (a
 * scan of the table, not a rewrite).  On a partitioned source both propagate
 * to the partitions.  Only the source's owner may do this; others get the
 * statements the owner must run.
 *
 * Initial progress: start_from earliest (and reset_pipeline) is the snapshot
 * '1:1:', in which no transaction is visible: every row the source has, or
 * will have, is still to be read, whatever transaction wrote it (also when
 * the column existed before, added by another pipeline or by the owner).
 * latest is the current snapshot, taken after the column was added: what
 * is committed now, and this transaction itself, count as read; transactions
 * still in progress are read when they commit.  A versioned_columnar source
 * starts at version 0, or its current version for latest.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "streamext.h"
#include "columnar/columnar.h"
#include "common/worker_common.h"
#include "pipeline/pipeline_internal.h"

PG_FUNCTION_INFO_V1(streamext_create_pipeline);
PG_FUNCTION_INFO_V1(streamext_alter_pipeline);
PG_FUNCTION_INFO_V1(streamext_drop_pipeline);
PG_FUNCTION_INFO_V1(streamext_pause_pipeline);
PG_FUNCTION_INFO_V1(streamext_resume_pipeline);
PG_FUNCTION_INFO_V1(streamext_reset_pipeline);
PG_FUNCTION_INFO_V1(streamext_pipeline_source_version);

/* The progress in which nothing has been read: no transaction is visible. */
#define PIPELINE_SNAPSHOT_NOTHING "1:1:"

/* Options that shape the state a running pipeline has built (alter refuses them). */
static const char *const state_shaping_options[] = {
	"event_time", "dedup_keys", "window", "mode", "start_from", NULL
};

/* ---------------------------------------------------------------- */
/* Helpers														*/
/* ---------------------------------------------------------------- */

static char *
rel_qname(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

static void
spi_exec(const char *sql, int expected)
{
	int			ret = SPI_execute(sql, false, 0);

	if (ret != expected)
		elog(ERROR, "pipeline statement failed (%s): %s", SPI_result_code_string(ret), sql);
}

static void
spi_exec_args(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
			  int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);

	if (ret != expected)
		elog(ERROR, "pipeline statement failed (%s): %s", SPI_result_code_string(ret), sql);
}

/* the launcher starts or stops the worker as soon as this transaction commits */
static void
wake_launcher(void)
{
	pipeline_signal_launcher();
}

static int
pin_search_path(const char *path)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

static void
check_name(const char *name)
{
	if (strlen(name) < 1 || strlen(name) > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pipeline name must be 1 to 63 bytes long, and \"%s\" has %d bytes", name, (int) strlen(name)),
				 errhint("Characters outside ASCII take 2 to 4 bytes each in UTF-8.")));
}

static bool
name_taken(const char *name)
{
	Oid			type = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	bool		isnull;

	spi_exec_args("SELECT streamext._pipeline_name_taken($1)", 1, &type, &arg, NULL, SPI_OK_SELECT);
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The pipeline the caller may change, its row locked until the end of the
 * transaction (so drop, alter and reset of one pipeline take turns);
 * otherwise an error saying whether it is missing or another role's.
 */
static PipelineDef *
own_pipeline(text *name_text, bool parse)
{
	char	   *name;
	PipelineDef *def;
	Oid			type = TEXTOID;
	Datum		arg;

	if (name_text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));
	name = text_to_cstring(name_text);
	arg = PointerGetDatum(name_text);
	spi_exec_args("SELECT 1 FROM streamext.pipelines WHERE name = $1 FOR UPDATE",
				  1, &type, &arg, NULL, SPI_OK_SELECT);
	def = parse ? pipeline_load(name, true) : pipeline_load_unparsed(name, true);
	if (def == NULL)
	{
		if (name_taken(name))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of pipeline \"%s\"", name),
					 errhint("Only its owner (or a member of the owner role) and superusers may change a pipeline.")));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline \"%s\" does not exist", name),
				 errhint("streamext.pipeline_status lists the pipelines you own.")));
	}
	return def;
}

static void
check_privilege(PipelineDef *def, Oid relid, AclMode mode, const char *privs, const char *what)
{
	/* every privilege of mode (pg_class_aclcheck is content with any one) */
	if (pg_class_aclmask(relid, def->owner, mode, ACLMASK_ALL) != mode)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", quote_identifier(get_rel_name(relid))),
				 errdetail("The owner of pipeline \"%s\" (%s) needs %s on its %s.", def->name,
						   GetUserNameFromId(def->owner, false), privs, what)));
}

/* What DESIGN.md asks of the owner: SELECT on the source, INSERT (and in
 * update mode UPDATE and DELETE) on the target; a table, not the source. */
static void
check_tables(PipelineDef *def)
{
	char		relkind = get_rel_relkind(def->target);

	if (def->source == def->target)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pipeline \"%s\" cannot write into the table it reads", def->name),
				 errhint("Give the pipeline another target table.")));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the target of pipeline \"%s\" must be a table", def->name),
				 errdetail("%s is not a heap, partitioned or versioned_columnar table.", rel_qname(def->target))));
	/* a worker (another session) could not read it, and it vanishes with this session */
	if (get_rel_persistence(def->source) == RELPERSISTENCE_TEMP ||
		get_rel_persistence(def->target) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the source and target of pipeline \"%s\" must not be temporary tables", def->name),
				 errhint("Pipelines run in other sessions, which cannot see this session's temporary tables.")));
	check_privilege(def, def->source, ACL_SELECT, "SELECT", "source table");
	if (def->mode == PIPELINE_MODE_UPDATE)
		check_privilege(def, def->target, ACL_INSERT | ACL_UPDATE | ACL_DELETE,
						"INSERT, UPDATE and DELETE", "target table in update mode");
	else
		check_privilege(def, def->target, ACL_INSERT, "INSERT", "target table");
}

/* ---------------------------------------------------------------- */
/* The tracking column											*/
/* ---------------------------------------------------------------- */

/*
 * The lock install_tracking_column needs to add the column, taken before
 * anything else opens the source (the checks of create_pipeline take
 * AccessShareLock): taken after, it is an upgrade, and two sessions that
 * upgrade their locks on one table deadlock, as create_pipeline did with the
 * source worker that was creating a time partition of the same table.  Only
 * for the owner (the one who may add the column: others must not queue
 * everyone behind a lock they cannot use) of a heap or partitioned table
 * still without the column.
 */
static void
lock_for_tracking_column(Oid source)
{
	char		relkind = get_rel_relkind(source);

	if ((relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE) &&
		!columnar_relation_is_columnar(source) &&
		get_attnum(source, PIPELINE_TRACK_COLUMN) == InvalidAttrNumber &&
		pg_class_ownercheck(source, GetUserId()))
		LockRelationOid(source, AccessExclusiveLock);
}

static void
install_tracking_column(PipelineDef *def)
{
	AttrNumber	attnum = get_attnum(def->source, PIPELINE_TRACK_COLUMN);
	char	   *src = rel_qname(def->source);
	FullTransactionId fxid;

	if (attnum != InvalidAttrNumber)
	{
		Oid			type = get_atttype(def->source, attnum);

		if (type != XID8OID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column %s of source table %s of pipeline \"%s\" must be of type xid8, not %s",
							PIPELINE_TRACK_COLUMN, src, def->name, format_type_be(type)),
					 errhint("The column is the pipelines' record of which transaction inserted each row; rename yours.")));
		return;
	}
	if (!pg_class_ownercheck(def->source, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s to create pipeline \"%s\" on it", src, def->name),
				 errdetail("A pipeline on a heap table reads each row once by the transaction that inserted it, kept in column %s, which %s lacks.",
						   PIPELINE_TRACK_COLUMN, src),
				 errhint("Ask the owner of %s to run (no table rewrite): "
						 "ALTER TABLE %s ADD COLUMN %s xid8 DEFAULT '3'; "
						 "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT pg_current_xact_id(); "
						 "CREATE INDEX ON %s (%s);",
						 src, src, PIPELINE_TRACK_COLUMN, src, PIPELINE_TRACK_COLUMN,
						 src, PIPELINE_TRACK_COLUMN)));

	/*
	 * Two create_pipeline on one source take turns here; the second finds
	 * the column the first added (taking the lock processes the catalog
	 * invalidations of the first's commit).
	 */
	LockRelationOid(def->source, AccessExclusiveLock);
	if (get_attnum(def->source, PIPELINE_TRACK_COLUMN) != InvalidAttrNumber)
	{
		install_tracking_column(def);
		return;
	}
	fxid = GetTopFullTransactionId();
	spi_exec(psprintf("ALTER TABLE %s ADD COLUMN %s pg_catalog.xid8 DEFAULT '" UINT64_FORMAT "'::pg_catalog.xid8",
					  src, PIPELINE_TRACK_COLUMN, U64FromFullTransactionId(fxid)),
			 SPI_OK_UTILITY);
	spi_exec(psprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT pg_catalog.pg_current_xact_id()",
					  src, PIPELINE_TRACK_COLUMN),
			 SPI_OK_UTILITY);
	spi_exec(psprintf("CREATE INDEX ON %s (%s)", src, PIPELINE_TRACK_COLUMN), SPI_OK_UTILITY);

	/*
	 * Statistics for the new column: without them the planner estimates a
	 * batch's range over it at a few hundred rows, and a first batch over a
	 * million rows (a catch-up) joins them with nested loops.  Once it has
	 * any, new xids above its histogram are estimated from the index.
	 */
	spi_exec(psprintf("ANALYZE %s (%s)", src, PIPELINE_TRACK_COLUMN), SPI_OK_UTILITY);
}

/* ---------------------------------------------------------------- */
/* Late-rows and quarantine tables								*/
/* ---------------------------------------------------------------- */

/*
 * Resolve the table named by option `what` (SQL name syntax, resolved with
 * the pipeline's search_path); create it when missing: the source's columns
 * (without the tracking column) plus _pipeline, _batch, _watermark (and
 * _expectation for quarantine).  Returns the schema-qualified quoted name the
 * catalog keeps (as pg_event_trigger_dropped_objects spells it).
 */
static char *
ensure_side_table(PipelineDef *def, const char *what, const char *name, bool quarantine)
{
	List	   *names;
	RangeVar   *rv;
	Oid			relid;
	int			nest = pin_search_path(def->search_path);
	char	   *result;

	names = stringToQualifiedNameList(name);
	rv = makeRangeVarFromNameList(names);
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
	{
		Relation	src = table_open(def->source, AccessShareLock);
		TupleDesc	desc = RelationGetDescr(src);
		StringInfoData sql;
		char	   *qname = rv->schemaname ?
			quote_qualified_identifier(rv->schemaname, rv->relname) :
			(char *) quote_identifier(rv->relname);

		initStringInfo(&sql);
		appendStringInfo(&sql, "CREATE TABLE %s (", qname);
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (att->attisdropped || strcmp(NameStr(att->attname), PIPELINE_TRACK_COLUMN) == 0)
				continue;
			appendStringInfo(&sql, "%s %s, ", quote_identifier(NameStr(att->attname)),
							 format_type_extended(att->atttypid, att->atttypmod,
												  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
		}
		table_close(src, AccessShareLock);
		appendStringInfoString(&sql, "_pipeline pg_catalog.text, _batch pg_catalog.int8, _watermark pg_catalog.timestamptz");
		if (quarantine)
			appendStringInfoString(&sql, ", _expectation pg_catalog.text");
		appendStringInfoChar(&sql, ')');
		spi_exec(sql.data, SPI_OK_UTILITY);
		relid = RangeVarGetRelid(rv, NoLock, false);
	}
	else
	{
		const char *need[] = {"_pipeline", "_batch", "_watermark", quarantine ? "_expectation" : NULL};
		char		relkind = get_rel_relkind(relid);

		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("the %s table of pipeline \"%s\" must be a table, and %s is not", what, def->name,
							rel_qname(relid))));
		for (int i = 0; i < lengthof(need) && need[i]; i++)
			if (get_attnum(relid, need[i]) == InvalidAttrNumber)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("the %s table %s of pipeline \"%s\" has no column \"%s\"", what,
								rel_qname(relid), def->name, need[i]),
						 errhint("It holds the source's columns plus _pipeline text, _batch bigint, _watermark timestamptz%s; name a table that does not exist and the pipeline creates it.",
								 quarantine ? ", _expectation text" : "")));
	}
	AtEOXact_GUC(true, nest);
	check_privilege(def, relid, ACL_INSERT, "INSERT", psprintf("%s table", what));
	result = rel_qname(relid);
	return result;
}

/*
 * Create the late-rows and quarantine tables when missing and write their
 * qualified names into the options (so the stored name never depends on a
 * search_path again).
 */
static Jsonb *
side_tables(PipelineDef *def, Jsonb *options)
{
	Oid			types[3] = {JSONBOID, TEXTOID, TEXTOID};

	if (def->late_rows)
	{
		Datum		args[3];

		def->late_rows = ensure_side_table(def, "late_rows", def->late_rows, false);
		args[0] = JsonbPGetDatum(options);
		args[1] = CStringGetTextDatum("late_rows");
		args[2] = CStringGetTextDatum(def->late_rows);
		spi_exec_args("SELECT $1 || pg_catalog.jsonb_build_object($2, $3)", 3, types, args, NULL, SPI_OK_SELECT);
		options = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &(bool){false}));
	}
	if (def->quarantine)
	{
		Datum		args[3];

		def->quarantine = ensure_side_table(def, "quarantine", def->quarantine, true);
		args[0] = JsonbPGetDatum(options);
		args[1] = CStringGetTextDatum("quarantine");
		args[2] = CStringGetTextDatum(def->quarantine);
		spi_exec_args("SELECT $1 || pg_catalog.jsonb_build_object($2, $3)", 3, types, args, NULL, SPI_OK_SELECT);
		options = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &(bool){false}));
	}
	def->options = options;
	return options;
}

/* ---------------------------------------------------------------- */
/* Progress														*/
/* ---------------------------------------------------------------- */

static int64
source_version(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	int64		storage = columnar_storage_id(rel, true);
	int64		version = storage ? columnar_latest_version(storage, GetActiveSnapshot()) : 0;

	table_close(rel, AccessShareLock);
	return version;
}

/*
 * start_from latest: the current snapshot S, with this transaction made
 * visible in it (the rows already in the source carry this transaction's id
 * when create_pipeline added the column; rows it inserted before count as
 * there already).  S leaves it out when it is the newest transaction (xmax(S)
 * = latest completed + 1 <= its id); then xmax goes past it, and the xids
 * between xmax(S) and it, which were all running when S was taken, join the
 * xip list, so they are read when they commit.
 */
#define LATEST_SNAPSHOT_SQL \
	"(SELECT CASE WHEN x.me OPERATOR(pg_catalog.<) pg_catalog.pg_snapshot_xmax(x.s) THEN x.s" \
	" ELSE (pg_catalog.pg_snapshot_xmin(x.s)::pg_catalog.text OPERATOR(pg_catalog.||) ':'" \
	" OPERATOR(pg_catalog.||) ((x.me::pg_catalog.text::pg_catalog.int8) OPERATOR(pg_catalog.+) 1)::pg_catalog.text" \
	" OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(ARRAY(" \
	"  SELECT u.v FROM (SELECT pg_catalog.pg_snapshot_xip(x.s)::pg_catalog.text::pg_catalog.int8 AS v" \
	"   UNION SELECT pg_catalog.generate_series(pg_catalog.pg_snapshot_xmax(x.s)::pg_catalog.text::pg_catalog.int8," \
	"    (x.me::pg_catalog.text::pg_catalog.int8) OPERATOR(pg_catalog.-) 1)) u ORDER BY u.v), ','))::pg_catalog.pg_snapshot END" \
	" FROM (SELECT pg_catalog.pg_current_snapshot() AS s, pg_catalog.pg_current_xact_id() AS me) x)"

/* Write the progress a pipeline starts from (insert: create; else reset). */
static void
write_initial_progress(PipelineDef *def, bool insert, bool latest)
{
	Oid			types[3] = {INT8OID, TEXTOID, INT8OID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	const char *snapshot_sql;

	args[0] = Int64GetDatum(def->id);
	if (def->source_kind == PIPELINE_SOURCE_COLUMNAR)
	{
		nulls[1] = 'n';
		args[2] = Int64GetDatum(latest ? source_version(def->source) : 0);
		snapshot_sql = "$2::pg_catalog.pg_snapshot";
	}
	else
	{
		nulls[2] = 'n';
		args[1] = CStringGetTextDatum(PIPELINE_SNAPSHOT_NOTHING);
		snapshot_sql = latest ? LATEST_SNAPSHOT_SQL : "$2::pg_catalog.pg_snapshot";
	}
	if (insert)
		spi_exec_args(psprintf("INSERT INTO streamext.pipeline_progress (pipeline_id, snapshot, version) "
							   "SELECT $1, %s, $3", snapshot_sql),
					  3, types, args, nulls, SPI_OK_INSERT);
	else
	{
		spi_exec_args(psprintf("UPDATE streamext.pipeline_progress SET snapshot = %s, version = $3, "
							   "version_committed_at = NULL, watermark = NULL, max_event_time = NULL, dedup_floor = NULL, batches = 0, rows_in = 0, "
							   "rows_out = 0, late_rows = 0, duplicates_dropped = 0, "
							   "expectation_failures = 0, expectation_counts = '{}', last_batch_at = NULL "
							   "WHERE pipeline_id = $1", snapshot_sql),
					  3, types, args, nulls, SPI_OK_UPDATE);
		/* a pipeline restored from pg_dump's output has no progress row */
		if (SPI_processed == 0)
			write_initial_progress(def, true, latest);
	}
}

/* ---------------------------------------------------------------- */
/* The functions													*/
/* ---------------------------------------------------------------- */

Datum
streamext_create_pipeline(PG_FUNCTION_ARGS)
{
	PipelineDef *def;
	char	   *search_path;
	int			nest;
	Jsonb	   *options;
	Oid			types[6] = {TEXTOID, OIDOID, OIDOID, TEXTOID, JSONBOID, TEXTOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name, source and target of a pipeline must not be null")));

	/* the caller's search_path is the pipeline's; then pin ours */
	search_path = pstrdup(GetConfigOption("search_path", false, false));
	nest = pin_search_path("pg_catalog, pg_temp");

	def = palloc0(sizeof(PipelineDef));
	def->name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	def->source = PG_GETARG_OID(1);
	def->target = PG_GETARG_OID(2);
	def->query = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	options = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	def->search_path = search_path;
	def->owner = GetUserId();
	def->state = "running";
	check_name(def->name);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (options == NULL)
	{
		spi_exec("SELECT '{}'::pg_catalog.jsonb", SPI_OK_SELECT);
		options = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	def->options = options;

	if (name_taken(def->name))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("pipeline \"%s\" already exists", def->name)));

	lock_for_tracking_column(def->source);
	pipeline_def_parse(def, true);
	check_tables(def);
	pipeline_emit_validate(def);
	if (def->source_kind == PIPELINE_SOURCE_HEAP)
		install_tracking_column(def);
	options = side_tables(def, options);

	args[0] = CStringGetTextDatum(def->name);
	args[1] = ObjectIdGetDatum(def->source);
	args[2] = ObjectIdGetDatum(def->target);
	if (def->query)
		args[3] = CStringGetTextDatum(def->query);
	else
		nulls[3] = 'n';
	args[4] = JsonbPGetDatum(options);
	args[5] = CStringGetTextDatum(def->search_path);
	spi_exec_args("INSERT INTO streamext.pipelines (name, source, target, query, options, search_path) "
				  "VALUES ($1, $2::pg_catalog.regclass, $3::pg_catalog.regclass, $4, $5, $6) RETURNING id",
				  6, types, args, nulls, SPI_OK_INSERT_RETURNING);
	def->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	write_initial_progress(def, true, def->start_latest);
	pipeline_emit_create_state(def);
	wake_launcher();
	if (def->trigger != PIPELINE_TRIGGER_MANUAL)
	{
		static bool warned_database = false;

		streamext_warn_if_no_workers("pipelines", "Only streamext.run_pipeline runs their batches here.",
									 &warned_database);
	}
	SPI_finish();
	AtEOXact_GUC(true, nest);
	PG_RETURN_VOID();
}

Datum
streamext_alter_pipeline(PG_FUNCTION_ARGS)
{
	PipelineDef *def;
	PipelineDef *old;
	Jsonb	   *merged;
	Oid			types[3] = {TEXTOID, JSONBOID, JSONBOID};
	Datum		args[3];
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	old = own_pipeline(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), true);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the options of pipeline \"%s\" must not be null", old->name),
				 errhint("Give the options to change, as a JSON object; a key set to null goes back to its default.")));
	if (!JB_ROOT_IS_OBJECT(PG_GETARG_JSONB_P(1)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the options of pipeline \"%s\" must be a JSON object", old->name)));

	/* merge key by key; a key set to null goes back to its default */
	args[0] = CStringGetTextDatum(old->name);
	args[1] = JsonbPGetDatum(old->options);
	args[2] = PG_GETARG_DATUM(1);
	spi_exec_args("SELECT COALESCE(pg_catalog.jsonb_object_agg(key, value), '{}') "
				  "FROM pg_catalog.jsonb_each($2 || $3) WHERE pg_catalog.jsonb_typeof(value) <> 'null'",
				  3, types, args, NULL, SPI_OK_SELECT);
	merged = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/* what the state was built for cannot change under it */
	for (int i = 0; state_shaping_options[i]; i++)
	{
		const char *k = state_shaping_options[i];
		Datum		kargs[3];
		Oid			ktypes[3] = {JSONBOID, JSONBOID, TEXTOID};

		kargs[0] = JsonbPGetDatum(old->options);
		kargs[1] = JsonbPGetDatum(merged);
		kargs[2] = CStringGetTextDatum(k);
		spi_exec_args("SELECT ($1 -> $3) IS DISTINCT FROM ($2 -> $3)", 3, ktypes, kargs, NULL, SPI_OK_SELECT);
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("option \"%s\" of pipeline \"%s\" cannot be changed", k, old->name),
					 errdetail("The pipeline's progress and state were built for it."),
					 errhint("Create a new pipeline with the new options (and drop this one): its state starts empty.")));
	}

	def = palloc0(sizeof(PipelineDef));
	*def = *old;
	def->options = merged;
	def->owner = old->owner;
	pipeline_def_parse(def, true);
	check_tables(def);
	pipeline_emit_validate(def);
	merged = side_tables(def, merged);

	args[1] = JsonbPGetDatum(merged);
	spi_exec_args("UPDATE streamext.pipelines SET options = $2 WHERE name = $1",
				  2, types, args, NULL, SPI_OK_UPDATE);
	wake_launcher();
	SPI_finish();
	PG_RETURN_VOID();
}

Datum
streamext_drop_pipeline(PG_FUNCTION_ARGS)
{
	PipelineDef *def;
	Oid			type = INT8OID;
	Datum		arg;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	def = own_pipeline(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), false);
	pipeline_state_drop_all(def->id);
	arg = Int64GetDatum(def->id);
	/* progress and the event log go with it (ON DELETE CASCADE) */
	spi_exec_args("DELETE FROM streamext.pipelines WHERE id = $1", 1, &type, &arg, NULL, SPI_OK_DELETE);
	if (SPI_processed != 1)
		elog(ERROR, "pipeline \"%s\" vanished while being dropped", def->name);
	wake_launcher();
	SPI_finish();
	PG_RETURN_VOID();
}

static void
set_state(FunctionCallInfo fcinfo, const char *state)
{
	PipelineDef *def;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	def = own_pipeline(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), false);
	args[0] = Int64GetDatum(def->id);
	args[1] = CStringGetTextDatum(state);
	/* the catalog trigger bumps the generation and clears last_error on resume */
	spi_exec_args("UPDATE streamext.pipelines SET state = $2 WHERE id = $1",
				  2, types, args, NULL, SPI_OK_UPDATE);
	wake_launcher();
	SPI_finish();
}

Datum
streamext_pause_pipeline(PG_FUNCTION_ARGS)
{
	set_state(fcinfo, "paused");
	PG_RETURN_VOID();
}

Datum
streamext_resume_pipeline(PG_FUNCTION_ARGS)
{
	set_state(fcinfo, "running");
	PG_RETURN_VOID();
}

/*
 * reset_pipeline empties the owner's tables, whose triggers are the owner's
 * code: called by another role (a superuser, a member of the owner role) it
 * does its work as the owner, in a security-restricted operation with the
 * settings undone after, as run_pipeline does, so that code never runs with
 * the caller's rights or leaves anything behind in the caller's session.
 */
typedef struct ResetAsOwner
{
	SeRunAs		as_owner;
	bool		switched;		/* false: the caller is the owner */
} ResetAsOwner;

static void
reset_as_owner(PipelineDef *def, ResetAsOwner *ro)
{
	ro->switched = GetUserId() != def->owner;
	if (ro->switched)
		se_run_as_begin(&ro->as_owner, def->owner, SECURITY_RESTRICTED_OPERATION, NULL);
}

static void
reset_as_owner_end(ResetAsOwner *ro)
{
	if (ro->switched)
		se_run_as_end(&ro->as_owner);
}

/*
 * Kappa backfill.  The target is emptied with DELETE, not TRUNCATE: a
 * versioned_columnar target records it as one version and keeps its history
 * (as_of the version before the reset still answers), and on any target
 * readers keep their MVCC view and are not locked out, as TRUNCATE's ACCESS
 * EXCLUSIVE lock would.  The pipeline's own rows in its late-rows and
 * quarantine tables go too (the replay writes them again), with the event
 * log, the dedup and window state, and the progress: back to the start of
 * the source, whatever start_from said.
 */
Datum
streamext_reset_pipeline(PG_FUNCTION_ARGS)
{
	PipelineDef *def;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];
	char	   *dedup;
	ResetAsOwner ro;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	def = own_pipeline(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), true);
	reset_as_owner(def, &ro);
	args[0] = Int64GetDatum(def->id);
	args[1] = CStringGetTextDatum(def->name);

	/*
	 * A batch holds the progress row from its start to its commit (batch.c):
	 * wait for a running one, so that the DELETEs below, whose snapshots are
	 * taken after, see (and remove) what it wrote.
	 */
	spi_exec_args("SELECT 1 FROM streamext.pipeline_progress WHERE pipeline_id = $1 FOR UPDATE",
				  1, types, args, NULL, SPI_OK_SELECT);
	spi_exec(psprintf("DELETE FROM %s", rel_qname(def->target)), SPI_OK_DELETE);
	if (def->late_rows)
		spi_exec_args(psprintf("DELETE FROM %s WHERE _pipeline = $2", def->late_rows),
					  2, types, args, NULL, SPI_OK_DELETE);
	if (def->quarantine)
		spi_exec_args(psprintf("DELETE FROM %s WHERE _pipeline = $2", def->quarantine),
					  2, types, args, NULL, SPI_OK_DELETE);
	spi_exec_args("DELETE FROM streamext.pipeline_batches WHERE pipeline_id = $1",
				  1, types, args, NULL, SPI_OK_DELETE);

	dedup = pipeline_state_table_name(def, "dedup");
	if (OidIsValid(get_relname_relid(psprintf("pipeline_" INT64_FORMAT "_dedup", def->id),
									 get_namespace_oid("streamext", false))))
		spi_exec(psprintf("DELETE FROM %s", dedup), SPI_OK_DELETE);
	pipeline_emit_reset_state(def);
	/* a restored pipeline has no window state table yet (pg_dump leaves it out) */
	pipeline_emit_create_state(def);

	/* a tracking column dropped since create_pipeline comes back (the batches' hint says so) */
	if (def->source_kind == PIPELINE_SOURCE_HEAP)
		install_tracking_column(def);
	write_initial_progress(def, false, false);
	/* a finished or failed pipeline runs again; a paused one stays paused */
	spi_exec_args("UPDATE streamext.pipelines SET generation = generation + 1, "
				  "state = CASE WHEN state IN ('finished', 'error') THEN 'running' ELSE state END "
				  "WHERE id = $1",
				  1, types, args, NULL, SPI_OK_UPDATE);
	reset_as_owner_end(&ro);
	wake_launcher();
	SPI_finish();
	PG_RETURN_VOID();
}

/* streamext._pipeline_source_version(regclass): see pipeline.sql */
Datum
streamext_pipeline_source_version(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	if (!columnar_relation_is_columnar(relid) ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		PG_RETURN_NULL();
	PG_RETURN_INT64(source_version(relid));
}
