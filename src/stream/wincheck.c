/*
 * wincheck.c
 *		Checks of the window clause an event-time function is called in:
 *		is_late(), is_duplicate() and session_window() need an ORDER BY
 *		(and session_window() one on its ts argument) and a frame that
 *		starts at the partition's first row; a running watermark() needs a
 *		frame that starts there too.  Without these checks a wrong window
 *		would silently give wrong answers (every row a peer of every other
 *		row, so nothing is ever late).
 *
 * The public window API (windowapi.h) does not expose the window clause, but
 * the executor's WindowAggState and its WindowAgg plan node do.  Window
 * functions get a WindowObject whose struct is private to nodeWindowAgg.c;
 * its first two members have been "NodeTag type; WindowAggState *winstate"
 * since PostgreSQL 8.4 (checked against PostgreSQL 15), which is all the
 * mirror below relies on.  Aggregates used as window functions get the
 * WindowAggState itself as their call context.
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "nodes/primnodes.h"
#include "parser/parsetree.h"
#include "windowapi.h"

#include "stream/stream_window.h"

/* the head of nodeWindowAgg.c's WindowObjectData (PostgreSQL 15) */
typedef struct WindowObjectHead
{
	NodeTag		type;			/* T_WindowObjectData */
	WindowAggState *winstate;	/* parent WindowAggState */
} WindowObjectHead;

/* marks an flinfo whose window clause was checked already (fn_extra) */
static const char window_checked = 1;

/* the WindowAggState fcinfo was called from, or NULL outside a window */
static WindowAggState *
window_state(FunctionCallInfo fcinfo)
{
	Node	   *context = fcinfo->context;

	if (context == NULL)
		return NULL;
	if (IsA(context, WindowAggState))
		return (WindowAggState *) context;
	if (IsA(context, WindowObjectData))
	{
		WindowAggState *ws = ((WindowObjectHead *) context)->winstate;

		if (ws == NULL || !IsA(ws, WindowAggState))
			elog(ERROR, "unexpected window object layout");
		return ws;
	}
	return NULL;
}

/*
 * Is expr (an argument of the window function, in terms of the WindowAgg's
 * input) the window's first ORDER BY column?  setrefs.c turns an argument
 * equal to a column of the input into a Var pointing at it; implicit casts
 * (timestamp to timestamptz) are looked through, since the rows are checked
 * for ascending order as they are read anyway.
 */
static bool
is_first_order_column(WindowAgg *plan, Node *expr)
{
	Plan	   *input = outerPlan(&plan->plan);
	Var		   *var;
	TargetEntry *ordtle;
	TargetEntry *argtle;

	expr = strip_implicit_coercions(expr);
	if (expr == NULL)
		return false;

	/*
	 * A constant ts (the planner turns a one-row VALUES list into constants)
	 * is in order whatever the window is ordered by.
	 */
	if (IsA(expr, Const))
		return true;
	if (!IsA(expr, Var))
		return false;
	var = (Var *) expr;
	if (var->varno != OUTER_VAR)
		return false;
	if (var->varattno == plan->ordColIdx[0])
		return true;
	if (input == NULL)
		return false;
	ordtle = get_tle_by_resno(input->targetlist, plan->ordColIdx[0]);
	argtle = get_tle_by_resno(input->targetlist, var->varattno);
	return ordtle != NULL && argtle != NULL &&
		equal(strip_implicit_coercions((Node *) ordtle->expr),
			  strip_implicit_coercions((Node *) argtle->expr));
}

void
stream_window_check(FunctionCallInfo fcinfo, const char *fname,
					bool order_by_arg0)
{
	WindowAggState *ws;
	WindowAgg  *plan;
	int			opts;

	if (fcinfo->flinfo->fn_extra == &window_checked)
		return;
	ws = window_state(fcinfo);
	if (ws == NULL)
		elog(ERROR, "%s called outside a window", fname);
	plan = (WindowAgg *) ws->ss.ps.plan;
	if (plan == NULL || !IsA(plan, WindowAgg))
		elog(ERROR, "%s called outside a window", fname);

	if (plan->ordNumCols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WINDOWING_ERROR),
				 errmsg("%s requires a window with ORDER BY", fname),
				 order_by_arg0 ?
				 errhint("Write session_window(ts, gap) OVER (PARTITION BY key ORDER BY ts).") :
				 errhint("Order the window by arrival. For a bronze table of a multi-partition topic, use OVER (ORDER BY _ingested_at, _partition, _offset): _offset alone orders only the rows of one partition.")));
	if (order_by_arg0)
	{
		Node	   *fexpr = fcinfo->flinfo->fn_expr;
		List	   *args = (fexpr != NULL && IsA(fexpr, WindowFunc)) ?
			((WindowFunc *) fexpr)->args : NIL;

		if (args == NIL || !is_first_order_column(plan, linitial(args)))
			ereport(ERROR,
					(errcode(ERRCODE_WINDOWING_ERROR),
					 errmsg("%s requires its window to be ordered by its ts argument", fname),
					 errhint("Write session_window(ts, gap) OVER (PARTITION BY key ORDER BY ts).")));
	}

	/*
	 * The functions look at every earlier row of the partition whatever the
	 * frame says (like lag()), so only frames that include every earlier row
	 * are accepted: those that start at UNBOUNDED PRECEDING and end at the
	 * current row or the partition's end, without EXCLUDE.
	 */
	opts = plan->frameOptions;
	if (!(opts & FRAMEOPTION_START_UNBOUNDED_PRECEDING) ||
		!(opts & (FRAMEOPTION_END_CURRENT_ROW | FRAMEOPTION_END_UNBOUNDED_FOLLOWING)) ||
		(opts & FRAMEOPTION_EXCLUSION))
		ereport(ERROR,
				(errcode(ERRCODE_WINDOWING_ERROR),
				 errmsg("%s does not support this window frame", fname),
				 errdetail("%s depends on every earlier row of the window partition, so the frame must start at UNBOUNDED PRECEDING, end at CURRENT ROW or UNBOUNDED FOLLOWING, and exclude no rows.", fname),
				 errhint("Leave out the frame clause (the default frame is fine), or use ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW.")));
	fcinfo->flinfo->fn_extra = (void *) &window_checked;
}

void
stream_window_check_running_aggregate(FunctionCallInfo fcinfo,
									  const char *fname)
{
	WindowAggState *ws;
	WindowAgg  *plan;

	if (fcinfo->flinfo->fn_extra == &window_checked)
		return;
	ws = window_state(fcinfo);
	if (ws == NULL || ws->ss.ps.plan == NULL || !IsA(ws->ss.ps.plan, WindowAgg))
		return;					/* a plain aggregate */
	plan = (WindowAgg *) ws->ss.ps.plan;

	/*
	 * A frame that drops earlier rows would let the watermark go down again;
	 * the end of the frame may be anything (a frame ending before the current
	 * row gives the watermark of the rows that arrived before it).
	 */
	if (!(plan->frameOptions & FRAMEOPTION_START_UNBOUNDED_PRECEDING))
		ereport(ERROR,
				(errcode(ERRCODE_WINDOWING_ERROR),
				 errmsg("%s as a window function requires a frame starting at UNBOUNDED PRECEDING", fname),
				 errdetail("A watermark never decreases, so it is computed over every earlier row of the window partition."),
				 errhint("Leave out the frame clause: %s OVER (ORDER BY arrival) is the running watermark.", fname)));
	fcinfo->flinfo->fn_extra = (void *) &window_checked;
}
