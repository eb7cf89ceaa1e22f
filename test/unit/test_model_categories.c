/* unit-sources: src/registry/model_categories.c */
/*
 * test_model_categories.c
 *	  TAP unit tests of src/registry/model_categories.c.
 *
 * The models are the files XGBoost 1.7.4 wrote in test/unit/data; the
 * expected category codes were read from categorical.json with Python's
 * json module (feature 2's splits use the codes 0, 1 and 2 in the first
 * tree, 0 and 1 in the second; the other features are numeric).  Malformed trees are built here: every index that
 * points outside its array must be skipped, never followed.
 */
#include <jansson.h>

#include "registry/model_categories.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	test_count = 0;
static int	test_failed = 0;
static char data_dir[1024];

/*
 * Ok records one TAP result.
 */
static void
Ok(int cond, const char *what)
{
	test_count++;
	if (!cond)
		test_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", test_count, what);
}

/*
 * Load reads test/unit/data/<name> as JSON, bailing out if it cannot.  The
 * NaN thresholds XGBoost writes for categorical splits (not JSON) become
 * 0.0; this module never reads thresholds.
 */
static json_t *
Load(const char *name)
{
	char		path[1200];
	json_error_t error;
	json_t	   *model;
	FILE	   *f;
	char	   *buf;
	char	   *nan;
	long		n;

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	f = fopen(path, "rb");
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
		(buf = malloc((size_t) n + 1)) == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	buf[n] = '\0';
	while ((nan = strstr(buf, "NaN")) != NULL)
		memcpy(nan, "0.0", 3);
	model = json_loads(buf, 0, &error);
	free(buf);
	if (model == NULL)
	{
		printf("Bail out! cannot parse %s: %s\n", path, error.text);
		exit(1);
	}
	return model;
}

/*
 * FirstTree returns the first tree of a gbtree model.
 */
static json_t *
FirstTree(json_t *model)
{
	json_t	   *booster = json_object_get(json_object_get(model, "learner"), "gradient_booster");

	return json_array_get(json_object_get(json_object_get(booster, "model"), "trees"), 0);
}

/*
 * TestModels checks the codes found in the models XGBoost wrote.
 */
static void
TestModels(void)
{
	int64_t		max[3];
	json_t	   *model;
	int			trees;

	model = Load("categorical.json");
	trees = ModelCategoryMax(model, 3, max);
	Ok(trees == 2, "categorical.json: both trees are read");
	Ok(max[0] == -1 && max[1] == -1, "categorical.json: the numeric features have no categories");
	Ok(max[2] == 2, "categorical.json: feature 2's splits use codes up to 2");
	json_decref(model);

	model = Load("dart.json");
	max[0] = max[1] = max[2] = 7;
	trees = ModelCategoryMax(model, 3, max);
	Ok(trees == 2 && max[0] == -1 && max[1] == -1 && max[2] == -1,
	   "dart.json: the trees inside dart's gbtree are read, no categories");
	json_decref(model);

	model = Load("linear.json");
	max[0] = max[1] = max[2] = 7;
	trees = ModelCategoryMax(model, 3, max);
	Ok(trees == 0 && max[0] == -1 && max[1] == -1 && max[2] == -1,
	   "linear.json: gblinear has no trees and no categories");
	json_decref(model);

	model = Load("categorical.json");
	max[0] = max[1] = 7;
	trees = ModelCategoryMax(model, 2, max);
	Ok(trees == 2 && max[0] == -1 && max[1] == -1,
	   "a split on a feature beyond num_feature is skipped");
	json_decref(model);
}

/*
 * TestMalformed checks that indexes outside their arrays are skipped.
 */
static void
TestMalformed(void)
{
	int64_t		max[3];
	json_t	   *model = Load("categorical.json");
	json_t	   *tree = FirstTree(model);

	/* a categories_nodes entry naming a node past split_indices */
	json_array_set_new(json_object_get(tree, "categories_nodes"), 0, json_integer(1000000));
	(void) ModelCategoryMax(model, 3, max);
	Ok(max[2] == 2, "a categorical node outside the tree is skipped");
	json_decref(model);

	/* a segment reaching past the categories array */
	model = Load("categorical.json");
	tree = FirstTree(model);
	json_array_set_new(json_object_get(tree, "categories_sizes"), 0, json_integer(1 << 30));
	json_array_set_new(json_object_get(tree, "categories_segments"), 1, json_integer(-5));
	(void) ModelCategoryMax(model, 3, max);
	Ok(max[2] == 2, "segments outside the categories array read only what is there");
	json_decref(model);

	/* arrays of the wrong type, a tree that is not an object, no learner */
	model = Load("categorical.json");
	tree = FirstTree(model);
	json_object_set_new(tree, "categories", json_string("x"));
	json_array_set_new(json_object_get(tree, "split_indices"), 0, json_real(2.0));
	(void) ModelCategoryMax(model, 3, max);
	Ok(max[2] == 1, "non-integer and non-array values are skipped (the second tree's codes 0 and 1 still count)");
	json_array_set_new(json_object_get(json_object_get(json_object_get(json_object_get(model, "learner"),
																	   "gradient_booster"), "model"), "trees"),
					   1, json_integer(3));
	max[2] = 7;
	Ok(ModelCategoryMax(model, 3, max) == 2 && max[2] == -1, "a tree that is not an object is skipped");
	json_decref(model);

	model = json_array();
	max[0] = 7;
	Ok(ModelCategoryMax(model, 1, max) == 0 && max[0] == -1, "a document without a learner has no trees");
	json_decref(model);
}

/*
 * main runs every test and prints the TAP plan last.
 */
int
main(int argc, char **argv)
{
	const char *slash = strrchr(__FILE__, '/');

	if (argc > 1)
		snprintf(data_dir, sizeof(data_dir), "%s", argv[1]);
	else
		snprintf(data_dir, sizeof(data_dir), "%.*sdata",
				 slash ? (int) (slash - __FILE__ + 1) : 0, __FILE__);
	TestModels();
	TestMalformed();
	printf("1..%d\n", test_count);
	return test_failed == 0 ? 0 : 1;
}
