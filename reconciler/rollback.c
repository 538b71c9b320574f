/*
 * rollback.c — putting the last good release back after a deployment failed
 * at steps 6–8, or was interrupted (SPEC §5, §6; docs/pipeline.md): stop
 * what the failed deployment started, put the database back as the failed
 * deployment found it when that is the policy (behind a safety backup,
 * docs/backups.md), start the last good release from its own release
 * directory with its own manifest, wait for health, smoke it, switch
 * `current` back. A rollback that fails freezes the environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

/* The database as deployment d found it: the safety backup of its first
 * restore (a revert or `berth rollback` restored before migrating), else
 * its paired backup. NULL when d left the database as it found it. */
static const char *found_as(const struct deployment *d, const char **why)
{
	size_t i;

	for (i = 0; i < d->nrestores; i++)
		if (d->restores[i].ok && d->restores[i].safety_backup != NULL) {
			*why = "the safety backup taken before this "
			       "deployment's restore";
			return d->restores[i].safety_backup;
		}
	*why = "this deployment's paired backup";
	return d->migrations_ran ? d->backup : NULL;
}

/* True when d changed the database. */
static bool changed_database(const struct deployment *d)
{
	size_t i;

	for (i = 0; i < d->nrestores; i++)
		if (d->restores[i].ok)
			return true;
	return d->migrations_ran;
}

/*
 * Decides the database half of the rollback (SPEC §6) before anything is
 * stopped: *path is the backup to restore, or NULL, with a line saying why
 * not; the rows it would discard are counted and shown. Nobody is asked:
 * the shop is down until the rollback ends, and the safety backup keeps
 * those rows. db is opened for the restore when *path is set, from
 * release_dir (NULL: the release `current` points at).
 */
static void plan_database(const char **path, const char **why,
                          struct envdb *db, struct pipeline *p,
                          const struct manifest *failed,
                          const struct manifest *good,
                          const char *release_dir)
{
	const struct deployment *d = p->d;
	const struct manifest *m = failed != NULL ? failed : good;
	char *serving = NULL;
	struct berr err;
	size_t i;

	*path = NULL;
	memset(db, 0, sizeof(*db));
	if (!changed_database(d))
		return;
	if (m == NULL || !m->db.present) {
		pipeline_line(p, "database: left as it is (no database in "
		                 "the manifest)");
		return;
	}
	if (m->rollback_database == MANIFEST_ROLLBACK_DB_KEEP) {
		pipeline_line(p,
		              "database: kept as migrated (rollback.database "
		              "is \"keep\")");
		return;
	}
	*path = found_as(d, why);
	if (*path == NULL) {
		pipeline_line(p,
		              "database: not restored: %.7s has no paired "
		              "backup (--skip-backup); the database keeps the "
		              "migrations of %.7s:",
		              d->commit, d->commit);
		for (i = 0; i < d->migrations.n; i++)
			pipeline_line(p, "  %s", d->migrations.v[i]);
		return;
	}
	if (release_dir == NULL)
		release_dir = serving = dbstep_serving_dir(p->ctx);
	if (envdb_open(db, p->ctx, m, release_dir, &err) != 0) {
		pipeline_line(p, "cannot reach the database: %s", err.msg);
		envdb_close(db);
		free(serving);
		return;
	}
	free(serving);
	if (dbrestore_confirm(p, db, *path, DBRESTORE_UNATTENDED, &err) != 0)
		pipeline_line(p, "warning: %s", err.msg);
}

/* Restores path (plan_database's) into db: the database as the failed
 * deployment found it. */
static int restore_database(struct pipeline *p, struct envdb *db,
                            const char *path, const char *why,
                            struct berr *err)
{
	if (path == NULL)
		return 0;
	if (db->m == NULL)
		return berr_set(err, "cannot restore '%s': the database "
		                     "cannot be reached (see above)",
		                path);
	if (dbrestore_run(p, db, path, why, "rollback", err) != 0)
		return berr_prefix(err, "the database could not be put back");
	return 0;
}

/* No earlier good deployment: stop what the failed one started and forget
 * `current`, which could only point at a release that never succeeded. */
static int nothing_to_put_back(struct pipeline *p,
                               const struct manifest *failed, struct berr *err)
{
	const struct driver_ops *ops =
	    failed && driver_for(failed) ? driver_for(failed) : &driver_process;
	struct driver_ctx dctx;
	const char *path, *why;
	struct envdb db;
	int rc = -1;

	pipeline_driver_ctx(&dctx, p);
	plan_database(&path, &why, &db, p, failed, NULL, NULL);
	if (rollout_stop_all(p, ops, &dctx, failed, err) == 0 &&
	    restore_database(p, &db, path, why, err) == 0)
		rc = state_clear_current(&p->ctx->st, err);
	envdb_close(&db);
	return rc;
}

/* Makes sure the good release's directory is there, exporting and building
 * it again when something removed it. */
static int good_release(struct pipeline *p, const struct deployment *good,
                        const struct manifest *m, const struct driver_ops *ops,
                        const struct driver_ctx *dctx, char **dir,
                        struct berr *err)
{
	bool reused;

	*dir = release_path(p->ctx, good->commit);
	if (release_export(&reused, p->ctx, good->commit, err) != 0)
		return -1;
	if (reused)
		return 0;
	pipeline_line(p, "releases/%.7s was missing: exported again; building",
	              good->commit);
	return ops->build(NULL, dctx, m, *dir, err);
}

int rollback_run(struct pipeline *p, const struct manifest *failed,
                 struct berr *err)
{
	struct deployment *d = p->d, good;
	const struct driver_ops *ops, *failed_ops;
	struct manifest *m = NULL;
	struct merrs errs = {0};
	struct driver_ctx dctx;
	char *dir = NULL, *summary = NULL, *reason = NULL;
	const char *path = NULL, *why = NULL;
	struct envdb db;
	struct berr ferr;
	int rc;

	memset(&db, 0, sizeof(db));
	pipeline_begin(p, 0, "rollback", NULL);
	pipeline_driver_ctx(&dctx, p);
	rc = state_last_good(&p->ctx->st, d->id, &good, err);
	if (rc == BERTH_ENOTFOUND) {
		if (nothing_to_put_back(p, failed, err) != 0)
			goto failed;
		pipeline_end(p, STEP_OK,
		             "nothing to put back (no earlier "
		             "successful deployment): stopped "
		             "what this one started");
		return BERTH_ENOTFOUND;
	}
	if (rc != 0)
		goto failed;
	pipeline_line(p, "putting back %.7s (deployment %lld)", good.commit,
	              (long long)good.id);
	if (envctx_manifest(&m, p->ctx, good.commit, &errs) != 0) {
		berr_set(err, "cannot read the manifest of %.7s: %s",
		         good.commit, errs.n ? errs.items[0] : "unknown error");
		goto failed;
	}
	ops = driver_for(m);
	if (ops == NULL) {
		berr_set(err, "no '%s' driver in this build",
		         driver_name(m->driver));
		goto failed;
	}
	failed_ops = failed && driver_for(failed) ? driver_for(failed) : ops;
	if (good_release(p, &good, m, ops, &dctx, &dir, err) != 0)
		goto failed;
	plan_database(&path, &why, &db, p, failed, m, dir);
	if (!changed_database(d) &&
	    rollout_in_place(ops, &dctx, m, good.commit)) {
		pipeline_line(p, "%.7s still runs: checking its health",
		              good.commit);
		if (rollout_wait_healthy(p, ops, &dctx, m, err) != 0)
			goto failed;
	} else {
		if (rollout_stop_all(p, failed_ops, &dctx, failed, err) != 0 ||
		    restore_database(p, &db, path, why, err) != 0 ||
		    rollout_start_all(p, ops, &dctx, m, dir, good.commit,
		                      err) != 0)
			goto failed;
	}
	if (rollout_smoke(&summary, p, m) != 0) {
		berr_set(err, "smoke tests of %.7s: %s", good.commit, summary);
		goto failed;
	}
	if (state_set_current(&p->ctx->st, good.commit, good.id, err) != 0)
		goto failed;
	d->rollback_to = good.id;
	pipeline_end(p, STEP_OK, "%.7s (deployment %lld) serves again",
	             good.commit, (long long)good.id);
	rc = 0;
	goto out;
failed:
	pipeline_end(p, STEP_FAILED, "%s", err->msg);
	reason = xasprintf("deployment %lld: rollback failed: %s",
	                   (long long)d->id, err->msg);
	if (state_freeze(&p->ctx->st, reason, &ferr) != 0)
		pipeline_say(p, "berth: cannot freeze '%s': %s", d->env,
		             ferr.msg);
	rc = -1;
out:
	envdb_close(&db);
	deployment_release(&good);
	manifest_free(m);
	merrs_release(&errs);
	free(dir);
	free(summary);
	free(reason);
	return rc;
}
