/*-------------------------------------------------------------------------
 *
 * model_import.c
 *	  mlops.import_model and mlops.export_model: bringing XGBoost models
 *	  trained elsewhere into the registry, and taking them out again.
 *
 * Import is the one place where bytes from outside the server become a
 * booster, and model bytes are code (see modelcheck.c).  The order of
 * operations is therefore fixed:
 *
 *   1. the size is checked against mlops.max_model_mb;
 *   2. modelcheck decodes the bytes (JSON or UBJSON, never anything else)
 *      with its own bounds-checked readers, validates the XGBoost model
 *      structure and writes canonical JSON -- nothing from the input
 *      reaches libxgboost before this has succeeded;
 *   3. the caller's feature_names and task are checked against what the
 *      model says (count = num_feature; task agrees with the objective);
 *      with feature names, the version gets an input_schema like a trained
 *      one's (without training statistics): each feature numeric (float,
 *      integer for "int", boolean for "i") or, for XGBoost's categorical
 *      type "c", categorical with the categories "0" .. "max" of the codes
 *      its splits use (model_categories.c), and for a classifier the class
 *      codes "0" .. "k-1" as its classes.  Named (jsonb) prediction,
 *      predict_batch and predict_table then work as for trained models;
 *   4. the canonical JSON is loaded into XGBoost once, in a short-lived
 *      memory context whose reset callback frees the booster, with signals
 *      blocked and every return code checked (xgb.c), to be sure it loads;
 *   5. mlops._register_model_version stores the canonical JSON (format
 *      'json'), computes its size and SHA-256 and audits model.register;
 *      it runs as the extension owner (MlopsBeginOwner), with the calling
 *      role recorded as the actor.
 *
 * modelcheck works with malloc (it is pure C and unit-tested alone); its
 * result is copied into palloc'd memory and released in PG_FINALLY, so an
 * ERROR cannot leak it.
 *
 * Export returns the stored bytes of a model reference after FetchModelBytes
 * has verified their SHA-256: the canonical JSON of imported models, the
 * JSON libxgboost wrote for trained ones.  Both load in any XGBoost binding.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "registry/model_categories.h"
#include "registry/registry.h"
#include "xgb/xgb.h"

/*
 * Most categories an imported categorical feature may list ("0" .. "max"),
 * and all of its categorical features together; a feature over either
 * limit is served as an integer code.
 */
#define IMPORT_MAX_CATEGORIES 65536
#define IMPORT_MAX_TOTAL_CATEGORIES (16 * IMPORT_MAX_CATEGORIES)

/* what import keeps from modelcheck's result, in palloc'd memory */
typedef struct CheckedModel
{
	bytea	   *canonical;		/* canonical JSON as bytea */
	ModelCheckFormat format;
	char	   *objective;
	char	   *booster;
	char	   *task;
	int64		num_feature;
	int64		num_class;
	int			num_feature_names;
	char	  **feature_names;	/* the model's own names, or NULL */
	char	  **feature_types;	/* XGBoost's types ("q", "c" ...), or NULL */
	int64	   *category_max;	/* per feature, -1 if none; NULL if no "c" */
} CheckedModel;

static void CheckModelBytes(const char *name, bytea *model, CheckedModel *out);
static void ReportModelCheckError(ModelCheckStatus status, ModelCheckFormat format,
								  const char *name, size_t len, const char *detail);
static ArrayType *ChooseFeatureNames(ArrayType *given, const CheckedModel *model);
static const char *ChooseTask(const char *given, const CheckedModel *model);
static bool FindRepeatedName(char **names, int n, int *first, int *second);
static int	CompareNameIndexes(const void *a, const void *b);
static void CopyFeatureTypes(CheckedModel *out, const ModelCheckResult *result);
static char *ImportedInputSchema(const CheckedModel *model, ArrayType *feature_names,
								 const char *task);
static void TryLoadModel(const CheckedModel *model);
static int32 RegisterImportedModel(text *name, const CheckedModel *model, ArrayType *feature_names,
								   const char *task, const char *input_schema,
								   Datum metrics, Datum params, Datum tags);

PG_FUNCTION_INFO_V1(mlops_import_model);
PG_FUNCTION_INFO_V1(mlops_export_model);

/*
 * mlops_import_model validates an XGBoost model (JSON or UBJSON), checks
 * that XGBoost loads its canonical JSON, and registers it as a new version
 * of the named model, returning the version number.
 *
 * SQL: mlops.import_model(name text, model bytea, feature_names text[],
 *      task text, metrics jsonb, params jsonb, tags jsonb) RETURNS integer
 */
Datum
mlops_import_model(PG_FUNCTION_ARGS)
{
	text	   *name;
	char	   *name_str;
	bytea	   *model;
	ArrayType  *given_names = PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2);
	char	   *given_task = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	CheckedModel checked;
	ArrayType  *feature_names;
	const char *task;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model bytes must not be null"),
				 errhint("Pass the contents of a file written by XGBoost's save_model, e.g. pg_read_binary_file('model.json').")));
	name = PG_GETARG_TEXT_PP(0);
	name_str = MlopsClip(text_to_cstring(name), MLOPS_ECHO_MAX);	/* for messages */
	model = PG_GETARG_BYTEA_PP(1);

	CheckModelBytes(name_str, model, &checked);
	feature_names = ChooseFeatureNames(given_names, &checked);
	task = ChooseTask(given_task, &checked);
	TryLoadModel(&checked);

	PG_RETURN_INT32(RegisterImportedModel(name, &checked, feature_names, task,
										  ImportedInputSchema(&checked, feature_names, task),
										  PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4),
										  PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5),
										  PG_ARGISNULL(6) ? (Datum) 0 : PG_GETARG_DATUM(6)));
}

/*
 * mlops_export_model returns the stored booster of a model reference,
 * after verifying its checksum.
 *
 * SQL: mlops.export_model(model text) RETURNS bytea
 */
Datum
mlops_export_model(PG_FUNCTION_ARGS)
{
	ResolvedModel resolved;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model reference must not be null"),
				 errhint("Use 'name', 'name/3', 'name/Staging', 'name/latest' or 'name@alias'.")));
	ResolveModelRef(text_to_cstring(PG_GETARG_TEXT_PP(0)), &resolved);
	PG_RETURN_BYTEA_P(FetchModelBytes(resolved.model_id, resolved.version));
}

/*
 * CheckModelBytes runs modelcheck over the bytes and copies what import
 * needs into palloc'd memory; any problem is an ERROR.
 */
static void
CheckModelBytes(const char *name, bytea *model, CheckedModel *out)
{
	const unsigned char *bytes = (const unsigned char *) VARDATA_ANY(model);
	size_t		len = VARSIZE_ANY_EXHDR(model);
	ModelCheckLimits limits;
	ModelCheckResult result;
	ModelCheckStatus status;
	char		err[512];

	memset(out, 0, sizeof(*out));
	ModelCheckDefaultLimits(&limits);
	limits.max_bytes = (size_t) mlops_max_model_mb * 1024 * 1024;
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model bytes must not be empty"),
				 errhint("Pass the contents of a file written by XGBoost's save_model, e.g. pg_read_binary_file('model.json').")));

	err[0] = '\0';
	status = ModelCheckModel(bytes, len, &limits, &result, err, sizeof(err));
	if (status != MODELCHECK_OK)
		ReportModelCheckError(status, ModelCheckDetectFormat(bytes, len), name, len, err);

	PG_TRY();
	{
		out->canonical = (bytea *) palloc(VARHDRSZ + result.canonical_len);
		SET_VARSIZE(out->canonical, VARHDRSZ + result.canonical_len);
		memcpy(VARDATA(out->canonical), result.canonical, result.canonical_len);
		out->format = result.format;
		out->objective = pstrdup(result.info.objective);
		out->booster = pstrdup(result.info.booster);
		out->task = pstrdup(result.info.task);
		out->num_feature = result.info.num_feature;
		out->num_class = result.info.num_class;
		out->num_feature_names = result.info.num_feature_names;
		if (result.info.num_feature_names > 0)
		{
			out->feature_names = palloc(sizeof(char *) * result.info.num_feature_names);
			for (int i = 0; i < result.info.num_feature_names; i++)
				out->feature_names[i] = pstrdup(result.info.feature_names[i]);
		}
		CopyFeatureTypes(out, &result);
	}
	PG_FINALLY();
	{
		ModelCheckResultFree(&result);
	}
	PG_END_TRY();
}

/*
 * CopyFeatureTypes copies the model's feature types and, when one of them
 * is categorical ("c"), the largest category code each feature's splits
 * use.  modelcheck has checked that there are num_feature types.
 */
static void
CopyFeatureTypes(CheckedModel *out, const ModelCheckResult *result)
{
	bool		categorical = false;

	if (result->info.num_feature_types != out->num_feature)
		return;
	out->feature_types = palloc(sizeof(char *) * out->num_feature);
	for (int64 i = 0; i < out->num_feature; i++)
	{
		CHECK_FOR_INTERRUPTS();
		out->feature_types[i] = pstrdup(result->info.feature_types[i]);
		categorical |= strcmp(out->feature_types[i], "c") == 0;
	}
	if (!categorical)
		return;
	out->category_max = palloc_extended(sizeof(int64) * out->num_feature, MCXT_ALLOC_HUGE);
	(void) ModelCategoryMax(result->model, out->num_feature, (int64_t *) out->category_max);
}

/*
 * ImportedInputSchema returns the input_schema of an imported model, or
 * NULL when it has no feature names: one entry per feature with its name
 * and type (float, integer for XGBoost's "int", boolean for "i",
 * categorical with categories "0" .. "max" for "c"), and for a classifier
 * a label whose classes are the codes "0" .. "k-1" XGBoost predicts.  A
 * categorical feature beyond the category limits becomes an integer code,
 * which one NOTICE reports.
 */
static char *
ImportedInputSchema(const CheckedModel *model, ArrayType *feature_names, const char *task)
{
	StringInfoData buf;
	StringInfoData coded;
	Datum	   *names;
	bool	   *nulls;
	int			n;
	int			ncoded = 0;
	int64		budget = IMPORT_MAX_TOTAL_CATEGORIES;

	if (feature_names == NULL)
		return NULL;
	deconstruct_array(feature_names, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &n);
	initStringInfo(&buf);
	initStringInfo(&coded);
	appendStringInfoString(&buf, "{\"features\": [");
	for (int j = 0; j < n; j++)
	{
		const char *type = model->feature_types ? model->feature_types[j] : "q";
		char	   *name = TextDatumGetCString(names[j]);

		CHECK_FOR_INTERRUPTS();
		appendStringInfoString(&buf, j > 0 ? ", {\"name\": " : "{\"name\": ");
		escape_json(&buf, name);
		if (strcmp(type, "c") == 0 &&
			(model->category_max[j] >= IMPORT_MAX_CATEGORIES || model->category_max[j] >= budget))
		{
			if (ncoded++ < 5)
				appendStringInfo(&coded, "%s\"%s\"", ncoded > 1 ? ", " : "", MlopsClip(name, MLOPS_ECHO_MAX));
			type = "int";
		}
		if (strcmp(type, "c") == 0)
		{
			budget -= model->category_max[j] + 1;
			appendStringInfoString(&buf, ", \"type\": \"categorical\", \"categories\": [");
			for (int64 c = 0; c <= model->category_max[j]; c++)
				appendStringInfo(&buf, "%s\"" INT64_FORMAT "\"", c > 0 ? ", " : "", c);
			appendStringInfoString(&buf, "]}");
		}
		else
			appendStringInfo(&buf, ", \"type\": \"%s\"}",
							 strcmp(type, "int") == 0 ? "integer" :
							 strcmp(type, "i") == 0 ? "boolean" : "float");
	}
	appendStringInfoChar(&buf, ']');
	if (strcmp(task, "classification") == 0)
	{
		int64		k = Max(model->num_class, 2);

		appendStringInfoString(&buf, ", \"label\": {\"classes\": [");
		for (int64 c = 0; c < k; c++)
			appendStringInfo(&buf, "%s\"" INT64_FORMAT "\"", c > 0 ? ", " : "", c);
		appendStringInfoString(&buf, "]}");
	}
	appendStringInfoChar(&buf, '}');
	if (ncoded > 0)
		ereport(NOTICE,
				(errmsg_plural("%d categorical feature is imported as an integer code",
							   "%d categorical features are imported as integer codes",
							   ncoded, ncoded),
				 errdetail("The splits of %s%s use more than %d category codes, or the categorical features more than %d together.",
						   coded.data, ncoded > 5 ? " and others" : "",
						   IMPORT_MAX_CATEGORIES, IMPORT_MAX_TOTAL_CATEGORIES),
				 errhint("Pass such a feature to mlops.predict as its category code.")));
	return buf.data;
}

/*
 * ReportModelCheckError turns a modelcheck failure into an ERROR with the
 * SQLSTATE a client can act on and modelcheck's message as DETAIL.
 */
static void
ReportModelCheckError(ModelCheckStatus status, ModelCheckFormat format, const char *name,
					  size_t len, const char *detail)
{
	switch (status)
	{
		case MODELCHECK_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("model \"%s\" is too large to import", name),
					 errdetail("Checking it stopped: %s.", detail),
					 errhint("A superuser can raise mlops.max_model_mb (now %dMB).",
							 mlops_max_model_mb)));
			break;
		case MODELCHECK_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while checking model \"%s\"", name),
					 errdetail("The model is %zu bytes; decoding it needs several times that.", len)));
			break;
		case MODELCHECK_BAD_FORMAT:
			if (format == MODELCHECK_FORMAT_LEGACY_BINARY)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("model \"%s\" is in XGBoost's deprecated binary format", name),
						 errdetail("Only JSON and UBJSON models can be imported."),
						 errhint("Load it in XGBoost and save it again with booster.save_model(\"model.json\").")));
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("model \"%s\" is not a readable XGBoost model", name),
					 errdetail("Read as %s: %s.", ModelCheckFormatName(format), detail),
					 errhint("Import the file written by XGBoost's save_model (\".json\" or \".ubj\") unchanged.")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("model \"%s\" is not a valid XGBoost model", name),
					 errdetail("The structural check failed: %s.", detail),
					 errhint("Models must be saved by XGBoost 1.x (JSON or UBJSON) and are checked for consistency before XGBoost loads them.")));
	}
}

/*
 * ChooseFeatureNames returns the feature names to register: the caller's
 * (one per model feature, none null or repeated, and equal to the model's
 * own if it has some), else the model's own, else NULL.
 */
static ArrayType *
ChooseFeatureNames(ArrayType *given, const CheckedModel *model)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **strs;
	int			n;
	int			first = -1;
	int			second = -1;

	if (given == NULL)
	{
		if (model->num_feature_names == 0)
			return NULL;
		elems = palloc(sizeof(Datum) * model->num_feature_names);
		for (int i = 0; i < model->num_feature_names; i++)
			elems[i] = CStringGetTextDatum(model->feature_names[i]);
		return construct_array(elems, model->num_feature_names, TEXTOID, -1, false, TYPALIGN_INT);
	}

	if (ARR_NDIM(given) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature_names must be a one-dimensional array")));
	deconstruct_array(given, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n != model->num_feature)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature_names has %d names but the model has %lld features",
						n, (long long) model->num_feature),
				 errhint("Pass one name per model feature, in the model's column order.")));
	strs = palloc_extended(sizeof(char *) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("feature_names must not contain nulls"),
					 errdetail("Element %d is null.", i + 1)));
		strs[i] = TextDatumGetCString(elems[i]);
		if (strs[i][0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature_names must not contain empty names"),
					 errdetail("Element %d is empty.", i + 1)));
		if (model->num_feature_names > 0 && strcmp(strs[i], model->feature_names[i]) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature_names disagrees with the names stored in the model"),
					 errdetail("Feature %d is \"%s\" in the model but \"%s\" in feature_names.",
							   i + 1, MlopsClip(model->feature_names[i], MLOPS_ECHO_MAX),
							   MlopsClip(strs[i], MLOPS_ECHO_MAX)),
					 errhint("Omit feature_names to use the model's own names.")));
	}
	if (FindRepeatedName(strs, n, &first, &second))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature name \"%s\" appears more than once", MlopsClip(strs[second], MLOPS_ECHO_MAX)),
				 errdetail("Elements %d and %d are equal.", first + 1, second + 1)));
	return given;
}

/* names being sorted by FindRepeatedName */
static char **sort_names;

/*
 * FindRepeatedName finds the first element of names (the one with the
 * lowest index) equal to an earlier one, and that earlier one's index, in
 * O(n log n): a model may have a million features.  Returns false when all
 * are distinct.
 */
static bool
FindRepeatedName(char **names, int n, int *first, int *second)
{
	int		   *order = palloc_extended(sizeof(int) * Max(n, 1), MCXT_ALLOC_HUGE);
	bool		found = false;

	*first = *second = -1;
	for (int i = 0; i < n; i++)
		order[i] = i;
	sort_names = names;
	qsort(order, n, sizeof(int), CompareNameIndexes);
	/* equal names are adjacent, each run by index: its first two elements are a candidate */
	for (int k = 1; k < n; k++)
	{
		CHECK_FOR_INTERRUPTS();
		if (strcmp(names[order[k - 1]], names[order[k]]) == 0 &&
			(k < 2 || strcmp(names[order[k - 2]], names[order[k]]) != 0) &&
			(!found || order[k] < *second))
		{
			*first = order[k - 1];
			*second = order[k];
			found = true;
		}
	}
	pfree(order);
	return found;
}

/* CompareNameIndexes orders indexes into sort_names by name, then by index. */
static int
CompareNameIndexes(const void *a, const void *b)
{
	int			x = *(const int *) a;
	int			y = *(const int *) b;
	int			c = strcmp(sort_names[x], sort_names[y]);

	return c != 0 ? c : (x > y) - (x < y);
}

/*
 * ChooseTask returns the task to register: the one the objective implies;
 * a task given by the caller must agree with it.
 */
static const char *
ChooseTask(const char *given, const CheckedModel *model)
{
	if (given != NULL && strcmp(given, model->task) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("task \"%s\" does not match the model's objective %s",
						MlopsClip(given, MLOPS_ECHO_MAX), model->objective),
				 errdetail("Objective %s is a %s objective.", model->objective, model->task),
				 errhint("Omit task; it is taken from the model's objective.")));
	return model->task;
}

/*
 * TryLoadModel loads the validated canonical JSON into XGBoost once, to be
 * sure the library accepts it, and frees the booster again.  The booster
 * lives in a private memory context whose reset callback frees it, so an
 * ERROR from XGBoost frees it too.
 */
static void
TryLoadModel(const CheckedModel *model)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "mlops import_model load",
											  ALLOCSET_SMALL_SIZES);

	(void) XgbBoosterLoadJson(cxt, VARDATA(model->canonical), VARSIZE(model->canonical) - VARHDRSZ);
	MemoryContextDelete(cxt);
}

/*
 * RegisterImportedModel stores the canonical JSON as a new version through
 * mlops._register_model_version, as the extension owner, and returns the
 * version.  The model's objective and booster are added to params unless
 * the caller gave them.  input_schema is JSON text or NULL; metrics, params
 * and tags are (Datum) 0 when null.
 */
static int32
RegisterImportedModel(text *name, const CheckedModel *model, ArrayType *feature_names,
					  const char *task, const char *input_schema,
					  Datum metrics, Datum params, Datum tags)
{
	Oid			argtypes[11] = {TEXTOID, BYTEAOID, TEXTOID, TEXTARRAYOID, JSONBOID, JSONBOID,
	JSONBOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[11];
	char		nulls[11];
	MlopsOwnerSave save;
	int32		version;
	bool		isnull;
	int			rc;

	memset(nulls, ' ', sizeof(nulls));
	args[0] = PointerGetDatum(name);
	args[1] = PointerGetDatum(model->canonical);
	args[2] = CStringGetTextDatum(task);
	args[3] = PointerGetDatum(feature_names);
	nulls[3] = feature_names == NULL ? 'n' : ' ';
	args[4] = metrics;
	nulls[4] = metrics == (Datum) 0 ? 'n' : ' ';
	args[5] = params;
	nulls[5] = params == (Datum) 0 ? 'n' : ' ';
	args[6] = tags;
	nulls[6] = tags == (Datum) 0 ? 'n' : ' ';
	args[7] = CStringGetTextDatum(model->objective);
	args[8] = CStringGetTextDatum(model->booster);
	args[9] = CStringGetTextDatum(ModelCheckFormatName(model->format));
	args[10] = input_schema ? CStringGetTextDatum(input_schema) : (Datum) 0;
	nulls[10] = input_schema ? ' ' : 'n';

	MlopsBeginOwner(&save);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args("SELECT mlops._register_model_version($1, $2, NULL, $3, 'xgboost', $4,"
							   "  $11::pg_catalog.jsonb,"
							   "  COALESCE($5, '{}'::jsonb),"
							   "  CASE WHEN pg_catalog.jsonb_typeof(COALESCE($6, '{}'::jsonb)) OPERATOR(pg_catalog.=) 'object'"
							   "       THEN pg_catalog.jsonb_build_object('objective', $8, 'booster', $9)"
							   "            OPERATOR(pg_catalog.||) COALESCE($6, '{}'::jsonb)"
							   "       ELSE $6 END,"
							   "  CASE WHEN pg_catalog.jsonb_typeof(COALESCE($7, '{}'::jsonb)) OPERATOR(pg_catalog.=) 'object'"
							   "       THEN pg_catalog.jsonb_build_object('imported_from', $10)"
							   "            OPERATOR(pg_catalog.||) COALESCE($7, '{}'::jsonb)"
							   "       ELSE $7 END)",
							   11, argtypes, args, nulls, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "registering the imported model failed: %s", SPI_result_code_string(rc));
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		elog(ERROR, "registering the imported model returned no version");
	SPI_finish();
	MlopsEndOwner(&save);
	return version;
}
