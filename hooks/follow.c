/*
 * follow.c — the post-receive hook's own deployment, when no daemon runs:
 * `berth apply` started detached from the hook, its output relayed to the
 * pusher as it is written.
 *
 * Why detached: a pusher who presses Ctrl-C, or loses the connection, closes
 * the pipe git reads the hook's output from. A deployment writing into that
 * pipe would die of SIGPIPE halfway through. Instead it writes into a file of
 * its own (unlinked at once: nothing is left behind) in a session of its own,
 * and only the hook, which merely reads that file, can lose its audience.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"

/* Longest line relayed in one piece. */
#define LINE_MAX_BYTES 8192

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Relays the complete lines of pending (and, with flush, the rest). */
static void relay_lines(struct buf *pending, bool flush)
{
	size_t start = 0;

	for (;;) {
		const char *p = pending->data + start;
		size_t left = pending->len - start;
		const char *nl = left ? memchr(p, '\n', left) : NULL;

		if (nl != NULL) {
			pusher_line(p, (size_t)(nl - p));
			start += (size_t)(nl - p) + 1;
		} else if (left > 0 && (flush || left >= LINE_MAX_BYTES)) {
			pusher_line(p, left);
			start += left;
		} else {
			break;
		}
	}
	if (start > 0) {
		memmove(pending->data, pending->data + start,
		        pending->len - start);
		pending->len -= start;
		pending->data[pending->len] = '\0';
	}
}

/* Reads what fd holds now into pending. Returns the bytes read. */
static size_t drain(int fd, struct buf *pending)
{
	char chunk[4096];
	size_t total = 0;
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0 ||
	       (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		buf_append(pending, chunk, (size_t)n);
		total += (size_t)n;
		relay_lines(pending, false);
	}
	return total;
}

/* A new empty file under dir for the deployment's output, opened for
 * reading into *fd; its path in *path (new). */
static int output_file(int *fd, char **path, const char *dir, struct berr *err)
{
	int wfd, i;

	*fd = -1;
	*path = NULL;
	for (i = 0; i < 100; i++) {
		*path = xasprintf("%s/hook-%ld-%d.out", dir, (long)getpid(), i);
		wfd =
		    open(*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (wfd >= 0)
			break;
		if (errno != EEXIST) {
			berr_errno(err, errno, "cannot create '%s'", *path);
			goto fail;
		}
		free(*path);
		*path = NULL;
	}
	if (*path == NULL)
		return berr_set(err, "cannot create an output file in '%s'",
		                dir);
	close(wfd);
	*fd = open(*path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		berr_errno(err, errno, "cannot open '%s'", *path);
		unlink(*path);
		goto fail;
	}
	return 0;
fail:
	free(*path);
	*path = NULL;
	return -1;
}

int follow_apply(int *exit_code, int *pid, struct state *st,
                 const char *config_path, const char *env, const char *sha,
                 int poll_ms, struct berr *err)
{
	struct spawn_opts o = SPAWN_OPTS_INIT;
	char exe[PATH_MAX];
	const char *argv[10];
	struct kvlist environ_kv;
	struct buf pending;
	char *logs = state_path(st, "logs"), *path = NULL;
	pid_t pgid = -1;
	ssize_t len;
	int fd = -1, status, rc = -1;

	*exit_code = -1;
	*pid = 0;
	kvlist_init(&environ_kv);
	buf_init(&pending, 0);
	if (poll_ms <= 0)
		poll_ms = 200;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0) {
		berr_errno(err, errno, "cannot find the berth binary");
		goto out;
	}
	exe[len] = '\0';
	if (fs_mkdir_p(logs, 0750, err) != 0 ||
	    output_file(&fd, &path, logs, err) != 0)
		goto out;
	argv[0] = exe;
	argv[1] = "--config";
	argv[2] = config_path;
	argv[3] = "apply";
	argv[4] = env;
	argv[5] = "--commit";
	argv[6] = sha;
	argv[7] = "--trigger";
	argv[8] = "hook:post-receive";
	argv[9] = NULL;
	chain_environ(&environ_kv, true);
	o.argv = argv;
	o.env = &environ_kv;
	o.cwd = "/";
	rc = spawn_detached(&pgid, &o, path, err);
	unlink(path);
	if (rc != 0) {
		berr_prefix(err, "cannot start berth apply");
		goto out;
	}
	rc = -1;
	*pid = (int)pgid;
	for (;;) {
		pid_t w = waitpid(pgid, &status, WNOHANG);

		if (w == pgid) {
			drain(fd, &pending);
			relay_lines(&pending, true);
			*exit_code =
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			break;
		}
		if (w < 0 && errno != EINTR) {
			berr_errno(err, errno, "cannot wait for berth apply");
			goto out;
		}
		if (drain(fd, &pending) == 0)
			sleep_ms(poll_ms);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_release(&pending);
	kvlist_release(&environ_kv);
	free(path);
	free(logs);
	return rc;
}
