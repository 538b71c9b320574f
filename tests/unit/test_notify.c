/*
 * test_notify.c — notify.c against tests/fixtures/http_receiver.py on
 * 127.0.0.1 (which records what it receives), a socket that never answers
 * and a closed port. Every URL holds "secret" in its userinfo, path and
 * query: none of it may appear in a result.
 */
#include <signal.h>

#include "berth.h"
#include "check.h"
#include "receiver.h"

#define COMMIT   "0123456789abcdef0123456789abcdef01234567"
#define PREVIOUS "fedcba9876543210fedcba9876543210fedcba98"

static struct receiver rcv;

static const struct notify_event event = {
    .env = "production",
    .commit = COMMIT,
    .previous_commit = PREVIOUS,
    .status = "succeeded",
    .trigger = "webhook:github:72d3162e",
    .deployment_id = 12,
    .duration_ms = 42500,
    .finished_at = 1767614400,
};

/* Fast retries for the tests; the bound stays generous. */
static const struct notify_policy quick = {.attempts = 3, .backoff_ms = 50};

static char *secret_url(const char *path)
{
	return xasprintf(
	    "http://berth:secretpw@127.0.0.1:%d%s/secret-path?token=secret",
	    rcv.port, path);
}

/* Checks that nothing printable of the result shows the URL's secrets. */
static void check_no_secret(const struct notify_result *r)
{
	char *line = notify_describe_result(r);

	CHECK(strstr(r->where, "secret") == NULL);
	CHECK(r->detail == NULL || strstr(r->detail, "secret") == NULL);
	CHECK(strstr(line, "secret") == NULL);
	free(line);
}

/* The requests the receiver got whose path starts with prefix. */
static json_t *received(const char *prefix)
{
	json_t *all = receiver_requests(&rcv), *some = json_array(), *r;
	size_t i;

	json_array_foreach(all, i, r)
	{
		const char *path =
		    json_string_value(json_object_get(r, "path"));

		if (path != NULL && strncmp(path, prefix, strlen(prefix)) == 0)
			json_array_append(some, r);
	}
	json_decref(all);
	return some;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void check_webhook_json(json_t *body, const char *previous)
{
	CHECK(json_is_object(body));
	CHECK_INT(json_object_size(body), 8);
	CHECK_STR(jstr(body, "env"), "production");
	CHECK_STR(jstr(body, "commit"), COMMIT);
	if (previous != NULL)
		CHECK_STR(jstr(body, "previous_commit"), previous);
	else
		CHECK(json_is_null(json_object_get(body, "previous_commit")));
	CHECK_STR(jstr(body, "status"), "succeeded");
	CHECK(json_is_number(json_object_get(body, "duration_s")) &&
	      json_number_value(json_object_get(body, "duration_s")) == 42.5);
	CHECK_STR(jstr(body, "trigger"), "webhook:github:72d3162e");
	CHECK(json_is_integer(json_object_get(body, "deployment_id")) &&
	      json_integer_value(json_object_get(body, "deployment_id")) == 12);
	CHECK_STR(jstr(body, "finished_at"), "2026-01-05T12:00:00Z");
}

static void test_payloads(void)
{
	struct notify_event ev = event;
	json_t *j;
	char *s;

	s = notify_payload(MANIFEST_NOTIFY_WEBHOOK, &ev);
	j = json_loads(s, 0, NULL);
	check_webhook_json(j, PREVIOUS);
	CHECK(strstr(s, "\"duration_s\":42.5,") != NULL);
	json_decref(j);
	free(s);

	/* The first deployment has no previous commit. */
	ev.previous_commit = NULL;
	s = notify_payload(MANIFEST_NOTIFY_WEBHOOK, &ev);
	j = json_loads(s, 0, NULL);
	check_webhook_json(j, NULL);
	json_decref(j);
	free(s);

	ev = event;
	s = notify_payload(MANIFEST_NOTIFY_SLACK, &ev);
	j = json_loads(s, 0, NULL);
	CHECK_INT(json_object_size(j), 1);
	CHECK_STR(
	    jstr(j, "text"),
	    "[production] deployment #12 succeeded: commit `0123456` "
	    "(previous `fedcba9`), 42.5 s, trigger webhook:github:72d3162e");
	json_decref(j);
	free(s);

	/* Slack markup from a trigger is escaped, not interpreted. */
	ev.trigger = "webhook:generic:<!channel>&x";
	ev.previous_commit = NULL;
	ev.status = "rolled_back";
	s = notify_payload(MANIFEST_NOTIFY_SLACK, &ev);
	j = json_loads(s, 0, NULL);
	CHECK_STR(jstr(j, "text"),
	          "[production] deployment #12 rolled_back: commit `0123456`, "
	          "42.5 s, trigger webhook:generic:&lt;!channel&gt;&amp;x");
	json_decref(j);
	free(s);

	/* A warning (rows a restore discarded) goes with the result. */
	ev = event;
	ev.warning = "restoring backup_1.dump discarded 3 rows <x>";
	s = notify_payload(MANIFEST_NOTIFY_WEBHOOK, &ev);
	j = json_loads(s, 0, NULL);
	CHECK_STR(jstr(j, "warning"), ev.warning);
	json_decref(j);
	free(s);
	s = notify_payload(MANIFEST_NOTIFY_SLACK, &ev);
	j = json_loads(s, 0, NULL);
	CHECK(strstr(jstr(j, "text"), "\n:warning: restoring backup_1.dump "
	                              "discarded 3 rows &lt;x&gt;") != NULL);
	json_decref(j);
	free(s);
}

static void test_webhook_delivered(void)
{
	char *url = secret_url("/hook");
	struct notify_target t = {MANIFEST_NOTIFY_WEBHOOK, url,
	                          "DEPLOY_HOOK_URL"};
	struct notify_result r;
	json_t *got, *req, *body;
	char *line, *want;

	CHECK_INT(notify_send(&r, &t, &event, &quick), 0);
	CHECK(r.sent);
	CHECK_INT(r.attempts, 1);
	CHECK_INT(r.status, 200);
	CHECK(r.detail == NULL);
	want = xasprintf("http://127.0.0.1:%d/…", rcv.port);
	CHECK_STR(r.where, want);
	free(want);
	line = notify_describe_result(&r);
	want = xasprintf(
	    "webhook http://127.0.0.1:%d/…: sent (HTTP 200, 1 attempt, ",
	    rcv.port);
	CHECK(strncmp(line, want, strlen(want)) == 0);
	free(want);
	free(line);
	check_no_secret(&r);
	notify_result_release(&r);

	got = received("/hook/");
	CHECK_INT(json_array_size(got), 1);
	req = json_array_get(got, 0);
	CHECK_STR(jstr(req, "method"), "POST");
	CHECK_STR(jstr(json_object_get(req, "headers"), "content-type"),
	          "application/json");
	body = json_loads(jstr(req, "body") ? jstr(req, "body") : "", 0, NULL);
	check_webhook_json(body, PREVIOUS);
	json_decref(body);
	json_decref(got);
	free(url);
}

static void test_slack_delivered(void)
{
	char *url = secret_url("/services/T000/B000");
	struct notify_target t = {MANIFEST_NOTIFY_SLACK, url,
	                          "SLACK_WEBHOOK_URL"};
	struct notify_result r;
	json_t *got, *body;
	const char *text;

	CHECK_INT(notify_send(&r, &t, &event, NULL), 0);
	CHECK(r.sent);
	check_no_secret(&r);
	notify_result_release(&r);

	got = received("/services/T000/B000/");
	CHECK_INT(json_array_size(got), 1);
	text = jstr(json_array_get(got, 0), "body");
	body = json_loads(text ? text : "", 0, NULL);
	CHECK_INT(json_object_size(body), 1);
	text = jstr(body, "text");
	CHECK(text != NULL && strstr(text, "production") != NULL);
	CHECK(text != NULL && strstr(text, "`0123456`") != NULL);
	CHECK(text != NULL && strstr(text, "succeeded") != NULL);
	CHECK(text != NULL && strstr(text, "42.5 s") != NULL);
	CHECK(text != NULL && strstr(text, "webhook:github:72d3162e") != NULL);
	json_decref(body);
	json_decref(got);
	free(url);
}

static void test_retries(void)
{
	char *flaky2 = secret_url("/flaky/2");
	char *flaky9 = secret_url("/flaky/9");
	char *missing = secret_url("/status/404");
	struct notify_target t = {MANIFEST_NOTIFY_WEBHOOK, flaky2, "HOOK"};
	struct notify_result r;
	json_t *got, *b0, *b2;

	/* 500, 500, then 200: sent on the third attempt, same body each time.
	 */
	CHECK_INT(notify_send(&r, &t, &event, &quick), 0);
	CHECK(r.sent);
	CHECK_INT(r.attempts, 3);
	CHECK_INT(r.status, 200);
	check_no_secret(&r);
	notify_result_release(&r);
	got = received("/flaky/2/");
	CHECK_INT(json_array_size(got), 3);
	b0 = json_array_get(got, 0);
	b2 = json_array_get(got, 2);
	CHECK_STR(jstr(b0, "body"), jstr(b2, "body"));
	json_decref(got);

	/* Still failing after the last attempt. */
	t.url = flaky9;
	CHECK_INT(notify_send(&r, &t, &event, &quick), -1);
	CHECK(!r.sent);
	CHECK_INT(r.attempts, 3);
	CHECK_INT(r.status, 500);
	CHECK_STR(r.detail, "HTTP 500");
	check_no_secret(&r);
	notify_result_release(&r);
	got = received("/flaky/9/");
	CHECK_INT(json_array_size(got), 3);
	json_decref(got);

	/* A 4xx will not get better: no retry. */
	t.url = missing;
	CHECK_INT(notify_send(&r, &t, &event, &quick), -1);
	CHECK_INT(r.attempts, 1);
	CHECK_STR(r.detail, "HTTP 404");
	notify_result_release(&r);
	free(missing);
	free(flaky9);
	free(flaky2);
}

static void test_dead_receivers(void)
{
	const struct notify_policy bounded = {.attempts = 3,
	                                      .backoff_ms = 500,
	                                      .request_timeout_ms = 1000,
	                                      .total_timeout_ms = 1500};
	const struct notify_policy tight = {.attempts = 3,
	                                    .request_timeout_ms = 5000,
	                                    .total_timeout_ms = 1200};
	struct notify_target t = {MANIFEST_NOTIFY_SLACK, NULL,
	                          "SLACK_WEBHOOK_URL"};
	struct notify_result r;
	int port, fd = silent_listener(&port), ms = 0;
	char *url, *want, *line;

	/* Never answers: the first attempt uses 1000 ms of the 1500 ms bound,
	 * which leaves no room for a 500 ms backoff and another attempt. */
	url = xasprintf("http://127.0.0.1:%d/secret-path?token=secret", port);
	t.url = url;
	CHECK_INT(notify_send(&r, &t, &event, &bounded), -1);
	CHECK(!r.sent);
	CHECK_INT(r.attempts, 1);
	CHECK_INT(r.status, 0);
	want =
	    xasprintf("request to 127.0.0.1:%d timed out after 1000 ms", port);
	CHECK_STR(r.detail, want);
	free(want);
	check_no_secret(&r);
	notify_result_release(&r);

	/* An attempt never runs past the bound, whatever its own timeout. */
	CHECK_INT(notify_send(&r, &t, &event, &tight), -1);
	CHECK_INT(r.attempts, 1);
	want = xasprintf("request to 127.0.0.1:%d timed out after ", port);
	CHECK(r.detail != NULL && strncmp(r.detail, want, strlen(want)) == 0);
	CHECK(r.detail != NULL &&
	      sscanf(r.detail + strlen(want), "%d ms", &ms) == 1 && ms > 0 &&
	      ms <= 1200);
	free(want);
	notify_result_release(&r);
	free(url);
	close(fd);

	/* A handler that hangs, on the real receiver. */
	url = secret_url("/hang");
	t.url = url;
	CHECK_INT(notify_send(&r, &t, &event, &bounded), -1);
	CHECK_INT(r.attempts, 1);
	check_no_secret(&r);
	notify_result_release(&r);
	free(url);

	/* Refused at once: every attempt is made, quickly. */
	port = refused_port();
	url = xasprintf("http://127.0.0.1:%d/secret-path?token=secret", port);
	t.url = url;
	CHECK_INT(notify_send(&r, &t, &event, &quick), -1);
	CHECK_INT(r.attempts, 3);
	want = xasprintf("cannot connect to 127.0.0.1:%d: Connection refused",
	                 port);
	CHECK_STR(r.detail, want);
	free(want);
	line = notify_describe_result(&r);
	want = xasprintf(
	    "slack http://127.0.0.1:%d/…: not sent after 3 attempts (", port);
	CHECK(strncmp(line, want, strlen(want)) == 0);
	free(want);
	free(line);
	check_no_secret(&r);
	notify_result_release(&r);
	free(url);
}

static void test_send_all(void)
{
	char *good = secret_url("/all");
	char *dead;
	struct notify_target targets[3] = {
	    {MANIFEST_NOTIFY_WEBHOOK, good, "DEPLOY_HOOK_URL"},
	    {MANIFEST_NOTIFY_SLACK, NULL, "SLACK_WEBHOOK_URL"},
	    {MANIFEST_NOTIFY_SLACK, NULL, "OTHER"},
	};
	struct notify_result results[3];
	char *line;
	size_t i;

	dead = xasprintf("http://127.0.0.1:%d/secret", refused_port());
	targets[2].url = dead;
	CHECK_INT(notify_send_all(results, targets, 3, &event, &quick), 1);
	CHECK(results[0].sent);
	CHECK(!results[1].sent);
	CHECK_INT(results[1].attempts, 0);
	CHECK_STR(results[1].detail, "no URL from SLACK_WEBHOOK_URL");
	line = notify_describe_result(&results[1]);
	CHECK_STR(line,
	          "slack (no URL): not sent: no URL from SLACK_WEBHOOK_URL");
	free(line);
	CHECK(!results[2].sent);
	CHECK_INT(results[2].attempts, 3);
	for (i = 0; i < 3; i++) {
		check_no_secret(&results[i]);
		notify_result_release(&results[i]);
	}
	free(dead);
	free(good);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	CHECK_INT(http_client_init(), 0);
	test_payloads();
	receiver_start(&rcv);
	test_webhook_delivered();
	test_slack_delivered();
	test_retries();
	test_dead_receivers();
	test_send_all();
	receiver_stop(&rcv);
	return check_done("test_notify");
}
