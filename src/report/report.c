/*-------------------------------------------------------------------------
 *
 * report.c
 *	  The report subsystem's setting: mlops.artifact_max_mb, the largest
 *	  artifact mlops.log_artifact accepts (sql/install/88_reports.sql reads
 *	  it with current_setting).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "report/report.h"

int			report_artifact_max_mb = 16;

/*
 * ReportInit registers the report subsystem's settings.
 */
void
ReportInit(void)
{
	DefineCustomIntVariable("mlops.artifact_max_mb",
							"Largest artifact mlops.log_artifact accepts, in megabytes.",
							"Only superusers change it.",
							&report_artifact_max_mb, 16, 1, 1024,
							PGC_SUSET, 0, NULL, NULL, NULL);
}
