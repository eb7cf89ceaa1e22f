/* unit-sources: src/common/evalmetrics.c src/common/metrics.c */
/*
 * test_evalmetrics.c
 *		Unit tests of src/common/evalmetrics.c (over src/common/metrics.c) on cases small
 *		enough to check by hand.
 */
#include <math.h>
#include <stdio.h>

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

/* main runs every case and exits non-zero on a failure. */
int
main(void)
{
	char		err[256];
	HeldOutClassification cm;
	RegressionMetrics rm;

	printf("1..26\n");
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

		EvalRegression(y, p, 2, &rm, err, sizeof(err));
		Check("a non-finite prediction gives rmse NaN", rm.rmse, NAN);
	}
	return nfailed > 0 ? 1 : 0;
}
