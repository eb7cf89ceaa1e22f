/*
 * train.c
 *		mlops.train: train an XGBoost model on a table or query and register it.
 *
 * Design
 * ------
 * One call of mlops.train does, inside the caller's transaction:
 *
 *   0. check every argument and hyperparameter against its documented range
 *      before anything is read (train_params.c);
 *   1. read the source into a float matrix (dataset.c: chunk-free streaming
 *      through a portal, categorical and label encoding, memory cap);
 *   2. split it (random, stratified or last), check what depends on the
 *      data, resolve the threads against mlops.max_threads, refuse a
 *      training whose estimated memory exceeds mlops.max_train_memory_mb
 *      (train_memory.c), and compute the per-feature statistics of the
 *      training rows, the drift reference;
 *   3. start a tracking run and log the effective parameters;
 *   4. boost round by round (XGBoosterUpdateOneIter), evaluating on the
 *      held-out matrix after every round (without one, the training matrix
 *      when progress is reported and after the last round), honouring
 *      early_stopping_rounds, publishing progress in shared memory and
 *      checking for interrupts between rounds;
 *   5. compute the held-out metrics (evalmetrics.c over metrics.c, at most
 *      EVAL_MAX_CLASSES classes; a model predicting NaN is an ERROR, with or
 *      without held-out rows), log the per-round metric history and the
 *      final metrics, register the booster as a new model version through
 *      mlops._register_model_version (as the extension owner), end the run.
 *
 * Any ERROR, a cancel included, aborts the transaction: no run and no version
 * survive, and the XGBoost handles are freed by the reset callbacks of the
 * training memory context (xgb.c).
 *
 * Every loop over the data checks for interrupts (XGBoost's own calls run
 * with signals blocked, so a cancel takes effect when the call returns).
 *
 * Equality with the Python package.  With test_size => 0 the training matrix
 * holds every row in source order as float32, labels are class codes 0..k-1
 * (or the values), and the booster is created with the training matrix in
 * its cache and the parameters set one by one, ending with
 * validate_parameters = 1 - exactly what xgboost.train does, so the same
 * parameters give the same trees.  Defaults we add (objective, num_class,
 * nthread) are logged with the run so they can be repeated in Python.
 *
 * Progress.  A shared-memory array with one slot per backend (indexed by
 * backend id) holds the model, round, total rounds, start time and last
 * evaluation; the owner writes it under the slot's spinlock and
 * mlops.training_progress reads every slot.
 *
 * Files.  This file holds mlops_train and the reading of its arguments;
 * train_params.c the hyperparameters, their ranges and the threads (step
 * 0), train_memory.c the memory estimate (step 2), train_boost.c the
 * boosting loop (step 4),
 * train_metrics.c the metric history and held-out metrics (step 5),
 * train_tracking.c the writes to tracking and the registry (steps 3 and 5),
 * train_progress.c the progress array and mlops.training_progress.  They
 * share train_int.h.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "common/common.h"
#include "train/train.h"
#include "train/train_int.h"
#include "xgb/xgb.h"

PG_FUNCTION_INFO_V1(mlops_train);

static void ParseRequest(FunctionCallInfo fcinfo, TrainRequest *req);
static List *DefaultParams(TrainRequest *req, Dataset *ds, int nthread);
static char *ParamsJson(TrainRequest *req, List *params, Dataset *ds);
static void CheckSplit(TrainRequest *req, Dataset *ds, DatasetSplit *split);

/* How the rows reach XGBoost, and the test rows the held-out metrics score */
typedef struct TrainData
{
	bool		batches;		/* quantile matrices from the spilled rows */
	bool	   *is_test;		/* batches: per row */
	float	   *xtest;			/* matrix in memory: the test rows */
	float	   *ytest;
} TrainData;

static void BuildMatrices(MemoryContext owner, Dataset *ds, DatasetSplit *split,
						  List *params, int nthread, TrainData *td, DMatrixHandle *dmats);

/*
 * mlops_train implements mlops.train(model_name, source, target, task,
 * hyperparams, features, test_size, test_sampling, experiment, seed): it
 * trains a booster and registers it as a new version, returning
 * (run_id, version, metrics).
 */
Datum
mlops_train(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TrainRequest req;
	MemoryContext traincxt;
	MemoryContext matcxt;
	MemoryContext oldcxt;
	TrainData	td = {0};
	Dataset    *ds;
	DatasetSplit *split;
	DMatrixHandle dmats[2];
	const char *evnames[2] = {"train", "test"};
	BoosterHandle booster;
	List	   *params;
	ListCell   *lc;
	RoundEval **history;
	BoostResult result;
	int			rounds_done;
	int			best_round;
	instr_time	start_time;
	instr_time	fit_time;
	MetricRows	rows = {0};
	int			first_final;
	char	   *metrics;
	char	   *schema_json;
	char	   *params_json;
	int64		run_id;
	int32		version;
	bytea	   *model;
	int			nthread;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	MlopsRequireWritable("train");
	InitMaterializedSRF(fcinfo, 0);
	ParseRequest(fcinfo, &req);

	traincxt = AllocSetContextCreate(CurrentMemoryContext, "mlops train",
									 ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(traincxt);

	/* 1-2: read, split, check what depends on the data, describe */
	td.batches = TrainUsesBatches(&req);
	if (td.batches)
		ds = DatasetReadSpilled(req.source, req.target, req.features, req.classification,
								(int64) mlops_max_train_cells_m * 1000000,
								TrainBatchedByteLimit(), TRAIN_BATCH_CELLS);
	else
		ds = DatasetRead(req.source, req.target, req.features, req.classification,
						 (int64) mlops_max_train_cells_m * 1000000, TrainMatrixByteLimit());
	split = DatasetMakeSplit(ds, req.test_size, req.test_sampling, req.seed);
	CheckSplit(&req, ds, split);
	TrainCheckParamsForData(&req, ds->nfeatures);
	nthread = TrainThreads(&req);
	params = DefaultParams(&req, ds, nthread);
	TrainCheckMemory(&req, params, ds, split, nthread, td.batches);
	if (td.batches)
	{
		td.is_test = TrainSplitMask(split, ds->nrows);
		DatasetComputeStatsSpilled(ds, split->ntest > 0 ? td.is_test : NULL);
	}
	else
		DatasetComputeStats(ds, split->train_rows, split->ntrain);
	schema_json = DatasetInputSchemaJson(ds);
	params_json = ParamsJson(&req, params, ds);

	/* 3: tracking */
	run_id = TrainStartRun(&req);
	TrainLogParams(run_id, params_json);

	/* 4: boost (the matrices live in their own context, freed once trained) */
	matcxt = AllocSetContextCreate(traincxt, "mlops train matrices", ALLOCSET_SMALL_SIZES);
	BuildMatrices(matcxt, ds, split, params, nthread, &td, dmats);
	booster = XgbBoosterCreate(traincxt, dmats, split->ntest > 0 ? 2 : 1);
	XgbCaptureLog();
	foreach(lc, params)
	{
		TrainParam *p = lfirst(lc);

		XgbBoosterSetParam(booster, p->name, p->value);
	}
	XgbBoosterSetParam(booster, "validate_parameters", "1");

	history = palloc0(sizeof(RoundEval *) * req.n_estimators);
	INSTR_TIME_SET_CURRENT(start_time);
	/* evaluate on the held-out rows only: that is what early stopping reads */
	TrainBoostWithProgress(&req, booster, dmats[0], &dmats[split->ntest > 0 ? 1 : 0],
						   &evnames[split->ntest > 0 ? 1 : 0], history, &result);
	INSTR_TIME_SET_CURRENT(fit_time);
	INSTR_TIME_SUBTRACT(fit_time, start_time);
	rounds_done = result.rounds_done;
	best_round = result.best_round;

	if (best_round >= 0 && best_round + 1 < rounds_done)
		booster = XgbBoosterSlice(traincxt, booster, best_round + 1);

	/* 5: metric history (every round, then the final metrics), registration */
	TrainAddRoundHistory(&rows, history, rounds_done);
	first_final = rows.nrows;
	rows.step = rounds_done;
	if (split->ntest == 0)
	{
		/* no held-out rows to score: the training rows must predict finite values */
		bst_ulong	len;
		const float *out = XgbPredictDMatrix(booster, dmats[0], &len);

		TrainRequireFinite(out, (int64) len, (int) Max(1, len / Max(split->ntrain, 1)), "training");
	}
	/* XGBoost's bins of the rows are no longer needed: free them before the rest */
	MemoryContextDelete(matcxt);
	if (split->ntest > 0 && td.batches)
		TrainBatchHeldOutMetrics(&rows, ds, td.is_test, split->ntest, booster);
	else if (split->ntest > 0)
		TrainHeldOutMetrics(&rows, ds, booster, td.xtest, td.ytest, split->ntest);
	if (td.batches)
		DatasetSpillClose(ds);
	TrainAddMetric(&rows, "fit_time_s", INSTR_TIME_GET_DOUBLE(fit_time));
	TrainAddMetric(&rows, "train_rows", (double) split->ntrain);
	TrainAddMetric(&rows, "test_rows", (double) split->ntest);
	TrainAddMetric(&rows, "features", (double) ds->nfeatures);
	TrainAddMetric(&rows, "rounds", (double) (best_round >= 0 ? best_round + 1 : rounds_done));
	if (best_round >= 0)
		TrainAddMetric(&rows, "best_iteration", (double) best_round);
	metrics = TrainMetricRowsJson(&rows, first_final);
	TrainLogMetricHistory(run_id, &rows);

	model = XgbBoosterSaveJson(booster);
	version = TrainRegisterVersion(&req, ds, model, run_id, schema_json, metrics,
								   params_json);
	TrainEndRun(run_id);

	MemoryContextSwitchTo(oldcxt);
	values[0] = Int64GetDatum(run_id);
	values[1] = Int32GetDatum(version);
	values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	MemoryContextDelete(traincxt);
	return (Datum) 0;
}

/*
 * BuildMatrices builds the training matrix dmats[0] and, with held-out
 * rows, the test matrix dmats[1], owned by owner: from batches of the
 * spilled rows (train_batches.c), or from the matrix in memory, whose rows
 * are then freed but for the test rows (td->xtest, td->ytest) the held-out
 * metrics predict.
 */
static void
BuildMatrices(MemoryContext owner, Dataset *ds, DatasetSplit *split, List *params,
			  int nthread, TrainData *td, DMatrixHandle *dmats)
{
	float	   *xtrain;
	float	   *ytrain;

	if (td->batches)
	{
		/* the row lists are replaced by td->is_test */
		pfree(split->train_rows);
		pfree(split->test_rows);
		split->train_rows = split->test_rows = NULL;
		TrainBatchMatrices(owner, ds, td->is_test, split->ntest, params, nthread, dmats);
		return;
	}
	xtrain = DatasetGather(ds->x, ds->nfeatures, split->train_rows, split->ntrain);
	ytrain = DatasetGather(ds->y, 1, split->train_rows, split->ntrain);
	dmats[0] = XgbDMatrixFromDenseThreaded(owner, xtrain, split->ntrain, ds->nfeatures,
										   ytrain, nthread);
	if (split->ntest > 0)
	{
		td->xtest = DatasetGather(ds->x, ds->nfeatures, split->test_rows, split->ntest);
		td->ytest = DatasetGather(ds->y, 1, split->test_rows, split->ntest);
		dmats[1] = XgbDMatrixFromDenseThreaded(owner, td->xtest, split->ntest, ds->nfeatures,
											   td->ytest, nthread);
	}
	/* XGBoost copied the rows: drop our copies (keeping the test rows) */
	if (xtrain != ds->x)
		pfree(xtrain);
	if (ytrain != ds->y)
		pfree(ytrain);
	if (td->xtest != ds->x)
		pfree(ds->x);
	if (td->ytest != ds->y)
		pfree(ds->y);
	ds->x = ds->y = NULL;
}

/*
 * CheckSplit refuses a split that training cannot use: early stopping
 * without held-out rows, held-out metrics over more classes than
 * evalmetrics.c keeps, or training rows of a single class.
 */
static void
CheckSplit(TrainRequest *req, Dataset *ds, DatasetSplit *split)
{
	if (req->early_stopping_rounds > 0 && split->ntest == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("early_stopping_rounds needs held-out rows"),
				 errhint("Use a test_size above 0 with early stopping.")));
	if (req->classification && split->ntest > 0 &&
		ds->label.classes->count > EVAL_MAX_CLASSES)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("held-out metrics support at most %d classes", EVAL_MAX_CLASSES),
				 errdetail("The target has %d distinct labels.", ds->label.classes->count),
				 errhint("Use test_size => 0 to train without held-out metrics.")));
	if (req->classification && split->ntest > 0)
	{
		/* every class must be learnable */
		bool	   *seen = palloc_extended(sizeof(bool) * ds->label.classes->count,
									   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		int			nseen = 0;

		for (int64 i = 0; i < split->ntrain; i++)
		{
			int			c = (int) ds->y[split->train_rows[i]];

			CHECK_FOR_INTERRUPTS();
			if (!seen[c])
				nseen++;
			seen[c] = true;
		}
		if (nseen < 2)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("training rows hold a single class after the split"),
					 errhint("Use test_sampling => 'stratified' or a smaller test_size.")));
		pfree(seen);
	}
}

/*
 * ParseRequest reads and checks the arguments of mlops.train.
 */
static void
ParseRequest(FunctionCallInfo fcinfo, TrainRequest *req)
{
	const char *argnames[] = {"model_name", "source", "target", "task"};
	char	   *task;

	memset(req, 0, sizeof(TrainRequest));
	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", argnames[i])));
	req->model_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	req->source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	req->target = text_to_cstring(PG_GETARG_TEXT_PP(2));
	task = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strcmp(task, "classification") == 0)
		req->classification = true;
	else if (strcmp(task, "regression") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown task \"%s\"", MlopsClip(task, MLOPS_ECHO_MAX)),
				 errhint("Use classification or regression.")));

	req->n_estimators = 100;
	req->hyperparams = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	if (req->hyperparams != NULL)
		TrainParseHyperparams(req, req->hyperparams);

	if (!PG_ARGISNULL(5))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(5);
		Datum	   *elems;
		bool	   *enulls;
		int			n;

		if (ARR_NDIM(arr) > 1 || ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) > TRAIN_MAX_FEATURES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("features must be a one-dimensional array of at most %d column names",
							TRAIN_MAX_FEATURES)));
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &n);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("features must not be empty"),
					 errhint("Pass NULL to use every column but the target.")));
		for (int i = 0; i < n; i++)
		{
			if (enulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("features must not contain null")));
			req->features = lappend(req->features, TextDatumGetCString(elems[i]));
		}
	}
	req->test_size = PG_ARGISNULL(6) ? 0.25 : PG_GETARG_FLOAT8(6);
	TrainCheckTestSize(req->test_size);
	req->test_sampling = PG_ARGISNULL(7) ? "random" : text_to_cstring(PG_GETARG_TEXT_PP(7));
	req->experiment = PG_ARGISNULL(8) ? req->model_name : text_to_cstring(PG_GETARG_TEXT_PP(8));
	req->seed = PG_ARGISNULL(9) ? 42 : PG_GETARG_INT32(9);
}

/*
 * DefaultParams returns the parameters to set: objective (and num_class)
 * for the task when the user gave none, nthread (the threads TrainThreads
 * chose), then the user's parameters.
 */
static List *
DefaultParams(TrainRequest *req, Dataset *ds, int nthread)
{
	List	   *params = NIL;
	TrainParam *p;
	char	   *objective = TrainParamValue(req->params, "objective");

	if (objective == NULL)
	{
		p = palloc(sizeof(TrainParam));
		p->name = "objective";
		if (!req->classification)
			p->value = "reg:squarederror";
		else if (ds->label.classes->count == 2)
			p->value = "binary:logistic";
		else
			p->value = "multi:softprob";
		params = lappend(params, p);
		objective = p->value;
	}
	if (req->classification && strncmp(objective, "multi:", 6) == 0 &&
		TrainParamValue(req->params, "num_class") == NULL)
	{
		p = palloc(sizeof(TrainParam));
		p->name = "num_class";
		p->value = psprintf("%d", ds->label.classes->count);
		params = lappend(params, p);
	}
	p = palloc(sizeof(TrainParam));
	p->name = "nthread";
	p->value = psprintf("%d", nthread);
	params = lappend(params, p);
	return list_concat(params, req->params);
}

/*
 * ParamsJson returns the run parameters: the XGBoost parameters as set, plus
 * n_estimators, early stopping and the data description.
 */
static char *
ParamsJson(TrainRequest *req, List *params, Dataset *ds)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, params)
	{
		TrainParam *p = lfirst(lc);

		/* a repeated eval_metric keeps its last value here */
		if (TrainParamValue(params, p->name) != p->value)
			continue;
		escape_json(&buf, p->name);
		appendStringInfoString(&buf, ": ");
		escape_json(&buf, p->value);
		appendStringInfoString(&buf, ", ");
	}
	appendStringInfo(&buf, "\"n_estimators\": %d, ", req->n_estimators);
	if (req->early_stopping_rounds > 0)
		appendStringInfo(&buf, "\"early_stopping_rounds\": %d, ", req->early_stopping_rounds);
	appendStringInfoString(&buf, "\"source\": ");
	escape_json(&buf, req->source);
	appendStringInfoString(&buf, ", \"target\": ");
	escape_json(&buf, req->target);
	appendStringInfo(&buf, ", \"task\": \"%s\", \"test_size\": %s, \"test_sampling\": ",
					 req->classification ? "classification" : "regression",
					 float8out_internal(req->test_size));
	escape_json(&buf, req->test_sampling);
	appendStringInfo(&buf, ", \"seed\": %d, \"features\": [", req->seed);
	for (int j = 0; j < ds->nfeatures; j++)
	{
		if (j > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, ds->features[j].name);
	}
	appendStringInfoString(&buf, "]}");
	return buf.data;
}
