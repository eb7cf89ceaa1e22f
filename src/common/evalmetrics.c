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
 *   are normalised to sum to 1 first;
 * - a prediction that is not a finite number is an error, never a metric:
 *   a model that predicts NaN cannot be scored.
 *
 * Interrupts.  This module knows nothing of PostgreSQL, so it never checks
 * for interrupts itself: the caller feeds the rows in chunks
 * (EvalClassAdd, EvalRegressionAdd, EvalScoredLabels over [from, to)) and
 * checks between them, sorts the scored labels with an interruptible sort
 * and computes the area with RocAucSorted.  Nothing here allocates, so a
 * caller that leaves by longjmp between two chunks leaks nothing.
 * EvalClassification, EvalRocAuc and EvalRegression do the whole array in
 * one call, for callers (and tests) with small arrays.
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
 * EvalClassInit starts the classification metrics of a model with nclasses
 * classes, declaring every class code.
 */
int
EvalClassInit(EvalClassAcc *e, int nclasses, char *err, size_t errlen)
{
	e->nclasses = nclasses;
	e->n = 0;
	e->loss = 0;
	if (nclasses < 2)
	{
		snprintf(err, errlen, "need at least two classes");
		return -1;
	}
	if (nclasses > EVAL_MAX_CLASSES)
	{
		snprintf(err, errlen, "more than %d classes", EVAL_MAX_CLASSES);
		return -1;
	}
	ClassificationAccInit(&e->acc);
	/* the pairs are labels, not scores: roc_auc comes from the probabilities */
	e->acc.auc_possible = false;
	for (int c = 0; c < nclasses; c++)
		if (!ClassificationAccDeclareClass(&e->acc, (double) c, err, errlen))
			return -1;
	return 0;
}

/*
 * EvalClassAdd adds rows from..to-1: labels hold class codes
 * 0..nclasses-1; prob holds, for two classes, the probability of class 1
 * per row, otherwise nclasses probabilities per row (the whole arrays are
 * passed, indexed from row 0).  A probability that is not a finite number
 * is an error.
 */
int
EvalClassAdd(EvalClassAcc *e, const float *labels, const float *prob, long from, long to,
			 char *err, size_t errlen)
{
	int			k = e->nclasses;

	for (long i = from; i < to; i++)
	{
		int			truth = (int) labels[i];
		int			guess;
		double		p_truth;

		if (!(labels[i] >= 0 && labels[i] < k))
		{
			snprintf(err, errlen, "label %g of row %ld is not a class code", (double) labels[i], i);
			return -1;
		}
		if (k == 2)
		{
			if (!isfinite(prob[i]))
			{
				snprintf(err, errlen, "prediction %g of row %ld is not a finite number",
						 (double) prob[i], i);
				return -1;
			}
			guess = prob[i] > 0.5f ? 1 : 0;
			p_truth = truth == 1 ? prob[i] : 1.0 - prob[i];
		}
		else
		{
			const float *row = prob + (size_t) i * k;
			double		sum = 0;

			guess = 0;
			for (int c = 0; c < k; c++)
			{
				if (!isfinite(row[c]))
				{
					snprintf(err, errlen, "prediction %g of row %ld, class %d, is not a finite number",
							 (double) row[c], i, c);
					return -1;
				}
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
		e->loss -= log(p_truth);
		e->n++;
		if (!ClassificationAccAdd(&e->acc, (double) guess, (double) truth, err, errlen))
			return -1;
	}
	return 0;
}

/*
 * EvalClassFinish computes accuracy, precision, recall, f1 and log_loss of
 * the rows added, using scratch (which the caller allocates: it is large);
 * roc_auc is left NaN (EvalScoredLabels and RocAucSorted compute it).
 */
int
EvalClassFinish(EvalClassAcc *e, HeldOutClassification *out, ClassificationMetrics *scratch,
				char *err, size_t errlen)
{
	if (e->n <= 0)
	{
		snprintf(err, errlen, "need at least one row");
		return -1;
	}
	if (!ClassificationAccFinish(&e->acc, scratch, err, errlen))
		return -1;
	out->accuracy = scratch->accuracy;
	out->precision = scratch->precision;
	out->recall = scratch->recall;
	out->f1 = scratch->f1_score;
	out->log_loss = e->loss / e->n;
	out->roc_auc = NAN;
	return 0;
}

/*
 * EvalScoredLabels fills items[from..to-1] with the score of each row and
 * whether its label is class 1 (binary labels 0/1), ready for sorting with
 * ScoredLabelCompare and RocAucSorted.  A score that is not a finite number
 * is an error.
 */
int
EvalScoredLabels(const float *labels, const float *score, long from, long to,
				 ScoredLabel *items, char *err, size_t errlen)
{
	for (long k = from; k < to; k++)
	{
		if (!isfinite(score[k]))
		{
			snprintf(err, errlen, "prediction %g of row %ld is not a finite number",
					 (double) score[k], k);
			return -1;
		}
		items[k].score = score[k];
		items[k].positive = labels[k] > 0.5f;
	}
	return 0;
}

/*
 * EvalClassification computes the classification metrics of n rows in one
 * call (see EvalClassAdd for the layout); roc_auc when binary.
 */
int
EvalClassification(const float *labels, const float *prob, long n, int nclasses,
				   HeldOutClassification *out, char *err, size_t errlen)
{
	EvalClassAcc *e = malloc(sizeof(EvalClassAcc));
	ClassificationMetrics *cm = malloc(sizeof(ClassificationMetrics));
	int			rc = -1;

	if (e == NULL || cm == NULL)
		snprintf(err, errlen, "out of memory");
	else if (n <= 0)
		snprintf(err, errlen, "need at least one row and two classes");
	else if (EvalClassInit(e, nclasses, err, errlen) == 0 &&
			 EvalClassAdd(e, labels, prob, 0, n, err, errlen) == 0 &&
			 EvalClassFinish(e, out, cm, err, errlen) == 0)
	{
		rc = 0;
		if (nclasses == 2)
		{
			out->roc_auc = EvalRocAuc(labels, prob, n, err, errlen);
			if (isnan(out->roc_auc) && err[0] != '\0')
				rc = -1;
		}
	}
	if (e != NULL)
		ClassificationAccFree(&e->acc);
	free(e);
	free(cm);
	return rc;
}

/*
 * EvalRocAuc returns the area under the ROC curve of scores for binary
 * labels (0/1), NaN when one class is absent; NaN with a message in err
 * when a score is not finite or memory runs out (err is emptied first).
 */
double
EvalRocAuc(const float *labels, const float *score, long n, char *err, size_t errlen)
{
	ScoredLabel *items = malloc(sizeof(ScoredLabel) * (n > 0 ? n : 1));
	double		auc = NAN;

	if (errlen > 0)
		err[0] = '\0';
	if (items == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NAN;
	}
	if (EvalScoredLabels(labels, score, 0, n, items, err, errlen) == 0)
		auc = RocAuc(items, (size_t) (n > 0 ? n : 0));
	free(items);
	return auc;
}

/*
 * EvalRegressionAdd adds predictions from..to-1 to a regression
 * accumulator; a prediction or label that is not a finite number is an
 * error.
 */
int
EvalRegressionAdd(RegressionAcc *acc, const float *labels, const float *pred, long from, long to,
				  char *err, size_t errlen)
{
	for (long i = from; i < to; i++)
	{
		if (!isfinite(pred[i]))
		{
			snprintf(err, errlen, "prediction %g of row %ld is not a finite number",
					 (double) pred[i], i);
			return -1;
		}
		if (!RegressionAccAdd(acc, (double) pred[i], (double) labels[i], err, errlen))
			return -1;
	}
	return 0;
}

/*
 * EvalRegression computes rmse, mae and r2 (and mse, mape) of n predictions
 * in one call; a non-finite prediction is an error.
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
	if (EvalRegressionAdd(&acc, labels, pred, 0, n, err, errlen) != 0)
		return -1;
	if (!RegressionAccFinish(&acc, out, err, errlen))
		return -1;
	return 0;
}
