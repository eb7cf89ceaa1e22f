/*
 * evalmetrics.h
 *		Held-out evaluation metrics of a trained model (pure C).
 *
 * No PostgreSQL headers: unit-tested by test/unit/test_evalmetrics.c.
 * Metrics that do not apply are NaN.
 */
#ifndef MLOPS_EVALMETRICS_H
#define MLOPS_EVALMETRICS_H

#include <stddef.h>

typedef struct ClassificationMetrics
{
	double		accuracy;
	double		precision;		/* binary: of class 1; multiclass: macro */
	double		recall;
	double		f1;
	double		roc_auc;		/* binary only */
	double		log_loss;
} ClassificationMetrics;

typedef struct RegressionMetrics
{
	double		rmse;
	double		mae;
	double		r2;
} RegressionMetrics;

extern int	EvalClassification(const float *labels, const float *prob, long n,
							   int nclasses, ClassificationMetrics *out,
							   char *err, size_t errlen);
extern int	EvalRegression(const float *labels, const float *pred, long n,
						   RegressionMetrics *out, char *err, size_t errlen);
extern double EvalRocAuc(const float *labels, const float *score, long n,
						 char *err, size_t errlen);

#endif							/* MLOPS_EVALMETRICS_H */
