/*
 * metrics.c
 *	  One-pass model performance metrics over (prediction, actual) pairs.
 *
 * The monitoring code reads a model's labelled predictions once, feeding
 * each pair to an accumulator, and asks for the metrics at the end.  All
 * definitions are scikit-learn's (1.2), the oracle of the tests:
 *
 * Classification.  Labels are integral values.  A prediction strictly
 * between 0 and 1 is a score (the probability of class 1) and stands for
 * label 1 when it is at least 0.5.  The confusion matrix is kept as counts
 * per (actual, predicted) label, at most METRICS_MAX_CLASSES labels, so the
 * pass needs no sorting.  When every label is 0 or 1 the problem is binary
 * and precision, recall and F1 are those of class 1 (average='binary');
 * otherwise they are macro averages over every label seen in either column
 * or declared beforehand (average='macro', and labels= when declared).  A ratio with a zero denominator is 0, as scikit-learn's
 * zero_division default.  ROC AUC needs scores: it is computed when some
 * prediction was a score, every prediction lies in [0, 1], every actual is 0
 * or 1 and both occur; the pairs are kept for it (16 bytes each) and sorted
 * once at the end, ties counting half (the Mann-Whitney statistic).  A NaN
 * score makes the area NaN: it sorts last and every group of ties advances
 * by at least one pair, so no score can stall the loop (NaN equals nothing,
 * not even itself).
 *
 * Regression.  MAE, MSE and RMSE from running sums; R² = 1 - SS_res/SS_tot
 * with SS_tot from Welford's running variance of the actual values (stable
 * in one pass), 1 when both are 0 and 0 when only SS_tot is (scikit-learn's
 * force_finite), NaN with fewer than two pairs (scikit-learn: not
 * well-defined with less than two samples); MAPE = mean(|y - ŷ| / max(|y|, DBL_EPSILON)) as a fraction.
 *
 * Errors (non-finite values, a prediction that is neither a label nor a
 * probability, too many classes) come back as false with a lower-case
 * message in the caller's buffer.
 */
#include "common/metrics.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	ClassIndex(ClassificationAcc *acc, double label, char *errbuf, size_t errlen);
static int	CompareScores(const void *a, const void *b);
static int	CompareDoubles(const void *a, const void *b);

/*
 * MetricsCheckPair checks one prediction and, when actual is not NULL, its
 * actual value: both finite; for classification the actual an integral
 * label and the prediction a label or a probability between 0 and 1.
 */
bool
MetricsCheckPair(bool classification, double prediction, const double *actual,
				 char *errbuf, size_t errlen)
{
	if (!isfinite(prediction))
	{
		snprintf(errbuf, errlen, "prediction must be a finite number, found %g", prediction);
		return false;
	}
	if (actual && !isfinite(*actual))
	{
		snprintf(errbuf, errlen, "actual value must be a finite number, found %g", *actual);
		return false;
	}
	if (!classification)
		return true;
	if (actual && *actual != floor(*actual))
	{
		snprintf(errbuf, errlen, "actual value %g is not a class label (an integral number)", *actual);
		return false;
	}
	if (prediction != floor(prediction) && (prediction < 0.0 || prediction > 1.0))
	{
		snprintf(errbuf, errlen,
				 "prediction %g is neither a class label (an integral number) nor a probability between 0 and 1",
				 prediction);
		return false;
	}
	return true;
}

/*
 * ClassificationAccInit empties an accumulator.
 */
void
ClassificationAccInit(ClassificationAcc *acc)
{
	memset(acc, 0, sizeof(*acc));
	acc->auc_possible = true;
}

/*
 * ClassificationAccFree releases the score array of an accumulator.
 */
void
ClassificationAccFree(ClassificationAcc *acc)
{
	free(acc->scores);
	acc->scores = NULL;
	acc->nscores = acc->capscores = 0;
}

/*
 * ClassificationAccAdd adds one labelled prediction.
 */
bool
ClassificationAccAdd(ClassificationAcc *acc, double prediction, double actual,
					 char *errbuf, size_t errlen)
{
	double		predicted_label = prediction;
	int			a,
				p;

	if (!MetricsCheckPair(true, prediction, &actual, errbuf, errlen))
		return false;
	if (prediction != floor(prediction))
	{
		acc->has_scores = true;
		predicted_label = (prediction >= 0.5) ? 1.0 : 0.0;
	}

	a = ClassIndex(acc, actual, errbuf, errlen);
	if (a < 0)
		return false;
	p = ClassIndex(acc, predicted_label, errbuf, errlen);
	if (p < 0)
		return false;
	acc->confusion[a][p]++;
	acc->n++;

	if (acc->auc_possible)
	{
		if (prediction < 0.0 || prediction > 1.0 || (actual != 0.0 && actual != 1.0))
		{
			acc->auc_possible = false;
			ClassificationAccFree(acc);
		}
		else
		{
			if (acc->nscores == acc->capscores)
			{
				size_t		cap = acc->capscores ? 2 * acc->capscores : 1024;
				ScoredLabel *grown = realloc(acc->scores, cap * sizeof(ScoredLabel));

				if (grown == NULL)
				{
					snprintf(errbuf, errlen, "out of memory keeping %zu scores", cap);
					return false;
				}
				acc->scores = grown;
				acc->capscores = cap;
			}
			acc->scores[acc->nscores].score = prediction;
			acc->scores[acc->nscores].positive = (actual == 1.0);
			acc->nscores++;
		}
	}
	return true;
}

/*
 * ClassificationAccDeclareClass makes a label one of the accumulator's
 * classes before any pair carries it, so that macro averages count it even
 * when it never occurs (scikit-learn's labels argument).
 */
bool
ClassificationAccDeclareClass(ClassificationAcc *acc, double label,
							  char *errbuf, size_t errlen)
{
	if (!isfinite(label) || label != floor(label))
	{
		snprintf(errbuf, errlen, "class label %g is not an integral number", label);
		return false;
	}
	return ClassIndex(acc, label, errbuf, errlen) >= 0;
}

/*
 * ClassIndex returns the accumulator's index of a label, adding it when new.
 */
static int
ClassIndex(ClassificationAcc *acc, double label, char *errbuf, size_t errlen)
{
	for (int i = 0; i < acc->nclasses; i++)
		if (acc->classes[i] == label)
			return i;
	if (acc->nclasses == METRICS_MAX_CLASSES)
	{
		snprintf(errbuf, errlen, "more than %d distinct class labels", METRICS_MAX_CLASSES);
		return -1;
	}
	acc->classes[acc->nclasses] = label;
	return acc->nclasses++;
}

/*
 * Ratio divides, giving 0 for a zero denominator (scikit-learn's zero_division).
 */
static double
Ratio(double num, double den)
{
	return den == 0.0 ? 0.0 : num / den;
}

/*
 * ClassificationAccFinish computes the metrics of everything added.
 */
bool
ClassificationAccFinish(ClassificationAcc *acc, ClassificationMetrics *out,
						char *errbuf, size_t errlen)
{
	int			order[METRICS_MAX_CLASSES];
	int64_t		correct = 0;
	int			k = acc->nclasses;

	memset(out, 0, sizeof(*out));
	out->n = acc->n;
	out->roc_auc_note = NULL;
	if (acc->n == 0)
	{
		snprintf(errbuf, errlen, "no labelled predictions");
		return false;
	}

	/* labels ascending, as scikit-learn orders them */
	memcpy(out->classes, acc->classes, k * sizeof(double));
	qsort(out->classes, k, sizeof(double), CompareDoubles);
	for (int i = 0; i < k; i++)
		for (int j = 0; j < k; j++)
			if (acc->classes[j] == out->classes[i])
				order[i] = j;
	out->nclasses = k;
	out->binary = true;
	for (int i = 0; i < k; i++)
	{
		if (out->classes[i] != 0.0 && out->classes[i] != 1.0)
			out->binary = false;
		for (int j = 0; j < k; j++)
			out->confusion[i][j] = acc->confusion[order[i]][order[j]];
		correct += out->confusion[i][i];
	}
	out->accuracy = (double) correct / (double) acc->n;

	if (out->binary)
	{
		int			pos = -1,
					neg = -1;

		for (int i = 0; i < k; i++)
		{
			if (out->classes[i] == 1.0)
				pos = i;
			else
				neg = i;
		}
		out->tp = pos >= 0 ? out->confusion[pos][pos] : 0;
		out->fp = (pos >= 0 && neg >= 0) ? out->confusion[neg][pos] : 0;
		out->fn = (pos >= 0 && neg >= 0) ? out->confusion[pos][neg] : 0;
		out->tn = neg >= 0 ? out->confusion[neg][neg] : 0;
		out->precision = Ratio(out->tp, out->tp + out->fp);
		out->recall = Ratio(out->tp, out->tp + out->fn);
		out->f1_score = Ratio(2.0 * out->tp, 2.0 * out->tp + out->fp + out->fn);
	}
	else
	{
		for (int c = 0; c < k; c++)
		{
			int64_t		tp = out->confusion[c][c];
			int64_t		predicted = 0,
						actual = 0;

			for (int j = 0; j < k; j++)
			{
				predicted += out->confusion[j][c];
				actual += out->confusion[c][j];
			}
			out->precision += Ratio(tp, predicted);
			out->recall += Ratio(tp, actual);
			out->f1_score += Ratio(2.0 * tp, predicted + actual);
		}
		out->precision /= k;
		out->recall /= k;
		out->f1_score /= k;
	}

	if (!acc->has_scores)
		out->roc_auc_note = "predictions are labels, not scores";
	else if (!acc->auc_possible)
		out->roc_auc_note = "roc_auc needs scores in [0, 1] and actual labels 0 and 1";
	else
	{
		out->roc_auc = RocAuc(acc->scores, acc->nscores);
		if (isnan(out->roc_auc))
			out->roc_auc_note = "roc_auc needs both classes among the actual labels";
		else
			out->has_roc_auc = true;
	}
	return true;
}

/*
 * RocAuc computes the ROC AUC of scored labels, sorting them in place; see
 * metrics.h.
 */
double
RocAuc(ScoredLabel *pairs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isnan(pairs[i].score))
			return NAN;
	qsort(pairs, n, sizeof(ScoredLabel), CompareScores);
	return RocAucSorted(pairs, n);
}

/*
 * RocAucSorted computes the ROC AUC of scored labels already sorted by
 * score (ScoredLabelCompare); see metrics.h.  Every group of tied scores
 * is consumed in one step of at least one pair, so the loop ends whatever
 * the scores (a NaN, which equals nothing, makes a group of one).
 */
double
RocAucSorted(const ScoredLabel *pairs, size_t n)
{
	double		npos = 0,
				rank_sum = 0;
	size_t		i = 0;

	while (i < n)
	{
		size_t		j = i + 1;
		double		pos_in_group = pairs[i].positive;
		double		mean_rank;

		if (isnan(pairs[i].score))
			return NAN;
		while (j < n && pairs[j].score == pairs[i].score)
		{
			pos_in_group += pairs[j].positive;
			j++;
		}
		/* ranks i+1 .. j share their mean */
		mean_rank = ((double) (i + 1) + (double) j) / 2.0;
		rank_sum += mean_rank * pos_in_group;
		npos += pos_in_group;
		i = j;
	}
	if (npos == 0 || npos == (double) n)
		return NAN;
	return (rank_sum - npos * (npos + 1) / 2.0) / (npos * ((double) n - npos));
}

/*
 * ScoredLabelCompare orders scored labels by score, NaN last (a total
 * order, as sorting needs); its third argument is unused, so it serves as
 * a qsort_arg comparator.
 */
int
ScoredLabelCompare(const void *a, const void *b, void *arg)
{
	(void) arg;
	return CompareScores(a, b);
}

/* CompareScores orders scored labels by score, NaN last. */
static int
CompareScores(const void *a, const void *b)
{
	return CompareDoubles(&((const ScoredLabel *) a)->score, &((const ScoredLabel *) b)->score);
}

/* CompareDoubles orders doubles ascending, NaN after every number. */
static int
CompareDoubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	if (isnan(x) || isnan(y))
		return (int) isnan(x) - (int) isnan(y);
	return (x > y) - (x < y);
}

/*
 * RegressionAccInit empties an accumulator.
 */
void
RegressionAccInit(RegressionAcc *acc)
{
	memset(acc, 0, sizeof(*acc));
}

/*
 * RegressionAccAdd adds one labelled prediction.
 */
bool
RegressionAccAdd(RegressionAcc *acc, double prediction, double actual,
				 char *errbuf, size_t errlen)
{
	double		error = actual - prediction;
	double		delta;

	if (!MetricsCheckPair(false, prediction, &actual, errbuf, errlen))
		return false;
	acc->n++;
	acc->sum_abs_error += fabs(error);
	acc->sum_sq_error += error * error;
	acc->sum_abs_pct_error += fabs(error) / fmax(fabs(actual), DBL_EPSILON);
	delta = actual - acc->mean_actual;
	acc->mean_actual += delta / (double) acc->n;
	acc->m2_actual += delta * (actual - acc->mean_actual);
	return true;
}

/*
 * RegressionAccFinish computes the metrics of everything added.
 */
bool
RegressionAccFinish(const RegressionAcc *acc, RegressionMetrics *out,
					char *errbuf, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->n = acc->n;
	if (acc->n == 0)
	{
		snprintf(errbuf, errlen, "no labelled predictions");
		return false;
	}
	out->mae = acc->sum_abs_error / (double) acc->n;
	out->mse = acc->sum_sq_error / (double) acc->n;
	out->rmse = sqrt(out->mse);
	out->mape = acc->sum_abs_pct_error / (double) acc->n;
	if (acc->n < 2)
		out->r2 = NAN;			/* undefined, as scikit-learn says */
	else if (acc->m2_actual != 0.0)
		out->r2 = 1.0 - acc->sum_sq_error / acc->m2_actual;
	else
		out->r2 = (acc->sum_sq_error == 0.0) ? 1.0 : 0.0;
	return true;
}
