/*
 * owned.c
 *		DROP ROLE, REASSIGN OWNED and DROP OWNED for what the extension's
 *		catalogs say a role owns: pipelines, Kafka sources and alerts.
 *
 * Their owner is a regrole column of a heap table (streamext.pipelines,
 * sources, alerts), not a pg_shdepend entry, so PostgreSQL would drop a role
 * that owns a pipeline and leave the row with a dangling owner oid (shown as
 * a number, a worker that cannot connect).  A ProcessUtility hook does what
 * PostgreSQL does for the objects it tracks, in the database the command
 * runs in:
 *
 *	 DROP ROLE		refused (DEPENDENT_OBJECTS_STILL_EXIST) while the role owns
 *					one, naming each as PostgreSQL's own error does;
 *	 REASSIGN OWNED	after PostgreSQL has given the role's tables to the new
 *					role, gives it the pipelines, sources and alerts too (an
 *					UPDATE of the owner column as the calling role: the catalogs'
 *					triggers check it as for any change of owner, which only
 *					superusers may make);
 *	 DROP OWNED		first drops them with drop_pipeline, drop_source and
 *					drop_alert as the calling role (the pipelines go before
 *					their tables, which the drop guard would otherwise keep).
 *
 * The owner check reads the catalogs directly (no SPI), so row-level
 * security, which shows a role only its own rows, does not hide another
 * role's pipelines from a CREATEROLE user.  Roles are shared by all
 * databases but these catalogs are per database: what other databases hold
 * is not seen (docs/pipelines.md says so).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "common/launcher.h"

typedef struct OwnedCatalog
{
	const char *table;			/* in schema streamext */
	const char *kind;			/* for messages */
	const char *drop;			/* the function that drops one by name */
} OwnedCatalog;

static const OwnedCatalog owned_catalogs[] = {
	{"pipelines", "pipeline", "streamext.drop_pipeline"},
	{"sources", "source", "streamext.drop_source"},
	{"alerts", "alert", "streamext.drop_alert"},
};

static ProcessUtility_hook_type prev_process_utility = NULL;

/* The catalog table, or InvalidOid without the extension in this database. */
static Oid
owned_catalog_relid(const OwnedCatalog *c)
{
	Oid			nsp;

	if (!OidIsValid(get_extension_oid("streamext", true)))
		return InvalidOid;
	nsp = get_namespace_oid("streamext", true);
	return OidIsValid(nsp) ? get_relname_relid(c->table, nsp) : InvalidOid;
}

/* The names of the rows of catalog c owned by role (sorted by the scan: heap order). */
static List *
owned_names(const OwnedCatalog *c, Oid role)
{
	Oid			relid = owned_catalog_relid(c);
	Relation	rel;
	AttrNumber	name_att;
	AttrNumber	owner_att;
	Snapshot	snap;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *names = NIL;

	if (!OidIsValid(relid))
		return NIL;
	rel = table_open(relid, AccessShareLock);
	name_att = get_attnum(relid, "name");
	owner_att = get_attnum(relid, "owner");
	if (name_att == InvalidAttrNumber || owner_att == InvalidAttrNumber)
		elog(ERROR, "streamext.%s has no name or owner column", c->table);
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snap, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		Datum		owner = heap_getattr(tup, owner_att, RelationGetDescr(rel), &isnull);

		CHECK_FOR_INTERRUPTS();
		if (!isnull && DatumGetObjectId(owner) == role)
			names = lappend(names, TextDatumGetCString(heap_getattr(tup, name_att,
																	RelationGetDescr(rel),
																	&isnull)));
	}
	table_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
	return names;
}

/*
 * DROP ROLE: refuse while a role owns a pipeline, source or alert here.
 *
 * This runs before PostgreSQL's DropRole, and the error names what the role
 * owns, which row-level security hides from other roles: so only for a
 * caller DropRole would let that far (CREATEROLE, and superuser for a
 * superuser role).  For anyone else DropRole reports its own refusal.
 */
static void
check_drop_role(DropRoleStmt *stmt)
{
	ListCell   *lc;

	if (!has_createrole_privilege(GetUserId()))
		return;
	foreach(lc, stmt->roles)
	{
		RoleSpec   *spec = lfirst(lc);
		Oid			role;
		StringInfoData detail;
		int			count = 0;
		const char *first_kind = NULL;

		if (spec->roletype != ROLESPEC_CSTRING)
			continue;			/* DROP ROLE refuses CURRENT_USER and the like itself */
		role = get_role_oid(spec->rolename, true);
		if (!OidIsValid(role))
			continue;			/* DROP ROLE reports it (or skips it: IF EXISTS) */
		if (superuser_arg(role) && !superuser())
			continue;			/* DROP ROLE refuses it */
		initStringInfo(&detail);
		for (int i = 0; i < lengthof(owned_catalogs); i++)
		{
			ListCell   *nc;

			foreach(nc, owned_names(&owned_catalogs[i], role))
			{
				appendStringInfo(&detail, "%sowner of %s \"%s\"", count > 0 ? "\n" : "",
								 owned_catalogs[i].kind, (char *) lfirst(nc));
				if (count++ == 0)
					first_kind = owned_catalogs[i].kind;
			}
		}
		if (count > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because some objects depend on it",
							spec->rolename),
					 errdetail_internal("%s", detail.data),
					 errhint("Give them to another role with REASSIGN OWNED BY %s TO ..., or drop them"
							 " with DROP OWNED BY %s or streamext.drop_%s().",
							 quote_identifier(spec->rolename), quote_identifier(spec->rolename),
							 first_kind)));
	}
}

/*
 * The oids of the roles of REASSIGN OWNED or DROP OWNED whose privileges the
 * calling role has.  PostgreSQL's part reports a missing role or a missing
 * privilege, in its own order: those are left out here.
 */
static List *
stmt_roles(List *specs)
{
	List	   *roles = NIL;
	ListCell   *lc;

	foreach(lc, specs)
	{
		RoleSpec   *spec = lfirst(lc);
		Oid			role;

		if (spec->roletype == ROLESPEC_PUBLIC)
			continue;
		role = get_rolespec_oid(spec, true);
		if (OidIsValid(role) && has_privs_of_role(GetUserId(), role))
			roles = lappend_oid(roles, role);
	}
	return roles;
}

static void
spi_run(const char *sql, int nargs, Oid *types, Datum *values)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (ret < 0)
		elog(ERROR, "SPI_execute failed (%s): %s", SPI_result_code_string(ret), sql);
}

/*
 * REASSIGN OWNED (after PostgreSQL's part) or DROP OWNED (before it), for
 * the roles given: as the calling role, under a pinned search_path.
 */
static void
owned_apply(List *roles, Oid newrole, bool drop)
{
	int			level;
	ListCell   *lc;

	if (!OidIsValid(owned_catalog_relid(&owned_catalogs[0])))
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	foreach(lc, roles)
	{
		Oid			role = lfirst_oid(lc);

		for (int i = 0; i < lengthof(owned_catalogs); i++)
		{
			const OwnedCatalog *c = &owned_catalogs[i];
			List	   *names;
			ListCell   *nc;

			if (!OidIsValid(owned_catalog_relid(c)))
				continue;
			names = owned_names(c, role);
			foreach(nc, names)
			{
				Oid			types[2] = {TEXTOID, OIDOID};
				Datum		values[2] = {CStringGetTextDatum(lfirst(nc)), ObjectIdGetDatum(newrole)};

				if (drop)
					spi_run(psprintf("SELECT %s($1)", c->drop), 1, types, values);
				else
					spi_run(psprintf("UPDATE streamext.%s SET owner = $2::pg_catalog.regrole"
									 " WHERE name = $1", quote_identifier(c->table)),
							2, types, values);
			}
		}
	}
	AtEOXact_GUC(true, level);
	SPI_finish();
}

static void
owned_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params,
					  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, DropRoleStmt))
		check_drop_role((DropRoleStmt *) parsetree);
	else if (IsA(parsetree, DropOwnedStmt))
		owned_apply(stmt_roles(((DropOwnedStmt *) parsetree)->roles), InvalidOid, true);

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);

	/*
	 * After PostgreSQL's part, which checked the roles and gave the new one
	 * the tables the old ones owned (the sources and targets the catalogs'
	 * triggers check the new owner's privileges on).
	 */
	if (IsA(parsetree, ReassignOwnedStmt))
	{
		ReassignOwnedStmt *stmt = (ReassignOwnedStmt *) parsetree;

		CommandCounterIncrement();
		owned_apply(stmt_roles(stmt->roles), get_rolespec_oid(stmt->newrole, false), false);
	}
}

void
se_owned_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = owned_process_utility;
}
