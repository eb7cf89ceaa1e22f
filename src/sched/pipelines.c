/*
 * pipelines.c
 *	  Runs a pipeline as its caller and records it in mlops.pipeline_runs.
 *
 * The pipelines themselves are PL/pgSQL (sql/install/75_pipelines.sql,
 * mlops._impl_<pipeline>, SECURITY INVOKER).  Their public functions are
 * LANGUAGE C with a trampoline as body: it calls the implementation
 * directly through fmgr (so the caller needs EXECUTE on the public function
 * only), as the caller, and then writes the returned document to
 * mlops.pipeline_runs and the audit log as the extension owner.  The
 * implementation returns {"status": "succeeded"|"failed", "parameters",
 * "steps", "result"|"error"}; the trampoline adds "pipeline_run_id" and
 * raises a WARNING when the pipeline failed, so an interactive user notices
 * while the failure stays recorded.
 *
 * Pipelines that read a source (training_pipeline, data_pipeline: their
 * first argument, data_source) use mlops_source_pipeline_trampoline: it
 * resolves the source as the caller with the one source resolver
 * (mlops._source_query, src/common/source.c) and passes the implementation
 * one more argument, {"query": ...} or, when the resolver refused the
 * source, {"error": {"message", "detail", "hint", "sqlstate"}}, which the
 * implementation raises in its first step so the failure is recorded like
 * any other.  (The implementation cannot call the resolver itself: it runs
 * as the caller, who has no EXECUTE on mlops' internal functions.)
 * mlops_pipeline_trampoline, without a source, serves monitoring_pipeline
 * and the pipelines of a 0.1.0 schema.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "common/common.h"

/* what a trampoline call site keeps between calls */
typedef struct PipelineCache
{
	FmgrInfo	impl;			/* mlops._impl_<pipeline> */
	FmgrInfo	resolver;		/* mlops._source_query, for pipelines with a source */
} PipelineCache;

static Datum RunPipeline(FunctionCallInfo fcinfo, bool with_source);
/* ResolveSource's step: the resolver, its argument and the query it returned */
typedef struct ResolveStep
{
	FmgrInfo   *resolver;
	Datum		source;
	char	   *query;
} ResolveStep;

static Datum ResolveSource(FmgrInfo *resolver, Datum source);
static void ResolveStepRun(void *arg);
static void AppendJsonField(StringInfo buf, const char *key, const char *value);
static Datum RecordPipelineRun(const char *pipeline, Datum doc, TimestampTz started);

PG_FUNCTION_INFO_V1(mlops_pipeline_trampoline);
PG_FUNCTION_INFO_V1(mlops_source_pipeline_trampoline);

/*
 * mlops_pipeline_trampoline runs mlops._impl_<name> as the caller and
 * records its outcome.
 */
Datum
mlops_pipeline_trampoline(PG_FUNCTION_ARGS)
{
	return RunPipeline(fcinfo, false);
}

/*
 * mlops_source_pipeline_trampoline runs a pipeline whose first argument is
 * a source: mlops._impl_<name>(arguments..., resolved source) as the caller,
 * and records its outcome.
 */
Datum
mlops_source_pipeline_trampoline(PG_FUNCTION_ARGS)
{
	return RunPipeline(fcinfo, true);
}

/*
 * RunPipeline calls the implementation with the caller's arguments (and,
 * with_source, the resolved first argument) and records the document it
 * returns.
 */
static Datum
RunPipeline(FunctionCallInfo fcinfo, bool with_source)
{
	PipelineCache *cache = (PipelineCache *) fcinfo->flinfo->fn_extra;
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
	TimestampTz started = GetCurrentTimestamp();
	char	   *pipeline = get_func_name(fcinfo->flinfo->fn_oid);
	int			nargs = fcinfo->nargs;
	Datum		doc;

	if (cache == NULL)
	{
		Oid			impl;

		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PipelineCache));
		impl = MlopsLookupImplFunction(fcinfo->flinfo->fn_oid, with_source ? JSONBOID : InvalidOid);
		fmgr_info_cxt(impl, &cache->impl, fcinfo->flinfo->fn_mcxt);
		if (with_source)
		{
			Oid			argtypes[1] = {TEXTOID};
			Oid			resolver = LookupFuncName(list_make2(makeString(MLOPS_SCHEMA),
															 makeString("_source_query")),
												  1, argtypes, false);

			fmgr_info_cxt(resolver, &cache->resolver, fcinfo->flinfo->fn_mcxt);
		}
		fcinfo->flinfo->fn_extra = cache;
	}
	if (with_source && nargs + 1 > FUNC_MAX_ARGS)
		elog(ERROR, "pipeline %s has too many arguments", pipeline);
	InitFunctionCallInfoData(*inner, &cache->impl, nargs + (with_source ? 1 : 0),
							 fcinfo->fncollation, NULL, NULL);
	for (int i = 0; i < nargs; i++)
		inner->args[i] = fcinfo->args[i];
	if (with_source)
	{
		/* a NULL source stays NULL: the implementation's first step refuses it */
		inner->args[nargs].isnull = nargs == 0 || fcinfo->args[0].isnull;
		inner->args[nargs].value = inner->args[nargs].isnull ? (Datum) 0
			: ResolveSource(&cache->resolver, fcinfo->args[0].value);
	}
	doc = FunctionCallInvoke(inner);
	if (inner->isnull)
		elog(ERROR, "pipeline %s returned no document", pipeline);

	PG_RETURN_DATUM(RecordPipelineRun(pipeline, doc, started));
}

/*
 * ResolveSource resolves a source as the caller through the one resolver
 * and returns the jsonb {"query": ...}, or {"error": {...}} with the
 * resolver's error (in a subtransaction, so a refused source leaves nothing
 * behind).  A cancel is not caught.
 */
static Datum
ResolveSource(FmgrInfo *resolver, Datum source)
{
	ResolveStep step = {resolver, source, NULL};
	ErrorData  *edata = MlopsTryInSubxact(ResolveStepRun, &step);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	if (edata == NULL)
		AppendJsonField(&buf, "query", step.query);
	else
	{
		appendStringInfoString(&buf, "\"error\": {");
		AppendJsonField(&buf, "message", edata->message);
		appendStringInfoString(&buf, ", ");
		AppendJsonField(&buf, "sqlstate", unpack_sql_state(edata->sqlerrcode));
		if (edata->detail != NULL)
		{
			appendStringInfoString(&buf, ", ");
			AppendJsonField(&buf, "detail", edata->detail);
		}
		if (edata->hint != NULL)
		{
			appendStringInfoString(&buf, ", ");
			AppendJsonField(&buf, "hint", edata->hint);
		}
		appendStringInfoChar(&buf, '}');
		FreeErrorData(edata);
	}
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/*
 * ResolveStepRun is ResolveSource's step: it calls the resolver and keeps
 * the query it returns.
 */
static void
ResolveStepRun(void *arg)
{
	ResolveStep *step = (ResolveStep *) arg;

	step->query = TextDatumGetCString(FunctionCall1(step->resolver, step->source));
}

/*
 * AppendJsonField appends "key": "value" (value escaped) to buf.
 */
static void
AppendJsonField(StringInfo buf, const char *key, const char *value)
{
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	escape_json(buf, value != NULL ? value : "");
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
