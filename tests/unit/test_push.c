/*
 * test_push.c — what push_parse reads from each provider's payloads: the
 * realistic bodies in tests/fixtures/webhooks/ (pushes, tag pushes, pings,
 * deletions), the generic, Stripe and Sentry bodies, and the malformed
 * bodies the server answers 400.
 */
#include "berth.h"
#include "check.h"
#include "webhooks.h"
#include "wh_headers.h"

static struct wh_headers hdrs;
static struct push_event ev;
static struct berr err;

static int parse(enum webhook_provider p, const void *body, size_t len)
{
	struct verify_result vr = {0};
	struct wh_request req;

	vr.provider = p;
	snprintf(vr.delivery, sizeof(vr.delivery), "d-1");
	wh_request_init(&req, &hdrs, body, len, 0);
	err.msg[0] = '\0';
	return push_parse(&ev, &vr, &req, &err);
}

static int parse_str(enum webhook_provider p, const char *body)
{
	return parse(p, body, strlen(body));
}

static int parse_fixture(enum webhook_provider p, const char *name)
{
	struct buf b;
	struct berr e;
	char path[256];
	int rc;

	buf_init(&b, 1 << 20);
	snprintf(path, sizeof(path), "tests/fixtures/webhooks/%s", name);
	if (fs_read_file(&b, path, 1 << 20, &e) != 0) {
		fprintf(stderr, "%s\n", e.msg);
		exit(1);
	}
	rc = parse(p, b.data, b.len);
	buf_release(&b);
	return rc;
}

/* Sets the headers from "Name: value" lines. */
static void headers(const char *text)
{
	wh_headers_release(&hdrs);
	wh_headers_parse(&hdrs, text, strlen(text));
}

static void check_ref(size_t i, enum push_ref_type type, const char *name,
		      const char *before, const char *after, bool deleted)
{
	CHECK(i < ev.nrefs);
	if (i >= ev.nrefs)
		return;
	CHECK_INT(ev.refs[i].type, type);
	CHECK_STR(ev.refs[i].name, name);
	CHECK_STR(ev.refs[i].before, before);
	CHECK_STR(ev.refs[i].after, after);
	CHECK_INT(ev.refs[i].deleted, deleted);
}

#define ZERO "0000000000000000000000000000000000000000"

static void test_github(void)
{
	headers("X-GitHub-Event: push\nX-GitHub-Delivery: x\n");
	CHECK_INT(parse_fixture(PROVIDER_GITHUB, "github-push.json"), 0);
	CHECK_INT(ev.provider, PROVIDER_GITHUB);
	CHECK_INT(ev.kind, PUSH_KIND_PUSH);
	CHECK_STR(ev.event, "push");
	CHECK_STR(ev.delivery, "d-1");
	CHECK_STR(ev.repository, "acme/pos");
	CHECK_STR(ev.pusher, "mlopez");
	CHECK_INT(ev.nrefs, 1);
	CHECK_STR(ev.refs[0].ref, "refs/heads/main");
	check_ref(0, PUSH_REF_BRANCH, "main", ZERO,
		  "5d1b2e7c9a0f4e3b8c6d1a2f3e4b5c6d7e8f9a0b", false);
	CHECK(push_find_branch(&ev, "main") == &ev.refs[0]);
	CHECK(push_find_branch(&ev, "staging") == NULL);

	CHECK_INT(parse_fixture(PROVIDER_GITHUB, "github-tag-push.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_TAG);
	check_ref(0, PUSH_REF_TAG, "v2.4.0", ZERO,
		  "5d1b2e7c9a0f4e3b8c6d1a2f3e4b5c6d7e8f9a0b", false);
	CHECK(push_find_branch(&ev, "v2.4.0") == NULL);

	CHECK_INT(parse_fixture(PROVIDER_GITHUB, "github-branch-delete.json"),
		  0);
	CHECK_INT(ev.kind, PUSH_KIND_PUSH);
	check_ref(0, PUSH_REF_BRANCH, "feature/receipt-printer",
		  "9c4e1f7b2a3d5e6f708192a3b4c5d6e7f8091a2b", ZERO, true);
	CHECK_STR(ev.pusher, "jchen");

	headers("X-GitHub-Event: ping\n");
	CHECK_INT(parse_fixture(PROVIDER_GITHUB, "github-ping.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_PING);
	CHECK_STR(push_kind_name(ev.kind), "ping");
	CHECK_STR(ev.repository, "acme/pos");
	CHECK_INT(ev.nrefs, 0);

	headers("X-GitHub-Event: pull_request\n");
	CHECK_INT(parse_str(PROVIDER_GITHUB, "{\"action\":\"opened\"}"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_OTHER);
	CHECK_STR(ev.event, "pull_request");

	/* A push to a ref that is neither a branch nor a tag. */
	headers("X-GitHub-Event: push\n");
	CHECK_INT(parse_str(PROVIDER_GITHUB, "{\"ref\":\"refs/notes/commits\"}"),
		  0);
	CHECK_INT(ev.kind, PUSH_KIND_OTHER);
	check_ref(0, PUSH_REF_OTHER, "refs/notes/commits", "", "", false);

	/* "deleted": true is enough, even without the zeros. */
	CHECK_INT(parse_str(PROVIDER_GITHUB,
			    "{\"ref\":\"refs/heads/x\",\"deleted\":true}"),
		  0);
	check_ref(0, PUSH_REF_BRANCH, "x", "", "", true);

	/* The event header is needed, and must be a short printable name. */
	headers("X-GitHub-Delivery: x\n");
	CHECK_INT(parse_fixture(PROVIDER_GITHUB, "github-push.json"), -1);
	CHECK_STR(err.msg, "missing 'X-GitHub-Event' header");
	headers("X-GitHub-Event: \x01push\n");
	CHECK_INT(parse_fixture(PROVIDER_GITHUB, "github-push.json"), -1);
	headers("X-GitHub-Event: push\n");
	CHECK_INT(parse_str(PROVIDER_GITHUB, "{\"after\":\"" ZERO "\"}"), -1);
	CHECK_STR(err.msg, "'ref' is missing or not a string");
	CHECK_INT(parse_str(PROVIDER_GITHUB, "{\"ref\": 5}"), -1);
}

static void test_github_form(void)
{
	const char *json = "{\"ref\":\"refs/heads/main\",\"after\":\"" ZERO
			   "\",\"pusher\":{\"name\":\"a b\"}}";
	char form[512];
	size_t i, n = 0;

	/* As GitHub sends it with its default content type. */
	n = (size_t)snprintf(form, sizeof(form), "payload=");
	for (i = 0; json[i] != '\0'; i++) {
		unsigned char c = (unsigned char)json[i];

		if (c == ' ')
			form[n++] = '+';
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			form[n++] = (char)c;
		else
			n += (size_t)snprintf(form + n, sizeof(form) - n,
					      "%%%02X", c);
	}
	form[n] = '\0';
	headers("X-GitHub-Event: push\nContent-Type: "
		"application/x-www-form-urlencoded\n");
	CHECK_INT(parse_str(PROVIDER_GITHUB, form), 0);
	check_ref(0, PUSH_REF_BRANCH, "main", "", ZERO, true);
	CHECK_STR(ev.pusher, "a b");

	CHECK_INT(parse_str(PROVIDER_GITHUB,
			    "a=1&payload=%7B%22ref%22:%22refs/heads/x%22%7D&b=2"),
		  0);
	check_ref(0, PUSH_REF_BRANCH, "x", "", "", false);
	CHECK_INT(parse_str(PROVIDER_GITHUB, "payload=%7B%7"), -1);
	CHECK_STR(err.msg, "form body has a bad %-escape");
	CHECK_INT(parse_str(PROVIDER_GITHUB, "payload=%7B%7G"), -1);
	CHECK_INT(parse_str(PROVIDER_GITHUB, "payloads=%7B%7D"), -1);
	CHECK_STR(err.msg, "form body has no 'payload' field");
	CHECK_INT(parse_str(PROVIDER_GITHUB, ""), -1);
	CHECK_INT(parse_str(PROVIDER_GITHUB, "payload="), -1);
	CHECK_STR(err.msg, "body is empty");
	CHECK_INT(parse_str(PROVIDER_GITHUB, "payload=%00"), -1);
}

static void test_gitlab(void)
{
	headers("X-Gitlab-Event: Push Hook\n");
	CHECK_INT(parse_fixture(PROVIDER_GITLAB, "gitlab-push.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_PUSH);
	CHECK_STR(ev.event, "Push Hook");
	CHECK_STR(ev.repository, "acme/pos");
	CHECK_STR(ev.pusher, "mlopez");
	check_ref(0, PUSH_REF_BRANCH, "main",
		  "95790bf891e76fee5e1747ab589903a6a1f80f22",
		  "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", false);

	headers("X-Gitlab-Event: Tag Push Hook\n");
	CHECK_INT(parse_fixture(PROVIDER_GITLAB, "gitlab-tag-push.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_TAG);
	check_ref(0, PUSH_REF_TAG, "v1.0.0", ZERO,
		  "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", false);
	CHECK_STR(ev.pusher, "jchen");

	headers("X-Gitlab-Event: System Hook\n");
	CHECK_INT(parse_fixture(PROVIDER_GITLAB, "gitlab-push.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_PUSH);
	CHECK_INT(parse_str(PROVIDER_GITLAB, "{\"object_kind\":\"issue\"}"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_OTHER);

	/* A deleted branch: after is all zeros; user_name stands in. */
	headers("X-Gitlab-Event: Push Hook\n");
	CHECK_INT(parse_str(PROVIDER_GITLAB,
			    "{\"ref\":\"refs/heads/old\",\"before\":\"95790bf891"
			    "e76fee5e1747ab589903a6a1f80f22\",\"after\":\"" ZERO
			    "\",\"user_name\":\"Jin\"}"),
		  0);
	check_ref(0, PUSH_REF_BRANCH, "old",
		  "95790bf891e76fee5e1747ab589903a6a1f80f22", ZERO, true);
	CHECK_STR(ev.pusher, "Jin");

	headers("X-Gitlab-Event: Merge Request Hook\n");
	CHECK_INT(parse_str(PROVIDER_GITLAB, "{\"object_kind\":\"merge_request\"}"),
		  0);
	CHECK_INT(ev.kind, PUSH_KIND_OTHER);
	headers("");
	CHECK_INT(parse_fixture(PROVIDER_GITLAB, "gitlab-push.json"), -1);
	CHECK_STR(err.msg, "missing 'X-Gitlab-Event' header");
}

static void test_gitea(void)
{
	headers("X-Gitea-Event: push\n");
	CHECK_INT(parse_fixture(PROVIDER_GITEA, "gitea-push.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_PUSH);
	CHECK_STR(ev.repository, "acme/pos");
	CHECK_STR(ev.pusher, "mlopez");
	check_ref(0, PUSH_REF_BRANCH, "staging",
		  "28e1879d029cb852e4844d9c718537df08844e03",
		  "bffeb74224043ba2feb48d137756c8a9331c449a", false);

	/* Forgejo's header first. */
	headers("X-Forgejo-Event: delete\nX-Gitea-Event: push\n");
	CHECK_INT(parse_fixture(PROVIDER_GITEA, "gitea-delete.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_PUSH);
	CHECK_STR(ev.event, "delete");
	CHECK_STR(ev.pusher, "mlopez");
	CHECK_STR(ev.refs[0].ref, "refs/heads/feature/receipt-printer");
	check_ref(0, PUSH_REF_BRANCH, "feature/receipt-printer", "", "", true);
	CHECK_INT(parse_str(PROVIDER_GITEA,
			    "{\"ref\":\"v1\",\"ref_type\":\"tag\"}"),
		  0);
	CHECK_INT(ev.kind, PUSH_KIND_TAG);
	check_ref(0, PUSH_REF_TAG, "v1", "", "", true);
	CHECK_INT(parse_str(PROVIDER_GITEA,
			    "{\"ref\":\"v1\",\"ref_type\":\"pr\"}"),
		  -1);

	headers("X-Gitea-Event: create\n");
	CHECK_INT(parse_str(PROVIDER_GITEA,
			    "{\"ref\":\"x\",\"ref_type\":\"branch\"}"),
		  0);
	CHECK_INT(ev.kind, PUSH_KIND_OTHER);
	headers("X-Gogs-Event: push\n");
	CHECK_INT(parse_fixture(PROVIDER_GITEA, "gitea-push.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_PUSH);
	headers("");
	CHECK_INT(parse_fixture(PROVIDER_GITEA, "gitea-push.json"), -1);
	CHECK_STR(err.msg, "missing 'X-Forgejo-Event' header");
}

static void test_bitbucket(void)
{
	struct buf b;
	int i;

	headers("X-Event-Key: repo:push\n");
	CHECK_INT(parse_fixture(PROVIDER_BITBUCKET, "bitbucket-push.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_PUSH);
	CHECK_STR(ev.event, "repo:push");
	CHECK_STR(ev.repository, "acme/pos");
	CHECK_STR(ev.pusher, "mlopez");
	CHECK_INT(ev.nrefs, 3);
	check_ref(0, PUSH_REF_BRANCH, "main",
		  "1e8b6e3b2fe0c1d5d62b1b7a36c4f0e2a8d7c6b5",
		  "7a9c2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e", false);
	check_ref(1, PUSH_REF_TAG, "v3.1.0", "",
		  "7a9c2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e", false);
	check_ref(2, PUSH_REF_BRANCH, "feature/old-printer",
		  "3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f", "", true);
	CHECK(!ev.more_refs);

	headers("X-Event-Key: repo:refs_changed\n");
	CHECK_INT(parse_fixture(PROVIDER_BITBUCKET,
				"bitbucket-server-refs-changed.json"),
		  0);
	CHECK_INT(ev.kind, PUSH_KIND_PUSH);
	CHECK_STR(ev.repository, "ACME/pos");
	CHECK_STR(ev.pusher, "mlopez");
	CHECK_INT(ev.nrefs, 2);
	check_ref(0, PUSH_REF_BRANCH, "main",
		  "ecddabb624f6f5ba43816f5926e580a5f680a932",
		  "178864a7d521b6f5e720b386b2c2b0ef8563e0dc", false);
	check_ref(1, PUSH_REF_BRANCH, "hotfix",
		  "178864a7d521b6f5e720b386b2c2b0ef8563e0dc", ZERO, true);

	headers("X-Event-Key: diagnostics:ping\n");
	CHECK_INT(parse_str(PROVIDER_BITBUCKET, "{\"test\": true}"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_PING);
	headers("X-Event-Key: pullrequest:created\n");
	CHECK_INT(parse_str(PROVIDER_BITBUCKET, "{}"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_OTHER);

	/* More refs than kept. */
	headers("X-Event-Key: repo:push\n");
	buf_init(&b, 0);
	buf_puts(&b, "{\"push\":{\"changes\":[");
	for (i = 0; i < PUSH_REFS_MAX + 2; i++)
		buf_printf(&b, "%s{\"new\":{\"type\":\"branch\",\"name\":\"b%d\"}}",
			   i ? "," : "", i);
	buf_puts(&b, "]}}");
	CHECK_INT(parse(PROVIDER_BITBUCKET, b.data, b.len), 0);
	CHECK_INT(ev.nrefs, PUSH_REFS_MAX);
	CHECK(ev.more_refs);
	CHECK_STR(ev.refs[PUSH_REFS_MAX - 1].name, "b7");
	buf_release(&b);

	/* Mercurial-era types are skipped; broken changes are not. */
	CHECK_INT(parse_str(PROVIDER_BITBUCKET,
			    "{\"push\":{\"changes\":[{\"new\":{\"type\":"
			    "\"named_branch\",\"name\":\"x\"}}]}}"),
		  0);
	CHECK_INT(ev.kind, PUSH_KIND_OTHER);
	CHECK_INT(parse_str(PROVIDER_BITBUCKET,
			    "{\"push\":{\"changes\":[{\"new\":null}]}}"),
		  -1);
	CHECK_INT(parse_str(PROVIDER_BITBUCKET,
			    "{\"push\":{\"changes\":[{\"new\":{\"type\":"
			    "\"branch\",\"name\":\"a..b\"}}]}}"),
		  -1);
	CHECK_INT(parse_str(PROVIDER_BITBUCKET, "{\"push\":{}}"), -1);
	CHECK_STR(err.msg, "'push.changes' is missing or not a list");
}

static void test_generic(void)
{
	headers("");
	CHECK_INT(parse_str(PROVIDER_GENERIC,
			    "{\"ref\": \"refs/heads/main\", \"after\": "
			    "\"5D1B2E7C9A0F4E3B8C6D1A2F3E4B5C6D7E8F9A0B\"}"),
		  0);
	CHECK_INT(ev.kind, PUSH_KIND_PUSH);
	CHECK_STR(ev.event, "push");
	check_ref(0, PUSH_REF_BRANCH, "main", "",
		  "5d1b2e7c9a0f4e3b8c6d1a2f3e4b5c6d7e8f9a0b", false);
	CHECK_INT(parse_str(PROVIDER_GENERIC, "{\"ref\": \"release/2.0\"}"), 0);
	CHECK_STR(ev.refs[0].ref, "refs/heads/release/2.0");
	check_ref(0, PUSH_REF_BRANCH, "release/2.0", "", "", false);
	CHECK_INT(parse_str(PROVIDER_GENERIC, "{\"ref\": \"refs/tags/v1\"}"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_TAG);

	CHECK_INT(parse_str(PROVIDER_GENERIC, "{}"), -1);
	CHECK_INT(parse_str(PROVIDER_GENERIC,
			    "{\"ref\": \"main\", \"after\": \"5d1b2e7\"}"),
		  -1);
	CHECK_STR(err.msg, "'after' is not a 40-digit commit id");
	CHECK_INT(parse_str(PROVIDER_GENERIC,
			    "{\"ref\": \"main\", \"after\": \"zd1b2e7c9a0f4e3"
			    "b8c6d1a2f3e4b5c6d7e8f9a0b\"}"),
		  -1);
	CHECK_INT(parse_str(PROVIDER_GENERIC,
			    "{\"ref\": \"main\", \"after\": 5}"),
		  -1);
	CHECK_INT(parse_str(PROVIDER_GENERIC, "{\"ref\": \"-rf\"}"), -1);
	CHECK_STR(err.msg, "ref is not a valid git ref name");
	CHECK_INT(parse_str(PROVIDER_GENERIC, "{\"ref\": \"a;reboot\"}"), 0);
	CHECK_INT(parse_str(PROVIDER_GENERIC, "{\"ref\": \"$(id)\"}"), 0);
	CHECK_STR(ev.refs[0].name, "$(id)");
	CHECK_INT(parse_str(PROVIDER_GENERIC, "{\"ref\": \"a b\"}"), -1);
	CHECK_INT(parse_str(PROVIDER_GENERIC, "{\"ref\": \"main\\n\"}"), -1);
	CHECK_INT(parse_str(PROVIDER_GENERIC, "{\"ref\": \"refs/heads/../x\"}"),
		  -1);
}

static void test_stripe_sentry(void)
{
	headers("");
	CHECK_INT(parse_fixture(PROVIDER_STRIPE, "stripe-event.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_OTHER);
	CHECK_STR(ev.delivery, "evt_123");
	CHECK_STR(ev.event, "customer.created");
	CHECK_INT(ev.nrefs, 0);
	CHECK_INT(parse_str(PROVIDER_STRIPE, "{\"type\":\"invoice.paid\"}"), -1);
	CHECK_STR(err.msg, "'id' is missing or not a string");
	CHECK_INT(parse_str(PROVIDER_STRIPE,
			    "{\"id\":\"evt 1\",\"type\":\"invoice.paid\"}"),
		  -1);
	CHECK_INT(parse_str(PROVIDER_STRIPE, "{\"id\":\"evt_1\",\"type\":\"\"}"),
		  -1);
	CHECK_INT(parse_str(PROVIDER_STRIPE,
			    "{\"id\":\"evt_1\",\"type\":\"a\",\"object\":"
			    "\"charge\"}"),
		  -1);

	headers("Sentry-Hook-Resource: issue\n");
	CHECK_INT(parse_fixture(PROVIDER_SENTRY, "sentry-issue.json"), 0);
	CHECK_INT(ev.kind, PUSH_KIND_OTHER);
	CHECK_STR(ev.event, "issue");
	CHECK_STR(ev.action, "created");
	CHECK_STR(ev.delivery, "d-1");
	CHECK_INT(parse_str(PROVIDER_SENTRY, "{}"), 0);
	CHECK_STR(ev.action, "");
	CHECK_INT(parse_str(PROVIDER_SENTRY, "{\"action\":\"rm -rf\"}"), -1);
	headers("");
	CHECK_INT(parse_fixture(PROVIDER_SENTRY, "sentry-issue.json"), -1);
	CHECK_STR(err.msg, "missing 'Sentry-Hook-Resource' header");
}

static void test_malformed(void)
{
	static const char *const bodies[] = {
		"not json",
		"{\"ref\": \"refs/heads/main\"",
		"[1, 2]",
		"\"refs/heads/main\"",
		"{\"ref\": \"refs/heads/main\", \"ref\": \"refs/heads/evil\"}",
		"{\"ref\": \"\xff\xfe\"}",
		"{\"ref\": \"refs/heads/ma\\u0000in\"}",
		"{} {}",
	};
	struct verify_result vr = {0};
	struct wh_request req;
	unsigned char *big;
	size_t i;

	headers("X-GitHub-Event: push\n");
	for (i = 0; i < BERTH_ARRAY_LEN(bodies); i++) {
		CHECK_INT(parse_str(PROVIDER_GITHUB, bodies[i]), -1);
		CHECK(err.msg[0] != '\0');
	}
	/* The message locates the error without quoting the body. */
	CHECK_INT(parse_str(PROVIDER_GITHUB, "{\"a\": secret-text}"), -1);
	CHECK(strstr(err.msg, "secret") == NULL);
	CHECK(strstr(err.msg, "line 1, column") != NULL);
	CHECK_INT(parse(PROVIDER_GITHUB, "", 0), -1);

	/* Only verified requests are read. */
	vr.provider = PROVIDER_GITHUB;
	vr.status = VERIFY_BAD_SIGNATURE;
	wh_request_init(&req, &hdrs, "{}", 2, 0);
	CHECK_INT(push_parse(&ev, &vr, &req, &err), -1);
	CHECK_STR(err.msg, "the request was not verified");

	big = xcalloc(PUSH_BODY_MAX + 1, 1);
	CHECK_INT(parse(PROVIDER_GITHUB, big, PUSH_BODY_MAX + 1),
		  BERTH_ETOOBIG);
	free(big);
}

static void test_text(void)
{
	char body[1024];
	size_t n;
	int i;

	/* Display strings: control characters replaced, cut at a character
	 * boundary. */
	headers("X-GitHub-Event: push\n");
	CHECK_INT(parse_str(PROVIDER_GITHUB,
			    "{\"ref\":\"refs/heads/x\",\"pusher\":{\"name\":"
			    "\"\\u001b[31mevil\\nname\\u007f\"}}"),
		  0);
	CHECK_STR(ev.pusher, "?[31mevil?name?");
	n = (size_t)snprintf(body, sizeof(body),
			     "{\"ref\":\"refs/heads/x\",\"repository\":"
			     "{\"full_name\":\"a");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "\xc3\xa9");
	snprintf(body + n, sizeof(body) - n, "\"}}");
	CHECK_INT(parse_str(PROVIDER_GITHUB, body), 0);
	CHECK_INT(strlen(ev.repository), 127);
	CHECK(memcmp(ev.repository + 125, "\xc3\xa9", 2) == 0);
	n = (size_t)snprintf(body, sizeof(body),
			     "{\"ref\":\"refs/heads/x\",\"repository\":"
			     "{\"full_name\":\"");
	for (i = 0; i < 50; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
				      "\xf0\x9f\x9a\xa2");
	snprintf(body + n, sizeof(body) - n, "\"}}");
	CHECK_INT(parse_str(PROVIDER_GITHUB, body), 0);
	CHECK_INT(strlen(ev.repository), 124);
}

static void test_ref_names(void)
{
	static const char *const good[] = {
		"refs/heads/main", "refs/heads/feature/x-1", "refs/tags/v1.0",
		"refs/heads/a.b", "refs/heads/\xc3\xbc", "refs/heads/a@b",
		"refs/heads/x.lockx", "refs/notes/commits",
	};
	static const char *const bad[] = {
		"", "main", "heads/main", "refs/heads/", "refs/heads//a",
		"refs/heads/a/", "refs/heads/a..b", "refs/heads/.a",
		"refs/heads/a/.b", "refs/heads/a.lock", "refs/heads/a.lock/b",
		"refs/heads/a.", "refs/heads/a b", "refs/heads/a~1",
		"refs/heads/a^", "refs/heads/a:b", "refs/heads/a?",
		"refs/heads/a*", "refs/heads/a[", "refs/heads/a\\b",
		"refs/heads/a@{1}", "refs/heads/-x", "refs/heads/HEAD",
		"refs/heads/a\tb", "refs/heads/a\x7f", "refs/heads/\x1b[m",
		"/refs/heads/a",
	};
	char longref[PUSH_REF_MAX + 1];
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(good); i++) {
		CHECK(push_ref_valid(good[i]));
		if (!push_ref_valid(good[i]))
			fprintf(stderr, "  rejected '%s'\n", good[i]);
	}
	for (i = 0; i < BERTH_ARRAY_LEN(bad); i++) {
		CHECK(!push_ref_valid(bad[i]));
		if (push_ref_valid(bad[i]))
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
	}
	memcpy(longref, "refs/heads/", 11);
	memset(longref + 11, 'a', sizeof(longref) - 12);
	longref[PUSH_REF_MAX - 1] = '\0';
	CHECK(push_ref_valid(longref));
	longref[PUSH_REF_MAX - 1] = 'a';
	longref[PUSH_REF_MAX] = '\0';
	CHECK(!push_ref_valid(longref));
	CHECK_STR(push_kind_name(PUSH_KIND_TAG), "tag");
	CHECK_STR(push_kind_name((enum push_kind)42), "unknown");
}

int main(void)
{
	test_github();
	test_github_form();
	test_gitlab();
	test_gitea();
	test_bitbucket();
	test_generic();
	test_stripe_sentry();
	test_malformed();
	test_text();
	test_ref_names();
	wh_headers_release(&hdrs);
	return check_done("test_push");
}
