/*
 * train_memory.c
 *		The estimated peak memory of a training, refused beyond
 *		mlops.max_train_memory_mb before XGBoost sees any data.
 *
 * Design
 * ------
 * libxgboost allocates with new/malloc, outside PostgreSQL's accounting:
 * an innocent-looking num_parallel_tree can grow a backend until the OOM
 * killer restarts the cluster.  So once the source is read and split, and
 * before the DMatrix is built, TrainEstimateMemory adds up an upper
 * estimate of what the training will hold at its peak, from the data's
 * shape and the validated hyperparameters, and TrainCheckMemory refuses
 * the training when it exceeds the setting, with every part in DETAIL.
 * With R rows (Rt training, Rh held out), F features, K trees per round
 * (num_class for multi:* objectives, else 1), B = max_bin, T threads:
 *
 *   matrix       8 R F + 24 R      our float32 matrix and its gathered
 *                                  training/held-out copies, labels, the
 *                                  split's row lists
 *   dmatrix      8 R F + 12 R      XGBoost's CSR copies (index + value)
 *   bins         hist/approx: Rt F b + 8 Rt + 8 F B (b = 1 byte per bin
 *                up to 256 bins, 2 up to 65536); exact (the default
 *                below 4M rows) and gblinear: 8 Rt F (column-sorted copy)
 *   histograms   hist/approx: (1.5 N + T W) F B 16: a histogram of gradient
 *                pairs (16 bytes a bin) for every node of the tree being
 *                grown, kept in one growing array (half as much again for
 *                its reallocation), and per thread for the W nodes built at
 *                once (depthwise: half the deepest level, L / 2; lossguide: 1)
 *   predictions  24 R K (cached margins and gradient pairs)
 *   trees        n_estimators x num_parallel_tree x K trees of N nodes,
 *                TREE_NODE_BYTES each in memory plus the model's JSON,
 *                JSON_NODE_BYTES per node, held JSON_COPIES times while
 *                it is saved and registered
 *   history      HISTORY_ROUND_BYTES per round and evaluation metric
 *
 * Trained from batches (tree_method hist, train_batches.c), the rows are
 * in a temporary file, not in memory, and XGBoost keeps bin indexes, not
 * a CSR copy:
 *
 *   matrix       21 R + 12 BF      labels, the split's flags and row
 *                                  lists, and three buffers of a batch of
 *                                  BF cells (the batch's rows, at most
 *                                  R, times F; TRAIN_BATCH_CELLS cells)
 *   dmatrix      12 R               XGBoost's labels and row pointers
 *   bins         2 R F b + 8 F B    the bin indexes, row-major and by
 *                                   column (training and held-out rows)
 *
 * the other parts as above.
 *
 * N, the most nodes of one tree, is 2 L - 1 for L leaves: L is 2^max_depth
 * (unbounded with max_depth 0), at most max_leaves when set, and at most
 * Rt (a leaf holds a row).  gblinear grows no trees.  The per-node
 * constants were measured on libxgboost 1.7 (docs/training.md has the
 * measurements); the estimate is meant to be above the real peak, never
 * far below it.
 *
 * While the source is read, TrainMatrixByteLimit bounds the matrix alone
 * (dataset.c stops reading beyond it), so a huge source is refused before
 * it is all in memory.
 */
#include "postgres.h"

#include <math.h>

#include "common/common.h"
#include "train/train_int.h"

/* bytes of one tree node in XGBoost's memory (RegTree node, stats, categories) */
#define TREE_NODE_BYTES 128
/*
 * bytes of one tree node in the model's JSON (about 65 measured), and the
 * copies of that JSON at the peak: XGBoost's document and string (doubling
 * as it grows) and its return buffer, our bytea, the tuple registering it
 * and the compression buffer of its TOAST
 */
#define JSON_NODE_BYTES 80
#define JSON_COPIES 8
/* bytes of one round's metric history, per metric */
#define HISTORY_ROUND_BYTES 256
/* rows from which XGBoost 1.7's tree_method auto means approx, not exact */
#define AUTO_APPROX_ROWS (4.0 * 1024 * 1024)
/* bytes per cell the reading bounds: our float32 and XGBoost's CSR entry */
#define READ_CELL_BYTES 12
/* the same trained from batches: XGBoost's two bin indexes (up to 2 bytes each) */
#define BATCHED_CELL_BYTES 4

static double ParamNumber(List *params, const char *name, double dflt);
static const char *ParamText(List *params, const char *name, const char *dflt);
static char *Megabytes(double bytes);
static int	CountParams(List *params, const char *name);

/*
 * TrainMatrixByteLimit returns the bytes the training matrix may take while
 * the source is read: mlops.max_train_memory_mb over READ_CELL_BYTES per
 * cell, since those two copies alone are part of every estimate.
 */
int64
TrainMatrixByteLimit(void)
{
	return (int64) mlops_max_train_memory_mb * 1024 * 1024 / READ_CELL_BYTES * sizeof(float);
}

/*
 * TrainBatchedByteLimit returns the bytes a float32 matrix of the source
 * may reach while it is read for a training from batches (which does not
 * keep it): mlops.max_train_memory_mb over BATCHED_CELL_BYTES per cell.
 */
int64
TrainBatchedByteLimit(void)
{
	return (int64) mlops_max_train_memory_mb * 1024 * 1024 / BATCHED_CELL_BYTES * sizeof(float);
}

/*
 * TrainEstimateMemory fills est with the estimated peak memory of the
 * training of ds (split as split) with the final parameters params and
 * nthread threads, from batches or not; see the file header for the
 * formula.
 */
void
TrainEstimateMemory(TrainRequest *req, List *params, Dataset *ds, DatasetSplit *split,
					int nthread, bool batches, TrainMemoryEstimate *est)
{
	double		r = (double) ds->nrows;
	double		rt = (double) split->ntrain;
	double		f = (double) ds->nfeatures;
	const char *booster = ParamText(params, "booster", "gbtree");
	const char *method = ParamText(params, "tree_method", "auto");
	const char *objective = ParamText(params, "objective", "");
	double		k = strncmp(objective, "multi:", 6) == 0 ? ParamNumber(params, "num_class", 1) : 1;
	double		depth = ParamNumber(params, "max_depth", 6);
	double		max_leaves = ParamNumber(params, "max_leaves", 0);
	double		max_bin = ParamNumber(params, "max_bin", 256);
	double		leaves;
	double		width;
	bool		histogram;
	bool		linear = strcmp(booster, "gblinear") == 0;

	memset(est, 0, sizeof(TrainMemoryEstimate));
	if (strcmp(method, "auto") == 0)
		method = rt >= AUTO_APPROX_ROWS ? "approx" : "exact";
	histogram = !linear && (strcmp(method, "hist") == 0 || strcmp(method, "approx") == 0);

	leaves = depth > 0 ? pow(2.0, depth) : rt;
	if (max_leaves > 0)
		leaves = Min(leaves, max_leaves);
	leaves = Max(1, Min(leaves, rt));
	est->nodes = linear ? 0 : 2 * leaves - 1;
	est->ntrees = linear ? 0 :
		req->n_estimators * ParamNumber(params, "num_parallel_tree", 1) * k;

	est->matrix = 8 * r * f + 24 * r;
	est->dmatrix = 8 * r * f + 12 * r;
	if (batches)
	{
		/* three buffers of one batch: batch_rows of DatasetReadSpilled */
		est->matrix = 21 * r + 12 * Min(Max(256, TRAIN_BATCH_CELLS / f), r) * f;
		est->dmatrix = 12 * r;
		est->bins = 2 * r * f * (max_bin <= 256 ? 1 : 2) + 8 * f * max_bin;
	}
	else if (histogram)
		est->bins = rt * f * (max_bin <= 256 ? 1 : 2) + 8 * rt + 8 * f * max_bin;
	else
		est->bins = 8 * rt * f;
	/* depthwise builds a level at once (half its nodes), lossguide a node */
	width = strcmp(ParamText(params, "grow_policy", "depthwise"), "lossguide") == 0 ?
		1 : ceil(leaves / 2);
	if (histogram)
		est->histograms = (1.5 * est->nodes + nthread * width) * f * max_bin * 16;
	est->predictions = 24 * r * k;
	est->trees = est->ntrees * est->nodes * (TREE_NODE_BYTES + JSON_NODE_BYTES * JSON_COPIES);
	est->history = (double) req->n_estimators * HISTORY_ROUND_BYTES * Max(1, CountParams(params, "eval_metric"));
	est->total = est->matrix + est->dmatrix + est->bins + est->histograms +
		est->predictions + est->trees + est->history;
}

/*
 * TrainCheckMemory refuses a training whose estimated peak memory exceeds
 * mlops.max_train_memory_mb, with the estimate and its parts in DETAIL; a
 * training within the limit reports its estimate at DEBUG1.
 */
void
TrainCheckMemory(TrainRequest *req, List *params, Dataset *ds, DatasetSplit *split,
				 int nthread, bool batches)
{
	TrainMemoryEstimate est;
	double		limit = (double) mlops_max_train_memory_mb * 1024 * 1024;

	TrainEstimateMemory(req, params, ds, split, nthread, batches, &est);
	ereport(est.total > limit ? ERROR : DEBUG1,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 est.total > limit ?
			 errmsg("training would need about %s of memory, over mlops.max_train_memory_mb (%s)",
					Megabytes(est.total), Megabytes(limit)) :
			 errmsg("training will need about %s of memory", Megabytes(est.total)),
			 errdetail("Estimated peak: rows %s, XGBoost's copy %s, bins %s, histograms %s, predictions %s, "
					   "trees %s (%.0f trees of up to %.0f nodes), metric history %s.",
					   Megabytes(est.matrix), Megabytes(est.dmatrix), Megabytes(est.bins),
					   Megabytes(est.histograms), Megabytes(est.predictions), Megabytes(est.trees),
					   est.ntrees, est.nodes, Megabytes(est.history)),
			 est.total > limit ?
			 errhint("Lower n_estimators, num_parallel_tree, max_depth, max_leaves or max_bin, train on fewer rows, or ask a superuser to raise mlops.max_train_memory_mb.") : 0));
}

/*
 * ParamNumber returns a numeric parameter's value (validated by
 * train_params.c), or dflt when it is not set.
 */
static double
ParamNumber(List *params, const char *name, double dflt)
{
	char	   *value = TrainParamValue(params, name);

	return value ? strtod(value, NULL) : dflt;
}

/* CountParams returns how many parameters are called name. */
static int
CountParams(List *params, const char *name)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, params)
		n += strcmp(((TrainParam *) lfirst(lc))->name, name) == 0;
	return n;
}

/* ParamText returns a parameter's value, or dflt when it is not set. */
static const char *
ParamText(List *params, const char *name, const char *dflt)
{
	char	   *value = TrainParamValue(params, name);

	return value ? value : dflt;
}

/*
 * Megabytes formats a byte count for a message: "12 MB", "3.4 MB",
 * "512 kB", "4.1e+12 MB".
 */
static char *
Megabytes(double bytes)
{
	double		mb = bytes / (1024.0 * 1024.0);

	if (mb < 1)
		return psprintf("%.0f kB", bytes / 1024.0);
	if (mb >= 1e9)
		return psprintf("%.2g MB", mb);
	return psprintf(mb < 10 ? "%.1f MB" : "%.0f MB", mb);
}
