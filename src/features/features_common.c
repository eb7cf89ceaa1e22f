/*
 * features_common.c
 *		What every feature store function shares: feature set names, loading
 *		a registered version, feature references ('set:feature', 'set:*',
 *		'set@2:feature', parsed here and nowhere else), describing a source
 *		as the caller and checking it still has the registered types.
 *
 * Definitions are read as the extension owner through
 * mlops._feature_set_version (the caller has no privilege on mlops' tables);
 * sources are described as the caller, through the one source resolver.
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "features/features.h"

#define REF_HINT "Write 'set:feature', 'set:*' for every feature of the latest version, or 'set@2:feature' for version 2."

static char **TextArrayColumn(HeapTuple tup, TupleDesc desc, int attno, int *n);
static void ParseOneRef(const char *ref, char **set, int32 *version, char **feature);
static void CheckColumnType(FeatureSetDef *def, TupleDesc desc, const char *column,
							const char *registered);

/*
 * FeatureSetCheckName raises 22023 unless name is a valid feature set name:
 * 1 to 48 lower-case letters, digits and underscores, not starting with a
 * digit (it also names the online table mlops_online.<name>).
 */
void
FeatureSetCheckName(const char *name)
{
	size_t		len = strlen(name);
	bool		ok = len > 0 && len <= 48 && !isdigit((unsigned char) name[0]);

	for (size_t i = 0; ok && i < len; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') || isdigit((unsigned char) name[i]) || name[i] == '_';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid feature set name \"%s\"", MlopsClip(name, MLOPS_ECHO_MAX)),
				 errdetail("A feature set name has 1 to 48 lower-case letters, digits and underscores and does not start with a digit.")));
}

/*
 * FeatureTextArg returns text argument argno as a C string, raising 22004
 * (naming argname) when it is NULL.
 */
char *
FeatureTextArg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * FeatureRunOwner runs one statement of ours as the extension owner (the
 * caller recorded as the actor) and returns its first column of its first
 * row as int64 (*isnull when NULL or absent).  SPI must be connected.
 */
int64
FeatureRunOwner(const char *sql, int nargs, Oid *types, Datum *values, bool *isnull)
{
	MlopsOwnerSave save;
	int			rc;
	int64		result = 0;

	*isnull = true;
	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);
	MlopsEndOwner(&save);
	if (rc < 0)
		elog(ERROR, "could not run \"%s\": %s", sql, SPI_result_code_string(rc));
	if (SPI_tuptable != NULL && SPI_processed > 0 && SPI_tuptable->tupdesc->natts > 0)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
		Oid			t = SPI_gettypeid(SPI_tuptable->tupdesc, 1);

		if (!*isnull)
			result = (t == INT8OID) ? DatumGetInt64(d) :
				(t == INT4OID) ? (int64) DatumGetInt32(d) :
				(t == BOOLOID) ? (int64) DatumGetBool(d) : 0;
	}
	return result;
}

/*
 * FeatureSetLoad reads one version of a feature set (the latest when
 * version is 0) as the extension owner; an unknown set or version raises
 * 42704.  SPI must be connected.
 */
FeatureSetDef *
FeatureSetLoad(const char *name, int32 version)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(name), Int32GetDatum(version)};
	char		nulls[2] = {' ', version == 0 ? 'n' : ' '};
	FeatureSetDef *def;
	MlopsOwnerSave save;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ntypes;
	int			rc;

	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args("SELECT * FROM mlops._feature_set_version($1, $2)",
							   2, types, values, nulls, true, 1);
	MlopsEndOwner(&save);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading feature set failed: %s", SPI_result_code_string(rc));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	def = palloc0(sizeof(FeatureSetDef));
	def->name = pstrdup(name);
	def->version = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	def->source = SPI_getvalue(tup, desc, 3);
	def->entity_column = SPI_getvalue(tup, desc, 4);
	def->entity_type = SPI_getvalue(tup, desc, 5);
	def->timestamp_column = SPI_getvalue(tup, desc, 6);
	def->timestamp_type = SPI_getvalue(tup, desc, 7);
	def->created_column = SPI_getvalue(tup, desc, 8);
	def->created_type = SPI_getvalue(tup, desc, 9);
	def->ttl = SPI_getvalue(tup, desc, 10);
	def->feature_names = TextArrayColumn(tup, desc, 11, &def->nfeatures);
	def->feature_types = TextArrayColumn(tup, desc, 12, &ntypes);
	def->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 13, &isnull));
	def->latest_version = DatumGetInt32(SPI_getbinval(tup, desc, 14, &isnull));
	def->online_version = DatumGetInt32(SPI_getbinval(tup, desc, 15, &isnull));
	if (isnull)
		def->online_version = 0;
	def->watermark = DatumGetTimestampTz(SPI_getbinval(tup, desc, 16, &isnull));
	def->has_watermark = !isnull;
	if (ntypes != def->nfeatures)
		elog(ERROR, "feature set \"%s\" has %d feature names and %d types", name, def->nfeatures, ntypes);
	return def;
}

/*
 * TextArrayColumn returns the text[] in column attno of tup as C strings.
 */
static char **
TextArrayColumn(HeapTuple tup, TupleDesc desc, int attno, int *n)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, attno, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	*n = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	out = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		out[i] = TextDatumGetCString(elems[i]);
	return out;
}

/*
 * FeatureRefsParse turns an array of feature references into one request
 * per (feature set, version), in the order they first appear, loading each
 * version once.  Every problem raises an error naming the reference.
 */
FeatureRequest *
FeatureRefsParse(ArrayType *refs, int *nrequests)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	FeatureRequest *reqs;
	int			nreqs = 0;

	if (ARR_NDIM(refs) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("features must be a one-dimensional array")));
	deconstruct_array(refs, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must not be empty"),
				 errhint(REF_HINT)));
	if (n > MaxTupleAttributeNumber)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("features lists %d references, more than a row can have", n),
				 errdetail("A row has at most %d columns.", MaxTupleAttributeNumber)));
	reqs = palloc0(sizeof(FeatureRequest) * n);
	for (int i = 0; i < n; i++)
	{
		char	   *set;
		char	   *feature;
		int32		version;
		FeatureRequest *req = NULL;

		CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("features must not contain NULL"),
					 errhint(REF_HINT)));
		ParseOneRef(TextDatumGetCString(elems[i]), &set, &version, &feature);
		for (int r = 0; r < nreqs && req == NULL; r++)
			if (strcmp(reqs[r].def->name, set) == 0 &&
				(version == 0 ? reqs[r].def->version == reqs[r].def->latest_version
				 : reqs[r].def->version == version))
				req = &reqs[r];
		if (req == NULL)
		{
			req = &reqs[nreqs++];
			req->def = FeatureSetLoad(set, version);
			req->feature_index = palloc(sizeof(int) * Max(req->def->nfeatures, 1));
		}
		for (int f = 0; f < req->def->nfeatures; f++)
		{
			bool		wanted = strcmp(feature, "*") == 0 ||
				strcmp(feature, req->def->feature_names[f]) == 0;
			bool		already = false;

			if (!wanted)
				continue;
			for (int k = 0; k < req->nfeatures; k++)
				already |= req->feature_index[k] == f;
			if (already && strcmp(feature, "*") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("features asks for \"%s:%s\" twice", set, MlopsClip(feature, MLOPS_ECHO_MAX))));
			if (!already)
				req->feature_index[req->nfeatures++] = f;
			if (strcmp(feature, "*") != 0)
				goto found;
		}
		if (strcmp(feature, "*") == 0)
			continue;
		{
			MlopsList	list;

			MlopsListInit(&list, MLOPS_LIST_MAX);
			for (int f = 0; f < req->def->nfeatures; f++)
				MlopsListAdd(&list, "%s", req->def->feature_names[f]);
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("feature set \"%s\" version %d has no feature \"%s\"", set,
							req->def->version, MlopsClip(feature, MLOPS_ECHO_MAX)),
					 errhint("Its features are %s.", MlopsListDone(&list))));
		}
found:
		;
	}
	*nrequests = nreqs;
	return reqs;
}

/*
 * ParseOneRef splits 'set:feature', 'set:*' or 'set@N:feature' into its
 * parts (*version 0 for the latest), raising 22023 for anything else.
 */
static void
ParseOneRef(const char *ref, char **set, int32 *version, char **feature)
{
	const char *colon = strchr(ref, ':');
	const char *at;
	char	   *name;

	if (colon == NULL || colon == ref || colon[1] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid feature reference \"%s\"", MlopsClip(ref, MLOPS_ECHO_MAX)),
				 errhint(REF_HINT)));
	name = pnstrdup(ref, colon - ref);
	*feature = pstrdup(colon + 1);
	*version = 0;
	at = strchr(name, '@');
	if (at != NULL)
	{
		char	   *end;
		long		v;

		errno = 0;
		v = strtol(at + 1, &end, 10);
		if (at[1] == '\0' || *end != '\0' || errno != 0 || v < 1 || v > INT_MAX ||
			!isdigit((unsigned char) at[1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid version in feature reference \"%s\"", MlopsClip(ref, MLOPS_ECHO_MAX)),
					 errdetail("A version is an integer from 1 to %d.", INT_MAX),
					 errhint(REF_HINT)));
		*version = (int32) v;
		name[at - name] = '\0';
	}
	FeatureSetCheckName(name);
	*set = name;
}

/*
 * FeatureDescribeQuery returns the row type of a query (a resolved source),
 * planned as the current user, without reading any row.
 */
TupleDesc
FeatureDescribeQuery(const char *query)
{
	char	   *sql = psprintf("SELECT * FROM (%s\n) __mlops_s LIMIT 0", query);
	int			rc = SPI_execute(sql, true, 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "describing source failed: %s", SPI_result_code_string(rc));
	return CreateTupleDescCopy(SPI_tuptable->tupdesc);
}

/*
 * FeatureFindColumn returns the attribute number (from 1) of column name in
 * tupdesc, or 0.
 */
int
FeatureFindColumn(TupleDesc tupdesc, const char *name)
{
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i + 1;
	}
	return 0;
}

/*
 * FeatureTypeName returns the SQL name of column attno's type with its
 * modifier, schema-qualified unless SQL spells it with a keyword (integer,
 * double precision), so generated casts never meet a type of search_path.
 */
char *
FeatureTypeName(TupleDesc tupdesc, int attno)
{
	Form_pg_attribute att = TupleDescAttr(tupdesc, attno - 1);

	return format_type_extended(att->atttypid, att->atttypmod,
								FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
}

/*
 * FeatureIsTimestampType reports whether a type name (as FeatureTypeName
 * writes it) is one a timestamp column may have.
 */
bool
FeatureIsTimestampType(const char *type)
{
	return strcmp(type, "timestamp with time zone") == 0 ||
		strcmp(type, "timestamp without time zone") == 0 ||
		strcmp(type, "date") == 0 ||
		strncmp(type, "timestamp(", 10) == 0;
}

/*
 * FeatureSourceCheck resolves a feature set version's source as the caller
 * and checks that every registered column is still there with its
 * registered type; it returns the query that reads the source.
 */
char *
FeatureSourceCheck(FeatureSetDef *def)
{
	char	   *query = SourceQuery(def->source);
	TupleDesc	desc = FeatureDescribeQuery(query);

	CheckColumnType(def, desc, def->entity_column, def->entity_type);
	CheckColumnType(def, desc, def->timestamp_column, def->timestamp_type);
	if (def->created_column != NULL)
		CheckColumnType(def, desc, def->created_column, def->created_type);
	for (int f = 0; f < def->nfeatures; f++)
		CheckColumnType(def, desc, def->feature_names[f], def->feature_types[f]);
	return query;
}

/*
 * CheckColumnType raises when the source no longer has column with the
 * registered type.
 */
static void
CheckColumnType(FeatureSetDef *def, TupleDesc desc, const char *column, const char *registered)
{
	int			attno = FeatureFindColumn(desc, column);
	char	   *now;

	if (attno == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("the source of feature set \"%s\" version %d no longer has column \"%s\"",
						def->name, def->version, column),
				 errhint("Register the feature set again to record its new schema as a new version.")));
	now = FeatureTypeName(desc, attno);
	if (strcmp(now, registered) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of feature set \"%s\" version %d is now %s, registered as %s",
						column, def->name, def->version, now, registered),
				 errhint("Register the feature set again to record its new schema as a new version.")));
}
