/*
 * jobs.c
 *	  C pieces of the job SQL API (the API itself is PL/pgSQL in
 *	  sql/install/70_scheduler.sql): schedule validation, command checks,
 *	  the database stamp of a job and the trigger that tells the scheduler
 *	  its jobs changed.
 *
 * Command checks: a command must parse, must not control transactions or
 * run VACUUM, and (unless the caller passes validate => false) must
 * parse-analyse, and be rewritten, as the role that will run it, with the
 * search_path a session of that role starts with.  Nothing is executed:
 * parse analysis resolves names, types and functions and takes the locks a
 * query would take, nothing more.  Statements are analysed in order up to
 * the first one that may create or change what the next ones use (CREATE
 * TABLE, DO, SELECT INTO, SET ...).  An analysis error is re-thrown with its own SQLSTATE
 * and message, a DETAIL naming the job and the role, and the position as an
 * internal query position (it points into the command, not into the
 * statement that called mlops.schedule).
 *
 * The database stamp (mlops._database_oid(), mlops._system_identifier())
 * records where a job was created; the scheduler pauses jobs whose stamp is
 * not its own database's (copies made by pg_dump or CREATE DATABASE ...
 * TEMPLATE), see scheduler_db.c.
 *
 * Invalidation: the statement trigger on mlops.jobs queues a relcache
 * invalidation of the table (CacheInvalidateRelcacheByRelid), which the
 * scheduler's relcache callback receives when it next starts a transaction,
 * and registers a commit callback that wakes the scheduler of this database
 * (SchedulerWakeDb) once the change is visible.  The scheduler's own updates
 * (next_run_at after each launch) are exempt, so launching does not make it
 * re-read the table.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_node.h"
#include "parser/parser.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "sched/sched.h"

static bool wake_registered = false;

static void WakeSchedulerAtCommit(XactEvent event, void *arg);
static void CheckJobCommand(const char *command, const char *job_name, Oid owner, bool validate);
static List *ParseJobCommand(const char *command);
static void AnalyseJobCommand(List *stmts, const char *command, const char *job_name, Oid owner);
static bool AnalyseJobStatement(RawStmt *raw, const char *command);
static void CheckUtilityRelations(Node *stmt, const char *command);
static void CheckRelationExists(RangeVar *rv, const char *command, char relkind);
static pg_noinline char *JobSearchPath(Oid owner);
static void RethrowForJob(const char *job_name, const char *owner_name);
static void JobCommandErrorCallback(void *arg);

PG_FUNCTION_INFO_V1(mlops__jobs_changed);
PG_FUNCTION_INFO_V1(mlops__next_run);
PG_FUNCTION_INFO_V1(mlops__check_job_command);
PG_FUNCTION_INFO_V1(mlops__check_job_command_as_owner);
PG_FUNCTION_INFO_V1(mlops__require_scheduler);
PG_FUNCTION_INFO_V1(mlops__database_oid);
PG_FUNCTION_INFO_V1(mlops__system_identifier);

/*
 * mlops__jobs_changed is the statement trigger on mlops.jobs: it invalidates
 * the scheduler's copy and wakes it at commit.
 */
Datum
mlops__jobs_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	MlopsRequireTrigger(fcinfo, "mlops._jobs_changed()");
	if (SchedulerIsSelf)
		return PointerGetDatum(NULL);

	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	if (!wake_registered)
	{
		RegisterXactCallback(WakeSchedulerAtCommit, NULL);
		wake_registered = true;
	}
	return PointerGetDatum(NULL);
}

/*
 * WakeSchedulerAtCommit wakes this database's scheduler when a transaction
 * that changed jobs commits, and forgets itself when it ends either way.
 */
static void
WakeSchedulerAtCommit(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT)
		SchedulerWakeDb(MyDatabaseId);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		UnregisterXactCallback(WakeSchedulerAtCommit, NULL);
		wake_registered = false;
	}
}

/*
 * mlops__next_run returns when a job with this schedule is next due after a
 * run due at "due" (NULL for a new job), at time "now"; it raises a clear
 * error for an invalid schedule.
 */
Datum
mlops__next_run(PG_FUNCTION_ARGS)
{
	CronSchedule s;
	TimestampTz due = PG_ARGISNULL(1) ? 0 : PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz now = PG_ARGISNULL(2) ? GetCurrentTimestamp() : PG_GETARG_TIMESTAMPTZ(2);
	TimestampTz next;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("schedule must not be null")));
	ScheduleParse(text_to_cstring(PG_GETARG_TEXT_PP(0)), &s);
	next = ScheduleNextRun(&s, due, now);
	if (next == DT_NOEND)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(next);
}

/*
 * mlops__check_job_command rejects a command that does not parse or that
 * cannot run inside the single transaction a job run gets.  (The 0.1.0
 * signature; 0.2.0 calls mlops__check_job_command_as_owner.)
 */
Datum
mlops__check_job_command(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("command must not be null")));
	CheckJobCommand(text_to_cstring(PG_GETARG_TEXT_PP(0)), NULL, InvalidOid, false);
	PG_RETURN_VOID();
}

/*
 * mlops__check_job_command_as_owner (command, job_name, owner, validate)
 * rejects a command that does not parse or cannot run inside one
 * transaction and, with validate, one that does not parse-analyse as the
 * role owner.
 */
Datum
mlops__check_job_command_as_owner(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("command must not be null")));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job name and owner must not be null")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("validate must not be null"),
				 errhint("Pass validate => true to check the command, or false to skip the check.")));
	CheckJobCommand(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)),
					PG_GETARG_OID(2), PG_GETARG_BOOL(3));
	PG_RETURN_VOID();
}

/*
 * CheckJobCommand parses a job command, refuses what a run cannot execute
 * and, when validate is set, parse-analyses it as its owner.
 */
static void
CheckJobCommand(const char *command, const char *job_name, Oid owner, bool validate)
{
	List	   *stmts;
	ListCell   *lc;

	stmts = ParseJobCommand(command);
	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("job command is empty"),
				 errhint("Give the SQL the job runs, for example 'SELECT mlops.monitoring_pipeline(''churn'')'.")));
	foreach(lc, stmts)
	{
		Node	   *stmt = lfirst_node(RawStmt, lc)->stmt;

		if (IsA(stmt, TransactionStmt))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("job commands cannot control transactions"),
					 errdetail("Each run executes its command in one transaction."),
					 errhint("Remove BEGIN, COMMIT, ROLLBACK and SAVEPOINT from the command.")));
		if (IsA(stmt, VacuumStmt) && ((VacuumStmt *) stmt)->is_vacuumcmd)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("job commands cannot run VACUUM"),
					 errdetail("VACUUM cannot run inside the transaction a job run executes in; autovacuum covers routine maintenance.")));
		if (IsA(stmt, CopyStmt) && ((CopyStmt *) stmt)->filename == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("job commands cannot COPY to or from the client"),
					 errdetail("A run has no client: COPY ... TO STDOUT and COPY ... FROM STDIN cannot work in it."),
					 errhint("Copy to or from a file or a program, or use INSERT ... SELECT.")));
	}
	if (validate)
		AnalyseJobCommand(stmts, command, job_name, owner);
}

/*
 * ParseJobCommand parses a command, turning a syntax error into one that
 * says it is about the job command (the raw error would point into the
 * statement that called us).
 */
static List *
ParseJobCommand(const char *command)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	List	   *volatile stmts = NIL;

	PG_TRY();
	{
		stmts = raw_parser(command, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("invalid job command"),
				 edata->cursorpos > 0 ?
				 errdetail("%s at character %d of the command.", MlopsClip(edata->message, MLOPS_ECHO_MAX),
						   edata->cursorpos) :
				 errdetail("%s.", MlopsClip(edata->message, MLOPS_ECHO_MAX))));
	}
	PG_END_TRY();
	return stmts;
}

/*
 * AnalyseJobCommand parse-analyses and rewrites the statements of a job
 * command as the role owner, with the search_path a session of that role
 * starts with, without executing anything.  An error is re-thrown with a
 * DETAIL naming the job.
 */
static void
AnalyseJobCommand(List *stmts, const char *command, const char *job_name, Oid owner)
{
	char	   *path = JobSearchPath(owner);
	char	   *owner_name = GetUserNameFromId(owner, false);
	MemoryContext oldcxt = CurrentMemoryContext;
	MlopsOwnerSave save;

	MlopsBeginAuthor(&save, owner, path);
	PG_TRY();
	{
		ErrorContextCallback errcallback;
		ListCell   *lc;

		errcallback.callback = JobCommandErrorCallback;
		errcallback.arg = unconstify(char *, command);
		errcallback.previous = error_context_stack;
		error_context_stack = &errcallback;
		foreach(lc, stmts)
		{
			CHECK_FOR_INTERRUPTS();
			if (!AnalyseJobStatement(lfirst_node(RawStmt, lc), command))
				break;
		}
		error_context_stack = errcallback.previous;
	}
	PG_CATCH();
	{
		/* the transaction's abort restores the user and search_path */
		MemoryContextSwitchTo(oldcxt);
		RethrowForJob(job_name, owner_name);
	}
	PG_END_TRY();
	MlopsEndOwner(&save);
}

/*
 * AnalyseJobStatement analyses and rewrites one statement (and checks the
 * relations some utility statements name), and returns whether the
 * statements after it can be analysed too: false after a statement that
 * may create or change what they use.
 */
static bool
AnalyseJobStatement(RawStmt *raw, const char *command)
{
	Node	   *stmt = raw->stmt;

	CheckUtilityRelations(stmt, command);
	(void) pg_analyze_and_rewrite_fixedparams(raw, command, NULL, 0, NULL);

	switch (nodeTag(stmt))
	{
		case T_SelectStmt:
			return ((SelectStmt *) stmt)->intoClause == NULL;
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
		case T_MergeStmt:
		case T_CallStmt:
		case T_ExplainStmt:
		case T_RefreshMatViewStmt:
		case T_TruncateStmt:
		case T_VacuumStmt:
		case T_LockStmt:
		case T_CopyStmt:
		case T_NotifyStmt:
			return true;
		default:
			return false;
	}
}

/*
 * CheckUtilityRelations checks that the relations a utility statement names
 * exist, for the statements parse analysis passes through unexamined.
 */
static void
CheckUtilityRelations(Node *stmt, const char *command)
{
	ListCell   *lc;

	switch (nodeTag(stmt))
	{
		case T_RefreshMatViewStmt:
			CheckRelationExists(((RefreshMatViewStmt *) stmt)->relation, command, RELKIND_MATVIEW);
			break;
		case T_TruncateStmt:
			foreach(lc, ((TruncateStmt *) stmt)->relations)
				CheckRelationExists(lfirst_node(RangeVar, lc), command, 0);
			break;
		case T_LockStmt:
			foreach(lc, ((LockStmt *) stmt)->relations)
				CheckRelationExists(lfirst_node(RangeVar, lc), command, 0);
			break;
		case T_VacuumStmt:
			foreach(lc, ((VacuumStmt *) stmt)->rels)
			{
				VacuumRelation *vrel = lfirst_node(VacuumRelation, lc);

				if (vrel->relation != NULL)
					CheckRelationExists(vrel->relation, command, 0);
			}
			break;
		case T_ClusterStmt:
			if (((ClusterStmt *) stmt)->relation != NULL)
				CheckRelationExists(((ClusterStmt *) stmt)->relation, command, 0);
			break;
		case T_CopyStmt:
			if (((CopyStmt *) stmt)->relation != NULL)
				CheckRelationExists(((CopyStmt *) stmt)->relation, command, 0);
			break;
		default:
			break;
	}
}

/*
 * CheckRelationExists raises the error a run would raise when the relation
 * rv does not exist or (relkind not 0) is not of that kind; the error points
 * at the name in the command.
 */
static void
CheckRelationExists(RangeVar *rv, const char *command, char relkind)
{
	ParseState *pstate = make_parsestate(NULL);
	ParseCallbackState pcb;
	Oid			relid;

	pstate->p_sourcetext = command;
	setup_parser_errposition_callback(&pcb, pstate, rv->location);
	relid = RangeVarGetRelid(rv, NoLock, false);
	if (relkind == RELKIND_MATVIEW && get_rel_relkind(relid) != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a materialized view", rv->relname)));
	cancel_parser_errposition_callback(&pcb);
	free_parsestate(pstate);
}

/*
 * JobSearchPath returns the search_path a session of the role owner starts
 * with in this database, as a job run's session does: the owner's ALTER
 * ROLE ... IN DATABASE, ALTER ROLE, ALTER DATABASE or ALTER ROLE ALL
 * setting, in PostgreSQL's order of precedence, else the server's.
 */
static char *
JobSearchPath(Oid owner)
{
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(MyDatabaseId), ObjectIdGetDatum(owner)};
	MemoryContext cxt = CurrentMemoryContext;
	char	   *path = NULL;

	SPI_connect();
	if (SPI_execute_with_args("SELECT pg_catalog.substr(c, 13) "
							  "FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) AS c "
							  "WHERE s.setdatabase OPERATOR(pg_catalog.=) ANY (ARRAY[$1, 0::pg_catalog.oid]) "
							  "AND s.setrole OPERATOR(pg_catalog.=) ANY (ARRAY[$2, 0::pg_catalog.oid]) "
							  "AND c OPERATOR(pg_catalog.~~) 'search\\_path=%' "
							  "ORDER BY s.setrole OPERATOR(pg_catalog.<>) 0::pg_catalog.oid DESC, "
							  "s.setdatabase OPERATOR(pg_catalog.<>) 0::pg_catalog.oid DESC LIMIT 1",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the role and database settings");
	if (SPI_processed == 1)
	{
		char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (value != NULL)
			path = MemoryContextStrdup(cxt, value);
	}
	SPI_finish();
	if (path == NULL)
		path = pstrdup(GetConfigOptionResetString("search_path"));
	return path;
}

/*
 * JobCommandErrorCallback turns the position of an error in the job command
 * into a position in an internal query, the command (as SPI does for the
 * statements it runs): it is reported under the command, not under the
 * statement that called mlops.schedule.
 */
static void
JobCommandErrorCallback(void *arg)
{
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery((const char *) arg);
	}
}

/*
 * RethrowForJob re-throws the error being handled, adding that it concerns
 * the command of a job (DETAIL and HINT).  Errors that are not about the
 * command (cancellation, resources, internal) are re-thrown unchanged.
 */
static void
RethrowForJob(const char *job_name, const char *owner_name)
{
	ErrorData  *edata = CopyErrorData();
	int			category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
	const char *hint = "If what the command uses will be created before the job runs, pass validate => false.";

	if (edata->elevel != ERROR ||
		category == ERRCODE_INSUFFICIENT_RESOURCES || category == ERRCODE_OPERATOR_INTERVENTION ||
		category == ERRCODE_SYSTEM_ERROR || category == ERRCODE_INTERNAL_ERROR)
	{
		FreeErrorData(edata);
		PG_RE_THROW();
	}
	FlushErrorState();
	edata->detail = edata->detail != NULL ?
		psprintf("The command of job \"%s\" was checked as role %s, who runs it: %s",
				 job_name, owner_name, edata->detail) :
		psprintf("The command of job \"%s\" was checked as role %s, who runs it.",
				 job_name, owner_name);
	edata->hint = edata->hint != NULL ? psprintf("%s %s", edata->hint, hint) : pstrdup(hint);
	ReThrowError(edata);
}

/*
 * mlops__database_oid returns the OID of the current database, half of the
 * stamp that tells a job's own database from a copy.
 */
Datum
mlops__database_oid(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(MyDatabaseId);
}

/*
 * mlops__system_identifier returns the cluster's system identifier (from
 * pg_control, as pg_control_system() shows it), the other half of the
 * stamp: a restore into another cluster may reuse the database OID.
 */
Datum
mlops__system_identifier(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) GetSystemIdentifier());
}

/*
 * mlops__require_scheduler raises the preload error when the scheduler is
 * not running in this server.
 */
Datum
mlops__require_scheduler(PG_FUNCTION_ARGS)
{
	MlopsRequirePreload("the job scheduler");
	PG_RETURN_VOID();
}
