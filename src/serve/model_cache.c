/*
 * model_cache.c
 *		Per-backend cache of deserialized boosters.
 *
 * Design
 * ------
 * Deserializing a booster costs milliseconds; predicting one row costs tens
 * of microseconds.  So every backend keeps the boosters it used, and a
 * prediction resolves its model reference and finds its booster without
 * touching a table:
 *
 *   ref_map:   model reference text ('churn', 'churn/3', 'churn@champion')
 *              -> (model_id, version), filled by ResolveModelRef;
 *   model_map: (model_id, version) -> CachedModel (booster, input schema,
 *              output kind, statistics slot), each in its own memory context
 *              whose deletion frees the booster (xgb.c reset callbacks).
 *
 * A version's bytes never change, so a loaded booster stays right for its
 * version; what changes is which version a reference means (stage and alias
 changes, new versions, deletions).  The registry's statement triggers on
 * mlops.models, mlops.model_versions and mlops.model_aliases
 * (registry.c) queue a relcache invalidation of mlops.model_versions for
 * every change, which PostgreSQL delivers transactionally: to other
 * backends after commit, to this one at the next command.  Our relcache callback
 * marks ref_map stale (it must not touch catalogs, so it only sets a flag);
 * the next ModelCacheGet first processes pending invalidations
 * (AcceptInvalidationMessages) and empties ref_map if stale, so a
 * prediction never uses a reference resolved before a committed change.
 * A full relcache reset (InvalidOid) also drops the boosters.
 *
 * The cache is bounded by mlops.model_cache_mb: each entry counts the size
 * of its serialized model (a proxy for the booster's native memory) plus its
 * palloc'd schema; after a load the least recently used entries are evicted
 * until the total fits, never the one just loaded.
 *
 * A caller that keeps using a model while other predictions may run
 * (mlops.predict_table, whose source query may itself predict) pins it:
 * pinned models are never evicted, reset or dropped.  Pins are released at
 * the end of the scan, on success and on error alike.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "common/common.h"
#include "serve/serve.h"

PG_FUNCTION_INFO_V1(mlops_model_cache);
PG_FUNCTION_INFO_V1(mlops_model_cache_reset);

/* Longest model reference kept in ref_map; longer ones resolve every call */
#define MODEL_REF_MAX 256

typedef struct RefEntry
{
	char		ref[MODEL_REF_MAX];	/* key */
	char		name[MODEL_REF_MAX];	/* the model's name, a prefix of ref */
	int64		model_id;
	int32		version;
} RefEntry;

typedef struct ModelKey
{
	int64		model_id;
	int32		version;
} ModelKey;

typedef struct ModelEntry
{
	ModelKey	key;
	CachedModel *model;
} ModelEntry;

static MemoryContext cache_cxt = NULL;
static HTAB *ref_map = NULL;
static HTAB *model_map = NULL;
static bool refs_stale = false;
static bool models_stale = false;
static Oid	versions_relid = InvalidOid;
static uint64 use_clock = 0;
static Size cache_bytes = 0;

static void ModelCacheRelcacheCallback(Datum arg, Oid relid);
static void EnsureMaps(void);
static void DropModel(ModelEntry *entry);
static CachedModel *LoadModel(int64 model_id, int32 version, const char *name);
static void ReadVersionInfo(CachedModel *model, char **task, Jsonb **schema,
							ArrayType **feature_names);
static ModelSchema *SchemaFromFeatureNames(ArrayType *names, int nfeatures);
static void EvictToLimit(CachedModel *keep);

/*
 * ModelCacheInit registers the relcache callback that invalidates cached
 * model references.  It calls nothing in XGBoost.
 */
void
ModelCacheInit(void)
{
	CacheRegisterRelcacheCallback(ModelCacheRelcacheCallback, (Datum) 0);
}

/*
 * ModelCacheRelcacheCallback marks the cache stale when the registry tables
 * changed (or on a full reset).  It only sets flags: no catalog access is
 * allowed here.
 */
static void
ModelCacheRelcacheCallback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid)
	{
		refs_stale = true;
		models_stale = true;
		versions_relid = InvalidOid;
	}
	else if (relid == versions_relid || !OidIsValid(versions_relid))
		refs_stale = true;
}

/*
 * EnsureMaps creates the cache's hash tables on first use and empties what
 * invalidations made stale.
 */
static void
EnsureMaps(void)
{
	HASHCTL		ctl;

	if (cache_cxt == NULL)
	{
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "mlops model cache",
										  ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = MODEL_REF_MAX;
		ctl.entrysize = sizeof(RefEntry);
		ctl.hcxt = cache_cxt;
		ref_map = hash_create("mlops model references", 64, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		ctl.keysize = sizeof(ModelKey);
		ctl.entrysize = sizeof(ModelEntry);
		model_map = hash_create("mlops models", 64, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (refs_stale || models_stale)
	{
		HASH_SEQ_STATUS status;
		RefEntry   *ref;

		refs_stale = false;
		/* looked up again below: DROP and CREATE EXTENSION make a new table */
		versions_relid = InvalidOid;
		hash_seq_init(&status, ref_map);
		while ((ref = hash_seq_search(&status)) != NULL)
			hash_search(ref_map, ref->ref, HASH_REMOVE, NULL);
	}
	if (models_stale)
	{
		HASH_SEQ_STATUS status;
		ModelEntry *entry;

		models_stale = false;
		hash_seq_init(&status, model_map);
		while ((entry = hash_seq_search(&status)) != NULL)
			if (entry->model->pins == 0)
				DropModel(entry);
	}
	if (!OidIsValid(versions_relid))
		versions_relid = MlopsRelid("model_versions");
}

/* DropModel removes a model from the cache and frees its booster. */
static void
DropModel(ModelEntry *entry)
{
	CachedModel *model = entry->model;

	hash_search(model_map, &entry->key, HASH_REMOVE, NULL);
	cache_bytes -= model->size;
	MemoryContextDelete(model->cxt);
}

/*
 * ModelCacheGet returns the loaded model a reference means now, resolving
 * and loading it when the cache does not hold it.  Errors (unknown model,
 * corrupted bytes, a malformed schema) leave the cache unchanged.
 */
CachedModel *
ModelCacheGet(const char *ref)
{
	RefEntry   *rentry = NULL;
	ModelKey	key;
	ModelEntry *mentry;
	CachedModel *model;
	char	   *name = NULL;
	bool		found;

	AcceptInvalidationMessages();
	EnsureMaps();

	if (strlen(ref) < MODEL_REF_MAX)
		rentry = hash_search(ref_map, ref, HASH_FIND, NULL);
	memset(&key, 0, sizeof(key));
	if (rentry != NULL)
	{
		key.model_id = rentry->model_id;
		key.version = rentry->version;
		name = rentry->name;
	}
	else
	{
		ResolvedModel resolved;

		MlopsPushCacheSnapshot();
		ResolveModelRef(ref, &resolved);
		PopActiveSnapshot();
		key.model_id = resolved.model_id;
		key.version = resolved.version;
		name = pstrdup(resolved.name);
		if (strlen(ref) < MODEL_REF_MAX)
		{
			rentry = hash_search(ref_map, ref, HASH_ENTER, &found);
			rentry->model_id = key.model_id;
			rentry->version = key.version;
			strlcpy(rentry->name, name, MODEL_REF_MAX);
		}
	}

	mentry = hash_search(model_map, &key, HASH_FIND, NULL);
	if (mentry == NULL)
	{
		model = LoadModel(key.model_id, key.version, name);
		mentry = hash_search(model_map, &key, HASH_ENTER, &found);
		mentry->model = model;
		cache_bytes += model->size;
		EvictToLimit(model);
	}
	model = mentry->model;
	model->last_used = ++use_clock;
	model->hits++;
	return model;
}

/*
 * ModelCacheVerify loads the version a reference means from its stored
 * bytes, bypassing and not changing the cache, and frees it again: it
 * raises the ERROR a fresh load would (checksum, XGBoost, schema).
 */
void
ModelCacheVerify(const char *ref)
{
	ResolvedModel resolved;
	CachedModel *model;

	AcceptInvalidationMessages();
	EnsureMaps();
	ResolveModelRef(ref, &resolved);
	model = LoadModel(resolved.model_id, resolved.version, resolved.name);
	MemoryContextDelete(model->cxt);
}

/*
 * LoadModel fetches a version's bytes (checksum verified by the registry),
 * deserializes the booster and reads its input schema, all in a new memory
 * context that is deleted if anything fails.
 */
static CachedModel *
LoadModel(int64 model_id, int32 version, const char *name)
{
	MemoryContext cxt = AllocSetContextCreate(cache_cxt, "mlops cached model",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = CurrentMemoryContext;
	CachedModel *model;

	PG_TRY();
	{
		bytea	   *bytes;
		char	   *task;
		Jsonb	   *schema;
		ArrayType  *feature_names;
		MlopsOwnerSave save;

		MemoryContextSwitchTo(cxt);
		model = palloc0(sizeof(CachedModel));
		model->model_id = model_id;
		model->version = version;
		model->name = pstrdup(name);
		model->cxt = cxt;

		bytes = FetchModelBytes(model_id, version);
		MlopsBeginOwner(&save);
		ReadVersionInfo(model, &task, &schema, &feature_names);
		MlopsEndOwner(&save);

		model->booster = XgbBoosterLoadJson(cxt, VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes));
		XgbBoosterSetParam(model->booster, "nthread", "1");
		model->nthread = 1;
		model->nfeatures = XgbBoosterNumFeatures(model->booster);
		model->objective = XgbBoosterObjective(model->booster);
		if (schema != NULL)
			model->schema = ModelSchemaFromJsonb(schema, model->nfeatures);
		else if (feature_names != NULL)
			model->schema = SchemaFromFeatureNames(feature_names, model->nfeatures);

		model->output = ObjectiveOutput(model->objective,
										task != NULL && strcmp(task, "regression") == 0);

		if (model->output != OUTPUT_VALUE)
		{
			model->nclasses = XgbBoosterNumClass(model->booster);
			if (model->nclasses < 2)
				model->nclasses = 2;
			if (model->schema != NULL && model->schema->nclasses > 0 &&
				model->schema->nclasses != model->nclasses)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("model \"%s\" version %d lists %d classes for a booster with %d",
								name, version, model->schema->nclasses, model->nclasses)));
		}
		model->loaded_at = GetCurrentTimestamp();
		model->size = VARSIZE_ANY_EXHDR(bytes) + MemoryContextMemAllocated(cxt, true);
		pfree(bytes);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return model;
}

/*
 * ReadVersionInfo reads a version's task, input_schema and feature_names
 * from mlops.model_versions (the caller runs as the extension owner);
 * results are copied into the current memory context.
 */
static void
ReadVersionInfo(CachedModel *model, char **task, Jsonb **schema, ArrayType **feature_names)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	bool		isnull;
	Datum		d;

	values[0] = Int64GetDatum(model->model_id);
	values[1] = Int32GetDatum(model->version);
	*task = NULL;
	*schema = NULL;
	*feature_names = NULL;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT task, input_schema, feature_names FROM mlops.model_versions "
							  "WHERE model_id OPERATOR(pg_catalog.=) $1 "
							  "AND version OPERATOR(pg_catalog.=) $2",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read model version");
	if (SPI_processed == 1)
	{
		MemoryContext spicxt = MemoryContextSwitchTo(cxt);

		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			*task = TextDatumGetCString(d);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (!isnull)
			*schema = DatumGetJsonbPCopy(d);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		if (!isnull)
			*feature_names = DatumGetArrayTypePCopy(d);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
}

/*
 * SchemaFromFeatureNames returns the schema of a version that has feature
 * names but no input_schema (imported before 0.2.0): every feature numeric
 * (a categorical one takes its code), as mlops.model_schema shows it.  A
 * name list that does not match the booster is ignored.
 */
static ModelSchema *
SchemaFromFeatureNames(ArrayType *names, int nfeatures)
{
	ModelSchema *ms;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(names) != 1)
		return NULL;
	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n != nfeatures)
		return NULL;
	ms = palloc0(sizeof(ModelSchema));
	ms->nfeatures = n;
	ms->features = palloc0(sizeof(FeatureColumn) * Max(n, 1));
	for (int j = 0; j < n; j++)
	{
		if (nulls[j])
			return NULL;
		ms->features[j].name = TextDatumGetCString(elems[j]);
		ms->features[j].kind = FEATURE_FLOAT;
		ms->features[j].attno = -1;
	}
	return ms;
}

/*
 * EvictToLimit evicts least recently used models until the cache fits
 * mlops.model_cache_mb, keeping keep.
 */
static void
EvictToLimit(CachedModel *keep)
{
	Size		limit = (Size) mlops_model_cache_mb * 1024 * 1024;

	while (cache_bytes > limit)
	{
		HASH_SEQ_STATUS status;
		ModelEntry *entry;
		ModelEntry *victim = NULL;

		hash_seq_init(&status, model_map);
		while ((entry = hash_seq_search(&status)) != NULL)
		{
			if (entry->model == keep || entry->model->pins > 0)
				continue;
			if (victim == NULL || entry->model->last_used < victim->model->last_used)
				victim = entry;
		}
		if (victim == NULL)
			break;
		DropModel(victim);
	}
}

/*
 * ModelCacheBuildForest builds the model's forest for the native tree walk
 * (XgbForestBuild: NULL when the model cannot be walked or its walk differs
 * from XGBoost), once per cached model, on the first small prediction with
 * mlops.native_tree_walk on: loads for large batches only, or with the walk
 * off, never pay for it.  The forest lives in the model's context and
 * counts towards its size.  Nothing is evicted here (the call may hold
 * another model's output, a shadow's or a canary's): the next load applies
 * mlops.model_cache_mb (EvictToLimit).
 */
void
ModelCacheBuildForest(CachedModel *model)
{
	Size		before = MemoryContextMemAllocated(model->cxt, true);
	Size		grown;

	model->forest_tried = true; /* an error here is not retried per call */
	/* XgbForestBuild compares with XGBoost's output on one thread */
	ModelCacheSetThreads(model, 1);
	model->forest = XgbForestBuild(model->cxt, model->booster, model->nfeatures);
	if (model->forest != NULL &&
		ForestOutputsPerRow(model->forest) != (model->output == OUTPUT_PROBS ? model->nclasses : 1))
		model->forest = NULL;
	grown = MemoryContextMemAllocated(model->cxt, true) - before;
	model->size += grown;
	cache_bytes += grown;
}

/*
 * ModelCacheSetThreads sets the number of threads the model's booster
 * predicts with, if it differs from the current setting.
 */
void
ModelCacheSetThreads(CachedModel *model, int nthread)
{
	if (model->nthread == nthread)
		return;
	XgbBoosterSetParam(model->booster, "nthread", psprintf("%d", nthread));
	model->nthread = nthread;
}

/*
 * mlops_model_cache implements mlops.model_cache(): the models this backend
 * holds (model, version, size_bytes, hits, last_used, loaded_at).
 */
Datum
mlops_model_cache(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	ModelEntry *entry;

	InitMaterializedSRF(fcinfo, 0);
	AcceptInvalidationMessages();
	EnsureMaps();
	hash_seq_init(&status, model_map);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		CachedModel *m = entry->model;
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		values[0] = CStringGetTextDatum(m->name);
		values[1] = Int32GetDatum(m->version);
		values[2] = Int64GetDatum((int64) m->size);
		values[3] = Int64GetDatum(m->hits);
		values[4] = Int64GetDatum((int64) m->last_used);
		values[5] = TimestampTzGetDatum(m->loaded_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * mlops_model_cache_reset implements mlops.model_cache_reset(): it empties
 * this backend's cache and returns how many models it dropped.
 */
Datum
mlops_model_cache_reset(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS status;
	ModelEntry *entry;
	int			dropped = 0;

	(void) fcinfo;
	refs_stale = true;
	EnsureMaps();
	hash_seq_init(&status, model_map);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->model->pins > 0)
			continue;
		DropModel(entry);
		dropped++;
	}
	PG_RETURN_INT32(dropped);
}

/* ModelCachePin keeps a model in the cache until ModelCacheUnpin. */
void
ModelCachePin(CachedModel *model)
{
	model->pins++;
}

/* ModelCacheUnpin releases a pin taken by ModelCachePin. */
void
ModelCacheUnpin(CachedModel *model)
{
	Assert(model->pins > 0);
	model->pins--;
}

/*
 * ModelCacheStats reports the number of cached models and their counted
 * bytes (for mlops.health).
 */
void
ModelCacheStats(int *entries, int64 *bytes)
{
	*entries = model_map ? (int) hash_get_num_entries(model_map) : 0;
	*bytes = (int64) cache_bytes;
}
