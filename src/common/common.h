/*-------------------------------------------------------------------------
 *
 * common.h
 *	  The face of src/common/: what every mlops subsystem may use.  The
 *	  preload check, catalog lookups, the helpers that switch to the
 *	  extension owner for writes to extension-managed tables, every setting
 *	  (guc.h), the one source resolver (source.h), the dataset reader and
 *	  feature encoding (dataset.h), model references (modelref.h) and the
 *	  pure metric accumulators (metrics.h, evalmetrics.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_COMMON_H
#define MLOPS_COMMON_H

#include "postgres.h"

/* Name of the schema every mlops object lives in. */
#define MLOPS_SCHEMA "mlops"

/*
 * MlopsOwnerSave holds what MlopsBeginOwner replaced, so MlopsEndOwner can
 * restore it.
 */
typedef struct MlopsOwnerSave
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	Oid			save_actor;
} MlopsOwnerSave;

/* true when the library was loaded through shared_preload_libraries */
extern bool mlops_preloaded;

extern void MlopsRequirePreload(const char *what);
extern Oid	MlopsSchemaOid(bool missing_ok);
extern Oid	MlopsExtensionOwner(void);
extern void MlopsBeginOwner(MlopsOwnerSave *save);
extern void MlopsEndOwner(MlopsOwnerSave *save);
extern Oid	MlopsRelid(const char *relname);
extern char *MlopsSchemaVersion(void);
extern bool MlopsSchemaIsCurrent(void);
extern void MlopsRequireCurrentSchema(const char *what);
extern Oid	MlopsLookupImplFunction(Oid public_fn);
extern Oid	MlopsActor(void);
extern bool MlopsMayChange(Oid owner);
extern void MlopsRequireOwner(const char *kind, const char *name, Oid owner);
extern char *MlopsClip(const char *s, int max_chars);

/* subsystem initialisation, called once from _PG_init */
extern void MlopsGucInit(void);
extern void MlopsSecurityInit(void);

#include "common/guc.h"
#include "common/source.h"
#include "common/dataset.h"
#include "common/modelref.h"
#include "common/metrics.h"
#include "common/evalmetrics.h"

#endif							/* MLOPS_COMMON_H */
