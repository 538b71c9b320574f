/*
 * fs.c — durable, atomic file operations. Every state file berth writes goes
 * through fs_write_atomic(): killing berth at any instant leaves either the
 * old file or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth.h"

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int fs_fsync_dir(const char *dir, struct berr *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return berr_errno(err, errno, "cannot open directory '%s'", dir);
	if (fsync(fd) != 0 && errno != EINVAL) {
		int e = errno;

		close(fd);
		return berr_errno(err, e, "cannot fsync directory '%s'", dir);
	}
	close(fd);
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len,
		    mode_t mode, struct berr *err)
{
	char *tmp = NULL, *dir = NULL;
	int fd = -1, rc = -1, e;

	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		berr_errno(err, errno, "cannot create '%s'", tmp);
		goto out;
	}
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		berr_errno(err, errno, "cannot write '%s'", tmp);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		berr_errno(err, errno, "cannot write '%s'", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		berr_errno(err, errno, "cannot rename '%s' to '%s'", tmp, path);
		goto out;
	}
	dir = dir_of(path);
	rc = fs_fsync_dir(dir, err);
out:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	free(dir);
	errno = e;
	return rc;
}

int fs_read_file(struct buf *out, const char *path, size_t max,
		 struct berr *err)
{
	char chunk[16384];
	size_t total = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		berr_errno(err, errno, "cannot open '%s'", path);
		return errno == ENOENT ? BERTH_ENOTFOUND : -1;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = berr_errno(err, errno, "cannot read '%s'", path);
			break;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > max || buf_append(out, chunk, (size_t)n) != 0) {
			berr_set(err, "'%s' is larger than %zu bytes", path, max);
			rc = BERTH_ETOOBIG;
			break;
		}
	}
	close(fd);
	return rc;
}

int fs_mkdir_p(const char *path, mode_t mode, struct berr *err)
{
	char *p = xstrdup(path), *s;
	int rc = 0;

	for (s = p + 1; ; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			rc = berr_errno(err, errno, "cannot create directory '%s'", p);
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (rc == 0 && !fs_is_dir(path))
		rc = berr_set(err, "'%s' exists and is not a directory", path);
	free(p);
	return rc;
}

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int fs_remove_tree(const char *path, struct berr *err)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0
				       : berr_errno(err, errno, "cannot stat '%s'", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) != 0)
			return berr_errno(err, errno, "cannot remove '%s'", path);
		return 0;
	}
	/* FTW_PHYS: never follow a symlink out of the tree being removed. */
	if (nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		return berr_errno(err, errno, "cannot remove '%s'", path);
	return 0;
}

int fs_symlink_atomic(const char *target, const char *path, struct berr *err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	char *dir = NULL;
	int rc = -1;

	unlink(tmp);
	if (symlink(target, tmp) != 0) {
		berr_errno(err, errno, "cannot create symlink '%s'", tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		berr_errno(err, errno, "cannot rename '%s' to '%s'", tmp, path);
		unlink(tmp);
		goto out;
	}
	dir = dir_of(path);
	rc = fs_fsync_dir(dir, err);
out:
	free(tmp);
	free(dir);
	return rc;
}

bool fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

bool fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *fs_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	return xasprintf("%.*s/%s", (int)la, a, b);
}
