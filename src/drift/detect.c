/*-------------------------------------------------------------------------
 *
 * detect.c
 *	  mlops.detect_drift: compare a current sample with a stored reference;
 *	  mlops.check_monitor_drift: the same over a monitor's stored source.
 *
 * Data flow: (a) read the reference as the extension owner
 * (DriftLoadReference), check that the actor may change it (the results
 * are appended to its history, so only members of its owner role may
 * record them) and keep the columns asked for; (b) choose the methods per
 * column (the defaults, or the given ones where they apply) and their
 * thresholds; (c) resolve and open the source read-only (sample.c), match
 * its columns to the reference's by name and kind, and read it in one scan;
 * (d) compute the checks in C (stats.c and friends); (e) build the jsonb
 * report; (f) append every check to mlops.drift_results and the audit
 * event, as the owner.  Nothing is written unless every check could be
 * computed.
 *
 * Whose rights read the source (c): detect_drift's source is the caller's,
 * read as the caller.  A monitor's drift source (mlops.set_monitor_drift)
 * is SQL stored by one role and run later by another (a pipeline, a
 * scheduled job): check_monitor_drift reads it as the role that stored it,
 * with the search_path that role had, inside a security-restricted
 * operation (SetUserIdAndSecContext, as PostgreSQL refreshes a materialized
 * view), so nothing the source calls ever acts with the rights of whoever
 * runs the check.  The caller must be allowed to change the monitor.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "miscadmin.h"

#include "drift/drift.h"
#include "common/common.h"

PG_FUNCTION_INFO_V1(mlops_detect_drift);
PG_FUNCTION_INFO_V1(mlops_check_monitor_drift);
PG_FUNCTION_INFO_V1(mlops_detect_drift_distributions);

/* what one drift check is asked to do */
typedef struct DetectRequest
{
	const char *name;			/* the reference */
	const char *source;			/* the current data */
	ArrayType  *methods;		/* NULL: the defaults */
	ArrayType  *columns;		/* NULL: every column of the reference */
	Jsonb	   *thresholds;		/* NULL: the defaults */
	Oid			source_role;	/* read the source as this role; InvalidOid: as the caller */
	const char *search_path;	/* with this search_path (source_role only) */
	const char *monitor;		/* the monitor whose stored source it is, or NULL */
	int			bins;			/* > 0: return the distributions too (DriftDistributions) */
} DetectRequest;

static const char *const method_names[NUM_METHODS] = {
	"psi", "kl_divergence", "js_distance", "wasserstein", "ks", "chi_square"
};

/* default thresholds; NAN means "no default, the caller must give one" */
static const double method_default_threshold[NUM_METHODS] = {
	0.2, 0.1, 0.1, NAN, 0.05, 0.05
};

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

static Datum DetectDrift(const DetectRequest *req);
static DriftColumn *CheckedColumns(const DetectRequest *req, char **source_kind, int *ncols);
static void ChooseMethods(const DetectRequest *req, const char *source_kind,
						  DriftColumn *cols, int ncols);
static void ReadCurrent(const DetectRequest *req, DriftColumn *cols, int ncols, int64 *rows);
static void StoredSourceContext(void *arg);
static void ReadMonitorDrift(const char *model, DetectRequest *req);
static void BindSource(DriftSource *src, const char *name, DriftColumn *cols, int ncols);
static DriftCheck *RunChecks(DriftColumn *cols, int ncols, int64 rows,
							 int *nchecks, bool *any_drift);
static void RunCheck(DriftColumn *c, DriftMethod m, const double *rs,
					 const double *cs, int k, DriftCheck *ck);
static char *DriftReport(const char *name, int64 rows, bool any_drift,
						 DriftColumn *cols, int ncols, DriftCheck *checks, int nchecks);
static void AppendChecks(StringInfo out, const char *column, DriftCheck *checks, int nchecks);
static void StoreChecks(const char *name, int64 rows, bool any_drift,
						DriftCheck *checks, int nchecks);
static void ComputeShares(DriftColumn *c, double **rs, double **cs, int *k);
static int	MethodByName(const char *name);
static void ParseThresholds(Jsonb *thresholds, DriftColumn *cols, int ncols);
static void ApplyThreshold(const char *key, const char *sub, const char *jtype,
						   const char *val, DriftColumn *cols, int ncols);
static int	NameIndex(char *const *names, int n, const char *want);
static void AppendJsonNumber(StringInfo buf, double v);
static void RequestFromArgs(FunctionCallInfo fcinfo, DetectRequest *req);

/*
 * mlops_detect_drift compares a current sample with a stored reference,
 * stores every check in mlops.drift_results and returns the report.
 */
Datum
mlops_detect_drift(PG_FUNCTION_ARGS)
{
	DetectRequest req;

	RequestFromArgs(fcinfo, &req);
	req.thresholds = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	PG_RETURN_DATUM(DetectDrift(&req));
}

/*
 * RequestFromArgs fills a request from the arguments detect_drift and
 * _detect_drift_distributions share: name, source, methods and columns,
 * the source read as the caller; the rest zeroed.
 */
static void
RequestFromArgs(FunctionCallInfo fcinfo, DetectRequest *req)
{
	memset(req, 0, sizeof(*req));
	req->name = text_to_cstring(DriftRequireTextArg(fcinfo, 0, "name"));
	req->source = text_to_cstring(DriftRequireTextArg(fcinfo, 1, "source"));
	req->methods = PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2);
	req->columns = PG_ARGISNULL(3) ? NULL : PG_GETARG_ARRAYTYPE_P(3);
	req->source_role = InvalidOid;
}

/*
 * mlops_detect_drift_distributions implements
 * mlops._detect_drift_distributions(name, source, methods, columns, bins):
 * detect_drift (recorded as such) returning {"result": detect_drift's
 * result, "distributions": the distributions it compared}, from one read
 * of the source, for mlops.drift_report.
 */
Datum
mlops_detect_drift_distributions(PG_FUNCTION_ARGS)
{
	DetectRequest req;

	RequestFromArgs(fcinfo, &req);
	req.bins = PG_ARGISNULL(4) ? DRIFT_DISTRIBUTION_BINS : PG_GETARG_INT32(4);
	if (req.bins < 1 || req.bins > DRIFT_DISTRIBUTION_BINS_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bins must be between 1 and %d", DRIFT_DISTRIBUTION_BINS_MAX),
				 errdetail("The value given was %d.", req.bins)));
	PG_RETURN_DATUM(DetectDrift(&req));
}

/*
 * mlops_check_monitor_drift runs detect_drift over a monitor's drift
 * reference and stored source, reading the source as the role that stored
 * it; NULL when the monitor names no drift reference.
 */
Datum
mlops_check_monitor_drift(PG_FUNCTION_ARGS)
{
	DetectRequest req;

	MlopsRequireCurrentSchema("mlops.check_monitor_drift");
	memset(&req, 0, sizeof(req));
	ReadMonitorDrift(text_to_cstring(DriftRequireTextArg(fcinfo, 0, "model")), &req);
	if (req.name == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(DetectDrift(&req));
}

/*
 * DetectDrift runs the checks of a request and returns the jsonb report.
 */
static Datum
DetectDrift(const DetectRequest *req)
{
	MemoryContext callcxt = CurrentMemoryContext;
	char	   *source_kind;
	DriftColumn *cols;
	int			ncols;
	int64		rows;
	DriftCheck *checks;
	int			nchecks;
	bool		any_drift;
	char	   *report;
	Datum		result;

	SPI_connect();
	cols = CheckedColumns(req, &source_kind, &ncols);
	ChooseMethods(req, source_kind, cols, ncols);
	if (req->thresholds != NULL)
		ParseThresholds(req->thresholds, cols, ncols);
	for (int i = 0; i < ncols; i++)
		if (cols[i].method_on[METHOD_WASSERSTEIN] && isnan(cols[i].threshold[METHOD_WASSERSTEIN]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("method \"wasserstein\" needs a threshold"),
					 errdetail("The Wasserstein distance is in the column's own units, so there is no default."),
					 errhint("Pass thresholds such as '{\"wasserstein\": 2.5}' or '{\"%s\": {\"wasserstein\": 2.5}}'.",
							 cols[i].name)));

	ReadCurrent(req, cols, ncols, &rows);
	checks = RunChecks(cols, ncols, rows, &nchecks, &any_drift);
	report = DriftReport(req->name, rows, any_drift, cols, ncols, checks, nchecks);
	StoreChecks(req->name, rows, any_drift, checks, nchecks);
	if (req->bins > 0)
		report = psprintf("{\"result\": %s, \"distributions\": %s}", report,
						  DriftDistributions(cols, ncols, req->bins));
	{
		MemoryContext spicxt = MemoryContextSwitchTo(callcxt);

		result = DirectFunctionCall1(jsonb_in, CStringGetDatum(report));
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	return result;
}

/*
 * ReadMonitorDrift reads, as the extension owner, the drift reference and
 * stored source of the monitor of model into req (req->name stays NULL
 * when it names none), after checking that the actor may change the
 * monitor and that the role that stored the source can read it.
 */
static void
ReadMonitorDrift(const char *model, DetectRequest *req)
{
	MlopsOwnerSave save;
	Datum		args[1] = {CStringGetTextDatum(model)};
	MemoryContext cxt = CurrentMemoryContext;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Oid			owner;
	int			rc;

	SPI_connect();
	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args("SELECT owner, drift_reference, drift_source, drift_source_role,"
							   "       drift_source_search_path"
							   "  FROM mlops.monitors WHERE model OPERATOR(pg_catalog.=) $1 FOR SHARE",
							   1, (Oid[]) {TEXTOID}, args, NULL, false, 1);
	MlopsEndOwner(&save);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the monitor failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no monitor", MlopsClip(model, MLOPS_ECHO_MAX)),
				 errhint("Create one with mlops.create_monitor(model, problem_type, baseline_metrics).")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	owner = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
	MlopsRequireOwner("monitor", model, owner);
	req->monitor = MemoryContextStrdup(cxt, model);
	(void) SPI_getbinval(tup, desc, 2, &isnull);
	if (!isnull)
	{
		req->name = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 2));
		req->source = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 3));
		req->source_role = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		if (isnull)
			req->source_role = InvalidOid;
		req->search_path = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 5) ? SPI_getvalue(tup, desc, 5)
											   : "\"$user\", public, pg_temp");
	}
	SPI_finish();
	if (req->name == NULL)
		return;
	if (!OidIsValid(req->source_role) ||
		!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(req->source_role)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the role that stored the drift source of monitor \"%s\" is not known",
						MlopsClip(model, MLOPS_ECHO_MAX)),
				 errdetail("A stored source is read only as the role that stored it, and that role %s.",
						   OidIsValid(req->source_role) ? "no longer exists" : "was not recorded (the source was set before mlops 0.2.0)"),
				 errhint("Set the source again with mlops.set_monitor_drift(model, reference, source).")));
	if (req->source_role == MlopsExtensionOwner() && GetUserId() != req->source_role)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the drift source of monitor \"%s\" was stored by the extension owner",
						MlopsClip(model, MLOPS_ECHO_MAX)),
				 errdetail("A source is never read with the extension owner's rights on behalf of another role."),
				 errhint("Set the source again as a member of the monitor's owner role with mlops.set_monitor_drift.")));
}

/*
 * CheckedColumns loads the reference and returns the columns to check:
 * every reference column, or those named by the columns argument.  The
 * actor must be allowed to change the reference.
 */
static DriftColumn *
CheckedColumns(const DetectRequest *req, char **source_kind, int *ncols)
{
	DriftColumn *all,
			   *cols;
	int			nall,
				n;
	char	  **want;
	char	  **refnames;
	Oid			owner;

	DriftLoadReference(req->name, source_kind, &owner, &all, &nall);
	if (OidIsValid(owner))
		MlopsRequireOwner("drift_reference", req->name, owner);
	if (req->columns == NULL)
	{
		*ncols = nall;
		return all;
	}
	want = DriftTextArray(req->columns, "columns",
						  "Pass NULL to check every column of the reference.",
						  true, &n);
	refnames = palloc(sizeof(char *) * Max(nall, 1));
	for (int i = 0; i < nall; i++)
		refnames[i] = all[i].name;
	cols = palloc0(sizeof(DriftColumn) * n);
	for (int j = 0; j < n; j++)
	{
		int			found = NameIndex(refnames, nall, want[j]);

		if (found < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" is not part of drift reference \"%s\"",
							MlopsClip(want[j], MLOPS_ECHO_MAX), MlopsClip(req->name, MLOPS_ECHO_MAX)),
					 errhint("Set the reference again with that column, or leave it out.")));
		cols[j] = all[found];
	}
	*ncols = n;
	return cols;
}

/*
 * ReadCurrent resolves and opens the source, binds the columns and reads
 * the current samples: as the caller, or, for a stored source, as the role
 * that stored it with its search_path, in a security-restricted operation
 * (no SET ROLE, no temporary objects, nothing left behind in the session).
 * An error rolls the identity and the setting back with the
 * (sub)transaction.
 */
static void
ReadCurrent(const DetectRequest *req, DriftColumn *cols, int ncols, int64 *rows)
{
	DriftSource src;
	MlopsOwnerSave save;
	ErrorContextCallback errcallback;
	bool		as_role = OidIsValid(req->source_role);

	if (as_role)
	{
		MlopsBeginAuthor(&save, req->source_role, req->search_path);
		errcallback.callback = StoredSourceContext;
		errcallback.arg = unconstify(DetectRequest *, req);
		errcallback.previous = error_context_stack;
		error_context_stack = &errcallback;
	}
	DriftSourceOpen(req->source, &src);
	BindSource(&src, req->name, cols, ncols);
	DriftReadSample(&src, cols, ncols, rows);
	if (as_role)
	{
		error_context_stack = errcallback.previous;
		MlopsEndOwner(&save);
	}
}

/*
 * StoredSourceContext says, in the context of an error, whose stored source
 * was being read.
 */
static void
StoredSourceContext(void *arg)
{
	const DetectRequest *req = (const DetectRequest *) arg;
	char	   *role = GetUserNameFromId(req->source_role, true);

	errcontext("drift source of monitor \"%s\", read as role \"%s\"",
			   MlopsClip(req->monitor, MLOPS_ECHO_MAX), role ? role : "?");
}

/*
 * ChooseMethods switches on, per column, the given methods that apply to
 * it (or the defaults: psi and ks for numeric columns, psi and chi_square
 * for categorical ones) with their default thresholds.  A given method that
 * applies to no column is an error.
 */
static void
ChooseMethods(const DetectRequest *req, const char *source_kind, DriftColumn *cols, int ncols)
{
	const char *name = req->name;
	bool		explicit_methods = req->methods != NULL;
	bool		want[NUM_METHODS];
	bool		used[NUM_METHODS];

	memset(want, 0, sizeof(want));
	memset(used, 0, sizeof(used));
	if (explicit_methods)
	{
		int			n;
		char	  **given = DriftTextArray(req->methods, "methods",
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
	for (int m = 0; explicit_methods && m < NUM_METHODS; m++)
		if (want[m] && !used[m])
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("method \"%s\" applies to no checked column of drift reference \"%s\"",
							method_names[m], MlopsClip(name, MLOPS_ECHO_MAX)),
					 (m == METHOD_KS || m == METHOD_WASSERSTEIN) && strcmp(source_kind, "model") == 0 ?
					 errdetail("A reference made from a model's training statistics keeps histograms, not the values %s needs.", method_names[m]) :
					 errdetail("chi_square applies to categorical columns, ks and wasserstein to numeric ones."),
					 errhint("Choose methods that fit the columns, or set the reference from data with mlops.set_drift_reference.")));
}

/*
 * BindSource binds every checked column to the source column of the same
 * name, which must be of the same kind (a boolean column may be compared
 * with a numeric reference column, as the numbers 0 and 1, which is how a
 * model reference of a boolean feature keeps its training histogram).
 */
static void
BindSource(DriftSource *src, const char *name, DriftColumn *cols, int ncols)
{
	for (int i = 0; i < ncols; i++)
	{
		int			found = DriftSourceColumn(src, cols[i].name);
		Oid			type;

		if (found < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of drift reference \"%s\" is not in the source", cols[i].name,
							MlopsClip(name, MLOPS_ECHO_MAX)),
					 errdetail("%s", SourceColumnsHint(src->desc)),
					 errhint("Select the column in the source, or leave it out with the columns argument.")));
		type = TupleDescAttr(src->desc, found)->atttypid;
		/* training encodes booleans as 0 and 1: a model reference's histogram */
		if (DriftColumnKind(type) != cols[i].kind &&
			!(cols[i].kind == KIND_NUMERIC && getBaseType(type) == BOOLOID))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" is %s in drift reference \"%s\" but has type %s in the source",
							cols[i].name, cols[i].kind == KIND_NUMERIC ? "numeric" : "categorical",
							MlopsClip(name, MLOPS_ECHO_MAX), format_type_be(type)),
					 errhint("Cast the column in the source query to match the reference.")));
		DriftBindColumn(src, &cols[i], found);
	}
}

/*
 * RunChecks computes every switched-on check of every column; *any_drift
 * tells whether one of them found drift.
 */
static DriftCheck *
RunChecks(DriftColumn *cols, int ncols, int64 rows, int *nchecks, bool *any_drift)
{
	DriftCheck *checks = palloc(sizeof(DriftCheck) * Max(ncols, 1) * NUM_METHODS);

	*nchecks = 0;
	*any_drift = false;
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
			ck = &checks[(*nchecks)++];
			RunCheck(c, (DriftMethod) m, rs, cs, k, ck);
			if (ck->drift)
				*any_drift = true;
		}
		StatsFree(rs);
		StatsFree(cs);
	}
	return checks;
}

/*
 * RunCheck computes method m on column c (rs and cs are the binned shares
 * of both samples, k of them, for psi, kl_divergence and js_distance) and
 * decides drift against the column's threshold.
 */
static void
RunCheck(DriftColumn *c, DriftMethod m, const double *rs, const double *cs, int k,
		 DriftCheck *ck)
{
	char		err[256];

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
			ck->value = DriftWasserstein(c->ref_values, c->nref_values,
										 c->cur_values, c->ncur, c->name);
			break;
		case METHOD_KS:
			StatsKsTwoSample(c->ref_values, c->nref_values,
							 c->cur_values, c->ncur, &ck->value, &ck->p_value);
			break;
		case METHOD_CHI_SQUARE:
			if (StatsChiSquare2xK(c->cats.ref_counts, c->cats.cur_counts, c->cats.n,
								  &ck->value, &ck->dof,
								  err, sizeof(err)) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("chi-square test of column \"%s\": %s", c->name, err)));
			ck->p_value = MlopsChi2Sf(ck->value, (double) ck->dof);
			break;
		case NUM_METHODS:
			elog(ERROR, "unexpected drift method %d", (int) m);
	}
	if (m == METHOD_KS || m == METHOD_CHI_SQUARE)
		ck->drift = ck->p_value < ck->threshold;
	else
		ck->drift = ck->value > ck->threshold;
}

/*
 * DriftReport returns the jsonb text of the report: reference, rows,
 * whether and where drift was found, every check per column, and the
 * sample sizes.
 */
static char *
DriftReport(const char *name, int64 rows, bool any_drift, DriftColumn *cols, int ncols,
			DriftCheck *checks, int nchecks)
{
	StringInfoData out;
	bool		first = true;

	initStringInfo(&out);
	appendStringInfo(&out, "{\"reference\": ");
	escape_json(&out, name);
	appendStringInfo(&out, ", \"rows\": " INT64_FORMAT ", \"drift_detected\": %s, \"columns_with_drift\": [",
					 rows, any_drift ? "true" : "false");
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
		escape_json(&out, cols[i].name);
		first = false;
	}
	appendStringInfoString(&out, "], \"columns\": {");
	for (int i = 0; i < ncols; i++)
	{
		if (i > 0)
			appendStringInfoString(&out, ", ");
		escape_json(&out, cols[i].name);
		appendStringInfoString(&out, ": {");
		AppendChecks(&out, cols[i].name, checks, nchecks);
		appendStringInfoChar(&out, '}');
	}
	appendStringInfoString(&out, "}, \"counts\": {");
	for (int i = 0; i < ncols; i++)
	{
		if (i > 0)
			appendStringInfoString(&out, ", ");
		escape_json(&out, cols[i].name);
		appendStringInfo(&out, ": {\"reference\": " INT64_FORMAT ", \"current\": " INT64_FORMAT
						 ", \"dropped\": " INT64_FORMAT "}",
						 cols[i].ref_count, cols[i].cur_count, cols[i].cur_dropped);
	}
	appendStringInfoString(&out, "}}");
	return out.data;
}

/*
 * AppendChecks appends the checks of one column as JSON members
 * "method": {...}.
 */
static void
AppendChecks(StringInfo out, const char *column, DriftCheck *checks, int nchecks)
{
	bool		first = true;

	for (int j = 0; j < nchecks; j++)
	{
		DriftCheck *ck = &checks[j];

		if (ck->column != column)
			continue;
		if (!first)
			appendStringInfoString(out, ", ");
		first = false;
		appendStringInfo(out, "\"%s\": {", method_names[ck->method]);
		if (ck->method == METHOD_KS || ck->method == METHOD_CHI_SQUARE)
		{
			appendStringInfoString(out, "\"statistic\": ");
			AppendJsonNumber(out, ck->value);
			appendStringInfoString(out, ", \"p_value\": ");
			AppendJsonNumber(out, ck->p_value);
			if (ck->method == METHOD_CHI_SQUARE)
				appendStringInfo(out, ", \"dof\": %d", ck->dof);
		}
		else
		{
			appendStringInfoString(out, "\"value\": ");
			AppendJsonNumber(out, ck->value);
		}
		appendStringInfoString(out, ", \"threshold\": ");
		AppendJsonNumber(out, ck->threshold);
		appendStringInfo(out, ", \"drift\": %s}", ck->drift ? "true" : "false");
	}
}

/*
 * StoreChecks appends every check to mlops.drift_results and records the
 * audit event, as the extension owner.
 */
static void
StoreChecks(const char *name, int64 rows, bool any_drift, DriftCheck *checks, int nchecks)
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
		*rs = StatsAllocArray((size_t) c->cats.n, sizeof(double));
		*cs = StatsAllocArray((size_t) c->cats.n, sizeof(double));
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
		*rs = StatsAllocArray((size_t) bins, sizeof(double));
		*cs = StatsAllocArray((size_t) bins, sizeof(double));
		if (!*rs || !*cs)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		for (int i = 0; i < bins; i++)
		{
			if ((i & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			total += c->edge_counts[i];
		}
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
			char	   *sub = SPI_getvalue(tup, desc, 2);

			if ((sub != NULL) != (pass == 1))
				continue;
			ApplyThreshold(SPI_getvalue(tup, desc, 1), sub, SPI_getvalue(tup, desc, 3),
						   SPI_getvalue(tup, desc, 4), cols, ncols);
		}
	}
}

/*
 * ApplyThreshold applies one entry of a thresholds object: key is a method
 * name with a number for every column (sub NULL), or a column name whose
 * object maps method sub to a number; jtype is the JSON type of the value
 * and val its text.
 */
static void
ApplyThreshold(const char *key, const char *sub, const char *jtype, const char *val,
			   DriftColumn *cols, int ncols)
{
	const char *mname = sub ? sub : key;
	int			m;
	double		t;
	bool		found = false;

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
	for (int i = 0; i < ncols; i++)
	{
		if (sub != NULL && strcmp(cols[i].name, key) != 0)
			continue;
		cols[i].threshold[m] = t;
		found = true;
	}
	if (sub != NULL && !found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("thresholds name column \"%s\", which is not checked", key)));
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
