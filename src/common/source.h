/*
 * source.h
 *		The one source resolver: what a table, view or query argument
 *		(mlops.train, predict_table, set_drift_reference, detect_drift ...)
 *		names, checked once with one set of messages, and read as the caller.
 *
 * See source.c for the design.
 */
#ifndef MLOPS_SOURCE_H
#define MLOPS_SOURCE_H

#include "postgres.h"

struct TupleTableSlot;
struct TupleDescData;
struct PortalData;

/* At most this many bytes of a source are quoted in a message */
#define SOURCE_ECHO_MAX 200

/* At most this many column names are listed in a hint */
#define SOURCE_HINT_COLUMNS 20

/* A resolved source */
typedef struct SourceSpec
{
	const char *text;			/* the source as given */
	Oid			relid;			/* the relation it names; InvalidOid for a query */
	char	   *query;			/* one read-only query returning its rows */
} SourceSpec;

/* Called by SourceScan for every row, with all attributes deformed (not
 * deformed by SourceScanRaw) */
typedef void (*SourceRowCallback) (struct TupleTableSlot *slot, void *arg);

extern void SourceResolve(const char *source, SourceSpec *spec);
extern char *SourceQuery(const char *source);
extern void SourceCheckText(const char *source);
extern struct PortalData *SourceOpen(const char *query);
extern void SourceScan(struct PortalData *portal, SourceRowCallback callback, void *arg);
extern void SourceScanRaw(struct PortalData *portal, SourceRowCallback callback, void *arg);
extern uint64 SourceScanSome(struct PortalData *portal, SourceRowCallback callback, void *arg, long count);
extern char *SourceEcho(const char *source);
extern char *SourceColumnsHint(struct TupleDescData *tupdesc);

/* the 0.1.0 name of SourceQuery, still used by serve/predict.c */
#define DatasetSourceQuery(source) SourceQuery(source)

#endif							/* MLOPS_SOURCE_H */
