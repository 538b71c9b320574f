/*
 * lock.c — one deployment per environment at a time, across processes
 * (SPEC §5 step 1), with a lock the kernel releases when its holder dies.
 *
 * The lock is an open file description lock (F_OFD_SETLK) on the whole of
 * envs/<env>/lock rather than flock(2): it has the same lifetime (it belongs
 * to the open file, is released when the last descriptor to it closes, and
 * our descriptor is O_CLOEXEC so commands berth runs never carry it), and in
 * addition F_OFD_GETLK can tell whether it is held without taking it, so a
 * `berth status` running at the wrong moment never makes a deploy fail.
 *
 * While held, the file describes the holder in JSON. That text is written in
 * place on the locked file, not with fs_write_atomic: renaming a new file
 * over the path would move the lock's name to an unlocked inode. It is
 * informational only (whether the lock is held is the kernel's answer, never
 * the file's), is written in one write before the old length is cut, and is
 * read as "the first JSON value in the file", so a reader never sees a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth.h"

#define LOCK_FILE_MODE 0640
#define LOCK_INFO_MAX 4096

static int ofd_lock(int fd, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_OFD_SETLK, &fl);
}

/* Reads the holder description; zeroes h when there is none (the lock is
 * free, or its holder has not written it yet) or it does not parse. */
static void read_holder(struct lock_holder *h, int fd)
{
	char text[LOCK_INFO_MAX];
	const json_t *v;
	json_t *j;
	ssize_t n;
	int64_t t;

	memset(h, 0, sizeof(*h));
	n = pread(fd, text, sizeof(text), 0);
	if (n <= 0)
		return;
	j = json_loadb(text, (size_t)n, JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(j))
		goto out;
	v = json_object_get(j, "pid");
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= INT32_MAX)
		h->pid = (int)json_integer_value(v);
	v = json_object_get(j, "deployment_id");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		h->deployment_id = json_integer_value(v);
	v = json_object_get(j, "started_at");
	if (json_is_string(v) &&
	    strnum_parse_iso8601(&t, json_string_value(v)) == 0)
		h->started_at = t;
	v = json_object_get(j, "trigger");
	if (json_is_string(v))
		snprintf(h->trigger, sizeof(h->trigger), "%s",
			 json_string_value(v));
out:
	json_decref(j);
}

static int write_holder(int fd, const struct lock_holder *me, struct berr *err)
{
	char since[32], *text;
	struct buf b;
	json_t *j;
	ssize_t n;
	int rc = 0;

	strnum_iso8601(since, me->started_at);
	j = json_pack("{s:i, s:I, s:s, s:s}", "pid", me->pid, "deployment_id",
		      (json_int_t)me->deployment_id, "started_at", since,
		      "trigger", me->trigger);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL)
		return berr_set(err, "cannot describe the lock holder");
	buf_init(&b, LOCK_INFO_MAX);
	if (buf_puts(&b, text) != 0 || buf_putc(&b, '\n') != 0) {
		rc = berr_set(err, "lock holder description too long");
		goto out;
	}
	n = pwrite(fd, b.data, b.len, 0);
	if (n < 0)
		rc = berr_errno(err, errno, "cannot write the lock holder");
	else if ((size_t)n != b.len)
		rc = berr_set(err, "cannot write the lock holder: short write");
	else if (ftruncate(fd, (off_t)b.len) != 0)
		rc = berr_errno(err, errno, "cannot write the lock holder");
out:
	buf_release(&b);
	free(text);
	return rc;
}

void lock_describe(char *out, size_t len, const struct lock_holder *h)
{
	char since[32];
	struct buf b;

	buf_init(&b, 512);
	if (h->pid > 0)
		buf_printf(&b, "pid %d", h->pid);
	else
		buf_puts(&b, "an unknown process");
	if (h->deployment_id > 0)
		buf_printf(&b, ", deployment %lld", (long long)h->deployment_id);
	if (h->trigger[0] != '\0')
		buf_printf(&b, ", trigger %s", h->trigger);
	if (h->started_at > 0) {
		strnum_iso8601(since, h->started_at);
		buf_printf(&b, ", since %s", since);
	}
	snprintf(out, len, "%s", buf_str(&b));
	buf_release(&b);
}

/*
 * Opens path (create: make it when missing) and takes the lock on it.
 * Returns 0 with *fd locked; BERTH_ENOTFOUND when path does not exist and
 * create is false; BERTH_ELOCKED with *holder (may be NULL) filled and err
 * naming the holder; or -1. *fd is -1 unless 0 is returned.
 */
static int take(int *fd, struct lock_holder *holder, const char *path,
		bool create, struct berr *err)
{
	struct lock_holder h;
	char who[320];
	int lfd;

	*fd = -1;
	if (holder != NULL)
		memset(holder, 0, sizeof(*holder));
	lfd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0),
		   LOCK_FILE_MODE);
	if (lfd < 0) {
		berr_errno(err, errno, "cannot open lock '%s'", path);
		return errno == ENOENT && !create ? BERTH_ENOTFOUND : -1;
	}
	if (ofd_lock(lfd, F_WRLCK) == 0) {
		*fd = lfd;
		return 0;
	}
	if (errno != EAGAIN && errno != EACCES) {
		berr_errno(err, errno, "cannot lock '%s'", path);
		close(lfd);
		return -1;
	}
	read_holder(&h, lfd);
	close(lfd);
	lock_describe(who, sizeof(who), &h);
	berr_set(err, "'%s' is held by %s", path, who);
	if (holder != NULL)
		*holder = h;
	return BERTH_ELOCKED;
}

int lock_acquire(int *fd, const char *path, const struct lock_holder *me,
		 struct lock_holder *holder, struct berr *err)
{
	int lfd, rc;

	*fd = -1;
	rc = take(&lfd, holder, path, true, err);
	if (rc != 0)
		return rc;
	if (write_holder(lfd, me, err) != 0) {
		berr_prefix(err, "'%s'", path);
		ofd_lock(lfd, F_UNLCK);
		close(lfd);
		return -1;
	}
	*fd = lfd;
	return 0;
}

int lock_update(int fd, const struct lock_holder *me, struct berr *err)
{
	return write_holder(fd, me, err);
}

void lock_release(int fd)
{
	if (fd < 0)
		return;
	/* Cleared first, so that a free lock never shows an old holder. The
	 * explicit unlock also covers a forked child sharing the file. */
	if (ftruncate(fd, 0) != 0)
		log_debug("msg=\"cannot clear the lock holder\" errno=%d", errno);
	ofd_lock(fd, F_UNLCK);
	close(fd);
}

int lock_peek(bool *locked, struct lock_holder *holder, const char *path,
	      struct berr *err)
{
	struct flock fl;
	int fd;

	*locked = false;
	if (holder != NULL)
		memset(holder, 0, sizeof(*holder));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return berr_errno(err, errno, "cannot open lock '%s'", path);
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0) {
		int e = errno;

		close(fd);
		return berr_errno(err, e, "cannot test lock '%s'", path);
	}
	if (fl.l_type != F_UNLCK) {
		*locked = true;
		if (holder != NULL)
			read_holder(holder, fd);
	}
	close(fd);
	return 0;
}

int lock_clear(bool *cleared, struct lock_holder *holder, const char *path,
	       struct berr *err)
{
	int fd, rc;

	*cleared = false;
	rc = take(&fd, holder, path, false, err);
	if (rc == BERTH_ENOTFOUND)
		return 0;
	if (rc == BERTH_ELOCKED)
		berr_prefix(err, "cannot unlock: a live process holds the lock");
	if (rc != 0)
		return rc;
	if (lseek(fd, 0, SEEK_END) > 0) {
		*cleared = true;
		read_holder(holder, fd);
		if (ftruncate(fd, 0) != 0 || fsync(fd) != 0)
			rc = berr_errno(err, errno, "cannot clear '%s'", path);
	}
	ofd_lock(fd, F_UNLCK);
	close(fd);
	return rc;
}
