/*
 * cron.c
 *	  Schedule parser and next-fire computation (pure C, no PostgreSQL headers).
 *
 * Design
 * ------
 * A schedule text is one of
 *   - a five-field cron expression "minute hour day-of-month month day-of-week"
 *     with lists (1,2), ranges (1-5), steps ("10-40/10"; "*" followed by
 *     "/15"; "5/20" meaning "5-max/20"), three-letter month and day names
 *     (jan, mon; any case) and day-of-week 0-7 (0 and 7 are Sunday);
 *   - an @macro: @yearly (@annually), @monthly, @weekly, @daily (@midnight),
 *     @hourly;
 *   - "every N unit" or "every unit" (units: seconds, minutes, hours, days,
 *     weeks and their usual abbreviations);
 *   - an interval literal: "30 seconds", "1 hour 30 minutes", "90s",
 *     "01:30:00", "1 day 02:00".
 * CronParse turns it into a CronSchedule: bit sets for calendars, a period in
 * seconds for intervals.  Errors name the offending field.
 *
 * Day matching follows Vixie cron: when both the day-of-month and the
 * day-of-week fields are restricted, a day matches if EITHER matches; when
 * one of them is written starting with '*' (a step over "*" included), a day must
 * match both (so effectively the other one).  A calendar that can never fire
 * ("0 0 31 2 *") is rejected at parse time.
 *
 * Time: calendars are searched in civil (local wall-clock) time by
 * CronNextCivil, which knows nothing about time zones.  CronNextFire maps the
 * result to an instant through a CronZone, whose only callback reports the
 * UTC offset in force at an instant (the server passes PostgreSQL's
 * pg_localtime for mlops.timezone, the unit tests fixed rules).  From that
 * single primitive this file derives civil->instant conversion, including the
 * two DST cases:
 *   - a local time skipped by a spring-forward change fires once, at the
 *     first valid instant after it (the moment of the change: 02:30 on a
 *     02:00->03:00 night fires at 03:00 new time; several skipped slots
 *     collapse into that one firing);
 *   - a local time repeated by a fall-back change fires once, at its first
 *     occurrence (nothing fires again during the repeated hour).
 * Interval schedules are plain arithmetic on instants and ignore DST.
 */
#include "sched/cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECS_PER_MINUTE 60
#define SECS_PER_HOUR 3600
#define SECS_PER_DAY 86400
/* the longest interval accepted: ten years of seconds, far from overflow */
#define CRON_MAX_INTERVAL_SECS ((int64_t) 10 * 366 * SECS_PER_DAY)
#define CRON_MAX_TEXT 1024

typedef struct CronField
{
	const char *name;
	int			lo;
	int			hi;				/* highest value accepted in the text */
	const char *const *names;	/* value names starting at names_base */
	int			names_base;
} CronField;

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};

static const char *const dow_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const CronField cron_fields[5] = {
	{"minute", 0, 59, NULL, 0},
	{"hour", 0, 23, NULL, 0},
	{"day-of-month", 1, 31, NULL, 0},
	{"month", 1, 12, month_names, 1},
	{"day-of-week", 0, 7, dow_names, 0},
};

typedef struct CronUnit
{
	const char *name;
	int64_t		secs;			/* 0: a unit without a fixed length */
} CronUnit;

static const CronUnit cron_units[] = {
	{"s", 1}, {"sec", 1}, {"secs", 1}, {"second", 1}, {"seconds", 1},
	{"m", SECS_PER_MINUTE}, {"min", SECS_PER_MINUTE}, {"mins", SECS_PER_MINUTE},
	{"minute", SECS_PER_MINUTE}, {"minutes", SECS_PER_MINUTE},
	{"h", SECS_PER_HOUR}, {"hr", SECS_PER_HOUR}, {"hrs", SECS_PER_HOUR},
	{"hour", SECS_PER_HOUR}, {"hours", SECS_PER_HOUR},
	{"d", SECS_PER_DAY}, {"day", SECS_PER_DAY}, {"days", SECS_PER_DAY},
	{"w", 7 * SECS_PER_DAY}, {"week", 7 * SECS_PER_DAY}, {"weeks", 7 * SECS_PER_DAY},
	{"mon", 0}, {"mons", 0}, {"month", 0}, {"months", 0},
	{"y", 0}, {"year", 0}, {"years", 0},
	{NULL, 0}
};

static void SetError(char *errbuf, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
static int	ParseMacro(const char *text, CronSchedule *out, char *errbuf, size_t errlen);
static int	ParseInterval(const char *text, int64_t *secs, char *errbuf, size_t errlen);
static const CronUnit *FindUnit(const char *word, size_t len);
static int	ParseCronFields(char **fields, CronSchedule *out, char *errbuf, size_t errlen);
static int	ParseField(const CronField *f, int index, const char *text, uint64_t *bits,
					   char *errbuf, size_t errlen);
static int	ParseValue(const CronField *f, int index, const char *field_text,
					   const char **p, int *value, char *errbuf, size_t errlen);
static bool CalendarCanFire(const CronSchedule *s);
static int64_t DaysFromCivil(int year, int month, int day);
static void CivilFromDays(int64_t days, int *year, int *month, int *day);
static int64_t NaiveSeconds(const CronCivil *c);
static void CivilAddMinute(CronCivil *c);

/*
 * CronParse parses a schedule text into *out.  It returns 0 on success and -1
 * on failure, leaving a sentence that explains the problem in errbuf.
 */
int
CronParse(const char *text, CronSchedule *out, char *errbuf, size_t errlen)
{
	char		buf[CRON_MAX_TEXT];
	char	   *fields[6];
	int			nfields = 0;
	size_t		len;
	char	   *p;
	int64_t		secs;
	char		interval_err[256];

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		errbuf[0] = '\0';
	if (text == NULL)
	{
		SetError(errbuf, errlen, "The schedule is null.");
		return -1;
	}
	while (isspace((unsigned char) *text))
		text++;
	len = strlen(text);
	while (len > 0 && isspace((unsigned char) text[len - 1]))
		len--;
	if (len == 0)
	{
		SetError(errbuf, errlen, "The schedule is empty.");
		return -1;
	}
	if (len >= sizeof(buf))
	{
		SetError(errbuf, errlen, "The schedule is longer than %d characters.",
				 CRON_MAX_TEXT - 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		buf[i] = (char) tolower((unsigned char) text[i]);
	buf[len] = '\0';

	if (buf[0] == '@')
		return ParseMacro(buf, out, errbuf, errlen);

	if (strncmp(buf, "every", 5) == 0 &&
		(buf[5] == '\0' || isspace((unsigned char) buf[5])))
	{
		const char *rest = buf + 5;
		const CronUnit *unit;

		while (isspace((unsigned char) *rest))
			rest++;
		/* "every minute": a bare unit means one of it */
		unit = FindUnit(rest, strlen(rest));
		if (unit != NULL && unit->secs > 0)
			secs = unit->secs;
		else if (ParseInterval(rest, &secs, errbuf, errlen) != 0)
			return -1;
		out->kind = CRON_KIND_INTERVAL;
		out->interval_secs = secs;
		return 0;
	}

	/* an interval literal never parses as cron and vice versa */
	if (ParseInterval(buf, &secs, interval_err, sizeof(interval_err)) == 0)
	{
		out->kind = CRON_KIND_INTERVAL;
		out->interval_secs = secs;
		return 0;
	}

	p = buf;
	while (*p != '\0')
	{
		while (isspace((unsigned char) *p))
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (nfields == 6)
			break;
		fields[nfields++] = p;
		while (*p != '\0' && !isspace((unsigned char) *p))
			p++;
	}
	if (nfields == 5)
		return ParseCronFields(fields, out, errbuf, errlen);

	/* neither: explain the interval problem when it looked like one */
	if (isdigit((unsigned char) buf[0]) && nfields < 5 && strpbrk(text, "*,/-") == NULL)
	{
		SetError(errbuf, errlen, "%s", interval_err);
		return -1;
	}
	SetError(errbuf, errlen,
			 "A schedule is a five-field cron expression (minute hour day-of-month month day-of-week), "
			 "an @macro, \"every N seconds|minutes|hours\" or an interval such as \"30 seconds\"; "
			 "this one has %s%d field%s.",
			 nfields == 6 ? "more than " : "", nfields == 6 ? 5 : nfields,
			 nfields == 1 ? "" : "s");
	return -1;
}

/*
 * ParseMacro parses the @macro forms, which stand for fixed cron expressions.
 */
static int
ParseMacro(const char *text, CronSchedule *out, char *errbuf, size_t errlen)
{
	static const struct
	{
		const char *name;
		const char *expansion;
	}			macros[] = {
		{"@yearly", "0 0 1 1 *"},
		{"@annually", "0 0 1 1 *"},
		{"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"},
		{"@daily", "0 0 * * *"},
		{"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"},
	};

	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
	{
		if (strcmp(text, macros[i].name) == 0)
			return CronParse(macros[i].expansion, out, errbuf, errlen);
	}
	if (strcmp(text, "@reboot") == 0)
	{
		SetError(errbuf, errlen,
				 "@reboot is not supported; schedule the job with an interval or a cron expression.");
		return -1;
	}
	SetError(errbuf, errlen,
			 "Unknown macro \"%s\"; the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly.",
			 text);
	return -1;
}

/*
 * ParseInterval parses an interval literal (lower case) into seconds: a
 * sequence of "N unit" terms ("90s" and "90 s" alike) and at most one
 * "HH:MM[:SS]" term.  The total must be at least one second.
 */
static int
ParseInterval(const char *text, int64_t *secs, char *errbuf, size_t errlen)
{
	const char *p = text;
	int64_t		total = 0;
	bool		any = false;
	bool		clock_seen = false;

	while (*p != '\0')
	{
		int64_t		n;
		char	   *end;
		const char *word;
		size_t		wlen;
		const CronUnit *unit;

		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;
		if (!isdigit((unsigned char) *p))
		{
			SetError(errbuf, errlen,
					 "An interval is a sequence of \"number unit\" terms such as \"30 seconds\" or \"1 hour 30 minutes\", or \"HH:MM:SS\"; \"%s\" is not a number.",
					 p);
			return -1;
		}
		errno = 0;
		n = strtoll(p, &end, 10);
		if (errno != 0 || n > CRON_MAX_INTERVAL_SECS)
		{
			SetError(errbuf, errlen, "The interval is longer than ten years.");
			return -1;
		}
		if (*end == ':')
		{
			/* HH:MM[:SS] */
			int64_t		parts[3] = {n, 0, 0};
			int			nparts = 1;

			if (clock_seen)
			{
				SetError(errbuf, errlen, "The interval has more than one HH:MM:SS term.");
				return -1;
			}
			clock_seen = true;
			while (*end == ':' && nparts < 3)
			{
				const char *q = end + 1;

				if (!isdigit((unsigned char) *q))
					break;
				errno = 0;
				parts[nparts] = strtoll(q, &end, 10);
				if (errno != 0 || parts[nparts] > 59)
				{
					SetError(errbuf, errlen,
							 "The minutes and seconds of an HH:MM:SS interval must be between 0 and 59.");
					return -1;
				}
				nparts++;
			}
			if (nparts < 2 || (*end != '\0' && !isspace((unsigned char) *end)))
			{
				SetError(errbuf, errlen, "The interval term \"%s\" is not of the form HH:MM or HH:MM:SS.", p);
				return -1;
			}
			total += parts[0] * SECS_PER_HOUR + parts[1] * SECS_PER_MINUTE + parts[2];
			any = true;
			p = end;
			if (total > CRON_MAX_INTERVAL_SECS)
			{
				SetError(errbuf, errlen, "The interval is longer than ten years.");
				return -1;
			}
			continue;
		}
		p = end;
		while (isspace((unsigned char) *p))
			p++;
		word = p;
		while (isalpha((unsigned char) *p))
			p++;
		wlen = (size_t) (p - word);
		if (wlen == 0)
		{
			SetError(errbuf, errlen,
					 "The number %lld in the interval has no unit; use seconds, minutes, hours, days or weeks.",
					 (long long) n);
			return -1;
		}
		unit = FindUnit(word, wlen);
		if (unit == NULL)
		{
			SetError(errbuf, errlen,
					 "\"%.*s\" is not an interval unit; use seconds, minutes, hours, days or weeks.",
					 (int) wlen, word);
			return -1;
		}
		if (unit->secs == 0)
		{
			SetError(errbuf, errlen,
					 "Months and years have no fixed length; use a cron expression such as \"0 0 1 * *\" instead.");
			return -1;
		}
		if (*p != '\0' && !isspace((unsigned char) *p))
		{
			SetError(errbuf, errlen, "Unexpected \"%s\" in the interval.", p);
			return -1;
		}
		if (n > CRON_MAX_INTERVAL_SECS / unit->secs ||
			total + n * unit->secs > CRON_MAX_INTERVAL_SECS)
		{
			SetError(errbuf, errlen, "The interval is longer than ten years.");
			return -1;
		}
		total += n * unit->secs;
		any = true;
	}
	if (!any)
	{
		SetError(errbuf, errlen, "The interval is empty.");
		return -1;
	}
	if (total < 1)
	{
		SetError(errbuf, errlen, "The interval must be at least 1 second.");
		return -1;
	}
	*secs = total;
	return 0;
}

/*
 * FindUnit looks up an interval unit word of the given length.
 */
static const CronUnit *
FindUnit(const char *word, size_t len)
{
	for (const CronUnit *u = cron_units; u->name != NULL; u++)
	{
		if (strlen(u->name) == len && strncmp(u->name, word, len) == 0)
			return u;
	}
	return NULL;
}

/*
 * ParseCronFields parses the five fields of a cron expression and checks
 * that the result can fire at all.
 */
static int
ParseCronFields(char **fields, CronSchedule *out, char *errbuf, size_t errlen)
{
	uint64_t	bits[5];

	for (int i = 0; i < 5; i++)
	{
		if (ParseField(&cron_fields[i], i, fields[i], &bits[i], errbuf, errlen) != 0)
			return -1;
	}
	out->kind = CRON_KIND_CALENDAR;
	out->minutes = bits[0];
	out->hours = (uint32_t) bits[1];
	out->days_of_month = (uint32_t) bits[2];
	out->months = (uint16_t) bits[3];
	/* day-of-week 7 is Sunday */
	if (bits[4] & (UINT64_C(1) << 7))
		bits[4] = (bits[4] | 1) & ~(UINT64_C(1) << 7);
	out->days_of_week = (uint8_t) bits[4];
	out->dom_star = (fields[2][0] == '*');
	out->dow_star = (fields[4][0] == '*');

	if (!CalendarCanFire(out))
	{
		SetError(errbuf, errlen,
				 "The schedule never fires: no month it allows has the day of month it asks for.");
		return -1;
	}
	return 0;
}

/*
 * ParseField parses one cron field (a comma-separated list of items, each
 * "*", "v" or "a-b", optionally followed by "/step") into a bit set.
 */
static int
ParseField(const CronField *f, int index, const char *text, uint64_t *bits,
		   char *errbuf, size_t errlen)
{
	const char *p = text;

	*bits = 0;
	for (;;)
	{
		int			start;
		int			end;
		int			step = 1;
		bool		star = false;
		bool		range = false;

		if (*p == '*')
		{
			star = true;
			start = f->lo;
			end = f->hi == 7 ? 6 : f->hi;
			p++;
		}
		else
		{
			if (ParseValue(f, index, text, &p, &start, errbuf, errlen) != 0)
				return -1;
			end = start;
			if (*p == '-')
			{
				p++;
				range = true;
				if (ParseValue(f, index, text, &p, &end, errbuf, errlen) != 0)
					return -1;
				if (end < start)
				{
					SetError(errbuf, errlen,
							 "Field %d (%s) \"%s\": the range %d-%d runs backwards.",
							 index + 1, f->name, text, start, end);
					return -1;
				}
			}
		}
		if (*p == '/')
		{
			char	   *stop;
			long		v;
			int			span;

			p++;
			if (!isdigit((unsigned char) *p))
			{
				SetError(errbuf, errlen, "Field %d (%s) \"%s\": a step must be a positive integer.",
						 index + 1, f->name, text);
				return -1;
			}
			errno = 0;
			v = strtol(p, &stop, 10);
			/* "5/20" means "5-max/20" */
			if (!star && !range && start < f->hi)
				end = f->hi == 7 ? 6 : f->hi;
			span = (f->hi == 7 ? 6 : f->hi) - f->lo + 1;
			if (errno != 0 || v < 1 || v > span)
			{
				SetError(errbuf, errlen,
						 "Field %d (%s) \"%s\": the step must be between 1 and %d.",
						 index + 1, f->name, text, span);
				return -1;
			}
			step = (int) v;
			p = stop;
		}
		for (int v = start; v <= end; v += step)
			*bits |= UINT64_C(1) << v;
		if (*p == ',')
		{
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		SetError(errbuf, errlen, "Field %d (%s) \"%s\": unexpected \"%s\".",
				 index + 1, f->name, text, p);
		return -1;
	}
	return 0;
}

/*
 * ParseValue parses one number or name of a cron field at *p and advances *p.
 */
static int
ParseValue(const CronField *f, int index, const char *field_text,
		   const char **p, int *value, char *errbuf, size_t errlen)
{
	const char *s = *p;

	if (isdigit((unsigned char) *s))
	{
		long		v = 0;

		while (isdigit((unsigned char) *s))
		{
			v = v * 10 + (*s - '0');
			if (v > 1000)
				v = 1000;
			s++;
		}
		if (v < f->lo || v > f->hi)
		{
			SetError(errbuf, errlen,
					 "Field %d (%s) \"%s\": %ld is outside the range %d-%d.",
					 index + 1, f->name, field_text, v, f->lo, f->hi);
			return -1;
		}
		*value = (int) v;
		*p = s;
		return 0;
	}
	if (isalpha((unsigned char) *s) && f->names != NULL)
	{
		size_t		len = 0;

		while (isalpha((unsigned char) s[len]))
			len++;
		for (int i = 0; f->names[i] != NULL; i++)
		{
			if (len == 3 && strncmp(s, f->names[i], 3) == 0)
			{
				*value = i + f->names_base;
				*p = s + len;
				return 0;
			}
		}
		SetError(errbuf, errlen,
				 "Field %d (%s) \"%s\": \"%.*s\" is not a %s name (use %s).",
				 index + 1, f->name, field_text, (int) len, s,
				 f->names == month_names ? "month" : "day",
				 f->names == month_names ? "jan, feb, ... dec" : "sun, mon, ... sat");
		return -1;
	}
	if (*s == '\0')
		SetError(errbuf, errlen, "Field %d (%s) \"%s\": a value is missing.",
				 index + 1, f->name, field_text);
	else
		SetError(errbuf, errlen, "Field %d (%s) \"%s\": unexpected \"%s\".",
				 index + 1, f->name, field_text, s);
	return -1;
}

/*
 * CalendarCanFire reports whether some day ever matches.  With either day
 * field unrestricted, a (month, day-of-month) pair must exist; any such pair
 * falls on every weekday within a 28-year cycle.  With both restricted, any
 * allowed weekday matches.
 */
static bool
CalendarCanFire(const CronSchedule *s)
{
	if (!s->dom_star && !s->dow_star)
		return true;
	for (int m = 1; m <= 12; m++)
	{
		int			maxd = (m == 2) ? 29 : CronDaysInMonth(2001, m);

		if (!(s->months & (1u << m)))
			continue;
		for (int d = 1; d <= maxd; d++)
		{
			if (s->days_of_month & (1u << d))
				return true;
		}
	}
	return false;
}

/*
 * CronMatchesDay reports whether a calendar date is a firing day (month,
 * day-of-month and day-of-week, with Vixie's rule for the two day fields).
 */
bool
CronMatchesDay(const CronSchedule *s, int year, int month, int day)
{
	bool		dom_ok;
	bool		dow_ok;

	if (!(s->months & (1u << month)))
		return false;
	dom_ok = (s->days_of_month & (1u << day)) != 0;
	dow_ok = (s->days_of_week & (1u << CronWeekday(year, month, day))) != 0;
	if (s->dom_star || s->dow_star)
		return dom_ok && dow_ok;
	return dom_ok || dow_ok;
}

/*
 * CronNextCivil finds the first civil minute at or after *from (whose seconds
 * are ignored) that the calendar allows.  It returns false if none exists in
 * CRON_SEARCH_YEARS years.
 */
bool
CronNextCivil(const CronSchedule *s, const CronCivil *from, CronCivil *out)
{
	int			y = from->year;
	int			mo = from->month;
	int			d = from->day;
	int			h = from->hour;
	int			mi = from->minute;

	while (y <= from->year + CRON_SEARCH_YEARS)
	{
		if (mo > 12)
		{
			y++;
			mo = 1;
			d = 1;
			h = 0;
			mi = 0;
			continue;
		}
		if (!(s->months & (1u << mo)) || d > CronDaysInMonth(y, mo))
		{
			mo++;
			d = 1;
			h = 0;
			mi = 0;
			continue;
		}
		if (!CronMatchesDay(s, y, mo, d))
		{
			d++;
			h = 0;
			mi = 0;
			continue;
		}
		if (h > 23)
		{
			d++;
			h = 0;
			mi = 0;
			continue;
		}
		if (!(s->hours & (1u << h)))
		{
			h++;
			mi = 0;
			continue;
		}
		if (mi > 59)
		{
			h++;
			mi = 0;
			continue;
		}
		if (!(s->minutes & (UINT64_C(1) << mi)))
		{
			mi++;
			continue;
		}
		out->year = y;
		out->month = mo;
		out->day = d;
		out->hour = h;
		out->minute = mi;
		out->second = 0;
		return true;
	}
	return false;
}

/*
 * CronCivilFromEpoch converts an instant to the civil time of the zone.
 */
void
CronCivilFromEpoch(int64_t epoch, const CronZone *zone, CronCivil *out)
{
	int64_t		local = epoch + zone->utc_offset(epoch, zone->arg);
	int64_t		days = local / SECS_PER_DAY;
	int64_t		rem = local % SECS_PER_DAY;

	if (rem < 0)
	{
		rem += SECS_PER_DAY;
		days--;
	}
	CivilFromDays(days, &out->year, &out->month, &out->day);
	out->hour = (int) (rem / SECS_PER_HOUR);
	out->minute = (int) (rem % SECS_PER_HOUR / SECS_PER_MINUTE);
	out->second = (int) (rem % SECS_PER_MINUTE);
}

/*
 * CronEpochFromCivil converts a civil time of the zone to an instant.  A time
 * that occurs twice (fall back) gives its first occurrence.  A time that does
 * not exist (spring forward) gives the first instant after the gap, and the
 * function returns false; otherwise it returns true.
 *
 * It tries the offsets in force a day before, at, and a day after the naive
 * instant and keeps those that map back to the same civil time; this holds as
 * long as a zone changes its offset at most once in two days.
 */
bool
CronEpochFromCivil(const CronCivil *c, const CronZone *zone, int64_t *epoch)
{
	int64_t		naive = NaiveSeconds(c);
	int64_t		probes[3];
	int64_t		best = 0;
	bool		found = false;
	int64_t		lo;
	int64_t		hi;

	probes[0] = naive - zone->utc_offset(naive - SECS_PER_DAY, zone->arg);
	probes[1] = naive - zone->utc_offset(naive, zone->arg);
	probes[2] = naive - zone->utc_offset(naive + SECS_PER_DAY, zone->arg);
	for (int i = 0; i < 3; i++)
	{
		int64_t		e = probes[i];

		if (e + zone->utc_offset(e, zone->arg) == naive && (!found || e < best))
		{
			best = e;
			found = true;
		}
	}
	if (found)
	{
		*epoch = best;
		return true;
	}

	/*
	 * A gap: find the first instant whose civil time is past the requested
	 * one.  Local time is increasing across a spring-forward change, so a
	 * binary search between the candidates brackets the change.
	 */
	lo = probes[0];
	hi = probes[0];
	for (int i = 1; i < 3; i++)
	{
		if (probes[i] < lo)
			lo = probes[i];
		if (probes[i] > hi)
			hi = probes[i];
	}
	if (lo + zone->utc_offset(lo, zone->arg) > naive)
	{
		*epoch = lo;
		return false;
	}
	while (hi - lo > 1)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (mid + zone->utc_offset(mid, zone->arg) > naive)
			hi = mid;
		else
			lo = mid;
	}
	*epoch = hi;
	return false;
}

/*
 * CronNextFire computes the first firing strictly after the instant "after"
 * (seconds since the epoch).  Interval schedules fire "after" + period;
 * calendars follow the DST rules in the header comment.  It returns false if
 * a calendar never fires again within the search horizon.
 */
bool
CronNextFire(const CronSchedule *s, int64_t after, const CronZone *zone, int64_t *next)
{
	CronCivil	c;

	if (s->kind == CRON_KIND_INTERVAL)
	{
		*next = after + s->interval_secs;
		return true;
	}
	CronCivilFromEpoch(after, zone, &c);
	c.second = 0;
	CivilAddMinute(&c);

	/* each pass skips one civil minute; a repeated hour needs at most 60 */
	for (int guard = 0; guard < 100000; guard++)
	{
		CronCivil	m;
		int64_t		e;

		if (!CronNextCivil(s, &c, &m))
			return false;
		(void) CronEpochFromCivil(&m, zone, &e);
		if (e > after)
		{
			*next = e;
			return true;
		}
		/* its first occurrence has passed (repeated hour): skip it */
		c = m;
		CivilAddMinute(&c);
	}
	return false;
}

/*
 * CronNextInterval returns the first point of the grid anchor + k * period
 * (k >= 0) strictly after "after", so an overdue job is due once, not once
 * per missed slot, and keeps its cadence.
 */
int64_t
CronNextInterval(int64_t anchor, int64_t interval_secs, int64_t after)
{
	int64_t		k;

	if (anchor > after)
		return anchor;
	k = (after - anchor) / interval_secs + 1;
	return anchor + k * interval_secs;
}

/*
 * CronDaysInMonth returns the number of days in a month of the Gregorian
 * calendar.
 */
int
CronDaysInMonth(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return days[month - 1];
}

/*
 * CronWeekday returns the day of the week of a date, Sunday = 0.
 */
int
CronWeekday(int year, int month, int day)
{
	int64_t		days = DaysFromCivil(year, month, day);

	/* 1970-01-01 was a Thursday */
	return (int) (((days % 7) + 11) % 7);
}

/*
 * DaysFromCivil returns the number of days from 1970-01-01 to a date, by
 * counting whole 400-year eras of a calendar whose year starts in March (so
 * the leap day is the last day of the year).
 */
static int64_t
DaysFromCivil(int year, int month, int day)
{
	int64_t		y = year - (month <= 2 ? 1 : 0);
	int64_t		era = (y >= 0 ? y : y - 399) / 400;
	int64_t		year_of_era = y - era * 400;
	int64_t		month_from_march = (month + 9) % 12;
	int64_t		day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
	int64_t		day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

	return era * 146097 + day_of_era - 719468;
}

/*
 * CivilFromDays is the inverse of DaysFromCivil.
 */
static void
CivilFromDays(int64_t days, int *year, int *month, int *day)
{
	int64_t		z = days + 719468;
	int64_t		era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t		day_of_era = z - era * 146097;
	int64_t		year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 -
							   day_of_era / 146096) / 365;
	int64_t		day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
	int64_t		month_from_march = (5 * day_of_year + 2) / 153;
	int			m = (int) (month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);

	*day = (int) (day_of_year - (153 * month_from_march + 2) / 5 + 1);
	*month = m;
	*year = (int) (year_of_era + era * 400 + (m <= 2 ? 1 : 0));
}

/*
 * NaiveSeconds returns the seconds since the epoch of a civil time read as
 * if it were UTC.
 */
static int64_t
NaiveSeconds(const CronCivil *c)
{
	return DaysFromCivil(c->year, c->month, c->day) * SECS_PER_DAY +
		c->hour * SECS_PER_HOUR + c->minute * SECS_PER_MINUTE + c->second;
}

/*
 * CivilAddMinute advances a civil time by one minute, carrying into hours,
 * days, months and years.
 */
static void
CivilAddMinute(CronCivil *c)
{
	if (++c->minute < 60)
		return;
	c->minute = 0;
	if (++c->hour < 24)
		return;
	c->hour = 0;
	if (++c->day <= CronDaysInMonth(c->year, c->month))
		return;
	c->day = 1;
	if (++c->month <= 12)
		return;
	c->month = 1;
	c->year++;
}

/*
 * SetError formats a message into the caller's error buffer.
 */
static void
SetError(char *errbuf, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}
