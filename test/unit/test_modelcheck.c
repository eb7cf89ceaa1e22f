/* unit-sources: src/xgb/modelcheck.c src/xgb/modelcheck_json.c src/xgb/modelcheck_ubjson.c src/xgb/modelcheck_validate.c src/xgb/modelcheck_canon.c */
/*
 * test_modelcheck.c
 *	  TAP unit tests of src/xgb/modelcheck.c.
 *
 * Good models are small files XGBoost 1.7.4 wrote (test/unit/data, made by
 * make_models.py); bad ones are built here, either by editing a good
 * model's tree or by damaging its bytes.  Byte-level damage is exhaustive
 * for one UBJSON and one JSON model (every truncation, every bit flip,
 * every adjacent byte swap): the decoder must return, never crash; run the
 * test under -fsanitize=address to also catch silent out-of-bounds reads.
 */
#include <jansson.h>

#include "xgb/modelcheck.h"

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
 * ReadData reads test/unit/data/<name> into a malloc'd buffer.
 */
static unsigned char *
ReadData(const char *name, size_t *len)
{
	char		path[1200];
	FILE	   *f;
	unsigned char *buf;
	long		n;

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
	{
		printf("Bail out! cannot open %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	*len = (size_t) n;
	return buf;
}

/*
 * Check runs ModelCheckModel on buf and returns its status, filling err.
 */
static ModelCheckStatus
Check(const unsigned char *buf, size_t len, char *err, size_t errlen)
{
	ModelCheckLimits limits;
	ModelCheckResult result;
	ModelCheckStatus st;

	ModelCheckDefaultLimits(&limits);
	err[0] = '\0';
	st = ModelCheckModel(buf, len, &limits, &result, err, errlen);
	if (st == MODELCHECK_OK)
		ModelCheckResultFree(&result);
	return st;
}

/*
 * TestGoodModel checks one XGBoost-written model in both formats: both are
 * accepted with the expected facts and decode to the same canonical JSON,
 * which is itself accepted and canonical.
 */
static void
TestGoodModel(const char *stem, const char *booster, const char *objective, const char *task,
			  int64_t num_class, int64_t num_trees, const char *first_name)
{
	ModelCheckLimits limits;
	ModelCheckResult rj;
	ModelCheckResult ru;
	ModelCheckResult rc;
	char		name[256];
	char		what[1024];
	char		err[512];
	unsigned char *json;
	unsigned char *ubj;
	size_t		json_len;
	size_t		ubj_len;
	ModelCheckStatus sj;
	ModelCheckStatus su;
	ModelCheckStatus sc = MODELCHECK_BAD_MODEL;

	ModelCheckDefaultLimits(&limits);
	snprintf(name, sizeof(name), "%s.json", stem);
	json = ReadData(name, &json_len);
	snprintf(name, sizeof(name), "%s.ubj", stem);
	ubj = ReadData(name, &ubj_len);

	Ok(ModelCheckDetectFormat(json, json_len) == MODELCHECK_FORMAT_JSON &&
	   ModelCheckDetectFormat(ubj, ubj_len) == MODELCHECK_FORMAT_UBJSON,
	   "formats of the model are detected");
	sj = ModelCheckModel(json, json_len, &limits, &rj, err, sizeof(err));
	snprintf(what, sizeof(what), "%s.json is accepted (%s)", stem, sj ? err : "ok");
	Ok(sj == MODELCHECK_OK, what);
	su = ModelCheckModel(ubj, ubj_len, &limits, &ru, err, sizeof(err));
	snprintf(what, sizeof(what), "%s.ubj is accepted (%s)", stem, su ? err : "ok");
	Ok(su == MODELCHECK_OK, what);
	if (sj == MODELCHECK_OK && su == MODELCHECK_OK)
	{
		snprintf(what, sizeof(what), "%s: json and ubjson give the same canonical json", stem);
		Ok(rj.canonical_len == ru.canonical_len &&
		   memcmp(rj.canonical, ru.canonical, rj.canonical_len) == 0, what);
		sc = ModelCheckModel((unsigned char *) rj.canonical, rj.canonical_len, &limits, &rc,
							 err, sizeof(err));
		snprintf(what, sizeof(what), "%s: canonical json is accepted and a fixed point", stem);
		Ok(sc == MODELCHECK_OK && rc.canonical_len == rj.canonical_len &&
		   memcmp(rc.canonical, rj.canonical, rj.canonical_len) == 0, what);
		snprintf(what, sizeof(what), "%s: booster %s, objective %s, task %s", stem,
				 booster, objective, task);
		Ok(strcmp(ru.info.booster, booster) == 0 && strcmp(ru.info.objective, objective) == 0 &&
		   strcmp(ru.info.task, task) == 0, what);
		snprintf(what, sizeof(what), "%s: 3 features, num_class %lld, %lld trees", stem,
				 (long long) num_class, (long long) num_trees);
		Ok(ru.info.num_feature == 3 && ru.info.num_class == num_class &&
		   ru.info.num_trees == num_trees, what);
		snprintf(what, sizeof(what), "%s: feature names %s", stem, first_name ? first_name : "absent");
		Ok(first_name == NULL ? rj.info.num_feature_names == 0
		   : (rj.info.num_feature_names == 3 && strcmp(rj.info.feature_names[0], first_name) == 0 &&
			  ru.info.num_feature_names == 3 && strcmp(ru.info.feature_names[0], first_name) == 0),
		   what);
		if (sc == MODELCHECK_OK)
			ModelCheckResultFree(&rc);
	}
	if (sj == MODELCHECK_OK)
		ModelCheckResultFree(&rj);
	if (su == MODELCHECK_OK)
		ModelCheckResultFree(&ru);
	free(json);
	free(ubj);
}

/* one edit of a decoded good model that must make it invalid */
typedef struct ModelEdit
{
	const char *file;			/* good model to start from */
	const char *path;			/* '/'-separated keys and array indices */
	const char *value;			/* JSON of the new value; NULL deletes */
	const char *what;			/* test description */
	const char *expect;			/* substring of the rejection message */
} ModelEdit;

#define T0 "learner/gradient_booster/model/trees/0/"
#define GBM "learner/gradient_booster/model/"
#define LMP "learner/learner_model_param/"

static const ModelEdit Edits[] = {
	{"binary.json", T0 "left_children/0", "99", "child index out of range", "outside 1.."},
	{"binary.json", T0 "right_children/0", "0", "child pointing at the root", "outside 1.."},
	{"binary.json", T0 "left_children/0", "-5", "negative child", "outside 1.."},
	{"binary.json", T0 "right_children/0", "1", "node shared by two edges", "reached twice"},
	{"binary.json", T0 "left_children/2", "1", "edge back up the tree", "reached twice"},
	{"binary.json", T0 "parents/1", "2", "parents not matching children", "has parent"},
	{"binary.json", T0 "parents/0", "1", "root with a parent", "root node has parent"},
	{"binary.json", T0 "right_children/0", "-1", "node with one child", "outside 1.."},
	{"binary.json", T0 "split_indices/0", "3", "split index = num_feature", "splits on feature 3"},
	{"binary.json", T0 "split_indices/0", "-1", "negative split index", "splits on feature -1"},
	{"binary.json", T0 "split_indices/3", "2147483647", "reachable leaf marked deleted", "leaf 3 has split index"},
	{"binary.json", T0 "sum_hessian/6", NULL, "short node array", "sum_hessian has"},
	{"binary.json", T0 "left_children/7", "-1", "long node array", "left_children has"},
	{"binary.json", T0 "split_conditions/0", "1", "integer among floats", "not a floating-point"},
	{"binary.json", T0 "base_weights/0", "1e300", "float beyond float range", "not a floating-point"},
	{"binary.json", T0 "left_children/0", "1.0", "float among integers", "not an integer"},
	{"binary.json", T0 "id", "{\"" MODELCHECK_NONFINITE_KEY "\": \"NaN\"}", "NaN marker as a tree id", "id must be"},
	{"binary.json", T0 "default_left/0", "2", "default_left of 2", "must be 0 or 1"},
	{"binary.json", GBM "trees/1/id", "0", "wrong tree id", "id must be 1"},
	{"binary.json", T0 "tree_param/num_nodes", "\"2\"", "num_nodes not matching arrays", "expected 2"},
	{"binary.json", T0 "tree_param/num_nodes", "\"3x\"", "num_nodes not an integer", "holding an integer"},
	{"binary.json", T0 "tree_param/num_nodes", "\"\\t7\"", "num_nodes with white space", "holding an integer"},
	{"binary.json", T0 "tree_param/num_feature", "\"2\"", "tree num_feature not the learner's", "but the learner has"},
	{"binary.json", T0 "tree_param/size_leaf_vector", "\"2\"", "vector leaves", "size_leaf_vector is 2"},
	{"binary.json", T0 "evil", "1", "unknown tree key", "unexpected key \"evil\""},
	{"binary.json", "Config", "{}", "unknown top-level key", "unexpected key \"Config\""},
	{"binary.json", "learner", NULL, "missing learner", "lacks \"learner\""},
	{"binary.json", "version", "\"1.7.4\"", "version as a string", "version must be"},
	{"binary.json", LMP "num_feature", "\"2147483647\"", "num_feature over the cap", "num_feature is 2147483647"},
	{"binary.json", LMP "num_feature", "\"0\"", "num_feature of 0", "num_feature is 0"},
	{"binary.json", LMP "num_class", "\"1000000000\"", "num_class over the cap", "num_class is 1000000000"},
	{"binary.json", LMP "num_class", "\"3\"", "binary objective with 3 classes", "cannot have num_class"},
	{"multi.json", LMP "num_class", "\"1\"", "multi objective with 1 class", "needs num_class"},
	{"binary.json", LMP "num_target", "\"2\"", "tree_info consistent with num_target", "__accepted__"},
	{"multi.json", LMP "num_target", "\"2\"", "num_class and num_target both above 1", "cannot both exceed 1"},
	{"binary.json", LMP "base_score", "\"half\"", "unparsable base_score", "not a finite number"},
	{"binary.json", LMP "base_score", "\"inf\"", "infinite base_score", "not a finite number"},
	{"binary.json", LMP "num_feature", "3", "parameter not a string", "must be a string"},
	{"binary.json", LMP "evil", "\"1\"", "unknown learner parameter", "unexpected key \"evil\""},
	{"binary.json", "learner/objective/name", "\"reg:evil\"", "unknown objective", "unknown objective"},
	{"binary.json", "learner/objective/reg_loss_param", "[]", "objective parameters not an object", "unexpected key"},
	{"binary.json", "learner/objective/reg_loss_param/scale_pos_weight", "1", "objective parameter not a string", "must be a string"},
	{"binary.json", "learner/gradient_booster/name", "\"gbevil\"", "unknown booster", "unknown booster"},
	{"binary.json", GBM "gbtree_model_param/num_trees", "\"5\"", "num_trees not matching trees", "num_trees is 5"},
	{"binary.json", GBM "gbtree_model_param/num_parallel_tree", "\"0\"", "num_parallel_tree of 0", "num_parallel_tree is 0"},
	{"binary.json", GBM "gbtree_model_param/num_parallel_tree", "\"65537\"", "num_parallel_tree over the cap", "num_parallel_tree is 65537"},
	{"multi.json", GBM "gbtree_model_param/num_parallel_tree", "\"4\"", "num_parallel_tree with fewer trees than one round", "__accepted__"},
	{"binary.json", GBM "tree_info/0", NULL, "short tree_info", "tree_info has"},
	{"binary.json", GBM "tree_info/0", "3", "tree_info beyond the groups", "output groups"},
	{"multi.json", GBM "tree_info/0", "3", "tree_info = num_class", "outside the 3 output groups"},
	{"binary.json", GBM "trees/0", "3", "tree that is a number", "is not an object"},
	{"binary.json", "learner/feature_names/0", NULL, "feature_names of the wrong length", "feature_names has 2"},
	{"binary.json", "learner/feature_names/0", "7", "feature name that is a number", "not a string"},
	{"binary.json", "learner/feature_types", "[\"q\", \"q\", \"evil\"]", "unknown feature type", "known feature type"},
	{"binary.json", "learner/attributes/x", "1", "attribute that is a number", "must be a string"},
	{"dart.json", "learner/gradient_booster/weight_drop/0", NULL, "dart weights of the wrong length", "weight_drop has"},
	{"dart.json", "learner/gradient_booster/gbtree/name", "\"dart\"", "dart whose inner booster is not gbtree", "must be \"gbtree\""},
	{"linear.json", GBM "weights/0", NULL, "gblinear weights of the wrong length", "weights has"},
	{"linear.json", GBM "boosted_rounds", "-1", "negative boosted_rounds", "non-negative integer"},
	{"pruned.json", T0 "tree_param/num_deleted", "\"0\"", "num_deleted not matching", "num_deleted is 0"},
	{"pruned.json", T0 "split_indices/7", "0", "unreachable node not marked deleted", "unreachable"},
	{"pruned.json", T0 "parents/7", "99", "deleted node with its parent out of range", "unreachable"},
	{"categorical.json", T0 "categories/0", "-1", "negative category", "outside 0.."},
	{"categorical.json", T0 "categories/0", "1073741824", "category over the cap", "outside 0.."},
	{"categorical.json", T0 "categories_segments/1", "100", "category segment out of range", "outside the"},
	{"categorical.json", T0 "categories_sizes/0", "0", "empty category segment", "outside the"},
	{"categorical.json", T0 "categories_sizes/2", "2", "category segment running past the end", "outside the"},
	{"categorical.json", T0 "categories_nodes/0", "1", "categories_nodes not the categorical nodes", "listed in categories_nodes"},
	{"categorical.json", T0 "categories_nodes/2", NULL, "categorical node missing from categories_nodes", "categories_segments has 3"},
	{"categorical.json", T0 "split_type/0", "0", "categorical node typed numerical", "listed in categories_nodes"},
	{"categorical.json", T0 "split_type/3", "1", "categorical leaf", "categorical split type"},
	{"categorical.json", T0 "split_type/0", "2", "split_type of 2", "must be 0 or 1"},
	{"categorical.json", T0 "categories", NULL, "categories array missing", "together or none"},
};

/*
 * EditModel applies one edit to a decoded model: it walks path (object
 * keys and array indices) and replaces, appends or deletes its last step.
 * It returns 0 when the path does not exist in the model.
 */
static int
EditModel(json_t *model, const char *path, const char *value)
{
	char		buf[256];
	char	   *step;
	char	   *next;
	json_t	   *node = model;
	json_t	   *v = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	if (value != NULL && (v = json_loads(value, JSON_DECODE_ANY, NULL)) == NULL)
		return 0;
	for (step = buf; (next = strchr(step, '/')) != NULL; step = next + 1)
	{
		*next = '\0';
		node = json_is_array(node) ? json_array_get(node, (size_t) atoi(step))
			: json_object_get(node, step);
		if (node == NULL)
		{
			json_decref(v);
			return 0;
		}
	}
	if (json_is_object(node))
		return v ? json_object_set_new(node, step, v) == 0 : json_object_del(node, step) == 0;
	if (!json_is_array(node))
	{
		json_decref(v);
		return 0;
	}
	if (v == NULL)
		return json_array_remove(node, (size_t) atoi(step)) == 0;
	if ((size_t) atoi(step) == json_array_size(node))
		return json_array_append_new(node, v) == 0;
	return json_array_set_new(node, (size_t) atoi(step), v) == 0;
}

/*
 * TestEdit decodes a good model, applies one edit, writes it back and
 * checks that ModelCheckModel rejects it as a bad model whose message
 * contains the expected text (or accepts it, for "__accepted__").
 */
static void
TestEdit(const ModelEdit *edit)
{
	ModelCheckLimits limits;
	ModelCheckResult good;
	char		err[512];
	char		label[800];
	unsigned char *buf;
	size_t		len;
	char	   *text;
	size_t		text_len;
	int			accept = strcmp(edit->expect, "__accepted__") == 0;
	ModelCheckStatus st;

	ModelCheckDefaultLimits(&limits);
	buf = ReadData(edit->file, &len);
	if (ModelCheckModel(buf, len, &limits, &good, err, sizeof(err)) != MODELCHECK_OK)
	{
		Ok(0, edit->what);
		free(buf);
		return;
	}
	if (!EditModel(good.model, edit->path, edit->value) ||
		ModelCheckCanonicalJson(good.model, &text, &text_len, err, sizeof(err)) != MODELCHECK_OK)
	{
		snprintf(label, sizeof(label), "%s (edit of %s failed)", edit->what, edit->path);
		Ok(0, label);
		ModelCheckResultFree(&good);
		free(buf);
		return;
	}
	st = Check((unsigned char *) text, text_len, err, sizeof(err));
	snprintf(label, sizeof(label), "%s is %s (%s)", edit->what, accept ? "accepted" : "rejected",
			 st == MODELCHECK_OK ? "ok" : err);
	Ok(accept ? st == MODELCHECK_OK
	   : (st == MODELCHECK_BAD_MODEL && strstr(err, edit->expect) != NULL), label);
	free(text);
	ModelCheckResultFree(&good);
	free(buf);
}

/*
 * TestParallelOverflow checks that num_parallel_tree times the number of
 * output groups, which XGBoost multiplies into an int, must fit one: both
 * are within their own caps here.
 */
static void
TestParallelOverflow(void)
{
	ModelCheckLimits limits;
	ModelCheckResult good;
	char		err[512];
	unsigned char *buf;
	size_t		len;
	char	   *text = NULL;
	size_t		text_len;
	ModelCheckStatus st = MODELCHECK_OK;

	ModelCheckDefaultLimits(&limits);
	buf = ReadData("multi.json", &len);
	if (ModelCheckModel(buf, len, &limits, &good, err, sizeof(err)) == MODELCHECK_OK)
	{
		if (EditModel(good.model, GBM "gbtree_model_param/num_parallel_tree", "\"65536\"") &&
			EditModel(good.model, LMP "num_class", "\"65536\"") &&
			ModelCheckCanonicalJson(good.model, &text, &text_len, err, sizeof(err)) == MODELCHECK_OK)
			st = Check((unsigned char *) text, text_len, err, sizeof(err));
		ModelCheckResultFree(&good);
	}
	Ok(text != NULL && st == MODELCHECK_BAD_MODEL && strstr(err, "is too large") != NULL,
	   "num_parallel_tree 65536 with 65536 classes overflows an int and is rejected");
	free(text);
	free(buf);
}

/*
 * TestRawBad checks that a hand-written buffer is rejected with status and
 * a message containing expect.
 */
static void
TestRawBad(const char *what, const void *buf, size_t len, ModelCheckStatus status,
		   const char *expect)
{
	char		err[512];
	char		label[800];
	ModelCheckStatus st = Check(buf, len, err, sizeof(err));

	snprintf(label, sizeof(label), "%s is rejected (%s)", what, err);
	Ok(st == status && strstr(err, expect) != NULL, label);
}

/*
 * TestDamage feeds every truncation, every single-bit flip and every
 * adjacent byte swap of a good model to ModelCheckModel.  Each call must
 * return; truncations must all be refused; every accepted mutant must
 * produce canonical JSON that is accepted again.
 */
static void
TestDamage(const char *file)
{
	unsigned char *good;
	unsigned char *buf;
	size_t		len;
	char		err[512];
	char		what[256];
	int			truncs_ok = 1;
	long		calls = 0;
	long		accepted = 0;
	int			reaccept_ok = 1;
	ModelCheckLimits limits;

	ModelCheckDefaultLimits(&limits);
	good = ReadData(file, &len);
	buf = malloc(len);
	for (size_t cut = 0; cut < len; cut++)
	{
		/* a copy of exactly cut bytes, so reading past it is an ASan error */
		unsigned char *p = malloc(cut > 0 ? cut : 1);

		memcpy(p, good, cut);
		if (Check(p, cut, err, sizeof(err)) == MODELCHECK_OK)
			truncs_ok = 0;
		calls++;
		free(p);
	}
	snprintf(what, sizeof(what), "%s: all %zu truncations are refused", file, len);
	Ok(truncs_ok, what);

	for (size_t i = 0; i < len + 1; i++)
	{
		for (int bit = 0; bit < 9; bit++)
		{
			ModelCheckResult r;

			memcpy(buf, good, len);
			if (i == len)
			{
				if (bit > 0)
					break;
			}
			else if (bit < 8)
				buf[i] ^= (unsigned char) (1u << bit);
			else if (i + 1 < len)
			{
				unsigned char c = buf[i];

				buf[i] = buf[i + 1];
				buf[i + 1] = c;
			}
			calls++;
			if (ModelCheckModel(buf, len, &limits, &r, err, sizeof(err)) == MODELCHECK_OK)
			{
				ModelCheckResult again;

				accepted++;
				if (ModelCheckModel((unsigned char *) r.canonical, r.canonical_len, &limits,
									&again, err, sizeof(err)) != MODELCHECK_OK)
					reaccept_ok = 0;
				else
					ModelCheckResultFree(&again);
				ModelCheckResultFree(&r);
			}
		}
	}
	snprintf(what, sizeof(what), "%s: %ld damaged buffers decoded without a crash, %ld accepted",
			 file, calls, accepted);
	Ok(1, what);
	snprintf(what, sizeof(what), "%s: every accepted mutant's canonical json is accepted again", file);
	Ok(reaccept_ok, what);
	free(buf);
	free(good);
}

/*
 * TestUbjsonEdges checks hand-made UBJSON buffers: lengths that run past
 * the end, deep nesting, duplicate keys, unsupported markers, trailing
 * bytes.
 */
static void
TestUbjsonEdges(void)
{
	static const unsigned char huge_array[] = {'{', 'i', 1, 'a', '[', '$', 'd', '#', 'L',
	0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '}'};
	static const unsigned char huge_string[] = {'{', 'i', 1, 'a', 'S', 'l', 0x7f, 0xff, 0xff, 0xff, '}'};
	static const unsigned char negative_len[] = {'{', 'i', 1, 'a', 'S', 'i', 0xff, '}'};
	static const unsigned char huge_key[] = {'{', 'L', 0, 0, 0, 0, 0, 0, 0x10, 0, 'a', '}'};
	static const unsigned char huge_object[] = {'{', '#', 'L', 0x7f, 0, 0, 0, 0, 0, 0, 0, 'i', 1, 'a', 'Z'};
	static const unsigned char dup_key[] = {'{', 'i', 1, 'a', 'Z', 'i', 1, 'a', 'T', '}'};
	static const unsigned char noop[] = {'{', 'i', 1, 'a', 'N', 'Z', '}'};
	static const unsigned char highprec[] = {'{', 'i', 1, 'a', 'H', 'i', 1, '1', '}'};
	static const unsigned char badmarker[] = {'{', 'i', 1, 'a', 'Q', '}'};
	static const unsigned char trailing[] = {'{', 'i', 1, 'a', 'Z', '}', 'Z'};
	static const unsigned char nul_key[] = {'{', 'i', 1, 0, 'Z', '}'};
	static const unsigned char bad_utf8[] = {'{', 'i', 1, 0xff, 'Z', '}'};
	static const unsigned char typed_no_count[] = {'{', 'i', 1, 'a', '[', '$', 'd', ']', '}'};
	static const unsigned char typed_bad_type[] = {'{', 'i', 1, 'a', '[', '$', '[', '#', 'i', 1, ']', '}'};
	static const unsigned char float_key[] = {'{', 'i', 1, 'a', '[', '#', 'd', 0, 0, 0, 0, ']', '}'};
	static const unsigned char empty_object[] = {'{', 'i', 1, 'a', '{', '}', '}'};
	unsigned char deep[200];
	size_t		n = 0;
	ModelCheckLimits limits;
	json_t	   *tree;
	char		err[256];

	TestRawBad("ubjson typed array longer than the buffer", huge_array, sizeof(huge_array),
			   MODELCHECK_BAD_FORMAT, "runs past the end");
	TestRawBad("ubjson string longer than the buffer", huge_string, sizeof(huge_string),
			   MODELCHECK_BAD_FORMAT, "runs past the end");
	TestRawBad("ubjson negative length", negative_len, sizeof(negative_len),
			   MODELCHECK_BAD_FORMAT, "negative length");
	TestRawBad("ubjson key longer than the buffer", huge_key, sizeof(huge_key),
			   MODELCHECK_BAD_FORMAT, "runs past the end");
	TestRawBad("ubjson counted object longer than the buffer", huge_object, sizeof(huge_object),
			   MODELCHECK_BAD_FORMAT, "runs past the end");
	TestRawBad("ubjson duplicate key", dup_key, sizeof(dup_key), MODELCHECK_BAD_FORMAT, "duplicate");
	TestRawBad("ubjson no-op marker", noop, sizeof(noop), MODELCHECK_BAD_FORMAT, "no-op");
	TestRawBad("ubjson high-precision number", highprec, sizeof(highprec),
			   MODELCHECK_BAD_FORMAT, "high-precision");
	TestRawBad("ubjson unknown marker", badmarker, sizeof(badmarker), MODELCHECK_BAD_FORMAT,
			   "unknown type marker");
	TestRawBad("ubjson trailing bytes", trailing, sizeof(trailing), MODELCHECK_BAD_FORMAT, "trailing");
	TestRawBad("ubjson key with a nul byte", nul_key, sizeof(nul_key), MODELCHECK_BAD_FORMAT, "NUL");
	TestRawBad("ubjson key that is not utf-8", bad_utf8, sizeof(bad_utf8), MODELCHECK_BAD_FORMAT,
			   "UTF-8");
	TestRawBad("ubjson typed array without count", typed_no_count, sizeof(typed_no_count),
			   MODELCHECK_BAD_FORMAT, "without a count");
	TestRawBad("ubjson typed array of containers", typed_bad_type, sizeof(typed_bad_type),
			   MODELCHECK_BAD_FORMAT, "unsupported element type");
	TestRawBad("ubjson float as an array count", float_key, sizeof(float_key),
			   MODELCHECK_BAD_FORMAT, "expected an integer");
	TestRawBad("decodable ubjson that is no model", empty_object, sizeof(empty_object),
			   MODELCHECK_BAD_MODEL, "unexpected key");

	deep[n++] = '{';
	deep[n++] = 'i';
	deep[n++] = 1;
	deep[n++] = 'a';
	while (n < sizeof(deep) - 1)
		deep[n++] = '[';
	TestRawBad("ubjson nested 196 levels deep", deep, n, MODELCHECK_TOO_LARGE, "nests deeper");

	/* counted typed arrays decode to the right values */
	{
		static const unsigned char typed[] = {'{', 'i', 1, 'a', '[', '$', 'I', '#', 'U', 2,
			0xff, 0xfe, 0x01, 0x00, 'i', 1, 'b', '[', '$', 'D', '#', 'i', 1,
		0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 'i', 1, 'c', 'd', 0x7f, 0xc0, 0, 0, '}'};
		json_t	   *a;

		ModelCheckDefaultLimits(&limits);
		Ok(ModelCheckParseUbjson(typed, sizeof(typed), &limits, &tree, err, sizeof(err)) == MODELCHECK_OK &&
		   (a = json_object_get(tree, "a")) != NULL && json_array_size(a) == 2 &&
		   json_integer_value(json_array_get(a, 0)) == -2 &&
		   json_integer_value(json_array_get(a, 1)) == 256 &&
		   json_real_value(json_array_get(json_object_get(tree, "b"), 0)) == 1.5 &&
		   json_is_object(json_object_get(tree, "c")),
		   "ubjson typed int16 and float64 arrays and a float32 NaN decode correctly");
		json_decref(tree);
	}
}

/*
 * TestJsonEdges checks JSON-level refusals and the NaN handling.
 */
static void
TestJsonEdges(void)
{
	static const char dup[] = "{\"learner\": {}, \"learner\": {}}";
	static const char not_object[] = "{\"a\": 1} [";
	ModelCheckLimits limits;
	ModelCheckResult r;
	char		err[256];
	unsigned char *buf;
	size_t		len;
	ModelCheckStatus st;

	TestRawBad("json with a duplicate key", dup, strlen(dup), MODELCHECK_BAD_FORMAT, "duplicate");
	TestRawBad("json with trailing garbage", not_object, strlen(not_object),
			   MODELCHECK_BAD_FORMAT, "invalid json");
	TestRawBad("legacy binary model", "binf\0\0\0?", 8, MODELCHECK_BAD_FORMAT, "deprecated binary");
	TestRawBad("bytes that are no model", "hello", 5, MODELCHECK_BAD_FORMAT, "neither");
	TestRawBad("empty input", "", 0, MODELCHECK_BAD_FORMAT, "neither");
	TestRawBad("json with a nul byte", "{\"a\"\0:1}", 8, MODELCHECK_BAD_FORMAT, "NUL");
	TestRawBad("json array", "[1]", 3, MODELCHECK_BAD_FORMAT, "neither");

	buf = ReadData("binary.json", &len);
	ModelCheckDefaultLimits(&limits);
	limits.max_bytes = 100;
	st = ModelCheckModel(buf, len, &limits, &r, err, sizeof(err));
	Ok(st == MODELCHECK_TOO_LARGE && strstr(err, "more than the limit") != NULL,
	   "json model over max_bytes is refused");
	free(buf);
	buf = ReadData("binary.ubj", &len);
	st = ModelCheckModel(buf, len, &limits, &r, err, sizeof(err));
	Ok(st == MODELCHECK_TOO_LARGE, "ubjson model over max_bytes is refused");
	free(buf);

	/* the allocation budget: legitimate models fit, amplifying inputs do not */
	{
		size_t		n = 100000;
		unsigned char *ubj = malloc(n + 32);
		char	   *nans = malloc(4 * n + 32);
		size_t		k = 0;

		ModelCheckDefaultLimits(&limits);
		limits.memory_slack = 0;
		ubj[k++] = '{';
		ubj[k++] = 'i';
		ubj[k++] = 1;
		ubj[k++] = 'a';
		ubj[k++] = '[';
		ubj[k++] = '$';
		ubj[k++] = 'U';
		ubj[k++] = '#';
		ubj[k++] = 'l';
		ubj[k++] = (unsigned char) (n >> 24);
		ubj[k++] = (unsigned char) (n >> 16);
		ubj[k++] = (unsigned char) (n >> 8);
		ubj[k++] = (unsigned char) n;
		memset(ubj + k, 1, n);
		k += n;
		ubj[k++] = '}';
		st = ModelCheckModel(ubj, k, &limits, &r, err, sizeof(err));
		Ok(st == MODELCHECK_TOO_LARGE && strstr(err, "bytes of memory") != NULL,
		   "100,000 one-byte ubjson integers exceed 24 times their size in memory");
		k = 0;
		nans[k++] = '{';
		memcpy(nans + k, "\"a\":[", 5);
		k += 5;
		for (size_t i = 0; i < n; i++)
		{
			memcpy(nans + k, "NaN,", 4);
			k += 4;
		}
		nans[k - 1] = ']';
		nans[k++] = '}';
		st = ModelCheckModel((unsigned char *) nans, k, &limits, &r, err, sizeof(err));
		Ok(st == MODELCHECK_TOO_LARGE && strstr(err, "bytes of memory") != NULL,
		   "100,000 NaN tokens exceed 24 times their size in memory");
		free(ubj);
		free(nans);
		buf = ReadData("multi.ubj", &len);
		st = ModelCheckModel(buf, len, &limits, &r, err, sizeof(err));
		Ok(st == MODELCHECK_OK, "a model xgboost wrote fits the budget without slack");
		if (st == MODELCHECK_OK)
			ModelCheckResultFree(&r);
		free(buf);
	}

	/* NaN tokens become markers outside strings only, and are written back */
	{
		static const char text[] = "{\"s\": \"NaN \\\" Infinity\", \"v\": [NaN, -Infinity, Infinity, 1.5]}";
		json_t	   *tree;
		char	   *out;
		size_t		out_len;

		ModelCheckDefaultLimits(&limits);
		st = ModelCheckParseJson((const unsigned char *) text, strlen(text), &limits, &tree,
								 err, sizeof(err));
		Ok(st == MODELCHECK_OK &&
		   strcmp(json_string_value(json_object_get(tree, "s")), "NaN \" Infinity") == 0 &&
		   ModelCheckCanonicalJson(tree, &out, &out_len, err, sizeof(err)) == MODELCHECK_OK &&
		   strcmp(out, "{\"s\":\"NaN \\\" Infinity\",\"v\":[NaN,-Infinity,Infinity,1.5]}") == 0,
		   "NaN and Infinity tokens round-trip, strings are untouched");
		if (st == MODELCHECK_OK)
		{
			free(out);
			json_decref(tree);
		}
	}
	Ok(strcmp(ModelCheckTaskForObjective("binary:hinge"), "classification") == 0 &&
	   strcmp(ModelCheckTaskForObjective("multi:softmax"), "classification") == 0 &&
	   strcmp(ModelCheckTaskForObjective("reg:gamma"), "regression") == 0 &&
	   strcmp(ModelCheckTaskForObjective("count:poisson"), "regression") == 0 &&
	   strcmp(ModelCheckTaskForObjective("rank:ndcg"), "ranking") == 0 &&
	   strcmp(ModelCheckTaskForObjective("survival:aft"), "survival") == 0 &&
	   strcmp(ModelCheckTaskForObjective("something:else"), "other") == 0,
	   "objectives map to tasks");
}

/*
 * main runs every test and prints the TAP plan last.
 */
int
main(int argc, char **argv)
{
	const char *env = getenv("MODELCHECK_DATA");

	if (argc > 1)
		env = argv[1];
	if (env != NULL)
		snprintf(data_dir, sizeof(data_dir), "%s", env);
	else
	{
		const char *slash = strrchr(__FILE__, '/');

		snprintf(data_dir, sizeof(data_dir), "%.*sdata",
				 slash ? (int) (slash - __FILE__ + 1) : 0, __FILE__);
	}

	TestGoodModel("binary", "gbtree", "binary:logistic", "classification", 0, 2, "age");
	TestGoodModel("multi", "gbtree", "multi:softprob", "classification", 3, 6, NULL);
	TestGoodModel("regression", "gbtree", "reg:squarederror", "regression", 0, 2, NULL);
	TestGoodModel("dart", "dart", "binary:logistic", "classification", 0, 2, NULL);
	TestGoodModel("linear", "gblinear", "reg:squarederror", "regression", 0, 0, NULL);
	TestGoodModel("pruned", "gbtree", "reg:squarederror", "regression", 0, 1, NULL);
	TestGoodModel("categorical", "gbtree", "reg:squarederror", "regression", 0, 2, NULL);

	for (size_t i = 0; i < sizeof(Edits) / sizeof(Edits[0]); i++)
		TestEdit(&Edits[i]);
	TestParallelOverflow();

	TestUbjsonEdges();
	TestJsonEdges();
	TestDamage("binary.ubj");
	TestDamage("categorical.ubj");
	TestDamage("binary.json");

	printf("1..%d\n", test_count);
	return test_failed == 0 ? 0 : 1;
}
