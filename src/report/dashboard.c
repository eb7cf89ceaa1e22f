/*-------------------------------------------------------------------------
 *
 * dashboard.c
 *	  mlops.dashboard_html: the monitoring dashboard as one HTML page that
 *	  refreshes itself, or its data as JSON.
 *
 * Every section is one SQL query run as the caller, so a role sees what
 * its grants show it: the models come from the view mlops.dashboard
 * (stage, latency, drift, degradation, open alerts) joined with
 * mlops._dashboard_activity() (stages and predictions per minute over the
 * last hour); the scheduled jobs from mlops.jobs / mlops.job_runs when the
 * caller may read them; active deployments and A/B tests from
 * mlops.deployments and mlops.ab_tests when those tables exist and the
 * caller may read them.  The same queries give the JSON (jsonb_agg of
 * their rows), so the page and the data always agree.
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

#include "common/common.h"
#include "report/report.h"

PG_FUNCTION_INFO_V1(mlops_dashboard_html);

#define DASHBOARD_REFRESH_SECONDS 60
#define DASHBOARD_MAX_ROWS 500

/* one section of the dashboard */
typedef struct DashboardSection
{
	const char *key;			/* JSON key */
	const char *heading;
	const char *relation;		/* must exist and be readable, or NULL */
	const char *query;
	const char *headers;		/* column headings, separated by | */
	const char *empty;			/* shown when there are no rows */
} DashboardSection;

static const DashboardSection sections[] = {
	{"models", "Models", "mlops.dashboard",
		"SELECT d.model, a.stages, d.production_version, a.per_minute, d.predictions_last_hour, "
		"d.p50_ms, d.p95_ms, d.error_rate, d.drift_detected, d.degradation_status, "
		"d.open_critical, d.open_warning, d.open_info "
		"FROM mlops.dashboard d LEFT JOIN mlops._dashboard_activity() a ON a.model OPERATOR(pg_catalog.=) d.model "
		"ORDER BY d.model LIMIT 500",
		"model|stages|production version|predictions per minute, last hour|predictions, last hour|"
		"p50 latency (ms)|p95 latency (ms)|error rate|drift|degradation|critical alerts|warning alerts|info alerts",
	"No models are registered or monitored."},
	{"jobs", "Scheduled jobs", "mlops.jobs",
		"SELECT j.job_name, j.schedule, j.enabled, r.status AS last_status, r.at AS last_run_at, j.next_run_at "
		"FROM mlops.jobs j LEFT JOIN LATERAL (SELECT x.status, COALESCE(x.finished_at, x.started_at, x.scheduled_at) AS at "
		"FROM mlops.job_runs x WHERE x.job_id OPERATOR(pg_catalog.=) j.job_id ORDER BY x.run_id DESC LIMIT 1) r ON true "
		"ORDER BY j.job_name, j.job_id LIMIT 500",
		"job|schedule|enabled|last run status|last run at|next run at",
	"No scheduled jobs."},
	{"deployments", "Active deployments", "mlops.deployments",
		"SELECT d.id, d.model, d.from_version, d.to_version, d.environment, d.strategy, d.percent, d.state, d.updated_at "
		"FROM mlops.deployments d WHERE d.state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'active']) "
		"ORDER BY d.updated_at DESC, d.id DESC LIMIT 50",
		"id|model|from version|to version|environment|strategy|percent of traffic|state|updated at",
	"No active deployments."},
	{"ab_tests", "A/B tests", "mlops.ab_tests",
		"SELECT t.id, t.name, t.state, t.variants::pg_catalog.text AS variants, t.winner, t.created_at "
		"FROM mlops.ab_tests t WHERE t.state OPERATOR(pg_catalog.=) 'running' ORDER BY t.created_at DESC, t.id DESC LIMIT 50",
		"id|name|state|variants|winner|started at",
	"No running A/B tests."},
};

static bool SectionReadable(const DashboardSection *s);
static void RenderSection(StringInfo buf, const DashboardSection *s);
static void RenderCell(StringInfo buf, HeapTuple t, TupleDesc td, int col);

/*
 * mlops_dashboard_html implements mlops.dashboard_html(format): the
 * dashboard page, or its data as JSON.
 */
Datum
mlops_dashboard_html(PG_FUNCTION_ARGS)
{
	bool		json = ReportWantJson(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0));
	StringInfoData buf;
	MemoryContext cxt = CurrentMemoryContext;
	char	   *now;

	MlopsRequireCurrentSchema("mlops.dashboard_html");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
					"OPERATOR(pg_catalog.||) ' UTC'", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the time");
	now = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));

	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		initStringInfo(&buf);
		MemoryContextSwitchTo(old);
	}
	if (json)
	{
		appendStringInfoString(&buf, "{\"generated_at\": ");
		escape_json(&buf, now);
		for (int i = 0; i < (int) lengthof(sections); i++)
		{
			const DashboardSection *s = &sections[i];

			appendStringInfo(&buf, ", \"%s\": ", s->key);
			if (!SectionReadable(s))
			{
				appendStringInfoString(&buf, "null");
				continue;
			}
			if (SPI_execute(psprintf("SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(q)), '[]')::pg_catalog.text FROM (%s) q",
									 s->query), true, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not read the dashboard");
			appendStringInfoString(&buf, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		}
		appendStringInfoChar(&buf, '}');
	}
	else
	{
		ReportPageStart(&buf, "mlops monitoring dashboard", DASHBOARD_REFRESH_SECONDS);
		appendStringInfo(&buf, "<h1>mlops monitoring dashboard</h1>\n<p class=\"muted\">Generated %s; "
						 "this page reloads every %d seconds.</p>\n", now, DASHBOARD_REFRESH_SECONDS);
		for (int i = 0; i < (int) lengthof(sections); i++)
			RenderSection(&buf, &sections[i]);
		ReportPageEnd(&buf);
	}
	SPI_finish();
	PG_RETURN_TEXT_P(ReportResult(&buf));
}

/*
 * SectionReadable says whether a section's relation exists and the caller
 * may read it.
 */
static bool
SectionReadable(const DashboardSection *s)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Datum		v;

	values[0] = CStringGetTextDatum(s->relation);
	if (SPI_execute_with_args("SELECT pg_catalog.to_regclass($1) IS NOT NULL AND "
							  "pg_catalog.has_table_privilege(pg_catalog.to_regclass($1), 'SELECT')",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not check the dashboard's relations");
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return !isnull && DatumGetBool(v);
}

/*
 * RenderSection writes one section: a heading and a table of its rows, or
 * a note saying why there is none.
 */
static void
RenderSection(StringInfo buf, const DashboardSection *s)
{
	char	   *headers;
	char	   *h;
	char	   *save = NULL;

	if (!SectionReadable(s))
	{
		if (strcmp(s->key, "models") == 0 || strcmp(s->key, "jobs") == 0)
			appendStringInfo(buf, "<h2>%s</h2>\n<p class=\"muted\" id=\"%s-hidden\">Not visible to this role (no SELECT on %s).</p>\n",
							 s->heading, s->key, s->relation);
		return;
	}
	if (SPI_execute(s->query, true, DASHBOARD_MAX_ROWS) != SPI_OK_SELECT)
		elog(ERROR, "could not read the dashboard");
	appendStringInfo(buf, "<h2>%s (%llu)</h2>\n", s->heading, (unsigned long long) SPI_processed);
	if (SPI_processed == 0)
	{
		appendStringInfo(buf, "<p class=\"muted\">%s</p>\n", s->empty);
		return;
	}
	appendStringInfo(buf, "<table id=\"%s\"><thead><tr>", s->key);
	headers = pstrdup(s->headers);
	for (h = strtok_r(headers, "|", &save); h != NULL; h = strtok_r(NULL, "|", &save))
		appendStringInfo(buf, "<th>%s</th>", h);
	appendStringInfoString(buf, "</tr></thead><tbody>\n");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		CHECK_FOR_INTERRUPTS();
		appendStringInfoString(buf, "<tr>");
		for (int c = 1; c <= SPI_tuptable->tupdesc->natts; c++)
			RenderCell(buf, SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c);
		appendStringInfoString(buf, "</tr>\n");
	}
	appendStringInfoString(buf, "</tbody></table>\n");
}

/*
 * RenderCell writes one value: a sparkline for a float8[], numbers right
 * aligned, booleans as words, everything else as escaped text.
 */
static void
RenderCell(StringInfo buf, HeapTuple t, TupleDesc td, int col)
{
	Oid			type = SPI_gettypeid(td, col);
	bool		isnull;
	Datum		v = SPI_getbinval(t, td, col, &isnull);
	const char *name = NameStr(TupleDescAttr(td, col - 1)->attname);

	if (isnull)
	{
		appendStringInfoString(buf, "<td class=\"muted\">\xe2\x80\x94</td>");
		return;
	}
	switch (type)
	{
		case FLOAT8ARRAYOID:
			{
				Datum	   *elems;
				bool	   *nulls;
				int			n;
				double	   *vals;

				deconstruct_array(DatumGetArrayTypeP(v), FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
								  TYPALIGN_DOUBLE, &elems, &nulls, &n);
				vals = palloc(sizeof(double) * Max(n, 1));
				for (int i = 0; i < n; i++)
					vals[i] = nulls[i] ? 0 : DatumGetFloat8(elems[i]);
				appendStringInfoString(buf, "<td>");
				ReportSparkline(buf, vals, n, "predictions");
				appendStringInfoString(buf, "</td>");
				break;
			}
		case FLOAT8OID:
			appendStringInfoString(buf, "<td class=\"num\">");
			ReportNumber(buf, DatumGetFloat8(v));
			appendStringInfoString(buf, "</td>");
			break;
		case INT4OID:
		case INT8OID:
			appendStringInfo(buf, "<td class=\"num\">%s</td>", SPI_getvalue(t, td, col));
			break;
		case BOOLOID:
			if (strcmp(name, "drift_detected") == 0)
				appendStringInfo(buf, "<td class=\"%s\">%s</td>", DatumGetBool(v) ? "drift" : "ok",
								 DatumGetBool(v) ? "drift" : "no drift");
			else
				appendStringInfo(buf, "<td>%s</td>", DatumGetBool(v) ? "yes" : "no");
			break;
		default:
			appendStringInfo(buf, "<td%s>", strcmp(name, "degradation_status") == 0 &&
							 strcmp(SPI_getvalue(t, td, col), "degraded") == 0 ? " class=\"drift\"" : "");
			ReportText(buf, SPI_getvalue(t, td, col));
			appendStringInfoString(buf, "</td>");
	}
}
