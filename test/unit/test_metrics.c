/* unit-sources: src/common/metrics.c */
/*
 * test_metrics.c
 *	  Unit tests of the one-pass performance metrics (src/common/metrics.c).  The
 *	  expected numbers were computed with scikit-learn 1.2 (accuracy_score,
 *	  precision/recall/f1_score, confusion_matrix, roc_auc_score,
 *	  mean_absolute_error, mean_squared_error, r2_score,
 *	  mean_absolute_percentage_error) on the same arrays; the calls are
 *	  quoted beside each case.  test/oracle/test_monitoring.py compares the
 *	  SQL functions with scikit-learn live on random data.  Prints TAP.
 */
#include "common/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	test_count = 0;
static int	failures = 0;

/* Ok prints one TAP line. */
static void
Ok(int pass, const char *what)
{
	test_count++;
	if (!pass)
		failures++;
	printf("%s %d - %s\n", pass ? "ok" : "not ok", test_count, what);
}

/* Near checks got against want within 1e-12 (relative to want's size). */
static void
Near(double got, double want, const char *what)
{
	int			pass = fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want));

	if (!pass)
		printf("# %s: got %.17g, want %.17g\n", what, got, want);
	Ok(pass, what);
}

/* CompareForQsort adapts ScoredLabelCompare to qsort. */
static int
CompareForQsort(const void *a, const void *b)
{
	return ScoredLabelCompare(a, b, NULL);
}

/* Classify runs n pairs through a fresh accumulator into *m. */
static bool
Classify(const double *pred, const double *actual, int n, ClassificationMetrics *m,
		 char *err, size_t errlen)
{
	ClassificationAcc *acc = malloc(sizeof(ClassificationAcc));
	bool		ok = true;

	ClassificationAccInit(acc);
	for (int i = 0; i < n && ok; i++)
		ok = ClassificationAccAdd(acc, pred[i], actual[i], err, errlen);
	if (ok)
		ok = ClassificationAccFinish(acc, m, err, errlen);
	ClassificationAccFree(acc);
	free(acc);
	return ok;
}

/* Regress runs n pairs through a fresh accumulator into *m. */
static bool
Regress(const double *pred, const double *actual, int n, RegressionMetrics *m,
		char *err, size_t errlen)
{
	RegressionAcc acc;
	bool		ok = true;

	RegressionAccInit(&acc);
	for (int i = 0; i < n && ok; i++)
		ok = RegressionAccAdd(&acc, pred[i], actual[i], err, errlen);
	return ok && RegressionAccFinish(&acc, m, err, errlen);
}

/* main runs every case and prints the TAP plan last. */
int
main(void)
{
	static ClassificationMetrics m;
	RegressionMetrics r;
	char		err[256];

	/* binary labels: yt, yp below */
	{
		double		yt[] = {0, 1, 1, 0, 1, 1, 0, 0, 1, 1};
		double		yp[] = {0, 1, 0, 0, 1, 1, 1, 0, 1, 0};

		Ok(Classify(yp, yt, 10, &m, err, sizeof(err)), "binary labels accumulate");
		Ok(m.binary && m.n == 10 && m.nclasses == 2, "binary problem recognised");
		Near(m.accuracy, 0.7, "binary accuracy_score");
		Near(m.precision, 0.8, "binary precision_score");
		Near(m.recall, 0.6666666666666666, "binary recall_score");
		Near(m.f1_score, 0.7272727272727272, "binary f1_score");
		/* confusion_matrix(yt, yp).ravel() = [3 1 2 4] = tn fp fn tp */
		Ok(m.tn == 3 && m.fp == 1 && m.fn == 2 && m.tp == 4, "binary confusion counts");
		Ok(m.confusion[0][1] == 1 && m.confusion[1][0] == 2, "confusion rows are actual labels");
		Ok(!m.has_roc_auc && m.roc_auc_note && strstr(m.roc_auc_note, "labels"),
		   "no roc_auc without scores");
	}

	/* binary scores with ties: labels are score >= 0.5 */
	{
		double		yt[] = {0, 1, 1, 0, 1, 1, 0, 0, 1, 1};
		double		sc[] = {0.1, 0.9, 0.4, 0.4, 0.8, 0.7, 0.6, 0.2, 0.6, 0.5};

		Ok(Classify(sc, yt, 10, &m, err, sizeof(err)), "scores accumulate");
		Near(m.accuracy, 0.8, "scores accuracy_score(yt, sc >= 0.5)");
		Near(m.precision, 0.8333333333333334, "scores precision_score");
		Near(m.recall, 0.8333333333333334, "scores recall_score");
		Near(m.f1_score, 0.8333333333333334, "scores f1_score");
		Ok(m.has_roc_auc, "roc_auc present with scores");
		Near(m.roc_auc, 0.875, "roc_auc_score(yt, sc) with ties");
	}

	/* scores but a single actual class: no roc_auc, said why */
	{
		double		yt[] = {1, 1, 1};
		double		sc[] = {0.2, 0.7, 0.9};

		Ok(Classify(sc, yt, 3, &m, err, sizeof(err)) && !m.has_roc_auc &&
		   strstr(m.roc_auc_note, "both classes") != NULL, "roc_auc needs both classes");
		Near(m.precision, 1.0, "precision with one class");
		Near(m.recall, 2.0 / 3.0, "recall with one class");
	}

	/* only class 0 anywhere: every ratio of class 1 has a zero denominator */
	{
		double		yt[] = {0, 0};

		Ok(Classify(yt, yt, 2, &m, err, sizeof(err)) && m.binary, "all-zero window");
		Near(m.precision, 0.0, "precision_score([0,0],[0,0], zero_division=0)");
		Near(m.f1_score, 0.0, "f1_score([0,0],[0,0], zero_division=0)");
		Near(m.accuracy, 1.0, "accuracy of all-zero window");
	}

	/* multiclass: macro averages */
	{
		double		yt[] = {0, 1, 2, 2, 1, 0, 2, 1, 3, 0};
		double		yp[] = {0, 2, 2, 1, 1, 0, 2, 0, 3, 3};

		Ok(Classify(yp, yt, 10, &m, err, sizeof(err)) && !m.binary && m.nclasses == 4,
		   "multiclass recognised");
		Near(m.accuracy, 0.6, "multiclass accuracy_score");
		Near(m.precision, 0.5833333333333333, "precision_score(average='macro')");
		Near(m.recall, 0.6666666666666666, "recall_score(average='macro')");
		Near(m.f1_score, 0.6, "f1_score(average='macro')");
	}

	/* labels 1, 2 and a predicted-only 5, first seen out of order */
	{
		double		yt[] = {1, 2, 2, 1, 2};
		double		yp[] = {1, 1, 2, 2, 5};

		Ok(Classify(yp, yt, 5, &m, err, sizeof(err)) && !m.binary && m.nclasses == 3 &&
		   m.classes[0] == 1 && m.classes[1] == 2 && m.classes[2] == 5, "labels sorted ascending");
		Ok(m.confusion[1][2] == 1 && m.confusion[1][0] == 1 && m.confusion[0][1] == 1,
		   "confusion follows the sorted labels");
		Near(m.precision, 0.3333333333333333, "macro precision with a predicted-only label");
		Near(m.recall, 0.27777777777777773, "macro recall with a predicted-only label");
		Near(m.f1_score, 0.3, "macro f1 with a predicted-only label");
	}

	/* classification errors */
	{
		double		p1[] = {NAN}, a1[] = {1};
		double		p2[] = {1.5}, a2[] = {1};
		double		p3[] = {1}, a3[] = {0.5};
		double		p4[] = {0.3}, a4[] = {2};

		Ok(!Classify(p1, a1, 1, &m, err, sizeof(err)) && strstr(err, "finite"), "NaN prediction rejected");
		Ok(!Classify(p2, a2, 1, &m, err, sizeof(err)) && strstr(err, "neither a class label"),
		   "1.5 is neither label nor probability");
		Ok(!Classify(p3, a3, 1, &m, err, sizeof(err)) && strstr(err, "not a class label"),
		   "fractional actual rejected");
		Ok(Classify(p4, a4, 1, &m, err, sizeof(err)) && !m.has_roc_auc &&
		   strstr(m.roc_auc_note, "actual labels 0 and 1"), "score with actual 2: no roc_auc");
		Ok(!Classify(p1, a1, 0, &m, err, sizeof(err)) && strstr(err, "no labelled"), "empty window rejected");
	}
	{
		double		labels[METRICS_MAX_CLASSES + 1];

		for (int i = 0; i <= METRICS_MAX_CLASSES; i++)
			labels[i] = i;
		Ok(Classify(labels, labels, METRICS_MAX_CLASSES, &m, err, sizeof(err)) &&
		   m.nclasses == METRICS_MAX_CLASSES, "maximum number of classes accepted");
		Ok(!Classify(labels, labels, METRICS_MAX_CLASSES + 1, &m, err, sizeof(err)) &&
		   strstr(err, "more than 64"), "one class too many rejected");
	}

	/* MetricsCheckPair alone: an actual may be absent (labels arrive later) */
	{
		double		two = 2, half = 0.5, nan = NAN;

		Ok(MetricsCheckPair(true, 0.7, NULL, err, sizeof(err)), "a score without actual is fine");
		Ok(MetricsCheckPair(true, 3, &two, err, sizeof(err)), "labels 3 and 2 are fine");
		Ok(!MetricsCheckPair(true, 0.5, &half, err, sizeof(err)) && strstr(err, "not a class label"),
		   "a fractional actual is not a label");
		Ok(!MetricsCheckPair(true, -0.5, NULL, err, sizeof(err)) && strstr(err, "neither"),
		   "-0.5 is neither label nor probability");
		Ok(MetricsCheckPair(false, -0.5, &half, err, sizeof(err)), "any finite pair is a regression pair");
		Ok(!MetricsCheckPair(false, 1, &nan, err, sizeof(err)) && strstr(err, "actual value must be a finite"),
		   "NaN actual rejected");
	}

	/* RocAuc directly: perfect, inverted, all tied */
	{
		ScoredLabel p[] = {{0.9, true}, {0.1, false}, {0.8, true}, {0.2, false}};
		ScoredLabel q[] = {{0.9, false}, {0.1, true}};
		ScoredLabel t[] = {{0.5, false}, {0.5, true}, {0.5, true}};

		Near(RocAuc(p, 4), 1.0, "perfect ranking has auc 1");
		Near(RocAuc(q, 2), 0.0, "inverted ranking has auc 0");
		Near(RocAuc(t, 3), 0.5, "all ties have auc 0.5");
		Ok(isnan(RocAuc(t + 1, 2)), "one class gives NaN");
	}

	/*
	 * NaN scores (a model that diverged): RocAuc used to spin forever on
	 * them, since NaN equals nothing, not even itself.  It returns NaN now,
	 * whatever their position, and RocAucSorted ends on any input.
	 */
	{
		ScoredLabel a[] = {{NAN, true}, {0.1, false}, {0.8, true}};
		ScoredLabel b[] = {{0.2, false}, {NAN, false}, {NAN, true}, {0.9, true}};
		ScoredLabel c[] = {{NAN, true}, {NAN, false}};
		ScoredLabel s[] = {{0.9, true}, {NAN, false}, {0.1, false}, {0.4, true}, {NAN, true}};

		Ok(isnan(RocAuc(a, 3)), "a NaN score first gives NaN");
		Ok(isnan(RocAuc(b, 4)), "NaN scores in the middle give NaN");
		Ok(isnan(RocAuc(c, 2)), "only NaN scores give NaN");
		Ok(isnan(RocAucSorted(c, 2)), "RocAucSorted ends on NaN scores");
		qsort(s, 5, sizeof(ScoredLabel), CompareForQsort);
		Ok(s[0].score == 0.1 && s[1].score == 0.4 && s[2].score == 0.9 &&
		   isnan(s[3].score) && isnan(s[4].score), "ScoredLabelCompare sorts NaN last");
	}
	/* RocAucSorted over sorted pairs equals RocAuc; ties count half */
	{
		ScoredLabel p[] = {{0.1, false}, {0.35, true}, {0.4, false}, {0.8, true}};
		ScoredLabel t[] = {{0.2, false}, {0.5, false}, {0.5, true}, {0.7, true}};

		/* roc_auc_score([0, 1, 0, 1], [0.1, 0.35, 0.4, 0.8]) = 0.75 */
		Near(RocAucSorted(p, 4), 0.75, "RocAucSorted on sorted pairs");
		/* roc_auc_score([0, 0, 1, 1], [0.2, 0.5, 0.5, 0.7]) = 0.875 */
		Near(RocAucSorted(t, 4), 0.875, "RocAucSorted counts a tie as half");
	}

	/* regression */
	{
		double		y[] = {3, -0.5, 2, 7, 1.5};
		double		p[] = {2.5, 0.0, 2, 8, 0.3};

		Ok(Regress(p, y, 5, &r, err, sizeof(err)) && r.n == 5, "regression accumulates");
		Near(r.mae, 0.64, "mean_absolute_error");
		Near(r.mse, 0.588, "mean_squared_error");
		Near(r.rmse, 0.7668115805072325, "mean_squared_error(squared=False)");
		Near(r.r2, 0.9042345276872964, "r2_score");
		Near(r.mape, 0.4219047619047619, "mean_absolute_percentage_error");
	}
	{
		double		y[] = {2, 2, 2};
		double		p1[] = {2, 2, 2};
		double		p2[] = {2, 2, 3};
		double		y0[] = {0, 1};
		double		p0[] = {0.5, 1};

		Ok(Regress(p1, y, 3, &r, err, sizeof(err)) && r.r2 == 1.0, "r2_score of a perfect constant is 1");
		Ok(Regress(p2, y, 3, &r, err, sizeof(err)) && r.r2 == 0.0, "r2_score of a constant target is 0");
		Near(Regress(p0, y0, 2, &r, err, sizeof(err)) ? r.mape : -1, 1125899906842624.0,
			 "mape divides by DBL_EPSILON at zero");
		Ok(!Regress(p0, y0, 0, &r, err, sizeof(err)) && strstr(err, "no labelled"), "empty regression window");
		/* r2_score([1.0], [1.0]) and r2_score([1.0], [0.5]) are nan (fewer than two samples) */
		Ok(Regress(p1, y, 1, &r, err, sizeof(err)) && isnan(r.r2) && r.mae == 0.0,
		   "r2_score of one perfect pair is NaN, the other metrics defined");
		Ok(Regress(p0, y0, 1, &r, err, sizeof(err)) && isnan(r.r2) && r.mae == 0.5,
		   "r2_score of one pair is NaN");
		Ok(Regress(p0, y0, 2, &r, err, sizeof(err)) && fabs(r.r2 - 0.5) < 1e-12,
		   "r2_score of two pairs is defined");
		p0[0] = INFINITY;
		Ok(!Regress(p0, y0, 1, &r, err, sizeof(err)) && strstr(err, "finite"), "infinite prediction rejected");
	}

	/* one pass on many rows stays accurate (Welford): y = 1e9 + i, p = y + 1 */
	{
		RegressionAcc acc;

		RegressionAccInit(&acc);
		for (int i = 0; i < 100000; i++)
			RegressionAccAdd(&acc, 1e9 + (i % 10) + 1, 1e9 + (i % 10), err, sizeof(err));
		RegressionAccFinish(&acc, &r, err, sizeof(err));
		/* var of 0..9 is 8.25, so r2 = 1 - 1/8.25 */
		Ok(fabs(r.r2 - (1.0 - 1.0 / 8.25)) < 1e-9, "r2 stable with a large offset");
	}

	printf("1..%d\n", test_count);
	return failures == 0 ? 0 : 1;
}
