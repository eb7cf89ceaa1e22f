/*
 * evalmetrics.h
 *		Held-out evaluation metrics of a trained model (pure C): an adapter
 *		from training's float32 arrays to the accumulators of metrics.c.
 *
 * No PostgreSQL headers: unit-tested by test/unit/test_evalmetrics.c.
 * Metrics that do not apply are NaN; predictions that are not finite
 * numbers are errors.
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

/* Classification metrics accumulated chunk by chunk (see evalmetrics.c) */
typedef struct EvalClassAcc
{
	ClassificationAcc acc;
	int			nclasses;
	long		n;
	double		loss;			/* sum of -log(p of the true class) */
} EvalClassAcc;

extern int	EvalClassInit(EvalClassAcc *e, int nclasses, char *err, size_t errlen);
extern int	EvalClassAdd(EvalClassAcc *e, const float *labels, const float *prob,
						 long from, long to, char *err, size_t errlen);
extern int	EvalClassFinish(EvalClassAcc *e, HeldOutClassification *out,
							ClassificationMetrics *scratch, char *err, size_t errlen);
extern int	EvalScoredLabels(const float *labels, const float *score, long from, long to,
							 ScoredLabel *items, char *err, size_t errlen);
extern int	EvalRegressionAdd(RegressionAcc *acc, const float *labels, const float *pred,
							  long from, long to, char *err, size_t errlen);

/* the same over whole arrays in one call */
extern int	EvalClassification(const float *labels, const float *prob, long n,
							   int nclasses, HeldOutClassification *out,
							   char *err, size_t errlen);
extern int	EvalRegression(const float *labels, const float *pred, long n,
						   RegressionMetrics *out, char *err, size_t errlen);
extern double EvalRocAuc(const float *labels, const float *score, long n,
						 char *err, size_t errlen);

#endif							/* MLOPS_EVALMETRICS_H */
