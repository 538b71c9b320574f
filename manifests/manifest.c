/*
 * manifest.c — manifest_parse(): berth.json (SPEC §3) into struct manifest.
 * The top level and the small sections are read here; services, database,
 * dependencies and hashes have files of their own. Every field is checked
 * and every problem reported, so that a push shows all that is wrong at
 * once. manifest_check_release() checks the paths against a checkout.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "manifest.h"

static const char *const top_keys[] = {
    "$schema",  "version", "app",      "driver", "build",
    "services", "compose", "database", "checks", "smoke",
    "rollback", "drift",   "releases", "notify", NULL,
};
static const char *const compose_keys[] = {"file", "project", NULL};
static const char *const checks_keys[] = {
    "disk_free_pct", "mem_free_mb", "ports_free", "env_required", NULL,
};
static const char *const smoke_keys[] = {
    "name", "url", "expect_status", "expect_body", "timeout_s", NULL,
};
static const char *const rollback_keys[] = {"automatic", "database", NULL};
static const char *const drift_keys[] = {"interval_s", "action", NULL};
static const char *const releases_keys[] = {"keep", NULL};
static const char *const notify_keys[] = {"type", "url_env", NULL};

/* In the order of their enums. */
static const char *const driver_names[] = {"process", "compose", NULL};
static const char *const rollback_db_names[] = {"restore", "keep", NULL};
static const char *const drift_names[] = {"report", "heal", "off", NULL};
static const char *const notify_names[] = {"slack", "webhook", NULL};

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		abort();
	return p;
}

/* Reads an optional object section obj[key], then calls fn on it with the
 * path pointing at it. Returns 0, or -1 when anything was wrong. */
static int section(struct mparse *p, struct manifest *m, const json_t *obj,
                   const char *key,
                   int (*fn)(struct mparse *, struct manifest *,
                             const json_t *))
{
	const json_t *v;
	size_t old;
	int rc;

	if (validate_object(p, &v, obj, key, 0) != 0)
		return -1;
	if (v == NULL)
		return 0;
	old = validate_push_key(p, key);
	rc = fn(p, m, v);
	validate_pop(p, old);
	return rc;
}

static int parse_version(struct mparse *p, struct manifest *m,
                         const json_t *root)
{
	const json_t *v = json_object_get(root, "version");
	size_t old = validate_push_key(p, "version");
	int rc = 0;

	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		validate_expected(p, "1 (the manifest format version)", v);
		rc = -1;
	}
	m->version = 1;
	validate_pop(p, old);
	return rc;
}

static int parse_app(struct mparse *p, struct manifest *m, const json_t *root)
{
	return validate_name(p, &m->app, root, "app", VALIDATE_REQUIRED,
	                     validate_is_appname, VALIDATE_APPNAME);
}

static int parse_driver(struct mparse *p, struct manifest *m,
                        const json_t *root)
{
	const json_t *v = json_object_get(root, "driver");
	const char *s = json_string_value(v);
	size_t old;
	int driver = MANIFEST_DRIVER_PROCESS;

	if (s != NULL &&
	    (strcmp(s, "swarm") == 0 || strcmp(s, "kubernetes") == 0)) {
		old = validate_push_key(p, "driver");
		validate_error(p,
		               "driver \"%s\" is not supported in this "
		               "version (use \"process\" or \"compose\")",
		               s);
		validate_pop(p, old);
		p->driver_unknown = true;
		return -1;
	}
	if (validate_enum(p, &driver, root, "driver", driver_names, 0) != 0) {
		p->driver_unknown = true;
		return -1;
	}
	m->driver = (enum manifest_driver)driver;
	return 0;
}

static int parse_build(struct mparse *p, struct manifest *m, const json_t *root)
{
	const json_t *v, *cmd;
	size_t old, i;
	int rc = 0;

	if (validate_array(p, &v, root, "build",
	                   "an array of commands (each an array of strings)") !=
	    0)
		return -1;
	if (v == NULL)
		return 0;
	old = validate_push_key(p, "build");
	m->build = xcalloc(json_array_size(v), sizeof(*m->build));
	json_array_foreach(v, i, cmd)
	{
		size_t o = validate_push_index(p, i);
		struct strv *argv = &m->build[m->nbuild++];

		if (validate_argv(p, argv, cmd) != 0) {
			rc = -1;
		} else {
			size_t o0 = validate_push_index(p, 0);

			if (confine_command(p, argv->v[0]) != 0)
				rc = -1;
			validate_pop(p, o0);
		}
		validate_pop(p, o);
	}
	validate_pop(p, old);
	return rc;
}

static int parse_compose(struct mparse *p, struct manifest *m, const json_t *v)
{
	int rc = 0;
	size_t old;

	if (validate_keys(p, v, compose_keys) > 0)
		rc = -1;
	if (validate_string(p, &m->compose_file, v, "file",
	                    VALIDATE_NONEMPTY) != 0) {
		rc = -1;
	} else {
		old = validate_push_key(p, "file");
		if (confine_relpath(p, m->compose_file) != 0)
			rc = -1;
		validate_pop(p, old);
	}
	if (validate_name(p, &m->compose_project, v, "project", 0,
	                  validate_is_appname, VALIDATE_APPNAME) != 0)
		rc = -1;
	return rc;
}

static int parse_database(struct mparse *p, struct manifest *m,
                          const json_t *root)
{
	const json_t *v;

	if (validate_object(p, &v, root, "database", 0) != 0) {
		database_parse(p, &m->db, NULL);
		return -1;
	}
	if (database_parse(p, &m->db, v) != 0)
		return -1;
	if (m->db.service != NULL && m->driver != MANIFEST_DRIVER_COMPOSE) {
		size_t old = validate_push_key(p, "database");
		size_t old2 = validate_push_key(p, "service");

		validate_error(p, "needs \"driver\": \"compose\" (the database "
		                  "tools run in that compose service's "
		                  "container)");
		validate_pop(p, old2);
		validate_pop(p, old);
		return -1;
	}
	return 0;
}

static int parse_checks(struct mparse *p, struct manifest *m, const json_t *v)
{
	struct manifest_checks *c = &m->checks;
	int rc = 0;

	if (validate_keys(p, v, checks_keys) > 0)
		rc = -1;
	if (validate_int(p, &c->disk_free_pct, v, "disk_free_pct", 0, 99, 0))
		rc = -1;
	if (validate_int(p, &c->mem_free_mb, v, "mem_free_mb", 0, 1048576, 0))
		rc = -1;
	if (validate_ports(p, &c->ports_free, &c->nports_free, v,
	                   "ports_free") != 0)
		rc = -1;
	if (validate_varnames(p, &c->env_required, v, "env_required") != 0)
		rc = -1;
	return rc;
}

static int parse_one_smoke(struct mparse *p, struct manifest_smoke *t,
                           const json_t *v)
{
	int rc = 0;
	size_t old;

	t->expect_status = 200;
	t->timeout_s = 10;
	if (!json_is_object(v)) {
		validate_expected(p, "an object", v);
		return -1;
	}
	if (validate_keys(p, v, smoke_keys) > 0)
		rc = -1;
	if (validate_string(p, &t->name, v, "name",
	                    VALIDATE_REQUIRED | VALIDATE_NONEMPTY) != 0)
		rc = -1;
	if (validate_string(p, &t->url_raw, v, "url",
	                    VALIDATE_REQUIRED | VALIDATE_NONEMPTY) != 0) {
		rc = -1;
	} else {
		old = validate_push_key(p, "url");
		if (expand_url(p, &t->url, t->url_raw, NULL,
		               json_object_get(v, "url")) != 0)
			rc = -1;
		validate_pop(p, old);
	}
	if (validate_int(p, &t->expect_status, v, "expect_status", 100, 599,
	                 0) != 0)
		rc = -1;
	if (validate_string(p, &t->expect_body, v, "expect_body",
	                    VALIDATE_NONEMPTY) != 0)
		rc = -1;
	if (validate_int(p, &t->timeout_s, v, "timeout_s", 1, 600, 0) != 0)
		rc = -1;
	return rc;
}

/* Reports every smoke test whose name an earlier one already has. */
static int check_smoke_names(struct mparse *p, const struct manifest *m)
{
	struct validate_ref *refs = xcalloc(m->nsmoke, sizeof(*refs));
	size_t *first = xcalloc(m->nsmoke, sizeof(*first)), i, n = 0;
	int rc = 0;

	for (i = 0; i < m->nsmoke; i++) {
		first[i] = i;
		if (m->smoke[i].name != NULL) {
			refs[n].name = m->smoke[i].name;
			refs[n++].index = i;
		}
	}
	validate_sort_refs(refs, n);
	for (i = 1; i < n; i++)
		if (strcmp(refs[i].name, refs[i - 1].name) == 0)
			first[refs[i].index] = first[refs[i - 1].index];
	for (i = 0; i < m->nsmoke; i++) {
		size_t old;

		if (first[i] == i)
			continue;
		old = validate_push_index(p, i);
		validate_push_key(p, "name");
		validate_error(p,
		               "duplicate smoke test name \"%.64s\" (also "
		               "$.smoke[%zu])",
		               m->smoke[i].name, first[i]);
		validate_pop(p, old);
		rc = -1;
	}
	free(first);
	free(refs);
	return rc;
}

static int parse_smoke(struct mparse *p, struct manifest *m, const json_t *root)
{
	const json_t *v, *t;
	size_t old, i;
	int rc = 0;

	if (validate_array(p, &v, root, "smoke", "an array of smoke tests") !=
	    0)
		return -1;
	if (v == NULL)
		return 0;
	old = validate_push_key(p, "smoke");
	m->smoke = xcalloc(json_array_size(v), sizeof(*m->smoke));
	json_array_foreach(v, i, t)
	{
		size_t o = validate_push_index(p, i);

		if (parse_one_smoke(p, &m->smoke[m->nsmoke++], t) != 0)
			rc = -1;
		validate_pop(p, o);
	}
	if (check_smoke_names(p, m) != 0)
		rc = -1;
	validate_pop(p, old);
	return rc;
}

static int parse_rollback(struct mparse *p, struct manifest *m, const json_t *v)
{
	int db = (int)m->rollback_database, rc = 0;

	if (validate_keys(p, v, rollback_keys) > 0)
		rc = -1;
	if (validate_bool(p, &m->rollback_automatic, v, "automatic", 0) != 0)
		rc = -1;
	if (validate_enum(p, &db, v, "database", rollback_db_names, 0) != 0)
		rc = -1;
	m->rollback_database = (enum manifest_rollback_db)db;
	return rc;
}

static int parse_drift(struct mparse *p, struct manifest *m, const json_t *v)
{
	int action = (int)m->drift_action, rc = 0;

	if (validate_keys(p, v, drift_keys) > 0)
		rc = -1;
	if (validate_int(p, &m->drift_interval_s, v, "interval_s", 10, 604800,
	                 0) != 0)
		rc = -1;
	if (validate_enum(p, &action, v, "action", drift_names, 0) != 0)
		rc = -1;
	m->drift_action = (enum manifest_drift_action)action;
	return rc;
}

static int parse_releases(struct mparse *p, struct manifest *m, const json_t *v)
{
	int rc = 0;

	if (validate_keys(p, v, releases_keys) > 0)
		rc = -1;
	if (validate_int(p, &m->releases_keep, v, "keep", 1, 1000, 0) != 0)
		rc = -1;
	return rc;
}

static int parse_notify(struct mparse *p, struct manifest *m,
                        const json_t *root)
{
	const json_t *v, *n;
	size_t old, i;
	int rc = 0;

	if (validate_array(p, &v, root, "notify", "an array of notifiers") != 0)
		return -1;
	if (v == NULL)
		return 0;
	old = validate_push_key(p, "notify");
	m->notify = xcalloc(json_array_size(v), sizeof(*m->notify));
	json_array_foreach(v, i, n)
	{
		struct manifest_notifier *t = &m->notify[m->nnotify++];
		size_t o = validate_push_index(p, i);
		int type = 0;

		if (!json_is_object(n)) {
			validate_expected(p, "an object", n);
			rc = -1;
			validate_pop(p, o);
			continue;
		}
		if (validate_keys(p, n, notify_keys) > 0)
			rc = -1;
		if (validate_enum(p, &type, n, "type", notify_names,
		                  VALIDATE_REQUIRED) != 0)
			rc = -1;
		t->type = (enum manifest_notify_type)type;
		if (validate_name(p, &t->url_env, n, "url_env",
		                  VALIDATE_REQUIRED, validate_is_varname,
		                  VALIDATE_VARNAME) != 0)
			rc = -1;
		validate_pop(p, o);
	}
	validate_pop(p, old);
	return rc;
}

/* Every port belongs to one service; checks.ports_free names ports that
 * no service of the manifest declares (those are checked anyway). */
static int check_ports(struct mparse *p, const struct manifest *m)
{
	uint32_t *owner = NULL; /* service index + 1, by port */
	size_t i, k, old;
	int rc = 0;

	for (i = 0; i < m->nservices; i++) {
		const struct manifest_service *s = &m->services[i];

		for (k = 0; k < s->nports; k++) {
			int port = s->ports[k];

			if (owner == NULL)
				owner = xcalloc(65536, sizeof(*owner));
			if (owner[port] != 0 && owner[port] != i + 1) {
				old = validate_push_key(p, "services");
				validate_push_key(p, s->name);
				validate_push_key(p, "ports");
				validate_push_index(p, k);
				validate_error(
				    p,
				    "port %d is also a port of "
				    "service \"%s\"",
				    port, m->services[owner[port] - 1].name);
				validate_pop(p, old);
				rc = -1;
			} else {
				owner[port] = (uint32_t)(i + 1);
			}
		}
	}
	for (k = 0; owner != NULL && k < m->checks.nports_free; k++) {
		int port = m->checks.ports_free[k];

		if (owner[port] == 0)
			continue;
		old = validate_push_key(p, "checks");
		validate_push_key(p, "ports_free");
		validate_push_index(p, k);
		validate_error(p,
		               "port %d is a port of service \"%s\", "
		               "which is checked anyway",
		               port, m->services[owner[port] - 1].name);
		validate_pop(p, old);
		rc = -1;
	}
	free(owner);
	return rc;
}

static bool blank(const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!strchr(" \t\r\n", data[i]) || data[i] == '\0')
			return false;
	return true;
}

/* Fills in every default that does not depend on the file. */
static void set_defaults(struct manifest *m)
{
	m->version = 1;
	m->driver = MANIFEST_DRIVER_PROCESS;
	m->compose_file = xstrdup("docker-compose.yml");
	m->checks.disk_free_pct = 10;
	m->checks.mem_free_mb = 256;
	m->rollback_automatic = true;
	m->rollback_database = MANIFEST_ROLLBACK_DB_RESTORE;
	m->drift_interval_s = 300;
	m->drift_action = MANIFEST_DRIFT_REPORT;
	m->releases_keep = 5;
}

static void parse_root(struct mparse *p, struct manifest *m, const json_t *root)
{
	validate_keys(p, root, top_keys);
	if (json_object_get(root, "$schema") != NULL &&
	    !json_is_string(json_object_get(root, "$schema"))) {
		size_t old = validate_push_key(p, "$schema");

		validate_expected(p, "a string (the schema's URL)",
		                  json_object_get(root, "$schema"));
		validate_pop(p, old);
	}
	parse_version(p, m, root);
	parse_app(p, m, root);
	parse_driver(p, m, root);
	parse_build(p, m, root);
	section(p, m, root, "compose", parse_compose);
	if (m->compose_project == NULL)
		m->compose_project = xstrdup(m->app ? m->app : "");
	service_parse_all(p, m, json_object_get(root, "services"));
	parse_database(p, m, root);
	section(p, m, root, "checks", parse_checks);
	parse_smoke(p, m, root);
	section(p, m, root, "rollback", parse_rollback);
	section(p, m, root, "drift", parse_drift);
	section(p, m, root, "releases", parse_releases);
	parse_notify(p, m, root);
	check_ports(p, m);
	if (m->nservices > 0)
		deps_order(p, m);
}

struct manifest *manifest_parse(const char *data, size_t len,
                                const struct manifest_ctx *ctx,
                                struct merrs *errs)
{
	struct mparse *p = NULL;
	struct manifest *m = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	size_t errs_before = errs->n, i;
	const char *file = ctx && ctx->file ? ctx->file : "berth.json";

	/* Editors on some systems start UTF-8 files with a byte order mark;
	 * JSON allows a parser to ignore it. */
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if (len > MANIFEST_MAX_BYTES) {
		merrs_add(errs, "%s: expected at most %u bytes, got %zu", file,
		          MANIFEST_MAX_BYTES, len);
		return NULL;
	}
	if (blank(data, len)) {
		merrs_add(errs, "%s: $: expected an object, got an empty file",
		          file);
		return NULL;
	}
	root = json_loadb(data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	                  &jerr);
	if (root == NULL) {
		merrs_add(errs, "%s: line %d column %d: %s", file, jerr.line,
		          jerr.column, jerr.text);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->file = file;
	p->errs = errs;
	p->vars = ctx ? ctx->vars : NULL;
	p->path[0] = '$';
	p->len = 1;
	m = xcalloc(1, sizeof(*m));
	m->file = xstrdup(file);
	set_defaults(m);
	if (!json_is_object(root))
		validate_expected(p, "an object", root);
	else
		parse_root(p, m, root);
	if (p->dropped > 0)
		merrs_add(errs, "%s: %zu more errors not shown", file,
		          p->dropped);
	if (errs->n != errs_before) {
		manifest_free(m);
		m = NULL;
		goto out;
	}
	if (ctx != NULL && ctx->env_file_hash != NULL)
		m->env_file_hash = xstrdup(ctx->env_file_hash);
	for (i = 0; i < m->nservices; i++)
		m->services[i].hash = hash_service(m, &m->services[i]);
	m->hash = hash_manifest(m);
out:
	free(p);
	json_decref(root);
	return m;
}

void manifest_free(struct manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	free(m->file);
	free(m->app);
	for (i = 0; i < m->nbuild; i++)
		strv_release(&m->build[i]);
	free(m->build);
	for (i = 0; i < m->nservices; i++)
		service_release(&m->services[i]);
	free(m->services);
	free(m->order);
	free(m->by_name);
	free(m->compose_file);
	free(m->compose_project);
	database_release(&m->db);
	free(m->checks.ports_free);
	strv_release(&m->checks.env_required);
	for (i = 0; i < m->nsmoke; i++) {
		free(m->smoke[i].name);
		free(m->smoke[i].url);
		free(m->smoke[i].url_raw);
		free(m->smoke[i].expect_body);
	}
	free(m->smoke);
	for (i = 0; i < m->nnotify; i++)
		free(m->notify[i].url_env);
	free(m->notify);
	free(m->env_file_hash);
	free(m->hash);
	free(m);
}

/* Checks one repository path of the manifest against the release root;
 * kind: 0 any (need not exist), 'd' an existing directory, 'f' an
 * existing regular file. The path to report at is already pushed. */
static int check_path(struct mparse *p, const char *root, const char *rel,
                      int kind)
{
	char *resolved = NULL;
	struct stat st;
	int rc = -1;

	if (confine_resolve(&resolved, root, rel) != 0) {
		validate_error(p, "cannot resolve \"%s\" in the release: %s",
		               rel, strerror(errno));
		goto out;
	}
	if (!confine_inside(root, resolved)) {
		validate_error(p,
		               "\"%s\" leaves the release through a "
		               "symlink (it resolves to \"%s\")",
		               rel, resolved);
		goto out;
	}
	if (kind != 0 && stat(resolved, &st) != 0) {
		validate_error(p, "\"%s\" does not exist in the release", rel);
		goto out;
	}
	if (kind == 'd' && !S_ISDIR(st.st_mode)) {
		validate_error(p, "\"%s\" is not a directory", rel);
		goto out;
	}
	if (kind == 'f' && !S_ISREG(st.st_mode)) {
		validate_error(p, "\"%s\" is not a regular file", rel);
		goto out;
	}
	rc = 0;
out:
	free(resolved);
	return rc;
}

/* The command's program, when it is a path into the release. */
static void check_command(struct mparse *p, const char *root,
                          const struct strv *argv, int *rc)
{
	size_t old;

	if (argv->n == 0 || argv->v[0][0] == '/' ||
	    strchr(argv->v[0], '/') == NULL)
		return;
	old = validate_push_index(p, 0);
	if (check_path(p, root, argv->v[0], 0) != 0)
		*rc = -1;
	validate_pop(p, old);
}

int manifest_check_release(const struct manifest *m, const char *release_dir,
                           struct merrs *errs)
{
	struct mparse *p = xcalloc(1, sizeof(*p));
	char *root = realpath(release_dir, NULL);
	size_t i, old;
	int rc = 0;

	p->file = m->file;
	p->errs = errs;
	p->path[0] = '$';
	p->len = 1;
	if (root == NULL) {
		merrs_add(errs, "cannot open release directory '%s': %s",
		          release_dir, strerror(errno));
		rc = -1;
		goto out;
	}
	for (i = 0; i < m->nbuild; i++) {
		old = validate_push_key(p, "build");
		validate_push_index(p, i);
		check_command(p, root, &m->build[i], &rc);
		validate_pop(p, old);
	}
	for (i = 0; i < m->nservices; i++) {
		old = validate_push_key(p, "services");
		validate_push_key(p, m->services[i].name);
		validate_push_key(p, "command");
		check_command(p, root, &m->services[i].command, &rc);
		validate_pop(p, old);
	}
	if (m->driver == MANIFEST_DRIVER_COMPOSE) {
		old = validate_push_key(p, "compose");
		validate_push_key(p, "file");
		if (check_path(p, root, m->compose_file, 'f') != 0)
			rc = -1;
		validate_pop(p, old);
	}
	old = validate_push_key(p, "database");
	validate_push_key(p, "migrations");
	if (m->db.migrations == MANIFEST_MIGRATIONS_SQL_DIR) {
		size_t o = validate_push_key(p, "sql_dir");

		if (check_path(p, root, m->db.sql_dir, 'd') != 0)
			rc = -1;
		validate_pop(p, o);
	} else if (m->db.migrations == MANIFEST_MIGRATIONS_COMMAND) {
		size_t o = validate_push_key(p, "command");

		check_command(p, root, &m->db.migrate_command, &rc);
		validate_pop(p, o);
	}
	validate_pop(p, old);
out:
	free(root);
	free(p);
	return rc;
}
