/*
 * confine.c — repository paths must stay inside the release directory.
 * At parse time the check is lexical (relative, no ".." component); on a
 * checked-out release confine_resolve() follows symlinks the way the
 * kernel would, to see where a path really ends up.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"

#define MAX_SYMLINKS 40

static bool has_dotdot(const char *rel)
{
	const char *c = rel;

	while (*c != '\0') {
		size_t n = strcspn(c, "/");

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return true;
		c += n;
		while (*c == '/')
			c++;
	}
	return false;
}

int confine_relpath(struct mparse *p, const char *rel)
{
	const char *why;
	json_t *v;
	char got[128];

	if (*rel == '\0')
		why = "an empty path";
	else if (*rel == '/')
		why = "an absolute path";
	else if (has_dotdot(rel))
		why = "\"..\" may leave the release";
	else
		return 0;
	v = json_string(rel);
	validate_describe(got, sizeof(got), v);
	json_decref(v);
	validate_error(p,
	               "expected a relative path inside the release, got %s "
	               "(%s)",
	               got, why);
	return -1;
}

int confine_command(struct mparse *p, const char *argv0)
{
	if (strchr(argv0, '/') == NULL || argv0[0] == '/')
		return 0;
	return confine_relpath(p, argv0);
}

/* A path being resolved: an absolute path without trailing "/" ("" is
 * the root directory). */
struct walk {
	char *s;
	size_t len, cap;
};

static void walk_add(struct walk *w, const char *c, size_t n)
{
	if (w->len + n + 2 > w->cap) {
		while (w->len + n + 2 > w->cap)
			w->cap = w->cap ? w->cap * 2 : 256;
		w->s = realloc(w->s, w->cap);
		if (w->s == NULL)
			abort();
	}
	w->s[w->len++] = '/';
	memcpy(w->s + w->len, c, n);
	w->len += n;
	w->s[w->len] = '\0';
}

static void walk_up(struct walk *w)
{
	while (w->len > 0 && w->s[w->len - 1] != '/')
		w->len--;
	if (w->len > 0)
		w->len--;
	w->s[w->len] = '\0';
}

int confine_resolve(char **out, const char *root, const char *rel)
{
	struct walk w = {0};
	char *todo = NULL; /* the components still to walk */
	int links = 0, rc = -1;
	bool missing = false;
	size_t pos = 0;

	*out = NULL;
	walk_add(&w, "", 0);
	w.len = 0;
	w.s[0] = '\0';
	if (strcmp(root, "/") != 0)
		walk_add(&w, root + 1, strlen(root + 1));
	todo = strdup(rel);
	if (todo == NULL)
		abort();
	while (todo[pos] != '\0') {
		size_t n = strcspn(todo + pos, "/");
		const char *c = todo + pos;
		char target[4096];
		struct stat st;
		ssize_t tn;
		char *rest;
		size_t restlen;

		if (n == 0 || (n == 1 && c[0] == '.')) {
			pos += n + (todo[pos + n] == '/');
			continue;
		}
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			walk_up(&w);
			pos += n + (todo[pos + n] == '/');
			continue;
		}
		walk_add(&w, c, n);
		pos += n + (todo[pos + n] == '/');
		if (missing || lstat(w.s, &st) != 0) {
			missing = true;
			continue;
		}
		if (!S_ISLNK(st.st_mode))
			continue;
		if (++links > MAX_SYMLINKS) {
			errno = ELOOP;
			goto out;
		}
		tn = readlink(w.s, target, sizeof(target) - 1);
		if (tn < 0)
			goto out;
		target[tn] = '\0';
		walk_up(&w);
		if (target[0] == '/') {
			w.len = 0;
			w.s[0] = '\0';
		}
		/* The link's target comes before what was still to do. */
		restlen = strlen(todo + pos);
		rest = malloc((size_t)tn + 1 + restlen + 1);
		if (rest == NULL)
			abort();
		memcpy(rest, target, (size_t)tn);
		rest[tn] = '/';
		memcpy(rest + tn + 1, todo + pos, restlen + 1);
		free(todo);
		todo = rest;
		pos = 0;
	}
	if (w.len == 0)
		walk_add(&w, "", 0); /* the root directory, "/" */
	*out = w.s;
	w.s = NULL;
	rc = 0;
out:
	free(todo);
	free(w.s);
	return rc;
}

bool confine_inside(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return path[0] == '/';
	return strncmp(root, path, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}
