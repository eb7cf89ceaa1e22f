/*-------------------------------------------------------------------------
 *
 * http_worker.c
 *	  The HTTP service's background worker: listening sockets, the
 *	  libmicrohttpd daemons and the worker's event loop.
 *
 * Design
 * ------
 * mlops.http_workers workers are registered at preload (http_init.c).  Each
 * connects to mlops.http_database as the bootstrap superuser, creates its own
 * listening socket(s) with SO_REUSEPORT on mlops.http_port (one per address
 * of mlops.http_listen_addresses; the kernel spreads connections over the
 * workers) and hands each to a libmicrohttpd daemon started in external
 * event loop mode with epoll (MHD_USE_EPOLL without an internal thread).
 * The worker's loop waits on one WaitEventSet holding its latch, postmaster
 * death and each daemon's epoll descriptor, for at most what MHD_get_timeout
 * allows, then calls MHD_run.  So libmicrohttpd never starts a thread and
 * every request is handled on the worker's main thread (SPI, memory
 * contexts and error handling are not thread-safe) by http_request.c.
 *
 * Limits are libmicrohttpd's: mlops.http_max_connections per worker
 * (MHD_OPTION_CONNECTION_LIMIT), 64 kB of connection memory for the request
 * line and headers (MHD_OPTION_CONNECTION_MEMORY_LIMIT), an idle/slow
 * connection timeout (MHD_OPTION_CONNECTION_TIMEOUT, mlops.http_request_
 * timeout_ms rounded up to seconds); bodies are bounded by
 * mlops.http_max_body_kb in http_request.c.  A request's own work is bounded
 * by the statement timeout armed around it.
 *
 * Signals: SIGTERM terminates (die), SIGINT cancels the running request
 * (the statement timeout uses it), SIGHUP reloads the configuration; when a
 * setting the listener depends on changed (addresses, connection limit, TLS
 * files, timeout), the worker exits with code 1 and the postmaster starts it
 * again a second later (bgw_restart_time), as it does after a crash.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "common/common.h"
#include "http/http.h"
#include "http/http_int.h"

#define HTTP_MAX_LISTENERS 8
#define HTTP_CONNECTION_MEMORY (64 * 1024)

static struct MHD_Daemon *daemons[HTTP_MAX_LISTENERS];
static int	ndaemons = 0;
static char *listener_signature = NULL;
static int	worker_number = 0;
static bool worker_tls = false;

static void StartListeners(void);
static int	OpenListenSocket(const char *host);
static struct MHD_Daemon *StartDaemon(int fd, const char *cert, const char *key);
static char *ReadPemFile(const char *path, const char *what);
static char *ListenerSignature(void);
static void StopDaemons(int code, Datum arg);
static void MhdLogger(void *cls, const char *fmt, va_list ap);
static long WaitTimeout(void);

/*
 * MlopsHttpWorkerMain is the worker's entry point: connect, listen, serve
 * until SIGTERM.
 */
void
MlopsHttpWorkerMain(Datum arg)
{
	WaitEventSet *set;

	worker_number = DatumGetInt32(arg);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	pqsignal(SIGINT, StatementCancelHandler);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(mlops_http_database, NULL, 0);
	pgstat_report_appname("mlops http");

	before_shmem_exit(StopDaemons, (Datum) 0);
	StartListeners();
	HttpMetricsSetReady(worker_number, true);

	set = CreateWaitEventSet(TopMemoryContext, 2 + ndaemons);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < ndaemons; i++)
	{
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemons[i], MHD_DAEMON_INFO_EPOLL_FD);

		AddWaitEventToSet(set, WL_SOCKET_READABLE, info->epoll_fd, NULL, NULL);
	}

	for (;;)
	{
		WaitEvent	events[HTTP_MAX_LISTENERS + 2];

		(void) WaitEventSetWait(set, WaitTimeout(), events, lengthof(events), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (strcmp(ListenerSignature(), listener_signature) != 0)
			{
				ereport(LOG,
						(errmsg("mlops http worker %d restarts to apply new listener settings",
								worker_number + 1)));
				proc_exit(1);
			}
		}
		for (int i = 0; i < ndaemons; i++)
			MHD_run(daemons[i]);
		HttpAuthFlushRefusals(false);
	}
}

/*
 * WaitTimeout returns how long the loop may sleep: what libmicrohttpd asks
 * for, at most one second (the refused-credential audit flushes then).
 */
static long
WaitTimeout(void)
{
	long		timeout = 1000;

	for (int i = 0; i < ndaemons; i++)
	{
		MHD_UNSIGNED_LONG_LONG t;

		if (MHD_get_timeout(daemons[i], &t) == MHD_YES && (long) t < timeout)
			timeout = (long) t;
	}
	return timeout;
}

/*
 * StartListeners opens one socket per listen address and starts a daemon on
 * each.  Any failure is FATAL: the postmaster retries a second later.
 */
static void
StartListeners(void)
{
	List	   *addrs;
	char	   *raw = pstrdup(mlops_http_listen_addresses);
	ListCell   *lc;
	char	   *cert = NULL;
	char	   *key = NULL;
	bool		tls = mlops_http_tls_cert_file[0] != '\0' || mlops_http_tls_key_file[0] != '\0';
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	listener_signature = ListenerSignature();
	if (tls)
	{
		if (mlops_http_tls_cert_file[0] == '\0' || mlops_http_tls_key_file[0] == '\0')
			ereport(FATAL,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("mlops.http_tls_cert_file and mlops.http_tls_key_file must be set together")));
		cert = ReadPemFile(mlops_http_tls_cert_file, "certificate");
		key = ReadPemFile(mlops_http_tls_key_file, "private key");
	}
	MemoryContextSwitchTo(old);
	worker_tls = tls;
	if (!SplitGUCList(raw, ',', &addrs) || list_length(addrs) == 0 ||
		list_length(addrs) > HTTP_MAX_LISTENERS)
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid mlops.http_listen_addresses %s",
						quote_literal_cstr(MlopsClip(mlops_http_listen_addresses, MLOPS_ECHO_MAX))),
				 errhint("List 1 to %d addresses, separated by commas.", HTTP_MAX_LISTENERS)));
	foreach(lc, addrs)
	{
		const char *host = (const char *) lfirst(lc);
		int			fd = OpenListenSocket(strcmp(host, "*") == 0 ? NULL : host);

		daemons[ndaemons] = StartDaemon(fd, cert, key);
		ndaemons++;
	}
	ereport(LOG,
			(errmsg("mlops http worker %d listening on port %d (%s%s)", worker_number + 1,
					mlops_http_port, MlopsClip(mlops_http_listen_addresses, MLOPS_ECHO_MAX),
					tls ? ", TLS" : "")));
}

/*
 * OpenListenSocket binds a listening socket with SO_REUSEPORT to the port on
 * one address (NULL = every address) and returns it.
 */
static int
OpenListenSocket(const char *host)
{
	struct addrinfo hints;
	struct addrinfo *res;
	char		port[16];
	int			rc;
	int			fd;
	int			one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", mlops_http_port);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		ereport(FATAL,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not resolve HTTP listen address %s: %s",
						quote_literal_cstr(MlopsClip(host ? host : "*", MLOPS_ECHO_MAX)), gai_strerror(rc))));
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0 ||
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
		bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
		listen(fd, 128) < 0)
		ereport(FATAL,
				(errcode_for_socket_access(),
				 errmsg("could not listen for HTTP on %s port %d: %m",
						MlopsClip(host ? host : "*", MLOPS_ECHO_MAX), mlops_http_port)));
	freeaddrinfo(res);
	return fd;
}

/*
 * StartDaemon starts a libmicrohttpd daemon in external epoll mode on a
 * listening socket, with TLS when cert and key are given.
 */
static struct MHD_Daemon *
StartDaemon(int fd, const char *cert, const char *key)
{
	struct MHD_Daemon *d;
	unsigned int flags = MHD_USE_EPOLL | (cert ? MHD_USE_TLS : 0);
	unsigned int timeout_s = (unsigned int) ((mlops_http_request_timeout_ms + 999) / 1000);

	if (cert)
		d = MHD_start_daemon(flags, 0, NULL, NULL, HttpAccessHandler, NULL,
							 MHD_OPTION_LISTEN_SOCKET, fd,
							 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) mlops_http_max_connections,
							 MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
							 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTP_CONNECTION_MEMORY,
							 MHD_OPTION_NOTIFY_COMPLETED, HttpRequestCompleted, NULL,
							 MHD_OPTION_EXTERNAL_LOGGER, MhdLogger, NULL,
							 MHD_OPTION_HTTPS_MEM_CERT, cert,
							 MHD_OPTION_HTTPS_MEM_KEY, key,
							 MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, HttpAccessHandler, NULL,
							 MHD_OPTION_LISTEN_SOCKET, fd,
							 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) mlops_http_max_connections,
							 MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
							 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTP_CONNECTION_MEMORY,
							 MHD_OPTION_NOTIFY_COMPLETED, HttpRequestCompleted, NULL,
							 MHD_OPTION_EXTERNAL_LOGGER, MhdLogger, NULL,
							 MHD_OPTION_END);
	if (d == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not start the HTTP daemon on port %d", mlops_http_port),
				 errhint("With TLS, check that mlops.http_tls_cert_file and mlops.http_tls_key_file hold a matching PEM certificate and key.")));
	return d;
}

/*
 * ReadPemFile reads a whole PEM file (at most 1 MB) as a string.
 */
static char *
ReadPemFile(const char *path, const char *what)
{
	FILE	   *f = AllocateFile(path, "r");
	StringInfoData buf;
	char		chunk[8192];
	size_t		n;

	if (f == NULL)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not open HTTP TLS %s file \"%s\": %m", what, MlopsClip(path, MLOPS_ECHO_MAX))));
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
	{
		if (buf.len + n > 1024 * 1024)
			ereport(FATAL,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("HTTP TLS %s file \"%s\" is larger than 1 MB", what, MlopsClip(path, MLOPS_ECHO_MAX))));
		appendBinaryStringInfo(&buf, chunk, n);
	}
	FreeFile(f);
	return buf.data;
}

/*
 * ListenerSignature returns the settings the listener was built from, as
 * one string, so a reload can tell whether they changed.
 */
static char *
ListenerSignature(void)
{
	return MemoryContextStrdup(TopMemoryContext,
							   psprintf("%s|%d|%d|%s|%s", mlops_http_listen_addresses,
										mlops_http_max_connections, (mlops_http_request_timeout_ms + 999) / 1000,
										mlops_http_tls_cert_file, mlops_http_tls_key_file));
}

/*
 * StopDaemons stops the daemons at exit and says the worker no longer serves.
 */
static void
StopDaemons(int code, Datum arg)
{
	HttpMetricsSetReady(worker_number, false);
	for (int i = 0; i < ndaemons; i++)
		MHD_stop_daemon(daemons[i]);
	ndaemons = 0;
}

/*
 * MhdLogger sends libmicrohttpd's own messages to the server log.
 */
static void
MhdLogger(void *cls, const char *fmt, va_list ap)
{
	char		msg[512];
	size_t		len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	ereport(LOG, (errmsg("mlops http: %s", msg)));
}

/*
 * HttpWorkerNumber returns this worker's number (0-based).
 */
int
HttpWorkerNumber(void)
{
	return worker_number;
}

/*
 * HttpWorkerTls says whether this worker serves HTTPS.
 */
bool
HttpWorkerTls(void)
{
	return worker_tls;
}
