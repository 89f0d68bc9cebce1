/*
 * source_columnar.c
 *		Which rows of a versioned_columnar source a batch reads: the rows
 *		inserted by the versions after the last one read, from the change
 *		data feed streamext.changes().
 *
 * Versions are contiguous and numbered in commit order, so "last version
 * read" is the whole progress: a batch reads the 'insert' changes of the
 * versions (last, cur], cur being the newest version the batch's snapshot
 * sees (max(version) of streamext.history()).  Deletes and updates are not
 * replayed, as for heap sources.  max_batch_rows cuts at a version boundary,
 * by the rows_added that history() reports for each version (a batch takes
 * at least one version that added rows, however large); versions that added
 * nothing are passed over with the next batch, or alone at the end.
 *
 * A rewrite of the source (ALTER COLUMN ... TYPE, CLUSTER, SET ACCESS
 * METHOD) starts a new history whose version 1 holds every row: "last" then
 * names a version of the old history, and reading on from it would stall
 * until the new history reaches it, then skip its first versions and read
 * the rest as if they followed.  So the progress also keeps the commit time
 * of the last version read (pipeline_progress.version_committed_at), and a
 * batch whose history has no such version any more stops with an error
 * asking for reset_pipeline, which reads the new history from version 1.
 *
 * streamext.vacuum removes the changes of the versions up to the oldest
 * readable one, R (the versions before it are "vacuumed" in history()), but
 * never what a pipeline has not read yet.  A pipeline created or reset after
 * a vacuum, though, starts before R, where changes() cannot go: its first
 * batch reads the rows of version R instead (as_of, as Delta's streaming
 * source starts from a snapshot of the table), and the next ones the
 * changes after R.  The rows inserted before R and deleted by then are gone
 * with the vacuumed versions.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "pipeline/batch_internal.h"

/* the commit time of the version the progress will name, in this transaction */
static void
set_version_committed_at(PipelineDef *def, Datum src, int64 version)
{
	Oid			types[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3];

	values[0] = src;
	values[1] = Int64GetDatum(version);
	values[2] = Int64GetDatum(def->id);
	batch_spi("UPDATE streamext.pipeline_progress SET version_committed_at ="
			  " (SELECT h.committed_at FROM streamext.history($1::pg_catalog.regclass) h"
			  "  WHERE h.version = $2)"
			  " WHERE pipeline_id = $3",
			  3, types, values, NULL, SPI_OK_UPDATE);
}

void
source_columnar_plan(PipelineDef *def, PipelineProgress *prog, PipelineRead *rd)
{
	char	   *src = batch_qualified_name(def->source);
	Oid			types[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		values[3];
	char	   *s;
	int64		last = prog->version;
	int64		cur;
	int64		upto;
	int64		readable_from = 0;

	values[0] = CStringGetTextDatum(src);
	values[1] = Int64GetDatum(last);
	values[2] = Int64GetDatum(def->id);
	batch_spi("SELECT coalesce(pg_catalog.max(h.version), 0),"
			  " pg_catalog.max(h.committed_at) FILTER (WHERE h.version = $2)"
			  "   IS NOT DISTINCT FROM (SELECT p.version_committed_at"
			  "    FROM streamext.pipeline_progress p WHERE p.pipeline_id = $3)"
			  "  OR (SELECT p.version_committed_at IS NULL"
			  "    FROM streamext.pipeline_progress p WHERE p.pipeline_id = $3),"
			  " CASE WHEN pg_catalog.bool_or(h.parameters OPERATOR(pg_catalog.->>) 'vacuumed'"
			  "   OPERATOR(pg_catalog.=) 'true') THEN pg_catalog.min(h.version) FILTER"
			  "  (WHERE h.parameters OPERATOR(pg_catalog.->>) 'vacuumed' IS DISTINCT FROM 'true') END"
			  " FROM streamext.history($1::pg_catalog.regclass) h",
			  3, types, values, NULL, SPI_OK_SELECT);
	s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (s != NULL)
		readable_from = pg_strtoint64(s);
	s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	cur = s ? pg_strtoint64(s) : 0;
	s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (last > 0 && (cur < last || s == NULL || strcmp(s, "t") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the history of source %s of pipeline \"%s\" was rewritten",
						src, def->name),
				 errdetail("The pipeline has read up to version " INT64_FORMAT
						   " of the history before the rewrite; the source's history now ends at version "
						   INT64_FORMAT ".", last, cur),
				 errhint("A rewrite (ALTER COLUMN ... TYPE, CLUSTER, SET ACCESS METHOD) starts a new history at version 1:"
						 " SELECT streamext.reset_pipeline(%s) reads it from the start.",
						 quote_literal_cstr(def->name))));
	if (cur <= last)
	{
		rd->empty = true;
		return;
	}
	if (last < readable_from)
	{
		/* the changes up to R were vacuumed: the rows of version R, as one batch */
		set_version_committed_at(def, values[0], readable_from);
		rd->new_version = readable_from;
		rd->caught_up = (readable_from == cur);
		rd->from_sql = psprintf("FROM streamext.as_of(NULL::%s, " INT64_FORMAT "::pg_catalog.int8) a",
								src, readable_from);
		rd->row_prefix = "a.";
		rd->arrival1 = psprintf(INT64_FORMAT "::pg_catalog.int8", readable_from);
		rd->arrival2 = "pg_catalog.row_number() OVER ()";
		rd->arrival_order = "r." PIPELINE_ARRIVAL1 ", r." PIPELINE_ARRIVAL2;
		return;
	}
	upto = cur;
	if (def->max_batch_rows > 0)
	{
		Oid			t4[4] = {TEXTOID, INT8OID, INT8OID, INT8OID};
		Datum		v4[4];

		v4[0] = values[0];
		v4[1] = Int64GetDatum(last);
		v4[2] = Int64GetDatum(cur);
		v4[3] = Int64GetDatum(def->max_batch_rows);
		s = batch_spi_text("WITH h AS (SELECT h.version, pg_catalog.sum(coalesce(h.rows_added, 0))"
						   "   OVER (ORDER BY h.version) AS cum"
						   "  FROM streamext.history($1::pg_catalog.regclass) h"
						   "  WHERE h.version > $2 AND h.version <= $3)"
						   " SELECT greatest("
						   "  coalesce(pg_catalog.max(version) FILTER (WHERE cum <= $4), 0),"
						   "  coalesce(pg_catalog.min(version) FILTER (WHERE cum > 0), $3)) FROM h",
						   4, t4, v4, NULL);
		if (s != NULL)
			upto = Min(pg_strtoint64(s), cur);
		if (upto <= last)
			upto = cur;
	}
	rd->caught_up = (upto == cur);
	rd->new_version = upto;

	set_version_committed_at(def, values[0], upto);
	rd->from_sql = psprintf("FROM ROWS FROM (streamext.changes(NULL::%s, " INT64_FORMAT ", " INT64_FORMAT "))"
							" WITH ORDINALITY AS c(_version, _change_type, _committed_at, _row, _ord)"
							" WHERE c._change_type OPERATOR(pg_catalog.=) 'insert'::pg_catalog.text",
							src, last + 1, upto);
	rd->row_prefix = "(c._row).";
	rd->arrival1 = "c._version";
	rd->arrival2 = "c._ord";
	rd->arrival_order = "r." PIPELINE_ARRIVAL1 ", r." PIPELINE_ARRIVAL2;
}
