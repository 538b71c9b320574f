/*
 * hash.c — the canonical serialisations of a service and of a whole
 * manifest, and their SHA-256. The canonical form is compact JSON with
 * sorted keys (jansson's JSON_SORT_KEYS, byte order), so neither the key
 * order of berth.json, nor its whitespace, nor the order of the env file
 * changes a hash. Each form carries a format number: changing what goes
 * in a hash restarts every service on upgrade, so do it deliberately.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

static const char *const driver_names[] = {"process", "compose"};
static const char *const format_names[] = {"custom", "plain", "plain.gz"};
static const char *const verify_names[] = {"none", "toc", "restore"};
static const char *const notify_names[] = {"slack", "webhook"};
static const char *const rollback_db_names[] = {"restore", "keep"};
static const char *const drift_names[] = {"report", "heal", "off"};

static json_t *must(json_t *j)
{
	if (j == NULL)
		abort();
	return j;
}

static void put(json_t *obj, const char *key, json_t *v)
{
	if (json_object_set_new(obj, key, must(v)) != 0)
		abort();
}

/* A string as JSON. Expanded values come from the env file and need not
 * be UTF-8: those are written as {"hex": "..."} of their bytes. */
static json_t *text(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	json_t *j = json_string(s), *o;
	size_t n, i;
	char *h;

	if (j != NULL)
		return j;
	n = strlen(s);
	h = malloc(2 * n + 1);
	if (h == NULL)
		abort();
	for (i = 0; i < n; i++) {
		h[2 * i] = hex[(unsigned char)s[i] >> 4];
		h[2 * i + 1] = hex[(unsigned char)s[i] & 15];
	}
	h[2 * n] = '\0';
	o = must(json_object());
	put(o, "hex", json_string(h));
	free(h);
	return o;
}

static json_t *str_or_null(const char *s)
{
	return s ? text(s) : json_null();
}

static json_t *strv_json(const struct strv *sv)
{
	json_t *a = must(json_array());
	size_t i;

	for (i = 0; i < sv->n; i++)
		json_array_append_new(a, text(sv->v[i]));
	return a;
}

static json_t *kvlist_json(const struct kvlist *l)
{
	json_t *o = must(json_object());
	size_t i;

	for (i = 0; i < l->n; i++)
		put(o, l->items[i].key, text(l->items[i].value));
	return o;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Ports are a set: sorted, their order in the file changes no hash. */
static json_t *ports_json(const int *ports, size_t n)
{
	json_t *a = must(json_array());
	int *copy = NULL;
	size_t i;

	if (n > 0) {
		copy = malloc(n * sizeof(*copy));
		if (copy == NULL)
			abort();
		memcpy(copy, ports, n * sizeof(*copy));
		qsort(copy, n, sizeof(*copy), cmp_int);
		ports = copy;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(a, must(json_integer(ports[i])));
	free(copy);
	return a;
}

static json_t *health_json(const struct manifest_service *s, bool raw)
{
	const struct manifest_health *h = &s->health;
	json_t *o;

	if (!s->has_health)
		return json_null();
	o = must(json_object());
	put(o, "http", str_or_null(raw ? h->http_raw : h->http));
	put(o, "expect_status", json_integer(h->expect_status));
	put(o, "interval_s", json_integer(h->interval_s));
	put(o, "timeout_s", json_integer(h->timeout_s));
	put(o, "start_period_s", json_integer(h->start_period_s));
	put(o, "retries", json_integer(h->retries));
	return o;
}

void hash_sha256_hex(char out[65], const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		abort();
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

/* Serialises j canonically, hashes it, and frees j. */
static char *hash_json(json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	char *hex = malloc(65);

	if (text == NULL || hex == NULL)
		abort();
	hash_sha256_hex(hex, text, strlen(text));
	free(text);
	json_decref(j);
	return hex;
}

char *hash_service(const struct manifest *m, const struct manifest_service *s)
{
	json_t *o = must(json_object());

	put(o, "berth_service", json_integer(1));
	put(o, "driver", json_string(driver_names[m->driver]));
	put(o, "command", strv_json(&s->command));
	put(o, "env", kvlist_json(&s->env));
	put(o, "health", health_json(s, false));
	put(o, "stop_timeout_s", json_integer(s->stop_timeout_s));
	put(o, "ports", ports_json(s->ports, s->nports));
	if (m->driver == MANIFEST_DRIVER_COMPOSE) {
		put(o, "compose_file", json_string(m->compose_file));
		put(o, "compose_project", json_string(m->compose_project));
	}
	put(o, "env_file", str_or_null(m->env_file_hash));
	return hash_json(o);
}

static json_t *database_json(const struct manifest_database *db)
{
	json_t *o, *mig, *backup, *ret;

	if (!db->present)
		return json_null();
	o = must(json_object());
	put(o, "url_env", json_string(db->url_env));
	mig = must(json_object());
	if (db->migrations == MANIFEST_MIGRATIONS_SQL_DIR)
		put(mig, "sql_dir", json_string(db->sql_dir));
	else if (db->migrations == MANIFEST_MIGRATIONS_COMMAND)
		put(mig, "command", strv_json(&db->migrate_command));
	put(mig, "lock_timeout_s", json_integer(db->lock_timeout_s));
	put(mig, "statement_timeout_s", json_integer(db->statement_timeout_s));
	put(o, "migrations", mig);
	backup = must(json_object());
	put(backup, "dir", json_string(db->backup_dir));
	put(backup, "format", json_string(format_names[db->backup_format]));
	ret = must(json_object());
	put(ret, "daily", json_integer(db->retention_daily));
	put(ret, "weekly", json_integer(db->retention_weekly));
	put(ret, "monthly", json_integer(db->retention_monthly));
	put(backup, "retention", ret);
	put(backup, "schedule", str_or_null(db->backup_schedule));
	put(backup, "verify", json_string(verify_names[db->backup_verify]));
	put(o, "backup", backup);
	return o;
}

static json_t *services_json(const struct manifest *m)
{
	json_t *all = must(json_object());
	size_t i;

	for (i = 0; i < m->nservices; i++) {
		const struct manifest_service *s = &m->services[i];
		json_t *o = must(json_object());

		put(o, "command", strv_json(&s->command_raw));
		put(o, "env", kvlist_json(&s->env));
		put(o, "health", health_json(s, true));
		put(o, "stop_timeout_s", json_integer(s->stop_timeout_s));
		put(o, "depends_on", strv_json(&s->depends_on));
		put(o, "ports", ports_json(s->ports, s->nports));
		put(all, s->name, o);
	}
	return all;
}

static json_t *smoke_json(const struct manifest *m)
{
	json_t *a = must(json_array());
	size_t i;

	for (i = 0; i < m->nsmoke; i++) {
		const struct manifest_smoke *t = &m->smoke[i];
		json_t *o = must(json_object());

		put(o, "name", json_string(t->name));
		put(o, "url", json_string(t->url_raw));
		put(o, "expect_status", json_integer(t->expect_status));
		put(o, "expect_body", str_or_null(t->expect_body));
		put(o, "timeout_s", json_integer(t->timeout_s));
		json_array_append_new(a, o);
	}
	return a;
}

char *hash_manifest(const struct manifest *m)
{
	json_t *o = must(json_object()), *build, *x;
	size_t i;

	put(o, "berth_manifest", json_integer(1));
	put(o, "version", json_integer(m->version));
	put(o, "app", json_string(m->app));
	put(o, "driver", json_string(driver_names[m->driver]));
	build = must(json_array());
	for (i = 0; i < m->nbuild; i++)
		json_array_append_new(build, strv_json(&m->build[i]));
	put(o, "build", build);
	put(o, "services", services_json(m));
	x = must(json_object());
	put(x, "file", json_string(m->compose_file));
	put(x, "project", json_string(m->compose_project));
	put(o, "compose", x);
	put(o, "database", database_json(&m->db));
	x = must(json_object());
	put(x, "disk_free_pct", json_integer(m->checks.disk_free_pct));
	put(x, "mem_free_mb", json_integer(m->checks.mem_free_mb));
	put(x, "ports_free", ports_json(m->checks.ports_free,
					m->checks.nports_free));
	put(x, "env_required", strv_json(&m->checks.env_required));
	put(o, "checks", x);
	put(o, "smoke", smoke_json(m));
	x = must(json_object());
	put(x, "automatic", json_boolean(m->rollback_automatic));
	put(x, "database", json_string(rollback_db_names[m->rollback_database]));
	put(o, "rollback", x);
	x = must(json_object());
	put(x, "interval_s", json_integer(m->drift_interval_s));
	put(x, "action", json_string(drift_names[m->drift_action]));
	put(o, "drift", x);
	x = must(json_object());
	put(x, "keep", json_integer(m->releases_keep));
	put(o, "releases", x);
	x = must(json_array());
	for (i = 0; i < m->nnotify; i++) {
		json_t *n = must(json_object());

		put(n, "type", json_string(notify_names[m->notify[i].type]));
		put(n, "url_env", json_string(m->notify[i].url_env));
		json_array_append_new(x, n);
	}
	put(o, "notify", x);
	return hash_json(o);
}
