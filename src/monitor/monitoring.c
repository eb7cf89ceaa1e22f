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
 * A classification monitor that knows its model's classes (classes.c)
 * declares them to the accumulator first and refuses a window holding a
 * label that is not one of them.  Reading mlops.monitors (through
 * mlops._monitor_classes, which may store relearned classes) and
 * mlops.monitor_predictions needs the extension owner's rights; no user SQL
 * runs here, so the whole read happens between MlopsBeginOwner and
 * MlopsEndOwner.  The classification accumulator keeps the scores for ROC
 * AUC in malloc'd memory; a reset callback on the calling memory context
 * frees it if an error interrupts the read.
 *
 * Also here: mlops.set_monitor_drift's public function, which stores the
 * caller's search_path with the drift source (the source runs later as the
 * role that stored it, with that path), and mlops._bounded_list, the SQL
 * face of the bounded lists of common/messages.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "monitor/monitor.h"

/* rows fetched from the cursor at a time */
#define MONITOR_FETCH_ROWS 1000

/* why a window can hold a label that is not one of the model's classes */
#define WINDOW_LABEL_HINT "The labelled window holds predictions recorded for another version of the model; " \
	"pass since => a time after the model changed."

PG_FUNCTION_INFO_V1(mlops_check_observation);
PG_FUNCTION_INFO_V1(mlops_model_metrics);
PG_FUNCTION_INFO_V1(mlops_set_monitor_drift);
PG_FUNCTION_INFO_V1(mlops_bounded_list);

/*
 * MetricsWindow is what mlops_model_metrics knows about one call: the
 * monitor, the window asked for, the accumulator it feeds and the counts.
 */
typedef struct MetricsWindow
{
	MemoryContext callcxt;		/* the caller's: outlives SPI */
	char	   *model;
	int64		monitor_id;
	char	   *problem_type;
	bool		classification;
	int32		window_size;
	bool		has_since;
	Datum		since;			/* timestamptz, when has_since */
	ClassificationAcc *cacc;	/* classification */
	MonitorClasses *classes;	/* classification, when the model's are known */
	RegressionAcc racc;			/* regression */
	int64		labelled;
	int64		unlabelled;
	bool		have_oldest;	/* oldest: when the oldest labelled row read */
	TimestampTz oldest;			/* was recorded */
} MetricsWindow;

static void ReadMonitor(MetricsWindow *w, int32 window_size);
static void DeclareClasses(MetricsWindow *w, Datum classes, Datum version);
static void ReadWindow(MetricsWindow *w);
static void CountUnlabelled(MetricsWindow *w);
static char *MetricsJson(MetricsWindow *w);
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
	MetricsWindow w;
	MlopsOwnerSave save;

	memset(&w, 0, sizeof(w));
	w.callcxt = CurrentMemoryContext;
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be null")));
	w.model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(2) && PG_GETARG_INT32(2) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_size must be at least 1"),
				 errdetail("Got %d.", PG_GETARG_INT32(2)),
				 errhint("Pass NULL to use the monitor's window.")));
	w.has_since = !PG_ARGISNULL(1);
	if (w.has_since)
		w.since = PG_GETARG_DATUM(1);

	MlopsBeginOwner(&save);
	SPI_connect();
	ReadMonitor(&w, PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2));
	ReadWindow(&w);
	CountUnlabelled(&w);
	SPI_finish();
	MlopsEndOwner(&save);

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(MetricsJson(&w))));
}

/*
 * ReadMonitor reads the monitor of w->model (its window unless window_size
 * is given, that is above 0) and prepares the accumulator of its problem
 * type.
 */
static void
ReadMonitor(MetricsWindow *w, int32 window_size)
{
	MemoryContext callcxt = w->callcxt;
	Datum		args[1];
	bool		isnull;
	int			rc;

	args[0] = CStringGetTextDatum(w->model);
	/* _monitor_classes relearns the model's classes when its version changed */
	rc = SPI_execute_with_args(MlopsSchemaIsCurrent()
							   ? "SELECT c.monitor_id, c.problem_type, c.window_size, c.classes, c.classes_version"
							   " FROM mlops.monitors m, LATERAL mlops._monitor_classes(m) c"
							   " WHERE m.model OPERATOR(pg_catalog.=) $1"
							   /* a 0.1.0 schema has no classes: metrics as 0.1.0 computed them */
							   : "SELECT m.monitor_id, m.problem_type, m.window_size, NULL::pg_catalog.text[], NULL::pg_catalog.int4"
							   " FROM mlops.monitors m WHERE m.model OPERATOR(pg_catalog.=) $1",
							   1, (Oid[]) {TEXTOID}, args, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the monitor of \"%s\" failed: %s", MlopsClip(w->model, MLOPS_ECHO_MAX),
			 SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no monitor", MlopsClip(w->model, MLOPS_ECHO_MAX)),
				 errhint("Create one with mlops.create_monitor(model, problem_type, baseline_metrics).")));
	w->monitor_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	w->problem_type = MemoryContextStrdup(callcxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	w->window_size = window_size > 0 ? window_size
		: DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	w->classification = (strcmp(w->problem_type, "classification") == 0);

	if (w->classification)
	{
		MemoryContextCallback *cb;
		Datum		classes = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull);

		w->cacc = MemoryContextAlloc(callcxt, sizeof(ClassificationAcc));
		ClassificationAccInit(w->cacc);
		cb = MemoryContextAlloc(callcxt, sizeof(MemoryContextCallback));
		cb->func = FreeClassificationAcc;
		cb->arg = w->cacc;
		MemoryContextRegisterResetCallback(callcxt, cb);
		if (!isnull)
			DeclareClasses(w, classes,
						   SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	}
	else
		RegressionAccInit(&w->racc);
}

/*
 * DeclareClasses keeps the model's classes (a text[] learned from version)
 * in w and declares their codes to the accumulator, so that the averages
 * are over the model's classes whichever labels the window holds.
 */
static void
DeclareClasses(MetricsWindow *w, Datum classes, Datum version)
{
	MemoryContext old = MemoryContextSwitchTo(w->callcxt);
	char		err[256];

	w->classes = palloc(sizeof(MonitorClasses));
	MonitorClassesInit(w->classes, w->model, DatumGetInt32(version), DatumGetArrayTypePCopy(classes));
	MemoryContextSwitchTo(old);
	for (int c = 0; c < w->classes->nclasses; c++)
		if (!ClassificationAccDeclareClass(w->cacc, (double) c, err, sizeof(err)))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("cannot compute the metrics of model \"%s\": %s", w->model, err)));
}

/*
 * ReadWindow feeds the labelled window, newest first, to the accumulator
 * through a cursor, remembering when its oldest row was recorded.
 */
static void
ReadWindow(MetricsWindow *w)
{
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, INT4OID};
	Portal		portal;
	char		err[256];

	args[0] = Int64GetDatum(w->monitor_id);
	if (w->has_since)
		args[1] = w->since;
	else
		nulls[1] = 'n';
	args[2] = Int32GetDatum(w->window_size);
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

			w->oldest = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
			w->have_oldest = true;
			if (w->classes)
			{
				MonitorCheckLabel(w->classes, true, prediction, WINDOW_LABEL_HINT);
				MonitorCheckLabel(w->classes, false, actual, WINDOW_LABEL_HINT);
			}
			if (w->classification)
				ok = ClassificationAccAdd(w->cacc, prediction, actual, err, sizeof(err));
			else
				ok = RegressionAccAdd(&w->racc, prediction, actual, err, sizeof(err));
			if (!ok)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("cannot compute the metrics of model \"%s\": %s", w->model, err)));
			w->labelled++;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
}

/*
 * CountUnlabelled counts the predictions of the window's period (since the
 * given time, else since the oldest labelled row read) still waiting for
 * their label.
 */
static void
CountUnlabelled(MetricsWindow *w)
{
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	bool		isnull;
	int			rc;

	args[0] = Int64GetDatum(w->monitor_id);
	if (w->has_since)
		args[1] = w->since;
	else if (w->have_oldest)
		args[1] = TimestampTzGetDatum(w->oldest);
	else
		nulls[1] = 'n';
	rc = SPI_execute_with_args("SELECT pg_catalog.count(*) FROM mlops.monitor_predictions p"
							   " WHERE p.monitor_id OPERATOR(pg_catalog.=) $1 AND p.actual IS NULL"
							   "   AND ($2 IS NULL OR p.recorded_at OPERATOR(pg_catalog.>=) $2)",
							   2, types, args, nulls, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "counting unlabelled predictions failed: %s", SPI_result_code_string(rc));
	w->unlabelled = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * MetricsJson returns the result of model_metrics as JSON text, releasing
 * the accumulator's scores.
 */
static char *
MetricsJson(MetricsWindow *w)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"model\": ");
	escape_json(&buf, w->model);
	appendStringInfo(&buf, ", \"problem_type\": \"%s\", \"window_size\": %d, \"since\": ",
					 w->problem_type, w->window_size);
	if (!w->has_since)
		appendStringInfoString(&buf, "null");
	else
	{
		char		stamp[MAXDATELEN + 1];

		escape_json(&buf, JsonEncodeDateTime(stamp, w->since, TIMESTAMPTZOID, NULL));
	}
	appendStringInfo(&buf, ", \"rows\": " INT64_FORMAT ", \"unlabelled_rows\": " INT64_FORMAT,
					 w->labelled, w->unlabelled);
	if (w->labelled > 0)
	{
		if (w->classification)
			AppendClassification(&buf, w->cacc);
		else
			AppendRegression(&buf, &w->racc);
	}
	appendStringInfoChar(&buf, '}');
	if (w->cacc)
		ClassificationAccFree(w->cacc);
	return buf.data;
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

/*
 * mlops_set_monitor_drift implements mlops.set_monitor_drift(model,
 * reference, source): it calls mlops._impl_set_monitor_drift as the
 * extension owner with the caller as the actor, like the owner trampoline,
 * and adds the caller's search_path, which the stored source is read with.
 */
Datum
mlops_set_monitor_drift(PG_FUNCTION_ARGS)
{
	const char *path = GetConfigOption("search_path", false, false);
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	MlopsOwnerSave save;
	int			rc;

	for (int i = 0; i < 3; i++)
	{
		if (PG_ARGISNULL(i))
			nulls[i] = 'n';
		else
			args[i] = PG_GETARG_DATUM(i);
	}
	args[3] = CStringGetTextDatum(path ? path : "");
	MlopsBeginOwner(&save);
	SPI_connect();
	rc = SPI_execute_with_args("SELECT mlops._impl_set_monitor_drift($1, $2, $3, $4)",
							   4, types, args, nulls, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "setting the drift source failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	MlopsEndOwner(&save);
	PG_RETURN_VOID();
}

/*
 * mlops_bounded_list implements mlops._bounded_list(items text[]): the
 * non-NULL items joined with ", ", the first MLOPS_LIST_MAX of them each
 * clipped to MLOPS_ECHO_MAX bytes, then "... and N more".
 */
Datum
mlops_bounded_list(PG_FUNCTION_ARGS)
{
	ArrayType  *items = PG_GETARG_ARRAYTYPE_P(0);
	ArrayIterator it = array_create_iterator(items, 0, NULL);
	MlopsList	list;
	Datum		value;
	bool		isnull;

	MlopsListInit(&list, MLOPS_LIST_MAX);
	while (array_iterate(it, &value, &isnull))
	{
		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		if (list.shown < list.max_items)
			MlopsListAdd(&list, "%s", MlopsClip(TextDatumGetCString(value), MLOPS_ECHO_MAX));
		else
			MlopsListAdd(&list, "%s", "");
	}
	array_free_iterator(it);
	PG_RETURN_TEXT_P(cstring_to_text(MlopsListDone(&list)));
}
