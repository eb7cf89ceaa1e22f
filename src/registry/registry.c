/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  Telling every backend's model cache that the registry changed.
 *
 * Invalidation: statement triggers on mlops.models, mlops.model_versions and
 * mlops.model_aliases call mlops_registry_changed, which queues a relcache
 * invalidation of mlops.model_versions.  PostgreSQL delivers it to every
 * backend when (and only if) the transaction commits, so a cache that
 * registers a relcache callback for that relation drops stale entries
 * before its next prediction, with no polling.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/inval.h"

#include "registry/registry.h"

PG_FUNCTION_INFO_V1(mlops_registry_changed);

/*
 * mlops_registry_changed is the statement trigger that queues the
 * invalidation of every backend's model cache.
 */
Datum
mlops_registry_changed(PG_FUNCTION_ARGS)
{
	Oid			relid;

	MlopsRequireTrigger(fcinfo, "mlops._registry_changed()");

	relid = MlopsRelid("model_versions");
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	return PointerGetDatum(NULL);
}
