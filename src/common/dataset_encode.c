/*
 * dataset_encode.c
 *		How a column value becomes a float feature: feature kinds, value
 *		conversion and the vocabularies of categorical features and class
 *		labels.
 *
 * Design
 * ------
 * Integer, float, numeric and boolean columns become their value (booleans
 * 0/1); text, varchar, char, name and enum columns are categorical: each
 * distinct value gets a code from a Vocabulary, a hash table from string to
 * code plus the array of names.  While training reads rows, codes are handed
 * out in first-seen order; VocabularySort then sorts the names (numerically
 * for numeric class labels, so class 10 follows class 9) and returns the map
 * from old to new codes, after which the vocabulary is frozen.  At prediction
 * time a vocabulary is rebuilt from input_schema and frozen from the start,
 * so an unseen category maps to -1 (a missing value).  NULL and NaN are
 * missing (NaN in the matrix, XGBoost's missing marker).  The same
 * conversions serve training, prediction and drift checks, so a value is
 * read the same way everywhere.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "common/common.h"

/* ---------------------------------------------------------------------
 * Feature typing and encoding
 * ---------------------------------------------------------------------
 */

/* FeatureKindName returns the input_schema name of a feature kind. */
const char *
FeatureKindName(FeatureKind kind)
{
	switch (kind)
	{
		case FEATURE_FLOAT:
			return "float";
		case FEATURE_INTEGER:
			return "integer";
		case FEATURE_BOOLEAN:
			return "boolean";
		case FEATURE_CATEGORICAL:
			return "categorical";
	}
	return "float";
}

/*
 * FeatureKindFromName parses an input_schema type name; it returns false
 * for an unknown name.
 */
bool
FeatureKindFromName(const char *name, FeatureKind *kind)
{
	for (int k = FEATURE_FLOAT; k <= FEATURE_CATEGORICAL; k++)
	{
		if (strcmp(name, FeatureKindName((FeatureKind) k)) == 0)
		{
			*kind = (FeatureKind) k;
			return true;
		}
	}
	return false;
}

/*
 * FeatureKindFromType returns how a column of type typid (domains looked
 * through) is encoded; *supported is false for types we cannot encode.
 */
FeatureKind
FeatureKindFromType(Oid typid, bool *supported)
{
	Oid			base = getBaseType(typid);

	*supported = true;
	switch (base)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return FEATURE_INTEGER;
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return FEATURE_FLOAT;
		case BOOLOID:
			return FEATURE_BOOLEAN;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
			return FEATURE_CATEGORICAL;
		default:
			if (type_is_enum(base))
				return FEATURE_CATEGORICAL;
			*supported = false;
			return FEATURE_FLOAT;
	}
}

/*
 * DatumToDouble converts a non-null value of a numeric or boolean type
 * (base type oid) to double.
 */
double
DatumToDouble(Oid basetype, Datum value)
{
	switch (basetype)
	{
		case INT2OID:
			return (double) DatumGetInt16(value);
		case INT4OID:
			return (double) DatumGetInt32(value);
		case INT8OID:
			return (double) DatumGetInt64(value);
		case FLOAT4OID:
			return (double) DatumGetFloat4(value);
		case FLOAT8OID:
			return DatumGetFloat8(value);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, value));
		case BOOLOID:
			return DatumGetBool(value) ? 1.0 : 0.0;
	}
	elog(ERROR, "unexpected numeric type %u", basetype);
	return 0.0;					/* keep compiler quiet */
}

/*
 * ColumnOutputFunction looks up the output function of a column type once,
 * so that rows need no catalog lookup.
 */
void
ColumnOutputFunction(Oid typid, FmgrInfo *outfunc)
{
	Oid			func;
	bool		isvarlena;

	getTypeOutputInfo(typid, &func, &isvarlena);
	fmgr_info(func, outfunc);
}

/*
 * DatumToText returns the text form of a non-null value: text-like types
 * directly, others (enums) through their output function.
 */
char *
DatumToText(Oid basetype, FmgrInfo *outfunc, Datum value)
{
	switch (basetype)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return TextDatumGetCString(value);
		case NAMEOID:
			return NameStr(*DatumGetName(value));
		case BOOLOID:
			return DatumGetBool(value) ? "true" : "false";
		default:
			return OutputFunctionCall(outfunc, value);
	}
}

/*
 * EncodeFeatureDatum returns the float a column value becomes in the
 * matrix: NaN for NULL, NaN and unknown categories; a number beyond the
 * float32 range becomes an infinity of its sign.
 */
float
EncodeFeatureDatum(FeatureColumn *col, Datum value, bool isnull)
{
	if (isnull)
		return NAN;
	if (col->kind == FEATURE_CATEGORICAL)
	{
		int			code = VocabularyLookup(col->vocab,
											DatumToText(col->typid, &col->outfunc, value),
											!col->vocab->frozen);

		return code < 0 ? NAN : (float) code;
	}
	return DoubleToFloat(DatumToDouble(col->typid, value));
}

/*
 * DoubleToFloat converts a double to float32, an infinity of its sign when
 * it is beyond the float32 range (where a cast is undefined behaviour).
 */
float
DoubleToFloat(double v)
{
	if (v > FLT_MAX)
		return INFINITY;
	if (v < -FLT_MAX)
		return -INFINITY;
	return (float) v;
}

/* ---------------------------------------------------------------------
 * Vocabularies
 * ---------------------------------------------------------------------
 */

typedef struct VocabEntry
{
	char	   *key;			/* hash key: pointer to the string */
	int			code;
} VocabEntry;

static uint32 VocabHash(const void *key, Size keysize);
static int	VocabMatch(const void *key1, const void *key2, Size keysize);

/* VocabularyCreate returns an empty vocabulary in the current context. */
Vocabulary *
VocabularyCreate(void)
{
	Vocabulary *vocab = palloc0(sizeof(Vocabulary));
	HASHCTL		ctl;

	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(VocabEntry);
	ctl.hash = VocabHash;
	ctl.match = VocabMatch;
	ctl.hcxt = CurrentMemoryContext;
	vocab->map = hash_create("mlops vocabulary", 64, &ctl,
							 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	vocab->capacity = 16;
	vocab->names = palloc(sizeof(char *) * vocab->capacity);
	vocab->cxt = CurrentMemoryContext;
	return vocab;
}

/* VocabHash hashes the string a key points to. */
static uint32
VocabHash(const void *key, Size keysize)
{
	const char *s = *(char *const *) key;

	(void) keysize;
	return hash_bytes((const unsigned char *) s, strlen(s));
}

/* VocabMatch compares the strings two keys point to. */
static int
VocabMatch(const void *key1, const void *key2, Size keysize)
{
	(void) keysize;
	return strcmp(*(char *const *) key1, *(char *const *) key2);
}

/*
 * VocabularyLookup returns the code of name, adding it with the next code
 * when add is true; it returns -1 for an unknown name otherwise.
 */
int
VocabularyLookup(Vocabulary *vocab, const char *name, bool add)
{
	VocabEntry *entry;
	bool		found;

	entry = hash_search(vocab->map, &name, add ? HASH_ENTER : HASH_FIND, &found);
	if (entry == NULL)
		return -1;
	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(vocab->cxt);

		if (vocab->count == vocab->capacity)
		{
			vocab->capacity *= 2;
			vocab->names = repalloc_huge(vocab->names, sizeof(char *) * vocab->capacity);
		}
		entry->key = pstrdup(name);
		entry->code = vocab->count;
		vocab->names[vocab->count++] = entry->key;
		MemoryContextSwitchTo(old);
	}
	return entry->code;
}

/*
 * CompareNames orders strings bytewise, or by value for numeric labels
 * (*(bool *) arg).
 */
static int
CompareNames(const void *a, const void *b, void *arg)
{
	const char *sa = *(char *const *) a;
	const char *sb = *(char *const *) b;

	if (*(bool *) arg)
	{
		double		da = strtod(sa, NULL);
		double		db = strtod(sb, NULL);

		if (da < db)
			return -1;
		if (da > db)
			return 1;
	}
	return strcmp(sa, sb);
}

/*
 * VocabularySort sorts the names (interruptibly: a vocabulary may hold
 * millions of categories) and renumbers the codes; it returns the map from
 * old code to new code.
 */
int *
VocabularySort(Vocabulary *vocab, bool numeric)
{
	int		   *remap = palloc_extended(sizeof(int) * Max(vocab->count, 1), MCXT_ALLOC_HUGE);

	qsort_interruptible(vocab->names, vocab->count, sizeof(char *), CompareNames, &numeric);
	for (int i = 0; i < vocab->count; i++)
	{
		VocabEntry *entry = hash_search(vocab->map, &vocab->names[i], HASH_FIND, NULL);

		CHECK_FOR_INTERRUPTS();
		remap[entry->code] = i;
		entry->code = i;
	}
	vocab->frozen = true;
	return remap;
}

