/*
 * version.c
 *		mlops.version(): what this build is and which schema it serves.
 *
 * The library's version is the Makefile's EXTVERSION (MLOPS_VERSION), the
 * git revision is `git describe --always --dirty` of the checkout it was
 * built from (MLOPS_GIT_REVISION, also set by the Makefile; "unknown" for a
 * build from a tree without .git unless the builder passed one in, as
 * `make deb` does), and libxgboost's version is asked of the library that
 * is actually loaded.  mlops.version() is the one C function the schema
 * check of common/schema_version.c lets through in every state, so it also
 * tells why the other functions refuse.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "common/common.h"
#include "xgb/xgb.h"

#ifndef MLOPS_GIT_REVISION
#define MLOPS_GIT_REVISION "unknown"
#endif

PG_FUNCTION_INFO_V1(mlops_version);

/*
 * mlops_version implements mlops.version(): the installed extension's
 * version, the library's, libxgboost's, the git revision of the build, how
 * the library stands to the installed schema and the schema versions it
 * serves, as a JSON object.
 */
Datum
mlops_version(PG_FUNCTION_ARGS)
{
	static const char *const states[] = {
		[MLOPS_SCHEMA_ABSENT] = "absent",
		[MLOPS_SCHEMA_CURRENT] = "current",
		[MLOPS_SCHEMA_OLDER] = "older",
		[MLOPS_SCHEMA_UNSUPPORTED] = "unsupported",
	};
	const char *extension;
	MlopsSchemaState state = MlopsSchemaStatus(&extension);
	StringInfoData buf;

	(void) fcinfo;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"extension\": ");
	if (extension[0])
		escape_json(&buf, extension);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoString(&buf, ", \"library\": ");
	escape_json(&buf, MLOPS_VERSION);
	appendStringInfoString(&buf, ", \"libxgboost\": ");
	escape_json(&buf, XgbVersion());
	appendStringInfoString(&buf, ", \"git_revision\": ");
	escape_json(&buf, MLOPS_GIT_REVISION);
	appendStringInfoString(&buf, ", \"schema\": ");
	escape_json(&buf, states[state]);
	appendStringInfo(&buf, ", \"serves\": %s}", MlopsServedVersions());
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
