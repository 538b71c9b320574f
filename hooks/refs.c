/*
 * refs.c — parsing what git writes to a pre-receive or post-receive hook's
 * stdin: one "<old-sha> <new-sha> <ref-name>" line per pushed ref. The
 * lines come from git, but their ref names come from whoever pushed: they
 * are checked here and only ever used as data afterwards.
 */
#include <stdlib.h>
#include <string.h>

#include "hooks.h"

#define ZERO_SHA "0000000000000000000000000000000000000000"

static bool is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Parses one line (without its "\n") into r. */
static int parse_line(struct hook_ref *r, const char *p, size_t len,
                      size_t lineno, struct berr *err)
{
	size_t i, name_len;

	if (len < 83 || p[40] != ' ' || p[81] != ' ' || !is_lower_hex(p, 40) ||
	    !is_lower_hex(p + 41, 40))
		return berr_set(err,
		                "line %zu: expected 'OLD NEW REF' with "
		                "40-digit lowercase commit ids",
		                lineno);
	name_len = len - 82;
	if (name_len > REFS_MAX_NAME)
		return berr_set(err,
		                "line %zu: ref name of %zu bytes, over "
		                "the limit of %d",
		                lineno, name_len, REFS_MAX_NAME);
	for (i = 82; i < len; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
			return berr_set(err,
			                "line %zu: the ref name holds a "
			                "space or a control character",
			                lineno);
	memcpy(r->old_sha, p, 40);
	r->old_sha[40] = '\0';
	memcpy(r->new_sha, p + 41, 40);
	r->new_sha[40] = '\0';
	r->ref = xstrndup(p + 82, name_len);
	return 0;
}

int refs_parse(struct hook_refs *out, const char *data, size_t len,
               struct berr *err)
{
	size_t off = 0, lineno = 0, cap = 0;

	memset(out, 0, sizeof(*out));
	if (len > REFS_MAX_INPUT)
		return berr_set(err,
		                "hook input of %zu bytes, over the limit "
		                "of %zu",
		                len, REFS_MAX_INPUT);
	while (off < len) {
		const char *p = data + off, *nl = memchr(p, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - p) : len - off;

		off += n + (nl != NULL);
		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if (out->n == cap) {
			cap = cap ? cap * 2 : 8;
			out->items =
			    xrealloc(out->items, cap * sizeof(*out->items));
		}
		memset(&out->items[out->n], 0, sizeof(out->items[0]));
		if (parse_line(&out->items[out->n], p, n, lineno, err) != 0)
			return -1;
		out->n++;
	}
	return 0;
}

void refs_release(struct hook_refs *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		free(r->items[i].ref);
	free(r->items);
	memset(r, 0, sizeof(*r));
}

const char *refs_branch(const struct hook_ref *r)
{
	if (strncmp(r->ref, "refs/heads/", 11) != 0 || r->ref[11] == '\0')
		return NULL;
	return r->ref + 11;
}

bool refs_is_delete(const struct hook_ref *r)
{
	return strcmp(r->new_sha, ZERO_SHA) == 0;
}
