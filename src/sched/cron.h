/*
 * cron.h
 *	  Schedule parser and next-fire computation (pure C, no PostgreSQL headers).
 *
 * A schedule is either a calendar (five-field cron expression or an @macro) or
 * a fixed interval ("every 30 seconds", "2 hours", "00:05:00").  Calendar
 * schedules are evaluated in a local time whose UTC offset the caller supplies
 * through a callback, so the same code runs against PostgreSQL's timezone
 * library in the server and against a fixed rule in the unit tests.
 */
#ifndef MLOPS_CRON_H
#define MLOPS_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* how far CronNextFire searches before deciding a calendar never fires */
#define CRON_SEARCH_YEARS 30

typedef enum CronKind
{
	CRON_KIND_CALENDAR,
	CRON_KIND_INTERVAL
} CronKind;

typedef struct CronSchedule
{
	CronKind	kind;
	/* interval schedules: period in seconds (>= 1) */
	int64_t		interval_secs;
	/* calendar schedules: one bit per allowed value */
	uint64_t	minutes;		/* bits 0..59 */
	uint32_t	hours;			/* bits 0..23 */
	uint32_t	days_of_month;	/* bits 1..31 */
	uint16_t	months;			/* bits 1..12 */
	uint8_t		days_of_week;	/* bits 0..6, Sunday = 0 */
	/* Vixie's rule: a field written starting with '*' does not restrict */
	bool		dom_star;
	bool		dow_star;
} CronSchedule;

/* a local (civil) time, proleptic Gregorian calendar */
typedef struct CronCivil
{
	int			year;
	int			month;			/* 1..12 */
	int			day;			/* 1..31 */
	int			hour;			/* 0..23 */
	int			minute;			/* 0..59 */
	int			second;			/* 0..59 */
} CronCivil;

/*
 * CronUtcOffsetFunc returns the UTC offset in seconds (east positive) that
 * the local timezone has at the given instant (seconds since 1970-01-01 UTC).
 */
typedef int64_t (*CronUtcOffsetFunc) (int64_t epoch, void *arg);

typedef struct CronZone
{
	CronUtcOffsetFunc utc_offset;
	void	   *arg;
} CronZone;

/* parsing; returns 0 on success, -1 with a sentence in errbuf on failure */
extern int	CronParse(const char *text, CronSchedule *out, char *errbuf, size_t errlen);

/* calendar matching and search in civil time */
extern bool CronMatchesDay(const CronSchedule *s, int year, int month, int day);
extern bool CronNextCivil(const CronSchedule *s, const CronCivil *from, CronCivil *out);

/* civil <-> instant conversion in a zone */
extern void CronCivilFromEpoch(int64_t epoch, const CronZone *zone, CronCivil *out);
extern bool CronEpochFromCivil(const CronCivil *c, const CronZone *zone, int64_t *epoch);

/* next fire strictly after an instant; false if the schedule never fires */
extern bool CronNextFire(const CronSchedule *s, int64_t after, const CronZone *zone,
						 int64_t *next);
extern int64_t CronNextInterval(int64_t anchor, int64_t interval_secs, int64_t after);

/* calendar helpers */
extern int	CronDaysInMonth(int year, int month);
extern int	CronWeekday(int year, int month, int day);

#endif							/* MLOPS_CRON_H */
