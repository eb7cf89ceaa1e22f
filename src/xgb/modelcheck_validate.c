/*
 * modelcheck_validate.c
 *	  The structural validator of decoded XGBoost models.
 *
 * ModelCheckValidate walks a decoded tree top-down (learner, objective,
 * gradient booster, every tree) and establishes the invariants listed in
 * modelcheck.c: only the keys and JSON types XGBoost 1.7 writes, counts
 * within fixed caps, every tree a tree whose splits stay within
 * num_feature, categorical splits consistent.  Along the way it gathers
 * what the registry needs (ModelCheckInfo).  Pure C (jansson, libc).
 */
#include <jansson.h>

#include "xgb/modelcheck_int.h"

#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Node index XGBoost writes as the parent of the root. */
#define ROOT_PARENT_MARKER INT64_C(2147483647)
/* Split index XGBoost writes for deleted nodes. */
#define DELETED_NODE_MARKER INT64_C(2147483647)
/* Hard caps that bound what loading and predicting may allocate. */
#define MODELCHECK_MAX_FEATURES INT64_C(1048576)
#define MODELCHECK_MAX_OUTPUTS INT64_C(65536)
#define MODELCHECK_MAX_NODES INT64_C(2147483646)

static const char *const KnownObjectives[] = {
	"reg:squarederror", "reg:squaredlogerror", "reg:logistic",
	"reg:pseudohubererror", "reg:absoluteerror", "reg:gamma", "reg:tweedie",
	"binary:logistic", "binary:logitraw", "binary:hinge",
	"multi:softmax", "multi:softprob",
	"count:poisson", "survival:cox", "survival:aft",
	"rank:pairwise", "rank:ndcg", "rank:map",
	NULL
};

static const char *const KnownFeatureTypes[] = {"q", "c", "int", "float", "i", NULL};

/* the arrays of one tree, as int64 / presence data */
typedef struct TreeArrays
{
	int64_t		n;
	int64_t    *left;
	int64_t    *right;
	int64_t    *parents;
	int64_t    *split_indices;
	int64_t    *split_type;		/* NULL when the tree has no split_type */
} TreeArrays;

static ModelCheckStatus CheckKeys(json_t *obj, const char *path, const char *const *allowed,
								  char *err, size_t errlen);
static ModelCheckStatus GetObject(json_t *parent, const char *key, const char *path,
								  int required, json_t **out, char *err, size_t errlen);
static ModelCheckStatus GetParamInt(json_t *obj, const char *key, const char *path,
									int required, int64_t dflt, int64_t min, int64_t max,
									int64_t *out, char *err, size_t errlen);
static ModelCheckStatus CheckStringMap(json_t *obj, const char *path, char *err, size_t errlen);
static ModelCheckStatus GetIntArray(json_t *obj, const char *key, const char *path,
									int64_t expect_len, int64_t **out, size_t *out_len,
									char *err, size_t errlen);
static ModelCheckStatus CheckFloatArray(json_t *obj, const char *key, const char *path,
										int64_t expect_len, char *err, size_t errlen);
static ModelCheckStatus CheckStringArray(json_t *obj, const char *key, const char *path,
										 int64_t num_feature, const char *const *allowed,
										 char ***out, int *out_n, char *err, size_t errlen);
static ModelCheckStatus ValidateObjective(json_t *learner, ModelCheckInfo *info,
										  char *err, size_t errlen);
static ModelCheckStatus ValidateBooster(json_t *learner, const ModelCheckLimits *limits,
										ModelCheckInfo *info, char *err, size_t errlen);
static ModelCheckStatus ValidateGbtree(json_t *gbtree, const char *path,
									   const ModelCheckLimits *limits,
									   ModelCheckInfo *info, char *err, size_t errlen);
static ModelCheckStatus ValidateTree(json_t *tree, int64_t index, const ModelCheckLimits *limits,
									 const ModelCheckInfo *info, char *err, size_t errlen);
static ModelCheckStatus CheckTreeShape(const TreeArrays *t, int64_t num_deleted,
									   const ModelCheckInfo *info, const char *path,
									   char *err, size_t errlen);
static ModelCheckStatus CheckCategories(json_t *tree, const TreeArrays *t, const char *path,
										const ModelCheckLimits *limits,
										char *err, size_t errlen);
static int	ParseInt64(const char *s, int64_t *out);

/*
 * ModelCheckValidate checks that model is an XGBoost 1.7 model whose
 * structure is safe to load and predict with (see the invariants in the
 * header of modelcheck.c) and fills info.  On failure info holds nothing to free.
 */
ModelCheckStatus
ModelCheckValidate(json_t *model, const ModelCheckLimits *limits, ModelCheckInfo *info,
				   char *err, size_t errlen)
{
	static const char *const top_keys[] = {"learner", "version", NULL};
	static const char *const learner_keys[] = {"attributes", "feature_names", "feature_types",
	"gradient_booster", "learner_model_param", "objective", NULL};
	static const char *const lmp_keys[] = {"base_score", "boost_from_average", "num_class",
	"num_feature", "num_target", NULL};
	json_t	   *learner;
	json_t	   *lmp;
	json_t	   *version;
	json_t	   *attributes;
	json_t	   *base_score;
	char	   *end;
	ModelCheckStatus st;

	memset(info, 0, sizeof(*info));
	if (!json_is_object(model))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL, "model is not a json object");
	if ((st = CheckKeys(model, "model", top_keys, err, errlen)) != MODELCHECK_OK)
		return st;
	version = json_object_get(model, "version");
	if (!json_is_array(version) || json_array_size(version) != 3 ||
		!json_is_integer(json_array_get(version, 0)) ||
		!json_is_integer(json_array_get(version, 1)) ||
		!json_is_integer(json_array_get(version, 2)))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "version must be an array of three integers");

	if ((st = GetObject(model, "learner", "model", 1, &learner, err, errlen)) != MODELCHECK_OK ||
		(st = CheckKeys(learner, "learner", learner_keys, err, errlen)) != MODELCHECK_OK ||
		(st = GetObject(learner, "attributes", "learner", 0, &attributes, err, errlen)) != MODELCHECK_OK ||
		(attributes && (st = CheckStringMap(attributes, "learner.attributes", err, errlen)) != MODELCHECK_OK) ||
		(st = GetObject(learner, "learner_model_param", "learner", 1, &lmp, err, errlen)) != MODELCHECK_OK ||
		(st = CheckKeys(lmp, "learner.learner_model_param", lmp_keys, err, errlen)) != MODELCHECK_OK ||
		(st = CheckStringMap(lmp, "learner.learner_model_param", err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(lmp, "num_feature", "learner.learner_model_param", 1, 0, 1,
						  MODELCHECK_MAX_FEATURES, &info->num_feature, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(lmp, "num_class", "learner.learner_model_param", 1, 0, 0,
						  MODELCHECK_MAX_OUTPUTS, &info->num_class, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(lmp, "num_target", "learner.learner_model_param", 0, 1, 1,
						  MODELCHECK_MAX_OUTPUTS, &info->num_target, err, errlen)) != MODELCHECK_OK)
		return st;
	if (json_object_get(lmp, "boost_from_average") != NULL)
	{
		int64_t		bfa;

		if ((st = GetParamInt(lmp, "boost_from_average", "learner.learner_model_param", 1, 0, 0, 1,
							  &bfa, err, errlen)) != MODELCHECK_OK)
			return st;
	}
	base_score = json_object_get(lmp, "base_score");
	if (base_score == NULL)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "learner.learner_model_param lacks \"base_score\"");
	info->base_score = strtod(json_string_value(base_score), &end);
	if (end == json_string_value(base_score) || *end != '\0' || !isfinite(info->base_score) ||
		fabs(info->base_score) > FLT_MAX)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "learner.learner_model_param.base_score \"%.32s\" is not a finite number",
						  json_string_value(base_score));
	if (info->num_class > 1 && info->num_target > 1)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "num_class and num_target cannot both exceed 1");
	info->num_output_group = info->num_class > info->num_target ? info->num_class : info->num_target;
	if (info->num_output_group < 1)
		info->num_output_group = 1;

	if ((st = ValidateObjective(learner, info, err, errlen)) != MODELCHECK_OK)
		return st;
	if ((st = CheckStringArray(learner, "feature_names", "learner", info->num_feature, NULL,
							   &info->feature_names, &info->num_feature_names,
							   err, errlen)) != MODELCHECK_OK ||
		(st = CheckStringArray(learner, "feature_types", "learner", info->num_feature,
							   KnownFeatureTypes, &info->feature_types,
							   &info->num_feature_types, err, errlen)) != MODELCHECK_OK ||
		(st = ValidateBooster(learner, limits, info, err, errlen)) != MODELCHECK_OK)
	{
		ModelCheckInfoFree(info);
		return st;
	}
	return MODELCHECK_OK;
}

/*
 * ValidateObjective checks learner.objective (a known name plus parameter
 * objects of strings) and derives the task from the name.
 */
static ModelCheckStatus
ValidateObjective(json_t *learner, ModelCheckInfo *info, char *err, size_t errlen)
{
	json_t	   *objective;
	json_t	   *name;
	const char *key;
	json_t	   *value;
	const char *objname;
	int			known = 0;
	ModelCheckStatus st;

	if ((st = GetObject(learner, "objective", "learner", 1, &objective, err, errlen)) != MODELCHECK_OK)
		return st;
	name = json_object_get(objective, "name");
	if (!json_is_string(name))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "learner.objective.name must be a string");
	objname = json_string_value(name);
	for (int i = 0; KnownObjectives[i] != NULL; i++)
		if (strcmp(KnownObjectives[i], objname) == 0)
			known = 1;
	if (!known)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "unknown objective \"%.64s\"", objname);
	json_object_foreach(objective, key, value)
	{
		size_t		kl = strlen(key);
		char		path[128];

		if (strcmp(key, "name") == 0)
			continue;
		if (kl < 6 || strcmp(key + kl - 6, "_param") != 0 || !json_is_object(value))
			return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "unexpected key \"%.64s\" in learner.objective", key);
		snprintf(path, sizeof(path), "learner.objective.%.64s", key);
		if ((st = CheckStringMap(value, path, err, errlen)) != MODELCHECK_OK)
			return st;
	}
	if (strncmp(objname, "multi:", 6) == 0 && info->num_class < 2)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "objective %s needs num_class of at least 2, not %lld",
						  objname, (long long) info->num_class);
	if (strncmp(objname, "multi:", 6) != 0 && info->num_class > 1)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "objective %s cannot have num_class %lld",
						  objname, (long long) info->num_class);
	snprintf(info->objective, sizeof(info->objective), "%s", objname);
	snprintf(info->task, sizeof(info->task), "%s", ModelCheckTaskForObjective(objname));
	return MODELCHECK_OK;
}

/*
 * ModelCheckTaskForObjective maps an XGBoost objective to the registry's
 * task vocabulary: binary:* and multi:* are classification; reg:* and
 * count:* (Poisson regression) are regression; rank:* is ranking;
 * survival:* is survival; anything else is other.
 */
const char *
ModelCheckTaskForObjective(const char *objective)
{
	if (strncmp(objective, "binary:", 7) == 0 || strncmp(objective, "multi:", 6) == 0)
		return "classification";
	if (strncmp(objective, "reg:", 4) == 0 || strncmp(objective, "count:", 6) == 0)
		return "regression";
	if (strncmp(objective, "rank:", 5) == 0)
		return "ranking";
	if (strncmp(objective, "survival:", 9) == 0)
		return "survival";
	return "other";
}

/*
 * ValidateBooster checks learner.gradient_booster for the three boosters.
 */
static ModelCheckStatus
ValidateBooster(json_t *learner, const ModelCheckLimits *limits, ModelCheckInfo *info,
				char *err, size_t errlen)
{
	static const char *const dart_keys[] = {"gbtree", "name", "weight_drop", NULL};
	static const char *const linear_keys[] = {"model", "name", NULL};
	static const char *const linear_model_keys[] = {"boosted_rounds", "weights", NULL};
	json_t	   *booster;
	json_t	   *name;
	json_t	   *inner;
	ModelCheckStatus st;

	if ((st = GetObject(learner, "gradient_booster", "learner", 1, &booster, err, errlen)) != MODELCHECK_OK)
		return st;
	name = json_object_get(booster, "name");
	if (!json_is_string(name))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "learner.gradient_booster.name must be a string");
	snprintf(info->booster, sizeof(info->booster), "%.15s", json_string_value(name));

	if (strcmp(info->booster, "gbtree") == 0)
		return ValidateGbtree(booster, "learner.gradient_booster", limits, info, err, errlen);

	if (strcmp(info->booster, "dart") == 0)
	{
		if ((st = CheckKeys(booster, "learner.gradient_booster", dart_keys, err, errlen)) != MODELCHECK_OK ||
			(st = GetObject(booster, "gbtree", "learner.gradient_booster", 1, &inner, err, errlen)) != MODELCHECK_OK)
			return st;
		name = json_object_get(inner, "name");
		if (!json_is_string(name) || strcmp(json_string_value(name), "gbtree") != 0)
			return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "learner.gradient_booster.gbtree.name must be \"gbtree\"");
		if ((st = ValidateGbtree(inner, "learner.gradient_booster.gbtree", limits, info,
								 err, errlen)) != MODELCHECK_OK)
			return st;
		return CheckFloatArray(booster, "weight_drop", "learner.gradient_booster",
							   info->num_trees, err, errlen);
	}

	if (strcmp(info->booster, "gblinear") == 0)
	{
		json_t	   *rounds;

		if ((st = CheckKeys(booster, "learner.gradient_booster", linear_keys, err, errlen)) != MODELCHECK_OK ||
			(st = GetObject(booster, "model", "learner.gradient_booster", 1, &inner, err, errlen)) != MODELCHECK_OK ||
			(st = CheckKeys(inner, "learner.gradient_booster.model", linear_model_keys, err, errlen)) != MODELCHECK_OK)
			return st;
		rounds = json_object_get(inner, "boosted_rounds");
		if (rounds != NULL && (!json_is_integer(rounds) || json_integer_value(rounds) < 0))
			return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "learner.gradient_booster.model.boosted_rounds must be a non-negative integer");
		info->num_trees = 0;
		return CheckFloatArray(inner, "weights", "learner.gradient_booster.model",
							   (info->num_feature + 1) * info->num_output_group, err, errlen);
	}

	return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
					  "unknown booster \"%.32s\"", json_string_value(name));
}

/*
 * ValidateGbtree checks a gbtree booster object (name, model with
 * gbtree_model_param, tree_info and trees) found at path.
 */
static ModelCheckStatus
ValidateGbtree(json_t *gbtree, const char *path, const ModelCheckLimits *limits,
			   ModelCheckInfo *info, char *err, size_t errlen)
{
	static const char *const gbtree_keys[] = {"model", "name", NULL};
	static const char *const model_keys[] = {"gbtree_model_param", "tree_info", "trees", NULL};
	static const char *const param_keys[] = {"num_parallel_tree", "num_trees", "size_leaf_vector", NULL};
	char		mpath[160];
	char		ppath[200];
	json_t	   *model;
	json_t	   *param;
	json_t	   *trees;
	int64_t    *tree_info = NULL;
	size_t		n_info;
	int64_t		num_trees;
	int64_t		num_parallel;
	int64_t		leaf_vector;
	ModelCheckStatus st;

	snprintf(mpath, sizeof(mpath), "%s.model", path);
	snprintf(ppath, sizeof(ppath), "%s.gbtree_model_param", mpath);
	if ((st = CheckKeys(gbtree, path, gbtree_keys, err, errlen)) != MODELCHECK_OK ||
		(st = GetObject(gbtree, "model", path, 1, &model, err, errlen)) != MODELCHECK_OK ||
		(st = CheckKeys(model, mpath, model_keys, err, errlen)) != MODELCHECK_OK ||
		(st = GetObject(model, "gbtree_model_param", mpath, 1, &param, err, errlen)) != MODELCHECK_OK ||
		(st = CheckKeys(param, ppath, param_keys, err, errlen)) != MODELCHECK_OK ||
		(st = CheckStringMap(param, ppath, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "num_trees", ppath, 1, 0, 0, INT32_MAX, &num_trees,
						  err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "num_parallel_tree", ppath, 0, 1, 1, MODELCHECK_MAX_OUTPUTS,
						  &num_parallel, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "size_leaf_vector", ppath, 0, 0, 0, 0, &leaf_vector,
						  err, errlen)) != MODELCHECK_OK)
		return st;

	/* XGBoost multiplies the two into an int: keep the product in range */
	if (num_parallel * info->num_output_group > INT32_MAX)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.num_parallel_tree %lld times %lld output groups is too large",
						  ppath, (long long) num_parallel, (long long) info->num_output_group);

	trees = json_object_get(model, "trees");
	if (!json_is_array(trees))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL, "%s.trees must be an array", mpath);
	if ((int64_t) json_array_size(trees) != num_trees)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s has %zu trees but num_trees is %lld",
						  mpath, json_array_size(trees), (long long) num_trees);
	if ((st = GetIntArray(model, "tree_info", mpath, num_trees, &tree_info, &n_info,
						  err, errlen)) != MODELCHECK_OK)
		return st;
	for (size_t i = 0; i < n_info; i++)
	{
		if (tree_info[i] < 0 || tree_info[i] >= info->num_output_group)
		{
			st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s.tree_info[%zu] is %lld, outside the %lld output groups",
							mpath, i, (long long) tree_info[i], (long long) info->num_output_group);
			free(tree_info);
			return st;
		}
	}
	free(tree_info);
	info->num_trees = num_trees;

	for (int64_t i = 0; i < num_trees; i++)
		if ((st = ValidateTree(json_array_get(trees, (size_t) i), i, limits, info,
							   err, errlen)) != MODELCHECK_OK)
			return st;
	return MODELCHECK_OK;
}

/*
 * ValidateTree checks tree number index: its keys and parameters, that all
 * node arrays have num_nodes elements, and (via CheckTreeShape and
 * CheckCategories) that its nodes form a tree XGBoost can walk safely.
 */
static ModelCheckStatus
ValidateTree(json_t *tree, int64_t index, const ModelCheckLimits *limits,
			 const ModelCheckInfo *info, char *err, size_t errlen)
{
	static const char *const tree_keys[] = {"base_weights", "categories", "categories_nodes",
		"categories_segments", "categories_sizes", "default_left", "id", "left_children",
		"loss_changes", "parents", "right_children", "split_conditions", "split_indices",
	"split_type", "sum_hessian", "tree_param", NULL};
	static const char *const param_keys[] = {"num_deleted", "num_feature", "num_nodes",
	"size_leaf_vector", NULL};
	static const char *const float_arrays[] = {"base_weights", "loss_changes",
	"split_conditions", "sum_hessian", NULL};
	static const char *const cat_arrays[] = {"categories", "categories_nodes",
	"categories_segments", "categories_sizes", NULL};
	char		path[64];
	char		ppath[96];
	json_t	   *param;
	json_t	   *id;
	int64_t		num_nodes;
	int64_t		num_deleted;
	int64_t		tree_features;
	int64_t		leaf_vector;
	int64_t    *default_left = NULL;
	size_t		n;
	int			has_split_type;
	int			n_cat_arrays = 0;
	TreeArrays	t;
	ModelCheckStatus st;

	memset(&t, 0, sizeof(t));
	snprintf(path, sizeof(path), "trees[%lld]", (long long) index);
	snprintf(ppath, sizeof(ppath), "%s.tree_param", path);
	if (!json_is_object(tree))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL, "%s is not an object", path);
	if ((st = CheckKeys(tree, path, tree_keys, err, errlen)) != MODELCHECK_OK ||
		(st = GetObject(tree, "tree_param", path, 1, &param, err, errlen)) != MODELCHECK_OK ||
		(st = CheckKeys(param, ppath, param_keys, err, errlen)) != MODELCHECK_OK ||
		(st = CheckStringMap(param, ppath, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "num_nodes", ppath, 1, 0, 1, MODELCHECK_MAX_NODES,
						  &num_nodes, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "num_deleted", ppath, 0, 0, 0, num_nodes - 1,
						  &num_deleted, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "num_feature", ppath, 1, 0, 1, MODELCHECK_MAX_FEATURES,
						  &tree_features, err, errlen)) != MODELCHECK_OK ||
		(st = GetParamInt(param, "size_leaf_vector", ppath, 0, 0, 0, 0,
						  &leaf_vector, err, errlen)) != MODELCHECK_OK)
		return st;
	if (tree_features != info->num_feature)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s has num_feature %lld but the learner has %lld",
						  ppath, (long long) tree_features, (long long) info->num_feature);
	id = json_object_get(tree, "id");
	if (!json_is_integer(id) || json_integer_value(id) != index)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL, "%s.id must be %lld",
						  path, (long long) index);

	for (int i = 0; float_arrays[i] != NULL; i++)
		if ((st = CheckFloatArray(tree, float_arrays[i], path, num_nodes, err, errlen)) != MODELCHECK_OK)
			return st;

	t.n = num_nodes;
	has_split_type = json_object_get(tree, "split_type") != NULL;
	for (int i = 0; cat_arrays[i] != NULL; i++)
		n_cat_arrays += json_object_get(tree, cat_arrays[i]) != NULL;
	if (n_cat_arrays != (has_split_type ? 4 : 0))
	{
		st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s must have split_type, categories, categories_nodes, categories_segments "
						"and categories_sizes together or none of them", path);
		goto done;
	}
	if ((st = GetIntArray(tree, "left_children", path, num_nodes, &t.left, &n, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "right_children", path, num_nodes, &t.right, &n, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "parents", path, num_nodes, &t.parents, &n, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "split_indices", path, num_nodes, &t.split_indices, &n, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "default_left", path, num_nodes, &default_left, &n, err, errlen)) != MODELCHECK_OK ||
		(has_split_type &&
		 (st = GetIntArray(tree, "split_type", path, num_nodes, &t.split_type, &n, err, errlen)) != MODELCHECK_OK))
		goto done;
	for (int64_t i = 0; i < num_nodes; i++)
	{
		if (default_left[i] != 0 && default_left[i] != 1)
		{
			st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s.default_left[%lld] must be 0 or 1", path, (long long) i);
			goto done;
		}
		if (t.split_type && t.split_type[i] != 0 && t.split_type[i] != 1)
		{
			st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s.split_type[%lld] must be 0 or 1", path, (long long) i);
			goto done;
		}
	}
	if ((st = CheckTreeShape(&t, num_deleted, info, path, err, errlen)) != MODELCHECK_OK)
		goto done;
	if (has_split_type)
		st = CheckCategories(tree, &t, path, limits, err, errlen);

done:
	free(t.left);
	free(t.right);
	free(t.parents);
	free(t.split_indices);
	free(t.split_type);
	free(default_left);
	return st;
}

/*
 * CheckTreeShape walks the tree from the root and proves that the reachable
 * nodes form a tree (every child in range and reached exactly once, parents
 * pointing back, two children or none, internal splits on features below
 * num_feature) and that the unreachable nodes are exactly the num_deleted
 * nodes XGBoost marks deleted.
 */
static ModelCheckStatus
CheckTreeShape(const TreeArrays *t, int64_t num_deleted, const ModelCheckInfo *info,
			   const char *path, char *err, size_t errlen)
{
	int64_t    *stack = malloc(sizeof(int64_t) * (size_t) t->n);
	unsigned char *seen = calloc((size_t) t->n, 1);
	int64_t		top = 0;
	int64_t		deleted = 0;
	ModelCheckStatus st = MODELCHECK_OK;

	if (stack == NULL || seen == NULL)
	{
		st = McSetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
		goto done;
	}
	if (t->parents[0] != ROOT_PARENT_MARKER && t->parents[0] != -1)
	{
		st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s: the root node has parent %lld", path, (long long) t->parents[0]);
		goto done;
	}
	seen[0] = 1;
	stack[top++] = 0;
	while (top > 0)
	{
		int64_t		u = stack[--top];
		int64_t		kids[2] = {t->left[u], t->right[u]};

		if (kids[0] == -1 && kids[1] == -1)
		{
			if (t->split_indices[u] < 0 || t->split_indices[u] == DELETED_NODE_MARKER)
			{
				st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
								"%s: leaf %lld has split index %lld", path, (long long) u,
								(long long) t->split_indices[u]);
				goto done;
			}
			if (t->split_type && t->split_type[u] != 0)
			{
				st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
								"%s: leaf %lld has a categorical split type", path, (long long) u);
				goto done;
			}
			continue;
		}
		if (t->split_indices[u] < 0 || t->split_indices[u] >= info->num_feature)
		{
			st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s: node %lld splits on feature %lld but the model has %lld features",
							path, (long long) u, (long long) t->split_indices[u],
							(long long) info->num_feature);
			goto done;
		}
		for (int k = 0; k < 2; k++)
		{
			int64_t		c = kids[k];

			if (c < 1 || c >= t->n)
			{
				st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
								"%s: node %lld has child %lld outside 1..%lld", path,
								(long long) u, (long long) c, (long long) (t->n - 1));
				goto done;
			}
			if (seen[c])
			{
				st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
								"%s: node %lld is reached twice (a cycle or a shared child)",
								path, (long long) c);
				goto done;
			}
			if (t->parents[c] != u)
			{
				st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
								"%s: node %lld has parent %lld but is a child of node %lld",
								path, (long long) c, (long long) t->parents[c], (long long) u);
				goto done;
			}
			seen[c] = 1;
			stack[top++] = c;
		}
	}
	for (int64_t i = 0; i < t->n; i++)
	{
		if (seen[i])
			continue;
		if (t->split_indices[i] != DELETED_NODE_MARKER || t->left[i] != -1 || t->right[i] != -1 ||
			((t->parents[i] < 0 || t->parents[i] >= t->n) && t->parents[i] != ROOT_PARENT_MARKER) ||
			(t->split_type && t->split_type[i] != 0))
		{
			st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s: node %lld is unreachable from the root but not a deleted leaf",
							path, (long long) i);
			goto done;
		}
		deleted++;
	}
	if (deleted != num_deleted)
		st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s has %lld deleted nodes but num_deleted is %lld",
						path, (long long) deleted, (long long) num_deleted);

done:
	free(stack);
	free(seen);
	return st;
}

/*
 * CheckCategories checks the categorical splits of a tree: categories_nodes
 * lists, in increasing order, exactly the nodes whose split_type is 1; each
 * has a non-empty segment [categories_segments[i], +categories_sizes[i])
 * inside categories; every category code lies in 0..max_category.
 */
static ModelCheckStatus
CheckCategories(json_t *tree, const TreeArrays *t, const char *path,
				const ModelCheckLimits *limits, char *err, size_t errlen)
{
	int64_t    *cats = NULL;
	int64_t    *nodes = NULL;
	int64_t    *segments = NULL;
	int64_t    *sizes = NULL;
	size_t		n_cats;
	size_t		n_nodes;
	size_t		n;
	size_t		next = 0;
	ModelCheckStatus st;

	if ((st = GetIntArray(tree, "categories", path, -1, &cats, &n_cats, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "categories_nodes", path, -1, &nodes, &n_nodes, err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "categories_segments", path, (int64_t) n_nodes, &segments, &n,
						  err, errlen)) != MODELCHECK_OK ||
		(st = GetIntArray(tree, "categories_sizes", path, (int64_t) n_nodes, &sizes, &n,
						  err, errlen)) != MODELCHECK_OK)
		goto done;
	for (size_t i = 0; i < n_cats; i++)
	{
		if (cats[i] < 0 || cats[i] > limits->max_category)
		{
			st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s.categories[%zu] is %lld, outside 0..%lld", path, i,
							(long long) cats[i], (long long) limits->max_category);
			goto done;
		}
	}
	for (int64_t node = 0; node < t->n; node++)
	{
		int			listed = next < n_nodes && nodes[next] == node;

		if (listed != (t->split_type[node] == 1))
		{
			st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s: node %lld has split_type %lld but is %slisted in categories_nodes",
							path, (long long) node, (long long) t->split_type[node],
							listed ? "" : "not ");
			goto done;
		}
		if (!listed)
			continue;
		if (segments[next] < 0 || sizes[next] < 1 ||
			(uint64_t) segments[next] > n_cats || (uint64_t) sizes[next] > n_cats - (uint64_t) segments[next])
		{
			st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							"%s: categorical node %lld has segment %lld+%lld outside the %zu categories",
							path, (long long) node, (long long) segments[next],
							(long long) sizes[next], n_cats);
			goto done;
		}
		next++;
	}
	if (next != n_nodes)
		st = McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						"%s.categories_nodes is not an increasing list of tree nodes", path);

done:
	free(cats);
	free(nodes);
	free(segments);
	free(sizes);
	return st;
}

/*
 * CheckKeys fails when obj has a key that is not in the NULL-terminated
 * list allowed.
 */
static ModelCheckStatus
CheckKeys(json_t *obj, const char *path, const char *const *allowed, char *err, size_t errlen)
{
	const char *key;
	json_t	   *value;

	json_object_foreach(obj, key, value)
	{
		int			ok = 0;

		for (int i = 0; allowed[i] != NULL && !ok; i++)
			ok = strcmp(allowed[i], key) == 0;
		if (!ok)
			return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "unexpected key \"%.64s\" in %s", key, path);
	}
	return MODELCHECK_OK;
}

/*
 * GetObject fetches parent[key] into *out, failing when it is absent and
 * required or present and not an object (*out is NULL when absent).
 */
static ModelCheckStatus
GetObject(json_t *parent, const char *key, const char *path, int required, json_t **out,
		  char *err, size_t errlen)
{
	json_t	   *v = json_object_get(parent, key);

	*out = NULL;
	if (v == NULL)
		return required ? McSetError(err, errlen, MODELCHECK_BAD_MODEL,
									 "%s lacks \"%s\"", path, key) : MODELCHECK_OK;
	if (!json_is_object(v) || McIsNonFiniteMarker(v, NULL))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL, "%s.%s must be an object", path, key);
	*out = v;
	return MODELCHECK_OK;
}

/*
 * CheckStringMap fails unless every value of obj is a string.
 */
static ModelCheckStatus
CheckStringMap(json_t *obj, const char *path, char *err, size_t errlen)
{
	const char *key;
	json_t	   *value;

	json_object_foreach(obj, key, value)
	{
		if (!json_is_string(value))
			return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "%s.%.64s must be a string", path, key);
	}
	return MODELCHECK_OK;
}

/*
 * ParseInt64 parses a whole string as a decimal integer.
 */
static int
ParseInt64(const char *s, int64_t *out)
{
	char	   *end;
	long long	v;

	/* digits with an optional minus: no white space, plus sign or base prefix */
	if (!(isdigit((unsigned char) s[0]) || (s[0] == '-' && isdigit((unsigned char) s[1]))))
		return 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v == LLONG_MAX || v == LLONG_MIN)
		return 0;
	*out = v;
	return 1;
}

/*
 * GetParamInt reads obj[key], a string holding a decimal integer in
 * min..max (XGBoost writes parameters as strings); when the key is absent
 * and not required, *out is dflt.
 */
static ModelCheckStatus
GetParamInt(json_t *obj, const char *key, const char *path, int required, int64_t dflt,
			int64_t min, int64_t max, int64_t *out, char *err, size_t errlen)
{
	json_t	   *v = json_object_get(obj, key);

	if (v == NULL)
	{
		if (required)
			return McSetError(err, errlen, MODELCHECK_BAD_MODEL, "%s lacks \"%s\"", path, key);
		*out = dflt;
		return MODELCHECK_OK;
	}
	if (!json_is_string(v) || !ParseInt64(json_string_value(v), out))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.%s must be a string holding an integer", path, key);
	if (*out < min || *out > max)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.%s is %lld, outside %lld..%lld", path, key,
						  (long long) *out, (long long) min, (long long) max);
	return MODELCHECK_OK;
}

/*
 * GetIntArray fetches obj[key], which must be an array of integers with
 * expect_len elements (any length when expect_len < 0), and returns its
 * values in a malloc'd array.
 */
static ModelCheckStatus
GetIntArray(json_t *obj, const char *key, const char *path, int64_t expect_len,
			int64_t **out, size_t *out_len, char *err, size_t errlen)
{
	json_t	   *arr = json_object_get(obj, key);
	size_t		n;

	*out = NULL;
	*out_len = 0;
	if (!json_is_array(arr))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.%s must be an array of integers", path, key);
	n = json_array_size(arr);
	if (expect_len >= 0 && (int64_t) n != expect_len)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.%s has %zu elements, expected %lld", path, key, n,
						  (long long) expect_len);
	*out = malloc(sizeof(int64_t) * (n > 0 ? n : 1));
	if (*out == NULL)
		return McSetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *v = json_array_get(arr, i);

		if (!json_is_integer(v))
		{
			free(*out);
			*out = NULL;
			return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "%s.%s[%zu] is not an integer", path, key, i);
		}
		(*out)[i] = json_integer_value(v);
	}
	*out_len = n;
	return MODELCHECK_OK;
}

/*
 * CheckFloatArray checks that obj[key] is an array of expect_len floats:
 * JSON reals within float range or non-finite markers (XGBoost refuses
 * integers where it expects floats).
 */
static ModelCheckStatus
CheckFloatArray(json_t *obj, const char *key, const char *path, int64_t expect_len,
				char *err, size_t errlen)
{
	json_t	   *arr = json_object_get(obj, key);
	size_t		n;

	if (!json_is_array(arr))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.%s must be an array of numbers", path, key);
	n = json_array_size(arr);
	if ((int64_t) n != expect_len)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.%s has %zu elements, expected %lld", path, key, n,
						  (long long) expect_len);
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *v = json_array_get(arr, i);

		if (McIsNonFiniteMarker(v, NULL))
			continue;
		if (!json_is_real(v) || fabs(json_real_value(v)) > FLT_MAX)
			return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "%s.%s[%zu] is not a floating-point number in float range",
							  path, key, i);
	}
	return MODELCHECK_OK;
}

/*
 * CheckStringArray checks the optional obj[key]: an array of strings with
 * either no element or num_feature elements, each in allowed when allowed
 * is given; the strings are copied into a malloc'd array.
 */
static ModelCheckStatus
CheckStringArray(json_t *obj, const char *key, const char *path, int64_t num_feature,
				 const char *const *allowed, char ***out, int *out_n, char *err, size_t errlen)
{
	json_t	   *arr = json_object_get(obj, key);
	size_t		n;

	*out = NULL;
	*out_n = 0;
	if (arr == NULL)
		return MODELCHECK_OK;
	if (!json_is_array(arr))
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.%s must be an array of strings", path, key);
	n = json_array_size(arr);
	if (n == 0)
		return MODELCHECK_OK;
	if ((int64_t) n != num_feature)
		return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
						  "%s.%s has %zu elements but the model has %lld features",
						  path, key, n, (long long) num_feature);
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *v = json_array_get(arr, i);
		int			ok = json_is_string(v);

		if (ok && allowed != NULL)
		{
			ok = 0;
			for (int k = 0; allowed[k] != NULL && !ok; k++)
				ok = strcmp(allowed[k], json_string_value(v)) == 0;
		}
		if (!ok)
			return McSetError(err, errlen, MODELCHECK_BAD_MODEL,
							  "%s.%s[%zu] is not %s", path, key, i,
							  allowed ? "a known feature type" : "a string");
	}
	*out = calloc(n, sizeof(char *));
	if (*out == NULL)
		return McSetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
	*out_n = (int) n;
	for (size_t i = 0; i < n; i++)
	{
		(*out)[i] = strdup(json_string_value(json_array_get(arr, i)));
		if ((*out)[i] == NULL)
			return McSetError(err, errlen, MODELCHECK_NO_MEMORY, "out of memory");
	}
	return MODELCHECK_OK;
}

/*
 * ModelCheckInfoFree releases the feature name and type copies of info.
 */
void
ModelCheckInfoFree(ModelCheckInfo *info)
{
	for (int i = 0; i < info->num_feature_names; i++)
		free(info->feature_names ? info->feature_names[i] : NULL);
	for (int i = 0; i < info->num_feature_types; i++)
		free(info->feature_types ? info->feature_types[i] : NULL);
	free(info->feature_names);
	free(info->feature_types);
	info->feature_names = NULL;
	info->feature_types = NULL;
	info->num_feature_names = 0;
	info->num_feature_types = 0;
}
