/*
 * tmpdir.h — a private temporary directory for a unit test, and files
 * written into it with an exact mode. Include after berth.h.
 */
#ifndef BERTH_TMPDIR_H
#define BERTH_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char tmpdir[64];

/* Creates /tmp/berth-NAME-XXXXXX into tmpdir; exits on failure. */
static inline void tmpdir_make(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/berth-%s-XXXXXX", name);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

static inline void tmpdir_remove(void)
{
	struct berr err;

	if (fs_remove_tree(tmpdir, &err) != 0)
		fprintf(stderr, "%s\n", err.msg);
}

/* Writes (data, len) to tmpdir/name with exactly mode (the umask does not
 * decide); returns the path (new). Exits on failure. */
static inline char *tmpdir_put(const char *name, const void *data, size_t len,
			       mode_t mode)
{
	char *path = fs_join(tmpdir, name);
	struct berr err;

	if (fs_write_atomic(path, data, len, 0600, &err) != 0 ||
	    chmod(path, mode) != 0) {
		fprintf(stderr, "cannot write test file '%s'\n", path);
		exit(1);
	}
	return path;
}

#endif
