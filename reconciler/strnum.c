/*
 * strnum.c — checked conversions between strings and numbers and times.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth.h"

int strnum_i64(int64_t *out, const char *s, int64_t min, int64_t max)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int strnum_int(int *out, const char *s, int min, int max)
{
	int64_t v;

	if (strnum_i64(&v, s, min, max) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

int strnum_hhmm(int *minutes, const char *s)
{
	int h, m;

	if (strlen(s) != 5 || s[2] != ':' || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[3]) ||
	    !isdigit((unsigned char)s[4]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

bool strnum_is_sha(const char *s)
{
	size_t i;

	for (i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[40] == '\0';
}

void strnum_iso8601(char out[32], int64_t t)
{
	/* Log lines and inbox records ask for the same second over and
	 * over: the last one is kept, per thread. */
	static __thread int64_t last_t = INT64_MIN;
	static __thread char last[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t != last_t) {
		if (gmtime_r(&tt, &tm) == NULL ||
		    strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%SZ",
			     &tm) == 0)
			snprintf(last, sizeof(last), "1970-01-01T00:00:00Z");
		last_t = t;
	}
	memcpy(out, last, sizeof(last));
}

int strnum_parse_iso8601(int64_t *t, const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*t = (int64_t)timegm(&tm);
	return 0;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t strnum_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t strnum_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int strnum_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
