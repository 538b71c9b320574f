/*
 * test_sched.c — daily slots across daylight saving time (Europe/Berlin,
 * whose clocks jump on 2026-03-29 and 2026-10-25, and America/Sao_Paulo,
 * which has none any more), and jitter's bounds.
 */
#include <stdlib.h>
#include <time.h>

#include "berth.h"
#include "check.h"

/* Unix time of a UTC date and time. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {0};

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm);
}

static void zone(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void test_ordinary_days(void)
{
	int two = 2 * 60;

	zone("Europe/Berlin");
	/* Winter: 02:00 CET is 01:00 UTC. */
	CHECK_INT(sched_daily_next(utc(2026, 1, 5, 0, 0), two),
	          utc(2026, 1, 5, 1, 0));
	/* At the slot, the next one is tomorrow's. */
	CHECK_INT(sched_daily_next(utc(2026, 1, 5, 1, 0), two),
	          utc(2026, 1, 6, 1, 0));
	CHECK_INT(sched_daily_prev(utc(2026, 1, 5, 1, 0), two),
	          utc(2026, 1, 5, 1, 0));
	CHECK_INT(sched_daily_prev(utc(2026, 1, 5, 0, 59), two),
	          utc(2026, 1, 4, 1, 0));
	/* Summer: 02:00 CEST is 00:00 UTC. */
	CHECK_INT(sched_daily_next(utc(2026, 7, 1, 12, 0), two),
	          utc(2026, 7, 2, 0, 0));
	/* Midnight and the last minute of the day. */
	CHECK_INT(sched_daily_next(utc(2026, 1, 5, 12, 0), 0),
	          utc(2026, 1, 5, 23, 0));
	CHECK_INT(sched_daily_next(utc(2026, 1, 5, 12, 0), 23 * 60 + 59),
	          utc(2026, 1, 5, 22, 59));
	zone("America/Sao_Paulo"); /* UTC-3 all year */
	CHECK_INT(sched_daily_next(utc(2026, 1, 5, 12, 0), 9 * 60 + 30),
	          utc(2026, 1, 5, 12, 30));
}

static void test_spring_forward(void)
{
	zone("Europe/Berlin");
	/* 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC). 02:30 never
	 * shows: the slot is right after the jump. */
	CHECK_INT(sched_daily_next(utc(2026, 3, 28, 12, 0), 2 * 60 + 30),
	          utc(2026, 3, 29, 1, 0));
	/* 03:30 exists: 01:30 UTC. */
	CHECK_INT(sched_daily_next(utc(2026, 3, 28, 12, 0), 3 * 60 + 30),
	          utc(2026, 3, 29, 1, 30));
	/* The day after, 02:30 CEST again. */
	CHECK_INT(sched_daily_next(utc(2026, 3, 29, 1, 0), 2 * 60 + 30),
	          utc(2026, 3, 30, 0, 30));
	/* 01:00, before the jump, is still 01:00 CET (00:00 UTC). */
	CHECK_INT(sched_daily_next(utc(2026, 3, 28, 12, 0), 60),
	          utc(2026, 3, 29, 0, 0));
}

static void test_fall_back(void)
{
	zone("Europe/Berlin");
	/* 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC), so
	 * 02:30 shows twice: 00:30 UTC and 01:30 UTC. Only the first. */
	CHECK_INT(sched_daily_next(utc(2026, 10, 24, 12, 0), 2 * 60 + 30),
	          utc(2026, 10, 25, 0, 30));
	CHECK_INT(sched_daily_next(utc(2026, 10, 25, 0, 30), 2 * 60 + 30),
	          utc(2026, 10, 26, 1, 30));
	CHECK_INT(sched_daily_prev(utc(2026, 10, 25, 1, 45), 2 * 60 + 30),
	          utc(2026, 10, 25, 0, 30));
}

static void test_jitter(void)
{
	int i;

	for (i = 0; i < 1000; i++) {
		int64_t j = sched_jitter_ms(10000, 10);

		CHECK(j >= 9000 && j <= 11000);
	}
	CHECK_INT(sched_jitter_ms(5, 10), 5);
}

static void test_clock_offset(void)
{
	int64_t now = strnum_now_ms() / 1000, off;

	setenv("BERTH_DEBUG_CLOCK_OFFSET_S", "3600", 1);
	off = sched_now() - now;
	CHECK(off >= 3600 && off <= 3602);
	setenv("BERTH_DEBUG_CLOCK_OFFSET_S", "junk", 1);
	off = sched_now() - now;
	CHECK(off >= 0 && off <= 2);
	unsetenv("BERTH_DEBUG_CLOCK_OFFSET_S");
}

int main(void)
{
	test_ordinary_days();
	test_spring_forward();
	test_fall_back();
	test_jitter();
	test_clock_offset();
	return check_done("sched");
}
