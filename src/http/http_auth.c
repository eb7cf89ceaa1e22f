/*-------------------------------------------------------------------------
 *
 * http_auth.c
 *	  Credentials of the HTTP service: API keys (X-API-Key, looked up by
 *	  their SHA-256 in mlops.http_api_keys) and HS256 JSON Web Tokens
 *	  (Authorization: Bearer, http_jwt.c), each mapped to a PostgreSQL role
 *	  and a rate-limit tier; and the aggregated audit of refused credentials.
 *
 * A credential is refused (401) when it is unknown, revoked, expired, badly
 * signed, or names a role that does not exist.  A valid credential whose
 * role may not log in (NOLOGIN) or is a superuser is refused with 403: the
 * service runs requests as ordinary roles only, as a login through
 * pg_hba.conf would for a role with LOGIN, and never with superuser rights.
 * The lookup runs as the worker's own role, before the switch to the
 * credential's role.
 *
 * Refusals are counted in the worker, by reason, and written to the audit
 * log as one event "http.credentials_refused" per worker at most every
 * 10 seconds, so a flood of bad credentials cannot flood the log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "http/http.h"
#include "http/http_int.h"

#define MAX_KEY_LEN 256
#define MAX_REASONS 16
#define REFUSAL_FLUSH_MS 10000

/* the lookups, prepared once per worker (HttpExecute) */
static SPIPlanPtr key_plan = NULL;
static SPIPlanPtr jwt_plan = NULL;

typedef struct RefusalCount
{
	const char *reason;			/* a string constant */
	int64		count;
} RefusalCount;

static RefusalCount refusals[MAX_REASONS];
static int	nrefusals = 0;
static TimestampTz last_flush = 0;

static HttpAuthResult LookupApiKey(const char *key, HttpCredential *cred, const char **reason);
static HttpAuthResult LookupJwt(const char *token, HttpCredential *cred, const char **reason);
static HttpAuthResult CheckRole(HeapTuple tup, TupleDesc desc, int first, HttpCredential *cred,
								const char **reason);

/*
 * HttpAuthenticate maps the request's credentials to a role and tier.
 */
HttpAuthResult
HttpAuthenticate(const char *api_key, const char *authorization, HttpCredential *cred,
				 const char **reason)
{
	memset(cred, 0, sizeof(*cred));
	if (api_key != NULL)
		return LookupApiKey(api_key, cred, reason);
	if (authorization != NULL)
	{
		if (pg_strncasecmp(authorization, "Bearer ", 7) != 0)
		{
			*reason = "unsupported authorization scheme";
			return HTTP_AUTH_INVALID;
		}
		return LookupJwt(authorization + 7, cred, reason);
	}
	*reason = "no credentials";
	return HTTP_AUTH_MISSING;
}

/*
 * LookupApiKey finds an API key by its SHA-256 and checks that it is not
 * revoked or expired and that its role may be used.
 */
static HttpAuthResult
LookupApiKey(const char *key, HttpCredential *cred, const char **reason)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	pg_cryptohash_ctx *ctx;
	bytea	   *hash;
	Oid			type = BYTEAOID;
	Datum		value;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	*reason = "unknown API key";
	if (strlen(key) > MAX_KEY_LEN)
		return HTTP_AUTH_INVALID;
	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) key, strlen(key)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
	{
		pg_cryptohash_free(ctx);
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not compute a SHA-256 digest")));
	}
	pg_cryptohash_free(ctx);
	hash = palloc(VARHDRSZ + sizeof(digest));
	SET_VARSIZE(hash, VARHDRSZ + sizeof(digest));
	memcpy(VARDATA(hash), digest, sizeof(digest));
	value = PointerGetDatum(hash);
	if (HttpExecute(&key_plan, "SELECT k.key_id, k.revoked_at IS NOT NULL, "
							  "k.expires_at IS NOT NULL AND k.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now(), "
							  "k.tier, t.requests_per_minute::pg_catalog.float8, t.burst::pg_catalog.float8, "
							  "r.oid, r.rolcanlogin, r.rolsuper "
							  "FROM mlops.http_api_keys k "
							  "JOIN mlops.rate_limit_tiers t ON t.tier OPERATOR(pg_catalog.=) k.tier "
							  "LEFT JOIN pg_catalog.pg_authid r ON r.oid OPERATOR(pg_catalog.=) k.role "
							  "WHERE k.key_hash OPERATOR(pg_catalog.=) $1",
					1, &type, &value, NULL, true) != SPI_OK_SELECT)
		elog(ERROR, "API key lookup failed");
	if (SPI_processed != 1)
		return HTTP_AUTH_INVALID;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull)))
	{
		*reason = "revoked API key";
		return HTTP_AUTH_INVALID;
	}
	if (DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull)))
	{
		*reason = "expired API key";
		return HTTP_AUTH_INVALID;
	}
	cred->kind = 'k';
	snprintf(cred->id, sizeof(cred->id), INT64_FORMAT, DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)));
	strlcpy(cred->tier, SPI_getvalue(tup, desc, 4), sizeof(cred->tier));
	cred->per_minute = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
	cred->burst = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));
	return CheckRole(tup, desc, 7, cred, reason);
}

/*
 * LookupJwt verifies a bearer token and looks up its role and tier.
 */
static HttpAuthResult
LookupJwt(const char *token, HttpCredential *cred, const char **reason)
{
	char		role[NAMEDATALEN];
	char		tier[64];
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	if (mlops_http_jwt_secret == NULL || mlops_http_jwt_secret[0] == '\0')
	{
		*reason = "bearer token but no mlops.http_jwt_secret";
		return HTTP_AUTH_INVALID;
	}
	if (!HttpJwtVerify(token, mlops_http_jwt_secret, mlops_http_jwt_audience,
					   (int64) time(NULL), role, sizeof(role), tier, sizeof(tier), reason))
		return HTTP_AUTH_INVALID;
	values[0] = CStringGetTextDatum(role);
	values[1] = CStringGetTextDatum(tier[0] ? tier : "free");
	if (HttpExecute(&jwt_plan, "SELECT t.tier, t.requests_per_minute::pg_catalog.float8, t.burst::pg_catalog.float8, "
							  "r.oid, r.rolcanlogin, r.rolsuper "
							  "FROM mlops.rate_limit_tiers t "
							  "LEFT JOIN pg_catalog.pg_authid r ON r.rolname OPERATOR(pg_catalog.=) $1 "
							  "WHERE t.tier OPERATOR(pg_catalog.=) $2",
					2, types, values, NULL, true) != SPI_OK_SELECT)
		elog(ERROR, "token role lookup failed");
	if (SPI_processed != 1)
	{
		*reason = "token names an unknown tier";
		return HTTP_AUTH_INVALID;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	cred->kind = 'j';
	strlcpy(cred->id, role, sizeof(cred->id));
	strlcpy(cred->tier, SPI_getvalue(tup, desc, 1), sizeof(cred->tier));
	cred->per_minute = DatumGetFloat8(SPI_getbinval(tup, desc, 2, &isnull));
	cred->burst = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
	return CheckRole(tup, desc, 4, cred, reason);
}

/*
 * CheckRole reads (oid, rolcanlogin, rolsuper) from column `first` on and
 * decides whether requests may run as that role.
 */
static HttpAuthResult
CheckRole(HeapTuple tup, TupleDesc desc, int first, HttpCredential *cred, const char **reason)
{
	bool		isnull;
	Datum		oid = SPI_getbinval(tup, desc, first, &isnull);

	if (isnull)
	{
		*reason = "credential of a role that no longer exists";
		return HTTP_AUTH_INVALID;
	}
	if (!DatumGetBool(SPI_getbinval(tup, desc, first + 1, &isnull)))
	{
		*reason = "the credential's role may not log in (NOLOGIN)";
		return HTTP_AUTH_FORBIDDEN;
	}
	if (DatumGetBool(SPI_getbinval(tup, desc, first + 2, &isnull)))
	{
		*reason = "credentials of superusers are refused";
		return HTTP_AUTH_FORBIDDEN;
	}
	if (!TokenBucketValid(cred->per_minute, cred->burst))
		elog(ERROR, "rate-limit tier \"%s\" has invalid limits", cred->tier);
	cred->role = DatumGetObjectId(oid);
	*reason = NULL;
	return HTTP_AUTH_OK;
}

/*
 * HttpAuthRefused counts one refused credential by reason (a string
 * constant); HttpAuthFlushRefusals writes the counts to the audit log.
 */
void
HttpAuthRefused(const char *reason)
{
	int			i;

	for (i = 0; i < nrefusals; i++)
		if (strcmp(refusals[i].reason, reason) == 0)
			break;
	if (i == nrefusals)
	{
		if (nrefusals == MAX_REASONS)
			i = MAX_REASONS - 1;	/* cannot happen: the reasons are a fixed set */
		else
		{
			refusals[nrefusals].reason = reason;
			refusals[nrefusals++].count = 0;
		}
	}
	refusals[i].count++;
}

/*
 * HttpAuthFlushRefusals writes one audit event with the refusals counted
 * since the last one, at most every 10 seconds (or now when force), in its
 * own transaction.  Called between requests; an error is logged, not raised.
 */
void
HttpAuthFlushRefusals(bool force)
{
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext old = CurrentMemoryContext;
	StringInfoData details;
	int64		total = 0;

	if (nrefusals == 0 || (!force && !TimestampDifferenceExceeds(last_flush, now, REFUSAL_FLUSH_MS)))
		return;
	initStringInfo(&details);
	appendStringInfoString(&details, "{\"reasons\": {");
	for (int i = 0; i < nrefusals; i++)
	{
		if (i > 0)
			appendStringInfoString(&details, ", ");
		HttpJsonEscape(&details, refusals[i].reason);
		appendStringInfo(&details, ": " INT64_FORMAT, refusals[i].count);
		total += refusals[i].count;
	}
	appendStringInfo(&details, "}, \"count\": " INT64_FORMAT ", \"worker\": %d, \"since\": ",
					 total, HttpWorkerNumber() + 1);
	HttpJsonEscape(&details, timestamptz_to_str(last_flush ? last_flush : now));
	appendStringInfoChar(&details, '}');
	nrefusals = 0;
	last_flush = now;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(details.data)};

		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (MlopsSchemaStatus(NULL) == MLOPS_SCHEMA_CURRENT)
			SPI_execute_with_args("SELECT mlops._audit_event('http.credentials_refused', 'http', NULL, $1::pg_catalog.jsonb)",
								  1, types, values, NULL, false, 1);
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
}
