/*
 * log.c
 *		Structured logs (issue 13): one line per committed batch of each
 *		source and pipeline, and the state changes of their workers, as
 *		key=value pairs.
 *
 * A batch line goes out at streamext.batch_log_level (DEBUG1 by default),
 * so it costs nothing unless asked for; with log_destination = 'jsonlog'
 * each line is the "message" field of one JSON object.  Values that come
 * from users (names, error texts) are double-quoted with \ and " escaped,
 * so a line always splits into the same pairs.  A pipeline's batch is
 * known inside its transaction (batch.c), so its line waits for the commit
 * (a transaction callback) and is forgotten on abort: a rolled-back batch
 * is never logged as committed.
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "monitor/monitor.h"

int monitor_batch_log_level = DEBUG1;

/* Append key="value" with \ and " escaped and newlines as \n. */
static void
append_quoted(StringInfo buf, const char *key, const char *value)
{
	const char *p;

	appendStringInfo(buf, "%s%s=\"", buf->len > 0 ? " " : "", key);
	for (p = value; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		if (*p == '\n')
			appendStringInfoString(buf, "\\n");
		else
			appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

static void
append_int(StringInfo buf, const char *key, int64 value)
{
	appendStringInfo(buf, " %s=" INT64_FORMAT, key, value);
}

static double
seconds_since(TimestampTz started, TimestampTz now)
{
	return started > 0 && now > started ? (double)(now - started) / 1000000.0 : 0.0;
}

void
monitor_log_source_batch(int64 source_id, const char *source, int partitions, int64 messages,
                         int64 rows, int64 dead_letters, int64 bytes, TimestampTz started)
{
	double seconds = seconds_since(started, GetCurrentTimestamp());

	monitor_record_batch('s', source_id, messages, rows, dead_letters, bytes, seconds);
	if (message_level_is_interesting(monitor_batch_log_level))
	{
		StringInfoData buf;

		initStringInfo(&buf);
		append_quoted(&buf, "source", source);
		append_int(&buf, "partitions", partitions);
		append_int(&buf, "messages", messages);
		append_int(&buf, "rows", rows);
		append_int(&buf, "dead_letters", dead_letters);
		append_int(&buf, "bytes", bytes);
		appendStringInfo(&buf, " duration_ms=%.3f", seconds * 1000.0);
		ereport(monitor_batch_log_level, (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
		                                  errmsg_internal("%s", buf.data), errhidestmt(true)));
		pfree(buf.data);
	}
}

/* The pipeline batch of the running transaction, logged at its commit. */
typedef struct PendingBatch
{
	bool set;
	int64 pipeline_id;
	char pipeline[NAMEDATALEN];
	int64 batch;
	int64 rows_in;
	int64 rows_out;
	int64 late;
	int64 duplicates;
	bool has_watermark;
	TimestampTz watermark;
	TimestampTz started;
} PendingBatch;

static PendingBatch pending;
static bool callback_registered = false;

static void
log_pending(void)
{
	double seconds = seconds_since(pending.started, GetCurrentTimestamp());

	monitor_record_batch('p', pending.pipeline_id, 0, pending.rows_out, 0, 0, seconds);
	if (message_level_is_interesting(monitor_batch_log_level))
	{
		StringInfoData buf;

		initStringInfo(&buf);
		append_quoted(&buf, "pipeline", pending.pipeline);
		append_int(&buf, "batch", pending.batch);
		append_int(&buf, "rows_in", pending.rows_in);
		append_int(&buf, "rows_out", pending.rows_out);
		append_int(&buf, "late", pending.late);
		append_int(&buf, "duplicates", pending.duplicates);
		appendStringInfo(&buf, " duration_ms=%.3f", seconds * 1000.0);
		if (pending.has_watermark)
			append_quoted(&buf, "watermark", timestamptz_to_str(pending.watermark));
		else
			appendStringInfoString(&buf, " watermark=none");
		ereport(monitor_batch_log_level, (errcode(ERRCODE_SUCCESSFUL_COMPLETION),
		                                  errmsg_internal("%s", buf.data), errhidestmt(true)));
		pfree(buf.data);
	}
}

static void
pending_xact_callback(XactEvent event, void *arg)
{
	if (!pending.set)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			pending.set = false;
			/* committed already: a failure here must not turn into an abort */
			PG_TRY();
			{
				log_pending();
			}
			PG_CATCH();
			{
				FlushErrorState();
			}
			PG_END_TRY();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			pending.set = false;
			break;
		default:
			break;
	}
}

void
monitor_pipeline_batch_pending(int64 pipeline_id, const char *pipeline, int64 batch, int64 rows_in,
                               int64 rows_out, int64 late, int64 duplicates, bool has_watermark,
                               TimestampTz watermark, TimestampTz started)
{
	if (!callback_registered)
	{
		RegisterXactCallback(pending_xact_callback, NULL);
		callback_registered = true;
	}
	pending.set = true;
	pending.pipeline_id = pipeline_id;
	strlcpy(pending.pipeline, pipeline, NAMEDATALEN);
	pending.batch = batch;
	pending.rows_in = rows_in;
	pending.rows_out = rows_out;
	pending.late = late;
	pending.duplicates = duplicates;
	pending.has_watermark = has_watermark;
	pending.watermark = watermark;
	pending.started = started;
}

void
monitor_log_state(const char *kind, const char *name, const char *state, const char *detail)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_quoted(&buf, kind, name);
	appendStringInfo(&buf, " state=%s", state);
	if (detail != NULL)
		append_quoted(&buf, "detail", detail);
	ereport(LOG, (errcode(ERRCODE_SUCCESSFUL_COMPLETION), errmsg_internal("%s", buf.data),
	              errhidestmt(true)));
	pfree(buf.data);
}
