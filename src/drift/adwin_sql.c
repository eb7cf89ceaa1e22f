/*-------------------------------------------------------------------------
 *
 * adwin_sql.c
 *	  SQL functions around the ADWIN change detector of stats.c: a one-shot
 *	  mlops.adwin(stream) and named streaming detectors kept in
 *	  mlops.adwin_detectors.
 *
 * A streaming detector's whole state is a StatsAdwin (plain data, no
 * pointers) stored as bytea next to readable copies of its width, mean,
 * variance and counters. mlops.update_adwin locks the detector's row
 * (SELECT ... FOR UPDATE), so concurrent updates of one detector are
 * serialized while different detectors proceed in parallel; the new state
 * is written in the caller's transaction and so survives restarts once
 * committed. The table is written only as the extension owner; no user SQL
 * runs in these functions.
 *
 * A detector is owned by the role that created it: updating (feeding it a
 * value changes its window) or dropping it requires membership in that role
 * (MlopsRequireOwner on the locked row).  Names are 1 to 128 characters.
 * Values must lie within +-1e100 (STATS_ADWIN_MAX_ABS): beyond, the
 * window's variance would overflow and every later answer be wrong.
 *
 * 0.2.0 renamed the SQL functions adwin_create, adwin_update and adwin_drop
 * to create_adwin, update_adwin and drop_adwin (verbs first); the C symbols
 * of the old names stay, as aliases, for databases still at 0.1.0.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "drift/drift.h"
#include "common/common.h"

PG_FUNCTION_INFO_V1(mlops_adwin);
PG_FUNCTION_INFO_V1(mlops_create_adwin);
PG_FUNCTION_INFO_V1(mlops_update_adwin);
PG_FUNCTION_INFO_V1(mlops_drop_adwin);
/* the 0.1.0 names, which sql/mlops--0.1.0.sql binds to */
PG_FUNCTION_INFO_V1(mlops_adwin_create);
PG_FUNCTION_INFO_V1(mlops_adwin_update);
PG_FUNCTION_INFO_V1(mlops_adwin_drop);

static char *DetectorName(FunctionCallInfo fcinfo);
static void AdwinFromBytea(bytea *b, const char *name, StatsAdwin *out);
static void CheckAdwinValue(double value, int position);
static void LockDetector(const char *name, Datum *state);

/*
 * mlops_adwin runs a fresh ADWIN detector over a stream and returns the
 * 0-based positions (in the input array, dropped elements included) of the
 * values at which it detected a change.
 */
Datum
mlops_adwin(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	double		delta = PG_GETARG_FLOAT8(1);
	int			n,
				dropped,
			   *positions;
	double	   *x;
	StatsAdwin *a = palloc(sizeof(StatsAdwin));
	Datum	   *found;
	int			nfound = 0;

	DriftValidateDelta(delta);
	x = DriftArrayToDoubles(arr, "stream", &n, &dropped, true, &positions);
	DriftRequireNonEmpty(n, dropped, "stream");
	found = palloc(sizeof(Datum) * n);
	StatsAdwinInit(a, delta);
	for (int i = 0; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		CheckAdwinValue(x[i], positions[i] + 1);
		if (StatsAdwinUpdate(a, x[i]))
			found[nfound++] = Int32GetDatum(positions[i]);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(found, nfound, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/*
 * mlops_create_adwin creates a named streaming detector.
 */
Datum
mlops_create_adwin(PG_FUNCTION_ARGS)
{
	char	   *name = DetectorName(fcinfo);
	double		delta;
	StatsAdwin	a;
	bytea	   *state;
	MlopsOwnerSave save;
	Oid			types[3] = {TEXTOID, FLOAT8OID, BYTEAOID};
	Datum		args[3];
	int			rc;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("delta must not be NULL")));
	delta = PG_GETARG_FLOAT8(1);
	DriftValidateDelta(delta);
	StatsAdwinInit(&a, delta);
	state = palloc(VARHDRSZ + sizeof(StatsAdwin));
	SET_VARSIZE(state, VARHDRSZ + sizeof(StatsAdwin));
	memcpy(VARDATA(state), &a, sizeof(StatsAdwin));
	args[0] = CStringGetTextDatum(name);
	args[1] = Float8GetDatum(delta);
	args[2] = PointerGetDatum(state);

	SPI_connect();
	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args(MlopsSchemaIsCurrent() ?
							   "INSERT INTO mlops.adwin_detectors (name, delta, state, created_by, owner)"
							   " VALUES ($1, $2, $3, mlops.current_actor(), mlops.current_actor()::pg_catalog.regrole)"
							   " ON CONFLICT (name) DO NOTHING" :
	/* a 0.1.0 schema has no owners */
							   "INSERT INTO mlops.adwin_detectors (name, delta, state, created_by)"
							   " VALUES ($1, $2, $3, mlops.current_actor())"
							   " ON CONFLICT (name) DO NOTHING",
							   3, types, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "creating adwin detector failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("adwin detector \"%s\" already exists", MlopsClip(name, MLOPS_ECHO_MAX)),
				 errhint("Drop it first with mlops.drop_adwin, or pick another name.")));
	DriftAudit("drift.adwin.create", "adwin_detector", name, psprintf("{\"delta\": %s}", float8out_internal(delta)));
	MlopsEndOwner(&save);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * mlops_update_adwin feeds one value to a named detector and returns true
 * when it detects a change; NULL, NaN and infinite values are counted as
 * dropped, leave the window alone and return NULL.
 */
Datum
mlops_update_adwin(PG_FUNCTION_ARGS)
{
	char	   *name = DetectorName(fcinfo);
	bool		has_value = !PG_ARGISNULL(1) && isfinite(PG_GETARG_FLOAT8(1));
	MlopsOwnerSave save;
	Oid			types[8] = {TEXTOID, BYTEAOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT8OID, INT8OID, BOOLOID};
	Datum		args[8];
	int			rc;
	StatsAdwin	a;
	bool		detected = false;
	bytea	   *state;
	Datum		stored;

	if (has_value)
		CheckAdwinValue(PG_GETARG_FLOAT8(1), 0);
	args[0] = CStringGetTextDatum(name);
	SPI_connect();
	LockDetector(name, &stored);
	AdwinFromBytea(DatumGetByteaPP(stored), name, &a);
	MlopsBeginOwner(&save);
	if (!has_value)
	{
		rc = SPI_execute_with_args("UPDATE mlops.adwin_detectors"
								   "   SET dropped = dropped OPERATOR(pg_catalog.+) 1, updated_at = pg_catalog.now()"
								   " WHERE name OPERATOR(pg_catalog.=) $1",
								   1, types, args, NULL, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "updating adwin detector failed: %s", SPI_result_code_string(rc));
		MlopsEndOwner(&save);
		SPI_finish();
		PG_RETURN_NULL();
	}
	detected = StatsAdwinUpdate(&a, PG_GETARG_FLOAT8(1));
	state = palloc(VARHDRSZ + sizeof(StatsAdwin));
	SET_VARSIZE(state, VARHDRSZ + sizeof(StatsAdwin));
	memcpy(VARDATA(state), &a, sizeof(StatsAdwin));
	args[1] = PointerGetDatum(state);
	args[2] = Float8GetDatum(a.width);
	args[3] = Float8GetDatum(StatsAdwinMean(&a));
	args[4] = Float8GetDatum(a.width > 0 ? a.variance / a.width : 0.0);
	args[5] = Int64GetDatum(a.updates);
	args[6] = Int64GetDatum(a.detections);
	args[7] = BoolGetDatum(detected);
	rc = SPI_execute_with_args(
		"UPDATE mlops.adwin_detectors"
		"   SET state = $2, width = $3::pg_catalog.int8, mean = $4, variance = $5,"
		"       updates = $6, detections = $7, updated_at = pg_catalog.now(),"
		"       last_detection_at = CASE WHEN $8 THEN pg_catalog.now() ELSE last_detection_at END"
		" WHERE name OPERATOR(pg_catalog.=) $1",
		8, types, args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "updating adwin detector failed: %s", SPI_result_code_string(rc));
	MlopsEndOwner(&save);
	SPI_finish();
	PG_RETURN_BOOL(detected);
}

/*
 * mlops_drop_adwin deletes a named detector.
 */
Datum
mlops_drop_adwin(PG_FUNCTION_ARGS)
{
	char	   *name = DetectorName(fcinfo);
	MlopsOwnerSave save;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	int			rc;

	args[0] = CStringGetTextDatum(name);
	SPI_connect();
	LockDetector(name, NULL);
	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args("DELETE FROM mlops.adwin_detectors WHERE name OPERATOR(pg_catalog.=) $1",
							   1, types, args, NULL, false, 0);
	if (rc != SPI_OK_DELETE || SPI_processed != 1)
		elog(ERROR, "dropping adwin detector failed: %s", SPI_result_code_string(rc));
	DriftAudit("drift.adwin.drop", "adwin_detector", name, "{}");
	MlopsEndOwner(&save);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * mlops_adwin_create is mlops_create_adwin under its 0.1.0 name.
 */
Datum
mlops_adwin_create(PG_FUNCTION_ARGS)
{
	return mlops_create_adwin(fcinfo);
}

/*
 * mlops_adwin_update is mlops_update_adwin under its 0.1.0 name.
 */
Datum
mlops_adwin_update(PG_FUNCTION_ARGS)
{
	return mlops_update_adwin(fcinfo);
}

/*
 * mlops_adwin_drop is mlops_drop_adwin under its 0.1.0 name.
 */
Datum
mlops_adwin_drop(PG_FUNCTION_ARGS)
{
	return mlops_drop_adwin(fcinfo);
}

/*
 * DetectorName returns the detector name argument, rejecting NULL, empty
 * and over-long names.
 */
static char *
DetectorName(FunctionCallInfo fcinfo)
{
	char	   *name;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("adwin detector name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	DriftCheckName(name, "adwin detector");
	return name;
}

/*
 * LockDetector locks the row of detector name and raises unless it exists
 * and the actor may change it; *state (when state is not NULL) receives
 * its stored state (valid until SPI_finish).  SPI must be connected.
 */
static void
LockDetector(const char *name, Datum *state)
{
	MlopsOwnerSave save;
	Datum		args[1] = {CStringGetTextDatum(name)};
	bool		current = MlopsSchemaIsCurrent();
	bool		isnull;
	int			rc;

	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args(current ?
							   "SELECT state, owner FROM mlops.adwin_detectors"
							   " WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE" :
							   "SELECT state, NULL::pg_catalog.regrole FROM mlops.adwin_detectors"
							   " WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
							   1, (Oid[]) {TEXTOID}, args, NULL, false, 1);
	MlopsEndOwner(&save);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading adwin detector failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("adwin detector \"%s\" does not exist", MlopsClip(name, MLOPS_ECHO_MAX)),
				 errhint("Create it with mlops.create_adwin.")));
	if (current)
		MlopsRequireOwner("adwin", name,
						  DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)));
	if (state != NULL)
		*state = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
}

/*
 * CheckAdwinValue raises numeric_value_out_of_range for a value beyond
 * +-STATS_ADWIN_MAX_ABS (position is its 1-based place in an array, or 0).
 */
static void
CheckAdwinValue(double value, int position)
{
	if (fabs(value) <= STATS_ADWIN_MAX_ABS)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 position > 0 ?
			 errmsg("adwin value %g at position %d is out of range", value, position) :
			 errmsg("adwin value %g is out of range", value),
			 errdetail("ADWIN takes values between -1e100 and 1e100; beyond, its variance overflows."),
			 errhint("Scale the stream down before feeding it to the detector.")));
}

/*
 * AdwinFromBytea copies a stored detector state into *out after checking
 * that it is one this build wrote; anything else is reported as corrupted
 * rather than trusted.
 */
static void
AdwinFromBytea(bytea *b, const char *name, StatsAdwin *out)
{
	bool		ok = VARSIZE_ANY_EXHDR(b) == sizeof(StatsAdwin);

	if (ok)
	{
		memcpy(out, VARDATA_ANY(b), sizeof(StatsAdwin));
		ok = out->format == STATS_ADWIN_FORMAT &&
			out->nrows >= 1 && out->nrows <= STATS_ADWIN_MAX_ROWS &&
			out->delta > 0 && out->delta < 1 && out->width >= 0;
		for (int r = 0; ok && r < STATS_ADWIN_MAX_ROWS; r++)
			ok = out->count[r] >= 0 && out->count[r] <= STATS_ADWIN_MAX_BUCKETS + 1;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the stored state of adwin detector \"%s\" is not valid", MlopsClip(name, MLOPS_ECHO_MAX)),
				 errdetail("It was not written by this build of mlops."),
				 errhint("Drop the detector with mlops.drop_adwin and create it again.")));
}
