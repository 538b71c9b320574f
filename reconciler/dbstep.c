/*
 * dbstep.c — the database steps of the deploy pipeline (SPEC §5 steps 3 and
 * 6; docs/pipeline.md): the paired backup, and the migrations (a directory
 * of SQL files, or a command), each recorded in the deployment as it
 * happens so that a rollback — even after a crash — knows what the
 * database went through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

/* How long a migration run waits for another migrator of the database. */
#define DBSTEP_MIGRATE_LOCK_WAIT_S 60
/* Database connect timeout of the migrate step. */
#define DBSTEP_DB_CONNECT_S 10

char *dbstep_size(int64_t bytes)
{
	if (bytes >= 1000 * 1000 * 1000)
		return xasprintf("%.1f GB", (double)bytes / 1e9);
	if (bytes >= 1000 * 1000)
		return xasprintf("%.1f MB", (double)bytes / 1e6);
	if (bytes >= 1000)
		return xasprintf("%lld kB", (long long)(bytes / 1000));
	return xasprintf("%lld B", (long long)bytes);
}

char *dbstep_serving_dir(struct envctx *ctx)
{
	char commit[41];
	int64_t id;
	struct berr err;

	if (state_get_current(&ctx->st, commit, &id, &err) != 0)
		return NULL;
	return release_path(ctx, commit);
}

int dbstep_backup(char **detail, struct pipeline *p, const struct manifest *m,
                  struct berr *err)
{
	const struct manifest_database *db = &m->db;
	struct backup_create_opts bo;
	struct backup_info info, checked;
	struct envdb edb;
	char *serving = dbstep_serving_dir(p->ctx), *size = NULL;
	int rc = -1;

	memset(&info, 0, sizeof(info));
	memset(&checked, 0, sizeof(checked));
	if (envdb_open(&edb, p->ctx, m, serving, err) != 0)
		goto out;
	envdb_backup_opts(&bo, &edb, BACKUP_PRE_DEPLOY, p->d);
	if (backup_create(&info, &edb.tool, &bo, err) != 0)
		goto out;
	deployment_set(&p->d->backup, info.path);
	pipeline_save(p, NULL);
	size = dbstep_size(info.size);
	if (db->backup_verify != MANIFEST_VERIFY_NONE &&
	    backup_verify(&checked, &edb.tool, info.path, db->backup_verify,
	                  err) != 0) {
		berr_prefix(err, "%s does not verify", info.file);
		goto out;
	}
	if (db->backup_verify != MANIFEST_VERIFY_NONE)
		*detail = xasprintf("%s, %s, verified (%s)", info.file, size,
		                    backup_verify_name(db->backup_verify));
	else
		*detail = xasprintf("%s, %s", info.file, size);
	rc = 0;
out:
	backup_info_release(&info);
	backup_info_release(&checked);
	envdb_close(&edb);
	free(serving);
	free(size);
	return rc;
}

static void migrate_progress(const char *name, int64_t ms, void *arg)
{
	struct pipeline *p = arg;

	if (ms < 0) {
		/* Conservative: once a file may have committed, the record
		 * says migrations ran (the rollback's database half reads it).
		 */
		p->d->migrations_ran = true;
		pipeline_save(p, NULL);
		return;
	}
	strv_push(&p->d->migrations, name);
	pipeline_line(p, "applied %s in %lld ms", name, (long long)ms);
	pipeline_save(p, NULL);
}

static int migrate_sql_dir(char **detail, struct pipeline *p,
                           const struct manifest *m, const char *release_dir,
                           struct berr *err)
{
	const struct manifest_database *db = &m->db;
	struct migrate_opts mo;
	struct migrate_result res;
	struct pg_conn *c = NULL;
	const char *url = envctx_var(p->ctx, db->url_env);
	char *dir = fs_join(release_dir, db->sql_dir);
	size_t i;
	int rc = -1;

	memset(&res, 0, sizeof(res));
	if (url == NULL || url[0] == '\0') {
		berr_set(err, "%s is not set in the env file", db->url_env);
		goto out;
	}
	if (pg_connect(&c, url, DBSTEP_DB_CONNECT_S, err) != 0)
		goto out;
	memset(&mo, 0, sizeof(mo));
	mo.deployment_id = p->d->id;
	mo.lock_timeout_s = db->lock_timeout_s;
	mo.statement_timeout_s = db->statement_timeout_s;
	mo.lock_wait_s = DBSTEP_MIGRATE_LOCK_WAIT_S;
	mo.display_dir = db->sql_dir;
	mo.progress = migrate_progress;
	mo.arg = p;
	rc = migrate_apply(&res, c, dir, &mo, err);
	for (i = 0; i < res.plan.nmissing; i++)
		pipeline_line(p,
		              "warning: %s was applied but is not in "
		              "this release",
		              res.plan.missing[i]);
	/* migrate_progress said "ran" before each file; a file that failed
	 * was rolled back with its transaction, so only the files applied
	 * changed the database (a crash keeps the conservative record). */
	p->d->migrations_ran = res.napplied > 0;
	if (rc == 0 && res.napplied == 0)
		*detail = xasprintf("none pending (%zu applied before)",
		                    res.plan.napplied);
	else if (rc == 0)
		*detail = xasprintf("%zu applied", res.napplied);
	if (rc != 0)
		rc = -1;
out:
	migrate_result_release(&res);
	pg_close(c);
	free(dir);
	return rc;
}

/*
 * The migration command, in the release directory with the environment
 * commands get. It counts as having changed the database (migrations_ran)
 * from the moment it starts — it may have applied some of its migrations
 * before it failed or berth was killed — and, once it exited 0, whenever
 * the commit changed: a migration tool finds new migrations only in new
 * code, so a command that exits 0 for the commit that already runs (a
 * redeploy) changed nothing.
 */
static int migrate_command(char **detail, struct pipeline *p,
                           const struct manifest *m, const char *release_dir,
                           struct berr *err)
{
	const struct strv *argv = &m->db.migrate_command;
	struct spawn_opts so = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct deployment *d = p->d;
	struct kvlist env;
	char *shown = driver_argv_str((const char *const *)argv->v, 120);
	bool was = d->migrations_ran;
	int rc = -1;

	kvlist_init(&env);
	driver_env(&env, &p->ctx->vars, NULL);
	so.argv = (const char *const *)argv->v;
	so.env = &env;
	so.cwd = release_dir;
	so.on_line = pipeline_on_line;
	so.arg = p;
	d->migrations_ran = true;
	pipeline_save(p, NULL);
	if (spawn_run(&res, &so, err) != 0) {
		berr_prefix(err, "migration command '%s'", shown);
	} else if (res.exit_code != 0 || res.timed_out) {
		char *how = spawn_describe_status(&res);

		berr_set(err, "migration command '%s' %s", shown, how);
		free(how);
	} else if (strcmp(d->commit, d->previous_commit) == 0) {
		d->migrations_ran = was;
		*detail = xasprintf("'%s' ok (the commit that runs already: "
		                    "counts as no migration)",
		                    shown);
		rc = 0;
	} else {
		*detail = xasprintf("'%s' ok", shown);
		rc = 0;
	}
	pipeline_save(p, NULL);
	spawn_result_release(&res);
	kvlist_release(&env);
	free(shown);
	return rc;
}

int dbstep_migrate(char **detail, struct pipeline *p, const struct manifest *m,
                   const char *release_dir, struct berr *err)
{
	if (m->db.migrations == MANIFEST_MIGRATIONS_SQL_DIR)
		return migrate_sql_dir(detail, p, m, release_dir, err);
	return migrate_command(detail, p, m, release_dir, err);
}
