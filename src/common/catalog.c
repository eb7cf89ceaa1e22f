/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Where mlops' own objects are: the preload check, the mlops schema and
 *	  its relations.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "commands/trigger.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "common/common.h"

/* true when the library was loaded through shared_preload_libraries (set by _PG_init) */
bool		mlops_preloaded = false;

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

/*
 * MlopsRequireTrigger raises an ERROR unless the function name (as SQL
 * knows it, for the message) was called by the trigger manager; mlops'
 * statement triggers call it first.
 */
void
MlopsRequireTrigger(FunctionCallInfo fcinfo, const char *name)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be called as a trigger", name)));
}

/*
 * MlopsSchemaVersion returns the version of the mlops extension installed
 * in this database (pg_extension.extversion), or NULL when it is not
 * installed.  The library serves the version it was built for
 * (MLOPS_VERSION) and, for the entry points an older install script
 * declares, that older schema too, so a database keeps working between a
 * package upgrade and its ALTER EXTENSION mlops UPDATE.
 */
char *
MlopsSchemaVersion(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("mlops"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * MlopsSchemaIsCurrent returns whether the installed extension is the
 * version this library was built for (cached per command, see
 * schema_version.c).
 */
bool
MlopsSchemaIsCurrent(void)
{
	return MlopsSchemaStatus(NULL) == MLOPS_SCHEMA_CURRENT;
}

/*
 * MlopsRequireCurrentSchema raises a clear error when a capability of this
 * library's version is used on a database whose mlops schema is older.
 */
void
MlopsRequireCurrentSchema(const char *what)
{
	const char *version;

	if (MlopsSchemaStatus(&version) == MLOPS_SCHEMA_CURRENT)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s needs the mlops %s schema, but this database has %s", what, MLOPS_VERSION,
					version[0] ? version : "no mlops extension"),
			 errhint("Run ALTER EXTENSION mlops UPDATE in this database.")));
}

/*
 * MlopsPushCacheSnapshot makes the latest snapshot the active one for a
 * query whose result a per-backend cache keeps across statements (model
 * references, routes, input constraints).  The statement's own snapshot may
 * predate a commit whose invalidation this backend has just processed: a
 * cache filled from it would keep the old state until the next
 * invalidation.  A query under the latest snapshot, taken after the
 * invalidations were accepted, sees every change whose invalidation was
 * consumed, and a later commit invalidates again.  In parallel mode no new
 * snapshot can be taken; the statement's is used.  Pair with
 * PopActiveSnapshot() (an error's abort pops it as well).
 */
void
MlopsPushCacheSnapshot(void)
{
	PushActiveSnapshot(IsInParallelMode() || !ActiveSnapshotSet() ?
					   GetTransactionSnapshot() : GetLatestSnapshot());
}
