/*-------------------------------------------------------------------------
 *
 * stats_chi2.c
 *	  Pure C: Pearson's chi-square test of a 2 x k table of category counts
 *	  (scipy.stats.chi2_contingency, with Yates' correction when dof = 1)
 *	  and the regularized incomplete gamma functions P and Q its p-value
 *	  needs (series below a + 1, Legendre's continued fraction above).
 *	  See stats.c for the module's conventions.
 *
 *-------------------------------------------------------------------------
 */
#include "drift/stats.h"
#include "drift/stats_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

static double GammaSeriesP(double a, double x);
static double GammaFractionQ(double a, double x);

/* ------------------------------------------------------------------------
 * Chi-square and the incomplete gamma function
 * ------------------------------------------------------------------------
 */

/*
 * StatsChiSquare2xK runs Pearson's chi-square test of independence on the
 * 2 x k table whose rows are ref_counts and cur_counts, as
 * scipy.stats.chi2_contingency (Yates' correction when dof = 1, statistic
 * 0 and p-value 1 when dof = 0). Returns 0, or -1 with a message in err
 * when an expected frequency is zero.
 */
int
StatsChiSquare2xK(const double *ref_counts, const double *cur_counts, int k,
				  double *statistic, double *p_value, int *dof,
				  char *err, size_t errlen)
{
	double		r0 = 0.0,
				r1 = 0.0,
				total,
				stat = 0.0;
	int			df;

	if (k < 1)
	{
		snprintf(err, errlen, "the table has no categories");
		return -1;
	}
	for (int i = 0; i < k; i++)
	{
		StatsPoll((size_t) i);
		r0 += ref_counts[i];
		r1 += cur_counts[i];
	}
	total = r0 + r1;
	for (int i = 0; i < k; i++)
	{
		double		col = ref_counts[i] + cur_counts[i];

		StatsPoll((size_t) i);
		if (r0 * col / total == 0.0 || r1 * col / total == 0.0)
		{
			snprintf(err, errlen, "the table of expected frequencies has a zero in category %d", i + 1);
			return -1;
		}
	}
	df = (2 - 1) * (k - 1);
	*dof = df;
	if (df == 0)
	{
		*statistic = 0.0;
		*p_value = 1.0;
		return 0;
	}
	for (int i = 0; i < k; i++)
	{
		double		col = ref_counts[i] + cur_counts[i];

		StatsPoll((size_t) i);
		for (int r = 0; r < 2; r++)
		{
			double		obs = r == 0 ? ref_counts[i] : cur_counts[i];
			double		expct = (r == 0 ? r0 : r1) * col / total;

			if (df == 1)
			{
				double		diff = expct - obs;
				double		mag = fmin(0.5, fabs(diff));

				obs += (diff > 0) ? mag : (diff < 0 ? -mag : 0.0);
			}
			stat += (obs - expct) * (obs - expct) / expct;
		}
	}
	*statistic = stat;
	*p_value = StatsChi2Sf(stat, (double) df);
	return 0;
}

/*
 * StatsChi2Sf returns the survival function of the chi-square distribution
 * with dof degrees of freedom at x: Q(dof/2, x/2).
 */
double
StatsChi2Sf(double x, double dof)
{
	if (isnan(x) || !(dof > 0))
		return NAN;
	if (x <= 0.0)
		return 1.0;
	return StatsGammaQ(dof / 2.0, x / 2.0);
}

/*
 * StatsGammaP returns the regularized lower incomplete gamma function
 * P(a, x) = gamma(a, x) / Gamma(a) for a > 0, x >= 0.
 */
double
StatsGammaP(double a, double x)
{
	if (!(a > 0) || !(x >= 0))
		return NAN;
	if (x == 0)
		return 0.0;
	if (isinf(x))
		return 1.0;
	if (x < a + 1.0)
		return GammaSeriesP(a, x);
	return 1.0 - GammaFractionQ(a, x);
}

/*
 * StatsGammaQ returns the regularized upper incomplete gamma function
 * Q(a, x) = 1 - P(a, x), computed directly where it is small so that tiny
 * p-values keep their relative precision.
 */
double
StatsGammaQ(double a, double x)
{
	if (!(a > 0) || !(x >= 0))
		return NAN;
	if (x == 0)
		return 1.0;
	if (isinf(x))
		return 0.0;
	if (x < a + 1.0)
		return 1.0 - GammaSeriesP(a, x);
	return GammaFractionQ(a, x);
}

/*
 * GammaSeriesP sums P(a, x) = x^a e^-x / Gamma(a+1) sum_n x^n / ((a+1)..(a+n)),
 * which converges quickly for x < a + 1.
 */
static double
GammaSeriesP(double a, double x)
{
	double		lead = a * log(x) - x - lgamma(a + 1.0);
	double		term = 1.0,
				sum = 1.0,
				ap = a;

	for (int i = 0; i < 100000; i++)
	{
		ap += 1.0;
		term *= x / ap;
		sum += term;
		if (term < sum * DBL_EPSILON / 4)
			break;
	}
	return Clip01(sum * exp(lead));
}

/*
 * GammaFractionQ evaluates Q(a, x) by Legendre's continued fraction with
 * the modified Lentz method, which converges quickly for x >= a + 1.
 */
static double
GammaFractionQ(double a, double x)
{
	const double tiny = 1e-300;
	double		lead = a * log(x) - x - lgamma(a);
	double		b = x + 1.0 - a;
	double		c = 1.0 / tiny;
	double		d = 1.0 / b;
	double		hcf = d;

	for (int i = 1; i < 100000; i++)
	{
		double		an = -i * (i - a);
		double		del;

		b += 2.0;
		d = an * d + b;
		if (fabs(d) < tiny)
			d = tiny;
		c = b + an / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		del = d * c;
		hcf *= del;
		if (fabs(del - 1.0) < DBL_EPSILON)
			break;
	}
	return Clip01(exp(lead) * hcf);
}
