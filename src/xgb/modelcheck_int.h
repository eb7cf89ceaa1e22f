/*
 * modelcheck_int.h
 *	  What the files of the model validator share (modelcheck.c,
 *	  modelcheck_json.c, modelcheck_ubjson.c, modelcheck_validate.c,
 *	  modelcheck_canon.c); not part of its interface, which is modelcheck.h.
 *
 * Pure C (jansson, libc), like the files that include it.  The shared
 * helpers carry the prefix Mc: mlops.so exports every symbol that is not
 * static, and a generic name could be bound to a symbol of the server
 * (see McNewObject for the case of json_object).
 */
#ifndef MLOPS_MODELCHECK_INT_H
#define MLOPS_MODELCHECK_INT_H

#include <jansson.h>

#include "xgb/modelcheck.h"

/* error reporting (modelcheck.c) */
extern ModelCheckStatus McSetError(char *err, size_t errlen, ModelCheckStatus status,
								   const char *fmt,...) __attribute__((format(printf, 4, 5)));

/* the allocation budget of a decode (modelcheck.c) */
extern size_t McDecodeBudget(const ModelCheckLimits *limits, size_t len);
extern void McBeginBudget(size_t budget);
extern int	McEndBudget(void);

/* jansson objects and non-finite markers (modelcheck.c) */
extern json_t *McNewObject(void);
extern json_t *McMakeNonFinite(double value);
extern int	McIsNonFiniteMarker(json_t *value, const char **token);

#endif							/* MLOPS_MODELCHECK_INT_H */
