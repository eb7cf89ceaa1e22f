/*-------------------------------------------------------------------------
 *
 * monitor.h
 *	  The face of src/monitor/: model monitors and their metrics
 *	  (monitoring.c), the classes a classification monitor judges labels by
 *	  (classes.c), alert rules (alerts.c) and the pure alert-condition
 *	  expression language (expr.c, expr.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_MONITOR_H
#define MLOPS_MONITOR_H

#include "postgres.h"

#include "utils/array.h"

#include "monitor/expr.h"

/*
 * MonitorClasses is what a classification monitor knows of its model's
 * classes: codes 0 .. nclasses-1 standing for names, learned from version.
 */
typedef struct MonitorClasses
{
	const char *model;
	int32		version;
	int			nclasses;
	char	  **names;
} MonitorClasses;

extern void MonitorClassesInit(MonitorClasses *mc, const char *model, int32 version,
							   ArrayType *classes);
extern void MonitorCheckLabel(const MonitorClasses *mc, bool prediction, double value,
							  const char *hint);

#endif							/* MLOPS_MONITOR_H */
