/*
 * push.c — reads a verified delivery: which refs moved, for the forges and
 * the generic endpoint; the event id and type, for Stripe; the resource and
 * action, for Sentry. Every string taken from the payload is checked (refs
 * by git's rules, commit ids as 40 hex digits, names as short tokens) or
 * made harmless (display text) before it leaves this file: they are data
 * to log and compare, never anything to run.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "webhooks.h"

static const char zero_sha[] = "0000000000000000000000000000000000000000";

const char *push_kind_name(enum push_kind k)
{
	static const char *const names[] = {
		[PUSH_KIND_PUSH] = "push",
		[PUSH_KIND_TAG] = "tag",
		[PUSH_KIND_PING] = "ping",
		[PUSH_KIND_OTHER] = "other",
	};

	if ((size_t)k >= BERTH_ARRAY_LEN(names))
		return "unknown";
	return names[k];
}

/* One component of a ref, as check-ref-format wants it. */
static bool ref_component_ok(const char *c, size_t n)
{
	if (n == 0 || c[0] == '.')
		return false;
	return !(n >= 5 && memcmp(c + n - 5, ".lock", 5) == 0);
}

bool push_ref_valid(const char *ref)
{
	size_t len = strnlen(ref, PUSH_REF_MAX), i, start = 0;

	if (len == PUSH_REF_MAX || strncmp(ref, "refs/", 5) != 0 ||
	    ref[len - 1] == '.' || strstr(ref, "..") != NULL ||
	    strstr(ref, "@{") != NULL)
		return false;
	for (i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)ref[i];

		if (c == '/' || c == '\0') {
			if (!ref_component_ok(ref + start, i - start))
				return false;
			start = i + 1;
		} else if (c < 0x20 || c == 0x7f || strchr(" ~^:?*[\\", c)) {
			return false;
		}
	}
	if (strncmp(ref, "refs/heads/", 11) == 0)
		return ref[11] != '-' && strcmp(ref + 11, "HEAD") != 0;
	return true;
}

const struct push_ref *push_find_branch(const struct push_event *ev,
					const char *branch)
{
	size_t i;

	for (i = 0; i < ev->nrefs; i++)
		if (ev->refs[i].type == PUSH_REF_BRANCH &&
		    strcmp(ev->refs[i].name, branch) == 0)
			return &ev->refs[i];
	return NULL;
}

/* The longest prefix of (s, n) that does not end inside a UTF-8 sequence
 * (jansson hands out valid UTF-8 only). */
static size_t utf8_prefix(const char *s, size_t n)
{
	size_t i = n, need;
	unsigned char lead;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || (unsigned char)s[i - 1] < 0x80)
		return i == 0 ? 0 : n;
	lead = (unsigned char)s[i - 1];
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	return n - (i - 1) >= need ? n : i - 1;
}

/* Display text: control characters become '?', the rest is cut to fit at
 * a character boundary. */
static void get_text_bytes(char *out, size_t size, const char *s, size_t n)
{
	size_t i;

	if (n >= size)
		n = utf8_prefix(s, size - 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
	}
	out[n] = '\0';
}

/* get_text_bytes of a string value; anything else gives "". */
static void get_text(char *out, size_t size, const struct jval *v)
{
	out[0] = '\0';
	if (jval_is(v, JVAL_STRING))
		get_text_bytes(out, size, v->s, v->n);
}

/* A short name made of letters, digits and the characters in extra. */
static bool word_ok(const char *s, size_t n, size_t size, const char *extra)
{
	size_t i;

	if (n == 0 || n >= size)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') ||
		      (c != '\0' && strchr(extra, c) != NULL)))
			return false;
	}
	return true;
}

/* Copies a JSON string that word_ok accepts into out (size bytes). A
 * missing value is an error when required, "" otherwise. */
static int get_word(char *out, size_t size, const struct jval *v, bool required,
		    const char *extra, const char *what, struct berr *err)
{
	size_t n;

	out[0] = '\0';
	if (v == NULL && !required)
		return 0;
	if (!jval_is(v, JVAL_STRING))
		return berr_set(err, "'%s' is missing or not a string", what);
	n = v->n;
	if (!word_ok(v->s, n, size, extra))
		return berr_set(err, "'%s' is not 1 to %zu characters of "
				     "[A-Za-z0-9%s]", what, size - 1, extra);
	memcpy(out, v->s, n + 1);
	return 0;
}

/* A commit id: absent, null or "" give "", else 40 hex digits, stored in
 * lower case. */
static int get_sha(char out[41], const struct jval *v, const char *what,
		   struct berr *err)
{
	const char *s;
	size_t i;

	out[0] = '\0';
	if (v == NULL || jval_is(v, JVAL_NULL) ||
	    (jval_is(v, JVAL_STRING) && v->n == 0))
		return 0;
	if (!jval_is(v, JVAL_STRING) || v->n != 40)
		return berr_set(err, "'%s' is not a 40-digit commit id", what);
	s = v->s;
	for (i = 0; i < 40; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return berr_set(err, "'%s' is not a 40-digit commit id",
					what);
		out[i] = c;
	}
	out[40] = '\0';
	return 0;
}

/* v[path], where path names nested object keys separated by dots. */
static const struct jval *jget(const struct jval *v, const char *path)
{
	return jval_path(v, path);
}

/* Records a ref the delivery changed: its full name (len bytes, not
 * necessarily NUL-terminated) and commit ids; deleted also when after is
 * all zeros. Past PUSH_REFS_MAX refs only more_refs is set. */
static int add_ref(struct push_event *out, const char *ref, size_t len,
		   const struct jval *before, const struct jval *after,
		   bool deleted, struct berr *err)
{
	struct push_ref *r;

	if (out->nrefs == PUSH_REFS_MAX) {
		out->more_refs = true;
		return 0;
	}
	r = &out->refs[out->nrefs];
	memset(r, 0, sizeof(*r));
	if (len >= PUSH_REF_MAX)
		return berr_set(err, "ref is longer than %d bytes",
				PUSH_REF_MAX - 1);
	memcpy(r->ref, ref, len);
	r->ref[len] = '\0';
	if (strlen(r->ref) != len || !push_ref_valid(r->ref))
		return berr_set(err, "ref is not a valid git ref name");
	if (strncmp(r->ref, "refs/heads/", 11) == 0) {
		r->type = PUSH_REF_BRANCH;
		memcpy(r->name, r->ref + 11, len - 11 + 1);
	} else if (strncmp(r->ref, "refs/tags/", 10) == 0) {
		r->type = PUSH_REF_TAG;
		memcpy(r->name, r->ref + 10, len - 10 + 1);
	} else {
		r->type = PUSH_REF_OTHER;
		memcpy(r->name, r->ref, len + 1);
	}
	if (get_sha(r->before, before, "before", err) != 0 ||
	    get_sha(r->after, after, "after", err) != 0)
		return -1;
	r->deleted = deleted || strcmp(r->after, zero_sha) == 0;
	out->nrefs++;
	return 0;
}

/* add_ref for a JSON string holding a full ref name. */
static int add_ref_json(struct push_event *out, const struct jval *ref,
			const struct jval *before, const struct jval *after,
			bool deleted, struct berr *err)
{
	if (!jval_is(ref, JVAL_STRING))
		return berr_set(err, "'ref' is missing or not a string");
	return add_ref(out, ref->s, ref->n,
		       before, after, deleted, err);
}

/* add_ref for a short name under prefix ("refs/heads/"). */
static int add_short_ref(struct push_event *out, const char *prefix,
			 const struct jval *name, const struct jval *before,
			 const struct jval *after, bool deleted,
			 struct berr *err)
{
	char ref[PUSH_REF_MAX];
	int n;

	if (!jval_is(name, JVAL_STRING) || name->n >= sizeof(ref))
		return berr_set(err, "ref name is missing, not a string or "
				     "too long");
	n = snprintf(ref, sizeof(ref), "%s%s", prefix, name->s);
	if (n < 0 || (size_t)n >= sizeof(ref))
		return berr_set(err, "ref is longer than %d bytes",
				PUSH_REF_MAX - 1);
	return add_ref(out, ref, (size_t)n, before, after, deleted, err);
}

/* The event name from the first of names present: printable ASCII. */
static int event_header(struct push_event *out, const struct wh_request *req,
			const char *const *names, struct berr *err)
{
	const char *first = *names, *v;
	size_t n, i;
	int rc;

	for (; *names != NULL; names++) {
		rc = verify_header(&v, &n, req, *names);
		if (rc == 0)
			continue;
		for (i = 0; rc > 0 && i < n; i++)
			if (v[i] < 0x20 || v[i] > 0x7e)
				rc = -1;
		if (rc < 0 || n == 0 || n >= sizeof(out->event))
			return berr_set(err, "'%s' is not 1 to %zu printable "
					     "characters", *names,
					sizeof(out->event) - 1);
		memcpy(out->event, v, n);
		out->event[n] = '\0';
		return 0;
	}
	return berr_set(err, "missing '%s' header", first);
}

static int parse_github(struct push_event *out, const struct jval *root,
			const struct wh_request *req, struct berr *err)
{
	static const char *const names[] = {"X-GitHub-Event", NULL};

	if (event_header(out, req, names, err) != 0)
		return -1;
	get_text(out->repository, sizeof(out->repository),
		 jget(root, "repository.full_name"));
	if (strcmp(out->event, "ping") == 0) {
		out->kind = PUSH_KIND_PING;
		return 0;
	}
	if (strcmp(out->event, "push") != 0)
		return 0;
	out->kind = PUSH_KIND_PUSH;
	get_text(out->pusher, sizeof(out->pusher), jget(root, "pusher.name"));
	return add_ref_json(out, jget(root, "ref"), jget(root, "before"),
			    jget(root, "after"),
			    jval_is(jget(root, "deleted"), JVAL_TRUE), err);
}

static int parse_gitlab(struct push_event *out, const struct jval *root,
			const struct wh_request *req, struct berr *err)
{
	static const char *const names[] = {"X-Gitlab-Event", NULL};
	const char *kind;

	if (event_header(out, req, names, err) != 0)
		return -1;
	get_text(out->repository, sizeof(out->repository),
		 jget(root, "project.path_with_namespace"));
	/* System hooks carry every event under one header. */
	kind = jval_str(jget(root, "object_kind"));
	if (!(strcmp(out->event, "Push Hook") == 0 ||
	      strcmp(out->event, "Tag Push Hook") == 0 ||
	      (strcmp(out->event, "System Hook") == 0 && kind != NULL &&
	       (strcmp(kind, "push") == 0 || strcmp(kind, "tag_push") == 0))))
		return 0;
	out->kind = PUSH_KIND_PUSH;
	get_text(out->pusher, sizeof(out->pusher), jget(root, "user_username"));
	if (out->pusher[0] == '\0')
		get_text(out->pusher, sizeof(out->pusher),
			 jget(root, "user_name"));
	return add_ref_json(out, jget(root, "ref"), jget(root, "before"),
			    jget(root, "after"), false, err);
}

static int parse_gitea(struct push_event *out, const struct jval *root,
		       const struct wh_request *req, struct berr *err)
{
	static const char *const names[] = {"X-Forgejo-Event", "X-Gitea-Event",
					    "X-Gogs-Event", NULL};
	const char *type;

	if (event_header(out, req, names, err) != 0)
		return -1;
	get_text(out->repository, sizeof(out->repository),
		 jget(root, "repository.full_name"));
	get_text(out->pusher, sizeof(out->pusher), jget(root, "pusher.login"));
	if (out->pusher[0] == '\0')
		get_text(out->pusher, sizeof(out->pusher),
			 jget(root, "sender.login"));
	if (strcmp(out->event, "push") == 0) {
		out->kind = PUSH_KIND_PUSH;
		return add_ref_json(out, jget(root, "ref"),
				    jget(root, "before"), jget(root, "after"),
				    false, err);
	}
	/* A deleted branch or tag comes as its own event, with a short name;
	 * creations also come as pushes, so "create" needs nothing. */
	if (strcmp(out->event, "delete") != 0)
		return 0;
	type = jval_str(jget(root, "ref_type"));
	if (type == NULL ||
	    (strcmp(type, "branch") != 0 && strcmp(type, "tag") != 0))
		return berr_set(err, "'ref_type' is not \"branch\" or \"tag\"");
	out->kind = PUSH_KIND_PUSH;
	return add_short_ref(out, type[0] == 'b' ? "refs/heads/" : "refs/tags/",
			     jget(root, "ref"), NULL, NULL, true, err);
}

/* Bitbucket Cloud's repo:push: push.changes[], each with the old and new
 * state of one branch or tag (new is null for a deletion). */
static int bitbucket_cloud(struct push_event *out, const struct jval *root,
			   struct berr *err)
{
	const struct jval *changes = jget(root, "push.changes"), *c;
	size_t i;

	get_text(out->repository, sizeof(out->repository),
		 jget(root, "repository.full_name"));
	get_text(out->pusher, sizeof(out->pusher),
		 jget(root, "actor.nickname"));
	if (out->pusher[0] == '\0')
		get_text(out->pusher, sizeof(out->pusher),
			 jget(root, "actor.display_name"));
	if (!jval_is(changes, JVAL_ARRAY))
		return berr_set(err, "'push.changes' is missing or not a list");
	for (i = 0, c = changes + 1; i < changes->n; i++, c = jval_next(c)) {
		const struct jval *nw = jget(c, "new"), *old = jget(c, "old");
		const struct jval *cur = jval_is(nw, JVAL_OBJECT) ? nw : old;
		const char *type = jval_str(jget(cur, "type"));
		const char *prefix;

		if (!jval_is(cur, JVAL_OBJECT))
			return berr_set(err, "a change has neither 'new' nor "
					     "'old'");
		if (type != NULL && strcmp(type, "branch") == 0)
			prefix = "refs/heads/";
		else if (type != NULL && strcmp(type, "tag") == 0)
			prefix = "refs/tags/";
		else
			continue;
		if (add_short_ref(out, prefix, jget(cur, "name"),
				  jget(old, "target.hash"),
				  jget(nw, "target.hash"),
				  !jval_is(nw, JVAL_OBJECT),
				  err) != 0)
			return -1;
	}
	return 0;
}

/* Bitbucket Data Center's repo:refs_changed: changes[] with full ref
 * names, fromHash and toHash. */
static int bitbucket_server(struct push_event *out, const struct jval *root,
			    struct berr *err)
{
	const struct jval *changes = jget(root, "changes"), *c;
	const char *key = jval_str(jget(root, "repository.project.key"));
	const char *slug = jval_str(jget(root, "repository.slug"));
	char full[2 * sizeof(out->repository)];
	size_t i;

	if (key != NULL && slug != NULL) {
		/* Even cut short, it holds more than get_text_bytes keeps. */
		snprintf(full, sizeof(full), "%s/%s", key, slug);
		get_text_bytes(out->repository, sizeof(out->repository), full,
			       strlen(full));
	}
	get_text(out->pusher, sizeof(out->pusher), jget(root, "actor.name"));
	if (!jval_is(changes, JVAL_ARRAY))
		return berr_set(err, "'changes' is missing or not a list");
	for (i = 0, c = changes + 1; i < changes->n; i++, c = jval_next(c)) {
		const char *type = jval_str(jget(c, "type"));

		if (add_ref_json(out, jget(c, "refId"), jget(c, "fromHash"),
				 jget(c, "toHash"),
				 type != NULL && strcmp(type, "DELETE") == 0,
				 err) != 0)
			return -1;
	}
	return 0;
}

static int parse_bitbucket(struct push_event *out, const struct jval *root,
			   const struct wh_request *req, struct berr *err)
{
	static const char *const names[] = {"X-Event-Key", NULL};

	if (event_header(out, req, names, err) != 0)
		return -1;
	if (strcmp(out->event, "diagnostics:ping") == 0) {
		out->kind = PUSH_KIND_PING;
		return 0;
	}
	if (strcmp(out->event, "repo:push") == 0) {
		out->kind = PUSH_KIND_PUSH;
		return bitbucket_cloud(out, root, err);
	}
	if (strcmp(out->event, "repo:refs_changed") == 0) {
		out->kind = PUSH_KIND_PUSH;
		return bitbucket_server(out, root, err);
	}
	return 0;
}

/* {"ref": "refs/heads/main", "after": "<sha>"}; a bare "main" is taken
 * as a branch name. */
static int parse_generic(struct push_event *out, const struct jval *root,
			 struct berr *err)
{
	const struct jval *ref = jget(root, "ref");

	snprintf(out->event, sizeof(out->event), "push");
	out->kind = PUSH_KIND_PUSH;
	if (jval_is(ref, JVAL_STRING) &&
	    strncmp(ref->s, "refs/", 5) != 0)
		return add_short_ref(out, "refs/heads/", ref,
				     jget(root, "before"), jget(root, "after"),
				     false, err);
	return add_ref_json(out, ref, jget(root, "before"),
			    jget(root, "after"), false, err);
}

static int parse_stripe(struct push_event *out, const struct jval *root,
			struct berr *err)
{
	const char *object = jval_str(jget(root, "object"));

	if (object != NULL && strcmp(object, "event") != 0)
		return berr_set(err, "'object' is not \"event\"");
	if (get_word(out->delivery, VERIFY_ID_MAX + 1, jget(root, "id"), true,
		     "_", "id", err) != 0)
		return -1;
	return get_word(out->event, sizeof(out->event), jget(root, "type"),
			true, "_.", "type", err);
}

static int parse_sentry(struct push_event *out, const struct jval *root,
			const struct wh_request *req, struct berr *err)
{
	static const char *const names[] = {"Sentry-Hook-Resource", NULL};

	if (event_header(out, req, names, err) != 0)
		return -1;
	return get_word(out->action, sizeof(out->action), jget(root, "action"),
			false, "_.-", "action", err);
}

/* The "payload" field of an application/x-www-form-urlencoded body,
 * percent-decoded into out. */
static int form_payload(struct buf *out, const unsigned char *body,
			size_t len, struct berr *err)
{
	const char *p = (const char *)body, *end, *amp;
	size_t i, n;

	if (len == 0)
		return berr_set(err, "form body has no 'payload' field");
	for (end = p + len;; p = amp + 1) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp - p >= 8 && memcmp(p, "payload=", 8) == 0)
			break;
		if (amp == end)
			return berr_set(err, "form body has no 'payload' field");
	}
	n = (size_t)(amp - p);
	for (i = 8; i < n; i++) {
		int hi, lo;

		if (p[i] != '%') {
			buf_putc(out, p[i] == '+' ? ' ' : p[i]);
			continue;
		}
		if (i + 2 >= n || (hi = strnum_hex_digit(p[i + 1])) < 0 ||
		    (lo = strnum_hex_digit(p[i + 2])) < 0)
			return berr_set(err, "form body has a bad %%-escape");
		buf_putc(out, (char)(hi << 4 | lo));
		i += 2;
	}
	return 0;
}

/* Reads the body (or a form body's payload field) into d: 0, or -1 with
 * err set and d empty. payload (empty, its limit set) receives a form
 * body's decoded payload, which d's numbers then point into. */
static int load_body(struct jdoc *d, struct buf *payload,
		     const struct wh_request *req, struct berr *err)
{
	static const char form[] = "application/x-www-form-urlencoded";
	const char *ct, *data = (const char *)req->body;
	size_t ctlen, len = req->len;
	struct berr jerr;

	memset(d, 0, sizeof(*d));
	if (verify_header(&ct, &ctlen, req, "Content-Type") > 0 &&
	    ctlen >= sizeof(form) - 1 &&
	    strncasecmp(ct, form, sizeof(form) - 1) == 0) {
		if (form_payload(payload, req->body, req->len, err) != 0)
			return -1;
		data = buf_str(payload);
		len = payload->len;
	}
	if (len == 0)
		return berr_set(err, "body is empty");
	if (jdoc_parse(d, data, len, &jerr) != 0)
		return berr_set(err, "body is not valid JSON: %s", jerr.msg);
	if (d->vals[0].type != JVAL_OBJECT) {
		jdoc_release(d);
		return berr_set(err, "body is not a JSON object");
	}
	return 0;
}

/* Once the refs are known, a push of tags only is a tag push, and a push
 * that moved nothing we recognise is something else. */
static void push_settle_kind(struct push_event *out)
{
	bool tag = false;
	size_t i;

	for (i = 0; i < out->nrefs; i++) {
		if (out->refs[i].type == PUSH_REF_BRANCH)
			return;
		tag |= out->refs[i].type == PUSH_REF_TAG;
	}
	out->kind = tag ? PUSH_KIND_TAG : PUSH_KIND_OTHER;
}

int push_parse(struct push_event *out, const struct verify_result *vr,
	       const struct wh_request *req, struct berr *err)
{
	struct buf payload;
	struct jdoc doc;
	const struct jval *root;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->provider = vr->provider;
	out->kind = PUSH_KIND_OTHER;
	if (vr->status != VERIFY_OK)
		return berr_set(err, "the request was not verified");
	if (req->len > PUSH_BODY_MAX) {
		berr_set(err, "body is larger than %zu bytes", PUSH_BODY_MAX);
		return BERTH_ETOOBIG;
	}
	snprintf(out->delivery, sizeof(out->delivery), "%s", vr->delivery);
	buf_init(&payload, req->len + 1);
	if (load_body(&doc, &payload, req, err) != 0)
		goto out;
	root = doc.vals;
	switch (vr->provider) {
	case PROVIDER_GITHUB:
		rc = parse_github(out, root, req, err);
		break;
	case PROVIDER_GITLAB:
		rc = parse_gitlab(out, root, req, err);
		break;
	case PROVIDER_GITEA:
		rc = parse_gitea(out, root, req, err);
		break;
	case PROVIDER_BITBUCKET:
		rc = parse_bitbucket(out, root, req, err);
		break;
	case PROVIDER_GENERIC:
		rc = parse_generic(out, root, err);
		break;
	case PROVIDER_STRIPE:
		rc = parse_stripe(out, root, err);
		break;
	case PROVIDER_SENTRY:
		rc = parse_sentry(out, root, req, err);
		break;
	case PROVIDER_COUNT:
		berr_set(err, "unknown webhook provider");
		break;
	}
	if (rc == 0 && out->kind == PUSH_KIND_PUSH)
		push_settle_kind(out);
	jdoc_release(&doc);
out:
	buf_release(&payload);
	return rc;
}
