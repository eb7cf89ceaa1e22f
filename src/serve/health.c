/*
 * health.c
 *		mlops.health() and mlops.ready(): can this backend serve?
 *
 * Readiness means every model with a Production version loads: its stored
 * bytes pass their checksum, XGBoost deserializes them and the input schema
 * matches the booster.  Each model is loaded afresh from the registry (not
 * taken from the model cache, which may hold a booster loaded before the
 * bytes went bad) inside a subtransaction, so a model that fails is
 * reported, not raised.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "common/common.h"
#include "serve/serve.h"
#include "xgb/xgb.h"

PG_FUNCTION_INFO_V1(mlops_health);
PG_FUNCTION_INFO_V1(mlops_ready);

static List *ProductionModels(void);
static char *TryLoad(const char *name);
static int	CheckProduction(StringInfo failures);

/*
 * ProductionModels returns the names of the models that have a Production
 * version, read as the extension owner.
 */
static List *
ProductionModels(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	MlopsOwnerSave save;
	List	   *names = NIL;

	MlopsBeginOwner(&save);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT DISTINCT m.name FROM mlops.models m"
					"  JOIN mlops.model_versions v ON v.model_id OPERATOR(pg_catalog.=) m.model_id"
					" WHERE v.stage OPERATOR(pg_catalog.=) 'Production' ORDER BY m.name",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list Production models");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		CHECK_FOR_INTERRUPTS();
		names = lappend(names, MemoryContextStrdup(cxt, name));
	}
	SPI_finish();
	MlopsEndOwner(&save);
	MemoryContextSwitchTo(cxt);
	return names;
}

/*
 * VerifyModel is TryLoad's step: it loads the model named by arg.
 */
static void
VerifyModel(void *arg)
{
	ModelCacheVerify((const char *) arg);
}

/*
 * TryLoad loads a model's Production version in a subtransaction and
 * returns NULL on success or the error message.
 */
static char *
TryLoad(const char *name)
{
	ErrorData  *edata = MlopsTryInSubxact(VerifyModel, (void *) name);
	char	   *failure;

	if (edata == NULL)
		return NULL;
	failure = pstrdup(edata->message ? edata->message : "unknown error");
	FreeErrorData(edata);
	return failure;
}

/*
 * CheckProduction loads every Production model, appends a JSON object per
 * failure to failures and returns the number of Production models.
 */
static int
CheckProduction(StringInfo failures)
{
	List	   *names = ProductionModels();
	ListCell   *lc;

	foreach(lc, names)
	{
		char	   *name = lfirst(lc);
		char	   *failure;

		CHECK_FOR_INTERRUPTS();
		failure = TryLoad(name);
		if (failure == NULL)
			continue;
		if (failures->len > 0)
			appendStringInfoString(failures, ", ");
		appendStringInfoString(failures, "{\"model\": ");
		escape_json(failures, name);
		appendStringInfoString(failures, ", \"error\": ");
		escape_json(failures, failure);
		appendStringInfoChar(failures, '}');
	}
	return list_length(names);
}

/*
 * mlops_health implements mlops.health(): a JSON report of the serving
 * state of this backend (status, preload, XGBoost version, model cache,
 * Production models and those that fail to load).
 */
Datum
mlops_health(PG_FUNCTION_ARGS)
{
	StringInfoData failures;
	StringInfoData buf;
	int			nprod;
	int			entries;
	int64		bytes;

	(void) fcinfo;
	initStringInfo(&failures);
	nprod = CheckProduction(&failures);
	ModelCacheStats(&entries, &bytes);

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "{\"status\": \"%s\", \"ready\": %s, \"preloaded\": %s, "
					 "\"xgboost_version\": \"%s\", \"production_models\": %d, "
					 "\"unloadable_models\": [%s], "
					 "\"model_cache\": {\"models\": %d, \"bytes\": " INT64_FORMAT ", \"limit_mb\": %d}}",
					 failures.len == 0 && mlops_preloaded ? "ok" : "degraded",
					 failures.len == 0 ? "true" : "false",
					 mlops_preloaded ? "true" : "false",
					 XgbVersion(), nprod, failures.data, entries, bytes,
					 mlops_model_cache_mb);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * mlops_ready implements mlops.ready(): true when every model with a
 * Production version loads.
 */
Datum
mlops_ready(PG_FUNCTION_ARGS)
{
	StringInfoData failures;

	(void) fcinfo;
	initStringInfo(&failures);
	(void) CheckProduction(&failures);
	PG_RETURN_BOOL(failures.len == 0);
}
