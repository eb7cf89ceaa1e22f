/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  Every mlops.* setting.  Documented in docs/settings.md.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_GUC_H
#define MLOPS_GUC_H

extern int	mlops_train_threads;
extern int	mlops_predict_threads;
extern int	mlops_model_cache_mb;
extern int	mlops_max_train_cells_m;
extern int	mlops_train_progress_rounds;
extern int	mlops_max_model_mb;
extern char *mlops_timezone;
extern int	mlops_job_history_days;
extern int	mlops_max_running_jobs;
extern int	mlops_max_running_jobs_per_owner;
extern int	mlops_monitor_min_rows;
extern int	mlops_training_set_memory_mb;
extern int	mlops_deployment_check_interval;
extern bool mlops_native_tree_walk;

/* resource limits of training and serving */
#define MLOPS_THREADS_LIMIT 256	/* the most mlops.max_threads may be */
extern int	mlops_max_threads;
extern int	mlops_max_train_memory_mb;
extern int	MlopsEffectiveThreads(int requested);

#endif							/* MLOPS_GUC_H */
