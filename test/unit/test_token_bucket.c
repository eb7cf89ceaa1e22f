/* unit-sources: src/http/token_bucket.c */
/*
 * test_token_bucket.c
 *	  Unit tests of the HTTP service's token bucket (src/http/token_bucket.c)
 *	  with an injected clock: the burst, the refill rate of each seeded tier,
 *	  Retry-After, the cap at burst, a clock going backwards, a shrunken tier
 *	  and the "full again" test used to forget idle buckets.  The expected
 *	  numbers are worked out by hand from the rate (per_minute / 60 tokens a
 *	  second).  Prints TAP.
 */
#include "http/token_bucket.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int	test_count = 0;
static int	failures = 0;

/*
 * Ok records one TAP result.
 */
static void
Ok(int cond, const char *what)
{
	test_count++;
	if (!cond)
		failures++;
	printf("%sok %d - %s\n", cond ? "" : "not ", test_count, what);
}

/*
 * Near says whether two doubles agree within 1e-9.
 */
static int
Near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

/*
 * main runs every case.
 */
int
main(void)
{
	TokenBucket b;
	TokenBucketResult r;
	int			allowed = 0;
	int64_t		t = 1000000;

	/* free tier: 60/min burst 10 -> 10 at once, the 11th refused for 1 s */
	TokenBucketInit(&b, 10, t);
	for (int i = 0; i < 11; i++)
	{
		r = TokenBucketTake(&b, 60, 10, t);
		allowed += r.allowed;
	}
	Ok(allowed == 10, "free tier: a burst of 10 at one instant, then refused");
	Ok(!r.allowed && Near(r.retry_after_s, 1.0), "free tier: Retry-After is 1 s (1 token per second)");
	Ok(Near(r.remaining, 0), "no tokens remain after the burst");
	Ok(Near(r.reset_s, 10.0), "free tier: full again after 10 s");

	/* half a second later: half a token, still refused, 0.5 s to wait */
	r = TokenBucketTake(&b, 60, 10, t + 500000);
	Ok(!r.allowed && Near(r.retry_after_s, 0.5), "after 0.5 s half a token is back: 0.5 s to wait");
	r = TokenBucketTake(&b, 60, 10, t + 1000000);
	Ok(r.allowed && Near(r.remaining, 0), "after 1 s one request passes");

	/* a long pause refills to burst, never beyond */
	r = TokenBucketTake(&b, 60, 10, t + 3600 * 1000000LL);
	Ok(r.allowed && Near(r.remaining, 9), "an hour later the bucket is capped at the burst");

	/* pro tier: 600/min burst 50 -> 10 tokens a second */
	TokenBucketInit(&b, 50, 0);
	allowed = 0;
	for (int i = 0; i < 60; i++)
		allowed += TokenBucketTake(&b, 600, 50, 0).allowed;
	Ok(allowed == 50, "pro tier: burst of 50");
	r = TokenBucketTake(&b, 600, 50, 0);
	Ok(Near(r.retry_after_s, 0.1), "pro tier: 0.1 s until the next token");
	allowed = 0;
	for (int i = 0; i < 20; i++)
		allowed += TokenBucketTake(&b, 600, 50, 1000000).allowed;
	Ok(allowed == 10, "pro tier: 10 more after one second");

	/* enterprise: 6000/min burst 200 -> 100 a second */
	TokenBucketInit(&b, 200, 0);
	allowed = 0;
	for (int i = 0; i < 500; i++)
		allowed += TokenBucketTake(&b, 6000, 200, i * 10000).allowed;	/* 100 req/s for 5 s */
	Ok(allowed == 500, "enterprise: 100 requests a second are all allowed");

	/* a clock going backwards refills nothing and removes nothing */
	TokenBucketInit(&b, 10, 5000000);
	for (int i = 0; i < 10; i++)
		TokenBucketTake(&b, 60, 10, 5000000);
	r = TokenBucketTake(&b, 60, 10, 1000000);
	Ok(!r.allowed && Near(b.tokens, 0), "a clock going backwards earns no tokens");
	r = TokenBucketTake(&b, 60, 10, 6000000);
	Ok(r.allowed, "time moving forward again refills");

	/* a tier lowered below the bucket's tokens caps them */
	TokenBucketInit(&b, 200, 0);
	r = TokenBucketTake(&b, 60, 10, 0);
	Ok(r.allowed && Near(r.remaining, 9), "a lowered burst caps the tokens");

	/* full again: forgettable */
	TokenBucketInit(&b, 10, 0);
	TokenBucketTake(&b, 60, 10, 0);
	Ok(!TokenBucketIsFull(&b, 60, 10, 500000), "a bucket 0.5 s after a take is not full");
	Ok(TokenBucketIsFull(&b, 60, 10, 1000000), "a bucket 1 s after one take is full again");

	/* tier sanity */
	Ok(TokenBucketValid(60, 10) && !TokenBucketValid(0, 10) && !TokenBucketValid(60, 0.5) &&
	   !TokenBucketValid(NAN, 10) && !TokenBucketValid(INFINITY, 10), "tier validity");

	printf("1..%d\n", test_count);
	return failures ? 1 : 0;
}
