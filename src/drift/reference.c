/*-------------------------------------------------------------------------
 *
 * reference.c
 *	  Drift references: mlops.set_drift_reference, and storing, summarising
 *	  and loading the references of mlops.drift_references and
 *	  mlops.drift_reference_columns.
 *
 * set_drift_reference reads its source as the calling role (sample.c) into
 * the current samples of its columns, moves them to the reference side and
 * replaces the stored reference of that name as the extension owner
 * (DriftWriteReference), with an audit event, in the caller's transaction.
 * A reference is owned by the role that created it: replacing it requires
 * membership in that role (DriftLockReference checks before the source is
 * read, the write checks again for a reference created meanwhile), and the
 * owner stays when it is replaced.
 * A query reference keeps every finite value of a numeric column, sorted;
 * a model reference (reference_model.c) keeps the training histogram; a
 * categorical column keeps its category counts.  DriftLoadReference reads a
 * reference back, as the owner, for detect_drift.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "drift/drift.h"
#include "common/common.h"

PG_FUNCTION_INFO_V1(mlops_set_drift_reference);

static DriftColumn *EveryColumn(DriftSource *src, int *ncols);
static DriftColumn *NamedColumns(FunctionCallInfo fcinfo, DriftSource *src, int *ncols);
static Datum FloatArrayDatum(const double *v, int n);
static void WriteReferenceColumn(Datum name, DriftColumn *c, int ordinal);

/*
 * mlops_set_drift_reference snapshots the reference sample of a drift
 * check from a source (table, view or query) and returns a summary.
 */
Datum
mlops_set_drift_reference(PG_FUNCTION_ARGS)
{
	char	   *name = DriftReferenceNameArg(fcinfo);
	char	   *source = text_to_cstring(DriftRequireTextArg(fcinfo, 1, "source"));
	MemoryContext callcxt = CurrentMemoryContext;
	DriftSource src;
	DriftColumn *cols;
	int			ncols;
	int64		rows;
	Datum		result;

	SPI_connect();
	DriftLockReference(name);
	DriftSourceOpen(source, &src);
	cols = PG_ARGISNULL(2) ? EveryColumn(&src, &ncols) : NamedColumns(fcinfo, &src, &ncols);
	if (ncols == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the source has no column a drift check can use"),
				 errhint("Drift checks compare numeric, text, boolean and enum columns.")));
	for (int i = 0; i < ncols; i++)
	{
		if (cols[i].kind == KIND_CATEGORICAL)
			CategoryTableInit(&cols[i].cats);
		cols[i].sort_current = true;	/* the reference keeps sorted values */
	}

	/* read the sample as the calling user, then move it to the reference */
	DriftReadSample(&src, cols, ncols, &rows);
	for (int i = 0; i < ncols; i++)
	{
		DriftColumn *c = &cols[i];

		if (c->kind == KIND_NUMERIC)
		{
			c->ref_values = c->cur_values;
			c->nref_values = c->ncur;
		}
		else
			memcpy(c->cats.ref_counts, c->cats.cur_counts, sizeof(double) * c->cats.n);
		c->ref_count = c->cur_count;
		c->ref_dropped = c->cur_dropped;
		if (c->ref_count == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" has no usable value in the source", c->name),
					 errdetail("%lld rows were read; NULL, NaN and infinite values are dropped.",
							   (long long) rows),
					 errhint("Leave the column out with the columns argument.")));
	}
	DriftWriteReference(name, source, "query", 0, 0, rows, cols, ncols);
	{
		MemoryContext spicxt = MemoryContextSwitchTo(callcxt);

		result = DriftReferenceSummary(name, rows, cols, ncols);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * EveryColumn returns a drift column for every source column of a
 * supported type, noting the others.
 */
static DriftColumn *
EveryColumn(DriftSource *src, int *ncols)
{
	DriftColumn *cols = palloc0(sizeof(DriftColumn) * Max(src->desc->natts, 1));

	*ncols = 0;
	for (int i = 0; i < src->desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(src->desc, i);
		char		kind;

		if (att->attisdropped)
			continue;
		kind = DriftColumnKind(att->atttypid);
		if (kind == 0)
		{
			ereport(NOTICE,
					(errmsg("column \"%s\" of type %s is not part of the drift reference",
							NameStr(att->attname), format_type_be(att->atttypid)),
					 errhint("Cast it to a numeric or text type in the source query to include it.")));
			continue;
		}
		/* a name that occurs twice is an error here */
		(void) DriftSourceColumn(src, NameStr(att->attname));
		cols[*ncols].name = pstrdup(NameStr(att->attname));
		cols[*ncols].kind = kind;
		DriftBindColumn(src, &cols[*ncols], i);
		(*ncols)++;
	}
	return cols;
}

/*
 * NamedColumns returns a drift column for every name of the columns
 * argument, which must be source columns of a supported type.
 */
static DriftColumn *
NamedColumns(FunctionCallInfo fcinfo, DriftSource *src, int *ncols)
{
	char	  **want = DriftTextArrayArg(fcinfo, 2, "columns",
										 "Pass NULL to use every column of a supported type.",
										 true, ncols);
	DriftColumn *cols = palloc0(sizeof(DriftColumn) * *ncols);

	for (int j = 0; j < *ncols; j++)
	{
		int			found = DriftSourceColumn(src, want[j]);
		Oid			type;

		if (found < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" is not in the source", want[j]),
					 errhint("%s", SourceColumnsHint(src->desc))));
		type = TupleDescAttr(src->desc, found)->atttypid;
		cols[j].kind = DriftColumnKind(type);
		if (cols[j].kind == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" has type %s, which drift checks do not support",
							want[j], format_type_be(type)),
					 errhint("Use numeric, text, boolean or enum columns; cast others in the source query.")));
		cols[j].name = want[j];
		DriftBindColumn(src, &cols[j], found);
	}
	return cols;
}

/* ------------------------------------------------------------------------
 * Arguments
 * ------------------------------------------------------------------------
 */

/*
 * DriftReferenceNameArg returns the name argument of a function that stores a
 * reference, rejecting NULL, empty and over-long names.
 */
char *
DriftReferenceNameArg(FunctionCallInfo fcinfo)
{
	char	   *name = text_to_cstring(DriftRequireTextArg(fcinfo, 0, "name"));

	DriftCheckName(name, "drift reference");
	return name;
}

/*
 * DriftCheckName raises invalid_parameter_value for an empty name or one
 * longer than DRIFT_NAME_MAX characters (what names a reference or a
 * detector: their keys are indexed, and index entries are bounded).
 */
void
DriftCheckName(const char *name, const char *what)
{
	int			len;

	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name must not be empty", what)));
	len = pg_mbstrlen(name);
	if (len > DRIFT_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name is too long", what),
				 errdetail("It has %d characters; the limit is %d.", len, DRIFT_NAME_MAX),
				 errhint("Name it \"%s\" or shorter.", MlopsClip(name, 40))));
}

/*
 * DriftLockReference locks the stored reference called name, if there is
 * one, and raises unless the actor may change it; SPI must be connected.
 */
void
DriftLockReference(const char *name)
{
	MlopsOwnerSave save;
	Datum		args[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	int			rc;

	if (!MlopsSchemaIsCurrent())
		return;					/* a 0.1.0 schema has no owners */
	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args("SELECT owner FROM mlops.drift_references"
							   " WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
							   1, (Oid[]) {TEXTOID}, args, NULL, false, 1);
	MlopsEndOwner(&save);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading drift reference failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
		MlopsRequireOwner("drift_reference", name,
						  DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
}

/*
 * DriftRequireTextArg returns text argument argno or raises an error naming it
 * when it is NULL.
 */
text *
DriftRequireTextArg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname)));
	return PG_GETARG_TEXT_PP(argno);
}

/*
 * DriftTextArrayArg returns the elements of text[] argument argno, as
 * DriftTextArray.
 */
char **
DriftTextArrayArg(FunctionCallInfo fcinfo, int argno, const char *argname,
				  const char *empty_hint, bool unique, int *n)
{
	return DriftTextArray(PG_GETARG_ARRAYTYPE_P(argno), argname, empty_hint, unique, n);
}

/*
 * DriftTextArray returns the elements of a one-dimensional text[] argument
 * called argname, rejecting an empty array, NULL elements and, with unique,
 * repeated elements.
 */
char **
DriftTextArray(ArrayType *arr, const char *argname, const char *empty_hint, bool unique, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	DriftRequireOneDim(arr, argname);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	if (*n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", argname),
				 errhint("%s", empty_hint)));
	if (unique && *n > MaxTupleAttributeNumber)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s lists %d names, more than a row can have", argname, *n),
				 errdetail("A row has at most %d columns.", MaxTupleAttributeNumber)));
	out = palloc(sizeof(char *) * *n);
	for (int j = 0; j < *n; j++)
	{
		if (nulls[j])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", argname)));
		CHECK_FOR_INTERRUPTS();
		out[j] = TextDatumGetCString(elems[j]);
		for (int i = 0; unique && i < j; i++)
			if (strcmp(out[i], out[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("%s lists \"%s\" twice", argname, MlopsClip(out[j], MLOPS_ECHO_MAX))));
	}
	return out;
}

/* ------------------------------------------------------------------------
 * Storing, summarising and loading references
 * ------------------------------------------------------------------------
 */

/*
 * DriftWriteReference replaces the stored reference called name (keeping
 * its owner; a new one is owned by the actor), as the extension owner, and
 * records the audit event.  A reference another role created meanwhile is
 * not replaced unless the actor may change it.  SPI must be connected.
 */
void
DriftWriteReference(const char *name, const char *source, const char *kind,
					int64 model_id, int32 version, int64 rows,
					DriftColumn *cols, int ncols)
{
	MlopsOwnerSave save;
	Oid			rtypes[6] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, INT4OID, INT8OID};
	Datum		rargs[6];
	char		rnulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	StringInfoData details;
	int			rc;

	rargs[0] = CStringGetTextDatum(name);
	rargs[1] = CStringGetTextDatum(source);
	rargs[2] = CStringGetTextDatum(kind);
	rargs[3] = Int64GetDatum(model_id);
	rargs[4] = Int32GetDatum(version);
	rargs[5] = Int64GetDatum(rows);
	if (strcmp(kind, "model") != 0)
		rnulls[3] = rnulls[4] = 'n';

	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args(MlopsSchemaIsCurrent() ?
							   "INSERT INTO mlops.drift_references AS r"
							   "       (name, source, source_kind, model_id, model_version, row_count, created_at,"
							   "        created_by, owner)"
							   " VALUES ($1, $2, $3, $4, $5, $6, pg_catalog.now(), mlops.current_actor(),"
							   "         mlops.current_actor()::pg_catalog.regrole)"
							   " ON CONFLICT (name) DO UPDATE"
							   "   SET source = EXCLUDED.source, source_kind = EXCLUDED.source_kind,"
							   "       model_id = EXCLUDED.model_id, model_version = EXCLUDED.model_version,"
							   "       row_count = EXCLUDED.row_count, created_at = EXCLUDED.created_at,"
							   "       created_by = EXCLUDED.created_by"
							   "   WHERE mlops._may_change(r.owner)" :
	/* a 0.1.0 schema has no owners */
							   "INSERT INTO mlops.drift_references AS r"
							   "       (name, source, source_kind, model_id, model_version, row_count, created_at, created_by)"
							   " VALUES ($1, $2, $3, $4, $5, $6, pg_catalog.now(), mlops.current_actor())"
							   " ON CONFLICT (name) DO UPDATE"
							   "   SET source = EXCLUDED.source, source_kind = EXCLUDED.source_kind,"
							   "       model_id = EXCLUDED.model_id, model_version = EXCLUDED.model_version,"
							   "       row_count = EXCLUDED.row_count, created_at = EXCLUDED.created_at,"
							   "       created_by = EXCLUDED.created_by",
							   6, rtypes, rargs, rnulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "storing drift reference failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
	{
		/* created meanwhile by a role the actor may not stand in for */
		MlopsEndOwner(&save);
		DriftLockReference(name);
		elog(ERROR, "drift reference \"%s\" could not be replaced", MlopsClip(name, MLOPS_ECHO_MAX));
	}
	rc = SPI_execute_with_args(
		"DELETE FROM mlops.drift_reference_columns"
		" WHERE reference_name OPERATOR(pg_catalog.=) $1",
		1, rtypes, rargs, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "replacing drift reference failed: %s", SPI_result_code_string(rc));
	for (int i = 0; i < ncols; i++)
		WriteReferenceColumn(rargs[0], &cols[i], i + 1);
	initStringInfo(&details);
	appendStringInfoString(&details, "{\"source_kind\": ");
	escape_json(&details, kind);
	appendStringInfoString(&details, ", \"source\": ");
	escape_json(&details, source);
	appendStringInfo(&details, ", \"columns\": %d, \"rows\": " INT64_FORMAT "}", ncols, rows);
	DriftAudit("drift.reference.set", "drift_reference", name, details.data);
	MlopsEndOwner(&save);
}

/*
 * WriteReferenceColumn inserts one column of reference name (a text datum)
 * at position ordinal; the caller holds the owner identity.
 */
static void
WriteReferenceColumn(Datum name, DriftColumn *c, int ordinal)
{
	Oid			ctypes[11] = {TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID, INT8OID,
		FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID};
	Datum		cargs[11];
	char		cnulls[11];
	int			rc;

	memset(cnulls, 'n', sizeof(cnulls));
	memset(cnulls, ' ', 6);
	cargs[0] = name;
	cargs[1] = CStringGetTextDatum(c->name);
	cargs[2] = Int32GetDatum(ordinal);
	cargs[3] = CStringGetTextDatum(c->kind == KIND_NUMERIC ? "numeric" : "categorical");
	cargs[4] = Int64GetDatum(c->ref_count);
	cargs[5] = Int64GetDatum(c->ref_dropped);
	if (c->kind == KIND_NUMERIC && c->ref_values)
	{
		cargs[6] = FloatArrayDatum(c->ref_values, c->nref_values);
		cnulls[6] = ' ';
	}
	else if (c->kind == KIND_NUMERIC)
	{
		cargs[7] = FloatArrayDatum(c->edges, c->nedges);
		cargs[8] = FloatArrayDatum(c->edge_counts, c->nedges - 1);
		cnulls[7] = cnulls[8] = ' ';
	}
	else
	{
		Datum	   *names = palloc(sizeof(Datum) * Max(c->cats.n, 1));

		for (int j = 0; j < c->cats.n; j++)
			names[j] = CStringGetTextDatum(c->cats.names[j]);
		cargs[9] = PointerGetDatum(construct_array(names, c->cats.n, TEXTOID, -1, false, TYPALIGN_INT));
		cargs[10] = FloatArrayDatum(c->cats.ref_counts, c->cats.n);
		cnulls[9] = cnulls[10] = ' ';
	}
	rc = SPI_execute_with_args(
		"INSERT INTO mlops.drift_reference_columns"
		"       (reference_name, column_name, ordinal, kind, value_count, dropped_count,"
		"        sorted_values, bin_edges, bin_counts, categories, category_counts)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		11, ctypes, cargs, cnulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "storing drift reference column failed: %s", SPI_result_code_string(rc));
}

/*
 * DriftAudit appends an audit event about a drift object (reference or
 * detector); the caller holds the owner identity with SPI connected, and
 * the log records the acting role.
 */
void
DriftAudit(const char *action, const char *rtype, const char *name,
		   const char *details)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	int			rc;

	args[0] = CStringGetTextDatum(action);
	args[1] = CStringGetTextDatum(rtype);
	args[2] = CStringGetTextDatum(name);
	args[3] = CStringGetTextDatum(details);
	rc = SPI_execute_with_args("SELECT mlops._audit_event($1, $2, $3, $4::pg_catalog.jsonb)",
							   4, types, args, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "writing the audit event failed: %s", SPI_result_code_string(rc));
}

/*
 * DriftReferenceSummary returns the jsonb summary of a stored reference.
 */
Datum
DriftReferenceSummary(const char *name, int64 rows, DriftColumn *cols, int ncols)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"name\": ");
	escape_json(&buf, name);
	appendStringInfo(&buf, ", \"rows\": " INT64_FORMAT ", \"columns\": {", rows);
	for (int i = 0; i < ncols; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, cols[i].name);
		appendStringInfo(&buf, ": {\"type\": \"%s\", \"count\": " INT64_FORMAT ", \"dropped\": " INT64_FORMAT,
						 cols[i].kind == KIND_NUMERIC ? "numeric" : "categorical",
						 cols[i].ref_count, cols[i].ref_dropped);
		if (cols[i].kind == KIND_CATEGORICAL)
			appendStringInfo(&buf, ", \"categories\": %d", cols[i].cats.n);
		else if (cols[i].edges)
			appendStringInfo(&buf, ", \"bins\": %d", cols[i].nedges - 1);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "}}");
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/*
 * DriftLoadReference reads a stored reference as the extension owner into
 * DriftColumns allocated in the current (SPI) memory context, with its owner
 * (InvalidOid on a 0.1.0 schema, which has none).
 */
void
DriftLoadReference(const char *name, char **source_kind, Oid *owner, DriftColumn **cols, int *ncols)
{
	MlopsOwnerSave save;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	int			rc;
	SPITupleTable *tt;

	args[0] = CStringGetTextDatum(name);
	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args(MlopsSchemaIsCurrent() ?
							   "SELECT source_kind, owner FROM mlops.drift_references"
							   " WHERE name OPERATOR(pg_catalog.=) $1" :
							   "SELECT source_kind, NULL::pg_catalog.regrole FROM mlops.drift_references"
							   " WHERE name OPERATOR(pg_catalog.=) $1",
							   1, types, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading drift reference failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("drift reference \"%s\" does not exist", MlopsClip(name, MLOPS_ECHO_MAX)),
				 errhint("Create it with mlops.set_drift_reference or mlops.set_drift_reference_from_model.")));
	*source_kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		*owner = isnull ? InvalidOid : DatumGetObjectId(d);
	}
	rc = SPI_execute_with_args("SELECT column_name, kind, value_count, dropped_count, sorted_values,"
							   "       bin_edges, bin_counts, categories, category_counts"
							   "  FROM mlops.drift_reference_columns"
							   " WHERE reference_name OPERATOR(pg_catalog.=) $1 ORDER BY ordinal",
							   1, types, args, NULL, true, 0);
	MlopsEndOwner(&save);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading drift reference columns failed: %s", SPI_result_code_string(rc));
	tt = SPI_tuptable;
	*ncols = (int) SPI_processed;
	*cols = palloc0(sizeof(DriftColumn) * Max(*ncols, 1));
	for (int i = 0; i < *ncols; i++)
	{
		DriftColumn *c = &(*cols)[i];
		HeapTuple	tup = tt->vals[i];
		bool		isnull;
		Datum		d;
		int			dropped;

		c->name = SPI_getvalue(tup, tt->tupdesc, 1);
		c->kind = strcmp(SPI_getvalue(tup, tt->tupdesc, 2), "numeric") == 0 ? KIND_NUMERIC : KIND_CATEGORICAL;
		c->ref_count = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 3, &isnull));
		c->ref_dropped = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 4, &isnull));
		if (c->kind == KIND_NUMERIC)
		{
			d = SPI_getbinval(tup, tt->tupdesc, 5, &isnull);
			if (!isnull)
				c->ref_values = DriftArrayToDoubles(DatumGetArrayTypeP(d), "sorted_values",
													&c->nref_values, &dropped, false, NULL);
			else
			{
				int			nc;

				d = SPI_getbinval(tup, tt->tupdesc, 6, &isnull);
				c->edges = DriftArrayToDoubles(DatumGetArrayTypeP(d), "bin_edges",
											   &c->nedges, &dropped, false, NULL);
				d = SPI_getbinval(tup, tt->tupdesc, 7, &isnull);
				c->edge_counts = DriftArrayToDoubles(DatumGetArrayTypeP(d), "bin_counts",
													 &nc, &dropped, false, NULL);
			}
		}
		else
		{
			CategoryTableInit(&c->cats);
			if (CategoryAddReference(&c->cats,
									 DatumGetArrayTypeP(SPI_getbinval(tup, tt->tupdesc, 8, &isnull)),
									 DatumGetArrayTypeP(SPI_getbinval(tup, tt->tupdesc, 9, &isnull))) < 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("the stored categories of column \"%s\" of drift reference \"%s\" are not valid",
								c->name, MlopsClip(name, MLOPS_ECHO_MAX))));
		}
	}
}

/*
 * FloatArrayDatum builds a float8[] datum from n doubles.
 */
static Datum
FloatArrayDatum(const double *v, int n)
{
	Datum	   *d = palloc_extended(sizeof(Datum) * Max(n, 1), MCXT_ALLOC_HUGE);
	ArrayType  *arr;

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	arr = construct_array(d, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(d);
	return PointerGetDatum(arr);
}
