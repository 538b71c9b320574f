/*
 * buf.c — the one growable buffer type: NUL-terminated, with a hard cap so
 * that nothing a peer sends can make it grow without bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void buf_release(struct buf *b)
{
	size_t max;

	if (b == NULL)
		return;
	max = b->max;
	free(b->data);
	buf_init(b, max);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->toobig = false;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static size_t buf_max(const struct buf *b)
{
	return b->max ? b->max : BUF_DEFAULT_MAX;
}

/* Makes room for `extra` more bytes plus the NUL. */
static int buf_grow(struct buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > buf_max(b) || b->len > buf_max(b) - extra) {
		b->toobig = true;
		return BERTH_ETOOBIG;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t len)
{
	int rc = buf_grow(b, len);

	if (rc != 0)
		return rc;
	if (len > 0)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	size_t room;
	int n, rc;

	/* Formats once into the room there is (the usual case: a short
	 * field), and a second time only when that was too little. */
	if (buf_max(b) >= 64 && b->len <= buf_max(b) - 64 &&
	    buf_grow(b, 64) == 0) {
		room = b->cap - b->len;
		va_copy(cp, ap);
		n = vsnprintf(b->data + b->len, room, fmt, cp);
		va_end(cp);
		if (n < 0) {
			b->data[b->len] = '\0';
			return -1;
		}
		if ((size_t)n < room) {
			if ((size_t)n > buf_max(b) - b->len) {
				b->data[b->len] = '\0';
				b->toobig = true;
				return BERTH_ETOOBIG;
			}
			b->len += (size_t)n;
			return 0;
		}
		b->data[b->len] = '\0';
	}
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	rc = buf_grow(b, (size_t)n);
	if (rc != 0)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

char *buf_detach(struct buf *b)
{
	char *s = b->data ? b->data : xstrdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	b->toobig = false;
	return s;
}

void buf_keep_tail(struct buf *b, size_t keep)
{
	if (b->len <= keep)
		return;
	memmove(b->data, b->data + b->len - keep, keep);
	b->len = keep;
	b->data[keep] = '\0';
}

int buf_put_u64(struct buf *b, uint64_t v)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	return buf_append(b, digits + sizeof(digits) - n, n);
}

size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at a NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int buf_put_json_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int rc = buf_putc(b, '"');

	while (rc == 0 && *p) {
		const unsigned char *run = p;
		size_t n;

		while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			rc = buf_append(b, run, (size_t)(p - run));
		if (rc != 0 || *p == '\0')
			break;
		if (*p == '"' || *p == '\\') {
			char esc[2] = {'\\', (char)*p++};

			rc = buf_append(b, esc, 2);
		} else if (*p < 0x20) {
			rc = buf_printf(b, "\\u%04x", *p++);
		} else if ((n = utf8_seq_len(p, 4)) > 0) { /* a NUL stops it */
			rc = buf_append(b, p, n);
			p += n;
		} else {
			rc = buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD */
			p++;
		}
	}
	return rc != 0 ? rc : buf_putc(b, '"');
}
