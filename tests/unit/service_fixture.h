/*
 * service_fixture.h — what the tests of the drivers, health checks and
 * pre-deploy checks share: a state directory with one release holding
 * tests/fixtures/test_service.py as ./service.py, an env file's variables,
 * and helpers to wait for a log line and to GET a URL. Include after
 * berth.h and check.h.
 */
#ifndef BERTH_SERVICE_FIXTURE_H
#define BERTH_SERVICE_FIXTURE_H

#include <time.h>

#define SF_COMMIT "0123456789abcdef0123456789abcdef01234567"
/* How long a test waits for a service to do something: the machine may
 * be loaded. */
#define SF_WAIT_MS 30000

struct sf {
	char *tmp;          /* the test's temporary directory */
	struct state st;    /* environment "test" under tmp/state */
	char *release;      /* releases/SF_COMMIT, holding ./service.py */
	struct kvlist vars; /* the env file's variables */
	struct driver_ctx ctx;
};

static inline void sf_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The whole file, or "" when it cannot be read; new. */
static inline char *sf_read(const char *path)
{
	struct buf b = {0};
	struct berr err;

	fs_read_file(&b, path, 16 << 20, &err);
	return buf_detach(&b);
}

static inline void sf_write(const char *path, const char *content, mode_t mode)
{
	struct berr err;

	if (fs_write_atomic(path, content, strlen(content), mode, &err) < 0) {
		fprintf(stderr, "FAIL: %s\n", err.msg);
		exit(1);
	}
}

/* Waits until the file holds text; prints what it holds if it never does. */
static inline bool sf_wait_for_text(const char *path, const char *text)
{
	int64_t deadline = strnum_mono_ms() + SF_WAIT_MS;
	char *s;

	for (;;) {
		bool found;

		s = sf_read(path);
		found = strstr(s, text) != NULL;
		if (found || strnum_mono_ms() > deadline)
			break;
		free(s);
		sf_sleep_ms(20);
	}
	if (strstr(s, text) == NULL) {
		fprintf(stderr, "'%s' does not contain '%s'; it holds:\n%s\n",
		        path, text, s);
		free(s);
		return false;
	}
	free(s);
	return true;
}

/* GETs url; returns the body (new) and *status, or NULL on a transport
 * error. */
static inline char *sf_get(long *status, const char *url)
{
	struct http_request req = {0};
	struct http_response resp;
	struct berr err;
	char *body = NULL;

	req.url = url;
	req.timeout_ms = 10000;
	*status = 0;
	if (http_request(&resp, &req, &err) == 0) {
		*status = resp.status;
		body = buf_detach(&resp.body);
	} else {
		fprintf(stderr, "GET %s: %s\n", url, err.msg);
	}
	http_response_release(&resp);
	return body;
}

static inline void sf_setup(struct sf *f, const char *name)
{
	struct buf script = {0};
	struct berr err;
	char *state_dir, *path;

	memset(f, 0, sizeof(*f));
	f->tmp = check_tempdir(name);
	state_dir = fs_join(f->tmp, "state");
	if (state_open(&f->st, state_dir, "test", &err) < 0) {
		fprintf(stderr, "FAIL: %s\n", err.msg);
		exit(1);
	}
	free(state_dir);
	f->release = state_path(&f->st, "releases/" SF_COMMIT);
	if (fs_mkdir_p(f->release, 0755, &err) < 0 ||
	    fs_read_file(&script, "tests/fixtures/test_service.py", 1 << 20,
	                 &err) < 0) {
		fprintf(stderr, "FAIL: %s\n", err.msg);
		exit(1);
	}
	path = fs_join(f->release, "service.py");
	sf_write(path, buf_str(&script), 0755);
	free(path);
	buf_release(&script);
	kvlist_init(&f->vars);
	f->ctx.st = &f->st;
	f->ctx.vars = &f->vars;
}

/* Stops whatever the test left running, and removes everything. */
static inline void sf_teardown(struct sf *f)
{
	struct service_live *l = NULL;
	struct berr err;
	size_t i, n = 0;
	bool killed;

	if (driver_process.live(&l, &n, &f->ctx, &err) == 0)
		for (i = 0; i < n; i++)
			driver_process.stop(&killed, &f->ctx, l[i].name, 1,
			                    &err);
	driver_live_free(l, n);
	state_close(&f->st);
	kvlist_release(&f->vars);
	fs_remove_tree(f->tmp, &err);
	free(f->release);
	free(f->tmp);
}

#endif
