/*-------------------------------------------------------------------------
 *
 * alerts.c
 *	  Alert rules evaluated in C: mlops.check_alerts and the condition check
 *	  used by mlops.add_alert_rule.
 *
 * A rule's condition is text in the language of expr.c.  add_alert_rule
 * parses it once to reject bad conditions with a position and to store the
 * metric names it reads.  check_alerts(metrics, source) then, for every
 * enabled rule the caller may change (a member of the rule's owner role:
 * firing a rule changes its cooldown and stores an alert under it, so a
 * role cannot fire other roles' rules with metrics of its own making), in
 * rule_id order:
 *
 *	1. parses the condition again (microseconds; nothing is cached across
 *	   calls, so a rule changed in another session is always current) and
 *	   evaluates it against the metrics jsonb through LookupJsonbMetric; a
 *	   condition whose arithmetic fails (division by zero, overflow) is not
 *	   met, and a WARNING says which rule and why;
 *	2. when it holds, claims the rule's cooldown slot for this source with
 *	   one INSERT ... ON CONFLICT DO UPDATE ... WHERE the cooldown is 0 or
 *	   last_fired_at + cooldown <= clock_timestamp(), evaluated after the row
 *	   lock is taken: the lock serializes concurrent checks, so two sessions
 *	   never both fire within a cooldown, and with a cooldown of 0 every
 *	   check fires (the time is read after waiting for the lock, so a check
 *	   that waited behind a later one is never lost).  Rules whose committed
 *	   cooldown has not passed are skipped before step 1: a cooldown only
 *	   ever grows, so they cannot fire;
 *	3. inserts the alert (with the values of the metrics the condition
 *	   read, owned by the rule's owner), returns it and announces it on the
 *	   NOTIFY channel mlops_alerts (delivered when the transaction commits)
 *	   with a payload of its id and severity only: any role can listen on
 *	   a channel and send on it, so listeners read the alert itself with
 *	   mlops.alert(alert_id).
 *
 * On a 0.1.0 schema (no owners, no mlops.alert) every enabled rule is
 * evaluated and the full alert is sent, as 0.1.0 did.
 *
 * Conditions cannot run SQL, and check_alerts runs no user SQL at all, so
 * the whole function reads and writes as the extension owner.  A parsed
 * condition is malloc'd by expr.c; a reset callback on the calling memory
 * context frees it if an error interrupts the loop.
 *
 * Metric lookup: a name is first looked up as a key of the top-level
 * object; failing that, a dotted name walks nested objects, so the rule
 * "drift.age.psi > 0.2" reads both {"drift.age.psi": 0.3} and
 * {"drift": {"age": {"psi": 0.3}}}.  JSON null, objects and arrays count as
 * missing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

#include "monitor/monitor.h"
#include "common/common.h"

/* the NOTIFY channel alerts are sent on */
#define ALERT_CHANNEL "mlops_alerts"

/* the longest source of check_alerts, in characters (cooldowns are indexed by it) */
#define ALERT_SOURCE_MAX 256

/* holds the condition being evaluated, so an error can free it */
typedef struct ExprHolder
{
	Expr	   *expr;
} ExprHolder;

PG_FUNCTION_INFO_V1(mlops_alert_condition_metrics);
PG_FUNCTION_INFO_V1(mlops_check_alerts);

static Expr *ParseCondition(const char *condition, bool raise_error);
static void FreeHeldExpr(void *arg);
static bool LookupJsonbMetric(void *context, const char *name, ExprValue *out);
static JsonbValue *FindMetric(JsonbContainer *container, const char *name, size_t len);
static Datum FiredMetrics(const Expr *expr, Jsonb *metrics);
static void FireRule(HeapTuple rule, TupleDesc desc, Datum source, bool source_null, Datum evidence,
					 SPIPlanPtr claim_plan, SPIPlanPtr insert_plan, ReturnSetInfo *rsinfo);
static void PrepareAlertPlans(bool current, SPIPlanPtr *claim_plan, SPIPlanPtr *insert_plan);
static bool RuleHolds(HeapTuple rule, TupleDesc desc, Jsonb *metrics, ExprHolder *holder);

/*
 * mlops_alert_condition_metrics parses a condition and returns the distinct
 * metric names it reads, or raises the error that makes it invalid.
 */
Datum
mlops_alert_condition_metrics(PG_FUNCTION_ARGS)
{
	char	   *condition = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Expr	   *expr = ParseCondition(condition, true);
	int			n = ExprMetricCount(expr);
	Datum	   *names = palloc(sizeof(Datum) * (n > 0 ? n : 1));
	ArrayType  *result;

	for (int i = 0; i < n; i++)
		names[i] = CStringGetTextDatum(ExprMetricName(expr, i));
	ExprFree(expr);
	result = construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT);
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * ParseCondition parses a condition.  On failure it raises the error when
 * raise_error, and otherwise warns and returns NULL.
 */
static Expr *
ParseCondition(const char *condition, bool raise_error)
{
	ExprError	error;
	Expr	   *expr = ExprParse(condition, strlen(condition), &error);
	int			code;

	if (expr != NULL)
		return expr;
	switch (error.kind)
	{
		case EXPR_ERROR_TYPE:
			code = ERRCODE_DATATYPE_MISMATCH;
			break;
		case EXPR_ERROR_LIMIT:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		case EXPR_ERROR_MEMORY:
			code = ERRCODE_OUT_OF_MEMORY;
			break;
		case EXPR_ERROR_DIVISION:
			code = ERRCODE_DIVISION_BY_ZERO;
			break;
		case EXPR_ERROR_OVERFLOW:
			code = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
			break;
		default:
			code = ERRCODE_SYNTAX_ERROR;
			break;
	}
	ereport(raise_error ? ERROR : WARNING,
			(errcode(code),
			 errmsg("invalid alert condition: %s", error.message),
			 (error.position > 0 && strlen(condition) <= 120 && strchr(condition, '\n') == NULL) ?
			 errdetail("%s\n%*s^", condition, error.position - 1, "") : 0,
			 errhint("Conditions use metric names, numbers, 'strings', true and false, comparisons "
					 "(> >= < <= = !=), and, or, not, parentheses, + - * / and missing(name), "
					 "for example: p95_latency_ms > 200 and error_rate >= 0.05.")));
	return NULL;
}

/*
 * mlops_check_alerts evaluates every enabled rule the caller may change
 * against metrics, fires those that hold and are out of cooldown for
 * source, and returns the alerts it fired.
 */
Datum
mlops_check_alerts(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext callcxt = CurrentMemoryContext;
	bool		current = MlopsSchemaIsCurrent();
	Jsonb	   *metrics;
	Datum		source;
	bool		source_null = PG_ARGISNULL(1);
	MlopsOwnerSave save;
	SPITupleTable *rules;
	uint64		nrules;
	SPIPlanPtr	claim_plan;
	SPIPlanPtr	insert_plan;
	ExprHolder *holder;
	MemoryContextCallback *cb;
	int			rc;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("metrics must not be null"),
				 errhint("Pass a JSON object such as mlops.current_metrics('churn').")));
	metrics = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(metrics) || JB_ROOT_IS_SCALAR(metrics))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metrics must be a JSON object"),
				 errhint("Pass an object such as '{\"p95_latency_ms\": 250, \"error_rate\": 0.01}'::jsonb.")));
	source = source_null ? (Datum) 0 : PG_GETARG_DATUM(1);
	if (!source_null)
	{
		text	   *t = DatumGetTextPP(source);
		int			len = pg_mbstrlen_with_len(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));

		if (len > ALERT_SOURCE_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("alert source is too long"),
					 errdetail("It has %d characters; the limit is %d.", len, ALERT_SOURCE_MAX),
					 errhint("Pass the name of the model the metrics are about.")));
		source = PointerGetDatum(t);
	}

	InitMaterializedSRF(fcinfo, 0);

	holder = MemoryContextAllocZero(callcxt, sizeof(ExprHolder));
	cb = MemoryContextAlloc(callcxt, sizeof(MemoryContextCallback));
	cb->func = FreeHeldExpr;
	cb->arg = holder;
	MemoryContextRegisterResetCallback(callcxt, cb);

	MlopsBeginOwner(&save);
	SPI_connect();

	/*
	 * every enabled rule the actor may change (any, on a 0.1.0 schema), and
	 * whether it is known to be cooling down for this source
	 */
	rc = SPI_execute_with_args(current ?
							   "SELECT r.rule_id, r.name, r.condition, r.severity, r.cooldown, r.labels,"
							   "       COALESCE((c.last_fired_at OPERATOR(pg_catalog.+) r.cooldown)"
							   "                OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp(), false), r.owner"
							   "  FROM mlops.alert_rules r"
							   "  LEFT JOIN mlops.alert_cooldowns c ON c.rule_id OPERATOR(pg_catalog.=) r.rule_id"
							   "   AND c.source OPERATOR(pg_catalog.=) COALESCE($1, '')"
							   " WHERE r.enabled AND mlops._may_change(r.owner) ORDER BY r.rule_id" :
							   "SELECT r.rule_id, r.name, r.condition, r.severity, r.cooldown, r.labels,"
							   "       COALESCE((c.last_fired_at OPERATOR(pg_catalog.+) r.cooldown)"
							   "                OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp(), false)"
							   "  FROM mlops.alert_rules r"
							   "  LEFT JOIN mlops.alert_cooldowns c ON c.rule_id OPERATOR(pg_catalog.=) r.rule_id"
							   "   AND c.source OPERATOR(pg_catalog.=) COALESCE($1, '')"
							   " WHERE r.enabled ORDER BY r.rule_id",
							   1, (Oid[]) {TEXTOID}, &source, source_null ? "n" : " ", false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading alert rules failed: %s", SPI_result_code_string(rc));
	rules = SPI_tuptable;
	nrules = SPI_processed;
	PrepareAlertPlans(current, &claim_plan, &insert_plan);

	for (uint64 i = 0; i < nrules; i++)
	{
		HeapTuple	rule = rules->vals[i];
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		if (DatumGetBool(SPI_getbinval(rule, rules->tupdesc, 7, &isnull)))
			continue;			/* fired within its cooldown: it cannot fire now */
		if (RuleHolds(rule, rules->tupdesc, metrics, holder))
			FireRule(rule, rules->tupdesc, source, source_null, FiredMetrics(holder->expr, metrics),
					 claim_plan, insert_plan, rsinfo);
		ExprFree(holder->expr);
		holder->expr = NULL;
	}

	SPI_finish();
	MlopsEndOwner(&save);
	return (Datum) 0;
}

/*
 * RuleHolds parses a rule's condition into holder->expr and returns whether
 * it holds for metrics.  A condition that no longer parses, or whose
 * arithmetic fails, does not hold, and a WARNING says why.
 */
static bool
RuleHolds(HeapTuple rule, TupleDesc desc, Jsonb *metrics, ExprHolder *holder)
{
	char	   *condition = SPI_getvalue(rule, desc, 3);
	ExprError	error;

	holder->expr = ParseCondition(condition, false);
	if (holder->expr == NULL)
		return false;
	switch (ExprEvaluateChecked(holder->expr, LookupJsonbMetric, &metrics->root, &error))
	{
		case 1:
			return true;
		case 0:
			return false;
		default:
			ereport(WARNING,
					(errcode(error.kind == EXPR_ERROR_DIVISION ? ERRCODE_DIVISION_BY_ZERO
							 : ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("alert rule \"%s\" was not evaluated: %s",
							SPI_getvalue(rule, desc, 1), error.message),
					 (strlen(condition) <= 120 && strchr(condition, '\n') == NULL) ?
					 errdetail("%s\n%*s^", condition, error.position - 1, "") : 0,
					 error.kind == EXPR_ERROR_DIVISION ?
					 errhint("The condition counts as not met. Check the divisor first, as in \"calls > 0 and errors / calls > 0.1\".") :
					 errhint("The condition counts as not met. Keep results within about 1.8e308, for example by comparing a quotient instead of a product.")));
			return false;
	}
}

/*
 * PrepareAlertPlans prepares the statement that claims a rule's cooldown
 * slot and the one that stores an alert (and makes its NOTIFY payload: the
 * alert id and severity, or on a 0.1.0 schema the alert as JSON).
 */
static void
PrepareAlertPlans(bool current, SPIPlanPtr *claim_plan, SPIPlanPtr *insert_plan)
{
	/* the time is read after the row lock is taken; a cooldown of 0 always fires */
	*claim_plan = SPI_prepare("INSERT INTO mlops.alert_cooldowns AS c (rule_id, source, last_fired_at)"
							  " VALUES ($1, COALESCE($2, ''), pg_catalog.clock_timestamp())"
							  " ON CONFLICT (rule_id, source) DO UPDATE"
							  "   SET last_fired_at = GREATEST(c.last_fired_at, pg_catalog.clock_timestamp())"
							  " WHERE $3 OPERATOR(pg_catalog.<=) '0'::pg_catalog.interval"
							  "    OR (c.last_fired_at OPERATOR(pg_catalog.+) $3) OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()"
							  " RETURNING c.last_fired_at",
							  3, (Oid[]) {TEXTOID, TEXTOID, INTERVALOID});
	if (current)
		*insert_plan = SPI_prepare("WITH a AS ("
								   " INSERT INTO mlops.alerts (rule_id, rule_name, severity, condition, source,"
								   "                           metrics, labels, fired_at, owner)"
								   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *)"
								   " SELECT a.*, NULL::pg_catalog.text, pg_catalog.jsonb_build_object("
								   "   'alert_id', a.alert_id, 'severity', a.severity)::pg_catalog.text FROM a",
								   9, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID,
								   TIMESTAMPTZOID, REGROLEOID});
	else
		*insert_plan = SPI_prepare("WITH a AS ("
								   " INSERT INTO mlops.alerts (rule_id, rule_name, severity, condition, source,"
								   "                           metrics, labels, fired_at)"
								   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *),"
								   " j AS (SELECT a.*, pg_catalog.jsonb_build_object("
								   "   'alert_id', a.alert_id, 'rule_id', a.rule_id, 'name', a.rule_name,"
								   "   'severity', a.severity, 'source', a.source, 'fired_at', a.fired_at,"
								   "   'metrics', a.metrics, 'labels', a.labels)::text AS full_payload FROM a)"
								   " SELECT j.*, CASE WHEN pg_catalog.octet_length(j.full_payload) OPERATOR(pg_catalog.<) 7900"
								   "   THEN j.full_payload ELSE pg_catalog.jsonb_build_object("
								   "   'alert_id', j.alert_id, 'rule_id', j.rule_id, 'severity', j.severity,"
								   "   'fired_at', j.fired_at, 'truncated', true)::text END FROM j",
								   8, (Oid[]) {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID});
	if (*claim_plan == NULL || *insert_plan == NULL)
		elog(ERROR, "preparing alert statements failed: %s", SPI_result_code_string(SPI_result));
}

/*
 * FireRule claims the cooldown slot of a rule whose condition holds and,
 * unless another check fired it within its cooldown, stores the alert with
 * its evidence (owned by the rule's owner), adds it to the result and
 * queues its NOTIFY.
 */
static void
FireRule(HeapTuple rule, TupleDesc desc, Datum source, bool source_null, Datum evidence,
		 SPIPlanPtr claim_plan, SPIPlanPtr insert_plan, ReturnSetInfo *rsinfo)
{
	int			natts = rsinfo->setDesc->natts;
	Datum		args[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	char		source_flag = source_null ? 'n' : ' ';
	bool		isnull;
	HeapTuple	row;
	TupleDesc	rowdesc;
	Datum	   *values;
	bool	   *isnulls;
	int			rc;

	/* rule_id, source, cooldown */
	args[0] = SPI_getbinval(rule, desc, 1, &isnull);
	args[1] = source;
	nulls[1] = source_flag;
	args[2] = SPI_getbinval(rule, desc, 5, &isnull);
	rc = SPI_execute_plan(claim_plan, args, nulls, false, 0);
	if (rc != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "claiming the alert cooldown failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return;					/* another session fired it within its cooldown */

	/* rule_id, name, severity, condition, source, metrics, labels, fired_at, owner */
	args[7] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	args[1] = SPI_getbinval(rule, desc, 2, &isnull);
	nulls[1] = ' ';
	args[2] = SPI_getbinval(rule, desc, 4, &isnull);
	args[3] = SPI_getbinval(rule, desc, 3, &isnull);
	args[4] = source;
	nulls[4] = source_flag;
	args[5] = evidence;
	args[6] = SPI_getbinval(rule, desc, 6, &isnull);
	if (desc->natts >= 8)
		args[8] = SPI_getbinval(rule, desc, 8, &isnull);
	rc = SPI_execute_plan(insert_plan, args, nulls, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "storing an alert failed: %s", SPI_result_code_string(rc));

	/* the row is the alert's columns, the full payload and the one to send */
	row = SPI_tuptable->vals[0];
	rowdesc = SPI_tuptable->tupdesc;
	if (rowdesc->natts != natts + 2)
		elog(ERROR, "alert row has %d columns, expected %d", rowdesc->natts, natts + 2);
	values = palloc(sizeof(Datum) * natts);
	isnulls = palloc(sizeof(bool) * natts);
	for (int k = 0; k < natts; k++)
		values[k] = SPI_getbinval(row, rowdesc, k + 1, &isnulls[k]);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnulls);
	Async_Notify(ALERT_CHANNEL, SPI_getvalue(row, rowdesc, natts + 2));
}

/*
 * FreeHeldExpr frees a condition left parsed when an error interrupted
 * check_alerts.
 */
static void
FreeHeldExpr(void *arg)
{
	ExprHolder *holder = (ExprHolder *) arg;

	ExprFree(holder->expr);
	holder->expr = NULL;
}

/*
 * LookupJsonbMetric is the expr.c lookup callback over a jsonb object.
 */
static bool
LookupJsonbMetric(void *context, const char *name, ExprValue *out)
{
	JsonbValue *v = FindMetric((JsonbContainer *) context, name, strlen(name));

	if (v == NULL)
		return false;
	switch (v->type)
	{
		case jbvNumeric:
			out->type = EXPR_NUMBER;
			out->num = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
														  NumericGetDatum(v->val.numeric)));
			return true;
		case jbvString:
			out->type = EXPR_STRING;
			out->str = v->val.string.val;
			out->len = v->val.string.len;
			return true;
		case jbvBool:
			out->type = EXPR_BOOL;
			out->boolean = v->val.boolean;
			return true;
		default:
			return false;		/* null, object, array */
	}
}

/*
 * FindMetric finds the value named by the first len bytes of name in an
 * object: the whole name as a key, else a key up to a dot followed by the
 * rest of the name inside that key's object.
 */
static JsonbValue *
FindMetric(JsonbContainer *container, const char *name, size_t len)
{
	JsonbValue *v;

	if (!JsonContainerIsObject(container))
		return NULL;
	v = getKeyJsonValueFromContainer(container, name, len, NULL);
	if (v != NULL)
		return v;
	for (size_t dot = 0; dot < len; dot++)
	{
		if (name[dot] != '.')
			continue;
		v = getKeyJsonValueFromContainer(container, name, dot, NULL);
		if (v != NULL && v->type == jbvBinary)
		{
			JsonbValue *inner = FindMetric(v->val.binary.data, name + dot + 1, len - dot - 1);

			if (inner != NULL)
				return inner;
		}
	}
	return NULL;
}

/*
 * FiredMetrics returns a jsonb object of the metrics a condition reads and
 * their values (null when missing): the evidence stored with an alert.
 */
static Datum
FiredMetrics(const Expr *expr, Jsonb *metrics)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < ExprMetricCount(expr); i++)
	{
		const char *name = ExprMetricName(expr, i);
		JsonbValue	key;
		JsonbValue	null;
		JsonbValue *v = FindMetric(&metrics->root, name, strlen(name));

		key.type = jbvString;
		key.val.string.val = (char *) name;
		key.val.string.len = strlen(name);
		pushJsonbValue(&state, WJB_KEY, &key);
		if (v == NULL || v->type == jbvBinary)
		{
			null.type = jbvNull;
			v = &null;
		}
		pushJsonbValue(&state, WJB_VALUE, v);
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(result));
}
