/*-------------------------------------------------------------------------
 *
 * sample.c
 *	  Reading a drift function's source (set_drift_reference, detect_drift)
 *	  into the current samples of its DriftColumns.
 *
 * The source goes through the one source resolver (common/source.c), so
 * drift accepts exactly what mlops.train and predict_table accept, with the
 * same messages, and reads it as the calling role through a read-only
 * cursor.  Its row type binds every drift column to a source column
 * (DriftBindColumn); then one scan (SourceScan) feeds every row to
 * SampleRow, which converts the values exactly as training does
 * (DatumToDouble, DatumToText of common/dataset_encode.c): numeric columns
 * collect their finite values, categorical ones count their categories.
 * NULL, NaN and infinite values count as dropped.  Values arrive in a
 * per-row memory context; the samples grow in the context that was current
 * when the read began.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"

#include "drift/drift.h"

/* state of one scan */
typedef struct SampleState
{
	DriftColumn *cols;
	int			ncols;
	int64		rows;
} SampleState;

static void SampleRow(TupleTableSlot *slot, void *arg);
static void SampleAppend(DriftColumn *c, double v);

/*
 * DriftColumnKind returns how a column of type typid is compared: numeric
 * types as numbers, text-like types, booleans and enums as categories, in
 * the encoding training uses; 0 for types drift checks do not support.
 */
char
DriftColumnKind(Oid typid)
{
	bool		supported;
	FeatureKind kind = FeatureKindFromType(typid, &supported);

	if (!supported)
		return 0;
	return (kind == FEATURE_INTEGER || kind == FEATURE_FLOAT) ? KIND_NUMERIC : KIND_CATEGORICAL;
}

/*
 * DriftSourceOpen resolves a source as the calling user and opens it as a
 * read-only cursor; SPI must be connected.
 */
void
DriftSourceOpen(const char *source, DriftSource *src)
{
	SourceResolve(source, &src->spec);
	src->portal = SourceOpen(src->spec.query);
	src->desc = src->portal->tupDesc;
}

/*
 * DriftSourceColumn returns the position of the source column called name,
 * or -1.
 */
int
DriftSourceColumn(DriftSource *src, const char *name)
{
	return DatasetFindColumn(src->desc, name);
}

/*
 * DriftBindColumn makes column attno of the source the one col's current
 * sample is read from.
 */
void
DriftBindColumn(DriftSource *src, DriftColumn *col, int attno)
{
	col->attno = attno;
	col->typid = getBaseType(TupleDescAttr(src->desc, attno)->atttypid);
	if (col->kind == KIND_CATEGORICAL)
		ColumnOutputFunction(col->typid, &col->outfunc);
}

/*
 * DriftReadSample reads every row of an open source into the current
 * samples of its bound columns (sorting numeric ones when sort_current),
 * closes the cursor and stores the row count in *rows.
 */
void
DriftReadSample(DriftSource *src, DriftColumn *cols, int ncols, int64 *rows)
{
	SampleState st;

	for (int i = 0; i < ncols; i++)
	{
		DriftColumn *c = &cols[i];

		c->ncur = 0;
		c->cur_count = 0;
		c->cur_dropped = 0;
		if (c->kind == KIND_NUMERIC)
		{
			c->cur_cap = 1024;
			c->cur_values = palloc(sizeof(double) * c->cur_cap);
		}
	}
	st.cols = cols;
	st.ncols = ncols;
	st.rows = 0;
	SourceScan(src->portal, SampleRow, &st);
	SPI_cursor_close(src->portal);
	src->portal = NULL;

	for (int i = 0; i < ncols; i++)
	{
		DriftColumn *c = &cols[i];

		if (c->kind != KIND_NUMERIC)
			continue;
		c->cur_count = c->ncur;
		if (c->sort_current)
			StatsSort(c->cur_values, c->ncur);
	}
	*rows = st.rows;
}

/*
 * SampleRow adds one source row to every column's current sample.
 */
static void
SampleRow(TupleTableSlot *slot, void *arg)
{
	SampleState *st = (SampleState *) arg;

	for (int i = 0; i < st->ncols; i++)
	{
		DriftColumn *c = &st->cols[i];
		Datum		value = slot->tts_values[c->attno];

		if (slot->tts_isnull[c->attno])
			c->cur_dropped++;
		else if (c->kind == KIND_NUMERIC)
		{
			double		v = DatumToDouble(c->typid, value);

			if (isfinite(v))
				SampleAppend(c, v);
			else
				c->cur_dropped++;
		}
		else
		{
			char	   *s = DatumToText(c->typid, &c->outfunc, value);

			c->cats.cur_counts[CategoryIndex(&c->cats, s, strlen(s))] += 1;
			c->cur_count++;
		}
	}
	st->rows++;
}

/*
 * SampleAppend appends a finite value to a numeric column's current sample,
 * growing it (in the context it was allocated in) as needed.
 */
static void
SampleAppend(DriftColumn *c, double v)
{
	if (c->ncur == c->cur_cap)
	{
		if (c->cur_cap >= INT_MAX / 2 ||
			(Size) c->cur_cap * 2 * sizeof(double) > MaxAllocHugeSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("column \"%s\" has too many values for a drift sample", c->name),
					 errdetail("A sample holds at most %d values.", c->cur_cap),
					 errhint("Check a sample of the rows, for example with TABLESAMPLE in a source query.")));
		c->cur_cap *= 2;
		c->cur_values = repalloc_huge(c->cur_values, sizeof(double) * (Size) c->cur_cap);
	}
	c->cur_values[c->ncur++] = v;
}
