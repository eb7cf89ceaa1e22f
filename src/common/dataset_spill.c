/*
 * dataset_spill.c
 *		The rows of a training set in a temporary file, read back batch by
 *		batch.
 *
 * Design
 * ------
 * Training with tree_method hist builds XGBoost's quantile matrix batch by
 * batch (xgb/xgb_iter.c), so the float matrix never needs to be in memory
 * whole.  But libxgboost walks the batches four times, a split needs the
 * row count before any row is assigned, and categorical codes are final
 * only once the whole source is read.  Reading the user's source four
 * times would run a query four times (and see different rows if it is
 * volatile), so DatasetReadSpilled (dataset.c) reads it once and writes the
 * encoded rows, row-major float32 in source order, to a temporary file of
 * this backend (fd.c's OpenTemporaryFile: temp_tablespaces,
 * temp_file_limit, removed at the end of the transaction, also on error).
 * Only the labels stay in memory (the split needs them).  Batches are
 * written and read whole, one system call each, straight from and into the
 * caller's buffer: a BufFile would copy every 8 kB block through its own
 * buffer, and the rows are read back six times per training.
 *
 * A DatasetCursor reads that file back one batch (batch_rows rows) at a
 * time into its own buffer, rewrites categorical codes to their sorted
 * codes, keeps the rows of one side of a split (is_test), and gathers their
 * labels.  Cursors share the file: each reads at its own offset.
 * Every read checks for interrupts; an I/O error is an ERROR
 * (callers inside libxgboost catch it, see xgb_iter.c).
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"

#include "common/common.h"

/* The temporary file of a spilled dataset */
typedef struct DatasetSpill
{
	File		file;
	off_t		size;			/* bytes written */
} DatasetSpill;

/* Bytes per read or write call: FileRead and FileWrite take an int */
#define SPILL_CHUNK (1 << 30)

static void SpillRead(DatasetSpill *spill, char *buf, size_t bytes, off_t offset);

/*
 * DatasetSpillCreate opens a new temporary file for a dataset's rows, in
 * the current memory context.
 */
DatasetSpill *
DatasetSpillCreate(void)
{
	DatasetSpill *spill = palloc0(sizeof(DatasetSpill));

	spill->file = OpenTemporaryFile(false);
	return spill;
}

/*
 * DatasetSpillWrite appends nrows encoded rows to the dataset's temporary
 * file.
 */
void
DatasetSpillWrite(Dataset *ds, const float *rows, int64 nrows)
{
	DatasetSpill *spill = ds->spill;
	const char *buf = (const char *) rows;
	size_t		bytes = sizeof(float) * (size_t) nrows * ds->nfeatures;

	while (bytes > 0)
	{
		int			amount = (int) Min(bytes, SPILL_CHUNK);
		int			done = FileWrite(spill->file, (char *) buf, amount, spill->size,
									 WAIT_EVENT_BUFFILE_WRITE);

		if (done <= 0)
		{
			/* a short write without errno set is out of disk space */
			if (done == 0 || errno == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write the training rows to a temporary file: %m")));
		}
		spill->size += done;
		buf += done;
		bytes -= done;
	}
}

/*
 * SpillRead reads bytes of the temporary file at offset into buf, all of
 * them or an ERROR.
 */
static void
SpillRead(DatasetSpill *spill, char *buf, size_t bytes, off_t offset)
{
	while (bytes > 0)
	{
		int			amount = (int) Min(bytes, SPILL_CHUNK);
		int			done = FileRead(spill->file, buf, amount, offset, WAIT_EVENT_BUFFILE_READ);

		if (done <= 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 done < 0 ?
					 errmsg("could not read the training rows back from their temporary file: %m") :
					 errmsg("could not read the training rows back from their temporary file: unexpected end of file")));
		offset += done;
		buf += done;
		bytes -= done;
	}
}

/* DatasetSpillClose removes the dataset's temporary file. */
void
DatasetSpillClose(Dataset *ds)
{
	if (ds->spill != NULL)
	{
		FileClose(ds->spill->file);
		pfree(ds->spill);
	}
	ds->spill = NULL;
}

/*
 * DatasetCursorOpen returns a cursor over the spilled rows of ds: every
 * row when is_test is NULL, else the rows whose is_test equals test.
 */
DatasetCursor *
DatasetCursorOpen(Dataset *ds, const bool *is_test, bool test)
{
	DatasetCursor *cur = palloc0(sizeof(DatasetCursor));
	size_t		cells = (size_t) ds->batch_rows * ds->nfeatures;

	Assert(ds->spill != NULL);
	cur->ds = ds;
	cur->is_test = is_test;
	cur->test = test;
	for (int j = 0; j < ds->nfeatures; j++)
		cur->remap = cur->remap || ds->features[j].remap != NULL;
	cur->raw = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * cells);
	if (is_test != NULL || cur->remap)
	{
		cur->x = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * cells);
		cur->y = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * ds->batch_rows);
	}
	return cur;
}

/* DatasetCursorRewind starts the cursor again from the first row. */
void
DatasetCursorRewind(DatasetCursor *cur)
{
	cur->next_row = 0;
}

/* DatasetCursorClose frees the cursor's buffers. */
void
DatasetCursorClose(DatasetCursor *cur)
{
	pfree(cur->raw);
	if (cur->x != NULL)
		pfree(cur->x);
	if (cur->y != NULL)
		pfree(cur->y);
	pfree(cur);
}

/*
 * DatasetCursorNext reads the next batch holding selected rows and points
 * *x at those rows (remapped, row-major) and *y at their labels, valid until
 * the next call; it returns how many rows they are, 0 at the end.
 */
int64
DatasetCursorNext(DatasetCursor *cur, const float **x, const float **y)
{
	Dataset    *ds = cur->ds;
	int			nf = ds->nfeatures;

	while (cur->next_row < ds->nrows)
	{
		int64		first = cur->next_row;
		int64		n = Min(ds->batch_rows, ds->nrows - first);
		size_t		bytes = sizeof(float) * (size_t) n * nf;
		int64		kept = 0;

		CHECK_FOR_INTERRUPTS();
		SpillRead(ds->spill, (char *) cur->raw, bytes, (off_t) first * nf * (off_t) sizeof(float));
		cur->next_row = first + n;

		if (cur->is_test == NULL && !cur->remap)
		{
			/* every row, as spilled */
			*x = cur->raw;
			*y = ds->y + first;
			return n;
		}
		for (int64 i = 0; i < n; i++)
		{
			float	   *dst;

			if (cur->is_test != NULL && cur->is_test[first + i] != cur->test)
				continue;
			dst = cur->x + kept * nf;
			memcpy(dst, cur->raw + i * nf, sizeof(float) * nf);
			for (int j = 0; j < nf; j++)
				if (ds->features[j].remap != NULL && !isnan(dst[j]))
					dst[j] = (float) ds->features[j].remap[(int) dst[j]];
			cur->y[kept++] = ds->y[first + i];
		}
		if (kept == 0)
			continue;
		*x = cur->x;
		*y = cur->y;
		return kept;
	}
	return 0;
}
