/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Pure C statistics behind mlops' drift detection.
 *
 * Design
 * ------
 * Every function here works on plain C arrays of finite doubles; the SQL
 * layer (drift.c) drops NULL, NaN and infinite elements, sorts the samples
 * once with StatsSort and then calls as many statistics as it needs on the
 * same sorted arrays. Nothing here allocates except StatsBinShares (malloc,
 * the caller frees) and nothing calls exit(): errors come back as a return
 * code plus a message in the caller's buffer.
 *
 * The numbers must agree with the reference implementations users compare
 * against, so each function follows a named algorithm:
 *
 *	- quantiles: numpy's default "linear" method (virtual index (n-1)q and
 *	  numpy's two-sided lerp);
 *	- PSI binning: "quantile" edges are the reference's quantiles at i/bins
 *	  with open-ended outer bins and a value x in bin #(edges <= x);
 *	  "sturges" edges are numpy.histogram_bin_edges(ref + cur, "sturges")
 *	  counted like numpy.histogram (Evidently's convention); empty shares
 *	  become 0.0001;
 *	- KL divergence and Jensen-Shannon distance: scipy.stats.entropy and
 *	  scipy.spatial.distance.jensenshannon on those shares (both normalise);
 *	- Wasserstein: scipy.stats.wasserstein_distance (integral of the
 *	  absolute difference of the empirical CDFs);
 *	- two-sample KS: scipy.stats.ks_2samp(method="auto") of SciPy 1.10: the
 *	  statistic from the ECDFs at every observation; the exact p-value when
 *	  max(n1, n2) <= 10000 (n1 == n2: the Horner form of the reflection sum,
 *	  SciPy's _compute_prob_outside_square; otherwise the lattice-path
 *	  recursion for 1 - p of Viehmann, SciPy's
 *	  _compute_outer_prob_inside_method); else kstwo.sf(D, round(n1 n2 /
 *	  (n1 + n2))), the finite-n Kolmogorov distribution, evaluated as in
 *	  Simard & L'Ecuyer (Ruben-Gambino ends, Durbin's matrix via
 *	  Marsaglia-Tsang-Wang, Pomeranz, Pelz-Good, 2 x Smirnov);
 *	- chi-square: scipy.stats.chi2_contingency on the 2 x k table with
 *	  Yates' correction when dof = 1; the p-value is the regularized upper
 *	  incomplete gamma function Q(dof/2, x/2) (series / continued fraction);
 *	- ADWIN: River's ADWIN (Bifet & Gavalda's exponential histogram with
 *	  clock 32, 5 buckets per row, sub-windows of at least 5, a grace
 *	  period of 10, every bucket of a row considered as a cut point, the
 *	  detector reset on the update after a detection).
 *
 * These are our own implementations of the published algorithms; the
 * oracle tests (test/oracle/test_drift.py) compare them with SciPy.
 *
 *-------------------------------------------------------------------------
 */
#include "drift/stats.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATS_LOG_2PI 1.8378770664093454836
#define STATS_SQRT2PI 2.5066282746310005024
#define STATS_SQRT3 1.7320508075688772935
#define STATS_PI 3.14159265358979323846
#define STATS_MINLOG (-708.3964185322641)	/* log(DBL_MIN) */

static double LerpNumpy(double a, double b, double t);
static void QuantileRanks(size_t n, double q, size_t *lo, size_t *hi, double *t);
static void SelectRanks(double *x, size_t lo, size_t hi, const size_t *ranks, int nranks);
static int	QuantileEdges(const double *ref, size_t n, bool sorted, int bins, double *edges);
static double RoundHalfEven(double x);
static void RadixSortDoubles(double *x, size_t n);
static size_t UpperBound(const double *x, size_t n, double v);
static double KolmogornDmtwCdf(int64_t n, double d);
static double KolmogornPomeranzCdf(int64_t n, double x);
static double KolmogornPelzGoodCdf(int64_t n, double x);
static double LogNFactorialOverNPowN(double n);
static double GammaSeriesP(double a, double x);
static double GammaFractionQ(double a, double x);
static void AdwinInsert(StatsAdwin *a, double value);
static void AdwinCompress(StatsAdwin *a);
static double AdwinDeleteOldest(StatsAdwin *a);
static bool AdwinDetect(StatsAdwin *a);
static bool AdwinCut(const StatsAdwin *a, double n0, double n1,
					 double delta_mean);

static inline double
Clip01(double p)
{
	if (p < 0.0)
		return 0.0;
	if (p > 1.0)
		return 1.0;
	return p;
}

/* ------------------------------------------------------------------------
 * Samples
 * ------------------------------------------------------------------------
 */

/*
 * StatsDropNonFinite compacts x in place to its finite elements, keeping
 * their order, stores how many were removed in *dropped and returns the
 * new length.
 */
size_t
StatsDropNonFinite(double *x, size_t n, size_t *dropped)
{
	size_t		kept = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (isfinite(x[i]))
			x[kept++] = x[i];
	}
	if (dropped)
		*dropped = n - kept;
	return kept;
}

/*
 * StatsSort sorts finite doubles ascending. It uses an LSD radix sort on
 * the order-preserving integer image of the doubles (O(n), which matters
 * for samples of millions of rows) and insertion sort for short arrays.
 * -0.0 sorts before +0.0, which compare equal, so no statistic notices.
 */
void
StatsSort(double *x, size_t n)
{
	if (n < 64)
	{
		for (size_t i = 1; i < n; i++)
		{
			double		v = x[i];
			size_t		j = i;

			while (j > 0 && x[j - 1] > v)
			{
				x[j] = x[j - 1];
				j--;
			}
			x[j] = v;
		}
		return;
	}
	RadixSortDoubles(x, n);
}

/*
 * StatsQuantileSorted returns the q-quantile (0 <= q <= 1) of the sorted
 * sample x of n >= 1 values, as numpy.quantile's default linear method.
 */
double
StatsQuantileSorted(const double *x, size_t n, double q)
{
	size_t		lo,
				hi;
	double		t;

	QuantileRanks(n, q, &lo, &hi, &t);
	return LerpNumpy(x[lo], x[hi], t);
}

/*
 * QuantileRanks returns the two order statistics (0-based ranks) numpy's
 * linear method interpolates between for the q-quantile of n values, and
 * the interpolation weight: virtual index (n-1)q.
 */
static void
QuantileRanks(size_t n, double q, size_t *lo, size_t *hi, double *t)
{
	double		virt = (double) (n - 1) * q;
	double		prev = floor(virt);

	if (prev < 0)
		prev = 0;
	if (prev > (double) (n - 1))
		prev = (double) (n - 1);
	*lo = (size_t) prev;
	*hi = *lo + 1 < n ? *lo + 1 : n - 1;
	*t = virt - prev;
}

/*
 * SelectRanks partially orders x[lo..hi] so that x[r] holds the r-th
 * smallest value for every rank r in ranks[0..nranks-1] (ascending, all
 * within lo..hi): quickselect on several ranks at once, O(n log nranks).
 */
static void
SelectRanks(double *x, size_t lo, size_t hi, const size_t *ranks, int nranks)
{
	while (nranks > 0 && hi - lo >= 16)
	{
		size_t		mid = lo + (hi - lo) / 2;
		double		a = x[lo],
					b = x[mid],
					c = x[hi],
					pivot;
		size_t		i = lo,
					j = hi;
		int			nleft = 0;

		/* median of three; Hoare partition keeps ties balanced */
		pivot = (a < b) ? ((b < c) ? b : (a < c ? c : a)) : ((a < c) ? a : (b < c ? c : b));
		for (;;)
		{
			double		t;

			while (x[i] < pivot)
				i++;
			while (x[j] > pivot)
				j--;
			if (i >= j)
				break;
			t = x[i];
			x[i] = x[j];
			x[j] = t;
			i++;
			j--;
		}
		/* now x[lo..j] <= pivot <= x[j+1..hi] */
		while (nleft < nranks && ranks[nleft] <= j)
			nleft++;
		if (nleft > 0)
			SelectRanks(x, lo, j, ranks, nleft);
		ranks += nleft;
		nranks -= nleft;
		lo = j + 1;
	}
	if (nranks > 0)
	{
		/* a short range: insertion sort it */
		for (size_t i = lo + 1; i <= hi; i++)
		{
			double		v = x[i];
			size_t		j = i;

			while (j > lo && x[j - 1] > v)
			{
				x[j] = x[j - 1];
				j--;
			}
			x[j] = v;
		}
	}
}

/*
 * QuantileEdges stores the reference's quantiles at i/bins (i = 1 ..
 * bins-1) in edges, from sorted values or, when ref is not sorted, by
 * selection on a copy. Returns 0, or -1 when out of memory.
 */
static int
QuantileEdges(const double *ref, size_t n, bool sorted, int bins, double *edges)
{
	size_t	   *ranks;
	double	   *copy;
	int			nranks = 0;

	if (sorted)
	{
		for (int i = 1; i < bins; i++)
			edges[i - 1] = StatsQuantileSorted(ref, n, (double) i / (double) bins);
		return 0;
	}
	ranks = malloc(sizeof(size_t) * 2 * bins);
	copy = malloc(sizeof(double) * n);
	if (!ranks || !copy)
	{
		free(ranks);
		free(copy);
		return -1;
	}
	memcpy(copy, ref, sizeof(double) * n);
	for (int i = 1; i < bins; i++)
	{
		size_t		lo,
					hi;
		double		t;

		QuantileRanks(n, (double) i / (double) bins, &lo, &hi, &t);
		/* ranks ascend with i; keep them unique */
		if (nranks == 0 || ranks[nranks - 1] < lo)
			ranks[nranks++] = lo;
		if (ranks[nranks - 1] < hi)
			ranks[nranks++] = hi;
	}
	SelectRanks(copy, 0, n - 1, ranks, nranks);
	for (int i = 1; i < bins; i++)
	{
		size_t		lo,
					hi;
		double		t;

		QuantileRanks(n, (double) i / (double) bins, &lo, &hi, &t);
		edges[i - 1] = LerpNumpy(copy[lo], copy[hi], t);
	}
	free(ranks);
	free(copy);
	return 0;
}

/*
 * LerpNumpy interpolates between a and b as numpy's _lerp does: from a for
 * t < 0.5 and from b for t >= 0.5, which keeps the result monotone.
 */
static double
LerpNumpy(double a, double b, double t)
{
	double		diff = b - a;

	if (t >= 0.5)
		return b - diff * (1.0 - t);
	return a + diff * t;
}

/* ------------------------------------------------------------------------
 * Binning, PSI, KL, JS
 * ------------------------------------------------------------------------
 */

/*
 * StatsBinShares bins two finite samples and returns the share of each
 * sample per bin in malloc'd arrays (*ref_share, *cur_share, *nbins
 * entries). "quantile" binning has bins bins whose inner edges are the
 * reference's quantiles at i/bins; "sturges" binning ignores bins and uses
 * numpy's Sturges edges over both samples. Neither sample needs to be
 * sorted; ref_sorted says ref is (its quantiles are then read directly).
 * Empty shares become STATS_EMPTY_SHARE. Returns 0, or -1 with a message
 * in err.
 */
int
StatsBinShares(const double *ref, size_t nref, bool ref_sorted,
			   const double *cur, size_t ncur,
			   int bins, StatsBinning binning,
			   double **ref_share, double **cur_share, int *nbins,
			   char *err, size_t errlen)
{
	double	   *rc = NULL;
	double	   *cc = NULL;
	double	   *edges = NULL;
	int			k;

	if (nref == 0 || ncur == 0)
	{
		snprintf(err, errlen, "a sample has no finite values");
		return -1;
	}
	if (binning == STATS_BINNING_QUANTILE)
	{
		if (bins < 2)
		{
			snprintf(err, errlen, "bins must be at least 2, got %d", bins);
			return -1;
		}
		k = bins;
		edges = malloc(sizeof(double) * k);
		if (!edges || QuantileEdges(ref, nref, ref_sorted, bins, edges) != 0)
			goto oom;
	}
	else
	{
		double		lo = ref[0],
					hi = ref[0],
					first,
					last,
					width,
					step;

		for (size_t i = 0; i < nref; i++)
		{
			lo = fmin(lo, ref[i]);
			hi = fmax(hi, ref[i]);
		}
		for (size_t i = 0; i < ncur; i++)
		{
			lo = fmin(lo, cur[i]);
			hi = fmax(hi, cur[i]);
		}
		first = lo;
		last = hi;
		if (first == last)
		{
			first -= 0.5;
			last += 0.5;
		}
		width = (hi - lo) / (log2((double) (nref + ncur)) + 1.0);
		if (width != 0.0)
		{
			double		nb = ceil((last - first) / width);

			if (!(nb >= 1.0) || nb > 1e6)
			{
				snprintf(err, errlen, "the samples' range cannot be split into Sturges bins");
				return -1;
			}
			k = (int) nb;
		}
		else
			k = 1;
		/* numpy.linspace(first, last, k + 1); only the inner edges matter */
		edges = malloc(sizeof(double) * k);
		if (!edges)
			goto oom;
		step = (last - first) / (double) k;
		for (int i = 1; i < k; i++)
			edges[i - 1] = (double) i * step + first;
	}
	rc = malloc(sizeof(double) * k);
	cc = malloc(sizeof(double) * k);
	if (!rc || !cc)
		goto oom;
	StatsCountIntoBins(ref, nref, edges, k, rc);
	StatsCountIntoBins(cur, ncur, edges, k, cc);
	free(edges);
	StatsCountsToShares(rc, (double) nref, rc, k);
	StatsCountsToShares(cc, (double) ncur, cc, k);
	*ref_share = rc;
	*cur_share = cc;
	*nbins = k;
	return 0;

oom:
	free(rc);
	free(cc);
	free(edges);
	snprintf(err, errlen, "out of memory");
	return -1;
}

/*
 * StatsCountsToShares turns k counts out of total into shares, replacing
 * empty shares by STATS_EMPTY_SHARE; share may alias counts.
 */
void
StatsCountsToShares(const double *counts, double total, double *share, int k)
{
	for (int i = 0; i < k; i++)
	{
		double		s = counts[i] / total;

		share[i] = (s == 0.0) ? STATS_EMPTY_SHARE : s;
	}
}

/*
 * StatsCountIntoBins counts the sample x (in any order) into k open-ended
 * bins separated by the k-1 ascending inner edges: a value falls in bin
 * #(edges <= x) (numpy.searchsorted(edges, x, "right")), so bin i holds
 * edges[i-1] <= x < edges[i]; the first bin takes everything below
 * edges[0], the last everything from edges[k-2] up. This is also
 * numpy.histogram's rule for the bins between the outer edges.
 */
void
StatsCountIntoBins(const double *x, size_t n, const double *edges, int k,
				   double *counts)
{
	for (int i = 0; i < k; i++)
		counts[i] = 0.0;
	for (size_t j = 0; j < n; j++)
		counts[UpperBound(edges, (size_t) (k - 1), x[j])] += 1.0;
}

/*
 * StatsPsiShares returns the population stability index
 * sum (cur - ref) * ln(cur / ref) over k positive shares.
 */
double
StatsPsiShares(const double *ref, const double *cur, int k)
{
	double		psi = 0.0;

	for (int i = 0; i < k; i++)
		psi += (cur[i] - ref[i]) * log(cur[i] / ref[i]);
	return psi;
}

/*
 * SumShares returns the sum of k shares.
 */
static double
SumShares(const double *v, int k)
{
	double		s = 0.0;

	for (int i = 0; i < k; i++)
		s += v[i];
	return s;
}

/*
 * RelEntr returns x ln(x / y), 0 when x is 0 (scipy.special.rel_entr).
 */
static inline double
RelEntr(double x, double y)
{
	return x > 0.0 ? x * log(x / y) : 0.0;
}

/*
 * StatsKlShares returns KL(ref || cur) in nats after normalising both
 * share vectors to sum 1, as scipy.stats.entropy(ref, cur).
 */
double
StatsKlShares(const double *ref, const double *cur, int k)
{
	double		sr = SumShares(ref, k),
				sc = SumShares(cur, k),
				kl = 0.0;

	for (int i = 0; i < k; i++)
		kl += RelEntr(ref[i] / sr, cur[i] / sc);
	return kl;
}

/*
 * StatsJsShares returns the Jensen-Shannon distance (natural log, the
 * square root of the divergence) between two share vectors, as
 * scipy.spatial.distance.jensenshannon.
 */
double
StatsJsShares(const double *ref, const double *cur, int k)
{
	double		sr = SumShares(ref, k),
				sc = SumShares(cur, k),
				left = 0.0,
				right = 0.0;

	for (int i = 0; i < k; i++)
	{
		double		p = ref[i] / sr;
		double		q = cur[i] / sc;
		double		m = (p + q) / 2.0;

		left += RelEntr(p, m);
		right += RelEntr(q, m);
	}
	return sqrt((left + right) / 2.0);
}

/* ------------------------------------------------------------------------
 * Wasserstein and Kolmogorov-Smirnov
 * ------------------------------------------------------------------------
 */

/*
 * StatsWasserstein returns the first Wasserstein distance between two
 * sorted finite samples: the integral over the merged support of
 * |U(t) - V(t)| where U and V are the empirical CDFs.
 */
double
StatsWasserstein(const double *u, size_t nu, const double *v, size_t nv)
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

		if (j >= nv || (i < nu && u[i] <= v[j]))
			next = u[i];
		else
			next = v[j];
		if (next > prev)
		{
			double		cu = (double) i / (double) nu;
			double		cv = (double) j / (double) nv;

			sum += fabs(cu - cv) * (next - prev);
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
	A = malloc(sizeof(double) * (size_t) (n + 2 > lenA ? n + 2 : lenA));
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
			free(A);
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
	free(A);
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
		long double a = ((long double) (n - j - nxfl) - alpha) / (long double) n;
		long double b = ((long double) (nxfl + j) + alpha) / (long double) n;
		long double loga = (long double) (n - j) * logl(a) +
		(long double) (j - 1) * logl(b) + logc;
		long double term = expl(loga);

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

	H = calloc((size_t) m * m, sizeof(double));
	Hp = calloc((size_t) m * m, sizeof(double));
	T = calloc((size_t) m * m, sizeof(double));
	v = malloc(sizeof(double) * m);
	w = malloc(sizeof(double) * m);
	if (!H || !Hp || !T || !v || !w)
	{
		free(H);
		free(Hp);
		free(T);
		free(v);
		free(w);
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
	free(H);
	free(Hp);
	free(T);
	free(v);
	free(w);
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

	gp = malloc(sizeof(double) * npwrs);
	tgp = malloc(sizeof(double) * npwrs);
	omp = malloc(sizeof(double) * npwrs);
	V0 = calloc(npwrs, sizeof(double));
	V1 = calloc(npwrs, sizeof(double));
	if (!gp || !tgp || !omp || !V0 || !V1)
	{
		free(gp);
		free(tgp);
		free(omp);
		free(V0);
		free(V1);
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
	free(gp);
	free(tgp);
	free(omp);
	free(V0);
	free(V1);
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
		r0 += ref_counts[i];
		r1 += cur_counts[i];
	}
	total = r0 + r1;
	for (int i = 0; i < k; i++)
	{
		double		col = ref_counts[i] + cur_counts[i];

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

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------
 */

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

/*
 * UpperBound returns the number of elements of sorted x that are <= v. The
 * loop has no data-dependent branch (the compiler emits a conditional
 * move), which matters when millions of values are binned.
 */
static size_t
UpperBound(const double *x, size_t n, double v)
{
	const double *base = x;

	if (n == 0)
		return 0;
	while (n > 1)
	{
		size_t		half = n / 2;

		base = (base[half - 1] <= v) ? base + half : base;
		n -= half;
	}
	return (size_t) (base - x) + (*base <= v);
}

/*
 * DoubleKey maps a double to an unsigned integer with the same order.
 */
static inline uint64_t
DoubleKey(double d)
{
	uint64_t	u;

	memcpy(&u, &d, sizeof(u));
	return (u & 0x8000000000000000ULL) ? ~u : (u | 0x8000000000000000ULL);
}

/*
 * KeyDouble inverts DoubleKey.
 */
static inline double
KeyDouble(uint64_t k)
{
	uint64_t	u = (k & 0x8000000000000000ULL) ? (k & ~0x8000000000000000ULL) : ~k;
	double		d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

/*
 * CompareDoubles orders two doubles for qsort.
 */static int
CompareDoubles(const void *pa, const void *pb)
{
	double		a = *(const double *) pa,
				b = *(const double *) pb;

	return (a > b) - (a < b);
}

/*
 * RadixSortDoubles sorts x by an LSD radix sort on 11-bit digits (6 passes)
 * of the order-preserving keys, skipping passes where every key shares the
 * digit. Falls back to qsort if the scratch buffer cannot be allocated.
 */
static void
RadixSortDoubles(double *x, size_t n)
{
	enum
	{
		RADIX_BITS = 11,
		RADIX_SIZE = 1 << RADIX_BITS,
		RADIX_PASSES = (64 + RADIX_BITS - 1) / RADIX_BITS
	};
	uint64_t   *keys = malloc(sizeof(uint64_t) * n);
	uint64_t   *tmp = malloc(sizeof(uint64_t) * n);
	size_t	   *counts = calloc((size_t) RADIX_PASSES * RADIX_SIZE, sizeof(size_t));
	uint64_t   *src,
			   *dst;

	if (!keys || !tmp || !counts)
	{
		free(keys);
		free(tmp);
		free(counts);
		qsort(x, n, sizeof(double), CompareDoubles);
		return;
	}
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	k = DoubleKey(x[i]);

		keys[i] = k;
		for (int p = 0; p < RADIX_PASSES; p++)
			counts[p * RADIX_SIZE + ((k >> (RADIX_BITS * p)) & (RADIX_SIZE - 1))]++;
	}
	src = keys;
	dst = tmp;
	for (int p = 0; p < RADIX_PASSES; p++)
	{
		size_t	   *offs = counts + p * RADIX_SIZE;
		size_t		sum = 0;
		bool		trivial = false;

		for (int b = 0; b < RADIX_SIZE; b++)
		{
			size_t		c = offs[b];

			if (c == n)
				trivial = true;
			offs[b] = sum;
			sum += c;
		}
		if (trivial)
			continue;			/* every key has the same digit here */
		for (size_t i = 0; i < n; i++)
		{
			uint64_t	k = src[i];

			dst[offs[(k >> (RADIX_BITS * p)) & (RADIX_SIZE - 1)]++] = k;
		}
		{
			uint64_t   *t = src;

			src = dst;
			dst = t;
		}
	}
	for (size_t i = 0; i < n; i++)
		x[i] = KeyDouble(src[i]);
	free(keys);
	free(tmp);
	free(counts);
}
