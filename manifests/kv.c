/*
 * kv.c — ordered string pairs (kvlist) and string vectors (strv).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

static void *must(void *p)
{
	if (p == NULL) {
		fputs("berth: fatal: out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *dup_str(const char *s)
{
	return must(strdup(s));
}

void kvlist_init(struct kvlist *l)
{
	memset(l, 0, sizeof(*l));
}

void kvlist_release(struct kvlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	kvlist_init(l);
}

void kvlist_set(struct kvlist *l, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->items[i].key, key) == 0) {
			free(l->items[i].value);
			l->items[i].value = dup_str(value);
			return;
		}
	}
	kvlist_add(l, key, value);
}

void kvlist_add(struct kvlist *l, const char *key, const char *value)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->items = must(realloc(l->items, l->cap * sizeof(*l->items)));
	}
	l->items[l->n].key = dup_str(key);
	l->items[l->n].value = dup_str(value);
	l->n++;
}

const char *kvlist_get(const struct kvlist *l, const char *key)
{
	size_t i;

	if (l == NULL)
		return NULL;
	for (i = 0; i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return l->items[i].value;
	return NULL;
}

void kvlist_merge(struct kvlist *dst, const struct kvlist *src)
{
	size_t i;

	for (i = 0; src != NULL && i < src->n; i++)
		kvlist_set(dst, src->items[i].key, src->items[i].value);
}

void strv_push(struct strv *sv, const char *s)
{
	sv->v = must(realloc(sv->v, (sv->n + 2) * sizeof(*sv->v)));
	sv->v[sv->n++] = dup_str(s);
	sv->v[sv->n] = NULL;
}

void strv_release(struct strv *sv)
{
	size_t i;

	if (sv == NULL)
		return;
	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

bool strv_contains(const struct strv *sv, const char *s)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}
