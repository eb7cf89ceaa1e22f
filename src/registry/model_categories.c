/*
 * model_categories.c
 *	  The category codes an XGBoost model's categorical splits use.
 *
 * XGBoost 1.7 stores no category names: a categorical feature is given to
 * the model as a code 0, 1, 2 ..., and each categorical split lists the
 * codes that take its right branch (tree arrays categories_nodes,
 * categories_segments, categories_sizes into categories; split_indices
 * names the feature).  import_model gives such a feature the categories
 * "0" .. "max", max being the largest code any split of that feature uses,
 * so that the category "k" is encoded as the code k the model expects.
 *
 * The model has passed modelcheck's validation (every index checked, every
 * code in 0..max_category), but nothing here relies on it: each lookup is
 * checked again and a malformed part is skipped.
 */
#include <jansson.h>

#include "registry/model_categories.h"

static void TreeCategoryMax(json_t *tree, int64_t num_feature, int64_t *max_code);
static int	IntAt(json_t *arr, int64_t i, int64_t *value);

/*
 * ModelCategoryMax sets max_code[f], for each of the num_feature features,
 * to the largest category code a categorical split on feature f uses, or
 * leaves it at -1.  It returns the number of trees read (0 for gblinear).
 */
int
ModelCategoryMax(json_t *model, int64_t num_feature, int64_t *max_code)
{
	json_t	   *booster = json_object_get(json_object_get(model, "learner"), "gradient_booster");
	json_t	   *trees;
	size_t		n;

	for (int64_t f = 0; f < num_feature; f++)
		max_code[f] = -1;
	/* dart keeps its trees in an inner gbtree */
	if (json_object_get(booster, "gbtree") != NULL)
		booster = json_object_get(booster, "gbtree");
	trees = json_object_get(json_object_get(booster, "model"), "trees");
	if (!json_is_array(trees))
		return 0;
	n = json_array_size(trees);
	for (size_t t = 0; t < n; t++)
		TreeCategoryMax(json_array_get(trees, t), num_feature, max_code);
	return (int) n;
}

/*
 * TreeCategoryMax raises max_code[f] to the codes the categorical splits
 * of one tree use.
 */
static void
TreeCategoryMax(json_t *tree, int64_t num_feature, int64_t *max_code)
{
	json_t	   *cats = json_object_get(tree, "categories");
	json_t	   *nodes = json_object_get(tree, "categories_nodes");
	json_t	   *segments = json_object_get(tree, "categories_segments");
	json_t	   *sizes = json_object_get(tree, "categories_sizes");
	json_t	   *features = json_object_get(tree, "split_indices");
	size_t		n = json_array_size(nodes);

	for (size_t i = 0; i < n; i++)
	{
		int64_t		node,
					feature,
					segment,
					size;

		if (!IntAt(nodes, (int64_t) i, &node) || !IntAt(features, node, &feature) ||
			!IntAt(segments, (int64_t) i, &segment) || !IntAt(sizes, (int64_t) i, &size) ||
			feature < 0 || feature >= num_feature || size < 0)
			continue;
		for (int64_t c = 0; c < size; c++)
		{
			int64_t		code;

			if (IntAt(cats, segment + c, &code) && code > max_code[feature])
				max_code[feature] = code;
		}
	}
}

/*
 * IntAt reads arr[i] into *value; it returns 0 when arr is no array, i is
 * out of range or the element is not an integer.
 */
static int
IntAt(json_t *arr, int64_t i, int64_t *value)
{
	json_t	   *v;

	if (!json_is_array(arr) || i < 0 || (uint64_t) i >= json_array_size(arr))
		return 0;
	v = json_array_get(arr, (size_t) i);
	if (!json_is_integer(v))
		return 0;
	*value = json_integer_value(v);
	return 1;
}
