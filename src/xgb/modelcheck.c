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
 * this file never calls jansson's json_object() (see NewObject).  Nothing
 * here can be interrupted; the size limits bound the time taken.
 */
#include <jansson.h>

#include "xgb/modelcheck.h"

#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Node index XGBoost writes as the parent of the root. */
#define ROOT_PARENT_MARKER INT64_C(2147483647)
/* Split index XGBoost writes for deleted nodes. */
#define DELETED_NODE_MARKER INT64_C(2147483647)
/* Hard caps that bound what loading and predicting may allocate. */
#define MODELCHECK_MAX_FEATURES INT64_C(1048576)
#define MODELCHECK_MAX_OUTPUTS INT64_C(65536)
#define MODELCHECK_MAX_NODES INT64_C(2147483646)

static const char *const KnownObjectives[] = {
	"reg:squarederror", "reg:squaredlogerror", "reg:logistic",
	"reg:pseudohubererror", "reg:absoluteerror", "reg:gamma", "reg:tweedie",
	"binary:logistic", "binary:logitraw", "binary:hinge",
	"multi:softmax", "multi:softprob",
	"count:poisson", "survival:cox", "survival:aft",
	"rank:pairwise", "rank:ndcg", "rank:map",
	NULL
};

static const char *const KnownFeatureTypes[] = {"q", "c", "int", "float", "i", NULL};

/* growable output buffer of the canonical writer */
typedef struct OutBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	int			failed;
} OutBuf;

/* cursor of the UBJSON reader */
typedef struct UbjReader
{
	const unsigned char *buf;
	size_t		len;
	size_t		pos;
	const ModelCheckLimits *limits;
	ModelCheckStatus status;
	char	   *err;
	size_t		errlen;
} UbjReader;

/* the arrays of one tree, as int64 / presence data */
typedef struct TreeArrays
{
	int64_t		n;
	int64_t    *left;
	int64_t    *right;
	int64_t    *parents;
	int64_t    *split_indices;
	int64_t    *split_type;		/* NULL when the tree has no split_type */
} TreeArrays;

/* the allocation budget of the decode in progress (see BeginBudget) */
static struct
{
	json_malloc_t saved_malloc;
	json_free_t saved_free;
	size_t		budget;
	size_t		used;
	int			exceeded;
}			budget_state;

static size_t DecodeBudget(const ModelCheckLimits *limits, size_t len);
static void BeginBudget(size_t budget);
static void *BudgetMalloc(size_t size);
static int	EndBudget(void);
static ModelCheckStatus SetError(char *err, size_t errlen, ModelCheckStatus status,
								 const char *fmt,...) __attribute__((format(printf, 4, 5)));
static size_t RewriteNonFinite(const unsigned char *in, size_t len, char *out);
static json_t *NewObject(void);
static json_t *MakeNonFinite(double value);
static int	IsNonFiniteMarker(json_t *value, const char **token);
static json_t *UbjReadValue(UbjReader *r, int marker, int depth);
static json_t *UbjReadArray(UbjReader *r, int depth);
static json_t *UbjReadObject(UbjReader *r, int depth);
static int	UbjReadByte(UbjReader *r, int *out);
static int	UbjReadInt(UbjReader *r, int marker, int64_t *out);
static int	UbjReadLength(UbjReader *r, int64_t *out);
static int	UbjReadContainerHeader(UbjReader *r, int *type, int64_t *count);
static json_t *UbjReadString(UbjReader *r);
static json_t *UbjFail(UbjReader *r, ModelCheckStatus status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
static size_t UbjScalarSize(int marker);
static ModelCheckStatus CheckKeys(json_t *obj, const char *path, const char *const *allowed,
								  char *err, size_t errlen);
static ModelCheckStatus GetObject(json_t *parent, const char *key, const char *path,
								  int required, json_t **out, char *err, size_t errlen);
static ModelCheckStatus GetParamInt(json_t *obj, const char *key, const char *path,
									int required, int64_t dflt, int64_t min, int64_t max,
									int64_t *out, char *err, size_t errlen);
static ModelCheckStatus CheckStringMap(json_t *obj, const char *path, char *err, size_t errlen);
static ModelCheckStatus GetIntArray(json_t *obj, const char *key, const char *path,
									int64_t expect_len, int64_t **out, size_t *out_len,
									char *err, size_t errlen);
static ModelCheckStatus CheckFloatArray(json_t *obj, const char *key, const char *path,
										int64_t expect_len, char *err, size_t errlen);
static ModelCheckStatus CheckStringArray(json_t *obj, const char *key, const char *path,
										 int64_t num_feature, const char *const *allowed,
										 char ***out, int *out_n, char *err, size_t errlen);
static ModelCheckStatus ValidateObjective(json_t *learner, ModelCheckInfo *info,
										  char *err, size_t errlen);
static ModelCheckStatus ValidateBooster(json_t *learner, const ModelCheckLimits *limits,
										ModelCheckInfo *info, char *err, size_t errlen);
static ModelCheckStatus ValidateGbtree(json_t *gbtree, const char *path,
									   const ModelCheckLimits *limits,
									   ModelCheckInfo *info, char *err, size_t errlen);
static ModelCheckStatus ValidateTree(json_t *tree, int64_t index, const ModelCheckLimits *limits,
									 const ModelCheckInfo *info, char *err, size_t errlen);
static ModelCheckStatus CheckTreeShape(const TreeArrays *t, int64_t num_deleted,
									   const ModelCheckInfo *info, const char *path,
									   char *err, size_t errlen);
static ModelCheckStatus CheckCategories(json_t *tree, const TreeArrays *t, const char *path,
										const ModelCheckLimits *limits,
										char *err, size_t errlen);
static int	ParseInt64(const char *s, int64_t *out);
static void OutAppend(OutBuf *b, const char *s, size_t n);
static void OutString(OutBuf *b, const char *s, size_t n);
static void OutReal(OutBuf *b, double v);
static int	WriteValue(OutBuf *b, json_t *value, int depth);
static int	CompareKeys(const void *a, const void *b);

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
 * DecodeBudget returns how many bytes decoding len bytes may allocate.
 */
static size_t
DecodeBudget(const ModelCheckLimits *limits, size_t len)
{
	if (limits->memory_factor > 0 && len > (SIZE_MAX - limits->memory_slack) / limits->memory_factor)
		return SIZE_MAX;
	return len * limits->memory_factor + limits->memory_slack;
}

/*
 * BeginBudget routes jansson's allocations through BudgetMalloc, which
 * fails once budget bytes have been handed out, until EndBudget.  jansson's
 * allocator is process-wide: the previous functions are saved and still do
 * the work, so trees built now are freed like any other (this module is
 * not meant for threads that use jansson concurrently).
 */
static void
BeginBudget(size_t budget)
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
 * EndBudget restores jansson's allocator and tells whether the budget ran
 * out.
 */
static int
EndBudget(void)
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
 * SetError formats a message into err (when there is one) and returns
 * status, so that error paths read "return SetError(...)".
 */
static ModelCheckStatus
SetError(char *err, size_t errlen, ModelCheckStatus status, const char *fmt,...)
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
 * JSON
 * ------------------------------------------------------------------------ */

/*
 * ModelCheckParseJson parses a JSON model of at most limits->max_bytes into
 * a jansson object, refusing duplicate keys and keeping NaN/Infinity tokens
 * as non-finite markers.
 */
ModelCheckStatus
ModelCheckParseJson(const unsigned char *buf, size_t len, const ModelCheckLimits *limits,
					json_t **out, char *err, size_t errlen)
{
	size_t		rewritten_len;
	size_t		budget;
	char	   *text;
	json_t	   *root;
	json_error_t jerr;
	int			exceeded;

	*out = NULL;
	if (len > limits->max_bytes)
		return SetError(err, errlen, MODELCHECK_TOO_LARGE,
						"model is %zu bytes, more than the limit of %zu bytes",
						len, limits->max_bytes);
	if (memchr(buf, '\0', len) != NULL)
		return SetError(err, errlen, MODELCHECK_BAD_FORMAT,
						"json model contains a NUL byte");

	budget = DecodeBudget(limits, len);
	rewritten_len = RewriteNonFinite(buf, len, NULL);
	if (rewritten_len >= budget)
		return SetError(err, errlen, MODELCHECK_TOO_LARGE,
						"decoding the model would take more than %zu bytes of memory", budget);
	text = malloc(rewritten_len + 1);
	if (text == NULL)
		return SetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
	RewriteNonFinite(buf, len, text);

	BeginBudget(budget - rewritten_len);
	root = json_loadb(text, rewritten_len, JSON_REJECT_DUPLICATES, &jerr);
	exceeded = EndBudget();
	free(text);
	if (root == NULL && exceeded)
		return SetError(err, errlen, MODELCHECK_TOO_LARGE,
						"decoding the model would take more than %zu bytes of memory", budget);
	if (root == NULL)
		return SetError(err, errlen, MODELCHECK_BAD_FORMAT,
						"invalid json at line %d: %s", jerr.line, jerr.text);
	if (!json_is_object(root))
	{
		json_decref(root);
		return SetError(err, errlen, MODELCHECK_BAD_FORMAT,
						"json model is not an object");
	}
	*out = root;
	return MODELCHECK_OK;
}

/*
 * RewriteNonFinite copies JSON text replacing the bare tokens NaN, Infinity
 * and -Infinity outside strings by marker objects; with out == NULL it only
 * computes the length of the result.
 */
static size_t
RewriteNonFinite(const unsigned char *in, size_t len, char *out)
{
	static const struct
	{
		const char *token;
		const char *marker;
	}			map[] = {
		{"-Infinity", "{\"" MODELCHECK_NONFINITE_KEY "\":\"-Infinity\"}"},
		{"Infinity", "{\"" MODELCHECK_NONFINITE_KEY "\":\"Infinity\"}"},
		{"NaN", "{\"" MODELCHECK_NONFINITE_KEY "\":\"NaN\"}"},
	};
	size_t		i = 0;
	size_t		o = 0;
	int			in_string = 0;

	while (i < len)
	{
		int			matched = 0;

		if (in_string)
		{
			if (in[i] == '\\' && i + 1 < len)
			{
				if (out)
					memcpy(out + o, in + i, 2);
				o += 2;
				i += 2;
				continue;
			}
			if (in[i] == '"')
				in_string = 0;
		}
		else if (in[i] == '"')
			in_string = 1;
		else if (in[i] == 'N' || in[i] == 'I' || in[i] == '-')
		{
			for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++)
			{
				size_t		tl = strlen(map[k].token);

				if (len - i >= tl && memcmp(in + i, map[k].token, tl) == 0)
				{
					size_t		ml = strlen(map[k].marker);

					if (out)
						memcpy(out + o, map[k].marker, ml);
					o += ml;
					i += tl;
					matched = 1;
					break;
				}
			}
			if (matched)
				continue;
		}
		if (out)
			out[o] = (char) in[i];
		o++;
		i++;
	}
	if (out)
		out[o] = '\0';
	return o;
}

/*
 * NewObject returns a new empty jansson object.  It never calls
 * json_object() directly: inside the PostgreSQL server that name resolves
 * to PostgreSQL's own SQL function json_object (the executable's symbols
 * come first), and calling it crashes the backend.  json_pack is resolved
 * in libjansson and builds the object with jansson's own json_object.
 */
static json_t *
NewObject(void)
{
	return json_pack("{}");
}

/*
 * MakeNonFinite builds the marker object standing for a NaN or infinity.
 */
static json_t *
MakeNonFinite(double value)
{
	json_t	   *obj = NewObject();
	const char *token = isnan(value) ? "NaN" : (value > 0 ? "Infinity" : "-Infinity");

	if (obj == NULL || json_object_set_new(obj, MODELCHECK_NONFINITE_KEY, json_string(token)) != 0)
	{
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/*
 * IsNonFiniteMarker tells whether value is a well-formed non-finite marker
 * and, if so, sets *token to the bare token it stands for.
 */
static int
IsNonFiniteMarker(json_t *value, const char **token)
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
 * UBJSON
 * ------------------------------------------------------------------------ */

/*
 * ModelCheckParseUbjson decodes UBJSON as XGBoost 1.7 writes it (objects,
 * arrays with optional $type/#count headers, integer, float, string, bool
 * and null values) into a jansson tree.  Every count and length is checked
 * against the bytes that remain before anything is read or allocated;
 * nesting is capped; trailing bytes, duplicate keys, NUL bytes in strings
 * and invalid UTF-8 are errors.
 */
ModelCheckStatus
ModelCheckParseUbjson(const unsigned char *buf, size_t len, const ModelCheckLimits *limits,
					  json_t **out, char *err, size_t errlen)
{
	UbjReader	r;
	int			marker;
	json_t	   *root;

	*out = NULL;
	if (len > limits->max_bytes)
		return SetError(err, errlen, MODELCHECK_TOO_LARGE,
						"model is %zu bytes, more than the limit of %zu bytes",
						len, limits->max_bytes);
	r.buf = buf;
	r.len = len;
	r.pos = 0;
	r.limits = limits;
	r.status = MODELCHECK_OK;
	r.err = err;
	r.errlen = errlen;

	if (!UbjReadByte(&r, &marker))
		return r.status;
	if (marker != '{')
		return SetError(err, errlen, MODELCHECK_BAD_FORMAT,
						"ubjson model does not start with an object");
	BeginBudget(DecodeBudget(limits, len));
	root = UbjReadValue(&r, marker, 0);
	if (EndBudget())
	{
		json_decref(root);
		return SetError(err, errlen, MODELCHECK_TOO_LARGE,
						"decoding the model would take more than %zu bytes of memory",
						DecodeBudget(limits, len));
	}
	if (root == NULL)
		return r.status;
	if (r.pos != r.len)
	{
		json_decref(root);
		return SetError(err, errlen, MODELCHECK_BAD_FORMAT,
						"ubjson model has %zu trailing bytes", r.len - r.pos);
	}
	*out = root;
	return MODELCHECK_OK;
}

/*
 * UbjFail records an error in the reader and returns NULL.  The first error
 * wins: a failure deep inside is what the message describes.
 */
static json_t *
UbjFail(UbjReader *r, ModelCheckStatus status, const char *fmt,...)
{
	va_list		ap;

	if (r->status == MODELCHECK_OK)
	{
		r->status = status;
		if (r->err != NULL && r->errlen > 0)
		{
			va_start(ap, fmt);
			vsnprintf(r->err, r->errlen, fmt, ap);
			va_end(ap);
		}
	}
	return NULL;
}

/*
 * UbjReadByte reads one byte, failing at the end of the buffer.
 */
static int
UbjReadByte(UbjReader *r, int *out)
{
	if (r->pos >= r->len)
	{
		UbjFail(r, MODELCHECK_BAD_FORMAT, "ubjson model is truncated at byte %zu", r->pos);
		return 0;
	}
	*out = r->buf[r->pos++];
	return 1;
}

/*
 * UbjScalarSize returns the payload size of a fixed-size scalar marker, or
 * 0 for markers that are not fixed-size numbers.
 */
static size_t
UbjScalarSize(int marker)
{
	switch (marker)
	{
		case 'i':
		case 'U':
			return 1;
		case 'I':
			return 2;
		case 'l':
		case 'd':
			return 4;
		case 'L':
		case 'D':
			return 8;
		default:
			return 0;
	}
}

/*
 * UbjReadBigEndian reads n (<= 8) bytes as a big-endian unsigned number;
 * the caller has checked that they are there.
 */
static uint64_t
UbjReadBigEndian(UbjReader *r, size_t n)
{
	uint64_t	v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | r->buf[r->pos + i];
	r->pos += n;
	return v;
}

/*
 * UbjReadInt reads the payload of integer marker into *out.
 */
static int
UbjReadInt(UbjReader *r, int marker, int64_t *out)
{
	size_t		n = UbjScalarSize(marker);
	uint64_t	u;

	if (n == 0 || marker == 'd' || marker == 'D')
	{
		UbjFail(r, MODELCHECK_BAD_FORMAT,
				"expected an integer type marker at byte %zu", r->pos);
		return 0;
	}
	if (r->len - r->pos < n)
	{
		UbjFail(r, MODELCHECK_BAD_FORMAT, "ubjson model is truncated at byte %zu", r->pos);
		return 0;
	}
	u = UbjReadBigEndian(r, n);
	switch (marker)
	{
		case 'i':
			*out = (int8_t) u;
			break;
		case 'U':
			*out = (uint8_t) u;
			break;
		case 'I':
			*out = (int16_t) u;
			break;
		case 'l':
			*out = (int32_t) u;
			break;
		default:
			*out = (int64_t) u;
			break;
	}
	return 1;
}

/*
 * UbjReadLength reads a marker and a non-negative integer after it: the
 * form of string lengths, object keys and container counts.
 */
static int
UbjReadLength(UbjReader *r, int64_t *out)
{
	int			marker;

	if (!UbjReadByte(r, &marker) || !UbjReadInt(r, marker, out))
		return 0;
	if (*out < 0)
	{
		UbjFail(r, MODELCHECK_BAD_FORMAT, "negative length %lld at byte %zu",
				(long long) *out, r->pos);
		return 0;
	}
	return 1;
}

/*
 * UbjReadString reads a length and that many bytes as a UTF-8 string.
 */
static json_t *
UbjReadString(UbjReader *r)
{
	int64_t		n;
	json_t	   *s;

	if (!UbjReadLength(r, &n))
		return NULL;
	if ((uint64_t) n > r->len - r->pos)
		return UbjFail(r, MODELCHECK_BAD_FORMAT,
					   "string of %lld bytes at byte %zu runs past the end of the model",
					   (long long) n, r->pos);
	if (memchr(r->buf + r->pos, '\0', (size_t) n) != NULL)
		return UbjFail(r, MODELCHECK_BAD_FORMAT, "string at byte %zu contains a NUL byte", r->pos);
	s = json_stringn((const char *) r->buf + r->pos, (size_t) n);
	if (s == NULL)
		return UbjFail(r, MODELCHECK_BAD_FORMAT, "string at byte %zu is not valid UTF-8", r->pos);
	r->pos += (size_t) n;
	return s;
}

/*
 * UbjReadValue reads the value introduced by marker (already consumed).
 */
static json_t *
UbjReadValue(UbjReader *r, int marker, int depth)
{
	int64_t		i;
	uint64_t	u;
	json_t	   *v;

	switch (marker)
	{
		case '{':
		case '[':
			if (depth >= r->limits->max_depth)
				return UbjFail(r, MODELCHECK_TOO_LARGE,
							   "ubjson model nests deeper than %d levels", r->limits->max_depth);
			return marker == '{' ? UbjReadObject(r, depth + 1) : UbjReadArray(r, depth + 1);
		case 'Z':
			return json_null();
		case 'T':
			return json_true();
		case 'F':
			return json_false();
		case 'i':
		case 'U':
		case 'I':
		case 'l':
		case 'L':
			if (!UbjReadInt(r, marker, &i))
				return NULL;
			v = json_integer(i);
			break;
		case 'd':
		case 'D':
			{
				double		d;

				if (r->len - r->pos < UbjScalarSize(marker))
					return UbjFail(r, MODELCHECK_BAD_FORMAT,
								   "ubjson model is truncated at byte %zu", r->pos);
				u = UbjReadBigEndian(r, UbjScalarSize(marker));
				if (marker == 'd')
				{
					uint32_t	u32 = (uint32_t) u;
					float		f;

					memcpy(&f, &u32, sizeof(f));
					d = f;
				}
				else
					memcpy(&d, &u, sizeof(d));
				v = isfinite(d) ? json_real(d) : MakeNonFinite(d);
				break;
			}
		case 'S':
			return UbjReadString(r);
		case 'N':
			return UbjFail(r, MODELCHECK_BAD_FORMAT,
						   "no-op marker at byte %zu is not used by xgboost", r->pos - 1);
		case 'H':
			return UbjFail(r, MODELCHECK_BAD_FORMAT,
						   "high-precision number at byte %zu is not supported", r->pos - 1);
		default:
			return UbjFail(r, MODELCHECK_BAD_FORMAT,
						   "unknown type marker 0x%02x at byte %zu", marker, r->pos - 1);
	}
	if (v == NULL)
		return UbjFail(r, MODELCHECK_NO_MEMORY, "out of memory");
	return v;
}

/*
 * UbjReadContainerHeader reads the optional "$type" and "#count" parts
 * after '[' or '{'.  *type is 0 and *count -1 when absent.  A count is
 * checked against the bytes remaining, assuming the smallest encoding of
 * each element (min_size bytes), so that a forged count can never drive an
 * allocation or a loop past the end of the input.
 */
static int
UbjReadContainerHeader(UbjReader *r, int *type, int64_t *count)
{
	*type = 0;
	*count = -1;
	if (r->pos < r->len && r->buf[r->pos] == '$')
	{
		r->pos++;
		if (!UbjReadByte(r, type))
			return 0;
		if (UbjScalarSize(*type) == 0 && *type != 'S')
		{
			UbjFail(r, MODELCHECK_BAD_FORMAT,
					"unsupported element type 0x%02x of a typed container at byte %zu",
					*type, r->pos - 1);
			return 0;
		}
		if (r->pos >= r->len || r->buf[r->pos] != '#')
		{
			UbjFail(r, MODELCHECK_BAD_FORMAT,
					"typed container without a count at byte %zu", r->pos);
			return 0;
		}
	}
	if (r->pos < r->len && r->buf[r->pos] == '#')
	{
		r->pos++;
		if (!UbjReadLength(r, count))
			return 0;
	}
	return 1;
}

/*
 * UbjReadArray reads the elements of an array whose '[' was consumed.
 */
static json_t *
UbjReadArray(UbjReader *r, int depth)
{
	int			type;
	int64_t		count;
	size_t		min_size;
	json_t	   *arr;

	if (!UbjReadContainerHeader(r, &type, &count))
		return NULL;
	min_size = type == 0 ? 1 : (type == 'S' ? 2 : UbjScalarSize(type));
	if (count >= 0 && (uint64_t) count > (r->len - r->pos) / min_size)
		return UbjFail(r, MODELCHECK_BAD_FORMAT,
					   "array of %lld elements at byte %zu runs past the end of the model",
					   (long long) count, r->pos);
	arr = json_array();
	if (arr == NULL)
		return UbjFail(r, MODELCHECK_NO_MEMORY, "out of memory");
	for (int64_t i = 0; count < 0 || i < count; i++)
	{
		int			marker = type;
		json_t	   *v;

		if (marker == 0)
		{
			if (!UbjReadByte(r, &marker))
				goto fail;
			if (count < 0 && marker == ']')
				return arr;
		}
		v = UbjReadValue(r, marker, depth);
		if (v == NULL || json_array_append_new(arr, v) != 0)
		{
			if (v != NULL)
				UbjFail(r, MODELCHECK_NO_MEMORY, "out of memory");
			goto fail;
		}
	}
	return arr;

fail:
	json_decref(arr);
	return NULL;
}

/*
 * UbjReadObject reads the members of an object whose '{' was consumed.
 * Keys are written as a length without the 'S' marker.
 */
static json_t *
UbjReadObject(UbjReader *r, int depth)
{
	int			type;
	int64_t		count;
	json_t	   *obj;

	if (!UbjReadContainerHeader(r, &type, &count))
		return NULL;
	/* a member is at least a key length (2 bytes) and a value (1 byte) */
	if (count >= 0 && (uint64_t) count > (r->len - r->pos) / 3)
		return UbjFail(r, MODELCHECK_BAD_FORMAT,
					   "object of %lld members at byte %zu runs past the end of the model",
					   (long long) count, r->pos);
	obj = NewObject();
	if (obj == NULL)
		return UbjFail(r, MODELCHECK_NO_MEMORY, "out of memory");
	for (int64_t i = 0; count < 0 || i < count; i++)
	{
		int			marker = type;
		json_t	   *key;
		json_t	   *v;
		const char *k;

		if (count < 0 && r->pos < r->len && r->buf[r->pos] == '}')
		{
			r->pos++;
			return obj;
		}
		key = UbjReadString(r);
		if (key == NULL)
			goto fail;
		k = json_string_value(key);
		if (json_object_get(obj, k) != NULL)
		{
			UbjFail(r, MODELCHECK_BAD_FORMAT, "duplicate object key \"%.64s\" at byte %zu",
					k, r->pos);
			json_decref(key);
			goto fail;
		}
		if (marker == 0 && !UbjReadByte(r, &marker))
		{
			json_decref(key);
			goto fail;
		}
		v = UbjReadValue(r, marker, depth);
		if (v == NULL || json_object_set_new(obj, k, v) != 0)
		{
			if (v != NULL)
				UbjFail(r, MODELCHECK_NO_MEMORY, "out of memory");
			json_decref(key);
			goto fail;
		}
		json_decref(key);
	}
	return obj;

fail:
	json_decref(obj);
	return NULL;
}

/* ------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------ */

/*
 * ModelCheckValidate checks that model is an XGBoost 1.7 model whose
 * structure is safe to load and predict with (see the invariants in the
 * file header) and fills info.  On failure info holds nothing to free.
 */
ModelCheckStatus
ModelCheckValidate(json_t *model, const ModelCheckLimits *limits, ModelCheckInfo *info,
				   char *err, size_t errlen)
{
	static const char *const top_keys[] = {"learner", "version", NULL};
	static const char *const learner_keys[] = {"attributes", "feature_names", "feature_types",
	"gradient_booster", "learner_model_param", "objective", NULL};
	static const char *const lmp_keys[] = {"base_score", "boost_from_average", "num_class",
	"num_feature", "num_target", NULL};
	json_t	   *learner;
	json_t	   *lmp;
	json_t	   *version;
	json_t	   *attributes;
	json_t	   *base_score;
	char	   *end;
	ModelCheckStatus st;

	memset(info, 0, sizeof(*info));
	if (!json_is_object(model))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL, "model is not a json object");
	if ((st = CheckKeys(model, "model", top_keys, err, errlen)) != MODELCHECK_OK)
		return st;
	version = json_object_get(model, "version");
	if (!json_is_array(version) || json_array_size(version) != 3 ||
		!json_is_integer(json_array_get(version, 0)) ||
		!json_is_integer(json_array_get(version, 1)) ||
		!json_is_integer(json_array_get(version, 2)))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"version must be an array of three integers");

	if ((st = GetObject(model, "learner", "model", 1, &learner, err, errlen)) != MODELCHECK_OK ||
		(st = CheckKeys(learner, "learner", learner_keys, err, errlen)) != MODELCHECK_OK ||
		(st = GetObject(learner, "attributes", "learner", 0, &attributes, err, errlen)) != MODELCHECK_OK ||
		(attributes && (st = CheckStringMap(attributes, "learner.attributes", err, errlen)) != MODELCHECK_OK) ||
		(st = GetObject(learner, "learner_model_param", "learner", 1, &lmp, err, errlen)) != MODELCHECK_OK ||
		(st = CheckKeys(lmp, "learner.learner_model_param", lmp_keys, err, errlen)) != MODELCHECK_OK ||
		(st = CheckStringMap(lmp, "learner.learner_model_param", err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(lmp, "num_feature", "learner.learner_model_param", 1, 0, 1,
						  MODELCHECK_MAX_FEATURES, &info->num_feature, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(lmp, "num_class", "learner.learner_model_param", 1, 0, 0,
						  MODELCHECK_MAX_OUTPUTS, &info->num_class, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(lmp, "num_target", "learner.learner_model_param", 0, 1, 1,
						  MODELCHECK_MAX_OUTPUTS, &info->num_target, err, errlen)) != MODELCHECK_OK)
		return st;
	if (json_object_get(lmp, "boost_from_average") != NULL)
	{
		int64_t		bfa;

		if ((st = GetParamInt(lmp, "boost_from_average", "learner.learner_model_param", 1, 0, 0, 1,
							  &bfa, err, errlen)) != MODELCHECK_OK)
			return st;
	}
	base_score = json_object_get(lmp, "base_score");
	if (base_score == NULL)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"learner.learner_model_param lacks \"base_score\"");
	info->base_score = strtod(json_string_value(base_score), &end);
	if (end == json_string_value(base_score) || *end != '\0' || !isfinite(info->base_score) ||
		fabs(info->base_score) > FLT_MAX)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"learner.learner_model_param.base_score \"%.32s\" is not a finite number",
						json_string_value(base_score));
	if (info->num_class > 1 && info->num_target > 1)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"num_class and num_target cannot both exceed 1");
	info->num_output_group = info->num_class > info->num_target ? info->num_class : info->num_target;
	if (info->num_output_group < 1)
		info->num_output_group = 1;

	if ((st = ValidateObjective(learner, info, err, errlen)) != MODELCHECK_OK)
		return st;
	if ((st = CheckStringArray(learner, "feature_names", "learner", info->num_feature, NULL,
							   &info->feature_names, &info->num_feature_names,
							   err, errlen)) != MODELCHECK_OK ||
		(st = CheckStringArray(learner, "feature_types", "learner", info->num_feature,
							   KnownFeatureTypes, &info->feature_types,
							   &info->num_feature_types, err, errlen)) != MODELCHECK_OK ||
		(st = ValidateBooster(learner, limits, info, err, errlen)) != MODELCHECK_OK)
	{
		ModelCheckInfoFree(info);
		return st;
	}
	return MODELCHECK_OK;
}

/*
 * ValidateObjective checks learner.objective (a known name plus parameter
 * objects of strings) and derives the task from the name.
 */
static ModelCheckStatus
ValidateObjective(json_t *learner, ModelCheckInfo *info, char *err, size_t errlen)
{
	json_t	   *objective;
	json_t	   *name;
	const char *key;
	json_t	   *value;
	const char *objname;
	int			known = 0;
	ModelCheckStatus st;

	if ((st = GetObject(learner, "objective", "learner", 1, &objective, err, errlen)) != MODELCHECK_OK)
		return st;
	name = json_object_get(objective, "name");
	if (!json_is_string(name))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"learner.objective.name must be a string");
	objname = json_string_value(name);
	for (int i = 0; KnownObjectives[i] != NULL; i++)
		if (strcmp(KnownObjectives[i], objname) == 0)
			known = 1;
	if (!known)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"unknown objective \"%.64s\"", objname);
	json_object_foreach(objective, key, value)
	{
		size_t		kl = strlen(key);
		char		path[128];

		if (strcmp(key, "name") == 0)
			continue;
		if (kl < 6 || strcmp(key + kl - 6, "_param") != 0 || !json_is_object(value))
			return SetError(err, errlen, MODELCHECK_BAD_MODEL,
							"unexpected key \"%.64s\" in learner.objective", key);
		snprintf(path, sizeof(path), "learner.objective.%.64s", key);
		if ((st = CheckStringMap(value, path, err, errlen)) != MODELCHECK_OK)
			return st;
	}
	if (strncmp(objname, "multi:", 6) == 0 && info->num_class < 2)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"objective %s needs num_class of at least 2, not %lld",
						objname, (long long) info->num_class);
	if (strncmp(objname, "multi:", 6) != 0 && info->num_class > 1)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"objective %s cannot have num_class %lld",
						objname, (long long) info->num_class);
	snprintf(info->objective, sizeof(info->objective), "%s", objname);
	snprintf(info->task, sizeof(info->task), "%s", ModelCheckTaskForObjective(objname));
	return MODELCHECK_OK;
}

/*
 * ModelCheckTaskForObjective maps an XGBoost objective to the registry's
 * task vocabulary: binary:* and multi:* are classification; reg:* and
 * count:* (Poisson regression) are regression; rank:* is ranking;
 * survival:* is survival; anything else is other.
 */
const char *
ModelCheckTaskForObjective(const char *objective)
{
	if (strncmp(objective, "binary:", 7) == 0 || strncmp(objective, "multi:", 6) == 0)
		return "classification";
	if (strncmp(objective, "reg:", 4) == 0 || strncmp(objective, "count:", 6) == 0)
		return "regression";
	if (strncmp(objective, "rank:", 5) == 0)
		return "ranking";
	if (strncmp(objective, "survival:", 9) == 0)
		return "survival";
	return "other";
}

/*
 * ValidateBooster checks learner.gradient_booster for the three boosters.
 */
static ModelCheckStatus
ValidateBooster(json_t *learner, const ModelCheckLimits *limits, ModelCheckInfo *info,
				char *err, size_t errlen)
{
	static const char *const dart_keys[] = {"gbtree", "name", "weight_drop", NULL};
	static const char *const linear_keys[] = {"model", "name", NULL};
	static const char *const linear_model_keys[] = {"boosted_rounds", "weights", NULL};
	json_t	   *booster;
	json_t	   *name;
	json_t	   *inner;
	ModelCheckStatus st;

	if ((st = GetObject(learner, "gradient_booster", "learner", 1, &booster, err, errlen)) != MODELCHECK_OK)
		return st;
	name = json_object_get(booster, "name");
	if (!json_is_string(name))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"learner.gradient_booster.name must be a string");
	snprintf(info->booster, sizeof(info->booster), "%.15s", json_string_value(name));

	if (strcmp(info->booster, "gbtree") == 0)
		return ValidateGbtree(booster, "learner.gradient_booster", limits, info, err, errlen);

	if (strcmp(info->booster, "dart") == 0)
	{
		if ((st = CheckKeys(booster, "learner.gradient_booster", dart_keys, err, errlen)) != MODELCHECK_OK ||
			(st = GetObject(booster, "gbtree", "learner.gradient_booster", 1, &inner, err, errlen)) != MODELCHECK_OK)
			return st;
		name = json_object_get(inner, "name");
		if (!json_is_string(name) || strcmp(json_string_value(name), "gbtree") != 0)
			return SetError(err, errlen, MODELCHECK_BAD_MODEL,
							"learner.gradient_booster.gbtree.name must be \"gbtree\"");
		if ((st = ValidateGbtree(inner, "learner.gradient_booster.gbtree", limits, info,
								 err, errlen)) != MODELCHECK_OK)
			return st;
		return CheckFloatArray(booster, "weight_drop", "learner.gradient_booster",
							   info->num_trees, err, errlen);
	}

	if (strcmp(info->booster, "gblinear") == 0)
	{
		json_t	   *rounds;

		if ((st = CheckKeys(booster, "learner.gradient_booster", linear_keys, err, errlen)) != MODELCHECK_OK ||
			(st = GetObject(booster, "model", "learner.gradient_booster", 1, &inner, err, errlen)) != MODELCHECK_OK ||
			(st = CheckKeys(inner, "learner.gradient_booster.model", linear_model_keys, err, errlen)) != MODELCHECK_OK)
			return st;
		rounds = json_object_get(inner, "boosted_rounds");
		if (rounds != NULL && (!json_is_integer(rounds) || json_integer_value(rounds) < 0))
			return SetError(err, errlen, MODELCHECK_BAD_MODEL,
							"learner.gradient_booster.model.boosted_rounds must be a non-negative integer");
		info->num_trees = 0;
		return CheckFloatArray(inner, "weights", "learner.gradient_booster.model",
							   (info->num_feature + 1) * info->num_output_group, err, errlen);
	}

	return SetError(err, errlen, MODELCHECK_BAD_MODEL,
					"unknown booster \"%.32s\"", json_string_value(name));
}

/*
 * ValidateGbtree checks a gbtree booster object (name, model with
 * gbtree_model_param, tree_info and trees) found at path.
 */
static ModelCheckStatus
ValidateGbtree(json_t *gbtree, const char *path, const ModelCheckLimits *limits,
			   ModelCheckInfo *info, char *err, size_t errlen)
{
	static const char *const gbtree_keys[] = {"model", "name", NULL};
	static const char *const model_keys[] = {"gbtree_model_param", "tree_info", "trees", NULL};
	static const char *const param_keys[] = {"num_parallel_tree", "num_trees", "size_leaf_vector", NULL};
	char		mpath[160];
	char		ppath[200];
	json_t	   *model;
	json_t	   *param;
	json_t	   *trees;
	int64_t    *tree_info = NULL;
	size_t		n_info;
	int64_t		num_trees;
	int64_t		num_parallel;
	int64_t		leaf_vector;
	ModelCheckStatus st;

	snprintf(mpath, sizeof(mpath), "%s.model", path);
	snprintf(ppath, sizeof(ppath), "%s.gbtree_model_param", mpath);
	if ((st = CheckKeys(gbtree, path, gbtree_keys, err, errlen)) != MODELCHECK_OK ||
		(st = GetObject(gbtree, "model", path, 1, &model, err, errlen)) != MODELCHECK_OK ||
		(st = CheckKeys(model, mpath, model_keys, err, errlen)) != MODELCHECK_OK ||
		(st = GetObject(model, "gbtree_model_param", mpath, 1, &param, err, errlen)) != MODELCHECK_OK ||
		(st = CheckKeys(param, ppath, param_keys, err, errlen)) != MODELCHECK_OK ||
		(st = CheckStringMap(param, ppath, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "num_trees", ppath, 1, 0, 0, INT32_MAX, &num_trees,
						  err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "num_parallel_tree", ppath, 0, 1, 1, MODELCHECK_MAX_OUTPUTS,
						  &num_parallel, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "size_leaf_vector", ppath, 0, 0, 0, 0, &leaf_vector,
						  err, errlen)) != MODELCHECK_OK)
		return st;

	/* XGBoost multiplies the two into an int: keep the product in range */
	if (num_parallel * info->num_output_group > INT32_MAX)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s.num_parallel_tree %lld times %lld output groups is too large",
						ppath, (long long) num_parallel, (long long) info->num_output_group);

	trees = json_object_get(model, "trees");
	if (!json_is_array(trees))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL, "%s.trees must be an array", mpath);
	if ((int64_t) json_array_size(trees) != num_trees)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s has %zu trees but num_trees is %lld",
						mpath, json_array_size(trees), (long long) num_trees);
	if ((st = GetIntArray(model, "tree_info", mpath, num_trees, &tree_info, &n_info,
						  err, errlen)) != MODELCHECK_OK)
		return st;
	for (size_t i = 0; i < n_info; i++)
	{
		if (tree_info[i] < 0 || tree_info[i] >= info->num_output_group)
		{
			st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.tree_info[%zu] is %lld, outside the %lld output groups",
						  mpath, i, (long long) tree_info[i], (long long) info->num_output_group);
			free(tree_info);
			return st;
		}
	}
	free(tree_info);
	info->num_trees = num_trees;

	for (int64_t i = 0; i < num_trees; i++)
		if ((st = ValidateTree(json_array_get(trees, (size_t) i), i, limits, info,
							   err, errlen)) != MODELCHECK_OK)
			return st;
	return MODELCHECK_OK;
}

/*
 * ValidateTree checks tree number index: its keys and parameters, that all
 * node arrays have num_nodes elements, and (via CheckTreeShape and
 * CheckCategories) that its nodes form a tree XGBoost can walk safely.
 */
static ModelCheckStatus
ValidateTree(json_t *tree, int64_t index, const ModelCheckLimits *limits,
			 const ModelCheckInfo *info, char *err, size_t errlen)
{
	static const char *const tree_keys[] = {"base_weights", "categories", "categories_nodes",
		"categories_segments", "categories_sizes", "default_left", "id", "left_children",
		"loss_changes", "parents", "right_children", "split_conditions", "split_indices",
	"split_type", "sum_hessian", "tree_param", NULL};
	static const char *const param_keys[] = {"num_deleted", "num_feature", "num_nodes",
	"size_leaf_vector", NULL};
	static const char *const float_arrays[] = {"base_weights", "loss_changes",
	"split_conditions", "sum_hessian", NULL};
	static const char *const cat_arrays[] = {"categories", "categories_nodes",
	"categories_segments", "categories_sizes", NULL};
	char		path[64];
	char		ppath[96];
	json_t	   *param;
	json_t	   *id;
	int64_t		num_nodes;
	int64_t		num_deleted;
	int64_t		tree_features;
	int64_t		leaf_vector;
	int64_t    *default_left = NULL;
	size_t		n;
	int			has_split_type;
	int			n_cat_arrays = 0;
	TreeArrays	t;
	ModelCheckStatus st;

	memset(&t, 0, sizeof(t));
	snprintf(path, sizeof(path), "trees[%lld]", (long long) index);
	snprintf(ppath, sizeof(ppath), "%s.tree_param", path);
	if (!json_is_object(tree))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL, "%s is not an object", path);
	if ((st = CheckKeys(tree, path, tree_keys, err, errlen)) != MODELCHECK_OK ||
		(st = GetObject(tree, "tree_param", path, 1, &param, err, errlen)) != MODELCHECK_OK ||
		(st = CheckKeys(param, ppath, param_keys, err, errlen)) != MODELCHECK_OK ||
		(st = CheckStringMap(param, ppath, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "num_nodes", ppath, 1, 0, 1, MODELCHECK_MAX_NODES,
						  &num_nodes, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "num_deleted", ppath, 0, 0, 0, num_nodes - 1,
						  &num_deleted, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "num_feature", ppath, 1, 0, 1, MODELCHECK_MAX_FEATURES,
						  &tree_features, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "size_leaf_vector", ppath, 0, 0, 0, 0,
						  &leaf_vector, err, errlen)) != MODELCHECK_OK)
		return st;
	if (tree_features != info->num_feature)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s has num_feature %lld but the learner has %lld",
						ppath, (long long) tree_features, (long long) info->num_feature);
	id = json_object_get(tree, "id");
	if (!json_is_integer(id) || json_integer_value(id) != index)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL, "%s.id must be %lld",
						path, (long long) index);

	for (int i = 0; float_arrays[i] != NULL; i++)
		if ((st = CheckFloatArray(tree, float_arrays[i], path, num_nodes, err, errlen)) != MODELCHECK_OK)
			return st;

	t.n = num_nodes;
	has_split_type = json_object_get(tree, "split_type") != NULL;
	for (int i = 0; cat_arrays[i] != NULL; i++)
		n_cat_arrays += json_object_get(tree, cat_arrays[i]) != NULL;
	if (n_cat_arrays != (has_split_type ? 4 : 0))
	{
		st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
					  "%s must have split_type, categories, categories_nodes, categories_segments "
					  "and categories_sizes together or none of them", path);
		goto done;
	}
	if ((st = GetIntArray(tree, "left_children", path, num_nodes, &t.left, &n, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "right_children", path, num_nodes, &t.right, &n, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "parents", path, num_nodes, &t.parents, &n, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "split_indices", path, num_nodes, &t.split_indices, &n, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "default_left", path, num_nodes, &default_left, &n, err, errlen)) != MODELCHECK_OK ||
		(has_split_type &&
		 (st = GetIntArray(tree, "split_type", path, num_nodes, &t.split_type, &n, err, errlen)) != MODELCHECK_OK))
		goto done;
	for (int64_t i = 0; i < num_nodes; i++)
	{
		if (default_left[i] != 0 && default_left[i] != 1)
		{
			st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.default_left[%lld] must be 0 or 1", path, (long long) i);
			goto done;
		}
		if (t.split_type && t.split_type[i] != 0 && t.split_type[i] != 1)
		{
			st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.split_type[%lld] must be 0 or 1", path, (long long) i);
			goto done;
		}
	}
	if ((st = CheckTreeShape(&t, num_deleted, info, path, err, errlen)) != MODELCHECK_OK)
		goto done;
	if (has_split_type)
		st = CheckCategories(tree, &t, path, limits, err, errlen);

done:
	free(t.left);
	free(t.right);
	free(t.parents);
	free(t.split_indices);
	free(t.split_type);
	free(default_left);
	return st;
}

/*
 * CheckTreeShape walks the tree from the root and proves that the reachable
 * nodes form a tree (every child in range and reached exactly once, parents
 * pointing back, two children or none, internal splits on features below
 * num_feature) and that the unreachable nodes are exactly the num_deleted
 * nodes XGBoost marks deleted.
 */
static ModelCheckStatus
CheckTreeShape(const TreeArrays *t, int64_t num_deleted, const ModelCheckInfo *info,
			   const char *path, char *err, size_t errlen)
{
	int64_t    *stack = malloc(sizeof(int64_t) * (size_t) t->n);
	unsigned char *seen = calloc((size_t) t->n, 1);
	int64_t		top = 0;
	int64_t		deleted = 0;
	ModelCheckStatus st = MODELCHECK_OK;

	if (stack == NULL || seen == NULL)
	{
		st = SetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
		goto done;
	}
	if (t->parents[0] != ROOT_PARENT_MARKER && t->parents[0] != -1)
	{
		st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
					  "%s: the root node has parent %lld", path, (long long) t->parents[0]);
		goto done;
	}
	seen[0] = 1;
	stack[top++] = 0;
	while (top > 0)
	{
		int64_t		u = stack[--top];
		int64_t		kids[2] = {t->left[u], t->right[u]};

		if (kids[0] == -1 && kids[1] == -1)
		{
			if (t->split_indices[u] < 0 || t->split_indices[u] == DELETED_NODE_MARKER)
			{
				st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "%s: leaf %lld has split index %lld", path, (long long) u,
							  (long long) t->split_indices[u]);
				goto done;
			}
			if (t->split_type && t->split_type[u] != 0)
			{
				st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "%s: leaf %lld has a categorical split type", path, (long long) u);
				goto done;
			}
			continue;
		}
		if (t->split_indices[u] < 0 || t->split_indices[u] >= info->num_feature)
		{
			st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s: node %lld splits on feature %lld but the model has %lld features",
						  path, (long long) u, (long long) t->split_indices[u],
						  (long long) info->num_feature);
			goto done;
		}
		for (int k = 0; k < 2; k++)
		{
			int64_t		c = kids[k];

			if (c < 1 || c >= t->n)
			{
				st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "%s: node %lld has child %lld outside 1..%lld", path,
							  (long long) u, (long long) c, (long long) (t->n - 1));
				goto done;
			}
			if (seen[c])
			{
				st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "%s: node %lld is reached twice (a cycle or a shared child)",
							  path, (long long) c);
				goto done;
			}
			if (t->parents[c] != u)
			{
				st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "%s: node %lld has parent %lld but is a child of node %lld",
							  path, (long long) c, (long long) t->parents[c], (long long) u);
				goto done;
			}
			seen[c] = 1;
			stack[top++] = c;
		}
	}
	for (int64_t i = 0; i < t->n; i++)
	{
		if (seen[i])
			continue;
		if (t->split_indices[i] != DELETED_NODE_MARKER || t->left[i] != -1 || t->right[i] != -1 ||
			((t->parents[i] < 0 || t->parents[i] >= t->n) && t->parents[i] != ROOT_PARENT_MARKER) ||
			(t->split_type && t->split_type[i] != 0))
		{
			st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s: node %lld is unreachable from the root but not a deleted leaf",
						  path, (long long) i);
			goto done;
		}
		deleted++;
	}
	if (deleted != num_deleted)
		st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
					  "%s has %lld deleted nodes but num_deleted is %lld",
					  path, (long long) deleted, (long long) num_deleted);

done:
	free(stack);
	free(seen);
	return st;
}

/*
 * CheckCategories checks the categorical splits of a tree: categories_nodes
 * lists, in increasing order, exactly the nodes whose split_type is 1; each
 * has a non-empty segment [categories_segments[i], +categories_sizes[i])
 * inside categories; every category code lies in 0..max_category.
 */
static ModelCheckStatus
CheckCategories(json_t *tree, const TreeArrays *t, const char *path,
				const ModelCheckLimits *limits, char *err, size_t errlen)
{
	int64_t    *cats = NULL;
	int64_t    *nodes = NULL;
	int64_t    *segments = NULL;
	int64_t    *sizes = NULL;
	size_t		n_cats;
	size_t		n_nodes;
	size_t		n;
	size_t		next = 0;
	ModelCheckStatus st;

	if ((st = GetIntArray(tree, "categories", path, -1, &cats, &n_cats, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "categories_nodes", path, -1, &nodes, &n_nodes, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "categories_segments", path, (int64_t) n_nodes, &segments, &n,
						  err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "categories_sizes", path, (int64_t) n_nodes, &sizes, &n,
						  err, errlen)) != MODELCHECK_OK)
		goto done;
	for (size_t i = 0; i < n_cats; i++)
	{
		if (cats[i] < 0 || cats[i] > limits->max_category)
		{
			st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.categories[%zu] is %lld, outside 0..%lld", path, i,
						  (long long) cats[i], (long long) limits->max_category);
			goto done;
		}
	}
	for (int64_t node = 0; node < t->n; node++)
	{
		int			listed = next < n_nodes && nodes[next] == node;

		if (listed != (t->split_type[node] == 1))
		{
			st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s: node %lld has split_type %lld but is %slisted in categories_nodes",
						  path, (long long) node, (long long) t->split_type[node],
						  listed ? "" : "not ");
			goto done;
		}
		if (!listed)
			continue;
		if (segments[next] < 0 || sizes[next] < 1 ||
			(uint64_t) segments[next] > n_cats || (uint64_t) sizes[next] > n_cats - (uint64_t) segments[next])
		{
			st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s: categorical node %lld has segment %lld+%lld outside the %zu categories",
						  path, (long long) node, (long long) segments[next],
						  (long long) sizes[next], n_cats);
			goto done;
		}
		next++;
	}
	if (next != n_nodes)
		st = SetError(err, errlen, MODELCHECK_BAD_MODEL,
					  "%s.categories_nodes is not an increasing list of tree nodes", path);

done:
	free(cats);
	free(nodes);
	free(segments);
	free(sizes);
	return st;
}

/*
 * CheckKeys fails when obj has a key that is not in the NULL-terminated
 * list allowed.
 */
static ModelCheckStatus
CheckKeys(json_t *obj, const char *path, const char *const *allowed, char *err, size_t errlen)
{
	const char *key;
	json_t	   *value;

	json_object_foreach(obj, key, value)
	{
		int			ok = 0;

		for (int i = 0; allowed[i] != NULL && !ok; i++)
			ok = strcmp(allowed[i], key) == 0;
		if (!ok)
			return SetError(err, errlen, MODELCHECK_BAD_MODEL,
							"unexpected key \"%.64s\" in %s", key, path);
	}
	return MODELCHECK_OK;
}

/*
 * GetObject fetches parent[key] into *out, failing when it is absent and
 * required or present and not an object (*out is NULL when absent).
 */
static ModelCheckStatus
GetObject(json_t *parent, const char *key, const char *path, int required, json_t **out,
		  char *err, size_t errlen)
{
	json_t	   *v = json_object_get(parent, key);

	*out = NULL;
	if (v == NULL)
		return required ? SetError(err, errlen, MODELCHECK_BAD_MODEL,
								   "%s lacks \"%s\"", path, key) : MODELCHECK_OK;
	if (!json_is_object(v) || IsNonFiniteMarker(v, NULL))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL, "%s.%s must be an object", path, key);
	*out = v;
	return MODELCHECK_OK;
}

/*
 * CheckStringMap fails unless every value of obj is a string.
 */
static ModelCheckStatus
CheckStringMap(json_t *obj, const char *path, char *err, size_t errlen)
{
	const char *key;
	json_t	   *value;

	json_object_foreach(obj, key, value)
	{
		if (!json_is_string(value))
			return SetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s.%.64s must be a string", path, key);
	}
	return MODELCHECK_OK;
}

/*
 * ParseInt64 parses a whole string as a decimal integer.
 */
static int
ParseInt64(const char *s, int64_t *out)
{
	char	   *end;
	long long	v;

	/* digits with an optional minus: no white space, plus sign or base prefix */
	if (!(isdigit((unsigned char) s[0]) || (s[0] == '-' && isdigit((unsigned char) s[1]))))
		return 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v == LLONG_MAX || v == LLONG_MIN)
		return 0;
	*out = v;
	return 1;
}

/*
 * GetParamInt reads obj[key], a string holding a decimal integer in
 * min..max (XGBoost writes parameters as strings); when the key is absent
 * and not required, *out is dflt.
 */
static ModelCheckStatus
GetParamInt(json_t *obj, const char *key, const char *path, int required, int64_t dflt,
			int64_t min, int64_t max, int64_t *out, char *err, size_t errlen)
{
	json_t	   *v = json_object_get(obj, key);

	if (v == NULL)
	{
		if (required)
			return SetError(err, errlen, MODELCHECK_BAD_MODEL, "%s lacks \"%s\"", path, key);
		*out = dflt;
		return MODELCHECK_OK;
	}
	if (!json_is_string(v) || !ParseInt64(json_string_value(v), out))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s.%s must be a string holding an integer", path, key);
	if (*out < min || *out > max)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s.%s is %lld, outside %lld..%lld", path, key,
						(long long) *out, (long long) min, (long long) max);
	return MODELCHECK_OK;
}

/*
 * GetIntArray fetches obj[key], which must be an array of integers with
 * expect_len elements (any length when expect_len < 0), and returns its
 * values in a malloc'd array.
 */
static ModelCheckStatus
GetIntArray(json_t *obj, const char *key, const char *path, int64_t expect_len,
			int64_t **out, size_t *out_len, char *err, size_t errlen)
{
	json_t	   *arr = json_object_get(obj, key);
	size_t		n;

	*out = NULL;
	*out_len = 0;
	if (!json_is_array(arr))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s.%s must be an array of integers", path, key);
	n = json_array_size(arr);
	if (expect_len >= 0 && (int64_t) n != expect_len)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s.%s has %zu elements, expected %lld", path, key, n,
						(long long) expect_len);
	*out = malloc(sizeof(int64_t) * (n > 0 ? n : 1));
	if (*out == NULL)
		return SetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *v = json_array_get(arr, i);

		if (!json_is_integer(v))
		{
			free(*out);
			*out = NULL;
			return SetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s.%s[%zu] is not an integer", path, key, i);
		}
		(*out)[i] = json_integer_value(v);
	}
	*out_len = n;
	return MODELCHECK_OK;
}

/*
 * CheckFloatArray checks that obj[key] is an array of expect_len floats:
 * JSON reals within float range or non-finite markers (XGBoost refuses
 * integers where it expects floats).
 */
static ModelCheckStatus
CheckFloatArray(json_t *obj, const char *key, const char *path, int64_t expect_len,
				char *err, size_t errlen)
{
	json_t	   *arr = json_object_get(obj, key);
	size_t		n;

	if (!json_is_array(arr))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s.%s must be an array of numbers", path, key);
	n = json_array_size(arr);
	if ((int64_t) n != expect_len)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s.%s has %zu elements, expected %lld", path, key, n,
						(long long) expect_len);
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *v = json_array_get(arr, i);

		if (IsNonFiniteMarker(v, NULL))
			continue;
		if (!json_is_real(v) || fabs(json_real_value(v)) > FLT_MAX)
			return SetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s.%s[%zu] is not a floating-point number in float range",
							path, key, i);
	}
	return MODELCHECK_OK;
}

/*
 * CheckStringArray checks the optional obj[key]: an array of strings with
 * either no element or num_feature elements, each in allowed when allowed
 * is given; the strings are copied into a malloc'd array.
 */
static ModelCheckStatus
CheckStringArray(json_t *obj, const char *key, const char *path, int64_t num_feature,
				 const char *const *allowed, char ***out, int *out_n, char *err, size_t errlen)
{
	json_t	   *arr = json_object_get(obj, key);
	size_t		n;

	*out = NULL;
	*out_n = 0;
	if (arr == NULL)
		return MODELCHECK_OK;
	if (!json_is_array(arr))
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s.%s must be an array of strings", path, key);
	n = json_array_size(arr);
	if (n == 0)
		return MODELCHECK_OK;
	if ((int64_t) n != num_feature)
		return SetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s.%s has %zu elements but the model has %lld features",
						path, key, n, (long long) num_feature);
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *v = json_array_get(arr, i);
		int			ok = json_is_string(v);

		if (ok && allowed != NULL)
		{
			ok = 0;
			for (int k = 0; allowed[k] != NULL && !ok; k++)
				ok = strcmp(allowed[k], json_string_value(v)) == 0;
		}
		if (!ok)
			return SetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s.%s[%zu] is not %s", path, key, i,
							allowed ? "a known feature type" : "a string");
	}
	*out = calloc(n, sizeof(char *));
	if (*out == NULL)
		return SetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
	*out_n = (int) n;
	for (size_t i = 0; i < n; i++)
	{
		(*out)[i] = strdup(json_string_value(json_array_get(arr, i)));
		if ((*out)[i] == NULL)
			return SetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
	}
	return MODELCHECK_OK;
}

/*
 * ModelCheckInfoFree releases the feature name and type copies of info.
 */
void
ModelCheckInfoFree(ModelCheckInfo *info)
{
	for (int i = 0; i < info->num_feature_names; i++)
		free(info->feature_names ? info->feature_names[i] : NULL);
	for (int i = 0; i < info->num_feature_types; i++)
		free(info->feature_types ? info->feature_types[i] : NULL);
	free(info->feature_names);
	free(info->feature_types);
	info->feature_names = NULL;
	info->feature_types = NULL;
	info->num_feature_names = 0;
	info->num_feature_types = 0;
}

/* ------------------------------------------------------------------------
 * Canonical JSON
 * ------------------------------------------------------------------------ */

/*
 * ModelCheckCanonicalJson writes model as compact JSON with keys sorted
 * byte-wise, reals as the float32 values XGBoost reads them as (see
 * OutReal), non-finite markers as NaN/Infinity tokens.  The result is malloc'd and
 * NUL-terminated.
 */
ModelCheckStatus
ModelCheckCanonicalJson(json_t *model, char **out, size_t *outlen, char *err, size_t errlen)
{
	OutBuf		b = {NULL, 0, 0, 0};

	*out = NULL;
	*outlen = 0;
	if (!WriteValue(&b, model, 0) || b.failed)
	{
		free(b.data);
		return b.failed ? SetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory")
			: SetError(err, errlen, MODELCHECK_TOO_LARGE, "model nests too deeply to write");
	}
	OutAppend(&b, "", 1);		/* the terminating NUL */
	if (b.failed)
	{
		free(b.data);
		return SetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
	}
	*out = b.data;
	*outlen = b.len - 1;
	return MODELCHECK_OK;
}

/*
 * OutAppend appends n bytes to b, growing it geometrically; a failed
 * allocation marks b failed and later appends do nothing.
 */
static void
OutAppend(OutBuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->cap - b->len < n)
	{
		size_t		cap = b->cap ? b->cap : 4096;
		char	   *p;

		while (cap - b->len < n)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
		{
			b->failed = 1;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

/*
 * OutString appends s as a quoted JSON string.  Quote, backslash and
 * control characters are escaped; other bytes (valid UTF-8, as jansson
 * guarantees) are copied.
 */
static void
OutString(OutBuf *b, const char *s, size_t n)
{
	OutAppend(b, "\"", 1);
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];
		char		esc[8];

		switch (c)
		{
			case '"':
				OutAppend(b, "\\\"", 2);
				break;
			case '\\':
				OutAppend(b, "\\\\", 2);
				break;
			case '\n':
				OutAppend(b, "\\n", 2);
				break;
			case '\r':
				OutAppend(b, "\\r", 2);
				break;
			case '\t':
				OutAppend(b, "\\t", 2);
				break;
			default:
				if (c < 0x20)
				{
					snprintf(esc, sizeof(esc), "\\u%04x", c);
					OutAppend(b, esc, 6);
				}
				else
					OutAppend(b, s + i, 1);
		}
	}
	OutAppend(b, "\"", 1);
}

/*
 * OutReal appends a finite real as the float32 XGBoost reads it as (1.7
 * parses every JSON number into a float): nine significant digits, which
 * always read back to the same float, with a '.' or an exponent so that it
 * stays a JSON real.  Searching for the shortest digits instead costs
 * several conversions per number and dominated validation time.  Values
 * beyond float range (which the validator refuses in models) keep 17.
 */
static void
OutReal(OutBuf *b, double v)
{
	char		buf[512];		/* %g of a double cannot overflow it */

	if (fabs(v) <= FLT_MAX)
		snprintf(buf, sizeof(buf), "%.9g", (double) (float) v);
	else
		snprintf(buf, sizeof(buf), "%.17g", v);
	if (strpbrk(buf, ".e") == NULL)
		strcat(buf, ".0");
	OutAppend(b, buf, strlen(buf));
}

/*
 * CompareKeys orders object keys byte-wise for qsort.
 */
static int
CompareKeys(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * WriteValue appends value; it returns 0 when nesting exceeds a fixed
 * bound (validated models nest far less).
 */
static int
WriteValue(OutBuf *b, json_t *value, int depth)
{
	char		num[32];
	const char *token;

	if (depth > 64)
		return 0;
	switch (json_typeof(value))
	{
		case JSON_OBJECT:
			{
				size_t		n = json_object_size(value);
				const char **keys;
				const char *key;
				json_t	   *member;
				size_t		i = 0;

				if (IsNonFiniteMarker(value, &token))
				{
					OutAppend(b, token, strlen(token));
					return 1;
				}
				keys = malloc(sizeof(char *) * (n > 0 ? n : 1));
				if (keys == NULL)
				{
					b->failed = 1;
					return 1;
				}
				json_object_foreach(value, key, member)
					keys[i++] = key;
				qsort(keys, n, sizeof(char *), CompareKeys);
				OutAppend(b, "{", 1);
				for (i = 0; i < n; i++)
				{
					if (i > 0)
						OutAppend(b, ",", 1);
					OutString(b, keys[i], strlen(keys[i]));
					OutAppend(b, ":", 1);
					if (!WriteValue(b, json_object_get(value, keys[i]), depth + 1))
					{
						free(keys);
						return 0;
					}
				}
				OutAppend(b, "}", 1);
				free(keys);
				return 1;
			}
		case JSON_ARRAY:
			OutAppend(b, "[", 1);
			for (size_t i = 0; i < json_array_size(value); i++)
			{
				if (i > 0)
					OutAppend(b, ",", 1);
				if (!WriteValue(b, json_array_get(value, i), depth + 1))
					return 0;
			}
			OutAppend(b, "]", 1);
			return 1;
		case JSON_STRING:
			OutString(b, json_string_value(value), json_string_length(value));
			return 1;
		case JSON_INTEGER:
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
			OutAppend(b, num, strlen(num));
			return 1;
		case JSON_REAL:
			OutReal(b, json_real_value(value));
			return 1;
		case JSON_TRUE:
			OutAppend(b, "true", 4);
			return 1;
		case JSON_FALSE:
			OutAppend(b, "false", 5);
			return 1;
		case JSON_NULL:
			OutAppend(b, "null", 4);
			return 1;
	}
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
			return SetError(err, errlen, MODELCHECK_BAD_FORMAT,
							"the model is in xgboost's deprecated binary format");
		default:
			return SetError(err, errlen, MODELCHECK_BAD_FORMAT,
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
