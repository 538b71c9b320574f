/*
 * test_driver_process.c — the process driver with real processes: a small
 * Python HTTP server (tests/fixtures/test_service.py) started from a
 * release directory, checked through its log, services.json, HTTP and
 * /proc.
 */
#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"
#include "manifest_fixture.h"
#include "receiver.h"
#include "service_fixture.h"

static struct sf f;

static char *log_of(const char *service)
{
	char *rel = xasprintf("logs/%s.log", service);
	char *p = state_path(&f.st, rel);

	free(rel);
	return p;
}

/* A service running ./service.py with args (NULL-terminated). */
static struct manifest_service *
add_service(struct manifest *m, const char *name, const char *const *args)
{
	const char *argv[32] = {"./service.py"};
	size_t i;

	for (i = 0; args[i] != NULL && i + 2 < BERTH_ARRAY_LEN(argv); i++)
		argv[i + 1] = args[i];
	return mf_service(m, name, argv);
}

static json_t *load_runtime(void)
{
	char *path = state_path(&f.st, DRIVER_PROCESS_RUNTIME);
	json_t *j = json_load_file(path, 0, NULL);

	free(path);
	return j ? j : json_object();
}

/* Waits until the process is gone or a zombie. */
static bool wait_not_running(pid_t pid)
{
	int64_t deadline = strnum_mono_ms() + SF_WAIT_MS;
	struct proc_stat ps;
	struct berr err;

	while (strnum_mono_ms() < deadline) {
		if (proc_stat_read(&ps, pid, &err) != 0 || ps.state == 'Z')
			return true;
		sf_sleep_ms(20);
	}
	return false;
}

static bool process_running(pid_t pid)
{
	struct proc_stat ps;
	struct berr err;

	return proc_stat_read(&ps, pid, &err) == 0 && ps.state != 'Z';
}

/* Starts svc from a process that exits at once, as `berth apply` does. */
static int start_from_child(const struct manifest *m,
                            const struct manifest_service *svc)
{
	struct berr err;
	int status = 0;
	pid_t child = fork();

	if (child == 0) {
		if (driver_process.start(&f.ctx, m, svc, f.release, SF_COMMIT,
		                         &err) < 0) {
			fprintf(stderr, "start: %s\n", err.msg);
			_exit(1);
		}
		_exit(0);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void test_start_live_stop(void)
{
	struct manifest *m = mf_new();
	struct manifest_service *svc;
	int port = refused_port();
	char port_s[16], *log = log_of("web"), *want, *url, *body, real[4096];
	struct service_live *l = NULL, one;
	struct proc_stat ps;
	json_t *rt, *rec;
	struct berr err;
	size_t n = 0;
	bool killed = true;
	long status;
	pid_t pid;

	snprintf(port_s, sizeof(port_s), "%d", port);
	setenv("BERTH_TEST_LEAK", "berth's own environment", 1);
	kvlist_set(&f.vars, "ENV_FILE_VAR", "from the env file");
	kvlist_set(&f.vars, "SHARED", "env file");
	svc = add_service(m, "web",
	                  (const char *const[]){"--port", port_s, "--print-env",
	                                        "ENV_FILE_VAR", "--print-env",
	                                        "SERVICE_VAR", "--print-env",
	                                        "SHARED", "--print-env",
	                                        "BERTH_TEST_LEAK", NULL});
	kvlist_set(&svc->env, "SERVICE_VAR", "from the service");
	kvlist_set(&svc->env, "SHARED", "service");

	/* The process that starts it exits: the service stays. */
	CHECK_INT(start_from_child(m, svc), 0);
	want = xasprintf("listening on %d", port);
	CHECK(sf_wait_for_text(log, want));
	free(want);

	/* The log: berth's start mark, then the service's output, run from
	 * the release directory with only the environment it was given. */
	body = sf_read(log);
	want = xasprintf("=== berth: starting web, commit %s, config %s at ",
	                 SF_COMMIT, svc->hash);
	CHECK(strncmp(body, want, strlen(want)) == 0);
	free(want);
	CHECK(realpath(f.release, real) != NULL);
	want = xasprintf("cwd=%s\n", real);
	CHECK(strstr(body, want) != NULL);
	free(want);
	CHECK(strstr(body, "env ENV_FILE_VAR=from the env file\n") != NULL);
	CHECK(strstr(body, "env SERVICE_VAR=from the service\n") != NULL);
	CHECK(strstr(body, "env SHARED=service\n") != NULL);
	CHECK(strstr(body, "env BERTH_TEST_LEAK unset\n") != NULL);
	free(body);

	/* It answers over HTTP. */
	url = xasprintf("http://127.0.0.1:%d/env/SERVICE_VAR", port);
	body = sf_get(&status, url);
	CHECK_INT(status, 200);
	CHECK_STR(body, "from the service");
	free(body);
	free(url);

	/* services.json records it, with the process's start time. */
	rt = load_runtime();
	rec = json_object_get(json_object_get(rt, "services"), "web");
	CHECK(json_is_object(rec));
	pid = (pid_t)json_integer_value(json_object_get(rec, "pid"));
	CHECK(pid > 1);
	CHECK_INT(json_integer_value(json_object_get(rec, "pgid")), pid);
	CHECK_INT(proc_stat_read(&ps, pid, &err), 0);
	CHECK_INT(json_integer_value(json_object_get(rec, "start_ticks")),
	          ps.start_ticks);
	CHECK_INT(getpgid(pid), pid);
	CHECK_INT(getsid(pid), pid);
	CHECK_STR(json_string_value(json_object_get(rec, "hash")), svc->hash);
	CHECK_STR(json_string_value(json_object_get(rec, "commit")), SF_COMMIT);
	CHECK_STR(json_string_value(json_object_get(rec, "release")),
	          f.release);
	CHECK_STR(json_string_value(json_object_get(rec, "log")), log);
	CHECK_INT(json_integer_value(json_object_get(rec, "stop_timeout_s")),
	          30);
	CHECK(json_is_string(json_object_get(rec, "started_at")));
	json_decref(rt);

	/* live() and status() see it running. */
	CHECK_INT(driver_process.live(&l, &n, &f.ctx, &err), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(l[0].name, "web");
		CHECK(l[0].running);
		CHECK_STR(l[0].detail, "running");
		CHECK_INT(l[0].pid, pid);
		CHECK_STR(l[0].hash, svc->hash);
		CHECK_STR(l[0].commit, SF_COMMIT);
		CHECK(l[0].started_at > 0);
	}
	driver_live_free(l, n);

	/* A second start while it runs is refused. */
	CHECK_INT(
	    driver_process.start(&f.ctx, m, svc, f.release, SF_COMMIT, &err),
	    -1);
	want = xasprintf("service 'web' is already running (pid %d); stop it "
	                 "first",
	                 (int)pid);
	CHECK_STR(err.msg, want);
	free(want);

	/* kill -9: no longer running. */
	CHECK_INT(kill(pid, SIGKILL), 0);
	CHECK(wait_not_running(pid));
	CHECK_INT(driver_process.status(&one, &f.ctx, "web", &err), 0);
	CHECK(!one.running);
	CHECK_STR(one.detail, "exited");
	driver_live_release(&one);

	/* Stopping a service that exited only forgets it. */
	CHECK_INT(driver_process.stop(&killed, &f.ctx, "web", 5, &err), 0);
	CHECK(!killed);
	rt = load_runtime();
	CHECK(json_object_get(json_object_get(rt, "services"), "web") == NULL);
	json_decref(rt);
	CHECK(sf_wait_for_text(log, "=== berth: forgot web, which had exited"));
	CHECK_INT(driver_process.stop(&killed, &f.ctx, "web", 5, &err),
	          BERTH_ENOTFOUND);
	CHECK_STR(err.msg, "service 'web' was not started by berth");
	CHECK_INT(driver_process.status(&one, &f.ctx, "web", &err),
	          BERTH_ENOTFOUND);

	unsetenv("BERTH_TEST_LEAK");
	kvlist_release(&f.vars);
	kvlist_init(&f.vars);
	free(log);
	mf_free(m);
}

/* The pid of "child N" in the log. */
static pid_t child_pid(const char *log)
{
	char *s = sf_read(log), *p = strstr(s, "\nchild ");
	long pid = 0;

	if (p != NULL)
		sscanf(p, "\nchild %ld", &pid);
	free(s);
	return (pid_t)pid;
}

/* Starts m's service i, listening on port with a child, and waits until it
 * listens; *pid and *child are its process and that child. */
static void start_with_child(const struct manifest *m, size_t i, int port,
                             pid_t *pid, pid_t *child)
{
	const char *name = m->services[i].name;
	char *log = log_of(name), *want = xasprintf("listening on %d", port);
	struct service_live one;
	struct berr err;

	*pid = *child = 0;
	CHECK_INT(driver_process.start(&f.ctx, m, &m->services[i], f.release,
	                               SF_COMMIT, &err),
	          0);
	CHECK(sf_wait_for_text(log, want));
	CHECK_INT(driver_process.status(&one, &f.ctx, name, &err), 0);
	*pid = one.pid;
	driver_live_release(&one);
	*child = child_pid(log);
	CHECK(*child > 1 && process_running(*child));
	free(want);
	free(log);
}

static void test_stop(void)
{
	struct manifest *m = mf_new();
	struct manifest_service *svc;
	int port1 = refused_port(), port2 = refused_port();
	char p1[16], p2[16], *log1 = log_of("polite"),
	                     *log2 = log_of("stubborn");
	struct berr err;
	bool killed = true;
	pid_t pid, child;

	snprintf(p1, sizeof(p1), "%d", port1);
	snprintf(p2, sizeof(p2), "%d", port2);
	add_service(m, "polite",
	            (const char *const[]){"--port", p1, "--child", NULL});
	svc = add_service(m, "stubborn",
	                  (const char *const[]){"--port", p2, "--child",
	                                        "--ignore-term", NULL});
	svc->stop_timeout_s = 1;

	/* SIGTERM stops the whole group, the child it started too. */
	start_with_child(m, 0, port1, &pid, &child);
	CHECK_INT(driver_process.stop(&killed, &f.ctx, "polite", 10, &err), 0);
	CHECK(!killed);
	CHECK(!process_running(pid));
	CHECK(child > 1 && !process_running(child));
	CHECK(sf_wait_for_text(log1, "=== berth: stopped polite with SIGTERM"));

	/* One that ignores SIGTERM is killed after its stop timeout, here the
	 * one it was started with (1 s). */
	start_with_child(m, 1, port2, &pid, &child);
	CHECK_INT(driver_process.stop(&killed, &f.ctx, "stubborn", 0, &err), 0);
	CHECK(killed);
	CHECK(!process_running(pid));
	CHECK(child > 1 && !process_running(child));
	CHECK(sf_wait_for_text(
	    log2, "=== berth: stopped stubborn with SIGKILL after 1 s"));

	free(log1);
	free(log2);
	mf_free(m);
}

/* Writes services.json with one record for pid. */
static void write_record(const char *name, pid_t pid, uint64_t ticks,
                         const char *boot_id)
{
	char *path = state_path(&f.st, DRIVER_PROCESS_RUNTIME);
	char *text = xasprintf(
	    "{\"version\": 1, \"services\": {\"%s\": {\"pid\": %d, \"pgid\": "
	    "%d, \"start_ticks\": %llu, \"boot_id\": \"%s\", \"hash\": null, "
	    "\"commit\": null, \"release\": \"/nowhere\", \"log\": "
	    "\"/nowhere.log\", \"started_at\": \"2026-01-05T12:00:00Z\", "
	    "\"stop_timeout_s\": 1}}}\n",
	    name, (int)pid, (int)pid, (unsigned long long)ticks, boot_id);

	sf_write(path, text, 0640);
	free(text);
	free(path);
}

static void test_recycled_pid(void)
{
	const char *const argv[] = {"sleep", "1000", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	char *log = fs_join(f.tmp, "sleep.log"), boot[40], *want;
	struct service_live one;
	struct proc_stat ps;
	struct kvlist env;
	struct berr err;
	bool killed = true;
	pid_t other = -1;

	/* Another process, in a group of its own, that happens to have the
	 * pid services.json holds. */
	kvlist_init(&env);
	spawn_env_base(&env);
	o.argv = argv;
	o.env = &env;
	CHECK_INT(spawn_detached(&other, &o, log, &err), 0);
	CHECK_INT(proc_stat_read(&ps, other, &err), 0);
	proc_boot_id(boot);
	CHECK(boot[0] != '\0');

	/* The right start time: it is the service. */
	write_record("ghost", other, ps.start_ticks, boot);
	CHECK_INT(driver_process.status(&one, &f.ctx, "ghost", &err), 0);
	CHECK(one.running);
	driver_live_release(&one);

	/* Another start time: the pid was reused; not running, and stop
	 * leaves the other process alone. */
	write_record("ghost", other, ps.start_ticks + 1, boot);
	CHECK_INT(driver_process.status(&one, &f.ctx, "ghost", &err), 0);
	CHECK(!one.running);
	want = xasprintf("not running: pid %d is now another process (sleep)",
	                 (int)other);
	CHECK_STR(one.detail, want);
	free(want);
	driver_live_release(&one);
	CHECK_INT(driver_process.stop(&killed, &f.ctx, "ghost", 1, &err), 0);
	CHECK(!killed);
	CHECK(process_running(other));

	/* Recorded during another boot: the same. */
	write_record("ghost", other, ps.start_ticks,
	             "00000000-0000-0000-0000-000000000000");
	CHECK_INT(driver_process.status(&one, &f.ctx, "ghost", &err), 0);
	CHECK(!one.running);
	CHECK_STR(one.detail,
	          "not running: the host restarted since it started");
	driver_live_release(&one);
	CHECK_INT(driver_process.stop(&killed, &f.ctx, "ghost", 1, &err), 0);
	CHECK(process_running(other));

	/* The right record again: stop stops it. */
	write_record("ghost", other, ps.start_ticks, boot);
	CHECK_INT(driver_process.stop(&killed, &f.ctx, "ghost", 5, &err), 0);
	CHECK(!killed);
	CHECK(!process_running(other));

	if (other > 1)
		spawn_stop_group(other, 1000, &killed, &err);
	kvlist_release(&env);
	free(log);
}

static void test_exit_and_logs(void)
{
	struct manifest *m = mf_new();
	struct manifest_service *svc;
	char *log = log_of("crasher");
	struct service_live one = {0};
	struct buf tail;
	struct berr err;
	int64_t deadline;
	bool killed;

	svc =
	    add_service(m, "crasher",
	                (const char *const[]){"--print-env", "RUN",
	                                      "--exit-after", "0", "3", NULL});
	kvlist_set(&svc->env, "RUN", "first");
	CHECK_INT(
	    driver_process.start(&f.ctx, m, svc, f.release, SF_COMMIT, &err),
	    0);
	/* Started by this process, which can tell how it ended. */
	deadline = strnum_mono_ms() + SF_WAIT_MS;
	do {
		driver_live_release(&one);
		sf_sleep_ms(20);
		CHECK_INT(driver_process.status(&one, &f.ctx, "crasher", &err),
		          0);
	} while (one.running && strnum_mono_ms() < deadline);
	CHECK(!one.running);
	CHECK_STR(one.detail, "exited 3");
	driver_live_release(&one);
	CHECK(sf_wait_for_text(log, "fatal: giving up"));

	/* A new start after it exited; logs() shows this run only. */
	kvlist_set(&svc->env, "RUN", "second");
	CHECK_INT(
	    driver_process.start(&f.ctx, m, svc, f.release, SF_COMMIT, &err),
	    0);
	CHECK(sf_wait_for_text(log, "env RUN=second\nfatal: giving up\n"));
	buf_init(&tail, 0);
	CHECK_INT(driver_process.logs(&tail, &f.ctx, "crasher", 20, &err), 0);
	CHECK(strstr(buf_str(&tail), "env RUN=second\n") != NULL);
	CHECK(strstr(buf_str(&tail), "fatal: giving up\n") != NULL);
	CHECK(strstr(buf_str(&tail), "RUN=first") == NULL);
	CHECK(strstr(buf_str(&tail), "=== berth") == NULL);
	buf_reset(&tail);
	CHECK_INT(driver_process.logs(&tail, &f.ctx, "crasher", 1, &err), 0);
	CHECK_STR(buf_str(&tail), "fatal: giving up\n");
	buf_release(&tail);
	CHECK_INT(driver_process.logs(&tail, &f.ctx, "nothing", 5, &err),
	          BERTH_ENOTFOUND);
	CHECK_INT(driver_process.stop(&killed, &f.ctx, "crasher", 1, &err), 0);

	free(log);
	mf_free(m);
}

struct lines {
	struct buf all;
};

static void collect(const char *line, size_t len, void *arg)
{
	struct lines *l = arg;

	buf_append(&l->all, line, len);
	buf_putc(&l->all, '\n');
}

static void test_build(void)
{
	struct manifest *m = mf_new();
	struct driver_ctx ctx = f.ctx;
	struct lines l;
	struct buf out;
	struct berr err;
	char *built = fs_join(f.release, "built.txt");
	char *never = fs_join(f.release, "never.txt");
	char *s;

	buf_init(&l.all, 0);
	buf_init(&out, 0);
	ctx.on_line = collect;
	ctx.arg = &l;
	kvlist_set(&f.vars, "BUILD_VAR", "from the env file");
	setenv("BERTH_TEST_LEAK", "berth's own environment", 1);
	mf_build(m, (const char *const[]){
	                "sh", "-c",
	                "echo building; echo \"$BUILD_VAR\" > built.txt; "
	                "echo \"leak=[$BERTH_TEST_LEAK]\"",
	                NULL});
	mf_build(m,
	         (const char *const[]){"sh", "-c", "echo step two >&2", NULL});
	CHECK_INT(driver_process.build(&out, &ctx, m, f.release, &err), 0);
	s = sf_read(built);
	CHECK_STR(s, "from the env file\n");
	free(s);
	CHECK_STR(buf_str(&l.all), "building\nleak=[]\nstep two\n");
	CHECK_STR(buf_str(&out), "building\nleak=[]\nstep two\n");
	mf_free(m);

	/* A failing command stops the build: its status and last line. */
	m = mf_new();
	buf_reset(&out);
	mf_build(m, (const char *const[]){
	                "sh", "-c",
	                "echo compiling; echo 'x.c:3: error: boom' >&2; exit 2",
	                NULL});
	mf_build(m, (const char *const[]){"touch", "never.txt", NULL});
	CHECK_INT(driver_process.build(&out, &ctx, m, f.release, &err), -1);
	CHECK_STR(err.msg, "build command 'sh -c 'echo compiling; echo "
	                   "'\\''x.c:3: error: boom'\\'' >&2; exit 2'' exited "
	                   "2: x.c:3: error: boom");
	CHECK_STR(buf_str(&out), "compiling\nx.c:3: error: boom\n");
	CHECK(!fs_exists(never));
	mf_free(m);

	m = mf_new();
	mf_build(m, (const char *const[]){"berth-no-such-tool", NULL});
	CHECK_INT(driver_process.build(NULL, &ctx, m, f.release, &err), -1);
	CHECK_STR(err.msg, "build command 'berth-no-such-tool': command "
	                   "'berth-no-such-tool' not found on PATH");
	mf_free(m);

	unsetenv("BERTH_TEST_LEAK");
	buf_release(&out);
	buf_release(&l.all);
	free(built);
	free(never);
}

static void test_check_tools(void)
{
	struct manifest *m = mf_new();
	struct manifest_service *svc;
	char *bin = fs_join(f.tmp, "bin"), *tool = fs_join(bin, "berth-tool");
	char *path = xasprintf("%s:/usr/bin:/bin", bin);
	struct strv missing = {0};
	struct berr err;

	fs_mkdir_p(bin, 0755, &err);
	sf_write(tool, "#!/bin/sh\n", 0755);
	mf_build(m, (const char *const[]){"sh", "-c", "true", NULL});
	mf_build(m, (const char *const[]){"berth-missing-tool", NULL});
	mf_build(m, (const char *const[]){"berth-missing-tool", "again", NULL});
	mf_service(m, "relative", (const char *const[]){"./bin/x", NULL});
	mf_service(m, "absolute",
	           (const char *const[]){"/nonexistent/bin/x", NULL});
	/* Found only on the PATH the service's env gives it. */
	svc = mf_service(m, "own-path",
	                 (const char *const[]){"berth-tool", NULL});
	kvlist_set(&svc->env, "PATH", path);
	mf_service(m, "no-path", (const char *const[]){"berth-tool", NULL});

	CHECK_INT(driver_process.check_tools(&missing, &f.ctx, m, &err), 0);
	CHECK_INT(missing.n, 3);
	if (missing.n == 3) {
		CHECK_STR(missing.v[0], "berth-missing-tool");
		CHECK_STR(missing.v[1], "/nonexistent/bin/x");
		CHECK_STR(missing.v[2], "berth-tool");
	}
	strv_release(&missing);
	mf_free(m);
	free(path);
	free(tool);
	free(bin);
}

static void test_bad_input(void)
{
	struct manifest *m = mf_new();
	struct service_live *l = NULL;
	char *path = state_path(&f.st, DRIVER_PROCESS_RUNTIME), *want;
	struct berr err;
	size_t n = 0;

	mf_service(m, "../evil", (const char *const[]){"true", NULL});
	CHECK_INT(driver_process.start(&f.ctx, m, &m->services[0], f.release,
	                               SF_COMMIT, &err),
	          -1);
	CHECK_STR(err.msg, "invalid service name '../evil': expected letters, "
	                   "digits, '.', '_' or '-'");
	mf_free(m);

	m = mf_new();
	mf_service(m, "missing", (const char *const[]){"./no-such", NULL});
	CHECK_INT(driver_process.start(&f.ctx, m, &m->services[0], f.release,
	                               SF_COMMIT, &err),
	          -1);
	CHECK_STR(
	    err.msg,
	    "cannot start service 'missing': command './no-such' not found");
	/* Whoever reads the service's log learns why too. */
	want = log_of("missing");
	CHECK(sf_wait_for_text(want, "=== berth: missing did not start: "
	                             "command './no-such' not found at "));
	free(want);
	mf_free(m);

	sf_write(path, "{\"services\": [", 0640);
	CHECK_INT(driver_process.live(&l, &n, &f.ctx, &err), -1);
	want = xasprintf("invalid runtime state '%s': line 1: ", path);
	CHECK(strncmp(err.msg, want, strlen(want)) == 0);
	free(want);
	sf_write(path, "{\"services\": {\"x\": {\"pid\": \"12\"}}}", 0640);
	CHECK_INT(driver_process.live(&l, &n, &f.ctx, &err), -1);
	want = xasprintf("invalid runtime state '%s': $.services.x: expected "
	                 "pid, pgid and start_ticks, and fields of the right "
	                 "types",
	                 path);
	CHECK_STR(err.msg, want);
	free(want);
	sf_write(path, "{\"version\": 2, \"services\": {}}", 0640);
	CHECK_INT(driver_process.live(&l, &n, &f.ctx, &err), -1);
	want = xasprintf("runtime state '%s' was written by a newer berth "
	                 "(version 2)",
	                 path);
	CHECK_STR(err.msg, want);
	free(want);
	unlink(path);
	CHECK_INT(driver_process.live(&l, &n, &f.ctx, &err), 0);
	CHECK_INT(n, 0);
	free(path);
}

int main(void)
{
	sf_setup(&f, "test_driver_process");
	test_start_live_stop();
	test_stop();
	test_recycled_pid();
	test_exit_and_logs();
	test_build();
	test_check_tools();
	test_bad_input();
	sf_teardown(&f);
	return check_done("test_driver_process");
}
