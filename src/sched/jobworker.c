/*
 * jobworker.c
 *	  The worker that executes one job run, connected as the job's owner.
 *
 * The scheduler has already committed the run as 'scheduled' and reserved a
 * shared-memory slot (database, owner, run) whose number is our main
 * argument; the run id is repeated in bgw_extra so a recycled slot is never
 * mistaken for ours.  The worker
 *   1. publishes its pid in the slot and arranges to free the slot and wake
 *      the scheduler however it exits (FATAL included);
 *   2. connects to the database as the job's owner, so the command has
 *      exactly the owner's privileges and settings, and waits for the due
 *      time (the scheduler starts workers up to PRELAUNCH_MS early);
 *   3. marks the run 'running' (as the extension owner: users never write
 *      mlops tables), sets application_name to "mlops job <name>";
 *   4. runs the command in one transaction as the owner, through SPI, and
 *      records "succeeded" (rows, result) in that same transaction, so the
 *      record and the command's effects commit together; an error aborts
 *      both and "failed" is recorded with the message in a new one.  A
 *      pipeline job whose result says {"status": "failed"} is a failed run.
 * A timed-out run, or one cancelled by mlops.unschedule or
 * mlops.alter_job(enabled => false), is terminated by the scheduler with
 * SIGTERM, which the standard die() handler turns into a FATAL exit; the run
 * is already recorded as timed_out or cancelled.  A command that finishes
 * before the signal arrives finds its run so recorded when it records its
 * outcome, and is rolled back (mlops._finish_run raises).
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "sched/sched.h"

/* the longest result text of a plain command kept in mlops.job_runs.result */
#define MAX_RESULT_CHARS 10000

static void JobWorkerDetach(int code, Datum arg);
static void WaitUntilDue(TimestampTz due);
static bool MarkRunning(int64 run_id, char **command, char **job_name, bool *is_pipeline);
static void RunCommand(int64 run_id, const char *command, bool is_pipeline);
static void RecordFailure(int64 run_id, const char *message, bool broken);
static void RecordOutcome(int64 run_id, const char *status, uint64 rows, const char *result,
						  const char *message, bool is_pipeline);

/*
 * MlopsJobWorkerMain is the entry point of a job worker.
 */
void
MlopsJobWorkerMain(Datum arg)
{
	int			slotno = DatumGetInt32(arg);
	int64		run_id;
	TimestampTz due;
	Oid			dboid;
	Oid			owner;
	JobWorkerSlot *js;
	char	   *command;
	char	   *job_name;
	bool		is_pipeline;
	char	   *appname;

	memcpy(&run_id, MyBgworkerEntry->bgw_extra, sizeof(run_id));
	memcpy(&due, MyBgworkerEntry->bgw_extra + sizeof(run_id), sizeof(due));
	if (slotno < 0 || slotno >= MlopsScheduler->num_job_slots)
		proc_exit(0);
	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	js = &MlopsScheduler->job_slots[slotno];
	if (!js->in_use || js->run_id != run_id)
	{
		LWLockRelease(SchedulerLock());
		proc_exit(0);
	}
	js->pid = MyProcPid;
	dboid = js->dboid;
	owner = js->owner;
	LWLockRelease(SchedulerLock());
	before_shmem_exit(JobWorkerDetach, Int32GetDatum(slotno));

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, owner, 0);
	WaitUntilDue(due);

	if (!MarkRunning(run_id, &command, &job_name, &is_pipeline))
		proc_exit(0);
	appname = psprintf(MLOPS_JOB_APPNAME_PREFIX "%s", job_name);
	SetConfigOption("application_name", appname, PGC_USERSET, PGC_S_SESSION);
	pgstat_report_appname(appname);

	StartTransactionCommand();
	PG_TRY();
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		RunCommand(run_id, command, is_pipeline);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		RecordFailure(run_id, edata->detail != NULL ?
					  psprintf("%s (%s)", edata->message, edata->detail) : edata->message,
					  edata->sqlerrcode == ERRCODE_SYNTAX_ERROR);
	}
	PG_END_TRY();
	debug_query_string = NULL;
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}

/*
 * RunCommand executes the job's command as the owner and, in the same
 * transaction, records the run as succeeded (or failed, for a pipeline that
 * reports failure), so a run is 'succeeded' exactly when its effects
 * commit.  A command that wrote nothing commits asynchronously: only its
 * bookkeeping is at stake.
 */
static void
RunCommand(int64 run_id, const char *command, bool is_pipeline)
{
	int			rc;
	uint64		rows;
	char	   *result = NULL;

	debug_query_string = command;
	pgstat_report_activity(STATE_RUNNING, command);
	rc = SPI_execute(command, false, 0);
	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("the command failed: %s", SPI_result_code_string(rc))));
	rows = SPI_processed;
	if (SPI_tuptable != NULL && SPI_processed >= 1 && SPI_tuptable->tupdesc->natts >= 1)
	{
		char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		/* a pipeline's document is kept whole: its status is read from it */
		if (value != NULL)
			result = is_pipeline ? value : pnstrdup(value, Min(strlen(value), MAX_RESULT_CHARS));
	}
	if (!TransactionIdIsValid(GetTopTransactionIdIfAny()))
		(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
	RecordOutcome(run_id, "succeeded", rows, result, NULL, is_pipeline);
}

/*
 * RecordFailure records a run whose command raised an error, in a
 * transaction of its own (asynchronous: after a crash an unrecorded failure
 * is recorded as "server restarted", a failure as well).  A command that
 * does not even parse (mlops.schedule checks commands, so the row was
 * changed behind its back) is broken for good: the job is disabled with the
 * reason rather than failing at every slot.
 */
static void
RecordFailure(int64 run_id, const char *message, bool broken)
{
	StartTransactionCommand();
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	RecordOutcome(run_id, "failed", 0, NULL, message, false);
	if (broken)
	{
		Oid			types[2] = {INT8OID, TEXTOID};
		Datum		values[2] = {Int64GetDatum(run_id),
		CStringGetTextDatum(psprintf("its command does not parse: %s", message))};
		MlopsOwnerSave save;

		MlopsBeginOwner(&save);
		if (SPI_execute_with_args("UPDATE mlops.jobs SET enabled = false, disabled_reason = $2 "
								  "WHERE job_id OPERATOR(pg_catalog.=) (SELECT job_id FROM mlops.job_runs "
								  "WHERE run_id OPERATOR(pg_catalog.=) $1)",
								  2, types, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not disable the job of run " INT64_FORMAT, run_id);
		MlopsEndOwner(&save);
		ereport(WARNING,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("mlops disabled the job of run " INT64_FORMAT, run_id),
				 errdetail("The job was disabled because its command does not parse: %s.",
						   MlopsClip(message, MLOPS_ECHO_MAX))));
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * JobWorkerDetach frees the worker's slot and wakes its scheduler.
 */
static void
JobWorkerDetach(int code, Datum arg)
{
	int			slotno = DatumGetInt32(arg);
	JobWorkerSlot *js;
	SchedulerDbSlot *db;
	Latch	   *latch = NULL;

	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	js = &MlopsScheduler->job_slots[slotno];
	if (js->in_use && js->pid == MyProcPid)
	{
		db = SchedulerFindDb(js->dboid);
		if (db != NULL)
			latch = db->scheduler_latch;
		memset(js, 0, sizeof(*js));
	}
	LWLockRelease(SchedulerLock());
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * WaitUntilDue sleeps until the run's due time: the scheduler starts workers
 * a moment early so that connecting does not delay the command.
 */
static void
WaitUntilDue(TimestampTz due)
{
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();

		if (now >= due)
			return;
		/* rounds up, so we never run early */
		SchedulerSleep(TimestampDifferenceMilliseconds(now, due));
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * MarkRunning moves the run from 'scheduled' to 'running' and returns its
 * command; false if the run is no longer waiting (timed out or deleted).
 */
static bool
MarkRunning(int64 run_id, char **command, char **job_name, bool *is_pipeline)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(run_id), Int32GetDatum(MyProcPid)};
	bool		found = false;
	MlopsOwnerSave save;

	StartTransactionCommand();
	/* flushed by the command's own commit, like the scheduler's records */
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	MlopsBeginOwner(&save);
	if (SPI_execute_with_args("UPDATE mlops.job_runs r SET status = 'running', "
							  "started_at = pg_catalog.clock_timestamp(), pid = $2 "
							  "FROM mlops.jobs j "
							  "WHERE r.run_id OPERATOR(pg_catalog.=) $1 "
							  "AND r.status OPERATOR(pg_catalog.=) 'scheduled' "
							  "AND j.job_id OPERATOR(pg_catalog.=) r.job_id "
							  "RETURNING r.command, j.job_name, j.pipeline IS NOT NULL",
							  2, types, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not mark job run " INT64_FORMAT " running", run_id);
	MlopsEndOwner(&save);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		*command = MemoryContextStrdup(TopMemoryContext, SPI_getvalue(tup, desc, 1));
		*job_name = MemoryContextStrdup(TopMemoryContext, SPI_getvalue(tup, desc, 2));
		*is_pipeline = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		found = true;
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return found;
}

/*
 * RecordOutcome stores how the run ended (mlops._finish_run), inside the
 * caller's transaction and SPI connection, as the extension owner.  A run
 * that was cancelled or timed out meanwhile keeps that outcome; when the
 * command succeeded, _finish_run then raises, so its effects roll back.
 */
static void
RecordOutcome(int64 run_id, const char *status, uint64 rows, const char *result,
			  const char *message, bool is_pipeline)
{
	Oid			types[6] = {INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID, BOOLOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	MlopsOwnerSave save;

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(status);
	values[2] = Int64GetDatum((int64) rows);
	if (result != NULL)
		values[3] = CStringGetTextDatum(result);
	else
		nulls[3] = 'n';
	if (message != NULL)
		values[4] = CStringGetTextDatum(message);
	else
		nulls[4] = 'n';
	values[5] = BoolGetDatum(is_pipeline);

	MlopsBeginOwner(&save);
	if (SPI_execute_with_args("SELECT mlops._finish_run($1, $2, $3, $4, $5, $6)",
							  6, types, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not record the outcome of job run " INT64_FORMAT, run_id);
	MlopsEndOwner(&save);
}
