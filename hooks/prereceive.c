/*
 * prereceive.c — the pre-receive hook: a push to a branch that an
 * environment deploys is accepted only when the environment's manifest, read
 * from the pushed commit, is valid (SPEC §10). git runs this hook after the
 * pushed objects arrived, in quarantine, and before any ref moves; a
 * non-zero exit rejects the whole push.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"

/* Environments of cfg deploying branch, filtered by only_env. */
static bool env_selected(const struct env_config *e, const char *only_env)
{
	return only_env == NULL || strcmp(e->name, only_env) == 0;
}

/* Checks the manifest of env at sha; prints the verdict. Returns 0 when
 * valid. */
static int check_env(struct git_mirror *gm, const struct env_config *env,
                     const char *branch, const char *sha)
{
	struct manifest_ctx mctx;
	struct manifest *m = NULL;
	struct merrs errs = {0};
	struct kvlist vars;
	struct berr err;
	struct buf text;
	char hash[65] = "";
	int rc = -1;

	kvlist_init(&vars);
	buf_init(&text, MANIFEST_MAX_BYTES + 1);
	if (env->env_file != NULL &&
	    dotenv_load(&vars, hash, env->env_file, &err) != 0) {
		pusher_say("cannot check %s for '%s': env file: %s",
		           env->manifest, env->name, err.msg);
		goto out;
	}
	rc = git_mirror_read_file(&text, gm, sha, env->manifest,
	                          MANIFEST_MAX_BYTES, &err);
	if (rc == BERTH_ENOTFOUND) {
		pusher_say("%s not found in commit %.7s: environment '%s' "
		           "deploys branch '%s' and needs one",
		           env->manifest, sha, env->name, branch);
		rc = -1;
		goto out;
	}
	if (rc != 0) {
		pusher_say("cannot read %s at %.7s: %s", env->manifest, sha,
		           err.msg);
		rc = -1;
		goto out;
	}
	memset(&mctx, 0, sizeof(mctx));
	mctx.file = env->manifest;
	mctx.vars = &vars;
	mctx.env_file_hash = hash[0] ? hash : NULL;
	m = manifest_parse(buf_str(&text), text.len, &mctx, &errs);
	if (m == NULL) {
		pusher_say("%s at %.7s is invalid for environment '%s' "
		           "(branch '%s'):",
		           env->manifest, sha, env->name, branch);
		pusher_list(&errs);
		rc = -1;
		goto out;
	}
	pusher_say("%s at %.7s is valid for environment '%s' (%zu service%s)",
	           env->manifest, sha, env->name, m->nservices,
	           m->nservices == 1 ? "" : "s");
	rc = 0;
out:
	manifest_free(m);
	merrs_release(&errs);
	buf_release(&text);
	kvlist_release(&vars);
	return rc;
}

/* Checks one pushed ref against every environment deploying it. Returns
 * the number of problems. */
static size_t check_ref(struct git_mirror **gm, const struct config *cfg,
                        const struct hook_ref *r, const char *only_env)
{
	const char *branch = refs_branch(r);
	const struct env_config *e;
	struct berr err;
	size_t bad = 0;

	if (branch == NULL)
		return 0;
	for (e = config_env_for_branch(cfg, branch, NULL); e != NULL;
	     e = config_env_for_branch(cfg, branch, e)) {
		if (!env_selected(e, only_env))
			continue;
		if (refs_is_delete(r)) {
			pusher_say(
			    "refusing to delete branch '%s': environment "
			    "'%s' deploys it (what runs stays as it "
			    "is; see docs/hooks.md to retire a branch)",
			    branch, e->name);
			return 1;
		}
		if (*gm == NULL && git_mirror_open_env(gm, &err) != 0) {
			pusher_say("cannot check the push: %s", err.msg);
			return 1;
		}
		if (check_env(*gm, e, branch, r->new_sha) != 0)
			bad++;
	}
	return bad;
}

int prereceive_run(const struct hook_opts *o)
{
	struct hook_refs refs;
	struct config cfg;
	struct git_mirror *gm = NULL;
	size_t i, bad = 0;
	int status = 1;

	if (input_load(&refs, &cfg, o, "cannot check the push") != 0)
		return 1;
	if (o->only_env != NULL && config_env(&cfg, o->only_env) == NULL) {
		pusher_say("cannot check the push: environment '%s' is not in "
		           "%s",
		           o->only_env, cfg.path);
		goto out;
	}
	for (i = 0; i < refs.n; i++)
		bad += check_ref(&gm, &cfg, &refs.items[i], o->only_env);
	if (bad > 0) {
		pusher_say("push rejected: no branch was updated and nothing "
		           "was deployed");
		goto out;
	}
	status = 0;
out:
	git_mirror_close(gm);
	config_release(&cfg);
	refs_release(&refs);
	return status;
}
