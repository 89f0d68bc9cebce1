/*
 * alert_query.c
 *		An alert's definition: checking its query and options, and building
 *		the SQL the alerts worker runs for it.
 *
 * The user's query is checked to be exactly one SELECT (raw parse: no
 * INTO, no FOR UPDATE/SHARE, no data-modifying WITH), then wrapped so that
 * every row of the result is a row that fires, as one jsonb value:
 *
 *   plain:      SELECT to_jsonb(q.*) FROM (<query>) q LIMIT 101 (q.*: a column named q
 *               must not stand for the row)
 *   condition:  ... WHERE q.<column> <op> '<value>'   (the literal takes the column's type)
 *   anomaly:    per group of "by", the latest value (by "time") against the
 *               mean and sample standard deviation of the group's values
 *               in [latest time - window, latest time), the latest row
 *               excluded; fires when |latest - mean| > zscore * stddev and
 *               at least 2 earlier values are in the window.
 *
 * Every operator and function of the wrapper is schema-qualified: the
 * wrapped query runs under the alert's search_path (the creator's), and
 * nothing planted in a schema of it may replace the wrapper's operators.
 * streamext._alert_sql (the catalog's validation trigger calls it as the
 * role creating the alert) returns the SQL; it is stored in
 * streamext.alerts.eval_query, so the worker runs exactly what was checked.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "common/worker_common.h"
#include "monitor/alert.h"

static const char *const option_keys[] = {"every",   "condition", "channel",
                                          "webhook", "anomaly",   NULL};
static const char *const condition_keys[] = {"column", "op", "value", NULL};
static const char *const anomaly_keys[] = {"column", "zscore", "window", "by", "time", NULL};
static const char *const condition_ops[] = {">", ">=", "<", "<=", "=", "<>", NULL};

static JsonbValue *
jget(JsonbContainer *c, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(c, key, strlen(key), NULL);

	if (v != NULL && v->type == jbvNull)
		return NULL;
	return v;
}

static bool
jis_object(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static char *
jstring(JsonbValue *v, const char *what)
{
	if (v->type != jbvString)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("alert option %s must be a string", what)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Refuse keys of object c not in allowed. */
static void
check_keys(JsonbContainer *c, const char *const *allowed, const char *what)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue v;
	JsonbIteratorToken tok;
	int depth = 0;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			depth++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		else if (tok == WJB_KEY && depth == 1)
		{
			char *k = pnstrdup(v.val.string.val, v.val.string.len);
			int i;
			bool ok = false;

			for (i = 0; allowed[i]; i++)
				ok |= strcmp(allowed[i], k) == 0;
			if (!ok)
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				                errmsg("unknown %s \"%s\"", what, k),
				                errhint("Known: every, condition, channel, webhook, anomaly; "
				                        "condition: column, op, value; anomaly: column, zscore, "
				                        "window, by, time.")));
		}
	}
}

/* A positive interval given as a string; returns it in microseconds. */
static int64
positive_interval(JsonbValue *v, const char *what)
{
	char *s = jstring(v, what);
	Interval *iv = DatumGetIntervalP(DirectFunctionCall3(
	    interval_in, CStringGetDatum(s), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	int64 us;

	if (iv->month != 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("alert option %s must not use months or years", what),
		                errhint("Write it in days, hours, minutes or seconds.")));
	us = iv->time + (int64)iv->day * USECS_PER_DAY;
	if (us <= 0)
		ereport(ERROR,
		        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		         errmsg("alert option %s must be a positive interval, not \"%s\"", what, s)));
	return us;
}

void
alert_check_select(const char *sql, const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;
	List *volatile raw = NIL;
	RawStmt *rs;
	SelectStmt *sel;

	/* a syntax error's position would point into the SQL of whoever called us: drop it */
	PG_TRY();
	{
		raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		FlushErrorState();
		ereport(ERROR, (errcode(ed->sqlerrcode), errmsg("%s: %s", what, ed->message)));
	}
	PG_END_TRY();

	if (list_length(raw) != 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("%s must be exactly one SELECT statement", what),
		                errdetail("It has %d statements.", list_length(raw))));
	rs = linitial_node(RawStmt, raw);
	if (!IsA(rs->stmt, SelectStmt))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("%s must be a SELECT statement, not %s", what,
		                       GetCommandTagName(CreateCommandTag(rs->stmt)))));
	sel = (SelectStmt *)rs->stmt;
	if (sel->intoClause != NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("%s must not be SELECT INTO", what)));
	if (sel->lockingClause != NIL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("%s must not lock rows (FOR UPDATE/SHARE)", what)));
	if (sel->withClause != NULL)
	{
		ListCell *lc;

		foreach (lc, sel->withClause->ctes)
		{
			CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

			if (!IsA(cte->ctequery, SelectStmt))
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				                errmsg("%s must not change data (WITH ... %s)", what,
				                       GetCommandTagName(CreateCommandTag(cte->ctequery)))));
		}
	}
}

/* The statement's text without a trailing semicolon. */
static char *
statement_text(const char *query)
{
	List *raw = raw_parser(query, RAW_PARSE_DEFAULT);
	RawStmt *rs = linitial_node(RawStmt, raw);
	int len = rs->stmt_len > 0 ? rs->stmt_len : (int)strlen(query) - rs->stmt_location;

	return pnstrdup(query + rs->stmt_location, len);
}

void
alert_check_webhook(const char *url, Oid owner)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
	CURLUcode rc;
	bool allowed;

	if (u == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK)
	{
		curl_url_cleanup(u);
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("invalid webhook URL \"%s\": %s", url, curl_url_strerror(rc))));
	}
	(void)curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	(void)curl_url_get(u, CURLUPART_HOST, &host, 0);
	(void)curl_url_get(u, CURLUPART_USER, &user, 0);
	(void)curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
	PG_TRY();
	{
		if (scheme == NULL ||
		    (pg_strcasecmp(scheme, "http") != 0 && pg_strcasecmp(scheme, "https") != 0))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("webhook URL \"%s\" must use http or https", url)));
		if (user != NULL || password != NULL)
			ereport(ERROR,
			        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			         errmsg("webhook URL must not contain credentials"),
			         errhint("Put a token in the path or query string of the URL instead.")));
		if (host == NULL || host[0] == '\0')
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("webhook URL \"%s\" has no host", url)));
		allowed = superuser_arg(owner);
		if (!allowed && alert_webhook_allowed_hosts != NULL &&
		    alert_webhook_allowed_hosts[0] != '\0')
		{
			char *list = pstrdup(alert_webhook_allowed_hosts);
			List *hosts = NIL;
			ListCell *lc;

			if (SplitIdentifierString(list, ',', &hosts))
				foreach (lc, hosts)
					allowed |= pg_strcasecmp((char *)lfirst(lc), host) == 0;
		}
		if (!allowed)
			ereport(ERROR,
			        (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			         errmsg("permission denied to post alerts to host \"%s\"", host),
			         errdetail("Webhooks make the server connect out: the alert's owner must be a "
			                   "superuser, or the host listed in "
			                   "streamext.alert_webhook_allowed_hosts.")));
	}
	PG_FINALLY();
	{
		curl_free(scheme);
		curl_free(host);
		curl_free(user);
		curl_free(password);
		curl_url_cleanup(u);
	}
	PG_END_TRY();
}

/* A scalar JSON value as the text of an SQL literal. */
static char *
scalar_literal(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return quote_literal_cstr(pnstrdup(v->val.string.val, v->val.string.len));
		case jbvNumeric:
			return quote_literal_cstr(
			    DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric))));
		case jbvBool:
			return pstrdup(v->val.boolean ? "'true'" : "'false'");
		default:
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("alert condition value must be a string, number or boolean")));
	}
	return NULL; /* keep compiler quiet */
}

static double
positive_number(JsonbValue *v, const char *what)
{
	double d;

	if (v->type != jbvNumeric)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("alert option %s must be a number", what)));
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (!(d > 0))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("alert option %s must be positive", what)));
	return d;
}

static void
build_anomaly(StringInfo sql, const char *query, JsonbValue *an)
{
	JsonbContainer *c = an->val.binary.data;
	JsonbValue *v;
	const char *col, *tcol = "event_time";
	double z;
	int64 window_us;
	List *by = NIL;
	ListCell *lc;
	StringInfoData part, grp, obj;

	check_keys(c, anomaly_keys, "anomaly option");
	if ((v = jget(c, "column")) == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("alert option anomaly needs a \"column\"")));
	col = quote_identifier(jstring(v, "anomaly.column"));
	if ((v = jget(c, "zscore")) == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("alert option anomaly needs a \"zscore\"")));
	z = positive_number(v, "anomaly.zscore");
	if ((v = jget(c, "window")) == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("alert option anomaly needs a \"window\"")));
	window_us = positive_interval(v, "anomaly.window");
	if ((v = jget(c, "time")) != NULL)
		tcol = jstring(v, "anomaly.time");
	tcol = quote_identifier(tcol);
	if ((v = jget(c, "by")) != NULL)
	{
		JsonbIterator *it;
		JsonbValue e;
		JsonbIteratorToken tok;

		if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("alert option anomaly.by must be an array of column names")));
		it = JsonbIteratorInit(v->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
			if (tok == WJB_ELEM)
				by = lappend(by, pstrdup(quote_identifier(jstring(&e, "anomaly.by[]"))));
	}

	initStringInfo(&part);
	initStringInfo(&grp);
	initStringInfo(&obj);
	foreach (lc, by)
	{
		const char *b = lfirst(lc);

		appendStringInfo(&part, "%sq.%s", part.len ? ", " : "", b);
		appendStringInfo(&grp, "%sr.%s", grp.len ? ", " : "", b);
	}
	/* the group's keys in the JSON are the bare column names */
	foreach (lc, by)
	{
		char *b = lfirst(lc);
		char *bare = b;

		if (b[0] == '"')
		{
			bare = pnstrdup(b + 1, strlen(b) - 2);
			/* "" inside a quoted identifier is one " */
			bare = text_to_cstring(DatumGetTextPP(
			    DirectFunctionCall3(replace_text, CStringGetTextDatum(bare),
			                        CStringGetTextDatum("\"\""), CStringGetTextDatum("\""))));
		}
		appendStringInfo(&obj, "%s%s, g.%s", obj.len ? ", " : "", quote_literal_cstr(bare), b);
	}

	appendStringInfo(
	    sql,
	    "SELECT pg_catalog.jsonb_build_object('group', pg_catalog.jsonb_build_object(%s), "
	    "'time', g.se_latest_time, 'value', g.se_latest, 'mean', g.se_mean, 'stddev', g.se_stddev, "
	    "'n', g.se_n, 'zscore', CASE WHEN g.se_stddev OPERATOR(pg_catalog.>) 0 THEN "
	    "(g.se_latest OPERATOR(pg_catalog.-) g.se_mean) OPERATOR(pg_catalog./) g.se_stddev END) "
	    "FROM (SELECT %s%s pg_catalog.max(r.se_t) AS se_latest_time, "
	    " pg_catalog.max(r.se_v) FILTER (WHERE r.se_rn OPERATOR(pg_catalog.=) 1) AS se_latest, "
	    " pg_catalog.avg(r.se_v) FILTER (WHERE r.se_in) AS se_mean, "
	    " pg_catalog.stddev_samp(r.se_v) FILTER (WHERE r.se_in) AS se_stddev, "
	    " pg_catalog.count(*) FILTER (WHERE r.se_in) AS se_n "
	    " FROM (SELECT w.*, w.se_rn OPERATOR(pg_catalog.>) 1 "
	    "   AND w.se_t OPERATOR(pg_catalog.<) w.se_lt "
	    "   AND w.se_t OPERATOR(pg_catalog.>=) (w.se_lt OPERATOR(pg_catalog.-) "
	    "       pg_catalog.make_interval(secs => %.6f)) AS se_in "
	    "  FROM (SELECT %s%s (q.%s)::pg_catalog.timestamptz AS se_t, "
	    "    (q.%s)::pg_catalog.float8 AS se_v, "
	    "    pg_catalog.row_number() OVER (%s%s ORDER BY q.%s DESC) AS se_rn, "
	    "    pg_catalog.max((q.%s)::pg_catalog.timestamptz) OVER (%s%s) AS se_lt "
	    "   FROM (\n%s\n) q WHERE q.%s IS NOT NULL AND q.%s IS NOT NULL) w) r "
	    " %s%s) g "
	    "WHERE g.se_n OPERATOR(pg_catalog.>=) 2 AND pg_catalog.abs(g.se_latest "
	    "OPERATOR(pg_catalog.-) "
	    "g.se_mean) OPERATOR(pg_catalog.>) (%.17g::pg_catalog.float8 OPERATOR(pg_catalog.*) "
	    "g.se_stddev) "
	    "LIMIT %d",
	    obj.data, grp.data, grp.len ? "," : "", (double)window_us / USECS_PER_SEC, part.data,
	    part.len ? "," : "", tcol, col, part.len ? "PARTITION BY " : "", part.data, tcol, tcol,
	    part.len ? "PARTITION BY " : "", part.data, query, col, tcol, grp.len ? "GROUP BY " : "",
	    grp.data, z, ALERT_MAX_ROWS + 1);
}

char *
alert_build_sql(const char *name, const char *query, Jsonb *options)
{
	JsonbContainer *c = &options->root;
	JsonbValue *v, *cond, *an;
	StringInfoData sql;
	char *stmt;

	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("alert options must be a JSON object")));
	check_keys(c, option_keys, "alert option");
	alert_check_select(query, "the query of an alert");
	stmt = statement_text(query);

	if ((v = jget(c, "every")) != NULL && positive_interval(v, "every") < 10 * 1000)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("alert option every must be at least 10 milliseconds")));
	if ((v = jget(c, "channel")) != NULL)
	{
		char *ch = jstring(v, "channel");

		if (ch[0] == '\0' || strlen(ch) >= NAMEDATALEN)
			ereport(ERROR,
			        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			         errmsg("alert option channel must be 1 to %d bytes long", NAMEDATALEN - 1)));
	}
	if ((v = jget(c, "webhook")) != NULL)
		(void)jstring(v, "webhook"); /* checked with the owner by _alert_sql */

	cond = jget(c, "condition");
	an = jget(c, "anomaly");
	if (cond && an)
		ereport(ERROR,
		        (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		         errmsg("alert \"%s\" cannot have both a condition and an anomaly rule", name)));
	initStringInfo(&sql);
	if (an)
	{
		if (!jis_object(an))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("alert option anomaly must be a JSON object")));
		build_anomaly(&sql, stmt, an);
	}
	else
	{
		appendStringInfo(&sql, "SELECT pg_catalog.to_jsonb(q.*) FROM (\n%s\n) q", stmt);
		if (cond)
		{
			JsonbContainer *cc;
			char *col, *op;
			int i;
			bool ok = false;

			if (!jis_object(cond))
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				                errmsg("alert option condition must be a JSON object")));
			cc = cond->val.binary.data;
			check_keys(cc, condition_keys, "condition option");
			if ((v = jget(cc, "column")) == NULL)
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				                errmsg("alert condition needs a \"column\"")));
			col = jstring(v, "condition.column");
			if ((v = jget(cc, "op")) == NULL)
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				                errmsg("alert condition needs an \"op\"")));
			op = jstring(v, "condition.op");
			for (i = 0; condition_ops[i]; i++)
				ok |= strcmp(condition_ops[i], op) == 0;
			if (!ok)
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				                errmsg("unknown alert condition op \"%s\"", op),
				                errhint("Use one of >, >=, <, <=, =, <>.")));
			if ((v = jget(cc, "value")) == NULL)
				ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				                errmsg("alert condition needs a \"value\" (not null)")));
			appendStringInfo(&sql, " WHERE q.%s OPERATOR(pg_catalog.%s) %s", quote_identifier(col),
			                 op, scalar_literal(v));
		}
		appendStringInfo(&sql, " LIMIT %d", ALERT_MAX_ROWS + 1);
	}
	return sql.data;
}

PG_FUNCTION_INFO_V1(streamext_alert_sql);

/*
 * streamext._alert_sql(name, owner, query, options, search_path): check the
 * definition and plan (never run) the SQL as the owner under search_path,
 * so that unknown tables, columns and operators are reported at create.
 */
Datum
streamext_alert_sql(PG_FUNCTION_ARGS)
{
	char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid owner = PG_GETARG_OID(1);
	char *query = text_to_cstring(PG_GETARG_TEXT_PP(2));
	Jsonb *options = PG_GETARG_JSONB_P(3);
	char *search_path = text_to_cstring(PG_GETARG_TEXT_PP(4));
	JsonbValue *v;
	char *sql;
	SeRunAs r;

	sql = alert_build_sql(name, query, options);
	if ((v = jget(&options->root, "webhook")) != NULL)
		alert_check_webhook(jstring(v, "webhook"), owner);

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("SPI_connect failed")));
	se_run_as_begin(&r, owner, SECURITY_RESTRICTED_OPERATION, search_path);
	if (SPI_prepare(sql, 0, NULL) == NULL)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
		                errmsg_internal("cannot plan the query of alert \"%s\": %s", name,
		                                SPI_result_code_string(SPI_result))));
	se_run_as_end(&r);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(sql));
}
