/*
 * merrs.c — the list of every error found in one input.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "manifest.h"

void merrs_add(struct merrs *e, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	msg = malloc((size_t)n + 1);
	if (msg == NULL)
		abort();
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 8;
		e->items = realloc(e->items, e->cap * sizeof(*e->items));
		if (e->items == NULL)
			abort();
	}
	e->items[e->n++] = msg;
}

void merrs_release(struct merrs *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->n; i++)
		free(e->items[i]);
	free(e->items);
	e->items = NULL;
	e->n = e->cap = 0;
}
