/*
 * dedup.c
 *		Dedup within the watermark for a pipeline's dedup_keys, with the keys
 *		kept in the state table streamext."pipeline_<id>_dedup".
 *
 * The rule of DESIGN.md (Spark's dropDuplicatesWithinWatermark): the first
 * arrival of a key is kept; a later row of the same key is a duplicate while
 * watermark < first_event_time + delay, and the key is forgotten after that.
 * Late rows have been taken out before (they never enter the state, so a
 * late row does not make a later on-time row of its key a duplicate).  All
 * rows of a batch see the previous batch's watermark, and the state is
 * evicted with each batch's new watermark, so every key still in the state
 * at the start of a batch is live for it.
 *
 * The state is a table, not StreamDedup's in-memory hash: a million live keys
 * cost disk pages, not worker memory, and the state commits with the batch.
 * NULL keys equal each other, as in DISTINCT and in StreamDedup (the unique
 * index on the keys is NULLS NOT DISTINCT too).  Each state row remembers
 * the batch that brought it (_batch).  Without a watermark
 * (no delay) a key is never forgotten.
 *
 * A NULL event time (or an infinite one, which batch.c reads as NULL) is no
 * time, so such a row is never late; a key it brings is remembered, so its
 * duplicates are dropped, but a NULL first_event_time would never pass any
 * cutoff and the key would stay for good.  So such a key counts as first
 * seen at the stream's event time when it arrived: the largest event time
 * read by the end of its batch (watermark + delay), stamped by dedup_evict
 * at the end of that batch, or of the first batch with an event time.  It is
 * then forgotten like any key, and the state stays bounded by the watermark.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "pipeline/batch_internal.h"
#include "stream/stream.h"

#define DEDUP_SUFFIX "dedup"

/*
 * An index on the state table.  CREATE INDEX needs CREATE on the table's
 * schema, streamext, which the pipeline's owner lacks (every pipeline of a
 * role that is not a superuser failed its first batch with "permission
 * denied for schema streamext"): as for the window state (window_state.c),
 * the bootstrap superuser builds it, in a security-restricted operation with
 * the search_path pinned; the index columns and predicate are plain columns
 * and IS NULL, no user code.
 */
static void
create_state_index(const char *sql)
{
	Oid			save_userid;
	int			save_sec;
	int			gucnest;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	gucnest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	batch_spi(sql, 0, NULL, NULL, NULL, SPI_OK_UTILITY);
	AtEOXact_GUC(true, gucnest);
	SetUserIdAndSecContext(save_userid, save_sec);
}

/* The state table's name; created (with its indexes) when missing. */
static char *
dedup_state(PipelineDef *def)
{
	char	   *name = pipeline_state_table_name(def, DEDUP_SUFFIX);
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	char	   *s;
	StringInfoData cols;
	StringInfoData keys;
	StringInfoData nullkeys;
	Relation	rel;
	TupleDesc	desc;
	ListCell   *lc;

	s = batch_spi_text("SELECT pg_catalog.to_regclass($1)::pg_catalog.text", 1, types, values, NULL);
	if (s != NULL)
		return name;

	initStringInfo(&cols);
	initStringInfo(&keys);
	initStringInfo(&nullkeys);
	rel = relation_open(def->source, AccessShareLock);
	desc = RelationGetDescr(rel);
	foreach(lc, def->dedup_keys)
	{
		const char *key = lfirst(lc);
		Form_pg_attribute att = NULL;

		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute a = TupleDescAttr(desc, i);

			if (!a->attisdropped && strcmp(NameStr(a->attname), key) == 0)
				att = a;
		}
		if (att == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("dedup key \"%s\" of pipeline \"%s\" is not a column of its source",
							key, def->name)));
		appendStringInfo(&cols, "%s %s", quote_identifier(key),
						 format_type_with_typemod(att->atttypid, att->atttypmod));
		if (OidIsValid(att->attcollation) &&
			att->attcollation != get_typcollation(att->atttypid))
			appendStringInfo(&cols, " COLLATE %s", generate_collation_name(att->attcollation));
		appendStringInfoString(&cols, ", ");
		if (keys.len > 0)
		{
			appendStringInfoString(&keys, ", ");
			appendStringInfoString(&nullkeys, " OR ");
		}
		appendStringInfoString(&keys, quote_identifier(key));
		appendStringInfo(&nullkeys, "%s IS NULL", quote_identifier(key));
	}
	relation_close(rel, AccessShareLock);
	appendStringInfo(&cols, "first_event_time pg_catalog.timestamptz,"
					 " _batch pg_catalog.int8 NOT NULL,"
					 " UNIQUE NULLS NOT DISTINCT (%s)", keys.data);
	pipeline_state_create_table(def, DEDUP_SUFFIX, cols.data);
	/* eviction is a range on first_event_time */
	create_state_index(psprintf("CREATE INDEX ON %s (first_event_time)", name));
	/* the keys with a NULL column, which "=" does not find (dedup_fill_batch) */
	create_state_index(psprintf("CREATE INDEX ON %s (first_event_time) WHERE %s", name, nullkeys.data));
	return name;
}

/* first_event_time + delay <= watermark  <=>  first_event_time <= cutoff */
static bool
dedup_cutoff(PipelineDef *def, TimestampTz watermark, TimestampTz *cutoff)
{
	int64		delay;

	if (!def->has_watermark || TIMESTAMP_NOT_FINITE(watermark))
		return false;
	delay = stream_interval_usecs(&def->watermark, "watermark", true);
	if (watermark < DT_NOBEGIN + delay + 1)
		return false;			/* nothing is that old */
	*cutoff = watermark - delay;
	return true;
}

/*
 * The SELECT filling the batch table from the rows read (the CTE r of
 * batch.c): the rows that are not late, and with dedup_keys the first
 * arrival of each key (DISTINCT ON, sorted by key and arrival) among the
 * rows whose key the state does not hold.  A key held already makes every
 * row of it a duplicate, so the anti-join may come before DISTINCT ON; it is
 * a hash or index lookup on "=", left out when the state is empty.  "=" never
 * matches NULL: when the state holds keys with a NULL column (a partial
 * index finds them), rows with a NULL key column are looked up again with
 * IS NOT DISTINCT FROM (slow, and only for those rows).
 */
char *
dedup_batch_sql(PipelineBatch *b, PipelineRead *rd, List *columns)
{
	PipelineDef *def = b->def;
	char	   *state;
	char	   *rkeys;
	StringInfoData sql;
	StringInfoData eq;
	StringInfoData ndist;
	StringInfoData anynull;
	StringInfoData sanynull;
	ListCell   *lc;
	char	   *s;

	if (def->dedup_keys == NIL)
		return psprintf("SELECT %s, r." PIPELINE_ET_COLUMN " FROM " PIPELINE_READ_CTE " r"
						" WHERE NOT r." PIPELINE_LATE_COLUMN,
						batch_column_list(columns, "r."));

	state = dedup_state(def);
	/* normally a no-op (the last batch evicted with this watermark) */
	if (b->has_prev_watermark)
		dedup_evict(def, b->prev_watermark);

	rkeys = batch_column_list(def->dedup_keys, "r.");
	initStringInfo(&eq);
	initStringInfo(&ndist);
	initStringInfo(&anynull);
	initStringInfo(&sanynull);
	foreach(lc, def->dedup_keys)
	{
		const char *k = quote_identifier(lfirst(lc));

		if (eq.len > 0)
		{
			appendStringInfoString(&eq, " AND ");
			appendStringInfoString(&ndist, " AND ");
			appendStringInfoString(&anynull, " OR ");
			appendStringInfoString(&sanynull, " OR ");
		}
		/* qualified: batch.c may run this under the pipeline's search_path */
		appendStringInfo(&eq, "s.%s OPERATOR(pg_catalog.=) r.%s", k, k);
		appendStringInfo(&ndist, "(s.%s IS NULL AND r.%s IS NULL OR s.%s OPERATOR(pg_catalog.=) r.%s)",
						 k, k, k, k);
		appendStringInfo(&anynull, "r.%s IS NULL", k);
		appendStringInfo(&sanynull, "s.%s IS NULL", k);
	}

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT DISTINCT ON (%s) %s, r." PIPELINE_ET_COLUMN
					 " FROM " PIPELINE_READ_CTE " r WHERE NOT r." PIPELINE_LATE_COLUMN,
					 rkeys, batch_column_list(columns, "r."));
	s = batch_spi_text(psprintf("SELECT EXISTS (SELECT 1 FROM %s s)", state), 0, NULL, NULL, NULL);
	if (s != NULL && strcmp(s, "t") == 0)
	{
		appendStringInfo(&sql, " AND NOT EXISTS (SELECT 1 FROM %s s WHERE %s)", state, eq.data);
		s = batch_spi_text(psprintf("SELECT EXISTS (SELECT 1 FROM %s s WHERE %s)",
									state, sanynull.data),
						   0, NULL, NULL, NULL);
		if (s != NULL && strcmp(s, "t") == 0)
			appendStringInfo(&sql, " AND (NOT (%s) OR NOT EXISTS (SELECT 1 FROM %s s WHERE (%s) AND %s))",
							 anynull.data, state, sanynull.data, ndist.data);
	}
	appendStringInfo(&sql, " ORDER BY %s, %s", rkeys, rd->arrival_order);
	return sql.data;
}

/*
 * The kept keys (all rows of the batch table, before expectations) go into
 * the state, except those the new watermark evicts at the end of this batch
 * anyway: in a catch-up over a long stretch of event time that is most of
 * them, and they are neither written nor deleted.  A key whose row an
 * expectation drops stays a key: its duplicates are duplicates.
 */
void
dedup_remember(PipelineBatch *b)
{
	PipelineDef *def = b->def;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	TimestampTz cutoff;

	if (def->dedup_keys == NIL)
		return;
	values[0] = Int64GetDatum(b->batch);	/* unused: in the text */
	if (b->has_new_watermark && dedup_cutoff(def, b->new_watermark, &cutoff))
		values[1] = TimestampTzGetDatum(cutoff);
	else
		nulls[1] = 'n';
	batch_spi(dedup_remember_sql(b, "pg_temp." PIPELINE_BATCH_TABLE, "$2"),
			  2, types, values, nulls, SPI_OK_INSERT);
}

char *
dedup_remember_sql(PipelineBatch *b, const char *from, const char *cutoff_sql)
{
	PipelineDef *def = b->def;

	return psprintf("INSERT INTO %s (%s, first_event_time, _batch)"
					" SELECT %s, r." PIPELINE_ET_COLUMN ", " INT64_FORMAT
					" FROM %s r"
					" WHERE (%s)::pg_catalog.timestamptz IS NULL OR r." PIPELINE_ET_COLUMN " IS NULL"
					"  OR r." PIPELINE_ET_COLUMN " OPERATOR(pg_catalog.>) (%s)::pg_catalog.timestamptz",
					pipeline_state_table_name(def, DEDUP_SUFFIX),
					batch_column_list(def->dedup_keys, ""),
					batch_column_list(def->dedup_keys, "r."), b->batch, from,
					cutoff_sql, cutoff_sql);
}

void
dedup_evict(PipelineDef *def, TimestampTz watermark)
{
	TimestampTz cutoff;
	TimestampTz stamp;
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1];

	/*
	 * The keys first seen without an event time get the stream's current one
	 * (the file's comment); the first_event_time index finds them (IS NULL).
	 */
	if (def->has_watermark && !TIMESTAMP_NOT_FINITE(watermark) &&
		!pg_add_s64_overflow(watermark, stream_interval_usecs(&def->watermark, "watermark", true),
							 &stamp) &&
		IS_VALID_TIMESTAMP(stamp))
	{
		values[0] = TimestampTzGetDatum(stamp);
		batch_spi(psprintf("UPDATE %s SET first_event_time = $1 WHERE first_event_time IS NULL",
						   pipeline_state_table_name(def, DEDUP_SUFFIX)),
				  1, types, values, NULL, SPI_OK_UPDATE);
	}

	if (!dedup_cutoff(def, watermark, &cutoff))
		return;
	values[0] = TimestampTzGetDatum(cutoff);
	batch_spi(psprintf("DELETE FROM %s WHERE first_event_time <= $1",
					   pipeline_state_table_name(def, DEDUP_SUFFIX)),
			  1, types, values, NULL, SPI_OK_DELETE);
}
