/*
 * queued.c — the deployment `berth serve` has queued for an environment and
 * not started yet, kept in envs/<env>/queued.json so that `berth status`
 * shows it and a restarted daemon picks it up (docs/state.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "berth.h"

#define QUEUED_FILE "queued.json"
#define QUEUED_MAX_BYTES ((size_t)64 << 10)

void queued_init(struct queued *q)
{
	memset(q, 0, sizeof(*q));
	q->kind = QUEUED_DEPLOY;
}

void queued_release(struct queued *q)
{
	if (q == NULL)
		return;
	free(q->trigger);
	free(q->rev);
	queued_init(q);
}

void queued_copy(struct queued *dst, const struct queued *src)
{
	*dst = *src;
	dst->trigger = src->trigger ? xstrdup(src->trigger) : NULL;
	dst->rev = src->rev ? xstrdup(src->rev) : NULL;
}

const char *queued_kind_name(enum queued_kind k)
{
	return k == QUEUED_ROLLBACK ? "rollback" : "deploy";
}

bool queued_rev_ok(const char *rev)
{
	size_t i, n = strlen(rev);

	if (n == 0 || n > 255 || rev[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char c = rev[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '/' || c == '-'))
			return false;
	}
	return true;
}

json_t *queued_to_json(const struct queued *q)
{
	char since[32];

	strnum_iso8601(since, q->since);
	return json_pack("{s:s, s:o, s:o, s:o, s:s, s:I, s:I}", "kind",
			 queued_kind_name(q->kind), "trigger",
			 q->trigger ? json_string(q->trigger) : json_null(),
			 "commit", q->hint[0] ? json_string(q->hint) : json_null(),
			 "rev", q->rev ? json_string(q->rev) : json_null(),
			 "since", since, "requests", (json_int_t)q->requests,
			 "seq", (json_int_t)q->seq);
}

/* A string field that may be null or absent; anything else is an error. */
static int opt_string(const char **out, const json_t *o, const char *key,
		      struct berr *err)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return berr_set(err, "$.%s: expected a string or null", key);
	*out = json_string_value(v);
	return 0;
}

int queued_parse(struct queued *out, const char *data, size_t len,
		 struct berr *err)
{
	const char *kind = NULL, *trigger, *commit, *rev, *since = NULL;
	json_int_t requests = 0, seq = 0;
	json_error_t jerr;
	json_t *j;
	int rc = -1;

	queued_init(out);
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return berr_set(err, "invalid JSON: %s", jerr.text);
	if (json_unpack_ex(j, &jerr, 0, "{s:s, s?s, s?I, s?I}", "kind", &kind,
			   "since", &since, "requests", &requests, "seq",
			   &seq) != 0) {
		berr_set(err, "%s", jerr.text);
		goto out;
	}
	if (strcmp(kind, "deploy") == 0) {
		out->kind = QUEUED_DEPLOY;
	} else if (strcmp(kind, "rollback") == 0) {
		out->kind = QUEUED_ROLLBACK;
	} else {
		berr_set(err, "$.kind: expected deploy or rollback");
		goto out;
	}
	if (opt_string(&trigger, j, "trigger", err) != 0 ||
	    opt_string(&commit, j, "commit", err) != 0 ||
	    opt_string(&rev, j, "rev", err) != 0)
		goto out;
	if (commit != NULL && !strnum_is_sha(commit)) {
		berr_set(err, "$.commit: expected 40 hex digits");
		goto out;
	}
	if (rev != NULL && !queued_rev_ok(rev)) {
		berr_set(err, "$.rev: not a revision berth accepts");
		goto out;
	}
	if (trigger != NULL && (strlen(trigger) > 255 ||
				!config_check_printable(trigger, strlen(trigger)))) {
		berr_set(err, "$.trigger: expected printable text");
		goto out;
	}
	if (since != NULL && strnum_parse_iso8601(&out->since, since) != 0) {
		berr_set(err, "$.since: expected an ISO-8601 time");
		goto out;
	}
	if (requests < 0 || seq < 0) {
		berr_set(err, "$.requests: expected a positive integer");
		goto out;
	}
	out->trigger = trigger ? xstrdup(trigger) : NULL;
	out->rev = rev ? xstrdup(rev) : NULL;
	if (commit != NULL)
		memcpy(out->hint, commit, 41);
	out->requests = (int64_t)requests;
	out->seq = (uint64_t)seq;
	rc = 0;
out:
	json_decref(j);
	if (rc != 0)
		queued_release(out);
	return rc;
}

int queued_read(struct queued *out, struct state *st, struct berr *err)
{
	char *path = state_path(st, QUEUED_FILE);
	struct buf b;
	int rc;

	queued_init(out);
	buf_init(&b, QUEUED_MAX_BYTES);
	rc = fs_read_file(&b, path, QUEUED_MAX_BYTES, err);
	if (rc == 0) {
		rc = queued_parse(out, b.data ? b.data : "", b.len, err);
		if (rc != 0)
			berr_prefix(err, "invalid queue file '%s'", path);
	}
	buf_release(&b);
	free(path);
	return rc;
}

int queued_write(struct state *st, const struct queued *q, struct berr *err)
{
	char *path = state_path(st, QUEUED_FILE);
	json_t *j = queued_to_json(q);
	char *text = json_dumps(j, JSON_COMPACT);
	int rc;

	rc = fs_write_atomic(path, text, strlen(text), 0640, err);
	free(text);
	json_decref(j);
	free(path);
	return rc;
}

int queued_clear(struct state *st, struct berr *err)
{
	char *path = state_path(st, QUEUED_FILE);
	int rc = 0;

	if (unlink(path) != 0) {
		if (errno != ENOENT)
			rc = berr_errno(err, errno, "cannot remove '%s'", path);
	} else {
		rc = fs_fsync_dir(st->env_dir, err);
	}
	free(path);
	return rc;
}
