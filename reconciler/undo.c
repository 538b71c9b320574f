/*
 * undo.c — what putting an earlier deployment back undoes (SPEC §6;
 * docs/backups.md): which deployment comes back (`berth rollback`, a
 * `git revert`), the migrations that ran since, and the backup that holds
 * the database as that deployment left it — the paired backup of the first
 * deployment after it that ran migrations, which took its backup just
 * before migrating.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

/* How many rollback records undo_resolve follows back to the deployment
 * that first put a release in place. */
#define UNDO_MAX_CHAIN 1000

void undo_release(struct undo *u)
{
	if (u == NULL)
		return;
	deployment_release(&u->target);
	strv_release(&u->undone);
	free(u->backup);
	free(u->why);
	memset(u, 0, sizeof(*u));
	deployment_init(&u->target);
}

static void undo_init(struct undo *u)
{
	memset(u, 0, sizeof(*u));
	deployment_init(&u->target);
}

/* A record that put a release in place (deploy, rollback, or a restore
 * with the release that served). */
static bool puts_release(const struct deployment *d)
{
	return d->status == DEPLOY_SUCCEEDED && d->commit[0] != '\0' &&
	       (strcmp(d->kind, DEPLOY_KIND_DEPLOY) == 0 ||
	        strcmp(d->kind, DEPLOY_KIND_ROLLBACK) == 0 ||
	        strcmp(d->kind, DEPLOY_KIND_RESTORE) == 0);
}

/* Copies src into dst (released first) through its JSON form. */
static int copy_record(struct deployment *dst, const struct deployment *src,
                       struct berr *err)
{
	struct json_t *j = deployment_to_json(src);
	int rc;

	deployment_release(dst);
	rc = deployment_from_json(dst, j, err);
	json_decref(j);
	return rc;
}

/* Fills in introducer, undone, backup and why for out->target, from the
 * journal's records after it (list, newest first). */
static void find_introducer(struct undo *out, const struct deployment *list,
                            size_t n)
{
	const struct deployment *first = NULL;
	size_t i, k;

	for (i = n; i-- > 0;) {
		const struct deployment *d = &list[i];

		if (d->id <= out->target.id || !puts_release(d) ||
		    !d->migrations_ran)
			continue;
		if (first == NULL)
			first = d;
		for (k = 0; k < d->migrations.n; k++)
			strv_push(&out->undone, d->migrations.v[k]);
		if (d->migrations.n == 0) {
			char *what = xasprintf("the migration command of "
			                       "deployment %lld",
			                       (long long)d->id);

			strv_push(&out->undone, what);
			free(what);
		}
	}
	if (first == NULL) {
		out->why = xstrdup("no migration ran since");
		return;
	}
	out->introducer = first->id;
	if (first->backup == NULL) {
		out->no_backup = true;
		out->why = xasprintf("deployment %lld ran migrations but has "
		                     "no paired backup (--skip-backup)",
		                     (long long)first->id);
		return;
	}
	out->backup = xstrdup(first->backup);
	out->why =
	    xasprintf("paired backup of deployment %lld", (long long)first->id);
}

int undo_since(struct undo *out, struct state *st,
               const struct deployment *target, struct berr *err)
{
	struct deployment *list = NULL, newest;
	size_t n = 0;
	int rc;

	undo_init(out);
	deployment_init(&newest);
	/* Any later record of the same commit is the same point to come
	 * back to, with the database of a later time. */
	rc = state_find_by_commit(st, target->commit, &newest, err);
	if (rc == 0 && newest.id > target->id)
		rc = copy_record(&out->target, &newest, err);
	else if (rc == 0 || rc == BERTH_ENOTFOUND)
		rc = copy_record(&out->target, target, err);
	deployment_release(&newest);
	if (rc != 0)
		return -1;
	if (state_history(st, &list, &n, NULL, 0, err) != 0)
		return -1;
	find_introducer(out, list, n);
	state_history_free(list, n);
	return 0;
}

/* The deployment whose release serves now, and the one that first put
 * that release in place when it is a rollback or restore record. */
static int current_origin(struct deployment *cur, struct deployment *origin,
                          struct state *st, struct berr *err)
{
	char commit[41];
	int64_t id;
	int rc, i;

	deployment_init(origin);
	rc = state_get_current(st, commit, &id, err);
	if (rc == 0)
		rc = state_load_deployment(st, id, cur, err);
	else
		deployment_init(cur);
	if (rc != 0)
		return rc;
	if (copy_record(origin, cur, err) != 0)
		return -1;
	for (i = 0; i < UNDO_MAX_CHAIN && origin->rollback_to > 0 &&
	            origin->rollback_to < origin->id &&
	            strcmp(origin->kind, DEPLOY_KIND_DEPLOY) != 0;
	     i++) {
		struct deployment prev;

		if (state_load_deployment(st, origin->rollback_to, &prev,
		                          err) != 0) {
			deployment_release(&prev);
			break;
		}
		deployment_release(origin);
		*origin = prev;
	}
	return 0;
}

/* The last good deployment before origin whose commit is not cur's. */
static int last_good_other(struct deployment *out, struct state *st,
                           const struct deployment *origin,
                           const char *cur_commit, struct berr *err)
{
	int64_t before = origin->id;
	int rc;

	for (;;) {
		rc = state_last_good(st, before, out, err);
		if (rc != 0 || strcmp(out->commit, cur_commit) != 0)
			return rc;
		before = out->id;
		deployment_release(out);
	}
}

/* The deployment --to names: an id when a record has it, else a commit
 * of the mirror deployed successfully. */
static int find_target(struct deployment *out, struct envctx *ctx,
                       const char *to, struct berr *err)
{
	struct git_mirror *gm;
	char sha[41];
	int64_t id;
	int rc;

	deployment_init(out);
	if (strnum_i64(&id, to, 1, INT64_MAX) == 0) {
		rc = state_load_deployment(&ctx->st, id, out, err);
		if (rc == 0 && !puts_release(out)) {
			berr_set(err,
			         "deployment %lld (%s, %s) did not put a "
			         "release in place: cannot roll back to it",
			         (long long)id, out->kind,
			         deploy_status_name(out->status));
			return -1;
		}
		if (rc != BERTH_ENOTFOUND)
			return rc;
	}
	if (envctx_git(ctx, &gm, err) != 0)
		return -1;
	rc = git_mirror_resolve(gm, to, sha, err);
	if (rc == BERTH_ENOTFOUND)
		return berr_set(err,
		                "'%s' is neither a deployment of %s nor a "
		                "commit of the repository",
		                to, ctx->env->name);
	if (rc != 0)
		return -1;
	return state_find_by_commit(&ctx->st, sha, out, err) == 0 ? 0 : -1;
}

int undo_resolve(struct undo *out, struct envctx *ctx, const char *to,
                 struct berr *err)
{
	struct deployment cur, origin, target;
	int rc = -1;

	undo_init(out);
	deployment_init(&target);
	rc = current_origin(&cur, &origin, &ctx->st, err);
	if (rc == BERTH_ENOTFOUND) {
		berr_set(err, "nothing is deployed in %s: nothing to roll back",
		         ctx->env->name);
		rc = -1;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (to == NULL) {
		rc = last_good_other(&target, &ctx->st, &origin, cur.commit,
		                     err);
		if (rc == BERTH_ENOTFOUND)
			berr_set(err,
			         "no successful deployment of %s before "
			         "deployment %lld (%.7s): nothing to roll back "
			         "to",
			         ctx->env->name, (long long)origin.id,
			         origin.commit);
	} else {
		rc = find_target(&target, ctx, to, err);
	}
	if (rc != 0) {
		rc = -1;
		goto out;
	}
	if (strcmp(target.commit, cur.commit) == 0) {
		rc = berr_set(err, "%.7s (deployment %lld) is what runs now",
		              target.commit, (long long)target.id);
		goto out;
	}
	rc = undo_since(out, &ctx->st, &target, err);
	out->from_id = cur.id;
out:
	deployment_release(&cur);
	deployment_release(&origin);
	deployment_release(&target);
	return rc;
}

int undo_current(struct undo *out, struct state *st, struct berr *err)
{
	struct deployment cur, origin;
	int rc;

	undo_init(out);
	rc = current_origin(&cur, &origin, st, err);
	if (rc == 0)
		rc = copy_record(&out->target, &cur, err);
	out->from_id = cur.id;
	deployment_release(&cur);
	deployment_release(&origin);
	return rc;
}

int undo_revert(struct undo *out, struct state *st, const char *tree,
                struct berr *err)
{
	struct deployment cur, found;
	char commit[41];
	int64_t id;
	int rc;

	undo_init(out);
	deployment_init(&cur);
	deployment_init(&found);
	rc = state_get_current(st, commit, &id, err);
	if (rc == 0)
		rc = state_load_deployment(st, id, &cur, err);
	if (rc != 0)
		goto out;
	if (strcmp(cur.tree, tree) == 0) {
		rc = BERTH_ENOTFOUND; /* the same code again: no revert */
		goto out;
	}
	rc = state_find_by_tree(st, tree, &found, err);
	if (rc != 0)
		goto out;
	rc = undo_since(out, st, &found, err);
	out->from_id = cur.id;
out:
	deployment_release(&cur);
	deployment_release(&found);
	return rc;
}

/* FILE of --backup: a path, or a name in the backup directory (new). */
static char *backup_file(const char *file, const struct manifest *m,
                         const struct state *st)
{
	char *dir, *in_dir;

	if (strchr(file, '/') != NULL || fs_exists(file))
		return xstrdup(file);
	dir = backup_dir(st->env_dir, m->db.backup_dir);
	in_dir = fs_join(dir, file);
	free(dir);
	return in_dir;
}

int undo_choose(char **restore, char **why, struct pipeline *p,
                const struct undo *u, const struct manifest *m,
                const struct apply_opts *o, struct berr *err)
{
	size_t i;

	*restore = NULL;
	*why = NULL;
	if (o->backup != NULL) {
		if (!m->db.present)
			return berr_set(err,
			                "the manifest of %.7s has no "
			                "database to restore into",
			                u->target.commit);
		*restore = backup_file(o->backup, m, &p->ctx->st);
		*why = xstrdup(o->kind != NULL &&
		                       strcmp(o->kind, DEPLOY_KIND_RESTORE) == 0
		                   ? "as asked"
		                   : "--backup");
		if (!fs_exists(*restore))
			return berr_set(err, "no backup file '%s'", *restore);
	} else if (o->code_only) {
		pipeline_line(p, "database: left as it is (--code-only)");
	} else if (u->introducer == 0) {
		pipeline_line(p, "database: left as it is (%s)", u->why);
	} else if (!m->db.present ||
	           m->rollback_database == MANIFEST_ROLLBACK_DB_KEEP) {
		pipeline_line(p, "database: left as it is (rollback.database "
		                 "is \"keep\")");
	} else if (u->no_backup && o->kind != NULL) {
		return berr_set(err,
		                "%s: give --backup FILE, or --code-only to "
		                "leave the database as it is",
		                u->why);
	} else if (u->no_backup) {
		pipeline_line(p, "warning: database: not restored: %s", u->why);
	} else {
		*restore = xstrdup(u->backup);
		*why = xstrdup(u->why);
	}
	if (*restore == NULL)
		return 0;
	pipeline_line(p, "database: restores %s (%s)",
	              strrchr(*restore, '/') ? strrchr(*restore, '/') + 1
	                                     : *restore,
	              *why);
	for (i = 0; o->backup == NULL && i < u->undone.n; i++)
		pipeline_line(p, "  undoes %s", u->undone.v[i]);
	return 0;
}

int undo_plan_revert(char **name, char **detail, struct envctx *ctx,
                     const struct manifest *m, const char *tree)
{
	struct apply_opts o;
	struct pipeline p;
	struct deployment d;
	struct backup_writes w;
	struct envdb db;
	struct undo u;
	struct berr err;
	char *restore = NULL, *why = NULL, *what = NULL;
	int rc;

	*name = NULL;
	*detail = NULL;
	rc = undo_revert(&u, &ctx->st, tree, &err);
	if (rc != 0) {
		undo_release(&u);
		return rc == BERTH_ENOTFOUND ? BERTH_ENOTFOUND : -1;
	}
	/* undo_choose's decision, without its lines. */
	memset(&o, 0, sizeof(o));
	deployment_init(&d);
	pipeline_init(&p, ctx, &d, NULL);
	rc = undo_choose(&restore, &why, &p, &u, m, &o, &err);
	pipeline_release(&p);
	memset(&w, 0, sizeof(w));
	if (rc == 0 && restore != NULL &&
	    envdb_open(&db, ctx, m, NULL, &err) == 0 &&
	    dbrestore_writes(&w, &db, restore, &err) == 0)
		what = dbrestore_describe(&w);
	else if (rc == 0 && restore != NULL)
		what = xasprintf("unknown: %s", err.msg);
	if (restore != NULL)
		envdb_close(&db);
	*name = xasprintf("%s", restore != NULL ? strrchr(restore, '/') + 1
	                                        : "database");
	if (restore != NULL)
		*detail = xasprintf("revert of deployment %lld (%.7s): "
		                    "restores %s (%s; rows written since: %s)",
		                    (long long)u.target.id, u.target.commit,
		                    *name, why, what);
	else
		*detail = xasprintf("revert of deployment %lld (%.7s): the "
		                    "database is left as it is (%s)",
		                    (long long)u.target.id, u.target.commit,
		                    rc != 0 ? err.msg : u.why);
	backup_writes_release(&w);
	deployment_release(&d);
	undo_release(&u);
	free(restore);
	free(why);
	free(what);
	return 0;
}
