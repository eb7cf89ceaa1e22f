/*
 * pit_join.c
 *		Point-in-time correct joins: mlops.historical_features_sql returns the
 *		join as SQL text, mlops.create_training_set runs the same text in a
 *		CREATE TABLE ... AS as the caller and records the lineage.
 *
 * Semantics (docs/feature_store.md): each entity row (entity e, event time
 * t) gets, from each requested feature set version, the feature row of
 * entity e with the greatest (feature_ts, created) such that feature_ts <= t;
 * NULL features when there is none, when it is older than the set's ttl
 * (t - feature_ts > ttl), or when the entity row's entity or event time is
 * NULL.  Feature rows with a NULL entity or timestamp are ignored; a NULL
 * created time sorts before every other.  Two candidate rows with the same
 * entity, timestamp and created time make the join ambiguous: the query
 * raises 21000 through mlops._feature_ambiguous when such a row would be
 * chosen.
 *
 * The join is a merge, not a lookup per row: for each feature set, the
 * entity rows and the feature rows are put in one stream (UNION ALL),
 * sorted by (entity, time, kind, created) with feature rows before entity
 * rows of the same time, and a running count of feature rows numbers the
 * groups; every entity row then shares its group with the last feature row
 * before it, which first_value() hands over.  The planner does it with two
 * sorts and no per-row index probe; the entity rows are numbered once
 * (__mlops_row) so the features of every set are joined back to them by
 * number, and the output keeps the entity source's order.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_coerce.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "common/common.h"
#include "features/features.h"

PG_FUNCTION_INFO_V1(mlops_historical_features_sql);
PG_FUNCTION_INFO_V1(mlops_create_training_set);

/* what both entry points work out before building the join */
typedef struct JoinPlan
{
	char	   *entity_source;
	char	   *event_column;
	char	   *entity_query;
	TupleDesc	entity_desc;
	FeatureRequest *reqs;
	int			nreqs;
	char	  **fqueries;		/* each set's source query, resolved as the caller */
	char	   *sql;
} JoinPlan;

static void PlanJoin(FunctionCallInfo fcinfo, int argoff, JoinPlan *plan);
static void CheckEntitySource(JoinPlan *plan);
static void AppendSetJoin(StringInfo buf, int i, FeatureRequest *req, const char *fquery,
						  const char *event_column);
static char *VersionsJson(JoinPlan *plan);

/*
 * mlops_historical_features_sql implements
 * mlops.historical_features_sql(entity_source, features,
 * event_timestamp_column) RETURNS text.
 */
Datum
mlops_historical_features_sql(PG_FUNCTION_ARGS)
{
	JoinPlan	plan;
	MemoryContext callcxt = CurrentMemoryContext;
	text	   *result;

	MlopsRequireCurrentSchema("mlops.historical_features_sql");
	SPI_connect();
	PlanJoin(fcinfo, 0, &plan);
	result = (text *) MemoryContextAlloc(callcxt, VARHDRSZ + strlen(plan.sql));
	SET_VARSIZE(result, VARHDRSZ + strlen(plan.sql));
	memcpy(VARDATA(result), plan.sql, strlen(plan.sql));
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

/*
 * mlops_create_training_set implements mlops.create_training_set(name,
 * entity_source, features, event_timestamp_column) RETURNS bigint: creates
 * table name as the caller from the point-in-time join, records the
 * lineage, and returns the row count.
 */
Datum
mlops_create_training_set(PG_FUNCTION_ARGS)
{
	JoinPlan	plan;
	char	   *name = FeatureTextArg(fcinfo, 0, "name");
	List	   *names;
	RangeVar   *rv;
	char	   *qualified;
	Oid			relid;
	int64		rows;
	Oid			types[7] = {OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, JSONBOID, INT8OID};
	Datum		values[7];
	bool		isnull;

	MlopsRequireCurrentSchema("mlops.create_training_set");
	names = stringToQualifiedNameList(name);
	rv = makeRangeVarFromNameList(names);
	if (rv->catalogname != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cross-database references are not implemented: \"%s\"", MlopsClip(name, MLOPS_ECHO_MAX))));
	if (OidIsValid(RangeVarGetRelid(rv, NoLock, true)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", MlopsClip(name, MLOPS_ECHO_MAX)),
				 errhint("create_training_set never overwrites a table: drop it first or choose another name.")));
	qualified = rv->schemaname ? quote_qualified_identifier(rv->schemaname, rv->relname)
		: pstrdup(quote_identifier(rv->relname));

	SPI_connect();
	PlanJoin(fcinfo, 1, &plan);
	/* the table is created as the caller: CREATE privilege, the caller owns it */
	rows = FeatureMergeCreate(qualified, plan.entity_query, plan.entity_desc, plan.event_column,
							  plan.reqs, plan.nreqs, plan.fqueries, plan.sql);
	relid = RangeVarGetRelid(rv, NoLock, false);

	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
															   get_rel_name(relid)));
	values[2] = CStringGetTextDatum(plan.entity_source);
	values[3] = CStringGetTextDatum(plan.event_column);
	values[4] = PG_GETARG_DATUM(2);
	values[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(VersionsJson(&plan)));
	values[6] = Int64GetDatum(rows);
	(void) FeatureRunOwner("SELECT mlops._record_training_set($1, $2, $3, $4, $5, $6, $7)",
						   7, types, values, &isnull);
	SPI_finish();
	PG_RETURN_INT64(rows);
}

/*
 * PlanJoin reads the arguments (entity_source, features,
 * event_timestamp_column from argument argoff on), loads the requested
 * feature set versions, checks every source as the caller and builds the
 * join's SQL.  SPI must be connected.
 */
static void
PlanJoin(FunctionCallInfo fcinfo, int argoff, JoinPlan *plan)
{
	char	  **fqueries;

	plan->entity_source = FeatureTextArg(fcinfo, argoff, "entity_source");
	if (PG_ARGISNULL(argoff + 1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("features must not be null")));
	plan->event_column = FeatureTextArg(fcinfo, argoff + 2, "event_timestamp_column");
	plan->reqs = FeatureRefsParse(PG_GETARG_ARRAYTYPE_P(argoff + 1), &plan->nreqs);
	plan->entity_query = SourceQuery(plan->entity_source);
	plan->entity_desc = FeatureDescribeQuery(plan->entity_query);
	CheckEntitySource(plan);
	fqueries = palloc(sizeof(char *) * plan->nreqs);
	for (int i = 0; i < plan->nreqs; i++)
		fqueries[i] = FeatureSourceCheck(plan->reqs[i].def);
	plan->fqueries = fqueries;

	{
		StringInfoData buf;
		TupleDesc	ed = plan->entity_desc;

		initStringInfo(&buf);
		appendStringInfo(&buf,
						 "WITH __mlops_e AS MATERIALIZED (SELECT __mlops_s.*, pg_catalog.row_number() OVER () AS __mlops_row "
						 "FROM (%s\n) __mlops_s)", plan->entity_query);
		for (int i = 0; i < plan->nreqs; i++)
			AppendSetJoin(&buf, i, &plan->reqs[i], fqueries[i], plan->event_column);
		appendStringInfoString(&buf, "\nSELECT ");
		for (int a = 0; a < ed->natts; a++)
			appendStringInfo(&buf, "%se.%s", a > 0 ? ", " : "",
							 quote_identifier(NameStr(TupleDescAttr(ed, a)->attname)));
		for (int i = 0; i < plan->nreqs; i++)
			for (int k = 0; k < plan->reqs[i].nfeatures; k++)
				appendStringInfo(&buf, ", j%d.%s", i,
								 quote_identifier(plan->reqs[i].def->feature_names[plan->reqs[i].feature_index[k]]));
		appendStringInfoString(&buf, "\nFROM __mlops_e e");
		for (int i = 0; i < plan->nreqs; i++)
			appendStringInfo(&buf, " LEFT JOIN __mlops_j%d j%d ON j%d.__mlops_row OPERATOR(pg_catalog.=) e.__mlops_row",
							 i, i, i);
		appendStringInfoString(&buf, "\nORDER BY e.__mlops_row");
		plan->sql = buf.data;
	}
}

/*
 * CheckEntitySource checks the entity source's event time and entity
 * columns against every requested set, and that no output column name is
 * taken twice.
 */
static void
CheckEntitySource(JoinPlan *plan)
{
	TupleDesc	ed = plan->entity_desc;
	int			attno = FeatureFindColumn(ed, plan->event_column);
	List	   *outnames = NIL;

	if (attno == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("event_timestamp_column \"%s\" is not a column of the entity source",
						MlopsClip(plan->event_column, MLOPS_ECHO_MAX)),
				 errhint("%s", SourceColumnsHint(ed))));
	if (!FeatureIsTimestampType(FeatureTypeName(ed, attno)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("event timestamp column \"%s\" has type %s", plan->event_column, FeatureTypeName(ed, attno)),
				 errhint("The event timestamp column is a timestamptz, timestamp or date.")));
	for (int a = 0; a < ed->natts; a++)
	{
		const char *n = NameStr(TupleDescAttr(ed, a)->attname);

		if (strncmp(n, "__mlops", 7) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("entity source column \"%s\" has a reserved name", n),
					 errdetail("Column names starting with __mlops are reserved for the join.")));
		outnames = lappend(outnames, (char *) n);
	}
	for (int i = 0; i < plan->nreqs; i++)
	{
		FeatureSetDef *def = plan->reqs[i].def;
		int			e = FeatureFindColumn(ed, def->entity_column);
		Oid			have;
		Oid			want;
		int32		typmod;

		if (e == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the entity source has no column \"%s\", the entity of feature set \"%s\"",
							def->entity_column, def->name),
					 errhint("%s", SourceColumnsHint(ed))));
		have = TupleDescAttr(ed, e - 1)->atttypid;
		typenameTypeIdAndMod(NULL, typeStringToTypeName(def->entity_type), &want, &typmod);
		if (have != want && !can_coerce_type(1, &have, &want, COERCION_IMPLICIT))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("entity column \"%s\" is %s in the entity source but %s in feature set \"%s\"",
							def->entity_column, FeatureTypeName(ed, e), def->entity_type, def->name),
					 errhint("Cast the column in the entity source, for example with a query.")));
		for (int k = 0; k < plan->reqs[i].nfeatures; k++)
		{
			char	   *f = def->feature_names[plan->reqs[i].feature_index[k]];
			ListCell   *lc;

			foreach(lc, outnames)
				if (strcmp((char *) lfirst(lc), f) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("feature \"%s:%s\" would make a second column \"%s\"", def->name, f, f),
						 errhint("Every output column needs its own name: rename the entity source's column, or ask for one of the features only.")));
			outnames = lappend(outnames, f);
		}
	}
}

/*
 * AppendSetJoin appends the CTE __mlops_j<i>: for every entity row with an
 * entity and an event time, its number and the point-in-time features of
 * one feature set version.
 */
static void
AppendSetJoin(StringInfo buf, int i, FeatureRequest *req, const char *fquery, const char *event_column)
{
	FeatureSetDef *def = req->def;
	const char *ek = quote_identifier(def->entity_column);
	const char *fts = quote_identifier(def->timestamp_column);
	const char *created = def->created_column ? psprintf("f.%s", quote_identifier(def->created_column)) : "NULL::integer";
	const char *ctype = def->created_column ? def->created_type : "integer";
	const char *ev = quote_identifier(event_column);

	appendStringInfo(buf, ",\n__mlops_j%d AS (SELECT x.__mlops_row", i);
	for (int k = 0; k < req->nfeatures; k++)
	{
		const char *f = quote_identifier(def->feature_names[req->feature_index[k]]);

		if (def->ttl)
			appendStringInfo(buf, ", CASE WHEN x.__mlops_t OPERATOR(pg_catalog.-) x.__mlops_fts OPERATOR(pg_catalog.<=) %s::interval THEN x.%s END AS %s",
							 quote_literal_cstr(def->ttl), f, f);
		else
			appendStringInfo(buf, ", x.%s", f);
	}
	appendStringInfoString(buf, " FROM (SELECT g.__mlops_kind, g.__mlops_row, g.__mlops_t, g.__mlops_key, "
						   "pg_catalog.first_value(g.__mlops_fts) OVER w AS __mlops_fts, "
						   "pg_catalog.first_value(g.__mlops_dup) OVER w AS __mlops_dup");
	for (int k = 0; k < req->nfeatures; k++)
	{
		const char *f = quote_identifier(def->feature_names[req->feature_index[k]]);

		appendStringInfo(buf, ", pg_catalog.first_value(g.%s) OVER w AS %s", f, f);
	}
	appendStringInfoString(buf, " FROM (SELECT u.*, pg_catalog.count(u.__mlops_fts) OVER w1 AS __mlops_g, "
						   "(u.__mlops_kind OPERATOR(pg_catalog.=) 0 "
						   "AND pg_catalog.lag(u.__mlops_kind) OVER w1 OPERATOR(pg_catalog.=) 0 "
						   "AND pg_catalog.lag(u.__mlops_t) OVER w1 OPERATOR(pg_catalog.=) u.__mlops_t "
						   "AND pg_catalog.lag(u.__mlops_c) OVER w1 IS NOT DISTINCT FROM u.__mlops_c) AS __mlops_dup "
						   "FROM (");
	/* the entity rows */
	appendStringInfo(buf, "SELECT e.%s::%s AS __mlops_key, e.%s::timestamptz AS __mlops_t, 1 AS __mlops_kind, "
					 "NULL::%s AS __mlops_c, e.__mlops_row, NULL::timestamptz AS __mlops_fts",
					 ek, def->entity_type, ev, ctype);
	for (int k = 0; k < req->nfeatures; k++)
		appendStringInfo(buf, ", NULL::%s AS %s", def->feature_types[req->feature_index[k]],
						 quote_identifier(def->feature_names[req->feature_index[k]]));
	appendStringInfo(buf, " FROM __mlops_e e WHERE e.%s IS NOT NULL AND e.%s IS NOT NULL UNION ALL ", ek, ev);
	/* the feature rows */
	appendStringInfo(buf, "SELECT f.%s, f.%s::timestamptz, 0, %s, NULL::bigint, f.%s::timestamptz", ek, fts, created, fts);
	for (int k = 0; k < req->nfeatures; k++)
		appendStringInfo(buf, ", f.%s", quote_identifier(def->feature_names[req->feature_index[k]]));
	appendStringInfo(buf, " FROM (%s\n) f WHERE f.%s IS NOT NULL AND f.%s IS NOT NULL) u "
					 "WINDOW w1 AS (PARTITION BY u.__mlops_key ORDER BY u.__mlops_t, u.__mlops_kind, u.__mlops_c NULLS FIRST "
					 "ROWS UNBOUNDED PRECEDING)) g "
					 "WINDOW w AS (PARTITION BY g.__mlops_key, g.__mlops_g ORDER BY g.__mlops_kind ROWS UNBOUNDED PRECEDING)) x "
					 "WHERE x.__mlops_kind OPERATOR(pg_catalog.=) 1 AND (x.__mlops_dup IS NOT TRUE "
					 "OR mlops._feature_ambiguous(%s, x.__mlops_key::text, x.__mlops_t)))",
					 fquery, ek, fts, quote_literal_cstr(def->name));
}

/*
 * VersionsJson returns the lineage of a join: [{"feature_set", "version",
 * "features"}].
 */
static char *
VersionsJson(JoinPlan *plan)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < plan->nreqs; i++)
	{
		FeatureRequest *req = &plan->reqs[i];

		appendStringInfo(&buf, "%s{\"feature_set\": ", i > 0 ? ", " : "");
		escape_json(&buf, req->def->name);
		appendStringInfo(&buf, ", \"version\": %d, \"features\": [", req->def->version);
		for (int k = 0; k < req->nfeatures; k++)
		{
			if (k > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, req->def->feature_names[req->feature_index[k]]);
		}
		appendStringInfoString(&buf, "]}");
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}
