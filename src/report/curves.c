/*-------------------------------------------------------------------------
 *
 * curves.c
 *	  The curves of the model report, computed from predictions exactly as
 *	  scikit-learn 1.2 computes them: ROC (roc_curve with
 *	  drop_intermediate=True), precision-recall (precision_recall_curve),
 *	  the trapezoidal area (auc) and average precision.
 *
 * Both curves start from _binary_clf_curve: the scores sorted in
 * decreasing order, one point per distinct score (ties are one threshold),
 * tps = positives at or above it, fps = negatives at or above it.  The
 * ROC curve keeps only its corners (second differences of fps or tps not
 * zero) and starts at (0, 0) with threshold max + 1; the PR curve is
 * reversed so recall decreases and ends at (recall 0, precision 1).
 * Memory: one array of (score, label) pairs and the distinct points, in
 * the current memory context; interrupts are checked in every loop.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "report/report.h"

typedef struct ScorePair
{
	double		score;
	bool		positive;
} ScorePair;

/* ClfPoints holds _binary_clf_curve's output */
typedef struct ClfPoints
{
	int64		n;
	double	   *fps;
	double	   *tps;
	double	   *thresholds;
} ClfPoints;

static void BinaryClfCurve(const double *score, const bool *positive, int64 n, ClfPoints *out);
static int	ComparePairDesc(const void *a, const void *b);

/*
 * ComparePairDesc orders pairs by decreasing score.
 */
static int
ComparePairDesc(const void *a, const void *b)
{
	double		x = ((const ScorePair *) a)->score;
	double		y = ((const ScorePair *) b)->score;

	if (x > y)
		return -1;
	if (x < y)
		return 1;
	return 0;
}

/*
 * BinaryClfCurve computes, per distinct score in decreasing order, the
 * positives and negatives scoring at least that much.
 */
static void
BinaryClfCurve(const double *score, const bool *positive, int64 n, ClfPoints *out)
{
	ScorePair  *pairs;
	double		tp = 0;
	int64		k = 0;

	pairs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ScorePair) * Max(n, 1));
	for (int64 i = 0; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		pairs[i].score = score[i];
		pairs[i].positive = positive[i];
	}
	qsort(pairs, n, sizeof(ScorePair), ComparePairDesc);

	out->fps = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(n, 1));
	out->tps = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(n, 1));
	out->thresholds = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(n, 1));
	for (int64 i = 0; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (pairs[i].positive)
			tp += 1;
		/* the last index of each run of equal scores is a threshold */
		if (i == n - 1 || pairs[i + 1].score != pairs[i].score)
		{
			out->tps[k] = tp;
			out->fps[k] = (double) (i + 1) - tp;
			out->thresholds[k] = pairs[i].score;
			k++;
		}
	}
	out->n = k;
	pfree(pairs);
}

/*
 * ReportRocCurve computes roc_curve(y, score, drop_intermediate=True):
 * out->x the false positive rates, out->y the true positive rates (NaN
 * when a class is absent, as scikit-learn), out->thresholds.
 */
void
ReportRocCurve(const double *score, const bool *positive, int64 n, ReportCurve *out)
{
	ClfPoints	c;
	int64		k = 0;
	double		fmax,
				tmax;

	BinaryClfCurve(score, positive, n, &c);
	out->x = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * (c.n + 1));
	out->y = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * (c.n + 1));
	out->thresholds = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * (c.n + 1));
	if (c.n == 0)
	{
		out->n = 0;
		return;
	}
	fmax = c.fps[c.n - 1];
	tmax = c.tps[c.n - 1];
	out->x[0] = 0;
	out->y[0] = 0;
	out->thresholds[0] = c.thresholds[0] + 1;
	k = 1;
	for (int64 i = 0; i < c.n; i++)
	{
		bool		keep = true;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		/* a point between two collinear neighbours is dropped */
		if (c.n > 2 && i > 0 && i < c.n - 1)
			keep = (c.fps[i + 1] - 2 * c.fps[i] + c.fps[i - 1]) != 0 ||
				(c.tps[i + 1] - 2 * c.tps[i] + c.tps[i - 1]) != 0;
		if (!keep)
			continue;
		out->x[k] = c.fps[i];
		out->y[k] = c.tps[i];
		out->thresholds[k] = c.thresholds[i];
		k++;
	}
	out->n = (int) k;
	for (int64 i = 0; i < k; i++)
	{
		out->x[i] = fmax > 0 ? out->x[i] / fmax : NAN;
		out->y[i] = tmax > 0 ? out->y[i] / tmax : NAN;
	}
}

/*
 * ReportPrCurve computes precision_recall_curve(y, score): out->x the
 * recalls (decreasing, ending at 0), out->y the precisions (ending at 1)
 * and out->thresholds (one fewer, increasing).
 */
void
ReportPrCurve(const double *score, const bool *positive, int64 n, ReportCurve *out)
{
	ClfPoints	c;
	double		tmax;

	BinaryClfCurve(score, positive, n, &c);
	out->x = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * (c.n + 1));
	out->y = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * (c.n + 1));
	out->thresholds = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * (c.n + 1));
	if (c.n == 0)
	{
		out->n = 0;
		return;
	}
	tmax = c.tps[c.n - 1];
	for (int64 i = 0; i < c.n; i++)
	{
		int64		j = c.n - 1 - i;	/* reversed */
		double		ps = c.tps[j] + c.fps[j];

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		out->y[i] = ps != 0 ? c.tps[j] / ps : 0;
		out->x[i] = tmax == 0 ? 1.0 : c.tps[j] / tmax;
		out->thresholds[i] = c.thresholds[j];
	}
	out->y[c.n] = 1;
	out->x[c.n] = 0;
	out->n = (int) (c.n + 1);
}

/*
 * ReportTrapezoid returns the area under y(x) by the trapezoidal rule, as
 * sklearn.metrics.auc (x monotonic, either direction; the area is positive
 * for a decreasing x too).
 */
double
ReportTrapezoid(const double *x, const double *y, int n)
{
	double		area = 0;
	bool		decreasing = n > 1 && x[n - 1] < x[0];

	for (int i = 1; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2.0;
	}
	return decreasing ? -area : area;
}

/*
 * ReportAveragePrecision returns average_precision_score from a PR curve:
 * -sum(diff(recall) * precision[:-1]).
 */
double
ReportAveragePrecision(const ReportCurve *pr)
{
	double		ap = 0;

	for (int i = 0; i + 1 < pr->n; i++)
		ap -= (pr->x[i + 1] - pr->x[i]) * pr->y[i];
	return ap;
}
