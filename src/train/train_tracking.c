/*
 * train_tracking.c
 *		What mlops.train writes: the tracking run, its parameters and metric
 *		history, and the new model version.
 *
 * Every write goes through the SQL functions of tracking and the registry
 * (mlops.start_run, mlops.log_params, mlops._log_metric_history,
 * mlops.end_run, mlops._register_model_version), run through SPI as the
 * extension owner with the caller recorded as the actor, so they audit and
 * check exactly as when a user calls them.  They run in the caller's
 * transaction: a failed training leaves neither run nor version.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "common/common.h"
#include "train/train_int.h"

static int64 RunScalar(const char *sql, int nargs, Oid *types, Datum *values);
static void TrainRecordLineage(TrainRequest *req, int32 version);

/*
 * RunScalar runs one statement of ours (a tracking or registry call) through
 * SPI as the extension owner, the caller being recorded as the actor, and
 * returns the first column of its first row as int64 (0 when it is NULL or
 * absent).
 */
static int64
RunScalar(const char *sql, int nargs, Oid *types, Datum *values)
{
	int64		result = 0;
	int			rc;
	MlopsOwnerSave save;

	MlopsBeginOwner(&save);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not run \"%s\": %s", sql, SPI_result_code_string(rc));
	if (SPI_processed > 0 && SPI_tuptable->tupdesc->natts > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			Oid			t = SPI_gettypeid(SPI_tuptable->tupdesc, 1);

			result = (t == INT8OID) ? DatumGetInt64(d) :
				(t == INT4OID) ? (int64) DatumGetInt32(d) : 0;
		}
	}
	SPI_finish();
	MlopsEndOwner(&save);
	return result;
}

/*
 * TrainStartRun starts the tracking run of this training and returns its
 * id.
 */
int64
TrainStartRun(TrainRequest *req)
{
	Oid			types[3] = {TEXTOID, TEXTOID, JSONBOID};
	Datum		values[3];
	StringInfoData tags;

	initStringInfo(&tags);
	appendStringInfoString(&tags, "{\"mlops.model\": ");
	escape_json(&tags, req->model_name);
	appendStringInfoString(&tags, ", \"mlops.source\": \"mlops.train\"}");
	values[0] = CStringGetTextDatum(req->experiment);
	values[1] = CStringGetTextDatum(psprintf("train %s", req->model_name));
	values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(tags.data));
	return RunScalar("SELECT mlops.start_run($1, $2, $3)", 3, types, values);
}

/* TrainLogParams logs the run parameters. */
void
TrainLogParams(int64 run_id, const char *json)
{
	Oid			types[2] = {INT8OID, JSONBOID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
	(void) RunScalar("SELECT 1 FROM (SELECT mlops.log_params($1, $2)) s", 2, types, values);
}

/*
 * TrainLogMetricHistory logs every gathered metric row in one call of
 * mlops._log_metric_history (one audit event for the whole history).
 */
void
TrainLogMetricHistory(int64 run_id, MetricRows *rows)
{
	Oid			types[4] = {INT8OID, TEXTARRAYOID, INT4ARRAYOID, FLOAT8ARRAYOID};
	Datum		values[4];

	values[0] = Int64GetDatum(run_id);
	values[1] = PointerGetDatum(construct_array(rows->keys, rows->nrows, TEXTOID,
												-1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(rows->steps, rows->nrows, INT4OID,
												sizeof(int32), true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(rows->values, rows->nrows, FLOAT8OID,
												sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	(void) RunScalar("SELECT 1 FROM (SELECT mlops._log_metric_history($1, $2, $3, $4)) s",
					 4, types, values);
}

/*
 * TrainLogReport logs the model report of the version this run registered
 * as an artifact of the run (sql/install/88_reports.sql); a 0.1.0 schema
 * has no artifacts.
 */
static void
TrainLogReport(int64 run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};

	if (MlopsSchemaIsCurrent())
		(void) RunScalar("SELECT 1 FROM (SELECT mlops._log_model_report($1)) s", 1, types, values);
}

/* TrainEndRun logs the model report and marks the run finished. */
void
TrainEndRun(int64 run_id)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	TrainLogReport(run_id);
	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum("finished");
	(void) RunScalar("SELECT 1 FROM (SELECT mlops.end_run($1, $2)) s", 2, types, values);
}

/*
 * TrainRegisterVersion registers the booster as a new version (stage None)
 * as the extension owner and returns its number.
 */
int32
TrainRegisterVersion(TrainRequest *req, Dataset *ds, bytea *model, int64 run_id,
					 const char *schema, const char *metrics, const char *params)
{
	Oid			types[10] = {TEXTOID, BYTEAOID, INT8OID, TEXTOID, TEXTOID,
	TEXTARRAYOID, JSONBOID, JSONBOID, JSONBOID, JSONBOID};
	Datum		values[10];
	Datum	   *names = palloc(sizeof(Datum) * ds->nfeatures);
	int64		version;
	StringInfoData tags;

	for (int j = 0; j < ds->nfeatures; j++)
		names[j] = CStringGetTextDatum(ds->features[j].name);
	initStringInfo(&tags);
	appendStringInfoString(&tags, "{\"source\": ");
	escape_json(&tags, req->source);
	appendStringInfoString(&tags, ", \"target\": ");
	escape_json(&tags, req->target);
	appendStringInfoChar(&tags, '}');

	values[0] = CStringGetTextDatum(req->model_name);
	values[1] = PointerGetDatum(model);
	values[2] = Int64GetDatum(run_id);
	values[3] = CStringGetTextDatum(req->classification ? "classification" : "regression");
	values[4] = CStringGetTextDatum("xgboost");
	values[5] = PointerGetDatum(construct_array(names, ds->nfeatures, TEXTOID, -1, false, TYPALIGN_INT));
	values[6] = DirectFunctionCall1(jsonb_in, CStringGetDatum(schema));
	values[7] = DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics));
	values[8] = DirectFunctionCall1(jsonb_in, CStringGetDatum(params));
	values[9] = DirectFunctionCall1(jsonb_in, CStringGetDatum(tags.data));

	version = RunScalar("SELECT mlops._register_model_version($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
						10, types, values);
	if (MlopsSchemaIsCurrent())
		TrainRecordLineage(req, (int32) version);
	return (int32) version;
}

/*
 * TrainRecordLineage links the new version to the training set it was
 * trained on when the source names a table made by
 * mlops.create_training_set (the feature store's lineage, shown by
 * model_info under "lineage").  The source is resolved as the caller.
 */
static void
TrainRecordLineage(TrainRequest *req, int32 version)
{
	SourceSpec	spec;
	Oid			types[3] = {OIDOID, TEXTOID, INT4OID};
	Datum		values[3];

	SourceResolve(req->source, &spec);
	if (!OidIsValid(spec.relid))
		return;
	values[0] = ObjectIdGetDatum(spec.relid);
	values[1] = CStringGetTextDatum(req->model_name);
	values[2] = Int32GetDatum(version);
	(void) RunScalar("SELECT mlops._record_training_lineage($1, $2, $3)::integer", 3, types, values);
}
