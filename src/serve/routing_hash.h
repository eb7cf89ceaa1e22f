/*
 * routing_hash.h
 *		Pure routing decisions of a deployment (see routing_hash.c).
 */
#ifndef MLOPS_ROUTING_HASH_H
#define MLOPS_ROUTING_HASH_H

#include <stddef.h>
#include <stdint.h>

extern uint64_t RouteHash(const char *key, size_t len, int64_t deployment_id);
extern int	RouteKeyToCandidate(const char *key, size_t len, int64_t deployment_id, double percent);
extern int	RouteCallToCandidate(uint64_t n, double percent);

#endif							/* MLOPS_ROUTING_HASH_H */
