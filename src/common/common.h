/*-------------------------------------------------------------------------
 *
 * common.h
 *	  The face of src/common/: what every mlops subsystem may use.  The
 *	  preload check, catalog lookups, the helpers that switch to the
 *	  extension owner for writes to extension-managed tables, every setting
 *	  (guc.h), the one source resolver (source.h), the dataset reader and
 *	  feature encoding (dataset.h), model references (modelref.h) and the
 *	  pure metric accumulators (metrics.h, evalmetrics.h) and distribution
 *	  functions (distributions.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_COMMON_H
#define MLOPS_COMMON_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"

/* Name of the schema every mlops object lives in. */
#define MLOPS_SCHEMA "mlops"

/*
 * MlopsOwnerSave holds what MlopsBeginOwner or MlopsBeginAuthor replaced, so
 * MlopsEndOwner can restore it.
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
extern void MlopsBeginAuthor(MlopsOwnerSave *save, Oid role, const char *search_path);
extern void MlopsEndOwner(MlopsOwnerSave *save);
extern Oid	MlopsRelid(const char *relname);
extern void MlopsRequireTrigger(FunctionCallInfo fcinfo, const char *name);
extern void MlopsPushCacheSnapshot(void);
extern char *MlopsSchemaVersion(void);
extern bool MlopsSchemaIsCurrent(void);
extern void MlopsRequireCurrentSchema(const char *what);

/* how this library stands to the installed mlops schema (schema_version.c) */
typedef enum MlopsSchemaState
{
	MLOPS_SCHEMA_ABSENT,		/* no mlops extension in this database */
	MLOPS_SCHEMA_CURRENT,		/* the version this library was built for */
	MLOPS_SCHEMA_OLDER,			/* an earlier release this library still serves */
	MLOPS_SCHEMA_UNSUPPORTED	/* newer than this library, or unknown to it */
} MlopsSchemaState;

extern MlopsSchemaState MlopsSchemaStatus(const char **version);
extern char *MlopsServedVersions(void);
extern Oid	MlopsLookupImplFunction(Oid public_fn, Oid extra_type);
extern Oid	MlopsActor(void);
extern void MlopsRequireWritable(const char *what);
extern void MlopsRaiseStandbyWrite(const char *what, const char *refusal) pg_attribute_noreturn();
extern bool MlopsMayChange(Oid owner);
extern void MlopsRequireOwner(const char *kind, const char *name, Oid owner);

/* subsystem initialisation, called once from _PG_init */
extern void MlopsGucInit(void);
extern void MlopsGucReservePrefix(void);
extern void MlopsSecurityInit(void);
extern void MlopsSchemaVersionInit(void);

/* Bounded pieces of error messages (messages.c) */
#define MLOPS_LIST_MAX 20		/* items a message lists before "... and N more" */
#define MLOPS_ECHO_MAX 200		/* bytes of a user string a message echoes */

typedef struct MlopsList
{
	StringInfoData buf;
	int			max_items;
	int			shown;
	int			total;
} MlopsList;

extern const char *MlopsEllipsis(void);
extern char *MlopsClip(const char *s, int max_bytes);
extern void MlopsListInit(MlopsList *list, int max_items);
extern void MlopsListAdd(MlopsList *list, const char *fmt,...) pg_attribute_printf(2, 3);
extern char *MlopsListDone(MlopsList *list);
extern ErrorData *MlopsTryInSubxact(void (*fn) (void *arg), void *arg);

#include "common/guc.h"
#include "common/source.h"
#include "common/dataset.h"
#include "common/modelref.h"
#include "common/metrics.h"
#include "common/evalmetrics.h"
#include "common/distributions.h"

#endif							/* MLOPS_COMMON_H */
