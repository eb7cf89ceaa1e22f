/*
 * train_boost.c
 *		The boosting loop of mlops.train.
 *
 * TrainBoostWithProgress runs the rounds with this backend's progress slot
 * published (train_progress.c) and freed however the loop ends.  Each round
 * updates the booster on the training matrix, evaluates when something
 * reads the result (held-out rows every round, since early stopping needs
 * them; the training rows only when progress is reported and after the
 * last round), parses XGBoost's evaluation line into a RoundEval kept in
 * the history, and stops early when the last metric of the evaluation set
 * has not improved for early_stopping_rounds rounds, with the Python
 * package's rule for which metrics are maximized.  Interrupts are checked
 * between rounds; an ERROR leaves the handles to the reset callbacks of
 * the training memory context.
 */
#include "postgres.h"

#include <string.h>

#include "miscadmin.h"

#include "common/common.h"
#include "train/train_int.h"
#include "xgb/xgb.h"

static void TrainBoost(TrainRequest *req, BoosterHandle booster, DMatrixHandle dtrain,
					   DMatrixHandle *deval, const char **evname, RoundEval **history,
					   BoostResult *result);
static RoundEval *ParseEval(const char *line);
static bool MetricMaximized(const char *name);

/*
 * TrainBoostWithProgress runs TrainBoost with this backend's progress slot
 * published, freeing the slot however the training ends.
 */
void
TrainBoostWithProgress(TrainRequest *req, BoosterHandle booster, DMatrixHandle dtrain,
					   DMatrixHandle *deval, const char **evname, RoundEval **history,
					   BoostResult *result)
{
	TrainProgressBegin(req->model_name, req->n_estimators);
	PG_TRY();
	{
		TrainBoost(req, booster, dtrain, deval, evname, history, result);
	}
	PG_FINALLY();
	{
		TrainProgressEnd();
	}
	PG_END_TRY();
}

/*
 * TrainBoost runs the boosting rounds: update on dtrain, evaluate on deval
 * (the held-out rows, or the training rows without any), publish progress,
 * report every mlops.train_progress_rounds rounds, and stop early when the
 * last metric on the last matrix has not improved for early_stopping_rounds
 * rounds.  Interrupts are checked between rounds.
 */
static void
TrainBoost(TrainRequest *req, BoosterHandle booster, DMatrixHandle dtrain,
		   DMatrixHandle *deval, const char **evname, RoundEval **history, BoostResult *result)
{
	double		best_score = 0;
	int			stop_metric = -1;
	bool		maximize = false;
	bool		heldout = strcmp(evname[0], "test") == 0;
	bool		report;

	result->rounds_done = 0;
	result->best_round = -1;
	for (int round = 0; round < req->n_estimators; round++)
	{
		RoundEval  *ev;
		double		score;

		CHECK_FOR_INTERRUPTS();
		XgbBoosterUpdate(booster, round, dtrain);
		if (round == 0)
			XgbRaiseUnusedParameters();
		result->rounds_done = round + 1;
		report = mlops_train_progress_rounds > 0 &&
			(result->rounds_done % mlops_train_progress_rounds == 0 ||
			 result->rounds_done == req->n_estimators);

		/*
		 * Held-out rows are evaluated every round (early stopping reads
		 * them); without any, evaluating the training rows every round would
		 * cost about as much as boosting, so they are evaluated only when
		 * progress is reported and after the last round.
		 */
		if (heldout || report || result->rounds_done == req->n_estimators)
			ev = ParseEval(XgbBoosterEval(booster, round, deval, evname, 1));
		else
			ev = palloc0(sizeof(RoundEval));
		history[round] = ev;
		TrainProgressUpdate(result->rounds_done, ev->nmetrics > 0 ?
							psprintf("%s=%.6g", ev->names[ev->nmetrics - 1],
								ev->values[ev->nmetrics - 1]) : NULL);
		if (report && ev->nmetrics > 0)
			ereport(INFO,
					(errmsg("round %d/%d: %s=%.6g", result->rounds_done, req->n_estimators,
							ev->names[ev->nmetrics - 1], ev->values[ev->nmetrics - 1])));

		if (req->early_stopping_rounds <= 0 || ev->nmetrics == 0)
			continue;
		/* the last metric of the last evaluation set decides */
		if (stop_metric < 0)
		{
			const char *dash = strchr(ev->names[ev->nmetrics - 1], '-');

			stop_metric = ev->nmetrics - 1;
			maximize = MetricMaximized(dash ? dash + 1 : ev->names[stop_metric]);
		}
		score = ev->values[stop_metric];
		if (result->best_round < 0 || (maximize ? score > best_score : score < best_score))
		{
			result->best_round = round;
			best_score = score;
		}
		else if (round - result->best_round >= req->early_stopping_rounds)
			break;
	}
}

/*
 * ParseEval parses XGBoost's evaluation line
 * "[round]\ttrain-logloss:0.1\ttest-logloss:0.2".
 */
static RoundEval *
ParseEval(const char *line)
{
	RoundEval  *ev = palloc0(sizeof(RoundEval));
	char	   *copy = pstrdup(line);
	char	   *save = NULL;
	char	   *tok;
	int			cap = 4;

	ev->names = palloc(sizeof(char *) * cap);
	ev->values = palloc(sizeof(double) * cap);
	for (tok = strtok_r(copy, "\t", &save); tok != NULL; tok = strtok_r(NULL, "\t", &save))
	{
		char	   *colon = strrchr(tok, ':');

		if (tok[0] == '[' || colon == NULL)
			continue;
		if (ev->nmetrics == cap)
		{
			cap *= 2;
			ev->names = repalloc(ev->names, sizeof(char *) * cap);
			ev->values = repalloc(ev->values, sizeof(double) * cap);
		}
		*colon = '\0';
		ev->names[ev->nmetrics] = tok;
		ev->values[ev->nmetrics] = strtod(colon + 1, NULL);
		ev->nmetrics++;
	}
	return ev;
}

/*
 * MetricMaximized reports whether a larger value of an XGBoost metric is
 * better (the same rule as the Python package's early stopping).
 */
static bool
MetricMaximized(const char *name)
{
	static const char *const maximized[] = {"auc", "aucpr", "pre", "map", "ndcg"};

	if (strcmp(name, "mape") == 0)
		return false;
	for (int i = 0; i < (int) lengthof(maximized); i++)
		if (strncmp(name, maximized[i], strlen(maximized[i])) == 0)
			return true;
	return false;
}
