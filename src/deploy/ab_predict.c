/*-------------------------------------------------------------------------
 *
 * ab_predict.c
 *	  mlops.ab_predict(test, user_id, features): the prediction of an A/B
 *	  test's variant for a user, on an application's request path.
 *
 * The common case, a user already assigned, costs two index probes read
 * directly, without the executor (the test by its unique name, the user's
 * assignment by primary key, with the statement's snapshot), a walk of the
 * test's variants array to the user's arm (the stored variant with its
 * pinned model version), and one call of the public mlops.predict_detail
 * on "name/N", which never routes: one model evaluation gives the
 * prediction and, for a classifier that outputs probabilities, the
 * predicted class's probability.  It is called through the function
 * manager (looked up once per call site), as SQL calls it; subsystems talk
 * through SQL functions.  A user seen for the
 * first time, a bad argument or an unknown test goes through
 * mlops._ab_variant, the PL/pgSQL path that validates, draws and records
 * the assignment (or raises) and returns the arm.  A stopped test answers
 * its winner (control when it has none) for everyone.
 *
 * The statements run as the extension owner (MlopsBeginOwner, search_path
 * pinned), like the SECURITY DEFINER functions of the other A/B entry
 * points: the caller needs EXECUTE on ab_predict only; the direct reads of
 * mlops' own two tables and the call of predict_detail check no privilege.
 * The first-exposure statement is planned once per backend and
 * schema-qualified, so one plan serves every caller.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "deploy/deploy.h"
#include "common/common.h"

PG_FUNCTION_INFO_V1(mlops_ab_predict);

/* the first-exposure statement, planned once per backend */
static SPIPlanPtr ab_assign_plan = NULL;

/* what a call site keeps between calls (fn_extra) */
typedef struct AbCache
{
	FmgrInfo	detail;			/* mlops.predict_detail(text, jsonb, text) */
} AbCache;

/* one arm of a test: the pinned model version of a variant */
typedef struct AbArm
{
	char	   *variant;
	char	   *model_name;
	int32		model_version;
	bool		probability;
} AbArm;

static bool AbLookup(text *test, text *user_id, AbArm *arm);
static bool AbProbe(const char *relname, const char *indexname, int nkeys, Datum *keys,
					int natts, const char *const *attnames, Datum *values, bool *isnull);
static void AbArmOf(Jsonb *variants, const char *variant, AbArm *arm);
static void AbArmFrom(JsonbContainer *elem, const char *variant, AbArm *arm);
static void AbAssign(FunctionCallInfo fcinfo, AbArm *arm);
static void AbPredict(FunctionCallInfo fcinfo, const AbArm *arm, Datum features,
					  double *pred, bool *has_prob, double *prob);
static double AbDetailNumber(Jsonb *detail, const char *key);
static SPIPlanPtr AbAssignPlan(void);
static Jsonb *AbResult(text *test, const AbArm *arm, double pred, bool has_prob, double prob);

/*
 * mlops_ab_predict returns {"test", "variant", "model", "model_version",
 * "prediction", "probability"} for a user of an A/B test.
 */
Datum
mlops_ab_predict(PG_FUNCTION_ARGS)
{
	MlopsOwnerSave save;
	AbArm		arm;
	double		pred,
				prob;
	bool		has_prob;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("features must not be NULL"),
				 errhint("Pass the features as a JSON object, for example '{\"age\": 35, \"plan\": \"pro\"}'.")));

	MlopsBeginOwner(&save);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) ||
		!AbLookup(PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1), &arm))
		AbAssign(fcinfo, &arm);
	AbPredict(fcinfo, &arm, PG_GETARG_DATUM(2), &pred, &has_prob, &prob);
	MlopsEndOwner(&save);
	PG_RETURN_JSONB_P(AbResult(PG_GETARG_TEXT_PP(0), &arm, pred, has_prob, prob));
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

		AbArmFrom(&DatumGetJsonbP(d)->root, variant, arm);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
}

/*
 * AbPredict predicts features with the arm's pinned version ("name/N",
 * which never routes) by one call of mlops.predict_detail, which evaluates
 * the model once for the prediction and, for a classifier that outputs
 * probabilities, the predicted class's probability.  The function is
 * looked up once per call site (fn_extra) and called through the function
 * manager, as SQL would call it.
 */
static void
AbPredict(FunctionCallInfo fcinfo, const AbArm *arm, Datum features,
		  double *pred, bool *has_prob, double *prob)
{
	AbCache    *cache = (AbCache *) fcinfo->flinfo->fn_extra;
	LOCAL_FCINFO(inner, 3);
	Datum		d;
	Jsonb	   *detail;

	if (cache == NULL)
	{
		Oid			argtypes[3] = {TEXTOID, JSONBOID, TEXTOID};
		Oid			fn = LookupFuncName(list_make2(makeString(MLOPS_SCHEMA), makeString("predict_detail")),
										3, argtypes, false);

		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(AbCache));
		fmgr_info_cxt(fn, &cache->detail, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cache;
	}
	InitFunctionCallInfoData(*inner, &cache->detail, 3, InvalidOid, NULL, NULL);
	inner->args[0].value = CStringGetTextDatum(psprintf("%s/%d", arm->model_name, arm->model_version));
	inner->args[0].isnull = false;
	inner->args[1].value = features;
	inner->args[1].isnull = false;
	inner->args[2].value = (Datum) 0;
	inner->args[2].isnull = true;
	d = FunctionCallInvoke(inner);
	if (inner->isnull)
		elog(ERROR, "a/b test prediction returned NULL");
	detail = DatumGetJsonbP(d);
	*pred = AbDetailNumber(detail, "prediction");
	*prob = arm->probability ? AbDetailNumber(detail, "probability") : NAN;
	*has_prob = !isnan(*prob);
}

/*
 * AbDetailNumber returns the number under key in predict_detail's
 * document, NaN when it is null (predict_detail prints a non-finite value
 * as null).  The document prints every float8 with 17 significant digits,
 * so the value read back is the model's output exactly.
 */
static double
AbDetailNumber(Jsonb *detail, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&detail->root, key, strlen(key), NULL);

	if (v == NULL || (v->type != jbvNumeric && v->type != jbvNull))
		elog(ERROR, "mlops.predict_detail returned no \"%s\"", key);
	if (v->type == jbvNull)
		return NAN;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

/*
 * AbLookup finds the user's variant (a stopped test's winner for everyone)
 * and its arm by two index probes; false when the test does not exist or
 * the user is not assigned in it (the assignment path says which).
 */
static bool
AbLookup(text *test, text *user_id, AbArm *arm)
{
	static const char *const test_cols[] = {"id", "variants", "state", "winner"};
	static const char *const user_cols[] = {"variant"};
	Datum		t[4],
				keys[2],
				v[1];
	bool		tnull[4],
				vnull[1];
	char	   *variant;

	keys[0] = PointerGetDatum(test);
	if (!AbProbe("ab_tests", "ab_tests_name_key", 1, keys, 4, test_cols, t, tnull) ||
		tnull[0] || tnull[1] || tnull[2])
		return false;
	if (strcmp(TextDatumGetCString(t[2]), "stopped") == 0)
		variant = tnull[3] ? pstrdup("control") : TextDatumGetCString(t[3]);
	else
	{
		keys[0] = t[0];
		keys[1] = PointerGetDatum(user_id);
		if (!AbProbe("ab_assignments", "ab_assignments_pkey", 2, keys, 1, user_cols, v, vnull) ||
			vnull[0])
			return false;
		variant = TextDatumGetCString(v[0]);
	}
	AbArmOf(DatumGetJsonbP(t[1]), variant, arm);
	return true;
}

/*
 * AbProbe reads the row of mlops.<relname> whose unique index <indexname>
 * (on bigint and text columns) equals keys, in index column order, as the
 * statement's snapshot sees it, and copies its columns attnames into
 * values; false when there is no such row, no such relation or no
 * statement snapshot.
 */
static bool
AbProbe(const char *relname, const char *indexname, int nkeys, Datum *keys,
		int natts, const char *const *attnames, Datum *values, bool *isnull)
{
	Oid			relid = MlopsRelid(relname);
	Oid			indexid = MlopsRelid(indexname);
	Relation	rel,
				idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData skey[2];
	bool		found;

	/* no statement snapshot (a procedure between transactions): the SPI path reads */
	if (!OidIsValid(relid) || !OidIsValid(indexid) || nkeys > 2 || !ActiveSnapshotSet())
		return false;
	rel = table_open(relid, AccessShareLock);
	idx = index_open(indexid, AccessShareLock);
	for (int k = 0; k < nkeys; k++)
	{
		Oid			type = TupleDescAttr(RelationGetDescr(idx), k)->atttypid;

		ScanKeyEntryInitialize(&skey[k], 0, (AttrNumber) (k + 1), BTEqualStrategyNumber, InvalidOid,
							   idx->rd_indcollation[k], type == INT8OID ? F_INT8EQ : F_TEXTEQ, keys[k]);
	}
	scan = index_beginscan(rel, idx, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, skey, nkeys, NULL, 0);
	slot = table_slot_create(rel, NULL);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	for (int a = 0; found && a < natts; a++)
	{
		AttrNumber	attno = get_attnum(relid, attnames[a]);
		Form_pg_attribute att;

		if (attno == InvalidAttrNumber)
			elog(ERROR, "mlops.%s has no column \"%s\"", relname, attnames[a]);
		att = TupleDescAttr(RelationGetDescr(rel), attno - 1);
		values[a] = slot_getattr(slot, attno, &isnull[a]);
		/* copied (and detoasted) out of the slot, which goes away below */
		if (!isnull[a] && att->attlen == -1)
			values[a] = PointerGetDatum(PG_DETOAST_DATUM_COPY(values[a]));
		else if (!isnull[a])
			values[a] = datumCopy(values[a], att->attbyval, att->attlen);
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * AbArmOf fills arm from the element of the variants array whose "name" is
 * variant.
 */
static void
AbArmOf(Jsonb *variants, const char *variant, AbArm *arm)
{
	int			n = JsonContainerSize(&variants->root);

	if (!JsonContainerIsArray(&variants->root))
		elog(ERROR, "a/b test variants are not an array");
	for (int i = 0; i < n; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(&variants->root, i);
		JsonbValue *name;

		if (elem == NULL || elem->type != jbvBinary)
			continue;
		name = getKeyJsonValueFromContainer(elem->val.binary.data, "name", 4, NULL);
		if (name == NULL || name->type != jbvString ||
			strlen(variant) != (size_t) name->val.string.len ||
			memcmp(name->val.string.val, variant, name->val.string.len) != 0)
			continue;
		AbArmFrom(elem->val.binary.data, variant, arm);
		return;
	}
	elog(ERROR, "a/b test has no variant \"%s\"", variant);
}

/*
 * AbArmFrom fills arm from one stored variant object (create_ab_test put
 * model_name, model_version and probability in each).
 */
static void
AbArmFrom(JsonbContainer *elem, const char *variant, AbArm *arm)
{
	JsonbValue *model = getKeyJsonValueFromContainer(elem, "model_name", 10, NULL);
	JsonbValue *version = getKeyJsonValueFromContainer(elem, "model_version", 13, NULL);
	JsonbValue *prob = getKeyJsonValueFromContainer(elem, "probability", 11, NULL);

	if (variant == NULL || model == NULL || model->type != jbvString ||
		version == NULL || version->type != jbvNumeric)
		elog(ERROR, "a/b test variant \"%s\" has no pinned model version", variant ? variant : "?");
	arm->variant = pstrdup(variant);
	arm->model_name = pnstrdup(model->val.string.val, model->val.string.len);
	arm->model_version = DatumGetInt32(DirectFunctionCall1(numeric_int4,
														   NumericGetDatum(version->val.numeric)));
	arm->probability = prob != NULL && prob->type == jbvBool && prob->val.boolean;
}

/*
 * AbResult builds the answer of ab_predict, as jsonb values (what jsonb_in
 * makes of the printed object, without printing and parsing it).
 */
static Jsonb *
AbResult(text *test, const AbArm *arm, double pred, bool has_prob, double prob)
{
	static const char *const keys[] = {"test", "variant", "model", "model_version",
	"prediction", "probability"};
	/* predictions and probabilities are finite: predict refuses non-finite outputs */
	const char *const strings[] = {text_to_cstring(test), arm->variant, arm->model_name, NULL, NULL, NULL};
	const char *const numbers[] = {NULL, NULL, NULL, psprintf("%d", arm->model_version),
		isfinite(pred) ? float8out_internal(pred) : NULL,
	has_prob && isfinite(prob) ? float8out_internal(prob) : NULL};
	JsonbParseState *state = NULL;
	JsonbValue	v;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (size_t i = 0; i < lengthof(keys); i++)
	{
		v.type = jbvString;
		v.val.string.val = (char *) keys[i];
		v.val.string.len = strlen(keys[i]);
		pushJsonbValue(&state, WJB_KEY, &v);
		if (strings[i] != NULL)
		{
			v.val.string.val = (char *) strings[i];
			v.val.string.len = strlen(strings[i]);
		}
		else if (numbers[i] != NULL)
		{
			v.type = jbvNumeric;
			v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(numbers[i]),
																ObjectIdGetDatum(InvalidOid),
																Int32GetDatum(-1)));
		}
		else
			v.type = jbvNull;
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
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
