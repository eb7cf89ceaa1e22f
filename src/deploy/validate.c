/*
 * validate.c
 *		mlops.validate_model: the validation gate a deployment can require.
 *
 * Design
 * ------
 * validate_model(model, source, target, min_metrics, max_latency_ms,
 * compare_to, max_regression) checks one model version on a labelled table
 * or query and records the report in mlops.validations:
 *
 *   schema      every feature of the version's input_schema is a column of
 *               the source with a type it can be encoded from, and the
 *               target is a column;
 *   sanity      no prediction is NaN or infinite;
 *   metrics     computed on every row with the accumulators of
 *               common/metrics.c, the code behind mlops.model_metrics (for a
 *               binary classifier the probability of class 1 feeds ROC AUC,
 *               as recorded predictions do), each min_metrics entry a lower
 *               bound (an upper bound for the error metrics mae, mse, rmse,
 *               mape);
 *   latency     p95 of VALIDATE_LATENCY_ROWS one-row mlops.predict calls on
 *               the first rows, timed in the server;
 *   regression  with compare_to, no metric worse than that version's on the
 *               same rows by more than max_regression (absolute).
 *
 * The source is read as the caller (this function is SECURITY INVOKER and
 * builds its query from the resolver's query, schema-qualified); only the
 * report row and its audit event are written as the extension owner.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "common/common.h"
#include "deploy/deploy.h"

PG_FUNCTION_INFO_V1(mlops_validate_model);

/* One-row predictions timed for the latency check */
#define VALIDATE_LATENCY_ROWS DEPLOY_VALIDATE_LATENCY_ROWS
/* Rows fetched from the source per cursor fetch */
#define VALIDATE_FETCH_ROWS 1000
/* Largest latency threshold accepted, in milliseconds (one hour) */
#define VALIDATE_MAX_LATENCY_MS 3600000.0

/* The metrics of one version on the validation rows */
typedef struct VersionMetrics
{
	ClassificationAcc cacc;
	RegressionAcc racc;
	int64		nonfinite;
	int			nmetrics;
	const char *names[8];
	double		values[8];
} VersionMetrics;

/* What one validation knows */
typedef struct Validation
{
	MemoryContext cxt;
	ResolvedModel model;
	char	   *ref;			/* 'name/version' */
	bool		classification;
	ModelSchema *schema;
	bool		compare;
	ResolvedModel base;
	char	   *base_ref;
	char	   *query;			/* the source's query */
	char	   *target;
	int64		rows;
	VersionMetrics cand;
	VersionMetrics prev;
	Jsonb	   *latency_rows[VALIDATE_LATENCY_ROWS];
	int			nlatency;
	StringInfoData checks;
	int			nchecks;
	bool		passed;
} Validation;

static const char *const lower_is_better[] = {"mae", "mse", "rmse", "mape", NULL};

static void CheckArguments(FunctionCallInfo fcinfo, Validation *v);
static void ReadSchema(Validation *v, ResolvedModel *m, ModelSchema **schema);
static bool CheckSourceSchema(Validation *v);
static void ScanRows(Validation *v);
static void AddRow(Validation *v, VersionMetrics *vm, Datum pred, double actual);
static double ActualValue(Validation *v, HeapTuple tup, TupleDesc desc, MlopsList *problems);
static void FinishMetrics(Validation *v, VersionMetrics *vm);
static double MetricValue(VersionMetrics *vm, const char *name, bool *found);
static bool LowerIsBetter(const char *name);
static double LatencyP95(Validation *v);
static void AddCheck(Validation *v, const char *name, bool passed, const char *value, double threshold,
					 bool has_threshold);
static const char *NumberText(double v);
static int64 RecordValidation(Validation *v, const char *report);

/*
 * mlops_validate_model implements mlops.validate_model(model, source,
 * target, min_metrics, max_latency_ms, compare_to, max_regression): it
 * checks a version on labelled rows, records the report and returns it.
 */
Datum
mlops_validate_model(PG_FUNCTION_ARGS)
{
	Validation *v = palloc0(sizeof(Validation));
	StringInfoData report;
	int64		id;

	MlopsRequireCurrentSchema("mlops.validate_model");
	v->cxt = CurrentMemoryContext;
	v->passed = true;
	initStringInfo(&v->checks);
	CheckArguments(fcinfo, v);

	if (CheckSourceSchema(v))
	{
		double		p95;

		ScanRows(v);
		FinishMetrics(v, &v->cand);
		if (v->compare)
			FinishMetrics(v, &v->prev);
		AddCheck(v, "sanity", v->cand.nonfinite == 0, NumberText((double) v->cand.nonfinite), 0, true);
		if (!PG_ARGISNULL(3))
		{
			JsonbIterator *it = JsonbIteratorInit(&PG_GETARG_JSONB_P(3)->root);
			JsonbValue	k;
			JsonbValue	val;
			JsonbIteratorToken tok;

			while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
			{
				char	   *name;
				double		threshold;
				double		value;
				bool		found;
				bool		ok;

				if (tok != WJB_KEY)
					continue;
				name = pnstrdup(k.val.string.val, k.val.string.len);
				JsonbIteratorNext(&it, &val, true);
				threshold = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
															   NumericGetDatum(val.val.numeric)));
				value = MetricValue(&v->cand, name, &found);
				ok = found && !isnan(value) &&
					(LowerIsBetter(name) ? value <= threshold : value >= threshold);
				AddCheck(v, name, ok, NumberText(value), threshold, true);
			}
		}
		p95 = LatencyP95(v);
		AddCheck(v, "p95_latency_ms", PG_ARGISNULL(4) || p95 <= PG_GETARG_FLOAT8(4), NumberText(p95),
				 PG_ARGISNULL(4) ? 0 : PG_GETARG_FLOAT8(4), !PG_ARGISNULL(4));
		if (v->compare)
		{
			double		max_regression = PG_ARGISNULL(6) ? 0.0 : PG_GETARG_FLOAT8(6);

			for (int i = 0; i < v->cand.nmetrics; i++)
			{
				bool		found;
				double		base = MetricValue(&v->prev, v->cand.names[i], &found);
				double		drop;

				if (!found || isnan(base) || isnan(v->cand.values[i]))
					continue;
				drop = LowerIsBetter(v->cand.names[i]) ? v->cand.values[i] - base : base - v->cand.values[i];
				AddCheck(v, psprintf("regression:%s", v->cand.names[i]), drop <= max_regression,
						 NumberText(drop), max_regression, true);
			}
		}
	}

	initStringInfo(&report);
	appendStringInfo(&report, "{\"status\": \"%s\", \"model\": ", v->passed ? "passed" : "failed");
	escape_json(&report, v->model.name);
	appendStringInfo(&report, ", \"version\": %d, \"rows\": " INT64_FORMAT, v->model.version, v->rows);
	if (v->compare)
	{
		appendStringInfo(&report, ", \"compare_to\": {\"model\": ");
		escape_json(&report, v->base.name);
		appendStringInfo(&report, ", \"version\": %d}", v->base.version);
	}
	appendStringInfo(&report, ", \"metrics\": {");
	for (int i = 0; i < v->cand.nmetrics; i++)
		appendStringInfo(&report, "%s\"%s\": %s", i ? ", " : "", v->cand.names[i],
						 NumberText(v->cand.values[i]));
	appendStringInfo(&report, "}, \"checks\": [%s]", v->checks.data);
	id = RecordValidation(v, psprintf("%s}", report.data));
	appendStringInfo(&report, ", \"validation_id\": " INT64_FORMAT "}", id);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(report.data)));
}

/*
 * CheckArguments checks every argument before anything is read, resolves
 * the model (and compare_to) and reads their input schemas.
 */
static void
CheckArguments(FunctionCallInfo fcinfo, Validation *v)
{
	MlopsList	problems;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("model, source and target must not be null")));
	if (!PG_ARGISNULL(4) && !(PG_GETARG_FLOAT8(4) > 0 && PG_GETARG_FLOAT8(4) <= VALIDATE_MAX_LATENCY_MS))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_latency_ms must be in (0, %.0f]", VALIDATE_MAX_LATENCY_MS),
				 errdetail("Got %g.", PG_GETARG_FLOAT8(4))));
	if (!PG_ARGISNULL(6) && !(PG_GETARG_FLOAT8(6) >= 0 && PG_GETARG_FLOAT8(6) <= 1e6))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_regression must be in [0, 1000000]"),
				 errdetail("Got %g.", PG_GETARG_FLOAT8(6))));
	if (!PG_ARGISNULL(6) && PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_regression needs compare_to"),
				 errhint("Pass the version to compare with, such as compare_to => 'churn/Production'.")));

	ResolveModelRef(text_to_cstring(PG_GETARG_TEXT_PP(0)), &v->model);
	if (v->model.task == NULL ||
		(strcmp(v->model.task, "classification") != 0 && strcmp(v->model.task, "regression") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" version %d is neither a classifier nor a regressor",
						v->model.name, v->model.version),
				 errdetail("Its task is %s.", v->model.task ? v->model.task : "unknown")));
	v->classification = strcmp(v->model.task, "classification") == 0;
	v->ref = psprintf("%s/%d", v->model.name, v->model.version);
	ReadSchema(v, &v->model, &v->schema);

	MlopsListInit(&problems, MLOPS_LIST_MAX);
	if (!PG_ARGISNULL(3))
	{
		Jsonb	   *mm = PG_GETARG_JSONB_P(3);
		JsonbIterator *it;
		JsonbValue	k;
		JsonbIteratorToken tok;
		VersionMetrics names;

		if (!JB_ROOT_IS_OBJECT(mm))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min_metrics must be a JSON object"),
					 errhint("For example '{\"accuracy\": 0.85, \"roc_auc\": 0.9}'.")));
		memset(&names, 0, sizeof(names));
		FinishMetrics(v, &names);	/* only the names of the task's metrics */
		it = JsonbIteratorInit(&mm->root);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			char	   *name;
			JsonbValue	val;
			bool		found;

			CHECK_FOR_INTERRUPTS();
			if (tok != WJB_KEY)
				continue;
			name = pnstrdup(k.val.string.val, k.val.string.len);
			JsonbIteratorNext(&it, &val, true);
			(void) MetricValue(&names, name, &found);
			if (!found)
				MlopsListAdd(&problems, "\"%s\" is not a %s metric", MlopsClip(name, MLOPS_ECHO_MAX),
							 v->classification ? "classification" : "regression");
			else if (val.type != jbvNumeric ||
					 !isfinite(DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
																  NumericGetDatum(val.val.numeric)))))
				MlopsListAdd(&problems, "the threshold of \"%s\" must be a finite number", name);
		}
		if (problems.total > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid min_metrics"),
					 errdetail("Problems: %s.", MlopsListDone(&problems)),
					 errhint(v->classification ?
							 "Classification metrics are accuracy, precision, recall, f1_score and roc_auc." :
							 "Regression metrics are mae, mse, rmse, r2 and mape.")));
	}
	if (!PG_ARGISNULL(5))
	{
		ModelSchema *unused;

		ResolveModelRef(text_to_cstring(PG_GETARG_TEXT_PP(5)), &v->base);
		if (v->base.task == NULL || strcmp(v->base.task, v->model.task) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("compare_to must be a %s model", v->model.task),
					 errdetail("\"%s\" version %d is a %s model.", v->base.name, v->base.version,
							   v->base.task ? v->base.task : "unknown")));
		v->compare = true;
		v->base_ref = psprintf("%s/%d", v->base.name, v->base.version);
		ReadSchema(v, &v->base, &unused);
	}
	v->query = SourceQuery(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	v->target = text_to_cstring(PG_GETARG_TEXT_PP(2));
}

/*
 * ReadSchema reads a version's input_schema (as the extension owner); a
 * version without one cannot be validated by feature name.
 */
static void
ReadSchema(Validation *v, ResolvedModel *m, ModelSchema **schema)
{
	MlopsOwnerSave save;
	Datum		args[2];
	bool		isnull = true;
	Jsonb	   *doc = NULL;

	args[0] = Int64GetDatum(m->model_id);
	args[1] = Int32GetDatum(m->version);
	MlopsBeginOwner(&save);
	SPI_connect();
	if (SPI_execute_with_args("SELECT input_schema FROM mlops.model_versions"
							  " WHERE model_id OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
							  2, (Oid[]) {INT8OID, INT4OID}, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the input schema failed");
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(v->cxt);

			doc = DatumGetJsonbPCopy(d);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	MlopsEndOwner(&save);
	if (doc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" version %d has no input schema", m->name, m->version),
				 errdetail("Validation reads the features by name.")));
	*schema = ModelSchemaFromJsonb(doc, -1);
}

/*
 * CheckSourceSchema adds the schema check: every feature is a column of the
 * source of a type it can be encoded from, and the target is a column.
 */
static bool
CheckSourceSchema(Validation *v)
{
	MlopsList	problems;
	TupleDesc	desc;
	bool		ok;

	SPI_connect();
	if (SPI_execute(psprintf("SELECT * FROM (%s) s LIMIT 0", v->query), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the source's columns failed");
	desc = SPI_tuptable->tupdesc;
	MlopsListInit(&problems, MLOPS_LIST_MAX);
	for (int j = 0; j < v->schema->nfeatures; j++)
	{
		FeatureColumn *f = &v->schema->features[j];
		int			att = DatasetFindColumn(desc, f->name);
		bool		supported;
		FeatureKind kind;

		CHECK_FOR_INTERRUPTS();
		if (att < 0)
		{
			MlopsListAdd(&problems, "missing feature \"%s\"", MlopsClip(f->name, MLOPS_ECHO_MAX));
			continue;
		}
		kind = FeatureKindFromType(TupleDescAttr(desc, att)->atttypid, &supported);
		if (!supported || ((f->kind == FEATURE_CATEGORICAL) != (kind == FEATURE_CATEGORICAL)))
			MlopsListAdd(&problems, "feature \"%s\" is %s, the model needs %s",
						 MlopsClip(f->name, MLOPS_ECHO_MAX),
						 format_type_be(TupleDescAttr(desc, att)->atttypid), FeatureKindName(f->kind));
	}
	if (DatasetFindColumn(desc, v->target) < 0)
		MlopsListAdd(&problems, "missing target \"%s\"", MlopsClip(v->target, MLOPS_ECHO_MAX));
	SPI_finish();
	ok = problems.total == 0;
	{
		MemoryContext old = MemoryContextSwitchTo(v->cxt);
		StringInfoData val;

		initStringInfo(&val);
		if (ok)
			appendStringInfoString(&val, "\"ok\"");
		else
			escape_json(&val, MlopsListDone(&problems));
		AddCheck(v, "schema", ok, val.data, 0, false);
		MemoryContextSwitchTo(old);
	}
	return ok;
}

/*
 * ScanRows reads every row of the source as the caller, predicts it with
 * the candidate (and compare_to), feeds the metric accumulators and keeps
 * the first rows' features for the latency check.
 */
static void
ScanRows(Validation *v)
{
	StringInfoData sql;
	Datum		args[3];
	Datum	   *names = palloc(sizeof(Datum) * Max(v->schema->nfeatures, 1));
	Portal		portal;
	MlopsList	problems;
	const char *fn = v->classification ? "mlops.predict_proba" : "mlops.predict";

	for (int j = 0; j < v->schema->nfeatures; j++)
		names[j] = CStringGetTextDatum(v->schema->features[j].name);
	args[0] = CStringGetTextDatum(v->ref);
	args[1] = PointerGetDatum(construct_array(names, v->schema->nfeatures, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = CStringGetTextDatum(v->compare ? v->base_ref : v->ref);
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT %s($1, x.f), %s, x.t::pg_catalog.text, x.f FROM ("
					 " SELECT (SELECT pg_catalog.jsonb_object_agg(e.key, e.value)"
					 "           FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(s)) e"
					 "          WHERE e.key OPERATOR(pg_catalog.=) ANY ($2)) AS f, s.%s AS t"
					 "   FROM (%s) s) x",
					 fn, v->compare ? psprintf("%s($3, x.f)", fn) : "NULL::pg_catalog.text",
					 quote_identifier(v->target), v->query);
	MlopsListInit(&problems, MLOPS_LIST_MAX);
	if (v->classification)
	{
		ClassificationAccInit(&v->cand.cacc);
		ClassificationAccInit(&v->prev.cacc);
	}
	else
	{
		RegressionAccInit(&v->cand.racc);
		RegressionAccInit(&v->prev.racc);
	}
	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL, sql.data, 3, (Oid[]) {TEXTOID, TEXTARRAYOID, TEXTOID},
									   args, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, VALIDATE_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			double		actual;

			CHECK_FOR_INTERRUPTS();
			actual = ActualValue(v, tup, desc, &problems);
			if (isnan(actual))
				continue;
			AddRow(v, &v->cand, SPI_getbinval(tup, desc, 1, &isnull), actual);
			if (v->compare)
				AddRow(v, &v->prev, SPI_getbinval(tup, desc, 2, &isnull), actual);
			if (v->nlatency < VALIDATE_LATENCY_ROWS)
			{
				MemoryContext old = MemoryContextSwitchTo(v->cxt);

				v->latency_rows[v->nlatency++] =
					DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 4, &isnull));
				MemoryContextSwitchTo(old);
			}
			v->rows++;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	if (problems.total > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid target values for model \"%s\" version %d", v->model.name, v->model.version),
				 errdetail("Problems: %s.", MlopsListDone(&problems))));
	if (v->rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the source has no rows with a target value"),
				 errhint("Validate on labelled rows.")));
}

/*
 * ActualValue returns a row's target as the metrics take it: a classifier's
 * label as its class code, a regressor's value as a number; NaN for a null
 * target (skipped) or a value that is neither (listed in problems).
 */
static double
ActualValue(Validation *v, HeapTuple tup, TupleDesc desc, MlopsList *problems)
{
	char	   *s = SPI_getvalue(tup, desc, 3);
	char	   *end;
	double		d;

	if (s == NULL)
		return NAN;
	if (v->classification && v->schema->nclasses > 0)
	{
		for (int c = 0; c < v->schema->nclasses; c++)
			if (strcmp(v->schema->classes[c], s) == 0)
				return c;
		MlopsListAdd(problems, "\"%s\" is not a class of the model", MlopsClip(s, MLOPS_ECHO_MAX));
		return NAN;
	}
	d = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(d))
	{
		MlopsListAdd(problems, "\"%s\" is not a number", MlopsClip(s, MLOPS_ECHO_MAX));
		return NAN;
	}
	return d;
}

/*
 * AddRow feeds one prediction (a float8, or a classifier's probabilities)
 * and its actual value to a version's accumulator.
 */
static void
AddRow(Validation *v, VersionMetrics *vm, Datum pred, double actual)
{
	char		err[256];
	double		p;

	if (v->classification)
	{
		ArrayType  *arr = DatumGetArrayTypeP(pred);
		int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
		const double *prob;
		int			best = 0;

		if (ARR_HASNULL(arr) || ARR_NDIM(arr) != 1)
		{
			vm->nonfinite++;
			return;
		}
		/* ARR_DATA_PTR without its sign-compare warning, as predict.c reads arrays */
		prob = (const double *) ((const char *) arr + ARR_OVERHEAD_NONULLS(1));

		for (int c = 0; c < n; c++)
		{
			if (!isfinite(prob[c]))
			{
				vm->nonfinite++;
				return;
			}
			if (prob[c] > prob[best])
				best = c;
		}
		/* a binary classifier's probability of class 1 gives ROC AUC */
		p = (n == 2 && prob[1] > 0.0 && prob[1] < 1.0) ? prob[1] : best;
		if (!ClassificationAccAdd(&vm->cacc, p, actual, err, sizeof(err)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot compute metrics for model \"%s\"", v->model.name),
					 errdetail("%s", err)));
		return;
	}
	p = DatumGetFloat8(pred);
	if (!isfinite(p))
	{
		vm->nonfinite++;
		return;
	}
	if (!RegressionAccAdd(&vm->racc, p, actual, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot compute metrics for model \"%s\"", v->model.name),
				 errdetail("%s", err)));
}

/*
 * FinishMetrics turns a version's accumulator into its named metrics (only
 * the names when nothing was accumulated).
 */
static void
FinishMetrics(Validation *v, VersionMetrics *vm)
{
	char		err[256];
	int			n = 0;

	if (v->classification)
	{
		ClassificationMetrics *m = palloc0(sizeof(ClassificationMetrics));

		if (vm->cacc.n > 0 && !ClassificationAccFinish(&vm->cacc, m, err, sizeof(err)))
			elog(ERROR, "computing classification metrics failed: %s", err);
		vm->names[n] = "accuracy", vm->values[n++] = vm->cacc.n > 0 ? m->accuracy : NAN;
		vm->names[n] = "precision", vm->values[n++] = vm->cacc.n > 0 ? m->precision : NAN;
		vm->names[n] = "recall", vm->values[n++] = vm->cacc.n > 0 ? m->recall : NAN;
		vm->names[n] = "f1_score", vm->values[n++] = vm->cacc.n > 0 ? m->f1_score : NAN;
		vm->names[n] = "roc_auc", vm->values[n++] = (vm->cacc.n > 0 && m->has_roc_auc) ? m->roc_auc : NAN;
		if (vm->cacc.n > 0)
			ClassificationAccFree(&vm->cacc);
		pfree(m);
	}
	else
	{
		RegressionMetrics m;

		memset(&m, 0, sizeof(m));
		if (vm->racc.n > 0 && !RegressionAccFinish(&vm->racc, &m, err, sizeof(err)))
			elog(ERROR, "computing regression metrics failed: %s", err);
		vm->names[n] = "mae", vm->values[n++] = vm->racc.n > 0 ? m.mae : NAN;
		vm->names[n] = "mse", vm->values[n++] = vm->racc.n > 0 ? m.mse : NAN;
		vm->names[n] = "rmse", vm->values[n++] = vm->racc.n > 0 ? m.rmse : NAN;
		vm->names[n] = "r2", vm->values[n++] = vm->racc.n > 0 ? m.r2 : NAN;
		vm->names[n] = "mape", vm->values[n++] = vm->racc.n > 0 ? m.mape : NAN;
	}
	vm->nmetrics = n;
}

/* MetricValue returns a named metric of a version; *found says if it exists. */
static double
MetricValue(VersionMetrics *vm, const char *name, bool *found)
{
	for (int i = 0; i < vm->nmetrics; i++)
		if (strcmp(vm->names[i], name) == 0)
		{
			*found = true;
			return vm->values[i];
		}
	*found = false;
	return NAN;
}

/* LowerIsBetter says whether a metric is an error (lower is better). */
static bool
LowerIsBetter(const char *name)
{
	for (int i = 0; lower_is_better[i] != NULL; i++)
		if (strcmp(lower_is_better[i], name) == 0)
			return true;
	return false;
}

/*
 * LatencyP95 times one-row mlops.predict calls (the serving path, cache
 * included) on the first rows and returns their 95th percentile in ms.
 */
static double
LatencyP95(Validation *v)
{
	double	   *ms = palloc(sizeof(double) * Max(v->nlatency, 1));
	SPIPlanPtr	plan;
	int			n = v->nlatency;

	if (n == 0)
		return NAN;
	SPI_connect();
	plan = SPI_prepare("SELECT mlops.predict($1, $2)", 2, (Oid[]) {TEXTOID, JSONBOID});
	if (plan == NULL)
		elog(ERROR, "preparing the latency probe failed");
	for (int i = 0; i < n; i++)
	{
		Datum		args[2];
		instr_time	start;
		instr_time	end;

		CHECK_FOR_INTERRUPTS();
		args[0] = CStringGetTextDatum(v->ref);
		args[1] = JsonbPGetDatum(v->latency_rows[i]);
		INSTR_TIME_SET_CURRENT(start);
		if (SPI_execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "the latency probe failed");
		INSTR_TIME_SET_CURRENT(end);
		INSTR_TIME_SUBTRACT(end, start);
		ms[i] = INSTR_TIME_GET_MILLISEC(end);
	}
	SPI_finish();
	/* insertion sort: at most VALIDATE_LATENCY_ROWS values */
	for (int i = 1; i < n; i++)
	{
		double		x = ms[i];
		int			j = i - 1;

		while (j >= 0 && ms[j] > x)
		{
			ms[j + 1] = ms[j];
			j--;
		}
		ms[j + 1] = x;
	}
	return ms[(int) ceil(0.95 * n) - 1];
}

/* AddCheck appends one check to the report and fails it when not passed. */
static void
AddCheck(Validation *v, const char *name, bool passed, const char *value, double threshold,
		 bool has_threshold)
{
	appendStringInfo(&v->checks, "%s{\"name\": ", v->nchecks++ ? ", " : "");
	escape_json(&v->checks, name);
	appendStringInfo(&v->checks, ", \"status\": \"%s\", \"value\": %s, \"threshold\": %s}",
					 passed ? "passed" : "failed", value,
					 has_threshold ? NumberText(threshold) : "null");
	if (!passed)
		v->passed = false;
}

/* NumberText prints a number for JSON, null when it is not finite. */
static const char *
NumberText(double v)
{
	if (!isfinite(v))
		return "null";
	return psprintf("%.17g", v);
}

/*
 * RecordValidation stores the report in mlops.validations and audits it,
 * as the extension owner, and returns the validation's id.
 */
static int64
RecordValidation(Validation *v, const char *report)
{
	MlopsOwnerSave save;
	Datum		args[5];
	bool		isnull;
	int64		id;

	args[0] = CStringGetTextDatum(v->model.name);
	args[1] = Int64GetDatum(v->model.model_id);
	args[2] = Int32GetDatum(v->model.version);
	args[3] = CStringGetTextDatum(v->passed ? "passed" : "failed");
	args[4] = CStringGetTextDatum(report);
	MlopsBeginOwner(&save);
	SPI_connect();
	if (SPI_execute_with_args("WITH v AS (INSERT INTO mlops.validations (model, model_id, version, status, report, created_by)"
							  " VALUES ($1, $2, $3, $4, $5::pg_catalog.jsonb, mlops.current_actor()) RETURNING id)"
							  " SELECT v.id, mlops._audit_event('model.validate', 'model_version',"
							  "   $1 OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) $3::pg_catalog.text,"
							  "   pg_catalog.jsonb_build_object('validation_id', v.id, 'status', $4)) FROM v",
							  5, (Oid[]) {TEXTOID, INT8OID, INT4OID, TEXTOID, TEXTOID}, args, NULL, false, 1)
		!= SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "recording the validation failed");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	MlopsEndOwner(&save);
	return id;
}
