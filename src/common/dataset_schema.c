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
 * model (set_drift_reference_from_model) use exactly these.  The same pass
 * hashes the training matrix and labels as trained into the data
 * fingerprint (SHA-256, byte order in StatsHashRow), stored under "data".
 * DatasetInputSchemaJson writes the document: features in training order
 * with their type, categories (code i = categories[i]) and statistics, and
 * the label with its classes.  ModelSchemaFromJsonb reads a stored document
 * back into FeatureColumns with frozen vocabularies, checking every field it
 * uses, since the document may have been imported or edited.
 */
#include "postgres.h"

#include <math.h>

#include "common/cryptohash.h"
#include "common/sha2.h"
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
 * The statistics of the training rows, gathered in two passes (extremes,
 * then histograms), and the data fingerprint, hashed in the first pass.
 * The rows may come from the matrix (DatasetComputeStats) or batch by batch
 * from the spilled source (DatasetComputeStatsSpilled); either way they
 * reach StatsRows1 and StatsRows2 as runs of row-major rows.
 *
 * Both passes are written for speed, since they are serial work before
 * XGBoost starts: the first keeps its counts, sums and extremes in compact
 * per-feature arrays (not in the scattered FeatureStats) and copies each row
 * into the fingerprint whole; the second bins a block of rows one feature
 * at a time, counting the values at or above each inner edge with one
 * compare-and-add pass per edge (vectorisable, no per-value branches or
 * dependent increments).  A value's bin is the number of inner edges <= it,
 * which is the bin "edges[b] <= v < edges[b + 1], the last one closed" since
 * the edges ascend and every value lies within [min, max].  The edges are
 * doubles and the values floats, so each edge is compared through the
 * smallest float >= it (StatsFloatCeil), which gives the same answer as
 * the double comparison for every float.
 */
typedef struct StatsAcc
{
	int64	   *count;			/* non-missing values, per feature */
	double	   *sums;
	float	   *min;
	float	   *max;
	int64	  **category_counts;	/* per feature, NULL if numeric */
	float	   *thresholds;		/* per feature, its inner edges as floats */
	float	   *block;			/* STATS_BLOCK values of one feature */
	int64		nrows;
	pg_cryptohash_ctx *hash;
	uint8	   *hashbuf;		/* rows and labels as hashed, not yet hashed */
	size_t		hashlen;		/* bytes in hashbuf */
	size_t		hashcap;		/* its size: a multiple of a row's bytes */
} StatsAcc;

/*
 * Rows are hashed in batches of about this many bytes: one SHA-256 update
 * per row cost more than the hashing itself.
 */
#define STATS_HASH_BATCH 65536

/* Rows per block of the second pass, and per gathered run of the first */
#define STATS_BLOCK 256

static void StatsBegin(Dataset *ds, StatsAcc *acc);
static void StatsRows1(Dataset *ds, StatsAcc *acc, const float *x, const float *y, int64 n);
static void StatsHashRow(StatsAcc *acc, const float *row, int nf, float label);
static void StatsMiddle(Dataset *ds, StatsAcc *acc);
static float StatsFloatCeil(double edge);
static void StatsRows2(Dataset *ds, StatsAcc *acc, const float *x, int64 n);
static void StatsBinBlock(FeatureStats *st, const float *thresholds, const float *v);
static void StatsEnd(Dataset *ds, StatsAcc *acc);
static void StatsHashFlush(StatsAcc *acc);

/*
 * DatasetComputeStats fills every feature's statistics from the given rows
 * (the training rows): count, min, max, mean and null share, and a
 * histogram of equal-width bins for numeric features or counts per category
 * for categorical ones; and the dataset's fingerprint (see StatsHashRow).
 * The rows are gathered STATS_BLOCK at a time into a run for each pass.
 */
void
DatasetComputeStats(Dataset *ds, const int64 *rows, int64 nrows)
{
	StatsAcc	acc;
	int			nf = ds->nfeatures;
	float	   *x = palloc(sizeof(float) * nf * STATS_BLOCK);
	float	   *y = palloc(sizeof(float) * STATS_BLOCK);

	StatsBegin(ds, &acc);
	for (int pass = 1; pass <= 2; pass++)
	{
		for (int64 start = 0; start < nrows; start += STATS_BLOCK)
		{
			int			m = (int) Min(STATS_BLOCK, nrows - start);

			CHECK_FOR_INTERRUPTS();
			for (int i = 0; i < m; i++)
			{
				memcpy(x + i * nf, ds->x + rows[start + i] * nf, sizeof(float) * nf);
				y[i] = ds->y[rows[start + i]];
			}
			if (pass == 1)
				StatsRows1(ds, &acc, x, y, m);
			else
				StatsRows2(ds, &acc, x, m);
		}
		if (pass == 1)
			StatsMiddle(ds, &acc);
	}
	StatsEnd(ds, &acc);
	pfree(x);
	pfree(y);
}

/*
 * DatasetComputeStatsSpilled does what DatasetComputeStats does for a
 * dataset read with DatasetReadSpilled, over its training rows (is_test
 * false, or all rows when is_test is NULL), reading the spilled rows
 * twice.
 */
void
DatasetComputeStatsSpilled(Dataset *ds, const bool *is_test)
{
	StatsAcc	acc;
	DatasetCursor *cur = DatasetCursorOpen(ds, is_test, false);
	const float *x;
	const float *y;
	int64		n;

	StatsBegin(ds, &acc);
	while ((n = DatasetCursorNext(cur, &x, &y)) > 0)
		StatsRows1(ds, &acc, x, y, n);
	StatsMiddle(ds, &acc);
	DatasetCursorRewind(cur);
	while ((n = DatasetCursorNext(cur, &x, &y)) > 0)
		StatsRows2(ds, &acc, x, n);
	StatsEnd(ds, &acc);
	DatasetCursorClose(cur);
}

/* StatsBegin starts the statistics and the fingerprint. */
static void
StatsBegin(Dataset *ds, StatsAcc *acc)
{
	int			nf = ds->nfeatures;

	acc->count = palloc0(sizeof(int64) * nf);
	acc->sums = palloc0(sizeof(double) * nf);
	acc->min = palloc(sizeof(float) * nf);
	acc->max = palloc(sizeof(float) * nf);
	acc->category_counts = palloc0(sizeof(int64 *) * nf);
	acc->thresholds = palloc0(sizeof(float) * nf * DATASET_HISTOGRAM_BINS);
	acc->block = palloc(sizeof(float) * STATS_BLOCK);
	acc->nrows = 0;
	acc->hashcap = sizeof(uint32) * (nf + 1) * Max(1, STATS_HASH_BATCH / (sizeof(uint32) * (nf + 1)));
	acc->hashbuf = palloc(acc->hashcap);
	acc->hashlen = 0;
	acc->hash = pg_cryptohash_create(PG_SHA256);
	if (acc->hash == NULL || pg_cryptohash_init(acc->hash) < 0)
		elog(ERROR, "could not start the data fingerprint: %s", pg_cryptohash_error(acc->hash));
	for (int j = 0; j < nf; j++)
	{
		FeatureColumn *col = &ds->features[j];
		FeatureStats *st = &col->stats;

		memset(st, 0, sizeof(FeatureStats));
		acc->min[j] = INFINITY;
		acc->max[j] = -INFINITY;
		if (col->kind == FEATURE_CATEGORICAL)
			st->category_counts = palloc_extended(sizeof(int64) * Max(col->vocab->count, 1),
												   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		acc->category_counts[j] = st->category_counts;
	}
}

/*
 * StatsRows1 adds n consecutive training rows x (row-major) with their
 * labels y to the counts, sums and extremes, and to the fingerprint.  Each
 * feature's sum is added to in row order, as before, so means do not change
 * with the batching.
 */
static void
StatsRows1(Dataset *ds, StatsAcc *acc, const float *x, const float *y, int64 n)
{
	int			nf = ds->nfeatures;

	for (int64 i = 0; i < n; i++)
	{
		const float *row = x + i * nf;

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		StatsHashRow(acc, row, nf, y[i]);
		for (int j = 0; j < nf; j++)
		{
			float		v = row[j];

			if (isnan(v))
				continue;
			acc->count[j]++;
			acc->sums[j] += v;
			if (v < acc->min[j])
				acc->min[j] = v;
			if (v > acc->max[j])
				acc->max[j] = v;
			if (acc->category_counts[j])
				acc->category_counts[j][(int) v]++;
		}
	}
	acc->nrows += n;
}

/*
 * StatsHashRow appends one row to the fingerprint's buffer: its features
 * then its label (class code or value), each as IEEE-754 float32
 * little-endian, every NaN (missing) written as 0x7FC00000
 * (docs/training.md, "Data fingerprint").
 */
static void
StatsHashRow(StatsAcc *acc, const float *row, int nf, float label)
{
	uint8	   *out;

	if (acc->hashlen == acc->hashcap)
		StatsHashFlush(acc);
	out = acc->hashbuf + acc->hashlen;
	memcpy(out, row, sizeof(float) * nf);
	memcpy(out + sizeof(float) * nf, &label, sizeof(float));
	for (int j = 0; j <= nf; j++)
	{
		uint32		bits;

		memcpy(&bits, out + 4 * j, sizeof(bits));
		if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x007FFFFF) != 0)
			bits = 0x7FC00000;	/* any NaN */
#ifndef WORDS_BIGENDIAN
		else
			continue;
#endif
		out[4 * j] = (uint8) bits;
		out[4 * j + 1] = (uint8) (bits >> 8);
		out[4 * j + 2] = (uint8) (bits >> 16);
		out[4 * j + 3] = (uint8) (bits >> 24);
	}
	acc->hashlen += sizeof(uint32) * (nf + 1);
}

/* StatsMiddle turns the first pass into means, null shares and bin edges. */
static void
StatsMiddle(Dataset *ds, StatsAcc *acc)
{
	int64		nrows = acc->nrows;

	for (int j = 0; j < ds->nfeatures; j++)
	{
		FeatureStats *st = &ds->features[j].stats;

		st->count = acc->count[j];
		st->min = acc->min[j];
		st->max = acc->max[j];
		st->null_share = nrows > 0 ? (double) (nrows - st->count) / nrows : 0;
		st->mean = st->count > 0 ? acc->sums[j] / st->count : NAN;
		if (ds->features[j].kind == FEATURE_CATEGORICAL || st->count == 0)
			continue;
		st->nbins = (st->max > st->min) ? DATASET_HISTOGRAM_BINS : 1;
		for (int b = 0; b <= st->nbins; b++)
			st->edges[b] = st->min + (st->max - st->min) * b / st->nbins;
		st->edges[st->nbins] = st->max;
		for (int b = 1; b < st->nbins; b++)
			acc->thresholds[j * DATASET_HISTOGRAM_BINS + b] = StatsFloatCeil(st->edges[b]);
	}
}

/*
 * StatsFloatCeil returns the smallest float >= edge (a finite double within
 * the float range), so that for every float v, v >= result exactly when
 * (double) v >= edge.
 */
static float
StatsFloatCeil(double edge)
{
	float		f = (float) edge;

	if ((double) f < edge)
		f = nextafterf(f, INFINITY);
	return f;
}

/*
 * StatsRows2 adds n consecutive training rows x (row-major) to the
 * histograms, a block of STATS_BLOCK rows and one feature at a time.
 */
static void
StatsRows2(Dataset *ds, StatsAcc *acc, const float *x, int64 n)
{
	int			nf = ds->nfeatures;

	for (int64 start = 0; start < n; start += STATS_BLOCK)
	{
		int			m = (int) Min(STATS_BLOCK, n - start);
		const float *rows = x + start * nf;

		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < nf; j++)
		{
			FeatureStats *st = &ds->features[j].stats;

			if (st->nbins == 0)
				continue;
			for (int i = 0; i < m; i++)
				acc->block[i] = rows[i * nf + j];
			for (int i = m; i < STATS_BLOCK; i++)
				acc->block[i] = NAN;
			StatsBinBlock(st, acc->thresholds + j * DATASET_HISTOGRAM_BINS, acc->block);
		}
	}
}

/*
 * StatsBinBlock adds the STATS_BLOCK values v of one feature to its
 * histogram: NaNs (missing values, and the padding of a last short block)
 * are left out, and a value's bin is the number of inner edges <= it,
 * counted one edge (threshold) at a time over the block.  The fixed trip
 * count lets the compiler vectorize the counting.
 */
static void
StatsBinBlock(FeatureStats *st, const float *thresholds, const float *v)
{
	int			ge[DATASET_HISTOGRAM_BINS + 1];
	int			valid = 0;

	for (int i = 0; i < STATS_BLOCK; i++)
		valid += v[i] == v[i];
	for (int b = 1; b < st->nbins; b++)
	{
		float		t = thresholds[b];
		int			c = 0;

		for (int i = 0; i < STATS_BLOCK; i++)
			c += v[i] >= t;
		ge[b] = c;
	}
	ge[0] = valid;
	ge[st->nbins] = 0;
	for (int b = 0; b < st->nbins; b++)
		st->counts[b] += ge[b] - ge[b + 1];
}

/* StatsEnd finishes the fingerprint and frees the accumulator. */
static void
StatsEnd(Dataset *ds, StatsAcc *acc)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	StatsHashFlush(acc);
	if (pg_cryptohash_final(acc->hash, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not finish the data fingerprint: %s", pg_cryptohash_error(acc->hash));
	pg_cryptohash_free(acc->hash);
	hex_encode((const char *) digest, sizeof(digest), ds->data_sha256);
	ds->data_sha256[2 * PG_SHA256_DIGEST_LENGTH] = '\0';
	ds->data_rows = acc->nrows;
	pfree(acc->count);
	pfree(acc->sums);
	pfree(acc->min);
	pfree(acc->max);
	pfree(acc->category_counts);
	pfree(acc->thresholds);
	pfree(acc->block);
	pfree(acc->hashbuf);
}

/*
 * StatsHashFlush adds the rows gathered in the accumulator's buffer to the
 * fingerprint (SHA-256 of the concatenation: batching changes nothing but
 * the number of calls).
 */
static void
StatsHashFlush(StatsAcc *acc)
{
	if (acc->hashlen > 0 && pg_cryptohash_update(acc->hash, acc->hashbuf, acc->hashlen) < 0)
		elog(ERROR, "could not hash the data fingerprint: %s", pg_cryptohash_error(acc->hash));
	acc->hashlen = 0;
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
	appendStringInfoChar(&buf, '}');
	if (ds->data_sha256[0] != '\0')
		appendStringInfo(&buf, ", \"data\": {\"rows\": " INT64_FORMAT ", \"columns\": %d, "
						 "\"sha256\": \"%s\", \"layout\": \"float32le-features-label\"}",
						 ds->data_rows, ds->nfeatures, ds->data_sha256);
	appendStringInfoChar(&buf, '}');
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
