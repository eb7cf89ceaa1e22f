/*-------------------------------------------------------------------------
 *
 * token_bucket.c
 *	  A token bucket: `burst` tokens at most, refilled continuously at
 *	  `per_minute` / 60 tokens a second; a request takes one token or is
 *	  refused with the time until one is back.  Pure C (no PostgreSQL
 *	  headers, the clock is an argument), so test/unit/test_token_bucket.c
 *	  checks it deterministically.  A clock that goes backwards refills
 *	  nothing (and never removes tokens).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "http/token_bucket.h"

/*
 * TokenBucketInit starts a full bucket at now_us.
 */
void
TokenBucketInit(TokenBucket *b, double burst, int64_t now_us)
{
	b->tokens = burst;
	b->last_us = now_us;
}

/*
 * TokenBucketValid says whether a tier's numbers are usable: a finite rate
 * above 0 and a burst of at least 1 token.
 */
bool
TokenBucketValid(double per_minute, double burst)
{
	return isfinite(per_minute) && per_minute > 0 && isfinite(burst) && burst >= 1;
}

/*
 * Refill adds the tokens earned since the last refill, capped at burst.
 */
static void
Refill(TokenBucket *b, double per_minute, double burst, int64_t now_us)
{
	if (now_us > b->last_us)
	{
		double		earned = (double) (now_us - b->last_us) / 1e6 * per_minute / 60.0;

		b->tokens = fmin(burst, b->tokens + earned);
		b->last_us = now_us;
	}
	if (b->tokens > burst)
		b->tokens = burst;		/* the tier shrank */
}

/*
 * TokenBucketTake refills the bucket and takes one token if there is one.
 */
TokenBucketResult
TokenBucketTake(TokenBucket *b, double per_minute, double burst, int64_t now_us)
{
	TokenBucketResult r;
	double		rate_s = per_minute / 60.0;

	Refill(b, per_minute, burst, now_us);
	r.allowed = b->tokens >= 1.0;
	if (r.allowed)
		b->tokens -= 1.0;
	r.remaining = floor(b->tokens);
	r.retry_after_s = r.allowed ? 0.0 : (1.0 - b->tokens) / rate_s;
	r.reset_s = (burst - b->tokens) / rate_s;
	return r;
}

/*
 * TokenBucketIsFull says whether the bucket would be full at now_us: such a
 * bucket is indistinguishable from a new one, so it may be forgotten.
 */
bool
TokenBucketIsFull(const TokenBucket *b, double per_minute, double burst, int64_t now_us)
{
	TokenBucket copy = *b;

	Refill(&copy, per_minute, burst, now_us);
	return copy.tokens >= burst;
}
