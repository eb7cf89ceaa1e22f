/*
 * modelcheck.c
 *	  Decode, validate and canonicalize untrusted XGBoost model bytes.
 *
 * Why this file exists
 * --------------------
 * A serialized XGBoost model is code for libxgboost: version 1.7.4 reads
 * UBJSON without bounds checks (a truncated length makes it read past the
 * buffer and crash the process), and a well-formed JSON model whose trees
 * are inconsistent loads fine but reads out of bounds at prediction time
 * (XGBoost issue #7903).  Inside a PostgreSQL backend a crash takes the
 * whole cluster through recovery, so bytes supplied by a user never reach
 * XGBoost until this file has proven them well formed.
 *
 * Data flow
 * ---------
 *   bytes --ModelCheckDetectFormat--> JSON | UBJSON | legacy binary (refused)
 *   JSON   --ModelCheckParseJson-->   jansson tree (duplicate keys refused,
 *                                     NaN/Infinity tokens kept as markers)
 *   UBJSON --ModelCheckParseUbjson--> jansson tree (every length checked
 *                                     against the bytes that remain)
 *   tree   --ModelCheckValidate-->    ModelCheckInfo (num_feature, classes,
 *                                     objective, task, feature names)
 *   tree   --ModelCheckCanonicalJson--> compact JSON with sorted keys; this
 *                                     is what the registry stores, what
 *                                     export returns and the only form that
 *                                     is ever handed to XGBoost
 * ModelCheckModel runs the whole chain.
 *
 * Files
 * -----
 * One file per stage, sharing modelcheck_int.h: this file (limits, format
 * detection, the decode budget, errors, non-finite markers and the whole
 * chain), modelcheck_json.c and modelcheck_ubjson.c (the readers),
 * modelcheck_validate.c (the invariants below) and modelcheck_canon.c (the
 * canonical writer).
 *
 * Invariants the validator establishes (everything else is rejected)
 * ------------------------------------------------------------------
 *  - the document is exactly {"learner": ..., "version": [a, b, c]}, every
 *    object in it has only the keys XGBoost 1.7 writes, every scalar has
 *    the JSON type XGBoost expects (XGBoost's own loader would throw on a
 *    mismatch, but a throw is not where our safety should come from);
 *  - num_feature, num_class, num_target and num_parallel_tree are within
 *    fixed caps (and the products XGBoost forms from them fit an int), so
 *    that loading or predicting cannot be made to allocate without bound;
 *  - for every tree: all node arrays have num_nodes elements; the nodes
 *    reachable from the root form a tree (children in range, each reached
 *    once, parents[] pointing back, the root with no parent); a node has
 *    either two children or none; internal nodes split on a feature below
 *    num_feature; unreachable nodes are exactly the num_deleted nodes that
 *    XGBoost marks deleted; categorical splits are listed once, in order,
 *    with category segments inside the categories array and codes capped;
 *  - tree_info has one entry per tree, each below the number of output
 *    groups; num_trees agrees with the trees; a dart booster has one weight
 *    per tree; a gblinear booster has (num_feature + 1) * groups weights.
 *
 * Non-finite numbers
 * ------------------
 * XGBoost writes NaN as the threshold of categorical splits, as a bare
 * token that JSON (and jansson) do not allow.  The JSON reader rewrites the
 * tokens NaN, Infinity and -Infinity found outside strings into a marker
 * object {"$nonfinite": "NaN"} before jansson parses the text; the UBJSON
 * reader builds the same marker for non-finite floats.  The validator
 * accepts markers only inside float arrays, and the canonical writer prints
 * them back as the bare tokens XGBoost reads.  A user who writes the marker
 * object by hand gets exactly the meaning of the token, so it cannot be
 * used to smuggle anything.
 *
 * Memory
 * ------
 * Everything is malloc'd (jansson's allocator); callers release results
 * with ModelCheckResultFree / ModelCheckInfoFree / json_decref / free.
 * A decoded tree is far bigger than its text (a one-byte UBJSON integer
 * becomes a 24-byte jansson value plus its array slot), so decoding runs
 * under an allocation budget of memory_factor times the input plus
 * memory_slack: models XGBoost writes need 7 to 14 times their size, while
 * a crafted array of one-byte integers would need 40 times and is refused
 * as too large instead of driving the process out of memory.
 *
 * Inside PostgreSQL
 * -----------------
 * The server executable exports a function named json_object (the SQL
 * function), and the dynamic linker resolves that name there first, so
 * this file never calls jansson's json_object() (see McNewObject).  Nothing
 * here can be interrupted; the size limits bound the time taken.
 */
#include <jansson.h>

#include "xgb/modelcheck_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the allocation budget of the decode in progress (see McBeginBudget) */
static struct
{
	json_malloc_t saved_malloc;
	json_free_t saved_free;
	size_t		budget;
	size_t		used;
	int			exceeded;
}			budget_state;

static void *BudgetMalloc(size_t size);

/*
 * ModelCheckDefaultLimits fills limits with the compiled-in defaults.
 */
void
ModelCheckDefaultLimits(ModelCheckLimits *limits)
{
	limits->max_bytes = MODELCHECK_DEFAULT_MAX_BYTES;
	limits->max_depth = MODELCHECK_DEFAULT_MAX_DEPTH;
	limits->max_category = MODELCHECK_DEFAULT_MAX_CATEGORY;
	limits->memory_factor = MODELCHECK_DEFAULT_MEMORY_FACTOR;
	limits->memory_slack = MODELCHECK_DEFAULT_MEMORY_SLACK;
}

/*
 * McDecodeBudget returns how many bytes decoding len bytes may allocate.
 */
size_t
McDecodeBudget(const ModelCheckLimits *limits, size_t len)
{
	if (limits->memory_factor > 0 && len > (SIZE_MAX - limits->memory_slack) / limits->memory_factor)
		return SIZE_MAX;
	return len * limits->memory_factor + limits->memory_slack;
}

/*
 * McBeginBudget routes jansson's allocations through BudgetMalloc, which
 * fails once budget bytes have been handed out, until McEndBudget.  jansson's
 * allocator is process-wide: the previous functions are saved and still do
 * the work, so trees built now are freed like any other (this module is
 * not meant for threads that use jansson concurrently).
 */
void
McBeginBudget(size_t budget)
{
	json_get_alloc_funcs(&budget_state.saved_malloc, &budget_state.saved_free);
	budget_state.budget = budget;
	budget_state.used = 0;
	budget_state.exceeded = 0;
	json_set_alloc_funcs(BudgetMalloc, budget_state.saved_free);
}

/*
 * BudgetMalloc allocates through the saved allocator while the budget
 * lasts.
 */
static void *
BudgetMalloc(size_t size)
{
	if (size > budget_state.budget - budget_state.used)
	{
		budget_state.exceeded = 1;
		return NULL;
	}
	budget_state.used += size;
	return budget_state.saved_malloc(size);
}

/*
 * McEndBudget restores jansson's allocator and tells whether the budget ran
 * out.
 */
int
McEndBudget(void)
{
	json_set_alloc_funcs(budget_state.saved_malloc, budget_state.saved_free);
	return budget_state.exceeded;
}

/*
 * ModelCheckDetectFormat guesses the serialization of buf from its first
 * bytes: XGBoost's JSON and UBJSON both open with '{', but in JSON the next
 * significant byte is a quote or '}', in UBJSON it is the type marker of the
 * first key's length.
 */
ModelCheckFormat
ModelCheckDetectFormat(const unsigned char *buf, size_t len)
{
	size_t		i = 0;

	if (len >= 4 && memcmp(buf, "binf", 4) == 0)
		return MODELCHECK_FORMAT_LEGACY_BINARY;
	if (len >= 1 && buf[0] == '{' && len >= 2 && strchr("iUIlL#$", buf[1]) != NULL && buf[1] != '\0')
		return MODELCHECK_FORMAT_UBJSON;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (i < len && buf[i] == '{')
		return MODELCHECK_FORMAT_JSON;
	return MODELCHECK_FORMAT_UNKNOWN;
}

/*
 * ModelCheckFormatName returns a short lower-case name of format.
 */
const char *
ModelCheckFormatName(ModelCheckFormat format)
{
	switch (format)
	{
		case MODELCHECK_FORMAT_JSON:
			return "json";
		case MODELCHECK_FORMAT_UBJSON:
			return "ubjson";
		case MODELCHECK_FORMAT_LEGACY_BINARY:
			return "legacy binary";
		default:
			return "unknown";
	}
}

/*
 * McSetError formats a message into err (when there is one) and returns
 * status, so that error paths read "return McSetError(...)".
 */
ModelCheckStatus
McSetError(char *err, size_t errlen, ModelCheckStatus status, const char *fmt,...)
{
	va_list		ap;

	if (err != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

/* ------------------------------------------------------------------------
 * Non-finite numbers
 * ------------------------------------------------------------------------ */

/*
 * McNewObject returns a new empty jansson object.  It never calls
 * json_object() directly: inside the PostgreSQL server that name resolves
 * to PostgreSQL's own SQL function json_object (the executable's symbols
 * come first), and calling it crashes the backend.  json_pack is resolved
 * in libjansson and builds the object with jansson's own json_object.
 */
json_t *
McNewObject(void)
{
	return json_pack("{}");
}

/*
 * McMakeNonFinite builds the marker object standing for a NaN or infinity.
 */
json_t *
McMakeNonFinite(double value)
{
	json_t	   *obj = McNewObject();
	const char *token = isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity");

	if (obj == NULL || json_object_set_new(obj, MODELCHECK_NONFINITE_KEY, json_string(token)) != 0)
	{
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/*
 * McIsNonFiniteMarker tells whether value is a well-formed non-finite marker
 * and, if so, sets *token to the bare token it stands for.
 */
int
McIsNonFiniteMarker(json_t *value, const char **token)
{
	json_t	   *v;
	const char *s;

	if (!json_is_object(value) || json_object_size(value) != 1)
		return 0;
	v = json_object_get(value, MODELCHECK_NONFINITE_KEY);
	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	if (strcmp(s, "NaN") != 0 && strcmp(s, "Infinity") != 0 && strcmp(s, "-Infinity") != 0)
		return 0;
	if (token)
		*token = s;
	return 1;
}

/* ------------------------------------------------------------------------
 * Whole chain
 * ------------------------------------------------------------------------ */

/*
 * ModelCheckModel detects the format of buf, decodes it, validates the
 * model and produces its canonical JSON.  On success the caller owns
 * result and frees it with ModelCheckResultFree; on failure result holds
 * nothing to free.
 */
ModelCheckStatus
ModelCheckModel(const unsigned char *buf, size_t len, const ModelCheckLimits *limits,
				ModelCheckResult *result, char *err, size_t errlen)
{
	ModelCheckStatus st;

	memset(result, 0, sizeof(*result));
	result->format = ModelCheckDetectFormat(buf, len);
	switch (result->format)
	{
		case MODELCHECK_FORMAT_JSON:
			st = ModelCheckParseJson(buf, len, limits, &result->model, err, errlen);
			break;
		case MODELCHECK_FORMAT_UBJSON:
			st = ModelCheckParseUbjson(buf, len, limits, &result->model, err, errlen);
			break;
		case MODELCHECK_FORMAT_LEGACY_BINARY:
			return McSetError(err, errlen, MODELCHECK_BAD_FORMAT,
							  "the model is in xgboost's deprecated binary format");
		default:
			return McSetError(err, errlen, MODELCHECK_BAD_FORMAT,
							  "the bytes are neither a json nor a ubjson xgboost model");
	}
	if (st != MODELCHECK_OK)
		return st;
	st = ModelCheckValidate(result->model, limits, &result->info, err, errlen);
	if (st == MODELCHECK_OK)
		st = ModelCheckCanonicalJson(result->model, &result->canonical,
									 &result->canonical_len, err, errlen);
	if (st != MODELCHECK_OK)
		ModelCheckResultFree(result);
	return st;
}

/*
 * ModelCheckResultFree releases everything result owns.
 */
void
ModelCheckResultFree(ModelCheckResult *result)
{
	json_decref(result->model);
	ModelCheckInfoFree(&result->info);
	free(result->canonical);
	result->model = NULL;
	result->canonical = NULL;
	result->canonical_len = 0;
}
