/*-------------------------------------------------------------------------
 *
 * token_bucket.h
 *	  A pure token bucket (no PostgreSQL headers): the rate limiter of the
 *	  HTTP service, unit-tested with an injected clock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_TOKEN_BUCKET_H
#define MLOPS_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

/* a bucket's state; a new bucket has tokens = burst */
typedef struct TokenBucket
{
	double		tokens;
	int64_t		last_us;		/* time of the last refill, microseconds */
} TokenBucket;

/* what one take said: allowed, tokens left, seconds until one is back */
typedef struct TokenBucketResult
{
	bool		allowed;
	double		remaining;
	double		retry_after_s;	/* 0 when allowed */
	double		reset_s;		/* seconds until the bucket is full again */
} TokenBucketResult;

extern void TokenBucketInit(TokenBucket *b, double burst, int64_t now_us);
extern bool TokenBucketValid(double per_minute, double burst);
extern TokenBucketResult TokenBucketTake(TokenBucket *b, double per_minute, double burst,
										 int64_t now_us);
extern bool TokenBucketIsFull(const TokenBucket *b, double per_minute, double burst,
							  int64_t now_us);

#endif							/* MLOPS_TOKEN_BUCKET_H */
