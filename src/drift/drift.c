/*-------------------------------------------------------------------------
 *
 * drift.c
 *	  SQL functions for drift statistics on two arrays, and the helpers the
 *	  drift subsystem shares for array arguments.
 *
 * Design of src/drift/
 * --------------------
 * Three layers sit on top of the pure C statistics (stats.c, stats_ks.c,
 * stats_chi2.c, stats_adwin.c, no PostgreSQL headers, unit-tested alone):
 *
 * 1. Array functions (this file: mlops.psi, kl_divergence, js_distance,
 *    wasserstein, ks_test, chi_square_test). They take the two samples as
 *    arrays, drop NULL, NaN and infinite elements, sort the numeric samples
 *    once and hand them to stats.c. They touch no table, so they are
 *    IMMUTABLE and PARALLEL SAFE.  Categories are counted by categories.c.
 *
 * 2. The drift detector. mlops.set_drift_reference (reference.c) snapshots
 *    a reference sample from a source: for each numeric column every finite
 *    value, sorted (what exact KS and quantile PSI need), for each
 *    categorical column the count of every category.
 *    mlops.set_drift_reference_from_model (reference_model.c) builds the
 *    same from the training statistics kept in a model version's
 *    input_schema (numeric columns then carry the training histogram
 *    instead of values).  mlops.detect_drift (detect.c) reads the current
 *    sample from a source, runs the chosen checks per column, returns a
 *    jsonb report and appends every check to mlops.drift_results.
 *
 * 3. ADWIN change detectors (adwin_sql.c): mlops.adwin over an array and
 *    named streaming detectors whose state lives in mlops.adwin_detectors.
 *
 * Sources.  A source is resolved by the one source resolver of common/
 * (source.c: a table or view name, or one read-only query; the same rules
 * and messages as mlops.train and predict_table) and read by sample.c in a
 * single scan of a read-only cursor, converting values exactly as training
 * does (numeric columns to double, categorical ones to their text).
 *
 * Arguments: every array argument is one-dimensional (22023 otherwise, so a
 * 2-D array is never silently flattened); bins lies in 2 .. 10000 and is
 * checked before anything is allocated.  The statistics allocate with palloc
 * and poll CHECK_FOR_INTERRUPTS through the hooks DriftInit installs (see
 * stats.c), so PostgreSQL's memory limits apply and a cancel stops them.
 *
 * Security invariant: user SQL (the source) always runs as the calling
 * role, with SPI in read-only mode (functions it calls act with the
 * caller's rights); the owner identity is taken only around reads and
 * writes of mlops' own tables (MlopsBeginOwner/MlopsEndOwner), never while
 * user SQL runs.  The source resolver refuses to run as the owner on behalf
 * of another role.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <limits.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "drift/drift.h"
#include "common/common.h"

PG_FUNCTION_INFO_V1(mlops_psi);
PG_FUNCTION_INFO_V1(mlops_psi_categorical);
PG_FUNCTION_INFO_V1(mlops_kl_divergence);
PG_FUNCTION_INFO_V1(mlops_js_distance);
PG_FUNCTION_INFO_V1(mlops_wasserstein);
PG_FUNCTION_INFO_V1(mlops_ks_test);
PG_FUNCTION_INFO_V1(mlops_chi_square_test);

static StatsBinning ParseBinning(text *binning);
static double *SampleArg(FunctionCallInfo fcinfo, int argno,
						 const char *what, int *n);
static void RequireTwoArgs(FunctionCallInfo fcinfo, int nargs);
static void *DriftStatsAlloc(size_t size);
static void DriftStatsFree(void *ptr);
static void DriftStatsInterrupt(void);

/* the hooks through which stats.c allocates and checks for interrupts */
static const StatsHooks drift_stats_hooks = {DriftStatsAlloc, DriftStatsFree, DriftStatsInterrupt};

/*
 * DriftInit makes the pure statistics allocate with palloc and check for
 * interrupts in their loops; called once from _PG_init.
 */
void
DriftInit(void)
{
	StatsSetHooks(&drift_stats_hooks);
}

/*
 * DriftStatsAlloc allocates for stats.c in the current memory context; sizes
 * beyond 1 GB are allowed up to PostgreSQL's huge allocation limit, and
 * running out of memory is an ERROR.
 */
static void *
DriftStatsAlloc(size_t size)
{
	return MemoryContextAllocHuge(CurrentMemoryContext, size);
}

/*
 * DriftStatsFree frees what DriftStatsAlloc allocated.
 */
static void
DriftStatsFree(void *ptr)
{
	pfree(ptr);
}

/*
 * DriftStatsInterrupt lets a cancel or a terminate stop a statistic.
 */
static void
DriftStatsInterrupt(void)
{
	CHECK_FOR_INTERRUPTS();
}

/* ------------------------------------------------------------------------
 * Array helpers shared with adwin_sql.c
 * ------------------------------------------------------------------------
 */

/*
 * DriftRequireOneDim raises invalid_parameter_value unless arr (argument
 * argname) has at most one dimension.
 */
void
DriftRequireOneDim(ArrayType *arr, const char *argname)
{
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"%s\" must be a one-dimensional array", argname),
				 errdetail("It has %d dimensions.", ARR_NDIM(arr)),
				 errhint("Pass the values as a flat array, for example ARRAY(SELECT unnest(a)).")));
}

/*
 * DriftArrayToDoubles returns the finite elements of a one-dimensional
 * float8[] in a palloc'd array, counting the NULL, NaN and infinite ones in
 * *dropped.  With keep_positions, *positions receives each kept element's
 * 0-based position in the input array.
 */
double *
DriftArrayToDoubles(ArrayType *arr, const char *argname, int *n, int *dropped,
					bool keep_positions, int **positions)
{
	int			nitems = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	/* ARR_DATA_PTR, spelled out to keep -Wsign-compare quiet */
	const double *data = (const double *) ((char *) arr +
										   (ARR_HASNULL(arr) ? (Size) arr->dataoffset :
											(Size) ARR_OVERHEAD_NONULLS(ARR_NDIM(arr))));
	bits8	   *bitmap = ARR_NULLBITMAP(arr);
	double	   *out;
	int		   *pos = NULL;
	int			kept = 0;

	if (ARR_ELEMTYPE(arr) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("argument \"%s\" must be a float8 array", argname)));
	DriftRequireOneDim(arr, argname);
	out = palloc_extended(sizeof(double) * Max(nitems, 1), MCXT_ALLOC_HUGE);
	if (keep_positions)
		pos = palloc_extended(sizeof(int) * Max(nitems, 1), MCXT_ALLOC_HUGE);
	for (int i = 0; i < nitems; i++)
	{
		double		v;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (bitmap && !(bitmap[i / 8] & (1 << (i % 8))))
			continue;
		v = *data++;
		if (!isfinite(v))
			continue;
		if (pos)
			pos[kept] = i;
		out[kept++] = v;
	}
	*n = kept;
	*dropped = nitems - kept;
	if (positions)
		*positions = pos;
	return out;
}

/*
 * DriftRequireNonEmpty raises an error when a sample has no usable value.
 */
void
DriftRequireNonEmpty(int n, int dropped, const char *what)
{
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the %s sample is empty", what),
				 dropped > 0 ?
				 errdetail("All %d of its elements are NULL, NaN or infinite, which are dropped.", dropped) :
				 errdetail("It has no elements."),
				 errhint("Pass at least one finite value.")));
}

/*
 * DriftValidateDelta raises an error unless 0 < delta < 1.
 */
void
DriftValidateDelta(double delta)
{
	if (!(delta > 0.0 && delta < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delta must be between 0 and 1 exclusive"),
				 errdetail("Got %g.", delta),
				 errhint("ADWIN's usual confidence is 0.002.")));
}

/* ------------------------------------------------------------------------
 * Array functions
 * ------------------------------------------------------------------------
 */

/*
 * BinnedMeasure bins the two numeric samples of a (reference, current,
 * bins, binning) call and applies measure to their shares.
 */
static Datum
BinnedMeasure(FunctionCallInfo fcinfo,
			  double (*measure) (const double *ref, const double *cur, int k))
{
	int			nr,
				nc,
				bins;
	double	   *r,
			   *c;
	StatsBinning binning;

	RequireTwoArgs(fcinfo, 2);
	binning = DriftBinsArg(fcinfo, 2, &bins);
	r = SampleArg(fcinfo, 0, "reference", &nr);
	c = SampleArg(fcinfo, 1, "current", &nc);
	PG_RETURN_FLOAT8(DriftBinnedMeasure(r, nr, c, nc, bins, binning, measure));
}

/*
 * DriftBinnedMeasure bins two finite numeric samples (bins, binning
 * checked by DriftBinsArg) and returns measure of their shares: the one
 * code path of PSI, KL and JS for arrays and tables.
 */
double
DriftBinnedMeasure(const double *r, int nr, const double *c, int nc, int bins,
				   StatsBinning binning,
				   double (*measure) (const double *ref, const double *cur, int k))
{
	double	   *rs,
			   *cs;
	int			k;
	double		result;
	char		err[256];

	if (StatsBinShares(r, nr, false, c, nc, bins, binning, &rs, &cs, &k, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err)));
	result = measure(rs, cs, k);
	StatsFree(rs);
	StatsFree(cs);
	return result;
}

/*
 * mlops_psi returns the population stability index of two numeric samples.
 */
Datum
mlops_psi(PG_FUNCTION_ARGS)
{
	return BinnedMeasure(fcinfo, StatsPsiShares);
}

/*
 * mlops_kl_divergence returns KL(reference || current) of the binned
 * shares of two numeric samples.
 */
Datum
mlops_kl_divergence(PG_FUNCTION_ARGS)
{
	return BinnedMeasure(fcinfo, StatsKlShares);
}

/*
 * mlops_js_distance returns the Jensen-Shannon distance between the binned
 * shares of two numeric samples.
 */
Datum
mlops_js_distance(PG_FUNCTION_ARGS)
{
	return BinnedMeasure(fcinfo, StatsJsShares);
}

/*
 * mlops_psi_categorical returns the population stability index of two
 * categorical samples over the union of their categories.
 */
Datum
mlops_psi_categorical(PG_FUNCTION_ARGS)
{
	CategoryTable t;
	int64		nr,
				nc,
				dr,
				dc;

	RequireTwoArgs(fcinfo, 2);
	CategoryTableInit(&t);
	CategoryCountArray(&t, PG_GETARG_ARRAYTYPE_P(0), "reference", true, &nr, &dr);
	CategoryCountArray(&t, PG_GETARG_ARRAYTYPE_P(1), "current", false, &nc, &dc);
	PG_RETURN_FLOAT8(DriftCategoryPsi(&t, nr, dr, nc, dc));
}

/*
 * DriftCategoryPsi returns the population stability index of the counts
 * of a category table (nr, nc counted values, dr, dc dropped ones), raising
 * an error when a sample is empty.
 */
double
DriftCategoryPsi(CategoryTable *t, int64 nr, int64 dr, int64 nc, int64 dc)
{
	double	   *rs,
			   *cs;

	DriftRequireNonEmpty((int) Min(nr, 1), (int) Min(dr, INT_MAX), "reference");
	DriftRequireNonEmpty((int) Min(nc, 1), (int) Min(dc, INT_MAX), "current");
	rs = palloc(sizeof(double) * t->n);
	cs = palloc(sizeof(double) * t->n);
	StatsCountsToShares(t->ref_counts, (double) nr, rs, t->n);
	StatsCountsToShares(t->cur_counts, (double) nc, cs, t->n);
	return StatsPsiShares(rs, cs, t->n);
}

/*
 * mlops_wasserstein returns the first Wasserstein distance of two samples.
 */
Datum
mlops_wasserstein(PG_FUNCTION_ARGS)
{
	int			nr,
				nc;
	double	   *r,
			   *c;

	RequireTwoArgs(fcinfo, 2);
	r = SampleArg(fcinfo, 0, "reference", &nr);
	c = SampleArg(fcinfo, 1, "current", &nc);
	StatsSort(r, nr);
	StatsSort(c, nc);
	PG_RETURN_FLOAT8(DriftWasserstein(r, nr, c, nc, NULL));
}

/*
 * mlops_ks_test runs the two-sided two-sample Kolmogorov-Smirnov test and
 * returns (statistic, p_value).
 */
Datum
mlops_ks_test(PG_FUNCTION_ARGS)
{
	int			nr,
				nc;
	double	   *r,
			   *c;

	RequireTwoArgs(fcinfo, 2);
	r = SampleArg(fcinfo, 0, "reference", &nr);
	c = SampleArg(fcinfo, 1, "current", &nc);
	PG_RETURN_DATUM(DriftKsResult(fcinfo, r, nr, c, nc));
}

/*
 * DriftKsResult sorts two finite samples and returns the (statistic,
 * p_value) row of their two-sample Kolmogorov-Smirnov test, for the array
 * and table forms of ks_test.
 */
Datum
DriftKsResult(FunctionCallInfo fcinfo, double *r, int nr, double *c, int nc)
{
	double		d,
				p;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ks_test must return a composite type");
	StatsSort(r, nr);
	StatsSort(c, nc);
	StatsKsTwoSample(r, nr, c, nc, &d, &p);
	values[0] = Float8GetDatum(d);
	values[1] = Float8GetDatum(p);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/*
 * mlops_chi_square_test runs the chi-square test of the 2 x k table of
 * category counts and returns (statistic, p_value, dof).
 */
Datum
mlops_chi_square_test(PG_FUNCTION_ARGS)
{
	CategoryTable t;
	int64		nr,
				nc,
				dr,
				dc;

	RequireTwoArgs(fcinfo, 2);
	CategoryTableInit(&t);
	CategoryCountArray(&t, PG_GETARG_ARRAYTYPE_P(0), "reference", true, &nr, &dr);
	CategoryCountArray(&t, PG_GETARG_ARRAYTYPE_P(1), "current", false, &nc, &dc);
	PG_RETURN_DATUM(DriftChiSquareResult(fcinfo, &t, nr, dr, nc, dc));
}

/*
 * DriftChiSquareResult returns the (statistic, p_value, dof) row of the
 * chi-square test of a category table's counts (nr, nc counted values, dr,
 * dc dropped ones), for the array and table forms of chi_square_test.
 */
Datum
DriftChiSquareResult(FunctionCallInfo fcinfo, CategoryTable *t, int64 nr, int64 dr,
					 int64 nc, int64 dc)
{
	double		stat,
				p;
	int			dof;
	char		err[256];
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "chi_square_test must return a composite type");
	DriftRequireNonEmpty((int) Min(nr, 1), (int) Min(dr, INT_MAX), "reference");
	DriftRequireNonEmpty((int) Min(nc, 1), (int) Min(dc, INT_MAX), "current");
	if (StatsChiSquare2xK(t->ref_counts, t->cur_counts, t->n, &stat, &dof,
						  err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err)));
	p = MlopsChi2Sf(stat, (double) dof);
	values[0] = Float8GetDatum(stat);
	values[1] = Float8GetDatum(p);
	values[2] = Int32GetDatum(dof);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/*
 * DriftWasserstein returns the Wasserstein distance of two sorted samples,
 * raising numeric_value_out_of_range when it exceeds the largest float8
 * (column names the checked column, or NULL).
 */
double
DriftWasserstein(const double *r, int nr, const double *c, int nc, const char *column)
{
	double		w = StatsWasserstein(r, nr, c, nc);

	if (isinf(w))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 column ? errmsg("wasserstein distance of column \"%s\" is out of range for type double precision",
								 MlopsClip(column, MLOPS_ECHO_MAX)) :
				 errmsg("wasserstein distance is out of range for type double precision"),
				 errdetail("The distance between the two samples exceeds %g.", DBL_MAX),
				 errhint("Scale the values down, for example by dividing both samples by 1e10.")));
	return w;
}

/*
 * RequireTwoArgs raises an error when one of the first nargs arguments is
 * NULL (the functions are STRICT, so this only guards direct calls).
 */
static void
RequireTwoArgs(FunctionCallInfo fcinfo, int nargs)
{
	for (int i = 0; i < nargs; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the %s sample must not be NULL", i == 0 ? "reference" : "current")));
}

/*
 * SampleArg returns the finite elements of float8[] argument argno and
 * raises an error when none is left.
 */
static double *
SampleArg(FunctionCallInfo fcinfo, int argno, const char *what, int *n)
{
	int			dropped;
	double	   *x = DriftArrayToDoubles(PG_GETARG_ARRAYTYPE_P(argno), what,
										n, &dropped, false, NULL);

	DriftRequireNonEmpty(*n, dropped, what);
	return x;
}

/*
 * DriftBinsArg checks the (bins, binning) arguments at argno and argno + 1
 * and returns the binning, with bins in *bins.
 */
StatsBinning
DriftBinsArg(FunctionCallInfo fcinfo, int argno, int *bins)
{
	StatsBinning binning;

	if (PG_ARGISNULL(argno) || PG_ARGISNULL(argno + 1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bins and binning must not be NULL")));
	*bins = PG_GETARG_INT32(argno);
	binning = ParseBinning(PG_GETARG_TEXT_PP(argno + 1));
	if (*bins < STATS_MIN_BINS || *bins > STATS_MAX_BINS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be between %d and %d", STATS_MIN_BINS, STATS_MAX_BINS),
				 errdetail("Got %d.", *bins),
				 errhint("The usual choice is 10 bins.")));
	return binning;
}

/*
 * ParseBinning maps 'quantile' and 'sturges' to their StatsBinning.
 */
static StatsBinning
ParseBinning(text *binning)
{
	char	   *s = text_to_cstring(binning);

	if (strcmp(s, "quantile") == 0)
		return STATS_BINNING_QUANTILE;
	if (strcmp(s, "sturges") == 0)
		return STATS_BINNING_STURGES;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown binning \"%s\"", MlopsClip(s, MLOPS_ECHO_MAX)),
			 errhint("Use 'quantile' (edges at the reference's quantiles) or 'sturges' (equal width over both samples).")));
	return STATS_BINNING_QUANTILE;	/* keep the compiler quiet */
}
