/*
 * compose.c — docker compose itself: which one the host has, what `compose
 * config` says a release's project holds, and the override file berth adds
 * to it (image tags per commit, berth's labels). The compose driver
 * (driver_compose.c) runs compose with these; docs/drivers.md describes
 * them for users.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

#define DETECT_TIMEOUT_MS 30000

/* Which compose, found once per PATH. */
static struct {
	char *path; /* the PATH it was looked up with */
	bool v2;    /* `docker compose`; else `docker-compose` */
	bool found;
} cli;

/* --- finding compose ------------------------------------------------------ */

/* Whether `docker compose version` works with env. */
static bool have_v2(const struct kvlist *env)
{
	const char *argv[] = {"docker", "compose", "version", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result r;
	struct berr err;
	bool ok;

	o.argv = argv;
	o.env = env;
	o.timeout_ms = DETECT_TIMEOUT_MS;
	o.capture_max = 4096;
	ok = spawn_run(&r, &o, &err) == 0 && r.exit_code == 0 && !r.timed_out;
	spawn_result_release(&r);
	return ok;
}

int compose_cli(struct strv *out, const struct kvlist *env, struct berr *err)
{
	const char *path = kvlist_get(env, "PATH");
	char *found = NULL;
	struct berr ignored;

	if (path == NULL)
		path = "";
	if (cli.path == NULL || strcmp(cli.path, path) != 0) {
		free(cli.path);
		cli.path = xstrdup(path);
		cli.found = true;
		cli.v2 = false;
		if (spawn_which(&found, "docker", env, NULL, &ignored) == 0 &&
		    have_v2(env))
			cli.v2 = true;
		free(found);
		found = NULL;
		if (!cli.v2 && spawn_which(&found, "docker-compose", env, NULL,
		                           &ignored) < 0)
			cli.found = false;
		free(found);
	}
	if (!cli.found)
		return berr_set(err, "neither 'docker compose' nor "
		                     "'docker-compose' is on the PATH");
	if (cli.v2) {
		strv_push(out, "docker");
		strv_push(out, "compose");
	} else {
		strv_push(out, "docker-compose");
	}
	return 0;
}

/* --- the release's compose configuration ---------------------------------- */

void compose_config_release(struct compose_config *c)
{
	if (c == NULL)
		return;
	strv_release(&c->services);
	strv_release(&c->built);
	free(c->version);
	memset(c, 0, sizeof(*c));
}

/* A YAML plain or quoted scalar key at s, up to its ':' (new), or NULL. */
static char *yaml_key(const char *s, size_t len)
{
	size_t i;
	char q;

	if (len == 0)
		return NULL;
	if (s[0] == '\'' || s[0] == '"') {
		q = s[0];
		for (i = 1; i < len && s[i] != q; i++)
			if (s[i] == '\\' || (unsigned char)s[i] < 0x20)
				return NULL;
		if (i + 1 >= len || s[i + 1] != ':')
			return NULL;
		if (i + 2 < len && s[i + 2] != ' ')
			return NULL;
		return xstrndup(s + 1, i - 1);
	}
	for (i = 0; i < len && s[i] != ':'; i++)
		if (s[i] == ' ' || s[i] == '#' || (unsigned char)s[i] < 0x20)
			return NULL;
	if (i == 0 || i == len || (i + 1 < len && s[i + 1] != ' '))
		return NULL;
	return xstrndup(s, i);
}

/* The value after "key: " on a line, unquoted (new), or NULL. */
static char *yaml_value(const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	size_t n;

	if (colon == NULL)
		return NULL;
	n = len - (size_t)(colon + 1 - s);
	s = colon + 1;
	while (n > 0 && *s == ' ') {
		s++;
		n--;
	}
	if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
		s++;
		n -= 2;
	}
	return xstrndup(s, n);
}

static bool compose_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 255 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789._-") == n;
}

int compose_parse_config(struct compose_config *out, const char *yaml,
                         size_t len)
{
	const char *line = yaml, *end = yaml + len;
	bool in_services = false;
	char *current = NULL;

	memset(out, 0, sizeof(*out));
	/* `config` prints the project normalised, in block style: top-level
	 * keys at column 0, service names at 2, their keys at 4. Only those
	 * are looked at; anything deeper, a list item or a continuation line
	 * never starts with a key at those columns. */
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		size_t indent = 0;
		char *key;

		/* The input need not be NUL-terminated: stay within n. */
		while (indent < n && line[indent] == ' ')
			indent++;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		key = indent < n ? yaml_key(line + indent, n - indent) : NULL;
		if (indent == 0 && n > 0 && line[0] != '#') {
			in_services =
			    key != NULL && strcmp(key, "services") == 0;
			if (key != NULL && strcmp(key, "version") == 0 &&
			    out->version == NULL) {
				out->version = yaml_value(line, n);
				if (out->version == NULL ||
				    out->version[0] == '\0' ||
				    strspn(out->version, "0123456789.") !=
				        strlen(out->version)) {
					free(out->version);
					out->version = NULL;
				}
			}
		} else if (in_services && indent == 2 && key != NULL) {
			free(current);
			current = NULL;
			if (compose_name_ok(key) &&
			    !strv_contains(&out->services, key)) {
				strv_push(&out->services, key);
				current = xstrdup(key);
			}
		} else if (in_services && indent == 4 && key != NULL &&
		           current != NULL && strcmp(key, "build") == 0 &&
		           !strv_contains(&out->built, current)) {
			strv_push(&out->built, current);
		}
		free(key);
		line = nl ? nl + 1 : end;
	}
	free(current);
	return 0;
}

char *compose_image(const char *project, const char *service,
                    const char *commit)
{
	struct buf b;
	const char *p;
	size_t start;

	buf_init(&b, 0);
	buf_printf(&b, "%s%s/", COMPOSE_IMAGE_PREFIX, project);
	start = b.len;
	/* An image path component: [a-z0-9] runs joined by '-'. */
	for (p = service; *p != '\0'; p++) {
		char c = *p;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if (c == '-' && (b.len == start || b.data[b.len - 1] == '-'))
			continue;
		buf_putc(&b, c);
	}
	while (b.len > start && b.data[b.len - 1] == '-')
		b.data[--b.len] = '\0';
	if (b.len == start)
		buf_puts(&b, "service");
	buf_printf(&b, ":%s", commit);
	return buf_detach(&b);
}

/* A YAML double-quoted scalar of s (names, hashes, commits: no escapes
 * needed, but never trusted to be so). */
static void yaml_quoted(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		if ((unsigned char)*s >= 0x20)
			buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

char *compose_override(const struct compose_config *cfg,
                       const struct manifest *m, const char *env_name,
                       const char *commit)
{
	struct buf b;
	size_t i, k;

	buf_init(&b, 0);
	buf_printf(&b,
	           "# Written by berth for commit %s: image tags and "
	           "labels.\n# Generated at every build and start; do not "
	           "edit.\n",
	           commit);
	if (cfg->version != NULL)
		buf_printf(&b, "version: '%s'\n", cfg->version);
	buf_puts(&b, "services:\n");
	for (i = 0; i < cfg->services.n; i++) {
		const char *name = cfg->services.v[i];
		const struct manifest_service *svc = manifest_service(m, name);

		buf_puts(&b, "  ");
		yaml_quoted(&b, name);
		buf_puts(&b, ":\n");
		if (strv_contains(&cfg->built, name)) {
			char *image =
			    compose_image(m->compose_project, name, commit);

			buf_puts(&b, "    image: ");
			yaml_quoted(&b, image);
			buf_putc(&b, '\n');
			free(image);
		}
		buf_puts(&b, "    labels:\n      " DOCKER_LABEL_COMMIT ": ");
		yaml_quoted(&b, commit);
		buf_puts(&b, "\n      " DOCKER_LABEL_ENV ": ");
		yaml_quoted(&b, env_name);
		buf_putc(&b, '\n');
		if (svc == NULL)
			continue;
		if (svc->hash != NULL) {
			buf_puts(&b, "      " DOCKER_LABEL_HASH ": ");
			yaml_quoted(&b, svc->hash);
			buf_putc(&b, '\n');
		}
		/* Names only: compose takes the values from its own
		 * environment, so they are in no file. */
		if (svc->env.n > 0)
			buf_puts(&b, "    environment:\n");
		for (k = 0; k < svc->env.n; k++) {
			buf_puts(&b, "      - ");
			yaml_quoted(&b, svc->env.items[k].key);
			buf_putc(&b, '\n');
		}
	}
	return buf_detach(&b);
}
