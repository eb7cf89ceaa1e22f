/*-------------------------------------------------------------------------
 *
 * security.c
 *	  How mlops lets ordinary roles change extension-managed state without
 *	  being able to write its tables, while recording who really acted.
 *
 * Every table mlops manages is owned by the extension owner and nobody else
 * may write it.  State changes go through functions, in one of two ways:
 *
 * 1. SQL-visible functions whose logic is PL/pgSQL (tracking, registry,
 *    audit) are declared twice.  The public one, for example
 *    mlops.start_run(text, text, jsonb), is LANGUAGE C with the body
 *    mlops_owner_trampoline; the implementation, mlops._impl_start_run with
 *    the same argument types, is SECURITY DEFINER (search_path pinned) and
 *    not executable by anyone but the owner.  The trampoline remembers the
 *    calling role as the "actor", calls the implementation directly through
 *    fmgr (so EXECUTE on it is not needed by the caller) and forgets the
 *    actor again, even on error.  Granting EXECUTE on the public function
 *    is therefore the only privilege a role needs.
 *
 * 2. C code that runs user SQL (training on a user's query, drift over a
 *    user's table) does so as the calling role, and switches to the owner
 *    only around its own writes with MlopsBeginOwner/MlopsEndOwner, like
 *    PostgreSQL does while refreshing a materialized view.  Those helpers
 *    push the actor as well.
 *
 * mlops.current_actor() returns the innermost remembered actor, or
 * current_user outside any such section: the audit log records it, so a
 * SECURITY DEFINER implementation still logs the role that called it.
 * The actor is a per-backend stack; PG_FINALLY keeps it balanced.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "parser/parse_func.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "common/common.h"

/* innermost acting role; InvalidOid when no mlops function is active */
static Oid	current_actor = InvalidOid;

/* the cached target of one trampoline call site */
typedef struct TrampolineCache
{
	FmgrInfo	impl;
} TrampolineCache;

static void ResetActorAtEndOfXact(XactEvent event, void *arg);

PG_FUNCTION_INFO_V1(mlops_owner_trampoline);
PG_FUNCTION_INFO_V1(mlops_current_actor);

/*
 * mlops_owner_trampoline calls mlops._impl_<name> with the arguments it
 * was given, remembering the calling role as the actor.
 */
Datum
mlops_owner_trampoline(PG_FUNCTION_ARGS)
{
	TrampolineCache *cache = (TrampolineCache *) fcinfo->flinfo->fn_extra;
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
	Oid			saved_actor = current_actor;
	Datum		result;
	int			i;

	if (cache == NULL)
	{
		Oid			impl = MlopsLookupImplFunction(fcinfo->flinfo->fn_oid);

		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(TrampolineCache));
		fmgr_info_cxt(impl, &cache->impl, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cache;
	}

	InitFunctionCallInfoData(*inner, &cache->impl, fcinfo->nargs,
							 fcinfo->fncollation, NULL, NULL);
	for (i = 0; i < fcinfo->nargs; i++)
		inner->args[i] = fcinfo->args[i];

	current_actor = GetUserId();
	PG_TRY();
	{
		result = FunctionCallInvoke(inner);
	}
	PG_FINALLY();
	{
		current_actor = saved_actor;
	}
	PG_END_TRY();

	fcinfo->isnull = inner->isnull;
	return result;
}

/*
 * MlopsLookupImplFunction finds mlops._impl_<name> with the same argument
 * types as the public function public_fn.
 */
Oid
MlopsLookupImplFunction(Oid public_fn)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	char	   *implname;
	List	   *names;
	Oid			impl;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(public_fn));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", public_fn);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	implname = psprintf("_impl_%s", NameStr(proc->proname));
	names = list_make2(makeString(MLOPS_SCHEMA), makeString(implname));
	impl = LookupFuncName(names, proc->pronargs, proc->proargtypes.values, true);
	ReleaseSysCache(tup);

	if (!OidIsValid(impl))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("implementation function %s.%s does not exist", MLOPS_SCHEMA, implname),
				 errhint("The mlops installation is incomplete; run ALTER EXTENSION mlops UPDATE or reinstall it.")));
	return impl;
}

/*
 * mlops_current_actor returns the role that called the outermost active
 * mlops function, or current_user when none is active.
 */
Datum
mlops_current_actor(PG_FUNCTION_ARGS)
{
	Oid			actor = OidIsValid(current_actor) ? current_actor : GetUserId();

	PG_RETURN_DATUM(DirectFunctionCall1(namein,
										CStringGetDatum(GetUserNameFromId(actor, false))));
}

/*
 * MlopsExtensionOwner returns the role that owns the mlops schema, which is
 * the role that created the extension and owns its tables.
 */
Oid
MlopsExtensionOwner(void)
{
	Oid			nspid = MlopsSchemaOid(false);
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * MlopsBeginOwner switches the current user to the extension owner, with a
 * safe search_path, for writes to extension-managed tables, and remembers
 * the previous user as the actor.  It must be paired with MlopsEndOwner; an
 * ERROR in between restores the user through (sub)transaction abort, and
 * callers that catch errors must call MlopsEndOwner in PG_FINALLY.
 */
void
MlopsBeginOwner(MlopsOwnerSave *save)
{
	Oid			owner = MlopsExtensionOwner();

	GetUserIdAndSecContext(&save->save_userid, &save->save_sec_context);
	save->save_actor = current_actor;
	if (!OidIsValid(current_actor))
		current_actor = save->save_userid;
	SetUserIdAndSecContext(owner,
						   save->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	save->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * MlopsEndOwner undoes MlopsBeginOwner.
 */
void
MlopsEndOwner(MlopsOwnerSave *save)
{
	AtEOXact_GUC(false, save->save_nestlevel);
	SetUserIdAndSecContext(save->save_userid, save->save_sec_context);
	current_actor = save->save_actor;
}

/*
 * MlopsSecurityInit makes sure an error that aborts the transaction never
 * leaves a stale actor behind.
 */
void
MlopsSecurityInit(void)
{
	RegisterXactCallback(ResetActorAtEndOfXact, NULL);
}

/*
 * ResetActorAtEndOfXact forgets the actor when a transaction ends.
 */
static void
ResetActorAtEndOfXact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		current_actor = InvalidOid;
}
