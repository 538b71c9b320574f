/*
 * spawn.c — running commands: builds, migrations, pg_dump, and the services
 * of the process driver.
 *
 * posix_spawn with an argv vector and an explicit environment; never a
 * shell. The program is looked up on the child's PATH here, in the parent,
 * so that "not found" is a clear error rather than exit status 127. A child
 * run to completion gets its own process group, so that a timeout kills
 * what it started too; its output comes back through one pipe, read with
 * poll() while a pidfd says when the child is gone. Only the pid started is
 * ever waited for: a SIGCHLD handler of the caller's keeps working.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "berth.h"

#define SPAWN_GRACE_MS      5000
#define SPAWN_CAPTURE       ((size_t)64 << 10)
#define SPAWN_CAPTURE_LIMIT ((size_t)16 << 20)
#define SPAWN_LINE_MAX      4096
#define SPAWN_READ_CHUNK    16384
#define SPAWN_DEFAULT_PATH  "/usr/local/bin:/usr/bin:/bin"
#define SPAWN_KILL_WAIT_MS  5000

static bool group_wait_gone(pid_t pgid, int timeout_ms);

/* Everything posix_spawn needs, prepared in the parent. */
struct child {
	char *path;  /* owned; what to execute */
	char **envp; /* owned; "KEY=value", NULL-terminated */
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool fa_ready, attr_ready;
};

/* Output read from the child: the captured tail and the current line. */
struct reader {
	struct spawn_result *res;
	const struct spawn_opts *o;
	size_t cap;
	struct buf line;
};

static void child_release(struct child *c)
{
	size_t i;

	free(c->path);
	for (i = 0; c->envp != NULL && c->envp[i] != NULL; i++)
		free(c->envp[i]);
	free(c->envp);
	if (c->fa_ready)
		posix_spawn_file_actions_destroy(&c->fa);
	if (c->attr_ready)
		posix_spawnattr_destroy(&c->attr);
	memset(c, 0, sizeof(*c));
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Moves fd to a number above 2 (close-on-exec), so that dup2 onto 0, 1
 * and 2 in the child never overwrites a source still to be copied: a daemon
 * with its standard streams closed gets low numbers from pipe() and open(). */
static int fd_high(int *fd, struct berr *err)
{
	int nfd;

	if (*fd > 2)
		return 0;
	nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return berr_errno(err, errno,
		                  "cannot duplicate a file descriptor");
	close(*fd);
	*fd = nfd;
	return 0;
}

/* A borrowed fd of the caller's, as a close-on-exec copy above 2. */
static int fd_copy_high(int *out, int fd, struct berr *err)
{
	*out = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (*out < 0)
		return berr_errno(err, errno,
		                  "cannot duplicate file descriptor %d", fd);
	return 0;
}

static int open_devnull(int *fd, int flags, struct berr *err)
{
	*fd = open("/dev/null", flags | O_CLOEXEC);
	if (*fd < 0)
		return berr_errno(err, errno, "cannot open '/dev/null'");
	return fd_high(fd, err);
}

static char **build_envp(const struct kvlist *env, struct berr *err)
{
	size_t i, n = env ? env->n : 0;
	char **envp = xcalloc(n + 1, sizeof(*envp));

	for (i = 0; i < n; i++) {
		const char *k = env->items[i].key;

		if (k[0] == '\0' || strchr(k, '=') != NULL) {
			/* The name may be a mistyped value: do not print it. */
			berr_set(
			    err,
			    "invalid environment variable name (entry %zu)",
			    i + 1);
			for (; i > 0; i--)
				free(envp[i - 1]);
			free(envp);
			return NULL;
		}
		envp[i] = xasprintf("%s=%s", k, env->items[i].value);
	}
	return envp;
}

/* How a candidate looks from the parent: relative paths are relative to
 * the child's working directory, which is not the parent's. */
static char *as_seen_from_parent(const char *p, const char *cwd)
{
	if (p[0] == '/' || cwd == NULL)
		return xstrdup(p);
	return fs_join(cwd, p);
}

/* 1: a regular executable file; 0: missing; -1: there but not runnable. */
static int probe_program(const char *p, const char *cwd)
{
	char *seen = as_seen_from_parent(p, cwd);
	struct stat st;
	int r;

	if (stat(seen, &st) != 0)
		r = 0;
	else if (!S_ISREG(st.st_mode) || access(seen, X_OK) != 0)
		r = -1;
	else
		r = 1;
	free(seen);
	return r;
}

/* Resolves argv[0] as execvp would in the child: on the PATH of its
 * environment, relative to its working directory. */
static int resolve_program(char **out, const char *name,
                           const struct kvlist *env, const char *cwd,
                           struct berr *err)
{
	const char *path = kvlist_get(env, "PATH");
	const char *p, *end;
	bool denied = false;

	*out = NULL;
	if (name == NULL || name[0] == '\0')
		return berr_set(err, "empty command");
	if (strchr(name, '/') != NULL) {
		switch (probe_program(name, cwd)) {
		case 1:
			*out = xstrdup(name);
			return 0;
		case 0:
			return berr_set(err, "command '%s' not found", name);
		default:
			return berr_set(
			    err, "command '%s' is not an executable file",
			    name);
		}
	}
	if (path == NULL)
		path = SPAWN_DEFAULT_PATH;
	for (p = path;; p = end + 1) {
		char *dir, *cand;
		int r;

		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		/* An empty entry is the working directory, as for execvp. */
		dir = end > p ? xstrndup(p, (size_t)(end - p)) : xstrdup(".");
		cand = fs_join(dir, name);
		free(dir);
		r = probe_program(cand, cwd);
		if (r == 1) {
			*out = cand;
			return 0;
		}
		free(cand);
		if (r < 0)
			denied = true;
		if (*end == '\0')
			break;
	}
	if (denied)
		return berr_set(
		    err, "command '%s' found on PATH is not executable", name);
	return berr_set(err, "command '%s' not found on PATH", name);
}

/*
 * Prepares c to run o->argv with in, out and errfd (all above 2) as the
 * child's 0, 1 and 2, in a new process group, or a new session when
 * detached.
 */
static int child_prepare(struct child *c, const struct spawn_opts *o, int in,
                         int out, int errfd, bool detached, struct berr *err)
{
	sigset_t all, none;
	short flags;
	struct stat st;

	memset(c, 0, sizeof(*c));
	if (o->argv == NULL || o->argv[0] == NULL)
		return berr_set(err, "empty command");
	if (o->cwd != NULL && stat(o->cwd, &st) != 0)
		return berr_errno(err, errno, "cannot change to directory '%s'",
		                  o->cwd);
	if (o->cwd != NULL && !S_ISDIR(st.st_mode))
		return berr_errno(err, ENOTDIR,
		                  "cannot change to directory '%s'", o->cwd);
	if (resolve_program(&c->path, o->argv[0], o->env, o->cwd, err) < 0)
		return -1;
	c->envp = build_envp(o->env, err);
	if (c->envp == NULL)
		return -1;

	if (posix_spawn_file_actions_init(&c->fa) != 0)
		return berr_set(err, "cannot prepare to run '%s'", o->argv[0]);
	c->fa_ready = true;
	if (posix_spawnattr_init(&c->attr) != 0)
		return berr_set(err, "cannot prepare to run '%s'", o->argv[0]);
	c->attr_ready = true;

	/* dup2 clears close-on-exec on the copies 0-2; everything else the
	 * child could inherit is closed, whatever flags it was opened with. */
	if (posix_spawn_file_actions_adddup2(&c->fa, in, 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&c->fa, out, 1) != 0 ||
	    posix_spawn_file_actions_adddup2(&c->fa, errfd, 2) != 0 ||
	    posix_spawn_file_actions_addclosefrom_np(&c->fa, 3) != 0 ||
	    (o->cwd != NULL &&
	     posix_spawn_file_actions_addchdir_np(&c->fa, o->cwd) != 0))
		return berr_set(err, "cannot prepare to run '%s'", o->argv[0]);

	sigfillset(&all);
	sigemptyset(&none);
	flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
	flags |= detached ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP;
	if (posix_spawnattr_setsigdefault(&c->attr, &all) != 0 ||
	    posix_spawnattr_setsigmask(&c->attr, &none) != 0 ||
	    (!detached && posix_spawnattr_setpgroup(&c->attr, 0) != 0) ||
	    posix_spawnattr_setflags(&c->attr, flags) != 0)
		return berr_set(err, "cannot prepare to run '%s'", o->argv[0]);
	return 0;
}

static int child_start(pid_t *pid, struct child *c, const struct spawn_opts *o,
                       struct berr *err)
{
	/* posix_spawn's argv is not const for historical reasons only: it
	 * does not modify the strings. */
	int rc = posix_spawn(pid, c->path, &c->fa, &c->attr,
	                     (char *const *)o->argv, c->envp);

	if (rc != 0)
		return berr_errno(err, rc, "cannot run '%s'", o->argv[0]);
	return 0;
}

static void reader_deliver_line(struct reader *r)
{
	struct buf *l = &r->line;

	if (l->len > 0 && l->data[l->len - 1] == '\r')
		l->data[--l->len] = '\0';
	r->o->on_line(buf_str(l), l->len, r->o->arg);
	buf_reset(l);
}

static void reader_feed(struct reader *r, const char *p, size_t n)
{
	struct buf *out = &r->res->output;

	/* Trim only once the buffer holds twice the tail: one memmove per
	 * capture_max bytes read, not one per read. */
	buf_append(out, p, n);
	if (out->len > 2 * r->cap) {
		buf_keep_tail(out, r->cap);
		r->res->truncated = true;
	}
	if (r->o->on_line == NULL)
		return;
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		size_t room = SPAWN_LINE_MAX - r->line.len;

		if (take > room)
			take = room;
		buf_append(&r->line, p, take);
		p += take;
		n -= take;
		if (n > 0 && *p == '\n') {
			reader_deliver_line(r);
			p++;
			n--;
		} else if (r->line.len == SPAWN_LINE_MAX) {
			reader_deliver_line(r);
		}
	}
}

/* Reads what is available. Returns false at end of file or on an error. */
static bool reader_read(struct reader *r, int fd)
{
	char chunk[SPAWN_READ_CHUNK];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n > 0) {
			reader_feed(r, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
}

/* True once pid has exited; leaves it a zombie (WNOWAIT), so that its pid,
 * and with it the process group id, cannot be reused before we kill the
 * group and reap it. */
static bool child_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno != EINTR; /* ECHILD: someone else reaped it */
	return si.si_pid == pid;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int pidfd_for(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/*
 * Reads the child's output until it exits, enforcing the timeout, then
 * reaps it. Without a pidfd (kernels before 5.3) it checks for the exit
 * every 50 ms instead of being woken.
 */
static void child_wait(struct spawn_result *res, pid_t pid, int rfd,
                       const struct spawn_opts *o, int64_t start)
{
	struct reader r = {.res = res, .o = o};
	int grace = o->kill_grace_ms > 0 ? o->kill_grace_ms : SPAWN_GRACE_MS;
	int64_t deadline = o->timeout_ms > 0 ? start + o->timeout_ms : 0;
	int pidfd = pidfd_for(pid);
	bool eof = false;
	int status = 0;
	pid_t reaped;

	r.cap = o->capture_max ? o->capture_max : SPAWN_CAPTURE;
	if (r.cap > SPAWN_CAPTURE_LIMIT)
		r.cap = SPAWN_CAPTURE_LIMIT;
	buf_init(&res->output, 2 * r.cap + SPAWN_READ_CHUNK);
	buf_init(&r.line, SPAWN_LINE_MAX);
	fcntl(rfd, F_SETFL, fcntl(rfd, F_GETFL) | O_NONBLOCK);

	while (!child_exited(pid)) {
		struct pollfd pfd[2] = {
		    {.fd = eof ? -1 : rfd, .events = POLLIN},
		    {.fd = pidfd, .events = POLLIN}};
		int64_t now = strnum_mono_ms();
		int wait_ms = -1;

		if (deadline > 0 && now >= deadline) {
			/* SIGTERM to the group; SIGKILL once the grace ends. */
			kill(-pid, res->timed_out ? SIGKILL : SIGTERM);
			deadline = res->timed_out ? 0 : now + grace;
			res->timed_out = true;
		}
		if (deadline > 0)
			wait_ms = (int)(deadline > now ? deadline - now : 0);
		if (pidfd < 0 && (wait_ms < 0 || wait_ms > 50))
			wait_ms = 50;
		if (poll(pfd, 2, wait_ms) < 0 && errno != EINTR)
			sleep_ms(
			    50); /* keep enforcing the timeout regardless */
		if (!eof && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			eof = !reader_read(&r, rfd);
	}
	/* What the child wrote before it exited is in the pipe; background
	 * processes it left behind may keep the pipe open, so do not wait for
	 * the end of file. */
	if (!eof)
		reader_read(&r, rfd);
	if (r.line.len > 0 && o->on_line != NULL)
		reader_deliver_line(&r);
	if (res->timed_out)
		kill(-pid, SIGKILL); /* what survived SIGTERM in the group */

	while ((reaped = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	res->duration_ms = strnum_mono_ms() - start;
	if (res->timed_out)
		group_wait_gone(pid, SPAWN_KILL_WAIT_MS);
	if (reaped != pid) {
		res->exit_code =
		    -1; /* reaped by someone else: status unknown */
	} else if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->exit_code = -1;
		res->signal = WTERMSIG(status);
	}
	if (res->output.len > r.cap) {
		buf_keep_tail(&res->output, r.cap);
		res->truncated = true;
	}
	buf_release(&r.line);
	if (pidfd >= 0)
		close(pidfd);
}

int spawn_run(struct spawn_result *res, const struct spawn_opts *o,
              struct berr *err)
{
	struct child c = {0};
	int pipefd[2] = {-1, -1};
	int in = -1, out = -1;
	int64_t start;
	pid_t pid;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	res->timeout_ms = o->timeout_ms;
	buf_init(&res->output, 0);

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		berr_errno(err, errno, "cannot create a pipe");
		goto out;
	}
	if (fd_high(&pipefd[0], err) < 0 || fd_high(&pipefd[1], err) < 0)
		goto out;
	if (o->stdin_fd >= 0) {
		if (fd_copy_high(&in, o->stdin_fd, err) < 0)
			goto out;
	} else if (open_devnull(&in, O_RDONLY, err) < 0) {
		goto out;
	}
	if (o->stdout_fd >= 0 && fd_copy_high(&out, o->stdout_fd, err) < 0)
		goto out;
	if (child_prepare(&c, o, in, out >= 0 ? out : pipefd[1], pipefd[1],
	                  false, err) < 0)
		goto out;

	start = strnum_mono_ms();
	if (child_start(&pid, &c, o, err) < 0)
		goto out;
	/* Only the child may hold the write end now, or we would never see
	 * the end of its output. */
	close_fd(&pipefd[1]);
	close_fd(&in);
	close_fd(&out);
	child_wait(res, pid, pipefd[0], o, start);
	rc = 0;
out:
	child_release(&c);
	close_fd(&out);
	close_fd(&in);
	close_fd(&pipefd[1]);
	close_fd(&pipefd[0]);
	return rc;
}

void spawn_result_release(struct spawn_result *res)
{
	if (res == NULL)
		return;
	buf_release(&res->output);
}

int spawn_detached(pid_t *pgid, const struct spawn_opts *o,
                   const char *log_path, struct berr *err)
{
	struct child c = {0};
	int in = -1, logfd = -1;
	pid_t pid;
	int rc = -1;

	*pgid = -1;
	if (open_devnull(&in, O_RDONLY, err) < 0)
		goto out;
	logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (logfd < 0) {
		berr_errno(err, errno, "cannot open log '%s'", log_path);
		goto out;
	}
	if (fd_high(&logfd, err) < 0)
		goto out;
	if (child_prepare(&c, o, in, logfd, logfd, true, err) < 0 ||
	    child_start(&pid, &c, o, err) < 0)
		goto out;
	*pgid = pid;
	rc = 0;
out:
	child_release(&c);
	close_fd(&logfd);
	close_fd(&in);
	return rc;
}

/* True when /proc shows a member of pgid that is not a zombie; -1 when
 * /proc cannot be read. */
static int proc_group_running(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0;

	if (d == NULL)
		return -1;
	while (!found && (e = readdir(d)) != NULL) {
		char path[300], stat_line[512], *p;
		long pgrp;
		char state;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue; /* exited meanwhile */
		p = fgets(stat_line, sizeof(stat_line), f);
		fclose(f);
		/* "pid (comm) state ppid pgrp ...": comm may hold spaces and
		 * parentheses, so parse from the last ')'. */
		if (p == NULL || (p = strrchr(stat_line, ')')) == NULL)
			continue;
		if (sscanf(p + 1, " %c %*d %ld", &state, &pgrp) == 2 &&
		    pgrp == (long)pgid && state != 'Z' && state != 'X')
			found = 1;
	}
	closedir(d);
	return found;
}

bool spawn_group_alive(pid_t pgid)
{
	int status, running;

	if (pgid <= 1)
		return false;
	/* Reap the leader if it is our own child that exited; a pid that is
	 * not our child gives ECHILD and is left alone. */
	while (waitpid(pgid, &status, WNOHANG) < 0 && errno == EINTR)
		;
	if (kill(-pgid, 0) < 0 && errno == ESRCH)
		return false;
	running = proc_group_running(pgid);
	return running != 0; /* without /proc, trust kill() */
}

/* Waits up to timeout_ms for the group to be gone. */
static bool group_wait_gone(pid_t pgid, int timeout_ms)
{
	int64_t deadline = strnum_mono_ms() + timeout_ms;
	int step = 10;

	while (spawn_group_alive(pgid)) {
		if (strnum_mono_ms() >= deadline)
			return false;
		sleep_ms(step);
		if (step < 100)
			step *= 2;
	}
	return true;
}

int spawn_stop_group(pid_t pgid, int stop_timeout_ms, bool *killed,
                     struct berr *err)
{
	*killed = false;
	if (pgid <= 1 || pgid == getpgrp())
		return berr_set(err, "refusing to stop process group %d",
		                (int)pgid);
	if (kill(-pgid, SIGTERM) < 0) {
		if (errno == ESRCH) {
			spawn_group_alive(pgid); /* reaps our own leader */
			return 0;
		}
		return berr_errno(err, errno, "cannot stop process group %d",
		                  (int)pgid);
	}
	kill(-pgid, SIGCONT);
	if (group_wait_gone(pgid, stop_timeout_ms > 0 ? stop_timeout_ms : 0))
		return 0;
	*killed = true;
	if (kill(-pgid, SIGKILL) < 0 && errno != ESRCH)
		return berr_errno(err, errno, "cannot kill process group %d",
		                  (int)pgid);
	if (!group_wait_gone(pgid, SPAWN_KILL_WAIT_MS))
		return berr_set(
		    err, "process group %d still running %d ms after SIGKILL",
		    (int)pgid, SPAWN_KILL_WAIT_MS);
	return 0;
}

int spawn_which(char **out, const char *name, const struct kvlist *env,
                const char *cwd, struct berr *err)
{
	return resolve_program(out, name, env, cwd, err);
}

void spawn_env_base(struct kvlist *env)
{
	static const char *const names[] = {"HOME", "LANG", "TZ"};
	const char *path = getenv("PATH");
	size_t i;

	kvlist_set(env, "PATH",
	           path != NULL && path[0] ? path : SPAWN_DEFAULT_PATH);
	for (i = 0; i < BERTH_ARRAY_LEN(names); i++) {
		const char *v = getenv(names[i]);

		if (v != NULL)
			kvlist_set(env, names[i], v);
	}
}

char *spawn_describe_status(const struct spawn_result *r)
{
	const char *name;

	if (r->timed_out) {
		if (r->timeout_ms % 1000 == 0)
			return xasprintf("timed out after %d s",
			                 r->timeout_ms / 1000);
		return xasprintf("timed out after %d ms", r->timeout_ms);
	}
	if (r->signal != 0) {
		name = sigabbrev_np(r->signal);
		if (name != NULL)
			return xasprintf("killed by SIG%s", name);
		return xasprintf("killed by signal %d", r->signal);
	}
	if (r->exit_code < 0)
		return xstrdup("exit status unknown");
	return xasprintf("exited %d", r->exit_code);
}
