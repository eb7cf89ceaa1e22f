/*-------------------------------------------------------------------------
 *
 * ab_cache.h
 *	  The per-backend cache of A/B tests and assignments that
 *	  mlops.ab_predict answers an assigned user from (ab_cache.c), and the
 *	  arm of a variant it hands out.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_AB_CACHE_H
#define MLOPS_AB_CACHE_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

/* one arm of a test: the pinned model version of a variant */
typedef struct AbArm
{
	char	   *variant;
	char	   *model_name;
	int32		model_version;
	bool		probability;	/* a classifier that outputs probabilities */
	text	   *ref;			/* "model_name/model_version", never routed */
	Numeric		version_number; /* model_version as the result's number */
} AbArm;

extern const AbArm *AbCachedArm(text *test, text *user_id);
extern bool AbArmFrom(JsonbContainer *elem, const char *variant, AbArm *arm);

#endif							/* MLOPS_AB_CACHE_H */
