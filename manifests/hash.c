/*
 * hash.c — the canonical serialisations of a service and of a whole
 * manifest, and their SHA-256. The canonical form is compact JSON with the
 * keys of every object in byte order (what `jq -cS` prints, and jansson's
 * JSON_COMPACT | JSON_SORT_KEYS): neither the key order of berth.json,
 * nor its whitespace, nor the order of the env file changes a hash. Ports
 * are sets and sorted. The text streams straight into the digest: no
 * tree is built, so a thousand services hash in well under a millisecond.
 *
 * Each form carries a format number ("berth_service": 1): changing what
 * goes in a hash restarts every service on upgrade, so do it deliberately
 * and bump the number. The keys below are written in sorted order by hand.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

static const char *const driver_names[] = {"process", "compose"};
static const char *const format_names[] = {"custom", "plain", "plain.gz"};
static const char *const verify_names[] = {"none", "toc", "restore"};
static const char *const notify_names[] = {"slack", "webhook"};
static const char *const rollback_db_names[] = {"restore", "keep"};
static const char *const drift_names[] = {"report", "heal", "off"};

/* The text being hashed, buffered in front of the digest. */
struct canon {
	EVP_MD_CTX *md;
	size_t len;
	bool first; /* no member written yet in the current object/array */
	char buf[4096];
};

static void flush(struct canon *c)
{
	if (c->len > 0 && EVP_DigestUpdate(c->md, c->buf, c->len) != 1)
		abort();
	c->len = 0;
}

static void raw(struct canon *c, const char *s, size_t n)
{
	if (c->len + n > sizeof(c->buf)) {
		flush(c);
		if (n > sizeof(c->buf)) {
			if (EVP_DigestUpdate(c->md, s, n) != 1)
				abort();
			return;
		}
	}
	memcpy(c->buf + c->len, s, n);
	c->len += n;
}

/* A JSON string, escaped as jansson escapes it; other bytes as they are. */
static void str(struct canon *c, const char *s)
{
	const char *run = s;

	raw(c, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[8];
		const char *e = NULL;

		switch (ch) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		default:
			if (ch < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04X", ch);
				e = esc;
			}
		}
		if (e == NULL)
			continue;
		raw(c, run, (size_t)(s - run));
		raw(c, e, strlen(e));
		run = s + 1;
	}
	raw(c, run, (size_t)(s - run));
	raw(c, "\"", 1);
}

/* Separators: every value but the first of a container gets a comma. */
static void sep(struct canon *c)
{
	if (!c->first)
		raw(c, ",", 1);
	c->first = false;
}

static void open_(struct canon *c, const char *bracket)
{
	raw(c, bracket, 1);
	c->first = true;
}

static void close_(struct canon *c, const char *bracket)
{
	raw(c, bracket, 1);
	c->first = false;
}

static void key(struct canon *c, const char *k)
{
	sep(c);
	str(c, k);
	raw(c, ":", 1);
	c->first = true; /* the value that follows takes no comma */
}

static void k_int(struct canon *c, const char *k, long long v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%lld", v);

	key(c, k);
	raw(c, b, (size_t)n);
	c->first = false;
}

static void k_bool(struct canon *c, const char *k, bool v)
{
	key(c, k);
	raw(c, v ? "true" : "false", v ? 4 : 5);
	c->first = false;
}

static void k_str(struct canon *c, const char *k, const char *v)
{
	key(c, k);
	if (v == NULL)
		raw(c, "null", 4);
	else
		str(c, v);
	c->first = false;
}

static void k_strv(struct canon *c, const char *k, const struct strv *sv)
{
	size_t i;

	key(c, k);
	open_(c, "[");
	for (i = 0; i < sv->n; i++) {
		sep(c);
		str(c, sv->v[i]);
	}
	close_(c, "]");
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Ports are a set: sorted, their order in the file changes no hash. */
static void k_ports(struct canon *c, const char *k, const int *ports, size_t n)
{
	int *sorted = malloc((n ? n : 1) * sizeof(*sorted));
	size_t i;

	if (sorted == NULL)
		abort();
	if (n > 0)
		memcpy(sorted, ports, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_int);
	key(c, k);
	open_(c, "[");
	for (i = 0; i < n; i++) {
		char b[16];
		int len = snprintf(b, sizeof(b), "%d", sorted[i]);

		sep(c);
		raw(c, b, (size_t)len);
	}
	close_(c, "]");
	free(sorted);
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp((*(const struct kv *const *)a)->key,
	              (*(const struct kv *const *)b)->key);
}

/* An env as an object, keys sorted. */
static void k_env(struct canon *c, const char *k, const struct kvlist *l)
{
	const struct kv **sorted = malloc((l->n ? l->n : 1) * sizeof(*sorted));
	size_t i;

	if (sorted == NULL)
		abort();
	for (i = 0; i < l->n; i++)
		sorted[i] = &l->items[i];
	qsort(sorted, l->n, sizeof(*sorted), cmp_kv);
	key(c, k);
	open_(c, "{");
	for (i = 0; i < l->n; i++)
		k_str(c, sorted[i]->key, sorted[i]->value);
	close_(c, "}");
	free(sorted);
}

static void k_health(struct canon *c, const struct manifest_service *s,
                     bool raw_forms)
{
	const struct manifest_health *h = &s->health;

	if (!s->has_health) {
		k_str(c, "health", NULL);
		return;
	}
	key(c, "health");
	open_(c, "{");
	k_int(c, "expect_status", h->expect_status);
	k_str(c, "http", raw_forms ? h->http_raw : h->http);
	k_int(c, "interval_s", h->interval_s);
	k_int(c, "retries", h->retries);
	k_int(c, "start_period_s", h->start_period_s);
	k_int(c, "timeout_s", h->timeout_s);
	close_(c, "}");
}

static void canon_init(struct canon *c)
{
	c->md = EVP_MD_CTX_new();
	c->len = 0;
	c->first = true;
	if (c->md == NULL || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
		abort();
}

/* Finishes the digest into a new 64-char hex string. */
static char *canon_finish(struct canon *c)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char *out = malloc(65);

	flush(c);
	if (out == NULL || EVP_DigestFinal_ex(c->md, md, &mdlen) != 1 ||
	    mdlen != 32)
		abort();
	EVP_MD_CTX_free(c->md);
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return out;
}

void hash_sha256_hex(char out[65], const void *data, size_t len)
{
	struct canon *c = malloc(sizeof(*c));
	char *hex;

	if (c == NULL)
		abort();
	canon_init(c);
	raw(c, data, len);
	hex = canon_finish(c);
	memcpy(out, hex, 65);
	free(hex);
	free(c);
}

char *hash_service(const struct manifest *m, const struct manifest_service *s)
{
	struct canon *c = malloc(sizeof(*c));
	char *hex;

	if (c == NULL)
		abort();
	canon_init(c);
	open_(c, "{");
	k_int(c, "berth_service", 1);
	k_strv(c, "command", &s->command);
	if (m->driver == MANIFEST_DRIVER_COMPOSE) {
		k_str(c, "compose_file", m->compose_file);
		k_str(c, "compose_project", m->compose_project);
	}
	k_str(c, "driver", driver_names[m->driver]);
	k_env(c, "env", &s->env);
	k_str(c, "env_file", m->env_file_hash);
	k_health(c, s, false);
	k_ports(c, "ports", s->ports, s->nports);
	k_int(c, "stop_timeout_s", s->stop_timeout_s);
	close_(c, "}");
	hex = canon_finish(c);
	free(c);
	return hex;
}

static void k_checks(struct canon *c, const struct manifest_checks *ch)
{
	key(c, "checks");
	open_(c, "{");
	k_int(c, "disk_free_pct", ch->disk_free_pct);
	k_strv(c, "env_required", &ch->env_required);
	k_int(c, "mem_free_mb", ch->mem_free_mb);
	k_ports(c, "ports_free", ch->ports_free, ch->nports_free);
	close_(c, "}");
}

static void k_database(struct canon *c, const struct manifest_database *db)
{
	if (!db->present) {
		k_str(c, "database", NULL);
		return;
	}
	key(c, "database");
	open_(c, "{");
	key(c, "backup");
	open_(c, "{");
	k_str(c, "dir", db->backup_dir);
	k_str(c, "format", format_names[db->backup_format]);
	key(c, "retention");
	open_(c, "{");
	k_int(c, "daily", db->retention_daily);
	k_int(c, "monthly", db->retention_monthly);
	k_int(c, "weekly", db->retention_weekly);
	close_(c, "}");
	k_str(c, "schedule", db->backup_schedule);
	k_str(c, "verify", verify_names[db->backup_verify]);
	close_(c, "}");
	key(c, "migrations");
	open_(c, "{");
	if (db->migrations == MANIFEST_MIGRATIONS_COMMAND)
		k_strv(c, "command", &db->migrate_command);
	k_int(c, "lock_timeout_s", db->lock_timeout_s);
	if (db->migrations == MANIFEST_MIGRATIONS_SQL_DIR)
		k_str(c, "sql_dir", db->sql_dir);
	k_int(c, "statement_timeout_s", db->statement_timeout_s);
	close_(c, "}");
	/* Only when set: manifests without it keep their hash. */
	if (db->service != NULL)
		k_str(c, "service", db->service);
	k_str(c, "url_env", db->url_env);
	close_(c, "}");
}

/* Services by name (m->by_name is sorted), each as written. */
static void k_services(struct canon *c, const struct manifest *m)
{
	size_t i;

	key(c, "services");
	open_(c, "{");
	for (i = 0; i < m->nservices; i++) {
		const struct manifest_service *s = &m->services[m->by_name[i]];

		key(c, s->name);
		open_(c, "{");
		k_strv(c, "command", &s->command_raw);
		k_strv(c, "depends_on", &s->depends_on);
		k_env(c, "env", &s->env);
		k_health(c, s, true);
		k_ports(c, "ports", s->ports, s->nports);
		k_int(c, "stop_timeout_s", s->stop_timeout_s);
		close_(c, "}");
	}
	close_(c, "}");
}

static void k_smoke(struct canon *c, const struct manifest *m)
{
	size_t i;

	key(c, "smoke");
	open_(c, "[");
	for (i = 0; i < m->nsmoke; i++) {
		const struct manifest_smoke *t = &m->smoke[i];

		sep(c);
		open_(c, "{");
		k_str(c, "expect_body", t->expect_body);
		k_int(c, "expect_status", t->expect_status);
		k_str(c, "name", t->name);
		k_int(c, "timeout_s", t->timeout_s);
		k_str(c, "url", t->url_raw);
		close_(c, "}");
	}
	close_(c, "]");
}

char *hash_manifest(const struct manifest *m)
{
	struct canon *c = malloc(sizeof(*c));
	char *hex;
	size_t i;

	if (c == NULL)
		abort();
	canon_init(c);
	open_(c, "{");
	k_str(c, "app", m->app);
	k_int(c, "berth_manifest", 1);
	key(c, "build");
	open_(c, "[");
	for (i = 0; i < m->nbuild; i++) {
		size_t k;

		sep(c);
		open_(c, "[");
		for (k = 0; k < m->build[i].n; k++) {
			sep(c);
			str(c, m->build[i].v[k]);
		}
		close_(c, "]");
	}
	close_(c, "]");
	k_checks(c, &m->checks);
	key(c, "compose");
	open_(c, "{");
	k_str(c, "file", m->compose_file);
	k_str(c, "project", m->compose_project);
	close_(c, "}");
	k_database(c, &m->db);
	key(c, "drift");
	open_(c, "{");
	k_str(c, "action", drift_names[m->drift_action]);
	k_int(c, "interval_s", m->drift_interval_s);
	close_(c, "}");
	k_str(c, "driver", driver_names[m->driver]);
	key(c, "notify");
	open_(c, "[");
	for (i = 0; i < m->nnotify; i++) {
		sep(c);
		open_(c, "{");
		k_str(c, "type", notify_names[m->notify[i].type]);
		k_str(c, "url_env", m->notify[i].url_env);
		close_(c, "}");
	}
	close_(c, "]");
	key(c, "releases");
	open_(c, "{");
	k_int(c, "keep", m->releases_keep);
	close_(c, "}");
	key(c, "rollback");
	open_(c, "{");
	k_bool(c, "automatic", m->rollback_automatic);
	k_str(c, "database", rollback_db_names[m->rollback_database]);
	close_(c, "}");
	k_services(c, m);
	k_smoke(c, m);
	k_int(c, "version", m->version);
	close_(c, "}");
	hex = canon_finish(c);
	free(c);
	return hex;
}
