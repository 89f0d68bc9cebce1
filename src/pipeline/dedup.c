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

/*
 * The dedup keys as DISTINCT ON and ORDER BY see them ("r.a, r.b").  A key
 * of a deterministic collation other than C is compared in C: equality is
 * byte equality under any deterministic collation, so the same rows are
 * duplicates, and the sort that finds them no longer calls strcoll() for
 * every comparison (under C.UTF-8 or en_US most of the time of sorting a
 * large batch).  Nondeterministic collations keep theirs: their equality is
 * not byte equality.
 */
static char *
dedup_sort_keys(PipelineDef *def)
{
	StringInfoData s;
	ListCell   *lc;

	initStringInfo(&s);
	foreach(lc, def->dedup_keys)
	{
		const char *key = lfirst(lc);
		AttrNumber	attnum = get_attnum(def->source, key);
		Oid			typid = InvalidOid;
		int32		typmod;
		Oid			collid = InvalidOid;

		if (attnum != InvalidAttrNumber)
			get_atttypetypmodcoll(def->source, attnum, &typid, &typmod, &collid);
		appendStringInfo(&s, "%sr.%s", s.len > 0 ? ", " : "", quote_identifier(key));
		if (OidIsValid(collid) && collid != C_COLLATION_OID && get_collation_isdeterministic(collid))
			appendStringInfoString(&s, " COLLATE pg_catalog.\"C\"");
	}
	return s.data;
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
	/* normally a no-op (the last batch evicted with this watermark): then no statement runs */
	if (b->has_prev_watermark)
		dedup_evict(b, b->prev_watermark);

	rkeys = dedup_sort_keys(def);
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
	/*
	 * The state is empty before a pipeline's first batch (create_pipeline
	 * makes it empty, reset_pipeline empties it and sets batches to 0, in
	 * its transaction): then no anti-join, which after a reset would probe
	 * an index full of the deleted keys for every row of a catch-up.  Any
	 * later batch joins against the state without asking whether it holds
	 * keys: asking cost more than the probes (the front of the state table
	 * is what eviction deleted, dead until VACUUM comes, and a scan for "any
	 * row" walked all of it, every batch).
	 */
	if (b->batch > 1)
	{
		appendStringInfo(&sql, " AND NOT EXISTS (SELECT 1 FROM %s s WHERE %s)", state, eq.data);

		/*
		 * Keys with a NULL column, which "=" does not find: rare, and found
		 * through the partial index on them (ORDER BY its column makes the
		 * planner take it rather than scan the table).
		 */
		s = batch_spi_text(psprintf("SELECT 1 FROM %s s WHERE %s ORDER BY s.first_event_time LIMIT 1",
									state, sanynull.data),
						   0, NULL, NULL, NULL);
		if (s != NULL)
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

/*
 * Forget the keys with first_event_time <= watermark - delay.
 *
 * The floor (pipeline_progress.dedup_floor, committed with each batch):
 * the state holds no key whose first_event_time <= floor.  Eviction deletes
 * only the range (floor, cutoff], and the floor becomes the cutoff: an index
 * range scan over the keys that expire now.  Without it, every DELETE walked
 * the index from its start, over all the keys earlier batches deleted and
 * VACUUM had not removed yet (on a busy pipeline, most of its time).  Why
 * the floor is exact: a batch adds only keys whose first_event_time >
 * cutoff of its new watermark (dedup_remember_sql, the same cutoff the
 * eviction after it uses) or NULL, so after the eviction every key is above
 * the cutoff, whatever the floor was; a cutoff below the floor (a watermark
 * delay raised by alter_pipeline) deletes nothing and lowers the floor, as
 * keys above the new cutoff may now enter.  A batch that does not record its
 * floor (nothing read) leaves the older, lower one: still true.
 */
void
dedup_evict(PipelineBatch *b, TimestampTz watermark)
{
	PipelineDef *def = b->def;
	TimestampTz cutoff;
	TimestampTz stamp;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];

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
	if (!b->has_dedup_floor || cutoff > b->dedup_floor)
	{
		values[0] = TimestampTzGetDatum(cutoff);
		values[1] = TimestampTzGetDatum(b->dedup_floor);
		if (b->has_dedup_floor)
			batch_spi(psprintf("DELETE FROM %s WHERE first_event_time <= $1"
							   " AND first_event_time > $2",
							   pipeline_state_table_name(def, DEDUP_SUFFIX)),
					  2, types, values, NULL, SPI_OK_DELETE);
		else
			batch_spi(psprintf("DELETE FROM %s WHERE first_event_time <= $1",
							   pipeline_state_table_name(def, DEDUP_SUFFIX)),
					  1, types, values, NULL, SPI_OK_DELETE);
	}
	b->has_dedup_floor = true;
	b->dedup_floor = cutoff;
}
