/*
 * test_spawn.c — spawn.c with real processes: /bin/sh scripts and coreutils
 * as the children.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"

static char tmp[PATH_MAX];
static struct kvlist env; /* PATH=/usr/bin:/bin */

static char *tmp_path(const char *name)
{
	return fs_join(tmp, name);
}

static void write_file(const char *path, const char *content, mode_t mode)
{
	struct berr err;

	if (fs_write_atomic(path, content, strlen(content), mode, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
}

static char *read_file(const char *path)
{
	struct buf b = {0};
	struct berr err;

	fs_read_file(&b, path, 1 << 20, &err);
	return buf_detach(&b);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Waits (up to 20 s) until the file holds text. */
static bool wait_for_text(const char *path, const char *text)
{
	char *s;
	int i;

	for (i = 0; i < 2000; i++) {
		bool found;

		s = read_file(path);
		found = strstr(s, text) != NULL;
		free(s);
		if (found)
			return true;
		sleep_ms(10);
	}
	s = read_file(path);
	fprintf(stderr, "'%s' does not contain '%s'; it holds:\n%s\n", path,
	        text, s);
	free(s);
	return false;
}

/* True while pid exists and is not a zombie (the container's pid 1 may
 * never reap orphans). */
static bool pid_running(long pid)
{
	char path[64], *s, *p;
	bool running;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	s = read_file(path);
	p = strrchr(s, ')');
	running = p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	free(s);
	return running;
}

/* Runs argv with the test's environment and options o (argv and env set
 * here). Returns spawn_run's result. */
static int run(struct spawn_result *res, struct spawn_opts *o,
               const char *const *argv, struct berr *err)
{
	o->argv = argv;
	if (o->env == NULL)
		o->env = &env;
	return spawn_run(res, o, err);
}

static void test_exit_codes(void)
{
	const char *const exit3[] = {"sh", "-c", "exit 3", NULL};
	const char *const exit0[] = {"true", NULL};
	const char *const killself[] = {"sh", "-c", "kill -KILL $$", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct berr err;
	char *s;

	CHECK_INT(run(&res, &o, exit3, &err), 0);
	CHECK_INT(res.exit_code, 3);
	CHECK_INT(res.signal, 0);
	CHECK(!res.timed_out);
	s = spawn_describe_status(&res);
	CHECK_STR(s, "exited 3");
	free(s);
	spawn_result_release(&res);

	CHECK_INT(run(&res, &o, exit0, &err), 0);
	CHECK_INT(res.exit_code, 0);
	spawn_result_release(&res);

	CHECK_INT(run(&res, &o, killself, &err), 0);
	CHECK_INT(res.exit_code, -1);
	CHECK_INT(res.signal, SIGKILL);
	s = spawn_describe_status(&res);
	CHECK_STR(s, "killed by SIGKILL");
	free(s);
	spawn_result_release(&res);
}

static void test_path_lookup(void)
{
	char *bin = tmp_path("bin");
	char *tool = fs_join(bin, "berth-tool");
	char *noexec = fs_join(bin, "berth-noexec");
	char *child_path = xasprintf("%s:/usr/bin:/bin", bin);
	const char *const argv[] = {"berth-tool", "arg one", NULL};
	const char *const relative[] = {"./berth-tool", NULL};
	const char *const noexec_argv[] = {"berth-noexec", NULL};
	const char *const missing[] = {"berth-no-such-command", NULL};
	char *old_path = xstrdup(getenv("PATH"));
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct kvlist with_bin;
	struct spawn_result res;
	struct berr err;

	fs_mkdir_p(bin, 0755, &err);
	write_file(tool, "#!/bin/sh\necho \"tool ran with $1\"\n", 0755);
	write_file(noexec, "#!/bin/sh\necho no\n", 0644);
	kvlist_init(&with_bin);
	kvlist_set(&with_bin, "PATH", child_path);

	/* Found on the child's PATH. */
	o.env = &with_bin;
	CHECK_INT(run(&res, &o, argv, &err), 0);
	CHECK_INT(res.exit_code, 0);
	CHECK_STR(buf_str(&res.output), "tool ran with arg one\n");
	spawn_result_release(&res);

	/* Berth's own PATH is not consulted. */
	setenv("PATH", child_path, 1);
	o.env = &env;
	CHECK_INT(run(&res, &o, argv, &err), -1);
	CHECK_STR(err.msg, "command 'berth-tool' not found on PATH");
	spawn_result_release(&res);
	setenv("PATH", old_path, 1);

	CHECK_INT(run(&res, &o, missing, &err), -1);
	CHECK_STR(err.msg, "command 'berth-no-such-command' not found on PATH");
	spawn_result_release(&res);

	o.env = &with_bin;
	CHECK_INT(run(&res, &o, noexec_argv, &err), -1);
	CHECK_STR(err.msg,
	          "command 'berth-noexec' found on PATH is not executable");
	spawn_result_release(&res);

	/* A path with a slash is relative to the child's directory. */
	o.env = &env;
	o.cwd = bin;
	CHECK_INT(run(&res, &o, relative, &err), 0);
	CHECK_STR(buf_str(&res.output), "tool ran with \n");
	spawn_result_release(&res);
	o.cwd = NULL;
	CHECK_INT(run(&res, &o, relative, &err), -1);
	CHECK_STR(err.msg, "command './berth-tool' not found");
	spawn_result_release(&res);

	kvlist_release(&with_bin);
	free(old_path);
	free(child_path);
	free(noexec);
	free(tool);
	free(bin);
}

static void test_env(void)
{
	const char *const argv[] = {"env", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct kvlist e, bad;
	struct berr err;

	setenv("BERTH_TEST_PARENT_ONLY", "must-not-leak", 1);
	kvlist_init(&e);
	kvlist_set(&e, "PATH", "/usr/bin:/bin");
	kvlist_set(&e, "CHILD_VAR", "given value");
	kvlist_set(&e, "EMPTY", "");
	o.env = &e;
	CHECK_INT(run(&res, &o, argv, &err), 0);
	CHECK_STR(buf_str(&res.output),
	          "PATH=/usr/bin:/bin\nCHILD_VAR=given value\nEMPTY=\n");
	spawn_result_release(&res);

	kvlist_init(&bad);
	kvlist_set(&bad, "PATH", "/usr/bin:/bin");
	kvlist_set(&bad, "A=B", "x");
	o.env = &bad;
	CHECK_INT(run(&res, &o, argv, &err), -1);
	CHECK_STR(err.msg, "invalid environment variable name (entry 2)");
	spawn_result_release(&res);

	kvlist_release(&bad);
	kvlist_release(&e);
	unsetenv("BERTH_TEST_PARENT_ONLY");
}

static void test_env_base(void)
{
	struct kvlist e;
	size_t i;

	kvlist_init(&e);
	setenv("BERTH_TEST_PARENT_ONLY", "x", 1);
	setenv("TZ", "UTC", 1);
	spawn_env_base(&e);
	CHECK_STR(kvlist_get(&e, "PATH"), getenv("PATH"));
	CHECK_STR(kvlist_get(&e, "TZ"), "UTC");
	CHECK(kvlist_get(&e, "BERTH_TEST_PARENT_ONLY") == NULL);
	for (i = 0; i < e.n; i++)
		CHECK(strcmp(e.items[i].key, "PATH") == 0 ||
		      strcmp(e.items[i].key, "HOME") == 0 ||
		      strcmp(e.items[i].key, "LANG") == 0 ||
		      strcmp(e.items[i].key, "TZ") == 0);
	kvlist_release(&e);
	unsetenv("BERTH_TEST_PARENT_ONLY");
}

static void test_cwd(void)
{
	const char *const argv[] = {"pwd", "-P", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	char real[PATH_MAX], *want, *missing = tmp_path("no-such-dir");
	struct berr err;

	CHECK(realpath(tmp, real) != NULL);
	want = xasprintf("%s\n", real);
	o.cwd = tmp;
	CHECK_INT(run(&res, &o, argv, &err), 0);
	CHECK_STR(buf_str(&res.output), want);
	spawn_result_release(&res);

	o.cwd = missing;
	CHECK_INT(run(&res, &o, argv, &err), -1);
	free(want);
	want = xasprintf(
	    "cannot change to directory '%s': No such file or directory",
	    missing);
	CHECK_STR(err.msg, want);
	spawn_result_release(&res);
	free(want);
	free(missing);
}

static void test_capture(void)
{
	const char *const chatty[] = {"sh", "-c",
	                              "i=0; while [ $i -lt 20000 ]; do echo "
	                              "\"line $i\"; i=$((i+1)); done;"
	                              " echo last >&2",
	                              NULL};
	const char *const mixed[] = {"sh", "-c",
	                             "echo out; echo err >&2; echo out2", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct berr err;
	const char *tail = "line 19998\nline 19999\nlast\n";

	CHECK_INT(run(&res, &o, mixed, &err), 0);
	CHECK_STR(buf_str(&res.output), "out\nerr\nout2\n");
	CHECK(!res.truncated);
	spawn_result_release(&res);

	o.capture_max = 1000;
	CHECK_INT(run(&res, &o, chatty, &err), 0);
	CHECK_INT(res.exit_code, 0);
	CHECK(res.truncated);
	CHECK_INT(res.output.len, 1000);
	CHECK(res.output.len >= strlen(tail) &&
	      strcmp(buf_str(&res.output) + res.output.len - strlen(tail),
	             tail) == 0);
	spawn_result_release(&res);
}

struct lines {
	char *items[16];
	size_t lens[16];
	size_t n;
	const char *release_file; /* created when "ready" arrives */
};

static void collect_line(const char *line, size_t len, void *arg)
{
	struct lines *l = arg;
	struct berr err;

	CHECK_INT(strlen(line), len);
	if (l->release_file != NULL && strcmp(line, "ready") == 0)
		fs_write_atomic(l->release_file, "go", 2, 0644, &err);
	if (l->n < BERTH_ARRAY_LEN(l->items)) {
		l->items[l->n] = xstrndup(line, len);
		l->lens[l->n++] = len;
	}
}

static void lines_release(struct lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->items[i]);
	l->n = 0;
}

static void test_on_line(void)
{
	const char *const split[] = {"printf", "a\\nb\\r\\nc", NULL};
	const char *const longline[] = {
	    "sh", "-c", "head -c 10000 /dev/zero | tr '\\0' x; echo; echo end",
	    NULL};
	char *release = tmp_path("release");
	char *script =
	    xasprintf("echo ready; while [ ! -e '%s' ]; do sleep 0.01; done;"
	              " echo done",
	              release);
	const char *const streaming[] = {"sh", "-c", script, NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct lines l = {0};
	struct spawn_result res;
	struct berr err;

	o.on_line = collect_line;
	o.arg = &l;
	CHECK_INT(run(&res, &o, split, &err), 0);
	CHECK_INT(l.n, 3);
	CHECK_STR(l.items[0], "a");
	CHECK_STR(l.items[1], "b");
	CHECK_STR(l.items[2], "c");
	CHECK_STR(buf_str(&res.output), "a\nb\r\nc");
	lines_release(&l);
	spawn_result_release(&res);

	CHECK_INT(run(&res, &o, longline, &err), 0);
	CHECK_INT(l.n, 4);
	CHECK_INT(l.lens[0], 4096);
	CHECK_INT(l.lens[1], 4096);
	CHECK_INT(l.lens[2], 10000 - 2 * 4096);
	CHECK_STR(l.items[3], "end");
	lines_release(&l);
	spawn_result_release(&res);

	/* The child waits for a file that the callback creates when it sees
	 * the first line: lines must arrive while the child runs. Had they
	 * arrived only at the end, the timeout would end the child. */
	l.release_file = release;
	o.timeout_ms = 60000;
	CHECK_INT(run(&res, &o, streaming, &err), 0);
	CHECK(!res.timed_out);
	CHECK_INT(res.exit_code, 0);
	CHECK_INT(l.n, 2);
	CHECK_STR(l.items[0], "ready");
	CHECK_STR(l.items[1], "done");
	lines_release(&l);
	spawn_result_release(&res);
	free(script);
	free(release);
}

static void test_timeout(void)
{
	/* The child and its grandchild ignore SIGTERM: only SIGKILL to the
	 * whole group ends them. */
	const char *const stubborn[] = {"sh", "-c",
	                                "trap '' TERM; sleep 1000 & echo "
	                                "\"grandchild $!\"; wait; sleep 1000",
	                                NULL};
	const char *const obedient[] = {"sleep", "1000", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct lines l = {0};
	struct spawn_result res;
	struct berr err;
	long grandchild = 0;
	char *s;

	o.on_line = collect_line;
	o.arg = &l;
	o.timeout_ms = 2000; /* ample time for sh to set its trap */
	o.kill_grace_ms = 300;
	CHECK_INT(run(&res, &o, stubborn, &err), 0);
	CHECK(res.timed_out);
	CHECK_INT(res.signal, SIGKILL);
	s = spawn_describe_status(&res);
	CHECK_STR(s, "timed out after 2 s");
	free(s);
	CHECK_INT(l.n, 1);
	CHECK(l.n == 1 &&
	      sscanf(l.items[0], "grandchild %ld", &grandchild) == 1);
	CHECK(grandchild > 1 && !pid_running(grandchild));
	lines_release(&l);
	spawn_result_release(&res);

	o.timeout_ms = 200;
	CHECK_INT(run(&res, &o, obedient, &err), 0);
	CHECK(res.timed_out);
	CHECK_INT(res.signal, SIGTERM);
	s = spawn_describe_status(&res);
	CHECK_STR(s, "timed out after 200 ms");
	free(s);
	spawn_result_release(&res);
}

static void test_redirection(void)
{
	const char *const argv[] = {"sh", "-c",
	                            "echo to-file; echo to-pipe >&2", NULL};
	const char *const cat[] = {"cat", NULL};
	char *out_path = tmp_path("stdout.txt");
	char *in_path = tmp_path("stdin.txt");
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct berr err;
	char *s;
	int fd;

	fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	o.stdout_fd = fd;
	CHECK_INT(run(&res, &o, argv, &err), 0);
	close(fd);
	CHECK_STR(buf_str(&res.output), "to-pipe\n");
	s = read_file(out_path);
	CHECK_STR(s, "to-file\n");
	free(s);
	spawn_result_release(&res);

	write_file(in_path, "hello stdin\n", 0644);
	fd = open(in_path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	o.stdout_fd = -1;
	o.stdin_fd = fd;
	CHECK_INT(run(&res, &o, cat, &err), 0);
	close(fd);
	CHECK_STR(buf_str(&res.output), "hello stdin\n");
	spawn_result_release(&res);

	/* Without stdin_fd the child reads /dev/null, and does not hang. */
	o.stdin_fd = -1;
	o.timeout_ms = 60000;
	CHECK_INT(run(&res, &o, cat, &err), 0);
	CHECK(!res.timed_out);
	CHECK_INT(res.exit_code, 0);
	CHECK_STR(buf_str(&res.output), "");
	spawn_result_release(&res);
	free(in_path);
	free(out_path);
}

static void test_no_fd_leaks(void)
{
	/* ls opens /proc/self/fd itself, as fd 3. */
	const char *const argv[] = {"ls", "/proc/self/fd", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct berr err;
	int leaky = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
	int p[2];

	CHECK(leaky >= 0);
	CHECK_INT(pipe(p), 0);
	CHECK_INT(run(&res, &o, argv, &err), 0);
	CHECK_STR(buf_str(&res.output), "0\n1\n2\n3\n");
	spawn_result_release(&res);
	close(p[0]);
	close(p[1]);
	close(leaky);
}

static volatile sig_atomic_t sigchld_seen;

static void on_sigchld(int sig)
{
	(void)sig;
	sigchld_seen = 1;
}

static void test_signal_hygiene(void)
{
	const char *const argv[] = {
	    "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct sigaction sa, old_chld, old_int;
	sigset_t block, old_mask;
	struct spawn_result res;
	struct berr err;
	pid_t other;
	int status = 0;

	/* A caller with a SIGCHLD handler (no SA_RESTART, so poll sees
	 * EINTR), SIGINT ignored and SIGTERM blocked. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sigaction(SIGCHLD, &sa, &old_chld);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, &old_int);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old_mask);

	/* A child of the caller's that spawn_run must not reap. */
	other = fork();
	if (other == 0)
		_exit(7);

	CHECK_INT(run(&res, &o, argv, &err), 0);
	/* glibc's posix_spawn leaves its two internal signals (32 and 33,
	 * below SIGRTMIN) ignored in the child; every other is default. */
	CHECK_STR(buf_str(&res.output),
	          "SigBlk:\t0000000000000000\nSigIgn:\t0000000180000000\n");
	spawn_result_release(&res);
	CHECK(sigchld_seen);

	CHECK_INT(waitpid(other, &status, 0), other);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);

	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGCHLD, &old_chld, NULL);
}

static void test_detached(void)
{
	char *log = tmp_path("service.log");
	char *script = xasprintf("echo \"service $$ started in $(pwd -P) with "
	                         "[$BERTH_TEST_PARENT_ONLY]\";"
	                         " ls /proc/self/fd; exec sleep 1000");
	const char *const argv[] = {"sh", "-c", script, NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	char real[PATH_MAX], *want;
	pid_t spawner, pgid = -1;
	struct berr err;
	bool killed = true;
	int p[2], status = 0;

	setenv("BERTH_TEST_PARENT_ONLY", "leak", 1);
	o.argv = argv;
	o.env = &env;
	o.cwd = tmp;
	CHECK_INT(pipe(p), 0);
	/* The service is started by a process that exits at once: it must
	 * outlive its spawner. */
	spawner = fork();
	if (spawner == 0) {
		close(p[0]);
		if (spawn_detached(&pgid, &o, log, &err) < 0)
			fprintf(stderr, "spawn_detached: %s\n", err.msg);
		if (write(p[1], &pgid, sizeof(pgid)) != sizeof(pgid))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	CHECK_INT(read(p[0], &pgid, sizeof(pgid)), sizeof(pgid));
	close(p[0]);
	CHECK_INT(waitpid(spawner, &status, 0), spawner);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unsetenv("BERTH_TEST_PARENT_ONLY");

	CHECK(pgid > 1);
	if (pgid <= 1)
		goto out;
	CHECK(realpath(tmp, real) != NULL);
	/* ls opens /proc/self/fd itself, as fd 3. */
	want = xasprintf("service %d started in %s with []\n0\n1\n2\n3\n",
	                 (int)pgid, real);
	CHECK(wait_for_text(log, want));
	free(want);
	CHECK(spawn_group_alive(pgid));
	CHECK_INT(getsid(pgid), pgid);
	CHECK_INT(getpgid(pgid), pgid);

	CHECK_INT(spawn_stop_group(pgid, 10000, &killed, &err), 0);
	CHECK(!killed);
	CHECK(!spawn_group_alive(pgid));
	/* Stopping a group that is gone is fine. */
	CHECK_INT(spawn_stop_group(pgid, 1000, &killed, &err), 0);
out:
	free(script);
	free(log);
}

static void test_stop_stubborn_group(void)
{
	char *log = tmp_path("stubborn.log");
	const char *const argv[] = {
	    "sh", "-c", "trap '' TERM; sleep 1000 & echo ready; wait", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	pid_t pgid = -1;
	bool killed = false;
	struct berr err;

	o.argv = argv;
	o.env = &env;
	CHECK_INT(spawn_detached(&pgid, &o, log, &err), 0);
	CHECK(wait_for_text(log, "ready\n"));
	CHECK(spawn_group_alive(pgid));
	CHECK_INT(spawn_stop_group(pgid, 300, &killed, &err), 0);
	CHECK(killed);
	CHECK(!spawn_group_alive(pgid));

	CHECK_INT(spawn_stop_group(1, 300, &killed, &err), -1);
	CHECK_STR(err.msg, "refusing to stop process group 1");
	CHECK_INT(spawn_stop_group(getpgrp(), 300, &killed, &err), -1);

	o.argv = (const char *const[]){"berth-no-such-command", NULL};
	CHECK_INT(spawn_detached(&pgid, &o, log, &err), -1);
	CHECK_STR(err.msg, "command 'berth-no-such-command' not found on PATH");
	free(log);
}

int main(void)
{
	struct berr err;

	snprintf(tmp, sizeof(tmp), "/tmp/berth-test-spawn-XXXXXX");
	if (mkdtemp(tmp) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	kvlist_init(&env);
	kvlist_set(&env, "PATH", "/usr/bin:/bin");

	test_exit_codes();
	test_path_lookup();
	test_env();
	test_env_base();
	test_cwd();
	test_capture();
	test_on_line();
	test_timeout();
	test_redirection();
	test_no_fd_leaks();
	test_signal_hygiene();
	test_detached();
	test_stop_stubborn_group();

	kvlist_release(&env);
	if (fs_remove_tree(tmp, &err) < 0)
		fprintf(stderr, "%s\n", err.msg);
	return check_done("test_spawn");
}
