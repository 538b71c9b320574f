/*
 * inbox_line.c — the inbox's line format (docs/webhooks.md "The inbox"):
 * one JSON object a line, a delivery or a status change. Writing and
 * reading live together so that what is read back is exactly what could
 * have been written; the reader is what berth runs on files a crash may
 * have torn or a person edited (tests/fuzz/fuzz_inbox_line.c).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "webhooks.h"

const char *inbox_status_name(enum inbox_status s)
{
	switch (s) {
	case INBOX_QUEUED:
		return "queued";
	case INBOX_DONE:
		return "done";
	case INBOX_IGNORED:
		return "ignored";
	case INBOX_STORED:
		return "stored";
	}
	return "unknown";
}

static int status_parse(enum inbox_status *out, const char *s)
{
	static const enum inbox_status all[] = {INBOX_QUEUED, INBOX_DONE,
						INBOX_IGNORED, INBOX_STORED};
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(all); i++) {
		if (strcmp(s, inbox_status_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}


/* A delivery id or provider as stored: printable ASCII without spaces. */
bool inbox_line_token_ok(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool text_ok(const char *s, size_t max)
{
	return strlen(s) <= max && config_check_printable(s, strlen(s));
}

void inbox_line_release(struct inbox_line *l)
{
	if (l == NULL)
		return;
	free(l->provider);
	free(l->delivery);
	free(l->event);
	free(l->reason);
	free(l->branch);
	free(l->rev);
	free(l->envs);
	memset(l, 0, sizeof(*l));
}

static int get_str(char **out, const json_t *o, const char *key, size_t max,
		   bool token, struct berr *err)
{
	const json_t *v = json_object_get(o, key);
	const char *s;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return berr_set(err, "$.%s: expected a string", key);
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v) ||
	    !(token ? inbox_line_token_ok(s, max) : text_ok(s, max)))
		return berr_set(err, "$.%s: not a value berth writes", key);
	*out = s[0] ? xstrdup(s) : NULL;
	return 0;
}

int inbox_line_parse(struct inbox_line *out, const char *line, size_t len,
		     struct berr *err)
{
	const json_t *v;
	char *status = NULL, *received = NULL, *after = NULL, *kind = NULL;
	json_error_t jerr;
	json_t *j;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len > INBOX_LINE_MAX)
		return berr_set(err, "line longer than %d bytes", INBOX_LINE_MAX);
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return berr_set(err, "invalid JSON: %s", jerr.text);
	if (!json_is_object(j)) {
		berr_set(err, "expected an object");
		goto out;
	}
	v = json_object_get(j, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		berr_set(err, "$.seq: expected a positive integer");
		goto out;
	}
	out->seq = (uint64_t)json_integer_value(v);
	if (get_str(&status, j, "status", 16, true, err) != 0)
		goto out;
	if (status == NULL || status_parse(&out->status, status) != 0) {
		berr_set(err, "$.status: expected queued, done, ignored or stored");
		goto out;
	}
	if (get_str(&out->provider, j, "provider", 15, true, err) != 0)
		goto out;
	if (out->provider == NULL) {
		/* A status update of an earlier record. */
		out->update = true;
		rc = 0;
		goto out;
	}
	if (get_str(&out->delivery, j, "delivery", VERIFY_KEY_MAX - 1, true,
		    err) != 0 ||
	    get_str(&received, j, "received", 31, true, err) != 0 ||
	    get_str(&out->event, j, "event", 63, false, err) != 0 ||
	    get_str(&out->reason, j, "reason", 255, false, err) != 0 ||
	    get_str(&out->branch, j, "branch", PUSH_REF_MAX - 1, false, err) != 0 ||
	    get_str(&after, j, "after", 40, true, err) != 0 ||
	    get_str(&out->rev, j, "rev", 255, true, err) != 0 ||
	    get_str(&kind, j, "kind", 16, true, err) != 0 ||
	    get_str(&out->envs, j, "environments", 1024, true, err) != 0)
		goto out;
	if (out->delivery == NULL) {
		berr_set(err, "$.delivery: missing");
		goto out;
	}
	if (received == NULL ||
	    strnum_parse_iso8601(&out->received, received) != 0) {
		berr_set(err, "$.received: expected an ISO-8601 time");
		goto out;
	}
	if (after != NULL) {
		if (!strnum_is_sha(after)) {
			berr_set(err, "$.after: expected 40 hex digits");
			goto out;
		}
		memcpy(out->after, after, 41);
	}
	if (out->rev != NULL && !queued_rev_ok(out->rev)) {
		berr_set(err, "$.rev: not a revision berth accepts");
		goto out;
	}
	out->kind = QUEUED_DEPLOY;
	if (kind != NULL && strcmp(kind, "rollback") == 0)
		out->kind = QUEUED_ROLLBACK;
	else if (kind != NULL && strcmp(kind, "deploy") != 0) {
		berr_set(err, "$.kind: expected deploy or rollback");
		goto out;
	}
	if (out->envs != NULL) {
		const char *p = out->envs;
		size_t n = 1;

		for (; *p; p++)
			n += *p == ',';
		if (n > INBOX_ENVS_MAX) {
			berr_set(err, "$.environments: more than %d", INBOX_ENVS_MAX);
			goto out;
		}
	}
	rc = 0;
out:
	free(status);
	free(received);
	free(after);
	free(kind);
	json_decref(j);
	if (rc != 0)
		inbox_line_release(out);
	return rc;
}
