/*-------------------------------------------------------------------------
 *
 * chart.c
 *	  SVG chart primitives of the reports: grouped or overlaid bars,
 *	  lines, horizontal bars, heatmaps and sparklines.
 *
 * Every chart is an <svg class="chart"> with a title, axis labels, a
 * legend when it has several series, and an SVG <title> on every mark so
 * that hovering shows its value.  Charts draw aggregated data (bins,
 * curve points) handed to them: the caller bounds their size.  Text that a
 * user named goes through ReportText.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "common/common.h"
#include "report/report.h"

#define MARGIN_LEFT 60
#define MARGIN_RIGHT 16
#define MARGIN_TOP 34
#define MARGIN_BOTTOM 46

static void ChartStart(StringInfo buf, const ReportAxes *axes);
static void ChartAxes(StringInfo buf, const ReportAxes *axes, bool xticks);
static void ChartLegend(StringInfo buf, const ReportAxes *axes, const ReportSeries *series, int n);
static double MapX(const ReportAxes *a, double x);
static double MapY(const ReportAxes *a, double y);
static double NiceStep(double range);
static const char *ShortLabel(const char *s);

/* ShortLabel clips an axis label to 18 bytes (the hover title has it whole). */
static const char *
ShortLabel(const char *s)
{
	return s == NULL ? NULL : MlopsClip(s, 18);
}

/* MapX maps a data x to the pixel column. */
static double
MapX(const ReportAxes *a, double x)
{
	double		w = a->width - MARGIN_LEFT - MARGIN_RIGHT;
	double		span = a->xmax - a->xmin;

	if (!(span > 0) || !isfinite(x))
		return MARGIN_LEFT;
	return MARGIN_LEFT + w * (x - a->xmin) / span;
}

/* MapY maps a data y to the pixel row. */
static double
MapY(const ReportAxes *a, double y)
{
	double		h = a->height - MARGIN_TOP - MARGIN_BOTTOM;
	double		span = a->ymax - a->ymin;

	if (!(span > 0) || !isfinite(y))
		return a->height - MARGIN_BOTTOM;
	return MARGIN_TOP + h * (1.0 - (y - a->ymin) / span);
}

/* NiceStep returns a 1, 2 or 5 times a power of ten step for about 5 ticks. */
static double
NiceStep(double range)
{
	double		raw = range / 5.0;
	double		mag;
	double		f;

	if (!(raw > 0) || !isfinite(raw))
		return 1;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	if (f < 1.5)
		return mag;
	if (f < 3.5)
		return 2 * mag;
	if (f < 7.5)
		return 5 * mag;
	return 10 * mag;
}

/* ChartStart opens the svg element with its accessible title. */
static void
ChartStart(StringInfo buf, const ReportAxes *axes)
{
	appendStringInfo(buf, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
					 "viewBox=\"0 0 %d %d\" role=\"img\"><title>",
					 axes->width, axes->height, axes->width, axes->height);
	ReportText(buf, axes->title);
	appendStringInfo(buf, "</title><text class=\"title\" x=\"%d\" y=\"18\">", MARGIN_LEFT);
	ReportText(buf, axes->title);
	appendStringInfoString(buf, "</text>");
}

/* ChartAxes draws both axes, their ticks (x ticks when asked) and labels. */
static void
ChartAxes(StringInfo buf, const ReportAxes *a, bool xticks)
{
	double		step;
	int			bottom = a->height - MARGIN_BOTTOM;

	appendStringInfo(buf, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>",
					 MARGIN_LEFT, MARGIN_TOP, MARGIN_LEFT, bottom);
	appendStringInfo(buf, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>",
					 MARGIN_LEFT, bottom, a->width - MARGIN_RIGHT, bottom);
	step = NiceStep(a->ymax - a->ymin);
	for (double v = ceil(a->ymin / step) * step; v <= a->ymax + step * 1e-9; v += step)
	{
		double		y = MapY(a, v);

		appendStringInfo(buf, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
						 "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
						 MARGIN_LEFT, y, a->width - MARGIN_RIGHT, y, MARGIN_LEFT - 4, y + 4);
		ReportNumber(buf, fabs(v) < step * 1e-9 ? 0 : v);
		appendStringInfoString(buf, "</text>");
	}
	if (xticks)
	{
		step = NiceStep(a->xmax - a->xmin);
		for (double v = ceil(a->xmin / step) * step; v <= a->xmax + step * 1e-9; v += step)
		{
			appendStringInfo(buf, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", MapX(a, v), bottom + 14);
			ReportNumber(buf, fabs(v) < step * 1e-9 ? 0 : v);
			appendStringInfoString(buf, "</text>");
		}
	}
	appendStringInfo(buf, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
					 (MARGIN_LEFT + a->width - MARGIN_RIGHT) / 2, a->height - 8);
	ReportText(buf, a->xlabel);
	appendStringInfo(buf, "</text><text transform=\"translate(14,%d) rotate(-90)\" text-anchor=\"middle\">",
					 (MARGIN_TOP + bottom) / 2);
	ReportText(buf, a->ylabel);
	appendStringInfoString(buf, "</text>");
}

/* ChartLegend draws one swatch and name per series, top right. */
static void
ChartLegend(StringInfo buf, const ReportAxes *a, const ReportSeries *series, int n)
{
	int			x = a->width - MARGIN_RIGHT - 150;

	for (int s = 0; s < n; s++)
	{
		appendStringInfo(buf, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
						 "<text x=\"%d\" y=\"%d\">", x, 8 + 14 * s, series[s].colour, x + 16, 18 + 14 * s);
		ReportText(buf, series[s].name);
		appendStringInfoString(buf, "</text>");
	}
}

/*
 * ReportBarChart draws ncat categories (labels) with one bar per series:
 * side by side, or overlaid with transparency (histograms on shared
 * bins).  The y axis starts at 0; axes->ymax is the largest value.
 */
void
ReportBarChart(StringInfo buf, const ReportAxes *axes, const char **labels, int ncat,
			   const ReportSeries *series, int nseries, bool overlay)
{
	ReportAxes	a = *axes;
	double		slot;
	double		plotw = a.width - MARGIN_LEFT - MARGIN_RIGHT;
	int			every = ncat <= 8 ? 1 : (ncat + 4) / 5;

	a.ymin = 0;
	if (!(a.ymax > 0))
		a.ymax = 1;
	a.ymax *= 1.08;
	ChartStart(buf, &a);
	ChartAxes(buf, &a, false);
	slot = plotw / Max(ncat, 1);
	for (int i = 0; i < ncat; i++)
	{
		CHECK_FOR_INTERRUPTS();
		for (int s = 0; s < nseries; s++)
		{
			double		w = overlay ? slot * 0.9 : slot * 0.85 / nseries;
			double		x = MARGIN_LEFT + slot * i + slot * 0.05 + (overlay ? 0 : w * s);
			double		y = MapY(&a, series[s].y[i]);

			appendStringInfo(buf, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"%s><title>",
							 x, y, Max(w, 0.5), (a.height - MARGIN_BOTTOM) - y, series[s].colour,
							 overlay ? " fill-opacity=\"0.55\"" : "");
			ReportText(buf, series[s].name);
			appendStringInfoString(buf, ", ");
			ReportText(buf, labels[i]);
			appendStringInfoString(buf, ": ");
			ReportNumber(buf, series[s].y[i]);
			appendStringInfoString(buf, "</title></rect>");
		}
		if (i % every == 0)
		{
			appendStringInfo(buf, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
							 MARGIN_LEFT + slot * (i + 0.5), a.height - MARGIN_BOTTOM + 14);
			ReportText(buf, ShortLabel(labels[i]));
			appendStringInfoString(buf, "</text>");
		}
	}
	if (nseries > 1)
		ChartLegend(buf, &a, series, nseries);
	appendStringInfoString(buf, "</svg>\n");
}

/*
 * ReportLineChart draws each series as a polyline with a marker and hover
 * title per point (the caller bounds the points), and the diagonal y = x
 * when asked (ROC, calibration).
 */
void
ReportLineChart(StringInfo buf, const ReportAxes *axes, const ReportSeries *series,
				int nseries, bool diagonal)
{
	ChartStart(buf, axes);
	ChartAxes(buf, axes, true);
	if (diagonal)
		appendStringInfo(buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
						 MapX(axes, axes->xmin), MapY(axes, axes->ymin),
						 MapX(axes, axes->xmax), MapY(axes, axes->ymax));
	for (int s = 0; s < nseries; s++)
	{
		const ReportSeries *sr = &series[s];

		appendStringInfo(buf, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
						 sr->colour, sr->dashed ? " stroke-dasharray=\"6 3\"" : "");
		for (int i = 0; i < sr->n; i++)
		{
			if (!isfinite(sr->x[i]) || !isfinite(sr->y[i]))
				continue;
			appendStringInfo(buf, "%.1f,%.1f ", MapX(axes, sr->x[i]), MapY(axes, sr->y[i]));
		}
		appendStringInfoString(buf, "\"/>");
		for (int i = 0; i < sr->n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (!isfinite(sr->x[i]) || !isfinite(sr->y[i]))
				continue;
			appendStringInfo(buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"><title>",
							 MapX(axes, sr->x[i]), MapY(axes, sr->y[i]), sr->n > 60 ? "1.5" : "3", sr->colour);
			ReportText(buf, sr->name);
			appendStringInfoString(buf, ": ");
			ReportText(buf, axes->xlabel);
			appendStringInfoString(buf, " ");
			ReportNumber(buf, sr->x[i]);
			appendStringInfoString(buf, ", ");
			ReportText(buf, axes->ylabel);
			appendStringInfoString(buf, " ");
			ReportNumber(buf, sr->y[i]);
			appendStringInfoString(buf, "</title></circle>");
		}
	}
	if (nseries > 0)
		ChartLegend(buf, axes, series, nseries);
	appendStringInfoString(buf, "</svg>\n");
}

/*
 * ReportHBarChart draws n labelled horizontal bars (feature importance),
 * longest first as given.
 */
void
ReportHBarChart(StringInfo buf, const ReportAxes *axes, const char **labels,
				const double *values, int n, const char *colour)
{
	double		maxv = 0;
	int			left = 170;
	int			plotw = axes->width - left - MARGIN_RIGHT - 50;

	for (int i = 0; i < n; i++)
		if (values[i] > maxv)
			maxv = values[i];
	ChartStart(buf, axes);
	for (int i = 0; i < n; i++)
	{
		double		w = maxv > 0 ? plotw * values[i] / maxv : 0;
		int			y = MARGIN_TOP + 18 * i;

		CHECK_FOR_INTERRUPTS();
		appendStringInfo(buf, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6, y + 12);
		ReportText(buf, ShortLabel(labels[i]));
		appendStringInfo(buf, "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"14\" fill=\"%s\"><title>",
						 left, y, Max(w, 0.5), colour);
		ReportText(buf, labels[i]);
		appendStringInfoString(buf, ": ");
		ReportNumber(buf, values[i]);
		appendStringInfo(buf, "</title></rect><text x=\"%.1f\" y=\"%d\">", left + w + 4, y + 12);
		ReportNumber(buf, values[i]);
		appendStringInfoString(buf, "</text>");
	}
	appendStringInfo(buf, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", left + plotw / 2, axes->height - 8);
	ReportText(buf, axes->xlabel);
	appendStringInfoString(buf, "</text></svg>\n");
}

/*
 * ReportHeatmap draws an nx by ny grid of counts (counts[iy * nx + ix])
 * over the axes' ranges, darker for more; empty cells stay blank.
 */
void
ReportHeatmap(StringInfo buf, const ReportAxes *axes, const double *counts, int nx, int ny)
{
	double		maxc = 0;
	double		cw = (double) (axes->width - MARGIN_LEFT - MARGIN_RIGHT) / nx;
	double		ch = (double) (axes->height - MARGIN_TOP - MARGIN_BOTTOM) / ny;

	for (int i = 0; i < nx * ny; i++)
		if (counts[i] > maxc)
			maxc = counts[i];
	ChartStart(buf, axes);
	ChartAxes(buf, axes, true);
	appendStringInfo(buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
					 MapX(axes, Max(axes->xmin, axes->ymin)), MapY(axes, Max(axes->xmin, axes->ymin)),
					 MapX(axes, Min(axes->xmax, axes->ymax)), MapY(axes, Min(axes->xmax, axes->ymax)));
	for (int iy = 0; iy < ny; iy++)
	{
		CHECK_FOR_INTERRUPTS();
		for (int ix = 0; ix < nx; ix++)
		{
			double		c = counts[iy * nx + ix];

			if (c <= 0)
				continue;
			appendStringInfo(buf, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" fill-opacity=\"%.2f\"><title>",
							 MARGIN_LEFT + cw * ix, axes->height - MARGIN_BOTTOM - ch * (iy + 1), cw, ch,
							 REPORT_BLUE, 0.15 + 0.85 * sqrt(c / maxc));
			ReportNumber(buf, c);
			appendStringInfoString(buf, " rows</title></rect>");
		}
	}
	appendStringInfoString(buf, "</svg>\n");
}

/*
 * ReportSparkline draws a small line of n values (what: the hover text's
 * unit), scaled from 0 to its maximum.
 */
void
ReportSparkline(StringInfo buf, const double *values, int n, const char *what)
{
	double		maxv = 0;
	double		total = 0;

	for (int i = 0; i < n; i++)
	{
		maxv = Max(maxv, values[i]);
		total += values[i];
	}
	appendStringInfoString(buf, "<svg class=\"spark\" xmlns=\"http://www.w3.org/2000/svg\" width=\"180\" height=\"28\" viewBox=\"0 0 180 28\"><title>");
	ReportNumber(buf, total);
	appendStringInfo(buf, " %s in the last %d minutes, at most ", what, n);
	ReportNumber(buf, maxv);
	appendStringInfoString(buf, " per minute</title><polyline fill=\"none\" stroke=\"" REPORT_BLUE "\" stroke-width=\"1.5\" points=\"");
	for (int i = 0; i < n; i++)
		appendStringInfo(buf, "%.1f,%.1f ", n > 1 ? 178.0 * i / (n - 1) + 1 : 1,
						 maxv > 0 ? 26.0 - 24.0 * values[i] / maxv : 26.0);
	appendStringInfoString(buf, "\"/></svg>");
}
