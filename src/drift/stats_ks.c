/*-------------------------------------------------------------------------
 *
 * stats_ks.c
 *	  Pure C: the Wasserstein distance, the two-sample Kolmogorov-Smirnov
 *	  test of SciPy 1.10 and the Kolmogorov distributions behind it.
 *
 * StatsKsTwoSample computes D from the ECDFs at every observation and the
 * p-value exactly when max(n1, n2) <= 10000 (the reflection sum in Horner
 * form for equal sizes, the lattice-path recursion for 1 - p otherwise),
 * else as kstwo.sf(D, round(n1 n2 / (n1 + n2))), the finite-n two-sided
 * Kolmogorov distribution, evaluated as Simard & L'Ecuyer choose among
 * Ruben-Gambino, Durbin's matrix (Marsaglia-Tsang-Wang), Pomeranz,
 * Pelz-Good and 2 x Smirnov.  See stats.c for the module's conventions.
 *
 *-------------------------------------------------------------------------
 */
#include "drift/stats.h"
#include "drift/stats_int.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATS_LOG_2PI 1.8378770664093454836
#define STATS_SQRT2PI 2.5066282746310005024
#define STATS_SQRT3 1.7320508075688772935
#define STATS_PI 3.14159265358979323846
#define STATS_MINLOG (-708.3964185322641)	/* log(DBL_MIN) */

static double WassersteinScaled(const double *u, size_t nu, const double *v, size_t nv,
								double scale);
static double RoundHalfEven(double x);
static double KolmogornDmtwCdf(int64_t n, double d);
static double KolmogornPomeranzCdf(int64_t n, double x);
static double KolmogornPelzGoodCdf(int64_t n, double x);
static double LogNFactorialOverNPowN(double n);

/* ------------------------------------------------------------------------
 * Wasserstein and Kolmogorov-Smirnov
 * ------------------------------------------------------------------------
 */

/*
 * StatsWasserstein returns the first Wasserstein distance between two
 * sorted finite samples: the integral over the merged support of
 * |U(t) - V(t)| where U and V are the empirical CDFs.  When the integral
 * overflows (the samples span more than the largest double) it is computed
 * on the halved values and doubled; a distance beyond the largest double is
 * +Infinity.
 */
double
StatsWasserstein(const double *u, size_t nu, const double *v, size_t nv)
{
	double		sum = WassersteinScaled(u, nu, v, nv, 1.0);

	if (isfinite(sum))
		return sum;
	return 2.0 * WassersteinScaled(u, nu, v, nv, 0.5);
}

/*
 * WassersteinScaled returns the Wasserstein integral of the samples
 * multiplied by scale (1 or 0.5).
 */
static double
WassersteinScaled(const double *u, size_t nu, const double *v, size_t nv, double scale)
{
	size_t		i = 0,
				j = 0;
	double		sum = 0.0;
	double		prev;

	/* walk the merged sorted values; between two of them the CDFs are flat */
	prev = (u[0] < v[0]) ? u[0] : v[0];
	while (i < nu || j < nv)
	{
		double		next;

		StatsPoll(i + j);
		if (j >= nv || (i < nu && u[i] <= v[j]))
			next = u[i];
		else
			next = v[j];
		if (next > prev)
		{
			double		cu = (double) i / (double) nu;
			double		cv = (double) j / (double) nv;

			sum += fabs(cu - cv) * (next * scale - prev * scale);
			prev = next;
		}
		/* consume every copy of next from both samples */
		while (i < nu && u[i] == next)
			i++;
		while (j < nv && v[j] == next)
			j++;
	}
	return sum;
}

/*
 * StatsKsTwoSample runs the two-sided two-sample Kolmogorov-Smirnov test
 * on sorted finite samples as scipy.stats.ks_2samp(method="auto") of
 * SciPy 1.10 and stores the statistic D and its p-value.
 */
void
StatsKsTwoSample(const double *x, size_t nx, const double *y, size_t ny,
				 double *statistic, double *p_value)
{
	size_t		i = 0,
				j = 0;
	double		maxs = -INFINITY,
				mins = INFINITY;
	double		d,
				p = NAN;
	int64_t		n1 = (int64_t) nx,
				n2 = (int64_t) ny;
	bool		exact = (n1 > n2 ? n1 : n2) <= STATS_KS_MAX_EXACT_N;

	/* the ECDF difference at every observation, counting ties together */
	while (i < nx || j < ny)
	{
		double		v,
					diff;

		StatsPoll(i + j);
		if (j >= ny || (i < nx && x[i] <= y[j]))
			v = x[i];
		else
			v = y[j];
		while (i < nx && x[i] == v)
			i++;
		while (j < ny && y[j] == v)
			j++;
		diff = (double) i / (double) nx - (double) j / (double) ny;
		if (diff > maxs)
			maxs = diff;
		if (diff < mins)
			mins = diff;
	}
	mins = -mins;
	if (mins < 0.0)
		mins = 0.0;
	if (mins > 1.0)
		mins = 1.0;
	d = (mins > maxs) ? mins : maxs;

	if (exact)
	{
		int64_t		a = n1,
					b = n2,
					g,
					lcm,
					h;

		while (b != 0)
		{
			int64_t		t = a % b;

			a = b;
			b = t;
		}
		g = a;
		lcm = (n1 / g) * n2;
		h = (int64_t) RoundHalfEven(d * (double) lcm);
		d = (double) h / (double) lcm;
		if (h == 0)
			p = 1.0;
		else if (n1 == n2)
			p = StatsKsExactOutsideSquare(n1, h);
		else
			p = StatsKsExactOutsideInside(n1, n2, g, h);
		if (!(p >= 0.0 && p <= 1.0))
			exact = false;		/* SciPy falls back to the asymptotic form */
	}
	if (!exact)
	{
		double		m = (double) (n1 > n2 ? n1 : n2);
		double		n = (double) (n1 > n2 ? n2 : n1);
		double		en = m * n / (m + n);

		p = StatsKolmogornSf((int64_t) RoundHalfEven(en), d);
	}
	*statistic = d;
	*p_value = Clip01(p);
}

/*
 * StatsKsExactOutsideSquare returns P(D_{n,n} >= h/n) for two samples of
 * equal size n, evaluating 2 sum_k (-1)^(k-1) C(2n, n-kh) / C(2n, n) in the
 * cancellation-free nested (Horner) form.
 */
double
StatsKsExactOutsideSquare(int64_t n, int64_t h)
{
	double		P = 0.0;
	int64_t		k = (int64_t) floor((double) n / (double) h);

	while (k >= 0)
	{
		double		p1 = 1.0;

		StatsInterrupt();
		for (int64_t j = 0; j < h; j++)
			p1 = (double) (n - k * h - j) * p1 / (double) (n + k * h + j + 1);
		P = p1 * (1.0 - P);
		k--;
	}
	return 2.0 * P;
}

/*
 * StatsKsExactOutsideInside returns the share of lattice paths from (0,0)
 * to (m,n) that leave the band |x/m - y/n| < h/lcm(m,n), i.e. the exact
 * two-sided p-value, with g = gcd(m,n). The recursion carries 1 - p
 * directly (Viehmann 2021) over a sliding window of one column.
 */
double
StatsKsExactOutsideInside(int64_t m, int64_t n, int64_t g, int64_t h)
{
	int64_t		mg,
				ng,
				minj,
				maxj,
				curlen,
				lenA;
	double	   *A;
	double		result;

	if (m < n)
	{
		int64_t		t = m;

		m = n;
		n = t;
	}
	mg = m / g;
	ng = n / g;
	minj = 0;
	maxj = (int64_t) ceil((double) h / (double) mg);
	if (maxj > n + 1)
		maxj = n + 1;
	curlen = maxj - minj;
	lenA = 2 * maxj + 2;
	if (lenA > n + 1)
		lenA = n + 1;
	/* room for any index the window can reach; unused cells stay 1 */
	A = StatsAllocArray((size_t) (n + 2 > lenA ? n + 2 : lenA), sizeof(double));
	if (A == NULL)
		return NAN;
	for (int64_t i = 0; i < (n + 2 > lenA ? n + 2 : lenA); i++)
		A[i] = 1.0;
	for (int64_t i = minj; i < maxj; i++)
		A[i] = 0.0;
	for (int64_t i = 1; i <= m; i++)
	{
		int64_t		lastminj = minj,
					lastlen = curlen;
		double		val;

		StatsInterrupt();
		minj = (int64_t) floor((double) (ng * i - h) / (double) mg) + 1;
		if (minj < 0)
			minj = 0;
		if (minj > n)
			minj = n;
		maxj = (int64_t) ceil((double) (ng * i + h) / (double) mg);
		if (maxj > n + 1)
			maxj = n + 1;
		if (maxj <= minj)
		{
			StatsFree(A);
			return 1.0;
		}
		val = (minj == 0) ? 0.0 : 1.0;
		for (int64_t jj = 0; jj < maxj - minj; jj++)
		{
			int64_t		j = jj + minj;

			val = (A[jj + minj - lastminj] * (double) i + val * (double) j) /
				(double) (i + j);
			A[jj] = val;
		}
		curlen = maxj - minj;
		if (lastlen > curlen)
		{
			for (int64_t t = maxj - minj; t < maxj - minj + (lastlen - curlen); t++)
				A[t] = 1.0;
		}
	}
	result = A[maxj - minj - 1];
	StatsFree(A);
	return result;
}

/* ------------------------------------------------------------------------
 * Kolmogorov distributions
 * ------------------------------------------------------------------------
 */

/*
 * StatsSmirnovSf returns the survival function of the one-sided
 * Kolmogorov-Smirnov statistic, P(D_n^+ >= x), by the Birnbaum-Tingey sum
 * x sum_{j < n(1-x)} C(n,j) (1-x-j/n)^(n-j) (x+j/n)^(j-1), evaluated in
 * extended precision logarithms, with the closed forms at both ends and
 * the asymptotic form for n > 1e6.
 */
double
StatsSmirnovSf(int64_t n, double x)
{
	double		nx,
				nxerr,
				alpha;
	int64_t		nxfl,
				nterms;
	long double sum = 0.0L,
				logc = 0.0L;

	if (!(n > 0 && x >= 0.0 && x <= 1.0))
		return NAN;
	if (n == 1)
		return 1.0 - x;
	if (x == 0.0)
		return 1.0;
	if (x == 1.0)
		return 0.0;

	/* floor(n x) and its remainder, exactly */
	nx = (double) n * x;
	nxerr = fma((double) n, x, -nx);
	nxfl = (int64_t) floor(nx);
	alpha = (nx - (double) nxfl) + nxerr;
	if (alpha < 0)
	{
		nxfl -= 1;
		alpha += 1.0;
	}
	if (alpha >= 1.0)
	{
		nxfl += 1;
		alpha = 0.0;
	}

	if (nxfl == 0 || (nxfl == 1 && alpha == 0.0))
	{
		double		t = pow(1.0 + x, (double) (n - 1));

		return Clip01(1.0 - x * t);
	}
	if (-2.0 * (double) n * x * x < STATS_MINLOG)
		return 0.0;
	if (nxfl >= n - 1)
		return Clip01(pow(1.0 - x, (double) n));
	if (n > 1000000)
	{
		double		logp = -pow(6.0 * (double) n * x + 1, 2) / 18.0 / (double) n;

		if (logp < -M_LN2)
			return exp(logp);
		return Clip01(1.0 + expm1(logp));
	}

	nterms = n - nxfl;
	for (int64_t j = 0; j < nterms; j++)
	{
		long double a;
		long double b;
		long double loga;
		long double term;

		StatsPoll((size_t) j);
		a = ((long double) (n - j - nxfl) - alpha) / (long double) n;
		b = ((long double) (nxfl + j) + alpha) / (long double) n;
		loga = (long double) (n - j) * logl(a) + (long double) (j - 1) * logl(b) + logc;
		term = expl(loga);

		sum += term;
		if (term != 0.0L)
		{
			if (4.0L * (long double) (nterms - j) * term < DBL_EPSILON * sum &&
				j != nterms - 1)
				break;
		}
		else if (j > n / 2)
			break;
		/* C(n, j+1) = C(n, j) (n - j) / (j + 1) */
		logc += logl((long double) (n - j) / (long double) (j + 1));
	}
	return Clip01((double) ((long double) x * sum));
}

/*
 * StatsKolmogornSf returns P(D_n >= x) for the two-sided one-sample
 * Kolmogorov-Smirnov statistic with n observations (scipy.stats.kstwo.sf),
 * choosing the method by n and n x^2 as Simard & L'Ecuyer (2011).
 */
double
StatsKolmogornSf(int64_t n, double x)
{
	double		t,
				nxsq;

	if (n <= 0 || isnan(x))
		return NAN;
	if (x >= 1.0)
		return 0.0;
	if (x <= 0.0)
		return 1.0;
	t = (double) n * x;
	if (t <= 1.0)
	{
		double		prob;

		if (t <= 0.5)
			return 1.0;
		if (n <= 140)
		{
			prob = 1.0;
			for (int64_t i = 1; i <= n; i++)
				prob *= (double) i * (1.0 / (double) n) * (2 * t - 1);
		}
		else
			prob = exp(LogNFactorialOverNPowN((double) n) +
					   (double) n * log(2 * t - 1));
		return Clip01(1.0 - prob);
	}
	if (t >= (double) (n - 1))
		return Clip01(2 * pow(1.0 - x, (double) n));
	if (x >= 0.5)
		return Clip01(2 * StatsSmirnovSf(n, x));

	nxsq = t * x;
	if (n <= 140)
	{
		if (nxsq <= 0.754693)
			return Clip01(1.0 - KolmogornDmtwCdf(n, x));
		if (nxsq <= 4)
			return Clip01(1.0 - KolmogornPomeranzCdf(n, x));
		return Clip01(2 * StatsSmirnovSf(n, x));
	}
	if (nxsq >= 370.0)
		return 0.0;
	if (nxsq >= 2.2)
		return Clip01(2 * StatsSmirnovSf(n, x));
	if (n <= 100000 && (double) n * pow(x, 1.5) <= 1.4)
		return Clip01(1.0 - KolmogornDmtwCdf(n, x));
	return Clip01(1.0 - KolmogornPelzGoodCdf(n, x));
}

/*
 * LogNFactorialOverNPowN returns log(n! / n^n) by Stirling's series with
 * n log n removed up front.
 */
static double
LogNFactorialOverNPowN(double n)
{
	static const double coeffs[] = {
		-2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4,
		-5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2
	};
	double		rn = 1.0 / n;
	double		x = rn / n;
	double		poly = 0.0;

	for (int i = 0; i < 8; i++)
		poly = poly * x + coeffs[i];
	return log(n) / 2 - n + STATS_LOG_2PI / 2 + rn * poly;
}

/*
 * KolmogornDmtwCdf returns P(D_n <= d) by Durbin's matrix formula: with
 * d = (k - h)/n, the (k,k) entry of (n!/n^n) H^n for the (2k-1)-square
 * matrix H, powered by squaring with power-of-two rescaling (Marsaglia,
 * Tsang & Wang 2003).
 */
static double
KolmogornDmtwCdf(int64_t n, double d)
{
	double		nd,
				h,
				fac,
				tt,
				p;
	int			k,
				m,
				expnt = 0,
				hexpnt = 0;
	int64_t		nn;
	double	   *H,
			   *Hp,
			   *T,
			   *v,
			   *w;
	const double ep128 = ldexp(1.0, 128);
	const double em128 = ldexp(1.0, -128);

	if (d >= 1.0)
		return 1.0;
	nd = (double) n * d;
	if (nd <= 0.5)
		return 0.0;
	k = (int) ceil(nd);
	h = k - nd;
	m = 2 * k - 1;

	H = StatsAllocZeroArray((size_t) m * m, sizeof(double));
	Hp = StatsAllocZeroArray((size_t) m * m, sizeof(double));
	T = StatsAllocZeroArray((size_t) m * m, sizeof(double));
	v = StatsAllocArray((size_t) m, sizeof(double));
	w = StatsAllocArray((size_t) m, sizeof(double));
	if (!H || !Hp || !T || !v || !w)
	{
		StatsFree(H);
		StatsFree(Hp);
		StatsFree(T);
		StatsFree(v);
		StatsFree(w);
		return NAN;
	}

	fac = 1.0;
	for (int j = 1; j <= m; j++)
	{
		v[j - 1] = 1.0 - pow(h, j);
		w[j - 1] = fac;
		fac /= j;
		v[j - 1] *= fac;
	}
	tt = pow(fmax(2 * h - 1.0, 0), m) - 2 * pow(h, m);
	v[m - 1] = (1.0 + tt) * fac;

	for (int i = 1; i < m; i++)
		for (int r = i - 1; r < m; r++)
			H[r * m + i] = w[r - (i - 1)];
	for (int r = 0; r < m; r++)
		H[r * m + 0] = v[r];
	for (int c = 0; c < m; c++)
		H[(m - 1) * m + c] = v[m - 1 - c];

	for (int r = 0; r < m; r++)
		Hp[r * m + r] = 1.0;

	nn = n;
	while (nn > 0)
	{
		StatsInterrupt();
		if (nn % 2)
		{
			/* Hp = Hp H */
			for (int r = 0; r < m; r++)
				for (int c = 0; c < m; c++)
				{
					double		s = 0.0;

					for (int q = 0; q < m; q++)
						s += Hp[r * m + q] * H[q * m + c];
					T[r * m + c] = s;
				}
			memcpy(Hp, T, sizeof(double) * m * m);
			expnt += hexpnt;
		}
		/* H = H H */
		for (int r = 0; r < m; r++)
			for (int c = 0; c < m; c++)
			{
				double		s = 0.0;

				for (int q = 0; q < m; q++)
					s += H[r * m + q] * H[q * m + c];
				T[r * m + c] = s;
			}
		memcpy(H, T, sizeof(double) * m * m);
		hexpnt *= 2;
		if (fabs(H[(k - 1) * m + (k - 1)]) > ep128)
		{
			for (int q = 0; q < m * m; q++)
				H[q] /= ep128;
			hexpnt += 128;
		}
		nn /= 2;
	}
	p = Hp[(k - 1) * m + (k - 1)];
	for (int64_t i = 1; i <= n; i++)
	{
		p = (double) i * p / (double) n;
		if (fabs(p) < em128)
		{
			p *= ep128;
			expnt -= 128;
		}
	}
	if (expnt != 0)
		p = ldexp(p, expnt);
	StatsFree(H);
	StatsFree(Hp);
	StatsFree(T);
	StatsFree(v);
	StatsFree(w);
	return Clip01(p);
}

/*
 * PomeranzBounds computes the range [*j1, *j2] of non-zero entries of row
 * i of Pomeranz's recursion.
 */
static void
PomeranzBounds(int64_t i, int64_t n, int64_t ll, int ceilf, int roundf,
			   int64_t *j1, int64_t *j2)
{
	int64_t		a,
				b;

	if (i == 0)
	{
		a = -ll - ceilf - 1;
		b = ll + ceilf - 1;
	}
	else
	{
		int64_t		half = (i + 1) / 2;

		if ((i + 1) % 2 == 0)
		{
			if (half == n + 1)
			{
				a = n - ll - ceilf - 1;
				b = n + ll + ceilf - 1;
			}
			else
			{
				a = half - 1 - ll - roundf - 1;
				b = half + ll - 1 + ceilf - 1;
			}
		}
		else
		{
			a = half - 1 - ll - 1;
			b = half + ll + roundf - 1;
		}
	}
	*j1 = (a + 2 > 0) ? a + 2 : 0;
	*j2 = (b < n) ? b : n;
}

/*
 * KolmogornPomeranzCdf returns P(D_n <= x) by Pomeranz's recursion (1974):
 * 2n+1 rows, each the convolution of the previous row with truncated
 * Poisson weights, rescaled by powers of two against underflow.
 */
static double
KolmogornPomeranzCdf(int64_t n, double x)
{
	double		t = (double) n * x;
	int64_t		ll = (int64_t) floor(t);
	double		f = t - (double) ll;
	double		g = fmin(f, 1.0 - f);
	int			ceilf = f > 0 ? 1 : 0;
	int			roundf = f > 0.5 ? 1 : 0;
	int64_t		npwrs = 2 * (ll + 1);
	double	   *gp,
			   *tgp,
			   *omp,
			   *V0,
			   *V1;
	int64_t		V0s = 0,
				V1s = 0,
				j1,
				j2;
	int			expnt = 0;
	double		ans;
	const double ep128 = ldexp(1.0, 128);
	const double em128 = ldexp(1.0, -128);

	gp = StatsAllocArray((size_t) npwrs, sizeof(double));
	tgp = StatsAllocArray((size_t) npwrs, sizeof(double));
	omp = StatsAllocArray((size_t) npwrs, sizeof(double));
	V0 = StatsAllocZeroArray((size_t) npwrs, sizeof(double));
	V1 = StatsAllocZeroArray((size_t) npwrs, sizeof(double));
	if (!gp || !tgp || !omp || !V0 || !V1)
	{
		StatsFree(gp);
		StatsFree(tgp);
		StatsFree(omp);
		StatsFree(V0);
		StatsFree(V1);
		return NAN;
	}
	gp[0] = tgp[0] = omp[0] = 1.0;
	for (int64_t m = 1; m < npwrs; m++)
	{
		gp[m] = gp[m - 1] * (g / n) / m;
		tgp[m] = tgp[m - 1] * (2 * g / n) / m;
		omp[m] = omp[m - 1] * ((1 - 2 * g) / n) / m;
	}
	V1[0] = 1.0;
	PomeranzBounds(0, n, ll, ceilf, roundf, &j1, &j2);
	for (int64_t i = 1; i < 2 * n + 2; i++)
	{
		int64_t		k1 = j1,
					ln2,
					ts;
		double	   *tmp = V0;
		const double *pw;

		StatsInterrupt();
		V0 = V1;
		V1 = tmp;
		ts = V0s;
		V0s = V1s;
		V1s = ts;
		memset(V1, 0, sizeof(double) * npwrs);
		PomeranzBounds(i, n, ll, ceilf, roundf, &j1, &j2);
		if (i == 1 || i == 2 * n + 1)
			pw = gp;
		else
			pw = (i % 2) ? tgp : omp;
		ln2 = j2 - k1 + 1;
		if (ln2 > 0)
		{
			int64_t		start = k1 - V0s;
			int64_t		alen = ln2;
			int64_t		conv_start = j1 - k1;
			int64_t		conv_len = j2 - j1 + 1;
			double		vmax = 0.0;

			if (start + alen > npwrs)
				alen = npwrs - start;
			/* entries conv_start .. of the full convolution of a and pw */
			for (int64_t c = 0; c < conv_len; c++)
			{
				int64_t		kk = conv_start + c;
				double		s = 0.0;

				for (int64_t a = 0; a < alen; a++)
				{
					int64_t		b = kk - a;

					if (b >= 0 && b < ln2)
						s += V0[start + a] * pw[b];
				}
				V1[c] = s;
				if (s > vmax)
					vmax = s;
			}
			if (vmax > 0 && vmax < em128)
			{
				for (int64_t c = 0; c < npwrs; c++)
					V1[c] *= ep128;
				expnt -= 128;
			}
			V1s = V0s + j1 - k1;
		}
	}
	ans = V1[n - V1s];
	for (int64_t m = 1; m <= n; m++)
	{
		if (fabs(ans) > ep128)
		{
			ans *= em128;
			expnt += 128;
		}
		ans *= (double) m;
	}
	if (expnt != 0)
		ans = ldexp(ans, expnt);
	StatsFree(gp);
	StatsFree(tgp);
	StatsFree(omp);
	StatsFree(V0);
	StatsFree(V1);
	return Clip01(ans);
}

/*
 * KolmogornPelzGoodCdf returns the Pelz-Good (1976) approximation of
 * P(D_n <= x): the Li-Chien/Korolyuk expansion K0 + K1/sqrt(n) + K2/n +
 * K3/n^1.5 with each term rewritten through Jacobi theta functions.
 */
static double
KolmogornPelzGoodCdf(int64_t n, double x)
{
	double		z,
				z2,
				z3,
				z4,
				z6,
				qlog,
				q,
				K[4] = {0, 0, 0, 0};
	double		k1a,
				k1b,
				k2a,
				k2b,
				k2c,
				k3a,
				k3b,
				k3c,
				k3d,
				pi2 = STATS_PI * STATS_PI,
				pi4 = pi2 * pi2,
				pi6 = pi4 * pi2;
	int			maxk;
	double		k2extra = 0.0,
				k3extra = 0.0,
				sqrt3z,
				sum;

	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	z = sqrt((double) n) * x;
	z2 = z * z;
	z3 = z2 * z;
	z4 = z2 * z2;
	z6 = z4 * z2;
	qlog = -pi2 / 8 / z2;
	if (qlog < -708)
		return 0.0;
	q = exp(qlog);
	k1a = -z2;
	k1b = pi2 / 4;
	k2a = 6 * z6 + 2 * z4;
	k2b = (2 * z4 - 5 * z2) * pi2 / 4;
	k2c = pi4 * (1 - 2 * z2) / 16;
	k3d = pi6 * (5 - 30 * z2) / 64;
	k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
	k3b = pi2 * (135 * z4 - 96 * z6) / 4;
	k3a = -30 * z6 - 90 * pow(z, 8);

	maxk = (int) ceil(16 * z / STATS_PI);
	for (int k = maxk; k > 0; k--)
	{
		double		m = 2 * k - 1;
		double		m2 = m * m,
					m4 = m2 * m2,
					m6 = m4 * m2;
		double		qp = pow(q, 8 * k);

		K[0] = K[0] * qp + 1.0;
		K[1] = K[1] * qp + (k1a + k1b * m2);
		K[2] = K[2] * qp + (k2a + k2b * m2 + k2c * m4);
		K[3] = K[3] * qp + (k3a + k3b * m2 + k3c * m4 + k3d * m6);
	}
	for (int i = 0; i < 4; i++)
		K[i] *= q * STATS_SQRT2PI;
	K[0] /= z;
	K[1] /= 6 * z4;
	K[2] /= 72 * pow(z, 7);
	K[3] /= 6480 * pow(z, 10);

	q = exp(-pi2 / 2 / z2);
	sqrt3z = STATS_SQRT3 * z;
	for (int k = maxk; k > 0; k--)
	{
		double		ks = (double) k * k;
		double		kspi = STATS_PI * k;
		double		qpw = pow(q, ks);

		k2extra += ks * qpw;
		k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks * qpw;
	}
	k2extra *= pi2 * STATS_SQRT2PI / (-36 * z3);
	k3extra *= pi2 * STATS_SQRT2PI / (216 * z6);
	K[2] += k2extra;
	K[3] += k3extra;
	sum = 0.0;
	for (int i = 0; i < 4; i++)
		sum += K[i] / pow((double) n, i / 2.0);
	return sum;
}

/*
 * RoundHalfEven rounds x to the nearest integer, ties to even, as
 * numpy.round.
 */
static double
RoundHalfEven(double x)
{
	double		r = floor(x);
	double		diff = x - r;

	if (diff > 0.5)
		return r + 1.0;
	if (diff < 0.5)
		return r;
	return fmod(r, 2.0) == 0.0 ? r : r + 1.0;
}
