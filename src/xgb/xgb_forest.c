/*-------------------------------------------------------------------------
 *
 * xgb_forest.c
 *	  Building a cached booster's forest (forest.c) and proving, before it
 *	  is used, that it predicts what XGBoost predicts.
 *
 * XgbForestBuild takes the booster's own UBJSON (XGBoosterSaveModelToBuffer:
 * the float32 thresholds and leaf values exactly as XGBoost holds them),
 * builds the flat forest in a child context of the cached model's, then
 * predicts FOREST_CHECK_ROWS deterministic pseudo-random rows with both the
 * forest and XGBoost (XgbPredictDense, the path the forest replaces).  The
 * rows are made to hit the model where the walk could go wrong: every
 * value is one of the model's own thresholds for that feature, or the next
 * float above or below one, or missing (NaN), or a value between the
 * feature's smallest and largest threshold; one row is all missing.  Any
 * output that differs in a single bit discards the forest (DEBUG1 says
 * why), and the model is then served by XGBoost alone.  The tolerance is
 * zero: the forest repeats XGBoost's float operations in its order, so any
 * difference means a semantic difference, not rounding.
 *
 * Runs only in backends (from the model cache), never in the postmaster.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/memutils.h"

#include "common/common.h"
#include "xgb/xgb.h"
#include "xgb/xgb_int.h"

/*
 * rows the forest and XGBoost must agree on before the forest is used:
 * FOREST_CHECK_ROWS, fewer for very wide models so that the rows stay
 * within FOREST_CHECK_FLOATS floats, never fewer than FOREST_CHECK_MIN_ROWS
 */
#define FOREST_CHECK_ROWS 256
#define FOREST_CHECK_MIN_ROWS 16
#define FOREST_CHECK_FLOATS (1024 * 1024)
/*
 * the largest UBJSON model a forest is built from (about 230,000 nodes at
 * 36 bytes a node): decoding takes 7 to 14 times the size for a moment
 * (modelcheck.h), so at most about 110 MB; larger models stay with XGBoost,
 * whose per-call cost matters less beside their walk
 */
#define FOREST_MAX_MODEL_BYTES ((bst_ulong) 8 * 1024 * 1024)

/* the thresholds each feature is split at, for the check rows */
typedef struct FeatureThresholds
{
	int32	   *start;			/* nfeatures + 1 offsets into values */
	float	   *values;
	float	   *lo;				/* smallest threshold of each feature */
	float	   *hi;				/* largest */
} FeatureThresholds;

static void *ForestAlloc(void *arg, size_t size);
static bool ForestAgrees(BoosterHandle booster, const Forest *forest, char *why, size_t whylen);
static void CollectThresholds(const Forest *forest, FeatureThresholds *ft);
static void FillCheckRows(const Forest *forest, float *rows, int nrows);
static uint64 NextRandom(uint64 *state);

/* ForestAlloc allocates from the memory context arg, NULL when out of memory. */
static void *
ForestAlloc(void *arg, size_t size)
{
	return MemoryContextAllocExtended((MemoryContext) arg, size, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

/*
 * XgbForestBuild returns the forest of a booster expecting nfeatures
 * inputs, allocated in a child context of owner, or NULL when the booster
 * has none we can walk: not supported by forest.c, larger than its bounds,
 * or not agreeing with XGBoost bit for bit on the check rows.  Each reason
 * is logged at DEBUG1.  The booster must predict on one thread (the model
 * cache sets it, ModelCacheBuildForest).
 */
Forest *
XgbForestBuild(MemoryContext owner, BoosterHandle booster, int nfeatures)
{
	MemoryContext cxt;
	bst_ulong	len = 0;
	const char *data = NULL;
	char		why[256];
	Forest	   *forest;
	instr_time	start,
				elapsed;

	INSTR_TIME_SET_CURRENT(start);
	XGB_CALL(XGBoosterSaveModelToBuffer(booster, "{\"format\": \"ubj\"}", &len, &data));
	if (len > FOREST_MAX_MODEL_BYTES)
	{
		elog(DEBUG1, "mlops: no native tree walk: model of %llu bytes is larger than %llu",
			 (unsigned long long) len, (unsigned long long) FOREST_MAX_MODEL_BYTES);
		return NULL;
	}
	cxt = AllocSetContextCreate(owner, "mlops forest", ALLOCSET_DEFAULT_SIZES);
	forest = ForestFromUbjson((const unsigned char *) data, (size_t) len, ForestAlloc, cxt,
							  why, sizeof(why));
	if (forest != NULL && forest->nfeatures != nfeatures)
	{
		snprintf(why, sizeof(why), "the trees expect %d features, the booster %d",
				 forest->nfeatures, nfeatures);
		forest = NULL;
	}
	if (forest != NULL && !ForestAgrees(booster, forest, why, sizeof(why)))
		forest = NULL;
	if (forest == NULL)
	{
		elog(DEBUG1, "mlops: no native tree walk: %s", why);
		MemoryContextDelete(cxt);
		return NULL;
	}
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	elog(DEBUG1, "mlops: native tree walk over %d trees, %lld nodes, depth %d",
		 forest->ntrees, (long long) forest->nnodes, forest->max_depth);
	elog(DEBUG2, "mlops: the trees were copied and checked in %.1f ms", INSTR_TIME_GET_MILLISEC(elapsed));
	return forest;
}

/*
 * XgbForestPredict predicts nrow rows (row-major, forest->nfeatures wide,
 * NaN = missing) with the forest into out (nrow * ForestOutputsPerRow
 * floats).
 */
void
XgbForestPredict(const Forest *forest, const float *x, int64 nrow, float *out)
{
	int			per_row = ForestOutputsPerRow(forest);

	for (int64 i = 0; i < nrow; i += FOREST_BLOCK_ROWS)
	{
		CHECK_FOR_INTERRUPTS();
		ForestPredictRows(forest, x + i * forest->nfeatures, Min(FOREST_BLOCK_ROWS, nrow - i),
						  out + i * per_row);
	}
}

/*
 * ForestAgrees predicts the check rows with the forest and with XGBoost and
 * returns whether every output has the same bits; when not, why says which.
 */
static bool
ForestAgrees(BoosterHandle booster, const Forest *forest, char *why, size_t whylen)
{
	int			per_row = ForestOutputsPerRow(forest);
	int			nrows = (int) Max(FOREST_CHECK_MIN_ROWS,
								  Min(FOREST_CHECK_ROWS, FOREST_CHECK_FLOATS / forest->nfeatures));
	int64		nout = (int64) nrows * per_row;
	float	   *rows = palloc_extended(sizeof(float) * (Size) nrows * forest->nfeatures, MCXT_ALLOC_HUGE);
	float	   *walked = palloc(sizeof(float) * nout);
	const float *xgb;
	bst_ulong	len = 0;
	bool		agree = true;

	FillCheckRows(forest, rows, nrows);
	XgbForestPredict(forest, rows, nrows, walked);
	xgb = XgbPredictDense(booster, rows, nrows, forest->nfeatures, &len);
	if (len != (bst_ulong) nout)
	{
		snprintf(why, whylen, "XGBoost returned %llu outputs for %d rows, the trees %lld",
				 (unsigned long long) len, nrows, (long long) nout);
		agree = false;
	}
	for (int64 i = 0; agree && i < nout; i++)
	{
		if (memcmp(&xgb[i], &walked[i], sizeof(float)) != 0)
		{
			snprintf(why, whylen, "check row %lld output %lld: XGBoost %.9g, the trees %.9g",
					 (long long) (i / per_row), (long long) (i % per_row),
					 (double) xgb[i], (double) walked[i]);
			agree = false;
		}
	}
	pfree(rows);
	pfree(walked);
	return agree;
}

/* CollectThresholds lists each feature's split thresholds and their range. */
static void
CollectThresholds(const Forest *forest, FeatureThresholds *ft)
{
	int			nf = forest->nfeatures;
	int32	   *fill = palloc0(sizeof(int32) * (nf + 1));
	int64		nsplits = 0;

	ft->start = palloc0(sizeof(int32) * (nf + 1));
	ft->lo = palloc(sizeof(float) * nf);
	ft->hi = palloc(sizeof(float) * nf);
	for (int64 k = 0; k < forest->nnodes; k++)
		if (forest->nodes[k].left >= 0)
		{
			ft->start[(forest->nodes[k].feature & ~FOREST_DEFAULT_LEFT) + 1]++;
			nsplits++;
		}
	for (int f = 0; f < nf; f++)
		ft->start[f + 1] += ft->start[f];
	ft->values = palloc(sizeof(float) * (nsplits + 1));
	for (int64 k = 0; k < forest->nnodes; k++)
	{
		const ForestNode *node = &forest->nodes[k];
		int			f = (int) (node->feature & ~FOREST_DEFAULT_LEFT);

		if (node->left < 0)
			continue;
		ft->values[ft->start[f] + fill[f]] = node->value;
		if (fill[f] == 0 || node->value < ft->lo[f])
			ft->lo[f] = node->value;
		if (fill[f] == 0 || node->value > ft->hi[f])
			ft->hi[f] = node->value;
		fill[f]++;
	}
	pfree(fill);
}

/* NextRandom is xorshift64*: a fixed sequence from a fixed seed. */
static uint64
NextRandom(uint64 *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64CONST(2685821657736338717);
}

/*
 * FillCheckRows fills nrows rows of check values (see the file header):
 * row 0 all missing, the others drawn per feature from its thresholds,
 * their neighbours, NaN and its threshold range.
 */
static void
FillCheckRows(const Forest *forest, float *rows, int nrows)
{
	FeatureThresholds ft;
	uint64		state = UINT64CONST(0x9E3779B97F4A7C15);
	int			nf = forest->nfeatures;

	CollectThresholds(forest, &ft);
	for (int r = 0; r < nrows; r++)
	{
		CHECK_FOR_INTERRUPTS();
		for (int f = 0; f < nf; f++)
		{
			uint64		u = NextRandom(&state);
			int			kind = (int) (u % 16);
			int32		nthr = ft.start[f + 1] - ft.start[f];
			float		t = nthr > 0 ? ft.values[ft.start[f] + (int32) ((u >> 8) % (uint64) nthr)] : 0.0f;
			double		frac = (double) ((u >> 20) % 1000001) / 1000000.0;
			float		v;

			if (r == 0 || kind < 2)
				v = NAN;
			else if (nthr == 0)
				v = (float) (frac * 200.0 - 100.0);
			else if (kind < 8)
				v = t;
			else if (kind < 10)
				v = nextafterf(t, INFINITY);
			else if (kind < 12)
				v = nextafterf(t, -INFINITY);
			else
				v = (float) (ft.lo[f] + ((double) ft.hi[f] - ft.lo[f]) * (frac * 1.2 - 0.1));
			if (isinf(v))
				v = t;
			rows[(int64) r * nf + f] = v;
		}
	}
	pfree(ft.start);
	pfree(ft.values);
	pfree(ft.lo);
	pfree(ft.hi);
}
