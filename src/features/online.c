/*
 * online.c
 *		mlops.predict_entity in C: the model's features looked up in the online
 *		store with plans kept for the life of the backend, then predicted.
 *
 * The steps are those of the PL/pgSQL mlops.predict_entity_detail (and of
 * mlops.get_online_features, whose errors it reuses): resolve the model
 * reference, read the version's lineage, and for each feature set of the
 * lineage read the entity's row of its online table; an entity no set knows
 * predicts NULL; values older than the set's ttl are missing values.  Every
 * statement is a plan prepared once per backend (SPI_keepplan); the lookup
 * plan of a set is kept per (set, materialised version, entity type, ttl,
 * features), so a new version gets a new plan, and PostgreSQL's plan cache
 * revalidates the plans when a table they read changes.
 *
 * Privileges: like the PL/pgSQL functions it replaces, it reads the registry,
 * the lineage and the online tables, and predicts, as the extension owner
 * (MlopsBeginOwner, the caller recorded as the actor): EXECUTE on
 * predict_entity is all a role needs, and it reads no source.  A set that is
 * unknown, not materialised, or lacks a feature is handed to
 * mlops.get_online_features, which raises the error the user would get there.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "common/common.h"
#include "features/features.h"

PG_FUNCTION_INFO_V1(mlops_predict_entity);

/* a lookup plan kept for one (set, version, entity type, ttl, features) */
typedef struct LookupPlan
{
	char	   *key;
	SPIPlanPtr	plan;
} LookupPlan;

static SPIPlanPtr resolve_plan = NULL;
static SPIPlanPtr lineage_plan = NULL;
static SPIPlanPtr setinfo_plan = NULL;
static SPIPlanPtr predict_plan = NULL;
static List *lookup_plans = NIL;	/* of LookupPlan, in TopMemoryContext */

static SPIPlanPtr KeptPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types);
static Datum SetFeatures(const char *set, ArrayType *features, text *entity_id, bool *found);
static SPIPlanPtr LookupPlanFor(const char *set, const char *version, const char *type, const char *ttl,
								Datum *names, int nnames);
static void RaiseLikeGetOnlineFeatures(const char *set, text *entity_id, ArrayType *features);

/*
 * mlops_predict_entity implements mlops.predict_entity(model, entity_id,
 * routing_key) RETURNS float8.
 */
Datum
mlops_predict_entity(PG_FUNCTION_ARGS)
{
	Oid			textoid[1] = {TEXTOID};
	Oid			linetypes[2] = {INT8OID, INT4OID};
	Oid			predtypes[3] = {TEXTOID, JSONBOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	MlopsOwnerSave save;
	Datum		features = (Datum) 0;
	bool		known = false;
	bool		isnull;
	Datum		result = (Datum) 0;
	bool		result_null = true;
	SPITupleTable *lineage;
	uint64		nsets;
	char	   *model_name;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model and entity_id must not be null")));
	MlopsRequireCurrentSchema("mlops.predict_entity");
	SPI_connect();
	MlopsBeginOwner(&save);

	/* the version the reference resolves to, and its lineage */
	values[0] = PG_GETARG_DATUM(0);
	if (SPI_execute_plan(KeptPlan(&resolve_plan, "SELECT r.model_id, r.version, r.name FROM mlops.resolve_model($1) r",
								  1, textoid), values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "resolving the model reference failed");
	model_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	values[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	values[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (SPI_execute_plan(KeptPlan(&lineage_plan,
								  "SELECT x.l IS NOT NULL, e OPERATOR(pg_catalog.->>) 'feature_set', "
								  "ARRAY(SELECT pg_catalog.jsonb_array_elements_text(e OPERATOR(pg_catalog.->) 'features')) "
								  "FROM (SELECT mlops._model_lineage($1, $2) AS l) x "
								  "LEFT JOIN LATERAL pg_catalog.jsonb_array_elements(x.l OPERATOR(pg_catalog.->) 'feature_set_versions') e ON true",
								  2, linetypes), values, NULL, true, 0) != SPI_OK_SELECT || SPI_processed == 0)
		elog(ERROR, "reading the model's lineage failed");
	lineage = SPI_tuptable;
	nsets = SPI_processed;
	if (!DatumGetBool(SPI_getbinval(lineage->vals[0], lineage->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" version %d was not trained on a training set",
						model_name, DatumGetInt32(values[1])),
				 errhint("Train it with mlops.train on a table made by mlops.create_training_set, so it knows its features.")));

	/* each feature set's row of the entity */
	for (uint64 i = 0; i < nsets; i++)
	{
		char	   *set = SPI_getvalue(lineage->vals[i], lineage->tupdesc, 2);
		ArrayType  *names = DatumGetArrayTypeP(SPI_getbinval(lineage->vals[i], lineage->tupdesc, 3, &isnull));
		bool		found = false;
		Datum		f;

		CHECK_FOR_INTERRUPTS();
		f = SetFeatures(set, names, PG_GETARG_TEXT_PP(1), &found);
		if (!found)
			continue;
		features = known ? DirectFunctionCall2(jsonb_concat, features, f) : f;
		known = true;
	}

	if (known)
	{
		values[0] = PG_GETARG_DATUM(0);
		values[1] = features;
		values[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
		nulls[2] = PG_ARGISNULL(2) ? 'n' : ' ';
		if (SPI_execute_plan(KeptPlan(&predict_plan, "SELECT mlops.predict($1, $2, $3)", 3, predtypes),
							 values, nulls, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "predicting failed");
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &result_null);
	}
	MlopsEndOwner(&save);
	SPI_finish();
	if (result_null)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);		/* float8 is passed by value */
}

/*
 * KeptPlan returns *plan, preparing and keeping it on first use.
 */
static SPIPlanPtr
KeptPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "preparing \"%s\" failed: %s", sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "keeping a plan failed");
		*plan = p;
	}
	return *plan;
}

/*
 * SetFeatures returns the features (a jsonb object) of one entity in one
 * feature set's online store; *found is false when the store does not know
 * the entity.  Anything get_online_features would refuse is refused by it.
 */
static Datum
SetFeatures(const char *set, ArrayType *features, text *entity_id, bool *found)
{
	Oid			textoid[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(set)};
	Datum	   *wanted;
	int			nwanted;
	Datum	   *have;
	bool	   *havenull;
	int			nhave;
	bool		isnull;
	char	   *version;
	char	   *type;
	char	   *ttl;
	SPIPlanPtr	lookup;

	if (SPI_execute_plan(KeptPlan(&setinfo_plan,
								  "SELECT s.online_version::text, v.entity_type, v.ttl::text, "
								  "ARRAY(SELECT f OPERATOR(pg_catalog.->>) 'name' FROM pg_catalog.jsonb_array_elements(v.features) f) "
								  "FROM mlops.feature_sets s JOIN mlops.feature_set_versions v "
								  "ON v.feature_set_id OPERATOR(pg_catalog.=) s.feature_set_id "
								  "AND v.version OPERATOR(pg_catalog.=) s.online_version "
								  "WHERE s.name OPERATOR(pg_catalog.=) $1", 1, textoid),
						 values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the feature set failed");
	if (SPI_processed != 1)
		RaiseLikeGetOnlineFeatures(set, entity_id, features);
	version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	type = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	ttl = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT, &have, &havenull, &nhave);
	deconstruct_array(features, TEXTOID, -1, false, TYPALIGN_INT, &wanted, NULL, &nwanted);
	for (int w = 0; w < nwanted; w++)
	{
		bool		there = false;

		for (int h = 0; h < nhave && !there; h++)
			there = DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID, wanted[w], have[h]));
		if (!there)
			RaiseLikeGetOnlineFeatures(set, entity_id, features);
	}

	lookup = LookupPlanFor(set, version, type, ttl, wanted, nwanted);
	values[0] = PointerGetDatum(entity_id);
	if (SPI_execute_plan(lookup, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the online store failed");
	*found = SPI_processed == 1;
	if (!*found)
		return (Datum) 0;
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
}

/*
 * LookupPlanFor returns the kept plan that reads one entity's features from
 * a set's online table as a jsonb object (ttl applied), preparing it the
 * first time.
 */
static SPIPlanPtr
LookupPlanFor(const char *set, const char *version, const char *type, const char *ttl, Datum *names, int nnames)
{
	StringInfoData key;
	StringInfoData sql;
	ListCell   *lc;
	Oid			textoid[1] = {TEXTOID};
	LookupPlan *lp;
	MemoryContext old;

	initStringInfo(&key);
	appendStringInfo(&key, "%s|%s|%s|%s", set, version, type, ttl ? ttl : "");
	for (int n = 0; n < nnames; n++)
		appendStringInfo(&key, "|%s", TextDatumGetCString(names[n]));
	foreach(lc, lookup_plans)
	{
		lp = (LookupPlan *) lfirst(lc);
		if (strcmp(lp->key, key.data) == 0)
			return lp->plan;
	}

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int n = 0; n < nnames; n++)
	{
		char	   *f = TextDatumGetCString(names[n]);

		/* jsonb_build_object takes at most 50 pairs: one call per 50 features */
		if (n % 50 == 0)
			appendStringInfo(&sql, "%spg_catalog.jsonb_build_object(", n > 0 ? ") OPERATOR(pg_catalog.||) " : "");
		else
			appendStringInfoString(&sql, ", ");
		if (ttl)
			appendStringInfo(&sql, "%s, CASE WHEN pg_catalog.now() OPERATOR(pg_catalog.-) o.__mlops_ts "
							 "OPERATOR(pg_catalog.<=) %s::interval THEN o.%s END",
							 quote_literal_cstr(f), quote_literal_cstr(ttl), quote_identifier(f));
		else
			appendStringInfo(&sql, "%s, o.%s", quote_literal_cstr(f), quote_identifier(f));
	}
	appendStringInfo(&sql, ") FROM mlops_online.%s o WHERE o.__mlops_entity OPERATOR(pg_catalog.=) $1::%s",
					 quote_identifier(set), type);

	old = MemoryContextSwitchTo(TopMemoryContext);
	lp = palloc(sizeof(LookupPlan));
	lp->key = pstrdup(key.data);
	lp->plan = NULL;
	MemoryContextSwitchTo(old);
	(void) KeptPlan(&lp->plan, sql.data, 1, textoid);
	old = MemoryContextSwitchTo(TopMemoryContext);
	lookup_plans = lappend(lookup_plans, lp);
	MemoryContextSwitchTo(old);
	return lp->plan;
}

/*
 * RaiseLikeGetOnlineFeatures asks mlops.get_online_features for the same
 * lookup, which raises the error a user gets there (unknown set, set not
 * materialised, unknown feature).
 */
static void
RaiseLikeGetOnlineFeatures(const char *set, text *entity_id, ArrayType *features)
{
	Oid			types[3] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[3];
	Datum		id = PointerGetDatum(entity_id);

	values[0] = CStringGetTextDatum(set);
	values[1] = PointerGetDatum(construct_array(&id, 1, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(features);
	SPI_execute_with_args("SELECT * FROM mlops.get_online_features($1, $2, $3)", 3, types, values, NULL, true, 0);
	elog(ERROR, "feature set \"%s\" could not be read", set);
}
