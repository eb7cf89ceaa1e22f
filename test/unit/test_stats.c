/* unit-sources: src/drift/stats.c src/drift/stats_ks.c src/drift/stats_chi2.c src/drift/stats_adwin.c src/common/distributions.c */
/*-------------------------------------------------------------------------
 *
 * test_stats.c
 *	  Unit tests of src/drift/stats.c. Reference values come from SciPy/numpy
 *	  (data/stats_expected.h, written by gen_stats_expected.py with Debian's
 *	  /usr/bin/python3); the ADWIN streams were drawn with CPython's
 *	  random.Random(12345) and random.Random(42) (data/adwin_*.txt) and the
 *	  expected detections are River's own test expectations.
 *	  Prints TAP; exits non-zero when a check fails.
 *
 *	  Run from test/unit (the harness does): ../../tmp_check/unit/test_stats
 *
 *-------------------------------------------------------------------------
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/distributions.h"
#include "drift/stats.h"
#include "data/stats_expected.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int	test_no = 0;
static int	failures = 0;

/*
 * Check prints one TAP line for cond and counts failures.
 */
static void
Check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void
Check(int cond, const char *fmt, ...)
{
	va_list		ap;

	test_no++;
	printf("%s %d - ", cond ? "ok" : "not ok", test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		failures++;
}

/*
 * Close reports whether got is within abs_tol or rel_tol (relative to
 * want) of want; NaN equals NaN.
 */
static int
Close(double got, double want, double abs_tol, double rel_tol)
{
	if (isnan(want))
		return isnan(got);
	if (isinf(want))
		return got == want;
	return fabs(got - want) <= abs_tol || fabs(got - want) <= rel_tol * fabs(want);
}

/*
 * Sample fills a malloc'd array with the generator's values, exactly as
 * gen_stats_expected.py's lcg() does.
 */
static double *
Sample(unsigned seed, int n, int kind, double shift)
{
	double	   *x = malloc(sizeof(double) * (n > 0 ? n : 1));
	unsigned	s = seed;

	for (int i = 0; i < n; i++)
	{
		double		v = 0.0;

		for (int k = 0; k < 4; k++)
		{
			s = s * 1664525u + 1013904223u;
			v += (double) (s >> 8) / 16777216.0;
		}
		v -= 2.0;
		if (kind == 1)
			v = floor(v * 4.0) / 4.0;
		else if (kind == 2)
			v = 1.5;
		x[i] = v + shift;
	}
	return x;
}

/*
 * ReadStream reads one number per line from path into a malloc'd array.
 */
static double *
ReadStream(const char *path, int *n)
{
	FILE	   *f = fopen(path, "r");
	double	   *x = NULL;
	int			cap = 0,
				len = 0;
	double		v;

	*n = 0;
	if (f == NULL)
		return NULL;
	while (fscanf(f, "%lf", &v) == 1)
	{
		if (len == cap)
		{
			cap = cap ? cap * 2 : 1024;
			x = realloc(x, sizeof(double) * cap);
		}
		x[len++] = v;
	}
	fclose(f);
	*n = len;
	return x;
}

/*
 * TestAdwinStream runs a fresh detector over the stream in path and checks
 * the detection positions.
 */
static void
TestAdwinStream(const char *path, const int *want, int nwant)
{
	int			n,
				got[64],
				ngot = 0,
				same;
	double	   *x = ReadStream(path, &n);
	StatsAdwin	a;

	if (x == NULL)
	{
		Check(0, "adwin: read %s", path);
		return;
	}
	StatsAdwinInit(&a, 0.002);
	for (int i = 0; i < n; i++)
		if (StatsAdwinUpdate(&a, x[i]) && ngot < 64)
			got[ngot++] = i;
	same = (ngot == nwant);
	for (int i = 0; same && i < nwant; i++)
		same = (got[i] == want[i]);
	printf("# %s: %d detections:", path, ngot);
	for (int i = 0; i < ngot; i++)
		printf(" %d", got[i]);
	printf("\n");
	Check(same, "adwin detections on %s match River", path);
	free(x);
}


/* what the counting hooks saw */
static long hook_allocs = 0;
static long hook_frees = 0;
static long hook_interrupts = 0;

/*
 * CountingAlloc, CountingFree and CountingInterrupt are StatsHooks that
 * count their calls, so the tests can see that every buffer goes through
 * the hooks and that long loops poll for interrupts.
 */
static void *
CountingAlloc(size_t size)
{
	hook_allocs++;
	return malloc(size);
}

static void
CountingFree(void *ptr)
{
	hook_frees++;
	free(ptr);
}

static void
CountingInterrupt(void)
{
	hook_interrupts++;
}

/*
 * PsiOf returns the PSI of two samples (quantile binning with bins bins,
 * or Sturges'), or NAN when binning fails.
 */
static double
PsiOf(const double *x, int nx, const double *y, int ny, int bins, StatsBinning binning)
{
	double	   *rs,
			   *cs,
				v;
	int			nb;
	char		err[256];

	if (StatsBinShares(x, nx, false, y, ny, bins, binning, &rs, &cs, &nb, err, sizeof(err)) != 0)
		return NAN;
	v = StatsPsiShares(rs, cs, nb);
	StatsFree(rs);
	StatsFree(cs);
	return v;
}

/*
 * TestExtremes checks the statistics on samples near the largest double:
 * a sample scaled by 2^1020 (exact) has the PSI of the unscaled one with
 * both binnings, quantiles never overflow, and the Wasserstein distance
 * scales exactly or reports +Infinity when it exceeds the largest double.
 */
static void
TestExtremes(void)
{
	int			n = 2000;
	double	   *x = Sample(7, n, 0, 0.0);
	double	   *y = Sample(8, n, 0, 0.5);
	double	   *xs = malloc(sizeof(double) * n);
	double	   *ys = malloc(sizeof(double) * n);
	double		scale = ldexp(1.0, 1020);	/* values up to about 2.5 * 1.1e307 */
	double		two[2] = {-DBL_MAX, DBL_MAX};
	double		lo[1] = {-DBL_MAX},
				hi[1] = {DBL_MAX},
				a[1] = {-0.5 * DBL_MAX},
				b[1] = {0.25 * DBL_MAX};

	for (int i = 0; i < n; i++)
	{
		xs[i] = x[i] * scale * 6.0;
		ys[i] = y[i] * scale * 6.0;
		x[i] *= 6.0;
		y[i] *= 6.0;
	}
	Check(!isfinite(xs[0] - -xs[0]) || fabs(xs[0]) > 1e307, "the scaled samples reach %.3g", xs[0]);
	for (int bins = 2; bins <= 20; bins += 9)
	{
		double		p = PsiOf(x, n, y, n, bins, STATS_BINNING_QUANTILE);
		double		ps = PsiOf(xs, n, ys, n, bins, STATS_BINNING_QUANTILE);

		Check(p > 0.01 && p == ps, "psi with %d quantile bins of extreme values %.17g equals %.17g", bins, ps, p);
	}
	{
		double		p = PsiOf(x, n, y, n, 10, STATS_BINNING_STURGES);
		double		ps = PsiOf(xs, n, ys, n, 10, STATS_BINNING_STURGES);

		Check(p > 0.01 && p == ps, "psi with sturges bins of extreme values %.17g equals %.17g", ps, p);
	}
	{
		/* few values: a quantile edge interpolates across most of the double range */
		double		r[3] = {-1.5e308, 1.5e308, 1.0e308},
					c[3] = {1.2e308, 1.4e308, 1.5e308},
					rd[3],
					cd[3];

		for (int i = 0; i < 3; i++)
		{
			rd[i] = ldexp(r[i], -1000);
			cd[i] = ldexp(c[i], -1000);
		}
		for (int bins = 2; bins <= 5; bins++)
		{
			double		p = PsiOf(rd, 3, cd, 3, bins, STATS_BINNING_QUANTILE);
			double		ps = PsiOf(r, 3, c, 3, bins, STATS_BINNING_QUANTILE);

			Check(p > 0.1 && p == ps, "psi with %d bins of three values near +-1.5e308 %.17g equals %.17g",
				  bins, ps, p);
		}
	}
	Check(StatsQuantileSorted(two, 2, 0.5) == 0.0 && StatsQuantileSorted(two, 2, 0.25) == -0.5 * DBL_MAX &&
		  StatsQuantileSorted(two, 2, 1.0) == DBL_MAX,
		  "quantiles between -DBL_MAX and DBL_MAX do not overflow");
	StatsSort(x, n);
	StatsSort(y, n);
	StatsSort(xs, n);
	StatsSort(ys, n);
	Check(StatsWasserstein(xs, n, ys, n) == StatsWasserstein(x, n, y, n) * scale,
		  "wasserstein of scaled samples scales exactly: %.17g", StatsWasserstein(xs, n, ys, n));
	Check(StatsWasserstein(a, 1, b, 1) == 0.75 * DBL_MAX,
		  "wasserstein of -0.5 and 0.25 DBL_MAX is 0.75 DBL_MAX, computed on halves");
	Check(isinf(StatsWasserstein(lo, 1, hi, 1)), "a wasserstein distance beyond DBL_MAX is +Infinity");
	free(x);
	free(y);
	free(xs);
	free(ys);
}

/*
 * TestHooks checks that the statistics allocate through the hooks, free
 * everything they allocate, and poll for interrupts in their loops.
 */
static void
TestHooks(void)
{
	StatsHooks	h = {CountingAlloc, CountingFree, CountingInterrupt};
	int			n = 200000;
	double	   *x = Sample(3, n, 0, 0.0);
	double	   *y = Sample(4, n, 0, 0.1);
	double		d,
				p;
	char		err[256];
	double	   *rs,
			   *cs;
	int			nb,
				rc;

	StatsSetHooks(&h);
	hook_allocs = hook_frees = hook_interrupts = 0;
	StatsSort(x, n);
	Check(hook_allocs == 3 && hook_frees == 3 && hook_interrupts >= n / 16384,
		  "sorting allocates through the hooks, frees it all and polls (%ld, %ld, %ld)",
		  hook_allocs, hook_frees, hook_interrupts);
	hook_allocs = hook_frees = hook_interrupts = 0;
	rc = StatsBinShares(x, n, true, y, n, 10, STATS_BINNING_QUANTILE, &rs, &cs, &nb, err, sizeof(err));
	Check(rc == 0 && hook_allocs == 3 && hook_frees == 1 && hook_interrupts >= 2 * n / 16384,
		  "binning allocates edges and shares through the hooks and polls (%ld, %ld, %ld)",
		  hook_allocs, hook_frees, hook_interrupts);
	StatsFree(rs);
	StatsFree(cs);
	Check(hook_frees == 3, "the shares are freed with StatsFree");
	hook_interrupts = 0;
	StatsSort(y, n);
	StatsKsTwoSample(x, 3000, y, 2999, &d, &p);
	Check(hook_interrupts >= 3000, "the exact KS p-value polls once per lattice row (%ld)", hook_interrupts);
	StatsSetHooks(NULL);
	hook_interrupts = 0;
	StatsSort(x, n);
	Check(hook_interrupts == 0, "StatsSetHooks(NULL) restores the defaults");
	free(x);
	free(y);
}


/*
 * TestBinsManyValues checks StatsCountIntoBins on samples longer than its
 * blocks (counted by comparing with each edge) and with more edges than it
 * counts that way (binary search), with values on the edges, NaN and
 * infinities, against a direct count.
 */
static void
TestBinsManyValues(void)
{
	int			nvals = 5000 + 17;	/* whole blocks and a tail */
	double	   *x = malloc(sizeof(double) * nvals);
	double		edges[48];
	double		got[49];
	double		want[49];

	for (int i = 0; i < nvals; i++)
		x[i] = (double) ((i * 7919) % 97 - 48) / 8.0;	/* -6 .. 6 in steps of 1/8: on the edges */
	x[3] = NAN;
	x[1500] = INFINITY;
	x[2500] = -INFINITY;
	x[nvals - 1] = NAN;
	for (int nedges = 0; nedges <= 47; nedges += (nedges < 40 ? 1 : 7))
	{
		int			same = 1;

		for (int e = 0; e < nedges; e++)
			edges[e] = -5.0 + 10.0 * e / (nedges > 1 ? nedges - 1 : 1);
		for (int b = 0; b <= nedges; b++)
			want[b] = 0;
		for (int i = 0; i < nvals; i++)
		{
			int			b = 0;

			while (b < nedges && x[i] >= edges[b])
				b++;
			want[b] += 1;
		}
		StatsCountIntoBins(x, (size_t) nvals, edges, nedges + 1, got);
		for (int b = 0; b <= nedges; b++)
			same = same && got[b] == want[b];
		Check(same, "%d values into %d bins equal a direct count", nvals, nedges + 1);
	}
	free(x);
}

int
main(void)
{
	char		err[256];

	/* quantiles */
	for (size_t c = 0; c < NELEM(quant_cases); c++)
	{
		const QuantCase *q = &quant_cases[c];
		double	   *x = Sample(q->seed, q->n, q->kind, q->shift);
		double		v;

		StatsSort(x, q->n);
		v = StatsQuantileSorted(x, q->n, q->q);
		Check(Close(v, q->value, 0, 1e-15) || v == q->value,
			  "quantile n=%d q=%g: %.17g vs numpy %.17g", q->n, q->q, v, q->value);
		free(x);
	}

	/* KS and Wasserstein */
	for (size_t c = 0; c < NELEM(ks_cases); c++)
	{
		const KsCase *k = &ks_cases[c];
		double	   *x = Sample(k->seed1, k->n1, k->kind1, k->shift1);
		double	   *y = Sample(k->seed2, k->n2, k->kind2, k->shift2);
		double		d,
					p,
					w;

		StatsSort(x, k->n1);
		StatsSort(y, k->n2);
		StatsKsTwoSample(x, k->n1, y, k->n2, &d, &p);
		w = StatsWasserstein(x, k->n1, y, k->n2);
		Check(Close(d, k->d, 1e-15, 1e-12), "ks n1=%d n2=%d statistic %.17g vs %.17g", k->n1, k->n2, d, k->d);
		Check(Close(p, k->p, 1e-12, 1e-9), "ks n1=%d n2=%d p-value %.17g vs %.17g", k->n1, k->n2, p, k->p);
		Check(Close(w, k->w, 1e-15, 1e-10), "wasserstein n1=%d n2=%d %.17g vs %.17g", k->n1, k->n2, w, k->w);
		free(x);
		free(y);
	}

	/* finite-n Kolmogorov distribution, every branch */
	for (size_t c = 0; c < NELEM(kstwo_cases); c++)
	{
		const KsTwoCase *k = &kstwo_cases[c];
		double		sf = StatsKolmogornSf(k->n, k->x);

		Check(Close(sf, k->sf, 1e-12, 1e-9), "kstwo.sf(%.6g, %ld) %.17g vs %.17g", k->x, k->n, sf, k->sf);
	}
	for (size_t c = 0; c < NELEM(smirnov_cases); c++)
	{
		const SmirnovCase *k = &smirnov_cases[c];
		double		sf = StatsSmirnovSf(k->n, k->x);

		Check(Close(sf, k->sf, 1e-13, 1e-9), "smirnov(%ld, %g) %.17g vs %.17g", k->n, k->x, sf, k->sf);
	}

	/* chi-square distribution and incomplete gamma */
	for (size_t c = 0; c < NELEM(chi2_cases); c++)
	{
		const Chi2Case *k = &chi2_cases[c];
		double		sf = MlopsChi2Sf(k->x, k->df);
		double		p = MlopsGammaP(k->df / 2, k->x / 2);

		Check(Close(sf, k->sf, 1e-13, 1e-9), "chi2.sf(%g, %g) %.17g vs %.17g", k->x, k->df, sf, k->sf);
		Check(Close(p, k->p, 1e-13, 1e-9), "gammainc(%g, %g) %.17g vs %.17g", k->df / 2, k->x / 2, p, k->p);
	}
	for (size_t c = 0; c < NELEM(chi_tables); c++)
	{
		const ChiTable *t = &chi_tables[c];
		double		stat,
					p;
		int			dof,
					rc;

		rc = StatsChiSquare2xK(t->ref, t->cur, t->k, &stat, &dof, err, sizeof(err));
		p = MlopsChi2Sf(stat, (double) dof);
		Check(rc == 0 && Close(stat, t->stat, 1e-14, 1e-12) && Close(p, t->p, 1e-13, 1e-9) && dof == t->dof,
			  "chi2_contingency 2x%d: %.17g %.17g %d vs %.17g %.17g %d", t->k, stat, p, dof, t->stat, t->p, t->dof);
	}
	{
		double		r[2] = {3, 0},
					c[2] = {4, 0},
					stat;
		int			dof;

		Check(StatsChiSquare2xK(r, c, 2, &stat, &dof, err, sizeof(err)) == -1 && strstr(err, "zero") != NULL,
			  "chi-square rejects a category with no observations: %s", err);
	}

	/* PSI, KL and JS on both binnings */
	for (size_t c = 0; c < NELEM(div_cases); c++)
	{
		const DivCase *k = &div_cases[c];
		double	   *x = Sample(k->seed1, k->n1, k->kind1, k->shift1);
		double	   *y = Sample(k->seed2, k->n2, k->kind2, k->shift2);
		double	   *rs,
				   *cs;
		int			nb;

		/* quantile edges by selection on unsorted samples, then from sorted ones */
		for (int sorted = 0; sorted < 2; sorted++)
		{
			if (sorted)
			{
				StatsSort(x, k->n1);
				StatsSort(y, k->n2);
			}
			if (StatsBinShares(x, k->n1, sorted, y, k->n2, k->bins, STATS_BINNING_QUANTILE, &rs, &cs, &nb, err, sizeof(err)) == 0)
			{
				Check(Close(StatsPsiShares(rs, cs, nb), k->psi_q, 1e-14, 1e-10), "psi quantile case %zu (%s): %.17g vs %.17g", c, sorted ? "sorted" : "unsorted", StatsPsiShares(rs, cs, nb), k->psi_q);
				Check(Close(StatsKlShares(rs, cs, nb), k->kl_q, 1e-14, 1e-10), "kl quantile case %zu (%s): %.17g vs %.17g", c, sorted ? "sorted" : "unsorted", StatsKlShares(rs, cs, nb), k->kl_q);
				Check(Close(StatsJsShares(rs, cs, nb), k->js_q, 1e-14, 1e-10), "js quantile case %zu (%s): %.17g vs %.17g", c, sorted ? "sorted" : "unsorted", StatsJsShares(rs, cs, nb), k->js_q);
				free(rs);
				free(cs);
			}
			else
				Check(0, "quantile binning case %zu: %s", c, err);
		}
		if (StatsBinShares(x, k->n1, true, y, k->n2, k->bins, STATS_BINNING_STURGES, &rs, &cs, &nb, err, sizeof(err)) == 0)
		{
			Check(nb == k->nbins_s, "sturges case %zu: %d bins vs numpy %d", c, nb, k->nbins_s);
			Check(Close(StatsPsiShares(rs, cs, nb), k->psi_s, 1e-14, 1e-10), "psi sturges case %zu: %.17g vs %.17g", c, StatsPsiShares(rs, cs, nb), k->psi_s);
			Check(Close(StatsKlShares(rs, cs, nb), k->kl_s, 1e-14, 1e-10), "kl sturges case %zu: %.17g vs %.17g", c, StatsKlShares(rs, cs, nb), k->kl_s);
			Check(Close(StatsJsShares(rs, cs, nb), k->js_s, 1e-14, 1e-10), "js sturges case %zu: %.17g vs %.17g", c, StatsJsShares(rs, cs, nb), k->js_s);
			free(rs);
			free(cs);
		}
		else
			Check(0, "sturges binning case %zu: %s", c, err);
		free(x);
		free(y);
	}
	{
		double		x[1] = {1.0},
				   *rs,
				   *cs;
		int			nb;

		Check(StatsBinShares(x, 1, true, x, 1, 1, STATS_BINNING_QUANTILE, &rs, &cs, &nb, err, sizeof(err)) == -1,
			  "bins < 2 is rejected: %s", err);
		Check(StatsBinShares(x, 1, true, x, 1, STATS_MAX_BINS + 1, STATS_BINNING_QUANTILE, &rs, &cs, &nb, err, sizeof(err)) == -1 &&
			  strstr(err, "between 2 and 10000") != NULL,
			  "bins > 10000 is rejected: %s", err);
		Check(StatsBinShares(x, 1, true, x, 1, 2147483647, STATS_BINNING_QUANTILE, &rs, &cs, &nb, err, sizeof(err)) == -1,
			  "bins = INT_MAX is rejected before anything is allocated: %s", err);
		Check(StatsAllocArray(SIZE_MAX / 4, 8) == NULL, "StatsAllocArray refuses a size that overflows");
		Check(StatsBinShares(x, 0, true, x, 1, 10, STATS_BINNING_QUANTILE, &rs, &cs, &nb, err, sizeof(err)) == -1,
			  "an empty sample is rejected: %s", err);
	}

	/* samples: non-finite values dropped, radix sort agrees with a check */
	{
		double		x[6] = {1.0, NAN, -INFINITY, 2.0, INFINITY, -3.0};
		size_t		dropped,
					n = StatsDropNonFinite(x, 6, &dropped);

		Check(n == 3 && dropped == 3 && x[0] == 1.0 && x[1] == 2.0 && x[2] == -3.0,
			  "StatsDropNonFinite keeps the 3 finite values in order");
	}
	{
		int			n = 100000,
					sorted = 1;
		double	   *x = Sample(99, n, 0, 0.0);

		for (int i = 0; i < n; i += 7)
			x[i] = -x[i] * 1e-300;	/* mix signs and magnitudes */
		x[5] = 0.0;
		x[6] = -0.0;
		StatsSort(x, n);
		for (int i = 1; i < n; i++)
			if (x[i - 1] > x[i])
				sorted = 0;
		Check(sorted, "StatsSort sorts 100000 mixed-sign values");
		free(x);
	}

	/* ADWIN: River's two regression checks */
	{
		static const int want1[] = {1023};
		static const int want2[] = {1023, 2015, 3007};

		TestAdwinStream("data/adwin_12345.txt", want1, 1);
		TestAdwinStream("data/adwin_42.txt", want2, 3);
	}
	/* ADWIN: statistics of the window, constant stream never detects */
	{
		StatsAdwin	a;
		int			detected = 0;
		double		sum = 0,
					mean,
					ss = 0;

		StatsAdwinInit(&a, 0.002);
		for (int i = 0; i < 5000; i++)
			detected += StatsAdwinUpdate(&a, 1.0);
		Check(detected == 0 && a.width == 5000 && StatsAdwinMean(&a) == 1.0,
			  "adwin: a constant stream of 5000 values is never a change");
		StatsAdwinInit(&a, 0.002);
		for (int i = 0; i < 200; i++)
		{
			StatsAdwinUpdate(&a, (double) (i % 7));
			sum += i % 7;
		}
		mean = sum / 200;
		for (int i = 0; i < 200; i++)
			ss += ((i % 7) - mean) * ((i % 7) - mean);
		Check(a.width == 200 && Close(a.total, sum, 0, 1e-12) && Close(a.variance, ss, 0, 1e-9),
			  "adwin: width, total and variance of a 200-value window (%g %g %g)", a.width, a.total, a.variance);
	}

	/* counting a sorted sample into bins: the counts a direct count gives, ties on edges included */
	{
		double		x[1000];
		double		edges[4] = {-1.5, 0.0, 0.25, 3.0};
		double		sorted_counts[5];
		double		any_counts[5];
		double		want[5] = {0, 0, 0, 0, 0};
		double		none[5];
		int			same = 1;

		for (int i = 0; i < 1000; i++)
			x[i] = (double) ((i * 37) % 41 - 20) / 4.0;	/* -5 .. 5 in steps of 0.25: values on the edges */
		StatsSort(x, 1000);
		for (int i = 0; i < 1000; i++)
		{
			int			b = 0;

			while (b < 4 && x[i] >= edges[b])
				b++;
			want[b] += 1;
		}
		StatsCountSortedIntoBins(x, 1000, edges, 5, sorted_counts);
		StatsCountIntoBins(x, 1000, edges, 5, any_counts);
		for (int i = 0; i < 5; i++)
			same = same && sorted_counts[i] == want[i] && any_counts[i] == want[i];
		Check(same, "sorted and unsorted bin counts equal a direct count (%g %g %g %g %g)",
			  sorted_counts[0], sorted_counts[1], sorted_counts[2], sorted_counts[3], sorted_counts[4]);
		StatsCountSortedIntoBins(x, 0, edges, 5, none);
		Check(none[0] == 0 && none[4] == 0, "an empty sorted sample counts nothing");
		StatsCountSortedIntoBins(x, 1000, edges, 1, none);
		Check(none[0] == 1000, "one bin holds every value");
	}

	TestBinsManyValues();
	TestExtremes();
	TestHooks();

	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
