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
 * pinned model version), and one statement calling the public
 * mlops.predict (and, for a classifier that outputs probabilities,
 * mlops.predict_proba) on "name/N",
 * which never routes; subsystems talk through SQL.  A user seen for the
 * first time, a bad argument or an unknown test goes through
 * mlops._ab_variant, the PL/pgSQL path that validates, draws and records
 * the assignment (or raises) and returns the arm.  A stopped test answers
 * its winner (control when it has none) for everyone.
 *
 * The statements run as the extension owner (MlopsBeginOwner, search_path
 * pinned), like the SECURITY DEFINER functions of the other A/B entry
 * points: the caller needs EXECUTE on ab_predict only; the direct reads of
 * mlops' own two tables check no privilege.  The statements are planned
 * once per backend and schema-qualified, operators included, so one plan
 * serves every caller.
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

/* the statements, planned once per backend */
enum
{
	AB_ASSIGN,					/* the PL/pgSQL first-exposure path */
	AB_PREDICT,					/* predict (and predict_proba) on pinned, features */
	AB_NSTATEMENTS
};
static SPIPlanPtr ab_plans[AB_NSTATEMENTS];

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
static SPIPlanPtr AbPlan(int which);
static Jsonb *AbResult(text *test, const AbArm *arm, double pred, bool has_prob, double prob);

/*
 * mlops_ab_predict returns {"test", "variant", "model", "model_version",
 * "prediction", "probability"} for a user of an A/B test.
 */
Datum
mlops_ab_predict(PG_FUNCTION_ARGS)
{
	Datum		args[3];
	char		nulls[3];
	MemoryContext callercxt = CurrentMemoryContext;
	MlopsOwnerSave save;
	AbArm		arm;
	Datum		pargs[3];
	double		pred,
				prob = 0;
	bool		has_prob = false,
				isnull;
	Jsonb	   *result;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("features must not be NULL"),
				 errhint("Pass the features as a JSON object, for example '{\"age\": 35, \"plan\": \"pro\"}'.")));
	for (int i = 0; i < 3; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}

	MlopsBeginOwner(&save);
	SPI_connect();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) ||
		!AbLookup(PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1), &arm))
	{
		/* a first exposure: validate, draw and record (or raise) */
		Datum		d;

		if (SPI_execute_plan(AbPlan(AB_ASSIGN), args, nulls, false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "assigning an a/b test user failed");
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (isnull)
			elog(ERROR, "a/b test variant without an arm");
		AbArmFrom(&DatumGetJsonbP(d)->root,
				  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), &arm);
	}
	pargs[0] = CStringGetTextDatum(psprintf("%s/%d", arm.model_name, arm.model_version));
	pargs[1] = args[2];
	pargs[2] = BoolGetDatum(arm.probability);
	if (SPI_execute_plan(AbPlan(AB_PREDICT), pargs, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "a/b test prediction failed");
	pred = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		elog(ERROR, "a/b test prediction returned NULL");
	prob = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &has_prob));
	has_prob = !has_prob;
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(callercxt);

		result = AbResult(PG_GETARG_TEXT_PP(0), &arm, pred, has_prob, prob);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	MlopsEndOwner(&save);
	PG_RETURN_JSONB_P(result);
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
 * AbResult builds the answer of ab_predict.
 */
static Jsonb *
AbResult(text *test, const AbArm *arm, double pred, bool has_prob, double prob)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"test\": ");
	escape_json(&buf, text_to_cstring(test));
	appendStringInfoString(&buf, ", \"variant\": ");
	escape_json(&buf, arm->variant);
	appendStringInfoString(&buf, ", \"model\": ");
	escape_json(&buf, arm->model_name);
	appendStringInfo(&buf, ", \"model_version\": %d, \"prediction\": ", arm->model_version);
	/* predictions and probabilities are finite: predict refuses non-finite outputs */
	appendStringInfoString(&buf, isfinite(pred) ? float8out_internal(pred) : "null");
	appendStringInfoString(&buf, ", \"probability\": ");
	appendStringInfoString(&buf, has_prob && isfinite(prob) ? float8out_internal(prob) : "null");
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * AbPlan returns one of the statements, planned (generic) and kept on
 * first use.
 */
static SPIPlanPtr
AbPlan(int which)
{
	static const char *const sql[AB_NSTATEMENTS] = {
		"SELECT v.variant, v.arm FROM mlops._ab_variant($1, $2) v",
		/* the predicted class's probability when the arm's version has them */
		"SELECT p.pred, CASE WHEN $3 AND p.pred OPERATOR(pg_catalog.>=) 0"
		"                    THEN (mlops.predict_proba($1, $2))[p.pred::integer OPERATOR(pg_catalog.+) 1] END"
		"  FROM (SELECT mlops.predict($1, $2) AS pred) p",
	};
	static const int nargs[AB_NSTATEMENTS] = {2, 3};
	Oid			types[3] = {TEXTOID, TEXTOID, JSONBOID};
	Oid			ptypes[3] = {TEXTOID, JSONBOID, BOOLOID};

	if (ab_plans[which] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql[which], nargs[which],
											  which == AB_ASSIGN ? types : ptypes,
											  CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare \"%s\": %s", sql[which], SPI_result_code_string(SPI_result));
		ab_plans[which] = plan;
	}
	return ab_plans[which];
}
