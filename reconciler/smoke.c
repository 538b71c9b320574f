/*
 * smoke.c — the manifest's smoke tests (SPEC §5 step 8): a GET per test
 * against what runs now, its status and body compared with what the
 * manifest expects. Every test runs, so one report shows everything that
 * is broken. URLs are never shown (a ${NAME} in them may have brought in a
 * secret): tests are named by their name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

#define SMOKE_TIMEOUT_DEFAULT_S 10
#define SMOKE_MAX_RESPONSE      ((size_t)4 << 20)
/* Bytes of an unexpected body shown in a failure. */
#define SMOKE_EXCERPT 80

/* A short, printable excerpt of body: control bytes and quotes escaped,
 * cut at SMOKE_EXCERPT bytes (on a UTF-8 character boundary) with "…". */
static char *excerpt(const char *body, size_t len)
{
	size_t i, n = len < SMOKE_EXCERPT ? len : SMOKE_EXCERPT;
	struct buf b;

	/* Do not cut a UTF-8 sequence: back up over continuation bytes. */
	while (n < len && n > 0 && ((unsigned char)body[n] & 0xC0) == 0x80)
		n--;
	buf_init(&b, 0);
	buf_putc(&b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)body[i];

		if (c == '"' || c == '\\')
			buf_printf(&b, "\\%c", c);
		else if (c == '\n')
			buf_puts(&b, "\\n");
		else if (c < 0x20 || c == 0x7F)
			buf_printf(&b, "\\x%02x", c);
		else
			buf_putc(&b, (char)c);
	}
	buf_puts(&b, n < len ? "\"…" : "\"");
	return buf_detach(&b);
}

/* True when (hay, len) contains the NUL-terminated needle. */
static bool contains(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	if (n == 0)
		return true;
	for (i = 0; i + n <= len; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

static void run_one(struct smoke_result *r, const struct manifest_smoke *t)
{
	int timeout_s =
	    t->timeout_s > 0 ? t->timeout_s : SMOKE_TIMEOUT_DEFAULT_S;
	int expect = t->expect_status > 0 ? t->expect_status : 200;
	struct http_request req = {0};
	struct http_response resp;
	int64_t start = strnum_mono_ms();
	struct berr err;
	char *ex, *want;

	memset(r, 0, sizeof(*r));
	r->name = xstrdup(t->name ? t->name : "");
	req.url = t->url;
	req.timeout_ms = timeout_s * 1000;
	req.max_response = SMOKE_MAX_RESPONSE;
	if (http_request(&resp, &req, &err) != 0) {
		r->detail = xstrdup(err.msg);
	} else {
		r->status = resp.status;
		if (resp.status != expect) {
			r->detail = xasprintf("expected %d, got %ld", expect,
			                      resp.status);
		} else if (t->expect_body != NULL &&
		           !contains(buf_str(&resp.body), resp.body.len,
		                     t->expect_body)) {
			want = excerpt(t->expect_body, strlen(t->expect_body));
			ex = excerpt(buf_str(&resp.body), resp.body.len);
			r->detail = xasprintf(
			    "body does not contain %s: got %s", want, ex);
			free(want);
			free(ex);
		} else {
			r->ok = true;
		}
	}
	r->duration_ms = strnum_mono_ms() - start;
	http_response_release(&resp);
}

int smoke_run(struct smoke_report *out, const struct manifest *m,
              void (*on_result)(const struct smoke_result *r, void *arg),
              void *arg)
{
	int64_t start = strnum_mono_ms();
	size_t i;

	memset(out, 0, sizeof(*out));
	if (m->nsmoke > 0)
		out->results = xcalloc(m->nsmoke, sizeof(*out->results));
	for (i = 0; i < m->nsmoke; i++) {
		struct smoke_result *r = &out->results[out->n++];

		run_one(r, &m->smoke[i]);
		if (!r->ok)
			out->failed++;
		if (on_result != NULL)
			on_result(r, arg);
	}
	out->duration_ms = strnum_mono_ms() - start;
	return out->failed > 0 ? -1 : 0;
}

void smoke_report_release(struct smoke_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->results[i].name);
		free(r->results[i].detail);
	}
	free(r->results);
	memset(r, 0, sizeof(*r));
}

char *smoke_format(const struct smoke_result *r)
{
	if (r->ok)
		return xasprintf("✓ %s %ld in %lld ms", r->name, r->status,
		                 (long long)r->duration_ms);
	return xasprintf("✗ %s: %s", r->name, r->detail ? r->detail : "failed");
}

char *smoke_summary(const struct smoke_report *r)
{
	size_t i;

	if (r->n == 0)
		return xstrdup("no smoke tests");
	if (r->failed == 0)
		return xasprintf("%zu passed", r->n);
	for (i = 0; i < r->n && r->results[i].ok; i++)
		;
	return xasprintf(
	    "%zu of %zu failed: %s: %s", r->failed, r->n, r->results[i].name,
	    r->results[i].detail ? r->results[i].detail : "failed");
}
