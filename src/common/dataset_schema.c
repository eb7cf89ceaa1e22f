/*
 * dataset_schema.c
 *		A model's input_schema: the training statistics of every feature,
 *		the JSON document stored with a model version, and reading it back
 *		at prediction time.
 *
 * Design
 * ------
 * After the split, DatasetComputeStats summarises the training rows of
 * every feature (count, min, max, mean, null share and a histogram of
 * equal-width bins, or counts per category); drift references made from a
 * model (set_drift_reference_from_model) use exactly these.
 * DatasetInputSchemaJson writes the document: features in training order
 * with their type, categories (code i = categories[i]) and statistics, and
 * the label with its classes.  ModelSchemaFromJsonb reads a stored document
 * back into FeatureColumns with frozen vocabularies, checking every field it
 * uses, since the document may have been imported or edited.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "common/common.h"

/* ---------------------------------------------------------------------
 * Statistics and input_schema
 * ---------------------------------------------------------------------
 */

/*
 * DatasetComputeStats fills every feature's statistics from the given rows
 * (the training rows): count, min, max, mean and null share, and a
 * histogram of equal-width bins for numeric features or counts per category
 * for categorical ones.
 */
void
DatasetComputeStats(Dataset *ds, const int64 *rows, int64 nrows)
{
	int			nf = ds->nfeatures;
	double	   *sums = palloc0(sizeof(double) * nf);
	double	   *scale = palloc0(sizeof(double) * nf);	/* bins per unit */

	for (int j = 0; j < nf; j++)
	{
		FeatureColumn *col = &ds->features[j];
		FeatureStats *st = &col->stats;

		memset(st, 0, sizeof(FeatureStats));
		st->min = INFINITY;
		st->max = -INFINITY;
		if (col->kind == FEATURE_CATEGORICAL)
			st->category_counts = palloc_extended(sizeof(int64) * Max(col->vocab->count, 1),
												   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	}

	/* pass 1, row by row (the matrix is row-major): counts, sums, extremes */
	for (int64 i = 0; i < nrows; i++)
	{
		const float *row = ds->x + rows[i] * nf;

		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < nf; j++)
		{
			FeatureStats *st = &ds->features[j].stats;
			float		v = row[j];

			if (isnan(v))
				continue;
			st->count++;
			sums[j] += v;
			if (v < st->min)
				st->min = v;
			if (v > st->max)
				st->max = v;
			if (st->category_counts)
				st->category_counts[(int) v]++;
		}
	}
	for (int j = 0; j < nf; j++)
	{
		FeatureStats *st = &ds->features[j].stats;

		st->null_share = nrows > 0 ? (double) (nrows - st->count) / nrows : 0;
		st->mean = st->count > 0 ? sums[j] / st->count : NAN;
		if (ds->features[j].kind == FEATURE_CATEGORICAL || st->count == 0)
			continue;
		st->nbins = (st->max > st->min) ? DATASET_HISTOGRAM_BINS : 1;
		for (int b = 0; b <= st->nbins; b++)
			st->edges[b] = st->min + (st->max - st->min) * b / st->nbins;
		st->edges[st->nbins] = st->max;
		scale[j] = (st->max > st->min) ? st->nbins / (st->max - st->min) : 0;
	}

	/* pass 2: histograms */
	for (int64 i = 0; i < nrows; i++)
	{
		const float *row = ds->x + rows[i] * nf;

		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < nf; j++)
		{
			FeatureStats *st = &ds->features[j].stats;
			double		v = row[j];
			int			b;

			if (st->nbins == 0 || isnan(v))
				continue;
			/*
			 * Bin b holds edges[b] <= v < edges[b + 1], the last one closed:
			 * the arithmetic guess is corrected against the edges themselves.
			 */
			b = (int) ((v - st->min) * scale[j]);
			b = Min(Max(b, 0), st->nbins - 1);
			while (b > 0 && v < st->edges[b])
				b--;
			while (b < st->nbins - 1 && v >= st->edges[b + 1])
				b++;
			st->counts[b]++;
		}
	}
	pfree(sums);
	pfree(scale);
}

static void AppendNumber(StringInfo buf, double v);
static void AppendFloat(StringInfo buf, double v);

/*
 * DatasetInputSchemaJson returns the input_schema document (see the shared
 * interfaces) for the dataset, with statistics from DatasetComputeStats.
 */
char *
DatasetInputSchemaJson(Dataset *ds)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"features\": [");
	for (int j = 0; j < ds->nfeatures; j++)
	{
		FeatureColumn *col = &ds->features[j];
		FeatureStats *st = &col->stats;

		if (j > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, "{\"name\": ");
		escape_json(&buf, col->name);
		appendStringInfo(&buf, ", \"type\": \"%s\"", FeatureKindName(col->kind));
		if (col->kind == FEATURE_CATEGORICAL)
		{
			appendStringInfoString(&buf, ", \"categories\": [");
			for (int c = 0; c < col->vocab->count; c++)
			{
				if (c > 0)
					appendStringInfoString(&buf, ", ");
				escape_json(&buf, col->vocab->names[c]);
			}
			appendStringInfoChar(&buf, ']');
		}
		appendStringInfo(&buf, ", \"stats\": {\"count\": " INT64_FORMAT, st->count);
		if (col->kind != FEATURE_CATEGORICAL)
		{
			appendStringInfoString(&buf, ", \"min\": ");
			AppendFloat(&buf, st->count > 0 ? st->min : NAN);
			appendStringInfoString(&buf, ", \"max\": ");
			AppendFloat(&buf, st->count > 0 ? st->max : NAN);
			appendStringInfoString(&buf, ", \"mean\": ");
			AppendNumber(&buf, st->mean);
		}
		appendStringInfoString(&buf, ", \"null_share\": ");
		AppendNumber(&buf, st->null_share);
		if (col->kind == FEATURE_CATEGORICAL)
		{
			appendStringInfoString(&buf, ", \"category_counts\": {");
			for (int c = 0; c < col->vocab->count; c++)
			{
				if (c > 0)
					appendStringInfoString(&buf, ", ");
				escape_json(&buf, col->vocab->names[c]);
				appendStringInfo(&buf, ": " INT64_FORMAT, st->category_counts[c]);
			}
			appendStringInfoChar(&buf, '}');
		}
		else if (st->nbins > 0)
		{
			appendStringInfoString(&buf, ", \"histogram\": {\"edges\": [");
			for (int b = 0; b <= st->nbins; b++)
			{
				if (b > 0)
					appendStringInfoString(&buf, ", ");
				AppendNumber(&buf, st->edges[b]);
			}
			appendStringInfoString(&buf, "], \"counts\": [");
			for (int b = 0; b < st->nbins; b++)
				appendStringInfo(&buf, "%s" INT64_FORMAT, b > 0 ? ", " : "", st->counts[b]);
			appendStringInfoString(&buf, "]}");
		}
		appendStringInfoString(&buf, "}}");
	}
	appendStringInfoString(&buf, "], \"label\": {\"name\": ");
	escape_json(&buf, ds->label.name);
	appendStringInfo(&buf, ", \"type\": \"%s\"", FeatureKindName(ds->label.kind));
	if (ds->classification)
	{
		appendStringInfoString(&buf, ", \"classes\": [");
		for (int c = 0; c < ds->label.classes->count; c++)
		{
			if (c > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, ds->label.classes->names[c]);
		}
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoString(&buf, "}}");
	return buf.data;
}

/*
 * AppendNumber appends a double as a JSON number in its shortest exact
 * form, or null when it is not finite.
 */
static void
AppendNumber(StringInfo buf, double v)
{
	if (isnan(v) || isinf(v))
		appendStringInfoString(buf, "null");
	else
		appendStringInfoString(buf, float8out_internal(v));
}

/*
 * AppendFloat appends a value of the float32 matrix as a JSON number in the
 * shortest form that reads back as the same float32 (6.981, not
 * 6.980999946594238), or null when it is not finite.
 */
static void
AppendFloat(StringInfo buf, double v)
{
	char		num[FLOAT_SHORTEST_DECIMAL_LEN];

	if (isnan(v) || isinf(v))
		appendStringInfoString(buf, "null");
	else
	{
		float_to_shortest_decimal_buf((float) v, num);
		appendStringInfoString(buf, num);
	}
}

/* ---------------------------------------------------------------------
 * Reading input_schema back
 * ---------------------------------------------------------------------
 */

static JsonbValue *SchemaKey(JsonbContainer *container, const char *key);
static char *SchemaString(JsonbValue *v, const char *what);
static void SchemaCorrupt(const char *what) pg_attribute_noreturn();

/*
 * ModelSchemaFromJsonb reads the feature list, categories and classes of a
 * stored input_schema (see DatasetInputSchemaJson); categorical features get
 * frozen vocabularies.  nfeatures_expected (the booster's feature count, or
 * -1) is checked against the schema.
 */
ModelSchema *
ModelSchemaFromJsonb(Jsonb *schema, int nfeatures_expected)
{
	ModelSchema *ms = palloc0(sizeof(ModelSchema));
	JsonbValue *features;
	JsonbValue *label;

	if (schema == NULL || !JB_ROOT_IS_OBJECT(schema))
		SchemaCorrupt("it is not an object");
	features = SchemaKey(&schema->root, "features");
	if (features == NULL || features->type != jbvBinary ||
		!JsonContainerIsArray(features->val.binary.data))
		SchemaCorrupt("\"features\" is not an array");

	ms->nfeatures = JsonContainerSize(features->val.binary.data);
	if (nfeatures_expected >= 0 && ms->nfeatures != nfeatures_expected)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model input_schema does not match the booster"),
				 errdetail("The schema lists %d features and the booster has %d.",
						   ms->nfeatures, nfeatures_expected)));
	ms->features = palloc0(sizeof(FeatureColumn) * Max(ms->nfeatures, 1));
	for (int j = 0; j < ms->nfeatures; j++)
	{
		JsonbValue *f = getIthJsonbValueFromContainer(features->val.binary.data, j);
		FeatureColumn *col = &ms->features[j];
		JsonbValue *cats;

		if (f == NULL || f->type != jbvBinary || !JsonContainerIsObject(f->val.binary.data))
			SchemaCorrupt("a feature is not an object");
		col->name = SchemaString(SchemaKey(f->val.binary.data, "name"), "feature name");
		if (!FeatureKindFromName(SchemaString(SchemaKey(f->val.binary.data, "type"), "feature type"),
								 &col->kind))
			SchemaCorrupt("a feature type is unknown");
		col->attno = -1;
		if (col->kind != FEATURE_CATEGORICAL)
			continue;
		col->vocab = VocabularyCreate();
		cats = SchemaKey(f->val.binary.data, "categories");
		if (cats == NULL || cats->type != jbvBinary || !JsonContainerIsArray(cats->val.binary.data))
			SchemaCorrupt("a categorical feature has no categories");
		for (int c = 0; c < (int) JsonContainerSize(cats->val.binary.data); c++)
		{
			CHECK_FOR_INTERRUPTS();
			VocabularyLookup(col->vocab,
							 SchemaString(getIthJsonbValueFromContainer(cats->val.binary.data, c),
										  "category"), true);
		}
		col->vocab->frozen = true;
	}

	label = SchemaKey(&schema->root, "label");
	if (label != NULL && label->type == jbvBinary && JsonContainerIsObject(label->val.binary.data))
	{
		JsonbValue *classes = SchemaKey(label->val.binary.data, "classes");
		JsonbValue *name = SchemaKey(label->val.binary.data, "name");

		if (name != NULL && name->type == jbvString)
			ms->label_name = SchemaString(name, "label name");
		if (classes != NULL && classes->type == jbvBinary &&
			JsonContainerIsArray(classes->val.binary.data))
		{
			ms->nclasses = JsonContainerSize(classes->val.binary.data);
			ms->classes = palloc(sizeof(char *) * Max(ms->nclasses, 1));
			for (int c = 0; c < ms->nclasses; c++)
			{
				CHECK_FOR_INTERRUPTS();
				ms->classes[c] = SchemaString(getIthJsonbValueFromContainer(classes->val.binary.data, c),
											  "class");
			}
		}
	}
	return ms;
}

/* SchemaKey returns the value of key in a JSON object, NULL if absent. */
static JsonbValue *
SchemaKey(JsonbContainer *container, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(container, JB_FOBJECT, &k);
}

/*
 * SchemaString returns a JSON scalar as a C string: strings as they are,
 * numbers and booleans in their JSON spelling (so classes [false, true] read
 * as "false", "true").
 */
static char *
SchemaString(JsonbValue *v, const char *what)
{
	if (v != NULL && v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v != NULL && v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	if (v != NULL && v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	SchemaCorrupt(psprintf("a %s is not a string", what));
	return NULL;				/* keep compiler quiet */
}

/* SchemaCorrupt raises the error for an unreadable input_schema. */
static void
SchemaCorrupt(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("model input_schema is malformed"),
			 errdetail("In the stored input_schema, %s.", what),
			 errhint("Register the model again with mlops.train.")));
}

/*
 * FeatureNameList returns the schema's feature names, comma separated: the
 * first MLOPS_LIST_MAX, then how many more.
 */
char *
FeatureNameList(ModelSchema *schema)
{
	MlopsList	list;

	MlopsListInit(&list, MLOPS_LIST_MAX);
	for (int j = 0; j < schema->nfeatures; j++)
		MlopsListAdd(&list, "%s", MlopsClip(schema->features[j].name, MLOPS_ECHO_MAX));
	return MlopsListDone(&list);
}
