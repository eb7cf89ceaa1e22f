/*
 * dataset.c
 *		Reading a table, view or query into a dense float matrix.
 *
 * Design
 * ------
 * Training and table scoring both need the rows of a user's source as a
 * row-major float32 matrix, which is what XGBoost consumes.  The source is a
 * relation name or a query; either way it becomes a query that is planned
 * with SPI and opened as a cursor as the calling user, so the user's
 * privileges and row-level security apply.  Instead of fetching rows into SPI
 * tuple tables (a copy of every row) we run the portal once with our own
 * DestReceiver (SourceScan): every slot the executor produces is encoded
 * straight into the matrix and forgotten, so the only copy of the data in the
 * backend is the float matrix itself.  The executor checks for interrupts
 * between rows, so a long read can be cancelled.
 *
 * Encoding.  Integer, float, numeric and boolean columns become their value
 * (booleans 0/1); text, varchar, char, name and enum columns are categorical:
 * each distinct value gets a code, stored with the model in input_schema as
 * the "categories" array (code i = categories[i]) and applied identically at
 * prediction time, where a value never seen in training is missing.  NULL
 * and NaN are missing (NaN in the matrix, XGBoost's missing marker).
 *
 * Codes are first handed out in first-seen order while rows stream in; when
 * the source is exhausted every vocabulary is sorted and the column is
 * rewritten, so codes do not depend on row order.  Class labels of a
 * classification use the same vocabulary machinery (sorted numerically for
 * numeric labels, so class 10 follows class 9).
 *
 * Memory.  The matrix grows by doubling in the caller's memory context
 * (huge allocations, so it is accounted to the backend and freed with the
 * context on error); rows x features is capped by the caller.  Per-row
 * garbage (detoasted text) lives in a small context reset for every row.
 *
 * Splits are sets of row indexes kept in source order: random (seeded
 * partial Fisher-Yates), stratified (per-class quotas by largest remainder,
 * then random within each class) or last (the final rows).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/portal.h"
#include "utils/regproc.h"
#include "utils/typcache.h"

#include "common/common.h"

/* ---------------------------------------------------------------------
 * Source scanning
 * ---------------------------------------------------------------------
 */

/* A DestReceiver that hands every slot to a callback */
typedef struct CallbackReceiver
{
	DestReceiver pub;
	SourceRowCallback callback;
	void	   *arg;
	MemoryContext rowcxt;
} CallbackReceiver;

static bool CallbackReceiveSlot(TupleTableSlot *slot, DestReceiver *self);
static void CallbackStartup(DestReceiver *self, int operation, TupleDesc typeinfo);
static void CallbackShutdown(DestReceiver *self);
static void CallbackDestroy(DestReceiver *self);
static bool IsQueryText(const char *source);

/*
 * DatasetSourceQuery returns the query text for a source: the source itself
 * when it is a query (SELECT, WITH, VALUES or TABLE), otherwise a SELECT of
 * every column of the named table or view, which must exist.
 */
char *
DatasetSourceQuery(const char *source)
{
	List	   *names;
	RangeVar   *rv;
	Oid			relid;
	char	   *nspname;

	if (source == NULL || source[strspn(source, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must not be empty"),
				 errhint("Pass a table or view name, or a query starting with SELECT, WITH, VALUES or TABLE.")));
	if (IsQueryText(source))
		return pstrdup(source);
	if (source[0] != '"' && strpbrk(source, " \t\r\n;()") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source is neither a table or view name nor a query"),
				 errdetail("Source: \"%s\".", source),
				 errhint("Pass a table or view name, or a query starting with SELECT, WITH, VALUES or TABLE.")));

	names = stringToQualifiedNameList(source);
	rv = makeRangeVarFromNameList(names);
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source relation \"%s\" does not exist", source),
				 errhint("Pass a table or view name, or a query starting with SELECT, WITH, VALUES or TABLE.")));
	nspname = get_namespace_name(get_rel_namespace(relid));
	return psprintf("SELECT * FROM %s",
					quote_qualified_identifier(nspname, get_rel_name(relid)));
}

/*
 * IsQueryText reports whether source starts (after blanks and opening
 * parentheses) with a keyword that begins a row-returning query.
 */
static bool
IsQueryText(const char *source)
{
	static const char *const keywords[] = {"select", "with", "values", "table"};
	const char *p = source;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '(')
		p++;
	for (int i = 0; i < (int) lengthof(keywords); i++)
	{
		size_t		len = strlen(keywords[i]);

		if (pg_strncasecmp(p, keywords[i], len) == 0 &&
			!(isalnum((unsigned char) p[len]) || p[len] == '_' || p[len] == '$'))
			return true;
	}
	return false;
}

/*
 * SourceOpen plans a source query as the calling user and opens it as a
 * cursor.  The caller must be connected to SPI; the returned portal's
 * tupDesc describes the rows.
 */
Portal
SourceOpen(const char *query)
{
	SPIPlanPtr	plan;

	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not plan source query: %s",
						SPI_result_code_string(SPI_result))));
	if (!SPI_is_cursor_plan(plan))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source query does not return rows"),
				 errdetail("The source must be a single SELECT, WITH, VALUES or TABLE statement.")));
	return SPI_cursor_open(NULL, plan, NULL, NULL, true);
}

/*
 * SourceScan runs an open source cursor to the end, calling callback for
 * every row with a slot whose attributes are all deformed.  Each call runs in
 * a memory context that is reset before the next row.
 */
void
SourceScan(Portal portal, SourceRowCallback callback, void *arg)
{
	CallbackReceiver *recv = palloc0(sizeof(CallbackReceiver));

	recv->pub.receiveSlot = CallbackReceiveSlot;
	recv->pub.rStartup = CallbackStartup;
	recv->pub.rShutdown = CallbackShutdown;
	recv->pub.rDestroy = CallbackDestroy;
	recv->pub.mydest = DestNone;
	recv->callback = callback;
	recv->arg = arg;
	recv->rowcxt = AllocSetContextCreate(CurrentMemoryContext,
										 "mlops source row",
										 ALLOCSET_SMALL_SIZES);

	PortalRunFetch(portal, FETCH_FORWARD, FETCH_ALL, &recv->pub);

	MemoryContextDelete(recv->rowcxt);
	pfree(recv);
}

/*
 * CallbackReceiveSlot deforms the slot and hands it to the callback in the
 * per-row context.
 */
static bool
CallbackReceiveSlot(TupleTableSlot *slot, DestReceiver *self)
{
	CallbackReceiver *recv = (CallbackReceiver *) self;
	MemoryContext old;

	MemoryContextReset(recv->rowcxt);
	old = MemoryContextSwitchTo(recv->rowcxt);
	slot_getallattrs(slot);
	recv->callback(slot, recv->arg);
	MemoryContextSwitchTo(old);
	return true;
}

/* CallbackStartup does nothing: the row type is known from the portal. */
static void
CallbackStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	(void) self;
	(void) operation;
	(void) typeinfo;
}

/* CallbackShutdown does nothing. */
static void
CallbackShutdown(DestReceiver *self)
{
	(void) self;
}

/* CallbackDestroy does nothing: SourceScan frees the receiver. */
static void
CallbackDestroy(DestReceiver *self)
{
	(void) self;
}

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
 * matrix: NaN for NULL, NaN and unknown categories.
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
	return (float) DatumToDouble(col->typid, value);
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
			vocab->names = repalloc(vocab->names, sizeof(char *) * vocab->capacity);
		}
		entry->key = pstrdup(name);
		entry->code = vocab->count;
		vocab->names[vocab->count++] = entry->key;
		MemoryContextSwitchTo(old);
	}
	return entry->code;
}

/* State for sorting a vocabulary */
static bool sort_numeric;

/* CompareNames orders strings bytewise, or by value for numeric labels. */
static int
CompareNames(const void *a, const void *b)
{
	const char *sa = *(char *const *) a;
	const char *sb = *(char *const *) b;

	if (sort_numeric)
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
 * VocabularySort sorts the names and renumbers the codes; it returns the map
 * from old code to new code.
 */
static int *
VocabularySort(Vocabulary *vocab, bool numeric)
{
	int		   *remap = palloc(sizeof(int) * Max(vocab->count, 1));

	sort_numeric = numeric;
	qsort(vocab->names, vocab->count, sizeof(char *), CompareNames);
	for (int i = 0; i < vocab->count; i++)
	{
		VocabEntry *entry = hash_search(vocab->map, &vocab->names[i], HASH_FIND, NULL);

		remap[entry->code] = i;
		entry->code = i;
	}
	vocab->frozen = true;
	return remap;
}

/* ---------------------------------------------------------------------
 * Reading a training set
 * ---------------------------------------------------------------------
 */

/* State of DatasetRead while rows stream in */
typedef struct ReadState
{
	Dataset    *ds;
	MemoryContext cxt;			/* where the dataset lives */
	int64		capacity;		/* rows allocated in x and y */
	int64		max_cells;
} ReadState;

static void ReadRow(TupleTableSlot *slot, void *arg);
static void BindColumns(Dataset *ds, TupleDesc tupdesc, const char *target,
						List *feature_names);

/*
 * DatasetRead reads source (a relation or query) into a new Dataset in the
 * current memory context, encoding the target column as labels (class codes
 * for a classification, values for a regression) and the feature columns
 * (feature_names, or every other column when NIL) as the matrix.  It raises
 * an ERROR for every unusable input.
 */
Dataset *
DatasetRead(const char *source, const char *target, List *feature_names,
			bool classification, int64 max_cells)
{
	MemoryContext cxt = CurrentMemoryContext;
	Dataset    *ds = palloc0(sizeof(Dataset));
	ReadState	state;
	char	   *query;
	Portal		portal;

	ds->classification = classification;
	query = DatasetSourceQuery(source);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SourceOpen(query);

	/* everything the dataset keeps lives in the caller's context */
	MemoryContextSwitchTo(cxt);
	BindColumns(ds, portal->tupDesc, target, feature_names);

	state.ds = ds;
	state.cxt = cxt;
	state.capacity = 16384;
	state.max_cells = max_cells;
	ds->x = MemoryContextAllocHuge(cxt, sizeof(float) * state.capacity * ds->nfeatures);
	ds->y = MemoryContextAllocHuge(cxt, sizeof(float) * state.capacity);

	SourceScan(portal, ReadRow, &state);
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextSwitchTo(cxt);

	if (ds->nrows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("source returned no rows"),
				 errdetail("Training needs at least one row.")));

	/* sort the vocabularies and rewrite the codes in the matrix */
	for (int j = 0; j < ds->nfeatures; j++)
	{
		FeatureColumn *col = &ds->features[j];
		int		   *remap;

		if (col->kind != FEATURE_CATEGORICAL)
			continue;
		remap = VocabularySort(col->vocab, false);
		for (int64 i = 0; i < ds->nrows; i++)
		{
			float	   *v = &ds->x[i * ds->nfeatures + j];

			if (!isnan(*v))
				*v = (float) remap[(int) *v];
		}
		pfree(remap);
	}
	if (classification)
	{
		int		   *remap;

		if (ds->label.classes->count < 2)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target column \"%s\" has a single class", ds->label.name),
					 errdetail("Every row has the label \"%s\"; a classification needs at least two classes.",
							   ds->label.classes->names[0])));
		remap = VocabularySort(ds->label.classes,
							   ds->label.kind == FEATURE_INTEGER ||
							   ds->label.kind == FEATURE_FLOAT);
		for (int64 i = 0; i < ds->nrows; i++)
			ds->y[i] = (float) remap[(int) ds->y[i]];
		pfree(remap);
	}
	return ds;
}

/*
 * BindColumns finds the target and feature columns in the source's row type
 * and checks their types.
 */
static void
BindColumns(Dataset *ds, TupleDesc tupdesc, const char *target, List *feature_names)
{
	int			target_att;
	bool		supported;
	ListCell   *lc;
	int			n = 0;

	if (target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target must not be null")));
	target_att = DatasetFindColumn(tupdesc, target);
	if (target_att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target column \"%s\" does not exist in source", target)));

	ds->label.name = pstrdup(target);
	ds->label.attno = target_att;
	ds->label.typid = getBaseType(TupleDescAttr(tupdesc, target_att)->atttypid);
	ds->label.kind = FeatureKindFromType(ds->label.typid, &supported);
	if (ds->classification)
	{
		if (!supported)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("target column \"%s\" has unsupported type %s", target,
							format_type_be(ds->label.typid)),
					 errhint("Classification labels may be integers, booleans, text or enums.")));
		ColumnOutputFunction(ds->label.typid, &ds->label.outfunc);
		ds->label.classes = VocabularyCreate();
	}
	else if (!supported || ds->label.kind == FEATURE_CATEGORICAL ||
			 ds->label.kind == FEATURE_BOOLEAN)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("regression target column \"%s\" is not numeric", target),
				 errdetail("The column has type %s.", format_type_be(ds->label.typid)),
				 errhint("A regression needs an integer, float or numeric target; use task => 'classification' for labels.")));

	/* the feature columns */
	if (feature_names == NIL)
	{
		for (int i = 0; i < tupdesc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, i);

			if (att->attisdropped || i == target_att)
				continue;
			feature_names = lappend(feature_names, pstrdup(NameStr(att->attname)));
		}
		if (feature_names == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("source has no feature columns"),
					 errdetail("The only column is the target \"%s\".", target)));
	}

	ds->nfeatures = list_length(feature_names);
	ds->features = palloc0(sizeof(FeatureColumn) * ds->nfeatures);
	foreach(lc, feature_names)
	{
		char	   *name = lfirst(lc);
		FeatureColumn *col = &ds->features[n];
		int			att = DatasetFindColumn(tupdesc, name);

		if (att < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("feature column \"%s\" does not exist in source", name)));
		if (att == target_att)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target column \"%s\" is listed among the features", name),
					 errhint("Remove it from features.")));
		for (int k = 0; k < n; k++)
			if (ds->features[k].attno == att)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("feature column \"%s\" is listed twice", name)));
		col->name = pstrdup(name);
		col->attno = att;
		col->typid = getBaseType(TupleDescAttr(tupdesc, att)->atttypid);
		col->kind = FeatureKindFromType(col->typid, &supported);
		if (!supported)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("feature column \"%s\" has unsupported type %s", name,
							format_type_be(col->typid)),
					 errhint("Features may be integer, float, numeric, boolean, text or enum columns; cast other types in a query.")));
		ColumnOutputFunction(col->typid, &col->outfunc);
		if (col->kind == FEATURE_CATEGORICAL)
			col->vocab = VocabularyCreate();
		n++;
	}
}

/*
 * DatasetFindColumn returns the 0-based position of the column called name,
 * -1 if there is none; a name that occurs twice is an error.
 */
int
DatasetFindColumn(TupleDesc tupdesc, const char *name)
{
	int			found = -1;

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), name) != 0)
			continue;
		if (found >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_COLUMN),
					 errmsg("source has more than one column named \"%s\"", name),
					 errhint("Rename the columns in the source query.")));
		found = i;
	}
	return found;
}

/*
 * ReadRow encodes one source row into the dataset, growing the matrix as
 * needed.
 */
static void
ReadRow(TupleTableSlot *slot, void *arg)
{
	ReadState  *state = (ReadState *) arg;
	Dataset    *ds = state->ds;
	int			nf = ds->nfeatures;
	float	   *row;
	Datum		label = slot->tts_values[ds->label.attno];

	if (ds->nrows == state->capacity)
	{
		state->capacity *= 2;
		if (state->max_cells > 0 && state->capacity * nf > state->max_cells)
			state->capacity = Max(state->max_cells / nf + 1, ds->nrows + 1);
		ds->x = repalloc_huge(ds->x, sizeof(float) * state->capacity * nf);
		ds->y = repalloc_huge(ds->y, sizeof(float) * state->capacity);
	}
	if (state->max_cells > 0 && (ds->nrows + 1) * nf > state->max_cells)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training set exceeds mlops.max_train_cells"),
				 errdetail("The source has more than " INT64_FORMAT " rows of %d features, over the limit of " INT64_FORMAT " cells.",
						   ds->nrows, nf, state->max_cells),
				 errhint("Raise mlops.max_train_cells (millions of cells) or train on a sample of the rows.")));

	if (slot->tts_isnull[ds->label.attno])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target column \"%s\" is null in row " INT64_FORMAT,
						ds->label.name, ds->nrows + 1),
				 errhint("Filter out rows without a label in the source query.")));

	if (ds->classification)
	{
		char	   *text = DatumToText(ds->label.typid, &ds->label.outfunc, label);

		ds->y[ds->nrows] = (float) VocabularyLookup(ds->label.classes, text, true);
	}
	else
	{
		double		v = DatumToDouble(ds->label.typid, label);

		if (isnan(v) || isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target column \"%s\" is not finite in row " INT64_FORMAT,
							ds->label.name, ds->nrows + 1)));
		ds->y[ds->nrows] = (float) v;
	}

	row = ds->x + ds->nrows * nf;
	for (int j = 0; j < nf; j++)
	{
		FeatureColumn *col = &ds->features[j];

		row[j] = EncodeFeatureDatum(col, slot->tts_values[col->attno],
									slot->tts_isnull[col->attno]);
	}
	ds->nrows++;
}

/* ---------------------------------------------------------------------
 * Splitting
 * ---------------------------------------------------------------------
 */

static void PickRandom(pg_prng_state *prng, int64 *items, int64 n, int64 k);

/*
 * DatasetMakeSplit divides the rows into a training and a test set.
 * test_size is a fraction (below 1) or a row count; sampling is "random",
 * "stratified" (by class) or "last".  Both sets keep source order.
 */
DatasetSplit *
DatasetMakeSplit(Dataset *ds, double test_size, const char *sampling, int seed)
{
	DatasetSplit *split = palloc0(sizeof(DatasetSplit));
	int64		n = ds->nrows;
	int64		ntest;
	bool	   *is_test;
	pg_prng_state prng;

	if (isnan(test_size) || test_size < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("test_size must not be negative")));
	if (test_size < 1)
		ntest = (int64) ceil(test_size * (double) n - 1e-9);
	else
	{
		if (test_size != floor(test_size))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("test_size %g is neither a fraction nor a row count", test_size),
					 errhint("Use a fraction below 1 (0.25) or a whole number of rows (1000).")));
		ntest = (int64) test_size;
	}
	if (strcmp(sampling, "random") != 0 && strcmp(sampling, "stratified") != 0 &&
		strcmp(sampling, "last") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown test_sampling \"%s\"", sampling),
				 errhint("Use random, stratified or last.")));
	if (strcmp(sampling, "stratified") == 0 && !ds->classification)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stratified sampling needs a classification"),
				 errhint("Use random or last for a regression.")));
	if (ntest >= n || (ntest > 0 && n - ntest < 2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too few rows for the split"),
				 errdetail("The source has " INT64_FORMAT " rows and test_size asks for " INT64_FORMAT " test rows.",
						   n, ntest),
				 errhint("Training needs at least two rows left after the test rows; lower test_size.")));

	is_test = palloc0(sizeof(bool) * n);
	pg_prng_seed(&prng, (uint64) (int64) seed);
	if (ntest > 0 && strcmp(sampling, "last") == 0)
	{
		for (int64 i = n - ntest; i < n; i++)
			is_test[i] = true;
	}
	else if (ntest > 0 && strcmp(sampling, "random") == 0)
	{
		int64	   *items = palloc(sizeof(int64) * n);

		for (int64 i = 0; i < n; i++)
			items[i] = i;
		PickRandom(&prng, items, n, ntest);
		for (int64 i = 0; i < ntest; i++)
			is_test[items[i]] = true;
		pfree(items);
	}
	else if (ntest > 0)
	{
		/* stratified: per-class quotas by largest remainder */
		int			nclasses = ds->label.classes->count;
		int64	   *class_n = palloc0(sizeof(int64) * nclasses);
		int64	   *quota = palloc0(sizeof(int64) * nclasses);
		double	   *rest = palloc0(sizeof(double) * nclasses);
		int64		assigned = 0;
		int64	   *items = palloc(sizeof(int64) * n);
		int64		start = 0;

		for (int64 i = 0; i < n; i++)
			class_n[(int) ds->y[i]]++;
		for (int c = 0; c < nclasses; c++)
		{
			double		exact = (double) ntest * class_n[c] / n;

			quota[c] = (int64) floor(exact);
			rest[c] = exact - quota[c];
			assigned += quota[c];
		}
		while (assigned < ntest)
		{
			int			best = -1;

			for (int c = 0; c < nclasses; c++)
				if (quota[c] < class_n[c] && (best < 0 || rest[c] > rest[best]))
					best = c;
			quota[best]++;
			rest[best] = -1;
			assigned++;
		}
		for (int c = 0; c < nclasses; c++)
		{
			int64		m = 0;

			for (int64 i = 0; i < n; i++)
				if ((int) ds->y[i] == c)
					items[start + m++] = i;
			PickRandom(&prng, items + start, m, quota[c]);
			for (int64 i = 0; i < quota[c]; i++)
				is_test[items[start + i]] = true;
			start += m;
		}
		pfree(items);
		pfree(class_n);
		pfree(quota);
		pfree(rest);
	}

	split->ntest = ntest;
	split->ntrain = n - ntest;
	split->train_rows = palloc(sizeof(int64) * Max(split->ntrain, 1));
	split->test_rows = palloc(sizeof(int64) * Max(ntest, 1));
	{
		int64		a = 0,
					b = 0;

		for (int64 i = 0; i < n; i++)
		{
			if (is_test[i])
				split->test_rows[b++] = i;
			else
				split->train_rows[a++] = i;
		}
	}
	pfree(is_test);
	return split;
}

/*
 * PickRandom moves k items chosen uniformly at random (seeded generator) to
 * the front of items (partial Fisher-Yates).
 */
static void
PickRandom(pg_prng_state *prng, int64 *items, int64 n, int64 k)
{
	for (int64 i = 0; i < k && i < n - 1; i++)
	{
		int64		j = (int64) pg_prng_uint64_range(prng, (uint64) i, (uint64) (n - 1));
		int64		tmp = items[i];

		items[i] = items[j];
		items[j] = tmp;
	}
}

/*
 * DatasetGather returns the rows of a row-major matrix of the given width
 * listed in rows, as a new contiguous matrix; when rows are exactly the
 * first nrows rows it returns src itself.
 */
float *
DatasetGather(const float *src, int width, const int64 *rows, int64 nrows)
{
	float	   *dst;
	bool		prefix = true;

	for (int64 i = 0; i < nrows && prefix; i++)
		prefix = (rows[i] == i);
	if (prefix)
		return (float *) src;
	dst = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * Max(nrows * width, 1));
	for (int64 i = 0; i < nrows; i++)
		memcpy(dst + i * width, src + rows[i] * width, sizeof(float) * width);
	return dst;
}

/* ---------------------------------------------------------------------
 * Statistics and input_schema
 * ---------------------------------------------------------------------
 */

/*
 * DatasetComputeStats fills every feature's statistics from the given rows
 * (the training rows): count, min, max, mean and null share, and a
 * histogram of equal-width bins for numeric features or counts per category
 * for categorical ones.
 */
void
DatasetComputeStats(Dataset *ds, const int64 *rows, int64 nrows)
{
	int			nf = ds->nfeatures;
	double	   *sums = palloc0(sizeof(double) * nf);
	double	   *scale = palloc0(sizeof(double) * nf);	/* bins per unit */

	for (int j = 0; j < nf; j++)
	{
		FeatureColumn *col = &ds->features[j];
		FeatureStats *st = &col->stats;

		memset(st, 0, sizeof(FeatureStats));
		st->min = INFINITY;
		st->max = -INFINITY;
		if (col->kind == FEATURE_CATEGORICAL)
			st->category_counts = palloc0(sizeof(int64) * Max(col->vocab->count, 1));
	}

	/* pass 1, row by row (the matrix is row-major): counts, sums, extremes */
	for (int64 i = 0; i < nrows; i++)
	{
		const float *row = ds->x + rows[i] * nf;

		for (int j = 0; j < nf; j++)
		{
			FeatureStats *st = &ds->features[j].stats;
			float		v = row[j];

			if (isnan(v))
				continue;
			st->count++;
			sums[j] += v;
			if (v < st->min)
				st->min = v;
			if (v > st->max)
				st->max = v;
			if (st->category_counts)
				st->category_counts[(int) v]++;
		}
	}
	for (int j = 0; j < nf; j++)
	{
		FeatureStats *st = &ds->features[j].stats;

		st->null_share = nrows > 0 ? (double) (nrows - st->count) / nrows : 0;
		st->mean = st->count > 0 ? sums[j] / st->count : NAN;
		if (ds->features[j].kind == FEATURE_CATEGORICAL || st->count == 0)
			continue;
		st->nbins = (st->max > st->min) ? DATASET_HISTOGRAM_BINS : 1;
		for (int b = 0; b <= st->nbins; b++)
			st->edges[b] = st->min + (st->max - st->min) * b / st->nbins;
		st->edges[st->nbins] = st->max;
		scale[j] = (st->max > st->min) ? st->nbins / (st->max - st->min) : 0;
	}

	/* pass 2: histograms */
	for (int64 i = 0; i < nrows; i++)
	{
		const float *row = ds->x + rows[i] * nf;

		for (int j = 0; j < nf; j++)
		{
			FeatureStats *st = &ds->features[j].stats;
			double		v = row[j];
			int			b;

			if (st->nbins == 0 || isnan(v))
				continue;
			/*
			 * Bin b holds edges[b] <= v < edges[b + 1], the last one closed:
			 * the arithmetic guess is corrected against the edges themselves.
			 */
			b = (int) ((v - st->min) * scale[j]);
			b = Min(Max(b, 0), st->nbins - 1);
			while (b > 0 && v < st->edges[b])
				b--;
			while (b < st->nbins - 1 && v >= st->edges[b + 1])
				b++;
			st->counts[b]++;
		}
	}
	pfree(sums);
	pfree(scale);
}

static void AppendNumber(StringInfo buf, double v);
static void AppendFloat(StringInfo buf, double v);

/*
 * DatasetInputSchemaJson returns the input_schema document (see the shared
 * interfaces) for the dataset, with statistics from DatasetComputeStats.
 */
char *
DatasetInputSchemaJson(Dataset *ds)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"features\": [");
	for (int j = 0; j < ds->nfeatures; j++)
	{
		FeatureColumn *col = &ds->features[j];
		FeatureStats *st = &col->stats;

		if (j > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, "{\"name\": ");
		escape_json(&buf, col->name);
		appendStringInfo(&buf, ", \"type\": \"%s\"", FeatureKindName(col->kind));
		if (col->kind == FEATURE_CATEGORICAL)
		{
			appendStringInfoString(&buf, ", \"categories\": [");
			for (int c = 0; c < col->vocab->count; c++)
			{
				if (c > 0)
					appendStringInfoString(&buf, ", ");
				escape_json(&buf, col->vocab->names[c]);
			}
			appendStringInfoChar(&buf, ']');
		}
		appendStringInfo(&buf, ", \"stats\": {\"count\": " INT64_FORMAT, st->count);
		if (col->kind != FEATURE_CATEGORICAL)
		{
			appendStringInfoString(&buf, ", \"min\": ");
			AppendFloat(&buf, st->count > 0 ? st->min : NAN);
			appendStringInfoString(&buf, ", \"max\": ");
			AppendFloat(&buf, st->count > 0 ? st->max : NAN);
			appendStringInfoString(&buf, ", \"mean\": ");
			AppendNumber(&buf, st->mean);
		}
		appendStringInfoString(&buf, ", \"null_share\": ");
		AppendNumber(&buf, st->null_share);
		if (col->kind == FEATURE_CATEGORICAL)
		{
			appendStringInfoString(&buf, ", \"category_counts\": {");
			for (int c = 0; c < col->vocab->count; c++)
			{
				if (c > 0)
					appendStringInfoString(&buf, ", ");
				escape_json(&buf, col->vocab->names[c]);
				appendStringInfo(&buf, ": " INT64_FORMAT, st->category_counts[c]);
			}
			appendStringInfoChar(&buf, '}');
		}
		else if (st->nbins > 0)
		{
			appendStringInfoString(&buf, ", \"histogram\": {\"edges\": [");
			for (int b = 0; b <= st->nbins; b++)
			{
				if (b > 0)
					appendStringInfoString(&buf, ", ");
				AppendNumber(&buf, st->edges[b]);
			}
			appendStringInfoString(&buf, "], \"counts\": [");
			for (int b = 0; b < st->nbins; b++)
				appendStringInfo(&buf, "%s" INT64_FORMAT, b > 0 ? ", " : "", st->counts[b]);
			appendStringInfoString(&buf, "]}");
		}
		appendStringInfoString(&buf, "}}");
	}
	appendStringInfoString(&buf, "], \"label\": {\"name\": ");
	escape_json(&buf, ds->label.name);
	appendStringInfo(&buf, ", \"type\": \"%s\"", FeatureKindName(ds->label.kind));
	if (ds->classification)
	{
		appendStringInfoString(&buf, ", \"classes\": [");
		for (int c = 0; c < ds->label.classes->count; c++)
		{
			if (c > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, ds->label.classes->names[c]);
		}
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoString(&buf, "}}");
	return buf.data;
}

/*
 * AppendNumber appends a double as a JSON number in its shortest exact
 * form, or null when it is not finite.
 */
static void
AppendNumber(StringInfo buf, double v)
{
	if (isnan(v) || isinf(v))
		appendStringInfoString(buf, "null");
	else
		appendStringInfoString(buf, float8out_internal(v));
}

/*
 * AppendFloat appends a value of the float32 matrix as a JSON number in the
 * shortest form that reads back as the same float32 (6.981, not
 * 6.980999946594238), or null when it is not finite.
 */
static void
AppendFloat(StringInfo buf, double v)
{
	char		num[FLOAT_SHORTEST_DECIMAL_LEN];

	if (isnan(v) || isinf(v))
		appendStringInfoString(buf, "null");
	else
	{
		float_to_shortest_decimal_buf((float) v, num);
		appendStringInfoString(buf, num);
	}
}

/* ---------------------------------------------------------------------
 * Reading input_schema back
 * ---------------------------------------------------------------------
 */

static JsonbValue *SchemaKey(JsonbContainer *container, const char *key);
static char *SchemaString(JsonbValue *v, const char *what);
static void SchemaCorrupt(const char *what) pg_attribute_noreturn();

/*
 * ModelSchemaFromJsonb reads the feature list, categories and classes of a
 * stored input_schema (see DatasetInputSchemaJson); categorical features get
 * frozen vocabularies.  nfeatures_expected (the booster's feature count, or
 * -1) is checked against the schema.
 */
ModelSchema *
ModelSchemaFromJsonb(Jsonb *schema, int nfeatures_expected)
{
	ModelSchema *ms = palloc0(sizeof(ModelSchema));
	JsonbValue *features;
	JsonbValue *label;

	if (schema == NULL || !JB_ROOT_IS_OBJECT(schema))
		SchemaCorrupt("it is not an object");
	features = SchemaKey(&schema->root, "features");
	if (features == NULL || features->type != jbvBinary ||
		!JsonContainerIsArray(features->val.binary.data))
		SchemaCorrupt("\"features\" is not an array");

	ms->nfeatures = JsonContainerSize(features->val.binary.data);
	if (nfeatures_expected >= 0 && ms->nfeatures != nfeatures_expected)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model input_schema does not match the booster"),
				 errdetail("The schema lists %d features and the booster has %d.",
						   ms->nfeatures, nfeatures_expected)));
	ms->features = palloc0(sizeof(FeatureColumn) * Max(ms->nfeatures, 1));
	for (int j = 0; j < ms->nfeatures; j++)
	{
		JsonbValue *f = getIthJsonbValueFromContainer(features->val.binary.data, j);
		FeatureColumn *col = &ms->features[j];
		JsonbValue *cats;

		if (f == NULL || f->type != jbvBinary || !JsonContainerIsObject(f->val.binary.data))
			SchemaCorrupt("a feature is not an object");
		col->name = SchemaString(SchemaKey(f->val.binary.data, "name"), "feature name");
		if (!FeatureKindFromName(SchemaString(SchemaKey(f->val.binary.data, "type"), "feature type"),
								 &col->kind))
			SchemaCorrupt("a feature type is unknown");
		col->attno = -1;
		if (col->kind != FEATURE_CATEGORICAL)
			continue;
		col->vocab = VocabularyCreate();
		cats = SchemaKey(f->val.binary.data, "categories");
		if (cats == NULL || cats->type != jbvBinary || !JsonContainerIsArray(cats->val.binary.data))
			SchemaCorrupt("a categorical feature has no categories");
		for (int c = 0; c < (int) JsonContainerSize(cats->val.binary.data); c++)
			VocabularyLookup(col->vocab,
							 SchemaString(getIthJsonbValueFromContainer(cats->val.binary.data, c),
										  "category"), true);
		col->vocab->frozen = true;
	}

	label = SchemaKey(&schema->root, "label");
	if (label != NULL && label->type == jbvBinary && JsonContainerIsObject(label->val.binary.data))
	{
		JsonbValue *classes = SchemaKey(label->val.binary.data, "classes");
		JsonbValue *name = SchemaKey(label->val.binary.data, "name");

		if (name != NULL && name->type == jbvString)
			ms->label_name = SchemaString(name, "label name");
		if (classes != NULL && classes->type == jbvBinary &&
			JsonContainerIsArray(classes->val.binary.data))
		{
			ms->nclasses = JsonContainerSize(classes->val.binary.data);
			ms->classes = palloc(sizeof(char *) * Max(ms->nclasses, 1));
			for (int c = 0; c < ms->nclasses; c++)
				ms->classes[c] = SchemaString(getIthJsonbValueFromContainer(classes->val.binary.data, c),
											  "class");
		}
	}
	return ms;
}

/* SchemaKey returns the value of key in a JSON object, NULL if absent. */
static JsonbValue *
SchemaKey(JsonbContainer *container, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(container, JB_FOBJECT, &k);
}

/*
 * SchemaString returns a JSON scalar as a C string: strings as they are,
 * numbers and booleans in their JSON spelling (so classes [false, true] read
 * as "false", "true").
 */
static char *
SchemaString(JsonbValue *v, const char *what)
{
	if (v != NULL && v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v != NULL && v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	if (v != NULL && v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	SchemaCorrupt(psprintf("a %s is not a string", what));
	return NULL;				/* keep compiler quiet */
}

/* SchemaCorrupt raises the error for an unreadable input_schema. */
static void
SchemaCorrupt(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("model input_schema is malformed"),
			 errdetail("In the stored input_schema, %s.", what),
			 errhint("Register the model again with mlops.train.")));
}

/* FeatureNameList returns the schema's feature names, comma separated. */
char *
FeatureNameList(ModelSchema *schema)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int j = 0; j < schema->nfeatures; j++)
		appendStringInfo(&buf, "%s%s", j > 0 ? ", " : "", schema->features[j].name);
	return buf.data;
}
