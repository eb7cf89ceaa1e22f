/*
 * scheduler.h
 *	  Background-worker scheduler: shared state between the launcher, the
 *	  per-database schedulers, the per-run job workers and ordinary backends.
 */
#ifndef MLOPS_SCHEDULER_H
#define MLOPS_SCHEDULER_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "sched/cron.h"

/* how many databases the launcher can serve at once */
#define MLOPS_MAX_SCHEDULER_DBS 64

/* application_name prefixes shown in pg_stat_activity */
#define MLOPS_LAUNCHER_APPNAME "mlops launcher"
#define MLOPS_SCHEDULER_APPNAME "mlops scheduler"
#define MLOPS_JOB_APPNAME_PREFIX "mlops job "

/* one database the launcher knows about */
typedef struct SchedulerDbSlot
{
	Oid			dboid;			/* InvalidOid: free slot */
	pid_t		scheduler_pid;	/* 0 when no scheduler runs */
	Latch	   *scheduler_latch;	/* set to wake the scheduler */
	bool		no_extension;	/* scheduler found mlops not installed */
	TimestampTz paused_until;	/* DROP DATABASE in progress: do not start */
	TimestampTz restart_after;	/* back-off after a scheduler failure */
	uint64		jobs_generation;	/* bumped by every committed job change */
} SchedulerDbSlot;

/* one running job worker */
typedef struct JobWorkerSlot
{
	bool		in_use;
	Oid			dboid;
	Oid			owner;
	int64		job_id;
	int64		run_id;
	pid_t		pid;			/* 0 until the worker starts */
	TimestampTz claimed_at;
} JobWorkerSlot;

typedef struct SchedulerShared
{
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	bool		rescan_requested;	/* CREATE EXTENSION: look again */
	uint64		install_count;	/* bumped by every CREATE EXTENSION mlops */
	SchedulerDbSlot dbs[MLOPS_MAX_SCHEDULER_DBS];
	int			num_job_slots;
	JobWorkerSlot job_slots[FLEXIBLE_ARRAY_MEMBER];
} SchedulerShared;

extern SchedulerShared *MlopsScheduler;

/* scheduler.c: shared memory, launcher, hooks */
extern void SchedulerInit(void);
extern LWLock *SchedulerLock(void);
extern SchedulerDbSlot *SchedulerFindDb(Oid dboid);
extern void SchedulerWakeDb(Oid dboid);
extern void SchedulerWakeLauncher(bool rescan);
extern int	SchedulerRunningJobs(Oid dboid);
extern int	SchedulerRunningJobsOf(Oid dboid, Oid owner);
extern void SchedulerHandleInterrupts(void);
extern void SchedulerSleep(long wait_ms);

/* cron_pg.c: schedules in PostgreSQL terms (mlops.timezone, timestamptz) */
extern void ScheduleParse(const char *text, CronSchedule *out);
extern TimestampTz ScheduleNextRun(const CronSchedule *s, TimestampTz due, TimestampTz now);

PGDLLEXPORT void MlopsLauncherMain(Datum arg);
PGDLLEXPORT void MlopsSchedulerMain(Datum arg);
PGDLLEXPORT void MlopsJobWorkerMain(Datum arg);

/* scheduler_db.c: set while the running process is a per-database scheduler */
extern bool SchedulerIsSelf;

#endif							/* MLOPS_SCHEDULER_H */
