/*
 * alert_webhook.c
 *		Posting alert state changes to webhooks without ever blocking the
 *		alerts worker: a queue of deliveries driven by libcurl's multi
 *		interface from the worker's loop.
 *
 * A change of state is queued after the worker's transaction commits (so a
 * webhook never hears of a change that was rolled back, and no transaction
 * waits for the network).  alert_webhook_poll() starts the deliveries that
 * are due and advances the transfers in flight without waiting; each
 * attempt has a 2 s connect and 5 s total timeout, and a failed one (no
 * connection, a timeout, an HTTP status outside 2xx) is retried after 1 s,
 * 2 s, 4 s, 8 s and 16 s, then given up with a LOG line.  Redirects are not
 * followed, only http and https are spoken, and proxies from the server's
 * environment are not used.  The queue lives in the worker's memory
 * (at most 1000 deliveries; the oldest waiting one is dropped beyond): a
 * restart of the worker loses what was not delivered yet, and says so in
 * the log as it happens (alert_events keeps every change).
 */
#include "postgres.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "common/worker_common.h"
#include "monitor/alert.h"

#define WEBHOOK_MAX_QUEUE    1000
#define WEBHOOK_MAX_ATTEMPTS 6
#define WEBHOOK_CONNECT_MS   2000
#define WEBHOOK_TIMEOUT_MS   5000

typedef struct Delivery
{
	char *alert;
	char *url;
	char *payload;
	int attempt; /* attempts made */
	TimestampTz next_at;
	CURL *easy; /* in flight */
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
} Delivery;

static MemoryContext webhook_cxt = NULL;
static CURLM *multi = NULL;
static List *queue = NIL;

static void
forget(Delivery *d)
{
	queue = list_delete_ptr(queue, d);
	pfree(d->alert);
	pfree(d->url);
	pfree(d->payload);
	pfree(d);
}

void
alert_webhook_enqueue(const char *alert, const char *url, const char *payload)
{
	MemoryContext old;
	Delivery *d;

	if (webhook_cxt == NULL)
		webhook_cxt = AllocSetContextCreate(TopMemoryContext, "streamext alert webhooks",
		                                    ALLOCSET_DEFAULT_SIZES);
	if (list_length(queue) >= WEBHOOK_MAX_QUEUE)
	{
		ListCell *lc;

		foreach (lc, queue)
		{
			Delivery *w = lfirst(lc);

			if (w->easy == NULL)
			{
				ereport(LOG, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				              errmsg("alert \"%s\": webhook delivery dropped: %d deliveries are "
				                     "waiting",
				                     w->alert, WEBHOOK_MAX_QUEUE)));
				forget(w);
				break;
			}
		}
	}
	old = MemoryContextSwitchTo(webhook_cxt);
	d = palloc0(sizeof(Delivery));
	d->alert = pstrdup(alert);
	d->url = pstrdup(url);
	d->payload = pstrdup(payload);
	d->next_at = GetCurrentTimestamp();
	queue = lappend(queue, d);
	MemoryContextSwitchTo(old);
}

/* The response body is of no interest (and must not go to the server's stdout). */
static size_t
discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

static bool
start(Delivery *d)
{
	CURL *e = curl_easy_init();

	if (e == NULL)
		return false;
	d->headers = curl_slist_append(NULL, "Content-Type: application/json");
	d->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, d->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no proxy from the server's environment */
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)WEBHOOK_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)WEBHOOK_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->payload);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(d->payload));
	curl_easy_setopt(e, CURLOPT_USERAGENT, "streamext-alerts");
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_PRIVATE, d);
	if (curl_multi_add_handle(multi, e) != CURLM_OK)
	{
		curl_easy_cleanup(e);
		curl_slist_free_all(d->headers);
		d->headers = NULL;
		return false;
	}
	d->easy = e;
	d->attempt++;
	return true;
}

/* One attempt ended: done, or retried later, or given up. */
static void
finished(Delivery *d, CURLcode res)
{
	long status = 0;
	char *why;

	curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(multi, d->easy);
	curl_easy_cleanup(d->easy);
	curl_slist_free_all(d->headers);
	d->easy = NULL;
	d->headers = NULL;
	if (res == CURLE_OK && status >= 200 && status < 300)
	{
		ereport(DEBUG1, (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
		                 errmsg("alert \"%s\": webhook delivered (HTTP %ld)", d->alert, status)));
		forget(d);
		return;
	}
	why = res != CURLE_OK ? psprintf("%s", d->errbuf[0] ? d->errbuf : curl_easy_strerror(res))
	                      : psprintf("HTTP status %ld", status);
	if (d->attempt >= WEBHOOK_MAX_ATTEMPTS)
	{
		ereport(LOG, (errcode(ERRCODE_CONNECTION_FAILURE),
		              errmsg("alert \"%s\": webhook failed %d times, giving up: %s", d->alert,
		                     d->attempt, why)));
		forget(d);
	}
	else
	{
		int delay = se_backoff_delay_ms(d->attempt, false);

		ereport(LOG, (errcode(ERRCODE_CONNECTION_FAILURE),
		              errmsg("alert \"%s\": webhook attempt %d failed: %s; retrying in %d ms",
		                     d->alert, d->attempt, why, delay)));
		d->next_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay);
	}
	pfree(why);
}

long
alert_webhook_poll(void)
{
	TimestampTz now = GetCurrentTimestamp();
	ListCell *lc;
	CURLMsg *msg;
	int running = 0, left;
	long wait = -1;
	bool in_flight = false;

	if (queue == NIL)
		return -1;
	if (multi == NULL && (multi = curl_multi_init()) == NULL)
		return 1000;
	foreach (lc, queue)
	{
		Delivery *d = lfirst(lc);

		if (d->easy == NULL && d->next_at <= now && !start(d))
			d->next_at = TimestampTzPlusMilliseconds(now, 1000);
	}
	(void)curl_multi_perform(multi, &running);
	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		Delivery *d = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&d);
		finished(d, msg->data.result);
	}
	/* forget() edits the list: look again */
	now = GetCurrentTimestamp();
	foreach (lc, queue)
	{
		Delivery *d = lfirst(lc);

		if (d->easy != NULL)
			in_flight = true;
		else
		{
			long ms = Max(TimestampDifferenceMilliseconds(now, d->next_at), 1);

			if (wait < 0 || ms < wait)
				wait = ms;
		}
	}
	/* transfers in flight: come back soon (the worker's wait is on its latch, not curl's sockets)
	 */
	if (in_flight && (wait < 0 || wait > 20))
		wait = 20;
	return wait;
}

void
alert_webhook_shutdown(void)
{
	ListCell *lc;

	foreach (lc, queue)
	{
		Delivery *d = lfirst(lc);

		if (d->easy)
		{
			curl_multi_remove_handle(multi, d->easy);
			curl_easy_cleanup(d->easy);
			curl_slist_free_all(d->headers);
		}
	}
	if (queue != NIL)
		ereport(LOG,
		        (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
		         errmsg("streamext alerts: %d webhook deliveries not made", list_length(queue))));
	if (multi)
		curl_multi_cleanup(multi);
	multi = NULL;
}
