/*
 * predict.c
 *		Serving predictions from SQL.
 *
 * Design
 * ------
 * Every prediction function resolves its model reference through the
 * per-backend cache (model_cache.c), turns its input into a row-major
 * float32 matrix encoded exactly like the training matrix (dataset.c's
 * EncodeFeatureDatum and the model's stored categories), runs XGBoost
 * (xgb.c: in place for tree boosters, through a DMatrix for gblinear) and
 * converts the raw output:
 *
 *   predict        regression: the value; classification: the predicted
 *                  class code (index into input_schema.label.classes);
 *   predict_proba  one probability per class, in input_schema.label.classes
 *                  order (binary: [P(class 0), P(class 1)]);
 *   predict_label  the predicted class's label (classes[code], or the code
 *                  as text for a model without class names);
 *   predict_batch  predict for each object of a JSON array, in one call;
 *   predict_table  (id, prediction, label) for every row of a table or
 *                  query, and predict_proba_table (id, probabilities),
 *                  streamed through a portal in chunks of up to
 *                  PREDICT_CHUNK_ROWS rows.  Two chunks alternate: while
 *                  a full chunk predicts on a helper thread (xgb.c's
 *                  XgbPredictStart), the backend reads and encodes the next
 *                  one, posts it behind the first and emits the first while
 *                  the helper goes on.  On two threads with a model the
 *                  native walk can predict, both threads walk the forest:
 *                  the helper from the front of a posted chunk, the backend
 *                  from the back whenever it has no row to read or emit
 *                  (TableHelp), so neither core waits for the other however
 *                  the work falls (the walk is faster per row than XGBoost
 *                  on one thread, forest.c); on more threads XGBoost takes
 *                  all but the backend's.  Without a forest XGBoost
 *                  predicts each chunk on every thread.  Ids are numbers
 *                  printed at emission, or the output of the id column's
 *                  type.  The last, partial chunk predicts on the backend's
 *                  thread, so a small source never starts a helper.
 *
 * Inputs of one row: a float8[] (real[] and numeric[] arrive cast to it)
 * in training order; a jsonb object of named features or a jsonb array in
 * training order; or text, for an untyped literal such as
 * '{"age": 35}' or '{5.1, 3.5}': a JSON object or array is read as jsonb,
 * anything else as a float8[] literal (TextFeatureForm).  The text overload
 * is what PostgreSQL picks for an unknown literal (it prefers the string
 * category), so no call needs a cast.
 *
 * Threads: a call of fewer than PREDICT_PARALLEL_MIN_ROWS rows runs on one
 * thread (OpenMP start-up costs far more than one row); larger batches use
 * mlops.predict_threads (0: every CPU), never more than mlops.max_threads.
 *
 * Native tree walk: a call of fewer than PREDICT_PARALLEL_MIN_ROWS rows of
 * a model whose cache entry has a forest (xgb_forest.c: gbtree, numeric
 * splits, a known objective, checked bit for bit against XGBoost when it
 * was built, on the model's first such call) walks the trees without
 * XGBoost's C API, whose per-call machinery costs more than the walk
 * itself, unless mlops.native_tree_walk is off; so do predict_table's full
 * chunks on two threads (above; the forest is built on the call's start).
 * Everything else predicts with XGBoost (PredictRows).
 *
 * Every call is timed and counted in mlops.prediction_stats, failures
 * included (a PG_CATCH records the error and rethrows).
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "access/tupmacs.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/portal.h"
#include "utils/tuplestore.h"

#include "common/common.h"
#include "serve/routing_hash.h"
#include "serve/serve.h"
#include "xgb/xgb.h"

PG_FUNCTION_INFO_V1(mlops_predict_float8);
PG_FUNCTION_INFO_V1(mlops_predict_float4);
PG_FUNCTION_INFO_V1(mlops_predict_jsonb);
PG_FUNCTION_INFO_V1(mlops_predict_text);
PG_FUNCTION_INFO_V1(mlops_predict_proba_float8);
PG_FUNCTION_INFO_V1(mlops_predict_proba_jsonb);
PG_FUNCTION_INFO_V1(mlops_predict_proba_text);
PG_FUNCTION_INFO_V1(mlops_predict_label_float8);
PG_FUNCTION_INFO_V1(mlops_predict_label_jsonb);
PG_FUNCTION_INFO_V1(mlops_predict_label_text);
PG_FUNCTION_INFO_V1(mlops_predict_batch);
PG_FUNCTION_INFO_V1(mlops_predict_table);
PG_FUNCTION_INFO_V1(mlops_predict_proba_table);
PG_FUNCTION_INFO_V1(mlops_predict_detail);
PG_FUNCTION_INFO_V1(mlops_predict_scores);

/* Batches this small predict on one thread */
#define PREDICT_PARALLEL_MIN_ROWS 1024
/* Rows of a predict_table chunk, fewer when a chunk would exceed the floats */
#define PREDICT_CHUNK_ROWS 16384
#define PREDICT_CHUNK_FLOATS (4 * 1024 * 1024)
/* Rows the helper thread predicts per XGBoost call and thread, sharing a chunk */
#define TABLE_HELPER_BLOCK 1024
/* Rows the backend walks per claim, sharing a chunk */
#define TABLE_CLAIM_ROWS 256

/* How a prediction call received its features */
typedef enum InputKind
{
	INPUT_FLOAT8_ARRAY,
	INPUT_FLOAT4_ARRAY,			/* only through 0.1.0's predict(text, real[]) */
	INPUT_JSONB,
	INPUT_TEXT
} InputKind;

/* What a one-row prediction returns */
typedef enum PredictWhat
{
	PREDICT_VALUE,				/* float8: value or class code */
	PREDICT_PROBA,				/* float8[]: class probabilities */
	PREDICT_LABEL,				/* text: the class label */
	PREDICT_SCORES				/* float8[]: prediction, predicted class's probability */
} PredictWhat;

/* How a text input is read */
typedef enum TextForm
{
	TEXT_JSON,					/* a JSON object or array */
	TEXT_ARRAY,					/* a float8[] literal */
	TEXT_UNKNOWN
} TextForm;

static float *row_buffer = NULL;
static int	row_buffer_len = 0;

static Datum PredictOne(FunctionCallInfo fcinfo, InputKind kind, PredictWhat what);
static CachedModel *RouteModelArg(FunctionCallInfo fcinfo, const char *ref, int argno, Route *route);
static void PredictShadow(Route *route, InputKind kind, Datum input, double served);
static void DetailJson(JsonbParseState **state, CachedModel *m, const float *out, double prediction,
					   Route *route);
static void PushKey(JsonbParseState **state, const char *key);
static void PushNumber(JsonbParseState **state, const char *number);
static void PushString(JsonbParseState **state, const char *s);
static const char *JsonNumber(double v);
static void RequireProba(CachedModel *m);
static void RequireClasses(CachedModel *m);
static int	ClassCode(CachedModel *m, double code);
static const char *ClassLabel(CachedModel *m, int code);
static float *RowBuffer(int n);
static void EncodeInput(CachedModel *m, InputKind kind, Datum input, float *row);
static TextForm TextFeatureForm(const char *s);
static void EncodeJsonFeatures(CachedModel *m, JsonbContainer *c, float *row);
static void EncodeArray(CachedModel *m, Datum arr, Oid elemtype, float *row);
static void RaiseFeatureCount(CachedModel *m, int n);
static void EncodeJsonObject(CachedModel *m, JsonbContainer *obj, float *row,
							 MlopsList *errors, int instance);
static int	FeatureByName(CachedModel *m, const char *name);
static int	CompareFeatureNames(const void *a, const void *b, void *arg);
static const char *ProblemPrefix(MlopsList *errors, int instance);
static void EncodeJsonArray(CachedModel *m, JsonbContainer *arr, float *row, MlopsList *errors);
static const char *EncodeJsonValue(FeatureColumn *col, JsonbValue *v, float *out);
static void AppendValueProblem(MlopsList *errors, const char *prefix, const char *feature,
							   const char *problem, JsonbValue *v);
static void RaiseFeatureErrors(CachedModel *m, MlopsList *errors);
static void BatchPin(CachedModel *m, CachedModel *candidate, CachedModel *shadow, bool pin);
static int	BatchPredict(CachedModel *m, Jsonb *instances, int n, const bool *pick, bool want,
						 Datum *elems);
static void BatchShadow(Route *route, Jsonb *instances, int n, Datum *elems);
static float *BatchMatrix(CachedModel *m, Jsonb *instances, int n, const bool *pick, bool want,
						  int *rows);
static const float *PredictRows(CachedModel *m, const float *x, int64 nrows);
static double OutputToPrediction(CachedModel *m, const float *out, int64 i);
static void OutputToProba(CachedModel *m, const float *out, int64 i, double *proba);
static Datum ProbaArray(CachedModel *m, const float *out, int64 i);
static double PredictedProbability(CachedModel *m, const float *out, double prediction);
static Datum ScoresArray(CachedModel *m, const float *out, double prediction);
static double ElapsedMs(instr_time start);

/* mlops_predict_float8 implements mlops.predict(model text, features float8[]). */
Datum
mlops_predict_float8(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_FLOAT8_ARRAY, PREDICT_VALUE);
}

/*
 * mlops_predict_float4 implements 0.1.0's mlops.predict(model text,
 * features real[]); 0.2.0 dropped that overload (real[] casts to float8[]),
 * the symbol stays for the 0.1.0 install script.
 */
Datum
mlops_predict_float4(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_FLOAT4_ARRAY, PREDICT_VALUE);
}

/* mlops_predict_jsonb implements mlops.predict(model text, features jsonb). */
Datum
mlops_predict_jsonb(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_JSONB, PREDICT_VALUE);
}

/* mlops_predict_text implements mlops.predict(model text, features text). */
Datum
mlops_predict_text(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_TEXT, PREDICT_VALUE);
}

/* mlops_predict_proba_float8 implements mlops.predict_proba(model text, float8[]). */
Datum
mlops_predict_proba_float8(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_FLOAT8_ARRAY, PREDICT_PROBA);
}

/* mlops_predict_proba_jsonb implements mlops.predict_proba(model text, jsonb). */
Datum
mlops_predict_proba_jsonb(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_JSONB, PREDICT_PROBA);
}

/* mlops_predict_proba_text implements mlops.predict_proba(model text, text). */
Datum
mlops_predict_proba_text(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_TEXT, PREDICT_PROBA);
}

/* mlops_predict_label_float8 implements mlops.predict_label(model text, float8[]). */
Datum
mlops_predict_label_float8(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_FLOAT8_ARRAY, PREDICT_LABEL);
}

/* mlops_predict_label_jsonb implements mlops.predict_label(model text, jsonb). */
Datum
mlops_predict_label_jsonb(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_JSONB, PREDICT_LABEL);
}

/* mlops_predict_label_text implements mlops.predict_label(model text, text). */
Datum
mlops_predict_label_text(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_TEXT, PREDICT_LABEL);
}

/*
 * PredictOne predicts one row, given as an array, a JSON object or array,
 * or text, and returns the prediction, the class probabilities or the
 * class label.  A bare model name routes through its deployment
 * (routing.c) by the optional third argument, the routing key.
 */
static Datum
PredictOne(FunctionCallInfo fcinfo, InputKind kind, PredictWhat what)
{
	char	   *ref;
	CachedModel *m;
	Route		route;
	instr_time	start;
	Datum		result = (Datum) 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	INSTR_TIME_SET_CURRENT(start);
	m = RouteModelArg(fcinfo, ref, 2, &route);
	PG_TRY();
	{
		float	   *row = RowBuffer(m->nfeatures);
		const float *out;

		if (what == PREDICT_PROBA)
			RequireProba(m);
		else if (what == PREDICT_LABEL)
			RequireClasses(m);
		EncodeInput(m, kind, PG_GETARG_DATUM(1), row);
		out = PredictRows(m, row, 1);
		if (route.shadow != NULL)
			PredictShadow(&route, kind, PG_GETARG_DATUM(1), OutputToPrediction(m, out, 0));
		if (what == PREDICT_PROBA)
			result = ProbaArray(m, out, 0);
		else if (what == PREDICT_SCORES)
			result = ScoresArray(m, out, OutputToPrediction(m, out, 0));
		else if (what == PREDICT_LABEL)
			result = CStringGetTextDatum(ClassLabel(m, ClassCode(m, OutputToPrediction(m, out, 0))));
		else
			result = Float8GetDatum(OutputToPrediction(m, out, 0));
	}
	PG_CATCH();
	{
		PredictionStatsRecord(&m->stats, m->name, m->version, 1, ElapsedMs(start), true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	PredictionStatsRecord(&m->stats, m->name, m->version, 1, ElapsedMs(start), false);
	return result;
}

/*
 * RouteModelArg returns the model serving ref, routed by the text argument
 * argno when the function has it and it is not null.
 */
static CachedModel *
RouteModelArg(FunctionCallInfo fcinfo, const char *ref, int argno, Route *route)
{
	text	   *key = NULL;

	if (PG_NARGS() > argno && !PG_ARGISNULL(argno))
		key = PG_GETARG_TEXT_PP(argno);
	return RouteModel(ref, key ? VARDATA_ANY(key) : NULL, key ? VARSIZE_ANY_EXHDR(key) : 0, route);
}

/*
 * PredictShadow predicts the same row with a shadow candidate and records
 * how its output compares with the served one.  deploy() accepts a shadow
 * only when it takes the same features as the stable version, so a row the
 * stable version encoded encodes for the shadow too.
 */
static void
PredictShadow(Route *route, InputKind kind, Datum input, double served)
{
	CachedModel *m = route->shadow;
	float	   *row = palloc(sizeof(float) * Max(m->nfeatures, 1));

	EncodeInput(m, kind, input, row);
	RouteRecordShadow(route, served, OutputToPrediction(m, PredictRows(m, row, 1), 0), false);
	PredictionStatsRecord(&m->stats, m->name, m->version, 1, 0.0, false);
	pfree(row);
}

/*
 * mlops_predict_detail implements mlops.predict_detail(model text, features
 * jsonb, routing_key text): one prediction with the version, deployment and
 * variant that served it and its latency.  The document is built as jsonb
 * values, without printing and parsing JSON text.
 */
Datum
mlops_predict_detail(PG_FUNCTION_ARGS)
{
	char	   *ref;
	CachedModel *m;
	Route		route;
	instr_time	start;
	JsonbParseState *state = NULL;
	JsonbValue *doc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	MlopsRequireCurrentSchema("mlops.predict_detail");
	ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	INSTR_TIME_SET_CURRENT(start);
	m = RouteModelArg(fcinfo, ref, 2, &route);
	PG_TRY();
	{
		float	   *row = RowBuffer(m->nfeatures);
		const float *out;
		double		prediction;

		EncodeInput(m, INPUT_JSONB, PG_GETARG_DATUM(1), row);
		out = PredictRows(m, row, 1);
		prediction = OutputToPrediction(m, out, 0);
		if (route.shadow != NULL)
			PredictShadow(&route, INPUT_JSONB, PG_GETARG_DATUM(1), prediction);
		DetailJson(&state, m, out, prediction, &route);
	}
	PG_CATCH();
	{
		PredictionStatsRecord(&m->stats, m->name, m->version, 1, ElapsedMs(start), true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	{
		double		ms = ElapsedMs(start);

		PredictionStatsRecord(&m->stats, m->name, m->version, 1, ms, false);
		PushKey(&state, "latency_ms");
		PushNumber(&state, psprintf("%.6f", ms));
		doc = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	PG_RETURN_JSONB_P(JsonbValueToJsonb(doc));
}

/*
 * mlops_predict_scores implements mlops._predict_scores(model text,
 * features jsonb): {prediction, probability of the predicted class} from
 * one evaluation, the probability NULL unless the model is a classifier
 * that outputs probabilities.  mlops.ab_predict (src/deploy/ab_predict.c)
 * calls it: the two numbers of predict_detail's document, without the
 * document.
 */
Datum
mlops_predict_scores(PG_FUNCTION_ARGS)
{
	return PredictOne(fcinfo, INPUT_JSONB, PREDICT_SCORES);
}

/*
 * DetailJson pushes predict_detail's object, all but its latency and end,
 * onto state: prediction, label, probability (of the predicted class),
 * probabilities, model, model_version, deployment_id and variant.
 */
static void
DetailJson(JsonbParseState **state, CachedModel *m, const float *out, double prediction, Route *route)
{
	bool		classes = m->output != OUTPUT_VALUE;
	bool		proba = classes && m->output != OUTPUT_CLASS;
	double	   *p = NULL;

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	PushKey(state, "prediction");
	PushNumber(state, JsonNumber(prediction));
	PushKey(state, "label");
	PushString(state, classes ? ClassLabel(m, ClassCode(m, prediction)) : NULL);
	if (proba)
	{
		p = palloc(sizeof(double) * m->nclasses);
		OutputToProba(m, out, 0, p);
	}
	PushKey(state, "probability");
	PushNumber(state, proba ? JsonNumber(PredictedProbability(m, out, prediction)) : "null");
	PushKey(state, "probabilities");
	if (proba)
	{
		pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		for (int c = 0; c < m->nclasses; c++)
			PushNumber(state, JsonNumber(p[c]));
		pushJsonbValue(state, WJB_END_ARRAY, NULL);
		pfree(p);
	}
	else
		PushNumber(state, "null");
	PushKey(state, "model");
	PushString(state, m->name);
	PushKey(state, "model_version");
	PushNumber(state, psprintf("%d", m->version));
	PushKey(state, "deployment_id");
	PushNumber(state, route->deployment_id != 0 ? psprintf(INT64_FORMAT, route->deployment_id) : "null");
	PushKey(state, "variant");
	PushString(state, route->variant == ROUTE_CANARY ? "canary" : "stable");
}

/* PushKey pushes an object key onto a jsonb being built. */
static void
PushKey(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &v);
}

/*
 * PushNumber pushes a number, given as JSON number text (or "null"), onto a
 * jsonb being built: the numeric jsonb_in would make of that text.
 */
static void
PushNumber(JsonbParseState **state, const char *number)
{
	JsonbValue	v;

	if (strcmp(number, "null") == 0)
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(number),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
	}
	pushJsonbValue(state, (*state)->contVal.type == jbvArray ? WJB_ELEM : WJB_VALUE, &v);
}

/* PushString pushes a string (NULL: a JSON null) onto a jsonb being built. */
static void
PushString(JsonbParseState **state, const char *s)
{
	JsonbValue	v;

	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	pushJsonbValue(state, WJB_VALUE, &v);
}

/* JsonNumber prints a float8 as a JSON number, null when not finite. */
static const char *
JsonNumber(double v)
{
	if (!isfinite(v))
		return "null";
	return psprintf("%.17g", v);
}

/*
 * RequireProba raises an ERROR unless the model outputs class
 * probabilities.
 */
static void
RequireProba(CachedModel *m)
{
	if (m->output == OUTPUT_VALUE || m->output == OUTPUT_CLASS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" version %d does not output class probabilities",
						m->name, m->version),
				 errdetail("Its objective is %s.", m->objective),
				 errhint("Use mlops.predict.")));
}

/* RequireClasses raises an ERROR unless the model predicts classes. */
static void
RequireClasses(CachedModel *m)
{
	if (m->output == OUTPUT_VALUE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" version %d does not predict classes", m->name, m->version),
				 errdetail("Its objective is %s.", m->objective),
				 errhint("Use mlops.predict for its value.")));
}

/*
 * ClassCode returns a predicted class code as an index into the classes,
 * after checking that it is one.
 */
static int
ClassCode(CachedModel *m, double code)
{
	if (!(code >= 0 && code < m->nclasses) || code != floor(code))
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("model \"%s\" version %d predicted class %g, outside 0..%d",
						m->name, m->version, code, m->nclasses - 1)));
	return (int) code;
}

/*
 * ClassLabel returns the label of a class code: classes[code] of the input
 * schema, or the code itself when the model has no class names.
 */
static const char *
ClassLabel(CachedModel *m, int code)
{
	if (m->schema != NULL && code < m->schema->nclasses)
		return m->schema->classes[code];
	return psprintf("%d", code);
}

/*
 * mlops_predict_batch implements mlops.predict_batch(model text, instances
 * jsonb): one prediction per object of the array, predicted in one call.
 * A bare model name routes each instance as a call of predict without a
 * routing key would (routing.c's RouteCalls): with an active canary, the
 * instances take their places in the exact split of keyless calls, each
 * version predicts its own rows in one call, and each version's rows count
 * in prediction_stats; a shadow predicts every instance too and is
 * compared.
 */
Datum
mlops_predict_batch(PG_FUNCTION_ARGS)
{
	char	   *ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *instances = PG_GETARG_JSONB_P(1);
	bool		is_array = JB_ROOT_IS_ARRAY(instances) && !JB_ROOT_IS_SCALAR(instances);
	int			n = is_array ? JsonContainerSize(&instances->root) : 0;
	CachedModel *m;
	Route		route;
	RouteSplit	split;
	instr_time	start;
	volatile int ncanary = 0;
	Datum		result = (Datum) 0;

	INSTR_TIME_SET_CURRENT(start);
	m = RouteCalls(ref, (uint64) n, &route, &split);
	BatchPin(m, split.candidate, route.shadow, true);
	PG_TRY();
	{
		Datum	   *elems;
		bool	   *to_canary = NULL;

		if (!is_array)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("instances must be a JSON array of feature objects"),
					 errhint("For example '[{\"age\": 35}, {\"age\": 52}]'.")));
		elems = palloc(sizeof(Datum) * Max(n, 1));
		if (split.candidate != NULL)
		{
			to_canary = palloc(sizeof(bool) * Max(n, 1));
			for (int i = 0; i < n; i++)
			{
				CHECK_FOR_INTERRUPTS();
				to_canary[i] = RouteCallToCandidate(split.first_call + i, split.percent);
			}
		}
		ncanary = BatchPredict(split.candidate, instances, n, to_canary, true, elems);
		BatchPredict(m, instances, n, to_canary, false, elems);
		if (route.shadow != NULL)
			BatchShadow(&route, instances, n, elems);
		result = PointerGetDatum(construct_array(elems, n, FLOAT8OID, sizeof(float8),
												 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	PG_CATCH();
	{
		BatchPin(m, split.candidate, route.shadow, false);
		PredictionStatsRecord(&m->stats, m->name, m->version, n - ncanary, ElapsedMs(start), true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	BatchPin(m, split.candidate, route.shadow, false);
	if (ncanary > 0)
		PredictionStatsRecord(&split.candidate->stats, split.candidate->name, split.candidate->version,
							  ncanary, ElapsedMs(start), false);
	PredictionStatsRecord(&m->stats, m->name, m->version, n - ncanary, ElapsedMs(start), false);
	return result;
}

/*
 * BatchPin pins (or unpins) the models predict_batch uses, so that nothing
 * evicts one while the other loads or predicts; candidate and shadow may
 * be NULL.
 */
static void
BatchPin(CachedModel *m, CachedModel *candidate, CachedModel *shadow, bool pin)
{
	CachedModel *models[3] = {m, candidate, shadow};

	for (int i = 0; i < 3; i++)
	{
		if (models[i] == NULL)
			continue;
		if (pin)
			ModelCachePin(models[i]);
		else
			ModelCacheUnpin(models[i]);
	}
}

/*
 * BatchPredict predicts, with model m, the instances whose pick is want
 * (every instance when pick is NULL) in one call and stores each
 * prediction at its instance's place in elems; it returns how many it
 * predicted (0, nothing done, when m is NULL).
 */
static int
BatchPredict(CachedModel *m, Jsonb *instances, int n, const bool *pick, bool want, Datum *elems)
{
	int			rows;
	float	   *x;
	const float *out;
	int			r = 0;

	if (m == NULL)
		return 0;
	x = BatchMatrix(m, instances, n, pick, want, &rows);
	if (rows == 0)
		return 0;
	out = PredictRows(m, x, rows);
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (pick == NULL || pick[i] == want)
			elems[i] = Float8GetDatum(OutputToPrediction(m, out, r++));
	}
	pfree(x);
	return rows;
}

/*
 * BatchShadow predicts every instance with the shadow candidate of route
 * and records how each output compares with the served one (elems), as
 * predict does for one call (PredictShadow).
 */
static void
BatchShadow(Route *route, Jsonb *instances, int n, Datum *elems)
{
	CachedModel *shadow = route->shadow;
	Datum	   *out = palloc(sizeof(Datum) * Max(n, 1));

	BatchPredict(shadow, instances, n, NULL, false, out);
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		RouteRecordShadow(route, DatumGetFloat8(elems[i]), DatumGetFloat8(out[i]), false);
	}
	PredictionStatsRecord(&shadow->stats, shadow->name, shadow->version, n, 0.0, false);
	pfree(out);
}

/*
 * BatchMatrix encodes the instances of predict_batch whose pick is want
 * (all n when pick is NULL) into the consecutive rows of a new matrix, and
 * sets *rows to their number, or raises one ERROR listing their problems
 * (instances named by their place in the array).  The matrix grows with
 * the instances encoded without a problem (once one is found, the rest are
 * only checked, into a scratch row), so its size follows the valid input
 * rather than the number of array elements: '[1, 1, ...]' of a million
 * elements allocates nothing per element.
 */
static float *
BatchMatrix(CachedModel *m, Jsonb *instances, int n, const bool *pick, bool want, int *rows)
{
	int			nf = Max(m->nfeatures, 1);
	int			capacity = Min(Max(n, 1), 1024);
	float	   *x = palloc_extended(sizeof(float) * (Size) capacity * nf, MCXT_ALLOC_HUGE);
	float	   *scratch = palloc(sizeof(float) * nf);
	MlopsList	errors;
	int			r = 0;

	MlopsListInit(&errors, MLOPS_LIST_MAX);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *v;

		CHECK_FOR_INTERRUPTS();
		if (pick != NULL && pick[i] != want)
			continue;
		v = getIthJsonbValueFromContainer(&instances->root, i);
		if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		{
			MlopsListAdd(&errors, "instance %d is not an object", i);
			continue;
		}
		if (errors.total == 0 && r >= capacity)
		{
			capacity = (int) Min((int64) n, 2 * (int64) capacity);
			x = repalloc_huge(x, sizeof(float) * (Size) capacity * nf);
		}
		InputConstraintsCheck(m->name, v->val.binary.data, i);
		EncodeJsonObject(m, v->val.binary.data,
						 errors.total == 0 ? x + (Size) r * m->nfeatures : scratch, &errors, i);
		r++;
		pfree(v);
	}
	RaiseFeatureErrors(m, &errors);
	pfree(scratch);
	*rows = r;
	return x;
}

/*
 * How predict_table makes the text ids of its result: row numbers and
 * integer id columns are kept as numbers and printed straight into one
 * reused text buffer when the chunk is emitted (no allocation per row);
 * other id types go through their output function.
 */
typedef enum TableIdKind
{
	TABLE_ID_ROWNUM,
	TABLE_ID_INTEGER,
	TABLE_ID_OUTPUT
} TableIdKind;

/* One chunk of predict_table rows: features, ids, then predictions */
typedef struct TableChunk
{
	float	   *x;				/* chunk_rows * nfeatures */
	float	   *out;			/* chunk_rows * outputs per row */
	char	  **ids;			/* TABLE_ID_OUTPUT: text of each id, NULL for null */
	int64	   *idnums;			/* TABLE_ID_INTEGER: value of each id */
	bool	   *idnulls;		/* TABLE_ID_INTEGER: null ids */
	int			nrows;
	int64		first;			/* row number of its first row, from 0 */
	MemoryContext cxt;			/* TABLE_ID_OUTPUT ids */
	bool		predicting;		/* posted to the helper thread, not yet emitted */
	XgbPredictJob job;
} TableChunk;

/* State of mlops.predict_table and predict_proba_table while rows stream in */
typedef struct TableState
{
	CachedModel *m;
	bool		proba;			/* predict_proba_table */
	FeatureColumn *cols;		/* model features bound to source columns */
	int			id_att;			/* -1: row numbers */
	TableIdKind id_kind;
	FmgrInfo	id_outfunc;
	Oid			id_type;		/* base type of the id column */
	text	  **labels;			/* classifiers: the label of each class code */
	int			chunk_rows;
	int			per_row;		/* outputs per row */
	TableChunk	chunks[2];		/* one filling while the other predicts */
	int			filling;		/* index of the chunk rows go to */
	int			threads;		/* mlops.predict_threads in effect; 0: not chosen yet */
	bool		share;			/* the backend walks rows of posted chunks too */
	int64		nrows;
	Tuplestorestate *store;
	TupleDesc	desc;
	CachedModel *canary;		/* a canary's candidate, rows routed by id */
	int64		deployment_id;
	double		percent;
	int64		canary_rows;
	/* reading features straight from heap tuples (TableRowRaw) */
	bool		raw;			/* every feature and the id are fixed-width numbers */
	int			raw_natts;		/* attributes read: 1 + the highest bound one */
	int			src_natts;		/* attributes of the source's row type */
	TupleDesc	raw_desc;		/* the slot descriptor raw_off was made for */
	TupleDesc	raw_refused;	/* a slot descriptor whose layout does not fit */
	int		   *raw_off;		/* byte offset of each attribute in the tuple data */
} TableState;

static Datum PredictTable(FunctionCallInfo fcinfo, bool proba);
static void TableRun(TableState *st, const char *source, const char *id_column);
static void TableBindFeatures(TableState *st, TupleDesc tupdesc);
static void TableBindId(TableState *st, TupleDesc tupdesc, const char *id_column);
static void TableAllocate(TableState *st, MemoryContext cxt);
static void TableChooseThreads(TableState *st);
static void TableRow(TupleTableSlot *slot, void *arg);
static void TableRawBind(TableState *st, TupleDesc tupdesc);
static bool TableRowRaw(TableState *st, TupleTableSlot *slot);
static bool TableRawLayout(TableState *st, TupleDesc desc);
static void TableRowDone(TableState *st, TableChunk *c);
static void TableDispatch(TableState *st);
static void TableHelp(TableState *st, TableChunk *c, XgbPredictJob *until);
static void TableWait(TableState *st, TableChunk *c, TableChunk *next);
static void TableEmit(TableState *st, TableChunk *c, const float *canary_out);
static void TableCheckCanary(TableState *st);
static bool TableRowToCanary(TableState *st, const char *key, int len);

/*
 * mlops_predict_table implements mlops.predict_table(model text, source
 * text, id_column text): (id, prediction, label) for every row of a table,
 * view or query, read as the calling user.
 */
Datum
mlops_predict_table(PG_FUNCTION_ARGS)
{
	return PredictTable(fcinfo, false);
}

/*
 * mlops_predict_proba_table implements mlops.predict_proba_table(model
 * text, source text, id_column text): (id, probabilities) for every row.
 */
Datum
mlops_predict_proba_table(PG_FUNCTION_ARGS)
{
	return PredictTable(fcinfo, true);
}

/*
 * PredictTable checks the arguments, pins the model for the scan and
 * records the call's statistics; TableRun does the work.
 */
static Datum
PredictTable(FunctionCallInfo fcinfo, bool proba)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *ref;
	char	   *source;
	char	   *id_column;
	CachedModel *m;
	instr_time	start;
	TableState	st;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model and source must not be null")));
	ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	id_column = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));

	InitMaterializedSRF(fcinfo, 0);
	INSTR_TIME_SET_CURRENT(start);
	memset(&st, 0, sizeof(st));
	/* a bare name with an active canary routes each row by its id */
	if (!RouteCanary(ref, &m, &st.canary, &st.deployment_id, &st.percent))
		m = ModelCacheGet(ref);
	st.m = m;
	st.proba = proba;
	st.store = rsinfo->setResult;
	st.desc = rsinfo->setDesc;
	ModelCachePin(m);
	if (st.canary)
		ModelCachePin(st.canary);
	PG_TRY();
	{
		TableCheckCanary(&st);
		TableRun(&st, source, id_column);
	}
	PG_CATCH();
	{
		/* the helper thread may still use the chunk and the booster */
		XgbJoinBackground();
		ModelCacheUnpin(m);
		if (st.canary)
			ModelCacheUnpin(st.canary);
		PredictionStatsRecord(&m->stats, m->name, m->version, st.nrows, ElapsedMs(start), true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	ModelCacheUnpin(m);
	if (st.canary)
	{
		ModelCacheUnpin(st.canary);
		PredictionStatsRecord(&st.canary->stats, st.canary->name, st.canary->version, st.canary_rows,
							  ElapsedMs(start), false);
	}
	PredictionStatsRecord(&m->stats, m->name, m->version, st.nrows - st.canary_rows, ElapsedMs(start), false);
	return (Datum) 0;
}

/*
 * TableRun opens the source as the calling user, binds its columns to the
 * model's features and the id, and streams every row through the chunks.
 */
static void
TableRun(TableState *st, const char *source, const char *id_column)
{
	CachedModel *m = st->m;
	MemoryContext cxt = CurrentMemoryContext;
	char	   *query;
	Portal		portal;

	if (st->proba)
		RequireProba(m);
	if (m->schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" version %d has no input schema", m->name, m->version),
				 errdetail("Table scoring matches source columns to the feature names of the input schema."),
				 errhint("Use mlops.predict with a float8[] of the features in training order.")));
	query = DatasetSourceQuery(source);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SourceOpen(query);
	MemoryContextSwitchTo(cxt);

	TableBindFeatures(st, portal->tupDesc);
	TableBindId(st, portal->tupDesc, id_column);
	TableRawBind(st, portal->tupDesc);
	TableAllocate(st, cxt);

	SourceScanRaw(portal, TableRow, st);
	/* the last, partial chunk predicts here after the one in flight */
	TableHelp(st, &st->chunks[1 - st->filling], NULL);
	TableWait(st, &st->chunks[1 - st->filling], NULL);
	if (st->chunks[st->filling].nrows > 0)
	{
		TableChunk *c = &st->chunks[st->filling];
		const float *out = PredictRows(m, c->x, c->nrows);

		memcpy(c->out, out, sizeof(float) * c->nrows * st->per_row);
		TableEmit(st, c, st->canary ? PredictRows(st->canary, c->x, c->nrows) : NULL);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextSwitchTo(cxt);
}

/*
 * TableBindFeatures binds every model feature to the source column of the
 * same name; missing and incompatible columns are one ERROR listing them.
 */
static void
TableBindFeatures(TableState *st, TupleDesc tupdesc)
{
	CachedModel *m = st->m;
	MlopsList	missing;
	MlopsList	mistyped;

	st->cols = palloc0(sizeof(FeatureColumn) * Max(m->nfeatures, 1));
	MlopsListInit(&missing, MLOPS_LIST_MAX);
	MlopsListInit(&mistyped, MLOPS_LIST_MAX);
	for (int j = 0; j < m->nfeatures; j++)
	{
		FeatureColumn *want = &m->schema->features[j];
		FeatureColumn *col = &st->cols[j];
		bool		supported;
		FeatureKind kind;

		*col = *want;
		col->attno = DatasetFindColumn(tupdesc, want->name);
		if (col->attno < 0)
		{
			MlopsListAdd(&missing, "\"%s\"", MlopsClip(want->name, MLOPS_ECHO_MAX));
			continue;
		}
		col->typid = getBaseType(TupleDescAttr(tupdesc, col->attno)->atttypid);
		kind = FeatureKindFromType(col->typid, &supported);
		ColumnOutputFunction(col->typid, &col->outfunc);
		if (!supported ||
			(want->kind != FEATURE_CATEGORICAL && kind == FEATURE_CATEGORICAL))
			MlopsListAdd(&mistyped, "\"%s\" is %s but the model expects %s",
						 MlopsClip(want->name, MLOPS_ECHO_MAX),
						 format_type_be(col->typid), FeatureKindName(want->kind));
	}
	if (missing.total > 0 || mistyped.total > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("source does not match the features of model \"%s\" version %d",
						m->name, m->version),
				 errdetail("%s%s%s%s",
						   missing.total > 0 ? "Missing columns: " : "", MlopsListDone(&missing),
						   missing.total > 0 && mistyped.total > 0 ? ". Wrong types: " :
						   (mistyped.total > 0 ? "Wrong types: " : ""), MlopsListDone(&mistyped)),
				 errhint("Rename or cast the columns in a source query.")));
}

/*
 * TableBindId finds the id column, if one is named, and chooses how its
 * values become text.
 */
static void
TableBindId(TableState *st, TupleDesc tupdesc, const char *id_column)
{
	st->id_att = -1;
	if (id_column == NULL)
		return;
	st->id_att = DatasetFindColumn(tupdesc, id_column);
	if (st->id_att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("id column \"%s\" does not exist in source", MlopsClip(id_column, MLOPS_ECHO_MAX))));
	st->id_type = getBaseType(TupleDescAttr(tupdesc, st->id_att)->atttypid);
	if (st->id_type == INT2OID || st->id_type == INT4OID || st->id_type == INT8OID)
		st->id_kind = TABLE_ID_INTEGER;
	else
	{
		st->id_kind = TABLE_ID_OUTPUT;
		ColumnOutputFunction(TupleDescAttr(tupdesc, st->id_att)->atttypid, &st->id_outfunc);
	}
}

/*
 * TableAllocate sizes and allocates the two chunks in cxt and, for a
 * classifier's predict_table, the text of every class label once.
 */
static void
TableAllocate(TableState *st, MemoryContext cxt)
{
	CachedModel *m = st->m;

	st->chunk_rows = Min(PREDICT_CHUNK_ROWS,
						 Max(PREDICT_PARALLEL_MIN_ROWS, PREDICT_CHUNK_FLOATS / Max(m->nfeatures, 1)));
	st->per_row = (m->output == OUTPUT_PROBS) ? m->nclasses : 1;
	for (int k = 0; k < 2; k++)
	{
		TableChunk *c = &st->chunks[k];

		c->x = palloc_extended(sizeof(float) * st->chunk_rows * Max(m->nfeatures, 1),
							   MCXT_ALLOC_HUGE);
		c->out = palloc_extended(sizeof(float) * st->chunk_rows * st->per_row,
								 MCXT_ALLOC_HUGE);
		c->ids = palloc(sizeof(char *) * st->chunk_rows);
		c->idnums = palloc(sizeof(int64) * st->chunk_rows);
		c->idnulls = palloc(sizeof(bool) * st->chunk_rows);
		c->cxt = AllocSetContextCreate(cxt, "mlops predict_table chunk",
									   ALLOCSET_DEFAULT_SIZES);
	}
	if (!st->proba && m->output != OUTPUT_VALUE)
	{
		st->labels = palloc(sizeof(text *) * m->nclasses);
		for (int c = 0; c < m->nclasses; c++)
		{
			CHECK_FOR_INTERRUPTS();
			st->labels[c] = cstring_to_text(ClassLabel(m, c));
		}
	}
}

/*
 * TableRow encodes one source row into the filling chunk.  A row of a
 * table whose features are all fixed-width numbers is read straight from
 * its heap tuple (TableRowRaw); otherwise the slot is deformed and every
 * value encoded like the training matrix's (EncodeFeatureValue).
 */
static void
TableRow(TupleTableSlot *slot, void *arg)
{
	TableState *st = (TableState *) arg;
	TableChunk *c = &st->chunks[st->filling];
	int			nf = st->m->nfeatures;
	float	   *row = c->x + (Size) c->nrows * nf;
	Datum	   *values;
	bool	   *isnull;

	if (st->raw && TableRowRaw(st, slot))
		return;
	slot_getallattrs(slot);
	values = slot->tts_values;
	isnull = slot->tts_isnull;
	for (int j = 0; j < nf; j++)
	{
		FeatureColumn *col = &st->cols[j];

		row[j] = EncodeFeatureValue(col, values[col->attno], isnull[col->attno]);
	}
	switch (st->id_kind)
	{
		case TABLE_ID_ROWNUM:
			break;
		case TABLE_ID_INTEGER:
			c->idnulls[c->nrows] = isnull[st->id_att];
			if (!isnull[st->id_att])
				c->idnums[c->nrows] =
					st->id_type == INT8OID ? DatumGetInt64(values[st->id_att]) :
					st->id_type == INT4OID ? DatumGetInt32(values[st->id_att]) :
					DatumGetInt16(values[st->id_att]);
			break;
		case TABLE_ID_OUTPUT:
			if (isnull[st->id_att])
				c->ids[c->nrows] = NULL;
			else
			{
				MemoryContext old = MemoryContextSwitchTo(c->cxt);

				c->ids[c->nrows] = OutputFunctionCall(&st->id_outfunc, values[st->id_att]);
				MemoryContextSwitchTo(old);
			}
			break;
	}
	TableRowDone(st, c);
}

/*
 * TableRowDone counts the row just encoded into chunk c and hands the chunk
 * to the helper thread when it is full.
 */
static void
TableRowDone(TableState *st, TableChunk *c)
{
	if (c->nrows == 0)
		c->first = st->nrows;
	st->nrows++;
	c->nrows++;
	if (c->nrows == st->chunk_rows)
		TableDispatch(st);
}

/*
 * TableRawBind decides whether rows of a source with row type tupdesc may
 * be read straight from heap tuples: every feature a real, double
 * precision, smallint, integer or bigint column (no domain, no category)
 * and the id, if any, an integer.
 */
static void
TableRawBind(TableState *st, TupleDesc tupdesc)
{
	int			last = st->id_att;

	st->raw = (st->id_kind != TABLE_ID_OUTPUT);
	for (int j = 0; j < st->m->nfeatures && st->raw; j++)
	{
		FeatureColumn *col = &st->cols[j];

		st->raw = (col->kind != FEATURE_CATEGORICAL &&
				   (col->typid == FLOAT4OID || col->typid == FLOAT8OID ||
					col->typid == INT2OID || col->typid == INT4OID || col->typid == INT8OID));
		last = Max(last, col->attno);
	}
	st->raw_natts = last + 1;
	st->src_natts = tupdesc->natts;
	st->raw_desc = NULL;
	st->raw_refused = NULL;
	st->raw_off = palloc(sizeof(int) * Max(st->raw_natts, 1));
}

/*
 * TableRowRaw encodes a row from its heap tuple, as the deforming code
 * would read it, when the slot holds a buffer heap tuple without NULLs whose
 * first raw_natts attributes are fixed-width (so each sits at a fixed
 * offset); it returns false, having done nothing, for any other row.
 */
static bool
TableRowRaw(TableState *st, TupleTableSlot *slot)
{
	TableChunk *c = &st->chunks[st->filling];
	int			nf = st->m->nfeatures;
	float	   *row = c->x + (Size) c->nrows * nf;
	HeapTuple	tup;
	const char *data;

	if (!TTS_IS_BUFFERTUPLE(slot))
		return false;
	tup = ((BufferHeapTupleTableSlot *) slot)->base.tuple;
	if (tup == NULL || HeapTupleHasNulls(tup) ||
		HeapTupleHeaderGetNatts(tup->t_data) < st->raw_natts)
		return false;
	if (slot->tts_tupleDescriptor != st->raw_desc &&
		!TableRawLayout(st, slot->tts_tupleDescriptor))
		return false;
	data = (const char *) tup->t_data + tup->t_data->t_hoff;
	for (int j = 0; j < nf; j++)
	{
		const char *p = data + st->raw_off[st->cols[j].attno];

		switch (st->cols[j].typid)
		{
			case FLOAT4OID:
				memcpy(&row[j], p, sizeof(float));
				break;
			case FLOAT8OID:
				{
					double		v;

					memcpy(&v, p, sizeof(double));
					row[j] = DoubleToFloat(v);
				}
				break;
			case INT8OID:
				{
					int64		v;

					memcpy(&v, p, sizeof(int64));
					row[j] = DoubleToFloat((double) v);
				}
				break;
			case INT4OID:
				row[j] = (float) *(const int32 *) p;
				break;
			default:
				row[j] = (float) *(const int16 *) p;
				break;
		}
	}
	if (st->id_kind == TABLE_ID_INTEGER)
	{
		const char *p = data + st->raw_off[st->id_att];

		c->idnulls[c->nrows] = false;
		c->idnums[c->nrows] = st->id_type == INT8OID ? *(const int64 *) p :
			st->id_type == INT4OID ? *(const int32 *) p : *(const int16 *) p;
	}
	TableRowDone(st, c);
	return true;
}

/*
 * TableRawLayout computes, for a slot descriptor, the offset of each of the
 * first raw_natts attributes in a tuple without NULLs, as heap deforming
 * does (att_align_nominal, attlen), and remembers it; it returns false, and
 * remembers that, when one of them is not of fixed width or a bound one is
 * not of the type it was bound with.
 */
static bool
TableRawLayout(TableState *st, TupleDesc desc)
{
	int			off = 0;

	if (desc == st->raw_refused)
		return false;
	st->raw_desc = NULL;
	st->raw_refused = desc;
	/* the slot must hold the source's rows as they are, not projected */
	if (desc->natts != st->src_natts || desc->natts < st->raw_natts)
		return false;
	for (int i = 0; i < st->raw_natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attlen <= 0)
			return false;
		off = att_align_nominal(off, att->attalign);
		st->raw_off[i] = off;
		off += att->attlen;
	}
	for (int j = 0; j < st->m->nfeatures; j++)
		if (TupleDescAttr(desc, st->cols[j].attno)->atttypid != st->cols[j].typid)
			return false;
	if (st->id_kind == TABLE_ID_INTEGER &&
		TupleDescAttr(desc, st->id_att)->atttypid != st->id_type)
		return false;
	st->raw_refused = NULL;
	st->raw_desc = desc;
	return true;
}

/*
 * TableChooseThreads decides, on the first full chunk, how the chunks are
 * predicted.  With mlops.predict_threads of 2 or more and a model the
 * native walk can predict (mlops.native_tree_walk on, its forest built
 * here if it was never tried), the backend is one of the threads: the
 * helper thread predicts each chunk from the front (on two threads walking
 * the forest too, on more with XGBoost on one thread fewer) and the backend
 * walks rows from the back whenever it has no rows to read or emit
 * (TableHelp), so that no core waits for the other however the work falls.
 * Otherwise XGBoost predicts each chunk on every thread while the backend
 * reads the next one.
 */
static void
TableChooseThreads(TableState *st)
{
	CachedModel *m = st->m;

	st->threads = MlopsEffectiveThreads(mlops_predict_threads);
	if (mlops_native_tree_walk && st->threads >= 2 && !m->forest_tried)
		ModelCacheBuildForest(m);
	st->share = (mlops_native_tree_walk && st->threads >= 2 && m->forest != NULL);
}

/*
 * TableDispatch posts the full filling chunk to the helper thread: first
 * the backend finishes the chunk posted before (walking its last rows),
 * then posts this one, and emits the one before while this one predicts
 * (TableWait).  The emptied chunk fills next.
 */
static void
TableDispatch(TableState *st)
{
	TableChunk *c = &st->chunks[st->filling];
	TableChunk *prev = &st->chunks[1 - st->filling];
	bool		walk;

	if (st->threads == 0)
		TableChooseThreads(st);
	walk = st->share && st->threads == 2;	/* the helper walks too */
	TableHelp(st, prev, NULL);
	if (!walk)
		ModelCacheSetThreads(st->m, st->share ? st->threads - 1 : st->threads);
	XgbPredictStart(&c->job, st->m->booster, c->x, c->nrows, st->m->nfeatures,
					c->out, (bst_ulong) st->chunk_rows * st->per_row,
					st->share ? (bst_ulong) TABLE_HELPER_BLOCK * (st->threads - 1) : 0,
					st->per_row, walk ? st->m->forest : NULL);
	c->predicting = true;
	TableWait(st, prev, c);
	st->filling = 1 - st->filling;
}

/*
 * TableHelp, when the backend shares the prediction, walks rows of posted
 * chunk c from the back, TABLE_CLAIM_ROWS at a time, until the helper thread
 * has taken the rest or, if until is given, that job is finished.
 */
static void
TableHelp(TableState *st, TableChunk *c, XgbPredictJob *until)
{
	int			nf = st->m->nfeatures;

	if (!st->share || !c->predicting)
		return;
	for (;;)
	{
		bst_ulong	first;
		bst_ulong	n;

		CHECK_FOR_INTERRUPTS();
		if (until != NULL && XgbPredictDone(until))
			return;
		n = XgbPredictClaim(&c->job, TABLE_CLAIM_ROWS, &first);
		if (n == 0)
			return;
		XgbForestPredict(st->m->forest, c->x + (Size) first * nf, (int64) n,
						 c->out + (Size) first * st->per_row);
	}
}

/*
 * TableWait waits for chunk c, if it was posted, walking rows of the chunk
 * posted after it, next, meanwhile (TableHelp), and emits c's rows.
 */
static void
TableWait(TableState *st, TableChunk *c, TableChunk *next)
{
	bst_ulong	len;

	if (!c->predicting)
		return;
	if (next != NULL)
		TableHelp(st, next, &c->job);
	c->predicting = false;
	len = XgbPredictFinish(&c->job);
	if (len != (bst_ulong) c->nrows * st->per_row)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("model \"%s\" version %d returned %llu outputs for %d rows",
						st->m->name, st->m->version, (unsigned long long) len, c->nrows)));
	TableEmit(st, c, st->canary ? PredictRows(st->canary, c->x, c->nrows) : NULL);
}

/*
 * TableEmit adds the tuples of a predicted chunk to the result and empties
 * the chunk: (id, prediction, label) for predict_table, (id,
 * probabilities) for predict_proba_table.  Numeric ids are printed into one
 * text buffer and labels are made once (TableAllocate); the tuplestore
 * copies them.  With a canary, canary_out holds its outputs for the chunk
 * and each row with an id takes them when its id routes to the candidate.
 */
static void
TableEmit(TableState *st, TableChunk *c, const float *canary_out)
{
	union
	{
		text		hdr;
		char		bytes[VARHDRSZ + MAXINT8LEN + 1];
		int32		align;
	}			idbuf;

	for (int i = 0; i < c->nrows; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};
		CachedModel *m;
		const float *out;

		CHECK_FOR_INTERRUPTS();
		if (st->id_kind == TABLE_ID_OUTPUT)
		{
			nulls[0] = (c->ids[i] == NULL);
			values[0] = nulls[0] ? (Datum) 0 : CStringGetTextDatum(c->ids[i]);
		}
		else
		{
			nulls[0] = (st->id_kind == TABLE_ID_INTEGER && c->idnulls[i]);
			if (!nulls[0])
			{
				int64		id = st->id_kind == TABLE_ID_INTEGER ? c->idnums[i] : c->first + i + 1;

				SET_VARSIZE(&idbuf.hdr, VARHDRSZ + pg_lltoa(id, VARDATA(&idbuf.hdr)));
			}
			values[0] = PointerGetDatum(&idbuf.hdr);
		}
		m = st->m;
		out = c->out;
		if (canary_out != NULL && !nulls[0] &&
			TableRowToCanary(st, VARDATA_ANY(DatumGetPointer(values[0])),
							 VARSIZE_ANY_EXHDR(DatumGetPointer(values[0]))))
		{
			m = st->canary;
			out = canary_out;
		}
		if (st->proba)
			values[1] = ProbaArray(m, out, i);
		else
		{
			double		prediction = OutputToPrediction(m, out, i);

			values[1] = Float8GetDatum(prediction);
			nulls[2] = (st->labels == NULL);
			if (!nulls[2])
				values[2] = PointerGetDatum(st->labels[ClassCode(m, prediction)]);
		}
		tuplestore_putvalues(st->store, st->desc, values, nulls);
		if (st->id_kind == TABLE_ID_OUTPUT && !nulls[0])
			pfree(DatumGetPointer(values[0]));
		if (st->proba)
			pfree(DatumGetPointer(values[1]));
	}
	c->nrows = 0;
	MemoryContextReset(c->cxt);
}

/*
 * TableRowToCanary says whether the row with this id (its text) goes to the
 * canary's candidate, as mlops.predict with that id as routing key would,
 * and counts it.
 */
static bool
TableRowToCanary(TableState *st, const char *key, int len)
{
	if (!RouteKeyToCandidate(key, len, st->deployment_id, st->percent))
		return false;
	st->canary_rows++;
	return true;
}

/*
 * TableCheckCanary refuses to route a table between versions that do not
 * read the same features the same way or do not answer in the same classes:
 * each row is encoded once, for both.
 */
static void
TableCheckCanary(TableState *st)
{
	CachedModel *a = st->m;
	CachedModel *b = st->canary;
	bool		same;

	if (b == NULL)
		return;
	same = a->nfeatures == b->nfeatures && a->output == b->output && a->nclasses == b->nclasses &&
		(a->schema == NULL) == (b->schema == NULL);
	for (int j = 0; same && a->schema != NULL && j < a->nfeatures; j++)
	{
		FeatureColumn *fa = &a->schema->features[j];
		FeatureColumn *fb = &b->schema->features[j];

		same = strcmp(fa->name, fb->name) == 0 && fa->kind == fb->kind &&
			(fa->kind != FEATURE_CATEGORICAL || fa->vocab->count == fb->vocab->count);
		for (int k = 0; same && fa->kind == FEATURE_CATEGORICAL && k < fa->vocab->count; k++)
			same = strcmp(fa->vocab->names[k], fb->vocab->names[k]) == 0;
	}
	for (int c = 0; same && a->schema != NULL && c < a->schema->nclasses; c++)
		same = b->schema->nclasses == a->schema->nclasses &&
			strcmp(a->schema->classes[c], b->schema->classes[c]) == 0;
	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot route the rows of model \"%s\" between versions %d and %d",
						a->name, a->version, b->version),
				 errdetail("The canary's versions take different features or predict different classes."),
				 errhint("Score the table with an explicit reference such as '%s/%d'.", a->name, a->version)));
}

/* ---------------------------------------------------------------------
 * Encoding inputs
 * ---------------------------------------------------------------------
 */

/* RowBuffer returns a per-backend buffer of at least n floats. */
static float *
RowBuffer(int n)
{
	if (n > row_buffer_len)
	{
		row_buffer = MemoryContextAlloc(TopMemoryContext, sizeof(float) * n);
		row_buffer_len = n;
	}
	return row_buffer;
}

/* EncodeInput encodes the features of one row, in any input form, into row. */
static void
EncodeInput(CachedModel *m, InputKind kind, Datum input, float *row)
{
	switch (kind)
	{
		case INPUT_FLOAT8_ARRAY:
			EncodeArray(m, input, FLOAT8OID, row);
			break;
		case INPUT_FLOAT4_ARRAY:
			EncodeArray(m, input, FLOAT4OID, row);
			break;
		case INPUT_JSONB:
			EncodeJsonFeatures(m, &DatumGetJsonbP(input)->root, row);
			break;
		case INPUT_TEXT:
			{
				char	   *s = TextDatumGetCString(input);

				switch (TextFeatureForm(s))
				{
					case TEXT_JSON:
						EncodeJsonFeatures(m, &DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)))->root,
										   row);
						break;
					case TEXT_ARRAY:
						EncodeArray(m, OidInputFunctionCall(F_ARRAY_IN, s, FLOAT8OID, -1),
									FLOAT8OID, row);
						break;
					case TEXT_UNKNOWN:
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
								 errmsg("features must be a JSON object, a JSON array or an array literal"),
								 errhint("For example '{\"age\": 35, \"plan\": \"pro\"}', '[35, 1, 29.9]' or '{35, 1, 29.9}'.")));
				}
				pfree(s);
			}
			break;
	}
}

/*
 * TextFeatureForm tells how a text input is read, from its first tokens
 * only: '{' followed by '}' or by a string and ':' starts a JSON object,
 * '[' a JSON array unless it is an array literal's dimensions ('[1:3]={..}');
 * any other '{' starts an array literal ('{5.1, 3.5}', '{"5.1", NULL}').
 */
static TextForm
TextFeatureForm(const char *s)
{
	const char *p = s;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v')
		p++;
	if (*p == '[')
	{
		p++;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char) *p))
			return TEXT_JSON;
		while (isdigit((unsigned char) *p))
			p++;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		return *p == ':' ? TEXT_ARRAY : TEXT_JSON;
	}
	if (*p != '{')
		return TEXT_UNKNOWN;
	p++;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '}')
		return TEXT_JSON;
	if (*p != '"')
		return TEXT_ARRAY;
	for (p++; *p != '\0' && *p != '"'; p++)
		if (*p == '\\' && p[1] != '\0')
			p++;
	if (*p == '"')
		p++;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return *p == ':' ? TEXT_JSON : TEXT_ARRAY;
}

/*
 * EncodeJsonFeatures encodes a JSON object of named features or a JSON
 * array of features in training order into row; every problem found is
 * reported in one ERROR.
 */
static void
EncodeJsonFeatures(CachedModel *m, JsonbContainer *c, float *row)
{
	MlopsList	errors;

	MlopsListInit(&errors, MLOPS_LIST_MAX);
	if (JsonContainerIsObject(c))
		InputConstraintsCheck(m->name, c, -1);
	if (JsonContainerIsObject(c))
		EncodeJsonObject(m, c, row, &errors, -1);
	else if (JsonContainerIsArray(c) && !JsonContainerIsScalar(c))
		EncodeJsonArray(m, c, row, &errors);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must be a JSON object or array"),
				 errhint("For example '{\"age\": 35, \"income\": 50000}', or '[35, 50000]' in training order.")));
	RaiseFeatureErrors(m, &errors);
}

/*
 * EncodeArray copies a float8[] or real[] of exactly the model's feature
 * count into row; NULL elements are missing values, categorical features
 * are given as category codes.
 */
static void
EncodeArray(CachedModel *m, Datum arrdatum, Oid elemtype, float *row)
{
	ArrayType  *arr = DatumGetArrayTypeP(arrdatum);
	int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	bits8	   *nulls = ARR_NULLBITMAP(arr);
	Size		offset = ARR_HASNULL(arr) ? (Size) arr->dataoffset :
		ARR_OVERHEAD_NONULLS(ARR_NDIM(arr));
	char	   *data = (char *) arr + offset;	/* ARR_DATA_PTR, sign-clean */

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("features must be a one-dimensional array")));
	if (n != m->nfeatures)
		RaiseFeatureCount(m, n);
	for (int i = 0; i < n; i++)
	{
		if (nulls && !(nulls[i / 8] & (1 << (i % 8))))
		{
			row[i] = NAN;
			continue;
		}
		if (elemtype == FLOAT8OID)
		{
			row[i] = DoubleToFloat(*(const double *) data);
			data += sizeof(double);
		}
		else
		{
			row[i] = *(const float *) data;
			data += sizeof(float);
		}
	}
}

/* RaiseFeatureCount raises the ERROR for n positional features. */
static void
RaiseFeatureCount(CachedModel *m, int n)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("model \"%s\" version %d expects %d features, got %d",
					m->name, m->version, m->nfeatures, n),
			 m->schema ? errhint("The features are, in order: %s.",
								 FeatureNameList(m->schema)) : 0));
}

/*
 * EncodeJsonObject encodes a {"feature": value} object into row (values
 * as EncodeJsonValue reads them).  Every problem (unknown, missing or
 * mistyped feature) is appended to errors, naming the instance of a batch
 * when instance >= 0, so one error can list them all.
 */
static void
EncodeJsonObject(CachedModel *m, JsonbContainer *obj, float *row, MlopsList *errors,
				 int instance)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			feature = -1;
	bool	   *seen;
	char	   *key = NULL;

	if (m->schema == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" version %d has no input schema", m->name, m->version),
				 errdetail("Named features need the feature names of the input schema."),
				 errhint("Pass the features as an array in training order.")));
	seen = palloc0(sizeof(bool) * Max(m->nfeatures, 1));
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const char *problem;

		CHECK_FOR_INTERRUPTS();
		if (tok == WJB_KEY)
		{
			if (key != NULL)
				pfree(key);
			key = pnstrdup(v.val.string.val, v.val.string.len);
			feature = FeatureByName(m, key);
			if (feature < 0)
				MlopsListAdd(errors, "%sunknown feature \"%s\"", ProblemPrefix(errors, instance),
							 errors->shown < errors->max_items ? MlopsClip(key, MLOPS_ECHO_MAX) : "");
			continue;
		}
		if (tok != WJB_VALUE || feature < 0)
			continue;
		seen[feature] = true;
		problem = EncodeJsonValue(&m->schema->features[feature], &v, &row[feature]);
		if (problem != NULL)
			AppendValueProblem(errors, ProblemPrefix(errors, instance), key, problem, &v);
	}
	for (int j = 0; j < m->nfeatures; j++)
		if (!seen[j])
			MlopsListAdd(errors, "%smissing feature \"%s\"", ProblemPrefix(errors, instance),
						 errors->shown < errors->max_items ?
						 MlopsClip(m->schema->features[j].name, MLOPS_ECHO_MAX) : "");
	if (key != NULL)
		pfree(key);
	pfree(seen);
}

/*
 * ProblemPrefix returns "instance N: " for a problem of instance N of a
 * batch, "" outside a batch or when the list shows no more items (so a
 * million problems format nothing).
 */
static const char *
ProblemPrefix(MlopsList *errors, int instance)
{
	if (instance < 0 || errors->shown >= errors->max_items)
		return "";
	return psprintf("instance %d: ", instance);
}

/*
 * FeatureByName returns the index of the model's feature called name, -1
 * if there is none, by binary search over the names sorted once per
 * loaded model (a wide model looked up for every key stays fast).
 */
static int
FeatureByName(CachedModel *m, const char *name)
{
	int			lo = 0;
	int			hi = m->nfeatures - 1;

	if (m->name_order == NULL)
	{
		int		   *order = MemoryContextAlloc(m->cxt, sizeof(int) * Max(m->nfeatures, 1));

		for (int j = 0; j < m->nfeatures; j++)
			order[j] = j;
		qsort_arg(order, m->nfeatures, sizeof(int), CompareFeatureNames, m);
		m->name_order = order;
	}
	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = strcmp(m->schema->features[m->name_order[mid]].name, name);

		if (c == 0)
			return m->name_order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* CompareFeatureNames orders feature indexes by the features' names. */
static int
CompareFeatureNames(const void *a, const void *b, void *arg)
{
	CachedModel *m = (CachedModel *) arg;

	return strcmp(m->schema->features[*(const int *) a].name,
				  m->schema->features[*(const int *) b].name);
}

/*
 * EncodeJsonArray encodes a JSON array of exactly the model's feature count,
 * in training order, into row (values as EncodeJsonValue reads them);
 * problems are appended to errors.
 */
static void
EncodeJsonArray(CachedModel *m, JsonbContainer *arr, float *row, MlopsList *errors)
{
	int			n = JsonContainerSize(arr);

	if (n != m->nfeatures)
		RaiseFeatureCount(m, n);
	for (int j = 0; j < n; j++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(arr, j);
		FeatureColumn *col = m->schema ? &m->schema->features[j] : NULL;
		const char *problem;

		CHECK_FOR_INTERRUPTS();
		problem = EncodeJsonValue(col, v, &row[j]);
		if (problem != NULL)
			AppendValueProblem(errors, "",
							   col ? col->name : psprintf("%d", j + 1),
							   problem, v);
	}
}

/*
 * EncodeJsonValue encodes one JSON feature value into *out: null is a
 * missing value; a numeric feature (or one without a schema, col NULL)
 * takes a number or a boolean; a categorical one takes a string (a
 * category never seen in training is missing) or a number that spells one
 * of its categories (imported models' categories are codes "0", "1" ...).
 * It returns NULL, or what the value must be when it has the wrong type.
 */
static const char *
EncodeJsonValue(FeatureColumn *col, JsonbValue *v, float *out)
{
	if (v->type == jbvNull)
	{
		*out = NAN;
		return NULL;
	}
	if (col != NULL && col->kind == FEATURE_CATEGORICAL)
	{
		char	   *s;
		int			code;

		if (v->type == jbvString)
			s = pnstrdup(v->val.string.val, v->val.string.len);
		else if (v->type == jbvNumeric)
			s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		else
			return "a string";
		code = VocabularyLookup(col->vocab, s, false);
		pfree(s);
		if (code < 0 && v->type == jbvNumeric)
			return "a string";
		*out = code < 0 ? NAN : (float) code;
		return NULL;
	}
	if (v->type == jbvNumeric)
		*out = DoubleToFloat(DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
																NumericGetDatum(v->val.numeric))));
	else if (v->type == jbvBool)
		*out = v->val.boolean ? 1.0f : 0.0f;
	else
		return (col != NULL && col->kind == FEATURE_BOOLEAN) ? "a boolean" : "a number";
	return NULL;
}

/*
 * AppendValueProblem adds "feature "X" must be Y instead of Z" to errors; a
 * feature named by its position is not quoted.
 */
static void
AppendValueProblem(MlopsList *errors, const char *prefix, const char *feature,
				   const char *problem, JsonbValue *v)
{
	bool		positional = isdigit((unsigned char) feature[0]);

	MlopsListAdd(errors, "%sfeature %s%s%s must be %s instead of %s", prefix,
				 positional ? "" : "\"",
				 errors->shown < errors->max_items ? MlopsClip(feature, MLOPS_ECHO_MAX) : "",
				 positional ? "" : "\"",
				 problem,
				 v->type == jbvString ? "a string" :
				 v->type == jbvBool ? "a boolean" :
				 v->type == jbvNumeric ? "a number" : "an array or object");
}

/*
 * RaiseFeatureErrors raises one ERROR listing the feature problems found:
 * the first MLOPS_LIST_MAX, then how many more.
 */
static void
RaiseFeatureErrors(CachedModel *m, MlopsList *errors)
{
	if (errors->total == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid features for model \"%s\" version %d", m->name, m->version),
			 errdetail("Problems: %s.", MlopsListDone(errors)),
			 m->schema ? errhint("The features are: %s. Use null for a missing value.",
								 FeatureNameList(m->schema)) : 0));
}

/* ---------------------------------------------------------------------
 * Predicting and reading outputs
 * ---------------------------------------------------------------------
 */

/*
 * PredictRows runs the booster on nrows rows, on one thread for small
 * batches and mlops.predict_threads for larger ones; small batches walk the
 * model's forest instead when it has one and mlops.native_tree_walk is on.
 * The result is valid until the next prediction with this model.
 */
static const float *
PredictRows(CachedModel *m, const float *x, int64 nrows)
{
	bst_ulong	len;
	const float *out;
	int64		per_row = (m->output == OUTPUT_PROBS) ? m->nclasses : 1;

	if (mlops_native_tree_walk && nrows < PREDICT_PARALLEL_MIN_ROWS && !m->forest_tried)
		ModelCacheBuildForest(m);
	if (m->forest != NULL && mlops_native_tree_walk && nrows < PREDICT_PARALLEL_MIN_ROWS)
	{
		if (m->forest_out_cap < nrows * per_row)
		{
			/* grows to the largest call's size, at most 1023 rows */
			m->forest_out = m->forest_out == NULL ?
				MemoryContextAlloc(m->cxt, sizeof(float) * nrows * per_row) :
				repalloc(m->forest_out, sizeof(float) * nrows * per_row);
			m->forest_out_cap = nrows * per_row;
		}
		XgbForestPredict(m->forest, x, nrows, m->forest_out);
		return m->forest_out;
	}
	ModelCacheSetThreads(m, nrows < PREDICT_PARALLEL_MIN_ROWS ? 1 :
						 MlopsEffectiveThreads(mlops_predict_threads));
	out = XgbPredictDense(m->booster, x, nrows, m->nfeatures, &len);
	if (len != (bst_ulong) (nrows * per_row))
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("model \"%s\" version %d returned %llu outputs for " INT64_FORMAT " rows",
						m->name, m->version, (unsigned long long) len, nrows)));
	return out;
}

/*
 * OutputToPrediction returns what mlops.predict returns for row i: the
 * value of a regression, the predicted class code of a classification.
 */
static double
OutputToPrediction(CachedModel *m, const float *out, int64 i)
{
	switch (m->output)
	{
		case OUTPUT_VALUE:
		case OUTPUT_CLASS:
			return out[i];
		case OUTPUT_PROB1:
			return out[i] > 0.5f ? 1.0 : 0.0;
		case OUTPUT_MARGIN1:
			return out[i] > 0.0f ? 1.0 : 0.0;
		case OUTPUT_PROBS:
			{
				const float *p = out + i * m->nclasses;
				int			best = 0;

				for (int c = 1; c < m->nclasses; c++)
					if (p[c] > p[best])
						best = c;
				return best;
			}
	}
	return NAN;
}

/* OutputToProba fills the class probabilities of row i. */
static void
OutputToProba(CachedModel *m, const float *out, int64 i, double *proba)
{
	if (m->output == OUTPUT_PROBS)
	{
		for (int c = 0; c < m->nclasses; c++)
			proba[c] = out[i * m->nclasses + c];
		return;
	}
	proba[1] = (m->output == OUTPUT_MARGIN1) ? 1.0 / (1.0 + exp(-(double) out[i])) : out[i];
	proba[0] = 1.0 - proba[1];
}

/* ProbaArray returns the class probabilities of row i as a float8[]. */
static Datum
ProbaArray(CachedModel *m, const float *out, int64 i)
{
	Datum	   *elems = palloc(sizeof(Datum) * m->nclasses);
	double	   *p = palloc(sizeof(double) * m->nclasses);
	ArrayType  *arr;

	OutputToProba(m, out, i, p);
	for (int c = 0; c < m->nclasses; c++)
		elems[c] = Float8GetDatum(p[c]);
	arr = construct_array(elems, m->nclasses, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
						  TYPALIGN_DOUBLE);
	pfree(elems);
	pfree(p);
	return PointerGetDatum(arr);
}

/*
 * PredictedProbability returns the probability of the predicted class of
 * row 0 (prediction is its class code), NaN unless the model outputs
 * probabilities.
 */
static double
PredictedProbability(CachedModel *m, const float *out, double prediction)
{
	double	   *p;
	double		v;

	if (m->output == OUTPUT_VALUE || m->output == OUTPUT_CLASS)
		return NAN;
	p = palloc(sizeof(double) * m->nclasses);
	OutputToProba(m, out, 0, p);
	v = p[ClassCode(m, prediction)];
	pfree(p);
	return v;
}

/*
 * ScoresArray returns _predict_scores' array: the prediction and the
 * predicted class's probability (NULL when there is none).
 */
static Datum
ScoresArray(CachedModel *m, const float *out, double prediction)
{
	double		prob = PredictedProbability(m, out, prediction);
	Datum		elems[2];
	bool		nulls[2];
	int			dims[1] = {2};
	int			lbs[1] = {1};

	elems[0] = Float8GetDatum(prediction);
	elems[1] = Float8GetDatum(isnan(prob) ? 0.0 : prob);
	nulls[0] = false;
	nulls[1] = isnan(prob);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, FLOAT8OID, sizeof(float8),
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* ElapsedMs returns the milliseconds since start. */
static double
ElapsedMs(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_MILLISEC(now);
}
