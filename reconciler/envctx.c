/*
 * envctx.c — what every command acting on one environment needs: the host
 * config, the environment's state, its env file, the Git mirror, and the
 * manifest at a commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

static void list_envs(struct buf *b, const struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nenvs; i++)
		buf_printf(b, "%s%s", i ? ", " : "", cfg->envs[i].name);
}

int envctx_open(struct envctx *ctx, const char *config_path,
		const char *env_name, struct merrs *errs)
{
	struct berr err;
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	kvlist_init(&ctx->vars);
	if (config_load(&ctx->cfg, config_path, errs) != 0)
		return -1;
	ctx->config_loaded = true;
	ctx->env = config_env(&ctx->cfg, env_name);
	if (ctx->env == NULL) {
		struct buf names;

		buf_init(&names, 4096);
		list_envs(&names, &ctx->cfg);
		merrs_add(errs, "unknown environment '%s' (%s defines: %s)",
			  env_name, ctx->cfg.path, buf_str(&names));
		buf_release(&names);
		return -1;
	}
	if (state_open(&ctx->st, ctx->cfg.state_dir, ctx->env->name, &err) != 0) {
		merrs_add(errs, "%s", err.msg);
		return -1;
	}
	if (ctx->env->env_file != NULL) {
		rc = dotenv_load(&ctx->vars, ctx->env_file_hash,
				 ctx->env->env_file, &err);
		if (rc != 0) {
			merrs_add(errs, "env file of '%s': %s", ctx->env->name,
				  err.msg);
			return -1;
		}
	}
	return 0;
}

void envctx_close(struct envctx *ctx)
{
	if (ctx == NULL)
		return;
	git_mirror_close(ctx->git);
	state_close(&ctx->st);
	kvlist_release(&ctx->vars);
	if (ctx->config_loaded)
		config_release(&ctx->cfg);
	memset(ctx, 0, sizeof(*ctx));
}

int envctx_git(struct envctx *ctx, struct git_mirror **out, struct berr *err)
{
	struct buf token;
	struct git_auth auth;
	char *dir = NULL;
	int rc;

	if (ctx->git != NULL) {
		*out = ctx->git;
		return 0;
	}
	buf_init(&token, SECRET_MAX_BYTES);
	memset(&auth, 0, sizeof(auth));
	rc = secret_load(&token, &ctx->cfg.repo.token, "repo token", err);
	if (rc == 0)
		auth.token = buf_str(&token);
	else if (rc != BERTH_ENOTFOUND)
		goto out;
	if (ctx->cfg.repo.ssh_key_file != NULL) {
		rc = secret_check_file(ctx->cfg.repo.ssh_key_file,
				       "repo ssh key", err);
		if (rc != 0)
			goto out;
		auth.ssh_key_file = ctx->cfg.repo.ssh_key_file;
	}
	dir = fs_join(ctx->cfg.state_dir, "mirror.git");
	rc = git_mirror_open(&ctx->git, dir, ctx->cfg.repo.url, &auth, err);
	if (rc == 0)
		*out = ctx->git;
out:
	secret_wipe(&token);
	free(dir);
	return rc;
}

int envctx_fetch(struct envctx *ctx, struct envctx_fetch_report *rep,
		 struct berr *err)
{
	struct git_mirror *gm;
	struct git_ref_update *u = NULL;
	size_t n = 0, i;
	int64_t t0 = strnum_mono_ms();
	int rc;

	memset(rep, 0, sizeof(*rep));
	if (envctx_git(ctx, &gm, err) != 0)
		return -1;
	rc = git_mirror_fetch(gm, &u, &n, err);
	rep->ms = strnum_mono_ms() - t0;
	if (rc != 0)
		return rc;
	for (i = 0; i < n; i++) {
		char *line = git_mirror_update_describe(&u[i]);

		strv_push(u[i].forced ? &rep->forced : &rep->updates, line);
		free(line);
	}
	git_mirror_updates_free(u, n);
	return 0;
}

int envctx_manifest_text(struct buf *out, struct envctx *ctx, const char *sha,
			struct merrs *errs)
{
	struct git_mirror *gm;
	struct berr err;
	int rc;

	if (envctx_git(ctx, &gm, &err) != 0) {
		merrs_add(errs, "%s", err.msg);
		return -1;
	}
	rc = git_mirror_read_file(out, gm, sha, ctx->env->manifest,
				  MANIFEST_MAX_BYTES, &err);
	if (rc == BERTH_ENOTFOUND)
		merrs_add(errs, "'%s' not found in commit %.12s",
			  ctx->env->manifest, sha);
	else if (rc != 0)
		merrs_add(errs, "%s", err.msg);
	return rc;
}

struct manifest *envctx_parse(struct envctx *ctx, const struct buf *text,
			      struct merrs *errs)
{
	struct manifest_ctx mctx;

	memset(&mctx, 0, sizeof(mctx));
	mctx.file = ctx->env->manifest;
	mctx.vars = &ctx->vars;
	mctx.env_file_hash = ctx->env_file_hash[0] ? ctx->env_file_hash : NULL;
	return manifest_parse(buf_str(text), text->len, &mctx, errs);
}

int envctx_manifest(struct manifest **out, struct envctx *ctx,
		    const char *sha, struct merrs *errs)
{
	struct buf text;
	int rc;

	*out = NULL;
	buf_init(&text, MANIFEST_MAX_BYTES + 1);
	rc = envctx_manifest_text(&text, ctx, sha, errs);
	if (rc == 0) {
		*out = envctx_parse(ctx, &text, errs);
		rc = *out != NULL ? 0 : -1;
	}
	buf_release(&text);
	return rc;
}

const char *envctx_var(const struct envctx *ctx, const char *name)
{
	return kvlist_get(&ctx->vars, name);
}

char *envctx_repo_display(const struct envctx *ctx)
{
	return config_check_redact_url(ctx->cfg.repo.url);
}
