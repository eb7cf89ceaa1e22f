/*
 * fair.h
 *	  Which due jobs to launch when there are not slots for all of them
 *	  (pure C, no PostgreSQL headers; unit-tested by test/unit/test_fair.c).
 *
 * The scheduler hands FairPick the due jobs of its database with, for each,
 * its owner, how many runs that owner has going and when that owner was last
 * served; FairPick answers which of them to launch, in order, within the
 * free slots of the database and the per-owner limit.
 */
#ifndef MLOPS_FAIR_H
#define MLOPS_FAIR_H

#include <stdint.h>

/* one due job */
typedef struct FairCandidate
{
	uint32_t	owner;			/* the job's owner (a role OID) */
	int			owner_running;	/* runs of that owner going now */
	uint64_t	owner_served;	/* when the owner last had a run launched (0: never) */
	int64_t		due;			/* when the job became due: earlier first */
} FairCandidate;

extern int	FairPick(const FairCandidate *cands, int n, int free_slots, int per_owner_max,
					 int *picked);

#endif							/* MLOPS_FAIR_H */
