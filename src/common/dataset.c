/*
 * dataset.c
 *		Reading a table, view or query into a dense float matrix for
 *		training, and splitting its rows into a training and a test set.
 *
 * Design
 * ------
 * Training needs the rows of a user's source as a row-major float32 matrix,
 * which is what XGBoost consumes.  The source is resolved by the one source
 * resolver (source.c), which checks it and turns it into a query; that query
 * is planned with SPI and opened as a read-only cursor as the calling user,
 * so the user's privileges and row-level security apply.  Instead of
 * fetching rows into SPI tuple tables (a copy of every row) the portal runs
 * once with SourceScan's DestReceiver: every slot the executor produces is
 * encoded (dataset_encode.c) straight into the matrix and forgotten, so the
 * only copy of the data in the backend is the float matrix itself.  Rows are
 * read with interrupts checked, so a long read can be cancelled.
 *
 * Columns.  The caller names the features, or passes none: then every
 * column but the target is a feature, except, when the source is a plain
 * table, its primary-key columns and its identity and serial columns
 * (row identifiers that would make every prediction need an "id"); a NOTICE
 * names the columns left out.
 *
 * Codes of categorical features and class labels are handed out in
 * first-seen order while rows stream in; when the source is exhausted every
 * vocabulary is sorted and the column is rewritten, so codes do not depend
 * on row order.
 *
 * Memory.  The matrix grows by doubling in the caller's memory context
 * (huge allocations, so it is accounted to the backend and freed with the
 * context on error); rows x features is capped by the caller, in cells
 * (mlops.max_train_cells) and in bytes (what mlops.max_train_memory_mb
 * leaves for the matrix), so an oversized source stops while it is read.
 * Every other per-row or per-class array is a huge allocation too.
 * Per-row garbage (detoasted text) lives in a small context reset for every
 * row.  Every loop over the rows checks for interrupts.  A feature beyond
 * the float32 range is an error (XGBoost accepts no infinity).
 *
 * Splits are sets of row indexes kept in source order: random (seeded
 * partial Fisher-Yates), stratified (per-class quotas by largest remainder,
 * then random within each class, rows bucketed by class in one pass) or
 * last (the final rows).
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/portal.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "common/common.h"

/* ---------------------------------------------------------------------
 * Reading a training set
 * ---------------------------------------------------------------------
 */

/* Slots of ReadState's cache of class codes */
#define LABEL_CACHE_SLOTS 64

/* State of DatasetRead while rows stream in */
typedef struct ReadState
{
	Dataset    *ds;
	MemoryContext cxt;			/* where the dataset lives */
	int64		capacity;		/* rows allocated in x and y */
	int64		max_cells;
	int64		max_bytes;		/* of the matrix, from mlops.max_train_memory_mb */
	float	   *batch;			/* spilling: the rows not yet written */
	int64		in_batch;
	/* class codes of integer and boolean labels seen, by value (LabelCode) */
	Datum		label_values[LABEL_CACHE_SLOTS];
	int			label_codes[LABEL_CACHE_SLOTS];	/* -1: empty slot */
} ReadState;

static Dataset *ReadSource(const char *source, const char *target, List *feature_names,
						   bool classification, int64 max_cells, int64 max_bytes,
						   int64 batch_cells);
static void ReadRow(TupleTableSlot *slot, void *arg);
static int	LabelCode(ReadState *state, Datum label);
static int	BindTarget(Dataset *ds, TupleDesc tupdesc, const char *target);
static List *DefaultFeatures(TupleDesc tupdesc, int target_att, Oid relid);
static List *KeyColumns(Oid relid, char **relname);
static bool OwnsSequence(List *seqs, Oid relid, AttrNumber attnum);
static void BindFeatures(Dataset *ds, TupleDesc tupdesc, int target_att,
						 List *feature_names);

/*
 * DatasetRead reads source (a relation or query) into a new Dataset in the
 * current memory context, encoding the target column as labels (class codes
 * for a classification, values for a regression) and the feature columns
 * (feature_names, or when NIL every other column but a table's key columns,
 * see DefaultFeatures) as the matrix.  The matrix may hold at most max_cells
 * cells (mlops.max_train_cells) and max_bytes bytes (what
 * mlops.max_train_memory_mb leaves for it; 0 = no limit).  It raises an
 * ERROR for every unusable input.
 */
Dataset *
DatasetRead(const char *source, const char *target, List *feature_names,
			bool classification, int64 max_cells, int64 max_bytes)
{
	return ReadSource(source, target, feature_names, classification, max_cells, max_bytes, 0);
}

/*
 * DatasetReadSpilled reads source as DatasetRead does, except that the
 * encoded rows go to a temporary file, in batches of about batch_cells
 * cells (dataset_spill.c), instead of a
 * matrix in memory: only the labels stay in memory.  Categorical codes stay
 * as first seen in the file, with each column's remap to the sorted codes
 * applied when the rows are read back (DatasetCursorNext).  max_bytes bounds
 * what the training will hold per cell (see train_memory.c).
 */
Dataset *
DatasetReadSpilled(const char *source, const char *target, List *feature_names,
				   bool classification, int64 max_cells, int64 max_bytes, int64 batch_cells)
{
	Assert(batch_cells > 0);
	return ReadSource(source, target, feature_names, classification, max_cells, max_bytes,
					  batch_cells);
}

/*
 * ReadSource does the work of DatasetRead (batch_cells 0) and
 * DatasetReadSpilled.
 */
static Dataset *
ReadSource(const char *source, const char *target, List *feature_names,
		   bool classification, int64 max_cells, int64 max_bytes, int64 batch_cells)
{
	MemoryContext cxt = CurrentMemoryContext;
	Dataset    *ds = palloc0(sizeof(Dataset));
	ReadState	state;
	SourceSpec	spec;
	Portal		portal;
	int			target_att;

	ds->classification = classification;
	SourceResolve(source, &spec);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SourceOpen(spec.query);

	/* everything the dataset keeps lives in the caller's context */
	MemoryContextSwitchTo(cxt);
	target_att = BindTarget(ds, portal->tupDesc, target);
	if (feature_names == NIL)
		feature_names = DefaultFeatures(portal->tupDesc, target_att, spec.relid);
	BindFeatures(ds, portal->tupDesc, target_att, feature_names);

	state.ds = ds;
	state.cxt = cxt;
	state.capacity = 16384;
	state.max_cells = max_cells;
	if (max_bytes > 0)
		state.max_cells = Min(max_cells > 0 ? max_cells : PG_INT64_MAX,
							  max_bytes / (int64) sizeof(float));
	state.max_bytes = max_bytes;
	state.batch = NULL;
	state.in_batch = 0;
	for (int i = 0; i < LABEL_CACHE_SLOTS; i++)
		state.label_codes[i] = -1;
	if (batch_cells > 0)
	{
		int64		batch_rows = Max(256, batch_cells / ds->nfeatures);

		ds->batch_rows = batch_rows;
		ds->spill = DatasetSpillCreate();
		state.batch = MemoryContextAllocHuge(cxt, sizeof(float) * batch_rows * ds->nfeatures);
	}
	else
		ds->x = MemoryContextAllocHuge(cxt, sizeof(float) * state.capacity * ds->nfeatures);
	ds->y = MemoryContextAllocHuge(cxt, sizeof(float) * state.capacity);

	SourceScan(portal, ReadRow, &state);
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	if (state.batch != NULL)
	{
		DatasetSpillWrite(ds, state.batch, state.in_batch);
		pfree(state.batch);
	}

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
		if (ds->spill != NULL)
		{
			/* applied as the rows are read back */
			col->remap = remap;
			continue;
		}
		for (int64 i = 0; i < ds->nrows; i++)
		{
			float	   *v = &ds->x[i * ds->nfeatures + j];

			CHECK_FOR_INTERRUPTS();
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
							   MlopsClip(ds->label.classes->names[0], MLOPS_ECHO_MAX))));
		remap = VocabularySort(ds->label.classes,
							   ds->label.kind == FEATURE_INTEGER ||
							   ds->label.kind == FEATURE_FLOAT);
		for (int64 i = 0; i < ds->nrows; i++)
		{
			CHECK_FOR_INTERRUPTS();
			ds->y[i] = (float) remap[(int) ds->y[i]];
		}
		pfree(remap);
	}
	return ds;
}

/*
 * BindTarget finds the target column in the source's row type, checks its
 * type for the task and returns its position.
 */
static int
BindTarget(Dataset *ds, TupleDesc tupdesc, const char *target)
{
	int			target_att;
	bool		supported;

	if (target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target must not be null")));
	target_att = DatasetFindColumn(tupdesc, target);
	if (target_att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target column \"%s\" does not exist in source", MlopsClip(target, MLOPS_ECHO_MAX)),
				 errhint("%s", SourceColumnsHint(tupdesc))));

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
	return target_att;
}

/*
 * DefaultFeatures returns the feature names used when the caller names
 * none: every column but the target, leaving out (with a NOTICE) the key
 * columns of a plain table (see KeyColumns).
 */
static List *
DefaultFeatures(TupleDesc tupdesc, int target_att, Oid relid)
{
	char	   *relname = NULL;
	List	   *keys = KeyColumns(relid, &relname);
	List	   *features = NIL;
	MlopsList	left;
	MlopsList	literals;
	int			nleft = 0;

	MlopsListInit(&left, MLOPS_LIST_MAX);
	MlopsListInit(&literals, MLOPS_LIST_MAX);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		const char *name = NameStr(att->attname);
		bool		key = false;
		ListCell   *lc;

		if (att->attisdropped || i == target_att)
			continue;
		foreach(lc, keys)
			key = key || strcmp(lfirst(lc), name) == 0;
		if (key)
		{
			MlopsListAdd(&left, "\"%s\"", name);
			MlopsListAdd(&literals, "%s", quote_literal_cstr(name));
			nleft++;
			continue;
		}
		features = lappend(features, pstrdup(name));
	}
	if (features == NIL && nleft > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source has no feature columns"),
				 errdetail_plural("Besides the target \"%s\", table \"%s\" has only the key column %s, which default features leave out.",
								  "Besides the target \"%s\", table \"%s\" has only the key columns %s, which default features leave out.",
								  nleft, NameStr(TupleDescAttr(tupdesc, target_att)->attname),
								  relname, MlopsListDone(&left)),
				 errhint("Name the features to train on key columns, for example features => ARRAY[%s].",
						 MlopsListDone(&literals))));
	if (features == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source has no feature columns"),
				 errdetail("The only column is the target \"%s\".",
						   NameStr(TupleDescAttr(tupdesc, target_att)->attname))));
	if (nleft > 0)
		ereport(NOTICE,
				(errmsg_plural("leaving out key column %s from the default features",
							   "leaving out key columns %s from the default features",
							   nleft, MlopsListDone(&left)),
				 errdetail("Primary-key, identity and serial columns of table \"%s\" identify rows rather than describe them.",
						   relname),
				 errhint("Name them in features => ARRAY[...] to train on them.")));
	return features;
}

/*
 * KeyColumns returns the names of the columns of relation relid that
 * identify rows: its primary-key columns, identity columns and serial
 * columns (a default from a sequence the column owns).  It returns NIL
 * unless relid is a plain or partitioned table; *relname receives the
 * table's name.
 */
static List *
KeyColumns(Oid relid, char **relname)
{
	Relation	rel;
	TupleDesc	desc;
	Bitmapset  *pk;
	List	   *seqs;
	List	   *keys = NIL;
	char		relkind;

	if (!OidIsValid(relid))
		return NIL;
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		return NIL;
	rel = table_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	pk = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	seqs = getOwnedSequences(relid);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (att->attidentity != '\0' ||
			bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber, pk) ||
			(att->atthasdef && OwnsSequence(seqs, relid, att->attnum)))
			keys = lappend(keys, pstrdup(NameStr(att->attname)));
	}
	*relname = pstrdup(RelationGetRelationName(rel));
	table_close(rel, AccessShareLock);
	return keys;
}

/*
 * OwnsSequence reports whether column attnum of relid owns (as a serial
 * column does) one of the sequences in seqs.
 */
static bool
OwnsSequence(List *seqs, Oid relid, AttrNumber attnum)
{
	ListCell   *lc;

	foreach(lc, seqs)
	{
		Oid			table;
		int32		column;

		if (sequenceIsOwned(lfirst_oid(lc), DEPENDENCY_AUTO, &table, &column) &&
			table == relid && column == attnum)
			return true;
	}
	return false;
}

/*
 * BindFeatures finds the feature columns in the source's row type and
 * checks their types.
 */
static void
BindFeatures(Dataset *ds, TupleDesc tupdesc, int target_att, List *feature_names)
{
	bool		supported;
	ListCell   *lc;
	int			n = 0;

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
					 errmsg("feature column \"%s\" does not exist in source", MlopsClip(name, MLOPS_ECHO_MAX)),
					 errhint("%s", SourceColumnsHint(tupdesc))));
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
		if (ds->x != NULL)
			ds->x = repalloc_huge(ds->x, sizeof(float) * state->capacity * nf);
		ds->y = repalloc_huge(ds->y, sizeof(float) * state->capacity);
	}
	if (state->max_bytes > 0 && (ds->nrows + 1) * nf * (int64) sizeof(float) > state->max_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training set exceeds mlops.max_train_memory_mb"),
				 state->batch != NULL ?
				 errdetail("The source has more than " INT64_FORMAT " rows of %d features; XGBoost's bins of them alone would need more than %d MB.",
						   ds->nrows, nf, mlops_max_train_memory_mb) :
				 errdetail("The source has more than " INT64_FORMAT " rows of %d features; their matrix and XGBoost's copy of it alone would need more than %d MB.",
						   ds->nrows, nf, mlops_max_train_memory_mb),
				 errhint("Train on a sample of the rows, or ask a superuser to raise mlops.max_train_memory_mb.")));
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
		ds->y[ds->nrows] = (float) LabelCode(state, label);
	else
	{
		double		v = DatumToDouble(ds->label.typid, label);

		if (isnan(v) || isinf(DoubleToFloat(v)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target column \"%s\" is not finite in row " INT64_FORMAT,
							ds->label.name, ds->nrows + 1),
					 isnan(v) ? 0 : errdetail("Training stores values as float32, whose largest magnitude is about 3.4e38.")));
		ds->y[ds->nrows] = DoubleToFloat(v);
	}

	row = state->batch != NULL ? state->batch + state->in_batch * nf : ds->x + ds->nrows * nf;
	for (int j = 0; j < nf; j++)
	{
		FeatureColumn *col = &ds->features[j];

		row[j] = EncodeFeatureValue(col, slot->tts_values[col->attno],
									slot->tts_isnull[col->attno]);
		if (isinf(row[j]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("feature column \"%s\" is infinite in row " INT64_FORMAT,
							col->name, ds->nrows + 1),
					 errdetail("Training stores features as float32, whose largest magnitude is about 3.4e38; XGBoost accepts no infinite value."),
					 errhint("Filter or clip the column in the source query; NULL and NaN are missing values.")));
	}
	ds->nrows++;
	if (state->batch != NULL && ++state->in_batch == ds->batch_rows)
	{
		DatasetSpillWrite(ds, state->batch, state->in_batch);
		state->in_batch = 0;
	}
}

/*
 * LabelCode returns the class code of a non-null label, adding the class
 * when it is new.  The class is the label's text; an integer or boolean
 * label's text is a function of its value, so their codes are remembered by
 * value in a small direct-mapped cache, sparing most rows the output
 * function and the vocabulary's hash lookup.
 */
static int
LabelCode(ReadState *state, Datum label)
{
	Dataset    *ds = state->ds;
	Oid			typid = ds->label.typid;
	bool		by_value = typid == INT2OID || typid == INT4OID || typid == INT8OID ||
		typid == BOOLOID;
	int			slot = (int) (((uint64) label * UINT64CONST(0x9E3779B97F4A7C15)) >> 58);
	int			code;

	StaticAssertStmt(LABEL_CACHE_SLOTS == 64, "the slot takes the hash's top 6 bits");
	if (by_value && state->label_codes[slot] >= 0 && state->label_values[slot] == label)
		return state->label_codes[slot];
	code = VocabularyLookup(ds->label.classes,
							DatumToText(typid, &ds->label.outfunc, label), true);
	if (by_value)
	{
		state->label_values[slot] = label;
		state->label_codes[slot] = code;
	}
	return code;
}

/* ---------------------------------------------------------------------
 * Splitting
 * ---------------------------------------------------------------------
 */

static void PickRandom(pg_prng_state *prng, int64 *items, int64 n, int64 k);
static void PickStratified(Dataset *ds, pg_prng_state *prng, int64 ntest, bool *is_test);
static int	CompareRemainders(const void *a, const void *b, void *arg);

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

	/* the caller checked the range: 0 <= test_size < 1, or a whole row count */
	if (test_size < 1)
		ntest = (int64) ceil(test_size * (double) n - 1e-9);
	else
	{
		Assert(test_size == floor(test_size) && test_size <= 1e15);
		ntest = (int64) test_size;
	}
	if (strcmp(sampling, "random") != 0 && strcmp(sampling, "stratified") != 0 &&
		strcmp(sampling, "last") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown test_sampling \"%s\"", MlopsClip(sampling, MLOPS_ECHO_MAX)),
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

	is_test = palloc_extended(sizeof(bool) * n, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	pg_prng_seed(&prng, (uint64) (int64) seed);
	if (ntest > 0 && strcmp(sampling, "last") == 0)
	{
		for (int64 i = n - ntest; i < n; i++)
			is_test[i] = true;
	}
	else if (ntest > 0 && strcmp(sampling, "random") == 0)
	{
		int64	   *items = palloc_extended(sizeof(int64) * n, MCXT_ALLOC_HUGE);

		for (int64 i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			items[i] = i;
		}
		PickRandom(&prng, items, n, ntest);
		for (int64 i = 0; i < ntest; i++)
		{
			CHECK_FOR_INTERRUPTS();
			is_test[items[i]] = true;
		}
		pfree(items);
	}
	else if (ntest > 0)
		PickStratified(ds, &prng, ntest, is_test);

	split->ntest = ntest;
	split->ntrain = n - ntest;
	split->train_rows = palloc_extended(sizeof(int64) * Max(split->ntrain, 1), MCXT_ALLOC_HUGE);
	split->test_rows = palloc_extended(sizeof(int64) * Max(ntest, 1), MCXT_ALLOC_HUGE);
	{
		int64		a = 0,
					b = 0;

		for (int64 i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
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
 * PickStratified marks ntest rows as test rows, per class: each class gets
 * its share of ntest rounded down, the rows left over go one each to the
 * classes with the largest remainders (ties to the lower class code), and
 * each class's test rows are picked at random among its rows in source
 * order.  Rows are bucketed by class in one pass, so the work is linear
 * in rows plus classes.
 */
static void
PickStratified(Dataset *ds, pg_prng_state *prng, int64 ntest, bool *is_test)
{
	int64		n = ds->nrows;
	int			nclasses = ds->label.classes->count;
	int64	   *class_n = palloc_extended(sizeof(int64) * nclasses, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	int64	   *quota = palloc_extended(sizeof(int64) * nclasses, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	double	   *rest = palloc_extended(sizeof(double) * nclasses, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	int		   *order = palloc_extended(sizeof(int) * nclasses, MCXT_ALLOC_HUGE);
	int64	   *start = palloc_extended(sizeof(int64) * (nclasses + 1), MCXT_ALLOC_HUGE);
	int64	   *items = palloc_extended(sizeof(int64) * n, MCXT_ALLOC_HUGE);
	int64		assigned = 0;

	for (int64 i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		class_n[(int) ds->y[i]]++;
	}
	for (int c = 0; c < nclasses; c++)
	{
		double		exact = (double) ntest * class_n[c] / n;

		CHECK_FOR_INTERRUPTS();
		quota[c] = (int64) floor(exact);
		rest[c] = exact - quota[c];
		assigned += quota[c];
		order[c] = c;
	}
	qsort_interruptible(order, nclasses, sizeof(int), CompareRemainders, rest);
	for (int r = 0; r < nclasses && assigned < ntest; r++)
	{
		if (quota[order[r]] < class_n[order[r]])
		{
			quota[order[r]]++;
			assigned++;
		}
	}

	/* bucket the rows by class, in source order within each class */
	start[0] = 0;
	for (int c = 0; c < nclasses; c++)
		start[c + 1] = start[c] + class_n[c];
	memset(class_n, 0, sizeof(int64) * nclasses);
	for (int64 i = 0; i < n; i++)
	{
		int			c = (int) ds->y[i];

		CHECK_FOR_INTERRUPTS();
		items[start[c] + class_n[c]++] = i;
	}
	for (int c = 0; c < nclasses; c++)
	{
		PickRandom(prng, items + start[c], class_n[c], quota[c]);
		for (int64 i = 0; i < quota[c]; i++)
			is_test[items[start[c] + i]] = true;
	}
	pfree(items);
	pfree(start);
	pfree(order);
	pfree(class_n);
	pfree(quota);
	pfree(rest);
}

/*
 * CompareRemainders orders class codes by their remainder (arg) descending,
 * then by code.
 */
static int
CompareRemainders(const void *a, const void *b, void *arg)
{
	const double *rest = (const double *) arg;
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	if (rest[x] != rest[y])
		return rest[x] > rest[y] ? -1 : 1;
	return (x > y) - (x < y);
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
		int64		j;
		int64		tmp;

		CHECK_FOR_INTERRUPTS();
		j = (int64) pg_prng_uint64_range(prng, (uint64) i, (uint64) (n - 1));
		tmp = items[i];

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
	{
		CHECK_FOR_INTERRUPTS();
		prefix = (rows[i] == i);
	}
	if (prefix)
		return (float *) src;
	dst = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * Max(nrows * width, 1));
	for (int64 i = 0; i < nrows; i++)
	{
		CHECK_FOR_INTERRUPTS();
		memcpy(dst + i * width, src + rows[i] * width, sizeof(float) * width);
	}
	return dst;
}

