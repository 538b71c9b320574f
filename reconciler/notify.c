/*
 * notify.c — telling people how a deployment ended: a Slack incoming
 * webhook or a generic JSON webhook (SPEC §5 step 10).
 *
 * A notifier is outside berth's control: it may be down, slow or
 * misconfigured. So each one gets a few attempts with exponential backoff
 * inside a hard time bound, failures become a line in the log and never a
 * failed deployment, and the URL, which usually is the credential (a Slack
 * webhook's path, a token in a query), is shown only as scheme://host/….
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "berth.h"

#define NOTIFY_ATTEMPTS           3
#define NOTIFY_BACKOFF_MS         500
#define NOTIFY_REQUEST_TIMEOUT_MS 5000
#define NOTIFY_TOTAL_TIMEOUT_MS   10000
#define NOTIFY_MIN_ATTEMPT_MS     100 /* never start an attempt with less left */
#define NOTIFY_MAX_RESPONSE       ((size_t)64 << 10)

static const char *type_name(enum manifest_notify_type t)
{
	return t == MANIFEST_NOTIFY_SLACK ? "slack" : "webhook";
}

/* A JSON string of s, or null. Bytes that are not UTF-8 become '?': a
 * trigger may carry a delivery id a forge sent. */
static json_t *json_str_or_null(const char *s)
{
	json_t *j;
	char *copy, *p;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	if (j != NULL)
		return j;
	copy = xstrdup(s);
	for (p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void notify_slack_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			buf_puts(b, "&amp;");
		else if (*s == '<')
			buf_puts(b, "&lt;");
		else if (*s == '>')
			buf_puts(b, "&gt;");
		else
			buf_putc(b, *s);
	}
}

static void slack_short_sha(struct buf *b, const char *sha)
{
	char *short_sha = xstrndup(sha, 7);

	buf_putc(b, '`');
	notify_slack_escape(b, short_sha);
	buf_putc(b, '`');
	free(short_sha);
}

/* "[production] deployment #12 succeeded: commit `abc1234` (previous
 * `def5678`), 42.1 s, trigger cli" */
static char *slack_text(const struct notify_event *ev)
{
	struct buf b = {0};
	int64_t ms = ev->duration_ms > 0 ? ev->duration_ms : 0;

	buf_putc(&b, '[');
	notify_slack_escape(&b, ev->env ? ev->env : "?");
	buf_printf(&b, "] deployment #%lld ", (long long)ev->deployment_id);
	notify_slack_escape(&b, ev->status ? ev->status : "?");
	if (ev->commit != NULL) {
		buf_puts(&b, ": commit ");
		slack_short_sha(&b, ev->commit);
	}
	if (ev->previous_commit != NULL) {
		buf_puts(&b, " (previous ");
		slack_short_sha(&b, ev->previous_commit);
		buf_putc(&b, ')');
	}
	buf_printf(&b, ", %lld.%lld s", (long long)(ms / 1000),
	           (long long)(ms % 1000 / 100));
	if (ev->trigger != NULL) {
		buf_puts(&b, ", trigger ");
		notify_slack_escape(&b, ev->trigger);
	}
	return buf_detach(&b);
}

char *notify_payload(enum manifest_notify_type type,
                     const struct notify_event *ev)
{
	json_t *o = json_object();
	char when[32], *text, *out;

	if (type == MANIFEST_NOTIFY_SLACK) {
		text = slack_text(ev);
		json_object_set_new(o, "text", json_str_or_null(text));
		free(text);
	} else {
		strnum_iso8601(when, ev->finished_at);
		json_object_set_new(o, "env", json_str_or_null(ev->env));
		json_object_set_new(o, "commit", json_str_or_null(ev->commit));
		json_object_set_new(o, "previous_commit",
		                    json_str_or_null(ev->previous_commit));
		json_object_set_new(o, "status", json_str_or_null(ev->status));
		json_object_set_new(
		    o, "duration_s",
		    json_real((double)ev->duration_ms / 1000.0));
		json_object_set_new(o, "trigger",
		                    json_str_or_null(ev->trigger));
		json_object_set_new(o, "deployment_id",
		                    json_integer(ev->deployment_id));
		json_object_set_new(o, "finished_at", json_string(when));
	}
	/* Ten significant digits print 42.5 as 42.5, not 42.500000000000001. */
	out = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (out == NULL)
		fatal("cannot serialise a notification");
	return out;
}

static struct notify_policy policy_defaults(const struct notify_policy *p)
{
	struct notify_policy d = {NOTIFY_ATTEMPTS, NOTIFY_BACKOFF_MS,
	                          NOTIFY_REQUEST_TIMEOUT_MS,
	                          NOTIFY_TOTAL_TIMEOUT_MS};

	if (p == NULL)
		return d;
	if (p->attempts > 0)
		d.attempts = p->attempts;
	if (p->backoff_ms > 0)
		d.backoff_ms = p->backoff_ms;
	if (p->request_timeout_ms > 0)
		d.request_timeout_ms = p->request_timeout_ms;
	if (p->total_timeout_ms > 0)
		d.total_timeout_ms = p->total_timeout_ms;
	return d;
}

/* Worth another attempt: the receiver may answer next time. */
static bool retryable(int rc, long status)
{
	if (rc != 0)
		return rc != BERTH_ETOOBIG; /* transport error */
	return status >= 500 || status == 429 || status == 408;
}

static void set_detail(struct notify_result *res, char *detail)
{
	free(res->detail);
	res->detail = detail;
}

int notify_send_body(struct notify_result *res, const struct notify_target *t,
                     const char *body, const struct notify_policy *policy)
{
	struct notify_policy p = policy_defaults(policy);
	int64_t start = strnum_mono_ms();
	int64_t deadline = start + p.total_timeout_ms;
	struct http_request req = {0};
	int delay = p.backoff_ms;

	memset(res, 0, sizeof(*res));
	res->type = t->type;
	if (t->url == NULL || t->url[0] == '\0') {
		res->where = xstrdup("(no URL)");
		res->detail = xasprintf("no URL from %s",
		                        t->source ? t->source : "its setting");
		return -1;
	}
	res->where = http_redact_url(t->url, false);
	req.method = "POST";
	req.url = t->url;
	req.body = body;
	req.body_len = strlen(body);
	req.content_type = "application/json";
	req.max_response = NOTIFY_MAX_RESPONSE;

	for (;;) {
		int64_t left = deadline - strnum_mono_ms();
		struct http_response resp;
		struct berr err;
		int rc;

		if (left < 1)
			left = 1; /* 0 would mean http_request's default */
		req.timeout_ms =
		    (int)(left < p.request_timeout_ms ? left
		                                      : p.request_timeout_ms);
		res->attempts++;
		rc = http_request(&resp, &req, &err);
		res->status = resp.status;
		http_response_release(&resp);
		if (rc == 0 && resp.status >= 200 && resp.status < 300) {
			res->sent = true;
			set_detail(res, NULL);
			break;
		}
		/* err never holds the path or query: see http_request. */
		set_detail(res, rc != 0 ? xstrdup(err.msg)
		                        : xasprintf("HTTP %ld", resp.status));
		if (!retryable(rc, resp.status) || res->attempts >= p.attempts)
			break;
		left = deadline - strnum_mono_ms();
		if (left < delay + NOTIFY_MIN_ATTEMPT_MS)
			break;
		/* An early wake-up by a signal only shortens the delay. */
		nanosleep(&(struct timespec){delay / 1000,
		                             (long)(delay % 1000) * 1000000L},
		          NULL);
		delay *= 2;
	}
	res->duration_ms = strnum_mono_ms() - start;
	return res->sent ? 0 : -1;
}

int notify_send(struct notify_result *res, const struct notify_target *t,
                const struct notify_event *ev,
                const struct notify_policy *policy)
{
	char *body = notify_payload(t->type, ev);
	int rc = notify_send_body(res, t, body, policy);

	free(body);
	return rc;
}

size_t notify_send_all(struct notify_result *results,
                       const struct notify_target *targets, size_t n,
                       const struct notify_event *ev,
                       const struct notify_policy *policy)
{
	size_t i, sent = 0;

	for (i = 0; i < n; i++)
		if (notify_send(&results[i], &targets[i], ev, policy) == 0)
			sent++;
	return sent;
}

void notify_result_release(struct notify_result *res)
{
	if (res == NULL)
		return;
	free(res->where);
	free(res->detail);
	res->where = res->detail = NULL;
}

char *notify_describe_result(const struct notify_result *r)
{
	const char *name = type_name(r->type);
	long long ms = (long long)r->duration_ms;

	if (r->sent)
		return xasprintf(
		    "%s %s: sent (HTTP %ld, %d attempt%s, %lld.%lld s)", name,
		    r->where, r->status, r->attempts,
		    r->attempts == 1 ? "" : "s", ms / 1000, ms % 1000 / 100);
	if (r->attempts == 0)
		return xasprintf("%s %s: not sent: %s", name, r->where,
		                 r->detail ? r->detail : "unknown error");
	return xasprintf(
	    "%s %s: not sent after %d attempt%s (%lld.%lld s): %s", name,
	    r->where, r->attempts, r->attempts == 1 ? "" : "s", ms / 1000,
	    ms % 1000 / 100, r->detail ? r->detail : "unknown error");
}
