/*-------------------------------------------------------------------------
 *
 * stats_int.h
 *	  What the files of the pure C statistics module (stats.c, stats_ks.c,
 *	  stats_chi2.c, stats_adwin.c) share and nobody else needs.  No
 *	  PostgreSQL headers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_STATS_INT_H
#define MLOPS_STATS_INT_H

#include "drift/stats.h"

/*
 * Clip01 clamps a probability to [0, 1].
 */
static inline double
Clip01(double p)
{
	if (p < 0.0)
		return 0.0;
	if (p > 1.0)
		return 1.0;
	return p;
}

/* interrupt checks happen once every STATS_POLL_EVERY elements of a loop */
#define STATS_POLL_EVERY 16384

/*
 * StatsPoll calls the interrupt hook when i is a multiple of
 * STATS_POLL_EVERY: call it with the loop counter in every loop over data.
 */
static inline void
StatsPoll(size_t i)
{
	if (i % STATS_POLL_EVERY == 0)
		StatsInterrupt();
}

#endif							/* MLOPS_STATS_INT_H */
