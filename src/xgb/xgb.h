/*-------------------------------------------------------------------------
 *
 * xgb.h
 *	  The only interface to libxgboost.  See xgb.c for the rules.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_XGB_H
#define MLOPS_XGB_H

#include <pthread.h>
#include <signal.h>

#include <xgboost/c_api.h>

#include "xgb/forest.h"
#include "xgb/modelcheck.h"

/* What the booster's raw output is, from its objective */
typedef enum ModelOutput
{
	OUTPUT_VALUE,				/* regression value */
	OUTPUT_PROB1,				/* binary: probability of class 1 */
	OUTPUT_PROBS,				/* multiclass: one probability per class */
	OUTPUT_CLASS,				/* a class code (multi:softmax, binary:hinge) */
	OUTPUT_MARGIN1				/* binary margin (binary:logitraw) */
} ModelOutput;

/*
 * XGB_CALL runs one XGBoost C API call with every signal blocked on this
 * thread (so OpenMP threads it may start never run PostgreSQL's handlers)
 * and raises an ERROR carrying XGBoost's own message when it fails.  It
 * first waits for a prediction running on the helper thread, if any, so no
 * booster is used by two threads at once.
 */
#define XGB_CALL(call) \
	do { \
		sigset_t	xgb_saved_mask_; \
		int			xgb_rc_; \
		XgbJoinBackground(); \
		XgbBlockSignals(&xgb_saved_mask_); \
		xgb_rc_ = (call); \
		XgbRestoreSignals(&xgb_saved_mask_); \
		if (xgb_rc_ != 0) \
			XgbRaiseError(#call); \
	} while (0)

/*
 * A prediction running on a helper thread while the backend goes on (see
 * XgbPredictStart).  The caller owns the struct and the buffers; only the
 * helper thread writes the result fields until the job is joined.  A
 * shared job (block > 0) is predicted block rows at a time by the helper
 * (with XGBoost, or walking the forest when one is given) from the front
 * while the caller may claim rows from the back (XgbPredictClaim) and
 * predict them itself.
 */
typedef struct XgbPredictJob
{
	bool		started;		/* posted to the helper thread, not yet joined */
	BoosterHandle booster;
	bool		linear;			/* gblinear: predict through a DMatrix */
	const float *data;
	bst_ulong	nrow;
	bst_ulong	ncol;
	float	   *out;			/* receives the predictions */
	bst_ulong	out_cap;		/* floats out can hold */
	bst_ulong	out_len;		/* floats XGBoost returned */
	int			rc;				/* 0, or the failed call's code */
	char		error[1024];	/* XGBoost's message when rc != 0 */
	bst_ulong	block;			/* rows per call of a shared job; 0: one call */
	bst_ulong	per_row;		/* outputs per row */
	const Forest *forest;		/* a shared job's rows walked without XGBoost */
	/* under the helper's lock: */
	bool		finished;		/* the helper is done with the job */
	bst_ulong	next;			/* first row nobody has taken from the front */
	bst_ulong	end;			/* rows from end on were claimed from the back */
	bst_ulong	back_rows;		/* rows claimed from the back */
} XgbPredictJob;

extern void XgbJoinBackground(void);
extern void XgbPredictStart(XgbPredictJob *job, BoosterHandle booster, const float *data,
							bst_ulong nrow, bst_ulong ncol, float *out, bst_ulong out_cap,
							bst_ulong block, bst_ulong per_row, const Forest *forest);
extern bst_ulong XgbPredictClaim(XgbPredictJob *job, bst_ulong want, bst_ulong *first);
extern bool XgbPredictDone(XgbPredictJob *job);
extern bst_ulong XgbPredictFinish(XgbPredictJob *job);
extern void XgbBlockSignals(sigset_t *saved);
extern void XgbRestoreSignals(const sigset_t *saved);
extern void XgbRaiseError(const char *call) pg_attribute_noreturn();

extern BoosterHandle XgbBoosterCreate(MemoryContext owner, const DMatrixHandle *dmats, bst_ulong n);
extern BoosterHandle XgbBoosterLoadJson(MemoryContext owner, const char *json, size_t len);
extern DMatrixHandle XgbDMatrixFromDense(MemoryContext owner, const float *data,
										 bst_ulong nrow, bst_ulong ncol, float missing);

/* training and serving (train.c, predict.c, model_cache.c) */
extern DMatrixHandle XgbDMatrixFromDenseThreaded(MemoryContext owner, const float *data,
												 bst_ulong nrow, bst_ulong ncol,
												 const float *labels, int nthread);
extern void XgbBoosterSetParam(BoosterHandle booster, const char *name, const char *value);
extern void XgbBoosterUpdate(BoosterHandle booster, int iter, DMatrixHandle dtrain);
extern char *XgbBoosterEval(BoosterHandle booster, int iter, DMatrixHandle *dmats,
							const char **names, int n);
extern BoosterHandle XgbBoosterSlice(MemoryContext owner, BoosterHandle booster, int end_round);
extern bytea *XgbBoosterSaveJson(BoosterHandle booster);
extern int	XgbBoosterNumFeatures(BoosterHandle booster);
extern char *XgbBoosterObjective(BoosterHandle booster);
extern int	XgbBoosterNumClass(BoosterHandle booster);
extern const float *XgbPredictDense(BoosterHandle booster, const float *data,
									bst_ulong nrow, bst_ulong ncol, bst_ulong *out_len);
extern const float *XgbPredictDMatrix(BoosterHandle booster, DMatrixHandle dmat,
									  bst_ulong *out_len);
/*
 * A rewindable source of row batches for XgbQuantileDMatrixFromBatches
 * (xgb_iter.c): next returns the number of rows of the next batch (0 at the
 * end) and points x at its row-major ncol-wide float32 rows (NaN = missing)
 * and y at its labels, both valid until the next call; reset starts again
 * from the first batch.  Both may raise an ERROR.
 */
typedef struct XgbBatchSource
{
	int64		(*next) (void *arg, const float **x, const float **y);
	void		(*reset) (void *arg);
	void	   *arg;
	bst_ulong	ncol;
} XgbBatchSource;

extern DMatrixHandle XgbQuantileDMatrixFromBatches(MemoryContext owner, XgbBatchSource *src,
												   DMatrixHandle ref, int nthread, int max_bin);
/* the native tree walk of small predictions (xgb_forest.c, forest.c) */
extern Forest *XgbForestBuild(MemoryContext owner, BoosterHandle booster, int nfeatures);
extern void XgbForestPredict(const Forest *forest, const float *x, int64 nrow, float *out);

extern ModelOutput ObjectiveOutput(const char *objective, bool regression);
extern char *XgbVersion(void);
extern void XgbCaptureLog(void);
extern char *XgbTakeLog(void);
extern void XgbRaiseUnusedParameters(void);
extern int	XgbBoosterFeatureScore(BoosterHandle booster, const char *importance_type,
								   char ***names, double **scores);

#endif							/* MLOPS_XGB_H */
