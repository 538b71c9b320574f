/*
 * secret.c — reading the secrets config.json names: from an environment
 * variable or from a file only its owner can read; and reading any file
 * that holds secrets (env files too). A secret's value never goes into a
 * message; the buffers that held one are wiped before they are freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "berth.h"

/* Any permission for group or others: reading a secret lets that user forge
 * webhooks; writing it lets them replace it. */
#define SECRET_UNSAFE_MODE (S_IRWXG | S_IRWXO)

/* "group", "others", "group and others" or NULL. */
static const char *who(bool group, bool others)
{
	if (group && others)
		return "group and others";
	if (group)
		return "group";
	return others ? "others" : NULL;
}

/* What the offending bits allow, for the message: "lets others read it". */
static void mode_problem(char *out, size_t size, mode_t bad)
{
	const char *r = who(bad & S_IRGRP, bad & S_IROTH);
	const char *w = who(bad & S_IWGRP, bad & S_IWOTH);

	if (r != NULL && w != NULL)
		snprintf(out, size, "lets %s read it and %s write it", r, w);
	else if (r != NULL)
		snprintf(out, size, "lets %s read it", r);
	else if (w != NULL)
		snprintf(out, size, "lets %s write it", w);
	else
		snprintf(out, size, "gives group or others access");
}

/*
 * Opens path and checks what the descriptor refers to (fstat, so the file
 * checked is the file read). Returns the descriptor, or -1 with err set;
 * *missing tells a file that does not exist.
 */
static int secret_open(bool *missing, const char *path, mode_t forbidden,
		       const char *what, struct berr *err)
{
	struct stat st;
	char problem[96];
	int fd;

	*missing = false;
	/* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*missing = errno == ENOENT;
		berr_errno(err, errno, "%s: cannot open '%s'", what, path);
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		berr_errno(err, errno, "%s: cannot stat '%s'", what, path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		berr_set(err, "%s: '%s' is not a regular file", what, path);
		goto fail;
	}
	if ((st.st_mode & forbidden) != 0) {
		mode_problem(problem, sizeof(problem), st.st_mode & forbidden);
		berr_set(err, "%s: refusing '%s': its mode %04o %s; run: chmod "
			      "600 '%s'",
			 what, path, (unsigned)(st.st_mode & 07777), problem,
			 path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int secret_check_file(const char *path, const char *what, struct berr *err)
{
	bool missing;
	int fd = secret_open(&missing, path, SECRET_UNSAFE_MODE, what, err);

	if (fd < 0)
		return missing ? BERTH_ENOTFOUND : -1;
	close(fd);
	return 0;
}

int secret_read_file(struct buf *out, const char *path, mode_t forbidden,
		     size_t max, const char *what, struct berr *err)
{
	/* The whole file goes into one allocation sized up front, so that
	 * no copy of it is left behind by a realloc. */
	size_t len = 0, cap = max + 1;
	char *data = NULL;
	bool missing;
	int fd, rc = -1;

	fd = secret_open(&missing, path, forbidden, what, err);
	if (fd < 0)
		return missing ? BERTH_ENOTFOUND : -1;
	data = xmalloc(cap);
	for (;;) {
		ssize_t n = read(fd, data + len, cap - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			berr_errno(err, errno, "%s: cannot read '%s'", what,
				   path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			berr_set(err, "%s: '%s' is larger than %zu bytes", what,
				 path, max);
			rc = BERTH_ETOOBIG;
			goto out;
		}
	}
	if (buf_append(out, data, len) != 0) {
		berr_set(err, "%s: '%s' is too large", what, path);
		rc = BERTH_ETOOBIG;
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(data, cap);
	free(data);
	close(fd);
	return rc;
}

/* The secret in ref->file, without one trailing newline. */
static int secret_from_file(struct buf *out, const char *path,
			    const char *what, struct berr *err)
{
	if (secret_read_file(out, path, SECRET_UNSAFE_MODE, SECRET_MAX_BYTES,
			     what, err) != 0)
		return -1;
	if (out->len > 0 && out->data[out->len - 1] == '\n') {
		out->len--;
		if (out->len > 0 && out->data[out->len - 1] == '\r')
			out->len--;
		out->data[out->len] = '\0';
	}
	if (out->len == 0)
		return berr_set(err, "%s: '%s' is empty", what, path);
	return 0;
}

int secret_load(struct buf *out, const struct secret_ref *ref,
		const char *what, struct berr *err)
{
	const char *value;
	int rc;

	if (ref->env == NULL && ref->file == NULL) {
		berr_set(err, "%s: not configured", what);
		return BERTH_ENOTFOUND;
	}
	if (ref->file != NULL) {
		rc = secret_from_file(out, ref->file, what, err);
		goto out;
	}
	value = getenv(ref->env);
	if (value == NULL) {
		berr_set(err, "%s: environment variable '%s' is not set", what,
			 ref->env);
		return BERTH_ENOTFOUND;
	}
	if (*value == '\0') {
		rc = berr_set(err, "%s: environment variable '%s' is empty",
			      what, ref->env);
		goto out;
	}
	rc = buf_puts(out, value);
	if (rc != 0)
		rc = berr_set(err, "%s: environment variable '%s' is too large",
			      what, ref->env);
out:
	if (rc != 0)
		secret_wipe(out);
	return rc;
}

void secret_wipe(struct buf *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	buf_release(b);
}
