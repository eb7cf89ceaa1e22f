/*
 * routing_hash.c
 *		The pure routing decisions of a deployment (no PostgreSQL headers, so
 *		test/unit/test_routing_hash.c tests them alone).
 *
 * A keyed call goes to the candidate when a 64-bit hash of (key, deployment
 * id), read as a number in [0, 1), is below percent / 100: the same key gets
 * the same version for the life of a deployment, and a new deployment
 * reshuffles keys.  The hash is FNV-1a over the key's bytes, seeded with the
 * deployment id, finished with MurmurHash3's 64-bit finaliser (fmix64) so
 * that every output bit depends on every input bit.
 *
 * A call without a key is split in exact proportion over time: call n
 * (from 0) goes to the candidate when floor((n + 1) p / 100) >
 * floor(n p / 100), so after N calls exactly floor(N p / 100) went there.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/routing_hash.h"

/* RouteFmix64 is MurmurHash3's finaliser: it mixes every bit of h. */
static uint64_t
RouteFmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

/* RouteHash returns the 64-bit hash of a routing key and a deployment id. */
uint64_t
RouteHash(const char *key, size_t len, int64_t deployment_id)
{
	uint64_t	h = UINT64_C(0xcbf29ce484222325) ^ RouteFmix64((uint64_t) deployment_id);

	for (size_t i = 0; i < len; i++)
	{
		h ^= (unsigned char) key[i];
		h *= UINT64_C(0x100000001b3);
	}
	return RouteFmix64(h ^ (uint64_t) len);
}

/*
 * RouteKeyToCandidate says whether a keyed call goes to the candidate of a
 * deployment that sends it percent (0..100) of the traffic.
 */
int
RouteKeyToCandidate(const char *key, size_t len, int64_t deployment_id, double percent)
{
	double		u = (double) (RouteHash(key, len, deployment_id) >> 11) * (1.0 / 9007199254740992.0);

	return u * 100.0 < percent;
}

/*
 * RouteCallToCandidate says whether call n (counted from 0) without a key
 * goes to the candidate, so that calls split in exact proportion.
 */
int
RouteCallToCandidate(uint64_t n, double percent)
{
	if (percent <= 0.0)
		return 0;
	if (percent >= 100.0)
		return 1;
	return floor((double) (n + 1) * percent / 100.0) > floor((double) n * percent / 100.0);
}
