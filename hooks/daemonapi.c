/*
 * daemonapi.c — the post-receive hook talking to `berth serve` over its HTTP
 * API on the config's listen address (docs/webhooks.md): is it there, queue
 * a deployment of this push, where that request stands in the daemon's
 * inbox, and the deployment records as the daemon reads them. The API token is a
 * secret: it lives in one wiped buffer and only ever goes into a request
 * header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hooks.h"

/* Largest answer read from the daemon (a page of events or records). */
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

/* A request to the API; headers (NULL-terminated) must include the token,
 * NULL sends just the token. *j is the JSON answer (new). */
static int call(json_t **j, long *status, struct daemonapi *api,
                const char *method, const char *path, const char *body,
                const char *const *headers, struct berr *err)
{
	const char *auth[2] = {buf_str(&api->auth), NULL};
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
	req.headers = headers != NULL ? headers : auth;
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

int daemonapi_deploy(struct daemonapi *api, const char *env, const char *sha,
                     const char *key, struct berr *err)
{
	const char *headers[3];
	json_t *body, *j = NULL;
	char *text, *idem = xasprintf("Idempotency-Key: %s", key);
	long status = 0;
	int rc;

	headers[0] = buf_str(&api->auth);
	headers[1] = idem;
	headers[2] = NULL;
	body = json_pack("{s:s, s:s}", "env", env, "commit", sha);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	rc = call(&j, &status, api, "POST", "/api/deploy", text, headers, err);
	free(text);
	free(idem);
	if (rc != 0)
		return -1;
	if (status != 202)
		rc = api_error(err, "POST /api/deploy", status, j);
	json_decref(j);
	return rc;
}

int daemonapi_request(char status[16], uint64_t *seq, struct daemonapi *api,
                      const char *key, struct berr *err)
{
	json_t *j = NULL, *events;
	long http = 0;
	size_t i;
	int rc;

	status[0] = '\0';
	*seq = 0;
	rc = call(&j, &http, api, "GET", "/api/events?provider=api&limit=1000",
	          NULL, NULL, err);
	if (rc != 0)
		return -1;
	if (http != 200) {
		rc = api_error(err, "GET /api/events", http, j);
		goto out;
	}
	rc = BERTH_ENOTFOUND;
	events = json_object_get(j, "events");
	for (i = 0; i < json_array_size(events); i++) {
		const json_t *e = json_array_get(events, i);
		json_int_t n = json_integer_value(json_object_get(e, "seq"));

		if (strcmp(str_of(e, "delivery"), key) != 0 || n <= 0)
			continue;
		snprintf(status, 16, "%s", str_of(e, "status"));
		*seq = (uint64_t)n;
		rc = 0;
		break;
	}
out:
	json_decref(j);
	return rc;
}

int daemonapi_deployments(struct deployment **out, size_t *n,
                          struct daemonapi *api, const char *env,
                          size_t limit, struct berr *err)
{
	json_t *j = NULL, *arr;
	char *path;
	long http = 0;
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	/* Environment names need no escaping (state_env_name_ok). */
	path = xasprintf("/api/deployments?env=%s&limit=%zu", env, limit);
	rc = call(&j, &http, api, "GET", path, NULL, NULL, err);
	free(path);
	if (rc != 0)
		return -1;
	if (http != 200) {
		rc = api_error(err, "GET /api/deployments", http, j);
		goto out;
	}
	arr = json_object_get(j, "deployments");
	*out = xcalloc(json_array_size(arr) + 1, sizeof(**out));
	for (i = 0; i < json_array_size(arr); i++) {
		if (deployment_from_json(&(*out)[*n], json_array_get(arr, i),
		                         err) != 0) {
			berr_prefix(err, "GET /api/deployments: record %zu", i);
			rc = -1;
			goto out;
		}
		(*n)++;
	}
	rc = 0;
out:
	if (rc != 0) {
		state_history_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	json_decref(j);
	return rc;
}

int daemonapi_env_state(bool *frozen, bool *locked, bool *running,
                        struct daemonapi *api, const char *env,
                        struct berr *err)
{
	json_t *j = NULL, *envs;
	long http = 0;
	size_t i;
	int rc;

	*frozen = false;
	*locked = false;
	*running = false;
	rc = call(&j, &http, api, "GET", "/api/status", NULL, NULL, err);
	if (rc != 0)
		return -1;
	if (http != 200) {
		rc = api_error(err, "GET /api/status", http, j);
		goto out;
	}
	rc = BERTH_ENOTFOUND;
	envs = json_object_get(j, "environments");
	for (i = 0; i < json_array_size(envs); i++) {
		const json_t *e = json_array_get(envs, i);

		if (strcmp(str_of(e, "env"), env) != 0)
			continue;
		*frozen = json_is_true(json_object_get(e, "frozen"));
		*locked = json_is_true(json_object_get(e, "locked"));
		*running = json_is_object(json_object_get(e, "running"));
		rc = 0;
		break;
	}
out:
	json_decref(j);
	return rc;
}
