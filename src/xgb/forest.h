/*
 * forest.h
 *	  A flat copy of a gbtree model's trees and the walk that predicts with
 *	  it, bit for bit as XGBoost 1.7's CPU predictor does (see forest.c).
 *
 * Pure C (jansson, libm); no PostgreSQL headers, so that the unit tests
 * build it alone.  The forest's memory comes from a caller-supplied
 * allocator (in the server: the cached model's memory context).
 */
#ifndef MLOPS_FOREST_H
#define MLOPS_FOREST_H

#include <stddef.h>
#include <stdint.h>

struct json_t;

/* the largest forest built: nodes over all trees (12 bytes each, 3 MB) */
#define FOREST_MAX_NODES ((int64_t) 1 << 18)
/* the deepest tree walked (the walk's steps are bounded by this) */
#define FOREST_MAX_DEPTH 256
/* the most output groups (classes) */
#define FOREST_MAX_GROUPS 1024
/* rows walked through one tree at a time (ForestPredictRows), as XGBoost's */
#define FOREST_BLOCK_ROWS 64
/* rows of a block walked through a tree together, in lockstep */
#define FOREST_LANES 8

/* What the objective does to the summed margin (XGBoost's PredTransform) */
typedef enum ForestTransform
{
	FOREST_IDENTITY,			/* reg:squarederror, binary:logitraw, ... */
	FOREST_SIGMOID,				/* reg:logistic, binary:logistic */
	FOREST_EXP,					/* count:poisson, reg:gamma, reg:tweedie */
	FOREST_HINGE,				/* binary:hinge: 1 if margin > 0 else 0 */
	FOREST_SOFTPROB,			/* multi:softprob: one probability per class */
	FOREST_SOFTMAX				/* multi:softmax: the index of the largest margin */
} ForestTransform;

/*
 * One node.  The two children of an internal node are adjacent: the walk
 * goes to left + (goes right), as XGBoost's GetNextNode does.  A leaf has
 * left = -1 and its value in value.  Children always have larger indexes
 * than their parent (the builder numbers nodes breadth first), so a walk
 * can neither loop nor leave its tree.
 */
typedef struct ForestNode
{
	int32_t		left;			/* first child, or -1 for a leaf */
	uint32_t	feature;		/* split feature; FOREST_DEFAULT_LEFT bit: missing goes left */
	float		value;			/* split threshold, or the leaf value */
} ForestNode;

#define FOREST_DEFAULT_LEFT ((uint32_t) 1 << 31)

typedef struct Forest
{
	int32_t		ntrees;
	int32_t		ngroups;		/* output groups: classes of multi:*, else 1 */
	int32_t		nfeatures;		/* the row width the model expects */
	int32_t		max_depth;		/* deepest tree */
	ForestTransform transform;
	float		base_margin;	/* base_score through the objective's ProbToMargin */
	int32_t    *roots;			/* ntrees: index of each tree's root in nodes */
	int32_t    *groups;			/* ntrees: the output group each tree adds to */
	ForestNode *nodes;
	int64_t		nnodes;
} Forest;

/* allocator of the forest's memory; returns NULL when out of memory */
typedef void *(*ForestAllocFn) (void *arg, size_t size);

extern Forest *ForestFromUbjson(const unsigned char *buf, size_t len, ForestAllocFn alloc,
								void *alloc_arg, char *err, size_t errlen);
extern Forest *ForestFromModel(struct json_t *model, ForestAllocFn alloc, void *alloc_arg,
							   char *err, size_t errlen);
extern int	ForestOutputsPerRow(const Forest *forest);
extern void ForestPredictRow(const Forest *forest, const float *x, float *out);
extern void ForestPredictRows(const Forest *forest, const float *x, int64_t nrow, float *out);

#endif							/* MLOPS_FOREST_H */
