/*
 * train_batches.c
 *		Training with tree_method hist from batches: the quantile matrices
 *		built through XGBoost's iterator interface, and the held-out metrics
 *		predicted batch by batch.
 *
 * Design
 * ------
 * With tree_method hist, XGBoost trains on quantile bins, not on the rows:
 * a quantile DMatrix holds one bin index per cell (one byte up to 256
 * bins) where a DMatrix from an array holds the CSR copy (8 bytes per cell)
 * and our float matrix another 4 or 8.  So mlops.train reads the source
 * once into a temporary file (DatasetReadSpilled), and the training and
 * held-out matrices are built from it batch by batch (xgb_iter.c), each
 * from a DatasetCursor that keeps its side of the split; the held-out
 * matrix takes the training matrix's cuts (ref), as xgboost's
 * QuantileDMatrix(ref=...) does.  The split itself is the one DatasetMakeSplit
 * draws over all rows (the labels stay in memory), so the same rows are
 * trained on as with a matrix in memory, in the same order: XGBoost's
 * sketch pushes every column's values in row order whatever the batches,
 * so the cuts, the bins and the trees are those of xgboost.train on a
 * DMatrix of the same rows (test/oracle/test_train_oracle.py checks it).
 *
 * The held-out metrics need predictions on the raw test rows, not on their
 * bins: they are predicted batch by batch from the file, only the
 * predictions and labels being kept.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "common/common.h"
#include "train/train_int.h"
#include "xgb/xgb.h"

static int64 CursorBatch(void *arg, const float **x, const float **y);
static void CursorReset(void *arg);

/*
 * TrainUsesBatches reports whether the training builds its matrices from
 * batches: tree_method hist with a tree booster.  Other methods (exact,
 * approx, auto) and gblinear need the rows themselves.
 */
bool
TrainUsesBatches(TrainRequest *req)
{
	char	   *method = TrainParamValue(req->params, "tree_method");
	char	   *booster = TrainParamValue(req->params, "booster");

	return method != NULL && strcmp(method, "hist") == 0 &&
		(booster == NULL || strcmp(booster, "gblinear") != 0);
}

/*
 * TrainSplitMask returns one flag per row, true for the test rows of split.
 */
bool *
TrainSplitMask(DatasetSplit *split, int64 nrows)
{
	bool	   *is_test = palloc_extended(sizeof(bool) * Max(nrows, 1),
										  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);

	for (int64 i = 0; i < split->ntest; i++)
	{
		if ((i & (TRAIN_CHUNK_ROWS - 1)) == 0)
			CHECK_FOR_INTERRUPTS();
		is_test[split->test_rows[i]] = true;
	}
	return is_test;
}

/*
 * TrainBatchMatrices builds dmats[0], the quantile matrix of the training
 * rows, and with ntest > 0 dmats[1], that of the test rows with the
 * training matrix's cuts, from the spilled rows of ds, with the max_bin of
 * params and nthread threads; both are owned by owner.
 */
void
TrainBatchMatrices(MemoryContext owner, Dataset *ds, const bool *is_test, int64 ntest,
				   List *params, int nthread, DMatrixHandle *dmats)
{
	char	   *max_bin_text = TrainParamValue(params, "max_bin");
	int			max_bin = max_bin_text ? atoi(max_bin_text) : 256;
	XgbBatchSource *train = palloc0(sizeof(XgbBatchSource));

	train->next = CursorBatch;
	train->reset = CursorReset;
	train->arg = DatasetCursorOpen(ds, ntest > 0 ? is_test : NULL, false);
	train->ncol = ds->nfeatures;
	dmats[0] = XgbQuantileDMatrixFromBatches(owner, train, NULL, nthread, max_bin);
	DatasetCursorClose(train->arg);
	if (ntest > 0)
	{
		XgbBatchSource *test = palloc0(sizeof(XgbBatchSource));

		test->next = CursorBatch;
		test->reset = CursorReset;
		test->arg = DatasetCursorOpen(ds, is_test, true);
		test->ncol = ds->nfeatures;
		dmats[1] = XgbQuantileDMatrixFromBatches(owner, test, dmats[0], nthread, max_bin);
		DatasetCursorClose(test->arg);
	}
}

/*
 * TrainBatchHeldOutMetrics predicts the ntest test rows of ds batch by batch
 * from the spilled rows and adds their held-out metrics.
 */
void
TrainBatchHeldOutMetrics(MetricRows *rows, Dataset *ds, const bool *is_test, int64 ntest,
						 BoosterHandle booster)
{
	DatasetCursor *cur = DatasetCursorOpen(ds, is_test, true);
	float	   *pred = NULL;
	float	   *labels = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * ntest);
	int64		per_row = 0;
	int64		done = 0;
	const float *x;
	const float *y;
	int64		n;

	while ((n = DatasetCursorNext(cur, &x, &y)) > 0)
	{
		bst_ulong	len;
		const float *out = XgbPredictDense(booster, x, n, ds->nfeatures, &len);

		if (pred == NULL)
		{
			per_row = Max(1, (int64) len / n);
			pred = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * ntest * per_row);
		}
		if ((int64) len != n * per_row || done + n > ntest)
			elog(ERROR, "held-out predictions of unexpected length");
		memcpy(pred + done * per_row, out, sizeof(float) * len);
		memcpy(labels + done, y, sizeof(float) * n);
		done += n;
	}
	DatasetCursorClose(cur);
	if (done != ntest)
		elog(ERROR, "read " INT64_FORMAT " held-out rows back, expected " INT64_FORMAT, done, ntest);
	TrainHeldOutMetricsOf(rows, ds, booster, pred, (bst_ulong) (ntest * per_row), labels, ntest);
	pfree(pred);
	pfree(labels);
}

/* CursorBatch is the next function of a batch source over a DatasetCursor. */
static int64
CursorBatch(void *arg, const float **x, const float **y)
{
	return DatasetCursorNext((DatasetCursor *) arg, x, y);
}

/* CursorReset is the reset function of a batch source over a DatasetCursor. */
static void
CursorReset(void *arg)
{
	DatasetCursorRewind((DatasetCursor *) arg);
}
