/*
 * jobs.c
 *	  C pieces of the job SQL API (the API itself is PL/pgSQL in
 *	  sql/install/70_scheduler.sql): schedule validation, command checks and
 *	  the trigger that tells the scheduler its jobs changed.
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
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "sched/sched.h"

static bool wake_registered = false;

static void WakeSchedulerAtCommit(XactEvent event, void *arg);
static List *ParseJobCommand(const char *command);

PG_FUNCTION_INFO_V1(mlops__jobs_changed);
PG_FUNCTION_INFO_V1(mlops__next_run);
PG_FUNCTION_INFO_V1(mlops__check_job_command);
PG_FUNCTION_INFO_V1(mlops__require_scheduler);

/*
 * mlops__jobs_changed is the statement trigger on mlops.jobs: it invalidates
 * the scheduler's copy and wakes it at commit.
 */
Datum
mlops__jobs_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mlops._jobs_changed() must be called as a trigger")));
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
 * cannot run inside the single transaction a job run gets.
 */
Datum
mlops__check_job_command(PG_FUNCTION_ARGS)
{
	char	   *command;
	List	   *stmts;
	ListCell   *lc;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("command must not be null")));
	command = text_to_cstring(PG_GETARG_TEXT_PP(0));
	stmts = ParseJobCommand(command);
	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("job command is empty"),
				 errhint("Give the SQL the job runs, for example 'SELECT mlops.drift_report(''churn'')'.")));
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
	}
	PG_RETURN_VOID();
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
				 errdetail("%s at character %d of the command.", edata->message, edata->cursorpos) :
				 errdetail("%s.", edata->message)));
	}
	PG_END_TRY();
	return stmts;
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
