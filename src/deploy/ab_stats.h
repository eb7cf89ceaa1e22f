/*-------------------------------------------------------------------------
 *
 * ab_stats.h
 *	  Pure C statistics of A/B tests (no PostgreSQL headers): the normal and
 *	  Student t distributions, the two-proportion z-test, Wilson intervals,
 *	  Welch's t-test, Holm's adjustment, the chi-square goodness-of-fit
 *	  statistic and the weighted choice of a variant from a hash.
 *	  Unit-tested by test/unit/test_ab_stats.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_AB_STATS_H
#define MLOPS_AB_STATS_H

#include <stdint.h>

/* at most this many variants in one test */
#define AB_MAX_VARIANTS 20

extern double AbNormalSf(double z);
extern double AbNormalIsf(double p);
extern double AbBetaInc(double a, double b, double x, double y);
extern double AbStudentTSf(double t, double df);
extern int	AbTwoProportionZTest(double x1, double n1, double x0, double n0,
								 double *z, double *p_value);
extern int	AbWilsonInterval(double x, double n, double alpha,
							 double *low, double *high);
extern int	AbWelchTTest(double n1, double mean1, double var1,
						 double n0, double mean0, double var0,
						 double *t, double *df, double *p_value);
extern void AbHolm(const double *p, int m, double *adjusted);
extern int	AbChiSquareGof(const double *observed, const double *weights, int k,
						   double *statistic, int *dof);
extern uint64_t AbMix64(uint64_t z);
extern int	AbChooseVariant(uint64_t hash, const double *weights, int k);

#endif							/* MLOPS_AB_STATS_H */
