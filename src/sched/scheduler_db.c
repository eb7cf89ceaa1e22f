/*
 * scheduler_db.c
 *	  The per-database scheduler: keeps the jobs in memory, launches due runs
 *	  in their own background workers and watches them.
 *
 * Design
 * ------
 * The scheduler connects to its database as the bootstrap superuser (it only
 * reads and writes mlops' own tables; user SQL never runs here) and keeps a
 * hash of the jobs, keyed by job_id.  It re-reads mlops.jobs only when the
 * jobs changed: a statement trigger on mlops.jobs (mlops._jobs_changed)
 * queues a relcache invalidation of the table, which reaches this process's
 * relcache callback at its next transaction start, and at commit bumps a
 * generation counter in shared memory and sets our latch so we wake at once
 * (the counter also covers the instant between the commit and the arrival
 * of the invalidation).  Its own updates of next_run_at are made with the
 * trigger quiet (SchedulerIsSelf), so launching a run does not force a reload.
 *
 * Each loop iteration (woken by the latch or by the earliest deadline):
 *   1. reap runs whose worker has gone: read the outcome the worker recorded
 *      (or record "exited unexpectedly"), count failures and schedule a retry
 *      with exponential backoff while failures <= max_retries;
 *   2. reload the jobs if invalidated;
 *   3. after a reload, terminate the workers of runs that unschedule() or
 *      alter_job(enabled => false) marked cancelled (SIGTERM; a worker that
 *      finishes first finds its run cancelled and rolls its command back);
 *   4. launch every enabled job whose next_run_at has passed or is less than
 *      PRELAUNCH_MS away (the worker connects, then waits for the due time,
 *      so the command starts on time instead of after a backend start-up),
 *      and every job run_job() asked for, that is not already running,
 *      while mlops.max_running_jobs (per database) and
 *      mlops.max_running_jobs_per_owner allow, owners taking turns when
 *      there are not slots for all (fair.c): claim a worker slot, insert
 *      the run as 'scheduled' and advance next_run_at in one committed
 *      transaction, then register the worker.  The run row is committed
 *      before the worker exists, so a crash at any point leaves a row this
 *      code can recognise;
 *   5. time out runs older than their max_runtime (mark timed_out, SIGTERM);
 *   6. trim history older than mlops.job_history_days (hourly);
 *   7. every mlops.deployment_check_interval seconds, run
 *      mlops.check_deployments() (automatic rollbacks and canary steps of
 *      every active deployment); an error is logged and the loop goes on.
 *
 * At start it marks runs left 'scheduled' or 'running' by a previous server
 * life as failed ("server restarted"), and adopts runs whose worker is still
 * alive (the scheduler alone was restarted).
 *
 * Durability: the scheduler commits its bookkeeping asynchronously
 * (synchronous_commit = off), so a busy disk does not delay launches.  This
 * keeps the "run recorded before it launches" invariant where it matters:
 * the run's row precedes the command's own commit in the WAL, and that
 * commit (synchronous as the owner configured) flushes it, so a run whose
 * effects survive a crash is always recorded.  A crash can lose only
 * bookkeeping of runs with no durable effect, which are then run again.
 *
 * Copies: every job is stamped with the database it belongs to (its OID and
 * the cluster's system identifier, mlops.jobs.home_*).  pg_dump dumps jobs
 * with mlops' other data and CREATE DATABASE ... TEMPLATE copies them, so a
 * restored or copied database holds its original's jobs; running them there
 * would run the original's nightly work twice.  A job whose stamp is not this
 * database's is never launched: when the jobs are loaded it is paused
 * (enabled = false, paused_reason says why, a WARNING in the server log)
 * until its owner resumes it with mlops.alter_job(name, enabled => true),
 * which stamps it with this database.
 *
 * Robustness: a job whose row is unusable (its owner was dropped or cannot
 * log in, its schedule does not parse; the job worker does the same for a
 * command that does not parse) is disabled with the reason in
 * mlops.jobs.disabled_reason instead of being retried forever; an error
 * while handling one job is caught, logged and disables that job only.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "sched/fair.h"
#include "sched/sched.h"

/* the longest the scheduler sleeps without a reason to wake */
#define SCHEDULER_MAX_SLEEP_MS 60000
/* a claimed slot whose worker never started is released after this */
#define SLOT_START_TIMEOUT_MS 60000
/* history is trimmed this often */
#define TRIM_INTERVAL_MS 3600000
/* the longest retry backoff (also the largest retry_delay alter_job accepts) */
#define MAX_RETRY_DELAY_MS 3600000
/* the largest max_runtime alter_job accepts, 10 years (keeps deadlines in range) */
#define MAX_RUNTIME_MS INT64CONST(315576000000)
/* a run's worker is started this long before it is due, and waits */
#define PRELAUNCH_MS 200

typedef struct JobEntry
{
	int64		job_id;			/* hash key */
	bool		seen;			/* present in the last reload */
	Oid			owner;
	CronSchedule schedule;
	bool		enabled;
	bool		run_requested;
	TimestampTz next_run_at;
	int64		max_runtime_ms; /* 0: no limit */
	int			max_retries;
	int			failures;
	int64		retry_delay_ms;
	bool		foreign;		/* stamped with another database: never launched */
	/* the running instance, if any */
	int64		run_id;
	int			slotno;
	BackgroundWorkerHandle *handle;
	TimestampTz run_due;
	TimestampTz run_started;
	bool		timed_out;
	bool		cancelled;		/* marked cancelled, worker signalled */
	uint64		launch_seq;		/* when it was last launched (launch_count) */
} JobEntry;

/* when an owner last had a run launched (LaunchDueJobs) */
typedef struct OwnerServedEntry
{
	Oid			owner;			/* hash key */
	uint64		served;
} OwnerServedEntry;

bool		SchedulerIsSelf = false;

static HTAB *jobs = NULL;
static bool jobs_valid = false;
static Oid	jobs_relid = InvalidOid;
static uint64 seen_generation = 0;
static SchedulerDbSlot *my_slot = NULL;
static TimestampTz last_trim = 0;
static TimestampTz last_deployment_check = 0;
static MemoryContext loop_cxt = NULL;
static uint64 install_count_at_start = 0;
static uint64 launch_count = 0;

static void SchedulerDetach(int code, Datum arg);
static void JobsRelcacheCallback(Datum arg, Oid relid);
static bool ExtensionPresent(void);
static void WaitForCurrentSchema(void);
static void RecoverRuns(void);
static void LoadJobs(void);
static void ReapRuns(TimestampTz now);
static void FinishRun(JobEntry *job, TimestampTz now);
static void CancelRuns(void);
static void SignalRun(JobEntry *job);
static void LaunchDueJobs(TimestampTz now);
static HTAB *OwnersServed(void);
static bool LaunchJob(JobEntry *job, TimestampTz now);
static bool RecordLaunch(JobEntry *job, TimestampTz now, int64 *run_id, char **reason);
static char *OwnerProblem(Oid owner);
static int64 InsertRun(JobEntry *job, TimestampTz now);
static int	ClaimJobSlot(JobEntry *job);
static void ReleaseJobSlot(int slotno, int64 run_id);
static void EnforceTimeouts(TimestampTz now);
static void TrimHistory(TimestampTz now);
static void CheckDeployments(TimestampTz now);
static long NextWakeMs(TimestampTz now);
static void DisableJob(JobEntry *job, const char *reason);
static bool JobIsForeign(HeapTuple tup, TupleDesc desc, int dbcol, int sysidcol, int pausedcol,
						 bool *paused);
static void PauseForeignJob(JobEntry *job);
static void BeginWork(const char *activity);
static void EndWork(void);
static void ExecuteWrite(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls);

/*
 * MlopsSchedulerMain is the entry point of a database's scheduler.
 */
void
MlopsSchedulerMain(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	HASHCTL		ctl;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	my_slot = SchedulerFindDb(dboid);
	if (my_slot == NULL || my_slot->scheduler_pid != 0)
	{
		LWLockRelease(SchedulerLock());
		proc_exit(0);
	}
	my_slot->scheduler_pid = MyProcPid;
	my_slot->scheduler_latch = MyLatch;
	my_slot->no_extension = false;
	seen_generation = my_slot->jobs_generation;
	install_count_at_start = MlopsScheduler->install_count;
	LWLockRelease(SchedulerLock());
	before_shmem_exit(SchedulerDetach, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	SetConfigOption("application_name", MLOPS_SCHEDULER_APPNAME, PGC_USERSET, PGC_S_SESSION);
	/* see "Durability" in the header comment */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname(MLOPS_SCHEDULER_APPNAME);
	SchedulerIsSelf = true;

	if (!ExtensionPresent())
		proc_exit(0);
	WaitForCurrentSchema();

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(JobEntry);
	ctl.hcxt = TopMemoryContext;
	jobs = hash_create("mlops jobs", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(JobsRelcacheCallback, (Datum) 0);

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "mlops scheduler loop",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(loop_cxt);
	RecoverRuns();

	for (;;)
	{
		TimestampTz now;
		uint64		generation;
		long		wait_ms;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		SchedulerHandleInterrupts();
		if (RecoveryInProgress())
		{
			SchedulerSleep(SCHEDULER_MAX_SLEEP_MS);
			continue;
		}

		LWLockAcquire(SchedulerLock(), LW_SHARED);
		generation = my_slot->jobs_generation;
		LWLockRelease(SchedulerLock());
		if (generation != seen_generation)
		{
			seen_generation = generation;
			jobs_valid = false;
		}

		now = GetCurrentTimestamp();
		ReapRuns(now);
		/* a transaction start accepts pending invalidations */
		StartTransactionCommand();
		AcceptInvalidationMessages();
		CommitTransactionCommand();
		MemoryContextSwitchTo(loop_cxt);
		if (!jobs_valid)
		{
			LoadJobs();
			CancelRuns();
		}
		now = GetCurrentTimestamp();
		LaunchDueJobs(now);
		EnforceTimeouts(now);
		TrimHistory(now);
		CheckDeployments(now);
		pgstat_report_stat(false);
		pgstat_report_activity(STATE_IDLE, NULL);

		wait_ms = NextWakeMs(GetCurrentTimestamp());
		SchedulerSleep(wait_ms);
	}
}

/*
 * SchedulerDetach clears the database slot's scheduler fields at exit.
 */
static void
SchedulerDetach(int code, Datum arg)
{
	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	if (my_slot != NULL && my_slot->scheduler_pid == MyProcPid)
	{
		my_slot->scheduler_pid = 0;
		my_slot->scheduler_latch = NULL;
	}
	LWLockRelease(SchedulerLock());
	SchedulerWakeLauncher(false);
}

/*
 * JobsRelcacheCallback marks the job list stale when mlops.jobs changed.
 */
static void
JobsRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == jobs_relid)
		jobs_valid = false;
}

/*
 * ExtensionPresent reports whether mlops is installed in this database; when
 * it is not, it tells the launcher not to start us again until asked --
 * unless an installation committed since we started, which our snapshot may
 * have missed (then the launcher restarts us after its usual pause).
 */
static bool
ExtensionPresent(void)
{
	bool		present;

	StartTransactionCommand();
	present = OidIsValid(get_extension_oid("mlops", true));
	if (present)
		jobs_relid = get_relname_relid("jobs", get_namespace_oid("mlops", false));
	CommitTransactionCommand();
	if (loop_cxt != NULL)
		MemoryContextSwitchTo(loop_cxt);
	if (!present)
	{
		LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
		my_slot->no_extension = (MlopsScheduler->install_count == install_count_at_start);
		LWLockRelease(SchedulerLock());
	}
	return present;
}

/*
 * WaitForCurrentSchema idles, saying why once in the server log, while the
 * database's mlops schema is older than this library (a package upgrade
 * whose ALTER EXTENSION mlops UPDATE has not run yet): the jobs table may
 * lack columns the scheduler needs, and jobs run late rather than wrongly.
 */
static void
WaitForCurrentSchema(void)
{
	bool		logged = false;

	for (;;)
	{
		const char *version;
		MlopsSchemaState state;

		SchedulerHandleInterrupts();
		StartTransactionCommand();
		state = MlopsSchemaStatus(&version);
		if (state != MLOPS_SCHEMA_CURRENT && state != MLOPS_SCHEMA_ABSENT && !logged)
			ereport(LOG,
					(errmsg("mlops scheduler for database \"%s\" waits: its mlops schema is %s, the library is %s",
							get_database_name(MyDatabaseId), version, MLOPS_VERSION),
					 errhint("Run ALTER EXTENSION mlops UPDATE in that database; jobs start once it has run.")));
		CommitTransactionCommand();
		if (state == MLOPS_SCHEMA_CURRENT)
			return;
		if (state == MLOPS_SCHEMA_ABSENT)
			proc_exit(0);
		logged = true;
		SchedulerSleep(5000);	/* a catalog lookup: cheap to repeat */
	}
}

/*
 * RecoverRuns settles the runs a previous scheduler left unfinished: runs
 * whose worker is alive are adopted, the others marked failed.
 */
static void
RecoverRuns(void)
{
	BeginWork("mlops scheduler: recovering runs");
	if (SPI_execute("SELECT run_id, job_id FROM mlops.job_runs "
					"WHERE status OPERATOR(pg_catalog.=) ANY ('{scheduled,running}'::text[])",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read unfinished job runs");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));
		bool		alive = false;

		LWLockAcquire(SchedulerLock(), LW_SHARED);
		for (int s = 0; s < MlopsScheduler->num_job_slots; s++)
		{
			JobWorkerSlot *js = &MlopsScheduler->job_slots[s];

			if (js->in_use && js->dboid == MyDatabaseId && js->run_id == run_id)
				alive = true;
		}
		LWLockRelease(SchedulerLock());
		if (!alive)
		{
			Oid			types[1] = {INT8OID};
			Datum		values[1] = {Int64GetDatum(run_id)};

			ExecuteWrite("UPDATE mlops.job_runs SET status = 'failed', "
						 "finished_at = pg_catalog.clock_timestamp(), "
						 "message = 'server restarted before the run finished' "
						 "WHERE run_id OPERATOR(pg_catalog.=) $1 "
						 "AND status OPERATOR(pg_catalog.=) ANY ('{scheduled,running}'::text[])",
						 1, types, values, NULL);
		}
	}
	EndWork();
	/* live runs are adopted when the jobs are loaded */
	jobs_valid = false;
}

/*
 * LoadJobs reads mlops.jobs into the hash, keeping the state of running
 * instances, and disables rows it cannot use.
 */
static void
LoadJobs(void)
{
	HASH_SEQ_STATUS seq;
	JobEntry   *job;
	List	   *broken = NIL;
	List	   *copied = NIL;
	ListCell   *lc;

	jobs_valid = true;
	if (!ExtensionPresent())
		proc_exit(0);

	hash_seq_init(&seq, jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
		job->seen = false;

	BeginWork("mlops scheduler: loading jobs");
	if (SPI_execute("SELECT job_id, owner, schedule, enabled, next_run_at, "
					"COALESCE(EXTRACT(epoch FROM max_runtime) * 1000, 0)::int8, "
					"max_retries, failures, "
					"COALESCE(EXTRACT(epoch FROM retry_delay) * 1000, 10000)::int8, "
					"run_requested, home_database_oid, home_system_identifier, "
					"paused_reason IS NOT NULL "
					"FROM mlops.jobs", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read mlops.jobs");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		job_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		bool		found;
		char	   *schedule_text = SPI_getvalue(tup, desc, 3);
		char		err[512];
		Datum		next;
		bool		paused;

		job = hash_search(jobs, &job_id, HASH_ENTER, &found);
		if (!found)
		{
			job->run_id = 0;
			job->slotno = -1;
			job->handle = NULL;
			job->timed_out = false;
			job->cancelled = false;
			job->launch_seq = 0;
		}
		job->seen = true;
		job->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		job->enabled = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		next = SPI_getbinval(tup, desc, 5, &isnull);
		job->next_run_at = isnull ? DT_NOEND : DatumGetTimestampTz(next);
		/* rows written before alter_job checked the ranges may hold more */
		job->max_runtime_ms = Min(DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull)), MAX_RUNTIME_MS);
		job->max_retries = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
		job->failures = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
		job->retry_delay_ms = Min(DatumGetInt64(SPI_getbinval(tup, desc, 9, &isnull)), MAX_RETRY_DELAY_MS);
		job->run_requested = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
		job->foreign = JobIsForeign(tup, desc, 11, 12, 13, &paused);
		if (job->foreign && !paused)
		{
			MemoryContext old = MemoryContextSwitchTo(loop_cxt);

			copied = lappend(copied, psprintf(INT64_FORMAT, job_id));
			MemoryContextSwitchTo(old);
		}
		if (CronParse(schedule_text, &job->schedule, err, sizeof(err)) != 0 && job->enabled)
		{
			MemoryContext old = MemoryContextSwitchTo(loop_cxt);

			broken = lappend(broken, psprintf("%lld|invalid schedule: %s", (long long) job_id, err));
			MemoryContextSwitchTo(old);
		}
	}
	EndWork();

	/* forget deleted jobs (a running instance finishes on its own) */
	hash_seq_init(&seq, jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
	{
		if (!job->seen && job->run_id == 0)
			hash_search(jobs, &job->job_id, HASH_REMOVE, NULL);
	}

	/* adopt runs whose worker survived a restart of the scheduler */
	LWLockAcquire(SchedulerLock(), LW_SHARED);
	for (int s = 0; s < MlopsScheduler->num_job_slots; s++)
	{
		JobWorkerSlot *js = &MlopsScheduler->job_slots[s];

		if (js->in_use && js->dboid == MyDatabaseId && js->run_id != 0)
		{
			job = hash_search(jobs, &js->job_id, HASH_FIND, NULL);
			if (job != NULL && job->run_id == 0)
			{
				job->run_id = js->run_id;
				job->slotno = s;
				job->run_started = js->claimed_at;
			}
		}
	}
	LWLockRelease(SchedulerLock());

	foreach(lc, broken)
	{
		char	   *entry = lfirst(lc);
		int64		job_id = strtoi64(entry, NULL, 10);

		job = hash_search(jobs, &job_id, HASH_FIND, NULL);
		if (job != NULL)
			DisableJob(job, strchr(entry, '|') + 1);
	}
	foreach(lc, copied)
	{
		int64		job_id = strtoi64(lfirst(lc), NULL, 10);

		job = hash_search(jobs, &job_id, HASH_FIND, NULL);
		if (job != NULL)
			PauseForeignJob(job);
	}
}

/*
 * JobIsForeign reports whether the job row tup (columns dbcol and sysidcol
 * hold its stamp) belongs to another database than this one; *paused says
 * whether it has been paused already (column pausedcol).
 */
static bool
JobIsForeign(HeapTuple tup, TupleDesc desc, int dbcol, int sysidcol, int pausedcol,
			 bool *paused)
{
	bool		isnull;
	Oid			dboid = DatumGetObjectId(SPI_getbinval(tup, desc, dbcol, &isnull));
	int64		sysid;

	if (isnull)
		dboid = InvalidOid;
	sysid = DatumGetInt64(SPI_getbinval(tup, desc, sysidcol, &isnull));
	if (isnull)
		sysid = 0;
	*paused = DatumGetBool(SPI_getbinval(tup, desc, pausedcol, &isnull));
	return dboid != MyDatabaseId || (uint64) sysid != GetSystemIdentifier();
}

/*
 * PauseForeignJob pauses a job that was created in another database (this
 * one is a copy): it is disabled with the reason in paused_reason and a
 * WARNING in the server log, unless its owner re-stamped it meanwhile.  Runs
 * the copy shows as unfinished were in progress in the original (a dump
 * taken during a run): they are marked failed.
 */
static void
PauseForeignJob(JobEntry *job)
{
	Oid			types[4] = {INT8OID, TEXTOID, OIDOID, INT8OID};
	Datum		values[4];
	char		sysid[32];

	job->enabled = false;
	job->run_requested = false;
	snprintf(sysid, sizeof(sysid), UINT64_FORMAT, GetSystemIdentifier());
	values[0] = Int64GetDatum(job->job_id);
	values[1] = CStringGetTextDatum("the job was created in another database and this database is a copy "
									"of it (pg_dump and restore, or CREATE DATABASE ... TEMPLATE); resume it "
									"here with mlops.alter_job(job_name, enabled => true)");
	values[2] = ObjectIdGetDatum(MyDatabaseId);
	values[3] = Int64GetDatum((int64) GetSystemIdentifier());
	BeginWork("mlops scheduler");
	if (SPI_execute_with_args("UPDATE mlops.jobs SET enabled = false, run_requested = false, paused_reason = $2 "
							  "WHERE job_id OPERATOR(pg_catalog.=) $1 AND paused_reason IS NULL "
							  "AND (home_database_oid OPERATOR(pg_catalog.<>) $3 "
							  "OR home_system_identifier OPERATOR(pg_catalog.<>) $4) "
							  "RETURNING job_name, owner_name, home_database_oid, home_system_identifier",
							  4, types, values, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not pause job " INT64_FORMAT, job->job_id);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char		home_sysid[32];

		snprintf(home_sysid, sizeof(home_sysid), UINT64_FORMAT,
				 (uint64) DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull)));
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mlops paused job " INT64_FORMAT " (\"%s\" of role %s): it was created in another database",
						job->job_id, SPI_getvalue(tup, desc, 1), SPI_getvalue(tup, desc, 2)),
				 errdetail("The job belongs to database OID %s of the cluster with system identifier %s; "
						   "this is database \"%s\" (OID %u) of the cluster with system identifier %s, a copy "
						   "made by pg_dump and restore or CREATE DATABASE ... TEMPLATE.",
						   SPI_getvalue(tup, desc, 3), home_sysid, get_database_name(MyDatabaseId),
						   MyDatabaseId, sysid),
				 errhint("If this database should run the job, its owner resumes it with mlops.alter_job(%s, enabled => true).",
						 quote_literal_cstr(SPI_getvalue(tup, desc, 1)))));
		if (job->run_id == 0)
			ExecuteWrite("UPDATE mlops.job_runs SET status = 'failed', "
						 "finished_at = pg_catalog.clock_timestamp(), "
						 "message = 'the run was in progress in the database this one is a copy of' "
						 "WHERE job_id OPERATOR(pg_catalog.=) $1 "
						 "AND status OPERATOR(pg_catalog.=) ANY ('{scheduled,running}'::text[])",
						 1, types, values, NULL);
	}
	EndWork();
}

/*
 * ReapRuns finishes the runs whose worker is gone.
 */
static void
ReapRuns(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	JobEntry   *job;
	List	   *done = NIL;
	ListCell   *lc;

	hash_seq_init(&seq, jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
	{
		bool		gone;

		if (job->run_id == 0)
			continue;
		LWLockAcquire(SchedulerLock(), LW_SHARED);
		gone = !(MlopsScheduler->job_slots[job->slotno].in_use &&
				 MlopsScheduler->job_slots[job->slotno].run_id == job->run_id);
		if (!gone && MlopsScheduler->job_slots[job->slotno].pid == 0)
		{
			pid_t		pid;

			/* the worker never started (or is about to) */
			if ((job->handle != NULL &&
				 GetBackgroundWorkerPid(job->handle, &pid) == BGWH_STOPPED) ||
				(job->handle == NULL &&
				 TimestampDifferenceExceeds(job->run_started, now, SLOT_START_TIMEOUT_MS)))
				gone = true;
		}
		LWLockRelease(SchedulerLock());
		if (gone)
			done = lappend(done, job);
	}
	foreach(lc, done)
	{
		job = lfirst(lc);
		ReleaseJobSlot(job->slotno, job->run_id);
		FinishRun(job, now);
	}
	list_free(done);
}

/*
 * FinishRun reads a finished run's outcome, records a crash the worker could
 * not record, and schedules a retry of a failure when retries remain.
 */
static void
FinishRun(JobEntry *job, TimestampTz now)
{
	Oid			types[3] = {INT8OID, INT4OID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	char	   *status = NULL;
	int64		run_id = job->run_id;

	job->run_id = 0;
	job->slotno = -1;
	job->cancelled = false;
	if (job->handle != NULL)
	{
		pfree(job->handle);
		job->handle = NULL;
	}

	BeginWork("mlops scheduler");
	values[0] = Int64GetDatum(run_id);
	ExecuteWrite("UPDATE mlops.job_runs SET status = 'failed', "
				 "finished_at = pg_catalog.clock_timestamp(), "
				 "message = 'the job worker exited before recording an outcome' "
				 "WHERE run_id OPERATOR(pg_catalog.=) $1 "
				 "AND status OPERATOR(pg_catalog.=) ANY ('{scheduled,running}'::text[])",
				 1, types, values, NULL);
	if (SPI_execute_with_args("SELECT status FROM mlops.job_runs WHERE run_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read job run " INT64_FORMAT, run_id);
	if (SPI_processed == 1)
		status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	if (status != NULL && strcmp(status, "succeeded") == 0)
		job->failures = 0;
	else if (status != NULL && strcmp(status, "cancelled") == 0)
	{
		/* a cancelled run is neither a failure nor retried */
	}
	else
	{
		job->failures++;
		if (job->failures <= job->max_retries)
		{
			int64		delay = job->retry_delay_ms;

			for (int i = 1; i < job->failures && delay < MAX_RETRY_DELAY_MS; i++)
				delay *= 2;
			delay = Min(delay, MAX_RETRY_DELAY_MS);
			job->next_run_at = Min(job->next_run_at, TimestampTzPlusMilliseconds(now, delay));
		}
		else
			job->failures = 0;
	}
	values[0] = Int64GetDatum(job->job_id);
	values[1] = Int32GetDatum(job->failures);
	values[2] = TimestampTzGetDatum(job->next_run_at);
	if (job->next_run_at == DT_NOEND)
		nulls[2] = 'n';
	if (job->seen)
		ExecuteWrite("UPDATE mlops.jobs SET failures = $2, next_run_at = $3 "
					 "WHERE job_id OPERATOR(pg_catalog.=) $1",
					 3, types, values, nulls);
	EndWork();

	if (!job->seen)
		hash_search(jobs, &job->job_id, HASH_REMOVE, NULL);
}

/*
 * CancelRuns terminates the workers of runs that were marked cancelled
 * (mlops.unschedule, mlops.alter_job(enabled => false)); it runs after a
 * reload, since those functions change mlops.jobs in the same transaction.
 */
static void
CancelRuns(void)
{
	HASH_SEQ_STATUS seq;
	JobEntry   *job;
	StringInfoData ids;
	List	   *active = NIL;

	initStringInfo(&ids);
	hash_seq_init(&seq, jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
	{
		if (job->run_id == 0 || job->cancelled || job->timed_out)
			continue;
		appendStringInfo(&ids, "%s" INT64_FORMAT, ids.len > 0 ? "," : "", job->run_id);
		active = lappend(active, job);
	}
	if (active == NIL)
		return;

	BeginWork("mlops scheduler: cancelling runs");
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(psprintf("{%s}", ids.data))};

		if (SPI_execute_with_args("SELECT run_id FROM mlops.job_runs "
								  "WHERE run_id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) "
								  "AND status OPERATOR(pg_catalog.=) 'cancelled'",
								  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read cancelled job runs");
	}
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));
		ListCell   *lc;

		foreach(lc, active)
		{
			job = lfirst(lc);
			if (job->run_id == run_id)
			{
				job->cancelled = true;
				SignalRun(job);
			}
		}
	}
	EndWork();
	list_free(active);
}

/*
 * SignalRun terminates the worker of a job's run (SIGTERM: the standard
 * die() handler aborts its transaction), if it has started.
 */
static void
SignalRun(JobEntry *job)
{
	LWLockAcquire(SchedulerLock(), LW_SHARED);
	if (job->slotno >= 0)
	{
		JobWorkerSlot *js = &MlopsScheduler->job_slots[job->slotno];

		if (js->in_use && js->run_id == job->run_id && js->pid != 0)
			kill(js->pid, SIGTERM);
	}
	LWLockRelease(SchedulerLock());
}

/*
 * LaunchDueJobs launches the due jobs that are not running, as many as the
 * free slots and the per-owner limit allow, owners taking turns (fair.c);
 * the others wait for a slot to be released.  The due jobs are collected
 * first: launching commits transactions, and a hash scan must not stay
 * open across them.
 */
static void
LaunchDueJobs(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	JobEntry   *job;
	List	   *due = NIL;
	ListCell   *lc;
	FairCandidate *cands;
	JobEntry  **entries;
	int		   *picked;
	HTAB	   *served;
	int			n = 0;
	int			n_picked;
	int			free_slots;

	hash_seq_init(&seq, jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
	{
		if (job->run_id != 0 || !job->seen || job->foreign)
			continue;
		if (job->run_requested ||
			(job->enabled && job->next_run_at <= TimestampTzPlusMilliseconds(now, PRELAUNCH_MS)))
			due = lappend(due, job);
	}
	if (due == NIL)
		return;

	cands = palloc(sizeof(FairCandidate) * list_length(due));
	entries = palloc(sizeof(JobEntry *) * list_length(due));
	picked = palloc(sizeof(int) * list_length(due));
	served = OwnersServed();
	foreach(lc, due)
	{
		job = lfirst(lc);
		cands[n].owner = job->owner;
		cands[n].owner_served = ((OwnerServedEntry *) hash_search(served, &job->owner, HASH_FIND, NULL))->served;
		cands[n].due = job->run_requested ? now : job->next_run_at;
		entries[n++] = job;
	}
	LWLockAcquire(SchedulerLock(), LW_SHARED);
	free_slots = mlops_max_running_jobs - SchedulerRunningJobs(MyDatabaseId);
	for (int i = 0; i < n; i++)
		cands[i].owner_running = SchedulerRunningJobsOf(MyDatabaseId, entries[i]->owner);
	LWLockRelease(SchedulerLock());

	n_picked = FairPick(cands, n, free_slots, mlops_max_running_jobs_per_owner, picked);
	if (n_picked < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory choosing which of %d due jobs to launch", n)));
	for (int i = 0; i < n_picked; i++)
	{
		if (!LaunchJob(entries[picked[i]], now))
			break;
	}
	list_free(due);
}

/*
 * OwnersServed returns a hash from each owner of a job to when that owner
 * last had a run launched: the highest launch_seq of its jobs (0: never,
 * since this scheduler started).
 */
static HTAB *
OwnersServed(void)
{
	HASH_SEQ_STATUS seq;
	JobEntry   *job;
	HASHCTL		ctl;
	HTAB	   *served;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(OwnerServedEntry);
	ctl.hcxt = CurrentMemoryContext;
	served = hash_create("mlops owners served", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	hash_seq_init(&seq, jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
	{
		bool		found;
		OwnerServedEntry *e = hash_search(served, &job->owner, HASH_ENTER, &found);

		e->served = found ? Max(e->served, job->launch_seq) : job->launch_seq;
	}
	return served;
}

/*
 * LaunchJob starts one run of a job.  It returns false when no worker slot
 * is free (the caller stops launching for now).
 */
static bool
LaunchJob(JobEntry *job, TimestampTz now)
{
	int			slotno;
	int64		run_id = 0;
	char	   *reason = NULL;

	slotno = ClaimJobSlot(job);
	if (slotno < 0)
		return false;

	if (!RecordLaunch(job, now, &run_id, &reason))
	{
		ReleaseJobSlot(slotno, 0);
		DisableJob(job, reason);
		return true;
	}

	/* the run is committed: now start its worker */
	{
		BackgroundWorker worker;
		int64		rid = run_id;
		MemoryContext oldcxt;

		LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
		MlopsScheduler->job_slots[slotno].run_id = rid;
		LWLockRelease(SchedulerLock());
		job->run_id = rid;
		job->slotno = slotno;
		job->run_started = Max(GetCurrentTimestamp(), job->run_due);
		job->timed_out = false;
		job->cancelled = false;
		job->launch_seq = ++launch_count;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = BGW_NEVER_RESTART;
		worker.bgw_main_arg = Int32GetDatum(slotno);
		worker.bgw_notify_pid = MyProcPid;
		memcpy(worker.bgw_extra, &rid, sizeof(rid));
		memcpy(worker.bgw_extra + sizeof(rid), &job->run_due, sizeof(TimestampTz));
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "mlops");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "MlopsJobWorkerMain");
		snprintf(worker.bgw_name, BGW_MAXLEN, MLOPS_JOB_APPNAME_PREFIX "run " INT64_FORMAT, rid);
		snprintf(worker.bgw_type, BGW_MAXLEN, "mlops job");
		oldcxt = MemoryContextSwitchTo(TopMemoryContext);
		if (!RegisterDynamicBackgroundWorker(&worker, &job->handle))
		{
			job->handle = NULL;
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not start a worker for job " INT64_FORMAT, job->job_id),
					 errhint("Raise max_worker_processes or lower mlops.max_running_jobs.")));
			/* ReapRuns records the failure at once */
			ReleaseJobSlot(slotno, rid);
		}
		MemoryContextSwitchTo(oldcxt);
	}
	return true;
}

/*
 * RecordLaunch commits the new run as 'scheduled' and advances the job's
 * next_run_at.  It returns false, with the reason, when the job cannot run
 * (its owner is gone or cannot log in, or recording failed).
 */
static bool
RecordLaunch(JobEntry *job, TimestampTz now, int64 *run_id, char **reason)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		BeginWork("mlops scheduler: launching a job");
		*reason = OwnerProblem(job->owner);
		if (*reason == NULL)
			*run_id = InsertRun(job, now);
		else
		{
			*reason = MemoryContextStrdup(loop_cxt, *reason);
			ok = false;
		}
		EndWork();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(loop_cxt);
		*reason = pstrdup(edata->message);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * OwnerProblem says why the job's owner cannot run it, or returns NULL.
 */
static char *
OwnerProblem(Oid owner)
{
	HeapTuple	roletup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(owner));
	char	   *reason = NULL;

	if (!HeapTupleIsValid(roletup))
		return psprintf("the owner of the job (role %u) no longer exists", owner);
	if (!((Form_pg_authid) GETSTRUCT(roletup))->rolcanlogin)
		reason = psprintf("the owner of the job, role \"%s\", cannot log in",
						  NameStr(((Form_pg_authid) GETSTRUCT(roletup))->rolname));
	ReleaseSysCache(roletup);
	return reason;
}

/*
 * InsertRun inserts the run row and moves next_run_at on (a run_job()
 * request leaves the schedule alone), inside the caller's SPI connection.
 */
static int64
InsertRun(JobEntry *job, TimestampTz now)
{
	Oid			types[5] = {INT8OID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, BOOLOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		scheduled_due = job->enabled &&
		job->next_run_at <= TimestampTzPlusMilliseconds(now, PRELAUNCH_MS);
	bool		only_requested = job->run_requested && !scheduled_due;
	TimestampTz due = scheduled_due ? job->next_run_at : now;
	TimestampTz next;
	bool		isnull;
	int64		run_id;

	if (only_requested)
		next = job->next_run_at;
	else
		next = ScheduleNextRun(&job->schedule,
							   job->next_run_at == DT_NOEND ? 0 : job->next_run_at, Max(now, due));
	values[0] = Int64GetDatum(job->job_id);
	values[1] = Int32GetDatum(job->failures + 1);
	values[2] = TimestampTzGetDatum(due);
	values[3] = TimestampTzGetDatum(next);
	values[4] = BoolGetDatum(only_requested);
	if (next == DT_NOEND)
		nulls[3] = 'n';
	if (SPI_execute_with_args("INSERT INTO mlops.job_runs (job_id, owner, attempt, status, due_at, command, job_name) "
							  "SELECT job_id, owner, $2, 'scheduled', $3, command, job_name FROM mlops.jobs "
							  "WHERE job_id OPERATOR(pg_catalog.=) $1 RETURNING run_id",
							  3, types, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not record a run of job " INT64_FORMAT, job->job_id);
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ExecuteWrite("UPDATE mlops.jobs SET last_run_at = $3, run_requested = false, "
				 "next_run_at = CASE WHEN $5 THEN next_run_at ELSE $4 END "
				 "WHERE job_id OPERATOR(pg_catalog.=) $1",
				 5, types, values, nulls);
	job->next_run_at = next;
	job->run_requested = false;
	job->run_due = due;
	return run_id;
}

/*
 * ClaimJobSlot reserves a worker slot for a job if this database's limit
 * (mlops.max_running_jobs) and its owner's (mlops.max_running_jobs_per_owner)
 * allow; it returns the slot number or -1.
 */
static int
ClaimJobSlot(JobEntry *job)
{
	int			slotno = -1;

	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	if (SchedulerRunningJobs(MyDatabaseId) < mlops_max_running_jobs &&
		SchedulerRunningJobsOf(MyDatabaseId, job->owner) < mlops_max_running_jobs_per_owner)
	{
		for (int i = 0; i < MlopsScheduler->num_job_slots; i++)
		{
			JobWorkerSlot *js = &MlopsScheduler->job_slots[i];

			if (!js->in_use)
			{
				memset(js, 0, sizeof(*js));
				js->in_use = true;
				js->dboid = MyDatabaseId;
				js->owner = job->owner;
				js->job_id = job->job_id;
				js->claimed_at = GetCurrentTimestamp();
				slotno = i;
				break;
			}
		}
	}
	LWLockRelease(SchedulerLock());
	return slotno;
}

/*
 * ReleaseJobSlot frees a slot that still belongs to the given run (0: a
 * slot claimed but not yet given a run).
 */
static void
ReleaseJobSlot(int slotno, int64 run_id)
{
	JobWorkerSlot *js;

	if (slotno < 0)
		return;
	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	js = &MlopsScheduler->job_slots[slotno];
	if (js->in_use && js->dboid == MyDatabaseId && js->run_id == run_id)
		memset(js, 0, sizeof(*js));
	LWLockRelease(SchedulerLock());
}

/*
 * EnforceTimeouts marks runs that overstay their max_runtime as timed out
 * and terminates their workers.
 */
static void
EnforceTimeouts(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	JobEntry   *job;
	List	   *late = NIL;
	ListCell   *lc;

	hash_seq_init(&seq, jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
	{
		if (job->run_id != 0 && job->max_runtime_ms > 0 && !job->timed_out &&
			now > TimestampTzPlusMilliseconds(job->run_started, job->max_runtime_ms))
			late = lappend(late, job);
	}
	foreach(lc, late)
	{
		Oid			types[2] = {INT8OID, TEXTOID};
		Datum		values[2];

		job = lfirst(lc);
		job->timed_out = true;
		values[0] = Int64GetDatum(job->run_id);
		values[1] = CStringGetTextDatum(psprintf("the run exceeded its max_runtime of " INT64_FORMAT " ms",
												 job->max_runtime_ms));
		BeginWork("mlops scheduler");
		ExecuteWrite("UPDATE mlops.job_runs SET status = 'timed_out', "
					 "finished_at = pg_catalog.clock_timestamp(), message = $2 "
					 "WHERE run_id OPERATOR(pg_catalog.=) $1 "
					 "AND status OPERATOR(pg_catalog.=) ANY ('{scheduled,running}'::text[])",
					 2, types, values, NULL);
		EndWork();
		SignalRun(job);
	}
	list_free(late);
}

/*
 * TrimHistory deletes finished runs older than mlops.job_history_days, at
 * most once an hour.
 */
static void
TrimHistory(TimestampTz now)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1];

	if (last_trim != 0 && !TimestampDifferenceExceeds(last_trim, now, TRIM_INTERVAL_MS))
		return;
	last_trim = now;
	values[0] = Int32GetDatum(mlops_job_history_days);
	BeginWork("mlops scheduler: trimming history");
	ExecuteWrite("DELETE FROM mlops.job_runs WHERE finished_at OPERATOR(pg_catalog.<) "
				 "(pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => $1))",
				 1, types, values, NULL);
	ExecuteWrite("DELETE FROM mlops.pipeline_runs WHERE finished_at OPERATOR(pg_catalog.<) "
				 "(pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => $1))",
				 1, types, values, NULL);
	EndWork();
}

/*
 * CheckDeployments runs mlops.check_deployments() every
 * mlops.deployment_check_interval seconds (never when it is 0).  An error
 * rolls its transaction back and is logged; the scheduler carries on.
 */
static void
CheckDeployments(TimestampTz now)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (mlops_deployment_check_interval <= 0 ||
		(last_deployment_check != 0 &&
		 !TimestampDifferenceExceeds(last_deployment_check, now, mlops_deployment_check_interval * 1000)))
		return;
	last_deployment_check = now;
	PG_TRY();
	{
		BeginWork("mlops scheduler: checking deployments");
		if (SPI_execute("SELECT pg_catalog.count(*) FROM mlops.check_deployments()", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "mlops.check_deployments() failed");
		EndWork();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(loop_cxt);
	}
	PG_END_TRY();
}

/*
 * NextWakeMs returns how long the scheduler may sleep: until the earliest
 * due job, run deadline or worker start check, at most a minute.
 */
static long
NextWakeMs(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	JobEntry   *job;
	TimestampTz wake = TimestampTzPlusMilliseconds(now, SCHEDULER_MAX_SLEEP_MS);
	bool		have_waiting_runs = false;

	hash_seq_init(&seq, jobs);
	while ((job = hash_seq_search(&seq)) != NULL)
	{
		if (job->run_id != 0)
		{
			if (job->max_runtime_ms > 0 && !job->timed_out)
				wake = Min(wake, TimestampTzPlusMilliseconds(job->run_started, job->max_runtime_ms));
			if (job->handle == NULL)
				wake = Min(wake, TimestampTzPlusMilliseconds(job->run_started, SLOT_START_TIMEOUT_MS));
			continue;
		}
		if (!job->seen || job->foreign)
			continue;
		if (job->run_requested)
			have_waiting_runs = true;
		else if (job->enabled)
		{
			TimestampTz launch_at = TimestampTzPlusMilliseconds(job->next_run_at, -PRELAUNCH_MS);

			if (launch_at <= now)
				have_waiting_runs = true;
			else
				wake = Min(wake, launch_at);
		}
	}
	if (mlops_deployment_check_interval > 0)
		wake = Min(wake, TimestampTzPlusMilliseconds(last_deployment_check != 0 ? last_deployment_check : now,
													  mlops_deployment_check_interval * 1000));
	/* due jobs that found no free slot: a finishing worker sets our latch */
	if (have_waiting_runs)
		wake = Min(wake, TimestampTzPlusMilliseconds(now, 1000));
	if (wake <= now)
		return 0;
	/* round up so we never wake a moment before a job is due */
	return (long) ((wake - now + 999) / 1000);
}

/*
 * DisableJob turns a job off and records why, so the scheduler never loops
 * on a row it cannot run.
 */
static void
DisableJob(JobEntry *job, const char *reason)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("mlops disabled job " INT64_FORMAT, job->job_id),
			 errdetail("The job was disabled because %s.", reason)));
	job->enabled = false;
	job->run_requested = false;
	values[0] = Int64GetDatum(job->job_id);
	values[1] = CStringGetTextDatum(reason);
	BeginWork("mlops scheduler");
	ExecuteWrite("UPDATE mlops.jobs SET enabled = false, run_requested = false, "
				 "disabled_reason = $2 WHERE job_id OPERATOR(pg_catalog.=) $1",
				 2, types, values, NULL);
	EndWork();
}

/*
 * ExecuteWrite runs one data-changing statement on mlops' own tables inside
 * the caller's SPI connection.
 */
static void
ExecuteWrite(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);

	if (rc < 0)
		elog(ERROR, "mlops scheduler statement failed (%s): %s", SPI_result_code_string(rc), sql);
}

/*
 * BeginWork starts a transaction with an SPI connection and a snapshot for
 * the scheduler's own reads and writes, and shows what it does in
 * pg_stat_activity.
 */
static void
BeginWork(const char *activity)
{
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

/*
 * EndWork commits what BeginWork started and returns to the loop's memory
 * context (commit leaves CurrentMemoryContext at TopMemoryContext).
 */
static void
EndWork(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(loop_cxt);
}
