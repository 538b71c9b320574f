/*
 * cmd_backup.c — `berth backup create|list|verify|restore|prune [ENV]
 * [FILE] [--json] [--yes] [--dry-run] [--restore]`: an environment's
 * database backups by hand (SPEC §9; docs/backups.md). The manifest that
 * runs says where they live and how they are kept; a restore goes through
 * the deploy pipeline (kind "restore"), the services stopped around it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "berth.h"

static const struct cli_opt opts[] = {
    {"json", NULL, "print JSON instead of text"},
    {"yes", NULL,
     "restore: go on when rows written since the backup would be "
     "discarded (they stay in the safety backup)"},
    {"dry-run", NULL, "prune: say what would be removed; remove nothing"},
    {"restore", NULL,
     "verify: also restore into a scratch database (needs CREATEDB)"},
    {NULL, NULL, NULL},
};

/* What the command works on. */
struct bk {
	struct cli *cli;
	const char *action;
	const char *env;
	const char *file; /* FILE, or NULL */
	bool json;
	struct envctx ctx;
	struct manifest *m; /* owned; the manifest that runs */
	char commit[41];    /* its commit */
	int64_t deployment; /* the deployment that put it there; 0 none */
	struct envdb db;
};

/* Splits the positional arguments: ACTION [ENV] [FILE]. An environment's
 * name has neither '.' nor '/'; a backup's always has a '.'. */
static int split_args(struct bk *b, struct cli *cli)
{
	size_t i;

	b->action = cli->args[0];
	b->env = "production";
	for (i = 1; i < cli->nargs; i++) {
		const char *a = cli->args[i];

		if (strchr(a, '.') != NULL || strchr(a, '/') != NULL) {
			if (b->file != NULL)
				return -1;
			b->file = a;
		} else if (i == 1) {
			b->env = a;
		} else {
			return -1;
		}
	}
	return 0;
}

/* The manifest that runs (current.json's commit), else the branch head's
 * in the mirror, as it is. */
static int runs_manifest(struct bk *b, struct berr *err)
{
	struct merrs errs = {0};
	struct git_mirror *gm;
	int rc;

	rc = state_get_current(&b->ctx.st, b->commit, &b->deployment, err);
	if (rc == BERTH_ENOTFOUND) {
		if (envctx_git(&b->ctx, &gm, err) != 0 ||
		    git_mirror_resolve(gm, b->ctx.env->branch, b->commit,
		                       err) != 0)
			return berr_prefix(err,
			                   "nothing is deployed in %s, and its "
			                   "branch cannot be read",
			                   b->env);
		rc = 0;
	}
	if (rc != 0)
		return -1;
	rc = envctx_manifest(&b->m, &b->ctx, b->commit, &errs);
	if (rc != 0)
		berr_set(err, "the manifest of %.7s: %s", b->commit,
		         errs.n ? errs.items[0] : "cannot be read");
	merrs_release(&errs);
	if (rc == 0 && !b->m->db.present)
		rc = berr_set(err, "the manifest of %.7s has no database",
		              b->commit);
	return rc;
}

/* FILE as a path: as given when it names a file or holds a '/', else in
 * the backup directory. New string. */
static char *file_path(const struct bk *b)
{
	if (strchr(b->file, '/') != NULL || fs_exists(b->file))
		return xstrdup(b->file);
	return fs_join(b->db.dir, b->file);
}

static void print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(j);
}

/* A backup's sidecar as JSON with where it is and whether it is whole. */
static json_t *info_json(const struct backup_info *i)
{
	json_t *j = sidecar_to_json(i);

	json_object_set_new(j, "path", json_string(i->path));
	json_object_set_new(j, "complete", json_boolean(i->complete));
	json_object_set_new(j, "problem",
	                    i->problem ? json_string(i->problem) : json_null());
	return j;
}

static int do_create(struct bk *b)
{
	struct backup_create_opts o;
	struct backup_info info, checked;
	enum manifest_backup_verify v = b->m->db.backup_verify;
	struct deployment d;
	struct berr err;
	char *size = NULL;
	int status = EXIT_FAILED;

	memset(&info, 0, sizeof(info));
	memset(&checked, 0, sizeof(checked));
	deployment_init(&d);
	d.id = b->deployment;
	memcpy(d.commit, b->commit, sizeof(d.commit));
	d.env = xstrdup(b->env);
	envdb_backup_opts(&o, &b->db, BACKUP_MANUAL, &d);
	if (backup_create(&info, &b->db.tool, &o, &err) != 0 ||
	    (v != MANIFEST_VERIFY_NONE &&
	     backup_verify(&checked, &b->db.tool, info.path, v, &err) != 0)) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	if (b->json) {
		print_json(info_json(checked.path ? &checked : &info));
	} else {
		size = dbstep_size(info.size);
		printf("%s: %s, %s%s%s%s in %.1f s\n", b->env, info.path, size,
		       v != MANIFEST_VERIFY_NONE ? ", verified (" : "",
		       v != MANIFEST_VERIFY_NONE ? backup_verify_name(v) : "",
		       v != MANIFEST_VERIFY_NONE ? ")" : "",
		       (double)info.duration_ms / 1000.0);
	}
	status = EXIT_OK;
out:
	free(size);
	deployment_release(&d);
	backup_info_release(&info);
	backup_info_release(&checked);
	return status;
}

/* "2026-01-05 12:00" in UTC. */
static void when(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

static int do_list(struct bk *b)
{
	struct backup_info *list = NULL;
	size_t n = 0, i;
	struct berr err;

	if (backup_list(&list, &n, b->db.dir, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		return EXIT_FAILED;
	}
	if (b->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, info_json(&list[i]));
		print_json(json_pack("{s:s, s:s, s:o}", "env", b->env, "dir",
		                     b->db.dir, "backups", a));
		backup_list_free(list, n);
		return EXIT_OK;
	}
	printf("%s: %zu backup%s in %s\n", b->env, n, n == 1 ? "" : "s",
	       b->db.dir);
	if (n > 0)
		printf("  %-29s %-12s %9s %10s %-7s %-16s %s\n", "FILE", "KIND",
		       "SIZE", "DEPLOYMENT", "COMMIT", "CREATED (UTC)",
		       "VERIFIED");
	for (i = 0; i < n; i++) {
		const struct backup_info *x = &list[i];
		char at[32], dep[24], *size = dbstep_size(x->size);
		const char *v = !x->complete        ? x->problem
		                : !x->verified.done ? "never"
		                : x->verified.ok    ? "ok"
		                                    : "FAILED";

		when(at, x->created_at);
		snprintf(dep, sizeof(dep), "%lld", (long long)x->deployment_id);
		printf("  %-29s %-12s %9s %10s %-7.7s %-16s %s%s%s\n", x->file,
		       x->complete ? backup_kind_name(x->kind) : "?", size,
		       x->deployment_id > 0 ? dep : "-",
		       x->commit ? x->commit : "-", at, v,
		       x->verified.done ? " " : "",
		       x->verified.done ? backup_verify_name(x->verified.mode)
		                        : "");
		free(size);
	}
	backup_list_free(list, n);
	return EXIT_OK;
}

/* FILE, or the newest complete backup. New string, or NULL (said). */
static char *verify_target(struct bk *b)
{
	struct backup_info *list = NULL;
	size_t n = 0, i;
	struct berr err;
	char *path = NULL;

	if (b->file != NULL)
		return file_path(b);
	if (backup_list(&list, &n, b->db.dir, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		return NULL;
	}
	for (i = 0; i < n && path == NULL; i++)
		if (list[i].complete)
			path = xstrdup(list[i].path);
	if (path == NULL)
		fprintf(stderr, "berth: no backup in %s to verify\n",
		        b->db.dir);
	backup_list_free(list, n);
	return path;
}

static int do_verify(struct bk *b)
{
	enum manifest_backup_verify mode = cli_flag(b->cli, "restore")
	                                       ? MANIFEST_VERIFY_RESTORE
	                                       : b->m->db.backup_verify;
	struct backup_info info;
	struct berr err;
	char *path = verify_target(b);
	int rc;

	if (path == NULL)
		return EXIT_FAILED;
	if (mode == MANIFEST_VERIFY_NONE)
		mode = MANIFEST_VERIFY_TOC;
	rc = backup_verify(&info, &b->db.tool, path, mode, &err);
	if (b->json) {
		json_t *j = info.file ? info_json(&info) : json_object();

		json_object_set_new(j, "path", json_string(path));
		json_object_set_new(j, "ok", json_boolean(rc == 0));
		json_object_set_new(
		    j, "error", rc == 0 ? json_null() : json_string(err.msg));
		print_json(j);
	} else if (rc == 0) {
		printf("✓ %s: %s\n", info.file, info.verified.detail);
	} else {
		printf("✗ %s: %s\n",
		       strrchr(path, '/') ? strrchr(path, '/') + 1 : path,
		       err.msg);
	}
	backup_info_release(&info);
	free(path);
	return rc == 0 ? EXIT_OK : EXIT_FAILED;
}

static int do_restore(struct bk *b)
{
	struct apply_opts o;

	if (b->file == NULL) {
		fprintf(stderr, "berth: backup restore: which backup? give "
		                "FILE ('berth backup list' shows them)\n");
		return EXIT_USAGE;
	}
	memset(&o, 0, sizeof(o));
	o.kind = DEPLOY_KIND_RESTORE;
	o.backup = b->file;
	o.ask = cmd_apply_ask(cli_flag(b->cli, "yes"), true);
	return cmd_apply_pipeline(&b->ctx, &o, b->json);
}

/* Takes the environment's lock for a prune. Returns 0, EXIT_LOCKED, or
 * EXIT_FAILED (said). */
static int prune_lock(int *fd, struct bk *b)
{
	struct lock_holder me, holder;
	char *path = state_path(&b->ctx.st, "lock");
	struct berr err;
	int rc;

	memset(&me, 0, sizeof(me));
	me.pid = (int)getpid();
	me.started_at = strnum_now_ms() / 1000;
	snprintf(me.trigger, sizeof(me.trigger), "backup prune");
	rc = lock_acquire(fd, path, &me, &holder, &err);
	free(path);
	if (rc == 0)
		return 0;
	fprintf(stderr, "berth: %s\n", err.msg);
	return rc == BERTH_ELOCKED ? EXIT_LOCKED : EXIT_FAILED;
}

static int do_prune(struct bk *b)
{
	bool dry = cli_flag(b->cli, "dry-run");
	struct backup_pruned *p = NULL;
	size_t n = 0, i, removed = 0;
	struct berr err;
	int fd = -1, status, rc;

	if (!dry && (status = prune_lock(&fd, b)) != 0)
		return status;
	rc = envdb_prune(&p, &n, &b->ctx.st, b->m, b->db.dir, dry, &err);
	lock_release(fd);
	for (i = 0; i < n; i++)
		removed += p[i].removed;
	if (b->json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(
			    a, json_pack("{s:s, s:b, s:s}", "file", p[i].file,
			                 "removed", p[i].removed, "reason",
			                 p[i].reason));
		print_json(json_pack("{s:s, s:s, s:b, s:o}", "env", b->env,
		                     "dir", b->db.dir, "dry_run", dry,
		                     "backups", a));
	} else {
		for (i = 0; i < n; i++)
			printf("  %s %s%s\n", p[i].file,
			       dry && p[i].removed ? "would be " : "",
			       p[i].reason);
		printf("%s: %zu backup%s %s, %zu kept%s\n", b->env, removed,
		       removed == 1 ? "" : "s",
		       dry ? "would be removed" : "removed", n - removed,
		       dry ? " (dry run: nothing removed)" : "");
	}
	if (rc != 0)
		fprintf(stderr, "berth: %s\n", err.msg);
	backup_pruned_free(p, n);
	return rc == 0 ? EXIT_OK : EXIT_FAILED;
}

static int run(struct cli *cli)
{
	static const char *const actions[] = {"create", "list", "verify",
	                                      "restore", "prune"};
	struct merrs errs = {0};
	struct berr err;
	struct bk b;
	int status = EXIT_FAILED;
	size_t i;

	memset(&b, 0, sizeof(b));
	b.cli = cli;
	b.json = cli_flag(cli, "json");
	for (i = 0; i < BERTH_ARRAY_LEN(actions); i++)
		if (strcmp(cli->args[0], actions[i]) == 0)
			break;
	if (i == BERTH_ARRAY_LEN(actions) || split_args(&b, cli) != 0) {
		fprintf(stderr, "berth: usage: berth backup "
		                "create|list|verify|restore|prune [ENV] "
		                "[FILE]\n");
		return EXIT_USAGE;
	}
	if (recover_open(&b.ctx, cli->config_path, b.env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	if (strcmp(b.action, "restore") == 0) {
		status = do_restore(&b);
		goto out;
	}
	if (runs_manifest(&b, &err) != 0 ||
	    envdb_open(&b.db, &b.ctx, b.m, NULL, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	if (strcmp(b.action, "create") == 0)
		status = do_create(&b);
	else if (strcmp(b.action, "list") == 0)
		status = do_list(&b);
	else if (strcmp(b.action, "verify") == 0)
		status = do_verify(&b);
	else
		status = do_prune(&b);
out:
	envdb_close(&b.db);
	manifest_free(b.m);
	merrs_release(&errs);
	envctx_close(&b.ctx);
	return status;
}

const struct cli_cmd cmd_backup = {
    .name = "backup",
    .args = "create|list|verify|restore|prune [ENV] [FILE]",
    .summary = "database backups: take, list, verify, restore, prune",
    .opts = opts,
    .min_args = 1,
    .max_args = 3,
    .run = run,
};
