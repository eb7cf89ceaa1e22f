/*-------------------------------------------------------------------------
 *
 * input_constraints.c
 *	  Enforcement of a model's input constraints (mlops.set_input_constraints,
 *	  sql/install/85_http.sql) by predict, predict_proba, predict_label and
 *	  predict_batch when the features come as a JSON object.
 *
 * The rules live in one place, the SQL function mlops._input_violations
 * (also behind mlops.validate_input and the HTTP service); this file only
 * decides whether to call it.  Each backend caches, per model name, the
 * constraints document or the fact that there is none, so a model without
 * constraints costs one hash lookup per prediction.  The cache is dropped
 * when the registry's relcache invalidation arrives: mlops.input_constraints
 * has the registry's statement trigger (mlops._registry_changed), so a
 * committed change reaches every backend before its next prediction.
 * A 0.1.0 schema has no constraints table: nothing is checked then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "common/common.h"
#include "serve/serve.h"

#define MODEL_NAME_LEN 132

typedef struct ConstraintsEntry
{
	char		model[MODEL_NAME_LEN];	/* key */
	Jsonb	   *constraints;	/* NULL: the model has none */
} ConstraintsEntry;

static HTAB *cache = NULL;
static MemoryContext cache_cxt = NULL;
static Oid	violations_fn = InvalidOid;
static bool callback_registered = false;
static bool cache_stale = false;
static Oid	versions_relid = InvalidOid;	/* what mlops._registry_changed invalidates */

static void InvalidateCallback(Datum arg, Oid relid);
static ConstraintsEntry *Lookup(const char *model);
static void EnsureCache(void);
static void RaiseViolations(const char *model, Jsonb *violations, int instance);
static Jsonb *ContainerToJsonb(JsonbContainer *c);

/*
 * InputConstraintsCheck raises 22023 listing every violation of the model's
 * input constraints by one features object (instance >= 0 names the row of
 * a batch).
 */
void
InputConstraintsCheck(const char *model, JsonbContainer *features, int instance)
{
	ConstraintsEntry *e;
	Jsonb	   *constraints;
	Datum		v;

	if (strlen(model) >= MODEL_NAME_LEN || !MlopsSchemaIsCurrent())
		return;
	e = Lookup(model);
	if (e->constraints == NULL)
		return;
	if (!OidIsValid(violations_fn))
	{
		Oid			args[2] = {JSONBOID, JSONBOID};

		violations_fn = LookupFuncName(list_make2(makeString(MLOPS_SCHEMA), makeString("_input_violations")),
									   2, args, false);
	}
	/* a copy: the call may accept an invalidation that drops the cache */
	constraints = palloc(VARSIZE(e->constraints));
	memcpy(constraints, e->constraints, VARSIZE(e->constraints));
	v = OidFunctionCall2(violations_fn, JsonbPGetDatum(constraints),
						 JsonbPGetDatum(ContainerToJsonb(features)));
	RaiseViolations(model, DatumGetJsonbP(v), instance);
}

/*
 * Lookup returns the cache entry of a model, reading mlops.input_constraints
 * (as the extension owner: callers need no privilege on it) on a miss.
 */
static ConstraintsEntry *
Lookup(const char *model)
{
	ConstraintsEntry *e;
	bool		found;
	char		key[MODEL_NAME_LEN] = {0};

	EnsureCache();
	strlcpy(key, model, sizeof(key));
	e = hash_search(cache, key, HASH_FIND, NULL);
	if (e == NULL)
	{
		MlopsOwnerSave save;
		Oid			type = TEXTOID;
		Datum		value = CStringGetTextDatum(model);
		Jsonb	   *c = NULL;
		bool		isnull = true;

		MlopsBeginOwner(&save);
		SPI_connect();
		MlopsPushCacheSnapshot();
		if (SPI_execute_with_args("SELECT constraints FROM mlops.input_constraints WHERE model OPERATOR(pg_catalog.=) $1",
								  1, &type, &value, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read mlops.input_constraints");
		if (SPI_processed == 1)
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
				c = (Jsonb *) SPI_datumTransfer(d, false, -1);
		}
		PopActiveSnapshot();
		SPI_finish();
		MlopsEndOwner(&save);

		/*
		 * An invalidation the query accepted only marked the cache stale:
		 * this entry serves this call, the next lookup starts afresh.
		 */
		if (c != NULL)
		{
			Jsonb	   *copy = (Jsonb *) MemoryContextAlloc(cache_cxt, VARSIZE(c));

			memcpy(copy, c, VARSIZE(c));
			c = copy;
		}
		e = hash_search(cache, key, HASH_ENTER, &found);
		e->constraints = c;
	}
	return e;
}

/*
 * EnsureCache registers the invalidation callback, drops the cache when an
 * invalidation marked it stale, and creates it when there is none.
 */
static void
EnsureCache(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(InvalidateCallback, (Datum) 0);
		callback_registered = true;
	}
	if (cache_stale && cache != NULL)
	{
		MemoryContextDelete(cache_cxt);
		cache = NULL;
		cache_cxt = NULL;
	}
	/* looked up again: DROP and CREATE EXTENSION make a new table */
	if (cache_stale)
		versions_relid = InvalidOid;
	cache_stale = false;
	if (!OidIsValid(versions_relid))
		versions_relid = MlopsRelid("model_versions");
	if (cache == NULL)
	{
		HASHCTL		ctl;

		cache_cxt = AllocSetContextCreate(TopMemoryContext, "mlops input constraints", ALLOCSET_SMALL_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = MODEL_NAME_LEN;
		ctl.entrysize = sizeof(ConstraintsEntry);
		ctl.hcxt = cache_cxt;
		cache = hash_create("mlops input constraints", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
}

/*
 * ContainerToJsonb copies a JSON object found inside another jsonb (a
 * container has no length of its own) into a jsonb datum.
 */
static Jsonb *
ContainerToJsonb(JsonbContainer *c)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbValue *res = NULL;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
		res = pushJsonbValue(&state, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
	return JsonbValueToJsonb(res);
}

/*
 * RaiseViolations raises 22023 when the violations array is not empty.
 */
static void
RaiseViolations(const char *model, Jsonb *violations, int instance)
{
	MlopsList	list;
	uint32		n = JsonContainerSize(&violations->root);

	if (n == 0)
		return;
	MlopsListInit(&list, MLOPS_LIST_MAX);
	for (uint32 i = 0; i < n; i++)
	{
		JsonbValue *item = getIthJsonbValueFromContainer(&violations->root, i);
		JsonbValue *f = getKeyJsonValueFromContainer(item->val.binary.data, "field", 5, NULL);
		JsonbValue *m = getKeyJsonValueFromContainer(item->val.binary.data, "message", 7, NULL);

		MlopsListAdd(&list, "%s %s",
					 f && f->type == jbvString ? pnstrdup(f->val.string.val, f->val.string.len) : "?",
					 m && m->type == jbvString ? pnstrdup(m->val.string.val, m->val.string.len) : "?");
	}
	if (instance >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("instance %d breaks the input constraints of model \"%s\"", instance, model),
				 errdetail("%s.", MlopsListDone(&list)),
				 errhint("mlops.validate_input(model, features) lists every violation.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("the features break the input constraints of model \"%s\"", model),
			 errdetail("%s.", MlopsListDone(&list)),
			 errhint("mlops.validate_input(model, features) lists every violation.")));
}

/*
 * InvalidateCallback marks the cache stale on a relcache invalidation of
 * mlops.model_versions (the trigger on mlops.input_constraints sends one,
 * as the registry's do) or a reset.  Only flags: the cache may be in use
 * (a lookup's query accepts invalidations), so EnsureCache drops it.
 */
static void
InvalidateCallback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid || relid == versions_relid || !OidIsValid(versions_relid))
	{
		cache_stale = true;
		violations_fn = InvalidOid;
	}
	if (relid == InvalidOid)
		versions_relid = InvalidOid;
}
