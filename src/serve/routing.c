/*
 * routing.c
 *		Routing a bare model name between the versions of its deployment.
 *
 * Design
 * ------
 * A bare model name ('churn') means the Production version, unless the
 * model has an active production deployment (mlops.deployments, see
 * sql/install/50_deployments.sql): then
 *
 *   canary      a share of the calls goes to the candidate (to_version), the
 *               rest to the stable version (from_version); with a routing
 *               key by a hash of (key, deployment id), without one in exact
 *               proportion over this backend's calls (routing_hash.c);
 *   shadow      the stable version serves; the candidate predicts too, and
 *               the two outputs are compared in shared memory (never
 *               returned); mlops.deployment_status reports the agreement;
 *   blue_green  the stable version serves and the candidate is kept loaded,
 *               so promote_deployment's switch costs no load.
 *
 * References with a version, stage or alias ('churn/3', 'churn/Production',
 * 'churn@champion') never route.  predict_batch routes its instances as that
 * many keyless calls (RouteCalls), predict_table its rows by their ids
 * (RouteCanary).
 *
 * Cost: routes are cached per backend in route_map (model name -> the
 * active deployment, or "none"), so a model without a deployment costs one
 * hash lookup per call and no query.  The map is emptied by the same
 * relcache invalidation that empties the model cache's references
 * (registry.c): mlops.deployments has a statement trigger that queues it,
 * and PostgreSQL delivers it after commit.  Both versions of a deployment
 * stay in the model cache, looked up by their explicit references
 * ('churn/3'), so no call reloads a booster.
 *
 * Shadow comparisons live in a small shared array (SHADOW_SLOTS
 * deployments), each slot guarded by one spinlock: comparisons, agreements
 * (the same prediction within 1e-9 relative), shadow errors and the sum of
 * absolute differences.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "common/common.h"
#include "serve/routing_hash.h"
#include "serve/serve.h"

PG_FUNCTION_INFO_V1(mlops_shadow_stats);

/* Longest model name routed (mlops.models allows 128 characters) */
#define ROUTE_NAME_MAX 160
#define ROUTE_REF_MAX (ROUTE_NAME_MAX + 16)
/* Deployments whose shadow comparisons are kept in shared memory */
#define SHADOW_SLOTS 64

typedef struct RouteEntry
{
	char		name[ROUTE_NAME_MAX];	/* key */
	bool		routed;			/* an active production deployment */
	char		strategy;		/* 'c'anary, 's'hadow, 'b'lue_green */
	int64		deployment_id;
	TimestampTz created_at;		/* of the deployment */
	double		percent;
	uint64		calls;			/* keyless calls routed, for the exact split */
	char		stable_ref[ROUTE_REF_MAX];
	char		candidate_ref[ROUTE_REF_MAX];
} RouteEntry;

typedef struct ShadowSlot
{
	Oid			dboid;			/* deployment ids are per database ... */
	TimestampTz created_at;		/* ... and restart with the extension */
	int64		deployment_id;	/* 0: free */
	int64		comparisons;
	int64		agreements;
	int64		errors;
	double		sum_abs_diff;
} ShadowSlot;

typedef struct ShadowShared
{
	slock_t		mutex;
	ShadowSlot	slots[SHADOW_SLOTS];
} ShadowShared;

static HTAB *route_map = NULL;
static bool routes_stale = false;
static Oid	routes_relid = InvalidOid;
static ShadowShared *shadow_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void RoutingRelcacheCallback(Datum arg, Oid relid);
static void ShadowShmemRequest(void);
static void ShadowShmemStartup(void);
static RouteEntry *FindRoute(const char *name);
static RouteEntry *RoutedEntry(const char *ref, Route *route);
static CachedModel *StableModel(RouteEntry *entry, Route *route);
static void ReadRoute(RouteEntry *entry);
static CachedModel *ShadowModel(RouteEntry *entry, CachedModel *stable);

/*
 * RoutingInit registers the relcache callback that empties the route map,
 * and, when preloaded, the shared memory of the shadow comparisons.
 */
void
RoutingInit(void)
{
	CacheRegisterRelcacheCallback(RoutingRelcacheCallback, (Datum) 0);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ShadowShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ShadowShmemStartup;
}

/* ShadowShmemRequest reserves the shadow comparison slots. */
static void
ShadowShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(ShadowShared)));
}

/* ShadowShmemStartup attaches to (or creates) the shadow comparison slots. */
static void
ShadowShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shadow_shared = ShmemInitStruct("mlops shadow comparisons", sizeof(ShadowShared), &found);
	if (!found)
	{
		memset(shadow_shared, 0, sizeof(ShadowShared));
		SpinLockInit(&shadow_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * RoutingRelcacheCallback marks the route map stale when the registry or
 * the deployments changed (their triggers invalidate mlops.model_versions),
 * or on a full reset.  It only sets a flag.
 */
static void
RoutingRelcacheCallback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid || relid == routes_relid || !OidIsValid(routes_relid))
		routes_stale = true;
	if (relid == InvalidOid)
		routes_relid = InvalidOid;
}

/*
 * RouteModel returns the cached model that serves a call of ref with an
 * optional routing key (key NULL: none), and fills route with the
 * deployment, the variant and a shadow to compare.
 */
CachedModel *
RouteModel(const char *ref, const char *key, int keylen, Route *route)
{
	RouteEntry *entry = RoutedEntry(ref, route);
	bool		canary = false;

	if (entry == NULL)
		return ModelCacheGet(ref);
	if (entry->strategy == 'c')
	{
		if (key != NULL)
			canary = RouteKeyToCandidate(key, keylen, entry->deployment_id, entry->percent);
		else
			canary = RouteCallToCandidate(entry->calls++, entry->percent);
	}
	if (canary)
	{
		route->variant = ROUTE_CANARY;
		return ModelCacheGet(entry->candidate_ref);
	}
	return StableModel(entry, route);
}

/*
 * RouteCalls routes n calls of ref without a routing key at once
 * (predict_batch's rows), as n calls of RouteModel without a key would:
 * it returns the model serving the calls that stay on the stable side and
 * fills route (the deployment, a shadow to compare) and split.  With an
 * active canary, split->candidate is its candidate and call i (from 0)
 * goes to it when RouteCallToCandidate(split->first_call + i,
 * split->percent): the n calls take their places in this backend's exact
 * split.  split->candidate is NULL otherwise.
 */
CachedModel *
RouteCalls(const char *ref, uint64 n, Route *route, RouteSplit *split)
{
	RouteEntry *entry = RoutedEntry(ref, route);
	CachedModel *model;

	split->candidate = NULL;
	split->first_call = 0;
	split->percent = 0.0;
	if (entry == NULL)
		return ModelCacheGet(ref);
	model = StableModel(entry, route);
	if (entry->strategy == 'c')
	{
		split->candidate = ShadowModel(entry, model);
		split->first_call = entry->calls;
		split->percent = entry->percent;
		entry->calls += n;
	}
	return model;
}

/*
 * RoutedEntry returns the route of a bare model name with an active
 * deployment and fills route's deployment (the stable variant, no shadow
 * yet); NULL, with route filled as "not routed", for an explicit reference
 * or a model without one.
 */
static RouteEntry *
RoutedEntry(const char *ref, Route *route)
{
	RouteEntry *entry;

	route->deployment_id = 0;
	route->variant = ROUTE_STABLE;
	route->shadow = NULL;
	if (strchr(ref, '/') != NULL || strchr(ref, '@') != NULL || strlen(ref) >= ROUTE_NAME_MAX)
		return NULL;
	entry = FindRoute(ref);
	if (entry == NULL || !entry->routed)
		return NULL;
	route->deployment_id = entry->deployment_id;
	route->created_at = entry->created_at;
	return entry;
}

/*
 * StableModel returns the stable version of a routed deployment, keeping a
 * shadow's or a blue-green's candidate loaded too (and naming a shadow in
 * route, to be compared).
 */
static CachedModel *
StableModel(RouteEntry *entry, Route *route)
{
	CachedModel *model = ModelCacheGet(entry->stable_ref);

	if (entry->strategy == 's' || entry->strategy == 'b')
	{
		CachedModel *candidate = ShadowModel(entry, model);

		if (entry->strategy == 's')
			route->shadow = candidate;
	}
	return model;
}

/*
 * RouteCanary fills the stable and candidate models of the active canary a
 * bare model name routes through, its deployment id and share, and returns
 * true; false (nothing filled) when the name does not route to a canary.
 * predict_table uses it to route each row by its id.
 */
bool
RouteCanary(const char *ref, CachedModel **stable, CachedModel **candidate, int64 *deployment_id,
			double *percent)
{
	Route		route;
	RouteEntry *entry = RoutedEntry(ref, &route);

	if (entry == NULL || entry->strategy != 'c')
		return false;
	*stable = ModelCacheGet(entry->stable_ref);
	*candidate = ShadowModel(entry, *stable);
	*deployment_id = entry->deployment_id;
	*percent = entry->percent;
	return true;
}

/*
 * ShadowModel returns the candidate's cached model, loading it while the
 * stable one is pinned (so the load cannot evict it).
 */
static CachedModel *
ShadowModel(RouteEntry *entry, CachedModel *stable)
{
	CachedModel *volatile candidate = NULL;

	ModelCachePin(stable);
	PG_TRY();
	{
		candidate = ModelCacheGet(entry->candidate_ref);
	}
	PG_FINALLY();
	{
		ModelCacheUnpin(stable);
	}
	PG_END_TRY();
	return candidate;
}

/*
 * FindRoute returns the route of a model name, read from mlops.deployments
 * on the first call after an invalidation; NULL when the installed schema
 * has no deployments (0.1.0).
 */
static RouteEntry *
FindRoute(const char *name)
{
	RouteEntry *entry;
	bool		found;

	AcceptInvalidationMessages();
	if (route_map == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = ROUTE_NAME_MAX;
		ctl.entrysize = sizeof(RouteEntry);
		ctl.hcxt = TopMemoryContext;
		route_map = hash_create("mlops routes", 64, &ctl,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	if (routes_stale)
	{
		HASH_SEQ_STATUS status;
		RouteEntry *r;

		routes_stale = false;
		/* looked up again: DROP and CREATE EXTENSION make a new table */
		routes_relid = InvalidOid;
		hash_seq_init(&status, route_map);
		while ((r = hash_seq_search(&status)) != NULL)
			hash_search(route_map, r->name, HASH_REMOVE, NULL);
	}
	entry = hash_search(route_map, name, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;
	if (!MlopsSchemaIsCurrent())
		return NULL;
	if (!OidIsValid(routes_relid))
		routes_relid = MlopsRelid("model_versions");
	entry = hash_search(route_map, name, HASH_ENTER, &found);
	PG_TRY();
	{
		MlopsPushCacheSnapshot();
		ReadRoute(entry);
		PopActiveSnapshot();
	}
	PG_CATCH();
	{
		hash_search(route_map, name, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return entry;
}

/*
 * ReadRoute fills a route from the model's active production deployment,
 * read as the extension owner.
 */
static void
ReadRoute(RouteEntry *entry)
{
	MlopsOwnerSave save;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	entry->routed = false;
	entry->calls = 0;
	values[0] = CStringGetTextDatum(entry->name);
	MlopsBeginOwner(&save);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT id, from_version, to_version, strategy, percent, created_at"
							  "  FROM mlops._deployment_route($1)",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the deployment of model \"%s\"", entry->name);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int32		stable;
		char	   *strategy;

		entry->deployment_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		stable = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		if (!isnull)
		{
			strategy = SPI_getvalue(tup, desc, 4);
			entry->strategy = strcmp(strategy, "canary") == 0 ? 'c' :
				strcmp(strategy, "shadow") == 0 ? 's' : 'b';
			entry->percent = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
			entry->created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 6, &isnull));
			snprintf(entry->stable_ref, ROUTE_REF_MAX, "%s/%d", entry->name, stable);
			snprintf(entry->candidate_ref, ROUTE_REF_MAX, "%s/%d", entry->name,
					 DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull)));
			entry->routed = true;
		}
	}
	SPI_finish();
	MlopsEndOwner(&save);
}

/*
 * RouteRecordShadow adds one comparison of a shadow candidate's output with
 * the served one (or a shadow failure) to the deployment's shared slot.
 */
void
RouteRecordShadow(Route *route, double served, double shadow, bool failed)
{
	ShadowSlot *slot = NULL;
	ShadowSlot *oldest = NULL;

	if (shadow_shared == NULL || route->deployment_id == 0)
		return;
	SpinLockAcquire(&shadow_shared->mutex);
	for (int i = 0; i < SHADOW_SLOTS; i++)
	{
		ShadowSlot *s = &shadow_shared->slots[i];

		if (s->deployment_id == route->deployment_id && s->dboid == MyDatabaseId &&
			s->created_at == route->created_at)
		{
			slot = s;
			break;
		}
		/* a free slot, else the one of the oldest deployment */
		if (oldest == NULL || (oldest->deployment_id != 0 &&
							   (s->deployment_id == 0 || s->created_at < oldest->created_at)))
			oldest = s;
	}
	if (slot == NULL)
	{
		slot = oldest;
		memset(slot, 0, sizeof(ShadowSlot));
		slot->deployment_id = route->deployment_id;
		slot->dboid = MyDatabaseId;
		slot->created_at = route->created_at;
	}
	if (failed)
		slot->errors++;
	else
	{
		double		diff = fabs(served - shadow);

		slot->comparisons++;
		if (diff <= 1e-9 * Max(1.0, fabs(served)))
			slot->agreements++;
		if (isfinite(diff))
			slot->sum_abs_diff += diff;
	}
	SpinLockRelease(&shadow_shared->mutex);
}

/*
 * mlops_shadow_stats implements mlops._shadow_stats(): the shadow
 * comparisons of this database's deployments kept in shared memory
 * (deployment_id, created_at, comparisons, agreements, errors,
 * mean_abs_diff).
 */
Datum
mlops_shadow_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ShadowSlot	copy[SHADOW_SLOTS];

	InitMaterializedSRF(fcinfo, 0);
	if (shadow_shared == NULL)
		return (Datum) 0;
	SpinLockAcquire(&shadow_shared->mutex);
	memcpy(copy, shadow_shared->slots, sizeof(copy));
	SpinLockRelease(&shadow_shared->mutex);
	for (int i = 0; i < SHADOW_SLOTS; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		if (copy[i].deployment_id == 0 || copy[i].dboid != MyDatabaseId)
			continue;
		values[0] = Int64GetDatum(copy[i].deployment_id);
		values[1] = TimestampTzGetDatum(copy[i].created_at);
		values[2] = Int64GetDatum(copy[i].comparisons);
		values[3] = Int64GetDatum(copy[i].agreements);
		values[4] = Int64GetDatum(copy[i].errors);
		values[5] = Float8GetDatum(copy[i].comparisons > 0 ?
								   copy[i].sum_abs_diff / copy[i].comparisons : 0.0);
		nulls[5] = copy[i].comparisons == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
