/*
 * pipelines.c
 *	  Runs a pipeline as its caller and records it in mlops.pipeline_runs.
 *
 * The pipelines themselves are PL/pgSQL (sql/install/75_pipelines.sql,
 * mlops._impl_<pipeline>, SECURITY INVOKER).  Their public functions are
 * LANGUAGE C with this trampoline as body: it calls the implementation
 * directly through fmgr (so the caller needs EXECUTE on the public function
 * only), as the caller, and then writes the returned document to
 * mlops.pipeline_runs and the audit log as the extension owner.  The
 * implementation returns {"status": "succeeded"|"failed", "parameters",
 * "steps", "result"|"error"}; the trampoline adds "pipeline_run_id" and
 * raises a WARNING when the pipeline failed, so an interactive user notices
 * while the failure stays recorded.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "common/common.h"

static Datum RecordPipelineRun(const char *pipeline, Datum doc, TimestampTz started);

PG_FUNCTION_INFO_V1(mlops_pipeline_trampoline);

/*
 * mlops_pipeline_trampoline runs mlops._impl_<name> as the caller and
 * records its outcome.
 */
Datum
mlops_pipeline_trampoline(PG_FUNCTION_ARGS)
{
	FmgrInfo   *impl = (FmgrInfo *) fcinfo->flinfo->fn_extra;
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
	TimestampTz started = GetCurrentTimestamp();
	char	   *pipeline = get_func_name(fcinfo->flinfo->fn_oid);
	Datum		doc;

	if (impl == NULL)
	{
		impl = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		fmgr_info_cxt(MlopsLookupImplFunction(fcinfo->flinfo->fn_oid), impl,
					  fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = impl;
	}
	InitFunctionCallInfoData(*inner, impl, fcinfo->nargs, fcinfo->fncollation, NULL, NULL);
	for (int i = 0; i < fcinfo->nargs; i++)
		inner->args[i] = fcinfo->args[i];
	doc = FunctionCallInvoke(inner);
	if (inner->isnull)
		elog(ERROR, "pipeline %s returned no document", pipeline);

	PG_RETURN_DATUM(RecordPipelineRun(pipeline, doc, started));
}

/*
 * RecordPipelineRun inserts the run into mlops.pipeline_runs, audits it and
 * returns the document with its pipeline_run_id.
 */
static Datum
RecordPipelineRun(const char *pipeline, Datum doc, TimestampTz started)
{
	Oid			caller = GetUserId();
	Oid			types[4] = {TEXTOID, OIDOID, JSONBOID, TIMESTAMPTZOID};
	Datum		values[4];
	MlopsOwnerSave save;
	Datum		result;
	bool		isnull;
	char	   *status;
	char	   *error;

	values[0] = CStringGetTextDatum(pipeline);
	values[1] = ObjectIdGetDatum(caller);
	values[2] = doc;
	values[3] = TimestampTzGetDatum(started);

	SPI_connect();
	MlopsBeginOwner(&save);
	if (SPI_execute_with_args(
							  "WITH ins AS ("
							  " INSERT INTO mlops.pipeline_runs (pipeline, owner, owner_name, parameters, status, "
							  "  steps, result, error, started_at, finished_at)"
							  " SELECT $1, $2, mlops.current_actor(), COALESCE($3 OPERATOR(pg_catalog.->) 'parameters', '{}'), "
							  "  $3 OPERATOR(pg_catalog.->>) 'status', COALESCE($3 OPERATOR(pg_catalog.->) 'steps', '[]'), "
							  "  $3 OPERATOR(pg_catalog.->) 'result', $3 OPERATOR(pg_catalog.->>) 'error', $4, "
							  "  pg_catalog.clock_timestamp()"
							  " RETURNING pipeline_run_id, status, error) "
							  "SELECT $3 OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('pipeline_run_id', ins.pipeline_run_id), "
							  " mlops._audit_event('pipeline.run', 'pipeline_run', ins.pipeline_run_id::text, "
							  "  pg_catalog.jsonb_build_object('pipeline', $1, 'status', ins.status)), "
							  " ins.status, ins.error "
							  "FROM ins",
							  4, types, values, NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not record the run of pipeline %s", pipeline);
	result = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
							   false, -1);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	error = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	MlopsEndOwner(&save);
	if (status != NULL && strcmp(status, "failed") == 0)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("pipeline %s failed: %s", pipeline, error != NULL ? error : "unknown error"),
				 errhint("The steps and the error are recorded in mlops.pipeline_runs.")));
	SPI_finish();
	return result;
}
