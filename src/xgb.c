/*-------------------------------------------------------------------------
 *
 * xgb.c
 *	  The only file that talks to libxgboost (1.7 C API).
 *
 * Rules every caller relies on:
 *
 * - Every C API call goes through XGB_CALL, which checks the return code
 *   and turns a failure into ERRCODE_EXTERNAL_ROUTINE_EXCEPTION with
 *   XGBGetLastError() in DETAIL.  The C API catches C++ exceptions itself,
 *   so none crosses into PostgreSQL's frames, and no longjmp crosses into
 *   libxgboost's: we only ereport after the call has returned.
 *
 * - Handles are owned by a memory context: XgbBoosterCreate and friends
 *   register a reset callback on the context given, so the handle is freed
 *   when that context is reset or deleted, on success and on ERROR alike.
 *
 * - Signals are blocked on the calling thread for the duration of each
 *   call.  OpenMP worker threads inherit the signal mask of the thread that
 *   creates them, so PostgreSQL's signal handlers only ever run on the
 *   backend's own thread.
 *
 * - Nothing here may run in the postmaster: libgomp's thread pool does not
 *   survive fork(), so XGBoost work in the postmaster would hang every
 *   backend that uses XGBoost later.  No function here is called from
 *   _PG_init.
 *
 * - Model bytes that did not come out of libxgboost in this server are
 *   validated by modelcheck.c before they are handed to XgbBoosterLoadJson:
 *   libxgboost 1.7 reads out of bounds on malformed models.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <pthread.h>

#include "utils/memutils.h"

#include "xgb.h"

/* a memory-context reset callback with the handle it frees */
typedef struct XgbHandleCallback
{
	MemoryContextCallback cb;
	void	   *handle;
} XgbHandleCallback;

static void FreeBoosterCallback(void *arg);
static void FreeDMatrixCallback(void *arg);
static XgbHandleCallback *RegisterHandle(MemoryContext owner, MemoryContextCallbackFunction func);

/*
 * XgbBlockSignals blocks every signal on the calling thread and saves the
 * previous mask.
 */
void
XgbBlockSignals(sigset_t *saved)
{
	sigset_t	all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, saved);
}

/*
 * XgbRestoreSignals restores a mask saved by XgbBlockSignals.
 */
void
XgbRestoreSignals(const sigset_t *saved)
{
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/*
 * XgbRaiseError reports the failure of an XGBoost call.
 */
void
XgbRaiseError(const char *call)
{
	const char *msg = XGBGetLastError();

	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("XGBoost call failed"),
			 errdetail("%s", (msg && *msg) ? msg : "XGBoost gave no message."),
			 errcontext("%s", call)));
}

/*
 * RegisterHandle allocates a callback record in owner and registers it; the
 * caller stores the handle into it once created.
 */
static XgbHandleCallback *
RegisterHandle(MemoryContext owner, MemoryContextCallbackFunction func)
{
	XgbHandleCallback *cb = MemoryContextAllocZero(owner, sizeof(XgbHandleCallback));

	cb->cb.func = func;
	cb->cb.arg = cb;
	MemoryContextRegisterResetCallback(owner, &cb->cb);
	return cb;
}

/*
 * FreeBoosterCallback frees a booster when its memory context goes away.
 */
static void
FreeBoosterCallback(void *arg)
{
	XgbHandleCallback *cb = (XgbHandleCallback *) arg;

	if (cb->handle != NULL)
		(void) XGBoosterFree((BoosterHandle) cb->handle);
	cb->handle = NULL;
}

/*
 * FreeDMatrixCallback frees a DMatrix when its memory context goes away.
 */
static void
FreeDMatrixCallback(void *arg)
{
	XgbHandleCallback *cb = (XgbHandleCallback *) arg;

	if (cb->handle != NULL)
		(void) XGDMatrixFree((DMatrixHandle) cb->handle);
	cb->handle = NULL;
}

/*
 * XgbBoosterCreate creates a booster over the given matrices, owned by the
 * memory context owner.
 */
BoosterHandle
XgbBoosterCreate(MemoryContext owner, const DMatrixHandle *dmats, bst_ulong n)
{
	XgbHandleCallback *cb = RegisterHandle(owner, FreeBoosterCallback);
	BoosterHandle h = NULL;

	XGB_CALL(XGBoosterCreate(dmats, n, &h));
	cb->handle = h;
	return h;
}

/*
 * XgbBoosterLoadJson creates a booster from a JSON model that has already
 * been validated (or was produced by libxgboost here), owned by owner.
 */
BoosterHandle
XgbBoosterLoadJson(MemoryContext owner, const char *json, size_t len)
{
	BoosterHandle h = XgbBoosterCreate(owner, NULL, 0);

	XGB_CALL(XGBoosterLoadModelFromBuffer(h, json, (bst_ulong) len));
	return h;
}

/*
 * XgbDMatrixFromDense builds a DMatrix from a row-major float matrix (the
 * data is copied by XGBoost), owned by owner.
 */
DMatrixHandle
XgbDMatrixFromDense(MemoryContext owner, const float *data,
					bst_ulong nrow, bst_ulong ncol, float missing)
{
	XgbHandleCallback *cb = RegisterHandle(owner, FreeDMatrixCallback);
	DMatrixHandle h = NULL;

	XGB_CALL(XGDMatrixCreateFromMat(data, nrow, ncol, missing, &h));
	cb->handle = h;
	return h;
}
