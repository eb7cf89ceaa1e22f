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
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"

#include "common/common.h"
#include "train/train_int.h"
#include "xgb/xgb.h"

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
 * TrainHeldOutMetrics predicts the test rows and adds the held-out metrics:
 * accuracy, precision, recall, f1, log_loss (and roc_auc when binary) for a
 * classification, rmse, mae and r2 for a regression.  Objectives that output
 * classes rather than probabilities (multi:softmax, binary:hinge) get no
 * log_loss or roc_auc.
 */
void
TrainHeldOutMetrics(MetricRows *rows, Dataset *ds, BoosterHandle booster,
					const float *x, const float *y, int64 n)
{
	bst_ulong	len;
	const float *pred = XgbPredictDense(booster, x, n, ds->nfeatures, &len);
	char		err[256];

	if (ds->classification)
	{
		HeldOutClassification cm;
		int			k = ds->label.classes->count;
		ModelOutput output = ObjectiveOutput(XgbBoosterObjective(booster), false);
		int64		width = (output == OUTPUT_PROBS) ? k : 1;
		float	   *prob;

		if (output == OUTPUT_VALUE || len != (bst_ulong) (n * width))
			return;				/* a custom objective we cannot score */
		/* class scores in evalmetrics' layout: P(class 1), or k per row */
		prob = palloc(sizeof(float) * n * (k == 2 ? 1 : k));
		for (int64 i = 0; i < n; i++)
		{
			if (output == OUTPUT_PROB1 || output == OUTPUT_PROBS)
				continue;
			if (output == OUTPUT_MARGIN1)
				prob[i] = (float) (1.0 / (1.0 + exp(-(double) pred[i])));
			else if (k == 2)
				prob[i] = pred[i];	/* a class code: 0 or 1 */
			else
				for (int c = 0; c < k; c++)
					prob[i * k + c] = (c == (int) pred[i]) ? 1.0f : 0.0f;
		}
		if (EvalClassification(y, (output == OUTPUT_PROB1 || output == OUTPUT_PROBS) ? pred : prob,
							   (long) n, k, &cm, err, sizeof(err)) != 0)
			elog(ERROR, "could not compute held-out metrics: %s", err);
		TrainAddMetric(rows, "accuracy", cm.accuracy);
		TrainAddMetric(rows, "precision", cm.precision);
		TrainAddMetric(rows, "recall", cm.recall);
		TrainAddMetric(rows, "f1", cm.f1);
		if (output == OUTPUT_CLASS)
			return;				/* no probabilities: no roc_auc, no log_loss */
		if (k == 2)
			TrainAddMetric(rows, "roc_auc", cm.roc_auc);
		TrainAddMetric(rows, "log_loss", cm.log_loss);
	}
	else
	{
		RegressionMetrics rm;

		if (EvalRegression(y, pred, (long) n, &rm, err, sizeof(err)) != 0)
			elog(ERROR, "could not compute held-out metrics: %s", err);
		TrainAddMetric(rows, "rmse", rm.rmse);
		TrainAddMetric(rows, "mae", rm.mae);
		TrainAddMetric(rows, "r2", rm.r2);
	}
}
