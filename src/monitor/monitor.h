/*-------------------------------------------------------------------------
 *
 * monitor.h
 *	  The face of src/monitor/: model monitors and their metrics
 *	  (monitoring.c), alert rules (alerts.c) and the pure alert-condition
 *	  expression language (expr.c, expr.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_MONITOR_H
#define MLOPS_MONITOR_H

#include "monitor/expr.h"

#endif							/* MLOPS_MONITOR_H */
