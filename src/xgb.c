/*
 * xgb.c
 *		The only file that talks to libxgboost (1.7 C API).
 *
 * Rules every function here follows:
 *
 * - Every return code is checked (XGB_CHECK); a failure becomes an ERROR with
 *   errcode external_routine_exception and XGBGetLastError() in DETAIL.
 * - Every handle is owned by the memory context current at its creation: a
 *   reset callback registered in that context frees it, so handles are
 *   released on every path, errors included.  XgbBoosterFree releases a
 *   booster early and disarms its callback.
 * - Calls that may start OpenMP threads run with all signals blocked
 *   (XGB_CHECK_THREADED): threads inherit the creating thread's signal mask,
 *   so PostgreSQL's handlers only ever run on the backend's own thread.
 * - XGBoost's log goes to a callback that only copies the text into a static
 *   buffer (no ereport from library code, which may run on any thread); the
 *   messages are read back after the call returns (XgbTakeLogMessages).
 * - Nothing here runs in the postmaster: the log callback is installed on
 *   first use in a backend.
 */
#include "postgres.h"

#include <signal.h>

#include <xgboost/c_api.h>

#include "utils/memutils.h"

#include "xgb.h"

/* A handle and the reset callback that frees it */
typedef struct XgbHandleOwner
{
	MemoryContextCallback cb;
	void	   *handle;
	bool		is_booster;
} XgbHandleOwner;

/* Messages XGBoost logged since the last XgbTakeLogMessages */
static char log_buffer[4096];
static size_t log_length = 0;
static bool log_installed = false;

static void XgbLogCallback(const char *msg);
static void XgbEnsureSetup(void);
static void XgbFail(const char *call) pg_attribute_noreturn();
static void XgbOwnHandle(void *handle, bool is_booster);
static void XgbReleaseHandle(void *arg);

/* XGB_CHECK runs an XGBoost call and raises an ERROR when it fails */
#define XGB_CHECK(call) \
	do { \
		XgbEnsureSetup(); \
		if ((call) != 0) \
			XgbFail(#call); \
	} while (0)

/* XGB_CHECK_THREADED does the same with every signal blocked */
#define XGB_CHECK_THREADED(call) \
	do { \
		sigset_t	xgb_all_, xgb_old_; \
		int			xgb_rc_; \
		XgbEnsureSetup(); \
		sigfillset(&xgb_all_); \
		sigprocmask(SIG_SETMASK, &xgb_all_, &xgb_old_); \
		xgb_rc_ = (call); \
		sigprocmask(SIG_SETMASK, &xgb_old_, NULL); \
		if (xgb_rc_ != 0) \
			XgbFail(#call); \
	} while (0)

/*
 * XgbEnsureSetup installs the log callback the first time XGBoost is used in
 * this process.
 */
static void
XgbEnsureSetup(void)
{
	if (log_installed)
		return;
	log_installed = true;
	if (XGBRegisterLogCallback(XgbLogCallback) != 0)
		XgbFail("XGBRegisterLogCallback");
}

/*
 * XgbLogCallback appends one XGBoost log message to the static buffer.  It
 * may run on any thread, so it neither allocates nor reports.
 */
static void
XgbLogCallback(const char *msg)
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
 * XgbTakeLogMessages returns (palloc'd) and clears what XGBoost logged since
 * the last call, or NULL if nothing.
 */
char *
XgbTakeLogMessages(void)
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
 * validation logged unused (unknown) parameters, quoting its message.
 */
void
XgbRaiseUnusedParameters(void)
{
	char	   *msgs = XgbTakeLogMessages();

	if (msgs != NULL && strstr(msgs, "are not used") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown XGBoost parameter in hyperparams"),
				 errdetail("XGBoost: %s", msgs),
				 errhint("See the XGBoost parameter reference; n_estimators and early_stopping_rounds are read by mlops.train.")));
}

/* XgbFail raises the ERROR for a failed XGBoost call. */
static void
XgbFail(const char *call)
{
	const char *msg = XGBGetLastError();

	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("XGBoost call failed"),
			 errdetail("%s", msg && *msg ? msg : "no message"),
			 errcontext("%s", call)));
}

/*
 * XgbOwnHandle makes the current memory context free handle when it is
 * reset or deleted.
 */
static void
XgbOwnHandle(void *handle, bool is_booster)
{
	XgbHandleOwner *owner = MemoryContextAlloc(CurrentMemoryContext, sizeof(XgbHandleOwner));

	owner->handle = handle;
	owner->is_booster = is_booster;
	owner->cb.func = XgbReleaseHandle;
	owner->cb.arg = owner;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &owner->cb);
}

/* XgbReleaseHandle frees a handle; it runs as a memory-context callback. */
static void
XgbReleaseHandle(void *arg)
{
	XgbHandleOwner *owner = (XgbHandleOwner *) arg;

	if (owner->handle == NULL)
		return;
	if (owner->is_booster)
		XGBoosterFree(owner->handle);
	else
		XGDMatrixFree(owner->handle);
	owner->handle = NULL;
}

/*
 * XgbArrayInterface writes the __array_interface__ JSON describing a
 * row-major float32 matrix.
 */
static void
XgbArrayInterface(char *buf, size_t size, const float *x, int64 nrows, int ncols)
{
	snprintf(buf, size,
			 "{\"data\": [%lu, true], \"shape\": [" INT64_FORMAT ", %d], \"typestr\": \"<f4\", \"version\": 3}",
			 (unsigned long) (uintptr_t) x, nrows, ncols);
}

/*
 * XgbDMatrixCreateDense builds a DMatrix from a row-major float32 matrix
 * (NaN = missing) with optional labels, the way the Python package builds
 * one from a numpy array.
 */
XgbDMatrix
XgbDMatrixCreateDense(const float *x, int64 nrows, int ncols, const float *labels, int nthread)
{
	DMatrixHandle handle = NULL;
	char		ai[256];
	char		config[64];

	XgbArrayInterface(ai, sizeof(ai), x, nrows, ncols);
	snprintf(config, sizeof(config), "{\"missing\": NaN, \"nthread\": %d}", nthread);
	XGB_CHECK_THREADED(XGDMatrixCreateFromDense(ai, config, &handle));
	XgbOwnHandle(handle, false);
	if (labels != NULL)
		XGB_CHECK(XGDMatrixSetFloatInfo(handle, "label", labels, (bst_ulong) nrows));
	return handle;
}

/* XgbBoosterCreate creates a booster with the given matrices cached. */
XgbBooster
XgbBoosterCreate(XgbDMatrix *cache, int ncache)
{
	BoosterHandle handle = NULL;

	XGB_CHECK(XGBoosterCreate((DMatrixHandle *) cache, (bst_ulong) ncache, &handle));
	XgbOwnHandle(handle, true);
	return handle;
}

/* XgbBoosterSetParam sets one booster parameter. */
void
XgbBoosterSetParam(XgbBooster booster, const char *name, const char *value)
{
	XGB_CHECK(XGBoosterSetParam(booster, name, value));
}

/* XgbBoosterUpdate runs one boosting round on dtrain. */
void
XgbBoosterUpdate(XgbBooster booster, int iter, XgbDMatrix dtrain)
{
	XGB_CHECK_THREADED(XGBoosterUpdateOneIter(booster, iter, dtrain));
}

/*
 * XgbBoosterEval evaluates the booster's metrics on the given matrices and
 * returns XGBoost's line ("[iter]\tname-metric:value...") palloc'd.
 */
char *
XgbBoosterEval(XgbBooster booster, int iter, XgbDMatrix *dmats, const char **names, int n)
{
	const char *out = NULL;

	XGB_CHECK_THREADED(XGBoosterEvalOneIter(booster, iter, (DMatrixHandle *) dmats,
											names, (bst_ulong) n, &out));
	return pstrdup(out);
}

/*
 * XgbBoosterSlice returns a new booster holding the first end_round rounds.
 */
XgbBooster
XgbBoosterSlice(XgbBooster booster, int end_round)
{
	BoosterHandle out = NULL;

	XGB_CHECK(XGBoosterSlice(booster, 0, end_round, 1, &out));
	XgbOwnHandle(out, true);
	return out;
}

/* XgbBoosterSaveJson returns the model in XGBoost's JSON format. */
bytea *
XgbBoosterSaveJson(XgbBooster booster)
{
	bst_ulong	len = 0;
	const char *data = NULL;
	bytea	   *result;

	XGB_CHECK(XGBoosterSaveModelToBuffer(booster, "{\"format\": \"json\"}", &len, &data));
	result = (bytea *) palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), data, len);
	return result;
}

/*
 * XgbBoosterLoad creates a booster from a saved model (JSON or UBJSON),
 * configured to predict on one thread.
 */
XgbBooster
XgbBoosterLoad(const char *data, Size len)
{
	BoosterHandle handle = NULL;

	XGB_CHECK(XGBoosterCreate(NULL, 0, &handle));
	XgbOwnHandle(handle, true);
	XGB_CHECK(XGBoosterLoadModelFromBuffer(handle, data, (bst_ulong) len));
	XGB_CHECK(XGBoosterSetParam(handle, "nthread", "1"));
	return handle;
}

/* XgbBoosterNumFeatures returns the number of features the booster expects. */
int
XgbBoosterNumFeatures(XgbBooster booster)
{
	bst_ulong	n = 0;

	XGB_CHECK(XGBoosterGetNumFeature(booster, &n));
	return (int) n;
}

/* XgbBoosterRounds returns the number of boosted rounds. */
int
XgbBoosterRounds(XgbBooster booster)
{
	int			n = 0;

	XGB_CHECK(XGBoosterBoostedRounds(booster, &n));
	return n;
}

/*
 * XgbPredictDense predicts for a row-major float32 matrix in place (no
 * DMatrix), like the Python package's inplace_predict.  It returns
 * XGBoost's buffer, valid until the next call on this booster, and its
 * length (nrows, or nrows * classes for multi:softprob).
 */
const float *
XgbPredictDense(XgbBooster booster, const float *x, int64 nrows, int ncols,
				bool margin, uint64 *out_len)
{
	char		ai[256];
	const bst_ulong *shape = NULL;
	bst_ulong	dim = 0;
	const float *result = NULL;
	uint64		len = 1;

	XgbArrayInterface(ai, sizeof(ai), x, nrows, ncols);
	XGB_CHECK_THREADED(XGBoosterPredictFromDense(booster, ai,
												 margin ?
												 "{\"type\": 1, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}" :
												 "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}",
												 NULL, &shape, &dim, &result));
	for (bst_ulong i = 0; i < dim; i++)
		len *= shape[i];
	*out_len = len;
	return result;
}

/*
 * XgbBoosterConfigValue returns the string value of "key": "..." found
 * after section in the booster's JSON configuration, or NULL.
 */
static char *
XgbBoosterConfigValue(XgbBooster booster, const char *section, const char *key)
{
	bst_ulong	len = 0;
	const char *config = NULL;
	char	   *copy;
	char	   *p;
	char	   *end;
	char	   *pattern = psprintf("\"%s\":\"", key);

	XGB_CHECK(XGBoosterSaveJsonConfig(booster, &len, &config));
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
XgbBoosterObjective(XgbBooster booster)
{
	char	   *name = XgbBoosterConfigValue(booster, "\"learner_train_param\"", "objective");

	return name ? name : pstrdup("");
}

/* XgbBoosterNumClass returns the booster's num_class (0 unless multiclass). */
int
XgbBoosterNumClass(XgbBooster booster)
{
	char	   *n = XgbBoosterConfigValue(booster, "\"learner_model_param\"", "num_class");

	return n ? atoi(n) : 0;
}
