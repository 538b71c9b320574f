/*
 * diff.c — what changes between the manifest that runs and the one to
 * deploy: services to start, restart (naming each field that differs)
 * and stop. Values that may be secret (env values, URLs, commands) are
 * only ever said to have "changed"; numbers and names are shown.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

static char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (d == NULL)
		abort();
	return d;
}

void manifest_changes_add(struct manifest_changes *c, const char *kind,
                          const char *name, const char *detail)
{
	struct manifest_change *ch;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->items = realloc(c->items, c->cap * sizeof(*c->items));
		if (c->items == NULL)
			abort();
	}
	ch = &c->items[c->n++];
	ch->kind = xstrdup(kind);
	ch->name = xstrdup(name);
	ch->detail = xstrdup(detail);
}

void manifest_changes_release(struct manifest_changes *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->items[i].kind);
		free(c->items[i].name);
		free(c->items[i].detail);
	}
	free(c->items);
	memset(c, 0, sizeof(*c));
}

/* The detail being written: "a; b; c". */
struct detail {
	char *s;
	size_t len, cap;
};

static void say(struct detail *d, const char *fmt, ...) MANIFEST_PRINTF(2, 3);

static void say(struct detail *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	while (d->len + (size_t)n + 3 > d->cap) {
		d->cap = d->cap ? d->cap * 2 : 128;
		d->s = realloc(d->s, d->cap);
		if (d->s == NULL)
			abort();
	}
	if (d->len > 0) {
		memcpy(d->s + d->len, "; ", 2);
		d->len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(d->s + d->len, d->cap - d->len, fmt, ap);
	va_end(ap);
	d->len += (size_t)n;
}

static bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool strv_eq(const struct strv *a, const struct strv *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Writes the sorted ports as "[80,443]" into out. */
static void ports_text(char *out, size_t outlen, const int *ports, size_t n)
{
	int *sorted = malloc((n ? n : 1) * sizeof(*sorted));
	size_t i, used = 0;

	if (sorted == NULL)
		abort();
	if (n > 0)
		memcpy(sorted, ports, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_int);
	used += (size_t)snprintf(out, outlen, "[");
	for (i = 0; i < n && used + 8 < outlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%d",
		                         i ? "," : "", sorted[i]);
	if (i < n)
		snprintf(out + used, outlen - used, ",...]");
	else
		snprintf(out + used, outlen - used, "]");
	free(sorted);
}

static void env_diff(struct detail *d, const struct kvlist *a,
                     const struct kvlist *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		const char *old = kvlist_get(a, b->items[i].key);

		if (old == NULL)
			say(d, "env %s added", b->items[i].key);
		else if (strcmp(old, b->items[i].value) != 0)
			say(d, "env %s changed", b->items[i].key);
	}
	for (i = 0; i < a->n; i++)
		if (kvlist_get(b, a->items[i].key) == NULL)
			say(d, "env %s removed", a->items[i].key);
}

static void health_diff(struct detail *d, const struct manifest_service *a,
                        const struct manifest_service *b)
{
	const struct manifest_health *x = &a->health, *y = &b->health;

	if (a->has_health != b->has_health) {
		say(d, b->has_health ? "health check added"
		                     : "health check removed");
		return;
	}
	if (!b->has_health)
		return;
	if (!str_eq(x->http, y->http))
		say(d, "health.http changed");
	if (x->expect_status != y->expect_status)
		say(d, "health.expect_status %d -> %d", x->expect_status,
		    y->expect_status);
	if (x->interval_s != y->interval_s)
		say(d, "health.interval_s %d -> %d", x->interval_s,
		    y->interval_s);
	if (x->timeout_s != y->timeout_s)
		say(d, "health.timeout_s %d -> %d", x->timeout_s, y->timeout_s);
	if (x->start_period_s != y->start_period_s)
		say(d, "health.start_period_s %d -> %d", x->start_period_s,
		    y->start_period_s);
	if (x->retries != y->retries)
		say(d, "health.retries %d -> %d", x->retries, y->retries);
}

/* Names every field that makes a's and b's hashes differ. */
static char *service_diff(const struct manifest *old,
                          const struct manifest_service *a,
                          const struct manifest *new_m,
                          const struct manifest_service *b)
{
	static const char *const drivers[] = {"process", "compose"};
	struct detail d = {0};
	char pa[128], pb[128];

	if (old->driver != new_m->driver)
		say(&d, "driver %s -> %s", drivers[old->driver],
		    drivers[new_m->driver]);
	if (!strv_eq(&a->command, &b->command))
		say(&d, "command changed");
	env_diff(&d, &a->env, &b->env);
	health_diff(&d, a, b);
	if (a->stop_timeout_s != b->stop_timeout_s)
		say(&d, "stop_timeout_s %d -> %d", a->stop_timeout_s,
		    b->stop_timeout_s);
	ports_text(pa, sizeof(pa), a->ports, a->nports);
	ports_text(pb, sizeof(pb), b->ports, b->nports);
	if (strcmp(pa, pb) != 0)
		say(&d, "ports %s -> %s", pa, pb);
	if (old->driver == new_m->driver &&
	    new_m->driver == MANIFEST_DRIVER_COMPOSE) {
		if (!str_eq(old->compose_file, new_m->compose_file))
			say(&d, "compose file \"%s\" -> \"%s\"",
			    old->compose_file, new_m->compose_file);
		if (!str_eq(old->compose_project, new_m->compose_project))
			say(&d, "compose project \"%s\" -> \"%s\"",
			    old->compose_project, new_m->compose_project);
	}
	if (!str_eq(old->env_file_hash, new_m->env_file_hash))
		say(&d, "env file changed");
	if (d.len == 0)
		say(&d, "configuration changed");
	return d.s;
}

void manifest_diff(struct manifest_changes *out, const struct manifest *old,
                   const struct manifest *new_m)
{
	size_t i;

	for (i = 0; new_m != NULL && i < new_m->nservices; i++) {
		const struct manifest_service *b =
		    &new_m->services[new_m->order[i]];
		const struct manifest_service *a =
		    old ? manifest_service(old, b->name) : NULL;
		char *detail;

		if (a == NULL) {
			manifest_changes_add(out, "start", b->name,
			                     "new service");
			continue;
		}
		if (strcmp(a->hash, b->hash) == 0)
			continue;
		detail = service_diff(old, a, new_m, b);
		manifest_changes_add(out, "restart", b->name, detail);
		free(detail);
	}
	for (i = old ? old->nservices : 0; i > 0; i--) {
		const struct manifest_service *a =
		    &old->services[old->order[i - 1]];

		if (new_m == NULL || manifest_service(new_m, a->name) == NULL)
			manifest_changes_add(out, "stop", a->name,
			                     "removed from the manifest");
	}
}
