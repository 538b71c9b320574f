/*
 * rollback.c — putting the last good release back after a deployment failed
 * at steps 6–8, or was interrupted (SPEC §5, §6; docs/pipeline.md): stop
 * what the failed deployment started, restore the database when that is the
 * policy, start the last good release from its own release directory with
 * its own manifest, wait for health, smoke it, switch `current` back. A
 * rollback that fails freezes the environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

/*
 * The database half of a rollback (SPEC §6). When deployment d ran
 * migrations (d->migrations_ran, d->migrations; the database also records
 * d->id with each file in berth_schema_migrations) and the failed
 * manifest's rollback.database is "restore", this is where the paired
 * backup d->backup is restored: after the failed release's services are
 * stopped and before the last good release starts, behind a safety backup
 * recorded in d->safety_backup. Restoring is not part of this version yet:
 * the database keeps what the migrations did, and the rollback says so.
 * Returns 0 (nothing restored), or -1 when the restore failed (err).
 */
static int restore_database(struct pipeline *p, const struct manifest *failed,
                            struct berr *err)
{
	const struct deployment *d = p->d;
	size_t i;

	(void)err;
	if (!d->migrations_ran)
		return 0;
	if (failed != NULL &&
	    failed->rollback_database == MANIFEST_ROLLBACK_DB_KEEP) {
		pipeline_line(p,
		              "database: kept as migrated (rollback.database "
		              "is \"keep\")");
		return 0;
	}
	pipeline_line(p,
	              "database: not restored: this berth cannot restore "
	              "the paired backup yet (%s); the database keeps the "
	              "migrations of %.7s:",
	              d->backup ? d->backup : "none taken", d->commit);
	for (i = 0; i < d->migrations.n; i++)
		pipeline_line(p, "  %s", d->migrations.v[i]);
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

	pipeline_driver_ctx(&dctx, p);
	if (rollout_stop_all(p, ops, &dctx, failed, err) != 0)
		return -1;
	if (restore_database(p, failed, err) != 0)
		return -1;
	return state_clear_current(&p->ctx->st, err);
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
	struct berr ferr;
	int rc;

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
	if (!d->migrations_ran &&
	    rollout_in_place(ops, &dctx, m, good.commit)) {
		pipeline_line(p, "%.7s still runs: checking its health",
		              good.commit);
		if (rollout_wait_healthy(p, ops, &dctx, m, err) != 0)
			goto failed;
	} else {
		if (rollout_stop_all(p, failed_ops, &dctx, failed, err) != 0 ||
		    restore_database(p, failed, err) != 0 ||
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
	deployment_release(&good);
	manifest_free(m);
	merrs_release(&errs);
	free(dir);
	free(summary);
	free(reason);
	return rc;
}
