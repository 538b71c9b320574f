/*
 * validate.c — the pieces every section parser of manifest_parse() shares:
 * the JSON path of the value being read, error messages in the one format
 * the SPEC fixes ("FILE: $.path: expected WHAT, got VALUE"), and typed
 * readers that check a field and report what is wrong with it.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

/* Keys longer than this are shortened in paths and messages. */
#define KEY_SHOWN_MAX 48
/* Values longer than this are shortened in messages. */
#define VALUE_SHOWN_MAX 60

static void path_append(struct mparse *p, const char *s, size_t n)
{
	size_t room = sizeof(p->path) - 1 - p->len;

	if (n > room)
		n = room;
	memcpy(p->path + p->len, s, n);
	p->len += n;
	p->path[p->len] = '\0';
}

static bool is_plain_key(const char *key)
{
	const char *c;

	if (*key == '\0')
		return false;
	for (c = key; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			return false;
	}
	return true;
}

/* Writes s as a JSON string literal, shortened to about max bytes (on a
 * UTF-8 boundary) with "..." before the closing quote. */
static void quote_short(char *out, size_t outlen, const char *s, size_t max)
{
	json_t *str = json_string(s);
	char *d = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
	size_t n, limit;

	if (d == NULL) {
		snprintf(out, outlen, "\"?\"");
		goto out;
	}
	n = strlen(d);
	if (n <= max || n < 4) {
		snprintf(out, outlen, "%s", d);
		goto out;
	}
	/* Cut between whole characters and whole escapes, never inside. */
	limit = max - 4;
	n = 1;
	while (n < limit) {
		size_t tok = 1;

		if (d[n] == '\\')
			tok = d[n + 1] == 'u' ? 6 : 2;
		else if (((unsigned char)d[n] & 0xE0) == 0xC0)
			tok = 2;
		else if (((unsigned char)d[n] & 0xF0) == 0xE0)
			tok = 3;
		else if (((unsigned char)d[n] & 0xF8) == 0xF0)
			tok = 4;
		if (n + tok > limit)
			break;
		n += tok;
	}
	snprintf(out, outlen, "%.*s...\"", (int)n, d);
out:
	free(d);
	json_decref(str);
}

size_t validate_push_key(struct mparse *p, const char *key)
{
	size_t old = p->len;
	char q[KEY_SHOWN_MAX + 16];

	if (is_plain_key(key) && strlen(key) <= KEY_SHOWN_MAX) {
		path_append(p, ".", 1);
		path_append(p, key, strlen(key));
		return old;
	}
	quote_short(q, sizeof(q), key, KEY_SHOWN_MAX);
	path_append(p, "[", 1);
	path_append(p, q, strlen(q));
	path_append(p, "]", 1);
	return old;
}

size_t validate_push_index(struct mparse *p, size_t i)
{
	size_t old = p->len;
	char b[32];
	size_t n = sizeof(b);

	/* By hand: this runs for every array element of the manifest. */
	b[--n] = ']';
	do {
		b[--n] = (char)('0' + i % 10);
		i /= 10;
	} while (i > 0);
	b[--n] = '[';
	path_append(p, b + n, sizeof(b) - n);
	return old;
}

void validate_pop(struct mparse *p, size_t len)
{
	p->len = len;
	p->path[len] = '\0';
}

void validate_error(struct mparse *p, const char *fmt, ...)
{
	va_list ap;
	char msg[8192];

	if (p->errs->n >= MANIFEST_MAX_ERRORS) {
		p->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	merrs_add(p->errs, "%s: %s: %s", p->file, p->path, msg);
}

void validate_describe(char *out, size_t outlen, const json_t *v)
{
	char *d;
	size_t n;

	if (v == NULL) {
		snprintf(out, outlen, "nothing");
		return;
	}
	if (json_is_string(v)) {
		quote_short(out, outlen, json_string_value(v), VALUE_SHOWN_MAX);
		return;
	}
	d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (d == NULL) {
		snprintf(out, outlen, "?");
		return;
	}
	n = strlen(d);
	if (n > VALUE_SHOWN_MAX) {
		n = VALUE_SHOWN_MAX - 3;
		while (n > 1 && ((unsigned char)d[n] & 0xC0) == 0x80)
			n--;
		snprintf(out, outlen, "%.*s...", (int)n, d);
	} else {
		snprintf(out, outlen, "%s", d);
	}
	free(d);
}

void validate_expected(struct mparse *p, const char *what, const json_t *got)
{
	char g[VALUE_SHOWN_MAX + 16];

	validate_describe(g, sizeof(g), got);
	validate_error(p, "expected %s, got %s", what, g);
}

/* Edit distance of a and b, or a large number when they are too long to
 * be worth comparing. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[KEY_SHOWN_MAX + 1];

	if (la > KEY_SHOWN_MAX || lb > KEY_SHOWN_MAX)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

size_t validate_keys(struct mparse *p, const json_t *obj,
                     const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t unknown = 0;

	json_object_foreach((json_t *)obj, key, v)
	{
		const char *best = NULL;
		size_t best_d = 3, i;
		char q[KEY_SHOWN_MAX + 16];

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		/* Unknown: suggest the closest allowed key, if close. */
		for (i = 0; allowed[i] != NULL; i++) {
			size_t d = edit_distance(key, allowed[i]);

			if (d < best_d && d * 3 <= strlen(allowed[i])) {
				best_d = d;
				best = allowed[i];
			}
		}
		unknown++;
		quote_short(q, sizeof(q), key, KEY_SHOWN_MAX);
		if (best != NULL)
			validate_error(p,
			               "unknown key %s (did you mean \"%s\"?)",
			               q, best);
		else
			validate_error(p, "unknown key %s", q);
	}
	return unknown;
}

/* Gets obj[key], pushing key on the path; reports a missing required key. */
static const json_t *field(struct mparse *p, size_t *old, const json_t *obj,
                           const char *key, const char *what, unsigned flags)
{
	const json_t *v = json_object_get(obj, key);

	*old = validate_push_key(p, key);
	if (v == NULL && (flags & VALIDATE_REQUIRED))
		validate_expected(p, what, NULL);
	return v;
}

/* What an integer in [min, max] is called in messages. */
static void int_phrase(char *out, size_t outlen, int min, int max,
                       bool over_max)
{
	if (min == 1 && !over_max)
		snprintf(out, outlen, "a positive integer");
	else if (min == 1)
		snprintf(out, outlen, "a positive integer of at most %d", max);
	else if (min == 0 && !over_max)
		snprintf(out, outlen, "a non-negative integer");
	else if (min == 0)
		snprintf(out, outlen, "a non-negative integer of at most %d",
		         max);
	else
		snprintf(out, outlen, "an integer from %d to %d", min, max);
}

int validate_int(struct mparse *p, int *out, const json_t *obj, const char *key,
                 int min, int max, unsigned flags)
{
	char what[96];
	size_t old;
	const json_t *v;
	json_int_t n;
	int rc = -1;

	int_phrase(what, sizeof(what), min, max, false);
	v = field(p, &old, obj, key, what, flags);
	if (v == NULL) {
		rc = (flags & VALIDATE_REQUIRED) ? -1 : 0;
		goto out;
	}
	if (!json_is_integer(v)) {
		validate_expected(p, what, v);
		goto out;
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		int_phrase(what, sizeof(what), min, max, n > max);
		validate_expected(p, what, v);
		goto out;
	}
	*out = (int)n;
	rc = 0;
out:
	validate_pop(p, old);
	return rc;
}

int validate_bool(struct mparse *p, bool *out, const json_t *obj,
                  const char *key, unsigned flags)
{
	size_t old;
	const json_t *v = field(p, &old, obj, key, "true or false", flags);
	int rc = (v == NULL && !(flags & VALIDATE_REQUIRED)) ? 0 : -1;

	if (v != NULL && !json_is_boolean(v))
		validate_expected(p, "true or false", v);
	else if (v != NULL) {
		*out = json_is_true(v);
		rc = 0;
	}
	validate_pop(p, old);
	return rc;
}

int validate_name(struct mparse *p, char **out, const json_t *obj,
                  const char *key, unsigned flags, bool (*ok)(const char *),
                  const char *what)
{
	size_t old;
	const json_t *v = field(p, &old, obj, key, what, flags);
	int rc = (v == NULL && !(flags & VALIDATE_REQUIRED)) ? 0 : -1;

	if (v == NULL)
		goto out;
	if (!json_is_string(v) || !ok(json_string_value(v))) {
		validate_expected(p, what, v);
		goto out;
	}
	free(*out);
	*out = strdup(json_string_value(v));
	if (*out == NULL)
		abort();
	rc = 0;
out:
	validate_pop(p, old);
	return rc;
}

static bool any_string(const char *s)
{
	(void)s;
	return true;
}

static bool nonempty_string(const char *s)
{
	return *s != '\0';
}

int validate_string(struct mparse *p, char **out, const json_t *obj,
                    const char *key, unsigned flags)
{
	if (flags & VALIDATE_NONEMPTY)
		return validate_name(p, out, obj, key, flags, nonempty_string,
		                     "a non-empty string");
	return validate_name(p, out, obj, key, flags, any_string, "a string");
}

int validate_enum(struct mparse *p, int *out, const json_t *obj,
                  const char *key, const char *const *names, unsigned flags)
{
	char what[256];
	size_t old, used = 0, i;
	const json_t *v;
	int rc = -1;

	used += (size_t)snprintf(what, sizeof(what), "one of");
	for (i = 0; names[i] != NULL && used < sizeof(what); i++)
		used += (size_t)snprintf(what + used, sizeof(what) - used,
		                         "%s \"%s\"", i ? "," : "", names[i]);
	v = field(p, &old, obj, key, what, flags);
	if (v == NULL) {
		rc = (flags & VALIDATE_REQUIRED) ? -1 : 0;
		goto out;
	}
	for (i = 0; json_is_string(v) && names[i] != NULL; i++) {
		if (strcmp(json_string_value(v), names[i]) == 0) {
			*out = (int)i;
			rc = 0;
			goto out;
		}
	}
	validate_expected(p, what, v);
out:
	validate_pop(p, old);
	return rc;
}

int validate_object(struct mparse *p, const json_t **out, const json_t *obj,
                    const char *key, unsigned flags)
{
	size_t old;
	const json_t *v = field(p, &old, obj, key, "an object", flags);
	int rc = 0;

	*out = NULL;
	if (v == NULL && (flags & VALIDATE_REQUIRED))
		rc = -1;
	else if (v != NULL && !json_is_object(v)) {
		validate_expected(p, "an object", v);
		rc = -1;
	} else {
		*out = v;
	}
	validate_pop(p, old);
	return rc;
}

int validate_array(struct mparse *p, const json_t **out, const json_t *obj,
                   const char *key, const char *what)
{
	size_t old;
	const json_t *v = field(p, &old, obj, key, what, 0);
	int rc = 0;

	*out = NULL;
	if (v != NULL && !json_is_array(v)) {
		validate_expected(p, what, v);
		rc = -1;
	} else {
		*out = v;
	}
	validate_pop(p, old);
	return rc;
}

int validate_argv(struct mparse *p, struct strv *out, const json_t *v)
{
	size_t i, old;
	const json_t *arg;
	int rc = 0;

	if (!json_is_array(v) || json_array_size(v) == 0) {
		validate_expected(p, "a command (a non-empty array of strings)",
		                  v);
		return -1;
	}
	json_array_foreach(v, i, arg)
	{
		old = validate_push_index(p, i);
		if (!json_is_string(arg)) {
			validate_expected(p, "a string", arg);
			rc = -1;
		} else if (i == 0 && json_string_length(arg) == 0) {
			validate_expected(p, "a program name", arg);
			rc = -1;
		}
		validate_pop(p, old);
	}
	if (rc != 0)
		return -1;
	json_array_foreach(v, i, arg) strv_push(out, json_string_value(arg));
	return 0;
}

int validate_ports(struct mparse *p, int **out, size_t *n, const json_t *obj,
                   const char *key)
{
	const json_t *v, *port;
	size_t old, i, j, k = 0, *at;
	int *ports, rc = 0;

	if (validate_array(p, &v, obj, key, "an array of ports") != 0)
		return -1;
	if (v == NULL)
		return 0;
	old = validate_push_key(p, key);
	ports = calloc(json_array_size(v) + 1, sizeof(*ports));
	at = calloc(json_array_size(v) + 1, sizeof(*at)); /* JSON index */
	if (ports == NULL || at == NULL)
		abort();
	json_array_foreach(v, i, port)
	{
		json_int_t x = json_integer_value(port);
		size_t o = validate_push_index(p, i);

		if (!json_is_integer(port) || x < 1 || x > 65535) {
			validate_expected(
			    p, "a port (an integer from 1 to 65535)", port);
			rc = -1;
		} else {
			at[k] = i;
			ports[k++] = (int)x;
		}
		validate_pop(p, o);
	}
	if (k > 256) {
		validate_error(p, "expected at most 256 ports, got %zu", k);
		rc = -1;
	}
	/* At most 256 ports: a quadratic scan is fine. */
	for (i = 1; k <= 256 && i < k; i++) {
		for (j = 0; j < i; j++) {
			if (ports[i] == ports[j]) {
				size_t o = validate_push_index(p, at[i]);

				validate_error(p, "port %d is listed twice",
				               ports[i]);
				validate_pop(p, o);
				rc = -1;
				break;
			}
		}
	}
	/* Kept even when something was wrong, so that the checks across
	 * services can still report what they find. */
	if (k > 0) {
		*out = ports;
		*n = k;
	} else {
		free(ports);
	}
	free(at);
	validate_pop(p, old);
	return rc;
}

int validate_varnames(struct mparse *p, struct strv *out, const json_t *obj,
                      const char *key)
{
	const json_t *v, *name;
	size_t old, i;
	int rc = 0;

	if (validate_array(p, &v, obj, key, "an array of variable names") != 0)
		return -1;
	if (v == NULL)
		return 0;
	old = validate_push_key(p, key);
	json_array_foreach(v, i, name)
	{
		size_t o = validate_push_index(p, i);

		if (!json_is_string(name) ||
		    !validate_is_varname(json_string_value(name))) {
			validate_expected(p, VALIDATE_VARNAME, name);
			rc = -1;
		} else {
			strv_push(out, json_string_value(name));
		}
		validate_pop(p, o);
	}
	validate_pop(p, old);
	return rc;
}

static int cmp_ref(const void *a, const void *b)
{
	const struct validate_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

void validate_sort_refs(struct validate_ref *refs, size_t n)
{
	qsort(refs, n, sizeof(*refs), cmp_ref);
}

bool validate_is_varname(const char *s)
{
	const char *c;

	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	      *s == '_'))
		return false;
	for (c = s + 1; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

bool validate_is_appname(const char *s)
{
	const char *c;

	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (c = s + 1; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '-'))
			return false;
	return c - s <= 63;
}

bool validate_is_service_name(const char *s)
{
	const char *c;

	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	      (*s >= '0' && *s <= '9')))
		return false;
	for (c = s + 1; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' ||
		      *c == '-'))
			return false;
	return c - s <= 63;
}

bool validate_is_http_url(const char *s)
{
	const char *host;

	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return false;
	if (*host == '\0' || *host == '/' || *host == '?' || *host == '#' ||
	    *host == ':')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}
