/*
 * model_cache.h
 *		Per-backend cache of deserialized boosters (see model_cache.c).
 */
#ifndef MLOPS_MODEL_CACHE_H
#define MLOPS_MODEL_CACHE_H

#include "postgres.h"

#include "dataset.h"
#include "prediction_stats.h"
#include "xgb.h"

/* What the booster's raw output is, from its objective */
typedef enum ModelOutput
{
	OUTPUT_VALUE,				/* regression value */
	OUTPUT_PROB1,				/* binary: probability of class 1 */
	OUTPUT_PROBS,				/* multiclass: one probability per class */
	OUTPUT_CLASS,				/* a class code (multi:softmax, binary:hinge) */
	OUTPUT_MARGIN1				/* binary margin (binary:logitraw) */
} ModelOutput;

/* A loaded model version */
typedef struct CachedModel
{
	int64		model_id;		/* key */
	int32		version;		/* key */
	char	   *name;
	MemoryContext cxt;			/* owns everything below, booster included */
	BoosterHandle booster;
	ModelSchema *schema;		/* features and classes */
	int			nfeatures;
	int			nclasses;		/* 0 for regression */
	ModelOutput output;
	char	   *objective;
	int			nthread;		/* the booster's current nthread */
	Size		size;			/* bytes counted against mlops.model_cache_mb */
	uint64		last_used;
	int64		hits;
	int			pins;			/* scans using it: never evicted while > 0 */
	TimestampTz loaded_at;
	PredictionStatsRef stats;
} CachedModel;

extern void ModelCacheInit(void);
extern ModelOutput ObjectiveOutput(const char *objective, bool regression);
extern CachedModel *ModelCacheGet(const char *ref);
extern void ModelCacheVerify(const char *ref);
extern void ModelCacheSetThreads(CachedModel *model, int nthread);
extern void ModelCachePin(CachedModel *model);
extern void ModelCacheUnpin(CachedModel *model);
extern void ModelCacheStats(int *entries, int64 *bytes);

#endif							/* MLOPS_MODEL_CACHE_H */
