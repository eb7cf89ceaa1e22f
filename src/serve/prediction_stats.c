/*
 * prediction_stats.c
 *		Per model version prediction statistics in shared memory.
 *
 * Design
 * ------
 * Like pg_stat_statements: a shared hash table keyed by (database, model
 * name, version), holding up to STATS_MAX_ENTRIES versions, guarded by one LWLock, each
 * entry's counters by its own spinlock.  Every prediction call adds one call,
 * its rows, its duration and whether it failed; durations also go into a
 * log-scale histogram (8 buckets per power of two from 1 microsecond, so a
 * percentile is known within 9%) from which mlops.prediction_stats reports
 * p50, p95 and p99.
 *
 * Locking: recording takes the LWLock shared (the entry cannot be removed
 * meanwhile) and the entry's spinlock; creating an entry takes the LWLock
 * exclusive; mlops.prediction_stats_reset() removes every entry under the
 * exclusive lock and bumps a generation counter, so a backend that cached an
 * entry pointer (PredictionStatsRef) looks it up again.  When the table is
 * full, calls of new versions are not counted (and the view says nothing of
 * them) until a reset.
 *
 * Each database sees and resets only its own entries: two databases may
 * both have a model "churn" version 1, and the owner of one must neither
 * read nor wipe the other's counters.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/tuplestore.h"

#include "common/common.h"
#include "serve/serve.h"

PG_FUNCTION_INFO_V1(mlops_prediction_stats);
PG_FUNCTION_INFO_V1(mlops_prediction_stats_reset);

#define STATS_MAX_ENTRIES 1000	/* model versions tracked */
#define STATS_MODEL_LEN 160		/* longest model name kept, with its end */
#define STATS_BUCKETS 256		/* 8 per power of two from 1 us: up to ~4.6 h */
#define STATS_BUCKETS_PER_OCTAVE 8

typedef struct StatsKey
{
	Oid			dbid;			/* database the model lives in */
	char		model[STATS_MODEL_LEN];
	int32		version;
} StatsKey;

struct PredictionStatsEntry
{
	StatsKey	key;
	slock_t		mutex;
	int64		calls;
	int64		rows;
	int64		errors;
	double		total_ms;
	int64		buckets[STATS_BUCKETS];
};

typedef struct StatsShared
{
	LWLock	   *lock;
	pg_atomic_uint64 generation;
} StatsShared;

static StatsShared *stats_shared = NULL;
static HTAB *stats_hash = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void StatsShmemRequest(void);
static void StatsShmemStartup(void);
static PredictionStatsEntry *FindOrCreate(const char *model, int32 version);
static double BucketMs(int bucket);
static void StatsKeyInit(StatsKey *key, const char *model, int32 version);

/*
 * PredictionStatsInit requests the shared hash table; it does nothing unless
 * mlops is being preloaded (the view then reports the missing preload).
 */
void
PredictionStatsInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = StatsShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = StatsShmemStartup;
}

/* StatsShmemRequest reserves the table and its lock. */
static void
StatsShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(MAXALIGN(sizeof(StatsShared)),
									hash_estimate_size(STATS_MAX_ENTRIES,
													   sizeof(PredictionStatsEntry))));
	RequestNamedLWLockTranche("mlops prediction stats", 1);
}

/* StatsShmemStartup attaches to (or creates) the table. */
static void
StatsShmemStartup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	stats_shared = ShmemInitStruct("mlops prediction stats", sizeof(StatsShared), &found);
	if (!found)
	{
		stats_shared->lock = &(GetNamedLWLockTranche("mlops prediction stats"))->lock;
		pg_atomic_init_u64(&stats_shared->generation, 1);
	}
	info.keysize = sizeof(StatsKey);
	info.entrysize = sizeof(PredictionStatsEntry);
	stats_hash = ShmemInitHash("mlops prediction stats hash",
							   STATS_MAX_ENTRIES, STATS_MAX_ENTRIES,
							   &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * PredictionStatsRecord adds one prediction call of rows rows that took
 * elapsed_ms (and failed when error) to the statistics of a model version.
 * ref caches the entry between calls.  Without shared memory it does
 * nothing.
 */
void
PredictionStatsRecord(PredictionStatsRef *ref, const char *model, int32 version,
					  int64 rows, double elapsed_ms, bool error)
{
	PredictionStatsEntry *entry;
	uint64		generation;
	double		us;
	int			bucket;

	if (stats_shared == NULL)
		return;
	us = elapsed_ms * 1000.0;
	bucket = us <= 1.0 ? 0 : (int) (log2(us) * STATS_BUCKETS_PER_OCTAVE);
	bucket = Min(Max(bucket, 0), STATS_BUCKETS - 1);

	LWLockAcquire(stats_shared->lock, LW_SHARED);
	generation = pg_atomic_read_u64(&stats_shared->generation);
	if (ref->generation != generation || (ref->entry == NULL && !ref->absent))
	{
		StatsKey	key;

		StatsKeyInit(&key, model, version);
		ref->entry = hash_search(stats_hash, &key, HASH_FIND, NULL);
		ref->generation = generation;
		ref->absent = false;
		if (ref->entry == NULL)
		{
			LWLockRelease(stats_shared->lock);
			ref->entry = FindOrCreate(model, version);
			ref->absent = (ref->entry == NULL);
			LWLockAcquire(stats_shared->lock, LW_SHARED);
			if (pg_atomic_read_u64(&stats_shared->generation) != generation)
			{
				/* reset meanwhile: look up again next time */
				ref->entry = NULL;
				ref->generation = 0;
			}
		}
	}
	entry = ref->entry;
	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		entry->calls++;
		entry->rows += rows;
		if (error)
			entry->errors++;
		entry->total_ms += elapsed_ms;
		entry->buckets[bucket]++;
		SpinLockRelease(&entry->mutex);
	}
	LWLockRelease(stats_shared->lock);
}

/*
 * FindOrCreate returns the entry of a model version, creating it under the
 * exclusive lock; NULL when the table is full.
 */
static PredictionStatsEntry *
FindOrCreate(const char *model, int32 version)
{
	StatsKey	key;
	PredictionStatsEntry *entry;
	bool		found;

	StatsKeyInit(&key, model, version);
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	entry = hash_search(stats_hash, &key, HASH_ENTER_NULL, &found);
	if (entry != NULL && !found)
	{
		SpinLockInit(&entry->mutex);
		entry->calls = entry->rows = entry->errors = 0;
		entry->total_ms = 0;
		memset(entry->buckets, 0, sizeof(entry->buckets));
	}
	LWLockRelease(stats_shared->lock);
	return entry;
}

/*
 * StatsKeyInit fills the hash key of a model version of this database
 * (zeroed first: the key is hashed as bytes).
 */
static void
StatsKeyInit(StatsKey *key, const char *model, int32 version)
{
	memset(key, 0, sizeof(*key));
	key->dbid = MyDatabaseId;
	strlcpy(key->model, model, sizeof(key->model));
	key->version = version;
}

/*
 * BucketMs returns the representative duration of a histogram bucket in
 * milliseconds: the geometric middle of its bounds.
 */
static double
BucketMs(int bucket)
{
	return pow(2.0, (bucket + 0.5) / STATS_BUCKETS_PER_OCTAVE) / 1000.0;
}

/*
 * Percentile returns the duration (ms) below which a fraction q of the
 * calls fell, from a histogram with total calls.
 */
static double
Percentile(const int64 *buckets, int64 total, double q)
{
	int64		rank = (int64) ceil(q * total);
	int64		seen = 0;

	for (int b = 0; b < STATS_BUCKETS; b++)
	{
		seen += buckets[b];
		if (seen >= rank && seen > 0)
			return BucketMs(b);
	}
	return BucketMs(STATS_BUCKETS - 1);
}

/*
 * mlops_prediction_stats implements the function behind the
 * mlops.prediction_stats view: one row per model version (model, version,
 * calls, rows, errors, total_ms, mean_ms, p50_ms, p95_ms, p99_ms) of this
 * database.
 */
Datum
mlops_prediction_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	PredictionStatsEntry *entry;

	InitMaterializedSRF(fcinfo, 0);
	if (stats_shared == NULL)
		MlopsRequirePreload("mlops.prediction_stats");
	LWLockAcquire(stats_shared->lock, LW_SHARED);
	hash_seq_init(&status, stats_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		PredictionStatsEntry copy;
		Datum		values[10];
		bool		nulls[10] = {0};

		if (entry->key.dbid != MyDatabaseId)
			continue;
		SpinLockAcquire(&entry->mutex);
		memcpy(&copy, entry, sizeof(copy));
		SpinLockRelease(&entry->mutex);

		values[0] = CStringGetTextDatum(copy.key.model);
		values[1] = Int32GetDatum(copy.key.version);
		values[2] = Int64GetDatum(copy.calls);
		values[3] = Int64GetDatum(copy.rows);
		values[4] = Int64GetDatum(copy.errors);
		values[5] = Float8GetDatum(copy.total_ms);
		if (copy.calls > 0)
		{
			values[6] = Float8GetDatum(copy.total_ms / copy.calls);
			values[7] = Float8GetDatum(Percentile(copy.buckets, copy.calls, 0.50));
			values[8] = Float8GetDatum(Percentile(copy.buckets, copy.calls, 0.95));
			values[9] = Float8GetDatum(Percentile(copy.buckets, copy.calls, 0.99));
		}
		else
			nulls[6] = nulls[7] = nulls[8] = nulls[9] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(stats_shared->lock);
	return (Datum) 0;
}

/*
 * mlops_prediction_stats_reset implements mlops.prediction_stats_reset():
 * it forgets every entry of this database and returns how many there were.
 */
Datum
mlops_prediction_stats_reset(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS status;
	PredictionStatsEntry *entry;
	int			removed = 0;

	(void) fcinfo;
	if (stats_shared == NULL)
		MlopsRequirePreload("mlops.prediction_stats_reset");
	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&status, stats_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->key.dbid != MyDatabaseId)
			continue;
		hash_search(stats_hash, &entry->key, HASH_REMOVE, NULL);
		removed++;
	}
	pg_atomic_fetch_add_u64(&stats_shared->generation, 1);
	LWLockRelease(stats_shared->lock);
	PG_RETURN_INT32(removed);
}
