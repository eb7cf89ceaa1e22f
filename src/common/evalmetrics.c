/*
 * evalmetrics.c
 *		Held-out evaluation metrics of a trained model (pure C).
 *
 * Training holds its held-out rows as float32 arrays: class codes
 * 0..nclasses-1 and, per row, the probability of class 1 (binary) or one
 * probability per class.  This file only turns them into (predicted label,
 * actual label) pairs for the one-pass accumulators of metrics.c, which
 * monitoring uses too, so both compute accuracy, precision, recall, f1,
 * ROC AUC, rmse, mae and r2 the same way.  What is training's own:
 *
 * - the predicted class is the most probable one (binary: probability of
 *   class 1 above 0.5, as the Python xgboost package's predict);
 * - every class code 0..nclasses-1 is declared to the accumulator before
 *   the rows, so macro averages count classes absent from the held-out rows
 *   (scikit-learn's labels=range(k)), a class never predicted counting 0;
 * - roc_auc (binary) ranks the probabilities themselves, through RocAuc;
 * - log_loss clips probabilities to [eps, 1 - eps] with eps the double
 *   epsilon, like scikit-learn 1.2 does for float64 input; multiclass rows
 *   are normalised to sum to 1 first.
 *
 * metrics.c keeps at most METRICS_MAX_CLASSES (EVAL_MAX_CLASSES) labels;
 * more classes are an error here, which train.c reports before training.
 * Errors are return codes (-1) with a message in the caller's buffer.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/evalmetrics.h"

/*
 * EvalClassification computes the classification metrics of n rows.
 * labels hold class codes 0..nclasses-1; prob holds, for nclasses == 2, the
 * probability of class 1 per row, otherwise nclasses probabilities per row.
 */
int
EvalClassification(const float *labels, const float *prob, long n, int nclasses,
				   HeldOutClassification *out, char *err, size_t errlen)
{
	ClassificationAcc acc;
	ClassificationMetrics *cm;
	double		loss = 0;
	int			rc = -1;

	if (n <= 0 || nclasses < 2)
	{
		snprintf(err, errlen, "need at least one row and two classes");
		return -1;
	}
	if (nclasses > EVAL_MAX_CLASSES)
	{
		snprintf(err, errlen, "more than %d classes", EVAL_MAX_CLASSES);
		return -1;
	}
	cm = malloc(sizeof(ClassificationMetrics));
	if (cm == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ClassificationAccInit(&acc);
	/* the pairs are labels, not scores: roc_auc comes from the probabilities */
	acc.auc_possible = false;
	for (int c = 0; c < nclasses; c++)
		if (!ClassificationAccDeclareClass(&acc, (double) c, err, errlen))
			goto done;

	for (long i = 0; i < n; i++)
	{
		int			truth = (int) labels[i];
		int			guess;
		double		p_truth;

		if (truth < 0 || truth >= nclasses)
		{
			snprintf(err, errlen, "label %d of row %ld is not a class code", truth, i);
			goto done;
		}
		if (nclasses == 2)
		{
			guess = prob[i] > 0.5f ? 1 : 0;
			p_truth = truth == 1 ? prob[i] : 1.0 - prob[i];
		}
		else
		{
			const float *row = prob + (size_t) i * nclasses;
			double		sum = 0;

			guess = 0;
			for (int c = 0; c < nclasses; c++)
			{
				sum += row[c];
				if (row[c] > row[guess])
					guess = c;
			}
			p_truth = sum > 0 ? row[truth] / sum : 0;
		}
		if (p_truth < DBL_EPSILON)
			p_truth = DBL_EPSILON;
		if (p_truth > 1 - DBL_EPSILON)
			p_truth = 1 - DBL_EPSILON;
		loss -= log(p_truth);
		if (!ClassificationAccAdd(&acc, (double) guess, (double) truth, err, errlen))
			goto done;
	}
	if (!ClassificationAccFinish(&acc, cm, err, errlen))
		goto done;

	out->accuracy = cm->accuracy;
	out->precision = cm->precision;
	out->recall = cm->recall;
	out->f1 = cm->f1_score;
	out->log_loss = loss / n;
	out->roc_auc = NAN;
	if (nclasses == 2)
		out->roc_auc = EvalRocAuc(labels, prob, n, err, errlen);
	rc = 0;

done:
	ClassificationAccFree(&acc);
	free(cm);
	return rc;
}

/*
 * EvalRocAuc returns the area under the ROC curve of scores for binary
 * labels (0/1), NaN when one class is absent or on allocation failure.
 */
double
EvalRocAuc(const float *labels, const float *score, long n, char *err, size_t errlen)
{
	ScoredLabel *items = malloc(sizeof(ScoredLabel) * (n > 0 ? n : 1));
	double		auc;

	if (items == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NAN;
	}
	for (long k = 0; k < n; k++)
	{
		items[k].score = score[k];
		items[k].positive = labels[k] > 0.5f;
	}
	auc = RocAuc(items, (size_t) (n > 0 ? n : 0));
	free(items);
	return auc;
}

/*
 * EvalRegression computes rmse, mae and r2 (and mse, mape) of n predictions.
 * A non-finite prediction or label makes every metric NaN (training logs
 * them as null) rather than an error.
 */
int
EvalRegression(const float *labels, const float *pred, long n,
			   RegressionMetrics *out, char *err, size_t errlen)
{
	RegressionAcc acc;

	if (n <= 0)
	{
		snprintf(err, errlen, "need at least one row");
		return -1;
	}
	RegressionAccInit(&acc);
	for (long i = 0; i < n; i++)
	{
		if (!isfinite(pred[i]) || !isfinite(labels[i]))
		{
			out->n = n;
			out->mae = out->mse = out->rmse = out->r2 = out->mape = NAN;
			return 0;
		}
		if (!RegressionAccAdd(&acc, (double) pred[i], (double) labels[i], err, errlen))
			return -1;
	}
	if (!RegressionAccFinish(&acc, out, err, errlen))
		return -1;
	return 0;
}
