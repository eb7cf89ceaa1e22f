/* unit-sources: src/deploy/ab_stats.c src/common/distributions.c */
/*-------------------------------------------------------------------------
 *
 * test_ab_stats.c
 *	  Unit tests of src/deploy/ab_stats.c (the A/B tests' statistics) and of
 *	  the chi-square survival function of src/common/distributions.c it is
 *	  used with.  Reference values were computed with Debian's
 *	  /usr/bin/python3: scipy 1.10 (stats.t.sf, stats.norm.isf,
 *	  stats.ttest_ind(equal_var=False), stats.chisquare) and statsmodels
 *	  0.13.5 (proportions_ztest, proportion_confint(method='wilson'),
 *	  multipletests(method='holm')).  test/oracle/test_ab_testing.py checks
 *	  the SQL functions against the same libraries on random data.
 *	  Prints TAP; exits non-zero when a check fails.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdarg.h>

#include "common/distributions.h"
#include "deploy/ab_stats.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int	test_no = 0;
static int	failures = 0;

/*
 * Check prints one TAP line.
 */
static void
Check(int cond, const char *fmt,...)
{
	va_list		ap;

	test_no++;
	if (!cond)
		failures++;
	printf("%sok %d - ", cond ? "" : "not ", test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/*
 * Close tells whether got equals want within a relative and an absolute
 * tolerance.
 */
static int
Close(double got, double want, double rel, double abs_tol)
{
	if (isnan(got) || isnan(want))
		return isnan(got) && isnan(want);
	return fabs(got - want) <= abs_tol || fabs(got - want) <= rel * fabs(want);
}

/*
 * SplitMix64 is the test's deterministic 64-bit generator.
 */
static uint64_t
SplitMix64(uint64_t *state)
{
	uint64_t	z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

int
main(void)
{
	static const struct
	{
		double		t,
					df,
					sf;
	}			tcases[] = {
		{0.5, 3, 0.32572398242407552},
		{2.0, 10, 0.036694017385370196},
		{-1.3, 7.5, 0.88393661059219575},
		{5.0, 2.2, 0.015484482844909478},
		{12.0, 40, 3.9120856521279847e-15},
		{0.01, 1000, 0.49601164096609363},
		{3.0, 100000.0, 0.0013502304420323597},
		{40, 30, 6.8630225972031808e-28},
	};
	static const struct
	{
		double		p,
					z;
	}			icases[] = {
		{0.5, 0}, {0.025, 1.9599639845400545}, {0.005, 2.5758293035489008},
		{1e-10, 6.3613409024040557}, {0.3, 0.52440051270804089},
		{0.9, -1.2815515655446004}, {0.99, -2.3263478740408408},
	};
	static const struct
	{
		double		x1,
					n1,
					x0,
					n0,
					z,
					p;
	}			zcases[] = {
		{30, 100, 20, 100, 1.6329931618554518, 0.10247043485974941},
		{3, 17, 1, 25, 1.4788917279618736, 0.13916925453462281},
		{480, 5000, 430, 5100, 2.0508240836705385, 0.040284081298179092},
		{0, 10, 3, 12, -1.7013926184468013, 0.088869286472645748},
	};
	static const struct
	{
		double		x,
					n,
					alpha,
					lo,
					hi;
	}			wcases[] = {
		{30, 100, 0.05, 0.21894885294932756, 0.39584854633346667},
		{0, 7, 0.05, 2.7755575615628914e-17, 0.35433043506668749},
		{7, 7, 0.1, 0.72123730454745782, 1},
		{3, 1000, 0.01, 0.00075810123106146744, 0.011793516682924922},
	};
	static const struct
	{
		double		n1,
					m1,
					v1,
					n0,
					m0,
					v0,
					t,
					p;
	}			wecases[] = {
		{12, 0.24809061471056162, 0.87779255933419165, 30, -1.037761645485572, 6.178492675439899,
		2.433950976983577, 0.019498366895395296},
		{200, 0.31843679426109156, 4.0530940438766132, 150, -0.03469709147203582, 0.2194490658198634,
		2.3956583359111989, 0.017401192122250341},
		{3, 0.61586107382440458, 1.6959842181209814, 4, -0.27876266696680407, 0.25031773556356307,
		1.1289964631933624, 0.35733771018785038},
	};
	double		z,
				p,
				lo,
				hi,
				t,
				df,
				stat;
	int			dof;

	for (size_t i = 0; i < NELEM(tcases); i++)
	{
		double		got = AbStudentTSf(tcases[i].t, tcases[i].df);

		Check(Close(got, tcases[i].sf, 1e-11, 1e-300), "t.sf(%g, %g) %.17g vs %.17g",
			  tcases[i].t, tcases[i].df, got, tcases[i].sf);
	}
	for (size_t i = 0; i < NELEM(icases); i++)
	{
		double		got = AbNormalIsf(icases[i].p);

		Check(Close(got, icases[i].z, 1e-14, 1e-15), "norm.isf(%g) %.17g vs %.17g",
			  icases[i].p, got, icases[i].z);
	}
	Check(isnan(AbNormalIsf(0)) && isnan(AbNormalIsf(1)) && isnan(AbNormalIsf(NAN)),
		  "norm.isf outside (0, 1) is NaN");
	Check(isnan(AbStudentTSf(1, 0)) && isnan(AbStudentTSf(NAN, 3)) && AbStudentTSf(INFINITY, 3) == 0,
		  "t.sf edge cases");
	Check(Close(AbBetaInc(2, 3, 0.4, 0.6), 0.5248, 1e-13, 0), "I_0.4(2, 3) = 0.5248");

	for (size_t i = 0; i < NELEM(zcases); i++)
	{
		int			rc = AbTwoProportionZTest(zcases[i].x1, zcases[i].n1, zcases[i].x0, zcases[i].n0, &z, &p);

		Check(rc == 0 && Close(z, zcases[i].z, 1e-12, 0) && Close(p, zcases[i].p, 1e-11, 0),
			  "proportions_ztest %g/%g vs %g/%g: %.17g %.17g", zcases[i].x1, zcases[i].n1,
			  zcases[i].x0, zcases[i].n0, z, p);
	}
	Check(AbTwoProportionZTest(0, 10, 0, 20, &z, &p) != 0, "z-test with no conversions is undefined");
	Check(AbTwoProportionZTest(10, 10, 5, 5, &z, &p) != 0, "z-test with all converted is undefined");
	Check(AbTwoProportionZTest(1, 0, 1, 5, &z, &p) != 0, "z-test with an empty group is undefined");

	for (size_t i = 0; i < NELEM(wcases); i++)
	{
		int			rc = AbWilsonInterval(wcases[i].x, wcases[i].n, wcases[i].alpha, &lo, &hi);

		Check(rc == 0 && Close(lo, wcases[i].lo, 1e-12, 1e-15) && Close(hi, wcases[i].hi, 1e-12, 1e-15),
			  "wilson %g/%g alpha %g: [%.17g, %.17g]", wcases[i].x, wcases[i].n, wcases[i].alpha, lo, hi);
	}
	Check(AbWilsonInterval(0, 0, 0.05, &lo, &hi) != 0 && AbWilsonInterval(1, 2, 1.0, &lo, &hi) != 0,
		  "wilson refuses n = 0 and alpha = 1");

	for (size_t i = 0; i < NELEM(wecases); i++)
	{
		int			rc = AbWelchTTest(wecases[i].n1, wecases[i].m1, wecases[i].v1,
									  wecases[i].n0, wecases[i].m0, wecases[i].v0, &t, &df, &p);

		Check(rc == 0 && Close(t, wecases[i].t, 1e-12, 0) && Close(p, wecases[i].p, 1e-10, 0),
			  "ttest_ind(equal_var=False) n %g vs %g: %.17g %.17g", wecases[i].n1, wecases[i].n0, t, p);
	}
	Check(AbWelchTTest(1, 0, 0, 5, 0, 1, &t, &df, &p) != 0, "Welch with a group of 1 is undefined");
	Check(AbWelchTTest(5, 1, 0, 5, 0, 0, &t, &df, &p) != 0, "Welch with both variances 0 is undefined");

	{
		double		p1[] = {0.01, 0.04, 0.03},
					a1[3],
					e1[] = {0.03, 0.06, 0.06};
		double		p2[] = {0.5, 0.5, 0.01, 0.2},
					a2[4],
					e2[] = {1, 1, 0.04, 0.6};
		double		p3[] = {0.2, NAN, 0.01},
					a3[3];
		int			good = 1;

		AbHolm(p1, 3, a1);
		AbHolm(p2, 4, a2);
		for (int i = 0; i < 3; i++)
			good &= Close(a1[i], e1[i], 1e-15, 0);
		for (int i = 0; i < 4; i++)
			good &= Close(a2[i], e2[i], 1e-15, 0);
		Check(good, "holm equals multipletests(method='holm'), ties included");
		AbHolm(p3, 3, a3);
		Check(Close(a3[0], 0.2, 1e-15, 0) && isnan(a3[1]) && Close(a3[2], 0.02, 1e-15, 0),
			  "holm leaves NaN out of the family");
	}

	{
		double		o1[] = {510, 490},
					w1[] = {0.5, 0.5};
		double		o2[] = {100, 250, 650},
					w2[] = {0.1, 0.3, 0.6};
		double		o3[] = {0, 20},
					w3[] = {0.5, 0.5};
		double		w4[] = {0.5, 0};

		Check(AbChiSquareGof(o1, w1, 2, &stat, &dof) == 0 && Close(stat, 0.4, 1e-14, 0) && dof == 1 &&
			  Close(MlopsChi2Sf(stat, dof), 0.52708925686553809, 1e-12, 0), "chisquare 510/490");
		Check(AbChiSquareGof(o2, w2, 3, &stat, &dof) == 0 && Close(stat, 12.5, 1e-14, 0) && dof == 2 &&
			  Close(MlopsChi2Sf(stat, dof), 0.0019304541362277095, 1e-12, 0), "chisquare 3 variants");
		Check(AbChiSquareGof(o3, w3, 2, &stat, &dof) == 0 && Close(stat, 20, 1e-14, 0) &&
			  Close(MlopsChi2Sf(stat, dof), 7.7442164310440875e-06, 1e-12, 0), "chisquare with an empty variant");
		Check(AbChiSquareGof(o3, w4, 2, &stat, &dof) != 0, "chisquare refuses a zero weight");
		Check(AbChiSquareGof(o1, w1, 1, &stat, &dof) != 0, "chisquare needs two categories");
	}

	{
		double		w[] = {0.2, 0.0, 0.5, 0.3};
		long		counts[4] = {0, 0, 0, 0};
		uint64_t	state = 42;
		int			n = 100000,
					good = 1;

		for (int i = 0; i < n; i++)
		{
			int			v = AbChooseVariant(SplitMix64(&state), w, 4);

			if (v < 0 || v > 3)
				good = 0;
			else
				counts[v]++;
		}
		for (int i = 0; i < 4; i++)
			good &= fabs((double) counts[i] / n - w[i]) < 0.01;
		Check(good && counts[1] == 0, "choice follows the weights within 1%% (%ld %ld %ld %ld), never weight 0",
			  counts[0], counts[1], counts[2], counts[3]);
		Check(AbChooseVariant(UINT64_MAX, w, 4) == 3 && AbChooseVariant(0, w, 4) == 0,
			  "the extreme hashes pick the first and the last variant");
		Check(AbMix64(UINT64_C(0x9E3779B97F4A7C15)) == UINT64_C(0xE220A8397B1DCDAF),
			  "AbMix64 is SplitMix64's finalizer (first output of seed 0)");
		w[0] = -1;
		Check(AbChooseVariant(1, w, 4) == -1 && AbChooseVariant(1, w, 0) == -1,
			  "choice refuses negative weights and no variants");
	}

	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
