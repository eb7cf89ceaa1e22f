/*
 * prediction_stats.h
 *		Shared-memory prediction statistics (mlops.prediction_stats).
 */
#ifndef MLOPS_PREDICTION_STATS_H
#define MLOPS_PREDICTION_STATS_H

#include "postgres.h"

typedef struct PredictionStatsEntry PredictionStatsEntry;

/* A backend's cached pointer to the entry of one model version */
typedef struct PredictionStatsRef
{
	PredictionStatsEntry *entry;
	uint64		generation;		/* of the table when entry was looked up */
	bool		absent;			/* the table was full: count nothing */
} PredictionStatsRef;

extern void PredictionStatsInit(void);
extern void PredictionStatsRecord(PredictionStatsRef *ref, const char *model, int32 version,
								  int64 rows, double elapsed_ms, bool error);

#endif							/* MLOPS_PREDICTION_STATS_H */
