/*-------------------------------------------------------------------------
 *
 * modelref.c
 *	  C access to the model registry shared by every subsystem: resolving
 *	  model references and reading a version's booster bytes with their
 *	  checksum verified.
 *
 * The registry's rules (stages, aliases, one Production version per model)
 * live in SQL (sql/install/30_registry.sql) where the schema enforces them.
 * This file only reads, always as the extension owner so that callers need
 * no privileges on the tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "common/common.h"

/*
 * ResolveModelRef resolves a model reference ('churn', 'churn/3',
 * 'churn/Staging', 'churn/latest', 'churn@champion') to one version.  An
 * unresolvable reference raises undefined_object with a hint listing what
 * exists.  The result is allocated in the caller's memory context.
 */
void
ResolveModelRef(const char *ref, ResolvedModel *out)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MlopsOwnerSave save;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int			rc;

	args[0] = CStringGetTextDatum(ref);

	MlopsBeginOwner(&save);
	SPI_connect();
	rc = SPI_execute_with_args("SELECT r.model_id, r.name, r.version, r.stage, v.task, v.algorithm"
							   "  FROM mlops.resolve_model($1) r"
							   "  JOIN mlops.model_versions v"
							   "    ON v.model_id OPERATOR(pg_catalog.=) r.model_id"
							   "   AND v.version OPERATOR(pg_catalog.=) r.version",
							   1, argtypes, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "resolving model reference \"%s\" returned %d rows", MlopsClip(ref, MLOPS_ECHO_MAX), (int) SPI_processed);
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext oldcxt = MemoryContextSwitchTo(callercxt);
		char	   *s;

		out->model_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		out->name = SPI_getvalue(tup, desc, 2);
		out->version = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		out->stage = SPI_getvalue(tup, desc, 4);
		s = SPI_getvalue(tup, desc, 5);
		out->task = s;
		out->algorithm = SPI_getvalue(tup, desc, 6);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	MlopsEndOwner(&save);
}

/*
 * FetchModelBytes returns the stored booster of a model version, copied
 * into the caller's memory context, after checking its SHA-256 against the
 * one stored when it was registered.
 */
bytea *
FetchModelBytes(int64 model_id, int32 version)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MlopsOwnerSave save;
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		args[2];
	bytea	   *result;
	char	   *name;
	uint8		expected[PG_SHA256_DIGEST_LENGTH];
	int			rc;

	args[0] = Int64GetDatum(model_id);
	args[1] = Int32GetDatum(version);

	MlopsBeginOwner(&save);
	SPI_connect();
	rc = SPI_execute_with_args("SELECT v.model_data, v.model_sha256, m.name"
							   "  FROM mlops.model_versions v"
							   "  JOIN mlops.models m ON m.model_id OPERATOR(pg_catalog.=) v.model_id"
							   " WHERE v.model_id OPERATOR(pg_catalog.=) $1"
							   "   AND v.version OPERATOR(pg_catalog.=) $2",
							   2, argtypes, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading model bytes failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model version %d of model %lld does not exist", version, (long long) model_id),
				 errdetail("It was deleted after the reference was resolved.")));
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bytea	   *sha;
		MemoryContext oldcxt = MemoryContextSwitchTo(callercxt);

		result = DatumGetByteaPCopy(SPI_getbinval(tup, desc, 1, &isnull));
		sha = DatumGetByteaPP(SPI_getbinval(tup, desc, 2, &isnull));
		if (VARSIZE_ANY_EXHDR(sha) != PG_SHA256_DIGEST_LENGTH)
			elog(ERROR, "stored checksum has wrong length");
		memcpy(expected, VARDATA_ANY(sha), PG_SHA256_DIGEST_LENGTH);
		name = SPI_getvalue(tup, desc, 3);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	MlopsEndOwner(&save);

	VerifyModelChecksum(result, expected, name, version);
	return result;
}

/*
 * VerifyModelChecksum raises data_corrupted unless data hashes to the
 * expected SHA-256.
 */
void
VerifyModelChecksum(const bytea *data, const uint8 *expected_sha256,
					const char *name, int32 version)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];

	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
	{
		const char *err = ctx ? pg_cryptohash_error(ctx) : "out of memory";

		if (ctx)
			pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute SHA-256 of model \"%s\" version %d", name, version),
				 errdetail("%s", err)));
	}
	pg_cryptohash_free(ctx);

	if (memcmp(digest, expected_sha256, PG_SHA256_DIGEST_LENGTH) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d failed its checksum", name, version),
				 errdetail("The stored booster no longer matches the SHA-256 recorded when it was registered."),
				 errhint("Re-import or retrain the model; the stored bytes will not be loaded.")));
}
