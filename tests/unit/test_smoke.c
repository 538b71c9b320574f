/*
 * test_smoke.c — smoke_run against real HTTP on 127.0.0.1: the test
 * receiver (/status/N answers "status N", /hang never answers) and a port
 * nothing listens on.
 */
#include "berth.h"
#include "check.h"
#include "manifest_fixture.h"
#include "receiver.h"

static struct receiver rcv;

struct seen {
	size_t n;
	char *lines[8];
};

static void on_result(const struct smoke_result *r, void *arg)
{
	struct seen *s = arg;

	if (s->n < BERTH_ARRAY_LEN(s->lines))
		s->lines[s->n++] = smoke_format(r);
}

static void seen_release(struct seen *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->lines[i]);
	s->n = 0;
}

static void add(struct manifest *m, const char *name, const char *path,
                int status, const char *body, int timeout_s)
{
	char *url = receiver_url(&rcv, path);

	mf_smoke(m, name, url, status, body, timeout_s);
	free(url);
}

static bool starts_with(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_pass(void)
{
	struct manifest *m = mf_new();
	struct smoke_report r;
	struct seen seen = {0};
	char *s;

	add(m, "backend health", "/status/200", 200, "status 2", 5);
	add(m, "created", "/status/201", 201, NULL, 5);
	CHECK_INT(smoke_run(&r, m, on_result, &seen), 0);
	CHECK_INT(r.n, 2);
	CHECK_INT(r.failed, 0);
	CHECK(r.results[0].ok);
	CHECK_INT(r.results[0].status, 200);
	CHECK(r.results[0].detail == NULL);
	CHECK_STR(r.results[1].name, "created");
	CHECK_INT(r.results[1].status, 201);
	CHECK_INT(seen.n, 2);
	CHECK(starts_with(seen.lines[0], "✓ backend health 200 in "));
	CHECK(starts_with(seen.lines[1], "✓ created 201 in "));
	CHECK(strstr(seen.lines[1], " ms") != NULL);
	s = smoke_summary(&r);
	CHECK_STR(s, "2 passed");
	free(s);
	seen_release(&seen);
	smoke_report_release(&r);
	mf_free(m);

	/* No tests at all passes. */
	m = mf_new();
	CHECK_INT(smoke_run(&r, m, NULL, NULL), 0);
	s = smoke_summary(&r);
	CHECK_STR(s, "no smoke tests");
	free(s);
	smoke_report_release(&r);
	mf_free(m);
}

static void test_failures(void)
{
	struct manifest *m = mf_new();
	int port = refused_port();
	struct smoke_report r;
	struct seen seen = {0};
	char *url = xasprintf("http://127.0.0.1:%d/health", port);
	char *want, *s;

	add(m, "products", "/status/500", 200, NULL, 5);
	add(m, "body", "/status/200", 200, "\"status\":\"ok\"", 5);
	add(m, "slow", "/hang", 200, NULL, 1);
	mf_smoke(m, "down", url, 200, NULL, 5);
	add(m, "fine", "/status/200", 200, NULL, 5);

	/* Every test runs, and the result is failed. */
	CHECK_INT(smoke_run(&r, m, on_result, &seen), -1);
	CHECK_INT(r.n, 5);
	CHECK_INT(r.failed, 4);
	CHECK_INT(seen.n, 5);

	CHECK_INT(r.results[0].status, 500);
	CHECK_STR(seen.lines[0], "✗ products: expected 200, got 500");

	CHECK_STR(r.results[1].detail,
	          "body does not contain \"\\\"status\\\":\\\"ok\\\"\": got "
	          "\"status 200\"");

	want = xasprintf("✗ slow: request to 127.0.0.1:%d timed out after "
	                 "1000 ms",
	                 rcv.port);
	CHECK_STR(seen.lines[2], want);
	free(want);
	CHECK_INT(r.results[2].status, 0);

	want = xasprintf("✗ down: cannot connect to 127.0.0.1:%d: Connection "
	                 "refused",
	                 port);
	CHECK_STR(seen.lines[3], want);
	free(want);

	CHECK(r.results[4].ok);
	CHECK(starts_with(seen.lines[4], "✓ fine 200 in "));

	s = smoke_summary(&r);
	CHECK_STR(s, "4 of 5 failed: products: expected 200, got 500");
	free(s);
	seen_release(&seen);
	smoke_report_release(&r);
	free(url);
	mf_free(m);
}

static void test_excerpt(void)
{
	struct manifest *m = mf_new();
	struct smoke_report r;

	/* A long body is cut; the excerpt is one printable line. */
	add(m, "long", "/bytes/500", 200, "needle", 5);
	CHECK_INT(smoke_run(&r, m, NULL, NULL), -1);
	CHECK_STR(
	    r.results[0].detail,
	    "body does not contain \"needle\": got "
	    "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxx\"…");
	smoke_report_release(&r);
	mf_free(m);
}

int main(void)
{
	receiver_start(&rcv);
	test_pass();
	test_failures();
	test_excerpt();
	receiver_stop(&rcv);
	return check_done("test_smoke");
}
