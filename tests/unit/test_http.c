/*
 * test_http.c — the HTTP/1.1 request syntax: where a request head ends
 * (also when searched a few bytes at a time), what a head parses to and
 * which heads are refused with which status, and chunked bodies decoded
 * whole, in pieces and byte by byte, with their limits.
 */
#include <stdlib.h>
#include <string.h>

#include "berth.h"
#include "check.h"
#include "webhooks.h"

/* ---- the end of a head ---- */

/* Searches data[0..len) as it arrives step bytes at a time, each call
 * passing how much the previous one had seen; returns the first end found
 * and sets *at to the length given to that call. */
static size_t end_by_steps(const char *data, size_t len, size_t step,
			   size_t *at)
{
	size_t have = 0, prev = 0, end = 0;

	*at = 0;
	while (have < len) {
		have = have + step < len ? have + step : len;
		end = http_head_end(data, have, prev);
		if (end != 0) {
			*at = have;
			return end;
		}
		prev = have;
	}
	return 0;
}

static void test_head_end(void)
{
	static const char *const heads[] = {
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\n\r\n",
		"GET / HTTP/1.1\nHost: a\r\n\n",
		"GET / HTTP/1.1\r\n\r\n",
		"\r\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\n\nGET / HTTP/1.0\n\n",
		"GET / HTTP/1.1\r\nX: \r\r\nY: b\r\n\r\n",
	};
	/* What may follow a head: a body, a pipelined request. */
	static const char *const after[] = {
		"",
		"abcd",
		"\r\n\r\n",
		"GET /next HTTP/1.1\r\nHost: b\r\n\r\n",
		"\n\n",
	};
	static const size_t steps[] = {1, 2, 3, 5, 7, 64};
	size_t i, j, k;

	for (i = 0; i < BERTH_ARRAY_LEN(heads); i++) {
		for (j = 0; j < BERTH_ARRAY_LEN(after); j++) {
			size_t hlen = strlen(heads[i]);
			size_t len = hlen + strlen(after[j]);
			char *data = malloc(len + 1);

			if (data == NULL)
				abort();
			memcpy(data, heads[i], hlen);
			memcpy(data + hlen, after[j], len - hlen + 1);
			CHECK_INT(http_head_end(data, len, 0), hlen);
			/* Every byte short of the end: not complete. */
			CHECK_INT(http_head_end(data, hlen - 1, 0), 0);
			for (k = 0; k < BERTH_ARRAY_LEN(steps); k++) {
				size_t at;

				size_t found = end_by_steps(data, len,
							    steps[k], &at);

				CHECK_INT(found, hlen);
				/* found with the first call that had it all */
				if (steps[k] == 1)
					CHECK_INT(at, hlen);
				CHECK(at >= hlen && at < hlen + steps[k]);
			}
			free(data);
		}
	}

	/* Not complete yet. */
	CHECK_INT(http_head_end("", 0, 0), 0);
	CHECK_INT(http_head_end("GET / HTTP/1.1", 14, 0), 0);
	CHECK_INT(http_head_end("GET / HTTP/1.1\r\n", 16, 0), 0);
	CHECK_INT(http_head_end("GET / HTTP/1.1\r\nHost: a\r\n", 25, 0), 0);
	CHECK_INT(http_head_end("GET / HTTP/1.1\r\nHost: a\r\n\r", 26, 0), 0);
	/* a line holding two CRs is not empty */
	CHECK_INT(http_head_end("GET / HTTP/1.1\r\n\r\r\n", 19, 0), 0);
	/* Empty lines alone, before any request line, are no head. */
	CHECK_INT(http_head_end("\r\n\r\n", 4, 0), 0);
	CHECK_INT(http_head_end("\n\n\n\n", 4, 0), 0);
	CHECK_INT(http_head_end("\r\n\r\n\r\nG\r\n\r\n", 11, 0), 11);
	/* The first empty line ends it, whatever follows. */
	CHECK_INT(http_head_end("G\n\nH\n\n", 6, 0), 3);
	CHECK_INT(http_head_end("G\r\n\r\nH\r\n\r\n", 10, 0), 5);

	/* from: the CRLF CRLF straddles the calls in every way. */
	CHECK_INT(http_head_end("GET / HTTP/1.1\r\n\r\n", 18, 15), 18);
	CHECK_INT(http_head_end("GET / HTTP/1.1\r\n\r\n", 18, 16), 18);
	CHECK_INT(http_head_end("GET / HTTP/1.1\r\n\r\n", 18, 17), 18);
	CHECK_INT(http_head_end("GET / HTTP/1.1\n\n", 16, 15), 16);
	CHECK_INT(http_head_end("GET / HTTP/1.1\n\r\n", 17, 15), 17);
	CHECK_INT(http_head_end("GET / HTTP/1.1\n\r\n", 17, 16), 17);
}

/* ---- parsing a head ---- */

#define GET10 "GET / HTTP/1.0\r\n"
#define GET11 "GET / HTTP/1.1\r\n"
#define POST10 "POST / HTTP/1.0\r\n"
#define POST11 "POST / HTTP/1.1\r\n"

static char head_buf[64 * 1024];

/* Parses the NUL-terminated s as a whole head, in head_buf. */
static int parse(struct http_head *h, const char *s, const char **why)
{
	size_t len = strlen(s);

	if (len >= sizeof(head_buf))
		abort();
	memcpy(head_buf, s, len + 1);
	*why = "not set";
	return http_head_parse(h, head_buf, len, why);
}

/* The status s is refused with; -1 when a refusal has no reason. */
static int refusal(const char *s)
{
	struct http_head h;
	const char *why;
	int rc = parse(&h, s, &why);

	if (rc != 0 && (why == NULL || why[0] == '\0' ||
			strcmp(why, "not set") == 0))
		return -1;
	return rc;
}

static void test_parse(void)
{
	struct http_head h;
	const char *why;

	CHECK_INT(parse(&h, "POST /hooks/github?a=1&b=%20 HTTP/1.1\r\n"
			    "Host: example.com\r\n"
			    "X-Spaced: \t  two words \t \r\n"
			    "content-type:application/json\r\n"
			    "X-Empty:\r\n"
			    "Host: second.example\r\n"
			    "\r\n", &why), 0);
	CHECK_STR(h.method, "POST");
	CHECK_STR(h.path, "/hooks/github");
	CHECK_STR(h.query, "a=1&b=%20");
	CHECK_INT(h.minor, 1);
	CHECK(h.keep_alive);
	CHECK(!h.chunked);
	CHECK(!h.has_length);
	CHECK(!h.expect_continue);
	CHECK_INT(h.nfields, 5);
	CHECK_STR(h.fields[1].name, "X-Spaced");
	CHECK_STR(h.fields[1].value, "two words");
	CHECK_STR(http_head_field(&h, "host"), "example.com");
	CHECK_STR(http_head_field(&h, "HOST"), "example.com");
	CHECK_STR(http_head_field(&h, "x-spaced"), "two words");
	CHECK_STR(http_head_field(&h, "Content-Type"), "application/json");
	CHECK_STR(http_head_field(&h, "x-empty"), "");
	CHECK(http_head_field(&h, "X-Missing") == NULL);
	CHECK(http_head_field(&h, "Hos") == NULL);

	/* bare LF lines, empty lines before the request line */
	CHECK_INT(parse(&h, "\r\n\nGET /x HTTP/1.0\nA: b\n\n", &why), 0);
	CHECK_STR(h.method, "GET");
	CHECK_STR(h.path, "/x");
	CHECK(h.query == NULL);
	CHECK_INT(h.minor, 0);
	CHECK(!h.keep_alive);
	CHECK_STR(http_head_field(&h, "a"), "b");

	/* targets */
	CHECK_INT(parse(&h, "GET http://h/x?y HTTP/1.1\r\n\r\n", &why), 0);
	CHECK_STR(h.path, "/x");
	CHECK_STR(h.query, "y");
	CHECK_INT(parse(&h, "GET http://h HTTP/1.1\r\n\r\n", &why), 0);
	CHECK_STR(h.path, "/");
	CHECK(h.query == NULL);
	CHECK_INT(parse(&h, "GET http://h?q=1 HTTP/1.1\r\n\r\n", &why), 0);
	CHECK_STR(h.path, "/");
	CHECK_STR(h.query, "q=1");
	CHECK_INT(parse(&h, "GET HTTPS://h:8443/a/b HTTP/1.1\r\n\r\n", &why),
		  0);
	CHECK_STR(h.path, "/a/b");
	CHECK_INT(parse(&h, "OPTIONS * HTTP/1.1\r\n\r\n", &why), 0);
	CHECK_STR(h.path, "*");
	CHECK_INT(parse(&h, "GET /? HTTP/1.1\r\n\r\n", &why), 0);
	CHECK_STR(h.path, "/");
	CHECK_STR(h.query, "");
	CHECK_INT(parse(&h, "PURGE /a HTTP/1.1\r\n\r\n", &why), 0);
	CHECK_STR(h.method, "PURGE"); /* a token; what is known is not here */

	/* persistence */
	CHECK_INT(parse(&h, GET11 "\r\n", &why), 0);
	CHECK(h.keep_alive);
	CHECK_INT(parse(&h, GET10 "\r\n", &why), 0);
	CHECK(!h.keep_alive);
	CHECK_INT(parse(&h, GET10 "Connection: keep-alive\r\n\r\n", &why), 0);
	CHECK(h.keep_alive);
	CHECK_INT(parse(&h, GET10 "connection: Keep-Alive\r\n\r\n", &why), 0);
	CHECK(h.keep_alive);
	CHECK_INT(parse(&h, GET11 "Connection: close\r\n\r\n", &why), 0);
	CHECK(!h.keep_alive);
	CHECK_INT(parse(&h, GET11 "Connection: Upgrade, close\r\n\r\n",
			&why), 0);
	CHECK(!h.keep_alive);
	CHECK_INT(parse(&h, GET11 "Connection: close , x\r\n\r\n", &why), 0);
	CHECK(!h.keep_alive);
	CHECK_INT(parse(&h, GET10 "Connection: keep-alive, CLOSE\r\n"
			    "\r\n", &why), 0);
	CHECK(!h.keep_alive);
	CHECK_INT(parse(&h, GET11 "Connection: closed, xclose\r\n\r\n",
			&why), 0);
	CHECK(h.keep_alive); /* whole list members only */
	CHECK_INT(parse(&h, GET10 "Connection: keep-alive-ish\r\n\r\n",
			&why), 0);
	CHECK(!h.keep_alive);
	/* close wins over a keep-alive after it */
	CHECK_INT(parse(&h, GET10 "Connection: close\r\n"
			    "Connection: keep-alive\r\n\r\n", &why), 0);
	CHECK(!h.keep_alive);

	/* bodies */
	CHECK_INT(parse(&h, POST11 "Content-Length: 42\r\n\r\n", &why), 0);
	CHECK(h.has_length);
	CHECK_INT(h.length, 42);
	CHECK(!h.chunked);
	CHECK_INT(parse(&h, POST11 "Content-Length: 0\r\n\r\n", &why), 0);
	CHECK(h.has_length);
	CHECK_INT(h.length, 0);
	CHECK_INT(parse(&h, POST11 "Content-Length: 7\r\n"
			    "content-length:7 \r\n\r\n", &why), 0);
	CHECK(h.has_length);
	CHECK_INT(h.length, 7);
	CHECK_INT(parse(&h, POST11 "Content-Length: "
			    "10000000000000000000\r\n\r\n", &why), 0);
	CHECK(h.length == 10000000000000000000ULL);
	CHECK_INT(parse(&h, POST11 "Transfer-Encoding: chunked\r\n"
			    "\r\n", &why), 0);
	CHECK(h.chunked);
	CHECK(!h.has_length);
	CHECK_INT(parse(&h, POST11 "transfer-encoding: Chunked\r\n"
			    "\r\n", &why), 0);
	CHECK(h.chunked);

	/* expectations */
	CHECK_INT(parse(&h, POST11 "Expect: 100-continue\r\n"
			    "Content-Length: 3\r\n\r\n", &why), 0);
	CHECK(h.expect_continue);
	CHECK_INT(parse(&h, POST11 "expect: 100-Continue\r\n\r\n", &why), 0);
	CHECK(h.expect_continue);
	CHECK_INT(parse(&h, POST10 "Expect: 100-continue\r\n\r\n", &why), 0);
	CHECK(!h.expect_continue);
}

static void test_refusals(void)
{
	struct buf b;
	int i;

	/* the request line */
	CHECK_INT(refusal("\r\n"), 400);
	CHECK_INT(refusal("GET\r\n\r\n"), 400);
	CHECK_INT(refusal("GET /\r\n\r\n"), 400);
	CHECK_INT(refusal(" / HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GET  / HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GET / HTTP/1.1 \r\n\r\n"), 400);
	CHECK_INT(refusal("GET /a b HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("G(T / HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GE\"T / HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GET x HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GET ?x HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GET /a\x01 HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GET /a\x7f HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GET /a\rb HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GET / HTTP/2.0\r\n\r\n"), 505);
	CHECK_INT(refusal("GET / HTTP/0.9\r\n\r\n"), 505);
	CHECK_INT(refusal("GET / HTTP/1.x\r\n\r\n"), 400);
	CHECK_INT(refusal("GET /a\tb HTTP/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GET / HTTP/1.10\r\n\r\n"), 400);
	CHECK_INT(refusal("GET / HTTP/11\r\n\r\n"), 400);
	CHECK_INT(refusal("GET / http/1.1\r\n\r\n"), 400);
	CHECK_INT(refusal("GET / HTTP/1.\r\n\r\n"), 400);

	/* header lines */
	CHECK_INT(refusal(GET11 "X: a\r\n  b\r\n\r\n"), 400);
	CHECK_INT(refusal(GET11 "X: a\r\n\tb\r\n\r\n"), 400);
	CHECK_INT(refusal(GET11 " folded: x\r\n\r\n"), 400);
	{
		struct http_head h;
		const char *why;

		/* refused as folding, not as a strange name */
		CHECK_INT(parse(&h, GET11 "X: a\r\n\tb: c\r\n\r\n",
				&why), 400);
		CHECK(why != NULL && strstr(why, "fold") != NULL);
	}
	CHECK_INT(refusal(GET11 "Host : a\r\n\r\n"), 400);
	CHECK_INT(refusal(GET11 "Host\t: a\r\n\r\n"), 400);
	CHECK_INT(refusal(GET11 "NoColon\r\n\r\n"), 400);
	CHECK_INT(refusal(GET11 ": value\r\n\r\n"), 400);
	CHECK_INT(refusal(GET11 "X(y): v\r\n\r\n"), 400);
	CHECK_INT(refusal(GET11 "X: a\x01z\r\n\r\n"), 400);
	CHECK_INT(refusal(GET11 "X: a\x7fz\r\n\r\n"), 400);
	CHECK_INT(refusal(GET11 "X: a\rz\r\n\r\n"), 400);

	/* Content-Length */
	CHECK_INT(refusal(POST11 "Content-Length: abc\r\n\r\n"), 400);
	CHECK_INT(refusal(POST11 "Content-Length:\r\n\r\n"), 400);
	CHECK_INT(refusal(POST11 "Content-Length: -1\r\n\r\n"), 400);
	CHECK_INT(refusal(POST11 "Content-Length: +1\r\n\r\n"), 400);
	CHECK_INT(refusal(POST11 "Content-Length: 1 2\r\n\r\n"), 400);
	CHECK_INT(refusal(POST11 "Content-Length: 0x10\r\n\r\n"), 400);
	CHECK_INT(refusal(POST11 "Content-Length: 5, 5\r\n\r\n"), 400);
	CHECK_INT(refusal(POST11 "Content-Length: "
			  "18446744073709551616\r\n\r\n"), 400);
	CHECK_INT(refusal(POST11 "Content-Length: "
			  "99999999999999999999999\r\n\r\n"), 400);
	CHECK_INT(refusal(POST11 "Content-Length: 5\r\n"
			  "Content-Length: 6\r\n\r\n"), 400);

	/* Transfer-Encoding */
	CHECK_INT(refusal(POST11 "Transfer-Encoding: gzip, chunked\r\n"
			  "\r\n"), 501);
	CHECK_INT(refusal(POST11 "Transfer-Encoding: gzip\r\n\r\n"), 501);
	CHECK_INT(refusal(POST11 "Transfer-Encoding: chunked, gzip\r\n"
			  "\r\n"), 501);
	CHECK_INT(refusal(POST11 "Transfer-Encoding: chunked\r\n"
			  "Content-Length: 5\r\n\r\n"), 400);
	CHECK_INT(refusal(POST11 "Content-Length: 5\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n"), 400);
	CHECK_INT(refusal(POST10 "Transfer-Encoding: chunked\r\n\r\n"), 400);

	/* Expect */
	CHECK_INT(refusal(POST11 "Expect: 200-ok\r\n\r\n"), 417);
	CHECK_INT(refusal(POST11 "Expect: 100-continue, x\r\n\r\n"), 417);
	CHECK_INT(refusal(POST10 "Expect: nothing\r\n\r\n"), 417);

	/* A NUL byte anywhere: refused, not a line cut short (which would
	 * read this Content-Length as 5). */
	{
		static const char nul[] = "POST / HTTP/1.1\r\n"
					  "Content-Length: 5\0" "00\r\n\r\n";
		struct http_head h;
		const char *why = NULL;

		memcpy(head_buf, nul, sizeof(nul));
		CHECK_INT(http_head_parse(&h, head_buf, sizeof(nul) - 1, &why),
			  400);
		CHECK(why != NULL);
	}

	/* As many header lines as allowed, and one more. */
	buf_init(&b, 0);
	buf_puts(&b, GET11);
	for (i = 0; i < HTTP_MAX_FIELDS; i++)
		buf_printf(&b, "X-%d: %d\r\n", i, i);
	buf_puts(&b, "\r\n");
	{
		struct http_head h;
		const char *why;

		CHECK_INT(parse(&h, buf_str(&b), &why), 0);
		CHECK_INT(h.nfields, HTTP_MAX_FIELDS);
		CHECK_STR(http_head_field(&h, "x-99"), "99");
	}
	b.len -= 2;
	buf_puts(&b, "X-Last: 1\r\n\r\n");
	CHECK_INT(refusal(buf_str(&b)), 431);
	buf_release(&b);
}

/* ---- chunked bodies ---- */

struct decoded {
	int rc;
	size_t used; /* in all */
	struct buf out;
};

/* Decodes in[0..n) fed in pieces: cuts[0..ncuts) are the offsets where a
 * piece ends (ascending). Stops at the first call that does not return 0;
 * a call that returns 0 must have used all its piece (-1 if not). */
static void decode_cut(struct decoded *d, const char *in, size_t n,
		       const size_t *cuts, size_t ncuts, size_t max,
		       size_t max_trailer)
{
	struct http_chunked c;
	size_t from = 0, i;

	http_chunked_init(&c, max_trailer);
	buf_init(&d->out, 0);
	d->used = 0;
	d->rc = 0;
	for (i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : n, used = (size_t)-1;
		const char *why = "not set";
		bool why_set;

		d->rc = http_chunked_feed(&c, &d->out, max, in + from,
					  to - from, &used, &why);
		if (used > to - from) {
			d->rc = -2;
			return;
		}
		d->used += used;
		why_set = why != NULL && strcmp(why, "not set") != 0;
		if (d->rc >= 400 && !why_set)
			d->rc = -3;
		if (d->rc != 0)
			return;
		if (used != to - from) {
			d->rc = -1;
			return;
		}
		from = to;
	}
}

static void decode(struct decoded *d, const char *in, size_t n, size_t max,
		   size_t max_trailer)
{
	decode_cut(d, in, n, NULL, 0, max, max_trailer);
}

static bool same(const struct decoded *a, const struct decoded *b)
{
	return a->rc == b->rc && a->used == b->used &&
	       a->out.len == b->out.len &&
	       (a->out.len == 0 || memcmp(a->out.data, b->out.data,
					  a->out.len) == 0);
}

/* Decoding s whole, cut in two at every offset and fed byte by byte gives
 * the same result; returns it (the caller releases d->out). */
static void decode_all_ways(struct decoded *d, const char *s, size_t max,
			    size_t max_trailer)
{
	size_t n = strlen(s), k, *bytes;
	struct decoded other;
	int split_differs = 0;

	decode(d, s, n, max, max_trailer);
	for (k = 0; k <= n; k++) {
		decode_cut(&other, s, n, &k, 1, max, max_trailer);
		if (!same(d, &other))
			split_differs++;
		buf_release(&other.out);
	}
	CHECK_INT(split_differs, 0);
	bytes = malloc((n + 1) * sizeof(*bytes));
	if (bytes == NULL)
		abort();
	for (k = 0; k < n; k++)
		bytes[k] = k + 1;
	decode_cut(&other, s, n, bytes, n > 0 ? n - 1 : 0, max, max_trailer);
	CHECK(same(d, &other));
	buf_release(&other.out);
	free(bytes);
}

/* decode_all_ways(s) gives rc, having used `used` bytes in all (unless
 * -1) and decoded out (unless NULL). */
static void check_decode(const char *s, size_t max, size_t max_trailer, int rc,
			 long used, const char *out)
{
	struct decoded d;

	decode_all_ways(&d, s, max, max_trailer);
	CHECK_INT(d.rc, rc);
	if (used >= 0)
		CHECK_INT(d.used, used);
	if (out != NULL)
		CHECK_STR(buf_str(&d.out), out);
	buf_release(&d.out);
}

/* s becomes head, n times c, then tail. */
static void put_run(struct buf *s, const char *head, char c, size_t n,
		    const char *tail)
{
	buf_reset(s);
	buf_puts(s, head);
	while (n-- > 0)
		buf_putc(s, c);
	buf_puts(s, tail);
}

static void test_chunked(void)
{
	static const char wiki[] = "4;name=value\r\nWiki\r\n"
				   "5 ; a=\"b;c\"\r\npedia\r\n"
				   "E\r\n in\r\n\r\nchunks.\r\n"
				   "0\r\n"
				   "X-Trailer: yes\r\nOther: 1\r\n"
				   "\r\n";
	static const char next[] = "GET /next HTTP/1.1\r\n\r\n";
	struct decoded d;
	struct buf s;

	decode_all_ways(&d, wiki, 1024, 1024);
	CHECK_INT(d.rc, 1);
	CHECK_INT(d.used, strlen(wiki));
	CHECK_STR(buf_str(&d.out), "Wikipedia in\r\n\r\nchunks.");
	buf_release(&d.out);

	/* A pipelined request after the body is not consumed. */
	buf_init(&s, 0);
	buf_puts(&s, wiki);
	buf_puts(&s, next);
	decode_all_ways(&d, buf_str(&s), 1024, 1024);
	CHECK_INT(d.rc, 1);
	CHECK_INT(d.used, strlen(wiki));
	CHECK_STR(buf_str(&d.out), "Wikipedia in\r\n\r\nchunks.");
	buf_release(&d.out);
	buf_release(&s);

	/* bare LF framing, hex of both cases, no trailer */
	decode_all_ways(&d, "3\nabc\na\n0123456789\nB\r\nABCDEFGHIJK\n0\n\nX",
			1024, 1024);
	CHECK_INT(d.rc, 1);
	CHECK_INT(d.used, 37);
	CHECK_STR(buf_str(&d.out), "abc0123456789ABCDEFGHIJK");
	buf_release(&d.out);

	/* nothing but the last chunk */
	decode_all_ways(&d, "0\r\n\r\n", 1024, 1024);
	CHECK_INT(d.rc, 1);
	CHECK_INT(d.used, 5);
	CHECK_INT(d.out.len, 0);
	buf_release(&d.out);

	/* Data is binary: NUL, CR and LF pass through. */
	decode(&d, "4\r\n\0\r\n\n\r\n0\r\n\r\n", 14, 1024, 1024);
	CHECK_INT(d.rc, 1);
	CHECK_INT(d.used, 14);
	CHECK_INT(d.out.len, 4);
	CHECK(d.out.len == 4 && memcmp(d.out.data, "\0\r\n\n", 4) == 0);
	buf_release(&d.out);

	/* Not complete: every call needs more and takes all it gets. */
	check_decode("5\r\nhel", 1024, 1024, 0, 6, "hel");
	check_decode("0\r\nX: y\r\n", 1024, 1024, 0, 9, NULL);
	/* a line of a lone CR does not end the trailers */
	check_decode("0\r\n\r\r\n", 1024, 1024, 0, 6, NULL);

	/* max: reached exactly, and passed by the announced size */
	check_decode("8\r\nabcdefgh\r\n0\r\n\r\n", 8, 1024, 1, -1, "abcdefgh");
	decode_all_ways(&d, "8\r\nabcdefgh\r\n0\r\n\r\n", 7, 1024);
	CHECK_INT(d.rc, 413);
	CHECK_INT(d.used, 1); /* refused at the size, before any data */
	CHECK_INT(d.out.len, 0);
	buf_release(&d.out);
	check_decode("100000\r\n", 1024, 1024, 413, 6, NULL);
	check_decode("4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n", 6, 1024,
		     413, 10, "abcd");
	check_decode("ffffffffffffffff\r\n", 1024, 1024, 413, -1, NULL);

	/* Data refused by the output buffer: 413 where the data starts. */
	{
		struct http_chunked c;
		struct buf out;
		size_t used = 99;
		const char *why = NULL;

		http_chunked_init(&c, 1024);
		buf_init(&out, 4);
		CHECK_INT(http_chunked_feed(&c, &out, 100, "8\r\nabcdefgh\r\n",
					    13, &used, &why), 413);
		CHECK_INT(used, 3);
		CHECK(why != NULL);
		CHECK_INT(out.len, 0);
		buf_release(&out);
	}

	/* sizes */
	decode_all_ways(&d, "0000000000000003\r\nabc\r\n0\r\n\r\n", 1024, 1024);
	CHECK_INT(d.rc, 1); /* sixteen digits */
	CHECK_STR(buf_str(&d.out), "abc");
	buf_release(&d.out);
	decode_all_ways(&d, "00000000000000003\r\nabc\r\n0\r\n\r\n", 1024,
			1024);
	CHECK_INT(d.rc, 413); /* seventeen */
	CHECK_INT(d.used, 16);
	buf_release(&d.out);
	check_decode("g\r\n", 1024, 1024, 400, 0, NULL);
	check_decode("\r\n0\r\n\r\n", 1024, 1024, 400, -1, NULL);
	check_decode(" 3\r\nabc\r\n0\r\n\r\n", 1024, 1024, 400, -1, NULL);
	check_decode("-1\r\n", 1024, 1024, 400, -1, NULL);
	check_decode("3x\r\nabc\r\n0\r\n\r\n", 1024, 1024, 400, 1, NULL);
	check_decode("0x3\r\nabc\r\n0\r\n\r\n", 1024, 1024, 400, -1, NULL);

	/* the line after the data */
	check_decode("3\r\nabcX\r\n0\r\n\r\n", 1024, 1024, 400, 6, "abc");
	check_decode("3\r\nabc0\r\n\r\n", 1024, 1024, 400, -1, NULL);
	check_decode("3\r\nabc\r\r\n0\r\n\r\n", 1024, 1024, 400, 7, NULL);
	check_decode("3\r\nabcd\r\n0\r\n\r\n", 1024, 1024, 400, -1, NULL);

	/* The trailer section, its final empty line included. */
	check_decode("0\r\n\r\n", 1024, 2, 1, -1, NULL);
	check_decode("0\r\n\r\n", 1024, 1, 431, -1, NULL);
	check_decode("0\r\nA: b\r\n\r\n", 1024, 8, 1, 11, NULL);
	check_decode("0\r\nA: b\r\n\r\n", 1024, 7, 431, 10, NULL);
	buf_init(&s, 0);
	put_run(&s, "2\r\nok\r\n0\r\nX-Long: ", 'a', 2000, "\r\n\r\n");
	decode(&d, buf_str(&s), s.len, 1024, 1024);
	CHECK_INT(d.rc, 431);
	CHECK_STR(buf_str(&d.out), "ok");
	CHECK_INT(d.used, 10 + 1024);
	buf_release(&d.out);
	decode(&d, buf_str(&s), s.len, 1024, 4096);
	CHECK_INT(d.rc, 1);
	CHECK_INT(d.used, s.len);
	buf_release(&d.out);
	buf_release(&s);

	/* The size line: whitespace, then only ';' extensions, then CRLF. */
	check_decode("1 \t;a=b c\r\nA\r\n0\r\n\r\n", 1024, 1024, 1, -1, "A");
	check_decode("1 2\r\nA\r\n0\r\n\r\n", 1024, 1024, 400, 2, NULL);
	check_decode("1\rjunk\nA\r\n0\r\n\r\n", 1024, 1024, 400, 2, NULL);

	/* Chunk extensions: long is fine, past 4096 bytes is not. */
	put_run(&s, "1;x=", 'v', 1000, "\r\nA\r\n0\r\n\r\n");
	decode(&d, buf_str(&s), s.len, 1024, 1024);
	CHECK_INT(d.rc, 1);
	CHECK_STR(buf_str(&d.out), "A");
	buf_release(&d.out);
	put_run(&s, "1;x=", 'v', 5000, "\r\nA\r\n0\r\n\r\n");
	decode(&d, buf_str(&s), s.len, 1024, 1024);
	CHECK_INT(d.rc, 400);
	CHECK(d.used > 4000 && d.used < 5000);
	CHECK_INT(d.out.len, 0);
	buf_release(&d.out);
	buf_release(&s);
}

int main(void)
{
	test_head_end();
	test_parse();
	test_refusals();
	test_chunked();
	return check_done("test_http");
}
