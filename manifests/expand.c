/*
 * expand.c — ${NAME} references in a manifest's commands and URLs. This is
 * deliberately not a shell: no defaults, no nesting, no word splitting,
 * no command substitution. "$$" writes one "$"; a "$" not followed by "{"
 * or "$" stays as it is.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

/* A growable string for the result, capped at EXPAND_MAX_LEN. */
struct out {
	char *s;
	size_t len, cap;
	bool too_long;
};

static void out_add(struct out *o, const char *s, size_t n)
{
	if (o->too_long || o->len + n > EXPAND_MAX_LEN) {
		o->too_long = true;
		return;
	}
	if (o->len + n + 1 > o->cap) {
		while (o->len + n + 1 > o->cap)
			o->cap = o->cap ? o->cap * 2 : 64;
		o->s = realloc(o->s, o->cap);
		if (o->s == NULL)
			abort();
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static bool name_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* Shortens a variable reference for a message. */
static int shown(size_t n)
{
	return n > 40 ? 40 : (int)n;
}

int expand_vars(char **out, const char *s, const struct kvlist *first,
                const struct kvlist *second, struct merrs *problems)
{
	struct out o = {0};
	size_t nproblems = problems->n;
	const char *c = s;

	out_add(&o, "", 0);
	while (*c != '\0') {
		const char *dollar = strchr(c, '$');
		const char *end, *name, *value;
		size_t n, i;

		if (dollar == NULL) {
			out_add(&o, c, strlen(c));
			break;
		}
		out_add(&o, c, (size_t)(dollar - c));
		if (dollar[1] == '$') {
			out_add(&o, "$", 1);
			c = dollar + 2;
			continue;
		}
		if (dollar[1] != '{') {
			out_add(&o, "$", 1);
			c = dollar + 1;
			continue;
		}
		name = dollar + 2;
		end = strchr(name, '}');
		if (end == NULL) {
			merrs_add(problems,
			          "malformed variable reference \"%.*s\": "
			          "missing \"}\"",
			          shown(strlen(dollar)), dollar);
			break;
		}
		n = (size_t)(end - name);
		for (i = 0; i < n && name_char(name[i], i == 0); i++)
			;
		if (n == 0 || i < n) {
			merrs_add(
			    problems,
			    "malformed variable reference \"%.*s}\": "
			    "expected ${NAME} with NAME [A-Za-z_][A-Za-z0-9_]*",
			    shown((size_t)(end - dollar)), dollar);
			c = end + 1;
			continue;
		}
		{
			char key[256];

			if (n >= sizeof(key)) {
				merrs_add(problems,
				          "malformed variable reference: name "
				          "\"%.40s...\" is too long",
				          name);
				c = end + 1;
				continue;
			}
			memcpy(key, name, n);
			key[n] = '\0';
			value = kvlist_get(first, key);
			if (value == NULL)
				value = kvlist_get(second, key);
			if (value == NULL)
				merrs_add(problems, "undefined variable \"%s\"",
				          key);
			else
				out_add(&o, value, strlen(value));
		}
		c = end + 1;
	}
	if (o.too_long && problems->n == nproblems)
		merrs_add(problems,
		          "the expanded value is longer than %d bytes",
		          EXPAND_MAX_LEN);
	if (problems->n != nproblems) {
		free(o.s);
		*out = NULL;
		return -1;
	}
	*out = o.s;
	return 0;
}

int expand_at(struct mparse *p, char **out, const char *s,
              const struct kvlist *first)
{
	struct merrs problems = {0};
	size_t i;
	int rc = expand_vars(out, s, first, p->vars, &problems);

	for (i = 0; i < problems.n; i++)
		validate_error(p, "%s", problems.items[i]);
	merrs_release(&problems);
	return rc;
}

int expand_url(struct mparse *p, char **out, const char *raw,
               const struct kvlist *first, const json_t *got)
{
	if (expand_at(p, out, raw, first) != 0)
		return -1;
	if (validate_is_http_url(*out))
		return 0;
	/* Never the expanded value: it may hold a secret of the env file. */
	validate_expected(p,
	                  strcmp(*out, raw) == 0
	                      ? "an http:// or https:// URL"
	                      : "an http:// or https:// URL after expansion",
	                  got);
	return -1;
}
