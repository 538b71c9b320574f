/*
 * sched.c — when scheduled work is due (docs/drift.md): the daily slot of
 * database.backup.schedule, a local "HH:MM" that has to survive daylight
 * saving time, and the jitter that spreads periodic checks.
 *
 * A daily slot is defined per local calendar day: the first instant of that
 * day at which the local clock reads HH:MM or later. So a time the clock
 * skips (02:30 when it jumps from 02:00 to 03:00) is taken right after the
 * jump, and a time the clock shows twice (01:30 when it falls back from
 * 02:00 to 01:00) is taken the first time only: one slot per day, always.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "berth.h"

/* How far a slot may lie from mktime's guess: more than any zone's
 * daylight saving shift. */
#define SCHED_WINDOW_S (3 * 3600)

/* The local date of t as y/m/d, for comparisons. */
static long local_day(int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return (long)(tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 +
	       tm.tm_mday;
}

/*
 * The slot of the local day that is `days` days after the one holding t
 * (negative: before). Scans minute by minute around mktime's guess, so that
 * the C library's treatment of skipped and repeated times does not matter.
 */
static int64_t slot_of_day(int64_t t, int days, int minute_of_day)
{
	struct tm tm;
	time_t tt = (time_t)t, guess;
	long day;
	int64_t s;

	if (localtime_r(&tt, &tm) == NULL)
		return t;
	/* Noon of the wanted day: noon always exists. */
	tm.tm_mday += days;
	tm.tm_hour = 12;
	tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	guess = mktime(&tm);
	day = local_day((int64_t)guess);
	tm.tm_hour = minute_of_day / 60;
	tm.tm_min = minute_of_day % 60;
	tm.tm_isdst = -1;
	guess = mktime(&tm);
	s = (int64_t)guess - SCHED_WINDOW_S;
	s -= ((s % 60) + 60) % 60;
	for (; s <= (int64_t)guess + SCHED_WINDOW_S; s += 60) {
		struct tm l;
		time_t st = (time_t)s;
		long d;

		if (localtime_r(&st, &l) == NULL)
			break;
		d = (long)(l.tm_year + 1900) * 10000 + (l.tm_mon + 1) * 100 +
		    l.tm_mday;
		if (d > day ||
		    (d == day && l.tm_hour * 60 + l.tm_min >= minute_of_day))
			return s;
	}
	return (int64_t)guess;
}

int64_t sched_daily_next(int64_t after, int minute_of_day)
{
	int days;

	for (days = -1; days <= 2; days++) {
		int64_t s = slot_of_day(after, days, minute_of_day);

		if (s > after)
			return s;
	}
	return after + 24 * 3600;
}

int64_t sched_daily_prev(int64_t at, int minute_of_day)
{
	int days;

	for (days = 1; days >= -2; days--) {
		int64_t s = slot_of_day(at, days, minute_of_day);

		if (s <= at)
			return s;
	}
	return at - 24 * 3600;
}

int64_t sched_jitter_ms(int64_t ms, int pct)
{
	uint32_t r = 0;
	int64_t spread = ms * pct / 100;

	if (spread <= 0)
		return ms;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)strnum_mono_ms();
	return ms - spread + (int64_t)(r % (uint32_t)(2 * spread + 1));
}

int64_t sched_now(void)
{
	const char *s = getenv("BERTH_DEBUG_CLOCK_OFFSET_S");
	int64_t offset = 0;

	if (s != NULL &&
	    strnum_i64(&offset, s, -((int64_t)1 << 40), (int64_t)1 << 40) != 0)
		offset = 0;
	return strnum_now_ms() / 1000 + offset;
}
