/*-------------------------------------------------------------------------
 *
 * histograms.c
 *	  The distributions a drift check compared, as JSON, for pictures
 *	  (mlops.drift_report calls mlops._detect_drift_distributions, which
 *	  returns detect_drift's result and these, from the same single read of
 *	  the source).
 *
 * Per column: for numbers, counts of both samples on shared bins, `bins`
 * equal-width bins over the range of both samples when the reference kept
 * its values, the reference's training-histogram bins for a model
 * reference (values outside them counted in the end bins); for categories,
 * the counts of every category of both samples.  Bin i holds
 * edges[i] <= x < edges[i + 1], the last bin is closed (numpy.histogram).
 * The reference's values are sorted, and so are the current ones when a
 * check needed them sorted (ks, wasserstein): those are counted by one
 * binary search per edge, not one per value.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/float.h"
#include "utils/json.h"

#include "drift/drift.h"

static void AppendCounts(StringInfo out, const char *key, const double *v, int n);
static void AppendNumeric(StringInfo out, DriftColumn *c, int bins);

/*
 * AppendCounts appends `"key": [v0, v1, ...]` (finite numbers in their
 * shortest exact form, which reads back as the same double).
 */
static void
AppendCounts(StringInfo out, const char *key, const double *v, int n)
{
	appendStringInfo(out, "\"%s\": [", key);
	for (int i = 0; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (i > 0)
			appendStringInfoChar(out, ',');
		appendStringInfoString(out, isfinite(v[i]) ? float8out_internal(v[i]) : "null");
	}
	appendStringInfoChar(out, ']');
}

/*
 * AppendNumeric appends a numeric column's shared bins and both samples'
 * counts in them, or an empty object when neither sample has a value.
 */
static void
AppendNumeric(StringInfo out, DriftColumn *c, int bins)
{
	double	   *edges;
	double	   *ref;
	double	   *cur;
	int			nb;

	if (c->ref_values != NULL)
	{
		double		lo,
					hi,
					h;

		if (c->nref_values == 0 && c->ncur == 0)
		{
			appendStringInfoString(out, "{}");
			return;
		}
		lo = c->nref_values > 0 ? c->ref_values[0] : c->cur_values[0];
		hi = c->nref_values > 0 ? c->ref_values[c->nref_values - 1] : c->cur_values[0];
		if (c->sort_current && c->ncur > 0)
		{
			lo = Min(lo, c->cur_values[0]);
			hi = Max(hi, c->cur_values[c->ncur - 1]);
		}
		else
		{
			for (int i = 0; i < c->ncur; i++)
			{
				if ((i & 0xFFFF) == 0)
					CHECK_FOR_INTERRUPTS();
				lo = Min(lo, c->cur_values[i]);
				hi = Max(hi, c->cur_values[i]);
			}
		}
		nb = lo < hi ? bins : 1;
		h = hi / 2 - lo / 2;	/* halves: hi - lo may overflow */
		edges = palloc(sizeof(double) * (nb + 1));
		for (int i = 0; i <= nb; i++)
			edges[i] = i == nb ? hi : (lo / 2 + h * i / nb) * 2;
		ref = palloc(sizeof(double) * nb);
		StatsCountSortedIntoBins(c->ref_values, (size_t) c->nref_values, edges + 1, nb, ref);
	}
	else if (c->edges != NULL && c->edge_counts != NULL && c->nedges >= 2)
	{
		nb = c->nedges - 1;
		edges = c->edges;
		ref = c->edge_counts;
	}
	else
	{
		appendStringInfoString(out, "{}");
		return;
	}
	cur = palloc(sizeof(double) * nb);
	if (c->sort_current)
		StatsCountSortedIntoBins(c->cur_values, (size_t) c->ncur, edges + 1, nb, cur);
	else
		StatsCountIntoBins(c->cur_values, (size_t) c->ncur, edges + 1, nb, cur);
	appendStringInfoChar(out, '{');
	AppendCounts(out, "edges", edges, nb + 1);
	appendStringInfoString(out, ", ");
	AppendCounts(out, "reference", ref, nb);
	appendStringInfoString(out, ", ");
	AppendCounts(out, "current", cur, nb);
	appendStringInfoChar(out, '}');
	pfree(cur);
}

/*
 * DriftDistributions returns the JSON object of the distributions of the
 * checked columns, keyed by column name (see the file header); bins is the
 * number of equal-width bins of a numeric column whose reference kept its
 * values (1 when all values are equal).
 */
char *
DriftDistributions(DriftColumn *cols, int ncols, int bins)
{
	StringInfoData out;

	initStringInfo(&out);
	appendStringInfoChar(&out, '{');
	for (int i = 0; i < ncols; i++)
	{
		DriftColumn *c = &cols[i];

		CHECK_FOR_INTERRUPTS();
		if (i > 0)
			appendStringInfoString(&out, ", ");
		escape_json(&out, c->name);
		appendStringInfoString(&out, ": ");
		if (c->kind == KIND_NUMERIC)
		{
			AppendNumeric(&out, c, bins);
			continue;
		}
		appendStringInfoString(&out, "{\"categories\": [");
		for (int j = 0; j < c->cats.n; j++)
		{
			if ((j & 0xFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			if (j > 0)
				appendStringInfoChar(&out, ',');
			escape_json(&out, c->cats.names[j]);
		}
		appendStringInfoString(&out, "], ");
		AppendCounts(&out, "reference", c->cats.ref_counts, c->cats.n);
		appendStringInfoString(&out, ", ");
		AppendCounts(&out, "current", c->cats.cur_counts, c->cats.n);
		appendStringInfoChar(&out, '}');
	}
	appendStringInfoChar(&out, '}');
	return out.data;
}
