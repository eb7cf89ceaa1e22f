/*-------------------------------------------------------------------------
 *
 * reference_model.c
 *	  mlops.set_drift_reference_from_model: a drift reference made of the
 *	  training statistics a model version keeps in its input_schema.
 *
 * mlops.train records, per feature, a histogram of equal-width bins for a
 * numeric feature and the count of every category for a categorical one
 * (common/dataset_schema.c).  This file reads them as the extension owner
 * (the registry is the owner's; whoever may run the function may reference
 * any model), checks every number, since an imported or edited input_schema
 * may hold anything, and stores them as a reference of kind "model".  Such
 * a reference keeps histograms, not values, so detect_drift can run psi,
 * kl_divergence and js_distance on its numeric columns but not ks or
 * wasserstein.  No user SQL runs here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "drift/drift.h"
#include "common/common.h"

PG_FUNCTION_INFO_V1(mlops_set_drift_reference_from_model);

/* the largest count a training statistic may hold */
#define MAX_STAT_COUNT 4611686018427387904.0	/* 2^62 */

static bool ModelFeatureColumn(HeapTuple tup, TupleDesc desc, DriftColumn *c,
							   int64 *feature_rows);
static void HistogramColumn(DriftColumn *c, Datum edges, Datum counts);
static int64 StatCount(double v, const char *feature);

/*
 * mlops_set_drift_reference_from_model makes a drift reference from the
 * training statistics in a model version's input_schema.
 */
Datum
mlops_set_drift_reference_from_model(PG_FUNCTION_ARGS)
{
	char	   *name = DriftReferenceNameArg(fcinfo);
	char	   *model = text_to_cstring(DriftRequireTextArg(fcinfo, 1, "model"));
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

	ResolveModelRef(model, &rm);
	args[0] = Int64GetDatum(rm.model_id);
	args[1] = Int32GetDatum(rm.version);

	SPI_connect();
	DriftLockReference(name);
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
		DriftColumn *c = &cols[ncols];
		int64		feature_rows = 0;

		if (!ModelFeatureColumn(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c, &feature_rows))
		{
			if (c->name == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature %llu of model \"%s\" version %d has no name",
								(unsigned long long) r + 1, rm.name, rm.version)));
			ereport(NOTICE,
					(errmsg("feature \"%s\" has no training statistics and is not part of the drift reference",
							c->name)));
			continue;
		}
		rows = Max(rows, Max(feature_rows, c->ref_count + c->ref_dropped));
		ncols++;
	}
	if (ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" version %d has no training statistics", rm.name, rm.version),
				 errdetail("Its input_schema lists no feature with a histogram or category counts."),
				 errhint("Train the version with mlops.train, which records them, or use mlops.set_drift_reference on the training data.")));
	DriftWriteReference(name, psprintf("%s/%d", rm.name, rm.version), "model",
						rm.model_id, rm.version, rows, cols, ncols);
	{
		MemoryContext spicxt = MemoryContextSwitchTo(callcxt);

		result = DriftReferenceSummary(name, rows, cols, ncols);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * ModelFeatureColumn fills c from one feature's row of the input_schema
 * query (name, edges, counts, categories, category counts, count,
 * null_share) and sets *feature_rows to the feature's row count when the
 * schema records one.  It returns false when the feature has no name or no
 * statistics; malformed statistics are an error.
 */
static bool
ModelFeatureColumn(HeapTuple tup, TupleDesc desc, DriftColumn *c, int64 *feature_rows)
{
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
		return false;
	if (!n_edges && !n_counts)
		HistogramColumn(c, edges, counts);
	else if (!n_cats && !n_ccounts)
	{
		double		total = 0;

		c->kind = KIND_CATEGORICAL;
		CategoryTableInit(&c->cats);
		if (CategoryAddReference(&c->cats, DatumGetArrayTypeP(cats), DatumGetArrayTypeP(ccounts)) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the training category counts of feature \"%s\" are malformed", c->name),
					 errdetail("Each category needs a finite count of at least 0.")));
		for (int i = 0; i < c->cats.n; i++)
			total += c->cats.ref_counts[i];
		c->ref_count = StatCount(total, c->name);
	}
	else
		return false;
	if (c->ref_count <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the training statistics of feature \"%s\" count no values", c->name)));
	if (!n_count && !n_null)
	{
		int64		cnt = StatCount(DatumGetFloat8(count), c->name);
		double		share = DatumGetFloat8(null_share);

		/* count includes NULLs; null_share of them were NULL */
		if (share > 0 && share < 1)
			c->ref_dropped = StatCount(rint(cnt * share), c->name);
		*feature_rows = cnt;
	}
	return true;
}

/*
 * HistogramColumn makes c a numeric column with the training histogram
 * given by the float8[] datums edges (k+1, ascending) and counts (k).
 */
static void
HistogramColumn(DriftColumn *c, Datum edges, Datum counts)
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
	c->ref_count = StatCount(total, c->name);
}

/*
 * StatCount converts a count from a training statistic to int64, refusing
 * what no training could have counted (negative, not finite, above 2^62).
 */
static int64
StatCount(double v, const char *feature)
{
	if (!(v >= 0 && v <= MAX_STAT_COUNT))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the training statistics of feature \"%s\" hold an impossible count", feature),
				 errdetail("Counts must lie between 0 and 2^62; got %g.", v)));
	return (int64) v;
}
