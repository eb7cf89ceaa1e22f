/*-------------------------------------------------------------------------
 *
 * report.h
 *	  The face of src/report/: HTML reports (drift, model card), the
 *	  monitoring dashboard and their JSON data (issue 14).
 *
 * Every report is one self-contained HTML5 document built in a StringInfo:
 * inline CSS and SVG, no script, no external resource.  Every string a user
 * named (models, columns, categories, alert texts, job names) passes
 * through ReportText, the one escaping function (html.c).  Charts are drawn
 * by the primitives of chart.c from aggregated data only (bins, curve
 * points), never from raw rows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MLOPS_REPORT_H
#define MLOPS_REPORT_H

#include "postgres.h"

#include "lib/stringinfo.h"

/* the Okabe-Ito palette (colour-blind safe) */
#define REPORT_BLUE		"#0072B2"
#define REPORT_ORANGE	"#E69F00"
#define REPORT_GREEN	"#009E73"
#define REPORT_VERMILLION "#D55E00"
#define REPORT_SKY		"#56B4E9"
#define REPORT_PURPLE	"#CC79A7"
#define REPORT_YELLOW	"#F0E442"
#define REPORT_BLACK	"#000000"

/* at most this many bytes of one user string are shown */
#define REPORT_TEXT_MAX 200

/* a series of a chart */
typedef struct ReportSeries
{
	const char *name;			/* legend text (user text: escaped) */
	const char *colour;
	int			n;
	const double *x;			/* line charts: x values */
	const double *y;
	bool		dashed;
} ReportSeries;

/* the axes of a chart */
typedef struct ReportAxes
{
	const char *title;			/* escaped */
	const char *xlabel;			/* escaped */
	const char *ylabel;			/* escaped */
	double		xmin,
				xmax,
				ymin,
				ymax;
	int			width,
				height;
} ReportAxes;

extern int	report_artifact_max_mb;

extern void ReportInit(void);

/* html.c */
extern void ReportText(StringInfo buf, const char *s);
extern void ReportNumber(StringInfo buf, double v);
extern void ReportPageStart(StringInfo buf, const char *title, int refresh_seconds);
extern void ReportPageEnd(StringInfo buf);
extern void ReportJsonNumber(StringInfo buf, double v);
extern text *ReportResult(StringInfo buf);
extern bool ReportWantJson(text *format);

/* chart.c */
extern void ReportBarChart(StringInfo buf, const ReportAxes *axes, const char **labels,
						   int ncat, const ReportSeries *series, int nseries, bool overlay);
extern void ReportLineChart(StringInfo buf, const ReportAxes *axes,
							const ReportSeries *series, int nseries, bool diagonal);
extern void ReportHBarChart(StringInfo buf, const ReportAxes *axes, const char **labels,
							const double *values, int n, const char *colour);
extern void ReportHeatmap(StringInfo buf, const ReportAxes *axes, const double *counts,
						  int nx, int ny);
extern void ReportSparkline(StringInfo buf, const double *values, int n, const char *what);

/* curves.c: pure computations of the model report */
typedef struct ReportCurve
{
	int			n;
	double	   *x;
	double	   *y;
	double	   *thresholds;
} ReportCurve;

extern void ReportRocCurve(const double *score, const bool *positive, int64 n,
						   ReportCurve *out);
extern void ReportPrCurve(const double *score, const bool *positive, int64 n,
						  ReportCurve *out);
extern double ReportTrapezoid(const double *x, const double *y, int n);
extern double ReportAveragePrecision(const ReportCurve *pr);

#endif							/* MLOPS_REPORT_H */
