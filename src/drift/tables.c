/*-------------------------------------------------------------------------
 *
 * tables.c
 *	  The table forms of the drift statistics: mlops.psi, kl_divergence,
 *	  js_distance, wasserstein, ks_test and chi_square_test over one column
 *	  of two sources (reference, current, column_name ...).
 *
 * Data flow.  Each source goes through the one source resolver
 * (common/source.c) as the calling role, exactly as detect_drift's: a
 * table, view or read-only query.  Its row type is taken from the prepared
 * (not executed) query, so an unknown column or a type the statistic cannot
 * compare is refused before any row is read.  Then a column-only query,
 * SELECT s.<column> FROM (<source query>) AS s, runs through a read-only
 * cursor and sample.c's scan (DriftReadSample) converts every value as
 * detect_drift and training do (numbers to double, categories to text),
 * dropping NULL, NaN and infinite values, into a palloc'd array that
 * doubles as it fills: no SQL array is ever built.  The planner pulls the
 * subquery up, so a table is read by a plain sequential scan that deforms
 * the row only up to that column.
 *
 * The statistic itself is the one the array forms run (drift.c:
 * DriftBinnedMeasure, DriftWasserstein, DriftKsResult, DriftCategoryPsi,
 * DriftChiSquareResult over the pure stats*.c), on the same values in the
 * same order, so a table form returns exactly what the array form returns
 * for (SELECT array_agg(column) FROM source).
 *
 * Kinds: psi compares numbers on a numeric column and categories on a
 * text-like, boolean or enum column (as psi(text[], text[])); kl_divergence,
 * js_distance, wasserstein and ks_test need numeric columns; chi_square_test
 * needs categorical ones (a numeric column is cast in a source query).
 *
 * These functions run user SQL, so they are STABLE, never PARALLEL SAFE,
 * and SECURITY INVOKER: the source is read with the caller's rights only.
 * The resolver refuses a source statement that writes; while the column is
 * read the transaction is also marked read-only (XactReadOnly, restored on
 * the way out, error or not), so a function the source calls cannot write
 * either (25006, as in a read-only transaction; temporary tables excepted).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/portal.h"

#include "drift/drift.h"

PG_FUNCTION_INFO_V1(mlops_psi_table);
PG_FUNCTION_INFO_V1(mlops_kl_divergence_table);
PG_FUNCTION_INFO_V1(mlops_js_distance_table);
PG_FUNCTION_INFO_V1(mlops_wasserstein_table);
PG_FUNCTION_INFO_V1(mlops_ks_test_table);
PG_FUNCTION_INFO_V1(mlops_chi_square_test_table);

/* what a statistic accepts */
#define WANT_NUMERIC 'n'
#define WANT_CATEGORICAL 'c'
#define WANT_EITHER 'e'

/* both samples of one column, as the statistics take them */
typedef struct TableSamples
{
	char		kind;			/* KIND_NUMERIC or KIND_CATEGORICAL */
	double	   *ref;			/* numeric: finite values, in source order */
	int			nref;
	int64		ref_dropped;
	double	   *cur;
	int			ncur;
	int64		cur_dropped;
	CategoryTable cats;			/* categorical: both samples' counts */
	int64		ref_count;
	int64		cur_count;
} TableSamples;

static void ReadTableSamples(FunctionCallInfo fcinfo, const char *stat, char want,
							 TableSamples *ts);
static void ReadOneSource(const char *source, const char *what, const char *column,
						  const char *stat, char want, DriftColumn *col);
static int	SourceColumnOf(const char *query, const char *source, const char *what,
						   const char *column, Oid *typid, char **attname);
static void RequireKind(const char *stat, const char *column, const char *what,
						Oid typid, char kind, char want);
static Datum BinnedTableMeasure(FunctionCallInfo fcinfo, const char *stat,
								double (*measure) (const double *ref, const double *cur, int k));
static void RequireNumericSamples(TableSamples *ts);

/*
 * mlops_psi_table returns the population stability index of a column of
 * two sources: binned on a numeric column, over categories otherwise.
 */
Datum
mlops_psi_table(PG_FUNCTION_ARGS)
{
	MemoryContext callcxt = CurrentMemoryContext;
	TableSamples ts;
	StatsBinning binning;
	int			bins;
	double		result;

	binning = DriftBinsArg(fcinfo, 3, &bins);
	SPI_connect();
	ReadTableSamples(fcinfo, "psi", WANT_EITHER, &ts);
	if (ts.kind == KIND_NUMERIC)
	{
		RequireNumericSamples(&ts);
		result = DriftBinnedMeasure(ts.ref, ts.nref, ts.cur, ts.ncur, bins, binning,
									StatsPsiShares);
	}
	else
		result = DriftCategoryPsi(&ts.cats, ts.ref_count, ts.ref_dropped,
								  ts.cur_count, ts.cur_dropped);
	MemoryContextSwitchTo(callcxt);
	SPI_finish();
	PG_RETURN_FLOAT8(result);
}

/*
 * mlops_kl_divergence_table returns KL(reference || current) of the binned
 * shares of a numeric column of two sources.
 */
Datum
mlops_kl_divergence_table(PG_FUNCTION_ARGS)
{
	return BinnedTableMeasure(fcinfo, "kl_divergence", StatsKlShares);
}

/*
 * mlops_js_distance_table returns the Jensen-Shannon distance between the
 * binned shares of a numeric column of two sources.
 */
Datum
mlops_js_distance_table(PG_FUNCTION_ARGS)
{
	return BinnedTableMeasure(fcinfo, "js_distance", StatsJsShares);
}

/*
 * mlops_wasserstein_table returns the first Wasserstein distance of a
 * numeric column of two sources.
 */
Datum
mlops_wasserstein_table(PG_FUNCTION_ARGS)
{
	MemoryContext callcxt = CurrentMemoryContext;
	TableSamples ts;
	double		result;

	SPI_connect();
	ReadTableSamples(fcinfo, "wasserstein", WANT_NUMERIC, &ts);
	RequireNumericSamples(&ts);
	StatsSort(ts.ref, ts.nref);
	StatsSort(ts.cur, ts.ncur);
	result = DriftWasserstein(ts.ref, ts.nref, ts.cur, ts.ncur, NULL);
	MemoryContextSwitchTo(callcxt);
	SPI_finish();
	PG_RETURN_FLOAT8(result);
}

/*
 * mlops_ks_test_table runs the two-sample Kolmogorov-Smirnov test on a
 * numeric column of two sources and returns (statistic, p_value).
 */
Datum
mlops_ks_test_table(PG_FUNCTION_ARGS)
{
	MemoryContext callcxt = CurrentMemoryContext;
	TableSamples ts;
	Datum		result;

	SPI_connect();
	ReadTableSamples(fcinfo, "ks_test", WANT_NUMERIC, &ts);
	RequireNumericSamples(&ts);
	MemoryContextSwitchTo(callcxt);
	result = DriftKsResult(fcinfo, ts.ref, ts.nref, ts.cur, ts.ncur);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * mlops_chi_square_test_table runs the chi-square test of the category
 * counts of a categorical column of two sources and returns (statistic,
 * p_value, dof).
 */
Datum
mlops_chi_square_test_table(PG_FUNCTION_ARGS)
{
	MemoryContext callcxt = CurrentMemoryContext;
	TableSamples ts;
	Datum		result;

	SPI_connect();
	ReadTableSamples(fcinfo, "chi_square_test", WANT_CATEGORICAL, &ts);
	MemoryContextSwitchTo(callcxt);
	result = DriftChiSquareResult(fcinfo, &ts.cats, ts.ref_count, ts.ref_dropped,
								  ts.cur_count, ts.cur_dropped);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * BinnedTableMeasure reads (reference, current, column_name, bins,
 * binning) and applies measure to the binned shares of the column's two
 * numeric samples.
 */
static Datum
BinnedTableMeasure(FunctionCallInfo fcinfo, const char *stat,
				   double (*measure) (const double *ref, const double *cur, int k))
{
	MemoryContext callcxt = CurrentMemoryContext;
	TableSamples ts;
	StatsBinning binning;
	int			bins;
	double		result;

	binning = DriftBinsArg(fcinfo, 3, &bins);
	SPI_connect();
	ReadTableSamples(fcinfo, stat, WANT_NUMERIC, &ts);
	RequireNumericSamples(&ts);
	result = DriftBinnedMeasure(ts.ref, ts.nref, ts.cur, ts.ncur, bins, binning, measure);
	MemoryContextSwitchTo(callcxt);
	SPI_finish();
	PG_RETURN_FLOAT8(result);
}

/*
 * RequireNumericSamples raises the array forms' error when a numeric
 * sample has no finite value.
 */
static void
RequireNumericSamples(TableSamples *ts)
{
	DriftRequireNonEmpty(ts->nref, (int) Min(ts->ref_dropped, INT_MAX), "reference");
	DriftRequireNonEmpty(ts->ncur, (int) Min(ts->cur_dropped, INT_MAX), "current");
}

/*
 * ReadTableSamples reads the column named by argument 2 from the sources
 * of arguments 0 (reference) and 1 (current); SPI must be connected.  The
 * column must have the same kind in both sources.
 */
static void
ReadTableSamples(FunctionCallInfo fcinfo, const char *stat, char want, TableSamples *ts)
{
	char	   *reference = text_to_cstring(DriftRequireTextArg(fcinfo, 0, "reference"));
	char	   *current = text_to_cstring(DriftRequireTextArg(fcinfo, 1, "current"));
	char	   *column = text_to_cstring(DriftRequireTextArg(fcinfo, 2, "column_name"));
	DriftColumn col;
	char		ref_kind;

	memset(&col, 0, sizeof(col));
	memset(ts, 0, sizeof(*ts));
	col.name = column;
	CategoryTableInit(&col.cats);

	ReadOneSource(reference, "reference", column, stat, want, &col);
	ref_kind = col.kind;
	ts->kind = col.kind;
	if (col.kind == KIND_NUMERIC)
	{
		ts->ref = col.cur_values;
		ts->nref = col.ncur;
	}
	else
	{
		/* the reference was counted as "current": move its counts over */
		double	   *counts = col.cats.ref_counts;

		col.cats.ref_counts = col.cats.cur_counts;
		col.cats.cur_counts = counts;
		ts->ref_count = col.cur_count;
	}
	ts->ref_dropped = col.cur_dropped;

	ReadOneSource(current, "current", column, stat,
				  ref_kind == KIND_NUMERIC ? WANT_NUMERIC : WANT_CATEGORICAL, &col);
	if (col.kind == KIND_NUMERIC)
	{
		ts->cur = col.cur_values;
		ts->ncur = col.ncur;
	}
	ts->cur_count = col.cur_count;
	ts->cur_dropped = col.cur_dropped;
	ts->cats = col.cats;
}

/*
 * ReadOneSource reads column of one source (argument what) into col's
 * current sample: resolves the source as the caller, checks the column's
 * kind against want, and scans the column-only query.
 */
static void
ReadOneSource(const char *source, const char *what, const char *column,
			  const char *stat, char want, DriftColumn *col)
{
	DriftSource src;
	Oid			typid;
	char	   *attname;
	int64		rows;
	bool		save_read_only;

	SourceResolve(source, &src.spec);
	(void) SourceColumnOf(src.spec.query, source, what, column, &typid, &attname);
	col->kind = DriftColumnKind(typid);
	RequireKind(stat, column, what, typid, col->kind, want);
	/* the source only reads: functions it calls may not write either */
	save_read_only = XactReadOnly;
	XactReadOnly = true;
	PG_TRY();
	{
		src.portal = SourceOpen(psprintf("SELECT s.%s FROM (\n%s\n) AS s",
										 quote_identifier(attname), src.spec.query));
		src.desc = src.portal->tupDesc;
		DriftBindColumn(&src, col, 0);
		col->sort_current = false;
		DriftReadSample(&src, col, 1, &rows);
	}
	PG_FINALLY();
	{
		XactReadOnly = save_read_only;
	}
	PG_END_TRY();
}

/*
 * SourceColumnOf prepares (without running) a source's query and returns
 * the position of its column called column, with its base type in *typid
 * and its name in *attname; an unknown column raises undefined_column with
 * the source's columns in the hint.
 */
static int
SourceColumnOf(const char *query, const char *source, const char *what,
			   const char *column, Oid *typid, char **attname)
{
	SPIPlanPtr	plan = SPI_prepare(query, 0, NULL);
	List	   *sources;
	CachedPlanSource *ps;
	TupleDesc	desc;
	int			attno;

	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not plan source query: %s",
						SPI_result_code_string(SPI_result))));
	sources = SPI_plan_get_plan_sources(plan);
	ps = (list_length(sources) == 1) ? (CachedPlanSource *) linitial(sources) : NULL;
	if (ps == NULL || ps->resultDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source query does not return rows")));
	desc = ps->resultDesc;
	attno = DatasetFindColumn(desc, column);
	if (attno < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" does not exist in the %s source",
						MlopsClip(column, MLOPS_ECHO_MAX), what),
				 errdetail("The %s source is \"%s\".", what, SourceEcho(source)),
				 errhint("%s", SourceColumnsHint(desc))));
	*typid = getBaseType(TupleDescAttr(desc, attno)->atttypid);
	*attname = pstrdup(NameStr(TupleDescAttr(desc, attno)->attname));
	SPI_freeplan(plan);
	return attno;
}

/*
 * RequireKind raises datatype_mismatch when a column of type typid (its
 * drift kind, 0 when unsupported) cannot be compared by statistic stat.
 */
static void
RequireKind(const char *stat, const char *column, const char *what, Oid typid,
			char kind, char want)
{
	const char *col = MlopsClip(column, MLOPS_ECHO_MAX);

	if (kind == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of the %s source has type %s, which drift statistics do not compare",
						col, what, format_type_be(typid)),
				 errhint("Numbers (integer, numeric, real, double precision) and categories (text, boolean, enums) are compared; cast the column in a source query.")));
	if (want == WANT_NUMERIC && kind != KIND_NUMERIC)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s needs a numeric column, but column \"%s\" of the %s source has type %s",
						stat, col, what, format_type_be(typid)),
				 errhint("Use psi or chi_square_test for categories, or cast the column to a number in a source query.")));
	if (want == WANT_CATEGORICAL && kind != KIND_CATEGORICAL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s needs a categorical column, but column \"%s\" of the %s source has type %s",
						stat, col, what, format_type_be(typid)),
				 errhint("Compare numbers with psi, ks_test or wasserstein, or cast the column to text in a source query, for example SELECT %s::text AS %s FROM ...",
						 quote_identifier(col), quote_identifier(col))));
}
