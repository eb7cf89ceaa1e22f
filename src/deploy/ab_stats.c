/*-------------------------------------------------------------------------
 *
 * ab_stats.c
 *	  Pure C statistics of A/B tests: what mlops.ab_results and
 *	  mlops.ab_test_health compute, and how ab_assign turns a hash into a
 *	  variant.  No PostgreSQL headers, no allocation: every function works on
 *	  a few numbers or on arrays of at most AB_MAX_VARIANTS elements, so no
 *	  loop here runs over user data (the SQL layer aggregates the users).
 *
 * The numbers must equal the reference implementations users compare
 * against (test/oracle/test_ab_testing.py checks them within 1e-9):
 *
 *	- two-proportion z-test: statsmodels proportions_ztest(count, nobs) with
 *	  the pooled proportion, two-sided;
 *	- Wilson score interval: statsmodels proportion_confint(method='wilson'),
 *	  not clipped (it lies in [0, 1] anyway);
 *	- Welch's t-test: scipy.stats.ttest_ind(equal_var=False), two-sided,
 *	  from each group's size, mean and sample variance (ddof = 1); the
 *	  Student t tail is the regularized incomplete beta function
 *	  I_x(df/2, 1/2) with x = df / (df + t^2), evaluated by its continued
 *	  fraction (modified Lentz) on the side where it converges;
 *	- Holm's step-down adjustment: statsmodels multipletests(method='holm');
 *	- goodness of fit: scipy.stats.chisquare(observed, f_exp = weights *
 *	  total), statistic and dof here, the p-value from MlopsChi2Sf
 *	  (common/distributions.c) in the SQL layer.
 *
 * Undefined results (a group too small, a zero variance) come back as a
 * non-zero return code: the SQL layer shows them as NULL, never an error.
 *
 *-------------------------------------------------------------------------
 */
#include "deploy/ab_stats.h"

#include <float.h>
#include <math.h>

static double BetaFraction(double a, double b, double x);
static double LogGammaRatio(double a, double b);
static double StirlingCorrection(double x);

/*
 * AbNormalSf returns the standard normal survival function P(Z > z).
 */
double
AbNormalSf(double z)
{
	return 0.5 * erfc(z / sqrt(2.0));
}

/*
 * AbNormalIsf returns the z with P(Z > z) = p for 0 < p < 1 (NaN outside):
 * Acklam's rational approximation refined by two Halley steps on erfc,
 * which brings it to full double precision.
 */
double
AbNormalIsf(double p)
{
	static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
		-2.759285104469687e+02, 1.383577518672690e+02,
	-3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
		-1.556989798598866e+02, 6.680131188771972e+01,
	-1.328068155288572e+01};
	static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
		-2.400758277161838e+00, -2.549732539343734e+00,
	4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01,
	2.445134137142996e+00, 3.754408661907416e+00};
	double		q = 1.0 - p;		/* the lower-tail probability */
	double		x,
				r;

	if (!(p > 0.0 && p < 1.0))
		return NAN;
	if (q < 0.02425)
	{
		r = sqrt(-2.0 * log(q));
		x = (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) /
			((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1.0);
	}
	else if (p < 0.02425)
	{
		r = sqrt(-2.0 * log(p));
		x = -(((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) /
			((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1.0);
	}
	else
	{
		double		s = q - 0.5;

		r = s * s;
		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * s /
			(((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
	}
	/* x is the lower-tail quantile of q = the upper-tail quantile of p */
	for (int i = 0; i < 2; i++)
	{
		double		e = AbNormalSf(x) - p;	/* sf decreases: d sf / dx = -pdf */
		double		u = -e * sqrt(2.0 * M_PI) * exp(x * x / 2.0);

		x = x - u / (1.0 + x * u / 2.0);
	}
	return x;
}

/*
 * AbBetaInc returns the regularized incomplete beta function I_x(a, b) for
 * a, b > 0 and 0 <= x <= 1; y is 1 - x, passed separately so that callers
 * who know it exactly (t^2 / (df + t^2)) keep its precision.
 */
double
AbBetaInc(double a, double b, double x, double y)
{
	double		lead;

	if (!(a > 0) || !(b > 0) || !(x >= 0) || !(y >= 0) || isinf(a) || isinf(b))
		return NAN;
	if (x == 0.0)
		return 0.0;
	if (y == 0.0)
		return 1.0;
	/* log x and log y from whichever of x, y is exact where the other rounds */
	lead = LogGammaRatio(a, b) - lgamma(b) +
		a * (x > 0.5 ? log1p(-y) : log(x)) + b * (y > 0.5 ? log1p(-x) : log(y));
	if (x < (a + 1.0) / (a + b + 2.0))
		return exp(lead) * BetaFraction(a, b, x) / a;
	return 1.0 - exp(lead) * BetaFraction(b, a, y) / b;
}

/*
 * LogGammaRatio returns log(Gamma(a + b) / Gamma(a)).  For a >= 10 it uses
 * Stirling's series on both, so that the large, nearly equal log-gammas do
 * not cancel (with df = 10^5 the plain difference loses 8 digits).
 */
static double
LogGammaRatio(double a, double b)
{
	if (a < 10.0 || b > a)
		return lgamma(a + b) - lgamma(a);
	/* (a+b-1/2) log(a+b) - (a-1/2) log a - b, rearranged to avoid cancellation */
	return (a - 0.5) * log1p(b / a) + b * log(a + b) - b +
		StirlingCorrection(a + b) - StirlingCorrection(a);
}

/*
 * StirlingCorrection returns log Gamma(x) - ((x - 1/2) log x - x + log(2 pi)/2)
 * for x >= 10 by its asymptotic series (error below 1e-17 there).
 */
static double
StirlingCorrection(double x)
{
	double		x2 = 1.0 / (x * x);

	return (1.0 / 12.0 - x2 * (1.0 / 360.0 - x2 * (1.0 / 1260.0 - x2 * (1.0 / 1680.0 - x2 / 1188.0)))) / x;
}

/*
 * BetaFraction evaluates the continued fraction of the incomplete beta
 * function (Numerical Recipes' betacf) with the modified Lentz method; it
 * converges quickly for x < (a + 1) / (a + b + 2), in O(sqrt(max(a, b)))
 * steps.
 */
static double
BetaFraction(double a, double b, double x)
{
	const double tiny = 1e-300;
	double		qab = a + b,
				qap = a + 1.0,
				qam = a - 1.0,
				c = 1.0,
				d = 1.0 - qab * x / qap,
				h;

	if (fabs(d) < tiny)
		d = tiny;
	d = 1.0 / d;
	h = d;
	for (int m = 1; m <= 1000000; m++)
	{
		double		m2 = 2.0 * m,
					aa,
					del;

		aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1.0 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1.0 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		h *= d * c;
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1.0 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1.0 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1.0) < DBL_EPSILON)
			break;
	}
	return h;
}

/*
 * AbStudentTSf returns P(T > t) for Student's t with df > 0 degrees of
 * freedom (scipy.stats.t.sf); NaN for NaN arguments or df <= 0.
 */
double
AbStudentTSf(double t, double df)
{
	double		t2,
				tail;

	if (isnan(t) || !(df > 0))
		return NAN;
	if (isinf(t))
		return t > 0 ? 0.0 : 1.0;
	if (isinf(df))
		return AbNormalSf(t);
	t2 = t * t;
	/* P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2) */
	tail = AbBetaInc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2));
	return t > 0 ? tail / 2.0 : 1.0 - tail / 2.0;
}

/*
 * AbTwoProportionZTest compares the proportion x1/n1 with x0/n0 by the
 * pooled two-proportion z-test (statsmodels proportions_ztest, two-sided).
 * Returns 0, or -1 when the test is undefined (an empty group, or a pooled
 * proportion of 0 or 1, where statsmodels divides 0 by 0).
 */
int
AbTwoProportionZTest(double x1, double n1, double x0, double n0,
					 double *z, double *p_value)
{
	double		pooled,
				var;

	if (!(n1 > 0) || !(n0 > 0) || !(x1 >= 0 && x1 <= n1) || !(x0 >= 0 && x0 <= n0))
		return -1;
	pooled = (x1 + x0) / (n1 + n0);
	var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0);
	if (!(var > 0))
		return -1;
	*z = (x1 / n1 - x0 / n0) / sqrt(var);
	*p_value = 2.0 * AbNormalSf(fabs(*z));
	return 0;
}

/*
 * AbWilsonInterval returns the Wilson score interval of the proportion x/n
 * at level 1 - alpha (statsmodels proportion_confint(method='wilson')).
 * Returns 0, or -1 when n = 0, x is outside [0, n] or alpha outside (0, 1).
 */
int
AbWilsonInterval(double x, double n, double alpha, double *low, double *high)
{
	double		crit,
				crit2,
				q,
				denom,
				center,
				dist;

	if (!(n > 0) || !(x >= 0 && x <= n) || !(alpha > 0 && alpha < 1))
		return -1;
	crit = AbNormalIsf(alpha / 2.0);
	crit2 = crit * crit;
	q = x / n;
	denom = 1.0 + crit2 / n;
	center = (q + crit2 / (2.0 * n)) / denom;
	dist = crit * sqrt(q * (1.0 - q) / n + crit2 / (4.0 * n * n)) / denom;
	*low = center - dist;
	*high = center + dist;
	return 0;
}

/*
 * AbWelchTTest runs Welch's unequal-variance t-test of group 1 against group
 * 0 from their sizes, means and sample variances (ddof = 1), as
 * scipy.stats.ttest_ind(g1, g0, equal_var=False), two-sided.  Returns 0, or
 * -1 when it is undefined: a group with fewer than 2 members, a negative or
 * non-finite variance, or both variances 0.
 */
int
AbWelchTTest(double n1, double mean1, double var1,
			 double n0, double mean0, double var0,
			 double *t, double *df, double *p_value)
{
	double		v1,
				v0,
				se2;

	if (!(n1 >= 2) || !(n0 >= 2) || !isfinite(mean1) || !isfinite(mean0) ||
		!(var1 >= 0) || !(var0 >= 0) || isinf(var1) || isinf(var0))
		return -1;
	v1 = var1 / n1;
	v0 = var0 / n0;
	se2 = v1 + v0;
	if (!(se2 > 0) || isinf(se2))
		return -1;
	*t = (mean1 - mean0) / sqrt(se2);
	*df = se2 * se2 / (v1 * v1 / (n1 - 1.0) + v0 * v0 / (n0 - 1.0));
	if (!isfinite(*t) || !(*df > 0))
		return -1;
	*p_value = 2.0 * AbStudentTSf(fabs(*t), *df);
	if (*p_value > 1.0)
		*p_value = 1.0;
	return 0;
}

/*
 * AbHolm writes Holm's step-down adjustment of the m p-values p into
 * adjusted (statsmodels multipletests(method='holm')): sorted ascending,
 * the i-th (from 0) becomes max over j <= i of min(1, (m - j) p_(j)).  NaN
 * entries are left out of m and stay NaN; ties keep their input order,
 * which gives equal p-values equal adjusted values.  m is at most
 * AB_MAX_VARIANTS.
 */
void
AbHolm(const double *p, int m, double *adjusted)
{
	int			order[AB_MAX_VARIANTS];
	int			n = 0;
	double		running = 0.0;

	for (int i = 0; i < m && i < AB_MAX_VARIANTS; i++)
	{
		adjusted[i] = NAN;
		if (isnan(p[i]))
			continue;
		/* insertion sort, stable: equal p-values keep their input order */
		{
			int			j = n;

			while (j > 0 && p[order[j - 1]] > p[i])
			{
				order[j] = order[j - 1];
				j--;
			}
			order[j] = i;
			n++;
		}
	}
	for (int r = 0; r < n; r++)
	{
		double		v = (double) (n - r) * p[order[r]];

		if (v > 1.0)
			v = 1.0;
		if (v > running)
			running = v;
		adjusted[order[r]] = running;
	}
}

/*
 * AbChiSquareGof computes the statistic of the chi-square goodness-of-fit
 * test of the k observed counts against expected counts proportional to
 * weights (scipy.stats.chisquare(observed, f_exp = weights / sum(weights)
 * * sum(observed))), and dof = k - 1.  Returns 0, or -1 when k < 2, there
 * are no observations, or a weight is not positive and finite.
 */
int
AbChiSquareGof(const double *observed, const double *weights, int k,
			   double *statistic, int *dof)
{
	double		total = 0.0,
				wsum = 0.0,
				stat = 0.0;

	if (k < 2 || k > AB_MAX_VARIANTS)
		return -1;
	for (int i = 0; i < k; i++)
	{
		if (!(weights[i] > 0) || isinf(weights[i]) || !(observed[i] >= 0))
			return -1;
		total += observed[i];
		wsum += weights[i];
	}
	if (!(total > 0))
		return -1;
	for (int i = 0; i < k; i++)
	{
		double		e = weights[i] / wsum * total;
		double		diff = observed[i] - e;

		stat += diff * diff / e;
	}
	*statistic = stat;
	*dof = k - 1;
	return 0;
}

/*
 * AbMix64 is SplitMix64's finalizer: a bijection of 64-bit values in which
 * every input bit affects every output bit.  ab_assign passes its hash
 * through it, so that users whose ids differ in a character or two (u1,
 * u2, ...) still land independently.
 */
uint64_t
AbMix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/*
 * AbChooseVariant maps a 64-bit hash to one of k variants with the given
 * non-negative weights: u = the hash's top 53 bits as a fraction in [0, 1),
 * the first variant whose cumulative share (cumulative weight over total
 * weight) exceeds u.  A variant of weight 0 is never chosen.  Returns the
 * index, or -1 when k is out of range or the weights are not usable.
 */
int
AbChooseVariant(uint64_t hash, const double *weights, int k)
{
	double		total = 0.0,
				cum = 0.0,
				u = (double) (hash >> 11) * (1.0 / 9007199254740992.0);
	int			last = -1;

	if (k < 1 || k > AB_MAX_VARIANTS)
		return -1;
	for (int i = 0; i < k; i++)
	{
		if (!(weights[i] >= 0) || isinf(weights[i]))
			return -1;
		total += weights[i];
		if (weights[i] > 0)
			last = i;
	}
	if (!(total > 0))
		return -1;
	for (int i = 0; i < k; i++)
	{
		if (weights[i] == 0)
			continue;
		cum += weights[i];
		if (u < cum / total)
			return i;
	}
	/* rounding left u above the last cumulative share */
	return last;
}
