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

#include "pgtime.h"
#include "utils/guc.h"

#include "common/common.h"

int			mlops_train_threads = 0;
int			mlops_predict_threads = 0;
int			mlops_model_cache_mb = 256;
int			mlops_max_train_cells_m = 500;
int			mlops_train_progress_rounds = 10;
int			mlops_max_model_mb = 64;
char	   *mlops_timezone = NULL;
int			mlops_job_history_days = 30;
int			mlops_max_running_jobs = 4;
int			mlops_max_running_jobs_per_owner = 2;
int			mlops_monitor_min_rows = 30;

static bool CheckTimezone(char **newval, void **extra, GucSource source);

/*
 * MlopsGucInit registers every mlops.* setting.
 */
void
MlopsGucInit(void)
{
	DefineCustomIntVariable("mlops.train_threads",
							"Threads XGBoost uses for training (0 = number of CPU cores).",
							"A hyperparams nthread value overrides it for one training.",
							&mlops_train_threads, 0, 0, 1024,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.predict_threads",
							"Threads XGBoost uses for batch predictions (0 = number of CPU cores).",
							"Predictions of a few rows always run on one thread.",
							&mlops_predict_threads, 0, 0, 1024,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.model_cache_mb",
							"Upper bound of the per-backend cache of loaded models, in megabytes.",
							"Least recently used models are evicted beyond it.",
							&mlops_model_cache_mb, 256, 1, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.max_train_cells",
							"Largest training matrix, in millions of cells (rows times features).",
							NULL,
							&mlops_max_train_cells_m, 500, 1, 100000,
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
