/*-------------------------------------------------------------------------
 *
 * distributions.h
 *	  Pure C distribution functions shared by the subsystems (no PostgreSQL
 *	  headers): the regularized incomplete gamma functions and the
 *	  chi-square survival function.  Included by common/common.h; unit
 *	  tests include it directly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_DISTRIBUTIONS_H
#define MLOPS_DISTRIBUTIONS_H

extern double MlopsGammaP(double a, double x);
extern double MlopsGammaQ(double a, double x);
extern double MlopsChi2Sf(double x, double dof);

#endif							/* MLOPS_DISTRIBUTIONS_H */
