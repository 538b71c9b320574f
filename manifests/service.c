/*
 * service.c — the "services" section of a manifest: one object per
 * service, keyed by name, with its command, env, health check, stop
 * timeout, dependencies and ports. ${NAME} references in the command and
 * the health URL are expanded here (the service's env first, then the env
 * file's variables).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

/* Variables in one service's env (a bound for hostile input). */
#define ENV_MAX 1000

static const char *const service_keys[] = {
    "command", "env", "health", "stop_timeout_s", "depends_on", "ports", NULL,
};

static const char *const health_keys[] = {
    "http",           "expect_status", "interval_s", "timeout_s",
    "start_period_s", "retries",       NULL,
};

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

static int parse_env(struct mparse *p, struct manifest_service *s,
                     const json_t *svc)
{
	const json_t *env, *v;
	const char *key;
	int rc;

	rc = validate_object(p, &env, svc, "env", 0);
	if (env == NULL)
		return rc;
	if (json_object_size(env) > ENV_MAX) {
		size_t old = validate_push_key(p, "env");

		validate_error(p, "expected at most %d variables, got %zu",
		               ENV_MAX, json_object_size(env));
		validate_pop(p, old);
		return -1;
	}
	json_object_foreach((json_t *)env, key, v)
	{
		size_t old = validate_push_key(p, "env");

		validate_push_key(p, key);
		if (!validate_is_varname(key)) {
			validate_error(p, "expected a variable name "
			                  "([A-Za-z_][A-Za-z0-9_]*) as key");
			rc = -1;
		} else if (!json_is_string(v)) {
			validate_expected(p, "a string", v);
			rc = -1;
		} else {
			kvlist_add(&s->env, key, json_string_value(v));
		}
		validate_pop(p, old);
	}
	return rc;
}

static int parse_command(struct mparse *p, struct manifest_service *s,
                         const json_t *svc, bool required)
{
	const char *what = "a command (a non-empty array of strings)";
	const json_t *v = json_object_get(svc, "command");
	size_t old = validate_push_key(p, "command"), i;
	int rc = 0;

	if (v == NULL) {
		if (required) {
			validate_expected(p, what, NULL);
			rc = -1;
		}
		goto out;
	}
	if (validate_argv(p, &s->command_raw, v) != 0) {
		rc = -1;
		goto out;
	}
	for (i = 0; i < s->command_raw.n; i++) {
		size_t o = validate_push_index(p, i);
		char *x = NULL;

		if (expand_at(p, &x, s->command_raw.v[i], &s->env) != 0) {
			rc = -1;
		} else if (i == 0 &&
		           (*x == '\0' || confine_command(p, x) != 0)) {
			if (*x == '\0')
				validate_error(p, "expected a program name, "
				                  "got an empty string after "
				                  "expansion");
			rc = -1;
		}
		if (rc == 0)
			strv_push(&s->command, x);
		free(x);
		validate_pop(p, o);
	}
	if (rc != 0)
		strv_release(&s->command);
out:
	validate_pop(p, old);
	return rc;
}

static int parse_health(struct mparse *p, struct manifest_service *s,
                        const json_t *svc)
{
	struct manifest_health *h = &s->health;
	const json_t *v;
	size_t old;
	int rc;

	rc = validate_object(p, &v, svc, "health", 0);
	if (v == NULL)
		return rc;
	s->has_health = true;
	old = validate_push_key(p, "health");
	if (validate_keys(p, v, health_keys) > 0)
		rc = -1;
	if (validate_string(p, &h->http_raw, v, "http", VALIDATE_NONEMPTY) != 0)
		rc = -1;
	if (h->http_raw != NULL) {
		size_t o = validate_push_key(p, "http");

		if (expand_url(p, &h->http, h->http_raw, &s->env,
		               json_object_get(v, "http")) != 0)
			rc = -1;
		validate_pop(p, o);
	}
	if (validate_int(p, &h->expect_status, v, "expect_status", 100, 599, 0))
		rc = -1;
	if (validate_int(p, &h->interval_s, v, "interval_s", 1, 3600, 0) != 0)
		rc = -1;
	if (validate_int(p, &h->timeout_s, v, "timeout_s", 1, 3600, 0) != 0)
		rc = -1;
	if (validate_int(p, &h->start_period_s, v, "start_period_s", 0, 86400,
	                 0) != 0)
		rc = -1;
	if (validate_int(p, &h->retries, v, "retries", 1, 100, 0) != 0)
		rc = -1;
	validate_pop(p, old);
	return rc;
}

static int parse_depends_on(struct mparse *p, struct manifest_service *s,
                            const json_t *svc)
{
	const json_t *v, *dep;
	size_t old, i;
	int rc = 0;

	if (validate_array(p, &v, svc, "depends_on",
	                   "an array of service names") != 0)
		return -1;
	if (v == NULL)
		return 0;
	old = validate_push_key(p, "depends_on");
	json_array_foreach(v, i, dep)
	{
		size_t o = validate_push_index(p, i);

		if (!json_is_string(dep)) {
			validate_expected(p, "a service name", dep);
			rc = -1;
		}
		validate_pop(p, o);
	}
	/* Only a list of names only is resolved: a half list would give
	 * misleading "unknown service" or cycle errors. */
	json_array_foreach(v, i, dep) if (rc == 0)
	    strv_push(&s->depends_on, json_string_value(dep));
	validate_pop(p, old);
	return rc;
}

static int parse_one(struct mparse *p, struct manifest *m,
                     struct manifest_service *s, const char *name,
                     const json_t *v)
{
	int rc = 0;

	s->name = xstrdup(name);
	s->health.expect_status = 200;
	s->health.interval_s = 2;
	s->health.timeout_s = 5;
	s->health.start_period_s = 0;
	s->health.retries = 3;
	s->stop_timeout_s = 30;
	if (!validate_is_service_name(name)) {
		validate_error(p, "expected a service name "
		                  "([A-Za-z0-9][A-Za-z0-9_.-]*, at most 63 "
		                  "characters) as key");
		rc = -1;
	}
	if (!json_is_object(v)) {
		validate_expected(p, "an object", v);
		return -1;
	}
	if (validate_keys(p, v, service_keys) > 0)
		rc = -1;
	/* env first: the command and the health URL expand from it. */
	if (parse_env(p, s, v) != 0)
		rc = -1;
	if (parse_command(p, s, v,
	                  m->driver == MANIFEST_DRIVER_PROCESS &&
	                      !p->driver_unknown) != 0)
		rc = -1;
	if (parse_health(p, s, v) != 0)
		rc = -1;
	if (validate_int(p, &s->stop_timeout_s, v, "stop_timeout_s", 1, 3600,
	                 0) != 0)
		rc = -1;
	if (parse_depends_on(p, s, v) != 0)
		rc = -1;
	if (validate_ports(p, &s->ports, &s->nports, v, "ports") != 0)
		rc = -1;
	return rc;
}

int service_parse_all(struct mparse *p, struct manifest *m, const json_t *v)
{
	const char *what = "an object of services (at least one)";
	size_t old = validate_push_key(p, "services"), n;
	const char *name;
	const json_t *svc;
	int rc = 0;

	if (v == NULL || !json_is_object(v) || json_object_size(v) == 0) {
		validate_expected(p, what, v);
		rc = -1;
		goto out;
	}
	n = json_object_size(v);
	m->services = calloc(n, sizeof(*m->services));
	if (m->services == NULL)
		abort();
	json_object_foreach((json_t *)v, name, svc)
	{
		size_t o = validate_push_key(p, name);

		if (parse_one(p, m, &m->services[m->nservices++], name, svc) !=
		    0)
			rc = -1;
		validate_pop(p, o);
	}
out:
	validate_pop(p, old);
	return rc;
}

void service_release(struct manifest_service *s)
{
	if (s == NULL)
		return;
	free(s->name);
	strv_release(&s->command);
	strv_release(&s->command_raw);
	kvlist_release(&s->env);
	free(s->health.http);
	free(s->health.http_raw);
	strv_release(&s->depends_on);
	free(s->ports);
	free(s->hash);
	memset(s, 0, sizeof(*s));
}
