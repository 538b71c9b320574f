/*
 * release.c — the release directories of an environment,
 * envs/<env>/releases/<commit>/ (SPEC §5 steps 4 and 9): checked out from
 * the mirror, never touched while they serve, and pruned to the last
 * `releases.keep` once a deployment succeeded.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth.h"

char *release_path(const struct envctx *ctx, const char *commit)
{
	char *rel = xasprintf("releases/%s", commit);
	char *path = state_path(&ctx->st, rel);

	free(rel);
	return path;
}

int release_export(bool *reused, struct envctx *ctx, const char *commit,
                   struct berr *err)
{
	struct git_mirror *gm;
	char *path;
	int rc;

	*reused = false;
	if (!strnum_is_sha(commit))
		return berr_set(err, "cannot export '%s': not a commit id",
		                commit);
	path = release_path(ctx, commit);
	/* git_mirror_export renames a complete tree into place: a directory
	 * under the final name is a whole checkout. */
	if (fs_is_dir(path)) {
		*reused = true;
		free(path);
		return 0;
	}
	rc = envctx_git(ctx, &gm, err);
	if (rc == 0)
		rc = git_mirror_export(gm, commit, path, err);
	free(path);
	return rc;
}

void release_prune_report_release(struct release_prune_report *r)
{
	if (r == NULL)
		return;
	strv_release(&r->removed);
	strv_release(&r->left);
	memset(r, 0, sizeof(*r));
}

int release_leftover_pid(const char *name)
{
	const char *p = strstr(name, ".tmp.");
	int pid;

	if (p == NULL || strnum_int(&pid, p + 5, 1, INT32_MAX) != 0)
		return 0;
	return pid;
}

/* The commits of deployments that put a release in place, newest first,
 * each once. */
static int recent_commits(struct strv *out, struct envctx *ctx,
                          struct berr *err)
{
	struct deployment *d = NULL;
	size_t n = 0, i;

	if (state_history(&ctx->st, &d, &n, NULL, 0, err) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		const char *kind = d[i].kind ? d[i].kind : DEPLOY_KIND_DEPLOY;

		if (d[i].commit[0] == '\0' ||
		    (strcmp(kind, DEPLOY_KIND_DEPLOY) != 0 &&
		     strcmp(kind, DEPLOY_KIND_ROLLBACK) != 0) ||
		    strv_contains(out, d[i].commit))
			continue;
		strv_push(out, d[i].commit);
	}
	state_history_free(d, n);
	return 0;
}

int release_prune(struct release_prune_report *out, struct envctx *ctx,
                  int keep, const struct strv *protect, struct berr *err)
{
	struct strv recent = {0}, present = {0}, kept = {0};
	char *dir = state_path(&ctx->st, "releases");
	struct dirent *e;
	size_t i;
	DIR *dh = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (recent_commits(&recent, ctx, err) != 0)
		goto out;
	dh = opendir(dir);
	if (dh == NULL) {
		berr_errno(err, errno, "cannot list '%s'", dir);
		goto out;
	}
	while ((e = readdir(dh)) != NULL) {
		int pid = release_leftover_pid(e->d_name);

		if (strnum_is_sha(e->d_name)) {
			strv_push(&present, e->d_name);
		} else if (pid > 0 && pid != getpid() && kill(pid, 0) != 0 &&
		           errno == ESRCH) {
			char *path = fs_join(dir, e->d_name);

			if (fs_remove_tree(path, err) == 0)
				out->leftovers++;
			free(path);
		}
	}
	/* The newest `keep` releases that still exist, by deployment. */
	for (i = 0; i < recent.n && kept.n < (size_t)(keep > 0 ? keep : 0); i++)
		if (strv_contains(&present, recent.v[i]))
			strv_push(&kept, recent.v[i]);
	for (i = 0; i < present.n; i++) {
		const char *c = present.v[i];
		char *path;

		if (strv_contains(&kept, c) ||
		    (protect != NULL && strv_contains(protect, c))) {
			out->kept++;
			strv_push(&out->left, c);
			continue;
		}
		path = fs_join(dir, c);
		if (fs_remove_tree(path, err) != 0) {
			free(path);
			goto out;
		}
		strv_push(&out->removed, c);
		free(path);
	}
	rc = 0;
out:
	if (dh != NULL)
		closedir(dh);
	strv_release(&recent);
	strv_release(&present);
	strv_release(&kept);
	free(dir);
	return rc;
}
