/*-------------------------------------------------------------------------
 *
 * stats_adwin.c
 *	  Pure C: the ADWIN change detector, as River's ADWIN (Bifet & Gavalda's
 *	  exponential histogram with clock 32, 5 buckets per row, sub-windows of
 *	  at least 5, a grace period of 10, every bucket of a row considered as a
 *	  cut point, the detector reset on the update after a detection).
 *
 * The whole state is a StatsAdwin (stats.h): plain data with no pointers,
 * so adwin_sql.c can store it as bytes.  See stats.c for the module's
 * conventions.
 *
 *-------------------------------------------------------------------------
 */
#include "drift/stats.h"
#include "drift/stats_int.h"

#include <math.h>
#include <string.h>

static void AdwinInsert(StatsAdwin *a, double value);
static void AdwinCompress(StatsAdwin *a);
static double AdwinDeleteOldest(StatsAdwin *a);
static bool AdwinDetect(StatsAdwin *a);
static bool AdwinCut(const StatsAdwin *a, double n0, double n1,
					 double delta_mean);

/* ------------------------------------------------------------------------
 * ADWIN
 * ------------------------------------------------------------------------
 */

/*
 * StatsAdwinInit resets a to an empty detector with confidence delta,
 * keeping nothing of a's previous contents.
 */
void
StatsAdwinInit(StatsAdwin *a, double delta)
{
	memset(a, 0, sizeof(*a));
	a->format = STATS_ADWIN_FORMAT;
	a->delta = delta;
	a->nrows = 1;
}

/*
 * StatsAdwinUpdate feeds one value to the detector and returns true when
 * it detects a change. As River's ADWIN, the update that follows a
 * detection first resets the window (the life-time counters survive).
 */
bool
StatsAdwinUpdate(StatsAdwin *a, double value)
{
	if (a->drift_detected)
	{
		int64_t		updates = a->updates;
		int64_t		detections = a->detections;

		StatsAdwinInit(a, a->delta);
		a->updates = updates;
		a->detections = detections;
	}
	AdwinInsert(a, value);
	a->drift_detected = AdwinDetect(a);
	a->updates++;
	if (a->drift_detected)
		a->detections++;
	return a->drift_detected;
}

/*
 * StatsAdwinMean returns the mean of the current window (0 when empty).
 */
double
StatsAdwinMean(const StatsAdwin *a)
{
	return a->width > 0 ? a->total / a->width : 0.0;
}

/*
 * AdwinInsert adds value as a new bucket of size 1 and updates the
 * window's width, total and variance (sum of squared deviations).
 */
static void
AdwinInsert(StatsAdwin *a, double value)
{
	double		inc = 0.0;

	a->bucket_total[0][a->count[0]] = value;
	a->bucket_variance[0][a->count[0]] = 0.0;
	a->count[0]++;
	a->width += 1;
	if (a->width > 1.0)
	{
		double		dev = value - a->total / (a->width - 1.0);

		inc = (a->width - 1.0) * dev * dev / a->width;
	}
	a->variance += inc;
	a->total += value;
	AdwinCompress(a);
}

/*
 * RowRemoveFront drops the oldest n buckets of row r.
 */
static void
RowRemoveFront(StatsAdwin *a, int r, int n)
{
	int			remaining = a->count[r] - n;

	if (remaining > 0)
	{
		memmove(a->bucket_total[r], a->bucket_total[r] + n, remaining * sizeof(double));
		memmove(a->bucket_variance[r], a->bucket_variance[r] + n, remaining * sizeof(double));
	}
	for (int i = remaining < 0 ? 0 : remaining; i < a->count[r]; i++)
	{
		a->bucket_total[r][i] = 0.0;
		a->bucket_variance[r][i] = 0.0;
	}
	a->count[r] = remaining;
}

/*
 * AdwinCompress merges the two oldest buckets of every row that holds more
 * than STATS_ADWIN_MAX_BUCKETS into one bucket of the next row, cascading.
 */
static void
AdwinCompress(StatsAdwin *a)
{
	for (int idx = 0; idx < a->nrows; idx++)
	{
		double		n1,
					mu1,
					mu2,
					tot12,
					var12;
		int			next = idx + 1;

		if (a->count[idx] != STATS_ADWIN_MAX_BUCKETS + 1)
			break;
		if (next >= a->nrows)
		{
			if (next >= STATS_ADWIN_MAX_ROWS)
				break;			/* 2^64 values: cannot happen */
			a->count[next] = 0;
			a->nrows = next + 1;
		}
		n1 = ldexp(1.0, idx);
		mu1 = a->bucket_total[idx][0] / n1;
		mu2 = a->bucket_total[idx][1] / n1;
		tot12 = a->bucket_total[idx][0] + a->bucket_total[idx][1];
		var12 = a->bucket_variance[idx][0] + a->bucket_variance[idx][1] +
			n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2);
		a->bucket_total[next][a->count[next]] = tot12;
		a->bucket_variance[next][a->count[next]] = var12;
		a->count[next]++;
		RowRemoveFront(a, idx, 2);
		if (a->count[next] <= STATS_ADWIN_MAX_BUCKETS)
			break;
	}
}

/*
 * AdwinDeleteOldest drops the oldest bucket (first of the last row),
 * updates width, total and variance and returns the bucket's size.
 */
static double
AdwinDeleteOldest(StatsAdwin *a)
{
	int			r = a->nrows - 1;
	double		n = ldexp(1.0, r);
	double		u = a->bucket_total[r][0];
	double		mu = u / n;
	double		v = a->bucket_variance[r][0];
	double		muw;

	a->width -= n;
	a->total -= u;
	muw = a->total / a->width;
	a->variance -= v + n * a->width * (mu - muw) * (mu - muw) / (n + a->width);
	RowRemoveFront(a, r, 1);
	if (a->count[r] == 0 && a->nrows > 1)
		a->nrows--;
	return n;
}

/*
 * AdwinDetect runs the cut test every STATS_ADWIN_CLOCK updates once the
 * window is longer than the grace period: for each split of the window at
 * a bucket boundary, oldest first, it compares the sub-window means and,
 * on a significant difference, drops the oldest bucket and starts over.
 * Returns true when at least one bucket was dropped.
 */
static bool
AdwinDetect(StatsAdwin *a)
{
	bool		change = false;
	bool		reduce;

	a->tick++;
	if (!(a->tick % STATS_ADWIN_CLOCK == 0 && a->width > STATS_ADWIN_GRACE_PERIOD))
		return false;
	reduce = true;
	while (reduce)
	{
		double		n0 = 0.0,
					n1 = a->width,
					u0 = 0.0,
					u1 = a->total;
		bool		done = false;

		reduce = false;
		for (int idx = a->nrows - 1; idx >= 0 && !done; idx--)
		{
			double		size = ldexp(1.0, idx);
			int			cnt = a->count[idx];

			for (int k = 0; k < cnt; k++)
			{
				double		delta_mean;

				n0 += size;
				n1 -= size;
				u0 += a->bucket_total[idx][k];
				u1 -= a->bucket_total[idx][k];
				if (idx == 0 && k == cnt - 1)
				{
					done = true;
					break;
				}
				delta_mean = (u0 / n0) - (u1 / n1);
				if (n1 >= STATS_ADWIN_MIN_WINDOW_LENGTH &&
					n0 >= STATS_ADWIN_MIN_WINDOW_LENGTH &&
					AdwinCut(a, n0, n1, delta_mean))
				{
					reduce = true;
					change = true;
					if (a->width > 0)
					{
						n0 -= AdwinDeleteOldest(a);
						done = true;
						break;
					}
				}
			}
		}
	}
	return change;
}

/*
 * AdwinCut returns true when |delta_mean| exceeds ADWIN's epsilon_cut for
 * sub-windows of n0 and n1 values (Bernstein bound with the window's
 * variance).
 */
static bool
AdwinCut(const StatsAdwin *a, double n0, double n1, double delta_mean)
{
	double		delta_prime = log(2 * log(a->width) / a->delta);
	double		m_recip = (1.0 / (n0 - STATS_ADWIN_MIN_WINDOW_LENGTH + 1)) +
		(1.0 / (n1 - STATS_ADWIN_MIN_WINDOW_LENGTH + 1));
	double		epsilon = sqrt(2 * m_recip * (a->variance / a->width) * delta_prime) +
		2.0 / 3.0 * delta_prime * m_recip;

	return fabs(delta_mean) > epsilon;
}
