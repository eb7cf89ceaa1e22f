/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Where mlops' own objects are: the preload check, the mlops schema and
 *	  its relations.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"

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

