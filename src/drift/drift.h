/*-------------------------------------------------------------------------
 *
 * drift.h
 *	  Helpers shared by the drift SQL functions (drift.c) and the ADWIN SQL
 *	  functions (adwin_sql.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_DRIFT_H
#define MLOPS_DRIFT_H

#include "postgres.h"

#include "utils/array.h"

#include "drift/stats.h"

extern double *DriftArrayToDoubles(ArrayType *arr, const char *argname,
								   int *n, int *dropped, bool keep_positions,
								   int **positions);
extern void DriftRequireNonEmpty(int n, int dropped, const char *what);
extern void DriftValidateDelta(double delta);
extern void DriftAudit(const char *action, const char *rtype, const char *name,
					   const char *details);

#endif							/* MLOPS_DRIFT_H */
