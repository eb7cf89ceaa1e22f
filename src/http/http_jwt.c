/*-------------------------------------------------------------------------
 *
 * http_jwt.c
 *	  Verification of HS256 JSON Web Tokens (RFC 7519) with PostgreSQL's own
 *	  HMAC (common/hmac.h).
 *
 * A token is header.payload.signature in base64url.  The header must say
 * {"alg": "HS256"} (every other algorithm, "none" included, is refused, and
 * so is a "crit" member); the signature is compared in constant time before
 * the payload is looked at.  The payload must carry "role" (a PostgreSQL
 * role name) and "exp"; "nbf" and, when mlops.http_jwt_audience is set,
 * "aud" (a string or an array of strings) are checked; "tier" picks a
 * rate-limit tier (default free).  Times are seconds since the epoch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/base64.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "common/common.h"
#include "http/http.h"

#define JWT_MAX_LEN 8192

typedef struct JwtParse
{
	const char *text;
	Jsonb	   *json;
} JwtParse;

static bool B64UrlDecode(const char *in, int inlen, char **out, int *outlen);
static Jsonb *ParseJsonPart(const char *in, int inlen);
static void ParseJson(void *arg);
static const char *JsonString(Jsonb *j, const char *key, bool *present);
static bool JsonNumber(Jsonb *j, const char *key, double *value, bool *present);
static bool AudienceMatches(Jsonb *payload, const char *audience);
static bool ConstantTimeEqual(const uint8 *a, const uint8 *b, size_t n);

/*
 * HttpJwtVerify checks a token against the secret and the clock; on success
 * it returns true with the role (and tier, "" when absent), otherwise false
 * with a reason for the server's refusal count.
 */
bool
HttpJwtVerify(const char *token, const char *secret, const char *audience, int64 now_s,
			  char *role, size_t rolelen, char *tier, size_t tierlen, const char **reason)
{
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	Jsonb	   *header;
	Jsonb	   *payload;
	char	   *sig;
	int			siglen;
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	pg_hmac_ctx *ctx;
	const char *s;
	bool		present;
	double		t;

	*reason = "malformed token";
	if (strlen(token) > JWT_MAX_LEN || dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
		return false;
	header = ParseJsonPart(token, dot1 - token);
	if (header == NULL)
		return false;
	s = JsonString(header, "alg", &present);
	if (s == NULL || strcmp(s, "HS256") != 0)
	{
		*reason = "token algorithm is not HS256";
		return false;
	}
	if (getKeyJsonValueFromContainer(&header->root, "crit", 4, NULL) != NULL)
	{
		*reason = "token has critical extensions";
		return false;
	}
	if (!B64UrlDecode(dot2 + 1, strlen(dot2 + 1), &sig, &siglen) || siglen != PG_SHA256_DIGEST_LENGTH)
	{
		*reason = "bad token signature";
		return false;
	}
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL || pg_hmac_init(ctx, (const uint8 *) secret, strlen(secret)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) token, dot2 - token) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
	{
		pg_hmac_free(ctx);
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not compute an HMAC")));
	}
	pg_hmac_free(ctx);
	if (!ConstantTimeEqual(mac, (const uint8 *) sig, sizeof(mac)))
	{
		*reason = "bad token signature";
		return false;
	}
	payload = ParseJsonPart(dot1 + 1, dot2 - dot1 - 1);
	if (payload == NULL)
		return false;
	if (!JsonNumber(payload, "exp", &t, &present) || !present)
	{
		*reason = "token has no valid exp";
		return false;
	}
	if ((double) now_s >= t)
	{
		*reason = "token expired";
		return false;
	}
	if (!JsonNumber(payload, "nbf", &t, &present) || (present && (double) now_s < t))
	{
		*reason = "token not yet valid";
		return false;
	}
	if (audience != NULL && audience[0] != '\0' && !AudienceMatches(payload, audience))
	{
		*reason = "token audience does not match";
		return false;
	}
	s = JsonString(payload, "role", &present);
	if (s == NULL || s[0] == '\0' || strlen(s) >= rolelen)
	{
		*reason = "token has no valid role claim";
		return false;
	}
	strlcpy(role, s, rolelen);
	s = JsonString(payload, "tier", &present);
	if (present && (s == NULL || strlen(s) >= tierlen))
	{
		*reason = "token has an invalid tier claim";
		return false;
	}
	strlcpy(tier, s ? s : "", tierlen);
	return true;
}

/*
 * B64UrlDecode decodes unpadded base64url into a palloc'd buffer.
 */
static bool
B64UrlDecode(const char *in, int inlen, char **out, int *outlen)
{
	char	   *std = palloc(inlen + 4);
	int			n = 0;
	int			len;

	for (int i = 0; i < inlen; i++)
	{
		char		c = in[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!(isalnum((unsigned char) c)))
			return false;
		std[n++] = c;
	}
	if (n % 4 == 1)
		return false;
	while (n % 4 != 0)
		std[n++] = '=';
	*out = palloc(pg_b64_dec_len(n) + 1);
	len = pg_b64_decode(std, n, *out, pg_b64_dec_len(n));
	if (len < 0)
		return false;
	(*out)[len] = '\0';
	*outlen = len;
	return true;
}

/*
 * ParseJsonPart decodes one base64url part and parses it as a JSON object;
 * NULL when it is not one.
 */
static Jsonb *
ParseJsonPart(const char *in, int inlen)
{
	JwtParse	p;
	int			len;
	char	   *text;

	if (!B64UrlDecode(in, inlen, &text, &len) || memchr(text, '\0', len) != NULL ||
		!pg_verify_mbstr(PG_UTF8, text, len, true))
		return NULL;
	p.text = text;
	p.json = NULL;
	if (MlopsTryInSubxact(ParseJson, &p) != NULL || !JB_ROOT_IS_OBJECT(p.json) || JB_ROOT_IS_SCALAR(p.json))
		return NULL;
	return p.json;
}

/* ParseJson parses p->text as jsonb (run in a subtransaction). */
static void
ParseJson(void *arg)
{
	JwtParse   *p = (JwtParse *) arg;

	p->json = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(p->text)));
}

/*
 * JsonString returns a string member (NULL when absent or not a string;
 * *present says whether it is there at all).
 */
static const char *
JsonString(Jsonb *j, const char *key, bool *present)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&j->root, key, strlen(key), NULL);

	*present = v != NULL;
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * JsonNumber reads a numeric member; false when it is there but not a
 * finite number.
 */
static bool
JsonNumber(Jsonb *j, const char *key, double *value, bool *present)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&j->root, key, strlen(key), NULL);

	*present = v != NULL;
	if (v == NULL)
		return true;
	if (v->type != jbvNumeric)
		return false;
	*value = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	return isfinite(*value);
}

/*
 * AudienceMatches says whether "aud" is the audience or an array holding it.
 */
static bool
AudienceMatches(Jsonb *payload, const char *audience)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&payload->root, "aud", 3, NULL);
	size_t		alen = strlen(audience);

	if (v == NULL)
		return false;
	if (v->type == jbvString)
		return (size_t) v->val.string.len == alen && memcmp(v->val.string.val, audience, alen) == 0;
	if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		uint32		n = JsonContainerSize(v->val.binary.data);

		for (uint32 i = 0; i < n && i < 100; i++)
		{
			JsonbValue *e = getIthJsonbValueFromContainer(v->val.binary.data, i);

			if (e->type == jbvString && (size_t) e->val.string.len == alen &&
				memcmp(e->val.string.val, audience, alen) == 0)
				return true;
		}
	}
	return false;
}

/*
 * ConstantTimeEqual compares two buffers in time that does not depend on
 * where they differ.
 */
static bool
ConstantTimeEqual(const uint8 *a, const uint8 *b, size_t n)
{
	volatile uint8 diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}
