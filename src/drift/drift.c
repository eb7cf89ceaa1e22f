/*-------------------------------------------------------------------------
 *
 * drift.c
 *	  SQL functions for drift statistics and the drift detector.
 *
 * Design
 * ------
 * Two layers sit on top of the pure C module stats.c:
 *
 * 1. Array functions (mlops.psi, kl_divergence, js_distance, wasserstein,
 *    ks_test, chi_square_test). They take the two samples as arrays, drop
 *    NULL, NaN and infinite elements, sort the numeric samples once and
 *    hand them to stats.c. They touch no table, so they are IMMUTABLE and
 *    PARALLEL SAFE.
 *
 * 2. The drift detector. mlops.set_drift_reference snapshots a reference
 *    sample from a table or query: for each numeric column every finite
 *    value, sorted (what exact KS and quantile PSI need), for each
 *    categorical column the count of every category.
 *    mlops.set_drift_reference_from_model builds the same from the
 *    training statistics kept in a model version's input_schema (numeric
 *    columns then carry the training histogram instead of values).
 *    mlops.detect_drift reads the current sample from a table or query,
 *    runs the chosen checks per column, returns a jsonb report and appends
 *    every check to mlops.drift_results.
 *
 * Data flow of detect_drift: (a) read the reference as the extension owner;
 * (b) describe the user's source with LIMIT 0 and match its columns to the
 * reference's; (c) run one aggregate over the source, as the calling user
 * and read-only, that returns one array per column (numeric columns cast
 * to float8, categorical ones to text); (d) compute the checks in C;
 * (e) write mlops.drift_results and the audit event as the owner.
 *
 * Security invariant: user SQL (the source) always runs as the calling
 * role, with SPI in read-only mode so the source cannot be a data-modifying
 * statement (functions it calls act with the caller's rights); the owner
 * identity is taken only around reads and writes of mlops' own tables
 * (MlopsBeginOwner/MlopsEndOwner), never while user SQL runs.
 *
 * A source is a query when it starts with SELECT, WITH, VALUES or TABLE,
 * otherwise the (optionally schema-qualified) name of a table or view.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "common/hashfn.h"

#include "drift/drift.h"
#include "common/common.h"

PG_FUNCTION_INFO_V1(mlops_psi);
PG_FUNCTION_INFO_V1(mlops_psi_categorical);
PG_FUNCTION_INFO_V1(mlops_kl_divergence);
PG_FUNCTION_INFO_V1(mlops_js_distance);
PG_FUNCTION_INFO_V1(mlops_wasserstein);
PG_FUNCTION_INFO_V1(mlops_ks_test);
PG_FUNCTION_INFO_V1(mlops_chi_square_test);
PG_FUNCTION_INFO_V1(mlops_set_drift_reference);
PG_FUNCTION_INFO_V1(mlops_set_drift_reference_from_model);
PG_FUNCTION_INFO_V1(mlops_detect_drift);

/* the checks detect_drift can run */
typedef enum DriftMethod
{
	METHOD_PSI,
	METHOD_KL,
	METHOD_JS,
	METHOD_WASSERSTEIN,
	METHOD_KS,
	METHOD_CHI_SQUARE,
	NUM_METHODS
} DriftMethod;

static const char *const method_names[NUM_METHODS] = {
	"psi", "kl_divergence", "js_distance", "wasserstein", "ks", "chi_square"
};

/* default thresholds; NAN means "no default, the caller must give one" */
static const double method_default_threshold[NUM_METHODS] = {
	0.2, 0.1, 0.1, NAN, 0.05, 0.05
};

#define KIND_NUMERIC 'n'
#define KIND_CATEGORICAL 'c'

/*
 * CategoryTable counts categories of a reference and a current sample;
 * categories keep the order in which they were first seen.
 */
typedef struct CategoryKey
{
	const char *str;
	int			len;
} CategoryKey;

typedef struct CategoryEntry
{
	CategoryKey key;
	int			index;
} CategoryEntry;

typedef struct CategoryTable
{
	HTAB	   *hash;
	int			n;
	int			cap;
	char	  **names;
	double	   *ref_counts;
	double	   *cur_counts;
} CategoryTable;

/*
 * DriftColumn is one column of a drift check: what the reference keeps and
 * what the current sample holds.
 */
typedef struct DriftColumn
{
	char	   *name;
	char		kind;			/* KIND_NUMERIC or KIND_CATEGORICAL */
	/* reference */
	double	   *ref_values;		/* sorted finite values (query reference) */
	int			nref_values;
	double	   *edges;			/* histogram edges (model reference) */
	double	   *edge_counts;	/* histogram counts, nedges - 1 of them */
	int			nedges;
	CategoryTable cats;			/* categorical counts, both samples */
	int64		ref_count;
	int64		ref_dropped;
	/* current */
	double	   *cur_values;		/* finite values, sorted if sort_current */
	int			ncur;
	bool		sort_current;	/* a check needs the current values sorted */
	int64		cur_count;
	int64		cur_dropped;
	/* checks */
	bool		method_on[NUM_METHODS];
	double		threshold[NUM_METHODS];
} DriftColumn;

/* one finished check, as stored in mlops.drift_results */
typedef struct DriftCheck
{
	const char *column;
	DriftMethod method;
	double		value;
	double		p_value;		/* NAN when the method has none */
	int			dof;
	double		threshold;
	bool		drift;
} DriftCheck;

static StatsBinning ParseBinning(text *binning);
static void NumericShares(FunctionCallInfo fcinfo, double **rs, double **cs,
						  int *k);
static double *SampleArg(FunctionCallInfo fcinfo, int argno,
						 const char *what, int *n);
static double *SortedSampleArg(FunctionCallInfo fcinfo, int argno,
							   const char *what, int *n);
static void CategoryTableInit(CategoryTable *t);
static int	CategoryIndex(CategoryTable *t, const char *str, int len);
static void CategoryCountArray(CategoryTable *t, ArrayType *arr, bool reference,
							   int64 *count, int64 *dropped);
static int	CategoryAddReference(CategoryTable *t, ArrayType *names, ArrayType *counts);
static void RequireTwoArgs(FunctionCallInfo fcinfo, int nargs);
static char *SourceFromItem(const char *source);
static char ColumnKindOfType(Oid typid);
static int	DescribeSource(const char *item, char ***names, Oid **types);
static void AggregateSource(const char *item, DriftColumn *cols, int ncols,
							int64 *rows);
static Datum FloatArrayDatum(const double *v, int n);
static void AppendJsonNumber(StringInfo buf, double v);
static void AppendJsonString(StringInfo buf, const char *s);
static void ComputeShares(DriftColumn *c, double **rs, double **cs, int *k);
static int	MethodByName(const char *name);
static void ParseThresholds(Jsonb *thresholds, DriftColumn *cols, int ncols);
static void LoadReference(const char *name, char **source_kind,
						  DriftColumn **cols, int *ncols);
static void WriteReference(const char *name, const char *source,
						   const char *kind, int64 model_id, int32 version,
						   int64 rows, DriftColumn *cols, int ncols);
static Datum ReferenceSummary(const char *name, int64 rows, DriftColumn *cols,
							  int ncols);
static text *RequireTextArg(FunctionCallInfo fcinfo, int argno, const char *argname);
static char *NewReferenceName(FunctionCallInfo fcinfo);
static char **TextArrayArg(FunctionCallInfo fcinfo, int argno, const char *argname,
						  const char *empty_hint, bool unique, int *n);
static int	NameIndex(char *const *names, int n, const char *want);

/* ------------------------------------------------------------------------
 * Array helpers shared with adwin_sql.c
 * ------------------------------------------------------------------------
 */

/*
 * DriftArrayToDoubles returns the finite elements of a float8[] in a
 * palloc'd array, counting the NULL, NaN and infinite ones in *dropped.
 * With keep_positions, *positions receives each kept element's 0-based
 * position in the input array.
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
	out = palloc_extended(sizeof(double) * Max(nitems, 1), MCXT_ALLOC_HUGE);
	if (keep_positions)
		pos = palloc_extended(sizeof(int) * Max(nitems, 1), MCXT_ALLOC_HUGE);
	for (int i = 0; i < nitems; i++)
	{
		double		v;

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
	double	   *rs,
			   *cs;
	int			k;
	double		result;

	NumericShares(fcinfo, &rs, &cs, &k);
	result = measure(rs, cs, k);
	free(rs);
	free(cs);
	PG_RETURN_FLOAT8(result);
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
	double	   *rs,
			   *cs;

	RequireTwoArgs(fcinfo, 2);
	CategoryTableInit(&t);
	CategoryCountArray(&t, PG_GETARG_ARRAYTYPE_P(0), true, &nr, &dr);
	CategoryCountArray(&t, PG_GETARG_ARRAYTYPE_P(1), false, &nc, &dc);
	DriftRequireNonEmpty((int) Min(nr, 1), (int) dr, "reference");
	DriftRequireNonEmpty((int) Min(nc, 1), (int) dc, "current");
	rs = palloc(sizeof(double) * t.n);
	cs = palloc(sizeof(double) * t.n);
	StatsCountsToShares(t.ref_counts, (double) nr, rs, t.n);
	StatsCountsToShares(t.cur_counts, (double) nc, cs, t.n);
	PG_RETURN_FLOAT8(StatsPsiShares(rs, cs, t.n));
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
	r = SortedSampleArg(fcinfo, 0, "reference", &nr);
	c = SortedSampleArg(fcinfo, 1, "current", &nc);
	PG_RETURN_FLOAT8(StatsWasserstein(r, nr, c, nc));
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
	double		d,
				p;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	RequireTwoArgs(fcinfo, 2);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ks_test must return a composite type");
	r = SortedSampleArg(fcinfo, 0, "reference", &nr);
	c = SortedSampleArg(fcinfo, 1, "current", &nc);
	StatsKsTwoSample(r, nr, c, nc, &d, &p);
	values[0] = Float8GetDatum(d);
	values[1] = Float8GetDatum(p);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
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
	double		stat,
				p;
	int			dof;
	char		err[256];
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	RequireTwoArgs(fcinfo, 2);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "chi_square_test must return a composite type");
	CategoryTableInit(&t);
	CategoryCountArray(&t, PG_GETARG_ARRAYTYPE_P(0), true, &nr, &dr);
	CategoryCountArray(&t, PG_GETARG_ARRAYTYPE_P(1), false, &nc, &dc);
	DriftRequireNonEmpty((int) Min(nr, 1), (int) dr, "reference");
	DriftRequireNonEmpty((int) Min(nc, 1), (int) dc, "current");
	if (StatsChiSquare2xK(t.ref_counts, t.cur_counts, t.n, &stat, &p, &dof,
						  err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err)));
	values[0] = Float8GetDatum(stat);
	values[1] = Float8GetDatum(p);
	values[2] = Int32GetDatum(dof);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
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
 * SortedSampleArg returns SampleArg's values sorted ascending.
 */
static double *
SortedSampleArg(FunctionCallInfo fcinfo, int argno, const char *what, int *n)
{
	double	   *x = SampleArg(fcinfo, argno, what, n);

	StatsSort(x, *n);
	return x;
}

/*
 * NumericShares reads (reference, current, bins, binning) and returns the
 * binned shares of both samples (malloc'd by stats.c).
 */
static void
NumericShares(FunctionCallInfo fcinfo, double **rs, double **cs, int *k)
{
	int			nr,
				nc,
				bins;
	double	   *r,
			   *c;
	StatsBinning binning;
	char		err[256];

	RequireTwoArgs(fcinfo, 2);
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bins and binning must not be NULL")));
	bins = PG_GETARG_INT32(2);
	binning = ParseBinning(PG_GETARG_TEXT_PP(3));
	if (bins < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be at least 2"),
				 errdetail("Got %d.", bins),
				 errhint("The usual choice is 10 bins.")));
	r = SampleArg(fcinfo, 0, "reference", &nr);
	c = SampleArg(fcinfo, 1, "current", &nc);
	if (StatsBinShares(r, nr, false, c, nc, bins, binning, rs, cs, k, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err)));
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
			 errmsg("unknown binning \"%s\"", s),
			 errhint("Use 'quantile' (edges at the reference's quantiles) or 'sturges' (equal width over both samples).")));
	return STATS_BINNING_QUANTILE;	/* keep the compiler quiet */
}

/* ------------------------------------------------------------------------
 * Category counting
 * ------------------------------------------------------------------------
 */

/*
 * CategoryHash hashes a category's bytes.
 */
static uint32
CategoryHash(const void *key, Size keysize)
{
	const CategoryKey *k = (const CategoryKey *) key;

	return hash_bytes((const unsigned char *) k->str, k->len);
}

/*
 * CategoryMatch compares two categories' bytes (0 when equal).
 */
static int
CategoryMatch(const void *key1, const void *key2, Size keysize)
{
	const CategoryKey *a = (const CategoryKey *) key1;
	const CategoryKey *b = (const CategoryKey *) key2;

	if (a->len != b->len)
		return 1;
	return memcmp(a->str, b->str, a->len);
}

/*
 * CategoryTableInit creates an empty table in the current memory context.
 */
static void
CategoryTableInit(CategoryTable *t)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(CategoryKey);
	ctl.entrysize = sizeof(CategoryEntry);
	ctl.hash = CategoryHash;
	ctl.match = CategoryMatch;
	ctl.hcxt = CurrentMemoryContext;
	t->hash = hash_create("mlops drift categories", 64, &ctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	t->n = 0;
	t->cap = 16;
	t->names = palloc(sizeof(char *) * t->cap);
	t->ref_counts = palloc0(sizeof(double) * t->cap);
	t->cur_counts = palloc0(sizeof(double) * t->cap);
}

/*
 * CategoryIndex returns the index of a category, adding it when new.
 */
static int
CategoryIndex(CategoryTable *t, const char *str, int len)
{
	CategoryKey key;
	CategoryEntry *e;
	bool		found;

	key.str = str;
	key.len = len;
	e = hash_search(t->hash, &key, HASH_ENTER, &found);
	if (!found)
	{
		char	   *copy = pnstrdup(str, len);

		if (t->n == t->cap)
		{
			t->cap *= 2;
			t->names = repalloc(t->names, sizeof(char *) * t->cap);
			t->ref_counts = repalloc(t->ref_counts, sizeof(double) * t->cap);
			t->cur_counts = repalloc(t->cur_counts, sizeof(double) * t->cap);
		}
		/* the key must point at memory that lives as long as the table */
		e->key.str = copy;
		e->key.len = len;
		e->index = t->n;
		t->names[t->n] = copy;
		t->ref_counts[t->n] = 0;
		t->cur_counts[t->n] = 0;
		t->n++;
	}
	return e->index;
}

/*
 * CategoryCountArray adds the non-NULL elements of a text[] to the
 * reference or current counts and reports how many were counted and how
 * many were NULL.
 */
static void
CategoryCountArray(CategoryTable *t, ArrayType *arr, bool reference,
				   int64 *count, int64 *dropped)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int64		kept = 0;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		text	   *v;
		int			idx;

		if (nulls[i])
			continue;
		v = (text *) DatumGetPointer(elems[i]);
		idx = CategoryIndex(t, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
		if (reference)
			t->ref_counts[idx] += 1;
		else
			t->cur_counts[idx] += 1;
		kept++;
	}
	*count = kept;
	*dropped = n - kept;
	pfree(elems);
	pfree(nulls);
}

/*
 * CategoryAddReference adds a reference's stored categories (text[]) with
 * their float8[] counts to t. Returns the number of categories, or -1 when
 * the two arrays do not pair up or a count is negative or not finite.
 */
static int
CategoryAddReference(CategoryTable *t, ArrayType *names, ArrayType *counts)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				nv,
				dropped;
	double	   *v;

	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	v = DriftArrayToDoubles(counts, "category_counts", &nv, &dropped, false, NULL);
	if (dropped || nv != n)
		return -1;
	for (int i = 0; i < n; i++)
		if (nulls[i] || v[i] < 0)
			return -1;
	for (int i = 0; i < n; i++)
	{
		text	   *s = DatumGetTextPP(elems[i]);

		t->ref_counts[CategoryIndex(t, VARDATA_ANY(s), VARSIZE_ANY_EXHDR(s))] += v[i];
	}
	return n;
}

/* ------------------------------------------------------------------------
 * Sources
 * ------------------------------------------------------------------------
 */

/*
 * SourceFromItem turns a source (a query, or a table or view name) into
 * something that can follow FROM: "(query)" or the quoted relation name.
 */
static char *
SourceFromItem(const char *source)
{
	const char *p = source;
	int			len;
	static const char *const starters[] = {"select", "with", "values", "table"};

	while (*p && isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must not be empty"),
				 errhint("Pass a table name such as 'public.events' or a query such as 'SELECT age FROM events'.")));
	for (size_t i = 0; i < lengthof(starters); i++)
	{
		size_t		sl = strlen(starters[i]);

		if (pg_strncasecmp(p, starters[i], sl) == 0 &&
			(p[sl] == '\0' || isspace((unsigned char) p[sl]) || p[sl] == '('))
		{
			char	   *q = pstrdup(p);

			/* a trailing semicolon would end the subquery early */
			len = strlen(q);
			while (len > 0 && (isspace((unsigned char) q[len - 1]) || q[len - 1] == ';'))
				q[--len] = '\0';
			return psprintf("(%s)", q);
		}
	}
	if (*p != '"' && strpbrk(p, " \t\r\n(;") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must be a table name or a query"),
				 errdetail("A query starts with SELECT, WITH, VALUES or TABLE; anything else is read as a table or view name."),
				 errhint("Pass a name such as 'public.events' or a query such as 'SELECT age FROM events'.")));
	{
		List	   *names = stringToQualifiedNameList(p);
		RangeVar   *rv = makeRangeVarFromNameList(names);
		Oid			relid = RangeVarGetRelid(rv, NoLock, false);

		return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										  get_rel_name(relid));
	}
}

/*
 * ColumnKindOfType classifies a column type: numeric types are compared as
 * float8, text-like types, booleans and enums as categories; 0 otherwise.
 */
static char
ColumnKindOfType(Oid typid)
{
	Oid			base = getBaseType(typid);

	switch (base)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return KIND_NUMERIC;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case BOOLOID:
			return KIND_CATEGORICAL;
		default:
			if (type_is_enum(base))
				return KIND_CATEGORICAL;
			return 0;
	}
}

/*
 * DescribeSource returns the column names and types of a source without
 * reading it. Runs as the calling user; SPI must be connected.
 */
static int
DescribeSource(const char *item, char ***names, Oid **types)
{
	int			rc;
	TupleDesc	desc;
	int			n = 0;

	rc = SPI_execute(psprintf("SELECT * FROM %s AS s LIMIT 0", item), true, 0);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must be a query that returns rows"),
				 errdetail("It ran as %s.", SPI_result_code_string(rc))));
	desc = SPI_tuptable->tupdesc;
	*names = palloc(sizeof(char *) * Max(desc->natts, 1));
	*types = palloc(sizeof(Oid) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		(*names)[n] = pstrdup(NameStr(att->attname));
		(*types)[n] = att->atttypid;
		n++;
	}
	return n;
}

/*
 * AggregateSource reads every selected column of the source in one scan,
 * as the calling user and read-only, through a cursor fetched in batches:
 * numeric columns collect their finite values (sorted when sort_current),
 * categorical columns their current counts; NULL, NaN and infinite values
 * are counted as dropped. *rows receives the row count.
 */
static void
AggregateSource(const char *item, DriftColumn *cols, int ncols, int64 *rows)
{
	StringInfoData sql;
	SPIPlanPtr	plan;
	Portal		portal;
	int		   *cap = palloc0(sizeof(int) * ncols);
	Datum	   *values = palloc(sizeof(Datum) * ncols);
	bool	   *nulls = palloc(sizeof(bool) * ncols);

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < ncols; i++)
		appendStringInfo(&sql, "%ss.%s::pg_catalog.%s", i > 0 ? ", " : "",
						 quote_identifier(cols[i].name),
						 cols[i].kind == KIND_NUMERIC ? "float8" : "text");
	appendStringInfo(&sql, " FROM %s AS s", item);
	plan = SPI_prepare(sql.data, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "preparing the drift source failed: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);

	*rows = 0;
	for (int i = 0; i < ncols; i++)
	{
		cols[i].ncur = 0;
		cols[i].cur_count = 0;
		cols[i].cur_dropped = 0;
		if (cols[i].kind == KIND_NUMERIC)
		{
			cap[i] = 1024;
			cols[i].cur_values = palloc(sizeof(double) * cap[i]);
		}
	}
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			heap_deform_tuple(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, values, nulls);
			for (int i = 0; i < ncols; i++)
			{
				DriftColumn *c = &cols[i];

				if (nulls[i])
					c->cur_dropped++;
				else if (c->kind == KIND_NUMERIC)
				{
					double		v = DatumGetFloat8(values[i]);

					if (!isfinite(v))
					{
						c->cur_dropped++;
						continue;
					}
					if (c->ncur == cap[i])
					{
						cap[i] *= 2;
						c->cur_values = repalloc_huge(c->cur_values, sizeof(double) * (Size) cap[i]);
					}
					c->cur_values[c->ncur++] = v;
				}
				else
				{
					text	   *t = DatumGetTextPP(values[i]);

					c->cats.cur_counts[CategoryIndex(&c->cats, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t))] += 1;
					c->cur_count++;
					if ((Pointer) t != DatumGetPointer(values[i]))
						pfree(t);	/* a detoasted copy */
				}
			}
		}
		*rows += SPI_processed;
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	for (int i = 0; i < ncols; i++)
	{
		DriftColumn *c = &cols[i];

		if (c->kind != KIND_NUMERIC)
			continue;
		c->cur_count = c->ncur;
		if (c->sort_current)
			StatsSort(c->cur_values, c->ncur);
	}
}

/* ------------------------------------------------------------------------
 * set_drift_reference
 * ------------------------------------------------------------------------
 */

/*
 * mlops_set_drift_reference snapshots the reference sample of a drift
 * check from a table or query and returns a summary.
 */
Datum
mlops_set_drift_reference(PG_FUNCTION_ARGS)
{
	char	   *name = NewReferenceName(fcinfo);
	char	   *source = text_to_cstring(RequireTextArg(fcinfo, 1, "source"));
	MemoryContext callcxt = CurrentMemoryContext;
	char	   *item;
	char	  **names;
	Oid		   *types;
	int			nsrc,
				ncols = 0;
	DriftColumn *cols;
	int64		rows;
	Datum		result;


	SPI_connect();
	item = SourceFromItem(source);
	nsrc = DescribeSource(item, &names, &types);
	cols = palloc0(sizeof(DriftColumn) * Max(nsrc, 1));
	if (PG_ARGISNULL(2))
	{
		for (int i = 0; i < nsrc; i++)
		{
			char		kind = ColumnKindOfType(types[i]);

			if (kind == 0)
			{
				ereport(NOTICE,
						(errmsg("column \"%s\" of type %s is not part of the drift reference",
								names[i], format_type_be(types[i])),
						 errhint("Cast it to a numeric or text type in the source query to include it.")));
				continue;
			}
			cols[ncols].name = names[i];
			cols[ncols].kind = kind;
			ncols++;
		}
	}
	else
	{
		int			n;
		char	  **want = TextArrayArg(fcinfo, 2, "columns",
										"Pass NULL to use every column of a supported type.",
										true, &n);

		cols = repalloc(cols, sizeof(DriftColumn) * n);
		memset(cols, 0, sizeof(DriftColumn) * n);
		for (int j = 0; j < n; j++)
		{
			int			found = NameIndex(names, nsrc, want[j]);

			if (found < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" is not in the source", want[j])));
			cols[ncols].kind = ColumnKindOfType(types[found]);
			if (cols[ncols].kind == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("column \"%s\" has type %s, which drift checks do not support",
								want[j], format_type_be(types[found])),
						 errhint("Use numeric, text, boolean or enum columns; cast others in the source query.")));
			cols[ncols].name = want[j];
			ncols++;
		}
	}
	if (ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the source has no column a drift check can use"),
				 errhint("Drift checks compare numeric, text, boolean and enum columns.")));
	for (int i = 0; i < ncols; i++)
	{
		if (cols[i].kind == KIND_CATEGORICAL)
			CategoryTableInit(&cols[i].cats);
		cols[i].sort_current = true;	/* the reference keeps sorted values */
	}

	/* read the sample as the calling user, then move it to the reference */
	AggregateSource(item, cols, ncols, &rows);
	for (int i = 0; i < ncols; i++)
	{
		DriftColumn *c = &cols[i];

		if (c->kind == KIND_NUMERIC)
		{
			c->ref_values = c->cur_values;
			c->nref_values = c->ncur;
			c->ref_count = c->cur_count;
			c->ref_dropped = c->cur_dropped;
		}
		else
		{
			memcpy(c->cats.ref_counts, c->cats.cur_counts, sizeof(double) * c->cats.n);
			c->ref_count = c->cur_count;
			c->ref_dropped = c->cur_dropped;
		}
		if (c->ref_count == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" has no usable value in the source", c->name),
					 errdetail("%lld rows were read; NULL, NaN and infinite values are dropped.",
							   (long long) rows),
					 errhint("Leave the column out with the columns argument.")));
	}
	WriteReference(name, source, "query", 0, 0, rows, cols, ncols);
	{
		MemoryContext spicxt = MemoryContextSwitchTo(callcxt);

		result = ReferenceSummary(name, rows, cols, ncols);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * mlops_set_drift_reference_from_model makes a drift reference from the
 * training statistics in a model version's input_schema.
 */
Datum
mlops_set_drift_reference_from_model(PG_FUNCTION_ARGS)
{
	char	   *name = NewReferenceName(fcinfo);
	char	   *model = text_to_cstring(RequireTextArg(fcinfo, 1, "model"));
	MemoryContext callcxt = CurrentMemoryContext;
	ResolvedModel rm;
	MlopsOwnerSave save;
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		args[2];
	int			rc,
				ncols = 0;
	DriftColumn *cols;
	int64		rows = 0;
	Datum		result;
	char	   *source;

	ResolveModelRef(model, &rm);
	source = psprintf("%s/%d", rm.name, rm.version);
	args[0] = Int64GetDatum(rm.model_id);
	args[1] = Int32GetDatum(rm.version);

	SPI_connect();
	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args(
		"SELECT f.value OPERATOR(pg_catalog.->>) 'name',"
		"       CASE WHEN pg_catalog.jsonb_typeof(f.value OPERATOR(pg_catalog.#>) '{stats,histogram,edges}') OPERATOR(pg_catalog.=) 'array'"
		"            THEN ARRAY(SELECT e::pg_catalog.float8 FROM pg_catalog.jsonb_array_elements(f.value OPERATOR(pg_catalog.#>) '{stats,histogram,edges}') e) END,"
		"       CASE WHEN pg_catalog.jsonb_typeof(f.value OPERATOR(pg_catalog.#>) '{stats,histogram,counts}') OPERATOR(pg_catalog.=) 'array'"
		"            THEN ARRAY(SELECT e::pg_catalog.float8 FROM pg_catalog.jsonb_array_elements(f.value OPERATOR(pg_catalog.#>) '{stats,histogram,counts}') e) END,"
		"       CASE WHEN pg_catalog.jsonb_typeof(f.value OPERATOR(pg_catalog.#>) '{stats,category_counts}') OPERATOR(pg_catalog.=) 'object'"
		"            THEN ARRAY(SELECT c.key FROM pg_catalog.jsonb_each(f.value OPERATOR(pg_catalog.#>) '{stats,category_counts}') c ORDER BY c.key) END,"
		"       CASE WHEN pg_catalog.jsonb_typeof(f.value OPERATOR(pg_catalog.#>) '{stats,category_counts}') OPERATOR(pg_catalog.=) 'object'"
		"            THEN ARRAY(SELECT c.value::pg_catalog.float8 FROM pg_catalog.jsonb_each(f.value OPERATOR(pg_catalog.#>) '{stats,category_counts}') c ORDER BY c.key) END,"
		"       (f.value OPERATOR(pg_catalog.#>>) '{stats,count}')::pg_catalog.float8,"
		"       (f.value OPERATOR(pg_catalog.#>>) '{stats,null_share}')::pg_catalog.float8"
		"  FROM mlops.model_versions v,"
		"       pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(v.input_schema OPERATOR(pg_catalog.->) 'features') OPERATOR(pg_catalog.=) 'array'"
		"                                            THEN v.input_schema OPERATOR(pg_catalog.->) 'features' ELSE '[]' END) WITH ORDINALITY f(value, ord)"
		" WHERE v.model_id OPERATOR(pg_catalog.=) $1 AND v.version OPERATOR(pg_catalog.=) $2"
		" ORDER BY f.ord",
		2, argtypes, args, NULL, true, 0);
	MlopsEndOwner(&save);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading input_schema failed: %s", SPI_result_code_string(rc));
	cols = palloc0(sizeof(DriftColumn) * Max(SPI_processed, 1));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DriftColumn *c = &cols[ncols];
		bool		n_edges,
					n_counts,
					n_cats,
					n_ccounts,
					n_count,
					n_null;
		Datum		edges = SPI_getbinval(tup, desc, 2, &n_edges);
		Datum		counts = SPI_getbinval(tup, desc, 3, &n_counts);
		Datum		cats = SPI_getbinval(tup, desc, 4, &n_cats);
		Datum		ccounts = SPI_getbinval(tup, desc, 5, &n_ccounts);
		Datum		count = SPI_getbinval(tup, desc, 6, &n_count);
		Datum		null_share = SPI_getbinval(tup, desc, 7, &n_null);

		c->name = SPI_getvalue(tup, desc, 1);
		if (c->name == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature %llu of model \"%s\" version %d has no name",
							(unsigned long long) r + 1, rm.name, rm.version)));
		if (!n_edges && !n_counts)
		{
			int			ne,
						nc,
						de,
						dc;
			double		total = 0;

			c->kind = KIND_NUMERIC;
			c->edges = DriftArrayToDoubles(DatumGetArrayTypeP(edges), "edges", &ne, &de, false, NULL);
			c->edge_counts = DriftArrayToDoubles(DatumGetArrayTypeP(counts), "counts", &nc, &dc, false, NULL);
			if (de || dc || ne < 2 || nc != ne - 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the training histogram of feature \"%s\" is malformed", c->name),
						 errdetail("It needs k+1 finite edges and k counts; it has %d edges and %d counts.",
								   ne + de, nc + dc)));
			for (int i = 0; i < nc; i++)
			{
				if (c->edge_counts[i] < 0 || c->edges[i + 1] < c->edges[i])
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("the training histogram of feature \"%s\" is malformed", c->name),
							 errdetail("Edges must ascend and counts must not be negative.")));
				total += c->edge_counts[i];
			}
			c->nedges = ne;
			c->ref_count = (int64) total;
		}
		else if (!n_cats && !n_ccounts)
		{
			c->kind = KIND_CATEGORICAL;
			CategoryTableInit(&c->cats);
			if (CategoryAddReference(&c->cats, DatumGetArrayTypeP(cats), DatumGetArrayTypeP(ccounts)) < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the training category counts of feature \"%s\" are malformed", c->name),
						 errdetail("Each category needs a finite count of at least 0.")));
			for (int i = 0; i < c->cats.n; i++)
				c->ref_count += (int64) c->cats.ref_counts[i];
		}
		else
		{
			ereport(NOTICE,
					(errmsg("feature \"%s\" has no training statistics and is not part of the drift reference",
							c->name)));
			continue;
		}
		if (c->ref_count <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the training statistics of feature \"%s\" count no values", c->name)));
		if (!n_count && !n_null)
		{
			double		cnt = DatumGetFloat8(count);
			double		share = DatumGetFloat8(null_share);

			/* count includes NULLs; null_share of them were NULL */
			if (share > 0 && share < 1)
				c->ref_dropped = (int64) rint(cnt * share);
			rows = Max(rows, (int64) cnt);
		}
		rows = Max(rows, c->ref_count + c->ref_dropped);
		ncols++;
	}
	if (ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" version %d has no training statistics", rm.name, rm.version),
				 errdetail("Its input_schema lists no feature with a histogram or category counts."),
				 errhint("Train the version with mlops.train, which records them, or use mlops.set_drift_reference on the training data.")));
	WriteReference(name, source, "model", rm.model_id, rm.version, rows, cols, ncols);
	{
		MemoryContext spicxt = MemoryContextSwitchTo(callcxt);

		result = ReferenceSummary(name, rows, cols, ncols);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * NewReferenceName returns the name argument of a function that stores a
 * reference, rejecting NULL and empty names.
 */
static char *
NewReferenceName(FunctionCallInfo fcinfo)
{
	char	   *name = text_to_cstring(RequireTextArg(fcinfo, 0, "name"));

	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("drift reference name must not be empty")));
	return name;
}

/*
 * RequireTextArg returns text argument argno or raises an error naming it
 * when it is NULL.
 */
static text *
RequireTextArg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname)));
	return PG_GETARG_TEXT_PP(argno);
}

/*
 * TextArrayArg returns the elements of text[] argument argno, rejecting an
 * empty array, NULL elements and, with unique, repeated elements.
 */
static char **
TextArrayArg(FunctionCallInfo fcinfo, int argno, const char *argname,
			 const char *empty_hint, bool unique, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	deconstruct_array(PG_GETARG_ARRAYTYPE_P(argno), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &nulls, n);
	if (*n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", argname),
				 errhint("%s", empty_hint)));
	out = palloc(sizeof(char *) * *n);
	for (int j = 0; j < *n; j++)
	{
		if (nulls[j])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", argname)));
		out[j] = TextDatumGetCString(elems[j]);
		for (int i = 0; unique && i < j; i++)
			if (strcmp(out[i], out[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("%s lists \"%s\" twice", argname, out[j])));
	}
	return out;
}

/*
 * NameIndex returns the position of want in names[0..n-1], or -1.
 */
static int
NameIndex(char *const *names, int n, const char *want)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], want) == 0)
			return i;
	return -1;
}

/*
 * FloatArrayDatum builds a float8[] datum from n doubles.
 */
static Datum
FloatArrayDatum(const double *v, int n)
{
	Datum	   *d = palloc_extended(sizeof(Datum) * Max(n, 1), MCXT_ALLOC_HUGE);
	ArrayType  *arr;

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	arr = construct_array(d, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(d);
	return PointerGetDatum(arr);
}

/*
 * WriteReference replaces the stored reference called name, as the
 * extension owner, and records the audit event. SPI must be connected.
 */
static void
WriteReference(const char *name, const char *source, const char *kind,
			   int64 model_id, int32 version, int64 rows,
			   DriftColumn *cols, int ncols)
{
	MlopsOwnerSave save;
	Oid			rtypes[6] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, INT4OID, INT8OID};
	Datum		rargs[6];
	char		rnulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	Oid			ctypes[11] = {TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID, INT8OID,
		FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID};
	StringInfoData details;
	int			rc;

	rargs[0] = CStringGetTextDatum(name);
	rargs[1] = CStringGetTextDatum(source);
	rargs[2] = CStringGetTextDatum(kind);
	rargs[3] = Int64GetDatum(model_id);
	rargs[4] = Int32GetDatum(version);
	rargs[5] = Int64GetDatum(rows);
	if (strcmp(kind, "model") != 0)
		rnulls[3] = rnulls[4] = 'n';

	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args(
		"INSERT INTO mlops.drift_references AS r"
		"       (name, source, source_kind, model_id, model_version, row_count, created_at, created_by)"
		" VALUES ($1, $2, $3, $4, $5, $6, pg_catalog.now(), mlops.current_actor())"
		" ON CONFLICT (name) DO UPDATE"
		"   SET source = EXCLUDED.source, source_kind = EXCLUDED.source_kind,"
		"       model_id = EXCLUDED.model_id, model_version = EXCLUDED.model_version,"
		"       row_count = EXCLUDED.row_count, created_at = EXCLUDED.created_at,"
		"       created_by = EXCLUDED.created_by",
		6, rtypes, rargs, rnulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "storing drift reference failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_with_args(
		"DELETE FROM mlops.drift_reference_columns"
		" WHERE reference_name OPERATOR(pg_catalog.=) $1",
		1, rtypes, rargs, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "replacing drift reference failed: %s", SPI_result_code_string(rc));
	for (int i = 0; i < ncols; i++)
	{
		DriftColumn *c = &cols[i];
		Datum		cargs[11];
		char		cnulls[11];

		memset(cnulls, 'n', sizeof(cnulls));
		cargs[0] = rargs[0];
		cnulls[0] = ' ';
		cargs[1] = CStringGetTextDatum(c->name);
		cnulls[1] = ' ';
		cargs[2] = Int32GetDatum(i + 1);
		cnulls[2] = ' ';
		cargs[3] = CStringGetTextDatum(c->kind == KIND_NUMERIC ? "numeric" : "categorical");
		cnulls[3] = ' ';
		cargs[4] = Int64GetDatum(c->ref_count);
		cnulls[4] = ' ';
		cargs[5] = Int64GetDatum(c->ref_dropped);
		cnulls[5] = ' ';
		if (c->kind == KIND_NUMERIC && c->ref_values)
		{
			cargs[6] = FloatArrayDatum(c->ref_values, c->nref_values);
			cnulls[6] = ' ';
		}
		else if (c->kind == KIND_NUMERIC)
		{
			cargs[7] = FloatArrayDatum(c->edges, c->nedges);
			cargs[8] = FloatArrayDatum(c->edge_counts, c->nedges - 1);
			cnulls[7] = cnulls[8] = ' ';
		}
		else
		{
			Datum	   *names = palloc(sizeof(Datum) * Max(c->cats.n, 1));

			for (int j = 0; j < c->cats.n; j++)
				names[j] = CStringGetTextDatum(c->cats.names[j]);
			cargs[9] = PointerGetDatum(construct_array(names, c->cats.n, TEXTOID, -1, false, TYPALIGN_INT));
			cargs[10] = FloatArrayDatum(c->cats.ref_counts, c->cats.n);
			cnulls[9] = cnulls[10] = ' ';
		}
		rc = SPI_execute_with_args(
			"INSERT INTO mlops.drift_reference_columns"
			"       (reference_name, column_name, ordinal, kind, value_count, dropped_count,"
			"        sorted_values, bin_edges, bin_counts, categories, category_counts)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			11, ctypes, cargs, cnulls, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "storing drift reference column failed: %s", SPI_result_code_string(rc));
	}
	initStringInfo(&details);
	appendStringInfoString(&details, "{\"source_kind\": ");
	AppendJsonString(&details, kind);
	appendStringInfoString(&details, ", \"source\": ");
	AppendJsonString(&details, source);
	appendStringInfo(&details, ", \"columns\": %d, \"rows\": " INT64_FORMAT "}", ncols, rows);
	DriftAudit("drift.reference.set", "drift_reference", name, details.data);
	MlopsEndOwner(&save);
}

/*
 * DriftAudit appends an audit event about a drift object (reference or
 * detector); the caller holds the owner identity with SPI connected, and
 * the log records the acting role.
 */
void
DriftAudit(const char *action, const char *rtype, const char *name,
		   const char *details)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	int			rc;

	args[0] = CStringGetTextDatum(action);
	args[1] = CStringGetTextDatum(rtype);
	args[2] = CStringGetTextDatum(name);
	args[3] = CStringGetTextDatum(details);
	rc = SPI_execute_with_args("SELECT mlops._audit_event($1, $2, $3, $4::pg_catalog.jsonb)",
							   4, types, args, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "writing the audit event failed: %s", SPI_result_code_string(rc));
}

/*
 * ReferenceSummary returns the jsonb summary of a stored reference.
 */
static Datum
ReferenceSummary(const char *name, int64 rows, DriftColumn *cols, int ncols)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"name\": ");
	AppendJsonString(&buf, name);
	appendStringInfo(&buf, ", \"rows\": " INT64_FORMAT ", \"columns\": {", rows);
	for (int i = 0; i < ncols; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		AppendJsonString(&buf, cols[i].name);
		appendStringInfo(&buf, ": {\"type\": \"%s\", \"count\": " INT64_FORMAT ", \"dropped\": " INT64_FORMAT,
						 cols[i].kind == KIND_NUMERIC ? "numeric" : "categorical",
						 cols[i].ref_count, cols[i].ref_dropped);
		if (cols[i].kind == KIND_CATEGORICAL)
			appendStringInfo(&buf, ", \"categories\": %d", cols[i].cats.n);
		else if (cols[i].edges)
			appendStringInfo(&buf, ", \"bins\": %d", cols[i].nedges - 1);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "}}");
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/* ------------------------------------------------------------------------
 * detect_drift
 * ------------------------------------------------------------------------
 */

/*
 * mlops_detect_drift compares a current sample with a stored reference,
 * stores every check in mlops.drift_results and returns the report.
 */
Datum
mlops_detect_drift(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(RequireTextArg(fcinfo, 0, "name"));
	char	   *source = text_to_cstring(RequireTextArg(fcinfo, 1, "source"));
	MemoryContext callcxt = CurrentMemoryContext;
	char	   *source_kind;
	DriftColumn *all,
			   *cols;
	int			nall,
				ncols = 0;
	bool		explicit_methods = !PG_ARGISNULL(2);
	bool		want[NUM_METHODS];
	bool		used[NUM_METHODS];
	char	   *item;
	char	  **names;
	Oid		   *types;
	int			nsrc;
	int64		rows;
	DriftCheck *checks;
	int			nchecks = 0;
	bool		any_drift = false;
	StringInfoData out;
	Datum		result;

	memset(want, 0, sizeof(want));
	memset(used, 0, sizeof(used));
	SPI_connect();
	LoadReference(name, &source_kind, &all, &nall);

	/* columns */
	cols = palloc0(sizeof(DriftColumn) * nall);
	if (PG_ARGISNULL(3))
	{
		memcpy(cols, all, sizeof(DriftColumn) * nall);
		ncols = nall;
	}
	else
	{
		int			n;
		char	  **want = TextArrayArg(fcinfo, 3, "columns",
										"Pass NULL to check every column of the reference.",
										true, &n);
		char	  **refnames = palloc(sizeof(char *) * nall);

		for (int i = 0; i < nall; i++)
			refnames[i] = all[i].name;
		for (int j = 0; j < n; j++)
		{
			int			found = NameIndex(refnames, nall, want[j]);

			if (found < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" is not part of drift reference \"%s\"", want[j], name),
						 errhint("Set the reference again with that column, or leave it out.")));
			cols[ncols++] = all[found];
		}
	}

	/* methods */
	if (explicit_methods)
	{
		int			n;
		char	  **given = TextArrayArg(fcinfo, 2, "methods",
										 "Pass NULL for the defaults: psi and ks for numeric columns, chi_square and psi for categorical ones.",
										 false, &n);

		for (int j = 0; j < n; j++)
			want[MethodByName(given[j])] = true;
	}
	for (int i = 0; i < ncols; i++)
	{
		DriftColumn *c = &cols[i];

		for (int m = 0; m < NUM_METHODS; m++)
		{
			bool		applies;

			if (c->kind == KIND_NUMERIC)
				applies = (m != METHOD_CHI_SQUARE) &&
					(c->ref_values != NULL || (m != METHOD_KS && m != METHOD_WASSERSTEIN));
			else
				applies = (m == METHOD_PSI || m == METHOD_KL || m == METHOD_JS ||
						   m == METHOD_CHI_SQUARE);
			if (explicit_methods)
				c->method_on[m] = applies && want[m];
			else if (c->kind == KIND_NUMERIC)
				c->method_on[m] = applies && (m == METHOD_PSI || m == METHOD_KS);
			else
				c->method_on[m] = applies && (m == METHOD_PSI || m == METHOD_CHI_SQUARE);
			if (c->method_on[m])
				used[m] = true;
			if (c->method_on[m] && (m == METHOD_KS || m == METHOD_WASSERSTEIN))
				c->sort_current = true;
			c->threshold[m] = method_default_threshold[m];
		}
	}
	if (explicit_methods)
	{
		for (int m = 0; m < NUM_METHODS; m++)
			if (want[m] && !used[m])
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("method \"%s\" applies to no checked column of drift reference \"%s\"",
								method_names[m], name),
						 (m == METHOD_KS || m == METHOD_WASSERSTEIN) && strcmp(source_kind, "model") == 0 ?
						 errdetail("A reference made from a model's training statistics keeps histograms, not the values %s needs.", method_names[m]) :
						 errdetail("chi_square applies to categorical columns, ks and wasserstein to numeric ones."),
						 errhint("Choose methods that fit the columns, or set the reference from data with mlops.set_drift_reference.")));
	}
	if (!PG_ARGISNULL(4))
		ParseThresholds(PG_GETARG_JSONB_P(4), cols, ncols);
	for (int i = 0; i < ncols; i++)
		if (cols[i].method_on[METHOD_WASSERSTEIN] && isnan(cols[i].threshold[METHOD_WASSERSTEIN]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("method \"wasserstein\" needs a threshold"),
					 errdetail("The Wasserstein distance is in the column's own units, so there is no default."),
					 errhint("Pass thresholds such as '{\"wasserstein\": 2.5}' or '{\"%s\": {\"wasserstein\": 2.5}}'.",
							 cols[i].name)));

	/* read the current sample as the calling user */
	item = SourceFromItem(source);
	nsrc = DescribeSource(item, &names, &types);
	for (int i = 0; i < ncols; i++)
	{
		int			found = NameIndex(names, nsrc, cols[i].name);
		char		kind;

		if (found < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of drift reference \"%s\" is not in the source", cols[i].name, name),
					 errhint("Select the column in the source, or leave it out with the columns argument.")));
		kind = ColumnKindOfType(types[found]);
		if (kind != cols[i].kind)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" is %s in drift reference \"%s\" but has type %s in the source",
							cols[i].name, cols[i].kind == KIND_NUMERIC ? "numeric" : "categorical",
							name, format_type_be(types[found])),
					 errhint("Cast the column in the source query to match the reference.")));
	}
	AggregateSource(item, cols, ncols, &rows);

	/* run the checks */
	checks = palloc(sizeof(DriftCheck) * ncols * NUM_METHODS);
	for (int i = 0; i < ncols; i++)
	{
		DriftColumn *c = &cols[i];
		double	   *rs = NULL,
				   *cs = NULL;
		int			k = 0;

		if (c->cur_count == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" has no usable value in the source", c->name),
					 errdetail(INT64_FORMAT " rows were read; NULL, NaN and infinite values are dropped.", rows),
					 errhint("Leave the column out with the columns argument.")));
		if (c->method_on[METHOD_PSI] || c->method_on[METHOD_KL] || c->method_on[METHOD_JS])
			ComputeShares(c, &rs, &cs, &k);
		for (int m = 0; m < NUM_METHODS; m++)
		{
			DriftCheck *ck;

			if (!c->method_on[m])
				continue;
			ck = &checks[nchecks++];
			ck->column = c->name;
			ck->method = m;
			ck->p_value = NAN;
			ck->dof = -1;
			ck->threshold = c->threshold[m];
			switch (m)
			{
				case METHOD_PSI:
					ck->value = StatsPsiShares(rs, cs, k);
					break;
				case METHOD_KL:
					ck->value = StatsKlShares(rs, cs, k);
					break;
				case METHOD_JS:
					ck->value = StatsJsShares(rs, cs, k);
					break;
				case METHOD_WASSERSTEIN:
					ck->value = StatsWasserstein(c->ref_values, c->nref_values,
												 c->cur_values, c->ncur);
					break;
				case METHOD_KS:
					StatsKsTwoSample(c->ref_values, c->nref_values,
									 c->cur_values, c->ncur, &ck->value, &ck->p_value);
					break;
				case METHOD_CHI_SQUARE:
					{
						char		err[256];

						if (StatsChiSquare2xK(c->cats.ref_counts, c->cats.cur_counts, c->cats.n,
											  &ck->value, &ck->p_value, &ck->dof,
											  err, sizeof(err)) != 0)
							ereport(ERROR,
									(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
									 errmsg("chi-square test of column \"%s\": %s", c->name, err)));
						break;
					}
			}
			if (m == METHOD_KS || m == METHOD_CHI_SQUARE)
				ck->drift = ck->p_value < ck->threshold;
			else
				ck->drift = ck->value > ck->threshold;
			if (ck->drift)
				any_drift = true;
		}
		if (rs)
			free(rs);
		if (cs)
			free(cs);
	}

	/* the report */
	initStringInfo(&out);
	appendStringInfo(&out, "{\"reference\": ");
	AppendJsonString(&out, name);
	appendStringInfo(&out, ", \"rows\": " INT64_FORMAT ", \"drift_detected\": %s, \"columns_with_drift\": [",
					 rows, any_drift ? "true" : "false");
	{
		bool		first = true;

		for (int i = 0; i < ncols; i++)
		{
			bool		d = false;

			for (int j = 0; j < nchecks; j++)
				if (checks[j].column == cols[i].name && checks[j].drift)
					d = true;
			if (!d)
				continue;
			if (!first)
				appendStringInfoString(&out, ", ");
			AppendJsonString(&out, cols[i].name);
			first = false;
		}
	}
	appendStringInfoString(&out, "], \"columns\": {");
	for (int i = 0; i < ncols; i++)
	{
		bool		first = true;

		if (i > 0)
			appendStringInfoString(&out, ", ");
		AppendJsonString(&out, cols[i].name);
		appendStringInfoString(&out, ": {");
		for (int j = 0; j < nchecks; j++)
		{
			DriftCheck *ck = &checks[j];

			if (ck->column != cols[i].name)
				continue;
			if (!first)
				appendStringInfoString(&out, ", ");
			first = false;
			appendStringInfo(&out, "\"%s\": {", method_names[ck->method]);
			if (ck->method == METHOD_KS || ck->method == METHOD_CHI_SQUARE)
			{
				appendStringInfoString(&out, "\"statistic\": ");
				AppendJsonNumber(&out, ck->value);
				appendStringInfoString(&out, ", \"p_value\": ");
				AppendJsonNumber(&out, ck->p_value);
				if (ck->method == METHOD_CHI_SQUARE)
					appendStringInfo(&out, ", \"dof\": %d", ck->dof);
			}
			else
			{
				appendStringInfoString(&out, "\"value\": ");
				AppendJsonNumber(&out, ck->value);
			}
			appendStringInfoString(&out, ", \"threshold\": ");
			AppendJsonNumber(&out, ck->threshold);
			appendStringInfo(&out, ", \"drift\": %s}", ck->drift ? "true" : "false");
		}
		appendStringInfoChar(&out, '}');
	}
	appendStringInfoString(&out, "}, \"counts\": {");
	for (int i = 0; i < ncols; i++)
	{
		if (i > 0)
			appendStringInfoString(&out, ", ");
		AppendJsonString(&out, cols[i].name);
		appendStringInfo(&out, ": {\"reference\": " INT64_FORMAT ", \"current\": " INT64_FORMAT
						 ", \"dropped\": " INT64_FORMAT "}",
						 cols[i].ref_count, cols[i].cur_count, cols[i].cur_dropped);
	}
	appendStringInfoString(&out, "}}");

	/* store every check and the audit event, as the owner */
	{
		MlopsOwnerSave save;
		Datum	   *cn = palloc(sizeof(Datum) * Max(nchecks, 1));
		Datum	   *mn = palloc(sizeof(Datum) * Max(nchecks, 1));
		Datum	   *vv = palloc(sizeof(Datum) * Max(nchecks, 1));
		Datum	   *pv = palloc(sizeof(Datum) * Max(nchecks, 1));
		bool	   *pn = palloc(sizeof(bool) * Max(nchecks, 1));
		Datum	   *tv = palloc(sizeof(Datum) * Max(nchecks, 1));
		Datum	   *dv = palloc(sizeof(Datum) * Max(nchecks, 1));
		int			dims[1] = {nchecks};
		int			lbs[1] = {1};
		Oid			types[7] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID,
		FLOAT8ARRAYOID, FLOAT8ARRAYOID, BOOLARRAYOID};
		Datum		args[7];
		int			rc;
		char	   *details;

		for (int j = 0; j < nchecks; j++)
		{
			cn[j] = CStringGetTextDatum(checks[j].column);
			mn[j] = CStringGetTextDatum(method_names[checks[j].method]);
			vv[j] = Float8GetDatum(checks[j].value);
			pn[j] = isnan(checks[j].p_value);
			pv[j] = Float8GetDatum(pn[j] ? 0.0 : checks[j].p_value);
			tv[j] = Float8GetDatum(checks[j].threshold);
			dv[j] = BoolGetDatum(checks[j].drift);
		}
		args[0] = CStringGetTextDatum(name);
		args[1] = PointerGetDatum(construct_array(cn, nchecks, TEXTOID, -1, false, TYPALIGN_INT));
		args[2] = PointerGetDatum(construct_array(mn, nchecks, TEXTOID, -1, false, TYPALIGN_INT));
		args[3] = PointerGetDatum(construct_array(vv, nchecks, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[4] = PointerGetDatum(construct_md_array(pv, pn, 1, dims, lbs, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[5] = PointerGetDatum(construct_array(tv, nchecks, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[6] = PointerGetDatum(construct_array(dv, nchecks, BOOLOID, 1, true, TYPALIGN_CHAR));

		MlopsBeginOwner(&save);
		rc = SPI_execute_with_args(
			"INSERT INTO mlops.drift_results"
			"       (reference_name, checked_at, column_name, method, value, p_value, threshold, drift, checked_by)"
			" SELECT $1, pg_catalog.now(), u.c, u.m, u.v, u.p, u.t, u.d, mlops.current_actor()"
			"   FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4),"
			"                   pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7))"
			"        AS u(c, m, v, p, t, d)",
			7, types, args, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "storing drift results failed: %s", SPI_result_code_string(rc));
		details = psprintf("{\"drift_detected\": %s, \"checks\": %d, \"rows\": " INT64_FORMAT "}",
						   any_drift ? "true" : "false", nchecks, rows);
		DriftAudit("drift.detect", "drift_reference", name, details);
		MlopsEndOwner(&save);
	}
	{
		MemoryContext spicxt = MemoryContextSwitchTo(callcxt);

		result = DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data));
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * ComputeShares bins a column's reference and current samples for PSI, KL
 * and JS: quantile bins of the stored values, the training histogram's
 * bins, or the categories of both samples.
 */
static void
ComputeShares(DriftColumn *c, double **rs, double **cs, int *k)
{
	char		err[256];

	if (c->kind == KIND_CATEGORICAL)
	{
		*k = c->cats.n;
		*rs = malloc(sizeof(double) * c->cats.n);
		*cs = malloc(sizeof(double) * c->cats.n);
		if (!*rs || !*cs)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		StatsCountsToShares(c->cats.ref_counts, (double) c->ref_count, *rs, *k);
		StatsCountsToShares(c->cats.cur_counts, (double) c->cur_count, *cs, *k);
	}
	else if (c->ref_values)
	{
		if (StatsBinShares(c->ref_values, c->nref_values, true, c->cur_values, c->ncur,
						   10, STATS_BINNING_QUANTILE, rs, cs, k, err, sizeof(err)) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("binning column \"%s\": %s", c->name, err)));
	}
	else
	{
		/* the training histogram's inner edges, open-ended outer bins */
		int			bins = c->nedges - 1;
		double		total = 0;

		*k = bins;
		*rs = malloc(sizeof(double) * bins);
		*cs = malloc(sizeof(double) * bins);
		if (!*rs || !*cs)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		for (int i = 0; i < bins; i++)
			total += c->edge_counts[i];
		StatsCountsToShares(c->edge_counts, total, *rs, bins);
		StatsCountIntoBins(c->cur_values, c->ncur, c->edges + 1, bins, *cs);
		StatsCountsToShares(*cs, (double) c->ncur, *cs, bins);
	}
}

/*
 * MethodByName returns the DriftMethod called name or raises an error
 * listing the valid names.
 */
static int
MethodByName(const char *name)
{
	for (int m = 0; m < NUM_METHODS; m++)
		if (strcmp(method_names[m], name) == 0)
			return m;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown drift method \"%s\"", name),
			 errhint("Valid methods are psi, kl_divergence, js_distance, wasserstein, ks and chi_square.")));
	return -1;
}

/*
 * ParseThresholds applies a thresholds object: a method name maps to a
 * number for every column, a column name to an object of method numbers.
 */
static void
ParseThresholds(Jsonb *thresholds, DriftColumn *cols, int ncols)
{
	Oid			types[1] = {JSONBOID};
	Datum		args[1];
	int			rc;
	args[0] = JsonbPGetDatum(thresholds);
	rc = SPI_execute_with_args("SELECT pg_catalog.jsonb_typeof($1)", 1, types, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1 ||
		strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "object") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("thresholds must be a JSON object"),
				 errhint("Pass for example '{\"psi\": 0.25, \"age\": {\"ks\": 0.01}}'.")));
	rc = SPI_execute_with_args(
		"SELECT e.key, NULL::pg_catalog.text, pg_catalog.jsonb_typeof(e.value), e.value OPERATOR(pg_catalog.#>>) '{}'"
		"  FROM pg_catalog.jsonb_each($1) e"
		" WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'object'"
		" UNION ALL "
		"SELECT e.key, c.key, pg_catalog.jsonb_typeof(c.value), c.value OPERATOR(pg_catalog.#>>) '{}'"
		"  FROM pg_catalog.jsonb_each($1) e, pg_catalog.jsonb_each(e.value) c"
		" WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.=) 'object'",
		1, types, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading thresholds failed: %s", SPI_result_code_string(rc));
	/* two passes: method-wide thresholds first, then per-column ones */
	for (int pass = 0; pass < 2; pass++)
	{
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *key = SPI_getvalue(tup, desc, 1);
			char	   *sub = SPI_getvalue(tup, desc, 2);
			char	   *jtype = SPI_getvalue(tup, desc, 3);
			char	   *val = SPI_getvalue(tup, desc, 4);
			const char *mname = sub ? sub : key;
			int			m;
			double		t;

			if ((sub != NULL) != (pass == 1))
				continue;
			if (sub == NULL)
			{
				bool		is_method = false;

				for (int mm = 0; mm < NUM_METHODS; mm++)
					if (strcmp(method_names[mm], key) == 0)
						is_method = true;
				if (!is_method)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("unknown key \"%s\" in thresholds", key),
							 errhint("Keys are method names (psi, kl_divergence, js_distance, wasserstein, ks, chi_square) with a number, or column names with an object of them.")));
			}
			m = MethodByName(mname);
			if (strcmp(jtype, "number") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("threshold for \"%s\" must be a number", mname),
						 errdetail("Got a JSON %s.", jtype)));
			t = DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(val)));
			if ((m == METHOD_KS || m == METHOD_CHI_SQUARE) ? !(t > 0 && t <= 1) : !(t >= 0 && isfinite(t)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("threshold %g for \"%s\" is out of range", t, mname),
						 errhint("A p-value threshold (ks, chi_square) lies in (0, 1]; a distance threshold is at least 0.")));
			if (sub == NULL)
			{
				for (int i = 0; i < ncols; i++)
					cols[i].threshold[m] = t;
			}
			else
			{
				bool		found = false;

				for (int i = 0; i < ncols; i++)
					if (strcmp(cols[i].name, key) == 0)
					{
						cols[i].threshold[m] = t;
						found = true;
					}
				if (!found)
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_COLUMN),
							 errmsg("thresholds name column \"%s\", which is not checked", key)));
			}
		}
	}
}

/*
 * LoadReference reads a stored reference as the extension owner into
 * DriftColumns allocated in the current (SPI) memory context.
 */
static void
LoadReference(const char *name, char **source_kind, DriftColumn **cols, int *ncols)
{
	MlopsOwnerSave save;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	int			rc;
	SPITupleTable *tt;

	args[0] = CStringGetTextDatum(name);
	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args("SELECT source_kind FROM mlops.drift_references"
							   " WHERE name OPERATOR(pg_catalog.=) $1",
							   1, types, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading drift reference failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("drift reference \"%s\" does not exist", name),
				 errhint("Create it with mlops.set_drift_reference or mlops.set_drift_reference_from_model.")));
	*source_kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	rc = SPI_execute_with_args("SELECT column_name, kind, value_count, dropped_count, sorted_values,"
							   "       bin_edges, bin_counts, categories, category_counts"
							   "  FROM mlops.drift_reference_columns"
							   " WHERE reference_name OPERATOR(pg_catalog.=) $1 ORDER BY ordinal",
							   1, types, args, NULL, true, 0);
	MlopsEndOwner(&save);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading drift reference columns failed: %s", SPI_result_code_string(rc));
	tt = SPI_tuptable;
	*ncols = (int) SPI_processed;
	*cols = palloc0(sizeof(DriftColumn) * Max(*ncols, 1));
	for (int i = 0; i < *ncols; i++)
	{
		DriftColumn *c = &(*cols)[i];
		HeapTuple	tup = tt->vals[i];
		bool		isnull;
		Datum		d;
		int			dropped;

		c->name = SPI_getvalue(tup, tt->tupdesc, 1);
		c->kind = strcmp(SPI_getvalue(tup, tt->tupdesc, 2), "numeric") == 0 ? KIND_NUMERIC : KIND_CATEGORICAL;
		c->ref_count = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 3, &isnull));
		c->ref_dropped = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 4, &isnull));
		if (c->kind == KIND_NUMERIC)
		{
			d = SPI_getbinval(tup, tt->tupdesc, 5, &isnull);
			if (!isnull)
				c->ref_values = DriftArrayToDoubles(DatumGetArrayTypeP(d), "sorted_values",
													&c->nref_values, &dropped, false, NULL);
			else
			{
				int			nc;

				d = SPI_getbinval(tup, tt->tupdesc, 6, &isnull);
				c->edges = DriftArrayToDoubles(DatumGetArrayTypeP(d), "bin_edges",
											   &c->nedges, &dropped, false, NULL);
				d = SPI_getbinval(tup, tt->tupdesc, 7, &isnull);
				c->edge_counts = DriftArrayToDoubles(DatumGetArrayTypeP(d), "bin_counts",
													 &nc, &dropped, false, NULL);
			}
		}
		else
		{
			CategoryTableInit(&c->cats);
			if (CategoryAddReference(&c->cats,
									 DatumGetArrayTypeP(SPI_getbinval(tup, tt->tupdesc, 8, &isnull)),
									 DatumGetArrayTypeP(SPI_getbinval(tup, tt->tupdesc, 9, &isnull))) < 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("the stored categories of column \"%s\" of drift reference \"%s\" are not valid",
								c->name, name)));
		}
	}
}

/*
 * AppendJsonNumber appends a finite double in its shortest exact form, or
 * null when it is not finite.
 */
static void
AppendJsonNumber(StringInfo buf, double v)
{
	if (isfinite(v))
		appendStringInfoString(buf, float8out_internal(v));
	else
		appendStringInfoString(buf, "null");
}

/*
 * AppendJsonString appends s as a JSON string literal.
 */
static void
AppendJsonString(StringInfo buf, const char *s)
{
	escape_json(buf, s);
}
