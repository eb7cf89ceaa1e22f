/*-------------------------------------------------------------------------
 *
 * mlops.c
 *	  Library entry point and the few helpers every subsystem shares.
 *
 * _PG_init only delegates: each subsystem registers its settings, shared
 * memory requests, hooks and background workers in its own XxxInit().  No
 * XGBoost or jansson call may happen here: this code runs in the postmaster,
 * and libgomp's thread pool does not survive fork() (a child that later uses
 * XGBoost hangs), while jansson seeds its hash function on first use.
 *
 * How mlops writes its own tables as their owner is described in security.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "mlops.h"
#include "model_cache.h"
#include "prediction_stats.h"
#include "train.h"

#include "scheduler.h"

PG_MODULE_MAGIC;

bool		mlops_preloaded = false;

void		_PG_init(void);

/*
 * _PG_init registers every subsystem.  Settings are registered in any case
 * (so a session-level LOAD still knows them); shared memory and background
 * workers only when loaded through shared_preload_libraries.
 */
void
_PG_init(void)
{
	mlops_preloaded = process_shared_preload_libraries_in_progress;

	MlopsGucInit();
	MlopsSecurityInit();
	TrainInit();
	ModelCacheInit();
	PredictionStatsInit();

	SchedulerInit();
}

/*
 * MlopsRequirePreload raises a clear error when a capability that needs
 * shared memory or background workers is used without preloading.
 */
void
MlopsRequirePreload(const char *what)
{
	if (!mlops_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s requires mlops to be loaded via shared_preload_libraries", what),
				 errhint("Add 'mlops' to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * MlopsSchemaOid returns the OID of the mlops schema.
 */
Oid
MlopsSchemaOid(bool missing_ok)
{
	Oid			nspid = get_namespace_oid(MLOPS_SCHEMA, true);

	if (!OidIsValid(nspid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("schema \"%s\" does not exist", MLOPS_SCHEMA),
				 errhint("Run CREATE EXTENSION mlops in this database.")));
	return nspid;
}

/*
 * MlopsRelid returns the OID of the mlops-schema relation with this name,
 * or InvalidOid when it does not exist (for example during CREATE EXTENSION).
 */
Oid
MlopsRelid(const char *relname)
{
	Oid			nspid = MlopsSchemaOid(true);

	if (!OidIsValid(nspid))
		return InvalidOid;
	return get_relname_relid(relname, nspid);
}

