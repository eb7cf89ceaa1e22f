/*-------------------------------------------------------------------------
 *
 * ab_cache.c
 *	  The per-backend cache mlops.ab_predict answers an assigned user from:
 *	  A/B tests by name (id, state, and every variant's arm with its pinned
 *	  model version) and users' assignments ((test id, user id) -> arm).
 *
 * Tests are read on first use under the latest snapshot
 * (MlopsPushCacheSnapshot, like the model, route and constraint caches)
 * and kept until a relcache invalidation of mlops.ab_tests or
 * mlops.ab_assignments (or a reset) empties the whole cache: the
 * statement trigger mlops._ab_changed queues one for every change of a
 * test (create, weights, stop, delete) and for every change of an
 * assignment that could move a user (a delete, an update of its keys or
 * variant; not the conversions record_conversion adds, nor inserts).
 * PostgreSQL delivers it to the other backends after commit, and to this
 * one at once (and again at abort).
 *
 * An assignment never moves once drawn, so one read from the table is
 * kept: tied to the test's id (a test dropped and created again under the
 * same name has a new id) and emptied with the tests.  Only assignments
 * another transaction committed are kept: the one this transaction has
 * just inserted (a first exposure) could still roll back.  At most
 * AB_ASSIGNMENTS_MAX are kept (then the assignments start over), and only
 * for user ids shorter than AB_USER_KEY_MAX bytes (longer ones are read
 * every time).
 *
 * The reads are index probes made directly, without the executor, and
 * check no privilege: the caller's EXECUTE on mlops.ab_predict is what
 * lets it see the variant and model version of a user, as before.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "common/common.h"
#include "deploy/ab_cache.h"
#include "deploy/ab_stats.h"
#include "deploy/deploy.h"

PG_FUNCTION_INFO_V1(mlops_ab_changed);

/* Test names are 1 to 128 characters (the CHECK of mlops.ab_tests.name) */
#define AB_NAME_MAX 132
/* User ids kept in the cache are shorter than this many bytes */
#define AB_USER_KEY_MAX 64
/* Most assignments kept per backend (about 100 bytes each) */
#define AB_ASSIGNMENTS_MAX 65536

typedef struct AbTestEntry
{
	char		name[AB_NAME_MAX];	/* key */
	int64		id;
	int			everyone;		/* a stopped test: its winner's arm; -1 running */
	int			narms;
	AbArm	   *arms;
} AbTestEntry;

typedef struct AbUserKey
{
	int64		test_id;
	char		user_id[AB_USER_KEY_MAX];	/* zero-padded */
} AbUserKey;

typedef struct AbUserEntry
{
	AbUserKey	key;
	int			arm;
} AbUserEntry;

static MemoryContext ab_cxt = NULL;
static HTAB *test_map = NULL;
static HTAB *user_map = NULL;
static bool ab_stale = false;
static bool callback_registered = false;
static Oid	tests_relid = InvalidOid;
static Oid	assignments_relid = InvalidOid;

static void AbRelcacheCallback(Datum arg, Oid relid);
static void AbCacheEnsure(void);
static void AbCreateUserMap(void);
static AbTestEntry *AbTest(text *test);
static AbTestEntry *AbFillTest(text *test, const char *key);
static bool AbArmsFrom(Datum variants, text *state, text *winner, AbTestEntry *entry);
static int	AbAssignment(AbTestEntry *t, text *user_id);
static int	AbArmIndex(AbTestEntry *t, const char *variant);
static bool AbProbe(Oid relid, const char *indexname, int nkeys, Datum *keys,
					int natts, const char *const *attnames, Datum *values, bool *isnull,
					bool *ours);

/*
 * AbCachedArm returns the arm a user of a test gets now (the winner's for
 * everyone when the test is stopped), from the cache or read into it;
 * NULL when the test does not exist, the user is not assigned yet, or
 * there is no statement snapshot to read with (the caller then takes the
 * first-exposure path, which assigns or says what is wrong).  The arm
 * stays valid until the next call.
 */
const AbArm *
AbCachedArm(text *test, text *user_id)
{
	AbTestEntry *t;
	int			arm;

	/* no statement snapshot (a procedure between transactions): the SPI path reads */
	if (!ActiveSnapshotSet())
		return NULL;
	AcceptInvalidationMessages();
	AbCacheEnsure();
	if (!OidIsValid(tests_relid) || !OidIsValid(assignments_relid))
		return NULL;
	t = AbTest(test);
	if (t == NULL)
		return NULL;
	if (t->everyone >= 0)
		return &t->arms[t->everyone];
	arm = AbAssignment(t, user_id);
	return arm < 0 ? NULL : &t->arms[arm];
}

/*
 * AbRelcacheCallback marks the cache stale on an invalidation of
 * mlops.ab_tests or mlops.ab_assignments, or a reset.  Only a flag: an arm
 * handed out may be in use, so AbCacheEnsure empties the cache at the
 * next call.
 */
static void
AbRelcacheCallback(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid || relid == tests_relid || relid == assignments_relid ||
		!OidIsValid(tests_relid) || !OidIsValid(assignments_relid))
		ab_stale = true;
}

/*
 * AbCacheEnsure registers the invalidation callback, empties the cache
 * when it is stale (and looks the two tables up again: the extension may
 * have been dropped and created again), and creates its maps.
 */
static void
AbCacheEnsure(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(AbRelcacheCallback, (Datum) 0);
		callback_registered = true;
	}
	if (ab_stale)
	{
		ab_stale = false;
		if (ab_cxt != NULL)
			MemoryContextReset(ab_cxt);
		test_map = NULL;
		user_map = NULL;
		tests_relid = InvalidOid;
		assignments_relid = InvalidOid;
	}
	if (!OidIsValid(tests_relid) || !OidIsValid(assignments_relid))
	{
		tests_relid = MlopsRelid("ab_tests");
		assignments_relid = MlopsRelid("ab_assignments");
	}
	if (ab_cxt == NULL)
		ab_cxt = AllocSetContextCreate(TopMemoryContext, "mlops a/b test cache",
									   ALLOCSET_DEFAULT_SIZES);
	if (test_map == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = AB_NAME_MAX;
		ctl.entrysize = sizeof(AbTestEntry);
		ctl.hcxt = ab_cxt;
		test_map = hash_create("mlops a/b tests", 16, &ctl,
							   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	if (user_map == NULL)
		AbCreateUserMap();
}

/* AbCreateUserMap creates the (empty) map of assignments. */
static void
AbCreateUserMap(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(AbUserKey);
	ctl.entrysize = sizeof(AbUserEntry);
	ctl.hcxt = ab_cxt;
	user_map = hash_create("mlops a/b assignments", 1024, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * AbTest returns the cached test of this name, reading it on first use;
 * NULL when there is no such test (or no valid one).
 */
static AbTestEntry *
AbTest(text *test)
{
	char		key[AB_NAME_MAX];
	int			len = VARSIZE_ANY_EXHDR(test);
	AbTestEntry *t;

	if (len == 0 || len >= AB_NAME_MAX)
		return NULL;
	memcpy(key, VARDATA_ANY(test), len);
	key[len] = '\0';
	t = hash_search(test_map, key, HASH_FIND, NULL);
	return t != NULL ? t : AbFillTest(test, key);
}

/*
 * AbFillTest reads the test from mlops.ab_tests under the latest snapshot
 * and adds it to the cache, with its arms in a memory context of its own;
 * NULL (nothing added) when there is no such test or one of its variants
 * has no pinned model version.
 */
static AbTestEntry *
AbFillTest(text *test, const char *key)
{
	static const char *const cols[] = {"id", "variants", "state", "winner"};
	Datum		keys[1];
	Datum		values[4];
	bool		nulls[4];
	bool		found;
	AbTestEntry entry;
	AbTestEntry *t;

	keys[0] = PointerGetDatum(test);
	MlopsPushCacheSnapshot();
	found = AbProbe(tests_relid, "ab_tests_name_key", 1, keys, 4, cols, values, nulls, NULL);
	PopActiveSnapshot();
	if (!found || nulls[0] || nulls[1] || nulls[2])
		return NULL;
	entry.id = DatumGetInt64(values[0]);
	if (!AbArmsFrom(values[1], DatumGetTextPP(values[2]),
					nulls[3] ? NULL : DatumGetTextPP(values[3]), &entry))
		return NULL;
	t = hash_search(test_map, key, HASH_ENTER, &found);
	t->id = entry.id;
	t->everyone = entry.everyone;
	t->narms = entry.narms;
	t->arms = entry.arms;
	return t;
}

/*
 * AbArmsFrom fills entry's arms from the test's variants array (in
 * ab_cxt) and, for a stopped test, the arm everyone gets (the winner's,
 * the control's when there is none); false when a variant has no pinned
 * version or the winner is not a variant.
 */
static bool
AbArmsFrom(Datum variants, text *state, text *winner, AbTestEntry *entry)
{
	Jsonb	   *v = DatumGetJsonbP(variants);
	int			n = JsonContainerSize(&v->root);
	MemoryContext cxt;
	MemoryContext old;
	bool		ok = JsonContainerIsArray(&v->root) && n > 0 && n <= AB_MAX_VARIANTS;

	if (!ok)
		return false;
	cxt = AllocSetContextCreate(ab_cxt, "mlops a/b test", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	entry->narms = n;
	entry->arms = palloc0(sizeof(AbArm) * n);
	entry->everyone = -1;
	for (int i = 0; ok && i < n; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(&v->root, i);
		JsonbValue *name = NULL;

		if (elem != NULL && elem->type == jbvBinary)
			name = getKeyJsonValueFromContainer(elem->val.binary.data, "name", 4, NULL);
		ok = name != NULL && name->type == jbvString &&
			AbArmFrom(elem->val.binary.data, pnstrdup(name->val.string.val, name->val.string.len),
					  &entry->arms[i]);
	}
	if (ok && strcmp(text_to_cstring(state), "stopped") == 0)
	{
		entry->everyone = AbArmIndex(entry, winner != NULL ? text_to_cstring(winner) : "control");
		ok = entry->everyone >= 0;
	}
	MemoryContextSwitchTo(old);
	if (!ok)
		MemoryContextDelete(cxt);
	return ok;
}

/*
 * AbArmFrom fills arm (in the current memory context) from one stored
 * variant object (create_ab_test put model_name, model_version and
 * probability in each); false when it has no pinned model version.
 */
bool
AbArmFrom(JsonbContainer *elem, const char *variant, AbArm *arm)
{
	JsonbValue *model = getKeyJsonValueFromContainer(elem, "model_name", 10, NULL);
	JsonbValue *version = getKeyJsonValueFromContainer(elem, "model_version", 13, NULL);
	JsonbValue *prob = getKeyJsonValueFromContainer(elem, "probability", 11, NULL);

	if (variant == NULL || model == NULL || model->type != jbvString ||
		version == NULL || version->type != jbvNumeric)
		return false;
	arm->variant = pstrdup(variant);
	arm->model_name = pnstrdup(model->val.string.val, model->val.string.len);
	arm->model_version = DatumGetInt32(DirectFunctionCall1(numeric_int4,
														   NumericGetDatum(version->val.numeric)));
	arm->probability = prob != NULL && prob->type == jbvBool && prob->val.boolean;
	arm->ref = cstring_to_text(psprintf("%s/%d", arm->model_name, arm->model_version));
	arm->version_number = int64_to_numeric(arm->model_version);
	return true;
}

/*
 * AbAssignment returns the arm index of the user's recorded variant in a
 * running test, from the cache or read with the statement's snapshot and
 * kept when another transaction committed it; -1 when the user is not
 * assigned (as this snapshot sees it).
 */
static int
AbAssignment(AbTestEntry *t, text *user_id)
{
	static const char *const cols[] = {"variant"};
	int			len = VARSIZE_ANY_EXHDR(user_id);
	bool		cacheable = len > 0 && len < AB_USER_KEY_MAX;
	AbUserKey	key;
	AbUserEntry *e;
	Datum		keys[2];
	Datum		value[1];
	bool		isnull[1];
	bool		ours;
	int			arm;

	if (cacheable)
	{
		memset(&key, 0, sizeof(key));
		key.test_id = t->id;
		memcpy(key.user_id, VARDATA_ANY(user_id), len);
		e = hash_search(user_map, &key, HASH_FIND, NULL);
		if (e != NULL)
			return e->arm;
	}
	keys[0] = Int64GetDatum(t->id);
	keys[1] = PointerGetDatum(user_id);
	if (!AbProbe(assignments_relid, "ab_assignments_pkey", 2, keys, 1, cols, value, isnull, &ours) ||
		isnull[0])
		return -1;
	arm = AbArmIndex(t, TextDatumGetCString(value[0]));
	if (arm < 0 || !cacheable || ours)
		return arm;
	if (hash_get_num_entries(user_map) >= AB_ASSIGNMENTS_MAX)
	{
		hash_destroy(user_map);
		AbCreateUserMap();
	}
	e = hash_search(user_map, &key, HASH_ENTER, NULL);
	e->arm = arm;
	return arm;
}

/* AbArmIndex returns the index of the arm of this variant, -1 when none. */
static int
AbArmIndex(AbTestEntry *t, const char *variant)
{
	for (int i = 0; i < t->narms; i++)
		if (strcmp(t->arms[i].variant, variant) == 0)
			return i;
	return -1;
}

/*
 * AbProbe reads the row of relation relid whose unique index <indexname>
 * (on bigint and text columns) equals keys, in index column order, as the
 * active snapshot sees it, and copies its columns attnames into values;
 * ours (when not NULL) says whether this transaction wrote the row.  False
 * when there is no such row or no such index.
 */
static bool
AbProbe(Oid relid, const char *indexname, int nkeys, Datum *keys,
		int natts, const char *const *attnames, Datum *values, bool *isnull, bool *ours)
{
	Oid			indexid = MlopsRelid(indexname);
	Relation	rel,
				idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData skey[2];
	bool		found;

	if (!OidIsValid(indexid) || nkeys > 2)
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
			elog(ERROR, "relation %u has no column \"%s\"", relid, attnames[a]);
		att = TupleDescAttr(RelationGetDescr(rel), attno - 1);
		values[a] = slot_getattr(slot, attno, &isnull[a]);
		/* copied (and detoasted) out of the slot, which goes away below */
		if (!isnull[a] && att->attlen == -1)
			values[a] = PointerGetDatum(PG_DETOAST_DATUM_COPY(values[a]));
		else if (!isnull[a])
			values[a] = datumCopy(values[a], att->attbyval, att->attlen);
	}
	if (found && ours != NULL)
	{
		bool		xnull;
		Datum		xmin = slot_getsysattr(slot, MinTransactionIdAttributeNumber, &xnull);

		*ours = xnull || TransactionIdIsCurrentTransactionId(DatumGetTransactionId(xmin));
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * mlops_ab_changed is the statement trigger on mlops.ab_tests and
 * mlops.ab_assignments: it queues the invalidation of every backend's A/B
 * cache (a relcache invalidation of the table, delivered after commit).
 */
Datum
mlops_ab_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	MlopsRequireTrigger(fcinfo, "mlops._ab_changed()");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
