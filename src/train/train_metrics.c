/*
 * train_metrics.c
 *		The metric history of a training run and its held-out metrics.
 *
 * A run's metrics are gathered as rows (name, step, value) in a MetricRows:
 * first every evaluated round (step = round), then the final metrics at
 * step = rounds done.  The final ones also become the metrics of the model
 * version (TrainMetricRowsJson, NaN and infinities as null); all of them
 * are logged in one call (train_tracking.c).  The held-out metrics predict
 * the test rows with the trained booster and score them with
 * evalmetrics.c, the same accumulators monitoring uses.
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"

#include "common/common.h"
#include "train/train_int.h"
#include "xgb/xgb.h"

static void HeldOutClassificationMetrics(MetricRows *rows, Dataset *ds, BoosterHandle booster,
										 const float *pred, bst_ulong len, const float *y, int64 n);
static double HeldOutRocAuc(const float *y, const float *scores, int64 n);

/* TrainAddMetric adds one metric value at the current step to the history. */
void
TrainAddMetric(MetricRows *rows, const char *name, double value)
{
	if (rows->nrows == rows->capacity)
	{
		rows->capacity = rows->capacity > 0 ? 2 * rows->capacity : 64;
		if (rows->keys == NULL)
		{
			rows->keys = palloc(sizeof(Datum) * rows->capacity);
			rows->steps = palloc(sizeof(Datum) * rows->capacity);
			rows->values = palloc(sizeof(Datum) * rows->capacity);
		}
		else
		{
			rows->keys = repalloc(rows->keys, sizeof(Datum) * rows->capacity);
			rows->steps = repalloc(rows->steps, sizeof(Datum) * rows->capacity);
			rows->values = repalloc(rows->values, sizeof(Datum) * rows->capacity);
		}
	}
	rows->keys[rows->nrows] = CStringGetTextDatum(name);
	rows->steps[rows->nrows] = Int32GetDatum(rows->step);
	rows->values[rows->nrows] = Float8GetDatum(value);
	rows->nrows++;
}

/*
 * TrainAddRoundHistory adds the evaluations of the first rounds rounds to
 * the history, each at its round as step.
 */
void
TrainAddRoundHistory(MetricRows *rows, RoundEval **history, int rounds)
{
	for (int round = 0; round < rounds; round++)
	{
		RoundEval  *ev = history[round];

		CHECK_FOR_INTERRUPTS();
		rows->step = round;
		for (int m = 0; m < ev->nmetrics; m++)
			TrainAddMetric(rows, ev->names[m], ev->values[m]);
	}
}

/*
 * TrainMetricRowsJson returns the rows from index from on as a JSON object of
 * name: value, NaN and infinities as null (JSON has no literal for them).
 */
char *
TrainMetricRowsJson(MetricRows *rows, int from)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = from; i < rows->nrows; i++)
	{
		double		value = DatumGetFloat8(rows->values[i]);

		CHECK_FOR_INTERRUPTS();
		if (i > from)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, TextDatumGetCString(rows->keys[i]));
		if (isnan(value) || isinf(value))
			appendStringInfoString(&buf, ": null");
		else
			appendStringInfo(&buf, ": %s", float8out_internal(value));
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * TrainRequireFinite raises an ERROR when one of the n outputs of the
 * trained model (per_row per row) is not a finite number: such a model
 * (a diverged training, say) can neither be scored nor served, so it is
 * an error rather than a NaN metric.  which names the rows ("held-out",
 * "training").
 */
void
TrainRequireFinite(const float *out, int64 n, int per_row, const char *which)
{
	for (int64 i = 0; i < n; i++)
	{
		if ((i & (TRAIN_CHUNK_ROWS - 1)) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!isfinite(out[i]))
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("the trained model predicts %s for %s row " INT64_FORMAT,
							isnan(out[i]) ? "NaN" : (out[i] > 0 ? "Infinity" : "-Infinity"),
							which, i / per_row + 1),
					 errdetail("A model whose predictions are not finite numbers can neither be scored nor served; nothing was registered."),
					 errhint("Check the hyperparameters (learning_rate, max_delta_step, base_score, the objective) and the range of the target.")));
	}
}

/*
 * TrainHeldOutMetrics predicts the test rows and adds the held-out metrics:
 * accuracy, precision, recall, f1, log_loss (and roc_auc when binary) for a
 * classification, rmse, mae and r2 for a regression.  Objectives that output
 * classes rather than probabilities (multi:softmax, binary:hinge) get no
 * log_loss or roc_auc.  A prediction that is not a finite number is an
 * ERROR.  Rows are scored in chunks of TRAIN_CHUNK_ROWS with interrupts
 * checked between them, and the scores of roc_auc sorted interruptibly.
 */
void
TrainHeldOutMetrics(MetricRows *rows, Dataset *ds, BoosterHandle booster,
					const float *x, const float *y, int64 n)
{
	bst_ulong	len;
	const float *pred = XgbPredictDense(booster, x, n, ds->nfeatures, &len);

	TrainHeldOutMetricsOf(rows, ds, booster, pred, len, y, n);
}

/*
 * TrainHeldOutMetricsOf adds the held-out metrics of predictions already
 * made: pred holds len floats for the n test rows whose labels are y.
 */
void
TrainHeldOutMetricsOf(MetricRows *rows, Dataset *ds, BoosterHandle booster,
					  const float *pred, bst_ulong len, const float *y, int64 n)
{
	if (ds->classification)
		HeldOutClassificationMetrics(rows, ds, booster, pred, len, y, n);
	else
	{
		RegressionAcc acc;
		RegressionMetrics rm;
		char		err[256];

		if (len != (bst_ulong) n)
			return;				/* a custom objective we cannot score */
		TrainRequireFinite(pred, n, 1, "held-out");
		RegressionAccInit(&acc);
		for (int64 from = 0; from < n; from += TRAIN_CHUNK_ROWS)
		{
			CHECK_FOR_INTERRUPTS();
			if (EvalRegressionAdd(&acc, y, pred, (long) from, (long) Min(n, from + TRAIN_CHUNK_ROWS),
								  err, sizeof(err)) != 0)
				elog(ERROR, "could not compute held-out metrics: %s", err);
		}
		if (!RegressionAccFinish(&acc, &rm, err, sizeof(err)))
			elog(ERROR, "could not compute held-out metrics: %s", err);
		TrainAddMetric(rows, "rmse", rm.rmse);
		TrainAddMetric(rows, "mae", rm.mae);
		TrainAddMetric(rows, "r2", rm.r2);
	}
}

/*
 * HeldOutClassificationMetrics adds the classification metrics of the
 * held-out predictions pred (len floats for n rows): class scores are put
 * in evalmetrics' layout (P(class 1), or k per row), accumulated chunk by
 * chunk, and roc_auc (binary, probabilities only) computed over scores
 * sorted with qsort_interruptible.
 */
static void
HeldOutClassificationMetrics(MetricRows *rows, Dataset *ds, BoosterHandle booster,
							 const float *pred, bst_ulong len, const float *y, int64 n)
{
	int			k = ds->label.classes->count;
	ModelOutput output = ObjectiveOutput(XgbBoosterObjective(booster), false);
	int64		width = (output == OUTPUT_PROBS) ? k : 1;
	const float *scores = pred;
	EvalClassAcc *acc;
	ClassificationMetrics *scratch;
	HeldOutClassification cm;
	char		err[256];

	if (output == OUTPUT_VALUE || len != (bst_ulong) (n * width))
		return;					/* a custom objective we cannot score */
	TrainRequireFinite(pred, n * width, (int) width, "held-out");
	if (output == OUTPUT_MARGIN1 || output == OUTPUT_CLASS)
	{
		/* margins become probabilities, class codes one-hot scores */
		float	   *prob = MemoryContextAllocHuge(CurrentMemoryContext,
												  sizeof(float) * n * (k == 2 ? 1 : k));

		for (int64 i = 0; i < n; i++)
		{
			if ((i & (TRAIN_CHUNK_ROWS - 1)) == 0)
				CHECK_FOR_INTERRUPTS();
			if (output == OUTPUT_MARGIN1)
				prob[i] = (float) (1.0 / (1.0 + exp(-(double) pred[i])));
			else if (k == 2)
				prob[i] = pred[i];	/* a class code: 0 or 1 */
			else
				for (int c = 0; c < k; c++)
					prob[i * k + c] = (c == (int) pred[i]) ? 1.0f : 0.0f;
		}
		scores = prob;
	}
	acc = palloc(sizeof(EvalClassAcc));
	scratch = palloc(sizeof(ClassificationMetrics));
	if (EvalClassInit(acc, k, err, sizeof(err)) != 0)
		elog(ERROR, "could not compute held-out metrics: %s", err);
	for (int64 from = 0; from < n; from += TRAIN_CHUNK_ROWS)
	{
		CHECK_FOR_INTERRUPTS();
		if (EvalClassAdd(acc, y, scores, (long) from, (long) Min(n, from + TRAIN_CHUNK_ROWS),
						 err, sizeof(err)) != 0)
			elog(ERROR, "could not compute held-out metrics: %s", err);
	}
	if (EvalClassFinish(acc, &cm, scratch, err, sizeof(err)) != 0)
		elog(ERROR, "could not compute held-out metrics: %s", err);
	TrainAddMetric(rows, "accuracy", cm.accuracy);
	TrainAddMetric(rows, "precision", cm.precision);
	TrainAddMetric(rows, "recall", cm.recall);
	TrainAddMetric(rows, "f1", cm.f1);
	if (output == OUTPUT_CLASS)
		return;					/* no probabilities: no roc_auc, no log_loss */
	if (k == 2)
		TrainAddMetric(rows, "roc_auc", HeldOutRocAuc(y, scores, n));
	TrainAddMetric(rows, "log_loss", cm.log_loss);
}

/*
 * HeldOutRocAuc returns the ROC AUC of binary held-out scores, NaN when
 * one class is absent: the scored labels are built chunk by chunk and
 * sorted with PostgreSQL's interruptible sort.
 */
static double
HeldOutRocAuc(const float *y, const float *scores, int64 n)
{
	ScoredLabel *items = MemoryContextAllocHuge(CurrentMemoryContext,
												sizeof(ScoredLabel) * Max(n, 1));
	char		err[256];
	double		auc;

	for (int64 from = 0; from < n; from += TRAIN_CHUNK_ROWS)
	{
		CHECK_FOR_INTERRUPTS();
		if (EvalScoredLabels(y, scores, (long) from, (long) Min(n, from + TRAIN_CHUNK_ROWS),
							 items, err, sizeof(err)) != 0)
			elog(ERROR, "could not compute held-out metrics: %s", err);
	}
	qsort_interruptible(items, (size_t) n, sizeof(ScoredLabel), ScoredLabelCompare, NULL);
	auc = RocAucSorted(items, (size_t) n);
	pfree(items);
	return auc;
}
