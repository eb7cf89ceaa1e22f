/*-------------------------------------------------------------------------
 *
 * xgb_iter.c
 *	  A quantile DMatrix built batch by batch through libxgboost's iterator
 *	  interface (XGQuantileDMatrixCreateFromCallback).
 *
 * Design
 * ------
 * For tree_method hist, XGBoost needs only the quantile cuts of every
 * feature and the rows' bin indexes, not the rows themselves.  Its iterator
 * interface builds exactly that from batches the caller hands over one at a
 * time: it calls our reset and next callbacks, and next puts one batch
 * (a row-major float32 array described by its __array_interface__ JSON,
 * and its labels) into a proxy DMatrix.  libxgboost 1.7 walks the batches
 * four times (row and column counts, the quantile sketch, the bin indexes,
 * the column matrix), so the source of batches must be rewindable; the
 * caller's XgbBatchSource says how (train/train.c reads them back from the
 * temporary file dataset.c spilled the source into).  With a reference
 * matrix (ref), the cuts come from it, as the Python package's
 * QuantileDMatrix(ref=...) does for validation sets.
 *
 * The callbacks run inside libxgboost, between its C++ frames, so nothing
 * may longjmp through them: every call into the caller's source runs in
 * PG_TRY, the first ERROR (a cancel included) is copied and kept, and the
 * callbacks then report the end of the data; once the C API call has
 * returned, the kept error is raised again.  XGBoost's own failures inside a
 * callback (setting the proxy's data) are kept the same way, as text, since
 * its last-error message is overwritten by the outer call's.  Signals are
 * blocked for the whole call, as for every other call (xgb.c); so that a
 * cancel need not wait for the whole matrix, the next callback ends the
 * data early when a cancel, terminate or timeout signal is pending, and
 * once the signal has been handled (which raises the cancel) a signal that
 * cancelled nothing makes the matrix be built again.
 *
 * The proxy DMatrix and the result are owned by the caller's memory
 * context (reset callbacks, xgb.c), so an ERROR frees them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "utils/elog.h"
#include "utils/memutils.h"

#include "common/common.h"
#include "xgb/xgb.h"
#include "xgb/xgb_int.h"

/* State of one XGQuantileDMatrixCreateFromCallback call */
typedef struct BatchIter
{
	XgbBatchSource *src;
	DMatrixHandle proxy;
	MemoryContext cxt;			/* where the kept error is copied */
	ErrorData  *error;			/* first ERROR raised by the source */
	bool		xgb_failed;		/* a proxy call failed: message in xgb_error */
	char		xgb_error[1024];
	bool		signalled;		/* a cancel-like signal is pending: stopped early */
} BatchIter;

static int	IterNext(DataIterHandle handle);
static void IterReset(DataIterHandle handle);
static void KeepError(BatchIter *it);
static bool CancelPending(void);

/*
 * XgbQuantileDMatrixFromBatches builds a quantile DMatrix (the bin indexes
 * tree_method hist trains on) from the batches of src, with max_bin bins
 * per feature and nthread threads, owned by owner; with ref (a quantile
 * DMatrix built the same way), its cuts are used instead of new ones.  The
 * source must yield at least one row.
 */
DMatrixHandle
XgbQuantileDMatrixFromBatches(MemoryContext owner, XgbBatchSource *src, DMatrixHandle ref,
							  int nthread, int max_bin)
{
	XgbHandleCallback *proxy_cb = RegisterHandle(owner, FreeDMatrixCallback);
	XgbHandleCallback *cb = RegisterHandle(owner, FreeDMatrixCallback);
	BatchIter  *it = MemoryContextAllocZero(owner, sizeof(BatchIter));
	DMatrixHandle h = NULL;
	char		config[128];
	sigset_t	saved;
	int			rc;
	MemoryContext caller = CurrentMemoryContext;

	XGB_CALL(XGProxyDMatrixCreate(&it->proxy));
	proxy_cb->handle = it->proxy;
	it->src = src;
	it->cxt = owner;
	snprintf(config, sizeof(config), "{\"missing\": NaN, \"nthread\": %d, \"max_bin\": %d}",
			 nthread, max_bin);

	for (;;)
	{
		XgbJoinBackground();
		XgbBlockSignals(&saved);
		rc = XGQuantileDMatrixCreateFromCallback((DataIterHandle) it, it->proxy, ref,
												 IterReset, IterNext, config, &h);
		XgbRestoreSignals(&saved);
		MemoryContextSwitchTo(caller);
		if (rc == 0)
			cb->handle = h;
		if (it->error != NULL)
			ReThrowError(it->error);
		CHECK_FOR_INTERRUPTS();
		if (!it->signalled)
			break;
		/* the signal did not cancel the statement: build the matrix again */
		if (rc == 0)
			FreeDMatrixCallback(cb);
		it->signalled = false;
		it->xgb_failed = false;
	}
	if (it->xgb_failed)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost call failed"),
				 errdetail("%s", it->xgb_error),
				 errcontext("XGProxyDMatrixSetDataDense")));
	if (rc != 0)
		XgbRaiseError("XGQuantileDMatrixCreateFromCallback");
	return h;
}

/*
 * IterNext is XGBoost's next callback: it puts the source's next batch into
 * the proxy and returns 1, or returns 0 at the end of the data, after an
 * ERROR of the source (kept for the caller) or a failed proxy call.
 */
static int
IterNext(DataIterHandle handle)
{
	BatchIter  *it = (BatchIter *) handle;
	volatile int64 n = 0;
	const float *volatile x = NULL;
	const float *volatile y = NULL;
	char		ai[256];

	if (it->error != NULL || it->xgb_failed || it->signalled)
		return 0;
	if (CancelPending())
	{
		/* end the data early: the caller handles the signal once XGBoost returned */
		it->signalled = true;
		return 0;
	}
	PG_TRY();
	{
		const float *bx;
		const float *by;

		n = it->src->next(it->src->arg, &bx, &by);
		x = bx;
		y = by;
	}
	PG_CATCH();
	{
		KeepError(it);
		n = 0;
	}
	PG_END_TRY();
	if (n <= 0)
		return 0;

	ArrayInterface(ai, sizeof(ai), x, (bst_ulong) n, it->src->ncol);
	if (XGProxyDMatrixSetDataDense(it->proxy, ai) != 0 ||
		XGDMatrixSetFloatInfo(it->proxy, "label", y, (bst_ulong) n) != 0)
	{
		const char *msg = XGBGetLastError();

		strlcpy(it->xgb_error, (msg && *msg) ? msg : "XGBoost gave no message.",
				sizeof(it->xgb_error));
		it->xgb_failed = true;
		return 0;
	}
	return 1;
}

/*
 * CancelPending reports whether a signal that may cancel the statement
 * (SIGINT: cancel, SIGTERM: terminate, SIGALRM: statement_timeout) is
 * pending on this thread, whose signals are blocked while XGBoost runs, or
 * whether an interrupt is already pending: then the iteration stops early,
 * so that a cancel does not wait for the whole matrix to be built.
 */
static bool
CancelPending(void)
{
	sigset_t	pending;

	if (InterruptPending)
		return true;
	if (sigpending(&pending) != 0)
		return false;
	return sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM) ||
		sigismember(&pending, SIGALRM);
}

/*
 * IterReset is XGBoost's reset callback: the source starts again from its
 * first batch (an ERROR is kept for the caller, the next call of IterNext
 * then ends the data).
 */
static void
IterReset(DataIterHandle handle)
{
	BatchIter  *it = (BatchIter *) handle;

	if (it->error != NULL)
		return;
	PG_TRY();
	{
		it->src->reset(it->src->arg);
	}
	PG_CATCH();
	{
		KeepError(it);
	}
	PG_END_TRY();
}

/*
 * KeepError copies the ERROR being handled into the iterator's context and
 * clears the error state, so that the callback can return to XGBoost; the
 * caller raises it again once XGBoost has returned.
 */
static void
KeepError(BatchIter *it)
{
	MemoryContextSwitchTo(it->cxt);
	if (it->error == NULL)
		it->error = CopyErrorData();
	FlushErrorState();
}
