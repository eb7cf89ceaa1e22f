/*-------------------------------------------------------------------------
 *
 * http.h
 *	  The face of src/http/: the optional HTTP inference service.
 *
 * Background workers (mlops.http_workers of them, registered at preload when
 * mlops.http_port is not 0) each bind the same port with SO_REUSEPORT and
 * drive GNU libmicrohttpd in its external event loop (epoll) mode from the
 * worker's own latch loop, so every request runs on the worker's main
 * thread, in its own transaction, as the role its credentials map to.
 * docs/http.md describes the API; http_worker.c the design.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_HTTP_H
#define MLOPS_HTTP_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "http/token_bucket.h"

/* settings (http_init.c, docs/settings.md "HTTP service") */
extern int	mlops_http_port;
extern char *mlops_http_listen_addresses;
extern int	mlops_http_workers;
extern char *mlops_http_database;
extern int	mlops_http_max_body_kb;
extern int	mlops_http_request_timeout_ms;
extern int	mlops_http_max_connections;
extern char *mlops_http_tls_cert_file;
extern char *mlops_http_tls_key_file;
extern char *mlops_http_default_model;
extern char *mlops_http_jwt_secret;
extern char *mlops_http_jwt_audience;

/* the routes, one slot each in the shared metrics (http_routes.c) */
#define HTTP_MAX_ROUTES 16
/* the statuses the metrics count one by one; others are counted as "other" */
#define HTTP_STATUS_SLOTS 13
/* latency histogram buckets (upper bounds in ms; the last is +Inf) */
#define HTTP_LATENCY_BUCKETS 12

extern void HttpInit(void);
extern PGDLLEXPORT void MlopsHttpWorkerMain(Datum arg);

/* shared memory: request metrics and rate-limit buckets (http_shmem.c) */
extern void HttpShmemRegister(void);
extern void HttpMetricsRecord(int route, int status, double ms);
extern void HttpMetricsAppend(StringInfo out, const char *const *route_names, int nroutes);
extern void HttpMetricsSetReady(int worker, bool ready);
extern bool HttpRateTake(char kind, const char *id, double per_minute, double burst,
						 TokenBucketResult *result);

/* one request (http_request.c) */
typedef struct HttpRequest HttpRequest;

/* what a credential maps to (http_auth.c) */
typedef struct HttpCredential
{
	Oid			role;
	char		kind;			/* 'k' API key, 'j' JWT */
	char		id[64];			/* key id or role name: the rate-limit bucket */
	char		tier[64];
	double		per_minute;
	double		burst;
} HttpCredential;

/* an authentication outcome that is not a credential */
typedef enum HttpAuthResult
{
	HTTP_AUTH_OK,
	HTTP_AUTH_MISSING,
	HTTP_AUTH_INVALID,			/* unknown, revoked, expired, bad signature: 401 */
	HTTP_AUTH_FORBIDDEN			/* a valid credential of a role that may not log in: 403 */
} HttpAuthResult;

extern HttpAuthResult HttpAuthenticate(const char *api_key, const char *authorization,
									   HttpCredential *cred, const char **reason);
extern bool HttpJwtVerify(const char *token, const char *secret, const char *audience,
						  int64 now_s, char *role, size_t rolelen, char *tier, size_t tierlen,
						  const char **reason);
extern void HttpAuthRefused(const char *reason);
extern void HttpAuthFlushRefusals(bool force);

/* the SQLSTATE -> HTTP mapping (http_errors.c) */
typedef struct HttpErrorClass
{
	int			status;
	const char *code;
	bool		expose;			/* the message may be shown to the client */
} HttpErrorClass;

extern HttpErrorClass HttpClassifySqlstate(int sqlerrcode);
extern void HttpJsonEscape(StringInfo out, const char *s);
extern void HttpErrorBody(StringInfo out, const char *code, const char *message,
						  const char *details_json, const char *request_id);

#endif							/* MLOPS_HTTP_H */
