/*-------------------------------------------------------------------------
 *
 * http_shmem.c
 *	  The HTTP service's shared memory: request metrics for GET /metrics and
 *	  the rate-limit token buckets.
 *
 * Metrics are plain atomic counters (no lock): per route, per status (the
 * statuses the API uses, plus "other") and a latency histogram per route,
 * summed over every worker.  Buckets live in a shared hash keyed by the
 * credential (kind + key id or role name), guarded by one LWLock held only
 * for the arithmetic of one take.  When the hash is full, buckets that have
 * refilled to their burst are forgotten (such a bucket is the same as a new
 * one, so nothing is lost); if none is, the request is refused with 503.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "http/http.h"

#define HTTP_MAX_BUCKETS 10000
#define HTTP_MAX_WORKER_SLOTS 64

/* the statuses counted one by one; slot HTTP_STATUS_SLOTS - 1 is "other" */
static const int status_values[HTTP_STATUS_SLOTS - 1] =
{200, 400, 401, 403, 404, 405, 413, 415, 422, 429, 500, 503};

/* upper bounds of the latency buckets, ms; the last bucket is +Inf */
static const double latency_bounds[HTTP_LATENCY_BUCKETS - 1] =
{1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 5000};

typedef struct HttpRouteMetrics
{
	pg_atomic_uint64 status[HTTP_STATUS_SLOTS];
	pg_atomic_uint64 latency[HTTP_LATENCY_BUCKETS];
	pg_atomic_uint64 latency_sum_us;
} HttpRouteMetrics;

typedef struct HttpShared
{
	LWLock	   *lock;			/* guards the bucket hash */
	pg_atomic_uint32 ready[HTTP_MAX_WORKER_SLOTS];
	HttpRouteMetrics routes[HTTP_MAX_ROUTES + 1];	/* the last: no route */
} HttpShared;

typedef struct BucketKey
{
	char		kind;
	char		id[64];
} BucketKey;

typedef struct BucketEntry
{
	BucketKey	key;
	TokenBucket bucket;
	double		per_minute;
	double		burst;
} BucketEntry;

static HttpShared *http_shared = NULL;
static HTAB *bucket_hash = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void HttpShmemRequest(void);
static void HttpShmemStartup(void);
static int	ForgetFullBuckets(int64 now_us);

/*
 * HttpShmemRegister installs the shared memory hooks (called at preload).
 */
void
HttpShmemRegister(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = HttpShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = HttpShmemStartup;
}

/* HttpShmemRequest reserves the metrics, the bucket hash and the lock. */
static void
HttpShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(MAXALIGN(sizeof(HttpShared)),
									hash_estimate_size(HTTP_MAX_BUCKETS, sizeof(BucketEntry))));
	RequestNamedLWLockTranche("mlops http", 1);
}

/* HttpShmemStartup creates or attaches to the shared state. */
static void
HttpShmemStartup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	http_shared = ShmemInitStruct("mlops http", sizeof(HttpShared), &found);
	if (!found)
	{
		memset(http_shared, 0, sizeof(HttpShared));
		http_shared->lock = &(GetNamedLWLockTranche("mlops http"))->lock;
		for (int i = 0; i < HTTP_MAX_WORKER_SLOTS; i++)
			pg_atomic_init_u32(&http_shared->ready[i], 0);
		for (int r = 0; r <= HTTP_MAX_ROUTES; r++)
		{
			for (int s = 0; s < HTTP_STATUS_SLOTS; s++)
				pg_atomic_init_u64(&http_shared->routes[r].status[s], 0);
			for (int b = 0; b < HTTP_LATENCY_BUCKETS; b++)
				pg_atomic_init_u64(&http_shared->routes[r].latency[b], 0);
			pg_atomic_init_u64(&http_shared->routes[r].latency_sum_us, 0);
		}
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(BucketKey);
	info.entrysize = sizeof(BucketEntry);
	bucket_hash = ShmemInitHash("mlops http rate buckets", HTTP_MAX_BUCKETS, HTTP_MAX_BUCKETS,
								&info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * HttpMetricsRecord counts one answered request of a route (-1 = no route).
 */
void
HttpMetricsRecord(int route, int status, double ms)
{
	HttpRouteMetrics *m;
	int			s = HTTP_STATUS_SLOTS - 1;
	int			b = HTTP_LATENCY_BUCKETS - 1;

	if (http_shared == NULL)
		return;
	if (route < 0 || route >= HTTP_MAX_ROUTES)
		route = HTTP_MAX_ROUTES;
	m = &http_shared->routes[route];
	for (int i = 0; i < HTTP_STATUS_SLOTS - 1; i++)
		if (status_values[i] == status)
			s = i;
	for (int i = HTTP_LATENCY_BUCKETS - 2; i >= 0; i--)
		if (ms <= latency_bounds[i])
			b = i;
	pg_atomic_fetch_add_u64(&m->status[s], 1);
	pg_atomic_fetch_add_u64(&m->latency[b], 1);
	if (ms > 0 && ms < 1e9)
		pg_atomic_fetch_add_u64(&m->latency_sum_us, (uint64) (ms * 1000.0));
}

/*
 * HttpMetricsSetReady records whether worker number `worker` serves.
 */
void
HttpMetricsSetReady(int worker, bool ready)
{
	if (http_shared != NULL && worker >= 0 && worker < HTTP_MAX_WORKER_SLOTS)
		pg_atomic_write_u32(&http_shared->ready[worker], ready ? 1 : 0);
}

/*
 * HttpMetricsAppend writes the Prometheus text of the request metrics:
 * mlops_http_requests_total{route,status}, the latency histogram
 * mlops_http_request_duration_seconds{route} and mlops_http_workers_ready.
 */
void
HttpMetricsAppend(StringInfo out, const char *const *route_names, int nroutes)
{
	uint32		ready = 0;

	if (http_shared == NULL)
		return;
	appendStringInfoString(out, "# HELP mlops_http_requests_total HTTP requests answered, by route and status.\n"
						   "# TYPE mlops_http_requests_total counter\n");
	for (int r = 0; r <= nroutes; r++)
	{
		const char *name = r < nroutes ? route_names[r] : "none";
		HttpRouteMetrics *m = &http_shared->routes[r < nroutes ? r : HTTP_MAX_ROUTES];

		for (int s = 0; s < HTTP_STATUS_SLOTS; s++)
		{
			uint64		n = pg_atomic_read_u64(&m->status[s]);

			if (n == 0)
				continue;
			if (s < HTTP_STATUS_SLOTS - 1)
				appendStringInfo(out, "mlops_http_requests_total{route=\"%s\",status=\"%d\"} " UINT64_FORMAT "\n",
								 name, status_values[s], n);
			else
				appendStringInfo(out, "mlops_http_requests_total{route=\"%s\",status=\"other\"} " UINT64_FORMAT "\n",
								 name, n);
		}
	}
	appendStringInfoString(out, "# HELP mlops_http_request_duration_seconds Time to answer an HTTP request.\n"
						   "# TYPE mlops_http_request_duration_seconds histogram\n");
	for (int r = 0; r <= nroutes; r++)
	{
		const char *name = r < nroutes ? route_names[r] : "none";
		HttpRouteMetrics *m = &http_shared->routes[r < nroutes ? r : HTTP_MAX_ROUTES];
		uint64		cum = 0;

		for (int b = 0; b < HTTP_LATENCY_BUCKETS; b++)
		{
			cum += pg_atomic_read_u64(&m->latency[b]);
			if (b < HTTP_LATENCY_BUCKETS - 1)
				appendStringInfo(out, "mlops_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} " UINT64_FORMAT "\n",
								 name, latency_bounds[b] / 1000.0, cum);
			else
				appendStringInfo(out, "mlops_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} " UINT64_FORMAT "\n",
								 name, cum);
		}
		appendStringInfo(out, "mlops_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
						 name, pg_atomic_read_u64(&m->latency_sum_us) / 1e6);
		appendStringInfo(out, "mlops_http_request_duration_seconds_count{route=\"%s\"} " UINT64_FORMAT "\n",
						 name, cum);
	}
	for (int i = 0; i < HTTP_MAX_WORKER_SLOTS; i++)
		ready += pg_atomic_read_u32(&http_shared->ready[i]);
	appendStringInfo(out, "# HELP mlops_http_workers_ready HTTP workers serving requests.\n"
					 "# TYPE mlops_http_workers_ready gauge\nmlops_http_workers_ready %u\n", ready);
}

/*
 * HttpRateTake takes one token from the bucket of a credential (kind 'k'
 * API key, 'j' JWT role), creating a full one on first use.  It returns
 * false only when the bucket table is full of active buckets.
 */
bool
HttpRateTake(char kind, const char *id, double per_minute, double burst,
			 TokenBucketResult *result)
{
	BucketKey	key;
	BucketEntry *e;
	bool		found;
	int64		now_us = GetCurrentTimestamp();

	memset(&key, 0, sizeof(key));
	key.kind = kind;
	strlcpy(key.id, id, sizeof(key.id));
	LWLockAcquire(http_shared->lock, LW_EXCLUSIVE);
	e = hash_search(bucket_hash, &key, HASH_ENTER_NULL, &found);
	if (e == NULL && ForgetFullBuckets(now_us) > 0)
		e = hash_search(bucket_hash, &key, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		LWLockRelease(http_shared->lock);
		return false;
	}
	if (!found)
		TokenBucketInit(&e->bucket, burst, now_us);
	e->per_minute = per_minute;
	e->burst = burst;
	*result = TokenBucketTake(&e->bucket, per_minute, burst, now_us);
	LWLockRelease(http_shared->lock);
	return true;
}

/*
 * ForgetFullBuckets removes the buckets that have refilled to their burst
 * and returns how many.  Caller holds the lock exclusively.
 */
static int
ForgetFullBuckets(int64 now_us)
{
	HASH_SEQ_STATUS seq;
	BucketEntry *e;
	int			n = 0;

	hash_seq_init(&seq, bucket_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (TokenBucketIsFull(&e->bucket, e->per_minute, e->burst, now_us))
		{
			hash_search(bucket_hash, &e->key, HASH_REMOVE, NULL);
			n++;
		}
	}
	return n;
}
