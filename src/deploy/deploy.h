/*-------------------------------------------------------------------------
 *
 * deploy.h
 *	  The face of the deployments and experiments subsystem (issue 11):
 *	  deployments, validation and routing (deploy helper), and A/B tests.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_DEPLOY_H
#define MLOPS_DEPLOY_H

#include "fmgr.h"

/* ---- A/B tests ---- */
/* ab_sql.c: the C helpers of sql/install/52_ab_tests.sql (internal functions) */
extern Datum mlops_ab_choose(PG_FUNCTION_ARGS);
extern Datum mlops_ab_ztest(PG_FUNCTION_ARGS);
extern Datum mlops_ab_wilson(PG_FUNCTION_ARGS);
extern Datum mlops_ab_welch(PG_FUNCTION_ARGS);
extern Datum mlops_ab_holm(PG_FUNCTION_ARGS);
extern Datum mlops_ab_chisquare(PG_FUNCTION_ARGS);
/* ab_predict.c: mlops.ab_predict */
extern Datum mlops_ab_predict(PG_FUNCTION_ARGS);

#endif							/* MLOPS_DEPLOY_H */
