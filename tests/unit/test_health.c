/*
 * test_health.c — health_wait against real HTTP on 127.0.0.1 (the test
 * receiver's /status/N, /flaky/K, /hang, and a closed port) and, through
 * the process driver, against real services that stay up, fail or die.
 */
#include <unistd.h>

#include "berth.h"
#include "check.h"
#include "manifest_fixture.h"
#include "receiver.h"
#include "service_fixture.h"

static struct sf f;
static struct receiver rcv;

/* health_wait with no process to watch, for url. */
static int wait_url(struct health_result *res, const char *path,
                    int start_period_s, int timeout_s, int retries)
{
	struct manifest *m = mf_new();
	struct manifest_service *svc;
	struct health_opts o = {0};
	char *url = receiver_url(&rcv, path);
	int rc;

	svc = mf_service(m, "web", (const char *const[]){"true", NULL});
	mf_health(svc, url, start_period_s, 1, timeout_s, retries);
	o.svc = svc;
	rc = health_wait(res, &o);
	free(url);
	mf_free(m);
	return rc;
}

static bool starts_with(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_start_period(void)
{
	struct health_result res;
	char *s;

	/* Two failures, then success: within the start period they do not
	 * count, even with retries 1. */
	CHECK_INT(wait_url(&res, "/flaky/2/a", 60, 5, 1), 0);
	CHECK(res.healthy);
	CHECK_INT(res.checks, 3);
	CHECK_INT(res.failures, 0);
	CHECK(res.in_start_period);
	CHECK(res.reason == NULL);
	CHECK_INT(res.status, 200);
	s = health_describe(&res, "web");
	CHECK(starts_with(s, "web healthy in "));
	CHECK(strstr(s, " s (3 checks)") != NULL);
	free(s);
	health_result_release(&res);

	/* Without a start period the first failure counts. */
	CHECK_INT(wait_url(&res, "/flaky/2/b", 0, 5, 1), -1);
	CHECK(!res.healthy);
	CHECK_INT(res.checks, 1);
	CHECK_INT(res.failures, 1);
	CHECK_STR(res.reason, "HTTP 500");
	health_result_release(&res);

	/* Failures below `retries` are forgiven by a success. */
	CHECK_INT(wait_url(&res, "/flaky/2/c", 0, 5, 3), 0);
	CHECK_INT(res.checks, 3);
	CHECK_INT(res.failures, 2);
	CHECK(res.reason == NULL);
	health_result_release(&res);
}

static void test_unhealthy(void)
{
	struct health_result res;
	int port = refused_port();
	char *want, *s;

	CHECK_INT(wait_url(&res, "/status/503", 0, 5, 3), -1);
	CHECK(!res.healthy);
	CHECK(!res.exited);
	CHECK_INT(res.checks, 3);
	CHECK_INT(res.failures, 3);
	CHECK_INT(res.status, 503);
	CHECK_STR(res.reason, "HTTP 503");
	s = health_describe(&res, "web");
	CHECK(starts_with(s, "web unhealthy after 3 failed checks ("));
	CHECK(strstr(s, " s): HTTP 503") != NULL);
	free(s);
	health_result_release(&res);

	/* With a start period, only the checks after it count. */
	CHECK_INT(wait_url(&res, "/status/503", 2, 5, 2), -1);
	CHECK_INT(res.failures, 2);
	CHECK(res.checks > 2);
	health_result_release(&res);

	CHECK_INT(wait_url(&res, "/hang", 0, 1, 1), -1);
	want = xasprintf("request to 127.0.0.1:%d timed out after 1000 ms",
	                 rcv.port);
	CHECK_STR(res.reason, want);
	CHECK_INT(res.status, 0);
	free(want);
	health_result_release(&res);

	/* A port nothing listens on. */
	{
		struct manifest *m = mf_new();
		struct manifest_service *svc;
		struct health_opts o = {0};
		char *url = xasprintf("http://127.0.0.1:%d/health", port);

		svc = mf_service(m, "web", (const char *const[]){"true", NULL});
		mf_health(svc, url, 0, 1, 5, 2);
		o.svc = svc;
		CHECK_INT(health_wait(&res, &o), -1);
		want = xasprintf("cannot connect to 127.0.0.1:%d: Connection "
		                 "refused",
		                 port);
		CHECK_STR(res.reason, want);
		CHECK_INT(res.failures, 2);
		free(want);
		free(url);
		health_result_release(&res);
		mf_free(m);
	}
}

/* Starts svc through the process driver and waits for its health. */
static int start_and_wait(struct health_result *res, const struct manifest *m,
                          const struct manifest_service *svc)
{
	struct berr err;

	if (driver_process.start(&f.ctx, m, svc, f.release, SF_COMMIT, &err) <
	    0) {
		fprintf(stderr, "start: %s\n", err.msg);
		memset(res, 0, sizeof(*res));
		return -2;
	}
	return driver_wait_healthy(res, &driver_process, &f.ctx, svc);
}

static void stop(const char *service)
{
	struct berr err;
	bool killed;

	if (driver_process.stop(&killed, &f.ctx, service, 5, &err) < 0)
		fprintf(stderr, "stop: %s\n", err.msg);
}

static void test_services(void)
{
	struct manifest *m = mf_new();
	struct manifest_service *svc;
	struct health_result res;
	int port = refused_port();
	char port_s[16], *url, *s;

	snprintf(port_s, sizeof(port_s), "%d", port);
	url = xasprintf("http://127.0.0.1:%d/health", port);

	/* A real service that needs a moment to listen. */
	svc = mf_service(m, "web",
	                 (const char *const[]){"./service.py", "--port", port_s,
	                                       "--listen-after", "0.5", NULL});
	mf_health(svc, url, 60, 1, 5, 3);
	CHECK_INT(start_and_wait(&res, m, svc), 0);
	CHECK(res.healthy);
	CHECK(res.checks >= 1);
	health_result_release(&res);
	stop("web");

	/* One that dies during a long start period fails at once (else this
	 * test would wait 10 minutes), with the end of its log. */
	svc = mf_service(m, "dying",
	                 (const char *const[]){"./service.py", "--exit-after",
	                                       "0.5", "4", NULL});
	mf_health(svc, url, 600, 1, 5, 3);
	CHECK_INT(start_and_wait(&res, m, svc), -1);
	CHECK(res.exited);
	CHECK(res.in_start_period);
	CHECK_STR(res.reason, "exited during its start period: exited 4");
	CHECK(res.log_tail != NULL &&
	      strstr(res.log_tail, "started pid=") != NULL &&
	      strstr(res.log_tail, "fatal: giving up\n") != NULL &&
	      strstr(res.log_tail, "=== berth") == NULL);
	s = health_describe(&res, "dying");
	CHECK(starts_with(s, "dying exited during its start period: exited 4 "
	                     "(after "));
	CHECK(strstr(s, "\n    fatal: giving up") != NULL);
	free(s);
	health_result_release(&res);
	stop("dying");

	/* After the start period, the driver's words for how it ended. */
	svc = mf_service(m, "late",
	                 (const char *const[]){"./service.py", "--exit-after",
	                                       "1", "5", NULL});
	mf_health(svc, url, 0, 1, 5, 1000);
	CHECK_INT(start_and_wait(&res, m, svc), -1);
	CHECK(res.exited);
	CHECK(!res.in_start_period);
	CHECK_STR(res.reason, "exited 5");
	s = health_describe(&res, "late");
	CHECK(starts_with(s, "late exited 5 (after "));
	free(s);
	health_result_release(&res);
	stop("late");

	/* No health check: healthy once it stayed up for the grace period. */
	svc = mf_service(
	    m, "quiet",
	    (const char *const[]){"./service.py", "--port", port_s, NULL});
	CHECK_INT(start_and_wait(&res, m, svc), 0);
	CHECK(res.healthy);
	CHECK_INT(res.checks, 0);
	s = health_describe(&res, "quiet");
	CHECK(starts_with(s, "quiet running for "));
	CHECK(strstr(s, " s (no health check)") != NULL);
	free(s);
	health_result_release(&res);
	stop("quiet");

	/* ... and unhealthy when it does not. */
	svc =
	    mf_service(m, "brief",
	               (const char *const[]){
	                   "sh", "-c", "echo fatal: giving up; exit 1", NULL});
	CHECK_INT(start_and_wait(&res, m, svc), -1);
	CHECK(res.exited);
	CHECK_STR(res.reason, "exited within 2.0 s of starting: exited 1");
	CHECK(res.log_tail != NULL &&
	      strstr(res.log_tail, "fatal: giving up") != NULL);
	health_result_release(&res);
	stop("brief");

	free(url);
	mf_free(m);
}

static void test_no_watch(void)
{
	struct manifest *m = mf_new();
	struct health_opts o = {0};
	struct health_result res;

	/* Nothing to watch and no check: healthy after the grace given. */
	o.svc = mf_service(m, "x", (const char *const[]){"true", NULL});
	o.grace_ms = 50;
	CHECK_INT(health_wait(&res, &o), 0);
	CHECK(res.healthy);
	health_result_release(&res);
	mf_free(m);
}

/* A driver verdict that says `first` for `n` calls, then `then`. */
struct script {
	enum health_verdict first, then;
	int n, calls;
};

static enum health_verdict scripted(struct buf *why, void *arg)
{
	struct script *sc = arg;
	enum health_verdict v = sc->calls++ < sc->n ? sc->first : sc->then;

	if (v == HEALTH_VERDICT_UNHEALTHY)
		buf_puts(why, "its container's health check says unhealthy");
	return v;
}

static void test_verdict(void)
{
	struct manifest *m = mf_new();
	struct health_opts o = {0};
	struct health_result res;
	struct script sc = {HEALTH_VERDICT_STARTING, HEALTH_VERDICT_HEALTHY, 5,
	                    0};
	char *url = receiver_url(&rcv, "/status/200"), *s;

	o.svc = mf_service(m, "x", (const char *const[]){"true", NULL});
	o.verdict = scripted;
	o.arg = &sc;

	/* The HTTP check passes at once; the driver's own check is still
	 * starting: the wait goes on until it decides. */
	mf_health((struct manifest_service *)o.svc, url, 0, 1, 5, 3);
	CHECK_INT(health_wait(&res, &o), 0);
	CHECK(res.healthy);
	CHECK_INT(res.checks, 1);
	CHECK(sc.calls > 5);
	health_result_release(&res);

	/* Unhealthy by the driver ends the wait at once, whatever HTTP
	 * says. */
	sc = (struct script){HEALTH_VERDICT_STARTING, HEALTH_VERDICT_UNHEALTHY,
	                     3, 0};
	CHECK_INT(health_wait(&res, &o), -1);
	CHECK(!res.healthy && !res.exited && res.verdict_failed);
	CHECK_STR(res.reason, "its container's health check says unhealthy");
	s = health_describe(&res, "x");
	CHECK(starts_with(s, "x unhealthy ("));
	CHECK(strstr(s, "): its container's health check says unhealthy") !=
	      NULL);
	free(s);
	health_result_release(&res);

	/* Without an HTTP check, the verdict after the grace period. */
	o.svc = mf_service(m, "y", (const char *const[]){"true", NULL});
	o.grace_ms = 50;
	sc = (struct script){HEALTH_VERDICT_HEALTHY, HEALTH_VERDICT_UNHEALTHY,
	                     1000, 0};
	CHECK_INT(health_wait(&res, &o), 0);
	CHECK(res.healthy);
	health_result_release(&res);
	sc = (struct script){HEALTH_VERDICT_NONE, HEALTH_VERDICT_UNHEALTHY, 1,
	                     0};
	CHECK_INT(health_wait(&res, &o), -1);
	CHECK(res.verdict_failed);
	health_result_release(&res);

	free(url);
	mf_free(m);
}

int main(void)
{
	sf_setup(&f, "test_health");
	receiver_start(&rcv);
	test_start_period();
	test_unhealthy();
	test_services();
	test_no_watch();
	test_verdict();
	receiver_stop(&rcv);
	sf_teardown(&f);
	return check_done("test_health");
}
