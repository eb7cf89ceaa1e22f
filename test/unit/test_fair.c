/* unit-sources: src/sched/fair.c */
/*
 * test_fair.c
 *	  Unit tests of the fair launch order of due jobs (src/sched/fair.c): the
 *	  per-owner limit, round-robin across owners, who goes first in a round,
 *	  earliest-due first within an owner.  The expected orders are worked out
 *	  by hand from the rules in fair.c's header.  Prints TAP.
 */
#include "sched/fair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * ExpectPick runs FairPick and compares the chosen indices with expected
 * (n_expected of them), printing both on a mismatch.
 */
static void
ExpectPick(const char *what, const FairCandidate *cands, int n, int free_slots, int per_owner,
		   const int *expected, int n_expected)
{
	int			picked[64];
	int			got = FairPick(cands, n, free_slots, per_owner, picked);
	int			same = got == n_expected;

	for (int i = 0; same && i < got; i++)
		same = picked[i] == expected[i];
	Ok(same, what);
	if (!same)
	{
		printf("#   got %d:", got);
		for (int i = 0; i < got; i++)
			printf(" %d", picked[i]);
		printf("\n#   expected %d:", n_expected);
		for (int i = 0; i < n_expected; i++)
			printf(" %d", expected[i]);
		printf("\n");
	}
}

/*
 * TestLimits checks the per-owner limit and the free slots.
 */
static void
TestLimits(void)
{
	/* one owner (10), five due jobs, due out of order */
	FairCandidate one[] = {{10, 0, 0, 50}, {10, 0, 0, 10}, {10, 0, 0, 40}, {10, 0, 0, 20}, {10, 0, 0, 30}};
	int			e1[] = {1, 3};
	int			e2[] = {1, 3, 4, 2};
	/* owner 10 already runs 2 (its limit): only owner 20's job goes */
	FairCandidate hog[] = {{10, 2, 5, 1}, {10, 2, 5, 2}, {20, 0, 0, 3}};
	int			e3[] = {2};
	/* owner 10 runs 1 of its 2: one more of its jobs, and owner 20's */
	FairCandidate hog2[] = {{10, 1, 5, 1}, {10, 1, 5, 2}, {20, 0, 0, 3}};
	int			e4[] = {2, 0};

	ExpectPick("one owner: at most per_owner_max, earliest due first", one, 5, 4, 2, e1, 2);
	ExpectPick("one owner: limited by the free slots", one, 5, 4, 10, e2, 4);
	ExpectPick("an owner at its limit gets nothing; another owner's job goes", hog, 3, 4, 2, e3, 1);
	ExpectPick("runs already going count towards the owner's limit", hog2, 3, 4, 2, e4, 2);
	ExpectPick("no free slot: nothing", one, 5, 0, 2, NULL, 0);
	ExpectPick("no candidates: nothing", one, 0, 4, 2, NULL, 0);
	ExpectPick("a limit of zero: nothing", one, 5, 4, 0, NULL, 0);
}

/*
 * TestRoundRobin checks that owners take turns, and who goes first.
 */
static void
TestRoundRobin(void)
{
	/* owners 30, 10, 20 with 3, 3 and 1 due jobs, never served, none running */
	FairCandidate rr[] = {
		{30, 0, 0, 1}, {10, 0, 0, 5}, {30, 0, 0, 2}, {20, 0, 0, 9},
		{10, 0, 0, 4}, {30, 0, 0, 3}, {10, 0, 0, 6}
	};
	int			e1[] = {4, 3, 0, 1, 2};
	int			e2[] = {4, 3, 0, 1, 2, 6, 5};
	/* served: owner 10 last served at 7, owner 20 at 3: owner 20 first */
	FairCandidate served[] = {{10, 0, 7, 1}, {20, 0, 3, 2}, {10, 0, 7, 3}};
	int			e3[] = {1, 0};
	/* fewer runs going beats served longer ago */
	FairCandidate running[] = {{10, 1, 1, 1}, {20, 0, 9, 2}};
	int			e4[] = {1, 0};
	/* equal due times keep their given order */
	FairCandidate ties[] = {{10, 0, 0, 5}, {10, 0, 0, 5}, {10, 0, 0, 5}};
	int			e5[] = {0, 1, 2};

	ExpectPick("round-robin: one job per owner per round, lower OID first", rr, 7, 5, 10, e1, 5);
	ExpectPick("round-robin until every due job is placed", rr, 7, 10, 10, e2, 7);
	ExpectPick("the owner served longest ago goes first", served, 3, 2, 10, e3, 2);
	ExpectPick("the owner with fewer runs going goes first", running, 2, 1, 10, e4, 1);
	ExpectPick("jobs due at the same time keep their order", ties, 3, 3, 3, e5, 3);
}

/*
 * TestMany checks the limits on many candidates: every owner gets its
 * share, nobody more than the limit, no job twice.
 */
static void
TestMany(void)
{
	int			n = 20000;
	FairCandidate *cands = malloc(sizeof(FairCandidate) * n);
	int		   *picked = malloc(sizeof(int) * n);
	int			per_owner[100];
	char	   *seen = calloc(n, 1);
	int			got;
	int			ok_limit = 1;
	int			ok_unique = 1;
	int			ok_share = 1;

	memset(per_owner, 0, sizeof(per_owner));
	for (int i = 0; i < n; i++)
	{
		/* owner 1 has most of the jobs, as a hog would */
		cands[i].owner = i % 2 == 0 ? 1 : (uint32_t) (i % 100);
		cands[i].owner_running = 0;
		cands[i].owner_served = 0;
		cands[i].due = (int64_t) (n - i);
	}
	got = FairPick(cands, n, 150, 3, picked);
	for (int i = 0; i < got; i++)
	{
		if (seen[picked[i]])
			ok_unique = 0;
		seen[picked[i]] = 1;
		per_owner[cands[picked[i]].owner]++;
	}
	for (int o = 1; o < 100; o += 2)
	{
		if (per_owner[o] > 3)
			ok_limit = 0;
		if (per_owner[o] != 3)
			ok_share = 0;
	}
	Ok(got == 150, "20000 due jobs, 150 free slots: 150 launched");
	Ok(ok_unique, "no job is picked twice");
	Ok(ok_limit && per_owner[1] == 3, "no owner above its limit, the hog included");
	Ok(ok_share, "every owner with due jobs gets its share");
	free(cands);
	free(picked);
	free(seen);
}

int
main(void)
{
	TestLimits();
	TestRoundRobin();
	TestMany();
	printf("1..%d\n", test_count);
	return failures == 0 ? 0 : 1;
}
