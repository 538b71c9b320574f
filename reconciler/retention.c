/*
 * retention.c — which backups to keep: the usual grandfather-father-son
 * scheme. Within the daily window the newest backup of each UTC day is
 * kept, within the weekly window the newest of each week, within the
 * monthly window the newest of each month; the newest backup of all and the
 * protected ones are always kept. Pure logic on times, so that tests can
 * pick any clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth.h"

#define DAY_S 86400

/* One window: how far back it reaches and how it groups backups. */
struct window {
	const char *name; /* "daily" */
	int days;
	int64_t (*bucket)(int64_t t);
	void (*label)(char *out, size_t len, int64_t t);
};

static int64_t day_of(int64_t t)
{
	/* Floor division: a time before 1970 still lands in its own day. */
	return t >= 0 ? t / DAY_S : -((-t + DAY_S - 1) / DAY_S);
}

/* Weeks start on Monday; 1970-01-01 was a Thursday. */
static int64_t week_of(int64_t t)
{
	int64_t d = day_of(t) + 3;

	return d >= 0 ? d / 7 : -((-d + 6) / 7);
}

static void utc(struct tm *tm, int64_t t)
{
	time_t tt = (time_t)t;

	memset(tm, 0, sizeof(*tm));
	gmtime_r(&tt, tm);
}

static int64_t month_of(int64_t t)
{
	struct tm tm;

	utc(&tm, t);
	return (int64_t)tm.tm_year * 12 + tm.tm_mon;
}

static void label_day(char *out, size_t len, int64_t t)
{
	struct tm tm;

	utc(&tm, t);
	strftime(out, len, "%Y-%m-%d", &tm);
}

static void label_week(char *out, size_t len, int64_t t)
{
	char day[16];

	/* The week's Monday. */
	label_day(day, sizeof(day), (week_of(t) * 7 - 3) * DAY_S);
	snprintf(out, len, "the week from %s", day);
}

static void label_month(char *out, size_t len, int64_t t)
{
	struct tm tm;

	utc(&tm, t);
	strftime(out, len, "%Y-%m", &tm);
}

/*
 * Keeps, among the items inside w's window, the newest of each bucket.
 * Items already kept for another reason still count as their bucket's
 * newest. Items inside the window that lose get `superseded` set.
 */
static void apply_window(struct retention_item *items, size_t n,
                         const struct window *w, int64_t now, bool *superseded)
{
	size_t i, j;

	if (w->days <= 0)
		return;
	for (i = 0; i < n; i++) {
		int64_t t =
		    items[i].created_at < now ? items[i].created_at : now;
		bool newest = true;
		char label[48];

		if (now - t >= (int64_t)w->days * DAY_S)
			continue;
		for (j = 0; j < n && newest; j++)
			if (j != i &&
			    w->bucket(items[j].created_at) ==
			        w->bucket(items[i].created_at) &&
			    (items[j].created_at > items[i].created_at ||
			     (items[j].created_at == items[i].created_at &&
			      j < i)))
				newest = false;
		if (!newest) {
			superseded[i] = true;
			continue;
		}
		if (items[i].keep)
			continue;
		w->label(label, sizeof(label), items[i].created_at);
		items[i].keep = true;
		snprintf(items[i].reason, sizeof(items[i].reason), "%s %s",
		         w->name, label);
	}
}

void retention_plan(struct retention_item *items, size_t n,
                    const struct backup_retention *r, int64_t now)
{
	const struct window windows[] = {
	    {"daily", r->daily, day_of, label_day},
	    {"weekly", r->weekly, week_of, label_week},
	    {"monthly", r->monthly, month_of, label_month},
	};
	bool *superseded;
	size_t i, newest = 0;

	if (n == 0)
		return;
	superseded = xcalloc(n, sizeof(*superseded));
	for (i = 0; i < n; i++) {
		items[i].keep = items[i].protect;
		snprintf(items[i].reason, sizeof(items[i].reason), "%s",
		         items[i].protect ? "protected" : "");
		if (items[i].created_at > items[newest].created_at)
			newest = i;
	}
	if (r->daily <= 0 && r->weekly <= 0 && r->monthly <= 0) {
		for (i = 0; i < n; i++)
			if (!items[i].keep) {
				items[i].keep = true;
				snprintf(items[i].reason,
				         sizeof(items[i].reason),
				         "no retention window is set");
			}
		free(superseded);
		return;
	}
	if (!items[newest].keep) {
		items[newest].keep = true;
		snprintf(items[newest].reason, sizeof(items[newest].reason),
		         "newest backup");
	}
	for (i = 0; i < BERTH_ARRAY_LEN(windows); i++)
		apply_window(items, n, &windows[i], now, superseded);
	for (i = 0; i < n; i++) {
		char day[16];

		if (items[i].keep)
			continue;
		if (!superseded[i]) {
			snprintf(items[i].reason, sizeof(items[i].reason),
			         "outside every retention window");
			continue;
		}
		label_day(day, sizeof(day), items[i].created_at);
		snprintf(items[i].reason, sizeof(items[i].reason),
		         "a newer backup of its day, week or month (%s) is "
		         "kept",
		         day);
	}
	free(superseded);
}
