/*
 * alert.h
 *		SQL alerts (issue 13): streamext.create_alert and friends, the
 *		"streamext alerts" worker that evaluates them, and webhook delivery.
 *
 * alert_query.c checks an alert's definition and builds the query the
 * worker runs; alert_worker.c is the launcher's pass and the worker;
 * alert_webhook.c posts state changes to webhooks without blocking it.
 */
#ifndef STREAMEXT_MONITOR_ALERT_H
#define STREAMEXT_MONITOR_ALERT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* GUCs */
extern char *alert_webhook_allowed_hosts; /* streamext.alert_webhook_allowed_hosts */
extern int alert_statement_timeout;       /* streamext.alert_statement_timeout, ms */
extern int alert_events_keep;             /* streamext.alert_events_keep */

#define ALERT_DEFAULT_CHANNEL "streamext_alerts"
#define ALERT_MAX_ROWS        100   /* rows kept in an event's value */
#define ALERT_MAX_VALUE_BYTES 32768 /* and at most about this much text */

/* GUCs, the launcher client; called from _PG_init. */
extern void alert_init(void);

/*
 * alert_query.c: check an alert's query and options for owner (the webhook
 * rules need it) and return the SQL the worker runs: one jsonb column per
 * row that fires.  Errors name what is wrong.
 */
extern char *alert_build_sql(const char *name, const char *query, Jsonb *options);

/* Is the webhook URL's host allowed for a role (superuser, or the allow-list)?
 * Errors when the URL is malformed or not allowed. */
extern void alert_check_webhook(const char *url, Oid owner);

/* Is sql exactly one SELECT statement (no INTO, no FOR UPDATE, no data-modifying WITH)? */
extern void alert_check_select(const char *sql, const char *what);

/* alert_worker.c: the alerts' client of the streamext launcher */
extern void alert_launcher_register(void);

/* alert_webhook.c: the queue of POSTs, driven by the worker's loop. */
extern void alert_webhook_enqueue(const char *alert, const char *url, const char *payload);
/* Advance the transfers (never blocks); returns ms until it wants to run again (-1: idle). */
extern long alert_webhook_poll(void);
extern void alert_webhook_shutdown(void);

extern PGDLLEXPORT void alert_worker_main(Datum arg);

#endif /* STREAMEXT_MONITOR_ALERT_H */
