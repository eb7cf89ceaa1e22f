/*-------------------------------------------------------------------------
 *
 * drift_report.c
 *	  mlops.drift_report: detect_drift's verdict as a picture, like
 *	  Evidently's data-drift report.
 *
 * Data flow: (a) call mlops._detect_drift_distributions through SPI as the
 * caller: it is detect_drift (the numbers are exactly its numbers, its
 * checks are recorded and its rules, the reference's owner and the source
 * read as the caller, apply unchanged) and returns with its result the
 * distributions it compared, counted during its single read of the source;
 * (b) flatten the result with SQL into one row per column and method;
 * (c) read each column's kind and position in the reference as the
 * extension owner (detect_drift has just checked that the caller may use
 * the reference); (d) put the distributions on the report's shared bins:
 * 20 equal-width bins over the range of both samples for a reference that
 * kept its values, the reference's own training-histogram bins for a model
 * reference (values outside them counted in the end bins), both counted
 * by detect_drift, and for categories the 20 most frequent ones of both
 * samples plus "other";
 * (e) render: drifted columns first, charts for the first 50 drifted and
 * the first 50 non-drifted columns, the rest listed in collapsed
 * sections, or emit the data as JSON.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "common/common.h"
#include "report/report.h"

PG_FUNCTION_INFO_V1(mlops_drift_report);

#define DRIFT_BINS 20
#define DRIFT_TOP_CATEGORIES 20
#define DRIFT_SHOWN 50
#define DRIFT_MAX_CHECKS 8

typedef struct DriftCheckRow
{
	char	   *method;
	double		value;			/* the statistic */
	double		p_value;		/* NaN when the method has none */
	double		threshold;
	bool		drift;
} DriftCheckRow;

typedef struct CategoryCount
{
	char	   *key;			/* hash key: the category */
	double		current;
	double		reference;
} CategoryCount;

typedef struct ReportColumn
{
	char	   *name;
	int			ordinal;
	bool		categorical;
	bool		drift;
	int			nchecks;
	DriftCheckRow checks[DRIFT_MAX_CHECKS];
	int64		ref_count;
	int64		cur_count;
	int64		dropped;
	/* the shared bins */
	int			nbins;
	char	  **labels;
	double	   *ref_share;
	double	   *cur_share;
	double	   *edges;			/* numeric: nbins + 1 */
} ReportColumn;

typedef struct DriftReportData
{
	char	   *name;
	char	   *result;			/* detect_drift's jsonb, as text */
	int64		rows;
	bool		drift_detected;
	int			ncols;
	ReportColumn *cols;
	int			ndrifted;
	MemoryContext cxt;			/* the caller's context, outside SPI */
} DriftReportData;

static void CollectChecks(DriftReportData *d, Datum result);
static void ReadKinds(DriftReportData *d);
static void ReadDistributions(DriftReportData *d, Datum dist);
static void NumericBins(ReportColumn *c, ArrayType *edges, ArrayType *ref, ArrayType *cur);
static void CategoryBins(ReportColumn *c, ArrayType *cats, ArrayType *ref, ArrayType *cur);
static int	CompareColumns(const void *a, const void *b);
static int	CompareCategories(const void *a, const void *b);
static void RenderHtml(StringInfo buf, DriftReportData *d);
static void RenderColumnCard(StringInfo buf, ReportColumn *c);
static void RenderChecksTable(StringInfo buf, ReportColumn *cols, int n);
static void RenderGroup(StringInfo buf, ReportColumn *cols, int n, const char *heading, const char *what);
static void JsonArray(StringInfo buf, const double *v, int n);
static void RenderJson(StringInfo buf, DriftReportData *d);
static double *FloatArray(ArrayType *a, int *n);

/*
 * mlops_drift_report implements mlops.drift_report(name, source, methods,
 * columns, format): detect_drift's result as an HTML report, or its data
 * as JSON.
 */
Datum
mlops_drift_report(PG_FUNCTION_ARGS)
{
	DriftReportData d;
	bool		json = ReportWantJson(PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4));
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	StringInfoData buf;
	Datum		result;
	Datum		dist;
	bool		isnull;
	bool		isnull2;

	MlopsRequireCurrentSchema("mlops.drift_report");
	for (int i = 0; i < 4; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	memset(&d, 0, sizeof(d));
	d.cxt = CurrentMemoryContext;
	d.name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* (a) the checks themselves, as the caller: recorded and audited */
	if (SPI_execute_with_args("SELECT r OPERATOR(pg_catalog.->) 'result', r OPERATOR(pg_catalog.->) 'distributions' "
							  "FROM mlops._detect_drift_distributions($1, $2, $3, $4, " CppAsString2(DRIFT_BINS) ") r",
							  4, types, values, nulls, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not run mlops.detect_drift");
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	dist = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull2);
	if (isnull || isnull2)
		elog(ERROR, "mlops.detect_drift returned null");
	result = SPI_datumTransfer(result, false, -1);
	dist = SPI_datumTransfer(dist, false, -1);
	CollectChecks(&d, result);
	ReadKinds(&d);
	ReadDistributions(&d, dist);
	SPI_finish();

	qsort(d.cols, d.ncols, sizeof(ReportColumn), CompareColumns);
	initStringInfo(&buf);
	if (json)
		RenderJson(&buf, &d);
	else
		RenderHtml(&buf, &d);
	PG_RETURN_TEXT_P(ReportResult(&buf));
}

/*
 * CollectChecks flattens detect_drift's result: the summary, one
 * ReportColumn per checked column with its checks and counts.
 */
static void
CollectChecks(DriftReportData *d, Datum result)
{
	Oid			types[1] = {JSONBOID};
	Datum		values[1] = {result};
	MemoryContext upper = d->cxt;
	MemoryContext old;
	bool		isnull;

	if (SPI_execute_with_args("SELECT $1::pg_catalog.text, ($1 OPERATOR(pg_catalog.->>) 'rows')::pg_catalog.int8, "
							  "($1 OPERATOR(pg_catalog.->>) 'drift_detected')::pg_catalog.bool",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the drift result");
	old = MemoryContextSwitchTo(upper);
	d->result = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	d->rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	d->drift_detected = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	MemoryContextSwitchTo(old);

	if (SPI_execute_with_args("SELECT c.key, m.key, "
							  "COALESCE(m.value OPERATOR(pg_catalog.->>) 'value', m.value OPERATOR(pg_catalog.->>) 'statistic')::pg_catalog.float8, "
							  "(m.value OPERATOR(pg_catalog.->>) 'p_value')::pg_catalog.float8, "
							  "(m.value OPERATOR(pg_catalog.->>) 'threshold')::pg_catalog.float8, "
							  "(m.value OPERATOR(pg_catalog.->>) 'drift')::pg_catalog.bool, "
							  "(n.value OPERATOR(pg_catalog.->>) 'reference')::pg_catalog.int8, "
							  "(n.value OPERATOR(pg_catalog.->>) 'current')::pg_catalog.int8, "
							  "(n.value OPERATOR(pg_catalog.->>) 'dropped')::pg_catalog.int8 "
							  "FROM pg_catalog.jsonb_each($1 OPERATOR(pg_catalog.->) 'columns') c "
							  "CROSS JOIN LATERAL pg_catalog.jsonb_each(c.value) m "
							  "LEFT JOIN pg_catalog.jsonb_each($1 OPERATOR(pg_catalog.->) 'counts') n ON n.key OPERATOR(pg_catalog.=) c.key "
							  "ORDER BY c.key, m.key",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the drift result");
	old = MemoryContextSwitchTo(upper);
	d->cols = palloc0(sizeof(ReportColumn) * Max(SPI_processed, 1));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	t = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		char	   *col = SPI_getvalue(t, td, 1);
		ReportColumn *c = d->ncols > 0 ? &d->cols[d->ncols - 1] : NULL;
		DriftCheckRow *k;
		Datum		v;

		CHECK_FOR_INTERRUPTS();
		if (c == NULL || strcmp(c->name, col) != 0)
		{
			c = &d->cols[d->ncols++];
			c->name = col;
			v = SPI_getbinval(t, td, 7, &isnull);
			c->ref_count = isnull ? 0 : DatumGetInt64(v);
			v = SPI_getbinval(t, td, 8, &isnull);
			c->cur_count = isnull ? 0 : DatumGetInt64(v);
			v = SPI_getbinval(t, td, 9, &isnull);
			c->dropped = isnull ? 0 : DatumGetInt64(v);
		}
		if (c->nchecks >= DRIFT_MAX_CHECKS)
			continue;
		k = &c->checks[c->nchecks++];
		k->method = SPI_getvalue(t, td, 2);
		v = SPI_getbinval(t, td, 3, &isnull);
		k->value = isnull ? NAN : DatumGetFloat8(v);
		v = SPI_getbinval(t, td, 4, &isnull);
		k->p_value = isnull ? NAN : DatumGetFloat8(v);
		v = SPI_getbinval(t, td, 5, &isnull);
		k->threshold = isnull ? NAN : DatumGetFloat8(v);
		v = SPI_getbinval(t, td, 6, &isnull);
		k->drift = !isnull && DatumGetBool(v);
		if (k->drift && !c->drift)
		{
			c->drift = true;
			d->ndrifted++;
		}
	}
	MemoryContextSwitchTo(old);
}

/*
 * ReadKinds reads, as the extension owner, each checked column's kind and
 * position in the reference.
 */
static void
ReadKinds(DriftReportData *d)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	MlopsOwnerSave save;
	int			rc;

	values[0] = CStringGetTextDatum(d->name);
	MlopsBeginOwner(&save);
	rc = SPI_execute_with_args("SELECT column_name, ordinal, kind OPERATOR(pg_catalog.=) 'categorical' "
							   "FROM mlops.drift_reference_columns WHERE reference_name OPERATOR(pg_catalog.=) $1",
							   1, types, values, NULL, true, 0);
	MlopsEndOwner(&save);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the drift reference");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		char	   *col = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		bool		isnull;

		for (int i = 0; i < d->ncols; i++)
		{
			if (strcmp(d->cols[i].name, col) != 0)
				continue;
			d->cols[i].ordinal = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
			d->cols[i].categorical = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3, &isnull));
		}
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * ReadDistributions puts each column's distributions, as
 * _detect_drift_distributions counted them, on the report's shared bins.
 */
static void
ReadDistributions(DriftReportData *d, Datum dist)
{
	Oid			types[1] = {JSONBOID};
	Datum		values[1] = {dist};
	MemoryContext old;

	if (SPI_execute_with_args("SELECT c.key, "
							  "ARRAY(SELECT e.v::pg_catalog.float8 FROM pg_catalog.jsonb_array_elements_text(c.value OPERATOR(pg_catalog.->) 'edges') WITH ORDINALITY e (v, i) ORDER BY e.i), "
							  "ARRAY(SELECT e.v FROM pg_catalog.jsonb_array_elements_text(c.value OPERATOR(pg_catalog.->) 'categories') WITH ORDINALITY e (v, i) ORDER BY e.i), "
							  "ARRAY(SELECT e.v::pg_catalog.float8 FROM pg_catalog.jsonb_array_elements_text(c.value OPERATOR(pg_catalog.->) 'reference') WITH ORDINALITY e (v, i) ORDER BY e.i), "
							  "ARRAY(SELECT e.v::pg_catalog.float8 FROM pg_catalog.jsonb_array_elements_text(c.value OPERATOR(pg_catalog.->) 'current') WITH ORDINALITY e (v, i) ORDER BY e.i) "
							  "FROM pg_catalog.jsonb_each($1) c",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the drift distributions");
	old = MemoryContextSwitchTo(d->cxt);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	t = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		char	   *col = SPI_getvalue(t, td, 1);
		bool		n2,
					n3,
					n4,
					n5;
		Datum		edges = SPI_getbinval(t, td, 2, &n2);
		Datum		cats = SPI_getbinval(t, td, 3, &n3);
		Datum		ref = SPI_getbinval(t, td, 4, &n4);
		Datum		cur = SPI_getbinval(t, td, 5, &n5);

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < d->ncols; i++)
		{
			ReportColumn *c = &d->cols[i];

			if (strcmp(c->name, col) != 0 || n2 || n3 || n4 || n5)
				continue;
			if (c->categorical)
				CategoryBins(c, DatumGetArrayTypeP(cats), DatumGetArrayTypeP(ref), DatumGetArrayTypeP(cur));
			else
				NumericBins(c, DatumGetArrayTypeP(edges), DatumGetArrayTypeP(ref), DatumGetArrayTypeP(cur));
		}
	}
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
}

/* FloatArray returns the elements of a float8[] without nulls. */
static double *
FloatArray(ArrayType *a, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	double	   *out;
	int			k = 0;

	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &count);
	out = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * Max(count, 1));
	for (int i = 0; i < count; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!nulls[i])
			out[k++] = DatumGetFloat8(elems[i]);
	}
	pfree(elems);
	pfree(nulls);
	*n = k;
	return out;
}

/*
 * NumericBins turns a numeric column's counts on shared bins (edges, one
 * more than counts) into shares and bin labels.
 */
static void
NumericBins(ReportColumn *c, ArrayType *edges, ArrayType *ref, ArrayType *cur)
{
	int			ne,
				nr,
				nc;
	double		ref_total = 0,
				cur_total = 0;

	c->edges = FloatArray(edges, &ne);
	c->ref_share = FloatArray(ref, &nr);
	c->cur_share = FloatArray(cur, &nc);
	if (ne < 2 || nr != ne - 1 || nc != ne - 1)
	{
		c->nbins = 0;
		return;
	}
	c->nbins = nr;
	for (int i = 0; i < c->nbins; i++)
	{
		ref_total += c->ref_share[i];
		cur_total += c->cur_share[i];
	}
	c->labels = palloc(sizeof(char *) * c->nbins);
	for (int i = 0; i < c->nbins; i++)
	{
		c->labels[i] = psprintf("%.4g \xe2\x80\x93 %.4g", c->edges[i], c->edges[i + 1]);
		c->ref_share[i] = ref_total > 0 ? c->ref_share[i] / ref_total : 0;
		c->cur_share[i] = cur_total > 0 ? c->cur_share[i] / cur_total : 0;
	}
}

/* CompareCategories orders categories by combined share, then by name. */
static int
CompareCategories(const void *a, const void *b)
{
	const CategoryCount *x = (const CategoryCount *) a;
	const CategoryCount *y = (const CategoryCount *) b;
	double		sx = x->reference + x->current;
	double		sy = y->reference + y->current;

	if (sx != sy)
		return sx > sy ? -1 : 1;
	return strcmp(x->key, y->key);
}

/*
 * CategoryBins puts a categorical column's category counts on shared
 * categories: the most frequent ones of both samples (by share), then
 * "other".
 */
static void
CategoryBins(ReportColumn *c, ArrayType *cats, ArrayType *ref, ArrayType *cur)
{
	Datum	   *names;
	bool	   *nulls;
	int			n,
				nr,
				nc;
	double	   *rc = FloatArray(ref, &nr);
	double	   *cc = FloatArray(cur, &nc);
	double		ref_total = 0,
				cur_total = 0;
	CategoryCount *all;
	int			k = 0;

	deconstruct_array(cats, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &n);
	if (nr != n || nc != n)
		return;
	all = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(CategoryCount) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			continue;
		all[k].key = TextDatumGetCString(names[i]);
		all[k].reference = rc[i];
		all[k].current = cc[i];
		ref_total += rc[i];
		cur_total += cc[i];
		k++;
	}
	/* shares, so both samples weigh the same in the order */
	for (int i = 0; i < k; i++)
	{
		all[i].reference = ref_total > 0 ? all[i].reference / ref_total : 0;
		all[i].current = cur_total > 0 ? all[i].current / cur_total : 0;
	}
	qsort(all, k, sizeof(CategoryCount), CompareCategories);
	c->nbins = Min(k, DRIFT_TOP_CATEGORIES + (k > DRIFT_TOP_CATEGORIES + 1 ? 1 : 0));
	c->labels = palloc(sizeof(char *) * Max(c->nbins, 1));
	c->ref_share = palloc0(sizeof(double) * Max(c->nbins, 1));
	c->cur_share = palloc0(sizeof(double) * Max(c->nbins, 1));
	for (int i = 0; i < k; i++)
	{
		int			b = i < c->nbins ? i : c->nbins - 1;

		if (i < c->nbins - 1 || k <= c->nbins)
			c->labels[b] = all[i].key;
		else if (i == c->nbins - 1)
			c->labels[b] = psprintf("other (%d categories)", k - c->nbins + 1);
		c->ref_share[b] += all[i].reference;
		c->cur_share[b] += all[i].current;
	}
}

/* CompareColumns orders drifted columns first, then by reference position. */
static int
CompareColumns(const void *a, const void *b)
{
	const ReportColumn *x = (const ReportColumn *) a;
	const ReportColumn *y = (const ReportColumn *) b;

	if (x->drift != y->drift)
		return x->drift ? -1 : 1;
	if (x->ordinal != y->ordinal)
		return x->ordinal < y->ordinal ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * RenderChecksTable writes one table row per check of n columns: column,
 * type, method, statistic, p-value, threshold, verdict.
 */
static void
RenderChecksTable(StringInfo buf, ReportColumn *cols, int n)
{
	if (n == 0)
		return;
	appendStringInfoString(buf, "<table class=\"checks\"><thead><tr><th>column</th><th>type</th><th>method</th>"
						   "<th>statistic</th><th>p-value</th><th>threshold</th><th>verdict</th></tr></thead><tbody>\n");
	for (int i = 0; i < n; i++)
	{
		ReportColumn *c = &cols[i];

		CHECK_FOR_INTERRUPTS();
		for (int k = 0; k < c->nchecks; k++)
		{
			DriftCheckRow *ch = &c->checks[k];

			appendStringInfoString(buf, "<tr><td>");
			ReportText(buf, c->name);
			appendStringInfo(buf, "</td><td>%s</td><td>", c->categorical ? "categorical" : "numeric");
			ReportText(buf, ch->method);
			appendStringInfoString(buf, "</td><td class=\"num\">");
			ReportNumber(buf, ch->value);
			appendStringInfoString(buf, "</td><td class=\"num\">");
			if (!isnan(ch->p_value))
				ReportNumber(buf, ch->p_value);
			appendStringInfoString(buf, "</td><td class=\"num\">");
			ReportNumber(buf, ch->threshold);
			appendStringInfo(buf, "</td><td class=\"%s\">%s</td></tr>\n",
							 ch->drift ? "drift" : "ok", ch->drift ? "drift" : "no drift");
		}
	}
	appendStringInfoString(buf, "</tbody></table>\n");
}

/*
 * RenderColumnCard writes one column's card: its verdict and both
 * distributions on shared bins.
 */
static void
RenderColumnCard(StringInfo buf, ReportColumn *c)
{
	ReportSeries s[2];
	ReportAxes	a;
	double		ymax = 0;
	StringInfoData title;

	appendStringInfoString(buf, "<div class=\"card\"><h3>");
	ReportText(buf, c->name);
	appendStringInfo(buf, " <span class=\"%s\">%s</span></h3>", c->drift ? "drift" : "ok",
					 c->drift ? "drift detected" : "no drift");
	appendStringInfo(buf, "<p class=\"muted\">%s; reference %lld values, current %lld values, %lld dropped</p>",
					 c->categorical ? "categorical" : "numeric", (long long) c->ref_count,
					 (long long) c->cur_count, (long long) c->dropped);
	if (c->nbins == 0)
	{
		appendStringInfoString(buf, "<p class=\"muted\">No values to draw.</p></div>\n");
		return;
	}
	for (int i = 0; i < c->nbins; i++)
		ymax = Max(ymax, Max(c->ref_share[i], c->cur_share[i]));
	s[0].name = "reference";
	s[0].colour = REPORT_BLUE;
	s[0].n = c->nbins;
	s[0].x = NULL;
	s[0].y = c->ref_share;
	s[0].dashed = false;
	s[1] = s[0];
	s[1].name = "current";
	s[1].colour = REPORT_ORANGE;
	s[1].y = c->cur_share;
	initStringInfo(&title);
	appendStringInfo(&title, "%s: %s", c->categorical ? "Categories" : "Histogram", c->name);
	memset(&a, 0, sizeof(a));
	a.title = title.data;
	a.xlabel = c->categorical ? "category" : "value (shared bins)";
	a.ylabel = "share of values";
	a.ymax = ymax;
	a.width = 560;
	a.height = 260;
	ReportBarChart(buf, &a, (const char **) c->labels, c->nbins, s, 2, !c->categorical);
	appendStringInfoString(buf, "</div>\n");
}

/*
 * RenderGroup writes the cards of the first DRIFT_SHOWN columns of a group
 * and a collapsed table of the others.
 */
static void
RenderGroup(StringInfo buf, ReportColumn *cols, int n, const char *heading, const char *what)
{
	int			shown = Min(n, DRIFT_SHOWN);

	if (n == 0)
		return;
	appendStringInfo(buf, "<h2>%s (%d)</h2>\n<div class=\"cards\">\n", heading, n);
	for (int i = 0; i < shown; i++)
	{
		CHECK_FOR_INTERRUPTS();
		RenderColumnCard(buf, &cols[i]);
	}
	appendStringInfoString(buf, "</div>\n");
	if (n > shown)
	{
		appendStringInfo(buf, "<details class=\"more\"><summary>%d more %s (checks only, no charts)</summary>\n",
						 n - shown, what);
		RenderChecksTable(buf, cols + shown, n - shown);
		appendStringInfoString(buf, "</details>\n");
	}
}

/* RenderHtml writes the whole report. */
static void
RenderHtml(StringInfo buf, DriftReportData *d)
{
	StringInfoData title;
	int			nd = d->ndrifted;
	int			nn = d->ncols - nd;

	initStringInfo(&title);
	appendStringInfo(&title, "Data drift report: %s", d->name);
	ReportPageStart(buf, title.data, 0);
	appendStringInfoString(buf, "<h1>");
	ReportText(buf, title.data);
	appendStringInfoString(buf, "</h1>\n<div class=\"summary\">");
	appendStringInfo(buf, "<div>Dataset drift: <span class=\"%s\" id=\"verdict\">%s</span></div>",
					 d->drift_detected ? "drift" : "ok", d->drift_detected ? "detected" : "not detected");
	appendStringInfo(buf, "<div>Drifted columns: <b id=\"drifted\">%d</b> of <b id=\"checked\">%d</b> (%.1f%%)</div>",
					 nd, d->ncols, d->ncols > 0 ? 100.0 * nd / d->ncols : 0.0);
	appendStringInfo(buf, "<div>Current rows: %lld</div></div>\n", (long long) d->rows);
	appendStringInfoString(buf, "<p class=\"muted\">The numbers are those of mlops.detect_drift (this check is recorded in mlops.drift_results). "
						   "Charts show the share of values per shared bin or category: reference in blue, current in orange.</p>\n");
	appendStringInfoString(buf, "<h2>Checks</h2>\n");
	RenderChecksTable(buf, d->cols, Min(nd, DRIFT_SHOWN));
	RenderChecksTable(buf, d->cols + nd, Min(nn, DRIFT_SHOWN));
	RenderGroup(buf, d->cols, nd, "Drifted columns", "drifted columns");
	RenderGroup(buf, d->cols + nd, nn, "Columns without drift", "columns without drift");
	ReportPageEnd(buf);
}

/* JsonArray appends n numbers as a JSON array. */
static void
JsonArray(StringInfo buf, const double *v, int n)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		ReportJsonNumber(buf, v[i]);
	}
	appendStringInfoChar(buf, ']');
}

/*
 * RenderJson writes the data behind the report: detect_drift's result as
 * it returned it, and per column (drifted first) the shared bins.
 */
static void
RenderJson(StringInfo buf, DriftReportData *d)
{
	appendStringInfoString(buf, "{\"reference\": ");
	escape_json(buf, d->name);
	appendStringInfo(buf, ", \"rows\": %lld, \"drift_detected\": %s, \"columns_checked\": %d, \"columns_drifted\": %d, ",
					 (long long) d->rows, d->drift_detected ? "true" : "false", d->ncols, d->ndrifted);
	appendStringInfoString(buf, "\"share_drifted\": ");
	ReportJsonNumber(buf, d->ncols > 0 ? (double) d->ndrifted / d->ncols : 0);
	appendStringInfo(buf, ", \"detect_drift\": %s, \"columns\": [", d->result);
	for (int i = 0; i < d->ncols; i++)
	{
		ReportColumn *c = &d->cols[i];

		CHECK_FOR_INTERRUPTS();
		appendStringInfoString(buf, i > 0 ? ", {\"name\": " : "{\"name\": ");
		escape_json(buf, c->name);
		appendStringInfo(buf, ", \"kind\": \"%s\", \"drift\": %s, ", c->categorical ? "categorical" : "numeric",
						 c->drift ? "true" : "false");
		if (c->categorical)
		{
			appendStringInfoString(buf, "\"categories\": [");
			for (int b = 0; b < c->nbins; b++)
			{
				if (b > 0)
					appendStringInfoChar(buf, ',');
				escape_json(buf, c->labels[b]);
			}
			appendStringInfoChar(buf, ']');
		}
		else
		{
			appendStringInfoString(buf, "\"bin_edges\": ");
			JsonArray(buf, c->edges, c->nbins > 0 ? c->nbins + 1 : 0);
		}
		appendStringInfoString(buf, ", \"reference_share\": ");
		JsonArray(buf, c->ref_share, c->nbins);
		appendStringInfoString(buf, ", \"current_share\": ");
		JsonArray(buf, c->cur_share, c->nbins);
		appendStringInfoChar(buf, '}');
	}
	appendStringInfoString(buf, "]}");
}
