/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  Pure C statistics for drift detection: quantiles and binning, PSI,
 *	  KL divergence, Jensen-Shannon distance, Wasserstein distance, the
 *	  two-sample Kolmogorov-Smirnov test, the chi-square test of a 2 x k
 *	  contingency table, the regularized incomplete gamma function, the
 *	  Kolmogorov distributions and the ADWIN change detector.
 *
 *	  No PostgreSQL headers: the module allocates through StatsAlloc (malloc
 *	  unless the caller installs other hooks; the server installs palloc and
 *	  CHECK_FOR_INTERRUPTS, see drift.c), reports errors through return
 *	  codes and a caller-supplied buffer, and is unit-tested on its own
 *	  (test/unit/test_stats.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_STATS_H
#define MLOPS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* share given to an empty bin or category by PSI, KL and JS */
#define STATS_EMPTY_SHARE 0.0001

/* the maximum sample size for which ks_2samp's "auto" uses the exact test */
#define STATS_KS_MAX_EXACT_N 10000

/* the range of the number of quantile bins of PSI, KL and JS */
#define STATS_MIN_BINS 2
#define STATS_MAX_BINS 10000

/* the largest magnitude of a value ADWIN accepts (its variance must not overflow) */
#define STATS_ADWIN_MAX_ABS 1e100

/*
 * StatsHooks lets the caller choose how the module allocates and how a long
 * computation can be interrupted.  alloc returns NULL when out of memory (or
 * does not return); interrupt is called every few thousand elements of
 * every loop over data and may not return (a query cancel): everything the
 * module allocates must then be freed by its owner (palloc'd memory is).
 * NULL members keep the defaults: malloc, free and no interrupt checks.
 */
typedef struct StatsHooks
{
	void	   *(*alloc) (size_t size);
	void		(*release) (void *ptr);
	void		(*interrupt) (void);
} StatsHooks;

extern void StatsSetHooks(const StatsHooks *hooks);
extern void *StatsAllocArray(size_t n, size_t elem_size);
extern void *StatsAllocZeroArray(size_t n, size_t elem_size);
extern void StatsFree(void *ptr);
extern void StatsInterrupt(void);

typedef enum StatsBinning
{
	STATS_BINNING_QUANTILE,		/* edges at the reference's quantiles */
	STATS_BINNING_STURGES		/* equal width over both samples, Sturges */
} StatsBinning;

/* ---- samples ---- */
extern size_t StatsDropNonFinite(double *x, size_t n, size_t *dropped);
extern void StatsSort(double *x, size_t n);
extern double StatsQuantileSorted(const double *x, size_t n, double q);

/* ---- binned shares and the divergences computed from them ---- */
extern int	StatsBinShares(const double *ref, size_t nref, bool ref_sorted,
						   const double *cur, size_t ncur,
						   int bins, StatsBinning binning,
						   double **ref_share, double **cur_share,
						   int *nbins, char *err, size_t errlen);
extern void StatsCountIntoBins(const double *x, size_t n, const double *edges,
							   int k, double *counts);
extern void StatsCountSortedIntoBins(const double *x, size_t n, const double *edges,
									 int k, double *counts);
extern double StatsPsiShares(const double *ref, const double *cur, int k);
extern double StatsKlShares(const double *ref, const double *cur, int k);
extern double StatsJsShares(const double *ref, const double *cur, int k);
extern void StatsCountsToShares(const double *counts, double total,
								double *share, int k);

/* ---- distances and tests on sorted finite samples ---- */
/* +Infinity when the distance exceeds the largest double */
extern double StatsWasserstein(const double *u, size_t nu,
							   const double *v, size_t nv);
extern void StatsKsTwoSample(const double *x, size_t nx,
							 const double *y, size_t ny,
							 double *statistic, double *p_value);
extern int	StatsChiSquare2xK(const double *ref_counts,
							  const double *cur_counts, int k,
							  double *statistic, int *dof,
							  char *err, size_t errlen);

/* ---- special functions and distributions ---- */
/* the chi-square and incomplete gamma functions are in common/distributions.c */
extern double StatsSmirnovSf(int64_t n, double x);
extern double StatsKolmogornSf(int64_t n, double x);
extern double StatsKsExactOutsideSquare(int64_t n, int64_t h);
extern double StatsKsExactOutsideInside(int64_t m, int64_t n, int64_t g,
										int64_t h);

/* ---- ADWIN ---- */
#define STATS_ADWIN_MAX_ROWS 64
#define STATS_ADWIN_MAX_BUCKETS 5
#define STATS_ADWIN_CLOCK 32
#define STATS_ADWIN_MIN_WINDOW_LENGTH 5
#define STATS_ADWIN_GRACE_PERIOD 10
#define STATS_ADWIN_FORMAT 1

/*
 * StatsAdwin is the whole state of one ADWIN detector (River's ADWIN with
 * its AdaptiveWindowing helper). It is plain data with no pointers, so it
 * can be stored as bytes and read back on the same build.
 */
typedef struct StatsAdwin
{
	int32_t		format;			/* STATS_ADWIN_FORMAT */
	int32_t		nrows;			/* rows of buckets in use */
	double		delta;
	double		total;			/* sum of the values in the window */
	double		variance;		/* sum of squared deviations in the window */
	double		width;			/* number of values in the window */
	int64_t		tick;			/* updates since the last reset */
	int64_t		updates;		/* updates over the detector's life */
	int64_t		detections;		/* detections over the detector's life */
	bool		drift_detected; /* the last update detected a change */
	int32_t		count[STATS_ADWIN_MAX_ROWS];	/* buckets per row */
	double		bucket_total[STATS_ADWIN_MAX_ROWS][STATS_ADWIN_MAX_BUCKETS + 1];
	double		bucket_variance[STATS_ADWIN_MAX_ROWS][STATS_ADWIN_MAX_BUCKETS + 1];
} StatsAdwin;

extern void StatsAdwinInit(StatsAdwin *a, double delta);
extern bool StatsAdwinUpdate(StatsAdwin *a, double value);
extern double StatsAdwinMean(const StatsAdwin *a);

#endif							/* MLOPS_STATS_H */
