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

/* ---- deployments ---- */

/* Most rows a deployment's guard reads per check (check_deployments) */
#define DEPLOY_VALIDATE_LATENCY_ROWS 200

#endif							/* MLOPS_DEPLOY_H */
