/*-------------------------------------------------------------------------
 *
 * xgb.h
 *	  The only interface to libxgboost.  See xgb.c for the rules.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_XGB_H
#define MLOPS_XGB_H

#include <signal.h>

#include <xgboost/c_api.h>

/*
 * XGB_CALL runs one XGBoost C API call with every signal blocked on this
 * thread (so OpenMP threads it may start never run PostgreSQL's handlers)
 * and raises an ERROR carrying XGBoost's own message when it fails.
 */
#define XGB_CALL(call) \
	do { \
		sigset_t	xgb_saved_mask_; \
		int			xgb_rc_; \
		XgbBlockSignals(&xgb_saved_mask_); \
		xgb_rc_ = (call); \
		XgbRestoreSignals(&xgb_saved_mask_); \
		if (xgb_rc_ != 0) \
			XgbRaiseError(#call); \
	} while (0)

extern void XgbBlockSignals(sigset_t *saved);
extern void XgbRestoreSignals(const sigset_t *saved);
extern void XgbRaiseError(const char *call) pg_attribute_noreturn();

extern BoosterHandle XgbBoosterCreate(MemoryContext owner, const DMatrixHandle *dmats, bst_ulong n);
extern BoosterHandle XgbBoosterLoadJson(MemoryContext owner, const char *json, size_t len);
extern DMatrixHandle XgbDMatrixFromDense(MemoryContext owner, const float *data,
										 bst_ulong nrow, bst_ulong ncol, float missing);

#endif							/* MLOPS_XGB_H */
