/*
 * xgb.h
 *		The only interface to libxgboost.
 *
 * Handles are owned by the memory context that was current when they were
 * created: resetting or deleting that context frees them, so an ERROR never
 * leaks a booster or a matrix.
 */
#ifndef MLOPS_XGB_H
#define MLOPS_XGB_H

#include "postgres.h"

typedef void *XgbDMatrix;
typedef void *XgbBooster;

extern XgbDMatrix XgbDMatrixCreateDense(const float *x, int64 nrows, int ncols,
										const float *labels, int nthread);
extern XgbBooster XgbBoosterCreate(XgbDMatrix *cache, int ncache);
extern void XgbBoosterSetParam(XgbBooster booster, const char *name, const char *value);
extern void XgbBoosterUpdate(XgbBooster booster, int iter, XgbDMatrix dtrain);
extern char *XgbBoosterEval(XgbBooster booster, int iter, XgbDMatrix *dmats,
							const char **names, int n);
extern XgbBooster XgbBoosterSlice(XgbBooster booster, int end_round);
extern bytea *XgbBoosterSaveJson(XgbBooster booster);
extern XgbBooster XgbBoosterLoad(const char *data, Size len);
extern int	XgbBoosterNumFeatures(XgbBooster booster);
extern int	XgbBoosterRounds(XgbBooster booster);
extern const float *XgbPredictDense(XgbBooster booster, const float *x,
									int64 nrows, int ncols, bool margin,
									uint64 *out_len);
extern char *XgbBoosterObjective(XgbBooster booster);
extern int	XgbBoosterNumClass(XgbBooster booster);
extern char *XgbTakeLogMessages(void);
extern void XgbRaiseUnusedParameters(void);

#endif							/* MLOPS_XGB_H */
