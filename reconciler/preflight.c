/*
 * preflight.c — what apply's validate step and `berth validate` share: the
 * commit to deploy (fetched, resolved, its manifest read from Git) and the
 * pre-deploy checks run against it (SPEC §5 step 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

static void say(void (*on_line)(const char *, size_t, void *), void *arg,
                const char *fmt, ...) BERTH_PRINTF(3, 4);

static void say(void (*on_line)(const char *, size_t, void *), void *arg,
                const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (on_line == NULL)
		return;
	buf_init(&b, 0);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	on_line(buf_str(&b), b.len, arg);
	buf_release(&b);
}

int preflight_resolve(struct preflight *out, struct envctx *ctx,
                      const char *rev, const char *tag, bool fetch,
                      void (*on_line)(const char *line, size_t len, void *arg),
                      void *arg, struct berr *err)
{
	struct envctx_fetch_report rep;
	struct git_mirror *gm;
	char *ref = NULL, *url = NULL;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&rep, 0, sizeof(rep));
	url = envctx_repo_display(ctx);
	if (fetch) {
		if (envctx_fetch(ctx, &rep, err) != 0)
			goto out;
		say(on_line, arg, "fetched %s in %lld ms", url,
		    (long long)rep.ms);
		for (i = 0; i < rep.updates.n; i++)
			say(on_line, arg, "%s", rep.updates.v[i]);
		for (i = 0; i < rep.forced.n; i++)
			say(on_line, arg, "warning: %s", rep.forced.v[i]);
	} else if (envctx_git(ctx, &gm, err) != 0) {
		goto out;
	}
	gm = ctx->git;
	if (tag != NULL) {
		ref = xasprintf("refs/tags/%s", tag);
		out->asked = xasprintf("tag %s", tag);
	} else if (rev != NULL) {
		ref = xstrdup(rev);
		out->asked = xasprintf("%s", rev);
	} else {
		ref = xasprintf("refs/heads/%s", ctx->env->branch);
		out->asked = xasprintf("branch %s", ctx->env->branch);
	}
	rc = git_mirror_resolve(gm, ref, out->commit, err);
	if (rc == BERTH_ENOTFOUND && tag != NULL)
		berr_set(err, "no tag '%s' in %s", tag, url);
	else if (rc == BERTH_ENOTFOUND && rev == NULL)
		berr_set(err, "no branch '%s' in %s", ctx->env->branch, url);
	if (rc != 0)
		goto out;
	rc = -1;
	if (git_mirror_tree_id(gm, out->commit, out->tree, err) != 0 ||
	    git_mirror_commit_subject(&out->subject, gm, out->commit, err) != 0)
		goto out;
	say(on_line, arg, "commit %.7s \"%s\" (%s)", out->commit, out->subject,
	    out->asked);
	out->release_dir = release_path(ctx, out->commit);
	/* A manifest that does not parse is not an error here: the checks
	 * report it, with every problem in out->errs. */
	envctx_manifest(&out->m, ctx, out->commit, &out->errs);
	rc = 0;
out:
	strv_release(&rep.updates);
	strv_release(&rep.forced);
	free(ref);
	free(url);
	return rc;
}

void preflight_release(struct preflight *t)
{
	if (t == NULL)
		return;
	free(t->subject);
	free(t->asked);
	free(t->release_dir);
	manifest_free(t->m);
	merrs_release(&t->errs);
	memset(t, 0, sizeof(*t));
}

/* Whether the commit holds m's sql_dir (the release may not exist yet). */
static enum checks_migrations migrations_at_commit(struct envctx *ctx,
                                                   const struct preflight *t)
{
	const struct manifest_database *db = &t->m->db;
	struct strv names = {0};
	struct berr err;
	int rc;

	if (!db->present || db->migrations != MANIFEST_MIGRATIONS_SQL_DIR ||
	    ctx->git == NULL)
		return CHECKS_MIGRATIONS_LOOK;
	rc =
	    git_mirror_list_dir(&names, ctx->git, t->commit, db->sql_dir, &err);
	strv_release(&names);
	return rc == 0 ? CHECKS_MIGRATIONS_PRESENT : CHECKS_MIGRATIONS_MISSING;
}

int preflight_checks(struct checks_report *out, struct envctx *ctx,
                     const struct preflight *t,
                     void (*on_result)(const struct checks_item *c, void *arg),
                     void *arg)
{
	const struct driver_ops *ops = t->m ? driver_for(t->m) : NULL;
	struct service_live *live = NULL;
	struct checks_input in;
	struct driver_ctx dctx;
	struct merrs rel = {0};
	char *why = NULL;
	struct berr err;
	size_t nlive = 0;
	int rc;

	memset(&in, 0, sizeof(in));
	memset(&dctx, 0, sizeof(dctx));
	dctx.st = &ctx->st;
	dctx.vars = &ctx->vars;
	in.m = t->m;
	in.ctx = &dctx;
	in.manifest_valid = t->m != NULL;
	if (t->m == NULL && t->errs.n > 0)
		why = t->errs.n == 1
		          ? xstrdup(t->errs.items[0])
		          : xasprintf("%s (and %zu more)", t->errs.items[0],
		                      t->errs.n - 1);
	if (t->m != NULL && t->release_dir != NULL &&
	    fs_is_dir(t->release_dir)) {
		in.release_dir = t->release_dir;
		if (manifest_check_release(t->m, t->release_dir, &rel) != 0) {
			in.manifest_valid = false;
			why = xstrdup(rel.n ? rel.items[0] : "invalid");
		}
	}
	in.manifest_error = why;
	if (t->m != NULL)
		in.migrations = migrations_at_commit(ctx, t);
	/* Ports that what runs now holds are not busy for this deployment. */
	if ((ops ? ops : &driver_process)->live(&live, &nlive, &dctx, &err) !=
	    0) {
		struct buf kv;

		buf_init(&kv, 1024);
		log_kv(&kv, "error", err.msg);
		log_warn("msg=\"cannot read what runs now\"%s", buf_str(&kv));
		buf_release(&kv);
	}
	in.current = live;
	in.ncurrent = nlive;
	rc = checks_run(out, &in, on_result, arg);
	driver_live_free(live, nlive);
	merrs_release(&rel);
	free(why);
	return rc;
}
