/*
 * wh_headers.h — a list of HTTP headers behind struct wh_request's header
 * callback, for the webhook unit tests, verify_tool and the webhook fuzz
 * targets. Text form, one header a line, then an empty line and the body:
 *
 *   X-GitHub-Event: push
 *   X-Hub-Signature-256: sha256=...
 *
 *   {"ref": ...}
 */
#ifndef BERTH_WH_HEADERS_H
#define BERTH_WH_HEADERS_H

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webhooks.h"

#define WH_HEADERS_MAX 32

struct wh_headers {
	char *names[WH_HEADERS_MAX];  /* owned */
	char *values[WH_HEADERS_MAX]; /* owned */
	size_t n;
};

static inline void wh_headers_release(struct wh_headers *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->names[i]);
		free(h->values[i]);
	}
	h->n = 0;
}

/* Replaces the value of name, or adds it (ignored past WH_HEADERS_MAX). */
static inline void wh_headers_setn(struct wh_headers *h, const char *name,
				   size_t nlen, const char *value, size_t vlen)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (strlen(h->names[i]) == nlen &&
		    strncasecmp(h->names[i], name, nlen) == 0) {
			free(h->values[i]);
			h->values[i] = xstrndup(value, vlen);
			return;
		}
	}
	if (h->n == WH_HEADERS_MAX)
		return;
	h->names[h->n] = xstrndup(name, nlen);
	h->values[h->n++] = xstrndup(value, vlen);
}

static inline void wh_headers_set(struct wh_headers *h, const char *name,
				  const char *value)
{
	wh_headers_setn(h, name, strlen(name), value, strlen(value));
}

static inline void wh_headers_unset(struct wh_headers *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (strcasecmp(h->names[i], name) != 0)
			continue;
		free(h->names[i]);
		free(h->values[i]);
		h->names[i] = h->names[h->n - 1];
		h->values[i] = h->values[h->n - 1];
		h->n--;
		return;
	}
}

/* struct wh_request's callback: ctx is a struct wh_headers. */
static inline const char *wh_headers_get(void *ctx, const char *name)
{
	struct wh_headers *h = ctx;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->names[i], name) == 0)
			return h->values[i];
	return NULL;
}

/* Reads "Name: value" lines (a trailing '\r' dropped, lines without ':'
 * skipped) up to an empty line or the end. Returns the offset of what
 * follows the empty line: the body. */
static inline size_t wh_headers_parse(struct wh_headers *h, const char *p,
				      size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *line = p + pos, *nl, *colon;
		size_t n;

		nl = memchr(line, '\n', len - pos);
		n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl != NULL);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		colon = memchr(line, ':', n);
		if (colon != NULL)
			wh_headers_setn(h, line, (size_t)(colon - line),
					colon + 1, n - (size_t)(colon + 1 - line));
	}
	return pos;
}

static inline void wh_request_init(struct wh_request *req,
				   struct wh_headers *h, const void *body,
				   size_t len, int64_t now)
{
	req->header = wh_headers_get;
	req->ctx = h;
	req->body = body;
	req->len = len;
	req->now = now;
}

#endif
