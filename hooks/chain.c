/*
 * chain.c — running the hook a repository had before berth's was installed
 * (kept as NAME.berth-chained by the installer) with exactly what git gave
 * berth's hook: the same stdin and the same environment. Its output reaches
 * the pusher as it comes; its exit status is the caller's to count.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hooks.h"

void chain_environ(struct kvlist *out, bool without_git)
{
	char **e;

	for (e = environ; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		char *key;

		if (eq == NULL || eq == *e)
			continue;
		if (without_git && strncmp(*e, "GIT_", 4) == 0)
			continue;
		key = xstrndup(*e, (size_t)(eq - *e));
		kvlist_set(out, key, eq + 1);
		free(key);
	}
}

/* An unnamed file holding (data, len), positioned at its start, to be the
 * chained hook's stdin. */
static int input_fd(int *fd, const char *data, size_t len, struct berr *err)
{
	size_t off = 0;

	*fd = memfd_create("berth-hook-input", MFD_CLOEXEC);
	if (*fd < 0)
		return berr_errno(err, errno, "cannot create the hook's input");
	while (off < len) {
		ssize_t n = write(*fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			berr_errno(err, errno, "cannot write the hook's input");
			close(*fd);
			*fd = -1;
			return -1;
		}
		off += (size_t)n;
	}
	if (lseek(*fd, 0, SEEK_SET) != 0) {
		berr_errno(err, errno, "cannot rewind the hook's input");
		close(*fd);
		*fd = -1;
		return -1;
	}
	return 0;
}

int chain_run(bool *ran, int *exit_code, const char *path, const char *input,
              size_t len, struct berr *err)
{
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct kvlist env;
	const char *argv[2];
	struct stat st;
	int fd = -1, rc = -1;

	*ran = false;
	*exit_code = 0;
	memset(&res, 0, sizeof(res));
	kvlist_init(&env);
	if (path == NULL || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    access(path, X_OK) != 0)
		return 0;
	if (input_fd(&fd, input, len, err) != 0)
		goto out;
	chain_environ(&env, false);
	argv[0] = path;
	argv[1] = NULL;
	o.argv = argv;
	o.env = &env;
	o.stdin_fd = fd;
	o.capture_max = 4096;
	o.on_line = pusher_on_line;
	o.arg = NULL;
	if (spawn_run(&res, &o, err) != 0) {
		berr_prefix(err, "cannot run the chained hook '%s'", path);
		goto out;
	}
	*ran = true;
	*exit_code = res.exit_code;
	rc = 0;
out:
	spawn_result_release(&res);
	kvlist_release(&env);
	if (fd >= 0)
		close(fd);
	return rc;
}
