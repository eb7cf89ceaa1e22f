/*
 * pit_merge.c
 *		The point-in-time join of mlops.create_training_set, done in memory
 *		in one pass over each source instead of the SQL of pit_join.c (which
 *		mlops.historical_features_sql returns, and which gives the same rows:
 *		test/sql/feature_store.sql and test/oracle/test_feature_store.py
 *		compare both with brute force and pandas merge_asof).
 *
 * Data flow, every source read AS THE CALLER through the one source reader
 * (SourceOpen/SourceScan: a cursor whose rows are handed over one by one,
 * never copied into SPI tuple tables):
 *
 * 1. For each requested feature set version, its rows with a non-NULL
 *    entity and timestamp are read once, unsorted.  Each entity (cast to the
 *    set's entity type) gets a number from a hash table built on the type's
 *    own hash and equality functions (integers inline); each row keeps its entity number, its
 *    time (microseconds), its created value and the requested features.
 * 2. The rows are grouped by entity with a counting sort, and each entity's
 *    rows sorted by (time, created; a NULL created first): small sorts
 *    instead of one sort of everything.  The times are then laid out in
 *    that order, so a search reads contiguous memory.
 * 3. The entity source is read once, in its order.  For each row and each
 *    set, a binary search finds the entity's last row with time <= event
 *    time (ENTITY_BATCH rows at a time: each step of the lookups runs over
 *    the batch and fetches ahead what the next step reads, so the cache
 *    misses of many rows overlap; integer keys of feature rows are numbered
 *    the same way, a fetch at a time); it is ambiguous (21000, through
 *    mlops._feature_ambiguous, the same error as the SQL join) when the row
 *    before it has the same time and created value, and it gives NULLs when
 *    older than the ttl.  The output rows of a batch are inserted directly
 *    into the new table (created by the caller, through SPI, so CREATE
 *    privilege and ownership are PostgreSQL's) with one multi-insert and a
 *    bulk-insert state, appending (never into free space of earlier pages),
 *    so the table keeps the entity source's order.
 *
 * The ttl is compared as PostgreSQL compares intervals (a month is 30 days,
 * a day 24 hours): (event - feature) > ttl in microseconds.
 *
 * Memory is capped by mlops.training_set_memory_mb.  Before reading, every
 * set's query is planned and its rows estimated (the planner's row count
 * times the bytes a row takes here: ROW_BYTES, GROUP_BYTES, and the copies
 * of by-reference values); over the cap, the join runs as the SQL of
 * historical_features_sql instead (INSERT INTO the new table: PostgreSQL's
 * executor sorts and hashes within work_mem and spills to disk), which
 * gives the same rows in the same order.  While reading, the sets' memory
 * context is measured (MemoryContextMemAllocated, plus what grouping will
 * take) every MERGE_CHECK_ROWS rows and before every array or hash table
 * grows: past the cap the reading stops and the same SQL join runs.  The
 * output table is created only after every set is in memory, so nothing
 * is written twice.  A NOTICE says when the SQL join was used, a DEBUG1
 * line when the join ran in memory.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "common/common.h"
#include "features/features.h"

/* bytes of one feature row in the row arrays, besides its features */
#define ROW_BYTES(set) (sizeof(int32) + sizeof(int64) + \
						((set)->ckind != CREATED_NONE ? sizeof(Datum) + sizeof(bool) : 0))
/* bytes per row and per entity that grouping adds (order, sts; start, next) */
#define GROUP_BYTES (2 * sizeof(int64))
/* the memory of a set is measured this often while reading (a power of two) */
#define MERGE_CHECK_ROWS 4096
/* entity rows looked up together (SearchBatch) */
#define ENTITY_BATCH 256
/* how many keys ahead ResolvePending fetches hash table slots */
#define MERGE_PREFETCH 16
/* rows read per fetch: the reading stops between fetches */
#define MERGE_BATCH 65536L

/* a slot of the entity hash table: a key, its hash and its entity number (-1: empty) */
typedef struct MergeKey
{
	Datum		value;
	uint32		hash;
	int32		index;
} MergeKey;

/* how a set's created column is compared */
typedef enum CreatedKind
{
	CREATED_NONE,				/* no created column */
	CREATED_INT64,				/* integers and times, as int64 */
	CREATED_GENERIC				/* numeric: the type's comparison function */
} CreatedKind;

/* one feature set version, in memory */
typedef struct MergeSet
{
	FeatureRequest *req;
	MemoryContext cxt;
	int			nfeat;
	/* the entity key */
	Oid			keytype;
	Oid			keycoll;
	int16		keylen;
	bool		keybyval;
	bool		keyint;			/* int2, int4 or int8: hashed and compared inline */
	FmgrInfo	hashfn;
	FmgrInfo	eqfn;
	MergeKey   *slots;			/* open addressing, linear probing */
	uint32		nslots;			/* a power of two */
	int32		nentities;
	/* created */
	CreatedKind ckind;
	FmgrInfo	cmpfn;
	/* the rows, in reading order */
	int64		nrows;
	int64		cap;
	int32	   *ent;
	int64	   *ts;
	Datum	   *cr;
	bool	   *crnull;
	Datum	   *vals;			/* nrows * nfeat */
	bool	   *nulls;
	int16	   *flen;
	bool	   *fbyval;
	/* grouped: rows of entity e are order[start[e] .. start[e + 1]) */
	int64	   *order;
	int64	   *sts;			/* ts[order[i]]: times in group order, searched in place */
	int64	   *start;
	/* ttl in microseconds; has_ttl false when none or beyond int64 */
	bool		has_ttl;
	int64		ttl_us;
	/* integer keys of the rows read since the last ResolvePending */
	Datum	   *pend;
	uint32	   *pendhash;
	int64		npend;
	/* reading under the memory cap */
	Portal		portal;			/* open until the set is read */
	double		est_rows;		/* the planner's estimate */
	int64		budget;			/* bytes the set may hold, grouped */
	bool		over;			/* reading passed the budget */
} MergeSet;


/* what the entity pass needs */
typedef struct MergeOutput
{
	MergeSet   *sets;
	int			nsets;
	int			nentity_cols;
	Relation	rel;
	TupleTableSlot *out;
	BulkInsertState bistate;
	CommandId	cid;
	ResourceOwner owner;		/* the bulk-insert state's buffer pins belong here */
	int64		rows;
	/* the entity pass buffers ENTITY_BATCH rows, then looks them all up */
	TupleTableSlot **batch;		/* copies of the buffered entity rows */
	TupleTableSlot **outs;		/* their output rows, inserted together */
	int			nbatch;
	int64	   *t;				/* per buffered row: its event time */
	uint32	   *hash;			/* its key's hash */
	int32	   *ent;			/* its entity number, -1: none */
	int64	   *base;			/* the entity's first row */
	int64	   *lo;				/* the binary search's range */
	int64	   *hi;
	int64	   *found;			/* per row and set: the chosen row, -1: none */
} MergeOutput;

static void OpenSet(MergeSet *set, const char *fquery, MemoryContext parent);
static int64 EstimateSet(MergeSet *set);
static void ReadSet(MergeSet *set);
static int64 SetBytes(MergeSet *set, int64 nrows, int64 extra);
static bool GrowRows(MergeSet *set);
static int64 JoinBySql(const char *qualified, TupleDesc ed, FeatureRequest *reqs, int nreqs,
					   const char *join_sql);
static int64 FillTable(const char *qualified, TupleDesc ed, FeatureRequest *reqs, int nreqs, const char *query,
					   MergeSet *sets, SourceRowCallback callback);
static void CopyJoinRow(TupleTableSlot *slot, void *arg);
static void ReadFeatureRow(TupleTableSlot *slot, void *arg);
static int32 KeyIndex(MergeSet *set, Datum key, bool insert);
static inline uint32 KeyHash(MergeSet *set, Datum key);
static int32 KeyIndexHashed(MergeSet *set, Datum key, uint32 hash, bool insert);
static void ResolvePending(MergeSet *set);
static void KeyGrow(MergeSet *set);
static void GroupRows(MergeSet *set);
static int	CompareRows(const void *a, const void *b, void *arg);
static int	CompareCreated(MergeSet *set, int64 a, int64 b);
static void ReadEntityRow(TupleTableSlot *slot, void *arg);
static void InsertOutputRow(MergeOutput *out);
static void FlushEntities(MergeOutput *out);
static void SearchBatch(MergeOutput *out, int s);
static int64 ChooseRow(MergeSet *set, int64 base, int64 lo, int64 t, Datum key);
static void CreateOutputTable(const char *qualified, TupleDesc ed, FeatureRequest *reqs, int nreqs);

/*
 * FeatureMergeCreate creates table qualified (as the caller) and fills it
 * with the point-in-time join of the entity source and the requested
 * feature set versions, in memory when it fits in
 * mlops.training_set_memory_mb and with join_sql (the same join as SQL)
 * otherwise; it returns the number of rows.  SPI must be connected.
 */
int64
FeatureMergeCreate(const char *qualified, const char *entity_query, TupleDesc entity_desc,
				   const char *event_column, FeatureRequest *reqs, int nreqs, char **fqueries,
				   const char *join_sql)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "mlops training set join",
											  ALLOCSET_DEFAULT_SIZES);
	MergeSet   *sets = MemoryContextAllocZero(cxt, sizeof(MergeSet) * nreqs);
	int64		limit = (int64) mlops_training_set_memory_mb * 1024 * 1024;
	int64		estimate = 0;
	int64		used = 0;
	int64		peak = 0;
	int64		rows;
	StringInfoData sql;

	for (int i = 0; i < nreqs; i++)
	{
		sets[i].req = &reqs[i];
		OpenSet(&sets[i], fqueries[i], cxt);
		estimate += EstimateSet(&sets[i]);
	}
	if (limit == 0 || estimate > limit)
	{
		for (int i = 0; i < nreqs; i++)
			SPI_cursor_close(sets[i].portal);
		MemoryContextDelete(cxt);
		ereport(NOTICE,
				(errmsg("training set joined by the SQL executor: the in-memory join would pass mlops.training_set_memory_mb"),
				 limit == 0 ? errdetail("mlops.training_set_memory_mb is 0, which turns the in-memory join off.") :
				 errdetail("The in-memory join was estimated at %lld MB, mlops.training_set_memory_mb is %d MB.",
						   (long long) ((estimate + 1024 * 1024 - 1) / (1024 * 1024)), mlops_training_set_memory_mb)));
		return JoinBySql(qualified, entity_desc, reqs, nreqs, join_sql);
	}
	for (int i = 0; i < nreqs; i++)
	{
		sets[i].budget = limit - used;
		ReadSet(&sets[i]);
		if (sets[i].over)
		{
			double		est = sets[i].est_rows;
			int64		nread = sets[i].nrows;

			for (int j = i + 1; j < nreqs; j++)
				SPI_cursor_close(sets[j].portal);
			MemoryContextDelete(cxt);
			ereport(NOTICE,
					(errmsg("training set joined by the SQL executor: reading the feature rows passed mlops.training_set_memory_mb"),
					 errdetail("Feature set \"%s\" passed %d MB after %lld rows, where the planner had estimated %.0f rows for it.",
							   MlopsClip(reqs[i].def->name, MLOPS_ECHO_MAX), mlops_training_set_memory_mb,
							   (long long) nread, est)));
			return JoinBySql(qualified, entity_desc, reqs, nreqs, join_sql);
		}
		/* the peak: while grouping, the rows' times are held twice */
		peak = Max(peak, used + SetBytes(&sets[i], sets[i].nrows, 0));
		GroupRows(&sets[i]);
		used += MemoryContextMemAllocated(sets[i].cxt, true);
	}
	ereport(DEBUG1,
			(errmsg_internal("training set joined in memory: %lld MB at the peak, estimated %lld MB, mlops.training_set_memory_mb %d MB",
							 (long long) ((peak + 1024 * 1024 - 1) / (1024 * 1024)),
							 (long long) ((estimate + 1024 * 1024 - 1) / (1024 * 1024)), mlops_training_set_memory_mb)));

	/* the entity rows, their keys cast to each set's entity type, their time */
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT e.*");
	for (int i = 0; i < nreqs; i++)
		appendStringInfo(&sql, ", e.%s::%s", quote_identifier(reqs[i].def->entity_column), reqs[i].def->entity_type);
	appendStringInfo(&sql, ", e.%s::timestamptz FROM (%s\n) e", quote_identifier(event_column), entity_query);
	rows = FillTable(qualified, entity_desc, reqs, nreqs, sql.data, sets, ReadEntityRow);
	MemoryContextDelete(cxt);
	return rows;
}

/*
 * JoinBySql creates table qualified (as the caller) and fills it with
 * join_sql, the join as one query that PostgreSQL's executor runs within
 * work_mem, spilling to disk; it returns the number of rows.
 */
static int64
JoinBySql(const char *qualified, TupleDesc ed, FeatureRequest *reqs, int nreqs, const char *join_sql)
{
	return FillTable(qualified, ed, reqs, nreqs, join_sql, NULL, CopyJoinRow);
}

/*
 * FillTable creates table qualified (as the caller) and fills it with what
 * callback makes of each row of query (read as the caller): rows appended
 * with a bulk-insert state, never into free space of earlier pages, so the
 * table keeps the query's order.  It returns the number of rows.
 */
static int64
FillTable(const char *qualified, TupleDesc ed, FeatureRequest *reqs, int nreqs, const char *query,
		  MergeSet *sets, SourceRowCallback callback)
{
	MergeOutput out = {0};
	Portal		portal;
	Oid			relid;

	CreateOutputTable(qualified, ed, reqs, nreqs);
	relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(qualified)), NoLock, false);
	out.sets = sets;
	out.nsets = sets != NULL ? nreqs : 0;
	out.nentity_cols = ed->natts;
	out.rel = table_open(relid, RowExclusiveLock);
	out.out = MakeSingleTupleTableSlot(RelationGetDescr(out.rel), &TTSOpsVirtual);
	out.bistate = GetBulkInsertState();
	out.cid = GetCurrentCommandId(true);
	out.owner = CurrentResourceOwner;

	portal = SourceOpen(query);
	if (sets != NULL)
	{
		out.batch = palloc(sizeof(TupleTableSlot *) * ENTITY_BATCH);
		out.outs = palloc(sizeof(TupleTableSlot *) * ENTITY_BATCH);
		for (int i = 0; i < ENTITY_BATCH; i++)
		{
			out.batch[i] = MakeSingleTupleTableSlot(portal->tupDesc, &TTSOpsVirtual);
			out.outs[i] = MakeSingleTupleTableSlot(RelationGetDescr(out.rel), &TTSOpsVirtual);
		}
		out.t = palloc(sizeof(int64) * ENTITY_BATCH);
		out.hash = palloc(sizeof(uint32) * ENTITY_BATCH);
		out.ent = palloc(sizeof(int32) * ENTITY_BATCH);
		out.base = palloc(sizeof(int64) * ENTITY_BATCH);
		out.lo = palloc(sizeof(int64) * ENTITY_BATCH);
		out.hi = palloc(sizeof(int64) * ENTITY_BATCH);
		out.found = palloc(sizeof(int64) * ENTITY_BATCH * nreqs);
	}
	SourceScan(portal, callback, &out);
	if (sets != NULL)
	{
		FlushEntities(&out);
		for (int i = 0; i < ENTITY_BATCH; i++)
		{
			ExecDropSingleTupleTableSlot(out.batch[i]);
			ExecDropSingleTupleTableSlot(out.outs[i]);
		}
	}
	SPI_cursor_close(portal);

	FreeBulkInsertState(out.bistate);
	table_finish_bulk_insert(out.rel, 0);
	ExecDropSingleTupleTableSlot(out.out);
	table_close(out.rel, NoLock);
	return out.rows;
}

/*
 * CopyJoinRow writes one row of the SQL join as it is: its columns are the
 * output table's.
 */
static void
CopyJoinRow(TupleTableSlot *slot, void *arg)
{
	MergeOutput *out = (MergeOutput *) arg;
	int			natts = out->out->tts_tupleDescriptor->natts;

	ExecClearTuple(out->out);
	memcpy(out->out->tts_values, slot->tts_values, sizeof(Datum) * natts);
	memcpy(out->out->tts_isnull, slot->tts_isnull, sizeof(bool) * natts);
	InsertOutputRow(out);
}

/*
 * InsertOutputRow appends the output slot's row to the training set table.
 */
static void
InsertOutputRow(MergeOutput *out)
{
	/* the cursor runs under its portal's resource owner, the table's pins do not */
	ResourceOwner save = CurrentResourceOwner;

	ExecStoreVirtualTuple(out->out);
	CurrentResourceOwner = out->owner;
	table_tuple_insert(out->rel, out->out, out->cid, TABLE_INSERT_SKIP_FSM, out->bistate);
	CurrentResourceOwner = save;
	out->rows++;
}

/*
 * OpenSet prepares the reading of a feature set version's rows (as the
 * caller): its query is planned and its cursor opened in set->portal, the
 * set's memory context created under parent.
 */
static void
OpenSet(MergeSet *set, const char *fquery, MemoryContext parent)
{
	FeatureSetDef *def = set->req->def;
	StringInfoData sql;
	TypeCacheEntry *tc;
	Portal		portal;
	const char *created = "NULL::int8";

	set->cxt = AllocSetContextCreate(parent, "mlops feature set rows", ALLOCSET_DEFAULT_SIZES);
	set->nfeat = set->req->nfeatures;
	if (def->created_column != NULL)
	{
		const char *c = quote_identifier(def->created_column);

		if (FeatureIsTimestampType(def->created_type))
			created = psprintf("f.%s::timestamptz", c), set->ckind = CREATED_INT64;
		else if (strcmp(def->created_type, "numeric") == 0 || strncmp(def->created_type, "numeric(", 8) == 0)
			created = psprintf("f.%s::numeric", c), set->ckind = CREATED_GENERIC;
		else
			created = psprintf("f.%s::int8", c), set->ckind = CREATED_INT64;
	}
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT f.%s::%s, f.%s::timestamptz, %s",
					 quote_identifier(def->entity_column), def->entity_type,
					 quote_identifier(def->timestamp_column), created);
	for (int k = 0; k < set->nfeat; k++)
		appendStringInfo(&sql, ", f.%s", quote_identifier(def->feature_names[set->req->feature_index[k]]));
	appendStringInfo(&sql, " FROM (%s\n) f WHERE f.%s IS NOT NULL AND f.%s IS NOT NULL", fquery,
					 quote_identifier(def->entity_column), quote_identifier(def->timestamp_column));
	portal = SourceOpen(sql.data);

	/* the key's hash and equality, the created column's comparison */
	set->keytype = TupleDescAttr(portal->tupDesc, 0)->atttypid;
	set->keycoll = TupleDescAttr(portal->tupDesc, 0)->attcollation;
	get_typlenbyval(set->keytype, &set->keylen, &set->keybyval);
	set->keyint = set->keytype == INT2OID || set->keytype == INT4OID || set->keytype == INT8OID;
	tc = lookup_type_cache(set->keytype, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
	if (!OidIsValid(tc->hash_proc) || !OidIsValid(tc->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("entity type %s of feature set \"%s\" has no hash function", def->entity_type, def->name),
				 errhint("Use mlops.historical_features_sql, which joins by sorting.")));
	fmgr_info_copy(&set->hashfn, &tc->hash_proc_finfo, set->cxt);
	fmgr_info_copy(&set->eqfn, &tc->eq_opr_finfo, set->cxt);
	if (set->ckind == CREATED_GENERIC)
	{
		tc = lookup_type_cache(NUMERICOID, TYPECACHE_CMP_PROC_FINFO);
		fmgr_info_copy(&set->cmpfn, &tc->cmp_proc_finfo, set->cxt);
	}
	set->flen = MemoryContextAlloc(set->cxt, sizeof(int16) * Max(set->nfeat, 1));
	set->fbyval = MemoryContextAlloc(set->cxt, sizeof(bool) * Max(set->nfeat, 1));
	for (int k = 0; k < set->nfeat; k++)
	{
		set->flen[k] = TupleDescAttr(portal->tupDesc, 3 + k)->attlen;
		set->fbyval[k] = TupleDescAttr(portal->tupDesc, 3 + k)->attbyval;
	}
	if (def->ttl != NULL)
	{
		Interval   *ttl = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(def->ttl),
																ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		int64		m,
					d;

		/* (PostgreSQL's common/int.h has these checks; the layout rule keeps it out) */
		set->has_ttl = !__builtin_mul_overflow((int64) ttl->month * DAYS_PER_MONTH, (int64) USECS_PER_DAY, &m) &&
			!__builtin_mul_overflow((int64) ttl->day, (int64) USECS_PER_DAY, &d) &&
			!__builtin_add_overflow(m, d, &set->ttl_us) &&
			!__builtin_add_overflow(set->ttl_us, ttl->time, &set->ttl_us);
	}
	set->portal = portal;
}

/*
 * EstimateSet returns the bytes the set's rows are estimated to take in
 * memory, grouped: the planner's row count times the row arrays, grouping
 * and the copies of by-reference values (chunk headers and the planner's
 * row width).  Entities are not estimated; they are measured while reading.
 */
static int64
EstimateSet(MergeSet *set)
{
	PlannedStmt *ps = PortalGetPrimaryStmt(set->portal);
	double		rows = ps && ps->planTree ? Max(ps->planTree->plan_rows, 0) : 0;
	int			width = ps && ps->planTree ? ps->planTree->plan_width : 0;
	double		perrow = ROW_BYTES(set) + GROUP_BYTES + (sizeof(Datum) + sizeof(bool)) * Max(set->nfeat, 1);
	int			nbyref = set->ckind == CREATED_GENERIC ? 1 : 0;
	double		bytes;

	for (int k = 0; k < set->nfeat; k++)
		nbyref += set->fbyval[k] ? 0 : 1;
	if (nbyref > 0)
		perrow += nbyref * 16.0 + width;
	set->est_rows = rows;
	bytes = rows * perrow;
	return bytes >= (double) PG_INT64_MAX / 4 ? PG_INT64_MAX / 4 : (int64) bytes;
}

/*
 * ReadSet reads the set's rows into memory, MERGE_BATCH rows at a time,
 * and stops early with set->over when they (grouped) would pass
 * set->budget.  The row arrays start at the planner's estimate.
 */
static void
ReadSet(MergeSet *set)
{
	uint64		n;

	set->nslots = 1024;
	set->slots = MemoryContextAllocExtended(set->cxt, sizeof(MergeKey) * set->nslots, MCXT_ALLOC_HUGE);
	for (uint32 i = 0; i < set->nslots; i++)
		set->slots[i].index = -1;
	if (set->keyint)
	{
		set->pend = MemoryContextAllocHuge(set->cxt, sizeof(Datum) * MERGE_BATCH);
		set->pendhash = MemoryContextAllocHuge(set->cxt, sizeof(uint32) * MERGE_BATCH);
	}
	do
	{
		n = SourceScanSome(set->portal, ReadFeatureRow, set, MERGE_BATCH);
		if (!set->over)
			ResolvePending(set);
	} while (!set->over && n == (uint64) MERGE_BATCH);
	SPI_cursor_close(set->portal);
	set->portal = NULL;
	if (!set->over && SetBytes(set, set->nrows, 0) > set->budget)
		set->over = true;
}

/*
 * ResolvePending numbers the entities of the rows whose integer keys
 * ReadFeatureRow set aside (at most one batch): the hashes first, then the
 * lookups, each fetching the hash table slot of a later key ahead, so the
 * random reads of the table overlap instead of waiting one by one.
 */
static void
ResolvePending(MergeSet *set)
{
	int64		first = set->nrows - set->npend;

	if (set->npend == 0)
		return;
	CHECK_FOR_INTERRUPTS();
	for (int64 i = 0; i < set->npend; i++)
		set->pendhash[i] = KeyHash(set, set->pend[i]);
	for (int64 i = 0; i < set->npend && !set->over; i++)
	{
		if (i + MERGE_PREFETCH < set->npend)
			__builtin_prefetch(&set->slots[set->pendhash[i + MERGE_PREFETCH] & (set->nslots - 1)]);
		set->ent[first + i] = KeyIndexHashed(set, set->pend[i], set->pendhash[i], true);
	}
	set->npend = 0;
}

/*
 * SetBytes returns what the set would hold grouped with nrows rows: its
 * memory context now, plus extra bytes about to be allocated, plus the
 * arrays of GroupRows.
 */
static int64
SetBytes(MergeSet *set, int64 nrows, int64 extra)
{
	return (int64) MemoryContextMemAllocated(set->cxt, true) + extra +
		(int64) GROUP_BYTES * (nrows + 1) + (int64) (2 * sizeof(int64)) * ((int64) set->nentities + 1);
}

/*
 * GrowRows makes room for more rows: to the planner's estimate (plus a
 * tenth) first, then doubling, or as far as the budget allows; it returns
 * false when not one more row fits.
 */
static bool
GrowRows(MergeSet *set)
{
	int64		perrow = ROW_BYTES(set) + (sizeof(Datum) + sizeof(bool)) * Max(set->nfeat, 1);
	int64		cap = set->cap == 0 ? (int64) Min(Max(set->est_rows * 1.1, 0) + 1024, (double) PG_INT32_MAX) :
		set->cap * 2;
	MemoryContext old;

	/* growing keeps the old arrays until the copy is made: count both */
	if (SetBytes(set, cap, perrow * cap) > set->budget)
		cap = (set->budget - SetBytes(set, 0, 0)) / (perrow + (int64) GROUP_BYTES);
	if (cap <= set->cap)
		return false;
	old = MemoryContextSwitchTo(set->cxt);
	if (set->cap == 0)
	{
		set->ent = palloc_extended(sizeof(int32) * cap, MCXT_ALLOC_HUGE);
		set->ts = palloc_extended(sizeof(int64) * cap, MCXT_ALLOC_HUGE);
		if (set->ckind != CREATED_NONE)
		{
			set->cr = palloc_extended(sizeof(Datum) * cap, MCXT_ALLOC_HUGE);
			set->crnull = palloc_extended(sizeof(bool) * cap, MCXT_ALLOC_HUGE);
		}
		set->vals = palloc_extended(sizeof(Datum) * cap * Max(set->nfeat, 1), MCXT_ALLOC_HUGE);
		set->nulls = palloc_extended(sizeof(bool) * cap * Max(set->nfeat, 1), MCXT_ALLOC_HUGE);
	}
	else
	{
		set->ent = repalloc_huge(set->ent, sizeof(int32) * cap);
		set->ts = repalloc_huge(set->ts, sizeof(int64) * cap);
		if (set->ckind != CREATED_NONE)
		{
			set->cr = repalloc_huge(set->cr, sizeof(Datum) * cap);
			set->crnull = repalloc_huge(set->crnull, sizeof(bool) * cap);
		}
		set->vals = repalloc_huge(set->vals, sizeof(Datum) * cap * Max(set->nfeat, 1));
		set->nulls = repalloc_huge(set->nulls, sizeof(bool) * cap * Max(set->nfeat, 1));
	}
	MemoryContextSwitchTo(old);
	set->cap = cap;
	return true;
}

/*
 * ReadFeatureRow keeps one feature row: its entity number, time, created
 * value and features, copied into the set's memory.
 */
static void
ReadFeatureRow(TupleTableSlot *slot, void *arg)
{
	MergeSet   *set = (MergeSet *) arg;
	int64		r = set->nrows;
	MemoryContext old;

	if (set->over)
		return;
	if (set->nrows == set->cap ? !GrowRows(set) :
		((r & (MERGE_CHECK_ROWS - 1)) == 0 && SetBytes(set, r, 0) > set->budget))
	{
		set->over = true;
		return;
	}
	if (set->pend != NULL)
		set->pend[set->npend++] = slot->tts_values[0];
	else
		set->ent[r] = KeyIndex(set, slot->tts_values[0], true);
	set->ts[r] = DatumGetTimestampTz(slot->tts_values[1]);
	old = MemoryContextSwitchTo(set->cxt);
	if (set->ckind != CREATED_NONE)
	{
		set->crnull[r] = slot->tts_isnull[2];
		set->cr[r] = set->crnull[r] ? (Datum) 0 : set->ckind == CREATED_INT64 ? slot->tts_values[2] :
			datumCopy(slot->tts_values[2], false, -1);
	}
	for (int k = 0; k < set->nfeat; k++)
	{
		bool		isnull = slot->tts_isnull[3 + k];

		set->nulls[r * set->nfeat + k] = isnull;
		set->vals[r * set->nfeat + k] = isnull ? (Datum) 0 :
			datumCopy(slot->tts_values[3 + k], set->fbyval[k], set->flen[k]);
	}
	MemoryContextSwitchTo(old);
	set->nrows++;
}

/*
 * KeyIndex returns the entity number of key in set, numbering a new key
 * when insert is true (-1 for an unknown key otherwise).  Keys are compared
 * with the type's equality only when their hashes are equal.
 */
static int32
KeyIndex(MergeSet *set, Datum key, bool insert)
{
	return KeyIndexHashed(set, key, KeyHash(set, key), insert);
}

/*
 * KeyHash returns the hash of an entity key: integers mixed inline, other
 * types through their hash function.
 */
static inline uint32
KeyHash(MergeSet *set, Datum key)
{
	if (set->keyint)
	{
		/* the 64-bit finalizer of MurmurHash3: every bit of the integer mixed in */
		uint64		h = (uint64) DatumGetInt64(key);

		h ^= h >> 33;
		h *= UINT64CONST(0xff51afd7ed558ccd);
		h ^= h >> 33;
		h *= UINT64CONST(0xc4ceb9fe1a85ec53);
		h ^= h >> 33;
		return (uint32) h;
	}
	return DatumGetUInt32(FunctionCall1Coll(&set->hashfn, set->keycoll, key));
}

/*
 * KeyIndexHashed is KeyIndex for a key whose hash (KeyHash) is known.
 */
static int32
KeyIndexHashed(MergeSet *set, Datum key, uint32 hash, bool insert)
{
	uint32		mask = set->nslots - 1;
	uint32		i;
	MemoryContext old;

	for (i = hash & mask;; i = (i + 1) & mask)
	{
		MergeKey   *k = &set->slots[i];

		if (k->index < 0)
			break;
		if (k->hash == hash &&
			(set->keyint ? k->value == key :
			 DatumGetBool(FunctionCall2Coll(&set->eqfn, set->keycoll, k->value, key))))
			return k->index;
	}
	if (!insert)
		return -1;
	if (set->nentities == PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("feature set \"%s\" has more than %d entities", set->req->def->name, PG_INT32_MAX)));
	old = MemoryContextSwitchTo(set->cxt);
	set->slots[i].value = datumCopy(key, set->keybyval, set->keylen);
	MemoryContextSwitchTo(old);
	set->slots[i].hash = hash;
	set->slots[i].index = set->nentities++;
	if ((uint64) set->nentities * 2 > set->nslots)
		KeyGrow(set);
	return set->nentities - 1;
}

/*
 * KeyGrow doubles the hash table, keeping it at most half full.
 */
static void
KeyGrow(MergeSet *set)
{
	MergeKey   *old = set->slots;
	uint32		oldn = set->nslots;
	uint32		mask;

	if (set->nslots >= (uint32) 1 << 31)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("feature set \"%s\" has too many entities to join in memory", set->req->def->name)));
	/* past the memory cap the table stays (just over half full) and the reading stops */
	if (SetBytes(set, set->nrows, (int64) sizeof(MergeKey) * set->nslots * 2) > set->budget)
	{
		set->over = true;
		return;
	}
	set->nslots *= 2;
	mask = set->nslots - 1;
	set->slots = MemoryContextAllocExtended(set->cxt, sizeof(MergeKey) * set->nslots, MCXT_ALLOC_HUGE);
	for (uint32 i = 0; i < set->nslots; i++)
		set->slots[i].index = -1;
	for (uint32 j = 0; j < oldn; j++)
	{
		uint32		i;

		if ((j & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (old[j].index < 0)
			continue;
		for (i = old[j].hash & mask; set->slots[i].index >= 0; i = (i + 1) & mask)
			;
		set->slots[i] = old[j];
	}
	pfree(old);
}

/*
 * GroupRows groups the rows by entity (a counting sort) and sorts each
 * entity's rows by (time, created).
 */
static void
GroupRows(MergeSet *set)
{
	int64	   *next;

	set->start = MemoryContextAllocExtended(set->cxt, sizeof(int64) * ((Size) set->nentities + 1),
											MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	set->order = MemoryContextAllocExtended(set->cxt, sizeof(int64) * Max(set->nrows, 1), MCXT_ALLOC_HUGE);
	for (int64 r = 0; r < set->nrows; r++)
	{
		if ((r & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		set->start[set->ent[r] + 1]++;
	}
	for (int32 e = 0; e < set->nentities; e++)
		set->start[e + 1] += set->start[e];
	next = MemoryContextAllocExtended(set->cxt, sizeof(int64) * ((Size) set->nentities + 1), MCXT_ALLOC_HUGE);
	memcpy(next, set->start, sizeof(int64) * ((Size) set->nentities + 1));
	for (int64 r = 0; r < set->nrows; r++)
	{
		if ((r & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		set->order[next[set->ent[r]]++] = r;
	}
	pfree(next);
	for (int32 e = 0; e < set->nentities; e++)
	{
		CHECK_FOR_INTERRUPTS();
		if (set->start[e + 1] - set->start[e] > 1)
			qsort_arg(set->order + set->start[e], set->start[e + 1] - set->start[e], sizeof(int64),
					  CompareRows, set);
	}
	set->sts = MemoryContextAllocExtended(set->cxt, sizeof(int64) * Max(set->nrows, 1), MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < set->nrows; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		set->sts[i] = set->ts[set->order[i]];
	}
	/* from here on the times are read in group order only */
	pfree(set->ts);
	set->ts = NULL;
}

/* CompareRows orders two rows of one entity by (time, created). */
static int
CompareRows(const void *a, const void *b, void *arg)
{
	MergeSet   *set = (MergeSet *) arg;
	int64		ra = *(const int64 *) a;
	int64		rb = *(const int64 *) b;

	if (set->ts[ra] != set->ts[rb])
		return set->ts[ra] < set->ts[rb] ? -1 : 1;
	return CompareCreated(set, ra, rb);
}

/* CompareCreated orders two rows by created, a NULL first (all equal without a created column). */
static int
CompareCreated(MergeSet *set, int64 a, int64 b)
{
	if (set->ckind == CREATED_NONE)
		return 0;
	if (set->crnull[a] || set->crnull[b])
		return (int) set->crnull[b] - (int) set->crnull[a];
	if (set->ckind == CREATED_INT64)
	{
		int64		x = DatumGetInt64(set->cr[a]);
		int64		y = DatumGetInt64(set->cr[b]);

		return x < y ? -1 : (x > y ? 1 : 0);
	}
	if (set->ckind == CREATED_GENERIC)
		return DatumGetInt32(FunctionCall2(&set->cmpfn, set->cr[a], set->cr[b]));
	return 0;
}

/*
 * ReadEntityRow keeps a copy of an entity row; every ENTITY_BATCH rows,
 * FlushEntities joins and writes them.
 */
static void
ReadEntityRow(TupleTableSlot *slot, void *arg)
{
	MergeOutput *out = (MergeOutput *) arg;

	ExecCopySlot(out->batch[out->nbatch++], slot);
	if (out->nbatch == ENTITY_BATCH)
		FlushEntities(out);
}

/*
 * FlushEntities writes the buffered entity rows, in their order, with one
 * multi-insert (as COPY does): each row's columns and, for each set, the
 * features of its point-in-time row (or NULLs).
 */
static void
FlushEntities(MergeOutput *out)
{
	int			tatt = out->nentity_cols + out->nsets;
	ResourceOwner save = CurrentResourceOwner;

	if (out->nbatch == 0)
		return;
	CHECK_FOR_INTERRUPTS();
	for (int i = 0; i < out->nbatch; i++)
		out->t[i] = out->batch[i]->tts_isnull[tatt] ? 0 : DatumGetTimestampTz(out->batch[i]->tts_values[tatt]);
	for (int s = 0; s < out->nsets; s++)
		SearchBatch(out, s);
	for (int i = 0; i < out->nbatch; i++)
	{
		TupleTableSlot *slot = out->batch[i];
		TupleTableSlot *o = out->outs[i];
		int			col = out->nentity_cols;

		ExecClearTuple(o);
		memcpy(o->tts_values, slot->tts_values, sizeof(Datum) * out->nentity_cols);
		memcpy(o->tts_isnull, slot->tts_isnull, sizeof(bool) * out->nentity_cols);
		for (int s = 0; s < out->nsets; s++)
		{
			MergeSet   *set = &out->sets[s];
			int64		r = out->found[i * out->nsets + s];

			for (int k = 0; k < set->nfeat; k++, col++)
			{
				o->tts_isnull[col] = r < 0 || set->nulls[r * set->nfeat + k];
				o->tts_values[col] = o->tts_isnull[col] ? (Datum) 0 : set->vals[r * set->nfeat + k];
			}
		}
		ExecStoreVirtualTuple(o);
	}
	/* the cursor runs under its portal's resource owner, the table's pins do not */
	CurrentResourceOwner = out->owner;
	table_multi_insert(out->rel, out->outs, out->nbatch, out->cid, TABLE_INSERT_SKIP_FSM, out->bistate);
	CurrentResourceOwner = save;
	out->rows += out->nbatch;
	for (int i = 0; i < out->nbatch; i++)
	{
		ExecClearTuple(out->outs[i]);
		ExecClearTuple(out->batch[i]);
	}
	out->nbatch = 0;
}

/*
 * SearchBatch finds, for every buffered entity row, the row of set s that
 * the point-in-time join takes (out->found).  Each step runs over the
 * whole batch and fetches what the next step reads ahead: the hash table
 * slots, the entities' ranges, the binary searches in lockstep (one probe
 * of every row per round), then the chosen rows' features; so the random
 * reads of many rows overlap instead of each waiting for the last.
 */
static void
SearchBatch(MergeOutput *out, int s)
{
	MergeSet   *set = &out->sets[s];
	int			n = out->nbatch;
	int			katt = out->nentity_cols + s;
	int			tatt = out->nentity_cols + out->nsets;
	uint32		mask = set->nslots - 1;
	bool		active = true;

	for (int i = 0; i < n; i++)
	{
		TupleTableSlot *slot = out->batch[i];

		out->ent[i] = slot->tts_isnull[tatt] || slot->tts_isnull[katt] ? -1 : 0;
		if (out->ent[i] == 0)
			out->hash[i] = KeyHash(set, slot->tts_values[katt]);
	}
	for (int i = 0; i < n; i++)
	{
		if (i + MERGE_PREFETCH < n && out->ent[i + MERGE_PREFETCH] == 0)
			__builtin_prefetch(&set->slots[out->hash[i + MERGE_PREFETCH] & mask]);
		if (out->ent[i] == 0)
			out->ent[i] = KeyIndexHashed(set, out->batch[i]->tts_values[katt], out->hash[i], false);
		if (out->ent[i] >= 0)
			__builtin_prefetch(&set->start[out->ent[i]]);
	}
	for (int i = 0; i < n; i++)
	{
		out->lo[i] = out->hi[i] = out->base[i] = 0;
		if (out->ent[i] < 0)
			continue;
		out->base[i] = out->lo[i] = set->start[out->ent[i]];
		out->hi[i] = set->start[out->ent[i] + 1];
		__builtin_prefetch(&set->sts[out->lo[i] + (out->hi[i] - out->lo[i]) / 2]);
	}
	/* lo becomes the first position whose time is > t */
	while (active)
	{
		active = false;
		for (int i = 0; i < n; i++)
		{
			int64		mid;

			if (out->lo[i] >= out->hi[i])
				continue;
			mid = out->lo[i] + (out->hi[i] - out->lo[i]) / 2;
			if (set->sts[mid] <= out->t[i])
				out->lo[i] = mid + 1;
			else
				out->hi[i] = mid;
			if (out->lo[i] < out->hi[i])
				__builtin_prefetch(&set->sts[out->lo[i] + (out->hi[i] - out->lo[i]) / 2]);
			else if (out->lo[i] > out->base[i])
				__builtin_prefetch(&set->order[out->lo[i] - 1]);
			active = true;
		}
	}
	for (int i = 0; i < n; i++)
	{
		int64		r = out->ent[i] < 0 ? -1 :
			ChooseRow(set, out->base[i], out->lo[i], out->t[i], out->batch[i]->tts_values[katt]);

		out->found[i * out->nsets + s] = r;
		if (r >= 0)
		{
			__builtin_prefetch(&set->vals[r * set->nfeat]);
			__builtin_prefetch(&set->nulls[r * set->nfeat]);
		}
	}
}

/*
 * ChooseRow returns the row that a point-in-time join at time t takes from
 * the entity whose rows start at group position base, lo being the first
 * position whose time is > t: the row before it, or -1 when there is none
 * or it is older than the ttl.  An ambiguous row (the one before has the
 * same time and created value) raises 21000.
 */
static int64
ChooseRow(MergeSet *set, int64 base, int64 lo, int64 t, Datum key)
{
	int64		r;
	int64		age;

	if (lo == base)
		return -1;
	r = set->order[lo - 1];
	if (lo - 1 > base && set->sts[lo - 2] == set->sts[lo - 1] &&
		CompareCreated(set, set->order[lo - 2], r) == 0)
	{
		Oid			types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
		Datum		values[3];
		Oid			out;
		bool		varlena;

		getTypeOutputInfo(set->keytype, &out, &varlena);
		values[0] = CStringGetTextDatum(set->req->def->name);
		values[1] = CStringGetTextDatum(OidOutputFunctionCall(out, key));
		values[2] = TimestampTzGetDatum(t);
		SPI_execute_with_args("SELECT mlops._feature_ambiguous($1, $2, $3)", 3, types, values, NULL, true, 1);
		elog(ERROR, "ambiguous feature row was not reported");
	}
	if (set->has_ttl && (__builtin_sub_overflow(t, set->sts[lo - 1], &age) || age > set->ttl_us))
		return -1;
	return r;
}

/*
 * CreateOutputTable creates the training set's table as the caller: the
 * entity source's columns, then each set's features.
 */
static void
CreateOutputTable(const char *qualified, TupleDesc ed, FeatureRequest *reqs, int nreqs)
{
	StringInfoData sql;
	int			rc;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", qualified);
	for (int a = 0; a < ed->natts; a++)
		appendStringInfo(&sql, "%s%s %s", a > 0 ? ", " : "", quote_identifier(NameStr(TupleDescAttr(ed, a)->attname)),
						 FeatureTypeName(ed, a + 1));
	for (int i = 0; i < nreqs; i++)
		for (int k = 0; k < reqs[i].nfeatures; k++)
		{
			FeatureSetDef *def = reqs[i].def;
			int			f = reqs[i].feature_index[k];

			appendStringInfo(&sql, ", %s %s", quote_identifier(def->feature_names[f]), def->feature_types[f]);
		}
	appendStringInfoChar(&sql, ')');
	rc = SPI_execute(sql.data, false, 0);
	if (rc != SPI_OK_UTILITY)
		elog(ERROR, "creating the training set table failed: %s", SPI_result_code_string(rc));
}
