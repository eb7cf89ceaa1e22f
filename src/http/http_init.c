/*-------------------------------------------------------------------------
 *
 * http_init.c
 *	  The HTTP service's settings and the registration of its background
 *	  workers at preload.  Nothing here touches libmicrohttpd: this code runs
 *	  in the postmaster.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/guc.h"

#include "common/common.h"
#include "http/http.h"

int			mlops_http_port = 0;
char	   *mlops_http_listen_addresses = NULL;
int			mlops_http_workers = 2;
char	   *mlops_http_database = NULL;
int			mlops_http_max_body_kb = 1024;
int			mlops_http_request_timeout_ms = 5000;
int			mlops_http_max_connections = 256;
char	   *mlops_http_tls_cert_file = NULL;
char	   *mlops_http_tls_key_file = NULL;
char	   *mlops_http_default_model = NULL;
char	   *mlops_http_jwt_secret = NULL;
char	   *mlops_http_jwt_audience = NULL;

static bool CheckJwtSecret(char **newval, void **extra, GucSource source);
static void DefineListenerSettings(void);
static void DefineStartupSettings(void);

/*
 * HttpInit registers the settings and, when mlops is preloaded with
 * mlops.http_port set, the shared memory and mlops.http_workers workers.
 */
void
HttpInit(void)
{
	BackgroundWorker worker;

	if (process_shared_preload_libraries_in_progress)
		DefineStartupSettings();
	DefineListenerSettings();
	DefineCustomIntVariable("mlops.http_max_body_kb",
							"Largest request body the HTTP service accepts, in kilobytes.",
							"Larger bodies are refused with 413 before they are read.",
							&mlops_http_max_body_kb, 1024, 1, 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.http_request_timeout_ms",
							"Statement timeout of each HTTP request, in milliseconds.",
							"Also bounds (rounded up to seconds) how long an idle or slow connection is kept.",
							&mlops_http_request_timeout_ms, 5000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("mlops.http_default_model",
							   "Model reference used by POST /predict when the body names none.",
							   NULL,
							   &mlops_http_default_model, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("mlops.http_jwt_secret",
							   "HS256 secret of the JSON Web Tokens the HTTP service accepts (empty = no JWT).",
							   "At least 32 bytes.  Only superusers can read or set it.",
							   &mlops_http_jwt_secret, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL,
							   CheckJwtSecret, NULL, NULL);
	DefineCustomStringVariable("mlops.http_jwt_audience",
							   "Audience (aud claim) a JSON Web Token must name (empty = aud is not checked).",
							   NULL,
							   &mlops_http_jwt_audience, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress || mlops_http_port == 0)
		return;

	HttpShmemRegister();
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mlops");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "MlopsHttpWorkerMain");
	snprintf(worker.bgw_type, BGW_MAXLEN, "mlops http");
	for (int i = 0; i < mlops_http_workers; i++)
	{
		snprintf(worker.bgw_name, BGW_MAXLEN, "mlops http worker %d", i + 1);
		worker.bgw_main_arg = Int32GetDatum(i);
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * DefineStartupSettings registers the settings fixed at server start: the
 * port, the workers and the database.  PostgreSQL allows such settings only
 * while shared_preload_libraries load (a later LOAD would be FATAL), and the
 * service runs only then, so HttpInit defines them only then.
 */
static void
DefineStartupSettings(void)
{
	DefineCustomIntVariable("mlops.http_port",
							"TCP port of the HTTP inference service (0 = off).",
							"Needs mlops in shared_preload_libraries; takes effect at server start.",
							&mlops_http_port, 0, 0, 65535,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.http_workers",
							"Background workers serving HTTP requests (all bind the same port).",
							NULL,
							&mlops_http_workers, 2, 1, 64,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("mlops.http_database",
							   "Database the HTTP service connects to.",
							   NULL,
							   &mlops_http_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
}

/*
 * DefineListenerSettings registers what the listening sockets depend on and
 * is read again on reload: addresses, connection limit and TLS files (a
 * worker whose listener changed restarts itself).
 */
static void
DefineListenerSettings(void)
{
	DefineCustomStringVariable("mlops.http_listen_addresses",
							   "Comma-separated addresses the HTTP service listens on (* = all).",
							   NULL,
							   &mlops_http_listen_addresses, "127.0.0.1",
							   PGC_SIGHUP, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.http_max_connections",
							"Concurrent connections each HTTP worker accepts.",
							NULL,
							&mlops_http_max_connections, 256, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("mlops.http_tls_cert_file",
							   "PEM certificate of the HTTP service; with http_tls_key_file it serves HTTPS only.",
							   NULL,
							   &mlops_http_tls_cert_file, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("mlops.http_tls_key_file",
							   "PEM private key of the HTTP service.",
							   NULL,
							   &mlops_http_tls_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
}

/*
 * CheckJwtSecret refuses a non-empty secret shorter than 32 bytes (HS256
 * keys should be at least as long as the hash).
 */
static bool
CheckJwtSecret(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL && (*newval)[0] != '\0' && strlen(*newval) < 32)
	{
		GUC_check_errdetail("The secret must be at least 32 bytes long.");
		return false;
	}
	return true;
}
