/*-------------------------------------------------------------------------
 *
 * http_routes.c
 *	  The route table of the HTTP service and its handlers.  A handler runs
 *	  in the request's transaction as the credential's role (see
 *	  http_request.c) and calls the SQL API through SPI, so privileges,
 *	  GRANTs and the functions' own checks apply exactly as in psql.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "common/common.h"
#include "http/http.h"
#include "http/http_int.h"

#define HTTP_MAX_BATCH 1000

/* the handlers' queries, prepared once per worker (HttpExecute) */
static SPIPlanPtr plans[5];

static void HandleHealth(HttpRequest *req);
static void HandleReady(HttpRequest *req);
static void HandleMetrics(HttpRequest *req);
static void HandlePredict(HttpRequest *req);
static void HandlePredictBatch(HttpRequest *req);
static void HandleModelInfo(HttpRequest *req);
static void HandleModelSchema(HttpRequest *req);
static void HandleDashboard(HttpRequest *req);

/* one line per route; the metrics name a route by its pattern */
static const HttpRoute routes[] = {
	{"GET", "/health", HTTP_NEEDS_NOTHING, false, HandleHealth},
	{"GET", "/ready", HTTP_NEEDS_DATABASE, false, HandleReady},
	{"GET", "/metrics", HTTP_NEEDS_CREDENTIALS, false, HandleMetrics},
	{"POST", "/predict", HTTP_NEEDS_CREDENTIALS, true, HandlePredict},
	{"POST", "/predict/batch", HTTP_NEEDS_CREDENTIALS, true, HandlePredictBatch},
	{"GET", "/model/info", HTTP_NEEDS_CREDENTIALS, false, HandleModelInfo},
	{"GET", "/model/schema", HTTP_NEEDS_CREDENTIALS, false, HandleModelSchema},
	{"POST", "/models/*/predict", HTTP_NEEDS_CREDENTIALS, true, HandlePredict},
	{"GET", "/dashboard", HTTP_NEEDS_CREDENTIALS, false, HandleDashboard},
};

StaticAssertDecl(lengthof(routes) <= HTTP_MAX_ROUTES, "too many HTTP routes");

static bool MatchPattern(const char *pattern, const char *path, char **arg);
static const char *BodyString(HttpRequest *req, const char *key, bool *bad);
static JsonbValue *BodyField(HttpRequest *req, const char *key);
static const char *ModelOf(HttpRequest *req, const char *given);
static void FieldError(HttpRequest *req, const char *field, const char *message);
static char *RunJsonQuery(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, Datum *values,
						  const char *nulls);

/*
 * HttpFindRoute returns the route of a method and path (and what its "*"
 * matched), or NULL; method_mismatch says the path exists with another
 * method.
 */
const HttpRoute *
HttpFindRoute(const char *method, const char *path, int *index, char **path_arg,
			  bool *method_mismatch)
{
	*method_mismatch = false;
	for (int i = 0; i < (int) lengthof(routes); i++)
	{
		char	   *arg = NULL;

		if (!MatchPattern(routes[i].pattern, path, &arg))
			continue;
		if (strcmp(routes[i].method, method) != 0)
		{
			*method_mismatch = true;
			continue;
		}
		*index = i;
		*path_arg = arg;
		return &routes[i];
	}
	return NULL;
}

/*
 * HttpRouteNames returns the routes' patterns, in table order.
 */
const char *const *
HttpRouteNames(int *n)
{
	static const char *names[lengthof(routes)];

	for (int i = 0; i < (int) lengthof(routes); i++)
		names[i] = routes[i].pattern;
	*n = lengthof(routes);
	return names;
}

/*
 * MatchPattern matches a path against a pattern with at most one "*" that
 * stands for a non-empty run of characters (slashes included: a model
 * reference such as churn/3 may arrive percent-encoded or not).
 */
static bool
MatchPattern(const char *pattern, const char *path, char **arg)
{
	const char *star = strchr(pattern, '*');
	size_t		pre,
				suf,
				len = strlen(path);

	if (star == NULL)
		return strcmp(pattern, path) == 0;
	pre = star - pattern;
	suf = strlen(star + 1);
	if (len <= pre + suf || strncmp(path, pattern, pre) != 0 ||
		strcmp(path + len - suf, star + 1) != 0)
		return false;
	*arg = pnstrdup(path + pre, len - pre - suf);
	return true;
}

/*
 * HandleHealth says the worker is alive (no database work).
 */
static void
HandleHealth(HttpRequest *req)
{
	HttpRespondJson(req, 200, psprintf("{\"status\": \"ok\", \"worker\": %d}", HttpWorkerNumber() + 1));
}

/*
 * HandleReady answers 200 when mlops.ready() is true (every Production model
 * loads in this worker), 503 otherwise.
 */
static void
HandleReady(HttpRequest *req)
{
	bool		isnull;
	bool		ready;

	if (SPI_execute("SELECT mlops.ready()", false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "mlops.ready() returned no row");
	ready = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (ready && !isnull)
		HttpRespondJson(req, 200, "{\"status\": \"ready\"}");
	else
		HttpRespondError(req, 503, "UNAVAILABLE", "not ready: a Production model cannot be served yet", NULL);
}

/*
 * HandleMetrics answers prometheus_metrics() (as the caller's role) followed
 * by the HTTP service's own request metrics.
 */
static void
HandleMetrics(HttpRequest *req)
{
	StringInfoData out;
	char	   *text;
	int			n;
	const char *const *names = HttpRouteNames(&n);

	if (SPI_execute("SELECT mlops.prometheus_metrics()", false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "mlops.prometheus_metrics() returned no row");
	text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	initStringInfo(&out);
	if (text != NULL)
		appendStringInfoString(&out, text);
	if (out.len > 0 && out.data[out.len - 1] != '\n')
		appendStringInfoChar(&out, '\n');
	HttpMetricsAppend(&out, names, n);
	HttpRespondText(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data);
}

/*
 * HandleDashboard answers mlops.dashboard_html() (as the caller's role): the
 * monitoring dashboard page, which reloads itself (no script).
 */
static void
HandleDashboard(HttpRequest *req)
{
	char	   *html;

	if (SPI_execute("SELECT mlops.dashboard_html()", false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "mlops.dashboard_html() returned no row");
	html = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	HttpRespondText(req, 200, "text/html; charset=utf-8", html ? html : "");
}

/*
 * HandlePredict answers POST /predict and POST /models/{ref}/predict:
 * {"model", "features": {...}, "user_id"} -> mlops.predict_detail(model,
 * features, routing_key => user_id), after mlops.validate_input listed
 * every constraint violation (422).
 */
static void
HandlePredict(HttpRequest *req)
{
	bool		bad = false;
	const char *model = req->path_arg ? req->path_arg : BodyString(req, "model", &bad);
	const char *user_id;
	JsonbValue *features;
	Oid			types[3] = {TEXTOID, JSONBOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	char	   *result;

	if (bad)
		return FieldError(req, "model", "must be a string");
	user_id = BodyString(req, "user_id", &bad);
	if (bad)
		return FieldError(req, "user_id", "must be a string");
	if ((model = ModelOf(req, model)) == NULL)
		return;
	features = BodyField(req, "features");
	if (features == NULL || features->type != jbvBinary || !JsonContainerIsObject(features->val.binary.data))
		return FieldError(req, "features", "is required and must be a JSON object");
	values[0] = CStringGetTextDatum(model);
	values[1] = PointerGetDatum(JsonbValueToJsonb(features));
	values[2] = user_id ? CStringGetTextDatum(user_id) : (Datum) 0;
	nulls[2] = user_id ? ' ' : 'n';
	if (HttpExecute(&plans[0], "SELECT v::pg_catalog.text, CASE WHEN (v OPERATOR(pg_catalog.->>) 'valid')::pg_catalog.bool "
					"THEN mlops.predict_detail($1, $2, $3)::pg_catalog.text END "
					"FROM mlops.validate_input($1, $2) v", 3, types, values, nulls, false) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "the prediction query returned no row");
	result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (result == NULL)
	{
		Jsonb	   *v = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
														   CStringGetDatum(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1))));
		JsonbValue *d = getKeyJsonValueFromContainer(&v->root, "details", 7, NULL);

		HttpRespondError(req, 422, "VALIDATION_ERROR", "the features break the model's input constraints",
						 d ? JsonbToCString(NULL, d->val.binary.data, d->val.binary.len) : NULL);
		return;
	}
	HttpRespondJson(req, 200, result ? result : "null");
}

/*
 * HandlePredictBatch answers POST /predict/batch: {"model", "instances":
 * [{...}, ...]} -> {"predictions": [predict_detail, ...]}; every violation of
 * every instance is listed at once (field "instances[i].name").
 */
static void
HandlePredictBatch(HttpRequest *req)
{
	bool		bad = false;
	const char *model = BodyString(req, "model", &bad);
	const char *user_id;
	JsonbValue *inst;
	Oid			types[3] = {TEXTOID, JSONBOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	char	   *result;

	if (bad)
		return FieldError(req, "model", "must be a string");
	user_id = BodyString(req, "user_id", &bad);
	if (bad)
		return FieldError(req, "user_id", "must be a string");
	if ((model = ModelOf(req, model)) == NULL)
		return;
	inst = BodyField(req, "instances");
	if (inst == NULL || inst->type != jbvBinary || !JsonContainerIsArray(inst->val.binary.data) ||
		JsonContainerSize(inst->val.binary.data) == 0 ||
		JsonContainerSize(inst->val.binary.data) > HTTP_MAX_BATCH)
		return FieldError(req, "instances", psprintf("is required and must be an array of 1 to %d feature objects",
													 HTTP_MAX_BATCH));
	values[0] = CStringGetTextDatum(model);
	values[1] = PointerGetDatum(JsonbValueToJsonb(inst));
	values[2] = user_id ? CStringGetTextDatum(user_id) : (Datum) 0;
	nulls[2] = user_id ? ' ' : 'n';
	result = RunJsonQuery(&plans[1], "SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_set(d, '{field}', "
						  "pg_catalog.to_jsonb(pg_catalog.format('instances[%s].%s', e.o OPERATOR(pg_catalog.-) 1, "
						  "d OPERATOR(pg_catalog.->>) 'field'))) ORDER BY e.o)::pg_catalog.text "
						  "FROM pg_catalog.jsonb_array_elements($2) WITH ORDINALITY e (f, o), "
						  "LATERAL pg_catalog.jsonb_array_elements(mlops.validate_input($1, e.f) "
						  "OPERATOR(pg_catalog.->) 'details') d",
						  2, types, values, nulls);
	if (result != NULL)
		return HttpRespondError(req, 422, "VALIDATION_ERROR",
								"instances break the model's input constraints", result);
	result = RunJsonQuery(&plans[2], "SELECT pg_catalog.jsonb_build_object('predictions', "
						  "pg_catalog.jsonb_agg(mlops.predict_detail($1, e.f, $3) ORDER BY e.o))::pg_catalog.text "
						  "FROM pg_catalog.jsonb_array_elements($2) WITH ORDINALITY e (f, o)",
						  3, types, values, nulls);
	HttpRespondJson(req, 200, result ? result : "null");
}

/*
 * HandleModelInfo answers GET /model/info?model= with mlops.model_info.
 */
static void
HandleModelInfo(HttpRequest *req)
{
	const char *model = ModelOf(req, HttpQueryArg(req, "model"));
	Oid			type = TEXTOID;
	Datum		value;

	if (model == NULL)
		return;
	value = CStringGetTextDatum(model);
	HttpRespondJson(req, 200, RunJsonQuery(&plans[3], "SELECT mlops.model_info($1)::pg_catalog.text", 1, &type, &value, NULL));
}

/*
 * HandleModelSchema answers GET /model/schema?model= with mlops.model_schema
 * and the model's input constraints.
 */
static void
HandleModelSchema(HttpRequest *req)
{
	const char *model = ModelOf(req, HttpQueryArg(req, "model"));
	Oid			type = TEXTOID;
	Datum		value;

	if (model == NULL)
		return;
	value = CStringGetTextDatum(model);
	HttpRespondJson(req, 200, RunJsonQuery(&plans[4], "SELECT mlops.model_schema($1)::pg_catalog.text", 1, &type, &value, NULL));
}

/*
 * ModelOf returns the model reference a request names, or
 * mlops.http_default_model; with neither it answers 422 and returns NULL.
 */
static const char *
ModelOf(HttpRequest *req, const char *given)
{
	if (given != NULL && given[0] != '\0')
		return given;
	if (mlops_http_default_model != NULL && mlops_http_default_model[0] != '\0')
		return mlops_http_default_model;
	FieldError(req, "model", "is required (no mlops.http_default_model is set)");
	return NULL;
}

/*
 * FieldError answers 422 VALIDATION_ERROR about one field.
 */
static void
FieldError(HttpRequest *req, const char *field, const char *message)
{
	StringInfoData d;

	initStringInfo(&d);
	appendStringInfoString(&d, "[{\"field\": ");
	HttpJsonEscape(&d, field);
	appendStringInfoString(&d, ", \"message\": ");
	HttpJsonEscape(&d, message);
	appendStringInfoString(&d, "}]");
	HttpRespondError(req, 422, "VALIDATION_ERROR", psprintf("invalid %s", field), d.data);
}

/*
 * BodyField returns a top-level member of the body object, or NULL.
 */
static JsonbValue *
BodyField(HttpRequest *req, const char *key)
{
	return getKeyJsonValueFromContainer(&req->json->root, key, strlen(key), NULL);
}

/*
 * BodyString returns a string member of the body (NULL when absent or
 * null); *bad is set when it is there with another type.
 */
static const char *
BodyString(HttpRequest *req, const char *key, bool *bad)
{
	JsonbValue *v = BodyField(req, key);

	*bad = false;
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
	{
		*bad = true;
		return NULL;
	}
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * RunJsonQuery runs a one-value query and returns its text (NULL for no row
 * or a NULL value).
 */
static char *
RunJsonQuery(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	int			rc = HttpExecute(slot, sql, nargs, types, values, nulls, false);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}
