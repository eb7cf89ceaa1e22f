/*
 * cron_pg.c
 *	  Schedules in PostgreSQL terms: errors, mlops.timezone and timestamptz.
 *
 * cron.c knows nothing of PostgreSQL.  This file turns its error text into an
 * ereport, gives it the UTC offset of mlops.timezone through PostgreSQL's own
 * timezone library (pg_localtime), and converts between timestamptz
 * (microseconds since 2000-01-01) and the seconds since 1970 cron.c uses.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "common/common.h"
#include "sched/sched.h"

/* seconds from 1970-01-01 to 2000-01-01 */
#define PG_EPOCH_OFFSET_SECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)
/* how many fire times mlops.next_runs returns at most */
#define MAX_NEXT_RUNS 1000

static int64_t ZoneUtcOffset(int64_t epoch, void *arg);
static pg_tz *ScheduleTimezone(void);

PG_FUNCTION_INFO_V1(mlops_next_runs);

/*
 * ScheduleParse parses a schedule or raises invalid_parameter_value naming
 * what is wrong.
 */
void
ScheduleParse(const char *schedule_text, CronSchedule *out)
{
	char		err[512];

	if (CronParse(schedule_text, out, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid schedule \"%s\"", MlopsClip(schedule_text, MLOPS_ECHO_MAX)),
				 errdetail("%s", err),
				 errhint("Examples: '0 2 * * *' (02:00 daily), '*/15 * * * 1-5', '@hourly', "
						 "'every 30 seconds', '2 hours'.")));
}

/*
 * ScheduleNextRun returns when a job is next due.  "due" is the due time of
 * the run just launched (0 for a new job).  Interval schedules keep the grid
 * due + k * period and skip the slots missed before "now"; calendars fire at
 * their first time after both "due" and "now", in mlops.timezone.  Either way
 * a job that was overdue runs once, not once per missed slot.
 */
TimestampTz
ScheduleNextRun(const CronSchedule *s, TimestampTz due, TimestampTz now)
{
	TimestampTz after = Max(due, now);
	CronZone	zone;
	int64_t		after_secs;
	int64_t		next_secs;

	if (s->kind == CRON_KIND_INTERVAL)
	{
		int64		period = s->interval_secs * USECS_PER_SEC;

		if (due == 0)
			return now + period;
		return (TimestampTz) CronNextInterval(due, period, now);
	}

	zone.utc_offset = ZoneUtcOffset;
	zone.arg = ScheduleTimezone();
	/* floor to whole seconds: fire times are whole minutes */
	after_secs = after / USECS_PER_SEC - (after % USECS_PER_SEC < 0 ? 1 : 0) +
		PG_EPOCH_OFFSET_SECS;
	if (!CronNextFire(s, after_secs, &zone, &next_secs))
		return DT_NOEND;
	return (TimestampTz) (next_secs - PG_EPOCH_OFFSET_SECS) * USECS_PER_SEC;
}

/*
 * ScheduleTimezone returns the zone named by mlops.timezone (validated when
 * it was set).
 */
static pg_tz *
ScheduleTimezone(void)
{
	static char *cached_name = NULL;
	static pg_tz *cached_tz = NULL;
	const char *name = (mlops_timezone != NULL && mlops_timezone[0] != '\0') ?
		mlops_timezone : "UTC";

	if (cached_tz == NULL || strcmp(cached_name, name) != 0)
	{
		pg_tz	   *tz = pg_tzset(name);

		if (tz == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid mlops.timezone \"%s\"", name)));
		if (cached_name != NULL)
			free(cached_name);
		cached_name = strdup(name);
		if (cached_name == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		cached_tz = tz;
	}
	return cached_tz;
}

/*
 * ZoneUtcOffset is cron.c's callback: the UTC offset of the zone at an
 * instant, from PostgreSQL's timezone library.
 */
static int64_t
ZoneUtcOffset(int64_t epoch, void *arg)
{
	pg_time_t	t = (pg_time_t) epoch;
	struct pg_tm *tm = pg_localtime(&t, (pg_tz *) arg);

	return tm != NULL ? (int64_t) tm->tm_gmtoff : 0;
}

/*
 * mlops_next_runs returns the next fire times of a schedule after a given
 * time, evaluated in mlops.timezone: a way to check a schedule before using
 * it.
 */
Datum
mlops_next_runs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *schedule_text;
	TimestampTz after;
	int32		count;
	CronSchedule s;
	TimestampTz due = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("schedule, after and count must not be null")));
	schedule_text = text_to_cstring(PG_GETARG_TEXT_PP(0));
	after = PG_GETARG_TIMESTAMPTZ(1);
	count = PG_GETARG_INT32(2);
	if (count < 1 || count > MAX_NEXT_RUNS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("count must be between 1 and %d", MAX_NEXT_RUNS)));
	if (TIMESTAMP_NOT_FINITE(after))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("after must be a finite time")));
	ScheduleParse(schedule_text, &s);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (int i = 0; i < count; i++)
	{
		Datum		value;
		bool		isnull = false;
		TimestampTz next = ScheduleNextRun(&s, due, after);

		if (next == DT_NOEND)
			break;
		value = TimestampTzGetDatum(next);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
		due = next;
		after = next;
	}
	PG_RETURN_VOID();
}
