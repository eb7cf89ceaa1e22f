/*
 * dataset.h
 *		Reading a table, view or query into a dense float matrix (dataset.c),
 *		encoding column values as features (dataset_encode.c) and a model's
 *		input_schema (dataset_schema.c).
 *
 * See those files for the design; sources themselves are resolved by
 * source.h.
 */
#ifndef MLOPS_DATASET_H
#define MLOPS_DATASET_H

#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

struct TupleDescData;

/* How a column becomes a float feature (names as in input_schema) */
typedef enum FeatureKind
{
	FEATURE_FLOAT,
	FEATURE_INTEGER,
	FEATURE_BOOLEAN,
	FEATURE_CATEGORICAL
} FeatureKind;

/* Number of equal-width bins in a numeric feature's reference histogram */
#define DATASET_HISTOGRAM_BINS 10

/*
 * A vocabulary maps strings (category values or class labels) to dense
 * codes.  While training reads rows it grows in first-seen order; once the
 * source is read it is sorted and the codes in the matrix are rewritten, so
 * code i is always names[i] in sorted order.  At prediction time it is built
 * from the stored input_schema and frozen: unknown strings map to -1.
 */
typedef struct Vocabulary
{
	struct HTAB *map;			/* string -> code */
	int			count;
	int			capacity;
	char	  **names;			/* code -> string */
	bool		frozen;
	MemoryContext cxt;			/* where names live */
} Vocabulary;

/* Per-feature training statistics, the reference for drift checks */
typedef struct FeatureStats
{
	int64		count;			/* non-missing values */
	double		min;
	double		max;
	double		mean;
	double		null_share;
	int			nbins;
	double		edges[DATASET_HISTOGRAM_BINS + 1];
	int64		counts[DATASET_HISTOGRAM_BINS];
	int64	   *category_counts;	/* categorical: one per category */
} FeatureStats;

/* One feature column: where it is read from and how it is encoded */
typedef struct FeatureColumn
{
	char	   *name;
	FeatureKind kind;
	int			attno;			/* 0-based position in the source's tuples */
	Oid			typid;			/* the source column's type */
	FmgrInfo	outfunc;		/* output function, for enums and other types */
	Vocabulary *vocab;			/* categorical only */
	int		   *remap;			/* spilled categorical: first-seen code -> sorted code */
	FeatureStats stats;
} FeatureColumn;

/* The label of a training set */
typedef struct LabelColumn
{
	char	   *name;
	FeatureKind kind;			/* type of the source column */
	int			attno;
	Oid			typid;
	FmgrInfo	outfunc;
	Vocabulary *classes;		/* classification only */
} LabelColumn;

/* A training set: row-major float matrix plus encoded labels */
typedef struct Dataset
{
	int			nfeatures;
	FeatureColumn *features;
	LabelColumn label;
	bool		classification;
	int64		nrows;
	float	   *x;				/* nrows * nfeatures, NaN = missing; NULL when spilled */
	float	   *y;				/* nrows: class code or regression target */
	struct DatasetSpill *spill; /* DatasetReadSpilled: the rows, batch_rows at a time */
	int64		batch_rows;
	int64		data_rows;		/* fingerprint of the training rows (DatasetComputeStats) */
	char		data_sha256[65];
} Dataset;

/*
 * Reads the rows of a spilled dataset back batch by batch, every row or
 * only the training (test = false) or test rows of a split, categorical
 * codes remapped (dataset_spill.c)
 */
typedef struct DatasetCursor
{
	Dataset    *ds;
	const bool *is_test;		/* per row; NULL = every row */
	bool		test;			/* which rows when is_test is set */
	bool		remap;			/* a categorical column needs its codes remapped */
	int64		next_row;		/* first row of the next batch */
	float	   *raw;			/* one batch as spilled */
	float	   *x;				/* the selected rows, remapped (NULL: raw is used) */
	float	   *y;
} DatasetCursor;

/* A train/test split: row indexes into the dataset, each in source order */
typedef struct DatasetSplit
{
	int64		ntrain;
	int64		ntest;
	int64	   *train_rows;
	int64	   *test_rows;
} DatasetSplit;

extern int	DatasetFindColumn(struct TupleDescData *tupdesc, const char *name);
extern Dataset *DatasetRead(const char *source, const char *target,
							List *feature_names, bool classification,
							int64 max_cells, int64 max_bytes);
extern Dataset *DatasetReadSpilled(const char *source, const char *target,
								   List *feature_names, bool classification,
								   int64 max_cells, int64 max_bytes, int64 batch_cells);
extern struct DatasetSpill *DatasetSpillCreate(void);
extern void DatasetSpillWrite(Dataset *ds, const float *rows, int64 nrows);
extern void DatasetSpillClose(Dataset *ds);
extern DatasetCursor *DatasetCursorOpen(Dataset *ds, const bool *is_test, bool test);
extern int64 DatasetCursorNext(DatasetCursor *cur, const float **x, const float **y);
extern void DatasetCursorRewind(DatasetCursor *cur);
extern void DatasetCursorClose(DatasetCursor *cur);
extern void DatasetComputeStatsSpilled(Dataset *ds, const bool *is_test);
extern DatasetSplit *DatasetMakeSplit(Dataset *ds, double test_size,
									  const char *sampling, int seed);
extern float *DatasetGather(const float *src, int width,
							const int64 *rows, int64 nrows);
extern void DatasetComputeStats(Dataset *ds, const int64 *rows, int64 nrows);
extern char *DatasetInputSchemaJson(Dataset *ds);

extern const char *FeatureKindName(FeatureKind kind);
extern FeatureKind FeatureKindFromType(Oid typid, bool *supported);
extern bool FeatureKindFromName(const char *name, FeatureKind *kind);
extern double DatumToDouble(Oid basetype, Datum value);
extern char *DatumToText(Oid basetype, FmgrInfo *outfunc, Datum value);
extern void ColumnOutputFunction(Oid typid, FmgrInfo *outfunc);
extern float EncodeFeatureDatum(FeatureColumn *col, Datum value, bool isnull);
extern float DoubleToFloat(double v);

/*
 * EncodeFeatureValue is EncodeFeatureDatum with real columns, the usual
 * case of a training or scored table, converted inline: the row readers
 * (training's ReadRow, predict_table's TableRow) call it once per cell.
 */
static inline float
EncodeFeatureValue(FeatureColumn *col, Datum value, bool isnull)
{
	if (col->typid == FLOAT4OID)
		return isnull ? NAN : DatumGetFloat4(value);
	return EncodeFeatureDatum(col, value, isnull);
}

extern Vocabulary *VocabularyCreate(void);
extern int	VocabularyLookup(Vocabulary *vocab, const char *name, bool add);
extern int *VocabularySort(Vocabulary *vocab, bool numeric);

/* Model feature schema as read back from input_schema at prediction time */
typedef struct ModelSchema
{
	int			nfeatures;
	FeatureColumn *features;	/* attno/typid unset until bound */
	int			nclasses;		/* 0 for regression */
	char	  **classes;
	char	   *label_name;
} ModelSchema;

extern ModelSchema *ModelSchemaFromJsonb(Jsonb *schema, int nfeatures_expected);
extern char *FeatureNameList(ModelSchema *schema);

#endif							/* MLOPS_DATASET_H */
