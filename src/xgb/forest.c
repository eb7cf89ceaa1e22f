/*
 * forest.c
 *	  A tree walker of our own over a gbtree model, for predictions of a
 *	  few rows.
 *
 * Why
 * ---
 * XGBoost's C API costs about 17 microseconds per call before it walks a
 * single tree (it parses the JSON configuration and the array interface,
 * allocates per-thread buffers, enters OpenMP), several times what walking
 * 50 trees for one row costs.  One-row serving pays that on every call.  So
 * the model cache builds a flat copy of a cached booster's trees once, on
 * its first small call (xgb_forest.c, XgbForestBuild), and predicts small
 * calls with it; large batches and anything this file does not support
 * stay with XGBoost, except predict_table's chunks on two threads
 * (predict.c).  The walk itself is faster per row than XGBoost's: rows go
 * through each tree in blocks (ForestPredictRows) and eight of them in
 * lockstep (WalkTree), so their node loads overlap: 0.55 s per million
 * rows of a 50-tree, depth-6 model on one core against XGBoost's 0.80 s.
 *
 * What it reproduces, from XGBoost 1.7.4's sources
 * ------------------------------------------------
 *  - the walk (predictor/predict_fn.h GetNextNode, cpu_predictor.cc
 *    GetLeafIndex): a missing feature (NaN) takes the node's default child;
 *    otherwise the walk goes left when fvalue < split_cond, else right;
 *    a node is a leaf when it has no left child, and a leaf's value is its
 *    split_conditions entry (RegTree::Node keeps both in one union);
 *  - the sum (cpu_predictor.cc PredictByAllTrees): each output starts at
 *    the base margin and every tree's leaf value is added to its output
 *    group (tree_info) in tree order, in float; every tree is used, as
 *    mlops predicts with iteration_end 0 (xgb.c predict_config);
 *  - the base margin (learner.cc): base_score, read from its shortest
 *    decimal string, through the objective's ProbToMargin: -logf(1/b - 1)
 *    for the logistic objectives, logf(b) for the exponential ones, b
 *    itself otherwise;
 *  - the transforms (objective PredTransform, common/math.h): Sigmoid with
 *    its 88.7 clamp and 1e-16 epsilon, expf, the hinge's step, Softmax with
 *    its double sum, FindMaxIndex for multi:softmax.
 * Float operations are written in XGBoost's order and types so that the
 * results are the same bits; the caller checks that they are on sample
 * rows before it uses a forest (xgb.c), so a difference in compilers or
 * libm can cost speed, never a wrong answer.
 *
 * What it refuses (the caller then predicts with XGBoost)
 * -------------------------------------------------------
 * Boosters other than gbtree (dart's weights, gblinear), categorical
 * splits, vector leaves (size_leaf_vector > 0), multi-target models,
 * objectives not listed in ObjectiveOf, forests of more than
 * FOREST_MAX_NODES reachable nodes or deeper than FOREST_MAX_DEPTH, and
 * any malformed tree: a child index out of range, a node reached twice (a
 * cycle or shared subtree), a node with one child, a split on a feature
 * the model does not have, a non-numeric value.  Nothing here trusts the
 * model's structure: every index is checked before it is followed, so the
 * walk (ForestPredictRow) needs no check of its own.
 *
 * Memory: the forest comes from the caller's allocator; two scratch arrays
 * of the largest tree's size are malloc'd and freed before return (nothing
 * here can exit in between).
 */
#include <jansson.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xgb/forest.h"
#include "xgb/modelcheck.h"

/* how the objective turns base_score into the base margin (ProbToMargin) */
typedef enum MarginKind
{
	MARGIN_SAME,
	MARGIN_LOGIT,
	MARGIN_LOG
} MarginKind;

/* scratch arrays of one tree's build */
typedef struct TreeScratch
{
	int32_t    *new_index;		/* old node -> its index in the forest, -1 if unseen */
	int32_t    *old_index;		/* forest index - first -> the old node */
} TreeScratch;

static int	Fail(char *err, size_t errlen, const char *fmt,...) __attribute__((format(printf, 3, 4)));
static int	ObjectiveOf(const char *name, ForestTransform *transform, MarginKind *margin);
static int	ParamInt(json_t *obj, const char *key, int64_t *value);
static int	IntAt(json_t *arr, int64_t i, int64_t *value);
static int	NumberAt(json_t *arr, int64_t i, double *value);
static int	CountNodes(json_t *trees, int64_t *total, int64_t *largest, char *err, size_t errlen);
static int	AddTree(Forest *forest, json_t *tree, int32_t t, TreeScratch *scratch,
					char *err, size_t errlen);
static int	AddNode(Forest *forest, json_t *tree, int32_t t, int64_t old, int is_leaf,
					ForestNode *node, char *err, size_t errlen);
static float BaseMargin(float base_score, MarginKind margin);
static float Sigmoid(float x);
static void Transform(const Forest *forest, const float *margins, float *out);
static inline int32_t Step(const ForestNode *node, const float *x);
static void WalkTree(const Forest *forest, int32_t root, const float *x, int64_t n, float *margins);

/* Fail writes a message into err and returns 0. */
static int
Fail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return 0;
}

/*
 * ObjectiveOf sets what an objective does to margins and to base_score;
 * it returns 0 for an objective this file does not reproduce.
 */
static int
ObjectiveOf(const char *name, ForestTransform *transform, MarginKind *margin)
{
	static const struct
	{
		const char *name;
		ForestTransform transform;
		MarginKind	margin;
	}			known[] = {
		{"reg:squarederror", FOREST_IDENTITY, MARGIN_SAME},
		{"reg:squaredlogerror", FOREST_IDENTITY, MARGIN_SAME},
		{"reg:pseudohubererror", FOREST_IDENTITY, MARGIN_SAME},
		{"reg:absoluteerror", FOREST_IDENTITY, MARGIN_SAME},
		{"binary:logitraw", FOREST_IDENTITY, MARGIN_SAME},
		{"reg:logistic", FOREST_SIGMOID, MARGIN_LOGIT},
		{"binary:logistic", FOREST_SIGMOID, MARGIN_LOGIT},
		{"binary:hinge", FOREST_HINGE, MARGIN_SAME},
		{"count:poisson", FOREST_EXP, MARGIN_LOG},
		{"reg:gamma", FOREST_EXP, MARGIN_LOG},
		{"reg:tweedie", FOREST_EXP, MARGIN_LOG},
		{"multi:softprob", FOREST_SOFTPROB, MARGIN_SAME},
		{"multi:softmax", FOREST_SOFTMAX, MARGIN_SAME},
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i].name) == 0)
		{
			*transform = known[i].transform;
			*margin = known[i].margin;
			return 1;
		}
	return 0;
}

/*
 * ParamInt reads an integer parameter, which XGBoost writes as a decimal
 * string ("num_class": "3"); a JSON integer is accepted too.  It returns 0
 * when the key is missing or not a whole integer.
 */
static int
ParamInt(json_t *obj, const char *key, int64_t *value)
{
	json_t	   *v = json_object_get(obj, key);
	const char *s;
	char	   *end;
	long long	n;

	if (json_is_integer(v))
	{
		*value = (int64_t) json_integer_value(v);
		return 1;
	}
	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	n = strtoll(s, &end, 10);
	if (end == s || *end != '\0')
		return 0;
	*value = (int64_t) n;
	return 1;
}

/* IntAt reads arr[i] as an integer (a boolean counts as 0 or 1). */
static int
IntAt(json_t *arr, int64_t i, int64_t *value)
{
	json_t	   *v = json_array_get(arr, (size_t) i);

	if (json_is_integer(v))
		*value = (int64_t) json_integer_value(v);
	else if (json_is_boolean(v))
		*value = json_is_true(v) ? 1 : 0;
	else
		return 0;
	return 1;
}

/* NumberAt reads arr[i] as a number (integer or real). */
static int
NumberAt(json_t *arr, int64_t i, double *value)
{
	json_t	   *v = json_array_get(arr, (size_t) i);

	if (!json_is_number(v))
		return 0;
	*value = json_number_value(v);
	return 1;
}

/*
 * CountNodes sums the node counts of the trees (the lengths of their
 * left_children arrays) and finds the largest, refusing more than
 * FOREST_MAX_NODES in all.
 */
static int
CountNodes(json_t *trees, int64_t *total, int64_t *largest, char *err, size_t errlen)
{
	*total = 0;
	*largest = 0;
	for (size_t t = 0; t < json_array_size(trees); t++)
	{
		json_t	   *left = json_object_get(json_array_get(trees, t), "left_children");
		int64_t		n = (int64_t) json_array_size(left);

		if (!json_is_array(left) || n < 1)
			return Fail(err, errlen, "tree %zu has no nodes", t);
		*total += n;
		if (n > *largest)
			*largest = n;
		if (*total > FOREST_MAX_NODES)
			return Fail(err, errlen, "the trees have more than %lld nodes",
						(long long) FOREST_MAX_NODES);
	}
	return 1;
}

/*
 * ForestFromUbjson builds the forest of a model in XGBoost's UBJSON format,
 * decoded by modelcheck's reader (which checks every length against the
 * bytes).  UBJSON carries XGBoost's float32 values as they are in memory,
 * so thresholds and leaf values need no decimal conversion.  It returns
 * NULL with the reason in err, as ForestFromModel.
 */
Forest *
ForestFromUbjson(const unsigned char *buf, size_t len, ForestAllocFn alloc, void *alloc_arg,
				 char *err, size_t errlen)
{
	ModelCheckLimits limits;
	json_t	   *model = NULL;
	Forest	   *forest;

	ModelCheckDefaultLimits(&limits);
	if (ModelCheckParseUbjson(buf, len, &limits, &model, err, errlen) != MODELCHECK_OK)
		return NULL;
	forest = ForestFromModel(model, alloc, alloc_arg, err, errlen);
	json_decref(model);
	return forest;
}

/*
 * ForestFromModel builds the forest of a decoded XGBoost model (the tree
 * modelcheck's readers produce) with memory from alloc.  It returns NULL,
 * with the reason in err, for a model it does not support or a malformed
 * one.
 */
Forest *
ForestFromModel(json_t *model, ForestAllocFn alloc, void *alloc_arg, char *err, size_t errlen)
{
	json_t	   *learner = json_object_get(model, "learner");
	json_t	   *booster = json_object_get(learner, "gradient_booster");
	json_t	   *lmp = json_object_get(learner, "learner_model_param");
	json_t	   *gbmodel = json_object_get(booster, "model");
	json_t	   *trees = json_object_get(gbmodel, "trees");
	json_t	   *tree_info = json_object_get(gbmodel, "tree_info");
	const char *objective = json_string_value(json_object_get(json_object_get(learner, "objective"), "name"));
	const char *base_text = json_string_value(json_object_get(lmp, "base_score"));
	const char *booster_name = json_string_value(json_object_get(booster, "name"));
	int64_t		num_feature,
				num_class = 0,
				num_target = 1,
				leaf_vector = 0,
				total,
				largest;
	ForestTransform transform;
	MarginKind	margin;
	Forest	   *forest;
	TreeScratch scratch;
	char	   *end;
	float		base_score;
	int			ok = 1;

	if (booster_name == NULL || strcmp(booster_name, "gbtree") != 0)
		return Fail(err, errlen, "booster %s is not gbtree", booster_name ? booster_name : "(none)"), NULL;
	if (objective == NULL || !ObjectiveOf(objective, &transform, &margin))
		return Fail(err, errlen, "objective %s is not supported", objective ? objective : "(none)"), NULL;
	if (!ParamInt(lmp, "num_feature", &num_feature) || num_feature < 1 || num_feature > INT32_MAX / 2 ||
		(json_object_get(lmp, "num_class") && !ParamInt(lmp, "num_class", &num_class)) ||
		(json_object_get(lmp, "num_target") && !ParamInt(lmp, "num_target", &num_target)))
		return Fail(err, errlen, "learner_model_param is not readable"), NULL;
	if (num_target != 1)
		return Fail(err, errlen, "multi-target models are not supported"), NULL;
	if ((transform == FOREST_SOFTPROB || transform == FOREST_SOFTMAX) !=
		(num_class > 1) || num_class > FOREST_MAX_GROUPS || num_class < 0)
		return Fail(err, errlen, "num_class %lld does not fit objective %s",
					(long long) num_class, objective), NULL;
	if (json_object_get(json_object_get(gbmodel, "gbtree_model_param"), "size_leaf_vector") &&
		(!ParamInt(json_object_get(gbmodel, "gbtree_model_param"), "size_leaf_vector", &leaf_vector) ||
		 leaf_vector != 0))
		return Fail(err, errlen, "vector leaves are not supported"), NULL;
	if (base_text == NULL)
		return Fail(err, errlen, "base_score is missing"), NULL;
	base_score = strtof(base_text, &end);
	if (end == base_text || *end != '\0' || !isfinite(base_score))
		return Fail(err, errlen, "base_score is not a finite number"), NULL;
	if (!json_is_array(trees) || !json_is_array(tree_info) ||
		json_array_size(trees) != json_array_size(tree_info) ||
		json_array_size(trees) > (size_t) FOREST_MAX_NODES)
		return Fail(err, errlen, "trees and tree_info do not match"), NULL;
	if (!CountNodes(trees, &total, &largest, err, errlen))
		return NULL;

	forest = alloc(alloc_arg, sizeof(Forest));
	if (forest == NULL)
		return Fail(err, errlen, "out of memory"), NULL;
	memset(forest, 0, sizeof(Forest));
	forest->ntrees = (int32_t) json_array_size(trees);
	forest->ngroups = num_class > 1 ? (int32_t) num_class : 1;
	forest->nfeatures = (int32_t) num_feature;
	forest->transform = transform;
	forest->base_margin = BaseMargin(base_score, margin);
	forest->roots = alloc(alloc_arg, sizeof(int32_t) * (forest->ntrees + 1));
	forest->groups = alloc(alloc_arg, sizeof(int32_t) * (forest->ntrees + 1));
	forest->nodes = alloc(alloc_arg, sizeof(ForestNode) * (size_t) (total + 1));
	scratch.new_index = malloc(sizeof(int32_t) * (size_t) (largest + 1));
	scratch.old_index = malloc(sizeof(int32_t) * (size_t) (largest + 1));
	if (forest->roots == NULL || forest->groups == NULL || forest->nodes == NULL ||
		scratch.new_index == NULL || scratch.old_index == NULL)
		ok = Fail(err, errlen, "out of memory");
	for (int32_t t = 0; ok && t < forest->ntrees; t++)
	{
		int64_t		group;

		if (!IntAt(tree_info, t, &group) || group < 0 || group >= forest->ngroups)
			ok = Fail(err, errlen, "tree_info[%d] is not an output group", t);
		else
		{
			forest->groups[t] = (int32_t) group;
			ok = AddTree(forest, json_array_get(trees, t), t, &scratch, err, errlen);
		}
	}
	free(scratch.new_index);
	free(scratch.old_index);
	return ok ? forest : NULL;
}

/*
 * AddTree appends tree t's reachable nodes to the forest, numbered breadth
 * first so that each node's two children are adjacent and after it, and
 * checks every index before following it.
 */
static int
AddTree(Forest *forest, json_t *tree, int32_t t, TreeScratch *scratch, char *err, size_t errlen)
{
	json_t	   *left = json_object_get(tree, "left_children");
	json_t	   *right = json_object_get(tree, "right_children");
	int64_t		n = (int64_t) json_array_size(left);
	int64_t		first = forest->nnodes;
	int64_t		next = first + 1;
	int64_t		level_end = next;
	int32_t		depth = 0;

	for (int64_t i = 0; i < n; i++)
		scratch->new_index[i] = -1;
	if ((int64_t) json_array_size(right) != n)
		return Fail(err, errlen, "tree %d: right_children has %zu nodes, not %lld",
					t, json_array_size(right), (long long) n);
	forest->roots[t] = (int32_t) first;
	scratch->new_index[0] = (int32_t) first;
	scratch->old_index[0] = 0;
	for (int64_t k = first; k < next; k++)
	{
		int64_t		old = scratch->old_index[k - first];
		int64_t		l,
					r;
		ForestNode *node = &forest->nodes[k];

		if (k == level_end)
		{
			level_end = next;
			if (++depth > FOREST_MAX_DEPTH)
				return Fail(err, errlen, "tree %d is deeper than %d", t, FOREST_MAX_DEPTH);
		}
		if (!IntAt(left, old, &l) || !IntAt(right, old, &r))
			return Fail(err, errlen, "tree %d: children of node %lld are not integers", t, (long long) old);
		if (!AddNode(forest, tree, t, old, l == -1 && r == -1, node, err, errlen))
			return 0;
		if (l == -1 && r == -1)
		{
			node->left = -1;
			continue;
		}
		if (l < 0 || r < 0 || l >= n || r >= n)
			return Fail(err, errlen, "tree %d: a child of node %lld is out of range", t, (long long) old);
		if (l == r || scratch->new_index[l] != -1 || scratch->new_index[r] != -1)
			return Fail(err, errlen, "tree %d: node %lld is reached twice", t,
						(long long) (scratch->new_index[l] != -1 ? l : r));
		node->left = (int32_t) next;
		scratch->new_index[l] = (int32_t) next;
		scratch->new_index[r] = (int32_t) (next + 1);
		scratch->old_index[next - first] = (int32_t) l;
		scratch->old_index[next + 1 - first] = (int32_t) r;
		next += 2;
	}
	if (depth > forest->max_depth)
		forest->max_depth = depth;
	forest->nnodes = next;
	return 1;
}

/*
 * AddNode fills a node's split (feature, threshold, default direction) or
 * leaf value from the tree's arrays at index old; the caller sets left.
 * Only numeric splits are accepted.
 */
static int
AddNode(Forest *forest, json_t *tree, int32_t t, int64_t old, int is_leaf, ForestNode *node,
		char *err, size_t errlen)
{
	json_t	   *split_type = json_object_get(tree, "split_type");
	int64_t		feature,
				dleft,
				stype = 0;
	double		value;

	if (!is_leaf && split_type != NULL && (!IntAt(split_type, old, &stype) || stype != 0))
		return Fail(err, errlen, "tree %d: node %lld is not a numeric split", t, (long long) old);
	if (!NumberAt(json_object_get(tree, "split_conditions"), old, &value) || isnan(value))
		return Fail(err, errlen, "tree %d: split_conditions[%lld] is not a number", t, (long long) old);
	node->value = (float) value;
	node->feature = 0;
	if (is_leaf)
		return 1;
	if (!IntAt(json_object_get(tree, "split_indices"), old, &feature) ||
		feature < 0 || feature >= forest->nfeatures)
		return Fail(err, errlen, "tree %d: node %lld splits on a feature out of range", t, (long long) old);
	if (!IntAt(json_object_get(tree, "default_left"), old, &dleft) || (dleft != 0 && dleft != 1))
		return Fail(err, errlen, "tree %d: default_left[%lld] is not 0 or 1", t, (long long) old);
	node->feature = (uint32_t) feature | (dleft ? FOREST_DEFAULT_LEFT : 0);
	return 1;
}

/*
 * BaseMargin is XGBoost's ProbToMargin of base_score for the objective
 * (regression_loss.h, regression_obj.cu), in float as there.
 */
static float
BaseMargin(float base_score, MarginKind margin)
{
	switch (margin)
	{
		case MARGIN_LOGIT:
			return -logf(1.0f / base_score - 1.0f);
		case MARGIN_LOG:
			return logf(base_score);
		case MARGIN_SAME:
			break;
	}
	return base_score;
}

/* ForestOutputsPerRow returns the floats ForestPredictRow writes per row. */
int
ForestOutputsPerRow(const Forest *forest)
{
	return forest->transform == FOREST_SOFTPROB ? forest->ngroups : 1;
}

/* Sigmoid is common::Sigmoid of XGBoost 1.7 (math.h), operation for operation. */
static float
Sigmoid(float x)
{
	const float eps = 1e-16f;
	float		t = -x;
	float		denom;

	if (88.7f < t)				/* std::min(-x, 88.7f) */
		t = 88.7f;
	denom = expf(t) + 1.0f + eps;
	return 1.0f / denom;
}

/*
 * ForestPredictRow predicts one row of forest->nfeatures floats (NaN =
 * missing) into out (ForestOutputsPerRow floats), as XGBoost's in-place
 * prediction of plain values does.  Each walk moves to a larger node index
 * of its tree at every step, so it ends within the tree's size.
 */
void
ForestPredictRow(const Forest *forest, const float *x, float *out)
{
	float		margins[FOREST_MAX_GROUPS];
	const ForestNode *nodes = forest->nodes;

	for (int32_t g = 0; g < forest->ngroups; g++)
		margins[g] = forest->base_margin;
	for (int32_t t = 0; t < forest->ntrees; t++)
	{
		int32_t		nid = forest->roots[t];

		while (nodes[nid].left >= 0)
			nid = Step(&nodes[nid], x);
		margins[forest->groups[t]] += nodes[nid].value;
	}
	Transform(forest, margins, out);
}

/*
 * ForestPredictRows predicts nrow rows (row-major, forest->nfeatures wide,
 * NaN = missing) into out (ForestOutputsPerRow floats per row).  Like
 * XGBoost's CPU predictor, it walks blocks of rows through one tree at a
 * time, so that the tree stays in the first-level cache (WalkTree); each
 * row's margins still add up from the base margin in tree order, so every
 * row gets the bits a walk of that row alone would give (ForestPredictRow,
 * which walks fewer rows than FOREST_LANES faster).
 */
void
ForestPredictRows(const Forest *forest, const float *x, int64_t nrow, float *out)
{
	float		margins[FOREST_MAX_GROUPS];
	int32_t		ng = forest->ngroups;
	int32_t		nf = forest->nfeatures;
	int			per_row = ForestOutputsPerRow(forest);
	int64_t		block = FOREST_MAX_GROUPS / ng;

	if (nrow < FOREST_LANES)
	{
		for (int64_t r = 0; r < nrow; r++)
			ForestPredictRow(forest, x + r * nf, out + r * per_row);
		return;
	}
	if (block > FOREST_BLOCK_ROWS)
		block = FOREST_BLOCK_ROWS;
	for (int64_t first = 0; first < nrow; first += block)
	{
		int64_t		n = nrow - first < block ? nrow - first : block;

		for (int64_t i = 0; i < n * ng; i++)
			margins[i] = forest->base_margin;
		for (int32_t t = 0; t < forest->ntrees; t++)
			WalkTree(forest, forest->roots[t], x + first * nf, n, margins + forest->groups[t]);
		for (int64_t r = 0; r < n; r++)
			Transform(forest, margins + r * ng, out + (first + r) * per_row);
	}
}

/*
 * Step moves a walk from internal node node one level down for row x:
 * below the threshold left, at or above it right, missing to the default
 * child (XGBoost's GetNextNode).  The child has a larger index than node.
 */
static inline int32_t
Step(const ForestNode *node, const float *x)
{
	float		v = x[node->feature & ~FOREST_DEFAULT_LEFT];

	if (isnan(v))
		return node->left + ((node->feature & FOREST_DEFAULT_LEFT) ? 0 : 1);
	return node->left + !(v < node->value);
}

/*
 * WalkTree walks n rows from x through the tree whose root is root and adds
 * each row's leaf value to its margin (margins[r * ngroups]).  Rows go
 * FOREST_LANES at a time, in lockstep: their walks are independent, so the
 * processor overlaps their loads instead of waiting for one walk's next
 * node.  Every step moves to a larger node index of the tree, so each walk
 * ends within the tree's size.
 */
static void
WalkTree(const Forest *forest, int32_t root, const float *x, int64_t n, float *margins)
{
	const ForestNode *nodes = forest->nodes;
	int32_t		nf = forest->nfeatures;
	int32_t		ng = forest->ngroups;
	int64_t		r = 0;

	for (; r + FOREST_LANES <= n; r += FOREST_LANES)
	{
		int32_t		nid[FOREST_LANES];
		int			live = 1;

		for (int k = 0; k < FOREST_LANES; k++)
			nid[k] = root;
		while (live)
		{
			live = 0;
			for (int k = 0; k < FOREST_LANES; k++)
			{
				const ForestNode *node = &nodes[nid[k]];

				if (node->left >= 0)
				{
					nid[k] = Step(node, x + (r + k) * nf);
					live = 1;
				}
			}
		}
		for (int k = 0; k < FOREST_LANES; k++)
			margins[(r + k) * ng] += nodes[nid[k]].value;
	}
	for (; r < n; r++)
	{
		int32_t		nid = root;

		while (nodes[nid].left >= 0)
			nid = Step(&nodes[nid], x + r * nf);
		margins[r * ng] += nodes[nid].value;
	}
}

/*
 * Transform turns one row's margins (ngroups of them) into its outputs, as
 * the objective's PredTransform does.
 */
static void
Transform(const Forest *forest, const float *margins, float *out)
{
	int32_t		ng = forest->ngroups;

	switch (forest->transform)
	{
		case FOREST_IDENTITY:
			out[0] = margins[0];
			break;
		case FOREST_SIGMOID:
			out[0] = Sigmoid(margins[0]);
			break;
		case FOREST_EXP:
			out[0] = expf(margins[0]);
			break;
		case FOREST_HINGE:
			out[0] = margins[0] > 0.0 ? 1.0f : 0.0f;
			break;
		case FOREST_SOFTPROB:
			{
				/* common::Softmax: float max, double sum, float division */
				float		wmax = margins[0];
				double		wsum = 0.0;

				for (int32_t g = 1; g < ng; g++)
					wmax = fmaxf(margins[g], wmax);
				for (int32_t g = 0; g < ng; g++)
				{
					out[g] = expf(margins[g] - wmax);
					wsum += out[g];
				}
				for (int32_t g = 0; g < ng; g++)
					out[g] /= (float) wsum;
				break;
			}
		case FOREST_SOFTMAX:
			{
				/* common::FindMaxIndex: the first of the largest */
				int32_t		best = 0;

				for (int32_t g = 0; g < ng; g++)
					if (margins[g] > margins[best])
						best = g;
				out[0] = (float) best;
				break;
			}
	}
}
