/*
 * columnar_scan.h
 *		What the planning (columnar_scan_plan.c) and the execution
 *		(columnar_scan.c) of the VersionedColumnarScan custom scan share.
 */
#ifndef STREAMEXT_COLUMNAR_SCAN_H
#define STREAMEXT_COLUMNAR_SCAN_H

#include "nodes/extensible.h"

/* The plan node's methods: how the executor makes its state (columnar_scan.c). */
extern const CustomScanMethods columnar_scan_plan_methods;

#endif							/* STREAMEXT_COLUMNAR_SCAN_H */
