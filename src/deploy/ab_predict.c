/*-------------------------------------------------------------------------
 *
 * ab_predict.c
 *	  mlops.ab_predict(test, user_id, features): the prediction of an A/B
 *	  test's variant for a user, on an application's request path.
 *
 * The common case, a user already assigned, is answered from the
 * per-backend cache of tests and assignments (ab_cache.c): two hash
 * lookups give the user's arm (the stored variant with its pinned model
 * version), then one call of serving's mlops._predict_scores on "name/N",
 * which never routes: one model evaluation gives the prediction and, for a
 * classifier that outputs probabilities, the predicted class's probability
 * (the two numbers of predict_detail's document, without building the
 * document and reading it back).  It is called through the function
 * manager (looked up once per backend), as SQL calls it; subsystems talk
 * through SQL functions.
 * A user seen for the first time, a bad argument or an unknown test goes
 * through mlops._ab_variant, the PL/pgSQL path that validates, draws and
 * records the assignment (or raises) and returns the arm.  A stopped test
 * answers its winner (control when it has none) for everyone.
 *
 * Only the first-exposure statement runs as the extension owner
 * (MlopsBeginOwner, search_path pinned), like the SECURITY DEFINER
 * functions of the other A/B entry points; it is planned once per backend
 * and schema-qualified, so one plan serves every caller.  The cache's
 * direct reads of mlops' two tables and the call of _predict_scores check
 * no privilege and run no SQL as the caller (serving reads the registry as
 * the extension owner itself, as it does for every caller of predict), so
 * the hit path needs no switch: the caller needs EXECUTE on ab_predict
 * only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "common/common.h"
#include "deploy/ab_cache.h"
#include "deploy/deploy.h"

PG_FUNCTION_INFO_V1(mlops_ab_predict);

/* the first-exposure statement, planned once per backend */
static SPIPlanPtr ab_assign_plan = NULL;

/*
 * mlops._predict_scores(text, jsonb), looked up once per backend (a
 * prepared statement's call site starts afresh at every execution) and
 * again after any change of pg_proc
 */
static FmgrInfo scores_fn;
static bool scores_valid = false;
static bool scores_callback = false;

static void AbAssign(FunctionCallInfo fcinfo, AbArm *arm);
static void AbPredict(const AbArm *arm, Datum features, double *pred, bool *has_prob, double *prob);
static FmgrInfo *AbScoresFunction(void);
static void AbProcCallback(Datum arg, int cacheid, uint32 hashvalue);
static SPIPlanPtr AbAssignPlan(void);
static Jsonb *AbResult(text *test, const AbArm *arm, double pred, bool has_prob, double prob);
static void AbPairString(JsonbPair *pair, const char *key, const char *s, int len);
static void AbPairNumber(JsonbPair *pair, const char *key, Numeric number);
static Numeric AbNumber(double v);

/*
 * mlops_ab_predict returns {"test", "variant", "model", "model_version",
 * "prediction", "probability"} for a user of an A/B test.
 */
Datum
mlops_ab_predict(PG_FUNCTION_ARGS)
{
	const AbArm *arm = NULL;
	AbArm		fresh;
	double		pred,
				prob;
	bool		has_prob;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("features must not be NULL"),
				 errhint("Pass the features as a JSON object, for example '{\"age\": 35, \"plan\": \"pro\"}'.")));

	if (!PG_ARGISNULL(0) && !PG_ARGISNULL(1))
		arm = AbCachedArm(PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1));
	if (arm == NULL)
	{
		MlopsOwnerSave save;

		MlopsBeginOwner(&save);
		AbAssign(fcinfo, &fresh);
		MlopsEndOwner(&save);
		arm = &fresh;
	}
	AbPredict(arm, PG_GETARG_DATUM(2), &pred, &has_prob, &prob);
	PG_RETURN_JSONB_P(AbResult(PG_GETARG_TEXT_PP(0), arm, pred, has_prob, prob));
}

/*
 * AbAssign runs the first-exposure path, mlops._ab_variant, which
 * validates the arguments, draws and records the user's variant (or
 * raises), and fills arm (in the caller's memory context) from the arm it
 * returns.
 */
static void
AbAssign(FunctionCallInfo fcinfo, AbArm *arm)
{
	MemoryContext callercxt = CurrentMemoryContext;
	Datum		args[2];
	char		nulls[2];
	Datum		d;
	bool		isnull;
	char	   *variant;

	for (int i = 0; i < 2; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	SPI_connect();
	if (SPI_execute_plan(AbAssignPlan(), args, nulls, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "assigning an a/b test user failed");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
		elog(ERROR, "a/b test variant without an arm");
	variant = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(callercxt);
		bool		ok = AbArmFrom(&DatumGetJsonbP(d)->root, variant, arm);

		MemoryContextSwitchTo(oldcxt);
		if (!ok)
			elog(ERROR, "a/b test variant \"%s\" has no pinned model version", variant ? variant : "?");
	}
	SPI_finish();
}

/*
 * AbPredict predicts features with the arm's pinned version ("name/N",
 * which never routes) by one call of mlops._predict_scores, which
 * evaluates the model once for the prediction and, for a classifier that
 * outputs probabilities, the predicted class's probability.  It is called
 * through the function manager, as SQL would call it.
 */
static void
AbPredict(const AbArm *arm, Datum features, double *pred, bool *has_prob, double *prob)
{
	LOCAL_FCINFO(inner, 2);
	Datum		d;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	InitFunctionCallInfoData(*inner, AbScoresFunction(), 2, InvalidOid, NULL, NULL);
	inner->args[0].value = PointerGetDatum(arm->ref);
	inner->args[0].isnull = false;
	inner->args[1].value = features;
	inner->args[1].isnull = false;
	d = FunctionCallInvoke(inner);
	if (inner->isnull)
		elog(ERROR, "a/b test prediction returned NULL");
	deconstruct_array(DatumGetArrayTypeP(d), FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n != 2 || nulls[0])
		elog(ERROR, "mlops._predict_scores returned no prediction");
	*pred = DatumGetFloat8(elems[0]);
	*has_prob = arm->probability && !nulls[1];
	*prob = *has_prob ? DatumGetFloat8(elems[1]) : NAN;
}

/*
 * AbScoresFunction returns mlops._predict_scores's FmgrInfo, looked up on
 * first use and after an invalidation of pg_proc.
 */
static FmgrInfo *
AbScoresFunction(void)
{
	if (!scores_callback)
	{
		CacheRegisterSyscacheCallback(PROCOID, AbProcCallback, (Datum) 0);
		scores_callback = true;
	}
	if (!scores_valid)
	{
		Oid			argtypes[2] = {TEXTOID, JSONBOID};
		Oid			fn = LookupFuncName(list_make2(makeString(MLOPS_SCHEMA), makeString("_predict_scores")),
										2, argtypes, false);

		fmgr_info_cxt(fn, &scores_fn, TopMemoryContext);
		scores_valid = true;
	}
	return &scores_fn;
}

/* AbProcCallback forgets _predict_scores's FmgrInfo when pg_proc changed. */
static void
AbProcCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	scores_valid = false;
}

/*
 * AbResult builds the answer of ab_predict as one jsonb object value,
 * converted once (what jsonb_in makes of the printed object, without
 * printing and parsing it, and without pushJsonbValue's copies and key
 * sort): the pairs are listed in jsonb's key order (shorter keys first,
 * then bytewise), which lookups in the stored object rely on.
 */
static Jsonb *
AbResult(text *test, const AbArm *arm, double pred, bool has_prob, double prob)
{
	JsonbPair	pairs[6];
	JsonbValue	object;
	int			n = 0;

	/* predictions and probabilities are finite: predict refuses non-finite outputs */
	AbPairString(&pairs[n++], "test", VARDATA_ANY(test), VARSIZE_ANY_EXHDR(test));
	AbPairString(&pairs[n++], "model", arm->model_name, strlen(arm->model_name));
	AbPairString(&pairs[n++], "variant", arm->variant, strlen(arm->variant));
	AbPairNumber(&pairs[n++], "prediction", isfinite(pred) ? AbNumber(pred) : NULL);
	AbPairNumber(&pairs[n++], "probability", has_prob && isfinite(prob) ? AbNumber(prob) : NULL);
	AbPairNumber(&pairs[n++], "model_version", arm->version_number);
	object.type = jbvObject;
	object.val.object.nPairs = n;
	object.val.object.pairs = pairs;
	return JsonbValueToJsonb(&object);
}

/* AbPairString fills a pair of the result with a string value. */
static void
AbPairString(JsonbPair *pair, const char *key, const char *s, int len)
{
	pair->key.type = jbvString;
	pair->key.val.string.val = (char *) key;
	pair->key.val.string.len = strlen(key);
	pair->value.type = jbvString;
	pair->value.val.string.val = (char *) s;
	pair->value.val.string.len = len;
	pair->order = 0;
}

/* AbPairNumber fills a pair of the result with a number, null when NULL. */
static void
AbPairNumber(JsonbPair *pair, const char *key, Numeric number)
{
	pair->key.type = jbvString;
	pair->key.val.string.val = (char *) key;
	pair->key.val.string.len = strlen(key);
	pair->value.type = number != NULL ? jbvNumeric : jbvNull;
	pair->value.val.numeric = number;
	pair->order = 0;
}

/*
 * AbNumber returns a finite float8 as the number its shortest exact text
 * reads as (the text float8out prints), as jsonb_in would make it.
 */
static Numeric
AbNumber(double v)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(float8out_internal(v)),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/*
 * AbAssignPlan returns the first-exposure statement, planned (generic)
 * and kept on first use.
 */
static SPIPlanPtr
AbAssignPlan(void)
{
	static const char *const sql = "SELECT v.variant, v.arm FROM mlops._ab_variant($1, $2) v";
	Oid			types[2] = {TEXTOID, TEXTOID};

	if (ab_assign_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, 2, types, CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
		ab_assign_plan = plan;
	}
	return ab_assign_plan;
}
