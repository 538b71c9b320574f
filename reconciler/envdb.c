/*
 * envdb.c — an environment's database as berth's tools reach it: the URL
 * from the env file, the tools' environment, the prefix that runs them in
 * the database's container when the manifest says so, and the backup
 * directory. Also what the backups of an environment need from its state:
 * which ones are protected from pruning, and the connections to end before
 * a restore. See docs/backups.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

/* Seconds a tool of a backup or restore may run; none: a big database
 * takes as long as it takes, and the restore has its own lock timeout. */
#define ENVDB_TOOL_TIMEOUT_S 0

int envdb_prefix(struct strv *out, const struct manifest *m,
                 const char *release_dir, const char *url,
                 const struct kvlist *env, struct berr *err)
{
	/* What pgtool_cmd_init sets besides the URL's own parameters. */
	static const char *const always[] = {"PGDATABASE", "PGAPPNAME",
	                                     "PGCONNECT_TIMEOUT"};
	struct kvlist params;
	struct strv names = {0};
	size_t i;
	int rc = -1;

	if (m->db.service == NULL)
		return 0;
	kvlist_init(&params);
	if (release_dir == NULL) {
		berr_set(err,
		         "database.service '%s': no release runs, so there is "
		         "no container to run the database tools in",
		         m->db.service);
		goto out;
	}
	if (pg_url_env(&params, url, err) != 0)
		goto out;
	for (i = 0; i < params.n; i++)
		strv_push(&names, params.items[i].key);
	for (i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		if (!strv_contains(&names, always[i]))
			strv_push(&names, always[i]);
	rc = driver_compose_exec_argv(out, m, release_dir, m->db.service,
	                              (const char *const *)names.v, env, err);
	if (rc != 0)
		berr_prefix(err, "database.service '%s'", m->db.service);
out:
	strv_release(&names);
	kvlist_release(&params);
	return rc;
}

int envdb_open(struct envdb *out, struct envctx *ctx, const struct manifest *m,
               const char *release_dir, struct berr *err)
{
	const struct manifest_database *db = &m->db;
	const char *url;
	char *serving = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	kvlist_init(&out->env);
	out->m = m;
	if (!db->present)
		return berr_set(err, "the manifest has no database");
	url = envctx_var(ctx, db->url_env);
	if (url == NULL || url[0] == '\0')
		return berr_set(err, "%s is not set in the env file",
		                db->url_env);
	driver_env(&out->env, &ctx->vars, NULL);
	out->tool.url = url;
	out->tool.env = &out->env;
	out->tool.timeout_s = ENVDB_TOOL_TIMEOUT_S;
	out->dir = backup_dir(ctx->st.env_dir, db->backup_dir);
	out->display = pg_url_display(url);
	if (db->service != NULL && release_dir == NULL)
		serving = dbstep_serving_dir(ctx);
	rc = envdb_prefix(&out->prefix, m, release_dir ? release_dir : serving,
	                  url, &out->env, err);
	free(serving);
	if (rc != 0)
		return -1;
	if (out->prefix.n > 0)
		out->tool.prefix = (const char *const *)out->prefix.v;
	return 0;
}

void envdb_close(struct envdb *db)
{
	if (db == NULL)
		return;
	kvlist_release(&db->env);
	strv_release(&db->prefix);
	free(db->dir);
	free(db->display);
	memset(db, 0, sizeof(*db));
}

void envdb_backup_opts(struct backup_create_opts *o, const struct envdb *db,
                       enum backup_kind kind, const struct deployment *d)
{
	memset(o, 0, sizeof(*o));
	o->dir = db->dir;
	o->format = db->m->db.backup_format;
	o->kind = kind;
	if (d != NULL) {
		o->deployment_id = d->id;
		o->commit = d->commit[0] != '\0' ? d->commit : NULL;
		o->env = d->env;
	}
}

/*
 * The sessions of the database that a restore would wait for: every other
 * client session of the database that this role may end (its own, its
 * members'; a superuser's only when the role is one). The app's services
 * are stopped before; what is left is a process berth does not run (a
 * worker, a console), whose locks would hold the restore up.
 */
static const char terminate_sql[] =
    "SELECT a.pid::text, coalesce(a.application_name, ''),"
    " pg_terminate_backend(a.pid)::text"
    " FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid"
    " WHERE a.datname = current_database()"
    " AND a.pid <> pg_backend_pid()"
    " AND a.backend_type = 'client backend'"
    " AND pg_has_role(a.usesysid, 'USAGE')"
    " AND (NOT r.rolsuper OR (SELECT rolsuper FROM pg_roles"
    "  WHERE rolname = current_user))";

int envdb_terminate(struct strv *ended, const struct envdb *db,
                    struct berr *err)
{
	struct pg_rows rows;
	size_t i;
	int rc;

	rc = pgtool_query(&rows, &db->tool, NULL, terminate_sql, 3, err);
	for (i = 0; rc == 0 && i < rows.nrows; i++) {
		const char *app = pg_rows_get(&rows, i, 1);
		char *who;

		if (strcmp(pg_rows_get(&rows, i, 2), "t") != 0)
			continue;
		who = app[0] != '\0'
		          ? xasprintf("pid %s '%s'", pg_rows_get(&rows, i, 0),
		                      app)
		          : xasprintf("pid %s", pg_rows_get(&rows, i, 0));
		strv_push(ended, who);
		free(who);
	}
	pg_rows_release(&rows);
	if (rc != 0)
		berr_prefix(err, "cannot end the other sessions of %s",
		            db->display);
	return rc;
}

/* Adds d's paired backup, and the one that undoes what came after d (what
 * `berth rollback` would restore), to out. */
static void protect_deployment(struct strv *out, struct state *st,
                               const struct deployment *d)
{
	struct undo u;
	struct berr err;

	if (d->backup != NULL && !strv_contains(out, d->backup))
		strv_push(out, d->backup);
	if (undo_since(&u, st, d, &err) == 0 && u.backup != NULL &&
	    !strv_contains(out, u.backup))
		strv_push(out, u.backup);
	undo_release(&u);
}

/* Adds the backups the record d names: its paired backup and the safety
 * backups of its restores (the rows those discarded are in them). */
static void protect_named(struct strv *out, const struct deployment *d)
{
	size_t i;

	if (d->backup != NULL && !strv_contains(out, d->backup))
		strv_push(out, d->backup);
	for (i = 0; i < d->nrestores; i++)
		if (d->restores[i].safety_backup != NULL &&
		    !strv_contains(out, d->restores[i].safety_backup))
			strv_push(out, d->restores[i].safety_backup);
}

/* The backups of the newest records, back to the keep-th one that put a
 * release in place (failed ones in between included). */
static int protect_recent(struct strv *out, struct state *st, int keep,
                          struct berr *err)
{
	struct deployment *list = NULL;
	size_t n = 0, i;
	int good = 0;

	if (state_history(st, &list, &n, NULL, 0, err) != 0)
		return -1;
	for (i = 0; i < n && good < keep; i++) {
		protect_named(out, &list[i]);
		if (list[i].status == DEPLOY_SUCCEEDED &&
		    list[i].commit[0] != '\0')
			good++;
	}
	state_history_free(list, n);
	return 0;
}

int envdb_protected(struct strv *out, struct state *st, int keep,
                    struct berr *err)
{
	struct deployment cur, good;
	char commit[41];
	int64_t id = 0;
	int rc;

	if (protect_recent(out, st, keep, err) != 0)
		return -1;
	deployment_init(&cur);
	deployment_init(&good);
	rc = state_get_current(st, commit, &id, err);
	if (rc == BERTH_ENOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	rc = state_load_deployment(st, id, &cur, err);
	if (rc == 0)
		protect_deployment(out, st, &cur);
	if (rc == 0 || rc == BERTH_ENOTFOUND) {
		rc = state_last_good(st, id, &good, err);
		if (rc == 0)
			protect_deployment(out, st, &good);
	}
	deployment_release(&cur);
	deployment_release(&good);
	return rc == 0 || rc == BERTH_ENOTFOUND ? 0 : -1;
}

int envdb_prune(struct backup_pruned **out, size_t *n, struct state *st,
                const struct manifest *m, const char *dir, bool dry_run,
                struct berr *err)
{
	struct backup_prune_opts o;
	struct strv protect = {0};
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (envdb_protected(&protect, st, m->releases_keep, err) != 0) {
		berr_prefix(err, "cannot tell which backups are protected");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.keep.daily = m->db.retention_daily;
	o.keep.weekly = m->db.retention_weekly;
	o.keep.monthly = m->db.retention_monthly;
	o.protect = (const char *const *)protect.v;
	o.dry_run = dry_run;
	rc = backup_prune(out, n, &o, err);
out:
	strv_release(&protect);
	return rc;
}
