/*
 * evalmetrics.h
 *		Held-out evaluation metrics of a trained model (pure C): an adapter
 *		from training's float32 arrays to the accumulators of metrics.c.
 *
 * No PostgreSQL headers: unit-tested by test/unit/test_evalmetrics.c.
 * Metrics that do not apply are NaN.
 */
#ifndef MLOPS_EVALMETRICS_H
#define MLOPS_EVALMETRICS_H

#include <stddef.h>

#include "common/metrics.h"

/* Most classes a classification may have for its held-out metrics */
#define EVAL_MAX_CLASSES METRICS_MAX_CLASSES

typedef struct HeldOutClassification
{
	double		accuracy;
	double		precision;		/* binary: of class 1; multiclass: macro */
	double		recall;
	double		f1;
	double		roc_auc;		/* binary only */
	double		log_loss;
} HeldOutClassification;

extern int	EvalClassification(const float *labels, const float *prob, long n,
							   int nclasses, HeldOutClassification *out,
							   char *err, size_t errlen);
extern int	EvalRegression(const float *labels, const float *pred, long n,
						   RegressionMetrics *out, char *err, size_t errlen);
extern double EvalRocAuc(const float *labels, const float *score, long n,
						 char *err, size_t errlen);

#endif							/* MLOPS_EVALMETRICS_H */
