/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  Pure C statistics behind mlops' drift detection: samples, quantiles,
 *	  binning and the divergences on binned shares (PSI, KL, JS).  The other
 *	  statistics live beside it: stats_ks.c (Wasserstein, Kolmogorov-Smirnov
 *	  and the Kolmogorov distributions), stats_chi2.c (the chi-square
 *	  statistic; its distribution is common/distributions.c) and
 *	  stats_adwin.c (ADWIN).
 *
 * Design
 * ------
 * Every function here works on plain C arrays of finite doubles; the SQL
 * layer (drift.c) drops NULL, NaN and infinite elements, sorts the samples
 * once with StatsSort and then calls as many statistics as it needs on the
 * same sorted arrays. Nothing calls exit(): errors come back as a return
 * code plus a message in the caller's buffer.
 *
 * Memory and interrupts: every buffer comes from StatsAllocArray and goes
 * back through StatsFree (StatsBinShares' results are the caller's to
 * free), and every loop over data calls StatsPoll with its counter.  Both
 * go through the hooks of StatsSetHooks: in the server, palloc (huge
 * allocations allowed, PostgreSQL's limits apply) and CHECK_FOR_INTERRUPTS,
 * so a cancel interrupts a long computation and frees what it allocated
 * with its memory context; in the unit tests, malloc, free and nothing.
 *
 * Extreme values: the samples may hold any finite doubles, so a difference
 * of two of them can overflow (1.7e308 - (-1.7e308)).  Wherever one is
 * formed (quantile interpolation, Sturges' bin width, the Wasserstein
 * integral) and overflows, the computation is redone on the halved values
 * and scaled back, which is exact in binary floating point; results are
 * unchanged whenever nothing overflows.  A Wasserstein distance larger than
 * the largest double comes back as +Infinity for the caller to refuse.
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
 *	  incomplete gamma function Q(dof/2, x/2) (series / continued fraction)
 *	  of common/distributions.c, called by the SQL layer;
 *	- ADWIN: River's ADWIN (Bifet & Gavalda's exponential histogram with
 *	  clock 32, 5 buckets per row, sub-windows of at least 5, a grace
 *	  period of 10, every bucket of a row considered as a cut point, the
 *	  detector reset on the update after a detection).
 *
 * These are our own implementations of the published algorithms; the
 * oracle tests (test/oracle/test_drift.py) compare them with SciPy, and
 * test/unit/test_stats.c tests the four files without PostgreSQL.
 *
 *-------------------------------------------------------------------------
 */
#include "drift/stats.h"
#include "drift/stats_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double LerpNumpy(double a, double b, double t);
static void QuantileRanks(size_t n, double q, size_t *lo, size_t *hi, double *t);
static void SelectRanks(double *x, size_t lo, size_t hi, const size_t *ranks, int nranks);
static int	QuantileEdges(const double *ref, size_t n, bool sorted, int bins, double *edges);
static int	SturgesEdges(const double *ref, size_t nref, const double *cur, size_t ncur,
						 double **edges);
static void RadixSortDoubles(double *x, size_t n);
/* StatsCountIntoBins: values per block, and the most edges counted linearly */
#define BIN_BLOCK 1024
#define BIN_LINEAR_EDGES 32
static size_t CountBlocksLinear(const double *x, size_t n, const double *edges, int k,
								double *counts);
static size_t UpperBound(const double *x, size_t n, double v);
static size_t LowerBound(const double *x, size_t n, double v);

/* the hooks in use; NULL members mean the defaults */
static StatsHooks hooks;

/* ------------------------------------------------------------------------
 * Memory and interrupts
 * ------------------------------------------------------------------------
 */

/*
 * StatsSetHooks installs the allocation and interrupt hooks (a NULL member,
 * or a NULL hooks, restores that default).
 */
void
StatsSetHooks(const StatsHooks *h)
{
	if (h == NULL)
		memset(&hooks, 0, sizeof(hooks));
	else
		hooks = *h;
}

/*
 * StatsAllocArray returns room for n elements of elem_size bytes, or NULL
 * when the size overflows or memory is short.
 */
void *
StatsAllocArray(size_t n, size_t elem_size)
{
	size_t		size;

	if (elem_size != 0 && n > SIZE_MAX / elem_size)
		return NULL;
	size = n * elem_size;
	if (size == 0)
		size = 1;
	return hooks.alloc ? hooks.alloc(size) : malloc(size);
}

/*
 * StatsAllocZeroArray is StatsAllocArray with the memory zeroed.
 */
void *
StatsAllocZeroArray(size_t n, size_t elem_size)
{
	void	   *p = StatsAllocArray(n, elem_size);

	if (p != NULL)
		memset(p, 0, n * elem_size);
	return p;
}

/*
 * StatsFree releases what StatsAllocArray returned; NULL is allowed.
 */
void
StatsFree(void *ptr)
{
	if (ptr == NULL)
		return;
	if (hooks.release)
		hooks.release(ptr);
	else
		free(ptr);
}

/*
 * StatsInterrupt calls the interrupt hook, if any.
 */
void
StatsInterrupt(void)
{
	if (hooks.interrupt)
		hooks.interrupt();
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
		StatsPoll(i);
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
		for (size_t step = 1;; step++)
		{
			double		t;

			StatsPoll(step);
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
	ranks = StatsAllocArray(2 * (size_t) bins, sizeof(size_t));
	copy = StatsAllocArray(n, sizeof(double));
	if (!ranks || !copy)
	{
		StatsFree(ranks);
		StatsFree(copy);
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
	StatsFree(ranks);
	StatsFree(copy);
	return 0;
}

/*
 * LerpNumpy interpolates between a and b as numpy's _lerp does: from a for
 * t < 0.5 and from b for t >= 0.5, which keeps the result monotone.  When
 * b - a overflows it interpolates between the halves and doubles the
 * result (numpy would return infinity or NaN there).
 */
static double
LerpNumpy(double a, double b, double t)
{
	double		diff = b - a;

	if (!isfinite(diff))
		return 2.0 * LerpNumpy(a / 2.0, b / 2.0, t);
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
 * sample per bin in new arrays (*ref_share, *cur_share, *nbins entries,
 * freed with StatsFree). "quantile" binning has bins (2 .. 10000) bins whose inner edges are the
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
		if (bins < STATS_MIN_BINS || bins > STATS_MAX_BINS)
		{
			snprintf(err, errlen, "bins must be between %d and %d, got %d",
					 STATS_MIN_BINS, STATS_MAX_BINS, bins);
			return -1;
		}
		k = bins;
		edges = StatsAllocArray((size_t) k, sizeof(double));
		if (!edges || QuantileEdges(ref, nref, ref_sorted, bins, edges) != 0)
			goto oom;
	}
	else
	{
		k = SturgesEdges(ref, nref, cur, ncur, &edges);
		if (k == 0)
		{
			snprintf(err, errlen, "the samples' range cannot be split into Sturges bins");
			return -1;
		}
		if (k < 0)
			goto oom;
	}
	rc = StatsAllocArray((size_t) k, sizeof(double));
	cc = StatsAllocArray((size_t) k, sizeof(double));
	if (!rc || !cc)
		goto oom;
	StatsCountIntoBins(ref, nref, edges, k, rc);
	StatsCountIntoBins(cur, ncur, edges, k, cc);
	StatsFree(edges);
	StatsCountsToShares(rc, (double) nref, rc, k);
	StatsCountsToShares(cc, (double) ncur, cc, k);
	*ref_share = rc;
	*cur_share = cc;
	*nbins = k;
	return 0;

oom:
	StatsFree(rc);
	StatsFree(cc);
	StatsFree(edges);
	snprintf(err, errlen, "out of memory");
	return -1;
}

/*
 * SturgesEdges computes numpy.histogram_bin_edges(ref + cur, "sturges") and
 * stores the inner edges (k - 1 of them) in a new array *edges; returns k,
 * 0 when the range cannot be split, or -1 when out of memory.  When the
 * range of the samples overflows, the edges are computed on the halved
 * range and doubled.
 */
static int
SturgesEdges(const double *ref, size_t nref, const double *cur, size_t ncur,
			 double **edges)
{
	double		lo = ref[0],
				hi = ref[0],
				scale,
				first,
				last,
				width,
				step;
	int			k;

	for (size_t i = 0; i < nref; i++)
	{
		StatsPoll(i);
		lo = fmin(lo, ref[i]);
		hi = fmax(hi, ref[i]);
	}
	for (size_t i = 0; i < ncur; i++)
	{
		StatsPoll(i);
		lo = fmin(lo, cur[i]);
		hi = fmax(hi, cur[i]);
	}
	scale = isfinite(hi - lo) ? 1.0 : 0.5;
	first = lo * scale;
	last = hi * scale;
	if (first == last)
	{
		first -= 0.5;
		last += 0.5;
	}
	width = (hi * scale - lo * scale) / (log2((double) (nref + ncur)) + 1.0);
	if (width != 0.0)
	{
		double		nb = ceil((last - first) / width);

		if (!(nb >= 1.0) || nb > 1e6)
			return 0;
		k = (int) nb;
	}
	else
		k = 1;
	/* numpy.linspace(first, last, k + 1); only the inner edges matter */
	*edges = StatsAllocArray((size_t) k, sizeof(double));
	if (*edges == NULL)
		return -1;
	step = (last - first) / (double) k;
	for (int i = 1; i < k; i++)
		(*edges)[i - 1] = ((double) i * step + first) / scale;
	return k;
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

		StatsPoll((size_t) i);
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
	size_t		j = 0;

	for (int i = 0; i < k; i++)
		counts[i] = 0.0;
	if (k - 1 <= BIN_LINEAR_EDGES)
		j = CountBlocksLinear(x, n, edges, k, counts);
	for (; j < n; j++)
	{
		StatsPoll(j);
		counts[UpperBound(edges, (size_t) (k - 1), x[j])] += 1.0;
	}
}

/*
 * CountBlocksLinear is StatsCountIntoBins for few edges, over the whole
 * blocks of BIN_BLOCK values at the start of x; it returns how many values
 * it counted (the rest go through the binary search).  A value's bin is the
 * number of edges <= it, found one edge at a time for the whole block: k-1
 * compare-and-add passes over a block in the first-level cache, with a trip
 * count the compiler can vectorize, where one binary search per value is a
 * chain of dependent loads.  NaN compares false with every edge and lands
 * in bin 0, as with UpperBound.  The counts are exact, the same as before.
 */
static size_t
CountBlocksLinear(const double *x, size_t n, const double *edges, int k, double *counts)
{
	uint32_t	bin[BIN_BLOCK];
	int64_t		local[BIN_LINEAR_EDGES + 1] = {0};
	size_t		start;

	for (start = 0; start + BIN_BLOCK <= n; start += BIN_BLOCK)
	{
		const double *block = x + start;

		StatsPoll(start);
		memset(bin, 0, sizeof(bin));
		for (int e = 0; e < k - 1; e++)
		{
			double		edge = edges[e];

			for (int i = 0; i < BIN_BLOCK; i++)
				bin[i] += (uint32_t) (block[i] >= edge);
		}
		for (int i = 0; i < BIN_BLOCK; i++)
			local[bin[i]]++;
	}
	for (int i = 0; i < k; i++)
		counts[i] += (double) local[i];
	return start;
}

/*
 * StatsCountSortedIntoBins is StatsCountIntoBins for a sorted sample: the
 * same bins and counts, found by one binary search per edge instead of
 * one per value.
 */
void
StatsCountSortedIntoBins(const double *x, size_t n, const double *edges, int k,
						 double *counts)
{
	size_t		below = 0;

	for (int i = 0; i < k - 1; i++)
	{
		size_t		upto = LowerBound(x, n, edges[i]);

		StatsPoll((size_t) i);
		counts[i] = (double) (upto - below);
		below = upto;
	}
	counts[k - 1] = (double) (n - below);
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
	{
		StatsPoll((size_t) i);
		psi += (cur[i] - ref[i]) * log(cur[i] / ref[i]);
	}
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
	{
		StatsPoll((size_t) i);
		s += v[i];
	}
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
	{
		StatsPoll((size_t) i);
		kl += RelEntr(ref[i] / sr, cur[i] / sc);
	}
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

		StatsPoll((size_t) i);
		left += RelEntr(p, m);
		right += RelEntr(q, m);
	}
	return sqrt((left + right) / 2.0);
}

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------
 */


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
 * LowerBound returns the number of elements of sorted x that are < v
 * (branch-free, as UpperBound).
 */
static size_t
LowerBound(const double *x, size_t n, double v)
{
	const double *base = x;

	if (n == 0)
		return 0;
	while (n > 1)
	{
		size_t		half = n / 2;

		base = (base[half - 1] < v) ? base + half : base;
		n -= half;
	}
	return (size_t) (base - x) + (*base < v);
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
 */
static int
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
	uint64_t   *keys = StatsAllocArray(n, sizeof(uint64_t));
	uint64_t   *tmp = StatsAllocArray(n, sizeof(uint64_t));
	size_t	   *counts = StatsAllocZeroArray((size_t) RADIX_PASSES * RADIX_SIZE, sizeof(size_t));
	uint64_t   *src,
			   *dst;

	if (!keys || !tmp || !counts)
	{
		StatsFree(keys);
		StatsFree(tmp);
		StatsFree(counts);
		qsort(x, n, sizeof(double), CompareDoubles);
		return;
	}
	for (size_t i = 0; i < n; i++)
	{
		uint64_t	k = DoubleKey(x[i]);

		StatsPoll(i);

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

			StatsPoll(i);
			dst[offs[(k >> (RADIX_BITS * p)) & (RADIX_SIZE - 1)]++] = k;
		}
		{
			uint64_t   *t = src;

			src = dst;
			dst = t;
		}
	}
	for (size_t i = 0; i < n; i++)
	{
		StatsPoll(i);
		x[i] = KeyDouble(src[i]);
	}
	StatsFree(keys);
	StatsFree(tmp);
	StatsFree(counts);
}
