/* unit-sources: src/serve/routing_hash.c */
/*
 * test_routing_hash.c
 *	  Unit tests of a deployment's routing decisions (src/serve/routing_hash.c):
 *	  keyed routing is deterministic, splits 100,000 keys within 1% of the
 *	  share, is reshuffled by a new deployment id, and its hash avalanches
 *	  (one flipped input bit changes half the output bits on average);
 *	  keyless routing sends exactly floor(N p / 100) of N calls.  Prints TAP.
 */
#include "serve/routing_hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	test_count = 0;
static int	failures = 0;

/* Ok records one TAP result. */
static void
Ok(int cond, const char *what)
{
	test_count++;
	if (!cond)
		failures++;
	printf("%sok %d - %s\n", cond ? "" : "not ", test_count, what);
}

/* KeyedShare returns the share of n keys "user-<i>" routed to the candidate. */
static double
KeyedShare(int n, long long deployment_id, double percent)
{
	char		key[32];
	int			hits = 0;

	for (int i = 0; i < n; i++)
	{
		snprintf(key, sizeof(key), "user-%d", i);
		hits += RouteKeyToCandidate(key, strlen(key), deployment_id, percent);
	}
	return 100.0 * hits / n;
}

/* Popcount64 counts the set bits of x. */
static int
Popcount64(uint64_t x)
{
	int			c = 0;

	while (x)
	{
		x &= x - 1;
		c++;
	}
	return c;
}

int
main(void)
{
	const double shares[] = {1, 10, 25, 50, 90};
	char		msg[128];

	/* deterministic, and sensitive to the key, its length and the deployment */
	Ok(RouteHash("user-42", 7, 3) == RouteHash("user-42", 7, 3), "the same key and deployment hash alike");
	Ok(RouteHash("user-42", 7, 3) != RouteHash("user-42", 7, 4), "another deployment hashes differently");
	Ok(RouteHash("user-42", 7, 3) != RouteHash("user-43", 7, 3), "another key hashes differently");
	Ok(RouteHash("", 0, 3) != RouteHash("\0", 1, 3), "a key's length counts");

	for (int s = 0; s < 5; s++)
	{
		double		got = KeyedShare(100000, 7, shares[s]);

		snprintf(msg, sizeof(msg), "100,000 keys at %g%% route %.3f%% (within 1%% of the share)",
				 shares[s], got);
		Ok(fabs(got - shares[s]) <= 1.0, msg);
	}
	Ok(KeyedShare(10000, 7, 0) == 0.0, "0% routes no key");
	Ok(KeyedShare(10000, 7, 100) == 100.0, "100% routes every key");

	/* a new deployment reshuffles: of the keys in its 50%, about half were in the old one's */
	{
		char		key[32];
		int			both = 0;
		int			first = 0;

		for (int i = 0; i < 100000; i++)
		{
			int			a;

			snprintf(key, sizeof(key), "user-%d", i);
			a = RouteKeyToCandidate(key, strlen(key), 1, 50);
			first += a;
			both += a && RouteKeyToCandidate(key, strlen(key), 2, 50);
		}
		snprintf(msg, sizeof(msg), "a new deployment reshuffles keys (%.3f of the old half stays)",
				 (double) both / first);
		Ok(fabs((double) both / first - 0.5) < 0.02, msg);
	}

	/* avalanche: flipping one input bit flips 32 of 64 output bits on average */
	{
		double		total = 0;
		int			n = 0;
		char		key[16];

		for (int i = 0; i < 2000; i++)
		{
			snprintf(key, sizeof(key), "k%08d", i);
			for (int bit = 0; bit < 8 * 9; bit++)
			{
				char		flipped[16];

				memcpy(flipped, key, sizeof(key));
				flipped[bit / 8] ^= (char) (1 << (bit % 8));
				total += Popcount64(RouteHash(key, 9, 11) ^ RouteHash(flipped, 9, 11));
				n++;
			}
		}
		snprintf(msg, sizeof(msg), "one flipped key bit flips %.2f of 64 output bits on average", total / n);
		Ok(fabs(total / n - 32.0) < 0.5, msg);
	}

	/* keyless: exact proportion after every call */
	{
		const double p[] = {0, 0.1, 10, 25, 33.3, 50, 99.9, 100};

		for (int s = 0; s < 8; s++)
		{
			long long	hits = 0;
			int			exact = 1;

			for (uint64_t n = 0; n < 100000; n++)
			{
				hits += RouteCallToCandidate(n, p[s]);
				if (hits != (long long) floor((double) (n + 1) * p[s] / 100.0))
					exact = 0;
			}
			snprintf(msg, sizeof(msg), "keyless calls at %g%%: floor(N p / 100) after every call N", p[s]);
			Ok(exact, msg);
		}
	}

	printf("1..%d\n", test_count);
	return failures == 0 ? 0 : 1;
}
