/*-------------------------------------------------------------------------
 *
 * serve.h
 *	  The face of src/serve/: prediction (predict.c), the per-backend model
 *	  cache (model_cache.c), routing between a deployment's versions
 *	  (routing.c), shared-memory prediction statistics (prediction_stats.c)
 *	  and the health functions (health.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_SERVE_H
#define MLOPS_SERVE_H

#include "serve/model_cache.h"
#include "serve/prediction_stats.h"
#include "serve/routing.h"

#endif							/* MLOPS_SERVE_H */
