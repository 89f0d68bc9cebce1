/*
 * batch_spi.c
 *		The SPI calls of a batch (in the SPI connection of the batch): one
 *		statement with its expected result, its first value as text, and a
 *		SELECT run with a given snapshot (source_heap.c's catch-up read).
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/snapmgr.h"

#include "pipeline/batch_internal.h"

/* Run one statement; its SPI result must be expect; returns rows processed. */
int64
batch_spi(const char *sql, int nargs, Oid *types, Datum *values,
		  const char *nulls, int expect)
{
	int			ret;

	ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	if (ret != expect)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("pipeline batch: unexpected SPI result %d for: %s",
								 ret, sql)));
	return (int64) SPI_processed;
}

/*
 * A SELECT run with snapshot snap: the rows other transactions committed
 * are those snap shows, and this transaction's are those it wrote before
 * (its command id is advanced, as for every statement).
 */
void
batch_spi_snapshot(const char *sql, int nargs, Oid *types, Datum *values,
				   const char *nulls, Snapshot snap)
{
	/* planned with the parameters' values, as SPI_execute_with_args does */
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, types,
										  CURSOR_OPT_PARALLEL_OK | CURSOR_OPT_CUSTOM_PLAN);
	int			ret;

	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("pipeline batch: SPI_prepare failed (%d) for: %s",
								 SPI_result, sql)));
	ret = SPI_execute_snapshot(plan, values, nulls, snap, InvalidSnapshot, false, true, 0);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("pipeline batch: unexpected SPI result %d for: %s",
								 ret, sql)));
	SPI_freeplan(plan);
}

/* Whether the boolean that sql (no parameters) returns with snapshot snap is true. */
bool
batch_spi_check(const char *sql, Snapshot snap)
{
	bool		isnull;
	Datum		d;

	batch_spi_snapshot(sql, 0, NULL, NULL, NULL, snap);
	if (SPI_processed != 1)
		return false;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return !isnull && DatumGetBool(d);
}

/* First column of the first row as text, or NULL (NULL value or no row). */
char *
batch_spi_text(const char *sql, int nargs, Oid *types, Datum *values,
			   const char *nulls)
{
	batch_spi(sql, nargs, types, values, nulls, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* A SELECT, with snapshot snap when valid (which it then unregisters). */
void
batch_spi_select_with(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
				Snapshot snap)
{
	if (snap == InvalidSnapshot)
	{
		batch_spi(sql, nargs, types, values, nulls, SPI_OK_SELECT);
		return;
	}
	batch_spi_snapshot(sql, nargs, types, values, nulls, snap);
	UnregisterSnapshot(snap);
}
