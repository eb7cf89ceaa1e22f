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
 * - XGBoost's own log (warnings such as unused parameters) goes to a
 *   callback that only copies the text into a static buffer: it may run on
 *   any thread, so it never allocates or reports.  Callers read it back
 *   after the call returned (XgbTakeLog).  The callback is installed on the
 *   first use in a backend (XgbCaptureLog), never in the postmaster.
 *
 * - Arrays handed to XGBoost are described with the __array_interface__
 *   JSON, as the Python package does, so DMatrix construction and in-place
 *   prediction go through the same code paths as xgboost.DMatrix(numpy) and
 *   Booster.inplace_predict.
 *
 * - Prediction is chosen by booster type.  Tree boosters (gbtree, dart)
 *   predict in place from the caller's array; gblinear has no in-place
 *   prediction in libxgboost 1.7, so its rows go through a DMatrix made
 *   for the call (XGDMatrixCreateFromMat + XGBoosterPredictFromDMatrix)
 *   and freed right after it.  The type of each booster is read once from
 *   its configuration and remembered per handle (booster_kinds) until the
 *   handle is freed, reloaded or given a new "booster" parameter.
 *
 * - One prediction may run on a helper thread (XgbPredictStart), so that
 *   mlops.predict_table reads the next rows while XGBoost predicts the
 *   previous ones.  The helper is started once per backend, on the first
 *   job, with every signal blocked, and then sleeps on a condition variable
 *   between jobs until the backend exits (JoinAtExit stops and joins it):
 *   a thread per job cost a thread start, a proxy DMatrix (which reads the
 *   cgroup CPU quota files) and a new OpenMP team, with its cold caches,
 *   for every chunk.  It calls only libxgboost, memcpy and pthreads, never
 *   palloc or ereport, keeps its own proxy DMatrix, copies the output into
 *   the caller's buffer (XGBoost's buffer is thread-local) and keeps
 *   XGBoost's message in the job.  Jobs run one at a time in the order they
 *   were posted; one more may wait behind the running one, so that the
 *   helper goes on with the next chunk while the backend emits the last.
 *   A shared job is taken in blocks, under the helper's lock, from the
 *   front by the helper and from the back by the backend (XgbPredictClaim),
 *   which walks its rows with the native forest; given the forest, the
 *   helper walks its blocks too (pure C, no XGBoost).  Every other call
 *   here first waits for every job (XgbJoinBackground, in XGB_CALL), so no
 *   booster is ever used by two threads at once, even when the source
 *   query itself predicts.
 *
 * - Model bytes that did not come out of libxgboost in this server are
 *   validated by modelcheck.c before they are handed to XgbBoosterLoadJson:
 *   libxgboost 1.7 reads out of bounds on malformed models.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>
#include <pthread.h>

#include "storage/ipc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "common/common.h"
#include "xgb/xgb.h"
#include "xgb/xgb_int.h"

/* the longest XGBoost message an error quotes */
#define XGB_MESSAGE_MAX 1024

/* what XGBoost logged since the last XgbTakeLog */
static char log_buffer[4096];
static size_t log_length = 0;
static bool log_installed = false;

/* the proxy DMatrix of in-place predictions, kept for the backend's life */
static DMatrixHandle predict_proxy = NULL;

/* booster handle -> whether it is gblinear (predicts through a DMatrix) */
typedef struct BoosterKindEntry
{
	BoosterHandle booster;		/* key */
	bool		linear;
} BoosterKindEntry;

static HTAB *booster_kinds = NULL;

/* the entry used last, checked first: one-row predictions repeat a booster */
static BoosterHandle last_booster = NULL;
static bool last_linear = false;

static bool exit_hook_registered = false;

/*
 * The helper thread and its mailbox: helper_queue holds the jobs posted to
 * it and not yet finished, oldest first (the first one runs), helper_stop
 * asks it to exit; the queue, helper_stop and the jobs' finished, next, end
 * and back_rows fields are read and written under helper_lock only.
 */
#define HELPER_QUEUE_MAX 2
static pthread_t helper_thread;
static bool helper_started = false;
static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t helper_posted = PTHREAD_COND_INITIALIZER;
static pthread_cond_t helper_finished = PTHREAD_COND_INITIALIZER;
static XgbPredictJob *helper_queue[HELPER_QUEUE_MAX];
static int	helper_queued = 0;
static bool helper_stop = false;

/* what in-place prediction asks for: plain values, every tree */
static const char predict_config[] =
"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
"\"iteration_end\": 0, \"strict_shape\": false, "
"\"missing\": NaN, \"cache_id\": 0}";

/* the same for prediction from a DMatrix (gblinear) */
static const char predict_dmatrix_config[] =
"{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
"\"iteration_end\": 0, \"strict_shape\": false}";

static char *CleanMessage(const char *msg);
static void LogCallback(const char *msg);
static char *ConfigValue(BoosterHandle booster, const char *section, const char *key);
static bool BoosterIsLinear(BoosterHandle booster);
static void ForgetBoosterKind(BoosterHandle booster);
static int	PredictCall(BoosterHandle booster, bool linear, DMatrixHandle proxy,
						const float *data, bst_ulong nrow, bst_ulong ncol,
						const float **result, bst_ulong *len);
static void *PredictThread(void *arg);
static void RunJob(XgbPredictJob *job, DMatrixHandle *proxy);
static void RunShared(XgbPredictJob *job, DMatrixHandle proxy);
static void StartHelper(void);
static void JoinAtExit(int code, Datum arg);
static void FreeBoosterCallback(void *arg);

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
			 errdetail("%s", (msg && *msg) ? CleanMessage(msg) : "XGBoost gave no message."),
			 errcontext("%s", call)));
}

/*
 * CleanMessage returns XGBoost's message without what changes from run to
 * run or machine to machine: the "[hh:mm:ss] src/file.cc:123: " prefix and
 * the stack trace that follows the message; at most XGB_MESSAGE_MAX bytes
 * of it, since XGBoost may quote its input.
 */
static char *
CleanMessage(const char *msg)
{
	char	   *copy = pstrdup(msg);
	char	   *p = copy;
	char	   *end;
	char	   *colon;

	if (p[0] == '[' && (end = strstr(p, "] ")) != NULL && end - p <= 12)
		p = end + 2;
	colon = strstr(p, ": ");
	if (colon != NULL && colon - p < 200 && memchr(p, ' ', colon - p) == NULL &&
		(memchr(p, '/', colon - p) != NULL || memchr(p, '.', colon - p) != NULL))
		p = colon + 2;
	if ((end = strstr(p, "Stack trace:")) != NULL)
		*end = '\0';
	end = p + strlen(p);
	while (end > p && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	return MlopsClip(p, XGB_MESSAGE_MAX);
}

/*
 * RegisterHandle allocates a callback record in owner and registers it; the
 * caller stores the handle into it once created.
 */
XgbHandleCallback *
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

	XgbJoinBackground();
	if (cb->handle != NULL)
	{
		ForgetBoosterKind((BoosterHandle) cb->handle);
		(void) XGBoosterFree((BoosterHandle) cb->handle);
	}
	cb->handle = NULL;
}

/*
 * FreeDMatrixCallback frees a DMatrix when its memory context goes away.
 */
void
FreeDMatrixCallback(void *arg)
{
	XgbHandleCallback *cb = (XgbHandleCallback *) arg;

	XgbJoinBackground();
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
	ForgetBoosterKind(h);
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

/*
 * ArrayInterface writes the __array_interface__ JSON of a row-major float32
 * matrix.
 */
void
ArrayInterface(char *buf, size_t size, const float *data, bst_ulong nrow, bst_ulong ncol)
{
	snprintf(buf, size,
			 "{\"data\": [%llu, true], \"shape\": [%llu, %llu], \"typestr\": \"<f4\", \"version\": 3}",
			 (unsigned long long) (uintptr_t) data,
			 (unsigned long long) nrow, (unsigned long long) ncol);
}

/*
 * XgbDMatrixFromDenseThreaded builds a DMatrix from a row-major float32
 * matrix (NaN = missing) with optional labels, using nthread threads
 * (0 = all cores), the way xgboost.DMatrix does from a numpy array; owned
 * by owner.
 */
DMatrixHandle
XgbDMatrixFromDenseThreaded(MemoryContext owner, const float *data, bst_ulong nrow,
							bst_ulong ncol, const float *labels, int nthread)
{
	XgbHandleCallback *cb = RegisterHandle(owner, FreeDMatrixCallback);
	DMatrixHandle h = NULL;
	char		ai[256];
	char		config[64];

	ArrayInterface(ai, sizeof(ai), data, nrow, ncol);
	snprintf(config, sizeof(config), "{\"missing\": NaN, \"nthread\": %d}", nthread);
	XGB_CALL(XGDMatrixCreateFromDense(ai, config, &h));
	cb->handle = h;
	if (labels != NULL)
		XGB_CALL(XGDMatrixSetFloatInfo(h, "label", labels, nrow));
	return h;
}

/*
 * XgbBoosterSetParam sets one booster parameter; XGBoost checks its value
 * when the booster is next configured (the first update or prediction).
 */
void
XgbBoosterSetParam(BoosterHandle booster, const char *name, const char *value)
{
	XGB_CALL(XGBoosterSetParam(booster, name, value));
	if (strcmp(name, "booster") == 0)
		ForgetBoosterKind(booster);
}

/* XgbBoosterUpdate runs one boosting round on dtrain. */
void
XgbBoosterUpdate(BoosterHandle booster, int iter, DMatrixHandle dtrain)
{
	XGB_CALL(XGBoosterUpdateOneIter(booster, iter, dtrain));
}

/*
 * XgbBoosterEval evaluates the booster's metrics on the given matrices and
 * returns XGBoost's line ("[iter]\tname-metric:value...") palloc'd.
 */
char *
XgbBoosterEval(BoosterHandle booster, int iter, DMatrixHandle *dmats,
			   const char **names, int n)
{
	const char *out = NULL;

	XGB_CALL(XGBoosterEvalOneIter(booster, iter, dmats, names, (bst_ulong) n, &out));
	return pstrdup(out);
}

/*
 * XgbBoosterSlice returns a new booster, owned by owner, holding the first
 * end_round rounds.
 */
BoosterHandle
XgbBoosterSlice(MemoryContext owner, BoosterHandle booster, int end_round)
{
	XgbHandleCallback *cb = RegisterHandle(owner, FreeBoosterCallback);
	BoosterHandle h = NULL;

	XGB_CALL(XGBoosterSlice(booster, 0, end_round, 1, &h));
	cb->handle = h;
	return h;
}

/* XgbBoosterSaveJson returns the model in XGBoost's JSON format. */
bytea *
XgbBoosterSaveJson(BoosterHandle booster)
{
	bst_ulong	len = 0;
	const char *data = NULL;
	bytea	   *result;

	XGB_CALL(XGBoosterSaveModelToBuffer(booster, "{\"format\": \"json\"}", &len, &data));
	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model of %llu bytes exceeds the largest value PostgreSQL can store",
						(unsigned long long) len),
				 errdetail("A model is stored as one bytea, at most 1 GB."),
				 errhint("Train fewer or smaller trees.")));
	result = (bytea *) palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), data, len);
	return result;
}

/* XgbBoosterNumFeatures returns the number of features the booster expects. */
int
XgbBoosterNumFeatures(BoosterHandle booster)
{
	bst_ulong	n = 0;

	XGB_CALL(XGBoosterGetNumFeature(booster, &n));
	return (int) n;
}

/*
 * ConfigValue returns the string value of "key":"..." that follows section
 * in the booster's JSON configuration, or NULL.
 */
static char *
ConfigValue(BoosterHandle booster, const char *section, const char *key)
{
	bst_ulong	len = 0;
	const char *config = NULL;
	char	   *copy;
	char	   *p;
	char	   *end;
	char	   *pattern = psprintf("\"%s\":\"", key);

	XGB_CALL(XGBoosterSaveJsonConfig(booster, &len, &config));
	copy = pnstrdup(config, len);
	p = strstr(copy, section);
	if (p == NULL || (p = strstr(p, pattern)) == NULL)
		return NULL;
	p += strlen(pattern);
	end = strchr(p, '"');
	if (end == NULL)
		return NULL;
	*end = '\0';
	return pstrdup(p);
}

/* XgbBoosterObjective returns the name of the booster's objective. */
char *
XgbBoosterObjective(BoosterHandle booster)
{
	char	   *name = ConfigValue(booster, "\"learner_train_param\"", "objective");

	return name ? name : pstrdup("");
}

/* XgbBoosterNumClass returns the booster's num_class (0 unless multiclass). */
int
XgbBoosterNumClass(BoosterHandle booster)
{
	char	   *n = ConfigValue(booster, "\"learner_model_param\"", "num_class");

	return n ? atoi(n) : 0;
}

/*
 * XgbPredictDense predicts a row-major float32 matrix (NaN = missing) and
 * returns XGBoost's buffer, valid until the next call on this booster, and
 * its length (nrow, or nrow * classes for multi:softprob).  The booster's
 * nthread parameter sets the threads.  Tree boosters predict in place (no
 * DMatrix), like Booster.inplace_predict; gblinear through a DMatrix made
 * for the call, like Booster.predict(DMatrix(x)).
 *
 * In-place data goes through one proxy DMatrix per backend, created on
 * first use and reused: without one, XGBoost builds a proxy per call, and
 * each proxy reads the cgroup CPU quota files (four system calls) and may
 * start an OpenMP team - more than the prediction of a row costs.  The
 * proxy only points at the caller's array during the call.
 */
const float *
XgbPredictDense(BoosterHandle booster, const float *data, bst_ulong nrow, bst_ulong ncol,
				bst_ulong *out_len)
{
	bool		linear = BoosterIsLinear(booster);
	const float *result = NULL;
	sigset_t	saved;
	int			rc;

	XgbJoinBackground();
	if (!linear && predict_proxy == NULL)
		XGB_CALL(XGProxyDMatrixCreate(&predict_proxy));
	XgbBlockSignals(&saved);
	rc = PredictCall(booster, linear, predict_proxy, data, nrow, ncol, &result, out_len);
	XgbRestoreSignals(&saved);
	if (rc != 0)
		XgbRaiseError(linear ? "XGBoosterPredictFromDMatrix" : "XGBoosterPredictFromDense");
	return result;
}

/*
 * XgbPredictDMatrix predicts the rows of a DMatrix (plain values, every
 * tree) and returns XGBoost's buffer, valid until the next call on this
 * booster, and its length.  For the matrix a booster was trained on, this
 * reads XGBoost's prediction cache instead of predicting again.
 */
const float *
XgbPredictDMatrix(BoosterHandle booster, DMatrixHandle dmat, bst_ulong *out_len)
{
	const bst_ulong *shape = NULL;
	bst_ulong	dim = 0;
	const float *result = NULL;

	XGB_CALL(XGBoosterPredictFromDMatrix(booster, dmat, predict_dmatrix_config,
										 &shape, &dim, &result));
	*out_len = 1;
	for (bst_ulong i = 0; i < dim; i++)
		*out_len *= shape[i];
	return result;
}

/*
 * PredictCall runs one prediction with the C API only (it is also the
 * helper thread's body, so it never calls PostgreSQL): in place through
 * proxy, or for a linear booster through a DMatrix it creates and frees.
 * It returns the C API's code; on success *result is XGBoost's
 * thread-local buffer of *len floats.
 */
static int
PredictCall(BoosterHandle booster, bool linear, DMatrixHandle proxy, const float *data,
			bst_ulong nrow, bst_ulong ncol, const float **result, bst_ulong *len)
{
	const bst_ulong *shape = NULL;
	bst_ulong	dim = 0;
	int			rc;

	if (linear)
	{
		DMatrixHandle dmat = NULL;

		rc = XGDMatrixCreateFromMat(data, nrow, ncol, NAN, &dmat);
		if (rc == 0)
			rc = XGBoosterPredictFromDMatrix(booster, dmat, predict_dmatrix_config,
											 &shape, &dim, result);
		/* the output lives in the booster's thread-local entry, not in dmat */
		if (dmat != NULL)
			(void) XGDMatrixFree(dmat);
	}
	else
	{
		char		ai[256];

		ArrayInterface(ai, sizeof(ai), data, nrow, ncol);
		rc = XGBoosterPredictFromDense(booster, ai, predict_config, proxy,
									   &shape, &dim, result);
	}
	if (rc != 0)
		return rc;
	*len = 1;
	for (bst_ulong i = 0; i < dim; i++)
		*len *= shape[i];
	return 0;
}

/*
 * BoosterIsLinear returns whether a booster is gblinear, which XGBoost
 * cannot predict in place.  The answer is read from the booster's
 * configuration once and remembered for the handle.
 */
static bool
BoosterIsLinear(BoosterHandle booster)
{
	BoosterKindEntry *entry;
	bool		found;
	char	   *name;

	if (booster == last_booster)
		return last_linear;
	if (booster_kinds == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(BoosterHandle);
		ctl.entrysize = sizeof(BoosterKindEntry);
		ctl.hcxt = TopMemoryContext;
		booster_kinds = hash_create("mlops booster kinds", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(booster_kinds, &booster, HASH_FIND, NULL);
	if (entry == NULL)
	{
		/* the first "name" of the gradient_booster section is its type's */
		name = ConfigValue(booster, "\"gradient_booster\"", "name");
		entry = hash_search(booster_kinds, &booster, HASH_ENTER, &found);
		entry->linear = (name != NULL && strcmp(name, "gblinear") == 0);
	}
	last_booster = booster;
	last_linear = entry->linear;
	return last_linear;
}

/*
 * ForgetBoosterKind forgets what BoosterIsLinear remembered of a booster
 * (freed, reloaded or given another booster type).  It runs in memory
 * context reset callbacks, so it must not fail.
 */
static void
ForgetBoosterKind(BoosterHandle booster)
{
	if (booster == last_booster)
		last_booster = NULL;
	if (booster_kinds != NULL)
		(void) hash_search(booster_kinds, &booster, HASH_REMOVE, NULL);
}

/*
 * XgbPredictStart posts a prediction of nrow rows of data (row-major, ncol
 * columns) into out (room for out_cap floats) to the helper thread, which
 * runs it with the booster's own nthread once the job posted before it, if
 * any, is done; at most two jobs wait or run at a time (a third waits here
 * for the first).  With block > 0 the rows may be shared: the helper
 * predicts them block rows at a time from the front, per_row outputs per
 * row, with XGBoost or, given a forest, walking it on its own thread
 * (ForestPredictRows), while the caller may claim rows from the back
 * (XgbPredictClaim).
 * The caller must not touch data, out or the booster until
 * XgbPredictFinish, except for the rows it claimed; any other XGBoost call
 * here waits for every job first.
 */
void
XgbPredictStart(XgbPredictJob *job, BoosterHandle booster, const float *data,
				bst_ulong nrow, bst_ulong ncol, float *out, bst_ulong out_cap,
				bst_ulong block, bst_ulong per_row, const Forest *forest)
{
	if (forest != NULL && (block == 0 || ForestOutputsPerRow(forest) != (int) per_row ||
						   forest->nfeatures != (int32_t) ncol))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("a forest walk job needs blocks and the forest's row shape")));
	if (!exit_hook_registered)
	{
		/* a FATAL error exits without unwinding: stop the helper first */
		on_proc_exit(JoinAtExit, (Datum) 0);
		exit_hook_registered = true;
	}
	if (!helper_started)
		StartHelper();
	job->booster = booster;
	job->linear = BoosterIsLinear(booster);
	job->data = data;
	job->nrow = nrow;
	job->ncol = ncol;
	job->out = out;
	job->out_cap = out_cap;
	job->out_len = 0;
	job->rc = 0;
	job->error[0] = '\0';
	job->block = block;
	job->per_row = per_row;
	job->forest = forest;
	job->next = 0;
	job->end = nrow;
	job->back_rows = 0;
	job->finished = false;
	pthread_mutex_lock(&helper_lock);
	while (helper_queued == HELPER_QUEUE_MAX)
		pthread_cond_wait(&helper_finished, &helper_lock);
	helper_queue[helper_queued++] = job;
	pthread_cond_signal(&helper_posted);
	pthread_mutex_unlock(&helper_lock);
	job->started = true;
}

/*
 * XgbPredictClaim takes up to want rows of a shared job (XgbPredictStart
 * with block > 0) from the back for the caller to predict itself, sets
 * *first to the first of them and returns how many it took: 0 when the
 * helper thread has taken or predicted every row, or failed.
 */
bst_ulong
XgbPredictClaim(XgbPredictJob *job, bst_ulong want, bst_ulong *first)
{
	bst_ulong	take;

	Assert(job->started && job->block > 0);
	pthread_mutex_lock(&helper_lock);
	take = Min(want, job->end - job->next);
	job->end -= take;
	job->back_rows += take;
	*first = job->end;
	pthread_mutex_unlock(&helper_lock);
	return take;
}

/*
 * XgbPredictDone says whether the helper thread has finished a job it was
 * given, without waiting.
 */
bool
XgbPredictDone(XgbPredictJob *job)
{
	bool		done;

	if (!job->started)
		return true;
	pthread_mutex_lock(&helper_lock);
	done = job->finished;
	pthread_mutex_unlock(&helper_lock);
	return done;
}

/*
 * StartHelper starts the helper thread with every signal blocked (the
 * OpenMP threads it starts inherit the mask).
 */
static void
StartHelper(void)
{
	sigset_t	saved;
	int			rc;

	helper_stop = false;
	helper_queued = 0;
	XgbBlockSignals(&saved);
	rc = pthread_create(&helper_thread, NULL, PredictThread, NULL);
	XgbRestoreSignals(&saved);
	if (rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a prediction thread: %s", strerror(rc))));
	helper_started = true;
}

/*
 * PredictThread is the helper thread's body: it waits for a job, runs it
 * (RunJob, with a proxy DMatrix it keeps for its life), marks it finished
 * and takes the next one, until it is asked to stop.  It must not call
 * PostgreSQL.
 */
static void *
PredictThread(void *arg)
{
	DMatrixHandle proxy = NULL;

	(void) arg;
	for (;;)
	{
		XgbPredictJob *job;

		pthread_mutex_lock(&helper_lock);
		while (!helper_stop && helper_queued == 0)
			pthread_cond_wait(&helper_posted, &helper_lock);
		if (helper_stop)
		{
			pthread_mutex_unlock(&helper_lock);
			break;
		}
		job = helper_queue[0];
		pthread_mutex_unlock(&helper_lock);

		RunJob(job, &proxy);

		pthread_mutex_lock(&helper_lock);
		job->finished = true;
		for (int i = 1; i < helper_queued; i++)
			helper_queue[i - 1] = helper_queue[i];
		helper_queued--;
		pthread_cond_broadcast(&helper_finished);
		pthread_mutex_unlock(&helper_lock);
	}
	if (proxy != NULL)
		(void) XGDMatrixFree(proxy);
	return NULL;
}

/*
 * RunJob makes one prediction on the helper thread (PredictCall, through
 * *proxy, created on first use) and copies it into the job's buffer, or
 * keeps XGBoost's message; a shared job goes through RunShared.
 */
static void
RunJob(XgbPredictJob *job, DMatrixHandle *proxy)
{
	const float *result = NULL;
	bst_ulong	len = 0;

	job->rc = (job->linear || *proxy != NULL) ? 0 : XGProxyDMatrixCreate(proxy);
	if (job->rc == 0 && job->block > 0)
		RunShared(job, *proxy);
	else if (job->rc == 0)
		job->rc = PredictCall(job->booster, job->linear, *proxy, job->data, job->nrow,
							  job->ncol, &result, &len);
	if (job->rc != 0)
	{
		const char *msg = XGBGetLastError();

		strlcpy(job->error, msg ? msg : "", sizeof(job->error));
	}
	else if (job->block == 0)
	{
		job->out_len = len;
		if (len <= job->out_cap)
			memcpy(job->out, result, sizeof(float) * len);
	}
}

/*
 * RunShared predicts the rows of a shared job block rows at a time from
 * the front until they meet the rows the backend claimed from the back:
 * walking the job's forest straight into the job's buffer, or with
 * XGBoost, copying each block's outputs to their place.  A call
 * that fails, or returns other than per_row outputs per row, ends the job
 * (the backend can claim no more; XgbPredictFinish's count then falls
 * short, or rc holds the failure).
 */
static void
RunShared(XgbPredictJob *job, DMatrixHandle proxy)
{
	for (;;)
	{
		const float *result = NULL;
		bst_ulong	len = 0;
		bst_ulong	first;
		bst_ulong	take;

		pthread_mutex_lock(&helper_lock);
		first = job->next;
		take = Min(job->block, job->end - job->next);
		job->next += take;
		pthread_mutex_unlock(&helper_lock);
		if (take == 0)
			return;
		if (job->forest != NULL && (first + take) * job->per_row <= job->out_cap)
		{
			ForestPredictRows(job->forest, job->data + first * job->ncol, (int64_t) take,
							  job->out + first * job->per_row);
			job->out_len += take * job->per_row;
			continue;
		}
		job->rc = PredictCall(job->booster, job->linear, proxy, job->data + first * job->ncol,
							  take, job->ncol, &result, &len);
		if (job->rc != 0 || len != take * job->per_row ||
			(first + take) * job->per_row > job->out_cap)
		{
			pthread_mutex_lock(&helper_lock);
			job->end = job->next;
			pthread_mutex_unlock(&helper_lock);
			return;
		}
		memcpy(job->out + first * job->per_row, result, sizeof(float) * len);
		job->out_len += len;
	}
}

/*
 * XgbJoinBackground waits until the helper thread has finished every job
 * posted to it; their results stay in the jobs for XgbPredictFinish.
 */
void
XgbJoinBackground(void)
{
	if (!helper_started)
		return;
	pthread_mutex_lock(&helper_lock);
	while (helper_queued > 0)
		pthread_cond_wait(&helper_finished, &helper_lock);
	pthread_mutex_unlock(&helper_lock);
}

/*
 * JoinAtExit waits for the helper thread's jobs and stops the thread before
 * the backend exits, so that libxgboost is never torn down under a running
 * prediction.
 */
static void
JoinAtExit(int code, Datum arg)
{
	(void) code;
	(void) arg;
	XgbJoinBackground();
	if (!helper_started)
		return;
	pthread_mutex_lock(&helper_lock);
	helper_stop = true;
	pthread_cond_signal(&helper_posted);
	pthread_mutex_unlock(&helper_lock);
	(void) pthread_join(helper_thread, NULL);
	helper_started = false;
}

/*
 * XgbPredictFinish waits for a job started by XgbPredictStart and returns
 * the number of floats written to out (for a shared job, those of the rows
 * the caller claimed counted as per_row each); a failed prediction raises an
 * ERROR with XGBoost's message, a result larger than out one saying so.
 */
bst_ulong
XgbPredictFinish(XgbPredictJob *job)
{
	if (job->started)
	{
		pthread_mutex_lock(&helper_lock);
		while (!job->finished)
			pthread_cond_wait(&helper_finished, &helper_lock);
		pthread_mutex_unlock(&helper_lock);
		job->started = false;
	}
	if (job->rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost call failed"),
				 errdetail("%s", job->error[0] ? CleanMessage(job->error) : "XGBoost gave no message."),
				 errcontext("%s", job->linear ? "XGBoosterPredictFromDMatrix" :
							"XGBoosterPredictFromDense")));
	if (job->out_len > job->out_cap)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("XGBoost returned %llu outputs for %llu rows",
						(unsigned long long) job->out_len, (unsigned long long) job->nrow),
				 errdetail("At most %llu were expected.", (unsigned long long) job->out_cap)));
	return job->out_len + job->back_rows * job->per_row;
}

/*
 * XgbCaptureLog routes XGBoost's log into our buffer (once per backend) and
 * empties the buffer.
 */
void
XgbCaptureLog(void)
{
	if (!log_installed)
	{
		XGB_CALL(XGBRegisterLogCallback(LogCallback));
		log_installed = true;
	}
	log_length = 0;
	log_buffer[0] = '\0';
}

/*
 * LogCallback appends one XGBoost log message to the static buffer.  It may
 * run on any thread, so it neither allocates nor reports; what does not fit
 * is dropped.
 */
static void
LogCallback(const char *msg)
{
	size_t		len = strlen(msg);

	if (log_length + len + 2 >= sizeof(log_buffer))
		return;
	memcpy(log_buffer + log_length, msg, len);
	log_length += len;
	log_buffer[log_length++] = '\n';
	log_buffer[log_length] = '\0';
}

/*
 * XgbTakeLog returns (palloc'd) and clears what XGBoost logged since the
 * last XgbCaptureLog or XgbTakeLog, or NULL if nothing.
 */
char *
XgbTakeLog(void)
{
	char	   *result;

	if (log_length == 0)
		return NULL;
	result = pnstrdup(log_buffer, log_length);
	log_length = 0;
	log_buffer[0] = '\0';
	return result;
}

/*
 * XgbRaiseUnusedParameters raises an ERROR when XGBoost's parameter
 * validation logged unknown parameters, quoting its message.
 */
void
XgbRaiseUnusedParameters(void)
{
	char	   *msgs = XgbTakeLog();
	char	   *start;
	char	   *end;

	if (msgs == NULL || strstr(msgs, "are not used") == NULL)
		return;
	/* keep XGBoost's sentence, without its timestamp and source location */
	start = strstr(msgs, "Parameters:");
	if (start == NULL)
		start = msgs;
	end = strstr(start, "are not used");
	end[strlen("are not used")] = '\0';
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown XGBoost parameter in hyperparams"),
			 errdetail("XGBoost: %s.", start),
			 errhint("See the XGBoost parameter reference; n_estimators and early_stopping_rounds are read by mlops.train itself.")));
}

/* XgbVersion returns the libxgboost version as "major.minor.patch". */
char *
XgbVersion(void)
{
	int			major = 0,
				minor = 0,
				patch = 0;

	XGBoostVersion(&major, &minor, &patch);
	return psprintf("%d.%d.%d", major, minor, patch);
}

/*
 * ObjectiveOutput returns what a booster with the given objective outputs;
 * regression forces a value (the registry says the task is a regression).
 */
ModelOutput
ObjectiveOutput(const char *objective, bool regression)
{
	if (regression ||
		strncmp(objective, "reg:", 4) == 0 ||
		strncmp(objective, "count:", 6) == 0 ||
		strncmp(objective, "survival:", 9) == 0 ||
		strncmp(objective, "rank:", 5) == 0)
		return OUTPUT_VALUE;
	if (strcmp(objective, "binary:logistic") == 0)
		return OUTPUT_PROB1;
	if (strcmp(objective, "binary:logitraw") == 0)
		return OUTPUT_MARGIN1;
	if (strcmp(objective, "multi:softprob") == 0)
		return OUTPUT_PROBS;
	return OUTPUT_CLASS;
}

/*
 * XgbBoosterFeatureScore returns the booster's importance of every feature
 * it splits on (XGBoosterFeatureScore with importance_type, e.g. "gain"):
 * *names[i] as XGBoost names it ("f0", ... when the booster has no feature
 * names) and *scores[i], palloc'd; the return value is their number.  A
 * score of several dimensions (gblinear's per-class weights) is summed per
 * feature.
 */
int
XgbBoosterFeatureScore(BoosterHandle booster, const char *importance_type,
					   char ***names, double **scores)
{
	bst_ulong	nfeat = 0;
	bst_ulong	dim = 0;
	const char **feat = NULL;
	const bst_ulong *shape = NULL;
	const float *sc = NULL;
	bst_ulong	per = 1;
	char	   *config = psprintf("{\"importance_type\": \"%s\", \"feature_map\": \"\"}", importance_type);

	XGB_CALL(XGBoosterFeatureScore(booster, config, &nfeat, &feat, &dim, &shape, &sc));
	for (bst_ulong d = 1; d < dim; d++)
		per *= shape[d];
	*names = palloc(sizeof(char *) * Max(nfeat, 1));
	*scores = palloc0(sizeof(double) * Max(nfeat, 1));
	for (bst_ulong i = 0; i < nfeat; i++)
	{
		(*names)[i] = pstrdup(feat[i]);
		for (bst_ulong k = 0; k < per; k++)
			(*scores)[i] += sc[i * per + k];
	}
	pfree(config);
	return (int) nfeat;
}
