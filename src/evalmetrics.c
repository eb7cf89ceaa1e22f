/*
 * evalmetrics.c
 *		Held-out evaluation metrics of a trained model (pure C).
 *
 * Definitions follow scikit-learn, the oracle of the tests:
 * - classification: the predicted class is the most probable one (binary:
 *   probability of class 1 above 0.5); precision, recall and f1 are those of
 *   class 1 for a binary task and the unweighted mean over classes (macro)
 *   for a multiclass one, a class never predicted counting 0 precision;
 *   roc_auc (binary) is the Mann-Whitney statistic with tied scores sharing
 *   their mean rank; log_loss clips probabilities to [eps, 1 - eps] with eps
 *   the double epsilon, like sklearn 1.2 does for float64 input.
 * - regression: rmse, mae and r2 (1 - SSres/SStot; when every label is the
 *   same, 1 for a perfect fit and 0 otherwise, like sklearn).
 *
 * Errors are return codes (-1) with a message in the caller's buffer.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "evalmetrics.h"

/* A score and its label, sorted for the AUC */
typedef struct ScoredLabel
{
	float		score;
	int			positive;
} ScoredLabel;

static int	CompareScores(const void *a, const void *b);

/*
 * EvalClassification computes the classification metrics of n rows.
 * labels hold class codes 0..nclasses-1; prob holds, for nclasses == 2, the
 * probability of class 1 per row, otherwise nclasses probabilities per row.
 */
int
EvalClassification(const float *labels, const float *prob, long n, int nclasses,
				   ClassificationMetrics *out, char *err, size_t errlen)
{
	long	   *tp;
	long	   *fp;
	long	   *fn;
	long		correct = 0;
	double		loss = 0;
	int			nmeasured = 0;

	if (n <= 0 || nclasses < 2)
	{
		snprintf(err, errlen, "need at least one row and two classes");
		return -1;
	}
	tp = calloc(nclasses, sizeof(long));
	fp = calloc(nclasses, sizeof(long));
	fn = calloc(nclasses, sizeof(long));
	if (tp == NULL || fp == NULL || fn == NULL)
	{
		free(tp);
		free(fp);
		free(fn);
		snprintf(err, errlen, "out of memory");
		return -1;
	}

	for (long i = 0; i < n; i++)
	{
		int			truth = (int) labels[i];
		int			guess;
		double		p_truth;

		if (truth < 0 || truth >= nclasses)
		{
			free(tp);
			free(fp);
			free(fn);
			snprintf(err, errlen, "label %d of row %ld is not a class code", truth, i);
			return -1;
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
		if (guess == truth)
		{
			correct++;
			tp[truth]++;
		}
		else
		{
			fp[guess]++;
			fn[truth]++;
		}
	}

	out->accuracy = (double) correct / n;
	out->log_loss = loss / n;
	out->precision = out->recall = out->f1 = 0;
	for (int c = (nclasses == 2 ? 1 : 0); c < nclasses; c++)
	{
		double		precision = tp[c] + fp[c] > 0 ? (double) tp[c] / (tp[c] + fp[c]) : 0;
		double		recall = tp[c] + fn[c] > 0 ? (double) tp[c] / (tp[c] + fn[c]) : 0;

		out->precision += precision;
		out->recall += recall;
		out->f1 += precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
		nmeasured++;
	}
	out->precision /= nmeasured;
	out->recall /= nmeasured;
	out->f1 /= nmeasured;
	free(tp);
	free(fp);
	free(fn);

	out->roc_auc = NAN;
	if (nclasses == 2)
		out->roc_auc = EvalRocAuc(labels, prob, n, err, errlen);
	return 0;
}

/*
 * EvalRocAuc returns the area under the ROC curve of scores for binary
 * labels (0/1), NaN when one class is absent or on allocation failure.
 */
double
EvalRocAuc(const float *labels, const float *score, long n, char *err, size_t errlen)
{
	ScoredLabel *items = malloc(sizeof(ScoredLabel) * (n > 0 ? n : 1));
	double		rank_sum = 0;
	long		npos = 0;
	long		i = 0;

	if (items == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NAN;
	}
	for (long k = 0; k < n; k++)
	{
		items[k].score = score[k];
		items[k].positive = labels[k] > 0.5f;
		npos += items[k].positive;
	}
	if (npos == 0 || npos == n)
	{
		free(items);
		return NAN;
	}
	qsort(items, n, sizeof(ScoredLabel), CompareScores);
	while (i < n)
	{
		long		j = i;
		long		pos_in_tie = 0;

		while (j < n && items[j].score == items[i].score)
			pos_in_tie += items[j++].positive;
		/* ranks i+1 .. j share their mean */
		rank_sum += pos_in_tie * ((double) (i + 1) + (double) j) / 2.0;
		i = j;
	}
	free(items);
	return (rank_sum - (double) npos * (npos + 1) / 2.0) / ((double) npos * (n - npos));
}

/* CompareScores orders scored labels by ascending score. */
static int
CompareScores(const void *a, const void *b)
{
	float		sa = ((const ScoredLabel *) a)->score;
	float		sb = ((const ScoredLabel *) b)->score;

	return (sa > sb) - (sa < sb);
}

/* EvalRegression computes rmse, mae and r2 of n predictions. */
int
EvalRegression(const float *labels, const float *pred, long n,
			   RegressionMetrics *out, char *err, size_t errlen)
{
	double		mean = 0;
	double		ss_res = 0;
	double		ss_tot = 0;
	double		abs_sum = 0;

	if (n <= 0)
	{
		snprintf(err, errlen, "need at least one row");
		return -1;
	}
	for (long i = 0; i < n; i++)
		mean += labels[i];
	mean /= n;
	for (long i = 0; i < n; i++)
	{
		double		e = (double) labels[i] - (double) pred[i];
		double		d = (double) labels[i] - mean;

		ss_res += e * e;
		abs_sum += fabs(e);
		ss_tot += d * d;
	}
	out->rmse = sqrt(ss_res / n);
	out->mae = abs_sum / n;
	if (ss_tot > 0)
		out->r2 = 1 - ss_res / ss_tot;
	else
		out->r2 = ss_res == 0 ? 1.0 : 0.0;
	return 0;
}
