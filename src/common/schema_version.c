/*-------------------------------------------------------------------------
 *
 * schema_version.c
 *	  Which mlops schema this library serves, checked where every C entry
 *	  point passes.
 *
 * A database's mlops SQL objects (pg_extension.extversion, written by
 * CREATE or ALTER EXTENSION) and the loaded library (MLOPS_VERSION, set by
 * the Makefile) come from two installs that need not agree: a package
 * upgrade replaces mlops.so at once, each database's ALTER EXTENSION mlops
 * UPDATE comes later, and a package downgrade or a restored dump can leave
 * SQL objects newer than the library.  The policy (CONTRIBUTING.md,
 * "Versions and upgrades"):
 *
 *	- the same version: served;
 *	- an older version whose install script this library still serves
 *	  (served_older below): served, keeping that version's behaviour where
 *	  callers ask MlopsSchemaIsCurrent(), with one WARNING per backend whose
 *	  hint is to run ALTER EXTENSION mlops UPDATE;
 *	- anything else (the SQL objects of a newer library, or a version this
 *	  library never heard of): every C entry point refuses with 55000, since
 *	  the functions' C symbols, argument lists or tables may not be what this
 *	  library expects.
 *
 * Where the check runs: PostgreSQL's function manager hook.  needs_fmgr_hook
 * answers yes for the C-language functions of the mlops schema (except
 * mlops.version(), which must answer in every state), so the function
 * manager routes their calls through fmgr_security_definer, which calls
 * fmgr_hook before each call.  No entry point has to remember a check, and
 * one added later is covered too.  needs_fmgr_hook runs once per call site
 * (fmgr_info), not per call.
 *
 * Cost per call: the verdict is cached per backend and read again from
 * pg_extension only when it may have changed (SchemaMayHaveChanged):
 *	- in the transaction it was read in, at the next command (an ALTER
 *	  EXTENSION or an UPDATE of pg_extension advances the command id);
 *	- in a transaction that has written anything (it may have changed
 *	  pg_extension), at every command;
 *	- after this backend committed a transaction that wrote anything;
 *	- after this backend received any shared invalidation message: CREATE,
 *	  ALTER ... UPDATE and DROP EXTENSION create, change or drop the
 *	  extension's objects, whose catalog rows send them.
 * A read-only transaction of a busy server (one-row serving: one statement,
 * one transaction) thus compares a few integers instead of scanning
 * pg_extension, which cost about as much as the prediction.  What no longer
 * shows at once: a raw UPDATE of pg_extension in another session (pg_extension
 * has no catalog cache, so it sends no invalidation); it shows at the next
 * invalidation this backend receives, and a new session sees it at once.  The first call of a
 * backend that loads the library on demand (no shared_preload_libraries)
 * is not checked: its function lookup happened before the library was
 * loaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "storage/proc.h"
#include "storage/sinval.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/syscache.h"

#include "common/common.h"

/*
 * The earlier releases whose install scripts this library still serves
 * (their C symbols are all still exported).  When EXTVERSION moves on, the
 * release it leaves joins this list.
 */
static const char *const served_older[] = {"0.1.0"};

/* the SQL-visible symbol that answers in every state */
#define VERSION_SYMBOL "mlops_version"

/* private values fmgr_security_definer keeps for us per call site */
#define HOOK_UNKNOWN	0
#define HOOK_NOT_OURS	1
#define HOOK_OURS		2

/* the cached verdict and when it was computed */
static MlopsSchemaState cached_state = MLOPS_SCHEMA_ABSENT;
static char cached_version[NAMEDATALEN];
static LocalTransactionId cached_lxid = InvalidLocalTransactionId;
static CommandId cached_cid = InvalidCommandId;
static uint64 cached_inval_count = 0;
static bool cached_valid = false;
static bool own_write_committed = false;
static bool older_warned = false;

static needs_fmgr_hook_type prev_needs_fmgr_hook = NULL;
static fmgr_hook_type prev_fmgr_hook = NULL;

static bool MlopsNeedsFmgrHook(Oid fn_oid);
static void MlopsFmgrHook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private);
static bool IsGuardedFunction(Oid fn_oid);
static void CheckServedSchema(void);
static bool SchemaMayHaveChanged(LocalTransactionId lxid, CommandId cid);
static void NoteOwnWrites(XactEvent event, void *arg);

/*
 * MlopsSchemaVersionInit installs the function manager hooks that check
 * the installed schema before each call of an mlops C function.
 */
void
MlopsSchemaVersionInit(void)
{
	prev_needs_fmgr_hook = needs_fmgr_hook;
	needs_fmgr_hook = MlopsNeedsFmgrHook;
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = MlopsFmgrHook;
	RegisterXactCallback(NoteOwnWrites, NULL);
}

/*
 * NoteOwnWrites remembers that this backend is committing a transaction
 * that wrote (and so may have changed pg_extension): the next check reads
 * it again.
 */
static void
NoteOwnWrites(XactEvent event, void *arg)
{
	(void) arg;
	if ((event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT ||
		 event == XACT_EVENT_PRE_PREPARE) &&
		TransactionIdIsValid(GetTopTransactionIdIfAny()))
		own_write_committed = true;
}

/*
 * SchemaMayHaveChanged returns whether pg_extension may have changed since
 * the cached verdict was read, for a check in local transaction lxid at
 * command cid (see the file header).
 */
static bool
SchemaMayHaveChanged(LocalTransactionId lxid, CommandId cid)
{
	if (!cached_valid || lxid == InvalidLocalTransactionId)
		return true;
	if (lxid == cached_lxid)
		return cid != cached_cid;
	return own_write_committed ||
		SharedInvalidMessageCounter != cached_inval_count ||
		TransactionIdIsValid(GetTopTransactionIdIfAny());
}

/*
 * MlopsSchemaStatus returns how this library stands to the mlops
 * extension installed in the current database, and (when version is not
 * NULL) that extension's version, "" when it is not installed.  The answer
 * is cached for the current command.
 */
MlopsSchemaState
MlopsSchemaStatus(const char **version)
{
	LocalTransactionId lxid = MyProc ? MyProc->lxid : InvalidLocalTransactionId;
	CommandId	cid = IsTransactionState() ? GetCurrentCommandId(false) : InvalidCommandId;

	if (SchemaMayHaveChanged(lxid, cid))
	{
		char	   *installed;

		own_write_committed = false;
		cached_inval_count = SharedInvalidMessageCounter;
		installed = MlopsSchemaVersion();

		if (installed == NULL)
			cached_state = MLOPS_SCHEMA_ABSENT;
		else if (strcmp(installed, MLOPS_VERSION) == 0)
			cached_state = MLOPS_SCHEMA_CURRENT;
		else
		{
			cached_state = MLOPS_SCHEMA_UNSUPPORTED;
			for (size_t i = 0; i < lengthof(served_older); i++)
				if (strcmp(installed, served_older[i]) == 0)
					cached_state = MLOPS_SCHEMA_OLDER;
		}
		strlcpy(cached_version, installed ? installed : "", sizeof(cached_version));
		if (installed)
			pfree(installed);
		cached_lxid = lxid;
		cached_cid = cid;
		cached_valid = true;
	}
	if (version)
		*version = cached_version;
	return cached_state;
}

/*
 * MlopsServedVersions returns the versions of the mlops schema this
 * library serves, oldest first, as a JSON array.
 */
char *
MlopsServedVersions(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (size_t i = 0; i < lengthof(served_older); i++)
	{
		escape_json(&buf, served_older[i]);
		appendStringInfoString(&buf, ", ");
	}
	escape_json(&buf, MLOPS_VERSION);
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * MlopsNeedsFmgrHook tells the function manager to route calls of the
 * guarded functions through fmgr_hook.
 */
static bool
MlopsNeedsFmgrHook(Oid fn_oid)
{
	if (prev_needs_fmgr_hook && prev_needs_fmgr_hook(fn_oid))
		return true;
	return IsGuardedFunction(fn_oid);
}

/*
 * MlopsFmgrHook checks the installed schema before each call of a guarded
 * function.  *private remembers, per call site, whether the function is
 * one of ours (fmgr_security_definer also calls the hook for every other
 * SECURITY DEFINER function); when another module's hook shares it, the
 * catalog is asked each time instead.
 */
static void
MlopsFmgrHook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	if (prev_fmgr_hook)
		prev_fmgr_hook(event, flinfo, private);
	if (event != FHET_START)
		return;
	if (prev_fmgr_hook)
	{
		if (!IsGuardedFunction(flinfo->fn_oid))
			return;
	}
	else
	{
		if (DatumGetInt32(*private) == HOOK_UNKNOWN)
			*private = Int32GetDatum(IsGuardedFunction(flinfo->fn_oid) ? HOOK_OURS : HOOK_NOT_OURS);
		if (DatumGetInt32(*private) != HOOK_OURS)
			return;
	}
	CheckServedSchema();
}

/*
 * IsGuardedFunction returns whether a function is a C function of the
 * mlops schema other than mlops.version().
 */
static bool
IsGuardedFunction(Oid fn_oid)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	bool		guarded = false;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(tup))
		return false;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->prolang == ClanguageId && OidIsValid(proc->pronamespace) &&
		proc->pronamespace == MlopsSchemaOid(true))
	{
		bool		isnull;
		Datum		src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);

		if (isnull)
			guarded = true;
		else
		{
			char	   *symbol = TextDatumGetCString(src);

			guarded = strcmp(symbol, VERSION_SYMBOL) != 0;
			pfree(symbol);
		}
	}
	ReleaseSysCache(tup);
	return guarded;
}

/*
 * CheckServedSchema refuses to run with SQL objects this library does not
 * serve, and warns once per backend when it serves an older schema.
 */
static void
CheckServedSchema(void)
{
	const char *version;

	switch (MlopsSchemaStatus(&version))
	{
		case MLOPS_SCHEMA_ABSENT:
		case MLOPS_SCHEMA_CURRENT:
			return;
		case MLOPS_SCHEMA_OLDER:
			if (older_warned || IsParallelWorker())
				return;
			older_warned = true;
			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg("the mlops library %s is serving the older mlops %s schema of this database",
							MLOPS_VERSION, version),
					 errdetail("What %s added is unavailable until the update.", MLOPS_VERSION),
					 errhint("Run ALTER EXTENSION mlops UPDATE in this database.")));
			return;
		case MLOPS_SCHEMA_UNSUPPORTED:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the mlops library %s cannot serve the mlops %s schema of this database",
							MLOPS_VERSION, MlopsClip(version, MLOPS_ECHO_MAX)),
					 errdetail("This library serves the schema versions %s; the installed SQL objects are newer or unknown to it.",
							   MlopsServedVersions()),
					 errhint("Install the mlops library of version %s (package postgresql-15-mlops) and restart the server; ALTER EXTENSION mlops UPDATE cannot go back to an earlier version.",
							 MlopsClip(version, MLOPS_ECHO_MAX))));
	}
}
