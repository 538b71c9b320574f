/*
 * verify_tool.c — runs verify_request (and push_parse) on requests kept in
 * files, for tests/integration/test_webhook_vectors.sh, which checks it
 * against signatures Python computes, and for trying a delivery by hand.
 * Not a test itself; built as $BERTH_BUILD/tests/verify_tool.
 *
 *   verify_tool PROVIDER REQUEST [--secret-file F] [--token-file F]
 *               [--tolerance S] [--now T] [--parse]
 *   verify_tool --batch
 *
 * REQUEST ("-" for stdin) holds "Name: value" header lines, an empty line,
 * then the body, byte for byte. Secret files are used exactly as they are,
 * without stripping a newline. Prints key=value lines on stdout; exits 0
 * when the request verified (and parsed, with --parse), 1 when it was
 * rejected, 2 when its body is malformed, 64 on a usage error.
 *
 * --batch reads records from stdin, each a line
 *   PROVIDER NOW TOLERANCE PARSE SECRET_LEN TOKEN_LEN REQUEST_LEN
 * (PARSE 0 or 1, a length -1 when there is no such secret) followed by
 * that many bytes of secret, token and request; for each it prints what a
 * single run prints, then "exit=N" and an empty line. One process for many
 * requests: a sanitizer build starts slowly.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "berth.h"
#include "webhooks.h"
#include "wh_headers.h"

#define TOOL_MAX ((size_t)64 << 20)

/* One request to check and what to check it with. */
struct tool_case {
	enum webhook_provider provider;
	int64_t now;
	int tolerance;
	bool parse;
	bool has_secret, has_token;
	struct buf secret, token, request;
};

static const char *const providers[PROVIDER_COUNT] = {
	[PROVIDER_GITHUB] = "github",     [PROVIDER_GITLAB] = "gitlab",
	[PROVIDER_GITEA] = "gitea",       [PROVIDER_BITBUCKET] = "bitbucket",
	[PROVIDER_GENERIC] = "generic",   [PROVIDER_STRIPE] = "stripe",
	[PROVIDER_SENTRY] = "sentry",
};

static int usage(const char *why)
{
	fprintf(stderr, "verify_tool: %s\nusage: verify_tool PROVIDER REQUEST "
			"[--secret-file F] [--token-file F] [--tolerance S] "
			"[--now T] [--parse]\n       verify_tool --batch\n",
		why);
	return EXIT_USAGE;
}

static int provider_parse(enum webhook_provider *out, const char *name)
{
	int p;

	for (p = 0; p < PROVIDER_COUNT; p++) {
		if (strcmp(name, providers[p]) == 0) {
			*out = (enum webhook_provider)p;
			return 0;
		}
	}
	return -1;
}

static void case_init(struct tool_case *c)
{
	memset(c, 0, sizeof(*c));
	c->now = (int64_t)time(NULL);
	buf_init(&c->secret, 1 << 20);
	buf_init(&c->token, 1 << 20);
	buf_init(&c->request, TOOL_MAX);
}

static void case_release(struct tool_case *c)
{
	buf_release(&c->secret);
	buf_release(&c->token);
	buf_release(&c->request);
}

static void print_event(const struct push_event *ev)
{
	size_t i;

	printf("kind=%s\nevent=%s\naction=%s\ndelivery=%s\nrepository=%s\n"
	       "pusher=%s\nrefs=%zu\nmore_refs=%d\n",
	       push_kind_name(ev->kind), ev->event, ev->action, ev->delivery,
	       ev->repository, ev->pusher, ev->nrefs, ev->more_refs);
	for (i = 0; i < ev->nrefs; i++) {
		const struct push_ref *r = &ev->refs[i];

		printf("ref.%zu=%s %s %s %s%s\n", i, r->ref, r->name,
		       r->before[0] ? r->before : "-",
		       r->after[0] ? r->after : "-",
		       r->deleted ? " deleted" : "");
	}
}

/* Checks one request, printing the outcome. Returns the exit status. */
static int case_run(struct tool_case *c)
{
	struct verify_secrets s = {0};
	struct verify_result vr;
	struct push_event ev;
	struct wh_headers h = {0};
	struct wh_request req;
	struct berr err;
	size_t off;
	int rc, status;

	s.tolerance_s = c->tolerance;
	if (c->has_secret) {
		s.secret = buf_str(&c->secret);
		s.secret_len = c->secret.len;
	}
	if (c->has_token) {
		s.token = buf_str(&c->token);
		s.token_len = c->token.len;
	}
	off = wh_headers_parse(&h, buf_str(&c->request), c->request.len);
	wh_request_init(&req, &h, (const unsigned char *)buf_str(&c->request) + off,
			c->request.len - off, c->now);

	rc = verify_request(&vr, c->provider, &req, &s, &err);
	printf("status=%s\nheader=%s\ntimestamp=%lld\n",
	       verify_status_name(vr.status), vr.header ? vr.header : "",
	       (long long)vr.timestamp);
	if (rc != 0) {
		printf("message=%s\n", err.msg);
		status = 1;
	} else if (!c->parse) {
		printf("delivery=%s\n", vr.delivery);
		status = 0;
	} else if ((rc = push_parse(&ev, &vr, &req, &err)) != 0) {
		printf("parse=%s\nmessage=%s\n",
		       rc == BERTH_ETOOBIG ? "toobig" : "malformed", err.msg);
		status = 2;
	} else {
		printf("parse=ok\n");
		print_event(&ev);
		status = 0;
	}
	wh_headers_release(&h);
	return status;
}

/* Reads exactly n bytes of stdin into b; n < 0 reads nothing. */
static int read_exact(struct buf *b, long long n)
{
	char chunk[65536];

	buf_reset(b);
	while (n > 0) {
		size_t want = n < (long long)sizeof(chunk) ? (size_t)n
							   : sizeof(chunk);
		size_t got = fread(chunk, 1, want, stdin);

		if (got == 0 || buf_append(b, chunk, got) != 0)
			return -1;
		n -= (long long)got;
	}
	return 0;
}

static int run_batch(void)
{
	struct tool_case c;
	char line[256], name[32];
	long long now, slen, tlen, rlen;
	int tol, parse, status = 0;

	case_init(&c);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (sscanf(line, "%31s %lld %d %d %lld %lld %lld", name, &now,
			   &tol, &parse, &slen, &tlen, &rlen) != 7 ||
		    provider_parse(&c.provider, name) != 0 || rlen < 0 ||
		    read_exact(&c.secret, slen) != 0 ||
		    read_exact(&c.token, tlen) != 0 ||
		    read_exact(&c.request, rlen) != 0) {
			status = usage("bad batch record");
			break;
		}
		c.now = now;
		c.tolerance = tol;
		c.parse = parse != 0;
		c.has_secret = slen >= 0;
		c.has_token = tlen >= 0;
		printf("exit=%d\n\n", case_run(&c));
	}
	case_release(&c);
	return status;
}

/* Reads path ("-": stdin) whole into out. */
static int read_input(struct buf *out, const char *path, struct berr *err)
{
	char chunk[65536];
	size_t n;

	if (strcmp(path, "-") != 0)
		return fs_read_file(out, path, TOOL_MAX, err) == 0 ? 0 : -1;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_append(out, chunk, n) != 0)
			return berr_set(err, "stdin is too large");
	return ferror(stdin) ? berr_set(err, "cannot read stdin") : 0;
}

/* Single mode: options after PROVIDER REQUEST. */
static int parse_options(struct tool_case *c, int argc, char **argv)
{
	struct berr err;
	int i, rc;

	for (i = 3; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--parse") == 0) {
			c->parse = true;
			continue;
		}
		if (val == NULL)
			return usage("option needs a value");
		i++;
		if (strcmp(opt, "--secret-file") == 0) {
			rc = fs_read_file(&c->secret, val, 1 << 20, &err);
			c->has_secret = true;
		} else if (strcmp(opt, "--token-file") == 0) {
			rc = fs_read_file(&c->token, val, 1 << 20, &err);
			c->has_token = true;
		} else if (strcmp(opt, "--tolerance") == 0) {
			rc = strnum_int(&c->tolerance, val, 0, 86400 * 365);
		} else if (strcmp(opt, "--now") == 0) {
			rc = strnum_i64(&c->now, val, INT64_MIN / 2,
					INT64_MAX / 2);
		} else {
			return usage("unknown option");
		}
		if (rc != 0)
			return usage("bad option value");
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct tool_case c;
	struct berr err;
	int status;

	if (argc == 2 && strcmp(argv[1], "--batch") == 0)
		return run_batch();
	case_init(&c);
	if (argc < 3)
		status = usage("missing arguments");
	else if (provider_parse(&c.provider, argv[1]) != 0)
		status = usage("unknown provider");
	else if ((status = parse_options(&c, argc, argv)) != 0)
		;
	else if (read_input(&c.request, argv[2], &err) != 0)
		status = usage(err.msg);
	else
		status = case_run(&c);
	case_release(&c);
	return status;
}
