/*
 * online.c
 *		mlops.predict_entity in C: the model's features looked up in the online
 *		store with what does not change between calls kept per backend, then
 *		predicted.
 *
 * The steps are those of the PL/pgSQL mlops.predict_entity_detail (and of
 * mlops.get_online_features, whose errors it reuses): resolve the model
 * reference, read the version's lineage, and for each feature set of the
 * lineage read the entity's row of its online table; an entity no set knows
 * predicts NULL; values older than the set's ttl are missing values.
 *
 * Cache: the first call with a model reference resolves it (resolve_model,
 * _model_lineage, each set's online version, entity type, ttl and features)
 * and keeps, in entity_models, one prepared
 * lookup plan per feature set (an index probe of the online table by entity).
 * Later calls with the same reference run only those probes and the kept
 * predict plan.  What the entry was built from changes only through the
 * registry (its statement triggers invalidate mlops.model_versions, see
 * registry.c) or the feature store (the statement triggers of 65_features.sql
 * on feature_sets, feature_set_versions, training_sets and model_lineage
 * invalidate mlops.feature_sets, see mlops_feature_store_changed): a
 * promotion, a new version or alias, a new feature-set version, a
 * (re-)materialisation or a dropped set.  Our relcache callback only marks the
 * cache stale; each call first processes pending invalidations
 * (AcceptInvalidationMessages) and empties a stale cache, so no call uses an
 * entry built before a committed change (PostgreSQL delivers them to other
 * backends at commit, to this one at the next command, and undoes them at
 * rollback).  PostgreSQL's plan cache also revalidates the kept plans when a
 * table they read changes.  At most ENTITY_MODELS_MAX references are kept;
 * one more empties the cache.  Only the outermost predict_entity call
 * empties it (entity_depth), never one nested in another's lookup.
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
#include "access/htup_details.h"
#include "funcapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "common/common.h"
#include "features/features.h"

PG_FUNCTION_INFO_V1(mlops_predict_entity);
PG_FUNCTION_INFO_V1(mlops_feature_store_changed);
PG_FUNCTION_INFO_V1(mlops_online_rows);

/* a materialised set's entity type, ttl and features */
#define SETINFO_SQL \
	"SELECT v.entity_type, v.ttl::text, " \
	"ARRAY(SELECT f OPERATOR(pg_catalog.->>) 'name' FROM pg_catalog.jsonb_array_elements(v.features) f) " \
	"FROM mlops.feature_sets s JOIN mlops.feature_set_versions v " \
	"ON v.feature_set_id OPERATOR(pg_catalog.=) s.feature_set_id " \
	"AND v.version OPERATOR(pg_catalog.=) s.online_version " \
	"WHERE s.name OPERATOR(pg_catalog.=) $1"

/* most model references (and get_online_features queries) kept; one more empties the cache */
#define ENTITY_MODELS_MAX 64

/*
 * a model reference resolved: per feature set of its lineage, the kept plan
 * reading an entity's row (in entity_cxt)
 */
typedef struct EntityModel
{
	char	   *ref;
	int			nsets;
	SPIPlanPtr *lookups;
} EntityModel;

/* the kept query of get_online_features for one "set|feature|..." key */
typedef struct RowsPlan
{
	char	   *key;
	SPIPlanPtr	plan;
} RowsPlan;

static SPIPlanPtr resolve_plan = NULL;
static SPIPlanPtr lineage_plan = NULL;
static SPIPlanPtr setinfo_plan = NULL;
static SPIPlanPtr predict_plan = NULL;
static MemoryContext entity_cxt = NULL;
static List *entity_models = NIL;	/* of EntityModel, in entity_cxt */
static List *rows_plans = NIL;	/* of RowsPlan, in entity_cxt */
static bool entity_stale = false;
static bool callback_registered = false;
static int	entity_depth = 0;		/* predict_entity, _online_rows calls in progress */
static Oid	versions_relid = InvalidOid;
static Oid	sets_relid = InvalidOid;

static Datum PredictEntity(FunctionCallInfo fcinfo, bool *result_null);
static void EntityRelcacheCallback(Datum arg, Oid relid);
static void EntityCacheRefresh(void);
static void EntityCacheFlush(void);
static EntityModel *EntityModelFor(text *ref, text *entity_id);
static SPIPlanPtr KeptPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types);
static char *SetLookupSql(const char *set, ArrayType *features, text *entity_id);
static char *LookupSql(const char *set, const char *type, const char *ttl, Datum *names, int nnames);
static void RaiseLikeGetOnlineFeatures(const char *set, text *entity_id, ArrayType *features);
static void AppendFeaturesSql(StringInfo sql, const char *ttl, Datum *names, int nnames);
static SPIPlanPtr RowsPlanFor(text *set, ArrayType *features);

/*
 * mlops_predict_entity implements mlops.predict_entity(model, entity_id,
 * routing_key) RETURNS float8.
 */
Datum
mlops_predict_entity(PG_FUNCTION_ARGS)
{
	volatile Datum result = (Datum) 0;
	volatile bool result_null = true;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model and entity_id must not be null")));
	MlopsRequireCurrentSchema("mlops.predict_entity");

	/*
	 * Only the outermost call empties the cache: a call nested in another's
	 * lookup (an entity type whose cast predicts) must not free the entry
	 * and plans the outer one is using.
	 */
	if (entity_depth == 0)
		EntityCacheRefresh();
	entity_depth++;
	PG_TRY();
	{
		bool		isnull;

		result = PredictEntity(fcinfo, &isnull);
		result_null = isnull;
	}
	PG_FINALLY();
	{
		entity_depth--;
	}
	PG_END_TRY();
	if (result_null)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);		/* float8 is passed by value */
}

/*
 * PredictEntity does the work of mlops_predict_entity with the cache
 * refreshed: the model's entry, one probe per feature set, one prediction.
 */
static Datum
PredictEntity(FunctionCallInfo fcinfo, bool *result_null)
{
	Oid			predtypes[3] = {TEXTOID, JSONBOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	MlopsOwnerSave save;
	Datum		features = (Datum) 0;
	bool		known = false;
	bool		isnull;
	Datum		result = (Datum) 0;
	EntityModel *model;

	*result_null = true;
	SPI_connect();
	MlopsBeginOwner(&save);
	model = EntityModelFor(PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1));

	/* each feature set's row of the entity: one index probe each */
	values[0] = PG_GETARG_DATUM(1);
	for (int i = 0; i < model->nsets; i++)
	{
		Datum		f;

		CHECK_FOR_INTERRUPTS();
		if (SPI_execute_plan(model->lookups[i], values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading the online store failed");
		if (SPI_processed != 1)
			continue;
		f = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
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
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, result_null);
	}
	MlopsEndOwner(&save);
	SPI_finish();
	return result;				/* float8 is passed by value */
}

/*
 * mlops_feature_store_changed is the statement trigger on the feature
 * store's tables that queues the invalidation of every backend's
 * predict_entity cache (a relcache invalidation of mlops.feature_sets,
 * delivered when the transaction commits).
 */
Datum
mlops_feature_store_changed(PG_FUNCTION_ARGS)
{
	Oid			relid;

	MlopsRequireTrigger(fcinfo, "mlops._feature_store_changed()");
	relid = MlopsRelid("feature_sets");
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	return PointerGetDatum(NULL);
}

/*
 * EntityRelcacheCallback marks the cache stale when the registry or the
 * feature store changed, or on a full reset.  It only sets flags: no catalog
 * access is allowed here.
 */
static void
EntityRelcacheCallback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid || relid == versions_relid || relid == sets_relid ||
		!OidIsValid(versions_relid) || !OidIsValid(sets_relid))
		entity_stale = true;
	if (relid == InvalidOid)
		versions_relid = sets_relid = InvalidOid;
}

/*
 * EntityCacheRefresh registers the callback on first use, processes pending
 * invalidations, and empties the cache if they made it stale.
 */
static void
EntityCacheRefresh(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(EntityRelcacheCallback, (Datum) 0);
		callback_registered = true;
		entity_stale = true;
	}
	AcceptInvalidationMessages();
	if (entity_stale || !OidIsValid(versions_relid) || !OidIsValid(sets_relid))
	{
		EntityCacheFlush();
		entity_stale = false;
		versions_relid = MlopsRelid("model_versions");
		sets_relid = MlopsRelid("feature_sets");
	}
}

/*
 * EntityCacheFlush frees every cached model reference and its plans.
 */
static void
EntityCacheFlush(void)
{
	ListCell   *lc;

	foreach(lc, entity_models)
	{
		EntityModel *m = (EntityModel *) lfirst(lc);

		for (int i = 0; i < m->nsets; i++)
			SPI_freeplan(m->lookups[i]);
	}
	foreach(lc, rows_plans)
		SPI_freeplan(((RowsPlan *) lfirst(lc))->plan);
	entity_models = NIL;
	rows_plans = NIL;
	if (entity_cxt != NULL)
		MemoryContextReset(entity_cxt);
}

/*
 * EntityModelFor returns the cached entry of a model reference, building it
 * (and raising the errors of resolve_model, of a model without lineage and
 * of get_online_features) on a miss.  Called connected to SPI, as the owner.
 */
static EntityModel *
EntityModelFor(text *ref, text *entity_id)
{
	Oid			textoid[1] = {TEXTOID};
	Oid			linetypes[2] = {INT8OID, INT4OID};
	char	   *refstr = text_to_cstring(ref);
	Datum		values[2];
	bool		isnull;
	ListCell   *lc;
	SPITupleTable *lineage;
	uint64		nsets;
	char	   *name;
	char	  **sqls;
	EntityModel *m;
	MemoryContext old;

	foreach(lc, entity_models)
	{
		m = (EntityModel *) lfirst(lc);
		if (strcmp(m->ref, refstr) == 0)
			return m;
	}

	/*
	 * the version the reference resolves to, and its lineage, read under
	 * the latest snapshot: the entry outlives this statement
	 */
	MlopsPushCacheSnapshot();
	values[0] = PointerGetDatum(ref);
	if (SPI_execute_plan(KeptPlan(&resolve_plan, "SELECT r.model_id, r.version, r.name FROM mlops.resolve_model($1) r",
								  1, textoid), values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "resolving the model reference failed");
	name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
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
						name, DatumGetInt32(values[1])),
				 errhint("Train it with mlops.train on a table made by mlops.create_training_set, so it knows its features.")));

	/* every set checked before any plan is kept, so an error leaks none */
	sqls = palloc(sizeof(char *) * nsets);
	for (uint64 i = 0; i < nsets; i++)
	{
		CHECK_FOR_INTERRUPTS();
		sqls[i] = SetLookupSql(SPI_getvalue(lineage->vals[i], lineage->tupdesc, 2),
							   DatumGetArrayTypeP(SPI_getbinval(lineage->vals[i], lineage->tupdesc, 3, &isnull)),
							   entity_id);
	}
	PopActiveSnapshot();

	if (list_length(entity_models) >= ENTITY_MODELS_MAX && entity_depth == 1)
		EntityCacheFlush();
	if (entity_cxt == NULL)
		entity_cxt = AllocSetContextCreate(TopMemoryContext, "mlops predict_entity cache", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(entity_cxt);
	m = palloc0(sizeof(EntityModel));
	m->ref = pstrdup(refstr);
	m->lookups = palloc0(sizeof(SPIPlanPtr) * Max(nsets, 1));
	MemoryContextSwitchTo(old);
	for (uint64 i = 0; i < nsets; i++)
	{
		(void) KeptPlan(&m->lookups[i], sqls[i], 1, textoid);
		m->nsets++;
	}
	old = MemoryContextSwitchTo(entity_cxt);
	entity_models = lappend(entity_models, m);
	MemoryContextSwitchTo(old);
	return m;
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
 * SetLookupSql returns the query reading one entity's features (a jsonb
 * object) from one feature set's online store, for the features a model was
 * trained on.  Anything get_online_features would refuse is refused by it.
 */
static char *
SetLookupSql(const char *set, ArrayType *features, text *entity_id)
{
	Oid			textoid[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(set)};
	Datum	   *wanted;
	int			nwanted;
	Datum	   *have;
	bool	   *havenull;
	int			nhave;
	bool		isnull;

	if (SPI_execute_plan(KeptPlan(&setinfo_plan, SETINFO_SQL, 1, textoid), values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the feature set failed");
	if (SPI_processed != 1)
		RaiseLikeGetOnlineFeatures(set, entity_id, features);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)),
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
	return LookupSql(set, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), wanted, nwanted);
}

/*
 * LookupSql builds the query that reads one entity's features from a set's
 * online table as a jsonb object (ttl applied): one probe of its entity index.
 */
static char *
LookupSql(const char *set, const char *type, const char *ttl, Datum *names, int nnames)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	AppendFeaturesSql(&sql, ttl, names, nnames);
	appendStringInfo(&sql, " FROM mlops_online.%s o WHERE o.__mlops_entity OPERATOR(pg_catalog.=) $1::%s",
					 quote_identifier(set), type);
	return sql.data;
}

/*
 * AppendFeaturesSql appends the jsonb object of the named columns of the
 * online row o, each NULL when older than ttl (when not NULL); '{}' when no
 * feature is named.
 */
static void
AppendFeaturesSql(StringInfo sql, const char *ttl, Datum *names, int nnames)
{
	if (nnames == 0)
		appendStringInfoString(sql, "'{}'::pg_catalog.jsonb");
	for (int n = 0; n < nnames; n++)
	{
		char	   *f = TextDatumGetCString(names[n]);

		/* jsonb_build_object takes at most 50 pairs: one call per 50 features */
		if (n % 50 == 0)
			appendStringInfo(sql, "%spg_catalog.jsonb_build_object(", n > 0 ? ") OPERATOR(pg_catalog.||) " : "");
		else
			appendStringInfoString(sql, ", ");
		if (ttl)
			appendStringInfo(sql, "%s, CASE WHEN pg_catalog.now() OPERATOR(pg_catalog.-) o.__mlops_ts "
							 "OPERATOR(pg_catalog.<=) %s::interval THEN o.%s END",
							 quote_literal_cstr(f), quote_literal_cstr(ttl), quote_identifier(f));
		else
			appendStringInfo(sql, "%s, o.%s", quote_literal_cstr(f), quote_identifier(f));
	}
	if (nnames > 0)
		appendStringInfoChar(sql, ')');
}

/*
 * mlops_online_rows implements mlops._online_rows(feature_set, entity_ids,
 * feature_names): the rows of mlops.get_online_features, which checked its
 * arguments (set materialised, features known, ids valid for the entity
 * type) before calling it as the extension owner.  The query of a (set,
 * features) pair is a plan kept in the cache of predict_entity, emptied
 * with it.
 */
Datum
mlops_online_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		ids = PG_GETARG_DATUM(1);

	InitMaterializedSRF(fcinfo, 0);
	if (entity_depth == 0)
		EntityCacheRefresh();
	entity_depth++;
	PG_TRY();
	{
		SPIPlanPtr	plan;

		SPI_connect();
		plan = RowsPlanFor(PG_GETARG_TEXT_PP(0), PG_GETARG_ARRAYTYPE_P(2));
		if (SPI_execute_plan(plan, &ids, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading the online store failed");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			Datum		values[3];
			bool		nulls[3];

			CHECK_FOR_INTERRUPTS();
			heap_deform_tuple(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, values, nulls);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		entity_depth--;
	}
	PG_END_TRY();
	return (Datum) 0;
}

/*
 * RowsPlanFor returns the kept plan of get_online_features' query for a set
 * and a list of its features, preparing it on first use.
 */
static SPIPlanPtr
RowsPlanFor(text *set, ArrayType *features)
{
	Oid			textoid[1] = {TEXTOID};
	Oid			idstype[1] = {TEXTARRAYOID};
	Datum		values[1] = {PointerGetDatum(set)};
	char	   *setname = text_to_cstring(set);
	Datum	   *names;
	int			nnames;
	StringInfoData key;
	StringInfoData sql;
	ListCell   *lc;
	RowsPlan   *rp;

	deconstruct_array(features, TEXTOID, -1, false, TYPALIGN_INT, &names, NULL, &nnames);
	initStringInfo(&key);
	appendStringInfoString(&key, setname);
	for (int n = 0; n < nnames; n++)
		appendStringInfo(&key, "|%s", TextDatumGetCString(names[n]));
	foreach(lc, rows_plans)
	{
		rp = (RowsPlan *) lfirst(lc);
		if (strcmp(rp->key, key.data) == 0)
			return rp->plan;
	}

	if (SPI_execute_plan(KeptPlan(&setinfo_plan, SETINFO_SQL, 1, textoid), values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("feature set \"%s\" does not exist or has not been materialized",
						MlopsClip(setname, MLOPS_ECHO_MAX))));
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT i.id, CASE WHEN o.__mlops_entity IS NOT NULL THEN ");
	AppendFeaturesSql(&sql, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), names, nnames);
	appendStringInfo(&sql, " END, o.__mlops_ts FROM pg_catalog.unnest($1) WITH ORDINALITY AS i(id, n) "
					 "LEFT JOIN mlops_online.%s o ON o.__mlops_entity OPERATOR(pg_catalog.=) i.id::%s ORDER BY i.n",
					 quote_identifier(setname), SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));

	if (list_length(rows_plans) >= ENTITY_MODELS_MAX && entity_depth == 1)
		EntityCacheFlush();
	if (entity_cxt == NULL)
		entity_cxt = AllocSetContextCreate(TopMemoryContext, "mlops predict_entity cache", ALLOCSET_SMALL_SIZES);
	rp = MemoryContextAllocZero(entity_cxt, sizeof(RowsPlan));
	rp->key = MemoryContextStrdup(entity_cxt, key.data);
	(void) KeptPlan(&rp->plan, sql.data, 1, idstype);
	{
		MemoryContext old = MemoryContextSwitchTo(entity_cxt);

		rows_plans = lappend(rows_plans, rp);
		MemoryContextSwitchTo(old);
	}
	return rp->plan;
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
