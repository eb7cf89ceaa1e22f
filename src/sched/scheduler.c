/*
 * scheduler.c
 *	  Shared memory, launcher and database-level hooks of the job scheduler.
 *
 * Design
 * ------
 * Three kinds of background worker run jobs:
 *
 *   launcher (one, registered at preload, starts after recovery so a hot
 *     standby never schedules) connects to no database, reads pg_database
 *     and starts one scheduler per connectable database.  A scheduler that
 *     finds mlops not installed exits and marks its slot "no_extension"; the
 *     launcher leaves that database alone until CREATE EXTENSION mlops asks
 *     it to look again (mlops._scheduler_installed() wakes it at commit).
 *     A scheduler that fails is restarted after a pause, so a broken
 *     database never makes the launcher spin.
 *
 *   scheduler (one per database with mlops, scheduler_db.c) keeps the jobs in
 *     memory, launches due runs and watches them.
 *
 *   job worker (one per run, jobworker.c) connects as the job's owner, runs
 *     the command and records the outcome.
 *
 * Shared memory (SchedulerShared, one LWLock) holds a slot per database
 * (scheduler pid and latch, a generation counter bumped by committed job
 * changes) and a slot per running job worker (database, job, run, pid).  The
 * job slots bound concurrency per database (mlops.max_running_jobs) and per
 * owner in a database (mlops.max_running_jobs_per_owner; the slots
 * themselves are bounded by max_worker_processes) and let a scheduler that
 * restarted recognise runs whose worker is gone.
 *
 * DROP DATABASE (and CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... RENAME)
 * need the database to have no other sessions: the utility hook pauses that
 * database's slot for a while and sends SIGTERM to its scheduler and job
 * workers before the command runs, so it is never blocked by us.  When a
 * command other than DROP DATABASE has finished (or failed), the pause ends
 * and the launcher starts the database's scheduler again at once.
 *
 * Locking: SchedulerLock() guards every field of SchedulerShared except
 * launcher_latch/scheduler_latch reads for SetLatch (a latch pointer is set
 * once by its process and cleared at its exit; SetLatch on a stale latch is
 * harmless).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "sched/sched.h"

/* how often the launcher looks for new databases */
#define LAUNCHER_NAPTIME_MS 10000
/* pause before restarting a scheduler that exited unexpectedly */
#define SCHEDULER_RESTART_DELAY_MS 5000
/* how long a database stays paused for DROP DATABASE and friends */
#define DATABASE_PAUSE_MS 30000

SchedulerShared *MlopsScheduler = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;
static bool install_wake_registered = false;

/* launcher-local: handles of the schedulers it started, by db slot */
static BackgroundWorkerHandle *scheduler_handles[MLOPS_MAX_SCHEDULER_DBS];

static Size SchedulerShmemSize(void);
static void SchedulerShmemRequest(void);
static void SchedulerShmemStartup(void);
static void SchedulerProcessUtility(PlannedStmt *pstmt, const char *queryString,
									bool readOnlyTree, ProcessUtilityContext context,
									ParamListInfo params, QueryEnvironment *queryEnv,
									DestReceiver *dest, QueryCompletion *qc);
static Oid	PauseDatabase(const char *dbname);
static void ResumeDatabase(Oid dboid);
static void LauncherDetach(int code, Datum arg);
static int	LauncherScan(void);
static void LauncherStartScheduler(int slotno, Oid dboid);
static void InstallWakeCallback(XactEvent event, void *arg);

PG_FUNCTION_INFO_V1(mlops__scheduler_installed);

/*
 * SchedulerInit registers the launcher and the shared memory and utility
 * hooks.  Outside shared_preload_libraries it does nothing: the SQL API then
 * explains that the scheduler needs preloading.
 */
void
SchedulerInit(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = SchedulerShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = SchedulerShmemStartup;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = SchedulerProcessUtility;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mlops");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "MlopsLauncherMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, MLOPS_LAUNCHER_APPNAME);
	snprintf(worker.bgw_type, BGW_MAXLEN, MLOPS_LAUNCHER_APPNAME);
	RegisterBackgroundWorker(&worker);
}

/*
 * SchedulerShmemSize returns the size of SchedulerShared with one job slot
 * per possible background worker.
 */
static Size
SchedulerShmemSize(void)
{
	return add_size(offsetof(SchedulerShared, job_slots),
					mul_size(max_worker_processes, sizeof(JobWorkerSlot)));
}

/*
 * SchedulerShmemRequest asks for the shared memory and the lock.
 */
static void
SchedulerShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(SchedulerShmemSize());
	RequestNamedLWLockTranche("mlops_scheduler", 1);
}

/*
 * SchedulerShmemStartup creates or attaches to the shared state.
 */
static void
SchedulerShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	MlopsScheduler = ShmemInitStruct("mlops scheduler", SchedulerShmemSize(), &found);
	if (!found)
	{
		memset(MlopsScheduler, 0, SchedulerShmemSize());
		MlopsScheduler->num_job_slots = max_worker_processes;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * SchedulerLock returns the lock that guards the shared state.
 */
LWLock *
SchedulerLock(void)
{
	static LWLock *lock = NULL;

	if (lock == NULL)
		lock = &(GetNamedLWLockTranche("mlops_scheduler"))->lock;
	return lock;
}

/*
 * SchedulerFindDb returns the slot of a database, or NULL.  Caller holds the
 * lock.
 */
SchedulerDbSlot *
SchedulerFindDb(Oid dboid)
{
	for (int i = 0; i < MLOPS_MAX_SCHEDULER_DBS; i++)
	{
		if (MlopsScheduler->dbs[i].dboid == dboid)
			return &MlopsScheduler->dbs[i];
	}
	return NULL;
}

/*
 * SchedulerWakeDb tells the scheduler of a database that its jobs changed:
 * it bumps the generation counter and sets the scheduler's latch.
 */
void
SchedulerWakeDb(Oid dboid)
{
	SchedulerDbSlot *slot;
	Latch	   *latch = NULL;

	if (MlopsScheduler == NULL)
		return;
	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	slot = SchedulerFindDb(dboid);
	if (slot != NULL)
	{
		slot->jobs_generation++;
		latch = slot->scheduler_latch;
	}
	LWLockRelease(SchedulerLock());
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * SchedulerWakeLauncher wakes the launcher; with rescan, it also asks it to
 * check again the databases where mlops was not installed.
 */
void
SchedulerWakeLauncher(bool rescan)
{
	Latch	   *latch;

	if (MlopsScheduler == NULL)
		return;
	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	if (rescan)
	{
		MlopsScheduler->rescan_requested = true;
		MlopsScheduler->install_count++;
	}
	latch = MlopsScheduler->launcher_latch;
	LWLockRelease(SchedulerLock());
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * SchedulerRunningJobs counts the job workers running in a database.
 * Caller holds the lock.
 */
int
SchedulerRunningJobs(Oid dboid)
{
	int			n = 0;

	for (int i = 0; i < MlopsScheduler->num_job_slots; i++)
	{
		if (MlopsScheduler->job_slots[i].in_use && MlopsScheduler->job_slots[i].dboid == dboid)
			n++;
	}
	return n;
}

/*
 * SchedulerRunningJobsOf counts the job workers running in a database for
 * one owner.  Caller holds the lock.
 */
int
SchedulerRunningJobsOf(Oid dboid, Oid owner)
{
	int			n = 0;

	for (int i = 0; i < MlopsScheduler->num_job_slots; i++)
	{
		JobWorkerSlot *js = &MlopsScheduler->job_slots[i];

		if (js->in_use && js->dboid == dboid && js->owner == owner)
			n++;
	}
	return n;
}

/*
 * mlops__scheduler_installed is called by the install script: when the
 * installing transaction commits, the launcher looks for the new database.
 */
Datum
mlops__scheduler_installed(PG_FUNCTION_ARGS)
{
	if (MlopsScheduler != NULL && !install_wake_registered)
	{
		RegisterXactCallback(InstallWakeCallback, NULL);
		install_wake_registered = true;
	}
	PG_RETURN_VOID();
}

/*
 * InstallWakeCallback wakes the launcher when the installing transaction
 * commits (the new rows are visible by then).
 */
static void
InstallWakeCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT)
	{
		elog(DEBUG1, "mlops installed in database %u: waking the launcher", MyDatabaseId);
		SchedulerWakeLauncher(true);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
	{
		UnregisterXactCallback(InstallWakeCallback, NULL);
		install_wake_registered = false;
	}
}

/*
 * SchedulerProcessUtility makes way for commands that need a database to
 * have no other sessions before passing every statement on.
 */
static void
SchedulerProcessUtility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	volatile Oid paused = InvalidOid;

	if (MlopsScheduler != NULL)
	{
		if (IsA(parsetree, DropdbStmt))
			(void) PauseDatabase(((DropdbStmt *) parsetree)->dbname);
		else if (IsA(parsetree, RenameStmt) &&
				 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
			paused = PauseDatabase(((RenameStmt *) parsetree)->subname);
		else if (IsA(parsetree, AlterDatabaseStmt))
		{
			/* only SET TABLESPACE needs the database to itself */
			ListCell   *lc;

			foreach(lc, ((AlterDatabaseStmt *) parsetree)->options)
			{
				if (strcmp(lfirst_node(DefElem, lc)->defname, "tablespace") == 0)
					paused = PauseDatabase(((AlterDatabaseStmt *) parsetree)->dbname);
			}
		}
		else if (IsA(parsetree, CreatedbStmt))
		{
			ListCell   *lc;

			foreach(lc, ((CreatedbStmt *) parsetree)->options)
			{
				DefElem    *def = lfirst_node(DefElem, lc);

				if (strcmp(def->defname, "template") == 0)
					paused = PauseDatabase(defGetString(def));
			}
		}
	}

	PG_TRY();
	{
		if (prev_process_utility_hook)
			prev_process_utility_hook(pstmt, queryString, readOnlyTree, context,
									  params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		if (OidIsValid(paused))
			ResumeDatabase(paused);
	}
	PG_END_TRY();
}

/*
 * PauseDatabase stops the scheduler and job workers of a database and keeps
 * the launcher from restarting them for a while.  The command that follows
 * waits (up to five seconds, as for any session) for them to exit.  It
 * returns the database's OID (InvalidOid if there is no such database).
 */
static Oid
PauseDatabase(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	SchedulerDbSlot *slot;

	if (!OidIsValid(dboid))
		return InvalidOid;
	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	slot = SchedulerFindDb(dboid);
	if (slot != NULL)
	{
		slot->paused_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														 DATABASE_PAUSE_MS);
		if (slot->scheduler_pid != 0)
			kill(slot->scheduler_pid, SIGTERM);
	}
	for (int i = 0; i < MlopsScheduler->num_job_slots; i++)
	{
		JobWorkerSlot *js = &MlopsScheduler->job_slots[i];

		if (js->in_use && js->dboid == dboid && js->pid != 0)
			kill(js->pid, SIGTERM);
	}
	LWLockRelease(SchedulerLock());
	return dboid;
}

/*
 * ResumeDatabase ends the pause of a database once the command that needed
 * it alone has finished, and wakes the launcher to start its scheduler.
 */
static void
ResumeDatabase(Oid dboid)
{
	SchedulerDbSlot *slot;

	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	slot = SchedulerFindDb(dboid);
	if (slot != NULL)
		slot->paused_until = 0;
	LWLockRelease(SchedulerLock());
	SchedulerWakeLauncher(false);
}

/*
 * MlopsLauncherMain is the launcher's entry point: it starts and watches one
 * scheduler per database until it is told to stop.
 */
void
MlopsLauncherMain(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname(MLOPS_LAUNCHER_APPNAME);

	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	MlopsScheduler->launcher_pid = MyProcPid;
	MlopsScheduler->launcher_latch = MyLatch;
	/* a new launcher (server start or crash restart) checks every database */
	MlopsScheduler->rescan_requested = true;
	LWLockRelease(SchedulerLock());
	before_shmem_exit(LauncherDetach, (Datum) 0);

	for (;;)
	{
		SchedulerHandleInterrupts();
		SchedulerSleep(LauncherScan());
	}
}

/*
 * SchedulerHandleInterrupts serves the pending interrupts of a background
 * worker's loop (the launcher's, a scheduler's) and rereads the
 * configuration after a SIGHUP.
 */
void
SchedulerHandleInterrupts(void)
{
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/*
 * SchedulerSleep waits on the process latch for at most wait_ms milliseconds
 * when wait_ms is positive (the death of the postmaster ends the process),
 * then resets the latch.
 */
void
SchedulerSleep(long wait_ms)
{
	if (wait_ms > 0)
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
}

/*
 * LauncherDetach forgets the launcher's latch when it exits.
 */
static void
LauncherDetach(int code, Datum arg)
{
	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	MlopsScheduler->launcher_pid = 0;
	MlopsScheduler->launcher_latch = NULL;
	LWLockRelease(SchedulerLock());
}

/*
 * LauncherScan reads pg_database, starts the schedulers that should run and
 * forgets dropped databases.  It returns how long to sleep.
 */
static int
LauncherScan(void)
{
	Oid			dboids[MLOPS_MAX_SCHEDULER_DBS];
	int			ndbs = 0;
	bool		rescan;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	TimestampTz now;
	int			wait_ms = LAUNCHER_NAPTIME_MS;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!db->datallowconn || db->datistemplate ||
			db->datconnlimit == DATCONNLIMIT_INVALID_DB)
			continue;
		if (ndbs == MLOPS_MAX_SCHEDULER_DBS)
		{
			ereport(WARNING,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("mlops launcher serves at most %d databases", MLOPS_MAX_SCHEDULER_DBS),
					 errdetail("Database \"%s\" gets no scheduler.", NameStr(db->datname))));
			continue;
		}
		dboids[ndbs++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	now = GetCurrentTimestamp();
	LWLockAcquire(SchedulerLock(), LW_EXCLUSIVE);
	rescan = MlopsScheduler->rescan_requested;
	MlopsScheduler->rescan_requested = false;
	elog(DEBUG1, "mlops launcher scans %d databases%s", ndbs, rescan ? " (rescan)" : "");

	/* reap stopped schedulers; forget dropped databases */
	for (int i = 0; i < MLOPS_MAX_SCHEDULER_DBS; i++)
	{
		SchedulerDbSlot *slot = &MlopsScheduler->dbs[i];
		bool		listed = false;

		if (scheduler_handles[i] != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(scheduler_handles[i], &pid) == BGWH_STOPPED)
			{
				pfree(scheduler_handles[i]);
				scheduler_handles[i] = NULL;
				if (!slot->no_extension)
					slot->restart_after = TimestampTzPlusMilliseconds(now, SCHEDULER_RESTART_DELAY_MS);
			}
		}
		if (slot->dboid == InvalidOid)
			continue;
		for (int k = 0; k < ndbs; k++)
			listed |= (dboids[k] == slot->dboid);
		if (!listed && scheduler_handles[i] == NULL && slot->scheduler_pid == 0)
			memset(slot, 0, sizeof(*slot));
		if (rescan)
			slot->no_extension = false;
	}

	for (int k = 0; k < ndbs; k++)
	{
		SchedulerDbSlot *slot = SchedulerFindDb(dboids[k]);
		int			slotno;

		if (slot == NULL)
		{
			slot = SchedulerFindDb(InvalidOid);
			if (slot == NULL)
				continue;
			memset(slot, 0, sizeof(*slot));
			slot->dboid = dboids[k];
		}
		slotno = (int) (slot - MlopsScheduler->dbs);
		if (scheduler_handles[slotno] != NULL || slot->scheduler_pid != 0 || slot->no_extension)
			continue;
		if (slot->paused_until > now || slot->restart_after > now)
		{
			TimestampTz until = Max(slot->paused_until, slot->restart_after);
			long		ms = TimestampDifferenceMilliseconds(now, until) + 10;

			wait_ms = Min(wait_ms, (int) ms);
			continue;
		}
		LauncherStartScheduler(slotno, dboids[k]);
	}
	LWLockRelease(SchedulerLock());
	return wait_ms;
}

/*
 * LauncherStartScheduler registers the scheduler of one database.  Caller
 * holds the lock.
 */
static void
LauncherStartScheduler(int slotno, Oid dboid)
{
	BackgroundWorker worker;
	MemoryContext oldcxt;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mlops");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "MlopsSchedulerMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, MLOPS_SCHEDULER_APPNAME " for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, MLOPS_SCHEDULER_APPNAME);
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &scheduler_handles[slotno]))
	{
		scheduler_handles[slotno] = NULL;
		MlopsScheduler->dbs[slotno].restart_after =
			TimestampTzPlusMilliseconds(GetCurrentTimestamp(), SCHEDULER_RESTART_DELAY_MS);
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the mlops scheduler for database %u", dboid),
				 errhint("Raise max_worker_processes.")));
	}
	MemoryContextSwitchTo(oldcxt);
}
