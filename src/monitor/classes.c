/*-------------------------------------------------------------------------
 *
 * classes.c
 *	  The classes a classification monitor judges labels by.
 *
 * A classification monitor records class labels as codes, the way
 * mlops.predict returns them: code c is the c-th entry of the model
 * version's input_schema.label.classes.  A monitor learns those classes
 * from its model's current version (the Production version, else the
 * newest) when it is created and whenever that version changes
 * (mlops._monitor_classes in sql/install/80_monitoring.sql keeps
 * mlops.monitors.classes, classes_version and classes_version_created_at
 * and calls mlops._model_classes here, which reads the schema with
 * ModelSchemaFromJsonb, as serving does).  Once the classes are known:
 *
 *	- record_prediction and record_actual refuse a label that is not one of
 *	  the codes 0 .. k-1, and a probability unless the model is binary
 *	  (mlops._check_labels);
 *	- model_metrics refuses a window holding such a label (recorded for
 *	  another version) and declares the k classes to the accumulator, so
 *	  the average (binary for two classes, macro over all k otherwise) is
 *	  the model's, not an accident of the labels seen.
 *
 * A monitor whose model is not registered, or whose version records no
 * classes (a regression, an imported model without a label schema),
 * checks nothing beyond mlops._check_observation, as before.
 *
 * The error names the offending label and lists the codes (every code up
 * to MAX_LISTED_CODES classes, else the range) and, in its detail, the
 * labels they stand for (at most MAX_LISTED_NAMES, each clipped to
 * MAX_NAME_BYTES), so it stays short whatever the model.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "common/common.h"
#include "monitor/monitor.h"

/* Bounds of the error message (see the header comment) */
#define MAX_LISTED_CODES 10
#define MAX_LISTED_NAMES 6
#define MAX_NAME_BYTES 24

PG_FUNCTION_INFO_V1(mlops_model_classes);
PG_FUNCTION_INFO_V1(mlops_check_labels);

static char *CodeList(const MonitorClasses *mc);
static char *NameList(const MonitorClasses *mc);

/*
 * mlops_model_classes implements mlops._model_classes(input_schema): the
 * class labels of a model version's input schema in code order, NULL when
 * the schema lists none (a regression).
 */
Datum
mlops_model_classes(PG_FUNCTION_ARGS)
{
	ModelSchema *schema = ModelSchemaFromJsonb(PG_GETARG_JSONB_P(0), -1);
	Datum	   *elems;

	if (schema->nclasses == 0)
		PG_RETURN_NULL();
	elems = palloc(sizeof(Datum) * schema->nclasses);
	for (int c = 0; c < schema->nclasses; c++)
		elems[c] = CStringGetTextDatum(schema->classes[c]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, schema->nclasses, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * mlops_check_labels implements mlops._check_labels(model, version,
 * classes, prediction, actual): it raises an error unless the prediction
 * and the actual value (each skipped when NULL) are labels of the model's
 * classes.  NULL classes check nothing.
 */
Datum
mlops_check_labels(PG_FUNCTION_ARGS)
{
	MonitorClasses mc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		PG_RETURN_VOID();
	MonitorClassesInit(&mc, text_to_cstring(PG_GETARG_TEXT_PP(0)),
					   PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1), PG_GETARG_ARRAYTYPE_P(2));
	if (!PG_ARGISNULL(3))
		MonitorCheckLabel(&mc, true, PG_GETARG_FLOAT8(3), NULL);
	if (!PG_ARGISNULL(4))
		MonitorCheckLabel(&mc, false, PG_GETARG_FLOAT8(4), NULL);
	PG_RETURN_VOID();
}

/*
 * MonitorClassesInit fills mc from a monitor's classes (a text[] without
 * NULLs, as mlops._model_classes returns) learned from version of model.
 */
void
MonitorClassesInit(MonitorClasses *mc, const char *model, int32 version, ArrayType *classes)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(classes, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	mc->model = model;
	mc->version = version;
	mc->nclasses = n;
	mc->names = palloc(sizeof(char *) * Max(n, 1));
	for (int c = 0; c < n; c++)
		mc->names[c] = nulls[c] ? "" : TextDatumGetCString(elems[c]);
}

/*
 * MonitorCheckLabel raises invalid_parameter_value unless value is one of
 * the class codes 0 .. k-1 of mc or, for a prediction of a binary model, a
 * probability strictly between 0 and 1.  hint replaces the default hint
 * when not NULL.
 */
void
MonitorCheckLabel(const MonitorClasses *mc, bool prediction, double value, const char *hint)
{
	bool		probability = value > 0.0 && value < 1.0 && value != floor(value);

	if (value == floor(value) && value >= 0.0 && value < (double) mc->nclasses)
		return;
	if (prediction && probability && mc->nclasses == 2)
		return;
	if (hint == NULL)
		hint = (prediction && probability)
			? "Only the prediction of a binary model may be a probability (of class 1)."
			: "Record the code of the label, as mlops.predict returns it.";
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s %s is not a class of model \"%s\" (its classes are %s)",
					prediction ? "prediction" : "label", float8out_internal(value),
					mc->model, CodeList(mc)),
			 errdetail("%s", NameList(mc)),
			 errhint("%s", hint)));
}

/*
 * CodeList returns the class codes for a message: "0 and 1", "0, 1 and 2",
 * or "0 to 63" beyond MAX_LISTED_CODES classes.
 */
static char *
CodeList(const MonitorClasses *mc)
{
	StringInfoData buf;

	if (mc->nclasses == 0)
		return pstrdup("none");
	if (mc->nclasses == 1)
		return pstrdup("0");
	if (mc->nclasses > MAX_LISTED_CODES)
		return psprintf("0 to %d", mc->nclasses - 1);
	initStringInfo(&buf);
	for (int c = 0; c < mc->nclasses - 1; c++)
		appendStringInfo(&buf, "%s%d", c > 0 ? ", " : "", c);
	appendStringInfo(&buf, " and %d", mc->nclasses - 1);
	return buf.data;
}

/*
 * NameList returns the detail sentence naming the labels the codes stand
 * for, at most MAX_LISTED_NAMES of them, each clipped to MAX_NAME_BYTES.
 */
static char *
NameList(const MonitorClasses *mc)
{
	StringInfoData buf;
	int			shown = Min(mc->nclasses, MAX_LISTED_NAMES);

	initStringInfo(&buf);
	appendStringInfo(&buf, "Monitors record class codes; version %d of the model has %d %s: ",
					 mc->version, mc->nclasses, mc->nclasses == 1 ? "class" : "classes");
	for (int c = 0; c < shown; c++)
	{
		const char *name = mc->names[c];
		int			len = strlen(name);
		int			clip = pg_mbcliplen(name, len, MAX_NAME_BYTES);
		char	   *label = pnstrdup(name, clip);

		if (clip < len)
			label = psprintf("%s...", label);
		appendStringInfo(&buf, "%s%d = ", c == 0 ? "" : (c == mc->nclasses - 1 ? " and " : ", "), c);
		escape_json(&buf, label);
	}
	if (shown < mc->nclasses)
		appendStringInfo(&buf, " and %d more", mc->nclasses - shown);
	appendStringInfoChar(&buf, '.');
	return buf.data;
}
