/*
 * materialize.c
 *		mlops.materialize and mlops.materialize_incremental: the latest row of
 *		every entity of a feature set, upserted into its online table
 *		mlops_online.<name> (one typed column per feature, keyed by entity).
 *
 * Data flow: the feature set's row in mlops.feature_sets is locked (FOR
 * UPDATE, as the extension owner) so materialisations of one set take
 * turns, and the actor must be allowed to change the set.  The source is
 * read AS THE CALLER into a temporary table (the latest row per entity in
 * the window [start_ts, end_ts]); the caller grants the extension owner
 * SELECT on it; then, as the extension owner, the online table is created
 * (or rebuilt when the set has a new version) and upserted from it, and the
 * set's freshness (rows, time, watermark) is updated.  Everything happens in
 * the caller's transaction, so a concurrent reader of the online table sees
 * the whole materialisation or none of it (MVCC).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "features/features.h"

PG_FUNCTION_INFO_V1(mlops_materialize);
PG_FUNCTION_INFO_V1(mlops_materialize_incremental);

static int64 Materialize(const char *name, bool incremental, bool has_start, TimestampTz start,
						 bool has_end, TimestampTz end);
static void LockFeatureSet(const char *name);
static void ReadLatestRows(FeatureSetDef *def, const char *temp, bool has_start, TimestampTz start,
						   bool has_end, TimestampTz end);
static void RunAsOwner(const char *sql);
static char *OnlineTableSql(FeatureSetDef *def);

/*
 * mlops_materialize implements mlops.materialize(feature_set, start_ts,
 * end_ts) RETURNS bigint, the number of entities written.
 */
Datum
mlops_materialize(PG_FUNCTION_ARGS)
{
	char	   *name = FeatureTextArg(fcinfo, 0, "feature_set");

	return Int64GetDatum(Materialize(name, false,
									 !PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_TIMESTAMPTZ(1),
									 !PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_TIMESTAMPTZ(2)));
}

/*
 * mlops_materialize_incremental implements
 * mlops.materialize_incremental(feature_set) RETURNS bigint: materialize
 * from the set's watermark (everything the first time) to now().
 */
Datum
mlops_materialize_incremental(PG_FUNCTION_ARGS)
{
	char	   *name = FeatureTextArg(fcinfo, 0, "feature_set");

	return Int64GetDatum(Materialize(name, true, false, 0, true, GetCurrentTransactionStartTimestamp()));
}

/*
 * Materialize does the work of both entry points and returns the number of
 * entities inserted or updated.
 */
static int64
Materialize(const char *name, bool incremental, bool has_start, TimestampTz start,
			bool has_end, TimestampTz end)
{
	static int	counter = 0;
	FeatureSetDef *def;
	char	   *temp;
	char	   *online;
	StringInfoData sql;
	int64		written;
	int			rc;
	MlopsOwnerSave save;

	FeatureSetCheckName(name);
	MlopsRequireCurrentSchema("mlops.materialize");
	if (has_start && has_end && start > end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("start_ts must not be later than end_ts"),
				 errdetail("start_ts is %s and end_ts is %s.", timestamptz_to_str(start), timestamptz_to_str(end))));
	SPI_connect();
	LockFeatureSet(name);
	def = FeatureSetLoad(name, 0);
	if (incremental && def->has_watermark && def->online_version == def->version)
	{
		has_start = true;
		start = def->watermark;
	}
	temp = psprintf("mlops_materialize_%d", ++counter);
	ReadLatestRows(def, temp, has_start, start, has_end, end);

	online = psprintf("mlops_online.%s", quote_identifier(name));
	if (def->online_version != def->version)
		RunAsOwner(OnlineTableSql(def));
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s AS o SELECT * FROM pg_temp.%s ON CONFLICT (__mlops_entity) DO UPDATE SET "
					 "__mlops_ts = EXCLUDED.__mlops_ts, __mlops_created = EXCLUDED.__mlops_created", online, temp);
	for (int f = 0; f < def->nfeatures; f++)
		appendStringInfo(&sql, ", %s = EXCLUDED.%s", quote_identifier(def->feature_names[f]),
						 quote_identifier(def->feature_names[f]));
	appendStringInfoString(&sql, " WHERE o.__mlops_ts OPERATOR(pg_catalog.<=) EXCLUDED.__mlops_ts");
	MlopsBeginOwner(&save);
	rc = SPI_execute(sql.data, false, 0);
	written = (int64) SPI_processed;
	MlopsEndOwner(&save);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing the online store failed: %s", SPI_result_code_string(rc));

	resetStringInfo(&sql);
	appendStringInfo(&sql, "UPDATE mlops.feature_sets s SET online_version = %d, materialized_at = pg_catalog.now(), "
					 "online_rows = (SELECT pg_catalog.count(*) FROM %s), "
					 "watermark = %s FROM (SELECT pg_catalog.max(t.__mlops_ts) AS m FROM pg_temp.%s t) b "
					 "WHERE s.name OPERATOR(pg_catalog.=) %s",
					 def->version, online,
					 has_end ? psprintf("GREATEST(s.watermark, %s::timestamptz)",
										quote_literal_cstr(timestamptz_to_str(end)))
					 : "GREATEST(s.watermark, b.m)",
					 temp, quote_literal_cstr(name));
	RunAsOwner(sql.data);
	RunAsOwner(psprintf("SELECT mlops._audit_event('feature_set.materialize', 'feature_set', %s, "
						"pg_catalog.jsonb_build_object('version', %d, 'entities', " INT64_FORMAT ", 'incremental', %s))",
						quote_literal_cstr(name), def->version, written, incremental ? "true" : "false"));
	rc = SPI_execute(psprintf("DROP TABLE pg_temp.%s", temp), false, 0);
	if (rc != SPI_OK_UTILITY)
		elog(ERROR, "dropping the materialisation batch failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	return written;
}

/*
 * LockFeatureSet locks the set's row as the extension owner and raises
 * unless the actor may change the set.
 */
static void
LockFeatureSet(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	MlopsOwnerSave save;
	bool		isnull;
	int			rc;

	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args("SELECT owner::oid FROM mlops.feature_sets WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
							   1, types, values, NULL, false, 1);
	MlopsEndOwner(&save);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "locking feature set failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature set \"%s\" does not exist", name),
				 errhint("Register it with mlops.register_feature_set(); mlops.feature_sets lists them.")));
	MlopsRequireOwner("feature_set", name,
					  DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
}

/*
 * ReadLatestRows reads the source as the caller into temporary table temp:
 * the latest row of every entity whose timestamp lies in the window, and
 * lets the extension owner read it.
 */
static void
ReadLatestRows(FeatureSetDef *def, const char *temp, bool has_start, TimestampTz start,
			   bool has_end, TimestampTz end)
{
	char	   *query = FeatureSourceCheck(def);
	const char *ek = quote_identifier(def->entity_column);
	const char *ts = quote_identifier(def->timestamp_column);
	const char *created = def->created_column ? psprintf("f.%s", quote_identifier(def->created_column)) : "NULL::integer";
	StringInfoData sql;
	int			rc;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TEMP TABLE %s AS SELECT DISTINCT ON (f.%s) f.%s AS __mlops_entity, "
					 "f.%s::timestamptz AS __mlops_ts, %s AS __mlops_created", temp, ek, ek, ts, created);
	for (int f = 0; f < def->nfeatures; f++)
		appendStringInfo(&sql, ", f.%s", quote_identifier(def->feature_names[f]));
	appendStringInfo(&sql, " FROM (%s\n) f WHERE f.%s IS NOT NULL AND f.%s IS NOT NULL", query, ek, ts);
	if (has_start)
		appendStringInfo(&sql, " AND f.%s::timestamptz OPERATOR(pg_catalog.>=) %s::timestamptz", ts,
						 quote_literal_cstr(timestamptz_to_str(start)));
	if (has_end)
		appendStringInfo(&sql, " AND f.%s::timestamptz OPERATOR(pg_catalog.<=) %s::timestamptz", ts,
						 quote_literal_cstr(timestamptz_to_str(end)));
	appendStringInfo(&sql, " ORDER BY f.%s, f.%s DESC, 3 DESC NULLS LAST", ek, ts);
	rc = SPI_execute(sql.data, false, 0);
	if (rc != SPI_OK_UTILITY && rc != SPI_OK_SELINTO)
		elog(ERROR, "reading the feature source failed: %s", SPI_result_code_string(rc));
	if (GetUserId() != MlopsExtensionOwner() && !superuser())
	{
		rc = SPI_execute(psprintf("GRANT SELECT ON pg_temp.%s TO %s", temp,
								  quote_identifier(GetUserNameFromId(MlopsExtensionOwner(), false))),
						 false, 0);
		if (rc != SPI_OK_UTILITY)
			elog(ERROR, "granting the materialisation batch failed: %s", SPI_result_code_string(rc));
	}
}

/*
 * RunAsOwner runs one statement of ours as the extension owner.
 */
static void
RunAsOwner(const char *sql)
{
	MlopsOwnerSave save;
	int			rc;

	MlopsBeginOwner(&save);
	rc = SPI_execute(sql, false, 0);
	MlopsEndOwner(&save);
	if (rc < 0)
		elog(ERROR, "could not run \"%s\": %s", sql, SPI_result_code_string(rc));
}

/*
 * OnlineTableSql returns the statements that (re)create a set's online
 * table for its latest version.
 */
static char *
OnlineTableSql(FeatureSetDef *def)
{
	StringInfoData sql;
	const char *table = quote_identifier(def->name);

	initStringInfo(&sql);
	if (def->online_version != 0)
		appendStringInfo(&sql, "DROP TABLE mlops_online.%s; ", table);
	appendStringInfo(&sql, "CREATE TABLE mlops_online.%s (__mlops_entity %s PRIMARY KEY, "
					 "__mlops_ts timestamptz NOT NULL, __mlops_created %s",
					 table, def->entity_type, def->created_column ? def->created_type : "integer");
	for (int f = 0; f < def->nfeatures; f++)
		appendStringInfo(&sql, ", %s %s", quote_identifier(def->feature_names[f]), def->feature_types[f]);
	appendStringInfo(&sql, "); REVOKE ALL ON mlops_online.%s FROM PUBLIC", table);
	return sql.data;
}
