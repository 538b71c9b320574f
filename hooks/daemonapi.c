/*
 * daemonapi.c — the post-receive hook talking to `berth serve` over its HTTP
 * API on the config's listen address: is it there, deploy this push, and
 * what has the deployment covering it printed so far. The API token is a
 * secret: it lives in one wiped buffer and only ever goes into a request
 * header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hooks.h"

/* Largest answer read from the daemon (a batch of output lines). */
#define API_MAX_RESPONSE ((size_t)4 << 20)

/* The address to reach a daemon listening on host: a wildcard address is
 * reached on loopback. */
static char *base_url(const struct config *cfg)
{
	const char *host = cfg->listen_host;

	if (strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	if (strchr(host, ':') != NULL)
		return xasprintf("http://[%s]:%d", host, cfg->listen_port);
	return xasprintf("http://%s:%d", host, cfg->listen_port);
}

int daemonapi_open(struct daemonapi *api, const struct config *cfg,
                   struct berr *err)
{
	struct http_request req;
	struct http_response res;
	struct buf token;
	char *url = NULL;
	int rc;

	memset(api, 0, sizeof(*api));
	buf_init(&api->auth, SECRET_MAX_BYTES + 64);
	if (cfg->listen_port == 0)
		return BERTH_ENOTFOUND;
	api->base = base_url(cfg);
	url = xasprintf("%s/health", api->base);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.timeout_ms = 2000;
	rc = http_request(&res, &req, err);
	if (rc != 0) {
		/* Nothing listening is the usual way of saying "no daemon". */
		rc = strstr(err->msg, "Connection refused") != NULL
		         ? BERTH_ENOTFOUND
		         : -1;
		goto out;
	}
	if (res.status != 200) {
		rc = berr_set(err, "%s/health answers HTTP %ld", api->base,
		              res.status);
		goto out;
	}
	buf_init(&token, SECRET_MAX_BYTES);
	rc = secret_load(&token, &cfg->api_token, "api token", err);
	if (rc == 0) {
		buf_printf(&api->auth, "Authorization: Bearer %s",
		           buf_str(&token));
		api->have_token = true;
	} else if (rc == BERTH_ENOTFOUND) {
		berr_set(err, "the config names no api token that this user "
		              "can read");
	}
	secret_wipe(&token);
	rc = 0;
out:
	http_response_release(&res);
	free(url);
	return rc;
}

void daemonapi_close(struct daemonapi *api)
{
	if (api == NULL)
		return;
	secret_wipe(&api->auth);
	free(api->base);
	memset(api, 0, sizeof(*api));
}

/* A request to the API with the token; *j is the JSON answer (new). */
static int call(json_t **j, long *status, struct daemonapi *api,
                const char *method, const char *path, const char *body,
                struct berr *err)
{
	const char *headers[2] = {buf_str(&api->auth), NULL};
	struct http_request req;
	struct http_response res;
	json_error_t jerr;
	char *url = xasprintf("%s%s", api->base, path);
	int rc;

	*j = NULL;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.body = body;
	req.body_len = body != NULL ? strlen(body) : 0;
	req.content_type = body != NULL ? "application/json" : NULL;
	req.headers = headers;
	req.timeout_ms = 10000;
	req.max_response = API_MAX_RESPONSE;
	rc = http_request(&res, &req, err);
	if (rc == 0) {
		*status = res.status;
		*j = json_loadb(buf_str(&res.body), res.body.len, 0, &jerr);
		if (*j == NULL || !json_is_object(*j)) {
			json_decref(*j);
			*j = NULL;
			rc = berr_set(err, "%s %s: HTTP %ld, not a JSON object",
			              method, path, res.status);
		}
	}
	http_response_release(&res);
	free(url);
	return rc;
}

static const char *str_of(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	return s != NULL ? s : "";
}

/* "the daemon answers POST /api/deploy with HTTP 401: unauthorized". */
static int api_error(struct berr *err, const char *what, long status,
                     const json_t *j)
{
	return berr_set(err, "the daemon answers %s with HTTP %ld: %s", what,
	                status, str_of(j, "error"));
}

int daemonapi_deploy(uint64_t *seq, struct daemonapi *api, const char *env,
                     const char *sha, struct berr *err)
{
	json_t *body, *j = NULL;
	char *text;
	long status = 0;
	json_int_t n;
	int rc;

	*seq = 0;
	body = json_pack("{s:s, s:s, s:s}", "env", env, "commit", sha,
	                 "trigger", "hook:post-receive");
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	rc = call(&j, &status, api, "POST", "/api/deploy", text, err);
	free(text);
	if (rc != 0)
		return -1;
	if (status != 202) {
		rc = api_error(err, "POST /api/deploy", status, j);
		goto out;
	}
	n = json_integer_value(json_object_get(j, "seq"));
	if (n <= 0) {
		rc = berr_set(err, "the daemon's answer to POST /api/deploy "
		                   "has no \"seq\": is it older than this "
		                   "berth?");
		goto out;
	}
	*seq = (uint64_t)n;
	rc = 0;
out:
	json_decref(j);
	return rc;
}

void daemonapi_progress_release(struct daemonapi_progress *p)
{
	if (p == NULL)
		return;
	free(p->state);
	free(p->waiting);
	free(p->status);
	strv_release(&p->lines);
	memset(p, 0, sizeof(*p));
}

/* Copies a 40-hex commit of j[key] into out, or "". */
static void sha_of(char out[41], const json_t *j, const char *key)
{
	const char *s = str_of(j, key);

	snprintf(out, 41, "%s", strnum_is_sha(s) ? s : "");
}

int daemonapi_follow(struct daemonapi_progress *out, struct daemonapi *api,
                     const char *env, uint64_t seq, int64_t offset,
                     struct berr *err)
{
	json_t *j = NULL, *lines;
	char *path, *q_env;
	long status = 0;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	q_env = xstrdup(env); /* environment names need no escaping */
	path = xasprintf("/api/deployments/follow?env=%s&seq=%llu&offset=%lld",
	                 q_env, (unsigned long long)seq, (long long)offset);
	rc = call(&j, &status, api, "GET", path, NULL, err);
	free(path);
	free(q_env);
	if (rc != 0)
		return -1;
	if (status != 200) {
		rc = api_error(err, "GET /api/deployments/follow", status, j);
		goto out;
	}
	out->state = xstrdup(str_of(j, "state"));
	out->waiting = xstrdup(str_of(j, "waiting"));
	out->status = xstrdup(str_of(j, "status"));
	out->offset = json_integer_value(json_object_get(j, "offset"));
	out->deployment = json_integer_value(json_object_get(j, "deployment"));
	sha_of(out->commit, j, "commit");
	sha_of(out->current, j, "current");
	lines = json_object_get(j, "lines");
	for (i = 0; i < json_array_size(lines); i++) {
		const char *l = json_string_value(json_array_get(lines, i));

		if (l != NULL)
			strv_push(&out->lines, l);
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}
