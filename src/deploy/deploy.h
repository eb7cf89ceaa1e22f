/*-------------------------------------------------------------------------
 *
 * deploy.h
 *	  The face of src/deploy/: deployments and their validation gate
 *	  (validate.c, sql/install/50_deployments.sql) and A/B tests.  Routing
 *	  between a deployment's versions is serve/routing.c's; the subsystems
 *	  talk through SQL (mlops.deployments).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_DEPLOY_H
#define MLOPS_DEPLOY_H

#include "postgres.h"

#include "fmgr.h"

/* ---- deployments ---- */

/* Most rows a deployment's guard reads per check (check_deployments) */
#define DEPLOY_VALIDATE_LATENCY_ROWS 200

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
/* ab_cache.c: mlops._ab_changed(), the trigger that empties ab_predict's caches */
extern Datum mlops_ab_changed(PG_FUNCTION_ARGS);

#endif							/* MLOPS_DEPLOY_H */
