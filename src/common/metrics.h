/*
 * metrics.h
 *	  One-pass model performance metrics (pure C, no PostgreSQL headers):
 *	  classification accuracy, precision, recall, F1, ROC AUC and confusion
 *	  counts; regression MAE, RMSE, R² and MAPE.  Definitions follow
 *	  scikit-learn's, which the tests use as the oracle.
 */
#ifndef MLOPS_METRICS_H
#define MLOPS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most distinct class labels one classification window may hold. */
#define METRICS_MAX_CLASSES 64

/* ScoredLabel is one probability of class 1 with whether the row is of class 1. */
typedef struct ScoredLabel
{
	double		score;
	bool		positive;
} ScoredLabel;

/*
 * ClassificationAcc accumulates (prediction, actual) pairs.  A prediction is
 * a class label (an integral value) or, for binary problems, the
 * probability of class 1 (a value strictly between 0 and 1, whose label is
 * 1 when it is at least 0.5).  Actual values are integral class labels.
 */
typedef struct ClassificationAcc
{
	int64_t		n;
	int			nclasses;
	double		classes[METRICS_MAX_CLASSES];	/* in order of appearance */
	int64_t		confusion[METRICS_MAX_CLASSES][METRICS_MAX_CLASSES];	/* [actual][predicted] */
	bool		has_scores;		/* some prediction was a probability */
	bool		auc_possible;	/* every pair so far fits a binary ROC AUC */
	ScoredLabel *scores;		/* every pair, kept while auc_possible */
	size_t		nscores;
	size_t		capscores;
} ClassificationAcc;

typedef struct ClassificationMetrics
{
	int64_t		n;
	bool		binary;			/* every label is 0 or 1: scores for class 1 */
	int			nclasses;
	double		classes[METRICS_MAX_CLASSES];	/* ascending */
	int64_t		confusion[METRICS_MAX_CLASSES][METRICS_MAX_CLASSES];	/* [actual][predicted], ascending */
	double		accuracy;
	double		precision;		/* binary: of class 1; otherwise macro average */
	double		recall;
	double		f1_score;
	int64_t		tp,
				fp,
				tn,
				fn;				/* binary only */
	bool		has_roc_auc;
	double		roc_auc;
	const char *roc_auc_note;	/* why there is no ROC AUC, or NULL */
} ClassificationMetrics;

extern bool MetricsCheckPair(bool classification, double prediction, const double *actual,
							 char *errbuf, size_t errlen);
extern void ClassificationAccInit(ClassificationAcc *acc);
extern bool ClassificationAccAdd(ClassificationAcc *acc, double prediction, double actual,
								 char *errbuf, size_t errlen);
extern bool ClassificationAccFinish(ClassificationAcc *acc, ClassificationMetrics *out,
									char *errbuf, size_t errlen);
extern bool ClassificationAccDeclareClass(ClassificationAcc *acc, double label,
										  char *errbuf, size_t errlen);
extern void ClassificationAccFree(ClassificationAcc *acc);

/* RegressionAcc accumulates (prediction, actual) pairs; it holds no pointers. */
typedef struct RegressionAcc
{
	int64_t		n;
	double		sum_abs_error;
	double		sum_sq_error;
	double		sum_abs_pct_error;
	double		mean_actual;	/* Welford's running mean and M2 of actual */
	double		m2_actual;
} RegressionAcc;

typedef struct RegressionMetrics
{
	int64_t		n;
	double		mae;
	double		mse;
	double		rmse;
	double		r2;				/* NaN with fewer than two pairs */
	double		mape;			/* a fraction, as scikit-learn: 0.1 is 10% */
} RegressionMetrics;

extern void RegressionAccInit(RegressionAcc *acc);
extern bool RegressionAccAdd(RegressionAcc *acc, double prediction, double actual,
							 char *errbuf, size_t errlen);
extern bool RegressionAccFinish(const RegressionAcc *acc, RegressionMetrics *out,
								char *errbuf, size_t errlen);

/*
 * RocAuc returns the area under the ROC curve (ties counted as half, as
 * scikit-learn's roc_auc_score), sorting pairs in place; NaN unless both
 * classes occur, and NaN when a score is NaN.  RocAucSorted does the same
 * for pairs already sorted with ScoredLabelCompare (a caller that sorts
 * with an interruptible sort of its own), in one linear pass.
 */
extern double RocAuc(ScoredLabel *pairs, size_t n);
extern double RocAucSorted(const ScoredLabel *pairs, size_t n);
extern int	ScoredLabelCompare(const void *a, const void *b, void *arg);

#endif							/* MLOPS_METRICS_H */
