/*-------------------------------------------------------------------------
 *
 * http_request.c
 *	  One HTTP request, from libmicrohttpd's callback to the response: body
 *	  limits, routing, the transaction, authentication, rate limiting, the
 *	  switch to the credential's role, errors and the headers every response
 *	  carries.
 *
 * Every callback runs on the worker's main thread (http_worker.c).  No
 * PostgreSQL error may unwind through libmicrohttpd's frames, so the access
 * handler catches everything: an error inside a request's transaction
 * becomes an HTTP error (http_errors.c maps its SQLSTATE) and the
 * transaction is aborted; anything else (out of memory between requests)
 * closes the connection.  Each request gets its own memory context, deleted
 * when libmicrohttpd says the request is over, and a request id that is
 * returned in X-Request-Id and in error bodies and written to the server log
 * with the internal details of a 5xx error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

#include "common/common.h"
#include "http/http.h"
#include "http/http_int.h"

static uint64 request_counter = 0;

static HttpRequest *NewRequest(struct MHD_Connection *conn, const char *url, const char *method);
static void AnswerEarly(HttpRequest *req);
static void Dispatch(HttpRequest *req);
static void RunInTransaction(HttpRequest *req);
static bool Admit(HttpRequest *req);
static void RunAsRole(HttpRequest *req);
static void ParseBody(void *arg);
static bool PrepareBody(HttpRequest *req);
static void RespondSqlError(HttpRequest *req, ErrorData *edata);
static void Respond(HttpRequest *req, int status, const char *content_type, const char *text);
static void Queue(HttpRequest *req);

/*
 * HttpAccessHandler is libmicrohttpd's access handler: called once when the
 * headers are in, once per piece of body, and once more at the end.
 */
enum MHD_Result
HttpAccessHandler(void *cls, struct MHD_Connection *connection, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	HttpRequest *volatile req = (HttpRequest *) *con_cls;
	volatile bool ok = true;
	MemoryContext caller = CurrentMemoryContext;

	PG_TRY();
	{
		if (req == NULL)
		{
			req = NewRequest(connection, url, method);
			*con_cls = req;
			AnswerEarly(req);
		}
		else if (*upload_data_size > 0)
		{
			if (!req->answered && !req->body_too_large)
			{
				if ((uint64) req->body.len + *upload_data_size > (uint64) mlops_http_max_body_kb * 1024)
					req->body_too_large = true;
				else
				{
					MemoryContext old = MemoryContextSwitchTo(req->cxt);

					appendBinaryStringInfo(&req->body, upload_data, (int) *upload_data_size);
					MemoryContextSwitchTo(old);
				}
			}
			*upload_data_size = 0;
		}
		else if (!req->answered)
			Dispatch(req);
		if (req->answered && !req->queued)
			Queue(req);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller);
		EmitErrorReport();
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller);
	return ok ? MHD_YES : MHD_NO;
}

/*
 * HttpRequestCompleted releases a request's memory when libmicrohttpd is
 * done with it (answered, failed or timed out).
 */
void
HttpRequestCompleted(void *cls, struct MHD_Connection *connection, void **con_cls,
					 enum MHD_RequestTerminationCode toe)
{
	HttpRequest *req = (HttpRequest *) *con_cls;

	if (req != NULL)
		MemoryContextDelete(req->cxt);
	*con_cls = NULL;
}

/*
 * NewRequest allocates a request in its own memory context, gives it an id
 * and finds its route.
 */
static HttpRequest *
NewRequest(struct MHD_Connection *conn, const char *url, const char *method)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "mlops http request",
											  ALLOCSET_DEFAULT_SIZES);
	HttpRequest *req = MemoryContextAllocZero(cxt, sizeof(HttpRequest));
	MemoryContext old = MemoryContextSwitchTo(cxt);
	uint32		rnd = 0;

	req->conn = conn;
	req->cxt = cxt;
	req->method = pstrdup(method);
	req->url = pstrdup(url);
	INSTR_TIME_SET_CURRENT(req->start);
	if (!pg_strong_random(&rnd, sizeof(rnd)))
		rnd = (uint32) random();
	snprintf(req->request_id, sizeof(req->request_id), "%x-%x-%llx", MyProcPid, rnd,
			 (unsigned long long) ++request_counter);
	initStringInfo(&req->body);
	initStringInfo(&req->out);
	req->route_index = -1;
	MemoryContextSwitchTo(old);
	return req;
}

/*
 * AnswerEarly answers at once what needs no body: an unknown path
 * (404), a wrong method (405), and a declared Content-Length above the
 * limit (413), before any of the body is read.
 */
static void
AnswerEarly(HttpRequest *req)
{
	const char *len = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	bool		wrong_method = false;
	MemoryContext old = MemoryContextSwitchTo(req->cxt);

	req->route = HttpFindRoute(req->method, req->url, &req->route_index, &req->path_arg, &wrong_method);
	MemoryContextSwitchTo(old);
	if (req->route == NULL && wrong_method)
		HttpRespondError(req, 405, "METHOD_NOT_ALLOWED", "method not allowed for this path", NULL);
	else if (req->route == NULL)
		HttpRespondError(req, 404, "NOT_FOUND", "no such endpoint", NULL);
	else if (len != NULL && (strspn(len, "0123456789") != strlen(len) || strlen(len) > 15 ||
							 strtoll(len, NULL, 10) > (long long) mlops_http_max_body_kb * 1024))
		HttpRespondError(req, 413, "PAYLOAD_TOO_LARGE",
						 psprintf("the request body is larger than mlops.http_max_body_kb (%d kB)",
								  mlops_http_max_body_kb), NULL);
}

/*
 * Dispatch answers a request whose body is complete.
 */
static void
Dispatch(HttpRequest *req)
{
	if (req->body_too_large)
		HttpRespondError(req, 413, "PAYLOAD_TOO_LARGE",
						 psprintf("the request body is larger than mlops.http_max_body_kb (%d kB)",
								  mlops_http_max_body_kb), NULL);
	else if (req->route->has_body && !PrepareBody(req))
		return;					/* answered */
	else if (req->route->needs == HTTP_NEEDS_NOTHING)
	{
		MemoryContext old = MemoryContextSwitchTo(req->cxt);

		req->route->handler(req);
		MemoryContextSwitchTo(old);
	}
	else
		RunInTransaction(req);
}

/*
 * PrepareBody checks the content type and that the body is one UTF-8 JSON
 * object, answering 415 or 400 otherwise.  The parse itself happens in the
 * request's transaction (jsonb needs one for errors), see ParseBody.
 */
static bool
PrepareBody(HttpRequest *req)
{
	const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

	if (ct == NULL || pg_strncasecmp(ct, "application/json", 16) != 0 ||
		(ct[16] != '\0' && ct[16] != ';' && ct[16] != ' '))
	{
		HttpRespondError(req, 415, "UNSUPPORTED_MEDIA_TYPE", "the request body must be application/json", NULL);
		return false;
	}
	if (req->body.len == 0 || memchr(req->body.data, '\0', req->body.len) != NULL ||
		!pg_verify_mbstr(PG_UTF8, req->body.data, req->body.len, true))
	{
		HttpRespondError(req, 400, "VALIDATION_ERROR",
						 req->body.len == 0 ? "the request body is empty" : "the request body is not valid UTF-8 text",
						 NULL);
		return false;
	}
	return true;
}

/*
 * RunInTransaction runs a route in its own transaction, all of it under
 * the request timeout: admission (installed schema, credentials, rate
 * limit), then the handler as the credential's role.  An error aborts the
 * transaction and becomes the response.
 */
static void
RunInTransaction(HttpRequest *req)
{
	MemoryContext old = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		enable_timeout_after(STATEMENT_TIMEOUT, mlops_http_request_timeout_ms);
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (Admit(req))
			RunAsRole(req);
		disable_timeout(STATEMENT_TIMEOUT, false);
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(req->cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		QueryCancelPending = false;
		req->answered = false;	/* a failed commit replaces the answer */
		RespondSqlError(req, edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
}

/*
 * Admit checks that mlops is installed at the library's version, then (for
 * routes that need them) the credentials and the rate limit; it answers and
 * returns false when the request may not go on.
 */
static bool
Admit(HttpRequest *req)
{
	const char *version = NULL;
	const char *reason = NULL;
	HttpAuthResult auth;
	TokenBucketResult rate;

	if (MlopsSchemaStatus(&version) != MLOPS_SCHEMA_CURRENT)
	{
		HttpRespondError(req, 503, "UNAVAILABLE",
						 "the mlops extension is not installed at the current version in this database", NULL);
		return false;
	}
	if (req->route->needs != HTTP_NEEDS_CREDENTIALS)
		return true;
	auth = HttpAuthenticate(MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-API-Key"),
							MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
							&req->cred, &reason);
	if (auth != HTTP_AUTH_OK)
	{
		HttpAuthRefused(reason);
		if (auth == HTTP_AUTH_FORBIDDEN)
			HttpRespondError(req, 403, "FORBIDDEN", reason, NULL);
		else
		{
			HttpAddHeader(req, "WWW-Authenticate", "Bearer");
			HttpRespondError(req, 401, "UNAUTHORIZED",
							 auth == HTTP_AUTH_MISSING ? "credentials are required: send X-API-Key or Authorization: Bearer"
							 : "invalid credentials", NULL);
		}
		return false;
	}
	if (!HttpRateTake(req->cred.kind, req->cred.id, req->cred.per_minute, req->cred.burst, &rate))
	{
		HttpRespondError(req, 503, "UNAVAILABLE", "the rate limiter is full, try again later", NULL);
		return false;
	}
	HttpAddHeader(req, "X-RateLimit-Limit", psprintf("%.0f", req->cred.per_minute));
	HttpAddHeader(req, "X-RateLimit-Remaining", psprintf("%.0f", rate.remaining));
	HttpAddHeader(req, "X-RateLimit-Reset", psprintf("%.0f", ceil(rate.reset_s)));
	if (!rate.allowed)
	{
		HttpAddHeader(req, "Retry-After", psprintf("%.0f", Max(1.0, ceil(rate.retry_after_s))));
		HttpRespondError(req, 429, "RATE_LIMITED",
						 psprintf("rate limit of the %s tier exceeded", req->cred.tier), NULL);
		return false;
	}
	return true;
}

/*
 * RunAsRole runs the route's handler as the credential's role (the worker's
 * own role for routes without credentials).  SECURITY_LOCAL_USERID_CHANGE forbids SET ROLE and SET
 * SESSION AUTHORIZATION meanwhile; an error restores the user when the
 * transaction aborts.
 */
static void
RunAsRole(HttpRequest *req)
{
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	if (req->route->needs == HTTP_NEEDS_CREDENTIALS)
		SetUserIdAndSecContext(req->cred.role, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	if (req->route->has_body)
	{
		ErrorData  *perr = MlopsTryInSubxact(ParseBody, req);

		if (perr != NULL)
		{
			StringInfoData d;

			initStringInfo(&d);
			appendStringInfoString(&d, "[{\"message\": ");
			HttpJsonEscape(&d, MlopsClip(perr->message ? perr->message : "", MLOPS_ECHO_MAX));
			appendStringInfoString(&d, "}]");
			HttpRespondError(req, 400, "VALIDATION_ERROR", "the request body is not valid JSON", d.data);
		}
		else if (!JB_ROOT_IS_OBJECT(req->json) || JB_ROOT_IS_SCALAR(req->json))
			HttpRespondError(req, 400, "VALIDATION_ERROR", "the request body must be a JSON object", NULL);
	}
	if (!req->answered)
		req->route->handler(req);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * ParseBody parses the request body as jsonb (in a subtransaction, so a
 * syntax error or a too deeply nested document is a 400, not an abort).
 */
static void
ParseBody(void *arg)
{
	HttpRequest *req = (HttpRequest *) arg;
	MemoryContext old = MemoryContextSwitchTo(req->cxt);

	req->json = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(req->body.data)));
	MemoryContextSwitchTo(old);
}

/*
 * RespondSqlError turns an error raised while handling a request into the
 * response its SQLSTATE maps to.  Messages of server errors stay in the log.
 */
static void
RespondSqlError(HttpRequest *req, ErrorData *edata)
{
	HttpErrorClass c = HttpClassifySqlstate(edata->sqlerrcode);
	char	   *details = NULL;

	if (c.status >= 500)
		ereport(LOG,
				(errmsg("mlops http request %s (%s %s) failed with %d: %s",
						req->request_id, req->method, MlopsClip(req->url, MLOPS_ECHO_MAX), c.status,
						MlopsClip(edata->message ? edata->message : "", 2000)),
				 edata->detail ? errdetail_internal("%s", MlopsClip(edata->detail, 2000)) : 0,
				 errhidestmt(true)));
	if (!c.expose)
	{
		HttpRespondError(req, c.status, c.code,
						 c.status == 503 ? "the service is unavailable or the request timed out, try again later"
						 : "internal error; the server log has the details under this request id", NULL);
		return;
	}
	if (edata->detail != NULL)
	{
		StringInfoData d;

		initStringInfo(&d);
		appendStringInfoString(&d, "[{\"message\": ");
		HttpJsonEscape(&d, MlopsClip(edata->detail, 4000));
		appendStringInfoString(&d, "}]");
		details = d.data;
	}
	HttpRespondError(req, c.status, c.code, MlopsClip(edata->message ? edata->message : "error", 2000), details);
}

/*
 * HttpAddHeader adds a header to the response being built.
 */
void
HttpAddHeader(HttpRequest *req, const char *name, const char *value)
{
	if (req->nheaders < HTTP_MAX_EXTRA_HEADERS)
	{
		req->header_names[req->nheaders] = MemoryContextStrdup(req->cxt, name);
		req->header_values[req->nheaders] = MemoryContextStrdup(req->cxt, value);
		req->nheaders++;
	}
}

/*
 * HttpRespondJson answers with a JSON document.
 */
void
HttpRespondJson(HttpRequest *req, int status, const char *json)
{
	Respond(req, status, "application/json", json);
}

/*
 * HttpRespondText answers with a text document of the given type.
 */
void
HttpRespondText(HttpRequest *req, int status, const char *content_type, const char *text)
{
	Respond(req, status, content_type, text);
}

/*
 * Respond records the answer; it is sent (Queue) once the request's
 * transaction has committed, so a failed commit can still replace it.
 */
static void
Respond(HttpRequest *req, int status, const char *content_type, const char *text)
{
	if (req->answered)
		return;
	req->answered = true;
	req->status = status;
	req->content_type = content_type;
	resetStringInfo(&req->out);
	appendStringInfoString(&req->out, text);
}

/*
 * HttpRespondError answers with the error format of the API:
 * {"error": {"code", "message", "details": [...], "request_id"}}.
 */
void
HttpRespondError(HttpRequest *req, int status, const char *code, const char *message,
				 const char *details_json)
{
	StringInfoData body;

	initStringInfo(&body);
	HttpErrorBody(&body, code, message, details_json, req->request_id);
	HttpRespondJson(req, status, body.data);
}

/*
 * HttpQueryArg returns a query-string argument, or NULL.
 */
const char *
HttpQueryArg(HttpRequest *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/*
 * HttpRequestIsTls says whether the request came over TLS.
 */
bool
HttpRequestIsTls(HttpRequest *req)
{
	return HttpWorkerTls();
}

/*
 * Queue sends the response with the security headers every response
 * carries, and counts it in the metrics.
 */
static void
Queue(HttpRequest *req)
{
	struct MHD_Response *resp;
	instr_time	now;

	req->queued = true;
	resp = MHD_create_response_from_buffer(req->out.len, req->out.data, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("could not create an HTTP response")));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	/* an HTML page (the dashboard) may use its own inline styles, nothing else */
	MHD_add_response_header(resp, "Content-Security-Policy",
							strncmp(req->content_type, "text/html", 9) == 0 ?
							"default-src 'none'; style-src 'unsafe-inline'" : "default-src 'none'");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (HttpRequestIsTls(req))
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
	for (int i = 0; i < req->nheaders; i++)
		MHD_add_response_header(resp, req->header_names[i], req->header_values[i]);
	MHD_queue_response(req->conn, (unsigned int) req->status, resp);
	MHD_destroy_response(resp);
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, req->start);
	HttpMetricsRecord(req->route_index, req->status, INSTR_TIME_GET_MILLISEC(now));
}

/*
 * HttpExecute runs one of the service's fixed queries with a plan prepared
 * once per worker (kept in *slot; PostgreSQL's plan cache revalidates it
 * after DDL), so a request does not parse and plan its SQL again.
 */
int
HttpExecute(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, Datum *values,
			const char *nulls, bool read_only)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*slot = plan;
	}
	return SPI_execute_plan(*slot, values, nulls, read_only, 1);
}

