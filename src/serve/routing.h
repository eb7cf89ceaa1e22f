/*
 * routing.h
 *		Routing a bare model name between the versions of its active
 *		production deployment (see routing.c).
 */
#ifndef MLOPS_ROUTING_H
#define MLOPS_ROUTING_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "serve/model_cache.h"

/* Which side of a deployment served a call */
typedef enum RouteVariant
{
	ROUTE_STABLE,
	ROUTE_CANARY
} RouteVariant;

/* Where one call went */
typedef struct Route
{
	int64		deployment_id;	/* 0 when no deployment routed the call */
	TimestampTz created_at;		/* when that deployment was created */
	RouteVariant variant;
	CachedModel *shadow;		/* a shadow candidate to compare, or NULL */
} Route;

/* How predict_batch's rows split between a canary's versions (RouteCalls) */
typedef struct RouteSplit
{
	CachedModel *candidate;		/* the canary's candidate, NULL: no canary */
	uint64		first_call;		/* the place of the first row in the exact split */
	double		percent;		/* the candidate's share */
} RouteSplit;

extern void RoutingInit(void);
extern CachedModel *RouteModel(const char *ref, const char *key, int keylen, Route *route);
extern CachedModel *RouteCalls(const char *ref, uint64 n, Route *route, RouteSplit *split);
extern bool RouteCanary(const char *ref, CachedModel **stable, CachedModel **candidate,
						int64 *deployment_id, double *percent);
extern void RouteRecordShadow(Route *route, double served, double shadow, bool failed);

#endif							/* MLOPS_ROUTING_H */
