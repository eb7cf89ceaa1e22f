/*-------------------------------------------------------------------------
 *
 * stats_chi2.c
 *	  Pure C: the statistic of Pearson's chi-square test of a 2 x k table of
 *	  category counts (scipy.stats.chi2_contingency, with Yates' correction
 *	  when dof = 1).  Its p-value is MlopsChi2Sf(statistic, dof) of
 *	  common/distributions.c, which the SQL layer calls (a pure drift file
 *	  includes no common header).  See stats.c for the module's conventions.
 *
 *-------------------------------------------------------------------------
 */
#include "drift/stats.h"
#include "drift/stats_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

/* ------------------------------------------------------------------------
 * Chi-square
 * ------------------------------------------------------------------------
 */

/*
 * StatsChiSquare2xK computes the statistic of Pearson's chi-square test of
 * independence on the 2 x k table whose rows are ref_counts and cur_counts,
 * as scipy.stats.chi2_contingency (Yates' correction when dof = 1,
 * statistic 0 when dof = 0; the p-value is MlopsChi2Sf(statistic, dof),
 * which is 1 then). Returns 0, or -1 with a message in err when an
 * expected frequency is zero.
 */
int
StatsChiSquare2xK(const double *ref_counts, const double *cur_counts, int k,
				  double *statistic, int *dof,
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
		StatsPoll((size_t) i);
		r0 += ref_counts[i];
		r1 += cur_counts[i];
	}
	total = r0 + r1;
	for (int i = 0; i < k; i++)
	{
		double		col = ref_counts[i] + cur_counts[i];

		StatsPoll((size_t) i);
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
		return 0;
	}
	for (int i = 0; i < k; i++)
	{
		double		col = ref_counts[i] + cur_counts[i];

		StatsPoll((size_t) i);
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
	return 0;
}
