/*-------------------------------------------------------------------------
 *
 * ab_sql.c
 *	  The C helpers behind the A/B tests of sql/install/52_ab_tests.sql:
 *	  the sticky first assignment of a user (a 64-bit hash of test id and
 *	  user id against the variants' cumulative weights) and the statistics
 *	  of ab_results and ab_test_health, which ab_stats.c computes.
 *
 * These are internal functions (mlops._ab_*), executable only by the
 * extension owner: the public functions are PL/pgSQL and call them.  They
 * read no table and run no SQL.  Undefined statistics come back as NULL.
 *
 * The hash is PostgreSQL's hash_bytes_extended (Jenkins' lookup3, 64-bit)
 * of the user id's bytes seeded with the test id, finished with
 * SplitMix64's finalizer (AbMix64: raw lookup3 of near-identical ids such
 * as u1..u2000 split measurably less evenly than chance), so a user gets
 * independent draws in different tests and the same draw every time in one
 * test.  The draw only decides a user's first assignment, which
 * mlops.ab_assignments then remembers: later weight changes move nobody.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "deploy/deploy.h"
#include "deploy/ab_stats.h"
#include "common/common.h"

PG_FUNCTION_INFO_V1(mlops_ab_choose);
PG_FUNCTION_INFO_V1(mlops_ab_ztest);
PG_FUNCTION_INFO_V1(mlops_ab_wilson);
PG_FUNCTION_INFO_V1(mlops_ab_welch);
PG_FUNCTION_INFO_V1(mlops_ab_holm);
PG_FUNCTION_INFO_V1(mlops_ab_chisquare);

static int	AbFloat8Array(ArrayType *arr, const char *what, double *out, bool *nulls_out);
static double AbCount(int64 v, const char *what);

/*
 * mlops_ab_choose returns the 1-based index of the variant a user is first
 * assigned to: _ab_choose(test_id bigint, user_id text, weights float8[]).
 */
Datum
mlops_ab_choose(PG_FUNCTION_ARGS)
{
	int64		test_id = PG_GETARG_INT64(0);
	text	   *user_id = PG_GETARG_TEXT_PP(1);
	double		weights[AB_MAX_VARIANTS];
	int			k = AbFloat8Array(PG_GETARG_ARRAYTYPE_P(2), "weights", weights, NULL);
	uint64		hash;
	int			chosen;

	hash = AbMix64(hash_bytes_extended((const unsigned char *) VARDATA_ANY(user_id),
									   (int) VARSIZE_ANY_EXHDR(user_id), (uint64) test_id));
	chosen = AbChooseVariant(hash, weights, k);
	if (chosen < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("variant weights must be finite, non-negative and not all zero")));
	PG_RETURN_INT32(chosen + 1);
}

/*
 * mlops_ab_ztest returns the two-sided p-value of the pooled two-proportion
 * z-test of x1/n1 against x0/n0, or NULL when it is undefined:
 * _ab_ztest(x1, n1, x0, n0 bigint).
 */
Datum
mlops_ab_ztest(PG_FUNCTION_ARGS)
{
	double		z,
				p;

	if (AbTwoProportionZTest(AbCount(PG_GETARG_INT64(0), "x1"), AbCount(PG_GETARG_INT64(1), "n1"),
							 AbCount(PG_GETARG_INT64(2), "x0"), AbCount(PG_GETARG_INT64(3), "n0"),
							 &z, &p) != 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(p);
}

/*
 * mlops_ab_wilson returns the Wilson score interval {low, high} of x/n at
 * level 1 - alpha, or NULL when n = 0: _ab_wilson(x, n bigint, alpha float8).
 */
Datum
mlops_ab_wilson(PG_FUNCTION_ARGS)
{
	double		alpha = PG_GETARG_FLOAT8(2);
	double		low,
				high;
	Datum		elems[2];

	if (!(alpha > 0 && alpha < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("alpha must be between 0 and 1 (exclusive)"),
				 errdetail("Got %g.", alpha)));
	if (AbWilsonInterval(AbCount(PG_GETARG_INT64(0), "x"), AbCount(PG_GETARG_INT64(1), "n"),
						 alpha, &low, &high) != 0)
		PG_RETURN_NULL();
	elems[0] = Float8GetDatum(low);
	elems[1] = Float8GetDatum(high);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, 2, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * mlops_ab_welch returns the two-sided p-value of Welch's t-test of group 1
 * against group 0 from sizes, means and sample variances, or NULL when it
 * is undefined: _ab_welch(n1 bigint, mean1, var1 float8, n0 bigint, mean0,
 * var0 float8).  NULL means or variances (groups of fewer than 2) give NULL.
 */
Datum
mlops_ab_welch(PG_FUNCTION_ARGS)
{
	double		t,
				df,
				p;

	for (int i = 0; i < 6; i++)
		if (PG_ARGISNULL(i))
			PG_RETURN_NULL();
	if (AbWelchTTest(AbCount(PG_GETARG_INT64(0), "n1"), PG_GETARG_FLOAT8(1), PG_GETARG_FLOAT8(2),
					 AbCount(PG_GETARG_INT64(3), "n0"), PG_GETARG_FLOAT8(4), PG_GETARG_FLOAT8(5),
					 &t, &df, &p) != 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(p);
}

/*
 * mlops_ab_holm returns Holm's adjustment of an array of p-values; NULL
 * elements are left out of the family and stay NULL: _ab_holm(float8[]).
 */
Datum
mlops_ab_holm(PG_FUNCTION_ARGS)
{
	double		p[AB_MAX_VARIANTS],
				adj[AB_MAX_VARIANTS];
	bool		nulls[AB_MAX_VARIANTS];
	Datum		elems[AB_MAX_VARIANTS];
	int			m = AbFloat8Array(PG_GETARG_ARRAYTYPE_P(0), "p-values", p, nulls);
	int			dims[1];
	int			lbs[1] = {1};

	for (int i = 0; i < m; i++)
	{
		if (nulls[i])
			p[i] = NAN;
		else if (!(p[i] >= 0 && p[i] <= 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("p-values must lie between 0 and 1"),
					 errdetail("Got %g.", p[i])));
	}
	AbHolm(p, m, adj);
	for (int i = 0; i < m; i++)
	{
		nulls[i] = isnan(adj[i]);
		elems[i] = Float8GetDatum(nulls[i] ? 0.0 : adj[i]);
	}
	dims[0] = m;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, nulls, 1, dims, lbs, FLOAT8OID,
											 sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * mlops_ab_chisquare returns {statistic, dof, p_value} of the chi-square
 * goodness-of-fit test of observed counts against shares proportional to
 * weights, or NULL when it is undefined (fewer than 2 categories, no
 * observations): _ab_chisquare(observed bigint[], weights float8[]).
 */
Datum
mlops_ab_chisquare(PG_FUNCTION_ARGS)
{
	ArrayType  *obs_arr = PG_GETARG_ARRAYTYPE_P(0);
	double		obs[AB_MAX_VARIANTS],
				weights[AB_MAX_VARIANTS];
	int			k = AbFloat8Array(PG_GETARG_ARRAYTYPE_P(1), "weights", weights, NULL);
	Datum	   *items;
	bool	   *inulls;
	int			n;
	double		stat;
	int			dof;
	Datum		elems[3];

	if (ARR_NDIM(obs_arr) > 1 || ARR_ELEMTYPE(obs_arr) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("observed counts must be a one-dimensional bigint array")));
	deconstruct_array(obs_arr, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &items, &inulls, &n);
	if (n != k)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("observed counts and weights must have the same length"),
				 errdetail("Got %d counts and %d weights.", n, k)));
	for (int i = 0; i < n; i++)
	{
		if (inulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("observed counts must not contain NULL")));
		obs[i] = AbCount(DatumGetInt64(items[i]), "observed count");
	}
	if (AbChiSquareGof(obs, weights, k, &stat, &dof) != 0)
		PG_RETURN_NULL();
	elems[0] = Float8GetDatum(stat);
	elems[1] = Float8GetDatum((double) dof);
	elems[2] = Float8GetDatum(MlopsChi2Sf(stat, (double) dof));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, 3, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * AbFloat8Array copies a one-dimensional float8 array of 1 to
 * AB_MAX_VARIANTS elements into out and returns its length.  NULL elements
 * are refused unless nulls_out is given, which receives them.
 */
static int
AbFloat8Array(ArrayType *arr, const char *what, double *out, bool *nulls_out)
{
	Datum	   *items;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(arr) > 1 || ARR_ELEMTYPE(arr) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional float8 array", what)));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &items, &nulls, &n);
	if (n < 1 || n > AB_MAX_VARIANTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must have between 1 and %d elements", what, AB_MAX_VARIANTS),
				 errdetail("Got %d.", n)));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i] && nulls_out == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", what)));
		if (nulls_out != NULL)
			nulls_out[i] = nulls[i];
		out[i] = nulls[i] ? 0.0 : DatumGetFloat8(items[i]);
	}
	return n;
}

/*
 * AbCount returns a non-negative count as a double, refusing negative ones.
 */
static double
AbCount(int64 v, const char *what)
{
	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what),
				 errdetail("Got " INT64_FORMAT ".", v)));
	return (double) v;
}
