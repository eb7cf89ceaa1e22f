/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Registration of every mlops.* setting, and reservation of the prefix
 *	  so a misspelt mlops.* setting is an error rather than a silent
 *	  placeholder.  Each setting is documented in docs/settings.md.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "pgtime.h"
#include "utils/guc.h"

#include "common/common.h"

int			mlops_train_threads = 0;
int			mlops_predict_threads = 0;
int			mlops_model_cache_mb = 256;
int			mlops_max_train_cells_m = 1500;
int			mlops_train_progress_rounds = 10;
int			mlops_max_model_mb = 64;
char	   *mlops_timezone = NULL;
int			mlops_job_history_days = 30;
int			mlops_max_running_jobs = 4;
int			mlops_max_running_jobs_per_owner = 2;
int			mlops_monitor_min_rows = 30;
int			mlops_deployment_check_interval = 60;
bool		mlops_native_tree_walk = true;

/* resource limits of training and serving (docs/settings.md, "Limits") */
int			mlops_max_threads = 4;
int			mlops_max_train_memory_mb = 4096;
int			mlops_training_set_memory_mb = 1024;
static int	server_cpus = 1;

static bool CheckTimezone(char **newval, void **extra, GucSource source);
static void DefineLimitSettings(void);

/*
 * MlopsGucInit registers every mlops.* setting.
 */
void
MlopsGucInit(void)
{
	DefineCustomIntVariable("mlops.train_threads",
							"Threads XGBoost uses for training (0 = number of CPU cores).",
							"A hyperparams nthread value overrides it for one training; mlops.max_threads caps both.",
							&mlops_train_threads, 0, 0, MLOPS_THREADS_LIMIT,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.predict_threads",
							"Threads XGBoost uses for batch predictions (0 = number of CPU cores).",
							"Predictions of a few rows always run on one thread; mlops.max_threads caps it.",
							&mlops_predict_threads, 0, 0, MLOPS_THREADS_LIMIT,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("mlops.native_tree_walk",
							 "Predicts calls of a few rows, and predict_table on two threads, by walking the cached model's trees without XGBoost's C API.",
							 "Used only for gbtree models whose walk matched XGBoost bit for bit when it was built, on the model's first such call.",
							 &mlops_native_tree_walk, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.model_cache_mb",
							"Upper bound of the per-backend cache of loaded models, in megabytes.",
							"Least recently used models are evicted beyond it.",
							&mlops_model_cache_mb, 256, 1, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.max_train_cells",
							"Largest training matrix, in millions of cells (rows times features).",
							NULL,
							&mlops_max_train_cells_m, 1500, 1, 100000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.train_progress_rounds",
							"Rounds between the INFO progress lines of mlops.train (0 = none).",
							"mlops.training_progress shows every round regardless.",
							&mlops_train_progress_rounds, 10, 0, 1000000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.max_model_mb",
							"Largest model accepted by import_model, in megabytes.",
							NULL,
							&mlops_max_model_mb, 64, 1, 1024,
							PGC_SUSET, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomStringVariable("mlops.timezone",
							   "Time zone in which job schedules are evaluated.",
							   NULL,
							   &mlops_timezone, "UTC",
							   PGC_SIGHUP, 0, CheckTimezone, NULL, NULL);
	DefineCustomIntVariable("mlops.job_history_days",
							"Days of job run history kept before it is trimmed.",
							NULL,
							&mlops_job_history_days, 30, 1, 36500,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.deployment_check_interval",
							"Seconds between the scheduler's checks of active deployments (0: never).",
							"The scheduler calls mlops.check_deployments() this often: automatic rollbacks and canary steps.",
							&mlops_deployment_check_interval, 60, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.max_running_jobs",
							"Job runs that may execute at the same time in one database.",
							NULL,
							&mlops_max_running_jobs, 4, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.max_running_jobs_per_owner",
							"Job runs of one owner that may execute at the same time in one database.",
							"Keeps one role's jobs from taking every slot of mlops.max_running_jobs.",
							&mlops_max_running_jobs_per_owner, 2, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("mlops.monitor_min_rows",
							"Labelled predictions a degradation check needs before it judges.",
							"With fewer, check_degradation reports insufficient data instead of a verdict.",
							&mlops_monitor_min_rows, 30, 1, 10000000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.training_set_memory_mb",
							"Most memory create_training_set may use to join in memory, in megabytes (0: never in memory).",
							"A larger join runs as SQL in PostgreSQL's executor, which spills to disk within work_mem; the result is the same.",
							&mlops_training_set_memory_mb, 1024, 0, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineLimitSettings();
}

/*
 * MlopsGucReservePrefix reserves the "mlops." prefix: an unknown mlops.*
 * setting is then refused.  _PG_init calls it last, after every subsystem
 * has defined its settings, because reserving drops the placeholders that
 * hold values read from postgresql.conf for settings not yet defined.
 */
void
MlopsGucReservePrefix(void)
{
	MarkGUCPrefixReserved("mlops");
}

/*
 * CheckTimezone accepts mlops.timezone only if PostgreSQL's timezone library
 * knows the zone.
 */
static bool
CheckTimezone(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || pg_tzset(*newval) == NULL)
	{
		GUC_check_errdetail("Time zone \"%s\" is not known.", *newval ? *newval : "");
		GUC_check_errhint("Use a name from pg_timezone_names, such as 'UTC' or 'Europe/Berlin'.");
		return false;
	}
	return true;
}

/*
 * DefineLimitSettings registers the resource limits of training and
 * serving: mlops.max_threads (default: the server's CPUs, at most
 * MLOPS_THREADS_LIMIT) and mlops.max_train_memory_mb.  Both are superuser
 * settings, so a user can lower them for a session but never raise them.
 */
static void
DefineLimitSettings(void)
{
	long		cpus = sysconf(_SC_NPROCESSORS_ONLN);

	server_cpus = (int) Max(1, Min(cpus, MLOPS_THREADS_LIMIT));
	mlops_max_threads = server_cpus;
	DefineCustomIntVariable("mlops.max_threads",
							"Most threads one training or prediction may use.",
							"Caps mlops.train_threads, mlops.predict_threads and the nthread hyperparameter; the default is the number of CPUs.",
							&mlops_max_threads, server_cpus, 1, MLOPS_THREADS_LIMIT,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.max_train_memory_mb",
							"Largest estimated memory of one training, in megabytes.",
							"A training whose estimate (matrix, quantile bins, histograms, trees) exceeds it is refused before it starts.",
							&mlops_max_train_memory_mb, 4096, 16, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_MB, NULL, NULL, NULL);
}

/*
 * MlopsEffectiveThreads returns the threads to use for a requested count
 * (a setting or the nthread hyperparameter): 0 means the server's CPUs,
 * and the result never exceeds mlops.max_threads.
 */
int
MlopsEffectiveThreads(int requested)
{
	int			n = requested > 0 ? requested : server_cpus;

	return Max(1, Min(n, mlops_max_threads));
}
