/*
 * train_int.h
 *		What the files of src/train/ share: the training request, the
 *		metric history and the boosting result, and the functions one file
 *		calls in another.  Not included outside src/train/ (train.h is the
 *		subsystem's face).
 */
#ifndef MLOPS_TRAIN_INT_H
#define MLOPS_TRAIN_INT_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "common/common.h"
#include "xgb/xgb.h"

/* Rows handled between two interrupt checks in loops over the data */
#define TRAIN_CHUNK_ROWS 65536
/* Cells of one batch of rows read back for XGBoost (4 MB of float32) */
#define TRAIN_BATCH_CELLS (1024 * 1024)
/* The most features a source can have (a query's output columns) */
#define TRAIN_MAX_FEATURES 1664
/* The largest row count test_size may give */
#define TRAIN_MAX_TEST_ROWS 1e15

/* One XGBoost parameter, in the order it is set */
typedef struct TrainParam
{
	char	   *name;
	char	   *value;
} TrainParam;

/* Everything mlops.train was asked to do */
typedef struct TrainRequest
{
	char	   *model_name;
	char	   *source;
	char	   *target;
	bool		classification;
	List	   *features;		/* of char *, NIL = all but target */
	double		test_size;
	char	   *test_sampling;
	char	   *experiment;
	int			seed;
	List	   *params;			/* of TrainParam *, user order */
	int			n_estimators;
	int			early_stopping_rounds;	/* 0 = off */
	Jsonb	   *hyperparams;
	int			nthread;		/* nthread (or n_jobs) of hyperparams */
	bool		nthread_given;
	int			monotone_count; /* values of monotone_constraints */
	int			interaction_max;	/* 1 + largest index of interaction_constraints */
} TrainRequest;

/*
 * The estimated peak memory of a training, in bytes, by part (see
 * train_memory.c and docs/training.md for the formula)
 */
typedef struct TrainMemoryEstimate
{
	double		matrix;			/* our float copies of the rows and labels */
	double		dmatrix;		/* XGBoost's copies of the rows */
	double		bins;			/* quantile cuts and binned (or column-sorted) rows */
	double		histograms;		/* gradient histograms of the nodes of a tree */
	double		predictions;	/* cached predictions and gradients */
	double		trees;			/* the model in memory and as JSON */
	double		history;		/* per-round metric history */
	double		total;
	double		ntrees;			/* trees the training may grow */
	double		nodes;			/* most nodes of one tree */
} TrainMemoryEstimate;

/* Evaluation results of one round */
typedef struct RoundEval
{
	int			nmetrics;
	char	  **names;			/* "train-logloss", "test-auc", ... */
	double	   *values;
} RoundEval;

/*
 * MetricRows gathers a run's metric history (per-round evaluations and the
 * final metrics) as parallel arrays, logged in one call at the end; step is
 * the step of the rows being added.
 */
typedef struct MetricRows
{
	int			nrows;
	int			capacity;
	int			step;
	Datum	   *keys;			/* text */
	Datum	   *steps;			/* int4 */
	Datum	   *values;			/* float8 */
} MetricRows;

/* How the boosting loop ended */
typedef struct BoostResult
{
	int			rounds_done;
	int			best_round;		/* -1 without early stopping */
} BoostResult;

/* hyperparameters and argument ranges (train_params.c) */
extern void TrainParseHyperparams(TrainRequest *req, Jsonb *hyperparams);
extern void TrainCheckParamsForData(TrainRequest *req, int nfeatures);
extern void TrainCheckTestSize(double test_size);
extern int	TrainThreads(TrainRequest *req);
extern char *TrainParamValue(List *params, const char *name);

/* memory estimate (train_memory.c) */
extern int64 TrainMatrixByteLimit(void);
extern int64 TrainBatchedByteLimit(void);
extern void TrainEstimateMemory(TrainRequest *req, List *params, Dataset *ds,
								DatasetSplit *split, int nthread, bool batches,
								TrainMemoryEstimate *est);
extern void TrainCheckMemory(TrainRequest *req, List *params, Dataset *ds,
							 DatasetSplit *split, int nthread, bool batches);

/* boosting (train_boost.c) */
extern void TrainBoostWithProgress(TrainRequest *req, BoosterHandle booster,
								   DMatrixHandle dtrain, DMatrixHandle *deval,
								   const char **evname, RoundEval **history,
								   BoostResult *result);

/* metric history and held-out metrics (train_metrics.c) */
extern void TrainAddMetric(MetricRows *rows, const char *name, double value);
extern void TrainAddRoundHistory(MetricRows *rows, RoundEval **history, int rounds);
extern char *TrainMetricRowsJson(MetricRows *rows, int from);
extern void TrainRequireFinite(const float *out, int64 n, int per_row, const char *which);
extern void TrainHeldOutMetrics(MetricRows *rows, Dataset *ds, BoosterHandle booster,
								const float *x, const float *y, int64 n);
extern void TrainHeldOutMetricsOf(MetricRows *rows, Dataset *ds, BoosterHandle booster,
								  const float *pred, bst_ulong len, const float *y, int64 n);

/* training from batches: the quantile matrices of tree_method hist (train_batches.c) */
extern bool TrainUsesBatches(TrainRequest *req);
extern bool *TrainSplitMask(DatasetSplit *split, int64 nrows);
extern void TrainBatchMatrices(MemoryContext owner, Dataset *ds, const bool *is_test,
							   int64 ntest, List *params, int nthread, DMatrixHandle *dmats);
extern void TrainBatchHeldOutMetrics(MetricRows *rows, Dataset *ds, const bool *is_test,
									 int64 ntest, BoosterHandle booster);

/* tracking and registry calls (train_tracking.c) */
extern int64 TrainStartRun(TrainRequest *req);
extern void TrainLogParams(int64 run_id, const char *json);
extern void TrainLogMetricHistory(int64 run_id, MetricRows *rows);
extern void TrainEndRun(int64 run_id);
extern int32 TrainRegisterVersion(TrainRequest *req, Dataset *ds, bytea *model,
								  int64 run_id, const char *schema, const char *metrics,
								  const char *params);

/* progress in shared memory (train_progress.c) */
extern void TrainProgressBegin(const char *model, int total);
extern void TrainProgressUpdate(int round, const char *metric);
extern void TrainProgressEnd(void);

#endif							/* MLOPS_TRAIN_INT_H */
