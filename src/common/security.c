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
 * The actor is a per-backend stack; PG_FINALLY keeps it balanced, and
 * because an owner section left by an ERROR that an EXCEPTION block or a
 * SAVEPOINT catches never reaches its MlopsEndOwner, the actor is also
 * saved at every subtransaction start and restored when that
 * subtransaction aborts (and forgotten when the transaction ends), like
 * PostgreSQL restores the user id itself.
 *
 * Ownership (docs/security.md): every mlops object has an owner role.
 * Changing or dropping it requires that the actor be a member of that role,
 * or of the extension owner's role (superusers are members of every role).
 * mlops._require_owner() raises the one error for that rule and
 * mlops._may_change() answers it as a boolean for filters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "parser/parse_func.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/memutils.h"
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

/*
 * The actor as it was when each open subtransaction started, innermost
 * last, so an abort can restore it.
 */
typedef struct ActorSave
{
	SubTransactionId subid;
	Oid			actor;
} ActorSave;

static ActorSave *actor_saves = NULL;
static int	n_actor_saves = 0;
static int	max_actor_saves = 0;

static void ResetActorAtEndOfXact(XactEvent event, void *arg);
static void RestoreActorAtSubXact(SubXactEvent event, SubTransactionId mySubid,
								  SubTransactionId parentSubid, void *arg);

PG_FUNCTION_INFO_V1(mlops_owner_trampoline);
PG_FUNCTION_INFO_V1(mlops_current_actor);
PG_FUNCTION_INFO_V1(mlops_require_owner);
PG_FUNCTION_INFO_V1(mlops_may_change);

/*
 * mlops_owner_trampoline calls mlops._impl_<name> with the arguments it
 * was given, remembering the calling role as the actor (unless mlops itself
 * calls it as the extension owner on behalf of an actor already known).
 * Set-returning implementations work too: they fill the caller's
 * ReturnSetInfo in materialize mode.
 */
Datum
mlops_owner_trampoline(PG_FUNCTION_ARGS)
{
	TrampolineCache *cache = (TrampolineCache *) fcinfo->flinfo->fn_extra;
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
	Oid			saved_actor = current_actor;
	MemoryContext callercxt = CurrentMemoryContext;
	Datum		result;
	int			i;

	if (cache == NULL)
	{
		Oid			impl = MlopsLookupImplFunction(fcinfo->flinfo->fn_oid, InvalidOid);

		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(TrampolineCache));
		fmgr_info_cxt(impl, &cache->impl, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cache;
	}

	/* a set-returning implementation fills the caller's ReturnSetInfo */
	InitFunctionCallInfoData(*inner, &cache->impl, fcinfo->nargs,
							 fcinfo->fncollation, NULL, fcinfo->resultinfo);
	for (i = 0; i < fcinfo->nargs; i++)
		inner->args[i] = fcinfo->args[i];

	/*
	 * Called by mlops' own code running as the extension owner (an owner
	 * section such as mlops.train's bookkeeping, or another implementation
	 * function), the actor is already the role that called mlops: keep it,
	 * or the audit log and the owner of what is created would name the
	 * extension owner instead.
	 */
	if (!OidIsValid(current_actor) || GetUserId() != MlopsExtensionOwner())
		current_actor = GetUserId();
	PG_TRY();
	{
		result = FunctionCallInvoke(inner);
	}
	PG_CATCH();
	{
		current_actor = saved_actor;
		/* a write refused by a hot standby: say which function and where to run it */
		if (geterrcode() == ERRCODE_READ_ONLY_SQL_TRANSACTION && RecoveryInProgress())
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(callercxt);
			edata = CopyErrorData();
			FlushErrorState();
			MlopsRaiseStandbyWrite(get_func_name(fcinfo->flinfo->fn_oid), edata->message);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	current_actor = saved_actor;

	fcinfo->isnull = inner->isnull;
	return result;
}

/*
 * MlopsRequireWritable raises the hot-standby error of
 * MlopsRaiseStandbyWrite when this server is in recovery: what (the name
 * of an mlops function) writes and cannot run here.
 */
void
MlopsRequireWritable(const char *what)
{
	if (RecoveryInProgress())
		MlopsRaiseStandbyWrite(what, NULL);
}

/*
 * MlopsRaiseStandbyWrite raises 25006 read_only_sql_transaction: the mlops
 * function what writes, so it cannot run on a hot standby; refusal is the
 * message of the write the server refused, if any; the hint says to run it
 * on the primary.
 */
void
MlopsRaiseStandbyWrite(const char *what, const char *refusal)
{
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("mlops.%s cannot run on a hot standby", what ? what : "function"),
			 refusal ? errdetail("The server is a standby in recovery and refused a write: %s.",
								 MlopsClip(refusal, MLOPS_ECHO_MAX)) :
			 errdetail("The server is a standby in recovery and accepts no writes."),
			 errhint("Run it on the primary server; a standby serves predictions, model_info and drift statistics.")));
}

/*
 * MlopsLookupImplFunction finds mlops._impl_<name> whose arguments are
 * those of the public function public_fn, followed by one argument of type
 * extra_type unless that is InvalidOid (the pipelines' resolved source).
 */
Oid
MlopsLookupImplFunction(Oid public_fn, Oid extra_type)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	Oid			argtypes[FUNC_MAX_ARGS];
	int			nargs;
	char	   *implname;
	List	   *names;
	Oid			impl;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(public_fn));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", public_fn);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	nargs = proc->pronargs;
	if (nargs + 1 > FUNC_MAX_ARGS)
		elog(ERROR, "function %u has too many arguments for an implementation", public_fn);
	memcpy(argtypes, proc->proargtypes.values, nargs * sizeof(Oid));
	if (OidIsValid(extra_type))
		argtypes[nargs++] = extra_type;
	implname = psprintf("_impl_%s", NameStr(proc->proname));
	ReleaseSysCache(tup);
	names = list_make2(makeString(MLOPS_SCHEMA), makeString(implname));
	impl = LookupFuncName(names, nargs, argtypes, true);

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
	PG_RETURN_DATUM(DirectFunctionCall1(namein,
										CStringGetDatum(GetUserNameFromId(MlopsActor(), false))));
}

/*
 * MlopsActor returns the role that called the outermost active mlops
 * function, or the current user when none is active.
 */
Oid
MlopsActor(void)
{
	return OidIsValid(current_actor) ? current_actor : GetUserId();
}

/*
 * MlopsMayChange returns whether the actor may change or drop an object
 * owned by owner: it is a member of owner or of the extension owner.
 */
bool
MlopsMayChange(Oid owner)
{
	Oid			actor = MlopsActor();

	return is_member_of_role(actor, owner) ||
		is_member_of_role(actor, MlopsExtensionOwner());
}

/*
 * MlopsRequireOwner raises insufficient_privilege unless the actor may
 * change the object of the given kind and name owned by owner.
 */
void
MlopsRequireOwner(const char *kind, const char *name, Oid owner)
{
	char	   *owner_name;

	if (MlopsMayChange(owner))
		return;
	owner_name = GetUserNameFromId(owner, true);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to change %s \"%s\"", kind, MlopsClip(name, MLOPS_ECHO_MAX)),
			 errdetail("The %s is owned by role \"%s\"; only its members and the extension owner may change it.",
					   kind, owner_name ? owner_name : "(dropped role)"),
			 errhint("Ask a member of \"%s\" to make the change, or to grant you membership, or to hand the %s over with mlops.set_owner().",
					 owner_name ? owner_name : "(dropped role)", kind)));
}

/*
 * mlops_require_owner is the SQL face of MlopsRequireOwner:
 * mlops._require_owner(kind text, name text, owner regrole).
 */
Datum
mlops_require_owner(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("kind, name and owner must not be null")));
	MlopsRequireOwner(text_to_cstring(PG_GETARG_TEXT_PP(0)),
					  text_to_cstring(PG_GETARG_TEXT_PP(1)),
					  PG_GETARG_OID(2));
	PG_RETURN_VOID();
}

/*
 * mlops_may_change is the SQL face of MlopsMayChange:
 * mlops._may_change(owner regrole); false for a NULL owner.
 */
Datum
mlops_may_change(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(MlopsMayChange(PG_GETARG_OID(0)));
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
 * MlopsBeginAuthor switches the current user to role, the author of SQL
 * stored earlier, to run that SQL now: as a restricted operation (no SET
 * ROLE, no temporary objects, as PostgreSQL refreshes a materialized view)
 * with the search_path stored with it.  The actor is unchanged.  It must be
 * paired with MlopsEndOwner; an ERROR in between restores the user and the
 * setting through (sub)transaction abort.
 */
void
MlopsBeginAuthor(MlopsOwnerSave *save, Oid role, const char *search_path)
{
	GetUserIdAndSecContext(&save->save_userid, &save->save_sec_context);
	save->save_actor = current_actor;
	SetUserIdAndSecContext(role, save->save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	save->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * MlopsEndOwner undoes MlopsBeginOwner or MlopsBeginAuthor.
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
	RegisterSubXactCallback(RestoreActorAtSubXact, NULL);
}

/*
 * ResetActorAtEndOfXact forgets the actor and the saved ones when a
 * transaction ends: no mlops function is active between transactions.
 */
static void
ResetActorAtEndOfXact(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
	{
		current_actor = InvalidOid;
		n_actor_saves = 0;
	}
}

/*
 * RestoreActorAtSubXact saves the actor when a subtransaction starts and
 * puts it back when that subtransaction aborts.
 */
static void
RestoreActorAtSubXact(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_START_SUB:
			if (n_actor_saves == max_actor_saves)
			{
				int			newmax = Max(16, max_actor_saves * 2);

				actor_saves = actor_saves == NULL
					? MemoryContextAlloc(TopMemoryContext, newmax * sizeof(ActorSave))
					: repalloc(actor_saves, newmax * sizeof(ActorSave));
				max_actor_saves = newmax;
			}
			actor_saves[n_actor_saves].subid = mySubid;
			actor_saves[n_actor_saves].actor = current_actor;
			n_actor_saves++;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
		case SUBXACT_EVENT_ABORT_SUB:
			/* subtransactions end innermost first */
			while (n_actor_saves > 0 && actor_saves[n_actor_saves - 1].subid >= mySubid)
			{
				n_actor_saves--;
				if (event == SUBXACT_EVENT_ABORT_SUB &&
					actor_saves[n_actor_saves].subid == mySubid)
					current_actor = actor_saves[n_actor_saves].actor;
			}
			break;
		default:
			break;
	}
}
