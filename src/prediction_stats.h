/*
 * prediction_stats.h
 *		Shared-memory prediction statistics (mlops.prediction_stats).
 */
#ifndef MLOPS_PREDICTION_STATS_H
#define MLOPS_PREDICTION_STATS_H

#include "postgres.h"

typedef struct PredictionStatsEntry PredictionStatsEntry;

extern void PredictionStatsInit(void);
extern PredictionStatsEntry *PredictionStatsLookup(const char *model, int32 version);
extern void PredictionStatsRecord(PredictionStatsEntry *entry, int64 rows,
								  double elapsed_ms, bool error);

#endif							/* MLOPS_PREDICTION_STATS_H */
