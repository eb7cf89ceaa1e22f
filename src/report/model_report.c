/*-------------------------------------------------------------------------
 *
 * model_report.c
 *	  mlops.model_report: a model card as one HTML page, or its data as
 *	  JSON.
 *
 * Data flow, everything read as the caller through SPI: the card from
 * mlops.model_info (name, version, stage, lineage, parameters, metrics);
 * the training curve from the run's metric history (mlops.run_metrics,
 * metrics logged at more than one step); feature importance from the
 * booster itself (XGBoost's gain, xgb/xgb.c), loaded from the registry's
 * checksummed bytes; and, when a labelled source is given, predictions of
 * every row by mlops.predict_proba / mlops.predict (so the same model,
 * encoding and rules as serving), from which curves.c computes ROC and
 * precision-recall curves exactly as scikit-learn, and this file the
 * confusion matrix, the calibration curve (10 uniform bins) or, for a
 * regression, predicted against actual (a 30 x 30 grid of counts) and the
 * residuals' histogram.  Pictures never draw raw rows: curves are thinned
 * to at most 500 drawn points, everything else is binned.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "common/common.h"
#include "xgb/xgb.h"
#include "report/report.h"

PG_FUNCTION_INFO_V1(mlops_model_report);

#define CURVE_DRAWN_MAX 500
#define CURVE_JSON_MAX 100000
#define GRID 30
#define CALIBRATION_BINS 10
#define IMPORTANCE_SHOWN 30
#define CONFUSION_MAX 30
#define FETCH_ROWS 10000

/* everything the report shows */
typedef struct ModelReport
{
	MemoryContext cxt;
	char	   *ref;			/* name/version */
	char	   *info;			/* model_info, as JSON text */
	char	   *name;
	int			version;
	char	   *stage;
	char	   *task;
	int64		run_id;
	bool		classification;
	int			nclasses;
	char	  **classes;
	int			nfeatures;
	char	  **features;
	/* the card's key-value sections: params, metrics, tags, lineage, data */
	int			nkv;
	char	  **kv_section;
	char	  **kv_key;
	char	  **kv_value;
	/* the training curve: per metric key, steps and values */
	int			ncurves;
	char	  **curve_keys;
	ReportSeries *curves;
	/* feature importance (gain) */
	int			nimportance;
	char	  **imp_names;
	double	   *imp_gain;
	/* the booster (feature importance, held-out predictions) */
	BoosterHandle booster;
	/* evaluation */
	bool		evaluated;
	bool		held_out;		/* on the training split's held-out rows */
	char	   *held_out_error;	/* why the held-out rows could not be read */
	int64		n;
	int64		skipped;
	double	   *score;			/* binary: P(class 1); regression: prediction */
	double	   *actual;			/* regression: the target */
	int		   *pred_class;
	int		   *true_class;
} ModelReport;

static void ReadCard(ModelReport *r, const char *model);
static void ReadCurve(ModelReport *r);
static void ReadImportance(ModelReport *r, const char *model);
static void Evaluate(ModelReport *r, const char *source, const char *target);
static void EvaluateHeldOut(ModelReport *r);
static void ReadHeldOut(void *arg);
static const char *KeyValue(ModelReport *r, const char *section, const char *key);
static void RenderHtml(StringInfo buf, ModelReport *r);
static void RenderJson(StringInfo buf, ModelReport *r);
static void ReadKeyValues(ModelReport *r, const char *model);
static void RenderKeyValues(StringInfo buf, ModelReport *r, const char *section, const char *heading);
static void RenderClassification(StringInfo buf, ModelReport *r);
static void RenderRegression(StringInfo buf, ModelReport *r);
static void CurveJson(StringInfo buf, const ReportCurve *c, int nthr);
static int	Thin(const ReportCurve *c, int max, ReportSeries *s);
static char *TextArg(FunctionCallInfo fcinfo, int i);

/* TextArg returns argument i as a C string, or NULL. */
static char *
TextArg(FunctionCallInfo fcinfo, int i)
{
	return PG_ARGISNULL(i) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(i));
}

/*
 * mlops_model_report implements mlops.model_report(model, source, target,
 * format).
 */
Datum
mlops_model_report(PG_FUNCTION_ARGS)
{
	ModelReport r;
	char	   *model = TextArg(fcinfo, 0);
	char	   *source = TextArg(fcinfo, 1);
	char	   *target = TextArg(fcinfo, 2);
	bool		json = ReportWantJson(PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3));
	StringInfoData buf;

	MlopsRequireCurrentSchema("mlops.model_report");
	if (model == NULL)
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("model must not be null")));
	if (source != NULL && target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target must be given with source"),
				 errhint("Name the column of the source that holds the true label or value.")));
	memset(&r, 0, sizeof(r));
	r.cxt = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ReadCard(&r, model);
	ReadKeyValues(&r, model);
	ReadCurve(&r);
	ReadImportance(&r, model);
	if (source != NULL)
		Evaluate(&r, source, target);
	SPI_finish();
	if (source == NULL && r.booster != NULL)
		EvaluateHeldOut(&r);

	initStringInfo(&buf);
	if (json)
		RenderJson(&buf, &r);
	else
		RenderHtml(&buf, &r);
	PG_RETURN_TEXT_P(ReportResult(&buf));
}

/* GetText returns column col of the first SPI row as a string in cxt, or NULL. */
static char *
GetText(MemoryContext cxt, int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);

	return v == NULL ? NULL : MemoryContextStrdup(cxt, v);
}

/* TextArrayCol returns a text[] column of the first SPI row as strings in cxt. */
static char **
TextArrayCol(MemoryContext cxt, int col, int *n)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	*n = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	out = MemoryContextAlloc(cxt, sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		out[i] = nulls[i] ? MemoryContextStrdup(cxt, "") : MemoryContextStrdup(cxt, TextDatumGetCString(elems[i]));
	return out;
}

/*
 * ReadCard reads the version's card with mlops.model_info and its classes
 * with mlops.model_schema, as the caller.
 */
static void
ReadCard(ModelReport *r, const char *model)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(model)};

	if (SPI_execute_with_args("SELECT i::pg_catalog.text, i OPERATOR(pg_catalog.->>) 'name', "
							  "(i OPERATOR(pg_catalog.->>) 'version')::pg_catalog.int4, i OPERATOR(pg_catalog.->>) 'stage', "
							  "i OPERATOR(pg_catalog.->>) 'task', (i OPERATOR(pg_catalog.->>) 'run_id')::pg_catalog.int8, "
							  "ARRAY(SELECT pg_catalog.jsonb_array_elements_text(i OPERATOR(pg_catalog.->) 'feature_names')), "
							  "ARRAY(SELECT pg_catalog.jsonb_array_elements_text(mlops.model_schema($1) OPERATOR(pg_catalog.->) 'label' OPERATOR(pg_catalog.->) 'classes')) "
							  "FROM (SELECT mlops.model_info($1) AS i) s",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the model");
	{
		bool		isnull;
		Datum		d;

		r->info = GetText(r->cxt, 1);
		r->name = GetText(r->cxt, 2);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		r->version = isnull ? 0 : DatumGetInt32(d);
		r->stage = GetText(r->cxt, 4);
		r->task = GetText(r->cxt, 5);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull);
		r->run_id = isnull ? 0 : DatumGetInt64(d);
		r->features = TextArrayCol(r->cxt, 7, &r->nfeatures);
		r->classes = TextArrayCol(r->cxt, 8, &r->nclasses);
	}
	r->classification = r->task != NULL && strcmp(r->task, "classification") == 0;
	r->ref = MemoryContextStrdup(r->cxt, psprintf("%s/%d", r->name, r->version));
}

/*
 * ReadCurve reads the metrics the run logged at more than one step (the
 * training curve), at most 8 of them, when the caller may read them.
 */
static void
ReadCurve(ModelReport *r)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(r->run_id)};
	MemoryContext old;

	if (r->run_id == 0)
		return;
	if (SPI_execute_with_args("SELECT m.key, pg_catalog.array_agg(m.step::pg_catalog.float8 ORDER BY m.step, m.logged_at), "
							  "pg_catalog.array_agg(m.value ORDER BY m.step, m.logged_at) "
							  "FROM mlops.run_metrics m WHERE pg_catalog.has_table_privilege('mlops.run_metrics', 'SELECT') "
							  "AND m.run_id OPERATOR(pg_catalog.=) $1 GROUP BY m.key "
							  "HAVING pg_catalog.count(DISTINCT m.step) OPERATOR(pg_catalog.>) 1 ORDER BY m.key LIMIT 8",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the run's metrics");
	old = MemoryContextSwitchTo(r->cxt);
	r->ncurves = (int) SPI_processed;
	r->curves = palloc0(sizeof(ReportSeries) * Max(r->ncurves, 1));
	for (int i = 0; i < r->ncurves; i++)
	{
		static const char *const colours[] = {REPORT_BLUE, REPORT_ORANGE, REPORT_GREEN, REPORT_VERMILLION,
		REPORT_PURPLE, REPORT_SKY, REPORT_BLACK, REPORT_YELLOW};
		HeapTuple	t = SPI_tuptable->vals[i];
		bool		isnull;
		Datum	   *e;
		bool	   *nulls;
		int			n;
		double	   *xs,
				   *ys;

		r->curves[i].name = SPI_getvalue(t, SPI_tuptable->tupdesc, 1);
		r->curves[i].colour = colours[i % 8];
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull)),
						  FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &e, &nulls, &n);
		xs = palloc(sizeof(double) * n);
		for (int k = 0; k < n; k++)
			xs[k] = DatumGetFloat8(e[k]);
		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull)),
						  FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &e, &nulls, &n);
		ys = palloc(sizeof(double) * n);
		for (int k = 0; k < n; k++)
			ys[k] = DatumGetFloat8(e[k]);
		r->curves[i].x = xs;
		r->curves[i].y = ys;
		r->curves[i].n = n;
	}
	MemoryContextSwitchTo(old);
}

/*
 * ReadImportance loads the version's booster from its checksummed bytes
 * and reads XGBoost's gain per feature, naming features by the version's
 * feature names.
 */
static void
ReadImportance(ModelReport *r, const char *model)
{
	ResolvedModel rm;
	bytea	   *bytes;
	BoosterHandle booster;
	MemoryContext old = MemoryContextSwitchTo(r->cxt);
	char	  **names;
	double	   *gain;
	int			n;

	ResolveModelRef(r->ref, &rm);
	if (rm.algorithm != NULL && strcmp(rm.algorithm, "xgboost") != 0)
	{
		MemoryContextSwitchTo(old);
		return;
	}
	bytes = FetchModelBytes(rm.model_id, rm.version);
	booster = XgbBoosterLoadJson(r->cxt, VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes));
	r->booster = booster;
	if (strstr(r->info, "\"gblinear\"") != NULL)
	{
		MemoryContextSwitchTo(old);
		return;
	}
	n = XgbBoosterFeatureScore(booster, "gain", &names, &gain);
	/* by decreasing gain, named by the version's feature names */
	for (int i = 0; i < n; i++)
	{
		int			f;

		if (names[i][0] == 'f' && sscanf(names[i] + 1, "%d", &f) == 1 && f >= 0 && f < r->nfeatures)
			names[i] = r->features[f];
		for (int k = i; k > 0 && gain[k] > gain[k - 1]; k--)
		{
			double		g = gain[k];
			char	   *s = names[k];

			gain[k] = gain[k - 1];
			names[k] = names[k - 1];
			gain[k - 1] = g;
			names[k - 1] = s;
		}
	}
	r->nimportance = n;
	r->imp_names = names;
	r->imp_gain = gain;
	MemoryContextSwitchTo(old);
}

/* ClassIndex returns the code of a label among the model's classes, or -1. */
static int
ClassIndex(ModelReport *r, const char *label)
{
	for (int c = 0; c < r->nclasses; c++)
		if (strcmp(r->classes[c], label) == 0)
			return c;
	return -1;
}

/* Grow makes room for one more evaluated row. */
static void
Grow(ModelReport *r, int64 *cap)
{
	if (r->n < *cap)
		return;
	*cap = *cap == 0 ? 4096 : *cap * 2;
	if (r->n == 0)
	{
		r->score = MemoryContextAllocHuge(r->cxt, sizeof(double) * *cap);
		r->actual = MemoryContextAllocHuge(r->cxt, sizeof(double) * *cap);
		r->pred_class = MemoryContextAllocHuge(r->cxt, sizeof(int) * *cap);
		r->true_class = MemoryContextAllocHuge(r->cxt, sizeof(int) * *cap);
	}
	else
	{
		r->score = repalloc_huge(r->score, sizeof(double) * *cap);
		r->actual = repalloc_huge(r->actual, sizeof(double) * *cap);
		r->pred_class = repalloc_huge(r->pred_class, sizeof(int) * *cap);
		r->true_class = repalloc_huge(r->true_class, sizeof(int) * *cap);
	}
}

/*
 * Evaluate predicts every row of a labelled source with the version
 * (predict_proba for a classifier, predict for a regression) as the
 * caller, and keeps the predictions and true labels; rows whose label is
 * NULL or not one of the model's classes are counted as skipped.
 */
static void
Evaluate(ModelReport *r, const char *source, const char *target)
{
	char	   *query = SourceQuery(source);
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2];
	Datum	   *names = palloc(sizeof(Datum) * Max(r->nfeatures, 1));
	Portal		portal;
	int64		cap = 0;
	char	   *sql;

	for (int i = 0; i < r->nfeatures; i++)
		names[i] = CStringGetTextDatum(r->features[i]);
	values[0] = CStringGetTextDatum(r->ref);
	values[1] = PointerGetDatum(construct_array(names, r->nfeatures, TEXTOID, -1, false, TYPALIGN_INT));
	sql = psprintf("SELECT %s($1, (SELECT pg_catalog.jsonb_object_agg(e.key, e.value) "
				   "FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(s)) e WHERE e.key OPERATOR(pg_catalog.=) ANY ($2))), "
				   "(s.%s)::pg_catalog.%s FROM (%s\n) s",
				   r->classification ? "mlops.predict_proba" : "mlops.predict",
				   quote_identifier(target), r->classification ? "text" : "float8", query);
	portal = SPI_cursor_open_with_args(NULL, sql, 2, types, values, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	td = SPI_tuptable->tupdesc;
			bool		n1,
						n2;
			Datum		p = SPI_getbinval(t, td, 1, &n1);
			Datum		y = SPI_getbinval(t, td, 2, &n2);

			CHECK_FOR_INTERRUPTS();
			if (n1 || n2)
			{
				r->skipped++;
				continue;
			}
			Grow(r, &cap);
			if (r->classification)
			{
				Datum	   *e;
				bool	   *nulls;
				int			k,
							best = 0;
				int			truth = ClassIndex(r, TextDatumGetCString(y));

				if (truth < 0)
				{
					r->skipped++;
					continue;
				}
				deconstruct_array(DatumGetArrayTypeP(p), FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
								  &e, &nulls, &k);
				for (int c = 1; c < k; c++)
					if (DatumGetFloat8(e[c]) > DatumGetFloat8(e[best]))
						best = c;
				r->score[r->n] = k >= 2 ? DatumGetFloat8(e[1]) : NAN;
				r->pred_class[r->n] = best;
				r->true_class[r->n] = truth;
			}
			else
			{
				r->score[r->n] = DatumGetFloat8(p);
				r->actual[r->n] = DatumGetFloat8(y);
			}
			r->n++;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	r->evaluated = true;
}

/* KeyValue returns the value of key in a section of the card, or NULL. */
static const char *
KeyValue(ModelReport *r, const char *section, const char *key)
{
	for (int i = 0; i < r->nkv; i++)
		if (strcmp(r->kv_section[i], section) == 0 && strcmp(r->kv_key[i], key) == 0)
			return r->kv_value[i];
	return NULL;
}

/*
 * EvaluateHeldOut evaluates a version mlops.train made on the rows its
 * training held out: the training source and target (the version's tags)
 * read again as the caller, split again with the recorded test_size,
 * test_sampling and seed (DatasetMakeSplit, as training does), and
 * predicted with the booster.  When the source cannot be read (it changed,
 * or the caller may not read it) the report says why instead.  A report
 * made on behalf of another role (mlops.train's artifact, as the extension
 * owner) skips them: sources are only ever read as the caller.
 */
static void
EvaluateHeldOut(ModelReport *r)
{
	ErrorData  *err;

	/* made on behalf of another role (train's artifact): sources are never read so */
	if (InLocalUserIdChange() || InSecurityRestrictedOperation())
		return;
	if (KeyValue(r, "tags", "source") == NULL || KeyValue(r, "tags", "target") == NULL ||
		KeyValue(r, "params", "test_size") == NULL)
		return;
	err = MlopsTryInSubxact(ReadHeldOut, r);
	if (err != NULL)
	{
		r->evaluated = false;
		r->n = 0;
		r->held_out_error = MemoryContextStrdup(r->cxt, MlopsClip(err->message, MLOPS_ECHO_MAX));
	}
}

/* ReadHeldOut reads, splits and predicts the held-out rows (EvaluateHeldOut). */
static void
ReadHeldOut(void *arg)
{
	ModelReport *r = (ModelReport *) arg;
	MemoryContext old = MemoryContextSwitchTo(r->cxt);
	List	   *features = NIL;
	Dataset    *ds;
	DatasetSplit *split;
	const char *sampling = KeyValue(r, "params", "test_sampling");
	const char *seed = KeyValue(r, "params", "seed");
	double		test_size = strtod(KeyValue(r, "params", "test_size"), NULL);
	float	   *x;
	const float *out;
	bst_ulong	len;
	int64		cap = 0;
	ModelOutput output;

	for (int j = 0; j < r->nfeatures; j++)
		features = lappend(features, r->features[j]);
	ds = DatasetRead(KeyValue(r, "tags", "source"), KeyValue(r, "tags", "target"), features,
					 r->classification, (int64) mlops_max_train_cells_m * 1000000, 0);
	split = DatasetMakeSplit(ds, test_size, sampling != NULL ? sampling : "random",
							 seed != NULL ? atoi(seed) : 42);
	r->evaluated = true;
	r->held_out = true;
	if (split->ntest == 0 || ds->nfeatures != r->nfeatures)
	{
		MemoryContextSwitchTo(old);
		return;
	}
	x = DatasetGather(ds->x, ds->nfeatures, split->test_rows, split->ntest);
	out = XgbPredictDense(r->booster, x, split->ntest, ds->nfeatures, &len);
	output = ObjectiveOutput(XgbBoosterObjective(r->booster), !r->classification);
	for (int64 i = 0; i < split->ntest; i++)
	{
		double		y = ds->y[split->test_rows[i]];

		CHECK_FOR_INTERRUPTS();
		Grow(r, &cap);
		if (!r->classification)
		{
			r->score[r->n] = out[i];
			r->actual[r->n] = y;
		}
		else
		{
			int			truth = ClassIndex(r, ds->label.classes->names[(int) y]);
			int			best = 0;

			if (truth < 0)
			{
				r->skipped++;
				continue;
			}
			if (output == OUTPUT_PROBS && len == (bst_ulong) split->ntest * r->nclasses)
			{
				for (int c = 1; c < r->nclasses; c++)
					if (out[i * r->nclasses + c] > out[i * r->nclasses + best])
						best = c;
				r->score[r->n] = r->nclasses >= 2 ? out[i * r->nclasses + 1] : NAN;
			}
			else if (output == OUTPUT_PROB1)
			{
				best = out[i] > 0.5 ? 1 : 0;
				r->score[r->n] = out[i];
			}
			else
			{
				best = (int) out[i];
				r->score[r->n] = out[i];
			}
			r->pred_class[r->n] = best;
			r->true_class[r->n] = truth;
		}
		r->n++;
	}
	MemoryContextSwitchTo(old);
}

/*
 * Thin copies a curve into a series of at most max points (every k-th
 * point and the last), for drawing.
 */
static int
Thin(const ReportCurve *c, int max, ReportSeries *s)
{
	int			step = c->n > max ? (c->n + max - 1) / max : 1;
	double	   *x = palloc(sizeof(double) * (max + 2));
	double	   *y = palloc(sizeof(double) * (max + 2));
	int			k = 0;

	for (int i = 0; i < c->n; i += step)
	{
		x[k] = c->x[i];
		y[k] = c->y[i];
		k++;
	}
	if (c->n > 0 && (c->n - 1) % step != 0)
	{
		x[k] = c->x[c->n - 1];
		y[k] = c->y[c->n - 1];
		k++;
	}
	s->x = x;
	s->y = y;
	s->n = k;
	return step;
}

/* CurveJson writes a curve's points and nthr thresholds (thinned beyond CURVE_JSON_MAX). */
static void
CurveJson(StringInfo buf, const ReportCurve *c, int nthr)
{
	int			step = c->n > CURVE_JSON_MAX ? (c->n + CURVE_JSON_MAX - 1) / CURVE_JSON_MAX : 1;
	const double *arrs[3] = {c->x, c->y, c->thresholds};
	const char *keys[3] = {"x", "y", "thresholds"};

	appendStringInfo(buf, "{\"points\": %d, \"thinned\": %s", c->n, step > 1 ? "true" : "false");
	for (int a = 0; a < 3; a++)
	{
		int			len = a == 2 ? nthr : c->n;

		appendStringInfo(buf, ", \"%s\": [", keys[a]);
		for (int i = 0, first = 1; i < len; i += step, first = 0)
		{
			CHECK_FOR_INTERRUPTS();
			if (!first)
				appendStringInfoChar(buf, ',');
			ReportJsonNumber(buf, arrs[a][i]);
		}
		appendStringInfoChar(buf, ']');
	}
	appendStringInfoChar(buf, '}');
}

/* the binary evaluation, computed once for the page or the JSON */
typedef struct BinaryEval
{
	bool	   *positive;
	ReportCurve roc;
	ReportCurve pr;
	double		roc_auc;
	double		pr_auc;
	double		average_precision;
	double		cal_pred[CALIBRATION_BINS];
	double		cal_true[CALIBRATION_BINS];
	int			cal_n;
} BinaryEval;

/*
 * SharedRocAuc returns roc_auc_score with the shared RocAuc of
 * common/metrics.c (ties count half), NaN unless both classes occur.
 */
static double
SharedRocAuc(ModelReport *r, const bool *positive)
{
	ScoredLabel *pairs = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ScoredLabel) * Max(r->n, 1));

	for (int64 i = 0; i < r->n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		pairs[i].score = r->score[i];
		pairs[i].positive = positive[i];
	}
	return RocAuc(pairs, (size_t) r->n);
}

/*
 * ComputeBinary computes the ROC and PR curves, their areas, and the
 * calibration curve (calibration_curve(n_bins=10, strategy='uniform'): per
 * non-empty bin, the mean score and the share of positives).
 */
static void
ComputeBinary(ModelReport *r, BinaryEval *b)
{
	double		sum_p[CALIBRATION_BINS] = {0};
	double		sum_t[CALIBRATION_BINS] = {0};
	double		cnt[CALIBRATION_BINS] = {0};

	b->positive = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * Max(r->n, 1));
	for (int64 i = 0; i < r->n; i++)
	{
		int			bin;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		b->positive[i] = r->true_class[i] == 1;
		/* numpy.searchsorted(linspace(0, 1, 11)[1:-1], p): inner edges below p */
		bin = 0;
		for (int k = 1; k < CALIBRATION_BINS; k++)
			bin += r->score[i] > k * (1.0 / CALIBRATION_BINS);
		sum_p[bin] += r->score[i];
		sum_t[bin] += b->positive[i] ? 1 : 0;
		cnt[bin] += 1;
	}
	ReportRocCurve(r->score, b->positive, r->n, &b->roc);
	ReportPrCurve(r->score, b->positive, r->n, &b->pr);
	b->roc_auc = SharedRocAuc(r, b->positive);
	b->pr_auc = ReportTrapezoid(b->pr.x, b->pr.y, b->pr.n);
	b->average_precision = ReportAveragePrecision(&b->pr);
	b->cal_n = 0;
	for (int k = 0; k < CALIBRATION_BINS; k++)
	{
		if (cnt[k] == 0)
			continue;
		b->cal_pred[b->cal_n] = sum_p[k] / cnt[k];
		b->cal_true[b->cal_n] = sum_t[k] / cnt[k];
		b->cal_n++;
	}
}

/* Fixed4 formats a number with four decimals, or "undefined" (NaN: a class is absent). */
static char *
Fixed4(double v)
{
	return isfinite(v) ? psprintf("%.4f", v) : pstrdup("undefined");
}

/*
 * ClassMetrics accumulates the (predicted, true) class codes with the
 * shared accumulator of common/metrics.c (every class of the model
 * declared, so its confusion matrix has a row and a column for each):
 * accuracy and the confusion matrix.  False with *note set when the model
 * has more classes than the accumulator takes.
 */
static bool
ClassMetrics(ModelReport *r, ClassificationMetrics *out, const char **note)
{
	ClassificationAcc acc;
	char		err[256];
	bool		ok = r->nclasses <= METRICS_MAX_CLASSES;

	*note = NULL;
	if (!ok)
	{
		*note = psprintf("the model has %d classes; the confusion matrix takes at most %d", r->nclasses,
						 METRICS_MAX_CLASSES);
		return false;
	}
	ClassificationAccInit(&acc);
	for (int c = 0; c < r->nclasses && ok; c++)
		ok = ClassificationAccDeclareClass(&acc, c, err, sizeof(err));
	for (int64 i = 0; i < r->n && ok; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		ok = ClassificationAccAdd(&acc, r->pred_class[i], r->true_class[i], err, sizeof(err));
	}
	ok = ok && ClassificationAccFinish(&acc, out, err, sizeof(err));
	ClassificationAccFree(&acc);
	if (!ok)
		*note = pstrdup(err);
	return ok;
}

/*
 * RegressionGrid bins (actual, predicted) pairs on a GRID x GRID grid over
 * their common range and the residuals on GRID bins, returning both
 * ranges, and the metrics from the shared accumulator of common/metrics.c.
 */
static void
RegressionGrid(ModelReport *r, double *grid, double *res_counts, double *lo, double *hi,
			   double *rlo, double *rhi, RegressionMetrics *m)
{
	RegressionAcc acc;
	char		err[256];

	RegressionAccInit(&acc);
	*lo = INFINITY;
	*hi = -INFINITY;
	*rlo = INFINITY;
	*rhi = -INFINITY;
	for (int64 i = 0; i < r->n; i++)
	{
		double		e = r->score[i] - r->actual[i];

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		*lo = Min(*lo, Min(r->score[i], r->actual[i]));
		*hi = Max(*hi, Max(r->score[i], r->actual[i]));
		*rlo = Min(*rlo, e);
		*rhi = Max(*rhi, e);
		if (!RegressionAccAdd(&acc, r->score[i], r->actual[i], err, sizeof(err)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot evaluate the predictions"),
					 errdetail("%s.", err)));
	}
	if (!RegressionAccFinish(&acc, m, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot evaluate the predictions"),
				 errdetail("%s.", err)));
	for (int64 i = 0; i < r->n; i++)
	{
		double		e = r->score[i] - r->actual[i];
		int			gx,
					gy,
					gr;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		gx = *hi > *lo ? (int) ((r->actual[i] - *lo) / (*hi - *lo) * GRID) : 0;
		gy = *hi > *lo ? (int) ((r->score[i] - *lo) / (*hi - *lo) * GRID) : 0;
		gr = *rhi > *rlo ? (int) ((e - *rlo) / (*rhi - *rlo) * GRID) : 0;
		gx = Min(Max(gx, 0), GRID - 1);
		gy = Min(Max(gy, 0), GRID - 1);
		gr = Min(Max(gr, 0), GRID - 1);
		grid[gy * GRID + gx] += 1;
		res_counts[gr] += 1;
	}
}

/*
 * ReadKeyValues reads the card's sections from mlops.model_info, as the
 * caller: parameters, metrics, tags, and the lineage and data documents
 * when the version has them.
 */
static void
ReadKeyValues(ModelReport *r, const char *model)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(model)};
	MemoryContext old;

	if (SPI_execute_with_args("SELECT x.section, e.key, CASE pg_catalog.jsonb_typeof(e.value) WHEN 'string' THEN e.value OPERATOR(pg_catalog.#>>) '{}' "
							  "ELSE e.value::pg_catalog.text END "
							  "FROM (SELECT mlops.model_info($1) AS i) s, "
							  "LATERAL (VALUES (1, 'params'), (2, 'metrics'), (3, 'tags'), (4, 'lineage'), (5, 'data')) x (o, section), "
							  "LATERAL pg_catalog.jsonb_each(CASE pg_catalog.jsonb_typeof(s.i OPERATOR(pg_catalog.->) x.section) "
							  "WHEN 'object' THEN s.i OPERATOR(pg_catalog.->) x.section ELSE '{}'::pg_catalog.jsonb END) e "
							  "ORDER BY x.o, e.key LIMIT 2000",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the model");
	old = MemoryContextSwitchTo(r->cxt);
	r->nkv = (int) SPI_processed;
	r->kv_section = palloc(sizeof(char *) * Max(r->nkv, 1));
	r->kv_key = palloc(sizeof(char *) * Max(r->nkv, 1));
	r->kv_value = palloc(sizeof(char *) * Max(r->nkv, 1));
	for (int i = 0; i < r->nkv; i++)
	{
		r->kv_section[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		r->kv_key[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		r->kv_value[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
	}
	MemoryContextSwitchTo(old);
}

/* RenderKeyValues writes one section of the card as a two-column table. */
static void
RenderKeyValues(StringInfo buf, ModelReport *r, const char *section, const char *heading)
{
	bool		any = false;

	for (int i = 0; i < r->nkv; i++)
	{
		if (strcmp(r->kv_section[i], section) != 0)
			continue;
		if (!any)
			appendStringInfo(buf, "<h2>%s</h2>\n<table class=\"kv\" id=\"%s\"><tbody>\n", heading, section);
		any = true;
		appendStringInfoString(buf, "<tr><th>");
		ReportText(buf, r->kv_key[i]);
		appendStringInfoString(buf, "</th><td>");
		ReportText(buf, r->kv_value[i]);
		appendStringInfoString(buf, "</td></tr>\n");
	}
	if (any)
		appendStringInfoString(buf, "</tbody></table>\n");
}

/* Axes fills chart axes. */
static void
Axes(ReportAxes *a, const char *title, const char *xl, const char *yl,
	 double x0, double x1, double y0, double y1)
{
	memset(a, 0, sizeof(*a));
	a->title = title;
	a->xlabel = xl;
	a->ylabel = yl;
	a->xmin = x0;
	a->xmax = x1;
	a->ymin = y0;
	a->ymax = y1;
	a->width = 560;
	a->height = 320;
}

/*
 * RenderClassification writes the evaluation of a classifier: accuracy,
 * the confusion matrix and, for two classes, ROC, PR and calibration.
 */
static void
RenderClassification(StringInfo buf, ModelReport *r)
{
	int			k = r->nclasses;
	ClassificationMetrics *cm = palloc0(sizeof(ClassificationMetrics));
	const char *note;
	BinaryEval	b;
	ReportAxes	a;
	ReportSeries s;

	if (!ClassMetrics(r, cm, &note))
	{
		appendStringInfoString(buf, "<p class=\"muted\">No confusion matrix: ");
		ReportText(buf, note);
		appendStringInfoString(buf, ".</p>\n");
	}
	else
		appendStringInfo(buf, "<p>Accuracy <b id=\"accuracy\">%s</b> at the most probable class.</p>\n", Fixed4(cm->accuracy));
	if (note == NULL && k <= CONFUSION_MAX)
	{
		appendStringInfoString(buf, "<h3>Confusion matrix (rows: true class, columns: predicted class)</h3>\n"
							   "<table id=\"confusion\"><thead><tr><th>true \\ predicted</th>");
		for (int c = 0; c < k; c++)
		{
			appendStringInfoString(buf, "<th>");
			ReportText(buf, r->classes[c]);
			appendStringInfoString(buf, "</th>");
		}
		appendStringInfoString(buf, "</tr></thead><tbody>\n");
		for (int t = 0; t < k; t++)
		{
			appendStringInfoString(buf, "<tr><th>");
			ReportText(buf, r->classes[t]);
			appendStringInfoString(buf, "</th>");
			for (int c = 0; c < k; c++)
				appendStringInfo(buf, "<td class=\"num\"%s>%lld</td>", t == c ? " style=\"background:#cfe8f7\"" : "",
								 (long long) cm->confusion[t][c]);
			appendStringInfoString(buf, "</tr>\n");
		}
		appendStringInfoString(buf, "</tbody></table>\n");
	}
	else if (note == NULL)
		appendStringInfo(buf, "<p class=\"muted\">%d classes: the confusion matrix is in the JSON only.</p>\n", k);
	if (k != 2)
	{
		appendStringInfoString(buf, "<p class=\"muted\">ROC, precision-recall and calibration curves are drawn for two classes.</p>\n");
		return;
	}
	ComputeBinary(r, &b);
	appendStringInfo(buf, "<p>ROC AUC <b id=\"roc_auc\">%s</b>, PR AUC <b>%s</b>, average precision <b>%s</b> "
					 "(positive class: ", Fixed4(b.roc_auc), Fixed4(b.pr_auc), Fixed4(b.average_precision));
	ReportText(buf, r->classes[1]);
	appendStringInfoString(buf, ").</p>\n<div class=\"cards\"><div class=\"card\">");
	memset(&s, 0, sizeof(s));
	s.name = "ROC";
	s.colour = REPORT_BLUE;
	Thin(&b.roc, CURVE_DRAWN_MAX, &s);
	Axes(&a, psprintf("ROC curve (AUC %s)", Fixed4(b.roc_auc)), "false positive rate", "true positive rate", 0, 1, 0, 1);
	ReportLineChart(buf, &a, &s, 1, true);
	appendStringInfoString(buf, "</div><div class=\"card\">");
	s.name = "precision-recall";
	s.colour = REPORT_ORANGE;
	Thin(&b.pr, CURVE_DRAWN_MAX, &s);
	Axes(&a, psprintf("Precision-recall curve (AUC %s)", Fixed4(b.pr_auc)), "recall", "precision", 0, 1, 0, 1);
	ReportLineChart(buf, &a, &s, 1, false);
	appendStringInfoString(buf, "</div><div class=\"card\">");
	s.name = "model";
	s.colour = REPORT_GREEN;
	s.x = b.cal_pred;
	s.y = b.cal_true;
	s.n = b.cal_n;
	Axes(&a, "Calibration (10 uniform bins)", "mean predicted probability", "fraction of positives", 0, 1, 0, 1);
	ReportLineChart(buf, &a, &s, 1, true);
	appendStringInfoString(buf, "</div></div>\n");
}

/*
 * RenderRegression writes the evaluation of a regression: RMSE, MAE, R²,
 * predicted against actual on a grid, and the residuals' histogram.
 */
static void
RenderRegression(StringInfo buf, ModelReport *r)
{
	double	   *grid = palloc0(sizeof(double) * GRID * GRID);
	double		res[GRID] = {0};
	double		lo,
				hi,
				rlo,
				rhi,
				ymax = 0;
	RegressionMetrics m;
	ReportAxes	a;
	ReportSeries s;
	char	   *labels[GRID];

	RegressionGrid(r, grid, res, &lo, &hi, &rlo, &rhi, &m);
	appendStringInfo(buf, "<p>RMSE <b id=\"rmse\">%.6g</b>, MAE <b>%.6g</b>, R\xc2\xb2 <b>%s</b>.</p>\n", m.rmse, m.mae, Fixed4(m.r2));
	appendStringInfoString(buf, "<div class=\"cards\"><div class=\"card\">");
	Axes(&a, "Predicted against actual (rows per cell)", "actual", "predicted", lo, hi, lo, hi);
	ReportHeatmap(buf, &a, grid, GRID, GRID);
	appendStringInfoString(buf, "</div><div class=\"card\">");
	for (int i = 0; i < GRID; i++)
	{
		labels[i] = psprintf("%.4g", rlo + (rhi - rlo) * (i + 0.5) / GRID);
		ymax = Max(ymax, res[i]);
	}
	memset(&s, 0, sizeof(s));
	s.name = "residuals";
	s.colour = REPORT_VERMILLION;
	s.y = res;
	s.n = GRID;
	Axes(&a, "Residuals (predicted - actual)", "residual (bin centre)", "rows", 0, 1, 0, ymax);
	ReportBarChart(buf, &a, (const char **) labels, GRID, &s, 1, false);
	appendStringInfoString(buf, "</div></div>\n");
}

/* RenderHtml writes the model card. */
static void
RenderHtml(StringInfo buf, ModelReport *r)
{
	char	   *title = psprintf("Model report: %s version %d", r->name, r->version);
	ReportAxes	a;

	ReportPageStart(buf, title, 0);
	appendStringInfoString(buf, "<h1>");
	ReportText(buf, title);
	appendStringInfoString(buf, "</h1>\n<div class=\"summary\"><div>Stage: <b>");
	ReportText(buf, r->stage);
	appendStringInfoString(buf, "</b></div><div>Task: ");
	ReportText(buf, r->task);
	appendStringInfo(buf, "</div><div>Features: %d</div><div>Run: %lld</div></div>\n", r->nfeatures, (long long) r->run_id);
	RenderKeyValues(buf, r, "lineage", "Lineage");
	RenderKeyValues(buf, r, "data", "Training data");
	RenderKeyValues(buf, r, "tags", "Tags");
	RenderKeyValues(buf, r, "params", "Parameters");
	RenderKeyValues(buf, r, "metrics", "Metrics");
	if (r->ncurves > 0)
	{
		double		x1 = 1,
					y0 = INFINITY,
					y1 = -INFINITY;

		for (int i = 0; i < r->ncurves; i++)
			for (int k = 0; k < r->curves[i].n; k++)
			{
				x1 = Max(x1, r->curves[i].x[k]);
				y0 = Min(y0, r->curves[i].y[k]);
				y1 = Max(y1, r->curves[i].y[k]);
			}
		appendStringInfoString(buf, "<h2>Training curve</h2>\n");
		Axes(&a, "Metrics per boosting round", "round", "metric value", 0, x1, Min(y0, 0), y1 > y0 ? y1 : y0 + 1);
		a.width = 1100;
		ReportLineChart(buf, &a, r->curves, r->ncurves, false);
	}
	if (r->nimportance > 0)
	{
		int			shown = Min(r->nimportance, IMPORTANCE_SHOWN);

		appendStringInfoString(buf, "<h2>Feature importance</h2>\n");
		Axes(&a, "Feature importance (XGBoost gain, mean per split)", "gain", "", 0, 1, 0, 1);
		a.height = 60 + 18 * shown;
		a.width = 1100;
		ReportHBarChart(buf, &a, (const char **) r->imp_names, r->imp_gain, shown, REPORT_BLUE);
		if (r->nimportance > shown)
			appendStringInfo(buf, "<p class=\"muted\">%d more features with splits are in the JSON.</p>\n",
							 r->nimportance - shown);
	}
	if (r->held_out_error != NULL)
	{
		appendStringInfoString(buf, "<h2>Evaluation</h2>\n<p class=\"muted\">The held-out rows could not be read: ");
		ReportText(buf, r->held_out_error);
		appendStringInfoString(buf, " Pass a labelled source to evaluate the model.</p>\n");
	}
	if (r->evaluated)
	{
		appendStringInfo(buf, "<h2>Evaluation%s</h2>\n<p>%lld labelled rows evaluated, %lld skipped (no label, or a label the model does not know).</p>\n",
						 r->held_out ? " on the rows training held out" : "",
						 (long long) r->n, (long long) r->skipped);
		if (r->n == 0)
			appendStringInfoString(buf, "<p class=\"muted\">No rows to evaluate.</p>\n");
		else if (r->classification)
			RenderClassification(buf, r);
		else
			RenderRegression(buf, r);
	}
	ReportPageEnd(buf);
}

/* RenderJson writes the data behind the model card. */
static void
RenderJson(StringInfo buf, ModelReport *r)
{
	appendStringInfo(buf, "{\"model\": %s, \"training_curve\": {", r->info);
	for (int i = 0; i < r->ncurves; i++)
	{
		ReportCurve c;

		c.n = r->curves[i].n;
		c.x = (double *) r->curves[i].x;
		c.y = (double *) r->curves[i].y;
		c.thresholds = NULL;
		if (i > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, r->curves[i].name);
		appendStringInfoString(buf, ": ");
		CurveJson(buf, &c, 0);
	}
	appendStringInfoString(buf, "}, \"feature_importance\": [");
	for (int i = 0; i < r->nimportance; i++)
	{
		appendStringInfoString(buf, i > 0 ? ", {\"feature\": " : "{\"feature\": ");
		escape_json(buf, r->imp_names[i]);
		appendStringInfoString(buf, ", \"gain\": ");
		ReportJsonNumber(buf, r->imp_gain[i]);
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoString(buf, "], \"evaluation\": ");
	if (!r->evaluated)
	{
		appendStringInfoString(buf, "null");
		if (r->held_out_error != NULL)
		{
			appendStringInfoString(buf, ", \"evaluation_error\": ");
			escape_json(buf, r->held_out_error);
		}
		appendStringInfoChar(buf, '}');
		return;
	}
	appendStringInfo(buf, "{\"data\": \"%s\", \"rows\": %lld, \"skipped\": %lld",
					 r->held_out ? "held_out" : "source", (long long) r->n, (long long) r->skipped);
	if (r->classification && r->n > 0)
	{
		int			k = r->nclasses;
		ClassificationMetrics *cm = palloc0(sizeof(ClassificationMetrics));
		const char *note;

		if (ClassMetrics(r, cm, &note))
		{
			appendStringInfoString(buf, ", \"accuracy\": ");
			ReportJsonNumber(buf, cm->accuracy);
			appendStringInfoString(buf, ", \"confusion_matrix\": [");
			for (int t = 0; t < k; t++)
			{
				appendStringInfoString(buf, t > 0 ? ", [" : "[");
				for (int c = 0; c < k; c++)
					appendStringInfo(buf, c > 0 ? ",%lld" : "%lld", (long long) cm->confusion[t][c]);
				appendStringInfoChar(buf, ']');
			}
			appendStringInfoChar(buf, ']');
		}
		else
		{
			appendStringInfoString(buf, ", \"confusion_matrix_note\": ");
			escape_json(buf, note);
		}
		if (k == 2)
		{
			BinaryEval	b;

			ComputeBinary(r, &b);
			appendStringInfoString(buf, ", \"positive_class\": ");
			escape_json(buf, r->classes[1]);
			appendStringInfoString(buf, ", \"roc_auc\": ");
			ReportJsonNumber(buf, b.roc_auc);
			appendStringInfoString(buf, ", \"pr_auc\": ");
			ReportJsonNumber(buf, b.pr_auc);
			appendStringInfoString(buf, ", \"average_precision\": ");
			ReportJsonNumber(buf, b.average_precision);
			appendStringInfoString(buf, ", \"roc\": ");
			CurveJson(buf, &b.roc, b.roc.n);
			appendStringInfoString(buf, ", \"precision_recall\": ");
			CurveJson(buf, &b.pr, Max(b.pr.n - 1, 0));
			appendStringInfoString(buf, ", \"calibration\": {\"mean_predicted\": [");
			for (int i = 0; i < b.cal_n; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				ReportJsonNumber(buf, b.cal_pred[i]);
			}
			appendStringInfoString(buf, "], \"fraction_positive\": [");
			for (int i = 0; i < b.cal_n; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				ReportJsonNumber(buf, b.cal_true[i]);
			}
			appendStringInfoString(buf, "]}");
		}
	}
	else if (r->n > 0)
	{
		double	   *grid = palloc0(sizeof(double) * GRID * GRID);
		double		res[GRID] = {0};
		double		lo,
					hi,
					rlo,
					rhi;
		RegressionMetrics m;

		RegressionGrid(r, grid, res, &lo, &hi, &rlo, &rhi, &m);
		appendStringInfoString(buf, ", \"rmse\": ");
		ReportJsonNumber(buf, m.rmse);
		appendStringInfoString(buf, ", \"mae\": ");
		ReportJsonNumber(buf, m.mae);
		appendStringInfoString(buf, ", \"r2\": ");
		ReportJsonNumber(buf, m.r2);
		appendStringInfoString(buf, ", \"residual_range\": [");
		ReportJsonNumber(buf, rlo);
		appendStringInfoChar(buf, ',');
		ReportJsonNumber(buf, rhi);
		appendStringInfoString(buf, "], \"residual_counts\": [");
		for (int i = 0; i < GRID; i++)
			appendStringInfo(buf, i > 0 ? ",%.0f" : "%.0f", res[i]);
		appendStringInfoChar(buf, ']');
	}
	appendStringInfoString(buf, "}}");
}
