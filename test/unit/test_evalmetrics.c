/* unit-sources: src/common/evalmetrics.c src/common/metrics.c */
/*
 * test_evalmetrics.c
 *		Unit tests of src/common/evalmetrics.c (over src/common/metrics.c) on cases small
 *		enough to check by hand.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/evalmetrics.h"

static int	ntests = 0;
static int	nfailed = 0;

/* Check prints one TAP line comparing got with want. */
static void
Check(const char *what, double got, double want)
{
	int			ok = (isnan(want) && isnan(got)) || fabs(got - want) < 1e-9;

	ntests++;
	if (!ok)
		nfailed++;
	printf("%s %d - %s (got %.12g, want %.12g)\n", ok ? "ok" : "not ok", ntests, what, got, want);
}

/* Contains prints one TAP line checking that text contains want. */
static void
Contains(const char *what, const char *text, const char *want)
{
	int			ok = strstr(text, want) != NULL;

	ntests++;
	if (!ok)
		nfailed++;
	printf("%s %d - %s (got \"%s\")\n", ok ? "ok" : "not ok", ntests, what, text);
}

/* CompareForQsort adapts ScoredLabelCompare to qsort. */
static int
CompareForQsort(const void *a, const void *b)
{
	return ScoredLabelCompare(a, b, NULL);
}

/* main runs every case and exits non-zero on a failure. */
int
main(void)
{
	char		err[256];
	HeldOutClassification cm;
	RegressionMetrics rm;

	{
		/* the classic ROC example: one positive ranked below one negative */
		float		y[] = {0, 0, 1, 1};
		float		p[] = {0.1f, 0.4f, 0.35f, 0.8f};

		Check("binary returns 0", EvalClassification(y, p, 4, 2, &cm, err, sizeof(err)), 0);
		Check("binary roc_auc", cm.roc_auc, 0.75);
		Check("binary accuracy", cm.accuracy, 0.75);
		Check("binary precision", cm.precision, 1.0);
		Check("binary recall", cm.recall, 0.5);
		Check("binary f1", cm.f1, 2.0 / 3.0);
		Check("binary log_loss", cm.log_loss,
			  -(log(1 - (double) 0.1f) + log(1 - (double) 0.4f) +
				log((double) 0.35f) + log((double) 0.8f)) / 4);
	}
	{
		float		y[] = {0, 1, 0, 1};
		float		p[] = {0.5f, 0.5f, 0.5f, 0.5f};

		Check("tied scores give auc 0.5", EvalRocAuc(y, p, 4, err, sizeof(err)), 0.5);
	}
	{
		float		y[] = {1, 1};
		float		p[] = {0.2f, 0.7f};

		Check("one class gives auc NaN", EvalRocAuc(y, p, 2, err, sizeof(err)), NAN);
	}
	{
		/* argmax classes 0, 2, 2, 2 against truth 0, 1, 2, 2 */
		float		y[] = {0, 1, 2, 2};
		float		p[] = {0.7f, 0.2f, 0.1f,
			0.1f, 0.3f, 0.6f,
			0.2f, 0.2f, 0.6f,
		0.1f, 0.1f, 0.8f};

		Check("multiclass returns 0", EvalClassification(y, p, 4, 3, &cm, err, sizeof(err)), 0);
		Check("multiclass accuracy", cm.accuracy, 0.75);
		Check("multiclass macro precision", cm.precision, (1.0 + 0.0 + 2.0 / 3.0) / 3.0);
		Check("multiclass macro recall", cm.recall, (1.0 + 0.0 + 1.0) / 3.0);
		Check("multiclass macro f1", cm.f1, (1.0 + 0.0 + 0.8) / 3.0);
		Check("multiclass roc_auc not applicable", cm.roc_auc, NAN);
	}
	{
		/* class 2 occurs in neither column: it still counts 0 in the macro average */
		float		y[] = {0, 0, 1, 1};
		float		p[] = {0.8f, 0.1f, 0.1f,
			0.6f, 0.3f, 0.1f,
			0.2f, 0.7f, 0.1f,
		0.3f, 0.5f, 0.2f};

		Check("absent class returns 0", EvalClassification(y, p, 4, 3, &cm, err, sizeof(err)), 0);
		Check("absent class counts in macro precision", cm.precision, 2.0 / 3.0);
		Check("absent class counts in macro f1", cm.f1, 2.0 / 3.0);
	}
	{
		float		y[] = {0, 1};
		float		p[2 * (EVAL_MAX_CLASSES + 1)] = {0};

		Check("too many classes is an error",
			  EvalClassification(y, p, 2, EVAL_MAX_CLASSES + 1, &cm, err, sizeof(err)), -1);
	}
	{
		float		y[] = {0, 5};
		float		p[] = {0.5f, 0.5f};

		Check("bad class code is an error", EvalClassification(y, p, 2, 2, &cm, err, sizeof(err)), -1);
	}
	{
		float		y[] = {1, 2, 3};
		float		p[] = {1, 2, 4};

		Check("regression returns 0", EvalRegression(y, p, 3, &rm, err, sizeof(err)), 0);
		Check("regression rmse", rm.rmse, sqrt(1.0 / 3.0));
		Check("regression mae", rm.mae, 1.0 / 3.0);
		Check("regression r2", rm.r2, 0.5);
	}
	{
		float		y[] = {2, 2};
		float		p[] = {2, 3};

		EvalRegression(y, p, 2, &rm, err, sizeof(err));
		Check("constant labels give r2 0 for an imperfect fit", rm.r2, 0.0);
	}
	{
		/* one held-out row: r2_score is nan (fewer than two samples) */
		float		y[] = {2};
		float		p[] = {2};

		Check("one row returns 0", EvalRegression(y, p, 1, &rm, err, sizeof(err)), 0);
		Check("one row gives r2 NaN, as scikit-learn", rm.r2, NAN);
		Check("one row still has an rmse", rm.rmse, 0.0);
	}
	{
		float		y[] = {1, 2};
		float		p[] = {1, INFINITY};

		Check("a non-finite regression prediction is an error",
			  EvalRegression(y, p, 2, &rm, err, sizeof(err)), -1);
		Contains("the error names the row", err, "prediction inf of row 1 is not a finite number");
	}
	{
		/* a model that predicts NaN: an error, never a metric (nor a hang) */
		float		y[] = {0, 1, 0, 1};
		float		p[] = {0.2f, NAN, 0.3f, 0.9f};

		Check("a NaN probability is an error", EvalClassification(y, p, 4, 2, &cm, err, sizeof(err)), -1);
		Contains("the error names the row", err, "prediction nan of row 1 is not a finite number");
		Check("EvalRocAuc of a NaN score is NaN", EvalRocAuc(y, p, 4, err, sizeof(err)), NAN);
		Contains("with a message", err, "of row 1 is not a finite number");
	}
	{
		float		y[] = {0, 1, 2};
		float		p[] = {0.2f, 0.3f, 0.5f, 0.1f, NAN, 0.2f, 0.3f, 0.3f, 0.4f};

		Check("a NaN multiclass probability is an error",
			  EvalClassification(y, p, 3, 3, &cm, err, sizeof(err)), -1);
		Contains("the error names row and class", err, "of row 1, class 1, is not a finite number");
	}
	{
		/* chunk by chunk equals one call */
		float		y[] = {0, 0, 1, 1, 0, 1, 1};
		float		p[] = {0.1f, 0.4f, 0.35f, 0.8f, 0.6f, 0.7f, 0.2f};
		HeldOutClassification whole;
		EvalClassAcc e;
		ClassificationMetrics scratch;
		ScoredLabel items[7];
		RegressionAcc acc;
		RegressionMetrics rwhole;

		EvalClassification(y, p, 7, 2, &whole, err, sizeof(err));
		Check("chunks: init", EvalClassInit(&e, 2, err, sizeof(err)), 0);
		Check("chunks: first chunk", EvalClassAdd(&e, y, p, 0, 3, err, sizeof(err)), 0);
		Check("chunks: second chunk", EvalClassAdd(&e, y, p, 3, 7, err, sizeof(err)), 0);
		Check("chunks: finish", EvalClassFinish(&e, &cm, &scratch, err, sizeof(err)), 0);
		Check("chunks: same f1", cm.f1, whole.f1);
		Check("chunks: same log_loss", cm.log_loss, whole.log_loss);
		Check("chunks: scored labels", EvalScoredLabels(y, p, 0, 4, items, err, sizeof(err)) +
			  EvalScoredLabels(y, p, 4, 7, items, err, sizeof(err)), 0);
		qsort(items, 7, sizeof(ScoredLabel), CompareForQsort);
		Check("chunks: same roc_auc", RocAucSorted(items, 7), whole.roc_auc);
		RegressionAccInit(&acc);
		EvalRegression(y, p, 7, &rwhole, err, sizeof(err));
		Check("chunks: regression", EvalRegressionAdd(&acc, y, p, 0, 2, err, sizeof(err)) +
			  EvalRegressionAdd(&acc, y, p, 2, 7, err, sizeof(err)), 0);
		RegressionAccFinish(&acc, &rm, err, sizeof(err));
		Check("chunks: same rmse", rm.rmse, rwhole.rmse);
	}
	printf("1..%d\n", ntests);
	return nfailed > 0 ? 1 : 0;
}
