/*-------------------------------------------------------------------------
 *
 * drift.h
 *	  The face of src/drift/ and what its files share: the array helpers of
 *	  the statistics functions (drift.c) and the ADWIN functions
 *	  (adwin_sql.c), category counting (categories.c), reading a source into
 *	  drift columns (sample.c), stored references (reference.c,
 *	  reference_model.c) and the checks of detect_drift (detect.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_DRIFT_H
#define MLOPS_DRIFT_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/hsearch.h"

#include "common/common.h"
#include "drift/stats.h"

struct PortalData;

/* ---- the statistics' hooks and array helpers (drift.c) ---- */
extern void DriftInit(void);
extern void DriftRequireOneDim(ArrayType *arr, const char *argname);
extern double *DriftArrayToDoubles(ArrayType *arr, const char *argname,
								   int *n, int *dropped, bool keep_positions,
								   int **positions);
extern void DriftRequireNonEmpty(int n, int dropped, const char *what);
extern void DriftValidateDelta(double delta);
extern double DriftWasserstein(const double *r, int nr, const double *c, int nc,
							   const char *column);
extern StatsBinning DriftBinsArg(FunctionCallInfo fcinfo, int argno, int *bins);
extern double DriftBinnedMeasure(const double *r, int nr, const double *c, int nc,
								 int bins, StatsBinning binning,
								 double (*measure) (const double *ref, const double *cur, int k));
extern Datum DriftKsResult(FunctionCallInfo fcinfo, double *r, int nr, double *c, int nc);

/* ---- the checks detect_drift can run ---- */
typedef enum DriftMethod
{
	METHOD_PSI,
	METHOD_KL,
	METHOD_JS,
	METHOD_WASSERSTEIN,
	METHOD_KS,
	METHOD_CHI_SQUARE,
	NUM_METHODS
} DriftMethod;

/* how a column is compared */
#define KIND_NUMERIC 'n'
#define KIND_CATEGORICAL 'c'

/* ---- category counting (categories.c) ---- */

/*
 * CategoryTable counts categories of a reference and a current sample;
 * categories keep the order in which they were first seen.  Everything
 * lives in the memory context that was current at CategoryTableInit.
 */
typedef struct CategoryTable
{
	HTAB	   *hash;
	MemoryContext cxt;
	int			n;
	int			cap;
	char	  **names;
	double	   *ref_counts;
	double	   *cur_counts;
} CategoryTable;

extern void CategoryTableInit(CategoryTable *t);
extern int	CategoryIndex(CategoryTable *t, const char *str, int len);
extern void CategoryCountArray(CategoryTable *t, ArrayType *arr, const char *argname,
							   bool reference, int64 *count, int64 *dropped);
extern int	CategoryAddReference(CategoryTable *t, ArrayType *names, ArrayType *counts);
extern double DriftCategoryPsi(CategoryTable *t, int64 nr, int64 dr, int64 nc, int64 dc);
extern Datum DriftChiSquareResult(FunctionCallInfo fcinfo, CategoryTable *t, int64 nr,
								  int64 dr, int64 nc, int64 dc);

/* ---- drift columns and reading a source into them (sample.c) ---- */

/*
 * DriftColumn is one column of a drift check: what the reference keeps,
 * where the current sample's values come from and what it holds.
 */
typedef struct DriftColumn
{
	char	   *name;
	char		kind;			/* KIND_NUMERIC or KIND_CATEGORICAL */
	/* reference */
	double	   *ref_values;		/* sorted finite values (query reference) */
	int			nref_values;
	double	   *edges;			/* histogram edges (model reference) */
	double	   *edge_counts;	/* histogram counts, nedges - 1 of them */
	int			nedges;
	CategoryTable cats;			/* categorical counts, both samples */
	int64		ref_count;
	int64		ref_dropped;
	/* the source column the current sample is read from */
	int			attno;			/* 0-based position in the source's rows */
	Oid			typid;			/* its base type */
	FmgrInfo	outfunc;		/* its output function (categorical) */
	/* current */
	double	   *cur_values;		/* finite values, sorted if sort_current */
	int			ncur;
	int			cur_cap;
	bool		sort_current;	/* a check needs the current values sorted */
	int64		cur_count;
	int64		cur_dropped;
	/* checks */
	bool		method_on[NUM_METHODS];
	double		threshold[NUM_METHODS];
} DriftColumn;

/* an open source of a drift function */
typedef struct DriftSource
{
	SourceSpec	spec;
	struct PortalData *portal;
	TupleDesc	desc;			/* the source's row type */
} DriftSource;

extern char DriftColumnKind(Oid typid);
extern void DriftSourceOpen(const char *source, DriftSource *src);
extern int	DriftSourceColumn(DriftSource *src, const char *name);
extern void DriftBindColumn(DriftSource *src, DriftColumn *col, int attno);
extern void DriftReadSample(DriftSource *src, DriftColumn *cols, int ncols, int64 *rows);

/* ---- the distributions a check compared (histograms.c) ---- */

/* equal-width bins of a numeric column by default, and at most */
#define DRIFT_DISTRIBUTION_BINS 20
#define DRIFT_DISTRIBUTION_BINS_MAX 1000

extern char *DriftDistributions(DriftColumn *cols, int ncols, int bins);

/* ---- stored references (reference.c) ---- */

/* the longest name of a drift reference or an ADWIN detector, in characters */
#define DRIFT_NAME_MAX 128

extern text *DriftRequireTextArg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern char *DriftReferenceNameArg(FunctionCallInfo fcinfo);
extern void DriftCheckName(const char *name, const char *what);
extern void DriftLockReference(const char *name);
extern char **DriftTextArrayArg(FunctionCallInfo fcinfo, int argno, const char *argname,
								const char *empty_hint, bool unique, int *n);
extern char **DriftTextArray(ArrayType *arr, const char *argname, const char *empty_hint,
							 bool unique, int *n);
extern void DriftWriteReference(const char *name, const char *source, const char *kind,
								int64 model_id, int32 version, int64 rows,
								DriftColumn *cols, int ncols);
extern Datum DriftReferenceSummary(const char *name, int64 rows, DriftColumn *cols,
								   int ncols);
extern void DriftLoadReference(const char *name, char **source_kind, Oid *owner,
							   DriftColumn **cols, int *ncols);
extern void DriftAudit(const char *action, const char *rtype, const char *name,
					   const char *details);

#endif							/* MLOPS_DRIFT_H */
