/*
 * feature_sets.c
 *		mlops.register_feature_set: describes a source as the caller, checks
 *		its entity, timestamp and feature columns, computes each feature's
 *		statistics in one read of the source (as the caller), and stores the
 *		registration through mlops._feature_set_write as the extension owner,
 *		which decides whether it is a new version (the schema changed) or
 *		fresh statistics of the latest one.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "common/common.h"
#include "features/features.h"

PG_FUNCTION_INFO_V1(mlops_register_feature_set);
PG_FUNCTION_INFO_V1(mlops_set_drift_reference_from_feature_set);

/* what register_feature_set learned about the source */
typedef struct Registration
{
	const char *name;
	char	   *source;			/* stored form: a qualified name, or the query */
	TupleDesc	desc;
	int			entity_attno;
	int			ts_attno;
	int			created_attno;
	int			nfeatures;
	int		   *feature_attno;
} Registration;

static void CheckKeyColumns(FunctionCallInfo fcinfo, Registration *reg);
static void ChooseFeatures(FunctionCallInfo fcinfo, Registration *reg);
static char *StatisticsQuery(Registration *reg, const char *query);
static void CheckTtl(FunctionCallInfo fcinfo);
static int	RequireColumn(Registration *reg, const char *column, const char *argname);

/*
 * mlops_register_feature_set implements mlops.register_feature_set(name,
 * source, entity_column, timestamp_column, features, ttl, created_column,
 * description, tags) RETURNS integer, the version registered.
 */
Datum
mlops_register_feature_set(PG_FUNCTION_ARGS)
{
	Registration reg = {0};
	SourceSpec	spec;
	char	   *stats;
	Datum		values[13];
	char		nulls[13];
	Oid			types[13] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, INTERVALOID, JSONBOID, INT8OID, TEXTOID, JSONBOID};
	Datum		features_json;
	int64		rows;
	int64		version;
	bool		isnull;
	int			rc;

	reg.name = FeatureTextArg(fcinfo, 0, "name");
	FeatureSetCheckName(reg.name);
	(void) FeatureTextArg(fcinfo, 1, "source");
	(void) FeatureTextArg(fcinfo, 2, "entity_column");
	(void) FeatureTextArg(fcinfo, 3, "timestamp_column");
	if (PG_ARGISNULL(8))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tags must not be null"),
				 errhint("Pass '{}' for no tags.")));
	CheckTtl(fcinfo);
	MlopsRequireCurrentSchema("mlops.register_feature_set");

	SPI_connect();
	SourceResolve(text_to_cstring(PG_GETARG_TEXT_PP(1)), &spec);
	reg.source = OidIsValid(spec.relid) ?
		quote_qualified_identifier(get_namespace_name(get_rel_namespace(spec.relid)),
								   get_rel_name(spec.relid)) : pstrdup(spec.text);
	reg.desc = FeatureDescribeQuery(spec.query);
	CheckKeyColumns(fcinfo, &reg);
	ChooseFeatures(fcinfo, &reg);

	/* one read of the source, as the caller */
	stats = StatisticsQuery(&reg, spec.query);
	rc = SPI_execute(stats, true, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading feature statistics failed: %s", SPI_result_code_string(rc));
	rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	features_json = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	features_json = datumCopy(features_json, false, -1);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(reg.name);
	values[1] = CStringGetTextDatum(reg.source);
	values[2] = CStringGetTextDatum(NameStr(TupleDescAttr(reg.desc, reg.entity_attno - 1)->attname));
	values[3] = CStringGetTextDatum(FeatureTypeName(reg.desc, reg.entity_attno));
	values[4] = CStringGetTextDatum(NameStr(TupleDescAttr(reg.desc, reg.ts_attno - 1)->attname));
	values[5] = CStringGetTextDatum(FeatureTypeName(reg.desc, reg.ts_attno));
	if (reg.created_attno > 0)
	{
		values[6] = CStringGetTextDatum(NameStr(TupleDescAttr(reg.desc, reg.created_attno - 1)->attname));
		values[7] = CStringGetTextDatum(FeatureTypeName(reg.desc, reg.created_attno));
	}
	else
		nulls[6] = nulls[7] = 'n';
	values[8] = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	nulls[8] = PG_ARGISNULL(5) ? 'n' : ' ';
	values[9] = features_json;
	values[10] = Int64GetDatum(rows);
	values[11] = PG_ARGISNULL(7) ? (Datum) 0 : PG_GETARG_DATUM(7);
	nulls[11] = PG_ARGISNULL(7) ? 'n' : ' ';
	values[12] = PG_GETARG_DATUM(8);

	{
		MlopsOwnerSave save;

		MlopsBeginOwner(&save);
		rc = SPI_execute_with_args("SELECT mlops._feature_set_write($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
								   13, types, values, nulls, false, 1);
		MlopsEndOwner(&save);
	}
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "storing feature set failed: %s", SPI_result_code_string(rc));
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT32((int32) version);
}

/*
 * CheckTtl raises 22023 unless ttl is NULL or a positive interval.
 */
static void
CheckTtl(FunctionCallInfo fcinfo)
{
	Interval	zero = {0};

	if (PG_ARGISNULL(5))
		return;
	if (!DatumGetBool(DirectFunctionCall2(interval_gt, PG_GETARG_DATUM(5), IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must be a positive interval, not %s",
						DatumGetCString(DirectFunctionCall1(interval_out, PG_GETARG_DATUM(5)))),
				 errhint("Pass NULL for features that never expire.")));
}

/*
 * RequireColumn returns the attribute number of column in the source,
 * raising 42703 (naming argname and listing the columns) when it is not
 * there.
 */
static int
RequireColumn(Registration *reg, const char *column, const char *argname)
{
	int			attno = FeatureFindColumn(reg->desc, column);

	if (attno == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s \"%s\" is not a column of the source", argname, MlopsClip(column, MLOPS_ECHO_MAX)),
				 errhint("%s", SourceColumnsHint(reg->desc))));
	return attno;
}

/*
 * CheckKeyColumns finds the entity, timestamp and (optional) creation-time
 * columns and checks their types.
 */
static void
CheckKeyColumns(FunctionCallInfo fcinfo, Registration *reg)
{
	Form_pg_attribute att;
	TypeCacheEntry *tc;
	char	   *type;

	reg->entity_attno = RequireColumn(reg, text_to_cstring(PG_GETARG_TEXT_PP(2)), "entity_column");
	att = TupleDescAttr(reg->desc, reg->entity_attno - 1);
	tc = lookup_type_cache(att->atttypid, TYPECACHE_LT_OPR | TYPECACHE_EQ_OPR);
	if (!OidIsValid(tc->lt_opr) || !OidIsValid(tc->eq_opr) || type_is_array(att->atttypid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("entity column \"%s\" has type %s, which cannot be a key",
						NameStr(att->attname), FeatureTypeName(reg->desc, reg->entity_attno)),
				 errhint("Use a text, integer or uuid entity column.")));

	reg->ts_attno = RequireColumn(reg, text_to_cstring(PG_GETARG_TEXT_PP(3)), "timestamp_column");
	type = FeatureTypeName(reg->desc, reg->ts_attno);
	if (!FeatureIsTimestampType(type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("timestamp column \"%s\" has type %s", NameStr(TupleDescAttr(reg->desc, reg->ts_attno - 1)->attname), type),
				 errhint("The timestamp column is a timestamptz, timestamp or date.")));
	if (reg->ts_attno == reg->entity_attno)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("entity_column and timestamp_column must be different columns")));
	if (PG_ARGISNULL(6))
		return;
	reg->created_attno = RequireColumn(reg, text_to_cstring(PG_GETARG_TEXT_PP(6)), "created_column");
	att = TupleDescAttr(reg->desc, reg->created_attno - 1);
	type = FeatureTypeName(reg->desc, reg->created_attno);
	if (!FeatureIsTimestampType(type) && att->atttypid != INT2OID && att->atttypid != INT4OID &&
		att->atttypid != INT8OID && att->atttypid != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("created column \"%s\" has type %s", NameStr(att->attname), type),
				 errhint("The created column orders rows of the same timestamp: a timestamp, date or integer.")));
	if (reg->created_attno == reg->entity_attno || reg->created_attno == reg->ts_attno)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("created_column must differ from entity_column and timestamp_column")));
}

/*
 * ChooseFeatures takes the features argument (every other column when it
 * is NULL) and checks each name.
 */
static void
ChooseFeatures(FunctionCallInfo fcinfo, Registration *reg)
{
	reg->feature_attno = palloc(sizeof(int) * reg->desc->natts);
	if (PG_ARGISNULL(4))
	{
		for (int i = 1; i <= reg->desc->natts; i++)
			if (!TupleDescAttr(reg->desc, i - 1)->attisdropped && i != reg->entity_attno &&
				i != reg->ts_attno && i != reg->created_attno)
				reg->feature_attno[reg->nfeatures++] = i;
	}
	else
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(4);
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("features must be a one-dimensional array")));
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int j = 0; j < n; j++)
		{
			int			attno;

			CHECK_FOR_INTERRUPTS();
			if (nulls[j])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("features must not contain NULL")));
			attno = RequireColumn(reg, TextDatumGetCString(elems[j]), "feature");
			if (attno == reg->entity_attno || attno == reg->ts_attno || attno == reg->created_attno)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature \"%s\" is the entity, timestamp or created column",
								MlopsClip(TextDatumGetCString(elems[j]), MLOPS_ECHO_MAX))));
			for (int k = 0; k < reg->nfeatures; k++)
				if (reg->feature_attno[k] == attno)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("features lists \"%s\" twice",
									MlopsClip(TextDatumGetCString(elems[j]), MLOPS_ECHO_MAX))));
			reg->feature_attno[reg->nfeatures++] = attno;
		}
	}
	if (reg->nfeatures == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature set \"%s\" would have no feature", reg->name),
				 errhint("The source needs a column besides the entity, timestamp and created columns.")));
	for (int k = 0; k < reg->nfeatures; k++)
	{
		const char *fname = NameStr(TupleDescAttr(reg->desc, reg->feature_attno[k] - 1)->attname);

		if (strncmp(fname, "__mlops", 7) == 0 || strchr(fname, ':') != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature name \"%s\" is reserved", fname),
					 errdetail("Feature names may not start with __mlops or contain a colon.")));
	}
}

/*
 * StatisticsQuery returns the query that reads the source once and returns
 * its row count and the features' description: [{"name", "type",
 * "statistics": {"count", "nulls", and for numeric features "min", "max",
 * "mean", "stddev"}}].
 */
static char *
StatisticsQuery(Registration *reg, const char *query)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT pg_catalog.count(*), '[]'::jsonb");
	for (int k = 0; k < reg->nfeatures; k++)
	{
		int			attno = reg->feature_attno[k];
		Form_pg_attribute att = TupleDescAttr(reg->desc, attno - 1);
		const char *col = quote_identifier(NameStr(att->attname));
		bool		numeric = TypeCategory(att->atttypid) == TYPCATEGORY_NUMERIC;

		appendStringInfo(&buf,
						 " OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('name', %s, 'type', %s, "
						 "'statistics', pg_catalog.jsonb_build_object('count', pg_catalog.count(s.%s), "
						 "'nulls', pg_catalog.count(*) OPERATOR(pg_catalog.-) pg_catalog.count(s.%s)",
						 quote_literal_cstr(NameStr(att->attname)),
						 quote_literal_cstr(FeatureTypeName(reg->desc, attno)), col, col);
		if (numeric)
			appendStringInfo(&buf,
							 ", 'min', pg_catalog.min(s.%s)::float8, 'max', pg_catalog.max(s.%s)::float8, "
							 "'mean', pg_catalog.avg(s.%s::float8), 'stddev', pg_catalog.stddev_samp(s.%s::float8)",
							 col, col, col, col);
		appendStringInfoString(&buf, "))");
	}
	appendStringInfo(&buf, " FROM (%s\n) s", query);
	return buf.data;
}

/*
 * mlops_set_drift_reference_from_feature_set implements
 * mlops.set_drift_reference_from_feature_set(name, feature_set) RETURNS
 * jsonb: mlops.set_drift_reference over the latest version's source and
 * features, called as the caller (who needs EXECUTE on it and SELECT on the
 * source, as for any drift reference).
 */
Datum
mlops_set_drift_reference_from_feature_set(PG_FUNCTION_ARGS)
{
	char	   *name = FeatureTextArg(fcinfo, 0, "name");
	char	   *set = FeatureTextArg(fcinfo, 1, "feature_set");
	FeatureSetDef *def;
	Datum	   *names;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTARRAYOID};
	Datum		values[3];
	bool		isnull;
	Datum		result;
	int			rc;
	MemoryContext callcxt = CurrentMemoryContext;

	FeatureSetCheckName(set);
	MlopsRequireCurrentSchema("mlops.set_drift_reference_from_feature_set");
	SPI_connect();
	def = FeatureSetLoad(set, 0);
	(void) FeatureSourceCheck(def);
	names = palloc(sizeof(Datum) * def->nfeatures);
	for (int f = 0; f < def->nfeatures; f++)
		names[f] = CStringGetTextDatum(def->feature_names[f]);
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(def->source);
	values[2] = PointerGetDatum(construct_array(names, def->nfeatures, TEXTOID, -1, false, TYPALIGN_INT));
	rc = SPI_execute_with_args("SELECT mlops.set_drift_reference($1, $2, $3)", 3, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "setting the drift reference failed: %s", SPI_result_code_string(rc));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	{
		MemoryContext spicxt = MemoryContextSwitchTo(callcxt);

		result = datumCopy(result, false, -1);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	PG_RETURN_DATUM(result);
}
