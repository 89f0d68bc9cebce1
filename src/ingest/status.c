/*
 * status.c
 *		What source_status and source_warnings show beyond the counters of
 *		_source_worker_stats(): why a source has no (or fewer) workers, its
 *		recent dead-letter rate, and the JSON keys and columns decoding
 *		ignored (issue 10: what new users trip over).
 *
 * The launcher publishes its decisions per running source in IngestSched;
 * the workers publish their decoding statistics in their slots
 * (IngestWorkerSlot.decode).  Both live in shared memory, so these functions
 * read them under the ingest lock.  Key and column names come from the data,
 * so they, like error texts, are shown only to members of the source's owner
 * role and of pg_read_all_stats; the scheduling numbers are shown to all,
 * like the source's state.
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "access/htup_details.h"
#include "utils/builtins.h"

#include "streamext.h"
#include "ingest/ingest_internal.h"
#include "common/launcher.h"

/* May the current user see the data-derived details of sources of owner? */
static bool
may_see_details(Oid owner)
{
	return is_member_of_role(GetUserId(), owner) ||
		has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
}

/* The owner of a running source, from the launcher's last pass; InvalidOid if unknown. */
static Oid
running_source_owner(const IngestSched *sched, int64 source_id)
{
	int			i;

	for (i = 0; i < sched->nsources; i++)
		if (sched->entries[i].source_id == source_id)
			return sched->entries[i].owner;
	return InvalidOid;
}

PG_FUNCTION_INFO_V1(streamext_ingest_problem);

/*
 * streamext._ingest_problem(OUT blocking, OUT problem): why no source of
 * this database runs, or NULLs.  blocking: nothing will run until the
 * configuration changes (not preloaded, another streamext.database), as
 * opposed to a launcher that is (re)starting.  Nothing here is secret: it
 * is the server's setup.
 */
Datum
streamext_ingest_problem(PG_FUNCTION_ARGS)
{
	char	   *dbname = get_database_name(MyDatabaseId);
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	const char *problem = NULL;
	bool		blocking = true;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg_internal("return type must be a row type")));
	if (!streamext_preloaded || ingest_shared == NULL)
		problem = "streamext is not in shared_preload_libraries, so no source workers run: "
			"add 'streamext' to shared_preload_libraries in postgresql.conf and restart the server";
	else if (dbname != NULL && se_database != NULL && strcmp(dbname, se_database) != 0)
		problem = psprintf("sources run only in database \"%s\" (streamext.database), not in \"%s\": "
						   "set streamext.database = '%s' in postgresql.conf and restart the server",
						   se_database, dbname, dbname);
	else
	{
		if (!se_launcher_running())
		{
			problem = "the streamext launcher is not running (it restarts after a crash; see the server log)";
			blocking = false;
		}
	}
	if (problem == NULL)
	{
		nulls[0] = nulls[1] = true;
		values[0] = values[1] = (Datum) 0;
	}
	else
	{
		values[0] = BoolGetDatum(blocking);
		values[1] = CStringGetTextDatum(problem);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(streamext_source_schedule);

/*
 * streamext._source_schedule() → SETOF (source_id, asked, automatic, wanted,
 * allotted, waiting_for, capacity, in_use): the launcher's last decision for
 * every running source.
 */
Datum
streamext_source_schedule(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	IngestSched *copy;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (ingest_shared == NULL || ingest_sched == NULL)
		PG_RETURN_VOID();
	copy = palloc(sizeof(IngestSched));
	LWLockAcquire(ingest_shared->lock, LW_SHARED);
	memcpy(copy, ingest_sched, sizeof(IngestSched));
	LWLockRelease(ingest_shared->lock);

	for (i = 0; i < copy->nsources; i++)
	{
		IngestSchedEntry *e = &copy->entries[i];
		Datum		values[8];
		bool		nulls[8];

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int64GetDatum(e->source_id);
		values[1] = Int32GetDatum(e->asked);
		values[2] = BoolGetDatum(e->automatic);
		values[3] = Int32GetDatum(e->wanted);
		values[4] = Int32GetDatum(e->allotted);
		switch (e->reason)
		{
			case INGEST_SCHED_NO_SLOT:
				values[5] = CStringGetTextDatum("streamext.max_source_workers");
				break;
			case INGEST_SCHED_NO_BGWORKER:
				values[5] = CStringGetTextDatum("max_worker_processes");
				break;
			default:
				nulls[5] = true;
				break;
		}
		values[6] = Int32GetDatum(copy->capacity);
		values[7] = Int32GetDatum(copy->in_use);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/* One source's decoding statistics, summed over its workers. */
typedef struct SourceDecodeSum
{
	int64		source_id;
	int			workers;
	uint64		messages;
	uint64		decoded;
	uint64		more_unknown_keys;
	uint64		recent_messages;	/* of the workers active lately */
	uint64		recent_dead;
	bool		visible;		/* may the caller see names and counts? */
	int			nwarnings;
	IngestWarning *warnings;	/* up to INGEST_MAX_WARNINGS per worker */
} SourceDecodeSum;

/*
 * Sum the slots' decoding statistics per running source; the names only of
 * sources whose details the current user may see (sum->visible), and with
 * all_sources false only those sources.  Returns the number of sources.
 */
static int
sum_decode_stats(SourceDecodeSum **result, bool all_sources)
{
	IngestWorkerSlot *slots;
	IngestSched *sched;
	SourceDecodeSum *sums;
	int			n,
				nsums = 0,
				i,
				j,
				k;

	*result = NULL;
	if (ingest_shared == NULL || ingest_sched == NULL)
		return 0;
	n = ingest_shared->nslots;
	slots = palloc(sizeof(IngestWorkerSlot) * n);
	sched = palloc(sizeof(IngestSched));
	LWLockAcquire(ingest_shared->lock, LW_SHARED);
	memcpy(slots, ingest_shared->slots, sizeof(IngestWorkerSlot) * n);
	memcpy(sched, ingest_sched, sizeof(IngestSched));
	LWLockRelease(ingest_shared->lock);

	sums = palloc0(sizeof(SourceDecodeSum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		IngestWorkerSlot *s = &slots[i];
		IngestDecodeStats *d = &s->decode;
		SourceDecodeSum *sum = NULL;
		Oid			owner;

		if (!s->in_use)
			continue;
		owner = running_source_owner(sched, s->source_id);
		if (!OidIsValid(owner))
			continue;
		if (!all_sources && !may_see_details(owner))
			continue;
		for (j = 0; j < nsums; j++)
			if (sums[j].source_id == s->source_id)
				sum = &sums[j];
		if (sum == NULL)
		{
			sum = &sums[nsums++];
			sum->source_id = s->source_id;
			sum->visible = may_see_details(owner);
			sum->warnings = palloc0(sizeof(IngestWarning) * INGEST_MAX_WARNINGS * n);
		}
		sum->workers++;
		sum->messages += s->messages;
		sum->decoded += d->decoded;
		sum->more_unknown_keys += d->more_unknown_keys;
		/* the rate counts the workers that wrote a batch within a minute of the newest one */
		if (s->messages > 0)
		{
			for (j = 0; j < n; j++)
				if (slots[j].in_use && slots[j].source_id == s->source_id &&
					TimestampDifferenceExceeds(s->last_batch_at, slots[j].last_batch_at,
											   2 * INGEST_RATE_WINDOW_MS))
					break;
			if (j == n)
			{
				sum->recent_messages += d->window_messages + d->prev_messages;
				sum->recent_dead += d->window_dead + d->prev_dead;
			}
		}
		for (j = 0; sum->visible && j < d->nwarnings && j < INGEST_MAX_WARNINGS; j++)
		{
			IngestWarning *w = &d->warnings[j];

			for (k = 0; k < sum->nwarnings; k++)
				if (sum->warnings[k].kind == w->kind &&
					strncmp(sum->warnings[k].name, w->name, NAMEDATALEN) == 0)
					break;
			if (k == sum->nwarnings)
			{
				sum->warnings[k] = *w;
				sum->warnings[k].name[NAMEDATALEN - 1] = '\0';
				sum->warnings[k].messages = 0;
				sum->nwarnings++;
			}
			sum->warnings[k].messages += w->messages;
		}
	}
	*result = sums;
	return nsums;
}

PG_FUNCTION_INFO_V1(streamext_source_decode_stats);

/*
 * streamext._source_decode_stats() → SETOF (source_id, decoded,
 * dead_letter_rate, unmatched_keys, null_columns, recent_messages): per
 * running source.  dead_letter_rate: dead letters per message over
 * recent_messages, the messages of each worker's last 30 to 60 s with
 * messages (workers that wrote within a minute of the source's latest
 * batch); shown for every source, since like the dead-letter count it says
 * nothing about the data.  The rest only where the caller may see details:
 * unmatched_keys, distinct top-level keys that matched no column (the names
 * beyond the ones kept, see INGEST_MAX_WARNINGS, count as one);
 * null_columns, columns that no decoded message had a key for.
 */
Datum
streamext_source_decode_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SourceDecodeSum *sums;
	int			nsums,
				i,
				k;

	InitMaterializedSRF(fcinfo, 0);
	nsums = sum_decode_stats(&sums, true);
	for (i = 0; i < nsums; i++)
	{
		SourceDecodeSum *sum = &sums[i];
		Datum		values[6];
		bool		nulls[6];
		int64		unmatched = 0,
					null_columns = 0;

		for (k = 0; k < sum->nwarnings; k++)
		{
			if (sum->warnings[k].kind == DECODE_WARN_UNKNOWN_KEY)
				unmatched++;
			else if (sum->decoded > 0 && sum->warnings[k].messages >= sum->decoded)
				null_columns++;
		}
		if (sum->more_unknown_keys > 0)
			unmatched++;
		memset(nulls, 0, sizeof(nulls));
		values[0] = Int64GetDatum(sum->source_id);
		values[1] = Int64GetDatum((int64) sum->decoded);
		values[2] = Float8GetDatum(sum->recent_messages > 0 ?
								   (double) sum->recent_dead / sum->recent_messages : 0);
		nulls[2] = sum->recent_messages == 0;
		values[3] = Int64GetDatum(unmatched);
		values[4] = Int64GetDatum(null_columns);
		nulls[1] = nulls[3] = nulls[4] = !sum->visible;
		values[5] = Int64GetDatum((int64) sum->recent_messages);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(streamext_source_warnings);

/*
 * streamext._source_warnings() → SETOF (source_id, kind, name, messages,
 * decoded): the keys and columns behind unmatched_keys and null_columns.
 */
Datum
streamext_source_warnings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SourceDecodeSum *sums;
	int			nsums,
				i,
				k;

	InitMaterializedSRF(fcinfo, 0);
	nsums = sum_decode_stats(&sums, false);
	for (i = 0; i < nsums; i++)
	{
		SourceDecodeSum *sum = &sums[i];

		for (k = 0; k <= sum->nwarnings; k++)
		{
			Datum		values[5];
			bool		nulls[5];
			IngestWarning *w = k < sum->nwarnings ? &sum->warnings[k] : NULL;

			/* after the names: the keys beyond them, without a name */
			if (w == NULL && sum->more_unknown_keys == 0)
				break;
			memset(nulls, 0, sizeof(nulls));
			values[0] = Int64GetDatum(sum->source_id);
			values[1] = CStringGetTextDatum(w == NULL || w->kind == DECODE_WARN_UNKNOWN_KEY ?
											"unknown_key" : "missing_column");
			if (w != NULL)
				values[2] = CStringGetTextDatum(w->name);
			nulls[2] = (w == NULL);
			values[3] = Int64GetDatum((int64) (w ? w->messages : sum->more_unknown_keys));
			values[4] = Int64GetDatum((int64) sum->decoded);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_RETURN_VOID();
}
