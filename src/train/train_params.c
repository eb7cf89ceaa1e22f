/*
 * train_params.c
 *		The hyperparameters mlops.train accepts, each with its valid range,
 *		checked before anything uses them.
 *
 * Design
 * ------
 * libxgboost trusts its parameters: nthread 100000 crashes the backend,
 * num_parallel_tree 100000000 grows it until the OOM killer restarts the
 * cluster, a NaN learning rate makes NaN scores.  So mlops.train accepts
 * exactly the parameters of HyperparamSpecs below - every booster, tree,
 * dart, linear and objective parameter of XGBoost 1.7 a user may set,
 * under XGBoost's names and aliases - and checks each value against its
 * documented range (docs/training.md, "Hyperparameters") before reading
 * any data.  An unknown key is an error naming the closest known one.
 *
 * Values reach XGBoost as text, exactly as the user wrote them when they
 * are plain decimal numbers (so training equals the Python package's for
 * the same parameters), normalised otherwise: integers without a
 * fraction, booleans as 1/0, constraints in XGBoost's own syntax.  A value
 * may be a JSON number or a string holding one; "NaN", "Infinity" and
 * hexadecimal spellings are refused.
 *
 * n_estimators (num_boost_round) and early_stopping_rounds are read by
 * mlops.train itself; nthread (n_jobs) is resolved against the settings
 * (TrainThreads); the rest become TrainParams in the user's order.
 * Whatever depends on the data (constraint indexes against the number of
 * features) is checked by TrainCheckParamsForData once the source is read.
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/varlena.h"

#include "common/common.h"
#include "train/train_int.h"

/* How a hyperparameter's value is read and checked */
typedef enum HpKind
{
	HP_INT,						/* a whole number in [imin, imax] */
	HP_FLOAT,					/* a finite number in [fmin, fmax], (fmin, fmax] if open */
	HP_BOOL,					/* true/false, 1/0 */
	HP_CHOICE,					/* one of the comma-separated choices */
	HP_METRIC,					/* an XGBoost evaluation metric, or an array of them */
	HP_MONOTONE,				/* monotone_constraints: -1, 0 or 1 per feature */
	HP_INTERACTION				/* interaction_constraints: lists of feature indexes */
} HpKind;

/* Where a hyperparameter goes */
typedef enum HpUse
{
	HP_XGBOOST,					/* set on the booster */
	HP_ROUNDS,					/* n_estimators, num_boost_round */
	HP_EARLY_STOP,				/* early_stopping_rounds */
	HP_THREADS					/* nthread, n_jobs: resolved by TrainThreads */
} HpUse;

typedef struct HyperparamSpec
{
	const char *name;
	HpKind		kind;
	HpUse		use;
	int64		imin;
	int64		imax;
	double		fmin;
	double		fmax;
	bool		open_min;		/* HP_FLOAT: fmin itself is refused */
	bool		open_max;		/* HP_FLOAT: fmax itself is refused */
	const char *choices;
} HyperparamSpec;

/* the largest finite value of a float hyperparameter (XGBoost stores float32) */
#define HP_BIG 1e38
/* the most rounds one training may ask for */
#define HP_MAX_ROUNDS 1000000
/* the most evaluation metrics, and the longest metric name */
#define HP_MAX_METRICS 16
#define HP_MAX_METRIC_LEN 64

#define INT_SPEC(n, lo, hi) {n, HP_INT, HP_XGBOOST, lo, hi, 0, 0, false, false, NULL}
#define FLOAT_SPEC(n, lo, hi) {n, HP_FLOAT, HP_XGBOOST, 0, 0, lo, hi, false, false, NULL}
#define POS_SPEC(n, hi) {n, HP_FLOAT, HP_XGBOOST, 0, 0, 0, hi, true, false, NULL}
#define BOOL_SPEC(n) {n, HP_BOOL, HP_XGBOOST, 0, 0, 0, 0, false, false, NULL}
#define CHOICE_SPEC(n, c) {n, HP_CHOICE, HP_XGBOOST, 0, 0, 0, 0, false, false, c}

static const HyperparamSpec HyperparamSpecs[] = {
	/* read by mlops.train */
	{"n_estimators", HP_INT, HP_ROUNDS, 1, HP_MAX_ROUNDS, 0, 0, false, false, NULL},
	{"num_boost_round", HP_INT, HP_ROUNDS, 1, HP_MAX_ROUNDS, 0, 0, false, false, NULL},
	{"early_stopping_rounds", HP_INT, HP_EARLY_STOP, 1, HP_MAX_ROUNDS, 0, 0, false, false, NULL},
	{"nthread", HP_INT, HP_THREADS, 0, MLOPS_THREADS_LIMIT, 0, 0, false, false, NULL},
	{"n_jobs", HP_INT, HP_THREADS, 0, MLOPS_THREADS_LIMIT, 0, 0, false, false, NULL},
	/* learner */
	CHOICE_SPEC("booster", "gbtree,gblinear,dart"),
	CHOICE_SPEC("objective",
				"reg:squarederror,reg:squaredlogerror,reg:logistic,reg:pseudohubererror,"
				"reg:absoluteerror,reg:gamma,reg:tweedie,binary:logistic,binary:logitraw,"
				"binary:hinge,count:poisson,survival:cox,survival:aft,multi:softmax,"
				"multi:softprob,rank:pairwise,rank:ndcg,rank:map"),
	INT_SPEC("num_class", 1, 1000000),
	FLOAT_SPEC("base_score", -HP_BIG, HP_BIG),
	BOOL_SPEC("boost_from_average"),
	{"eval_metric", HP_METRIC, HP_XGBOOST, 0, 0, 0, 0, false, false, NULL},
	BOOL_SPEC("disable_default_eval_metric"),
	INT_SPEC("seed", PG_INT64_MIN, PG_INT64_MAX),
	INT_SPEC("random_state", PG_INT64_MIN, PG_INT64_MAX),
	BOOL_SPEC("seed_per_iteration"),
	INT_SPEC("verbosity", 0, 3),
	BOOL_SPEC("validate_parameters"),
	/* tree boosters (gbtree, dart) */
	FLOAT_SPEC("eta", 0, 1),
	FLOAT_SPEC("learning_rate", 0, 1),
	FLOAT_SPEC("gamma", 0, HP_BIG),
	FLOAT_SPEC("min_split_loss", 0, HP_BIG),
	INT_SPEC("max_depth", 0, 64),
	FLOAT_SPEC("min_child_weight", 0, HP_BIG),
	FLOAT_SPEC("max_delta_step", 0, HP_BIG),
	POS_SPEC("subsample", 1),
	CHOICE_SPEC("sampling_method", "uniform,gradient_based"),
	POS_SPEC("colsample_bytree", 1),
	POS_SPEC("colsample_bylevel", 1),
	POS_SPEC("colsample_bynode", 1),
	FLOAT_SPEC("lambda", 0, HP_BIG),
	FLOAT_SPEC("reg_lambda", 0, HP_BIG),
	FLOAT_SPEC("alpha", 0, HP_BIG),
	FLOAT_SPEC("reg_alpha", 0, HP_BIG),
	CHOICE_SPEC("tree_method", "auto,exact,approx,hist"),
	FLOAT_SPEC("scale_pos_weight", 0, HP_BIG),
	CHOICE_SPEC("grow_policy", "depthwise,lossguide"),
	INT_SPEC("max_leaves", 0, PG_INT32_MAX),
	INT_SPEC("max_bin", 2, 65536),
	INT_SPEC("num_parallel_tree", 1, 100000),
	{"monotone_constraints", HP_MONOTONE, HP_XGBOOST, 0, 0, 0, 0, false, false, NULL},
	{"interaction_constraints", HP_INTERACTION, HP_XGBOOST, 0, 0, 0, 0, false, false, NULL},
	INT_SPEC("max_cat_to_onehot", 1, PG_INT32_MAX),
	INT_SPEC("max_cat_threshold", 1, PG_INT32_MAX),
	CHOICE_SPEC("predictor", "auto,cpu_predictor"),
	/* dart */
	CHOICE_SPEC("sample_type", "uniform,weighted"),
	CHOICE_SPEC("normalize_type", "tree,forest"),
	FLOAT_SPEC("rate_drop", 0, 1),
	BOOL_SPEC("one_drop"),
	FLOAT_SPEC("skip_drop", 0, 1),
	/* gblinear */
	CHOICE_SPEC("updater", "shotgun,coord_descent"),
	CHOICE_SPEC("feature_selector", "cyclic,shuffle,random,greedy,thrifty"),
	INT_SPEC("top_k", 0, PG_INT32_MAX),
	FLOAT_SPEC("tolerance", 0, HP_BIG),
	/* objectives */
	POS_SPEC("huber_slope", HP_BIG),
	{"tweedie_variance_power", HP_FLOAT, HP_XGBOOST, 0, 0, 1, 2, false, true, NULL},
	CHOICE_SPEC("aft_loss_distribution", "normal,logistic,extreme"),
	POS_SPEC("aft_loss_distribution_scale", HP_BIG),
	INT_SPEC("num_pairsample", 1, 100),
	FLOAT_SPEC("fix_list_weight", 0, HP_BIG),
};

/*
 * The evaluation metrics of XGBoost 1.7, with what may follow their name:
 * 'n' "@n" (a whole number of top rows, then optionally "-"), 't' "@t" (a
 * threshold), 'r' "@rho" (a Tweedie power), '-' only "-"; ' ' nothing.
 */
static const struct
{
	const char *name;
	char		suffix;
}			EvalMetrics[] = {
	{"rmse", ' '}, {"rmsle", ' '}, {"mae", ' '}, {"mape", ' '}, {"mphe", ' '},
	{"logloss", ' '}, {"error", 't'}, {"merror", ' '}, {"mlogloss", ' '},
	{"auc", ' '}, {"aucpr", ' '}, {"ndcg", 'n'}, {"map", 'n'}, {"pre", 'n'},
	{"poisson-nloglik", ' '}, {"gamma-nloglik", ' '}, {"cox-nloglik", ' '},
	{"gamma-deviance", ' '}, {"tweedie-nloglik", 'r'}, {"aft-nloglik", ' '},
	{"interval-regression-accuracy", ' '},
};

static const HyperparamSpec *FindSpec(const char *name);
static void RaiseUnknown(const char *name) pg_attribute_noreturn();
static void RaiseRange(const HyperparamSpec *spec, const char *got) pg_attribute_noreturn();
static char *RangeText(const HyperparamSpec *spec);
static char *GotText(JsonbValue *v);
static char *ScalarText(JsonbValue *v);
static bool PlainNumber(const char *s);
static bool ParseInt64(const char *s, int64 *result);
static char *CheckValue(TrainRequest *req, const HyperparamSpec *spec, JsonbValue *v);
static void AddParam(TrainRequest *req, const char *name, char *value);
static void AddMetrics(TrainRequest *req, const HyperparamSpec *spec, JsonbValue *v);
static bool MetricValid(const char *metric);
static char *CheckMonotone(TrainRequest *req, const HyperparamSpec *spec, JsonbValue *v);
static char *CheckInteraction(TrainRequest *req, const HyperparamSpec *spec, JsonbValue *v);
static Jsonb *JsonbFromValue(JsonbValue *v);
static bool ConstraintGroups(JsonbValue *v, bool nested, List **groups);
static bool IntsFromJsonArray(JsonbContainer *arr, int *total, List **ints);
static bool ParseConstraintText(const char *s, bool nested, List **groups);
static bool ParseIntList(const char **p, char close, int *total, List **ints);
static void SkipSpaces(const char **p);

/*
 * TrainParseHyperparams checks every key and value of the hyperparams
 * object and turns it into the request: rounds, early stopping, the
 * requested threads, and XGBoost parameters in the object's order.
 */
void
TrainParseHyperparams(TrainRequest *req, Jsonb *hyperparams)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	const HyperparamSpec *spec = NULL;

	if (!JB_ROOT_IS_OBJECT(hyperparams) || JB_ROOT_IS_SCALAR(hyperparams))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparams must be a JSON object"),
				 errhint("For example '{\"max_depth\": 6, \"eta\": 0.1}'.")));

	it = JsonbIteratorInit(&hyperparams->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *value;
		int64		n;

		if (tok == WJB_KEY)
		{
			char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

			spec = FindSpec(key);
			if (spec == NULL)
				RaiseUnknown(key);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (spec->kind == HP_METRIC)
		{
			AddMetrics(req, spec, &v);
			continue;
		}
		value = CheckValue(req, spec, &v);
		switch (spec->use)
		{
			case HP_ROUNDS:
				(void) ParseInt64(value, &n);
				req->n_estimators = (int) n;
				break;
			case HP_EARLY_STOP:
				(void) ParseInt64(value, &n);
				req->early_stopping_rounds = (int) n;
				break;
			case HP_THREADS:
				(void) ParseInt64(value, &n);
				req->nthread = (int) n;
				req->nthread_given = true;
				break;
			case HP_XGBOOST:
				AddParam(req, spec->name, value);
				break;
		}
	}
}

/* FindSpec returns the spec of a hyperparameter, NULL when unknown. */
static const HyperparamSpec *
FindSpec(const char *name)
{
	for (int i = 0; i < (int) lengthof(HyperparamSpecs); i++)
		if (strcmp(HyperparamSpecs[i].name, name) == 0)
			return &HyperparamSpecs[i];
	return NULL;
}

/*
 * RaiseUnknown reports a hyperparameter mlops.train does not accept,
 * suggesting the closest known name when one is close.
 */
static void
RaiseUnknown(const char *name)
{
	const char *best = NULL;
	int			best_distance = 4;	/* suggest only names this close */
	int			len = strlen(name);

	for (int i = 0; i < (int) lengthof(HyperparamSpecs) && len <= 64; i++)
	{
		const char *candidate = HyperparamSpecs[i].name;
		int			d = varstr_levenshtein(name, len, candidate, strlen(candidate),
										   1, 1, 1, true);

		if (d < best_distance)
		{
			best_distance = d;
			best = candidate;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown hyperparameter \"%s\"", MlopsClip(name, MLOPS_ECHO_MAX)),
			 best ? errhint("Perhaps you meant \"%s\". docs/training.md lists the hyperparameters mlops.train accepts.", best) :
			 errhint("docs/training.md lists the hyperparameters mlops.train accepts.")));
}

/*
 * CheckValue checks a scalar value against its spec and returns the text
 * XGBoost (or mlops.train) receives; it raises the range error otherwise.
 */
static char *
CheckValue(TrainRequest *req, const HyperparamSpec *spec, JsonbValue *v)
{
	char	   *text = ScalarText(v);

	switch (spec->kind)
	{
		case HP_INT:
			{
				int64		n;

				if (text == NULL || v->type == jbvBool || !ParseInt64(text, &n) ||
					n < spec->imin || n > spec->imax)
					RaiseRange(spec, GotText(v));
				return psprintf(INT64_FORMAT, n);
			}
		case HP_FLOAT:
			{
				double		d;

				if (text == NULL || v->type == jbvBool || !PlainNumber(text))
					RaiseRange(spec, GotText(v));
				d = strtod(text, NULL);
				if (!isfinite(d) ||
					(spec->open_max ? d >= spec->fmax : d > spec->fmax) ||
					(spec->open_min ? d <= spec->fmin : d < spec->fmin))
					RaiseRange(spec, GotText(v));
				return text;
			}
		case HP_BOOL:
			if (text != NULL && (strcmp(text, "true") == 0 || strcmp(text, "1") == 0))
				return "1";
			if (text != NULL && (strcmp(text, "false") == 0 || strcmp(text, "0") == 0))
				return "0";
			RaiseRange(spec, GotText(v));
		case HP_CHOICE:
			if (v->type == jbvString)
			{
				const char *p = spec->choices;
				int			len = strlen(text);

				while (p != NULL)
				{
					if (strncmp(p, text, len) == 0 && (p[len] == ',' || p[len] == '\0'))
						return text;
					p = strchr(p, ',');
					p = p ? p + 1 : NULL;
				}
			}
			RaiseRange(spec, GotText(v));
		case HP_MONOTONE:
			return CheckMonotone(req, spec, v);
		case HP_INTERACTION:
			return CheckInteraction(req, spec, v);
		case HP_METRIC:
			break;
	}
	elog(ERROR, "unexpected hyperparameter kind %d", (int) spec->kind);
	return NULL;				/* keep compiler quiet */
}

/* AddParam appends one XGBoost parameter to the request. */
static void
AddParam(TrainRequest *req, const char *name, char *value)
{
	TrainParam *p = palloc(sizeof(TrainParam));

	p->name = pstrdup(name);
	p->value = value;
	req->params = lappend(req->params, p);
}

/*
 * AddMetrics adds eval_metric parameters: one for a string, one per element
 * of an array (as the Python package does), each a metric of XGBoost.
 */
static void
AddMetrics(TrainRequest *req, const HyperparamSpec *spec, JsonbValue *v)
{
	if (v->type == jbvString)
	{
		char	   *metric = ScalarText(v);

		if (!MetricValid(metric))
			RaiseRange(spec, GotText(v));
		AddParam(req, spec->name, metric);
		return;
	}
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data) ||
		JsonContainerSize(v->val.binary.data) == 0 ||
		JsonContainerSize(v->val.binary.data) > HP_MAX_METRICS)
		RaiseRange(spec, GotText(v));
	for (int i = 0; i < (int) JsonContainerSize(v->val.binary.data); i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(v->val.binary.data, i);
		char	   *metric = elem->type == jbvString ? ScalarText(elem) : NULL;

		if (metric == NULL || !MetricValid(metric))
			RaiseRange(spec, GotText(elem));
		AddParam(req, spec->name, metric);
	}
}

/*
 * MetricValid reports whether a string names an evaluation metric of
 * XGBoost 1.7 with a valid suffix: "error@0.7", "ndcg@10-", "map-",
 * "tweedie-nloglik@1.5".
 */
static bool
MetricValid(const char *metric)
{
	int			len = strlen(metric);

	if (len > HP_MAX_METRIC_LEN)
		return false;
	for (int i = 0; i < (int) lengthof(EvalMetrics); i++)
	{
		const char *name = EvalMetrics[i].name;
		int			nlen = strlen(name);
		const char *rest = metric + nlen;
		char	   *arg;
		int64		n;
		double		d;

		if (strncmp(metric, name, nlen) != 0 || (rest[0] != '\0' && rest[0] != '@' && rest[0] != '-'))
			continue;
		if (rest[0] == '\0')
			return true;
		if (EvalMetrics[i].suffix == ' ')
			continue;			/* "error-..." is not "error", try the next name */
		if (rest[0] == '-')
			return EvalMetrics[i].suffix == 'n' && rest[1] == '\0';
		arg = pstrdup(rest + 1);
		if (EvalMetrics[i].suffix == 'n')
		{
			if (len > 0 && arg[strlen(arg) - 1] == '-')
				arg[strlen(arg) - 1] = '\0';
			return ParseInt64(arg, &n) && n >= 1 && n <= PG_INT32_MAX;
		}
		if (!PlainNumber(arg))
			return false;
		d = strtod(arg, NULL);
		if (EvalMetrics[i].suffix == 'r')
			return d >= 1 && d < 2;
		return isfinite(d) && fabs(d) <= HP_BIG;
	}
	return false;
}

/*
 * CheckMonotone checks monotone_constraints, a JSON array of -1, 0 and 1
 * (or a string "(1,0,-1)" / "[1,0,-1]"), one per feature in training order,
 * and returns XGBoost's spelling "(1,0,-1)".  The count is checked against
 * the features once the source is read.
 */
static char *
CheckMonotone(TrainRequest *req, const HyperparamSpec *spec, JsonbValue *v)
{
	StringInfoData buf;
	List	   *groups;
	ListCell   *lc;
	int			n = 0;

	if (!ConstraintGroups(v, false, &groups))
		RaiseRange(spec, GotText(v));
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	foreach(lc, (List *) linitial(groups))
	{
		int64		c = *(int64 *) lfirst(lc);

		if (c < -1 || c > 1)
			RaiseRange(spec, GotText(v));
		appendStringInfo(&buf, "%s" INT64_FORMAT, n++ > 0 ? "," : "", c);
	}
	appendStringInfoChar(&buf, ')');
	req->monotone_count = n;
	return buf.data;
}

/*
 * CheckInteraction checks interaction_constraints, a JSON array of arrays
 * of feature indexes (or a string holding one), and returns it as XGBoost
 * reads it, "[[0,1],[2,3]]".  Indexes are checked against the features once
 * the source is read.
 */
static char *
CheckInteraction(TrainRequest *req, const HyperparamSpec *spec, JsonbValue *v)
{
	StringInfoData buf;
	List	   *groups;
	ListCell   *lc;
	ListCell   *lc2;

	if (!ConstraintGroups(v, true, &groups))
		RaiseRange(spec, GotText(v));
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	foreach(lc, groups)
	{
		int			n = 0;

		appendStringInfoString(&buf, foreach_current_index(lc) > 0 ? ",[" : "[");
		foreach(lc2, (List *) lfirst(lc))
		{
			int64		f = *(int64 *) lfirst(lc2);

			if (f < 0 || f >= TRAIN_MAX_FEATURES)
				RaiseRange(spec, GotText(v));
			req->interaction_max = Max(req->interaction_max, (int) f + 1);
			appendStringInfo(&buf, "%s" INT64_FORMAT, n++ > 0 ? "," : "", f);
		}
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * ConstraintGroups reads the whole numbers of a constraint into *groups (a
 * list of lists of int64 pointers): nested, a list of lists
 * (interaction_constraints), or flat, one list returned as the only group
 * (monotone_constraints).  The value is a JSON array or a string of the
 * same shape ("(...)" allowed for a flat list).  It returns false for
 * anything else, or more than TRAIN_MAX_FEATURES numbers in all.
 */
static bool
ConstraintGroups(JsonbValue *v, bool nested, List **groups)
{
	JsonbContainer *arr;
	int			total = 0;
	List	   *ints;

	*groups = NIL;
	if (v->type == jbvString)
		return ParseConstraintText(ScalarText(v), nested, groups);
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		return false;
	arr = v->val.binary.data;
	if (!nested)
	{
		if (!IntsFromJsonArray(arr, &total, &ints))
			return false;
		*groups = list_make1(ints);
		return true;
	}
	for (int i = 0; i < (int) JsonContainerSize(arr); i++)
	{
		JsonbValue *g = getIthJsonbValueFromContainer(arr, i);

		if (g->type != jbvBinary || !JsonContainerIsArray(g->val.binary.data) ||
			!IntsFromJsonArray(g->val.binary.data, &total, &ints))
			return false;
		*groups = lappend(*groups, ints);
	}
	return true;
}

/*
 * IntsFromJsonArray reads the whole numbers of a JSON array into *ints (a
 * list of int64 pointers); it returns false when an element is something
 * else or when *total (the numbers read so far) exceeds TRAIN_MAX_FEATURES.
 */
static bool
IntsFromJsonArray(JsonbContainer *arr, int *total, List **ints)
{
	*ints = NIL;
	for (int i = 0; i < (int) JsonContainerSize(arr); i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(arr, i);
		char	   *t = elem->type == jbvNumeric ? ScalarText(elem) : NULL;
		int64	   *n = palloc(sizeof(int64));

		if (t == NULL || !ParseInt64(t, n) || ++(*total) > TRAIN_MAX_FEATURES)
			return false;
		*ints = lappend(*ints, n);
	}
	return true;
}

/*
 * ParseConstraintText reads a constraint written as text into *groups:
 * "[1,0,-1]" or "(1,0,-1)" when flat, "[[0,1],[2]]" when nested, spaces
 * allowed.  It returns false on a syntax error.
 */
static bool
ParseConstraintText(const char *s, bool nested, List **groups)
{
	const char *p = s;
	int			total = 0;
	List	   *ints;

	*groups = NIL;
	if (strlen(s) > 100000)
		return false;
	SkipSpaces(&p);
	if (!nested)
	{
		if ((*p != '(' && *p != '[') ||
			!ParseIntList(&p, *p == '(' ? ')' : ']', &total, &ints))
			return false;
		*groups = list_make1(ints);
	}
	else
	{
		if (*p++ != '[')
			return false;
		SkipSpaces(&p);
		while (*p != ']')
		{
			if (*p != '[' || !ParseIntList(&p, ']', &total, &ints))
				return false;
			*groups = lappend(*groups, ints);
			SkipSpaces(&p);
			if (*p == ',')
			{
				p++;
				SkipSpaces(&p);
			}
			else if (*p != ']')
				return false;
		}
		p++;
	}
	SkipSpaces(&p);
	return *p == '\0';
}

/*
 * ParseIntList reads "[1, 0, -1]" (the opening bracket at *p, close the
 * closing one) into *ints, leaving *p past the closing bracket; false on a
 * syntax error or more than TRAIN_MAX_FEATURES numbers in all (*total).
 */
static bool
ParseIntList(const char **p, char close, int *total, List **ints)
{
	*ints = NIL;
	(*p)++;
	SkipSpaces(p);
	while (**p != close)
	{
		const char *start = *p;
		int64	   *n = palloc(sizeof(int64));

		if (**p == '-' || **p == '+')
			(*p)++;
		while (isdigit((unsigned char) **p))
			(*p)++;
		if (*p - start > 20 || !ParseInt64(pnstrdup(start, *p - start), n) ||
			++(*total) > TRAIN_MAX_FEATURES)
			return false;
		*ints = lappend(*ints, n);
		SkipSpaces(p);
		if (**p == ',')
		{
			(*p)++;
			SkipSpaces(p);
		}
		else if (**p != close)
			return false;
	}
	(*p)++;
	return true;
}

/* SkipSpaces moves *p past spaces. */
static void
SkipSpaces(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

/*
 * TrainCheckParamsForData checks what depends on the data once the source
 * is read: constraints name existing features only.
 */
void
TrainCheckParamsForData(TrainRequest *req, int nfeatures)
{
	if (req->monotone_count > nfeatures)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter monotone_constraints has %d values for %d features",
						req->monotone_count, nfeatures),
				 errhint("Give at most one constraint per feature, in training order.")));
	if (req->interaction_max > nfeatures)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hyperparameter interaction_constraints must use feature indexes from 0 to %d, got %d",
						nfeatures - 1, req->interaction_max - 1),
				 errhint("Features are numbered from 0 in training order.")));
}

/*
 * TrainThreads returns the training threads: nthread (or n_jobs) when
 * given, otherwise mlops.train_threads, with 0 meaning the server's CPUs,
 * capped at mlops.max_threads; a NOTICE says when an explicit nthread was
 * lowered.
 */
int
TrainThreads(TrainRequest *req)
{
	int			requested = req->nthread_given ? req->nthread : mlops_train_threads;
	int			threads = MlopsEffectiveThreads(requested);

	if (req->nthread_given && requested > threads)
		ereport(NOTICE,
				(errmsg_plural("training with %d thread instead of nthread %d",
							   "training with %d threads instead of nthread %d",
							   threads, threads, requested),
				 errdetail("mlops.max_threads is %d.", mlops_max_threads)));
	return threads;
}

/*
 * TrainCheckTestSize checks the test_size argument before anything is read:
 * a finite fraction 0 <= test_size < 1, or a whole number of rows from 1 to
 * TRAIN_MAX_TEST_ROWS.
 */
void
TrainCheckTestSize(double test_size)
{
	if (isnan(test_size) || test_size < 0 || test_size > TRAIN_MAX_TEST_ROWS ||
		(test_size >= 1 && test_size != floor(test_size)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("test_size must be a fraction from 0 to below 1 or a whole number of rows from 1 to %.0f, got %s",
						TRAIN_MAX_TEST_ROWS, float8out_internal(test_size)),
				 errhint("Use a fraction (0.25) or a row count (1000); 0 trains on every row.")));
}

/*
 * RaiseRange reports a value outside a hyperparameter's range, naming the
 * hyperparameter, its range and the value.
 */
static void
RaiseRange(const HyperparamSpec *spec, const char *got)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("hyperparameter %s must be %s, got %s", spec->name, RangeText(spec), got)));
}

/* RangeText describes the values a hyperparameter accepts. */
static char *
RangeText(const HyperparamSpec *spec)
{
	switch (spec->kind)
	{
		case HP_INT:
			return psprintf("a whole number from " INT64_FORMAT " to " INT64_FORMAT,
							spec->imin, spec->imax);
		case HP_FLOAT:
			if (spec->open_min)
				return psprintf("a number above %g and at most %g", spec->fmin, spec->fmax);
			if (spec->open_max)
				return psprintf("a number from %g to below %g", spec->fmin, spec->fmax);
			return psprintf("a number from %g to %g", spec->fmin, spec->fmax);
		case HP_BOOL:
			return "true or false";
		case HP_CHOICE:
			{
				StringInfoData buf;

				initStringInfo(&buf);
				appendStringInfoString(&buf, "one of ");
				for (const char *p = spec->choices; *p; p++)
					appendStringInfoString(&buf, *p == ',' ? ", " : pnstrdup(p, 1));
				return buf.data;
			}
		case HP_METRIC:
			return psprintf("an XGBoost evaluation metric or an array of at most %d", HP_MAX_METRICS);
		case HP_MONOTONE:
			return "an array of -1, 0 or 1 per feature";
		case HP_INTERACTION:
			return "an array of arrays of feature indexes";
	}
	return "";
}

/*
 * GotText describes a JSON value for a message: numbers and booleans as
 * written, strings quoted and clipped, other values by their type.
 */
static char *
GotText(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return psprintf("\"%s\"", MlopsClip(ScalarText(v), MLOPS_ECHO_MAX));
		case jbvNumeric:
		case jbvBool:
			return MlopsClip(ScalarText(v), MLOPS_ECHO_MAX);
		case jbvBinary:
			return MlopsClip(JsonbToCString(NULL, &JsonbFromValue(v)->root, v->val.binary.len),
							 MLOPS_ECHO_MAX);
		default:
			return "a JSON value";
	}
}

/* JsonbFromValue wraps a binary JSON value as a Jsonb for printing. */
static Jsonb *
JsonbFromValue(JsonbValue *v)
{
	return JsonbValueToJsonb(v);
}

/*
 * ScalarText returns the text of a JSON string, number or boolean, NULL
 * for other values.
 */
static char *
ScalarText(JsonbValue *v)
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
			return NULL;
	}
}

/*
 * PlainNumber reports whether s is a plain decimal number, as XGBoost
 * parses it: an optional sign, digits with an optional fraction, an
 * optional exponent; no spaces, no NaN, no infinity, no hexadecimal.
 */
static bool
PlainNumber(const char *s)
{
	const char *p = s;
	bool		digits = false;

	if (*p == '+' || *p == '-')
		p++;
	while (isdigit((unsigned char) *p))
		p++, digits = true;
	if (*p == '.')
		for (p++; isdigit((unsigned char) *p); p++)
			digits = true;
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	return *p == '\0' && strlen(s) <= 64;
}

/*
 * ParseInt64 reads a whole number: digits with an optional sign and an
 * optional fraction of zeros ("6.0", as jsonb keeps it), within int64.
 */
static bool
ParseInt64(const char *s, int64 *result)
{
	const char *p = s;
	char	   *copy;
	char	   *dot;

	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char) *p) || strlen(s) > 64)
		return false;
	while (isdigit((unsigned char) *p))
		p++;
	if (*p == '.')
		for (p++; *p == '0'; p++)
			;
	if (*p != '\0')
		return false;
	copy = pstrdup(s);
	if ((dot = strchr(copy, '.')) != NULL)
		*dot = '\0';
	errno = 0;
	*result = strtoi64(copy, NULL, 10);
	return errno == 0;
}

/* TrainParamValue returns the value of the last parameter called name, or NULL. */
char *
TrainParamValue(List *params, const char *name)
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
