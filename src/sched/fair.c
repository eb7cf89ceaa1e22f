/*
 * fair.c
 *	  Fair launch order of due jobs across owners (pure C).
 *
 * The problem: one database has mlops.max_running_jobs slots.  Without a
 * rule, the first owner to schedule many long jobs takes every slot and the
 * other owners' jobs wait for ever.  Two rules prevent it:
 *
 *   1. an owner never has more than mlops.max_running_jobs_per_owner runs
 *      going at once (per_owner_max here);
 *   2. when more jobs are due than there are free slots, owners take turns:
 *      round-robin, one job per owner per round.  Owners with fewer runs
 *      going come first in a round, then the owner served longest ago, then
 *      the lower role OID (so the order is total and reproducible); each
 *      owner's own jobs go earliest-due first.
 *
 * FairPick only chooses; the scheduler claims the slots (and re-checks both
 * limits under its lock, since workers end concurrently).
 */
#include "sched/fair.h"

#include <stdlib.h>
#include <string.h>

static int	CompareCandidates(const FairCandidate *a, const FairCandidate *b, int ia, int ib);
static void SortIndices(const FairCandidate *cands, int *order, int *tmp, int n);

/*
 * FairPick chooses which of the n due jobs cands to launch, at most
 * free_slots of them and never more than per_owner_max running per owner
 * (counting the runs each owner already has), in round-robin order across
 * owners.  It writes the chosen indices into picked (room for n) in launch
 * order and returns how many; -1 if memory ran out.
 */
int
FairPick(const FairCandidate *cands, int n, int free_slots, int per_owner_max, int *picked)
{
	int		   *order;
	int		   *tmp;
	int		   *group_next;
	int		   *group_end;
	int		   *group_running;
	int			n_groups = 0;
	int			n_picked = 0;
	int			progress = 1;

	if (n <= 0 || free_slots <= 0 || per_owner_max <= 0)
		return 0;
	order = malloc(sizeof(int) * (size_t) n * 5);
	if (order == NULL)
		return -1;
	tmp = order + n;
	group_next = order + 2 * n;
	group_end = order + 3 * n;
	group_running = order + 4 * n;

	for (int i = 0; i < n; i++)
		order[i] = i;
	SortIndices(cands, order, tmp, n);

	/* owners are contiguous in the sorted order: one group each */
	for (int i = 0; i < n; i++)
	{
		if (i == 0 || cands[order[i]].owner != cands[order[i - 1]].owner)
		{
			group_next[n_groups] = i;
			group_running[n_groups] = cands[order[i]].owner_running;
			n_groups++;
		}
		group_end[n_groups - 1] = i + 1;
	}

	/* rounds: each owner in turn gets its earliest-due job, while slots last */
	while (progress && n_picked < free_slots)
	{
		progress = 0;
		for (int g = 0; g < n_groups && n_picked < free_slots; g++)
		{
			if (group_next[g] >= group_end[g] || group_running[g] >= per_owner_max)
				continue;
			picked[n_picked++] = order[group_next[g]++];
			group_running[g]++;
			progress = 1;
		}
	}
	free(order);
	return n_picked;
}

/*
 * CompareCandidates orders candidates by owner priority (fewer runs going,
 * served longer ago, lower OID), then, within an owner, earliest due, then
 * by position (ia, ib) so the sort is stable.
 */
static int
CompareCandidates(const FairCandidate *a, const FairCandidate *b, int ia, int ib)
{
	if (a->owner != b->owner)
	{
		if (a->owner_running != b->owner_running)
			return a->owner_running < b->owner_running ? -1 : 1;
		if (a->owner_served != b->owner_served)
			return a->owner_served < b->owner_served ? -1 : 1;
		return a->owner < b->owner ? -1 : 1;
	}
	if (a->due != b->due)
		return a->due < b->due ? -1 : 1;
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

/*
 * SortIndices sorts order[0..n) by CompareCandidates: a bottom-up merge sort
 * (O(n log n), no recursion) with tmp as scratch space.
 */
static void
SortIndices(const FairCandidate *cands, int *order, int *tmp, int n)
{
	for (int width = 1; width < n; width *= 2)
	{
		for (int lo = 0; lo < n; lo += 2 * width)
		{
			int			mid = lo + width < n ? lo + width : n;
			int			hi = lo + 2 * width < n ? lo + 2 * width : n;
			int			i = lo,
						j = mid,
						k = lo;

			while (i < mid && j < hi)
			{
				if (CompareCandidates(&cands[order[j]], &cands[order[i]], order[j], order[i]) < 0)
					tmp[k++] = order[j++];
				else
					tmp[k++] = order[i++];
			}
			while (i < mid)
				tmp[k++] = order[i++];
			while (j < hi)
				tmp[k++] = order[j++];
		}
		memcpy(order, tmp, sizeof(int) * (size_t) n);
	}
}
