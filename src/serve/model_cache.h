/*
 * model_cache.h
 *		Per-backend cache of deserialized boosters (see model_cache.c).
 */
#ifndef MLOPS_MODEL_CACHE_H
#define MLOPS_MODEL_CACHE_H

#include "postgres.h"

#include "common/common.h"
#include "serve/prediction_stats.h"
#include "xgb/xgb.h"

/* A loaded model version */
typedef struct CachedModel
{
	int64		model_id;		/* key */
	int32		version;		/* key */
	char	   *name;
	MemoryContext cxt;			/* owns everything below, booster included */
	BoosterHandle booster;
	bool		forest_tried;	/* ModelCacheBuildForest ran */
	Forest	   *forest;			/* the booster's trees for the native walk, or NULL */
	float	   *forest_out;		/* the walk's output buffer (predict.c) */
	int64		forest_out_cap;	/* floats forest_out holds */
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
	int		   *name_order;		/* feature indexes by name, built by predict.c */
	TimestampTz loaded_at;
	PredictionStatsRef stats;
} CachedModel;

extern void ModelCacheInit(void);
extern CachedModel *ModelCacheGet(const char *ref);
extern void ModelCacheVerify(const char *ref);
extern void ModelCacheSetThreads(CachedModel *model, int nthread);
extern void ModelCacheBuildForest(CachedModel *model);
extern void ModelCachePin(CachedModel *model);
extern void ModelCacheUnpin(CachedModel *model);
extern void ModelCacheStats(int *entries, int64 *bytes);

#endif							/* MLOPS_MODEL_CACHE_H */
