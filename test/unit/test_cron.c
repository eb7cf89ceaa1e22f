/* unit-sources: src/sched/cron.c */
/*
 * test_cron.c
 *	  Unit tests of the schedule parser and next-fire computation (src/sched/cron.c).
 *
 * The expected fire times below were worked out by hand from the calendar
 * (month lengths, leap years, weekdays) and from the published DST rules of
 * the European Union (last Sunday of March and October, 01:00 UTC) and of the
 * United States (second Sunday of March at 02:00 local standard time, first
 * Sunday of November at 02:00 local daylight time).  The zones here implement
 * those rules with libc's timegm, independently of the code under test, and
 * are checked against the system's tz database where it is installed.
 * Prints TAP.
 */
#define _GNU_SOURCE
#include "sched/cron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int	test_count = 0;
static int	failures = 0;

/*
 * Ok records one TAP result.
 */
static void
Ok(int cond, const char *what, const char *detail)
{
	test_count++;
	printf("%sok %d - %s\n", cond ? "" : "not ", test_count, what);
	if (!cond)
	{
		failures++;
		if (detail != NULL && detail[0] != '\0')
			printf("# %s\n", detail);
	}
}

/*
 * ParseUtc reads "YYYY-MM-DD HH:MM[:SS]" as a UTC instant.
 */
static int64_t
ParseUtc(const char *text)
{
	struct tm	tm;
	int			sec = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(text, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			   &tm.tm_hour, &tm.tm_min, &sec) < 5)
	{
		fprintf(stderr, "bad time literal %s\n", text);
		abort();
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_sec = sec;
	return (int64_t) timegm(&tm);
}

/*
 * FormatUtc writes an instant as "YYYY-MM-DD HH:MM:SS" UTC.
 */
static void
FormatUtc(int64_t epoch, char *buf, size_t len)
{
	time_t		t = (time_t) epoch;
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/*
 * NthSundayUtc returns the instant of hour:00 UTC on the n-th Sunday (n = -1:
 * the last) of a month.
 */
static int64_t
NthSundayUtc(int year, int month, int n, int hour)
{
	struct tm	tm;
	int64_t		t;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = 1;
	tm.tm_hour = hour;
	if (n < 0)
	{
		/* last Sunday: start from the last day and walk back */
		tm.tm_mon += 1;
		tm.tm_mday = 0;
		t = timegm(&tm);
		gmtime_r(&(time_t) {t}, &tm);
		return t - (int64_t) tm.tm_wday * 86400;
	}
	t = timegm(&tm);
	gmtime_r(&(time_t) {t}, &tm);
	return t + (int64_t) (((7 - tm.tm_wday) % 7) + 7 * (n - 1)) * 86400;
}

/*
 * UtcOffsetUtc is the UTC zone.
 */
static int64_t
UtcOffsetUtc(int64_t epoch, void *arg)
{
	(void) epoch;
	(void) arg;
	return 0;
}

/*
 * UtcOffsetBerlin follows the EU rule: CET (+1) and CEST (+2) from the last
 * Sunday of March to the last Sunday of October, changing at 01:00 UTC.
 */
static int64_t
UtcOffsetBerlin(int64_t epoch, void *arg)
{
	time_t		t = (time_t) epoch;
	struct tm	tm;
	int64_t		start;
	int64_t		end;

	(void) arg;
	gmtime_r(&t, &tm);
	start = NthSundayUtc(tm.tm_year + 1900, 3, -1, 1);
	end = NthSundayUtc(tm.tm_year + 1900, 10, -1, 1);
	return (epoch >= start && epoch < end) ? 7200 : 3600;
}

/*
 * UtcOffsetNewYork follows the US rule since 2007: EST (-5) and EDT (-4) from
 * the second Sunday of March 02:00 EST (07:00 UTC) to the first Sunday of
 * November 02:00 EDT (06:00 UTC).
 */
static int64_t
UtcOffsetNewYork(int64_t epoch, void *arg)
{
	time_t		t = (time_t) epoch;
	struct tm	tm;
	int64_t		start;
	int64_t		end;

	(void) arg;
	gmtime_r(&t, &tm);
	start = NthSundayUtc(tm.tm_year + 1900, 3, 2, 7);
	end = NthSundayUtc(tm.tm_year + 1900, 11, 1, 6);
	return (epoch >= start && epoch < end) ? -14400 : -18000;
}

/*
 * UtcOffsetSystem asks the C library for the offset of the zone in $TZ.
 */
static int64_t
UtcOffsetSystem(int64_t epoch, void *arg)
{
	time_t		t = (time_t) epoch;
	struct tm	tm;

	(void) arg;
	localtime_r(&t, &tm);
	return tm.tm_gmtoff;
}

static const CronZone zone_utc = {UtcOffsetUtc, NULL};
static const CronZone zone_berlin = {UtcOffsetBerlin, NULL};
static const CronZone zone_new_york = {UtcOffsetNewYork, NULL};

typedef struct FireCase
{
	const CronZone *zone;
	const char *expr;
	const char *after;			/* UTC */
	const char *expected[6];	/* UTC, NULL-terminated */
	const char *why;
} FireCase;

static const FireCase fire_cases[] = {
	{&zone_utc, "* * * * *", "2024-01-01 00:00:00",
	{"2024-01-01 00:01:00", "2024-01-01 00:02:00"}, "every minute, strictly after"},
	{&zone_utc, "* * * * *", "2024-01-01 00:00:59",
	{"2024-01-01 00:01:00"}, "every minute from mid-minute"},
	{&zone_utc, "*/15 * * * *", "2024-01-01 00:07:30",
	{"2024-01-01 00:15:00", "2024-01-01 00:30:00", "2024-01-01 00:45:00", "2024-01-01 01:00:00"},
	"step over star"},
	{&zone_utc, "5-10/2 * * * *", "2024-01-01 00:00:00",
	{"2024-01-01 00:05:00", "2024-01-01 00:07:00", "2024-01-01 00:09:00", "2024-01-01 01:05:00"},
	"step over range"},
	{&zone_utc, "5/20 * * * *", "2024-01-01 00:00:00",
	{"2024-01-01 00:05:00", "2024-01-01 00:25:00", "2024-01-01 00:45:00", "2024-01-01 01:05:00"},
	"start/step means start-max/step"},
	{&zone_utc, "0,30 8-9 * * *", "2024-01-01 09:30:00",
	{"2024-01-02 08:00:00", "2024-01-02 08:30:00", "2024-01-02 09:00:00"}, "lists and ranges"},
	{&zone_utc, "0 0 31 * *", "2024-01-31 00:00:00",
	{"2024-03-31 00:00:00", "2024-05-31 00:00:00", "2024-07-31 00:00:00", "2024-08-31 00:00:00"},
	"day 31 skips short months"},
	{&zone_utc, "0 0 30 * *", "2024-01-30 00:00:00",
	{"2024-03-30 00:00:00", "2024-04-30 00:00:00"}, "day 30 skips February"},
	{&zone_utc, "59 23 31 12 *", "2024-12-31 23:59:00",
	{"2025-12-31 23:59:00"}, "year end"},
	{&zone_utc, "0 12 29 2 *", "2023-03-01 00:00:00",
	{"2024-02-29 12:00:00", "2028-02-29 12:00:00", "2032-02-29 12:00:00"}, "leap day"},
	{&zone_utc, "0 0 29 2 *", "2096-03-01 00:00:00",
	{"2104-02-29 00:00:00"}, "2100 is not a leap year"},
	{&zone_utc, "0 0 29 2 *", "1999-03-01 00:00:00",
	{"2000-02-29 00:00:00"}, "2000 is a leap year"},
	{&zone_utc, "0 0 28-31 2 *", "2023-02-27 00:00:00",
	{"2023-02-28 00:00:00", "2024-02-28 00:00:00", "2024-02-29 00:00:00"}, "end of February"},
	{&zone_utc, "0 0 1,15 * 1", "2024-01-01 00:00:00",
	{"2024-01-08 00:00:00", "2024-01-15 00:00:00", "2024-01-22 00:00:00",
	"2024-01-29 00:00:00", "2024-02-01 00:00:00", "2024-02-05 00:00:00"},
	"Vixie: both day fields restricted means either"},
	{&zone_utc, "0 0 */2 * 1", "2024-01-01 00:00:00",
	{"2024-01-15 00:00:00", "2024-01-29 00:00:00", "2024-02-05 00:00:00", "2024-02-19 00:00:00"},
	"Vixie: a day-of-month field starting with * means both"},
	{&zone_utc, "0 9 * * mon-fri", "2024-01-05 09:00:00",
	{"2024-01-08 09:00:00", "2024-01-09 09:00:00"}, "weekday names skip the weekend"},
	{&zone_utc, "30 2 * JAN,jul Sun", "2024-01-29 00:00:00",
	{"2024-07-07 02:30:00", "2024-07-14 02:30:00"}, "month and day names, any case"},
	{&zone_utc, "0 0 * * 7", "2024-01-01 00:00:00",
	{"2024-01-07 00:00:00"}, "day-of-week 7 is Sunday"},
	{&zone_utc, "0 0 * * 5-7", "2024-01-01 00:00:00",
	{"2024-01-05 00:00:00", "2024-01-06 00:00:00", "2024-01-07 00:00:00", "2024-01-12 00:00:00"},
	"range ending at 7"},
	{&zone_utc, "@yearly", "2024-06-01 00:00:00", {"2025-01-01 00:00:00"}, "@yearly"},
	{&zone_utc, "@annually", "2024-06-01 00:00:00", {"2025-01-01 00:00:00"}, "@annually"},
	{&zone_utc, "@monthly", "2024-01-31 23:59:59", {"2024-02-01 00:00:00"}, "@monthly"},
	{&zone_utc, "@weekly", "2024-01-01 00:00:00", {"2024-01-07 00:00:00"}, "@weekly is Sunday"},
	{&zone_utc, "@daily", "2024-02-28 00:00:00",
	{"2024-02-29 00:00:00", "2024-03-01 00:00:00"}, "@daily across a leap day"},
	{&zone_utc, "@hourly", "2024-12-31 23:00:00", {"2025-01-01 00:00:00"}, "@hourly across a year"},

	/* Europe/Berlin: 2024-03-31 02:00 CET -> 03:00 CEST at 01:00 UTC */
	{&zone_berlin, "0 0 * * *", "2024-07-01 00:00:00",
	{"2024-07-01 22:00:00", "2024-07-02 22:00:00"}, "local midnight in summer"},
	{&zone_berlin, "30 2 * * *", "2024-03-30 02:00:00",
	{"2024-03-31 01:00:00", "2024-04-01 00:30:00"},
	"skipped 02:30 fires at the change (03:00 CEST)"},
	{&zone_berlin, "*/30 * * * *", "2024-03-31 00:15:00",
	{"2024-03-31 00:30:00", "2024-03-31 01:00:00", "2024-03-31 01:30:00"},
	"02:00, 02:30 and 03:00 collapse into one firing at 03:00"},
	{&zone_berlin, "0 3 * * *", "2024-03-30 12:00:00",
	{"2024-03-31 01:00:00", "2024-04-01 01:00:00"}, "03:00 exists on the spring night"},
	/* Europe/Berlin: 2024-10-27 03:00 CEST -> 02:00 CET at 01:00 UTC */
	{&zone_berlin, "30 2 * * *", "2024-10-26 12:00:00",
	{"2024-10-27 00:30:00", "2024-10-28 01:30:00"},
	"repeated 02:30 fires once, at its first occurrence"},
	{&zone_berlin, "*/20 * * * *", "2024-10-27 00:30:00",
	{"2024-10-27 00:40:00", "2024-10-27 02:00:00", "2024-10-27 02:20:00"},
	"nothing fires again in the repeated hour"},
	/* America/New_York: 2024-03-10 02:00 EST -> 03:00 EDT; 2024-11-03 02:00 EDT -> 01:00 EST */
	{&zone_new_york, "0 2 * * *", "2024-03-09 12:00:00",
	{"2024-03-10 07:00:00", "2024-03-11 06:00:00"}, "skipped 02:00 fires at 03:00 EDT"},
	{&zone_new_york, "30 1 * * *", "2024-11-02 12:00:00",
	{"2024-11-03 05:30:00", "2024-11-04 06:30:00"}, "repeated 01:30 fires at 01:30 EDT only"},
	{&zone_new_york, "30 1 * * *", "2024-11-03 06:10:00",
	{"2024-11-04 06:30:00"}, "from inside the repeated hour, the repeat does not fire"},
	{&zone_new_york, "0 0 1 * *", "2024-10-15 00:00:00",
	{"2024-11-01 04:00:00", "2024-12-01 05:00:00"}, "month start across the change"},
};

typedef struct ParseCase
{
	const char *text;
	int64_t		interval_secs;	/* 0: a calendar */
} ParseCase;

static const ParseCase parse_ok_cases[] = {
	{"every 30 seconds", 30},
	{"every 1 second", 1},
	{"every 60 minutes", 3600},
	{"every 2 hours", 7200},
	{"every minute", 60},
	{"EVERY 5 Minutes", 300},
	{"every 1 day", 86400},
	{"30 seconds", 30},
	{"1 hour 30 minutes", 5400},
	{"90s", 90},
	{"2 weeks", 14 * 86400},
	{"01:30:00", 5400},
	{"00:00:05", 5},
	{"1 day 02:00", 93600},
	{"  0 2 * * *  ", 0},
	{"0 0 29 2 *", 0},
	{"@daily", 0},
};

typedef struct ErrorCase
{
	const char *text;
	const char *message_part;
} ErrorCase;

static const ErrorCase parse_error_cases[] = {
	{"61 * * * *", "Field 1 (minute) \"61\": 61 is outside the range 0-59"},
	{"* 24 * * *", "Field 2 (hour)"},
	{"* * 0 * *", "Field 3 (day-of-month)"},
	{"* * 32 * *", "Field 3 (day-of-month)"},
	{"* * * 13 *", "Field 4 (month)"},
	{"* * * foo *", "\"foo\" is not a month name"},
	{"* * * * 8", "Field 5 (day-of-week)"},
	{"* * * * funday", "is not a day name"},
	{"5-1 * * * *", "runs backwards"},
	{"*/0 * * * *", "the step must be between 1 and 60"},
	{"*/61 * * * *", "the step must be between 1 and 60"},
	{"1-/2 * * * *", "Field 1 (minute)"},
	{"1,,2 * * * *", "Field 1 (minute)"},
	{"1- * * * *", "a value is missing"},
	{"0 0 31 2 *", "never fires"},
	{"0 0 30,31 2 *", "never fires"},
	{"0 0 31 4,6,9,11 *", "never fires"},
	{"* * * *", "this one has 4 fields"},
	{"* * * * * *", "more than 5 fields"},
	{"", "empty"},
	{"   ", "empty"},
	{"every 0 seconds", "at least 1 second"},
	{"every 2 months", "Months and years have no fixed length"},
	{"every 5 fortnights", "\"fortnights\" is not an interval unit"},
	{"every", "empty"},
	{"every soon", "is not a number"},
	{"30", "has no unit"},
	{"every 99999999999 hours", "longer than ten years"},
	{"@reboot", "not supported"},
	{"@often", "Unknown macro"},
	{"01:99", "between 0 and 59"},
};

/*
 * TestFireCases checks each expression's fire times against the table.
 */
static void
TestFireCases(void)
{
	for (size_t i = 0; i < sizeof(fire_cases) / sizeof(fire_cases[0]); i++)
	{
		const FireCase *fc = &fire_cases[i];
		CronSchedule s;
		char		err[256];
		char		what[300];
		char		detail[400] = "";
		int64_t		t = ParseUtc(fc->after);
		int			ok = 1;

		if (CronParse(fc->expr, &s, err, sizeof(err)) != 0)
		{
			snprintf(detail, sizeof(detail), "parse failed: %s", err);
			ok = 0;
		}
		for (int k = 0; ok && k < 6 && fc->expected[k] != NULL; k++)
		{
			int64_t		next;
			char		got[32];

			if (!CronNextFire(&s, t, fc->zone, &next))
			{
				snprintf(detail, sizeof(detail), "no fire after %lld, expected %s",
						 (long long) t, fc->expected[k]);
				ok = 0;
				break;
			}
			if (next != ParseUtc(fc->expected[k]))
			{
				FormatUtc(next, got, sizeof(got));
				snprintf(detail, sizeof(detail), "fire %d: got %s, expected %s", k + 1, got,
						 fc->expected[k]);
				ok = 0;
				break;
			}
			t = next;
		}
		snprintf(what, sizeof(what), "\"%s\" after %s: %s", fc->expr, fc->after, fc->why);
		Ok(ok, what, detail);
	}
}

/*
 * TestParse checks accepted schedules and the error messages of rejected ones.
 */
static void
TestParse(void)
{
	for (size_t i = 0; i < sizeof(parse_ok_cases) / sizeof(parse_ok_cases[0]); i++)
	{
		const ParseCase *pc = &parse_ok_cases[i];
		CronSchedule s;
		char		err[256];
		char		what[300];
		int			rc = CronParse(pc->text, &s, err, sizeof(err));
		int			ok;

		if (pc->interval_secs > 0)
			ok = rc == 0 && s.kind == CRON_KIND_INTERVAL && s.interval_secs == pc->interval_secs;
		else
			ok = rc == 0 && s.kind == CRON_KIND_CALENDAR;
		snprintf(what, sizeof(what), "parses \"%s\"", pc->text);
		Ok(ok, what, rc == 0 ? "wrong kind or period" : err);
	}
	for (size_t i = 0; i < sizeof(parse_error_cases) / sizeof(parse_error_cases[0]); i++)
	{
		const ErrorCase *ec = &parse_error_cases[i];
		CronSchedule s;
		char		err[512];
		char		what[300];
		char		detail[700];
		int			rc = CronParse(ec->text, &s, err, sizeof(err));

		snprintf(what, sizeof(what), "rejects \"%s\" saying \"%s\"", ec->text, ec->message_part);
		snprintf(detail, sizeof(detail), "rc %d, message: %s", rc, err);
		Ok(rc != 0 && strstr(err, ec->message_part) != NULL, what, detail);
	}
	Ok(CronParse(NULL, &(CronSchedule) {0}, (char[64]) {0}, 64) != 0, "rejects a null text", NULL);
}

/*
 * TestBitsAndHelpers checks field bit sets, calendar helpers and the
 * interval grid.
 */
static void
TestBitsAndHelpers(void)
{
	CronSchedule s;
	char		err[256];

	CronParse("0-4,58 */12 1,31 feb-apr sat,sun", &s, err, sizeof(err));
	Ok(s.minutes == (UINT64_C(0x1f) | (UINT64_C(1) << 58)), "minute bits", NULL);
	Ok(s.hours == ((1u << 0) | (1u << 12)), "hour bits", NULL);
	Ok(s.days_of_month == ((1u << 1) | (1u << 31)), "day-of-month bits", NULL);
	Ok(s.months == ((1u << 2) | (1u << 3) | (1u << 4)), "month bits from names", NULL);
	Ok(s.days_of_week == ((1u << 0) | (1u << 6)), "day-of-week bits from names", NULL);
	Ok(!s.dom_star && !s.dow_star, "restricted day fields", NULL);
	CronParse("0 0 */3 * *", &s, err, sizeof(err));
	Ok(s.dom_star && s.dow_star && s.days_of_month == ((1u << 1) | (1u << 4) | (1u << 7) |
													  (1u << 10) | (1u << 13) | (1u << 16) |
													  (1u << 19) | (1u << 22) | (1u << 25) |
													  (1u << 28) | (1u << 31)),
	   "*/3 in day-of-month starts at 1 and counts as *", NULL);

	Ok(CronDaysInMonth(2024, 2) == 29 && CronDaysInMonth(2023, 2) == 28 &&
	   CronDaysInMonth(1900, 2) == 28 && CronDaysInMonth(2000, 2) == 29 &&
	   CronDaysInMonth(2024, 4) == 30 && CronDaysInMonth(2024, 12) == 31, "days in month", NULL);
	Ok(CronWeekday(2024, 1, 1) == 1 && CronWeekday(1970, 1, 1) == 4 &&
	   CronWeekday(2000, 2, 29) == 2 && CronWeekday(1969, 12, 31) == 3, "weekday", NULL);

	Ok(CronNextInterval(100, 10, 100) == 110, "interval: next after the anchor", NULL);
	Ok(CronNextInterval(100, 10, 135) == 140, "interval: overdue runs once and keeps the grid", NULL);
	Ok(CronNextInterval(200, 10, 150) == 200, "interval: a future anchor stands", NULL);

	CronParse("every 30 seconds", &s, err, sizeof(err));
	{
		int64_t		next = 0;

		Ok(CronNextFire(&s, 1000, &zone_utc, &next) && next == 1030, "interval next fire", NULL);
	}
}

/*
 * TestCivilConversion checks civil <-> instant conversion in the gap and the
 * overlap, and round trips over many years.
 */
static void
TestCivilConversion(void)
{
	CronCivil	c = {2024, 3, 31, 2, 30, 0};
	int64_t		e;
	bool		exact;
	int			bad = 0;

	exact = CronEpochFromCivil(&c, &zone_berlin, &e);
	Ok(!exact && e == ParseUtc("2024-03-31 01:00:00"), "a skipped time maps to the change", NULL);
	c = (CronCivil) {2024, 10, 27, 2, 30, 0};
	exact = CronEpochFromCivil(&c, &zone_berlin, &e);
	Ok(exact && e == ParseUtc("2024-10-27 00:30:00"), "a repeated time maps to its first occurrence", NULL);

	for (int64_t t = ParseUtc("1999-12-25 00:00:00"); t < ParseUtc("2030-01-01 00:00:00");
		 t += 7 * 3600 + 13 * 60 + 7)
	{
		CronCivil	civ;
		int64_t		back;

		CronCivilFromEpoch(t, &zone_new_york, &civ);
		CronEpochFromCivil(&civ, &zone_new_york, &back);
		/* only the second occurrence of a repeated hour maps elsewhere */
		if (back != t && back != t - 3600)
			bad++;
	}
	Ok(bad == 0, "civil round trip over 30 years", NULL);
}

/*
 * TestSystemZone compares the hand-coded zones with the system tz database,
 * when it has them.
 */
static void
TestSystemZone(void)
{
	static const struct
	{
		const char *tz;
		const CronZone *zone;
	}			zones[] = {
		{"Europe/Berlin", &zone_berlin},
		{"America/New_York", &zone_new_york},
	};

	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
	{
		char		path[128];
		char		what[128];
		FILE	   *f;
		int			bad = 0;

		snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", zones[i].tz);
		snprintf(what, sizeof(what), "hand-coded %s agrees with the tz database 2008-2030",
				 zones[i].tz);
		f = fopen(path, "r");
		if (f == NULL)
		{
			test_count++;
			printf("ok %d - # SKIP %s not installed\n", test_count, path);
			continue;
		}
		fclose(f);
		setenv("TZ", zones[i].tz, 1);
		tzset();
		for (int64_t t = ParseUtc("2008-01-01 00:00:00"); t < ParseUtc("2030-01-01 00:00:00");
			 t += 1800)
		{
			if (UtcOffsetSystem(t, NULL) != zones[i].zone->utc_offset(t, NULL))
				bad++;
		}
		Ok(bad == 0, what, NULL);
	}
}

int
main(void)
{
	TestParse();
	TestBitsAndHelpers();
	TestCivilConversion();
	TestFireCases();
	TestSystemZone();
	printf("1..%d\n", test_count);
	return failures == 0 ? 0 : 1;
}
