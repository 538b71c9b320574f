/*
 * http.c — the HTTP/1.1 request syntax berth serve accepts (RFC 9112):
 * finding and parsing a request head, and decoding a chunked body. Pure
 * functions over bytes, no I/O, so that the fuzzers and unit tests drive
 * them exactly as the server does (httpd.c).
 *
 * Strict where leniency lets two parsers disagree about where a request
 * ends (request smuggling): one Content-Length or one chunked encoding,
 * never both, no obsolete line folding, no space before a colon. Lenient
 * where it costs nothing: a bare LF ends a line, empty lines before a
 * request line are skipped.
 */
#include <string.h>
#include <strings.h>

#include "webhooks.h"

#define CHUNK_LINE_MAX 4096 /* a chunk-size line with its extensions */

/* RFC 9110 tchar: what a method or a header name is made of. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

size_t http_head_end(const char *data, size_t len, size_t from)
{
	const char *p = data, *end = data + len;

	/* A head is complete at the first empty line after a non-empty
	 * one; empty lines before the request line are not its end. */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if (from > 2 && data + from - 2 > p)
		p = data + from - 2;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *q;

		if (nl == NULL)
			return 0;
		q = nl + 1;
		if (q < end && *q == '\n')
			return (size_t)(q + 1 - data);
		if (q + 1 < end && q[0] == '\r' && q[1] == '\n')
			return (size_t)(q + 2 - data);
		p = q;
	}
	return 0;
}

/* Splits off the next line at *p (ending in LF, with or without CR):
 * returns it NUL-terminated and moves *p past it, or NULL at end. */
static char *next_line(char **p, char *end)
{
	char *line = *p, *nl;

	if (line >= end)
		return NULL;
	nl = memchr(line, '\n', (size_t)(end - line));
	if (nl == NULL)
		return NULL;
	*p = nl + 1;
	if (nl > line && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	return line;
}

static bool has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return true;
	return false;
}

/* Does the comma-separated list v contain token (case-insensitive)? */
static bool list_has(const char *v, const char *token)
{
	size_t n = strlen(token);

	while (*v != '\0') {
		const char *end;

		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		end = v;
		while (*end != '\0' && *end != ',')
			end++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - v) == n && strncasecmp(v, token, n) == 0)
			return true;
		while (*v != '\0' && *v != ',')
			v++;
	}
	return false;
}

static int fail(const char **why, const char *msg, int status)
{
	*why = msg;
	return status;
}

static int parse_request_line(struct http_head *h, char *line, const char **why)
{
	char *sp1 = strchr(line, ' '), *sp2, *target, *version, *q;
	size_t i;

	if (sp1 == NULL || sp1 == line)
		return fail(why, "malformed request line", 400);
	*sp1 = '\0';
	for (i = 0; line[i] != '\0'; i++)
		if (!is_tchar((unsigned char)line[i]))
			return fail(why, "malformed method", 400);
	h->method = line;
	target = sp1 + 1;
	sp2 = strchr(target, ' ');
	if (sp2 == NULL || sp2 == target)
		return fail(why, "malformed request line", 400);
	*sp2 = '\0';
	version = sp2 + 1;
	if (has_ctl(target) || strchr(target, '\t') != NULL)
		return fail(why, "malformed request target", 400);
	if (strncmp(version, "HTTP/", 5) != 0 || version[5] < '0' ||
	    version[5] > '9' || version[6] != '.' || version[7] < '0' ||
	    version[7] > '9' || version[8] != '\0')
		return fail(why, "malformed HTTP version", 400);
	if (version[5] != '1')
		return fail(why, "only HTTP/1.0 and HTTP/1.1 are supported", 505);
	h->minor = version[7] - '0';
	q = strchr(target, '?');
	if (q != NULL) {
		*q = '\0';
		h->query = q + 1;
	}
	/* origin-form; absolute-form reduced to its path; "*" (OPTIONS) */
	h->path = target;
	if (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0) {
		h->path = strchr(strchr(target, ':') + 3, '/');
		if (h->path == NULL)
			h->path = "/";
	} else if (target[0] != '/' && strcmp(target, "*") != 0) {
		return fail(why, "malformed request target", 400);
	}
	h->keep_alive = h->minor >= 1;
	return 0;
}

static int parse_length(struct http_head *h, const char *v, const char **why)
{
	uint64_t n = 0;
	const char *p = v;

	if (*p == '\0')
		return fail(why, "malformed Content-Length", 400);
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
			return fail(why, "malformed Content-Length", 400);
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (h->has_length && h->length != n)
		return fail(why, "conflicting Content-Length headers", 400);
	h->has_length = true;
	h->length = n;
	return 0;
}

/* Acts on the headers that shape the message itself. */
static int field_meaning(struct http_head *h, const char *name, const char *v,
			 const char **why)
{
	if (strcasecmp(name, "Content-Length") == 0)
		return parse_length(h, v, why);
	if (strcasecmp(name, "Transfer-Encoding") == 0) {
		if (strcasecmp(v, "chunked") != 0 || h->chunked)
			return fail(why, "unsupported Transfer-Encoding", 501);
		h->chunked = true;
	} else if (strcasecmp(name, "Connection") == 0) {
		if (list_has(v, "close")) {
			h->keep_alive = false;
			h->close = true;
		} else if (h->minor == 0 && list_has(v, "keep-alive") &&
			   !h->close) {
			h->keep_alive = true;
		}
	} else if (strcasecmp(name, "Expect") == 0) {
		if (strcasecmp(v, "100-continue") != 0)
			return fail(why, "unsupported expectation", 417);
		h->expect_continue = h->minor >= 1;
	}
	return 0;
}

static int parse_field(struct http_head *h, char *line, const char **why)
{
	char *colon = strchr(line, ':'), *v, *end;
	char *p;

	if (line[0] == ' ' || line[0] == '\t')
		return fail(why, "folded header lines are not accepted", 400);
	if (colon == NULL || colon == line)
		return fail(why, "malformed header line", 400);
	for (p = line; p < colon; p++)
		if (!is_tchar((unsigned char)*p))
			return fail(why, "malformed header name", 400);
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	if (has_ctl(v))
		return fail(why, "control character in a header value", 400);
	if (h->nfields == HTTP_MAX_FIELDS)
		return fail(why, "too many header lines", 431);
	h->fields[h->nfields].name = line;
	h->fields[h->nfields].value = v;
	h->nfields++;
	return field_meaning(h, line, v, why);
}

int http_head_parse(struct http_head *h, char *data, size_t len,
		    const char **why)
{
	char *p = data, *end = data + len, *line;
	int rc;

	memset(h, 0, sizeof(*h));
	*why = NULL;
	/* Lines are handled as C strings: a NUL would hide what follows it
	 * (RFC 9110 5.5 allows refusing). */
	if (memchr(data, '\0', len) != NULL)
		return fail(why, "NUL byte in the request head", 400);
	do {
		line = next_line(&p, end);
	} while (line != NULL && line[0] == '\0');
	if (line == NULL)
		return fail(why, "malformed request line", 400);
	if ((rc = parse_request_line(h, line, why)) != 0)
		return rc;
	while ((line = next_line(&p, end)) != NULL && line[0] != '\0')
		if ((rc = parse_field(h, line, why)) != 0)
			return rc;
	if (line == NULL)
		return fail(why, "incomplete request head", 400);
	if (h->chunked && h->has_length)
		return fail(why, "both Content-Length and Transfer-Encoding", 400);
	if (h->chunked && h->minor == 0)
		return fail(why, "Transfer-Encoding in an HTTP/1.0 request", 400);
	return 0;
}

const char *http_head_field(const struct http_head *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nfields; i++)
		if (strcasecmp(h->fields[i].name, name) == 0)
			return h->fields[i].value;
	return NULL;
}

/* ---- chunked bodies ---- */

enum {
	CH_SIZE,       /* hex digits of a chunk size */
	CH_EXT,        /* after the size: extensions up to the LF */
	CH_DATA,       /* the chunk's bytes */
	CH_DATA_END,   /* the CRLF after them */
	CH_TRAILER,    /* at the start of a trailer line */
	CH_TRAILER_LN, /* inside a trailer line */
	CH_DONE,
};

void http_chunked_init(struct http_chunked *c, size_t max_trailer)
{
	memset(c, 0, sizeof(*c));
	c->max_trailer = max_trailer;
}

/* One byte of the framing (not of data). */
static int chunk_byte(struct http_chunked *c, char ch, size_t room,
		      const char **why)
{
	int d;

	switch (c->state) {
	case CH_SIZE:
		if ((d = strnum_hex_digit(ch)) >= 0) {
			if (c->ndigits == 16)
				return fail(why, "chunk size too large", 413);
			c->left = c->left * 16 + (uint64_t)d;
			c->ndigits++;
			return 0;
		}
		if (c->ndigits == 0)
			return fail(why, "malformed chunk size", 400);
		if (c->left > room)
			return fail(why, "body over the limit", 413);
		c->state = CH_EXT; /* this byte is the first after the digits */
		c->line = 0;
		c->ext = c->cr = false;
		return chunk_byte(c, ch, room, why);
	case CH_EXT:
		/* [ whitespace ] [ ";" extensions ] CRLF (or a bare LF) */
		if (++c->line > CHUNK_LINE_MAX)
			return fail(why, "chunk extension too long", 400);
		if (ch == '\n') {
			c->ndigits = 0;
			c->state = c->left > 0 ? CH_DATA : CH_TRAILER;
			c->line = 0;
		} else if (c->cr) {
			return fail(why, "malformed chunk size line", 400);
		} else if (ch == '\r') {
			c->cr = true;
		} else if (ch == ';') {
			c->ext = true;
		} else if (!c->ext && ch != ' ' && ch != '\t') {
			return fail(why, "malformed chunk size", 400);
		}
		return 0;
	case CH_DATA_END:
		if (ch == '\r' && c->line == 0) {
			c->line = 1;
			return 0;
		}
		if (ch != '\n')
			return fail(why, "malformed chunk end", 400);
		c->state = CH_SIZE;
		c->left = 0;
		c->line = 0;
		return 0;
	case CH_TRAILER:
	case CH_TRAILER_LN:
		if (++c->trailer > c->max_trailer)
			return fail(why, "trailer section too large", 431);
		if (ch == '\n') {
			if (c->state == CH_TRAILER)
				c->state = CH_DONE;
			else
				c->state = CH_TRAILER;
			c->line = 0;
		} else if (ch != '\r' || c->state == CH_TRAILER_LN ||
			   c->line > 0) {
			c->state = CH_TRAILER_LN;
		} else {
			c->line = 1; /* a CR that may end the trailers */
		}
		return 0;
	}
	return fail(why, "malformed chunked body", 400);
}

int http_chunked_feed(struct http_chunked *c, struct buf *out, size_t max,
		      const char *in, size_t n, size_t *used, const char **why)
{
	size_t i = 0;
	int rc;

	*why = NULL;
	while (i < n && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			size_t take = n - i;

			if (take > c->left)
				take = (size_t)c->left;
			if (out->len + take > max ||
			    buf_append(out, in + i, take) != 0) {
				*used = i;
				return fail(why, "body over the limit", 413);
			}
			i += take;
			c->left -= take;
			if (c->left == 0) {
				c->state = CH_DATA_END;
				c->line = 0;
			}
			continue;
		}
		rc = chunk_byte(c, in[i], max - out->len, why);
		if (rc != 0) {
			*used = i;
			return rc;
		}
		i++;
	}
	*used = i;
	return c->state == CH_DONE ? 1 : 0;
}
