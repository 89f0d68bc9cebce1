/*
 * alert_ddl.c
 *		streamext.create_alert, and alert_init(): the GUCs of alerts and the
 *		alerts' pass of the streamext launcher.
 *
 * create_alert is in C because it must read the caller's search_path (the
 * alert keeps it; its query runs with it) before pinning its own to
 * pg_catalog, pg_temp.  The checks themselves live in the catalog's
 * validation trigger (alerts.sql), which calls streamext._alert_sql
 * (alert_query.c) as the calling role.
 */
#include "postgres.h"

#include <limits.h>

#include <curl/curl.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "streamext.h"
#include "common/launcher.h"
#include "common/worker_common.h"
#include "monitor/alert.h"

char *alert_webhook_allowed_hosts = NULL;
int alert_statement_timeout = 10000;
int alert_events_keep = 1000;

void
alert_init(void)
{
	DefineCustomStringVariable(
	    "streamext.alert_webhook_allowed_hosts",
	    "Hosts that alerts of roles other than superusers may post webhooks to.",
	    "Comma-separated host names or addresses, compared with the host of the URL; empty: "
	    "only alerts owned by superusers have webhooks.",
	    &alert_webhook_allowed_hosts, "", PGC_SUSET, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("streamext.alert_statement_timeout",
	                        "Longest time one evaluation of an alert's query may take.",
	                        "An alert whose query takes longer goes to state error.",
	                        &alert_statement_timeout, 10000, 1, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS,
	                        NULL, NULL, NULL);
	DefineCustomIntVariable("streamext.alert_events_keep",
	                        "Events of each alert kept in streamext.alert_events.",
	                        "Older events are deleted as new ones are written.", &alert_events_keep,
	                        1000, 1, INT_MAX, PGC_SUSET, 0, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(WARNING,
		        (errcode(ERRCODE_SYSTEM_ERROR),
		         errmsg("streamext: libcurl could not be initialized; alert webhooks will fail")));
	alert_launcher_register();
}

typedef struct InsertAlert
{
	Oid *types;
	Datum *values;
	char *nulls;
} InsertAlert;

static void
insert_alert(void *arg)
{
	InsertAlert *ins = arg;
	int ret = SPI_execute_with_args(
	    "INSERT INTO streamext.alerts (name, query, options, search_path) VALUES ($1, $2, $3, $4)", 4,
	    ins->types, ins->values, ins->nulls, false, 0);

	if (ret != SPI_OK_INSERT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
		                errmsg_internal("cannot insert into streamext.alerts: %s",
		                                SPI_result_code_string(ret))));
}

/* create_alert warned this session that this database runs no workers */
static bool alert_warned_database = false;

PG_FUNCTION_INFO_V1(streamext_create_alert);

Datum
streamext_create_alert(PG_FUNCTION_ARGS)
{
	const char *search_path = GetConfigOption("search_path", false, false);
	char *saved_path = pstrdup(search_path ? search_path : "");
	Oid types[4] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID};
	Datum values[4];
	char nulls[4] = {' ', ' ', ' ', ' '};
	int pin;
	char *name;
	InsertAlert ins;
	ErrorData *ed;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
		                errmsg("the name and query of an alert must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	if (PG_ARGISNULL(2))
		values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	else
		values[2] = PG_GETARG_DATUM(2);
	values[3] = CStringGetTextDatum(saved_path);

	streamext_warn_if_no_workers("alerts", "Without the alerts worker no alert is evaluated.", &alert_warned_database);
	pin = se_pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("SPI_connect failed")));
	/*
	 * Names are unique across roles; row-level security hides the other
	 * roles' alerts, so a taken name shows as the primary key's violation.
	 */
	ins.values = values;
	ins.types = types;
	ins.nulls = nulls;
	ed = se_subxact_try(insert_alert, &ins);
	if (ed != NULL)
	{
		if (ed->sqlerrcode == ERRCODE_UNIQUE_VIOLATION && ed->constraint_name != NULL &&
		    strcmp(ed->constraint_name, "alerts_pkey") == 0)
			ereport(ERROR, (errcode(ERRCODE_DUPLICATE_OBJECT),
			                errmsg("alert \"%s\" already exists", name)));
		ReThrowError(ed);
	}
	SPI_finish();
	se_unpin_search_path(pin);
	se_launcher_wake_at_commit();
	PG_RETURN_VOID();
}
