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

#include "commands/trigger.h"
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

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mlops._registry_changed() must be called as a trigger")));

	relid = MlopsRelid("model_versions");
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	return PointerGetDatum(NULL);
}
