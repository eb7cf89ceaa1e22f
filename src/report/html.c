/*-------------------------------------------------------------------------
 *
 * html.c
 *	  The pieces every report shares: the one escaping function for user
 *	  text (ReportText), numbers, the document's head with its inline CSS,
 *	  and the check of the format argument.
 *
 * ReportText is the only way a string that a user named (a model, a
 * column, a category, an alert, a job) enters a document: it clips it to
 * REPORT_TEXT_MAX bytes (MlopsClip), escapes the five characters HTML
 * gives a meaning (& < > " ') and replaces control characters, so the same
 * call is safe in element content, in attribute values and in SVG
 * <title> elements.  Numbers are written by ReportNumber (%.4g; NaN and
 * infinities as text).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"

#include "common/common.h"
#include "report/report.h"

/*
 * ReportText appends a user string to an HTML document, clipped and
 * escaped.  NULL appends an em dash.
 */
void
ReportText(StringInfo buf, const char *s)
{
	const char *p;

	if (s == NULL)
	{
		appendStringInfoString(buf, "\xe2\x80\x94");
		return;
	}
	s = MlopsClip(s, REPORT_TEXT_MAX);
	for (p = s; *p != '\0'; p++)
	{
		unsigned char c = (unsigned char) *p;

		switch (c)
		{
			case '&':
				appendStringInfoString(buf, "&amp;");
				break;
			case '<':
				appendStringInfoString(buf, "&lt;");
				break;
			case '>':
				appendStringInfoString(buf, "&gt;");
				break;
			case '"':
				appendStringInfoString(buf, "&quot;");
				break;
			case '\'':
				appendStringInfoString(buf, "&#39;");
				break;
			default:
				if (c < 0x20 || c == 0x7f)
					appendStringInfoChar(buf, c == '\t' || c == '\n' ? ' ' : '?');
				else
					appendStringInfoChar(buf, (char) c);
		}
	}
}

/*
 * ReportNumber appends a number with four significant digits.
 */
void
ReportNumber(StringInfo buf, double v)
{
	if (isnan(v))
		appendStringInfoString(buf, "NaN");
	else if (isinf(v))
		appendStringInfoString(buf, v > 0 ? "+\xe2\x88\x9e" : "\xe2\x88\x92\xe2\x88\x9e");
	else
		appendStringInfo(buf, "%.4g", v);
}

/*
 * ReportJsonNumber appends a number to a JSON text: NaN and infinities
 * become null, finite values keep every digit (%.17g).
 */
void
ReportJsonNumber(StringInfo buf, double v)
{
	if (isnan(v) || isinf(v))
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.17g", v);
}

/*
 * ReportPageStart begins an HTML5 document: its title (escaped), the meta
 * refresh when refresh_seconds > 0, the inline style, and the body.
 */
void
ReportPageStart(StringInfo buf, const char *title, int refresh_seconds)
{
	appendStringInfoString(buf, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
	appendStringInfoString(buf, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	if (refresh_seconds > 0)
		appendStringInfo(buf, "<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh_seconds);
	appendStringInfoString(buf, "<title>");
	ReportText(buf, title);
	appendStringInfoString(buf, "</title>\n<style>\n"
						   "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
						   "margin:0 auto;max-width:1240px;padding:12px 20px;color:#1a1a1a;background:#fff}\n"
						   "h1{font-size:1.5em;margin:.4em 0}h2{font-size:1.2em;margin:1.2em 0 .4em;border-bottom:1px solid #ccc}\n"
						   "h3{font-size:1em;margin:.8em 0 .3em}\n"
						   "table{border-collapse:collapse;margin:.4em 0;font-size:.9em}\n"
						   "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}\n"
						   "th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
						   ".drift{color:#D55E00;font-weight:bold}.ok{color:#009E73}.muted{color:#666}\n"
						   ".cards{display:flex;flex-wrap:wrap;gap:12px}\n"
						   ".card{border:1px solid #ccc;border-radius:4px;padding:8px;width:580px;box-sizing:border-box}\n"
						   ".summary{display:flex;gap:24px;flex-wrap:wrap;font-size:1.05em}\n"
						   ".summary div{border:1px solid #ccc;border-radius:4px;padding:6px 12px}\n"
						   "svg.chart{display:block;max-width:100%;height:auto}\n"
						   "svg text{font-size:11px;fill:#1a1a1a}\n"
						   "svg .title{font-size:13px;font-weight:bold}\n"
						   "details{margin:.6em 0}summary{cursor:pointer;font-weight:bold}\n"
						   "</style>\n</head>\n<body>\n");
}

/* ReportPageEnd closes the document. */
void
ReportPageEnd(StringInfo buf)
{
	appendStringInfoString(buf, "</body>\n</html>\n");
}

/*
 * ReportResult returns the document as text.
 */
text *
ReportResult(StringInfo buf)
{
	return cstring_to_text_with_len(buf->data, buf->len);
}

/*
 * ReportWantJson reads the format argument: 'html' (the default, NULL
 * too) or 'json'; anything else is an error.
 */
bool
ReportWantJson(text *format)
{
	char	   *f;

	if (format == NULL)
		return false;
	f = text_to_cstring(format);
	if (strcmp(f, "html") == 0)
		return false;
	if (strcmp(f, "json") == 0)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("format must be 'html' or 'json', not \"%s\"", MlopsClip(f, MLOPS_ECHO_MAX))));
	return false;				/* keep the compiler quiet */
}
