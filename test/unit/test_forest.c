/* unit-sources: src/xgb/forest.c src/xgb/modelcheck.c src/xgb/modelcheck_json.c src/xgb/modelcheck_ubjson.c src/xgb/modelcheck_validate.c src/xgb/modelcheck_canon.c */
/*
 * test_forest.c
 *	  TAP unit tests of src/xgb/forest.c: the flat forest and its walk.
 *
 * Hand-made models whose predictions follow from XGBoost's rules by hand
 * (fvalue < threshold goes left, missing takes the default child, leaves
 * add up from base_score in tree order, then the objective's transform);
 * malformed trees (a child out of range, a cycle, a shared child, one
 * child, a feature out of range, a categorical split, too deep) must be
 * refused, never walked.  The models XGBoost 1.7.4 wrote in test/unit/data
 * must be accepted or refused by booster type, and their JSON and UBJSON
 * files must give the same forest (same nodes, same bits).  Agreement with
 * XGBoost itself is tested by test/oracle/test_native_walk.py.
 */
#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xgb/forest.h"
#include "xgb/modelcheck.h"

static int	test_count = 0;
static int	test_failed = 0;

/* every block the forest allocator handed out, freed at the end */
static void *blocks[4096];
static int	nblocks = 0;

/* Fits bails out when a snprintf did not fit its buffer. */
static void
Fits(int written, size_t size)
{
	if (written < 0 || (size_t) written >= size)
	{
		printf("Bail out! a test model does not fit its buffer\n");
		exit(1);
	}
}

/* Ok records one TAP result. */
static void
Ok(int cond, const char *what)
{
	test_count++;
	if (!cond)
		test_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", test_count, what);
}

/* Alloc is the forest allocator of the tests: malloc, remembered. */
static void *
Alloc(void *arg, size_t size)
{
	void	   *p;

	(void) arg;
	if (nblocks == (int) (sizeof(blocks) / sizeof(blocks[0])))
		return NULL;
	p = malloc(size);
	if (p != NULL)
		blocks[nblocks++] = p;
	return p;
}

/* FreeAll frees every block Alloc handed out. */
static void
FreeAll(void)
{
	while (nblocks > 0)
		free(blocks[--nblocks]);
}

/*
 * Model returns the text of a gbtree model with the given objective,
 * learner parameters, trees (a JSON array text) and tree_info.
 */
static char *
Model(const char *objective, const char *base_score, int num_class, int num_feature,
	  const char *trees, const char *tree_info, const char *booster)
{
	static char buf[65536];

	Fits(snprintf(buf, sizeof(buf),
			 "{\"learner\": {\"attributes\": {}, \"feature_names\": [], \"feature_types\": [], "
			 "\"gradient_booster\": {\"name\": \"%s\", \"model\": {\"gbtree_model_param\": "
			 "{\"num_parallel_tree\": \"1\", \"num_trees\": \"1\", \"size_leaf_vector\": \"0\"}, "
			 "\"trees\": %s, \"tree_info\": %s}}, "
			 "\"learner_model_param\": {\"base_score\": \"%s\", \"boost_from_average\": \"1\", "
			 "\"num_class\": \"%d\", \"num_feature\": \"%d\", \"num_target\": \"1\"}, "
			 "\"objective\": {\"name\": \"%s\"}}, \"version\": [1, 7, 4]}",
			 booster, trees, tree_info, base_score, num_class, num_feature, objective), sizeof(buf));
	return buf;
}

/*
 * Tree returns the JSON of one tree from its arrays (texts of JSON arrays);
 * the other arrays XGBoost writes are filled with zeros of the right length.
 */
static char *
Tree(int n, const char *left, const char *right, const char *index, const char *cond,
	 const char *dleft, const char *extra)
{
	char	   *buf = malloc(32768);
	char		zeros[8192] = "[";

	for (int i = 0; i < n; i++)
		strcat(zeros, i ? ", 0" : "0");
	strcat(zeros, "]");
	Fits(snprintf(buf, 32768,
			 "{\"base_weights\": %s, \"categories\": [], \"categories_nodes\": [], "
			 "\"categories_segments\": [], \"categories_sizes\": [], \"default_left\": %s, "
			 "\"id\": 0, \"left_children\": %s, \"loss_changes\": %s, \"parents\": %s, "
			 "\"right_children\": %s, \"split_conditions\": %s, \"split_indices\": %s, "
			 "\"sum_hessian\": %s, \"tree_param\": {\"num_deleted\": \"0\", \"num_feature\": \"2\", "
			 "\"num_nodes\": \"%d\", \"size_leaf_vector\": \"0\"}%s}",
			 zeros, dleft, left, zeros, zeros, right, cond, index, zeros, n, extra), 32768);
	return buf;
}

/* Build parses model text and builds its forest (NULL if refused; err says why). */
static Forest *
Build(const char *text, char *err, size_t errlen)
{
	ModelCheckLimits limits;
	json_t	   *model = NULL;
	Forest	   *forest;

	ModelCheckDefaultLimits(&limits);
	if (ModelCheckParseJson((const unsigned char *) text, strlen(text), &limits, &model,
							err, errlen) != MODELCHECK_OK)
	{
		printf("Bail out! cannot parse a test model: %s\n", err);
		exit(1);
	}
	forest = ForestFromModel(model, Alloc, NULL, err, errlen);
	json_decref(model);
	return forest;
}

/*
 * The tree of most tests: node 0 splits f0 at 0.5 (missing left) into
 * leaf 1 (1.0) and node 2, which splits f1 at 2 (missing right) into leaves
 * 3 (2.0) and 4 (3.0).
 */
#define T_LEFT "[1, -1, 3, -1, -1]"
#define T_RIGHT "[2, -1, 4, -1, -1]"
#define T_INDEX "[0, 0, 1, 0, 0]"
#define T_COND "[0.5, 1.0, 2.0, 2.0, 3.0]"
#define T_DLEFT "[1, 0, 0, 0, 0]"

/* TestWalk checks the walk's directions and sum on the hand-made tree. */
static void
TestWalk(void)
{
	char		err[256];
	char	   *tree = Tree(5, T_LEFT, T_RIGHT, T_INDEX, T_COND, T_DLEFT, "");
	char		trees[40000];
	Forest	   *f;
	float		out[4];
	float		rows[][2] = {{0.4f, 9.0f}, {0.5f, 1.0f}, {0.5f, 2.0f}, {NAN, 5.0f}, {1.0f, NAN},
	{NAN, NAN}};
	float		want[] = {1.5f, 2.5f, 3.5f, 1.5f, 3.5f, 1.5f};
	int			good = 1;

	Fits(snprintf(trees, sizeof(trees), "[%s]", tree), sizeof(trees));
	f = Build(Model("reg:squarederror", "5E-1", 0, 2, trees, "[0]", "gbtree"), err, sizeof(err));
	Ok(f != NULL && f->ntrees == 1 && f->nnodes == 5 && f->max_depth == 2,
	   "a 5-node tree of depth 2 is built");
	for (int i = 0; f != NULL && i < 6; i++)
	{
		ForestPredictRow(f, rows[i], out);
		good &= out[0] == want[i];
	}
	Ok(f != NULL && good, "below the threshold goes left, at or above it right, missing to the default child");
	{
		/* more rows than a block of FOREST_BLOCK_ROWS, walked together */
		float		many[3 * FOREST_BLOCK_ROWS + 5][2];
		float		outs[3 * FOREST_BLOCK_ROWS + 5];
		int			n = 3 * FOREST_BLOCK_ROWS + 5;

		for (int i = 0; i < n; i++)
			memcpy(many[i], rows[(i * 5) % 6], sizeof(many[i]));
		good = 1;
		if (f != NULL)
			ForestPredictRows(f, &many[0][0], n, outs);
		for (int i = 0; f != NULL && i < n; i++)
			good &= outs[i] == want[(i * 5) % 6];
		Ok(f != NULL && good, "rows walked in blocks give each row's own prediction");
	}

	/* two trees add up in order from the base score; logistic transform */
	Fits(snprintf(trees, sizeof(trees), "[%s, %s]", tree, tree), sizeof(trees));
	f = Build(Model("binary:logistic", "5E-1", 0, 2, trees, "[0, 0]", "gbtree"), err, sizeof(err));
	if (f != NULL)
		ForestPredictRow(f, rows[0], out);
	Ok(f != NULL && out[0] == 1.0f / (expf(-2.0f) + 1.0f + 1e-16f),
	   "binary:logistic: base margin 0 plus two leaves of 1.0 through XGBoost's sigmoid");
	f = Build(Model("binary:logistic", "5E-1", 0, 2, "[]", "[]", "gbtree"), err, sizeof(err));
	if (f != NULL)
		ForestPredictRow(f, rows[0], out);
	Ok(f != NULL && f->ntrees == 0 && out[0] == 0.5f, "a model without trees predicts sigmoid(0) = 0.5");
	f = Build(Model("reg:logistic", "2.5E-1", 0, 2, trees, "[0, 0]", "gbtree"), err, sizeof(err));
	Ok(f != NULL && f->base_margin == -logf(1.0f / 0.25f - 1.0f),
	   "reg:logistic: base_score 0.25 becomes the margin -log(1/0.25 - 1)");
	f = Build(Model("count:poisson", "2E0", 0, 2, trees, "[0, 0]", "gbtree"), err, sizeof(err));
	if (f != NULL)
		ForestPredictRow(f, rows[2], out);
	Ok(f != NULL && out[0] == expf(logf(2.0f) + 3.0f + 3.0f), "count:poisson: exp(log(base) + leaves)");
	f = Build(Model("binary:hinge", "5E-1", 0, 2, trees, "[0, 0]", "gbtree"), err, sizeof(err));
	if (f != NULL)
		ForestPredictRow(f, rows[0], out);
	Ok(f != NULL && out[0] == 1.0f, "binary:hinge: a positive margin is class 1");

	/* three classes: class 1's tree has other leaves; row 1 reaches leaf 3 (2.0, or 5.0) */
	{
		char	   *tree2 = Tree(5, T_LEFT, T_RIGHT, T_INDEX, "[0.5, 4.0, 2.0, 5.0, 6.0]", T_DLEFT, "");
		double		s = 2.0 * exp(-3.0) + 1.0;

		Fits(snprintf(trees, sizeof(trees), "[%s, %s, %s]", tree, tree2, tree), sizeof(trees));
		f = Build(Model("multi:softprob", "5E-1", 3, 2, trees, "[0, 1, 2]", "gbtree"), err, sizeof(err));
		if (f != NULL)
			ForestPredictRow(f, rows[1], out);
		Ok(f != NULL && ForestOutputsPerRow(f) == 3 && fabs(out[0] - exp(-3.0) / s) < 1e-6 &&
		   fabs(out[1] - 1.0 / s) < 1e-6 && fabs(out[2] - exp(-3.0) / s) < 1e-6,
		   "multi:softprob: one probability per class, the softmax of the margins 2.5, 5.5, 2.5");
		{
			/* blocks of rows, three outputs each: row 1 everywhere but in row 70 */
			float		many[2 * FOREST_BLOCK_ROWS + 3][2];
			float		outs[3 * (2 * FOREST_BLOCK_ROWS + 3)];
			float		one[3];
			int			n = 2 * FOREST_BLOCK_ROWS + 3;
			int			same = f != NULL;

			for (int i = 0; i < n; i++)
				memcpy(many[i], rows[i == 70 ? 0 : 1], sizeof(many[i]));
			if (f != NULL)
			{
				ForestPredictRows(f, &many[0][0], n, outs);
				ForestPredictRow(f, rows[0], one);
			}
			for (int i = 0; same && i < n; i++)
				same = memcmp(&outs[3 * i], i == 70 ? one : out, sizeof(one)) == 0;
			Ok(same, "multi:softprob: rows walked in blocks give each row's own probabilities");
		}
		f = Build(Model("multi:softmax", "5E-1", 3, 2, trees, "[2, 1, 0]", "gbtree"), err, sizeof(err));
		if (f != NULL)
			ForestPredictRow(f, rows[1], out);
		Ok(f != NULL && ForestOutputsPerRow(f) == 1 && out[0] == 1.0f,
		   "multi:softmax: the class whose trees add up most (tree_info sends each tree to its class)");
		free(tree2);
	}
	free(tree);
	FreeAll();
}

/* Refused builds a model from one tree's arrays and returns whether it was refused. */
static int
Refused(const char *what, int n, const char *left, const char *right, const char *index,
		const char *cond, const char *dleft, const char *extra, const char *reason)
{
	char		err[256] = "";
	char	   *tree = Tree(n, left, right, index, cond, dleft, extra);
	char		trees[40000];
	Forest	   *f;

	Fits(snprintf(trees, sizeof(trees), "[%s]", tree), sizeof(trees));
	f = Build(Model("reg:squarederror", "5E-1", 0, 2, trees, "[0]", "gbtree"), err, sizeof(err));
	free(tree);
	FreeAll();
	Ok(f == NULL && strstr(err, reason) != NULL, what);
	if (f != NULL || strstr(err, reason) == NULL)
		printf("# got: %s\n", f ? "a forest" : err);
	return f == NULL;
}

/*
 * TestTooLarge checks that a model of more than FOREST_MAX_NODES nodes is
 * refused and one of exactly that many is not: the one-tree model's tree
 * repeated (the array holds one tree object many times).
 */
static void
TestTooLarge(const char *one_tree)
{
	ModelCheckLimits limits;
	json_t	   *model = NULL;
	char		err[256];
	int64_t		ntrees = FOREST_MAX_NODES / 5;
	Forest	   *f;

	ModelCheckDefaultLimits(&limits);
	for (int extra = 0; extra < 2; extra++)
	{
		const char *text = Model("reg:squarederror", "5E-1", 0, 2, one_tree, "[0]", "gbtree");
		json_t	   *gb;
		json_t	   *tree;
		json_t	   *trees = json_array();
		json_t	   *info = json_array();

		if (ModelCheckParseJson((const unsigned char *) text, strlen(text), &limits, &model,
								err, sizeof(err)) != MODELCHECK_OK)
		{
			printf("Bail out! cannot parse a test model: %s\n", err);
			exit(1);
		}
		gb = json_object_get(json_object_get(json_object_get(model, "learner"), "gradient_booster"), "model");
		tree = json_array_get(json_object_get(gb, "trees"), 0);
		for (int64_t t = 0; t < ntrees + extra; t++)
		{
			json_array_append(trees, tree);
			json_array_append_new(info, json_integer(0));
		}
		json_object_set_new(gb, "trees", trees);
		json_object_set_new(gb, "tree_info", info);
		f = ForestFromModel(model, Alloc, NULL, err, sizeof(err));
		json_decref(model);
		if (extra == 0)
			Ok(f != NULL && f->nnodes == ntrees * 5, "a model of just under FOREST_MAX_NODES nodes is built");
		else
			Ok(f == NULL && strstr(err, "more than") != NULL, "a model of more than FOREST_MAX_NODES nodes is refused");
		FreeAll();
	}
}

/* TestMalformed checks that malformed trees are refused. */
static void
TestMalformed(void)
{
	char		err[256];
	char	   *tree = Tree(5, T_LEFT, T_RIGHT, T_INDEX, T_COND, T_DLEFT, "");
	char		trees[40000];
	char		left[4096] = "[",
				right[4096] = "[",
				index[4096] = "[",
				cond[4096] = "[",
				dleft[4096] = "[";
	int			n = 2 * (FOREST_MAX_DEPTH + 1) + 1;

	Refused("a child index past the tree is refused", 5, "[1, -1, 7, -1, -1]", T_RIGHT, T_INDEX,
			T_COND, T_DLEFT, "", "out of range");
	Refused("a negative child index is refused", 5, "[1, -1, -5, -1, -1]", T_RIGHT, T_INDEX,
			T_COND, T_DLEFT, "", "out of range");
	Refused("a cycle back to the root is refused", 5, "[1, -1, 0, -1, -1]", T_RIGHT, T_INDEX,
			T_COND, T_DLEFT, "", "reached twice");
	Refused("a cycle to the node itself is refused", 5, "[1, -1, 2, -1, -1]", "[2, -1, 3, -1, -1]",
			T_INDEX, T_COND, T_DLEFT, "", "reached twice");
	Refused("a node shared by two parents is refused", 5, "[1, -1, 1, -1, -1]", T_RIGHT, T_INDEX,
			T_COND, T_DLEFT, "", "reached twice");
	Refused("both children the same node is refused", 5, "[1, -1, 3, -1, -1]", "[1, -1, 4, -1, -1]",
			T_INDEX, T_COND, T_DLEFT, "", "reached twice");
	Refused("a node with one child is refused", 5, "[1, -1, 3, -1, -1]", "[2, -1, -1, -1, -1]",
			T_INDEX, T_COND, T_DLEFT, "", "out of range");
	Refused("a split on a feature the model does not have is refused", 5, T_LEFT, T_RIGHT,
			"[0, 0, 2, 0, 0]", T_COND, T_DLEFT, "", "feature out of range");
	Refused("right_children of another length is refused", 5, T_LEFT, "[2, -1, 4, -1]",
			T_INDEX, T_COND, T_DLEFT, "", "right_children");
	Refused("a non-numeric threshold is refused", 5, T_LEFT, T_RIGHT, T_INDEX,
			"[0.5, 1.0, \"x\", 2.0, 3.0]", T_DLEFT, "", "not a number");
	Refused("a default_left of 2 is refused", 5, T_LEFT, T_RIGHT, T_INDEX, T_COND,
			"[2, 0, 0, 0, 0]", "", "default_left");
	Refused("a categorical split is refused", 5, T_LEFT, T_RIGHT, T_INDEX, T_COND, T_DLEFT,
			", \"split_type\": [1, 0, 0, 0, 0]", "not a numeric split");

	/* a chain one level deeper than FOREST_MAX_DEPTH: node 2k splits into leaf 2k+1 and 2k+2 */
	for (int k = 0; k < n; k++)
	{
		int			internal = (k % 2 == 0) && k + 2 < n;
		char		item[32];

		snprintf(item, sizeof(item), "%s%d", k ? ", " : "", internal ? k + 1 : -1);
		strcat(left, item);
		snprintf(item, sizeof(item), "%s%d", k ? ", " : "", internal ? k + 2 : -1);
		strcat(right, item);
		strcat(index, k ? ", 0" : "0");
		strcat(cond, k ? ", 0.5" : "0.5");
		strcat(dleft, k ? ", 0" : "0");
	}
	strcat(left, "]");
	strcat(right, "]");
	strcat(index, "]");
	strcat(cond, "]");
	strcat(dleft, "]");
	Refused("a tree deeper than FOREST_MAX_DEPTH is refused", n, left, right, index, cond, dleft, "",
			"deeper than");

	Fits(snprintf(trees, sizeof(trees), "[%s]", tree), sizeof(trees));
	Ok(Build(Model("reg:squarederror", "5E-1", 0, 2, trees, "[1]", "gbtree"), err, sizeof(err)) == NULL,
	   "a tree_info entry naming an output group the model does not have is refused");
	Ok(Build(Model("reg:squarederror", "5E-1", 0, 2, trees, "[0]", "dart"), err, sizeof(err)) == NULL &&
	   strstr(err, "not gbtree") != NULL, "a dart booster is refused (its tree weights are not walked)");
	Ok(Build(Model("reg:quantileerror", "5E-1", 0, 2, trees, "[0]", "gbtree"), err, sizeof(err)) == NULL &&
	   strstr(err, "not supported") != NULL, "an objective without a known transform is refused");
	Ok(Build(Model("reg:squarederror", "NaN", 0, 2, trees, "[0]", "gbtree"), err, sizeof(err)) == NULL,
	   "a base_score that is not a finite number is refused");
	Ok(Build(Model("multi:softprob", "5E-1", 0, 2, trees, "[0]", "gbtree"), err, sizeof(err)) == NULL,
	   "multi:softprob without num_class is refused");
	TestTooLarge(trees);
	free(tree);
	FreeAll();
}

/* ReadFile reads test/unit/data/<name> (the tests run in test/unit). */
static unsigned char *
ReadFile(const char *name, size_t *len)
{
	char		path[256];
	FILE	   *fp;
	unsigned char *buf;
	long		n;

	snprintf(path, sizeof(path), "data/%s", name);
	fp = fopen(path, "rb");
	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
		fseek(fp, 0, SEEK_SET) != 0 || (buf = malloc((size_t) n + 1)) == NULL ||
		fread(buf, 1, (size_t) n, fp) != (size_t) n)
	{
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	fclose(fp);
	*len = (size_t) n;
	return buf;
}

/*
 * TestXgboostModels checks which models XGBoost wrote are walked, and that
 * the JSON and UBJSON files of a model give the same forest, bit for bit.
 */
static void
TestXgboostModels(void)
{
	static const struct
	{
		const char *name;
		int			walked;
	}			models[] = {
		{"regression", 1}, {"binary", 1}, {"multi", 1}, {"pruned", 1},
		{"dart", 0}, {"linear", 0}, {"categorical", 0}
	};

	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++)
	{
		char		file[64],
					what[256],
					err[256] = "";
		size_t		len;
		unsigned char *buf;
		Forest	   *fu;
		Forest	   *fj;
		ModelCheckLimits limits;
		json_t	   *model = NULL;

		snprintf(file, sizeof(file), "%s.ubj", models[m].name);
		buf = ReadFile(file, &len);
		fu = ForestFromUbjson(buf, len, Alloc, NULL, err, sizeof(err));
		free(buf);
		snprintf(what, sizeof(what), "%s: %s", file,
				 models[m].walked ? "a forest is built" : "refused");
		Ok((fu != NULL) == models[m].walked, what);
		if ((fu != NULL) != models[m].walked)
			printf("# %s\n", err);
		if (fu == NULL)
			continue;
		snprintf(file, sizeof(file), "%s.json", models[m].name);
		buf = ReadFile(file, &len);
		ModelCheckDefaultLimits(&limits);
		fj = NULL;
		if (ModelCheckParseJson(buf, len, &limits, &model, err, sizeof(err)) == MODELCHECK_OK)
		{
			fj = ForestFromModel(model, Alloc, NULL, err, sizeof(err));
			json_decref(model);
		}
		free(buf);
		snprintf(what, sizeof(what), "%s: the same forest as from its UBJSON, bit for bit", file);
		Ok(fj != NULL && fj->nnodes == fu->nnodes && fj->ntrees == fu->ntrees &&
		   fj->ngroups == fu->ngroups && fj->base_margin == fu->base_margin &&
		   memcmp(fj->nodes, fu->nodes, sizeof(ForestNode) * fu->nnodes) == 0 &&
		   memcmp(fj->roots, fu->roots, sizeof(int32_t) * fu->ntrees) == 0 &&
		   memcmp(fj->groups, fu->groups, sizeof(int32_t) * fu->ntrees) == 0, what);
		FreeAll();
	}
	FreeAll();
}

/* main runs every test and prints the TAP plan. */
int
main(void)
{
	TestWalk();
	TestMalformed();
	TestXgboostModels();
	printf("1..%d\n", test_count);
	return test_failed ? 1 : 0;
}
