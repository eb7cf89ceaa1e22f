/*-------------------------------------------------------------------------
 *
 * audit_chain.c
 *	  Chains the audit log's events when their transaction commits, so that
 *	  editing, deleting or reordering logged events is detected
 *	  (mlops.verify_audit_log, docs/audit.md#tamper-evidence).
 *
 * Each event stores its position in the chain (chain_seq), the hash of the
 * event before it (prev_hash) and the SHA-256 of its own canonical content,
 * which includes both (hash, computed by mlops._audit_hash); the one-row
 * table mlops.audit_chain_head names the last event.
 *
 * When to chain.  An event's predecessor must be an event that committed:
 * chaining at insert time would link to events whose transaction may still
 * abort, or would make every transaction that logs an event hold the chain
 * until it ends (one idle transaction would stall every other session's
 * mlops calls).  So the AFTER INSERT trigger mlops._audit_log_pending only
 * remembers the new event id, and just before the transaction commits
 * (XACT_EVENT_PRE_COMMIT, after deferred triggers, when no user code runs
 * any more) ChainPendingEvents chains this transaction's events, in
 * event_id order, after the current head.  The chain's order is therefore
 * commit order; event ids, handed out at insert, may interleave.
 *
 * Locking.  ChainPendingEvents takes an ExclusiveLock on
 * mlops.audit_chain_head, held to the end of the commit, so two committing
 * transactions never read the same head (no fork).  The cost is one lock,
 * one read and one row update per committing transaction plus one row
 * update per event; commits of transactions that logged events are
 * serialised only for that short moment.  The head is read and updated
 * with the latest snapshot taken after the lock is granted (as PostgreSQL's
 * foreign-key triggers do), so REPEATABLE READ and SERIALIZABLE
 * transactions see the head the previous committer left instead of failing
 * with a serialization error.
 *
 * A transaction that recorded events cannot be prepared for two-phase
 * commit: it would hold the chain until COMMIT PREPARED.  Events whose
 * transaction rolls back (or whose subtransaction does) are simply gone;
 * an event deleted again by its own transaction is skipped.  Rows that
 * arrive with a hash (a restored dump) keep it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "common/common.h"

/* event ids this transaction inserted into mlops.audit_log, in TopTransactionContext */
static int64 *pending = NULL;
static int	n_pending = 0;
static int	max_pending = 0;
static bool callback_registered = false;

/* the chain's head: its last position and hash (NULL for an empty chain) */
typedef struct ChainHead
{
	int64		seq;
	bytea	   *prev;
	bool		exists;			/* mlops.audit_chain_head has its row */
} ChainHead;

/* the statements of ChainPendingEvents, planned once per backend (SPI_keepplan) */
typedef enum ChainStatement
{
	CHAIN_PENDING,
	CHAIN_READ_HEAD,
	CHAIN_EVENT,
	CHAIN_UPDATE_HEAD,
	CHAIN_INSERT_HEAD,
	CHAIN_NSTATEMENTS
} ChainStatement;

static SPIPlanPtr chain_plans[CHAIN_NSTATEMENTS];

static void AuditChainXactCallback(XactEvent event, void *arg);
static SPIPlanPtr ChainPlan(ChainStatement which);
static void ChainPendingEvents(void);
static ArrayType *UnchainedPendingEvents(void);
static void ReadChainHead(ChainHead *head);
static bytea *ChainOneEvent(int64 event_id, int64 seq, bytea *prev);
static void WriteChainHead(ChainHead *head, int64 last_id);

PG_FUNCTION_INFO_V1(mlops_audit_log_pending);

/*
 * mlops_audit_log_pending is the AFTER INSERT row trigger of
 * mlops.audit_log: it remembers the new event's id so that the transaction
 * chains it when it commits.
 */
Datum
mlops_audit_log_pending(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	int			attno;
	bool		isnull;
	Datum		id;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) || !TRIGGER_FIRED_AFTER(trigdata->tg_event))
		elog(ERROR, "mlops._audit_log_pending must be an AFTER INSERT row trigger");
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	attno = SPI_fnumber(tupdesc, "event_id");
	if (attno <= 0 || TupleDescAttr(tupdesc, attno - 1)->atttypid != INT8OID)
		elog(ERROR, "mlops._audit_log_pending needs a bigint column event_id");
	id = heap_getattr(trigdata->tg_trigtuple, attno, tupdesc, &isnull);
	if (isnull)
		return PointerGetDatum(trigdata->tg_trigtuple);

	if (!callback_registered)
	{
		RegisterXactCallback(AuditChainXactCallback, NULL);
		callback_registered = true;
	}
	if (n_pending == max_pending)
	{
		int			newmax = Max(16, max_pending * 2);

		pending = pending == NULL
			? MemoryContextAlloc(TopTransactionContext, newmax * sizeof(int64))
			: repalloc_huge(pending, newmax * sizeof(int64));
		max_pending = newmax;
	}
	pending[n_pending++] = DatumGetInt64(id);
	return PointerGetDatum(trigdata->tg_trigtuple);
}

/*
 * AuditChainXactCallback chains the pending events just before commit,
 * refuses to prepare a transaction that has some, and forgets them when the
 * transaction ends.
 */
static void
AuditChainXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (n_pending > 0)
				ChainPendingEvents();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (n_pending > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that recorded mlops audit events"),
						 errdetail("Audit events are chained when their transaction commits, and a prepared transaction would hold the chain until COMMIT PREPARED."),
						 errhint("Call the mlops functions outside the two-phase transaction.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* the array lived in TopTransactionContext, which is gone */
			pending = NULL;
			n_pending = 0;
			max_pending = 0;
			break;
		default:
			break;
	}
}

/*
 * ChainPendingEvents appends this transaction's events to the chain, in
 * event_id order, as the extension owner, and moves the head.
 */
static void
ChainPendingEvents(void)
{
	Oid			head_relid = MlopsRelid("audit_chain_head");
	MlopsOwnerSave save;
	ChainHead	head = {0, NULL, false};
	ArrayType  *todo;
	Datum	   *ids;
	int			n_ids;
	int64		last_id = 0;

	/* the extension was dropped in this transaction: nothing left to chain */
	if (!OidIsValid(head_relid) || !OidIsValid(MlopsRelid("audit_log")))
		return;

	MlopsBeginOwner(&save);
	LockRelationOid(head_relid, ExclusiveLock);
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	todo = UnchainedPendingEvents();
	deconstruct_array(todo, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &ids, NULL, &n_ids);
	if (n_ids > 0)
	{
		ReadChainHead(&head);
		for (int i = 0; i < n_ids; i++)
		{
			CHECK_FOR_INTERRUPTS();
			last_id = DatumGetInt64(ids[i]);
			head.prev = ChainOneEvent(last_id, ++head.seq, head.prev);
		}
		WriteChainHead(&head, last_id);
	}

	SPI_finish();
	PopActiveSnapshot();
	MlopsEndOwner(&save);
}

/*
 * UnchainedPendingEvents returns, as a bigint[] in the caller's memory
 * context, the pending events that still exist and have no hash yet (an
 * event deleted again by its transaction is gone; a restored one has its
 * hash), in event_id order.  One query, so that a transaction that
 * restored a million events does not run a million updates.
 */
static ArrayType *
UnchainedPendingEvents(void)
{
	Datum		arg;
	Datum	   *elems = palloc_extended(sizeof(Datum) * n_pending, MCXT_ALLOC_HUGE);
	Datum		result;
	bool		isnull;
	int			rc;

	for (int i = 0; i < n_pending; i++)
		elems[i] = Int64GetDatum(pending[i]);
	arg = PointerGetDatum(construct_array(elems, n_pending, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	rc = SPI_execute_plan(ChainPlan(CHAIN_PENDING), &arg, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the pending audit events failed: %s", SPI_result_code_string(rc));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return DatumGetArrayTypePCopy(result);
}

/*
 * ReadChainHead reads the head the previous committer left, with a snapshot
 * taken now that the chain is locked (the transaction's own snapshot may be
 * older); no head yet means an empty chain.
 */
static void
ReadChainHead(ChainHead *head)
{
	bool		isnull;
	int			rc;

	rc = SPI_execute_snapshot(ChainPlan(CHAIN_READ_HEAD), NULL, NULL, GetLatestSnapshot(), InvalidSnapshot,
							  true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the audit chain head failed: %s", SPI_result_code_string(rc));
	head->exists = SPI_processed > 0;
	if (head->exists)
	{
		head->seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		head->prev = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
}

/*
 * ChainOneEvent gives one event its chain position and link, and its hash
 * (mlops._audit_hash), which it returns.
 */
static bytea *
ChainOneEvent(int64 event_id, int64 seq, bytea *prev)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;
	int			rc;

	values[0] = Int64GetDatum(event_id);
	values[1] = Int64GetDatum(seq);
	values[2] = PointerGetDatum(prev);
	nulls[2] = prev == NULL ? 'n' : ' ';
	rc = SPI_execute_plan(ChainPlan(CHAIN_EVENT), values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
		elog(ERROR, "chaining audit event " INT64_FORMAT " failed: %s", event_id, SPI_result_code_string(rc));
	return DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * WriteChainHead records the new head, with the latest snapshot (see
 * ReadChainHead), creating the row for the chain's first event.
 */
static void
WriteChainHead(ChainHead *head, int64 last_id)
{
	Datum		values[3];
	int			rc;

	values[0] = Int64GetDatum(head->seq);
	values[1] = Int64GetDatum(last_id);
	values[2] = PointerGetDatum(head->prev);
	rc = SPI_execute_snapshot(ChainPlan(head->exists ? CHAIN_UPDATE_HEAD : CHAIN_INSERT_HEAD), values, NULL,
							  GetLatestSnapshot(), InvalidSnapshot, false, true, 0);
	if ((rc != SPI_OK_UPDATE && rc != SPI_OK_INSERT) || SPI_processed != 1)
		elog(ERROR, "moving the audit chain head failed: %s", SPI_result_code_string(rc));
}

/*
 * ChainPlan returns the plan of one statement, preparing and keeping it on
 * first use.  Every name in them is schema-qualified, and PostgreSQL's plan
 * cache replans them when the objects they use change (the extension
 * dropped and created again, for instance).
 */
static SPIPlanPtr
ChainPlan(ChainStatement which)
{
	static const char *const sql[CHAIN_NSTATEMENTS] = {
		[CHAIN_PENDING] = "SELECT COALESCE(pg_catalog.array_agg(l.event_id ORDER BY l.event_id), '{}')"
		"  FROM mlops.audit_log l"
		" WHERE l.event_id OPERATOR(pg_catalog.=) ANY ($1) AND l.hash IS NULL",
		[CHAIN_READ_HEAD] = "SELECT chain_seq, hash FROM mlops.audit_chain_head",
		[CHAIN_EVENT] = "UPDATE mlops.audit_log l SET chain_seq = $2, prev_hash = $3,"
		"       hash = mlops._audit_hash(l, $2, $3)"
		" WHERE l.event_id OPERATOR(pg_catalog.=) $1"
		" RETURNING l.hash",
		[CHAIN_UPDATE_HEAD] = "UPDATE mlops.audit_chain_head SET chain_seq = $1, event_id = $2, hash = $3",
		[CHAIN_INSERT_HEAD] = "INSERT INTO mlops.audit_chain_head (chain_seq, event_id, hash) VALUES ($1, $2, $3)",
	};
	static const int nargs[CHAIN_NSTATEMENTS] = {1, 0, 3, 3, 3};
	Oid			types[CHAIN_NSTATEMENTS][3] = {
		{INT8ARRAYOID}, {0}, {INT8OID, INT8OID, BYTEAOID}, {INT8OID, INT8OID, BYTEAOID},
		{INT8OID, INT8OID, BYTEAOID}
	};

	if (chain_plans[which] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql[which], nargs[which], types[which]);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare \"%s\": %s", sql[which], SPI_result_code_string(SPI_result));
		chain_plans[which] = plan;
	}
	return chain_plans[which];
}
