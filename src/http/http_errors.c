/*-------------------------------------------------------------------------
 *
 * http_errors.c
 *	  The one table that maps a SQLSTATE to an HTTP status and error code,
 *	  and the JSON of the API's error format.
 *
 * Client errors (the request's data, its model reference, its privileges)
 * show PostgreSQL's message and DETAIL, which the same role would see in
 * psql.  Server errors (5xx) show a fixed message; the real one goes to the
 * server log with the request id.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/elog.h"
#include "utils/json.h"

#include "common/common.h"
#include "http/http.h"

typedef struct SqlstateMap
{
	const char *sqlstate;		/* five characters, or two for a whole class */
	int			status;
	const char *code;
	bool		expose;
} SqlstateMap;

/* first match wins: exact SQLSTATEs before their class */
static const SqlstateMap sqlstate_map[] = {
	{"42501", 403, "FORBIDDEN", true},	/* insufficient_privilege */
	{"42704", 404, "NOT_FOUND", true},	/* undefined_object: no such model */
	{"57014", 503, "UNAVAILABLE", false},	/* query_canceled: the request timeout */
	{"54001", 400, "VALIDATION_ERROR", true},	/* statement_too_complex: nesting */
	{"55000", 422, "VALIDATION_ERROR", true},	/* object_not_in_prerequisite_state */
	{"0A000", 422, "VALIDATION_ERROR", true},	/* feature_not_supported */
	{"22", 422, "VALIDATION_ERROR", true},	/* data exceptions */
	{"23", 422, "VALIDATION_ERROR", true},	/* integrity constraint violations */
	{"40", 503, "UNAVAILABLE", false},	/* serialization failure, deadlock */
	{"53", 503, "UNAVAILABLE", false},	/* insufficient resources */
	{"55", 503, "UNAVAILABLE", false},	/* lock not available */
	{"57", 503, "UNAVAILABLE", false},	/* operator intervention */
	{"08", 503, "UNAVAILABLE", false},	/* connection exceptions */
};

/*
 * HttpClassifySqlstate returns the HTTP status, code and exposure of an
 * error's SQLSTATE; anything unlisted is a 500 INTERNAL whose message stays
 * in the server log.
 */
HttpErrorClass
HttpClassifySqlstate(int sqlerrcode)
{
	const char *state = unpack_sql_state(sqlerrcode);
	HttpErrorClass c = {500, "INTERNAL", false};

	for (size_t i = 0; i < lengthof(sqlstate_map); i++)
	{
		const SqlstateMap *m = &sqlstate_map[i];

		if (strncmp(state, m->sqlstate, strlen(m->sqlstate)) == 0)
		{
			c.status = m->status;
			c.code = m->code;
			c.expose = m->expose;
			break;
		}
	}
	return c;
}

/*
 * HttpJsonEscape appends s as a JSON string literal.
 */
void
HttpJsonEscape(StringInfo out, const char *s)
{
	escape_json(out, s ? s : "");
}

/*
 * HttpErrorBody writes {"error": {"code", "message", "details", "request_id"}};
 * details_json is a JSON array or NULL (an empty array).
 */
void
HttpErrorBody(StringInfo out, const char *code, const char *message, const char *details_json,
			  const char *request_id)
{
	appendStringInfoString(out, "{\"error\": {\"code\": ");
	HttpJsonEscape(out, code);
	appendStringInfoString(out, ", \"message\": ");
	HttpJsonEscape(out, message);
	appendStringInfo(out, ", \"details\": %s, \"request_id\": ", details_json ? details_json : "[]");
	HttpJsonEscape(out, request_id);
	appendStringInfoString(out, "}}");
}
