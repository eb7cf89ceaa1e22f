/*-------------------------------------------------------------------------
 *
 * distributions.c
 *	  Pure C: the regularized incomplete gamma functions P and Q (series
 *	  below a + 1, Legendre's continued fraction above) and the chi-square
 *	  survival function built on Q.  Drift's chi-square test of categories
 *	  and the A/B tests' sample-ratio-mismatch check both take their
 *	  p-values from here (scipy.stats.chi2.sf).  No PostgreSQL headers, no
 *	  allocation; the loops are bounded by their iteration limits.
 *
 *-------------------------------------------------------------------------
 */
#include "common/distributions.h"

#include <float.h>
#include <math.h>

static double GammaSeriesP(double a, double x);
static double GammaFractionQ(double a, double x);
static double Clip01(double p);

/*
 * MlopsChi2Sf returns the survival function of the chi-square distribution
 * with dof degrees of freedom at x: Q(dof/2, x/2); 1 for x <= 0, 0 for
 * x > 0 with dof = 0 (the point mass at zero), NaN for NaN or negative
 * arguments.
 */
double
MlopsChi2Sf(double x, double dof)
{
	if (isnan(x) || !(dof >= 0))
		return NAN;
	if (x <= 0.0)
		return 1.0;
	if (dof == 0.0)
		return 0.0;
	return MlopsGammaQ(dof / 2.0, x / 2.0);
}

/*
 * MlopsGammaP returns the regularized lower incomplete gamma function
 * P(a, x) = gamma(a, x) / Gamma(a) for a > 0, x >= 0.
 */
double
MlopsGammaP(double a, double x)
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
 * MlopsGammaQ returns the regularized upper incomplete gamma function
 * Q(a, x) = 1 - P(a, x), computed directly where it is small so that tiny
 * p-values keep their relative precision.
 */
double
MlopsGammaQ(double a, double x)
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

/*
 * Clip01 clamps a probability to [0, 1].
 */
static double
Clip01(double p)
{
	if (p < 0.0)
		return 0.0;
	if (p > 1.0)
		return 1.0;
	return p;
}
