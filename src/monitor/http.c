/*
 * http.c
 *		The optional built-in Prometheus endpoint: a background worker that
 *		answers GET /metrics with streamext.metrics().
 *
 * Off unless streamext.metrics_http_port is set (a postmaster-level GUC);
 * then _PG_init registers this static worker, which connects to
 * streamext.database and listens on streamext.metrics_http_address
 * (loopback by default: whoever can connect reads the metrics, like
 * postgres_exporter's port).  It serves one connection at a time with a
 * plain non-blocking socket and WaitLatchOrSocket: a request must arrive
 * within HTTP_TIMEOUT_MS and fit in HTTP_MAX_REQUEST bytes, and the answer
 * must be taken within HTTP_TIMEOUT_MS, so a slow or hostile client delays
 * the next scrape by at most that and never blocks the postmaster, which
 * only started the worker.  Every answer closes the connection.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "common/launcher.h"
#include "common/worker_common.h"
#include "monitor/monitor.h"

#define HTTP_MAX_REQUEST 8192
#define HTTP_TIMEOUT_MS  5000

void
monitor_http_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "streamext");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "monitor_http_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "streamext metrics http");
	snprintf(worker.bgw_type, BGW_MAXLEN, "streamext metrics http");
	RegisterBackgroundWorker(&worker);
}

/* A listening socket on address:port, non-blocking; errors are FATAL (we restart). */
static pgsocket
http_listen(void)
{
	struct addrinfo hints = {0};
	struct addrinfo *ai;
	char port[16];
	int rc;
	int one = 1;
	pgsocket fd;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", monitor_http_port);
	rc = getaddrinfo(monitor_http_address, port, &hints, &ai);
	if (rc != 0)
		ereport(FATAL, (errcode(ERRCODE_CONFIG_FILE_ERROR),
		                errmsg("streamext metrics endpoint: cannot resolve \"%s\": %s",
		                       monitor_http_address, gai_strerror(rc)),
		                errhint("Check streamext.metrics_http_address.")));
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd == PGINVALID_SOCKET)
		ereport(FATAL, (errcode_for_socket_access(),
		                errmsg("streamext metrics endpoint: could not create socket: %m")));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		ereport(FATAL, (errcode_for_socket_access(),
		                errmsg("streamext metrics endpoint: could not bind to %s port %d: %m",
		                       monitor_http_address, monitor_http_port),
		                errhint("Choose a free port in streamext.metrics_http_port.")));
	freeaddrinfo(ai);
	if (listen(fd, 16) < 0 || !pg_set_noblock(fd))
		ereport(FATAL, (errcode_for_socket_access(),
		                errmsg("streamext metrics endpoint: could not listen: %m")));
	return fd;
}

/* Wait for events on fd until deadline; false on timeout. */
static bool
wait_socket(pgsocket fd, int events, TimestampTz deadline)
{
	for (;;)
	{
		long ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		int rc;

		if (ms <= 0)
			return false;
		rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | events,
		                       fd, ms, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			if (ShutdownRequestPending)
				proc_exit(0);
		}
		if (rc & events)
			return true;
	}
}

/* Send all of data, or give up at the deadline or on an error. */
static void
send_all(pgsocket fd, const char *data, size_t len, TimestampTz deadline)
{
	while (len > 0)
	{
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n > 0)
		{
			data += n;
			len -= n;
		}
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		{
			if (!wait_socket(fd, WL_SOCKET_WRITEABLE, deadline))
				return;
		}
		else
			return;
	}
}

static void
respond(pgsocket fd, int status, const char *reason, const char *ctype, const char *body, bool head,
        TimestampTz deadline)
{
	StringInfoData buf;
	size_t len = strlen(body);

	initStringInfo(&buf);
	appendStringInfo(&buf,
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 status, reason, ctype, len);
	send_all(fd, buf.data, buf.len, deadline);
	if (!head)
		send_all(fd, body, len, deadline);
	pfree(buf.data);
}

typedef struct MetricsRun
{
	char *text; /* in the caller's context */
} MetricsRun;

static void
run_metrics(void *arg)
{
	MetricsRun *mr = arg;
	SeXact x;

	se_xact_begin(&x, SE_XACT_SPI | SE_XACT_PIN_PATH, "serving GET /metrics");
	if (SPI_execute("SELECT streamext.metrics()", true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
		                errmsg_internal("streamext.metrics() returned no row")));
	{
		bool isnull;
		Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext old = MemoryContextSwitchTo(x.caller);

		mr->text = isnull ? pstrdup("") : TextDatumGetCString(d);
		MemoryContextSwitchTo(old);
	}
	se_xact_commit(&x);
}

/* Read one request from fd and answer it. */
static void
serve(pgsocket fd)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), HTTP_TIMEOUT_MS);
	char req[HTTP_MAX_REQUEST + 1];
	size_t got = 0;
	char *line_end;
	char method[16], path[256];
	bool head;

	for (;;)
	{
		ssize_t n = recv(fd, req + got, HTTP_MAX_REQUEST - got, 0);

		if (n > 0)
		{
			got += n;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL)
				break;
			if (got >= HTTP_MAX_REQUEST)
			{
				respond(fd, 431, "Request Header Fields Too Large", "text/plain",
				        "request too large\n", false, deadline);
				return;
			}
		}
		else if (n == 0)
			return; /* the client went away */
		else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		{
			if (!wait_socket(fd, WL_SOCKET_READABLE, deadline))
				return; /* too slow: drop it */
		}
		else
			return;
	}
	line_end = strpbrk(req, "\r\n");
	*line_end = '\0';
	if (sscanf(req, "%15s %255s", method, path) != 2)
	{
		respond(fd, 400, "Bad Request", "text/plain", "bad request\n", false, deadline);
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0)
	{
		respond(fd, 405, "Method Not Allowed", "text/plain", "only GET\n", false, deadline);
		return;
	}
	path[strcspn(path, "?")] = '\0';
	if (strcmp(path, "/metrics") != 0)
	{
		respond(fd, 404, "Not Found", "text/plain", "not found: try /metrics\n", head, deadline);
		return;
	}
	{
		MetricsRun mr = {NULL};
		ErrorData *ed = se_try(run_metrics, &mr);

		if (ed != NULL)
		{
			ereport(LOG, (errcode(ed->sqlerrcode),
			              errmsg("streamext metrics endpoint: %s", ed->message)));
			respond(fd, 500, "Internal Server Error", "text/plain",
			        "streamext.metrics() failed; see the server log\n", head, deadline);
			FreeErrorData(ed);
			return;
		}
		respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", mr.text, head, deadline);
	}
}

/*
 * Close after the answer: stop sending, then read what the client still sends
 * (briefly, a bounded amount), so that the kernel does not reset the
 * connection, which could destroy the answer before the client read it.
 */
static void
linger_close(pgsocket fd)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000);
	char discard[4096];
	size_t total = 0;

	(void)shutdown(fd, SHUT_WR);
	while (total < 1024 * 1024)
	{
		ssize_t n = recv(fd, discard, sizeof(discard), 0);

		if (n > 0)
			total += n;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		{
			if (!wait_socket(fd, WL_SOCKET_READABLE, deadline))
				break;
		}
		else
			break;
	}
	closesocket(fd);
}

void
monitor_http_main(Datum arg)
{
	pgsocket listen_fd;
	MemoryContext request_cxt;

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(se_database, NULL, 0);

	listen_fd = http_listen();
	ereport(LOG, (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
	              errmsg("streamext metrics endpoint listening on %s port %d", monitor_http_address,
	                     monitor_http_port)));
	request_cxt = AllocSetContextCreate(TopMemoryContext, "streamext metrics request",
	                                    ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		int rc;
		pgsocket fd;

		rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_SOCKET_READABLE | WL_EXIT_ON_PM_DEATH,
		                       listen_fd, -1, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			proc_exit(0);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!(rc & WL_SOCKET_READABLE))
			continue;
		fd = accept(listen_fd, NULL, NULL);
		if (fd == PGINVALID_SOCKET)
			continue; /* EAGAIN, or the client already left */
		if (!pg_set_noblock(fd))
		{
			closesocket(fd);
			continue;
		}
		MemoryContextSwitchTo(request_cxt);
		serve(fd);
		linger_close(fd);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(request_cxt);
	}
}
