/*
 * train.c
 *		mlops.train: train an XGBoost model on a table or query and register it.
 *
 * Design
 * ------
 * One call of mlops.train does, inside the caller's transaction:
 *
 *   1. read the source into a float matrix (dataset.c: chunk-free streaming
 *      through a portal, categorical and label encoding, memory cap);
 *   2. split it (random, stratified or last) and compute the per-feature
 *      statistics of the training rows, the drift reference;
 *   3. start a tracking run and log the effective parameters;
 *   4. boost round by round (XGBoosterUpdateOneIter), evaluating on the
 *      held-out matrix after every round (without one, the training matrix
 *      when progress is reported and after the last round), honouring
 *      early_stopping_rounds, publishing progress in shared memory and
 *      checking for interrupts between rounds;
 *   5. compute the held-out metrics (evalmetrics.c over metrics.c, at most
 *      EVAL_MAX_CLASSES classes), log the per-round metric history and the
 *      final metrics, register the booster as a new model version through
 *      mlops._register_model_version (as the extension owner), end the run.
 *
 * Any ERROR, a cancel included, aborts the transaction: no run and no version
 * survive, and the XGBoost handles are freed by the reset callbacks of the
 * training memory context (xgb.c).
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
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "common/common.h"
#include "train/train.h"
#include "xgb/xgb.h"

PG_FUNCTION_INFO_V1(mlops_train);
PG_FUNCTION_INFO_V1(mlops_training_progress);

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
} TrainRequest;

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

/* A progress slot in shared memory */
typedef struct ProgressSlot
{
	slock_t		mutex;
	int			pid;			/* 0 = free */
	char		model[NAMEDATALEN * 2];
	int			round;
	int			total_rounds;
	TimestampTz started;
	char		last_metric[128];
} ProgressSlot;

static ProgressSlot *progress_slots = NULL;
static int	progress_nslots = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void TrainShmemRequest(void);
static void TrainShmemStartup(void);
static void ParseRequest(FunctionCallInfo fcinfo, TrainRequest *req);
static void ParseHyperparams(TrainRequest *req, Jsonb *hyperparams);
static int	ParamInt(const char *name, JsonbValue *v);
static char *JsonbScalarText(const char *name, JsonbValue *v);
static List *DefaultParams(TrainRequest *req, Dataset *ds);
static char *ParamValue(List *params, const char *name);
static void Boost(TrainRequest *req, BoosterHandle booster, DMatrixHandle dtrain,
				  DMatrixHandle *deval, const char **evname, RoundEval **history,
				  BoostResult *result);
static void BoostWithProgress(TrainRequest *req, BoosterHandle booster,
							  DMatrixHandle dtrain, DMatrixHandle *deval,
							  const char **evname, RoundEval **history,
							  BoostResult *result);
static RoundEval *ParseEval(const char *line);
static bool MetricMaximized(const char *name);
static void AddMetric(MetricRows *rows, const char *name, double value);
static char *MetricRowsJson(MetricRows *rows, int from);
static void HeldOutMetrics(MetricRows *rows, Dataset *ds, BoosterHandle booster,
						   const float *x, const float *y, int64 n);
static char *ParamsJson(TrainRequest *req, List *params, Dataset *ds);
static int64 StartRun(TrainRequest *req);
static void LogParams(int64 run_id, const char *json);
static void LogMetricHistory(int64 run_id, MetricRows *rows);
static void EndRun(int64 run_id);
static int32 RegisterVersion(TrainRequest *req, Dataset *ds, bytea *model,
							 int64 run_id, const char *schema, const char *metrics,
							 const char *params);
static void ProgressBegin(const char *model, int total);
static void ProgressUpdate(int round, const char *metric);
static void ProgressEnd(void);

/*
 * TrainInit requests the progress array in shared memory; it does nothing
 * unless mlops is being preloaded.
 */
void
TrainInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = TrainShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = TrainShmemStartup;
}

/* TrainShmemRequest reserves one progress slot per backend. */
static void
TrainShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(mul_size(MaxBackends, sizeof(ProgressSlot)));
}

/* TrainShmemStartup attaches to (or creates) the progress array. */
static void
TrainShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	progress_slots = ShmemInitStruct("mlops training progress",
									 mul_size(MaxBackends, sizeof(ProgressSlot)),
									 &found);
	progress_nslots = MaxBackends;
	if (!found)
	{
		for (int i = 0; i < MaxBackends; i++)
		{
			SpinLockInit(&progress_slots[i].mutex);
			progress_slots[i].pid = 0;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

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
	MemoryContext oldcxt;
	Dataset    *ds;
	DatasetSplit *split;
	float	   *xtrain;
	float	   *ytrain;
	float	   *xtest = NULL;
	float	   *ytest = NULL;
	DMatrixHandle dmats[2];
	const char *evnames[2];
	DMatrixHandle *evals;
	const char **evnames_used;
	int			nevals;
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

	InitMaterializedSRF(fcinfo, 0);
	ParseRequest(fcinfo, &req);

	traincxt = AllocSetContextCreate(CurrentMemoryContext, "mlops train",
									 ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(traincxt);

	/* 1-2: read, split, describe */
	ds = DatasetRead(req.source, req.target, req.features, req.classification,
					 (int64) mlops_max_train_cells_m * 1000000);
	split = DatasetMakeSplit(ds, req.test_size, req.test_sampling, req.seed);
	if (req.early_stopping_rounds > 0 && split->ntest == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("early_stopping_rounds needs held-out rows"),
				 errhint("Use a test_size above 0 with early stopping.")));
	if (req.classification && split->ntest > 0 &&
		ds->label.classes->count > EVAL_MAX_CLASSES)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("held-out metrics support at most %d classes", EVAL_MAX_CLASSES),
				 errdetail("The target has %d distinct labels.", ds->label.classes->count),
				 errhint("Use test_size => 0 to train without held-out metrics.")));
	if (req.classification && split->ntest > 0)
	{
		/* every class must be learnable */
		bool	   *seen = palloc0(sizeof(bool) * ds->label.classes->count);
		int			nseen = 0;

		for (int64 i = 0; i < split->ntrain; i++)
		{
			int			c = (int) ds->y[split->train_rows[i]];

			if (!seen[c])
				nseen++;
			seen[c] = true;
		}
		if (nseen < 2)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("training rows hold a single class after the split"),
					 errhint("Use test_sampling => 'stratified' or a smaller test_size.")));
	}
	DatasetComputeStats(ds, split->train_rows, split->ntrain);
	schema_json = DatasetInputSchemaJson(ds);
	params = DefaultParams(&req, ds);
	params_json = ParamsJson(&req, params, ds);
	nthread = atoi(ParamValue(params, "nthread"));

	/* 3: tracking */
	run_id = StartRun(&req);
	LogParams(run_id, params_json);

	/* 4: boost */
	xtrain = DatasetGather(ds->x, ds->nfeatures, split->train_rows, split->ntrain);
	ytrain = DatasetGather(ds->y, 1, split->train_rows, split->ntrain);
	dmats[0] = XgbDMatrixFromDenseThreaded(traincxt, xtrain, split->ntrain, ds->nfeatures,
										   ytrain, nthread);
	evnames[0] = "train";
	nevals = 1;
	if (split->ntest > 0)
	{
		/* evaluate on the held-out rows only: that is what early stopping reads */
		xtest = DatasetGather(ds->x, ds->nfeatures, split->test_rows, split->ntest);
		ytest = DatasetGather(ds->y, 1, split->test_rows, split->ntest);
		dmats[1] = XgbDMatrixFromDenseThreaded(traincxt, xtest, split->ntest, ds->nfeatures,
											   ytest, nthread);
		evnames[1] = "test";
		nevals = 2;
	}
	/* XGBoost copied the rows: drop our copies (keeping the test rows) */
	if (xtrain != ds->x)
		pfree(xtrain);
	if (ytrain != ds->y)
		pfree(ytrain);
	if (xtest != ds->x)
		pfree(ds->x);
	if (ytest != ds->y)
		pfree(ds->y);
	ds->x = ds->y = NULL;

	booster = XgbBoosterCreate(traincxt, dmats, nevals);
	evals = nevals == 2 ? &dmats[1] : &dmats[0];
	evnames_used = nevals == 2 ? &evnames[1] : &evnames[0];
	XgbCaptureLog();
	foreach(lc, params)
	{
		TrainParam *p = lfirst(lc);

		XgbBoosterSetParam(booster, p->name, p->value);
	}
	XgbBoosterSetParam(booster, "validate_parameters", "1");

	history = palloc0(sizeof(RoundEval *) * req.n_estimators);
	INSTR_TIME_SET_CURRENT(start_time);
	BoostWithProgress(&req, booster, dmats[0], evals, evnames_used, history, &result);
	INSTR_TIME_SET_CURRENT(fit_time);
	INSTR_TIME_SUBTRACT(fit_time, start_time);
	rounds_done = result.rounds_done;
	best_round = result.best_round;

	if (best_round >= 0 && best_round + 1 < rounds_done)
		booster = XgbBoosterSlice(traincxt, booster, best_round + 1);

	/* 5: metric history (every round, then the final metrics), registration */
	for (int round = 0; round < rounds_done; round++)
	{
		RoundEval  *ev = history[round];

		rows.step = round;
		for (int m = 0; m < ev->nmetrics; m++)
			AddMetric(&rows, ev->names[m], ev->values[m]);
	}
	first_final = rows.nrows;
	rows.step = rounds_done;
	if (split->ntest > 0)
		HeldOutMetrics(&rows, ds, booster, xtest, ytest, split->ntest);
	AddMetric(&rows, "fit_time_s", INSTR_TIME_GET_DOUBLE(fit_time));
	AddMetric(&rows, "train_rows", (double) split->ntrain);
	AddMetric(&rows, "test_rows", (double) split->ntest);
	AddMetric(&rows, "features", (double) ds->nfeatures);
	AddMetric(&rows, "rounds", (double) (best_round >= 0 ? best_round + 1 : rounds_done));
	if (best_round >= 0)
		AddMetric(&rows, "best_iteration", (double) best_round);
	metrics = MetricRowsJson(&rows, first_final);
	LogMetricHistory(run_id, &rows);

	model = XgbBoosterSaveJson(booster);
	version = RegisterVersion(&req, ds, model, run_id, schema_json, metrics,
							  params_json);
	EndRun(run_id);

	MemoryContextSwitchTo(oldcxt);
	values[0] = Int64GetDatum(run_id);
	values[1] = Int32GetDatum(version);
	values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	MemoryContextDelete(traincxt);
	return (Datum) 0;
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
				 errmsg("unknown task \"%s\"", task),
				 errhint("Use classification or regression.")));

	req->n_estimators = 100;
	req->hyperparams = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	if (req->hyperparams != NULL)
		ParseHyperparams(req, req->hyperparams);

	if (!PG_ARGISNULL(5))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(5);
		Datum	   *elems;
		bool	   *enulls;
		int			n;

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
	req->test_sampling = PG_ARGISNULL(7) ? "random" : text_to_cstring(PG_GETARG_TEXT_PP(7));
	req->experiment = PG_ARGISNULL(8) ? req->model_name : text_to_cstring(PG_GETARG_TEXT_PP(8));
	req->seed = PG_ARGISNULL(9) ? 42 : PG_GETARG_INT32(9);
}

/*
 * ParseHyperparams turns the hyperparams object into XGBoost parameters in
 * the object's order, taking out n_estimators and early_stopping_rounds.
 * Arrays become one parameter per element for eval_metric (like the Python
 * package) and their JSON text otherwise.
 */
static void
ParseHyperparams(TrainRequest *req, Jsonb *hyperparams)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(hyperparams) || JB_ROOT_IS_SCALAR(hyperparams))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparams must be a JSON object"),
				 errhint("For example '{\"max_depth\": 6, \"eta\": 0.1}'.")));

	it = JsonbIteratorInit(&hyperparams->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		TrainParam *p;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (strcmp(key, "n_estimators") == 0 || strcmp(key, "num_boost_round") == 0)
		{
			req->n_estimators = ParamInt(key, &v);
			if (req->n_estimators < 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("n_estimators must be at least 1")));
			continue;
		}
		if (strcmp(key, "early_stopping_rounds") == 0)
		{
			req->early_stopping_rounds = ParamInt(key, &v);
			if (req->early_stopping_rounds < 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("early_stopping_rounds must be at least 1")));
			continue;
		}
		if (v.type == jbvBinary && strcmp(key, "eval_metric") == 0 &&
			JsonContainerIsArray(v.val.binary.data))
		{
			int			n = JsonContainerSize(v.val.binary.data);

			for (int i = 0; i < n; i++)
			{
				p = palloc(sizeof(TrainParam));
				p->name = key;
				p->value = JsonbScalarText(key, getIthJsonbValueFromContainer(v.val.binary.data, i));
				req->params = lappend(req->params, p);
			}
			continue;
		}
		p = palloc(sizeof(TrainParam));
		p->name = key;
		if (v.type == jbvBinary)
			p->value = JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
		else
			p->value = JsonbScalarText(key, &v);
		req->params = lappend(req->params, p);
	}
}

/* ParamInt returns a whole-number parameter value. */
static int
ParamInt(const char *name, JsonbValue *v)
{
	char	   *text = JsonbScalarText(name, v);
	char	   *end;
	long		n = strtol(text, &end, 10);

	if (*end != '\0' || end == text || n > INT_MAX || n < INT_MIN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter %s must be a whole number", name),
				 errdetail("Got \"%s\".", text)));
	return (int) n;
}

/*
 * JsonbScalarText returns the text XGBoost receives for a scalar JSON value.
 */
static char *
JsonbScalarText(const char *name, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hyperparameter %s must be a string, number or boolean", name)));
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * DefaultParams returns the parameters to set: objective (and num_class)
 * for the task when the user gave none, nthread from mlops.train_threads
 * when the user gave none, then the user's parameters.
 */
static List *
DefaultParams(TrainRequest *req, Dataset *ds)
{
	List	   *params = NIL;
	TrainParam *p;
	char	   *objective = ParamValue(req->params, "objective");

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
		ParamValue(req->params, "num_class") == NULL)
	{
		p = palloc(sizeof(TrainParam));
		p->name = "num_class";
		p->value = psprintf("%d", ds->label.classes->count);
		params = lappend(params, p);
	}
	if (ParamValue(req->params, "nthread") == NULL)
	{
		p = palloc(sizeof(TrainParam));
		p->name = "nthread";
		p->value = psprintf("%d", mlops_train_threads);
		params = lappend(params, p);
	}
	return list_concat(params, req->params);
}

/* ParamValue returns the value of the last parameter called name, or NULL. */
static char *
ParamValue(List *params, const char *name)
{
	ListCell   *lc;
	char	   *value = NULL;

	foreach(lc, params)
	{
		TrainParam *p = lfirst(lc);

		if (strcmp(p->name, name) == 0)
			value = p->value;
	}
	return value;
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
		if (ParamValue(params, p->name) != p->value)
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

/*
 * BoostWithProgress runs Boost with this backend's progress slot published,
 * freeing the slot however the training ends.
 */
static void
BoostWithProgress(TrainRequest *req, BoosterHandle booster, DMatrixHandle dtrain,
				  DMatrixHandle *deval, const char **evname, RoundEval **history,
				  BoostResult *result)
{
	ProgressBegin(req->model_name, req->n_estimators);
	PG_TRY();
	{
		Boost(req, booster, dtrain, deval, evname, history, result);
	}
	PG_FINALLY();
	{
		ProgressEnd();
	}
	PG_END_TRY();
}

/*
 * Boost runs the boosting rounds: update on dtrain, evaluate on deval (the
 * held-out rows, or the training rows without any), publish
 * progress, report every mlops.train_progress_rounds rounds, and stop early
 * when the last metric on the last matrix has not improved for
 * early_stopping_rounds rounds.  Interrupts are checked between rounds.
 */
static void
Boost(TrainRequest *req, BoosterHandle booster, DMatrixHandle dtrain,
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
		ProgressUpdate(result->rounds_done, ev->nmetrics > 0 ?
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

/* AddMetric adds one metric value at the current step to the history. */
static void
AddMetric(MetricRows *rows, const char *name, double value)
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
 * MetricRowsJson returns the rows from index from on as a JSON object of
 * name: value, NaN and infinities as null (JSON has no literal for them).
 */
static char *
MetricRowsJson(MetricRows *rows, int from)
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
 * HeldOutMetrics predicts the test rows and adds the held-out metrics:
 * accuracy, precision, recall, f1, log_loss (and roc_auc when binary) for a
 * classification, rmse, mae and r2 for a regression.  Objectives that output
 * classes rather than probabilities (multi:softmax, binary:hinge) get no
 * log_loss or roc_auc.
 */
static void
HeldOutMetrics(MetricRows *rows, Dataset *ds, BoosterHandle booster,
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
		AddMetric(rows, "accuracy", cm.accuracy);
		AddMetric(rows, "precision", cm.precision);
		AddMetric(rows, "recall", cm.recall);
		AddMetric(rows, "f1", cm.f1);
		if (output == OUTPUT_CLASS)
			return;				/* no probabilities: no roc_auc, no log_loss */
		if (k == 2)
			AddMetric(rows, "roc_auc", cm.roc_auc);
		AddMetric(rows, "log_loss", cm.log_loss);
	}
	else
	{
		RegressionMetrics rm;

		if (EvalRegression(y, pred, (long) n, &rm, err, sizeof(err)) != 0)
			elog(ERROR, "could not compute held-out metrics: %s", err);
		AddMetric(rows, "rmse", rm.rmse);
		AddMetric(rows, "mae", rm.mae);
		AddMetric(rows, "r2", rm.r2);
	}
}

/* ---------------------------------------------------------------------
 * Tracking and registry calls (SPI)
 * ---------------------------------------------------------------------
 */

/*
 * RunScalar runs one statement of ours (a tracking or registry call) through
 * SPI as the extension owner, the caller being recorded as the actor, and
 * returns the first column of its first row as int64 (0 when it is NULL or
 * absent).
 */
static int64
RunScalar(const char *sql, int nargs, Oid *types, Datum *values)
{
	int64		result = 0;
	int			rc;
	MlopsOwnerSave save;

	MlopsBeginOwner(&save);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not run \"%s\": %s", sql, SPI_result_code_string(rc));
	if (SPI_processed > 0 && SPI_tuptable->tupdesc->natts > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			Oid			t = SPI_gettypeid(SPI_tuptable->tupdesc, 1);

			result = (t == INT8OID) ? DatumGetInt64(d) :
				(t == INT4OID) ? (int64) DatumGetInt32(d) : 0;
		}
	}
	SPI_finish();
	MlopsEndOwner(&save);
	return result;
}

/* StartRun starts the tracking run of this training and returns its id. */
static int64
StartRun(TrainRequest *req)
{
	Oid			types[3] = {TEXTOID, TEXTOID, JSONBOID};
	Datum		values[3];
	StringInfoData tags;

	initStringInfo(&tags);
	appendStringInfoString(&tags, "{\"mlops.model\": ");
	escape_json(&tags, req->model_name);
	appendStringInfoString(&tags, ", \"mlops.source\": \"mlops.train\"}");
	values[0] = CStringGetTextDatum(req->experiment);
	values[1] = CStringGetTextDatum(psprintf("train %s", req->model_name));
	values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(tags.data));
	return RunScalar("SELECT mlops.start_run($1, $2, $3)", 3, types, values);
}

/* LogParams logs the run parameters. */
static void
LogParams(int64 run_id, const char *json)
{
	Oid			types[2] = {INT8OID, JSONBOID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
	(void) RunScalar("SELECT 1 FROM (SELECT mlops.log_params($1, $2)) s", 2, types, values);
}

/*
 * LogMetricHistory logs every gathered metric row in one call of
 * mlops._log_metric_history (one audit event for the whole history).
 */
static void
LogMetricHistory(int64 run_id, MetricRows *rows)
{
	Oid			types[4] = {INT8OID, TEXTARRAYOID, INT4ARRAYOID, FLOAT8ARRAYOID};
	Datum		values[4];

	values[0] = Int64GetDatum(run_id);
	values[1] = PointerGetDatum(construct_array(rows->keys, rows->nrows, TEXTOID,
												-1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(rows->steps, rows->nrows, INT4OID,
												sizeof(int32), true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(rows->values, rows->nrows, FLOAT8OID,
												sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	(void) RunScalar("SELECT 1 FROM (SELECT mlops._log_metric_history($1, $2, $3, $4)) s",
					 4, types, values);
}

/* EndRun marks the run finished. */
static void
EndRun(int64 run_id)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum("finished");
	(void) RunScalar("SELECT 1 FROM (SELECT mlops.end_run($1, $2)) s", 2, types, values);
}

/*
 * RegisterVersion registers the booster as a new version (stage None) as the
 * extension owner and returns its number.
 */
static int32
RegisterVersion(TrainRequest *req, Dataset *ds, bytea *model, int64 run_id,
				const char *schema, const char *metrics, const char *params)
{
	Oid			types[10] = {TEXTOID, BYTEAOID, INT8OID, TEXTOID, TEXTOID,
	TEXTARRAYOID, JSONBOID, JSONBOID, JSONBOID, JSONBOID};
	Datum		values[10];
	Datum	   *names = palloc(sizeof(Datum) * ds->nfeatures);
	int64		version;
	StringInfoData tags;

	for (int j = 0; j < ds->nfeatures; j++)
		names[j] = CStringGetTextDatum(ds->features[j].name);
	initStringInfo(&tags);
	appendStringInfoString(&tags, "{\"source\": ");
	escape_json(&tags, req->source);
	appendStringInfoString(&tags, ", \"target\": ");
	escape_json(&tags, req->target);
	appendStringInfoChar(&tags, '}');

	values[0] = CStringGetTextDatum(req->model_name);
	values[1] = PointerGetDatum(model);
	values[2] = Int64GetDatum(run_id);
	values[3] = CStringGetTextDatum(req->classification ? "classification" : "regression");
	values[4] = CStringGetTextDatum("xgboost");
	values[5] = PointerGetDatum(construct_array(names, ds->nfeatures, TEXTOID, -1, false, TYPALIGN_INT));
	values[6] = DirectFunctionCall1(jsonb_in, CStringGetDatum(schema));
	values[7] = DirectFunctionCall1(jsonb_in, CStringGetDatum(metrics));
	values[8] = DirectFunctionCall1(jsonb_in, CStringGetDatum(params));
	values[9] = DirectFunctionCall1(jsonb_in, CStringGetDatum(tags.data));

	version = RunScalar("SELECT mlops._register_model_version($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
						10, types, values);
	return (int32) version;
}

/* ---------------------------------------------------------------------
 * Progress
 * ---------------------------------------------------------------------
 */

/* MySlot returns this backend's progress slot, NULL without shared memory. */
static ProgressSlot *
MySlot(void)
{
	if (progress_slots == NULL || MyBackendId < 1 || MyBackendId > progress_nslots)
		return NULL;
	return &progress_slots[MyBackendId - 1];
}

/* ProgressBegin publishes the start of a training. */
static void
ProgressBegin(const char *model, int total)
{
	ProgressSlot *slot = MySlot();

	if (slot == NULL)
		return;
	SpinLockAcquire(&slot->mutex);
	slot->pid = MyProcPid;
	strlcpy(slot->model, model, sizeof(slot->model));
	slot->round = 0;
	slot->total_rounds = total;
	slot->started = GetCurrentTimestamp();
	slot->last_metric[0] = '\0';
	SpinLockRelease(&slot->mutex);
}

/* ProgressUpdate publishes a finished round and its metric, if evaluated. */
static void
ProgressUpdate(int round, const char *metric)
{
	ProgressSlot *slot = MySlot();

	if (slot == NULL)
		return;
	SpinLockAcquire(&slot->mutex);
	slot->round = round;
	if (metric != NULL)
		strlcpy(slot->last_metric, metric, sizeof(slot->last_metric));
	SpinLockRelease(&slot->mutex);
}

/* ProgressEnd frees this backend's slot. */
static void
ProgressEnd(void)
{
	ProgressSlot *slot = MySlot();

	if (slot == NULL)
		return;
	SpinLockAcquire(&slot->mutex);
	slot->pid = 0;
	SpinLockRelease(&slot->mutex);
}

/*
 * mlops_training_progress implements mlops.training_progress(): one row per
 * training running in the cluster (pid, model, round, total_rounds,
 * elapsed, last_metric).
 */
Datum
mlops_training_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (progress_slots == NULL)
		MlopsRequirePreload("mlops.training_progress");
	for (int i = 0; i < progress_nslots; i++)
	{
		ProgressSlot copy;
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		SpinLockAcquire(&progress_slots[i].mutex);
		memcpy(&copy, &progress_slots[i], sizeof(ProgressSlot));
		SpinLockRelease(&progress_slots[i].mutex);
		if (copy.pid == 0)
			continue;
		values[0] = Int32GetDatum(copy.pid);
		values[1] = CStringGetTextDatum(copy.model);
		values[2] = Int32GetDatum(copy.round);
		values[3] = Int32GetDatum(copy.total_rounds);
		values[4] = DirectFunctionCall2(timestamp_mi,
										TimestampTzGetDatum(GetCurrentTimestamp()),
										TimestampTzGetDatum(copy.started));
		values[5] = CStringGetTextDatum(copy.last_metric);
		nulls[5] = copy.last_metric[0] == '\0';
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
