/*
 * health.c — waiting for a service that was just started to be healthy,
 * per its manifest health check (SPEC §3), the way container engines do:
 * checks every interval, a start period whose failures do not count, and
 * `retries` consecutive failures after it. Unlike them it also watches the
 * process, so a service that dies while it starts fails the wait at once
 * instead of after its whole start period.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berth.h"

/* Manifest defaults, for zero fields of a hand-made health config. */
#define HEALTH_INTERVAL_DEFAULT_S 2
#define HEALTH_TIMEOUT_DEFAULT_S  5
#define HEALTH_RETRIES_DEFAULT    3
/* How often the process is looked at while waiting. */
#define HEALTH_POLL_MS 100
/* A health endpoint's answer is read up to this size. */
#define HEALTH_MAX_RESPONSE ((size_t)1 << 20)

static void sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void add_log_tail(struct health_result *res, const struct health_opts *o)
{
	struct buf tail;

	if (o->log_tail == NULL)
		return;
	buf_init(&tail, (size_t)1 << 20);
	o->log_tail(&tail, o->arg);
	if (tail.len > 0)
		res->log_tail = buf_detach(&tail);
	buf_release(&tail);
}

/* Asks the driver's own verdict into *v; when it is unhealthy, res says
 * so and why, and it returns false. */
static bool verdict_ok(struct health_result *res, enum health_verdict *v,
                       const struct health_opts *o, int64_t start,
                       int64_t period_end)
{
	struct buf why;

	*v = HEALTH_VERDICT_NONE;
	if (o->verdict == NULL)
		return true;
	buf_init(&why, 1024);
	*v = o->verdict(&why, o->arg);
	if (*v != HEALTH_VERDICT_UNHEALTHY) {
		buf_release(&why);
		return true;
	}
	res->healthy = false;
	res->verdict_failed = true;
	res->in_start_period = strnum_mono_ms() < period_end;
	free(res->reason);
	res->reason = why.len > 0 ? buf_detach(&why)
	                          : xstrdup("its own health check failed");
	add_log_tail(res, o);
	res->duration_ms = strnum_mono_ms() - start;
	buf_release(&why);
	return false;
}

/* Whether the service still runs and its driver does not call it
 * unhealthy; when not, res says so and why. *v (may be NULL) receives the
 * driver's verdict. */
static bool still_alive(struct health_result *res, enum health_verdict *v,
                        const struct health_opts *o, int64_t start,
                        int64_t period_end, const char *when)
{
	enum health_verdict ignored;
	struct buf why;
	int64_t now;
	bool known;

	if (v == NULL)
		v = &ignored;
	*v = HEALTH_VERDICT_NONE;
	if (o->alive == NULL)
		return verdict_ok(res, v, o, start, period_end);
	buf_init(&why, 1024);
	if (o->alive(&why, o->arg)) {
		buf_release(&why);
		return verdict_ok(res, v, o, start, period_end);
	}
	now = strnum_mono_ms();
	res->healthy = false;
	res->exited = true;
	res->in_start_period = now < period_end;
	free(res->reason);
	/* "exited during its start period: exited 1"; after the start
	 * period the driver's words alone ("killed by SIGKILL"). */
	known = why.len > 0 && strcmp(buf_str(&why), "exited") != 0;
	if (!res->in_start_period && known)
		res->reason = buf_detach(&why);
	else
		res->reason =
		    xasprintf("exited%s%s%s", res->in_start_period ? when : "",
		              known ? ": " : "", known ? buf_str(&why) : "");
	add_log_tail(res, o);
	res->duration_ms = now - start;
	buf_release(&why);
	return false;
}

/* Sleeps until the monotonic time `until`, looking at the process every
 * HEALTH_POLL_MS. Returns false as soon as it is gone. */
static bool wait_alive(struct health_result *res, const struct health_opts *o,
                       int64_t start, int64_t period_end, int64_t until,
                       const char *when)
{
	for (;;) {
		int64_t left = until - strnum_mono_ms();

		if (!still_alive(res, NULL, o, start, period_end, when))
			return false;
		if (left <= 0)
			return true;
		sleep_ms(left < HEALTH_POLL_MS ? left : HEALTH_POLL_MS);
	}
}

/*
 * After the manifest's check passed: while the driver's own check is still
 * starting, waits for its verdict (at most HEALTH_VERDICT_MAX_MS), still
 * watching the process. Returns 0 healthy, -1 not (res says why).
 */
static int wait_verdict(struct health_result *res, const struct health_opts *o,
                        int64_t start, int64_t period_end, const char *when)
{
	int64_t deadline = strnum_mono_ms() + HEALTH_VERDICT_MAX_MS;
	enum health_verdict v;

	for (;;) {
		if (!still_alive(res, &v, o, start, period_end, when))
			return -1;
		if (v != HEALTH_VERDICT_STARTING)
			break;
		if (strnum_mono_ms() >= deadline) {
			res->healthy = false;
			res->verdict_failed = true;
			free(res->reason);
			res->reason =
			    xasprintf("its own health check still says "
			              "starting after %d s",
			              HEALTH_VERDICT_MAX_MS / 1000);
			res->duration_ms = strnum_mono_ms() - start;
			return -1;
		}
		sleep_ms(HEALTH_POLL_MS);
	}
	res->healthy = true;
	res->duration_ms = strnum_mono_ms() - start;
	return 0;
}

/* No health check: healthy once it stayed up for the grace period. */
static int wait_grace(struct health_result *res, const struct health_opts *o,
                      int64_t start)
{
	int grace = o->grace_ms > 0 ? o->grace_ms : HEALTH_GRACE_MS;
	int64_t end = start + grace;
	char when[64];

	snprintf(when, sizeof(when), " within %.1f s of starting",
	         (double)grace / 1000.0);
	if (!wait_alive(res, o, start, end, end, when))
		return -1;
	return wait_verdict(res, o, start, end, when);
}

/* One HTTP check. Returns true when healthy; otherwise *reason (new) says
 * why. */
static bool check_once(struct health_result *res, char **reason,
                       const struct manifest_health *h, int timeout_s)
{
	struct http_request req = {0};
	struct http_response resp;
	struct berr err;
	bool ok = false;

	*reason = NULL;
	req.url = h->http;
	req.timeout_ms = timeout_s * 1000;
	req.max_response = HEALTH_MAX_RESPONSE;
	res->checks++;
	if (http_request(&resp, &req, &err) != 0) {
		res->status = 0;
		*reason = xstrdup(err.msg);
	} else {
		res->status = resp.status;
		ok = resp.status == h->expect_status;
		if (!ok)
			*reason = xasprintf("HTTP %ld", resp.status);
	}
	http_response_release(&resp);
	return ok;
}

int health_wait(struct health_result *res, const struct health_opts *o)
{
	const struct manifest_health *h = &o->svc->health;
	int64_t start = strnum_mono_ms(), period_end, next;
	int interval, timeout, retries;
	const char *when = " during its start period";

	memset(res, 0, sizeof(*res));
	if (!o->svc->has_health || h->http == NULL)
		return wait_grace(res, o, start);
	interval =
	    h->interval_s > 0 ? h->interval_s : HEALTH_INTERVAL_DEFAULT_S;
	timeout = h->timeout_s > 0 ? h->timeout_s : HEALTH_TIMEOUT_DEFAULT_S;
	retries = h->retries > 0 ? h->retries : HEALTH_RETRIES_DEFAULT;
	period_end = start + (int64_t)h->start_period_s * 1000;

	for (;;) {
		int64_t began = strnum_mono_ms();
		char *reason;

		if (!still_alive(res, NULL, o, start, period_end, when))
			return -1;
		next = began + (int64_t)interval * 1000;
		if (check_once(res, &reason, h, timeout)) {
			free(res->reason);
			res->reason = NULL;
			res->in_start_period = began < period_end;
			return wait_verdict(res, o, start, period_end, when);
		}
		free(res->reason);
		res->reason = reason;
		/* A check begun within the start period does not count. */
		if (began >= period_end && ++res->failures >= retries) {
			/* It may have failed because it died meanwhile. */
			if (still_alive(res, NULL, o, start, period_end, when))
				res->duration_ms = strnum_mono_ms() - start;
			return -1;
		}
		if (!wait_alive(res, o, start, period_end, next, when))
			return -1;
	}
}

bool health_probe(char **why, const struct manifest_service *svc, int max_ms)
{
	struct health_result res;
	int timeout_ms;
	bool ok;

	*why = NULL;
	if (!svc->has_health || svc->health.http == NULL)
		return true;
	memset(&res, 0, sizeof(res));
	timeout_ms = (svc->health.timeout_s > 0 ? svc->health.timeout_s
	                                        : HEALTH_TIMEOUT_DEFAULT_S) *
	             1000;
	if (max_ms > 0 && max_ms < timeout_ms)
		timeout_ms = max_ms;
	/* check_once counts in seconds; round a shorter bound up. */
	ok = check_once(&res, why, &svc->health, (timeout_ms + 999) / 1000);
	health_result_release(&res);
	return ok;
}

void health_result_release(struct health_result *res)
{
	if (res == NULL)
		return;
	free(res->reason);
	free(res->log_tail);
	memset(res, 0, sizeof(*res));
}

/* Appends each line of text indented by four spaces. */
static void indent_lines(struct buf *b, const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		size_t n = strcspn(p, "\n");

		buf_puts(b, "\n    ");
		buf_append(b, p, n);
		p += n;
		if (*p == '\n')
			p++;
	}
}

char *health_describe(const struct health_result *res, const char *service)
{
	double s = (double)res->duration_ms / 1000.0;
	struct buf b;

	buf_init(&b, 0);
	if (res->healthy && res->checks == 0)
		buf_printf(&b, "%s running for %.1f s (no health check)",
		           service, s);
	else if (res->healthy)
		buf_printf(&b, "%s healthy in %.1f s (%d check%s)", service, s,
		           res->checks, res->checks == 1 ? "" : "s");
	else if (res->exited)
		buf_printf(&b, "%s %s (after %.1f s)", service,
		           res->reason ? res->reason : "exited", s);
	else if (res->verdict_failed)
		buf_printf(&b, "%s unhealthy (%.1f s): %s", service, s,
		           res->reason ? res->reason : "unknown");
	else
		buf_printf(
		    &b, "%s unhealthy after %d failed check%s (%.1f s): %s",
		    service, res->failures, res->failures == 1 ? "" : "s", s,
		    res->reason ? res->reason : "unknown");
	if (!res->healthy && res->log_tail != NULL)
		indent_lines(&b, res->log_tail);
	return buf_detach(&b);
}
