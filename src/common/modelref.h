/*-------------------------------------------------------------------------
 *
 * modelref.h
 *	  Resolving model references and reading model bytes (common/modelref.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_MODELREF_H
#define MLOPS_MODELREF_H

#include "postgres.h"

/* one resolved model reference */
typedef struct ResolvedModel
{
	int64		model_id;
	char	   *name;
	int32		version;
	char	   *stage;
	char	   *task;			/* NULL when unknown */
	char	   *algorithm;
} ResolvedModel;

extern void ResolveModelRef(const char *ref, ResolvedModel *out);
extern bytea *FetchModelBytes(int64 model_id, int32 version);
extern void VerifyModelChecksum(const bytea *data, const uint8 *expected_sha256,
								const char *name, int32 version);

#endif							/* MLOPS_MODELREF_H */
