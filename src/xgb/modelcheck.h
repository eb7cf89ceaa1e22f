/*
 * modelcheck.h
 *	  Safe decoding and structural validation of untrusted XGBoost models.
 *
 * Pure C (jansson, libc); no PostgreSQL headers.  See modelcheck.c for the
 * design.  Every function reports failure through a ModelCheckStatus and a
 * caller-supplied message buffer (lower case, no final period, suitable for
 * an errdetail); nothing here exits or prints.
 */
#ifndef MLOPS_MODELCHECK_H
#define MLOPS_MODELCHECK_H

#include <stddef.h>
#include <stdint.h>

/*
 * jansson's tree type, declared here without <jansson.h> so that PostgreSQL
 * code can include this header (jansson's json_object clashes with the
 * fmgr function of that name); modelcheck.c and the tests use jansson.h.
 * For the same reason code linked into the server must never call
 * jansson's json_object() itself: the dynamic linker binds that name to
 * PostgreSQL's SQL function (see NewObject in modelcheck.c).
 */
struct json_t;

/* Result of every modelcheck function. */
typedef enum ModelCheckStatus
{
	MODELCHECK_OK = 0,
	MODELCHECK_TOO_LARGE,		/* input or nesting over a limit */
	MODELCHECK_BAD_FORMAT,		/* not decodable JSON / UBJSON */
	MODELCHECK_BAD_MODEL,		/* decodable, but not a valid XGBoost model */
	MODELCHECK_NO_MEMORY
} ModelCheckStatus;

/* Serialization a buffer is in, as guessed by ModelCheckDetectFormat. */
typedef enum ModelCheckFormat
{
	MODELCHECK_FORMAT_UNKNOWN = 0,
	MODELCHECK_FORMAT_JSON,
	MODELCHECK_FORMAT_UBJSON,
	MODELCHECK_FORMAT_LEGACY_BINARY	/* XGBoost's deprecated binary format */
} ModelCheckFormat;

/* Limits applied while decoding; ModelCheckDefaultLimits fills defaults. */
typedef struct ModelCheckLimits
{
	size_t		max_bytes;		/* largest accepted input buffer */
	int			max_depth;		/* deepest container nesting */
	int64_t		max_category;	/* largest categorical split code */
	size_t		memory_factor;	/* decoding may allocate this many times */
	size_t		memory_slack;	/* ... the input size, plus this many bytes */
} ModelCheckLimits;

#define MODELCHECK_DEFAULT_MAX_BYTES ((size_t) 64 * 1024 * 1024)
#define MODELCHECK_DEFAULT_MAX_DEPTH 32
#define MODELCHECK_DEFAULT_MAX_CATEGORY ((int64_t) 1 << 24)
/* models XGBoost writes need 7 to 14 times their size while decoded */
#define MODELCHECK_DEFAULT_MEMORY_FACTOR 24
#define MODELCHECK_DEFAULT_MEMORY_SLACK ((size_t) 16 * 1024 * 1024)

/*
 * Non-finite floats (XGBoost writes NaN for the thresholds of categorical
 * splits) have no jansson representation, so decoded trees carry them as
 * an object with this single key whose value is "NaN", "Infinity" or
 * "-Infinity".  The validator accepts the marker only where XGBoost expects
 * a float; the canonical writer prints it back as the bare token.
 */
#define MODELCHECK_NONFINITE_KEY "$nonfinite"

/* What the registry needs to know about a validated model. */
typedef struct ModelCheckInfo
{
	char		booster[16];	/* gbtree, dart or gblinear */
	char		objective[64];	/* e.g. binary:logistic */
	char		task[16];		/* classification, regression, ranking, survival, other */
	int64_t		num_feature;
	int64_t		num_class;		/* learner_model_param num_class */
	int64_t		num_target;
	int64_t		num_output_group;	/* max(num_class, num_target, 1) */
	int64_t		num_trees;		/* 0 for gblinear */
	double		base_score;
	int			num_feature_names;	/* 0 when the model carries none */
	char	  **feature_names;	/* malloc'd, num_feature_names entries */
	int			num_feature_types;	/* 0 when the model carries none */
	char	  **feature_types;	/* malloc'd, num_feature_types entries */
} ModelCheckInfo;

/* A fully checked model: its validated tree, facts and canonical JSON. */
typedef struct ModelCheckResult
{
	ModelCheckFormat format;	/* what the input was */
	struct json_t *model;		/* decoded tree (owned) */
	ModelCheckInfo info;
	char	   *canonical;		/* malloc'd canonical JSON, NUL-terminated */
	size_t		canonical_len;
} ModelCheckResult;

extern void ModelCheckDefaultLimits(ModelCheckLimits *limits);
extern ModelCheckFormat ModelCheckDetectFormat(const unsigned char *buf, size_t len);
extern const char *ModelCheckFormatName(ModelCheckFormat format);

extern ModelCheckStatus ModelCheckParseJson(const unsigned char *buf, size_t len,
											const ModelCheckLimits *limits,
											struct json_t **out, char *err, size_t errlen);
extern ModelCheckStatus ModelCheckParseUbjson(const unsigned char *buf, size_t len,
											  const ModelCheckLimits *limits,
											  struct json_t **out, char *err, size_t errlen);
extern ModelCheckStatus ModelCheckValidate(struct json_t *model, const ModelCheckLimits *limits,
										   ModelCheckInfo *info,
										   char *err, size_t errlen);
extern ModelCheckStatus ModelCheckCanonicalJson(struct json_t *model, char **out, size_t *outlen,
												char *err, size_t errlen);
extern ModelCheckStatus ModelCheckModel(const unsigned char *buf, size_t len,
										const ModelCheckLimits *limits,
										ModelCheckResult *result,
										char *err, size_t errlen);
extern const char *ModelCheckTaskForObjective(const char *objective);
extern void ModelCheckInfoFree(ModelCheckInfo *info);
extern void ModelCheckResultFree(ModelCheckResult *result);

#endif							/* MLOPS_MODELCHECK_H */
