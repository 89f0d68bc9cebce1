/*
 * columnar_progress.h
 *		Progress reporting of OPTIMIZE and VACUUM on versioned_columnar tables,
 *		shown by the view streamext.maintenance_progress (in the style of
 *		pg_stat_progress_*): one row per backend running one of them.
 *
 * The interface between the maintenance operations (columnar_optimize.c,
 * columnar_vacuum.c) and the progress slots (columnar_progress.c).  A backend
 * has at most one operation in progress; begin() claims its slot, the other
 * calls update it, end() releases it.  A slot is released on error too (the
 * implementation ties it to the transaction), so a cancelled operation leaves
 * no row behind.
 */
#ifndef STREAMEXT_COLUMNAR_PROGRESS_H
#define STREAMEXT_COLUMNAR_PROGRESS_H

#include "postgres.h"

/* operation: "optimize" or "vacuum" (shown as is in the view) */
extern void columnar_progress_begin(Oid relid, const char *operation);
/* phase: a short lower-case phrase, e.g. "scanning segments", "writing segments" */
extern void columnar_progress_phase(const char *phase);
extern void columnar_progress_update(int64 segments_total, int64 segments_done,
									 int64 rows_done);
extern void columnar_progress_end(void);

#endif							/* STREAMEXT_COLUMNAR_PROGRESS_H */
