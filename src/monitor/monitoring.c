/*-------------------------------------------------------------------------
 *
 * monitoring.c
 *	  The C side of performance monitoring: mlops.model_metrics and the
 *	  observation check shared with mlops.record_prediction.
 *
 * model_metrics reads a monitor's labelled window (the most recent
 * window_size predictions that have an actual value, optionally only those
 * recorded since a time) through a cursor in batches, feeding each pair to
 * the one-pass accumulators of metrics.c, and returns the metrics as jsonb.
 * Reading mlops.monitor_predictions needs the extension owner's rights; no
 * user SQL runs here, so the whole read happens between MlopsBeginOwner and
 * MlopsEndOwner.  The classification accumulator keeps the scores for ROC
 * AUC in malloc'd memory; a reset callback on the calling memory context
 * frees it if an error interrupts the read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "common/common.h"

/* rows fetched from the cursor at a time */
#define MONITOR_FETCH_ROWS 1000

PG_FUNCTION_INFO_V1(mlops_check_observation);
PG_FUNCTION_INFO_V1(mlops_model_metrics);

static void FreeClassificationAcc(void *arg);
static void AppendNumber(StringInfo buf, const char *key, double value);
static void AppendClassification(StringInfo buf, ClassificationAcc *acc);
static void AppendRegression(StringInfo buf, const RegressionAcc *acc);

/*
 * mlops_check_observation raises an error unless a prediction (and its
 * actual value, when not NULL) suit the problem type.
 */
Datum
mlops_check_observation(PG_FUNCTION_ARGS)
{
	char		err[256];
	double		actual;
	bool		classification;

	if (PG_ARGISNULL(0))
		elog(ERROR, "problem type must not be null");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("prediction must not be null")));
	classification = (strcmp(text_to_cstring(PG_GETARG_TEXT_PP(0)), "classification") == 0);
	actual = PG_ARGISNULL(2) ? 0.0 : PG_GETARG_FLOAT8(2);
	if (!MetricsCheckPair(classification, PG_GETARG_FLOAT8(1), PG_ARGISNULL(2) ? NULL : &actual,
						  err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err),
				 classification ?
				 errhint("A classification monitor records class labels (0, 1, 2, ...) or, for binary models, the probability of class 1.") :
				 errhint("A regression monitor records finite numbers.")));
	PG_RETURN_VOID();
}

/*
 * mlops_model_metrics returns the performance metrics of a monitored model
 * over its labelled window; see docs/monitoring.md for the keys.
 */
Datum
mlops_model_metrics(PG_FUNCTION_ARGS)
{
	MemoryContext callcxt = CurrentMemoryContext;
	char	   *model;
	MlopsOwnerSave save;
	int64		monitor_id;
	char	   *problem_type;
	int32		window_size;
	bool		classification;
	ClassificationAcc *cacc = NULL;
	RegressionAcc racc;
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, INT4OID};
	Portal		portal;
	int64		labelled = 0;
	int64		unlabelled;
	bool		have_oldest = false;
	TimestampTz oldest = 0;
	StringInfoData buf;
	char		err[256];
	int			rc;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be null")));
	model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(2) && PG_GETARG_INT32(2) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_size must be at least 1"),
				 errdetail("Got %d.", PG_GETARG_INT32(2)),
				 errhint("Pass NULL to use the monitor's window.")));

	MlopsBeginOwner(&save);
	SPI_connect();

	args[0] = CStringGetTextDatum(model);
	rc = SPI_execute_with_args("SELECT m.monitor_id, m.problem_type, m.window_size FROM mlops.monitors m"
							   " WHERE m.model OPERATOR(pg_catalog.=) $1",
							   1, (Oid[]) {TEXTOID}, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the monitor of \"%s\" failed: %s", model, SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no monitor", model),
				 errhint("Create one with mlops.create_monitor(model, problem_type, baseline_metrics).")));
	{
		bool		isnull;

		monitor_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		problem_type = MemoryContextStrdup(callcxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
		window_size = PG_ARGISNULL(2)
			? DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull))
			: PG_GETARG_INT32(2);
	}
	classification = (strcmp(problem_type, "classification") == 0);

	if (classification)
	{
		MemoryContextCallback *cb;

		cacc = MemoryContextAlloc(callcxt, sizeof(ClassificationAcc));
		ClassificationAccInit(cacc);
		cb = MemoryContextAlloc(callcxt, sizeof(MemoryContextCallback));
		cb->func = FreeClassificationAcc;
		cb->arg = cacc;
		MemoryContextRegisterResetCallback(callcxt, cb);
	}
	else
		RegressionAccInit(&racc);

	/* the labelled window, newest first */
	args[0] = Int64GetDatum(monitor_id);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
		args[1] = PG_GETARG_DATUM(1);
	args[2] = Int32GetDatum(window_size);
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT p.prediction, p.actual, p.recorded_at FROM mlops.monitor_predictions p"
									   " WHERE p.monitor_id OPERATOR(pg_catalog.=) $1 AND p.actual IS NOT NULL"
									   "   AND ($2 IS NULL OR p.recorded_at OPERATOR(pg_catalog.>=) $2)"
									   " ORDER BY p.recorded_at DESC, p.row_id DESC LIMIT $3",
									   3, types, args, nulls, true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, MONITOR_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			double		prediction = DatumGetFloat8(SPI_getbinval(tup, desc, 1, &isnull));
			double		actual = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
			bool		ok;

			oldest = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
			have_oldest = true;
			if (classification)
				ok = ClassificationAccAdd(cacc, prediction, actual, err, sizeof(err));
			else
				ok = RegressionAccAdd(&racc, prediction, actual, err, sizeof(err));
			if (!ok)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("cannot compute the metrics of model \"%s\": %s", model, err)));
			labelled++;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);

	/* predictions of the same period still waiting for their label */
	if (have_oldest && PG_ARGISNULL(1))
	{
		nulls[1] = ' ';
		args[1] = TimestampTzGetDatum(oldest);
	}
	rc = SPI_execute_with_args("SELECT pg_catalog.count(*) FROM mlops.monitor_predictions p"
							   " WHERE p.monitor_id OPERATOR(pg_catalog.=) $1 AND p.actual IS NULL"
							   "   AND ($2 IS NULL OR p.recorded_at OPERATOR(pg_catalog.>=) $2)",
							   2, types, args, nulls, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "counting unlabelled predictions failed: %s", SPI_result_code_string(rc));
	{
		bool		isnull;

		unlabelled = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	MlopsEndOwner(&save);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"model\": ");
	escape_json(&buf, model);
	appendStringInfo(&buf, ", \"problem_type\": \"%s\", \"window_size\": %d, \"since\": ",
					 problem_type, window_size);
	if (PG_ARGISNULL(1))
		appendStringInfoString(&buf, "null");
	else
	{
		char		stamp[MAXDATELEN + 1];

		escape_json(&buf, JsonEncodeDateTime(stamp, PG_GETARG_DATUM(1), TIMESTAMPTZOID, NULL));
	}
	appendStringInfo(&buf, ", \"rows\": " INT64_FORMAT ", \"unlabelled_rows\": " INT64_FORMAT,
					 labelled, unlabelled);
	if (labelled > 0)
	{
		if (classification)
			AppendClassification(&buf, cacc);
		else
			AppendRegression(&buf, &racc);
	}
	appendStringInfoChar(&buf, '}');
	if (cacc)
		ClassificationAccFree(cacc);

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * FreeClassificationAcc releases an accumulator's malloc'd scores when its
 * memory context goes away (normally already done, then a no-op).
 */
static void
FreeClassificationAcc(void *arg)
{
	ClassificationAccFree((ClassificationAcc *) arg);
}

/*
 * AppendNumber appends ", "key": value" with the shortest exact float text,
 * or null for a value that is not finite.
 */
static void
AppendNumber(StringInfo buf, const char *key, double value)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	if (isfinite(value))
		appendStringInfoString(buf, float8out_internal(value));
	else
		appendStringInfoString(buf, "null");
}

/*
 * AppendClassification appends the classification metrics and confusion
 * counts of a non-empty accumulator.
 */
static void
AppendClassification(StringInfo buf, ClassificationAcc *acc)
{
	ClassificationMetrics *m = palloc(sizeof(ClassificationMetrics));
	char		err[256];

	if (!ClassificationAccFinish(acc, m, err, sizeof(err)))
		elog(ERROR, "computing classification metrics failed: %s", err);
	AppendNumber(buf, "accuracy", m->accuracy);
	AppendNumber(buf, "precision", m->precision);
	AppendNumber(buf, "recall", m->recall);
	AppendNumber(buf, "f1_score", m->f1_score);
	appendStringInfo(buf, ", \"average\": \"%s\"", m->binary ? "binary" : "macro");
	if (m->has_roc_auc)
		AppendNumber(buf, "roc_auc", m->roc_auc);
	else
	{
		appendStringInfoString(buf, ", \"roc_auc\": null, \"roc_auc_note\": ");
		escape_json(buf, m->roc_auc_note);
	}
	appendStringInfoString(buf, ", \"confusion\": {");
	if (m->binary)
		appendStringInfo(buf, "\"tn\": " INT64_FORMAT ", \"fp\": " INT64_FORMAT
						 ", \"fn\": " INT64_FORMAT ", \"tp\": " INT64_FORMAT ", ",
						 m->tn, m->fp, m->fn, m->tp);
	appendStringInfoString(buf, "\"labels\": [");
	for (int i = 0; i < m->nclasses; i++)
		appendStringInfo(buf, "%s%s", i ? ", " : "", float8out_internal(m->classes[i]));
	appendStringInfoString(buf, "], \"matrix\": [");
	for (int i = 0; i < m->nclasses; i++)
	{
		appendStringInfoString(buf, i ? ", [" : "[");
		for (int j = 0; j < m->nclasses; j++)
			appendStringInfo(buf, "%s" INT64_FORMAT, j ? ", " : "", m->confusion[i][j]);
		appendStringInfoChar(buf, ']');
	}
	appendStringInfoString(buf, "]}");
	pfree(m);
}

/*
 * AppendRegression appends the regression metrics of a non-empty accumulator.
 */
static void
AppendRegression(StringInfo buf, const RegressionAcc *acc)
{
	RegressionMetrics m;
	char		err[256];

	if (!RegressionAccFinish(acc, &m, err, sizeof(err)))
		elog(ERROR, "computing regression metrics failed: %s", err);
	AppendNumber(buf, "mae", m.mae);
	AppendNumber(buf, "mse", m.mse);
	AppendNumber(buf, "rmse", m.rmse);
	AppendNumber(buf, "r2", m.r2);
	AppendNumber(buf, "mape", m.mape);
}
