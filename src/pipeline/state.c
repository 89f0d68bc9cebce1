/*
 * state.c
 *		The per-pipeline state tables: streamext."pipeline_<id>_<suffix>"
 *		(the dedup keys of batch.c, the open windows of emit.c).
 *
 * They live in schema streamext, where a pipeline's owner may not create
 * tables, so they are created as the extension's owner and then given to the
 * pipeline's owner (the worker runs as that role and writes them in the
 * batch's transaction; nobody else gets a grant).  Each is recorded as a
 * member of the extension, so DROP EXTENSION removes them with the catalog
 * that refers to them, and pg_dump leaves them to the extension.  A member
 * of an extension cannot be dropped on its own, so drop_all first removes
 * that membership (as ALTER EXTENSION ... DROP does) and then the table.
 *
 * The id, not the name, names them: ids are never reused, names are.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "common/worker_common.h"
#include "pipeline/pipeline_internal.h"

static char *
state_relname(int64 id, const char *suffix)
{
	return psprintf("pipeline_" INT64_FORMAT "_%s", id, suffix);
}

char *
pipeline_state_table_name(PipelineDef *def, const char *suffix)
{
	return psprintf("streamext.%s", quote_identifier(state_relname(def->id, suffix)));
}

/* The owner of extension streamext, and its oid. */
static Oid
extension_owner(Oid *extoid)
{
	Oid			owner;
	HeapTuple	tup;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;

	*extoid = get_extension_oid("streamext", false);
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(*extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "extension streamext has no catalog row");
	owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return owner;
}

/*
 * Create the state table with the given column list (SQL, made by the
 * caller from quote_identifier and schema-qualified type names: it runs under
 * search_path pg_catalog, pg_temp as the extension's owner).
 */
void
pipeline_state_create_table(PipelineDef *def, const char *suffix, const char *columns_sql)
{
	Oid			extoid;
	Oid			extowner = extension_owner(&extoid);
	SeRunAs		as_ext;
	Oid			relid;
	char	   *relname = state_relname(def->id, suffix);
	char	   *qname = pipeline_state_table_name(def, suffix);
	ObjectAddress tbl;
	ObjectAddress ext;

	se_run_as_begin(&as_ext, extowner, SECURITY_RESTRICTED_OPERATION, "pg_catalog, pg_temp");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(psprintf("CREATE TABLE %s (%s)", qname, columns_sql), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create pipeline state table %s", qname);
	if (SPI_execute(psprintf("ALTER TABLE %s OWNER TO %s", qname,
							 quote_identifier(GetUserNameFromId(def->owner, false))),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not give pipeline state table %s to its owner", qname);
	SPI_finish();

	se_run_as_end(&as_ext);

	relid = get_relname_relid(relname, get_namespace_oid("streamext", false));
	if (!OidIsValid(relid))
		elog(ERROR, "pipeline state table %s vanished", qname);
	ObjectAddressSet(tbl, RelationRelationId, relid);
	ObjectAddressSet(ext, ExtensionRelationId, extoid);
	recordDependencyOn(&tbl, &ext, DEPENDENCY_EXTENSION);
	CommandCounterIncrement();
}

/* Drop every state table of pipeline pipeline_id (the caller checked the right to). */
void
pipeline_state_drop_all(int64 pipeline_id)
{
	Oid			nsp = get_namespace_oid("streamext", false);
	char	   *prefix = psprintf("pipeline_" INT64_FORMAT "_", pipeline_id);
	size_t		plen = strlen(prefix);
	List	   *relids = NIL;
	ListCell   *lc;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;

	rel = table_open(RelationRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_class_relnamespace, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(nsp));
	/* no index on relnamespace alone: a heap scan of pg_class, at drop time only */
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_class c = (Form_pg_class) GETSTRUCT(tup);

		if (c->relkind == RELKIND_RELATION &&
			strncmp(NameStr(c->relname), prefix, plen) == 0)
			relids = lappend_oid(relids, c->oid);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		ObjectAddress tbl;

		LockRelationOid(relid, AccessExclusiveLock);
		/* gone meanwhile (a concurrent drop of the same pipeline waited for us) */
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
			continue;
		deleteDependencyRecordsForClass(RelationRelationId, relid,
										ExtensionRelationId, DEPENDENCY_EXTENSION);
		CommandCounterIncrement();
		ObjectAddressSet(tbl, RelationRelationId, relid);
		performDeletion(&tbl, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
	}
	CommandCounterIncrement();
}
