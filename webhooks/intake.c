/*
 * intake.c — the decision behind every webhook and API request that
 * changes something: verify, parse, deduplicate, decide, record. The HTTP
 * layer (server.c) only transports; the daemon only runs what it is handed
 * (server_ops.enqueue). Nothing here blocks or runs a command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "webhooks.h"

#define API_BODY_MAX ((size_t)64 << 10)

void intake_result_release(struct intake_result *r)
{
	if (r == NULL)
		return;
	buf_release(&r->body);
	free(r->jobs);
	r->jobs = NULL;
	r->njobs = 0;
}

/* A new, zeroed job at the end of out's list. */
static struct server_job *add_job(struct intake_result *out)
{
	struct server_job *j;

	if (out->jobs == NULL)
		out->jobs = xcalloc(INBOX_ENVS_MAX, sizeof(*out->jobs));
	j = &out->jobs[out->njobs++];
	memset(j, 0, sizeof(*j));
	return j;
}

/*
 * Replies are short JSON objects written straight into out->body:
 * reply_begin, then members, then reply_end. A string member whose value
 * is NULL is written as null.
 */
static struct buf *reply_begin(struct intake_result *out, int status,
			       const char *result)
{
	out->status = status;
	out->result = result;
	buf_reset(&out->body);
	buf_putc(&out->body, '{');
	return &out->body;
}

static void put_key(struct buf *b, const char *key)
{
	if (b->len > 1)
		buf_putc(b, ',');
	buf_put_json_string(b, key);
	buf_putc(b, ':');
}

static void put_string(struct buf *b, const char *key, const char *value)
{
	put_key(b, key);
	if (value != NULL)
		buf_put_json_string(b, value);
	else
		buf_puts(b, "null");
}

static void put_true(struct buf *b, const char *key)
{
	put_key(b, key);
	buf_puts(b, "true");
}

static void reply_end(struct buf *b)
{
	buf_puts(b, "}\n");
}

void intake_reply_error(struct intake_result *out, int status,
			const char *result, const char *msg)
{
	struct buf *b = reply_begin(out, status, result);

	put_string(b, "error", msg);
	reply_end(b);
}

/* {"<first>": first_value, "delivery": delivery} */
static void reply_pair(struct intake_result *out, int status,
		       const char *result, const char *first,
		       const char *first_value, const char *delivery)
{
	struct buf *b = reply_begin(out, status, result);

	if (first_value != NULL)
		put_string(b, first, first_value);
	else
		put_true(b, first);
	put_string(b, "delivery", delivery);
	reply_end(b);
}

static bool secrets_usable(const struct verify_secrets *s)
{
	return s->secret != NULL || s->token != NULL;
}

/* Appends the record; on failure the reply becomes a 503 (the sender
 * retries) and false is returned. */
static bool store(struct intake_result *out, struct inbox *ib,
		  const struct inbox_delivery *d, uint64_t *seq)
{
	struct berr err;

	if (inbox_append(seq, ib, d, strnum_now_ms() / 1000, &err) != 0) {
		log_error("msg=\"cannot store delivery\" provider=%s error=\"%s\"",
			  d->provider, err.msg);
		intake_reply_error(out, 503, "store_failed",
				   "cannot store the delivery; retry later");
		return false;
	}
	out->durable = true;
	out->seq = *seq;
	return true;
}

static const char *or_null(const char *s)
{
	return s != NULL && s[0] ? s : NULL;
}

/* A push: which environments it queues, or why none. */
static void decide_push(struct intake_result *out, const struct config *cfg,
			struct inbox *ib, const struct push_event *ev)
{
	const char *envs[INBOX_ENVS_MAX];
	const char *branch = NULL, *after = NULL, *off_env = NULL;
	const char *provider = config_provider_name(ev->provider);
	struct inbox_delivery d;
	char reason[160];
	bool any_branch = false, deleted = false;
	size_t i, n = 0;
	uint64_t seq;
	struct buf *b;

	for (i = 0; i < ev->nrefs; i++) {
		const struct push_ref *r = &ev->refs[i];
		const struct env_config *e = NULL;

		if (r->type != PUSH_REF_BRANCH)
			continue;
		any_branch = true;
		if (r->deleted) {
			deleted = true;
			continue;
		}
		while ((e = config_env_for_branch(cfg, r->name, e)) != NULL) {
			size_t k;
			bool dup = false;

			if (!e->auto_deploy) {
				off_env = e->name;
				continue;
			}
			for (k = 0; k < n; k++)
				dup |= strcmp(envs[k], e->name) == 0;
			if (dup || n == INBOX_ENVS_MAX)
				continue;
			envs[n++] = e->name;
			if (branch == NULL) {
				branch = r->name;
				after = r->after;
			}
		}
	}
	memset(&d, 0, sizeof(d));
	d.provider = provider;
	d.delivery = ev->delivery;
	d.event = ev->event;
	if (n == 0) {
		const char *first = ev->nrefs ? ev->refs[0].name : "";

		if (off_env != NULL)
			snprintf(reason, sizeof(reason),
				 "auto_deploy is off for environment '%s'",
				 off_env);
		else if (!any_branch)
			snprintf(reason, sizeof(reason), "no branch was pushed");
		else if (deleted)
			snprintf(reason, sizeof(reason), "branch deleted");
		else
			snprintf(reason, sizeof(reason),
				 "no environment tracks branch '%.100s'", first);
		d.status = INBOX_IGNORED;
		d.reason = reason;
		d.branch = ev->nrefs ? ev->refs[0].name : NULL;
		d.after = ev->nrefs ? ev->refs[0].after : NULL;
		if (store(out, ib, &d, &seq))
			reply_pair(out, 200, "ignored", "ignored", reason,
				   ev->delivery);
		return;
	}
	d.status = INBOX_QUEUED;
	d.branch = branch;
	d.after = after;
	d.envs = envs;
	d.nenvs = n;
	if (!store(out, ib, &d, &seq))
		return;
	b = reply_begin(out, 202, "queued");
	put_string(b, "delivery", ev->delivery);
	put_string(b, "environment", envs[0]);
	put_key(b, "environments");
	for (i = 0; i < n; i++) {
		struct server_job *j = add_job(out);

		snprintf(j->env, sizeof(j->env), "%s", envs[i]);
		j->kind = QUEUED_DEPLOY;
		snprintf(j->trigger, sizeof(j->trigger), "webhook:%s:%s",
			 provider, ev->delivery);
		if (after != NULL && strnum_is_sha(after))
			memcpy(j->hint, after, 41);
		j->seq = seq;
		buf_putc(b, i == 0 ? '[' : ',');
		buf_put_json_string(b, envs[i]);
	}
	buf_putc(b, ']');
	put_string(b, "commit", or_null(after));
	reply_end(b);
}

void intake_webhook(struct intake_result *out, const struct server_config *sc,
		    struct inbox *ib, enum webhook_provider p,
		    const struct wh_request *req)
{
	const struct verify_secrets *secrets = &sc->secrets[p];
	const char *provider = config_provider_name(p);
	struct verify_result vr;
	struct push_event ev;
	struct inbox_delivery d;
	struct berr err;
	uint64_t seq;
	struct buf *b;
	char reason[160];

	memset(out, 0, sizeof(*out));
	if (!sc->cfg->webhooks[p].enabled || !secrets_usable(secrets)) {
		intake_reply_error(out, 404, "not_found",
				   "this webhook provider is not configured");
		return;
	}
	if (verify_request(&vr, p, req, secrets, &err) != 0) {
		if (vr.status == VERIFY_NO_SECRET) {
			intake_reply_error(out, 404, "not_found",
					   "this webhook provider is not "
					   "configured");
			return;
		}
		log_warn("msg=\"webhook refused\" provider=%s reason=%s error=\"%s\"",
			 provider, verify_status_name(vr.status), err.msg);
		b = reply_begin(out, 401, verify_status_name(vr.status));
		put_string(b, "error", "unauthorized");
		put_string(b, "reason", verify_status_name(vr.status));
		reply_end(b);
		return;
	}
	if (push_parse(&ev, &vr, req, &err) != 0) {
		log_warn("msg=\"webhook body refused\" provider=%s error=\"%s\"",
			 provider, err.msg);
		intake_reply_error(out, 400, "bad_request", err.msg);
		return;
	}
	snprintf(out->delivery, sizeof(out->delivery), "%s", ev.delivery);
	if (inbox_seen(ib, provider, ev.delivery)) {
		reply_pair(out, 200, "duplicate", "duplicate", NULL,
			   ev.delivery);
		return;
	}
	memset(&d, 0, sizeof(d));
	d.provider = provider;
	d.delivery = ev.delivery;
	d.event = ev.event;
	if (p == PROVIDER_STRIPE || p == PROVIDER_SENTRY) {
		d.status = INBOX_STORED;
		if (store(out, ib, &d, &seq)) {
			b = reply_begin(out, 200, "stored");
			put_true(b, "stored");
			put_string(b, "delivery", ev.delivery);
			put_string(b, "event", ev.event);
			reply_end(b);
		}
		return;
	}
	if (ev.kind != PUSH_KIND_PUSH) {
		if (ev.kind == PUSH_KIND_PING)
			snprintf(reason, sizeof(reason), "ping");
		else if (ev.kind == PUSH_KIND_TAG)
			snprintf(reason, sizeof(reason), "tag push");
		else
			snprintf(reason, sizeof(reason),
				 "event '%.60s' needs no action", ev.event);
		d.status = INBOX_IGNORED;
		d.reason = reason;
		if (store(out, ib, &d, &seq))
			reply_pair(out, 200, "ignored", "ignored", reason,
				   ev.delivery);
		return;
	}
	decide_push(out, sc->cfg, ib, &ev);
}

static bool env_syntax_ok(const char *s)
{
	return config_check_env_name(s) || state_env_name_ok(s);
}

int intake_parse_api(struct api_request *out, const char *body, size_t len,
		     struct berr *err)
{
	const json_t *env, *rev;
	json_error_t jerr;
	const char *key;
	json_t *j, *v;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len > API_BODY_MAX)
		return berr_set(err, "body over %zu bytes", API_BODY_MAX);
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return berr_set(err, "invalid JSON: %s", jerr.text);
	if (!json_is_object(j)) {
		berr_set(err, "expected a JSON object");
		goto out;
	}
	json_object_foreach(j, key, v) {
		if (strcmp(key, "env") != 0 && strcmp(key, "commit") != 0 &&
		    strcmp(key, "to") != 0) {
			berr_set(err, "unknown key '%.40s'", key);
			goto out;
		}
	}
	env = json_object_get(j, "env");
	if (!json_is_string(env) || !env_syntax_ok(json_string_value(env)) ||
	    strlen(json_string_value(env)) >= sizeof(out->env)) {
		berr_set(err, "$.env: expected an environment name");
		goto out;
	}
	snprintf(out->env, sizeof(out->env), "%s", json_string_value(env));
	if (json_object_get(j, "commit") && json_object_get(j, "to")) {
		berr_set(err, "give either commit or to, not both");
		goto out;
	}
	rev = json_object_get(j, "commit");
	if (rev == NULL)
		rev = json_object_get(j, "to");
	if (rev != NULL && !json_is_null(rev)) {
		if (!json_is_string(rev) ||
		    strlen(json_string_value(rev)) != json_string_length(rev) ||
		    !queued_rev_ok(json_string_value(rev))) {
			berr_set(err, "$.commit: expected a commit id, branch, "
				      "tag or deployment id");
			goto out;
		}
		snprintf(out->rev, sizeof(out->rev), "%s",
			 json_string_value(rev));
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

void intake_api(struct intake_result *out, const struct server_config *sc,
		struct inbox *ib, enum queued_kind kind,
		const struct wh_request *req)
{
	struct api_request ar;
	struct inbox_delivery d;
	const char *key = NULL, *envs[1];
	char delivery[VERIFY_KEY_MAX];
	struct server_job *j;
	struct berr err;
	size_t klen = 0;
	uint64_t seq;
	struct buf *b;

	memset(out, 0, sizeof(*out));
	if (intake_parse_api(&ar, (const char *)req->body, req->len, &err) != 0) {
		intake_reply_error(out, 400, "bad_request", err.msg);
		return;
	}
	if (config_env(sc->cfg, ar.env) == NULL) {
		intake_reply_error(out, 404, "not_found",
				   "no such environment");
		return;
	}
	if (verify_header(&key, &klen, req, "Idempotency-Key") == 1) {
		size_t i;
		bool ok = klen > 0 && klen <= VERIFY_ID_MAX;

		for (i = 0; ok && i < klen; i++)
			ok = (unsigned char)key[i] > ' ' && (unsigned char)key[i] < 0x7f;
		if (!ok) {
			intake_reply_error(out, 400, "bad_request",
					   "Idempotency-Key: expected 1-128 "
					   "printable characters without "
					   "spaces");
			return;
		}
		snprintf(delivery, sizeof(delivery), "%.*s", (int)klen, key);
	} else {
		snprintf(delivery, sizeof(delivery), "api-%lld-%llu",
			 (long long)strnum_now_ms(),
			 (unsigned long long)inbox_last_seq(ib) + 1);
	}
	snprintf(out->delivery, sizeof(out->delivery), "%s", delivery);
	if (inbox_seen(ib, "api", delivery)) {
		reply_pair(out, 200, "duplicate", "duplicate", NULL, delivery);
		return;
	}
	envs[0] = ar.env;
	memset(&d, 0, sizeof(d));
	d.provider = "api";
	d.delivery = delivery;
	d.event = queued_kind_name(kind);
	d.status = INBOX_QUEUED;
	d.envs = envs;
	d.nenvs = 1;
	d.kind = kind;
	d.rev = ar.rev[0] ? ar.rev : NULL;
	if (!store(out, ib, &d, &seq))
		return;
	j = add_job(out);
	snprintf(j->env, sizeof(j->env), "%s", ar.env);
	j->kind = kind;
	snprintf(j->trigger, sizeof(j->trigger), "api");
	snprintf(j->rev, sizeof(j->rev), "%s", ar.rev);
	j->seq = seq;
	b = reply_begin(out, 202, "queued");
	put_string(b, "delivery", delivery);
	put_string(b, "environment", ar.env);
	put_string(b, "kind", queued_kind_name(kind));
	put_string(b, "commit", or_null(ar.rev));
	reply_end(b);
}
