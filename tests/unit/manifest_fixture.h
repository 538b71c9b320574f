/*
 * manifest_fixture.h — manifests built by hand for the tests of the
 * drivers, health checks, smoke tests and pre-deploy checks: the fields a
 * test sets, the parser's defaults for the rest (so a test can set what
 * the parser would refuse, such as a service name with a slash). Freed by
 * manifest_free like a parsed one. Include after berth.h.
 */
#ifndef BERTH_MANIFEST_FIXTURE_H
#define BERTH_MANIFEST_FIXTURE_H

/* A process-driver manifest with no service, no database, the parser's
 * default checks. Free with mf_free. */
static inline struct manifest *mf_new(void)
{
	struct manifest *m = xcalloc(1, sizeof(*m));

	m->version = 1;
	m->app = xstrdup("test");
	m->driver = MANIFEST_DRIVER_PROCESS;
	m->checks.disk_free_pct = 10;
	m->checks.mem_free_mb = 256;
	m->rollback_automatic = true;
	m->releases_keep = 5;
	return m;
}

/* Adds a service running argv (NULL-terminated); the pointer returned is
 * valid until the next mf_service. */
static inline struct manifest_service *
mf_service(struct manifest *m, const char *name, const char *const *argv)
{
	struct manifest_service *s;
	size_t i;

	m->services =
	    xrealloc(m->services, (m->nservices + 1) * sizeof(*m->services));
	m->order = xrealloc(m->order, (m->nservices + 1) * sizeof(*m->order));
	m->order[m->nservices] = m->nservices;
	s = &m->services[m->nservices++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	for (i = 0; argv[i] != NULL; i++) {
		strv_push(&s->command, argv[i]);
		strv_push(&s->command_raw, argv[i]);
	}
	kvlist_init(&s->env);
	s->stop_timeout_s = 30;
	s->health.expect_status = 200;
	s->health.interval_s = 2;
	s->health.timeout_s = 5;
	s->health.retries = 3;
	s->hash = xasprintf("%064d", (int)m->nservices);
	return s;
}

/* Gives s an HTTP health check. */
static inline void mf_health(struct manifest_service *s, const char *url,
                             int start_period_s, int interval_s, int timeout_s,
                             int retries)
{
	s->has_health = true;
	free(s->health.http);
	free(s->health.http_raw);
	s->health.http = xstrdup(url);
	s->health.http_raw = xstrdup(url);
	s->health.start_period_s = start_period_s;
	s->health.interval_s = interval_s;
	s->health.timeout_s = timeout_s;
	s->health.retries = retries;
}

static inline void mf_port(struct manifest_service *s, int port)
{
	s->ports = xrealloc(s->ports, (s->nports + 1) * sizeof(*s->ports));
	s->ports[s->nports++] = port;
}

/* Adds a build command (NULL-terminated argv). */
static inline void mf_build(struct manifest *m, const char *const *argv)
{
	size_t i;

	m->build = xrealloc(m->build, (m->nbuild + 1) * sizeof(*m->build));
	memset(&m->build[m->nbuild], 0, sizeof(*m->build));
	for (i = 0; argv[i] != NULL; i++)
		strv_push(&m->build[m->nbuild], argv[i]);
	m->nbuild++;
}

/* Adds a smoke test; body may be NULL. */
static inline void mf_smoke(struct manifest *m, const char *name,
                            const char *url, int status, const char *body,
                            int timeout_s)
{
	struct manifest_smoke *t;

	m->smoke = xrealloc(m->smoke, (m->nsmoke + 1) * sizeof(*m->smoke));
	t = &m->smoke[m->nsmoke++];
	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
	t->url = xstrdup(url);
	t->url_raw = xstrdup(url);
	t->expect_status = status;
	t->expect_body = body ? xstrdup(body) : NULL;
	t->timeout_s = timeout_s;
}

/* Gives m a database section with sql_dir migrations. */
static inline void mf_database(struct manifest *m, const char *url_env,
                               const char *sql_dir)
{
	m->db.present = true;
	m->db.url_env = xstrdup(url_env);
	m->db.migrations = MANIFEST_MIGRATIONS_SQL_DIR;
	m->db.sql_dir = xstrdup(sql_dir);
	m->db.lock_timeout_s = 10;
	m->db.backup_dir = xstrdup("backups");
	m->db.backup_format = MANIFEST_BACKUP_CUSTOM;
	m->db.backup_verify = MANIFEST_VERIFY_TOC;
}

static inline void mf_free(struct manifest *m)
{
	manifest_free(m);
}

#endif
