/*-------------------------------------------------------------------------
 *
 * http_int.h
 *	  Declarations shared by the files of src/http/ that talk to
 *	  libmicrohttpd: the request, the route table and the callbacks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_HTTP_INT_H
#define MLOPS_HTTP_INT_H

#include "postgres.h"

#include <microhttpd.h>

#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "http/http.h"

/* what a route needs before its handler runs */
typedef enum HttpRouteNeeds
{
	HTTP_NEEDS_NOTHING,			/* no database, no credentials */
	HTTP_NEEDS_DATABASE,		/* a transaction, no credentials */
	HTTP_NEEDS_CREDENTIALS		/* a transaction as the credential's role */
} HttpRouteNeeds;

typedef void (*HttpHandler) (HttpRequest *req);

typedef struct HttpRoute
{
	const char *method;
	const char *pattern;		/* a path; one "*" matches a non-empty segment run */
	HttpRouteNeeds needs;
	bool		has_body;		/* the route reads a JSON object body */
	HttpHandler handler;
} HttpRoute;

#define HTTP_MAX_EXTRA_HEADERS 8

struct HttpRequest
{
	struct MHD_Connection *conn;
	MemoryContext cxt;			/* lives as long as the connection's request */
	const char *method;
	const char *url;
	const HttpRoute *route;
	int			route_index;
	char	   *path_arg;		/* what "*" matched */
	StringInfoData body;
	bool		body_too_large;
	bool		answered;
	bool		queued;
	Jsonb	   *json;			/* the parsed body of a has_body route */
	char		request_id[24];
	instr_time	start;
	HttpCredential cred;
	/* the response */
	int			status;
	const char *content_type;
	StringInfoData out;
	int			nheaders;
	const char *header_names[HTTP_MAX_EXTRA_HEADERS];
	const char *header_values[HTTP_MAX_EXTRA_HEADERS];
};

/* http_request.c */
extern enum MHD_Result HttpAccessHandler(void *cls, struct MHD_Connection *connection,
										 const char *url, const char *method,
										 const char *version, const char *upload_data,
										 size_t *upload_data_size, void **con_cls);
extern void HttpRequestCompleted(void *cls, struct MHD_Connection *connection,
								 void **con_cls, enum MHD_RequestTerminationCode toe);
extern void HttpRespondJson(HttpRequest *req, int status, const char *json);
extern void HttpRespondText(HttpRequest *req, int status, const char *content_type,
							const char *text);
extern void HttpRespondError(HttpRequest *req, int status, const char *code,
							 const char *message, const char *details_json);
extern void HttpAddHeader(HttpRequest *req, const char *name, const char *value);
extern const char *HttpQueryArg(HttpRequest *req, const char *name);
extern bool HttpRequestIsTls(HttpRequest *req);
extern int	HttpExecute(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, Datum *values,
						const char *nulls, bool read_only);

/* http_routes.c */
extern const HttpRoute *HttpFindRoute(const char *method, const char *path, int *index,
									  char **path_arg, bool *method_mismatch);
extern const char *const *HttpRouteNames(int *n);

/* http_worker.c */
extern int	HttpWorkerNumber(void);
extern bool HttpWorkerTls(void);

#endif							/* MLOPS_HTTP_INT_H */
