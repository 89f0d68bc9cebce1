/*
 * lock_guard.c
 *		Refuse LOCK TABLE on the extension's tables, above ROW EXCLUSIVE, to
 *		roles that do not own them.
 *
 * Every role may UPDATE and DELETE rows of streamext.sources, source_offsets
 * and dead_letters (row-level security limits which), and PostgreSQL lets any
 * role with UPDATE or DELETE on a table LOCK it in every mode, ACCESS
 * EXCLUSIVE included.  Held in an open transaction, such a lock would stall
 * the launcher, every source's workers (each batch writes offsets, dead
 * letters, reads its source) and source_status: one role stopping all
 * others' ingest.  The weaker modes conflict with nothing the extension
 * does, so they stay allowed, as do all modes for the tables' owner and
 * superusers.  A view that reads these tables locks them too (LOCK recurses
 * into views, as the view's owner), so views are followed.
 *
 * The hook is installed in every backend that loads the library; with
 * shared_preload_libraries (the only setup in which sources run) that is
 * every backend.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "rewrite/rewriteHandler.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "ingest/ingest_internal.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

typedef struct GuardContext
{
	Oid			nsp;			/* the streamext schema */
	LOCKMODE	mode;
	int			depth;			/* of views followed */
	List	   *seen;			/* views already followed */
} GuardContext;

static void guard_relation(Oid relid, GuardContext *cxt);

static const char *
lock_mode_text(LOCKMODE mode)
{
	switch (mode)
	{
		case ShareUpdateExclusiveLock:
			return "SHARE UPDATE EXCLUSIVE";
		case ShareLock:
			return "SHARE";
		case ShareRowExclusiveLock:
			return "SHARE ROW EXCLUSIVE";
		case ExclusiveLock:
			return "EXCLUSIVE";
		case AccessExclusiveLock:
			return "ACCESS EXCLUSIVE";
		default:
			return "this";
	}
}

/* The relations a view's query reads, at any depth of subqueries and CTEs. */
static bool
guard_view_walker(Node *node, void *context)
{
	GuardContext *cxt = (GuardContext *) context;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		ListCell   *lc;

		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = lfirst(lc);

			if (rte->rtekind == RTE_RELATION)
				guard_relation(rte->relid, cxt);
		}
		return query_tree_walker(q, guard_view_walker, context, 0);
	}
	return expression_tree_walker(node, guard_view_walker, context);
}

static void
guard_relation(Oid relid, GuardContext *cxt)
{
	char		relkind;

	CHECK_FOR_INTERRUPTS();
	relkind = get_rel_relkind(relid);
	if (get_rel_namespace(relid) == cxt->nsp && !pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to lock table %s.%s in %s mode",
						get_namespace_name(cxt->nsp), get_rel_name(relid), lock_mode_text(cxt->mode)),
				 errdetail("The sources of every role read and write the tables of schema streamext; "
						   "a lock stronger than ROW EXCLUSIVE would stall them."),
				 errhint("Only the owner of the table and superusers may take it.")));
	/*
	 * Follow each view once: a view's query names the view itself (its OLD
	 * and NEW entries), and views may refer to each other; following them
	 * again and again grew without end (PostgreSQL's lock test ran a backend
	 * out of memory).
	 */
	if (relkind == RELKIND_VIEW && cxt->depth < 100 && !list_member_oid(cxt->seen, relid))
	{
		Relation	view;

		cxt->seen = lappend_oid(cxt->seen, relid);
		view = try_relation_open(relid, AccessShareLock);

		if (view != NULL)
		{
			Query	   *q = copyObject(get_view_query(view));

			relation_close(view, AccessShareLock);
			cxt->depth++;
			(void) guard_view_walker((Node *) q, cxt);
			cxt->depth--;
		}
	}
}

static void
guard_lock(LockStmt *stmt)
{
	GuardContext cxt;
	ListCell   *lc;

	if (stmt->mode <= RowExclusiveLock || superuser())
		return;
	cxt.nsp = get_namespace_oid("streamext", true);
	if (!OidIsValid(cxt.nsp))
		return;
	cxt.mode = stmt->mode;
	cxt.depth = 0;
	cxt.seen = NIL;
	foreach(lc, stmt->relations)
	{
		Oid			relid = RangeVarGetRelid((RangeVar *) lfirst(lc), NoLock, true);

		/* LOCK itself reports a missing table */
		if (OidIsValid(relid))
			guard_relation(relid, &cxt);
	}
}

static void
lock_guard_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						   ProcessUtilityContext context, ParamListInfo params,
						   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (IsA(pstmt->utilityStmt, LockStmt))
		guard_lock((LockStmt *) pstmt->utilityStmt);
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

void
ingest_lock_guard_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = lock_guard_process_utility;
}
