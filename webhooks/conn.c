/*
 * conn.c — watches the bytes a client sends on one connection, before
 * libevent's HTTP parser sees them, to find each request head and its
 * Content-Length. The server uses it to refuse a body over the limit with
 * its own JSON 413 as soon as the head has arrived, instead of libevent's
 * HTML page. It only ever decides for the plain case (one valid
 * Content-Length); anything else — chunked bodies, odd or repeated
 * lengths, heads over the header limit — makes it stop watching that
 * connection and leave it to libevent, which enforces the same limits.
 * A pure state machine: no I/O, fed chunk by chunk.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webhooks.h"

void conn_scan_init(struct conn_scan *sc, size_t max_body, size_t max_header)
{
	memset(sc, 0, sizeof(*sc));
	sc->max_body = max_body;
	sc->max_header = max_header;
	buf_init(&sc->head, max_header + 4);
}

void conn_scan_release(struct conn_scan *sc)
{
	buf_release(&sc->head);
}

/* The value of a header line "Name: value" when its name is name. */
static const char *header_value(const char *line, size_t len, const char *name,
				size_t *vlen)
{
	size_t n = strlen(name);
	const char *v, *end = line + len;

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	v = line + n + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

/* Reads the head in sc->head (up to and including its blank line):
 * CONN_OK with *body set, CONN_TOO_BIG, or CONN_UNTRACKED. */
static enum conn_verdict scan_head(struct conn_scan *sc, size_t head_len,
				   uint64_t *body)
{
	const char *p = sc->head.data, *end = p + head_len;
	bool have_length = false;
	uint64_t length = 0;

	*body = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *v;
		size_t vlen, i;

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (header_value(p, len, "Transfer-Encoding", &vlen) != NULL)
			return CONN_UNTRACKED;
		v = header_value(p, len, "Content-Length", &vlen);
		if (v != NULL) {
			if (have_length || vlen == 0 || vlen > 19)
				return CONN_UNTRACKED;
			for (i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9')
					return CONN_UNTRACKED;
				length = length * 10 + (uint64_t)(v[i] - '0');
			}
			have_length = true;
		}
		p = nl ? nl + 1 : end;
	}
	if (length > sc->max_body)
		return CONN_TOO_BIG;
	*body = length;
	return CONN_OK;
}

enum conn_verdict conn_scan_feed(struct conn_scan *sc, const char *data,
				 size_t n)
{
	while (n > 0 && sc->verdict == CONN_OK) {
		size_t from, i, take;
		bool found = false;
		uint64_t body;

		if (sc->body_left > 0) {
			take = n < sc->body_left ? n : (size_t)sc->body_left;
			sc->body_left -= take;
			data += take;
			n -= take;
			continue;
		}
		/* In a head: copy until its blank line. */
		from = sc->head.len >= 3 ? sc->head.len - 3 : 0;
		take = n;
		if (sc->head.len + take > sc->max_header + 4)
			take = sc->max_header + 4 - sc->head.len;
		if (take == 0) {
			sc->verdict = CONN_UNTRACKED;
			break;
		}
		buf_append(&sc->head, data, take);
		for (i = from; i + 4 <= sc->head.len; i++) {
			if (memcmp(sc->head.data + i, "\r\n\r\n", 4) == 0) {
				found = true;
				break;
			}
		}
		if (!found) {
			data += take;
			n -= take;
			if (sc->head.len >= sc->max_header + 4)
				sc->verdict = CONN_UNTRACKED;
			continue;
		}
		/* Bytes of this chunk past the head belong to what follows. */
		take -= sc->head.len - (i + 4);
		data += take;
		n -= take;
		sc->verdict = scan_head(sc, i + 4, &body);
		sc->requests++;
		sc->body_left = body;
		buf_reset(&sc->head);
	}
	return sc->verdict;
}
